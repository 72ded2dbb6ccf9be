// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace llmux {

/** @brief The error codes of llmux.

    Every failure of a provider call maps to one of these, whatever the wire format, so that
    fallback and retry rules are written once. Errors from Asio (connection refused, reset),
    OpenSSL (certificate rejected) and Beast keep their own categories; see
    `llmux::is_retryable` and `llmux::code_name` for how they are classified and named.
*/
enum class error {
    /// A deadline passed: connect, TLS handshake, first byte, idle gap, total, or per attempt.
    timeout = 1,
    /// The provider throttled the call (HTTP 429, `ThrottlingException`, `RESOURCE_EXHAUSTED`).
    rate_limited,
    /// The provider is overloaded (Anthropic 529, OpenAI/DeepSeek 503 "overloaded").
    overloaded,
    /// The provider failed (HTTP 5xx, an error event inside a stream).
    server_error,
    /// The key was rejected (HTTP 401).
    auth_failed,
    /// The key is valid but may not do this (HTTP 403).
    permission_denied,
    /// The provider rejected the request as malformed (HTTP 400, 422).
    bad_request,
    /// The prompt does not fit the model's context window.
    context_length_exceeded,
    /// The provider refused the prompt or the answer on safety grounds.
    content_filtered,
    /// The model or endpoint does not exist (HTTP 404).
    not_found,
    /// The account has no credit left (HTTP 402).
    payment_required,
    /// The response is not what the wire format says (bad JSON, missing required field).
    protocol_error,
    /// A stream ended before its end marker: the answer is incomplete.
    truncated,
    /// The response body exceeded the configured size cap.
    response_too_large,
    /// Every candidate of a fallback, retry or hedge failed; each attempt is reported.
    all_attempts_failed,
    /// The client's spend budget is used up.
    budget_exceeded,
    /// The provider/model is cooling down after repeated failures (circuit open).
    circuit_open,
    /// A model id is not of the form `provider/model`.
    invalid_model_id,
    /// The provider named in a model id is not configured.
    unknown_provider,
    /// The provider needs an API key and none was given.
    missing_api_key,
    /// A configuration value or file is invalid.
    invalid_config,
    /// The request cannot be expressed in the provider's wire format.
    unsupported,
    /// The request is malformed before sending (e.g. a header value with CR/LF).
    invalid_request,
    /// The operation was cancelled by the library (e.g. a hedged loser). The caller's own
    /// cancellation is reported as `boost::asio::error::operation_aborted`.
    cancelled,
};

/// @brief The error category of `llmux::error`.
boost::system::error_category const& category() noexcept;

/// @brief Makes an `error_code` of the llmux category.
inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), category()};
}

struct attempt;

/** @brief Where `diagnostics::message` comes from, for code that passes it on: a gateway
    shows its clients llmux's and the provider's words, never internal details.
*/
enum class message_source : unsigned char {
    /// llmux's own description (an invalid request, a refusal, a deadline): safe to show.
    llmux,
    /// The provider's own error message, as it wrote it.
    provider,
    /// Details for operators: the upstream address that was reached, an excerpt of a raw
    /// upstream body. Logged, not shown to a gateway's clients.
    internal,
};

/** @brief What a provider (or llmux) said about a failure.

    Never holds API keys, authorization headers or prompt text.
*/
struct diagnostics {
    /// HTTP status of the response, 0 if none was received.
    unsigned http_status = 0;
    /// The provider and model of the call, when known.
    std::string provider;
    std::string model;
    /// The provider's own error type and code (e.g. `rate_limit_error`, `insufficient_quota`).
    std::string error_type;
    std::string error_code;
    /// The provider's message, or llmux's explanation of the problem.
    std::string message;
    /// Where `message` comes from.
    message_source source = message_source::llmux;
    /// The provider's request id (`x-request-id`, `request-id`, `x-amzn-RequestId`).
    std::string request_id;
    /// How long the provider asked to wait before retrying (`retry-after-ms`, `retry-after`).
    std::optional<std::chrono::milliseconds> retry_after;
    /// For a failed fallback, retry or hedge: every attempt, in order, with its error.
    std::vector<attempt> attempts;
    /** What the provider billed (or will bill) for work done before the call failed, in USD:
        a stream that broke or was dropped after its answer began is charged for the tokens
        received (estimated where the provider reported none). For a failed fallback, retry
        or hedge, the total of its attempts. Empty when nothing is known to be billed. Spend is
        never lost: budgets and totals count it.
    */
    std::optional<double> cost_usd;
};

/** @brief A failed operation: an error code plus what is known about it.
 */
struct failure {
    boost::system::error_code code;
    llmux::diagnostics diag;

    // Defined below `attempt`: `diagnostics` holds a vector of them, which must be complete
    // where the constructors are (Clang checks this; GCC does not).
    failure();
    failure(boost::system::error_code ec);  // NOLINT: implicit on purpose
    failure(error e);                       // NOLINT
    failure(boost::system::error_code ec, llmux::diagnostics d);
    failure(error e, std::string message);
    failure(boost::system::error_code ec, std::string message);

    /// @brief A one-line description: code name, HTTP status, provider, message, request id.
    std::string to_string() const;
};

std::ostream& operator<<(std::ostream& os, failure const& f);

/// @brief One attempt of a call (fallback, retry and hedging make several).
struct attempt {
    /// The `provider/model` tried.
    std::string model;
    /// Empty on success.
    std::optional<failure> error;
    std::chrono::nanoseconds latency{};
};

inline failure::failure() = default;
inline failure::failure(boost::system::error_code ec) : code(ec) {}
inline failure::failure(error e) : code(make_error_code(e)) {}
inline failure::failure(boost::system::error_code ec, llmux::diagnostics d)
    : code(ec), diag(std::move(d)) {}
inline failure::failure(error e, std::string message) : code(make_error_code(e)) {
    diag.message = std::move(message);
}
inline failure::failure(boost::system::error_code ec, std::string message) : code(ec) {
    diag.message = std::move(message);
}

/// @brief The short, stable name of an error code, as used in `--json` output
/// (`rate_limited`, `timeout`, `connection_refused`, `tls_error`, ...).
std::string code_name(boost::system::error_code const& ec);

/// @brief An exception that carries a failure; thrown by `result::value()` on error.
class error_with_diagnostics : public boost::system::system_error {
public:
    explicit error_with_diagnostics(failure f);
    llmux::diagnostics const& get_diagnostics() const noexcept { return failure_.diag; }
    llmux::failure const& get_failure() const noexcept { return failure_; }

private:
    llmux::failure failure_;
};

/// Found by `boost::system::result::value()` through ADL.
[[noreturn]] void throw_exception_from_error(failure const& f, boost::source_location const& loc);

/// @brief The value of an operation or the failure that prevented it.
template <class T>
using result = boost::system::result<T, failure>;

}  // namespace llmux

namespace boost::system {
template <>
struct is_error_code_enum<::llmux::error> : std::true_type {};
}  // namespace boost::system
