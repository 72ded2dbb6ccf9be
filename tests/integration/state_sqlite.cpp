// SPDX-License-Identifier: BSL-1.0
// The SQLite state store on a temporary file: the rules every store keeps, exact budgets under
// concurrency (one store and two stores on one file), what survives a reopen, the ledger read
// with SQL, retention, the cache cap, and clear failures for unusable files.
#include <llmux/state.hpp>

#include "common/run_coro.hpp"
#include "common/state_conformance.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/test/unit_test.hpp>

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

/// A database path in a fresh temporary directory, removed with everything in it.
struct temp_db {
    fs::path dir;
    std::string path;
    temp_db() {
        std::random_device rd;
        dir = fs::temp_directory_path() /
              ("llmux-state-test-" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(dir);
        path = (dir / "state.db").string();
    }
    ~temp_db() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

sqlite_store_config config_for(temp_db const& db, test::virtual_clock const& clock) {
    sqlite_store_config cfg;
    cfg.path = db.path;
    cfg.limits = test::conformance_limits();
    cfg.clock = clock.fn();
    return cfg;
}

std::unique_ptr<sqlite_store> open_store(sqlite_store_config cfg) {
    auto s = sqlite_store::open(std::move(cfg));
    BOOST_TEST_REQUIRE(s.has_value(), "open failed: " << s.error());
    return std::move(*s);
}

/// Rows of a query, each column as text ("NULL" for NULL), as a user's SQL client sees them.
std::vector<std::vector<std::string>> query(std::string const& path, char const* sql) {
    sqlite3* db = nullptr;
    BOOST_TEST_REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
                       SQLITE_OK);
    std::vector<std::vector<std::string>> rows;
    char* err = nullptr;
    int const rc = sqlite3_exec(
        db, sql,
        [](void* p, int n, char** values, char**) {
            auto& out = *static_cast<std::vector<std::vector<std::string>>*>(p);
            out.emplace_back();
            for (int i = 0; i < n; ++i)
                out.back().emplace_back(values[i] ? values[i] : "NULL");
            return 0;
        },
        &rows, &err);
    std::string const why = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    BOOST_TEST_REQUIRE(rc == SQLITE_OK, sql << ": " << why);
    return rows;
}

/// `n` coroutines on a thread pool reserve `estimate` against `budget`, spread over `stores`,
/// and settle what they were granted at exactly the estimate. The pool must outlive the
/// stores (their writer threads post completions to it).
struct race_result {
    int granted = 0, refused = 0, failed = 0;
};
race_result race(asio::thread_pool& pool, std::vector<state_store*> const& stores,
                 std::string const& key, int n, nano_usd estimate, nano_usd budget) {
    std::atomic<int> granted{0}, refused{0}, failed{0};
    for (int i = 0; i < n; ++i) {
        state_store* s = stores[static_cast<std::size_t>(i) % stores.size()];
        asio::co_spawn(
            pool,
            [&, s]() -> asio::awaitable<void> {
                auto r = co_await s->reserve(key, estimate, budget, 60s);
                if (!r) {
                    ++failed;
                    co_return;
                }
                if (!r->granted()) {
                    ++refused;
                    co_return;
                }
                ++granted;
                settlement st;
                st.costs = {{"openai/gpt-4o-mini", estimate}};
                auto done = co_await s->settle(*r->reservation, st);
                if (!done || done->status != settle_status::settled) ++failed;
            },
            asio::detached);
    }
    pool.join();
    return {granted.load(), refused.load(), failed.load()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state_sqlite)

BOOST_AUTO_TEST_CASE(keeps_the_rules_of_every_store) {
    for (auto durability : {sqlite_durability::full, sqlite_durability::normal}) {
        temp_db db;
        test::virtual_clock clock;
        auto cfg = config_for(db, clock);
        cfg.durability = durability;
        asio::io_context ctx;  // outlives the store (see sqlite_store's object lifetimes)
        auto store = open_store(cfg);
        BOOST_TEST(store->kind() == "sqlite");
        BOOST_TEST(store->path() == db.path);
        test::check_all_rules(ctx, *store, clock, "t:");
        BOOST_TEST(store->available());
        BOOST_TEST(query(db.path, "PRAGMA journal_mode")[0][0] == "wal");
    }
}

BOOST_AUTO_TEST_CASE(concurrent_reservations_fill_the_budget_exactly) {
    temp_db db;
    sqlite_store_config cfg;
    cfg.path = db.path;
    asio::io_context ctx;
    asio::thread_pool pool(4);
    auto store = open_store(cfg);
    // 300 calls of 10 against a budget of 1000: exactly 100 go through.
    auto r = race(pool, {store.get()}, "team", 300, 10, 1000);
    BOOST_TEST(r.granted == 100);
    BOOST_TEST(r.refused == 200);
    BOOST_TEST(r.failed == 0);
    auto sp = test::run_coro(ctx, [&] { return store->spend("team"); });
    BOOST_TEST_REQUIRE(sp.has_value(), sp.error());
    BOOST_TEST(sp->spent == 1000);
    BOOST_TEST(sp->reserved == 0);
}

BOOST_AUTO_TEST_CASE(two_stores_on_one_file_share_the_budget_exactly) {
    // Two connections (as two processes on one host would have): every reserve is a write
    // transaction, so they cannot both take the last room.
    temp_db db;
    sqlite_store_config cfg;
    cfg.path = db.path;
    asio::io_context ctx;
    asio::thread_pool pool(4);
    auto a = open_store(cfg);
    auto b = open_store(cfg);
    auto r = race(pool, {a.get(), b.get()}, "team", 300, 10, 1000);
    BOOST_TEST(r.granted == 100);
    BOOST_TEST(r.failed == 0);
    auto sp = test::run_coro(ctx, [&] { return b->spend("team"); });
    BOOST_TEST_REQUIRE(sp.has_value());
    BOOST_TEST(sp->spent == 1000);
}

BOOST_AUTO_TEST_CASE(spend_reservations_and_ledger_survive_a_reopen) {
    temp_db db;
    test::virtual_clock clock;
    asio::io_context ctx;
    std::optional<budget_reservation> held;
    {
        auto store = open_store(config_for(db, clock));
        settlement s;
        s.costs = {{"openai/gpt-4o", 700}};
        ledger_entry e;
        e.at = clock.now();
        e.key_name = "team";
        e.model_requested = "smart";
        e.model_answered = "openai/gpt-4o";
        e.status = 200;
        s.entry = e;
        BOOST_TEST(test::run_coro(ctx, [&] { return store->charge("team", s); }).has_value());
        // A call in flight when the process dies: its reservation stays until its ttl.
        auto r =
            test::run_coro(ctx, [&] { return store->reserve("team", 200, nano_usd(1000), 60s); });
        BOOST_TEST_REQUIRE((r.has_value() && r->granted()));
        held = r->reservation;
    }
    {
        auto store = open_store(config_for(db, clock));
        auto sp = test::run_coro(ctx, [&] { return store->spend("team"); });
        BOOST_TEST_REQUIRE(sp.has_value());
        BOOST_TEST(sp->spent == 700);
        BOOST_TEST(sp->reserved == 200);
        std::vector<model_cost> const want{{"openai/gpt-4o", 700}};
        BOOST_TEST((sp->by_model == want));
        // Still at its budget: 700 + 200 + 101 > 1000.
        auto r =
            test::run_coro(ctx, [&] { return store->reserve("team", 101, nano_usd(1000), 60s); });
        BOOST_TEST_REQUIRE(r.has_value());
        BOOST_TEST(!r->granted());
        // The surviving reservation can still be settled after the restart.
        settlement s;
        s.costs = {{"openai/gpt-4o", 150}};
        auto st = test::run_coro(ctx, [&] { return store->settle(*held, s); });
        BOOST_TEST_REQUIRE(st.has_value());
        BOOST_TEST(st->status == settle_status::settled);
        BOOST_TEST(st->spent == 850);
    }
    {
        // A reservation of a crashed process expires after its ttl.
        auto store = open_store(config_for(db, clock));
        auto r =
            test::run_coro(ctx, [&] { return store->reserve("team", 100, nano_usd(1000), 60s); });
        BOOST_TEST_REQUIRE((r.has_value() && r->granted()));
    }
    clock.advance(61s);
    {
        auto store = open_store(config_for(db, clock));
        auto sp = test::run_coro(ctx, [&] { return store->spend("team"); });
        BOOST_TEST_REQUIRE(sp.has_value());
        BOOST_TEST(sp->spent == 850);
        BOOST_TEST(sp->reserved == 0);
    }
    BOOST_TEST(query(db.path, "SELECT count(*) FROM ledger")[0][0] == "1");
    BOOST_TEST(query(db.path, "SELECT count(*) FROM reservations")[0][0] == "0");
}

BOOST_AUTO_TEST_CASE(the_ledger_is_queryable_with_sql) {
    temp_db db;
    test::virtual_clock clock;
    asio::io_context ctx;
    auto store = open_store(config_for(db, clock));
    ledger_entry ok;
    ok.at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
    ok.key_name = "team-a";
    ok.model_requested = "smart";
    ok.model_answered = "anthropic/claude-sonnet-4.6";
    ok.attempts = 2;
    ok.input_tokens = 1200;
    ok.output_tokens = 340;
    ok.cached_tokens = 1000;
    ok.cache_write_tokens = 0;
    ok.reasoning_tokens = 12;
    ok.cost = 2'500'000;  // $0.0025
    ok.status = 200;
    ok.latency = 1'234'500us;
    ok.request_id = "chatcmpl-1";
    settlement s;
    s.costs = {{ok.model_answered, *ok.cost}};
    s.entry = ok;
    BOOST_TEST(test::run_coro(ctx, [&] { return store->charge("team-a", s); }).has_value());
    ledger_entry bad;
    bad.at = ok.at + 1s;
    bad.key_name = "team-b";
    bad.model_requested = "smart";
    bad.attempts = 3;
    bad.status = 502;
    bad.latency = 20ms;
    bad.error = "all_attempts_failed";
    BOOST_TEST(test::run_coro(ctx, [&] { return store->record(bad); }).has_value());

    auto rows =
        query(db.path, "SELECT at_ms, key_name, model_requested, model_answered, attempts, "
                       "input_tokens, output_tokens, cached_tokens, cache_write_tokens, "
                       "reasoning_tokens, cost_nano_usd, cost_usd, status, latency_ms, error, "
                       "request_id FROM ledger ORDER BY id");
    BOOST_TEST_REQUIRE(rows.size() == 2u);
    std::vector<std::string> const first{"1700000000123",
                                         "team-a",
                                         "smart",
                                         "anthropic/claude-sonnet-4.6",
                                         "2",
                                         "1200",
                                         "340",
                                         "1000",
                                         "0",
                                         "12",
                                         "2500000",
                                         "0.0025",
                                         "200",
                                         "1234.5",
                                         "NULL",
                                         "chatcmpl-1"};
    BOOST_TEST(rows[0] == first, boost::test_tools::per_element());
    // Unknown is NULL, never 0.
    std::vector<std::string> const second{
        "1700000001123", "team-b", "smart", "NULL", "3",
        "NULL",          "NULL",   "NULL",  "NULL", "NULL",
        "NULL",          "NULL",   "502",   "20.0", "all_attempts_failed",
        "NULL"};
    BOOST_TEST(rows[1] == second, boost::test_tools::per_element());
    auto per_key =
        query(db.path, "SELECT key_name, count(*), coalesce(sum(cost_nano_usd), 0) FROM ledger "
                       "GROUP BY key_name ORDER BY key_name");
    BOOST_TEST_REQUIRE(per_key.size() == 2u);
    BOOST_TEST(per_key[0][2] == "2500000");
    BOOST_TEST(query(db.path, "SELECT spent_nano FROM spend WHERE key = 'team-a'")[0][0] ==
               "2500000");
}

BOOST_AUTO_TEST_CASE(retention_deletes_old_rows_and_keeps_the_newest) {
    temp_db db;
    test::virtual_clock clock;
    asio::io_context ctx;
    auto cfg = config_for(db, clock);
    cfg.retention.max_age = std::chrono::hours(24);
    cfg.retention.max_rows = 5;
    cfg.retention_every = 0;  // only when asked
    auto store = open_store(cfg);
    for (int i = 0; i < 8; ++i) {
        ledger_entry e;
        // Rows 0-2 are two days old, 3-7 recent.
        e.at = clock.now() - (i < 3 ? std::chrono::hours(48) : std::chrono::hours(1));
        e.model_requested = "m";
        e.request_id = "r" + std::to_string(i);
        e.status = 200;
        BOOST_TEST(test::run_coro(ctx, [&] { return store->record(e); }).has_value());
    }
    auto deleted = test::run_coro(ctx, [&] { return store->apply_retention(); });
    BOOST_TEST_REQUIRE(deleted.has_value(), deleted.error());
    BOOST_TEST(*deleted == 3u);
    for (int i = 8; i < 10; ++i) {
        ledger_entry e;
        e.at = clock.now();
        e.model_requested = "m";
        e.request_id = "r" + std::to_string(i);
        BOOST_TEST(test::run_coro(ctx, [&] { return store->record(e); }).has_value());
    }
    deleted = test::run_coro(ctx, [&] { return store->apply_retention(); });
    BOOST_TEST_REQUIRE(deleted.has_value());
    BOOST_TEST(*deleted == 2u);  // 7 rows, keep 5
    auto rows = query(db.path, "SELECT request_id FROM ledger ORDER BY id");
    BOOST_TEST_REQUIRE(rows.size() == 5u);
    BOOST_TEST(rows.front()[0] == "r5");
    BOOST_TEST(rows.back()[0] == "r9");
}

BOOST_AUTO_TEST_CASE(retention_runs_by_itself_every_n_rows) {
    temp_db db;
    test::virtual_clock clock;
    asio::io_context ctx;
    auto cfg = config_for(db, clock);
    cfg.retention.max_rows = 3;
    cfg.retention_every = 4;
    auto store = open_store(cfg);
    for (int i = 0; i < 4; ++i) {
        ledger_entry e;
        e.model_requested = "m";
        BOOST_TEST(test::run_coro(ctx, [&] { return store->record(e); }).has_value());
    }
    BOOST_TEST(query(db.path, "SELECT count(*) FROM ledger")[0][0] == "3");
}

BOOST_AUTO_TEST_CASE(cache_over_its_cap_drops_the_soonest_to_expire) {
    temp_db db;
    test::virtual_clock clock;
    asio::io_context ctx;
    auto cfg = config_for(db, clock);
    cfg.limits.max_cache_bytes = 300;
    auto store = open_store(cfg);
    auto put = [&](std::string k, std::chrono::milliseconds ttl) {
        auto r =
            test::run_coro(ctx, [&] { return store->cache_put(k, std::string(98, 'v'), ttl); });
        BOOST_TEST(r.has_value());
    };
    auto has = [&](std::string k) {
        auto r = test::run_coro(ctx, [&] { return store->cache_get(k); });
        return r.has_value() && r->has_value();
    };
    put("k1", 50s);
    put("k2", 10s);
    put("k3", 30s);
    put("k4", 40s);  // over 300 bytes: k2 expires soonest
    BOOST_TEST(!has("k2"));
    BOOST_TEST(has("k1"));
    BOOST_TEST(has("k3"));
    BOOST_TEST(has("k4"));
    BOOST_TEST(query(db.path, "SELECT sum(bytes) FROM cache")[0][0] == "300");
    // Reopened: entries and their size are still known.
    store.reset();
    store = open_store(cfg);
    BOOST_TEST(has("k1"));
    put("k5", 60s);  // k3 goes
    BOOST_TEST(!has("k3"));
    BOOST_TEST(query(db.path, "SELECT count(*) FROM cache")[0][0] == "3");
}

BOOST_AUTO_TEST_CASE(unusable_files_are_clear_failures) {
    temp_db db;
    sqlite_store_config cfg;
    cfg.path = (db.dir / "missing-dir" / "state.db").string();
    auto s = sqlite_store::open(cfg);
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST((s.error().code == make_error_code(state_error::storage)));
    BOOST_TEST(s.error().diag.message.find(cfg.path) != std::string::npos, s.error());

    {
        std::ofstream garbage(db.path, std::ios::binary);
        garbage << std::string(4096, 'x');
    }
    cfg.path = db.path;
    s = sqlite_store::open(cfg);
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST((s.error().code == make_error_code(state_error::storage)));
    BOOST_TEST(s.error().diag.message.find("not an SQLite database") != std::string::npos,
               s.error());

    cfg.path.clear();
    s = sqlite_store::open(cfg);
    BOOST_TEST_REQUIRE(!s.has_value());
    BOOST_TEST((s.error().code == make_error_code(error::invalid_config)));
}

BOOST_AUTO_TEST_CASE(closing_finishes_what_was_queued) {
    // Operations queued right before the store is destroyed still complete and commit.
    temp_db db;
    sqlite_store_config cfg;
    cfg.path = db.path;
    asio::io_context ctx;
    std::atomic<int> done{0};
    {
        auto store = open_store(cfg);
        for (int i = 0; i < 50; ++i)
            asio::co_spawn(
                ctx,
                [&]() -> asio::awaitable<void> {
                    settlement s;
                    s.costs = {{"m", 1}};
                    auto r = co_await store->charge("k", s);
                    if (r) ++done;
                },
                asio::detached);
        ctx.poll();  // starts them: each queues its operation
        ctx.restart();
    }
    ctx.run();
    BOOST_TEST(done.load() == 50);
    BOOST_TEST(query(db.path, "SELECT spent_nano FROM spend WHERE key = 'k'")[0][0] == "50");
}

BOOST_AUTO_TEST_SUITE_END()
