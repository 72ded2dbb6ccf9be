// SPDX-License-Identifier: BSL-1.0
// The Anthropic Messages server side as the gateway serves it
// (src/wire/anthropic_messages_server.cpp): requests parsed into a chat_request, the message
// body, the SSE event sequence for text and tool_use, errors.
#include "wire/anthropic_messages_server.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace llmux;
using namespace llmux::detail;
namespace json = boost::json;

namespace {

json::value parse(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

/// (event name, data JSON) of each SSE event; the data's `type` must repeat the name.
std::vector<std::pair<std::string, json::value>> events(std::string_view sse) {
    std::vector<std::pair<std::string, json::value>> out;
    std::size_t pos = 0;
    while (pos < sse.size()) {
        auto end = sse.find("\n\n", pos);
        BOOST_TEST_REQUIRE(end != std::string_view::npos);
        auto ev = sse.substr(pos, end - pos);
        BOOST_TEST_REQUIRE(ev.starts_with("event: "));
        auto nl = ev.find('\n');
        std::string name(ev.substr(7, nl - 7));
        auto data = ev.substr(nl + 1);
        BOOST_TEST_REQUIRE(data.starts_with("data: "));
        auto v = parse(data.substr(6));
        BOOST_TEST(v.at("type").as_string() == name);
        out.emplace_back(std::move(name), std::move(v));
        pos = end + 2;
    }
    return out;
}

std::vector<std::string> names(std::vector<std::pair<std::string, json::value>> const& ev) {
    std::vector<std::string> out;
    for (auto const& e : ev) out.push_back(e.first);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_anthropic)

BOOST_AUTO_TEST_CASE(parses_a_messages_request) {
    auto r = parse_anthropic_request(R"({
        "model": "claude-gw", "max_tokens": 256, "system": "be brief", "stream": true,
        "messages": [
          {"role": "user", "content": "weather?"},
          {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
            "name": "get_weather", "input": {"city": "Oslo"}}]},
          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
            "content": "sunny"}]}
        ],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "temperature": 0.2, "stop_sequences": ["END"]
    })");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().message));
    auto const& req = r->req;
    BOOST_TEST(req.model == "claude-gw");
    BOOST_TEST(r->stream);
    BOOST_TEST((req.max_tokens && *req.max_tokens == 256));
    BOOST_TEST(req.system == "be brief");
    BOOST_TEST_REQUIRE(req.tools.size() == 1u);
    BOOST_TEST(req.tools[0].name == "get_weather");
    BOOST_TEST(req.stop.size() == 1u);
    bool call = false, answer = false;
    for (auto const& m : req.messages)
        for (auto const& p : m.content) {
            if (auto const* c = std::get_if<tool_call>(&p))
                call = c->id == "toolu_1" && parse(c->arguments).at("city").as_string() == "Oslo";
            if (auto const* t = std::get_if<tool_result>(&p))
                answer = t->tool_call_id == "toolu_1" && t->content == "sunny";
        }
    BOOST_TEST(call);
    BOOST_TEST(answer);
}

