// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace llmux {

/** @brief The default rule for moving on to another candidate (fallback, hedge) or trying
    again (retry): failures that another attempt can fix.

    Moves on for timeouts, 429 and throttling, overload, 5xx and in-stream errors, connection
    failures (refused, reset, TLS), truncated streams, malformed responses, an open circuit and
    a client-side limit; and, for fallback only, `context_length_exceeded` (to a candidate whose
    context window is larger). Never for a bad request, auth or permission errors, an unknown
    model, a content filter, a spent budget, or the caller's own cancellation.
*/
bool is_retryable(failure const& f) noexcept;

/// @brief Options of `fallback`.
struct fallback_options {
    /// Deadline of each attempt; zero means none (the client's own timeouts still apply).
    duration per_attempt{};
    /// Deadline of the whole fallback; zero means none.
    duration deadline{};
    /// Which failures move on to the next candidate; empty means `is_retryable`.
    std::function<bool(failure const&)> should_move_on;
    /// Skip candidates whose circuit breaker is open (unless every candidate's is).
    bool respect_breaker = true;
};

/** @brief Tries `models` in order with the same request until one answers.

    Each candidate runs under `per_attempt` and the whole under `deadline`; a missed deadline
    is `error::timeout` for that attempt. It moves on only for failures `should_move_on`
    accepts; after a `context_length_exceeded` it moves on only to candidates whose catalog
    context window is larger. The answer's `model`/`requested_model` name the candidate that
    answered and `attempts` lists every attempt with its error and latency.

    @par Errors
    `error::all_attempts_failed` with every attempt in `diag.attempts` (or the one failure that
    stopped it, when the policy did not move on); `asio::error::operation_aborted` when the
    caller cancelled.
    @par Cancellation
    Terminal cancellation of the awaiting coroutine cancels the current attempt (its connection
    is closed) and ends the fallback.
    @par Object lifetimes
    `c` must outlive the operation.
*/
[[nodiscard]] boost::asio::awaitable<result<chat_response>>
fallback(client& c, model_list models, chat_request request,
         fallback_options opts = {});

/// @brief Options of `retry`.
struct retry_options {
    /// Attempts in all, the first included.
    unsigned max_attempts = 3;
    /// Backoff before the second attempt; it grows by `multiplier` up to `max_backoff`, with
    /// "full jitter" (a random wait between half and all of it).
    duration initial_backoff = std::chrono::milliseconds(500);
    double multiplier = 2.0;
    duration max_backoff = std::chrono::seconds(20);
    /// A provider's `Retry-After` / `retry-after-ms` is honoured up to this long.
    duration max_retry_after = std::chrono::seconds(60);
    duration per_attempt{};
    /// Never waits or tries past this; zero means none.
    duration deadline{};
    /// Which failures are retried; empty means `is_retryable` (without context-length errors,
    /// which the same model would repeat).
    std::function<bool(failure const&)> should_retry;
    /// Seed of the jitter; 0 picks one at random.
    std::uint64_t seed = 0;
};

/** @brief Sends the same request to the same model again after failures that may pass,
    with exponential backoff and jitter, honouring `Retry-After` up to a cap and never waiting
    past the deadline. A call that failed delivered nothing, so retrying never duplicates
    content (streams are retried only by `stream_fallback`, before their first token).

    @par Errors
    `error::all_attempts_failed` with `diag.attempts`; the failure itself when it is not
    retryable; `error::timeout` when the deadline leaves no time for another attempt.
*/
[[nodiscard]] boost::asio::awaitable<result<chat_response>>
retry(client& c, chat_request request, retry_options opts = {});

/// @brief Options of `hedge`.
struct hedge_options {
    /// Start the next candidate when the current one has not answered within this; empty
    /// means the measured `quantile` of the current candidate's time to first byte.
    std::optional<duration> delay;
    double quantile = 0.95;
    /// The delay while a candidate has fewer than `min_samples` measurements.
    duration default_delay = std::chrono::seconds(2);
    std::uint64_t min_samples = 10;
    /// Deadline of the whole hedge; zero means none.
    duration deadline{};
    /// Failures that start the next candidate at once; empty means `is_retryable`.
    std::function<bool(failure const&)> should_move_on;
};

