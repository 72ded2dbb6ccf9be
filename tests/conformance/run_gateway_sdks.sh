#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the official OpenAI and Anthropic Node SDKs (gateway_sdks.mjs) against `llmux serve`,
# whose upstreams are its built-in emulator (no provider keys are set here).
# Usage: run_gateway_sdks.sh /path/to/llmux
# Needs node (or $NODE) and `npm ci` done in this directory. Exits non-zero on any failure,
# including a gateway that does not exit cleanly on SIGTERM.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run_gateway_sdks.sh /path/to/llmux}"
source "$here/gateway_lib.sh"

models=$(cat <<'JSON'
{
  "gpt": "openai/gpt-4o-mini",
  "claude": "anthropic/claude-sonnet-4.6",
  "gemini": "google/gemini-2.0-flash",
  "nova": "bedrock/amazon.nova-lite-v1:0",
  "pro": "openai/gpt-5-pro",
  "resilient": {"deployments": ["openai/gpt-4o~error=503", "anthropic/claude-sonnet-4.6"],
                "strategy": "fallback"},
  "stalling": {"deployments": ["openai/gpt-4o~fault=stall,after=0", "google/gemini-2.0-flash"],
               "strategy": "fallback", "per_attempt": "500ms"},
  "slow": "openai/gpt-4o-mini~tps=5,tokens=300",
  "gpt-limited": "openai/gpt-4o-mini~error=429,retry_after=3s",
  "claude-limited": "anthropic/claude-sonnet-4.6~error=429,retry_after=3s",
  "gemini-limited": "google/gemini-2.0-flash~error=429,retry_after=3s",
  "nova-limited": "bedrock/amazon.nova-lite-v1:0~error=429,retry_after=3s",
  "pro-limited": "openai/gpt-5-pro~error=429,retry_after=3s"
}
JSON
)
run_against_gateway "$bin" "$models" "$here/gateway_sdks.mjs"
