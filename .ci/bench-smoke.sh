#!/usr/bin/env bash
# Every bench command of docs/benchmarks.md, run once in a tiny configuration so that no bench can
# rot unnoticed (issue 22, item 8). No figure is asserted: a bench fails this step only when its
# command fails. It reuses the debug builds CI has made (BIN=, BENCH_BIN=, `cargo test --bench`
# instead of `cargo bench`, which would build everything again in release). Peers that need Python
# packages this machine lacks are skipped, each with a line saying so; the quantdesk side runs.
#
#   bash .ci/bench-smoke.sh [path/to/debug/quantdesk]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/quantdesk-target}
export QUANTDESK_FIXTURES=${QUANTDESK_FIXTURES:-$PWD/../shared/fixtures}
cargo build -q -p quantdesk -p quantdesk-bench
# The criterion benches, built once in the test profile (each runs once below, as a test).
cargo test -q --no-run -p quantdesk-chan -p quantdesk-valuation -p quantdesk-regimes -p quantdesk-envs --benches
export BIN=${1:-$CARGO_TARGET_DIR/debug/quantdesk}
export BENCH_BIN=$CARGO_TARGET_DIR/debug/quantdesk-bench
export MISSING_PEERS=skip
work=$(mktemp -d /tmp/quantdesk-bench-smoke.XXXXXX)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
failed=()

# run NAME COMMAND...: runs a bench command with its output in $work/NAME.log, shown on failure.
run() {
  local name=$1 t0
  shift
  t0=$(date +%s)
  if (export OUT="$work/$name"; "$@") >"$work/$name.log" 2>&1; then
    echo "ok    $name ($(($(date +%s) - t0)) s)"
    grep -i "skipped" "$work/$name.log" | sed 's/^/      /' || true
  else
    echo "FAIL  $name ($(($(date +%s) - t0)) s): $*"
    tail -40 "$work/$name.log" | sed 's/^/      /'
    failed+=("$name")
  fi
}

run udf env SYMBOLS=2 MINUTE_DAYS=2 DAILY_DAYS=1100 DURATION=1s WARMUP=0 CONNECTIONS=4 bash bench/udf.sh
run sync env SYMBOLS=2 YEARS=1 bash bench/sync.sh
run valuation-model cargo test -q -p quantdesk-valuation --bench valuation
run valuation-job "$BENCH_BIN" valuation --symbols 3
# The reference engine's files are fetched by hand (docs/benchmarks.md); REF names them.
if [ -n "${REF:-}" ] && [ -d "$REF" ] && python3 -c "import numpy, pandas, pydantic" 2>/dev/null; then
  run valuation-peer env RUNS=1 GRID_RUNS=1 FIXTURES="$QUANTDESK_FIXTURES" python3 bench/valuation_peer.py
else
  echo "skip  valuation-peer: the reference engine's files (REF) or numpy/pandas/pydantic are missing; quantdesk's side ran above"
fi
run regimes-labeling cargo test -q -p quantdesk-regimes --bench labeling
run regimes-dynamics cargo test -q -p quantdesk-regimes --bench dynamics
run chan-engine cargo test -q -p quantdesk-chan --bench chan
run chan-e2e env BARS=2000 ROUNDS=1 bash bench/chan_e2e.sh
run import env SYMBOLS=2 MINUTE_DAYS=2 ROUNDS=1 bash bench/import.sh
run backtest "$BENCH_BIN" backtest --bars 20000 --sweep-bars 2000
run backup env SYMBOLS=1 MINUTE_DAYS=2 DAILY_DAYS=20 bash bench/backup.sh
run upload env UPLOADS=1 SIZES_MB=1 INSTRUMENT_ROWS="2000 5000" SETTLE=0 bash bench/upload.sh
run availability env REQUESTS=20 CONCURRENCY=2 IDLE=0.3 bash bench/availability.sh
run page env RUNS=1 bash bench/page.sh
run envs cargo test -q -p quantdesk-envs --bench envs
run spends "$BENCH_BIN" spends --url "${QUANTDESK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}" --clients 4 --spends 200 --accounts 2

echo "bench smoke: $(($(date +%s) - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench commands that failed: ${failed[*]}"
  exit 1
fi
