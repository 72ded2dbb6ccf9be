// SPDX-License-Identifier: BSL-1.0
// The life of a Redis connection as a state machine (STYLE.md 5b, after Boost.Redis's
// `*_fsm`): events in (connected, handshake done, connection lost, backoff over, stop),
// actions out (connect, handshake, serve, back off for d, stop). No sockets, no clock: the
// coroutine in redis_connection.cpp performs the actions, and tests drive this class alone.
//
//   idle --start--> connecting --ok--> handshaking --ok--> ready --lost--> backing_off
//                      ^   |                 |                                 |
//                      |   +----failed-------+------------> backing_off <------+
//                      +----------------- backoff over -------------+
//   any --stop--> stopped
#pragma once

#include <llmux/error.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace llmux::detail {

enum class redis_conn_state { idle, connecting, handshaking, ready, backing_off, stopped };

char const* to_string(redis_conn_state s) noexcept;

struct redis_conn_action {
    enum class kind {
        /// Resolve and connect (with the connect deadline).
        connect,
        /// Send AUTH / SELECT / PING and check the replies.
        handshake,
        /// Pipeline requests until the connection fails.
        serve,
        /// Close the socket, fail every pending request with `last_failure()`, wait `delay`.
        back_off,
        /// Close the socket, fail every pending request as closed, end.
        stop,
    };
    kind what = kind::stop;
    std::chrono::milliseconds delay{0};

    friend bool operator==(redis_conn_action const&, redis_conn_action const&) = default;
};

class redis_conn_fsm {
public:
    /** @param initial, max backoff bounds: the n-th failure in a row waits a time drawn from
        [d/2, d] with d = min(initial * 2^(n-1), max).
        @param seed for the jitter (tests pass a fixed one).
    */
    redis_conn_fsm(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                   std::uint64_t seed);

    redis_conn_action start();
    /// The socket connected (`error` empty) or could not.
    redis_conn_action on_connected(std::optional<failure> error);
    /// The server accepted the handshake (`error` empty) or rejected it.
    redis_conn_action on_handshake(std::optional<failure> error);
    /// A served connection failed (read, write, a request past its deadline).
    redis_conn_action on_lost(failure why);
    redis_conn_action on_backoff_done();
    /// From any state.
    redis_conn_action stop();

    redis_conn_state state() const noexcept { return state_; }
    /// Whether new requests queue (connecting, handshaking, ready) or fail at once (backing
    /// off: the server was just found unavailable; stopped).
    bool accepts_requests() const noexcept;
    /// Why the last attempt or connection failed; empty before any failure.
    std::optional<failure> const& last_failure() const noexcept { return last_failure_; }
    /// Failures since the last successful handshake.
    unsigned failures_in_a_row() const noexcept { return failures_; }

private:
    redis_conn_action fail(failure why);

    std::chrono::milliseconds initial_, max_;
    std::mt19937_64 rng_;
    redis_conn_state state_ = redis_conn_state::idle;
    unsigned failures_ = 0;
    std::optional<failure> last_failure_;
};

}  // namespace llmux::detail
