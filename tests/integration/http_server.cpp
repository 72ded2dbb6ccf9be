// SPDX-License-Identifier: BSL-1.0
// The generic HTTP/1.1 server (src/http/server.hpp) with hand-written handlers: whole and
// chunked responses, resets, handler mistakes, pipelining, HTTP/1.0, slow clients, TLS and
// stop(). The emulator's own behaviour is tested in emulator_server.cpp.
#include "common/http_test_client.hpp"
#include "common/run_coro.hpp"

#include "http/server.hpp"
#include "http/tls_cert.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using error_code = boost::system::error_code;
using llmux::detail::server_exchange;
using client = llmux::test::http_test_client;
using reply = llmux::test::http_reply;
using namespace std::chrono_literals;

struct server_fixture : llmux::test::io_context_fixture {
    std::unique_ptr<llmux::detail::http_server> server;
    std::string url;
    /// What the last wait_for_disconnect returned, for the handler below.
    error_code disconnect_ec;
    bool disconnect_done = false;
    /// What the /watched handler saw.
    bool handler_started = false;
    bool handler_done = false;
    bool watched_gone = false;
    error_code watched_ec;

    void start(llmux::detail::server_config cfg = {}) {
        server = std::make_unique<llmux::detail::http_server>(
            ctx.get_executor(), cfg, [this](server_exchange& x) { return handle(x); });
        auto ep = server->listen("127.0.0.1", 0);
        BOOST_TEST_REQUIRE(ep.has_value(), ep.error().to_string());
        url = "http://127.0.0.1:" + std::to_string(ep->port());
    }
    ~server_fixture() {
        if (server) server->stop();
    }

    asio::awaitable<void> handle(server_exchange& x) {
        std::string const target(x.request().target());
        if (target == "/whole") {
            x.add_header("Content-Type", "text/plain");
            x.add_header("X-Bad", "a\r\nInjected: yes");  // dropped: no response splitting
            co_await x.send("hello " + x.request().body());
        } else if (target == "/big") {
            // More than the socket's buffers hold: a part is sent at once, the rest waits for
            // the client to read.
            std::string body(8u << 20, '\0');
            for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
            co_await x.send(body);
        } else if (target == "/big_chunks") {
            x.start_chunked();
            std::string piece(1u << 20, '\0');
            for (int k = 0; k < 6; ++k) {
                for (std::size_t i = 0; i < piece.size(); ++i)
                    piece[i] = static_cast<char>('a' + (i + k) % 23);
                co_await x.write_chunk(piece);
            }
            co_await x.end_chunked();
        } else if (target == "/chunked") {
            x.add_header("Content-Type", "text/plain");
            x.start_chunked();
            co_await x.write_chunk("a");
            co_await x.flush();
            co_await x.sleep_for(10ms);
            co_await x.write_chunk("b");
            co_await x.end_chunked("c");
        } else if (target == "/flag") {
            // What a handler starts with; then it changes it, as the gateway's handler does.
            bool const throws = co_await asio::this_coro::throw_if_cancelled();
            auto const cs = co_await asio::this_coro::cancellation_state;
            bool const cancelled = cs.cancelled() != asio::cancellation_type::none;
            co_await asio::this_coro::throw_if_cancelled(false);
            std::string const said =
                std::string(throws ? "throws" : "quiet") + (cancelled ? " cancelled" : "");
            co_await x.send(said);
        } else if (target == "/nothing") {
            co_return;  // a handler bug: the server answers 500
        } else if (target == "/throw") {
            throw std::runtime_error("handler bug");
        } else if (target == "/unfinished") {
            x.start_chunked();
            co_await x.write_chunk("partial");
        } else if (target == "/abort") {
            x.start_chunked();
            co_await x.write_chunk("partial");
            x.abort();
        } else if (target == "/no_content") {
            x.set_status(204);
            co_await x.send("a body a 204 cannot have");
        } else if (target == "/not_modified_stream") {
            x.set_status(304);
            x.start_chunked();
            co_await x.write_chunk("a body a 304 cannot have");
            co_await x.end_chunked();
        } else if (target == "/close") {
            x.close_after_response();
            co_await x.send("bye");
        } else if (target == "/sleep") {
            co_await x.sleep_for(1h);
        } else if (target == "/watched") {
            // Waits on a timer of its own (not the server's): only the terminal cancellation
            // that the watch emits when the client leaves can end it early.
            co_await asio::this_coro::throw_if_cancelled(false);
            handler_started = true;
            asio::steady_timer t(x.get_executor());
            t.expires_after(1h);
            auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            watched_ec = ec;
            watched_gone = x.client_gone();
            handler_done = true;
        } else if (target == "/slow") {
            handler_started = true;
            asio::steady_timer t(x.get_executor());
            t.expires_after(100ms);
            auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            co_await x.send(ec ? "cancelled" : "slow done");
        } else if (target == "/wait") {
            disconnect_ec = co_await x.wait_for_disconnect(30s);
            disconnect_done = true;
        } else {
            x.set_status(404);
            co_await x.send("");
        }
    }

