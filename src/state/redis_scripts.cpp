// SPDX-License-Identifier: BSL-1.0
#include "state/redis_scripts.hpp"

#include "state/common.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace llmux::detail {

namespace {

// Shared by every script. `num` writes an integer without an exponent (Lua's tostring keeps
// only 14 digits, and Redis's own number conversion is not guaranteed to be integral);
// ARGV[1] is the clock override in µs, empty for the server's TIME.
constexpr char const* prelude = R"lua(
local function num(n) return string.format('%d', n) end
local function now_us()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
)lua";

// Reservations live in a sorted set by expiry, as "id:amount"; the budget hash keeps
// `spent` (settled, durable) and `reserved` (the sum of the set), purged of expired ones.
constexpr char const* purge = R"lua(
local function purge(kh, kr, now)
  local expired = redis.call('ZRANGEBYSCORE', kr, '-inf', num(now))
  if #expired == 0 then return end
  local freed = 0
  for i = 1, #expired do
    freed = freed + tonumber(string.match(expired[i], ':(%d+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', kr, '-inf', num(now))
  redis.call('HINCRBY', kh, 'reserved', num(-freed))
end
)lua";

// KEYS: budget hash, reservations set. ARGV: now, id, estimate, budget (-1: none), ttl_us,
// max_reservations. Returns {granted (1, 0, -1: full), spent, reserved, expires_us}.
constexpr char const* reserve_body = R"lua(
local now = now_us()
purge(KEYS[1], KEYS[2], now)
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local estimate = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
if budget >= 0 and spent + reserved + estimate > budget then
  return {0, spent, reserved, 0}
end
local open = redis.call('ZCARD', KEYS[2])
if open >= tonumber(ARGV[6]) then
  return {-1, spent, reserved, open}
end
local expires = now + tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], num(expires), ARGV[2] .. ':' .. ARGV[3])
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[3])
return {1, spent, reserved, expires}
)lua";

// KEYS: budget hash, reservations set, spend-by-model hash. ARGV: now, member ("id:amount",
// empty for a charge), amount, expires_us, max_models, n, then n pairs model, cost.
// Returns {status (1 settled, 2 duplicate, 3 late), spent}.
constexpr char const* settle_body = R"lua(
local now = now_us()
local status = 3
if ARGV[2] ~= '' then
  if redis.call('ZREM', KEYS[2], ARGV[2]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'reserved', num(-tonumber(ARGV[3])))
    status = 1
  elseif now < tonumber(ARGV[4]) then
    return {2, tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')}
  end
end
local max = tonumber(ARGV[5])
local total = 0
for i = 1, tonumber(ARGV[6]) do
  local model = ARGV[5 + 2 * i]
  local cost = ARGV[6 + 2 * i]
  if redis.call('HEXISTS', KEYS[3], model) == 0 and redis.call('HLEN', KEYS[3]) >= max then
    model = '(other)'
  end
  redis.call('HINCRBY', KEYS[3], model, cost)
  total = total + tonumber(cost)
end
local spent = redis.call('HINCRBY', KEYS[1], 'spent', num(total))
return {status, spent}
)lua";

// KEYS: budget hash, reservations set, spend-by-model hash. ARGV: now.
// Returns {spent, reserved, reservations, {model, spent, ...}}.
constexpr char const* spend_body = R"lua(
local now = now_us()
purge(KEYS[1], KEYS[2], now)
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
return {spent, reserved, redis.call('ZCARD', KEYS[2]), redis.call('HGETALL', KEYS[3])}
)lua";

// rate_math.hpp in Lua. KEYS: the bucket's hash (rt, rf: GCRA; bl, ba: token bucket).
// ARGV: now, rpm, tpm, tokens, mode ('take' or 'correct'), delta. Returns {allowed, wait_us}.
// Divisions are corrected to exact integer results: a / b in doubles is rounded.
constexpr char const* rate_body = R"lua(
local M = 60000000
local function ceil_div(a, b)
  if a <= 0 then return 0 end
  local q = math.floor(a / b)
  while q * b < a do q = q + 1 end
  while q > 0 and (q - 1) * b >= a do q = q - 1 end
  return q
end
local function floor_div(a, b)
  local q = math.floor(a / b)
  while q * b > a do q = q - 1 end
  while (q + 1) * b <= a do q = q + 1 end
  return q
