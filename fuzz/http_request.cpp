// SPDX-License-Identifier: BSL-1.0
// The server's request path over arbitrary bytes in arbitrary splits: Beast's request parser
// under the server's limits, the framing rules (request smuggling), then the gateway's request
// decoders of every registered server side on the body. Never crashes, and the outcome does not
// depend on how the bytes were split.
#include "split.hpp"

#include "http/framing.hpp"
#include "wire/server.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

namespace http = boost::beast::http;

std::string run(std::uint8_t const* data, std::size_t size, std::uint8_t first) {
    std::vector<std::uint8_t> copy(data, data + size);
    copy[0] = first;
    http::request_parser<http::string_body> p;
    p.header_limit(8u << 10);
    p.body_limit(64u << 10);
    p.eager(true);
    boost::beast::error_code ec;
    std::string pending;
    llmux::fuzz::for_each_piece(copy.data(), copy.size(), [&](std::string_view piece) {
        pending.append(piece);
        // The parser may take less than it is given (an incomplete line): keep the rest.
        while (!pending.empty() && !p.is_done()) {
            auto const n = p.put(boost::asio::buffer(pending), ec);
            pending.erase(0, n);
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec) return false;
        }
        return !p.is_done();
    });
    // End of input: Beast's own reads report end_of_stream when nothing came at all and only
    // then hand the parser its EOF (put_eof's precondition is got_some()).
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    auto const a = run(data, size, data[0]);
    auto const b = run(data, size, 7);
    // The same request whatever the split; a refusal in one split is a refusal in all.
    if (a.starts_with("error ") != b.starts_with("error ")) std::abort();
    if (!a.starts_with("error ") && a != b) std::abort();
    return 0;
}
