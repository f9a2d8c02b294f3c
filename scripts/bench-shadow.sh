#!/usr/bin/env bash
# Device Shadow throughput and round trip with ferrite-bench's `shadow` scenario (crates/bench):
# devices update reported state, apps update desired state, over MQTT (QoS 1), on the
# embedded store with its default durability (fsync before every answer). Mosquitto has no
# shadow service, so only Ferrite runs. Each configuration runs $REPEAT times on a fresh
# broker pinned to CPU $BROKER_CPU, the tool pinned to CPU $TOOL_CPU. The results go into
# docs/benchmarks.md between the "bench:shadow" markers.
#
#   bash scripts/bench-shadow.sh
#   REPEAT=1 OUTSTANDING_LEVELS="1" bash scripts/bench-shadow.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}                 # measured seconds per run
WARMUP=${WARMUP:-2}                     # unmeasured seconds before that
DEVICES=${DEVICES:-500}                 # devices, one shadow each
APPS=${APPS:-20}                        # apps setting desired state (>= DEVICES / 25)
OUTSTANDING_LEVELS=${OUTSTANDING_LEVELS:-"1 4"} # unanswered updates per client (AWS: <= 10)
QOS=${QOS:-1}
REPEAT=${REPEAT:-3}
BROKER_CPU=${BROKER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
OUT=${OUT:-docs/benchmarks.md}

echo "== building release binaries"
# FERRITE_BIN runs another build (e.g. an earlier commit's, to look for regressions).
packages=(-p ferrite-bench)
[ -z "${FERRITE_BIN:-}" ] && packages+=(-p ferrite-server)
cargo build --release "${packages[@]}"
BENCH=target/release/ferrite-bench
FERRITE=${FERRITE_BIN:-target/release/ferrite}
command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 1; }

RUN_DIR=target/bench/shadow-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN_DIR"
RESULTS=$RUN_DIR/results.jsonl
: >"$RESULTS"

BROKER_PID=""
DATA_DIR=""
cleanup() {
  [ -z "$BROKER_PID" ] || { kill -KILL "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; }
  [ -z "$DATA_DIR" ] || rm -rf "$DATA_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for outstanding in $OUTSTANDING_LEVELS; do
  for run in $(seq "$REPEAT"); do
    port=$(free_port)
    DATA_DIR=$(mktemp -d)
    env FERRITE_DATA_DIR="$DATA_DIR" FERRITE_MQTT_PORT="$port" FERRITE_MQTTS_PORT=off \
      FERRITE_WS_PORT=off FERRITE_WSS_PORT=off FERRITE_HTTPS_PORT=off FERRITE_API_PORT=off \
      FERRITE_WORKER_THREADS=1 FERRITE_LOG_LEVEL=warn \
      taskset -c "$BROKER_CPU" "$FERRITE" serve >"$RUN_DIR/ferrite-$port.log" 2>&1 &
    BROKER_PID=$!
    deadline=$((SECONDS + 30))
    until port_in_use "$port"; do
      kill -0 "$BROKER_PID" 2>/dev/null || { echo "ferrite exited; see $RUN_DIR" >&2; exit 1; }
      [ $SECONDS -lt $deadline ] || { echo "ferrite not listening after 30 s" >&2; exit 1; }
      sleep 0.05
    done
    args=(shadow --port "$port" --devices "$DEVICES" --apps "$APPS" --outstanding "$outstanding"
      --qos "$QOS" --duration "$DURATION" --warmup "$WARMUP" --broker-pid "$BROKER_PID" --label ferrite)
    echo "== run $run: ferrite-bench ${args[*]}"
    taskset -c "$TOOL_CPU" "$BENCH" "${args[@]}" >>"$RESULTS" 2>"$RUN_DIR/bench.log" \
      || { echo "!! ferrite-bench failed; see $RUN_DIR/bench.log" >&2; cat "$RUN_DIR/bench.log" >&2; }
    tail -n 1 "$RESULTS"
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=""
    rm -rf "$DATA_DIR"
    DATA_DIR=""
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

FERRITE_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- crates 2>/dev/null || FERRITE_REV="$FERRITE_REV + uncommitted changes"
export RESULTS OUT FERRITE_REV LOAD_BEFORE LOAD_AFTER BROKER_CPU TOOL_CPU DEVICES APPS QOS DURATION WARMUP REPEAT
DATE=$(date -u '+%Y-%m-%d %H:%M UTC') CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') \
  NPROC=$(nproc) python3 - <<'PY'
import json, os
env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"]) if l.startswith("{")]
L = [f"Run finished {env['DATE']}; command: `bash scripts/bench-shadow.sh` (REPEAT={env['REPEAT']}).", ""]
L.append(f"- Machine: {env['NPROC']} CPUs ({env['CPU_MODEL']}); Ferrite `{env['FERRITE_REV']}`, `FERRITE_WORKER_THREADS=1`, "
         f"embedded store, durability `full` (fsync before answering); broker on CPU {env['BROKER_CPU']}, ferrite-bench on CPU {env['TOOL_CPU']}; "
         f"load average {env['LOAD_BEFORE']} before, {env['LOAD_AFTER']} after.")
L.append(f"- Load: {env['DEVICES']} devices (reported) + {env['APPS']} apps (desired), QoS {env['QOS']}, closed loop per client, "
         f"{env['WARMUP']} s warm-up, {env['DURATION']} s measured. Counted: accepted responses the clients received.")
L.append("")
L.append("| outstanding per client | run | accepted updates/s | reported / desired | rejected | round trip p50 / p99 / max ms | broker CPU % |")
L.append("|---:|---:|---:|---:|---:|---:|---:|")
runs = {}
for r in rows:
    n = runs.setdefault(r["outstanding"], 0) + 1
    runs[r["outstanding"]] = n
    t = r["rtt_ms"]
    cpu = r.get("broker_cpu_percent")
    L.append(f"| {r['outstanding']} | {n} | {r['updates_per_s']:,.0f} | {r['accepted_reported']:,} / {r['accepted_desired']:,} | "
             f"{r['rejected']} | {t['p50']:.1f} / {t['p99']:.1f} / {t['max']:.1f} | {'?' if cpu is None else f'{cpu:.0f}'} |")
block = "\n".join(L)
out = env["OUT"]
begin, end = "<!-- bench:shadow:begin -->", "<!-- bench:shadow:end -->"
text = open(out).read()
if begin not in text:
    text = text.rstrip("\n") + f"\n\n## Device Shadow updates\n\n{begin}\n{end}\n"
pre, rest = text.split(begin, 1)
post = rest.split(end, 1)[1]
open(out, "w").write(f"{pre}{begin}\n{block}\n{end}{post}")
print(block)
PY
