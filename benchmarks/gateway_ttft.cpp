// SPDX-License-Identifier: BSL-1.0
// Time to first token and whole-call latency through one OpenAI-compatible endpoint, one call at
// a time (no queueing), so that the difference between two endpoints (a gateway and the upstream
// it proxies) is the time the gateway adds. Used by benchmarks/gateway/run.sh.
//
//   bench_gateway_ttft --base-url http://127.0.0.1:PORT/v1 --model M [-n 2000] [--warmup 200]
//                      [--stream] [--header 'name: value']...
//
// Prints a human-readable line and one JSON line: p50/p90/p99 of TTFT and latency in µs.
#include <llmux/client.hpp>
#include <llmux/histogram.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;

namespace {

struct options {
    std::string base_url;
    std::string model = "mock-model";
    std::size_t n = 2000;
    std::size_t warmup = 200;
    bool stream = false;
    llmux::header_list headers;
};

double us(std::chrono::nanoseconds d) {
    return static_cast<double>(d.count()) / 1e3;
}

asio::awaitable<void> run(llmux::client& c, options const& o, llmux::latency_histogram& ttft,
                          llmux::latency_histogram& total, std::size_t& failed,
                          std::string& first_error) {
    llmux::chat_request req;
    req.model = "openai/" + o.model;
    req.messages.push_back(llmux::user("Say hello"));
    req.max_tokens = 16;
    for (std::size_t i = 0; i < o.warmup + o.n; ++i) {
        bool const measured = i >= o.warmup;
        auto const t0 = std::chrono::steady_clock::now();
        std::chrono::nanoseconds first{};
        bool ok = false;
        if (o.stream) {
            auto s = c.stream(req);
            bool seen = false;
            for (;;) {
                auto chunk = co_await s.next();
                if (!chunk) break;
                if (!seen && !chunk->text.empty()) {
                    first = std::chrono::steady_clock::now() - t0;
                    seen = true;
                }
            }
            auto const& r = s.response();
            ok = r.has_value() && seen;
            if (!r && first_error.empty()) first_error = r.error().to_string();
        } else {
            auto r = co_await c.chat(req);
            ok = r.has_value();
            if (!r && first_error.empty()) first_error = r.error().to_string();
            first = std::chrono::steady_clock::now() - t0;
        }
        auto const all = std::chrono::steady_clock::now() - t0;
        if (!measured) continue;
        if (!ok) {
            ++failed;
            continue;
        }
        ttft.record(first);
        total.record(all);
    }
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--base-url") o.base_url = next();
        else if (a == "--model") o.model = next();
        else if (a == "-n") o.n = std::strtoul(next().c_str(), nullptr, 10);
        else if (a == "--warmup") o.warmup = std::strtoul(next().c_str(), nullptr, 10);
        else if (a == "--stream") o.stream = true;
        else if (a == "--header") {
            auto h = next();
            auto colon = h.find(':');
            if (colon == std::string::npos) {
                std::fprintf(stderr, "bench_gateway_ttft: --header wants 'name: value'\n");
                return 2;
            }
            auto v = h.substr(colon + 1);
            while (!v.empty() && v.front() == ' ') v.erase(0, 1);
            o.headers.emplace_back(h.substr(0, colon), v);
        } else {
            std::fprintf(stderr, "bench_gateway_ttft: unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    if (o.base_url.empty() || o.n == 0) {
        std::fprintf(stderr, "usage: bench_gateway_ttft --base-url URL [--model M] [-n N] "
                             "[--warmup N] [--stream] [--header 'k: v']...\n");
        return 2;
    }

    asio::io_context io(1);
    auto cfg = llmux::client_config::presets();
    auto& p = cfg.providers["openai"];
    p.base_url = o.base_url;
    p.credentials.api_key = "sk-bench-dummy";
    p.headers = o.headers;
    llmux::client c{io.get_executor(), cfg};

    llmux::latency_histogram ttft, total;
    std::size_t failed = 0;
    std::string first_error;
    asio::co_spawn(io, run(c, o, ttft, total, failed, first_error), asio::detached);
    io.run();

    auto pct = [](llmux::latency_histogram const& h, double q) { return us(h.percentile(q)); };
    std::printf("%s %s: n=%zu failed=%zu  TTFT p50 %.1f / p90 %.1f / p99 %.1f us  latency p50 "
                "%.1f / p90 %.1f / p99 %.1f us%s%s\n",
                o.base_url.c_str(), o.stream ? "stream" : "whole", o.n, failed,
                pct(ttft, 0.5), pct(ttft, 0.9), pct(ttft, 0.99), pct(total, 0.5),
                pct(total, 0.9), pct(total, 0.99), first_error.empty() ? "" : "  first error: ",
                first_error.c_str());
    std::printf("{\"n\":%zu,\"failed\":%zu,\"ttft_p50_us\":%.1f,\"ttft_p90_us\":%.1f,"
                "\"ttft_p99_us\":%.1f,\"latency_p50_us\":%.1f,\"latency_p90_us\":%.1f,"
                "\"latency_p99_us\":%.1f}\n",
                o.n, failed, pct(ttft, 0.5), pct(ttft, 0.9), pct(ttft, 0.99), pct(total, 0.5),
                pct(total, 0.9), pct(total, 0.99));
    return failed == 0 ? 0 : 1;
}
