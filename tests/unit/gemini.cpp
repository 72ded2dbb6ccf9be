// SPDX-License-Identifier: BSL-1.0
// The Gemini generateContent wire format (AI Studio and Vertex AI), table-driven over the fixtures
// in tests/data/gemini/: the requests we build, the responses, errors and streams we decode.
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
    return detail::gemini_format();
}

// The shared fixture helpers (tests/common/wire_fixtures.hpp), for tests/data/gemini/.
constexpr std::string_view fixture_dir = "gemini";
std::string load_text(std::string_view name) {
    return fixture_text(fixture_dir, name);
}
json::value load_json(std::string_view name) {
    return fixture_json(fixture_dir, name);
}
std::string case_body(json::object const& c) {
    return test::case_body(fixture_dir, c);
}
json::object decode_stream(std::vector<std::string_view> const& pieces) {
    return test::decode_stream(fmt(), pieces, true);
}

// ---------------------------------------------------------------------------------------------
// Requests

provider_config provider_named(std::string name, json::object options = {}) {
    provider_config p;
    p.name = std::move(name);
    p.wire = "gemini";
    p.options = std::move(options);
    return p;
}

json::object vertex_options() {
    return {{"vertex", true}};
}

result<http_request> encode(chat_request const& req, bool stream = false,
                            json::object options = {}, std::string_view model = "gemini-2.0-flash") {
    auto const p = provider_named(options.contains("vertex") ? "vertex" : "google",
                                  std::move(options));
    return fmt().encode(req, encode_context{p, model, stream});
}

// The unified requests the request_*.json fixtures were written for.
std::map<std::string, std::function<chat_request()>, std::less<>> const request_builders = {
    {"request_minimal.json",
     [] { return chat_request{.model = "google/gemini-2.0-flash", .messages = {user("hi")}}; }},
    {"request_tool_call.json",
     [] {
         chat_request r;
         r.model = "google/gemini-2.5-flash";
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
         r.model = "google/gemini-2.0-flash";
         r.messages = {
             system("You are terse."),
             user("Weather in Oslo and Bergen?"),
             assistant("", {{"call_a1", "get_weather", R"({"city":"Oslo"})"},
                            {"call_a2", "get_weather", R"({"city":"Bergen"})"}}),
             tool_answer("call_a1", R"({"temp_c":4})", "get_weather"),
             tool_answer("call_a2", "7 degrees"),  // the name comes from call_a2
             system("Use metric units."),
             assistant("Oslo 4 °C, Bergen 7 °C. Checking Trondheim.",
                       {{"call_b1", "get_forecast", ""}}),
             user({tool_result{"call_b1", "", "city unknown", true}, text_part{"Thanks!"}}),
         };
         return r;
     }},
    {"request_images.json",
     [] {
         chat_request r;
         r.model = "google/gemini-2.0-flash";
         r.messages = {
             user({text_part{"What is in these pictures?"},
                   image_base64("image/png", "iVBORw0KGgo="),
                   image_part{"https://example.com/cat.JPG?size=large", "high"},
                   image_part{"gs://bucket/dog.webp", ""},
                   image_part{"https://example.com/render?id=7", ""}, text_part{""},
                   text_part{"Be brief."}}),
             assistant("A cat and a dog."),
             user({image_part{"data:image/jpeg;base64,/9j/4AAQ", "low"}}),
         };
         return r;
     }},
    {"request_all_options.json",
     [] {
         chat_request r;
         r.model = "vertex/gemini-2.5-pro";
         r.system = "Answer in JSON.";
         r.messages = {user("List two colours.")};
         r.temperature = 0.5;
         r.top_p = 0.9;
         r.max_tokens = 512;
         r.seed = 42;
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
    {"request_vertex_stream.json",
     [] {
         chat_request r;
         r.model = "vertex/gemini-2.0-flash-001";
         r.messages = {user("Give me JSON.")};
         r.max_tokens = 64;
         r.temperature = 1.0;
         r.tools = {tool{"emit", "", json::object{{"type", "object"}}, false}};
         r.tool_choice = tool_choice::required();
         r.response_format = response_format::json();
         r.extra = json::parse(R"({"generationConfig":{"temperature":0.1,"topK":40},
             "safetySettings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","threshold":"BLOCK_ONLY_HIGH"}],
             "labels":{"team":"search"}})")
                       .as_object();
         return r;
     }},
    {"request_model_encoding.json",
     [] {
         chat_request r;
         r.model = "google/gemini-2.0-flash~error=429,retry_after=17s/x";
         r.messages = {user("hi")};
         r.tools = {tool{"f", "no parameters", {}, false}};
         r.tool_choice = tool_choice::none();
         return r;
     }},
};

