// SPDX-License-Identifier: BSL-1.0
// Embeddings: the unified request and response of `client::embed`.
#pragma once

#include <llmux/types.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

/** @brief What the vectors will be used for, where a provider asks (Gemini's `taskType`,
    Vertex's `task_type`, Cohere's and Voyage's `input_type`). Formats without such a field
    (OpenAI's) refuse any value but `unspecified` with `error::unsupported` rather than drop it.
*/
enum class embedding_task {
    unspecified,
    /// A search query (Gemini `RETRIEVAL_QUERY`, Cohere `search_query`, Voyage `query`).
    query,
    /// A document to be searched (Gemini `RETRIEVAL_DOCUMENT`, Cohere `search_document`,
    /// Voyage `document`).
    document,
    similarity,
    classification,
    clustering,
    question_answering,
    fact_verification,
    code_query,
};

/// @brief The name of a task (`query`, `document`, ...).
std::string_view to_string(embedding_task t) noexcept;

/** @brief An embedding request, the same for every provider.

    @note As for `chat_request`, with GCC 12 name the request before `co_await client.embed(req)`.

    Inputs must be non-empty; a list longer than the provider's batch limit (OpenAI: 2048 inputs
    per request) is split into concurrent requests whose vectors are joined in input order.
*/
struct embedding_request {
    /// `provider/model`, e.g. `openai/text-embedding-3-small`.
    std::string model;
    /// The texts to embed, one vector each, in this order.
    std::vector<std::string> inputs;
    /// The vectors' length, for models that can shorten them (`text-embedding-3-*`).
    std::optional<std::uint32_t> dimensions;
    embedding_task task = embedding_task::unspecified;
    /// A document title (Gemini and Vertex, with `embedding_task::document`).
    std::string title;
    /// An end-user id for the provider's abuse monitoring (OpenAI's `user`).
    std::string user;
    /// Provider-specific fields, merged into the provider's JSON body last (they win).
    boost::json::object extra;
};

/// @brief The vectors of an embedding request.
struct embedding_response {
    /// One vector per input, in input order.
    std::vector<std::vector<float>> vectors;
    /** Prompt tokens in `input_tokens` (unknown when the provider did not say, never 0);
        `output_tokens` is 0: an embedding has no output tokens.
    */
    llmux::usage usage;
    /// The model that answered, as the provider named it.
    std::string model;
    /// The `provider/model` id the call was sent to.
    std::string requested_model;
    std::string provider;
    /// The provider's request id (of the first batch when the inputs were split).
    std::string request_id;
    /// How many requests the inputs were sent in.
    std::size_t batches = 0;
    /// From the call to its last batch's last byte.
    std::chrono::nanoseconds latency{};
    /// USD from the input tokens and the catalog's input price; empty when either is unknown.
    std::optional<double> cost_usd;
    /// Every attempt made for these vectors (empty for a plain `embed`; with `fallback`, one
    /// per candidate tried, with its error and latency).
    std::vector<llmux::attempt> attempts;
};

}  // namespace llmux
