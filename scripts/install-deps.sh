#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Installs the Debian packages llmux needs, only those missing (idempotent, Debian 12).
# Usage: scripts/install-deps.sh [--with-tools]   (--with-tools adds wrk, hyperfine, valgrind,
# nginx-light and linux-perf for the benchmarks)
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config libssl-dev
          binutils                        # gold and nm: the hot-function layout and its test
          libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
          libboost-test1.81-dev libboost-program-options1.81-dev
          libsqlite3-dev libhiredis-dev   # the state stores (src/state/)
          libgoogle-perftools-dev         # tcmalloc for the llmux command (LLMUX_TCMALLOC)
          redis-server                    # the Redis store's tests (scripts/test.sh starts one)
          clang libclang-rt-14-dev)   # clang: the libFuzzer targets
if [[ "${1:-}" == "--with-tools" ]]; then
    packages+=(wrk hyperfine valgrind nginx-light linux-perf)
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
