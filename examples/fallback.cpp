// SPDX-License-Identifier: BSL-1.0
//
// Fallback: try models in order until one answers, each attempt under its own timeout and
// the whole under a deadline. Prints every attempt (model, outcome, latency), then the answer.
// Only failures another model can fix move on (timeouts, 429, 5xx, connection errors); a bad
// request or a rejected key stops at once.
//
// Run:  ./fallback ["your prompt"]
//   With OPENAI_API_KEY, ANTHROPIC_API_KEY and GEMINI_API_KEY set, it calls the real models;
//   usually the first one answers.
//   With no keys set, it uses the in-process emulator, scripted so that gpt-4o fails with
//   HTTP 503 and claude-sonnet-4.6 stalls past its per-attempt timeout: gemini answers.

#include "example_setup.hpp"

#include <llmux/client.hpp>
#include <llmux/combinators.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

void print_attempts(std::vector<llmux::attempt> const& attempts) {
    int n = 0;
    for (auto const& a : attempts) {
        std::printf("attempt %d  %-28s %8.1f ms  %s\n", ++n, a.model.c_str(),
                    example::ms(a.latency), a.error ? a.error->to_string().c_str() : "ok");
    }
}

asio::awaitable<int> ask(llmux::client& client, std::string prompt, bool emulated) {
    llmux::model_list const candidates{"openai/gpt-4o", "anthropic/claude-sonnet-4.6",
                                       "google/gemini-2.0-flash"};
    llmux::chat_request req{.messages = {llmux::user(prompt)}, .max_tokens = 200};
    // The emulator's stall would last forever: a short per-attempt timeout shows it quickly.
    llmux::fallback_options opts{.per_attempt = emulated ? llmux::duration(1s) : 20s,
                                 .deadline = emulated ? llmux::duration(5s) : 60s};

    auto r = co_await llmux::fallback(client, candidates, req, opts);

    if (!r) {
        print_attempts(r.error().diag.attempts);
        std::cout << "every candidate failed: " << r.error() << '\n';
        co_return 1;
    }
    print_attempts(r->attempts);
    std::cout << "\nanswered by " << r->requested_model << " (" << r->model << "):\n"
              << r->text() << '\n';
    co_return 0;
}

int main(int argc, char** argv) {
    std::string prompt = argc > 1 ? argv[1] : "Name one reason to keep a fallback model.";

    // Used only when no keys are set: make the first two candidates fail in different ways.
    llmux::emulator_config emulated;
    example::script(emulated, "gpt-4o", "error=503");
    example::script(emulated, "claude-sonnet-4.6", "fault=stall");

    asio::io_context io;
    example::environment env(io, emulated);
    llmux::client client(io.get_executor(), env.config());
    return example::run(io, env, ask(client, prompt, env.emulated()));
}
