// SPDX-License-Identifier: BSL-1.0
// The built-in wire formats. Adding one: its client side (`<format>.cpp`) and server side
// (`<format>_server.cpp`) each defining an accessor declared here, a line in registry.cpp,
// fixtures under tests/data/<format>/, a unit test file and a fuzz target.
#pragma once

#include "wire/server.hpp"
#include "wire/wire_format.hpp"

namespace llmux::detail {

wire_format const& openai_chat_format();
wire_format const& anthropic_messages_format();
wire_format const& gemini_format();
wire_format const& bedrock_converse_format();
/// Vertex AI: Gemini models (publishers/google) and Claude models (publishers/anthropic).
wire_format const& vertex_format();
/// The OpenAI Responses API (`openai-responses`).
wire_format const& openai_responses_format();

/** The format `p` speaks for `model`: `wire.for_model(model)` (`wire` is `p`'s format), except
    that the `openai` provider speaks the Responses API for the models that exist only there
    (the `*-pro` and codex families, `responses::responses_only`).
*/
wire_format const& wire_for_model(provider_config const& p, wire_format const& wire,
                                  std::string_view model) noexcept;

/// @name Server sides
/// @{
wire_server const& openai_chat_server();
wire_server const& anthropic_messages_server();
wire_server const& bedrock_converse_server();
/// Gemini, both path shapes: the Gemini API's (AI Studio) and Vertex AI's.
wire_server const& gemini_server();
wire_server const& openai_responses_server();
/// @}

}  // namespace llmux::detail
