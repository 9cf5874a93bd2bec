#!/usr/bin/env bash
# Datafeed and import benchmark. Run from the repository root:
#
#   bash bench/udf.sh            # full size: 100 symbols, a year of 1-minute bars, 5 years daily
#   SYMBOLS=10 bash bench/udf.sh # smaller
#   BIN=… BENCH_BIN=… bash bench/udf.sh   # measure given builds of quantdesk and quantdesk-bench
#   SYMBOLS=2 MINUTE_DAYS=2 DAILY_DAYS=20 DURATION=1s WARMUP=0 …   # the CI smoke run (.ci/bench-smoke.sh)
#
# It installs wrk and nginx (Debian) if missing, builds release binaries, generates the data,
# imports it (reporting rows/s), starts quantdesk, and drives /udf/history with wrk at 64
# connections, after a 2 s warm-up, for a 1,000-bar daily window and a 240-bar 1-minute window:
# with no caches (every request reads SQLite; symbols rotate), with the block cache only (symbols
# rotate), and with the default caches (one URL). Then it serves the very same
# response bodies as static files from nginx on the same machine, as the ceiling. Everything it
# starts, it stops. Figures go to stdout and to $OUT/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
SYMBOLS=${SYMBOLS:-100}
MINUTE_DAYS=${MINUTE_DAYS:-250}
DAILY_DAYS=${DAILY_DAYS:-1250}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
OUT=${OUT:-$(mktemp -d /tmp/quantdesk-bench.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}

if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk nginx >/dev/null
fi
# shellcheck source=bench/lib.sh
source bench/lib.sh

say "# quantdesk datafeed benchmark, $(date -u +%FT%TZ), $(nproc) cores"
export QUANTDESK_DATABASE_URL="sqlite://$OUT/db/quantdesk.db"
export QUANTDESK_LOG_LEVEL=warn
if [ "${REUSE:-0}" = 1 ] && [ -f "$OUT/db/quantdesk.db" ]; then
  say "## reusing the imported data in $OUT"
else
  rm -rf "$OUT/db"
  "$bench_bin" data "$OUT/data" "$SYMBOLS" "$MINUTE_DAYS" "$DAILY_DAYS" | tee -a "$results"
  say "## import"
  "$bin" import bars "$OUT/data/daily.csv" --resolution 1D | tee -a "$results"
  "$bin" import bars "$OUT/data/minute.csv" --resolution 1 | tee -a "$results"
  say "database size: $(du -sh "$OUT/db" | cut -f1)"
fi

# Every request carries an API key, as a client's would (the key check is part of the cost);
# the rate limits are lifted so that they do not cut the load short.
QUANTDESK_USER_PASSWORD=bench-udf-pw-1 "$bin" user create --email bench@quantdesk.test --role viewer --reset >/dev/null
token=$("$bin" key create --email bench@quantdesk.test --name udf-bench --scopes read --days 1 2>/dev/null)
export QUANTDESK_RATE_LIMIT_PER_MINUTE=1000000000 QUANTDESK_RATE_LIMIT_IP_PER_MINUTE=1000000000
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start_server() { # start_server RESPONSE_CACHE_TTL BAR_CACHE_MB
  QUANTDESK_CACHE_TTL_SECS=$1 QUANTDESK_BAR_CACHE_MB=$2 "$bin" serve --listen "127.0.0.1:$port" >"$OUT/server.log" 2>&1 &
  server=$!
  pids+=("$server")
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return; sleep 0.2; done
  echo "server did not start"; cat "$OUT/server.log"; exit 1
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; }

far=4102444800
daily_q="resolution=1D&to=$far&countback=1000"
minute_q="resolution=1&to=$far&countback=240"
# wrk script that rotates symbols, so the cache (if any) cannot serve the same answer twice in a row
cat >"$OUT/rotate.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  local sym = string.format("%06d.SH", 600000 + (n % $SYMBOLS))
  return wrk.format("GET", "/udf/history?symbol=" .. sym .. "&" .. os.getenv("QUERY"))
end
LUA

run_wrk() { # run_wrk LABEL URL [SCRIPT]
  local label=$1 url=$2 script=${3:-}
  local args=(-t2 "-c$CONNECTIONS" "-d$DURATION" --latency -H "Authorization: Bearer $token")
  [ -n "$script" ] && args+=(-s "$script")
  # Warm up (caches, connections) for $WARMUP (2 s; 0 skips it), then measure.
  [ "$WARMUP" = 0 ] || wrk -t2 "-c$CONNECTIONS" "-d$WARMUP" -H "Authorization: Bearer $token" ${script:+-s "$script"} "$url" >/dev/null 2>&1
  wrk "${args[@]}" "$url" >"$OUT/wrk.txt" 2>&1
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$OUT/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$OUT/wrk.txt")
  errors=$(grep -E "Non-2xx|Socket errors" "$OUT/wrk.txt" | tr '\n' ' ' || true)
  say "$(printf '%-44s %10s req/s   p50 %8s   p99 %8s   %s' "$label" "$rps" "$p50" "$p99" "$errors")"
}

say "## /udf/history at $CONNECTIONS connections, $DURATION each"
start_server 0 0
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/udf/history?symbol=600000.SH&$daily_q" >"$OUT/daily.json"
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/udf/history?symbol=600000.SH&$minute_q" >"$OUT/minute.json"
python3 - "$OUT/daily.json" "$OUT/minute.json" <<'PY'
import json, sys
for p, n in zip(sys.argv[1:], (1000, 240)):
    v = json.load(open(p)); assert v["s"] == "ok" and len(v["t"]) == n, (p, len(v.get("t", [])))
PY
say "response sizes: daily $(stat -c %s "$OUT/daily.json") B, minute $(stat -c %s "$OUT/minute.json") B"
QUERY=$daily_q run_wrk "1D x1000, no caches, rotating symbols" "http://127.0.0.1:$port" "$OUT/rotate.lua"
QUERY=$minute_q run_wrk "1m x240, no caches, rotating symbols" "http://127.0.0.1:$port" "$OUT/rotate.lua"
stop_server
start_server 0 256
QUERY=$daily_q run_wrk "1D x1000, block cache, rotating symbols" "http://127.0.0.1:$port" "$OUT/rotate.lua"
QUERY=$minute_q run_wrk "1m x240, block cache, rotating symbols" "http://127.0.0.1:$port" "$OUT/rotate.lua"
stop_server
start_server 2 256
QUERY=$daily_q run_wrk "1D x1000, both caches (default), rotating" "http://127.0.0.1:$port" "$OUT/rotate.lua"
QUERY=$minute_q run_wrk "1m x240, both caches (default), rotating" "http://127.0.0.1:$port" "$OUT/rotate.lua"
run_wrk "1D x1000, both caches (default), one URL" "http://127.0.0.1:$port/udf/history?symbol=600000.SH&$daily_q"
run_wrk "1m x240, both caches (default), one URL" "http://127.0.0.1:$port/udf/history?symbol=600000.SH&$minute_q"
stop_server

mkdir -p "$OUT/www"
cp "$OUT/daily.json" "$OUT/minute.json" "$OUT/www/"
# nginx's workers run as another user: a mktemp folder (0700) would answer 403 to every request.
chmod o+rx "$OUT" "$OUT/www" && chmod o+r "$OUT/www/"*
cat >"$OUT/nginx.conf" <<NGX
worker_processes auto;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  default_type application/json;
  server { listen 127.0.0.1:$nport; root $OUT/www; }
}
NGX
nginx -c "$OUT/nginx.conf" -p "$OUT"
for _ in $(seq 1 50); do [ -s "$OUT/nginx.pid" ] && break; sleep 0.1; done
run_wrk "nginx static, same 1D x1000 body" "http://127.0.0.1:$nport/daily.json"
run_wrk "nginx static, same 1m x240 body" "http://127.0.0.1:$nport/minute.json"
nginx -c "$OUT/nginx.conf" -p "$OUT" -s stop
say "results in $results"
