// SPDX-License-Identifier: BSL-1.0
// The Redis state store against a real redis-server: the rules every store keeps (on a virtual
// clock passed to the scripts), two stores ("replicas") sharing one budget and one rate
// exactly, NOSCRIPT after a flush, unreachable and silent servers as failure values, and a
// Redis killed mid-run (its AOF keeps settled spend) followed by recovery.
//
// The server comes from LLMUX_TEST_REDIS=host:port (scripts/test.sh starts one); without it
// these tests say they were skipped. The kill test starts its own redis-server (from PATH, or
// LLMUX_TEST_REDIS_SERVER) on a free loopback port, in a temporary directory.
#include <llmux/state.hpp>

#include "common/test_redis.hpp"
#include "common/run_coro.hpp"
#include "common/state_conformance.hpp"
#include "state/redis_connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

namespace {

/// The test Redis, with the store conformance limits.
using test::random_tag;

std::optional<redis_store_config> test_redis() {
    auto cfg = test::test_redis();
    if (cfg) cfg->limits = test::conformance_limits();
    return cfg;
}

/// Retries `ping` until the store answers (a server just started, or back after a kill).
bool wait_until_answering(asio::io_context& ctx, redis_store& store,
                          std::chrono::seconds limit = 20s) {
    return test::run_coro(
        ctx,
        [&]() -> asio::awaitable<bool> {
            auto const until = std::chrono::steady_clock::now() + limit;
            asio::steady_timer t(co_await asio::this_coro::executor);
            while (std::chrono::steady_clock::now() < until) {
                if (co_await store.ping()) co_return true;
                t.expires_after(20ms);
                co_await t.async_wait(asio::use_awaitable);
            }
            co_return false;
        },
        limit + 10s);
}

/// Runs `ctx` on `threads` threads until it runs out of work.
void run_on_threads(asio::io_context& ctx, int threads) {
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i)
        pool.emplace_back([&] { ctx.run(); });
    ctx.run();
    for (auto& t : pool)
        t.join();
}

