// Device shadows of one thing (/shadows/{thing}): the classic shadow and the named ones
// (ListNamedShadowsForThing), a shadow's document as GetThingShadow returns it, desired edited
// as JSON and saved with UpdateThingShadow carrying the version shown (so a concurrent change
// is the API's 409, not a silent overwrite), delete, and live refreshes from
// $aws/things/{thing}/shadow/…/update/documents over the console's MQTT WebSocket connection.

import type { MqttClient } from "mqtt";
import { useEffect, useState } from "preact/hooks";
import { Api, ApiError, describe, seg } from "../api";
import { connectLive, defaultWsUrl } from "../live";
import { navigate } from "../router";
import type { Settings } from "../session";
import { parseJson, pretty } from "../json";
import { JsonField } from "./JsonField";

/** The classic (unnamed) shadow, as a key next to the named ones (a name is never empty). */
const CLASSIC = "";

interface ShadowDocument {
  state?: { desired?: unknown; reported?: unknown; delta?: unknown };
  metadata?: unknown;
  version?: number;
  timestamp?: number;
}

const label = (name: string) => (name === CLASSIC ? "Classic shadow" : name);
const shadowPath = (thing: string) => `/things/${seg(thing)}/shadow`;

/** The thing named in the route: `/shadows/{thing}` (percent-encoded in the address bar). */
function thingOf(route: string): string {
  const rest = route.slice("/shadows/".length);
  if (!route.startsWith("/shadows/") || !rest) return "";
  try {
    return decodeURIComponent(rest);
  } catch {
    return rest;
  }
}

export function Shadows({ api, settings, route }: { api: Api; settings: Settings | null; route: string }) {
  const thing = thingOf(route);
  const [name, setName] = useState(thing);
  useEffect(() => setName(thing), [thing]);
  return (
    <section>
      <h1>Shadows</h1>
      <form
        class="filters"
        aria-label="Open a thing's shadows"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) navigate(`/shadows/${seg(name.trim())}`);
        }}
      >
        <div class="field">
          <label for="shadow-thing">Thing name</label>
          <input id="shadow-thing" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <button type="submit">Open shadows</button>
      </form>
      {thing ? <ThingShadows key={thing} api={api} settings={settings} thing={thing} /> : <p class="hint">Name a thing to see its shadows.</p>}
    </section>
  );
}

function ThingShadows({ api, settings, thing }: { api: Api; settings: Settings | null; thing: string }) {
  const [named, setNamed] = useState<string[]>([]);
  const [classic, setClassic] = useState<boolean | null>(null);
  const [selected, setSelected] = useState<string>(CLASSIC);
  const [newName, setNewName] = useState("");
  const [error, setError] = useState("");
  const [reload, setReload] = useState(0);
  // Bumped per shadow when its update/documents (or delete/accepted) message arrives.
  const [ticks, setTicks] = useState<Record<string, number>>({});
  const [live, setLive] = useState<"off" | "connecting" | "on" | "failed">("off");

  useEffect(() => {
    let current = true;
    setError("");
    (async () => {
      const names: string[] = [];
      let nextToken: string | undefined;
      do {
        const r = await api.call<{ results?: string[]; nextToken?: string }>("GET", `/api/things/shadow/ListNamedShadowsForThing/${seg(thing)}`, {
          service: "iotdata",
          query: { pageSize: 100, nextToken },
        });
        names.push(...(r.results ?? []));
        nextToken = r.nextToken;
      } while (nextToken);
      let hasClassic = true;
      try {
        await api.call("GET", shadowPath(thing), { service: "iotdata" });
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        hasClassic = false;
      }
      if (!current) return;
      setNamed(names);
      setClassic(hasClassic);
    })().catch((e) => current && setError(describe(e)));
    return () => {
      current = false;
    };
  }, [api, thing, reload]);

  // One MQTT connection while the thing's shadows are open.
  useEffect(() => {
    const url = defaultWsUrl(settings);
    if (!url) return;
    let client: MqttClient | null = null;
    let closed = false;
    setLive("connecting");
    const base = `$aws/things/${thing}/shadow`;
    connectLive(api, url, "console-shadows")
      .then((c) => {
        if (closed) return void c.end(true);
        client = c;
        c.on("connect", () => {
          const filters = [`${base}/update/documents`, `${base}/name/+/update/documents`, `${base}/delete/accepted`, `${base}/name/+/delete/accepted`];
          c.subscribe(filters, { qos: 1 }, (err, granted) => {
            setLive(err || granted?.some((g) => g.qos >= 128) ? "failed" : "on");
          });
        });
        c.on("error", () => setLive("failed"));
        c.on("close", () => !closed && setLive("failed"));
        c.on("message", (topic) => {
          const rest = topic.slice(base.length + 1);
          const m = /^name\/([^/]+)\//.exec(rest);
          const shadow = m ? m[1] : CLASSIC;
          setTicks((t) => ({ ...t, [shadow]: (t[shadow] ?? 0) + 1 }));
          // A shadow made or deleted elsewhere changes the list too.
          if (shadow === CLASSIC) setClassic(!rest.startsWith("delete/"));
          else if (rest.endsWith("update/documents")) setNamed((n) => (n.includes(shadow) ? n : [...n, shadow].sort()));
          else setNamed((n) => n.filter((x) => x !== shadow));
        });
      })
      .catch(() => setLive("failed"));
    return () => {
      closed = true;
      client?.end(true);
    };
  }, [api, settings, thing]);

  const all = [CLASSIC, ...named];
  return (
    <div>
      <h2>Shadows of {thing}</h2>
      <p class="status" role="status" aria-live="polite" data-live={live}>
        {live === "on"
          ? "Live updates on."
          : live === "connecting"
            ? "Connecting for live updates…"
            : live === "failed"
              ? "Live updates are unavailable (the MQTT WebSocket connection failed): reload to see changes."
              : "Live updates need the MQTT WebSocket listener."}
      </p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <ul class="shadow-list" aria-label="Shadows">
        {all.map((n) => (
          <li key={n || "classic"}>
            <button type="button" aria-pressed={selected === n} onClick={() => setSelected(n)}>
              {label(n)}
            </button>
            {n === CLASSIC && classic === false ? <span class="hint"> (no document yet)</span> : null}
          </li>
        ))}
      </ul>
      <form
        class="filters"
        aria-label="Open a named shadow"
        onSubmit={(e) => {
          e.preventDefault();
          if (newName.trim()) setSelected(newName.trim());
          setNewName("");
        }}
      >
        <div class="field">
          <label for="new-shadow-name">Named shadow (new or existing)</label>
          <input id="new-shadow-name" value={newName} onInput={(e) => setNewName(e.currentTarget.value)} />
        </div>
        <button type="submit">Open named shadow</button>
      </form>
      <ShadowView
        key={selected}
        api={api}
        thing={thing}
        name={selected}
        tick={ticks[selected] ?? 0}
        onChanged={() => setReload((n) => n + 1)}
      />
    </div>
  );
}

