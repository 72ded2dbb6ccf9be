#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The gateway benchmark: `llmux serve` against the Portkey gateway (@portkey-ai/gateway, from
# ../shared/peers), in one run, both in front of the same upstream (`llmux emulate`, zero
# scripted latency), everything on 127.0.0.1.
#
#   benchmarks/gateway/run.sh [BUILD_DIR] [SECONDS]
#
# Measures, for the emulator hit directly, llmux serve -> emulator and Portkey -> emulator:
#   1. throughput at saturation (wrk -t1 -c64), whole answers and SSE streams, with p50/p99;
#   2. latency at one connection (wrk -t1 -c1); the gateway's added latency is its percentile
#      minus the direct path's (a difference of percentiles, not a percentile of differences);
#   3. time to first token of streams, one call at a time (bench_gateway_ttft), added likewise;
#   4. peak RSS (VmHWM) of each gateway process after the load.
# Needs: a build with benchmarks, wrk (scripts/install-deps.sh --with-tools), node and npm (the
# Portkey gateway is installed with `npm ci` into BUILD_DIR/peers the first time).
# Environment: GW_THREADS (llmux serve threads, default 1: Portkey is one Node.js thread),
# EMU_THREADS (default 1), CONNS (default 64), LLMUX_PEERS (default ../shared/peers).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
secs=${2:-5}
gw_threads=${GW_THREADS:-1}
emu_threads=${EMU_THREADS:-1}
conns=${CONNS:-64}
peers_src=${LLMUX_PEERS:-$root/../shared/peers}

for tool in wrk node npm curl; do
    command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (scripts/install-deps.sh --with-tools)" >&2; exit 2; }
done
[[ -x $build/llmux && -x $build/benchmarks/bench_gateway_ttft ]] ||
    { echo "run.sh: build llmux_cli and bench_gateway_ttft in $build first" >&2; exit 2; }

source "$here/lib.sh"

peers=$build/peers
if [[ ! -f $peers/node_modules/@portkey-ai/gateway/build/start-server.js ]]; then
    [[ -f $peers_src/package-lock.json ]] || { echo "run.sh: no peers at $peers_src" >&2; exit 2; }
    rm -rf "$peers" && cp -r "$peers_src" "$peers"
    (cd "$peers" && npm ci --no-audit --no-fund --loglevel=error)
fi

start_emulator "$build" "$emu_threads"
"$build/llmux" serve --port 0 --threads "$gw_threads" --config "$work/gateway.json" \
    >"$work/gw.log" 2>&1 &
gw_pid=$!
pids+=($gw_pid)
gw=$(wait_url "$work/gw.log")

pk_port=$(( 20000 + RANDOM % 20000 ))
PORTKEY_PORT=$pk_port "$peers/start-portkey.sh" >"$work/portkey.log" 2>&1 &
pk_pid=$!
pids+=($pk_pid)
pk=http://127.0.0.1:$pk_port
for _ in $(seq 200); do curl -s -o /dev/null "$pk/" && break; sleep 0.1; done
# start-portkey.sh execs node, so its pid is Portkey's.

echo "machine: $(nproc) cores; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); emulator $emu ($emu_threads thread), llmux serve $gw ($gw_threads thread), Portkey $pk"

# Every path must answer before anything is timed.
for url in "$emu" "$gw" "$pk"; do
    code=$(curl -s -o "$work/check" -w '%{http_code}' "$url/v1/chat/completions" \
        -H 'content-type: application/json' -H 'authorization: Bearer sk-local-dummy' \
        -H 'x-portkey-provider: openai' -H "x-portkey-custom-host: $emu/v1" \
        -d '{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}')
    [[ $code == 200 ]] || { echo "run.sh: $url answered $code: $(head -c 300 "$work/check")" >&2; exit 1; }
done

results=$work/results
: >"$results"
# run LABEL URL CONNS [STREAM]
run() {
    local label=$1 url=$2 c=$3 stream=${4:-0} out
    out=$(STREAM=$stream UPSTREAM="$emu/v1" wrk -t1 -c"$c" -d"${secs}s" -s "$here/post.lua" "$url" 2>&1)
    local rps p50 p99 errs
    rps=$(sed -n 's/^SUMMARY rps=\([0-9.]*\).*/\1/p' <<<"$out")
    errs=$(sed -n 's/^SUMMARY .*errors=\([0-9]*\).*/\1/p' <<<"$out")
    p50=$(sed -n 's/^LATENCY_MS .*p50=\([0-9.]*\).*/\1/p' <<<"$out")
    p99=$(sed -n 's/^LATENCY_MS .*p99=\([0-9.]*\).*/\1/p' <<<"$out")
    printf '%-34s %10s req/s  p50 %8s ms  p99 %8s ms  errors %s\n' "$label" "$rps" "$p50" "$p99" "$errs"
    echo "$label|$rps|$p50|$p99|$errs" >>"$results"
}
get() { awk -F'|' -v l="$1" -v f="$2" '$1 == l { print $f }' "$results"; }
hwm_mb() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

