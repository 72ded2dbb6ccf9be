// SPDX-License-Identifier: BSL-1.0
// Gemini embeddings (PROVIDERS-2.md sections 2.2 and 2.3), both directions, as sans-io pure
// functions: the Gemini API's `:embedContent` and `:batchEmbedContents` and Vertex AI's
// `:predict` for its text-embedding models. The client side sends batchEmbedContents (AI
// Studio) or predict (Vertex); the server side, which the emulator and the gateway serve
// through the Gemini format's `wire_server`, reads all three and answers each in its own shape.
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

namespace llmux::detail::gemini {

/// The most requests one `batchEmbedContents` takes (the API refuses more than 100).
inline constexpr std::size_t embedding_batch_limit = 100;

/// The most instances one Vertex `predict` call takes for the text-embedding models (250 for
/// `text-embedding-005`; `gemini-embedding-001` takes one, see `vertex_batch_limit`).
inline constexpr std::size_t vertex_embedding_batch_limit = 250;

/// The longest vector the server side computes (`outputDimensionality`); the widest Gemini
/// model has 3072.
inline constexpr std::uint32_t max_dimensions = 16384;

/// The inputs one Vertex AI call takes for `model`: its `predict` instances, or one for the
/// models served by `:embedContent`.
std::size_t vertex_batch_limit(std::string_view model) noexcept;

/// True for the Vertex AI models embedded through `:embedContent`, one content a call, rather
/// than `:predict` (`gemini-embedding-2`, `gemini-embedding-2-preview`).
bool vertex_embed_content(std::string_view model) noexcept;

/// Google's `taskType` for a task (`RETRIEVAL_QUERY`, ...); empty for `unspecified`.
std::string_view task_name(embedding_task t) noexcept;

/// The task of a Google `taskType`, or nothing for an unknown name.
std::optional<embedding_task> task_from_name(std::string_view name) noexcept;

/// The answer shapes of the server side (`embedding_form::shape`).
enum class embedding_shape : std::uint8_t { single = 0, batch = 1, predict = 2 };

/// @name Client side
/// @{
/** The request for `count` of `req.inputs` from `first`, to `model` (the provider's own name):
    `batchEmbedContents` with one request per input, or on Vertex (`vertex`) `predict` with
    one instance per input (`:embedContent` with one content and `embedContentConfig` for the
    models of `vertex_embed_content`). The target is relative to the provider's base URL, as for
    `generateContent`. `req.extra` is merged into the body. Errors: `invalid_request` for an
    empty input (naming `inputs[i]`) or list, or a title without the `document` task;
    `unsupported` naming `user`, which Google's APIs lack.
*/
result<http_request> encode_embedding_request(embedding_request const& req,
                                              std::string_view model, bool vertex,
                                              std::size_t first = 0,
                                              std::size_t count = static_cast<std::size_t>(-1));

/** Decodes a 2xx answer for `expected` inputs, in input order: `embeddings[i].values`, or on
    Vertex `predictions[i].embeddings.values` with their `statistics.token_count` summed into
    the usage, or one content's `embedding.values` with `usageMetadata.promptTokenCount` (the Gemini API reports no tokens: its usage is unknown unless the answer has
    `usageMetadata`). Errors: `protocol_error` naming the field.
*/
result<embedding_response> decode_embedding_response(response_head const& head,
                                                     std::string_view body, std::size_t expected,
                                                     bool vertex);

/// Decodes a non-2xx answer: Google's error bodies, as generateContent has them.
failure decode_embedding_error(response_head const& head, std::string_view body);
/// @}

/// @name Server side
/// @{
/** Decodes `:embedContent` (one `content`; its options at the top, or in Vertex AI's
    `embedContentConfig`), `:batchEmbedContents` (`requests`, at most 100,
    each naming the path's model) or Vertex's `:predict` (`instances` with `content`,
    `task_type`, `title`; `parameters.outputDimensionality`). Every request of a batch must
    ask the same task, title and dimensions (the unified request has one of each), and each
    content one text part: otherwise a 400 naming the field. Other fields go to `native`.
*/
boost::system::result<inbound_embedding, api_error>
decode_embedding_request(request_head const& head, std::string_view body);

/** Writes the answer in the shape its request had (`form.shape`): `{"embedding":{...}}` for
    one vector (with `usageMetadata.promptTokenCount` when the tokens are known, as Vertex AI
    answers), `{"embeddings":[...]}`, or Vertex's `predictions` with each input's
    `statistics.token_count` (the unified answer carries only the total, which is split evenly
    over the predictions: their sum is exact). False when a value is not finite or a single
    answer does not hold exactly one vector.
*/
bool encode_embedding_response(embedding_response const& r, embedding_form form,
                               std::string& out);
/// @}

}  // namespace llmux::detail::gemini
