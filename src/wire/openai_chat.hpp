// SPDX-License-Identifier: BSL-1.0
// What the two sides of OpenAI chat completions share (openai_chat.cpp, the client;
// openai_chat_server.cpp, the server): finish reasons both ways; and what OpenAI's server sides
// share (chat completions and embeddings, openai_embeddings.cpp): the 400s in OpenAI's words
// and reading a request's body and model. Private to src/wire/.
#pragma once

#include "http/message.hpp"
#include "wire/errors.hpp"
#include "wire/wire_format.hpp"

#include <llmux/config.hpp>
#include <llmux/types.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>

#include <optional>

#include <boost/json/fwd.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>

namespace llmux::detail::openai {

/** The unified value of OpenAI's `finish_reason`; `fails` is set for the values that mean the
    generation failed (OpenRouter's `error`, DeepSeek's `insufficient_system_resource`).
*/
constexpr finish_reason finish_from_name(std::string_view s, bool& fails) noexcept {
    fails = false;
    if (s == "stop") return finish_reason::stop;
    if (s == "length") return finish_reason::length;
    if (s == "tool_calls" || s == "function_call") return finish_reason::tool_calls;
    if (s == "content_filter") return finish_reason::content_filter;
    if (s == "error" || s == "insufficient_system_resource") {
        fails = true;
        return finish_reason::error;
    }
    return finish_reason::unknown;
}

/// OpenAI's `finish_reason` for a unified one (`stop` when unknown).
constexpr std::string_view finish_name(finish_reason r) noexcept {
    switch (r) {
    case finish_reason::length: return "length";
    case finish_reason::tool_calls: return "tool_calls";
    case finish_reason::content_filter: return "content_filter";
    case finish_reason::stop:
    case finish_reason::unknown:
    case finish_reason::error: break;
    }
    return "stop";
}

/// The request id of an OpenAI(-compatible) answer: `x-request-id`, or OpenRouter's
/// `x-generation-id`.
std::string_view request_id_of(response_head const& head);

/// The word OpenAI's Chat Completions and Responses APIs both give `tc` (`auto`, `none`,
/// `required`), or empty where there is none to send: `named` is an object (of a different
/// shape in each), and `auto` or `none` without tools is left out (OpenAI rejects a
/// tool_choice without tools; both are what it does anyway).
constexpr std::string_view tool_choice_word(tool_choice const& tc, bool has_tools) noexcept {
    switch (tc.how) {
    case tool_choice::mode::automatic: return has_tools ? "auto" : "";
    case tool_choice::mode::none: return has_tools ? "none" : "";
    case tool_choice::mode::required: return "required";
    case tool_choice::mode::named: return "";
    }
    return "";
}

/// A data URI the OpenAI API accepts: `data:<media type>;base64,<data>`. Checked without
/// copying the (possibly megabytes of) data, which parse_data_uri would do.
bool is_base64_data_uri(std::string_view uri) noexcept;

/// An image URL the OpenAI APIs accept: https://, http:// or a base64 data URI.
bool valid_image_url(std::string_view url) noexcept;

/// True for OpenAI's reasoning models (gpt-5, the o-series), which take `reasoning_effort`
/// (effort `none` included); a `provider/` prefix is ignored.
bool reasoning_model(std::string_view model) noexcept;

/// Whose extensions of the format a provider speaks (reasoning, caching; openai_chat.cpp).
enum class dialect { openai, openrouter, deepseek };

/// The provider's dialect: its option `dialect`, else its name (`openrouter`, `deepseek`).
dialect dialect_of(provider_config const& p) noexcept;

/** A reasoning part as one of OpenRouter's `reasoning_details` (`reasoning.text` with its
    signature, `reasoning.summary`, `reasoning.encrypted`; `format` from the origin:
    `anthropic-claude-v1`, `openai-responses-v1`, `google-gemini-v1`, `xai-responses-v1`).
    Nothing for a part of an origin OpenRouter does not carry.
*/
std::optional<boost::json::object> reasoning_detail(reasoning_part const& r, std::size_t index,
                                                    boost::json::storage_ptr const& sp);
/// One of `reasoning_details` as a reasoning part; nothing for an unknown type.
std::optional<reasoning_part> read_reasoning_detail(boost::json::object const& o);

/** The client side's decoders of an answer and of a stream, with or without the SAX scan of
    their common shape (openai_chat_scan.hpp) ahead of the DOM: the format uses the scan; the
    tests decode every answer both ways and expect the same.
*/
result<chat_response> decode_answer(response_head const& head, std::string_view body, bool scan);
/// The request encoder, with or without its direct writer of plain requests ahead of the DOM
/// (the tests encode requests both ways and expect the same bytes).
result<http_request> encode_request(chat_request const& req, encode_context const& ctx,
                                    bool direct);
std::unique_ptr<stream_decoder> make_chunk_decoder(bool scan);

/// A 400 `invalid_request_error` naming `param`, with OpenAI's `code` when it has one.
api_error invalid(std::string param, std::string message, std::string code = {});

/// A field of the wrong JSON type, as OpenAI words it (`invalid_type`).
api_error wrong_type(std::string const& param, char const* expected, boost::json::value const& got);

/// A missing required field, as OpenAI words it (`missing_required_parameter`).
api_error missing(std::string const& param);

/// A number member within [lo, hi], absent when missing or null; OpenAI's 400s otherwise.
boost::system::result<std::optional<double>, api_error>
number_member(boost::json::object const& o, char const* key, double lo, double hi);
/// The same, for the member `v` already found (null when absent).
boost::system::result<std::optional<double>, api_error>
number_value(boost::json::value const* v, char const* key, double lo, double hi);

/// The request body as an object, or OpenAI's 400 for any other JSON value.
boost::system::result<boost::json::object const*, api_error>
body_object(boost::json::value const& doc);

/** A request body parsed into `arena` (nesting up to 256: JSON schemas nest deeply), or
    OpenAI's 400 for text that is not JSON (`body_object` then checks it is an object). The
    chat completions and Responses server sides share it.
*/
boost::system::result<boost::json::value, api_error>
parse_request(std::string_view body, boost::json::monotonic_resource& arena);

/// OpenAI's error `type` for a status, when the caller did not pick one.
std::string_view type_for_status(unsigned status) noexcept;

/// The model a request names: the body's `model`, else the deployment an Azure path names
/// (`path_model`); a 400 naming `model` when there is neither.
boost::system::result<std::string, api_error> request_model(boost::json::object const& o,
                                                            std::string_view path_model);
/// The same, for the `model` member already found (null when absent or null).
boost::system::result<std::string, api_error> request_model_of(boost::json::value const* model,
                                                               std::string_view path_model);

}  // namespace llmux::detail::openai
