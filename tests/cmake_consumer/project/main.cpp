// SPDX-License-Identifier: BSL-1.0
// A program outside the llmux tree, built against the installed package: it starts the
// emulator and makes one call through it.
#include <llmux/llmux.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

int main() {
    boost::asio::io_context io;
    llmux::emulator emu{io.get_executor()};
    if (!emu.start()) return 1;
    auto cfg = llmux::client_config::presets();
    cfg.route_all_to(emu.url());
    llmux::client client{io.get_executor(), cfg};
    int code = 1;
    boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
        auto r = co_await client.chat("openai/gpt-4o-mini", "hello from a consumer");
        if (r) {
            std::cout << r->text() << " (" << r->usage.total_tokens << " tokens)\n";
            code = r->text().empty() ? 1 : 0;
        } else {
            std::cerr << r.error() << "\n";
        }
        emu.stop();
    }, boost::asio::detached);
    io.run();
    return code;
}
