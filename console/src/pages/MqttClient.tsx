// The MQTT test client: MQTT over WebSocket (mqtt.js) to Ferrite's WebSocket listener, the
// URL presigned with SigV4 for iotdevicegateway by the signed-in keys, as the Device SDKs do.
// Subscribe to filters, publish with QoS, retain and MQTT 5 properties, a live list of what arrives (JSON
// pretty-printed) that can be paused and cleared.

import mqtt, { type MqttClient as Client } from "mqtt";
import { useEffect, useRef, useState } from "preact/hooks";
import { Api, describe } from "../api";
import type { Settings } from "../session";
import { defaultWsUrl as defaultUrl } from "../live";
import { Feedback } from "./Feedback";

interface Received {
  id: number;
  topic: string;
  payload: string;
  json: boolean;
  qos: number;
  retain: boolean;
  at: string;
  /** MQTT 5 properties worth showing, as "name: value" lines. */
  properties: string[];
}

/** The properties of a received PUBLISH that a person reading the list cares about. */
function describeProperties(p: Record<string, unknown> | undefined): string[] {
  if (!p) return [];
  const out: string[] = [];
  if (p.contentType) out.push(`content type: ${p.contentType}`);
  if (p.responseTopic) out.push(`response topic: ${p.responseTopic}`);
  if (p.messageExpiryInterval !== undefined) out.push(`message expiry: ${p.messageExpiryInterval} s`);
  const user = (p.userProperties ?? {}) as Record<string, string | string[]>;
  for (const [k, v] of Object.entries(user)) for (const one of Array.isArray(v) ? v : [v]) out.push(`${k}: ${one}`);
  return out;
}

/** "name=value" lines as MQTT 5 user properties (a name may repeat). */
function parseUserProperties(text: string): Record<string, string | string[]> | undefined {
  const out: Record<string, string | string[]> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (!line.trim()) continue;
    const [k, v] = at < 0 ? [line.trim(), ""] : [line.slice(0, at).trim(), line.slice(at + 1)];
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return Object.keys(out).length ? out : undefined;
}

type QoS = 0 | 1;
const MAX_MESSAGES = 500;

function render(payload: Uint8Array): { text: string; json: boolean } {
  const text = new TextDecoder().decode(payload);
  try {
    return { text: JSON.stringify(JSON.parse(text), null, 2), json: true };
  } catch {
    return { text, json: false };
  }
}

