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

/// @brief Options of `retry`, and of the retries of each candidate inside a fallback
/// (`fallback_options::retry`).
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
    /// Deadline of each attempt; zero means none. (Inside a fallback, the fallback's own
    /// `per_attempt` applies instead.)
    duration per_attempt{};
    /// Never waits or tries past this; zero means none. (Inside a fallback, the fallback's own
    /// `deadline` applies instead.)
    duration deadline{};
    /// Which failures are retried; empty means `is_retryable` (without context-length errors,
    /// which the same model would repeat).
    std::function<bool(failure const&)> should_retry;
    /// Seed of the jitter; 0 picks one at random.
    std::uint64_t seed = 0;
};

/// @brief Options of `hedge`, and of hedging inside a fallback (`fallback_options::hedge`).
struct hedge_options {
    /// Start the next candidate when the current one has not answered within this; empty
    /// means the measured `quantile` of the current candidate's time to first byte.
    std::optional<duration> delay;
    double quantile = 0.95;
    /// The delay while a candidate has fewer than `min_samples` measurements.
    duration default_delay = std::chrono::seconds(2);
    std::uint64_t min_samples = 10;
    /// Deadline of the whole hedge; zero means none. (Inside a fallback, the fallback's own
    /// `deadline` applies instead.)
    duration deadline{};
    /// Failures that start the next candidate at once; empty means `is_retryable`. (Inside a
    /// fallback, the fallback's `should_move_on` applies instead.)
    std::function<bool(failure const&)> should_move_on;
};

/** @brief Options of `fallback` and `stream_fallback`: how candidates are tried, and how the
    policies compose (retries within each candidate, hedging across the list, one deadline).
*/
struct fallback_options {
    /// Deadline of each attempt (for streams: to the first content); zero means none (the
    /// client's own timeouts still apply).
    duration per_attempt{};
    /// Deadline of the whole fallback, retries, backoff and hedging included; zero means none.
    duration deadline{};
    /// Which failures move on to the next candidate; empty means `is_retryable`.
    std::function<bool(failure const&)> should_move_on;
    /// Skip candidates whose circuit breaker is open (unless every candidate's is).
    bool respect_breaker = true;
    /** Retries of each candidate before moving on to the next (retry within fallback): each
        candidate gets `retry->max_attempts` attempts with exponential backoff and jitter,
        honouring `Retry-After`, never waiting past `deadline`. Empty: one attempt each.
    */
    std::optional<retry_options> retry;
    /** Hedging across the list: the next candidate also starts when the current one has not
        answered (streams: sent its first content) within the hedge delay; the first answer
        wins and the others are cancelled. Empty: candidates are tried one at a time.
    */
    std::optional<hedge_options> hedge;
    /** Streams only, opt-in: when a committed stream breaks after content reached the caller
        (truncated, reset, an error event), continue on the next candidate whose wire format
        continues a partial answer (`client::continues_prefill`): the text so far is sent as a
        final assistant message and the stream goes on; `chat_response::continuations` records
        it. Without it (or with no such candidate left) the break stays an error.
    */
    bool continue_streams = false;
};

/** @brief Tries `models` in order with the same request until one answers.

    Each candidate runs under `per_attempt` and the whole under `deadline`; a missed deadline
    is `error::timeout` for that attempt. It moves on only for failures `should_move_on`
    accepts; after a `context_length_exceeded` it moves on only to candidates whose catalog
    context window is larger. With `opts.retry` each candidate is retried with backoff before
    the next; with `opts.hedge` the next also starts when the current one is slow. The answer's
    `model`/`requested_model` name the candidate that answered and `attempts` lists every
    attempt with its error and latency.

    The decisions are made by a pure state machine (`src/policy/fallback_fsm.hpp`) that a thin
    coroutine runs over the client; `retry` and `hedge` are the same machine with one
    candidate or with hedging.

    @par Errors
    `error::all_attempts_failed` with every attempt in `diag.attempts` (or the one failure that
    stopped it, when the policy did not move on); `asio::error::operation_aborted` when the
    caller cancelled.
    @par Cancellation
    Terminal cancellation of the awaiting coroutine cancels the attempts in progress (their
    connections are closed) and ends the fallback.
    @par Object lifetimes
    `c` must outlive the operation.
*/
[[nodiscard]] boost::asio::awaitable<result<chat_response>>
fallback(client& c, model_list models, chat_request request,
         fallback_options opts = {});

