// SPDX-License-Identifier: BSL-1.0
// The Redis state store: each operation is one script call (or one plain command) on a
// pipelined connection (redis_connection.hpp); scripts go by EVALSHA and are sent again on
// NOSCRIPT (a restarted or flushed server).
#include "state/common.hpp"
#include "state/redis_connection.hpp"
#include "state/redis_scripts.hpp"

#include <charconv>

namespace llmux {

namespace asio = boost::asio;

result<void> redis_store_config::set_address(std::string_view address, std::string_view what) {
    auto const bad = [&](std::string const& why) {
        return failure(error::invalid_config,
                       std::string(what) + " must be host:port ([v6]:port for IPv6): " + why);
    };
    std::string_view host, port;
    if (!address.empty() && address.front() == '[') {
        auto const close = address.find(']');
        if (close == std::string_view::npos || close + 1 >= address.size() ||
            address[close + 1] != ':')
            return bad("no ']:' after the IPv6 address");
        host = address.substr(1, close - 1);
        port = address.substr(close + 2);
    } else {
        auto const colon = address.rfind(':');
        if (colon == std::string_view::npos) return bad("no port");
        host = address.substr(0, colon);
        port = address.substr(colon + 1);
    }
    if (host.empty()) return bad("no host");
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535)
        return bad("the port is not a number from 1 to 65535");
    this->host = std::string(host);
    this->port = static_cast<std::uint16_t>(p);
    return {};
}

namespace detail {

class redis_impl {
public:
    redis_impl(asio::any_io_executor ex, redis_store_config cfg)
        : cfg_(std::move(cfg)), keys_{cfg_.prefix},
          conn_(std::make_shared<redis_connection>(
              std::move(ex),
              redis_connection_config{cfg_.host, cfg_.port, cfg_.username, cfg_.password,
                                      cfg_.database, cfg_.connect_timeout, cfg_.request_timeout,
                                      cfg_.backoff_initial, cfg_.backoff_max, cfg_.max_pending})) {
        conn_->start();
    }
    ~redis_impl() { conn_->stop(); }

    /// One script call; the script's text is sent once more when the server lacks it.
    asio::awaitable<result<resp_value>> call(script_call c) {
        std::string bytes = encode_evalsha(c);
        auto r = co_await conn_->exec(std::move(bytes), 1);
        if (!r) co_return r.error();
        if (is_noscript(r->front())) {
            bytes = encode_eval(c);
            r = co_await conn_->exec(std::move(bytes), 1);
            if (!r) co_return r.error();
        }
        auto v = std::move(r->front());
        if (v.is_error()) co_return script_failure(c.script->name, v);
        co_return v;
    }

    asio::awaitable<result<resp_value>> command(std::vector<std::string> argv) {
        std::string bytes;
        append_command(bytes, argv);
        auto r = co_await conn_->exec(std::move(bytes), 1);
        if (!r) co_return r.error();
        auto v = std::move(r->front());
        if (v.is_error())
            co_return failure(make_error_code(state_error::protocol),
                              "Redis refused " + argv.front() + ": " + v.str);
        co_return v;
    }

    now_override now() const {
        if (!cfg_.clock) return std::nullopt;
        return now_us(cfg_.clock);
    }

    redis_store_config cfg_;
    redis_keys keys_;
    id_source ids_;
    std::shared_ptr<redis_connection> conn_;
};

}  // namespace detail

using detail::redis_impl;

redis_store::redis_store(asio::any_io_executor ex, redis_store_config cfg)
    : impl_(std::make_shared<redis_impl>(std::move(ex), std::move(cfg))) {}

redis_store::~redis_store() = default;

void redis_store::close() {
    impl_->conn_->stop();
}

bool redis_store::available() const noexcept {
    return impl_->conn_->connected();
}

asio::awaitable<result<reserve_outcome>> redis_store::reserve(std::string key, nano_usd estimate,
                                                              std::optional<nano_usd> budget,
                                                              std::chrono::milliseconds ttl) {
    auto const& cfg = impl_->cfg_;
    if (auto c = detail::check_reserve(key, estimate, budget, ttl, cfg.limits); !c)
        co_return c.error();
    std::string id = impl_->ids_.next();
    auto call = detail::reserve_call(impl_->keys_, key, id, estimate, budget,
                                     std::chrono::microseconds(ttl).count(),
                                     cfg.limits.max_reservations_per_key, impl_->now());
    auto r = co_await impl_->call(std::move(call));
    if (!r) co_return r.error();
    co_return detail::parse_reserve(*r, key, std::move(id), estimate);
}

asio::awaitable<result<settle_outcome>> redis_store::settle(budget_reservation r, settlement s) {
    auto const& cfg = impl_->cfg_;
    if (auto c = detail::check_settlement(r, s, cfg.limits); !c) co_return c.error();
    auto call =
        detail::settle_call(impl_->keys_, r, s, cfg.limits.max_models_per_key, impl_->now());
    auto v = co_await impl_->call(std::move(call));
    if (!v) co_return v.error();
    co_return detail::parse_settle(*v);
}

