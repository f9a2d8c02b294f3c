#!/usr/bin/env bash
# Ferrite vs Mosquitto, side by side in one run: every scenario runs against a fresh broker
# process of each, the broker pinned to CPU 0 and the load generator to CPU 1. Counts what
# subscribers receive. Writes docs/benchmarks.md.
#   bash scripts/bench.sh            # defaults below; override with env vars
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
FANIN=${FANIN:-50}
FANOUT=${FANOUT:-50}
P2P=${P2P:-50}
IDLE=${IDLE:-10000}
PAYLOAD=${PAYLOAD:-64}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
OUT=${OUT:-docs/benchmarks.md}

cargo build --release -q -p ferrite-server -p ferrite-bench
BENCH=target/release/ferrite-bench
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  local port=$1 deadline=$((SECONDS + 20))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "broker on $port did not start" >&2; exit 1; }
    sleep 0.05
  done
}

start_broker() { # name port -> sets BROKER_PID
  local name=$1 port=$2
  if [ "$name" = ferrite ]; then
    FERRITE_DATA_DIR="$work/ferrite-$port" FERRITE_MQTT_PORT=$port FERRITE_MQTTS_PORT=off \
      FERRITE_WS_PORT=off FERRITE_WSS_PORT=off FERRITE_API_PORT=off FERRITE_WORKER_THREADS=1 \
      FERRITE_LOG_LEVEL=warn FERRITE_MAX_CONNECTIONS=30000 \
      taskset -c 0 target/release/ferrite serve >"$work/ferrite-$port.log" 2>&1 &
  else
    printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000\npersistence false\nlog_dest none\n' "$port" >"$work/m-$port.conf"
    taskset -c 0 "$MOSQUITTO" -c "$work/m-$port.conf" >"$work/mosquitto-$port.log" 2>&1 &
  fi
  BROKER_PID=$!
  pids+=("$BROKER_PID")
  wait_port "$port"
}

results="$work/results.jsonl"
for scenario in fanin fanout p2p; do
  case $scenario in fanin) n=$FANIN ;; fanout) n=$FANOUT ;; p2p) n=$P2P ;; esac
  for qos in 0 1; do
    for broker in ferrite mosquitto; do
      port=$(free_port)
      start_broker "$broker" "$port"
      taskset -c 1 "$BENCH" "$scenario" --port "$port" --qos "$qos" --clients "$n" \
        --duration "$DURATION" --warmup "$WARMUP" --payload-size "$PAYLOAD" --label "$broker" | tee -a "$results"
      kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
    done
  done
done
for broker in ferrite mosquitto; do
  port=$(free_port)
  start_broker "$broker" "$port"
  taskset -c 1 "$BENCH" idle --port "$port" --clients "$IDLE" --broker-pid "$BROKER_PID" --label "$broker" | tee -a "$results"
  kill "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
done

python3 - "$results" "$OUT" "$*" <<'PY'
import json, sys, datetime, subprocess, platform
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
out = sys.argv[2]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
mver = subprocess.run(["/usr/sbin/mosquitto", "-h"], capture_output=True, text=True).stdout.splitlines()[0]
by = {}
for r in rows:
    by.setdefault((r["scenario"], r.get("qos")), {})[r["label"]] = r
lines = ["# Benchmarks", "",
         f"Run {datetime.date.today()} on {nproc} cores ({cpu}); {mver}.",
         "Command: `bash scripts/bench.sh` (defaults: 10 s measured after 2 s warm-up, 64-byte payloads,",
         "50 publishers for fan-in, 50 subscribers for fan-out, 50 pairs for p2p, 10,000 idle connections).",
         "Each broker runs as a fresh process pinned to CPU 0 (`taskset -c 0`, Ferrite with one worker",
         "thread); `ferrite-bench` runs pinned to CPU 1 and counts messages **received by subscribers**.",
         "Latency is publish-to-receive, measured at saturation (full-speed publishers), so it mostly",
         "shows queueing.", "",
         "| scenario | QoS | clients | Ferrite msg/s | Mosquitto msg/s | ratio | Ferrite p50/p99 µs | Mosquitto p50/p99 µs | Ferrite delivered | Mosquitto delivered |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for (sc, qos), d in by.items():
    if sc == "idle":
        continue
    f, m = d.get("ferrite"), d.get("mosquitto")
    if not f or not m:
        continue
    ratio = f["received_per_sec"] / m["received_per_sec"] if m["received_per_sec"] else float("nan")
    lines.append(f"| {sc} | {qos} | {f['clients']} | {f['received_per_sec']:,.0f} | {m['received_per_sec']:,.0f} | {ratio:.2f}× | "
                 f"{f['p50_us']}/{f['p99_us']} | {m['p50_us']}/{m['p99_us']} | {f['delivery_ratio']:.0%} | {m['delivery_ratio']:.0%} |")
idle = by.get(("idle", None), {})
if idle.get("ferrite") and idle.get("mosquitto"):
    f, m = idle["ferrite"], idle["mosquitto"]
    lines += ["", "| idle connections | Ferrite KB/conn | Mosquitto KB/conn |", "|---|---|---|",
              f"| {f['clients']} | {f['kb_per_connection']:.1f} | {m['kb_per_connection']:.1f} |"]
lines += ["", "Raw results (JSON lines):", "", "```"] + [json.dumps(r) for r in rows] + ["```", ""]
open(out, "w").write("\n".join(lines))
print("\n".join(lines))
PY