// The functionResponse.response a tool result becomes.
json::value response_of(tool_result r) {
    chat_request req{.model = "google/m", .messages = {user("q")}};
    req.messages.push_back(assistant("", {{"c1", "f", "{}"}}));
    req.messages.push_back(message{role::tool, {std::move(r)}});
    auto const out = encode(req);
    BOOST_REQUIRE_MESSAGE(out.has_value(), (out ? "" : out.error().to_string()));
    auto const b = body_of(*out);
    return b.at("contents").at(2).at("parts").at(0).at("functionResponse").at("response");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gemini)

BOOST_AUTO_TEST_CASE(registered) {
    BOOST_TEST(detail::find_wire_format("gemini") == &fmt());
    BOOST_TEST(fmt().name() == "gemini");
    // Vertex AI serves Gemini models with this format, Claude models with Anthropic's.
    auto const* vertex = detail::find_wire_format("vertex");
    BOOST_REQUIRE(vertex);
    BOOST_TEST(&vertex->for_model("gemini-2.0-flash") == &fmt());
    BOOST_TEST(&vertex->for_model("claude-sonnet-4") != &fmt());
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

BOOST_AUTO_TEST_CASE(targets) {
    chat_request const req{.model = "x/m", .messages = {user("hi")}};
    struct tc {
        bool vertex, stream;
        std::string_view target, accept;
    };
    for (auto const& t :
         {tc{false, false, "/models/gemini-2.0-flash:generateContent", "application/json"},
          tc{false, true, "/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
             "text/event-stream"},
          tc{true, false, "/publishers/google/models/gemini-2.0-flash:generateContent",
             "application/json"},
          tc{true, true, "/publishers/google/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
             "text/event-stream"}}) {
        BOOST_TEST_CONTEXT(t.target) {
            auto const r = encode(req, t.stream, t.vertex ? vertex_options() : json::object{});
            BOOST_REQUIRE(r.has_value());
            BOOST_TEST(r->target == t.target);
            BOOST_TEST(r->header("Accept") == t.accept);
            BOOST_TEST(r->header("Content-Type") == "application/json");
            // No credentials: the client adds x-goog-api-key or the Bearer token.
            BOOST_TEST(r->headers.size() == 2u);
            BOOST_TEST(r->header("x-goog-api-key").empty());
            BOOST_TEST(r->header("Authorization").empty());
            // The same body either way: streaming is chosen by the path.
            BOOST_TEST(json::value(body_of(*r)) ==
                       json::parse(R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})"));
        }
    }
    // `vertex: false` is AI Studio.
    auto const r = encode(req, false, {{"vertex", false}});
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->target == "/models/gemini-2.0-flash:generateContent");
}

BOOST_AUTO_TEST_CASE(absent_options_not_sent) {
    chat_request req{.model = "google/m", .messages = {user("hi")}};
    auto const b = body_of(*encode(req));
    BOOST_TEST(b.size() == 1u);  // contents only
    for (auto key : {"systemInstruction", "tools", "toolConfig", "generationConfig",
                     "safetySettings", "labels"})
        BOOST_TEST(!b.contains(key), key);
    // A text response format is the default: not sent either.
    req.response_format = response_format{};
    BOOST_TEST(!body_of(*encode(req)).contains("generationConfig"));
    // No tools: a tool choice of auto or none is left out.
    req.tool_choice = tool_choice::automatic();
    BOOST_TEST(!body_of(*encode(req)).contains("toolConfig"));
    req.tool_choice = tool_choice::none();
    BOOST_TEST(!body_of(*encode(req)).contains("toolConfig"));
    // Tools without a tool choice: no toolConfig (Gemini's default is AUTO).
    req.tool_choice.reset();
    req.tools = {tool{"f", "", {}, false}};
    auto const t = body_of(*encode(req));
    BOOST_TEST(!t.contains("toolConfig"));
    BOOST_TEST(t.at("tools") == json::parse(R"([{"functionDeclarations":[{"name":"f"}]}])"));
}