    reply get(std::string const& target, std::string const& body = {}) {
        return run([&]() -> asio::awaitable<reply> {
            client c(ctx.get_executor());
            auto ec = co_await c.connect(url);
            BOOST_TEST_REQUIRE(!ec, ec.message());
            co_return co_await c.request(body.empty() ? http::verb::get : http::verb::post, target,
                                         body, {}, false);
        });
    }

    reply raw(std::string const& bytes) {
        return run([&]() -> asio::awaitable<reply> {
            client c(ctx.get_executor());
            co_await c.connect(url);
            co_await c.write_raw(bytes);
            co_return co_await c.read_response();
        });
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(http_server)

BOOST_FIXTURE_TEST_CASE(whole_and_chunked_responses, server_fixture) {
    start();
    auto const w = get("/whole", "{\"x\":1}");
    BOOST_TEST(w.status == 200u);
    BOOST_TEST(w.body == "hello {\"x\":1}");
    BOOST_TEST(w.header("Content-Length") == "13");
    BOOST_TEST(w.header("X-Bad").empty());
    BOOST_TEST(w.header("Injected").empty());

    auto const c = get("/chunked");
    BOOST_TEST(!c.ec, c.ec.message());
    BOOST_TEST(c.body == "abc");
    BOOST_TEST(c.header("Transfer-Encoding") == "chunked");
    BOOST_TEST((c.done_at - c.sent_at >= 10ms));
    BOOST_TEST(get("/missing").status == 404u);
}

BOOST_FIXTURE_TEST_CASE(handler_mistakes, server_fixture) {
    start();
    auto const none = get("/nothing");
    BOOST_TEST(none.status == 500u);
    BOOST_TEST(none.header("Connection") == "close");
    BOOST_TEST(get("/throw").status == 500u);
    // A chunked body that was not ended cannot be completed: the client must see a reset.
    auto const unfinished = get("/unfinished");
    BOOST_TEST(unfinished.status == 200u);
    BOOST_TEST((unfinished.ec == asio::error::connection_reset), unfinished.ec.message());
    auto const aborted = get("/abort");
    BOOST_TEST((aborted.ec == asio::error::connection_reset), aborted.ec.message());
    BOOST_TEST(aborted.body == "partial");
}

BOOST_FIXTURE_TEST_CASE(keep_alive_pipelining_and_close, server_fixture) {
    start();
    run([&]() -> asio::awaitable<void> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        // Two requests in one write: answered in order on the same connection.
        co_await c.write_raw("GET /whole HTTP/1.1\r\nHost: x\r\n\r\n"
                             "POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
        auto const a = co_await c.read_response();
        auto const b = co_await c.read_response();
        BOOST_TEST(a.body == "hello ");
        BOOST_TEST(b.body == "hello hi");
        auto const closing = co_await c.request(http::verb::get, "/close", {}, {}, false);
        BOOST_TEST(closing.header("Connection") == "close");
        auto const ec = co_await c.read_until_closed(5s);
        BOOST_TEST((ec == asio::error::eof), ec.message());
    });
    auto const st = server->stats();
    BOOST_TEST(st.accepted == 1u);
    BOOST_TEST(st.requests == 3u);
    // The server ends its side once it sees the client's close.
    BOOST_TEST(llmux::test::run_until(ctx, [&] { return server->stats().open == 0; }));
}

// Handlers run in the connection's coroutine thread: each starts as in a thread of its own
// (throw_if_cancelled on, not cancelled), whatever the handler before it on the connection did.
BOOST_FIXTURE_TEST_CASE(each_handler_starts_with_a_fresh_coroutine_state, server_fixture) {
    start();
    run([&]() -> asio::awaitable<void> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        for (int i = 0; i < 3; ++i) {
            auto const r = co_await c.request(http::verb::get, "/flag", {}, {}, false);
            BOOST_TEST(r.body == "throws", "request " << i);
        }
    });
    BOOST_TEST(server->stats().accepted == 1u);
}

BOOST_FIXTURE_TEST_CASE(large_responses_arrive_whole, server_fixture) {
    // A response is sent with what the socket takes at once and the rest written as the client
    // reads: every byte arrives, in order, whole or in chunks, twice on one connection.
    start();
    run([&]() -> asio::awaitable<void> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        for (int round = 0; round < 2; ++round) {
            auto const whole = co_await c.request(http::verb::get, "/big", {}, {}, false);
            BOOST_TEST(whole.status == 200u, whole.ec.message());
            BOOST_TEST_REQUIRE(whole.body.size() == std::size_t(8u << 20));
            bool same = true;
            for (std::size_t i = 0; i < whole.body.size() && same; ++i)
                same = whole.body[i] == static_cast<char>('a' + i % 23);
            BOOST_TEST(same);
            auto const chunks = co_await c.request(http::verb::get, "/big_chunks", {}, {}, false);
            BOOST_TEST(chunks.status == 200u, chunks.ec.message());
            BOOST_TEST_REQUIRE(chunks.body.size() == std::size_t(6u << 20));
            for (std::size_t k = 0; k < 6 && same; ++k)
                for (std::size_t i = 0; i < (1u << 20) && same; ++i)
                    same = chunks.body[k * (1u << 20) + i] == static_cast<char>('a' + (i + k) % 23);
            BOOST_TEST(same);
        }
    });
}

