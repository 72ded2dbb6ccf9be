// SPDX-License-Identifier: BSL-1.0
// The Anthropic Messages wire format (and its Claude-on-Vertex variant), table-driven over the
// fixtures in tests/data/anthropic/: the requests we build, the responses, errors and streams
// we decode.
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
    return detail::anthropic_messages_format();
}

// The shared fixture helpers (tests/common/wire_fixtures.hpp), for tests/data/anthropic/.
constexpr std::string_view fixture_dir = "anthropic";
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
    p.wire = "anthropic";
    p.options = std::move(options);
    return p;
}

result<http_request> encode(chat_request const& req, bool stream = false, json::object options = {},
                            std::string_view model = "claude-x") {
    auto const p = provider_named("anthropic", std::move(options));
    return fmt().encode(req, encode_context{p, model, stream});
}

chat_request hi() {
    return {.model = "anthropic/claude-x", .messages = {user("hi")}};
}

// The unified requests the request_*.json fixtures were written for.
std::map<std::string, std::function<chat_request()>, std::less<>> const request_builders = {
    {"request_minimal.json", [] { return hi(); }},
    {"request_tool_call.json",
     [] {
         chat_request r;
         r.model = "anthropic/claude-sonnet-4-5";
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
         r.model = "anthropic/claude-sonnet-4-5";
         r.messages = {
             system("You are terse."),
             user("Weather in Oslo and Bergen?"),
             assistant("", {{"toolu_a1", "get_weather", R"({"city":"Oslo"})"},
                            {"toolu_a2", "get_weather", R"({"city":"Bergen"})"}}),
             tool_answer("toolu_a1", R"({"temp_c":4})", "get_weather"),
             tool_answer("toolu_a2", R"({"temp_c":7})"),
             assistant("Oslo 4 °C, Bergen 7 °C. Checking Trondheim.",
                       {{"toolu_b1", "get_weather", ""}}),
             user({text_part{"Thanks!"},
                   tool_result{"toolu_b1", "get_weather", "city unknown", true}}),
             system("Be kind."),
             user("And tomorrow?"),
         };
         return r;
     }},
    {"request_images.json",
     [] {
         chat_request r;
         r.model = "anthropic/claude-sonnet-4-5";
         r.messages = {
             user({text_part{"What is in these pictures?"},
                   image_part{"https://example.com/cat.png", "high"},
                   image_base64("image/png", "iVBORw0KGgo="), text_part{"Be brief."}}),
             assistant("A cat and a dot."),
             user({image_part{"data:image/JPEG;base64,/9j/4AAQ", "low"}}),
         };
         return r;
     }},
    {"request_all_options.json",
     [] {
         chat_request r;
         r.model = "anthropic/claude-opus-4-1";
         r.system = "Answer in JSON.";
         r.messages = {system("Use British spelling."), user("List two colours.")};
         r.temperature = 0.5;
         r.top_p = 0.9;
         r.max_tokens = 512;
         r.user = "user-1234";
         r.stop = {"END", "\n\n"};
         r.tools = {tool{"lookup", "Look a colour up",
                         json::parse(R"({"type":"object","properties":{"name":{"type":"string"}},)"
                                     R"("required":["name"],"additionalProperties":false})")
                             .as_object(),
                         true},
                    tool{"now", "", {}, false}};
         r.tool_choice = tool_choice::named("lookup");
         r.extra = json::parse(R"({"top_k":40,"thinking":{"type":"enabled","budget_tokens":1024}})")
                       .as_object();
         return r;
     }},
    {"request_json_schema.json",
     [] {
         chat_request r;
         r.model = "anthropic/claude-sonnet-4-5";
         r.messages = {user("List two colours.")};
         r.response_format = response_format::json_schema(
             "colours", json::parse(R"({"type":"object","properties":)"
                                    R"({"colours":{"type":"array","items":{"type":"string"}}},)"
                                    R"("required":["colours"]})")
                            .as_object());
         return r;
     }},
    {"request_json_object_with_tools.json",
     [] {
         chat_request r;
         r.model = "anthropic/claude-sonnet-4-5";
         r.messages = {user("Give me JSON.")};
         r.max_tokens = 64;
         r.tools = {tool{"emit", "", json::object{{"type", "object"}}, false}};
         r.tool_choice = tool_choice::required();
         r.response_format = response_format::json();
         return r;
     }},
    {"request_provider_options.json", [] { return hi(); }},
    {"request_vertex.json",
     [] {
         chat_request r = hi();
         r.model = "vertex/claude-sonnet-4-5@20250929";
         r.system = "Be brief.";
         return r;
     }},
    {"request_vertex_stream.json",
     [] {
         chat_request r = hi();
         r.model = "vertex/anthropic/claude-haiku-4-5";
         r.max_tokens = 100;
         return r;
     }},
};

