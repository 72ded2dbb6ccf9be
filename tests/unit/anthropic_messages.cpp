// SPDX-License-Identifier: BSL-1.0
// The Anthropic Messages wire format (and its Claude-on-Vertex variant), both sides,
// table-driven over the fixtures in tests/data/anthropic/: the requests we build, the
// responses, errors and streams we decode; the requests the server side decodes and the
// answers, streams and errors it writes; and the round trips between the two sides.
#include "common/wire_fixtures.hpp"
#include "util/text.hpp"
#include "wire/anthropic_messages.hpp"
#include "wire/common.hpp"
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
         r.extra = json::parse(R"({"top_k":40,"service_tier":"standard_only"})").as_object();
         return r;
     }},
    {"request_thinking_cache_documents.json",
     [] {
         chat_request r;
         r.model = "anthropic/claude-sonnet-4-5";
         r.system = "A long manual.";
         r.system_cache = cache_control{"1h"};
         r.max_tokens = 8192;
         r.reasoning = reasoning_options{{}, 2048, true};
         message u{role::user, {}};
         u.content.emplace_back(document_base64("application/pdf", "JVBERi0xLjQ=", "q3.pdf"));
         u.content.emplace_back(text_part{"Weather where the report was written?", cache_control{}});
         r.messages.push_back(std::move(u));
         message a{role::assistant, {}};
         a.content.emplace_back(reasoning_part{{}, "The report says Oslo.", "EqQBCkYI", {}, {}, "anthropic"});
         a.content.emplace_back(reasoning_part{reasoning_part::kind::redacted, {}, {}, "EmwKAhgB", {}, "anthropic"});
         // Another provider's reasoning is not sent to Claude.
         a.content.emplace_back(reasoning_part{{}, "", "CpAI", {}, {}, "google"});
         a.content.emplace_back(tool_call{"toolu_1", "get_weather", R"({"city":"Oslo"})"});
         r.messages.push_back(std::move(a));
         r.messages.push_back(tool_answer("toolu_1", "4C", "get_weather"));
         r.tools = {tool{"get_weather", "", json::parse(R"({"type":"object"})").as_object(), false,
                         cache_control{}}};
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
                     "data:image/webp;base64,UklGR", "data:image/gif;base64,R0lGOD",
                     // RFC 2397's scheme and ";base64" in any case, as the other formats take them
                     "DATA:image/PNG;BASE64,iVBOR", "Data:image/jpeg;Base64,/9j/"}) {
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

// ---------------------------------------------------------------------------------------------
// The server side (src/wire/anthropic_messages_server.cpp)

namespace {

detail::wire_server const& server() {
    return detail::anthropic_messages_server();
}

json::value parse_json(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

using header_pairs = std::vector<std::pair<std::string, std::string>>;

/// A POST to `path` with `headers` (by default, the version header the SDKs send).
struct head_fixture : request_head_fixture {
    explicit head_fixture(std::string_view path = "/v1/messages",
                          header_pairs h = {{"anthropic-version", "2023-06-01"}})
        : request_head_fixture(path, std::move(h)) {}
};

boost::system::result<detail::inbound_request, detail::api_error>
decode_request(std::string_view body, std::string_view path = "/v1/messages") {
    head_fixture h(path);
    return server().decode_request(h.head, body);
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
        auto v = parse_json(data.substr(6));
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

detail::answer_meta meta(std::string_view id, std::string_view model) {
    detail::answer_meta m;
    m.id = id;
    m.created = 1700000000;
    m.model = model;
    return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(server_registered) {
    BOOST_TEST(detail::find_wire_server("anthropic") == &server());
    BOOST_TEST(server().name() == fmt().name());
    BOOST_TEST(server().stream_content_type() == "text/event-stream; charset=utf-8");
    BOOST_TEST(server().key_hint() == "x-api-key: <key>");
}

BOOST_AUTO_TEST_CASE(server_endpoints) {
    detail::wire_server const* const one[] = {&server()};
    detail::endpoint_table const exact(one, false);
    using detail::operation;
    auto const chat = exact.find("POST", "/v1/messages");
    BOOST_TEST_REQUIRE(chat.has_value());
    BOOST_TEST((chat->ep->op == operation::chat));
    BOOST_TEST(!chat->ep->stream);
    auto const count = exact.find("POST", "/v1/messages/count_tokens");
    BOOST_TEST_REQUIRE(count.has_value());
    BOOST_TEST((count->ep->op == operation::count_tokens));
    std::string const vertex = "/v1/projects/p-1/locations/us-east5/publishers/anthropic/models/";
    auto const raw = exact.find("POST", vertex + "claude-x%40123:rawPredict");
    BOOST_TEST_REQUIRE(raw.has_value());
    BOOST_TEST(raw->path_model == "claude-x@123");  // percent-decoded
    BOOST_TEST(!raw->ep->stream);
    auto const streamed = exact.find("POST", vertex + "claude-x:streamRawPredict");
    BOOST_TEST_REQUIRE(streamed.has_value());
    BOOST_TEST(streamed->path_model == "claude-x");
    BOOST_TEST(streamed->ep->stream);
    BOOST_TEST(!exact.find("GET", "/v1/messages"));
    BOOST_TEST(!exact.find("POST", "/anthropic/v1/messages"));  // the gateway matches whole paths
    BOOST_TEST((exact.path_served("/v1/messages").second == "POST"));

    // The emulator is reached at any base path (ZenMux's /api/anthropic, a proxy's prefix).
    detail::endpoint_table const anywhere(one, true);
    BOOST_TEST(anywhere.find("POST", "/api/anthropic/v1/messages").has_value());
    BOOST_TEST((anywhere.find("POST", "/x/v1/messages/count_tokens")->ep->op ==
                operation::count_tokens));
    BOOST_TEST(!anywhere.find("POST", "/v1/messagesX"));
}

BOOST_AUTO_TEST_CASE(server_credentials) {
    using kind = detail::credential::kind;
    auto cred = [](std::string_view path, header_pairs h) {
        head_fixture f(path, std::move(h));
        auto const c = server().presented_credential(f.head);
        return std::pair(c.how, std::string(c.value));
    };
    BOOST_TEST((cred("/v1/messages", {{"x-api-key", " sk-ant-1 "}}) ==
                std::pair(kind::api_key, std::string("sk-ant-1"))));
    // Claude Code's ANTHROPIC_AUTH_TOKEN is a bearer token.
    BOOST_TEST((cred("/v1/messages", {{"Authorization", "Bearer tok"}}) ==
                std::pair(kind::api_key, std::string("tok"))));
    BOOST_TEST((cred("/v1/messages", {{"x-api-key", "k"}, {"Authorization", "Bearer t"}}).second == "k"));
    BOOST_TEST((cred("/v1/messages", {{"Authorization", "Bearer "}}).first == kind::none));
    BOOST_TEST((cred("/v1/messages", {}).first == kind::none));
    // Vertex: Google's access token, which is checked.
    std::string const vertex =
        "/v1/projects/p/locations/l/publishers/anthropic/models/claude-x:rawPredict";
    BOOST_TEST((cred(vertex, {{"Authorization", "Bearer ya29.t"}}) ==
                std::pair(kind::access_token, std::string("ya29.t"))));
    BOOST_TEST((cred(vertex, {{"x-api-key", "k"}}).first == kind::none));
}

BOOST_AUTO_TEST_CASE(server_decodes_a_full_request) {
    auto r = decode_request(R"({
        "model": "claude-gw", "max_tokens": 256, "system": [{"type":"text","text":"be brief"}],
        "stream": true,
        "messages": [
          {"role": "user", "content": [{"type":"text","text":"weather?"},
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},
            {"type":"image","source":{"type":"url","url":"https://x.test/a.png"}}]},
          {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}]},
          {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
            "content": [{"type":"text","text":"sunny"}], "is_error": true}, {"type":"text","text":"thanks"}]},
          {"role": "assistant", "content": "Sure"}
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "strict": true,
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "temperature": 0.2, "top_p": 0.9, "stop_sequences": ["END", "STOP"],
        "metadata": {"user_id": "u-1"}, "service_tier": "auto", "thinking": {"type": "disabled"}
    })");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().message));
    auto const& req = r->req;
    BOOST_TEST(req.model == "claude-gw");
    BOOST_TEST(r->stream);
    BOOST_TEST((req.max_tokens && *req.max_tokens == 256));
    BOOST_TEST(req.system == "be brief");
    BOOST_TEST((req.temperature && *req.temperature == 0.2));
    BOOST_TEST((req.top_p && *req.top_p == 0.9));
    BOOST_TEST((req.stop == std::vector<std::string>{"END", "STOP"}));
    BOOST_TEST(req.user == "u-1");
    BOOST_TEST_REQUIRE(req.tools.size() == 1u);
    BOOST_TEST(req.tools[0].name == "get_weather");
    BOOST_TEST(req.tools[0].description == "Weather");
    BOOST_TEST(req.tools[0].strict);
    BOOST_TEST(req.tools[0].parameters.at("properties").at("city").at("type") == "string");
    BOOST_TEST_REQUIRE(req.tool_choice.has_value());
    BOOST_TEST((req.tool_choice->how == tool_choice::mode::named));
    BOOST_TEST(req.tool_choice->name == "get_weather");
    BOOST_TEST_REQUIRE(req.messages.size() == 4u);
    auto const& first = req.messages[0].content;
    BOOST_TEST_REQUIRE(first.size() == 3u);
    BOOST_TEST(std::get<image_part>(first[1]).url == "data:image/png;base64,iVBO");
    BOOST_TEST(std::get<image_part>(first[2]).url == "https://x.test/a.png");
    auto const& call = std::get<tool_call>(req.messages[1].content.at(1));
    BOOST_TEST(call.id == "toolu_1");
    BOOST_TEST(parse_json(call.arguments) == json::parse(R"({"city":"Oslo"})"));
    auto const& answer = std::get<tool_result>(req.messages[2].content.at(0));
    BOOST_TEST(answer.tool_call_id == "toolu_1");
    BOOST_TEST(answer.name == "get_weather");  // from the call it answers
    BOOST_TEST(answer.content == "sunny");
    BOOST_TEST(answer.is_error);
    BOOST_TEST(std::get<text_part>(req.messages[3].content.at(0)).text == "Sure");
    // Defaults are not kept.
    BOOST_TEST(r->native.empty(), json::serialize(r->native));
}

