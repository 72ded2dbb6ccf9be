// SPDX-License-Identifier: BSL-1.0
// llmux chat: one prompt to one model.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "util/json_write.hpp"

#include <llmux/client.hpp>

#include <boost/json/serialize.hpp>

#include <iostream>
#include <iterator>

namespace po = boost::program_options;
namespace asio = boost::asio;

int llmux_cli_chat(std::vector<std::string> const& args) {
    using namespace llmux;
    cli::provider_options popts;
    cli::call_options copts;
    cli::prompt_options prompt;
    std::string model;
    bool stream = false, json = false;

    po::options_description desc(
        "usage: llmux chat -m MODEL [options] PROMPT\n"
        "Sends PROMPT (or standard input when PROMPT is '-') to MODEL and prints the answer.\n"
        "MODEL is provider/model, e.g. openai/gpt-4o-mini, openrouter/anthropic/claude-sonnet-4.6.\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("model,m", po::value(&model)->value_name("MODEL"), "the model, as provider/model")
        ("stream", po::bool_switch(&stream), "print the answer as it arrives")
        ("json", po::bool_switch(&json), "print one JSON object describing the call");
    cli::add_prompt_options(desc, prompt, "cap on the answer's tokens");
    cli::add_call_options(desc, copts);
    cli::add_provider_options(desc, popts);

    po::variables_map vm;
    if (auto code = cli::parse_command(args, desc, prompt, vm, "chat")) return *code;
    if (model.empty() && copts.route.empty()) {
        std::cerr << "llmux chat: missing -m MODEL (e.g. -m openai/gpt-4o-mini)\n";
        return 2;
    }
    auto made = cli::make_request(prompt, vm);
    if (!made) {
        std::cerr << "llmux chat: " << made.error().diag.message << "\n";
        return 2;
    }

    auto plan = cli::make_plan(copts, model);
    if (!plan) {
        std::cerr << "llmux chat: " << plan.error().diag.message << "\n";
        return 2;
    }
    cli::session s;
    if (auto r = cli::setup(s, popts, plan->models, "chat"); !r) {
        std::cerr << "llmux chat: " << r.error() << "\n";
        return 1;
    }
    client c{s.io.get_executor(), s.cfg};
    router rt{c};
    for (auto const& m : plan->models) {
        if (auto r = c.check(m); !r) {
            std::cerr << "llmux chat: " << r.error() << "\n";
            if (s.emu) s.emu->stop();
            return 1;
        }
    }
    std::string const label = model.empty() ? "route:" + copts.route : model;

    chat_request req = std::move(*made);
    req.model = model;

    return cli::run_until_done(s, [&]() -> asio::awaitable<int> {
        result<chat_response> r{failure(error::invalid_request, "not run")};
        if (stream) {
            auto st = cli::start_stream(c, rt, *plan, req);
            bool in_reasoning = false;
            while (auto chunk = co_await st.next()) {
                if (json) continue;
                if (prompt.show_reasoning && !chunk->reasoning.empty()) {
                    if (!in_reasoning) std::cout << "reasoning: ";
                    in_reasoning = true;
                    std::cout << chunk->reasoning;
                    std::cout.flush();
                }
                if (!chunk->text.empty()) {
                    if (in_reasoning) std::cout << "\n\n";
                    in_reasoning = false;
                    std::cout << chunk->text;
                    std::cout.flush();
                }
            }
            r = st.response();
            if (!json && r && !r->content.empty()) std::cout << "\n";
        } else {
            r = co_await cli::run_call(c, rt, *plan, req);
            if (!json && r && prompt.show_reasoning && !r->reasoning.empty())
                std::cout << "reasoning: " << r->reasoning << "\n\n";
            if (!json && r) std::cout << r->content << (r->content.empty() ? "" : "\n");
        }
        if (json) {
            std::cout << llmux::detail::to_json(cli::result_json(r, label)) << "\n";
        } else if (r) {
            for (auto const& tc : r->tool_calls)
                std::cout << "tool call " << tc.id << ": " << tc.name << "(" << tc.arguments
                          << ")\n";
        }
        if (!r) std::cerr << "llmux chat: " << r.error() << "\n";
        co_return r ? 0 : 1;
    });
}
