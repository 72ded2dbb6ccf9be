// SPDX-License-Identifier: BSL-1.0
// A provider that echoes the caller's key back (in its request id header, its error message,
// its error type, its response id): none of it reaches the caller. The upstream is a small
// server of the test's own, so that it can echo exactly what it received.
#include "common/run_coro.hpp"

#include <llmux/client.hpp>

#include "http/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

namespace {

namespace asio = boost::asio;
using namespace llmux;
using namespace std::chrono_literals;

constexpr char const* key = "sk-echoed-secret-0123456789";

/// An OpenAI-compatible upstream that echoes the Authorization header everywhere it can.
struct echo_upstream : llmux::test::io_context_fixture {
    std::unique_ptr<detail::http_server> server;
    std::string url;

    echo_upstream() {
        server = std::make_unique<detail::http_server>(
            ctx.get_executor(), detail::server_config{},
            [](detail::server_exchange& x) -> asio::awaitable<void> {
                std::string const auth(x.request()[boost::beast::http::field::authorization]);
                std::string const token = auth.substr(auth.find(' ') + 1);
                bool const fail = x.request().body().find("\"fail\"") != std::string::npos;
                x.add_header("Content-Type", "application/json");
                x.add_header("x-request-id", "req-" + token);
                if (fail) {
                    x.set_status(500);
                    co_await x.send(R"({"error":{"message":"bad key )" + token +
                                    R"(","type":"type-)" + token + R"(","code":"code-)" + token +
                                    R"("}})");
                    co_return;
                }
                co_await x.send(R"({"id":"chatcmpl-)" + token +
                                R"(","object":"chat.completion","model":"m-)" + token +
                                R"(","choices":[{"index":0,"message":{"role":"assistant",)"
                                R"("content":"hi"},"finish_reason":"stop"}],)"
                                R"("usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})");
            });
        auto ep = server->listen("127.0.0.1", 0);
        BOOST_TEST_REQUIRE(ep.has_value());
        url = "http://127.0.0.1:" + std::to_string(ep->port()) + "/v1";
    }
    ~echo_upstream() { server->stop(); }

    result<chat_response> call(std::string const& prompt) {
        auto cfg = client_config::presets();
        cfg.find("openai")->base_url = url;
        cfg.find("openai")->credentials.api_key = key;
        client c{ctx.get_executor(), cfg};
        chat_request req{.model = "openai/gpt-4o-mini", .messages = {user(prompt)}};
        return run([&] { return c.chat(req); });
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(client_redaction)

BOOST_FIXTURE_TEST_CASE(an_echoed_key_never_reaches_the_caller, echo_upstream) {
    auto const ok = call("hello");
    BOOST_TEST_REQUIRE(!!ok, ok.error());
    BOOST_TEST(ok->request_id == "req-[redacted]");
    BOOST_TEST(ok->id.find(key) == std::string::npos);
    BOOST_TEST(ok->model.find(key) == std::string::npos);

    auto const bad = call("fail");
    BOOST_TEST_REQUIRE(!bad);
    auto const& d = bad.error().diag;
    BOOST_TEST(d.http_status == 500u);
    for (auto const* field : {&d.message, &d.request_id, &d.error_type, &d.error_code})
        BOOST_TEST(field->find(key) == std::string::npos, *field);
    BOOST_TEST(d.request_id == "req-[redacted]");
    BOOST_TEST(bad.error().to_string().find(key) == std::string::npos, bad.error().to_string());
    // What remains is still useful: the provider's words, with the key cut out.
    BOOST_TEST(d.message == "bad key [redacted]");
}

BOOST_AUTO_TEST_SUITE_END()
