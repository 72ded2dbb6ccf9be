// SPDX-License-Identifier: BSL-1.0
#include "http/framing.hpp"

#include "util/text.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/url/ipv6_address.hpp>

namespace llmux::detail {

namespace beast = boost::beast;

std::optional<std::string_view> framing_problem(http1::request const& head) noexcept {
    bool te = false;
    bool cl = false;
    std::size_t codings = 0;
    bool only_chunked = true;
    for (auto const& f : head.fields()) {
        if (beast::iequals(f.name, "content-length")) cl = true;
        if (!beast::iequals(f.name, "transfer-encoding")) continue;
        te = true;
        // A comma-separated list of codings, possibly over several lines: it must be exactly
        // one `chunked` (no parameters), the only coding this server decodes.
        std::string_view v = f.value;
        for (;;) {
            auto const comma = v.find(',');
            auto item = v.substr(0, comma);
            while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
                item.remove_prefix(1);
            while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
                item.remove_suffix(1);
            if (!item.empty()) {
                ++codings;
                if (!beast::iequals(item, "chunked")) only_chunked = false;
            }
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    if (!te) return std::nullopt;
    if (head.version() < 11) return "Transfer-Encoding is not allowed in an HTTP/1.0 request";
    if (cl) return "a request must not have both Transfer-Encoding and Content-Length";
    if (codings != 1 || !only_chunked)
        return "Transfer-Encoding must be exactly 'chunked' (no other coding is accepted)";
    return std::nullopt;
}

namespace {

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

/// unreserved / sub-delims of RFC 3986 section 2: the bytes of a reg-name besides `%XX`.
bool is_name_char(char c) noexcept {
    using namespace std::string_view_literals;
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           (c != '\0' && "-._~!$&'()*+,;="sv.find(c) != std::string_view::npos);
}

/// `uri-host [ ":" port ]` (RFC 3986 section 3.2.2 and 3.2.3), or empty.
bool is_host_value(std::string_view v) noexcept {
    std::string_view rest;
    if (!v.empty() && v.front() == '[') {
        // IP-literal: an IPv6 address, or an IPvFuture ("v" 1*HEXDIG "." 1*( unreserved /
        // sub-delims / ":" )).
        auto const close = v.find(']');
        if (close == std::string_view::npos) return false;
        auto const literal = v.substr(1, close - 1);
        if (!literal.empty() && (literal.front() == 'v' || literal.front() == 'V')) {
            auto const dot = literal.find('.');
            if (dot == std::string_view::npos || dot == 1 || dot + 1 == literal.size())
                return false;
            for (char c : literal.substr(1, dot - 1))
                if (hex_value(c) < 0) return false;
            for (char c : literal.substr(dot + 1))
                if (!is_name_char(c) && c != ':') return false;
        } else if (!boost::urls::parse_ipv6_address({literal.data(), literal.size()})) {
            return false;
        }
        rest = v.substr(close + 1);
    } else {
        // reg-name (an IPv4 address is one too): its bytes and %XX escapes, up to a ':'.
        std::size_t i = 0;
        while (i < v.size() && v[i] != ':') {
            if (v[i] == '%') {
                if (v.size() - i < 3 || hex_value(v[i + 1]) < 0 || hex_value(v[i + 2]) < 0)
                    return false;
                i += 3;
            } else if (is_name_char(v[i])) {
                ++i;
            } else {
                return false;
            }
        }
        rest = v.substr(i);
    }
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    for (char c : rest.substr(1))  // port = *DIGIT (it may be empty)
        if (!is_digit(c)) return false;
    return true;
}

}  // namespace

std::optional<std::string_view> host_problem(http1::request const& head) noexcept {
    std::size_t hosts = 0;
    bool valid = true;
    for (auto const& f : head.fields()) {
        if (f.name.size() != 4 || !beast::iequals(f.name, "host")) continue;
        ++hosts;
        valid = valid && is_host_value(f.value);
    }
    if (hosts > 1) return "a request must have one Host header, not several";
    if (hosts == 0 && head.version() >= 11) return "an HTTP/1.1 request must have a Host header";
    if (!valid) return "the Host header is not a host name or address with an optional port";
    return std::nullopt;
}

bool expects_continue(http1::request const& head) noexcept {
    return head.version() >= 11 &&
           beast::iequals(head[boost::beast::http::field::expect], "100-continue");
}

}  // namespace llmux::detail
