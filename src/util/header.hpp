// SPDX-License-Identifier: BSL-1.0
// What may go into an HTTP header (RFC 9110 section 5): names are tokens, values hold no line
// breaks, NUL or other control characters. Checked where a value is loaded (config, environment,
// token endpoints) and again by the transport and the server before anything is written, so
// that no text can become a header line of its own (header injection, response splitting).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace llmux::detail {

/// A `tchar` of RFC 9110 section 5.6.2.
constexpr bool is_tchar(char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
    }
}

/// True when `name` is a non-empty token.
constexpr bool is_header_name(std::string_view name) noexcept {
    if (name.empty()) return false;
    for (char c : name)
        if (!is_tchar(c)) return false;
    return true;
}

/** What is wrong with `value` as a header value, or nothing. Horizontal tabs and bytes of
    0x80 and above (obs-text) are allowed; CR, LF, NUL, the other C0 controls and DEL are not.
    The text describes the problem, never the value (it may be a credential).
*/
constexpr std::optional<std::string_view> header_value_problem(std::string_view value) noexcept {
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

}  // namespace llmux::detail