std::string message_of(result<http_request> const& r) {
    return r ? std::string() : r.error().diag.message;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(anthropic_messages)

BOOST_AUTO_TEST_CASE(registered) {
    BOOST_TEST(detail::find_wire_format("anthropic") == &fmt());
    BOOST_TEST(fmt().name() == "anthropic");
    BOOST_TEST(&fmt().for_model("claude-x") == &fmt());
    // Vertex serves Claude models with this format.
    auto const* vertex = detail::find_wire_format("vertex");
    BOOST_REQUIRE(vertex);
    BOOST_TEST(&vertex->for_model("claude-sonnet-4-5@20250929") == &fmt());
    BOOST_TEST(&vertex->for_model("anthropic/claude-haiku-4-5") == &fmt());
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
    auto const r = encode(hi());
    BOOST_REQUIRE(r.has_value());
    auto const b = body_of(*r);
    BOOST_TEST(b.size() == 3u);  // model, max_tokens (required) and messages only
    for (auto key : {"system", "temperature", "top_p", "stop_sequences", "metadata", "tools",
                     "tool_choice", "stream", "seed", "anthropic_version"})
        BOOST_TEST(!b.contains(key), key);
    // A text response format is the default: nothing is sent for it.
    chat_request req = hi();
    req.response_format = response_format{};
    BOOST_TEST(body_of(*encode(req)).size() == 3u);
    // No tools: a tool_choice of auto or none is left out.
    req.tool_choice = tool_choice::automatic();
    BOOST_TEST(!body_of(*encode(req)).contains("tool_choice"));
    req.tool_choice = tool_choice::none();
    BOOST_TEST(!body_of(*encode(req)).contains("tool_choice"));
    // An empty system prompt is not sent either.
    req.system = "";
    req.messages.insert(req.messages.begin(), system(""));
    BOOST_TEST(!body_of(*encode(req)).contains("system"));
}

BOOST_AUTO_TEST_CASE(each_field_exact) {
    chat_request req = hi();
    auto field = [&](bool stream = false, json::object opts = {}) {
        auto r = encode(req, stream, std::move(opts));
        BOOST_REQUIRE_MESSAGE(r.has_value(), message_of(r));
        return body_of(*r);
    };
    BOOST_TEST(field().at("max_tokens") == json::value(4096));
    BOOST_TEST(field(false, {{"default_max_tokens", 2048}}).at("max_tokens") == json::value(2048));
    req.max_tokens = 5;
    BOOST_TEST(field(false, {{"default_max_tokens", 2048}}).at("max_tokens") == json::value(5));
    req.temperature = 0.0;
    BOOST_TEST(field().at("temperature") == json::value(0.0));
    req.top_p = 1.0;
    BOOST_TEST(field().at("top_p") == json::value(1.0));
    req.user = "u";
    BOOST_TEST(field().at("metadata") == json::parse(R"({"user_id":"u"})"));
    req.stop = {"a"};
    BOOST_TEST(field().at("stop_sequences") == json::parse(R"(["a"])"));  // always an array
    req.system = "sys";
    BOOST_TEST(field().at("system") == json::value("sys"));
    BOOST_TEST(field(true).at("stream") == json::value(true));
    BOOST_TEST(!field(false).contains("stream"));
    req.tools = {tool{"f", "", weather_schema(), false}};
    req.tool_choice = tool_choice::none();
    BOOST_TEST(field().at("tool_choice") == json::parse(R"({"type":"none"})"));
    req.tool_choice = tool_choice::required();
    BOOST_TEST(field().at("tool_choice") == json::parse(R"({"type":"any"})"));
    req.tool_choice = tool_choice::named("f");
    BOOST_TEST(field().at("tool_choice") == json::parse(R"({"type":"tool","name":"f"})"));
    // A single beta feature as a string.
    auto const r = encode(req, false, {{"anthropic_beta", "interleaved-thinking-2025-05-14"}});
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->header("anthropic-beta") == "interleaved-thinking-2025-05-14");
}

