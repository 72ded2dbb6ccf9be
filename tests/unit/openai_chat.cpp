// SPDX-License-Identifier: BSL-1.0
// The OpenAI chat-completions wire format, table-driven over the fixtures in tests/data/openai/:
// the requests we build, the responses, errors and streams we decode.
#include "common/wire_fixtures.hpp"
#include "wire/formats.hpp"
#include "wire/wire_format.hpp"

#include <llmux/config.hpp>
#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::test {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;
using detail::encode_context;
using detail::http_request;
using detail::response_head;
using detail::wire_format;

wire_format const& fmt() {
    return detail::openai_chat_format();
}

// The shared fixture helpers (tests/common/wire_fixtures.hpp), for tests/data/openai/.
constexpr std::string_view fixture_dir = "openai";
std::string load_text(std::string_view name) {
    return fixture_text(fixture_dir, name);
}
json::value load_json(std::string_view name) {
    return fixture_json(fixture_dir, name);
}
std::string case_body(json::object const& c) {
    return test::case_body(fixture_dir, c);
}

// ---------------------------------------------------------------------------------------------
// Requests

provider_config provider_named(std::string name, json::object options = {}) {
    provider_config p;
    p.name = std::move(name);
    p.options = std::move(options);
    return p;
}

result<http_request> encode(chat_request const& req, std::string provider = "openai",
                            bool stream = false, json::object options = {}) {
    auto const p = provider_named(std::move(provider), std::move(options));
    return fmt().encode(req, encode_context{p, "gpt-4o-mini", stream});
}

// The unified requests the request_*.json fixtures were written for.
std::map<std::string, std::function<chat_request()>, std::less<>> const request_builders = {
    {"request_minimal.json",
     [] { return chat_request{.model = "openai/gpt-4o-mini", .messages = {user("hi")}}; }},
    {"request_tool_call.json",
     [] {
         chat_request r;
         r.model = "openai/gpt-4o-mini";
         r.system = "You are terse.";
         r.messages = {user("Weather in Oslo?")};
         r.max_tokens = 200;
         r.temperature = 0.2;
         r.tools = {tool{"get_weather", "Current weather", weather_schema(), false}};
         r.tool_choice = tool_choice::automatic();
         return r;
     }},
    {"request_tool_loop.json",
     [] {
         chat_request r;
         r.model = "openai/gpt-4o-mini";
         r.messages = {
             system("You are terse."),
             user("Weather in Oslo and Bergen?"),
             assistant("", {{"call_a1", "get_weather", R"({"city":"Oslo"})"},
                            {"call_a2", "get_weather", R"({"city":"Bergen"})"}}),
             tool_answer("call_a1", R"({"temp_c":4})", "get_weather"),
             tool_answer("call_a2", R"({"temp_c":7})"),
             assistant("Oslo 4 °C, Bergen 7 °C. Checking Trondheim.",
                       {{"call_b1", "get_weather", ""}}),
             user({tool_result{"call_b1", "get_weather", "city unknown", true},
                   text_part{"Thanks!"}}),
         };
         return r;
     }},
    {"request_images.json",
     [] {
         chat_request r;
         r.model = "openai/gpt-4o";
         r.messages = {
             user({text_part{"What is in these pictures?"},
                   image_part{"https://example.com/cat.png", "high"},
                   image_base64("image/png", "iVBORw0KGgo="), text_part{"Be brief."}}),
             assistant("A cat and a dot."),
             user({image_part{"http://localhost:8080/dog.jpg", "low"}}),
         };
         return r;
     }},
    {"request_all_options.json",
     [] {
         chat_request r;
         r.model = "deepseek/deepseek-chat";
         r.system = "Answer in JSON.";
         r.messages = {user("List two colours.")};
         r.temperature = 0.5;
         r.top_p = 0.9;
         r.max_tokens = 512;
         r.seed = 42;
         r.user = "user-1234";
         r.stop = {"END", "\n\n"};
         r.tools = {tool{"lookup", "Look a colour up",
                     json::parse(R"({"type":"object","properties":{"name":{"type":"string"}},)"
                                 R"("required":["name"],"additionalProperties":false})")
                         .as_object(),
                     true},
                    tool{"now", "", {}, false}};
         r.tool_choice = tool_choice::named("lookup");
         r.response_format = response_format::json_schema(
             "colours", json::parse(R"({"type":"object","properties":)"
                                    R"({"colours":{"type":"array","items":{"type":"string"}}}})")
                            .as_object());
         return r;
     }},
    {"request_stream_openrouter.json",
     [] {
         chat_request r;
         r.model = "openrouter/anthropic/claude-sonnet-4.5";
         r.messages = {user("Tell me a joke.")};
         r.temperature = 1.0;
         r.max_tokens = 100;
         r.extra = json::parse(R"({"temperature":0.5,
             "stream_options":{"include_obfuscation":false},
             "provider":{"order":["anthropic","google-vertex"],"allow_fallbacks":false},
             "models":["anthropic/claude-sonnet-4.5","openai/gpt-4o"]})")
                       .as_object();
         return r;
     }},
    {"request_azure.json",
     [] {
         chat_request r;
         r.model = "azure/my-gpt-4o-deployment";
         r.messages = {user("Give me JSON.")};
         r.max_tokens = 64;
         r.tools = {tool{"emit", "", json::object{{"type", "object"}}, false}};
         r.tool_choice = tool_choice::required();
         r.response_format = response_format::json();
         return r;
     }},
    {"request_max_tokens_field.json",
     [] {
         chat_request r;
         r.model = "groq/llama-3.3-70b-versatile";
         r.messages = {user("hi")};
         r.max_tokens = 10;
         r.tools = {tool{"f", "no parameters", {}, false}};
         r.tool_choice = tool_choice::none();
         return r;
     }},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(openai_chat)

