// SPDX-License-Identifier: BSL-1.0
// Client fan-out: N chat calls at concurrency C against an OpenAI-compatible server (the
// emulator), over keep-alive connections, on one thread. Prints requests/s, client CPU per
// request, latency percentiles and peak RSS, as one JSON line after a human-readable summary.
//
//   ./build/benchmarks/bench_fanout --base-url http://127.0.0.1:PORT/v1 [-n 10000] [-c 256]
//                                   [--stream] [--model openai/gpt-4o-mini]
#include <llmux/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace asio = boost::asio;

namespace {

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long peak_rss_kb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    std::string base_url, model = "openai/gpt-4o-mini";
    std::size_t n = 10000, conc = 256;
    bool stream = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--base-url") base_url = next();
        else if (a == "-n") n = std::strtoul(next().c_str(), nullptr, 10);
        else if (a == "-c") conc = std::strtoul(next().c_str(), nullptr, 10);
        else if (a == "--model") model = next();
        else if (a == "--stream") stream = true;
        else {
            std::fprintf(stderr, "bench_fanout: unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    if (base_url.empty() || n == 0 || conc == 0) {
        std::fprintf(stderr, "usage: bench_fanout --base-url URL [-n N] [-c C] [--stream]\n");
        return 2;
    }

    asio::io_context io(1);
    auto cfg = llmux::client_config::presets();
    auto id = llmux::model_id::parse(model);
    if (!id) return 2;
    auto* p = cfg.find(id->provider);
    if (!p) return 2;
    p->base_url = base_url;
    p->credentials.api_key = "bench-key";
    cfg.pool.max_connections_per_origin = conc;
    llmux::client c{io.get_executor(), cfg};

    std::vector<double> lat_ms;
    lat_ms.reserve(n);
    std::size_t started = 0, failed = 0;
    std::string first_error;
    llmux::chat_request const req{.model = model,
                                  .messages = {llmux::user("Introduce Python in one sentence")}};

    auto worker = [&]() -> asio::awaitable<void> {
        while (started < n) {
            ++started;
            auto const t0 = std::chrono::steady_clock::now();
            bool ok = false;
            if (stream) {
                auto s = c.stream(req);
                while (co_await s.next()) {
                }
                ok = s.response().has_value();
                if (!ok && first_error.empty()) first_error = s.response().error().to_string();
            } else {
                auto r = co_await c.chat(req);
                ok = r.has_value();
                if (!ok && first_error.empty()) first_error = r.error().to_string();
            }
            if (!ok) ++failed;
            lat_ms.push_back(
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count());
        }
    };

    double const cpu0 = cpu_seconds();
    auto const t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < conc; ++i) asio::co_spawn(io, worker(), asio::detached);
    io.run();
    double const wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double const cpu = cpu_seconds() - cpu0;

    std::sort(lat_ms.begin(), lat_ms.end());
    auto pct = [&](double q) {
        if (lat_ms.empty()) return 0.0;
        auto idx = static_cast<std::size_t>(q * static_cast<double>(lat_ms.size() - 1) + 0.5);
        return lat_ms[idx];
    };
    auto const st = c.stats();
    std::printf("llmux client: %zu %s calls at concurrency %zu in %.3f s\n", n,
                stream ? "streamed" : "chat", conc, wall);
    std::printf("  throughput   %10.0f req/s\n", static_cast<double>(n) / wall);
    std::printf("  client CPU   %10.2f us/req\n", 1e6 * cpu / static_cast<double>(n));
    std::printf("  latency      p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", pct(0.50), pct(0.99),
                lat_ms.empty() ? 0.0 : lat_ms.back());
    std::printf("  peak RSS     %10.1f MiB\n", static_cast<double>(peak_rss_kb()) / 1024.0);
    std::printf("  connections  %llu opened, %llu reuses; failures %zu%s%s\n",
                static_cast<unsigned long long>(st.connections_opened),
                static_cast<unsigned long long>(st.connections_reused), failed,
                first_error.empty() ? "" : "; first: ", first_error.c_str());
    std::printf("{\"client\":\"llmux\",\"n\":%zu,\"concurrency\":%zu,\"stream\":%s,\"seconds\":%.4f,"
                "\"rps\":%.1f,\"cpu_us_per_req\":%.3f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
                "\"peak_rss_mb\":%.2f,\"failures\":%zu}\n",
                n, conc, stream ? "true" : "false", wall, static_cast<double>(n) / wall,
                1e6 * cpu / static_cast<double>(n), pct(0.5), pct(0.99),
                static_cast<double>(peak_rss_kb()) / 1024.0, failed);
    return failed == 0 ? 0 : 1;
}