BOOST_AUTO_TEST_CASE(server_keeps_what_the_unified_request_cannot_hold) {
    std::string_view const msgs = R"("messages":[{"role":"user","content":"hi"}])";
    auto native = [&](std::string const& rest, std::string_view messages = {}) {
        auto const body = "{\"model\":\"m\",\"max_tokens\":5," +
                          std::string(messages.empty() ? msgs : messages) + rest + "}";
        auto r = decode_request(body);
        BOOST_TEST_REQUIRE(!!r, body << ": " << (r ? "" : r.error().message));
        return std::pair(json::value(r->native), r->native_name);
    };
    // Top-level fields by name (thinking is a unified reasoning control, not one of them).
    auto n = native(R"(,"top_k":40,"thinking":{"type":"enabled","budget_tokens":1024},"service_tier":"standard_only")");
    check_json(n.first, json::parse(R"({"top_k":40,"service_tier":"standard_only"})"), "native");
    BOOST_TEST(n.second.empty());  // the key names it
    n = native(R"(,"metadata":{"user_id":"u","tag":"x"})");
    check_json(n.first, json::parse(R"({"metadata":{"user_id":"u","tag":"x"}})"), "native");
    BOOST_TEST(n.second == "metadata.tag");
    n = native(R"(,"tools":[{"name":"f","input_schema":{"type":"object"}}],
                 "tool_choice":{"type":"auto","disable_parallel_tool_use":true})");
    check_json(n.first, json::parse(R"({"tool_choice":{"type":"auto","disable_parallel_tool_use":true}})"),
               "native");
    BOOST_TEST(n.second == "tool_choice.disable_parallel_tool_use");
    // Blocks that say more: their whole list, exactly as sent, for an Anthropic upstream.
    std::string_view const cited =
        R"("messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"},"citations":{"enabled":true}},{"type":"text","text":"hi"}]}])";
    n = native("", cited);
    check_json(n.first.at("messages"), json::parse("{" + std::string(cited) + "}").at("messages"),
               "messages");
    BOOST_TEST(n.second == "messages.0.content.0.citations");
    n = native("", R"("messages":[{"role":"user","content":[{"type":"document","source":{"type":"file","file_id":"f"}},{"type":"text","text":"sum up"}]}])");
    BOOST_TEST(n.first.as_object().contains("messages"));
    BOOST_TEST(n.second == "messages.0.content.0.source");
    n = native("", R"("messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{},"cache_control":{"type":"ephemeral"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"ok"}]}])");
    BOOST_TEST(n.second == "messages.1.content.0.cache_control");
    // A breakpoint inside the system prompt (not after all of it) cannot be unified.
    n = native(R"(,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}},{"type":"text","text":"t"}])");
    BOOST_TEST(n.first.as_object().contains("system"));
    BOOST_TEST(n.second == "system.0.cache_control");
    n = native(R"(,"tools":[{"type":"web_search_20250305","name":"web_search"}])");
    BOOST_TEST(n.first.as_object().contains("tools"));
    BOOST_TEST(n.second == "tools.0");
    // Breakpoints, text documents and thinking blocks are the unified request's.
    auto r = decode_request(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
        {"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}},
        {"type":"text","text":"sum up","cache_control":{"type":"ephemeral"}}]},
        {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"ok"}]},
        {"role":"user","content":"go"}]})");
    BOOST_TEST_REQUIRE(!!r);
    BOOST_TEST(r->native.empty(), json::serialize(r->native));
    BOOST_TEST(r->req.messages.at(0).text() == "sum up");
    BOOST_TEST(std::get<document_part>(r->req.messages[0].content[0]).url == "data:text/plain;base64,eA==");
    BOOST_TEST(std::get<text_part>(r->req.messages[0].content[1]).cache.has_value());
    BOOST_TEST(std::get<reasoning_part>(r->req.messages[1].content[0]).signature == "s");
}

