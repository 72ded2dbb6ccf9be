// SPDX-License-Identifier: BSL-1.0
// The retry rules of one candidate (src/policy/retry.hpp) on a virtual clock with scripted
// jitter: every wait is asserted exactly.
#include "policy/retry.hpp"

#include <llmux/combinators.hpp>

#include <boost/test/unit_test.hpp>

#include <vector>

using namespace llmux;
using namespace llmux::detail;
using namespace std::chrono_literals;

namespace {

steady_time at(std::chrono::milliseconds ms) { return steady_time{} + ms; }

/// A jitter source that returns the scripted values in turn (then the last one again).
struct scripted {
    std::vector<double> values;
    std::size_t i = 0;
    uniform_source source() {
        return [this] { return values[std::min(i++, values.size() - 1)]; };
    }
};

retry_rules rules(unsigned max_attempts) {
    retry_rules r;
    r.max_attempts = max_attempts;
    r.initial_backoff = 100ms;
    r.multiplier = 2;
    r.max_backoff = 1s;
    r.max_retry_after = 5s;
    r.should_retry = [](failure const& f) { return is_retryable(f); };
    return r;
}

failure overloaded(std::optional<std::chrono::milliseconds> retry_after = std::nullopt) {
    failure f(error::overloaded, "busy");
    f.diag.retry_after = retry_after;
    return f;
}

constexpr auto never = steady_time::max();

}  // namespace

BOOST_AUTO_TEST_SUITE(policy_retry)

BOOST_AUTO_TEST_CASE(exponential_backoff_with_full_jitter) {
    auto const r = rules(10);
    scripted j{{1.0, 0.0, 0.5, 1.0, 1.0, 1.0}};
    auto src = j.source();
    retry_fsm f(r, src);
    // u = 1: the whole backoff; u = 0: half of it; u = 0.5: three quarters.
    std::vector<duration> const expect = {100ms, 100ms, 300ms, 800ms, 1s, 1s};
    auto now = at(0ms);
    for (auto const& want : expect) {
        f.started();
        auto const d = f.failed(overloaded(), now, never);
        BOOST_TEST_REQUIRE((d.verdict == retry_verdict::retry));
        BOOST_TEST(d.wait.count() == std::chrono::duration_cast<duration>(want).count());
        BOOST_TEST((d.at == now + want));
        now = d.at;
    }
}

BOOST_AUTO_TEST_CASE(retry_after_lengthens_the_wait_up_to_its_cap) {
    auto const r = rules(5);
    scripted j{{1.0}};
    auto src = j.source();
    retry_fsm f(r, src);
    f.started();
    // Longer than the backoff (100 ms): the provider's word wins.
    auto d = f.failed(overloaded(300ms), at(0ms), never);
    BOOST_TEST((d.at == at(300ms)));
    f.started();
    // Shorter than the backoff (200 ms now): the backoff stays.
    d = f.failed(overloaded(10ms), at(300ms), never);
    BOOST_TEST((d.at == at(500ms)));
    f.started();
    // Longer than max_retry_after (5 s): capped.
    d = f.failed(overloaded(std::chrono::milliseconds(30000)), at(500ms), never);
    BOOST_TEST((d.at == at(5500ms)));
}

BOOST_AUTO_TEST_CASE(gives_up_after_max_attempts) {
    auto const r = rules(2);
    scripted j{{1.0}};
    auto src = j.source();
    retry_fsm f(r, src);
    f.started();
    BOOST_TEST((f.failed(overloaded(), at(0ms), never).verdict == retry_verdict::retry));
    f.started();
    BOOST_TEST((f.failed(overloaded(), at(100ms), never).verdict == retry_verdict::exhausted));
    BOOST_TEST(f.attempts() == 2u);
}

BOOST_AUTO_TEST_CASE(only_what_should_retry_accepts) {
    auto r = rules(5);
    scripted j{{1.0}};
    auto src = j.source();
    retry_fsm f(r, src);
    f.started();
    BOOST_TEST((f.failed(failure(error::bad_request), at(0ms), never).verdict ==
                retry_verdict::not_retryable));
    r.should_retry = nullptr;  // no predicate: nothing is retried
    retry_fsm g(r, src);
    g.started();
    BOOST_TEST((g.failed(overloaded(), at(0ms), never).verdict == retry_verdict::not_retryable));
}

BOOST_AUTO_TEST_CASE(never_waits_to_the_deadline) {
    auto const r = rules(5);
    scripted j{{1.0}};
    auto src = j.source();
    {
        retry_fsm f(r, src);
        f.started();
        // 100 ms left, a wait of 100 ms would end at the deadline: no time.
        auto const d = f.failed(overloaded(), at(900ms), at(1000ms));
        BOOST_TEST((d.verdict == retry_verdict::no_time));
        BOOST_TEST(d.wait.count() == duration(100ms).count());
    }
    {
        retry_fsm f(r, src);
        f.started();
        // 101 ms left: the retry fits.
        auto const d = f.failed(overloaded(), at(899ms), at(1000ms));
        BOOST_TEST((d.verdict == retry_verdict::retry));
        BOOST_TEST((d.at == at(999ms)));
    }
    {
        retry_fsm f(r, src);
        f.started();
        // A Retry-After past the deadline is not waited for.
        auto const d = f.failed(overloaded(std::chrono::milliseconds(3000)), at(0ms), at(1000ms));
        BOOST_TEST((d.verdict == retry_verdict::no_time));
    }
}

BOOST_AUTO_TEST_CASE(seeded_jitter_repeats) {
    auto a = seeded_uniform(42), b = seeded_uniform(42), c = seeded_uniform(43);
    bool differs = false;
    for (int i = 0; i < 16; ++i) {
        double const x = a(), y = b(), z = c();
        BOOST_TEST(x == y);
        BOOST_TEST(x >= 0.0);
        BOOST_TEST(x < 1.0);
        differs = differs || x != z;
    }
    BOOST_TEST(differs);
}

BOOST_AUTO_TEST_CASE(copies_of_a_source_draw_from_one_generator) {
    // The generator is made at the first draw (most calls never retry), and copies made before
    // that share it: together they draw the one sequence, as copies did when it was made at once.
    auto a = seeded_uniform(7);
    auto b = a;
    auto ref = seeded_uniform(7);
    for (int i = 0; i < 8; ++i) {
        BOOST_TEST(a() == ref());
        BOOST_TEST(b() == ref());
    }
    auto unseeded = seeded_uniform(0);  // a random seed, drawn at the first use
    double const x = unseeded();
    BOOST_TEST(x >= 0.0);
    BOOST_TEST(x < 1.0);
}

BOOST_AUTO_TEST_SUITE_END()
