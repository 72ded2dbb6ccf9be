// SPDX-License-Identifier: BSL-1.0
// A client wired to an in-process emulator over loopback (HTTP and TLS), sharing one
// io_context; coroutines run with a deadline so that a hang fails the test instead.
#pragma once

#include "common/run_coro.hpp"

#include <llmux/client.hpp>
#include <llmux/emulator.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>

namespace llmux::test {

/// An emulator (HTTP + HTTPS) and a client whose providers all point at it.
struct emulator_fixture {
    boost::asio::io_context io;
    std::unique_ptr<llmux::emulator> emu;
    llmux::client_config cfg;

    /// `concurrency_hint` 1 makes a single-threaded context, on which llmux uses no strands
    /// and runs its steps inline (util/strand.hpp, util/spawn.hpp).
    explicit emulator_fixture(llmux::emulator_config ec = {}, bool use_tls = true,
                              int concurrency_hint = BOOST_ASIO_CONCURRENCY_HINT_DEFAULT);
    ~emulator_fixture();

    /// A new client with `cfg` (adjust `cfg` first).
    llmux::client make_client() { return llmux::client{io.get_executor(), cfg}; }

    /// Runs `c.chat(req)` to completion.
    result<chat_response> chat(llmux::client& c, chat_request req);

    /// Streams `req` to completion, returning the chunks' concatenated text and the response.
    struct streamed {
        std::string text;
        std::size_t chunks = 0;
        result<chat_response> response{failure(error::invalid_request, "not run")};
    };
    streamed stream(llmux::client& c, chat_request req);
};

}  // namespace llmux::test
