#!/usr/bin/env bash
# Cross-node throughput and latency of a cluster, beside a single node in the same run.
# For each QoS and each load (as fast as possible, then a fixed $RATE msgs/s):
#   single: one Ferrite on PostgreSQL storage, ferrite-bench p2p publishers and subscribers on it;
#   cross:  a three-node cluster; publishers on node 1, subscribers on node 2 (--sub-port), so
#           every message crosses NATS; node 3 has no clients: its CPU time and the messages it
#           received from the bus show what a node pays for messages nobody there wants.
# All Ferrite nodes on CPU $BROKER_CPU; ferrite-bench and the run's own nats-server on CPU
# $TOOL_CPU. Results go into docs/benchmarks.md between the "bench-cluster:results" markers.
#
#   bash scripts/bench-cluster.sh
#   BIN_DIR=target/release QOS_LEVELS=0 DURATION=5 bash scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}        # also covers subscriptions reaching the other nodes
DRAIN=${DRAIN:-5}
PAYLOAD=${PAYLOAD:-64}
PAIRS=${PAIRS:-50}
RATE=${RATE:-20000}
QOS_LEVELS=${QOS_LEVELS:-"0 1"}
BROKER_CPU=${BROKER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
OUT=${OUT:-docs/benchmarks.md}
PG=${PG:-postgres://postgres@127.0.0.1:5432/ferrite_test}
KEY_ID=AKIAFERRITEBENCH0001
SECRET=ferrite/bench/secret/000000000000000000000

if [ -n "${BIN_DIR:-}" ]; then
  BENCH=$BIN_DIR/ferrite-bench
  FERRITE=$BIN_DIR/ferrite
else
  echo "== building release binaries"
  cargo build --release -p ferrite-bench -p ferrite-server
  BENCH=target/release/ferrite-bench
  FERRITE=target/release/ferrite
fi
RUN_DIR=target/bench/cluster-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN_DIR"
RESULTS=$RUN_DIR/results.jsonl
: >"$RESULTS"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

NATS_PORT=$(free_port)
taskset -c "$TOOL_CPU" nats-server -a 127.0.0.1 -p "$NATS_PORT" >"$RUN_DIR/nats.log" 2>&1 &
NATS_PID=$!
PIDS=()
DIRS=()
SCHEMA=""
cleanup() {
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  kill "$NATS_PID" 2>/dev/null || true
  for d in "${DIRS[@]}"; do rm -rf "$d"; done
  [ -z "$SCHEMA" ] || psql "$PG" -qc "DROP SCHEMA $SCHEMA CASCADE" >/dev/null 2>&1 || true
}
trap cleanup EXIT

start_node() { # $1 = cluster (true/false), $2 = node id -> NODE_PID, NODE_MQTT, NODE_API
  local dir
  dir=$(mktemp -d)
  DIRS+=("$dir")
  NODE_MQTT=$(free_port)
  NODE_API=$(free_port)
  env FERRITE_DATA_DIR="$dir" FERRITE_MQTT_PORT="$NODE_MQTT" FERRITE_API_PORT="$NODE_API" \
    FERRITE_MQTTS_PORT=off FERRITE_WS_PORT=off FERRITE_WSS_PORT=off FERRITE_HTTPS_PORT=off \
    FERRITE_ACCESS_KEY_ID="$KEY_ID" FERRITE_SECRET_ACCESS_KEY="$SECRET" \
    FERRITE_STORAGE_URL="$PG?options[search_path]=$SCHEMA" \
    FERRITE_CLUSTER_ENABLED="$1" FERRITE_CLUSTER_NODE_ID="$2" \
    FERRITE_CLUSTER_NATS_URLS="nats://127.0.0.1:$NATS_PORT" FERRITE_CLUSTER_SUBJECT_PREFIX="$SCHEMA" \
    FERRITE_WORKER_THREADS=1 FERRITE_LOG_LEVEL=warn \
    taskset -c "$BROKER_CPU" "$FERRITE" serve >"$RUN_DIR/ferrite-$2.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  for _ in $(seq 400); do
    [ -f "$dir/listeners.json" ] && return 0
    sleep 0.05
  done
  echo "!! node $2 did not start: $RUN_DIR/ferrite-$2.log"
  exit 1
}

stop_nodes() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  psql "$PG" -qc "DROP SCHEMA $SCHEMA CASCADE" >/dev/null
  SCHEMA=""
}

fresh_schema() {
  SCHEMA=bench_cluster_$$_$RANDOM
  psql "$PG" -qc "CREATE SCHEMA $SCHEMA" >/dev/null
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
received_from_bus() {
  curl -s "http://127.0.0.1:$1/health" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("cluster",{}).get("batches_received",0))'
}

run_bench() { # $1 = label, $2 = rate ("" = unlimited), rest = ferrite-bench args
  local label=$1 rate=$2
  shift 2
  local args=(p2p --pairs "$PAIRS" --payload-size "$PAYLOAD" --duration "$DURATION" --warmup "$WARMUP"
    --drain "$DRAIN" --label "$label" "$@")
  [ -z "$rate" ] || args+=(--rate "$rate")
  echo "== ferrite-bench ${args[*]}"
  taskset -c "$TOOL_CPU" "$BENCH" "${args[@]}" 2>>"$RUN_DIR/bench.log" | grep '^{' >"$RUN_DIR/last.json" || true
  tail -n 1 "$RUN_DIR/bench.log"
}

for qos in $QOS_LEVELS; do
  for rate in "" "$RATE"; do
    fresh_schema
    start_node false single
    run_bench single "$rate" --port "$NODE_MQTT" --qos "$qos" --broker-pid "$NODE_PID"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r.update(setup="single", rate_goal=sys.argv[2]); print(json.dumps(r))' \
      "$RUN_DIR/last.json" "${rate:-max}" >>"$RESULTS"
    stop_nodes

    fresh_schema
    start_node true n1; PUB_PORT=$NODE_MQTT; PUB_PID=$NODE_PID
    start_node true n2; SUB_PORT=$NODE_MQTT
    start_node true n3; IDLE_PID=$NODE_PID; IDLE_API=$NODE_API
    idle_before=$(cpu_ticks "$IDLE_PID")
    run_bench cross "$rate" --port "$PUB_PORT" --sub-port "$SUB_PORT" --qos "$qos" --broker-pid "$PUB_PID"
    idle_ticks=$(( $(cpu_ticks "$IDLE_PID") - idle_before ))
    idle_received=$(received_from_bus "$IDLE_API")
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r.update(setup="cross", rate_goal=sys.argv[2], idle_node_cpu_ticks=int(sys.argv[3]), idle_node_received=int(sys.argv[4])); print(json.dumps(r))' \
      "$RUN_DIR/last.json" "${rate:-max}" "$idle_ticks" "$idle_received" >>"$RESULTS"
    stop_nodes
  done
done

FERRITE_REV=${REV:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
export RESULTS OUT FERRITE_REV PAIRS DURATION WARMUP PAYLOAD BROKER_CPU TOOL_CPU RATE
DATE=$(date -u '+%Y-%m-%d %H:%M UTC') LOAD=$(cut -d' ' -f1-3 /proc/loadavg) TICK=$(getconf CLK_TCK) python3 - <<'PY'
import json, os

env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"]) if l.startswith("{")]
by = {(r["setup"], r["qos"], r["rate_goal"]): r for r in rows}
fmt = lambda n: f"{n:,.0f}"
lines = [f"Run finished {env['DATE']} (load average after: {env['LOAD']}); command: `bash scripts/bench-cluster.sh`; Ferrite {env['FERRITE_REV']}; "
         f"{env['PAIRS']} pairs, {env['PAYLOAD']}-byte payloads, {env['DURATION']} s measured after {env['WARMUP']} s; every node on CPU {env['BROKER_CPU']}, "
         f"ferrite-bench and nats-server on CPU {env['TOOL_CPU']}; PostgreSQL storage for both setups.", "",
         "| QoS | load | single node msgs/s | cross-node msgs/s | cross ÷ single | single p50 / p99 µs | cross p50 / p99 µs | cross loss % | idle node: CPU s / msgs from bus |",
         "|---|---|---|---|---|---|---|---|---|"]
for (setup, qos, goal), r in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][2] != "max")):
    if setup != "single":
        continue
    x = by.get(("cross", qos, goal))
    if not x:
        continue
    ratio = x["recv_per_s"] / r["recv_per_s"] if r["recv_per_s"] else 0
    load = "as fast as possible" if goal == "max" else f"{int(float(goal)):,} msgs/s"
    idle = f"{x['idle_node_cpu_ticks'] / int(env['TICK']):.2f} / {x['idle_node_received']}"
    lines.append(f"| {qos} | {load} | {fmt(r['recv_per_s'])} | {fmt(x['recv_per_s'])} | {ratio:.2f} | "
                 f"{fmt(r['latency_us']['p50'])} / {fmt(r['latency_us']['p99'])} | "
                 f"{fmt(x['latency_us']['p50'])} / {fmt(x['latency_us']['p99'])} | {x['loss_pct']:.2f} | {idle} |")
block = "\n".join(lines)
out = env["OUT"]
text = open(out).read()
start, end = "<!-- bench-cluster:results -->", "<!-- bench-cluster:results-end -->"
if start in text:
    text = text[:text.index(start) + len(start)] + "\n" + block + "\n" + text[text.index(end):]
else:
    text += f"\n## Cluster: cross-node p2p\n\n{start}\n{block}\n{end}\n"
open(out, "w").write(text)
print(block)
PY
