#!/usr/bin/env bash
# Starts the local services the tests use when they are installed but not running:
# PostgreSQL (5432), NATS with JetStream (4222) and RabbitMQ (5672). Sourced by scripts/test.sh,
# which then exports the test URLs of those that answer; a test whose service is absent skips
# with a loud reason. Nothing here is needed to build or run Ferrite itself.

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 i
  for i in $(seq 1 60); do
    port_open "$port" && return 0
    sleep 0.5
  done
  return 1
}

start_service() {
  local name=$1 port=$2
  shift 2
  if port_open "$port"; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "!! $name is not running on 127.0.0.1:$port and this user cannot start it"
    return 1
  fi
  echo "starting $name (127.0.0.1:$port)"
  if ! "$@" >/dev/null 2>&1 || ! wait_port "$port"; then
    echo "!! $name could not be started on 127.0.0.1:$port"
    return 1
  fi
}

if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  start_service PostgreSQL 5432 pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if [ -x /usr/sbin/nats-server ]; then
  mkdir -p /var/lib/nats-server 2>/dev/null || true
  start_service NATS 4222 start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server \
    -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
fi
if command -v rabbitmq-server >/dev/null 2>&1; then
  start_service RabbitMQ 5672 rabbitmq-server -detached || true
fi
