# Shared by the bench scripts that run both binaries (source it from the repository root after
# setting OUT): the release builds of quantdesk and quantdesk-bench, unless BIN and BENCH_BIN name
# builds to measure (the CI smoke run gives the debug ones), in $bin and $bench_bin; $OUT made;
# `say` prints a line and appends it to $OUT/results.txt (emptied here).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${BIN:-}" ] || [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -q -p quantdesk -p quantdesk-bench
fi
bin=$(realpath "${BIN:-$CARGO_TARGET_DIR/release/quantdesk}")
bench_bin=$(realpath "${BENCH_BIN:-$CARGO_TARGET_DIR/release/quantdesk-bench}")
mkdir -p "$OUT"
results=$OUT/results.txt
: >"$results"
say() { echo "$*" | tee -a "$results"; }
