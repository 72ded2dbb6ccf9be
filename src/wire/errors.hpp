// SPDX-License-Identifier: BSL-1.0
// Error answers of a server (the gateway, the emulator) in neutral terms, and how a failed
// upstream call becomes one. Each wire format's server side writes an `api_error` in its
// provider's shape (`wire_server::encode_error`).
#pragma once

#include <llmux/error.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace llmux::detail {

/** @brief An error answer in neutral terms.

    The fields are in this order so that a server side can write its provider's canned errors
    as `{status, message, type, code, param}`.
*/
struct api_error {
    unsigned status = 500;
    std::string message;
    /** The provider's own error type when the caller wants a specific one (the emulator's
        fidelity: OpenAI's `requests`, Anthropic's `overloaded_error`). Empty: the format picks
        its type from the status.
    */
    std::string type;
    /// A unified, OpenAI-style code (`rate_limit_exceeded`, `model_not_found`); empty is null.
    std::string code;
    /// The request field at fault (`messages[2].role`); empty is null.
    std::string param;
    /// Sent as `retry-after` (seconds, rounded up) and `retry-after-ms`, and where the format
    /// says it in the body too (Gemini's `RetryInfo`).
    std::optional<std::chrono::milliseconds> retry_after;
    /// Sent as `x-should-retry: false` (the official SDKs retry 429 and 5xx otherwise).
    bool no_retry = false;
};

/// @brief A 400 naming the request field at fault.
api_error invalid_field(std::string param, std::string message);

/** @brief The answer to a failed call: HTTP status, unified code, a clear message.

    Upstream credentials problems are `502 upstream authentication failed` (the provider's own
    message is not passed on: it may quote part of a key); a failed fallback answers with the
    status of its last attempt and lists every attempt in the message. Messages that hold
    internal details (`message_source::internal`: the upstream's address, raw upstream bodies)
    are replaced by the error code's description unless `expose` (a debugging option). The
    type is left to the format that writes the answer.
*/
api_error error_from_failure(failure const& f, bool expose = false);

}  // namespace llmux::detail
