#!/usr/bin/env bash
# The fault soak: 10,000 events through the release build with faults in the
# gateway and the demo agent, reloads, a second tab, a gateway restart, a
# logout, a revoked session and Realtime's socket dropped three times, signed
# in as an operator whose access tokens live 20 s; then a Supabase Queue of
# 3,000 messages drained by operators that join and leave, both live
# (Realtime on). The agent runs in a process of its own so the restart
# keeps its tally. Exits non-zero if any event or message is lost or
# dead-lettered without cause, on any page error, or on an event done twice
# that no reload, close or cut explains (tests/bench/verdict.mjs);
# SOAK_INJECT_DUPLICATE=1 adds such a duplicate, to see it fail.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh

log "release build"
trunk build --release --offline
export SLUICE_STACK_PROFILE=release
cargo build --quiet --locked --release -p localstack

scripts/backend.sh --stop
# Signed in as the stack's operator with 20 s access tokens: some 30
# refreshes an hour of soak, across a gateway restart and a revocation.
scripts/backend.sh --detach --serve gateway --generate-per-second 0 --jwt-expiry-seconds 20
target/release/sluice-stack --serve agent > "$ROOT/.stack/agent.log" 2>&1 &
agent_pid=$!
trap 'kill $agent_pid 2>/dev/null; scripts/backend.sh --stop' EXIT
for _ in $(seq 1 50); do
  curl -sf "${SLUICE_AGENT_URL:-http://127.0.0.1:54330}/tally" > /dev/null && break
  sleep 0.2
done
log "soaking (several minutes)"
node tests/bench/soak.mjs
log "queue soak: operators joining and leaving one queue"
node tests/bench/soak_queue.mjs
