// SPDX-License-Identifier: BSL-1.0
// `co_await spawn_on(ex, op)`: runs `op` in a coroutine thread of its own on `ex` (typically a
// strand) and waits for it, forwarding the caller's cancellation.
//
// Why not plain `co_await co_spawn(ex, op, use_awaitable)`: Boost 1.81's co_spawn forwards a
// cancellation to a coroutine on another executor by dispatching a lambda that holds a raw
// pointer to a signal owned by the completion handler. When the dispatch is not run inline (the
// emitter is not inside `ex`, e.g. a strand) and the coroutine finishes before the posted lambda
// runs, the lambda emits a destroyed signal: a use-after-free (seen as crashes when clients
// disconnect under load, and possible whenever a per-attempt timeout or a hedge cancels a call).
// Here the forwarding signal is shared, and it is always emitted from inside `ex`, where
// co_spawn's own forwarding runs inline.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <utility>

namespace llmux::detail {

/// `op`, in a coroutine thread whose state is first cancelled with `type` through `sig` (the
/// signal bound to the thread's co_spawn; emitted from inside the thread's executor, where
/// co_spawn forwards it inline), and which does not throw on cancellation, as a step run
/// inline in its caller's thread would not.
template <class T>
boost::asio::awaitable<T> start_cancelled(boost::asio::awaitable<T> op,
                                          std::shared_ptr<boost::asio::cancellation_signal> sig,
                                          boost::asio::cancellation_type type) {
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    sig->emit(type);
    co_return co_await std::move(op);
}

template <class T, class Executor>
boost::asio::awaitable<T> spawn_on(Executor ex, boost::asio::awaitable<T> op) {
    namespace asio = boost::asio;
    auto sig = std::make_shared<asio::cancellation_signal>();
    auto cs = co_await asio::this_coro::cancellation_state;
    auto parent = cs.slot();
    if (parent.is_connected())
        parent.assign([sig, ex](asio::cancellation_type type) {
            asio::dispatch(ex, [sig, type] { sig->emit(type); });
        });
    // Unhooks both slots however this coroutine ends; a forward still queued then emits into
    // an empty slot, which does nothing.
    struct unhook {
        asio::cancellation_slot parent;
        std::shared_ptr<asio::cancellation_signal> sig;
        ~unhook() {
            if (parent.is_connected()) parent.clear();
        }
    } const guard{parent, sig};
    // A caller cancelled before this step (it went on, its throw_if_cancelled off) hands the
    // step that state, as the step would have shared it inline: the transport, which checks it
    // between steps, then stops before sending. Without this a cancellation that landed
    // between two steps was lost on several threads (strands) and kept on one.
    auto const already = cs.cancelled();
    if (already == asio::cancellation_type::none)
        co_return co_await asio::co_spawn(
            ex, std::move(op), asio::bind_cancellation_slot(sig->slot(), asio::use_awaitable));
    co_return co_await asio::co_spawn(ex, start_cancelled(std::move(op), sig, already),
                                      asio::bind_cancellation_slot(sig->slot(),
                                                                   asio::use_awaitable));
}

/// run_on's choice, for a caller that makes it itself to save run_on's frame: `here` and
/// `throws` are the caller's `this_coro::executor` and `this_coro::throw_if_cancelled()` (read
/// as named steps: GCC 12 miscompiles temporaries of co_await expressions in a condition).
inline bool runs_inline(boost::asio::any_io_executor const& here, bool throws,
                        boost::asio::any_io_executor const& ex) noexcept {
    return !throws && here == ex;
}

/** run_on's choice as a plain function, for a caller that has read `here` and `throws`
    itself: `op` itself when it can run inline, else `spawn_on(ex, op)`. No frame of its own
    (run_on needs one only to read those two).
*/
template <class T>
boost::asio::awaitable<T> inline_or_spawn(boost::asio::any_io_executor const& here, bool throws,
                                          boost::asio::any_io_executor ex,
                                          boost::asio::awaitable<T> op) {
    if (runs_inline(here, throws, ex)) return op;
    return spawn_on(std::move(ex), std::move(op));
}

/** `co_await run_on(ex, op)`: runs `op` on `ex` like `spawn_on`, but inline, in the caller's
    coroutine thread, when the caller already runs on `ex` and does not throw on cancellation
    (llmux's coroutines turn `throw_if_cancelled` off, and a thread of their own is how `op`
    gets that flag without changing the caller's). This is the common case with one thread
    (util/strand.hpp: no strands then), where a new coroutine thread per step cost a frame,
    a dispatch and a cancellation hook (issue 15).

    Inline, `op` shares the caller's cancellation state; in a thread of its own it starts in
    the state the caller is in (`spawn_on`), so a cancellation that landed between two steps
    stops the next one however many threads run it. A caller that goes on after being
    cancelled and wants to call again resets its state first
    (`co_await this_coro::reset_cancellation_state()`, Asio's idiom).
*/
template <class T>
boost::asio::awaitable<T> run_on(boost::asio::any_io_executor ex, boost::asio::awaitable<T> op) {
    namespace asio = boost::asio;
    asio::any_io_executor const here = co_await asio::this_coro::executor;
    bool const throws = co_await asio::this_coro::throw_if_cancelled();
    co_return co_await inline_or_spawn(here, throws, std::move(ex), std::move(op));
}

}  // namespace llmux::detail
