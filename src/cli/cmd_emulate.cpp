// SPDX-License-Identifier: BSL-1.0
// `llmux emulate`: the provider emulator as a process (for SDK conformance tests, benchmarks
// and trying clients without keys).
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "http/server.hpp"

#include <llmux/config.hpp>
#include <llmux/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json/parse.hpp>
#include <boost/program_options.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace {

namespace po = boost::program_options;

constexpr char const* usage_line = "usage: llmux emulate [options]";

int bad_usage(std::string const& message) {
    std::cerr << "llmux emulate: " << message << " (see llmux emulate --help)\n";
    return 2;
}

}  // namespace

int llmux_cli_emulate(std::vector<std::string> const& args_in) {
    std::vector<std::string> args = args_in;
    if (!args.empty() && args.front() == "emulate") args.erase(args.begin());

    po::options_description desc(
        "llmux emulate: a local server that speaks the providers' wire formats (OpenAI chat\n"
        "completions, Anthropic Messages, Gemini, Vertex AI, Bedrock) with deterministic answers and scripted latency, errors and faults.\n"
        "Directives (comma-separated key=value): latency, ttft, retry_after (durations such as\n"
        "200ms or 1.5s), tps, error (HTTP status), fault (reset, reset_mid, truncate, malformed,\n"
        "stall, error_mid, close), after, tokens, fail_first, error_rate, reply (takes the rest).\n"
        "Per request they also come from the model name (gpt-4o~ttft=1s) and the\n"
        "x-llmux-emulate header.\n\nOptions");
    desc.add_options()                                                                          //
        ("help,h", "show this help and exit")                                                   //
        ("host", po::value<std::string>()->default_value("127.0.0.1"), "address to listen on")  //
        ("port", po::value<int>()->default_value(0), "HTTP port (0: a free one)")               //
        ("tls", po::bool_switch(), "also serve HTTPS with a certificate made at start")         //
        ("tls-port", po::value<int>(), "HTTPS port (0: a free one); implies --tls")             //
        ("ca-out", po::value<std::string>(),
         "write the CA certificate (PEM) here; implies --tls")  //
        ("script", po::value<std::string>(),
         "JSON file of model name -> directives, e.g. {\"slow-model\":\"ttft=200ms,tps=50\"}")  //
        ("default", po::value<std::string>(), "directives for every request")                   //
        ("no-auth", po::bool_switch(), "accept requests without an API key")                    //
        ("idle-timeout", po::value<std::string>(),
         "close keep-alive connections idle this long (default 60s)")  //
        ("threads", po::value<int>()->default_value(1), "threads running the server");

    po::variables_map vm;
    try {
        // An empty positional description makes stray arguments an error, not silence.
        po::positional_options_description none;
        po::store(po::command_line_parser(args).options(desc).positional(none).run(), vm);
        po::notify(vm);
    } catch (po::error const& e) {
        return bad_usage(e.what());
    }
    if (vm.count("help")) {
        std::cout << usage_line << "\n\n" << desc << std::flush;
        return 0;
    }

    llmux::emulator_config cfg;
    cfg.host = vm["host"].as<std::string>();
    auto port_of = [](int v) { return v >= 0 && v <= 65535; };
    if (!port_of(vm["port"].as<int>())) return bad_usage("--port must be from 0 to 65535");
    cfg.port = static_cast<std::uint16_t>(vm["port"].as<int>());
    cfg.tls = vm["tls"].as<bool>() || vm.count("tls-port") || vm.count("ca-out");
    if (vm.count("tls-port")) {
        if (!port_of(vm["tls-port"].as<int>()))
            return bad_usage("--tls-port must be from 0 to 65535");
        cfg.tls_port = static_cast<std::uint16_t>(vm["tls-port"].as<int>());
    }
    cfg.require_auth = !vm["no-auth"].as<bool>();
    int const threads = vm["threads"].as<int>();
    if (threads < 1 || threads > 256) return bad_usage("--threads must be from 1 to 256");
    if (vm.count("idle-timeout")) {
        auto d = llmux::parse_duration(vm["idle-timeout"].as<std::string>());
        if (!d) return bad_usage("--idle-timeout: " + d.error().diag.message);
        cfg.idle_timeout = *d;
    }
    if (vm.count("default")) {
        auto b = llmux::parse_behaviour(vm["default"].as<std::string>());
        if (!b) return bad_usage("--default: " + b.error().diag.message);
        cfg.defaults = std::move(*b);
    }
    if (vm.count("script")) {
        auto r = llmux::cli::load_emulator_script(vm["script"].as<std::string>(), cfg);
        if (!r) return bad_usage("--script: " + r.error().diag.message);
    }
    // Without --ca-out the CA still needs a file for clients to trust; ours to remove at exit.
    std::string temp_ca;
    if (cfg.tls && !vm.count("ca-out")) {
        temp_ca = (std::filesystem::temp_directory_path() /
                   ("llmux-emulator-ca-" + std::to_string(::getpid()) + ".pem"))
                      .string();
        cfg.ca_out = temp_ca;
    } else if (vm.count("ca-out")) {
        cfg.ca_out = vm["ca-out"].as<std::string>();
    }

    boost::asio::io_context ctx(threads);
    // A server's connections are bounded by its own caps, not by a low default fd limit.
    llmux::detail::raise_open_files_limit();
    llmux::emulator emu(ctx.get_executor(), cfg);
    // Installed before the URL is printed: whoever reads it may signal us at once.
    boost::asio::signal_set signals(ctx, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) emu.stop();
    });
    if (auto r = emu.start(); !r) {
        std::cerr << "llmux emulate: cannot start: " << r.error().to_string() << '\n';
        return 1;
    }
    std::cout << "llmux emulator listening on " << emu.url() << '\n';
    if (cfg.tls)
        std::cout << "llmux emulator listening on " << emu.tls_url() << " (CA: " << emu.ca_file()
                  << ")\n";
    std::cout << std::flush;

    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i)
        pool.emplace_back([&ctx] { ctx.run(); });
    ctx.run();
    for (auto& t : pool)
        t.join();

    if (!temp_ca.empty()) {
        std::error_code ec;
        std::filesystem::remove(temp_ca, ec);
    }
    return 0;
}