echo "--- warm-up (3 s each, discarded)"
for url in "$emu" "$gw" "$pk"; do
    STREAM=0 UPSTREAM="$emu/v1" wrk -t1 -c"$conns" -d3s -s "$here/post.lua" "$url" >/dev/null 2>&1
    STREAM=1 UPSTREAM="$emu/v1" wrk -t1 -c"$conns" -d3s -s "$here/post.lua" "$url" >/dev/null 2>&1
done

echo "--- saturation: wrk -t1 -c$conns -d${secs}s"
for stream in 0 1; do
    mode=$([[ $stream == 1 ]] && echo stream || echo whole)
    run "emulator direct ($mode)" "$emu" "$conns" $stream
    run "llmux serve -> emulator ($mode)" "$gw" "$conns" $stream
    run "Portkey -> emulator ($mode)" "$pk" "$conns" $stream
done

echo "--- one connection: wrk -t1 -c1 -d${secs}s"
run "emulator direct (c1)" "$emu" 1
run "llmux serve -> emulator (c1)" "$gw" 1
run "Portkey -> emulator (c1)" "$pk" 1

echo "--- time to first token, one streamed call at a time (bench_gateway_ttft -n 2000)"
ttft() {
    "$build/benchmarks/bench_gateway_ttft" --stream -n 2000 --warmup 200 "$@" | tail -1
}
t_emu=$(ttft --base-url "$emu/v1")
t_gw=$(ttft --base-url "$gw/v1")
t_pk=$(ttft --base-url "$pk/v1" --header "x-portkey-provider: openai" \
            --header "x-portkey-custom-host: $emu/v1")
gw_rss=$(hwm_mb "$gw_pid")
pk_rss=$(hwm_mb "$pk_pid")

node - "$results" "$t_emu" "$t_gw" "$t_pk" "$gw_rss" "$pk_rss" <<'EOF'
const fs = require('fs');
const [file, te, tg, tp, gwRss, pkRss] = process.argv.slice(2);
const rows = Object.fromEntries(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => {
  const [label, rps, p50, p99, errors] = l.split('|');
  return [label, { rps: +rps, p50: +p50, p99: +p99, errors: +errors }];
}));
const T = { emu: JSON.parse(te), gw: JSON.parse(tg), pk: JSON.parse(tp) };
const r = (k) => rows[k];
const f1 = (x) => x.toFixed(1);
const out = [];
for (const mode of ['whole', 'stream']) {
  const e = r(`emulator direct (${mode})`), g = r(`llmux serve -> emulator (${mode})`),
    p = r(`Portkey -> emulator (${mode})`);
  out.push(`${mode.padEnd(6)} throughput: llmux serve ${Math.round(g.rps)} req/s = ` +
    `${f1(g.rps / p.rps)}x Portkey (${Math.round(p.rps)}), ${(100 * g.rps / e.rps).toFixed(0)}% of the ` +
    `emulator direct (${Math.round(e.rps)})`);
}
const e1 = r('emulator direct (c1)'), g1 = r('llmux serve -> emulator (c1)'), p1 = r('Portkey -> emulator (c1)');
out.push(`added latency at c=1: llmux serve p50 ${Math.round((g1.p50 - e1.p50) * 1000)} us, ` +
  `p99 ${Math.round((g1.p99 - e1.p99) * 1000)} us; Portkey p50 ${Math.round((p1.p50 - e1.p50) * 1000)} us, ` +
  `p99 ${Math.round((p1.p99 - e1.p99) * 1000)} us`);
out.push(`added TTFT (streams, one at a time): llmux serve p50 ${f1(T.gw.ttft_p50_us - T.emu.ttft_p50_us)} us, ` +
  `p99 ${f1(T.gw.ttft_p99_us - T.emu.ttft_p99_us)} us; Portkey p50 ` +
  `${f1((T.pk.ttft_p50_us - T.emu.ttft_p50_us) / 1000)} ms, p99 ${f1((T.pk.ttft_p99_us - T.emu.ttft_p99_us) / 1000)} ms`);
out.push(`peak RSS after the load: llmux serve ${gwRss} MiB, Portkey ${pkRss} MiB`);
const bad = Object.entries(rows).filter(([, v]) => v.errors > 0).map(([k]) => k);
if (bad.length) out.push(`WARNING: errors in ${bad.join(', ')}`);
console.log('=== summary\n' + out.join('\n'));
console.log(JSON.stringify({ rows, ttft: T, peak_rss_mb: { llmux: +gwRss, portkey: +pkRss } }));
EOF