BOOST_AUTO_TEST_CASE(registered) {
    BOOST_TEST(detail::find_wire_format("openai") == &fmt());
    BOOST_TEST(fmt().name() == "openai");
}

BOOST_AUTO_TEST_CASE(request_fixtures) {
    for (auto const& [file, build] : request_builders) {
        BOOST_TEST_CONTEXT("fixture " << file) {
            json::object const fx = load_json(file).as_object();
            json::object options;
            if (auto const* o = fx.if_contains("options")) options = o->as_object();
            auto const p = provider_named(std::string(str(fx.at("provider"))), options);
            std::string const model(str(fx.at("model")));
            auto const r =
                fmt().encode(build(), encode_context{p, model, fx.at("stream").as_bool()});
            BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
            BOOST_TEST(r->method == "POST");
            BOOST_TEST(r->target == str(fx.at("target")));
            json::array headers;
            for (auto const& [k, v] : r->headers)
                headers.push_back(json::array{json::string(k), json::string(v)});
            check_json(headers, fx.at("headers"), "headers");
            check_json(body_of(*r), fx.at("body"), "body");
        }
    }
}

BOOST_AUTO_TEST_CASE(every_request_fixture_is_used) {
    std::size_t n = 0;
    for (auto const& e : std::filesystem::directory_iterator(fixture_path(fixture_dir, ""))) {
        std::string const name = e.path().filename().string();
        if (name.rfind("request_", 0) != 0) continue;
        ++n;
        BOOST_TEST(request_builders.count(name) == 1u, name << " has no request builder");
    }
    BOOST_TEST(n == request_builders.size());
}

BOOST_AUTO_TEST_CASE(absent_options_not_sent) {
    auto const r = encode({.model = "openai/gpt-4o-mini", .messages = {user("hi")}});
    BOOST_REQUIRE(r.has_value());
    auto const b = body_of(*r);
    BOOST_TEST(b.size() == 2u);  // model and messages only
    for (auto key : {"temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "user",
                     "stop", "tools", "tool_choice", "response_format", "stream", "stream_options"})
        BOOST_TEST(!b.contains(key), key);
    // A text response format is the default: not sent either.
    chat_request req{.model = "openai/gpt-4o-mini", .messages = {user("hi")}};
    req.response_format = response_format{};
    BOOST_TEST(!body_of(*encode(req)).contains("response_format"));
    // No tools: a tool_choice of auto or none is left out (OpenAI rejects it without tools).
    req.tool_choice = tool_choice::automatic();
    BOOST_TEST(!body_of(*encode(req)).contains("tool_choice"));
    req.tool_choice = tool_choice::none();
    BOOST_TEST(!body_of(*encode(req)).contains("tool_choice"));
}

