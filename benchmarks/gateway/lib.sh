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
# configuration whose model "mock-model" is openai/mock-model on it (GATEWAY_MODEL: another
# model entry for it, e.g. a fallback group; nginx and Portkey, in run.sh and ab.sh, still
# proxy to the one emulator), without an access log.
start_emulator() {
    "$1/llmux" emulate --port 0 --no-auth --threads "${2:-1}" >"$work/emu.log" 2>&1 &
    emu_pid=$!
    pids+=($emu_pid)
    emu=$(wait_url "$work/emu.log")
    local model=${GATEWAY_MODEL:-'"openai/mock-model"'}
    cat >"$work/gateway.json" <<EOF
{
  "providers": {"openai": {"base_url": "$emu/v1", "api_key": "sk-upstream-bench"}},
  "models": {"mock-model": $model},
  "gateway": {"access_log": false}
}
EOF
}

# need_wrk_nginx: exits with a message when wrk or nginx is missing.
need_wrk_nginx() {
    [[ -x $nginx_bin ]] && command -v wrk >/dev/null && return 0
    echo "$(basename "$0"): needs wrk and nginx (scripts/install-deps.sh --with-tools)" >&2
    exit 2
}

# start_gateway BUILD_DIR NAME: `llmux serve` (one thread) on a free loopback port with
# $work/gateway.json, its output in $work/NAME.log, stopped on exit; sets $gw_pid and $gw_url.
start_gateway() {
    "$1/llmux" serve --port 0 --threads 1 --config "$work/gateway.json" >"$work/$2.log" 2>&1 &
    gw_pid=$!
    pids+=($gw_pid)
    gw_url=$(wait_url "$work/$2.log")
}

# start_nginx UPSTREAM_URL [WORKERS]: nginx (Debian's nginx-light) as a plain reverse proxy in
# front of UPSTREAM_URL, stopped on exit: one process (master_process off: its CPU time is that
# process's), keep-alive to the upstream, SSE passed on as it arrives (proxy_buffering off), no
# access log, as llmux serve is run. Sets $ng to its URL and $ng_pid to its process, once it
# answers. With WORKERS > 1: a master and that many workers, each with its own SO_REUSEPORT
# listener ($ng_pid is then the master's).
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
start_nginx() {
    local port=$(( 20000 + RANDOM % 20000 )) workers=${2:-1} dir="$work/nginx${2:-}" reuse=""
    mkdir -p "$dir/tmp"
    (( workers > 1 )) && reuse=" reuseport"
    {
        [[ $(id -u) == 0 ]] && echo "user root;"
        cat <<NGINX
worker_processes $workers;
master_process $( (( workers > 1 )) && echo on || echo off);
daemon off;
error_log $dir/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 1000000;
    upstream emulator { server ${1#http://}; keepalive 128; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$port$reuse;
        location / {
            proxy_pass http://emulator;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
NGINX
    } >"$dir/nginx.conf"
    "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" >"$dir/out.log" 2>&1 &
    ng_pid=$!
    pids+=($ng_pid)
    ng=http://127.0.0.1:$port
    for _ in $(seq 200); do curl -s -o /dev/null "$ng/" && return 0; sleep 0.05; done
    echo "$(basename "$0"): nginx did not start:" >&2; cat "$dir/out.log" "$dir/error.log" >&2
    return 1
}

# wrk_post URL CONNS STREAM: one wrk run of post.lua ($secs seconds) against URL;
# sets wrk_rps, wrk_p50 and wrk_p99 (ms), wrk_requests and wrk_errors from its SUMMARY and
# LATENCY_MS lines. UPSTREAM (for Portkey's header mode) is the emulator's, when one runs.
wrk_post() {
    local out vars=("STREAM=$3")
    [[ -n ${emu:-} ]] && vars+=("UPSTREAM=$emu/v1")
    out=$(env "${vars[@]}" wrk -t1 -c"$2" -d"${secs}s" -s "$here/post.lua" "$1" 2>&1)
    wrk_rps=$(sed -n 's/^SUMMARY rps=\([0-9.]*\).*/\1/p' <<<"$out")
    wrk_requests=$(sed -n 's/^SUMMARY .*requests=\([0-9]*\).*/\1/p' <<<"$out")
    wrk_errors=$(sed -n 's/^SUMMARY .*errors=\([0-9]*\).*/\1/p' <<<"$out")
    wrk_p50=$(sed -n 's/^LATENCY_MS .*p50=\([0-9.]*\).*/\1/p' <<<"$out")
    wrk_p99=$(sed -n 's/^LATENCY_MS .*p99=\([0-9.]*\).*/\1/p' <<<"$out")
}

# wrk_run URL CONNS STREAM [PID]: one wrk_post run, printed as "rps p50 p99 user_us kernel_us
# voluntary involuntary": latencies in ms, then per request what PID spent in user space and in
# the kernel (CPU µs) and how often it slept or was preempted (context switches), from /proc
# (zeros without PID). Exits on errors.
wrk_run() {
    local a="0 0 0 0" b="0 0 0 0"
    [[ -n ${4:-} ]] && a=$(proc_counters "$4")
    wrk_post "$1" "$2" "$3"
    [[ -n ${4:-} ]] && b=$(proc_counters "$4")
    [[ $wrk_errors == 0 && $wrk_requests -gt 0 ]] ||
        { echo "$(basename "$0"): $wrk_errors errors from $1" >&2; exit 1; }
    awk -v a="$a" -v b="$b" -v n="$wrk_requests" -v hz="$(getconf CLK_TCK)" \
        -v head="$wrk_rps $wrk_p50 $wrk_p99" 'BEGIN {
            split(a, x); split(b, y)
            printf "%s %.1f %.1f %.3f %.3f\n", head, (y[1] - x[1]) * 1e6 / hz / n,
                (y[2] - x[2]) * 1e6 / hz / n, (y[3] - x[3]) / n, (y[4] - x[4]) / n }'
}
# proc_counters PID: "user_ticks system_ticks voluntary involuntary" so far.
proc_counters() {
    echo "$(awk '{ print $14, $15 }' "/proc/$1/stat")" \
         "$(awk '/^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { n = $2 } END { print v, n }' "/proc/$1/status")"
}
# median: the median of the numbers on standard input, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
