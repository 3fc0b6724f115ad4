#!/usr/bin/env bash
# Runs every check and test: format, lints on both targets, native unit tests,
# browser tests of the adapters in headless Chromium, a release build, contract
# tests of the local back end, and the end-to-end tests that drive the build
# in headless Chromium against that back end.
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

log "the soaks' verdict on made-up records (node)"
node --test tests/bench/verdict.test.mjs

log "browser tests of the adapters (wasm-bindgen-test, headless Chromium)"
cargo test -p sluice --target wasm32-unknown-unknown --locked

log "release build"
trunk build --release --offline
"$ROOT/scripts/bundle-size.sh"

log "starting the local back end (PostgreSQL, gateway, demo agent, generator)"
"$ROOT/scripts/backend.sh" --detach
trap '"$ROOT/scripts/backend.sh" --stop' EXIT

log "contract tests of the gateway, Realtime and the demo agent (real HTTP, real PostgreSQL)"
# Node 20's WebSocket (Realtime's tests, and supabase-js's realtime client)
# is behind a flag; later versions accept it and have it on anyway.
NODE_OPTIONS=--experimental-websocket node --test --test-concurrency=1 tests/contract/

log "end-to-end tests (headless Chromium)"
node --test --test-concurrency=1 tests/e2e/

log "all passed in $((SECONDS - started)) s"
