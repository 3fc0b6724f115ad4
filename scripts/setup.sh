#!/usr/bin/env bash
# Installs what Sluice needs to build, serve and test, from crates.io, npm and
# Debian only. Idempotent: what is already there at the right version is kept,
# so a second run takes seconds.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

# Debian: Chromium and its driver for browser tests, PostgreSQL 15 for the local stack.
missing=()
for pkg in chromium chromium-driver postgresql-15 ca-certificates; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [[ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]]; then
  log "installing trunk $TRUNK_VERSION (about 9 minutes on 2 cores)"
  cargo install --locked "trunk@$TRUNK_VERSION"
fi

# The CLI must match the wasm-bindgen crate in Cargo.lock exactly. Not
# --locked: one of its locked dependencies is missing from the registry.
wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]]; then
  log "installing wasm-bindgen-cli $wasm_bindgen_version (about 4 minutes)"
  cargo install --force "wasm-bindgen-cli@$wasm_bindgen_version"
fi

# npm: wasm-opt (binaryen), playwright-core, axe-core and Supabase's clients. Re-run only when the lock changed.
if ! cmp -s package-lock.json node_modules/.sluice-installed-lock; then
  log "installing npm packages"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.sluice-installed-lock
fi

# Everything Cargo needs for both targets, so Trunk can build --offline.
cargo fetch --locked --quiet
