// SPDX-License-Identifier: BSL-1.0
#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <sstream>

using namespace llmux;

BOOST_AUTO_TEST_SUITE(types)

BOOST_AUTO_TEST_CASE(model_id_parses_provider_and_model) {
    auto a = model_id::parse("openai/gpt-4o-mini");
    BOOST_TEST_REQUIRE(!!a);
    BOOST_TEST(a->provider == "openai");
    BOOST_TEST(a->model == "gpt-4o-mini");
    auto b = model_id::parse("openrouter/anthropic/claude-sonnet-4.6");
    BOOST_TEST_REQUIRE(!!b);
    BOOST_TEST(b->provider == "openrouter");
    BOOST_TEST(b->model == "anthropic/claude-sonnet-4.6");
    BOOST_TEST(b->str() == "openrouter/anthropic/claude-sonnet-4.6");
}

BOOST_AUTO_TEST_CASE(model_id_rejects_malformed_ids) {
    for (auto bad : {"", "gpt-4o", "/gpt-4o", "openai/", "open ai/x", "a/b\nc"}) {
        auto r = model_id::parse(bad);
        BOOST_TEST_CONTEXT(bad) {
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(r.error().code == make_error_code(error::invalid_model_id));
        }
    }
    auto r = model_id::parse("gpt-4o");
    BOOST_TEST(r.error().diag.message.find("'gpt-4o'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(token_count_unknown_is_not_zero) {
    token_count unknown;
    token_count zero = 0;
    BOOST_TEST(!unknown.has_value());
    BOOST_TEST(zero.has_value());
    BOOST_TEST(!(unknown == zero));
    std::ostringstream a, b;
    a << unknown;
    b << token_count(42);
    BOOST_TEST(a.str() == "unknown");
    BOOST_TEST(b.str() == "42");
    usage u;
    BOOST_TEST(!u.known());
}

BOOST_AUTO_TEST_CASE(message_builders) {
    auto m = user("hi");
    BOOST_TEST((m.role == role::user));
    BOOST_TEST(m.text() == "hi");
    auto a = assistant("", {tool_call{"call_1", "f", "{}"}});
    BOOST_TEST(a.content.size() == 1u);
    BOOST_TEST(std::holds_alternative<tool_call>(a.content[0]));
    auto t = tool_answer("call_1", "42", "f");
    BOOST_TEST((t.role == role::tool));
    auto img = image_base64("image/png", "AAAA");
    BOOST_TEST(img.url == "data:image/png;base64,AAAA");
}

BOOST_AUTO_TEST_CASE(failure_prints_code_status_provider_and_message) {
    failure f(error::rate_limited, "Rate limit reached");
    f.diag.http_status = 429;
    f.diag.provider = "openai";
    f.diag.model = "gpt-4o-mini";
    f.diag.error_type = "requests";
    f.diag.request_id = "req_1";
    f.diag.retry_after = std::chrono::milliseconds(2000);
    auto s = f.to_string();
    BOOST_TEST(s.find("rate_limited") == 0u);
    BOOST_TEST(s.find("HTTP 429") != std::string::npos);
    BOOST_TEST(s.find("openai/gpt-4o-mini") != std::string::npos);
    BOOST_TEST(s.find("Rate limit reached") != std::string::npos);
    BOOST_TEST(s.find("req_1") != std::string::npos);
    BOOST_TEST(s.find("2000 ms") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(code_names_are_stable) {
    BOOST_TEST(code_name(make_error_code(error::timeout)) == "timeout");
    BOOST_TEST(code_name(make_error_code(error::truncated)) == "truncated");
    BOOST_TEST(code_name(boost::asio::error::connection_refused) == "connection_refused");
    BOOST_TEST(code_name(boost::asio::error::operation_aborted) == "cancelled");
    BOOST_TEST(code_name({}) == "ok");
}

BOOST_AUTO_TEST_CASE(result_value_throws_with_diagnostics) {
    result<int> r = failure(error::auth_failed, "bad key");
    try {
        (void)r.value();
        BOOST_FAIL("value() should throw");
    } catch (error_with_diagnostics const& e) {
        BOOST_TEST(e.code() == make_error_code(error::auth_failed));
        BOOST_TEST(e.get_diagnostics().message == "bad key");
        BOOST_TEST(std::string(e.what()).find("bad key") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
