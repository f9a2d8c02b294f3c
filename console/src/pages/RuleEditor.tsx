// A topic rule's payload as a form: SQL, SQL version, description, actions and error action as
// JSON (syntax errors shown inline, before anything is sent), for CreateTopicRule (new name)
// and ReplaceTopicRule (the rule read with GetTopicRule). The rule test panel below the form
// tries what is typed, not what is saved.

import { useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { parseJson, pretty } from "../json";
import { JsonField } from "./JsonField";
import { RuleTest } from "./RuleTest";

export interface TopicRule {
  ruleName?: string;
  sql: string;
  description?: string;
  actions?: unknown[];
  errorAction?: unknown;
  ruleDisabled?: boolean;
  awsIotSqlVersion?: string;
}

export const SQL_VERSIONS = ["2016-03-23", "2015-10-08", "beta"];

const EXAMPLE_ACTIONS = '[{"republish": {"roleArn": "arn:aws:iam::123456789012:role/republish", "topic": "out/${topic(2)}", "qos": 1}}]';

export function RuleEditor(props: { api: Api; rule?: TopicRule; onSaved: (name: string) => void; onCancel: () => void }) {
  const { api, rule } = props;
  const creating = !rule;
  const [name, setName] = useState(rule?.ruleName ?? "");
  const [sql, setSql] = useState(rule?.sql ?? "");
  const [version, setVersion] = useState(rule?.awsIotSqlVersion ?? SQL_VERSIONS[0]);
  const [description, setDescription] = useState(rule?.description ?? "");
  const [actions, setActions] = useState(pretty(rule?.actions ?? []));
  const [errorAction, setErrorAction] = useState(rule?.errorAction ? pretty(rule.errorAction) : "");
  const [disabled, setDisabled] = useState(rule?.ruleDisabled ?? false);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const parsedActions = parseJson(actions, "array", "Actions");
  const parsedError = errorAction.trim() ? parseJson(errorAction, "object", "The error action") : {};
  const id = creating ? "new-rule" : `edit-rule-${rule.ruleName}`;
  const title = creating ? "Create rule" : `Edit rule ${rule.ruleName}`;

  async function save(e: Event) {
    e.preventDefault();
    if (parsedActions.error || parsedError.error) return;
    setBusy(true);
    setError("");
    const payload = {
      sql,
      awsIotSqlVersion: version,
      ...(description.trim() ? { description } : {}),
      actions: parsedActions.value,
      ...(parsedError.value ? { errorAction: parsedError.value } : {}),
      ruleDisabled: disabled,
    };
    const ruleName = creating ? name.trim() : rule.ruleName!;
    try {
      await api.call(creating ? "POST" : "PATCH", `/rules/${seg(ruleName)}`, { body: payload });
      props.onSaved(ruleName);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="panel" role="region" aria-label={title}>
      <form aria-label={title} onSubmit={save}>
        <h2>{title}</h2>
        {creating ? (
          <>
            <label for={`${id}-name`}>Rule name</label>
            <input id={`${id}-name`} required pattern="[a-zA-Z0-9_]+" value={name} onInput={(e) => setName(e.currentTarget.value)} aria-describedby={`${id}-name-help`} />
            <p id={`${id}-name-help`} class="hint">
              Letters, digits and underscores.
            </p>
          </>
        ) : null}
        <label for={`${id}-sql`}>SQL</label>
        <textarea id={`${id}-sql`} class="json-editor" rows={3} required spellcheck={false} value={sql} onInput={(e) => setSql(e.currentTarget.value)} />
        <label for={`${id}-version`}>SQL version</label>
        <select id={`${id}-version`} value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
          {SQL_VERSIONS.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
        <label for={`${id}-description`}>Description (optional)</label>
        <input id={`${id}-description`} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        <JsonField
          id={`${id}-actions`}
          label="Actions (JSON array)"
          rows={6}
          value={actions}
          error={parsedActions.error}
          hint={`Each element names one action, as the API takes it, e.g. ${EXAMPLE_ACTIONS}`}
          onInput={setActions}
        />
        <JsonField
          id={`${id}-error-action`}
          label="Error action (JSON object, optional)"
          rows={3}
          value={errorAction}
          error={parsedError.error}
          onInput={setErrorAction}
        />
        <label class="check">
          <input type="checkbox" checked={disabled} onChange={(e) => setDisabled(e.currentTarget.checked)} />
          Disabled
        </label>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <div>
          <button type="submit" disabled={busy || !!parsedActions.error || !!parsedError.error}>
            {creating ? "Create rule" : "Save rule"}
          </button>
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
        </div>
      </form>
      <RuleTest api={api} idPrefix={id} sql={sql} version={version} actions={parsedActions.value as unknown[] | undefined} />
    </div>
  );
}