BOOST_AUTO_TEST_CASE(each_field_exact) {
    chat_request req{.model = "x/m", .messages = {user("hi")}};
    auto field = [&](std::string provider = "openai", bool stream = false, json::object opts = {}) {
        auto r = encode(req, std::move(provider), stream, std::move(opts));
        BOOST_REQUIRE(r.has_value());
        return body_of(*r);
    };
    req.temperature = 0.0;
    BOOST_TEST(field().at("temperature") == json::value(0.0));
    req.top_p = 1.0;
    BOOST_TEST(field().at("top_p") == json::value(1.0));
    req.seed = -7;
    BOOST_TEST(field().at("seed") == json::value(-7));
    req.user = "u";
    BOOST_TEST(field().at("user") == json::value("u"));
    req.stop = {"a"};
    BOOST_TEST(field().at("stop") == json::parse(R"(["a"])"));  // always an array
    req.max_tokens = 5;
    BOOST_TEST(field("openai").at("max_completion_tokens") == json::value(5));
    BOOST_TEST(!field("openai").contains("max_tokens"));
    BOOST_TEST(field("azure").at("max_completion_tokens") == json::value(5));
    for (auto p :
         {"openrouter", "deepseek", "groq", "together", "ollama", "vllm", "zenmux", "my-proxy"}) {
        BOOST_TEST(field(p).at("max_tokens") == json::value(5), p);
        BOOST_TEST(!field(p).contains("max_completion_tokens"), p);
    }
    BOOST_TEST(field("openai", false, {{"max_tokens_field", "max_tokens"}}).at("max_tokens") ==
               json::value(5));
    BOOST_TEST(field("vllm", false, {{"max_tokens_field", "max_completion_tokens"}})
                   .at("max_completion_tokens") == json::value(5));
    // Streaming always asks for the usage chunk.
    auto const s = field("openai", true);
    BOOST_TEST(s.at("stream") == json::value(true));
    BOOST_TEST(s.at("stream_options") == json::parse(R"({"include_usage":true})"));
}

BOOST_AUTO_TEST_CASE(extra_wins) {
    chat_request req{.model = "x/m", .messages = {user("hi")}};
    req.temperature = 1.0;
    req.extra = json::parse(R"({"temperature":0.1,"model":"override",
                                "stream_options":{"include_usage":false},
                                "messages":[{"role":"user","content":"replaced"}],
                                "logprobs":true})")
                    .as_object();
    auto const r = encode(req, "openai", true);
    BOOST_REQUIRE(r.has_value());
    auto const b = body_of(*r);
    BOOST_TEST(b.at("temperature") == json::value(0.1));
    BOOST_TEST(b.at("model") == json::value("override"));
    BOOST_TEST(b.at("stream_options") == json::parse(R"({"include_usage":false})"));
    BOOST_TEST(b.at("messages") == json::parse(R"([{"role":"user","content":"replaced"}])"));
    BOOST_TEST(b.at("logprobs") == json::value(true));
    BOOST_TEST(b.at("stream") == json::value(true));
}

BOOST_AUTO_TEST_CASE(headers) {
    chat_request req{.model = "x/m", .messages = {user("hi")}};
    req.headers = {{"X-Custom", "1"}};  // applied by the client, not the wire format
    auto const r = encode(req);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->header("Accept") == "application/json");
    BOOST_TEST(r->header("x-custom").empty());
    BOOST_TEST(r->headers.size() == 2u);
    // No auth: the client adds it.
    BOOST_TEST(r->header("Authorization").empty());
}

