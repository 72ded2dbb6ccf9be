// SPDX-License-Identifier: BSL-1.0
// The client against the in-process emulator over loopback: TLS, keep-alive, deadlines,
// cancellation, faults and concurrency.
#include "common/client_fixture.hpp"
#include "util/strand.hpp"

#include <llmux/combinators.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using llmux::test::emulator_fixture;

namespace {

chat_request ask(std::string model, std::string prompt = "Introduce Python in one sentence") {
    return {.model = std::move(model), .messages = {user(std::move(prompt))}};
}

bool is(failure const& f, error e) { return f.code == make_error_code(e); }

/// An upstream of one connection that answers one request with `response`, bytes as given, in
/// one write, and then closes the connection.
struct raw_upstream {
    asio::ip::tcp::acceptor acc;
    asio::ip::tcp::socket peer;
    std::string request;

    /// Answers one request with `response`, written `piece` bytes at a time when not 0 (the
    /// client's reads then mostly see a few bytes each).
    raw_upstream(asio::io_context& io, std::string response, std::size_t piece = 0)
        : acc(io, {asio::ip::make_address("127.0.0.1"), 0}), peer(io), piece_(piece) {
        asio::co_spawn(io, serve(std::move(response)), asio::detached);
    }

    /// A client whose OpenAI provider is this upstream.
    client_config config() const {
        auto cfg = client_config::presets();
        cfg.find("openai")->base_url =
            "http://127.0.0.1:" + std::to_string(acc.local_endpoint().port()) + "/v1";
        cfg.find("openai")->credentials.api_key = "k";
        return cfg;
    }

private:
    std::size_t piece_;

    asio::awaitable<void> serve(std::string response) {
        co_await acc.async_accept(peer, asio::use_awaitable);
        // The client's transport writes the request's head and JSON body at once.
        char buf[8192];
        while (request.find("\r\n\r\n") == std::string::npos || !request.ends_with("}")) {
            auto [ec, n] = co_await peer.async_read_some(asio::buffer(buf),
                                                          asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
            request.append(buf, n);
        }
        if (piece_ == 0) {
            co_await asio::async_write(peer, asio::buffer(response), asio::use_awaitable);
        } else {
            peer.set_option(asio::ip::tcp::no_delay(true));
            for (std::size_t i = 0; i < response.size(); i += piece_) {
                auto const n = std::min(piece_, response.size() - i);
                co_await asio::async_write(peer, asio::buffer(response.data() + i, n),
                                           asio::use_awaitable);
                co_await asio::post(peer.get_executor(), asio::use_awaitable);  // the client's turn
            }
        }
        boost::system::error_code ec;
        peer.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    }
};

constexpr std::string_view answer_json =
    R"({"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";

}  // namespace

BOOST_AUTO_TEST_SUITE(client_transport)

BOOST_AUTO_TEST_CASE(chat_over_tls) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("openai/gpt-4o-mini"));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->text().find("gpt-4o-mini") != std::string::npos);
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST(r->usage.known());
    BOOST_TEST(*r->usage.total_tokens == *r->usage.input_tokens + *r->usage.output_tokens);
    BOOST_TEST(!r->request_id.empty());
    BOOST_TEST(r->provider == "openai");
    BOOST_TEST(r->requested_model == "openai/gpt-4o-mini");
    BOOST_TEST(r->latency.count() > 0);
    BOOST_TEST(r->ttft <= r->latency);
    BOOST_TEST(r->attempts.size() == 1u);
}

BOOST_AUTO_TEST_CASE(chat_over_plain_http) {
    emulator_fixture fx({}, false);
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("deepseek/deepseek-chat"));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->provider == "deepseek");
}

