// SPDX-License-Identifier: BSL-1.0
// What a client keeps across calls (DESIGN.md layers 10-11): per-model measurements and
// circuit breakers, client-side rate limits, and the spend budget. No I/O here except the
// limiter's wait.
#pragma once

#include "policy/breaker.hpp"
#include "policy/concurrency.hpp"

#include <llmux/config.hpp>
#include <llmux/error.hpp>
#include <llmux/state.hpp>
#include <llmux/telemetry.hpp>
#include <llmux/types.hpp>

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace llmux::detail {

using steady = std::chrono::steady_clock;

/// True when a failure says something about the model's health (it counts toward opening
/// its circuit): timeouts, throttling, overload, server and transport failures, broken
/// streams. Not the caller's mistakes (bad request, auth, content filter) nor cancellation.
bool counts_against_health(failure const& f) noexcept;

/// The measurements and circuit of one `provider/model`.
class model_book {
public:
    explicit model_book(std::string model) : model_(std::move(model)) {}

    void started() noexcept { ++in_flight_; }
    std::uint64_t in_flight() const noexcept { return in_flight_.load(); }
    /// Records a finished attempt; updates the circuit.
    void finished(std::optional<failure> const& error, std::chrono::nanoseconds ttft,
                  std::chrono::nanoseconds latency, usage const& u, std::optional<double> cost,
                  breaker_config const& cfg, steady::time_point now);

    /** True when a fallback or router may try the model now. An open circuit whose cool-down
        has ended turns half-open and admits this one caller as its probe.
    */
    bool admit(breaker_config const& cfg, steady::time_point now);
    /// A call ended before it was sent (refused by a budget, a limit): frees a probe's place.
    void not_sent();

    circuit_state circuit(breaker_config const& cfg, steady::time_point now) const;
    model_estimate estimate(breaker_config const& cfg, steady::time_point now) const;

    /** This replica's health of the model, to share through a state store: its breaker
        (`updated_at` = when it last changed between closed and open here, or the time of the
        shared decision it took on) and its own latency averages.
    */
    model_health health(breaker_config const& cfg, steady::time_point now,
                        std::chrono::system_clock::time_point sys_now) const;
    /** Merges what a state store holds: a breaker decision newer than this one's is taken on
        (`breaker_fsm::adopt`), and the shared latency averages (every replica's samples)
        replace the local ones.
    */
    void merge(model_health const& shared, steady::time_point now,
               std::chrono::system_clock::time_point sys_now);
    model_metrics snapshot(breaker_config const& cfg, steady::time_point now) const;

private:
    /// Notes when the breaker changed between closed and open (mu_ held).
    void note_change();

    std::string model_;
    latency_histogram ttft_;
    latency_histogram latency_;
    std::atomic<std::uint64_t> in_flight_{0};
    mutable std::mutex mu_;  // guards everything below
    std::uint64_t calls_ = 0, failures_ = 0, input_ = 0, output_ = 0, samples_ = 0;
    double cost_ = 0;
    std::optional<double> ewma_ttft_ns_, ewma_latency_ns_;
    breaker_fsm breaker_;
    /// When the breaker last changed here or took on a shared decision (system clock, as
    /// replicas compare it); `changes_seen_` is the breaker's change count at that time.
    std::chrono::system_clock::time_point changed_at_{};
    std::uint64_t changes_seen_ = 0;
    /// Successful calls measured by every replica, as the store last said.
    std::uint64_t shared_samples_ = 0;
};

/** The books of the tracked models: at most `cap` of them besides the pinned ones. Beyond
    the cap the least recently used book with no call in flight is forgotten, so ids that
    clients make up cannot grow memory without bound.
*/
class model_books {
public:
    explicit model_books(std::size_t cap = 256) : cap_(std::max<std::size_t>(cap, 1)) {}

    /// The book of `model`, created if needed (which may forget another).
    std::shared_ptr<model_book> get(std::string const& model);
    /// The book of `model` if it has one, marked as recently used; never creates one.
    std::shared_ptr<model_book> existing(std::string_view model);
    /// As `existing`, without marking it used.
    std::shared_ptr<model_book> find(std::string_view model) const;
    /// Creates `model`'s book if needed and never forgets it.
    void pin(std::string const& model);
    std::vector<std::shared_ptr<model_book>> all() const;
    std::size_t size() const;

private:
    struct entry {
        std::shared_ptr<model_book> book;
        std::list<std::string>::iterator lru;  // into lru_; end() when pinned
    };
    entry& create(std::string const& model);
    void evict();

    std::size_t cap_;
    mutable std::mutex mu_;
    std::map<std::string, entry, std::less<>> books_;
    std::list<std::string> lru_;  // unpinned models, most recently used first
};

/** One provider's token buckets (requests and tokens per minute), as a pure class: time is
    passed in. Full at first; each bucket holds a minute's worth and refills continuously.
*/
struct rate_bucket {
    double requests = 0, tokens = 0;
    steady::time_point at{};
    bool init = false;

    /** Takes one request of `tokens` tokens at `now` and returns zero, or, when the buckets
        cannot cover it yet, takes nothing and returns how long until they can (rounded up by
        a millisecond). A request larger than the whole token bucket passes when it is full.
    */
    steady::duration take(rate_limit const& lim, double tokens, steady::time_point now);
};

/// Token buckets per provider (requests and tokens per minute).
class rate_limiter {
public:
    explicit rate_limiter(std::map<std::string, rate_limit, std::less<>> limits)
        : limits_(std::move(limits)) {}

    /** Waits until `provider` has capacity for one request of about `tokens` tokens, or fails
        with `error::rate_limited` when that cannot happen before `deadline` (nothing is taken
        then). Must run in one of llmux's own coroutine threads.
    */
    boost::asio::awaitable<result<void>> acquire(std::string const& provider, double tokens,
                                                 steady::time_point deadline);

    /// Corrects the token bucket once the real usage is known.
    void settle(std::string const& provider, double estimated, double actual);

    bool limited(std::string_view provider) const { return limits_.count(provider) != 0; }

private:
    std::map<std::string, rate_limit, std::less<>> limits_;
    std::mutex mu_;
    std::map<std::string, rate_bucket, std::less<>> buckets_;
};

/// What a provider's adaptive concurrency limiter shows (`client::concurrency`).
struct gate_snapshot {
    std::string provider;
    std::size_t limit = 0;
    std::size_t in_flight = 0;
    std::size_t queued = 0;
    std::uint64_t cuts = 0;
    std::uint64_t requeued = 0;
};

/** Adaptive concurrency per provider (`concurrency_config`): an `aimd_limiter` each, with a
    bounded first-come queue in front of it. Calls wait for a slot until their deadline.
*/
class concurrency_gates {
public:
    explicit concurrency_gates(concurrency_config cfg);
    ~concurrency_gates();
    bool enabled() const noexcept { return cfg_.enabled; }
    concurrency_config const& config() const noexcept { return cfg_; }

    /** Waits for a slot of `provider` until `deadline`. Errors: `error::rate_limited` naming
        the limit when the queue is full or the deadline comes first; `operation_aborted` when
        the waiting coroutine is cancelled. Must run in one of llmux's own coroutine threads.
    */
    boost::asio::awaitable<result<void>> acquire(std::string const& provider,
                                                 steady::time_point deadline);
    /// Gives a slot back with what the call taught (see `aimd_limiter::release`).
    void release(std::string const& provider, call_outcome outcome, steady::time_point started,
                 std::optional<std::chrono::nanoseconds> ttft);
    /// Counts a call sent back to the queue after a 429/529.
    void requeued(std::string const& provider);

    std::vector<gate_snapshot> snapshot() const;
    std::optional<gate_snapshot> snapshot(std::string_view provider) const;

private:
    struct waiter;
    struct gate;
    gate& gate_of(std::string const& provider);  // under mu_
    void grant(gate& g);                          // under mu_

    concurrency_config cfg_;
    mutable std::mutex mu_;
    // Keyed by configured providers only (a call to an unknown one fails before it gets here).
    std::map<std::string, std::unique_ptr<gate>, std::less<>> gates_;
};

/** The client's spend and its budget. A call reserves the most it may cost before it is
    sent and gives the reservation back when it has settled its real cost, so that calls in
    flight together cannot spend past the budget.
*/
class spend_meter {
public:
    explicit spend_meter(std::optional<double> budget) : budget_(budget) {}
    bool has_budget() const noexcept { return budget_.has_value(); }
    /// `budget_exceeded` when no new call may start.
    result<void> check() const;
    /// Reserves `usd` (the most the call may cost), or `budget_exceeded` when the spend, the
    /// other reservations and `usd` do not fit in the budget.
    result<void> reserve(double usd);
    /// Gives back a reservation (its call has recorded its real cost, or failed).
    void release(double usd) noexcept;
    /// Counts a finished call: its tokens, and its cost when known.
    void record(bool failed, usage const& u, std::optional<double> cost);
    client_totals totals() const;

private:
    std::optional<double> budget_;
    mutable std::mutex mu_;
    client_totals totals_;
    double reserved_ = 0;
};

}  // namespace llmux::detail
