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
stack_stop

# The latency driver, against the trivial responder and then sotongd, each on a fresh sandbox;
# then the backlog driver's injection and its order report.
STACK_NO_DAEMON=1 stack_start --rate-limit 0 >/dev/null
"$bin/sotong-bench-echo" "http://127.0.0.1:$sp" "$work/mastodon.token" 2>"$work/echo.log" &
stack_pids+=($!)
stack_wait_streaming
"$bin/sotong-bench-ack" "$sp" steady 20 1 echo | grep '^result: echo 20 '
stack_stop
STACK_NO_DAEMON=1 stack_start --rate-limit 0 >/dev/null
"$bin/sotongd" --config "$work/sotong.yaml" >"$work/sotongd.log" 2>&1 &
stack_pids+=($!)
stack_wait_streaming
"$bin/sotong-bench-ack" "$sp" burst 20 sotongd | grep '^result: sotongd 20 '
"$bin/sotong-bench-ack" "$sp" inject 30 10 "$work/ids" | grep '^injected 30 '
for _ in $(seq 1 200); do
  [ "$(curl -fs "http://127.0.0.1:$sp/_sandbox/stats" | jq .posts)" -ge 50 ] && break
  sleep 0.05
done
"$bin/sotong-bench-ack" "$sp" order "$work/ids" | grep '^order: posted 3/3 urgent, .* 27 normal'
