#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# The README's second command (and CI's): installs what is missing, builds everything, runs
# every test (unit, integration, the official SDKs against the emulator, the CMake consumer),
# then builds and runs the tests again under AddressSanitizer + UndefinedBehaviorSanitizer, then
# runs each libFuzzer target briefly (LLMUX_FUZZ_SECONDS each, default 20).
# Set LLMUX_SKIP_SANITIZE=1 to skip the sanitizer pass, LLMUX_FUZZ_SECONDS=0 to skip fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh
jobs=$(nproc)

if [[ -f tests/conformance/package-lock.json ]]; then
    (cd tests/conformance && npm ci --no-audit --no-fund --loglevel=error)
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

if [[ "${LLMUX_SKIP_SANITIZE:-0}" != 1 ]]; then
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLLMUX_SANITIZE=ON \
          -DLLMUX_BUILD_EXAMPLES=OFF -DLLMUX_BUILD_BENCHMARKS=OFF >/dev/null
    cmake --build build-asan -j "$jobs" --target unit integration
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --output-on-failure -j "$jobs" -L 'unit|integration')
fi
fuzz_secs=${LLMUX_FUZZ_SECONDS:-20}
if [[ "$fuzz_secs" != 0 ]]; then
    bash fuzz/run.sh "$fuzz_secs" build-fuzz
fi
echo "all tests passed"
