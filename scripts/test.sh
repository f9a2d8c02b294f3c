#!/usr/bin/env bash
# Every test: formatting, lints, Rust unit and end-to-end tests, and the Python
# compatibility suite (paho-mqtt, mosquitto clients) against a real `ferrite serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo build"
cargo build --workspace --locked

echo "== Rust tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

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