BOOST_AUTO_TEST_CASE(invalid_requests) {
    auto code_of = [](chat_request const& req) {
        auto r = encode(req);
        return r ? boost::system::error_code() : r.error().code;
    };
    auto const invalid = make_error_code(error::invalid_request);
    BOOST_TEST(code_of({.model = "x/m"}) == invalid);
    BOOST_TEST(encode({.model = "x/m"}).error().diag.message == "the request has no messages");

    for (auto url :
         {"ftp://example.com/a.png", "file:///etc/passwd", "example.com/a.png", "", "https://",
          "data:image/png,iVBOR", "data:;base64,AAAA", "data:image/png;base64"}) {
        chat_request req{.model = "x/m",
                         .messages = {user({text_part{"look"}, image_part{url, ""}})}};
        auto const r = encode(req);
        BOOST_TEST_CONTEXT("url '" << url << "'") {
            BOOST_REQUIRE(!r.has_value());
            BOOST_TEST(r.error().code == invalid);
            BOOST_TEST(r.error().diag.message.find("messages[0].content[1]") == 0u,
                       r.error().diag.message);
        }
    }
    for (auto url : {"https://example.com/a.png", "HTTPS://EXAMPLE.COM/A.PNG",
                     "http://localhost/x.jpg", "data:image/jpeg;base64,/9j/4AAQ"}) {
        chat_request req{.model = "x/m", .messages = {user({image_part{url, ""}})}};
        BOOST_TEST(encode(req).has_value(), url);
    }

    chat_request named{.model = "x/m", .messages = {user("hi")}};
    named.tools = {tool{"a", "", {}, false}};
    named.tool_choice = tool_choice::named("b");
    BOOST_TEST(code_of(named) == invalid);
    BOOST_TEST(encode(named).error().diag.message.find("'b'") != std::string::npos);
    named.tool_choice = tool_choice::named("a");
    BOOST_TEST(code_of(named) == boost::system::error_code());
    named.tools.clear();
    BOOST_TEST(code_of(named) == invalid);

    chat_request required{.model = "x/m", .messages = {user("hi")}};
    required.tool_choice = tool_choice::required();
    BOOST_TEST(code_of(required) == invalid);

    // Parts in the wrong role.
    BOOST_TEST(code_of({.model = "x/m", .messages = {user({tool_call{"c", "f", "{}"}})}}) ==
               invalid);
    BOOST_TEST(code_of({.model = "x/m",
                        .messages = {message{role::assistant,
                                             {tool_result{"c", "", "r", false}}}}}) == invalid);
    BOOST_TEST(code_of({.model = "x/m", .messages = {message{role::tool, {text_part{"r"}}}}}) ==
               invalid);
    BOOST_TEST(code_of({.model = "x/m", .messages = {message{role::tool, {}}}}) == invalid);
    BOOST_TEST(code_of({.model = "x/m", .messages = {tool_answer("", "r")}}) == invalid);
    BOOST_TEST(code_of({.model = "x/m", .messages = {assistant("", {{"", "f", "{}"}})}}) ==
               invalid);
    BOOST_TEST(
        code_of({.model = "x/m",
                 .messages = {message{role::system, {image_part{"https://x/y.png", ""}}}}}) ==
        make_error_code(error::unsupported));
    BOOST_TEST(
        code_of({.model = "x/m",
                 .messages = {message{role::assistant, {image_part{"https://x/y.png", ""}}}}}) ==
        make_error_code(error::unsupported));

    chat_request schema{.model = "x/m", .messages = {user("hi")}};
    schema.response_format = response_format::json_schema("", {});
    BOOST_TEST(code_of(schema) == invalid);
}

BOOST_AUTO_TEST_CASE(response_fixtures) {
    check_response_table(fmt(), fixture_dir);
}

BOOST_AUTO_TEST_CASE(error_fixtures) {
    check_error_table(fmt(), fixture_dir);
}

BOOST_AUTO_TEST_CASE(error_never_copies_flagged_input) {
    response_head h;
    h.status = 403;
    auto const f = fmt().decode_error(h, load_text("error_openrouter_moderation.json"));
    BOOST_TEST(f.to_string().find("user's prompt") == std::string::npos, f.to_string());
}

BOOST_AUTO_TEST_CASE(error_message_excerpt_is_bounded) {
    response_head h;
    h.status = 502;
    std::string const page = "<html><body>" + std::string(100000, 'x') + "</body></html>";
    auto const f = fmt().decode_error(h, page);
    BOOST_TEST(f.code == make_error_code(error::server_error));
    BOOST_TEST(f.diag.message.size() <= 203u);
}

BOOST_AUTO_TEST_CASE(stream_fixtures) {
    check_stream_table(
        fmt(), fixture_dir, [](json::object const& c) { return case_body(c); });
}

BOOST_AUTO_TEST_CASE(stream_tool_call_arguments_concatenate) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_REQUIRE(d->feed(load_text("stream_tool_call.sse"), chunks).has_value());
    BOOST_REQUIRE(d->finish(chunks).has_value());
    std::map<std::size_t, tool_call> calls;
    for (auto const& c : chunks)
        for (auto const& t : c.tool_calls) {
            auto& call = calls[t.index];
            call.id += t.id;
            call.name += t.name;
            call.arguments += t.arguments;
        }
    BOOST_REQUIRE(calls.size() == 2u);
    BOOST_TEST(calls[0].id == "call_a1");
    BOOST_TEST(calls[0].name == "get_weather");
    BOOST_TEST(calls[0].arguments == R"({"city":"Oslo"})");
    BOOST_TEST(calls[1].arguments == R"({"city":"Bergen"})");
}

