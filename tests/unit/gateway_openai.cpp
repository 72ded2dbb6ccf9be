// SPDX-License-Identifier: BSL-1.0
// The gateway's OpenAI codec (src/gateway/openai_server.cpp): request parsing with 400s that
// name the field, the chat.completion body, and the chat.completion.chunk SSE stream.
#include "gateway/api.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
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

/// The JSON payloads of `data:` lines (`[DONE]` kept as text).
std::vector<std::string> events(std::string_view sse) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < sse.size()) {
        auto end = sse.find("\n\n", pos);
        BOOST_TEST_REQUIRE(end != std::string_view::npos, "unterminated event in " << sse);
        auto ev = sse.substr(pos, end - pos);
        BOOST_TEST_REQUIRE(ev.starts_with("data: "));
        out.emplace_back(ev.substr(6));
        pos = end + 2;
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_openai)

BOOST_AUTO_TEST_CASE(parses_a_full_request) {
    auto r = parse_openai_request(R"({
        "model": "gpt-smart",
        "messages": [
          {"role": "system", "content": "be brief"},
          {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
          {"role": "assistant", "content": null,
           "tool_calls": [{"id": "call_1", "type": "function",
                           "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
          {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
        ],
        "temperature": 0.5, "top_p": 0.9, "max_tokens": 100, "seed": 7, "stop": ["END"],
        "tools": [{"type": "function", "function": {"name": "get_weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "tool_choice": "auto",
        "response_format": {"type": "json_object"},
        "stream": true, "stream_options": {"include_usage": true},
        "frequency_penalty": 0.1
    })");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().message));
    auto const& req = r->req;
    BOOST_TEST(req.model == "gpt-smart");
    BOOST_TEST(r->stream);
    BOOST_TEST(r->include_usage);
    BOOST_TEST(req.messages.size() >= 3u);
    BOOST_TEST((req.temperature && *req.temperature == 0.5));
    BOOST_TEST((req.max_tokens && *req.max_tokens == 100));
    BOOST_TEST((req.seed && *req.seed == 7));
    BOOST_TEST(req.stop.size() == 1u);
    BOOST_TEST_REQUIRE(req.tools.size() == 1u);
    BOOST_TEST(req.tools[0].name == "get_weather");
    BOOST_TEST_REQUIRE(req.response_format.has_value());
    BOOST_TEST((req.response_format->type == response_format::kind::json_object));
    // The assistant's tool call and the tool's answer survive.
    bool call = false, answer = false;
    for (auto const& m : req.messages)
        for (auto const& p : m.content) {
            if (auto const* c = std::get_if<tool_call>(&p))
                call = c->id == "call_1" && c->name == "get_weather";
            if (auto const* t = std::get_if<tool_result>(&p))
                answer = t->tool_call_id == "call_1" && t->content == "sunny";
        }
    BOOST_TEST(call);
    BOOST_TEST(answer);
    BOOST_TEST(r->openai_extras.contains("frequency_penalty"));
}

BOOST_AUTO_TEST_CASE(bad_requests_name_the_field) {
    struct bad_case {
        char const* body;
        char const* param;
    };
    bad_case const cases[] = {
        {"not json", ""},
        {"[1]", ""},
        {R"({"messages":[{"role":"user","content":"x"}]})", "model"},
        {R"({"model":5,"messages":[{"role":"user","content":"x"}]})", "model"},
        {R"({"model":"m"})", "messages"},
        {R"({"model":"m","messages":[]})", "messages"},
        {R"({"model":"m","messages":[{"content":"x"}]})", "messages[0].role"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"},{"role":"user"}]})",
         "messages[1].content"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":5})",
         "temperature"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"})", "stream"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{}})",
         "stream_options"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":3})", "n"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]})",
         "tools[0].function.name"},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.body) {
            auto r = parse_openai_request(c.body);
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(r.error().status == 400u);
            BOOST_TEST(r.error().type == "invalid_request_error");
            BOOST_TEST(r.error().param == c.param);
            BOOST_TEST(!r.error().message.empty());
            // The rendered body is OpenAI's error shape with the field as `param`.
            std::string body;
            render_openai_error(r.error(), body);
            auto const v = parse(body);
            auto const& e = v.at("error");
            BOOST_TEST(e.at("type").as_string() == "invalid_request_error");
            if (*c.param)
                BOOST_TEST(e.at("param").as_string() == c.param);
            else
                BOOST_TEST(e.at("param").is_null());
        }
    }
}

BOOST_AUTO_TEST_CASE(renders_a_completion_with_tool_calls_and_usage) {
    chat_response r;
    r.content = "";
    r.tool_calls.push_back({"call_9", "get_weather", R"({"city":"Oslo"})"});
    r.finish_reason = finish_reason::tool_calls;
    r.usage.input_tokens = 12;
    r.usage.output_tokens = 5;
    std::string body;
    render_openai_response(r, {"chatcmpl-1", 1700000000, "gpt-smart"}, body);
    auto const v = parse(body);
    BOOST_TEST(v.at("id").as_string() == "chatcmpl-1");
    BOOST_TEST(v.at("object").as_string() == "chat.completion");
    BOOST_TEST(v.at("created").to_number<std::int64_t>() == 1700000000);
    BOOST_TEST(v.at("model").as_string() == "gpt-smart");
    auto const& ch = v.at("choices").as_array().at(0);
    BOOST_TEST(ch.at("finish_reason").as_string() == "tool_calls");
    BOOST_TEST(ch.at("message").at("content").is_null());
    auto const& tc = ch.at("message").at("tool_calls").as_array().at(0);
    BOOST_TEST(tc.at("id").as_string() == "call_9");
    BOOST_TEST(tc.at("function").at("name").as_string() == "get_weather");
    BOOST_TEST(tc.at("function").at("arguments").as_string() == R"({"city":"Oslo"})");
    BOOST_TEST(v.at("usage").at("prompt_tokens").to_number<int>() == 12);
    BOOST_TEST(v.at("usage").at("completion_tokens").to_number<int>() == 5);
    BOOST_TEST(v.at("usage").at("total_tokens").to_number<int>() == 17);
}

BOOST_AUTO_TEST_CASE(text_is_escaped) {
    chat_response r;
    r.content = "line\n\"quoted\" \\ \x01 é";
    r.finish_reason = finish_reason::stop;
    std::string body;
    render_openai_response(r, {"id", 1, "m"}, body);
    auto const v = parse(body);
    BOOST_TEST(v.at("choices").as_array().at(0).at("message").at("content").as_string() ==
               r.content);
    BOOST_TEST(!v.as_object().contains("usage"));  // unknown usage is not sent as zeros
}

BOOST_AUTO_TEST_CASE(stream_has_role_content_finish_usage_and_done) {
    openai_stream_writer w({"chatcmpl-2", 5, "gpt-smart"}, true);
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
    r.usage.input_tokens = 3;
    r.usage.output_tokens = 2;
    w.finish(r, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 6u);
    BOOST_TEST(ev.back() == "[DONE]");
    auto const role = parse(ev[0]);
    BOOST_TEST(role.at("object").as_string() == "chat.completion.chunk");
    BOOST_TEST(role.at("id").as_string() == "chatcmpl-2");
    BOOST_TEST(role.at("model").as_string() == "gpt-smart");
    BOOST_TEST(role.at("choices").as_array().at(0).at("delta").at("role").as_string() ==
               "assistant");
    std::string text;
    for (std::size_t i = 1; i <= 2; ++i)
        text += parse(ev[i]).at("choices").as_array().at(0).at("delta").at("content").as_string();
    BOOST_TEST(text == "Hello");
    auto const fin = parse(ev[3]);
    BOOST_TEST(fin.at("choices").as_array().at(0).at("finish_reason").as_string() == "stop");
    auto const use = parse(ev[4]);
    BOOST_TEST(use.at("choices").as_array().empty());
    BOOST_TEST(use.at("usage").at("total_tokens").to_number<int>() == 5);
}

BOOST_AUTO_TEST_CASE(stream_without_usage_has_no_usage_chunk) {
    openai_stream_writer w({"c", 5, "m"}, false);
    std::string out;
    chat_chunk a;
    a.text = "x";
    a.finish_reason = finish_reason::length;
    w.chunk(a, out);
    chat_response r;
    r.usage.input_tokens = 3;
    r.usage.output_tokens = 2;
    w.finish(r, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 4u);  // role, content, finish, [DONE]
    BOOST_TEST(parse(ev[2]).at("choices").as_array().at(0).at("finish_reason").as_string() ==
               "length");
    for (std::size_t i = 0; i + 1 < ev.size(); ++i)
        BOOST_TEST(!parse(ev[i]).as_object().contains("usage"));
}

BOOST_AUTO_TEST_CASE(stream_tool_call_deltas) {
    openai_stream_writer w({"c", 5, "m"}, false);
    std::string out;
    chat_chunk a;
    a.tool_calls.push_back({0, "call_1", "get_weather", ""});
    w.chunk(a, out);
    chat_chunk b;
    b.tool_calls.push_back({0, "", "", "{\"city\":"});
    w.chunk(b, out);
    chat_response r;
    r.tool_calls.push_back({"call_1", "get_weather", "{\"city\":"});
    w.finish(r, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 5u);
    auto const first = parse(ev[1]).at("choices").as_array().at(0).at("delta").at("tool_calls");
    BOOST_TEST(first.as_array().at(0).at("id").as_string() == "call_1");
    BOOST_TEST(first.as_array().at(0).at("type").as_string() == "function");
    BOOST_TEST(first.as_array().at(0).at("function").at("name").as_string() == "get_weather");
    auto const second = parse(ev[2]).at("choices").as_array().at(0).at("delta").at("tool_calls");
    BOOST_TEST(!second.as_array().at(0).as_object().contains("id"));
    BOOST_TEST(second.as_array().at(0).at("function").at("arguments").as_string() == "{\"city\":");
    BOOST_TEST(parse(ev[3]).at("choices").as_array().at(0).at("finish_reason").as_string() ==
               "tool_calls");
}

BOOST_AUTO_TEST_CASE(stream_error_event_is_openai_error_shape) {
    openai_stream_writer w({"c", 5, "m"}, false);
    std::string out;
    chat_chunk a;
    a.text = "x";
    w.chunk(a, out);
    api_error e;
    e.status = 502;
    e.type = "server_error";
    e.message = "upstream broke";
    w.error(e, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 3u);
    BOOST_TEST(parse(ev[2]).at("error").at("message").as_string() == "upstream broke");
}

BOOST_AUTO_TEST_CASE(models_list) {
    std::vector<std::string> names = {"gpt-smart", "openai/gpt-4o-mini"};
    std::string body;
    render_openai_models(names, 42, body);
    auto const v = parse(body);
    BOOST_TEST(v.at("object").as_string() == "list");
    auto const& d = v.at("data").as_array();
    BOOST_TEST_REQUIRE(d.size() == 2u);
    BOOST_TEST(d[1].at("id").as_string() == "openai/gpt-4o-mini");
    BOOST_TEST(d[1].at("object").as_string() == "model");
}

BOOST_AUTO_TEST_SUITE_END()