export function MqttClient({ api, settings }: { api: Api; settings: Settings | null }) {
  const [url, setUrl] = useState(defaultUrl(settings));
  const [clientId, setClientId] = useState(() => `console-${Math.random().toString(16).slice(2, 10)}`);
  const [state, setState] = useState<"disconnected" | "connecting" | "connected">("disconnected");
  const [error, setError] = useState("");
  const [filter, setFilter] = useState("#");
  const [subQos, setSubQos] = useState<QoS>(0);
  const [subscriptions, setSubscriptions] = useState<{ filter: string; qos: number }[]>([]);
  const [topic, setTopic] = useState("");
  const [pubQos, setPubQos] = useState<QoS>(0);
  const [retain, setRetain] = useState(false);
  const [payload, setPayload] = useState('{\n  "message": "Hello from the Ferrite console"\n}');
  const [contentType, setContentType] = useState("");
  const [responseTopic, setResponseTopic] = useState("");
  const [expiry, setExpiry] = useState("");
  const [userProps, setUserProps] = useState("");
  const [messages, setMessages] = useState<Received[]>([]);
  const [paused, setPaused] = useState(false);
  const [held, setHeld] = useState(0);
  const client = useRef<Client | null>(null);
  const pausedRef = useRef(false);
  const heldRef = useRef<Received[]>([]);
  const nextId = useRef(1);

  useEffect(() => {
    if (!url) setUrl(defaultUrl(settings));
  }, [settings]);
  // Leaving the page closes the connection.
  useEffect(() => () => void client.current?.end(true), []);

  async function connect(e: Event) {
    e.preventDefault();
    setError("");
    setState("connecting");
    let signed: string;
    try {
      signed = await api.presignMqtt(url);
    } catch (err) {
      setError(`Could not sign the URL: ${describe(err)}`);
      setState("disconnected");
      return;
    }
    const c = mqtt.connect(url, {
      clientId,
      protocolVersion: 5,
      clean: true,
      // A presigned URL is good for one connection attempt: reconnecting is the user's call.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      transformWsUrl: () => signed,
    });
    client.current = c;
    let connectedOnce = false;
    let failed = false;
    c.on("connect", () => {
      connectedOnce = true;
      setState("connected");
      setSubscriptions([]);
    });
    c.on("error", (err) => {
      failed = true;
      setError(`Connection failed: ${err.message}`);
    });
    c.on("close", () => {
      if (client.current !== c) return;
      // A refused signature may close the socket without a CONNACK: say so rather than
      // silently falling back to "Not connected".
      if (!connectedOnce && !failed) setError("Connection failed: the server closed the connection before accepting it (check the keys, region and URL).");
      if (connectedOnce && !failed) setError("The connection was closed.");
      client.current = null;
      c.end(true);
      setState("disconnected");
    });
    c.on("message", (t, p, packet) => {
      const { text, json } = render(p);
      const m: Received = { id: nextId.current++, topic: t, payload: text, json, qos: packet.qos, retain: packet.retain, at: new Date().toLocaleTimeString(), properties: describeProperties(packet.properties as Record<string, unknown> | undefined) };
      if (pausedRef.current) {
        heldRef.current.push(m);
        setHeld(heldRef.current.length);
      } else {
        setMessages((list) => [m, ...list].slice(0, MAX_MESSAGES));
      }
    });
  }

  function disconnect() {
    client.current?.end();
    client.current = null;
    setState("disconnected");
  }

  function subscribe(e: Event) {
    e.preventDefault();
    const c = client.current;
    const f = filter.trim();
    if (!c || !f) return;
    setError("");
    c.subscribe(f, { qos: subQos }, (err, granted) => {
      if (err) return setError(`Subscribe failed: ${err.message}`);
      const g = granted?.[0];
      if (g && g.qos >= 128) return setError(`Subscribe to ${f} was refused (reason ${g.qos}).`);
      setSubscriptions((s) => [...s.filter((x) => x.filter !== f), { filter: f, qos: g?.qos ?? subQos }]);
    });
  }

  function unsubscribe(f: string) {
    client.current?.unsubscribe(f, (err) => {
      if (err) setError(`Unsubscribe failed: ${err.message}`);
      else setSubscriptions((s) => s.filter((x) => x.filter !== f));
    });
  }

  function publish(e: Event) {
    e.preventDefault();
    const c = client.current;
    if (!c || !topic.trim()) return;
    setError("");
    const properties: Record<string, unknown> = {};
    if (contentType.trim()) properties.contentType = contentType.trim();
    if (responseTopic.trim()) properties.responseTopic = responseTopic.trim();
    if (expiry.trim()) {
      const secs = Number(expiry);
      if (!Number.isInteger(secs) || secs < 0) return setError("Message expiry must be a whole number of seconds.");
      properties.messageExpiryInterval = secs;
    }
    const user = parseUserProperties(userProps);
    if (user) properties.userProperties = user;
    c.publish(topic.trim(), payload, { qos: pubQos, retain, properties }, (err) => {
      if (err) setError(`Publish failed: ${err.message}`);
    });
  }

  function togglePause() {
    const now = !paused;
    pausedRef.current = now;
    setPaused(now);
    if (!now) {
      const back = heldRef.current.reverse();
      heldRef.current = [];
      setHeld(0);
      setMessages((list) => [...back, ...list].slice(0, MAX_MESSAGES));
    }
  }

  const connected = state === "connected";
  return (
    <section class="mqtt">
      <h1>MQTT test client</h1>
      <form class="panel" aria-label="Connection" onSubmit={connect}>
        <label for="mqtt-url">WebSocket URL</label>
        <input id="mqtt-url" value={url} required disabled={state !== "disconnected"} onInput={(e) => setUrl(e.currentTarget.value)} />
        <label for="mqtt-client-id">Client ID</label>
        <input id="mqtt-client-id" value={clientId} required disabled={state !== "disconnected"} onInput={(e) => setClientId(e.currentTarget.value)} />
        {state === "disconnected" ? (
          <button type="submit">Connect</button>
        ) : (
          <button type="button" onClick={disconnect}>
            Disconnect
          </button>
        )}
        <p class="status" role="status" aria-live="polite" data-state={state}>
          {state === "connected" ? `Connected as ${clientId}` : state === "connecting" ? "Connecting…" : "Not connected"}
        </p>
      </form>
      <Feedback error={error} />

      <div class="columns">
        <form class="panel" aria-label="Subscribe" onSubmit={subscribe}>
          <h2>Subscribe</h2>
          <label for="sub-filter">Topic filter</label>
          <input id="sub-filter" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
          <label for="sub-qos">QoS</label>
          <select id="sub-qos" value={subQos} onChange={(e) => setSubQos(Number(e.currentTarget.value) as QoS)}>
            <option value={0}>0</option>
            <option value={1}>1</option>
          </select>
          <button type="submit" disabled={!connected}>
            Subscribe
          </button>
          <ul class="subs" aria-label="Subscriptions">
            {subscriptions.map((s) => (
              <li key={s.filter}>
                <code>{s.filter}</code> (QoS {s.qos})
                <button type="button" onClick={() => unsubscribe(s.filter)}>
                  Unsubscribe<span class="sr"> {s.filter}</span>
                </button>
              </li>
            ))}
          </ul>
        </form>

        <form class="panel" aria-label="Publish" onSubmit={publish}>
          <h2>Publish</h2>
          <label for="pub-topic">Topic</label>
          <input id="pub-topic" value={topic} onInput={(e) => setTopic(e.currentTarget.value)} />
          <label for="pub-qos">QoS</label>
          <select id="pub-qos" value={pubQos} onChange={(e) => setPubQos(Number(e.currentTarget.value) as QoS)}>
            <option value={0}>0</option>
            <option value={1}>1</option>
          </select>
          <label class="check">
            <input type="checkbox" checked={retain} onChange={(e) => setRetain(e.currentTarget.checked)} />
            Retain
          </label>
          <label for="pub-payload">Payload</label>
          <textarea id="pub-payload" rows={5} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} />
          <details>
            <summary>MQTT 5 properties</summary>
            <label for="pub-content-type">Content type</label>
            <input id="pub-content-type" value={contentType} onInput={(e) => setContentType(e.currentTarget.value)} />
            <label for="pub-response-topic">Response topic</label>
            <input id="pub-response-topic" value={responseTopic} onInput={(e) => setResponseTopic(e.currentTarget.value)} />
            <label for="pub-expiry">Message expiry (seconds)</label>
            <input id="pub-expiry" inputMode="numeric" value={expiry} onInput={(e) => setExpiry(e.currentTarget.value)} />
            <label for="pub-user-properties">User properties (one name=value per line)</label>
            <textarea id="pub-user-properties" rows={3} value={userProps} onInput={(e) => setUserProps(e.currentTarget.value)} />
          </details>
          <button type="submit" disabled={!connected || !topic.trim()}>
            Publish
          </button>
        </form>
      </div>

      <div class="toolbar">
        <h2 id="messages-title">Messages</h2>
        <button type="button" aria-pressed={paused} onClick={togglePause}>
          {paused ? `Resume${held ? ` (${held} held)` : ""}` : "Pause"}
        </button>
        <button type="button" onClick={() => setMessages([])}>
          Clear
        </button>
      </div>
      <ol class="messages" aria-labelledby="messages-title" aria-live="off">
        {messages.length === 0 ? <li class="hint">No messages yet.</li> : null}
        {messages.map((m) => (
          <li key={m.id} class="message">
            <div class="meta">
              <code class="topic">{m.topic}</code>
              <span>QoS {m.qos}</span>
              {m.retain ? <span>retained</span> : null}
              <time>{m.at}</time>
            </div>
            {m.properties.length ? (
              <ul class="props" aria-label="Properties">
                {m.properties.map((p, i) => (
                  <li key={i}>{p}</li>
                ))}
              </ul>
            ) : null}
            <pre class={m.json ? "payload json" : "payload"}>{m.payload}</pre>
          </li>
        ))}
      </ol>
    </section>
  );
}
