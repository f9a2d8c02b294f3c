// Dashboard: what the node is doing now, from its own `/metrics` (polled every 2 s, one poll
// at a time so a slow server is not piled on), `/health` (the cluster view, when clustered)
// and the jobs API (`JobActivity`).
// Rates come from counter deltas between polls; a failed poll is shown and the last values
// stay, so a blip does not blank the page.

import { useState } from "preact/hooks";
import { Api, describe } from "../api";
import { byLabel, readMetrics, total, type Sample } from "../metrics";
import { usePolling } from "../poll";
import { JobActivity } from "./JobActivity";
import { LineChart, type Point } from "./LineChart";

const POLL_MS = 2_000;
const WINDOW_MS = 5 * 60_000;
const TOP_RULES = 5;

interface Health {
  status: string;
  reason?: string;
  cluster?: {
    node: string;
    bus: string;
    store: string;
    peers: { node: string; last_seen_ms_ago: number }[];
    messages_forwarded?: number;
    sessions_adopted?: number;
  };
}

/** The message counters at one poll. */
interface Reading {
  t: number;
  received: number;
  sent: number;
}

/** Per-second rates between consecutive readings; a counter that went back (restart) is skipped. */
function rates(history: Reading[], key: "received" | "sent"): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < history.length; i++) {
    const [a, b] = [history[i - 1], history[i]];
    const delta = b[key] - a[key];
    if (delta >= 0 && b.t > a.t) out.push({ t: b.t, v: (delta * 1000) / (b.t - a.t) });
  }
  return out;
}

const count = (n: number | undefined) => (n === undefined ? "—" : n.toLocaleString("en-US"));
const perSecond = (n: number | undefined) => (n === undefined ? "—" : `${n.toFixed(1)}/s`);

export function Dashboard({ api }: { api: Api }) {
  const [samples, setSamples] = useState<Sample[] | null>(null);
  const [health, setHealth] = useState<Health | null>(null);
  const [history, setHistory] = useState<Reading[]>([]);
  const [error, setError] = useState("");
  const [updated, setUpdated] = useState(0);

  usePolling(
    async (alive) => {
      try {
        const [s, h] = await Promise.all([readMetrics(api), api.plain("/health")]);
        if (!alive()) return;
        const now = Date.now();
        setSamples(s);
        try {
          setHealth(JSON.parse(h.text) as Health);
        } catch {
          setHealth(null);
        }
        setHistory((old) => [
          ...old.filter((r) => r.t >= now - WINDOW_MS - POLL_MS),
          { t: now, received: total(s, "ferrite_mqtt_messages_received_total") ?? 0, sent: total(s, "ferrite_mqtt_messages_sent_total") ?? 0 },
        ]);
        setUpdated(now);
        setError("");
      } catch (e) {
        if (alive()) setError(`Could not read the metrics: ${describe(e)}`);
      }
    },
    POLL_MS,
    [api],
  );

  const inRates = rates(history, "received");
  const outRates = rates(history, "sent");
  const last = (p: Point[]) => p[p.length - 1]?.v;
  const peak = (p: Point[]) => (p.length ? Math.max(...p.map((x) => x.v)) : undefined);
  const s = samples ?? [];

  return (
    <section>
      <h1>Dashboard</h1>
      <p class="status" role="status" aria-live="polite">
        {samples ? `Updated ${new Date(updated).toLocaleTimeString()}, every ${POLL_MS / 1000} s.` : "Loading…"}
      </p>
      {error ? (
        <p class="error" role="alert">
          {error}
          {samples ? " The values shown are from the last successful poll." : null}
        </p>
      ) : null}
      {health?.reason ? (
        <p class="error" role="alert">
          This node cannot serve: {health.reason}
        </p>
      ) : null}

      <dl class="figures" aria-label="Broker">
        <Figure id="connections" label="Connections now" value={count(total(s, "ferrite_mqtt_connections"))} />
        <Figure id="sessions" label="Sessions" value={count(total(s, "ferrite_mqtt_sessions"))} />
        <Figure id="subscriptions" label="Subscriptions" value={count(total(s, "ferrite_mqtt_subscriptions"))} />
        <Figure id="retained" label="Retained messages" value={count(total(s, "ferrite_mqtt_retained_messages"))} />
        <Figure id="messages-in" label="Messages in" value={count(total(s, "ferrite_mqtt_messages_received_total"))} />
        <Figure id="messages-out" label="Messages out" value={count(total(s, "ferrite_mqtt_messages_sent_total"))} />
        {/* The drop family has no series until the first drop: none read is zero, not unknown. */}
        <Figure id="dropped" label="Messages dropped" value={count(total(s, "ferrite_mqtt_messages_dropped_total") ?? (samples ? 0 : undefined))} />
      </dl>
      <Breakdown title="Dropped, by reason" counts={byLabel(s, "ferrite_mqtt_messages_dropped_total", "reason")} />

      <h2>Messages per second</h2>
      <dl class="figures" aria-label="Message rates">
        <Figure id="rate-in" label="In now" value={perSecond(last(inRates))} />
        <Figure id="rate-in-peak" label="In, peak" value={perSecond(peak(inRates))} />
        <Figure id="rate-out" label="Out now" value={perSecond(last(outRates))} />
        <Figure id="rate-out-peak" label="Out, peak" value={perSecond(peak(outRates))} />
      </dl>
      <LineChart
        now={updated || Date.now()}
        windowMs={WINDOW_MS}
        unit="messages per second, last 5 minutes"
        summary={`Messages per second over the last 5 minutes: in ${perSecond(last(inRates))}, out ${perSecond(last(outRates))}`}
        series={[
          { label: "In (PUBLISH received)", color: "#b5461f", points: inRates },
          { label: "Out (PUBLISH sent)", color: "#2a6fdb", points: outRates },
        ]}
      />

      <RuleActivity samples={s} />
      <JobActivity api={api} />
      {health?.cluster ? <ClusterView cluster={health.cluster} /> : null}
    </section>
  );
}

