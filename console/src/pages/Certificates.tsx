// Certificates and CAs: ListCertificates page by page (marker), CreateKeysAndCertificate with
// the private key shown once (the API never returns it again), UpdateCertificate to activate,
// deactivate or revoke, DeleteCertificate (the API refuses an active one and says why), the
// policies (AttachPolicy with the certificate ARN as target) and things (AttachThingPrincipal)
// of a certificate, and the CA certificates (ListCACertificates).

import { useEffect, useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { when } from "../format";
import { Pager, useMarkers } from "./Pager";
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
  const [certs, setCerts] = useState<Certificate[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const [reload, setReload] = useState(0);
  const [created, setCreated] = useState<NewCertificate | null>(null);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError("");
    api
      .call<{ certificates?: Certificate[]; nextMarker?: string }>("GET", "/certificates", { query: { pageSize: PAGE_SIZE, marker: pages.marker } })
      .then((r) => {
        if (!live) return;
        setCerts(r.certificates ?? []);
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
      <p class="status" role="status" aria-live="polite">
        {loading ? "Loading…" : status}
      </p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
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
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  return (
    <form
      class="panel"
      aria-label="Create certificate"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError("");
        try {
          onCreated(await api.call<NewCertificate>("POST", "/keys-and-certificate", { query: { setAsActive: active } }));
        } catch (err) {
          setError(describe(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Create keys and certificate</h2>
      <p class="hint">The server makes a key pair and a certificate signed by its own CA. The private key is shown once, right after.</p>
      <label class="check">
        <input type="checkbox" checked={active} onChange={(e) => setActive(e.currentTarget.checked)} />
        Activate the certificate
      </label>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <div>
        <button type="submit" disabled={busy}>
          Create certificate
        </button>
      </div>
    </form>
  );
}

function CertificateRow({ api, cert: c, onChanged }: { api: Api; cert: Certificate; onChanged: (msg: string) => void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [open, setOpen] = useState(false);
  const path = `/certificates/${seg(c.certificateId)}`;
  // Buttons name the certificate for screen readers, by the start of its ID.
  const short = c.certificateId.slice(0, 10);

  async function run(action: () => Promise<unknown>, message: string) {
    setBusy(true);
    setError("");
    try {
      await action();
      setDeleting(false);
      onChanged(message);
    } catch (e) {
      setError(describe(e));
    } finally {
      setBusy(false);
    }
  }

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
          {deleting ? (
            <>
              <button type="button" class="danger" disabled={busy} onClick={() => run(() => api.call("DELETE", path), `Deleted certificate ${c.certificateId}.`)}>
                Confirm delete<span class="sr"> certificate {short}</span>
              </button>
              <button type="button" onClick={() => setDeleting(false)}>
                Cancel
              </button>
            </>
          ) : (
            <button type="button" class="danger" onClick={() => setDeleting(true)}>
              Delete<span class="sr"> certificate {short}</span>
            </button>
          )}
        </td>
      </tr>
      {open || error ? (
        <tr class="detail" data-certificate-detail={c.certificateId}>
          <td colSpan={4}>
            {error ? (
              <p class="error" role="alert">
                {error}
              </p>
            ) : null}
            {open ? <CertificateAttachments api={api} arn={c.certificateArn} /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}

function CaCertificates({ api }: { api: Api }) {
  const pages = useMarkers();
  const [cas, setCas] = useState<Certificate[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError("");
    api
      .call<{ certificates?: Certificate[]; nextMarker?: string }>("GET", "/cacertificates", { query: { pageSize: PAGE_SIZE, marker: pages.marker } })
      .then((r) => {
        if (!live) return;
        setCas(r.certificates ?? []);
        setNext(r.nextMarker);
      })
      .catch((e) => live && setError(describe(e)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [api, pages.marker]);

  return (
    <>
      <h2>CA certificates</h2>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
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