BOOST_AUTO_TEST_CASE(each_field_exact) {
    chat_request req{.model = "x/m", .messages = {user("hi")}};
    auto gc = [&] {
        auto r = encode(req);
        BOOST_REQUIRE(r.has_value());
        return json::value(body_of(*r).at("generationConfig"));
    };
    req.temperature = 0.0;
    BOOST_TEST(gc() == json::parse(R"({"temperature":0.0})"));
    req.temperature.reset();
    req.top_p = 1.0;
    BOOST_TEST(gc() == json::parse(R"({"topP":1.0})"));
    req.top_p.reset();
    req.max_tokens = 5;
    BOOST_TEST(gc() == json::parse(R"({"maxOutputTokens":5})"));
    req.max_tokens.reset();
    req.seed = -7;
    BOOST_TEST(gc() == json::parse(R"({"seed":-7})"));
    req.seed.reset();
    req.stop = {"a"};
    BOOST_TEST(gc() == json::parse(R"({"stopSequences":["a"]})"));  // always an array
    req.stop.clear();
    req.response_format = response_format::json();
    BOOST_TEST(gc() == json::parse(R"({"responseMimeType":"application/json"})"));
    req.response_format = response_format::json_schema("s", json::object{{"type", "string"}}, false);
    BOOST_TEST(gc() == json::parse(
                           R"({"responseMimeType":"application/json","responseJsonSchema":{"type":"string"}})"));
    req.response_format.reset();

    req.system = "sys";
    BOOST_TEST(body_of(*encode(req)).at("systemInstruction") ==
               json::parse(R"({"parts":[{"text":"sys"}]})"));
    req.system.clear();

    req.tools = {tool{"a", "", {}, false}, tool{"b", "", {}, false}};
    auto tc = [&](tool_choice c) {
        req.tool_choice = c;
        auto r = encode(req);
        BOOST_REQUIRE(r.has_value());
        return body_of(*r).at("toolConfig");
    };
    BOOST_TEST(tc(tool_choice::automatic()) ==
               json::parse(R"({"functionCallingConfig":{"mode":"AUTO"}})"));
    BOOST_TEST(tc(tool_choice::none()) == json::parse(R"({"functionCallingConfig":{"mode":"NONE"}})"));
    BOOST_TEST(tc(tool_choice::required()) ==
               json::parse(R"({"functionCallingConfig":{"mode":"ANY"}})"));
    BOOST_TEST(tc(tool_choice::named("b")) ==
               json::parse(R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["b"]}})"));
}

