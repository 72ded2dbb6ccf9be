// SPDX-License-Identifier: BSL-1.0
// llmux compare: one prompt to many models at once, answers side by side as they arrive.
//
// The fan-out is gather's (a pool of `--concurrency` workers taking the next model, one outcome
// per model, a failure a value in its row), written here rather than calling llmux::gather
// because the table shows each row the moment its answer arrives, and --stream shows answers
// growing: gather only returns when every call is over.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/term.hpp"
#include "util/json_write.hpp"

#include <llmux/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <iterator>

namespace po = boost::program_options;
namespace asio = boost::asio;

namespace {

using steady = std::chrono::steady_clock;
using llmux::cli::table;

struct slot {
    std::string model;
    bool started = false;
    bool done = false;
    steady::time_point t0;
    steady::time_point t1;                    // when the outcome arrived
    std::optional<steady::time_point> first;  // first content chunk of a stream
    std::string partial;                      // the streamed text so far
    std::optional<llmux::result<llmux::chat_response>> r;
};

struct compare_state {
    llmux::client* c = nullptr;
    llmux::client_config const* cfg = nullptr;
    llmux::chat_request req;
    bool stream = false;
    std::vector<slot> slots;
    std::size_t next = 0;
    bool finished = false;
    bool dirty = false;
    std::function<void(std::size_t)> on_done;
    std::unique_ptr<asio::steady_timer> ticker;
};

asio::awaitable<void> compare_worker(std::shared_ptr<compare_state> st) {
    // The io_context runs on one thread: the workers share `st` without locks.
    for (;;) {
        auto const i = st->next++;
        if (i >= st->slots.size()) co_return;
        auto& s = st->slots[i];
        s.started = true;
        s.t0 = steady::now();
        llmux::chat_request req = st->req;
        req.model = s.model;
        if (st->stream) {
            auto cs = st->c->stream(std::move(req));
            while (auto chunk = co_await cs.next()) {
                if (!s.first && chunk->has_content()) s.first = steady::now();
                s.partial += chunk->text;
                st->dirty = true;
            }
            s.r = cs.response();
        } else {
            s.r = co_await st->c->chat(std::move(req));
        }
        if (*s.r) llmux::cli::price_scripted(**s.r, *st->cfg);
        s.t1 = steady::now();
        s.done = true;
        st->dirty = true;
        if (st->on_done) st->on_done(i);
    }
}

asio::awaitable<void> run_workers(std::shared_ptr<compare_state> st, std::size_t workers) {
    auto ex = co_await asio::this_coro::executor;
    using op_type = decltype(asio::co_spawn(ex, compare_worker(st), asio::deferred));
    std::vector<op_type> ops;
    for (std::size_t i = 0; i < workers; ++i)
        ops.push_back(asio::co_spawn(ex, compare_worker(st), asio::deferred));
    // Cancelling the caller cancels the group, which cancels each worker's call in flight.
    (void)co_await asio::experimental::make_parallel_group(std::move(ops))
        .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
}

double ms(std::chrono::nanoseconds d) { return llmux::cli::to_ms(d); }

std::string tokens(llmux::token_count const& n) { return n ? std::to_string(*n) : "?"; }

/// The cells of one row: finished, running (elapsed time, the stream so far) or waiting.
std::vector<table::cell> cells(slot const& s, steady::time_point now) {
    using llmux::cli::format_duration_ms;
    if (s.done && *s.r) {
        auto const& r = **s.r;
        std::string answer = llmux::cli::printable(r.content);
        for (auto const& tc : r.tool_calls)
            answer += (answer.empty() ? "" : "\n") + ("tool call " + tc.name + "(" +
                                                      llmux::cli::printable(tc.arguments) + ")");
        if (answer.empty()) answer = "(empty answer, finish reason " +
                                     std::string(llmux::to_string(r.finish_reason)) + ")";
        return {{s.model, "1"},
                {"ok", "32"},
                {format_duration_ms(ms(r.ttft))},
                {format_duration_ms(ms(r.latency))},
                {tokens(r.usage.input_tokens)},
                {tokens(r.usage.output_tokens)},
                {llmux::cli::format_usd(r.cost_usd)},
                {answer}};
    }
    if (s.done) {
        auto const& f = s.r->error();
        return {{s.model, "1"}, {"error", "31"}, {"-"}, {format_duration_ms(ms(s.t1 - s.t0)), "2"},
                {"-"},          {"-"},           {"-"}, {llmux::cli::printable(f.to_string()), "31"}};
    }
    if (!s.started) return {{s.model, "1"}, {"…", "2"}, {}, {}, {}, {}, {}, {"waiting", "2"}};
    std::string ttft = s.first ? format_duration_ms(ms(*s.first - s.t0)) : "";
    std::string text = s.partial.empty() ? std::string("…") : llmux::cli::printable(s.partial);
    return {{s.model, "1"},
            {"…", "33"},
            {ttft, "2"},
            {format_duration_ms(ms(now - s.t0)), "2"},
            {},
            {},
            {},
            {text, s.partial.empty() ? "2" : nullptr}};
}

table make_table() {
    return table({{"MODEL"},
                  {"STATUS", false, false, 0, 5},
                  {"TTFT", true, false, 0, 7},
                  {"LATENCY", true, false, 0, 7},
                  {"IN", true, false, 0, 4},
                  {"OUT", true, false, 0, 4},
                  {"COST", true, false, 0, 10},
                  {"ANSWER", false, true, 0, 20}});
}

/// Fits the columns for rows not known yet: the widest model id and the widest cells the
/// formats produce, so rows can be printed one by one as they arrive and still line up.
void fit_ahead(table& t, std::vector<slot> const& slots, std::size_t width) {
    std::vector<std::vector<table::cell>> rows;
    for (auto const& s : slots)
        rows.push_back({{s.model}, {"error"}, {"12.3 ms"}, {"12.3 ms"}, {"1234"}, {"1234"},
                        {"$0.0000123"}, {""}});
    t.fit(rows, width);
}

}  // namespace

