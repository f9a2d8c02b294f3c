#!/usr/bin/env bash
# The rules engine end to end, beside the plain broker in the same run: for each QoS, a fresh
# Ferrite runs ferrite-bench p2p (N publisher/subscriber pairs through the broker alone), then
# another fresh Ferrite runs ferrite-bench rules (the same pairs through a topic rule that
# filters and republishes). Broker on CPU $BROKER_CPU, tool on CPU $TOOL_CPU. Results go into
# docs/benchmarks.md between the "bench-rules:results" markers.
#
#   bash scripts/bench-rules.sh
#   DURATION=5 QOS_LEVELS=0 bash scripts/bench-rules.sh
#   BIN_DIR=/tmp/bins REV=abc1234 bash scripts/bench-rules.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}        # also covers the moment the new rule takes to apply
DRAIN=${DRAIN:-5}
PAYLOAD=${PAYLOAD:-64}
PAIRS=${PAIRS:-50}
QOS_LEVELS=${QOS_LEVELS:-"0 1"}
BROKER_CPU=${BROKER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
OUT=${OUT:-docs/benchmarks.md}
KEY_ID=AKIAFERRITEBENCH0001
SECRET=ferrite/bench/secret/000000000000000000000

# BIN_DIR: run binaries built earlier (ferrite and ferrite-bench) instead of building; REV
# then names what they were built from.
if [ -n "${BIN_DIR:-}" ]; then
  BENCH=$BIN_DIR/ferrite-bench
  FERRITE=$BIN_DIR/ferrite
else
  echo "== building release binaries"
  cargo build --release -p ferrite-bench -p ferrite-server
  BENCH=target/release/ferrite-bench
  FERRITE=target/release/ferrite
fi
RUN_DIR=target/bench/rules-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN_DIR"
RESULTS=$RUN_DIR/results.jsonl
: >"$RESULTS"

BROKER_PID=""
DATA=""
cleanup() {
  [ -z "$BROKER_PID" ] || kill -KILL "$BROKER_PID" 2>/dev/null || true
  [ -z "$DATA" ] || rm -rf "$DATA"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_ferrite() { # -> BROKER_PID, MQTT_PORT, API_PORT
  DATA=$(mktemp -d)
  MQTT_PORT=$(free_port)
  API_PORT=$(free_port)
  env FERRITE_DATA_DIR="$DATA" FERRITE_MQTT_PORT="$MQTT_PORT" FERRITE_API_PORT="$API_PORT" \
    FERRITE_MQTTS_PORT=off FERRITE_WS_PORT=off FERRITE_WSS_PORT=off FERRITE_HTTPS_PORT=off \
    FERRITE_ACCESS_KEY_ID="$KEY_ID" FERRITE_SECRET_ACCESS_KEY="$SECRET" \
    FERRITE_WORKER_THREADS=1 FERRITE_LOG_LEVEL=warn \
    taskset -c "$BROKER_CPU" "$FERRITE" serve >"$RUN_DIR/ferrite-$MQTT_PORT.log" 2>&1 &
  BROKER_PID=$!
  for _ in $(seq 300); do
    [ -f "$DATA/listeners.json" ] && break
    sleep 0.05
  done
}

stop_ferrite() {
  kill -TERM "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
  rm -rf "$DATA"
  DATA=""
}

for qos in $QOS_LEVELS; do
  for scenario in p2p rules; do
    start_ferrite
    args=("$scenario" --pairs "$PAIRS" --port "$MQTT_PORT" --qos "$qos" --payload-size "$PAYLOAD"
      --duration "$DURATION" --warmup "$WARMUP" --drain "$DRAIN" --broker-pid "$BROKER_PID"
      --label ferrite)
    [ "$scenario" = rules ] && args+=(--api "127.0.0.1:$API_PORT" --access-key-id "$KEY_ID"
      --secret-access-key "$SECRET")
    echo "== ferrite-bench ${args[*]}"
    taskset -c "$TOOL_CPU" "$BENCH" "${args[@]}" 2>>"$RUN_DIR/bench.log" | grep '^{' >>"$RESULTS" || true
    tail -n 1 "$RUN_DIR/bench.log"
    stop_ferrite
  done
done

FERRITE_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- crates 2>/dev/null || FERRITE_REV="$FERRITE_REV + uncommitted changes"
FERRITE_REV=${REV:-$FERRITE_REV}
export RESULTS OUT FERRITE_REV PAIRS DURATION WARMUP PAYLOAD BROKER_CPU TOOL_CPU
DATE=$(date -u '+%Y-%m-%d %H:%M UTC') LOAD=$(cut -d' ' -f1-3 /proc/loadavg) python3 - <<'PY'
import json, os

env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"]) if l.startswith("{")]
by = {(r["scenario"], r["qos"]): r for r in rows}
def fmt(n):
    return f"{n:,.0f}"
lines = [f"Run finished {env['DATE']} (load average after: {env['LOAD']}); command: `bash scripts/bench-rules.sh`; Ferrite {env['FERRITE_REV']}; "
         f"{env['PAIRS']} pairs, {env['PAYLOAD']}-byte payloads, {env['DURATION']} s measured after {env['WARMUP']} s, broker on CPU {env['BROKER_CPU']}, tool on CPU {env['TOOL_CPU']}.", "",
         "| QoS | broker alone (p2p) msgs/s | through the rule (rules) msgs/s | rules ÷ p2p | rules p50 / p99 µs | rules loss % | broker CPU % |",
         "|---|---|---|---|---|---|---|"]
for qos in sorted({q for (_, q) in by}):
    p, r = by.get(("p2p", qos)), by.get(("rules", qos))
    if not p or not r:
        continue
    ratio = r["recv_per_s"] / p["recv_per_s"] if p["recv_per_s"] else 0
    lines.append(f"| {qos} | {fmt(p['recv_per_s'])} | {fmt(r['recv_per_s'])} | {ratio:.2f} | "
                 f"{fmt(r['latency_us']['p50'])} / {fmt(r['latency_us']['p99'])} | {r['loss_pct']:.2f} | {r.get('broker_cpu_pct', '—')} |")
block = "\n".join(lines)
out = env["OUT"]
text = open(out).read()
start, end = "<!-- bench-rules:results -->", "<!-- bench-rules:results-end -->"
if start in text:
    text = text[:text.index(start) + len(start)] + "\n" + block + "\n" + text[text.index(end):]
else:
    text += f"\n## Rules engine end to end\n\n{start}\n{block}\n{end}\n"
open(out, "w").write(text)
print(block)
PY
