#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The README's first command: installs what is missing, builds llmux, and runs the main job:
# `llmux compare` of five models from five providers (one prompt, all at once), then a short
# `llmux bench` of the same models that writes a chart (build/bench.svg, build/bench.html).
#
# With no provider API keys set, both run on the built-in emulator, say so, and use the scripted
# latencies of data/emulator-demo.json (realistic per-model speeds, not measurements of real
# providers). With keys set, they call the real providers (the bench then makes
# LLMUX_BENCH_N requests per model, default 5, so it costs little).
#
#   bash scripts/main.sh ["PROMPT"]
# Environment: LLMUX_MODELS (comma-separated model ids), LLMUX_BENCH_N.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target llmux_cli

export LLMUX_EMULATE_SCRIPT="${LLMUX_EMULATE_SCRIPT:-$PWD/data/emulator-demo.json}"
keys=0
for v in OPENAI_API_KEY ANTHROPIC_API_KEY GEMINI_API_KEY GOOGLE_API_KEY DEEPSEEK_API_KEY \
         OPENROUTER_API_KEY ZENMUX_API_KEY AWS_ACCESS_KEY_ID AWS_BEARER_TOKEN_BEDROCK \
         GOOGLE_APPLICATION_CREDENTIALS AZURE_OPENAI_API_KEY; do
    [[ -n "${!v:-}" ]] && keys=1
done
default_models=openai/gpt-4o-mini,anthropic/claude-sonnet-4.6,google/gemini-2.0-flash,deepseek/deepseek-chat,bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
models="${LLMUX_MODELS:-$default_models}"
prompt="${*:-Introduce Python in one sentence}"
if [[ $keys == 1 ]]; then n="${LLMUX_BENCH_N:-5}"; c=5; else n="${LLMUX_BENCH_N:-60}"; c=20; fi

echo "\$ llmux compare -m $models \"$prompt\""
./build/llmux compare -m "$models" "$prompt"
echo
echo "\$ llmux bench -m $models -n $n -c $c --stream --svg build/bench.svg --html build/bench.html \"$prompt\""
./build/llmux bench -m "$models" -n "$n" -c "$c" --stream \
    --svg build/bench.svg --html build/bench.html "$prompt"
echo
echo "chart: $PWD/build/bench.html (open it in a browser; build/bench.svg is the chart alone)"