int llmux_cli_compare(std::vector<std::string> const& args) {
    using namespace llmux;
    cli::provider_options popts;
    cli::prompt_options prompt;
    std::vector<std::string> model_args;
    bool stream = false, json = false, full = false;
    int concurrency = 0;

    po::options_description desc(
        "usage: llmux compare -m M1,M2,... [options] PROMPT\n"
        "Sends PROMPT (or standard input when PROMPT is '-') to every model at once and shows\n"
        "the answers side by side as they arrive: status, time to first token, latency, input\n"
        "and output tokens, cost, and the answer. A failed call is a row with its error.\n"
        "Exit status: 0 when every model answered, 1 when any failed, 2 for bad usage.\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("model,m", po::value(&model_args)->composing()->value_name("M1,M2"),
         "the models, as provider/model (comma-separated, repeatable)")
        ("concurrency", po::value(&concurrency)->value_name("N"),
         "calls in flight at once (default: all)")
        ("stream", po::bool_switch(&stream),
         "stream the answers (on a terminal they grow live); TTFT is then the first token")
        ("full", po::bool_switch(&full), "show whole answers (default: the first 4 lines)")
        ("json", po::bool_switch(&json),
         "print one JSON object per model (the fields of 'llmux chat --json'), in -m order");
    cli::add_prompt_options(desc, prompt, "cap on each answer's tokens");
    cli::add_provider_options(desc, popts);

    po::variables_map vm;
    if (auto code = cli::parse_command(args, desc, prompt, vm, "compare")) return *code;
    std::vector<std::string> models;
    for (auto const& a : model_args)
        for (auto& m : cli::split_models(a)) models.push_back(std::move(m));
    if (models.empty()) {
        std::cerr << "llmux compare: missing -m M1,M2,... (e.g. -m openai/gpt-4o-mini,"
                     "anthropic/claude-haiku-4.5)\n";
        return 2;
    }
    auto made = cli::make_request(prompt, vm);
    if (!made) {
        std::cerr << "llmux compare: " << made.error().diag.message << "\n";
        return 2;
    }
    if (vm.count("concurrency") && concurrency <= 0) {
        std::cerr << "llmux compare: --concurrency must be a positive number\n";
        return 2;
    }
    for (auto const& m : models)
        if (auto id = model_id::parse(m); !id) {
            std::cerr << "llmux compare: " << id.error() << "\n";
            return 2;
        }
    if (!popts.timeout.empty())
        if (auto d = parse_duration(popts.timeout); !d) {
            std::cerr << "llmux compare: --timeout: " << d.error().diag.message << "\n";
            return 2;
        }

    cli::session s;
    if (auto r = cli::setup(s, popts, models, "compare"); !r) {
        std::cerr << "llmux compare: " << r.error() << "\n";
        return 1;
    }
    client c{s.io.get_executor(), s.cfg};
    for (auto const& m : models)
        if (auto r = c.check(m); !r) {
            std::cerr << "llmux compare: " << r.error() << "\n";
            if (s.emu) s.emu->stop();
            return 1;
        }

    auto st = std::make_shared<compare_state>();
    st->c = &c;
    st->cfg = &s.cfg;
    st->stream = stream;
    st->req = std::move(*made);
    for (auto const& m : models) st->slots.push_back(slot{.model = m});
    std::size_t const workers =
        concurrency > 0 ? std::min<std::size_t>(models.size(), concurrency) : models.size();

    auto const pal = cli::palette::for_fd(STDOUT_FILENO);
    auto const width = cli::terminal_width(STDOUT_FILENO);
    table t = make_table();
    fit_ahead(t, st->slots, width);
    std::size_t const answer_lines = full ? 0 : 4;
    std::size_t fixed_width = 0;
    for (auto const& col : t.columns())
        if (!col.wrap) fixed_width += col.width + 2;
    // Live redrawing needs a terminal with room for every row; otherwise rows are printed once,
    // in the order the answers arrive.
    auto const height = cli::terminal_height(STDOUT_FILENO);
    bool const live = !json && cli::is_terminal(STDOUT_FILENO) && fixed_width + 20 <= width &&
                      models.size() + 3 <= height;
    std::size_t const live_lines =
        live ? std::clamp<std::size_t>((height - 3) / models.size(), 1, 3) : 1;
    std::size_t drawn = 0;  // lines of the live region on screen

    // On a terminal too narrow for an answer column of 20, answers go under their rows, indented
    // and wrapped to the full width, so no line is longer than the terminal.
    bool const narrow = fixed_width + 20 > width;
    auto final_row = [&](slot const& sl, steady::time_point now) {
        auto row = cells(sl, now);
        if (!narrow) return t.row(row, pal, answer_lines);
        auto const answer = row.back();
        row.back() = {};
        std::string out = t.row(row, pal);
        std::size_t const w = width > 12 ? width - 4 : 8;
        auto lines = cli::wrap(answer.text, w);
        if (answer_lines && lines.size() > answer_lines) {
            lines.resize(answer_lines);
            auto& last = lines.back();
            if (cli::display_width(last) + 1 > w) last = cli::truncate(last, w - 1);
            last += "…";
        }
        for (auto const& l : lines) out += "    " + pal.paint(l, answer.sgr) + "\n";
        return out;
    };

    auto draw = [&](bool final) {
        auto const now = steady::now();
        std::string frame;
        if (drawn) frame += "\r\x1b[" + std::to_string(drawn) + "A";
        frame += "\x1b[J";
        std::string body = t.header(pal);
        for (auto const& sl : st->slots)
            body += final ? final_row(sl, now)
                          : t.row(cells(sl, now), pal, live_lines, !sl.done);
        drawn = cli::line_count(body);
        std::cout << frame << body << std::flush;
    };

    if (!json) {
        if (live) {
            std::cout << "\x1b[?25l";  // hide the cursor while redrawing
            draw(false);
            st->ticker = std::make_unique<asio::steady_timer>(s.io);
        } else {
            std::cout << t.header(pal) << std::flush;
            st->on_done = [&](std::size_t i) {
                std::cout << final_row(st->slots[i], steady::now())
                          << std::flush;
            };
        }
    }

    asio::cancellation_signal cancel;
    asio::signal_set signals(s.io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) cancel.emit(asio::cancellation_type::terminal);
    });

    auto tick = [&]() -> asio::awaitable<void> {
        while (!st->finished) {
            st->ticker->expires_after(std::chrono::milliseconds(80));
            auto waited = co_await st->ticker->async_wait(asio::as_tuple(asio::use_awaitable));
            (void)waited;  // cancelled at the end: the loop condition says so
            if (st->finished) break;
            draw(false);
        }
    };

    auto const t0 = steady::now();
    auto run = [&]() -> asio::awaitable<void> {
        if (live) asio::co_spawn(s.io, tick(), asio::detached);
        co_await run_workers(st, workers);
        st->finished = true;
        if (st->ticker) st->ticker->cancel();
        signals.cancel();
        if (s.emu) s.emu->stop();
    };
    asio::co_spawn(s.io, run(), asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    s.io.run();
    auto const wall = steady::now() - t0;

    std::size_t ok = 0, failed = 0, unknown_cost = 0;
    double cost = 0;
    for (auto const& sl : st->slots) {
        if (sl.r && *sl.r) {
            ++ok;
            if ((*sl.r)->cost_usd)
                cost += *(*sl.r)->cost_usd;
            else
                ++unknown_cost;
        } else {
            ++failed;
        }
    }

    if (json) {
        for (auto const& sl : st->slots) {
            result<chat_response> r = sl.r ? *sl.r
                                           : result<chat_response>(failure(
                                                 asio::error::operation_aborted, "not started"));
            std::cout << llmux::detail::to_json(cli::result_json(r, sl.model)) << "\n";
        }
    } else {
        if (live) {
            draw(true);
            std::cout << "\x1b[?25h";
        }
        std::string summary = std::to_string(models.size()) + " model" +
                              (models.size() == 1 ? "" : "s") + " · " + std::to_string(ok) +
                              " ok · " + std::to_string(failed) + " failed · cost " +
                              cli::format_usd(ok > unknown_cost ? std::optional(cost) : std::nullopt);
        if (unknown_cost && ok > unknown_cost)
            summary += " (+" + std::to_string(unknown_cost) + " unpriced)";
        summary += " · " + cli::format_duration_ms(cli::to_ms(wall)) + " wall";
        std::cout << pal.dim(summary) << "\n" << std::flush;
    }
    return failed ? 1 : 0;
}
