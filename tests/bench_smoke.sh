#!/usr/bin/env bash
# A short smoke of the benchmarks' programs (bench/all runs them in full, in release): each
# must run against a real sotongd and the store and print its table row.
#   bench_smoke.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
root="$1"
bin="$2"
cd "$root"
source .ci/stack.sh
store_dir=$(mktemp -d /var/tmp/sotong-bench-smoke.XXXXXX)
trap 'stack_stop; rm -rf "$store_dir"' EXIT
STACK_NO_DAEMON=1 stack_start >/dev/null
"$bin/sotong-bench-start" "$bin/sotongd" "$work/sotong.yaml" 1 0 2>"$work/start.log" |
  grep '^row: start-up' || { cat "$work/start.log"; exit 1; }
"$bin/sotong-bench-store" "$store_dir" 100 1 | grep '^row: durable ingest'
