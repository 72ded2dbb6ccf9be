#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Where one connection's time goes: `llmux serve` (one thread) and nginx (one worker,
# keep-alive upstream, as in run.sh) in front of the same `llmux emulate`, one request at a
# time (wrk -t1 -c1), measured in the same run.
#
#   benchmarks/gateway/profile.sh [BUILD_DIR] [SECONDS] [ROUNDS]     (default: build 3 3)
#
# 1. Per request, medians of ROUNDS rounds (the two proxies swap places each round): p50 and
#    p99, the CPU time each proxy spent in user space and in the kernel, and how often it slept
#    (voluntary context switches) or was preempted (involuntary ones), all from /proc.
# 2. With perf (Debian's linux-perf): one more run of each under `perf record -e cpu-clock`
#    (a sampled time profile: it shows cache misses and page walks as time, which the
#    instruction count of instructions.sh cannot), printed as the share of the proxy's samples
#    in its own code, in each library and in the kernel, then its busiest functions. The
#    sampling slows the requests it profiles, so step 2's run is not part of step 1's figures.
#    In a virtual machine without a PMU the samples fall where interrupts are enabled again:
#    trust the split between user code and kernel more than the kernel's function names.
# STREAM=1 measures SSE streams instead of whole answers. Needs wrk and nginx
# (scripts/install-deps.sh --with-tools, which also installs linux-perf).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
secs=${2:-3}
rounds=${3:-3}
mode=${STREAM:-0}
[[ -x $build/llmux ]] || { echo "profile.sh: no llmux in $build" >&2; exit 2; }
source "$here/lib.sh"
need_wrk_nginx

start_emulator "$build" 1
start_gateway "$build" g && pid_g=$gw_pid url_g=$gw_url
start_nginx "$emu"
url_n=$ng
pid_n=$ng_pid


echo "llmux: $build   nginx $("$nginx_bin" -v 2>&1 | sed 's/.*: //'); $(nproc) cores;" \
     "$([[ $mode == 1 ]] && echo streams || echo "whole answers"), one connection, ${rounds} rounds of ${secs} s"
for u in "$emu" "$url_g" "$url_n"; do wrk_post "$u" 1 "$mode"; done  # warm-up, discarded
: >"$work/r.e" && : >"$work/r.g" && : >"$work/r.n"
for ((i = 0; i < rounds; i++)); do
    wrk_run "$emu" 1 "$mode" >>"$work/r.e"
    # (the two proxies swap places every round: which one follows the other matters here)
    if ((i % 2 == 0)); then
        wrk_run "$url_g" 1 "$mode" "$pid_g" >>"$work/r.g"
        wrk_run "$url_n" 1 "$mode" "$pid_n" >>"$work/r.n"
    else
        wrk_run "$url_n" 1 "$mode" "$pid_n" >>"$work/r.n"
        wrk_run "$url_g" 1 "$mode" "$pid_g" >>"$work/r.g"
    fi
done
e50=$(cut -d' ' -f2 "$work/r.e" | median)
printf '%-12s p50 %7.1f us\n' direct "$(awk -v v="$e50" 'BEGIN { print v * 1000 }')"
for x in g n; do
    col() { cut -d' ' -f"$1" "$work/r.$x" | median; }
    printf '%-12s p50 %7.1f us (adds %5.1f)  p99 %7.1f us  user %5.1f us  kernel %5.1f us  sleeps %.2f  preempted %.3f per request\n' \
        "$([[ $x == g ]] && echo "llmux serve" || echo nginx)" \
        "$(awk -v v="$(col 2)" 'BEGIN { print v * 1000 }')" \
        "$(awk -v v="$(col 2)" -v e="$e50" 'BEGIN { print (v - e) * 1000 }')" \
        "$(awk -v v="$(col 3)" 'BEGIN { print v * 1000 }')" "$(col 4)" "$(col 5)" "$(col 6)" "$(col 7)"
done

perf_bin=$(command -v perf || true)
if [[ -z $perf_bin ]] || ! "$perf_bin" record -e cpu-clock -o "$work/probe.data" -- true >/dev/null 2>&1; then
    echo "(no time profile: perf is missing or may not record here; Debian's linux-perf, and" \
         "kernel.perf_event_paranoid <= 1 for the kernel's share)"
    exit 0
fi
for x in g n; do
    if [[ $x == g ]]; then pid=$pid_g url=$url_g name="llmux serve"; else pid=$pid_n url=$url_n name=nginx; fi
    "$perf_bin" record -e cpu-clock -F 10000 -o "$work/$x.data" -p "$pid" >/dev/null 2>&1 &
    perf_pid=$!
    # perf opens its events before the run starts: wait until it has written its header.
    for _ in $(seq 100); do [[ -s $work/$x.data ]] && break; sleep 0.05; done
    wrk_post "$url" 1 "$mode"
    kill -INT "$perf_pid" 2>/dev/null || true  # (perf may have stopped: no process to follow)
    wait "$perf_pid" || true
    [[ -s $work/$x.data ]] || { echo "== $name: perf recorded nothing"; continue; }
    report() { "$perf_bin" report -i "$work/$x.data" --no-children --stdio -q "$@" 2>/dev/null; }
    echo "== $name, time profile of $wrk_requests requests (share of its samples)"
    # (awk stops the listing, not head: a closed pipe would fail the script under pipefail)
    report --sort dso | awk 'NF && ++n <= 8 { printf "   %7s  %s\n", $1, $2 }'
    echo "   busiest functions:"
    report --sort dso,sym | awk -v top="${TOP:-25}" 'NF && ++n <= top { $2 = ""; printf "   %s\n", substr($0, 1, 150) }'
done