BOOST_AUTO_TEST_CASE(server_bad_requests_name_the_field) {
    std::pair<char const*, char const*> const cases[] = {
        {"{", ""},
        {"[1]", ""},
        {R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model"},
        {R"({"model":5,"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model"},
        {R"({"model":"m","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
        {R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})", "max_tokens"},
        {R"({"model":"m","max_tokens":"5","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
        {R"({"model":"m","max_tokens":5})", "messages"},
        {R"({"model":"m","max_tokens":5,"messages":[]})", "messages"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"robot","content":"x"}]})", "messages.0.role"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]})", "messages.0.role"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user"}]})", "messages.0.content"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"text":"x"}]}]})",
         "messages.0.content.0.type"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]})",
         "messages.0.content.0.text"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]}]})",
         "messages.0.content.0"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":"{}"}]}]})",
         "messages.0.content.0.input"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result"}]}]})",
         "messages.0.content.0.tool_result.tool_use_id"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"x"}}]}]})",
         "messages.0.content.0.source.media_type"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"temperature":1.5})", "temperature"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"stream":"yes"})", "stream"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"stop_sequences":[1]})",
         "stop_sequences.0"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}]})",
         "tools.0.custom.input_schema"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"all"}})",
         "tool_choice.type"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"any"}})",
         "tool_choice"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"tool","name":"g"}})",
         "tool_choice.name"},
        {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"top_k":"many"})", "top_k"},
    };
    for (auto const& [body, param] : cases) {
        BOOST_TEST_CONTEXT(body) {
            auto r = decode_request(body);
            BOOST_TEST_REQUIRE(!r);
            auto const& e = r.error();
            BOOST_TEST(e.status == 400u);
            BOOST_TEST(e.param == param);
            auto const a = server().encode_error(e);
            BOOST_TEST(a.status == 400u);
            auto const v = parse_json(a.body);
            BOOST_TEST(v.at("type").as_string() == "error");
            BOOST_TEST(v.at("error").at("type").as_string() == "invalid_request_error");
            BOOST_TEST(v.at("error").at("message").as_string() == e.message);
            // The message names the field too (in the API's own wording: `messages: ...`).
            std::string_view const p(param);
            if (!p.empty()) BOOST_TEST(e.message.find(p.substr(0, p.find('.'))) == 0u, e.message);
        }
    }
    // The API's own words where its clients read them.
    BOOST_TEST(decode_request(R"({"model":"m","messages":[{"role":"user","content":"x"}]})")
                   .error()
                   .message == "max_tokens: Field required");
    // The version header is required, as the API requires it.
    head_fixture unversioned("/v1/messages", {{"x-api-key", "k"}});
    auto const nv = server().decode_request(
        unversioned.head, R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]})");
    BOOST_TEST_REQUIRE(!nv);
    BOOST_TEST(nv.error().param == "anthropic-version");
    BOOST_TEST(nv.error().message == "anthropic-version: header is required");
}

