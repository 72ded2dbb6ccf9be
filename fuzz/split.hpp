// SPDX-License-Identifier: BSL-1.0
// Fuzz input layout shared by the targets: the first byte chooses how the rest is split into
// feeds, so the fuzzer explores chunk boundaries as well as contents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace llmux::fuzz {

/// Calls `feed(piece)` for consecutive pieces of `data[1..]`; piece sizes cycle through a small
/// pattern picked by `data[0]` (1 byte at a time, 2, 3, 7, 64, or all at once).
template <class Feed>
void for_each_piece(std::uint8_t const* data, std::size_t size, Feed&& feed) {
    if (size == 0) return;
    static constexpr std::size_t steps[] = {1, 2, 3, 7, 64, 4096, 13, 1 << 20};
    std::size_t const step = steps[data[0] % (sizeof steps / sizeof steps[0])];
    std::string_view rest(reinterpret_cast<char const*>(data + 1), size - 1);
    while (!rest.empty()) {
        auto const n = rest.size() < step ? rest.size() : step;
        if (!feed(rest.substr(0, n))) return;
        rest.remove_prefix(n);
    }
}

}  // namespace llmux::fuzz