end
local now = now_us()
local rpm, tpm = tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, mode, delta = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local st = redis.call('HMGET', KEYS[1], 'rt', 'rf', 'bl', 'ba')
local rt, rf, bl, ba = tonumber(st[1]), tonumber(st[2]), tonumber(st[3]), tonumber(st[4])
local ok, wait = true, 0
local nrt, nrf, nbl, nba = rt, rf, bl, ba
if mode == 'take' and rpm > 0 then
  local bt, bf = now, 0
  if rt and rf and (rt > now or (rt == now and rf > 0)) then bt, bf = rt, rf end
  local q = floor_div(M, rpm)
  nrt, nrf = bt + q, bf + (M - q * rpm)
  if nrf >= rpm then nrf, nrt = nrf - rpm, nrt + 1 end
  local ahead = nrt - now
  if not (ahead < M or (ahead == M and nrf == 0)) then
    ok = false
    local w = ahead - M
    if nrf > 0 then w = w + 1 end
    if w > wait then wait = w end
  end
end
if tpm > 0 then
  local cap = tpm * M
  local level, at = bl, ba
  if level == nil or at == nil then
    level, at = cap, now
  else
    if level > cap then level = cap end
    if now > at then
      if now - at >= ceil_div(cap - level, tpm) then
        level = cap
      else
        level = level + (now - at) * tpm
      end
      at = now
    end
  end
  if mode == 'take' then
    local need = math.min(tokens, tpm) * M
    if level >= need then
      nbl, nba = math.max(level - tokens * M, -cap), at
    else
      ok = false
      local w = ceil_div(need - level, tpm)
      if w > wait then wait = w end
    end
  else
    nbl, nba = math.min(math.max(level - delta * M, -cap), cap), at
  end
end
if not ok then return {0, wait} end
if mode == 'take' then
  if rpm > 0 then
    redis.call('HSET', KEYS[1], 'rt', num(nrt), 'rf', num(nrf))
  else
    redis.call('HDEL', KEYS[1], 'rt', 'rf')
    nrt = nil
  end
end
if tpm > 0 then
  redis.call('HSET', KEYS[1], 'bl', num(nbl), 'ba', num(nba))
elseif mode == 'take' then
  redis.call('HDEL', KEYS[1], 'bl', 'ba')
end
local idle = now
if nrt and nrf then
  local t = nrt
  if nrf > 0 then t = t + 1 end
  if t > idle then idle = t end
end
if tpm > 0 then
  local t = nba + ceil_div(tpm * M - nbl, tpm)
  if t > idle then idle = t end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], num(ceil_div(idle - now, 1000) + 1000))
end
return {1, 0}
)lua";

// KEYS: the model's hash. ARGV: (unused clock), state, failures, open_until_us, updated_us,
// ttl_ms. The newest snapshot wins; ties go to the later write.
constexpr char const* breaker_body = R"lua(
local cur = redis.call('HGET', KEYS[1], 'bu')
if (not cur) or tonumber(cur) <= tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[1], 'bs', ARGV[2], 'bf', ARGV[3], 'bo', ARGV[4], 'bu', ARGV[5])
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
)lua";

// KEYS: the model's hash. ARGV: (unused clock), ttft_us, latency_us, alpha, ttl_ms.
// Returns {ttft_us, latency_us, samples}: averages rounded to whole µs, as the memory store.
constexpr char const* latency_body = R"lua(
local h = redis.call('HMGET', KEYS[1], 'lt', 'll', 'ln')
local a = tonumber(ARGV[4])
local function fold(old, x)
  if old == nil then return x end
  return math.floor(old + a * (x - old) + 0.5)
end
local t = fold(tonumber(h[1]), tonumber(ARGV[2]))
local l = fold(tonumber(h[2]), tonumber(ARGV[3]))
local n = (tonumber(h[3]) or 0) + 1
redis.call('HSET', KEYS[1], 'lt', num(t), 'll', num(l), 'ln', num(n))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {t, l, n}
)lua";

std::string sha1_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr) != 1)
        throw std::runtime_error("OpenSSL SHA-1 failed");
    static char const hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

/// The script's text from its parts (one allocation; `operator+` on literals makes GCC 12 warn
/// about bounds it cannot see).
redis_script make(std::string_view name, std::initializer_list<std::string_view> parts) {
    std::size_t n = 0;
    for (auto p : parts) n += p.size();
    redis_script s{name, {}, {}};
    s.body.reserve(n);
    for (auto p : parts) s.body.append(p.data(), p.size());
    s.sha1 = sha1_hex(s.body);
    return s;
}

std::string now_arg(now_override now) {
    return now ? std::to_string(*now) : std::string();
}

failure bad_reply(std::string_view what, resp_value const& reply) {
    if (reply.is_error()) return script_failure(what, reply);
    return failure(make_error_code(state_error::protocol),
                   "unexpected Redis reply to " + std::string(what));
}

bool all_integers(resp_value const& v, std::size_t n) {
    if (v.type != resp_value::kind::array || v.elements.size() < n) return false;
    for (std::size_t i = 0; i < n; ++i)
        if (v.elements[i].type != resp_value::kind::integer) return false;
    return true;
}