BOOST_AUTO_TEST_CASE(every_openai_compatible_provider_by_model_id_only) {
    emulator_fixture fx;
    fx.cfg.find("azure")->query = {{"api-version", "2024-10-21"}};
    auto c = fx.make_client();
    for (auto m : {"openai/gpt-4o-mini", "openrouter/anthropic/claude-sonnet-4.6",
                   "deepseek/deepseek-chat", "zenmux/gpt-4.1-mini", "azure/my-deployment",
                   "groq/llama-3.3-70b", "together/meta-llama/Llama-3-8b", "ollama/llama3",
                   "vllm/qwen"}) {
        BOOST_TEST_CONTEXT(m) {
            auto r = fx.chat(c, ask(m));
            BOOST_TEST_REQUIRE(!!r, r.error());
            BOOST_TEST(r->requested_model == m);
            BOOST_TEST(!r->content.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(stream_over_tls_assembles_the_answer) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto s = fx.stream(c, ask("openai/gpt-4o-mini"));
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.chunks > 3u);
    BOOST_TEST(s.text == s.response->content);
    BOOST_TEST(s.text.find("gpt-4o-mini") != std::string::npos);
    BOOST_TEST((s.response->finish_reason == finish_reason::stop));
    BOOST_TEST(s.response->usage.known());  // include_usage is always requested
    BOOST_TEST(s.response->ttft <= s.response->latency);
}

BOOST_AUTO_TEST_CASE(stream_assembles_tool_calls) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask("openai/gpt-4o-mini", "Weather in Oslo?");
    boost::json::object params{{"type", "object"},
                               {"properties", {{"city", {{"type", "string"}}}}},
                               {"required", boost::json::array{"city"}}};
    req.tools = {tool{"get_weather", "Current weather", params}};
    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST((s.response->finish_reason == finish_reason::tool_calls));
    BOOST_TEST_REQUIRE(s.response->tool_calls.size() == 1u);
    auto const& tc = s.response->tool_calls[0];
    BOOST_TEST(tc.name == "get_weather");
    BOOST_TEST(!tc.id.empty());
    boost::system::error_code ec;
    auto args = boost::json::parse(tc.arguments, ec);
    BOOST_TEST_REQUIRE(!ec, tc.arguments);
    BOOST_TEST(args.as_object().contains("city"));

    // Send the tool result back; the model answers with text.
    req.messages.push_back(assistant("", s.response->tool_calls));
    req.messages.push_back(tool_answer(tc.id, "{\"temp_c\":4}", "get_weather"));
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST(r->content.find("temp_c") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection) {
    emulator_fixture fx;
    auto c = fx.make_client();
    for (int i = 0; i < 20; ++i) {
        auto r = fx.chat(c, ask("openai/gpt-4o-mini"));
        BOOST_TEST_REQUIRE(!!r, r.error());
        auto s = fx.stream(c, ask("openai/gpt-4o-mini"));
        BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    }
    BOOST_TEST(fx.emu->stats().connections_accepted == 1u);
    BOOST_TEST(c.stats().connections_opened == 1u);
    BOOST_TEST(c.stats().connections_reused == 39u);
}

BOOST_AUTO_TEST_CASE(new_connections_resume_the_tls_session) {
    emulator_fixture fx;
    auto c = fx.make_client();
    BOOST_TEST_REQUIRE(!!fx.chat(c, ask("openai/gpt-4o-mini")));
    BOOST_TEST(c.stats().tls_resumed == 0u);  // the first handshake is a full one
    // Four calls at once need three more connections; each resumes the saved session.
    std::atomic<int> done{0}, ok{0};
    for (int i = 0; i < 4; ++i)
        asio::co_spawn(
            fx.io,
            [&]() -> asio::awaitable<void> {
                auto r = co_await c.chat(ask("openai/gpt-4o-mini~latency=50ms"));
                if (r) ++ok;
                ++done;
            },
            asio::detached);
    BOOST_TEST_REQUIRE(llmux::test::run_until(fx.io, [&] { return done == 4; }));
    BOOST_TEST(ok == 4);
    BOOST_TEST(c.stats().connections_opened == 4u);
    BOOST_TEST(c.stats().tls_resumed == 3u);
}

BOOST_AUTO_TEST_CASE(a_cancellation_between_steps_stops_the_call_on_any_number_of_threads) {
    // A coroutine that turned throw_if_cancelled off is cancelled while it waits, and goes on.
    // Its cancellation state stays cancelled: a call it makes then stops before sending, on a
    // single-threaded context (every step inline) as on one with strands (steps in threads of
    // their own, which start in the caller's state). After reset_cancellation_state() it calls
    // again normally. With strands the first call used to be sent: a cancellation that landed
    // between two steps was lost.
    for (int hint : {1, BOOST_ASIO_CONCURRENCY_HINT_DEFAULT}) {
        BOOST_TEST_CONTEXT("concurrency hint " << hint) {
            emulator_fixture fx({}, true, hint);
            auto c = fx.make_client();
            asio::cancellation_signal sig;
            bool waited = false;
            std::optional<result<chat_response>> stopped, after_reset;
            asio::co_spawn(
                fx.io,
                [&]() -> asio::awaitable<void> {
                    co_await asio::this_coro::throw_if_cancelled(false);
                    asio::steady_timer t(fx.io, 1h);
                    auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
                    waited = ec == asio::error::operation_aborted;
                    stopped.emplace(co_await c.chat(ask("openai/gpt-4o-mini")));
                    co_await asio::this_coro::reset_cancellation_state();
                    after_reset.emplace(co_await c.chat(ask("openai/gpt-4o-mini")));
                },
                asio::bind_cancellation_slot(sig.slot(), asio::detached));
            asio::post(fx.io, [&] { sig.emit(asio::cancellation_type::terminal); });
            BOOST_TEST_REQUIRE(
                llmux::test::run_until(fx.io, [&] { return after_reset.has_value(); }));
            BOOST_TEST(waited);
            BOOST_TEST_REQUIRE(!*stopped);
            BOOST_TEST(stopped->error().code == asio::error::operation_aborted,
                       stopped->error().to_string());
            BOOST_TEST(fx.emu->stats().requests == 1u);  // only the call after the reset
            BOOST_TEST_REQUIRE(!!*after_reset, (*after_reset ? "" : after_reset->error().to_string()));
            BOOST_TEST(c.stats().connections_open <= 1u);  // the stopped call closed its own
        }
    }
}

BOOST_AUTO_TEST_CASE(untrusted_certificate_is_rejected) {
    emulator_fixture fx;
    fx.cfg.tls.ca_file.clear();  // the system store does not know the emulator's CA
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("openai/gpt-4o-mini"));
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(code_name(r.error().code) == "tls_error");
    BOOST_TEST(r.error().diag.message.find("certificate") != std::string::npos, r.error());
    BOOST_TEST(fx.emu->stats().requests == 0u);
}

BOOST_AUTO_TEST_CASE(the_system_store_is_read_at_the_first_tls_connection) {
    // OpenSSL reads SSL_CERT_FILE when it loads the system store. Set after the client is made,
    // it is honoured: the store was read at the first TLS connection, not with the client (a
    // client of plain-HTTP endpoints never pays for it).
    emulator_fixture fx;
    std::string const ca = fx.cfg.tls.ca_file;
    BOOST_TEST_REQUIRE(!ca.empty());
    fx.cfg.tls.ca_file.clear();
    auto c = fx.make_client();
    ::setenv("SSL_CERT_FILE", ca.c_str(), 1);
    auto r = fx.chat(c, ask("openai/gpt-4o-mini"));
    ::unsetenv("SSL_CERT_FILE");
    BOOST_TEST(!!r, (r ? std::string() : r.error().diag.message));
    BOOST_TEST(fx.emu->stats().requests == 1u);
}

BOOST_AUTO_TEST_CASE(host_name_mismatch_is_rejected) {
    emulator_config ec;
    ec.tls_names = {"only-this-name.test"};
    emulator_fixture fx(ec);
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("openai/gpt-4o-mini"));
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(code_name(r.error().code) == "tls_error");
    BOOST_TEST(fx.emu->stats().requests == 0u);
}

