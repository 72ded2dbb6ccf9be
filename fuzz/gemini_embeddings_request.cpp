// SPDX-License-Identifier: BSL-1.0
// The Gemini embeddings server side's request decoder over arbitrary bodies: never crashes; a
// refusal is a 400 with a message; and what it accepts survives the round trip through the
// client side: encoding the decoded request (with `native` as its extra fields), decoding that
// at the path the client sends to, and encoding again gives the same bytes (a fixed point).
// The first byte picks the path: :embedContent, :batchEmbedContents, or Vertex AI's :predict.
#include "wire/gemini_embeddings.hpp"

#include <array>
#include <cstdlib>
#include <optional>
#include <string>

namespace {

using namespace llmux;

constexpr std::array<std::string_view, 3> paths = {
    "/v1beta/models/gemini-embedding-001:embedContent",
    "/v1beta/models/gemini-embedding-001:batchEmbedContents",
    "/v1/projects/p/locations/l/publishers/google/models/gemini-embedding-001:predict",
};

/// The body the client side sends for what the server side decoded from `body` at `path`.
std::optional<std::string> through(std::string_view body, std::size_t path) {
    detail::request_head head;
    head.method = "POST";
    head.path = paths[path];
    head.path_model = "gemini-embedding-001";
    auto const in = detail::gemini::decode_embedding_request(head, body);
    if (!in) {
        if (in.error().status != 400 || in.error().message.empty()) std::abort();
        return std::nullopt;
    }
    if (in->req.model.empty() || in->req.inputs.empty()) std::abort();
    for (auto const& s : in->req.inputs)
        if (s.empty()) std::abort();
    embedding_request req = in->req;
    req.extra = in->native;
    bool const vertex = path == 2;
    auto const sent = detail::gemini::encode_embedding_request(req, req.model, vertex);
    if (!sent) return std::nullopt;  // a title without the document task: the client refuses
    return sent->body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    std::size_t const path = data[0] % paths.size();
    std::string_view const body(reinterpret_cast<char const*>(data + 1), size - 1);
    auto const once = through(body, path);
    if (!once) return 0;
    // The client sent it to batchEmbedContents (or predict on Vertex).
    auto const twice = through(*once, path == 2 ? 2 : 1);
    if (!twice || *twice != *once) std::abort();
    return 0;
}
