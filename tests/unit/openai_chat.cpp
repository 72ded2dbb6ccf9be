// SPDX-License-Identifier: BSL-1.0
// The OpenAI chat-completions wire format, both sides, table-driven over the fixtures in
// tests/data/openai/: the requests we build, the responses, errors and streams we decode; the
// requests the server side decodes and the answers, streams and errors it writes; and the round
// trips between the two sides.
#include "common/wire_fixtures.hpp"
#include "wire/formats.hpp"
#include "wire/openai_chat.hpp"
#include "wire/wire_format.hpp"

#include <llmux/config.hpp>
#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
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

BOOST_AUTO_TEST_CASE(plain_requests_are_written_directly_as_the_dom_writes_them) {
    // The encoder writes plain requests (text messages, sampling fields, stop, user, stream)
    // straight as text, without its DOM; everything else goes through the DOM. Both ways must
    // give the same bytes, for every field alone and together, on every dialect.
    auto const text = [](role r, std::vector<std::string> parts) {
        message m{r, {}};
        for (auto& t : parts) m.content.emplace_back(text_part{std::move(t)});
        return m;
    };
    std::vector<std::function<void(chat_request&)>> const edits = {
        [](chat_request&) {},
        [](chat_request& r) { r.system = "Be brief.\n\"Quoted\" \u00e9\x01"; },
        [&](chat_request& r) { r.messages.push_back(text(role::assistant, {"Hello", " there"})); },
        [&](chat_request& r) { r.messages.push_back(text(role::assistant, {})); },
        [&](chat_request& r) { r.messages.push_back(text(role::user, {"a", "b", "c"})); },
        [&](chat_request& r) { r.messages.push_back(text(role::system, {"rules", "more"})); },
        [&](chat_request& r) { r.messages.push_back(text(role::user, {})); },
        [](chat_request& r) { r.temperature = 0.2; },
        [](chat_request& r) { r.temperature = 1; },
        [](chat_request& r) { r.temperature = -0.0; },
        [](chat_request& r) { r.temperature = 1e-7; },
        [](chat_request& r) { r.top_p = 0.95; },
        [](chat_request& r) { r.max_tokens = 0; },
        [](chat_request& r) { r.max_tokens = 4096; },
        [](chat_request& r) { r.seed = -42; },
        [](chat_request& r) { r.user = "user-\"1\""; },
        [](chat_request& r) { r.prompt_cache_key = "k"; },
        [](chat_request& r) { r.stop = {"\n", "END"}; },
        // what the DOM writes (the direct writer leaves them to it)
        [](chat_request& r) { r.temperature = std::numeric_limits<double>::infinity(); },
        [](chat_request& r) { r.reasoning = reasoning_options{}; },
        [](chat_request& r) { r.system_cache = cache_control{}; },
        [](chat_request& r) { r.extra["logprobs"] = true; },
        [](chat_request& r) { r.response_format = response_format::json(); },
        [](chat_request& r) { r.tools.push_back(tool{.name = "f"}); },
        [](chat_request& r) { r.tool_choice = tool_choice::none(); },
        [](chat_request& r) { r.messages[0].content.emplace_back(image_part{"https://x/y.png"}); },
        [](chat_request& r) {
            r.messages[0].content.emplace_back(text_part{"cached", cache_control{}});
        },
        [](chat_request& r) {
            r.messages.push_back(
                message{role::tool, {tool_result{.tool_call_id = "call_1", .content = "42"}}});
        },
    };
    std::vector<provider_config> const providers = {
        provider_named("openai"), provider_named("azure"), provider_named("deepseek"),
        provider_named("openrouter"), provider_named("mistral"),
        provider_named("custom", json::object{{"max_tokens_field", "max_output_\"tokens"}})};
    std::size_t direct = 0;
    for (auto const& p : providers)
        for (bool const stream : {false, true})
            for (std::size_t i = 0; i < edits.size(); ++i)
                for (bool const all : {false, true}) {
                    chat_request req{.model = "openai/gpt-4o-mini",
                                     .messages = {user("Say \"hi\" \xe2\x82\xac\n")}};
                    // Each edit alone, and with every plain edit before it.
                    if (all)
                        for (std::size_t j = 0; j < i && j < 18; ++j) edits[j](req);
                    edits[i](req);
                    encode_context const ctx{p, "gpt-4o-mini", stream};
                    auto const a = detail::openai::encode_request(req, ctx, true);
                    auto const b = detail::openai::encode_request(req, ctx, false);
                    BOOST_TEST_CONTEXT(p.name << " stream " << stream << " edit " << i << " all "
                                              << all) {
                        BOOST_TEST_REQUIRE(a.has_value() == b.has_value());
                        if (!a) {
                            BOOST_TEST(a.error().to_string() == b.error().to_string());
                            continue;
                        }
                        BOOST_TEST(a->body == b->body);
                        BOOST_TEST(a->target == b->target);
                        BOOST_TEST((a->headers == b->headers));
                        if (i < 18) ++direct;
                    }
                }
    BOOST_TEST(direct >= 300u);  // the plain cases did run
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

// ---------------------------------------------------------------------------------------------
// The server side (src/wire/openai_chat_server.cpp)

namespace {

detail::wire_server const& server() {
    return detail::openai_chat_server();
}

json::value parse_json(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

/// A POST to `path` with `headers`.
struct head_fixture : request_head_fixture {
    explicit head_fixture(std::string_view path = "/v1/chat/completions",
                          std::vector<std::pair<std::string, std::string>> h = {})
        : request_head_fixture(path, std::move(h)) {}
};

boost::system::result<detail::inbound_request, detail::api_error>
decode_request(std::string_view body) {
    head_fixture h;
    return server().decode_request(h.head, body);
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

detail::answer_meta meta(std::string_view id, std::int64_t created, std::string_view model) {
    detail::answer_meta m;
    m.id = id;
    m.created = created;
    m.model = model;
    return m;
}

std::string encode_response(chat_response const& r, detail::answer_meta const& m) {
    std::string out;
    server().encode_response(r, m, out);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(server_registered) {
    BOOST_TEST(detail::find_wire_server("openai") == &server());
    BOOST_TEST(server().name() == fmt().name());
    BOOST_TEST(server().stream_content_type() == "text/event-stream");
}

BOOST_AUTO_TEST_CASE(server_endpoints) {
    detail::endpoint_table const exact(std::span(&detail::wire_servers()[0], 1), false);
    auto op = [&](std::string_view method, std::string_view path) {
        auto m = exact.find(method, path);
        return m ? std::optional(std::pair(m->ep->op, m->path_model)) : std::nullopt;
    };
    using detail::operation;
    BOOST_TEST((op("POST", "/v1/chat/completions")->first == operation::chat));
    BOOST_TEST((op("POST", "/chat/completions")->first == operation::chat));
    auto const azure = op("POST", "/openai/deployments/my%2Fdep/chat/completions");
    BOOST_TEST_REQUIRE(azure.has_value());
    BOOST_TEST(azure->second == "my/dep");  // percent-decoded
    BOOST_TEST((op("GET", "/v1/models")->first == operation::list_models));
    BOOST_TEST((op("HEAD", "/models")->first == operation::list_models));
    auto const one = op("GET", "/v1/models/openai/gpt-4o-mini");
    BOOST_TEST_REQUIRE(one.has_value());
    BOOST_TEST((one->first == operation::get_model));
    BOOST_TEST(one->second == "openai/gpt-4o-mini");
    BOOST_TEST(!op("GET", "/v1/chat/completions"));
    BOOST_TEST(!op("POST", "/api/v1/chat/completions"));  // the gateway matches whole paths
    BOOST_TEST((exact.path_served("/v1/chat/completions").second == "POST"));
    BOOST_TEST(!exact.path_served("/v2/nothing").first);

    // The emulator is reached at any base path a client is configured with.
    detail::endpoint_table const anywhere(std::span(&detail::wire_servers()[0], 1), true);
    for (auto path : {"/api/v1/chat/completions", "/openai/v1/chat/completions",
                      "/v1/chat/completions", "/chat/completions"})
        BOOST_TEST(anywhere.find("POST", path).has_value(), path);
    auto const deployment =
        anywhere.find("POST", "/prefix/openai/deployments/dep-1/chat/completions");
    BOOST_TEST_REQUIRE(deployment.has_value());
    BOOST_TEST(deployment->path_model == "dep-1");
    BOOST_TEST(!anywhere.find("POST", "/v1/chat/completionsX"));
    BOOST_TEST(!anywhere.find("POST", "/v1/xchat/completions"));
}

BOOST_AUTO_TEST_CASE(server_credentials) {
    using kind = detail::credential::kind;
    auto cred = [](std::vector<std::pair<std::string, std::string>> h) {
        head_fixture f("/v1/chat/completions", std::move(h));
        auto const c = server().presented_credential(f.head);
        return std::pair(c.how, std::string(c.value));
    };
    BOOST_TEST((cred({{"Authorization", "Bearer sk-1"}}) == std::pair(kind::api_key, std::string("sk-1"))));
    BOOST_TEST((cred({{"authorization", "bearer  sk-2 "}}) == std::pair(kind::api_key, std::string("sk-2"))));
    BOOST_TEST((cred({{"api-key", "azure-key"}}) == std::pair(kind::api_key, std::string("azure-key"))));
    BOOST_TEST((cred({{"Authorization", "Bearer "}}).first == kind::none));
    BOOST_TEST((cred({{"x-api-key", "not-openai"}}).first == kind::none));
    BOOST_TEST((cred({}).first == kind::none));
    BOOST_TEST(server().key_hint() == "Authorization: Bearer <key>");
}

BOOST_AUTO_TEST_CASE(server_decodes_a_full_request) {
    auto r = decode_request(R"({
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
    BOOST_TEST(req.messages.size() == 4u);
    BOOST_TEST((req.temperature && *req.temperature == 0.5));
    BOOST_TEST((req.max_tokens && *req.max_tokens == 100));
    BOOST_TEST((req.seed && *req.seed == 7));
    BOOST_TEST(req.stop.size() == 1u);
    BOOST_TEST_REQUIRE(req.tools.size() == 1u);
    BOOST_TEST(req.tools[0].name == "get_weather");
    BOOST_TEST_REQUIRE(req.response_format.has_value());
    BOOST_TEST((req.response_format->type == response_format::kind::json_object));
    // The assistant's tool call and the tool's answer (named after its call) survive.
    auto const* call = std::get_if<tool_call>(&req.messages[2].content.at(0));
    BOOST_TEST_REQUIRE(call != nullptr);
    BOOST_TEST(call->id == "call_1");
    BOOST_TEST(call->name == "get_weather");
    auto const* answer = std::get_if<tool_result>(&req.messages[3].content.at(0));
    BOOST_TEST_REQUIRE(answer != nullptr);
    BOOST_TEST(answer->tool_call_id == "call_1");
    BOOST_TEST(answer->name == "get_weather");
    BOOST_TEST(answer->content == "sunny");
    check_json(r->native, json::parse(R"({"frequency_penalty":0.1})"), "native");
}

BOOST_AUTO_TEST_CASE(server_keeps_what_the_unified_request_cannot_hold) {
    // Fields at OpenAI's defaults change nothing and are not kept; every other field the
    // unified request has no place for is, vendor fields included.
    auto r = decode_request(R"({"model":"m","messages":[{"role":"user","content":"x"}],
        "frequency_penalty":0,"presence_penalty":0.0,"parallel_tool_calls":true,"logprobs":false,
        "store":false,"logit_bias":{},"metadata":{},"service_tier":"auto","modalities":["text"],
        "user":"u1","n":1,"reasoning_effort":"low","parallel_tool_calls_extra":null,
        "provider":{"order":["a"]},"presence_penalty_2":1})");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().message));
    check_json(r->native, json::parse(R"({"provider":{"order":["a"]},"presence_penalty_2":1})"),
               "native");
    BOOST_TEST(r->req.user == "u1");
    // reasoning_effort is the unified reasoning control.
    BOOST_TEST_REQUIRE(r->req.reasoning.has_value());
    BOOST_TEST((r->req.reasoning->effort == std::optional<reasoning_effort>(reasoning_effort::low)));
}

BOOST_AUTO_TEST_CASE(server_bad_requests_name_the_field) {
    struct bad_case {
        char const* body;
        char const* param;
        char const* code;  // null: JSON null
    };
    bad_case const cases[] = {
        {"not json", "", nullptr},
        {"[1]", "", nullptr},
        {R"({"messages":[{"role":"user","content":"x"}]})", "model", nullptr},
        {R"({"model":5,"messages":[{"role":"user","content":"x"}]})", "model", "invalid_type"},
        {R"({"model":"m"})", "messages", "missing_required_parameter"},
        {R"({"model":"m","messages":"hi"})", "messages", "invalid_type"},
        {R"({"model":"m","messages":[]})", "messages", "empty_array"},
        {R"({"model":"m","messages":[{"content":"x"}]})", "messages[0].role",
         "missing_required_parameter"},
        {R"({"model":"m","messages":[{"role":"robot","content":"x"}]})", "messages[0].role",
         nullptr},
        {R"({"model":"m","messages":[{"role":"user","content":"x"},{"role":"user"}]})",
         "messages[1].content", "missing_required_parameter"},
        {R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio"}]}]})",
         "messages[0].content[0].type", nullptr},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":5})",
         "temperature", nullptr},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0})",
         "max_tokens", "integer_below_min_value"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":"9"})",
         "max_completion_tokens", "invalid_type"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"})", "stream",
         "invalid_type"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{}})",
         "stream_options", nullptr},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":3})", "n", nullptr},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]})",
         "tools[0].function.name", "missing_required_parameter"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"f"}}})",
         "tool_choice", nullptr},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}})",
         "response_format.type", nullptr},
        // A number no double holds (read as infinity) cannot be passed on unchanged.
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"logit_bias":{"7":1e999}})",
         "logit_bias.7", nullptr},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"x":[1,-1e999]}})",
         "stream_options.x.1", nullptr},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.body) {
            auto r = decode_request(c.body);
            BOOST_TEST_REQUIRE(!r);
            auto const& e = r.error();
            BOOST_TEST(e.status == 400u);
            BOOST_TEST(e.param == c.param);
            BOOST_TEST(!e.message.empty());
            // In OpenAI's error shape, with the field as `param`.
            auto const a = server().encode_error(e);
            BOOST_TEST(a.status == 400u);
            auto const v = parse_json(a.body);
            auto const& err = v.at("error");
            BOOST_TEST(err.at("type").as_string() == "invalid_request_error");
            BOOST_TEST(err.at("message").as_string() == e.message);
            if (*c.param)
                BOOST_TEST(err.at("param").as_string() == c.param);
            else
                BOOST_TEST(err.at("param").is_null());
            if (c.code)
                BOOST_TEST(err.at("code").as_string() == c.code);
            else
                BOOST_TEST(err.at("code").is_null());
        }
    }
    // OpenAI's own words where the emulator's clients read them.
    BOOST_TEST(decode_request("{").error().message.find("could not parse the JSON body") !=
               std::string::npos);
    BOOST_TEST(decode_request(R"({"messages":[{"role":"user","content":"x"}]})").error().message ==
               "you must provide a model parameter");
}