BOOST_AUTO_TEST_CASE(turns_alternate) {
    // Consecutive messages of one role become one turn; tool answers are user turns.
    chat_request req{.model = "x/m",
                     .messages = {user("a"), user("b"), assistant("c"), assistant("d"),
                                  assistant("", {{"c1", "f", "{}"}}), tool_answer("c1", "{}"),
                                  user("e")}};
    auto const b = body_of(*encode(req));
    BOOST_TEST(b.at("contents") == json::parse(R"([
        {"role":"user","parts":[{"text":"a"},{"text":"b"}]},
        {"role":"model","parts":[{"text":"c"},{"text":"d"},{"functionCall":{"name":"f","args":{}}}]},
        {"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}},{"text":"e"}]}])"));
}

BOOST_AUTO_TEST_CASE(tool_result_response_object) {
    // A JSON object is sent as is; anything else is wrapped under Google's documented keys.
    BOOST_TEST(response_of({"c1", "f", R"({"temp_c":4})", false}) == json::parse(R"({"temp_c":4})"));
    BOOST_TEST(response_of({"c1", "f", "sunny", false}) == json::parse(R"({"output":"sunny"})"));
    BOOST_TEST(response_of({"c1", "f", "42", false}) == json::parse(R"({"output":42})"));
    BOOST_TEST(response_of({"c1", "f", "[1,2]", false}) == json::parse(R"({"output":[1,2]})"));
    BOOST_TEST(response_of({"c1", "f", R"("quoted")", false}) == json::parse(R"({"output":"quoted"})"));
    BOOST_TEST(response_of({"c1", "f", "", false}) == json::parse(R"({"output":""})"));
    BOOST_TEST(response_of({"c1", "f", "no such city", true}) ==
               json::parse(R"({"error":"no such city"})"));
    BOOST_TEST(response_of({"c1", "f", R"({"code":404})", true}) ==
               json::parse(R"({"error":{"code":404}})"));
}

BOOST_AUTO_TEST_CASE(tool_result_name) {
    // From the result itself, else from the latest earlier call with its id (Gemini answers
    // number their calls call_0, call_1... afresh, so ids repeat across turns).
    chat_request req{.model = "x/m",
                     .messages = {user("q"), assistant("", {{"call_0", "first", "{}"}}),
                                  tool_answer("call_0", "1"), assistant("", {{"call_0", "second", "{}"}}),
                                  tool_answer("call_0", "2"), tool_answer("call_0", "3", "explicit")}};
    auto const b = body_of(*encode(req));
    auto const& c = b.at("contents").as_array();
    BOOST_TEST(c.at(2).at("parts").at(0).at("functionResponse").at("name") == json::value("first"));
    BOOST_TEST(c.at(4).at("parts").at(0).at("functionResponse").at("name") == json::value("second"));
    BOOST_TEST(c.at(4).at("parts").at(1).at("functionResponse").at("name") == json::value("explicit"));

    // A call made later does not name an earlier result; no name at all is an error naming the
    // call.
    chat_request orphan{.model = "x/m",
                        .messages = {user("q"), tool_answer("call_9", "1"),
                                     assistant("", {{"call_9", "late", "{}"}})}};
    auto const r = encode(orphan);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::invalid_request));
    BOOST_TEST(r.error().diag.message.find("messages[1].content[0]") == 0u, r.error().diag.message);
    BOOST_TEST(r.error().diag.message.find("'call_9'") != std::string::npos, r.error().diag.message);
}

BOOST_AUTO_TEST_CASE(extra_wins) {
    chat_request req{.model = "x/m", .messages = {user("hi")}};
    req.temperature = 1.0;
    req.extra = json::parse(R"({"generationConfig":{"temperature":0.1,"thinkingConfig":{"thinkingBudget":0}},
                                "contents":[{"role":"user","parts":[{"text":"replaced"}]}],
                                "cachedContent":"cachedContents/abc"})")
                    .as_object();
    auto const r = encode(req, true);
    BOOST_REQUIRE(r.has_value());
    auto const b = body_of(*r);
    BOOST_TEST(b.at("generationConfig") ==
               json::parse(R"({"temperature":0.1,"thinkingConfig":{"thinkingBudget":0}})"));
    BOOST_TEST(b.at("contents") == json::parse(R"([{"role":"user","parts":[{"text":"replaced"}]}])"));
    BOOST_TEST(b.at("cachedContent") == json::value("cachedContents/abc"));
}

BOOST_AUTO_TEST_CASE(headers_of_the_call_are_the_clients) {
    chat_request req{.model = "x/m", .messages = {user("hi")}};
    req.headers = {{"X-Custom", "1"}};  // applied by the client, not the wire format
    auto const r = encode(req);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->header("x-custom").empty());
    BOOST_TEST(r->headers.size() == 2u);
}