function ShadowView(props: { api: Api; thing: string; name: string; tick: number; onChanged: () => void }) {
  const { api, thing, name } = props;
  const query = name === CLASSIC ? {} : { name };
  const [doc, setDoc] = useState<ShadowDocument | null | undefined>(undefined);
  const [text, setText] = useState("{}");
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let current = true;
    api
      .call<ShadowDocument>("GET", shadowPath(thing), { service: "iotdata", query })
      .then((d) => current && setDoc(d))
      .catch((e) => {
        if (!current) return;
        if (e instanceof ApiError && e.status === 404) setDoc(null);
        else setError(describe(e));
      });
    return () => {
      current = false;
    };
  }, [api, thing, name, props.tick, reload]);

  // What is being typed is kept; otherwise the editor follows the document shown.
  useEffect(() => {
    if (!dirty && doc !== undefined) setText(pretty(doc?.state?.desired ?? {}));
  }, [doc, dirty]);

  const parsed = parseJson(text, "object or null", "Desired");
  const id = `shadow-desired-${name || "classic"}`;

  async function save(e: Event) {
    e.preventDefault();
    if (parsed.error) return;
    setBusy(true);
    setError("");
    setStatus("");
    try {
      await api.call("POST", shadowPath(thing), {
        service: "iotdata",
        query,
        // The version shown: if someone changed the shadow since, the API refuses (409).
        body: { state: { desired: parsed.value }, ...(doc?.version !== undefined ? { version: doc.version } : {}) },
      });
      setDirty(false);
      setStatus(`Saved desired state of ${label(name)}.`);
      setReload((n) => n + 1);
      if (!doc) props.onChanged();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    setError("");
    try {
      await api.call("DELETE", shadowPath(thing), { service: "iotdata", query });
      setConfirming(false);
      setDirty(false);
      setDoc(null);
      setStatus(`Deleted ${label(name)}.`);
      props.onChanged();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="panel" role="region" aria-label={`Shadow ${label(name)}`}>
      <h2>{label(name)}</h2>
      <p class="status" role="status" aria-live="polite">
        {status}
      </p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {doc === undefined ? (
        <p>Loading…</p>
      ) : doc === null ? (
        <p class="hint">This shadow has no document yet: saving a desired state creates it.</p>
      ) : (
        <>
          <dl class="details">
            <dt>Version</dt>
            <dd data-testid="shadow-version">{doc.version}</dd>
            <dt>Updated</dt>
            <dd>{doc.timestamp ? new Date(doc.timestamp * 1000).toLocaleString() : "—"}</dd>
          </dl>
          <div class="columns">
            {(["desired", "reported", "delta"] as const).map((k) => (
              <div key={k}>
                <h3 id={`${id}-${k}`}>{k[0].toUpperCase() + k.slice(1)}</h3>
                <pre class="payload json" aria-labelledby={`${id}-${k}`}>
                  {doc.state?.[k] === undefined ? "—" : pretty(doc.state[k])}
                </pre>
              </div>
            ))}
            <div>
              <h3 id={`${id}-metadata`}>Metadata</h3>
              <pre class="payload json" aria-labelledby={`${id}-metadata`}>
                {pretty(doc.metadata ?? {})}
              </pre>
            </div>
          </div>
        </>
      )}
      <form aria-label={`Edit desired state of ${label(name)}`} onSubmit={save}>
        <JsonField
          id={id}
          label="Desired state (JSON)"
          value={text}
          error={parsed.error}
          hint={`Keys merge into the desired state; set a key to null to remove it. ${doc ? `Saving sends version ${doc.version}: if the shadow changed since, the API refuses it.` : "Saving creates the shadow."}`}
          onInput={(t) => {
            setDirty(true);
            setText(t);
          }}
        />
        <button type="submit" disabled={busy || !!parsed.error}>
          Save desired
        </button>
        {dirty ? (
          <button type="button" onClick={() => setDirty(false)}>
            Discard edits
          </button>
        ) : null}
        {doc ? (
          confirming ? (
            <>
              <button type="button" class="danger" disabled={busy} onClick={remove}>
                Confirm delete {label(name)}
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </>
          ) : (
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Delete shadow
            </button>
          )
        ) : null}
      </form>
    </div>
  );
}
