#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The gateway benchmark: `llmux serve` against nginx as a plain reverse proxy (what proxying
# alone costs: one worker, keep-alive upstream connections, no JSON) and against the Portkey
# gateway (@portkey-ai/gateway, from ../shared/peers), in one run, all in front of the same
# upstream (`llmux emulate`, zero scripted latency), everything on 127.0.0.1.
#
#   benchmarks/gateway/run.sh [BUILD_DIR] [SECONDS]
#
# Measures, for the emulator hit directly, llmux serve, nginx and Portkey in front of it:
#   1. throughput at saturation (wrk -t1 -c64), whole answers and SSE streams, with p50/p99;
#   2. latency at one connection (wrk -t1 -c1); the gateway's added latency is its percentile
#      minus the direct path's (a difference of percentiles, not a percentile of differences);
#   3. time to first token of streams, one call at a time (bench_gateway_ttft), added likewise;
#   4. peak RSS (VmHWM) of each gateway process after the load;
#   5. the CPU time each proxy and the emulator spent in each saturation run, so that a run
#      whose upstream was the bottleneck shows as one (the emulator near 100 % of a core).
# Prints the issue-15 ratios: llmux serve / nginx throughput (goal >= 0.8), added latency at
# c=1 against nginx's (p50 <= 1.2x, p99 <= 1.5x), added TTFT (<= 0.2 ms) and x Portkey.
# Needs: a build with benchmarks, wrk and nginx (scripts/install-deps.sh --with-tools), node and
# npm (the Portkey gateway is installed with `npm ci` into BUILD_DIR/peers the first time).
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

[[ -x $(command -v nginx || echo /usr/sbin/nginx) ]] || { echo "run.sh: needs nginx (scripts/install-deps.sh --with-tools)" >&2; exit 2; }
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

start_nginx "$emu"

pk_port=$(( 20000 + RANDOM % 20000 ))
PORTKEY_PORT=$pk_port "$peers/start-portkey.sh" >"$work/portkey.log" 2>&1 &
pk_pid=$!
pids+=($pk_pid)
pk=http://127.0.0.1:$pk_port
for _ in $(seq 200); do curl -s -o /dev/null "$pk/" && break; sleep 0.1; done
# start-portkey.sh execs node, so its pid is Portkey's.

echo "machine: $(nproc) cores; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); emulator $emu ($emu_threads thread), llmux serve $gw ($gw_threads thread), $("$nginx_bin" -v 2>&1 | sed 's/.*: //') $ng (1 worker), Portkey $pk"

# Every path must answer before anything is timed.
for url in "$emu" "$gw" "$ng" "$pk"; do
    code=$(curl -s -o "$work/check" -w '%{http_code}' "$url/v1/chat/completions" \
        -H 'content-type: application/json' -H 'authorization: Bearer sk-local-dummy' \
        -H 'x-portkey-provider: openai' -H "x-portkey-custom-host: $emu/v1" \
        -d '{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}')
    [[ $code == 200 ]] || { echo "run.sh: $url answered $code: $(head -c 300 "$work/check")" >&2; exit 1; }
done

results=$work/results
: >"$results"
# cpu_s PID: the CPU seconds (user + system) the process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# run LABEL URL CONNS [STREAM [PROXY_PID]]: one wrk run; with PROXY_PID, also the CPU seconds
# the proxy and the emulator spent during it.
run() {
    local label=$1 url=$2 c=$3 stream=${4:-0} proxy=${5:-} p0 e0 cpu=""
    [[ -n $proxy ]] && { p0=$(cpu_s "$proxy"); e0=$(cpu_s "$emu_pid"); }
    wrk_post "$url" "$c" "$stream"
    if [[ -n $proxy ]]; then
        cpu="  cpu: proxy $(awk -v a="$p0" -v b="$(cpu_s "$proxy")" 'BEGIN { printf "%.1f", b - a }') s"
        [[ $proxy != "$emu_pid" ]] &&
            cpu+=", emulator $(awk -v a="$e0" -v b="$(cpu_s "$emu_pid")" 'BEGIN { printf "%.1f", b - a }') s"
    fi
    printf '%-34s %10s req/s  p50 %8s ms  p99 %8s ms  errors %s%s\n' "$label" "$wrk_rps" \
        "$wrk_p50" "$wrk_p99" "$wrk_errors" "$cpu"
    echo "$label|$wrk_rps|$wrk_p50|$wrk_p99|$wrk_errors" >>"$results"
}
get() { awk -F'|' -v l="$1" -v f="$2" '$1 == l { print $f }' "$results"; }
hwm_mb() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

echo "--- warm-up (3 s each, discarded)"
for url in "$emu" "$gw" "$ng" "$pk"; do
    STREAM=0 UPSTREAM="$emu/v1" wrk -t1 -c"$conns" -d3s -s "$here/post.lua" "$url" >/dev/null 2>&1
    STREAM=1 UPSTREAM="$emu/v1" wrk -t1 -c"$conns" -d3s -s "$here/post.lua" "$url" >/dev/null 2>&1
done

