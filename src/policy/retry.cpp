// SPDX-License-Identifier: BSL-1.0
#include "policy/retry.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>

namespace llmux::detail {

uniform_source seeded_uniform(std::uint64_t seed) {
    // The generator is made at the first draw: most calls never retry, and seeding a
    // mt19937_64 (and reading std::random_device) was 3,200 instructions of every call through
    // a model group. Copies of the source share the one generator, made once.
    struct state {
        std::uint64_t seed;
        std::unique_ptr<std::mt19937_64> rng;  // 2.5 kB: allocated at the first draw too
    };
    auto st = std::make_shared<state>(state{seed, nullptr});
    return [st] {
        if (!st->rng) {
            auto seed = st->seed;
            if (seed == 0) {
                // Drawn in the middle of a call: std::random_device may throw (no entropy
                // source, no file descriptor left), and jitter does not need it.
                try {
                    seed = std::random_device{}();
                } catch (...) {
                    seed = static_cast<std::uint64_t>(
                        std::chrono::steady_clock::now().time_since_epoch().count());
                }
            }
            st->rng = std::make_unique<std::mt19937_64>(seed);
        }
        return std::uniform_real_distribution<double>(0.0, 1.0)(*st->rng);
    };
}

retry_fsm::retry_fsm(retry_rules const& rules, uniform_source& jitter) noexcept
    : rules_(&rules), jitter_(&jitter),
      backoff_(std::min(rules.initial_backoff, rules.max_backoff)) {}

retry_decision retry_fsm::failed(failure const& f, steady_time now, steady_time deadline) {
    retry_decision d;
    if (!rules_->should_retry || !rules_->should_retry(f)) return d;
    if (attempts_ >= std::max(1u, rules_->max_attempts)) {
        d.verdict = retry_verdict::exhausted;
        return d;
    }
    // "Full jitter" between half and all of the backoff keeps many clients from retrying in
    // lockstep.
    double const u = std::clamp((*jitter_)(), 0.0, 1.0);
    auto wait = std::chrono::duration_cast<duration>(backoff_ * (0.5 + 0.5 * u));
    if (f.diag.retry_after)
        wait = std::max<duration>(wait, std::min<duration>(*f.diag.retry_after,
                                                           rules_->max_retry_after));
    backoff_ = std::min<duration>(
        std::chrono::duration_cast<duration>(backoff_ * rules_->multiplier), rules_->max_backoff);
    d.wait = wait;
    if (deadline != steady_time::max() && (wait >= deadline - now || now >= deadline)) {
        d.verdict = retry_verdict::no_time;
        return d;
    }
    d.verdict = retry_verdict::retry;
    d.at = now + wait;
    return d;
}

}  // namespace llmux::detail
