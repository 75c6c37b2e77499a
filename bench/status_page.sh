#!/usr/bin/env bash
# Measures what the status page costs to render: "/" with 1,000 paths on one page and with the
# default page size, over 3 hours and 10 minutes, and "/path", each path with a full history
# (bench/status_page_bench.cpp builds it in memory: no network, no root). Prints Markdown.
# Usage: bench/status_page.sh [BUILD_DIR] [--paths N] [--sources S] [--runs R]
#        bench/status_page.sh --smoke [BUILD_DIR]   (scripts/test: 40 paths, 2 runs; checks the
#                                                    table is produced, asserts no timing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
smoke=""
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
build=$root/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then build=$1; shift; fi
bin=$build/bench/status_page_bench
[ -x "$bin" ] || { echo "status_page.sh: $bin is missing: run scripts/build first" >&2; exit 1; }
if [ -n "$smoke" ]; then
  out=$("$bin" --paths 40 --sources 2 --runs 2)
  echo "$out"
  rows=$(grep -cE '^\| `/.*\| [0-9.]+ ms \| [0-9.]+ ms \| [0-9.]+ MB \| [0-9.]+ MB, [0-9.]+ ms \| [0-9.]+ MB, [0-9.]+ ms \|$' <<<"$out" || true)
  [ "$rows" -eq 4 ] || { echo "status_page.sh --smoke: expected 4 rows of figures, got $rows" >&2; exit 1; }
  exit 0
fi
echo "Command: \`bench/status_page.sh $*\`  "
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' (working tree with uncommitted changes)')  "
echo "Machine: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$bin" "$@"
