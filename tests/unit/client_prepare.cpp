// SPDX-License-Identifier: BSL-1.0
// What the client rejects before anything is sent (no sockets are opened here).
#include <llmux/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

using namespace llmux;
namespace asio = boost::asio;

namespace {

result<chat_response> run_chat(client_config cfg, chat_request req) {
    asio::io_context io;
    client c{io.get_executor(), std::move(cfg)};
    std::optional<result<chat_response>> out;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await c.chat(req); },
                   asio::detached);
    io.run();
    BOOST_REQUIRE(out.has_value());
    BOOST_TEST(c.stats().connections_opened == 0u);
    return *out;
}

client_config with_keys() {
    auto c = client_config::presets();
    c.find("openai")->credentials.api_key = "sk-secret-value-123456";
    return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_prepare)

BOOST_AUTO_TEST_CASE(malformed_model_id) {
    auto r = run_chat(with_keys(), {.model = "gpt-4o", .messages = {user("hi")}});
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().code == make_error_code(error::invalid_model_id));
}

BOOST_AUTO_TEST_CASE(unknown_provider_is_named) {
    auto r = run_chat(with_keys(), {.model = "nosuch/model", .messages = {user("hi")}});
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().code == make_error_code(error::unknown_provider));
    BOOST_TEST(r.error().diag.message.find("'nosuch'") != std::string::npos);
    BOOST_TEST(r.error().diag.message.find("openai") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_key_names_the_variable) {
    auto r = run_chat(with_keys(), {.model = "deepseek/deepseek-chat", .messages = {user("hi")}});
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().code == make_error_code(error::missing_api_key));
    BOOST_TEST(r.error().diag.message.find("DEEPSEEK_API_KEY") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(azure_without_endpoint) {
    auto cfg = with_keys();
    cfg.find("azure")->credentials.api_key = "k";
    auto r = run_chat(cfg, {.model = "azure/my-deployment", .messages = {user("hi")}});
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().code == make_error_code(error::invalid_config));
    BOOST_TEST(r.error().diag.message.find("AZURE_OPENAI_ENDPOINT") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(header_injection_is_rejected_without_echoing_the_value) {
    chat_request req{.model = "openai/gpt-4o-mini", .messages = {user("hi")}};
    req.headers = {{"X-Custom", "ok\r\nInjected: sk-leak"}};
    auto r = run_chat(with_keys(), req);
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().code == make_error_code(error::invalid_request));
    BOOST_TEST(r.error().diag.message.find("X-Custom") != std::string::npos);
    BOOST_TEST(r.error().to_string().find("sk-leak") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(check_validates_without_sending) {
    asio::io_context io;
    client c{io.get_executor(), with_keys()};
    BOOST_TEST(!!c.check("openai/gpt-4o"));
    BOOST_TEST(!c.check("groq/llama"));
    BOOST_TEST(!!c.check("ollama/llama3"));  // local servers need no key
    BOOST_TEST(!c.check("bad"));
}

BOOST_AUTO_TEST_CASE(bad_base_url_is_a_config_error) {
    auto cfg = with_keys();
    cfg.find("openai")->base_url = "not a url";
    auto r = run_chat(cfg, {.model = "openai/gpt-4o-mini", .messages = {user("hi")}});
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().code == make_error_code(error::invalid_config));
    BOOST_TEST(r.error().diag.message.find("openai") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
