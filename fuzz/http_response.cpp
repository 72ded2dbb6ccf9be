// SPDX-License-Identifier: BSL-1.0
// The client's response parser (codec/http1.hpp) over arbitrary bytes in arbitrary splits, as
// the transport feeds it: never crashes, the outcome does not depend on how the bytes were
// split, and whatever it accepts, Beast's response parser (which the transport used before)
// accepts as the same response: it is never more lenient.
#include "http_common.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdlib>
#include <string>

namespace {

namespace http = boost::beast::http;
using llmux::detail::http1::response_parser;

/// The response read from `data`; the body is taken out after every put, as a stream's reader
/// does, into `body`.
std::string run(std::uint8_t const* data, std::size_t size, std::uint8_t first, response_parser& p,
                std::string& body) {
    body.clear();
    auto failed = llmux::fuzz::feed(data, size, first, p, [&] {
        body += p.get().body();
        p.get().body().clear();
    });
    if (!failed.empty()) return failed;
    auto const& r = p.get();
    std::string out = std::to_string(r.status()) + " " + std::string(r.reason()) + " " +
                      std::to_string(r.version()) + (r.keep_alive() ? " keep\n" : " close\n");
    for (auto const& f : r.fields()) out += std::string(f.name) + ": " + std::string(f.value) + "\n";
    return out + body;
}

void same_as_beast(std::uint8_t const* data, std::size_t size, response_parser const& p,
                   std::string const& body) {
    http::response_parser<http::string_body> b;
    if (!llmux::fuzz::beast_reads(data, size, b)) std::abort();  // accepted here, refused by Beast
    auto const& ours = p.get();
    auto const& theirs = b.get();
    // (An empty reason reads as the standard one in Beast's message.)
    if (ours.status() != theirs.result_int() ||
        (!ours.reason().empty() && ours.reason() != theirs.reason()) ||
        ours.version() != theirs.version() || body != theirs.body() ||
        (p.keep_alive() && !b.keep_alive()) ||
        !llmux::fuzz::same_fields(ours.fields(), theirs, p.chunked()))
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    static response_parser pa, pb;  // reused, as a connection's would be
    static std::string body_a, body_b;
    auto const a = run(data, size, data[0], pa, body_a);
    auto const b = run(data, size, 7, pb, body_b);
    if (a.starts_with("error ") != b.starts_with("error ")) std::abort();
    if (!a.starts_with("error ") && a != b) std::abort();
    if (pb.is_done()) same_as_beast(data, size, pb, body_b);
    return 0;
}