BOOST_AUTO_TEST_CASE(insecure_skip_verify_is_explicit) {
    emulator_config ec;
    ec.tls_names = {"only-this-name.test"};
    emulator_fixture fx(ec);
    fx.cfg.tls.ca_file.clear();
    fx.cfg.tls.insecure_skip_verify = true;
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("openai/gpt-4o-mini"));
    BOOST_TEST(!!r);
}

BOOST_AUTO_TEST_CASE(first_byte_deadline) {
    emulator_fixture fx;
    fx.cfg.timeouts.first_byte = 200ms;
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("openai/gpt-4o-mini~latency=10s"));
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::timeout));
    BOOST_TEST(r.error().diag.message.find("first-byte") != std::string::npos, r.error());
    BOOST_TEST(c.stats().connections_open == 0u);  // the timed-out connection was closed
}

BOOST_AUTO_TEST_CASE(idle_deadline_between_chunks) {
    emulator_fixture fx;
    fx.cfg.timeouts.idle = 200ms;
    auto c = fx.make_client();
    auto s = fx.stream(c, ask("openai/gpt-4o-mini~fault=stall,after=2"));
    BOOST_TEST_REQUIRE(!s.response);
    BOOST_TEST(is(s.response.error(), error::timeout));
    BOOST_TEST(s.response.error().diag.message.find("idle") != std::string::npos,
               s.response.error());
}

BOOST_AUTO_TEST_CASE(idle_deadline_while_a_chunk_header_drips) {
    // The idle deadline runs from the parser's last progress, not from each read: an upstream
    // that sends a chunk header a byte at a time, each byte well within the idle deadline,
    // fails the stream by the idle deadline, long before the total.
    asio::io_context io;
    asio::ip::tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::ip::tcp::socket peer(io);
            co_await acc.async_accept(peer, asio::use_awaitable);
            char buf[8192];
            co_await peer.async_read_some(asio::buffer(buf), asio::use_awaitable);
            std::string const head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                "Transfer-Encoding: chunked\r\n\r\n5;";
            co_await asio::async_write(peer, asio::buffer(head), asio::use_awaitable);
            asio::steady_timer t(io);
            for (int i = 0; i < 200; ++i) {  // up to 20 s of a never-ending extension
                t.expires_after(100ms);
                co_await t.async_wait(asio::use_awaitable);
                auto [ec, n] = co_await asio::async_write(peer, asio::buffer("x", 1),
                                                          asio::as_tuple(asio::use_awaitable));
                if (ec) co_return;  // the client gave up
            }
        },
        asio::detached);
    auto cfg = client_config::presets();
    cfg.find("openai")->base_url =
        "http://127.0.0.1:" + std::to_string(acc.local_endpoint().port()) + "/v1";
    cfg.find("openai")->credentials.api_key = "k";
    cfg.timeouts.idle = 400ms;
    cfg.timeouts.total = 15s;
    client c{io.get_executor(), cfg};
    auto const r = llmux::test::run_coro(io, [&]() -> asio::awaitable<result<chat_response>> {
        auto s = c.stream(ask("openai/gpt-4o-mini"));
        while (co_await s.next()) {
        }
        co_return s.response();
    });
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::timeout), r.error());
    BOOST_TEST(r.error().diag.message.find("idle") != std::string::npos, r.error());
}

