// SPDX-License-Identifier: BSL-1.0
// Embedding fan-out: N `client::embed` calls of K texts each at concurrency C against an
// OpenAI-compatible server (the emulator), over keep-alive connections, on one thread. Prints
// requests/s, inputs/s, client CPU per request, latency percentiles and peak RSS, as one JSON
// line after a human-readable summary (the line `benchmarks/node/embed.mjs` prints too).
//
//   ./build/benchmarks/bench_embed --base-url http://127.0.0.1:PORT/v1 [-n 5000] [-c 64] [-k 16]
//       [--dimensions D] [--encoding base64|float] [--model openai/text-embedding-3-small]
//
// --encoding is what the server is asked for (the provider option `embedding_encoding`): base64
// (OpenAI's own API gets it by default, as from the openai SDKs) or float arrays in JSON. Either
// way the client hands back floats. Every answer is checked: K vectors of the asked length
// (or of one length for all, without --dimensions); one that is not counts as a failure.
#include <llmux/client.hpp>
#include <llmux/histogram.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
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

double peak_rss_mb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

double ms(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

/// Text `j` of call `i`: distinct across the run, the same as embed.mjs sends.
std::string text_of(std::size_t i, std::size_t j) {
    return "benchmark passage " + std::to_string(i) + "." + std::to_string(j) +
           ": the quick brown fox jumps over the lazy dog";
}

}  // namespace

int main(int argc, char** argv) {
    std::string base_url, model = "openai/text-embedding-3-small", encoding = "base64";
    std::size_t n = 5000, conc = 64, k = 16;
    std::optional<std::uint32_t> dimensions;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--base-url") base_url = next();
        else if (a == "-n") n = std::strtoul(next().c_str(), nullptr, 10);
        else if (a == "-c") conc = std::strtoul(next().c_str(), nullptr, 10);
        else if (a == "-k") k = std::strtoul(next().c_str(), nullptr, 10);
        else if (a == "--dimensions")
            dimensions = static_cast<std::uint32_t>(std::strtoul(next().c_str(), nullptr, 10));
        else if (a == "--encoding") encoding = next();
        else if (a == "--model") model = next();
        else {
            std::fprintf(stderr, "bench_embed: unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    if (base_url.empty() || n == 0 || conc == 0 || k == 0 || (dimensions && *dimensions == 0) ||
        (encoding != "base64" && encoding != "float")) {
        std::fprintf(stderr, "usage: bench_embed --base-url URL [-n N] [-c C] [-k K] "
                             "[--dimensions D] [--encoding base64|float]\n");
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
    p->options["embedding_encoding"] = encoding;
    cfg.pool.max_connections_per_origin = conc;
    llmux::client c{io.get_executor(), cfg};

    llmux::latency_histogram latency;
    std::size_t started = 0, failed = 0, vectors = 0;
    std::optional<std::size_t> length;  // of the first vector, when no length was asked
    std::string first_error;

    auto worker = [&]() -> asio::awaitable<void> {
        while (started < n) {
            auto const call = started++;
            auto const t0 = std::chrono::steady_clock::now();
            llmux::embedding_request req{.model = model, .dimensions = dimensions};
            req.inputs.reserve(k);
            for (std::size_t j = 0; j < k; ++j) req.inputs.push_back(text_of(call, j));
            auto r = co_await c.embed(std::move(req));
            latency.record(std::chrono::steady_clock::now() - t0);
            std::string why;
            if (!r) {
                why = r.error().to_string();
            } else if (r->vectors.size() != k) {
                why = std::to_string(r->vectors.size()) + " vectors for " + std::to_string(k) +
                      " inputs";
            } else {
                std::size_t const want =
                    dimensions ? *dimensions : length.value_or(r->vectors[0].size());
                if (!length) length = want;
                for (auto const& v : r->vectors)
                    if (v.size() != want) why = "a vector of " + std::to_string(v.size()) +
                                                " values, not " + std::to_string(want);
            }
            if (why.empty()) {
                vectors += r->vectors.size();
            } else {
                ++failed;
                if (first_error.empty()) first_error = why;
            }
        }
    };

    double const cpu0 = cpu_seconds();
    auto const t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < conc; ++i) asio::co_spawn(io, worker(), asio::detached);
    io.run();
    double const wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double const cpu = cpu_seconds() - cpu0;

    auto const st = c.stats();
    double const rps = static_cast<double>(n) / wall;
    double const ips = static_cast<double>(vectors) / wall;
    double const cpu_us = 1e6 * cpu / static_cast<double>(n);
    double const p50 = ms(latency.percentile(0.50)), p99 = ms(latency.percentile(0.99));
    std::size_t const dims = length.value_or(0);
    std::printf("llmux client: %zu embed calls of %zu inputs (%zu dimensions, %s) at concurrency "
                "%zu in %.3f s\n",
                n, k, dims, encoding.c_str(), conc, wall);
    std::printf("  throughput   %10.0f req/s  %10.0f inputs/s\n", rps, ips);
    std::printf("  client CPU   %10.2f us/req\n", cpu_us);
    std::printf("  latency      p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", p50, p99,
                ms(latency.max()));
    std::printf("  peak RSS     %10.1f MiB\n", peak_rss_mb());
    std::printf("  connections  %llu opened, %llu reuses; failures %zu%s%s\n",
                static_cast<unsigned long long>(st.connections_opened),
                static_cast<unsigned long long>(st.connections_reused), failed,
                first_error.empty() ? "" : "; first: ", first_error.c_str());
    std::printf("{\"client\":\"llmux\",\"n\":%zu,\"concurrency\":%zu,\"inputs_per_call\":%zu,"
                "\"dimensions\":%zu,\"encoding\":\"%s\",\"seconds\":%.4f,\"rps\":%.1f,"
                "\"inputs_per_s\":%.1f,\"cpu_us_per_req\":%.3f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
                "\"peak_rss_mb\":%.2f,\"failures\":%zu}\n",
                n, conc, k, dims, encoding.c_str(), wall, rps, ips, cpu_us, p50, p99,
                peak_rss_mb(), failed);
    return failed == 0 ? 0 : 1;
}
