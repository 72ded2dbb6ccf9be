// SPDX-License-Identifier: BSL-1.0
// Small text helpers shared by the wire formats, the emulator and the signers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace llmux::detail {

/// @name ASCII case-insensitive comparisons (header names and values, URI schemes, media types)
/// @{
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
        if (x != y) return false;
    }
    return true;
}
inline bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}
inline bool iends_with(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}
inline bool icontains(std::string_view haystack, std::string_view needle) noexcept {
    if (needle.size() > haystack.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
        if (iequals(haystack.substr(i, needle.size()), needle)) return true;
    return false;
}
/// @}

/** The parts of a `data:` URI (RFC 2397), as views of it: the media type as written
    (parameters included, `;base64` left out; empty when the URI names none), whether the data
    is base64, and the data. The scheme and `;base64` are matched whatever their case, as the
    RFC's grammar has them. The one reading of data URIs: the wire formats, their server sides
    and the prompt estimate all take the same URIs (each format then says whether empty data
    will do).
*/
struct data_uri_parts {
    std::string_view media_type;
    bool base64 = false;
    std::string_view data;
};

inline std::optional<data_uri_parts> split_data_uri(std::string_view uri) noexcept {
    constexpr std::string_view scheme = "data:", b64 = ";base64";
    if (!istarts_with(uri, scheme)) return std::nullopt;
    auto const comma = uri.find(',', scheme.size());
    if (comma == std::string_view::npos) return std::nullopt;
    data_uri_parts p;
    p.media_type = uri.substr(scheme.size(), comma - scheme.size());
    p.data = uri.substr(comma + 1);
    if (iends_with(p.media_type, b64)) {
        p.base64 = true;
        p.media_type.remove_suffix(b64.size());
    }
    return p;
}

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
