// SPDX-License-Identifier: BSL-1.0
// What may go into an HTTP header (RFC 9110 section 5): names are tokens, values hold no line
// breaks, NUL or other control characters. Checked where a value is loaded (config, environment,
// token endpoints) and again by the transport and the server before anything is written, so
// that no text can become a header line of its own (header injection, response splitting).
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace llmux::detail {

namespace header_detail {

constexpr bool tchar_rule(unsigned char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
    }
}

// The rule as a table: a lookup per byte (every request's headers are checked).
inline constexpr auto tchars = [] {
    std::array<bool, 256> t{};
    for (unsigned c = 0; c < 256; ++c) t[c] = tchar_rule(static_cast<unsigned char>(c));
    return t;
}();

/// How many leading bytes of `v` are known to hold no C0 control other than HTAB and no DEL,
/// in whole 16-byte blocks up to the first block that holds one: header_value_problem reads
/// on from there byte by byte (SSE2; without it, nothing is known).
inline std::size_t clean_blocks(std::string_view v) noexcept {
    std::size_t i = 0;
#if defined(__SSE2__)
    __m128i const limit = _mm_set1_epi8(0x1f), tab = _mm_set1_epi8('\t'),
                  del = _mm_set1_epi8(0x7f);
    for (; i + 16 <= v.size(); i += 16) {
        __m128i const x = _mm_loadu_si128(reinterpret_cast<__m128i const*>(v.data() + i));
        __m128i const control = _mm_cmpeq_epi8(_mm_min_epu8(x, limit), x);  // x <= 0x1f
        __m128i const bad = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(x, tab), control),
                                         _mm_cmpeq_epi8(x, del));
        if (_mm_movemask_epi8(bad) != 0) break;
    }
#endif
    return i;
}

/// The bytes a header value may not hold: C0 controls other than HTAB, and DEL.
inline constexpr auto value_bad = [] {
    std::array<bool, 256> t{};
    for (unsigned c = 0; c < 0x20; ++c)
        t[c] = c != '\t';
    t[0x7f] = true;
    return t;
}();

/// True when `v`, under 16 bytes (what clean_blocks leaves), holds none of them: a lookup a
/// byte without a branch (the loop of header_value_problem, which names the problem, costs a
/// dozen instructions a byte).
inline bool clean_short(std::string_view v) noexcept {
    if (v.size() >= 16) return false;
    bool bad = false;
    for (char c : v)
        bad |= value_bad[static_cast<unsigned char>(c)];
    return !bad;
}

}  // namespace header_detail

/// A `tchar` of RFC 9110 section 5.6.2.
constexpr bool is_tchar(char c) noexcept {
    return header_detail::tchars[static_cast<unsigned char>(c)];
}

/// True when `name` is a non-empty token.
constexpr bool is_header_name(std::string_view name) noexcept {
    if (name.empty()) return false;
    // Four lookups a step without a branch (every header name of every request and answer).
    bool ok = true;
    std::size_t i = 0;
    for (; name.size() - i >= 4; i += 4)
        ok &= is_tchar(name[i]) & is_tchar(name[i + 1]) & is_tchar(name[i + 2]) &
              is_tchar(name[i + 3]);
    for (; i < name.size(); ++i)
        ok &= is_tchar(name[i]);
    return ok;
}

/** What is wrong with `value` as a header value, or nothing. Horizontal tabs and bytes of
    0x80 and above (obs-text) are allowed; CR, LF, NUL, the other C0 controls and DEL are not.
    The text describes the problem, never the value (it may be a credential).
*/
constexpr std::optional<std::string_view> header_value_problem(std::string_view value) noexcept {
    if (!std::is_constant_evaluated()) {
        value.remove_prefix(header_detail::clean_blocks(value));
        if (header_detail::clean_short(value)) return std::nullopt;
    }
    for (char c : value) {
        auto const u = static_cast<unsigned char>(c);
        if (c == '\r' || c == '\n')
            return "contains a line break (CR or LF; a stray newline from a pasted value?)";
        if (c == '\0') return "contains a NUL byte";
        if ((u < 0x20 && c != '\t') || u == 0x7f) return "contains a control character";
    }
    return std::nullopt;
}

/// True when `value` may be sent as a header value.
constexpr bool is_header_value(std::string_view value) noexcept {
    return !header_value_problem(value);
}

/// A header name for an error message: control characters escaped, cut at 100 bytes. Never
/// use it for values.
inline std::string printable_name(std::string_view name) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (char c : name.substr(0, 100)) {
        auto const u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    if (name.size() > 100) out += "...";
    return out;
}

/** What is wrong with a header `name: value` pair, or nothing; names the header (printable),
    never the value.
*/
inline std::optional<std::string> header_problem(std::string_view name, std::string_view value) {
    if (!is_header_name(name))
        return name.empty() ? std::string("a header has an empty name")
                            : "the header name '" + printable_name(name) +
                                  "' is not a valid token (letters, digits and !#$%&'*+-.^_`|~)";
    if (auto p = header_value_problem(value))
        return "the value of header '" + std::string(name) + "' " + std::string(*p);
    return std::nullopt;
}

/** Appends the line `name: value` CRLF to `out` with one size check and two copies (four
    appends cost a check, a call and a copy each: 80 instructions a line on the gateway's path).
    Checks nothing: the caller validated both. Neither may point into `out` (growing it would
    free their bytes before they are copied).
*/
inline void append_field_line(std::string& out, std::string_view name, std::string_view value) {
    std::size_t const at = out.size();
    std::size_t const n = name.size() + value.size() + 4;
    if (out.capacity() - at < n) out.reserve(std::max(2 * out.capacity(), at + n));
    out.resize(at + n);
    char* p = out.data() + at;
    // char_traits::copy, not memcpy: an empty view may have no data (memcpy from null is
    // undefined even for no bytes).
    std::char_traits<char>::copy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    std::char_traits<char>::copy(p, value.data(), value.size());
    p += value.size();
    *p++ = '\r';
    *p = '\n';
}

}  // namespace llmux::detail