BOOST_AUTO_TEST_CASE(server_takes_the_model_from_an_azure_path) {
    head_fixture h("/openai/deployments/dep/chat/completions");
    h.head.path_model = "dep";
    auto const from_path =
        server().decode_request(h.head, R"({"messages":[{"role":"user","content":"hi"}]})");
    BOOST_TEST_REQUIRE(!!from_path);
    BOOST_TEST(from_path->req.model == "dep");
    auto const from_body = server().decode_request(
        h.head, R"({"model":"body","messages":[{"role":"user","content":"hi"}]})");
    BOOST_TEST_REQUIRE(!!from_body);
    BOOST_TEST(from_body->req.model == "body");
}

BOOST_AUTO_TEST_CASE(server_renders_a_completion_with_tool_calls_and_usage) {
    chat_response r;
    r.tool_calls.push_back({"call_9", "get_weather", R"({"city":"Oslo"})"});
    r.finish_reason = finish_reason::tool_calls;
    r.usage.input_tokens = 12;
    r.usage.output_tokens = 5;
    auto const v = parse_json(encode_response(r, meta("chatcmpl-1", 1700000000, "gpt-smart")));
    BOOST_TEST(v.at("id").as_string() == "chatcmpl-1");
    BOOST_TEST(v.at("object").as_string() == "chat.completion");
    BOOST_TEST(v.at("created").to_number<std::int64_t>() == 1700000000);
    BOOST_TEST(v.at("model").as_string() == "gpt-smart");
    BOOST_TEST(v.at("system_fingerprint").is_string());
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
    BOOST_TEST(v.at("usage").at("prompt_tokens_details").at("cached_tokens").to_number<int>() == 0);
}

