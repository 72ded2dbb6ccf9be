// SPDX-License-Identifier: BSL-1.0
// Rate-limit arithmetic, pure: GCRA for requests per minute, a token bucket for tokens per
// minute. Time is passed in (microseconds since the epoch), never read here, so every rule is
// tested with a virtual clock. The Redis script (redis_scripts.cpp) is a line-by-line copy in
// Lua; keep them in step (tests/integration/state_redis.cpp runs one table through both).
//
// Exact integer arithmetic, no floating point:
// - GCRA's emission interval T = 60e6/rpm µs is rarely an integer, so the theoretical arrival
//   time is kept as `tat_us + frac/rpm` (a mixed-radix number); a request is allowed when the
//   new TAT is at most one minute ahead (burst = rpm requests, tolerance = (rpm-1)*T).
// - The bucket's level is counted in units of 1/60e6 token: it refills by `limit` units per
//   µs and a token costs 60e6 units, so refills are integers too.
// Every figure stays below 2^53 (`max_rate_per_minute` bounds limits and tokens), where Lua's
// doubles are still exact.
#pragma once

#include <llmux/state.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace llmux::detail {

inline constexpr std::int64_t minute_us = 60'000'000;

/// Ceiling of a / b for a >= 0, b > 0.
constexpr std::int64_t ceil_div(std::int64_t a, std::int64_t b) noexcept {
    return a <= 0 ? 0 : (a + b - 1) / b;
}

inline std::int64_t to_us(std::chrono::system_clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
inline std::chrono::system_clock::time_point from_us(std::int64_t us) noexcept {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::microseconds(us)));
}

/// GCRA: the theoretical arrival time of the next request, `tat_us + frac/rpm` µs.
struct gcra_state {
    std::int64_t tat_us = 0;
    std::int64_t frac = 0;  // in [0, rpm)
    friend bool operator==(gcra_state const&, gcra_state const&) = default;
};

struct gcra_result {
    bool allowed = false;
    /// When refused: µs until it would be allowed (rounded up).
    std::int64_t wait_us = 0;
    /// The state to keep (unchanged when refused).
    gcra_state next;
};

/// One request against `rpm` at `now_us`.
inline gcra_result gcra_take(std::optional<gcra_state> s, std::uint64_t rpm,
                             std::int64_t now_us) noexcept {
    auto const r = static_cast<std::int64_t>(rpm);
    gcra_state base{now_us, 0};
    // A TAT in the past means an idle limiter: start from now.
    if (s && (s->tat_us > now_us || (s->tat_us == now_us && s->frac > 0))) base = *s;
    gcra_state n{base.tat_us + minute_us / r, base.frac + minute_us % r};
    if (n.frac >= r) {
        n.frac -= r;
        n.tat_us += 1;
    }
    std::int64_t const ahead = n.tat_us - now_us;
    if (ahead < minute_us || (ahead == minute_us && n.frac == 0)) return {true, 0, n};
    return {false, ahead - minute_us + (n.frac > 0 ? 1 : 0), s.value_or(base)};
}

/// When a GCRA state is the same as none (the limiter is idle again).
inline std::int64_t gcra_idle_at(gcra_state const& s) noexcept {
    return s.tat_us + (s.frac > 0 ? 1 : 0);
}

/// Token bucket: `level` in units of 1/60e6 token, last refilled at `at_us`.
struct bucket_state {
    std::int64_t level = 0;
    std::int64_t at_us = 0;
    friend bool operator==(bucket_state const&, bucket_state const&) = default;
};

/// The bucket refilled up to `now_us` (a new bucket is full). A clock that went back refills
/// nothing and keeps the later time, so no interval is counted twice.
inline bucket_state bucket_refill(std::optional<bucket_state> s, std::uint64_t limit,
                                  std::int64_t now_us) noexcept {
    auto const l = static_cast<std::int64_t>(limit);
    std::int64_t const cap = l * minute_us;
    if (!s) return {cap, now_us};
    bucket_state b = *s;
    b.level = std::min(b.level, cap);  // the limit may have been lowered
    if (now_us <= b.at_us) return b;
    std::int64_t const elapsed = now_us - b.at_us;
    std::int64_t const missing = cap - b.level;
    if (elapsed >= ceil_div(missing, l))
        b.level = cap;
    else
        b.level += elapsed * l;
    b.at_us = now_us;
    return b;
}

