// SPDX-License-Identifier: BSL-1.0
// Bedrock embeddings through InvokeModel (PROVIDERS-2.md section 2.4), both directions, as
// sans-io pure functions: `POST /model/{id}/invoke` with the model's own body, which is Amazon
// Titan Text Embeddings' (one `inputText` a call) or Cohere Embed's (`texts`, at most 96). The
// client side picks the body by the model id; the server side, which the emulator and the
// gateway serve through the Bedrock format's `wire_server`, reads either and answers in the
// shape that body asked for.
#pragma once

#include "http/message.hpp"
#include "wire/server.hpp"

#include <llmux/embeddings.hpp>
#include <llmux/error.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::detail::bedrock {

/// The InvokeModel bodies of Bedrock's embedding models.
enum class embedding_family : std::uint8_t {
    /// Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`): one text, `dimensions`
    /// 256, 512 or 1024.
    titan,
    /// Titan Embeddings G1 - Text (`amazon.titan-embed-text-v1`): one text, nothing else.
    titan_v1,
    /// Cohere Embed English and Multilingual v3: up to 96 texts, an `input_type`.
    cohere_v3,
    /// Cohere Embed v4 (`cohere.embed-v4:0`): as v3, and `output_dimension`.
    cohere_v4,
};

/// The family of a Bedrock model id (with or without a region prefix such as `us.`), or
/// nothing for a model whose body llmux does not know (an inference profile ARN says nothing).
std::optional<embedding_family> embedding_family_of(std::string_view model) noexcept;

/// The most texts one InvokeModel call takes: 1 for Titan, 96 for Cohere.
std::size_t embedding_batch_limit(embedding_family f) noexcept;

/// The longest input in tokens: Titan 8192, Cohere v3 512, Cohere v4 128000.
std::uint64_t embedding_max_input_tokens(embedding_family f) noexcept;

/// The most texts the server side takes in one Cohere body (Bedrock's limit).
inline constexpr std::size_t cohere_batch_limit = 96;

/// The longest vector the server side computes (`dimensions`, `output_dimension`).
inline constexpr std::uint32_t max_dimensions = 16384;

/// Cohere's `input_type` for a task (`search_document` for `unspecified`: Bedrock requires
/// one, and embedding documents is the common case); empty for a task Cohere has not.
std::string_view cohere_input_type(embedding_task t) noexcept;

/// The answer shapes of the server side (`embedding_form::shape`).
enum class embedding_shape : std::uint8_t {
    /// `{"embedding":[...],"inputTextTokenCount":n}`.
    titan = 0,
    /// As `titan`, with `embeddingsByType.float` (the request named `embeddingTypes`).
    titan_by_type = 1,
    /// `{"id","embeddings":[[...]],"texts","response_type":"embeddings_floats"}`.
    cohere_floats = 2,
    /// As `cohere_floats` with `embeddings: {"float":[[...]]}` (`embeddings_by_type`).
    cohere_by_type = 3,
};

/// The header in which InvokeModel reports the input's tokens (Cohere's bodies have none).
inline constexpr std::string_view input_tokens_header = "X-Amzn-Bedrock-Input-Token-Count";

/// @name Client side
/// @{
/** The InvokeModel request for `count` of `req.inputs` from `first`, to `model` (the
    provider's own id, which picks the body: see `embedding_family_of`). The target is
    `/model/{model}/invoke`, relative to the provider's base URL. `req.extra` is merged into
    the body. Errors: `invalid_request` for an empty input or list, more inputs than the
    family takes in one call, or a width the model does not offer (Titan V2: 256, 512, 1024;
    Cohere v4: 256, 512, 1024, 1536); `unsupported` naming `model` for a model whose body
    llmux does not know, and naming `dimensions`, `task`, `title` or `user` where the model
    has no such field.
*/
result<http_request> encode_embedding_request(embedding_request const& req,
                                              std::string_view model, std::size_t first = 0,
                                              std::size_t count = static_cast<std::size_t>(-1));

/** Decodes a 2xx answer of `model` for `expected` inputs: Titan's `embedding` (or
    `embeddingsByType.float`) and `inputTextTokenCount`, or Cohere's `embeddings` (a list of
    vectors, or by type with `float`), in input order; tokens from the body, else from the
    `X-Amzn-Bedrock-Input-Token-Count` header, else unknown. Errors: `protocol_error` naming
    the field.
*/
result<embedding_response> decode_embedding_response(response_head const& head,
                                                     std::string_view body, std::size_t expected,
                                                     std::string_view model);

/// Decodes a non-2xx answer: Bedrock's error bodies and `x-amzn-ErrorType`, as Converse has them.
failure decode_embedding_error(response_head const& head, std::string_view body);
/// @}

/// @name Server side
/// @{
/** Decodes an InvokeModel body: Titan's (`inputText`, `dimensions`, `normalize`,
    `embeddingTypes`) or Cohere's (`texts`, `input_type`, `embedding_types`,
    `output_dimension`, `truncate`, `max_tokens`). Vectors other than float (`binary`, `int8`,
    ...), images and mixed `inputs` are refused (400 naming the field) rather than answered
    as floats; `normalize`, `truncate` and `max_tokens` go to `native`; any other field is
    refused as Bedrock refuses it ("extraneous key").
*/
boost::system::result<inbound_embedding, api_error>
decode_embedding_request(request_head const& head, std::string_view body);

/** Writes the answer in the shape its body asked for (`form.shape`). Cohere's answers repeat
    the request's texts (`m.inputs`) and carry an id (`m.id`). False when a value is not
    finite or a Titan answer does not hold exactly one vector.
*/
bool encode_embedding_response(embedding_response const& r, embedding_meta const& m,
                               embedding_form form, std::string& out);
/// @}

}  // namespace llmux::detail::bedrock
