// SPDX-License-Identifier: BSL-1.0
// The gateway's Bedrock Converse endpoints in process, in front of the in-process emulator:
// `POST /model/{modelId}/converse`, `/converse-stream` (AWS event-stream frames) and
// `/count-tokens`, reaching OpenAI, Anthropic and Bedrock upstreams; tool calls; an upstream
// error and a bad gateway key in Bedrock's error shape. Bodies are read by the Bedrock client
// side's own decoders (and the event-stream framing by its frame decoder).
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"

#include <llmux/gateway.hpp>

#include "util/crypto.hpp"
#include "codec/event_stream.hpp"
#include "wire/formats.hpp"

#include <boost/json/parse.hpp>

#include <regex>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using llmux::test::emulator_fixture;
using llmux::test::http_reply;
using llmux::test::http_test_client;
using llmux::test::run_coro;
using llmux::test::run_until;

namespace {

using headers_t = std::vector<std::pair<std::string, std::string>>;

/// An emulator (plain HTTP) and a gateway in front of it, on one io_context.
struct bedrock_gw_fixture {
    emulator_fixture emu;
    std::unique_ptr<llmux::gateway> gw;

    explicit bedrock_gw_fixture(gateway_config g = {}) : emu(emulator_config{}, false) {
        g.client.providers = emu.cfg.providers;
        g.client.tls = emu.cfg.tls;
        g.log_sink = [](std::string_view) {};
        gw = std::make_unique<llmux::gateway>(emu.io.get_executor(), g);
        auto r = gw->start();
        BOOST_TEST_REQUIRE(!!r, "gateway failed to start: " << (r ? "" : r.error().to_string()));
    }
    ~bedrock_gw_fixture() {
        gw->stop();
        run_until(emu.io, [&] { return gw->stats().connections_open == 0; }, 2s);
    }

    http_reply post(std::string target, std::string body, headers_t headers = {}) {
        headers.emplace_back("Content-Type", "application/json");
        return run_coro(emu.io, [&]() -> asio::awaitable<http_reply> {
            http_test_client c(emu.io.get_executor());
            if (auto ec = co_await c.connect(gw->url())) {
                http_reply r;
                r.ec = ec;
                co_return r;
            }
            co_return co_await c.request(http::verb::post, target, body, headers, false);
        });
    }
};

/// The path of a Converse operation, the model id percent-encoded as the AWS SDKs do.
std::string path(std::string_view model, std::string_view op = "converse") {
    return "/model/" + detail::uri_encode(model, true) + "/" + std::string(op);
}

std::string const ask =
    R"({"messages":[{"role":"user","content":[{"text":"Say something"}]}],"inferenceConfig":{"maxTokens":64}})";

std::string const weather_tool =
    R"("toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","description":"Current weather",)"
    R"("inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}}],)"
    R"("toolChoice":{"any":{}}})";

detail::wire_format const& bedrock() {
    return detail::bedrock_converse_format();
}

detail::response_head head_of(http_reply const& r) {
    detail::response_head h;
    h.status = r.status;
    for (auto const& f : r.head)
        h.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    return h;
}

bool is_uuid(std::string const& s) {
    static std::regex const re("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
    return std::regex_match(s, re);
}

/// The `:event-type`s of an event stream (every frame's CRCs checked).
std::vector<std::string> event_types(std::string_view body) {
    detail::event_stream_decoder d;
    std::vector<std::string> out;
    auto const r = d.feed(body, [&](detail::event_message const& m) {
        auto const type = m.string_header(":message-type") == "exception"
                              ? "exception:" + std::string(m.string_header(":exception-type"))
                              : std::string(m.string_header(":event-type"));
        out.push_back(type);
    });
    BOOST_TEST(r.has_value());
    BOOST_TEST(d.finish().has_value());
    return out;
}

/// A streamed answer as the Bedrock client side reads it.
result<chat_response> read_stream(http_reply const& r) {
    auto d = bedrock().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    if (auto f = d->feed(r.body, chunks); !f) return f.error();
    if (auto f = d->finish(chunks); !f) return f.error();
    chat_response out;
    for (auto const& c : chunks) {
        out.content += c.text;
        for (auto const& t : c.tool_calls) {
            if (t.index >= out.tool_calls.size()) out.tool_calls.resize(t.index + 1);
            out.tool_calls[t.index].id += t.id;
            out.tool_calls[t.index].name += t.name;
            out.tool_calls[t.index].arguments += t.arguments;
        }
        if (c.finish_reason) out.finish_reason = *c.finish_reason;
        if (c.usage) out.usage = *c.usage;
    }
    return out;
}

gateway_config with_models(std::string const& json_text) {
    gateway_config g;
    auto r = g.load_json(json_text, "test");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().to_string()));
    return g;
}

char const* const upstreams[] = {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.6",
                                 "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"};

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_bedrock_inbound)

