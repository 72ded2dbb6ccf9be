#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Two builds of `llmux serve` compared back to back: the one to judge (B, e.g. this tree) and a
# reference (A, e.g. the last release built in a git worktree), each one thread, in front of
# the same `llmux emulate`, with nginx (one worker, keep-alive upstream, as in run.sh) beside
# them. The runs alternate between the three, in an order that changes every round (each takes
# each place in turn), so that a machine whose speed drifts (a shared one) slows all three
# alike and none gains from its place; each figure is the median of ROUNDS runs (a multiple
# of three gives each place equally).
#
#   benchmarks/gateway/ab.sh BUILD_A BUILD_B [SECONDS] [ROUNDS]
#
# Prints, for whole answers and SSE streams at 64 connections (wrk -t1): requests/s of A, B
# and nginx, B/A and B/nginx, and the CPU time each proxy spent per request in user space and
# in the kernel (from /proc, so that what the code costs shows apart from what the machine
# does); and at one connection each one's p50 and p99, the emulator's direct path measured in
# the same rounds, what each proxy adds to it (llmux's against nginx's) and the CPU time each
# spent per request there (every request at one connection meets cold caches). C1_ONLY=1 runs
# the one-connection rounds only (a layout or latency change: more rounds in the same time).
# Needs wrk and nginx (scripts/install-deps.sh --with-tools) and `llmux` in both build
# directories.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $# -ge 2 ]] || { echo "usage: ab.sh BUILD_A BUILD_B [SECONDS] [ROUNDS]" >&2; exit 2; }
build_a=$(cd "$1" && pwd)
build_b=$(cd "$2" && pwd)
secs=${3:-3}
rounds=${4:-3}
for b in "$build_a" "$build_b"; do
    [[ -x $b/llmux ]] || { echo "ab.sh: no llmux in $b" >&2; exit 2; }
done
source "$here/lib.sh"
need_wrk_nginx

start_emulator "$build_b" 1
start_gateway "$build_a" a && pid_a=$gw_pid url_a=$gw_url
start_gateway "$build_b" b && pid_b=$gw_pid url_b=$gw_url

start_nginx "$emu"
url_n=$ng
pid_n=$ng_pid

for url in "$url_a" "$url_b" "$url_n"; do
    code=$(curl -s -o "$work/check" -w '%{http_code}' "$url/v1/chat/completions" \
        -H 'content-type: application/json' -H 'authorization: Bearer sk-local-dummy' \
        -d '{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}')
    [[ $code == 200 ]] || { echo "ab.sh: $url answered $code: $(head -c 300 "$work/check")" >&2; exit 1; }
done

# order ROUND: the three proxies in the order to run them in that round. The place matters on
# this machine: with A always first, the same two builds swapped between A and B gave whole
# answers 0.93 then 1.03 (B/A) and streams 1.04 then 1.18 in one session. So each takes each
# place in turn (evenly when ROUNDS is a multiple of three).
declare -A urls=([a]=$url_a [b]=$url_b [n]=$url_n) procs=([a]=$pid_a [b]=$pid_b [n]=$pid_n)
order() {
    # Two Latin squares: any three rounds in a row give each proxy each place once, any six
    # every order.
    case $(( $1 % 6 )) in
        0) echo a b n ;; 1) echo b n a ;; 2) echo n a b ;;
        3) echo a n b ;; 4) echo b a n ;; *) echo n b a ;;
    esac
}

echo "A: $build_a   B: $build_b   nginx $("$nginx_bin" -v 2>&1 | sed 's/.*: //'); $(nproc) cores; ${rounds} alternating rounds of ${secs} s"
modes=(0 1)
[[ ${C1_ONLY:-0} == 1 ]] && modes=()
for url in "$url_a" "$url_b" "$url_n"; do  # warm-up, discarded
    for mode in "${modes[@]}"; do wrk_run "$url" 64 "$mode" >/dev/null; done
    wrk_run "$url" 1 0 >/dev/null
