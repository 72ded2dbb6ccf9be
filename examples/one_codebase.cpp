// SPDX-License-Identifier: BSL-1.0
//
// One codebase, three providers: the same `co_await client.chat(req)` calls OpenAI, Anthropic
// and Google; only the model id changes. Prints each answer with its tokens and cost.
//
// Run:  ./one_codebase ["your prompt"]
//   With OPENAI_API_KEY, ANTHROPIC_API_KEY and GEMINI_API_KEY set, it calls the real models
//   (a provider without a key fails with `missing_api_key`, the others still answer).
//   With no keys set, it starts the in-process emulator and says so.

#include "example_setup.hpp"

#include <llmux/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string>

namespace asio = boost::asio;

asio::awaitable<int> ask_everyone(llmux::client& client, std::string prompt) {
    llmux::model_list const models{"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.6",
                                   "google/gemini-2.0-flash"};
    int failures = 0;
    for (auto const& model : models) {
        llmux::chat_request req{.model = model,
                                .messages = {llmux::user(prompt)},
                                .max_tokens = 200};
        auto r = co_await client.chat(req);  // the same call for every provider

        std::cout << "== " << model << '\n';
        if (!r) {
            std::cout << "failed: " << r.error() << "\n\n";
            ++failures;
            continue;
        }
        std::cout << r->text() << '\n'
                  << "tokens: " << r->usage.input_tokens << " in, " << r->usage.output_tokens
                  << " out; cost: " << example::usd(r->cost_usd) << "; "
                  << example::ms(r->latency) << " ms\n\n";
    }
    co_return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
    std::string prompt = argc > 1 ? argv[1] : "In one sentence: why do programs fail over "
                                              "between LLM providers?";
    asio::io_context io;
    example::environment env(io);
    llmux::client client(io.get_executor(), env.config());
    return example::run(io, env, ask_everyone(client, prompt));
}
