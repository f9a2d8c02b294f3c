#!/usr/bin/env bash
# Ferrite vs Mosquitto, side by side in one run, with ferrite-bench (crates/bench).
#
# For every scenario x QoS, each broker in turn gets a fresh process on a free port, pinned to
# CPU $BROKER_CPU, while ferrite-bench runs pinned to CPU $TOOL_CPU. Throughput counts what the
# subscribers receive. The results go into docs/benchmarks.md, between the
# "bench:results" markers (the rest of the file is left alone).
#
#   bash scripts/bench.sh                          # defaults below
#   DURATION=5 SCENARIOS="p2p idle" bash scripts/bench.sh
#
# Every setting is an environment variable:
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}                   # measured seconds per run
WARMUP=${WARMUP:-2}                        # unmeasured seconds of load before that
DRAIN=${DRAIN:-5}                          # longest wait for in-flight messages afterwards
PAYLOAD=${PAYLOAD:-64}                     # payload bytes
RATE=${RATE:-}                             # total msgs/s across publishers; empty = full speed
LATENCY_RATE=${LATENCY_RATE:-20000}        # p2p-paced: total msgs/s, below both brokers' capacity
FANIN_PUBLISHERS=${FANIN_PUBLISHERS:-50}   # fanin: publishers -> 1 subscriber
FANOUT_SUBSCRIBERS=${FANOUT_SUBSCRIBERS:-50} # fanout: 1 publisher -> subscribers
P2P_PAIRS=${P2P_PAIRS:-50}                 # p2p: publisher/subscriber pairs
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000} # idle: connections (the tool stops at 19,000)
IDLE_HOLD=${IDLE_HOLD:-3}                  # idle: seconds held after settling ($WARMUP)
SCENARIOS=${SCENARIOS:-"fanin fanout p2p p2p-paced idle"}
QOS_LEVELS=${QOS_LEVELS:-"0 1"}
BROKERS=${BROKERS:-"ferrite mosquitto"}
BROKER_CPU=${BROKER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
MOSQUITTO_EXTRA_CONF=${MOSQUITTO_EXTRA_CONF:-} # extra mosquitto.conf lines, e.g. "set_tcp_nodelay true"
OUT=${OUT:-docs/benchmarks.md}
# Ferrite authorizes every connect, publish, subscribe and delivery with this IoT policy (the
# bench clients connect anonymously on loopback, which the policy governs): a realistic
# device policy with variables, wildcards and an explicit deny, not allow-all.
ARN_PREFIX="arn:aws:iot:us-east-1:000000000000"
FERRITE_POLICY=${FERRITE_POLICY:-'{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"'$ARN_PREFIX':client/*"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":["'$ARN_PREFIX':topic/bench/*","'$ARN_PREFIX':topic/devices/${iot:ClientId}/*"]},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":["'$ARN_PREFIX':topicfilter/bench/*","'$ARN_PREFIX':topicfilter/devices/${iot:ClientId}/*"]},
 {"Effect":"Deny","Action":["iot:Publish","iot:Subscribe"],"Resource":["'$ARN_PREFIX':topic/bench/forbidden/*","'$ARN_PREFIX':topicfilter/bench/forbidden/*"]}]}'}

SETTINGS=(DURATION WARMUP DRAIN PAYLOAD RATE LATENCY_RATE FANIN_PUBLISHERS FANOUT_SUBSCRIBERS P2P_PAIRS
  IDLE_CONNECTIONS IDLE_HOLD SCENARIOS QOS_LEVELS BROKERS BROKER_CPU TOOL_CPU MOSQUITTO_EXTRA_CONF)
# The command as run, with every setting that differs from its default.
DEFAULTS="DURATION=10 WARMUP=2 DRAIN=5 PAYLOAD=64 RATE= LATENCY_RATE=20000 FANIN_PUBLISHERS=50 FANOUT_SUBSCRIBERS=50
P2P_PAIRS=50 IDLE_CONNECTIONS=10000 IDLE_HOLD=3 BROKER_CPU=0 TOOL_CPU=1 MOSQUITTO_EXTRA_CONF="
COMMAND="bash scripts/bench.sh"
for v in "${SETTINGS[@]}"; do
  case $v in
    SCENARIOS) [ "$SCENARIOS" = "fanin fanout p2p p2p-paced idle" ] && continue ;;
    QOS_LEVELS) [ "$QOS_LEVELS" = "0 1" ] && continue ;;
    BROKERS) [ "$BROKERS" = "ferrite mosquitto" ] && continue ;;
    *) grep -qxF -- "$v=${!v}" <(tr ' ' '\n' <<<"$DEFAULTS") && continue ;;
  esac
  COMMAND="$v=\"${!v}\" $COMMAND"
