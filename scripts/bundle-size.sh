#!/usr/bin/env bash
# Prints the size of the release bundle in dist/ (raw and gzip -9), so that
# every change can be compared with the last one.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT/dist"
total_raw=0
total_gz=0
printf '%-8s %-40s %10s %10s\n' kind file raw gzip
for file in *.wasm *.js *.css; do
  [[ -f $file ]] || continue
  raw=$(stat -c %s "$file")
  gz=$(gzip -9 -c "$file" | wc -c)
  total_raw=$((total_raw + raw))
  total_gz=$((total_gz + gz))
  printf '%-8s %-40s %10d %10d\n' "${file##*.}" "$file" "$raw" "$gz"
done
printf '%-8s %-40s %10d %10d\n' total "" "$total_raw" "$total_gz"
