// Certificates and CAs: ListCertificates page by page (marker), CreateKeysAndCertificate with
// the private key shown once (the API never returns it again), UpdateCertificate to activate,
// deactivate or revoke, DeleteCertificate (the API refuses an active one and says why), the
// policies (AttachPolicy with the certificate ARN as target) and things (AttachThingPrincipal)
// of a certificate, and the CA certificates (ListCACertificates).

import { useState } from "preact/hooks";
import { Api, seg } from "../api";
import { when } from "../format";
import { useAction } from "../useAction";
import { Confirm } from "./Confirm";
import { Feedback } from "./Feedback";
import { Pager, useMarkers, usePagedList } from "./Pager";
import { CreatedKeys, type NewCertificate } from "./CreatedKeys";
import { CertificateAttachments } from "./CertificateAttachments";

interface Certificate {
  certificateArn: string;
  certificateId: string;
  status: string;
  creationDate?: number;
}

const PAGE_SIZE = 25;

/** Status changes the page offers from each status (UpdateCertificate newStatus). */
const MOVES: Record<string, { to: string; verb: string }[]> = {
  ACTIVE: [
    { to: "INACTIVE", verb: "Deactivate" },
    { to: "REVOKED", verb: "Revoke" },
  ],
  INACTIVE: [
    { to: "ACTIVE", verb: "Activate" },
    { to: "REVOKED", verb: "Revoke" },
  ],
  PENDING_ACTIVATION: [{ to: "ACTIVE", verb: "Activate" }],
};

export function Certificates({ api }: { api: Api }) {
  const pages = useMarkers();
  const [created, setCreated] = useState<NewCertificate | null>(null);

  const { items: certs, next, loading, error, status, changed } = usePagedList(
    (marker) => api.call<{ certificates?: Certificate[]; nextMarker?: string }>("GET", "/certificates", { query: { pageSize: PAGE_SIZE, marker: marker } }).then((r) => ({ items: r.certificates, next: r.nextMarker })),
    pages.marker,
    [api],
  );

  return (
    <section>
      <h1>Certificates and CAs</h1>
      {created ? (
        <CreatedKeys cert={created} onDone={() => setCreated(null)} />
      ) : (
        <CreateCertificate
          api={api}
          onCreated={(c) => {
            setCreated(c);
            changed(`Created certificate ${c.certificateId}.`);
          }}
        />
      )}
      <Feedback status={loading ? "Loading…" : status} error={error} />
      <h2>Certificates</h2>
      <table class="list" aria-label="Certificates" aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col">Certificate ID</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {certs.length === 0 && !loading ? (
            <tr>
              <td colSpan={4}>No certificates on this page.</td>
            </tr>
          ) : null}
          {certs.map((c) => (
            <CertificateRow key={c.certificateId} api={api} cert={c} onChanged={changed} />
          ))}
        </tbody>
      </table>
      <Pager label="certificates" page={pages.page} next={next} loading={loading} onBack={pages.back} onForward={pages.forward} />
      <CaCertificates api={api} />
    </section>
  );
}

function CreateCertificate({ api, onCreated }: { api: Api; onCreated: (c: NewCertificate) => void }) {
  const [active, setActive] = useState(true);
  const { busy, error, run } = useAction();
  return (
    <form
      class="panel"
      aria-label="Create certificate"
      onSubmit={(e) => {
        e.preventDefault();
        run(async () => onCreated(await api.call<NewCertificate>("POST", "/keys-and-certificate", { query: { setAsActive: active } })));
      }}
    >
      <h2>Create keys and certificate</h2>
      <p class="hint">The server makes a key pair and a certificate signed by its own CA. The private key is shown once, right after.</p>
      <label class="check">
        <input type="checkbox" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} />
        Activate the certificate
      </label>
      <Feedback error={error} />
      <div>
        <button type="submit" disabled={busy}>
          Create certificate
        </button>
      </div>
    </form>
  );
}

function CertificateRow({ api, cert: c, onChanged }: { api: Api; cert: Certificate; onChanged: (msg: string) => void }) {
  const { busy, error, run } = useAction(onChanged);
  const [open, setOpen] = useState(false);
  const path = `/certificates/${seg(c.certificateId)}`;
  // Buttons name the certificate for screen readers, by the start of its ID.
  const short = c.certificateId.slice(0, 10);

  return (
    <>
      <tr data-certificate={c.certificateId}>
        <th scope="row">
          <code>{c.certificateId}</code>
        </th>
        <td>{c.status}</td>
        <td>{when(c.creationDate)}</td>
        <td class="actions">
          {(MOVES[c.status] ?? []).map((m) => (
            <button
              key={m.to}
              type="button"
              class={m.to === "REVOKED" ? "danger" : undefined}
              disabled={busy}
              onClick={() => run(() => api.call("PUT", path, { query: { newStatus: m.to } }), `Certificate ${c.certificateId} is now ${m.to}.`)}
            >
              {m.verb}
              <span class="sr"> certificate {short}</span>
            </button>
          ))}
          <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
            Policies and things<span class="sr"> of certificate {short}</span>
          </button>
          <Confirm verb="Delete" what={`certificate ${short}`} busy={busy} onConfirm={() => run(() => api.call("DELETE", path), `Deleted certificate ${c.certificateId}.`)} />
        </td>
      </tr>
      {open || error ? (
        <tr class="detail" data-certificate-detail={c.certificateId}>
          <td colSpan={4}>
            <Feedback error={error} />
            {open ? <CertificateAttachments api={api} arn={c.certificateArn} /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}

function CaCertificates({ api }: { api: Api }) {
  const pages = useMarkers();
  const { items: cas, next, loading, error } = usePagedList(
    (marker) =>
      api
        .call<{ certificates?: Certificate[]; nextMarker?: string }>("GET", "/cacertificates", { query: { pageSize: PAGE_SIZE, marker } })
        .then((r) => ({ items: r.certificates, next: r.nextMarker })),
    pages.marker,
    [api],
  );

  return (
    <>
      <h2>CA certificates</h2>
      <Feedback error={error} />
      <table class="list" aria-label="CA certificates" aria-busy={loading}>
        <thead>
          <tr>
            <th scope="col">CA certificate ID</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {cas.length === 0 && !loading ? (
            <tr>
              <td colSpan={3}>No CA certificates registered.</td>
            </tr>
          ) : null}
          {cas.map((c) => (
            <tr key={c.certificateId} data-ca={c.certificateId}>
              <th scope="row">
                <code>{c.certificateId}</code>
              </th>
              <td>{c.status}</td>
              <td>{when(c.creationDate)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager label="CA certificates" page={pages.page} next={next} loading={loading} onBack={pages.back} onForward={pages.forward} />
    </>
  );
}
