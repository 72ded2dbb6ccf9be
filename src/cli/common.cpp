// SPDX-License-Identifier: BSL-1.0
#include "cli/common.hpp"
#include "util/json_read.hpp"

#include <llmux/catalog.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace llmux::cli {

namespace po = boost::program_options;

void add_provider_options(po::options_description& desc, provider_options& opts) {
    desc.add_options()
        ("config", po::value(&opts.config_file)->value_name("FILE"),
         "JSON file that adds or overrides providers and settings")
        ("base-url", po::value(&opts.base_url)->value_name("URL"),
         "base URL for the model's provider (a proxy, a local server, the emulator)")
        ("ca-file", po::value(&opts.ca_file)->value_name("FILE"),
         "PEM file of CA certificates to trust instead of the system store")
        ("timeout", po::value(&opts.timeout)->value_name("DURATION"),
         "deadline of the whole call, e.g. 30s, 500ms (default 10m)")
        ("insecure", po::bool_switch(&opts.insecure),
         "turn TLS certificate verification off (dangerous)");
}

int run_until_done(session& s, std::function<boost::asio::awaitable<int>()> work) {
    namespace asio = boost::asio;
    asio::cancellation_signal cancel;
    asio::signal_set signals(s.io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) cancel.emit(asio::cancellation_type::terminal);
    });
    int code = 1;
    auto run = [&]() -> asio::awaitable<void> {
        code = co_await work();
        signals.cancel();
        if (s.emu) s.emu->stop();
    };
    asio::co_spawn(s.io, run(), asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    s.io.run();
    return code;
}

bool parse_args(std::vector<std::string> const& args, po::options_description const& desc,
                po::positional_options_description const& pos, po::variables_map& vm,
                std::string const& command) {
    try {
        po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
        po::notify(vm);
    } catch (po::error const& e) {
        std::cerr << "llmux " << command << ": " << e.what() << " (see 'llmux " << command
                  << " --help')\n";
        return false;
    }
    return true;
}

void add_prompt_options(po::options_description& desc, prompt_options& opts,
                        char const* max_tokens_help) {
    desc.add_options()
        ("system", po::value(&opts.system)->value_name("TEXT"), "a system prompt")
        ("temperature", po::value(&opts.temperature)->value_name("T"), "sampling temperature")
        ("max-tokens", po::value(&opts.max_tokens)->value_name("N"), max_tokens_help)
        ("effort", po::value(&opts.effort)->value_name("LEVEL"),
         "how hard the model reasons: none, minimal, low, medium, high, xhigh or max")
        ("thinking-budget", po::value(&opts.thinking_budget)->value_name("N"),
         "a budget of reasoning tokens (Anthropic, Gemini, Bedrock)")
        ("show-reasoning", po::bool_switch(&opts.show_reasoning),
         "ask for the reasoning text (or a summary) and print it before the answer")
        ("hide-reasoning", po::bool_switch(&opts.hide_reasoning),
         "ask the provider to leave its reasoning text out");
}

std::optional<int> parse_command(std::vector<std::string> const& args,
                                 po::options_description const& desc, prompt_options& prompt,
                                 po::variables_map& vm, std::string const& command) {
    po::options_description hidden;
    hidden.add_options()("prompt", po::value(&prompt.words)->multitoken());
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("prompt", -1);
    if (!parse_args(args, all, pos, vm, command)) return 2;
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    return std::nullopt;
}

result<chat_request> make_request(prompt_options const& opts, po::variables_map const& vm) {
    std::string prompt;
    for (auto const& w : opts.words) prompt += (prompt.empty() ? "" : " ") + w;
    if (prompt == "-")
        prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (prompt.empty())
        return failure(error::invalid_request,
                       "missing PROMPT (or '-' to read it from standard input)");
    if (vm.count("max-tokens") && opts.max_tokens <= 0)
        return failure(error::invalid_request, "--max-tokens must be a positive number");
    chat_request req;
    req.messages = {user(prompt)};
    req.system = opts.system;
    if (vm.count("temperature")) req.temperature = opts.temperature;
    if (opts.max_tokens > 0) req.max_tokens = opts.max_tokens;
    if (opts.show_reasoning && opts.hide_reasoning)
        return failure(error::invalid_request,
                       "--show-reasoning and --hide-reasoning contradict each other");
    reasoning_options ro;
    if (vm.count("effort")) {
        ro.effort = parse_reasoning_effort(opts.effort);
        if (!ro.effort)
            return failure(error::invalid_request,
                           "--effort is one of none, minimal, low, medium, high, xhigh, max; not '" +
                               opts.effort + "'");
    }
    if (vm.count("thinking-budget")) {
        if (opts.thinking_budget < 0)
            return failure(error::invalid_request, "--thinking-budget must be 0 or more tokens");
        ro.budget_tokens = opts.thinking_budget;
    }
    if (opts.show_reasoning) ro.include_text = true;
    if (opts.hide_reasoning) ro.include_text = false;
    if (ro.effort || ro.budget_tokens || ro.include_text) req.reasoning = ro;
    return req;
}