BOOST_AUTO_TEST_CASE(invalid_requests) {
    auto fails = [](chat_request const& req, error e, std::string_view prefix,
                    json::object opts = {}) {
        auto const r = encode(req, false, std::move(opts));
        BOOST_TEST_CONTEXT(prefix) {
            BOOST_REQUIRE(!r.has_value());
            BOOST_TEST(r.error().code == make_error_code(e), code_name(r.error().code));
            BOOST_TEST(r.error().diag.message.find(prefix) == 0u, r.error().diag.message);
        }
    };
    using E = error;
    fails({.model = "x/m"}, E::invalid_request, "the request has no messages");
    fails({.model = "x/m", .messages = {system("only a system prompt")}}, E::invalid_request,
          "the request has only system messages");

    // `user` has no Gemini field: refused, never dropped.
    chat_request with_user{.model = "x/m", .messages = {user("hi")}};
    with_user.user = "user-1234";
    fails(with_user, E::unsupported, "'user'");
    fails(with_user, E::unsupported, "'user'", vertex_options());

    // Empty messages (Gemini rejects empty text).
    fails({.model = "x/m", .messages = {user("")}}, E::invalid_request, "messages[0]: the message has no content");
    fails({.model = "x/m", .messages = {user("a"), assistant("")}}, E::invalid_request,
          "messages[1]: the message has no content");

    // Images.
    for (auto url : {"ftp://example.com/a.png", "file:///etc/passwd", "example.com/a.png", "",
                     "https://", "data:image/png,iVBOR", "data:;base64,AAAA", "data:image/png;base64"}) {
        fails({.model = "x/m", .messages = {user({text_part{"look"}, image_part{url, ""}})}},
              E::invalid_request, "messages[0].content[1]");
    }
    for (auto url : {"https://example.com/a.png", "HTTPS://EXAMPLE.COM/A.PNG", "http://localhost/x.jpg",
                     "gs://b/o.gif", "data:image/jpeg;base64,/9j/4AAQ", "https://example.com/no-extension"}) {
        chat_request req{.model = "x/m", .messages = {user({image_part{url, ""}})}};
        BOOST_TEST(encode(req).has_value(), url);
    }
    // Vertex needs the MIME type of a remote image.
    fails({.model = "x/m", .messages = {user({image_part{"https://example.com/no-extension", ""}})}},
          E::unsupported, "messages[0].content[0]: Vertex AI needs the MIME type", vertex_options());
    BOOST_TEST(encode({.model = "x/m", .messages = {user({image_part{"https://example.com/a.heic", ""}})}},
                      false, vertex_options())
                   .has_value());

    // Tool calls.
    fails({.model = "x/m", .messages = {user("q"), assistant("", {{"c", "f", "{not json"}})}},
          E::invalid_request, "messages[1].content[0]: the arguments of tool call 'f' are not valid JSON");
    fails({.model = "x/m", .messages = {user("q"), assistant("", {{"c", "f", "[1]"}})}},
          E::invalid_request, "messages[1].content[0]: the arguments of tool call 'f' must be a JSON object");
    fails({.model = "x/m", .messages = {user("q"), assistant("", {{"c", "", "{}"}})}},
          E::invalid_request, "messages[1].content[0]: a tool call needs a name");
    fails({.model = "x/m", .messages = {user("q"), tool_answer("c", "r")}}, E::invalid_request,
          "messages[1].content[0]: Gemini needs the function name");

    // Tool choice.
    chat_request named{.model = "x/m", .messages = {user("hi")}};
    named.tools = {tool{"a", "", {}, false}};
    named.tool_choice = tool_choice::named("b");
    fails(named, E::invalid_request, "tool_choice names the tool 'b'");
    named.tools.clear();
    fails(named, E::invalid_request, "tool_choice names the tool 'b'");
    chat_request required{.model = "x/m", .messages = {user("hi")}};
    required.tool_choice = tool_choice::required();
    fails(required, E::invalid_request, "tool_choice is 'required'");
    chat_request nameless{.model = "x/m", .messages = {user("hi")}};
    nameless.tools = {tool{"", "", {}, false}};
    fails(nameless, E::invalid_request, "tools[0]: a tool needs a name");

    // Parts in the wrong role.
    fails({.model = "x/m", .messages = {user({tool_call{"c", "f", "{}"}})}}, E::invalid_request,
          "messages[0].content[0]: a tool call belongs in an assistant message");
    fails({.model = "x/m", .messages = {message{role::assistant, {tool_result{"c", "f", "r", false}}}}},
          E::invalid_request, "messages[0].content[0]: a tool result belongs");
    fails({.model = "x/m", .messages = {message{role::tool, {text_part{"r"}}}}}, E::invalid_request,
          "messages[0].content[0]: a tool message may only hold tool_result parts");
    fails({.model = "x/m", .messages = {message{role::tool, {}}}}, E::invalid_request,
          "messages[0]: a tool message needs a tool_result part");
    fails({.model = "x/m", .messages = {message{role::system, {image_part{"https://x/y.png", ""}}}, user("q")}},
          E::unsupported, "messages[0].content[0]: a system message may only hold text");
    fails({.model = "x/m", .messages = {user("q"), message{role::assistant, {image_part{"https://x/y.png", ""}}}}},
          E::unsupported, "messages[1].content[0]: assistant messages cannot hold images");
}

