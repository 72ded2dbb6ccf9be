#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the official AWS SDK for Bedrock Runtime (bedrock_gateway.mjs) against `llmux serve`'s
# Converse endpoints, with a gateway key as a Bedrock API key (bearer token); the gateway's
# upstreams are its built-in emulator speaking OpenAI, Anthropic and Bedrock (no provider keys
# are set here).
# Usage: run_bedrock_gateway.sh /path/to/llmux
# Needs node (or $NODE) and `npm ci` done in this directory. Exits non-zero on any failure,
# including a gateway that does not exit cleanly on SIGTERM.
# No ambient AWS configuration may leak into the SDK: the script passes everything explicitly.
# The SDK's notice that its 2027 releases will need Node 22 is about the toolchain, not the
# gateway, so it is turned off with the SDK's own switch; any other warning fails.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run_bedrock_gateway.sh /path/to/llmux}"
source "$here/gateway_lib.sh"

models=$(cat <<'JSON'
{
  "gpt": "openai/gpt-4o-mini",
  "claude": "anthropic/claude-sonnet-4.6",
  "nova": "bedrock/amazon.nova-lite-v1:0",
  "gemini": "google/gemini-2.0-flash",
  "team/gpt": "openai/gpt-4o-mini",
  "gpt-throttled": "openai/gpt-4o-mini~error=429",
  "claude-throttled": "anthropic/claude-sonnet-4.6~error=429",
  "gemini-throttled": "google/gemini-2.0-flash~error=429",
  "nova-throttled": "bedrock/amazon.nova-lite-v1:0~error=429",
  "gpt-breaks": "openai/gpt-4o-mini~fault=error_mid,after=2",
  "titan": "bedrock/amazon.titan-embed-text-v2:0",
  "cohere": "bedrock/cohere.embed-v4:0",
  "embed": "openai/text-embedding-3-small"
}
JSON
)
run_against_gateway "$bin" "$models" "$here/bedrock_gateway.mjs" \
    -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    -u AWS_BEARER_TOKEN_BEDROCK -u AWS_REGION -u AWS_DEFAULT_REGION \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
