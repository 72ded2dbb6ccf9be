// SPDX-License-Identifier: BSL-1.0
#include "resilience.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <sstream>
#include <tuple>

namespace llmux {

char const* to_string(circuit_state s) noexcept {
    switch (s) {
    case circuit_state::closed: return "closed";
    case circuit_state::open: return "open";
    case circuit_state::half_open: return "half_open";
    }
    return "closed";
}

}  // namespace llmux

namespace llmux::detail {

namespace asio = boost::asio;

bool counts_against_health(failure const& f) noexcept {
    auto const& ec = f.code;
    if (!ec) return false;
    if (ec == asio::error::operation_aborted) return false;
    if (ec.category() != category()) return true;  // transport: refused, reset, TLS, ...
    switch (static_cast<error>(ec.value())) {
    case error::timeout:
    case error::rate_limited:
    case error::overloaded:
    case error::server_error:
    case error::protocol_error:
    case error::truncated: return true;
    default: return false;
    }
}

// ---------------------------------------------------------------------------------------------

namespace {
constexpr double ewma_weight = 0.2;  // recent calls count most; ~10 calls make an estimate

void ewma(std::optional<double>& into, double sample) {
    into = into ? (1 - ewma_weight) * *into + ewma_weight * sample : sample;
}
}  // namespace

void model_book::finished(std::optional<failure> const& err, std::chrono::nanoseconds ttft,
                          std::chrono::nanoseconds latency, usage const& u,
                          std::optional<double> cost, breaker_config const& cfg,
                          steady::time_point now) {
    if (in_flight_ > 0) --in_flight_;
    if (!err) {
        ttft_.record(ttft);
        latency_.record(latency);
    }
    std::lock_guard lk(mu_);
    ++calls_;
    input_ += u.input_tokens.value_or(0);
    output_ += u.output_tokens.value_or(0);
    if (cost) cost_ += *cost;
    if (!err) {
        ++samples_;
        ewma(ewma_ttft_ns_, static_cast<double>(ttft.count()));
        ewma(ewma_latency_ns_, static_cast<double>(latency.count()));
        breaker_.succeeded();
        note_change();
        return;
    }
    ++failures_;
    breaker_.failed(counts_against_health(*err), cfg, now);
    note_change();
}

void model_book::note_change() {
    if (breaker_.changes() == changes_seen_) return;
    changes_seen_ = breaker_.changes();
    // Strictly later than any decision this book took on before, even on a coarse clock: its
    // own change is the newer one.
    changed_at_ = std::max(std::chrono::system_clock::now(),
                           changed_at_ + std::chrono::system_clock::duration(1));
}

model_health model_book::health(breaker_config const& cfg, steady::time_point now,
                                std::chrono::system_clock::time_point sys_now) const {
    model_health h;
    std::lock_guard lk(mu_);
    if (changed_at_ != std::chrono::system_clock::time_point{}) {
        breaker_snapshot b;
        b.state = breaker_.state(cfg, now);
        b.recent_failures = static_cast<std::uint32_t>(breaker_.recent_failures());
        if (b.state == circuit_state::open)
            b.open_until = sys_now + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                         breaker_.open_until() - now);
        b.updated_at = changed_at_;
        h.breaker = b;
    }
    if (ewma_ttft_ns_)
        h.latency.ttft = std::chrono::microseconds(static_cast<std::int64_t>(*ewma_ttft_ns_ / 1000));
    if (ewma_latency_ns_)
        h.latency.latency =
            std::chrono::microseconds(static_cast<std::int64_t>(*ewma_latency_ns_ / 1000));
    h.latency.samples = samples_;
    return h;
}

void model_book::merge(model_health const& shared, steady::time_point now,
                       std::chrono::system_clock::time_point sys_now) {
    std::lock_guard lk(mu_);
    if (auto const& b = shared.breaker; b && b->updated_at > changed_at_) {
        if (b->state == circuit_state::open && b->open_until > sys_now)
            breaker_.adopt(true, now + std::chrono::duration_cast<steady::duration>(
                                           b->open_until - sys_now));
        else if (b->state == circuit_state::closed)
            breaker_.adopt(false, {});
        // Taken on, not decided here: not to be shared back as this replica's own.
        changes_seen_ = breaker_.changes();
        changed_at_ = b->updated_at;
    }
    auto const& l = shared.latency;
    if (l.samples > 0) {
        if (l.ttft) ewma_ttft_ns_ = static_cast<double>(l.ttft->count()) * 1000;
        if (l.latency) ewma_latency_ns_ = static_cast<double>(l.latency->count()) * 1000;
        shared_samples_ = l.samples;
    }
}

