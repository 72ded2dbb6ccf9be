// SPDX-License-Identifier: BSL-1.0
// Throughput and latency of the state stores' hot operations, in one run: a budget
// reservation and its settlement, a rate-limit acquire, and a cache hit, against the memory
// store, SQLite (durability full and normal, a file in /tmp) and Redis, each sequentially
// (latency) and with many coroutines at once (throughput). Also how long the io_context's
// thread itself is busy per operation: SQLite runs on its own writer thread, so the io thread
// only queues and resumes.
//
//   ./build/benchmarks/bench_state [--ops N] [--concurrency C] [--redis host:port]
//
// Redis comes from --redis, else LLMUX_TEST_REDIS, else a redis-server this benchmark starts
// on a free loopback port (no persistence), else it is skipped with a message.
#include <llmux/state.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace asio = boost::asio;
using namespace llmux;
using namespace std::chrono_literals;

namespace {

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct figures {
    std::size_t ops = 0;
    std::size_t failures = 0;
    double wall = 0;
    double io_cpu = 0;
};

using op_fn = std::function<asio::awaitable<bool>(std::size_t)>;

/// Runs `ops` operations on `ctx` (this thread), `concurrency` at a time.
figures measure(asio::io_context& ctx, std::size_t ops, int concurrency, op_fn const& op) {
    figures f;
    f.ops = ops;
    std::size_t next = 0, finished = 0;
    int workers = concurrency;
    for (int w = 0; w < concurrency; ++w)
        asio::co_spawn(
            ctx,
            [&]() -> asio::awaitable<void> {
                while (next < ops) {
                    std::size_t const i = next++;
                    if (!co_await op(i)) ++f.failures;
                    ++finished;
                }
                --workers;
            },
            asio::detached);
    if (ctx.stopped()) ctx.restart();
    auto const t0 = std::chrono::steady_clock::now();
    double const c0 = thread_cpu_seconds();
    while (workers > 0)
        ctx.run_one();
    f.io_cpu = thread_cpu_seconds() - c0;
    f.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return f;
}

void report(char const* store, char const* what, int concurrency, figures const& f) {
    double const per_op_us = f.wall * 1e6 * concurrency / static_cast<double>(f.ops);
    std::printf("%-15s %-16s %5d %8zu %12.0f %10.1f %10.2f %6zu\n", store, what, concurrency, f.ops,
                static_cast<double>(f.ops) / f.wall, per_op_us,
                f.io_cpu * 1e6 / static_cast<double>(f.ops), f.failures);
    std::fflush(stdout);
}

/// The three operations against one store, sequentially and concurrently.
void bench_store(asio::io_context& ctx, char const* name, state_store& s, std::size_t ops,
                 int concurrency) {
    std::string const blob(2048, 'x');
    {
        // Warm up (and make the cache entry).
        auto put = [&]() -> asio::awaitable<bool> {
            co_return static_cast<bool>(co_await s.cache_put("bench-hit", blob, 10min));
        };
        measure(ctx, 1, 1, [&](std::size_t) { return put(); });
    }
    auto reserve_settle = [&](std::size_t) -> asio::awaitable<bool> {
        auto r = co_await s.reserve("bench-key", 1000, max_amount, 60s);
        if (!r || !r->granted()) co_return false;
        settlement st;
        st.costs = {{"openai/gpt-4o-mini", 900}};
        auto done = co_await s.settle(*r->reservation, st);
        co_return static_cast<bool>(done);
    };
    rate_quota const q{.requests_per_minute = max_rate_per_minute,
                       .tokens_per_minute = max_rate_per_minute};
    auto acquire = [&](std::size_t) -> asio::awaitable<bool> {
        auto r = co_await s.acquire_rate("bench-bucket", q, 100);
        co_return static_cast<bool>(r);
    };
    auto get = [&](std::size_t) -> asio::awaitable<bool> {
        auto r = co_await s.cache_get("bench-hit");
        co_return r && r->has_value();
    };
    for (int c : {1, concurrency}) {
        report(name, "reserve+settle", c, measure(ctx, ops, c, reserve_settle));
        report(name, "rate acquire", c, measure(ctx, ops, c, acquire));
        report(name, "cache get 2KB", c, measure(ctx, ops, c, get));
    }
}

/// A redis-server on a free port, stopped when this goes away.
struct redis_child {
    pid_t pid = -1;
    std::filesystem::path dir;
    std::uint16_t port = 0;