asio::awaitable<result<key_spend>> redis_store::spend(std::string key) {
    if (auto c = detail::check_name("the key name", key, impl_->cfg_.limits); !c)
        co_return c.error();
    auto call = detail::spend_call(impl_->keys_, key, impl_->now());
    auto v = co_await impl_->call(std::move(call));
    if (!v) co_return v.error();
    co_return detail::parse_spend(*v);
}

asio::awaitable<result<void>> redis_store::record(ledger_entry) {
    co_return result<void>{};  // no ledger in Redis (see keeps_ledger)
}

asio::awaitable<result<rate_decision>> redis_store::acquire_rate(std::string bucket, rate_quota q,
                                                                 std::uint64_t tokens) {
    if (auto c = detail::check_name("the rate bucket name", bucket, impl_->cfg_.limits); !c)
        co_return c.error();
    if (auto c = detail::check_rate(q, tokens); !c) co_return c.error();
    if (!q.limited()) co_return rate_decision{true, {}};
    auto call = detail::rate_call(impl_->keys_, bucket, q, tokens, impl_->now());
    auto v = co_await impl_->call(std::move(call));
    if (!v) co_return v.error();
    co_return detail::parse_rate(*v);
}

asio::awaitable<result<void>> redis_store::correct_rate(std::string bucket, rate_quota q,
                                                        std::int64_t delta) {
    if (auto c = detail::check_name("the rate bucket name", bucket, impl_->cfg_.limits); !c)
        co_return c.error();
    if (auto c = detail::check_rate(q, 0); !c) co_return c.error();
    if (auto c = detail::check_delta(delta); !c) co_return c.error();
    if (q.tokens_per_minute == 0 || delta == 0) co_return result<void>{};
    auto call = detail::rate_correct_call(impl_->keys_, bucket, q, delta, impl_->now());
    auto v = co_await impl_->call(std::move(call));
    if (!v) co_return v.error();
    co_return result<void>{};
}

asio::awaitable<result<model_health>> redis_store::health(std::string model) {
    if (auto c = detail::check_name("the model name", model, impl_->cfg_.limits); !c)
        co_return c.error();
    auto cmd = detail::health_command(impl_->keys_, model);
    auto v = co_await impl_->command(std::move(cmd));
    if (!v) co_return v.error();
    co_return detail::parse_health(*v);
}

asio::awaitable<result<void>> redis_store::put_breaker(std::string model, breaker_snapshot b) {
    if (auto c = detail::check_name("the model name", model, impl_->cfg_.limits); !c)
        co_return c.error();
    auto call = detail::breaker_call(
        impl_->keys_, model, b,
        std::chrono::duration_cast<std::chrono::milliseconds>(impl_->cfg_.health_ttl));
    auto v = co_await impl_->call(std::move(call));
    if (!v) co_return v.error();
    co_return result<void>{};
}

asio::awaitable<result<latency_estimate>> redis_store::observe_latency(std::string model,
                                                                       latency_sample s) {
    auto const& cfg = impl_->cfg_;
    if (auto c = detail::check_name("the model name", model, cfg.limits); !c) co_return c.error();
    if (auto c = detail::check_sample(s); !c) co_return c.error();
    auto call =
        detail::latency_call(impl_->keys_, model, s, cfg.limits.latency_alpha,
                             std::chrono::duration_cast<std::chrono::milliseconds>(cfg.health_ttl));
    auto v = co_await impl_->call(std::move(call));
    if (!v) co_return v.error();
    co_return detail::parse_latency(*v);
}

asio::awaitable<result<std::optional<std::string>>> redis_store::cache_get(std::string key) {
    if (auto c = detail::check_name("the cache key", key, impl_->cfg_.limits); !c)
        co_return c.error();
    std::vector<std::string> cmd{"GET", impl_->keys_.cache(key)};
    auto v = co_await impl_->command(std::move(cmd));
    if (!v) co_return v.error();
    if (v->is_nil()) co_return std::optional<std::string>();
    if (v->type != detail::resp_value::kind::string)
        co_return failure(make_error_code(state_error::protocol),
                          "unexpected Redis reply to GET of a cache entry");
    co_return std::optional<std::string>(std::move(v->str));
}

asio::awaitable<result<void>> redis_store::cache_put(std::string key, std::string value,
                                                     std::chrono::milliseconds ttl) {
    if (auto c = detail::check_cache_put(key, value, ttl, impl_->cfg_.limits); !c)
        co_return c.error();
    std::vector<std::string> cmd{"SET", impl_->keys_.cache(key), std::move(value), "PX",
                                 std::to_string(ttl.count())};
    auto v = co_await impl_->command(std::move(cmd));
    if (!v) co_return v.error();
    co_return result<void>{};
}

asio::awaitable<result<void>> redis_store::ping() {
    std::vector<std::string> cmd{"PING"};
    auto v = co_await impl_->command(std::move(cmd));
    if (!v) co_return v.error();
    if (v->str != "PONG")
        co_return failure(make_error_code(state_error::protocol), "unexpected reply to PING");
    co_return result<void>{};
}

}  // namespace llmux
