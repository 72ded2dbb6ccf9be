// SPDX-License-Identifier: BSL-1.0
#include "state/common.hpp"

#include <cmath>
#include <cstdio>

namespace llmux {

namespace {

class state_category_impl final : public boost::system::error_category {
public:
    char const* name() const noexcept override { return "llmux.state"; }

    std::string message(int ev) const override {
        switch (static_cast<state_error>(ev)) {
        case state_error::unavailable:
            return "the state store is unavailable";
        case state_error::timeout:
            return "the state store did not answer in time";
        case state_error::closed:
            return "the state store is closed";
        case state_error::full:
            return "a state store cap was reached";
        case state_error::protocol:
            return "unexpected answer from the state store";
        case state_error::storage:
            return "the state store's storage failed";
        }
        return "unknown state store error";
    }
};

}  // namespace

boost::system::error_category const& state_category() noexcept {
    static state_category_impl const cat;
    return cat;
}

nano_usd to_nano_usd(double usd) noexcept {
    if (!(usd > 0)) return 0;  // also NaN
    double const n = std::round(usd * 1e9);
    if (n >= static_cast<double>(max_amount)) return max_amount;
    return static_cast<nano_usd>(n);
}

nano_usd settlement::total() const noexcept {
    nano_usd t = 0;
    for (auto const& c : costs)
        t += c.cost;
    return t;
}

char const* to_string(settle_status s) noexcept {
    switch (s) {
    case settle_status::settled:
        return "settled";
    case settle_status::late:
        return "late";
    case settle_status::duplicate:
        return "duplicate";
    }
    return "unknown";
}

boost::asio::awaitable<result<settle_outcome>>
state_store::release(budget_reservation r, std::optional<ledger_entry> entry) {
    settlement s;
    s.entry = std::move(entry);
    co_return co_await settle(std::move(r), std::move(s));
}

boost::asio::awaitable<result<settle_outcome>> state_store::charge(std::string key, settlement s) {
    budget_reservation r;
    r.key = std::move(key);
    co_return co_await settle(std::move(r), std::move(s));
}

}  // namespace llmux

namespace llmux::detail {

namespace {

failure invalid(std::string message) {
    return failure(error::invalid_request, std::move(message));
}

}  // namespace

result<void> check_name(std::string_view what, std::string_view value, state_limits const& limits) {
    if (value.empty()) return invalid(std::string(what) + " is empty");
    if (value.size() > limits.max_name_bytes)
        return invalid(std::string(what) + " is " + std::to_string(value.size()) +
                       " bytes long; the state store allows at most " +
                       std::to_string(limits.max_name_bytes));
    return {};
}

result<void> check_amount(std::string_view what, nano_usd amount) {
    if (amount < 0 || amount > max_amount)
        return invalid(std::string(what) + " is " + std::to_string(amount) +
                       " nano-USD; it must be between 0 and " + std::to_string(max_amount));
    return {};
}

result<void> check_ttl(std::string_view what, std::chrono::milliseconds ttl) {
    using namespace std::chrono;
    if (ttl < milliseconds(1) || ttl > hours(24 * 366))
        return invalid(std::string(what) + " is " + std::to_string(ttl.count()) +
                       " ms; it must be between 1 ms and a year");
    return {};
}

result<void> check_rate(rate_quota q, std::uint64_t tokens) {
    auto const over = [](char const* what, std::uint64_t v) {
        return invalid(std::string(what) + " is " + std::to_string(v) + "; at most " +
                       std::to_string(max_rate_per_minute) + " is supported");
    };
    if (q.requests_per_minute > max_rate_per_minute)
        return over("requests_per_minute", q.requests_per_minute);
    if (q.tokens_per_minute > max_rate_per_minute)
        return over("tokens_per_minute", q.tokens_per_minute);
    if (tokens > max_rate_per_minute) return over("the token estimate", tokens);
    return {};
}

result<void> check_delta(std::int64_t delta) {
    auto const m = static_cast<std::int64_t>(max_rate_per_minute);
    if (delta > m || delta < -m)
        return invalid("the token correction is " + std::to_string(delta) +
                       "; its size is at most " + std::to_string(max_rate_per_minute));
    return {};
}

result<void> check_settlement(budget_reservation const& r, settlement const& s,
                              state_limits const& limits) {
    if (auto c = check_name("the reservation's key name", r.key, limits); !c) return c;
    if (auto c = check_amount("the reservation's amount", r.amount); !c) return c;
    if (r.id.size() > 64) return invalid("the reservation id is longer than 64 bytes");
    nano_usd sum = 0;
    for (auto const& c : s.costs) {
        if (auto k = check_name("a settlement's model name", c.model, limits); !k) return k;
        if (auto k = check_amount("the cost of model " + c.model, c.cost); !k) return k;
        sum += c.cost;
        if (sum > max_amount)
            return invalid("the settlement's costs add up to more than " +
                           std::to_string(max_amount) + " nano-USD");
    }
    return {};
}

result<void> check_reserve(std::string_view key, nano_usd estimate, std::optional<nano_usd> budget,
                           std::chrono::milliseconds ttl, state_limits const& limits) {
    if (auto c = check_name("the key name", key, limits); !c) return c;
    if (auto c = check_amount("the estimate", estimate); !c) return c;
    if (budget)
        if (auto c = check_amount("the budget", *budget); !c) return c;
    return check_ttl("the reservation ttl", ttl);
}

result<void> check_cache_put(std::string_view key, std::string_view value,
                             std::chrono::milliseconds ttl, state_limits const& limits) {
    if (auto c = check_name("the cache key", key, limits); !c) return c;
    if (value.size() > limits.max_cache_entry_bytes)
        return invalid("the cache entry is " + std::to_string(value.size()) +
                       " bytes; max_cache_entry_bytes is " +
                       std::to_string(limits.max_cache_entry_bytes));
    return check_ttl("the cache ttl", ttl);
}

result<void> check_sample(latency_sample const& s) {
    using namespace std::chrono;
    if (s.ttft < microseconds(0) || s.latency < microseconds(0) || s.ttft > hours(24) ||
        s.latency > hours(24))
        return invalid("a latency sample must be between 0 and 24 hours");
    return {};
}

id_source::id_source() {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    rng_.seed(seq);
}

std::string id_source::next() {
    std::uint64_t a, b;
    {
        std::lock_guard lock(mu_);
        a = rng_();
        b = rng_();
    }
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a),
                  static_cast<unsigned long long>(b));
    return std::string(buf, 32);
}

}  // namespace llmux::detail
