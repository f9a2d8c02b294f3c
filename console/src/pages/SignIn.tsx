// Sign-in: the account's access key pair and region. Nothing is checked here; the first
// signed call says whether the keys are right (ListThings, one item), so a wrong secret is
// reported with the API's own message.

import { useEffect, useState } from "preact/hooks";
import { Api } from "../api";
import { useAction } from "../useAction";
import { Feedback } from "./Feedback";
import type { Credentials } from "../session";

export function SignIn({ defaultRegion, onSignIn }: { defaultRegion: string; onSignIn: (c: Credentials) => void }) {
  const [accessKeyId, setKey] = useState("");
  const [secretAccessKey, setSecret] = useState("");
  const [region, setRegion] = useState(defaultRegion);
  const { busy, error, run } = useAction();
  useEffect(() => {
    if (!region && defaultRegion) setRegion(defaultRegion);
  }, [defaultRegion]);

  function submit(e: Event) {
    e.preventDefault();
    const creds: Credentials = {
      accessKeyId: accessKeyId.trim(),
      secretAccessKey,
      region: region.trim(),
      endpoint: location.origin,
    };
    run(() => new Api(creds).call("GET", "/things", { query: { maxResults: 1 } })).then((ok) => ok && onSignIn(creds));
  }

  return (
    <main class="signin">
      <h1>Ferrite console</h1>
      <p>Sign in with an access key pair of this server (see <code>ferrite env</code> or the server's log).</p>
      <form onSubmit={submit}>
        <label for="access-key-id">Access key ID</label>
        <input id="access-key-id" name="accessKeyId" autoComplete="username" required value={accessKeyId} onInput={(e) => setKey(e.currentTarget.value)} />
        <label for="secret-access-key">Secret access key</label>
        <input id="secret-access-key" name="secretAccessKey" type="password" autoComplete="current-password" required value={secretAccessKey} onInput={(e) => setSecret(e.currentTarget.value)} />
        <label for="region">Region</label>
        <input id="region" name="region" required value={region} onInput={(e) => setRegion(e.currentTarget.value)} />
        <p class="hint">Endpoint: {location.origin}</p>
        <Feedback error={error} />
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
