// SPDX-License-Identifier: BSL-1.0
// Fallback, retry within fallback, hedging and the deadline as one state machine
// (src/policy/fallback_fsm.hpp), driven by scripted outcomes on a virtual clock: every action
// and every time is asserted exactly, with no socket, no sleep and no wall clock.
#include "policy/fallback_fsm.hpp"

#include <llmux/combinators.hpp>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

using namespace llmux;
using namespace llmux::detail;
using namespace std::chrono_literals;

namespace {

steady_time at(std::chrono::milliseconds ms) { return steady_time{} + ms; }
constexpr auto never = steady_time::max();

fallback_candidate cand(std::string model, std::optional<std::uint64_t> window = std::nullopt,
                        duration hedge_delay = duration::max()) {
    return {std::move(model), window, hedge_delay};
}

uniform_source full_jitter() {
    return [] { return 1.0; };  // every wait is the whole backoff
}

fallback_rules plain_rules() {
    fallback_rules r;
    r.move_on = [](failure const& f) { return is_retryable(f); };
    return r;
}

retry_rules retries(unsigned n, duration backoff = 100ms) {
    retry_rules r;
    r.max_attempts = n;
    r.initial_backoff = backoff;
    r.multiplier = 2;
    r.max_backoff = 10s;
    r.max_retry_after = 60s;
    r.should_retry = [](failure const& f) {
        return is_retryable(f) && f.code != make_error_code(error::context_length_exceeded);
    };
    return r;
}

// Checks the kind of an action and returns it.
fsm_start start_of(fsm_action const& a) {
    BOOST_TEST_REQUIRE(std::holds_alternative<fsm_start>(a), "expected start, got " << a.index());
    return std::get<fsm_start>(a);
}
fsm_cancel cancel_of(fsm_action const& a) {
    BOOST_TEST_REQUIRE(std::holds_alternative<fsm_cancel>(a), "expected cancel, got " << a.index());
    return std::get<fsm_cancel>(a);
}
steady_time wait_of(fsm_action const& a) {
    BOOST_TEST_REQUIRE(std::holds_alternative<fsm_wait>(a), "expected wait, got " << a.index());
    return std::get<fsm_wait>(a).until;
}
fsm_finish finish_of(fsm_action a) {
    BOOST_TEST_REQUIRE(std::holds_alternative<fsm_finish>(a), "expected finish, got " << a.index());
    return std::get<fsm_finish>(std::move(a));
}

bool is(std::optional<failure> const& f, error e) { return f && f->code == make_error_code(e); }
bool mentions(std::optional<failure> const& f, std::string_view text) {
    return f && f->diag.message.find(text) != std::string::npos;
}
std::int64_t ms(std::chrono::nanoseconds d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

failure aborted() { return failure(boost::asio::error::operation_aborted, "cancelled"); }

}  // namespace

BOOST_AUTO_TEST_SUITE(policy_fallback)

BOOST_AUTO_TEST_CASE(moves_on_in_order_and_reports_every_attempt) {
    fallback_fsm f({cand("p/a"), cand("p/b"), cand("p/c")}, plain_rules(), full_jitter());
    auto s = start_of(f.begin(at(0ms)));
    BOOST_TEST(s.attempt == 0u);
    BOOST_TEST(s.candidate == 0u);
    BOOST_TEST(!s.check_breaker);
    BOOST_TEST((wait_of(f.resume(at(0ms))) == never));  // no deadline: wait for the outcome
    // A retryable failure starts the next candidate at once.
    s = start_of(f.failed(0, failure(error::server_error), at(40ms)));
    BOOST_TEST(s.attempt == 1u);
    BOOST_TEST(s.candidate == 1u);
    BOOST_TEST((wait_of(f.resume(at(40ms))) == never));
    auto done = finish_of(f.answered(1, at(100ms)));
    BOOST_TEST_REQUIRE(done.winner.has_value());
    BOOST_TEST(*done.winner == 1u);
    BOOST_TEST(done.winner_record == 1u);
    BOOST_TEST((done.winner_started == at(40ms)));
    BOOST_TEST_REQUIRE(done.attempts.size() == 2u);
    BOOST_TEST(done.attempts[0].model == "p/a");
    BOOST_TEST(is(done.attempts[0].error, error::server_error));
    BOOST_TEST(ms(done.attempts[0].latency) == 40);
    BOOST_TEST(done.attempts[1].model == "p/b");
    BOOST_TEST(!done.attempts[1].error);
    BOOST_TEST(ms(done.attempts[1].latency) == 60);
    BOOST_TEST(f.next_candidate() == 2u);  // c was never started
}

BOOST_AUTO_TEST_CASE(stops_for_a_failure_it_does_not_move_on_for) {
    fallback_fsm f({cand("p/a"), cand("p/b")}, plain_rules(), full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    auto done = finish_of(f.failed(0, failure(error::bad_request, "no"), at(5ms)));
    BOOST_TEST(!done.winner);
    BOOST_TEST((done.error.code == make_error_code(error::bad_request)));
    BOOST_TEST(done.error.diag.attempts.size() == 1u);
    BOOST_TEST(f.next_candidate() == 1u);
}

BOOST_AUTO_TEST_CASE(every_candidate_failing_is_all_attempts_failed) {
    fallback_fsm f({cand("p/a"), cand("p/b")}, plain_rules(), full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    start_of(f.failed(0, failure(error::server_error), at(1ms)));
    wait_of(f.resume(at(1ms)));
    failure limited(error::rate_limited, "slow down");
    limited.diag.http_status = 429;
    limited.diag.retry_after = 2000ms;
    auto done = finish_of(f.failed(1, limited, at(2ms)));
    BOOST_TEST((done.error.code == make_error_code(error::all_attempts_failed)));
    BOOST_TEST(done.error.diag.attempts.size() == 2u);
    BOOST_TEST(done.error.diag.http_status == 429u);  // the last attempt's, for gateways
    BOOST_TEST((done.error.diag.retry_after == std::chrono::milliseconds(2000)));
    BOOST_TEST(done.error.diag.message.find("every one of 2 attempts failed") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_empty_list_is_an_invalid_request) {
    fallback_fsm f({}, plain_rules(), full_jitter());
    auto done = finish_of(f.begin(at(0ms)));
    BOOST_TEST((done.error.code == make_error_code(error::invalid_request)));
}

BOOST_AUTO_TEST_CASE(a_missed_per_attempt_limit_cancels_and_moves_on) {
    auto r = plain_rules();
    r.per_attempt = 2s;
    fallback_fsm f({cand("p/slow"), cand("p/fast")}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    BOOST_TEST((wait_of(f.resume(at(0ms))) == at(2000ms)));
    // At the limit: cancel the slow one, start the next at once.
    BOOST_TEST(cancel_of(f.timer(at(2000ms))).attempt == 0u);
    BOOST_TEST(start_of(f.resume(at(2000ms))).candidate == 1u);
    BOOST_TEST((wait_of(f.resume(at(2000ms))) == at(4000ms)));
    // The cancelled attempt reports later; it changes nothing.
    BOOST_TEST((wait_of(f.failed(0, aborted(), at(2010ms))) == at(4000ms)));
    auto done = finish_of(f.answered(1, at(2500ms)));
    BOOST_TEST(is(done.attempts[0].error, error::timeout));
    BOOST_TEST(mentions(done.attempts[0].error, "per-attempt timeout of 2000ms"));
    BOOST_TEST(ms(done.attempts[0].latency) == 2000);
    BOOST_TEST(ms(done.attempts[1].latency) == 500);
}

BOOST_AUTO_TEST_CASE(the_deadline_ends_everything_and_names_the_candidate_not_reached) {
    auto r = plain_rules();
    r.per_attempt = 300ms;
    r.deadline = 450ms;
    fallback_fsm f({cand("p/s1"), cand("p/s2"), cand("p/s3")}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    BOOST_TEST((wait_of(f.resume(at(0ms))) == at(300ms)));
    cancel_of(f.timer(at(300ms)));
    start_of(f.resume(at(300ms)));
    // The second attempt's limit is the deadline (450 ms), not 300 + 300.
    BOOST_TEST((wait_of(f.resume(at(300ms))) == at(450ms)));
    BOOST_TEST(cancel_of(f.timer(at(450ms))).attempt == 1u);
    // Nothing finishes while a stopped attempt has not reported.
    BOOST_TEST((wait_of(f.resume(at(450ms))) == never));
    BOOST_TEST((wait_of(f.failed(0, aborted(), at(460ms))) == never));
    BOOST_TEST(f.running() == 1u);
    auto done = finish_of(f.failed(1, aborted(), at(470ms)));
    BOOST_TEST((done.error.code == make_error_code(error::all_attempts_failed)));
    auto const& a = done.error.diag.attempts;
    BOOST_TEST_REQUIRE(a.size() == 3u);
    BOOST_TEST(mentions(a[0].error, "per-attempt"));
    BOOST_TEST(ms(a[0].latency) == 300);
    BOOST_TEST(is(a[1].error, error::timeout));
    BOOST_TEST(mentions(a[1].error, "fallback deadline of 450ms"));
    BOOST_TEST(ms(a[1].latency) == 150);
    BOOST_TEST(a[2].model == "p/s3");
    BOOST_TEST(mentions(a[2].error, "passed before this candidate"));
}

BOOST_AUTO_TEST_CASE(each_candidate_is_retried_with_backoff_before_the_next) {
    auto r = plain_rules();
    r.retry = retries(3);
    fallback_fsm f({cand("p/a"), cand("p/b")}, r, full_jitter());
    BOOST_TEST(start_of(f.begin(at(0ms))).candidate == 0u);
    wait_of(f.resume(at(0ms)));
    // First retry after 100 ms, the second after 200 ms: the same candidate.
    BOOST_TEST((wait_of(f.failed(0, failure(error::overloaded), at(10ms))) == at(110ms)));
    auto s = start_of(f.timer(at(110ms)));
    BOOST_TEST(s.attempt == 1u);
    BOOST_TEST(s.candidate == 0u);
    wait_of(f.resume(at(110ms)));
    BOOST_TEST((wait_of(f.failed(1, failure(error::overloaded), at(120ms))) == at(320ms)));
    BOOST_TEST(start_of(f.timer(at(320ms))).candidate == 0u);
    wait_of(f.resume(at(320ms)));
    // Its three attempts are over: the next candidate starts at once, with no wait.
    s = start_of(f.failed(2, failure(error::overloaded), at(330ms)));
    BOOST_TEST(s.attempt == 3u);
    BOOST_TEST(s.candidate == 1u);
    wait_of(f.resume(at(330ms)));
    auto done = finish_of(f.answered(3, at(400ms)));
    BOOST_TEST(*done.winner == 3u);
    BOOST_TEST_REQUIRE(done.attempts.size() == 4u);
    for (std::size_t i = 0; i < 3; ++i) {
        BOOST_TEST(done.attempts[i].model == "p/a");
        BOOST_TEST(ms(done.attempts[i].latency) == 10);
    }
    BOOST_TEST(done.attempts[3].model == "p/b");
}

BOOST_AUTO_TEST_CASE(a_retried_candidate_that_passes_is_the_answer) {
    auto r = plain_rules();
    r.retry = retries(3);
    fallback_fsm f({cand("p/a"), cand("p/b")}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    wait_of(f.failed(0, failure(error::server_error), at(10ms)));
    start_of(f.timer(at(110ms)));
    wait_of(f.resume(at(110ms)));
    auto done = finish_of(f.answered(1, at(150ms)));
    BOOST_TEST(*done.winner == 1u);
    BOOST_TEST(done.attempts.size() == 2u);
    BOOST_TEST(f.next_candidate() == 1u);  // b never started
}

BOOST_AUTO_TEST_CASE(retry_after_is_waited_for_up_to_its_cap) {
    auto r = plain_rules();
    r.retry = retries(3);
    r.retry.max_retry_after = 1s;
    fallback_fsm f({cand("p/a")}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    failure asked(error::rate_limited);
    asked.diag.retry_after = 300ms;
    BOOST_TEST((wait_of(f.failed(0, asked, at(0ms))) == at(300ms)));
    start_of(f.timer(at(300ms)));
    wait_of(f.resume(at(300ms)));
    asked.diag.retry_after = std::chrono::milliseconds(30000);
    BOOST_TEST((wait_of(f.failed(1, asked, at(300ms))) == at(1300ms)));  // capped at 1 s
}

BOOST_AUTO_TEST_CASE(no_retry_that_would_reach_the_deadline) {
    auto r = plain_rules();
    r.retry = retries(3);
    r.deadline = 1s;
    fallback_fsm f({cand("p/a")}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    BOOST_TEST((wait_of(f.resume(at(0ms))) == at(1000ms)));
    failure asked(error::rate_limited);
    asked.diag.retry_after = std::chrono::milliseconds(30000);
    auto done = finish_of(f.failed(0, asked, at(10ms)));
    BOOST_TEST((done.error.code == make_error_code(error::all_attempts_failed)));
    BOOST_TEST_REQUIRE(done.error.diag.attempts.size() == 1u);
    BOOST_TEST(mentions(done.error.diag.attempts[0].error, "no time left to retry"));
}

BOOST_AUTO_TEST_CASE(after_a_context_length_failure_only_larger_windows) {
    fallback_fsm f({cand("p/tiny", 100), cand("p/also-tiny", 50), cand("p/unknown"),
                    cand("p/big", 1000000)},
                   plain_rules(), full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    // also-tiny is skipped; a candidate whose window is unknown is tried.
    BOOST_TEST(start_of(f.failed(0, failure(error::context_length_exceeded), at(1ms))).candidate ==
               2u);
    wait_of(f.resume(at(1ms)));
    BOOST_TEST(start_of(f.failed(1, failure(error::context_length_exceeded), at(2ms))).candidate ==
               3u);
    wait_of(f.resume(at(2ms)));
    auto done = finish_of(f.answered(2, at(3ms)));
    BOOST_TEST_REQUIRE(done.attempts.size() == 4u);
    BOOST_TEST(done.attempts[1].model == "p/also-tiny");
    BOOST_TEST(mentions(done.attempts[1].error, "skipped"));
    BOOST_TEST(done.winner_record == 3u);
}

BOOST_AUTO_TEST_CASE(a_breaker_refusal_skips_without_retry) {
    auto r = plain_rules();
    r.retry = retries(3);
    r.check_breaker = true;
    fallback_fsm f({cand("p/sick"), cand("p/well")}, r, full_jitter());
    auto s = start_of(f.begin(at(0ms)));
    BOOST_TEST(s.check_breaker);
    s = start_of(f.refused(0, failure(error::circuit_open, "skipped: circuit open"), at(0ms)));
    BOOST_TEST(s.candidate == 1u);
    wait_of(f.resume(at(0ms)));
    auto done = finish_of(f.answered(1, at(20ms)));
    BOOST_TEST(is(done.attempts[0].error, error::circuit_open));
    BOOST_TEST(ms(done.attempts[0].latency) == 0);
}

BOOST_AUTO_TEST_CASE(hedging_starts_the_next_after_the_delay_and_cancels_the_loser) {
    auto r = plain_rules();
    r.hedge = true;
    fallback_fsm f({cand("p/a", {}, 100ms), cand("p/b", {}, 100ms), cand("p/c")}, r,
                   full_jitter());
    start_of(f.begin(at(0ms)));
    BOOST_TEST((wait_of(f.resume(at(0ms))) == at(100ms)));
    BOOST_TEST(start_of(f.timer(at(100ms))).candidate == 1u);
    BOOST_TEST((wait_of(f.resume(at(100ms))) == at(200ms)));  // b's own delay
    BOOST_TEST(cancel_of(f.answered(1, at(150ms))).attempt == 0u);
    BOOST_TEST((wait_of(f.resume(at(150ms))) == never));  // a must report first
    auto done = finish_of(f.failed(0, aborted(), at(160ms)));
    BOOST_TEST(*done.winner == 1u);
    BOOST_TEST(is(done.attempts[0].error, error::cancelled));
    BOOST_TEST(mentions(done.attempts[0].error, "another candidate answered first"));
    BOOST_TEST(ms(done.attempts[0].latency) == 150);
    BOOST_TEST(ms(done.attempts[1].latency) == 50);
    BOOST_TEST(f.next_candidate() == 2u);
}

BOOST_AUTO_TEST_CASE(hedging_without_a_slow_candidate_sends_one_request) {
    auto r = plain_rules();
    r.hedge = true;
    fallback_fsm f({cand("p/a", {}, 100ms), cand("p/b", {}, 100ms)}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    auto done = finish_of(f.answered(0, at(99ms)));
    BOOST_TEST(done.attempts.size() == 1u);
    BOOST_TEST(f.next_candidate() == 1u);
}

BOOST_AUTO_TEST_CASE(a_hedged_failure_starts_the_next_at_once) {
    auto r = plain_rules();
    r.hedge = true;
    fallback_fsm f({cand("p/a", {}, 100ms), cand("p/b", {}, 100ms)}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    BOOST_TEST(start_of(f.failed(0, failure(error::server_error), at(30ms))).candidate == 1u);
    BOOST_TEST((wait_of(f.resume(at(30ms))) == never));  // nothing after b to hedge with
}

BOOST_AUTO_TEST_CASE(hedging_across_retried_candidates) {
    // a fails and waits 500 ms to retry; the hedge delay (100 ms) starts b meanwhile.
    auto r = plain_rules();
    r.hedge = true;
    r.retry = retries(2, 500ms);
    fallback_fsm f({cand("p/a", {}, 100ms), cand("p/b", {}, 100ms)}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    BOOST_TEST((wait_of(f.failed(0, failure(error::overloaded), at(20ms))) == at(100ms)));
    BOOST_TEST(start_of(f.timer(at(100ms))).candidate == 1u);
    BOOST_TEST((wait_of(f.resume(at(100ms))) == at(520ms)));  // a's retry
    BOOST_TEST(start_of(f.timer(at(520ms))).candidate == 0u);
    wait_of(f.resume(at(520ms)));
    BOOST_TEST(cancel_of(f.answered(2, at(600ms))).attempt == 1u);
    auto done = finish_of(f.failed(1, aborted(), at(601ms)));
    BOOST_TEST(*done.winner == 2u);
    BOOST_TEST(done.attempts.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_stopping_failure_lets_a_running_hedge_win) {
    auto r = plain_rules();
    r.hedge = true;
    fallback_fsm f({cand("p/a", {}, 100ms), cand("p/b", {}, 100ms), cand("p/c")}, r,
                   full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    start_of(f.timer(at(100ms)));
    wait_of(f.resume(at(100ms)));
    // a's failure stops new starts (no c at 200 ms), but b is still running.
    BOOST_TEST((wait_of(f.failed(0, failure(error::bad_request), at(120ms))) == never));
    auto done = finish_of(f.answered(1, at(300ms)));
    BOOST_TEST(*done.winner == 1u);
    BOOST_TEST(f.next_candidate() == 2u);
}

BOOST_AUTO_TEST_CASE(the_callers_cancellation_cancels_and_collects) {
    fallback_fsm f({cand("p/a"), cand("p/b")}, plain_rules(), full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    BOOST_TEST(cancel_of(f.cancelled(at(50ms))).attempt == 0u);
    BOOST_TEST((wait_of(f.resume(at(50ms))) == never));
    auto done = finish_of(f.failed(0, aborted(), at(55ms)));
    BOOST_TEST((done.error.code == boost::asio::error::operation_aborted));
    BOOST_TEST(done.error.diag.attempts.size() == 1u);
    BOOST_TEST(f.next_candidate() == 1u);
}

BOOST_AUTO_TEST_CASE(an_attempt_cancelled_from_outside_ends_the_operation) {
    fallback_fsm f({cand("p/a"), cand("p/b")}, plain_rules(), full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    auto done = finish_of(f.failed(0, aborted(), at(5ms)));
    BOOST_TEST((done.error.code == boost::asio::error::operation_aborted));
    BOOST_TEST(f.next_candidate() == 1u);  // not moved on
}

BOOST_AUTO_TEST_CASE(a_late_answer_of_a_stopped_attempt_is_not_taken) {
    auto r = plain_rules();
    r.per_attempt = 1s;
    fallback_fsm f({cand("p/a"), cand("p/b")}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    cancel_of(f.timer(at(1000ms)));
    start_of(f.resume(at(1000ms)));
    wait_of(f.resume(at(1000ms)));
    // a's answer raced its cancellation: it is not the answer; b's is.
    BOOST_TEST((wait_of(f.answered(0, at(1001ms))) == at(2000ms)));
    auto done = finish_of(f.answered(1, at(1500ms)));
    BOOST_TEST(*done.winner == 1u);
    BOOST_TEST(is(done.attempts[0].error, error::timeout));
}

BOOST_AUTO_TEST_CASE(what_stopped_attempts_were_billed_is_kept) {
    auto r = plain_rules();
    r.deadline = 100ms;
    fallback_fsm f({cand("p/a")}, r, full_jitter());
    start_of(f.begin(at(0ms)));
    wait_of(f.resume(at(0ms)));
    cancel_of(f.timer(at(100ms)));
    wait_of(f.resume(at(100ms)));
    failure billed_f(boost::asio::error::operation_aborted, "closed");
    billed_f.diag.cost_usd = 0.25;
    auto done = finish_of(f.failed(0, billed_f, at(101ms)));
    BOOST_TEST(is(done.error.diag.attempts[0].error, error::timeout));
    BOOST_TEST_REQUIRE(done.error.diag.cost_usd.has_value());
    BOOST_TEST(*done.error.diag.cost_usd == 0.25);
}

BOOST_AUTO_TEST_CASE(hedge_delay_from_measured_quantiles) {
    BOOST_TEST(hedge_delay(250ms, nullptr, 0.95, 10, 2s).count() == duration(250ms).count());
    latency_histogram h;
    for (int i = 0; i < 5; ++i) h.record(10ms);
    // Too few samples: the default.
    BOOST_TEST(hedge_delay(std::nullopt, &h, 0.95, 10, 2s).count() == duration(2s).count());
    BOOST_TEST(hedge_delay(std::nullopt, nullptr, 0.95, 10, 2s).count() == duration(2s).count());
    for (int i = 0; i < 94; ++i) h.record(10ms);
    h.record(900ms);
    // 100 samples: the 95th percentile is the 10 ms group, the 100th the outlier.
    auto const p95 = hedge_delay(std::nullopt, &h, 0.95, 10, 2s);
    BOOST_TEST(p95.count() == h.percentile(0.95).count());
    BOOST_TEST(p95 < duration(11ms));
    BOOST_TEST(p95 >= duration(9ms));
    BOOST_TEST(hedge_delay(std::nullopt, &h, 1.0, 10, 2s) > duration(800ms));
}

BOOST_AUTO_TEST_SUITE_END()
