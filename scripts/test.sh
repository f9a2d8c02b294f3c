#!/usr/bin/env bash
# Every test: formatting, lints, Rust unit and end-to-end tests, and the Python
# compatibility suite (paho-mqtt, mosquitto clients) against a real `ferrite serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${CI:-}" ]; then
  # A CI clone is built once: incremental caches would only cost disk.
  export CARGO_INCREMENTAL=0
fi
echo "disk free before the build: $(df -h . | awk 'NR==2 {print $4}')"

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== console/dist is what console/ builds to"
bash console/check-dist.sh

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo build"
cargo build --workspace --locked

echo "== local services (PostgreSQL, NATS, RabbitMQ)"
source scripts/services.sh
if port_open 4222; then
  export FERRITE_TEST_NATS_URL="${FERRITE_TEST_NATS_URL:-nats://127.0.0.1:4222}"
else
  echo "!! NATS not reachable on 127.0.0.1:4222: NATS tests will be SKIPPED"
fi
if port_open 5672; then
  export FERRITE_TEST_AMQP_URL="${FERRITE_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
else
  echo "!! RabbitMQ not reachable on 127.0.0.1:5672: RabbitMQ tests will be SKIPPED"
fi

echo "== PostgreSQL for the storage tests"
# The PostgreSQL backend's tests need a server; each test works in a scratch schema of this
# database. A URL already in the environment wins.
pg_admin_url="postgres://postgres@127.0.0.1:5432/test"
if [ -n "${FERRITE_TEST_POSTGRES_URL:-}" ]; then
  echo "using FERRITE_TEST_POSTGRES_URL from the environment"
elif ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  echo "!! PostgreSQL not reachable on 127.0.0.1:5432: PostgreSQL tests will be SKIPPED"
elif ! command -v psql >/dev/null 2>&1; then
  echo "!! psql not found (Debian: postgresql-client): PostgreSQL tests will be SKIPPED"
elif ! PGCONNECT_TIMEOUT=5 psql "$pg_admin_url" -Atqc 'SELECT 1' >/dev/null 2>&1; then
  echo "!! PostgreSQL on 127.0.0.1:5432 refused $pg_admin_url: PostgreSQL tests will be SKIPPED"
else
  if [ "$(psql "$pg_admin_url" -Atqc "SELECT 1 FROM pg_database WHERE datname = 'ferrite_test'")" != 1 ]; then
    # A concurrent run may win the race to create it; either way it exists afterwards.
    psql "$pg_admin_url" -qc 'CREATE DATABASE ferrite_test' >/dev/null 2>&1 || true
  fi
  export FERRITE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/ferrite_test"
  echo "PostgreSQL tests use $FERRITE_TEST_POSTGRES_URL"
fi

echo "== Rust tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

echo "disk free after the Rust tests: $(df -h . | awk 'NR==2 {print $4}')"

echo "== Python compatibility suite"
if ! command -v mosquitto_pub >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq mosquitto-clients >/dev/null) \
      || echo "!! could not install mosquitto-clients: the quickstart test will be SKIPPED"
  else
    echo "!! mosquitto-clients missing and cannot be installed: the quickstart test will be SKIPPED"
  fi
fi
venv=tests/compat/.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r tests/compat/requirements.txt
FERRITE_BIN="$PWD/target/debug/ferrite" "$venv/bin/python" -m pytest -q tests/compat