/// A redis-server child process on a free loopback port, in its own directory, with an
/// append-only file that fsyncs every write.
class redis_child {
public:
    redis_child() : dir_(fs::temp_directory_path() / ("llmux-redis-" + random_tag())) {
        fs::create_directories(dir_);
        asio::io_context io;
        tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port_ = a.local_endpoint().port();
    }
    ~redis_child() {
        kill();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    static std::string binary() {
        char const* b = std::getenv("LLMUX_TEST_REDIS_SERVER");
        return b && *b ? b : "redis-server";
    }

    bool start() {
        std::string const port = std::to_string(port_), dir = dir_.string(),
                          log = (dir_ / "redis.log").string(), bin = binary();
        std::vector<std::string> args{
            bin,      "--port",    port, "--bind",       "127.0.0.1", "--dir",
            dir,      "--save",    "",   "--appendonly", "yes",       "--appendfsync",
            "always", "--logfile", log,  "--daemonize",  "no"};
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        return posix_spawnp(&pid_, bin.c_str(), nullptr, nullptr, argv.data(), environ) == 0;
    }
    void kill() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
    }
    std::uint16_t port() const { return port_; }

private:
    fs::path dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

bool is_store_outage(failure const& f) {
    return f.code == make_error_code(state_error::unavailable) ||
           f.code == make_error_code(state_error::timeout);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state_redis)

BOOST_AUTO_TEST_CASE(keeps_the_rules_of_every_store) {
    auto cfg = test_redis();
    if (!cfg) return;
    test::virtual_clock clock;
    cfg->clock = clock.fn();
    test::io_context_fixture f;
    {
        redis_store store(f.ctx.get_executor(), *cfg);
        BOOST_TEST(store.kind() == "redis");
        BOOST_TEST(!store.keeps_ledger());
        test::check_all_rules(f.ctx, store, clock, "t:", false);
        BOOST_TEST(store.available());
    }
}

BOOST_AUTO_TEST_CASE(cache_entries_expire_in_redis_itself) {
    auto cfg = test_redis();
    if (!cfg) return;
    test::io_context_fixture f;
    redis_store store(f.ctx.get_executor(), *cfg);
    auto put = f.run([&] { return store.cache_put("h1", "body", 1500ms); });
    BOOST_TEST_REQUIRE(put.has_value(), put.error());
    // Look at the key with a connection of our own: SET ... PX gave it the ttl.
    detail::redis_connection_config cc;
    cc.host = cfg->host;
    cc.port = cfg->port;
    auto raw = std::make_shared<detail::redis_connection>(f.ctx.get_executor(), cc);
    raw->start();
    auto cmd = detail::format_command({"PTTL", cfg->prefix + "c:h1"});
    auto r = f.run([&] { return raw->exec(cmd, 1); });
    BOOST_TEST_REQUIRE(r.has_value(), r.error());
    BOOST_TEST(r->front().integer > 0);
    BOOST_TEST(r->front().integer <= 1500);
    raw->stop();
    store.close();
}

BOOST_AUTO_TEST_CASE(two_replicas_share_one_budget_exactly) {
    auto cfg = test_redis();
    if (!cfg) return;
    cfg->limits = state_limits{};  // room for all 300 reservations at once
    asio::io_context ctx;
    auto a = std::make_unique<redis_store>(ctx.get_executor(), *cfg);
    auto b = std::make_unique<redis_store>(ctx.get_executor(), *cfg);
    // 300 calls of 10 nano-USD against a budget of 1000, alternating between the replicas,
    // on two threads: exactly 100 are granted, and each settles its reservation.
    std::atomic<int> granted{0}, refused{0}, failed{0}, done{0};
    for (int i = 0; i < 300; ++i) {
        redis_store* s = i % 2 ? a.get() : b.get();
        asio::co_spawn(
            ctx,
            [&, s]() -> asio::awaitable<void> {
                auto r = co_await s->reserve("team", 10, nano_usd(1000), 60s);
                if (!r) {
                    if (++failed == 1) BOOST_TEST_MESSAGE("first failure: " << r.error());
                } else if (!r->granted()) {
                    ++refused;
                } else {
                    ++granted;
                    settlement st;
                    st.costs = {{"openai/gpt-4o-mini", 10}};
                    auto x = co_await s->settle(*r->reservation, st);
                    if (!x || x->status != settle_status::settled) ++failed;
                }
                if (++done == 300) {
                    a->close();
                    b->close();
                }
            },
            asio::detached);
    }
    run_on_threads(ctx, 2);
    BOOST_TEST(granted.load() == 100);
    BOOST_TEST(refused.load() == 200);
    BOOST_TEST(failed.load() == 0);
    // A new client (a replica started later) sees the same spend.
    ctx.restart();
    redis_store c(ctx.get_executor(), *cfg);
    auto sp = test::run_coro(ctx, [&] { return c.spend("team"); });
    BOOST_TEST_REQUIRE(sp.has_value(), sp.error());
    BOOST_TEST(sp->spent == 1000);
    BOOST_TEST(sp->reserved == 0);
    std::vector<model_cost> const want{{"openai/gpt-4o-mini", 1000}};
    BOOST_TEST((sp->by_model == want));
    c.close();
    BOOST_TEST(test::runs_out_of_work(ctx));
}

BOOST_AUTO_TEST_CASE(two_replicas_share_one_rate_exactly) {
    auto cfg = test_redis();
    if (!cfg) return;
    test::virtual_clock clock;  // one instant: the count cannot depend on how long this takes
    auto virtual_cfg = *cfg;
    virtual_cfg.clock = clock.fn();
    test::io_context_fixture f;
    redis_store a(f.ctx.get_executor(), virtual_cfg);
    redis_store b(f.ctx.get_executor(), virtual_cfg);
    rate_quota const q{.requests_per_minute = 50, .tokens_per_minute = 10'000};
    std::atomic<int> allowed{0}, refused{0}, failed{0};
    f.run([&]() -> asio::awaitable<void> {
        // 150 requests of 10 tokens at once, from both replicas: 50 pass (requests).
        auto ex = co_await asio::this_coro::executor;
        std::atomic<int> left{150};
        asio::steady_timer all_done(ex, std::chrono::steady_clock::time_point::max());
        for (int i = 0; i < 150; ++i)
            asio::co_spawn(
                ex,
                [&, s = i % 2 ? &a : &b]() -> asio::awaitable<void> {
                    auto r = co_await s->acquire_rate("team", q, 10);
                    if (!r)
                        ++failed;
                    else if (r->allowed)
                        ++allowed;
                    else
                        ++refused;
                    if (--left == 0) all_done.cancel();
                },
                asio::detached);
        boost::system::error_code ec;
        co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    });
    BOOST_TEST(allowed.load() == 50);
    BOOST_TEST(refused.load() == 100);
    BOOST_TEST(failed.load() == 0);
    // Tokens: 10 000 per minute minus the 500 taken: 9 500 more fit, then none.
    rate_quota const tokens_only{.tokens_per_minute = 10'000};
    auto r = f.run([&] { return a.acquire_rate("team", tokens_only, 9'500); });
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->allowed);
    r = f.run([&] { return b.acquire_rate("team", tokens_only, 1); });
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(!r->allowed);
    // With the server's own TIME: a limit of 2 per minute lets exactly 2 of 20 through
    // (the next is 30 s away, far beyond this test).
    redis_store c(f.ctx.get_executor(), *cfg);
    redis_store d(f.ctx.get_executor(), *cfg);
    int server_allowed = 0;
    std::chrono::milliseconds longest{0};
    for (int i = 0; i < 20; ++i) {
        auto x = f.run([&] {
            return (i % 2 ? c : d).acquire_rate("server-time", rate_quota{2, 0}, 0);
        });
        BOOST_TEST_REQUIRE(x.has_value(), x.error());
        if (x->allowed)
            ++server_allowed;
        else
            longest = std::max(longest, x->retry_after);
    }
    BOOST_TEST(server_allowed == 2);
    BOOST_TEST(longest > 0ms);
    BOOST_TEST(longest <= 30'000ms);
    // The bucket's key expires once it is idle again (at most a minute and a second here).
    a.close();
    b.close();
    c.close();
    d.close();
}

BOOST_AUTO_TEST_CASE(scripts_are_sent_again_after_a_script_flush) {
    auto cfg = test_redis();
    if (!cfg) return;
    test::io_context_fixture f;
    redis_store store(f.ctx.get_executor(), *cfg);
    settlement s;
    s.costs = {{"m", 5}};
    BOOST_TEST(f.run([&] { return store.charge("k", s); }).has_value());
    detail::redis_connection_config cc;
    cc.host = cfg->host;
    cc.port = cfg->port;
    auto raw = std::make_shared<detail::redis_connection>(f.ctx.get_executor(), cc);
    raw->start();
    auto flush = detail::format_command({"SCRIPT", "FLUSH"});
    auto fl = f.run([&] { return raw->exec(flush, 1); });
    BOOST_TEST_REQUIRE(fl.has_value());
    raw->stop();
    // EVALSHA now gets NOSCRIPT; the store sends the script and goes on.
    auto st = f.run([&] { return store.charge("k", s); });
    BOOST_TEST_REQUIRE(st.has_value(), st.error());
    BOOST_TEST(st->spent == 10);
    store.close();
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_is_a_failure_value) {
    // Always runs: it needs no Redis, only a loopback port nobody listens on.
    std::uint16_t port;
    {
        asio::io_context io;
        tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        port = a.local_endpoint().port();
    }
    test::io_context_fixture f;
    redis_store_config cfg;
    cfg.port = port;
    cfg.backoff_initial = 10s;  // stays backing off for the rest of the test
    cfg.backoff_max = 10s;
    redis_store store(f.ctx.get_executor(), cfg);
    auto r = f.run([&] { return store.reserve("k", 1, nano_usd(10), 1s); });
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == make_error_code(state_error::unavailable)));
    BOOST_TEST(r.error().diag.message.find("127.0.0.1:" + std::to_string(port)) !=
                   std::string::npos,
               r.error());
    BOOST_TEST(!store.available());
    // While it backs off, operations fail at once instead of queueing.
    auto again = f.run([&] { return store.spend("k"); });
    BOOST_TEST_REQUIRE(!again.has_value());
    BOOST_TEST((again.error().code == make_error_code(state_error::unavailable)));
    BOOST_TEST(again.error().diag.message.find("reconnecting") != std::string::npos, again.error());
    store.close();
}

BOOST_AUTO_TEST_CASE(a_server_that_stops_answering_times_out_and_is_reset) {
    // A fake server: answers the handshake's PING, then reads and never answers again.
    test::io_context_fixture f;
    tcp::acceptor acceptor(f.ctx, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::atomic<int> connections{0};
    asio::co_spawn(
        f.ctx,
        [&]() -> asio::awaitable<void> {
            for (;;) {
                auto [ec, sock] =
                    co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
                if (ec) co_return;
                ++connections;
                asio::co_spawn(
                    f.ctx,
                    [s = std::make_shared<tcp::socket>(
                         std::move(sock))]() -> asio::awaitable<void> {
                        char buf[4096];
                        bool first = true;
                        for (;;) {
                            auto [rec, n] = co_await s->async_read_some(
                                asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
                            if (rec) co_return;
                            if (first) {
                                first = false;
                                co_await asio::async_write(*s, asio::buffer("+PONG\r\n", 7),
                                                           asio::as_tuple(asio::use_awaitable));
                            }
                        }
                    },
                    asio::detached);
            }
        },
        asio::detached);
    redis_store_config cfg;
    cfg.port = acceptor.local_endpoint().port();
    cfg.request_timeout = 200ms;
    cfg.backoff_initial = 10ms;
    cfg.backoff_max = 10ms;
    redis_store store(f.ctx.get_executor(), cfg);
    auto r = f.run([&] { return store.acquire_rate("b", rate_quota{1, 0}, 0); });
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == make_error_code(state_error::timeout)), r.error());
    BOOST_TEST(r.error().diag.message.find("did not answer within 200 ms") != std::string::npos,
               r.error());
    // The stuck connection was dropped and a new one made.
    BOOST_TEST(test::run_until(
        f.ctx, [&] { return connections.load() >= 2; }, 10s));
    store.close();
    acceptor.close();
}

BOOST_AUTO_TEST_CASE(redis_killed_mid_run_loses_no_settled_spend_and_recovers) {
    if (!test_redis()) return;  // CI sets it; then redis-server is installed too
    redis_child child;
    BOOST_TEST_REQUIRE(child.start(), "cannot start " << redis_child::binary());
    test::io_context_fixture f;
    redis_store_config cfg;
    cfg.port = child.port();
    cfg.prefix = "kill-test:";
    cfg.backoff_initial = 20ms;
    cfg.backoff_max = 100ms;
    cfg.request_timeout = 10s;
    redis_store store(f.ctx.get_executor(), cfg);
    BOOST_TEST_REQUIRE(wait_until_answering(f.ctx, store));
    BOOST_TEST(store.available());
    settlement s;
    s.costs = {{"openai/gpt-4o", 25}};
    for (int i = 0; i < 8; ++i) {
        auto r = f.run([&] { return store.reserve("team", 25, nano_usd(1000), 60s); });
        BOOST_TEST_REQUIRE((r.has_value() && r->granted()));
        auto st = f.run([&] { return store.settle(*r->reservation, s); });
        BOOST_TEST_REQUIRE(st.has_value(), st.error());
    }

    child.kill();
    // Every operation is now a failure value, never a crash or a hang.
    for (int i = 0; i < 5; ++i) {
        auto r = f.run([&] { return store.charge("team", s); });
        BOOST_TEST_REQUIRE(!r.has_value(), "a charge succeeded with Redis dead");
        BOOST_TEST(is_store_outage(r.error()), r.error());
    }
    BOOST_TEST(test::run_until(
        f.ctx, [&] { return !store.available(); }, 10s));

    // Back on the same port and directory: the AOF replays every settled charge.
    BOOST_TEST_REQUIRE(child.start());
    BOOST_TEST_REQUIRE(wait_until_answering(f.ctx, store));
    BOOST_TEST(store.available());
    auto sp = f.run([&] { return store.spend("team"); });
    BOOST_TEST_REQUIRE(sp.has_value(), sp.error());
    BOOST_TEST(sp->spent == 200);
    BOOST_TEST(sp->reserved == 0);
    auto r = f.run([&] { return store.reserve("team", 800, nano_usd(1000), 60s); });
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->granted());
    r = f.run([&] { return store.reserve("team", 1, nano_usd(1000), 60s); });
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(!r->granted());  // the budget is exact after the restart too
    store.close();
}

BOOST_AUTO_TEST_CASE(addresses_parse_with_clear_errors) {
    redis_store_config cfg;
    BOOST_TEST(cfg.set_address("10.0.0.7:6380").has_value());
    BOOST_TEST(cfg.host == "10.0.0.7");
    BOOST_TEST(cfg.port == 6380);
    BOOST_TEST(cfg.set_address("[::1]:7000").has_value());
    BOOST_TEST(cfg.host == "::1");
    BOOST_TEST(cfg.port == 7000);
    for (auto bad : {"localhost", "host:", ":6379", "h:99999", "h:12x", "[::1]7000"}) {
        auto r = cfg.set_address(bad, "LLMUX_TEST_REDIS");
        BOOST_TEST_REQUIRE(!r.has_value(), bad);
        BOOST_TEST((r.error().code == make_error_code(error::invalid_config)));
        BOOST_TEST(r.error().diag.message.find("LLMUX_TEST_REDIS") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
