#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# How `llmux serve` scales past one thread (issue 15): one thread; two threads behind one
# acceptor (`--threads 2`); two single-threaded processes on one port (`--reuse-port`, each
# with its own SO_REUSEPORT listener, as nginx's workers); and nginx with one and two workers
# (`reuseport`) beside them. Everything runs in front of the same `llmux emulate` on 127.0.0.1.
#
#   benchmarks/gateway/scaling.sh [BUILD_DIR] [SECONDS] [ROUNDS]
#
# Each round runs wrk -t1 -c64 for SECONDS (default 3) on every target in turn, whole answers
# then SSE streams; the figures are the medians over ROUNDS (default 5) rounds, so that a burst
# of load on the machine touches one round of every target rather than one target. Reports
# requests per second and each configuration against one llmux thread and against nginx's
# workers of the same count. The machine's cores bound what can scale: wrk, the emulator and
# the proxies share them. Needs wrk and nginx (scripts/install-deps.sh --with-tools), python3
# and node.
# Environment: EMU_THREADS (default 2, so that the upstream is not what limits two workers),
# CONNS (default 64).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
secs=${2:-3}
rounds=${3:-5}
conns=${CONNS:-64}
emu_threads=${EMU_THREADS:-2}
command -v wrk >/dev/null || { echo "scaling.sh: needs wrk (scripts/install-deps.sh --with-tools)" >&2; exit 2; }
[[ -x $build/llmux ]] || { echo "scaling.sh: build llmux_cli in $build first" >&2; exit 2; }
source "$here/lib.sh"

start_emulator "$build" "$emu_threads"

# serve LOG ARGS...: one `llmux serve` in the background (in this shell, so that it is stopped
# on exit); `wait_url LOG` then reads its URL.
serve() {
    local log=$1
    shift
    "$build/llmux" serve --config "$work/gateway.json" "$@" >"$log" 2>&1 &
    pids+=($!)
}
serve "$work/gw1.log" --port 0 --threads 1
serve "$work/gw2.log" --port 0 --threads 2
# Two processes on one port: the port is one the kernel just handed out and gave back.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
serve "$work/rp1.log" --port "$port" --threads 1 --reuse-port
serve "$work/rp2.log" --port "$port" --threads 1 --reuse-port
gw1=$(wait_url "$work/gw1.log")
gw2=$(wait_url "$work/gw2.log")
rp=$(wait_url "$work/rp1.log")
[[ $(wait_url "$work/rp2.log") == "$rp" ]] ||
    { echo "scaling.sh: the second --reuse-port process did not share $rp" >&2; exit 1; }
start_nginx "$emu" 1
ng1=$ng
start_nginx "$emu" 2
ng2=$ng

labels=("emulator direct" "llmux serve, 1 thread" "llmux serve --threads 2 (one acceptor)"
        "2 x llmux serve --reuse-port" "nginx, 1 worker" "nginx, 2 workers (reuseport)")
urls=("$emu" "$gw1" "$gw2" "$rp" "$ng1" "$ng2")
for url in "${urls[@]}"; do
    code=$(curl -s -o "$work/check" -w '%{http_code}' "$url/v1/chat/completions" \
        -H 'content-type: application/json' -H 'authorization: Bearer sk-local-dummy' \
        -d '{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}')
    [[ $code == 200 ]] || { echo "scaling.sh: $url answered $code: $(head -c 300 "$work/check")" >&2; exit 1; }
done
echo "machine: $(nproc) cores; emulator $emu_threads thread(s); wrk -t1 -c$conns -d${secs}s, $rounds rounds, medians"

results=$work/results
: >"$results"
for url in "${urls[@]}"; do  # warm-up, discarded
    STREAM=0 wrk -t1 -c"$conns" -d1s -s "$here/post.lua" "$url" >/dev/null 2>&1
done
for ((r = 1; r <= rounds; r++)); do
    for stream in 0 1; do
        for i in "${!urls[@]}"; do
            wrk_post "${urls[$i]}" "$conns" "$stream"
            echo "$i|$stream|$wrk_rps|$wrk_errors" >>"$results"
        done
    done
    echo "round $r of $rounds done"
done

node - "$results" "${labels[@]}" <<'EOF'
const fs = require('fs');
const [file, ...labels] = process.argv.slice(2);
const runs = {};
let errors = 0;
for (const line of fs.readFileSync(file, 'utf8').trim().split('\n')) {
  const [i, stream, rps, err] = line.split('|');
  (runs[`${i}|${stream}`] ??= []).push(+rps);
  errors += +err;
}
const median = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const out = [];
for (const stream of ['0', '1']) {
  out.push(stream === '0' ? 'whole answers' : 'streams');
  const m = labels.map((_, i) => median(runs[`${i}|${stream}`]));
  labels.forEach((l, i) => {
    let note = '';
    if (i >= 1 && i <= 3) note = `  ${(m[i] / m[1]).toFixed(2)}x one thread, ${(m[i] / m[i === 1 ? 4 : 5]).toFixed(2)}x nginx with as many workers`;
    if (i === 5) note = `  ${(m[5] / m[4]).toFixed(2)}x one worker`;
    out.push(`  ${l.padEnd(40)} ${String(Math.round(m[i])).padStart(7)} req/s${note}`);
  });
}
if (errors) out.push(`WARNING: ${errors} socket errors`);
console.log(out.join('\n'));
EOF
