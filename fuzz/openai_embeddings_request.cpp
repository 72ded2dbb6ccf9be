// SPDX-License-Identifier: BSL-1.0
// The OpenAI embeddings server side's request decoder over arbitrary bodies: never crashes; a
// refusal is a 400 with a message naming the field; and what it accepts survives the round trip
// through the client side: encoding the decoded request, decoding that and encoding again gives
// the same bytes (a fixed point: nothing the two sides agree on is lost or invented; numbers
// are read exactly, util/json_read.hpp, and written in their shortest form). The first byte
// picks the path (a plain endpoint or Azure's deployment path, which names
// the model).
#include "wire/openai_embeddings.hpp"

#include <cstdlib>
#include <optional>
#include <string>

namespace {

using namespace llmux;

/// The body the client side sends for what the server side decoded from `body`, or nothing.
std::optional<std::string> through(std::string_view body, bool azure) {
    detail::request_head head;
    head.method = "POST";
    head.path = azure ? "/openai/deployments/dep/embeddings" : "/v1/embeddings";
    if (azure) head.path_model = "dep";
    auto const in = detail::openai::decode_embedding_request(head, body);
    if (!in) {
        if (in.error().status != 400 || in.error().message.empty()) std::abort();
        return std::nullopt;
    }
    if (in->req.model.empty() || in->req.inputs.empty()) std::abort();
    for (auto const& s : in->req.inputs)
        if (s.empty()) std::abort();
    embedding_request req = in->req;
    req.extra = in->native;
    auto const sent = detail::openai::encode_embedding_request(req, req.model, in->form.encoding);
    if (!sent) std::abort();  // everything the server side accepts, the client side can send
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
