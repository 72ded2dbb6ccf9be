// SPDX-License-Identifier: BSL-1.0
// The Gemini server side's request decoder over arbitrary bodies: never crashes; a refusal is a
// 400 with a message; and what it accepts survives the round trip through the client side:
// encoding the decoded request (its `native` fields as `extra`), decoding that and encoding
// again gives the same bytes (a fixed point: nothing the two sides agree on is lost or
// invented). The first byte picks the path: the Gemini API's, a stream, countTokens, or Vertex
// AI's with the google publisher or another one (which names the model's provider).
#include "wire/formats.hpp"

#include <llmux/config.hpp>

#include <cstdlib>
#include <string>

namespace {

using namespace llmux;

struct path_case {
    std::string_view path;
    std::string_view model;
};
constexpr path_case paths[] = {
    {"/v1beta/models/gemini-2.0-flash:generateContent", "gemini-2.0-flash"},
    {"/v1beta/models/gemini-2.0-flash:streamGenerateContent", "gemini-2.0-flash"},
    {"/v1beta/models/gemini-2.0-flash:countTokens", "gemini-2.0-flash"},
    {"/v1/projects/p/locations/l/publishers/google/models/m:generateContent", "m"},
    {"/v1beta1/projects/p/locations/l/publishers/openai/models/gpt-4o:generateContent", "gpt-4o"},
};

/// The body the client side sends for what the server side decoded from `body`, or nothing.
std::optional<std::string> through(std::string_view body, path_case const& pc) {
    detail::request_head head;
    head.method = "POST";
    head.path = pc.path;
    head.path_model = std::string(pc.model);
    auto const in = detail::gemini_server().decode_request(head, body);
    if (!in) {
        if (in.error().status != 400 || in.error().message.empty()) std::abort();
        return std::nullopt;
    }
    if (in->req.model.empty() || in->req.messages.empty()) std::abort();
    chat_request req = in->req;
    req.extra = in->native;
    provider_config p;
    p.name = "google";
    auto const sent = detail::gemini_format().encode(
        req, detail::encode_context{p, std::string_view(pc.model), in->stream});
    if (!sent) return std::nullopt;  // what the client refuses to send (an ftp:// image URL)
    return sent->body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    auto const& pc = paths[data[0] % std::size(paths)];
    std::string_view const body(reinterpret_cast<char const*>(data + 1), size - 1);
    auto const once = through(body, pc);
    if (!once) return 0;
    auto const twice = through(*once, pc);
    if (!twice || *twice != *once) std::abort();
    return 0;
}