BOOST_AUTO_TEST_CASE(bad_requests_name_the_field) {
    std::pair<char const*, char const*> const cases[] = {
        {"{", ""},
        {R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
        {R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})",
         "max_tokens"},
        {R"({"model":"m","max_tokens":5})", "messages"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"robot","content":"x"}]})",
         "messages.0.role"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user"}]})", "messages.0.content"},
    };
    for (auto const& [body, param] : cases) {
        BOOST_TEST_CONTEXT(body) {
            auto r = parse_anthropic_request(body);
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(r.error().status == 400u);
            BOOST_TEST(r.error().param == param);
            std::string out;
            render_anthropic_error(r.error(), out);
            auto const v = parse(out);
            BOOST_TEST(v.at("type").as_string() == "error");
            BOOST_TEST(v.at("error").at("type").as_string() == "invalid_request_error");
            BOOST_TEST(!v.at("error").at("message").as_string().empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(renders_a_message_with_text_and_tool_use) {
    chat_response r;
    r.content = "Let me check.";
    r.tool_calls.push_back({"toolu_9", "get_weather", R"({"city":"Oslo"})"});
    r.finish_reason = finish_reason::tool_calls;
    r.usage.input_tokens = 20;
    r.usage.output_tokens = 7;
    std::string body;
    render_anthropic_response(r, {"msg_1", 0, "claude-gw"}, body);
    auto const v = parse(body);
    BOOST_TEST(v.at("id").as_string() == "msg_1");
    BOOST_TEST(v.at("type").as_string() == "message");
    BOOST_TEST(v.at("role").as_string() == "assistant");
    BOOST_TEST(v.at("model").as_string() == "claude-gw");
    BOOST_TEST(v.at("stop_reason").as_string() == "tool_use");
    auto const& c = v.at("content").as_array();
    BOOST_TEST_REQUIRE(c.size() == 2u);
    BOOST_TEST(c[0].at("type").as_string() == "text");
    BOOST_TEST(c[1].at("type").as_string() == "tool_use");
    BOOST_TEST(c[1].at("input").at("city").as_string() == "Oslo");
    BOOST_TEST(v.at("usage").at("input_tokens").to_number<int>() == 20);
    BOOST_TEST(v.at("usage").at("output_tokens").to_number<int>() == 7);
}

BOOST_AUTO_TEST_CASE(text_stream_event_sequence) {
    anthropic_stream_writer w({"msg_2", 0, "claude-gw"});
    std::string out;
    chat_chunk a;
    a.text = "Hel";
    w.chunk(a, out);
    chat_chunk b;
    b.text = "lo";
    w.chunk(b, out);
    chat_response r;
    r.content = "Hello";
    r.finish_reason = finish_reason::stop;
    r.usage.input_tokens = 4;
    r.usage.output_tokens = 2;
    w.finish(r, out);
    auto const ev = events(out);
    std::vector<std::string> const expected = {"message_start",       "content_block_start",
                                               "content_block_delta", "content_block_delta",
                                               "content_block_stop",  "message_delta",
                                               "message_stop"};
    BOOST_TEST(names(ev) == expected, boost::test_tools::per_element());
    BOOST_TEST(ev[0].second.at("message").at("id").as_string() == "msg_2");
    BOOST_TEST(ev[0].second.at("message").at("model").as_string() == "claude-gw");
    BOOST_TEST(ev[1].second.at("content_block").at("type").as_string() == "text");
    BOOST_TEST(ev[2].second.at("delta").at("text").as_string() == "Hel");
    BOOST_TEST(ev[3].second.at("delta").at("type").as_string() == "text_delta");
    BOOST_TEST(ev[5].second.at("delta").at("stop_reason").as_string() == "end_turn");
    BOOST_TEST(ev[5].second.at("usage").at("output_tokens").to_number<int>() == 2);
}

BOOST_AUTO_TEST_CASE(tool_use_stream_event_sequence) {
    anthropic_stream_writer w({"msg_3", 0, "claude-gw"});
    std::string out;
    chat_chunk a;
    a.text = "Checking.";
    w.chunk(a, out);
    chat_chunk b;
    b.tool_calls.push_back({0, "toolu_1", "get_weather", ""});
    w.chunk(b, out);
    chat_chunk c;
    c.tool_calls.push_back({0, "", "", R"({"city":"Oslo"})"});
    w.chunk(c, out);
    chat_response r;
    r.tool_calls.push_back({"toolu_1", "get_weather", R"({"city":"Oslo"})"});
    r.finish_reason = finish_reason::tool_calls;
    w.finish(r, out);
    auto const ev = events(out);
    std::vector<std::string> const expected = {
        "message_start",       "content_block_start", "content_block_delta",
        "content_block_stop",  "content_block_start", "content_block_delta",
        "content_block_stop",  "message_delta",       "message_stop"};
    BOOST_TEST(names(ev) == expected, boost::test_tools::per_element());
    BOOST_TEST(ev[1].second.at("index").to_number<int>() == 0);
    auto const& start = ev[4].second;
    BOOST_TEST(start.at("index").to_number<int>() == 1);
    BOOST_TEST(start.at("content_block").at("type").as_string() == "tool_use");
    BOOST_TEST(start.at("content_block").at("id").as_string() == "toolu_1");
    BOOST_TEST(start.at("content_block").at("name").as_string() == "get_weather");
    BOOST_TEST(ev[5].second.at("delta").at("type").as_string() == "input_json_delta");
    BOOST_TEST(ev[5].second.at("delta").at("partial_json").as_string() == R"({"city":"Oslo"})");
    BOOST_TEST(ev[7].second.at("delta").at("stop_reason").as_string() == "tool_use");
}

BOOST_AUTO_TEST_CASE(empty_answer_still_has_a_text_block) {
    anthropic_stream_writer w({"msg_4", 0, "m"});
    std::string out;
    chat_response r;
    r.finish_reason = finish_reason::length;
    w.finish(r, out);
    auto const ev = events(out);
    std::vector<std::string> const expected = {"message_start", "content_block_start",
                                               "content_block_stop", "message_delta",
                                               "message_stop"};
    BOOST_TEST(names(ev) == expected, boost::test_tools::per_element());
    BOOST_TEST(ev[3].second.at("delta").at("stop_reason").as_string() == "max_tokens");
}

BOOST_AUTO_TEST_CASE(error_event_ends_the_stream) {
    anthropic_stream_writer w({"msg_5", 0, "m"});
    std::string out;
    chat_chunk a;
    a.text = "x";
    w.chunk(a, out);
    api_error e;
    e.status = 529;
    e.message = "overloaded";
    w.error(e, out);
    chat_chunk more;
    more.text = "ignored";
    w.chunk(more, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(!ev.empty());
    BOOST_TEST(ev.back().first == "error");
    BOOST_TEST(ev.back().second.at("error").at("type").as_string() == "overloaded_error");
}

BOOST_AUTO_TEST_CASE(error_types_by_status) {
    BOOST_TEST(anthropic_error_type(401) == "authentication_error");
    BOOST_TEST(anthropic_error_type(429) == "rate_limit_error");
    BOOST_TEST(anthropic_error_type(413) == "request_too_large");
    BOOST_TEST(anthropic_error_type(502) == "api_error");
    BOOST_TEST(anthropic_error_type(400) == "invalid_request_error");
}

BOOST_AUTO_TEST_SUITE_END()
