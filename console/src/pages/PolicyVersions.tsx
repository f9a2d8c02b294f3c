// A policy's versions: ListPolicyVersions, one version's document (GetPolicyVersion),
// SetDefaultPolicyVersion, DeletePolicyVersion (not the default: the API refuses) and
// CreatePolicyVersion, starting from the default version's document, optionally made the
// default at once (setAsDefault).

import { useEffect, useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { when } from "../format";
import { prettyText } from "../json";
import { Confirm } from "./Confirm";
import { JsonField, useJsonText } from "./JsonField";

interface Version {
  versionId: string;
  isDefaultVersion?: boolean;
  createDate?: number;
}

export function PolicyVersions({ api, name }: { api: Api; name: string }) {
  const [versions, setVersions] = useState<Version[] | null>(null);
  const [shown, setShown] = useState<{ id: string; doc: string } | null>(null);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const [reload, setReload] = useState(0);
  const [makeDefault, setMakeDefault] = useState(true);
  const doc = useJsonText("", "object", "A policy document");
  const path = `/policies/${seg(name)}/version`;

  useEffect(() => {
    let live = true;
    api
      .call<{ policyVersions?: Version[] }>("GET", path)
      .then((r) => live && setVersions(r.policyVersions ?? []))
      .catch((e) => live && setError(describe(e)));
    return () => {
      live = false;
    };
  }, [api, name, reload]);

  // The new-version editor starts from the default version's document.
  useEffect(() => {
    let live = true;
    api
      .call<{ policyDocument?: string }>("GET", `/policies/${seg(name)}`)
      .then((p) => live && !doc.text && doc.setText(prettyText(p.policyDocument ?? "")))
      .catch((e) => live && setError(describe(e)));
    return () => {
      live = false;
    };
  }, [api, name]);

  async function run(action: () => Promise<unknown>, message: string) {
    setBusy(true);
    setError("");
    setStatus("");
    try {
      await action();
      setStatus(message);
      setReload((n) => n + 1);
      return true;
    } catch (e) {
      setError(describe(e));
      return false;
    } finally {
      setBusy(false);
    }
  }

  const show = (id: string) =>
    shown?.id === id
      ? setShown(null)
      : run(async () => setShown({ id, doc: (await api.call<{ policyDocument: string }>("GET", `${path}/${seg(id)}`)).policyDocument }), "");

  const id = `policy-${name}`;
  return (
    <div class="panel" role="region" aria-label={`Versions of policy ${name}`}>
      <p class="status" role="status" aria-live="polite">
        {status}
      </p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <table class="list" aria-label={`Versions of ${name}`}>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Default</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(versions ?? []).map((v) => (
            <tr key={v.versionId} data-version={v.versionId}>
              <th scope="row">{v.versionId}</th>
              <td>{v.isDefaultVersion ? "Default" : ""}</td>
              <td>{when(v.createDate)}</td>
              <td class="actions">
                <button type="button" aria-expanded={shown?.id === v.versionId} onClick={() => show(v.versionId)}>
                  Document<span class="sr"> of version {v.versionId}</span>
                </button>
                {v.isDefaultVersion ? null : (
                  <>
                    <button type="button" disabled={busy} onClick={() => run(() => api.call("PATCH", `${path}/${seg(v.versionId)}`), `Version ${v.versionId} is now the default.`)}>
                      Set as default<span class="sr"> version {v.versionId}</span>
                    </button>
                    <Confirm
                      verb="Delete"
                      what={`version ${v.versionId}`}
                      busy={busy}
                      onConfirm={() => run(() => api.call("DELETE", `${path}/${seg(v.versionId)}`), `Deleted version ${v.versionId}.`)}
                    />
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown ? (
        <>
          <h3 id={`${id}-shown`}>Document of version {shown.id}</h3>
          <pre class="payload json" aria-labelledby={`${id}-shown`}>
            {prettyText(shown.doc)}
          </pre>
        </>
      ) : null}
      <form
        aria-label={`New version of ${name}`}
        onSubmit={(e) => {
          e.preventDefault();
          if (!doc.error)
            run(
              () => api.call("POST", path, { query: { setAsDefault: makeDefault || undefined }, body: { policyDocument: doc.text } }),
              makeDefault ? "Created a new default version." : "Created a new version.",
            );
        }}
      >
        <h3>New version</h3>
        <JsonField id={`${id}-new-version`} label="Policy document (JSON)" rows={10} value={doc.text} error={doc.error} onInput={doc.setText} />
        <label class="check">
          <input type="checkbox" checked={makeDefault} onChange={(e) => setMakeDefault(e.currentTarget.checked)} />
          Make it the default version
        </label>
        <div>
          <button type="submit" disabled={busy || !!doc.error}>
            Create version
          </button>
        </div>
      </form>
    </div>
  );
}
