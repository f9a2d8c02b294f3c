// Provisioning templates: ListProvisioningTemplates page by page (nextToken), create
// (CreateProvisioningTemplate; the body is checked as JSON while typed, the API's own checks
// come back as its message), enable and disable (UpdateProvisioningTemplate), delete, and
// each template's details and versions (TemplateDetails).

import { useState } from "preact/hooks";
import { Api, describe } from "../api";
import { when } from "../format";
import { Confirm } from "./Confirm";
import { Pager, useMarkers, usePagedList } from "./Pager";
import { SAMPLE_BODY, TemplateBody, useTemplateBody } from "./TemplateBody";
import { TemplateDetails, templatePath } from "./TemplateDetails";

interface TemplateSummary {
  templateName: string;
  templateArn?: string;
  description?: string;
  enabled?: boolean;
  type?: string;
  creationDate?: number;
  lastModifiedDate?: number;
}

const PAGE_SIZE = 25;

export function Provisioning({ api }: { api: Api }) {
  const pages = useMarkers();
  const { items: templates, next, loading, error, status, changed } = usePagedList(
    (marker) =>
      api
        .call<{ templates?: TemplateSummary[]; nextToken?: string }>("GET", "/provisioning-templates", { query: { maxResults: PAGE_SIZE, nextToken: marker } })
        .then((r) => ({ items: r.templates, next: r.nextToken })),
    pages.marker,
    [api],
  );

  return (
    <section>
      <h1>Provisioning templates</h1>
      <CreateTemplate api={api} onCreated={(name) => changed(`Created provisioning template ${name}.`)} />
      <p class="status" role="status" aria-live="polite">
        {loading ? "Loading…" : status}
      </p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <table class="list" aria-label="Provisioning templates" aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Description</th>
            <th scope="col">Type</th>
            <th scope="col">Enabled</th>
            <th scope="col">Last modified</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {templates.length === 0 && !loading ? (
            <tr>
              <td colSpan={6}>No provisioning templates on this page.</td>
            </tr>
          ) : null}
          {templates.map((t) => (
            <TemplateRow key={t.templateName} api={api} template={t} onChanged={changed} />
          ))}
        </tbody>
      </table>
      <Pager label="provisioning templates" page={pages.page} next={next} loading={loading} onBack={pages.back} onForward={pages.forward} />
    </section>
  );
}

function TemplateRow({ api, template: t, onChanged }: { api: Api; template: TemplateSummary; onChanged: (msg: string) => void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState(false);
  const path = templatePath(t.templateName);

  /** Whether `action` went through (the confirmation stays open when it did not). */
  async function run(action: () => Promise<unknown>, message: string): Promise<boolean> {
    setBusy(true);
    setError("");
    try {
      await action();
      onChanged(message);
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
      <tr data-template={t.templateName}>
        <th scope="row">{t.templateName}</th>
        <td>{t.description || "—"}</td>
        <td>{t.type ?? "FLEET_PROVISIONING"}</td>
        <td>{t.enabled ? "Yes" : "No"}</td>
        <td>{when(t.lastModifiedDate)}</td>
        <td class="actions">
          <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
            Details and versions<span class="sr"> of {t.templateName}</span>
          </button>
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              run(
                () => api.call("PATCH", path, { body: { enabled: !t.enabled } }),
                `${t.enabled ? "Disabled" : "Enabled"} provisioning template ${t.templateName}.`,
              )
            }
          >
            {t.enabled ? "Disable" : "Enable"}
            <span class="sr"> {t.templateName}</span>
          </button>
          <Confirm verb="Delete" what={t.templateName} busy={busy} onConfirm={() => run(() => api.call("DELETE", path), `Deleted provisioning template ${t.templateName}.`)} />
        </td>
      </tr>
      {open || error ? (
        <tr class="detail" data-template-detail={t.templateName}>
          <td colSpan={6}>
            {error ? (
              <p class="error" role="alert">
                {error}
              </p>
            ) : null}
            {/* lastModifiedDate: a change made from the list (enable, disable) is re-read. */}
            {open ? <TemplateDetails api={api} name={t.templateName} modified={t.lastModifiedDate} /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}

function CreateTemplate({ api, onCreated }: { api: Api; onCreated: (name: string) => void }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const body = useTemplateBody(SAMPLE_BODY);
  const [role, setRole] = useState("");
  const [enabled, setEnabled] = useState(true);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Create template
      </button>
    );
  }
  return (
    <form
      class="panel"
      aria-label="Create provisioning template"
      onSubmit={async (e) => {
        e.preventDefault();
        if (body.error) return;
        setBusy(true);
        setError("");
        try {
          await api.call("POST", "/provisioning-templates", {
            body: {
              templateName: name.trim(),
              ...(description.trim() ? { description: description.trim() } : {}),
              templateBody: body.text,
              provisioningRoleArn: role.trim(),
              enabled,
            },
          });
          onCreated(name.trim());
          setName("");
          setDescription("");
          body.setText(SAMPLE_BODY);
          setOpen(false);
        } catch (err) {
          setError(describe(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Create provisioning template</h2>
      <label for="new-template-name">Template name</label>
      <input id="new-template-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="new-template-description">Description (optional)</label>
      <input id="new-template-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      <TemplateBody id="new-template-body" value={body.text} error={body.error} onInput={body.setText} />
      <label for="new-template-role">Provisioning role ARN</label>
      <input
        id="new-template-role"
        required
        size={60}
        placeholder="arn:aws:iam::123456789012:role/provisioning"
        value={role}
        onInput={(e) => setRole(e.currentTarget.value)}
      />
      <div>
        <label class="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
          Enabled (devices can provision with it)
        </label>
      </div>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button type="submit" disabled={busy || !!body.error}>
        Create
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}