BOOST_AUTO_TEST_CASE(converse_whole_and_streamed_from_each_upstream_format) {
    bedrock_gw_fixture fx;
    for (auto const* model : upstreams) {
        BOOST_TEST_CONTEXT(model) {
            auto const r = fx.post(path(model), ask);
            BOOST_TEST_REQUIRE(r.status == 200u, r.body);
            BOOST_TEST(r.header("Content-Type") == "application/json");
            BOOST_TEST(is_uuid(r.header("x-amzn-RequestId")), r.header("x-amzn-RequestId"));
            auto const whole = bedrock().decode(head_of(r), r.body);
            BOOST_TEST_REQUIRE(!!whole, whole.error());
            BOOST_TEST(!whole->content.empty());
            BOOST_TEST((whole->finish_reason == finish_reason::stop));
            BOOST_TEST(whole->native_finish_reason == "end_turn");
            BOOST_TEST(whole->usage.known());
            auto const doc = r.json_body();
            BOOST_TEST(doc.at("metrics").at("latencyMs").is_number());

            auto const s = fx.post(path(model, "converse-stream"), ask);
            BOOST_TEST_REQUIRE(s.status == 200u, s.body);
            BOOST_TEST(s.header("Content-Type") == "application/vnd.amazon.eventstream");
            BOOST_TEST(is_uuid(s.header("x-amzn-RequestId")));
            auto const types = event_types(s.body);
            BOOST_TEST_REQUIRE(types.size() >= 5u);
            BOOST_TEST(types.front() == "messageStart");
            BOOST_TEST(types[types.size() - 3] == "contentBlockStop");
            BOOST_TEST(types[types.size() - 2] == "messageStop");
            BOOST_TEST(types.back() == "metadata");
            auto const streamed = read_stream(s);
            BOOST_TEST_REQUIRE(!!streamed, streamed.error());
            BOOST_TEST(streamed->content == whole->content);
            BOOST_TEST((streamed->finish_reason == finish_reason::stop));
            BOOST_TEST(streamed->usage.known());
        }
    }
}

BOOST_AUTO_TEST_CASE(tool_call_whole_and_streamed) {
    bedrock_gw_fixture fx;
    std::string const body =
        R"({"messages":[{"role":"user","content":[{"text":"Weather in Oslo?"}]}],)" + weather_tool + "}";
    for (auto const* model : upstreams) {
        BOOST_TEST_CONTEXT(model) {
            auto const r = fx.post(path(model), body);
            BOOST_TEST_REQUIRE(r.status == 200u, r.body);
            BOOST_TEST(r.json_body().at("stopReason").as_string() == "tool_use");
            auto const whole = bedrock().decode(head_of(r), r.body);
            BOOST_TEST_REQUIRE(!!whole, whole.error());
            BOOST_TEST_REQUIRE(whole->tool_calls.size() == 1u);
            auto const& call = whole->tool_calls[0];
            BOOST_TEST(call.name == "get_weather");
            BOOST_TEST(!call.id.empty());
            BOOST_TEST(json::parse(call.arguments) == json::parse(R"({"city":"example"})"));

            auto const s = fx.post(path(model, "converse-stream"), body);
            BOOST_TEST_REQUIRE(s.status == 200u, s.body);
            auto const types = event_types(s.body);
            BOOST_TEST((std::find(types.begin(), types.end(), "contentBlockStart") != types.end()));
            auto const streamed = read_stream(s);
            BOOST_TEST_REQUIRE(!!streamed, streamed.error());
            BOOST_TEST((streamed->finish_reason == finish_reason::tool_calls));
            BOOST_TEST_REQUIRE(streamed->tool_calls.size() == 1u);
            BOOST_TEST(streamed->tool_calls[0].name == "get_weather");
            BOOST_TEST(json::parse(streamed->tool_calls[0].arguments) ==
                       json::parse(R"({"city":"example"})"));

            // The second turn: the tool's result goes back, the model answers with text.
            std::string const second =
                R"({"messages":[{"role":"user","content":[{"text":"Weather in Oslo?"}]},)"
                R"({"role":"assistant","content":[{"toolUse":{"toolUseId":")" + call.id +
                R"(","name":"get_weather","input":{"city":"Oslo"}}}]},)"
                R"({"role":"user","content":[{"toolResult":{"toolUseId":")" + call.id +
                R"(","content":[{"json":{"temp_c":4}}],"status":"success"}}]}],)" +
                weather_tool + "}";
            auto const t = fx.post(path(model), second);
            BOOST_TEST_REQUIRE(t.status == 200u, t.body);
            auto const answer = bedrock().decode(head_of(t), t.body);
            BOOST_TEST_REQUIRE(!!answer, answer.error());
            BOOST_TEST(answer->content.find("temp_c") != std::string::npos, answer->content);
        }
    }
}

