// SPDX-License-Identifier: BSL-1.0
// The client-side rate limit's token buckets (src/resilience.hpp, rate_bucket) on a virtual
// clock: a full minute's burst, then the refill, the wait for requests and for tokens (after
// waiting what `take` said, the request passes), the cap at one minute's worth, and a request
// larger than the whole token bucket.
#include "resilience.hpp"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using bucket = llmux::detail::rate_bucket;
using llmux::rate_limit;

namespace {
steady::time_point at(steady::duration d) { return steady::time_point{} + 1h + d; }
constexpr auto zero = steady::duration::zero();
/// `w` is `expected` rounded up by the bucket's millisecond (and float noise).
bool about(steady::duration w, steady::duration expected) {
    return w >= expected && w <= expected + 2ms;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(rate_bucket)

BOOST_AUTO_TEST_CASE(burst_then_one_request_per_refill) {
    rate_limit const lim{.requests_per_minute = 600};  // one per 100 ms
    bucket b;
    for (int i = 0; i < 600; ++i) BOOST_TEST_REQUIRE((b.take(lim, 0, at(0ms)) == zero));
    // The 601st waits for one request's refill; nothing is taken meanwhile.
    auto const w = b.take(lim, 0, at(0ms));
    BOOST_TEST(about(w, 100ms));
    BOOST_TEST(about(b.take(lim, 0, at(50ms)), 50ms));
    BOOST_TEST((b.take(lim, 0, at(w)) == zero));  // after the wait it passes
    // It waited 1 ms more than it needed: the next one needs a little less than 100 ms.
    BOOST_TEST(about(b.take(lim, 0, at(w)), 99ms));
    // Idle for a long time: the bucket holds one minute's worth, not more.
    for (int i = 0; i < 600; ++i) BOOST_TEST_REQUIRE((b.take(lim, 0, at(10min)) == zero));
    BOOST_TEST(about(b.take(lim, 0, at(10min)), 100ms));
}

BOOST_AUTO_TEST_CASE(tokens_per_minute) {
    rate_limit const lim{.tokens_per_minute = 6000};  // 100 per second
    bucket b;
    BOOST_TEST((b.take(lim, 5000, at(0ms)) == zero));
    BOOST_TEST((b.take(lim, 1000, at(0ms)) == zero));
    // 500 more tokens: 5 s of refill.
    auto const w = b.take(lim, 500, at(0ms));
    BOOST_TEST(about(w, 5s));
    BOOST_TEST((b.take(lim, 500, at(w)) == zero));
}

BOOST_AUTO_TEST_CASE(a_request_larger_than_the_bucket_passes_when_full) {
    rate_limit const lim{.tokens_per_minute = 1000};
    bucket b;
    BOOST_TEST((b.take(lim, 5000, at(0ms)) == zero));  // full: passes
    // It left a debt of 4000 tokens: the next 100 wait until the bucket holds them again.
    BOOST_TEST(about(b.take(lim, 100, at(0ms)), 246s));
}

BOOST_AUTO_TEST_CASE(both_limits_the_longer_wait_wins) {
    rate_limit const lim{.requests_per_minute = 60, .tokens_per_minute = 60};
    bucket b;
    BOOST_TEST((b.take(lim, 60, at(0ms)) == zero));
    // Requests are left but no tokens: 30 tokens take 30 s (a request would take 0).
    BOOST_TEST(about(b.take(lim, 30, at(0ms)), 30s));
}

BOOST_AUTO_TEST_SUITE_END()
