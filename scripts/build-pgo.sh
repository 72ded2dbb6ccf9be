#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Builds the `llmux` command with GCC's profile-guided optimisation: the build for a gateway
# in production (issue 15: what a request costs at one connection is mostly cold code, and the
# profile lays the hot paths out together and inlines along them).
#
#   scripts/build-pgo.sh [BUILD_DIR]        (default: build-pgo)
#
# 1. Configures BUILD_DIR (RelWithDebInfo, the command only) with -fprofile-generate, its
#    profiles under BUILD_DIR/pgo-profile, and builds `llmux`.
# 2. Trains it on loopback: `llmux emulate` as the upstream and `llmux serve` in front of it,
#    driven by `llmux bench` as an OpenAI and as an Anthropic client, whole answers and
#    streams, 64 calls in flight and one; all three are the instrumented binary, so the
#    client's paths (which the gateway uses upstream) are trained too. About a minute.
# 3. Rebuilds BUILD_DIR with -fprofile-use -fprofile-partial-training (code the training did
#    not run is optimised as without a profile).
#
# Takes two builds' time; the result is BUILD_DIR/llmux. BUILD_DIR is the script's own (its
# cache keeps the profile flags): not a directory you build or test in. A profile belongs to
# the sources it was made from: run the script again after changing them. GCC is used whatever
# CXX says (the flags are GCC's). Needs what the README's build
# needs (scripts/install-deps.sh) and GCC. PGO_REQUESTS sets the calls per training run
# (default 3000).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build-pgo}
requests=${PGO_REQUESTS:-3000}
mkdir -p "$build"
build=$(cd "$build" && pwd)
profile=$build/pgo-profile
jobs=$(nproc)

configure() {
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DCMAKE_CXX_COMPILER=g++ \
          -DLLMUX_BUILD_UNIT_TESTS=OFF -DLLMUX_BUILD_EXAMPLES=OFF -DLLMUX_BUILD_BENCHMARKS=OFF \
          -DLLMUX_HOT_ORDER=OFF \
          "-DCMAKE_CXX_FLAGS=$1" >/dev/null
}

echo "build-pgo.sh: 1/3 instrumented build in $build"
rm -rf "$profile"
configure "-fprofile-generate -fprofile-dir=$profile -fprofile-update=prefer-atomic"
cmake --build "$build" -j "$jobs" --target llmux_cli

echo "build-pgo.sh: 2/3 training ($requests calls per run)"
work=$(mktemp -d)
pids=()
cleanup() {
    # SIGINT: both servers stop gracefully, and an instrumented process writes its profile
    # when it exits normally.
    for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
url_in() {  # the http://host:port a server printed to LOG
    for _ in $(seq 600); do
        local url
        url=$(grep -o 'listening on http://[0-9.:]*' "$1" 2>/dev/null | head -1 | sed 's/listening on //') || true
        [[ -n $url ]] && { echo "$url"; return 0; }
        sleep 0.05
    done
    echo "build-pgo.sh: no URL in $1:" >&2; cat "$1" >&2; return 1
}
"$build/llmux" emulate --port 0 --no-auth --threads 1 >"$work/emu.log" 2>&1 &
pids+=($!)
emu=$(url_in "$work/emu.log")
cat >"$work/gateway.json" <<EOF
{
  "providers": {"openai": {"base_url": "$emu/v1", "api_key": "sk-upstream-training"}},
  "models": {"mock-model": "openai/mock-model"},
  "gateway": {"access_log": false}
}
EOF
"$build/llmux" serve --port 0 --threads 1 --config "$work/gateway.json" >"$work/gw.log" 2>&1 &
gw_pid=$!
pids+=($gw_pid)
gw=$(url_in "$work/gw.log")
train() {  # PROVIDER BASE_URL CONCURRENCY [--stream]
    "$build/llmux" bench -m "$1/mock-model" --base-url "$2" -n "$requests" -c "$3" \
        "${@:4}" "Introduce Python in one sentence" >"$work/bench.log" 2>&1 ||
        { echo "build-pgo.sh: the training run $* failed:" >&2; cat "$work/bench.log" >&2; exit 1; }
}
for stream in "" --stream; do
    train openai "$gw/v1" 64 $stream
    train anthropic "$gw" 64 $stream
    train openai "$gw/v1" 1 $stream
done
cleanup
trap - EXIT
ls "$profile"/*.gcda >/dev/null 2>&1 || { echo "build-pgo.sh: the training wrote no profile" >&2; exit 1; }

echo "build-pgo.sh: 3/3 optimised build"
configure "-fprofile-use -fprofile-dir=$profile -fprofile-partial-training -Wno-missing-profile"
cmake --build "$build" -j "$jobs" --target llmux_cli
echo "build-pgo.sh: done: $build/llmux"
