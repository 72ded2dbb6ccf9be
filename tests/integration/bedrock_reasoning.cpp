// SPDX-License-Identifier: BSL-1.0
// Claude with thinking on Bedrock Converse end to end (issue 11): the client against the
// emulator, which returns reasoningContent with signatures and refuses, with Bedrock's
// ValidationException relaying Claude's 400, a tool loop's next turn that drops or alters the
// thinking. Whole (Converse) and streamed (ConverseStream), continued with
// `llmux::assistant(response)`. Prompt-cache breakpoints (cachePoint) written then read, and
// documents. And through the gateway's Converse endpoint, a Bedrock-format
// client that appends the assistant message it got (as boto3 users do) keeps Claude's thinking
// (Anthropic and Bedrock upstreams) and Gemini 3's call signatures (riding on the toolUseId).
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"

#include <llmux/gateway.hpp>

#include "util/crypto.hpp"
#include "wire/common.hpp"

#include <boost/json.hpp>

#include <string>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using llmux::test::emulator_fixture;

namespace {

constexpr char const* sonnet = "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0";

bool is(failure const& f, error e) {
    return f.code == make_error_code(e);
}

chat_request weather() {
    chat_request r;
    r.model = sonnet;
    r.messages.push_back(user("Weather in Oslo?"));
    r.tools = {tool{"get_weather", "Current weather",
                    json::object{{"type", "object"},
                                 {"properties", {{"city", {{"type", "string"}}}}},
                                 {"required", json::array{"city"}}}}};
    r.reasoning = reasoning_options{{}, 2048, {}};
    return r;
}

/// The first answer of the loop (a call of the tool), whole or streamed.
result<chat_response> ask(emulator_fixture& fx, client& c, chat_request const& req, bool stream) {
    return stream ? fx.stream(c, req).response : fx.chat(c, req);
}

/// The loop's second request: the first answer turned into the next turn by `next_turn`.
template <class NextTurn>
chat_request continued(chat_request req, chat_response const& first, NextTurn&& next_turn) {
    req.messages.push_back(next_turn(first));
    req.messages.push_back(tool_answer(first.tool_calls.at(0).id, R"({"temp_c":4})", "get_weather"));
    return req;
}

/// An emulator (plain HTTP) and a gateway in front of it, on one io_context.
struct gw_fixture {
    emulator_fixture emu;
    std::unique_ptr<llmux::gateway> gw;

    gw_fixture() : emu(emulator_config{}, false) {
        gateway_config g;
        g.client.providers = emu.cfg.providers;
        g.client.tls = emu.cfg.tls;
        g.log_sink = [](std::string_view) {};
        gw = std::make_unique<llmux::gateway>(emu.io.get_executor(), g);
        auto r = gw->start();
        BOOST_TEST_REQUIRE(!!r, "gateway failed to start: " << (r ? "" : r.error().to_string()));
    }
    ~gw_fixture() {
        gw->stop();
        llmux::test::run_until(emu.io, [&] { return gw->stats().connections_open == 0; }, 2s);
    }

    /// A Converse call for `model`: the status and the body as JSON.
    std::pair<unsigned, json::value> converse(std::string_view model, json::object const& body) {
        std::string const text = json::serialize(body);
        std::string const target = "/model/" + detail::uri_encode(model, true) + "/converse";
        auto const r = llmux::test::run_coro(
            emu.io, [&]() -> asio::awaitable<llmux::test::http_reply> {
                llmux::test::http_test_client c(emu.io.get_executor());
                if (auto ec = co_await c.connect(gw->url())) {
                    llmux::test::http_reply e;
                    e.ec = ec;
                    co_return e;
                }
                std::vector<std::pair<std::string, std::string>> const headers{
                    {"Content-Type", "application/json"}};
                co_return co_await c.request(http::verb::post, target, text, headers, false);
            });
        BOOST_TEST_REQUIRE(!r.ec, r.ec.message());
        boost::system::error_code ec;
        auto v = json::parse(r.body, ec);
        BOOST_TEST_REQUIRE(!ec, r.body);
        return {r.status, std::move(v)};
    }
};

/// A Converse body asking for the weather with one tool, thinking on.
json::object converse_weather() {
    return json::parse(R"({"messages":[{"role":"user","content":[{"text":"Weather in Oslo?"}]}],
        "toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object","properties":{"city":{"type":"string"}}}}}}]},
        "inferenceConfig":{"maxTokens":8000},
        "additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":2048}}})")
        .as_object();
}

