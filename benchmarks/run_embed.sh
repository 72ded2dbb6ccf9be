#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Embedding throughput, llmux vs the official openai Node SDK, in one run against the same
# emulator (a separate process, zero scripted latency, keep-alive HTTP on loopback): N calls of
# K texts each to openai/text-embedding-3-small, C in flight, once with the vectors sent as
# base64 (what OpenAI's own API gets from both clients by default; both decode it to floats)
# and once as JSON float arrays.
#
#   benchmarks/run_embed.sh [BUILD_DIR] [N] [CONCURRENCY] [K] [DIMENSIONS]
# DIMENSIONS defaults to the model's own (1536). Needs: a build with benchmarks
# (cmake --build BUILD_DIR --target llmux bench_embed), `npm ci` in tests/conformance.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}; n=${2:-5000}; c=${3:-64}; k=${4:-16}; d=${5:-}
dims=(); [[ -n "$d" ]] && dims=(--dimensions "$d")
warm=$(( n / 10 > 0 ? n / 10 : 1 ))
emu_log=$(mktemp)
"$build/llmux" emulate --port 0 --no-auth >"$emu_log" 2>&1 &
emu=$!
trap 'kill $emu 2>/dev/null; rm -f "$emu_log"' EXIT
for _ in $(seq 100); do grep -q listening "$emu_log" && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.:]*' "$emu_log" | head -1)
echo "emulator: $url (pid $emu); machine: $(nproc) cores; n=$n concurrency=$c inputs/call=$k" \
     "dimensions=${d:-model default}"
for enc in base64 float; do
    echo "== vectors as $enc"
    "$build/benchmarks/bench_embed" --base-url "$url/v1" -n "$warm" -c "$c" -k "$k" "${dims[@]}" \
        --encoding "$enc" >/dev/null   # warm-up
    l=$("$build/benchmarks/bench_embed" --base-url "$url/v1" -n "$n" -c "$c" -k "$k" "${dims[@]}" \
        --encoding "$enc")
    echo "$l" | grep -v '^{'
    node benchmarks/node/embed.mjs --base-url "$url/v1" -n "$warm" -c "$c" -k "$k" "${dims[@]}" \
        --encoding "$enc" >/dev/null   # warm-up
    o=$(node benchmarks/node/embed.mjs --base-url "$url/v1" -n "$n" -c "$c" -k "$k" "${dims[@]}" \
        --encoding "$enc")
    echo "$o" | grep -v '^{'
    lj=$(echo "$l" | grep '^{'); oj=$(echo "$o" | grep '^{')
    node -e '
      const l = JSON.parse(process.argv[1]), o = JSON.parse(process.argv[2]);
      console.log(`  ratio llmux/node: throughput ${(l.rps / o.rps).toFixed(1)}x ` +
        `(inputs/s ${(l.inputs_per_s / o.inputs_per_s).toFixed(1)}x), ` +
        `CPU per request ${(o.cpu_us_per_req / l.cpu_us_per_req).toFixed(1)}x less, ` +
        `peak RSS ${(o.peak_rss_mb / l.peak_rss_mb).toFixed(1)}x less`);
      console.log("  " + JSON.stringify(l));
      console.log("  " + JSON.stringify(o));' "$lj" "$oj"
done