BOOST_AUTO_TEST_CASE(server_count_tokens_and_vertex_requests) {
    // count_tokens takes no max_tokens and never streams.
    auto const c = decode_request(
        R"({"model":"m","messages":[{"role":"user","content":"count me"}],"system":"s","stream":true})",
        "/v1/messages/count_tokens");
    BOOST_TEST_REQUIRE(!!c, (c ? "" : c.error().message));
    BOOST_TEST(!c->req.max_tokens);
    BOOST_TEST(!c->stream);
    BOOST_TEST(c->req.system == "s");
    std::string out;
    server().encode_token_count(42, out);
    BOOST_TEST(parse_json(out) == json::parse(R"({"input_tokens":42})"));

    // Claude on Vertex: the model and streaming in the path, the API version in the body, no
    // version header.
    std::string const base = "/v1/projects/p/locations/l/publishers/anthropic/models/";
    head_fixture h(base + "claude-x:streamRawPredict", {});
    h.head.path_model = "claude-x";
    auto const v = server().decode_request(
        h.head, R"({"anthropic_version":"vertex-2023-10-16","max_tokens":5,"stream":true,
                    "messages":[{"role":"user","content":"hi"}]})");
    BOOST_TEST_REQUIRE(!!v, (v ? "" : v.error().message));
    BOOST_TEST(v->req.model == "claude-x");
    BOOST_TEST(v->stream);
    BOOST_TEST(v->native.empty());
    auto const no_version =
        server().decode_request(h.head, R"({"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})");
    BOOST_TEST_REQUIRE(!no_version);
    BOOST_TEST(no_version.error().message == "anthropic_version: Field required");
    auto const wrong = server().decode_request(
        h.head, R"({"anthropic_version":"2023-06-01","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})");
    BOOST_TEST_REQUIRE(!wrong);
    BOOST_TEST(wrong.error().param == "anthropic_version");
}

BOOST_AUTO_TEST_CASE(server_renders_a_message_with_text_and_tool_use) {
    chat_response r;
    r.content = "Let me check.";
    r.tool_calls.push_back({"toolu_9", "get_weather", R"({"city":"Oslo"})"});
    r.tool_calls.push_back({"toolu_10", "get_weather", R"({"city":)"});  // cut short
    r.finish_reason = finish_reason::tool_calls;
    r.usage.input_tokens = 20;
    r.usage.cached_input_tokens = 5;
    r.usage.cache_write_tokens = 3;
    r.usage.output_tokens = 7;
    std::string body;
    server().encode_response(r, meta("msg_1", "claude-gw"), body);
    auto const v = parse_json(body);
    BOOST_TEST(v.at("id").as_string() == "msg_1");
    BOOST_TEST(v.at("type").as_string() == "message");
    BOOST_TEST(v.at("role").as_string() == "assistant");
    BOOST_TEST(v.at("model").as_string() == "claude-gw");
    BOOST_TEST(v.at("stop_reason").as_string() == "tool_use");
    BOOST_TEST(v.at("stop_sequence").is_null());
    auto const& c = v.at("content").as_array();
    BOOST_TEST_REQUIRE(c.size() == 3u);
    BOOST_TEST(c[0].at("text").as_string() == "Let me check.");
    BOOST_TEST(c[1].at("type").as_string() == "tool_use");
    BOOST_TEST(c[1].at("input").at("city").as_string() == "Oslo");
    BOOST_TEST(c[2].at("input") == json::object());  // not an object: {}
    // Anthropic's input_tokens leave out the cached ones.
    check_json(v.at("usage"), json::parse(R"({"input_tokens":12,"cache_creation_input_tokens":3,
        "cache_read_input_tokens":5,"output_tokens":7})"), "usage");

    // An Anthropic upstream's own stop reason goes back when it means the same.
    chat_response s;
    s.content = "a";
    s.finish_reason = finish_reason::stop;
    s.native_finish_reason = "stop_sequence";
    body.clear();
    server().encode_response(s, meta("m", "m"), body);
    BOOST_TEST(parse_json(body).at("stop_reason").as_string() == "stop_sequence");
    s.native_finish_reason = "STOP";  // Gemini's
    body.clear();
    server().encode_response(s, meta("m", "m"), body);
    BOOST_TEST(parse_json(body).at("stop_reason").as_string() == "end_turn");
}

BOOST_AUTO_TEST_CASE(server_text_stream_event_sequence) {
    auto m = meta("msg_2", "claude-gw");
    m.input_tokens = 9;
    auto w = server().make_stream_encoder(m, false);
    std::string out;
    w->chunk(chat_chunk{}, out);  // the opening events only
    chat_chunk a;
    a.text = "Hel";
    w->chunk(a, out);
    chat_chunk b;
    b.text = "lo";
    w->chunk(b, out);
    chat_response r;
    r.content = "Hello";
    r.finish_reason = finish_reason::stop;
    r.usage.input_tokens = 9;
    r.usage.output_tokens = 2;
    w->finish(r, out);
    auto const ev = events(out);
    std::vector<std::string> const expected = {
        "message_start",       "content_block_start", "ping",         "content_block_delta",
        "content_block_delta", "content_block_stop",  "message_delta", "message_stop"};
    BOOST_TEST(names(ev) == expected, boost::test_tools::per_element());
    auto const& start = ev[0].second.at("message");
    BOOST_TEST(start.at("id").as_string() == "msg_2");
    BOOST_TEST(start.at("model").as_string() == "claude-gw");
    BOOST_TEST(start.at("content").as_array().empty());
    BOOST_TEST(start.at("stop_reason").is_null());
    BOOST_TEST(start.at("usage").at("input_tokens").to_number<int>() == 9);
    BOOST_TEST(ev[1].second.at("content_block").at("type").as_string() == "text");
    BOOST_TEST(ev[3].second.at("delta").at("text").as_string() == "Hel");
    BOOST_TEST(ev[4].second.at("delta").at("type").as_string() == "text_delta");
    BOOST_TEST(ev[6].second.at("delta").at("stop_reason").as_string() == "end_turn");
    BOOST_TEST(ev[6].second.at("usage").at("output_tokens").to_number<int>() == 2);
    BOOST_TEST(ev[6].second.at("usage").at("input_tokens").to_number<int>() == 9);
    // Nothing after the end.
    std::string after;
    w->chunk(a, after);
    BOOST_TEST(after.empty());
}

