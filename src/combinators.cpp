// SPDX-License-Identifier: BSL-1.0
// gather, fallback, retry, hedge and the streamed fallback (DESIGN.md layer 9). Each public
// operation runs its work in a coroutine thread of its own (as client::chat does), so the
// caller's throw_if_cancelled setting is left alone; cancellation flows in through co_spawn.
#include <llmux/combinators.hpp>

#include "util/spawn.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <random>
#include <sstream>

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

bool caller_cancelled(asio::cancellation_state const& cs) {
    return cs.cancelled() != asio::cancellation_type::none;
}

steady::time_point deadline_from(duration d, steady::time_point t0) {
    return d > duration::zero() ? t0 + d : steady::time_point::max();
}

std::string ms(duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}

/// One call that must end by `until` (max: no limit of its own). A missed limit is
/// `error::timeout` naming `what`; the call is cancelled and its connection closed.
asio::awaitable<result<chat_response>> timed_chat(client& c, chat_request req, std::uint32_t n,
                                                  steady::time_point until, std::string what) {
    attempt_context const ctx{n};
    if (until == steady::time_point::max()) co_return co_await c.chat(std::move(req), ctx);
    if (until <= steady::now()) co_return failure(error::timeout, what + " left no time for this attempt");
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, until);
    auto call = c.chat(std::move(req), ctx);
    auto wait = timer.async_wait(use_tuple);
    auto r = co_await (std::move(call) || std::move(wait));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    auto cs = co_await asio::this_coro::cancellation_state;
    if (caller_cancelled(cs)) co_return failure(asio::error::operation_aborted, "cancelled");
    co_return failure(error::timeout, "exceeded the " + what);
}

/// What the failed attempts were billed (streams that broke after their answer began), or
/// nothing when none was.
std::optional<double> billed(std::vector<attempt> const& attempts) {
    std::optional<double> total;
    for (auto const& a : attempts)
        if (a.error && a.error->diag.cost_usd) total = total.value_or(0) + *a.error->diag.cost_usd;
    return total;
}

failure all_failed(std::string_view what, std::vector<attempt> attempts) {
    std::ostringstream msg;
    msg << what << ": every one of " << attempts.size() << " attempts failed";
    if (!attempts.empty() && attempts.back().error)
        msg << "; the last: " << attempts.back().error->to_string();
    failure f(error::all_attempts_failed, msg.str());
    if (!attempts.empty() && attempts.back().error) {
        f.diag.http_status = attempts.back().error->diag.http_status;
        f.diag.retry_after = attempts.back().error->diag.retry_after;
        if (attempts.back().error->diag.source == message_source::internal)
            f.diag.source = message_source::internal;  // the message quotes it
    }
    f.diag.cost_usd = billed(attempts);
    f.diag.attempts = std::move(attempts);
    return f;
}

/// Attaches the attempts so far to a final failure; its cost becomes the whole call's.
failure with_attempts(failure f, std::vector<attempt> attempts) {
    if (auto b = billed(attempts)) f.diag.cost_usd = b;
    f.diag.attempts = std::move(attempts);
    return f;
}

// ---------------------------------------------------------------------------------------------
// fallback