BOOST_AUTO_TEST_CASE(done_marker_without_its_blank_line_still_ends_the_stream) {
    std::string const chunk =
        R"(data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]})"
        "\n\n";
    for (std::string tail : {"data: [DONE]\n", "data: [DONE]", "data: [DONE]\r\n"}) {
        BOOST_TEST_CONTEXT(tail) {
            auto d = fmt().make_stream_decoder();
            std::vector<chat_chunk> chunks;
            BOOST_TEST(d->feed(chunk + tail, chunks).has_value());
            BOOST_TEST(d->finish(chunks).has_value());
        }
    }
    for (std::string tail : {"data: [DON", "data: {\"choices\":[]}\n"}) {
        BOOST_TEST_CONTEXT(tail) {
            auto d = fmt().make_stream_decoder();
            std::vector<chat_chunk> chunks;
            BOOST_TEST(d->feed(chunk + tail, chunks).has_value());
            auto const fin = d->finish(chunks);
            BOOST_REQUIRE(!fin.has_value());
            BOOST_TEST(fin.error().code == make_error_code(error::truncated));
        }
    }
}

BOOST_AUTO_TEST_CASE(stream_failure_is_sticky) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    auto const r = d->feed("data: {not json}\n\n", chunks);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::protocol_error));
    // Later bytes, even a clean end, do not revive it.
    auto const again = d->feed("data: [DONE]\n\n", chunks);
    BOOST_REQUIRE(!again.has_value());
    BOOST_TEST(again.error().code == make_error_code(error::protocol_error));
    auto const fin = d->finish(chunks);
    BOOST_REQUIRE(!fin.has_value());
    BOOST_TEST(fin.error().code == make_error_code(error::protocol_error));
    BOOST_TEST(chunks.empty());
}

BOOST_AUTO_TEST_CASE(stream_error_event_type) {
    // Some compatible servers name the event instead of sending an `error` key.
    struct tc {
        std::string_view body;
        error code;
        std::string_view message;
    };
    for (auto const& t :
         {tc{"event: error\ndata: {\"message\":\"boom\"}\n\n", error::server_error, "boom"},
          tc{"event: error\ndata: model crashed\n\n", error::server_error, "model crashed"},
          tc{"event: error\ndata: {\"type\":\"rate_limit_error\",\"message\":\"slow\"}\n\n",
             error::rate_limited, "slow"}}) {
        auto d = fmt().make_stream_decoder();
        std::vector<chat_chunk> chunks;
        auto const r = d->feed(t.body, chunks);
        BOOST_TEST_CONTEXT(t.body) {
            BOOST_REQUIRE(!r.has_value());
            BOOST_TEST(r.error().code == make_error_code(t.code));
            BOOST_TEST(r.error().diag.message == t.message);
        }
    }
}

BOOST_AUTO_TEST_CASE(stream_events_after_done_ignored) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_TEST(d->feed("data: [DONE]\n\ndata: "
                       "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n",
                       chunks)
                   .has_value());
    BOOST_TEST(d->finish(chunks).has_value());
    BOOST_TEST(chunks.empty());
}

BOOST_AUTO_TEST_CASE(stream_line_cap) {
    // A body without newlines must not grow without bound.
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    std::string const junk(1 << 20, 'x');
    result<void> r;
    for (int i = 0; i < 32 && r; ++i)
        r = d->feed(junk, chunks);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::protocol_error));
}

BOOST_AUTO_TEST_CASE(stream_large_chunk) {
    // Bigger than the decoder's arena: still parsed, and the arena is reused afterwards.
    std::string const big(100000, 'y');
    std::string body =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + big + "\"}}]}\n\n";
    body += "data: "
            "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"z\"},\"finish_reason\":\"stop\"}]}"
            "\n\n";
    body += "data: [DONE]\n\n";
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_REQUIRE(d->feed(body, chunks).has_value());
    BOOST_REQUIRE(d->finish(chunks).has_value());
    BOOST_REQUIRE(chunks.size() == 2u);
    BOOST_TEST(chunks[0].text == big);
    BOOST_TEST(chunks[1].text == "z");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
