// IoT policies: ListPolicies page by page (marker), CreatePolicy with the document edited as
// JSON (syntax errors inline; the API's MalformedPolicyException shown as it says it), the
// versions of each (PolicyVersions.tsx) and DeletePolicy (the API refuses while a policy is
// attached or has other versions, and says so).

import { useState } from "preact/hooks";
import { Api, seg } from "../api";
import { useAction } from "../useAction";
import { pretty } from "../json";
import { Confirm } from "./Confirm";
import { Feedback } from "./Feedback";
import { JsonField, useJsonText } from "./JsonField";
import { Pager, useMarkers, usePagedList } from "./Pager";
import { PolicyVersions } from "./PolicyVersions";

interface Policy {
  policyName: string;
  policyArn?: string;
}

const PAGE_SIZE = 25;

/** What the editor starts with: the shape every policy has. */
const STARTER = pretty({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "iot:Connect", Resource: "*" }] });

export function Policies({ api }: { api: Api }) {
  const pages = useMarkers();
  const [creating, setCreating] = useState(false);

  const { items: policies, next, loading, error, status, changed } = usePagedList(
    (marker) => api.call<{ policies?: Policy[]; nextMarker?: string }>("GET", "/policies", { query: { pageSize: PAGE_SIZE, marker: marker } }).then((r) => ({ items: r.policies, next: r.nextMarker })),
    pages.marker,
    [api],
  );

  return (
    <section>
      <h1>Policies</h1>
      {creating ? (
        <CreatePolicy
          api={api}
          onCreated={(name) => {
            setCreating(false);
            changed(`Created policy ${name}.`);
          }}
          onCancel={() => setCreating(false)}
        />
      ) : (
        <button type="button" onClick={() => setCreating(true)}>
          Create policy
        </button>
      )}
      <Feedback status={loading ? "Loading…" : status} error={error} />
      <table class="list" aria-label="Policies" aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {policies.length === 0 && !loading ? (
            <tr>
              <td colSpan={2}>No policies on this page.</td>
            </tr>
          ) : null}
          {policies.map((p) => (
            <PolicyRow key={p.policyName} api={api} policy={p} onChanged={changed} />
          ))}
        </tbody>
      </table>
      <Pager label="policies" page={pages.page} next={next} loading={loading} onBack={pages.back} onForward={pages.forward} />
    </section>
  );
}

function CreatePolicy({ api, onCreated, onCancel }: { api: Api; onCreated: (name: string) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const doc = useJsonText(STARTER, "object", "A policy document");
  const { busy, error, run } = useAction();
  return (
    <form
      class="panel"
      aria-label="Create policy"
      onSubmit={(e) => {
        e.preventDefault();
        if (!doc.error) run(() => api.call("POST", `/policies/${seg(name.trim())}`, { body: { policyDocument: doc.text } })).then((ok) => ok && onCreated(name.trim()));
      }}
    >
      <h2>Create policy</h2>
      <label for="new-policy-name">Policy name</label>
      <input id="new-policy-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <JsonField id="new-policy-document" label="Policy document (JSON)" rows={12} value={doc.text} error={doc.error} onInput={doc.setText} />
      <Feedback error={error} />
      <button type="submit" disabled={busy || !!doc.error}>
        Create policy
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </form>
  );
}

function PolicyRow({ api, policy: p, onChanged }: { api: Api; policy: Policy; onChanged: (msg: string) => void }) {
  const [open, setOpen] = useState(false);
  const { busy, error, run } = useAction(onChanged);
  const remove = () => run(() => api.call("DELETE", `/policies/${seg(p.policyName)}`), `Deleted policy ${p.policyName}.`);

  return (
    <>
      <tr data-policy={p.policyName}>
        <th scope="row">{p.policyName}</th>
        <td class="actions">
          <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
            Versions<span class="sr"> of policy {p.policyName}</span>
          </button>
          <Confirm verb="Delete" what={`policy ${p.policyName}`} busy={busy} onConfirm={remove} />
        </td>
      </tr>
      {open || error ? (
        <tr class="detail">
          <td colSpan={2}>
            <Feedback error={error} />
            {open ? <PolicyVersions api={api} name={p.policyName} /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}
