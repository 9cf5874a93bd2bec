#!/usr/bin/env bash
# Upload memory benchmark: does the server's memory grow with the size of CSV imports? Run from
# the repository root:
#
#   bash bench/upload.sh                          # 4 concurrent bar imports of 200 MiB each
#   SIZES_MB="50 200" bash bench/upload.sh        # one fresh server per size, to compare
#   UPLOADS=2 SIZES_MB=20 bash bench/upload.sh    # smaller
#   BIN=path/to/quantdesk bash bench/upload.sh    # measure another build (e.g. an older commit's)
#   UPLOADS=1 SIZES_MB=1 INSTRUMENT_ROWS="2000 5000" SETTLE=0 …   # the CI smoke run
#
# For each size it writes UPLOADS daily-bar CSV files of about that many MiB (valid rows:
# date,ts_code,open,high,low,close,volume; distinct symbols in each file), starts
# `quantdesk serve --demo` on a fresh SQLite database, makes an API key for the demo account, and
# posts the files to /api/v1/imports/bars all at once with curl (which streams them from disk)
# while sampling the server's VmRSS from /proc every 0.1 s. It prints the resident memory before
# the uploads, the peak while they ran, VmHWM (the process's peak since it started, demo loading
# included), and each import's answer. Then, on another fresh server, it posts two instrument
# masters one after the other: 200,000 rows (the most an HTTP import takes) and a 20 MiB one of
# about 1.5 million rows. imports_per_user is raised to UPLOADS so that every upload runs (the
# default is 2 per user); the request timeout is raised to 15 minutes. Everything it starts, it
# stops. Figures go to stdout and to $OUT/results.txt; the generated files stay in $OUT (set OUT
# to reuse them).
set -euo pipefail
cd "$(dirname "$0")/.."
UPLOADS=${UPLOADS:-4}
SIZES_MB=${SIZES_MB:-200}
# Rows of the two instrument masters (the second about 20 MiB) and the seconds to let a fresh
# server settle before the "before" figures.
INSTRUMENT_ROWS=${INSTRUMENT_ROWS:-200000 1497966}
SETTLE=${SETTLE:-3}
OUT=${OUT:-$(mktemp -d /tmp/quantdesk-upload.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
for tool in curl python3; do command -v "$tool" >/dev/null || { echo "bench/upload.sh needs $tool"; exit 1; }; done
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p quantdesk
  BIN=$CARGO_TARGET_DIR/release/quantdesk
fi
bin=$(realpath "$BIN")
mkdir -p "$OUT"
results=$OUT/results.txt
: >"$results"
say() { echo "$*" | tee -a "$results"; }
say "# quantdesk upload memory benchmark, $(date -u +%FT%TZ), $(nproc) cores, $bin"

# bars FILE MIB OFFSET: daily bars, 3,000 days per symbol, as many symbols as make MIB MiB.
bars() {
  python3 - "$1" "$2" "$3" <<'PY'
import datetime, sys
path, mib, offset = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
days = [(datetime.date(1995, 1, 2) + datetime.timedelta(d)).isoformat() for d in range(3000)]
target, size, sym = mib * 1024 * 1024, 0, 0
with open(path, "w") as f:
    f.write("date,ts_code,open,high,low,close,volume\n")
    while size < target:
        code = f"{600000 + offset + sym:06d}.SH"
        base = 5 + sym % 50
        chunk = "".join(
            f"{d},{code},{base + (i % 7) / 10:.2f},{base + 1 + (i % 7) / 10:.2f},{base - 1 + (i % 7) / 10:.2f},"
            f"{base + (i % 5) / 10:.2f},{100000 + i}\n"
            for i, d in enumerate(days)
        )
        f.write(chunk)
        size += len(chunk)
        sym += 1
PY
}

# instruments FILE ROWS: an instrument master of ROWS minimal rows.
instruments() {
  python3 - "$1" "$2" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("ts_code,name\n")
    f.writelines(f"A{n:07d}.SH,n\n" for n in range(rows))
PY
}

mib() { awk '{printf "%.0f", $1 / 1024}' <<<"$1"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
file_mib() { awk '{printf "%.1f", $1 / 1048576}' <<<"$(stat -c %s "$1")"; }

pid=
sampler=
cleanup() {
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

start_server() { # start_server NAME: a fresh database, serve --demo, an API key in $token
  rm -rf "$OUT/db" && mkdir -p "$OUT/db"
  export QUANTDESK_DATABASE_URL="sqlite://$OUT/db/quantdesk.db" QUANTDESK_MAILBOX_DIR="$OUT/db/mail"
  export QUANTDESK_LOG_LEVEL=warn QUANTDESK_REQUEST_TIMEOUT_SECS=900 QUANTDESK_IMPORTS_PER_USER=$UPLOADS
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  "$bin" serve --demo --listen "127.0.0.1:$port" >"$OUT/server-$1.out" 2>"$OUT/server-$1.log" &
  pid=$!
  for _ in $(seq 1 240); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "$base/healthz" >/dev/null || { cat "$OUT/server-$1.log"; exit 1; }
  token=$("$bin" key create --email demo@quantdesk.local --name upload-bench --scopes read,jobs 2>/dev/null)
  # Let the demo loading and the start settle, then take the "before" figures.
  sleep "$SETTLE"
  rss_before=$(status_kb "$pid" VmRSS)
  say "server before the uploads: VmRSS $(mib "$rss_before") MiB, VmHWM $(mib "$(status_kb "$pid" VmHWM)") MiB"
}

stop_server() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

start_sampling() { # start_sampling FILE
  (while kill -0 "$pid" 2>/dev/null; do status_kb "$pid" VmRSS; sleep 0.1; done) >"$1" 2>/dev/null &
  sampler=$!
}

stop_sampling() { # stop_sampling FILE: prints the peak
  sleep 0.5
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sampler=
  local peak
  peak=$(sort -n "$1" | tail -1)
  say "peak VmRSS: $(mib "$peak") MiB ($(wc -l <"$1") samples), $(mib $((peak - rss_before))) MiB above before; VmHWM $(mib "$(status_kb "$pid" VmHWM)") MiB, VmRSS now $(mib "$(status_kb "$pid" VmRSS)") MiB"
}

post() { # post ENDPOINT FILE ANSWER [FIELD...]: prints "STATUS SECONDS"
  local endpoint=$1 file=$2 answer=$3
  shift 3
  local fields=()
  for f in "$@"; do fields+=(-F "$f"); done
  curl -sS -o "$answer" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $token" \
    "${fields[@]}" -F "file=@$file;type=text/csv" "$base/api/v1/imports/$endpoint"
}

for size in $SIZES_MB; do
  say ""
  say "## $UPLOADS concurrent bar imports of $size MiB"
  for i in $(seq 1 "$UPLOADS"); do
    f=$OUT/bars-$size-$i.csv
    [ -s "$f" ] || bars "$f" "$size" $(((i - 1) * 2000))
  done
  say "files: $(file_mib "$OUT/bars-$size-1.csv") MiB each, $(($(wc -l <"$OUT/bars-$size-1.csv") - 1)) rows each"
  start_server "bars-$size"
  start_sampling "$OUT/rss-bars-$size.txt"
  curls=()
  for i in $(seq 1 "$UPLOADS"); do
    post bars "$OUT/bars-$size-$i.csv" "$OUT/answer-$size-$i.json" resolution=1D >"$OUT/status-$size-$i.txt" &
    curls+=($!)
  done
  for c in "${curls[@]}"; do wait "$c" || true; done
  stop_sampling "$OUT/rss-bars-$size.txt"
  for i in $(seq 1 "$UPLOADS"); do
    say "  upload $i: HTTP $(cat "$OUT/status-$size-$i.txt") s: $(head -c 300 "$OUT/answer-$size-$i.json")"
  done
  stop_server
done

say ""
say "## instrument masters, one after the other"
start_server instruments
for rows in $INSTRUMENT_ROWS; do
  name=$rows
  f=$OUT/instruments-$name.csv
  [ -s "$f" ] || instruments "$f" "$rows"
  start_sampling "$OUT/rss-instruments-$name.txt"
  status=$(post instruments "$f" "$OUT/answer-instruments-$name.json")
  say "$(file_mib "$f") MiB, $(($(wc -l <"$f") - 1)) rows: HTTP $status s: $(head -c 200 "$OUT/answer-instruments-$name.json")"
  stop_sampling "$OUT/rss-instruments-$name.txt"
done
stop_server
say ""
say "results in $results"
