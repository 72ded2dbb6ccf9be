// SPDX-License-Identifier: BSL-1.0
// The Bedrock Converse server side's request decoder over arbitrary bodies: never crashes; a
// refusal is a 400 with a message; and what it accepts survives the round trip through the
// client side: encoding the decoded request (its native fields merged back), decoding that and
// encoding again gives the same bytes (a fixed point: nothing the two sides agree on is lost or
// invented). The first byte picks the path: Converse, ConverseStream or CountTokens, and a model
// id with ':' and '/' (percent-decoded from the path, as the endpoint table gives it).
#include "wire/formats.hpp"

#include <llmux/config.hpp>

#include <cstdlib>
#include <string>

namespace {

using namespace llmux;

constexpr std::string_view paths[] = {
    "/model/m/converse",
    "/model/m/converse-stream",
    "/model/m/count-tokens",
};

/// The body the client side sends for what the server side decoded from `body`, or nothing.
std::optional<std::string> through(std::string_view body, unsigned pick) {
    detail::request_head head;
    head.method = "POST";
    head.path = paths[pick % 3];
    head.path_model = pick & 4 ? "arn:aws:bedrock:us-east-1:1:inference-profile/us.m:0" : "m";
    auto const in = detail::bedrock_converse_server().decode_request(head, body);
    if (!in) {
        if (in.error().status != 400 || in.error().message.empty()) std::abort();
        return std::nullopt;
    }
    if (in->req.model != head.path_model || !in->include_usage) std::abort();
    if (in->stream != (pick % 3 == 1)) std::abort();
    chat_request req = in->req;
    req.extra = in->native;
    provider_config p;
    p.name = "bedrock";
    auto const sent = detail::bedrock_converse_format().encode(
        req, detail::encode_context{p, req.model, in->stream});
    if (!sent) return std::nullopt;  // what the client refuses to send (a message left empty)
    return sent->body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    unsigned const pick = data[0];
    std::string_view const body(reinterpret_cast<char const*>(data + 1), size - 1);
    auto const once = through(body, pick);
    if (!once) return 0;
    // The re-sent body is a Converse request: decode it as one (CountTokens wraps its input).
    unsigned const again_pick = pick % 3 == 2 ? pick - 2 : pick;
    auto const twice = through(*once, again_pick);
    if (!twice || *twice != *once) std::abort();
    auto const thrice = through(*twice, again_pick);
    if (!thrice || *thrice != *twice) std::abort();
    return 0;
}
