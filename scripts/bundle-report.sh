#!/usr/bin/env bash
# Where the release bundle's wasm bytes go, by crate and by the largest
# functions (docs/performance.md, "Where the bundle's bytes go").
#
# Run it after `trunk build --release --offline`. wasm-opt strips the function
# names from what dist/ ships, so the module wasm-bindgen wrote is optimised
# again as index.html asks, keeping the names (-g), and read with twiggy
# (`cargo install twiggy --locked`). The result is within 0.5 % of dist/'s
# module. A function is counted in the crate its name starts with, or for a
# blanket impl `<T as Trait>` in the trait's crate: generic code is counted
# where it is defined, not in the crate that instantiated it.
#
# Usage: scripts/bundle-report.sh [rows]     (default 15)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
rows=${1:-15}
target=${CARGO_TARGET_DIR:-$ROOT/target}
opt=$(sed -n 's/.*data-wasm-opt="\([^"]*\)".*/\1/p' index.html)
params=$(sed -n 's/.*data-wasm-opt-params="\([^"]*\)".*/\1/p' index.html)
named=$(mktemp --suffix=.wasm)
csv=$(mktemp --suffix=.csv)
items=$(mktemp)
trap 'rm -f "$named" "$csv" "$items"' EXIT
# shellcheck disable=SC2086 # params holds several flags
wasm-opt "-O$opt" $params -g "$target/wasm-bindgen/release/sluice_bg.wasm" -o "$named"
twiggy top -n 1000000 --format csv "$named" >"$csv"

# One line per item: its crate (or section), its size and its short name.
awk '
NR == 1 { next }
{
  # The last four fields are numbers; the name before them may hold commas.
  n = split($0, f, ",")
  size = f[n - 3] + 0
  name = substr($0, 1, length($0) - length(f[n - 3]) - length(f[n - 2]) - length(f[n - 1]) - length(f[n]) - 4)
  if (name ~ /^"/) { name = substr(name, 2, length(name) - 2); gsub(/""/, "\"", name) }
  if (name ~ / subsection$/) next   # the names themselves: not shipped
  if (name ~ /^data segment/) crate = "(data: strings, tables, constants)"
  else if (name ~ /^(elem|type|table|memory|global|import|export)\[|^custom section/) crate = "(wasm tables and sections)"
  else if (name ~ /^code\[/) crate = "(functions without a name)"
  else if (name ~ /^import /) crate = "(imports: names of JS functions)"
  else {
    s = name
    sub(/^[<&*]+/, "", s); sub(/^(mut |dyn |impl )+/, "", s)
    sub(/^[A-Z][A-Za-z]* as [<&]*/, "", s)
    if (s ~ /^(f32|f64|str|char|bool|[ui](8|16|32|64|128|size)|\[)[^A-Za-z0-9_]/) crate = "std, core, alloc"
    else if (s ~ /^__(wbg|wbindgen|externref)/) crate = "wasm_bindgen"
    else {
      match(s, /^[A-Za-z_][A-Za-z0-9_]*/)
      crate = substr(s, 1, RLENGTH)
      if (crate ~ /^(core|alloc|std|dlmalloc|__rustc|__multi3|compiler_builtins|main|mem(cpy|set|move|cmp))$/) crate = "std, core, alloc"
    }
  }
  gsub(/\[[0-9a-f]+\]/, "", name); sub(/::h[0-9a-f]+$/, "", name)
  printf "%s\t%d\t%s\n", crate, size, name
}' "$csv" >"$items"

total=$(awk -F'\t' '{ t += $2 } END { print t }' "$items")
share() { awk -F'\t' -v t="$total" '{ printf "%9d %5.1f%%  %s\n", $1, 100 * $1 / t, $2 }'; }
echo "wasm module without its names: $total B before gzip (twiggy top)"
echo
echo "    bytes  share  crate"
awk -F'\t' '{ b[$1] += $2 } END { for (c in b) printf "%d\t%s\n", b[c], c }' "$items" | sort -nr | head -n "$rows" | share
awk -F'\t' '$3 ~ /serde/ { s += $2 } END { printf "%d\t(of these: functions with serde in the name)\n", s }' "$items" | share
echo
echo "    bytes  share  Sluice's own functions by module (generic code they use is counted above)"
awk -F'\t' '$1 ~ /^sluice/ {
  m = $3; sub(/^</, "", m); split(m, p, "::")
  b[p[1] "::" p[2]] += $2
} END { for (k in b) printf "%d\t%s\n", b[k], k }' "$items" | sort -nr | head -n "$rows" | share
echo
echo "    bytes  share  largest functions"
awk -F'\t' '$1 !~ /^\(/ { printf "%d\t%s\n", $2, substr($3, 1, 110) }' "$items" | head -n "$rows" | share