/// A field of an HMGET reply as an integer; empty when absent or not a number.
std::optional<std::int64_t> field(resp_value const& v) {
    if (v.type != resp_value::kind::string || v.str.empty()) return std::nullopt;
    char* end = nullptr;
    long long const n = std::strtoll(v.str.c_str(), &end, 10);
    if (end != v.str.c_str() + v.str.size()) return std::nullopt;
    return static_cast<std::int64_t>(n);
}

std::string encode(script_call const& c, bool by_sha) {
    std::vector<std::string_view> argv;
    argv.reserve(3 + c.keys.size() + c.args.size());
    argv.push_back(by_sha ? "EVALSHA" : "EVAL");
    argv.push_back(by_sha ? std::string_view(c.script->sha1) : std::string_view(c.script->body));
    std::string const nkeys = std::to_string(c.keys.size());
    argv.push_back(nkeys);
    for (auto const& k : c.keys)
        argv.push_back(k);
    for (auto const& a : c.args)
        argv.push_back(a);
    std::string out;
    append_command(out, argv);
    return out;
}

}  // namespace

redis_script const& reserve_script() {
    static redis_script const s = make("reserve", {prelude, purge, reserve_body});
    return s;
}
redis_script const& settle_script() {
    static redis_script const s = make("settle", {prelude, settle_body});
    return s;
}
redis_script const& spend_script() {
    static redis_script const s = make("spend", {prelude, purge, spend_body});
    return s;
}
redis_script const& rate_script() {
    static redis_script const s = make("rate", {prelude, rate_body});
    return s;
}
redis_script const& breaker_script() {
    static redis_script const s = make("breaker", {prelude, breaker_body});
    return s;
}
redis_script const& latency_script() {
    static redis_script const s = make("latency", {prelude, latency_body});
    return s;
}

std::string encode_evalsha(script_call const& c) {
    return encode(c, true);
}
std::string encode_eval(script_call const& c) {
    return encode(c, false);
}

bool is_noscript(resp_value const& reply) noexcept {
    return reply.is_error() && std::string_view(reply.str).substr(0, 8) == "NOSCRIPT";
}

script_call reserve_call(redis_keys const& k, std::string_view key, std::string_view id,
                         nano_usd estimate, std::optional<nano_usd> budget, std::int64_t ttl_us,
                         std::size_t max_reservations, now_override now) {
    return {&reserve_script(),
            {k.budget(key), k.reservations(key)},
            {now_arg(now), std::string(id), std::to_string(estimate),
             std::to_string(budget ? *budget : -1), std::to_string(ttl_us),
             std::to_string(max_reservations)}};
}

script_call settle_call(redis_keys const& k, budget_reservation const& r, settlement const& s,
                        std::size_t max_models, now_override now) {
    script_call c{&settle_script(),
                  {k.budget(r.key), k.reservations(r.key), k.models(r.key)},
                  {now_arg(now),
                   r.id.empty() ? std::string() : r.id + ":" + std::to_string(r.amount),
                   std::to_string(r.amount), std::to_string(to_us(r.expires_at)),
                   std::to_string(max_models), std::to_string(s.costs.size())}};
    for (auto const& m : s.costs) {
        c.args.push_back(m.model);
        c.args.push_back(std::to_string(m.cost));
    }
    return c;
}

script_call spend_call(redis_keys const& k, std::string_view key, now_override now) {
    return {&spend_script(), {k.budget(key), k.reservations(key), k.models(key)}, {now_arg(now)}};
}

script_call rate_call(redis_keys const& k, std::string_view bucket, rate_quota q,
                      std::uint64_t tokens, now_override now) {
    return {&rate_script(),
            {k.rate(bucket)},
            {now_arg(now), std::to_string(q.requests_per_minute),
             std::to_string(q.tokens_per_minute), std::to_string(tokens), "take", "0"}};
}

script_call rate_correct_call(redis_keys const& k, std::string_view bucket, rate_quota q,
                              std::int64_t delta, now_override now) {
    return {&rate_script(),
            {k.rate(bucket)},
            {now_arg(now), std::to_string(q.requests_per_minute),
             std::to_string(q.tokens_per_minute), "0", "correct", std::to_string(delta)}};
}

script_call breaker_call(redis_keys const& k, std::string_view model, breaker_snapshot const& b,
                         std::chrono::milliseconds ttl) {
    return {&breaker_script(),
            {k.model(model)},
            {std::string(), std::to_string(static_cast<int>(b.state)),
             std::to_string(b.recent_failures), std::to_string(to_us(b.open_until)),
             std::to_string(to_us(b.updated_at)), std::to_string(ttl.count())}};
}