BOOST_FIXTURE_TEST_CASE(requests_that_arrive_in_pieces, server_fixture) {
    // The server parses what it has read and reads more only when the parser needs it: a head
    // and a body written a few bytes at a time (on one thread, each write's bytes are mostly
    // read before the next), then two requests in one write, then a request cut off inside
    // its body, which gets no answer.
    llmux::detail::server_config cfg;
    cfg.max_header_bytes = 1024;
    start(cfg);
    auto pieces = [](std::string const& bytes, std::size_t n) {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < bytes.size(); i += n) out.push_back(bytes.substr(i, n));
        return out;
    };
    run([&]() -> asio::awaitable<void> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        std::string const chunked =
            "POST /whole HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n";
        std::string const sized =
            "POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
        for (auto const& [bytes, body] :
             {std::pair{chunked, std::string("hello abcdefg")},
              std::pair{sized, std::string("hello hello world")}}) {
            for (std::size_t n : {1u, 3u, 7u}) {
                for (auto const& piece : pieces(bytes, n)) {
                    auto const ec = co_await c.write_raw(piece);
                    BOOST_TEST(!ec, ec.message());
                    co_await asio::post(ctx, asio::use_awaitable);  // the server's turn
                }
                auto const r = co_await c.read_response();
                BOOST_TEST(r.status == 200u, n << ": " << r.ec.message());
                BOOST_TEST(r.body == body, n);
            }
        }
        // Two requests in one write, the second's head cut in the middle: the first is
        // answered, and the second once its rest arrives.
        co_await c.write_raw(sized + "GET /whole HTTP/1.1\r\nHo");
        auto const a = co_await c.read_response();
        BOOST_TEST(a.body == "hello hello world");
        co_await c.write_raw("st: x\r\n\r\n");
        auto const b = co_await c.read_response();
        BOOST_TEST(b.body == "hello ");
        // A head larger than the limit, a byte at a time: 431, then the server closes.
        std::string const big = "GET /whole HTTP/1.1\r\nX: " + std::string(1100, 'a') + "\r\n\r\n";
        for (auto const& piece : pieces(big, 64)) {
            if (co_await c.write_raw(piece)) break;  // the server may already have closed
            co_await asio::post(ctx, asio::use_awaitable);
        }
        auto const over = co_await c.read_response();
        BOOST_TEST(over.status == 431u, over.ec.message());
    });
    // A body cut off by the client's close: nothing to answer, the connection just ends.
    auto const cut = run([&]() -> asio::awaitable<std::pair<error_code, std::uint64_t>> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        auto const before = server->stats().requests;
        co_await c.write_raw("POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        co_await asio::post(ctx, asio::use_awaitable);
        c.shutdown_send();
        auto const ec = co_await c.read_until_closed(10s);
        co_return std::pair{ec, server->stats().requests - before};
    });
    BOOST_TEST((cut.first == asio::error::eof), cut.first.message());
    BOOST_TEST(cut.second == 0u);  // never handed to the handler
}

BOOST_FIXTURE_TEST_CASE(reuse_port_lets_two_servers_share_a_port, server_fixture) {
    // Without the option a second listener on a port in use fails, naming the port.
    llmux::detail::server_config plain;
    start(plain);
    auto const port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
    llmux::detail::http_server other(ctx.get_executor(), plain,
                                     [this](server_exchange& x) { return handle(x); });
    auto const refused = other.listen("127.0.0.1", port);
    BOOST_TEST_REQUIRE(!refused.has_value());
    BOOST_TEST(refused.error().to_string().find(std::to_string(port)) != std::string::npos,
               refused.error().to_string());
    server->stop();

    // With it, two servers listen on one port and the kernel spreads connections between
    // them: each serves some of 64 (it hashes each connection's addresses and ports, so all
    // 64 on one side has a chance of 2^-63).
    llmux::detail::server_config shared;
    shared.reuse_port = true;
    start(shared);
    auto const shared_port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
    llmux::detail::http_server second(ctx.get_executor(), shared,
                                      [this](server_exchange& x) { return handle(x); });
    auto const bound = second.listen("127.0.0.1", shared_port);
    BOOST_TEST_REQUIRE(bound.has_value(), bound.error().to_string());
    BOOST_TEST(bound->port() == shared_port);
    int answered = 0;
    for (int i = 0; i < 64; ++i) {
        auto const r = get("/whole", "x");
        if (r.status == 200u && r.body == "hello x") ++answered;
    }
    BOOST_TEST(answered == 64);
    auto const a = server->stats().requests, b = second.stats().requests;
    BOOST_TEST(a + b == 64u);
    BOOST_TEST(a > 0u);
    BOOST_TEST(b > 0u);
    second.stop();
}