BOOST_AUTO_TEST_CASE(server_tool_use_stream_event_sequence) {
    auto w = server().make_stream_encoder(meta("msg_3", "claude-gw"), false);
    std::string out;
    chat_chunk a;
    a.text = "Checking.";
    w->chunk(a, out);
    chat_chunk b;
    b.tool_calls.push_back({0, "toolu_1", "get_weather", ""});
    w->chunk(b, out);
    chat_chunk c;
    c.tool_calls.push_back({0, "", "", R"({"city":"Oslo"})"});
    w->chunk(c, out);
    chat_response r;
    r.tool_calls.push_back({"toolu_1", "get_weather", R"({"city":"Oslo"})"});
    w->finish(r, out);  // no finish reason: tool calls mean tool_use
    auto const ev = events(out);
    std::vector<std::string> const expected = {
        "message_start",       "content_block_start", "ping",
        "content_block_delta", "content_block_stop",  "content_block_start",
        "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta",       "message_stop"};
    BOOST_TEST(names(ev) == expected, boost::test_tools::per_element());
    BOOST_TEST(ev[1].second.at("index").to_number<int>() == 0);
    auto const& start = ev[5].second;
    BOOST_TEST(start.at("index").to_number<int>() == 1);
    BOOST_TEST(start.at("content_block").at("type").as_string() == "tool_use");
    BOOST_TEST(start.at("content_block").at("id").as_string() == "toolu_1");
    BOOST_TEST(start.at("content_block").at("name").as_string() == "get_weather");
    BOOST_TEST(start.at("content_block").at("input") == json::object());
    // The arguments start with an empty piece, as the API's do.
    BOOST_TEST(ev[6].second.at("delta").at("partial_json").as_string() == "");
    BOOST_TEST(ev[7].second.at("index").to_number<int>() == 1);
    BOOST_TEST(ev[7].second.at("delta").at("type").as_string() == "input_json_delta");
    BOOST_TEST(ev[7].second.at("delta").at("partial_json").as_string() == R"({"city":"Oslo"})");
    BOOST_TEST(ev[9].second.at("delta").at("stop_reason").as_string() == "tool_use");
    BOOST_TEST(!ev[9].second.at("usage").as_object().contains("input_tokens"));  // unknown
}

BOOST_AUTO_TEST_CASE(server_empty_answer_still_has_a_text_block) {
    auto w = server().make_stream_encoder(meta("msg_4", "m"), false);
    std::string out;
    chat_response r;
    r.finish_reason = finish_reason::length;
    w->finish(r, out);
    auto const ev = events(out);
    std::vector<std::string> const expected = {"message_start", "content_block_start", "ping",
                                               "content_block_stop", "message_delta",
                                               "message_stop"};
    BOOST_TEST(names(ev) == expected, boost::test_tools::per_element());
    BOOST_TEST(ev[4].second.at("delta").at("stop_reason").as_string() == "max_tokens");
}

