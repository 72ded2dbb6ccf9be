// SPDX-License-Identifier: BSL-1.0
// The real client against the emulator's Bedrock Runtime over loopback TLS: Converse and
// ConverseStream (real event-stream frames) signed with SigV4 (long-term and session
// credentials) or sent with a Bedrock API key, signature failures, tools, system prompts,
// images, JSON answers, scripted errors and stream faults.
#include "common/client_fixture.hpp"

#include <boost/json/parse.hpp>

#include <string>

using namespace llmux;
using llmux::test::emulator_fixture;

namespace {

constexpr char const* claude = "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0";

chat_request ask(std::string model, std::string prompt = "Introduce Python in one sentence") {
    chat_request r;
    r.model = std::move(model);
    r.messages = {user(std::move(prompt))};
    return r;
}

bool is(failure const& f, error e) { return f.code == make_error_code(e); }

boost::json::object weather_schema() {
    return boost::json::parse(R"({"type":"object","properties":{"city":{"type":"string"}},)"
                              R"("required":["city"]})")
        .as_object();
}

// The emulator's request ids have AWS's UUID shape.
bool looks_like_request_id(std::string const& id) {
    return id.size() == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-';
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bedrock_client)

BOOST_AUTO_TEST_CASE(chat_signed_with_sigv4) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = fx.chat(c, ask(claude));
    BOOST_TEST_REQUIRE(!!r, r.error());
    // The model id came through the path percent-decoded (its ':' included).
    BOOST_TEST(r->text() ==
               "Emulated answer from anthropic.claude-3-5-sonnet-20240620-v1:0 to: Introduce "
               "Python in one sentence");
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST(r->native_finish_reason == "end_turn");
    BOOST_TEST(r->usage.known());
    BOOST_TEST(*r->usage.total_tokens == *r->usage.input_tokens + *r->usage.output_tokens);
    BOOST_TEST(looks_like_request_id(r->request_id), r->request_id);
    BOOST_TEST(r->provider == "bedrock");
    BOOST_TEST(r->requested_model == claude);
}

BOOST_AUTO_TEST_CASE(stream_signed_with_sigv4) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto s = fx.stream(c, ask(claude));
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.chunks > 3u);
    BOOST_TEST(s.text == s.response->content);
    BOOST_TEST(s.text.find("anthropic.claude-3-5-sonnet-20240620-v1:0") != std::string::npos);
    BOOST_TEST((s.response->finish_reason == finish_reason::stop));
    BOOST_TEST(s.response->native_finish_reason == "end_turn");
    BOOST_TEST(s.response->usage.known());  // from the metadata event
    BOOST_TEST(looks_like_request_id(s.response->request_id), s.response->request_id);

    // The same answer whole and streamed.
    auto r = fx.chat(c, ask(claude));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->content == s.text);
    BOOST_TEST(*r->usage.output_tokens == *s.response->usage.output_tokens);
}

BOOST_AUTO_TEST_CASE(session_credentials_sign_the_token) {
    emulator_config ec;
    ec.aws_credentials.emplace("ASIAEMULATORSESSION", "session-secret");
    emulator_fixture fx(ec);
    auto& creds = fx.cfg.find("bedrock")->credentials;
    creds.aws_access_key_id = "ASIAEMULATORSESSION";
    creds.aws_secret_access_key = "session-secret";
    creds.aws_session_token = "FwoGZXIvYXdzEemulatorsessiontoken//+==";
    auto c = fx.make_client();
    auto r = fx.chat(c, ask(claude));
    BOOST_TEST_REQUIRE(!!r, r.error());
    auto s = fx.stream(c, ask(claude));
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.text == r->content);
}

BOOST_AUTO_TEST_CASE(bedrock_api_key_as_bearer) {
    emulator_fixture fx;
    fx.cfg.find("bedrock")->credentials.api_key = "llmux-emulator";  // an accepted token
    auto c = fx.make_client();
    auto r = fx.chat(c, ask(claude));
    BOOST_TEST_REQUIRE(!!r, r.error());
    auto s = fx.stream(c, ask(claude));
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());

    fx.cfg.find("bedrock")->credentials.api_key = "ABSKnot-a-valid-key";
    auto bad = fx.make_client();
    auto f = fx.chat(bad, ask(claude));
    BOOST_TEST_REQUIRE(!f);
    BOOST_TEST(is(f.error(), error::auth_failed), f.error());
    BOOST_TEST(f.error().diag.http_status == 403u);
    BOOST_TEST(f.error().diag.error_type == "UnrecognizedClientException");
    BOOST_TEST(f.error().to_string().find("ABSKnot-a-valid-key") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(wrong_secret_is_an_invalid_signature) {
    std::string const secret = "not-the-emulator-secret-3f9c";
    emulator_fixture fx;
    fx.cfg.find("bedrock")->credentials.aws_secret_access_key = secret;
    auto c = fx.make_client();
    auto r = fx.chat(c, ask(claude));
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::auth_failed), r.error());
    BOOST_TEST(r.error().diag.http_status == 403u);
    BOOST_TEST(r.error().diag.error_type == "InvalidSignatureException");
    BOOST_TEST(r.error().diag.message.find("signature") != std::string::npos);
    BOOST_TEST(looks_like_request_id(r.error().diag.request_id));
    BOOST_TEST(r.error().to_string().find(secret) == std::string::npos);

    auto s = fx.stream(c, ask(claude));
    BOOST_TEST_REQUIRE(!s.response);
    BOOST_TEST(is(s.response.error(), error::auth_failed));
    BOOST_TEST(s.response.error().diag.error_type == "InvalidSignatureException");
    BOOST_TEST(s.chunks == 0u);
    BOOST_TEST(s.response.error().to_string().find(secret) == std::string::npos);

    // An access key id the emulator does not know.
    fx.cfg.find("bedrock")->credentials.aws_access_key_id = "AKIDUNKNOWN";
    auto unknown = fx.make_client();
    auto u = fx.chat(unknown, ask(claude));
    BOOST_TEST_REQUIRE(!u);
    BOOST_TEST(is(u.error(), error::auth_failed));
    BOOST_TEST(u.error().diag.error_type == "UnrecognizedClientException");
}

