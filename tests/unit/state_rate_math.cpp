// SPDX-License-Identifier: BSL-1.0
// GCRA and the token bucket (src/state/rate_math.hpp) on a virtual clock: exact bursts,
// retry-after, refill, corrections, and that a refused request takes nothing.
#include "state/rate_math.hpp"

#include <boost/test/unit_test.hpp>

using namespace llmux;
using namespace llmux::detail;

namespace {

constexpr std::int64_t t0 = 1'700'000'000'000'000;  // µs

}  // namespace

BOOST_AUTO_TEST_SUITE(state_rate_math)

BOOST_AUTO_TEST_CASE(gcra_allows_a_burst_of_exactly_one_minute) {
    // For every rate, at one instant: exactly rpm requests, whatever the rounding of 60e6/rpm.
    for (std::uint64_t rpm : {1u, 2u, 3u, 7u, 60u, 61u, 997u, 1000u, 7919u, 60000u}) {
        std::optional<gcra_state> s;
        std::uint64_t allowed = 0;
        for (std::uint64_t i = 0; i < rpm + 5; ++i) {
            auto r = gcra_take(s, rpm, t0);
            if (r.allowed) {
                ++allowed;
                s = r.next;
            } else {
                BOOST_TEST((r.next == s.value()));  // refused: nothing taken
                BOOST_TEST(r.wait_us > 0);
            }
        }
        BOOST_TEST(allowed == rpm, "rpm " << rpm);
    }
}

BOOST_AUTO_TEST_CASE(gcra_refills_one_request_per_interval) {
    std::uint64_t const rpm = 7;  // T = 8 571 428 + 4/7 µs
    std::optional<gcra_state> s;
    for (int i = 0; i < 7; ++i)
        s = gcra_take(s, rpm, t0).next;
    auto r = gcra_take(s, rpm, t0);
    BOOST_TEST(!r.allowed);
    BOOST_TEST(r.wait_us == 8'571'429);  // T rounded up
    BOOST_TEST(!gcra_take(s, rpm, t0 + 8'571'428).allowed);
    r = gcra_take(s, rpm, t0 + r.wait_us);
    BOOST_TEST(r.allowed);
    s = r.next;
    // Over a long run the rate is exactly rpm: 7 more in the next 60 s, never 8.
    int more = 0;
    for (std::int64_t t = t0 + 8'571'429; t <= t0 + 8'571'429 + 60'000'000; t += 1000) {
        auto x = gcra_take(s, rpm, t);
        if (x.allowed) {
            ++more;
            s = x.next;
        }
    }
    BOOST_TEST(more == 7);
}

BOOST_AUTO_TEST_CASE(gcra_after_a_long_idle_starts_fresh) {
    std::optional<gcra_state> s;
    for (int i = 0; i < 3; ++i)
        s = gcra_take(s, 3, t0).next;
    BOOST_TEST(!gcra_take(s, 3, t0).allowed);
    BOOST_TEST(gcra_idle_at(*s) == t0 + 60'000'000);
    // Days later: a full burst again, no overflow.
    std::int64_t const later = t0 + 86'400'000'000LL * 30;
    for (int i = 0; i < 3; ++i) {
        auto r = gcra_take(s, 3, later);
        BOOST_TEST(r.allowed);
        s = r.next;
    }
    BOOST_TEST(!gcra_take(s, 3, later).allowed);
}