BOOST_AUTO_TEST_CASE(server_text_is_escaped) {
    chat_response r;
    r.content = "line\n\"quoted\" \\ \x01 é";
    r.finish_reason = finish_reason::stop;
    auto const v = parse_json(encode_response(r, meta("id", 1, "m")));
    BOOST_TEST(v.at("choices").as_array().at(0).at("message").at("content").as_string() ==
               r.content);
    BOOST_TEST(!v.as_object().contains("usage"));  // unknown usage is not sent as zeros
}

BOOST_AUTO_TEST_CASE(server_stream_has_role_content_finish_usage_and_done) {
    auto w = server().make_stream_encoder(meta("chatcmpl-2", 5, "gpt-smart"), true);
    std::string out;
    chat_chunk a;
    a.text = "Hel";
    w->chunk(a, out);
    chat_chunk b;
    b.text = "lo";
    w->chunk(b, out);
    chat_response r;
    r.content = "Hello";
    r.finish_reason = finish_reason::stop;
    r.usage.input_tokens = 3;
    r.usage.output_tokens = 2;
    w->finish(r, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 6u);
    BOOST_TEST(ev.back() == "[DONE]");
    auto const role = parse_json(ev[0]);
    BOOST_TEST(role.at("object").as_string() == "chat.completion.chunk");
    BOOST_TEST(role.at("id").as_string() == "chatcmpl-2");
    BOOST_TEST(role.at("model").as_string() == "gpt-smart");
    BOOST_TEST(role.at("choices").as_array().at(0).at("delta").at("role").as_string() ==
               "assistant");
    BOOST_TEST(role.at("choices").as_array().at(0).at("delta").at("content").as_string() == "");
    std::string text;
    for (std::size_t i = 1; i <= 2; ++i)
        text += parse_json(ev[i]).at("choices").as_array().at(0).at("delta").at("content").as_string();
    BOOST_TEST(text == "Hello");
    auto const fin = parse_json(ev[3]);
    BOOST_TEST(fin.at("choices").as_array().at(0).at("finish_reason").as_string() == "stop");
    BOOST_TEST(fin.at("usage").is_null());  // every chunk but the last says usage: null
    auto const use = parse_json(ev[4]);
    BOOST_TEST(use.at("choices").as_array().empty());
    BOOST_TEST(use.at("usage").at("total_tokens").to_number<int>() == 5);
}

