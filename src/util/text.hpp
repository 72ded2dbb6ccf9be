// SPDX-License-Identifier: BSL-1.0
// Small text helpers shared by the wire formats, the emulator and the signers.
#pragma once

#include <string>
#include <string_view>

namespace llmux::detail {

/// `s` without leading and trailing spaces, tabs, CRs and LFs.
inline std::string_view trim(std::string_view s) noexcept {
    constexpr std::string_view ws = " \t\r\n";
    auto const b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

/// The value of a hex digit, or -1.
inline int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Decodes `%XX` escapes. A `%` not followed by two hex digits is kept literally, as lenient
/// servers do.
inline std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            int const hi = hex_value(s[i + 1]);
            int const lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>((hi << 4) | lo));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

}  // namespace llmux::detail
