#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The gateway's stable figure: instructions executed by `llmux serve` per request, counted by
# callgrind, for whole answers and for streams. Unlike requests per second it does not move with
# the machine's load, so a regression shows as a number (issue 15).
#
#   benchmarks/gateway/instructions.sh [BUILD_DIR] [REQUESTS]
#
# `llmux serve --threads 1` runs under callgrind in front of `llmux emulate` (natively), both on
# 127.0.0.1; curl sends the requests one after another on one keep-alive connection. After a
# warm-up of 50 requests the counters are zeroed, REQUESTS (default 500) requests are sent, and
# the counters are dumped: the instructions of exactly those requests (the gateway's share
# only: the emulator and curl are other processes), divided by REQUESTS. Needs valgrind
# (`scripts/install-deps.sh --with-tools`) and curl; the build may be any configuration
# (RelWithDebInfo is what the README's figures use). KEEP=DIR keeps the two dumps there as
# DIR/callgrind.{whole,stream} for `callgrind_annotate` (where the instructions go).
# CLIENT=anthropic sends Anthropic Messages requests instead (see below).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
requests=${2:-500}
for tool in valgrind callgrind_control curl; do
    command -v "$tool" >/dev/null || { echo "instructions.sh: needs $tool (apt-get install valgrind curl)" >&2; exit 2; }
done
[[ -x $build/llmux ]] || { echo "instructions.sh: build llmux_cli in $build first" >&2; exit 2; }
source "$here/lib.sh"

start_emulator "$build" 1

# CLIENT=anthropic: the requests are Anthropic Messages (/v1/messages), translated by the gateway
# to the OpenAI upstream and back; by default they are OpenAI chat completions, passed through.
client=${CLIENT:-openai}
case $client in
openai)
    path=/v1/chat/completions
    auth=(-H 'authorization: Bearer sk-local-dummy')
    whole='{"model":"mock-model","messages":[{"role":"user","content":"Introduce Python in one sentence"}]}'
    stream='{"model":"mock-model","messages":[{"role":"user","content":"Introduce Python in one sentence"}],"stream":true}'
    ;;
anthropic)
    path=/v1/messages
    auth=(-H 'x-api-key: sk-local-dummy' -H 'anthropic-version: 2023-06-01')
    whole='{"model":"mock-model","max_tokens":256,"messages":[{"role":"user","content":"Introduce Python in one sentence"}]}'
    stream='{"model":"mock-model","max_tokens":256,"messages":[{"role":"user","content":"Introduce Python in one sentence"}],"stream":true}'
    ;;
*) echo "instructions.sh: CLIENT is openai or anthropic" >&2; exit 2 ;;
esac

# send URL BODY COUNT: COUNT POSTs on one connection; fails unless every one answered 200.
send() {
    local url=$1 body=$2 count=$3 urls=()
    for ((i = 0; i < count; i++)); do urls+=("$url$path"); done
    local codes
    # (-o applies to one URL only: the bodies go to /dev/null, the status codes to stderr.)
    codes=$(curl -s -w '%{stderr}%{http_code}\n' -H 'content-type: application/json' \
        "${auth[@]}" -d "$body" "${urls[@]}" 2>&1 >/dev/null |
        sort | uniq -c)
    [[ $(awk '$2 == 200 { print $1 }' <<<"$codes") == "$count" ]] ||
        { echo "instructions.sh: not every request answered 200: $codes" >&2; return 1; }
}

# measure LABEL BODY: instructions per request of llmux serve for BODY.
measure() {
    local label=$1 body=$2 out="$work/cg.$1"
    valgrind --tool=callgrind --callgrind-out-file="$out" --compress-strings=no \
        "$build/llmux" serve --port 0 --threads 1 --config "$work/gateway.json" \
        >"$work/gw.$label.log" 2>"$work/vg.$label.log" &
    local pid=$!
    pids+=($pid)
    local gw=""
    for _ in $(seq 600); do  # up to 60 s: valgrind starts slowly
        gw=$(grep -o 'listening on http://[0-9.:]*' "$work/gw.$label.log" 2>/dev/null | head -1 |
             sed 's/listening on //') || true
        [[ -n $gw ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$work/vg.$label.log" >&2; return 1; }
        sleep 0.1
    done
    [[ -n $gw ]] || { echo "instructions.sh: llmux serve did not start under valgrind" >&2; return 1; }
    send "$gw" "$body" 50
    callgrind_control -z "$pid" >/dev/null 2>&1
    send "$gw" "$body" "$requests"
    callgrind_control -d "$label" "$pid" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    # The dump after the zeroing holds exactly the measured requests.
    local dump total
    dump="$out.1"  # the first dump: the one after the zeroing
    grep -q "^desc: Trigger: .*$label" "$dump" || { echo "instructions.sh: no dump $dump" >&2; return 1; }
    total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dump")
    [[ -n $total ]] || { echo "instructions.sh: no summary in $dump" >&2; return 1; }
    if [[ -n ${KEEP:-} ]]; then mkdir -p "$KEEP" && cp "$dump" "$KEEP/callgrind.$label"; fi
    echo "$label $total"
}

echo "llmux serve under callgrind, $client clients, $requests requests per mode after a 50-request warm-up"
for mode in whole stream; do
    body=$whole
    [[ $mode == stream ]] && body=$stream
    read -r label total < <(measure "$mode" "$body")
    printf '%-7s %12s instructions per request (%s in %s requests)\n' \
        "$label" "$(( total / requests ))" "$total" "$requests"
done
