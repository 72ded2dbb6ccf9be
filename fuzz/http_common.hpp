// SPDX-License-Identifier: BSL-1.0
// What the two HTTP fuzz targets (http_request, http_response) share: feeding a parser of
// codec/http1.hpp the input in the pieces its first byte picks, as the server and the
// transport do, and reading the same bytes with Beast's parser to compare.
#pragma once

#include "split.hpp"

#include "codec/http1.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::fuzz {

constexpr std::size_t header_limit = 8u << 10;
constexpr std::uint64_t body_limit = 64u << 10;

/** Feeds `data` (its first byte replaced by `first`, which picks the split) to `p` under the
    limits above, keeping what the parser leaves for the next piece, then the end of the input.
    `take_body` runs after every put (a stream's reader takes the body as it comes). Empty when
    a whole message was read; else "incomplete" or "error " and the error.
*/
template <bool isRequest, class TakeBody>
std::string feed(std::uint8_t const* data, std::size_t size, std::uint8_t first,
                 detail::http1::parser<isRequest>& p, TakeBody&& take_body) {
    namespace http = boost::beast::http;
    std::vector<std::uint8_t> copy(data, data + size);
    copy[0] = first;
    p.reset();
    p.header_limit(header_limit);
    p.body_limit(body_limit);
    boost::beast::error_code ec;
    std::string pending;
    for_each_piece(copy.data(), copy.size(), [&](std::string_view piece) {
        pending.append(piece);
        while (!pending.empty() && !p.is_done()) {
            auto const n = p.put(pending, ec);
            pending.erase(0, n);
            take_body();
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec) return false;
        }
        return !p.is_done();
    });
    // End of input, as the server's and the transport's reads say it (nothing at all is not a
    // message).
    if (!ec && !p.is_done()) {
        if (!p.got_some()) return "incomplete";
        p.put_eof(ec);
    }
    if (ec) return "error " + ec.message();
    if (!p.is_done()) return "incomplete";
    return {};
}

/** Beast's parser `b` (limits set) over the same bytes, whole: false when Beast refuses them
    or finds no whole message.
*/
template <class BeastParser>
bool beast_reads(std::uint8_t const* data, std::size_t size, BeastParser& b) {
    b.header_limit(header_limit);
    b.body_limit(body_limit);
    b.eager(true);
    std::string pending(reinterpret_cast<char const*>(data + 1), size - 1);
    boost::beast::error_code ec;
    while (!b.is_done() && !pending.empty()) {
        auto const n = b.put(boost::asio::buffer(pending), ec);
        pending.erase(0, n);
        if (ec) break;
    }
    if (!ec && !b.is_done()) b.put_eof(ec);
    return !ec && b.is_done();
}

/** Whether `ours` (a parsed message's fields) are Beast's `theirs`: Beast's container keeps the
    fields of one name together, in the order received, so the lists are compared grouped by
    name; with a chunked body Beast also has the trailers, so only the count is bounded.
*/
template <class BeastFields>
bool same_fields(std::span<detail::http1::field const> ours, BeastFields const& theirs,
                 bool chunked) {
    using fields = std::vector<std::pair<std::string, std::string>>;
    auto grouped = [](fields f) {
        auto lower = [](std::string s) {
            for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return s;
        };
        std::stable_sort(f.begin(), f.end(),
                         [&](auto const& x, auto const& y) { return lower(x.first) < lower(y.first); });
        return f;
    };
    fields a, t;
    for (auto const& f : ours) a.emplace_back(f.name, f.value);
    for (auto const& f : theirs) t.emplace_back(f.name_string(), f.value());
    return chunked ? a.size() <= t.size() : grouped(a) == grouped(t);
}

}  // namespace llmux::fuzz
