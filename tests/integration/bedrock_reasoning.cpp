// SPDX-License-Identifier: BSL-1.0
// Claude with thinking on Bedrock Converse end to end (issue 11): the client against the
// emulator, which returns reasoningContent with signatures and refuses, with Bedrock's
// ValidationException relaying Claude's 400, a tool loop's next turn that drops or alters the
// thinking. Whole (Converse) and streamed (ConverseStream), continued with
// `llmux::assistant(response)`.
#include "common/client_fixture.hpp"

#include <boost/json.hpp>

#include <string>

using namespace llmux;
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

BOOST_AUTO_TEST_SUITE_END()
