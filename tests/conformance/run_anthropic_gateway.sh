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
node="${NODE:-node}"
work="$(mktemp -d)"
pid=""

cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The gateway key is made here and given by environment; the file holds only its name.
key="sk-llmux-gw-$RANDOM$RANDOM$RANDOM"
cat >"$work/gateway.json" <<'JSON'
{
  "gateway": {"keys": [{"name": "ci", "key_env": "LLMUX_TEST_GATEWAY_KEY"}]},
  "models": {
    "gpt": "openai/gpt-4o-mini",
    "gemini": "google/gemini-2.0-flash",
    "nova": "bedrock/amazon.nova-lite-v1:0",
    "claude": "anthropic/claude-sonnet-4.6",
    "gpt-limited": "openai/gpt-4o-mini~error=429,retry_after=2s",
    "gemini-limited": "google/gemini-2.0-flash~error=429,retry_after=2s",
    "nova-limited": "bedrock/amazon.nova-lite-v1:0~error=429,retry_after=2s",
    "gpt-busy": "openai/gpt-4o-mini~error=503",
    "gemini-busy": "google/gemini-2.0-flash~error=503",
    "nova-busy": "bedrock/amazon.nova-lite-v1:0~error=503"
  }
}
JSON

# Only what the gateway needs: no provider key may leak in from the machine.
env -i PATH="$PATH" HOME="${HOME:-/tmp}" LLMUX_TEST_GATEWAY_KEY="$key" \
    "$bin" serve --port 0 --threads 2 --config "$work/gateway.json" \
    >"$work/stdout" 2>"$work/stderr" &
pid=$!

url=""
for _ in $(seq 1 100); do
    if line="$(head -n 1 "$work/stdout" 2>/dev/null)" && [[ "$line" == "llmux gateway listening on "* ]]; then
        url="${line#llmux gateway listening on }"
        url="${url%% *}"
        break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "llmux serve exited early:" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$url" ]]; then
    echo "llmux serve printed no URL within 10 s" >&2
    cat "$work/stderr" >&2
    exit 1
fi
echo "gateway at $url"

guard="$here/../../../shared/peers/loopback-guard.cjs"
node_args=()
if [[ -f "$guard" ]]; then
    node_args+=(--require "$guard")
fi

rc=0
LLMUX_GATEWAY_URL="$url" LLMUX_GATEWAY_KEY="$key" timeout 180 "$node" "${node_args[@]}" \
    "$here/anthropic_gateway.mjs" || rc=$?

# The key must not appear in anything the gateway printed (access log included).
if grep -q -- "$key" "$work/stdout" "$work/stderr"; then
    echo "the gateway key appears in the gateway's output" >&2
    rc=1
fi

kill -TERM "$pid"
erc=0
wait "$pid" || erc=$?
pid=""
if [[ $erc -ne 0 ]]; then
    echo "llmux serve exited with $erc after SIGTERM" >&2
    cat "$work/stderr" >&2
    rc=1
fi
if [[ $rc -ne 0 ]]; then
    echo "--- gateway stderr (last 40 lines)" >&2
    tail -n 40 "$work/stderr" >&2
fi
exit $rc
