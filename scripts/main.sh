#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The README's first command: installs what is missing, builds llmux, and runs the main job.
# With no provider API keys set, it runs on the built-in emulator and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMUX_BUILD_TESTS=OFF \
      -DLLMUX_BUILD_BENCHMARKS=OFF -DLLMUX_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build --target llmux_cli
model="${LLMUX_MODEL:-openai/gpt-4o-mini}"
prompt="${*:-Introduce Python in one sentence}"
echo "\$ llmux chat -m $model \"$prompt\""
./build/llmux chat -m "$model" "$prompt"
echo "\$ llmux chat --stream --json -m $model \"$prompt\""
./build/llmux chat --stream --json -m "$model" "$prompt"