asio::awaitable<result<chat_response>> fallback_impl(client& c, model_list models,
                                                     chat_request req, fallback_options opts) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto const t0 = steady::now();
    auto const deadline = deadline_from(opts.deadline, t0);
    auto const& move_on = opts.should_move_on ? opts.should_move_on : is_retryable;
    if (models.empty()) co_return failure(error::invalid_request, "fallback needs at least one model");

    // The breaker is ignored when it would leave nothing to try.
    bool const all_open = std::all_of(models.begin(), models.end(), [&](std::string const& m) {
        return c.estimate(m).circuit == circuit_state::open;
    });
    std::vector<attempt> attempts;
    std::optional<std::uint64_t> window_floor;  // after a context-length failure
    std::uint32_t n = 0;
    for (auto const& model : models) {
        if (window_floor) {
            auto const* m = c.models().find(model);
            if (m && m->context_window && *m->context_window <= *window_floor) {
                attempts.push_back({model,
                                    failure(error::context_length_exceeded,
                                            "skipped: its context window is not larger than the "
                                            "one that was exceeded"),
                                    {}});
                continue;
            }
        }
        if (opts.respect_breaker && !all_open && !c.admit(model)) {
            attempts.push_back({model, failure(error::circuit_open, "skipped: circuit open"), {}});
            continue;
        }
        auto const start = steady::now();
        if (start >= deadline) break;
        auto until = deadline;
        std::string what = "fallback deadline of " + ms(opts.deadline);
        if (opts.per_attempt > duration::zero() && start + opts.per_attempt < until) {
            until = start + opts.per_attempt;
            what = "per-attempt timeout of " + ms(opts.per_attempt);
        }
        req.model = model;
        auto r = co_await timed_chat(c, req, ++n, until, what);
        if (r) {
            auto out = std::move(*r);
            attempts.push_back(attempt{model, std::nullopt, out.latency});
            out.attempts = std::move(attempts);
            // Times count from the start of the whole operation, as the caller waited.
            out.ttft += start - t0;
            out.latency = steady::now() - t0;
            co_return out;
        }
        auto f = r.error();
        attempts.push_back(attempt{model, f, steady::now() - start});
        auto cs = co_await asio::this_coro::cancellation_state;
        if (caller_cancelled(cs) || f.code == asio::error::operation_aborted)
            co_return with_attempts(failure(asio::error::operation_aborted, "fallback cancelled"),
                                    std::move(attempts));
        if (!move_on(f)) co_return with_attempts(std::move(f), std::move(attempts));
        if (f.code == make_error_code(error::context_length_exceeded)) {
            auto const* m = c.models().find(model);
            if (m && m->context_window) window_floor = std::max(window_floor.value_or(0), *m->context_window);
        }
    }
    if (steady::now() >= deadline && attempts.size() < models.size())
        attempts.push_back({models[std::min(attempts.size(), models.size() - 1)],
                            failure(error::timeout, "the fallback deadline of " + ms(opts.deadline) +
                                                        " passed before this candidate"),
                            {}});
    co_return all_failed("fallback", std::move(attempts));
}

// ---------------------------------------------------------------------------------------------
// retry

asio::awaitable<result<chat_response>> retry_impl(client& c, chat_request req, retry_options opts) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto const t0 = steady::now();
    auto const deadline = deadline_from(opts.deadline, t0);
    auto should = opts.should_retry ? opts.should_retry : [](failure const& f) {
        return is_retryable(f) && f.code != make_error_code(error::context_length_exceeded);
    };
    std::mt19937_64 rng(opts.seed ? opts.seed : std::random_device{}());
    std::vector<attempt> attempts;
    auto backoff = opts.initial_backoff;
    unsigned const max_attempts = std::max(1u, opts.max_attempts);
    for (std::uint32_t n = 1; n <= max_attempts; ++n) {
        auto const start = steady::now();
        auto until = deadline;
        std::string what = "retry deadline of " + ms(opts.deadline);
        if (opts.per_attempt > duration::zero() && start + opts.per_attempt < until) {
            until = start + opts.per_attempt;
            what = "per-attempt timeout of " + ms(opts.per_attempt);
        }
        auto r = co_await timed_chat(c, req, n, until, what);
        if (r) {
            auto out = std::move(*r);
            attempts.push_back(attempt{req.model, std::nullopt, out.latency});
            out.attempts = std::move(attempts);
            out.ttft += start - t0;
            out.latency = steady::now() - t0;
            co_return out;
        }
        auto f = r.error();
        attempts.push_back(attempt{req.model, f, steady::now() - start});
        auto cs = co_await asio::this_coro::cancellation_state;
        if (caller_cancelled(cs) || f.code == asio::error::operation_aborted)
            co_return with_attempts(failure(asio::error::operation_aborted, "retry cancelled"),
                                    std::move(attempts));
        if (!should(f)) co_return with_attempts(std::move(f), std::move(attempts));
        if (n == max_attempts) break;
        // Full jitter keeps many clients from retrying in lockstep.
        std::uniform_real_distribution<double> jitter(0.5, 1.0);
        auto wait = std::chrono::duration_cast<duration>(backoff * jitter(rng));
        if (f.diag.retry_after)
            wait = std::max<duration>(wait, std::min<duration>(*f.diag.retry_after, opts.max_retry_after));
        backoff = std::min<duration>(
            std::chrono::duration_cast<duration>(backoff * opts.multiplier), opts.max_backoff);
        if (steady::now() + wait >= deadline) {
            attempts.back().error->diag.message += " (no time left to retry before the deadline)";
            break;
        }
        asio::steady_timer t(co_await asio::this_coro::executor, wait);
        auto [ec] = co_await t.async_wait(use_tuple);
        if (ec)
            co_return with_attempts(failure(asio::error::operation_aborted, "retry cancelled"),
                                    std::move(attempts));
    }
    co_return all_failed("retry of " + req.model, std::move(attempts));
}