result<void> setup(session& s, provider_options const& opts, std::vector<std::string> const& models,
                   std::string const& command) {
    s.cfg = client_config::from_env();
    if (!opts.config_file.empty())
        if (auto r = s.cfg.load_file(opts.config_file); !r) return r;
    if (!opts.timeout.empty()) {
        auto d = parse_duration(opts.timeout);
        if (!d) {
            auto f = d.error();
            f.diag.message = "--timeout: " + f.diag.message;
            return f;
        }
        s.cfg.timeouts.total = *d;
    }
    if (!opts.ca_file.empty()) s.cfg.tls.ca_file = opts.ca_file;
    if (opts.insecure) s.cfg.tls.insecure_skip_verify = true;

    if (!opts.base_url.empty()) {
        for (auto const& m : models) {
            auto id = model_id::parse(m);
            if (!id) return id.error();
            auto* p = s.cfg.find(id->provider);
            if (!p) {
                provider_config pc;
                pc.name = id->provider;
                pc.wire = "openai";
                p = &s.cfg.providers.emplace(pc.name, std::move(pc)).first->second;
            }
            p->base_url = opts.base_url;
            while (!p->base_url.empty() && p->base_url.back() == '/') p->base_url.pop_back();
            // A server named by hand (a proxy, a local model) may take no key; send one if set.
            p->key_required = false;
        }
        return {};
    }

    if (!s.cfg.has_any_key()) {
        emulator_config ec;
        // Scripted latencies for demonstrations (scripts/main.sh uses data/emulator-demo.json).
        std::string script;
        if (char const* e = std::getenv("LLMUX_EMULATE_SCRIPT"); e && *e) script = e;
        if (!script.empty())
            if (auto r = load_emulator_script(script, ec); !r)
                return failure(error::invalid_config,
                               "LLMUX_EMULATE_SCRIPT: " + r.error().diag.message);
        s.emu = std::make_unique<emulator>(s.io.get_executor(), ec);
        if (auto r = s.emu->start(); !r) return r;
        s.cfg.route_all_to(s.emu->url());
        std::cerr << "llmux " << command
                  << ": no provider API keys are set; using the built-in emulator at "
                  << s.emu->url() << (script.empty() ? "" : ", scripted by " + script)
                  << " (answers are emulated, not from a real model)\n";
    }
    return {};
}

void add_call_options(po::options_description& desc, call_options& opts) {
    desc.add_options()
        ("fallback", po::value(&opts.fallback)->value_name("M2,M3"),
         "models to try in order when the previous one fails")
        ("per-attempt", po::value(&opts.per_attempt)->value_name("DURATION"),
         "deadline of each attempt (fallback, route, hedge)")
        ("deadline", po::value(&opts.deadline)->value_name("DURATION"),
         "deadline of the whole call across its attempts")
        ("route", po::value(&opts.route)->value_name("STRATEGY"),
         "pick the model: cheapest, fastest, best, weighted, least_busy (-m and --fallback "
         "become the candidates; without them, every configured catalog model)")
        ("hedge", po::value(&opts.hedge)->value_name("DELAY"),
         "also send to the next model if no answer within DELAY ('auto': measured p95)");
}

