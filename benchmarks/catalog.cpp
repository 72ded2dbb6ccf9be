// SPDX-License-Identifier: BSL-1.0
// The built-in catalog's costs: building it from the embedded genai-prices data (what the first
// use of catalog::built_in() pays), and looking model ids up: listed ids, ids resolved by the
// match rules (first time and cached), and ids no rule matches.
//   build/benchmarks/bench_catalog [rounds]
#include <llmux/catalog.hpp>

#include "catalog/genai_prices.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double us_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

void report(char const* what, std::vector<double> v, char const* unit) {
    std::sort(v.begin(), v.end());
    std::printf("%-44s min %9.3f  median %9.3f  %s\n", what, v.front(), v[v.size() / 2], unit);
}

}  // namespace

int main(int argc, char** argv) {
    int const rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
    std::vector<double> build;
    std::size_t models = 0;
    for (int i = 0; i < rounds; ++i) {
        auto const t0 = clock_type::now();
        auto c = llmux::catalog::from_genai_prices(llmux::detail::builtin_price_data(), "built-in");
        build.push_back(us_since(t0) / 1000);
        if (!c) return 1;
        models = c->models().size();
    }
    std::printf("%zu models listed\n", models);
    report("build from the embedded data", build, "ms");

    auto const& cat = llmux::catalog::built_in();
    constexpr int n = 20000;
    auto per_call = [&](auto&& f) {
        std::vector<double> v;
        for (int r = 0; r < 5; ++r) {
            auto const t0 = clock_type::now();
            for (int i = 0; i < n; ++i)
                f(i);
            v.push_back(us_since(t0) / n);
        }
        return v;
    };
    std::size_t hits = 0;
    report("find, listed id",
           per_call([&](int) { hits += cat.find("openai/gpt-4o-mini") != nullptr; }), "us");
    report("find, by rule, cached",
           per_call([&](int) { hits += cat.find("anthropic/claude-sonnet-4.6") != nullptr; }),
           "us");
    // New ids each time (more than the cache holds): every lookup walks the rules.
    report("find, by rule, uncached (bedrock profile)", per_call([&](int i) {
               hits += cat.find("bedrock/us.anthropic.claude-sonnet-4-20250514-v1:" +
                                std::to_string(i)) != nullptr;
           }),
           "us");
    report("find, unknown id (openrouter, all routes)", per_call([&](int i) {
               hits += cat.find("openrouter/nobody/model-" + std::to_string(i)) != nullptr;
           }),
           "us");
    return hits > 0 ? 0 : 1;
}
