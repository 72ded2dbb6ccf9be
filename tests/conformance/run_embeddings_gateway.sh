#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the official OpenAI Node SDK's embeddings.create and the Vercel AI SDK's embed and
# embedMany (embeddings_gateway.mjs) against `llmux serve`, whose upstreams are its built-in
# emulator (no provider keys are set here).
# Usage: run_embeddings_gateway.sh /path/to/llmux
# Needs node (or $NODE) and `npm ci` done in this directory. Exits non-zero on any failure,
# including a gateway that does not exit cleanly on SIGTERM.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run_embeddings_gateway.sh /path/to/llmux}"
source "$here/gateway_lib.sh"

models=$(cat <<'JSON'
{
  "embed": "openai/text-embedding-3-small",
  "embed-limited": "openai/text-embedding-3-small~error=429,retry_after=2s",
  "claude": "anthropic/claude-sonnet-4.6"
}
JSON
)
run_against_gateway "$bin" "$models" "$here/embeddings_gateway.mjs"
