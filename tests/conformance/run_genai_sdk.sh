#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Runs the official Google Gen AI Node SDK (genai_sdk.mjs, @google/genai) against `llmux emulate`.
# Usage: run_genai_sdk.sh /path/to/llmux
# Needs node (or $NODE) and `npm ci` done in this directory. Exits non-zero on any failure,
# including an emulator that does not exit cleanly on SIGTERM.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: run_genai_sdk.sh /path/to/llmux}"
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

# A scripted model, so --script is exercised too (a paced stream).
echo '{"gemini-slow": "ttft=20ms,tps=500"}' >"$work/script.json"

"$bin" emulate --port 0 --script "$work/script.json" >"$work/stdout" 2>"$work/stderr" &
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

# Preload the loopback guard when it is there: the SDK must only talk to 127.0.0.1.
guard="$here/../../../shared/peers/loopback-guard.cjs"
node_args=()
if [[ -f "$guard" ]]; then
    node_args+=(--require "$guard")
fi

rc=0
LLMUX_EMULATOR_URL="$url" timeout 120 "$node" "${node_args[@]}" "$here/genai_sdk.mjs" || rc=$?

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