result<call_plan> make_plan(call_options const& opts, std::string const& model) {
    call_plan plan;
    if (!model.empty()) plan.models.push_back(model);
    for (auto& m : split_models(opts.fallback)) plan.models.push_back(m);
    for (auto const& m : plan.models)
        if (auto id = model_id::parse(m); !id) return id.error();
    auto dur = [](std::string const& text, char const* flag) -> result<duration> {
        auto d = parse_duration(text);
        if (!d) {
            auto f = d.error();
            f.diag.message = std::string(flag) + ": " + f.diag.message;
            return f;
        }
        return *d;
    };
    if (!opts.per_attempt.empty()) {
        auto d = dur(opts.per_attempt, "--per-attempt");
        if (!d) return d.error();
        plan.fallback.per_attempt = *d;
    }
    if (!opts.deadline.empty()) {
        auto d = dur(opts.deadline, "--deadline");
        if (!d) return d.error();
        plan.fallback.deadline = *d;
    }
    if (!opts.route.empty()) {
        plan.how = parse_route(opts.route);
        if (!plan.how)
            return failure(error::invalid_config,
                           "--route: unknown strategy '" + opts.route +
                               "' (expected cheapest, fastest, best, weighted, least_busy)");
    }
    if (!opts.hedge.empty()) {
        hedge_options h;
        if (opts.hedge != "auto") {
            auto d = dur(opts.hedge, "--hedge");
            if (!d) return d.error();
            h.delay = *d;
        }
        h.deadline = plan.fallback.deadline;
        plan.hedge = h;
        if (plan.models.size() < 2)
            return failure(error::invalid_config,
                           "--hedge needs a second model to hedge with (--fallback M2)");
    }
    if (plan.models.empty() && !plan.how)
        return failure(error::invalid_config, "missing -m MODEL (or --route STRATEGY)");
    return plan;
}

boost::asio::awaitable<result<chat_response>> run_call(client& c, router& r, call_plan const& plan,
                                                       chat_request req) {
    if (plan.how) {
        if (plan.models.empty()) co_return co_await r.chat(std::move(req), *plan.how);
        router_config rc;
        rc.candidates = plan.models;
        rc.fallback = plan.fallback;
        router scoped(c, rc);
        co_return co_await scoped.chat(std::move(req), *plan.how);
    }
    if (plan.hedge) co_return co_await hedge(c, plan.models, std::move(req), *plan.hedge);
    if (plan.models.size() > 1 || plan.fallback.per_attempt > duration::zero() ||
        plan.fallback.deadline > duration::zero())
        co_return co_await fallback(c, plan.models, std::move(req), plan.fallback);
    req.model = plan.models.front();
    co_return co_await c.chat(std::move(req));
}

chat_stream start_stream(client& c, router& r, call_plan const& plan, chat_request req) {
    if (plan.how) {
        if (plan.models.empty()) return r.stream(std::move(req), *plan.how);
        router_config rc;
        rc.candidates = plan.models;
        rc.fallback = plan.fallback;
        router scoped(c, rc);
        return scoped.stream(std::move(req), *plan.how);
    }
    if (plan.combined() || plan.fallback.per_attempt > duration::zero() ||
        plan.fallback.deadline > duration::zero())
        return stream_fallback(c, plan.models, std::move(req), plan.fallback);
    req.model = plan.models.front();
    return c.stream(std::move(req));
}

double to_ms(std::chrono::nanoseconds d) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) /
           1000.0;
}

namespace {
boost::json::value count_json(token_count const& c) {
    if (c) return static_cast<std::uint64_t>(*c);
    return nullptr;
}
}  // namespace

boost::json::object usage_json(usage const& u) {
    // Cached reads and cache writes are part of input_tokens, reasoning part of output_tokens:
    // shown beside them so that a cache hit or a long think is visible. null = not reported.
    return {{"input_tokens", count_json(u.input_tokens)},
            {"output_tokens", count_json(u.output_tokens)},
            {"total_tokens", count_json(u.total_tokens)},
            {"cached_input_tokens", count_json(u.cached_input_tokens)},
            {"cache_write_tokens", count_json(u.cache_write_tokens)},
            {"reasoning_tokens", count_json(u.reasoning_tokens)},
            {"reported_cost_usd", u.reported_cost ? boost::json::value(*u.reported_cost)
                                                  : boost::json::value(nullptr)}};
}

boost::json::array attempts_json(std::vector<attempt> const& attempts) {
    boost::json::array out;
    for (auto const& a : attempts) {
        boost::json::object o;
        o["model"] = a.model;
        if (a.error) {
            o["error"] = boost::json::object{
                {"code", code_name(a.error->code)},
                {"status", a.error->diag.http_status ? boost::json::value(a.error->diag.http_status)
                                                     : boost::json::value(nullptr)},
                {"message", a.error->diag.message.empty() ? a.error->code.message()
                                                          : a.error->diag.message}};
        } else {
            o["error"] = nullptr;
        }
        o["latency_ms"] = to_ms(a.latency);
        out.push_back(std::move(o));
    }
    return out;
}