    bool start() {
        asio::io_context io;
        asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
        a.close();
        std::random_device rd;
        dir =
            std::filesystem::temp_directory_path() / ("llmux-bench-redis-" + std::to_string(rd()));
        std::filesystem::create_directories(dir);
        std::vector<std::string> args{"redis-server",
                                      "--port",
                                      std::to_string(port),
                                      "--bind",
                                      "127.0.0.1",
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "no",
                                      "--dir",
                                      dir.string(),
                                      "--logfile",
                                      (dir / "redis.log").string()};
        std::vector<char*> argv;
        for (auto& s : args)
            argv.push_back(s.data());
        argv.push_back(nullptr);
        return posix_spawnp(&pid, "redis-server", nullptr, nullptr, argv.data(), environ) == 0;
    }
    ~redis_child() {
        if (pid > 0) {
            kill(pid, SIGTERM);
            int st = 0;
            waitpid(pid, &st, 0);
        }
        std::error_code ec;
        if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::size_t ops = 20000;
    int concurrency = 32;
    std::string redis_addr;
    if (char const* e = std::getenv("LLMUX_TEST_REDIS")) redis_addr = e;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--ops"))
            ops = std::strtoul(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--concurrency"))
            concurrency = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--redis"))
            redis_addr = argv[i + 1];
    }
    if (ops == 0 || concurrency < 1) {
        std::fprintf(stderr,
                     "usage: bench_state [--ops N] [--concurrency C] [--redis host:port]\n");
        return 2;
    }
    std::printf("%-15s %-16s %5s %8s %12s %10s %10s %6s\n", "store", "operation", "conc", "ops",
                "ops/s", "us/op", "io-us/op", "failed");
    asio::io_context ctx;

    {
        memory_store mem;
        bench_store(ctx, "memory", mem, ops, concurrency);
    }
    for (auto d : {sqlite_durability::full, sqlite_durability::normal}) {
        std::random_device rd;
        auto dir =
            std::filesystem::temp_directory_path() / ("llmux-bench-sqlite-" + std::to_string(rd()));
        std::filesystem::create_directories(dir);
        {
            sqlite_store_config cfg;
            cfg.path = (dir / "state.db").string();
            cfg.durability = d;
            auto s = sqlite_store::open(cfg);
            if (!s) {
                std::fprintf(stderr, "sqlite: %s\n", s.error().to_string().c_str());
                return 1;
            }
            bench_store(ctx, d == sqlite_durability::full ? "sqlite(full)" : "sqlite(normal)", **s,
                        ops, concurrency);
        }
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    std::unique_ptr<redis_child> child;
    redis_store_config rcfg;
    if (redis_addr.empty()) {
        child = std::make_unique<redis_child>();
        if (child->start()) {
            rcfg.port = child->port;
        } else {
            child.reset();
            std::printf("redis: skipped (no --redis, no LLMUX_TEST_REDIS, no redis-server)\n");
            return 0;
        }
    } else if (auto r = rcfg.set_address(redis_addr, "--redis"); !r) {
        std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
        return 2;
    }
    rcfg.prefix = "llmux-bench:";
    {
        redis_store rs(ctx.get_executor(), rcfg);
        // Wait for it to answer (a server just started).
        bool up = false;
        for (int i = 0; i < 200 && !up; ++i) {
            auto pinged = std::make_shared<bool>(false);
            auto done = std::make_shared<bool>(false);
            asio::co_spawn(
                ctx,
                [&rs, pinged, done]() -> asio::awaitable<void> {
                    *pinged = static_cast<bool>(co_await rs.ping());
                    if (!*pinged) {
                        asio::steady_timer t(co_await asio::this_coro::executor, 25ms);
                        co_await t.async_wait(asio::use_awaitable);
                    }
                    *done = true;
                },
                asio::detached);
            while (!*done)
                ctx.run_one();
            up = *pinged;
        }
        if (!up) {
            std::printf("redis: skipped (not answering at %s:%u)\n", rcfg.host.c_str(),
                        static_cast<unsigned>(rcfg.port));
        } else {
            bench_store(ctx, "redis", rs, ops, concurrency);
        }
        rs.close();
        ctx.restart();
        ctx.run();
    }
    return 0;
}