bool model_book::admit(breaker_config const& cfg, steady::time_point now) {
    std::lock_guard lk(mu_);
    return breaker_.admit(cfg, now);
}

void model_book::not_sent() {
    std::lock_guard lk(mu_);
    breaker_.abandoned();
}

circuit_state model_book::circuit(breaker_config const& cfg, steady::time_point now) const {
    std::lock_guard lk(mu_);
    return breaker_.state(cfg, now);
}

model_estimate model_book::estimate(breaker_config const& cfg, steady::time_point now) const {
    model_estimate e;
    e.in_flight = in_flight_.load();
    e.circuit = circuit(cfg, now);
    std::lock_guard lk(mu_);
    if (ewma_ttft_ns_) e.ewma_ttft = std::chrono::nanoseconds(static_cast<std::int64_t>(*ewma_ttft_ns_));
    if (ewma_latency_ns_)
        e.ewma_latency = std::chrono::nanoseconds(static_cast<std::int64_t>(*ewma_latency_ns_));
    e.samples = std::max(samples_, shared_samples_);
    return e;
}

model_metrics model_book::snapshot(breaker_config const& cfg, steady::time_point now) const {
    model_metrics m;
    m.model = model_;
    m.ttft = ttft_;
    m.latency = latency_;
    m.in_flight = in_flight_.load();
    m.circuit = circuit(cfg, now);
    std::lock_guard lk(mu_);
    m.calls = calls_;
    m.failures = failures_;
    m.input_tokens = input_;
    m.output_tokens = output_;
    m.cost_usd = cost_;
    if (ewma_ttft_ns_) m.ewma_ttft = std::chrono::nanoseconds(static_cast<std::int64_t>(*ewma_ttft_ns_));
    if (ewma_latency_ns_)
        m.ewma_latency = std::chrono::nanoseconds(static_cast<std::int64_t>(*ewma_latency_ns_));
    return m;
}

model_books::entry& model_books::create(std::string const& model) {
    auto [it, fresh] = books_.try_emplace(model);
    if (fresh) {
        it->second.book = std::make_shared<model_book>(model);
        lru_.push_front(model);
        it->second.lru = lru_.begin();
        evict();
    }
    return it->second;
}

void model_books::evict() {
    // The oldest first; a book with calls in flight stays until they end, and the newest
    // (the one just created) always stays.
    auto const newest = lru_.begin();
    for (auto it = lru_.end(); lru_.size() > cap_ && it != newest;) {
        --it;
        if (it == newest) break;
        auto const b = books_.find(*it);
        if (b->second.book->in_flight() != 0) continue;
        books_.erase(b);
        it = lru_.erase(it);
    }
}

std::shared_ptr<model_book> model_books::get(std::string const& model) {
    std::lock_guard lk(mu_);
    auto& e = create(model);
    if (e.lru != lru_.end()) lru_.splice(lru_.begin(), lru_, e.lru);
    return e.book;
}

std::shared_ptr<model_book> model_books::existing(std::string_view model) {
    std::lock_guard lk(mu_);
    auto it = books_.find(model);
    if (it == books_.end()) return nullptr;
    if (it->second.lru != lru_.end()) lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second.book;
}

std::shared_ptr<model_book> model_books::find(std::string_view model) const {
    std::lock_guard lk(mu_);
    auto it = books_.find(model);
    return it == books_.end() ? nullptr : it->second.book;
}

void model_books::pin(std::string const& model) {
    std::lock_guard lk(mu_);
    auto& e = create(model);
    if (e.lru != lru_.end()) {
        lru_.erase(e.lru);
        e.lru = lru_.end();
    }
}

std::vector<std::shared_ptr<model_book>> model_books::all() const {
    std::lock_guard lk(mu_);
    std::vector<std::shared_ptr<model_book>> out;
    out.reserve(books_.size());
    for (auto const& [k, e] : books_) out.push_back(e.book);
    return out;
}

std::size_t model_books::size() const {
    std::lock_guard lk(mu_);
    return books_.size();
}

// ---------------------------------------------------------------------------------------------

