#!/usr/bin/env bash
# The benchmark: builds the release bundle and the persistence probe, starts
# the local back end (no generator, so the figures are the app's alone), and
# prints its figures from headless Chromium, each row as it is measured. It
# reports; it asserts nothing, but exits non-zero if a row could not be
# measured (that row says why). See docs/performance.md.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh

log "release build"
trunk build --release --offline
log "persistence probe (Sluice's ledger store, built for the browser)"
cargo build --quiet --locked --release --target wasm32-unknown-unknown --example persistence_bench
wasm-bindgen --target web --no-typescript --out-dir target/bench-pkg \
  target/wasm32-unknown-unknown/release/examples/persistence_bench.wasm

scripts/backend.sh --stop
SLUICE_STACK_PROFILE=release scripts/backend.sh --detach --generate-per-second 0
trap 'scripts/backend.sh --stop' EXIT
log "measuring (about 5 minutes)"
node tests/bench/bench.mjs