BOOST_AUTO_TEST_CASE(extra_wins) {
    chat_request req = hi();
    req.temperature = 1.0;
    req.user = "u1";
    req.extra = json::parse(R"({"temperature":0.1,"max_tokens":7,"metadata":{"user_id":"u2"},
                                "service_tier":"auto"})")
                    .as_object();
    auto const r = encode(req, true);
    BOOST_REQUIRE(r.has_value());
    auto const b = body_of(*r);
    BOOST_TEST(b.at("temperature") == json::value(0.1));
    BOOST_TEST(b.at("max_tokens") == json::value(7));
    BOOST_TEST(b.at("metadata") == json::parse(R"({"user_id":"u2"})"));
    BOOST_TEST(b.at("service_tier") == json::value("auto"));
    BOOST_TEST(b.at("stream") == json::value(true));
}

BOOST_AUTO_TEST_CASE(headers_carry_no_auth) {
    chat_request req = hi();
    req.headers = {{"X-Custom", "1"}};  // applied by the client, not the wire format
    auto const r = encode(req);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->header("x-custom").empty());
    BOOST_TEST(r->header("x-api-key").empty());
    BOOST_TEST(r->header("Authorization").empty());
    BOOST_TEST(r->headers.size() == 3u);
}

BOOST_AUTO_TEST_CASE(seed_is_unsupported) {
    chat_request req = hi();
    req.seed = 42;
    auto const r = encode(req);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::unsupported));
    BOOST_TEST(r.error().diag.message.find("seed") == 0u, r.error().diag.message);
}

BOOST_AUTO_TEST_CASE(json_answers) {
    // json_object without tools: a forced answer tool taking any object.
    chat_request req = hi();
    req.response_format = response_format::json();
    auto const r = encode(req);
    BOOST_REQUIRE_MESSAGE(r.has_value(), message_of(r));
    auto const b = body_of(*r);
    BOOST_TEST(b.at("tools") == json::parse(R"([{"name":"llmux_json_answer",
        "description":"Give your answer as this tool's input.",
        "input_schema":{"type":"object"}}])"));
    BOOST_TEST(b.at("tool_choice") == json::parse(R"({"type":"tool","name":"llmux_json_answer"})"));

    // A schema without a root type gets "type":"object" (a tool input is an object).
    req.response_format =
        response_format::json_schema("p", json::parse(R"({"properties":{"a":{}}})").as_object());
    BOOST_TEST(body_of(*encode(req)).at("tools").at(0).at("input_schema") ==
               json::parse(R"({"type":"object","properties":{"a":{}}})"));

    // Not expressible: a non-object root, or a tool_choice that forbids the answer tool.
    auto const unsupported = make_error_code(error::unsupported);
    req.response_format = response_format::json_schema(
        "list", json::parse(R"({"type":"array","items":{"type":"string"}})").as_object());
    auto const arr = encode(req);
    BOOST_REQUIRE(!arr.has_value());
    BOOST_TEST(arr.error().code == unsupported);
    BOOST_TEST(arr.error().diag.message.find("response_format") == 0u);
    req.response_format = response_format::json();
    req.tools = {tool{"f", "", {}, false}};
    for (auto const& tc : {tool_choice::none(), tool_choice::named("f")}) {
        req.tool_choice = tc;
        auto const e = encode(req);
        BOOST_REQUIRE(!e.has_value());
        BOOST_TEST(e.error().code == unsupported);
        BOOST_TEST(e.error().diag.message.find("tool_choice") != std::string::npos);
    }
    // The answer tool's name is reserved.
    chat_request clash = hi();
    clash.tools = {tool{"llmux_json_answer", "", {}, false}};
    BOOST_TEST(encode(clash).error().code == make_error_code(error::invalid_request));
}

