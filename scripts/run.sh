#!/usr/bin/env bash
# Starts Sluice on the embedded local stack: PostgreSQL with the four seeded
# tables, two Supabase Queues (pgmq) and a generator, the Supabase-compatible
# gateway (REST and Auth, with one operator user) on 127.0.0.1:54321,
# the demo agent on 127.0.0.1:54330, and the app's release build served by
# Trunk on http://127.0.0.1:8080. Ctrl-C stops everything.
# Extra arguments go to the back end (see `scripts/backend.sh` and docs/local-stack.md).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"

"$ROOT/scripts/backend.sh" --detach "$@"
trap '"$ROOT/scripts/backend.sh" --stop' EXIT
# The project URL, the keys and the operator the stack printed, then its
# readiness line. The stack creates (or keeps) its operator at each start:
# a confirmed Auth user whose app_metadata marks it an operator
# (--operator-email, --operator-password; docs/local-stack.md).
sed -n '/API URL/,/sluice-stack ready/p' "$ROOT/.stack/backend.log"
log "open http://127.0.0.1:8080 and log in with the API URL, the anon (or publishable) key and the operator's email and password above (Ctrl-C stops everything)"
trunk serve --release --offline
