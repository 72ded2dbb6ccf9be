// SPDX-License-Identifier: BSL-1.0
// Which formats and models continue a final assistant message (an assistant "prefill"), which
// stream continuation sends after a broken stream. Facts (PROVIDERS.md, Anthropic Messages):
// a final assistant turn is continued by Claude models before 4.6; from Claude 4.6 on the API
// answers 400 "This model does not support assistant message prefill"; with extended thinking
// a final assistant turn must start with a thinking block, and a forced tool conflicts with a
// prefill. Bedrock's Converse passes the turn to Claude unchanged. OpenAI chat completions take a
// final assistant message as history and start a new answer, and Gemini documents no
// continuation: neither continues one.
#pragma once

#include <llmux/types.hpp>

#include <optional>
#include <string_view>
#include <utility>

namespace llmux::detail {

/// The Claude generation a model name states (`claude-3-5-sonnet-20240620` → 3.5,
/// `claude-sonnet-4-6` → 4.6, `claude-sonnet-4-20250514` → 4.0), or nothing.
std::optional<std::pair<int, int>> claude_version(std::string_view model) noexcept;

/// True for Claude models known to continue a final assistant message (before 4.6).
bool claude_accepts_prefill(std::string_view model) noexcept;

/// True when `req` asks for something that conflicts with a prefill on Claude: a forced tool
/// (`tool_choice` required or named, JSON output, which is a forced tool) or extended
/// thinking in `extra`.
bool claude_prefill_conflicts(chat_request const& req) noexcept;

}  // namespace llmux::detail