steady::duration rate_bucket::take(rate_limit const& lim, double tokens, steady::time_point now) {
    // Buckets hold a minute's worth; they refill continuously.
    if (!init) {
        requests = lim.requests_per_minute;
        this->tokens = lim.tokens_per_minute;
        at = now;
        init = true;
    }
    double const minutes = std::chrono::duration<double>(now - at).count() / 60.0;
    at = std::max(at, now);
    if (minutes > 0) {
        if (lim.requests_per_minute > 0)
            requests = std::min(lim.requests_per_minute, requests + minutes * lim.requests_per_minute);
        if (lim.tokens_per_minute > 0)
            this->tokens =
                std::min(lim.tokens_per_minute, this->tokens + minutes * lim.tokens_per_minute);
    }
    // A request bigger than the whole bucket could never pass: let it go when full.
    double const need_tokens = std::min(tokens, lim.tokens_per_minute);
    bool const req_ok = lim.requests_per_minute <= 0 || requests >= 1;
    bool const tok_ok = lim.tokens_per_minute <= 0 || this->tokens >= need_tokens;
    if (req_ok && tok_ok) {
        if (lim.requests_per_minute > 0) requests -= 1;
        if (lim.tokens_per_minute > 0) this->tokens -= tokens;
        return steady::duration::zero();
    }
    double secs = 0;
    if (!req_ok) secs = std::max(secs, (1 - requests) * 60.0 / lim.requests_per_minute);
    if (!tok_ok) secs = std::max(secs, (need_tokens - this->tokens) * 60.0 / lim.tokens_per_minute);
    // Rounded up by a millisecond so that the wait ends with the capacity there.
    return std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(secs)) +
           std::chrono::milliseconds(1);
}

asio::awaitable<result<void>> rate_limiter::acquire(std::string const& provider, double tokens,
                                                    steady::time_point deadline) {
    auto it = limits_.find(provider);
    if (it == limits_.end()) co_return result<void>{};
    auto const& lim = it->second;
    for (;;) {
        steady::duration wait{};
        {
            std::lock_guard lk(mu_);
            wait = buckets_[provider].take(lim, tokens, steady::now());
        }
        if (wait == steady::duration::zero()) co_return result<void>{};
        if (steady::now() + wait > deadline) {
            std::ostringstream msg;
            msg << "client-side rate limit of provider '" << provider << "' ("
                << lim.requests_per_minute << " requests/min, " << lim.tokens_per_minute
                << " tokens/min) leaves no capacity before the call's deadline";
            failure f(error::rate_limited, msg.str());
            f.diag.retry_after = std::chrono::duration_cast<std::chrono::milliseconds>(wait);
            co_return f;
        }
        asio::steady_timer t(co_await asio::this_coro::executor, wait);
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return failure(ec, "cancelled while waiting for the client-side rate limit");
    }
}

void rate_limiter::settle(std::string const& provider, double estimated, double actual) {
    auto it = limits_.find(provider);
    if (it == limits_.end() || it->second.tokens_per_minute <= 0) return;
    std::lock_guard lk(mu_);
    auto& b = buckets_[provider];
    b.tokens = std::min(it->second.tokens_per_minute, b.tokens + estimated - actual);
}

// ---------------------------------------------------------------------------------------------

/// A call waiting for a slot: woken through its channel (thread-safe) when granted.
struct concurrency_gates::waiter {
    using channel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;
    explicit waiter(asio::any_io_executor ex) : ch(std::move(ex), 1) {}
    channel ch;
    bool granted = false;  // under concurrency_gates::mu_
};

struct concurrency_gates::gate {
    explicit gate(concurrency_config const& cfg) : lim(cfg) {}
    aimd_limiter lim;
    std::deque<std::shared_ptr<waiter>> queue;
    std::uint64_t requeued = 0;
};

concurrency_gates::concurrency_gates(concurrency_config cfg) : cfg_(cfg) {}
concurrency_gates::~concurrency_gates() = default;

concurrency_gates::gate& concurrency_gates::gate_of(std::string const& provider) {
    auto it = gates_.find(provider);
    if (it == gates_.end()) it = gates_.emplace(provider, std::make_unique<gate>(cfg_)).first;
    return *it->second;
}

void concurrency_gates::grant(gate& g) {
    while (!g.queue.empty() && g.lim.try_acquire()) {
        auto w = std::move(g.queue.front());
        g.queue.pop_front();
        w->granted = true;
        w->ch.try_send(boost::system::error_code{});
    }
}

