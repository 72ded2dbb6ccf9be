// SPDX-License-Identifier: BSL-1.0
// The retry rules of one candidate as a pure class (DESIGN.md "control flow is data"): given a
// failure and the time, it says whether to try the same candidate again and when. Time and
// randomness are passed in, never read inside, so every rule is tested with a virtual clock.
#pragma once

#include <llmux/config.hpp>
#include <llmux/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace llmux::detail {

using steady_time = std::chrono::steady_clock::time_point;

/// Uniform numbers in [0, 1) for jitter. Seeded by whoever makes it; tests script it.
using uniform_source = std::function<double()>;

/// A uniform source drawn from a 64-bit Mersenne twister seeded with `seed` (0: a random seed).
uniform_source seeded_uniform(std::uint64_t seed);

/// How one candidate is retried.
struct retry_rules {
    /// Attempts of the candidate in all, the first included (1: no retry).
    unsigned max_attempts = 1;
    /// The wait before the first retry; each later wait grows by `multiplier`, up to
    /// `max_backoff`. Each wait is jittered to between half and all of it.
    duration initial_backoff = std::chrono::milliseconds(500);
    double multiplier = 2.0;
    duration max_backoff = std::chrono::seconds(20);
    /// A provider's `Retry-After` lengthens the wait, up to this much.
    duration max_retry_after = std::chrono::seconds(60);
    /// Which failures are retried on the same candidate; empty: none.
    std::function<bool(failure const&)> should_retry;
};

/// What `retry_fsm::failed` decided.
enum class retry_verdict {
    /// Try again at `retry_decision::at`.
    retry,
    /// The failure is not one to retry on this candidate.
    not_retryable,
    /// Every attempt the rules allow was made.
    exhausted,
    /// The wait would end at or after the deadline.
    no_time,
};

struct retry_decision {
    retry_verdict verdict = retry_verdict::not_retryable;
    /// When to try again (`retry` only).
    steady_time at{};
    /// The wait that was computed (also for `no_time`).
    duration wait{};
};

/** The retries of one candidate: exponential backoff with jitter, `Retry-After` honoured up to
    its cap, never waiting to or past the deadline.

    The wait before retry k (k = 1, 2, ...) is `b_k × (0.5 + 0.5 u)` with
    `b_k = min(initial_backoff × multiplier^(k-1), max_backoff)` and `u` from the uniform
    source, raised to `min(retry_after, max_retry_after)` when the provider sent one.
*/
class retry_fsm {
public:
    /// `rules` and `jitter` must outlive this object.
    retry_fsm(retry_rules const& rules, uniform_source& jitter) noexcept;

    /// An attempt of the candidate starts.
    void started() noexcept { ++attempts_; }
    /// Attempts started so far.
    unsigned attempts() const noexcept { return attempts_; }

    /// The attempt in progress failed with `f` at `now`; `deadline` is the operation's
    /// (`steady_time::max()`: none).
    retry_decision failed(failure const& f, steady_time now, steady_time deadline);

private:
    retry_rules const* rules_;
    uniform_source* jitter_;
    unsigned attempts_ = 0;
    duration backoff_;
};

}  // namespace llmux::detail
