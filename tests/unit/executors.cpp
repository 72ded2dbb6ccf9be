// SPDX-License-Identifier: BSL-1.0
// The executors llmux runs its steps on (src/util/strand.hpp, src/util/spawn.hpp): strands that
// fit any_io_executor's small buffer, none on a single-threaded io_context, and run_on, which
// runs a step inline when the caller is already where the step must run.
#include "util/spawn.hpp"
#include "util/strand.hpp"

#include "common/run_coro.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/test/unit_test.hpp>

namespace asio = boost::asio;
using llmux::detail::make_small_strand;
using llmux::detail::run_on;
using llmux::detail::single_threaded;

BOOST_AUTO_TEST_SUITE(executors)

BOOST_AUTO_TEST_CASE(a_single_threaded_context_gets_no_strand) {
    asio::io_context one(1);
    asio::any_io_executor ex = one.get_executor();
    BOOST_TEST(single_threaded(ex));
    BOOST_TEST((make_small_strand(ex) == ex));
}

BOOST_AUTO_TEST_CASE(a_context_for_many_threads_gets_a_strand_that_fits_in_place) {
    asio::io_context many;
    asio::any_io_executor ex = many.get_executor();
    BOOST_TEST(!single_threaded(ex));
    auto s = make_small_strand(ex);
    BOOST_TEST((s != ex));
    // The strand over the context's own executor type: 24 bytes, kept in place by every
    // any_io_executor copy (a strand<any_io_executor> is not, and each copy allocated).
    BOOST_TEST((s.target<asio::strand<asio::io_context::executor_type>>() != nullptr));
    // Each call makes a strand of its own.
    BOOST_TEST((make_small_strand(ex) != s));
}

BOOST_AUTO_TEST_CASE(other_executors_get_a_general_strand) {
    asio::thread_pool pool(1);
    asio::any_io_executor ex = pool.get_executor();
    BOOST_TEST(!single_threaded(ex));
    BOOST_TEST((make_small_strand(ex).target<asio::strand<asio::any_io_executor>>() != nullptr));
    pool.join();
}

namespace {

/// Reports whether a handler posted before it started had run by the time it started: a step
/// run inline starts before anything posted earlier; one in a new coroutine thread may not.
asio::awaitable<bool> saw(bool const& posted) {
    co_await asio::this_coro::throw_if_cancelled(false);
    co_return posted;
}

asio::awaitable<int> answer() {
    co_await asio::this_coro::throw_if_cancelled(false);
    co_return 42;
}

asio::awaitable<bool> runs_on(asio::any_io_executor want) {
    auto const here = co_await asio::this_coro::executor;
    co_return here == want;
}

}  // namespace

BOOST_AUTO_TEST_CASE(run_on_runs_inline_where_the_caller_already_is) {
    asio::io_context one(1);
    bool posted = false;  // outlives the coroutine: the posted handler runs after it
    auto r = llmux::test::run_coro(one, [&]() -> asio::awaitable<std::pair<bool, bool>> {
        co_await asio::this_coro::throw_if_cancelled(false);
        asio::post(one, [&] { posted = true; });
        asio::any_io_executor const ex = one.get_executor();
        bool const inline_saw = co_await run_on(ex, saw(posted));
        bool const still_off = !co_await asio::this_coro::throw_if_cancelled();
        co_return std::pair{inline_saw, still_off};
    });
    BOOST_TEST(!r.first);  // started before the handler posted earlier
    BOOST_TEST(r.second);
}

BOOST_AUTO_TEST_CASE(run_on_keeps_a_callers_throwing_flag) {
    // A caller that throws on cancellation (Asio's default, user code) gets a coroutine thread
    // for the step, which turns the flag off for itself only.
    asio::io_context one(1);
    auto r = llmux::test::run_coro(one, [&]() -> asio::awaitable<std::pair<int, bool>> {
        auto const v = co_await run_on(asio::any_io_executor(one.get_executor()), answer());
        bool const throws = co_await asio::this_coro::throw_if_cancelled();
        co_return std::pair{v, throws};
    });
    BOOST_TEST(r.first == 42);
    BOOST_TEST(r.second);
}

BOOST_AUTO_TEST_CASE(run_on_hops_to_another_executor) {
    asio::io_context many;
    auto strand = make_small_strand(many.get_executor());
    auto r = llmux::test::run_coro(many, [&]() -> asio::awaitable<bool> {
        co_await asio::this_coro::throw_if_cancelled(false);
        co_return co_await run_on(strand, runs_on(strand));
    });
    BOOST_TEST(r);
}

BOOST_AUTO_TEST_SUITE_END()
