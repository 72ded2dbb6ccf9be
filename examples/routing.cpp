// SPDX-License-Identifier: BSL-1.0
//
// Routing: let llmux pick the model by strategy (cheapest by catalog price, best by catalog
// quality, fastest by measured time to first token) under constraints (a price cap, vision,
// allowed providers). A routed call falls back along the ranking if its first pick fails.
//
// Run:  ./routing ["your prompt"]
//   With keys set (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, DEEPSEEK_API_KEY, ...),
//   it routes among the candidates below whose provider has a key. It makes a few small
//   calls to measure latencies, so it costs a few cents at most.
//   With no keys set, it uses the in-process emulator, scripted with a latency per model.

#include "example_setup.hpp"

#include <llmux/client.hpp>
#include <llmux/combinators.hpp>
#include <llmux/router.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;

llmux::model_list const candidates{
    "openai/gpt-4o",           "openai/gpt-4o-mini",    "anthropic/claude-sonnet-4.6",
    "anthropic/claude-haiku-4.5", "google/gemini-2.5-pro", "google/gemini-2.0-flash",
    "deepseek/deepseek-chat"};

void print_ranking(char const* label, std::vector<std::string> const& ranking) {
    std::cout << label << ':';
    for (auto const& m : ranking) std::cout << ' ' << m;
    std::cout << (ranking.empty() ? " (no model fits)\n" : "\n");
}

void print_answer(char const* label, llmux::result<llmux::chat_response> const& r) {
    if (!r) {
        std::cout << label << " -> failed: " << r.error() << '\n';
        return;
    }
    std::cout << label << " -> " << r->requested_model << " answered in "
              << example::ms(r->latency) << " ms, cost " << example::usd(r->cost_usd) << ": "
              << r->text().substr(0, 60) << "...\n";
}

asio::awaitable<int> route(llmux::client& client, std::string prompt) {
    // Route among the candidates this environment can call (a provider without a key is out).
    llmux::router_config cfg;
    for (auto const& m : candidates)
        if (client.check(m)) cfg.candidates.push_back(m);
    cfg.exploration = 0;  // `fastest` ranks by measurements only (no random exploring here)
    cfg.min_samples = 2;
    llmux::router router(client, cfg);

    llmux::chat_request req{.messages = {llmux::user(prompt)}, .max_tokens = 100};

    // Rankings come from the catalog (prices, quality, capabilities); nothing is sent.
    print_ranking("cheapest", router.rank(req, llmux::route::cheapest));
    print_ranking("best", router.rank(req, llmux::route::best));
    print_ranking("best under $1/Mtok", router.rank(req, llmux::route::best, {.max_price = 1.0}));
    print_ranking("cheapest with vision, not openai",
                  router.rank(req, llmux::route::cheapest,
                              {.needs_vision = true, .deny_providers = {"openai"}}));

    // `fastest` needs measurements: call every candidate twice, concurrently.
    llmux::model_list const callable = cfg.candidates;
    for (int round = 0; round < 2; ++round) {
        auto warm_up = co_await llmux::gather(client, callable, req);
        for (auto const& r : warm_up)
            if (!r) std::cout << "warm-up call failed: " << r.error() << '\n';
    }
    std::cout << "fastest (measured time to first token):";
    for (auto const& m : router.rank(req, llmux::route::fastest))
        std::cout << ' ' << m << " ("
                  << example::ms(client.estimate(m).ewma_ttft.value_or(std::chrono::nanoseconds{}))
                  << " ms)";
    std::cout << "\n\n";

    // A routed call: the best-ranked model, falling back along the ranking.
    auto cheapest = co_await router.chat(req, llmux::route::cheapest);
    print_answer("cheapest", cheapest);

    llmux::route_constraints const affordable{.max_price = 1.0};
    auto best = co_await router.chat(req, llmux::route::best, affordable);
    print_answer("best under $1/Mtok", best);

    auto fastest = co_await router.chat(req, llmux::route::fastest);
    print_answer("fastest", fastest);

    co_return cheapest && best && fastest ? 0 : 1;
}

int main(int argc, char** argv) {
    std::string prompt = argc > 1 ? argv[1] : "Suggest a name for a cat that routes packets.";

    // Used only when no keys are set: each model answers after its own latency.
    llmux::emulator_config emulated;
    example::script(emulated, "gpt-4o", "latency=170ms");
    example::script(emulated, "gpt-4o-mini", "latency=90ms");
    example::script(emulated, "claude-sonnet-4.6", "latency=210ms");
    example::script(emulated, "claude-haiku-4.5", "latency=50ms");
    example::script(emulated, "gemini-2.5-pro", "latency=250ms");
    example::script(emulated, "gemini-2.0-flash", "latency=10ms");
    example::script(emulated, "deepseek-chat", "latency=130ms");

    asio::io_context io;
    example::environment env(io, emulated);
    llmux::client client(io.get_executor(), env.config());
    return example::run(io, env, route(client, prompt));
}
