// SPDX-License-Identifier: BSL-1.0
// Stream continuation as pure decisions (src/policy/continuation.hpp) and which wire formats
// and models continue a partial answer sent as a final assistant message (src/wire/prefill.hpp).
#include "policy/continuation.hpp"
#include "wire/formats.hpp"
#include "wire/prefill.hpp"

#include <boost/asio/error.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace llmux;
using namespace llmux::detail;

namespace {

chat_request ask() {
    chat_request r;
    r.model = "anthropic/claude-3-5-sonnet";
    r.messages.push_back(user("Tell me a story"));
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(policy_continuation)

BOOST_AUTO_TEST_CASE(only_a_broken_upstream_is_continued) {
    for (auto e : {error::truncated, error::server_error, error::overloaded, error::rate_limited,
                   error::protocol_error, error::timeout})
        BOOST_TEST(continuable(failure(e)), static_cast<int>(e));
    BOOST_TEST(continuable(failure(boost::asio::error::connection_reset)));
    for (auto e : {error::content_filtered, error::cancelled, error::response_too_large,
                   error::bad_request, error::budget_exceeded})
        BOOST_TEST(!continuable(failure(e)), static_cast<int>(e));
    BOOST_TEST(!continuable(failure(boost::asio::error::operation_aborted)));
    BOOST_TEST(!continuable(failure()));
}

BOOST_AUTO_TEST_CASE(tool_calls_cannot_be_continued) {
    BOOST_TEST(!continuation_obstacle(failure(error::truncated), {"Once upon", false}));
    auto const why = continuation_obstacle(failure(error::truncated), {"", true});
    BOOST_TEST_REQUIRE(why.has_value());
    BOOST_TEST(why->find("tool calls") != std::string::npos);
    BOOST_TEST(continuation_obstacle(failure(error::content_filtered), {"x", false}).has_value());
}

BOOST_AUTO_TEST_CASE(the_partial_answer_becomes_a_final_assistant_message) {
    auto c = make_continuation(ask(), "Once upon a time \n");
    BOOST_TEST_REQUIRE(c.request.messages.size() == 2u);
    BOOST_TEST((c.request.messages.back().role == role::assistant));
    // Trailing white space cut (Anthropic refuses a final assistant turn ending in it).
    BOOST_TEST(c.request.messages.back().text() == "Once upon a time");
    BOOST_TEST(c.trimmed == " \n");
    // Nothing but white space: no prefill at all.
    auto e = make_continuation(ask(), "  ");
    BOOST_TEST(e.request.messages.size() == 1u);
    BOOST_TEST(e.trimmed == "  ");
}

BOOST_AUTO_TEST_CASE(the_splice_drops_the_white_space_the_caller_already_has) {
    prefill_splice s(" ");
    std::string a = " there was", b = " a king";
    s.apply(a);
    s.apply(b);
    BOOST_TEST(a == "there was");
    BOOST_TEST(b == " a king");  // only the first text is touched
    // A continuation without leading white space keeps its first character.
    prefill_splice t(" ");
    std::string c = "there";
    t.apply(c);
    BOOST_TEST(c == "there");
    // White space split over chunks, no more than was cut.
    prefill_splice u("\n\n");
    std::string d = "\n", e = "\n\nNext", f = "x";
    u.apply(d);
    u.apply(e);
    u.apply(f);
    BOOST_TEST(d.empty());
    BOOST_TEST(e == "\nNext");
    BOOST_TEST(f == "x");
}

BOOST_AUTO_TEST_CASE(claude_versions) {
    using v = std::pair<int, int>;
    BOOST_TEST((claude_version("claude-3-5-sonnet-20240620") == v{3, 5}));
    BOOST_TEST((claude_version("claude-3-opus-20240229") == v{3, 0}));
    BOOST_TEST((claude_version("claude-sonnet-4-20250514") == v{4, 0}));
    BOOST_TEST((claude_version("claude-sonnet-4-5-20250929") == v{4, 5}));
    BOOST_TEST((claude_version("claude-sonnet-4.6") == v{4, 6}));
    BOOST_TEST((claude_version("claude-opus-4-6") == v{4, 6}));
    BOOST_TEST((claude_version("anthropic.claude-3-5-sonnet-20240620-v1:0") == v{3, 5}));
    BOOST_TEST((claude_version("us.anthropic.claude-opus-4-1-20250805-v1:0") == v{4, 1}));
    BOOST_TEST((claude_version("claude-3-5-sonnet@20240620") == v{3, 5}));
    BOOST_TEST(!claude_version("gpt-4o").has_value());
    BOOST_TEST(!claude_version("claude-next").has_value());
    BOOST_TEST(claude_accepts_prefill("claude-3-5-sonnet"));
    BOOST_TEST(claude_accepts_prefill("claude-sonnet-4-5"));
    // From 4.6 on the API refuses a prefill; unknown versions are not assumed to take one.
    BOOST_TEST(!claude_accepts_prefill("claude-sonnet-4.6"));
    BOOST_TEST(!claude_accepts_prefill("claude-opus-5"));
    BOOST_TEST(!claude_accepts_prefill("claude-next"));
}

BOOST_AUTO_TEST_CASE(which_formats_continue_a_prefill) {
    auto const req = ask();
    BOOST_TEST(anthropic_messages_format().continues_prefill("claude-3-5-sonnet", req));
    BOOST_TEST(!anthropic_messages_format().continues_prefill("claude-sonnet-4.6", req));
    BOOST_TEST(bedrock_converse_format().continues_prefill(
        "anthropic.claude-3-5-sonnet-20240620-v1:0", req));
    BOOST_TEST(!bedrock_converse_format().continues_prefill("meta.llama3-70b-instruct-v1:0", req));
    BOOST_TEST(vertex_format().continues_prefill("claude-3-5-sonnet@20240620", req));
    BOOST_TEST(!vertex_format().continues_prefill("gemini-2.0-flash", req));
    // A final assistant message is history to these two, not a beginning.
    BOOST_TEST(!openai_chat_format().continues_prefill("gpt-4o", req));
    BOOST_TEST(!gemini_format().continues_prefill("gemini-2.0-flash", req));
}

BOOST_AUTO_TEST_CASE(what_a_prefill_conflicts_with) {
    auto r = ask();
    BOOST_TEST(!claude_prefill_conflicts(r));
    r.tool_choice = tool_choice::required();
    BOOST_TEST(claude_prefill_conflicts(r));
    r = ask();
    r.response_format = response_format::json();
    BOOST_TEST(claude_prefill_conflicts(r));
    r = ask();
    r.extra["thinking"] = boost::json::parse(R"({"type":"enabled","budget_tokens":1024})");
    BOOST_TEST(claude_prefill_conflicts(r));
    BOOST_TEST(!anthropic_messages_format().continues_prefill("claude-3-5-sonnet", r));
}

BOOST_AUTO_TEST_CASE(anthropic_sends_the_prefill_as_the_last_turn) {
    auto const c = make_continuation(ask(), "Once upon a time ");
    provider_config p;
    p.name = "anthropic";
    p.wire = "anthropic";
    auto const http = anthropic_messages_format().encode(c.request,
                                                         encode_context{p, "claude-3-5-sonnet", true});
    BOOST_TEST_REQUIRE(!!http);
    auto const body = boost::json::parse(http->body).as_object();
    auto const& msgs = body.at("messages").as_array();
    BOOST_TEST_REQUIRE(msgs.size() == 2u);
    auto const& last = msgs.back().as_object();
    BOOST_TEST(last.at("role").as_string() == "assistant");
    BOOST_TEST(http->body.find("Once upon a time\"") != std::string::npos, http->body);
}

BOOST_AUTO_TEST_SUITE_END()
