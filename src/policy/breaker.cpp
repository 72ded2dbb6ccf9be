// SPDX-License-Identifier: BSL-1.0
#include "policy/breaker.hpp"

#include <algorithm>

namespace llmux::detail {

bool breaker_fsm::admit(breaker_config const& cfg, steady_time now) {
    if (!cfg.enabled) return true;
    switch (state_) {
    case st::closed: return true;
    case st::open:
        if (now < open_until_) return false;
        state_ = st::half_open;
        probe_out_ = true;
        return true;
    case st::half_open:
        if (probe_out_) return false;
        probe_out_ = true;
        return true;
    }
    return true;
}

void breaker_fsm::succeeded() {
    // Whether it was the probe or a plain call, the model answers: close.
    if (state_ != st::closed) ++changes_;
    state_ = st::closed;
    probe_out_ = false;
    recent_.clear();
}

void breaker_fsm::failed(bool counts, breaker_config const& cfg, steady_time now) {
    if (!cfg.enabled) return;
    if (!counts) {
        if (state_ == st::half_open) probe_out_ = false;
        return;
    }
    switch (state_) {
    case st::half_open:
        // The probe (or a call made meanwhile) failed: a full cool-down again.
        ++changes_;
        state_ = st::open;
        open_until_ = now + cfg.cooldown;
        probe_out_ = false;
        return;
    case st::open: return;
    case st::closed: break;
    }
    recent_.push_back(now);
    std::erase_if(recent_, [&](steady_time t) { return now - t > cfg.window; });
    if (recent_.size() >= std::max(1u, cfg.failure_threshold)) {
        ++changes_;
        state_ = st::open;
        open_until_ = now + cfg.cooldown;
        recent_.clear();
    }
}

void breaker_fsm::adopt(bool open, steady_time until) {
    if (state_ == st::half_open && probe_out_) return;
    if (open) {
        if (state_ == st::open && open_until_ >= until) return;
        state_ = st::open;
        open_until_ = until;
    } else {
        state_ = st::closed;
    }
    probe_out_ = false;
    recent_.clear();
}

void breaker_fsm::abandoned() {
    if (state_ == st::half_open) probe_out_ = false;
}

circuit_state breaker_fsm::state(breaker_config const& cfg, steady_time now) const {
    if (!cfg.enabled) return circuit_state::closed;
    switch (state_) {
    case st::closed: return circuit_state::closed;
    case st::open: return now < open_until_ ? circuit_state::open : circuit_state::half_open;
    case st::half_open: return circuit_state::half_open;
    }
    return circuit_state::closed;
}

}  // namespace llmux::detail
