// SPDX-License-Identifier: BSL-1.0
// What every example shares: provider keys from the environment or, when there are none, an
// in-process emulator that every provider is pointed at. Not part of the library.
#pragma once

#include <llmux/config.hpp>
#include <llmux/emulator.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace example {

/** @brief The providers an example talks to.

    With keys in the environment (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`, ...)
    these are the real providers. With none, an `llmux::emulator` runs on the example's own
    `io_context` and every provider is routed to it, scripted by `emulated` (latencies, errors:
    see `llmux::emulator_behaviour`); the answers are then canned text, and it says so.
*/
class environment {
public:
    explicit environment(boost::asio::io_context& io, llmux::emulator_config emulated = {})
        : config_(llmux::client_config::from_env()) {
        if (config_.has_any_key()) return;
        emu_ = std::make_unique<llmux::emulator>(io.get_executor(), std::move(emulated));
        if (auto r = emu_->start(); !r) {
            std::cerr << "cannot start the emulator: " << r.error() << '\n';
            std::exit(1);
        }
        config_.route_all_to(emu_->url());
        std::cout << "[no provider API keys set: answers come from the llmux emulator at "
                  << emu_->url() << ", not from real models]\n\n";
    }

    /// @brief True when the emulator stands in for the providers.
    bool emulated() const noexcept { return emu_ != nullptr; }

    llmux::client_config const& config() const noexcept { return config_; }

    /// @brief Stops the emulator (if any) so that `io_context::run` can return.
    void stop() {
        if (emu_) emu_->stop();
    }

private:
    llmux::client_config config_;
    std::unique_ptr<llmux::emulator> emu_;
};

/// @brief Scripts `model` (the provider's name for it, e.g. `gpt-4o`) with emulator directives.
inline void script(llmux::emulator_config& cfg, std::string const& model,
                   std::string_view directives) {
    cfg.scripts[model] = llmux::parse_behaviour(directives, cfg.defaults).value();
}

/// @brief Milliseconds rounded to a tenth, for printing latencies.
inline double ms(std::chrono::nanoseconds d) {
    return std::round(std::chrono::duration<double, std::milli>(d).count() * 10) / 10;
}

/// @brief A cost in USD, or `unknown` (a model without catalog prices, usage not reported).
inline std::string usd(std::optional<double> cost) {
    if (!cost) return "unknown";
    char buf[32];
    std::snprintf(buf, sizeof buf, "$%.6f", *cost);
    return buf;
}

/** @brief Runs `task` on `io` until it finishes, then stops the emulator and returns the
    task's exit status (1 if it threw).
*/
inline int run(boost::asio::io_context& io, environment& env, boost::asio::awaitable<int> task) {
    int status = 1;
    boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, int rc) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (std::exception const& x) {
                std::cerr << "error: " << x.what() << '\n';
            }
        } else {
            status = rc;
        }
        env.stop();
    });
    io.run();
    return status;
}

}  // namespace example
