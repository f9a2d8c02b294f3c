// A certificate's policies (ListAttachedPolicies with the certificate ARN as target, attach
// and detach with AttachPolicy/DetachPolicy) and things (ListPrincipalThings,
// AttachThingPrincipal/DetachThingPrincipal: the principal travels in x-amzn-principal).

import { useEffect, useState } from "preact/hooks";
import { Api, describe, seg } from "../api";
import { useAction } from "../useAction";
import { Feedback } from "./Feedback";

export function CertificateAttachments({ api, arn }: { api: Api; arn: string }) {
  const [policies, setPolicies] = useState<string[] | null>(null);
  const [things, setThings] = useState<string[] | null>(null);
  const [policy, setPolicy] = useState("");
  const [thing, setThing] = useState("");
  const { busy, status, error, setError, run, reload } = useAction();
  const principal = { "x-amzn-principal": arn };
  const short = arn.split("/").pop()?.slice(0, 10) ?? arn;

  useEffect(() => {
    let live = true;
    Promise.all([
      api.call<{ policies?: { policyName: string }[] }>("POST", `/attached-policies/${seg(arn)}`, { query: { pageSize: 250 } }),
      api.call<{ things?: string[] }>("GET", "/principals/things", { query: { maxResults: 250 }, headers: principal }),
    ])
      .then(([p, t]) => {
        if (!live) return;
        setPolicies((p.policies ?? []).map((x) => x.policyName));
        setThings(t.things ?? []);
      })
      .catch((e) => live && setError(describe(e)));
    return () => {
      live = false;
    };
  }, [api, arn, reload]);

  return (
    <div class="attachments" role="region" aria-label={`Attachments of certificate ${short}`}>
      <Feedback status={status} error={error} />
      <div class="columns">
        <div>
          <h3>Policies</h3>
          <ul class="attrs" aria-label="Attached policies">
            {policies?.length === 0 ? <li class="hint">No policies attached.</li> : null}
            {(policies ?? []).map((p) => (
              <li key={p}>
                <code>{p}</code>{" "}
                <button type="button" disabled={busy} onClick={() => run(() => api.call("POST", `/target-policies/${seg(p)}`, { body: { target: arn } }), `Detached policy ${p}.`)}>
                  Detach<span class="sr"> policy {p}</span>
                </button>
              </li>
            ))}
          </ul>
          <form
            aria-label="Attach policy"
            onSubmit={async (e) => {
              e.preventDefault();
              const p = policy.trim();
              if (p && (await run(() => api.call("PUT", `/target-policies/${seg(p)}`, { body: { target: arn } }), `Attached policy ${p}.`))) setPolicy("");
            }}
          >
            <label for={`attach-policy-${short}`}>Policy name</label>
            <input id={`attach-policy-${short}`} required value={policy} onInput={(e) => setPolicy(e.currentTarget.value)} />
            <button type="submit" disabled={busy}>
              Attach policy
            </button>
          </form>
        </div>
        <div>
          <h3>Things</h3>
          <ul class="attrs" aria-label="Attached things">
            {things?.length === 0 ? <li class="hint">No things attached.</li> : null}
            {(things ?? []).map((t) => (
              <li key={t}>
                <code>{t}</code>{" "}
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => run(() => api.call("DELETE", `/things/${seg(t)}/principals`, { headers: principal }), `Detached thing ${t}.`)}
                >
                  Detach<span class="sr"> thing {t}</span>
                </button>
              </li>
            ))}
          </ul>
          <form
            aria-label="Attach thing"
            onSubmit={async (e) => {
              e.preventDefault();
              const t = thing.trim();
              if (t && (await run(() => api.call("PUT", `/things/${seg(t)}/principals`, { headers: principal }), `Attached thing ${t}.`))) setThing("");
            }}
          >
            <label for={`attach-thing-${short}`}>Thing name</label>
            <input id={`attach-thing-${short}`} required value={thing} onInput={(e) => setThing(e.currentTarget.value)} />
            <button type="submit" disabled={busy}>
              Attach thing
            </button>
          </form>
        </div>
      </div>
    </div>
  );
}