BOOST_AUTO_TEST_CASE(server_stream_error_and_malformed_events) {
    auto w = server().make_stream_encoder(meta("msg_5", "m"), false);
    std::string out;
    chat_chunk a;
    a.tool_calls.push_back({0, "toolu_1", "f", "{"});
    w->chunk(a, out);
    std::string bad;
    w->malformed(bad);
    BOOST_TEST(bad.starts_with("event: content_block_delta\ndata: {"));
    BOOST_TEST(bad.find("input_json_delta") != std::string::npos);  // the open block's kind
    BOOST_TEST(bad.ends_with("\n\n"));
    boost::system::error_code ec;
    json::parse(std::string_view(bad).substr(bad.find("data: ") + 6), ec);
    BOOST_TEST(!!ec);  // starts like an event, is not JSON
    w->error(server().mid_stream_error("m"), out);
    chat_chunk more;
    more.text = "ignored";
    w->chunk(more, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(!ev.empty());
    BOOST_TEST(ev.back().first == "error");
    BOOST_TEST(ev.back().second.at("error").at("type").as_string() == "overloaded_error");
    BOOST_TEST(ev.back().second.at("error").at("message").as_string() == "Overloaded");
}

BOOST_AUTO_TEST_CASE(server_errors_and_headers) {
    // Types by status when the caller picks none; retry headers.
    detail::api_error e;
    e.status = 429;
    e.code = "rate_limit_exceeded";
    e.message = "slow down";
    e.retry_after = std::chrono::milliseconds(1500);
    auto a = server().encode_error(e);
    BOOST_TEST(a.status == 429u);
    std::map<std::string, std::string> h(a.headers.begin(), a.headers.end());
    BOOST_TEST(h["retry-after"] == "2");  // rounded up
    BOOST_TEST(h["retry-after-ms"] == "1500");
    BOOST_TEST(!h.contains("x-should-retry"));
    check_json(parse_json(a.body),
               json::parse(R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})"),
               "body");
    for (auto const& [status, type] :
         std::initializer_list<std::pair<unsigned, char const*>>{{400, "invalid_request_error"},
                                                                 {401, "authentication_error"},
                                                                 {402, "billing_error"},
                                                                 {403, "permission_error"},
                                                                 {404, "not_found_error"},
                                                                 {413, "request_too_large"},
                                                                 {502, "api_error"},
                                                                 {504, "timeout_error"},
                                                                 {529, "overloaded_error"}}) {
        detail::api_error x;
        x.status = status;
        x.message = "m";
        BOOST_TEST(parse_json(server().encode_error(x).body).at("error").at("type").as_string() ==
                   type);
    }
    // An overloaded upstream is Anthropic's 529, which its SDKs raise as OverloadedError.
    e = {};
    e.status = 503;
    e.code = "overloaded";
    e.message = "upstream is overloaded";
    e.no_retry = true;
    a = server().encode_error(e);
    BOOST_TEST(a.status == 529u);
    BOOST_TEST(parse_json(a.body).at("error").at("type").as_string() == "overloaded_error");
    std::map<std::string, std::string> h2(a.headers.begin(), a.headers.end());
    BOOST_TEST(h2["x-should-retry"] == "false");
    e.code = "circuit_open";
    BOOST_TEST(server().encode_error(e).status == 503u);

    // The provider's own wording, as the emulator answers.
    struct row {
        unsigned status;
        char const* type;
    };
    for (auto const& r : {row{400, "invalid_request_error"}, row{401, "authentication_error"},
                          row{402, "billing_error"}, row{403, "permission_error"},
                          row{404, "not_found_error"}, row{413, "request_too_large"},
                          row{429, "rate_limit_error"}, row{500, "api_error"},
                          row{504, "timeout_error"}, row{529, "overloaded_error"},
                          row{599, "api_error"}, row{418, "invalid_request_error"}}) {
        auto const x = server().error_for_status(r.status, "claude-x");
        BOOST_TEST_CONTEXT(r.status) {
            auto const ans = server().encode_error(x);
            BOOST_TEST(ans.status == r.status);
            BOOST_TEST(parse_json(ans.body).at("error").at("type").as_string() == r.type);
        }
    }
    BOOST_TEST(server().error_for_status(529, "m").message == "Overloaded");
    BOOST_TEST(server().error_for_status(404, "claude-x").message == "model: claude-x");
    BOOST_TEST(server().auth_error(true, {}, {}).message == "x-api-key header is required");
    BOOST_TEST(server().auth_error(false, {}, {}).message == "invalid x-api-key");
    auto const unknown = server().unknown_endpoint("GET", "/v1/nothing");
    BOOST_TEST(unknown.status == 404u);
    BOOST_TEST(unknown.type == "not_found_error");

    // Claude on Vertex: Google's front end refuses credentials in Google's shape.
    head_fixture vx("/v1/projects/p/locations/l/publishers/anthropic/models/c:rawPredict", {});
    auto const g = server().encode_error(server().auth_error_for(vx.head, true, {}, {}));
    BOOST_TEST(g.status == 401u);
    auto const gv = parse_json(g.body);
    BOOST_TEST(gv.at("error").at("status").as_string() == "UNAUTHENTICATED");
    BOOST_TEST(gv.at("error").at("code").to_number<int>() == 401);
    head_fixture plain("/v1/messages", {});
    BOOST_TEST(server().auth_error_for(plain.head, true, {}, {}).type == "authentication_error");

    auto m = meta("msg_x", "m");
    m.request_id = "req_7";
    auto const head = served_head(server(), m);
    BOOST_TEST(head.header("request-id") == "req_7");
    BOOST_TEST(server().make_id(detail::id_kind::response, "emu", 7) == "msg_emu_7");
    BOOST_TEST(server().make_id(detail::id_kind::tool_call, "emu", 7) == "toolu_emu_7");
    BOOST_TEST(server().make_id(detail::id_kind::request, "emu", 7) == "req_emu_7");
}

BOOST_AUTO_TEST_CASE(server_models_list) {
    std::vector<std::string> names = {"claude-gw", "anthropic/claude-sonnet-4.6"};
    std::string body;
    server().encode_models(names, 1735689600, body);
    auto const v = parse_json(body);
    auto const& d = v.at("data").as_array();
    BOOST_TEST_REQUIRE(d.size() == 2u);
    BOOST_TEST(d[1].at("id").as_string() == "anthropic/claude-sonnet-4.6");
    BOOST_TEST(d[1].at("type").as_string() == "model");
    BOOST_TEST(d[1].at("created_at").as_string() == "2025-01-01T00:00:00Z");
    BOOST_TEST(v.at("has_more") == false);
    BOOST_TEST(v.at("first_id").as_string() == "claude-gw");
    BOOST_TEST(v.at("last_id").as_string() == "anthropic/claude-sonnet-4.6");
}

// ---------------------------------------------------------------------------------------------
// Round trips: client-encode then server-decode gives the request back; server-encode then
// client-decode gives the response and its chunks back.