BOOST_AUTO_TEST_CASE(total_deadline) {
    emulator_fixture fx;
    fx.cfg.timeouts.total = 300ms;
    auto c = fx.make_client();
    // 20 tokens at 10 tokens/s take about 2 s: never idle for long, but too long in total.
    auto s = fx.stream(c, ask("openai/gpt-4o-mini~tokens=20,tps=10"));
    BOOST_TEST_REQUIRE(!s.response);
    BOOST_TEST(is(s.response.error(), error::timeout));
    BOOST_TEST(s.response.error().diag.message.find("total") != std::string::npos,
               s.response.error());
}

BOOST_AUTO_TEST_CASE(tls_handshake_deadline) {
    // A TCP server that accepts and never speaks TLS.
    asio::io_context io;
    asio::ip::tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket held(io);
    acc.async_accept(held, [](boost::system::error_code) {});
    auto cfg = client_config::presets();
    cfg.find("openai")->base_url =
        "https://127.0.0.1:" + std::to_string(acc.local_endpoint().port()) + "/v1";
    cfg.find("openai")->credentials.api_key = "k";
    cfg.timeouts.tls_handshake = 200ms;
    client c{io.get_executor(), cfg};
    auto r = llmux::test::run_coro(
        io, [&] { return c.chat(ask("openai/gpt-4o-mini")); });
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::timeout));
    BOOST_TEST(r.error().diag.message.find("TLS") != std::string::npos, r.error());
    BOOST_TEST(c.stats().connections_open == 0u);
}

BOOST_AUTO_TEST_CASE(chunks_before_a_malformed_one_in_the_same_read_are_delivered) {
    // An upstream writes, in one write, a stream's head, a chunk of two good events and then a
    // chunk header that is not hex. The client reads it in one read: the events come first,
    // then the failure (the transport parses everything its buffer holds, and a failure found
    // there waits until the bytes before it are handed over).
    std::string const events =
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    char size[16];
    auto const end = std::to_chars(size, size + sizeof size, events.size(), 16).ptr;
    asio::io_context io;
    raw_upstream up(io, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n" +
                            std::string(size, end) + "\r\n" + events + "\r\nzz\r\nnot a chunk\r\n");
    client c{io.get_executor(), up.config()};
    std::string text;
    std::size_t chunks = 0;
    auto const r = llmux::test::run_coro(io, [&]() -> asio::awaitable<result<chat_response>> {
        auto s = c.stream(ask("openai/gpt-4o-mini"));
        while (auto chunk = co_await s.next()) {
            ++chunks;
            text += chunk->text;
        }
        co_return s.response();
    });
    BOOST_TEST(up.request.starts_with("POST /v1/chat/completions"), up.request);
    BOOST_TEST(text == "Hi");
    BOOST_TEST(chunks >= 1u);
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().diag.message.find("reading the response") != std::string::npos,
               r.error());
    BOOST_TEST(c.stats().connections_open == 0u);
}

BOOST_AUTO_TEST_CASE(response_framing_headers_and_the_size_cap) {
    // The transport's own response parser: the status, every header in order (a name twice
    // kept twice), bodies by length, by chunks and up to the end of the connection, and the
    // size cap on a announced length and on what arrives.
    auto const chat = [](std::string response, std::size_t cap = 64u << 20) {
        asio::io_context io;
        raw_upstream up(io, std::move(response));
        auto cfg = up.config();
        cfg.max_response_bytes = cap;
        client c{io.get_executor(), cfg};
        return llmux::test::run_coro(io, [&] { return c.chat(ask("openai/gpt-4o-mini")); });
    };
    auto const length = std::to_string(answer_json.size());
    std::string const body(answer_json);
    {
        auto const r = chat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "x-request-id: req_first\r\nX-Request-Id: req_second\r\n"
                            "Content-Length: " + length + "\r\n\r\n" + body);
        BOOST_TEST_REQUIRE(!!r, r.error());
        BOOST_TEST(r->content == "Hi");
        BOOST_TEST(r->request_id == "req_first");  // the first of the two, in order
        BOOST_TEST(r->usage.input_tokens.value_or(0) == 3u);
    }
    {
        std::string const half = body.substr(0, 50), rest = body.substr(50);
        char a[16], b[16];
        auto const ae = std::to_chars(a, a + 16, half.size(), 16).ptr;
        auto const be = std::to_chars(b, b + 16, rest.size(), 16).ptr;
        auto const r = chat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n" + std::string(a, ae) + "\r\n" +
                            half + "\r\n" + std::string(b, be) + ";ext=1\r\n" + rest +
                            "\r\n0\r\n\r\n");
        BOOST_TEST_REQUIRE(!!r, r.error());
        BOOST_TEST(r->content == "Hi");
    }
    {
        auto const r = chat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Connection: close\r\n\r\n" + body);
        BOOST_TEST_REQUIRE(!!r, r.error());  // delimited by the end of the connection
        BOOST_TEST(r->content == "Hi");
    }
    {
        // Interim responses before the answer are skipped, not taken for it.
        auto const r = chat("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                            "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "x-request-id: req_after_hints\r\n"
                            "Content-Length: " + length + "\r\n\r\n" + body);
        BOOST_TEST_REQUIRE(!!r, r.error());
        BOOST_TEST(r->content == "Hi");
        BOOST_TEST(r->request_id == "req_after_hints");
    }
    {
        auto const r = chat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + length + "\r\n\r\n" + body, 100);
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(is(r.error(), error::response_too_large), r.error());
    }
    {
        auto const r = chat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Connection: close\r\n\r\n" + body, 100);
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(is(r.error(), error::response_too_large), r.error());
    }
}

