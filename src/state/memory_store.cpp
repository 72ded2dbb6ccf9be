// SPDX-License-Identifier: BSL-1.0
#include "state/common.hpp"

#include <algorithm>
#include <cmath>

namespace llmux {

namespace detail {

memory_core::memory_core(memory_store_config cfg) : cfg_(std::move(cfg)) {}

void memory_core::purge(key_budget& kb, std::int64_t now) {
    // Expired when `expires <= now`, as Redis's ZRANGEBYSCORE -inf now.
    while (!kb.by_expiry.empty() && kb.by_expiry.begin()->first <= now) {
        auto it = kb.open.find(kb.by_expiry.begin()->second);
        if (it != kb.open.end()) {
            kb.reserved -= it->second.amount;
            kb.open.erase(it);
        }
        kb.by_expiry.erase(kb.by_expiry.begin());
    }
}

result<reserve_outcome> memory_core::reserve(std::string const& key, nano_usd estimate,
                                             std::optional<nano_usd> budget,
                                             std::chrono::milliseconds ttl, std::int64_t now) {
    std::lock_guard lock(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) {
        if (keys_.size() >= cfg_.max_keys)
            return state_failure(state_error::full,
                                 "the memory state store holds budgets of " +
                                     std::to_string(cfg_.max_keys) +
                                     " keys already (max_keys); key names should come from "
                                     "configuration");
        it = keys_.emplace(key, key_budget{}).first;
    }
    auto& kb = it->second;
    purge(kb, now);
    reserve_outcome out;
    out.spent = kb.spent;
    out.reserved = kb.reserved;
    if (budget && kb.spent + kb.reserved + estimate > *budget) return out;
    if (kb.open.size() >= cfg_.limits.max_reservations_per_key)
        return state_failure(state_error::full,
                             "key '" + key + "' has " + std::to_string(kb.open.size()) +
                                 " outstanding reservations (max_reservations_per_key)");
    budget_reservation r;
    r.key = key;
    r.id = ids_.next();
    r.amount = estimate;
    std::int64_t const expires = now + std::chrono::microseconds(ttl).count();
    r.expires_at = from_us(expires);
    kb.open.emplace(r.id, held{estimate, expires});
    kb.by_expiry.emplace(expires, r.id);
    kb.reserved += estimate;
    out.reservation = std::move(r);
    return out;
}

result<settle_outcome> memory_core::settle(budget_reservation const& r, settlement const& s,
                                           std::int64_t now) {
    std::lock_guard lock(mu_);
    auto it = keys_.find(r.key);
    if (it == keys_.end()) {
        if (keys_.size() >= cfg_.max_keys)
            return state_failure(state_error::full, "the memory state store holds budgets of " +
                                                        std::to_string(cfg_.max_keys) +
                                                        " keys already (max_keys)");
        it = keys_.emplace(r.key, key_budget{}).first;
    }
    auto& kb = it->second;
    settle_outcome out;
    out.status = settle_status::late;
    if (!r.id.empty()) {
        auto h = kb.open.find(r.id);
        if (h != kb.open.end()) {
            kb.reserved -= h->second.amount;
            kb.by_expiry.erase({h->second.expires, r.id});
            kb.open.erase(h);
            out.status = settle_status::settled;
        } else if (now < to_us(r.expires_at)) {
            // Not outstanding, not expired: settled or released before.
            out.status = settle_status::duplicate;
            out.spent = kb.spent;
            return out;
        }
    }
    for (auto const& c : s.costs) {
        auto const m = attributed_model(
            c.model, [&](std::string_view name) { return kb.by_model.count(name) != 0; },
            kb.by_model.size(), cfg_.limits);
        auto pos = kb.by_model.find(m);
        if (pos == kb.by_model.end()) pos = kb.by_model.emplace(std::string(m), 0).first;
        pos->second += c.cost;
        kb.spent += c.cost;
    }
    if (s.entry && cfg_.ledger_rows > 0) {
        ledger_.push_back(*s.entry);
        while (ledger_.size() > cfg_.ledger_rows)
            ledger_.pop_front();
    }
    out.spent = kb.spent;
    return out;
}

result<key_spend> memory_core::spend(std::string const& key, std::int64_t now) {
    std::lock_guard lock(mu_);
    key_spend out;
    auto it = keys_.find(key);
    if (it == keys_.end()) return out;
    auto& kb = it->second;
    purge(kb, now);
    out.spent = kb.spent;
    out.reserved = kb.reserved;
    out.reservations = kb.open.size();
    for (auto const& [m, c] : kb.by_model)
        out.by_model.push_back({m, c});
    sort_by_cost(out.by_model);
    return out;
}

void memory_core::record(ledger_entry e) {
    if (cfg_.ledger_rows == 0) return;
    std::lock_guard lock(mu_);
    ledger_.push_back(std::move(e));
    while (ledger_.size() > cfg_.ledger_rows)
        ledger_.pop_front();
}

std::vector<ledger_entry> memory_core::recent_ledger() const {
    std::lock_guard lock(mu_);
    return {ledger_.begin(), ledger_.end()};
}

result<rate_decision> memory_core::acquire_rate(std::string const& bucket, rate_quota q,
                                                std::uint64_t tokens, std::int64_t now) {
    std::lock_guard lock(mu_);
    auto* e = rates_.find(bucket);
    rate_state const none;
    auto const r = rate_take(e ? e->state : none, q, tokens, now);
    if (r.decision.allowed) {
        if (!r.next.req && !r.next.tok) {
            rates_.erase(bucket);
        } else if (e) {
            e->state = r.next;
        } else {
            rates_.insert(bucket, rate_entry{r.next});
            rates_.trim(cfg_.max_rate_buckets);
        }
    }
    return r.decision;
}

result<void> memory_core::correct_rate(std::string const& bucket, rate_quota q, std::int64_t delta,
                                       std::int64_t now) {
    if (q.tokens_per_minute == 0 || delta == 0) return {};
    std::lock_guard lock(mu_);
    auto* e = rates_.find(bucket);
    std::optional<bucket_state> old;
    if (e) old = e->state.tok;
    auto const b = bucket_correct(old, q.tokens_per_minute, delta, now);
    if (e) {
        e->state.tok = b;
    } else {
        rate_state st;
        st.tok = b;
        rates_.insert(bucket, rate_entry{st});
        rates_.trim(cfg_.max_rate_buckets);
    }
    return {};
}

result<model_health> memory_core::health(std::string const& model) {
    std::lock_guard lock(mu_);
    if (auto* h = models_.find(model)) return *h;
    return model_health{};
}

result<void> memory_core::put_breaker(std::string const& model, breaker_snapshot const& b) {
    std::lock_guard lock(mu_);
    auto* h = models_.find(model);
    if (!h) {
        h = &models_.insert(model, model_health{});
        models_.trim(cfg_.max_models);
    }
    // Newest wins; ties go to the later write.
    if (!h->breaker || h->breaker->updated_at <= b.updated_at) h->breaker = b;
    return {};
}

result<latency_estimate> memory_core::observe_latency(std::string const& model,
                                                      latency_sample const& s) {
    std::lock_guard lock(mu_);
    auto* h = models_.find(model);
    if (!h) {
        h = &models_.insert(model, model_health{});
        models_.trim(cfg_.max_models);
    }
    auto& l = h->latency;
    double const a = cfg_.limits.latency_alpha;
    auto const fold = [&](std::optional<std::chrono::microseconds>& v,
                          std::chrono::microseconds x) {
        std::optional<double> old;
        if (v) old = static_cast<double>(v->count());
        v = std::chrono::microseconds(std::llround(ewma(old, static_cast<double>(x.count()), a)));
    };
    fold(l.ttft, s.ttft);
    fold(l.latency, s.latency);
    ++l.samples;
    return l;
}

result<std::optional<std::string>> memory_core::cache_get(std::string const& key,
                                                          std::int64_t now) {
    std::lock_guard lock(mu_);
    auto* e = cache_.find(key);
    if (!e) return std::optional<std::string>();
    if (e->expires <= now) {
        cache_bytes_ -= e->value.size() + key.size();
        cache_.erase(key);
        return std::optional<std::string>();
    }
    return std::optional<std::string>(e->value);
}

result<void> memory_core::cache_put(std::string key, std::string value,
                                    std::chrono::milliseconds ttl, std::int64_t now) {
    std::lock_guard lock(mu_);
    if (auto* old = cache_.find(key)) {
        cache_bytes_ -= old->value.size() + key.size();
        cache_.erase(key);
    }
    std::size_t const size = value.size() + key.size();
    if (size > cfg_.limits.max_cache_bytes) return {};  // could never fit: not cached
    std::int64_t const expires = now + std::chrono::microseconds(ttl).count();
    cache_.insert(std::move(key), cache_entry{std::move(value), expires});
    cache_bytes_ += size;
    while (cache_bytes_ > cfg_.limits.max_cache_bytes) {
        auto const& victim = cache_.order.back();
        cache_bytes_ -= victim.second.value.size() + victim.first.size();
        cache_.trim(cache_.order.size() - 1);
    }
    return {};
}

std::size_t memory_core::cache_bytes() const {
    std::lock_guard lock(mu_);
    return cache_bytes_;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------

namespace asio = boost::asio;

memory_store::memory_store(memory_store_config cfg)
    : core_(std::make_unique<detail::memory_core>(std::move(cfg))) {}

memory_store::~memory_store() = default;

asio::awaitable<result<reserve_outcome>> memory_store::reserve(std::string key, nano_usd estimate,
                                                               std::optional<nano_usd> budget,
                                                               std::chrono::milliseconds ttl) {
    if (auto c = detail::check_reserve(key, estimate, budget, ttl, core_->limits()); !c)
        co_return c.error();
    co_return core_->reserve(key, estimate, budget, ttl, detail::now_us(core_->clock()));
}

asio::awaitable<result<settle_outcome>> memory_store::settle(budget_reservation r, settlement s) {
    if (auto c = detail::check_settlement(r, s, core_->limits()); !c) co_return c.error();
    co_return core_->settle(r, s, detail::now_us(core_->clock()));
}

asio::awaitable<result<key_spend>> memory_store::spend(std::string key) {
    if (auto c = detail::check_name("the key name", key, core_->limits()); !c) co_return c.error();
    co_return core_->spend(key, detail::now_us(core_->clock()));
}

asio::awaitable<result<void>> memory_store::record(ledger_entry e) {
    core_->record(std::move(e));
    co_return result<void>{};
}

asio::awaitable<result<rate_decision>> memory_store::acquire_rate(std::string bucket, rate_quota q,
                                                                  std::uint64_t tokens) {
    if (auto c = detail::check_name("the rate bucket name", bucket, core_->limits()); !c)
        co_return c.error();
    if (auto c = detail::check_rate(q, tokens); !c) co_return c.error();
    if (!q.limited()) co_return rate_decision{true, {}};
    co_return core_->acquire_rate(bucket, q, tokens, detail::now_us(core_->clock()));
}

asio::awaitable<result<void>> memory_store::correct_rate(std::string bucket, rate_quota q,
                                                         std::int64_t delta) {
    if (auto c = detail::check_name("the rate bucket name", bucket, core_->limits()); !c)
        co_return c.error();
    if (auto c = detail::check_rate(q, 0); !c) co_return c.error();
    if (auto c = detail::check_delta(delta); !c) co_return c.error();
    co_return core_->correct_rate(bucket, q, delta, detail::now_us(core_->clock()));
}

asio::awaitable<result<model_health>> memory_store::health(std::string model) {
    if (auto c = detail::check_name("the model name", model, core_->limits()); !c)
        co_return c.error();
    co_return core_->health(model);
}

asio::awaitable<result<void>> memory_store::put_breaker(std::string model, breaker_snapshot b) {
    if (auto c = detail::check_name("the model name", model, core_->limits()); !c)
        co_return c.error();
    co_return core_->put_breaker(model, b);
}

asio::awaitable<result<latency_estimate>> memory_store::observe_latency(std::string model,
                                                                        latency_sample s) {
    if (auto c = detail::check_name("the model name", model, core_->limits()); !c)
        co_return c.error();
    if (auto c = detail::check_sample(s); !c) co_return c.error();
    co_return core_->observe_latency(model, s);
}

asio::awaitable<result<std::optional<std::string>>> memory_store::cache_get(std::string key) {
    if (auto c = detail::check_name("the cache key", key, core_->limits()); !c) co_return c.error();
    co_return core_->cache_get(key, detail::now_us(core_->clock()));
}

asio::awaitable<result<void>> memory_store::cache_put(std::string key, std::string value,
                                                      std::chrono::milliseconds ttl) {
    if (auto c = detail::check_cache_put(key, value, ttl, core_->limits()); !c) co_return c.error();
    co_return core_->cache_put(std::move(key), std::move(value), ttl,
                               detail::now_us(core_->clock()));
}

std::vector<ledger_entry> memory_store::recent_ledger() const {
    return core_->recent_ledger();
}

std::size_t memory_store::cache_bytes() const {
    return core_->cache_bytes();
}

}  // namespace llmux
