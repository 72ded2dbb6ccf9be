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
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

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
        } else if (target == "/chunked") {
            x.add_header("Content-Type", "text/plain");
            x.start_chunked();
            co_await x.write_chunk("a");
            co_await x.flush();
            co_await x.sleep_for(10ms);
            co_await x.write_chunk("b");
            co_await x.end_chunked("c");
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
        } else if (target == "/close") {
            x.close_after_response();
            co_await x.send("bye");
        } else if (target == "/sleep") {
            co_await x.sleep_for(1h);
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

BOOST_FIXTURE_TEST_CASE(limits_and_malformed_requests, server_fixture) {
    llmux::detail::server_config cfg;
    cfg.max_body_bytes = 100;
    cfg.max_header_bytes = 1024;
    start(cfg);
    BOOST_TEST(raw("BLAH\r\n\r\n").status == 400u);
    BOOST_TEST(raw("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").status == 400u);
    BOOST_TEST(
        raw("POST /whole HTTP/1.1\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'a')).status ==
        413u);
    BOOST_TEST(raw("GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n").status == 431u);
    // A chunked request body over the limit is caught as it arrives.
    BOOST_TEST(raw("POST /whole HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" +
                   std::string(128, 'a') + "\r\n0\r\n\r\n")
                   .status == 413u);
}

BOOST_FIXTURE_TEST_CASE(slow_and_idle_clients_are_dropped, server_fixture) {
    llmux::detail::server_config cfg;
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

BOOST_AUTO_TEST_SUITE_END()