// ---------------------------------------------------------------------------------------------
// hedge

using hedge_channel = asio::experimental::concurrent_channel<void(
    boost::system::error_code, std::size_t, result<chat_response>)>;

asio::awaitable<void> hedge_attempt(client& c, chat_request req, std::uint32_t n, std::size_t slot,
                                    std::shared_ptr<hedge_channel> ch) {
    attempt_context const ctx{n};
    auto r = co_await c.chat(std::move(req), ctx);
    ch->try_send(boost::system::error_code{}, slot, std::move(r));
}

asio::awaitable<result<chat_response>> hedge_impl(client& c, model_list models,
                                                  chat_request req, hedge_options opts) {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (models.empty()) co_return failure(error::invalid_request, "hedge needs at least one model");
    auto ex = co_await asio::this_coro::executor;
    auto const t0 = steady::now();
    auto const deadline = deadline_from(opts.deadline, t0);
    auto const& move_on = opts.should_move_on ? opts.should_move_on : is_retryable;
    auto ch = std::make_shared<hedge_channel>(ex, models.size());
    std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
    std::vector<steady::time_point> started_at;
    std::vector<std::optional<attempt>> outcomes(models.size());
    std::size_t started = 0, running = 0;

    auto launch = [&] {
        auto const i = started++;
        signals.push_back(std::make_unique<asio::cancellation_signal>());
        started_at.push_back(steady::now());
        auto r = req;
        r.model = models[i];
        ++running;
        asio::co_spawn(ex, hedge_attempt(c, std::move(r), static_cast<std::uint32_t>(i + 1), i, ch),
                       asio::bind_cancellation_slot(signals.back()->slot(), asio::detached));
    };
    auto delay_for = [&](std::string const& model) -> duration {
        if (opts.delay) return *opts.delay;
        if (auto m = c.metrics(model); m && m->ttft.count() >= opts.min_samples)
            return m->ttft.percentile(opts.quantile);
        return opts.default_delay;
    };
    // Cancels every attempt still running and collects their outcomes, so that no request is
    // left behind (their connections are closed by then).
    auto stop_all = [&](failure why) -> asio::awaitable<void> {
        for (std::size_t i = 0; i < started; ++i)
            if (!outcomes[i]) signals[i]->emit(asio::cancellation_type::terminal);
        asio::steady_timer guard(ex, std::chrono::seconds(10));
        while (running > 0) {
            using namespace asio::experimental::awaitable_operators;
            auto recv = ch->async_receive(use_tuple);
            auto wait = guard.async_wait(use_tuple);
            auto r = co_await (std::move(recv) || std::move(wait));
            if (r.index() == 1) break;
            auto [ec, slot, res] = std::get<0>(std::move(r));
            if (ec) break;
            --running;
            // An attempt that was still running when the hedge ended was stopped by it.
            outcomes[slot] = attempt{models[slot], res ? why : res.error(),
                                     steady::now() - started_at[slot]};
            if (!res && res.error().code == asio::error::operation_aborted) outcomes[slot]->error = why;
        }
    };
    auto collect = [&] {
        std::vector<attempt> out;
        for (auto& o : outcomes)
            if (o) out.push_back(std::move(*o));
        return out;
    };

    launch();
    std::optional<chat_response> winner;
    std::optional<failure> stopper;
    bool cancelled = false;
    while (running > 0 || (started < models.size() && !winner)) {
        if (running == 0) launch();  // every attempt so far failed: next candidate at once
        auto next_at = deadline;
        if (started < models.size())
            next_at = std::min(deadline, started_at.back() + delay_for(models[started - 1]));
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer timer(ex, next_at);
        auto recv = ch->async_receive(use_tuple);
        auto wait = timer.async_wait(use_tuple);
        auto r = co_await (std::move(recv) || std::move(wait));
        auto cs = co_await asio::this_coro::cancellation_state;
        if (caller_cancelled(cs)) {
            cancelled = true;
            break;
        }
        if (r.index() == 1) {
            if (steady::now() >= deadline) {
                stopper = failure(error::timeout, "the hedge deadline of " + ms(opts.deadline) +
                                                      " passed");
                break;
            }
            if (started < models.size()) launch();
            continue;
        }
        auto [ec, slot, res] = std::get<0>(std::move(r));
        if (ec) break;
        --running;
        if (res) {
            outcomes[slot] = attempt{models[slot], std::nullopt, res->latency};
            winner = std::move(*res);
            winner->ttft += started_at[slot] - t0;
            break;
        }
        outcomes[slot] = attempt{models[slot], res.error(), steady::now() - started_at[slot]};
        if (!move_on(res.error()) && running == 0) {
            stopper = res.error();
            break;
        }
    }
    if (winner)
        co_await stop_all(failure(error::cancelled, "cancelled: another candidate answered first"));
    else if (cancelled)
        co_await stop_all(failure(asio::error::operation_aborted, "hedge cancelled"));
    else
        co_await stop_all(failure(error::timeout, "cancelled: the hedge deadline passed"));
    auto attempts = collect();
    if (cancelled)
        co_return with_attempts(failure(asio::error::operation_aborted, "hedge cancelled"),
                                std::move(attempts));
    if (winner) {
        winner->attempts = std::move(attempts);
        winner->latency = steady::now() - t0;
        co_return std::move(*winner);
    }
    if (stopper && stopper->code != make_error_code(error::timeout))
        co_return with_attempts(std::move(*stopper), std::move(attempts));
    co_return all_failed("hedge", std::move(attempts));
}

