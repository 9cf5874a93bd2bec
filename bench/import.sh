#!/usr/bin/env bash
# Import into SQLite against SQLite's own `.import` of the same CSV, in one run (issue 22, item 6).
# From the repository root:
#
#   bash bench/import.sh                          # 100 symbols × 250 days of 1-minute bars (6 M rows)
#   SYMBOLS=20 ROUNDS=3 bash bench/import.sh      # smaller, best of 3
#   BIN=… BENCH_BIN=… SYMBOLS=2 MINUTE_DAYS=2 ROUNDS=1 bash bench/import.sh   # the CI smoke run
#
# It builds the release binaries (unless BIN and BENCH_BIN are given), writes the one-minute file
# of bench/udf.sh with `quantdesk-bench data` (datetime,ts_code,open,high,low,close,volume), and
# times, best of ROUNDS, each into a fresh database file:
#   - `quantdesk import bars minute.csv --resolution 1` (parse, validate, write: all-or-nothing);
#   - the ceiling, Debian's sqlite3 CLI (installed with apt if missing) in WAL mode with
#     synchronous=NORMAL as quantdesk opens it: `.import` of the same file into a table of its
#     columns, then `INSERT INTO bars … SELECT` of those rows into quantdesk's own bars schema (the
#     local time read as Asia/Shanghai, a fixed +08:00), in one transaction.
# Figures (rows/s and the ratio) go to stdout and $OUT/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
SYMBOLS=${SYMBOLS:-100}
MINUTE_DAYS=${MINUTE_DAYS:-250}
ROUNDS=${ROUNDS:-1}
OUT=${OUT:-$(mktemp -d /tmp/quantdesk-import-bench.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export QUANTDESK_LOG_LEVEL=warn
if ! command -v sqlite3 >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends sqlite3 >/dev/null
fi
# shellcheck source=bench/lib.sh
source bench/lib.sh

say "# quantdesk import benchmark, $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(sqlite3 --version | cut -d' ' -f1-2)"
"$bench_bin" data "$OUT/data" "$SYMBOLS" "$MINUTE_DAYS" "$MINUTE_DAYS" >/dev/null
file=$OUT/data/minute.csv
rows=$(($(wc -l <"$file") - 1))
say "file: $rows one-minute rows of $SYMBOLS symbols, $(stat -c %s "$file") bytes"

now() { date +%s%N; }
rate() { awk -v n="$rows" -v ns="$1" 'BEGIN { printf "%.3f s = %.2f M rows/s", ns / 1e9, n / (ns / 1e9) / 1e6 }'; }
best_q="" best_s=""
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$OUT/q" "$OUT/s" && mkdir -p "$OUT/q" "$OUT/s"
  export QUANTDESK_DATABASE_URL="sqlite://$OUT/q/quantdesk.db"
  "$bin" migrate >/dev/null
  t0=$(now)
  "$bin" import bars "$file" --resolution 1 >"$OUT/import.txt"
  t1=$(now)
  q=$((t1 - t0))
  # The same schema for the ceiling: a freshly migrated quantdesk database.
  QUANTDESK_DATABASE_URL="sqlite://$OUT/s/sqlite.db" "$bin" migrate >/dev/null
  sqlite3 "$OUT/s/sqlite.db" "PRAGMA journal_mode=WAL;" >/dev/null
  t0=$(now)
  sqlite3 "$OUT/s/sqlite.db" <<SQL >/dev/null
PRAGMA synchronous=NORMAL;
PRAGMA cache_size=-65536;
PRAGMA temp_store=memory;
BEGIN;
CREATE TEMP TABLE csv (datetime TEXT, ts_code TEXT, open REAL, high REAL, low REAL, close REAL, volume REAL);
.import --csv --skip 1 $file csv
INSERT INTO series (symbol, resolution, first_ts, last_ts, bar_count)
  SELECT ts_code, '1', 0, 0, 0 FROM csv GROUP BY ts_code;
INSERT INTO bars (series_id, ts, open, high, low, close, volume, amount)
  SELECT s.id, unixepoch(c.datetime, '-8 hours'), c.open, c.high, c.low, c.close, c.volume, 0
  FROM csv c JOIN series s ON s.symbol = c.ts_code AND s.resolution = '1';
COMMIT;
SQL
  t1=$(now)
  s=$((t1 - t0))
  n=$(sqlite3 "$OUT/s/sqlite.db" "SELECT count(*) FROM bars")
  m=$(sqlite3 "$OUT/q/quantdesk.db" "SELECT count(*) FROM bars")
  [ "$n" = "$rows" ] && [ "$m" = "$rows" ] || { say "row counts differ: file $rows, quantdesk $m, sqlite3 $n"; exit 1; }
  say "round $round: quantdesk import $(rate "$q"); sqlite3 .import + INSERT … SELECT $(rate "$s")"
  if [ -z "$best_q" ] || [ "$q" -lt "$best_q" ]; then best_q=$q; fi
  if [ -z "$best_s" ] || [ "$s" -lt "$best_s" ]; then best_s=$s; fi
done
say "$(tail -1 "$OUT/import.txt")"
say "best: quantdesk import bars $(rate "$best_q")"
say "best: sqlite3 .import ceiling $(rate "$best_s")"
say "quantdesk / ceiling: $(awk -v q="$best_q" -v s="$best_s" 'BEGIN { printf "%.2f", s / q }') of the ceiling's rate"
say "results in $results"
