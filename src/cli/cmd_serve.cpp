// SPDX-License-Identifier: BSL-1.0
// `llmux serve`: the OpenAI-compatible gateway as a process. The first line on stdout is
// `llmux gateway listening on http://HOST:PORT`, so scripts can find the port.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "http/server.hpp"

#include <llmux/gateway.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>

#include <csignal>
#include <iostream>
#include <thread>

namespace {

namespace po = boost::program_options;

int bad_usage(std::string const& message) {
    std::cerr << "llmux serve: " << message << " (see llmux serve --help)\n";
    return 2;
}

}  // namespace

int llmux_cli_serve(std::vector<std::string> const& args_in) {
    std::vector<std::string> args = args_in;
    if (!args.empty() && args.front() == "serve") args.erase(args.begin());

    llmux::cli::provider_options popts;
    std::string host = "127.0.0.1", grace, state;
    int port = 8080;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    po::options_description desc(
        "llmux serve: an OpenAI-compatible gateway in front of every provider.\n"
        "Endpoints: POST /v1/chat/completions, POST /v1/messages and /v1/messages/count_tokens\n"
        "(Anthropic format), GET /v1/models, GET /health, GET /metrics (Prometheus),\n"
        "GET /v1/llmux/keys/NAME (spend).\n"
        "Without --config every provider/model id the library can reach is served; the\n"
        "config file's 'gateway' section sets gateway keys, budgets, rate limits and limits,\n"
        "its 'models' section the public model names (groups of deployments with fallback,\n"
        "routing, retries and hedging). Without gateway keys only loopback is served.\n"
        "With no provider API keys set, the built-in emulator answers.\n\nOptions");
    desc.add_options()                                                              //
        ("help,h", "show this help and exit")                                       //
        ("host", po::value(&host)->value_name("HOST"), "address to listen on (default 127.0.0.1)")  //
        ("port", po::value(&port)->value_name("N"), "port (default 8080; 0: a free one)")        //
        ("threads", po::value(&threads)->value_name("N"),
         "threads running the server (default: the number of cores)")  //
        ("grace", po::value(&grace)->value_name("DURATION"),
         "on SIGTERM/SIGINT, time given to requests in flight (default 10s)")  //
        ("state", po::value(&state)->value_name("WHERE"),
         "where key spend, reservations, rate limits and the request ledger live: "
         "sqlite:FILE (survives restarts), redis:HOST:PORT (shared by replicas) or memory "
         "(default; overrides gateway.state)")  //
        ("reuse-port", po::bool_switch(),
         "listen with SO_REUSEPORT, so that several llmux serve processes share one fixed "
         "--port (the kernel spreads connections among them); give them one --state redis: "
         "to share spend, budgets, rate limits and the cache (sqlite: shares all but rate "
         "limits; memory: nothing)")  //
        ("no-access-log", po::bool_switch(), "do not write an access log line per request")  //
        ("log-prompts", po::bool_switch(),
         "add the last user message to access log lines (may hold personal data)");
    llmux::cli::add_provider_options(desc, popts);

    po::variables_map vm;
    po::positional_options_description none;
    if (!llmux::cli::parse_args(args, desc, none, vm, "serve")) return 2;
    if (vm.count("help")) {
        std::cout << "usage: llmux serve [--host H] [--port N] [--config FILE] [--threads N] "
                     "[--reuse-port]\n\n"
                  << desc << std::flush;
        return 0;
    }
    if (port < 0 || port > 65535) return bad_usage("--port must be from 0 to 65535");
    if (threads < 1 || threads > 256) return bad_usage("--threads must be from 1 to 256");

    llmux::gateway_config gcfg;
    if (!popts.config_file.empty())
        if (auto r = gcfg.load_file(popts.config_file); !r)
            return bad_usage("--config: " + r.error().diag.message);
    // Flags win over the file.
    if (vm.count("host") || gcfg.host.empty()) gcfg.host = host;
    if (vm.count("port") || popts.config_file.empty() || gcfg.port == 0)
        gcfg.port = static_cast<std::uint16_t>(port);
    if (!grace.empty()) {
        auto d = llmux::parse_duration(grace);
        if (!d) return bad_usage("--grace: " + d.error().diag.message);
        gcfg.grace = *d;
    }
    if (!state.empty()) {
        if (state == "memory") {
            gcfg.state.backend = llmux::state_backend::memory;
        } else if (state.rfind("sqlite:", 0) == 0 && state.size() > 7) {
            gcfg.state.backend = llmux::state_backend::sqlite;
            gcfg.state.sqlite_path = state.substr(7);
        } else if (state.rfind("redis:", 0) == 0) {
            if (auto r = gcfg.state.redis.set_address(state.substr(6), "--state redis:"); !r)
                return bad_usage(r.error().diag.message);
            gcfg.state.backend = llmux::state_backend::redis;
        } else {
            return bad_usage("--state must be sqlite:FILE, redis:HOST:PORT or memory");
        }
    }
    if (vm["reuse-port"].as<bool>()) gcfg.reuse_port = true;
    if (gcfg.reuse_port && gcfg.port == 0)
        return bad_usage("--reuse-port (or gateway.reuse_port) needs a fixed --port (with "
                         "port 0 each process would get a port of its own)");
    if (gcfg.reuse_port && gcfg.state.backend == llmux::state_backend::memory && !gcfg.store)
        std::cerr << "llmux serve: --reuse-port with the memory state: each process has its own "
                     "spend, budgets and rate limits (share them with --state redis:HOST:PORT)\n";
    if (vm["no-access-log"].as<bool>()) gcfg.access_log = false;
    if (vm["log-prompts"].as<bool>()) gcfg.log_prompts = true;
    if (gcfg.keys.empty() && gcfg.host != "127.0.0.1" && gcfg.host != "::1" &&
        gcfg.host != "localhost" && gcfg.host.rfind("127.", 0) != 0) {
        std::cerr << "llmux serve: refusing to listen on '" << gcfg.host
                  << "' without gateway keys (anyone who can reach it could spend the provider "
                     "keys); configure gateway.keys in --config, or listen on 127.0.0.1\n";
        return 2;
    }

    // --base-url applies to the providers the gateway serves: the groups' deployments, or
    // every provider when no groups are configured.
    std::vector<std::string> models;
    for (auto const& [name, g] : gcfg.models)
        for (auto const& d : g.deployments) models.push_back(d);
    if (models.empty() && !popts.base_url.empty())
        for (auto const& [name, p] : llmux::client_config::from_env().providers)
            models.push_back(name + "/default");

    llmux::cli::session s(threads);
    if (auto r = llmux::cli::setup(s, popts, models, "serve"); !r) {
        std::cerr << "llmux serve: " << r.error().to_string() << '\n';
        return 1;
    }
    gcfg.client = s.cfg;

    // A server's connections are bounded by its own caps, not by a low default fd limit.
    llmux::detail::raise_open_files_limit();
    llmux::gateway gw(s.io.get_executor(), gcfg);
    boost::asio::signal_set signals(s.io, SIGINT, SIGTERM);
    if (auto r = gw.start(); !r) {
        std::cerr << "llmux serve: cannot start: " << r.error().to_string() << '\n';
        return 1;
    }
    // Said before the URL line, so whoever waits for that line has seen it.
    if (gcfg.keys.empty())
        std::cerr << "llmux serve: no gateway keys are configured: serving loopback clients "
                     "without authentication\n"
                  << std::flush;
    std::cout << "llmux gateway listening on " << gw.url() << '\n' << std::flush;

    bool stopping = false;
    auto on_signal = [&](boost::system::error_code ec, int) {
        if (ec || stopping) return;
        stopping = true;
        std::cerr << "llmux serve: stopping (grace "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(gcfg.grace).count()
                  << " ms)\n";
        gw.stop(gcfg.grace, [&] {
            if (s.emu) s.emu->stop();
            s.io.stop();
        });
    };
    signals.async_wait(on_signal);

    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&s] { s.io.run(); });
    s.io.run();
    for (auto& t : pool) t.join();
    return 0;
}
