#!/usr/bin/env bash
# Chart page speed: imports the SSE Composite (4,209 daily bars) into a fresh database, serves it
# with a release build, and measures in headless chromium the chart's first paint with 2,000 daily
# bars and the bytes transferred for the page (cold cache, 7 runs).
#
#   QUANTDESK_FIXTURES=../shared/fixtures bash bench/page.sh
#   RUNS=1 BIN=path/to/quantdesk …    # one run of a given build (the CI smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
RUNS=${RUNS:-7}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p quantdesk
  BIN=$CARGO_TARGET_DIR/release/quantdesk
fi
bin=$(realpath "$BIN")
(cd tests/browser && npm ci --no-fund --no-audit --silent)
work=$(mktemp -d)
export QUANTDESK_DATABASE_URL="sqlite://$work/q.db" QUANTDESK_LOG_LEVEL=warn
"$bin" import bars "${QUANTDESK_FIXTURES:?}/cn/sh000001_1d.csv" --symbol 000001.SH --resolution 1D
# perf.mjs signs in through the form (the cookie is set once per context, before measuring)
export QD_EMAIL=bench@quantdesk.test QD_PASSWORD=bench-page-pw-1
QUANTDESK_USER_PASSWORD=$QD_PASSWORD "$bin" user create --email "$QD_EMAIL" --role viewer >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
node tests/browser/perf.mjs "http://127.0.0.1:$port" 000001.SH "$RUNS"
