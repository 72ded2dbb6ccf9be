// SPDX-License-Identifier: BSL-1.0
// The Bedrock InvokeModel embeddings server side's request decoder over arbitrary bodies: never
// crashes; a refusal is a 400 with a message; and what it accepts survives the round trip
// through the client side: encoding the decoded request (with `native` as its extra fields) for
// a model of the body's family, decoding that, and encoding again gives the same bytes (a
// fixed point). The first byte picks the model of that family (Titan V2 or G1, Cohere v3 or v4).
#include "wire/bedrock_embeddings.hpp"

#include <cstdlib>
#include <optional>
#include <string>

namespace {

using namespace llmux;
namespace be = detail::bedrock;

/// The body the client side sends for what the server side decoded from `body`.
std::optional<std::string> through(std::string_view body, bool second_model) {
    detail::request_head head;
    head.method = "POST";
    head.path = "/model/m/invoke";
    head.path_model = "m";
    auto const in = be::decode_embedding_request(head, body);
    if (!in) {
        if (in.error().status != 400 || in.error().message.empty()) std::abort();
        return std::nullopt;
    }
    if (in->req.model != "m" || in->req.inputs.empty()) std::abort();
    for (auto const& s : in->req.inputs)
        if (s.empty()) std::abort();
    auto const shape = static_cast<be::embedding_shape>(in->form.shape);
    bool const cohere =
        shape == be::embedding_shape::cohere_floats || shape == be::embedding_shape::cohere_by_type;
    if (!cohere && in->req.inputs.size() != 1) std::abort();
    if (in->req.inputs.size() > be::cohere_batch_limit) std::abort();
    std::string_view const model = cohere ? (second_model ? "cohere.embed-v4:0" : "cohere.embed-english-v3")
                                          : (second_model ? "amazon.titan-embed-text-v1"
                                                          : "amazon.titan-embed-text-v2:0");
    embedding_request req = in->req;
    req.extra = in->native;
    auto const sent = be::encode_embedding_request(req, model);
    if (!sent) return std::nullopt;  // a width or field the model has not: the client refuses
    return sent->body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    bool const second_model = data[0] & 1;
    std::string_view const body(reinterpret_cast<char const*>(data + 1), size - 1);
    auto const once = through(body, second_model);
    if (!once) return 0;
    auto const twice = through(*once, second_model);
    if (!twice || *twice != *once) std::abort();
    return 0;
}