BOOST_FIXTURE_TEST_CASE(http10_and_head, server_fixture) {
    start();
    // HTTP/1.0 has no chunked encoding: the body comes raw and the connection closes.
    auto const old = raw("GET /chunked HTTP/1.0\r\n\r\n");
    BOOST_TEST(old.status == 200u);
    BOOST_TEST(old.body == "abc");
    BOOST_TEST(old.header("Transfer-Encoding").empty());
    BOOST_TEST(old.header("Connection") == "close");
    auto const kept = raw("GET /whole HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    BOOST_TEST(kept.header("Connection") == "keep-alive");

    auto const head = run([&]() -> asio::awaitable<reply> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        co_await c.write_raw("HEAD /whole HTTP/1.1\r\nHost: x\r\n\r\n");
        co_return co_await c.read_response(10s, true);
    });
    BOOST_TEST(head.status == 200u);
    BOOST_TEST(head.header("Content-Length") == "6");
}

// RFC 9112 section 6.3: a 204 or 304 answer ends with its head. Whatever the handler sends
// after one is dropped, with no framing header; else the client would read it as the next
// answer on the connection. A streamed HEAD answer ends where its head does too.
BOOST_FIXTURE_TEST_CASE(bodiless_answers_end_with_their_head, server_fixture) {
    start();
    auto const out = run([&]() -> asio::awaitable<std::vector<reply>> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        std::vector<reply> r;
        for (std::string_view head :
             {"GET /no_content HTTP/1.1\r\nHost: x\r\n\r\n",
              "GET /whole HTTP/1.1\r\nHost: x\r\n\r\n",
              "GET /not_modified_stream HTTP/1.1\r\nHost: x\r\n\r\n",
              "GET /whole HTTP/1.1\r\nHost: x\r\n\r\n",
              "HEAD /chunked HTTP/1.1\r\nHost: x\r\n\r\n",
              "GET /whole HTTP/1.1\r\nHost: x\r\n\r\n"}) {
            co_await c.write_raw(std::string(head));
            r.push_back(co_await c.read_response(10s, head.starts_with("HEAD")));
        }
        co_return r;
    });
    BOOST_TEST_REQUIRE(out.size() == 6u);
    BOOST_TEST(out[0].status == 204u);
    BOOST_TEST(out[0].header("Content-Length").empty());
    BOOST_TEST(out[0].header("Transfer-Encoding").empty());
    BOOST_TEST(out[0].body.empty());
    BOOST_TEST(out[2].status == 304u);
    BOOST_TEST(out[2].header("Transfer-Encoding").empty());
    BOOST_TEST(out[4].status == 200u);
    // After each, the connection still frames the next answer right.
    for (std::size_t i : {1u, 3u, 5u}) {
        BOOST_TEST(out[i].status == 200u, i);
        BOOST_TEST(out[i].body == "hello ", i);
    }
    BOOST_TEST(server->stats().accepted == 1u);
}

BOOST_FIXTURE_TEST_CASE(limits_and_malformed_requests, server_fixture) {
    llmux::detail::server_config cfg;
    cfg.max_body_bytes = 100;
    cfg.max_header_bytes = 1024;
    start(cfg);
    BOOST_TEST(raw("BLAH\r\n\r\n").status == 400u);
    BOOST_TEST(raw("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n").status == 400u);
    BOOST_TEST(raw("POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n" +
                   std::string(101, 'a'))
                   .status == 413u);
    BOOST_TEST(
        raw("GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(2000, 'a') + "\r\n\r\n").status ==
        431u);
    // A chunked request body over the limit is caught as it arrives.
    BOOST_TEST(raw("POST /whole HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" +
                   std::string(128, 'a') + "\r\n0\r\n\r\n")
                   .status == 413u);
}

BOOST_FIXTURE_TEST_CASE(slow_and_idle_clients_are_dropped, server_fixture) {
    llmux::detail::server_config cfg;
    cfg.header_timeout = 200ms;
    cfg.read_timeout = 200ms;
    cfg.idle_timeout = 200ms;
    start(cfg);
    auto const slow = run([&]() -> asio::awaitable<error_code> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        co_await c.write_raw("GET /whole HTTP/1.1\r\nHost:");  // and never the rest
        co_return co_await c.read_until_closed(10s);
    });
    BOOST_TEST((slow == asio::error::eof), slow.message());
    auto const idle = run([&]() -> asio::awaitable<error_code> {
        client c(ctx.get_executor());
        co_await c.connect(url);  // and never a request
        co_return co_await c.read_until_closed(10s);
    });
    BOOST_TEST((idle == asio::error::eof), idle.message());
}

