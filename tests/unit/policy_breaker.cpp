// SPDX-License-Identifier: BSL-1.0
// The circuit breaker (src/policy/breaker.hpp) on a virtual clock: closed, open for the
// cool-down, half-open with exactly one probe; decisions shared between replicas (adopt, and
// model_book's health/merge with newest-wins).
#include "policy/breaker.hpp"
#include "resilience.hpp"

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

BOOST_AUTO_TEST_CASE(changes_count_transitions_between_closed_and_open) {
    auto const cfg = config();
    breaker_fsm b;
    BOOST_TEST(b.changes() == 0u);
    b.failed(true, cfg, at(0ms));
    b.failed(true, cfg, at(0ms));
    BOOST_TEST(b.changes() == 0u);  // counting, still closed
    b.failed(true, cfg, at(0ms));
    BOOST_TEST(b.changes() == 1u);  // opened
    BOOST_TEST((b.open_until() == at(5000ms)));
    BOOST_TEST(b.admit(cfg, at(5000ms)));  // half-open is not a change to share
    BOOST_TEST(b.changes() == 1u);
    b.failed(true, cfg, at(5000ms));
    BOOST_TEST(b.changes() == 2u);  // the probe failed: open again
    b.succeeded();
    BOOST_TEST(b.changes() == 3u);  // closed
    b.succeeded();
    BOOST_TEST(b.changes() == 3u);
}

BOOST_AUTO_TEST_CASE(adopts_a_shared_decision) {
    auto const cfg = config();
    breaker_fsm b;
    b.failed(true, cfg, at(0ms));
    b.adopt(true, at(8000ms));
    BOOST_TEST(open(b, at(7999ms)));
    BOOST_TEST(!b.admit(cfg, at(7999ms)));
    BOOST_TEST(b.recent_failures() == 0u);
    // An earlier end does not shorten a longer cool-down.
    b.adopt(true, at(6000ms));
    BOOST_TEST(open(b, at(7000ms)));
    // Closed by another replica's success.
    b.adopt(false, {});
    BOOST_TEST((b.state(cfg, at(7000ms)) == circuit_state::closed));
    BOOST_TEST(b.admit(cfg, at(7000ms)));
    BOOST_TEST(b.changes() == 0u);  // adopted, not decided here

    // A probe in flight keeps its place and decides by its own outcome.
    breaker_fsm p;
    for (int i = 0; i < 3; ++i) p.failed(true, cfg, at(0ms));
    BOOST_TEST(p.admit(cfg, at(5000ms)));  // the probe
    p.adopt(false, {});
    BOOST_TEST((p.state(cfg, at(5000ms)) == circuit_state::half_open));
    BOOST_TEST(!p.admit(cfg, at(5000ms)));
}

BOOST_AUTO_TEST_CASE(model_books_share_newest_wins) {
    auto const cfg = config();
    auto const t0 = steady_time{} + 1h;
    auto const sys0 = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 50);
    detail::model_book a("openai/a"), b("openai/a");
    BOOST_TEST(!a.health(cfg, t0, sys0).breaker.has_value());  // nothing decided yet

    // Replica a sees the model fail and opens its circuit.
    failure const down(error::server_error, "503");
    for (int i = 0; i < 3; ++i) a.finished(down, {}, {}, {}, std::nullopt, cfg, t0);
    auto const ha = a.health(cfg, t0, sys0);
    BOOST_TEST_REQUIRE(ha.breaker.has_value());
    BOOST_TEST((ha.breaker->state == circuit_state::open));
    // Its end, in system time: the cool-down from now.
    BOOST_TEST((ha.breaker->open_until == sys0 + std::chrono::seconds(5)));

    // Replica b takes it on: skips the model until the cool-down ends (its own clock).
    b.merge(ha, t0 + 1s, sys0 + 1s);
    BOOST_TEST((b.circuit(cfg, t0 + 1s) == circuit_state::open));
    BOOST_TEST(!b.admit(cfg, t0 + 4999ms));
    BOOST_TEST(b.admit(cfg, t0 + 5s));  // the probe: 5 s after a opened it
    // Merging the same decision again changes nothing.
    b.merge(ha, t0 + 5s, sys0 + 5s);
    BOOST_TEST((b.circuit(cfg, t0 + 5s) == circuit_state::half_open));
    // b's probe succeeds: b closes, and that newer decision wins over a's older one.
    b.finished(std::nullopt, 10ms, 20ms, {}, std::nullopt, cfg, t0 + 5s);
    auto const hb = b.health(cfg, t0 + 5s, sys0 + 5s);
    BOOST_TEST_REQUIRE(hb.breaker.has_value());
    BOOST_TEST((hb.breaker->state == circuit_state::closed));
    BOOST_TEST((hb.breaker->updated_at > ha.breaker->updated_at));
    a.merge(hb, t0 + 5s, sys0 + 5s);
    BOOST_TEST((a.circuit(cfg, t0 + 5s) == circuit_state::closed));
    b.merge(ha, t0 + 5s, sys0 + 5s);  // older: ignored
    BOOST_TEST((b.circuit(cfg, t0 + 5s) == circuit_state::closed));

    // Latency: the shared averages replace the local ones, with every replica's samples.
    BOOST_TEST(hb.latency.samples == 1u);
    BOOST_TEST((hb.latency.ttft == std::chrono::microseconds(10000)));
    model_health shared;
    shared.latency.ttft = std::chrono::microseconds(30000);
    shared.latency.latency = std::chrono::microseconds(50000);
    shared.latency.samples = 7;
    a.merge(shared, t0 + 5s, sys0 + 5s);
    auto const e = a.estimate(cfg, t0 + 5s);
    BOOST_TEST(e.samples == 7u);
    BOOST_TEST((e.ewma_ttft == std::chrono::milliseconds(30)));
    BOOST_TEST((e.ewma_latency == std::chrono::milliseconds(50)));
}

BOOST_AUTO_TEST_SUITE_END()
