# SPDX-License-Identifier: BSL-1.0
# Shared by the gateway benchmark scripts (sourced): a temporary work directory and the
# processes to stop on exit, and reading the URL a server prints when it listens.
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# wait_url LOG: the http://host:port a server wrote to LOG ("listening on ..."), waiting up to
# 10 s for it.
wait_url() {
    local log=$1 url=""
    for _ in $(seq 200); do
        url=$(grep -o 'listening on http://[0-9.:]*' "$log" 2>/dev/null | head -1 | sed 's/listening on //') || true
        [[ -n $url ]] && { echo "$url"; return 0; }
        sleep 0.05
    done
    echo "$(basename "$0"): no URL in $log:" >&2; cat "$log" >&2; return 1
}

# start_emulator BUILD_DIR [THREADS]: `llmux emulate` (no auth, zero scripted latency) on a free
# loopback port, stopped on exit; sets $emu to its URL, $emu_pid to its process and writes $work/gateway.json, a gateway
# configuration whose model "mock-model" is openai/mock-model on it, without an access log.
start_emulator() {
    "$1/llmux" emulate --port 0 --no-auth --threads "${2:-1}" >"$work/emu.log" 2>&1 &
    emu_pid=$!
    pids+=($emu_pid)
    emu=$(wait_url "$work/emu.log")
    cat >"$work/gateway.json" <<EOF
{
  "providers": {"openai": {"base_url": "$emu/v1", "api_key": "sk-upstream-bench"}},
  "models": {"mock-model": "openai/mock-model"},
  "gateway": {"access_log": false}
}
EOF
}