// RFC 9112 section 6.3: a request whose framing another server on the path could read
// differently is refused and its connection closed, so that what follows it is never taken
// for a second request (request smuggling).
BOOST_FIXTURE_TEST_CASE(ambiguous_transfer_encoding_is_refused_and_closes, server_fixture) {
    start();
    // What follows each head would be a second request if the body were read as empty.
    std::string const smuggled = "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    for (std::string te : {"xchunked", "identity", "chunked, identity", "gzip, chunked",
                           "chunked;foo=bar", "chunked\r\nTransfer-Encoding: chunked",
                           "chunked\r\nContent-Length: 5", "\tchunked , x"}) {
        BOOST_TEST_CONTEXT("Transfer-Encoding: " << te) {
            auto const out = run([&]() -> asio::awaitable<std::pair<reply, error_code>> {
                client c(ctx.get_executor());
                co_await c.connect(url);
                co_await c.write_raw("POST /whole HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " +
                                     te + "\r\n\r\n" + smuggled);
                auto r = co_await c.read_response();
                // Nothing else may come: the connection ends after the 400.
                co_return std::pair{r, co_await c.read_until_closed(10s)};
            });
            BOOST_TEST(out.first.status == 400u);
            BOOST_TEST(out.first.header("Connection") == "close");
            BOOST_TEST((out.first.body.find("Transfer-Encoding") != std::string::npos ||
                        out.first.body.find("Content-Length") != std::string::npos),
                       out.first.body);
            BOOST_TEST((out.second == asio::error::eof), out.second.message());
        }
    }
    // HTTP/1.0 has no chunked coding at all.
    BOOST_TEST(raw("POST /whole HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                   .status == 400u);
    // Plain `chunked` (any case, surrounding blanks) is read as such.
    auto const ok = raw("POST /whole HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  Chunked \r\n\r\n"
                        "3\r\nabc\r\n0\r\n\r\n");
    BOOST_TEST(ok.status == 200u);
    BOOST_TEST(ok.body == "hello abc");
}

BOOST_FIXTURE_TEST_CASE(a_malformed_head_gets_a_400_that_names_the_problem, server_fixture) {
    start();
    struct bad {
        std::string head;
        std::string_view says;
    };
    bad const cases[] = {
        {"POST /whole HTTP/1.1\r\nHost: x\r\nX-A: b\r\n folded\r\n\r\n", "folded lines"},
        {"POST /whole HTTP/1.1\r\nHost : x\r\n\r\n", "'name: value'"},
        {"POST /whole HTTP/1.1\r\nHost: x\x01\r\n\r\n", "control character"},
        {"POST /whole HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.0 or HTTP/1.1"},
        {"POST /whole HTTP/1.1\nHost: x\r\n\r\n", "CRLF"},
        {"POST /wh ole HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.0 or HTTP/1.1"},
        {"(POST) /whole HTTP/1.1\r\nHost: x\r\n\r\n", "method"},
        {"POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
         "differ"},
        {"POST /whole HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk"},
        // RFC 9112 section 3.2: one Host, which is a host.
        {"POST /whole HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "must have a Host"},
        {"GET /whole HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", "not several"},
        {"GET /whole HTTP/1.0\r\nHost: a.example\r\nhost: a.example\r\n\r\n", "not several"},
        {"GET /whole HTTP/1.1\r\nHost: a.example/b\r\n\r\n", "not a host"},
        {"GET /whole HTTP/1.1\r\nHost: a example\r\n\r\n", "not a host"},
        {"GET /whole HTTP/1.1\r\nHost: user@a.example\r\n\r\n", "not a host"},
        {"GET /whole HTTP/1.1\r\nHost: a.example:80x\r\n\r\n", "not a host"},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.head) {
            auto const r = raw(c.head);
            BOOST_TEST(r.status == 400u);
            BOOST_TEST(r.header("Connection") == "close");
            BOOST_TEST(r.body.find(c.says) != std::string::npos, r.body);
        }
    }
}

using field_list = std::vector<std::pair<std::string_view, std::string_view>>;

/// What `check` says of a request head of `method` with `fields` (the head's functions of
/// http/framing.hpp: pure, so tested without a server).
template <class Check>
auto check_head(Check check, std::string_view method, field_list const& fields,
                unsigned version = 11) {
    llmux::detail::http1::request h;
    h.assign(method, "/", version, fields);
    return check(h);
}

BOOST_AUTO_TEST_CASE(framing_problem_is_a_pure_function_of_the_head) {
    // framing_problem of a POST with these fields (what it returns is static text).
    auto problem = [](field_list const& fields, unsigned version = 11) {
        return check_head(llmux::detail::framing_problem, "POST", fields, version);
    };
    BOOST_TEST(!problem({}));
    BOOST_TEST(!problem({{"Content-Length", "3"}}));
    // The Host rule is host_problem's, not framing_problem's.
    BOOST_TEST(!problem({{"Host", "a"}, {"Host", "b"}}));
    BOOST_TEST(!problem({{"Transfer-Encoding", "chunked"}}));
    BOOST_TEST(!problem({{"Transfer-Encoding", "CHUNKED"}}));
    BOOST_TEST(problem({{"Transfer-Encoding", ""}}).has_value());
    BOOST_TEST(problem({{"Transfer-Encoding", "chunked,"}}).has_value() == false);
    BOOST_TEST(
        problem({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}).has_value());
    BOOST_TEST(problem({{"Transfer-Encoding", "chunked"}}, 10).has_value());
    BOOST_TEST(problem({{"Content-Length", "0"}, {"Transfer-Encoding", "chunked"}})
                   .has_value());
}

BOOST_AUTO_TEST_CASE(host_problem_wants_one_host) {
    // host_problem of a GET with these fields.
    auto problem = [](field_list const& fields, unsigned version = 11) {
        return check_head(llmux::detail::host_problem, "GET", fields, version);
    };
    for (std::string_view ok :
         {"a.example", "A.Example:8080", "127.0.0.1", "127.0.0.1:", "", "[::1]", "[::1]:443",
          "[2001:db8::7]:8080", "[::ffff:192.0.2.1]", "xn--bcher-kva.example", "a%2Db",
          "[v1.fe80::a+en1]", "[VA.x]", "a_b~c!$&'()*+,;=d"}) {
        BOOST_TEST_CONTEXT(ok) {
            BOOST_TEST(!problem({{"Host", ok}}));
        }
    }
    for (std::string_view bad :
         {"a b", "a/b", "a?b", "a#b", "u@a", "a:8x", "a:-1", "a:1:2", "[::1", "[]", "[::1]x",
          "[::1]:a", "a%2", "a%zz", "a\"b", "\xc3\xa9.example", "<a>", "[a]", "[zz]",
          "[1.2.3.4]", "[v.]", "[v1.]", "[vx.a]", "[v1.a b]", "::1", "[::1%25eth0]"}) {
        BOOST_TEST_CONTEXT(bad) {
            auto const p = problem({{"Host", bad}});
            BOOST_TEST((p && p->find("not a host") != std::string_view::npos));
        }
    }
    // Exactly one on HTTP/1.1, at most one on HTTP/1.0; any case of the name counts.
    BOOST_TEST(problem({})->find("must have a Host") != std::string_view::npos);
    BOOST_TEST(!problem({}, 10));
    BOOST_TEST(!problem({{"Host", "a"}}, 10));
    BOOST_TEST(problem({{"Host", "a"}, {"HOST", "a"}})->find("not several") !=
               std::string_view::npos);
    BOOST_TEST(problem({{"Host", "a"}, {"host", "b"}}, 10)->find("not several") !=
               std::string_view::npos);
    BOOST_TEST(!problem({{"X-Host", "a b"}, {"Hosts", "a"}, {"Host", "a"}}));
}

BOOST_AUTO_TEST_CASE(expect_continue_is_for_http_1_1_only) {
    auto expects = [](std::string_view value, unsigned version) {
        return check_head(llmux::detail::expects_continue, "POST",
                          field_list{{"Host", "a"}, {"Expect", value}}, version);
    };
    BOOST_TEST(expects("100-continue", 11));
    BOOST_TEST(expects("100-Continue", 11));
    BOOST_TEST(!expects("100-continue", 10));  // RFC 9110 section 10.1.1: ignored in HTTP/1.0
    BOOST_TEST(!expects("200-ok", 11));
    BOOST_TEST(!check_head(llmux::detail::expects_continue, "POST", {{"Host", "a"}}));
}

// curl and the SDKs' large uploads: the 100 comes before the body is read, then the answer.
BOOST_FIXTURE_TEST_CASE(expect_continue_gets_a_100_before_the_body, server_fixture) {
    start();
    auto const out = run([&]() -> asio::awaitable<std::pair<reply, reply>> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        co_await c.write_raw("POST /whole HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                             "Content-Length: 3\r\n\r\n");
        auto cont = co_await c.read_response();
        co_await c.write_raw("abc");
        co_return std::pair{cont, co_await c.read_response()};
    });
    BOOST_TEST(out.first.status == 100u);
    BOOST_TEST(out.second.status == 200u);
    BOOST_TEST(out.second.body == "hello abc");
}

BOOST_FIXTURE_TEST_CASE(head_check_answers_before_the_body_is_read, server_fixture) {
    llmux::detail::server_config cfg;
    cfg.max_body_bytes = 1u << 20;
    cfg.head_check = [&](llmux::detail::server_request const& req)
        -> std::optional<llmux::detail::early_answer> {
        if (req["x-key"] == "good") return std::nullopt;
        llmux::detail::early_answer a;
        a.status = 401;
        a.body = "no key";
        a.headers.emplace_back("x-why", "key");
        a.headers.emplace_back("x-bad", "a\r\nInjected: 1");  // dropped
        return a;
    };
    start(cfg);
    // A body announced but never sent: the answer comes from the head alone, at once.
    auto const refused = run([&]() -> asio::awaitable<std::pair<reply, error_code>> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        co_await c.write_raw("POST /whole HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                             "Content-Length: 1000000\r\n\r\n");
        auto r = co_await c.read_response();
        co_return std::pair{r, co_await c.read_until_closed(10s)};
    });
    BOOST_TEST(refused.first.status == 401u);
    BOOST_TEST(refused.first.body == "no key");
    BOOST_TEST(refused.first.header("x-why") == "key");
    BOOST_TEST(refused.first.header("Injected").empty());
    BOOST_TEST(refused.first.header("Connection") == "close");
    BOOST_TEST((refused.second == asio::error::eof), refused.second.message());
    // With the key, the body is read and the handler runs.
    auto const ok = run([&]() -> asio::awaitable<reply> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        std::vector<std::pair<std::string, std::string>> const headers = {{"x-key", "good"}};
        co_return co_await c.request(http::verb::post, "/whole", "abc", headers, false);
    });
    BOOST_TEST(ok.status == 200u);
    BOOST_TEST(ok.body == "hello abc");
}

