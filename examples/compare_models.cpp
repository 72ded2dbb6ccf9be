// SPDX-License-Identifier: BSL-1.0
//
// Comparing models: one prompt to five models at once with `llmux::gather`, then a table
// with each model's tokens, latency and cost. A failed model is a row with its error; the
// others still answer. The wall time is about that of the slowest model, not the sum.
//
// Run:  ./compare_models ["your prompt" [provider/model ...]]
//   With OPENAI_API_KEY, ANTHROPIC_API_KEY and GEMINI_API_KEY set, it calls the real models
//   (or the models you name).
//   With no keys set, it uses the in-process emulator, scripted with a latency and an answer
//   length per model.

#include "example_setup.hpp"

#include <llmux/client.hpp>
#include <llmux/combinators.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

namespace asio = boost::asio;

asio::awaitable<int> compare(llmux::client& client, llmux::model_list models,
                             std::string prompt) {
    llmux::chat_request req{.messages = {llmux::user(prompt)}, .max_tokens = 300};

    auto const start = std::chrono::steady_clock::now();
    auto results = co_await llmux::gather(client, models, req);  // one result per model, in order
    auto const wall = std::chrono::steady_clock::now() - start;

    std::printf("%-28s %-6s %7s %7s %11s %11s\n", "model", "status", "in", "out", "latency",
                "cost");
    int failures = 0;
    for (std::size_t i = 0; i < models.size(); ++i) {
        auto const& r = results[i];
        if (!r) {
            std::printf("%-28s %-6s %s\n", models[i].c_str(), "failed",
                        r.error().to_string().c_str());
            ++failures;
            continue;
        }
        auto const& u = r->usage;
        std::printf("%-28s %-6s %7llu %7llu %8.1f ms %11s\n", models[i].c_str(), "ok",
                    static_cast<unsigned long long>(u.input_tokens.value_or(0)),
                    static_cast<unsigned long long>(u.output_tokens.value_or(0)),
                    example::ms(r->latency), example::usd(r->cost_usd).c_str());
    }
    std::cout << "\n" << models.size() << " calls in " << example::ms(wall)
              << " ms wall time, spent " << example::usd(client.totals().cost_usd) << "\n\n";

    for (std::size_t i = 0; i < models.size(); ++i)
        if (results[i]) std::cout << models[i] << ": " << results[i]->text() << "\n\n";
    co_return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
    std::string prompt = argc > 1 ? argv[1] : "Explain a hash map to a five-year-old.";
    llmux::model_list models{"openai/gpt-4o-mini", "openai/gpt-4.1-nano",
                             "anthropic/claude-haiku-4.5", "google/gemini-2.0-flash",
                             "google/gemini-2.5-flash"};
    if (argc > 2) models.assign(argv + 2, argv + argc);

    // Used only when no keys are set: different speeds and answer lengths.
    llmux::emulator_config emulated;
    example::script(emulated, "gpt-4o-mini", "latency=120ms,tokens=60");
    example::script(emulated, "gpt-4.1-nano", "latency=60ms,tokens=30");
    example::script(emulated, "claude-haiku-4.5", "latency=200ms,tokens=80");
    example::script(emulated, "gemini-2.0-flash", "latency=40ms,tokens=40");
    example::script(emulated, "gemini-2.5-flash", "latency=150ms,tokens=100");

    asio::io_context io;
    example::environment env(io, emulated);
    llmux::client client(io.get_executor(), env.config());
    return example::run(io, env, compare(client, models, prompt));
}