function Figure({ id, label, value }: { id: string; label: string; value: string }) {
  return (
    <div class="figure">
      <dt>{label}</dt>
      <dd data-figure={id}>{value}</dd>
    </div>
  );
}

/** A labelled family's values, largest first; nothing when it has none. */
function Breakdown({ title, counts }: { title: string; counts: Map<string, number> }) {
  if (counts.size === 0) return null;
  return (
    <p class="hint">
      {title}:{" "}
      {[...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k || "(none)"} ${count(v)}`)
        .join(", ")}
    </p>
  );
}

function RuleActivity({ samples }: { samples: Sample[] }) {
  const matched = byLabel(samples, "ferrite_rules_messages_matched_total", "rule");
  const selected = byLabel(samples, "ferrite_rules_messages_selected_total", "rule");
  const failed = byLabel(samples, "ferrite_rules_actions_failed_total", "rule");
  const evalFailed = byLabel(samples, "ferrite_rules_evaluations_failed_total", "rule");
  const names = [...new Set([...matched.keys(), ...failed.keys(), ...evalFailed.keys()])];
  // The busiest first; failures break ties, as those are what someone looks for.
  const top = names
    .sort((a, b) => (matched.get(b) ?? 0) - (matched.get(a) ?? 0) || (failed.get(b) ?? 0) - (failed.get(a) ?? 0))
    .slice(0, TOP_RULES);
  return (
    <>
      <h2>Rule activity</h2>
      {top.length === 0 ? (
        <p class="hint">No rule has matched a message since the server started.</p>
      ) : (
        <table class="list" aria-label="Rule activity">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Messages matched</th>
              <th scope="col">Passed WHERE</th>
              <th scope="col">Evaluations failed</th>
              <th scope="col">Actions failed</th>
            </tr>
          </thead>
          <tbody>
            {top.map((r) => (
              <tr key={r} data-rule={r}>
                <th scope="row">{r}</th>
                <td>{count(matched.get(r) ?? 0)}</td>
                <td>{count(selected.get(r) ?? 0)}</td>
                <td>{count(evalFailed.get(r) ?? 0)}</td>
                <td>{count(failed.get(r) ?? 0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {names.length > TOP_RULES ? <p class="hint">The {TOP_RULES} busiest of {names.length} rules.</p> : null}
    </>
  );
}

function ClusterView({ cluster }: { cluster: NonNullable<Health["cluster"]> }) {
  return (
    <>
      <h2>Cluster</h2>
      <dl class="figures" aria-label="Cluster">
        <Figure id="node" label="This node" value={cluster.node} />
        <Figure id="bus" label="Bus (NATS)" value={cluster.bus} />
        <Figure id="store" label="Store (PostgreSQL)" value={cluster.store} />
        <Figure id="peers" label="Peers" value={count(cluster.peers.length)} />
      </dl>
      {cluster.peers.length ? (
        <table class="list" aria-label="Peers">
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Last heard</th>
            </tr>
          </thead>
          <tbody>
            {cluster.peers.map((p) => (
              <tr key={p.node}>
                <th scope="row">{p.node}</th>
                <td>{(p.last_seen_ms_ago / 1000).toFixed(1)} s ago</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="hint">This node hears no other node.</p>
      )}
    </>
  );
}
