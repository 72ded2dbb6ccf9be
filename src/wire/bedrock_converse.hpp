// SPDX-License-Identifier: BSL-1.0
// What the two sides of Bedrock Converse share (bedrock_converse.cpp, the client;
// bedrock_converse_server.cpp, the server): stop reasons both ways, the names of headers, the
// tool that carries JSON-schema answers, the origin of reasoning parts and the document formats.
// Private to src/wire/.
#pragma once

#include "wire/errors.hpp"

#include <llmux/types.hpp>

#include <string>
#include <string_view>

namespace llmux::detail::bedrock {

/// The tool that carries a JSON-schema answer (see bedrock_converse.cpp). A name no user tool is
/// likely to have, since the client treats a call of it as the answer's text.
inline constexpr std::string_view json_tool_name = "llmux_json_output";

/// The header of Bedrock's request ids (`x-amzn-RequestId`, UUIDs).
inline constexpr std::string_view request_id_header = "x-amzn-RequestId";

/// The header naming an error's exception; Bedrock appends a namespace after a `:`.
inline constexpr std::string_view error_type_header = "x-amzn-ErrorType";
inline constexpr std::string_view error_type_suffix =
    ":http://internal.amazon.com/coral/com.amazon.coral.service/";

/// A 400 `ValidationException` with Bedrock's `message`, naming `param` (bedrock_converse_server.cpp).
api_error validation(std::string message, std::string param = {});

/** The family whose models can read back the reasoning a Bedrock model returns: `anthropic`
    for Claude (`anthropic.claude-*`, with or without an inference profile's region prefix, or a
    gateway's `anthropic/claude-*`), `bedrock` for every other model (Nova, gpt-oss, DeepSeek).
*/
constexpr std::string_view reasoning_origin(std::string_view model) noexcept {
    return model.find("claude") != std::string_view::npos ? "anthropic" : "bedrock";
}

/// A Bedrock `DocumentFormat` and the media type of a data URI holding it.
struct document_format {
    std::string_view format;
    std::string_view media_type;
};

/// Bedrock's document formats (PROVIDERS-2.md 5), each with its media type.
inline constexpr document_format document_formats[] = {
    {"pdf", "application/pdf"},
    {"csv", "text/csv"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"html", "text/html"},
    {"txt", "text/plain"},
    {"md", "text/markdown"},
};

/** The unified value of a Bedrock `stopReason` (PROVIDERS.md 6.2). `fails` is set for the
    values that mean the generation failed. `json_answer`: the only tool called was the
    JSON-schema tool, whose call is the answer, so `tool_use` means the answer is complete.
*/
constexpr finish_reason finish_from_stop(std::string_view s, bool json_answer,
                                         bool& fails) noexcept {
    fails = false;
    if (s == "end_turn" || s == "stop_sequence") return finish_reason::stop;
    if (s == "max_tokens" || s == "model_context_window_exceeded") return finish_reason::length;
    if (s == "tool_use") return json_answer ? finish_reason::stop : finish_reason::tool_calls;
    if (s == "guardrail_intervened" || s == "content_filtered")
        return finish_reason::content_filter;
    if (s == "malformed_model_output" || s == "malformed_tool_use") {
        fails = true;
        return finish_reason::error;
    }
    return finish_reason::unknown;
}

/** Bedrock's `stopReason` for a unified finish reason. `native` (the upstream's own word) is
    kept when it is one of Bedrock's that means the same (`stop_sequence`, Anthropic's
    `end_turn`/`max_tokens`/`tool_use`, which Bedrock shares); an unknown reason is `tool_use`
    when the answer calls tools, else `end_turn`.
*/
constexpr std::string_view stop_reason(finish_reason r, std::string_view native,
                                       bool has_tool_calls) noexcept {
    bool fails = false;
    if (!native.empty() && finish_from_stop(native, false, fails) == r && !fails &&
        r != finish_reason::unknown)
        return native;
    switch (r) {
    case finish_reason::stop: return "end_turn";
    case finish_reason::length: return "max_tokens";
    case finish_reason::tool_calls: return "tool_use";
    case finish_reason::content_filter: return "content_filtered";
    case finish_reason::unknown:
    case finish_reason::error: break;
    }
    return has_tool_calls ? "tool_use" : "end_turn";
}

}  // namespace llmux::detail::bedrock
