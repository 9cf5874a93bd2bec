#!/usr/bin/env bash
# The crate graph's rules, checked from `cargo tree` (ARCHITECTURE.md, "Code map"):
# - pure crates (domain, indicators, Chan, backtest, and the pure crates to come) gain no I/O,
#   async, network, database or randomness dependency, however indirect;
# - the jobs runtime and the application layer never depend on the HTTP layer, nor the pages;
# - the HTTP layer never depends on the pages or the binary;
# - no crate declares a dependency it does not use (.ci/unused-deps.py).
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0
pure=(quantdesk-core quantdesk-chan quantdesk-backtest quantdesk-valuation quantdesk-regimes quantdesk-envs)
# Crates that mean I/O, async, a network, a database, a clock-free-breaking RNG or a runtime.
denied='^(tokio|tokio-[a-z-]+|futures|futures-[a-z-]+|async-trait|async-std|smol|mio|socket2|hyper|hyper-[a-z-]+|h2|axum|axum-core|tower|tower-http|reqwest|redis|sqlx|sqlx-[a-z-]+|libsqlite3-sys|rusqlite|postgres|tokio-postgres|lettre|rand|rand_core|getrandom|tempfile|notify)$'

tree() { cargo tree -p "$1" -e normal --prefix none 2>/dev/null | sed 's/ v[0-9].*//' | sort -u; }

for crate in "${pure[@]}"; do
  bad=$(tree "$crate" | grep -E "$denied" || true)
  if [ -n "$bad" ]; then
    echo "FAILED: the pure crate $crate depends on: $(echo "$bad" | tr '\n' ' ')"
    fail=1
  else
    echo "ok: $crate is pure"
  fi
done

forbid() { # forbid CRATE DEP...: CRATE must not depend (even indirectly) on any DEP
  local crate=$1
  shift
  local deps
  deps=$(tree "$crate")
  for dep in "$@"; do
    if grep -qx "$dep" <<<"$deps"; then
      echo "FAILED: $crate depends on $dep"
      fail=1
    else
      echo "ok: $crate does not depend on $dep"
    fi
  done
}
forbid quantdesk-jobs quantdesk-server quantdesk-web axum
forbid quantdesk-server quantdesk-web quantdesk
forbid quantdesk-store quantdesk-server quantdesk-jobs quantdesk-web
# The connectors talk to vendors and nothing else: no storage, no application layer.
forbid quantdesk-connectors quantdesk-store quantdesk-app quantdesk-server sqlx
# The LLM client likewise: providers come from the application layer, nothing is stored.
forbid quantdesk-llm quantdesk-store quantdesk-app quantdesk-server sqlx axum
for app in $(ls crates | grep -x 'quantdesk-app' || true); do
  forbid "$app" quantdesk-server quantdesk-web quantdesk-jobs axum
done

python3 .ci/unused-deps.py || fail=1
exit $fail