BOOST_AUTO_TEST_CASE(response_fixtures) {
    check_response_table(fmt(), fixture_dir);
}

BOOST_AUTO_TEST_CASE(every_finish_reason) {
    // PROVIDERS.md section 7: each documented finishReason, with and without a function call.
    struct tc {
        std::string_view native;
        std::string_view unified;  // or the failure's code name
        bool fails;
    };
    for (auto const& t : {
             tc{"STOP", "stop", false},
             tc{"MAX_TOKENS", "length", false},
             tc{"CONTINUATION", "length", false},
             tc{"SAFETY", "content_filter", false},
             tc{"RECITATION", "content_filter", false},
             tc{"LANGUAGE", "content_filter", false},
             tc{"BLOCKLIST", "content_filter", false},
             tc{"PROHIBITED_CONTENT", "content_filter", false},
             tc{"SPII", "content_filter", false},
             tc{"IMAGE_SAFETY", "content_filter", false},
             tc{"IMAGE_PROHIBITED_CONTENT", "content_filter", false},
             tc{"IMAGE_RECITATION", "content_filter", false},
             tc{"MALFORMED_FUNCTION_CALL", "server_error", true},
             tc{"UNEXPECTED_TOOL_CALL", "server_error", true},
             tc{"TOO_MANY_TOOL_CALLS", "server_error", true},
             tc{"OTHER", "server_error", true},
             tc{"IMAGE_OTHER", "server_error", true},
             tc{"NO_IMAGE", "server_error", true},
             tc{"FINISH_REASON_UNSPECIFIED", "unknown", false},
             tc{"SOMETHING_NEWER", "unknown", false},
         }) {
        BOOST_TEST_CONTEXT(t.native) {
            for (bool call : {false, true}) {
                std::string const part = call ? R"({"functionCall":{"name":"f","args":{}}})"
                                              : R"({"text":"x"})";
                std::string const body = R"({"candidates":[{"content":{"parts":[)" + part +
                                         R"(],"role":"model"},"finishReason":")" +
                                         std::string(t.native) + R"("}],"responseId":"r"})";
                auto const r = fmt().decode(response_head{200, {}}, body);
                std::string const sse = "data: " + body + "\r\n\r\n";
                json::object const s = decode_stream({sse});
                if (t.fails) {
                    BOOST_REQUIRE(!r.has_value());
                    BOOST_TEST(code_name(r.error().code) == t.unified);
                    BOOST_TEST(r.error().diag.error_code == t.native);
                    BOOST_TEST(r.error().diag.message.find(t.native) != std::string::npos);
                    BOOST_TEST(s.at("end").at("code") == json::value(t.unified));
                    continue;
                }
                BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
                // STOP after a function call is tool_calls; the others keep their meaning.
                std::string_view const expected =
                    call && t.native == "STOP" ? "tool_calls"sv : t.unified;
                BOOST_TEST(to_string(r->finish_reason) == expected);
                BOOST_TEST(r->native_finish_reason == t.native);
                BOOST_TEST(s.at("end") == json::value("ok"));
                BOOST_TEST(s.at("chunks").as_array().back().at("finish_reason") == json::value(expected));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(error_fixtures) {
    check_error_table(fmt(), fixture_dir);
}