boost::json::object result_json(result<chat_response> const& r, std::string const& model) {
    boost::json::object o;
    if (r) {
        auto const& resp = *r;
        o["model"] = resp.requested_model.empty() ? model : resp.requested_model;
        o["provider"] = resp.provider;
        o["response_model"] = resp.model;
        o["text"] = resp.content;
        if (!resp.reasoning.empty()) o["reasoning"] = resp.reasoning;
        o["finish_reason"] = std::string(to_string(resp.finish_reason));
        boost::json::array calls;
        for (auto const& tc : resp.tool_calls)
            calls.push_back(boost::json::object{{"id", tc.id}, {"name", tc.name}, {"arguments", tc.arguments}});
        o["tool_calls"] = std::move(calls);
        o["usage"] = usage_json(resp.usage);
        o["latency_ms"] = to_ms(resp.latency);
        o["ttft_ms"] = to_ms(resp.ttft);
        o["request_id"] = resp.request_id;
        o["cost_usd"] = resp.cost_usd ? boost::json::value(*resp.cost_usd) : boost::json::value(nullptr);
        o["attempts"] = attempts_json(resp.attempts);
    } else {
        auto const& f = r.error();
        auto id = model_id::parse(model);
        o["model"] = model;
        o["provider"] = id ? id->provider : std::string();
        o["text"] = "";
        o["finish_reason"] = "error";
        o["tool_calls"] = boost::json::array{};
        o["usage"] = usage_json(usage{});
        o["latency_ms"] = nullptr;
        o["ttft_ms"] = nullptr;
        boost::json::object e;
        e["code"] = code_name(f.code);
        e["status"] = f.diag.http_status ? boost::json::value(f.diag.http_status) : boost::json::value(nullptr);
        e["message"] = f.to_string();
        o["error"] = std::move(e);
        o["cost_usd"] = nullptr;
        o["attempts"] = attempts_json(f.diag.attempts);
    }
    return o;
}

std::vector<std::string> split_list(std::string const& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        auto end = s.find(',', start);
        if (end == std::string::npos) end = s.size();
        std::string part = s.substr(start, end - start);
        auto b = part.find_first_not_of(" \t");
        auto e = part.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
        start = end + 1;
    }
    return out;
}

namespace {

/// The catalog price of `u` for the model id before the `~` of `requested`, if it has one.
std::optional<double> scripted_cost(std::string const& requested, usage const& u,
                                    client_config const& cfg) {
    auto const tilde = requested.find('~');
    if (tilde == std::string::npos) return std::nullopt;
    auto const& cat = cfg.models ? *cfg.models : catalog::built_in();
    return cat.cost(std::string_view(requested).substr(0, tilde), u);
}

}  // namespace

void price_scripted(chat_response& r, client_config const& cfg) {
    if (!r.cost_usd) r.cost_usd = scripted_cost(r.requested_model, r.usage, cfg);
}

void price_scripted(embedding_response& r, client_config const& cfg) {
    if (!r.cost_usd) r.cost_usd = scripted_cost(r.requested_model, r.usage, cfg);
}

std::vector<std::string> split_models(std::string const& s) {
    std::vector<std::string> out;
    for (auto& part : split_list(s)) {
        auto const eq = part.find('=');
        bool const directive = eq != std::string::npos && part.find('/') > eq;
        if (directive && !out.empty() && out.back().find('~') != std::string::npos)
            out.back() += "," + part;
        else
            out.push_back(std::move(part));
    }
    return out;
}

}  // namespace llmux::cli

namespace llmux::cli {

result<void> load_emulator_script(std::string const& path, emulator_config& cfg) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return failure(error::invalid_config, "cannot read script file '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    auto const doc = detail::parse_json(ss.str(), ec);
    if (ec)
        return failure(error::invalid_config,
                       "script file '" + path + "' is not valid JSON: " + ec.message());
    auto const* obj = doc.if_object();
    if (!obj)
        return failure(error::invalid_config,
                       "script file '" + path +
                           "' must be a JSON object of model name -> directives");
    for (auto const& [model, v] : *obj) {
        auto const* text = v.if_string();
        if (!text)
            return failure(error::invalid_config,
                           "script file '" + path + "': the value of '" + std::string(model) +
                               "' must be a directive string such as \"ttft=200ms,tps=50\"");
        // Script entries layer on the defaults, so `--default latency=5ms` applies to them too.
        auto b = parse_behaviour(*text, cfg.defaults);
        if (!b)
            return failure(error::invalid_config, "script file '" + path + "', model '" +
                                                      std::string(model) +
                                                      "': " + b.error().diag.message);
        cfg.scripts.insert_or_assign(std::string(model), std::move(*b));
    }
    return {};
}

}  // namespace llmux::cli
