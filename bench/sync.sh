#!/usr/bin/env bash
# Sync benchmark (issue 15's "Speed"): daily bars from the loopback TuShare fake into SQLite, end to
# end and by part, against Python peers hitting the same fake in the same run. From the repository
# root:
#
#   bash bench/sync.sh                         # 300 symbols × 20 years (about 1.47 M daily bars)
#   SYMBOLS=50 YEARS=5 bash bench/sync.sh      # smaller
#   ROUNDS=2 bash bench/sync.sh                # end to end and the peers twice, best of each
#   QUANTDESK_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bash bench/sync.sh
#                                              # also end to end into PostgreSQL (a fresh schema)
#   BENCH_BIN=… MISSING_PEERS=skip SYMBOLS=2 YEARS=1 bash bench/sync.sh
#                                              # the CI smoke run: a given build, peers whose Python
#                                              # packages are missing are skipped (said on a line)
#
# It builds the release benchmark binary, makes a venv with pandas for the pandas peer unless
# `python3 -c "import pandas"` works already ($VENV, kept between runs), and runs
# `quantdesk-bench sync` with two peers: bench/sync_peer.py (requests + json + sqlite3) and the
# same with `--mode pandas`. Output: the phase table (markdown), then the ratios quantdesk/peer.
set -euo pipefail
cd "$(dirname "$0")/.."
SYMBOLS=${SYMBOLS:-300}
YEARS=${YEARS:-20}
ROUNDS=${ROUNDS:-1}
OUT=${OUT:-$(mktemp -d /tmp/quantdesk-sync-bench.XXXXXX)}
VENV=${VENV:-/tmp/qd-sync-venv}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${BENCH_BIN:-}" ]; then
    cargo build --release -q -p quantdesk-bench
    BENCH_BIN=$CARGO_TARGET_DIR/release/quantdesk-bench
fi
mkdir -p "$OUT"
peers=()
if ! python3 -c "import requests" 2>/dev/null; then
    # MISSING_PEERS=skip (the CI smoke run): measure quantdesk alone rather than fail.
    [ "${MISSING_PEERS:-}" = skip ] || { echo "the peers need python3 with requests" >&2; exit 1; }
    echo "peers skipped: python3 has no requests module (the quantdesk side still runs)"
else
    if python3 -c "import pandas" 2>/dev/null; then
        py=python3
    elif [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import pandas, requests" 2>/dev/null; then
        py=$VENV/bin/python
    elif [ "${MISSING_PEERS:-}" = skip ]; then
        py=
        echo "pandas peer skipped: no pandas in python3 or $VENV (the plain peer and quantdesk still run)"
    else
        python3 -m venv --system-site-packages "$VENV"
        "$VENV/bin/pip" install -q pandas
        py=$VENV/bin/python
    fi
    if [ -n "$py" ]; then
        echo "peers: $($py -c 'import sys, pandas, requests; print("Python", sys.version.split()[0], "pandas", pandas.__version__, "requests", requests.__version__)')"
        peers+=(--peer "$py bench/sync_peer.py --mode plain" --peer "$py bench/sync_peer.py --mode pandas")
    else
        peers+=(--peer "python3 bench/sync_peer.py --mode plain")
    fi
fi
"$BENCH_BIN" sync --symbols "$SYMBOLS" --years "$YEARS" --rounds "$ROUNDS" --dir "$OUT" ${peers[@]+"${peers[@]}"} | tee "$OUT/results.txt"
echo "results in $OUT/results.txt"
