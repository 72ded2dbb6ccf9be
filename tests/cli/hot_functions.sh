#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# CTest cli.hot_functions (when CMake lays the command out with cmake/hot-functions.txt): the
# listed functions still exist in the `llmux` binary, and the linker placed them together.
#
#   tests/cli/hot_functions.sh LLMUX_BINARY HOT_FUNCTIONS_TXT
#
# Fails when fewer than 80 % of the listed functions are in the binary (the list went stale:
# run scripts/hot-functions.sh) or when less than 90 % of their code lies in a stretch of twice
# its size (the ordering was not applied).
set -euo pipefail
export LC_ALL=C  # sort and join agree on the order
bin=$1
list=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v nm >/dev/null || { echo "hot_functions.sh: needs nm (binutils)" >&2; exit 1; }
sed 's/^\.text\.//' "$list" | sort -u >"$work/wanted"
# address size type name, for the text symbols with a size
nm --defined-only -S "$bin" | awk 'NF == 4 && $3 ~ /^[tTwW]$/ { print $4, $1, $2 }' |
    sort -k1,1 -u >"$work/symbols"
join "$work/wanted" "$work/symbols" >"$work/found"
wanted=$(wc -l <"$work/wanted")
found=$(wc -l <"$work/found")
# In decimal, by address: address size.
while read -r _ addr size; do echo "$((16#$addr)) $((16#$size))"; done <"$work/found" |
    sort -n >"$work/placed"
# The most of the found code's bytes that lie in any window twice their total size: with the
# ordering applied, (nearly) all of them; without it, a few percent.
read -r total packed < <(awk '
    { a[NR] = $1; s[NR] = $2; total += $2 }
    END {
        w = 2 * total; j = 1; in_w = 0; best = 0
        for (i = 1; i <= NR; ++i) {
            in_w += s[i]
            while (a[i] + s[i] - a[j] > w) { in_w -= s[j]; ++j }
            if (in_w > best) best = in_w
        }
        print total + 0, best + 0
    }' "$work/placed")
echo "hot functions: $found of $wanted in the binary; $packed of their $total bytes lie together"
(( wanted > 0 )) || { echo "FAIL: $list lists no function" >&2; exit 1; }
(( found > 0 && found * 100 >= wanted * 80 )) ||
    { echo "FAIL: cmake/hot-functions.txt is stale (run scripts/hot-functions.sh)" >&2; exit 1; }
(( packed * 100 >= total * 90 )) ||
    { echo "FAIL: the listed functions are not laid out together" >&2; exit 1; }
echo "PASS"
