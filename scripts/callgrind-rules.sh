#!/usr/bin/env bash
# Instructions per message through the broker alone (p2p) and through the bench's topic rule
# (rules), counted by callgrind: deterministic whatever else the machine runs, unlike
# scripts/bench-rules.sh's wall clock. One Ferrite (release build) per scenario runs under
# valgrind with one worker thread; a driver connects PAIRS publisher/subscriber pairs (the
# rules scenario first creates ferrite-bench's rule through the API), waits until a probe
# message gets through, zeroes the counters, sends ROUNDS rounds of BURST QoS 0 messages per
# publisher (each round waits until every subscriber got its messages, so nothing is dropped),
# and dumps the counters. Instructions ÷ messages is the broker's cost per message.
#
#   bash scripts/callgrind-rules.sh                       # builds, then p2p and rules
#   BIN_DIR=/tmp/bins ROUNDS=20 BURST=50 bash scripts/callgrind-rules.sh
#   callgrind_annotate target/callgrind/rules.*.1          # where the instructions go
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-20}
BURST=${BURST:-50}
PAIRS=${PAIRS:-50}
KEY_ID=AKIAFERRITEBENCH0001
SECRET=ferrite/bench/secret/000000000000000000000
if [ -n "${BIN_DIR:-}" ]; then
  FERRITE=$BIN_DIR/ferrite
else
  cargo build --release -p ferrite-server
  FERRITE=target/release/ferrite
fi
OUT=target/callgrind
mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for scenario in p2p rules; do
  DATA=$(mktemp -d)
  MQTT=$(free_port) API=$(free_port)
  rm -f "$OUT/$scenario".*
  env FERRITE_DATA_DIR="$DATA" FERRITE_MQTT_PORT="$MQTT" FERRITE_API_PORT="$API" \
    FERRITE_MQTTS_PORT=off FERRITE_WS_PORT=off FERRITE_WSS_PORT=off FERRITE_HTTPS_PORT=off \
    FERRITE_ACCESS_KEY_ID="$KEY_ID" FERRITE_SECRET_ACCESS_KEY="$SECRET" \
    FERRITE_WORKER_THREADS=1 FERRITE_LOG_LEVEL=warn \
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$scenario.%p" "$FERRITE" serve \
    >"$OUT/$scenario.log" 2>&1 &
  PID=$!
  for _ in $(seq 600); do [ -f "$DATA/listeners.json" ] && break; sleep 0.1; done
  [ "$scenario" = rules ] && python3 scripts/callgrind/mkrule.py "127.0.0.1:$API" "$KEY_ID" "$SECRET" >/dev/null
  CG_PID=$PID python3 scripts/callgrind/drive.py "$MQTT" "$scenario" "$PAIRS" "$ROUNDS" "$BURST" >/dev/null
  kill -TERM "$PID"
  wait "$PID" || true
  rm -rf "$DATA"
  ir=$(sed -n 's/^summary: //p' "$OUT/$scenario.$PID.1")
  msgs=$((PAIRS * ROUNDS * BURST))
  echo "$scenario: $ir instructions / $msgs messages = $((ir / msgs)) per message"
done
