// The rule test (POST /_ferrite/rules/test, SigV4-signed like the APIs): a topic and payload
// run through the SQL being edited, answering whether the topic matches the FROM filter,
// whether WHERE holds, what SELECT makes, and, for each action, its `${...}` fields rendered
// for that message (the republish topic it would publish to, and so on). Nothing is published.

import { useState } from "preact/hooks";
import { Api, describe } from "../api";
import { pretty } from "../json";

interface Outcome {
  topicFilter?: string | null;
  topicMatches?: boolean;
  whereMatches?: boolean;
  output?: unknown;
  outputBase64?: string;
  error?: string;
  templates?: { template: string; value?: string; error?: string }[];
}

/** The fields of one action holding `${...}` templates, as `[path, template]`. */
function templatesOf(value: unknown, path: string, out: [string, string][]): [string, string][] {
  if (typeof value === "string" && value.includes("${")) out.push([path, value]);
  else if (Array.isArray(value)) value.forEach((v, i) => templatesOf(v, `${path}[${i}]`, out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) templatesOf(v, path ? `${path}.${k}` : k, out);
  return out;
}

/** Each action's type (its only key) and templated fields. */
function actionTemplates(actions: unknown[]): { type: string; fields: [string, string][] }[] {
  return actions.map((a) => {
    const [type, config] = Object.entries((a ?? {}) as Record<string, unknown>)[0] ?? ["(empty)", {}];
    return { type, fields: templatesOf(config, "", []) };
  });
}

export function RuleTest(props: { api: Api; idPrefix: string; sql: string; version: string; actions?: unknown[] }) {
  const { api, idPrefix: id } = props;
  const [topic, setTopic] = useState("");
  const [payload, setPayload] = useState("{}");
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const actions = actionTemplates(props.actions ?? []);

  async function run(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    setOutcome(null);
    try {
      const templates = actions.flatMap((a) => a.fields.map(([, t]) => t));
      setOutcome(await api.call<Outcome>("POST", "/_ferrite/rules/test", { body: { sql: props.sql, awsIotSqlVersion: props.version, topic, payload, templates } }));
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  const rendered = (t: string) => outcome?.templates?.find((x) => x.template === t);
  return (
    <form class="rule-test" aria-label="Test rule" onSubmit={run}>
      <h3>Test the rule</h3>
      <p class="hint">Runs the SQL above on a message without publishing anything.</p>
      <label for={`${id}-test-topic`}>Topic</label>
      <input id={`${id}-test-topic`} required value={topic} onInput={(e) => setTopic(e.currentTarget.value)} />
      <label for={`${id}-test-payload`}>Payload</label>
      <textarea id={`${id}-test-payload`} class="json-editor" rows={3} spellcheck={false} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} />
      <div>
        <button type="submit" disabled={busy || !props.sql.trim()}>
          Run test
        </button>
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <div role="status" aria-live="polite">
        {outcome ? (
          <div class="test-outcome">
            {outcome.topicMatches === false ? (
              <p>
                The topic does not match the rule's filter <code>{outcome.topicFilter}</code>: the rule would not see this message. Below is what the SQL would make of it anyway.
              </p>
            ) : null}
            {outcome.error ? <p class="error">The evaluation failed (the error action would run): {outcome.error}</p> : null}
            {outcome.whereMatches === false ? <p>WHERE does not hold for this message: no action runs.</p> : null}
            {outcome.whereMatches ? (
              <>
                <h4 id={`${id}-test-output`}>Selected output</h4>
                <pre class="payload json" aria-labelledby={`${id}-test-output`}>
                  {outcome.outputBase64 !== undefined ? `(binary, base64) ${outcome.outputBase64}` : pretty(outcome.output)}
                </pre>
                {actions.length ? (
                  <>
                    <h4>What each action would do</h4>
                    <ul class="attrs" aria-label="Actions for this message">
                      {actions.map((a, i) => (
                        <li key={i}>
                          <code>{a.type}</code>
                          {a.fields.length === 0 ? " with the selected output" : ""}
                          {a.fields.map(([path, t]) => {
                            const r = rendered(t);
                            return (
                              <span key={path}>
                                {" "}
                                · {path} = {r?.error ? <span class="error">{r.error}</span> : <code>{r?.value ?? t}</code>}
                              </span>
                            );
                          })}
                        </li>
                      ))}
                    </ul>
                  </>
                ) : null}
              </>
            ) : null}
          </div>
        ) : null}
      </div>
    </form>
  );
}
