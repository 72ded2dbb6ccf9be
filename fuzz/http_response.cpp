// SPDX-License-Identifier: BSL-1.0
// The client's response parser (codec/http1.hpp) over arbitrary bytes in arbitrary splits, as
// the transport feeds it: never crashes, the outcome does not depend on how the bytes were
// split, and whatever it accepts, Beast's response parser (which the transport used before)
// accepts as the same response: it is never more lenient.
#include "split.hpp"

#include "codec/http1.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace http = boost::beast::http;

constexpr std::size_t header_limit = 8u << 10;
constexpr std::uint64_t body_limit = 64u << 10;

/// The response read from `data` (its first byte replaced by `first`, which picks the split);
/// the body is taken out after every put, as a stream's reader does.
std::string run(std::uint8_t const* data, std::size_t size, std::uint8_t first,
                llmux::detail::http1::response_parser& p, std::string& body) {
    std::vector<std::uint8_t> copy(data, data + size);
    copy[0] = first;
    p.reset();
    p.header_limit(header_limit);
    p.body_limit(body_limit);
    body.clear();
    boost::beast::error_code ec;
    std::string pending;
    llmux::fuzz::for_each_piece(copy.data(), copy.size(), [&](std::string_view piece) {
        pending.append(piece);
        while (!pending.empty() && !p.is_done()) {
            auto const n = p.put(pending, ec);
            pending.erase(0, n);
            body += p.get().body();
            p.get().body().clear();
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec) return false;
        }
        return !p.is_done();
    });
    if (!ec && !p.is_done()) {
        if (!p.got_some()) return "incomplete";
        p.put_eof(ec);
    }
    if (ec) return "error " + ec.message();
    if (!p.is_done()) return "incomplete";
    auto const& r = p.get();
    std::string out = std::to_string(r.status()) + " " + std::string(r.reason()) + " " +
                      std::to_string(r.version()) + (r.keep_alive() ? " keep\n" : " close\n");
    for (auto const& f : r.fields()) out += std::string(f.name) + ": " + std::string(f.value) + "\n";
    return out + body;
}

void same_as_beast(std::uint8_t const* data, std::size_t size,
                   llmux::detail::http1::response_parser const& p, std::string const& body) {
    http::response_parser<http::string_body> b;
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
    if (ec || !b.is_done()) std::abort();  // accepted here, refused by Beast
    auto const& ours = p.get();
    auto const& theirs = b.get();
    // (An empty reason reads as the standard one in Beast's message.)
    if (ours.status() != theirs.result_int() || (!ours.reason().empty() && ours.reason() != theirs.reason()) ||
        ours.version() != theirs.version() || body != theirs.body() ||
        (p.keep_alive() && !b.keep_alive()))
        std::abort();
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
    for (auto const& f : ours.fields()) a.emplace_back(f.name, f.value);
    for (auto const& f : theirs) t.emplace_back(f.name_string(), f.value());
    if (!p.chunked() && grouped(a) != grouped(t)) std::abort();
    if (p.chunked() && a.size() > t.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    static llmux::detail::http1::response_parser pa, pb;  // reused, as a connection's would be
    static std::string body_a, body_b;
    auto const a = run(data, size, data[0], pa, body_a);
    auto const b = run(data, size, 7, pb, body_b);
    if (a.starts_with("error ") != b.starts_with("error ")) std::abort();
    if (!a.starts_with("error ") && a != b) std::abort();
    if (pb.is_done()) same_as_beast(data, size, pb, body_b);
    return 0;
}
