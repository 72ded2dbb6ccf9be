#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the official Anthropic Node SDK (anthropic_gateway.mjs) against `llmux serve`,
# whose upstreams are its built-in emulator (no provider keys are set here).
# Usage: run_anthropic_gateway.sh /path/to/llmux
# Needs node (or $NODE) and `npm ci` done in this directory. Exits non-zero on any failure,
# including a gateway that does not exit cleanly on SIGTERM.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run_anthropic_gateway.sh /path/to/llmux}"
source "$here/gateway_lib.sh"

models=$(cat <<'JSON'
{
  "gpt": "openai/gpt-4o-mini",
  "gemini": "google/gemini-2.0-flash",
  "nova": "bedrock/amazon.nova-lite-v1:0",
  "claude": "anthropic/claude-sonnet-4.6",
  "pro": "openai/gpt-5-pro",
  "pro-limited": "openai/gpt-5-pro~error=429,retry_after=2s",
  "pro-busy": "openai/gpt-5-pro~error=503",
  "gpt-limited": "openai/gpt-4o-mini~error=429,retry_after=2s",
  "gemini-limited": "google/gemini-2.0-flash~error=429,retry_after=2s",
  "nova-limited": "bedrock/amazon.nova-lite-v1:0~error=429,retry_after=2s",
  "gpt-busy": "openai/gpt-4o-mini~error=503",
  "gemini-busy": "google/gemini-2.0-flash~error=503",
  "nova-busy": "bedrock/amazon.nova-lite-v1:0~error=503",
  "claude-limited": "anthropic/claude-sonnet-4.6~error=429,retry_after=2s",
  "claude-busy": "anthropic/claude-sonnet-4.6~error=503"
}
JSON
)
run_against_gateway "$bin" "$models" "$here/anthropic_gateway.mjs"
