#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The gateway's requests/s with each state store, in one run: `llmux serve` in front of
# `llmux emulate` (zero scripted latency), every request through a key with a budget, so each
# one reserves before and settles after in the store (and, with SQLite, writes its ledger row).
# Baseline: the same gateway without keys (no store work at all). Then the response cache: an
# upstream that takes 20 ms, the same request repeated, without and with the cache in each store
# (every request after the first is a hit).
#
#   benchmarks/gateway/state.sh [BUILD_DIR] [SECONDS]
#
# Needs wrk, curl and redis-server (scripts/install-deps.sh --with-tools); the Redis and the
# SQLite files are temporary. Environment: GW_THREADS (default 1), CONNS (default 64),
# CACHE_ONLY=1 (only the cache rows).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
secs=${2:-5}
gw_threads=${GW_THREADS:-1}
conns=${CONNS:-64}
for tool in wrk curl redis-server redis-cli sha256sum; do
    command -v "$tool" >/dev/null || { echo "state.sh: needs $tool" >&2; exit 2; }
done

source "$here/lib.sh"

start_emulator "$build" 1

redis_port=$(( 20000 + RANDOM % 20000 ))
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
    --dir "$work" --logfile "$work/redis.log" >/dev/null &
pids+=($!)
for _ in $(seq 100); do [[ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" == PONG ]] && break; sleep 0.05; done

key=sk-bench-state
hash=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
config() {  # config KEYS_JSON [STATE_JSON] [MODEL_JSON]
    local st=""
    [[ -n ${2:-} ]] && st=", \"state\": $2"
    cat <<EOF
{
  "providers": {"openai": {"base_url": "$emu/v1", "api_key": "sk-upstream-bench"}},
  "models": {"mock-model": ${3:-\"openai/gpt-4o-mini\"}},
  "gateway": {"access_log": false, "keys": $1$st}
}
EOF
}
keyed='[{"name": "bench", "key_sha256": "'$hash'", "budget_usd": 1000000}]'

echo "machine: $(nproc) cores; emulator $emu; llmux serve $gw_threads thread(s); wrk -t1 -c$conns -d${secs}s, whole answers"
# run LABEL KEYS_JSON STATE_JSON [MODEL_JSON]
run() {
    local label=$1 keys=$2 state=$3
    config "$keys" "$state" "${4:-}" >"$work/gw.json"
    "$build/llmux" serve --port 0 --threads "$gw_threads" --config "$work/gw.json" \
        >"$work/gw.log" 2>&1 &
    local pid=$!
    local gw
    gw=$(wait_url "$work/gw.log")
    local code
    code=$(curl -s -o "$work/check" -w '%{http_code}' "$gw/v1/chat/completions" \
        -H "authorization: Bearer $key" \
        -d '{"model":"mock-model","messages":[{"role":"user","content":"hi"}],"max_tokens":16}')
    [[ $code == 200 ]] || { echo "state.sh: $label answered $code: $(head -c 300 "$work/check")" >&2; kill $pid; exit 1; }
    KEY=$key MODEL=mock-model wrk -t1 -c"$conns" -d2s -s "$here/post.lua" "$gw" >/dev/null 2>&1
    KEY=$key MODEL=mock-model wrk_post "$gw" "$conns" 0
    local spent
    spent=$(curl -s "$gw/v1/llmux/keys/bench" -H "authorization: Bearer $key" |
        sed -n 's/.*"spent_nano_usd":\([0-9]*\).*/\1/p')
    printf '%-40s %9s req/s  p50 %7s ms  p99 %7s ms  errors %s  spent %s nano-USD\n' \
        "$label" "$wrk_rps" "$wrk_p50" "$wrk_p99" "$wrk_errors" "${spent:--}"
    kill $pid
    wait $pid 2>/dev/null || true
}

[[ -z ${CACHE_ONLY:-} ]] && run "no keys (no store work)" '[]' ''
[[ -z ${CACHE_ONLY:-} ]] && run "key with budget, memory" "$keyed" '{"memory": true}'
[[ -z ${CACHE_ONLY:-} ]] && run "key with budget, sqlite (durability full)" "$keyed" '{"sqlite": "'"$work"'/full.db"}'
[[ -z ${CACHE_ONLY:-} ]] && run "key with budget, sqlite (durability normal)" "$keyed" \
    '{"sqlite": "'"$work"'/normal.db", "durability": "normal"}'
[[ -z ${CACHE_ONLY:-} ]] && run "key with budget, redis (AOF everysec)" "$keyed" '{"redis": "127.0.0.1:'"$redis_port"'"}'

slow='"openai/gpt-4o-mini~latency=20ms"'
# The slow deployment's name carries an emulator directive, so it has no price: a key without
# a budget.
plain_key='[{"name": "bench", "key_sha256": "'$hash'"}]'
cached='{"deployments": '"$slow"', "cache": true}'
run "upstream 20 ms, no cache" "$plain_key" '{"memory": true}' "$slow"
run "upstream 20 ms, cache in memory" "$plain_key" '{"memory": true}' "$cached"
run "upstream 20 ms, no cache, sqlite" "$plain_key" '{"sqlite": "'"$work"'/nocache.db"}' "$slow"
run "upstream 20 ms, cache in sqlite" "$plain_key" '{"sqlite": "'"$work"'/cache.db"}' "$cached"
run "upstream 20 ms, cache in redis" "$plain_key" '{"redis": "127.0.0.1:'"$redis_port"'"}' "$cached"
