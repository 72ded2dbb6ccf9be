#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Reasoning round trips through `llmux serve` with official SDKs (reasoning_gateway.mjs): Claude
# with thinking and Gemini 3 tool loops, whose upstream (the built-in emulator) refuses a next
# turn that drops or alters a thinking block or a thought signature, as the real APIs do.
# Usage: run_reasoning_gateway.sh /path/to/llmux
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run_reasoning_gateway.sh /path/to/llmux}"
source "$here/gateway_lib.sh"

models=$(cat <<'JSON'
{
  "claude": "anthropic/claude-sonnet-4-5",
  "claude-vertex": "vertex/claude-opus-4-6",
  "gemini3": "google/gemini-3-pro-preview"
}
JSON
)
run_against_gateway "$bin" "$models" "$here/reasoning_gateway.mjs"
