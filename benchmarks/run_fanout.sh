#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Client fan-out benchmark, llmux vs the official openai Node SDK, in one run against the same
# emulator (a separate process, zero scripted latency, keep-alive HTTP on loopback).
#
#   benchmarks/run_fanout.sh [BUILD_DIR] [N] [CONCURRENCY]
#
# The SDK makes N calls per run and llmux N x LLMUX_SCALE (default 10): llmux's N calls take
# a quarter of a second, too short a run to measure on a shared machine. Each side runs ROUNDS
# times (default 3), alternating; the figures and ratios are the medians of its runs.
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
scale=${LLMUX_SCALE:-10}; rounds=${ROUNDS:-3}
for mode in "" "--stream"; do
    echo "== non-stream${mode:+ -> stream}" | sed 's/non-stream -> //'
    "$build/benchmarks/bench_fanout" --base-url "$url/v1" -n 1000 -c "$c" $mode >/dev/null   # warm-up
    node benchmarks/node/fanout.mjs --base-url "$url/v1" -n 1000 -c "$c" $mode >/dev/null  # warm-up
    ls=(); os=()
    for ((r = 1; r <= rounds; r++)); do
        l=$("$build/benchmarks/bench_fanout" --base-url "$url/v1" -n "$((n * scale))" -c "$c" $mode)
        o=$(node benchmarks/node/fanout.mjs --base-url "$url/v1" -n "$n" -c "$c" $mode)
        if [[ $r == 1 ]]; then echo "$l" | grep -v '^{'; echo "$o" | grep -v '^{'; fi
        ls+=("$(echo "$l" | grep '^{')"); os+=("$(echo "$o" | grep '^{')")
    done
    node -e '
      const [rounds, ...runs] = process.argv.slice(1);
      const k = +rounds, l = runs.slice(0, k).map(JSON.parse), o = runs.slice(k).map(JSON.parse);
      const med = (xs, f) => { const v = xs.map(f).sort((a, b) => a - b); return v[(v.length - 1) >> 1]; };
      const rps = (xs) => med(xs, (x) => x.rps), cpu = (xs) => med(xs, (x) => x.cpu_us_per_req),
        rss = (xs) => med(xs, (x) => x.peak_rss_mb);
      console.log(`  medians of ${k} runs: llmux ${Math.round(rps(l))} req/s, ${cpu(l).toFixed(1)} us CPU/req; ` +
        `node ${Math.round(rps(o))} req/s, ${cpu(o).toFixed(1)} us CPU/req`);
      console.log(`  per run, llmux/node throughput: ` +
        l.map((x, i) => (x.rps / o[i].rps).toFixed(1) + "x").join(" "));
      console.log(`  ratio llmux/node: throughput ${(rps(l) / rps(o)).toFixed(1)}x, ` +
        `CPU per request ${(cpu(o) / cpu(l)).toFixed(1)}x less, ` +
        `peak RSS ${(rss(o) / rss(l)).toFixed(1)}x less`);' "$rounds" "${ls[@]}" "${os[@]}"
done
