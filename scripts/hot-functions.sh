#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Writes cmake/hot-functions.txt: the functions of the `llmux` command that a gateway request
# runs, as the input sections of a -ffunction-sections build (`.text.<symbol>`), the most
# executed first. CMakeLists.txt hands the file to gold (--section-ordering-file) when it links
# the command, which lays those functions out together: at one connection a request's code is
# cold (the client and the upstream run between two requests on the same cores), and code
# spread over 4 MB of text costs cache and TLB misses that the same code in 100 KB does not
# (issue 15: 8-16 us of the added p50 in benchmarks/gateway/ab.sh).
#
#   scripts/hot-functions.sh [BUILD_DIR]        (default: build)
#
# Runs benchmarks/gateway/instructions.sh on BUILD_DIR's `llmux` (any configuration that is not
# sanitized; valgrind needed) with symbols left mangled, for OpenAI and for Anthropic clients,
# and keeps the functions of the `llmux` binary that executed during the measured requests,
# whole answers and streams. Run it again
# when the hot path changes: a name that no longer exists is ignored by the linker, and a new
# function missing from the list is only laid out as before.
set -euo pipefail
export LC_ALL=C
build=$(cd "${1:-$(dirname "$0")/../build}" && pwd)  # relative to where it is run from
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for client in openai anthropic; do
    CLIENT=$client VALGRIND_OPTS="--demangle=no" KEEP="$tmp/$client" \
        bash benchmarks/gateway/instructions.sh "$build" 300 >&2
done
# Self cost per function of the llmux binary (cost lines that follow a `calls=` line are the
# callee's inclusive cost, not the caller's own).
awk '
    /^ob=/    { ob = substr($0, 4); next }
    /^fn=/    { fn = substr($0, 4); mine = (ob ~ /\/llmux$/); next }
    /^calls=/ { callee = 1; next }
    /^[0-9+*-]/ {
        if (callee) { callee = 0; next }
        if (mine) cost[fn] += $2
        next
    }
    END { for (f in cost) if (cost[f] > 0) print cost[f], f }
' "$tmp"/*/callgrind.whole "$tmp"/*/callgrind.stream |
    sort -k1,1nr -k2,2 |
    # A complete-object constructor or destructor (C1, D1) is an alias in its base-object twin's
    # section (C2, D2): both names are listed.
    awk '{ print ".text." $2; alt = $2
           if (sub(/C1E/, "C2E", alt) || sub(/D1E/, "D2E", alt)) print ".text." alt }' \
        >"$tmp/list"
# A profile that found next to nothing (another binary's name, a shared libllmux) must not
# replace the list: the build would link with it.
n=$(wc -l <"$tmp/list")
(( n >= 100 )) || { echo "hot-functions.sh: only $n functions found; the list is unchanged" >&2; exit 1; }
mv "$tmp/list" cmake/hot-functions.txt
echo "cmake/hot-functions.txt: $n functions" >&2
