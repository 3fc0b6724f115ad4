#!/usr/bin/env bash
# Runs every check and test: format, lints on both targets, native unit tests,
# browser tests of the adapters in headless Chromium, a release build, and the
# end-to-end tests that drive that build in headless Chromium.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
started=$SECONDS

"$ROOT/scripts/setup.sh"

log "format"
cargo fmt --all -- --check

log "clippy (host)"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "clippy (wasm32)"
cargo clippy -p sluice --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

log "native tests"
cargo test --workspace --locked

log "browser tests of the adapters (wasm-bindgen-test, headless Chromium)"
cargo test -p sluice --target wasm32-unknown-unknown --locked

log "release build"
trunk build --release --offline
"$ROOT/scripts/bundle-size.sh"

log "end-to-end tests (headless Chromium)"
node --test --test-concurrency=1 tests/e2e/

log "all passed in $((SECONDS - started)) s"