/** @brief Sends the same request to the same model again after failures that may pass,
    with exponential backoff and jitter, honouring `Retry-After` up to a cap and never waiting
    past the deadline. A call that failed delivered nothing, so retrying never duplicates
    content (streams are retried only by `stream_fallback`, before their first token).

    @par Errors
    `error::all_attempts_failed` with `diag.attempts` when every attempt failed or the deadline
    left no time for another (the last attempt's message says so); the failure itself when it
    is not retryable.
    @par Cancellation
    As `fallback`.
*/
[[nodiscard]] boost::asio::awaitable<result<chat_response>>
retry(client& c, chat_request request, retry_options opts = {});

/** @brief Hedged requests: sends to the first candidate and, if it has not answered within
    the delay, also to the next (and so on); the first good answer wins and every other
    attempt is cancelled, its connection closed, before this returns. Cuts tail latency.
    Every attempt is reported in `attempts` (losers with `error::cancelled`). Candidates
    whose circuit is open are skipped, as in `fallback`.

    @par Errors
    `error::all_attempts_failed` when every candidate failed, with `diag.attempts`.
    @par Cancellation
    As `fallback`.
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

/** @brief Embeds with the first of `models` that answers: `fallback` for embedding requests,
    with the same options (per-attempt and overall deadlines, retries of each candidate,
    hedging, the circuit breaker) and the same state machine. The vectors' `attempts` list
    every attempt.

    The vectors of two different models are not comparable even at one width: fall back
    between providers or deployments of the same model (`openai/text-embedding-3-small` and
    `azure/text-embedding-3-small`), or re-embed what the vectors are compared with.

    @par Errors
    Before anything is sent: the `check_embed` error of a candidate that cannot embed (naming
    it); `invalid_request` when, without `request.dimensions`, the catalog's widths of two
    candidates differ (`model_info::embedding_dimensions`). Then as `fallback`.
    @par Cancellation
    As `fallback`.
*/
[[nodiscard]] boost::asio::awaitable<result<embedding_response>>
fallback(client& c, model_list models, embedding_request request, fallback_options opts = {});

/** @brief Sends every embedding request concurrently (at most `opts.max_concurrency` at a
    time); one outcome per request, in input order. A failure is a value in its slot. For one
    list of texts, `client::embed` already splits and joins batches; this is for many lists,
    or one list on several models.
    @par Cancellation
    Terminal cancellation of the awaiting coroutine cancels every call.
*/
[[nodiscard]] boost::asio::awaitable<std::vector<result<embedding_response>>>
gather(client& c, std::vector<embedding_request> requests, gather_options opts = {});

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

/// @brief The stream of `stream_fallback`: the same type as a plain stream.
using fallback_stream = chat_stream;

/** @brief A streamed call with fallback: candidates are tried in order until one starts
    answering; once the first content token has reached the caller, that candidate is
    committed and a later failure is an error (never a silently spliced answer), unless
    `opts.continue_streams` asks for continuation on the next candidate.

    `per_attempt` bounds each candidate's time to its first content token; `deadline` bounds
    the whole stream; `opts.retry` retries a candidate before its first token; `opts.hedge`
    starts the next candidate when the first token is slow (the first to send content wins,
    the others are closed). Nothing is sent until the first `next()`.

    @par Object lifetimes
    `c` must outlive the stream.
*/
chat_stream stream_fallback(client& c, model_list models, chat_request request,
                            fallback_options opts = {});

}  // namespace llmux