// ---------------------------------------------------------------------------------------------
// gather

struct gather_state {
    client* c;
    std::vector<chat_request> requests;
    std::vector<std::optional<result<chat_response>>> results;
    std::atomic<std::size_t> next{0};
};

asio::awaitable<void> gather_worker(std::shared_ptr<gather_state> st) {
    for (;;) {
        auto const i = st->next.fetch_add(1);
        if (i >= st->requests.size()) co_return;
        st->results[i] = co_await st->c->chat(st->requests[i]);
    }
}

asio::awaitable<std::vector<result<chat_response>>> gather_impl(client& c,
                                                                std::vector<chat_request> requests,
                                                                gather_options opts) {
    auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<gather_state>();
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
    std::vector<result<chat_response>> out;
    out.reserve(n);
    for (auto& r : st->results)
        out.push_back(r ? std::move(*r)
                        : result<chat_response>(failure(asio::error::operation_aborted,
                                                        "cancelled before this call started")));
    co_return out;
}

/// Runs `work` in its own coroutine thread; a caller cancelled before it starts gets
/// operation_aborted as a value.
template <class T>
asio::awaitable<result<T>> isolated(client& c, asio::awaitable<result<T>> work) {
    try {
        // A strand of its own: the operation's timers and parallel groups complete on the
        // context's threads, and Asio's cancellation between them is not thread-safe.
        co_return co_await detail::spawn_on(asio::make_strand(c.get_executor()), std::move(work));
    } catch (boost::system::system_error const& e) {
        co_return failure(e.code(), "cancelled before the operation started");
    }
}

}  // namespace

asio::awaitable<result<chat_response>> fallback(client& c, model_list models,
                                                chat_request request, fallback_options opts) {
    return isolated(c, fallback_impl(c, std::move(models), std::move(request), std::move(opts)));
}

asio::awaitable<result<chat_response>> retry(client& c, chat_request request, retry_options opts) {
    return isolated(c, retry_impl(c, std::move(request), std::move(opts)));
}

