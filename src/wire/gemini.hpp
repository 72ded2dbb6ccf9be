// SPDX-License-Identifier: BSL-1.0
// What the two sides of Gemini `generateContent` share (gemini.cpp, the client;
// gemini_server.cpp, the server): finish reasons both ways and Google's canonical status
// names. Private to src/wire/.
#pragma once

#include "wire/server.hpp"

#include <llmux/types.hpp>

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace llmux::detail::gemini {

/// A 400 in Google's shape (`INVALID_ARGUMENT`) naming `param` (gemini_server.cpp).
api_error invalid(std::string param, std::string message);

/// Google's words for a value of the wrong type at `path`.
api_error wrong_type(std::string const& path, char const* expected, boost::json::value const& got);

/** The unified value of a Gemini `finishReason`; `fails` is set for the values that mean the
    generation failed. STOP becomes tool_calls when the answer called functions (Gemini has no
    such reason). Unknown values are `unknown`, not a failure.
*/
constexpr finish_reason finish_from_name(std::string_view s, bool has_calls, bool& fails) noexcept {
    fails = false;
    if (s == "STOP") return has_calls ? finish_reason::tool_calls : finish_reason::stop;
    // CONTINUATION: the per-request token limit cut an answer that could be continued.
    if (s == "MAX_TOKENS" || s == "CONTINUATION") return finish_reason::length;
    if (s == "SAFETY" || s == "RECITATION" || s == "LANGUAGE" || s == "BLOCKLIST" ||
        s == "PROHIBITED_CONTENT" || s == "SPII" || s == "IMAGE_SAFETY" ||
        s == "IMAGE_PROHIBITED_CONTENT" || s == "IMAGE_RECITATION")
        return finish_reason::content_filter;
    if (s == "MALFORMED_FUNCTION_CALL" || s == "UNEXPECTED_TOOL_CALL" ||
        s == "TOO_MANY_TOOL_CALLS" || s == "OTHER" || s == "NO_IMAGE" || s == "IMAGE_OTHER") {
        fails = true;
        return finish_reason::error;
    }
    return finish_reason::unknown;
}

/// Gemini's `finishReason` for a unified one: tool calls end with STOP, as Gemini's do; a
/// failed generation is OTHER; unknown is STOP.
constexpr std::string_view finish_name(finish_reason r) noexcept {
    switch (r) {
    case finish_reason::length: return "MAX_TOKENS";
    case finish_reason::content_filter: return "SAFETY";
    case finish_reason::error: return "OTHER";
    case finish_reason::stop:
    case finish_reason::tool_calls:
    case finish_reason::unknown: break;
    }
    return "STOP";
}

/// The canonical status (google.rpc.Code name) Google answers an HTTP status with.
constexpr std::string_view canonical_status(unsigned status) noexcept {
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 402: return "RESOURCE_EXHAUSTED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 408: return "DEADLINE_EXCEEDED";
    case 409: return "ABORTED";
    case 412: return "FAILED_PRECONDITION";
    case 413: return "INVALID_ARGUMENT";
    case 422: return "INVALID_ARGUMENT";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 500: return "INTERNAL";
    case 501: return "UNIMPLEMENTED";
    case 502: return "UNAVAILABLE";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

}  // namespace llmux::detail::gemini