BOOST_AUTO_TEST_CASE(invalid_requests) {
    auto code_of = [](chat_request const& req) {
        auto r = encode(req);
        return r ? boost::system::error_code() : r.error().code;
    };
    auto const invalid = make_error_code(error::invalid_request);
    auto const unsupported = make_error_code(error::unsupported);
    BOOST_TEST(code_of({.model = "x/m"}) == invalid);
    BOOST_TEST(message_of(encode({.model = "x/m"})) == "the request has no messages");
    BOOST_TEST(code_of({.model = "x/m", .messages = {system("only")}}) == invalid);

    // Tool-call arguments must be a JSON object; the error names the call.
    for (auto args : {"{\"city\":", "[1,2]", "nope"}) {
        chat_request req{
            .model = "x/m",
            .messages = {user("q"), assistant("", {{"toolu_9", "get_weather", args}})}};
        auto const r = encode(req);
        BOOST_TEST_CONTEXT(args) {
            BOOST_REQUIRE(!r.has_value());
            BOOST_TEST(r.error().code == invalid);
            BOOST_TEST(r.error().diag.message.find("messages[1].content[0]") == 0u);
            BOOST_TEST(r.error().diag.message.find("'toolu_9' (get_weather)") != std::string::npos,
                       r.error().diag.message);
        }
    }
    // Whitespace-only arguments are no arguments.
    BOOST_TEST(
        code_of({.model = "x/m", .messages = {user("q"), assistant("", {{"t", "f", "  "}})}}) ==
        boost::system::error_code());

    struct image_case {
        std::string_view url;
        boost::system::error_code code;
    };
    for (auto const& c :
         {image_case{"http://example.com/a.png", unsupported},
          image_case{"data:image/bmp;base64,Qk0=", unsupported},
          image_case{"data:application/pdf;base64,JVBERi0=", unsupported},
          image_case{"ftp://example.com/a.png", invalid}, image_case{"example.com/a.png", invalid},
          image_case{"", invalid}, image_case{"https://", invalid},
          image_case{"data:image/png,iVBOR", invalid}, image_case{"data:;base64,AAAA", invalid},
          image_case{"data:image/png;base64,", invalid}}) {
        chat_request req{
            .model = "x/m",
            .messages = {user({text_part{"look"}, image_part{std::string(c.url), ""}})}};
        auto const r = encode(req);
        BOOST_TEST_CONTEXT("url '" << c.url << "'") {
            BOOST_REQUIRE(!r.has_value());
            BOOST_TEST(r.error().code == c.code);
            BOOST_TEST(r.error().diag.message.find("messages[0].content[1]") == 0u,
                       r.error().diag.message);
        }
    }
    for (auto url : {"https://example.com/a.png", "HTTPS://EXAMPLE.COM/A.PNG",
                     "data:image/webp;base64,UklGR", "data:image/gif;base64,R0lGOD"}) {
        chat_request req{.model = "x/m", .messages = {user({image_part{url, ""}})}};
        BOOST_TEST(encode(req).has_value(), url);
    }

    chat_request named{.model = "x/m", .messages = {user("hi")}};
    named.tools = {tool{"a", "", {}, false}};
    named.tool_choice = tool_choice::named("b");
    BOOST_TEST(code_of(named) == invalid);
    BOOST_TEST(message_of(encode(named)).find("'b'") != std::string::npos);
    named.tool_choice = tool_choice::named("a");
    BOOST_TEST(code_of(named) == boost::system::error_code());
    named.tools.clear();
    BOOST_TEST(code_of(named) == invalid);

    chat_request required{.model = "x/m", .messages = {user("hi")}};
    required.tool_choice = tool_choice::required();
    BOOST_TEST(code_of(required) == invalid);

    chat_request nameless{.model = "x/m", .messages = {user("hi")}};
    nameless.tools = {tool{"", "", {}, false}};
    BOOST_TEST(code_of(nameless) == invalid);

    // Empty messages are rejected by Anthropic: say so before sending.
    BOOST_TEST(code_of({.model = "x/m", .messages = {user("")}}) == invalid);
    BOOST_TEST(message_of(encode({.model = "x/m", .messages = {user("q"), assistant("")}})) ==
               "messages[1] has no content; Anthropic rejects empty messages");

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
    BOOST_TEST(code_of({.model = "x/m",
                        .messages = {user("q"), assistant("", {{"", "f", "{}"}})}}) == invalid);
    BOOST_TEST(code_of({.model = "x/m",
                        .messages = {user("q"), assistant("", {{"i", "", "{}"}})}}) == invalid);
    BOOST_TEST(code_of({.model = "x/m",
                        .messages = {message{role::system, {image_part{"https://x/y.png", ""}}},
                                     user("q")}}) == unsupported);
    BOOST_TEST(code_of({.model = "x/m",
                        .messages = {user("q"), message{role::assistant,
                                                        {image_part{"https://x/y.png", ""}}}}}) ==
               unsupported);

    chat_request zero = hi();
    zero.max_tokens = 0;
    BOOST_TEST(code_of(zero) == invalid);
    auto const bad_default = encode(hi(), false, {{"default_max_tokens", "lots"}});
    BOOST_REQUIRE(!bad_default.has_value());
    BOOST_TEST(bad_default.error().code == make_error_code(error::invalid_config));
}

BOOST_AUTO_TEST_CASE(tool_result_ordering_and_empty_content) {
    // A tool result with empty content leaves `content` out; text after results stays after.
    chat_request req{.model = "x/m",
                     .messages = {user("q"), assistant("", {{"t1", "f", "{}"}}),
                                  user({text_part{"first"}, tool_result{"t1", "f", "", false}})}};
    auto const r = encode(req);
    BOOST_REQUIRE_MESSAGE(r.has_value(), message_of(r));
    BOOST_TEST(body_of(*r).at("messages").at(2) ==
               json::parse(R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t1"},
                              {"type":"text","text":"first"}]})"));
}

