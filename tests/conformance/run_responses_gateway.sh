#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the openai SDK's Responses API, the Vercel AI SDK (@ai-sdk/openai) and LangChain's
# ChatOpenAI with useResponsesApi (responses_gateway.mjs) against `llmux serve` on
# /v1/responses, whose upstreams are its built-in emulator speaking every wire format (no
# provider keys are set here).
# Usage: run_responses_gateway.sh /path/to/llmux
# Needs node (or $NODE) and `npm ci` done in this directory. Exits non-zero on any failure,
# including a gateway that does not exit cleanly on SIGTERM.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run_responses_gateway.sh /path/to/llmux}"
source "$here/gateway_lib.sh"

models=$(cat <<'JSON'
{
  "gpt": "openai/gpt-4o-mini",
  "claude": "anthropic/claude-sonnet-4.6",
  "gemini": "google/gemini-2.0-flash",
  "nova": "bedrock/amazon.nova-lite-v1:0",
  "pro": "openai/gpt-5-pro",
  "gpt-limited": "openai/gpt-4o-mini~error=429,retry_after=3s",
  "broken": "openai/gpt-4o-mini~fault=error_mid,after=3"
}
JSON
)
run_against_gateway "$bin" "$models" "$here/responses_gateway.mjs"