BOOST_AUTO_TEST_CASE(responses_that_arrive_in_pieces) {
    // The transport parses what it has read and reads more only when the parser needs it: a
    // head, a body by length, by chunks and up to the end of the connection, and an SSE
    // stream, each written 1, 5 and 64 bytes at a time, and a response cut inside its head.
    auto const chat = [](std::string response, std::size_t piece) {
        asio::io_context io;
        raw_upstream up(io, std::move(response), piece);
        client c{io.get_executor(), up.config()};
        return llmux::test::run_coro(io, [&] { return c.chat(ask("openai/gpt-4o-mini")); });
    };
    std::string const body(answer_json);
    auto hex = [](std::size_t n) {
        char b[16];
        return std::string(b, std::to_chars(b, b + 16, n, 16).ptr);
    };
    std::string const half = body.substr(0, 50), rest = body.substr(50);
    std::string const events =
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":\"stop\"}]}\n\n"
        "data: [DONE]\n\n";
    for (std::size_t piece : {1u, 5u, 64u}) {
        BOOST_TEST_CONTEXT("pieces of " << piece) {
            auto const sized = chat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
                                    piece);
            BOOST_TEST_REQUIRE(!!sized, sized.error());
            BOOST_TEST(sized->content == "Hi");
            BOOST_TEST(sized->usage.input_tokens.value_or(0) == 3u);
            auto const chunked = chat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                      "Transfer-Encoding: chunked\r\n\r\n" + hex(half.size()) + "\r\n" +
                                          half + "\r\n" + hex(rest.size()) + "\r\n" + rest + "\r\n0\r\n\r\n",
                                      piece);
            BOOST_TEST_REQUIRE(!!chunked, chunked.error());
            BOOST_TEST(chunked->content == "Hi");
            auto const to_eof = chat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Connection: close\r\n\r\n" + body,
                                     piece);
            BOOST_TEST_REQUIRE(!!to_eof, to_eof.error());
            BOOST_TEST(to_eof->content == "Hi");
            auto const cut = chat("HTTP/1.1 200 OK\r\nContent-Type: appli", piece);
            BOOST_TEST_REQUIRE(!cut);
            BOOST_TEST(cut.error().diag.message.find("waiting for the response") != std::string::npos,
                       cut.error());

            asio::io_context io;
            raw_upstream up(io, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n" + hex(events.size()) + "\r\n" +
                                    events + "\r\n0\r\n\r\n",
                            piece);
            client c{io.get_executor(), up.config()};
            std::string text;
            auto const r = llmux::test::run_coro(io, [&]() -> asio::awaitable<result<chat_response>> {
                auto s = c.stream(ask("openai/gpt-4o-mini"));
                while (auto chunk = co_await s.next()) text += chunk->text;
                co_return s.response();
            });
            BOOST_TEST_REQUIRE(!!r, r.error());
            BOOST_TEST(text == "Hi there");
            BOOST_TEST(r->content == "Hi there");
        }
    }
}

BOOST_AUTO_TEST_CASE(a_large_request_arrives_whole) {
    // A request is sent with what the socket takes at once and the rest written as the
    // upstream reads: an 8 MiB prompt arrives whole, and the answer is read. (A model the
    // catalog does not know, so that no context window refuses the prompt first.)
    asio::io_context io;
    raw_upstream up(io, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(answer_json.size()) + "\r\n\r\n" + std::string(answer_json));
    client c{io.get_executor(), up.config()};
    std::string prompt(8u << 20, 'x');
    for (std::size_t i = 0; i < prompt.size(); i += 97) prompt[i] = 'y';
    auto const r =
        llmux::test::run_coro(io, [&] { return c.chat(ask("openai/a-model-with-no-window", prompt)); });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->content == "Hi");
    BOOST_TEST(up.request.find(prompt) != std::string::npos);  // every byte, in order
}

