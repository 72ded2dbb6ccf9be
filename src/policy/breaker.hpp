// SPDX-License-Identifier: BSL-1.0
// The circuit breaker of one model as a pure class: closed, open for a cool-down after too
// many failures, then half-open with exactly one probe. Time is passed in; the caller (the
// model's book) holds the lock.
#pragma once

#include "policy/retry.hpp"

#include <llmux/config.hpp>
#include <llmux/telemetry.hpp>

#include <vector>

namespace llmux::detail {

/** The breaker's rules (`breaker_config`):
    - closed: everything is admitted; `failure_threshold` failures that count against the
      model's health within `window` open it;
    - open: nothing is admitted until `cooldown` has passed since it opened;
    - then half-open: `admit` lets exactly one caller through (the probe) and refuses the rest
      until the probe's outcome is known; a success closes the circuit, a failure that counts
      opens it for a full cool-down again, any other outcome (the caller's mistake, a call
      that was never sent) frees the probe's place for the next caller;
    - any success closes the circuit and forgets the failures.
    Disabled (`enabled = false`), it admits everything and stays closed.
*/
class breaker_fsm {
public:
    /// True when a fallback or router may try the model at `now`; in half-open state this
    /// takes the one probe's place.
    bool admit(breaker_config const& cfg, steady_time now);
    /// A call succeeded.
    void succeeded();
    /// A call failed; `counts` when the failure says something about the model's health.
    void failed(bool counts, breaker_config const& cfg, steady_time now);
    /// A call ended without reaching the model (refused before sending): a probe's place is
    /// freed, nothing is counted.
    void abandoned();
    /// The state seen at `now` (an open circuit whose cool-down is over reads half-open).
    circuit_state state(breaker_config const& cfg, steady_time now) const;
    /// Failures counted in the window so far (closed state).
    std::size_t recent_failures() const noexcept { return recent_.size(); }

    /** Takes on a decision another replica made (shared through a state store; the caller
        decides that it is newer than this breaker's own): `open` until `until` (kept open
        longer if this breaker already is), or closed. A probe in flight keeps its place and
        decides by its own outcome.
    */
    void adopt(bool open, steady_time until);
    /// Counts the breaker's own changes between closed and open (a version to share).
    std::uint64_t changes() const noexcept { return changes_; }
    /// While open: when its cool-down ends.
    steady_time open_until() const noexcept { return open_until_; }

private:
    enum class st { closed, open, half_open };
    st state_ = st::closed;
    steady_time open_until_{};
    bool probe_out_ = false;
    std::vector<steady_time> recent_;  // counted failures within the window
    std::uint64_t changes_ = 0;
};

}  // namespace llmux::detail
