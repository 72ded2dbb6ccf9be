// SPDX-License-Identifier: BSL-1.0
// What the two sides of the OpenAI Responses API share (PROVIDERS-2.md section 1):
// openai_responses.cpp (the client side) and openai_responses_server.cpp (the server side).
// The status of a response and its finish reason both ways (PROVIDERS-2.md 1.7), the models that
// exist only on this API, and the names of the format. Private to src/wire/.
#pragma once

#include <llmux/types.hpp>

#include <string_view>

namespace llmux::detail::responses {

/// The format's name, as a provider's `wire` names it.
inline constexpr std::string_view format_name = "openai-responses";

/** The unified finish reason of a response (PROVIDERS-2.md 1.7): `completed` with a function
    call is `tool_calls`, `completed` is `stop`; `incomplete` is `length` for
    `max_output_tokens` and `content_filter` for `content_filter`; anything else is unknown
    (`failed` is a failure, decided by the caller).
*/
constexpr finish_reason finish_from_status(std::string_view status,
                                           std::string_view incomplete_reason,
                                           bool called_a_function) noexcept {
    if (status == "completed")
        return called_a_function ? finish_reason::tool_calls : finish_reason::stop;
    if (status == "incomplete") {
        if (incomplete_reason == "max_output_tokens") return finish_reason::length;
        if (incomplete_reason == "content_filter") return finish_reason::content_filter;
    }
    return finish_reason::unknown;
}

/// The `incomplete_details.reason` of a unified finish reason; empty when the response is
/// complete.
constexpr std::string_view incomplete_reason(finish_reason r) noexcept {
    switch (r) {
    case finish_reason::length: return "max_output_tokens";
    case finish_reason::content_filter: return "content_filter";
    case finish_reason::unknown:
    case finish_reason::stop:
    case finish_reason::tool_calls:
    case finish_reason::error: break;
    }
    return {};
}

/** True for OpenAI models that exist only on the Responses API: the `*-pro` families
    (`o1-pro`, `o3-pro`, `gpt-5-pro`, `gpt-5.2-pro`, dated snapshots included) and the codex
    families (`gpt-5-codex`, `gpt-5.1-codex-max`, `codex-mini-latest`). The `openai` provider
    speaks this format for them (`wire_for_model`).
*/
constexpr bool responses_only(std::string_view model) noexcept {
    // A dated snapshot (`o3-pro-2025-06-10`) is its family; `~` starts the emulator's
    // directives (`gpt-5-pro~tokens=30`), never part of a real name.
    auto const family_has = [&](std::string_view token) {
        for (std::size_t at = model.find(token); at != std::string_view::npos;
             at = model.find(token, at + 1)) {
            bool const starts = at == 0 || model[at - 1] == '-';
            std::size_t const end = at + token.size();
            bool const ends = end == model.size() || model[end] == '-' || model[end] == '~';
            if (starts && ends) return true;
        }
        return false;
    };
    return family_has("codex") || family_has("pro");
}

}  // namespace llmux::detail::responses
