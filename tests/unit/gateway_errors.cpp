// SPDX-License-Identifier: BSL-1.0
// How upstream failures become gateway answers (src/wire/errors.cpp), and the error type each
// answer gets in OpenAI's shape.
#include "wire/errors.hpp"
#include "wire/formats.hpp"

#include <boost/asio/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

using namespace llmux;
using namespace llmux::detail;
using namespace std::chrono_literals;

namespace {

/// The `error.type` OpenAI's shape gives `e` (the format picks it from the status).
std::string openai_type(api_error const& e) {
    auto const a = openai_chat_server().encode_error(e);
    return std::string(boost::json::parse(a.body).at("error").at("type").as_string());
}

failure upstream(error e, unsigned status, std::string message) {
    failure f(e, std::move(message));
    f.diag.http_status = status;
    f.diag.provider = "openai";
    f.diag.model = "gpt-4o-mini";
    return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_errors)

BOOST_AUTO_TEST_CASE(rate_limit_keeps_retry_after) {
    auto f = upstream(error::rate_limited, 429, "slow down");
    f.diag.retry_after = 1500ms;
    auto const e = error_from_failure(f);
    BOOST_TEST(e.status == 429u);
    BOOST_TEST(openai_type(e) == "rate_limit_error");
    BOOST_TEST_REQUIRE(e.retry_after.has_value());
    BOOST_TEST(e.retry_after->count() == 1500);
    BOOST_TEST(e.message.find("slow down") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(upstream_auth_failure_is_502_without_the_provider_message) {
    auto const f = upstream(error::auth_failed, 401, "Incorrect API key provided: sk-abc***xyz");
    auto const e = error_from_failure(f);
    BOOST_TEST(e.status == 502u);
    BOOST_TEST(e.code == "upstream_auth_failed");
    BOOST_TEST(e.message.find("sk-abc") == std::string::npos, e.message);
    BOOST_TEST(e.message.find("Incorrect API key") == std::string::npos, e.message);
    BOOST_TEST(e.message.find("openai") != std::string::npos, e.message);
}

BOOST_AUTO_TEST_CASE(internal_details_stay_in_the_log) {
    // A transport failure names the upstream's address; a non-JSON error body is quoted raw.
    failure conn(boost::asio::error::make_error_code(boost::asio::error::connection_refused),
                 "connecting to http://10.1.2.3:8443 failed: Connection refused");
    conn.diag.source = message_source::internal;
    conn.diag.provider = "openai";
    conn.diag.model = "gpt-4o";
    auto raw = upstream(error::server_error, 502, "<html>nginx at 10.1.2.3 upstream down</html>");
    raw.diag.source = message_source::internal;
    for (auto const& f : {conn, raw}) {
        auto const e = error_from_failure(f);
        BOOST_TEST(e.message.find("10.1.2.3") == std::string::npos, e.message);
        BOOST_TEST(e.message.find("openai") != std::string::npos, e.message);  // who failed
        // The debugging option shows them.
        BOOST_TEST(error_from_failure(f, true).message.find("10.1.2.3") != std::string::npos);
    }
    // In a fallback's list of attempts too.
    failure all(error::all_attempts_failed, "every attempt failed");
    all.diag.attempts.push_back({"openai/gpt-4o", conn, 5ms});
    all.diag.attempts.push_back({"openai/gpt-4o-mini", raw, 5ms});
    BOOST_TEST(error_from_failure(all).message.find("10.1.2.3") == std::string::npos);
    // The provider's own words are passed on.
    auto said = upstream(error::bad_request, 400, "messages must not be empty");
    said.diag.source = message_source::provider;
    BOOST_TEST(error_from_failure(said).message.find("messages must not be empty") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(statuses_by_error) {
    struct row {
        error e;
        unsigned status;
    };
    row const rows[] = {
        {error::timeout, 504},        {error::overloaded, 503},
        {error::server_error, 502},   {error::bad_request, 400},
        {error::not_found, 404},      {error::context_length_exceeded, 400},
        {error::truncated, 502},      {error::budget_exceeded, 402},
        {error::content_filtered, 400},
    };
    for (auto const& r : rows) {
        BOOST_TEST_CONTEXT(code_name(make_error_code(r.e))) {
            auto const e = error_from_failure(upstream(r.e, 0, "m"));
            BOOST_TEST(e.status == r.status);
            BOOST_TEST(!openai_type(e).empty());
            BOOST_TEST(!e.message.empty());
        }
    }
    auto const refused =
        error_from_failure(failure(boost::asio::error::make_error_code(
            boost::asio::error::connection_refused)));
    BOOST_TEST(refused.status == 502u);
}

BOOST_AUTO_TEST_CASE(failed_fallback_answers_like_its_last_attempt_and_lists_all) {
    failure f(error::all_attempts_failed, "all attempts failed");
    attempt a1;
    a1.model = "openai/gpt-4o";
    a1.error = upstream(error::server_error, 500, "boom");
    attempt a2;
    a2.model = "anthropic/claude";
    a2.error = upstream(error::auth_failed, 401, "invalid x-api-key sk-ant-secret");
    attempt a3;
    a3.model = "google/gemini";
    auto rl = upstream(error::rate_limited, 429, "quota");
    rl.diag.retry_after = 2s;
    a3.error = rl;
    f.diag.attempts = {a1, a2, a3};
    auto const e = error_from_failure(f);
    BOOST_TEST(e.status == 429u);
    BOOST_TEST_REQUIRE(e.retry_after.has_value());
    BOOST_TEST(e.message.find("openai/gpt-4o") != std::string::npos, e.message);
    BOOST_TEST(e.message.find("anthropic/claude") != std::string::npos, e.message);
    BOOST_TEST(e.message.find("google/gemini") != std::string::npos, e.message);
    BOOST_TEST(e.message.find("sk-ant-secret") == std::string::npos, e.message);
}

BOOST_AUTO_TEST_CASE(openai_error_body_shape) {
    api_error e;
    e.status = 429;
    e.type = "rate_limit_error";
    e.code = "rate_limit_exceeded";
    e.message = "too \"fast\"";
    auto const a = openai_chat_server().encode_error(e);
    BOOST_TEST(a.status == 429u);
    BOOST_TEST(a.content_type == "application/json");
    BOOST_TEST(a.body == R"({"error":{"message":"too \"fast\"","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}})");
}

BOOST_AUTO_TEST_SUITE_END()
