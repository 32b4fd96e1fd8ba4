#!/usr/bin/env bash
# Instructions and first-level data-cache read misses per request of the in-process engine
# benchmark (engine/benches/crs.rs), counted by valgrind's callgrind inside Engine::run only
# (loading CRS is not counted). Unlike CPU time, these counts come out the same on a busy or a
# quiet machine, so a change of a few percent to the engine shows in one run, where the timed
# benchmarks on a shared VM vary by 10-20 % from minute to minute. Slow (valgrind runs the
# engine about 50 times slower): a few minutes for the default pairs.
#
# Usage: bench/instructions.sh [PAIR...]
#   PAIR is a piece of "<request> <engine>" as the crs bench names them that picks exactly one
#   pair, e.g. "args CRS" or "POST built-in". Default: the benign GETs, the
#   10 KB JSON POST and the SQLi GET with CRS, and the benign GET and JSON POST with the
#   built-in detectors.
# CRS comes from $MOAT_CRS_DIR or ../shared/crs; installs valgrind if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

if ! command -v valgrind >/dev/null; then
  echo "==> installing valgrind" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
if [ -z "${MOAT_CRS_DIR:-}" ] && [ -d "$ROOT/../shared/crs" ]; then
  export MOAT_CRS_DIR="$ROOT/../shared/crs"
fi

# The bench executable, built without running it.
BIN=$(cargo bench -p moat --bench crs --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "could not build the crs bench" >&2; exit 1; }

if [ $# -gt 0 ]; then
  PAIRS=("$@")
else
  PAIRS=("args CRS" "GET, new values each time CRS" "POST CRS" "SQLi GET CRS" "args built-in" "POST built-in")
fi

# Fewer requests where each costs more; the first (warm-up) request counts too.
requests_for() {
  case "$1" in
    *POST*) echo 100 ;;
    *upload*) echo 20 ;;
    *) echo 500 ;;
  esac
}

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "| request, engine | instructions / request | D1 read misses / request |"
echo "|---|---:|---:|"
for pair in "${PAIRS[@]}"; do
  n=$(requests_for "$pair")
  MOAT_BENCH_N=$n valgrind --tool=callgrind --cache-sim=yes \
    --toggle-collect='moat::engine::Engine::run' \
    --callgrind-out-file="$OUT/cg" "$BIN" "$pair" > "$OUT/bench" 2> "$OUT/valgrind"
  rows=$(grep '^| ' "$OUT/bench" | grep -v '^| request' || true)
  case $(printf '%s' "$rows" | grep -c .) in
    0) echo "no pair matched \"$pair\" (or CRS was not found)" >&2; continue ;;
    1) ;;
    *) echo "\"$pair\" matched more than one pair; name one" >&2; continue ;;
  esac
  label=$(echo "$rows" | cut -d'|' -f2,3 | sed 's/ *| */, /; s/^ *//; s/ *$//')
  awk -v n=$((n + 1)) -v label="$label" '
    /I +refs:/ { gsub(",", "", $4); ir = $4 }
    /D1 +misses:/ { gsub(",", "", $6); d1 = $6 }
    END { printf "| %s | %.0f | %.0f |\n", label, ir / n, d1 / n }' "$OUT/valgrind"
done