BOOST_FIXTURE_TEST_CASE(connection_caps_refuse_with_503_and_keep_serving, server_fixture) {
    llmux::detail::server_config cfg;
    cfg.max_connections = 6;
    cfg.max_connections_per_client = 3;
    cfg.header_timeout = 30s;  // the idle ones stay for the whole test
    start(cfg);
    auto const out = run([&]() -> asio::awaitable<bool> {
        // Three idle connections from 127.0.0.1 fill its share...
        std::vector<std::unique_ptr<client>> idle;
        for (int i = 0; i < 3; ++i) {
            idle.push_back(std::make_unique<client>(ctx.get_executor()));
            BOOST_TEST(!(co_await idle.back()->connect(url)));
        }
        // ... (wait until the server has seen them all) ...
        asio::steady_timer t(ctx.get_executor());
        while (server->stats().open < 3) {
            t.expires_after(1ms);
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        // ... so a fourth from it is answered 503 and closed,
        {
            client c(ctx.get_executor());
            co_await c.connect(url);
            auto r = co_await c.read_response();
            BOOST_TEST(r.status == 503u);
            BOOST_TEST(r.header("Retry-After") == "1");
            BOOST_TEST(r.body.find("too many connections") != std::string::npos);
        }
        BOOST_TEST(server->stats().refused == 1u);
        // while another address (127.0.0.2 is loopback too) is still served,
        {
            asio::ip::tcp::socket sock(ctx.get_executor());
            sock.open(asio::ip::tcp::v4());
            sock.bind({asio::ip::make_address("127.0.0.2"), 0});
            auto const port = static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
            auto [ec] = co_await sock.async_connect({asio::ip::make_address("127.0.0.1"), port},
                                                    asio::as_tuple(asio::use_awaitable));
            BOOST_TEST(!ec, ec.message());
            std::string const req = "GET /whole HTTP/1.1\r\nHost: x\r\n\r\n";
            co_await asio::async_write(sock, asio::buffer(req), asio::as_tuple(asio::use_awaitable));
            beast::flat_buffer buf;
            http::response<http::string_body> res;
            auto [rec, rn] = co_await http::async_read(sock, buf, res, asio::as_tuple(asio::use_awaitable));
            BOOST_TEST(!rec, rec.message());
            BOOST_TEST(res.result_int() == 200u);
        }
        // and once an idle one leaves, 127.0.0.1 gets its place back.
        idle.front()->close();
        idle.erase(idle.begin());
        while (server->stats().open >= 3) {
            t.expires_after(1ms);
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        client c(ctx.get_executor());
        co_await c.connect(url);
        auto r = co_await c.request(http::verb::get, "/whole", {}, {}, false);
        BOOST_TEST(r.status == 200u);
        co_return true;
    });
    BOOST_TEST(out);
}

BOOST_FIXTURE_TEST_CASE(wait_for_disconnect_sees_the_client_leave, server_fixture) {
    start();
    run([&]() -> asio::awaitable<void> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        co_await c.write_raw("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
        auto const r = co_await c.read_response(200ms);
        BOOST_TEST((r.ec == beast::error::timeout), r.ec.message());  // nothing was sent
    });
    BOOST_TEST(llmux::test::run_until(ctx, [&] { return disconnect_done; }));
    BOOST_TEST(
        (disconnect_ec == asio::error::eof || disconnect_ec == asio::error::connection_reset),
        disconnect_ec.message());
}

BOOST_FIXTURE_TEST_CASE(stop_ends_sleeping_handlers_and_listeners, server_fixture) {
    start();
    client sleeping(ctx.get_executor());
    run([&]() -> asio::awaitable<void> {
        co_await sleeping.connect(url);
        co_await sleeping.write_raw("GET /sleep HTTP/1.1\r\nHost: x\r\n\r\n");
    });
    // Let the server read the request and start sleeping.
    BOOST_TEST(llmux::test::run_until(ctx, [&] { return server->stats().requests == 1; }));
    BOOST_TEST(server->stats().open == 1u);
    server->stop();
    asio::co_spawn(
        ctx, [&]() -> asio::awaitable<void> { co_await sleeping.read_until_closed(30s); },
        asio::detached);
    BOOST_TEST(llmux::test::runs_out_of_work(ctx, 10s), "work left after stop()");
    BOOST_TEST(server->stats().open == 0u);
    // Nothing listens any more.
    auto const ec = run([&]() -> asio::awaitable<error_code> {
        client c(ctx.get_executor());
        co_return co_await c.connect(url);
    });
    BOOST_TEST((ec == asio::error::connection_refused), ec.message());
    BOOST_TEST(server->listen("127.0.0.1", 0).has_error());  // a stopped server stays stopped
}

BOOST_FIXTURE_TEST_CASE(tls_listener, server_fixture) {
    start();
    auto material = llmux::detail::make_tls_material({"127.0.0.1", "localhost", "::1", "emu.test"});
    BOOST_TEST_REQUIRE(material.has_value(), material.error().to_string());
    auto tls = llmux::detail::make_server_tls_context(*material);
    BOOST_TEST_REQUIRE(tls.has_value(), tls.error().to_string());
    auto ep = server->listen("127.0.0.1", 0, *tls);
    BOOST_TEST_REQUIRE(ep.has_value());
    auto const tls_url = "https://127.0.0.1:" + std::to_string(ep->port());

    ssl::context trusting(ssl::context::tls_client);
    trusting.add_certificate_authority(asio::buffer(material->ca_cert_pem));
    auto const r = run([&]() -> asio::awaitable<reply> {
        client c(ctx.get_executor());
        auto ec = co_await c.connect(tls_url, &trusting, "emu.test");
        BOOST_TEST_REQUIRE(!ec, ec.message());
        co_return co_await c.request(http::verb::get, "/chunked", {}, {}, false);
    });
    BOOST_TEST(r.body == "abc");
    // TLS 1.1 is refused.
    ssl::context old(ssl::context::tls_client);
    SSL_CTX_set_max_proto_version(old.native_handle(), TLS1_1_VERSION);
    old.add_certificate_authority(asio::buffer(material->ca_cert_pem));
    auto const ec = run([&]() -> asio::awaitable<error_code> {
        client c(ctx.get_executor());
        co_return co_await c.connect(tls_url, &old);
    });
    BOOST_TEST(bool(ec));

    BOOST_TEST(llmux::detail::make_tls_material({}).has_error());
    BOOST_TEST(llmux::detail::make_tls_material({"bad name,DNS:evil"}).has_error());
}

BOOST_FIXTURE_TEST_CASE(a_client_that_leaves_cancels_its_handler, server_fixture) {
    start();
    for (int round = 0; round < 2; ++round) {
        handler_started = handler_done = watched_gone = false;
        watched_ec = {};
        run([&]() -> asio::awaitable<void> {
            client c(ctx.get_executor());
            BOOST_TEST_REQUIRE(!(co_await c.connect(url)));
            // The second round sends a pipelined request first: the watch keeps its bytes and
            // still notices the close.
            std::string const req = "GET /watched HTTP/1.1\r\nHost: x\r\n\r\n";
            std::string const bytes = round == 0 ? req : req + req;  // no ?: in co_await
            BOOST_TEST_REQUIRE(!(co_await c.write_raw(bytes)));
            asio::steady_timer t(ctx);
            for (int i = 0; i < 2000 && !handler_started; ++i) {
                t.expires_after(1ms);
                co_await t.async_wait(asio::use_awaitable);
            }
            BOOST_TEST_REQUIRE(handler_started);
            c.close();
        });
        BOOST_TEST(llmux::test::run_until(ctx, [&] { return handler_done; }, 10s));
        BOOST_TEST((watched_ec == asio::error::operation_aborted), watched_ec.message());
        BOOST_TEST(watched_gone);
        BOOST_TEST(server->stats().disconnects == unsigned(round + 1));
        BOOST_TEST(llmux::test::run_until(ctx, [&] { return server->stats().open == 0; }, 10s));
    }
    // A handler that finishes normally is not cancelled, and the connection stays usable.
    auto const r = run([&]() -> asio::awaitable<std::pair<reply, reply>> {
        client c(ctx.get_executor());
        co_await c.connect(url);
        auto a = co_await c.request(http::verb::get, "/slow", {}, {}, false);
        auto b = co_await c.request(http::verb::get, "/whole", {}, {}, false);
        co_return std::pair{a, b};
    });
    BOOST_TEST(r.first.body == "slow done");
    BOOST_TEST(r.second.status == 200u);
    BOOST_TEST(server->stats().disconnects == 2u);
}

BOOST_FIXTURE_TEST_CASE(drain_lets_busy_connections_finish_and_closes_idle_ones, server_fixture) {
    start();
    auto const out = run([&]() -> asio::awaitable<std::pair<reply, error_code>> {
        client idle(ctx.get_executor()), busy(ctx.get_executor());
        BOOST_TEST_REQUIRE(!(co_await idle.connect(url)));
        auto const first = co_await idle.request(http::verb::get, "/whole", {}, {}, false);
        BOOST_TEST(first.status == 200u);
        BOOST_TEST_REQUIRE(!(co_await busy.connect(url)));
        BOOST_TEST_REQUIRE(!(co_await busy.write_request(http::verb::get, "/slow", {}, {}, false)));
        asio::steady_timer t(ctx);
        for (int i = 0; i < 2000 && !handler_started; ++i) {
            t.expires_after(1ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        BOOST_TEST_REQUIRE(handler_started);
        server->drain();
        auto const idle_end = co_await idle.read_until_closed(5s);
        auto r = co_await busy.read_response(5s);
        co_return std::pair{r, idle_end};
    });
    BOOST_TEST(out.first.status == 200u);
    BOOST_TEST(out.first.body == "slow done");
    BOOST_TEST(out.first.header("Connection") == "close");
    BOOST_TEST((out.second == asio::error::eof || out.second == asio::error::connection_reset),
               out.second.message());
    BOOST_TEST(llmux::test::run_until(ctx, [&] { return server->stats().open == 0; }, 10s));
    // No new connections after a drain.
    auto const ec = run([&]() -> asio::awaitable<error_code> {
        client c(ctx.get_executor());
        co_return co_await c.connect(url);
    });
    BOOST_TEST(bool(ec));
}

BOOST_AUTO_TEST_SUITE_END()
