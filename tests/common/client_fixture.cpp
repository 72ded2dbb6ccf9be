// SPDX-License-Identifier: BSL-1.0
#include "common/client_fixture.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace llmux::test {

emulator_fixture::emulator_fixture(llmux::emulator_config ec, bool use_tls, int concurrency_hint)
    : io(concurrency_hint) {
    ec.tls = use_tls;
    emu = std::make_unique<llmux::emulator>(io.get_executor(), ec);
    auto r = emu->start();
    BOOST_TEST_REQUIRE(!!r, "emulator failed to start: " << (r ? "" : r.error().to_string()));
    cfg = llmux::client_config::presets();
    cfg.route_all_to(use_tls ? emu->tls_url() : emu->url());
    if (use_tls) {
        auto path = std::filesystem::temp_directory_path() /
                    ("llmux-test-ca-" + std::to_string(::getpid()) + ".pem");
        std::ofstream(path) << emu->ca_pem();
        cfg.tls.ca_file = path.string();
    }
}

emulator_fixture::~emulator_fixture() {
    emu->stop();
    io.restart();
    io.run_for(std::chrono::seconds(2));
    if (!cfg.tls.ca_file.empty()) std::filesystem::remove(cfg.tls.ca_file);
}

result<chat_response> emulator_fixture::chat(llmux::client& c, chat_request req) {
    return run_coro(io, [&]() { return c.chat(req); });
}

emulator_fixture::streamed emulator_fixture::stream(llmux::client& c, chat_request req) {
    return run_coro(io, [&]() -> boost::asio::awaitable<streamed> {
        streamed out;
        auto s = c.stream(req);
        while (auto ch = co_await s.next()) {
            out.text += ch->text;
            ++out.chunks;
        }
        out.response = s.response();
        co_return out;
    });
}

}  // namespace llmux::test