echo "--- saturation: wrk -t1 -c$conns -d${secs}s"
for stream in 0 1; do
    mode=$([[ $stream == 1 ]] && echo stream || echo whole)
    run "emulator direct ($mode)" "$emu" "$conns" $stream "$emu_pid"
    run "llmux serve -> emulator ($mode)" "$gw" "$conns" $stream "$gw_pid"
    run "nginx -> emulator ($mode)" "$ng" "$conns" $stream "$ng_pid"
    run "Portkey -> emulator ($mode)" "$pk" "$conns" $stream "$pk_pid"
done

echo "--- one connection: wrk -t1 -c1 -d${secs}s"
run "emulator direct (c1)" "$emu" 1
run "llmux serve -> emulator (c1)" "$gw" 1
run "nginx -> emulator (c1)" "$ng" 1
run "Portkey -> emulator (c1)" "$pk" 1

echo "--- time to first token, one streamed call at a time (bench_gateway_ttft -n 2000)"
ttft() {
    "$build/benchmarks/bench_gateway_ttft" --stream -n 2000 --warmup 200 "$@" | tail -1
}
t_emu=$(ttft --base-url "$emu/v1")
t_gw=$(ttft --base-url "$gw/v1")
t_ng=$(ttft --base-url "$ng/v1")
t_pk=$(ttft --base-url "$pk/v1" --header "x-portkey-provider: openai" \
            --header "x-portkey-custom-host: $emu/v1")
gw_rss=$(hwm_mb "$gw_pid")
pk_rss=$(hwm_mb "$pk_pid")

ng_rss=$(hwm_mb "$ng_pid")

node - "$results" "$t_emu" "$t_gw" "$t_pk" "$gw_rss" "$pk_rss" "$t_ng" "$ng_rss" <<'EOF'
const fs = require('fs');
const [file, te, tg, tp, gwRss, pkRss, tn, ngRss] = process.argv.slice(2);
const rows = Object.fromEntries(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => {
  const [label, rps, p50, p99, errors] = l.split('|');
  return [label, { rps: +rps, p50: +p50, p99: +p99, errors: +errors }];
}));
const T = { emu: JSON.parse(te), gw: JSON.parse(tg), pk: JSON.parse(tp), ng: JSON.parse(tn) };
const r = (k) => rows[k];
const f1 = (x) => x.toFixed(1);
const out = [];
for (const mode of ['whole', 'stream']) {
  const e = r(`emulator direct (${mode})`), g = r(`llmux serve -> emulator (${mode})`),
    n = r(`nginx -> emulator (${mode})`), p = r(`Portkey -> emulator (${mode})`);
  out.push(`${mode.padEnd(6)} throughput: llmux serve ${Math.round(g.rps)} req/s = ` +
    `${(g.rps / n.rps).toFixed(2)}x nginx (${Math.round(n.rps)}; goal >= 0.8), ` +
    `${f1(g.rps / p.rps)}x Portkey (${Math.round(p.rps)}), ${(100 * g.rps / e.rps).toFixed(0)}% of the ` +
    `emulator direct (${Math.round(e.rps)})`);
}
const e1 = r('emulator direct (c1)'), g1 = r('llmux serve -> emulator (c1)'),
  n1 = r('nginx -> emulator (c1)'), p1 = r('Portkey -> emulator (c1)');
const us = (x) => Math.round(x * 1000);
out.push(`added latency at c=1: llmux serve p50 ${us(g1.p50 - e1.p50)} us, p99 ${us(g1.p99 - e1.p99)} us; ` +
  `nginx p50 ${us(n1.p50 - e1.p50)} us, p99 ${us(n1.p99 - e1.p99)} us (llmux / nginx: p50 ` +
  `${((g1.p50 - e1.p50) / (n1.p50 - e1.p50)).toFixed(2)}x, goal <= 1.2; p99 ` +
  `${((g1.p99 - e1.p99) / (n1.p99 - e1.p99)).toFixed(2)}x, goal <= 1.5); ` +
  `Portkey p50 ${us(p1.p50 - e1.p50)} us, p99 ${us(p1.p99 - e1.p99)} us`);
out.push(`added TTFT (streams, one at a time): llmux serve p50 ${f1(T.gw.ttft_p50_us - T.emu.ttft_p50_us)} us, ` +
  `p99 ${f1(T.gw.ttft_p99_us - T.emu.ttft_p99_us)} us (goal <= 200); nginx p50 ` +
  `${f1(T.ng.ttft_p50_us - T.emu.ttft_p50_us)} us, p99 ${f1(T.ng.ttft_p99_us - T.emu.ttft_p99_us)} us; Portkey p50 ` +
  `${f1((T.pk.ttft_p50_us - T.emu.ttft_p50_us) / 1000)} ms, p99 ${f1((T.pk.ttft_p99_us - T.emu.ttft_p99_us) / 1000)} ms`);
out.push(`peak RSS after the load: llmux serve ${gwRss} MiB, nginx ${ngRss} MiB, Portkey ${pkRss} MiB`);
const bad = Object.entries(rows).filter(([, v]) => v.errors > 0).map(([k]) => k);
if (bad.length) out.push(`WARNING: errors in ${bad.join(', ')}`);
console.log('=== summary\n' + out.join('\n'));
console.log(JSON.stringify({ rows, ttft: T, peak_rss_mb: { llmux: +gwRss, nginx: +ngRss, portkey: +pkRss } }));
EOF
