// SPDX-License-Identifier: BSL-1.0
// Reasoning round trips end to end (issue 11): the client against the emulator, which returns
// thinking blocks and thought signatures and refuses, with the providers' own 400s, a next
// turn that drops or alters them. Tool loops with `client.chat` and streams, continued with
// `llmux::assistant(response)`, for Claude with thinking (Anthropic's API, Vertex AI), Gemini 3
// and DeepSeek; and through the gateway, an OpenAI-format client that appends the assistant
// message it got (sealed call ids) reaching Gemini 3 and Claude.
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"

#include <llmux/gateway.hpp>

#include <boost/json.hpp>

#include <string>
#include <vector>

using namespace llmux;
namespace asio = boost::asio;
namespace json = boost::json;
namespace http = boost::beast::http;
using llmux::test::emulator_fixture;

namespace {

bool is(failure const& f, error e) {
    return f.code == make_error_code(e);
}

chat_request weather(std::string model) {
    chat_request r;
    r.model = std::move(model);
    r.messages.push_back(user("Weather in Oslo?"));
    r.tools = {tool{"get_weather", "Current weather",
                    json::object{{"type", "object"},
                                 {"properties", {{"city", {{"type", "string"}}}}},
                                 {"required", json::array{"city"}}}}};
    return r;
}

/// Runs one tool loop: the call, then its answer continued by `next_turn(response)`.
/// Returns the second answer.
template <class NextTurn>
result<chat_response> loop(emulator_fixture& fx, client& c, chat_request req, bool stream,
                           NextTurn&& next_turn, chat_response* first = nullptr) {
    result<chat_response> r = stream ? fx.stream(c, req).response : fx.chat(c, req);
    if (!r) return r;
    BOOST_TEST_REQUIRE(r->tool_calls.size() == 1u);
    if (first) *first = *r;
    req.messages.push_back(next_turn(*r));
    req.messages.push_back(tool_answer(r->tool_calls[0].id, R"({"temp_c":4})", "get_weather"));
    return stream ? fx.stream(c, req).response : fx.chat(c, req);
}

using headers_t = std::vector<std::pair<std::string, std::string>>;

/// An emulator (plain HTTP) and a gateway in front of it, on one io_context.
struct gw_fixture {
    emulator_fixture emu;
    std::unique_ptr<llmux::gateway> gw;

    gw_fixture() : emu({}, false) {
        gateway_config g;
        g.client.providers = emu.cfg.providers;
        g.client.tls = emu.cfg.tls;
        gw = std::make_unique<llmux::gateway>(emu.io.get_executor(), g);
        auto r = gw->start();
        BOOST_TEST_REQUIRE(!!r, "gateway failed to start: " << (r ? "" : r.error().to_string()));
    }
    ~gw_fixture() {
        gw->stop();
        llmux::test::run_until(emu.io, [&] { return gw->stats().connections_open == 0; },
                               std::chrono::seconds(2));
    }