BOOST_AUTO_TEST_CASE(server_stream_without_usage_has_no_usage_chunk) {
    auto w = server().make_stream_encoder(meta("c", 5, "m"), false);
    std::string out;
    chat_chunk a;
    a.text = "x";
    a.finish_reason = finish_reason::length;
    w->chunk(a, out);
    chat_response r;
    r.usage.input_tokens = 3;
    r.usage.output_tokens = 2;
    w->finish(r, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 4u);  // role, content, finish, [DONE]
    BOOST_TEST(parse_json(ev[2]).at("choices").as_array().at(0).at("finish_reason").as_string() ==
               "length");
    for (std::size_t i = 0; i + 1 < ev.size(); ++i)
        BOOST_TEST(!parse_json(ev[i]).as_object().contains("usage"));
}

BOOST_AUTO_TEST_CASE(server_stream_tool_call_deltas) {
    auto w = server().make_stream_encoder(meta("c", 5, "m"), false);
    std::string out;
    chat_chunk a;
    a.tool_calls.push_back({0, "call_1", "get_weather", ""});
    w->chunk(a, out);
    chat_chunk b;
    b.tool_calls.push_back({0, "", "", "{\"city\":"});
    w->chunk(b, out);
    chat_response r;
    r.tool_calls.push_back({"call_1", "get_weather", "{\"city\":"});
    w->finish(r, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 5u);
    // A stream that starts with a tool call has a null content in its role chunk, as OpenAI's.
    BOOST_TEST(parse_json(ev[0]).at("choices").as_array().at(0).at("delta").at("content").is_null());
    auto const first = parse_json(ev[1]).at("choices").as_array().at(0).at("delta").at("tool_calls");
    BOOST_TEST(first.as_array().at(0).at("id").as_string() == "call_1");
    BOOST_TEST(first.as_array().at(0).at("type").as_string() == "function");
    BOOST_TEST(first.as_array().at(0).at("function").at("name").as_string() == "get_weather");
    auto const second = parse_json(ev[2]).at("choices").as_array().at(0).at("delta").at("tool_calls");
    BOOST_TEST(!second.as_array().at(0).as_object().contains("id"));
    BOOST_TEST(second.as_array().at(0).at("function").at("arguments").as_string() == "{\"city\":");
    BOOST_TEST(parse_json(ev[3]).at("choices").as_array().at(0).at("finish_reason").as_string() ==
               "tool_calls");
}

