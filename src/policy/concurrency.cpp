// SPDX-License-Identifier: BSL-1.0
#include "policy/concurrency.hpp"

#include <algorithm>
#include <cmath>

namespace llmux::detail {

namespace {
constexpr double baseline_drift = 0.05;
}

aimd_limiter::aimd_limiter(concurrency_config const& cfg) : cfg_(cfg) {
    cfg_.min_limit = std::max<std::size_t>(cfg_.min_limit, 1);
    cfg_.max_limit = std::max(cfg_.max_limit, cfg_.min_limit);
    limit_ = std::clamp(cfg_.initial_limit, cfg_.min_limit, cfg_.max_limit);
}

bool aimd_limiter::try_acquire() noexcept {
    if (in_flight_ >= limit_) {
        saturated_ = true;  // the demand exceeds the limit
        return false;
    }
    ++in_flight_;
    if (in_flight_ == limit_) saturated_ = true;
    return true;
}

std::optional<std::chrono::nanoseconds> aimd_limiter::ttft_baseline() const noexcept {
    if (!baseline_ns_) return std::nullopt;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(*baseline_ns_));
}

void aimd_limiter::cut(double ratio, steady_time started, steady_time now) {
    successes_ = 0;
    saturated_ = false;
    // Calls sent before the last cut saw the old limit: their refusals are the same signal.
    if (last_cut_ && started < *last_cut_) return;
    auto const reduced = static_cast<std::size_t>(std::floor(static_cast<double>(limit_) * ratio));
    auto const next = std::clamp(std::min(reduced, limit_ > 1 ? limit_ - 1 : limit_),
                                 cfg_.min_limit, cfg_.max_limit);
    if (next < limit_) ++cuts_;
    limit_ = next;
    last_cut_ = now;
}

void aimd_limiter::release(call_outcome outcome, steady_time started,
                           std::optional<std::chrono::nanoseconds> ttft, steady_time now) {
    if (in_flight_ > 0) --in_flight_;
    switch (outcome) {
    case call_outcome::neutral: return;
    case call_outcome::overload: cut(cfg_.backoff_ratio, started, now); return;
    case call_outcome::error:
        successes_ = 0;
        return;
    case call_outcome::success: break;
    }
    if (ttft) {
        double const sample = static_cast<double>(ttft->count());
        if (!baseline_ns_ || sample < *baseline_ns_) {
            baseline_ns_ = sample;
        } else {
            double const high = cfg_.ttft_tolerance * *baseline_ns_;
            bool const slow = sample > high;
            *baseline_ns_ += (std::min(sample, high) - *baseline_ns_) * baseline_drift;
            if (slow) {
                cut(cfg_.latency_backoff_ratio, started, now);
                return;
            }
        }
    }
    if (++successes_ < limit_) return;
    if (saturated_ && limit_ < cfg_.max_limit) ++limit_;
    successes_ = 0;
    saturated_ = false;
}

}  // namespace llmux::detail