BOOST_AUTO_TEST_CASE(tool_call_round_trip) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask(claude, "Weather in Oslo?");
    req.tools = {tool{"get_weather", "Current weather", weather_schema()}};

    // Streamed: the toolUse start and input fragments assemble into one call.
    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST((s.response->finish_reason == finish_reason::tool_calls));
    BOOST_TEST(s.response->native_finish_reason == "tool_use");
    BOOST_TEST_REQUIRE(s.response->tool_calls.size() == 1u);
    auto const tc = s.response->tool_calls[0];
    BOOST_TEST(tc.name == "get_weather");
    BOOST_TEST(tc.id.rfind("tooluse_", 0) == 0u, tc.id);
    boost::system::error_code ec;
    auto args = boost::json::parse(tc.arguments, ec);
    BOOST_TEST_REQUIRE(!ec, tc.arguments);
    BOOST_TEST(args.as_object().at("city") == "example");

    // Whole: the same call.
    auto w = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!w, w.error());
    BOOST_TEST_REQUIRE(w->tool_calls.size() == 1u);
    BOOST_TEST(boost::json::parse(w->tool_calls[0].arguments) == args);

    // The result goes back (toolUse and toolResult blocks, which need the toolConfig).
    req.messages.push_back(assistant("", s.response->tool_calls));
    req.messages.push_back(tool_answer(tc.id, R"({"temp_c":4})", "get_weather"));
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST(r->tool_calls.empty());
    BOOST_TEST(r->content.find("temp_c") != std::string::npos, r->content);

    // tool_choice none: the tools are not offered, so the model answers in text.
    chat_request none = ask(claude, "Weather in Oslo?");
    none.tools = req.tools;
    none.tool_choice = tool_choice::none();
    auto n = fx.chat(c, none);
    BOOST_TEST_REQUIRE(!!n, n.error());
    BOOST_TEST(n->tool_calls.empty());
    BOOST_TEST((n->finish_reason == finish_reason::stop));
}

BOOST_AUTO_TEST_CASE(system_prompt_and_image) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request plain = ask(claude, "What is this?");
    auto p = fx.chat(c, plain);
    BOOST_TEST_REQUIRE(!!p, p.error());

    chat_request req = plain;
    req.system = "You are a careful assistant who describes pictures in detail.";
    req.messages = {user({text_part{"What is this?"}, image_base64("image/png", "iVBORw0KGgo=")}),
                    assistant("A tiny PNG."), user("Are you sure?")};
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->content.find("Are you sure?") != std::string::npos);
    // The system prompt and the history were sent: more prompt tokens.
    BOOST_TEST(*r->usage.input_tokens > *p->usage.input_tokens);

    // The emulator checks images as Bedrock does: bytes must be base64.
    chat_request bad = plain;
    bad.messages = {user({text_part{"x"}, image_base64("image/png", "not base64!")})};
    auto b = fx.chat(c, bad);
    BOOST_TEST_REQUIRE(!b);
    BOOST_TEST(is(b.error(), error::bad_request), b.error());
    BOOST_TEST(b.error().diag.error_type == "ValidationException");
}

BOOST_AUTO_TEST_CASE(json_schema_answer_through_a_forced_tool) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask(claude, "Weather as JSON");
    req.response_format = response_format::json_schema("weather", weather_schema());
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST(r->tool_calls.empty());
    BOOST_TEST(boost::json::parse(r->content) == boost::json::parse(R"({"city":"example"})"));

    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST((s.response->finish_reason == finish_reason::stop));
    BOOST_TEST(s.response->tool_calls.empty());
    BOOST_TEST(boost::json::parse(s.text) == boost::json::parse(R"({"city":"example"})"));
}