BOOST_AUTO_TEST_CASE(bucket_starts_full_and_refills_evenly) {
    std::uint64_t const tpm = 1000;
    auto r = bucket_take(std::nullopt, tpm, 1000, t0);
    BOOST_TEST(r.allowed);
    BOOST_TEST(r.next.level == 0);
    auto no = bucket_take(r.next, tpm, 1, t0);
    BOOST_TEST(!no.allowed);
    BOOST_TEST(no.wait_us == 60'000);  // one token per 60 ms
    BOOST_TEST(!bucket_take(r.next, tpm, 1, t0 + 59'999).allowed);
    BOOST_TEST(bucket_take(r.next, tpm, 1, t0 + 60'000).allowed);
    // 30 s refill half the bucket.
    auto half = bucket_refill(r.next, tpm, t0 + 30'000'000);
    BOOST_TEST(half.level == 500 * minute_us);
    // Never more than full.
    auto full = bucket_refill(r.next, tpm, t0 + 600'000'000);
    BOOST_TEST(full.level == 1000 * minute_us);
    BOOST_TEST(bucket_idle_at(r.next, tpm) == t0 + 60'000'000);
}

BOOST_AUTO_TEST_CASE(bucket_rounds_odd_rates_exactly) {
    // 7 tokens per minute: the level stays an integer, a token every 8 571 428.57 µs.
    std::uint64_t const tpm = 7;
    auto r = bucket_take(std::nullopt, tpm, 7, t0);
    BOOST_TEST(r.allowed);
    auto no = bucket_take(r.next, tpm, 1, t0);
    BOOST_TEST(no.wait_us == 8'571'429);
    BOOST_TEST(!bucket_take(r.next, tpm, 1, t0 + 8'571'428).allowed);
    BOOST_TEST(bucket_take(r.next, tpm, 1, t0 + 8'571'429).allowed);
}

BOOST_AUTO_TEST_CASE(bucket_correction_refunds_and_charges) {
    std::uint64_t const tpm = 1000;
    auto r = bucket_take(std::nullopt, tpm, 800, t0);  // estimated 800
    BOOST_TEST(r.allowed);
    auto fixed = bucket_correct(r.next, tpm, -500, t0);  // actual 300
    BOOST_TEST(fixed.level == 700 * minute_us);
    fixed = bucket_correct(fixed, tpm, 2000, t0);  // a huge under-estimate: debt capped
    BOOST_TEST(fixed.level == -1000 * minute_us);
    auto no = bucket_take(fixed, tpm, 1, t0);
    BOOST_TEST(no.wait_us == 60'060'000);              // 1001 tokens at 1000/min
    fixed = bucket_correct(fixed, tpm, -100'000, t0);  // refunds never exceed full
    BOOST_TEST(fixed.level == 1000 * minute_us);
}

BOOST_AUTO_TEST_CASE(bucket_ignores_a_clock_that_goes_back) {
    auto r = bucket_take(std::nullopt, 60, 60, t0);
    auto back = bucket_refill(r.next, 60, t0 - 5'000'000);
    BOOST_TEST((back == r.next));
    // Then forward again: only the real interval since t0 refills.
    BOOST_TEST(bucket_refill(back, 60, t0 + 1'000'000).level == 1 * minute_us);
}

BOOST_AUTO_TEST_CASE(bucket_lowered_limit_caps_the_level) {
    auto r = bucket_take(std::nullopt, 1000, 0, t0);
    BOOST_TEST(r.next.level == 1000 * minute_us);
    auto lowered = bucket_refill(r.next, 10, t0);
    BOOST_TEST(lowered.level == 10 * minute_us);
}

BOOST_AUTO_TEST_CASE(rate_take_charges_both_or_neither) {
    rate_quota const q{.requests_per_minute = 2, .tokens_per_minute = 100};
    rate_state s;
    auto r = rate_take(s, q, 80, t0);
    BOOST_TEST(r.decision.allowed);
    s = r.next;
    auto no = rate_take(s, q, 80, t0);
    BOOST_TEST(!no.decision.allowed);
    BOOST_TEST(no.decision.retry_after.count() == 36'000);  // 60 tokens at 100/min
    BOOST_TEST((no.next.req == s.req));
    BOOST_TEST((no.next.tok == s.tok));
    r = rate_take(s, q, 20, t0);
    BOOST_TEST(r.decision.allowed);
    s = r.next;
    no = rate_take(s, q, 0, t0);
    BOOST_TEST(!no.decision.allowed);
    // Requests: the third waits for 30 s (GCRA), tokens: 100 for a minute; the later wins.
    no = rate_take(s, q, 1, t0);
    BOOST_TEST(no.decision.retry_after.count() == 30'000);
    BOOST_TEST(r.idle_at_us == t0 + 60'000'000);
}

BOOST_AUTO_TEST_CASE(rate_take_without_limits_keeps_nothing) {
    auto r = rate_take({}, rate_quota{}, 5, t0);
    BOOST_TEST(r.decision.allowed);
    BOOST_TEST(!r.next.req.has_value());
    BOOST_TEST(!r.next.tok.has_value());
    BOOST_TEST(r.idle_at_us == t0);
}

BOOST_AUTO_TEST_CASE(largest_figures_stay_exact_in_doubles) {
    // The Redis script computes in IEEE doubles; every intermediate must stay below 2^53.
    constexpr std::int64_t exact = std::int64_t(1) << 53;
    std::uint64_t const l = max_rate_per_minute;
    auto r = bucket_take(std::nullopt, l, l, t0);
    auto b = bucket_correct(r.next, l, static_cast<std::int64_t>(l), t0);
    BOOST_TEST(b.level == -static_cast<std::int64_t>(l) * minute_us);
    std::int64_t const missing = static_cast<std::int64_t>(l) * minute_us - b.level;
    BOOST_TEST(missing < exact);
    BOOST_TEST(t0 + 2 * minute_us < exact);
    BOOST_TEST(bucket_refill(b, l, t0 + 1).level == b.level + static_cast<std::int64_t>(l));
}

BOOST_AUTO_TEST_SUITE_END()
