// SPDX-License-Identifier: BSL-1.0
// The OpenAI Responses API server side's request decoder over arbitrary bodies: never crashes;
// a refusal is a 4xx with a message; and what it accepts survives the round trip through the
// client side: encoding the decoded request, decoding that and encoding again gives the same
// bytes (a fixed point: nothing the two sides agree on is lost or invented). The first byte
// picks the path (`/v1/responses` or `/responses`).
#include "wire/formats.hpp"

#include <llmux/config.hpp>

#include <cstdlib>
#include <string>

namespace {

using namespace llmux;

/// The body the client side sends for what the server side decoded from `body`, or nothing.
std::optional<std::string> through(std::string_view body, bool bare) {
    detail::request_head head;
    head.method = "POST";
    head.path = bare ? "/responses" : "/v1/responses";
    auto const in = detail::openai_responses_server().decode_request(head, body);
    if (!in) {
        auto const s = in.error().status;
        if (s < 400 || s > 499 || in.error().message.empty()) std::abort();
        return std::nullopt;
    }
    if (in->req.model.empty() || in->req.messages.empty()) std::abort();
    chat_request req = in->req;
    req.extra = in->native;
    provider_config p;
    p.name = "openai";
    p.wire = "openai-responses";
    auto const sent = detail::openai_responses_format().encode(
        req, detail::encode_context{p, req.model, in->stream});
    if (!sent) return std::nullopt;  // what the client refuses to send (an ftp:// image URL)
    return sent->body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    bool const bare = data[0] & 1;
    std::string_view const body(reinterpret_cast<char const*>(data + 1), size - 1);
    auto const once = through(body, bare);
    if (!once) return 0;
    auto const twice = through(*once, bare);
    if (!twice || *twice != *once) std::abort();
    return 0;
}
