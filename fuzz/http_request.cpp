// SPDX-License-Identifier: BSL-1.0
// The server's request path over arbitrary bytes in arbitrary splits: the request parser
// (codec/http1.hpp) under the server's limits, the framing and Host rules (request smuggling), then
// the gateway's request decoders of every registered server side on the body. Never crashes, the
// outcome does not depend on how the bytes were split, and whatever the parser accepts, Beast's
// parser (which the server used before) accepts as the same request: it is never more lenient.
#include "http_common.hpp"

#include "http/framing.hpp"
#include "wire/server.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdlib>
#include <string>

namespace {

namespace http = boost::beast::http;
using llmux::detail::http1::request_parser;

std::string run(std::uint8_t const* data, std::size_t size, std::uint8_t first, request_parser& p) {
    if (auto failed = llmux::fuzz::feed(data, size, first, p, [] {}); !failed.empty()) return failed;
    auto const& req = p.get();
    std::string out = std::string(req.method_string()) + " " + std::string(req.target()) + "\n";
    if (auto problem = llmux::detail::framing_problem(req)) return out + std::string(*problem);
    if (auto problem = llmux::detail::host_problem(req)) return out + std::string(*problem);
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
void same_as_beast(std::uint8_t const* data, std::size_t size, request_parser const& p) {
    http::request_parser<http::string_body> b;
    if (!llmux::fuzz::beast_reads(data, size, b)) std::abort();  // accepted here, refused by Beast
    auto const& ours = p.get();
    auto const& theirs = b.get();
    if (ours.method_string() != theirs.method_string() || ours.target() != theirs.target() ||
        ours.version() != theirs.version() || ours.body() != theirs.body() ||
        (ours.keep_alive() && !b.keep_alive()) ||
        !llmux::fuzz::same_fields(ours.fields(), theirs, p.chunked()))
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    static request_parser pa, pb;  // reused, as the server reuses one per connection
    auto const a = run(data, size, data[0], pa);
    auto const b = run(data, size, 7, pb);
    // The same request whatever the split; a refusal in one split is a refusal in all.
    if (a.starts_with("error ") != b.starts_with("error ")) std::abort();
    if (!a.starts_with("error ") && a != b) std::abort();
    if (pb.is_done()) same_as_beast(data, size, pb);
    return 0;
}