done

echo "== building release binaries"
packages=(-p ferrite-bench)
# FERRITE_BIN runs another build (e.g. an earlier commit's, to look for regressions).
[[ " $BROKERS " == *" ferrite "* && -z "${FERRITE_BIN:-}" ]] && packages+=(-p ferrite-server)
cargo build --release "${packages[@]}"
BENCH=target/release/ferrite-bench
FERRITE=${FERRITE_BIN:-target/release/ferrite}
[ -x "$MOSQUITTO" ] || { echo "no mosquitto at $MOSQUITTO" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
RUN_DIR=target/bench/$stamp
mkdir -p "$RUN_DIR"
RESULTS=$RUN_DIR/results.jsonl
: >"$RESULTS"
LOG=$RUN_DIR/bench.log
: >"$LOG"
echo "== results and logs in $RUN_DIR"

# Every process this script starts is killed on exit, however it exits.
BROKER_PID=""
TOOL_PID=""
DATA_DIRS=()
cleanup() {
  for pid in $TOOL_PID $BROKER_PID; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for d in "${DATA_DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Idle needs ~2 descriptors per connection on the machine: one in the tool, one in the broker.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local port
  for _ in $(seq 50); do
    if command -v python3 >/dev/null; then
      port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    else
      port=$((20000 + RANDOM % 30000))
    fi
    if [ "$port" != 1883 ] && ! port_in_use "$port"; then
      echo "$port"
      return
    fi
  done
  echo "no free port found" >&2
  return 1
}

wait_port() { # port pid
  local deadline=$((SECONDS + 30))
  until port_in_use "$1"; do
    kill -0 "$2" 2>/dev/null || { echo "broker (pid $2) exited before listening on $1" >&2; return 1; }
    [ $SECONDS -lt $deadline ] || { echo "nothing listening on $1 after 30 s" >&2; return 1; }
    sleep 0.05
  done
}

start_broker() { # name port -> BROKER_PID
  local name=$1 port=$2
  if [ "$name" = ferrite ]; then
    local data
    data=$(mktemp -d)
    DATA_DIRS+=("$data")
    env FERRITE_DATA_DIR="$data" FERRITE_MQTT_PORT="$port" FERRITE_MQTTS_PORT=off \
      FERRITE_WS_PORT=off FERRITE_WSS_PORT=off FERRITE_HTTPS_PORT=off FERRITE_API_PORT=off \
      FERRITE_ANONYMOUS_POLICY="$FERRITE_POLICY" \
      FERRITE_WORKER_THREADS=1 FERRITE_LOG_LEVEL=warn \
      taskset -c "$BROKER_CPU" "$FERRITE" serve >"$RUN_DIR/$name-$port.log" 2>&1 &
  else
    local conf=$RUN_DIR/mosquitto-$port.conf
    {
      echo "listener $port 127.0.0.1"
      echo "allow_anonymous true"
      echo "max_queued_messages 1000"
      echo "persistence false"
      [ -z "$MOSQUITTO_EXTRA_CONF" ] || printf '%b\n' "$MOSQUITTO_EXTRA_CONF"
    } >"$conf"
    taskset -c "$BROKER_CPU" "$MOSQUITTO" -c "$conf" >"$RUN_DIR/$name-$port.log" 2>&1 &
  fi
  BROKER_PID=$!
  wait_port "$port" "$BROKER_PID"
}

stop_broker() {
  [ -n "$BROKER_PID" ] || return 0
  kill -TERM "$BROKER_PID" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}

# Other CPU-heavy processes (builds) skew a 2-core benchmark: note the busiest ones.
BUSY_SEEN=""
note_load() {
  local busy
  # %CPU here is each process's average over its lifetime: good enough to spot a compiler.
  busy=$(ps -eo pcpu=,comm= --sort=-pcpu 2>/dev/null \
    | awk '$1 >= 20 && $2 !~ /^(ferrite|ferrite-bench|mosquitto|ps|awk)$/ && n++ < 8 {printf "%s ", $2}' || true)
  [ -z "$busy" ] || BUSY_SEEN="$BUSY_SEEN$busy"
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

for scenario in $SCENARIOS; do
  case $scenario in
    fanin) size=(--publishers "$FANIN_PUBLISHERS") ;;
    fanout) size=(--subscribers "$FANOUT_SUBSCRIBERS") ;;
    p2p) size=(--pairs "$P2P_PAIRS") ;;
    p2p-paced) size=(--pairs "$P2P_PAIRS") ;;
    idle) size=(--connections "$IDLE_CONNECTIONS") ;;
    *) echo "unknown scenario $scenario" >&2; exit 1 ;;
  esac
  for qos in $QOS_LEVELS; do
    for broker in $BROKERS; do
      port=$(free_port)
      start_broker "$broker" "$port"
      note_load
      args=("${scenario%-paced}" "${size[@]}" --port "$port" --qos "$qos" --payload-size "$PAYLOAD"
        --warmup "$WARMUP" --drain "$DRAIN" --broker-pid "$BROKER_PID" --label "$broker")
      if [ "$scenario" = idle ]; then
        args+=(--duration "$IDLE_HOLD")
      else
        args+=(--duration "$DURATION")
        if [ "$scenario" = p2p-paced ]; then
          args+=(--rate "$LATENCY_RATE")
        elif [ -n "$RATE" ]; then
          args+=(--rate "$RATE")
        fi
      fi
      echo "== $broker: ferrite-bench ${args[*]}" | tee -a "$LOG"
      taskset -c "$TOOL_CPU" "$BENCH" "${args[@]}" >"$RUN_DIR/out.json" 2>>"$LOG" &
      TOOL_PID=$!
      status=0
      wait "$TOOL_PID" || status=$?
      TOOL_PID=""
      tail -n 1 "$LOG"
      if [ "$status" -ne 0 ]; then
        echo "!! ferrite-bench failed ($status) against $broker; see $LOG" | tee -a "$LOG"
      fi
      # The paced run reports itself as p2p: keep the two apart in the table.
      grep '^{' "$RUN_DIR/out.json" | sed "s/\"scenario\":\"${scenario%-paced}\"/\"scenario\":\"$scenario\"/" \
        >>"$RESULTS" || true
      note_load
      if ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "!! $broker exited during the run; see $RUN_DIR/$broker-$port.log" | tee -a "$LOG"
      fi
      stop_broker
    done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== writing $OUT"
CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MOSQUITTO_VERSION=$("$MOSQUITTO" -h 2>/dev/null | head -n1 || true)
FERRITE_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- crates 2>/dev/null || FERRITE_REV="$FERRITE_REV + uncommitted changes"
export RESULTS OUT COMMAND CPU_MODEL MOSQUITTO_VERSION FERRITE_REV LOAD_BEFORE LOAD_AFTER BUSY_SEEN \
  BROKER_CPU TOOL_CPU DURATION WARMUP DRAIN PAYLOAD RATE LATENCY_RATE IDLE_HOLD MOSQUITTO_EXTRA_CONF
NPROC=$(nproc) MEM=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) \
  KERNEL=$(uname -r) DATE=$(date -u '+%Y-%m-%d %H:%M UTC') RUN_DIR=$RUN_DIR python3 - <<'PY'
import json, os, re

env = os.environ
rows = [json.loads(l) for l in open(env["RESULTS"]) if l.startswith("{")]
by = {}
for r in rows:
    by.setdefault((r["scenario"], r["qos"]), {})[r["label"]] = r


def num(v):
    return "—" if v is None else f"{v:,.0f}"


def lat(r):
    l = r and r.get("latency_us")
    return f"{l['p50']:,.0f} / {l['p99']:,.0f}" if l else "—"


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "—"


def clients(sc, r):
    if sc == "fanin":
        return f"{r['publishers']} pub → 1 sub"
    if sc == "fanout":
        return f"1 pub → {r['subscribers']} sub"
    if sc == "p2p":
        return f"{r['publishers']} pairs"
    if sc == "p2p-paced":
        return f"{r['publishers']} pairs, {int(env['LATENCY_RATE']):,} msgs/s"
    return f"{r['connections']:,} conns"


order = {"fanin": 0, "fanout": 1, "p2p": 2, "p2p-paced": 3, "idle": 4}
keys = sorted(by, key=lambda k: (order.get(k[0], 9), k[1]))
rate = env.get("RATE") or ""
L = []
L.append(f"Run finished {env['DATE']}; command: `{env['COMMAND']}`.")
L.append("")
L.append(f"- Machine: {env['NPROC']} CPUs ({env['CPU_MODEL']}), {env['MEM']}, Linux {env['KERNEL']}.")
L.append(f"- Brokers: Ferrite `{env['FERRITE_REV']}` (`FERRITE_WORKER_THREADS=1`; every connect, publish, subscribe and delivery checked against the IoT policy `FERRITE_POLICY` in scripts/bench.sh), {env['MOSQUITTO_VERSION']}"
         + (f" with extra config `{env['MOSQUITTO_EXTRA_CONF']}`" if env.get("MOSQUITTO_EXTRA_CONF") else "") + ".")
