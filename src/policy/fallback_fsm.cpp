// SPDX-License-Identifier: BSL-1.0
#include "policy/fallback_fsm.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>
#include <sstream>

namespace llmux::detail {

namespace asio = boost::asio;

std::string ms_text(duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}

std::optional<double> billed(std::vector<attempt> const& attempts) {
    std::optional<double> total;
    for (auto const& a : attempts)
        if (a.error && a.error->diag.cost_usd) total = total.value_or(0) + *a.error->diag.cost_usd;
    return total;
}

failure all_failed(std::string_view what, std::vector<attempt> attempts) {
    std::ostringstream msg;
    msg << what << ": every one of " << attempts.size() << " attempts failed";
    if (!attempts.empty() && attempts.back().error)
        msg << "; the last: " << attempts.back().error->to_string();
    failure f(error::all_attempts_failed, msg.str());
    if (!attempts.empty() && attempts.back().error) {
        f.diag.http_status = attempts.back().error->diag.http_status;
        f.diag.retry_after = attempts.back().error->diag.retry_after;
        if (attempts.back().error->diag.source == message_source::internal)
            f.diag.source = message_source::internal;  // the message quotes it
    }
    f.diag.cost_usd = billed(attempts);
    f.diag.attempts = std::move(attempts);
    return f;
}

failure with_attempts(failure f, std::vector<attempt> attempts) {
    if (auto b = billed(attempts)) f.diag.cost_usd = b;
    f.diag.attempts = std::move(attempts);
    return f;
}

duration hedge_delay(std::optional<duration> fixed, latency_histogram const* measured,
                     double quantile, std::uint64_t min_samples, duration fallback_delay) {
    if (fixed) return *fixed;
    if (measured && measured->count() > 0 && measured->count() >= min_samples)
        return measured->percentile(quantile);
    return fallback_delay;
}

// ---------------------------------------------------------------------------------------------

fallback_fsm::fallback_fsm(std::vector<fallback_candidate> candidates, fallback_rules rules,
                           uniform_source jitter)
    : candidates_(std::move(candidates)), rules_(std::move(rules)), jitter_(std::move(jitter)) {
    if (!jitter_) jitter_ = seeded_uniform(0);
}

std::size_t fallback_fsm::running() const noexcept {
    return static_cast<std::size_t>(std::count_if(
        attempts_.begin(), attempts_.end(),
        [](attempt_info const& a) { return a.state != attempt_state::ended; }));
}

bool fallback_fsm::any_lane_active() const {
    return std::any_of(lanes_.begin(), lanes_.end(),
                       [](lane const& l) { return l.state != lane_state::over; });
}

failure fallback_fsm::deadline_failure(std::string_view what) const {
    return failure(error::timeout, std::string(what) + "the " + rules_.name + " deadline of " +
                                       ms_text(rules_.deadline));
}

fsm_action fallback_fsm::begin(steady_time now) {
    t0_ = now;
    if (rules_.deadline_at != steady_time::max())
        deadline_ = rules_.deadline_at;
    else if (rules_.deadline > duration::zero())
        deadline_ = now + rules_.deadline;
    if (candidates_.empty()) {
        stopper_ = failure(error::invalid_request, rules_.name + " needs at least one model");
        end(ending::stopped, now);
        return step(now);
    }
    advance(now);
    return step(now);
}

fsm_action fallback_fsm::resume(steady_time now) { return step(now); }

fsm_action fallback_fsm::refused(std::size_t id, failure why, steady_time now) {
    auto& a = attempts_.at(id);
    if (a.state == attempt_state::ended) return step(now);
    a.state = attempt_state::ended;
    records_[a.record].error = std::move(why);
    records_[a.record].latency = {};
    lanes_[a.lane].state = lane_state::over;
    // The candidate did not start: with hedging, the next one need not wait for its delay.
    if (ending_ == ending::none && !stopper_) launch_next(now);
    advance(now);
    return step(now);
}

fsm_action fallback_fsm::answered(std::size_t id, steady_time now) {
    auto& a = attempts_.at(id);
    if (a.state == attempt_state::ended) return step(now);
    bool const was_cancelled = a.state == attempt_state::cancelling;
    a.state = attempt_state::ended;
    if (!was_cancelled) {
        // An answer that arrives after its attempt was stopped is not taken: the operation
        // has decided without it (another answered, the deadline passed).
        records_[a.record].error.reset();
        records_[a.record].latency = now - a.started;
        lanes_[a.lane].state = lane_state::over;
        if (ending_ == ending::none) {
            winner_ = id;
            end(ending::winner, now);
        }
    }
    advance(now);
    return step(now);
}

fsm_action fallback_fsm::failed(std::size_t id, failure f, steady_time now) {
    auto& a = attempts_.at(id);
    if (a.state == attempt_state::ended) return step(now);
    if (a.state == attempt_state::cancelling) {
        // Reported with the reason it was stopped for; what it was billed stays known.
        a.state = attempt_state::ended;
        if (f.diag.cost_usd && records_[a.record].error)
            records_[a.record].error->diag.cost_usd = f.diag.cost_usd;
        advance(now);
        return step(now);
    }
    a.state = attempt_state::ended;
    records_[a.record].error = f;
    records_[a.record].latency = now - a.started;
    if (f.code == asio::error::operation_aborted) {
        // The call was cancelled from outside the operation: the caller's cancellation.
        end(ending::cancelled, now);
        return step(now);
    }
    if (ending_ == ending::none) lane_failed(a.lane, f, now);
    advance(now);
    return step(now);
}

fsm_action fallback_fsm::timer(steady_time now) {
    advance(now);
    return step(now);
}

fsm_action fallback_fsm::cancelled(steady_time now) {
    end(ending::cancelled, now);
    return step(now);
}

void fallback_fsm::lane_failed(std::size_t li, failure const& f, steady_time now) {
    auto& l = lanes_[li];
    // The record of the lane's latest attempt: the failure as reported.
    std::size_t record = 0;
    for (auto it = attempts_.rbegin(); it != attempts_.rend(); ++it)
        if (it->lane == li) {
            record = it->record;
            break;
        }
    auto const d = l.retry.failed(f, now, deadline_);
    switch (d.verdict) {
    case retry_verdict::retry:
        l.state = lane_state::backing_off;
        l.retry_at = d.at;
        return;
    case retry_verdict::no_time:
        if (records_[record].error)
            records_[record].error->diag.message += " (no time left to retry before the deadline)";
        break;
    case retry_verdict::exhausted:
    case retry_verdict::not_retryable: break;
    }
    l.state = lane_state::over;
    if (rules_.move_on && rules_.move_on(f)) {
        if (f.code == make_error_code(error::context_length_exceeded))
            if (auto const cw = candidates_[l.candidate].context_window)
                window_floor_ = std::max(window_floor_.value_or(0), *cw);
        return;
    }
    if (!stopper_) stopper_ = records_[record].error ? *records_[record].error : f;
}

bool fallback_fsm::launch_next(steady_time now) {
    while (next_candidate_ < candidates_.size()) {
        auto const c = next_candidate_++;
        auto const& cand = candidates_[c];
        if (window_floor_ && cand.context_window && *cand.context_window <= *window_floor_) {
            records_.push_back({cand.model,
                                failure(error::context_length_exceeded,
                                        "skipped: its context window is not larger than the one "
                                        "that was exceeded"),
                                {}});
            continue;
        }
        lanes_.push_back(lane{c, retry_fsm(rules_.retry, jitter_), lane_state::attempting, {}});
        last_launch_ = now;
        last_launch_candidate_ = c;
        start_attempt(lanes_.size() - 1, now);
        return true;
    }
    return false;
}

void fallback_fsm::start_attempt(std::size_t li, steady_time now) {
    auto& l = lanes_[li];
    l.retry.started();
    l.state = lane_state::attempting;
    attempt_info a;
    a.candidate = l.candidate;
    a.lane = li;
    a.started = now;
    a.until = deadline_;
    if (rules_.per_attempt > duration::zero() && rules_.per_attempt < deadline_ - now)
        a.until = now + rules_.per_attempt;
    a.record = records_.size();
    records_.push_back({candidates_[l.candidate].model, std::nullopt, {}});
    attempts_.push_back(a);
    pending_.push_back(fsm_start{attempts_.size() - 1, l.candidate, rules_.check_breaker});
}

void fallback_fsm::advance(steady_time now) {
    if (ending_ != ending::none) return;
    if (now >= deadline_) {
        end(ending::deadline, now);
        return;
    }
    for (std::size_t i = 0; i < attempts_.size(); ++i) {
        auto& a = attempts_[i];
        if (a.state != attempt_state::running || a.until > now) continue;
        failure f(error::timeout, "exceeded the per-attempt timeout of " +
                                      ms_text(rules_.per_attempt) + rules_.per_attempt_note);
        a.state = attempt_state::cancelling;
        records_[a.record].error = f;
        records_[a.record].latency = now - a.started;
        pending_.push_back(fsm_cancel{i});
        lane_failed(a.lane, f, now);
    }
    for (std::size_t li = 0; li < lanes_.size(); ++li)
        if (lanes_[li].state == lane_state::backing_off && lanes_[li].retry_at <= now)
            start_attempt(li, now);
    if (!stopper_) {
        if (!any_lane_active()) {
            launch_next(now);
        } else if (rules_.hedge && last_launch_) {
            auto const d = candidates_[last_launch_candidate_].hedge_delay;
            if (d != duration::max() && now - *last_launch_ >= d) launch_next(now);
        }
    }
    if (!any_lane_active()) end(stopper_ ? ending::stopped : ending::exhausted, now);
}

void fallback_fsm::cancel_running(failure const& why, steady_time now) {
    for (std::size_t i = 0; i < attempts_.size(); ++i) {
        auto& a = attempts_[i];
        if (a.state != attempt_state::running) continue;
        a.state = attempt_state::cancelling;
        records_[a.record].error = why;
        records_[a.record].latency = now - a.started;
        pending_.push_back(fsm_cancel{i});
    }
}

void fallback_fsm::end(ending why, steady_time now) {
    if (ending_ != ending::none) return;
    ending_ = why;
    for (auto& l : lanes_) l.state = lane_state::over;
    switch (why) {
    case ending::winner:
        cancel_running(failure(error::cancelled, "cancelled: another candidate answered first"),
                       now);
        break;
    case ending::cancelled:
        cancel_running(failure(asio::error::operation_aborted, rules_.name + " cancelled"), now);
        break;
    case ending::deadline: cancel_running(deadline_failure("exceeded "), now); break;
    case ending::stopped:
    case ending::exhausted:
    case ending::none: break;
    }
}

steady_time fallback_fsm::next_wake() const {
    auto t = deadline_;
    for (auto const& a : attempts_)
        if (a.state == attempt_state::running) t = std::min(t, a.until);
    for (auto const& l : lanes_)
        if (l.state == lane_state::backing_off) t = std::min(t, l.retry_at);
    if (rules_.hedge && !stopper_ && last_launch_ && next_candidate_ < candidates_.size()) {
        auto const d = candidates_[last_launch_candidate_].hedge_delay;
        if (d != duration::max() && d < steady_time::max() - *last_launch_)
            t = std::min(t, *last_launch_ + d);
    }
    return t;
}

fsm_action fallback_fsm::step(steady_time now) {
    (void)now;
    if (!pending_.empty()) {
        auto a = std::move(pending_.front());
        pending_.pop_front();
        return a;
    }
    if (ending_ != ending::none) {
        if (running() == 0 && !finished_) {
            finished_ = true;
            return make_finish();
        }
        // Stopped attempts have yet to report (their connections are being closed).
        return fsm_wait{};
    }
    return fsm_wait{next_wake()};
}

fsm_finish fallback_fsm::make_finish() {
    fsm_finish f;
    std::string const label = rules_.label.empty() ? rules_.name : rules_.label;
    switch (ending_) {
    case ending::winner:
        f.winner = winner_;
        f.winner_record = attempts_[*winner_].record;
        f.winner_started = attempts_[*winner_].started;
        f.attempts = records_;
        return f;
    case ending::cancelled:
        f.error = with_attempts(failure(asio::error::operation_aborted, rules_.name + " cancelled"),
                                records_);
        break;
    case ending::stopped: f.error = with_attempts(*stopper_, records_); break;
    case ending::deadline:
        if (next_candidate_ < candidates_.size())
            records_.push_back({candidates_[next_candidate_].model,
                                failure(error::timeout, "the " + rules_.name + " deadline of " +
                                                            ms_text(rules_.deadline) +
                                                            " passed before this candidate"),
                                {}});
        f.error = all_failed(label, records_);
        break;
    case ending::exhausted:
    case ending::none: f.error = all_failed(label, records_); break;
    }
    f.attempts = records_;
    return f;
}

}  // namespace llmux::detail
