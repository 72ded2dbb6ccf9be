// SPDX-License-Identifier: BSL-1.0
// The Redis store's Lua scripts, the argument lists that call them and the parsers of their
// replies: pure functions, tested without a server. Each operation that reads and writes is
// one script, so it is atomic in Redis; time is the server's `TIME` unless a clock override
// is passed (tests). Arithmetic mirrors rate_math.hpp and memory_store.cpp exactly.
#pragma once

#include <llmux/state.hpp>

#include "state/redis_resp.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

struct redis_script {
    std::string_view name;
    std::string body;
    /// Lowercase hex SHA-1 of `body`, as `EVALSHA` wants it.
    std::string sha1;
};

redis_script const& reserve_script();
redis_script const& settle_script();
redis_script const& spend_script();
redis_script const& rate_script();
redis_script const& breaker_script();
redis_script const& latency_script();

/// One call of a script.
struct script_call {
    redis_script const* script = nullptr;
    std::vector<std::string> keys;
    std::vector<std::string> args;
};

/// `EVALSHA sha numkeys keys... args...` in RESP.
std::string encode_evalsha(script_call const& c);
/// `EVAL body numkeys keys... args...`: after a `NOSCRIPT` (a restarted or flushed server).
std::string encode_eval(script_call const& c);
/// The reply says the server does not have the script cached.
bool is_noscript(resp_value const& reply) noexcept;

/// Where each piece of state lives (see `redis_store`'s documentation).
struct redis_keys {
    std::string prefix;
    std::string budget(std::string_view key) const { return prefix + "k:" + std::string(key); }
    std::string reservations(std::string_view key) const {
        return prefix + "r:" + std::string(key);
    }
    std::string models(std::string_view key) const { return prefix + "km:" + std::string(key); }
    std::string rate(std::string_view bucket) const { return prefix + "rl:" + std::string(bucket); }
    std::string model(std::string_view model) const { return prefix + "m:" + std::string(model); }
    std::string cache(std::string_view key) const { return prefix + "c:" + std::string(key); }
};

/// A clock override in µs, or the server's `TIME` when empty.
using now_override = std::optional<std::int64_t>;

script_call reserve_call(redis_keys const& k, std::string_view key, std::string_view id,
                         nano_usd estimate, std::optional<nano_usd> budget, std::int64_t ttl_us,
                         std::size_t max_reservations, now_override now);
script_call settle_call(redis_keys const& k, budget_reservation const& r, settlement const& s,
                        std::size_t max_models, now_override now);
script_call spend_call(redis_keys const& k, std::string_view key, now_override now);
script_call rate_call(redis_keys const& k, std::string_view bucket, rate_quota q,
                      std::uint64_t tokens, now_override now);
script_call rate_correct_call(redis_keys const& k, std::string_view bucket, rate_quota q,
                              std::int64_t delta, now_override now);
script_call breaker_call(redis_keys const& k, std::string_view model, breaker_snapshot const& b,
                         std::chrono::milliseconds ttl);
script_call latency_call(redis_keys const& k, std::string_view model, latency_sample const& s,
                         double alpha, std::chrono::milliseconds ttl);
/// `HMGET` of a model's health fields.
std::vector<std::string> health_command(redis_keys const& k, std::string_view model);

/// An error reply of a script as a failure naming the script.
failure script_failure(std::string_view script, resp_value const& reply);

result<reserve_outcome> parse_reserve(resp_value const& reply, std::string_view key, std::string id,
                                      nano_usd estimate);
result<settle_outcome> parse_settle(resp_value const& reply);
result<key_spend> parse_spend(resp_value const& reply);
result<rate_decision> parse_rate(resp_value const& reply);
result<latency_estimate> parse_latency(resp_value const& reply);
result<model_health> parse_health(resp_value const& reply);

}  // namespace llmux::detail
