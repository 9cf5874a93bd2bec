#!/usr/bin/env bash
# Availability under a burst of CPU-heavy requests. Run from the repository root:
#
#   bash bench/availability.sh                        # builds the release binary and measures it
#   BIN=/path/to/quantdesk bash bench/availability.sh # measures another build (an older one)
#   REQUESTS=20 CONCURRENCY=2 IDLE=0.3 BIN=… bash bench/availability.sh   # the CI smoke run
#
# It starts `quantdesk serve --demo` (release build, SQLite in a fresh folder, the demo market)
# with the request rate limits lifted (LIFT_RATE_LIMITS=0 keeps the defaults: 600 a minute per
# user), so that the Chan requests reach the analysis instead of being answered 429 by the
# limiter, and creates a read-only API key for the demo account. After a
# warm-up pass (each symbol and resolution once, so the block cache holds the bars) it runs
# bench/availability.py: /healthz sampled every 10 ms for 3 s with nothing else running, then
# REQUESTS (2,000) `GET /api/v1/chan/{symbol}?resolution=R` (the seven demo symbols at 1, 5, 30
# and 1D) over CONCURRENCY (50) keep-alive connections while /healthz is sampled every 10 ms on a
# connection of its own. It prints the /healthz p50/p99 of both phases and how the Chan requests
# were answered (200, 429, 503). Three rounds: plain answers; gzip-compressed ones (as browsers
# ask); and gzip with every refusal sent again after its Retry-After, so that the server computes
# all REQUESTS analyses while /healthz is sampled. The CPU pool's size comes from the usual configuration
# (QUANTDESK_CPU_WORKERS, QUANTDESK_CPU_QUEUE in the environment). Everything it starts, it stops.
# Figures go to stdout and to $OUT/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-2000}
CONCURRENCY=${CONCURRENCY:-50}
IDLE=${IDLE:-3}
OUT=${OUT:-$(mktemp -d /tmp/quantdesk-avail.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p quantdesk
  BIN=$CARGO_TARGET_DIR/release/quantdesk
fi
bin=$(realpath "$BIN")
mkdir -p "$OUT"
rm -rf "$OUT/db" "$OUT/mailbox"
results=$OUT/results.txt
: >"$results"
say() { echo "$*" | tee -a "$results"; }

export QUANTDESK_DATABASE_URL="sqlite://$OUT/db/quantdesk.db"
export QUANTDESK_MAILBOX_DIR=$OUT/mailbox
export QUANTDESK_LOG_LEVEL=warn
if [ "${LIFT_RATE_LIMITS:-1}" = 1 ]; then
  export QUANTDESK_RATE_LIMIT_PER_MINUTE=1000000000 QUANTDESK_RATE_LIMIT_IP_PER_MINUTE=1000000000
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$bin" serve --demo --listen "127.0.0.1:$port" >"$OUT/stdout.log" 2>"$OUT/server.log" &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 240); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "$base/healthz" >/dev/null || { cat "$OUT/server.log"; exit 1; }
token=$("$bin" key create --email demo@quantdesk.local --name availability-bench --scopes read --days 1 2>/dev/null)

say "# quantdesk availability benchmark, $(date -u +%FT%TZ), $(nproc) cores, $("$bin" --version 2>/dev/null || echo quantdesk)"
say "## $REQUESTS Chan requests at concurrency $CONCURRENCY; cpu_workers=${QUANTDESK_CPU_WORKERS:-default} cpu_queue=${QUANTDESK_CPU_QUEUE:-default}"
for sym in 000998.SH 600900.SH 601988.SH 000858.SZ 300059.SZ 688111.SH 600005.SH; do
  for res in 1 5 30 1D; do
    curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$base/api/v1/chan/$sym?resolution=$res"
  done
done
size=$(curl -fsS -H "Authorization: Bearer $token" "$base/api/v1/chan/000998.SH?resolution=1" | wc -c)
say "one answer (000998.SH at 1 minute): $size bytes"
say "## plain answers"
python3 bench/availability.py "$base" "$token" --requests "$REQUESTS" --concurrency "$CONCURRENCY" --idle "$IDLE" | tee -a "$results"
say "## gzip-compressed answers (Accept-Encoding: gzip, as browsers ask)"
python3 bench/availability.py "$base" "$token" --requests "$REQUESTS" --concurrency "$CONCURRENCY" --idle "$IDLE" --gzip | tee -a "$results"
say "## gzip, and every refusal sent again after its Retry-After until all $REQUESTS are answered 200"
python3 bench/availability.py "$base" "$token" --requests "$REQUESTS" --concurrency "$CONCURRENCY" --idle "$IDLE" --gzip --retry | tee -a "$results"
refused=$(curl -fsS "$base/metrics" | awk '$1=="cpu_pool_refused_total" {print $2}')
[ -n "$refused" ] && say "cpu_pool_refused_total $refused"
say "results in $results"
