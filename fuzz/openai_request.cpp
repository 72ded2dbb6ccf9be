// SPDX-License-Identifier: BSL-1.0
// The OpenAI server side's request decoder over arbitrary bodies: never crashes; a refusal is a
// 400 with a message; and what it accepts survives the round trip through the client side:
// encoding the decoded request, decoding that and encoding again gives the same bytes (a fixed
// point: nothing the two sides agree on is lost or invented). The first byte picks the path
// (a plain endpoint or Azure's deployment path, which names the model).
#include "wire/formats.hpp"

#include <llmux/config.hpp>

#include <cstdlib>
#include <string>

namespace {

using namespace llmux;

/// The body the client side sends for what the server side decoded from `body`, or nothing.
std::optional<std::string> through(std::string_view body, bool azure) {
    detail::request_head head;
    head.method = "POST";
    head.path = azure ? "/openai/deployments/dep/chat/completions" : "/v1/chat/completions";
    if (azure) head.path_model = "dep";
    auto const in = detail::openai_chat_server().decode_request(head, body);
    if (!in) {
        if (in.error().status != 400 || in.error().message.empty()) std::abort();
        return std::nullopt;
    }
    if (in->req.model.empty() || in->req.messages.empty()) std::abort();
    chat_request req = in->req;
    req.extra = in->native;
    provider_config p;
    p.name = "openai";
    auto const sent =
        detail::openai_chat_format().encode(req, detail::encode_context{p, req.model, in->stream});
    if (!sent) return std::nullopt;  // what the client refuses to send (an ftp:// image URL)
    return sent->body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    bool const azure = data[0] & 1;
    std::string_view const body(reinterpret_cast<char const*>(data + 1), size - 1);
    auto const once = through(body, azure);
    if (!once) return 0;
    auto const twice = through(*once, azure);
    if (!twice || *twice != *once) std::abort();
    return 0;
}