L.append(f"- Pinning: broker `taskset -c {env['BROKER_CPU']}`, ferrite-bench `taskset -c {env['TOOL_CPU']}`.")
L.append(f"- Load: {env['PAYLOAD']}-byte payloads, " + (f"{rate} msgs/s in total" if rate else "publishers at full speed")
         + f", {env['WARMUP']} s warm-up, {env['DURATION']} s measured, up to {env['DRAIN']} s drain; "
         f"p2p-paced: {int(env['LATENCY_RATE']):,} msgs/s in total, for latency below saturation; "
         f"idle: {env['WARMUP']} s settle + {env['IDLE_HOLD']} s hold.")
busy = env.get("BUSY_SEEN", "").strip()
L.append(f"- Other load on the machine: load average {env['LOAD_BEFORE']} before, {env['LOAD_AFTER']} after"
         + (f"; busy processes seen between runs: {' '.join(sorted(set(busy.split())))[:300]}" if busy else "; no other busy process seen between runs") + ".")
L.append("")
L.append("| scenario | QoS | clients | Ferrite msgs/s | Mosquitto msgs/s | Ferrite ÷ Mosquitto | Ferrite p50 / p99 µs | Mosquitto p50 / p99 µs | Ferrite KB/conn | Mosquitto KB/conn |")
L.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
for sc, q in keys:
    d = by[(sc, q)]
    f, m = d.get("ferrite"), d.get("mosquitto")
    any_r = f or m
    if sc == "idle":
        fk, mk = f and f.get("kb_per_conn"), m and m.get("kb_per_conn")
        fmt = lambda v: "—" if v is None else f"{v:.1f}"
        L.append(f"| idle | {q} | {clients(sc, any_r)} | — | — | {ratio(fk, mk)} (memory) | — | — | {fmt(fk)} | {fmt(mk)} |")
    else:
        fr, mr = f and f["recv_per_s"], m and m["recv_per_s"]
        L.append(f"| {sc} | {q} | {clients(sc, any_r)} | {num(fr)} | {num(mr)} | {ratio(fr, mr)} | {lat(f)} | {lat(m)} | — | — |")
L.append("")
L.append("Details per run (msgs/s received vs. attempted, loss, CPU over the measured window in % of one core):")
L.append("")
L.append("| scenario | QoS | broker | sent msgs/s | received msgs/s | loss % | latency p50 / p99 / max µs | broker CPU % | tool CPU % | notes |")
L.append("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
for sc, q in keys:
    for label, r in sorted(by[(sc, q)].items()):
        errs = "; ".join(r.get("errors") or [])[:160]
        if sc == "idle":
            note = (f"{r['connections']:,} opened in {r['connect_s']} s, {r['connections_alive']:,} alive at the end; "
                    f"RSS {r['rss_before_kb']} → {r['rss_after_kb']} KiB")
            L.append(f"| idle | {q} | {label} | — | — | — | — | — | — | {note}{'; ' + errs if errs else ''} |")
        else:
            l = r.get("latency_us")
            lt = f"{l['p50']:,.0f} / {l['p99']:,.0f} / {l['max']:,.0f}" if l else "—"
            cpu = lambda v: "?" if v is None else f"{v:.0f}"
            notes = []
            if r.get("still_delivering"):
                notes.append("broker still delivering when the drain ended: loss includes late messages")
            if (r.get("tool_cpu_pct") or 0) >= 90:
                notes.append("load generator near saturation")
            if errs:
                notes.append(errs)
            errs = "; ".join(notes)
            L.append(f"| {sc} | {q} | {label} | {num(r['sent_per_s'])} | {num(r['recv_per_s'])} | {r['loss_pct']:.2f} | {lt} | "
                     f"{cpu(r.get('broker_cpu_pct'))} | {cpu(r.get('tool_cpu_pct'))} | {errs} |")
L.append("")
L.append(f"Raw JSON lines are kept in `{env['RUN_DIR']}/results.jsonl` (not committed).")
block = "\n".join(L)

out = env["OUT"]
begin, end = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
text = open(out).read() if os.path.exists(out) else f"# Benchmarks\n\nGenerated by `scripts/bench.sh`.\n\n{begin}\n{end}\n"
if begin not in text or end not in text:
    text = text.rstrip("\n") + f"\n\n## Results\n\n{begin}\n{end}\n"
pre, rest = text.split(begin, 1)
post = rest.split(end, 1)[1]
open(out, "w").write(f"{pre}{begin}\n{block}\n{end}{post}")
print(block)
PY
