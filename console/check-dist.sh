#!/usr/bin/env bash
# Checks that console/dist (committed, embedded by crates/console) is what the sources build
# to: installs the locked packages into a scratch copy, builds there and compares. Without
# npm or the registry it says so and skips; the committed dist keeps `cargo build` offline.
# Rebuild after changing console/: (cd console && npm ci && npm run build), commit dist/.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "!! npm not found: the console's dist/ check is SKIPPED"
  exit 0
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r index.html package.json package-lock.json tsconfig.json vite.config.ts src "$scratch/"
cd "$scratch"
# --ignore-scripts: nothing the build needs runs install scripts (esbuild's binary comes as a
# platform package).
if ! npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >npm-ci.log 2>&1; then
  cat npm-ci.log
  echo "!! npm ci failed (no registry access?): the console's dist/ check is SKIPPED"
  exit 0
fi
npm run -s build >/dev/null
if ! diff -r "$OLDPWD/dist" dist; then
  echo "console/dist differs from a fresh build: run (cd console && npm ci && npm run build) and commit dist/"
  exit 1
fi
echo "console/dist matches a fresh build"