BOOST_AUTO_TEST_CASE(server_stream_error_and_malformed_events) {
    auto w = server().make_stream_encoder(meta("c", 5, "m"), false);
    std::string out;
    chat_chunk a;
    a.text = "x";
    w->chunk(a, out);
    std::string bad;
    w->malformed(bad);
    BOOST_TEST(bad.starts_with("data: {\"id\":\"c\""));
    BOOST_TEST(bad.ends_with("\n\n"));
    boost::system::error_code ec;
    json::parse(std::string_view(bad).substr(6), ec);
    BOOST_TEST(!!ec);  // starts like a chunk, is not JSON
    detail::api_error e;
    e.status = 502;
    e.message = "upstream broke";
    w->error(e, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 3u);
    auto const err = parse_json(ev[2]).at("error");
    BOOST_TEST(err.at("message").as_string() == "upstream broke");
    BOOST_TEST(err.at("type").as_string() == "server_error");
    BOOST_TEST(err.at("code").as_string() == "server_error");  // a stream's error has a code
    // Nothing after the error.
    chat_chunk more;
    more.text = "late";
    std::string after;
    w->chunk(more, after);
    BOOST_TEST(after.empty());
}

BOOST_AUTO_TEST_CASE(server_errors_and_headers) {
    detail::api_error e;
    e.status = 402;
    e.code = "budget_exceeded";
    e.message = "spent";
    e.retry_after = std::chrono::milliseconds(1500);
    e.no_retry = true;
    auto const a = server().encode_error(e);
    BOOST_TEST(a.status == 402u);
    std::map<std::string, std::string> h(a.headers.begin(), a.headers.end());
    BOOST_TEST(h["retry-after"] == "2");  // rounded up
    BOOST_TEST(h["retry-after-ms"] == "1500");
    BOOST_TEST(h["x-should-retry"] == "false");
    BOOST_TEST(parse_json(a.body).at("error").at("type").as_string() == "insufficient_quota");

    // The provider's own wording, as the emulator answers.
    struct row {
        unsigned status;
        char const* type;
        char const* code;  // null: JSON null
    };
    for (auto const& r : {row{401, "invalid_request_error", "invalid_api_key"},
                          row{404, "invalid_request_error", "model_not_found"},
                          row{429, "requests", "rate_limit_exceeded"},
                          row{500, "server_error", nullptr},
                          row{599, "server_error", nullptr}}) {
        auto const body = parse_json(server().encode_error(server().error_for_status(r.status, "gpt-x")).body);
        BOOST_TEST_CONTEXT(r.status) {
            BOOST_TEST(body.at("error").at("type").as_string() == r.type);
            if (r.code)
                BOOST_TEST(body.at("error").at("code").as_string() == r.code);
            else
                BOOST_TEST(body.at("error").at("code").is_null());
        }
    }
    BOOST_TEST(server().error_for_status(404, "gpt-x").message.find("gpt-x") != std::string::npos);
    auto const missing = server().auth_error(true, {}, {});
    BOOST_TEST(missing.status == 401u);
    BOOST_TEST(missing.message.find("didn't provide an API key") != std::string::npos);
    BOOST_TEST(server().auth_error(false, {}, {}).message.find("Incorrect API key") != std::string::npos);
    auto const unknown = server().unknown_endpoint("GET", "/v1/nothing");
    BOOST_TEST(unknown.status == 404u);
    BOOST_TEST(unknown.code == "unknown_url");
    BOOST_TEST(unknown.message.find("GET /v1/nothing") != std::string::npos);

    auto m = meta("chatcmpl-x", 1, "m");
    m.request_id = "req_7";
    m.processing_ms = 12;
    auto const head = served_head(server(), m);
    BOOST_TEST(head.header("x-request-id") == "req_7");
    BOOST_TEST(head.header("openai-processing-ms") == "12");
    BOOST_TEST(server().make_id(detail::id_kind::response, "emu", 7) == "chatcmpl-emu-7");
    BOOST_TEST(server().make_id(detail::id_kind::tool_call, "emu", 7) == "call_emu_7");
    BOOST_TEST(server().make_id(detail::id_kind::request, "emu", 7) == "req_emu_7");
}

