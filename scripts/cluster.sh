#!/usr/bin/env bash
# Starts a three-node Ferrite cluster on this machine, for trying a cluster out: three
# `ferrite serve` processes sharing the local PostgreSQL (database $CLUSTER_DB, created when
# missing) and the local NATS. Ctrl-C stops all three; their data directories stay in
# $CLUSTER_DIR, so a second run resumes the same cluster (node ids are kept there).
#
#   bash scripts/cluster.sh                 # nodes on MQTT 1884-1886, API 8091-8093
#   NODES=5 BASE_MQTT=2000 bash scripts/cluster.sh
#   FERRITE_BIN=target/release/ferrite bash scripts/cluster.sh
#
# Node i listens on MQTT $BASE_MQTT+i, MQTT over TLS $BASE_MQTTS+i and the API $BASE_API+i,
# all on loopback (1883, 8883 and 8090 stay free for a single node, or Mosquitto). Every node
# has the same API key pair (printed below) and the same device CA, as nodes behind one load
# balancer must: node 1 makes the CA, the others start with a copy of it.
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-3}
BASE_MQTT=${BASE_MQTT:-1883}
BASE_MQTTS=${BASE_MQTTS:-8883}
BASE_API=${BASE_API:-8090}
CLUSTER_DIR=${CLUSTER_DIR:-target/cluster}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
CLUSTER_DB=${CLUSTER_DB:-ferrite_cluster}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
ACCESS_KEY_ID=${FERRITE_ACCESS_KEY_ID:-AKIAFERRITECLUSTER01}
SECRET_ACCESS_KEY=${FERRITE_SECRET_ACCESS_KEY:-ferrite/cluster/secret/00000000000000000000}

if [ -z "${FERRITE_BIN:-}" ]; then
  if [ ! -x target/debug/ferrite ] && [ ! -x target/release/ferrite ]; then
    echo "== building ferrite (debug)"
    cargo build --bin ferrite
  fi
  if [ -x target/release/ferrite ]; then FERRITE_BIN=target/release/ferrite; else FERRITE_BIN=target/debug/ferrite; fi
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! port_open 5432 || ! port_open "${NATS_URL##*:}"; then
  echo "!! a cluster needs PostgreSQL on 127.0.0.1:5432 and NATS at $NATS_URL (see scripts/services.sh)"
  exit 1
fi
if ! psql "$PG/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$CLUSTER_DB'" | grep -q 1; then
  psql "$PG/postgres" -qc "CREATE DATABASE $CLUSTER_DB"
fi

PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT INT TERM

start_node() { # $1 = node number
  local i=$1 dir=$CLUSTER_DIR/n$1
  mkdir -p "$dir"
  if [ "$i" -gt 1 ] && [ ! -d "$dir/ca" ]; then cp -r "$CLUSTER_DIR/n1/ca" "$dir/ca"; fi
  rm -f "$dir/listeners.json"
  env FERRITE_DATA_DIR="$dir" FERRITE_STORAGE_URL="$PG/$CLUSTER_DB" \
    FERRITE_CLUSTER_ENABLED=true FERRITE_CLUSTER_NATS_URLS="$NATS_URL" \
    FERRITE_MQTT_PORT=$((BASE_MQTT + i)) FERRITE_MQTTS_PORT=$((BASE_MQTTS + i)) \
    FERRITE_API_PORT=$((BASE_API + i)) FERRITE_WS_PORT=off FERRITE_WSS_PORT=off FERRITE_HTTPS_PORT=off \
    FERRITE_ACCESS_KEY_ID="$ACCESS_KEY_ID" FERRITE_SECRET_ACCESS_KEY="$SECRET_ACCESS_KEY" \
    "$FERRITE_BIN" serve >>"$dir/ferrite.log" 2>&1 &
  PIDS+=($!)
  local n
  for n in $(seq 1 200); do
    [ -f "$dir/listeners.json" ] && return 0
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
      echo "!! node $i exited during start-up; its log:"
      tail -20 "$dir/ferrite.log"
      exit 1
    fi
    sleep 0.1
  done
  echo "!! node $i did not start within 20 s (log: $dir/ferrite.log)"
  exit 1
}

for i in $(seq 1 "$NODES"); do
  start_node "$i"
  echo "node $i: mqtt 127.0.0.1:$((BASE_MQTT + i))  mqtts 127.0.0.1:$((BASE_MQTTS + i))  api http://127.0.0.1:$((BASE_API + i))  (log $CLUSTER_DIR/n$i/ferrite.log)"
done
cat <<EOF

A $NODES-node cluster is running on PostgreSQL $PG/$CLUSTER_DB and NATS $NATS_URL.
  export AWS_ACCESS_KEY_ID=$ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET_ACCESS_KEY AWS_REGION=us-east-1
  aws iot list-things --endpoint-url http://127.0.0.1:$((BASE_API + 1))
  mosquitto_sub -p $((BASE_MQTT + 1)) -t 'demo/#' -v &   mosquitto_pub -p $((BASE_MQTT + NODES)) -t demo/hello -m hi
  curl -s http://127.0.0.1:$((BASE_API + 1))/health
Device CA (every node): $CLUSTER_DIR/n1/ca/ca.pem. Ctrl-C stops the cluster.
EOF
wait
