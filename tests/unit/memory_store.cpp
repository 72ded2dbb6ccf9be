// SPDX-License-Identifier: BSL-1.0
// The memory state store: the rules every store keeps (common/state_conformance), then what is
// its own: caps with LRU eviction, the ledger ring, and concurrency on one budget.
#include <llmux/state.hpp>

#include "common/run_coro.hpp"
#include "common/state_conformance.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <limits>
#include <thread>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

memory_store_config test_config(test::virtual_clock const& clock) {
    memory_store_config cfg;
    cfg.limits = test::conformance_limits();
    cfg.clock = clock.fn();
    return cfg;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(memory_store)

BOOST_AUTO_TEST_CASE(keeps_the_rules_of_every_store) {
    test::virtual_clock clock;
    llmux::memory_store store(test_config(clock));
    BOOST_TEST(store.kind() == "memory");
    BOOST_TEST(store.available());
    asio::io_context ctx;
    test::check_all_rules(ctx, store, clock, "t:");
}

BOOST_AUTO_TEST_CASE(new_keys_beyond_the_cap_fail_and_spend_is_never_evicted) {
    test::virtual_clock clock;
    auto cfg = test_config(clock);
    cfg.max_keys = 2;
    llmux::memory_store store(cfg);
    asio::io_context ctx;
    settlement s;
    s.costs = {{"m", 7}};
    BOOST_TEST(test::run_coro(ctx, [&] { return store.charge("a", s); }).has_value());
    BOOST_TEST(test::run_coro(ctx, [&] { return store.charge("b", s); }).has_value());
    auto r = test::run_coro(ctx, [&] { return store.reserve("c", 1, nano_usd(10), 1s); });
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == make_error_code(state_error::full)));
    BOOST_TEST(r.error().diag.message.find("max_keys") != std::string::npos);
    auto sp = test::run_coro(ctx, [&] { return store.spend("a"); });
    BOOST_TEST(sp->spent == 7);
}

BOOST_AUTO_TEST_CASE(reservations_per_key_are_capped) {
    test::virtual_clock clock;
    llmux::memory_store store(test_config(clock));  // 50 per key
    asio::io_context ctx;
    for (int i = 0; i < 50; ++i) {
        auto r = test::run_coro(ctx, [&] { return store.reserve("k", 0, std::nullopt, 1s); });
        BOOST_TEST_REQUIRE((r.has_value() && r->granted()));
    }
    auto r = test::run_coro(ctx, [&] { return store.reserve("k", 0, std::nullopt, 1s); });
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == make_error_code(state_error::full)));
    BOOST_TEST(r.error().diag.message.find("max_reservations_per_key") != std::string::npos);
    clock.advance(1s);  // they expire: room again
    r = test::run_coro(ctx, [&] { return store.reserve("k", 0, std::nullopt, 1s); });
    BOOST_TEST((r.has_value() && r->granted()));
}

BOOST_AUTO_TEST_CASE(cache_evicts_the_least_recently_used_beyond_its_size) {
    test::virtual_clock clock;
    auto cfg = test_config(clock);
    cfg.limits.max_cache_bytes = 300;  // three entries of 2 + 98 bytes
    llmux::memory_store store(cfg);
    asio::io_context ctx;
    auto put = [&](std::string k) {
        BOOST_TEST(test::run_coro(ctx, [&] {
                       return store.cache_put(k, std::string(98, 'v'), 60s);
                   }).has_value());
    };
    auto has = [&](std::string k) {
        auto r = test::run_coro(ctx, [&] { return store.cache_get(k); });
        return r.has_value() && r->has_value();
    };
    put("k1");
    put("k2");
    put("k3");
    BOOST_TEST(store.cache_bytes() == 300u);
    BOOST_TEST(has("k1"));  // k1 used: k2 is now the oldest
    put("k4");
    BOOST_TEST(store.cache_bytes() == 300u);
    BOOST_TEST(!has("k2"));
    BOOST_TEST(has("k1"));
    BOOST_TEST(has("k3"));
    BOOST_TEST(has("k4"));
    // Expired entries are dropped when read, and their bytes given back.
    clock.advance(60s);
    BOOST_TEST(!has("k1"));
    BOOST_TEST(store.cache_bytes() == 200u);
}

