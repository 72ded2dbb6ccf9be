// SPDX-License-Identifier: BSL-1.0
// The Anthropic server side's request decoder over arbitrary bodies: never crashes; a refusal is
// a 400 with a message; and what it accepts survives the round trip through the client side:
// encoding the decoded request (with `native` as its extra fields), decoding that and encoding
// again gives the same bytes (a fixed point: nothing the two sides agree on is lost or
// invented). The first byte picks the path: /v1/messages, /v1/messages/count_tokens, or Claude
// on Vertex's :rawPredict / :streamRawPredict (which name the model).
#include "wire/formats.hpp"

#include <llmux/config.hpp>

#include <array>
#include <cstdlib>
#include <string>

namespace {

using namespace llmux;

constexpr std::array<std::string_view, 4> paths = {
    "/v1/messages",
    "/v1/messages/count_tokens",
    "/v1/projects/p/locations/l/publishers/anthropic/models/claude-x:rawPredict",
    "/v1/projects/p/locations/l/publishers/anthropic/models/claude-x:streamRawPredict",
};

/// The body the client side sends for what the server side decoded from `body`, or nothing.
std::optional<std::string> through(std::string_view body, std::size_t path) {
    bool const vertex = path >= 2;
    detail::request_head head;
    head.method = "POST";
    head.path = paths[path];
    if (vertex) head.path_model = "claude-x";
    head.lookup = [](void const*, std::string_view name) -> std::string_view {
        return detail::iequals(name, "anthropic-version") ? "2023-06-01" : "";
    };
    auto const in = detail::anthropic_messages_server().decode_request(head, body);
    if (!in) {
        if (in.error().status != 400 || in.error().message.empty()) std::abort();
        return std::nullopt;
    }
    if (in->req.model.empty() || in->req.messages.empty()) std::abort();
    if (!in->native.empty() && in->native_name.empty() &&
        in->native.begin()->key().empty())
        std::abort();  // a refusal must be able to name the field
    chat_request req = in->req;
    req.extra = in->native;
    provider_config p;
    p.name = "anthropic";
    if (vertex) p.options.emplace("vertex", true);
    auto const sent = detail::anthropic_messages_format().encode(
        req, detail::encode_context{p, req.model, in->stream});
    if (!sent) return std::nullopt;  // what the client refuses to send (an http:// image URL)
    return sent->body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    std::size_t const path = data[0] % paths.size();
    std::string_view const body(reinterpret_cast<char const*>(data + 1), size - 1);
    auto const once = through(body, path);
    if (!once) return 0;
    auto const twice = through(*once, path);
    if (!twice || *twice != *once) std::abort();
    return 0;
}