BOOST_AUTO_TEST_CASE(upstream_errors_in_bedrock_shape) {
    bedrock_gw_fixture fx;
    for (auto const* model : {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.6"}) {
        BOOST_TEST_CONTEXT(model) {
            std::string const throttled = std::string(model) + "~error=429";
            for (auto const* op : {"converse", "converse-stream"}) {
                auto const r = fx.post(path(throttled, op), ask);
                BOOST_TEST(r.status == 429u, r.body);
                BOOST_TEST(r.header("x-amzn-ErrorType").starts_with("ThrottlingException:"));
                BOOST_TEST(is_uuid(r.header("x-amzn-RequestId")));
                auto const f = bedrock().decode_error(head_of(r), r.body);
                BOOST_TEST((f.code == make_error_code(error::rate_limited)), f);
                BOOST_TEST(f.diag.error_type == "ThrottlingException");
                BOOST_TEST(!f.diag.message.empty());
            }
            // A failure after the stream began is an exception frame.
            auto const mid = fx.post(path(std::string(model) + "~fault=error_mid,after=2",
                                          "converse-stream"),
                                     ask);
            BOOST_TEST_REQUIRE(mid.status == 200u, mid.body);
            auto const types = event_types(mid.body);
            BOOST_TEST(types.back().starts_with("exception:"), types.back());
            auto const streamed = read_stream(mid);
            BOOST_TEST_REQUIRE(!streamed);
            BOOST_TEST(!streamed.error().diag.error_type.empty());
        }
    }
    // A model the gateway does not know.
    auto const unknown = fx.post(path("nobody/nothing"), ask);
    BOOST_TEST(unknown.status == 404u);
    BOOST_TEST(unknown.header("x-amzn-ErrorType").starts_with("ResourceNotFoundException:"));
    // A bad request names the field, in Bedrock's words.
    auto const bad = fx.post(path("openai/gpt-4o-mini"), R"({"messages":[]})");
    BOOST_TEST(bad.status == 400u);
    BOOST_TEST(bad.header("x-amzn-ErrorType").starts_with("ValidationException:"));
    BOOST_TEST(bad.body.find("must start with a user message") != std::string::npos, bad.body);
}

BOOST_AUTO_TEST_CASE(fields_without_a_unified_equivalent) {
    bedrock_gw_fixture fx;
    std::string const body =
        R"({"messages":[{"role":"user","content":[{"text":"hi"}]}],)"
        R"("additionalModelRequestFields":{"top_k":40}})";
    // Refused by name for an upstream of another format...
    auto const other = fx.post(path("openai/gpt-4o-mini"), body);
    BOOST_TEST(other.status == 400u, other.body);
    BOOST_TEST(other.header("x-amzn-ErrorType").starts_with("ValidationException:"));
    BOOST_TEST(other.body.find("additionalModelRequestFields") != std::string::npos, other.body);
    // ...passed on to a Bedrock one.
    auto const same = fx.post(path("bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"), body);
    BOOST_TEST(same.status == 200u, same.body);
}

BOOST_AUTO_TEST_CASE(count_tokens_is_an_estimate) {
    bedrock_gw_fixture fx;
    auto const r = fx.post(path("openai/gpt-4o-mini", "count-tokens"),
                           R"({"input":{"converse":)" + ask + "}}");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(r.json_body().at("inputTokens").to_number<int>() > 0);
}

BOOST_AUTO_TEST_CASE(gateway_keys_as_bearer_tokens) {
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    gateway_key k;
    k.name = "team-a";
    k.sha256 = detail::sha256_hex("sk-gw-good");
    cfg.keys.push_back(k);
    bedrock_gw_fixture fx(cfg);

    auto const missing = fx.post(path("mini"), ask);
    BOOST_TEST(missing.status == 401u);
    BOOST_TEST(missing.header("x-amzn-ErrorType").starts_with("UnrecognizedClientException:"));
    BOOST_TEST(missing.body.find("Authorization: Bearer") != std::string::npos, missing.body);

    auto const wrong = fx.post(path("mini"), ask, {{"Authorization", "Bearer sk-gw-bad"}});
    BOOST_TEST(wrong.status == 401u);
    auto const f = bedrock().decode_error(head_of(wrong), wrong.body);
    BOOST_TEST((f.code == make_error_code(error::auth_failed)), f);
    BOOST_TEST(f.diag.error_type == "UnrecognizedClientException");
    BOOST_TEST(wrong.body.find("sk-gw-bad") == std::string::npos);

    // A SigV4 signature is not a gateway key.
    auto const signed_request = fx.post(
        path("mini"), ask,
        {{"Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20240115/us-east-1/bedrock/"
                           "aws4_request, SignedHeaders=host;x-amz-date, Signature=00"}});
    BOOST_TEST(signed_request.status == 401u);

    auto const ok = fx.post(path("mini"), ask, {{"Authorization", "Bearer sk-gw-good"}});
    BOOST_TEST(ok.status == 200u, ok.body);
    auto const s = fx.post(path("mini", "converse-stream"), ask,
                           {{"Authorization", "Bearer sk-gw-good"}});
    BOOST_TEST(s.status == 200u);
    BOOST_TEST(read_stream(s).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
