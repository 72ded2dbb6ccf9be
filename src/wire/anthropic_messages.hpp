// SPDX-License-Identifier: BSL-1.0
// What the two sides of Anthropic Messages share (anthropic_messages.cpp, the client;
// anthropic_messages_server.cpp, the server): versions, the JSON answer tool, stop reasons and
// error types both ways (PROVIDERS.md sections 3 and 5.3). Private to src/wire/.
#pragma once

#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <optional>
#include <string_view>

namespace llmux::detail::anthropic {

/// The `anthropic-version` header the client sends unless told otherwise.
inline constexpr std::string_view default_version = "2023-06-01";
/// Claude on Vertex AI: the body's `anthropic_version`.
inline constexpr std::string_view vertex_version = "vertex-2023-10-16";
/// What a Claude-on-Vertex path holds before the model.
inline constexpr std::string_view vertex_marker = "/publishers/anthropic/models/";
/// The tool that carries a JSON answer (the client's `response_format`, anthropic_messages.cpp).
inline constexpr std::string_view json_answer_tool = "llmux_json_answer";

/** The unified finish reason of a `stop_reason`. `only_answer_tool`: the turn's only tool
    calls were the JSON answer tool, so a `tool_use` stop is the end of the answer.
*/
constexpr finish_reason finish_from_stop(std::string_view s, bool only_answer_tool) noexcept {
    if (s == "end_turn" || s == "stop_sequence" || s == "pause_turn") return finish_reason::stop;
    if (s == "max_tokens" || s == "model_context_window_exceeded") return finish_reason::length;
    if (s == "tool_use") return only_answer_tool ? finish_reason::stop : finish_reason::tool_calls;
    if (s == "refusal") return finish_reason::content_filter;
    return finish_reason::unknown;
}

/// Anthropic's `stop_reason` for a unified finish reason (`end_turn` when unknown).
constexpr std::string_view stop_reason(finish_reason r) noexcept {
    switch (r) {
    case finish_reason::length: return "max_tokens";
    case finish_reason::tool_calls: return "tool_use";
    case finish_reason::content_filter: return "refusal";
    case finish_reason::stop:
    case finish_reason::unknown:
    case finish_reason::error: break;
    }
    return "end_turn";
}

/// What kind of extended thinking a Claude model takes (PROVIDERS-2.md 3.3).
enum class thinking_support {
    /// Claude 3.5 and older: no thinking.
    none,
    /// Claude 3.7 to 4.5: `{"type":"enabled","budget_tokens":N}`.
    budget,
    /// Claude 4.6: a budget or adaptive thinking with an effort.
    budget_or_adaptive,
    /// Claude 4.7 and later: adaptive thinking only (`enabled` is refused).
    adaptive,
};

/** The thinking a Claude model id takes, from its version (`claude-opus-4-6`,
    `claude-3-7-sonnet-20250219`, `us.anthropic.claude-sonnet-4-5-20250929-v1:0`). An id
    without a readable version (an alias llmux does not know) is taken as `budget_or_adaptive`
    so that the provider decides.
*/
thinking_support claude_thinking(std::string_view model) noexcept;

/// The error an Anthropic `error.type` names (PROVIDERS.md 3.4).
constexpr std::optional<error> error_from_type(std::string_view t) noexcept {
    if (t == "invalid_request_error") return error::bad_request;
    if (t == "authentication_error") return error::auth_failed;
    if (t == "permission_error") return error::permission_denied;
    if (t == "not_found_error") return error::not_found;
    if (t == "request_too_large") return error::bad_request;
    if (t == "rate_limit_error") return error::rate_limited;
    if (t == "api_error") return error::server_error;
    if (t == "overloaded_error") return error::overloaded;
    if (t == "billing_error") return error::payment_required;
    if (t == "timeout_error") return error::timeout;
    return std::nullopt;
}

/// Anthropic's `error.type` for an HTTP status.
constexpr std::string_view error_type(unsigned status) noexcept {
    switch (status) {
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    case 504: return "timeout_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

}  // namespace llmux::detail::anthropic
