// What CreateKeysAndCertificate returns, shown once: the API keeps no copy of the private
// key, so after "Done" (or leaving the page) it is gone from the console too. Nothing here is
// written to storage.

import { useEffect, useMemo } from "preact/hooks";

export interface NewCertificate {
  certificateArn: string;
  certificateId: string;
  certificatePem: string;
  keyPair: { PublicKey: string; PrivateKey: string };
}

/** A download link for a text file made in the page (the object URL is freed on unmount). */
function Download({ name, text, label }: { name: string; text: string; label: string }) {
  const url = useMemo(() => URL.createObjectURL(new Blob([text], { type: "application/x-pem-file" })), [text]);
  useEffect(() => () => URL.revokeObjectURL(url), [url]);
  return (
    <a class="download" href={url} download={name}>
      {label}
    </a>
  );
}

export function CreatedKeys({ cert, onDone }: { cert: NewCertificate; onDone: () => void }) {
  const id = cert.certificateId;
  const short = id.slice(0, 10);
  const parts = [
    { key: "cert", title: "Certificate PEM", text: cert.certificatePem, file: `${short}-certificate.pem.crt` },
    { key: "private", title: "Private key", text: cert.keyPair.PrivateKey, file: `${short}-private.pem.key` },
    { key: "public", title: "Public key", text: cert.keyPair.PublicKey, file: `${short}-public.pem.key` },
  ];
  return (
    <div class="panel" role="region" aria-label="New certificate and keys">
      <h2>New certificate {id}</h2>
      <p class="notice" role="alert">
        <strong>Save the private key now: it cannot be shown or downloaded again.</strong> The server keeps only the certificate and the public
        key.
      </p>
      <p>
        ARN: <code>{cert.certificateArn}</code>
      </p>
      {parts.map((p) => (
        <div key={p.key}>
          <label for={`created-${p.key}`}>{p.title}</label>
          <textarea id={`created-${p.key}`} class="json-editor" rows={p.key === "public" ? 4 : 8} readOnly value={p.text} />
          <Download name={p.file} text={p.text} label={`Download ${p.title.toLowerCase()}`} />
        </div>
      ))}
      <button type="button" onClick={onDone}>
        Done: I have saved the private key
      </button>
    </div>
  );
}
