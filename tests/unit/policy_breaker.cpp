// SPDX-License-Identifier: BSL-1.0
// The circuit breaker (src/policy/breaker.hpp) on a virtual clock: closed, open for the
// cool-down, half-open with exactly one probe.
#include "policy/breaker.hpp"

#include <boost/test/unit_test.hpp>

using namespace llmux;
using namespace llmux::detail;
using namespace std::chrono_literals;

namespace {

steady_time at(std::chrono::milliseconds ms) { return steady_time{} + ms; }

breaker_config config() {
    return {.enabled = true, .failure_threshold = 3, .window = 10s, .cooldown = 5s};
}

bool open(breaker_fsm const& b, steady_time t) {
    return b.state(config(), t) == circuit_state::open;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(policy_breaker)

BOOST_AUTO_TEST_CASE(opens_after_the_threshold_within_the_window) {
    auto const cfg = config();
    breaker_fsm b;
    b.failed(true, cfg, at(0ms));
    b.failed(true, cfg, at(1000ms));
    BOOST_TEST((b.state(cfg, at(1000ms)) == circuit_state::closed));
    BOOST_TEST(b.admit(cfg, at(1000ms)));
    b.failed(true, cfg, at(2000ms));
    BOOST_TEST(open(b, at(2000ms)));
    BOOST_TEST(!b.admit(cfg, at(2000ms)));
}

BOOST_AUTO_TEST_CASE(failures_older_than_the_window_do_not_count) {
    auto const cfg = config();
    breaker_fsm b;
    b.failed(true, cfg, at(0ms));
    b.failed(true, cfg, at(1ms));
    // At exactly the window (10 s) a failure still counts; one moment later it does not: at
    // 10001 ms the failure at 0 ms has left the window, the one at 1 ms has not.
    b.failed(true, cfg, at(10001ms));
    BOOST_TEST((b.state(cfg, at(10001ms)) == circuit_state::closed));
    BOOST_TEST(b.recent_failures() == 2u);
    breaker_fsm c;
    c.failed(true, cfg, at(0ms));
    c.failed(true, cfg, at(1ms));
    c.failed(true, cfg, at(10000ms));
    BOOST_TEST(open(c, at(10000ms)));
}

BOOST_AUTO_TEST_CASE(failures_that_say_nothing_about_health_never_open_it) {
    auto const cfg = config();
    breaker_fsm b;
    for (int i = 0; i < 10; ++i) b.failed(false, cfg, at(std::chrono::milliseconds(i)));
    BOOST_TEST((b.state(cfg, at(10ms)) == circuit_state::closed));
}

BOOST_AUTO_TEST_CASE(a_success_forgets_the_failures) {
    auto const cfg = config();
    breaker_fsm b;
    b.failed(true, cfg, at(0ms));
    b.failed(true, cfg, at(1ms));
    b.succeeded();
    b.failed(true, cfg, at(2ms));
    BOOST_TEST((b.state(cfg, at(2ms)) == circuit_state::closed));
}

BOOST_AUTO_TEST_CASE(the_cool_down_then_exactly_one_probe) {
    auto const cfg = config();
    breaker_fsm b;
    for (int i = 0; i < 3; ++i) b.failed(true, cfg, at(0ms));
    BOOST_TEST(!b.admit(cfg, at(4999ms)));
    // Read-only: the cool-down is over, the circuit reads half-open before anyone asks.
    BOOST_TEST((b.state(cfg, at(5000ms)) == circuit_state::half_open));
    BOOST_TEST(b.admit(cfg, at(5000ms)));    // the probe
    BOOST_TEST(!b.admit(cfg, at(5000ms)));   // nobody else while it runs
    BOOST_TEST(!b.admit(cfg, at(60000ms)));  // however long it runs
    b.succeeded();
    BOOST_TEST((b.state(cfg, at(60000ms)) == circuit_state::closed));
    BOOST_TEST(b.admit(cfg, at(60000ms)));
    BOOST_TEST(b.admit(cfg, at(60000ms)));
}

BOOST_AUTO_TEST_CASE(a_failed_probe_opens_it_for_a_full_cool_down) {
    auto const cfg = config();
    breaker_fsm b;
    for (int i = 0; i < 3; ++i) b.failed(true, cfg, at(0ms));
    BOOST_TEST(b.admit(cfg, at(5000ms)));
    b.failed(true, cfg, at(7000ms));
    BOOST_TEST(open(b, at(7000ms)));
    BOOST_TEST(!b.admit(cfg, at(11999ms)));
    BOOST_TEST(b.admit(cfg, at(12000ms)));
}

BOOST_AUTO_TEST_CASE(a_probe_that_learnt_nothing_frees_its_place) {
    auto const cfg = config();
    breaker_fsm b;
    for (int i = 0; i < 3; ++i) b.failed(true, cfg, at(0ms));
    BOOST_TEST(b.admit(cfg, at(5000ms)));
    b.failed(false, cfg, at(5100ms));  // e.g. the caller's bad request
    BOOST_TEST((b.state(cfg, at(5100ms)) == circuit_state::half_open));
    BOOST_TEST(b.admit(cfg, at(5100ms)));
    b.abandoned();  // e.g. refused by the budget before it was sent
    BOOST_TEST(b.admit(cfg, at(5200ms)));
    BOOST_TEST(!b.admit(cfg, at(5200ms)));
}

BOOST_AUTO_TEST_CASE(disabled_admits_everything) {
    auto cfg = config();
    cfg.enabled = false;
    breaker_fsm b;
    for (int i = 0; i < 10; ++i) b.failed(true, cfg, at(0ms));
    BOOST_TEST(b.admit(cfg, at(0ms)));
    BOOST_TEST((b.state(cfg, at(0ms)) == circuit_state::closed));
}

BOOST_AUTO_TEST_SUITE_END()
