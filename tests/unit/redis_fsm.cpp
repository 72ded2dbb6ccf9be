// SPDX-License-Identifier: BSL-1.0
// The Redis connection's state machine without a socket or a clock: every transition, the
// backoff (growth, cap, jitter bounds, reset after a good handshake), which states queue
// requests, and stop from every state.
#include "state/redis_fsm.hpp"

#include <llmux/state.hpp>

#include <boost/test/unit_test.hpp>

#include <set>

using namespace llmux;
using namespace llmux::detail;
using namespace std::chrono_literals;
using kind = redis_conn_action::kind;

namespace {

failure refused() {
    return failure(make_error_code(state_error::unavailable), "connecting failed: refused");
}

/// Drives a machine from start to `ready`.
void to_ready(redis_conn_fsm& m) {
    BOOST_TEST((m.start().what == kind::connect));
    BOOST_TEST((m.on_connected(std::nullopt).what == kind::handshake));
    BOOST_TEST((m.on_handshake(std::nullopt).what == kind::serve));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_fsm)

BOOST_AUTO_TEST_CASE(connects_handshakes_then_serves) {
    redis_conn_fsm m(100ms, 5s, 1);
    BOOST_TEST((m.state() == redis_conn_state::idle));
    BOOST_TEST(m.accepts_requests());  // requests made before the first connect wait for it
    BOOST_TEST((m.start() == redis_conn_action{kind::connect}));
    BOOST_TEST((m.state() == redis_conn_state::connecting));
    BOOST_TEST(m.accepts_requests());
    BOOST_TEST((m.on_connected(std::nullopt) == redis_conn_action{kind::handshake}));
    BOOST_TEST((m.state() == redis_conn_state::handshaking));
    BOOST_TEST(m.accepts_requests());
    BOOST_TEST((m.on_handshake(std::nullopt) == redis_conn_action{kind::serve}));
    BOOST_TEST((m.state() == redis_conn_state::ready));
    BOOST_TEST(m.accepts_requests());
    BOOST_TEST(!m.last_failure().has_value());
}

BOOST_AUTO_TEST_CASE(a_failed_connect_backs_off_and_fails_requests_fast) {
    redis_conn_fsm m(100ms, 5s, 7);
    m.start();
    auto a = m.on_connected(refused());
    BOOST_TEST((a.what == kind::back_off));
    BOOST_TEST(a.delay >= 50ms);
    BOOST_TEST(a.delay <= 100ms);
    BOOST_TEST((m.state() == redis_conn_state::backing_off));
    BOOST_TEST(!m.accepts_requests());
    BOOST_TEST_REQUIRE(m.last_failure().has_value());
    BOOST_TEST(m.last_failure()->diag.message == "connecting failed: refused");
    BOOST_TEST(m.failures_in_a_row() == 1u);
    BOOST_TEST((m.on_backoff_done() == redis_conn_action{kind::connect}));
    BOOST_TEST(m.accepts_requests());
}

BOOST_AUTO_TEST_CASE(backoff_doubles_up_to_its_cap_with_jitter) {
    // Upper bounds 100, 200, 400, 800, 1600, 3200, 5000, 5000, ...; each wait in [d/2, d].
    for (std::uint64_t seed : {1u, 2u, 3u, 42u, 1000u}) {
        redis_conn_fsm m(100ms, 5s, seed);
        m.start();
        std::chrono::milliseconds d = 100ms;
        for (int i = 0; i < 12; ++i) {
            auto a = m.on_connected(refused());
            BOOST_TEST_REQUIRE((a.what == kind::back_off));
            BOOST_TEST(a.delay >= d / 2, "failure " << i + 1 << ": " << a.delay.count());
            BOOST_TEST(a.delay <= d, "failure " << i + 1 << ": " << a.delay.count());
            d = std::min<std::chrono::milliseconds>(d * 2, 5s);
            m.on_backoff_done();
        }
        BOOST_TEST(m.failures_in_a_row() == 12u);
    }
}

BOOST_AUTO_TEST_CASE(jitter_spreads_the_waits) {
    // Many replicas reconnecting to a restarted Redis should not all come back at once.
    std::set<std::int64_t> seen;
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
        redis_conn_fsm m(1000ms, 5s, seed);
        m.start();
        seen.insert(m.on_connected(refused()).delay.count());
    }
    BOOST_TEST(seen.size() > 10u);
}

BOOST_AUTO_TEST_CASE(a_good_handshake_resets_the_backoff) {
    redis_conn_fsm m(100ms, 5s, 3);
    m.start();
    for (int i = 0; i < 5; ++i) {
        m.on_connected(refused());
        m.on_backoff_done();
    }
    BOOST_TEST((m.on_connected(std::nullopt).what == kind::handshake));
    BOOST_TEST((m.on_handshake(std::nullopt).what == kind::serve));
    BOOST_TEST(m.failures_in_a_row() == 0u);
    // The served connection breaks: the first wait is short again.
    auto a = m.on_lost(failure(make_error_code(state_error::unavailable), "reset by peer"));
    BOOST_TEST((a.what == kind::back_off));
    BOOST_TEST(a.delay <= 100ms);
    BOOST_TEST(m.last_failure()->diag.message == "reset by peer");
}

BOOST_AUTO_TEST_CASE(a_refused_handshake_backs_off) {
    redis_conn_fsm m(100ms, 5s, 3);
    m.start();
    m.on_connected(std::nullopt);
    auto a = m.on_handshake(
        failure(make_error_code(state_error::unavailable), "it refused AUTH: WRONGPASS"));
    BOOST_TEST((a.what == kind::back_off));
    BOOST_TEST(!m.accepts_requests());
    BOOST_TEST(m.failures_in_a_row() == 1u);
}

BOOST_AUTO_TEST_CASE(stop_ends_every_state) {
    for (int at = 0; at < 5; ++at) {
        redis_conn_fsm m(100ms, 5s, 3);
        if (at >= 1) m.start();
        if (at >= 2) m.on_connected(std::nullopt);
        if (at >= 3) m.on_handshake(std::nullopt);
        if (at >= 4) m.on_lost(refused());
        BOOST_TEST((m.stop() == redis_conn_action{kind::stop}));
        BOOST_TEST((m.state() == redis_conn_state::stopped));
        BOOST_TEST(!m.accepts_requests());
        // Whatever arrives afterwards (a late completion) keeps it stopped.
        BOOST_TEST((m.on_connected(std::nullopt).what == kind::stop));
        BOOST_TEST((m.on_backoff_done().what == kind::stop));
        BOOST_TEST((m.state() == redis_conn_state::stopped));
    }
}

BOOST_AUTO_TEST_CASE(events_out_of_order_stop_the_machine) {
    redis_conn_fsm m(100ms, 5s, 3);
    m.start();
    // A handshake result while connecting is a driver bug: stop rather than guess.
    BOOST_TEST((m.on_handshake(std::nullopt).what == kind::stop));
    BOOST_TEST((m.state() == redis_conn_state::stopped));
}

BOOST_AUTO_TEST_CASE(states_have_names) {
    BOOST_TEST(std::string(to_string(redis_conn_state::backing_off)) == "backing_off");
    redis_conn_fsm m(100ms, 5s, 3);
    to_ready(m);
    BOOST_TEST(std::string(to_string(m.state())) == "ready");
}

BOOST_AUTO_TEST_SUITE_END()