struct bucket_result {
    bool allowed = false;
    std::int64_t wait_us = 0;
    bucket_state next;
};

/// Takes `tokens` from a bucket of `limit` tokens per minute. A request larger than the whole
/// bucket passes when the bucket is full (else it never could), leaving a debt.
inline bucket_result bucket_take(std::optional<bucket_state> s, std::uint64_t limit,
                                 std::uint64_t tokens, std::int64_t now_us) noexcept {
    auto const l = static_cast<std::int64_t>(limit);
    std::int64_t const cap = l * minute_us;
    bucket_state b = bucket_refill(s, limit, now_us);
    std::int64_t const need = static_cast<std::int64_t>(std::min(tokens, limit)) * minute_us;
    if (b.level >= need) {
        b.level = std::max(b.level - static_cast<std::int64_t>(tokens) * minute_us, -cap);
        return {true, 0, b};
    }
    return {false, ceil_div(need - b.level, l), b};
}

/// Corrects a bucket by `delta` tokens (actual - estimated); debt is capped at one minute.
inline bucket_state bucket_correct(std::optional<bucket_state> s, std::uint64_t limit,
                                   std::int64_t delta, std::int64_t now_us) noexcept {
    auto const l = static_cast<std::int64_t>(limit);
    std::int64_t const cap = l * minute_us;
    bucket_state b = bucket_refill(s, limit, now_us);
    // |delta| <= max_rate_per_minute (checked by the caller), so this cannot overflow.
    b.level = std::clamp(b.level - delta * minute_us, -cap, cap);
    return b;
}

/// When a bucket is full again (the same as none).
inline std::int64_t bucket_idle_at(bucket_state const& b, std::uint64_t limit) noexcept {
    auto const l = static_cast<std::int64_t>(limit);
    return b.at_us + ceil_div(l * minute_us - b.level, l);
}

/// Both limiters of one bucket name.
struct rate_state {
    std::optional<gcra_state> req;
    std::optional<bucket_state> tok;
};

struct rate_result {
    rate_decision decision;
    rate_state next;
    /// When `next` is the same as no state (to expire it).
    std::int64_t idle_at_us = 0;
};

/// `retry_after` in whole milliseconds, rounded up.
inline std::chrono::milliseconds wait_ms(std::int64_t wait_us) noexcept {
    return std::chrono::milliseconds(ceil_div(wait_us, 1000));
}

/// One request of `tokens` against quota `q`: both limiters allow it, or neither is charged.
inline rate_result rate_take(rate_state const& s, rate_quota q, std::uint64_t tokens,
                             std::int64_t now_us) noexcept {
    rate_result out;
    out.next = s;
    std::int64_t wait = 0;
    bool ok = true;
    gcra_result g;
    bucket_result t;
    if (q.requests_per_minute > 0) {
        g = gcra_take(s.req, q.requests_per_minute, now_us);
        ok = ok && g.allowed;
        wait = std::max(wait, g.wait_us);
    }
    if (q.tokens_per_minute > 0) {
        t = bucket_take(s.tok, q.tokens_per_minute, tokens, now_us);
        ok = ok && t.allowed;
        wait = std::max(wait, t.wait_us);
    }
    if (ok) {
        if (q.requests_per_minute > 0) out.next.req = g.next;
        if (q.tokens_per_minute > 0) out.next.tok = t.next;
    }
    if (q.requests_per_minute == 0) out.next.req.reset();
    if (q.tokens_per_minute == 0) out.next.tok.reset();
    out.decision.allowed = ok;
    out.decision.retry_after = ok ? std::chrono::milliseconds(0) : wait_ms(wait);
    std::int64_t idle = now_us;
    if (out.next.req) idle = std::max(idle, gcra_idle_at(*out.next.req));
    if (out.next.tok) idle = std::max(idle, bucket_idle_at(*out.next.tok, q.tokens_per_minute));
    out.idle_at_us = idle;
    return out;
}

}  // namespace llmux::detail