namespace {

/** What Anthropic's wire carries of `r`, as the server side decodes it: the model is the
    provider's own name (without Vertex's `anthropic/`); the system prompt and every system
    message are one system text, joined with blank lines; turns of one role are one message,
    tool results first in a user turn (role tool becomes user), named after the call they
    answer; empty text parts are not sent; images are base64 with a lower-case media type, or
    https URLs, without OpenAI's detail; empty tool arguments are `{}`; max_tokens is the
    provider's default when the request has none; strict tools are not sent; a tool_choice of
    auto or none without tools is not sent; a JSON answer is a forced tool (`llmux_json_answer`).
    `extra` is merged into the body: the fields it sets are read back as such, the others come
    back as `native` (`extra`).
*/
chat_request as_anthropic_carries(chat_request const& r, std::string_view model,
                                  std::int64_t default_max) {
    chat_request out;
    out.model = std::string(model.starts_with("anthropic/") ? model.substr(10) : model);
    out.system = r.system;
    auto add_system = [&](std::string const& t) {
        if (t.empty()) return;
        if (!out.system.empty()) out.system += "\n\n";
        out.system += t;
    };
    std::map<std::string, std::string> call_names;
    struct turn {
        role who;
        std::vector<content_part> results, parts;
    };
    std::vector<turn> turns;
    auto turn_for = [&](role who) -> turn& {
        if (turns.empty() || turns.back().who != who) turns.push_back({who, {}, {}});
        return turns.back();
    };
    for (auto const& m : r.messages) {
        if (m.role == role::system) {
            for (auto const& p : m.content) add_system(std::get<text_part>(p).text);
            continue;
        }
        auto& t = turn_for(m.role == role::assistant ? role::assistant : role::user);
        for (auto const& p : m.content) {
            if (auto const* x = std::get_if<text_part>(&p)) {
                if (!x->text.empty()) t.parts.push_back(*x);
            } else if (auto const* d = std::get_if<document_part>(&p)) {
                t.parts.push_back(*d);
            } else if (auto const* g = std::get_if<reasoning_part>(&p)) {
                if (g->origin == "anthropic") t.parts.push_back(*g);  // others are not sent
            } else if (auto const* img = std::get_if<image_part>(&p)) {
                std::string_view media_view, data;
                if (detail::parse_data_uri(img->url, media_view, data)) {
                    std::string media(media_view);
                    for (auto& ch : media) ch = static_cast<char>(std::tolower(ch));
                    auto i = image_base64(media, std::string(data));
                    i.cache = img->cache;
                    t.parts.push_back(std::move(i));
                } else {
                    t.parts.push_back(image_part{img->url, {}, img->cache});
                }
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                call_names[c->id] = c->name;
                auto const args = c->arguments.empty() ? json::object() : json::parse(c->arguments);
                t.parts.push_back(tool_call{c->id, c->name, json::serialize(args), {}});
            } else if (auto const* res = std::get_if<tool_result>(&p)) {
                tool_result x = *res;
                auto it = call_names.find(x.tool_call_id);
                x.name = it == call_names.end() ? std::string() : it->second;
                t.results.push_back(std::move(x));
            }
        }
    }
    for (auto& t : turns) {
        message m{t.who, std::move(t.results)};
        for (auto& p : t.parts) m.content.push_back(std::move(p));
        out.messages.push_back(std::move(m));
    }
    out.temperature = r.temperature;
    out.top_p = r.top_p;
    out.max_tokens = r.max_tokens ? r.max_tokens : std::optional<std::int64_t>(default_max);
    out.stop = r.stop;
    out.user = r.user;
    out.system_cache = r.system_cache;
    out.reasoning = r.reasoning;  // the fixtures give budgets, which go as they are
    for (auto t : r.tools) {
        t.strict = false;
        if (t.parameters.empty())
            t.parameters = json::parse(R"({"type":"object","properties":{}})").as_object();
        out.tools.push_back(std::move(t));
    }
    out.tool_choice = r.tool_choice;
    if (out.tool_choice && r.tools.empty() &&
        (out.tool_choice->how == tool_choice::mode::automatic ||
         out.tool_choice->how == tool_choice::mode::none))
        out.tool_choice.reset();
    if (r.response_format && r.response_format->type != response_format::kind::text) {
        auto const& f = *r.response_format;
        json::object schema = json::parse(R"({"type":"object"})").as_object();
        if (f.type == response_format::kind::json_schema && !f.schema.empty()) {
            schema = f.schema;
            if (!schema.contains("type")) schema["type"] = "object";
        }
        std::string desc = "Give your answer as this tool's input";
        if (!f.name.empty()) desc += " (a " + f.name + " object)";
        out.tools.push_back(tool{std::string(detail::anthropic::json_answer_tool), desc + ".",
                                 std::move(schema), false});
        out.tool_choice = r.tools.empty()
                              ? tool_choice::named(std::string(detail::anthropic::json_answer_tool))
                              : tool_choice::required();
    }
    for (auto const& [k, v] : r.extra) {
        if (k == "temperature")
            out.temperature = v.to_number<double>();
        else if (k == "max_tokens")
            out.max_tokens = v.to_number<std::int64_t>();
        else
            out.extra.emplace(k, v);
    }
    return out;
}

/// Reasoning parts as a client reads them back from this server's thinking blocks: Claude's as
/// they are, another family's sealed into the signature (seal_reasoning).
std::vector<reasoning_part> as_anthropic_answers_parts(std::vector<reasoning_part> parts) {
    for (auto& p : parts) {
        if (p.origin == "anthropic") continue;
        reasoning_part sealed;
        sealed.text = p.text;
        sealed.signature = detail::seal_reasoning(p);
        sealed.origin = "anthropic";
        p = std::move(sealed);
    }
    return parts;
}

/// What the server side's answers carry of `r`: the stop reason it writes (see
/// `stop_reason_of`) read back, reasoning parts as `as_anthropic_answers_parts`,
/// tool arguments that are not an object as `{}`, usage with every Anthropic counter (0 when
/// unknown) and no reported cost.
chat_response as_anthropic_answers(chat_response r) {
    auto fr = r.finish_reason;
    if (fr == finish_reason::unknown && !r.tool_calls.empty()) fr = finish_reason::tool_calls;
    std::string native(detail::anthropic::stop_reason(fr));
    for (std::string_view known : {"end_turn", "stop_sequence", "pause_turn", "max_tokens",
                                   "model_context_window_exceeded", "tool_use", "refusal"})
        if (r.native_finish_reason == known && detail::anthropic::finish_from_stop(known, false) == fr)
            native = known;
    r.native_finish_reason = native;
    r.finish_reason = detail::anthropic::finish_from_stop(native, false);
    r.reasoning_parts = as_anthropic_answers_parts(std::move(r.reasoning_parts));
    for (auto& c : r.tool_calls) {
        boost::system::error_code ec;
        auto const v = json::parse(c.arguments, ec);
        if (ec || !v.is_object()) c.arguments = "{}";
    }
    usage u;
    auto const cached = r.usage.cached_input_tokens.value_or(0);
    auto const written = r.usage.cache_write_tokens.value_or(0);
    u.input_tokens = std::max(r.usage.input_tokens.value_or(0), cached + written);
    u.output_tokens = r.usage.output_tokens.value_or(0);
    u.total_tokens = *u.input_tokens + *u.output_tokens;
    u.cached_input_tokens = cached;
    u.cache_write_tokens = written;
    r.usage = u;
    return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_every_request_fixture) {
    detail::endpoint_table const table(detail::wire_servers(), false);
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

            // Where a client sends it: Vertex's base URL holds the project and location.
            bool const vertex = options.contains("vertex");
            std::string const path = (vertex ? "/v1/projects/p/locations/l" : "") + sent->target;
            auto const match = table.find("POST", path);
            BOOST_REQUIRE(match.has_value());
            BOOST_TEST(match->server == &server());
            BOOST_TEST(match->ep->stream == (vertex && stream));
            head_fixture h(path, header_pairs(sent->headers.begin(), sent->headers.end()));
            h.head.path_model = match->path_model;
            auto const got = server().decode_request(h.head, sent->body);
            BOOST_REQUIRE_MESSAGE(got.has_value(), (got ? "" : got.error().message));
            BOOST_TEST(got->stream == stream);
            chat_request back = got->req;
            back.extra = got->native;
            std::int64_t default_max = 4096;
            if (auto const* d = options.if_contains("default_max_tokens"))
                default_max = d->to_number<std::int64_t>();
            check_json(request_json(back),
                       request_json(as_anthropic_carries(original, model, default_max)), "request");

            // And what came back encodes to the same bytes: nothing was lost or added (a JSON
            // answer's tool is the client's own, reserved name: it comes back as that tool).
            if (original.response_format &&
                original.response_format->type != response_format::kind::text)
                continue;
            auto const again = fmt().encode(back, encode_context{p, model, stream});
            BOOST_REQUIRE_MESSAGE(again.has_value(), (again ? "" : again.error().to_string()));
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
            auto m = meta(original->id, original->model);
            m.request_id = original->request_id;
            std::string body;
            server().encode_response(*original, m, body);
            auto const back = fmt().decode(served_head(server(), m), body);
            BOOST_REQUIRE_MESSAGE(back.has_value(), (back ? "" : back.error().to_string()));
            check_json(response_json(*back), response_json(as_anthropic_answers(*original)),
                       "response");
            ++n;
        }
    }
    BOOST_TEST(n >= 7u);
}

