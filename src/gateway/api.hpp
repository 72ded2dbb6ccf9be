// SPDX-License-Identifier: BSL-1.0
// The gateway's server-side codecs (the inverse of src/wire/): requests in OpenAI's and
// Anthropic's formats parsed into a `chat_request`, answers and streams rendered back in each
// format, and failures mapped to HTTP statuses and error bodies. Sans-io pure functions, tested
// from bytes (tests/unit/gateway_*.cpp).
#pragma once

#include "util/json_write.hpp"

#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace llmux::detail {

/** @brief An error answer in neutral terms; each endpoint writes it in its own shape
    (OpenAI: `{"error":{"message","type","param","code"}}`; Anthropic:
    `{"type":"error","error":{"type","message"}}`).
*/
struct api_error {
    unsigned status = 500;
    /// OpenAI's `error.type` (`invalid_request_error`, `server_error`, ...).
    std::string type;
    /// OpenAI's `error.code`; empty is null.
    std::string code;
    /// The request field at fault; empty is null.
    std::string param;
    std::string message;
    /// Sent as `Retry-After` (seconds, rounded up) and `retry-after-ms`.
    std::optional<std::chrono::milliseconds> retry_after;
    /// Sent as `x-should-retry: false` (the official SDKs retry 429 and 5xx otherwise).
    bool no_retry = false;
};

/// @name JSON reading helpers shared by the request parsers
/// @{
inline std::string_view sv(boost::json::string const& s) noexcept {
    return {s.data(), s.size()};
}
/// A present, non-null member, or null.
inline boost::json::value const* member(boost::json::object const& o,
                                        std::string_view key) noexcept {
    auto const* v = o.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
}
/// @}

/// @brief A 400 naming the request field at fault.
api_error invalid_field(std::string param, std::string message);

/// @brief A request as a client sent it, in neutral terms.
struct parsed_request {
    /// `model` is the public model name as sent.
    chat_request req;
    bool stream = false;
    /// OpenAI's `stream_options.include_usage`.
    bool include_usage = false;
    /** OpenAI fields llmux has no neutral form for but that OpenAI-compatible upstreams accept
        (`frequency_penalty`, `presence_penalty`, `logit_bias`, `parallel_tool_calls`,
        `reasoning_effort`, ...). The gateway passes them on (as `chat_request::extra`) only
        when every deployment speaks the OpenAI wire format; other unknown fields are ignored.
    */
    boost::json::object openai_extras;
};

using parse_result = boost::system::result<parsed_request, api_error>;

/** @brief Parses an OpenAI chat-completions request body (PROVIDERS.md section 1.1).
    Invalid requests give a 400 naming the field (`messages[2].role`).
*/
parse_result parse_openai_request(std::string_view body);

/** @brief Parses an Anthropic Messages request body (PROVIDERS.md section 3.1).
    Invalid requests give a 400 naming the field.
*/
parse_result parse_anthropic_request(std::string_view body);

/** @brief The answer to a failed call: HTTP status, error type and code, a clear message.
    Upstream credentials problems are `502 upstream authentication failed` (the provider's own
    message is not passed on: it may quote part of a key); a failed fallback answers with the
    status of its last attempt and lists every attempt in the message. Messages that hold
    internal details (`message_source::internal`: the upstream's address, raw upstream bodies)
    are replaced by the error code's description unless `expose` (a debugging option).
*/
api_error error_from_failure(failure const& f, bool expose = false);

/// @brief Facts of an answer that are not in `chat_response`.
struct answer_meta {
    /// The response id sent to the client (`chatcmpl-…`, `msg_…`).
    std::string_view id;
    /// Unix seconds.
    std::int64_t created = 0;
    /// The model name sent back: the public name the client asked for.
    std::string_view model;
};

/// @name OpenAI format
/// @{
void render_openai_response(chat_response const& r, answer_meta const& m, std::string& out);
void render_openai_error(api_error const& e, std::string& out);
/// `{"object":"list","data":[{"id","object":"model","created","owned_by"}...]}`.
void render_openai_models(std::span<std::string const> names, std::int64_t created,
                          std::string& out);
/// OpenAI's `finish_reason` string (`stop`, `length`, `tool_calls`, `content_filter`).
std::string_view openai_finish_reason(finish_reason r) noexcept;

/** @brief Writes a stream of `chat_chunk`s as OpenAI `chat.completion.chunk` SSE events:
    the role chunk first, content and tool-call deltas, the finish chunk, the usage chunk
    (`choices: []`) when asked for, and `data: [DONE]`.
*/
class openai_stream_writer {
public:
    openai_stream_writer(answer_meta const& m, bool include_usage);

    /// Appends the events of `c` (and the role chunk before the first one).
    void chunk(chat_chunk const& c, std::string& out);
    /// Appends the end: the finish chunk (if none was sent), usage, `[DONE]`.
    void finish(chat_response const& r, std::string& out);
    /// Appends an in-stream error event (`data: {"error":{...}}`) after which the stream ends.
    void error(api_error const& e, std::string& out);

private:
    void begin(std::string& out);
    void end_chunk(std::string& out) const;

    std::string prefix_;  // `data: {"id":…,"object":…,"created":…,"model":…,"choices":[`
    bool include_usage_;
    bool started_ = false;
    bool finished_ = false;
};
/// @}

/// @name Anthropic format
/// @{
void render_anthropic_response(chat_response const& r, answer_meta const& m, std::string& out);
void render_anthropic_error(api_error const& e, std::string& out);
/// Anthropic's `stop_reason` (`end_turn`, `max_tokens`, `tool_use`, `refusal`).
std::string_view anthropic_stop_reason(finish_reason r) noexcept;
/// Anthropic's `error.type` for an HTTP status.
std::string_view anthropic_error_type(unsigned status) noexcept;

/** @brief Writes a stream of `chat_chunk`s as Anthropic Messages SSE events: `message_start`,
    a `content_block_start` / `content_block_delta`s / `content_block_stop` per text or
    tool-use block, `message_delta` with the stop reason and usage, `message_stop`.
*/
class anthropic_stream_writer {
public:
    explicit anthropic_stream_writer(answer_meta const& m);

    void chunk(chat_chunk const& c, std::string& out);
    void finish(chat_response const& r, std::string& out);
    /// An `event: error` after which the stream ends.
    void error(api_error const& e, std::string& out);

private:
    void begin(std::string& out);
    void close_block(std::string& out);
    void open_text(std::string& out);

    std::string id_;
    std::string model_;
    bool started_ = false;
    bool finished_ = false;
    /// The open content block: -1 none; its kind.
    int open_ = -1;
    bool open_is_text_ = false;
    std::size_t open_tool_ = 0;  // the tool-call index of an open tool_use block
    int next_index_ = 0;
    std::map<std::size_t, int> tool_blocks_;  // tool-call index -> block index
};
/// @}

}  // namespace llmux::detail