BOOST_AUTO_TEST_CASE(max_tokens_is_length) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask(std::string(claude) + "~tokens=30");
    req.max_tokens = 4;
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->content == "Lorem ipsum dolor sit");
    BOOST_TEST((r->finish_reason == finish_reason::length));
    BOOST_TEST(r->native_finish_reason == "max_tokens");
    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.text == "Lorem ipsum dolor sit");
    BOOST_TEST((s.response->finish_reason == finish_reason::length));
}

BOOST_AUTO_TEST_CASE(scripted_errors_map_to_codes) {
    emulator_fixture fx;
    auto c = fx.make_client();
    struct expect {
        char const* directives;
        error code;
        unsigned status;
        char const* type;
    };
    for (auto const& e : {expect{"error=429,retry_after=2s", error::rate_limited, 429,
                                 "ThrottlingException"},
                          expect{"error=500", error::server_error, 500, "InternalServerException"},
                          expect{"error=503", error::overloaded, 503,
                                 "ServiceUnavailableException"},
                          expect{"error=400", error::bad_request, 400, "ValidationException"},
                          expect{"error=403", error::permission_denied, 403,
                                 "AccessDeniedException"},
                          expect{"error=404", error::not_found, 404, "ResourceNotFoundException"},
                          expect{"error=408", error::timeout, 408, "ModelTimeoutException"},
                          expect{"error=424", error::server_error, 424, "ModelErrorException"}}) {
        BOOST_TEST_CONTEXT(e.directives) {
            auto r = fx.chat(c, ask(std::string(claude) + "~" + e.directives));
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(is(r.error(), e.code), r.error());
            BOOST_TEST(r.error().diag.http_status == e.status);
            BOOST_TEST(r.error().diag.error_type == e.type);
            BOOST_TEST(!r.error().diag.message.empty());
            BOOST_TEST(looks_like_request_id(r.error().diag.request_id));
            auto s = fx.stream(c, ask(std::string(claude) + "~" + e.directives));
            BOOST_TEST_REQUIRE(!s.response);
            BOOST_TEST(is(s.response.error(), e.code));
            BOOST_TEST(s.response.error().diag.error_type == e.type);
            BOOST_TEST(s.chunks == 0u);
        }
    }
    auto r = fx.chat(c, ask(std::string(claude) + "~error=429,retry_after=2s"));
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST_REQUIRE(r.error().diag.retry_after.has_value());
    BOOST_TEST(r.error().diag.retry_after->count() == 2000);
    auto plain = fx.chat(c, ask(std::string(claude) + "~error=429"));
    BOOST_TEST_REQUIRE(!plain);
    BOOST_TEST(!plain.error().diag.retry_after.has_value());
    // Errors with a body keep the connection.
    BOOST_TEST(fx.emu->stats().connections_accepted == 1u);
}

BOOST_AUTO_TEST_CASE(stream_faults) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto st = [&](char const* d) { return fx.stream(c, ask(std::string(claude) + "~" + d)); };
    auto ch = [&](char const* d) { return fx.chat(c, ask(std::string(claude) + "~" + d)); };

    // The stream ends cleanly but before messageStop and metadata.
    auto trunc = st("fault=truncate,after=3");
    BOOST_TEST_REQUIRE(!trunc.response);
    BOOST_TEST(is(trunc.response.error(), error::truncated), trunc.response.error());
    BOOST_TEST(trunc.response.error().diag.message.find("messageStop") != std::string::npos);
    BOOST_TEST(trunc.chunks == 3u);  // what came is delivered, then the failure

    // A modelStreamErrorException frame.
    auto mid = st("fault=error_mid,after=2");
    BOOST_TEST_REQUIRE(!mid.response);
    BOOST_TEST(is(mid.response.error(), error::server_error), mid.response.error());
    BOOST_TEST(mid.response.error().diag.error_type == "ModelStreamErrorException");
    BOOST_TEST(mid.response.error().diag.error_code == "500");
    BOOST_TEST(mid.chunks == 2u);

    // A well-framed event whose JSON payload is broken.
    auto bad = st("fault=malformed,after=2");
    BOOST_TEST_REQUIRE(!bad.response);
    BOOST_TEST(is(bad.response.error(), error::protocol_error), bad.response.error());
    BOOST_TEST(bad.chunks == 2u);

    auto reset_mid = st("fault=reset_mid,after=3");
    BOOST_TEST_REQUIRE(!reset_mid.response);
    BOOST_TEST(is(reset_mid.response.error(), error::truncated), reset_mid.response.error());

    // Non-streaming bodies: cut JSON and invalid JSON.
    auto trunc_body = ch("fault=truncate");
    BOOST_TEST_REQUIRE(!trunc_body);
    BOOST_TEST(is(trunc_body.error(), error::protocol_error), trunc_body.error());
    auto bad_body = ch("fault=malformed");
    BOOST_TEST_REQUIRE(!bad_body);
    BOOST_TEST(is(bad_body.error(), error::protocol_error), bad_body.error());

    // The connection is still good for the next call.
    auto again = ch("tokens=3");
    BOOST_TEST_REQUIRE(!!again, again.error());
    BOOST_TEST(again->content == "Lorem ipsum dolor");
}

BOOST_AUTO_TEST_SUITE_END()