BOOST_AUTO_TEST_CASE(vertex_model_is_percent_encoded) {
    auto const p = provider_named("vertex", {{"vertex", true}});
    auto const r = fmt().encode(hi(), encode_context{p, "claude x/y~error=529,after=2", false});
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->target ==
               "/publishers/anthropic/models/claude%20x%2Fy~error%3D529%2Cafter%3D2:rawPredict");
    BOOST_TEST(r->header("anthropic-version").empty());
    BOOST_TEST(!body_of(*r).contains("model"));
    // "vertex": false (or absent) is the direct API.
    auto const q = provider_named("anthropic", {{"vertex", false}});
    auto const d = fmt().encode(hi(), encode_context{q, "claude-x", false});
    BOOST_REQUIRE(d.has_value());
    BOOST_TEST(d->target == "/v1/messages");
}

BOOST_AUTO_TEST_CASE(response_fixtures) {
    check_response_table(fmt(), fixture_dir);
}

BOOST_AUTO_TEST_CASE(error_fixtures) {
    check_error_table(fmt(), fixture_dir);
}

BOOST_AUTO_TEST_CASE(every_documented_error_type_is_covered) {
    // PROVIDERS.md 3.4: each type appears in errors.json.
    std::string const text = load_text("errors.json") + load_text("responses.json");
    for (auto t : {"invalid_request_error", "authentication_error", "billing_error",
                   "permission_error", "not_found_error", "request_too_large", "rate_limit_error",
                   "api_error", "timeout_error", "overloaded_error"}) {
        std::string const file = std::string("\"error_type\": \"") + t + "\"";
        BOOST_TEST(text.find(file) != std::string::npos, t);
    }
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

BOOST_AUTO_TEST_CASE(stream_tool_calls_assemble) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_REQUIRE(d->feed(load_text("stream_two_tools.sse"), chunks).has_value());
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
    BOOST_TEST(calls[0].id == "toolu_A");
    BOOST_TEST(calls[0].name == "get_weather");
    BOOST_TEST(calls[0].arguments == R"({"city":"Oslo"})");
    BOOST_TEST(calls[1].id == "toolu_B");
    BOOST_TEST(calls[1].arguments == R"({"city":"Bergen"})");
}

BOOST_AUTO_TEST_CASE(stream_failure_is_sticky) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    auto const r = d->feed("event: content_block_delta\ndata: {not json}\n\n", chunks);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::protocol_error));
    // Later bytes, even a clean end, do not revive it.
    auto const again =
        d->feed("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", chunks);
    BOOST_REQUIRE(!again.has_value());
    BOOST_TEST(again.error().code == make_error_code(error::protocol_error));
    auto const fin = d->finish(chunks);
    BOOST_REQUIRE(!fin.has_value());
    BOOST_TEST(fin.error().code == make_error_code(error::protocol_error));
    BOOST_TEST(chunks.empty());
}

BOOST_AUTO_TEST_CASE(stream_error_event_types) {
    struct tc {
        std::string_view body;
        error code;
        std::string_view message;
    };
    for (auto const& t : {
             tc{"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\","
                "\"message\":\"slow down\"}}\n\n",
                error::rate_limited, "slow down"},
             tc{"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                "\"message\":\"boom\"}}\n\n",
                error::server_error, "boom"},
             tc{"event: error\ndata: "
                "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                "\"message\":\"prompt is too long: 300000 tokens > 200000 maximum\"}}\n\n",
                error::context_length_exceeded,
                "prompt is too long: 300000 tokens > 200000 maximum"},
             tc{"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"brand_new_error\","
                "\"message\":\"hm\"}}\n\n",
                error::server_error, "hm"},
             tc{"event: error\ndata: upstream crashed\n\n", error::server_error,
                "upstream crashed"},
             tc{"data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                "\"Overloaded\"}}\n\n",
                error::overloaded, "Overloaded"},
         }) {
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

BOOST_AUTO_TEST_CASE(stream_events_after_message_stop_ignored) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_TEST(d->feed("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n"
                       "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
                       "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
                       "\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
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

BOOST_AUTO_TEST_CASE(stream_large_event) {
    // Bigger than the decoder's arena: still parsed, and the arena is reused afterwards.
    std::string const big(100000, 'y');
    auto delta = [](std::string const& text) {
        return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
               "\"delta\":{\"type\":\"text_delta\",\"text\":\"" +
               text + "\"}}\n\n";
    };
    std::string body =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n";
    body += delta(big) + delta("z");
    body += "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
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
