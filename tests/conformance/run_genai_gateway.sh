#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the official Google Gen AI Node SDK (genai_gateway.mjs) against `llmux serve`,
# whose upstreams are its built-in emulator speaking all four formats (no
# provider keys are set here): Gemini clients of a gateway, both the Gemini API and Vertex AI.
# Usage: run_genai_gateway.sh /path/to/llmux
# Needs node (or $NODE) and `npm ci` done in this directory. Exits non-zero on any failure,
# including a gateway that does not exit cleanly on SIGTERM.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run_genai_gateway.sh /path/to/llmux}"
source "$here/gateway_lib.sh"

models=$(cat <<'JSON'
{
  "gpt": "openai/gpt-4o-mini",
  "claude": "anthropic/claude-sonnet-4.6",
  "gemini": "google/gemini-2.0-flash",
  "nova": "bedrock/amazon.nova-lite-v1:0",
  "team/gpt": "openai/gpt-4o-mini",
  "embed": "openai/text-embedding-3-small",
  "gemini-embed": "google/gemini-embedding-001",
  "gpt-limited": "openai/gpt-4o-mini~error=429,retry_after=7s",
  "claude-limited": "anthropic/claude-sonnet-4.6~error=429,retry_after=7s",
  "gemini-limited": "google/gemini-2.0-flash~error=429,retry_after=7s",
  "nova-limited": "bedrock/amazon.nova-lite-v1:0~error=429,retry_after=7s"
}
JSON
)
run_against_gateway "$bin" "$models" "$here/genai_gateway.mjs"