    llmux::test::http_reply post(std::string target, json::value body) {
        std::string const text = json::serialize(body);
        headers_t const headers{{"authorization", "Bearer k"}};  // named: GCC 12 and co_await
        return llmux::test::run_coro(emu.io, [&]() -> asio::awaitable<llmux::test::http_reply> {
            llmux::test::http_test_client c(emu.io.get_executor());
            if (auto ec = co_await c.connect(gw->url())) {
                llmux::test::http_reply r;
                r.ec = ec;
                co_return r;
            }
            co_return co_await c.request(http::verb::post, target, text, headers, false);
        });
    }
};

/// An OpenAI chat body asking for the weather with one tool.
json::object openai_weather(std::string model) {
    return {{"model", std::move(model)},
            {"messages", json::array{json::object{{"role", "user"}, {"content", "Weather in Oslo?"}}}},
            {"tools", json::array{json::object{
                          {"type", "function"},
                          {"function", json::object{{"name", "get_weather"},
                                                    {"parameters", json::object{{"type", "object"}}}}}}}}};
}

message keep_all(chat_response const& r) {
    return assistant(r);
}

message drop_reasoning(chat_response const& r) {
    auto calls = r.tool_calls;
    for (auto& c : calls) c.signature.clear();
    return assistant(r.content, calls);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reasoning_round_trips)

BOOST_AUTO_TEST_CASE(claude_thinking_tool_loop) {
    emulator_fixture fx;
    auto c = fx.make_client();
    for (bool stream : {false, true}) {
        BOOST_TEST_CONTEXT("stream " << stream) {
            for (std::string model : {"anthropic/claude-sonnet-4-5", "vertex/claude-opus-4-6"}) {
                BOOST_TEST_CONTEXT(model) {
                    auto req = weather(model);
                    req.reasoning = reasoning_options{{}, 2048, {}};
                    chat_response first;
                    auto r = loop(fx, c, req, stream, keep_all, &first);
                    BOOST_TEST_REQUIRE(!!r, r.error());
                    BOOST_TEST((r->finish_reason == finish_reason::stop));
                    BOOST_TEST_REQUIRE(first.reasoning_parts.size() == 1u);
                    BOOST_TEST(first.reasoning_parts[0].origin == "anthropic");
                    BOOST_TEST(!first.reasoning_parts[0].signature.empty());
                    BOOST_TEST(first.reasoning == first.reasoning_parts[0].text);
                    // Anthropic bills thinking within output_tokens and reports no count of it:
                    // the same call without thinking has fewer.
                    auto plain = fx.chat(c, weather(model));
                    BOOST_TEST_REQUIRE(!!plain, plain.error());
                    BOOST_TEST(*first.usage.output_tokens > *plain->usage.output_tokens);

                    // Dropped: the provider's 400, with its wording.
                    auto dropped = loop(fx, c, req, stream, drop_reasoning);
                    BOOST_TEST_REQUIRE(!dropped);
                    BOOST_TEST(is(dropped.error(), error::bad_request), dropped.error());
                    BOOST_TEST(dropped.error().diag.message.find(
                                   "Expected `thinking` or `redacted_thinking`") != std::string::npos);
                    // Altered: the signature no longer matches.
                    auto altered = loop(fx, c, req, stream, [](chat_response const& x) {
                        auto m = assistant(x);
                        std::get<reasoning_part>(m.content[0]).text += " (edited)";
                        return m;
                    });
                    BOOST_TEST_REQUIRE(!altered);
                    BOOST_TEST(altered.error().diag.message.find("Invalid `signature`") !=
                               std::string::npos);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(gemini_3_tool_loop_needs_its_signature) {
    emulator_fixture fx;
    auto c = fx.make_client();
    for (bool stream : {false, true}) {
        BOOST_TEST_CONTEXT("stream " << stream) {
            for (std::string model :
                 {"google/gemini-3-pro-preview", "vertex/gemini-3-flash-preview"}) {
                BOOST_TEST_CONTEXT(model) {
                    chat_response first;
                    auto r = loop(fx, c, weather(model), stream, keep_all, &first);
                    BOOST_TEST_REQUIRE(!!r, r.error());
                    BOOST_TEST(!first.tool_calls[0].signature.empty());
                    BOOST_TEST(first.reasoning_parts.empty());  // no thoughts asked for
                    auto dropped = loop(fx, c, weather(model), stream, drop_reasoning);
                    BOOST_TEST_REQUIRE(!dropped);
                    BOOST_TEST(is(dropped.error(), error::bad_request), dropped.error());
                    BOOST_TEST(dropped.error().diag.message.find(
                                   "Function call is missing a thought_signature") !=
                               std::string::npos);
                }
            }
        }
    }
    // Gemini 2.5 does not check.
    auto r = loop(fx, c, weather("google/gemini-2.5-flash"), false, drop_reasoning);
    BOOST_TEST(!!r, r.error());
    // Thoughts asked for come back as reasoning text.
    auto req = weather("google/gemini-3-pro-preview");
    req.reasoning = reasoning_options{reasoning_effort::low, {}, true};
    auto t = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!t, t.error());
    BOOST_TEST(!t->reasoning.empty());
}

BOOST_AUTO_TEST_CASE(deepseek_reasoning_comes_back_on_tool_turns) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto req = weather("deepseek/deepseek-reasoner");
    chat_response first;
    auto r = loop(fx, c, req, false, keep_all, &first);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST_REQUIRE(first.reasoning_parts.size() == 1u);
    BOOST_TEST(first.reasoning_parts[0].origin == "deepseek");
    BOOST_TEST(!first.reasoning.empty());
}

BOOST_AUTO_TEST_CASE(prompt_cache_breakpoints_are_written_then_read_and_priced) {
    // The emulator caches a prefix at its breakpoints as Anthropic and Bedrock do: written on
    // first sight, read by the next request with the same prefix; cost prices both.
    emulator_fixture fx;
    auto c = fx.make_client();
    for (std::string model : {"anthropic/claude-sonnet-4-5", "openrouter/anthropic/claude-sonnet-4.5"}) {
        BOOST_TEST_CONTEXT(model) {
            chat_request req;
            req.model = model;
            req.system = "A long manual about the weather of Norway, " + std::string(400, 'x');
            req.system_cache = cache_control{};
            req.messages.push_back(user("Weather in Oslo?"));
            auto first = fx.chat(c, req);
            BOOST_TEST_REQUIRE(!!first, first.error());
            BOOST_TEST(*first->usage.cache_write_tokens > 0u);
            BOOST_TEST(first->usage.cached_input_tokens.value_or(0) == 0u);
            req.messages[0] = user("And in Bergen?");  // same prefix, another question
            auto second = fx.chat(c, req);
            BOOST_TEST_REQUIRE(!!second, second.error());
            BOOST_TEST(*second->usage.cached_input_tokens == *first->usage.cache_write_tokens);
            BOOST_TEST(second->usage.cache_write_tokens.value_or(0) == 0u);
            if (model.starts_with("anthropic/")) {
                // Anthropic prices writes above input and reads far below it.
                BOOST_TEST_REQUIRE(first->cost_usd.has_value());
                BOOST_TEST_REQUIRE(second->cost_usd.has_value());
                BOOST_TEST(*second->cost_usd < *first->cost_usd);
            }
            // Another prefix is another entry.
            req.system += " (revised)";
            auto third = fx.chat(c, req);
            BOOST_TEST_REQUIRE(!!third, third.error());
            BOOST_TEST(third->usage.cached_input_tokens.value_or(0) == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(openai_clients_through_the_gateway_append_what_they_got) {
    // An unmodified OpenAI client appends `choices[0].message` and answers its tool call by
    // the id it got: the gateway's sealed ids give the upstream its reasoning back.
    gw_fixture fx;
    for (std::string model : {"google/gemini-3-pro-preview", "anthropic/claude-sonnet-4-5"}) {
        BOOST_TEST_CONTEXT(model) {
            auto body = openai_weather(model);
            if (model.starts_with("anthropic/")) body["reasoning_effort"] = "low";
            auto const first = fx.post("/v1/chat/completions", body);
            BOOST_TEST_REQUIRE(first.status == 200u, first.body);
            auto const answer = json::parse(first.body);
            auto const& msg = answer.at("choices").at(0).at("message");
            std::string const id(msg.at("tool_calls").at(0).at("id").as_string());
            BOOST_TEST(id.find("__llmux1__") != std::string::npos, id);
            auto next = body;
            next["messages"].as_array().push_back(msg);
            next["messages"].as_array().push_back(
                json::object{{"role", "tool"}, {"tool_call_id", id}, {"content", "4C"}});
            auto const second = fx.post("/v1/chat/completions", next);
            BOOST_TEST(second.status == 200u, second.body);
            // A client that rebuilds the message with a plain id loses the reasoning: the
            // upstream's 400 comes back.
            auto plain = body;
            auto stripped = msg.as_object();
            std::string const real = id.substr(0, id.find("__llmux1__"));
            stripped["tool_calls"].as_array()[0].as_object()["id"] = real;
            stripped.erase("reasoning_content");
            plain["messages"].as_array().push_back(stripped);
            plain["messages"].as_array().push_back(
                json::object{{"role", "tool"}, {"tool_call_id", real}, {"content", "4C"}});
            auto const refused = fx.post("/v1/chat/completions", plain);
            BOOST_TEST(refused.status == 400u, refused.body);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