done
for mode in "${modes[@]}"; do
    : >"$work/r.a" && : >"$work/r.b" && : >"$work/r.n"
    for ((i = 0; i < rounds; i++)); do
        for x in $(order "$i"); do
            wrk_run "${urls[$x]}" 64 $mode "${procs[$x]}" >>"$work/r.$x"
        done
        echo "  round $((i + 1)): A $(tail -1 "$work/r.a" | cut -d' ' -f1)  B $(tail -1 "$work/r.b" | cut -d' ' -f1)  nginx $(tail -1 "$work/r.n" | cut -d' ' -f1) req/s"
    done
    a=$(cut -d' ' -f1 "$work/r.a" | median)
    b=$(cut -d' ' -f1 "$work/r.b" | median)
    n=$(cut -d' ' -f1 "$work/r.n" | median)
    printf '%-7s c=64: A %8.0f req/s   B %8.0f req/s   nginx %8.0f req/s   B/A %.2f   B/nginx %.2f (A/nginx %.2f)\n' \
        "$([[ $mode == 1 ]] && echo stream || echo whole)" "$a" "$b" "$n" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')" \
        "$(awk -v n="$n" -v b="$b" 'BEGIN { print b / n }')" \
        "$(awk -v n="$n" -v a="$a" 'BEGIN { print a / n }')"
    for x in a b n; do
        printf '        CPU per request, %-5s user %6.1f us  kernel %6.1f us\n' \
            "$([[ $x == n ]] && echo nginx || echo "${x^^}")" \
            "$(cut -d' ' -f4 "$work/r.$x" | median)" "$(cut -d' ' -f5 "$work/r.$x" | median)"
    done
done
: >"$work/r.a" && : >"$work/r.b" && : >"$work/r.n" && : >"$work/r.e"
for ((i = 0; i < rounds; i++)); do
    wrk_run "$emu" 1 0 >>"$work/r.e"
    for x in $(order "$i"); do wrk_run "${urls[$x]}" 1 0 "${procs[$x]}" >>"$work/r.$x"; done
done
# What each proxy adds at one connection: its median percentile minus the direct path's.
e50=$(cut -d' ' -f2 "$work/r.e" | median)
e99=$(cut -d' ' -f3 "$work/r.e" | median)
n50=$(cut -d' ' -f2 "$work/r.n" | median)
n99=$(cut -d' ' -f3 "$work/r.n" | median)
printf 'c=1 direct p50 %.3f ms  p99 %.3f ms\n' "$e50" "$e99"
for x in a b n; do
    p50=$(cut -d' ' -f2 "$work/r.$x" | median)
    p99=$(cut -d' ' -f3 "$work/r.$x" | median)
    printf 'c=1 %-6s p50 %.3f ms  p99 %.3f ms  added p50 %4.0f us  p99 %4.0f us' \
        "$([[ $x == n ]] && echo nginx || echo "${x^^}")" "$p50" "$p99" \
        "$(awk -v a="$p50" -v e="$e50" 'BEGIN { print (a - e) * 1000 }')" \
        "$(awk -v a="$p99" -v e="$e99" 'BEGIN { print (a - e) * 1000 }')"
    printf '  CPU per request user %5.1f us  kernel %5.1f us' \
        "$(cut -d' ' -f4 "$work/r.$x" | median)" "$(cut -d' ' -f5 "$work/r.$x" | median)"
    # (a ratio only when nginx adds something: noise can make its median the direct one's)
    if [[ $x != n ]] && awk -v n="$n50" -v e="$e50" -v m="$n99" -v f="$e99" \
            'BEGIN { exit !(n > e && m > f) }'; then
        printf '  (/ nginx added: p50 %.2f, p99 %.2f)' \
            "$(awk -v a="$p50" -v e="$e50" -v n="$n50" 'BEGIN { print (a - e) / (n - e) }')" \
            "$(awk -v a="$p99" -v e="$e99" -v n="$n99" 'BEGIN { print (a - e) / (n - e) }')"
    fi
    echo
done
