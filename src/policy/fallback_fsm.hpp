// SPDX-License-Identifier: BSL-1.0
// Fallback, retry and hedging as one pure state machine (STYLE.md 5b, after Boost.Redis's
// *_fsm classes). Candidates are tried in order; each candidate is a "lane" that retries it
// with backoff before the next lane starts (retry within fallback); with hedging the next lane
// also starts when the current one has not answered within its delay; one deadline bounds it
// all. Events go in (an attempt answered or failed, a timer fired, the caller cancelled), one
// action comes out (start an attempt, cancel one, wait until a time, finish). The clock is an
// argument of every event: nothing here reads the time, sleeps or does I/O.
#pragma once

#include "policy/retry.hpp"

#include <llmux/config.hpp>
#include <llmux/error.hpp>
#include <llmux/histogram.hpp>

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmux::detail {

/// One candidate of a fallback.
struct fallback_candidate {
    /// The `provider/model` id, as attempts report it.
    std::string model;
    /// Its catalog context window: after `context_length_exceeded` only larger ones are tried.
    std::optional<std::uint64_t> context_window;
    /// With hedging: how long this candidate may go without answering before the next one
    /// starts too.
    duration hedge_delay = duration::max();
};

/// The rules of a fallback (and of retry and hedge, which are fallbacks too).
struct fallback_rules {
    /// Names the operation in messages ("fallback", "retry", "hedge", "stream fallback").
    std::string name = "fallback";
    /// Names it in the `all_attempts_failed` message ("retry of openai/x"); empty: `name`.
    std::string label;
    /// The whole operation's limit, from its start; zero: none.
    duration deadline{};
    /// An absolute end instead of `deadline` from the start (a continuation of an operation
    /// keeps the operation's end); `deadline` still names it in messages.
    steady_time deadline_at = steady_time::max();
    /// Each attempt's limit; zero: none.
    duration per_attempt{};
    /// Added to per-attempt timeout messages (" (to the first token)" for streams).
    std::string per_attempt_note;
    /// Which failures move on to the next candidate once the candidate's retries are over;
    /// empty: none.
    std::function<bool(failure const&)> move_on;
    /// Retries of each candidate (`max_attempts` 1: none).
    retry_rules retry;
    /// Start the next candidate when the current one has not answered within its
    /// `hedge_delay`; the first answer wins and the others are cancelled.
    bool hedge = false;
    /// Ask the circuit breaker before each attempt (`fsm_start::check_breaker`).
    bool check_breaker = false;
};

/// Start attempt `attempt` (numbered from 0, in start order) on candidate `candidate`. The
/// driver asks the breaker first when `check_breaker` is set and reports `refused` if it says
/// no; otherwise it starts the call and reports `resume`.
struct fsm_start {
    std::size_t attempt = 0;
    std::size_t candidate = 0;
    bool check_breaker = false;
};

/// Cancel attempt `attempt` (its connection is closed); its outcome is still reported later
/// (`answered` or `failed`), and is then ignored. Report `resume` once the cancellation is
/// requested.
struct fsm_cancel {
    std::size_t attempt = 0;
};

/// Wait for an attempt's outcome, or until `until` (`steady_time::max()`: no timer), then
/// report what happened (`answered`, `failed`, `timer`, or `cancelled` for the caller).
struct fsm_wait {
    steady_time until = steady_time::max();
};

/// The operation is over: every attempt it started has reported. On success `winner` is the
/// attempt that answered, `winner_record` its index in `attempts`; otherwise `error` holds the
/// failure (its `diag.attempts` and `diag.cost_usd` filled in).
struct fsm_finish {
    std::optional<std::size_t> winner;
    std::size_t winner_record = 0;
    steady_time winner_started{};
    failure error;
    /// Every attempt in start order, with skipped candidates where they were skipped.
    std::vector<attempt> attempts;
};

using fsm_action = std::variant<fsm_start, fsm_cancel, fsm_wait, fsm_finish>;

/** Fallback over candidates, with retries within each candidate and optional hedging, under
    one deadline.

    Rules:
    - Candidates start in order. Without hedging the next starts when the current candidate is
      given up: its failure is not retryable or its retries are over, and `move_on` accepts the
      failure (else the operation stops with that failure).
    - A candidate is retried while `retry.should_retry` accepts the failure and it has attempts
      left, after `retry_fsm`'s backoff; a wait that would reach the deadline is not made (the
      failure's message says "no time left to retry before the deadline") and the candidate is
      given up.
    - With hedging the next candidate also starts when the most recently started one has not
      answered within its `hedge_delay`; a failure with nothing else in progress starts the
      next at once. The first answer wins; every other attempt is cancelled with
      `error::cancelled`.
    - Each attempt ends by `min(start + per_attempt, deadline)`: a missed per-attempt limit is
      that attempt's `error::timeout` (then retried or moved on from as any failure); the
      deadline cancels everything in progress and ends the operation with
      `all_attempts_failed` (the next untried candidate is listed as not reached).
    - After `context_length_exceeded` only candidates with a larger context window are tried;
      the others are listed as skipped.
    - The breaker's refusal skips a candidate (listed with `error::circuit_open`), no retry.
    - The caller's cancellation cancels everything and ends with `operation_aborted`.
    - `finish` comes only once every started attempt has reported: nothing is left running.
*/
class fallback_fsm {
public:
    fallback_fsm(std::vector<fallback_candidate> candidates, fallback_rules rules,
                 uniform_source jitter);

    fallback_fsm(fallback_fsm const&) = delete;
    fallback_fsm& operator=(fallback_fsm const&) = delete;

    /// The operation starts at `now`.
    fsm_action begin(steady_time now);
    /// The last `fsm_start` or `fsm_cancel` was carried out.
    fsm_action resume(steady_time now);
    /// The breaker refused the attempt of the last `fsm_start`; `why` is what to report.
    fsm_action refused(std::size_t attempt, failure why, steady_time now);
    /// Attempt `attempt` answered (for streams: its first content arrived).
    fsm_action answered(std::size_t attempt, steady_time now);
    /// Attempt `attempt` failed with `f`.
    fsm_action failed(std::size_t attempt, failure f, steady_time now);
    /// The time of the last `fsm_wait` came.
    fsm_action timer(steady_time now);
    /// The caller cancelled the operation.
    fsm_action cancelled(steady_time now);

    std::vector<fallback_candidate> const& candidates() const noexcept { return candidates_; }
    /// The candidate of an attempt.
    std::size_t candidate_of(std::size_t attempt) const { return attempts_.at(attempt).candidate; }
    /// When an attempt started.
    steady_time started_at(std::size_t attempt) const { return attempts_.at(attempt).started; }
    /// The candidates never started (after a winner, all those after it).
    std::size_t next_candidate() const noexcept { return next_candidate_; }
    /// Attempts started and not yet reported.
    std::size_t running() const noexcept;
    steady_time deadline() const noexcept { return deadline_; }
    fallback_rules const& rules() const noexcept { return rules_; }

private:
    enum class attempt_state { running, cancelling, ended };
    struct attempt_info {
        std::size_t candidate = 0;
        std::size_t lane = 0;
        std::size_t record = 0;
        steady_time started{}, until{};
        attempt_state state = attempt_state::running;
    };
    enum class lane_state { attempting, backing_off, over };
    struct lane {
        std::size_t candidate = 0;
        retry_fsm retry;
        lane_state state = lane_state::attempting;
        steady_time retry_at{};
    };
    enum class ending { none, winner, cancelled, deadline, stopped, exhausted };

    fsm_action step(steady_time now);
    void advance(steady_time now);
    bool launch_next(steady_time now);
    void start_attempt(std::size_t lane, steady_time now);
    void lane_failed(std::size_t lane, failure const& f, steady_time now);
    void end(ending why, steady_time now);
    void cancel_running(failure const& why, steady_time now);
    bool any_lane_active() const;
    steady_time next_wake() const;
    fsm_finish make_finish();
    failure deadline_failure(std::string_view what) const;

    std::vector<fallback_candidate> candidates_;
    fallback_rules rules_;
    uniform_source jitter_;
    std::vector<attempt_info> attempts_;
    std::deque<lane> lanes_;  // a deque: lanes hold a retry_fsm pointing into rules_
    std::vector<attempt> records_;
    std::deque<fsm_action> pending_;
    std::size_t next_candidate_ = 0;
    std::optional<std::uint64_t> window_floor_;
    steady_time t0_{}, deadline_ = steady_time::max();
    std::optional<steady_time> last_launch_;
    std::size_t last_launch_candidate_ = 0;
    std::optional<std::size_t> winner_;
    std::optional<failure> stopper_;
    ending ending_ = ending::none;
    bool finished_ = false;
};

/** The hedging delay of a candidate: `fixed` when given; else the `quantile` of its measured
    times to first token once it has at least `min_samples` of them; else `fallback_delay`.
*/
duration hedge_delay(std::optional<duration> fixed, latency_histogram const* measured,
                     double quantile, std::uint64_t min_samples, duration fallback_delay);

/// The total billed for failed attempts (streams that broke after their answer began), or
/// nothing when none was.
std::optional<double> billed(std::vector<attempt> const& attempts);

/// `all_attempts_failed` naming `what`, with the attempts and what they were billed.
failure all_failed(std::string_view what, std::vector<attempt> attempts);

/// Attaches the attempts to a final failure; their billed cost becomes the failure's.
failure with_attempts(failure f, std::vector<attempt> attempts);

/// `d` in whole milliseconds, as messages show it ("450ms").
std::string ms_text(duration d);

}  // namespace llmux::detail