/// `body` continued with `assistant` (a Converse message) and the result of its tool call.
json::object with_turn(json::object body, json::value assistant) {
    std::string const id(assistant.at("content").as_array().back().at("toolUse").at("toolUseId").as_string());
    auto& messages = body["messages"].as_array();
    messages.push_back(std::move(assistant));
    messages.push_back(json::parse(R"({"role":"user","content":[{"toolResult":{"toolUseId":")" + id +
                                   R"(","content":[{"json":{"temp_c":4}}]}}]})"));
    return body;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bedrock_reasoning)

BOOST_AUTO_TEST_CASE(claude_thinking_tool_loop_on_converse) {
    emulator_fixture fx;
    auto c = fx.make_client();
    for (bool stream : {false, true}) {
        BOOST_TEST_CONTEXT("stream " << stream) {
            auto const req = weather();
            auto first = ask(fx, c, req, stream);
            BOOST_TEST_REQUIRE(!!first, first.error());
            BOOST_TEST_REQUIRE(first->tool_calls.size() == 1u);
            BOOST_TEST((first->finish_reason == finish_reason::tool_calls));
            // The thinking came back whole: Claude's, signed, its text also readable.
            BOOST_TEST_REQUIRE(first->reasoning_parts.size() == 1u);
            auto const& part = first->reasoning_parts[0];
            BOOST_TEST(part.origin == "anthropic");
            BOOST_TEST(!part.signature.empty());
            BOOST_TEST(!part.text.empty());
            BOOST_TEST(first->reasoning == part.text);

            // Sent back with the turn: the loop goes on.
            auto next = ask(fx, c, continued(req, *first, [](chat_response const& r) {
                                return assistant(r);
                            }),
                            stream);
            BOOST_TEST_REQUIRE(!!next, next.error());
            BOOST_TEST((next->finish_reason == finish_reason::stop));
            BOOST_TEST(!next->content.empty());

            // Dropped: Bedrock's ValidationException with Claude's words.
            auto dropped = ask(fx, c, continued(req, *first, [](chat_response const& r) {
                                   return assistant(r.content, r.tool_calls);
                               }),
                               stream);
            BOOST_TEST_REQUIRE(!dropped);
            BOOST_TEST(is(dropped.error(), error::bad_request), dropped.error());
            BOOST_TEST(dropped.error().diag.http_status == 400u);
            BOOST_TEST(dropped.error().diag.error_type == "ValidationException");
            BOOST_TEST(dropped.error().diag.message.starts_with(
                           "The model returned the following errors: messages.1.content.0.type: "
                           "Expected `thinking` or `redacted_thinking`, but found `tool_use`."),
                       dropped.error().diag.message);

            // Altered: the signature no longer matches.
            auto altered = ask(fx, c, continued(req, *first, [](chat_response const& r) {
                                   auto m = assistant(r);
                                   std::get<reasoning_part>(m.content[0]).text += " (edited)";
                                   return m;
                               }),
                               stream);
            BOOST_TEST_REQUIRE(!altered);
            BOOST_TEST(is(altered.error(), error::bad_request), altered.error());
            BOOST_TEST(altered.error().diag.message.find("Invalid `signature` in `thinking` block") !=
                       std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(cache_points_and_documents_on_converse) {
    emulator_fixture fx;
    auto c = fx.make_client();
    for (bool stream : {false, true}) {
        BOOST_TEST_CONTEXT("stream " << stream) {
            // A breakpoint after a long system prompt: written on the first call, read on the
            // next one with the same prefix (cacheWriteInputTokens, cacheReadInputTokens).
            chat_request req;
            req.model = sonnet;
            req.system = std::string(stream ? "Streamed manual. " : "Manual. ", 1) +
                         std::string(4000, stream ? 's' : 'm');
            req.system_cache = cache_control{"1h"};
            auto doc = document_base64("application/pdf", "JVBERi0xLjQK", "q3-report.pdf");
            req.messages.push_back(user({doc, text_part{"Summarise the report.", {}}}));
            auto const first = ask(fx, c, req, stream);
            BOOST_TEST_REQUIRE(!!first, first.error());
            BOOST_TEST(first->usage.cache_write_tokens.value_or(0) > 0u);
            BOOST_TEST(first->usage.cached_input_tokens.value_or(0) == 0u);
            auto const second = ask(fx, c, req, stream);
            BOOST_TEST_REQUIRE(!!second, second.error());
            BOOST_TEST(second->usage.cached_input_tokens.value_or(0) ==
                       first->usage.cache_write_tokens.value_or(0));
            // Every prompt token is counted, cached or not.
            BOOST_TEST(*second->usage.input_tokens == *first->usage.input_tokens);
            BOOST_TEST(second->content == first->content);
        }
    }
    // A document Bedrock cannot take fails before sending, naming the part.
    chat_request bad;
    bad.model = sonnet;
    bad.messages.push_back(user({document_part{"https://example.com/a.pdf", "a", {}}}));
    auto const r = fx.chat(c, bad);
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::unsupported), r.error());
    BOOST_TEST(r.error().diag.message.starts_with("messages[0].content[0]"), r.error());
}

BOOST_AUTO_TEST_CASE(tool_loops_through_the_gateway_converse_endpoint) {
    gw_fixture fx;
    for (std::string_view model : {"anthropic/claude-sonnet-4-5",
                                   "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                   "google/gemini-3-pro-preview"}) {
        BOOST_TEST_CONTEXT(model) {
            bool const gemini = model.starts_with("google/");
            auto const body = converse_weather();
            auto const [status, first] = fx.converse(model, body);
            BOOST_TEST_REQUIRE(status == 200u, json::serialize(first));
            BOOST_TEST(first.at("stopReason") == "tool_use");
            auto const& message = first.at("output").at("message");
            auto const& content = message.at("content").as_array();
            if (!gemini) {
                // Claude's thinking, first, with its own signature (not sealed).
                auto const& rt = content.at(0).at("reasoningContent").at("reasoningText");
                BOOST_TEST(!rt.at("text").as_string().empty());
                BOOST_TEST(!rt.at("signature").as_string().starts_with("llmux1."));
            } else {
                // Gemini's call signature rides on the id.
                auto const id = content.back().at("toolUse").at("toolUseId").as_string();
                std::string sig;
                BOOST_TEST(detail::open_call_id(std::string_view(id.data(), id.size()), nullptr,
                                                nullptr, &sig));
                BOOST_TEST(!sig.empty());
            }

            // The assistant message appended as it came: the loop goes on.
            auto const [next_status, next] = fx.converse(model, with_turn(body, message));
            BOOST_TEST(next_status == 200u, json::serialize(next));
            BOOST_TEST(next.at("stopReason") == "end_turn");

            // Without what must come back: the provider's 400, in Bedrock's shape.
            json::value stripped = message;
            auto& blocks = stripped.at("content").as_array();
            if (!gemini) {
                blocks.erase(blocks.begin());
            } else {
                auto& use = blocks.back().at("toolUse").as_object();
                std::string id(use.at("toolUseId").as_string());
                std::string plain;
                BOOST_TEST_REQUIRE(detail::open_call_id(id, &plain, nullptr, nullptr));
                use["toolUseId"] = plain;
            }
            auto const [bad_status, bad] = fx.converse(model, with_turn(body, stripped));
            BOOST_TEST(bad_status == 400u, json::serialize(bad));
            std::string const said(bad.at("message").as_string());
            BOOST_TEST(said.find(gemini ? "thought_signature" : "Expected `thinking`") !=
                           std::string::npos,
                       said);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
