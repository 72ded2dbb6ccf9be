#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Client fan-out benchmark, llmux vs the official openai Node SDK, in one run against the same
# emulator (a separate process, zero scripted latency, keep-alive HTTP on loopback).
#
#   benchmarks/run_fanout.sh [BUILD_DIR] [N] [CONCURRENCY]
# Needs: a build with benchmarks (cmake --build BUILD_DIR), `npm ci` in tests/conformance.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}; n=${2:-10000}; c=${3:-256}
emu_log=$(mktemp)
"$build/llmux" emulate --port 0 --no-auth >"$emu_log" 2>&1 &
emu=$!
trap 'kill $emu 2>/dev/null; rm -f "$emu_log"' EXIT
for _ in $(seq 100); do grep -q listening "$emu_log" && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.:]*' "$emu_log" | head -1)
echo "emulator: $url (pid $emu); machine: $(nproc) cores; n=$n concurrency=$c"
for mode in "" "--stream"; do
    echo "== non-stream${mode:+ -> stream}" | sed 's/non-stream -> //'
    "$build/benchmarks/bench_fanout" --base-url "$url/v1" -n 1000 -c "$c" $mode >/dev/null   # warm-up
    l=$("$build/benchmarks/bench_fanout" --base-url "$url/v1" -n "$n" -c "$c" $mode)
    echo "$l" | grep -v '^{'
    node benchmarks/node/fanout.mjs --base-url "$url/v1" -n 1000 -c "$c" $mode >/dev/null  # warm-up
    o=$(node benchmarks/node/fanout.mjs --base-url "$url/v1" -n "$n" -c "$c" $mode)
    echo "$o" | grep -v '^{'
    lj=$(echo "$l" | grep '^{'); oj=$(echo "$o" | grep '^{')
    node -e '
      const l = JSON.parse(process.argv[1]), o = JSON.parse(process.argv[2]);
      console.log(`  ratio llmux/node: throughput ${(l.rps / o.rps).toFixed(1)}x, ` +
        `CPU per request ${(o.cpu_us_per_req / l.cpu_us_per_req).toFixed(1)}x less, ` +
        `peak RSS ${(o.peak_rss_mb / l.peak_rss_mb).toFixed(1)}x less`);' "$lj" "$oj"
done
