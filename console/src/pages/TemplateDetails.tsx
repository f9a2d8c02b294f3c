// One provisioning template: DescribeProvisioningTemplate (the default version's body), its
// versions (ListProvisioningTemplateVersions page by page), a new version
// (CreateProvisioningTemplateVersion, optionally as the default) and another version made the
// default (UpdateProvisioningTemplate defaultVersionId).

import { useEffect, useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { when } from "../format";
import { prettyText } from "../json";
import { Pager, useMarkers } from "./Pager";
import { TemplateBody, useTemplateBody } from "./TemplateBody";

interface Template {
  templateArn: string;
  templateName: string;
  description?: string;
  type?: string;
  enabled?: boolean;
  defaultVersionId?: number;
  templateBody?: string;
  provisioningRoleArn?: string;
  creationDate?: number;
  lastModifiedDate?: number;
}

interface Version {
  versionId: number;
  creationDate?: number;
  isDefaultVersion?: boolean;
}

const VERSIONS_PAGE = 10;

export const templatePath = (name: string) => `/provisioning-templates/${seg(name)}`;

export function TemplateDetails({ api, name, modified }: { api: Api; name: string; modified?: number }) {
  const pages = useMarkers();
  const [template, setTemplate] = useState<Template | null>(null);
  const [versions, setVersions] = useState<Version[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const [reload, setReload] = useState(0);
  const path = templatePath(name);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError("");
    Promise.all([
      api.call<Template>("GET", path),
      api.call<{ versions?: Version[]; nextToken?: string }>("GET", `${path}/versions`, { query: { maxResults: VERSIONS_PAGE, nextToken: pages.marker } }),
    ])
      .then(([t, v]) => {
        if (!live) return;
        setTemplate(t);
        setVersions(v.versions ?? []);
        setNext(v.nextToken);
      })
      .catch((e) => live && setError(describe(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [api, name, modified, pages.marker, reload]);

  const changed = (msg: string) => {
    setStatus(msg);
    setReload((n) => n + 1);
  };

  async function makeDefault(v: number) {
    setError("");
    try {
      await api.call("PATCH", path, { body: { defaultVersionId: v } });
      changed(`Version ${v} is now the default.`);
    } catch (e) {
      setError(describe(e));
    }
  }

  return (
    <div class="panel" role="region" aria-label={`Provisioning template ${name}`}>
      <h2>{name}</h2>
      <p class="status" role="status" aria-live="polite">
        {status}
      </p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {template ? (
        <>
          <dl class="details">
            <dt>ARN</dt>
            <dd>
              <code>{template.templateArn}</code>
            </dd>
            <dt>Description</dt>
            <dd>{template.description || "—"}</dd>
            <dt>Type</dt>
            <dd>{template.type ?? "FLEET_PROVISIONING"}</dd>
            <dt>Enabled</dt>
            <dd>{template.enabled ? "Yes" : "No"}</dd>
            <dt>Default version</dt>
            <dd data-testid="default-version">{template.defaultVersionId ?? "—"}</dd>
            <dt>Provisioning role</dt>
            <dd>
              <code>{template.provisioningRoleArn ?? "—"}</code>
            </dd>
            <dt>Created</dt>
            <dd>{when(template.creationDate)}</dd>
            <dt>Last modified</dt>
            <dd>{when(template.lastModifiedDate)}</dd>
          </dl>
          <h3 id={`template-body-${name}`}>Body of the default version</h3>
          <pre class="payload json" aria-labelledby={`template-body-${name}`}>
            {prettyText(template.templateBody ?? "")}
          </pre>
        </>
      ) : loading ? (
        <p>Loading…</p>
      ) : null}

      <h3>Versions</h3>
      <table class="list" aria-label={`Versions of ${name}`} aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Created</th>
            <th scope="col">Default</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.versionId} data-version={v.versionId}>
              <th scope="row">{v.versionId}</th>
              <td>{when(v.creationDate)}</td>
              <td>
                {v.isDefaultVersion ? (
                  "Default"
                ) : (
                  <button type="button" onClick={() => makeDefault(v.versionId)}>
                    Make default<span class="sr"> version {v.versionId}</span>
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager label={`versions of ${name}`} page={pages.page} next={next} loading={loading} onBack={pages.back} onForward={pages.forward} />
      {template ? <AddVersion api={api} name={name} current={prettyText(template.templateBody ?? "")} onAdded={changed} /> : null}
    </div>
  );
}

function AddVersion({ api, name, current, onAdded }: { api: Api; name: string; current: string; onAdded: (msg: string) => void }) {
  const [open, setOpen] = useState(false);
  const body = useTemplateBody(current);
  const [asDefault, setAsDefault] = useState(false);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  if (!open) {
    return (
      <button
        type="button"
        onClick={() => {
          // Starts from the default version's body: a new version is usually a small change.
          body.setText(current);
          setOpen(true);
        }}
      >
        Add version<span class="sr"> of {name}</span>
      </button>
    );
  }
  return (
    <form
      aria-label={`Add a version of ${name}`}
      onSubmit={async (e) => {
        e.preventDefault();
        if (body.error) return;
        setBusy(true);
        setError("");
        try {
          const r = await api.call<{ versionId: number; isDefaultVersion?: boolean }>("POST", `${templatePath(name)}/versions`, {
            query: { setAsDefault: asDefault },
            body: { templateBody: body.text },
          });
          setOpen(false);
          onAdded(`Added version ${r.versionId}${r.isDefaultVersion ? " as the default" : ""}.`);
        } catch (err) {
          setError(describe(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <TemplateBody id={`version-body-${name}`} value={body.text} error={body.error} onInput={body.setText} />
      <div>
        <label class="check">
          <input type="checkbox" checked={asDefault} onChange={(e) => setAsDefault(e.currentTarget.checked)} />
          Make it the default version
        </label>
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" disabled={busy || !!body.error}>
        Save version
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}