BOOST_AUTO_TEST_CASE(server_models_list) {
    std::vector<std::string> names = {"gpt-smart", "openai/gpt-4o-mini"};
    std::string body;
    server().encode_models(names, 42, body);
    auto const v = parse_json(body);
    BOOST_TEST(v.at("object").as_string() == "list");
    auto const& d = v.at("data").as_array();
    BOOST_TEST_REQUIRE(d.size() == 2u);
    BOOST_TEST(d[1].at("id").as_string() == "openai/gpt-4o-mini");
    BOOST_TEST(d[1].at("object").as_string() == "model");
    BOOST_TEST(d[1].at("created").to_number<int>() == 42);
}

// ---------------------------------------------------------------------------------------------
// Round trips: client-encode then server-decode gives the request back; server-encode then
// client-decode gives the response and its chunks back.

namespace {

/** What OpenAI's wire can carry of `r`, as the server side decodes it: the model is the
    provider's own name; the system prompt is the first message; tool results travel as tool
    messages (ahead of the rest of their user message), without OpenAI's missing is_error flag
    and named after the call they answer; text parts are joined; empty tool arguments are `{}`;
    a tool_choice of auto or none without tools, and a text response format, are not sent; the
    per-call headers are the client's. `extra` is merged into the body: the fields it sets are
    read back as such, the others come back as `native` (`extra`).
*/
chat_request as_openai_carries(chat_request const& r, std::string_view model) {
    chat_request out;
    out.model = std::string(model);
    std::map<std::string, std::string> call_names;
    auto tool_message = [&](tool_result res) {
        res.is_error = false;
        auto it = call_names.find(res.tool_call_id);
        res.name = it == call_names.end() ? std::string() : it->second;
        out.messages.push_back(message{role::tool, {std::move(res)}});
    };
    if (!r.system.empty()) out.messages.push_back(system(r.system));
    for (auto const& m : r.messages) {
        std::string text;
        bool images = false;
        std::vector<content_part> rest;
        for (auto const& p : m.content) {
            if (auto const* t = std::get_if<text_part>(&p)) {
                text += t->text;
                rest.push_back(p);
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                call_names[c->id] = c->name;
            } else if (std::holds_alternative<image_part>(p)) {
                images = true;
                rest.push_back(p);
            }
        }
        switch (m.role) {
        case role::system:
            out.messages.push_back(system(text));
            break;
        case role::tool:
            for (auto const& p : m.content) tool_message(std::get<tool_result>(p));
            break;
        case role::user: {
            bool results = false;
            for (auto const& p : m.content)
                if (auto const* res = std::get_if<tool_result>(&p)) {
                    tool_message(*res);
                    results = true;
                }
            if (results && rest.empty()) break;
            out.messages.push_back(images ? user(rest) : user(text));
            break;
        }
        case role::assistant: {
            std::vector<tool_call> calls;
            for (auto const& p : m.content)
                if (auto const* c = std::get_if<tool_call>(&p))
                    calls.push_back({c->id, c->name, c->arguments.empty() ? "{}" : c->arguments});
            if (calls.empty() && text.empty())
                out.messages.push_back(assistant(""));
            else
                out.messages.push_back(assistant(text, calls));
            break;
        }
        }
    }
    out.temperature = r.temperature;
    out.top_p = r.top_p;
    out.max_tokens = r.max_tokens;
    out.stop = r.stop;
    out.seed = r.seed;
    out.user = r.user;
    out.tools = r.tools;
    out.tool_choice = r.tool_choice;
    if (out.tool_choice && r.tools.empty() &&
        (out.tool_choice->how == tool_choice::mode::automatic ||
         out.tool_choice->how == tool_choice::mode::none))
        out.tool_choice.reset();
    if (r.response_format && r.response_format->type != response_format::kind::text)
        out.response_format = r.response_format;
    for (auto const& [k, v] : r.extra) {
        if (k == "temperature")
            out.temperature = v.to_number<double>();
        else if (k != "stream_options")
            out.extra.emplace(k, v);
        else if (auto so = v.as_object(); so.erase("include_usage"), !so.empty())
            out.extra.emplace(k, std::move(so));  // include_usage is read, the rest kept
    }
    return out;
}

/// What OpenAI's answer shape carries of `r`: the finish reason OpenAI names (stop when
/// unknown, tool_calls when calls came without one), empty tool arguments as `{}`, and usage
/// when it is known, with the cache and reasoning details (0 when unknown) but not a reported
/// cost (an answer's cost is the gateway's to compute).
chat_response as_openai_answers(chat_response r) {
    if (r.finish_reason == finish_reason::unknown || r.finish_reason == finish_reason::error)
        r.finish_reason = r.tool_calls.empty() ? finish_reason::stop : finish_reason::tool_calls;
    r.native_finish_reason = std::string(detail::openai::finish_name(r.finish_reason));
    for (auto& c : r.tool_calls)
        if (c.arguments.empty()) c.arguments = "{}";
    if (!r.usage.known()) {
        r.usage = {};
    } else {
        if (!r.usage.total_tokens) r.usage.total_tokens = *r.usage.input_tokens + *r.usage.output_tokens;
        if (!r.usage.cached_input_tokens) r.usage.cached_input_tokens = 0;
        if (!r.usage.reasoning_tokens) r.usage.reasoning_tokens = 0;
        r.usage.reported_cost.reset();
    }
    return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_every_request_fixture) {
    for (auto const& [file, build] : request_builders) {
        BOOST_TEST_CONTEXT("fixture " << file) {
            json::object const fx = load_json(file).as_object();
            json::object options;
            if (auto const* o = fx.if_contains("options")) options = o->as_object();
            auto const p = provider_named(std::string(str(fx.at("provider"))), options);
            std::string const model(str(fx.at("model")));
            bool const stream = fx.at("stream").as_bool();
            auto const original = build();
            auto const sent = fmt().encode(original, encode_context{p, model, stream});
            BOOST_REQUIRE_MESSAGE(sent.has_value(), (sent ? "" : sent.error().to_string()));

            head_fixture h(sent->target);
            auto const got = server().decode_request(h.head, sent->body);
            BOOST_REQUIRE_MESSAGE(got.has_value(), (got ? "" : got.error().message));
            BOOST_TEST(got->stream == stream);
            BOOST_TEST(got->include_usage == stream);  // the client always asks for usage
            chat_request back = got->req;
            back.extra = got->native;
            check_json(request_json(back), request_json(as_openai_carries(original, model)),
                       "request");

            // And what came back encodes to the same bytes: nothing was lost or added.
            auto const again = fmt().encode(back, encode_context{p, model, stream});
            BOOST_REQUIRE(again.has_value());
            check_json(body_of(*again), body_of(*sent), "re-encoded body");
        }
    }
}

BOOST_AUTO_TEST_CASE(round_trip_every_response_fixture) {
    json::object const table = load_json("responses.json").as_object();
    std::size_t n = 0;
    for (auto const& cv : table.at("cases").as_array()) {
        auto const& c = cv.as_object();
        if (!c.contains("response")) continue;  // failures have no answer to send back
        BOOST_TEST_CONTEXT("case '" << str(c.at("name")) << "'") {
            auto const original = fmt().decode(case_head(c), case_body(c));
            BOOST_REQUIRE(original.has_value());
            auto m = meta(original->id, 1700000000, original->model);
            m.request_id = original->request_id;
            std::string const body = encode_response(*original, m);
            auto const back = fmt().decode(served_head(server(), m), body);
            BOOST_REQUIRE_MESSAGE(back.has_value(), (back ? "" : back.error().to_string()));
            check_json(response_json(*back), response_json(as_openai_answers(*original)),
                       "response");
            ++n;
        }
    }
    BOOST_TEST(n >= 7u);  // every answer case of responses.json
}

BOOST_AUTO_TEST_CASE(round_trip_every_stream_fixture) {
    json::object const table = load_json("streams.json").as_object();
    std::size_t n = 0;
    for (auto const& cv : table.at("cases").as_array()) {
        auto const& c = cv.as_object();
        if (c.at("end") != json::value("ok")) continue;  // a failed stream has nothing to resend
        BOOST_TEST_CONTEXT("stream '" << str(c.at("name")) << "'") {
            std::string const original_bytes = case_body(c);
            auto d = fmt().make_stream_decoder();
            std::vector<chat_chunk> chunks;
            BOOST_REQUIRE(d->feed(original_bytes, chunks).has_value());
            BOOST_REQUIRE(d->finish(chunks).has_value());
            auto const whole = accumulate(chunks);
            auto const& info = d->info();

            std::string const bytes =
                encode_stream(server(), meta(info.id, 1700000000, info.model), true, chunks, whole);
            json::object const back = decode_at_every_split(fmt(), bytes);

            // The same chunks, one event per kind of content (text, reasoning, tool calls, the
            // finish reason) and the usage last, as OpenAI sends them.
            json::array expected;
            bool finished = false;
            for (auto const& ch : chunks) {
                chat_chunk part;
                part.text = ch.text;
                if (part.has_content()) expected.push_back(chunk_json(part));
                part = {};
                part.reasoning = ch.reasoning;
                if (part.has_content()) expected.push_back(chunk_json(part));
                part = {};
                part.tool_calls = ch.tool_calls;
                if (part.has_content()) expected.push_back(chunk_json(part));
                if (ch.finish_reason && !finished) {
                    auto fr = *ch.finish_reason;
                    if (fr == finish_reason::unknown) fr = finish_reason::stop;
                    json::object fin{{"finish_reason", to_string(fr)}};
                    // DeepSeek's reasoning_content comes back whole on the finishing chunk.
                    if (!whole.reasoning.empty())
                        fin["reasoning_parts"] = json::array{json::object{
                            {"kind", 0}, {"origin", "deepseek"}, {"text", whole.reasoning}}};
                    expected.push_back(std::move(fin));
                    finished = true;
                }
            }
            auto const carried = as_openai_answers(whole);
            if (!finished)
                expected.push_back(json::object{{"finish_reason", to_string(carried.finish_reason)}});
            if (whole.usage.known())
                expected.push_back(json::object{{"usage", usage_json(carried.usage)}});
            check_json(back.at("chunks"), expected, "chunks");
            check_json(back.at("end"), json::value("ok"), "end");
            check_json(back.at("info").at("id"), json::value(info.id), "id");
            check_json(back.at("info").at("model"), json::value(info.model), "model");
            ++n;
        }
    }
    BOOST_TEST(n >= 6u);
}

// A field without a name could be neither passed on by its name nor named in a refusal.
BOOST_AUTO_TEST_CASE(server_refuses_a_field_without_a_name) {
    auto const r = decode_request(R"({"model":"m","messages":[{"role":"user","content":"x"}],"":1})");
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().status == 400);
    BOOST_TEST(r.error().message.find("Unrecognized request argument") != std::string::npos, r.error().message);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
