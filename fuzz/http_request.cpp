// SPDX-License-Identifier: BSL-1.0
// The server's request path over arbitrary bytes in arbitrary splits: the request parser
// (codec/http1.hpp) under the server's limits, the framing rules (request smuggling), then the
// gateway's request decoders of every registered server side on the body. Never crashes, the
// outcome does not depend on how the bytes were split, and whatever the parser accepts, Beast's
// parser (which the server used before) accepts as the same request: it is never more lenient.
#include "split.hpp"

#include "codec/http1.hpp"
#include "http/framing.hpp"
#include "wire/server.hpp"

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

std::string run(std::uint8_t const* data, std::size_t size, std::uint8_t first,
                llmux::detail::http1::request_parser& p) {
    std::vector<std::uint8_t> copy(data, data + size);
    copy[0] = first;
    p.reset();
    p.header_limit(header_limit);
    p.body_limit(body_limit);
    boost::beast::error_code ec;
    std::string pending;
    llmux::fuzz::for_each_piece(copy.data(), copy.size(), [&](std::string_view piece) {
        pending.append(piece);
        // The parser may take less than it is given (an incomplete line): keep the rest.
        while (!pending.empty() && !p.is_done()) {
            auto const n = p.put(pending, ec);
            pending.erase(0, n);
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec) return false;
        }
        return !p.is_done();
    });
    // End of input, as the server's reads say it (nothing at all is not a request).
    if (!ec && !p.is_done()) {
        if (!p.got_some()) return "incomplete";
        p.put_eof(ec);
    }
    if (ec) return "error " + ec.message();
    if (!p.is_done()) return "incomplete";
    auto const& req = p.get();
    std::string out = std::string(req.method_string()) + " " + std::string(req.target()) + "\n";
    if (auto problem = llmux::detail::framing_problem(req)) return out + std::string(*problem);
    llmux::detail::request_head head;
    head.method = "POST";
    for (auto const* server : llmux::detail::wire_servers()) {
        auto r = server->decode_request(head, req.body());
        if (r)
            out += "ok " + r->req.model + " " + std::to_string(r->req.messages.size()) + "\n";
        else
            out += std::to_string(r.error().status) + " " + r.error().param + "\n";
    }
    return out;
}

/// The request Beast's parser reads from the same bytes, when `p` (done) read one: the same
/// method, target, version, fields (Beast keeps trailers too), body; keep-alive no more often
/// than Beast's parser grants it (every Connection line counted).
void same_as_beast(std::uint8_t const* data, std::size_t size,
                   llmux::detail::http1::request_parser const& p) {
    http::request_parser<http::string_body> b;
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
    if (ours.method_string() != theirs.method_string() || ours.target() != theirs.target() ||
        ours.version() != theirs.version() || ours.body() != theirs.body() ||
        (ours.keep_alive() && !b.keep_alive()))
        std::abort();
    // Beast's container keeps the fields of one name together (in the order received); so
    // the two lists are compared grouped by name. Beast's also has the trailers.
    using fields = std::vector<std::pair<std::string, std::string>>;
    auto grouped = [](fields f) {
        auto lower = [](std::string s) {
            for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            return s;
        };
        std::stable_sort(f.begin(), f.end(),
                         [&](auto const& a, auto const& b) { return lower(a.first) < lower(b.first); });
        return f;
    };
    fields a, b_fields;
    for (auto const& f : ours.fields()) a.emplace_back(f.name, f.value);
    for (auto const& f : theirs) b_fields.emplace_back(f.name_string(), f.value());
    if (!p.chunked() && grouped(a) != grouped(b_fields)) std::abort();
    if (p.chunked() && a.size() > b_fields.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    static llmux::detail::http1::request_parser pa, pb;  // reused, as the server reuses one
    auto const a = run(data, size, data[0], pa);
    auto const b = run(data, size, 7, pb);
    // The same request whatever the split; a refusal in one split is a refusal in all.
    if (a.starts_with("error ") != b.starts_with("error ")) std::abort();
    if (!a.starts_with("error ") && a != b) std::abort();
    if (pb.is_done()) same_as_beast(data, size, pb);
    return 0;
}
