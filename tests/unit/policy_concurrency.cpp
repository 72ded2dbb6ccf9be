// SPDX-License-Identifier: BSL-1.0
// Adaptive concurrency (src/policy/concurrency.hpp): additive increase while answers hold,
// multiplicative decrease on 429/529 and on a rising time to first token, on a virtual clock.
#include "policy/concurrency.hpp"

#include <boost/test/unit_test.hpp>

#include <vector>

using namespace llmux;
using namespace llmux::detail;
using namespace std::chrono_literals;

namespace {

steady_time at(std::chrono::milliseconds ms) { return steady_time{} + ms; }

concurrency_config config(std::size_t initial = 4) {
    concurrency_config c;
    c.enabled = true;
    c.initial_limit = initial;
    c.min_limit = 1;
    c.max_limit = 16;
    c.backoff_ratio = 0.5;
    c.ttft_tolerance = 2.0;
    c.latency_backoff_ratio = 0.9;
    return c;
}

/// Takes every free slot; returns how many.
std::size_t fill(aimd_limiter& l) {
    std::size_t n = 0;
    while (l.try_acquire()) ++n;
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(policy_concurrency)

BOOST_AUTO_TEST_CASE(slots_up_to_the_limit) {
    aimd_limiter l(config(4));
    BOOST_TEST(fill(l) == 4u);
    BOOST_TEST(l.in_flight() == 4u);
    BOOST_TEST(!l.try_acquire());
    l.release(call_outcome::neutral, at(0ms), std::nullopt, at(1ms));
    BOOST_TEST(l.try_acquire());
    // The initial limit is kept within the bounds.
    auto c = config(100);
    BOOST_TEST(aimd_limiter(c).limit() == 16u);
    c.initial_limit = 0;
    BOOST_TEST(aimd_limiter(c).limit() == 1u);
}

BOOST_AUTO_TEST_CASE(grows_by_one_after_a_window_of_successes_at_the_limit) {
    aimd_limiter l(config(4));
    BOOST_TEST(fill(l) == 4u);  // the demand reaches the limit
    for (int i = 0; i < 3; ++i) {
        l.release(call_outcome::success, at(0ms), std::nullopt, at(10ms));
        BOOST_TEST(l.limit() == 4u);
    }
    l.release(call_outcome::success, at(0ms), std::nullopt, at(10ms));
    BOOST_TEST(l.limit() == 5u);  // 4 successes: +1
    BOOST_TEST(fill(l) == 5u);
    for (int i = 0; i < 5; ++i) l.release(call_outcome::success, at(10ms), std::nullopt, at(20ms));
    BOOST_TEST(l.limit() == 6u);
}

BOOST_AUTO_TEST_CASE(an_unused_limit_does_not_grow) {
    aimd_limiter l(config(4));
    for (int i = 0; i < 40; ++i) {
        BOOST_TEST(l.try_acquire());  // one at a time: never at the limit
        l.release(call_outcome::success, at(0ms), std::nullopt, at(1ms));
    }
    BOOST_TEST(l.limit() == 4u);
}

BOOST_AUTO_TEST_CASE(an_overload_halves_it_once_per_burst) {
    aimd_limiter l(config(8));
    BOOST_TEST(fill(l) == 8u);
    // Eight calls sent together, four refused: one cut, not four.
    for (int i = 0; i < 4; ++i) l.release(call_outcome::overload, at(0ms), std::nullopt, at(50ms));
    BOOST_TEST(l.limit() == 4u);
    BOOST_TEST(l.cuts() == 1u);
    // A call sent after the cut that is refused again cuts again.
    l.release(call_outcome::overload, at(60ms), std::nullopt, at(70ms));
    BOOST_TEST(l.limit() == 2u);
    l.release(call_outcome::overload, at(80ms), std::nullopt, at(90ms));
    l.release(call_outcome::overload, at(100ms), std::nullopt, at(110ms));
    BOOST_TEST(l.limit() == 1u);  // the floor
    BOOST_TEST(l.cuts() == 3u);   // the last refusal found it at the floor: nothing to cut
}

BOOST_AUTO_TEST_CASE(errors_and_overloads_reset_the_run_of_successes) {
    aimd_limiter l(config(4));
    fill(l);
    for (int i = 0; i < 3; ++i) l.release(call_outcome::success, at(0ms), std::nullopt, at(1ms));
    l.release(call_outcome::error, at(0ms), std::nullopt, at(1ms));
    fill(l);
    for (int i = 0; i < 3; ++i) l.release(call_outcome::success, at(0ms), std::nullopt, at(2ms));
    BOOST_TEST(l.limit() == 4u);  // the error broke the run
    l.release(call_outcome::success, at(0ms), std::nullopt, at(3ms));
    BOOST_TEST(l.limit() == 5u);
}

BOOST_AUTO_TEST_CASE(a_rising_time_to_first_token_cuts_it_gently) {
    aimd_limiter l(config(10));
    fill(l);
    l.release(call_outcome::success, at(0ms), 100ms, at(200ms));
    BOOST_TEST_REQUIRE(l.ttft_baseline().has_value());
    BOOST_TEST(l.ttft_baseline()->count() == std::chrono::nanoseconds(100ms).count());
    // Within the tolerance (2 x 100 ms): no cut; the baseline drifts up by 5 % of the excess.
    l.release(call_outcome::success, at(0ms), 200ms, at(300ms));
    BOOST_TEST(l.limit() == 10u);
    BOOST_TEST(l.ttft_baseline()->count() == std::chrono::nanoseconds(105ms).count());
    // Above it: x 0.9.
    l.release(call_outcome::success, at(10ms), 500ms, at(600ms));
    BOOST_TEST(l.limit() == 9u);
    // A lower sample is the new baseline at once.
    l.release(call_outcome::success, at(700ms), 50ms, at(800ms));
    BOOST_TEST(l.ttft_baseline()->count() == std::chrono::nanoseconds(50ms).count());
}

BOOST_AUTO_TEST_CASE(a_cut_lowers_it_by_at_least_one) {
    auto c = config(3);
    c.latency_backoff_ratio = 0.99;
    aimd_limiter l(c);
    fill(l);
    l.release(call_outcome::success, at(0ms), 100ms, at(100ms));
    l.release(call_outcome::success, at(10ms), 1000ms, at(1100ms));
    BOOST_TEST(l.limit() == 2u);
}

BOOST_AUTO_TEST_CASE(neutral_outcomes_teach_nothing) {
    aimd_limiter l(config(4));
    fill(l);
    for (int i = 0; i < 4; ++i) l.release(call_outcome::neutral, at(0ms), std::nullopt, at(1ms));
    BOOST_TEST(l.limit() == 4u);
    BOOST_TEST(l.in_flight() == 0u);
    BOOST_TEST(l.cuts() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
