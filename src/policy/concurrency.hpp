// SPDX-License-Identifier: BSL-1.0
// Adaptive concurrency (AIMD) of one provider as a pure class: it raises the in-flight limit
// while answers come back well and cuts it on the provider's 429/529 and on a rising time to
// first token. The client's gate queues calls in front of it (resilience.hpp); time is passed
// in.
#pragma once

#include "policy/retry.hpp"

#include <llmux/config.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace llmux::detail {

/// How a call that held a slot ended, for the limiter.
enum class call_outcome {
    /// Answered.
    success,
    /// The provider said it is at capacity (429, 529, "overloaded").
    overload,
    /// Another failure that says something about the provider (5xx, timeout, reset).
    error,
    /// Nothing learnt (the caller cancelled, a bad request).
    neutral,
};

/** Additive increase, multiplicative decrease of one provider's in-flight limit
    (`concurrency_config`):
    - a call may start while fewer than `limit()` are in flight;
    - after `limit()` successes in a row during which the limit was reached (the demand was
      there), the limit grows by one, up to `max_limit`;
    - an overload cuts it to `limit × backoff_ratio` (at least `min_limit`), and a stream's time
      to first token above `ttft_tolerance` × the usual one cuts it to
      `limit × latency_backoff_ratio`; only calls started after the last cut can cut again, so
      a burst of refusals of calls sent together counts once;
    - an error or a slow answer resets the run of successes: the limit does not grow while
      errors or latency do not hold;
    - the usual time to first token is the lowest seen, drifting up slowly (5 % of each
      sample's excess, capped at the tolerance) so that a provider's new normal is learnt.
*/
class aimd_limiter {
public:
    explicit aimd_limiter(concurrency_config const& cfg);

    /// Takes a slot if one is free.
    bool try_acquire() noexcept;
    /// Gives a slot back. `started`: when the call was sent; `ttft`: a stream's time to first
    /// token (whole answers give none: their first byte includes the whole generation).
    void release(call_outcome outcome, steady_time started,
                 std::optional<std::chrono::nanoseconds> ttft, steady_time now);

    std::size_t limit() const noexcept { return limit_; }
    std::size_t in_flight() const noexcept { return in_flight_; }
    /// The usual time to first token, once a stream has been measured.
    std::optional<std::chrono::nanoseconds> ttft_baseline() const noexcept;
    /// Times the limit was lowered.
    std::uint64_t cuts() const noexcept { return cuts_; }

private:
    void cut(double ratio, steady_time started, steady_time now);

    concurrency_config cfg_;
    std::size_t limit_;
    std::size_t in_flight_ = 0;
    std::size_t successes_ = 0;
    bool saturated_ = false;
    std::optional<steady_time> last_cut_;
    std::optional<double> baseline_ns_;
    std::uint64_t cuts_ = 0;
};

}  // namespace llmux::detail
