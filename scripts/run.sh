#!/usr/bin/env bash
# Builds Sluice for release and serves it on http://127.0.0.1:8080.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
log "serving the release build on http://127.0.0.1:8080 (Ctrl-C stops)"
exec trunk serve --release --offline
