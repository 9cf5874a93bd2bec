#!/usr/bin/env bash
# Browser tests: starts the real quantdesk binary with demo data and drives Debian's chromium
# with playwright-core (node's test runner). Installs what it needs. Screenshots go to
# $ARTIFACTS (default: artifacts/browser).
#
#   bash tests/browser/run.sh [path/to/quantdesk]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/target/debug/quantdesk}
export ARTIFACTS=${ARTIFACTS:-$root/artifacts/browser}
mkdir -p "$ARTIFACTS"

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-wqy-zenhei >/dev/null
fi
if ! fc-list 2>/dev/null | grep -qi "wqy\|noto sans cjk"; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends fonts-wqy-zenhei >/dev/null || true
fi
(cd "$here" && npm ci --no-fund --no-audit --silent)

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export QUANTDESK_DATABASE_URL="sqlite://$work/q.db" QUANTDESK_MAILBOX_DIR="$work/mail" QUANTDESK_DEMO_PASSWORD=browser-demo-pw-1
QUANTDESK_LOG_LEVEL=warn "$bin" serve --demo --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
export BASE_URL="http://127.0.0.1:$port"
# The tests sign in through the form as the demo account; their own API calls use a key.
export DEMO_EMAIL=demo@quantdesk.local DEMO_PASSWORD=$QUANTDESK_DEMO_PASSWORD MAILBOX="$work/mail"
QD_TOKEN=$("$bin" key create --email "$DEMO_EMAIL" --name browser-tests --scopes read,jobs,admin 2>/dev/null)
export QD_TOKEN
export QUANTDESK_FIXTURES=${QUANTDESK_FIXTURES:-}
node --test --test-concurrency=1 "$here"/*.test.mjs
