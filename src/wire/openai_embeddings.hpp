// SPDX-License-Identifier: BSL-1.0
// OpenAI embeddings, `POST /v1/embeddings` (PROVIDERS-2.md section 2.1), both directions, as
// sans-io pure functions: the client side (encode a request, decode an answer whose vectors are
// float arrays or base64) for OpenAI and every OpenAI-compatible provider, and the server side
// (decode a request, encode an answer in float or base64) that the emulator and the gateway
// serve through the OpenAI format's `wire_server`.
#pragma once

#include "http/message.hpp"
#include "wire/server.hpp"

#include <llmux/embeddings.hpp>
#include <llmux/error.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail::openai {

/// The most inputs OpenAI takes in one request (its SDK's docstring: at most 2048 entries).
inline constexpr std::size_t embedding_batch_limit = 2048;

/// The largest `dimensions` the server side accepts (OpenAI's widest model has 3072); bounds
/// what one request may make a server compute.
inline constexpr std::uint32_t max_dimensions = 16384;

/// @name Client side
/// @{
/** The request for `count` of `req.inputs` from `first` (the caller splits batches; all of them
    by default), to `model` (the provider's own name), asking for vectors as `enc`. The target is `/embeddings`, relative to
    the provider's base URL. Errors: `invalid_request` for an empty input (naming
    `inputs[i]`) or list; `unsupported` naming `task` or `title`, which OpenAI's API lacks.
*/
result<http_request> encode_embedding_request(embedding_request const& req,
                                              std::string_view model, vector_encoding enc,
                                              std::size_t first = 0,
                                              std::size_t count = static_cast<std::size_t>(-1));

/** Decodes a 2xx answer for `expected` inputs: each vector placed by its `index`, as float
    arrays or base64 (little-endian float32, decoded bit for bit). Errors: `protocol_error`
    naming the field (a missing or repeated index, a base64 length that is not a multiple of
    4, fewer or more vectors than inputs); an `error` object in the body as the provider's
    error.
*/
result<embedding_response> decode_embedding_response(response_head const& head,
                                                     std::string_view body, std::size_t expected);

/// Decodes a non-2xx answer: OpenAI's error bodies, as chat completions has them.
failure decode_embedding_error(response_head const& head, std::string_view body);
/// @}

/// @name Server side
/// @{
/** Decodes `POST /v1/embeddings` (or Azure's `/openai/deployments/{model}/embeddings`):
    `input` a string or a list of strings (token arrays are `unsupported`, naming `input`; an
    empty string or list is a 400 naming the field), `dimensions`, `encoding_format`
    (`float` or `base64`), `user`; other fields go to `native`.
*/
boost::system::result<inbound_embedding, api_error>
decode_embedding_request(request_head const& head, std::string_view body);

/// Writes the answer as OpenAI does (see `wire_server::encode_embedding_response`).
bool encode_embedding_response(embedding_response const& r, std::string_view model,
                               vector_encoding enc, std::string& out);
/// @}

/// @name Vectors as base64
/// @{
/// Appends `v` as standard padded base64 of its float32 values, little-endian.
void append_base64_floats(std::string& out, std::span<float const> v);
/// Decodes base64 of little-endian float32 values; `where` names the field in errors.
result<std::vector<float>> decode_base64_floats(std::string_view text, std::string_view where);
/// @}

}  // namespace llmux::detail::openai
