// SPDX-License-Identifier: BSL-1.0
#include "state/redis_fsm.hpp"

#include <algorithm>

namespace llmux::detail {

using action = redis_conn_action;
using kind = redis_conn_action::kind;
using st = redis_conn_state;

char const* to_string(redis_conn_state s) noexcept {
    switch (s) {
    case st::idle:
        return "idle";
    case st::connecting:
        return "connecting";
    case st::handshaking:
        return "handshaking";
    case st::ready:
        return "ready";
    case st::backing_off:
        return "backing_off";
    case st::stopped:
        return "stopped";
    }
    return "unknown";
}

redis_conn_fsm::redis_conn_fsm(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                               std::uint64_t seed)
    : initial_(std::max(initial, std::chrono::milliseconds(1))), max_(std::max(max, initial_)),
      rng_(seed) {}

action redis_conn_fsm::start() {
    if (state_ != st::idle) return stop();
    state_ = st::connecting;
    return {kind::connect};
}

action redis_conn_fsm::on_connected(std::optional<failure> error) {
    if (state_ != st::connecting) return stop();
    if (error) return fail(std::move(*error));
    state_ = st::handshaking;
    return {kind::handshake};
}

action redis_conn_fsm::on_handshake(std::optional<failure> error) {
    if (state_ != st::handshaking) return stop();
    if (error) return fail(std::move(*error));
    state_ = st::ready;
    failures_ = 0;  // a good connection: the next failure backs off from the start
    return {kind::serve};
}

action redis_conn_fsm::on_lost(failure why) {
    if (state_ != st::ready) return stop();
    return fail(std::move(why));
}

action redis_conn_fsm::on_backoff_done() {
    if (state_ != st::backing_off) return stop();
    state_ = st::connecting;
    return {kind::connect};
}

action redis_conn_fsm::stop() {
    state_ = st::stopped;
    return {kind::stop};
}

bool redis_conn_fsm::accepts_requests() const noexcept {
    return state_ == st::idle || state_ == st::connecting || state_ == st::handshaking ||
           state_ == st::ready;
}

action redis_conn_fsm::fail(failure why) {
    last_failure_ = std::move(why);
    state_ = st::backing_off;
    ++failures_;
    // d = initial * 2^(failures-1), capped; the shift is bounded so it cannot overflow.
    auto d = initial_;
    for (unsigned i = 1; i < failures_ && d < max_; ++i)
        d *= 2;
    d = std::min(d, max_);
    auto const half = d / 2;
    auto const span = static_cast<std::uint64_t>((d - half).count()) + 1;
    auto const wait = half + std::chrono::milliseconds(static_cast<std::int64_t>(rng_() % span));
    return {kind::back_off, wait};
}

}  // namespace llmux::detail
