// SPDX-License-Identifier: BSL-1.0
// llmux bench: latency, time to first token, throughput and errors per model.
//
// Every model is measured at the same time, each by `-c` workers of its own (so `-c` calls are
// in flight per model, `models × c` in all): models on different providers do not slow each
// other down, and the run takes as long as the slowest model rather than the sum. Each worker
// takes the next of the model's `-n` calls until none is left; the warm-up calls come first,
// and the measured ones only start when every warm-up call of that model has finished.
// Latencies go into `latency_histogram`s (bounded error, fixed memory), never a sample list.
//
// With --embed the calls are `client::embed` calls of `--inputs` texts each instead of chats:
// the same workers, warm-up and reports, with inputs per second and the vectors' length in
// place of TTFT and output tokens (an embedding has neither).
#include "cli/bench_report.hpp"
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
#include <cstdint>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>

namespace po = boost::program_options;
namespace asio = boost::asio;

namespace {

using steady = std::chrono::steady_clock;

struct model_run {
    llmux::cli::call_plan plan;
    llmux::cli::bench_model m;
    std::size_t warm_started = 0;
    std::size_t warm_done = 0;
    std::size_t started = 0;
    bool finished = false;
    std::optional<steady::time_point> first_start;
    steady::time_point last_end;
    std::size_t reported = 0;  // calls done at the last plain progress line
};

struct bench_state {
    llmux::client* c = nullptr;
    llmux::router* r = nullptr;
    llmux::client_config const* cfg = nullptr;
    llmux::chat_request req;
    bool stream = false;
    /// --embed: each call embeds `inputs_per_call` texts starting with `embed_text`.
    bool embed = false;
    std::string embed_text;
    std::size_t inputs_per_call = 1;
    std::optional<std::uint32_t> dimensions;
    std::size_t requests = 0;
    std::size_t warmup = 0;
    std::size_t concurrency = 1;
    bool stopping = false;
    std::vector<model_run> runs;
};

asio::awaitable<llmux::result<llmux::chat_response>> one_call(bench_state& st, model_run& run) {
    llmux::chat_request req = st.req;
    if (st.stream) {
        auto s = llmux::cli::start_stream(*st.c, *st.r, run.plan, std::move(req));
        // Only the timings matter: the client stamps the first content chunk and the end.
        while (auto chunk = co_await s.next()) {
        }
        auto r = s.response();
        if (r) llmux::cli::price_scripted(*r, *st.cfg);
        co_return r;
    }
    auto r = co_await llmux::cli::run_call(*st.c, *st.r, run.plan, std::move(req));
    if (r) llmux::cli::price_scripted(*r, *st.cfg);
    co_return r;
}

/** The texts of call `call` of a model: `k` of them, distinct within the call and across the
    run's calls (a provider or cache that remembered a text would not embed it again), the same
    in every run. Warm-up calls get texts of their own.
*/
std::vector<std::string> embed_inputs(std::string const& base, std::size_t call, std::size_t k,
                                      bool warm) {
    std::vector<std::string> out;
    out.reserve(k);
    std::string const tag = std::string(warm ? " (warm-up call " : " (call ") +
                            std::to_string(call + 1) + ", text ";
    for (std::size_t j = 0; j < k; ++j) out.push_back(base + tag + std::to_string(j + 1) + ")");
    return out;
}

asio::awaitable<llmux::result<llmux::embedding_response>> one_embed(bench_state& st,
                                                                     model_run& run,
                                                                     std::size_t call, bool warm) {
    llmux::embedding_request req;
    req.model = run.m.model;
    req.inputs = embed_inputs(st.embed_text, call, st.inputs_per_call, warm);
    req.dimensions = st.dimensions;
    auto r = co_await st.c->embed(std::move(req));
    if (r) llmux::cli::price_scripted(*r, *st.cfg);
    co_return r;
}

void record_failure(llmux::cli::bench_model& m, llmux::failure const& f) {
    ++m.failed;
    auto const code = llmux::code_name(f.code);
    ++m.errors[code];
    m.error_messages.try_emplace(code, f.to_string());
}

void record(llmux::cli::bench_model& m, llmux::result<llmux::embedding_response> const& r) {
    if (!r) {
        record_failure(m, r.error());
        return;
    }
    auto const& resp = *r;
    ++m.ok;
    m.latency.record(resp.latency);
    m.inputs += resp.vectors.size();
    m.batches += resp.batches;
    for (auto const& v : resp.vectors) ++m.vector_lengths[v.size()];
    if (resp.usage.input_tokens)
        m.input_tokens += *resp.usage.input_tokens;
    else
        ++m.unknown_usage;
    if (resp.cost_usd)
        m.cost_usd += *resp.cost_usd;
    else
        ++m.unpriced;
}

void record(llmux::cli::bench_model& m, llmux::result<llmux::chat_response> const& r, bool stream) {
    if (!r) {
        record_failure(m, r.error());
        return;
    }
    auto const& resp = *r;
    ++m.ok;
    m.latency.record(resp.latency);
    m.ttft.record(resp.ttft);
    if (resp.usage.input_tokens) m.input_tokens += *resp.usage.input_tokens;
    m.cached_input_tokens += resp.usage.cached_input_tokens.value_or(0);
    m.cache_write_tokens += resp.usage.cache_write_tokens.value_or(0);
    m.reasoning_tokens += resp.usage.reasoning_tokens.value_or(0);
    if (resp.usage.output_tokens) {
        auto const out = *resp.usage.output_tokens;
        m.output_tokens += out;
        if (stream) {
            // Decode speed after the first token: the first one's wait is TTFT, not decoding.
            if (out > 1 && resp.latency > resp.ttft) {
                m.rate_tokens += static_cast<double>(out - 1);
                m.rate_time += resp.latency - resp.ttft;
            }
        } else if (resp.latency.count() > 0) {
            m.rate_tokens += static_cast<double>(out);
            m.rate_time += resp.latency;
        }
    }
    if (!resp.usage.known()) ++m.unknown_usage;
    if (resp.cost_usd)
        m.cost_usd += *resp.cost_usd;
    else
        ++m.unpriced;
}

asio::awaitable<void> warm_worker(bench_state& st, model_run& run) {
    while (!st.stopping && run.warm_started < st.warmup) {
        auto const call = run.warm_started++;
        if (st.embed) {
            auto r = co_await one_embed(st, run, call, true);
            (void)r;
        } else {
            auto r = co_await one_call(st, run);
            (void)r;
        }
        ++run.warm_done;
    }
}

asio::awaitable<void> worker(bench_state& st, model_run& run) {
    while (!st.stopping && run.started < st.requests) {
        auto const call = run.started++;
        auto const t0 = steady::now();
        if (!run.first_start) run.first_start = t0;
        if (st.embed) {
            auto r = co_await one_embed(st, run, call, false);
            if (st.stopping) co_return;  // interrupted: a cancelled call is not a measurement
            run.last_end = std::max(run.last_end, steady::now());
            record(run.m, r);
            continue;
        }
        auto r = co_await one_call(st, run);
        if (st.stopping) co_return;
        run.last_end = std::max(run.last_end, steady::now());
        record(run.m, r, st.stream);
    }
}

/// Runs `n` copies of `make()` at once and waits for all of them.
template <class Make>
asio::awaitable<void> all_of(std::size_t n, Make make) {
    auto ex = co_await asio::this_coro::executor;
    using op_type = decltype(asio::co_spawn(ex, make(), asio::deferred));
    std::vector<op_type> ops;
    for (std::size_t i = 0; i < n; ++i) ops.push_back(asio::co_spawn(ex, make(), asio::deferred));
    // Cancelling the caller cancels the group, which cancels each call in flight.
    (void)co_await asio::experimental::make_parallel_group(std::move(ops))
        .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
}

asio::awaitable<void> run_model(bench_state& st, model_run& run) {
    if (st.warmup) {
        auto warm = [&] { return warm_worker(st, run); };
        co_await all_of(std::min(st.concurrency, st.warmup), warm);
    }
    auto measure = [&] { return worker(st, run); };
    co_await all_of(std::min(st.concurrency, st.requests), measure);
    if (run.first_start) run.m.wall = run.last_end - *run.first_start;
    run.finished = true;
}

std::string iso_now() {
    std::time_t const t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/// The progress of one model: a bar on a terminal, a plain line otherwise.
std::string progress_line(model_run const& run, bench_state const& st, std::size_t label_w,
                          llmux::cli::palette const& p, bool bar) {
    using namespace llmux::cli;
    auto const& m = run.m;
    std::string out = pad(truncate(m.model, label_w), label_w) + "  ";
    bool const warming = run.warm_done < st.warmup && !st.stopping;
    double const fraction =
        warming ? double(run.warm_done) / double(st.warmup) : double(m.done()) / double(st.requests);
    if (bar) out += (run.finished ? p.green(progress_bar(1, 24)) : p.cyan(progress_bar(fraction, 24))) + "  ";
    if (warming) {
        out += "warm-up " + std::to_string(run.warm_done) + "/" + std::to_string(st.warmup);
        return out;
    }
    out += std::to_string(m.done()) + "/" + std::to_string(st.requests);
    if (m.failed) out += "  " + p.red(std::to_string(m.failed) + " failed");
    if (m.latency.count())
        out += "  p50 " + format_duration_ms(to_ms(m.latency.percentile(0.5)));
    if (run.finished) out += "  " + p.dim("done in " + format_duration_ms(to_ms(m.wall)));
    return out;
}

}  // namespace

int llmux_cli_bench(std::vector<std::string> const& args) {
    using namespace llmux;
    cli::provider_options popts;
    cli::call_options copts;
    cli::prompt_options prompt;
    std::vector<std::string> model_args;
    std::string json_file, csv_file, svg_file, html_file;
    std::int64_t requests = 20, concurrency = 4, warmup = 0, inputs = 1, dimensions = 0;
    bool stream = false, embed = false;

    po::options_description desc(
        "usage: llmux bench -m M1,M2,... [-n REQUESTS] [-c CONCURRENCY] [options] PROMPT\n"
        "       llmux bench --embed -m M1,M2,... [--inputs K] [--dimensions D] [options] [TEXT]\n"
        "Sends PROMPT (or standard input when PROMPT is '-') REQUESTS times to each model and\n"
        "reports time to first token and total latency (p50, p90, p99, max), output tokens per\n"
        "second, requests per second and errors by code (with the first message of each).\n"
        "With --embed, the calls embed K distinct texts each (TEXT followed by the call and\n"
        "text number; TEXT defaults to a sentence) and the report has latency, inputs per\n"
        "second, requests per second and the vectors' length instead of TTFT and tokens.\n"
        "Models are measured at the same time, each with CONCURRENCY calls in flight. With no\n"
        "provider keys set, it runs on the built-in emulator; script its latency with model ids\n"
        "such as\n"
        "  openai/gpt-4o-mini~ttft=200ms,tps=100,tokens=50   or   openai/m~error_rate=0.1,error=503\n"
        "Exit status: 0 when every model answered at least once, 1 when a model never did or\n"
        "the run was interrupted, 2 for bad usage.\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("model,m", po::value(&model_args)->composing()->value_name("M1,M2"),
         "the models, as provider/model (comma-separated, repeatable)")
        ("requests,n", po::value(&requests)->value_name("N"), "measured calls per model (default 20)")
        ("concurrency,c", po::value(&concurrency)->value_name("C"),
         "calls in flight per model (default 4)")
        ("warmup", po::value(&warmup)->value_name("N"),
         "calls per model before measuring, left out of the figures (default 0)")
        ("stream", po::bool_switch(&stream),
         "stream the answers; TTFT is then the first content chunk (default: whole answers, "
         "TTFT is the response head)")
        ("embed", po::bool_switch(&embed),
         "measure embedding calls (client::embed) instead of chats; not with --stream")
        ("inputs", po::value(&inputs)->value_name("K"), "with --embed: texts per call (default 1)")
        ("dimensions", po::value(&dimensions)->value_name("D"),
         "with --embed: the vectors' length, for models that can shorten them")
        ("json", po::value(&json_file)->value_name("FILE"), "write the results as JSON ('-': stdout)")
        ("csv", po::value(&csv_file)->value_name("FILE"), "write the results as CSV ('-': stdout)")
        ("svg", po::value(&svg_file)->value_name("FILE"),
         "write a chart: percentiles per model and the latency CDF")
        ("html", po::value(&html_file)->value_name("FILE"), "write an HTML page with the chart and table");
    cli::add_prompt_options(desc, prompt, "cap on each answer's tokens");
    cli::add_call_options(desc, copts);
    cli::add_provider_options(desc, popts);

    po::variables_map vm;
    if (auto code = cli::parse_command(args, desc, prompt, vm, "bench")) return *code;
    auto usage_error = [](std::string const& msg) {
        std::cerr << "llmux bench: " << msg << "\n";
        return 2;
    };
    std::vector<std::string> models;
    for (auto const& a : model_args)
        for (auto& m : cli::split_models(a)) models.push_back(std::move(m));
    if (embed) {
        if (stream)
            return usage_error("--embed and --stream do not go together: embeddings are not "
                               "streamed");
        // Embedding calls go to one model each, with no chat parameters.
        for (char const* flag : {"system", "temperature", "max-tokens", "fallback", "route",
                                 "hedge", "per-attempt", "deadline"})
            if (vm.count(flag))
                return usage_error("--" + std::string(flag) + " does not apply to --embed");
        if (models.empty())
            return usage_error("missing -m M1,M2,... (e.g. -m openai/text-embedding-3-small,"
                               "google/gemini-embedding-001)");
        if (inputs <= 0) return usage_error("--inputs must be a positive number");
        if (vm.count("dimensions") && (dimensions <= 0 || dimensions > 65536))
            return usage_error("--dimensions must be a number from 1 to 65536");
    } else {
        for (char const* flag : {"inputs", "dimensions"})
            if (vm.count(flag)) return usage_error("--" + std::string(flag) + " needs --embed");
    }
    if (models.empty() && copts.route.empty())
        return usage_error("missing -m M1,M2,... (e.g. -m openai/gpt-4o-mini,deepseek/deepseek-chat)");
    std::string embed_text;
    llmux::result<chat_request> made = chat_request{};
    if (embed) {
        for (auto const& w : prompt.words) embed_text += (embed_text.empty() ? "" : " ") + w;
        if (embed_text == "-")
            embed_text.assign(std::istreambuf_iterator<char>(std::cin),
                              std::istreambuf_iterator<char>());
        while (!embed_text.empty() && (embed_text.back() == '\n' || embed_text.back() == '\r'))
            embed_text.pop_back();
        if (embed_text.empty())
            embed_text = "A short passage to embed, about as long as a sentence of a document";
    } else {
        made = cli::make_request(prompt, vm);
        if (!made) return usage_error(made.error().diag.message);
    }
    if (requests <= 0) return usage_error("-n/--requests must be a positive number");
    if (concurrency <= 0) return usage_error("-c/--concurrency must be a positive number");
    if (warmup < 0) return usage_error("--warmup must be zero or more");
    if (!popts.timeout.empty())
        if (auto d = parse_duration(popts.timeout); !d)
            return usage_error("--timeout: " + d.error().diag.message);

    // One series per -m model (each with the --fallback list behind it); with --route, one
    // series for the routed calls, the -m models being the candidates.
    std::vector<std::pair<std::string, cli::call_plan>> series;
    std::vector<std::string> all_models;
    if (!copts.route.empty()) {
        cli::call_options o = copts;
        std::string list;
        for (auto const& m : models) list += (list.empty() ? "" : ",") + m;
        if (!copts.fallback.empty()) list += (list.empty() ? "" : ",") + copts.fallback;
        o.fallback = list;
        auto plan = cli::make_plan(o, "");
        if (!plan) return usage_error(plan.error().diag.message);
        all_models = plan->models;
        series.emplace_back("route:" + copts.route, std::move(*plan));
    } else {
        for (auto const& m : models) {
            auto plan = cli::make_plan(copts, m);
            if (!plan) return usage_error(plan.error().diag.message);
            for (auto const& x : plan->models)
                if (std::find(all_models.begin(), all_models.end(), x) == all_models.end())
                    all_models.push_back(x);
            series.emplace_back(m, std::move(*plan));
        }
    }

    // Open the report files first: a typo in a path should not cost a whole run.
    struct output {
        std::string path;
        std::ofstream file;
        std::string (*make)(std::vector<cli::bench_model> const&, cli::bench_settings const&);
    };
    std::vector<output> outputs;
    bool table_to_stderr = false;
    auto add_output = [&](std::string const& path, auto make) {
        if (path.empty()) return true;
        output o{path, {}, make};
        if (path == "-") {
            table_to_stderr = true;
        } else {
            o.file.open(path, std::ios::binary | std::ios::trunc);
            if (!o.file) {
                std::cerr << "llmux bench: cannot write '" << path << "'\n";
                return false;
            }
        }
        outputs.push_back(std::move(o));
        return true;
    };
    auto json_text = [](std::vector<cli::bench_model> const& m, cli::bench_settings const& s) {
        return llmux::detail::to_json(cli::bench_json(m, s)) + "\n";
    };
    auto csv_text = [](std::vector<cli::bench_model> const& m, cli::bench_settings const& s) {
        return cli::bench_csv(m, s);
    };
    if (!add_output(json_file, +json_text) || !add_output(csv_file, +csv_text) ||
        !add_output(svg_file, &cli::bench_svg) || !add_output(html_file, &cli::bench_html))
        return 1;

    cli::session s;
    if (auto r = cli::setup(s, popts, all_models, "bench"); !r) {
        std::cerr << "llmux bench: " << r.error() << "\n";
        return 1;
    }
    client c{s.io.get_executor(), s.cfg};
    router rt{c};
    // Nothing is sent before every model checks out: a provider without embeddings (Anthropic,
    // DeepSeek) is named here rather than counted as a column of failures.
    for (auto const& m : all_models)
        if (auto r = embed ? c.check_embed(m) : c.check(m); !r) {
            std::cerr << "llmux bench: " << (embed ? m + ": " : std::string()) << r.error() << "\n";
            if (s.emu) s.emu->stop();
            return 1;
        }

    bench_state st;
    st.c = &c;
    st.r = &rt;
    st.cfg = &s.cfg;
    st.stream = stream;
    st.requests = static_cast<std::size_t>(requests);
    st.concurrency = static_cast<std::size_t>(concurrency);
    st.warmup = static_cast<std::size_t>(warmup);
    st.req = std::move(*made);
    st.embed = embed;
    st.embed_text = std::move(embed_text);
    st.inputs_per_call = static_cast<std::size_t>(inputs);
    if (embed && vm.count("dimensions")) st.dimensions = static_cast<std::uint32_t>(dimensions);
    st.runs.resize(series.size());
    for (std::size_t i = 0; i < series.size(); ++i) {
        st.runs[i].m.model = series[i].first;
        st.runs[i].plan = series[i].second;
    }

    cli::bench_settings settings;
    settings.requests = st.requests;
    settings.concurrency = st.concurrency;
    settings.warmup = st.warmup;
    settings.stream = stream;
    settings.emulated = s.emu != nullptr;
    settings.prompt_chars = embed ? st.embed_text.size() : st.req.messages.front().text().size();
    settings.embed = embed;
    settings.inputs_per_call = st.inputs_per_call;
    settings.dimensions = st.dimensions;
    settings.started_at = iso_now();

    // Progress on stderr: bars redrawn in place on a terminal, plain lines every few seconds
    // (and when a model finishes) otherwise.
    auto const err_pal = cli::palette::for_fd(STDERR_FILENO);
    bool const bars = cli::is_terminal(STDERR_FILENO);
    std::size_t label_w = 0;
    for (auto const& r : st.runs) label_w = std::max(label_w, cli::display_width(r.m.model));
    label_w = std::min<std::size_t>(label_w, 56);
    std::size_t drawn = 0;
    auto draw = [&] {
        std::string frame;
        if (drawn) frame += "\r\x1b[" + std::to_string(drawn) + "A\x1b[J";
        std::string body;
        for (auto const& r : st.runs) body += progress_line(r, st, label_w, err_pal, true) + "\n";
        drawn = st.runs.size();
        std::cerr << frame << body << std::flush;
    };
    std::vector<bool> announced(st.runs.size(), false);
    auto plain = [&](bool periodic) {
        for (std::size_t i = 0; i < st.runs.size(); ++i) {
            auto& r = st.runs[i];
            bool const finished_now = r.finished && !announced[i];
            bool const moved = periodic && !r.finished && r.m.done() != r.reported;
            if (!finished_now && !moved) continue;
            announced[i] = announced[i] || r.finished;
            r.reported = r.m.done();
            std::cerr << "llmux bench: " << progress_line(r, st, label_w, cli::palette{}, false)
                      << "\n";
        }
    };

    asio::cancellation_signal cancel;
    asio::signal_set signals(s.io, SIGINT, SIGTERM);
    bool interrupted = false;
    signals.async_wait([&](boost::system::error_code ec, int) {
        if (ec) return;
        interrupted = true;
        st.stopping = true;
        cancel.emit(asio::cancellation_type::terminal);
    });

    bool finished = false;
    asio::steady_timer ticker(s.io);
    auto tick = [&]() -> asio::awaitable<void> {
        auto const period = bars ? std::chrono::milliseconds(100) : std::chrono::milliseconds(250);
        int n = 0;
        while (!finished) {
            ticker.expires_after(period);
            auto waited = co_await ticker.async_wait(asio::as_tuple(asio::use_awaitable));
            (void)waited;  // cancelled at the end: the loop condition says so
            if (finished) break;
            if (bars)
                draw();
            else
                plain(++n % 12 == 0);  // every 3 s; finished models at once
        }
    };

    auto run = [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, tick(), asio::detached);
        using op_type = decltype(asio::co_spawn(ex, run_model(st, st.runs.front()), asio::deferred));
        std::vector<op_type> ops;
        for (auto& r : st.runs) ops.push_back(asio::co_spawn(ex, run_model(st, r), asio::deferred));
        (void)co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
        finished = true;
        ticker.cancel();
        signals.cancel();
        if (s.emu) s.emu->stop();
    };
    if (bars) draw();
    asio::co_spawn(s.io, run(), asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    s.io.run();

    std::vector<cli::bench_model> results;
    for (auto& r : st.runs) {
        if (!r.finished && r.first_start) r.m.wall = r.last_end - *r.first_start;
        r.finished = true;
        results.push_back(r.m);
    }
    if (bars)
        draw();
    else
        plain(false);

    auto& table_out = table_to_stderr ? std::cerr : std::cout;
    int const table_fd = table_to_stderr ? STDERR_FILENO : STDOUT_FILENO;
    table_out << (bars ? "\n" : "")
              << cli::bench_table(results, settings, cli::palette::for_fd(table_fd),
                                  cli::terminal_width(table_fd, 160))
              << std::flush;

    int code = 0;
    for (auto& o : outputs) {
        auto text = o.make(results, settings);
        if (o.path == "-") {
            std::cout << text << std::flush;
            continue;
        }
        o.file << text;
        o.file.close();
        if (!o.file) {
            std::cerr << "llmux bench: cannot write '" << o.path << "'\n";
            code = 1;
        }
    }
    if (interrupted) {
        std::cerr << "llmux bench: interrupted; the figures cover the calls that finished\n";
        return 1;
    }
    for (auto const& m : results)
        if (m.ok == 0) {
            std::cerr << "llmux bench: " << m.model << ": no successful call\n";
            code = 1;
        }
    return code;
}
