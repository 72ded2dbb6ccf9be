// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/catalog.hpp>
#include <llmux/config.hpp>
#include <llmux/embeddings.hpp>
#include <llmux/error.hpp>
#include <llmux/telemetry.hpp>
#include <llmux/types.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace llmux {

/// @brief Connection and request counters of a client.
struct client_stats {
    /// New TCP connections made.
    std::uint64_t connections_opened = 0;
    /// Requests sent on a pooled keep-alive connection.
    std::uint64_t connections_reused = 0;
    /// Sockets open now (idle in the pool or busy).
    std::uint64_t connections_open = 0;
    /// HTTP requests sent.
    std::uint64_t requests = 0;
    /// Calls in flight now.
    std::uint64_t in_flight = 0;
    /// TLS handshakes that resumed an earlier session (cheaper than a full handshake).
    std::uint64_t tls_resumed = 0;
};

/** @brief One finished call (or attempt), for telemetry callbacks.
 */
struct call_record {
    std::string provider;
    std::string model;  ///< `provider/model`
    /// 1 for a plain call; fallback, retry and hedging number their attempts 1, 2, ...
    std::uint32_t attempt = 1;
    bool stream = false;
    /// Empty on success.
    std::optional<failure> error;
    std::chrono::nanoseconds latency{};
    std::chrono::nanoseconds ttft{};
    llmux::usage usage;
    std::optional<double> cost_usd;
};

class client;
struct model_health;

/// @brief Which attempt of a larger operation (fallback, retry, hedge) a call is; reported in
/// its `call_record`.
struct attempt_context {
    std::uint32_t attempt = 1;
};

namespace detail {
class stream_source;
}  // namespace detail

/** @brief A streamed answer: one type for a plain stream (`client::stream`) and for a stream
    with fallback, first-token hedging or continuation (`stream_fallback`, `router::stream`).
    Move-only.

    @code
    auto s = client.stream(req);
    while (auto chunk = co_await s.next()) std::cout << chunk->text;
    auto const& r = s.response();   // the assembled answer, or why the stream failed
    if (!r) std::cerr << r.error() << '\n';
    @endcode

    The request is sent by the first `next()`. `next()` returns chunks as they arrive and an
    empty optional when the stream is over, successfully or not: then `response()` holds the
    whole answer (text, tool calls assembled from their fragments, finish reason, usage) or the
    failure. A stream that ends before the provider's end marker fails with `error::truncated`;
    it is never a short answer (unless continuation was asked for and another model finished
    it: see `chat_response::continuations`).

    @par Cancellation
    `next()` follows the awaiting coroutine's cancellation slot (terminal cancellation): the
    connection is closed and `response()` holds `asio::error::operation_aborted`. Dropping the
    stream before its end closes its connection too. (A coroutine cancelled while it is running
    rather than waiting gets Asio's own `operation_aborted` exception at its next `co_await`,
    unless it has turned `this_coro::throw_if_cancelled` off.)
*/
class chat_stream {
public:
    chat_stream() = default;
    /// @brief A stream over `source`: how llmux builds plain and combined streams.
    explicit chat_stream(std::shared_ptr<detail::stream_source> source) noexcept;
    chat_stream(chat_stream&&) noexcept;
    chat_stream& operator=(chat_stream&&) noexcept;
    ~chat_stream();

    /// @brief The next chunk, or an empty optional at the end (check `response()`).
    boost::asio::awaitable<std::optional<chat_chunk>> next();

    /// @brief True once `next()` has returned an empty optional.
    bool done() const noexcept;

    /// @brief The assembled answer or the failure. Meaningful once `done()`.
    result<chat_response> const& response() const;

    /// @brief True once a chunk with content has been returned by `next()`.
    bool content_started() const noexcept;

    /** @brief True when `next()` would return without waiting for the network: chunks
        decoded from bytes already read, or the end. A relay gathers such chunks into one write
        (the gateway writes what one upstream read brought in one `write`, not one per event).
    */
    bool ready() const noexcept;

    /** @brief The next chunk when it is already decoded, without suspending: what `next()`
        would return at once. Empty when `next()` would have to wait, and at the end (which
        `next()` reports). A relay takes what is at hand this way, with no coroutine frame per
        chunk, and awaits `next()` only when it must wait:
        @code
        auto chunk = s.try_next();
        if (!chunk) chunk = co_await s.next();
        @endcode
    */
    std::optional<chat_chunk> try_next();

    /** @brief Ends the stream now (the caller stops reading): the call in progress is
        cancelled and its connection closed; `response()` becomes `operation_aborted`, with
        what the provider billed for the part of the answer already received.
    */
    void close();

    /// @brief A stream that ends at once with `f` (e.g. no candidate fits a route).
    static chat_stream failed(failure f);

private:
    std::shared_ptr<detail::stream_source> st_;
};

