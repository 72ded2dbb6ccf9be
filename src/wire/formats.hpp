// SPDX-License-Identifier: BSL-1.0
// The built-in wire formats. Adding one: a .cpp defining its accessor, a line here, a line in
// registry.cpp, fixtures under tests/data/<format>/ and a unit test file.
#pragma once

#include "wire/wire_format.hpp"

namespace llmux::detail {

wire_format const& openai_chat_format();
wire_format const& anthropic_messages_format();
wire_format const& gemini_format();
wire_format const& bedrock_converse_format();
/// Vertex AI: Gemini models (publishers/google) and Claude models (publishers/anthropic).
wire_format const& vertex_format();

}  // namespace llmux::detail