BOOST_AUTO_TEST_CASE(connection_refused) {
    asio::io_context io;
    std::uint16_t port;
    {
        asio::ip::tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
        port = acc.local_endpoint().port();
    }  // closed again: nothing listens there now
    auto cfg = client_config::presets();
    cfg.find("openai")->base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
    cfg.find("openai")->credentials.api_key = "k";
    client c{io.get_executor(), cfg};
    auto r = llmux::test::run_coro(
        io, [&] { return c.chat(ask("openai/gpt-4o-mini")); });
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(code_name(r.error().code) == "connection_refused");
    BOOST_TEST(r.error().diag.message.find(std::to_string(port)) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(scripted_errors_map_to_codes) {
    emulator_fixture fx;
    auto c = fx.make_client();
    struct expect {
        char const* directives;
        error code;
        unsigned status;
    };
    for (auto const& e : {expect{"error=429,retry_after=2s", error::rate_limited, 429},
                          expect{"error=500", error::server_error, 500},
                          expect{"error=503", error::overloaded, 503},
                          expect{"error=401", error::auth_failed, 401},
                          expect{"error=404", error::not_found, 404},
                          expect{"error=400", error::bad_request, 400}}) {
        BOOST_TEST_CONTEXT(e.directives) {
            auto r = fx.chat(c, ask(std::string("openai/gpt-4o-mini~") + e.directives));
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(is(r.error(), e.code), r.error());
            BOOST_TEST(r.error().diag.http_status == e.status);
            BOOST_TEST(!r.error().diag.message.empty());
            BOOST_TEST(!r.error().diag.request_id.empty());
            auto s = fx.stream(c, ask(std::string("openai/gpt-4o-mini~") + e.directives));
            BOOST_TEST_REQUIRE(!s.response);
            BOOST_TEST(is(s.response.error(), e.code));
            BOOST_TEST(s.chunks == 0u);
        }
    }
    auto r = fx.chat(c, ask("openai/gpt-4o-mini~error=429,retry_after=2s"));
    BOOST_TEST_REQUIRE(r.error().diag.retry_after.has_value());
    BOOST_TEST(r.error().diag.retry_after->count() == 2000);
    // Errors with a body keep the connection.
    BOOST_TEST(fx.emu->stats().connections_accepted == 1u);
}

BOOST_AUTO_TEST_CASE(scripted_faults_give_documented_errors) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto st = [&](char const* d) { return fx.stream(c, ask(std::string("openai/m~") + d)); };
    auto ch = [&](char const* d) { return fx.chat(c, ask(std::string("openai/m~") + d)); };

    auto reset = ch("fault=reset");
    BOOST_TEST_REQUIRE(!reset);
    BOOST_TEST((code_name(reset.error().code) == "connection_reset" ||
                code_name(reset.error().code) == "connection_closed"),
               reset.error());

    auto reset_mid = st("fault=reset_mid,after=3");
    BOOST_TEST_REQUIRE(!reset_mid.response);
    BOOST_TEST(is(reset_mid.response.error(), error::truncated), reset_mid.response.error());
    BOOST_TEST(reset_mid.chunks >= 1u);

    auto trunc = st("fault=truncate,after=3");
    BOOST_TEST_REQUIRE(!trunc.response);
    BOOST_TEST(is(trunc.response.error(), error::truncated), trunc.response.error());
    BOOST_TEST(!trunc.text.empty());  // what came is delivered, then the failure

    auto trunc_body = ch("fault=truncate");
    BOOST_TEST_REQUIRE(!trunc_body);
    BOOST_TEST(is(trunc_body.error(), error::protocol_error), trunc_body.error());

    auto bad = ch("fault=malformed");
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(is(bad.error(), error::protocol_error), bad.error());

    auto bad_stream = st("fault=malformed,after=2");
    BOOST_TEST_REQUIRE(!bad_stream.response);
    BOOST_TEST(is(bad_stream.response.error(), error::protocol_error));

    auto mid = st("fault=error_mid,after=2");
    BOOST_TEST_REQUIRE(!mid.response);
    BOOST_TEST(is(mid.response.error(), error::server_error), mid.response.error());
    BOOST_TEST(mid.chunks >= 1u);

    auto close = ch("fault=close");
    BOOST_TEST(!!close);
    auto again = ch("");
    BOOST_TEST(!!again);
    BOOST_TEST(c.stats().connections_open == 1u);  // the last connection is kept alive
}

BOOST_AUTO_TEST_CASE(server_dropping_idle_sockets_is_survived) {
    emulator_config ec;
    ec.idle_timeout = 100ms;
    emulator_fixture fx(ec);
    auto c = fx.make_client();
    BOOST_TEST_REQUIRE(!!fx.chat(c, ask("openai/gpt-4o-mini")));
    // Wait until the server has dropped the idle connection.
    BOOST_TEST_REQUIRE(llmux::test::run_until(
        fx.io, [&] { return fx.emu->stats().connections_open == 0; }));
    auto r = fx.chat(c, ask("openai/gpt-4o-mini"));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(fx.emu->stats().connections_accepted == 2u);
    BOOST_TEST(fx.emu->stats().requests == 2u);  // the request was sent once
}

BOOST_AUTO_TEST_CASE(cancelling_a_stream_closes_its_socket) {
    emulator_fixture fx;
    auto c = fx.make_client();
    asio::cancellation_signal cancel;
    std::size_t chunks = 0;
    std::optional<result<chat_response>> final;
    asio::co_spawn(
        fx.io,
        [&]() -> asio::awaitable<void> {
            auto s = c.stream(ask("openai/gpt-4o-mini~tokens=1000,tps=50"));
            while (auto ch = co_await s.next()) {
                // Cancel from outside, while this coroutine waits in next() (as a timer or
                // cancel_after would). Cancelling a coroutine while it runs makes Asio throw at
                // its next co_await instead, by design.
                if (++chunks == 3)
                    asio::post(fx.io, [&] { cancel.emit(asio::cancellation_type::terminal); });
            }
            final = s.response();
        },
        asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    BOOST_TEST_REQUIRE(llmux::test::run_until(fx.io, [&] { return final.has_value(); }));
    BOOST_TEST_REQUIRE(!*final);
    BOOST_TEST(final->error().code == asio::error::operation_aborted);
    BOOST_TEST(chunks < 10u);
    BOOST_TEST(llmux::test::run_until(fx.io, [&] {
        return c.stats().connections_open == 0 && fx.emu->stats().connections_open == 0;
    }));
    BOOST_TEST(c.stats().in_flight == 0u);
}

BOOST_AUTO_TEST_CASE(cancelling_a_chat_with_awaitable_or) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = llmux::test::run_coro(fx.io, [&]() -> asio::awaitable<int> {
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer t(co_await asio::this_coro::executor, 100ms);
        auto v = co_await (c.chat(ask("openai/gpt-4o-mini~latency=10s")) ||
                           t.async_wait(asio::use_awaitable));
        co_return static_cast<int>(v.index());
    });
    BOOST_TEST(r == 1);  // the timer won; the call was cancelled
    // The client closed its socket at once (the emulator, asleep in its scripted latency,
    // notices later).
    BOOST_TEST(c.stats().connections_open == 0u);
    BOOST_TEST(c.stats().in_flight == 0u);
}

// On an io_context made for one thread (`io_context(1)`, as `llmux serve --threads 1` and the
// other commands make theirs) llmux uses no strands, and a caller that already runs there with
// `throw_if_cancelled` off (the gateway) runs each call's steps inline. Calls, streams,
// deadlines and cancellation behave as on any context, and the caller's flag is its own.
BOOST_AUTO_TEST_CASE(a_single_threaded_context_runs_calls_inline) {
    emulator_fixture fx({}, true, 1);
    BOOST_TEST_REQUIRE(detail::single_threaded(fx.io.get_executor()));
    fx.cfg.timeouts.first_byte = 200ms;
    auto c = fx.make_client();
    struct outcome {
        std::string text, streamed;
        bool timed_out = false, cancelled = false, flag_kept = false, ready_at_end = false;
    };
    auto o = llmux::test::run_coro(fx.io, [&]() -> asio::awaitable<outcome> {
        outcome out;
        co_await asio::this_coro::throw_if_cancelled(false);
        auto r = co_await c.chat(ask("openai/gpt-4o-mini"));
        if (r) out.text = r->text();
        auto s = c.stream(ask("openai/gpt-4o-mini~tokens=12"));
        while (auto ch = co_await s.next()) out.streamed += ch->text;
        if (!s.response()) out.streamed = "failed: " + s.response().error().to_string();
        out.ready_at_end = s.ready() && s.done();  // nothing left to wait for
        auto slow = co_await c.chat(ask("openai/gpt-4o-mini~latency=10s"));
        out.timed_out = !slow && is(slow.error(), error::timeout);
        {
            using namespace asio::experimental::awaitable_operators;
            asio::steady_timer t(co_await asio::this_coro::executor, 50ms);
            auto v = co_await (c.chat(ask("openai/gpt-4o-mini~latency=10s")) ||
                               t.async_wait(asio::use_awaitable));
            out.cancelled = v.index() == 1;
        }
        out.flag_kept = !co_await asio::this_coro::throw_if_cancelled();
        co_return out;
    });
    BOOST_TEST(o.text.find("gpt-4o-mini") != std::string::npos, o.text);
    BOOST_TEST(!o.streamed.empty());
    BOOST_TEST(o.streamed.find("failed") == std::string::npos, o.streamed);
    BOOST_TEST(o.timed_out);
    BOOST_TEST(o.cancelled);
    BOOST_TEST(o.flag_kept);
    BOOST_TEST(o.ready_at_end);
    BOOST_TEST(chat_stream::failed(failure(error::invalid_request, "x")).ready());
    BOOST_TEST(c.stats().connections_open <= 1u);  // the idle pooled one at most
    BOOST_TEST(c.stats().in_flight == 0u);
}

// chat_stream::try_next takes a chunk already decoded without suspending (the gateway's relay
// does), and the stream is the same whichever way each chunk is taken: a plain stream and a
// fallback stream, each read once through next() only and once through try_next() first.
BOOST_AUTO_TEST_CASE(try_next_takes_what_is_at_hand) {
    emulator_fixture fx({}, true, 1);
    auto c = fx.make_client();
    struct read_out {
        std::string text, final_text;
        std::size_t chunks = 0, at_hand = 0;
        bool only_when_ready = true, nothing_at_end = false, ok = false;
    };
    auto read = [&](chat_stream s, bool eager) -> asio::awaitable<read_out> {
        read_out o;
        for (;;) {
            bool const ready = s.ready();
            std::optional<chat_chunk> ch = eager ? s.try_next() : std::nullopt;
            if (ch) {
                ++o.at_hand;
                o.only_when_ready = o.only_when_ready && ready;
            } else {
                ch = co_await s.next();
            }
            if (!ch) break;
            ++o.chunks;
            o.text += ch->text;
        }
        o.nothing_at_end = !s.try_next() && s.done();
        o.ok = s.response().has_value();
        if (o.ok) o.final_text = s.response()->content;
        co_return o;
    };
    auto o = llmux::test::run_coro(fx.io, [&]() -> asio::awaitable<std::vector<read_out>> {
        std::vector<read_out> out;
        auto const req = ask("openai/gpt-4o-mini~tokens=60");
        out.push_back(co_await read(c.stream(req), false));
        out.push_back(co_await read(c.stream(req), true));
        model_list const models{"openai/gpt-4o-mini~tokens=60"};
        auto fallback = stream_fallback(c, models, req);
        out.push_back(co_await read(std::move(fallback), true));
        // With a deadline: chunks at hand still need no timer.
        fallback_options timed;
        timed.deadline = 1h;
        out.push_back(co_await read(stream_fallback(c, models, req, timed), true));
        // A stream that may continue on another model hands every chunk over in next().
        fallback_options continuing;
        continuing.continue_streams = true;
        out.push_back(co_await read(stream_fallback(c, models, req, continuing), true));
        co_return out;
    });
    BOOST_TEST_REQUIRE(o.size() == 5u);
    BOOST_TEST(o[0].ok);
    BOOST_TEST(o[0].at_hand == 0u);
    BOOST_TEST(o[0].chunks > 10u);
    BOOST_TEST(o[1].at_hand > 0u);  // a plain stream's chunks of one read
    BOOST_TEST(o[2].at_hand > 0u);  // a fallback stream's: its current stream's
    BOOST_TEST(o[3].at_hand > 0u);
    BOOST_TEST(o[4].at_hand == 0u);
    for (auto const& r : o) {
        BOOST_TEST(r.ok);
        BOOST_TEST(r.text == o[0].text);
        BOOST_TEST(r.final_text == r.text);
        BOOST_TEST(r.chunks == o[0].chunks);
        BOOST_TEST(r.only_when_ready);
        BOOST_TEST(r.nothing_at_end);
    }
    BOOST_TEST(!chat_stream::failed(failure(error::invalid_request, "x")).try_next());
    BOOST_TEST(c.stats().in_flight == 0u);
}

BOOST_AUTO_TEST_CASE(a_thousand_concurrent_calls_on_one_context) {
    emulator_fixture fx;
    fx.cfg.pool.max_connections_per_origin = 64;
    auto c = fx.make_client();
    std::atomic<int> ok{0}, failed{0};
    int const n = 1000;
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(
            fx.io,
            [&, i]() -> asio::awaitable<void> {
                auto r = co_await c.chat(ask("openai/gpt-4o-mini", "call " + std::to_string(i)));
                if (r && r->content.find("call " + std::to_string(i)) != std::string::npos)
                    ++ok;
                else
                    ++failed;
            },
            asio::detached);
    }
    BOOST_TEST_REQUIRE(llmux::test::run_until(
        fx.io, [&] { return ok + failed == n; }, std::chrono::seconds(60)));
    BOOST_TEST(ok == n);
    BOOST_TEST(fx.emu->stats().connections_accepted <= 64u);
    BOOST_TEST(fx.emu->stats().requests == std::uint64_t(n));
}

