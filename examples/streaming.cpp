// SPDX-License-Identifier: BSL-1.0
//
// Streaming: print an answer chunk by chunk as it arrives, then its usage, time to first
// token and cost. Then a streamed fallback: candidates are tried in order until one starts
// answering; once text has reached the caller that candidate is committed (a later failure
// is an error, never an answer spliced from two models).
//
// Run:  ./streaming ["your prompt"]
//   With OPENAI_API_KEY and ANTHROPIC_API_KEY set, it streams from the real models.
//   With no keys set, it uses the in-process emulator, which paces its tokens and, for the
//   fallback part, fails gpt-4o with HTTP 503 so that claude-sonnet-4.6 takes over.

#include "example_setup.hpp"

#include <llmux/client.hpp>
#include <llmux/combinators.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// One stream type for a plain stream and a stream with fallback.
asio::awaitable<bool> print_stream(llmux::chat_stream& s) {
    int chunks = 0;
    while (auto chunk = co_await s.next()) {
        std::cout << chunk->text << std::flush;
        if (chunk->has_content()) ++chunks;
    }
    auto const& r = s.response();  // the assembled answer, or why the stream failed
    if (!r) {
        std::cout << "\nstream failed: " << r.error() << '\n';
        co_return false;
    }
    std::cout << "\n(" << chunks << " chunks from " << r->requested_model << "; finish: "
              << llmux::to_string(r->finish_reason) << "; tokens: " << r->usage.input_tokens
              << " in, " << r->usage.output_tokens << " out; first token after "
              << example::ms(r->ttft) << " ms, done after " << example::ms(r->latency)
              << " ms; cost " << example::usd(r->cost_usd) << ")\n";
    co_return true;
}

asio::awaitable<int> stream_answers(llmux::client& client, std::string prompt) {
    llmux::chat_request req{.model = "openai/gpt-4o-mini",
                            .messages = {llmux::user(prompt)},
                            .max_tokens = 200};
    std::cout << "== streaming from " << req.model << '\n';
    auto s = client.stream(req);
    bool const plain_ok = co_await print_stream(s);

    std::cout << "\n== streaming with fallback\n";
    llmux::model_list const candidates{"openai/gpt-4o", "anthropic/claude-sonnet-4.6"};
    llmux::fallback_options opts{.per_attempt = 15s};  // bounds the time to the first token
    auto fs = llmux::stream_fallback(client, candidates, req, opts);
    bool const fallback_ok = co_await print_stream(fs);
    auto const& r = fs.response();
    for (auto const& a : r ? r->attempts : r.error().diag.attempts)
        std::cout << "attempt " << a.model << ": "
                  << (a.error ? a.error->to_string() : std::string("ok")) << '\n';

    co_return plain_ok && fallback_ok ? 0 : 1;
}

int main(int argc, char** argv) {
    std::string prompt = argc > 1 ? argv[1] : "Write a haiku about streaming tokens.";

    // Used only when no keys are set: paced output, and a failing first fallback candidate.
    llmux::emulator_config emulated;
    emulated.defaults = llmux::parse_behaviour("ttft=100ms,tps=100,tokens=30").value();
    example::script(emulated, "gpt-4o", "error=503");

    asio::io_context io;
    example::environment env(io, emulated);
    llmux::client client(io.get_executor(), env.config());
    return example::run(io, env, stream_answers(client, prompt));
}