/// @brief What a provider's adaptive concurrency limiter shows (`client_config::concurrency`).
struct provider_concurrency {
    std::string provider;
    /// The in-flight limit now.
    std::size_t limit = 0;
    /// Calls holding a slot now.
    std::size_t in_flight = 0;
    /// Calls waiting for a slot now.
    std::size_t queued = 0;
    /// Times the limit was cut (the provider's 429/529, a rising time to first token).
    std::uint64_t cuts = 0;
    /// Calls refused with 429/529 that were queued again instead of failing.
    std::uint64_t requeued = 0;
};

/** @brief The client: one interface to every provider.

    @code
    boost::asio::io_context io;
    llmux::client c{io.get_executor(), llmux::client_config::from_env()};
    co_spawn(io, [&]() -> boost::asio::awaitable<void> {
        llmux::chat_request req{.model = "openai/gpt-4o-mini",
                                .messages = {llmux::user("Hello")}};
        auto r = co_await c.chat(req);
        if (r) std::cout << r->text() << '\n'; else std::cerr << r.error() << '\n';
    }, boost::asio::detached);
    io.run();
    @endcode

    @par Errors
    Calls return `result<T>`; nothing throws for a failed call. A malformed model id, an unknown
    provider or a missing key fail before anything is sent, with an error naming the problem.

    @par Thread safety
    Safe to call from several threads when its `io_context` runs on several threads.

    @par Object lifetimes
    The client may be destroyed while calls are in flight; they keep what they need alive.
    It must not outlive its execution context.
*/
class client {
public:
    using executor_type = boost::asio::any_io_executor;

    client(executor_type ex, client_config cfg);
    ~client();
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;

    /** @brief Sends a request and returns the whole answer.

        @par Cancellation
        Follows the awaiting coroutine's cancellation slot (terminal): the connection is closed
        and the result is `asio::error::operation_aborted`. A coroutine that was cancelled and
        goes on (its `this_coro::throw_if_cancelled` off) stays cancelled: its next call stops
        before sending, with `operation_aborted`, however many threads run the context. To call
        again, reset the state first: `co_await this_coro::reset_cancellation_state();`.
    */
    boost::asio::awaitable<result<chat_response>> chat(chat_request req);

    /// @brief `chat` as attempt `ctx.attempt` of a fallback, retry or hedge.
    boost::asio::awaitable<result<chat_response>> chat(chat_request req, attempt_context ctx);

    /// @brief `chat` with one user message: `co_await c.chat("openai/gpt-4o-mini", "Hi")`.
    boost::asio::awaitable<result<chat_response>> chat(std::string model, std::string prompt);

    /// @brief Starts a streamed call; the request is sent by the first `next()`.
    chat_stream stream(chat_request req);

    /// @brief `stream` with one user message.
    chat_stream stream(std::string model, std::string prompt);

    /// @brief `stream` as attempt `ctx.attempt` of a fallback or retry.
    chat_stream stream(chat_request req, attempt_context ctx);

    /** @brief Embeds `req.inputs`: one vector per input, in input order.

        Inputs over the provider's batch limit (OpenAI: 2048 per request; the Gemini API's
        batchEmbedContents: 100; Vertex AI's predict: 250, one for `gemini-embedding-001` and
        for `gemini-embedding-2` (sent to its `:embedContent`);
        Bedrock's InvokeModel: one for Titan Text Embeddings, 96 for Cohere Embed; the
        provider option `max_embedding_inputs` sets another) are sent as concurrent requests
        (at most 8 at a time) whose vectors are joined in order. The cost is the input tokens
        at the catalog's input price (unknown when either is: the Gemini API reports no
        tokens). Each request runs as `chat`'s does: the client's
        timeouts (`timeouts.total` for the whole call), rate limits and budget.

        @par Errors
        Before anything is sent: `invalid_request` for an empty list or an empty input (naming
        `inputs[i]`), `context_length_exceeded` for an input longer than the provider takes,
        `unsupported` for a provider without embeddings (Anthropic, DeepSeek), a Bedrock
        model other than Titan Text Embeddings and Cohere Embed, or a field its format lacks
        (`task`, `title` on OpenAI; `user` on Google's and Bedrock's; `task` on Titan; a task
        Cohere's `input_type` has not); `invalid_request` for a title without the `document`
        task on Google's, or a width a Bedrock model does not offer (Titan V2: 256, 512,
        1024; Cohere v4: 256, 512, 1024, 1536). On Cohere, an unspecified task is sent as
        `search_document` (Bedrock requires one). After the answer: `protocol_error` when a
        vector's length is not the `dimensions` asked for (a server that ignored the field),
        with what was billed in `diag.cost_usd`. A failed batch fails the call, with what the other batches cost
        in `diag.cost_usd`.

        @par Cancellation
        As `chat`: every batch in flight is cancelled and its connection closed.
    */
    boost::asio::awaitable<result<embedding_response>> embed(embedding_request req);

