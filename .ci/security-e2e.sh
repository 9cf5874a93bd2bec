#!/usr/bin/env bash
# End-to-end attack checks (the security issue's V1-V5) against the built binary: a fresh server
# with its own SQLite file and development mailbox, then .ci/security_e2e_accounts.py.
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export QUANTDESK_DATABASE_URL="sqlite://$work/quantdesk.db"
export QUANTDESK_MAILBOX_DIR="$work/mailbox"
export QUANTDESK_SIGNUP=true
# The general request rate limit is raised so that what is checked is the account defences
# themselves (the attacks ran under the default 1,200 a minute per address in the report).
export QUANTDESK_RATE_LIMIT_IP_PER_MINUTE=100000 QUANTDESK_RATE_LIMIT_PER_MINUTE=100000
"$bin" migrate >/dev/null
"$bin" serve --listen "127.0.0.1:$port" --no-workers >"$work/stdout.log" 2>"$work/server.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 120); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
python3 .ci/security_e2e_accounts.py "http://127.0.0.1:$port" "$work/mailbox" "$bin" || { tail -20 "$work/server.log"; exit 1; }