BOOST_AUTO_TEST_CASE(retry_delay_forms) {
    for (auto const& [delay, ms] : std::vector<std::pair<std::string, json::value>>{
             {"17s", 17000}, {"0.5s", 500}, {"1.000340s", 1000}, {"0s", 0},
             {"17", nullptr}, {"s", nullptr}, {"-1s", nullptr}, {"abc", nullptr}}) {
        std::string const body =
            R"({"error":{"code":429,"message":"m","status":"RESOURCE_EXHAUSTED","details":[)"
            R"({"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":")" +
            delay + R"("}]}})";
        auto const f = fmt().decode_error(response_head{429, {}}, body);
        BOOST_TEST(failure_json(f).at("retry_after_ms") == ms, delay);
        BOOST_TEST(f.code == make_error_code(error::rate_limited));
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
        fmt(), fixture_dir, [](json::object const& c) { return case_body(c); }, true);
}

BOOST_AUTO_TEST_CASE(stream_tool_calls_assemble) {
    // What the client does with the deltas: whole calls, by index.
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_REQUIRE(d->feed(load_text("stream_function_call.sse"), chunks).has_value());
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
    BOOST_TEST(calls[0].id == "call_0");
    BOOST_TEST(calls[0].arguments == R"({"city":"Oslo"})");
    BOOST_TEST(calls[1].id == "fc-b");
    BOOST_TEST(calls[1].arguments == R"({"city":"Bergen"})");
}

BOOST_AUTO_TEST_CASE(stream_events_after_finish) {
    // After the finish reason only usage updates count; content or a second finish is ignored.
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_TEST(d->feed("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},"
                       "\"finishReason\":\"STOP\"}]}\n\n"
                       "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},"
                       "\"finishReason\":\"MAX_TOKENS\"}]}\n\n",
                       chunks)
                   .has_value());
    BOOST_TEST(d->finish(chunks).has_value());
    BOOST_REQUIRE(chunks.size() == 1u);
    BOOST_TEST(chunks[0].text == "a");
    BOOST_TEST(d->info().native_finish_reason == "STOP");
    // An error event still fails a finished stream: the provider said something went wrong.
    auto e = fmt().make_stream_decoder();
    chunks.clear();
    auto const r = e->feed("data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n"
                           "data: {\"error\":{\"code\":500,\"status\":\"INTERNAL\",\"message\":\"x\"}}\n\n",
                           chunks);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::server_error));
}

BOOST_AUTO_TEST_CASE(stream_failure_is_sticky) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    auto const r = d->feed("data: {not json}\n\n", chunks);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::protocol_error));
    // Later bytes, even a clean finish, do not revive it.
    auto const again =
        d->feed("data: {\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n", chunks);
    BOOST_REQUIRE(!again.has_value());
    BOOST_TEST(again.error().code == make_error_code(error::protocol_error));
    auto const fin = d->finish(chunks);
    BOOST_REQUIRE(!fin.has_value());
    BOOST_TEST(fin.error().code == make_error_code(error::protocol_error));
    BOOST_TEST(chunks.empty());
}

BOOST_AUTO_TEST_CASE(stream_non_object_event) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    auto const r = d->feed("data: [1,2]\n\n", chunks);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::protocol_error));
    // The array-wrapped error form is still an error.
    auto e = fmt().make_stream_decoder();
    auto const r2 = e->feed(
        "data: [{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"message\":\"q\"}}]\n\n",
        chunks);
    BOOST_REQUIRE(!r2.has_value());
    BOOST_TEST(r2.error().code == make_error_code(error::rate_limited));
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
    std::string body = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"" + big +
                       "\"}]}}]}\r\n\r\n";
    body += "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"z\"}]},"
            "\"finishReason\":\"STOP\"}]}\r\n\r\n";
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
