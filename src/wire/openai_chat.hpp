// SPDX-License-Identifier: BSL-1.0
// What the two sides of OpenAI chat completions share (openai_chat.cpp, the client;
// openai_chat_server.cpp, the server): finish reasons both ways. Private to src/wire/.
#pragma once

#include <llmux/types.hpp>

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

}  // namespace llmux::detail::openai
