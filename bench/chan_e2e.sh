#!/usr/bin/env bash
# Chan analysis end to end, as whole processes, against czsc on the same file in the same run
# (issue 22, item 1). From the repository root:
#
#   bash bench/chan_e2e.sh                      # 1,000,000 one-minute bars (4,167 days × 240)
#   BARS=100000 ROUNDS=5 bash bench/chan_e2e.sh # smaller, best of 5
#   BIN=… BENCH_BIN=… BARS=2000 ROUNDS=1 MISSING_PEERS=skip bash bench/chan_e2e.sh   # the CI smoke run
#
# It builds the release binaries (unless BIN and BENCH_BIN are given), writes one symbol's
# one-minute A-share bars with `quantdesk-bench data` (datetime,ts_code,open,high,low,close,volume),
# and times, best of ROUNDS each:
#   - `quantdesk chan FILE --resolution 1 --format table` (reading, analysis, the table),
#   - `quantdesk chan FILE --resolution 1 --format json` into a file (the JSON output path's rate is
#     its bytes over the difference between the two),
#   - the peer, PEER_ROUNDS (1) times: bench/chan_peer.py (czsc's CZSC over RawBars read with the
#     csv module) with $PY (default: $VENV/bin/python, a venv made with `pip install czsc` if
#     missing; MISSING_PEERS=skip skips the peer instead when czsc is not importable). Its figure is
#     reading plus analysis inside the process (importing czsc is left out, in its favour); its
#     whole process's time is printed beside it.
# It prints the times and the ratio czsc / quantdesk. Figures go to stdout and $OUT/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BARS=${BARS:-1000000}
ROUNDS=${ROUNDS:-3}
PEER_ROUNDS=${PEER_ROUNDS:-1}
VENV=${VENV:-/tmp/qd-czsc-venv}
OUT=${OUT:-$(mktemp -d /tmp/quantdesk-chan-e2e.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# shellcheck source=bench/lib.sh
source bench/lib.sh

py=${PY:-}
if [ -z "$py" ]; then
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import czsc" 2>/dev/null; then
    py=$VENV/bin/python
  elif python3 -c "import czsc" 2>/dev/null; then
    py=python3
  elif [ "${MISSING_PEERS:-}" != skip ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q czsc
    py=$VENV/bin/python
  fi
fi

say "# quantdesk chan end to end, $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# 240 bars a trading day; the generator's calendar holds somewhat fewer trading days than asked
# for, so ask for 10 % more and keep the first BARS rows.
days=$(((BARS + 239) / 240 * 11 / 10 + 10))
"$bench_bin" data "$OUT/data" 1 "$days" "$days" >/dev/null
file=$OUT/bars.csv
head -n $((BARS + 1)) "$OUT/data/minute.csv" >"$file"
rm -rf "$OUT/data"
rows=$(($(wc -l <"$file") - 1))
say "file: $rows one-minute bars of 600000.SH, $(stat -c %s "$file") bytes"

# best SECONDS of ROUNDS runs of a command (stdout to $OUT/stdout)
best() {
  local b="" t0 t1 s
  for _ in $(seq 1 "$ROUNDS"); do
    t0=$(date +%s%N)
    "$@" >"$OUT/stdout"
    t1=$(date +%s%N)
    s=$(((t1 - t0) / 1000))
    if [ -z "$b" ] || [ "$s" -lt "$b" ]; then b=$s; fi
  done
  awk -v us="$b" 'BEGIN { printf "%.3f", us / 1e6 }'
}

table=$(best "$bin" chan "$file" --resolution 1 --format table)
head -1 "$OUT/stdout" | tee -a "$results"
json=$(best "$bin" chan "$file" --resolution 1 --format json)
json_bytes=$(stat -c %s "$OUT/stdout")
say "quantdesk chan --format table: $table s ($(awk -v n="$rows" -v s="$table" 'BEGIN { printf "%.2f", n / s / 1e6 }') M bars/s as a whole process)"
say "quantdesk chan --format json:  $json s, $json_bytes bytes; the JSON output path (json − table): $(awk -v b="$json_bytes" -v j="$json" -v t="$table" 'BEGIN { d = j - t; if (d <= 0) print "too short to tell"; else printf "%.3f s = %.0f MB/s", d, b / d / 1e6 }')"

if [ -z "$py" ]; then
  say "czsc peer skipped: czsc is not importable (MISSING_PEERS=skip); the quantdesk side ran"
else
  say "peer: Python $($py -c 'import sys; print(sys.version.split()[0])'), czsc $($py -c 'import czsc; print(czsc.__version__)')"
  whole=$(ROUNDS=$PEER_ROUNDS best "$py" bench/chan_peer.py "$file")
  grep -v '^seconds' "$OUT/stdout" | tee -a "$results"
  peer=$(awk '$1 == "seconds" { print $2 }' "$OUT/stdout")
  say "czsc: reading and analysis $peer s (the whole process, importing czsc included: $whole s)"
  say "ratio czsc / quantdesk, end to end: $(awk -v p="$peer" -v q="$table" 'BEGIN { printf "%.1f", p / q }')× (table; against czsc's whole process $(awk -v p="$whole" -v q="$table" 'BEGIN { printf "%.1f", p / q }')×)"
fi
say "results in $results"