BOOST_AUTO_TEST_CASE(several_threads_share_one_client) {
    emulator_fixture fx;
    auto c = fx.make_client();
    std::atomic<int> ok{0}, done{0};
    int const n = 400;
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(
            fx.io,
            [&, i]() -> asio::awaitable<void> {
                if (i % 2) {
                    auto r = co_await c.chat(ask("openai/gpt-4o-mini"));
                    if (r) ++ok;
                } else {
                    auto s = c.stream(ask("openai/gpt-4o-mini"));
                    while (co_await s.next()) {
                    }
                    if (s.response()) ++ok;
                }
                ++done;
            },
            asio::detached);
    }
    fx.io.restart();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            while (done < n) fx.io.run_for(10ms);
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(ok == n);
}

BOOST_AUTO_TEST_CASE(keys_never_reach_errors) {
    emulator_fixture fx;
    std::string const secret = "sk-live-very-secret-key-0123456789";
    fx.cfg.find("openai")->credentials.api_key = secret;
    auto c = fx.make_client();
    for (auto d : {"error=401", "error=500", "fault=malformed", "fault=reset"}) {
        auto r = fx.chat(c, ask(std::string("openai/gpt-4o-mini~") + d));
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(r.error().to_string().find(secret) == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(telemetry_callback_sees_every_call) {
    emulator_fixture fx;
    auto c = fx.make_client();
    std::vector<call_record> records;
    c.on_call([&](call_record const& r) { records.push_back(r); });
    (void)fx.chat(c, ask("openai/gpt-4o-mini"));
    (void)fx.chat(c, ask("openai/gpt-4o-mini~error=429"));
    (void)fx.stream(c, ask("openai/gpt-4o-mini"));
    BOOST_TEST_REQUIRE(records.size() == 3u);
    BOOST_TEST(!records[0].error);
    BOOST_TEST(records[0].usage.known());
    BOOST_TEST(records[1].error.has_value());
    BOOST_TEST(records[2].stream);
}

BOOST_AUTO_TEST_SUITE_END()