asio::awaitable<result<chat_response>> hedge(client& c, model_list models,
                                             chat_request request, hedge_options opts) {
    return isolated(c, hedge_impl(c, std::move(models), std::move(request), std::move(opts)));
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
    auto const n = requests.size();
    try {
        co_return co_await detail::spawn_on(asio::make_strand(c.get_executor()),
                                            gather_impl(c, std::move(requests), opts));
    } catch (boost::system::system_error const& e) {
        std::vector<result<chat_response>> out;
        for (std::size_t i = 0; i < n; ++i)
            out.push_back(failure(e.code(), "cancelled before the gather started"));
        co_return out;
    }
}

// ---------------------------------------------------------------------------------------------
// stream_fallback

struct fallback_stream::state {
    client* c = nullptr;
    std::vector<std::string> models;
    chat_request req;
    fallback_options opts;
    steady::time_point t0{}, deadline{};
    std::size_t next_candidate = 0;
    std::uint32_t attempt_no = 0;
    bool all_open = false;
    bool started = false;
    bool committed = false;
    bool finished = false;
    std::optional<chat_stream> current;
    std::string current_model;
    steady::time_point current_start{};
    std::optional<chat_chunk> ready;  // the first content chunk of the committed candidate
    std::vector<attempt> attempts;
    std::optional<std::uint64_t> window_floor;
    result<chat_response> final{failure(error::invalid_request, "the stream has not finished")};

    void finish(result<chat_response> r) {
        finished = true;
        if (r) {
            r->attempts = attempts;
            if (committed) r->ttft += current_start - t0;
            r->latency = steady::now() - t0;
        } else {
            auto f = r.error();
            if (auto b = billed(attempts)) f.diag.cost_usd = b;
            f.diag.attempts = attempts;
            r = std::move(f);
        }
        final = std::move(r);
    }
};

fallback_stream::~fallback_stream() {
    if (st_ && st_->current) st_->current->close();
}

void fallback_stream::close() {
    if (!st_ || st_->finished) return;
    failure const closed(asio::error::operation_aborted, "the stream was closed by the caller");
    if (st_->current) {
        st_->current->close();
        // The attempt in progress ends with its own failure, which carries what it was billed.
        auto const& r = st_->current->response();
        if (!st_->attempts.empty() && !st_->attempts.back().error)
            st_->attempts.back().error = r ? closed : r.error();
    }
    st_->finish(closed);
}

bool fallback_stream::done() const noexcept { return !st_ || st_->finished; }

result<chat_response> const& fallback_stream::response() const {
    static result<chat_response> const empty{failure(error::invalid_request, "not started")};
    return st_ ? st_->final : empty;
}

fallback_stream fallback_stream::failed(failure f) {
    fallback_stream s;
    s.st_ = std::make_shared<state>();
    s.st_->finish(std::move(f));
    return s;
}

fallback_stream stream_fallback(client& c, model_list models, chat_request request,
                                fallback_options opts) {
    fallback_stream s;
    s.st_ = std::make_shared<fallback_stream::state>();
    s.st_->c = &c;
    s.st_->models = std::move(models);
    s.st_->req = std::move(request);
    s.st_->opts = std::move(opts);
    return s;
}