BOOST_AUTO_TEST_CASE(round_trip_every_stream_fixture) {
    json::object const table = load_json("streams.json").as_object();
    std::size_t n = 0;
    for (auto const& cv : table.at("cases").as_array()) {
        auto const& c = cv.as_object();
        if (c.at("end") != json::value("ok")) continue;  // a failed stream has nothing to resend
        BOOST_TEST_CONTEXT("stream '" << str(c.at("name")) << "'") {
            auto d = fmt().make_stream_decoder();
            std::vector<chat_chunk> chunks;
            BOOST_REQUIRE(d->feed(case_body(c), chunks).has_value());
            BOOST_REQUIRE(d->finish(chunks).has_value());
            auto const whole = accumulate(chunks);
            auto const& info = d->info();

            std::string const bytes =
                encode_stream(server(), meta(info.id, info.model), false, chunks, whole);
            json::object const back = decode_at_every_split(fmt(), bytes);

            // The same content chunks (reasoning aside), then one with the finish reason and
            // the usage, as message_delta sends them.
            json::array expected;
            for (auto const& ch : chunks) {
                // Reasoning text as thinking deltas, then the block's end with the whole part.
                if (!ch.reasoning.empty()) {
                    chat_chunk x;
                    x.reasoning = ch.reasoning;
                    expected.push_back(chunk_json(x));
                }
                if (!ch.reasoning_parts.empty()) {
                    chat_chunk x;
                    x.reasoning_parts = as_anthropic_answers_parts(ch.reasoning_parts);
                    expected.push_back(chunk_json(x));
                }
                chat_chunk part;
                part.text = ch.text;
                part.tool_calls = ch.tool_calls;
                for (auto& t : part.tool_calls)
                    if (!t.id.empty()) t.arguments.clear();  // a call's start carries no input
                if (part.has_content()) expected.push_back(chunk_json(part));
                for (auto const& t : ch.tool_calls)
                    if (!t.id.empty() && !t.arguments.empty()) {
                        chat_chunk rest;
                        rest.tool_calls.push_back({t.index, "", "", t.arguments});
                        expected.push_back(chunk_json(rest));
                    }
            }
            auto const carried = as_anthropic_answers(whole);
            chat_chunk last;
            last.finish_reason = carried.finish_reason;
            last.usage = carried.usage;
            if (!whole.usage.input_tokens) {
                // message_start's zeros stand: the unknown input count reads back as 0.
                last.usage->input_tokens = 0;
                last.usage->cached_input_tokens = 0;
                last.usage->cache_write_tokens = 0;
                last.usage->total_tokens = *last.usage->output_tokens;
            }
            expected.push_back(chunk_json(last));
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
    auto const r = decode_request(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"":1})");
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().status == 400);
    BOOST_TEST(r.error().message.find("Extra inputs are not permitted") != std::string::npos, r.error().message);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