/** @brief Hedged requests: sends to the first candidate and, if it has not answered within
    the delay, also to the next (and so on); the first good answer wins and every other
    attempt is cancelled, its connection closed, before this returns. Cuts tail latency.
    Every attempt is reported in `attempts` (losers with `error::cancelled`).

    @par Errors
    `error::all_attempts_failed` when every candidate failed, with `diag.attempts`.
*/
[[nodiscard]] boost::asio::awaitable<result<chat_response>>
hedge(client& c, model_list models, chat_request request, hedge_options opts = {});

/// @brief Options of `gather`.
struct gather_options {
    /// Calls in flight at once; 0 means all.
    std::size_t max_concurrency = 0;
};

/** @brief Sends `request` to every model concurrently; one outcome per model, in input order.
    A failure is a value in its slot, never an exception for the others.
    @par Cancellation
    Terminal cancellation of the awaiting coroutine cancels every branch.
*/
[[nodiscard]] boost::asio::awaitable<std::vector<result<chat_response>>>
gather(client& c, model_list models, chat_request request, gather_options opts = {});

/// @brief As above, with one request per slot (each names its model).
[[nodiscard]] boost::asio::awaitable<std::vector<result<chat_response>>>
gather(client& c, std::vector<chat_request> requests, gather_options opts = {});

/** @brief Runs awaitables concurrently and returns their values in order, as a tuple:
    `auto [a, b] = co_await llmux::gather(c.chat(r1), c.chat(r2));`. Cancelling the caller
    cancels every branch.
*/
template <class... T>
[[nodiscard]] boost::asio::awaitable<std::tuple<T...>> gather(boost::asio::awaitable<T>... ops) {
    namespace asio = boost::asio;
    auto ex = co_await asio::this_coro::executor;
    auto all = co_await asio::experimental::make_parallel_group(
                   asio::co_spawn(ex, std::move(ops), asio::deferred)...)
                   .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    auto unpack = [&]<std::size_t... I>(std::index_sequence<I...>) {
        // Elements: the completion order, then an exception_ptr and a value per branch.
        ((std::get<1 + 2 * I>(all) ? std::rethrow_exception(std::get<1 + 2 * I>(all)) : void()),
         ...);
        return std::tuple<T...>(std::move(std::get<2 + 2 * I>(all))...);
    };
    co_return unpack(std::index_sequence_for<T...>{});
}

/** @brief A streamed call with fallback: candidates are tried in order until one starts
    answering; once the first content token has reached the caller, that candidate is
    committed and a later failure is an error (never a silently spliced answer).

    `per_attempt` bounds each candidate's time to its first content token; `deadline` bounds
    the whole stream. Obtained from `stream_fallback`; used like `chat_stream`.
*/
class fallback_stream {
public:
    fallback_stream() = default;
    fallback_stream(fallback_stream&&) noexcept = default;
    fallback_stream& operator=(fallback_stream&&) noexcept = default;
    ~fallback_stream();

    /// @brief The next chunk of the committed candidate, or empty at the end.
    boost::asio::awaitable<std::optional<chat_chunk>> next();
    bool done() const noexcept;
    /// @brief The answer (with every attempt in `attempts`) or the failure.
    result<chat_response> const& response() const;

    /** @brief Ends the stream now (the caller stops reading): the candidate in progress is
        cancelled and its connection closed; `response()` becomes `operation_aborted`, with
        what the candidate was billed for the part of its answer already received.
    */
    void close();

    /// @brief A stream that ends at once with `f` (e.g. no candidate fits a route).
    static fallback_stream failed(failure f);

    struct state;  ///< Internal.

private:
    friend fallback_stream stream_fallback(client&, model_list, chat_request,
                                           fallback_options);
    std::shared_ptr<state> st_;
};

/// @brief Starts a streamed fallback over `models`; nothing is sent until the first `next()`.
fallback_stream stream_fallback(client& c, model_list models, chat_request request,
                                fallback_options opts = {});

}  // namespace llmux
