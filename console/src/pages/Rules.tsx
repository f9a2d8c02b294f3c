// Topic rules: ListTopicRules page by page (nextToken), create (CreateTopicRule) and edit
// (GetTopicRule, then ReplaceTopicRule) in RuleEditor with its rule test, enable and disable
// (EnableTopicRule/DisableTopicRule), delete, and each rule's counters from /metrics, re-read
// every few seconds (the list itself only on changes: it is the slower call).

import { useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { useAction } from "../useAction";
import { byLabel, readMetrics } from "../metrics";
import { usePolling } from "../poll";
import { Confirm } from "./Confirm";
import { Feedback } from "./Feedback";
import { Pager, useMarkers, usePagedList } from "./Pager";
import { RuleEditor, type TopicRule } from "./RuleEditor";

interface RuleListItem {
  ruleName: string;
  topicPattern?: string;
  ruleDisabled?: boolean;
  createdAt?: number;
}

const PAGE_SIZE = 25;
const COUNTERS_EVERY_MS = 5000;
const FAMILIES = {
  matched: "ferrite_rules_messages_matched_total",
  selected: "ferrite_rules_messages_selected_total",
  failed: "ferrite_rules_evaluations_failed_total",
  actionsSucceeded: "ferrite_rules_actions_succeeded_total",
  actionsFailed: "ferrite_rules_actions_failed_total",
};
type Counters = Record<keyof typeof FAMILIES, Record<string, number>>;

export function Rules({ api }: { api: Api }) {
  const pages = useMarkers();
  const [creating, setCreating] = useState(false);
  const [counters, setCounters] = useState<Counters | null>(null);
  const [countersError, setCountersError] = useState("");

  const { items: rules, next, loading, error, status, changed } = usePagedList(
    (marker) => api.call<{ rules?: RuleListItem[]; nextToken?: string }>("GET", "/rules", { query: { maxResults: PAGE_SIZE, nextToken: marker } }).then((r) => ({ items: r.rules, next: r.nextToken })),
    pages.marker,
    [api],
  );

  usePolling(
    async (alive) => {
      try {
        const samples = await readMetrics(api);
        const names = Object.keys(FAMILIES) as (keyof typeof FAMILIES)[];
        if (!alive()) return;
        setCounters(Object.fromEntries(names.map((n) => [n, Object.fromEntries(byLabel(samples, FAMILIES[n], "rule"))])) as Counters);
        setCountersError("");
      } catch (e) {
        if (alive()) setCountersError(`Per-rule counters are unavailable (${describe(e)}).`);
      }
    },
    COUNTERS_EVERY_MS,
    [api],
  );


  return (
    <section>
      <h1>Rules</h1>
      {creating ? (
        <RuleEditor
          api={api}
          onSaved={(name) => {
            setCreating(false);
            changed(`Created rule ${name}.`);
          }}
          onCancel={() => setCreating(false)}
        />
      ) : (
        <button type="button" onClick={() => setCreating(true)}>
          Create rule
        </button>
      )}
      <Feedback status={loading ? "Loading…" : status} error={error} />
      <table class="list" aria-label="Rules" aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Topic filter</th>
            <th scope="col">State</th>
            <th scope="col">Counters</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {rules.length === 0 && !loading ? (
            <tr>
              <td colSpan={5}>No rules on this page.</td>
            </tr>
          ) : null}
          {rules.map((r) => (
            <RuleRow key={r.ruleName} api={api} rule={r} counters={counters} onChanged={changed} />
          ))}
        </tbody>
      </table>
      <p class="hint">{countersError || "Counters come from the server's /metrics and count since it started; they refresh every few seconds."}</p>
      <Pager label="rules" page={pages.page} next={next} loading={loading} onBack={pages.back} onForward={pages.forward} />
    </section>
  );
}

function RuleRow({ api, rule: r, counters, onChanged }: { api: Api; rule: RuleListItem; counters: Counters | null; onChanged: (msg: string) => void }) {
  const { busy, error, run } = useAction();
  // The rule as GetTopicRule returns it, while it is being edited.
  const [editing, setEditing] = useState<TopicRule | null>(null);
  const path = `/rules/${seg(r.ruleName)}`;
  const count = (k: keyof Counters) => counters?.[k]?.[r.ruleName] ?? 0;

  // Only the changes are the list's news; reading the rule to edit it is not.
  async function change(action: () => Promise<unknown>, message: string) {
    const ok = await run(action);
    if (ok) onChanged(message);
    return ok;
  }

  const edit = () => (editing ? setEditing(null) : run(async () => setEditing((await api.call<{ rule: TopicRule }>("GET", path)).rule)));

  return (
    <>
      <tr data-rule={r.ruleName}>
        <th scope="row">{r.ruleName}</th>
        <td>
          <code>{r.topicPattern ?? "—"}</code>
        </td>
        <td>{r.ruleDisabled ? "Disabled" : "Enabled"}</td>
        <td>
          {counters ? (
            <ul class="attrs" aria-label={`Counters of ${r.ruleName}`}>
              <li>matched {count("matched")}</li>
              <li>selected {count("selected")}</li>
              <li>actions ok {count("actionsSucceeded")}</li>
              {count("actionsFailed") ? <li class="error-text">actions failed {count("actionsFailed")}</li> : null}
              {count("failed") ? <li class="error-text">evaluations failed {count("failed")}</li> : null}
            </ul>
          ) : (
            "—"
          )}
        </td>
        <td class="actions">
          <button type="button" aria-expanded={!!editing} disabled={busy} onClick={edit}>
            Edit<span class="sr"> rule {r.ruleName}</span>
          </button>
          {r.ruleDisabled ? (
            <button type="button" disabled={busy} onClick={() => change(() => api.call("POST", `${path}/enable`), `Enabled rule ${r.ruleName}.`)}>
              Enable<span class="sr"> rule {r.ruleName}</span>
            </button>
          ) : (
            <button type="button" disabled={busy} onClick={() => change(() => api.call("POST", `${path}/disable`), `Disabled rule ${r.ruleName}.`)}>
              Disable<span class="sr"> rule {r.ruleName}</span>
            </button>
          )}
          <Confirm verb="Delete" what={`rule ${r.ruleName}`} busy={busy} onConfirm={() => change(() => api.call("DELETE", path), `Deleted rule ${r.ruleName}.`)} />
        </td>
      </tr>
      {editing || error ? (
        <tr class="detail">
          <td colSpan={5}>
            <Feedback error={error} />
            {editing ? (
              <RuleEditor
                api={api}
                rule={{ ...editing, ruleName: r.ruleName }}
                onSaved={(name) => {
                  setEditing(null);
                  onChanged(`Saved rule ${name}.`);
                }}
                onCancel={() => setEditing(null)}
              />
            ) : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}