namespace {

/// Next chunk of `s`, bounded by `until` (max: unbounded). A missed limit cancels the read
/// (closing the stream) and yields `timed_out`.
asio::awaitable<std::optional<chat_chunk>> next_before(chat_stream& s, steady::time_point until,
                                                       bool& timed_out) {
    timed_out = false;
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

/// Finds the candidate to commit to: opens candidates in order until one yields content (its
/// first content chunk goes to `st->ready`) or ends successfully, recording each failure.
asio::awaitable<void> stream_fallback_step(std::shared_ptr<fallback_stream::state> st) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto& c = *st->c;
    auto const& move_on = st->opts.should_move_on ? st->opts.should_move_on : is_retryable;
    if (!st->started) {
        st->started = true;
        st->t0 = steady::now();
        st->deadline = deadline_from(st->opts.deadline, st->t0);
        st->all_open = std::all_of(st->models.begin(), st->models.end(), [&](std::string const& m) {
            return c.estimate(m).circuit == circuit_state::open;
        });
    }
    if (st->committed) {
        bool timed_out = false;
        auto ch = co_await next_before(*st->current, st->deadline, timed_out);
        if (ch) {
            st->ready = std::move(ch);
            co_return;
        }
        if (timed_out) {
            auto f = failure(error::timeout, "the stream passed the fallback deadline of " +
                                                 ms(st->opts.deadline) + " after it had started");
            st->attempts.back().error = f;
            st->finish(f);
            co_return;
        }
        auto const& r = st->current->response();
        st->attempts.back().latency = steady::now() - st->current_start;
        if (!r) st->attempts.back().error = r.error();
        // After content reached the caller a failure is final: never splice another answer.
        st->finish(r);
        co_return;
    }
    while (st->next_candidate < st->models.size()) {
        auto const model = st->models[st->next_candidate++];
        if (st->window_floor) {
            auto const* m = c.models().find(model);
            if (m && m->context_window && *m->context_window <= *st->window_floor) {
                st->attempts.push_back({model, failure(error::context_length_exceeded,
                                                       "skipped: its context window is not larger"),
                                        {}});
                continue;
            }
        }
        if (st->opts.respect_breaker && !st->all_open && !c.admit(model)) {
            st->attempts.push_back({model, failure(error::circuit_open, "skipped: circuit open"), {}});
            continue;
        }
        auto const start = steady::now();
        if (start >= st->deadline) break;
        auto until = st->deadline;
        std::string what = "fallback deadline of " + ms(st->opts.deadline);
        if (st->opts.per_attempt > duration::zero() && start + st->opts.per_attempt < until) {
            until = start + st->opts.per_attempt;
            what = "per-attempt timeout of " + ms(st->opts.per_attempt) + " (to the first token)";
        }
        auto r = st->req;
        r.model = model;
        st->current.emplace(c.stream(std::move(r), attempt_context{++st->attempt_no}));
        st->current_model = model;
        st->current_start = start;
        st->attempts.push_back({model, std::nullopt, {}});
        // Read until the first content chunk; chunks before it (none in practice) are dropped
        // with the attempt if it fails.
        for (;;) {
            bool timed_out = false;
            auto ch = co_await next_before(*st->current, until, timed_out);
            if (ch && !ch->has_content() && !ch->finish_reason) continue;
            if (ch) {
                st->committed = true;
                st->ready = std::move(ch);
                co_return;
            }
            failure f = timed_out ? failure(error::timeout, "exceeded the " + what)
                                  : (st->current->response() ? failure() : st->current->response().error());
            if (!timed_out && st->current->response()) {
                // Ended without content but successfully (an empty answer): that is the answer.
                st->committed = true;
                st->attempts.back().latency = steady::now() - start;
                st->finish(st->current->response());
                co_return;
            }
            st->attempts.back().error = f;
            st->attempts.back().latency = steady::now() - start;
            auto cs = co_await asio::this_coro::cancellation_state;
            if (caller_cancelled(cs) || f.code == asio::error::operation_aborted) {
                st->finish(failure(asio::error::operation_aborted, "stream fallback cancelled"));
                co_return;
            }
            if (!move_on(f)) {
                st->finish(f);
                co_return;
            }
            if (f.code == make_error_code(error::context_length_exceeded))
                if (auto const* m = c.models().find(model); m && m->context_window)
                    st->window_floor = std::max(st->window_floor.value_or(0), *m->context_window);
            break;  // next candidate
        }
    }
    st->finish(all_failed("stream fallback", st->attempts));
}

}  // namespace

asio::awaitable<std::optional<chat_chunk>> fallback_stream::next() {
    auto st = st_;
    if (!st || st->finished) co_return std::nullopt;
    if (!st->ready) {
        try {
            co_await detail::spawn_on(asio::make_strand(st->c->get_executor()),
                                      stream_fallback_step(st));
        } catch (boost::system::system_error const& e) {
            if (st->current) st->current->close();
            st->finish(failure(e.code(), "stream fallback cancelled"));
        }
    }
    if (st->ready) {
        auto ch = std::move(*st->ready);
        st->ready.reset();
        co_return ch;
    }
    co_return std::nullopt;
}

}  // namespace llmux
