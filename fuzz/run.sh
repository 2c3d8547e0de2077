#!/usr/bin/env bash
# Builds the hook's fuzz target with clang-14 (libFuzzer, ASan, UBSan) and fuzzes it for
# SECONDS (default 25) on the seed corpus plus what earlier runs found. Exits non-zero on a
# crash, leak or undefined behaviour; the input that did it is saved in BUILD/crashes/.
#   fuzz/run.sh [SECONDS]        BUILD is build/fuzz, or $SOTONG_FUZZ_BUILD
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-25}"
build="${SOTONG_FUZZ_BUILD:-$src/build/fuzz}"

CXX="${CXX_FUZZ:-clang++-14}" cmake -S "$src/fuzz" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j1

mkdir -p "$build/corpus" "$build/crashes"
# New inputs go to the first folder (the build's); the shipped seeds are only read.
# Up to 20 KiB: past the 16 KiB header limit, so the 431 path is reached too.
exec "$build/hook_request_fuzz" "$build/corpus" "$src/fuzz/corpus/hook_request" \
  -max_total_time="$seconds" -max_len=20480 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$build/crashes/" -print_final_stats=1
