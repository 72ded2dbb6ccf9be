#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The README's second command (and CI's): installs what is missing, builds everything, runs
# every test once (the unit and integration tests with the library under AddressSanitizer +
# UndefinedBehaviorSanitizer; the command's tests, the official SDKs, the examples and the CMake
# consumer in an optimised build), then runs each libFuzzer target over a fixed number of inputs
# from a fixed seed (LLMUX_FUZZ_RUNS each, default 150000; the same inputs on every machine, so a
# run that passes here passes in CI; `bash fuzz/run.sh SECONDS` explores at random for longer).
# A redis-server on a free loopback port serves the Redis state store's tests
# (LLMUX_TEST_REDIS). Set LLMUX_SKIP_SANITIZE=1 to skip the sanitizer pass (the unit and
# integration tests then run in the optimised build), LLMUX_FUZZ_RUNS=0 to skip fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh
jobs=$(nproc)

# A Redis for the Redis state store's tests, on a free loopback port, writing nothing to disk
# (no RDB, no AOF; its log and pid file live in a temporary directory). The tests find it
# through LLMUX_TEST_REDIS; it is stopped on exit, also when a step fails.
redis_dir=$(mktemp -d)
redis_pid=""
stop_redis() {
    if [[ -n "$redis_pid" ]]; then
        kill "$redis_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$redis_dir"
}
trap stop_redis EXIT
start_redis() {
    local port
    for _ in $(seq 20); do
        port=$((20000 + RANDOM % 40000))
        # Something answers there already: try another port.
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
        rm -f "$redis_dir/redis.pid"
        redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$redis_dir" --logfile "$redis_dir/redis.log" \
            --pidfile "$redis_dir/redis.pid" --daemonize yes >/dev/null || continue
        for _ in $(seq 50); do
            if [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]]; then
                redis_pid=$(cat "$redis_dir/redis.pid")
                export LLMUX_TEST_REDIS="127.0.0.1:$port"
                echo "test.sh: redis-server on $LLMUX_TEST_REDIS" >&2
                return 0
            fi
            sleep 0.1
        done
        [[ -f "$redis_dir/redis.pid" ]] && kill "$(cat "$redis_dir/redis.pid")" 2>/dev/null
    done
    echo "test.sh: could not start redis-server (see $redis_dir/redis.log)" >&2
    return 1
}
start_redis

if [[ -f tests/conformance/package-lock.json ]]; then
    (cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
fi

# Each test executable is compiled once: the unit and integration tests in the sanitizer pass
# (Debug; the library under AddressSanitizer + UndefinedBehaviorSanitizer, the tests' own code
# under AddressSanitizer only, which saves about a third of the pass: tests/CMakeLists.txt),
# everything else (the llmux command and
# its tests, the official SDKs against it, the examples, the benchmarks, the CMake consumer) in
# the plain optimised pass. With LLMUX_SKIP_SANITIZE=1 the plain pass builds and runs them all.
# Line tables only (-g1) in both passes: sanitizer reports and gdb backtraces keep their file
# and line, and the heavily templated translation units compile about 30 % faster than with -g
# (tests/integration/gateway.cpp: 73 s instead of 104 s here).
sanitize=1
[[ "${LLMUX_SKIP_SANITIZE:-0}" == 1 ]] && sanitize=0
unit_in_plain=ON
[[ $sanitize == 1 ]] && unit_in_plain=OFF
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
      -DLLMUX_BUILD_UNIT_TESTS=$unit_in_plain >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

if [[ $sanitize == 1 ]]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g1" \
          -DLLMUX_SANITIZE=ON -DLLMUX_BUILD_UNIT_TESTS=ON \
          -DLLMUX_BUILD_EXAMPLES=OFF -DLLMUX_BUILD_BENCHMARKS=OFF >/dev/null
    cmake --build build-asan -j "$jobs" --target unit integration
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --output-on-failure -j "$jobs" -L 'unit|integration')
fi
fuzz_runs=${LLMUX_FUZZ_RUNS:-150000}
if [[ "$fuzz_runs" != 0 ]]; then
    LLMUX_FUZZ_RUNS=$fuzz_runs bash fuzz/run.sh 0 build-fuzz
fi
echo "all tests passed"