script_call latency_call(redis_keys const& k, std::string_view model, latency_sample const& s,
                         double alpha, std::chrono::milliseconds ttl) {
    char a[32];
    std::snprintf(a, sizeof a, "%.17g", alpha);  // the exact double, as the memory store uses
    return {&latency_script(),
            {k.model(model)},
            {std::string(), std::to_string(s.ttft.count()), std::to_string(s.latency.count()), a,
             std::to_string(ttl.count())}};
}

std::vector<std::string> health_command(redis_keys const& k, std::string_view model) {
    return {"HMGET", k.model(model), "bs", "bf", "bo", "bu", "lt", "ll", "ln"};
}

failure script_failure(std::string_view script, resp_value const& reply) {
    return failure(make_error_code(state_error::protocol),
                   "the Redis script '" + std::string(script) + "' failed: " + reply.str);
}

result<reserve_outcome> parse_reserve(resp_value const& reply, std::string_view key, std::string id,
                                      nano_usd estimate) {
    if (!all_integers(reply, 4)) return bad_reply("reserve", reply);
    auto const& e = reply.elements;
    reserve_outcome out;
    out.spent = e[1].integer;
    out.reserved = e[2].integer;
    if (e[0].integer == -1)
        return failure(make_error_code(state_error::full),
                       "key '" + std::string(key) + "' has " + std::to_string(e[3].integer) +
                           " outstanding reservations (max_reservations_per_key)");
    if (e[0].integer == 1) {
        budget_reservation r;
        r.key = std::string(key);
        r.id = std::move(id);
        r.amount = estimate;
        r.expires_at = from_us(e[3].integer);
        out.reservation = std::move(r);
    }
    return out;
}

result<settle_outcome> parse_settle(resp_value const& reply) {
    if (!all_integers(reply, 2)) return bad_reply("settle", reply);
    settle_outcome out;
    switch (reply.elements[0].integer) {
    case 1:
        out.status = settle_status::settled;
        break;
    case 2:
        out.status = settle_status::duplicate;
        break;
    case 3:
        out.status = settle_status::late;
        break;
    default:
        return bad_reply("settle", reply);
    }
    out.spent = reply.elements[1].integer;
    return out;
}

result<key_spend> parse_spend(resp_value const& reply) {
    if (!all_integers(reply, 3) || reply.elements.size() != 4 ||
        reply.elements[3].type != resp_value::kind::array ||
        reply.elements[3].elements.size() % 2 != 0)
        return bad_reply("spend", reply);
    key_spend out;
    out.spent = reply.elements[0].integer;
    out.reserved = reply.elements[1].integer;
    out.reservations = static_cast<std::uint64_t>(reply.elements[2].integer);
    auto const& m = reply.elements[3].elements;
    for (std::size_t i = 0; i + 1 < m.size(); i += 2) {
        auto cost = field(m[i + 1]);
        if (!cost) return bad_reply("spend", reply);
        out.by_model.push_back({m[i].str, *cost});
    }
    sort_by_cost(out.by_model);
    return out;
}

result<rate_decision> parse_rate(resp_value const& reply) {
    if (!all_integers(reply, 2)) return bad_reply("rate", reply);
    rate_decision d;
    d.allowed = reply.elements[0].integer == 1;
    d.retry_after = d.allowed ? std::chrono::milliseconds(0) : wait_ms(reply.elements[1].integer);
    return d;
}

result<latency_estimate> parse_latency(resp_value const& reply) {
    if (!all_integers(reply, 3)) return bad_reply("latency", reply);
    latency_estimate l;
    l.ttft = std::chrono::microseconds(reply.elements[0].integer);
    l.latency = std::chrono::microseconds(reply.elements[1].integer);
    l.samples = static_cast<std::uint64_t>(reply.elements[2].integer);
    return l;
}

result<model_health> parse_health(resp_value const& reply) {
    if (reply.type != resp_value::kind::array || reply.elements.size() != 7)
        return bad_reply("HMGET", reply);
    auto const& e = reply.elements;
    model_health h;
    auto const state = field(e[0]), failures = field(e[1]), open_until = field(e[2]),
               updated = field(e[3]);
    if (state && failures && open_until && updated) {
        if (*state < 0 || *state > static_cast<int>(circuit_state::half_open))
            return bad_reply("HMGET", reply);
        breaker_snapshot b;
        b.state = static_cast<circuit_state>(*state);
        b.recent_failures = static_cast<std::uint32_t>(*failures);
        b.open_until = from_us(*open_until);
        b.updated_at = from_us(*updated);
        h.breaker = b;
    }
    if (auto t = field(e[4])) h.latency.ttft = std::chrono::microseconds(*t);
    if (auto l = field(e[5])) h.latency.latency = std::chrono::microseconds(*l);
    if (auto n = field(e[6])) h.latency.samples = static_cast<std::uint64_t>(*n);
    return h;
}

}  // namespace llmux::detail
