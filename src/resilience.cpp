// SPDX-License-Identifier: BSL-1.0
#include "resilience.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

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
        // A success closes the circuit, whether it was the probe or not.
        state_ = state::closed;
        probe_in_flight_ = false;
        recent_failures_.clear();
        return;
    }
    ++failures_;
    if (!cfg.enabled || !counts_against_health(*err)) {
        if (state_ == state::half_open) probe_in_flight_ = false;
        return;
    }
    if (state_ == state::half_open) {
        // The probe failed: back to a full cool-down.
        state_ = state::open;
        open_until_ = now + cfg.cooldown;
        probe_in_flight_ = false;
        return;
    }
    recent_failures_.push_back(now);
    std::erase_if(recent_failures_, [&](steady::time_point t) { return now - t > cfg.window; });
    if (state_ == state::closed && recent_failures_.size() >= cfg.failure_threshold) {
        state_ = state::open;
        open_until_ = now + cfg.cooldown;
        recent_failures_.clear();
    }
}

bool model_book::admit(breaker_config const& cfg, steady::time_point now) {
    if (!cfg.enabled) return true;
    std::lock_guard lk(mu_);
    switch (state_) {
    case state::closed: return true;
    case state::open:
        if (now < open_until_) return false;
        state_ = state::half_open;
        probe_in_flight_ = true;
        return true;
    case state::half_open:
        if (probe_in_flight_) return false;
        probe_in_flight_ = true;
        return true;
    }
    return true;
}

circuit_state model_book::circuit(breaker_config const& cfg, steady::time_point now) const {
    if (!cfg.enabled) return circuit_state::closed;
    std::lock_guard lk(mu_);
    switch (state_) {
    case state::closed: return circuit_state::closed;
    case state::open: return now < open_until_ ? circuit_state::open : circuit_state::half_open;
    case state::half_open: return circuit_state::half_open;
    }
    return circuit_state::closed;
}

model_estimate model_book::estimate(breaker_config const& cfg, steady::time_point now) const {
    model_estimate e;
    e.in_flight = in_flight_.load();
    e.circuit = circuit(cfg, now);
    std::lock_guard lk(mu_);
    if (ewma_ttft_ns_) e.ewma_ttft = std::chrono::nanoseconds(static_cast<std::int64_t>(*ewma_ttft_ns_));
    if (ewma_latency_ns_)
        e.ewma_latency = std::chrono::nanoseconds(static_cast<std::int64_t>(*ewma_latency_ns_));
    e.samples = samples_;
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

asio::awaitable<result<void>> rate_limiter::acquire(std::string const& provider, double tokens,
                                                    steady::time_point deadline) {
    auto it = limits_.find(provider);
    if (it == limits_.end()) co_return result<void>{};
    auto const& lim = it->second;
    for (;;) {
        steady::duration wait{};
        {
            std::lock_guard lk(mu_);
            auto& b = buckets_[provider];
            auto const now = steady::now();
            // Buckets hold a minute's worth; they refill continuously.
            if (!b.init) {
                b.requests = lim.requests_per_minute;
                b.tokens = lim.tokens_per_minute;
                b.at = now;
                b.init = true;
            }
            double const minutes = std::chrono::duration<double>(now - b.at).count() / 60.0;
            b.at = now;
            if (lim.requests_per_minute > 0)
                b.requests = std::min(lim.requests_per_minute,
                                      b.requests + minutes * lim.requests_per_minute);
            if (lim.tokens_per_minute > 0)
                b.tokens = std::min(lim.tokens_per_minute, b.tokens + minutes * lim.tokens_per_minute);
            // A request bigger than the whole bucket could never pass: let it go when full.
            double const need_tokens = std::min(tokens, lim.tokens_per_minute);
            bool const req_ok = lim.requests_per_minute <= 0 || b.requests >= 1;
            bool const tok_ok = lim.tokens_per_minute <= 0 || b.tokens >= need_tokens;
            if (req_ok && tok_ok) {
                if (lim.requests_per_minute > 0) b.requests -= 1;
                if (lim.tokens_per_minute > 0) b.tokens -= tokens;
                co_return result<void>{};
            }
            double secs = 0;
            if (!req_ok) secs = std::max(secs, (1 - b.requests) * 60.0 / lim.requests_per_minute);
            if (!tok_ok)
                secs = std::max(secs, (need_tokens - b.tokens) * 60.0 / lim.tokens_per_minute);
            wait = std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(secs)) +
                   std::chrono::milliseconds(1);
        }
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
