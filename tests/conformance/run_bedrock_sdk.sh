#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the official AWS SDK for Bedrock Runtime (bedrock_sdk.mjs) against `llmux emulate`: the
# SDK's SigV4 signer and event-stream parser check the emulator's Bedrock protocol.
# Usage: run_bedrock_sdk.sh /path/to/llmux
# Needs node (or $NODE) and `npm ci` done in this directory. Exits non-zero on any failure,
# including an emulator that does not exit cleanly on SIGTERM.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run_bedrock_sdk.sh /path/to/llmux}"
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

"$bin" emulate --port 0 >"$work/stdout" 2>"$work/stderr" &
pid=$!

# The first stdout line names the URL.
url=""
for _ in $(seq 1 100); do
    if line="$(head -n 1 "$work/stdout" 2>/dev/null)" && [[ "$line" == "llmux emulator listening on "* ]]; then
        url="${line#llmux emulator listening on }"
        break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "llmux emulate exited early:" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$url" ]]; then
    echo "llmux emulate printed no URL within 10 s" >&2
    cat "$work/stderr" >&2
    exit 1
fi
echo "emulator at $url"

# Preload the loopback guard when it is there: the SDK must only talk to 127.0.0.1 (and must
# not reach for the instance metadata service or any other credential source).
guard="$here/../../../shared/peers/loopback-guard.cjs"
node_args=()
if [[ -f "$guard" ]]; then
    node_args+=(--require "$guard")
fi

# No ambient AWS configuration may leak into the SDK: the script passes everything explicitly.
# The SDK's notice that its 2027 releases will need Node 22 is about the toolchain (Node 20 here),
# not the emulator, so it is turned off with the SDK's own switch; any other warning fails.
rc=0
env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    -u AWS_BEARER_TOKEN_BEDROCK -u AWS_REGION -u AWS_DEFAULT_REGION \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    LLMUX_EMULATOR_URL="$url" timeout 120 "$node" "${node_args[@]}" "$here/bedrock_sdk.mjs" || rc=$?

# A clean stop on SIGTERM is part of the contract.
kill -TERM "$pid"
erc=0
wait "$pid" || erc=$?
pid=""
if [[ $erc -ne 0 ]]; then
    echo "llmux emulate exited with $erc after SIGTERM" >&2
    cat "$work/stderr" >&2
    rc=1
fi
exit $rc