    /// @brief `chat` for callback, future and `deferred` users.
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_chat(chat_request req, CompletionToken&& token = {}) {
        return boost::asio::co_spawn(get_executor(), chat(std::move(req)),
                                     std::forward<CompletionToken>(token));
    }

    /** @brief Checks, without sending anything, that `model` names a configured provider with
        its credentials. Errors: `invalid_model_id`, `unknown_provider`, `missing_api_key`,
        `invalid_config`.
    */
    result<void> check(std::string_view model) const;

    /** @brief Checks, without sending anything, that `model` can be called (as `check`) and
        that its provider has embeddings llmux can call. Errors: those of `check`, and
        `unsupported` naming the provider.
    */
    result<void> check_embed(std::string_view model) const;

    /// @brief Registers a callback called once per finished call or attempt.
    /// Callbacks run on the thread that finished the call; keep them short.
    void on_call(std::function<void(call_record const&)> cb);

    executor_type get_executor() const noexcept;
    client_config const& config() const noexcept;
    client_stats stats() const;

    /// @brief The catalog used for prices, context windows and capabilities.
    llmux::catalog const& models() const noexcept;

    /// @brief Totals of every call: tokens, known spend, failures.
    client_totals totals() const;

    /** @brief What was measured for each tracked model (at most
        `client_config::max_tracked_models`, the most recently used; see `track`).
    */
    std::vector<model_metrics> metrics() const;
    /// @brief What was measured for `model` (`provider/model`), if it was called.
    std::optional<model_metrics> metrics(std::string_view model) const;
    /// @brief Moving latency estimates, in-flight count and circuit of `model` (cheap).
    model_estimate estimate(std::string_view model) const;

    /** @brief Asks `model`'s circuit breaker whether a fallback or router may try it now.
        An open circuit whose cool-down has ended admits exactly one caller (the probe);
        a plain `chat` is never blocked by the breaker, only counted.
    */
    bool admit(std::string_view model);

    /** @brief The cost of `u` on `model` (`provider/model`) as this client prices it: the
        provider's own report, else the catalog's prices, else `client_config::unpriced_price`
        when set; empty when unknown (never 0 for unknown).
    */
    std::optional<double> cost(std::string_view model, usage const& u) const;

    /** @brief The most `req` may cost on `model` (`req.model` when empty): the prompt's
        highest token estimate and `max_tokens` (or the model's longest answer, or
        `client_config::default_max_output_tokens`) at this client's prices. What a budget
        reserves before a call; empty when the model has no price.
    */
    std::optional<double> max_cost(chat_request const& req, std::string_view model = {}) const;

    /// @brief The most embedding `req.inputs` may cost on `model` (`req.model` when empty):
    /// the inputs' highest token estimate at the input price; empty when unpriced.
    std::optional<double> max_cost(embedding_request const& req, std::string_view model = {}) const;

    /** @brief True when `model`'s wire format continues a final assistant message of `req`
        (an assistant "prefill") rather than starting a new answer, which stream continuation
        needs (`fallback_options::continue_streams`): Anthropic's Messages API and Bedrock's
        Converse for Claude models before 4.6, without extended thinking or a forced tool.
        OpenAI chat completions and Gemini do not (a final assistant message there is history,
        not a beginning). False for a model the client cannot call.
    */
    bool continues_prefill(std::string_view model, chat_request const& req) const;

    /** @brief `model`'s health as this client measured it, to share with other processes
        through a `state_store` (`put_breaker`, `observe_latency`): its circuit breaker (empty
        until the circuit first changed between closed and open) and its latency averages.
    */
    model_health health(std::string_view model) const;

    /** @brief Merges what a `state_store` holds about `model` (`state_store::health`), as
        replicas of a gateway do: a circuit decision newer than this client's own is taken on
        (another replica saw the model fail: this one skips it too until the cool-down ends),
        and the shared latency averages replace the local ones for routing and hedging.
        Tracks `model` if it was not.
    */
    void merge_health(std::string_view model, model_health const& shared);

    /// @brief The adaptive concurrency of each provider called so far (empty when
    /// `client_config::concurrency` is off).
    std::vector<provider_concurrency> concurrency() const;

    /** @brief Keeps measurements and a circuit for `model` from now on, whatever happens to
        it, and never forgets them (a gateway pins its configured deployments). Other models
        are tracked once they answer or fail in a way that says something about their health,
        and only the `client_config::max_tracked_models` most recently used are kept.
    */
    void track(std::string_view model);

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace llmux
