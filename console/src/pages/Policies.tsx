// IoT policies: ListPolicies page by page (marker), CreatePolicy with the document edited as
// JSON (syntax errors inline; the API's MalformedPolicyException shown as it says it), the
// versions of each (PolicyVersions.tsx) and DeletePolicy (the API refuses while a policy is
// attached or has other versions, and says so).

import { useEffect, useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { pretty } from "../json";
import { Confirm } from "./Confirm";
import { JsonField, useJsonText } from "./JsonField";
import { Pager, useMarkers } from "./Pager";
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
  const [policies, setPolicies] = useState<Policy[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const [reload, setReload] = useState(0);
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError("");
    api
      .call<{ policies?: Policy[]; nextMarker?: string }>("GET", "/policies", { query: { pageSize: PAGE_SIZE, marker: pages.marker } })
      .then((r) => {
        if (!live) return;
        setPolicies(r.policies ?? []);
        setNext(r.nextMarker);
      })
      .catch((e) => live && setError(describe(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [api, pages.marker, reload]);

  const changed = (msg: string) => {
    setStatus(msg);
    setReload((n) => n + 1);
  };

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
      <p class="status" role="status" aria-live="polite">
        {loading ? "Loading…" : status}
      </p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
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
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="panel"
      aria-label="Create policy"
      onSubmit={async (e) => {
        e.preventDefault();
        if (doc.error) return;
        setBusy(true);
        setError("");
        try {
          await api.call("POST", `/policies/${seg(name.trim())}`, { body: { policyDocument: doc.text } });
          onCreated(name.trim());
        } catch (err) {
          setError(describe(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Create policy</h2>
      <label for="new-policy-name">Policy name</label>
      <input id="new-policy-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <JsonField id="new-policy-document" label="Policy document (JSON)" rows={12} value={doc.text} error={doc.error} onInput={doc.setText} />
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
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
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function remove() {
    setBusy(true);
    setError("");
    try {
      await api.call("DELETE", `/policies/${seg(p.policyName)}`);
      onChanged(`Deleted policy ${p.policyName}.`);
      return true;
    } catch (e) {
      setError(describe(e));
      return false;
    } finally {
      setBusy(false);
    }
  }

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
            {error ? (
              <p class="error" role="alert">
                {error}
              </p>
            ) : null}
            {open ? <PolicyVersions api={api} name={p.policyName} /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}
