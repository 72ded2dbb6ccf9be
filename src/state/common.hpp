// SPDX-License-Identifier: BSL-1.0
// What the three state stores share: argument checks (with messages that name the argument),
// reservation ids, the clock, and the in-memory core (`memory_core`), which the memory store
// is and the SQLite store uses for rates and model health.
#pragma once

#include <llmux/state.hpp>

#include "state/rate_math.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

namespace llmux::detail {

/// A failure of `code` with `message`.
inline failure state_failure(state_error code, std::string message) {
    return failure(make_error_code(code), std::move(message));
}

/// `what` is non-empty and at most `limits.max_name_bytes` long.
result<void> check_name(std::string_view what, std::string_view value, state_limits const& limits);
/// 0 <= amount <= max_amount.
result<void> check_amount(std::string_view what, nano_usd amount);
/// At least one millisecond, at most a year.
result<void> check_ttl(std::string_view what, std::chrono::milliseconds ttl);
/// Limits and the token count within `max_rate_per_minute`.
result<void> check_rate(rate_quota q, std::uint64_t tokens);
result<void> check_delta(std::int64_t delta);
/// Model names and amounts of a settlement, and their sum within `max_amount`.
result<void> check_settlement(budget_reservation const& r, settlement const& s,
                              state_limits const& limits);
result<void> check_reserve(std::string_view key, nano_usd estimate, std::optional<nano_usd> budget,
                           std::chrono::milliseconds ttl, state_limits const& limits);
result<void> check_cache_put(std::string_view key, std::string_view value,
                             std::chrono::milliseconds ttl, state_limits const& limits);
result<void> check_sample(latency_sample const& s);

/// Now, from the configured clock or the system clock, in µs since the epoch.
inline std::int64_t now_us(state_clock const& clock) {
    return to_us(clock ? clock() : std::chrono::system_clock::now());
}

/// Unique reservation ids: 128 random bits in hex. Not secrets; only uniqueness matters.
class id_source {
public:
    id_source();
    std::string next();

private:
    std::mutex mu_;
    std::mt19937_64 rng_;
};

/// The spend of a settlement attributed by model under the per-key cap: `known(model)` says
/// whether the key already has the model, `count` how many models it has.
template <class Known>
std::string_view attributed_model(std::string_view model, Known&& known, std::size_t count,
                                  state_limits const& limits) {
    if (known(model) || count < limits.max_models_per_key) return model;
    return other_model;
}

/// Largest cost first, then by name (the order `key_spend::by_model` promises).
inline void sort_by_cost(std::vector<model_cost>& v) {
    std::sort(v.begin(), v.end(), [](model_cost const& a, model_cost const& b) {
        return a.cost != b.cost ? a.cost > b.cost : a.model < b.model;
    });
}

/// A latency average folded with one sample.
inline double ewma(std::optional<double> old, double sample, double alpha) noexcept {
    return old ? *old + alpha * (sample - *old) : sample;
}

/// The synchronous state of a memory store, guarded by one mutex. Times are passed in.
class memory_core {
public:
    explicit memory_core(memory_store_config cfg);

    result<reserve_outcome> reserve(std::string const& key, nano_usd estimate,
                                    std::optional<nano_usd> budget, std::chrono::milliseconds ttl,
                                    std::int64_t now);
    result<settle_outcome> settle(budget_reservation const& r, settlement const& s,
                                  std::int64_t now);
    result<key_spend> spend(std::string const& key, std::int64_t now);
    void record(ledger_entry e);
    std::vector<ledger_entry> recent_ledger() const;

    result<rate_decision> acquire_rate(std::string const& bucket, rate_quota q,
                                       std::uint64_t tokens, std::int64_t now);
    result<void> correct_rate(std::string const& bucket, rate_quota q, std::int64_t delta,
                              std::int64_t now);

    result<model_health> health(std::string const& model);
    result<void> put_breaker(std::string const& model, breaker_snapshot const& b);
    result<latency_estimate> observe_latency(std::string const& model, latency_sample const& s);

    result<std::optional<std::string>> cache_get(std::string const& key, std::int64_t now);
    result<void> cache_put(std::string key, std::string value, std::chrono::milliseconds ttl,
                           std::int64_t now);
    std::size_t cache_bytes() const;

    state_limits const& limits() const noexcept { return cfg_.limits; }
    state_clock const& clock() const noexcept { return cfg_.clock; }

private:
    struct held {
        nano_usd amount = 0;
        std::int64_t expires = 0;
    };
    struct key_budget {
        nano_usd spent = 0;
        nano_usd reserved = 0;
        std::unordered_map<std::string, held> open;
        std::set<std::pair<std::int64_t, std::string>> by_expiry;
        std::map<std::string, nano_usd, std::less<>> by_model;
    };
    // A small LRU map: entries in use order (front = most recent), and an index into it.
    template <class V>
    struct lru {
        std::list<std::pair<std::string, V>> order;
        std::unordered_map<std::string_view, typename decltype(order)::iterator> index;

        V* find(std::string_view k) {
            auto it = index.find(k);
            if (it == index.end()) return nullptr;
            order.splice(order.begin(), order, it->second);
            return &it->second->second;
        }
        V& insert(std::string k, V v) {
            order.emplace_front(std::move(k), std::move(v));
            index.emplace(order.front().first, order.begin());
            return order.front().second;
        }
        void erase(std::string_view k) {
            auto it = index.find(k);
            if (it == index.end()) return;
            auto pos = it->second;
            index.erase(it);
            order.erase(pos);
        }
        void trim(std::size_t cap) {
            while (order.size() > cap) {
                index.erase(order.back().first);
                order.pop_back();
            }
        }
    };
    struct rate_entry {
        rate_state state;
    };
    struct cache_entry {
        std::string value;
        std::int64_t expires = 0;
    };

    void purge(key_budget& kb, std::int64_t now);

    memory_store_config cfg_;
    id_source ids_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, key_budget> keys_;
    lru<rate_entry> rates_;
    lru<model_health> models_;
    lru<cache_entry> cache_;
    std::size_t cache_bytes_ = 0;
    std::deque<ledger_entry> ledger_;
};

}  // namespace llmux::detail
