// SPDX-License-Identifier: BSL-1.0
// The one thin coroutine that runs a `fallback_fsm` over the client: it carries out the
// machine's actions (start an attempt, cancel one, wait) and feeds back what happened, with
// the time. Attempts are whole answers (`client::chat`) or the opening of streams up to their
// first content; the driver does not care which.
#pragma once

#include "policy/fallback_fsm.hpp"

#include <llmux/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

namespace llmux::detail {

/// What `drive` returns: how the machine finished and each attempt's outcome (by attempt).
template <class Outcome>
struct drive_result {
    fsm_finish finish;
    std::vector<std::optional<Outcome>> outcomes;
};

template <class Outcome>
struct drive_state {
    /// Which attempt is over. Its outcome waits in `outcomes`: an answer is a large value, and
    /// a channel, a parallel group and their handlers moved it a dozen times on its way
    /// (a fifth of a gateway request through a model group, by callgrind).
    using channel = boost::asio::experimental::channel<void(boost::system::error_code,
                                                            std::size_t)>;
    drive_state(boost::asio::any_io_executor ex, std::size_t capacity) : ch(std::move(ex), capacity) {}
    channel ch;
    std::vector<std::shared_ptr<boost::asio::cancellation_signal>> signals;
    std::vector<std::optional<Outcome>> outcomes;  // by attempt, set before its id is sent
};

/// One attempt: its work, then its outcome on the channel (exceptions become failures, so
/// that every started attempt reports and the machine can finish).
template <class Outcome, class Fail>
boost::asio::awaitable<void> drive_attempt(std::shared_ptr<drive_state<Outcome>> st,
                                           std::shared_ptr<boost::asio::cancellation_signal> sig,
                                           std::size_t id, boost::asio::awaitable<Outcome> work,
                                           Fail make_failed) {
    (void)sig;  // kept alive until the attempt is over: its slot is this coroutine's
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    std::optional<Outcome> out;
    try {
        out.emplace(co_await std::move(work));
    } catch (std::exception const& e) {
        out.emplace(make_failed(failure(error::protocol_error, e.what())));
    }
    // Attempts run on the driver's executor (a strand or one thread): no lock. The channel
    // holds one slot per possible attempt, so the send never waits or drops.
    st->outcomes.at(id) = std::move(out);
    st->ch.try_send(boost::system::error_code{}, id);
}

/** Runs `fsm` to its end. `start(attempt, model, attempt_number)` returns the attempt's work,
    an `awaitable<Outcome>` that follows its coroutine's cancellation; `judge(outcome)` says
    whether it answered (empty) or failed (the failure); `make_failed(failure)` builds an
    outcome for an attempt that threw. Must run on a strand (or a single-threaded context):
    attempts run beside it on the same executor. `max_attempts` bounds the attempts the machine
    can start. The caller's cancellation is passed to the machine, which cancels and collects
    every attempt before it finishes.
*/
template <class Outcome, class Start, class Judge, class Fail>
boost::asio::awaitable<drive_result<Outcome>> drive(client& c, fallback_fsm& fsm,
                                                    std::size_t max_attempts, Start start,
                                                    Judge judge, Fail make_failed) {
    namespace asio = boost::asio;
    using clock = std::chrono::steady_clock;
    co_await asio::this_coro::throw_if_cancelled(false);
    auto const ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<drive_state<Outcome>>(ex, max_attempts + 1);
    drive_result<Outcome> out;
    bool caller_cancelled = false, told = false;

    auto act = fsm.begin(clock::now());
    for (;;) {
        if (auto* s = std::get_if<fsm_start>(&act)) {
            auto const& model = fsm.candidates()[s->candidate].model;
            if (s->check_breaker && !c.admit(model)) {
                act = fsm.refused(s->attempt, failure(error::circuit_open, "skipped: circuit open"),
                                  clock::now());
                continue;
            }
            if (st->signals.size() <= s->attempt) st->signals.resize(s->attempt + 1);
            if (st->outcomes.size() <= s->attempt) st->outcomes.resize(s->attempt + 1);
            auto sig = std::make_shared<asio::cancellation_signal>();
            st->signals[s->attempt] = sig;
            auto work = start(s->attempt, model, static_cast<std::uint32_t>(s->attempt + 1));
            asio::co_spawn(ex, drive_attempt<Outcome>(st, sig, s->attempt, std::move(work), make_failed),
                           asio::bind_cancellation_slot(sig->slot(), asio::detached));
            act = fsm.resume(clock::now());
            continue;
        }
        if (auto* k = std::get_if<fsm_cancel>(&act)) {
            // Emitted from inside the executor the attempt runs on (see util/spawn.hpp).
            st->signals.at(k->attempt)->emit(asio::cancellation_type::terminal);
            act = fsm.resume(clock::now());
            continue;
        }
        if (auto* f = std::get_if<fsm_finish>(&act)) {
            // The machine finishes once every attempt it started has reported: all outcomes
            // are in, and no attempt writes one any more.
            out.finish = std::move(*f);
            out.outcomes = std::move(st->outcomes);
            co_return out;
        }
        auto const until = std::get<fsm_wait>(act).until;
        if (caller_cancelled && !told) {
            told = true;
            act = fsm.cancelled(clock::now());
            continue;
        }
        std::optional<std::size_t> got;  // the attempt that is over
        bool fired = false;
        if (until == steady_time::max()) {
            auto [ec, id] = co_await st->ch.async_receive(asio::as_tuple(asio::use_awaitable));
            if (!ec) got = id;
        } else {
            using namespace asio::experimental::awaitable_operators;
            asio::steady_timer timer(ex, until);
            auto r = co_await (st->ch.async_receive(asio::as_tuple(asio::use_awaitable)) ||
                               timer.async_wait(asio::as_tuple(asio::use_awaitable)));
            if (r.index() == 0) {
                auto const& [ec, id] = std::get<0>(r);
                if (!ec) got = id;
            } else {
                fired = !std::get<0>(std::get<1>(r));
            }
        }
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) caller_cancelled = true;
        auto const now = clock::now();
        if (got) {
            auto const id = *got;
            auto err = judge(*st->outcomes.at(id));
            act = err ? fsm.failed(id, std::move(*err), now) : fsm.answered(id, now);
        } else if (caller_cancelled && !told) {
            told = true;
            act = fsm.cancelled(now);
        } else if (fired) {
            act = fsm.timer(now);
        } else {
            act = fsm.timer(now);  // a wait cut short without a cause: look again
        }
    }
}

}  // namespace llmux::detail