BOOST_AUTO_TEST_CASE(rate_buckets_and_models_are_bounded_by_lru) {
    test::virtual_clock clock;
    auto cfg = test_config(clock);
    cfg.max_rate_buckets = 2;
    cfg.max_models = 2;
    llmux::memory_store store(cfg);
    asio::io_context ctx;
    rate_quota const one{.requests_per_minute = 1};
    auto acquire = [&](std::string b) {
        return test::run_coro(ctx, [&] { return store.acquire_rate(b, one, 0); })->allowed;
    };
    BOOST_TEST(acquire("a"));
    BOOST_TEST(acquire("b"));
    BOOST_TEST(!acquire("a"));  // a is the most recent now
    BOOST_TEST(acquire("c"));   // evicts b
    BOOST_TEST(acquire("b"));   // b starts afresh (evicts a)
    BOOST_TEST(!acquire("c"));

    for (auto m : {"m1", "m2", "m3"})
        BOOST_TEST(test::run_coro(ctx, [&] {
                       return store.observe_latency(m, latency_sample{1ms, 2ms});
                   }).has_value());
    auto h = test::run_coro(ctx, [&] { return store.health("m1"); });
    BOOST_TEST(h->latency.samples == 0u);  // evicted
    h = test::run_coro(ctx, [&] { return store.health("m3"); });
    BOOST_TEST(h->latency.samples == 1u);
}

BOOST_AUTO_TEST_CASE(ledger_ring_keeps_the_most_recent_rows) {
    test::virtual_clock clock;
    auto cfg = test_config(clock);
    cfg.ledger_rows = 3;
    llmux::memory_store store(cfg);
    asio::io_context ctx;
    for (int i = 0; i < 5; ++i) {
        ledger_entry e;
        e.request_id = "r" + std::to_string(i);
        e.status = 200;
        if (i % 2) {
            BOOST_TEST(test::run_coro(ctx, [&] { return store.record(e); }).has_value());
        } else {
            settlement s;
            s.costs = {{"m", 1}};
            s.entry = e;
            BOOST_TEST(test::run_coro(ctx, [&] { return store.charge("k", s); }).has_value());
        }
    }
    auto rows = store.recent_ledger();
    BOOST_TEST_REQUIRE(rows.size() == 3u);
    BOOST_TEST(rows[0].request_id == "r2");
    BOOST_TEST(rows[2].request_id == "r4");
}

BOOST_AUTO_TEST_CASE(concurrent_reservations_never_exceed_the_budget) {
    // 300 coroutines on four threads race for a budget that fits 100 reservations.
    llmux::memory_store store;
    asio::thread_pool pool(4);
    std::atomic<int> granted{0}, refused{0}, failed{0};
    for (int i = 0; i < 300; ++i)
        asio::co_spawn(
            pool,
            [&]() -> asio::awaitable<void> {
                auto r = co_await store.reserve("shared", 10, nano_usd(1000), 60s);
                if (!r)
                    ++failed;
                else if (r->granted())
                    ++granted;
                else
                    ++refused;
            },
            asio::detached);
    pool.join();
    BOOST_TEST(granted.load() == 100);
    BOOST_TEST(refused.load() == 200);
    BOOST_TEST(failed.load() == 0);
}

BOOST_AUTO_TEST_CASE(store_errors_have_stable_names_and_messages) {
    BOOST_TEST(code_name(make_error_code(state_error::unavailable)) == "store_unavailable");
    BOOST_TEST(code_name(make_error_code(state_error::timeout)) == "store_timeout");
    BOOST_TEST(code_name(make_error_code(state_error::storage)) == "store_storage");
    BOOST_TEST(std::string(state_category().name()) == "llmux.state");
    BOOST_TEST(make_error_code(state_error::full).message() == "a state store cap was reached");
    failure f(make_error_code(state_error::unavailable), "Redis at 127.0.0.1:1 is unavailable");
    BOOST_TEST(f.to_string() == "store_unavailable: Redis at 127.0.0.1:1 is unavailable");
}

BOOST_AUTO_TEST_CASE(usd_converts_to_exact_nano_usd) {
    BOOST_TEST(to_nano_usd(0.0025) == 2'500'000);
    BOOST_TEST(to_nano_usd(1e-9) == 1);
    BOOST_TEST(to_nano_usd(-3) == 0);
    BOOST_TEST(to_nano_usd(std::numeric_limits<double>::quiet_NaN()) == 0);
    BOOST_TEST(to_nano_usd(1e30) == max_amount);
    BOOST_TEST(to_usd(2'500'000) == 0.0025);
}

BOOST_AUTO_TEST_SUITE_END()
