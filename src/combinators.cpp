// SPDX-License-Identifier: BSL-1.0
// gather, fallback, retry, hedge and the streamed fallback (DESIGN.md layer 9). The decisions
// of fallback, retry and hedging are made by one pure state machine (policy/fallback_fsm.hpp);
// this file builds its rules from the options and runs it with the thin driver of
// policy/driver.hpp, over whole answers or over streams up to their first content. Each public
// operation runs its work in a coroutine thread of its own (as client::chat does), so the
// caller's throw_if_cancelled setting is left alone; cancellation flows in through co_spawn.
#include <llmux/combinators.hpp>

#include "policy/continuation.hpp"
#include "policy/driver.hpp"
#include "policy/fallback_fsm.hpp"
#include "stream_source.hpp"
#include "util/spawn.hpp"
#include "util/strand.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <type_traits>

namespace llmux {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool is_retryable(failure const& f) noexcept {
    auto const& ec = f.code;
    if (!ec || ec == asio::error::operation_aborted) return false;
    if (ec.category() != category()) return true;  // refused, reset, TLS, unreachable, ...
    switch (static_cast<error>(ec.value())) {
    case error::timeout:
    case error::rate_limited:
    case error::overloaded:
    case error::server_error:
    case error::protocol_error:
    case error::truncated:
    case error::circuit_open:
    case error::context_length_exceeded:
    case error::response_too_large: return true;
    default: return false;
    }
}

namespace {

/// `retry`'s default: what `is_retryable` accepts, except a context-length error, which the
/// same model would repeat.
std::function<bool(failure const&)> default_should_retry() {
    return [](failure const& f) {
        return is_retryable(f) && f.code != make_error_code(error::context_length_exceeded);
    };
}

/// The state machine's settings for `models` under `o`, with the client's current view of
/// each candidate (context window, measured first-token times, circuit).
struct plan {
    std::vector<detail::fallback_candidate> candidates;
    detail::fallback_rules rules;
    detail::uniform_source jitter;
    /// The most attempts the rules allow (the driver's channel holds one outcome each).
    std::size_t max_attempts = 0;
};

plan make_plan(client& c, model_list const& models, fallback_options const& o, std::string name) {
    plan p;
    for (auto const& m : models) {
        detail::fallback_candidate fc;
        fc.model = m;
        if (auto const* info = c.models().find(m)) fc.context_window = info->context_window;
        if (o.hedge) {
            std::optional<model_metrics> measured;
            if (!o.hedge->delay) measured = c.metrics(m);
            fc.hedge_delay = detail::hedge_delay(o.hedge->delay, measured ? &measured->ttft : nullptr,
                                                 o.hedge->quantile, o.hedge->min_samples,
                                                 o.hedge->default_delay);
        }
        p.candidates.push_back(std::move(fc));
    }
    p.rules.name = std::move(name);
    p.rules.deadline = o.deadline;
    p.rules.per_attempt = o.per_attempt;
    p.rules.move_on = o.should_move_on ? o.should_move_on
                                       : std::function<bool(failure const&)>(is_retryable);
    if (o.retry) {
        auto const& r = *o.retry;
        p.rules.retry.max_attempts = std::max(1u, r.max_attempts);
        p.rules.retry.initial_backoff = r.initial_backoff;
        p.rules.retry.multiplier = r.multiplier;
        p.rules.retry.max_backoff = r.max_backoff;
        p.rules.retry.max_retry_after = r.max_retry_after;
        p.rules.retry.should_retry = r.should_retry ? r.should_retry : default_should_retry();
        p.jitter = detail::seeded_uniform(r.seed);
    } else {
        p.rules.retry.max_attempts = 1;
        p.jitter = detail::seeded_uniform(1);  // never drawn from
    }
    p.rules.hedge = o.hedge.has_value();
    // The breaker is ignored when it would leave nothing to try.
    bool const all_open = !models.empty() && std::all_of(models.begin(), models.end(), [&](std::string const& m) {
        return c.estimate(m).circuit == circuit_state::open;
    });
    p.rules.check_breaker = o.respect_breaker && !all_open;
    p.max_attempts = models.size() * p.rules.retry.max_attempts;
    return p;
}

/// A whole answer through the state machine: `call(c, request, ctx)` makes one attempt (a chat
/// answer, or embedding vectors).
template <class Request, class Response, class Call>
asio::awaitable<result<Response>> run_whole(client& c, model_list models, Request req,
                                            fallback_options opts, std::string name,
                                            std::string label, Call call) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto p = make_plan(c, models, opts, std::move(name));
    p.rules.label = std::move(label);
    auto const max_attempts = p.max_attempts;
    detail::fallback_fsm fsm(std::move(p.candidates), std::move(p.rules), std::move(p.jitter));
    auto const t0 = steady::now();
    auto start = [&](std::size_t, std::string const& model, std::uint32_t n) {
        auto r = req;
        r.model = model;
        attempt_context const ctx{n};
        return call(c, std::move(r), ctx);
    };
    auto judge = [](result<Response> const& r) -> std::optional<failure> {
        if (r) return std::nullopt;
        return r.error();
    };
    auto failed = [](failure f) { return result<Response>(std::move(f)); };
    auto d = co_await detail::drive<result<Response>>(c, fsm, max_attempts, start, judge, failed);
    if (!d.finish.winner) co_return std::move(d.finish.error);
    Response out = std::move(d.outcomes.at(*d.finish.winner)->value());
    out.attempts = std::move(d.finish.attempts);
    // Times count from the start of the whole operation, as the caller waited.
    if constexpr (std::is_same_v<Response, chat_response>) out.ttft += d.finish.winner_started - t0;
    out.latency = steady::now() - t0;
    co_return out;
}

asio::awaitable<result<chat_response>> run_whole(client& c, model_list models, chat_request req,
                                                 fallback_options opts, std::string name,
                                                 std::string label) {
    return run_whole<chat_request, chat_response>(
        c, std::move(models), std::move(req), std::move(opts), std::move(name), std::move(label),
        [](client& cl, chat_request r, attempt_context ctx) { return cl.chat(std::move(r), ctx); });
}

/** Refuses, before anything is sent, an embedding fallback whose candidates cannot all embed
    or would give vectors of different widths (without `dimensions`, each model's own width as
    the catalog knows it): which candidate answered would change what the vectors mean.
*/
result<void> check_embed_candidates(client& c, model_list const& models,
                                    embedding_request const& req) {
    if (models.empty()) return failure(error::invalid_request, "fallback: the list of models is empty");
    std::optional<std::pair<std::string, std::uint32_t>> first;
    for (auto const& m : models) {
        if (auto ok = c.check_embed(m); !ok) return ok.error();
        if (req.dimensions) continue;
        auto const* info = c.models().find(m);
        if (!info || !info->embedding_dimensions) continue;
        if (!first) {
            first.emplace(m, *info->embedding_dimensions);
        } else if (first->second != *info->embedding_dimensions) {
            return failure(error::invalid_request,
                           "fallback: " + first->first + " gives vectors of " +
                               std::to_string(first->second) + " values and " + m + " of " +
                               std::to_string(*info->embedding_dimensions) +
                               "; vectors of different widths cannot stand in for each other "
                               "(set dimensions, or list models of one width)");
        }
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// gather

template <class Request, class Response>
struct gather_state {
    client* c;
    std::vector<Request> requests;
    std::vector<std::optional<result<Response>>> results;
    std::atomic<std::size_t> next{0};
};

template <class Request, class Response>
asio::awaitable<void> gather_worker(std::shared_ptr<gather_state<Request, Response>> st) {
    for (;;) {
        auto const i = st->next.fetch_add(1);
        if (i >= st->requests.size()) co_return;
        if constexpr (std::is_same_v<Request, chat_request>)
            st->results[i] = co_await st->c->chat(st->requests[i]);
        else
            st->results[i] = co_await st->c->embed(st->requests[i]);
    }
}

template <class Request, class Response>
asio::awaitable<std::vector<result<Response>>> gather_impl(client& c, std::vector<Request> requests,
                                                           gather_options opts) {
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<gather_state<Request, Response>>();
    st->c = &c;
    st->requests = std::move(requests);
    st->results.resize(st->requests.size());
    std::size_t const n = st->requests.size();
    std::size_t const workers = opts.max_concurrency == 0 ? n : std::min(n, opts.max_concurrency);
    if (workers > 0) {
        using op_type = decltype(asio::co_spawn(ex, gather_worker(st), asio::deferred));
        std::vector<op_type> ops;
        ops.reserve(workers);
        for (std::size_t i = 0; i < workers; ++i)
            ops.push_back(asio::co_spawn(ex, gather_worker(st), asio::deferred));
        // Cancelling the caller cancels the group, which cancels every worker's current call.
        (void)co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    }
    std::vector<result<Response>> out;
    out.reserve(n);
    for (auto& r : st->results)
        out.push_back(r ? std::move(*r)
                        : result<Response>(failure(asio::error::operation_aborted,
                                                   "cancelled before this call started")));
    co_return out;
}

/// `gather_impl` in a coroutine thread of its own; a caller cancelled before it starts gets
/// one operation_aborted per slot.
template <class Request, class Response>
asio::awaitable<std::vector<result<Response>>> gather_isolated(client& c,
                                                               std::vector<Request> requests,
                                                               gather_options opts) {
    auto const n = requests.size();
    try {
        co_return co_await detail::run_on(
            detail::make_small_strand(c.get_executor()),
            gather_impl<Request, Response>(c, std::move(requests), opts));
    } catch (boost::system::system_error const& e) {
        std::vector<result<Response>> out;
        for (std::size_t i = 0; i < n; ++i)
            out.push_back(failure(e.code(), "cancelled before the gather started"));
        co_return out;
    }
}

/// Runs `work` in its own coroutine thread; a caller cancelled before it starts gets
/// operation_aborted as a value.
template <class T>
asio::awaitable<result<T>> isolated(client& c, asio::awaitable<result<T>> work) {
    try {
        // A strand of its own: the operation's timers and parallel groups complete on the
        // context's threads, and Asio's cancellation between them is not thread-safe.
        co_return co_await detail::run_on(detail::make_small_strand(c.get_executor()),
                                          std::move(work));
    } catch (boost::system::system_error const& e) {
        co_return failure(e.code(), "cancelled before the operation started");
    }
}

}  // namespace

asio::awaitable<result<chat_response>> fallback(client& c, model_list models,
                                                chat_request request, fallback_options opts) {
    return isolated(c, run_whole(c, std::move(models), std::move(request), std::move(opts),
                                 "fallback", {}));
}

asio::awaitable<result<chat_response>> retry(client& c, chat_request request, retry_options opts) {
    fallback_options fo;
    fo.per_attempt = opts.per_attempt;
    fo.deadline = opts.deadline;
    // One candidate: what is not retried ends it with its own failure; what is retried and
    // runs out of attempts (or time) ends it with all_attempts_failed.
    fo.should_move_on = opts.should_retry ? opts.should_retry : default_should_retry();
    fo.respect_breaker = false;
    fo.retry = std::move(opts);
    std::string label = "retry of " + request.model;
    model_list one{std::vector<std::string>{request.model}};
    return isolated(c, run_whole(c, std::move(one), std::move(request), std::move(fo), "retry",
                                 std::move(label)));
}

asio::awaitable<result<chat_response>> hedge(client& c, model_list models,
                                             chat_request request, hedge_options opts) {
    fallback_options fo;
    fo.deadline = opts.deadline;
    fo.should_move_on = opts.should_move_on;
    fo.hedge = std::move(opts);
    return isolated(c, run_whole(c, std::move(models), std::move(request), std::move(fo), "hedge",
                                 {}));
}

asio::awaitable<std::vector<result<chat_response>>> gather(client& c, model_list models,
                                                           chat_request request,
                                                           gather_options opts) {
    std::vector<chat_request> requests;
    requests.reserve(models.size());
    for (auto& m : models) {
        requests.push_back(request);
        requests.back().model = std::move(m);
    }
    return gather(c, std::move(requests), opts);
}

asio::awaitable<std::vector<result<chat_response>>> gather(client& c,
                                                           std::vector<chat_request> requests,
                                                           gather_options opts) {
    return gather_isolated<chat_request, chat_response>(c, std::move(requests), opts);
}

asio::awaitable<result<embedding_response>> fallback(client& c, model_list models,
                                                     embedding_request request,
                                                     fallback_options opts) {
    if (auto ok = check_embed_candidates(c, models, request); !ok) co_return ok.error();
    co_return co_await isolated(
        c, run_whole<embedding_request, embedding_response>(
               c, std::move(models), std::move(request), std::move(opts), "fallback", {},
               [](client& cl, embedding_request r, attempt_context) {
                   return cl.embed(std::move(r));
               }));
}

asio::awaitable<std::vector<result<embedding_response>>> gather(
    client& c, std::vector<embedding_request> requests, gather_options opts) {
    return gather_isolated<embedding_request, embedding_response>(c, std::move(requests), opts);
}

// ---------------------------------------------------------------------------------------------
// stream_fallback

namespace {

/// Next chunk of `s`, bounded by `until` (max: unbounded). A missed limit cancels the read
/// (closing the stream) and yields `timed_out`.
asio::awaitable<std::optional<chat_chunk>> next_before(chat_stream& s, steady::time_point until,
                                                       bool& timed_out) {
    timed_out = false;
    // A chunk already decoded needs no timer and no parallel group.
    if (until == steady::time_point::max() || steady::now() < until)
        if (auto ch = s.try_next()) co_return ch;
    if (until == steady::time_point::max()) co_return co_await s.next();
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, until);
    auto read = s.next();
    auto wait = timer.async_wait(use_tuple);
    auto r = co_await (std::move(read) || std::move(wait));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    timed_out = true;
    s.close();
    co_return std::nullopt;
}

/// One attempt of a streamed fallback: a stream opened and read up to its first content (or
/// its end).
struct stream_opening {
    std::shared_ptr<chat_stream> stream;
    /// The first chunk with content or a finish reason; empty when the stream ended first.
    std::optional<chat_chunk> first;
    /// Set when opening it threw.
    std::optional<failure> error;
};

asio::awaitable<stream_opening> open_until_content(std::shared_ptr<chat_stream> s) {
    co_await asio::this_coro::throw_if_cancelled(false);
    stream_opening o{s, std::nullopt, std::nullopt};
    for (;;) {
        auto ch = s->try_next();
        if (!ch) ch = co_await s->next();
        if (!ch) break;
        // Chunks before the first content (a role, the prompt's usage) stay with the attempt:
        // the stream absorbs them into its own answer.
        if (!ch->has_content() && !ch->finish_reason) continue;
        o.first = std::move(ch);
        break;
    }
    co_return o;
}

/// A stream with fallback, first-token hedging and continuation: the committed candidate's
/// chunks, found by the state machine before the first content and again after a break.
class combined_stream final : public detail::stream_source {
public:
    client* c = nullptr;
    asio::any_io_executor strand;
    model_list models;
    chat_request req;
    fallback_options opts;
    steady::time_point t0{}, deadline = steady::time_point::max();
    bool started = false;
    bool finished = false;
    bool content = false;
    std::uint32_t attempt_no = 0;  // numbered across phases
    std::shared_ptr<chat_stream> current;
    std::size_t current_candidate = 0;  // in `models`
    std::size_t current_record = 0;     // in `attempts`
    steady::time_point current_start{};
    std::optional<steady::time_point> first_content_at;
    std::optional<chat_chunk> held;  // the next chunk for the caller
    std::vector<attempt> attempts;
    // What the caller received, kept for continuation.
    std::string text, reasoning;
    bool tool_calls = false;
    std::vector<continuation> continuations;
    std::optional<detail::prefill_splice> splicer;
    result<chat_response> final{failure(error::invalid_request, "the stream has not finished")};

    asio::awaitable<std::optional<chat_chunk>> next(std::shared_ptr<stream_source> self) override;
    bool done() const noexcept override { return finished; }
    result<chat_response> const& response() const override { return final; }
    bool content_started() const noexcept override { return content; }
    /// Without continuation the current stream's end is the end (no other stream is opened),
    /// so a current stream that would not wait means this one would not either (past the
    /// deadline next() reports the timeout, also without waiting).
    bool ready() const noexcept override {
        return finished || held.has_value() || (takes_at_hand() && current->ready());
    }

    /** A chunk the current stream has already decoded, handed over as next() would, without a
        step on the strand, a timer or a parallel group. The caller drives the stream, so
        nothing runs on the strand between its next() calls (a phase's attempts are over once
        one has won). Streams that continue on another model take next() for every chunk, and
        past the deadline next() reports the timeout.
    */
    std::optional<chat_chunk> try_next() override {
        if (!takes_at_hand() || held) return std::nullopt;
        if (deadline != steady::time_point::max() && steady::now() >= deadline)
            return std::nullopt;
        auto ch = current->try_next();
        if (ch) deliver(*ch);
        return ch;
    }

    bool takes_at_hand() const noexcept {
        return !finished && current && !opts.continue_streams;
    }

    /// What the caller's chunk changes: the prefill splice, the content flag, and the text kept
    /// for a continuation.
    void deliver(chat_chunk& ch) {
        if (splicer) splicer->apply(ch.text);
        if (ch.has_content()) content = true;
        if (opts.continue_streams) {
            text += ch.text;
            reasoning += ch.reasoning;
            tool_calls = tool_calls || !ch.tool_calls.empty();
        }
    }

    void close() override {
        if (finished) return;
        failure const closed(asio::error::operation_aborted, "the stream was closed by the caller");
        if (current) {
            current->close();
            // The attempt in progress ends with its own failure, which carries what it was
            // billed.
            auto const& r = current->response();
            if (current_record < attempts.size() && !attempts[current_record].error)
                attempts[current_record].error = r ? closed : r.error();
        }
        finish(closed);
    }

    void dropped() override { close(); }

    void finish(failure f) {
        finished = true;
        final = detail::with_attempts(std::move(f), attempts);
    }

    void finish(chat_response r) {
        finished = true;
        auto const now = steady::now();
        if (!continuations.empty()) {
            // One answer written by several models: what the caller received.
            r.content = text;
            r.reasoning = reasoning;
            r.continuations = continuations;
            r.ttft = *first_content_at - t0;
        } else {
            r.ttft += current_start - t0;
        }
        r.attempts = attempts;
        r.latency = now - t0;
        final = std::move(r);
    }

    /// Runs the state machine over `which` (indices into `models`) with `r` until a candidate
    /// commits; `broken` is the failure a continuation phase makes good.
    asio::awaitable<void> phase(std::vector<std::size_t> which, chat_request r,
                                std::optional<failure> broken);
    /// Reads the committed stream's next chunk; on its end, finishes or continues.
    asio::awaitable<void> read();
};

asio::awaitable<void> combined_stream::phase(std::vector<std::size_t> which, chat_request r,
                                             std::optional<failure> broken) {
    model_list subset;
    for (auto i : which) subset.push_back(models[i]);
    auto p = make_plan(*c, subset, opts, broken ? "stream continuation" : "stream fallback");
    p.rules.per_attempt_note = " (to the first token)";
    p.rules.deadline_at = deadline;
    auto const max_attempts = p.max_attempts;
    detail::fallback_fsm fsm(std::move(p.candidates), std::move(p.rules), std::move(p.jitter));
    auto start = [&](std::size_t, std::string const& model, std::uint32_t) {
        auto q = r;
        q.model = model;
        attempt_context const ctx{++attempt_no};
        return open_until_content(std::make_shared<chat_stream>(c->stream(std::move(q), ctx)));
    };
    auto judge = [](stream_opening const& o) -> std::optional<failure> {
        if (o.error) return o.error;
        if (o.first || o.stream->response()) return std::nullopt;
        return o.stream->response().error();
    };
    auto failed = [](failure f) {
        stream_opening o;
        o.error = std::move(f);
        return o;
    };
    auto d = co_await detail::drive<stream_opening>(*c, fsm, max_attempts, start, judge, failed);
    auto const base = attempts.size();
    for (auto& a : d.finish.attempts) attempts.push_back(std::move(a));
    if (!d.finish.winner) {
        if (!broken) {
            finish(std::move(d.finish.error));
            co_return;
        }
        // The continuation failed too: the break stands, with everything that was tried.
        auto f = std::move(*broken);
        f.diag.message += " (not continued: every candidate for the continuation failed)";
        finish(std::move(f));
        co_return;
    }
    auto& o = *d.outcomes.at(*d.finish.winner);
    std::string const from = broken ? models[current_candidate] : std::string();
    current = o.stream;
    current_candidate = which.at(fsm.candidate_of(*d.finish.winner));
    current_record = base + d.finish.winner_record;
    current_start = d.finish.winner_started;
    if (!first_content_at) first_content_at = steady::now();
    if (broken) continuations.push_back({from, models[current_candidate], text.size()});
    if (o.first) {
        held = std::move(o.first);
        co_return;
    }
    // It ended without content, successfully: that empty answer is the answer.
    attempts[current_record].latency = steady::now() - current_start;
    finish(*current->response());
}

asio::awaitable<void> combined_stream::read() {
    bool timed_out = false;
    auto ch = co_await next_before(*current, deadline, timed_out);
    if (ch) {
        held = std::move(ch);
        co_return;
    }
    attempts[current_record].latency = steady::now() - current_start;
    if (timed_out) {
        failure f(error::timeout, "the stream passed the fallback deadline of " +
                                      detail::ms_text(opts.deadline) + " after it had started");
        attempts[current_record].error = f;
        finish(std::move(f));
        co_return;
    }
    auto const& r = current->response();
    if (r) {
        finish(*r);
        co_return;
    }
    auto f = r.error();
    attempts[current_record].error = f;
    // After content reached the caller a failure is final unless continuation was asked for:
    // never a silently spliced answer.
    if (!opts.continue_streams || !content) {
        finish(std::move(f));
        co_return;
    }
    auto obstacle = detail::continuation_obstacle(f, {text, tool_calls});
    if (!obstacle) {
        auto cont = detail::make_continuation(req, text);
        std::vector<std::size_t> which;
        for (std::size_t i = current_candidate + 1; i < models.size(); ++i) {
            if (c->continues_prefill(models[i], cont.request)) {
                which.push_back(i);
                continue;
            }
            attempts.push_back({models[i],
                                failure(error::unsupported,
                                        "skipped for the continuation: " + models[i] +
                                            " does not continue a partial answer (its wire "
                                            "format or model takes no assistant prefill)"),
                                {}});
        }
        if (!which.empty()) {
            splicer.emplace(std::move(cont.trimmed));
            co_await phase(std::move(which), std::move(cont.request), std::move(f));
            co_return;
        }
        obstacle = "no later candidate continues a partial answer";
    }
    f.diag.message += " (not continued: " + *obstacle + ")";
    finish(std::move(f));
}

/// One step of a combined stream, in a coroutine thread of its own on the stream's strand.
asio::awaitable<void> combined_step(std::shared_ptr<combined_stream> st) {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (!st->started) {
        st->started = true;
        st->t0 = steady::now();
        if (st->opts.deadline > duration::zero()) st->deadline = st->t0 + st->opts.deadline;
        std::vector<std::size_t> all(st->models.size());
        for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
        auto r = st->req;
        co_await st->phase(std::move(all), std::move(r), std::nullopt);
        co_return;
    }
    co_await st->read();
}

asio::awaitable<std::optional<chat_chunk>> combined_stream::next(std::shared_ptr<stream_source> self) {
    auto const st = std::static_pointer_cast<combined_stream>(std::move(self));
    while (!st->held && !st->finished) {
        try {
            co_await detail::run_on(st->strand, combined_step(st));
        } catch (boost::system::system_error const& e) {
            if (st->current) st->current->close();
            st->finish(failure(e.code(), "stream fallback cancelled"));
        }
    }
    if (!st->held) co_return std::nullopt;
    auto ch = std::move(*st->held);
    st->held.reset();
    st->deliver(ch);
    co_return ch;
}

}  // namespace

chat_stream stream_fallback(client& c, model_list models, chat_request request,
                            fallback_options opts) {
    auto st = std::make_shared<combined_stream>();
    st->c = &c;
    st->strand = detail::make_small_strand(c.get_executor());
    st->models = std::move(models);
    st->req = std::move(request);
    st->opts = std::move(opts);
    return chat_stream(std::move(st));
}

}  // namespace llmux
