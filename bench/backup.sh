#!/usr/bin/env bash
# Backup and restore benchmark: the figures behind docs/operations.md's RPO and RTO. Run from the
# repository root:
#
#   bash bench/backup.sh                 # 40 symbols: a year of 1-minute bars + 5 years daily
#   SYMBOLS=10 bash bench/backup.sh      # smaller
#   BIN=… BENCH_BIN=… bash bench/backup.sh   # given builds of quantdesk and quantdesk-bench
#
# It builds release binaries, generates and imports the data into SQLite, then times: a backup of
# the SQLite database (while nothing else runs, and again while imports write), `backup --verify`,
# a restore into a fresh SQLite file, a restore into PostgreSQL ($PG_URL, a scratch database it
# creates and drops), and a backup from PostgreSQL. It checks that every archive verifies and that
# both restores back up to the same table checksums. Figures go to stdout and $OUT/results.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
SYMBOLS=${SYMBOLS:-40}
MINUTE_DAYS=${MINUTE_DAYS:-250}
DAILY_DAYS=${DAILY_DAYS:-1250}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
OUT=${OUT:-$(mktemp -d /tmp/quantdesk-backup-bench.XXXXXX)}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export QUANTDESK_LOG_LEVEL=warn
# shellcheck source=bench/lib.sh
source bench/lib.sh
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
now() { date +%s.%N; }
db="qd_backup_bench_$$"
cleanup() { psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT

say "# quantdesk backup benchmark, $(date -u +%FT%TZ), $(nproc) cores"
"$bench_bin" data "$OUT/data" "$SYMBOLS" "$MINUTE_DAYS" "$DAILY_DAYS" | tee -a "$results"
export QUANTDESK_DATABASE_URL="sqlite://$OUT/a/quantdesk.db"
"$bin" import bars "$OUT/data/daily.csv" --resolution 1D >/dev/null
"$bin" import bars "$OUT/data/minute.csv" --resolution 1 >/dev/null
say "SQLite database: $(du -sh "$OUT/a" | cut -f1)"

t0=$(now); "$bin" backup --output "$OUT/a.tar" | tee -a "$results"; t1=$(now)
say "backup from SQLite: $(secs "$t0" "$t1") s, archive $(du -h "$OUT/a.tar" | cut -f1)"
t0=$(now); "$bin" backup --verify "$OUT/a.tar" | tail -1 >/dev/null; t1=$(now)
say "verify: $(secs "$t0" "$t1") s"

# A backup while an import writes: the snapshot is consistent and the writer is not blocked.
"$bin" import bars "$OUT/data/daily.csv" --resolution 1D >/dev/null &
writer=$!
t0=$(now); "$bin" backup --output "$OUT/during.tar" >/dev/null; t1=$(now)
wait "$writer"
"$bin" backup --verify "$OUT/during.tar" >/dev/null
say "backup from SQLite during an import: $(secs "$t0" "$t1") s (verified)"

t0=$(now); QUANTDESK_DATABASE_URL="sqlite://$OUT/b/quantdesk.db" "$bin" restore "$OUT/a.tar" >/dev/null; t1=$(now)
say "restore into a new SQLite file: $(secs "$t0" "$t1") s"
QUANTDESK_DATABASE_URL="sqlite://$OUT/b/quantdesk.db" "$bin" backup --output "$OUT/b.tar" >/dev/null

psql "$PG_URL" -qc "CREATE DATABASE $db" >/dev/null
pg="${PG_URL%/*}/$db"
QUANTDESK_DATABASE_URL=$pg "$bin" migrate >/dev/null
t0=$(now); QUANTDESK_DATABASE_URL=$pg "$bin" restore "$OUT/a.tar" >/dev/null; t1=$(now)
say "restore into PostgreSQL: $(secs "$t0" "$t1") s"
t0=$(now); QUANTDESK_DATABASE_URL=$pg "$bin" backup --output "$OUT/p.tar" >/dev/null; t1=$(now)
say "backup from PostgreSQL: $(secs "$t0" "$t1") s"

sums() { "$bin" backup --verify "$1" | grep sha256 | grep -v '^backups '; }
if [ "$(sums "$OUT/a.tar")" = "$(sums "$OUT/b.tar")" ] && [ "$(sums "$OUT/a.tar")" = "$(sums "$OUT/p.tar")" ]; then
  say "checksums: SQLite → SQLite and SQLite → PostgreSQL identical per table"
else
  say "checksums DIFFER"; exit 1
fi
say "results in $results"