asio::awaitable<result<void>> concurrency_gates::acquire(std::string const& provider,
                                                         steady::time_point deadline) {
    auto const ex = co_await asio::this_coro::executor;
    std::shared_ptr<waiter> w;
    std::size_t limit = 0;
    {
        std::lock_guard lk(mu_);
        auto& g = gate_of(provider);
        // First come, first served: nobody overtakes a waiting call.
        if (g.queue.empty() && g.lim.try_acquire()) co_return result<void>{};
        limit = g.lim.limit();
        if (g.queue.size() >= cfg_.max_queue) {
            std::ostringstream msg;
            msg << "client-side concurrency limit of provider '" << provider << "' (" << limit
                << " calls in flight) has " << g.queue.size()
                << " calls waiting already, the most its queue holds";
            co_return failure(error::rate_limited, msg.str());
        }
        w = std::make_shared<waiter>(ex);
        g.queue.push_back(w);
    }
    boost::system::error_code ec;
    if (deadline == steady::time_point::max()) {
        std::tie(ec) = co_await w->ch.async_receive(asio::as_tuple(asio::use_awaitable));
    } else {
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer timer(ex, deadline);
        auto r = co_await (w->ch.async_receive(asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (r.index() == 0)
            ec = std::get<0>(std::get<0>(r));
        else
            ec = std::get<0>(std::get<1>(r)) ? std::get<0>(std::get<1>(r))
                                             : make_error_code(error::timeout);
    }
    std::lock_guard lk(mu_);
    // Granted meanwhile (even as the wait ended otherwise): the slot is this call's.
    if (w->granted) co_return result<void>{};
    auto& g = gate_of(provider);
    std::erase(g.queue, w);
    if (ec == asio::error::operation_aborted)
        co_return failure(ec, "cancelled while waiting for the client-side concurrency limit");
    std::ostringstream msg;
    msg << "client-side concurrency limit of provider '" << provider << "' (" << g.lim.limit()
        << " calls in flight) left no slot before the call's deadline";
    co_return failure(error::rate_limited, msg.str());
}

void concurrency_gates::release(std::string const& provider, call_outcome outcome,
                                steady::time_point started,
                                std::optional<std::chrono::nanoseconds> ttft) {
    std::lock_guard lk(mu_);
    auto& g = gate_of(provider);
    g.lim.release(outcome, started, ttft, steady::now());
    grant(g);
}

void concurrency_gates::requeued(std::string const& provider) {
    std::lock_guard lk(mu_);
    ++gate_of(provider).requeued;
}

std::vector<gate_snapshot> concurrency_gates::snapshot() const {
    std::lock_guard lk(mu_);
    std::vector<gate_snapshot> out;
    for (auto const& [name, g] : gates_)
        out.push_back({name, g->lim.limit(), g->lim.in_flight(), g->queue.size(), g->lim.cuts(),
                       g->requeued});
    return out;
}

std::optional<gate_snapshot> concurrency_gates::snapshot(std::string_view provider) const {
    std::lock_guard lk(mu_);
    auto it = gates_.find(provider);
    if (it == gates_.end()) return std::nullopt;
    auto const& g = *it->second;
    return gate_snapshot{it->first, g.lim.limit(), g.lim.in_flight(), g.queue.size(),
                         g.lim.cuts(), g.requeued};
}

// ---------------------------------------------------------------------------------------------

result<void> spend_meter::check() const {
    if (!budget_) return {};
    std::lock_guard lk(mu_);
    if (totals_.cost_usd >= *budget_) {
        std::ostringstream msg;
        msg << "the client's spend budget of $" << *budget_ << " is used up ($"
            << totals_.cost_usd << " spent)";
        return failure(error::budget_exceeded, msg.str());
    }
    return {};
}

result<void> spend_meter::reserve(double usd) {
    if (!budget_) return {};
    std::lock_guard lk(mu_);
    if (totals_.cost_usd + reserved_ + usd > *budget_) {
        std::ostringstream msg;
        msg << "the client's spend budget of $" << *budget_ << " cannot cover this call: $"
            << totals_.cost_usd << " spent, $" << reserved_
            << " reserved by calls in flight, and this call may cost up to $" << usd;
        return failure(error::budget_exceeded, msg.str());
    }
    reserved_ += usd;
    return {};
}

void spend_meter::release(double usd) noexcept {
    if (!budget_) return;
    std::lock_guard lk(mu_);
    reserved_ = std::max(0.0, reserved_ - usd);
}

void spend_meter::record(bool failed, usage const& u, std::optional<double> cost) {
    std::lock_guard lk(mu_);
    ++totals_.calls;
    if (failed) ++totals_.failures;
    totals_.input_tokens += u.input_tokens.value_or(0);
    totals_.output_tokens += u.output_tokens.value_or(0);
    if (cost)
        totals_.cost_usd += *cost;
    else if (!failed)
        ++totals_.unknown_cost_calls;
}

client_totals spend_meter::totals() const {
    std::lock_guard lk(mu_);
    return totals_;
}

}  // namespace llmux::detail
