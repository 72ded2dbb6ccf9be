// SPDX-License-Identifier: BSL-1.0
// Test helpers for coroutine code: run a coroutine on an io_context with a deadline, failing the
// test instead of hanging, and check that a context runs out of work (nothing leaked).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace llmux::test {

using test_duration = std::chrono::steady_clock::duration;

namespace detail {

template <class T>
struct awaitable_value;
template <class T, class Executor>
struct awaitable_value<boost::asio::awaitable<T, Executor>> {
    using type = T;
};

template <class T>
struct coro_state {
    boost::asio::cancellation_signal cancel;
    bool done = false;
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
};

}  // namespace detail

/** @brief Runs the coroutine `make()` returns on `ctx` (which must not be running elsewhere)
    until it completes, and returns its value; rethrows its exception.

    If it has not completed after `timeout`, it gets a terminal cancellation and a moment to
    unwind, then the test fails (BOOST_FAIL) rather than hangs. Other work on `ctx` (servers,
    other coroutines) runs meanwhile.
*/
template <class MakeAwaitable>
auto run_coro(boost::asio::io_context& ctx, MakeAwaitable&& make,
              test_duration timeout = std::chrono::seconds(30)) {
    using awaitable_t = std::decay_t<std::invoke_result_t<MakeAwaitable&>>;
    using T = typename detail::awaitable_value<awaitable_t>::type;
    // Shared with the completion handler, so nothing dangles if the coroutine outlives us.
    auto st = std::make_shared<detail::coro_state<T>>();
    boost::asio::co_spawn(ctx, make(),
                          boost::asio::bind_cancellation_slot(
                              st->cancel.slot(), [st](std::exception_ptr e, auto&&... v) {
                                  st->done = true;
                                  st->error = e;
                                  if constexpr (sizeof...(v) > 0)
                                      if (!e) st->value.emplace(std::move(v)...);
                                  if constexpr (sizeof...(v) == 0) st->value.emplace(true);
                              }));
    if (ctx.stopped()) ctx.restart();
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    while (!st->done && std::chrono::steady_clock::now() < deadline) {
        ctx.run_one_until(deadline);
        if (ctx.stopped() && !st->done) break;  // out of work: the coroutine was dropped
    }
    if (!st->done) {
        st->cancel.emit(boost::asio::cancellation_type::terminal);
        if (ctx.stopped()) ctx.restart();
        auto const grace = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!st->done && std::chrono::steady_clock::now() < grace && !ctx.stopped())
            ctx.run_one_until(grace);
        BOOST_FAIL("coroutine did not complete within "
                   << std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()
                   << " ms");
    }
    if (st->error) std::rethrow_exception(st->error);
    if constexpr (!std::is_void_v<T>) return std::move(*st->value);
}

/** @brief Runs `ctx` until it runs out of work; false if work remains after `timeout`
    (a leaked timer, socket or coroutine).
*/
inline bool runs_out_of_work(boost::asio::io_context& ctx,
                             test_duration timeout = std::chrono::seconds(5)) {
    if (ctx.stopped()) ctx.restart();
    ctx.run_for(timeout);
    return ctx.stopped();
}

/** @brief Runs `ctx` until `pred()` holds (checked after each handler) or `timeout` passes;
    returns `pred()`. For effects that follow a completion a little later (a server noticing
    that a client closed).
*/
template <class Predicate>
bool run_until(boost::asio::io_context& ctx, Predicate&& pred,
               test_duration timeout = std::chrono::seconds(5)) {
    if (ctx.stopped()) ctx.restart();
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
        if (ctx.run_one_until(deadline) == 0 && ctx.stopped()) break;
    }
    return pred();
}

/** @brief A fixture with an io_context that must run out of work when the test ends (so
    servers were stopped and no operation leaked).
*/
struct io_context_fixture {
    boost::asio::io_context ctx;

    io_context_fixture() = default;
    io_context_fixture(io_context_fixture const&) = delete;
    io_context_fixture& operator=(io_context_fixture const&) = delete;
    ~io_context_fixture() {
        BOOST_CHECK_MESSAGE(runs_out_of_work(ctx), "the io_context still has work at the end of "
                                                   "the test (a server not stopped, a leak)");
    }

    /// @brief `run_coro(ctx, make, timeout)`.
    template <class MakeAwaitable>
    auto run(MakeAwaitable&& make, test_duration timeout = std::chrono::seconds(30)) {
        return run_coro(ctx, std::forward<MakeAwaitable>(make), timeout);
    }
};

}  // namespace llmux::test
