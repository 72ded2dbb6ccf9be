// SPDX-License-Identifier: BSL-1.0
// The Gemini generateContent wire format (AI Studio and Vertex AI), table-driven over the fixtures
// in tests/data/gemini/: the requests we build, the responses, errors and streams we decode; the
// requests the server side decodes and the answers, streams and errors it writes; and the round
// trips between the two sides.
#include "common/wire_fixtures.hpp"
#include "wire/formats.hpp"
#include "wire/gemini.hpp"
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
    // An error result already in Google's shape (from a Gemini client) is not wrapped again.
    BOOST_TEST(response_of({"c1", "f", R"({"error":"gone"})", true}) ==
               json::parse(R"({"error":"gone"})"));
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

// ---------------------------------------------------------------------------------------------
// The server side (src/wire/gemini_server.cpp)

namespace {

detail::wire_server const& server() {
    return detail::gemini_server();
}

/// A request to `path` (with its query) and `headers`, as a server sees it.
struct head_fixture : request_head_fixture {
    explicit head_fixture(std::string_view target = "/v1beta/models/gemini-2.0-flash:generateContent",
                          std::vector<std::pair<std::string, std::string>> h = {})
        : request_head_fixture(target, std::move(h)) {
        // The gateway's table (whole paths) or, for a relative target, the emulator's.
        detail::endpoint_table const exact(std::span(&server_ptr, 1), false);
        detail::endpoint_table const any(std::span(&server_ptr, 1), true);
        auto m = exact.find("POST", head.path);
        if (!m) m = any.find("POST", head.path);
        if (m) head.path_model = m->path_model;
    }

    static inline detail::wire_server const* server_ptr = &detail::gemini_server();
};

boost::system::result<detail::inbound_request, detail::api_error>
decode_request(std::string_view body,
               std::string_view target = "/v1beta/models/gemini-2.0-flash:generateContent") {
    head_fixture h(target);
    return server().decode_request(h.head, body);
}

detail::inbound_request decoded(std::string_view body,
                                std::string_view target = "/v1beta/models/gemini-2.0-flash:generateContent") {
    auto r = decode_request(body, target);
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().message));
    return std::move(*r);
}

json::value parse_json(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

/// The JSON payloads of an SSE body's `data:` events (`\r\n\r\n` between them, as Google's).
std::vector<json::value> events(std::string_view sse) {
    std::vector<json::value> out;
    std::size_t pos = 0;
    while (pos < sse.size()) {
        auto const end = sse.find("\r\n\r\n", pos);
        BOOST_TEST_REQUIRE(end != std::string_view::npos, "unterminated event in " << sse);
        auto const ev = sse.substr(pos, end - pos);
        BOOST_TEST_REQUIRE(ev.starts_with("data: "));
        out.push_back(parse_json(ev.substr(6)));
        pos = end + 4;
    }
    return out;
}

detail::answer_meta meta(std::string_view id, std::string_view model) {
    detail::answer_meta m;
    m.id = id;
    m.created = 1700000000;
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
    BOOST_TEST(detail::find_wire_server("gemini") == &server());
    BOOST_TEST(server().name() == fmt().name());
    // One server side serves both path shapes: Vertex AI has no server entry of its own.
    BOOST_TEST(detail::find_wire_server("vertex") == nullptr);
    BOOST_TEST(server().stream_content_type() == "text/event-stream");
    BOOST_TEST(server().key_hint() == "x-goog-api-key: <key>");
}

BOOST_AUTO_TEST_CASE(server_endpoints) {
    detail::endpoint_table const exact(std::span(&head_fixture::server_ptr, 1), false);
    auto find = [&](std::string_view method, std::string_view path) {
        auto m = exact.find(method, path);
        return m ? std::optional(std::tuple(m->ep->op, m->ep->stream, m->path_model))
                 : std::nullopt;
    };
    using detail::operation;
    using t = std::tuple<operation, bool, std::string>;
    BOOST_TEST((find("POST", "/v1beta/models/gemini-2.0-flash:generateContent") ==
                t{operation::chat, false, "gemini-2.0-flash"}));
    BOOST_TEST((find("POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent") ==
                t{operation::chat, true, "gemini-2.0-flash"}));
    BOOST_TEST((find("POST", "/v1beta/models/gemini-2.0-flash:countTokens") ==
                t{operation::count_tokens, false, "gemini-2.0-flash"}));
    BOOST_TEST((find("POST", "/v1/models/m:generateContent") == t{operation::chat, false, "m"}));
    // A gateway model name with slashes, as the SDK puts it into the path; percent-decoded.
    BOOST_TEST((find("POST", "/v1beta/models/openai/gpt-4o-mini:generateContent") ==
                t{operation::chat, false, "openai/gpt-4o-mini"}));
    BOOST_TEST((find("POST", "/v1beta/models/a%7Eb:generateContent") ==
                t{operation::chat, false, "a~b"}));
    // Vertex AI: project and location, any publisher; express mode without them; v1beta1.
    BOOST_TEST((find("POST", "/v1/projects/p/locations/us-central1/publishers/google/models/"
                             "gemini-2.0-flash:streamGenerateContent") ==
                t{operation::chat, true, "gemini-2.0-flash"}));
    BOOST_TEST((find("POST", "/v1beta1/projects/p/locations/global/publishers/openai/models/"
                             "gpt-4o:countTokens") == t{operation::count_tokens, false, "gpt-4o"}));
    BOOST_TEST((find("POST", "/v1beta1/publishers/google/models/m:generateContent") ==
                t{operation::chat, false, "m"}));
    BOOST_TEST((find("GET", "/v1beta/models") == t{operation::list_models, false, ""}));
    BOOST_TEST((find("GET", "/v1beta/models/gemini-2.0-flash") ==
                t{operation::get_model, false, "gemini-2.0-flash"}));
    // Embeddings: the Gemini API's two methods and Vertex AI's predict.
    BOOST_TEST((find("POST", "/v1beta/models/m:embedContent") == t{operation::embed, false, "m"}));
    BOOST_TEST((find("POST", "/v1beta/models/m:batchEmbedContents") ==
                t{operation::embed, false, "m"}));
    BOOST_TEST((find("POST", "/v1/projects/p/locations/l/publishers/google/models/"
                             "text-embedding-005:predict") ==
                t{operation::embed, false, "text-embedding-005"}));
    BOOST_TEST(!find("POST", "/v1beta/models/m:embedContents"));
    BOOST_TEST(!find("POST", "/v1beta/models/:generateContent"));  // no model

    // The emulator is reached at any base path a client is configured with.
    detail::endpoint_table const any(std::span(&head_fixture::server_ptr, 1), true);
    for (auto path : {"/gemini/v1beta/models/m:generateContent", "/x/models/m:generateContent",
                      "/v1/projects/p/locations/l/publishers/google/models/m:generateContent"}) {
        auto const m = any.find("POST", path);
        BOOST_TEST_REQUIRE(m.has_value(), path);
        BOOST_TEST(m->path_model == "m");
    }
}

BOOST_AUTO_TEST_CASE(server_credentials) {
    using kind = detail::credential::kind;
    auto cred = [](std::string_view target, std::vector<std::pair<std::string, std::string>> h) {
        head_fixture f(target, std::move(h));
        auto const c = server().presented_credential(f.head);
        return std::pair(c.how, std::string(c.value));
    };
    std::string_view const studio = "/v1beta/models/m:generateContent";
    std::string_view const vertex = "/v1/projects/p/locations/l/publishers/google/models/m:generateContent";
    BOOST_TEST((cred(studio, {{"x-goog-api-key", "k1"}}) == std::pair(kind::api_key, std::string("k1"))));
    BOOST_TEST((cred("/v1beta/models/m:generateContent?alt=sse&key=k2", {}) ==
                std::pair(kind::api_key, std::string("k2"))));
    BOOST_TEST((cred(vertex, {{"Authorization", "Bearer ya29.t"}}) ==
                std::pair(kind::access_token, std::string("ya29.t"))));
    // AI Studio takes OAuth tokens too; the API key wins when both are there.
    BOOST_TEST((cred(studio, {{"authorization", "bearer tok"}}) ==
                std::pair(kind::access_token, std::string("tok"))));
    BOOST_TEST((cred(studio, {{"x-goog-api-key", "k"}, {"Authorization", "Bearer t"}}).first ==
                kind::api_key));
    // A blank key is refused (presented as a token nobody issued), not anonymous.
    BOOST_TEST((cred(studio, {{"x-goog-api-key", ""}}) == std::pair(kind::access_token, std::string())));
    BOOST_TEST((cred("/v1beta/models/m:generateContent?key=", {}).first == kind::access_token));
    BOOST_TEST((cred(studio, {}).first == kind::none));
    BOOST_TEST((cred(studio, {{"x-api-key", "not-google"}}).first == kind::none));
}

BOOST_AUTO_TEST_CASE(server_auth_errors_depend_on_the_path) {
    auto refusal = [](std::string_view target, std::vector<std::pair<std::string, std::string>> h,
                      bool missing) {
        head_fixture f(target, std::move(h));
        return server().auth_error_for(f.head, missing, {}, {});
    };
    std::string_view const studio = "/v1beta/models/m:generateContent";
    std::string_view const vertex = "/v1/projects/p/locations/l/publishers/google/models/m:generateContent";
    auto const anonymous = refusal(studio, {}, true);
    BOOST_TEST(anonymous.status == 403u);
    BOOST_TEST(anonymous.message.find("unregistered callers") != std::string::npos);
    auto const no_token = refusal(vertex, {}, true);
    BOOST_TEST(no_token.status == 401u);
    BOOST_TEST(no_token.code == "CREDENTIALS_MISSING");
    auto const blank = refusal(studio, {{"x-goog-api-key", ""}}, false);
    BOOST_TEST(blank.status == 400u);
    BOOST_TEST(blank.code == "API_KEY_INVALID");
    auto const bad_token = refusal(vertex, {{"Authorization", "Bearer nope"}}, false);
    BOOST_TEST(bad_token.status == 401u);
    BOOST_TEST(bad_token.type == "UNAUTHENTICATED");
    // The body of each: Google's shape, with the reason in an ErrorInfo.
    auto const a = server().encode_error(blank);
    auto const b = parse_json(a.body);
    BOOST_TEST(b.at("error").at("status") == "INVALID_ARGUMENT");
    BOOST_TEST(b.at("error").at("details").at(0).at("reason") == "API_KEY_INVALID");
}

BOOST_AUTO_TEST_CASE(server_decodes_a_full_request) {
    auto const in = decoded(R"({
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [
          {"role": "user", "parts": [{"text": "Weather in "}, {"text": "Oslo?"},
                                     {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
                                     {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://b/c.jpg"}}]},
          {"role": "model", "parts": [{"text": "Checking."},
                                      {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]},
          {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 4}}}]},
          {"role": "user", "parts": [{"text": "Thanks"}]}
        ],
        "tools": [{"functionDeclarations": [
          {"name": "get_weather", "description": "Weather", "parametersJsonSchema": {"type": "object"}},
          {"name": "now"}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        "generationConfig": {"temperature": 0.2, "topP": 0.9, "maxOutputTokens": 100, "seed": 7,
                             "stopSequences": ["END"], "candidateCount": 1,
                             "responseMimeType": "application/json",
                             "responseJsonSchema": {"type": "object"}}
    })",
                            "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
    auto const& r = in.req;
    BOOST_TEST(r.model == "gemini-2.0-flash");
    BOOST_TEST(in.stream);
    BOOST_TEST(in.include_usage);
    BOOST_TEST(r.system == "Be terse.");
    BOOST_TEST_REQUIRE(r.messages.size() == 3u);  // the two trailing user turns are one message
    json::value const expected = json::parse(R"([
      {"role":"user","content":[{"text":"Weather in "},{"text":"Oslo?"},
        {"image":"data:image/png;base64,iVBO","detail":""},{"image":"gs://b/c.jpg","detail":""}]},
      {"role":"assistant","content":[{"text":"Checking."},
        {"tool_call":{"id":"call_0","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
      {"role":"user","content":[
        {"tool_result":{"id":"call_0","name":"get_weather","content":"{\"temp_c\":4}","is_error":false}},
        {"text":"Thanks"}]}])");
    check_json(request_json(r).at("messages"), expected, "messages");
    BOOST_TEST((r.temperature == 0.2));
    BOOST_TEST((r.top_p == 0.9));
    BOOST_TEST((r.max_tokens == 100));
    BOOST_TEST((r.seed == 7));
    BOOST_TEST((r.stop == std::vector<std::string>{"END"}));
    BOOST_TEST_REQUIRE(r.tools.size() == 2u);
    BOOST_TEST(r.tools[0].description == "Weather");
    BOOST_TEST(json::value(r.tools[0].parameters) == json::parse(R"({"type":"object"})"));
    BOOST_TEST(r.tools[1].parameters.empty());
    BOOST_TEST_REQUIRE(r.tool_choice.has_value());
    BOOST_TEST((r.tool_choice->how == tool_choice::mode::named));
    BOOST_TEST(r.tool_choice->name == "get_weather");
    BOOST_TEST_REQUIRE(r.response_format.has_value());
    BOOST_TEST((r.response_format->type == response_format::kind::json_schema));
    BOOST_TEST(json::value(r.response_format->schema) == json::parse(R"({"type":"object"})"));
    BOOST_TEST(in.native.empty());  // candidateCount 1 is the default
}

BOOST_AUTO_TEST_CASE(server_keeps_what_the_unified_request_cannot_hold) {
    auto const in = decoded(R"({
        "contents": [
          {"role": "user", "parts": [{"text": "hi"}]},
          {"role": "model", "parts": [{"text": "pondering", "thought": true},
                                      {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}]},
          {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"output": 3}}}]}],
        "tools": [{"functionDeclarations": [{"name": "f"}]}, {"googleSearch": {}}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f", "g"]}},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "cachedContent": "cachedContents/abc",
        "generationConfig": {"topK": 40, "candidateCount": 2, "thinkingConfig": {"thinkingBudget": 0},
                             "responseMimeType": "text/x.enum", "responseSchema": {"type": "STRING", "enum": ["a"]},
                             "temperature": 1}
    })");
    auto const& n = in.native;
    // The whole tools (googleSearch), the toolConfig (two allowed names), the config's own
    // fields, the rest as sent. The thought and the call's signature are the unified request's
    // (a reasoning part, the call's signature), and so is the thinking budget.
    BOOST_TEST(!n.contains("contents"));
    BOOST_TEST(n.at("tools").as_array().size() == 2u);
    BOOST_TEST(n.at("toolConfig").at("functionCallingConfig").at("allowedFunctionNames").as_array().size() == 2u);
    BOOST_TEST(json::value(n.at("generationConfig")) ==
               json::parse(R"({"topK":40,"candidateCount":2,
                               "responseMimeType":"text/x.enum","responseSchema":{"type":"STRING","enum":["a"]}})"));
    BOOST_TEST(n.at("safetySettings").as_array().size() == 1u);
    BOOST_TEST(n.at("cachedContent") == "cachedContents/abc");
    BOOST_TEST(n.size() == 5u);
    auto const& r = in.req;
    BOOST_TEST((r.temperature == 1.0));
    BOOST_TEST_REQUIRE(r.reasoning.has_value());
    BOOST_TEST((r.reasoning->budget_tokens == std::optional<std::int64_t>(0)));
    BOOST_TEST_REQUIRE(r.messages.size() == 3u);
    check_json(request_json(r).at("messages").at(1),
               json::parse(R"({"role":"assistant","content":[
                   {"reasoning":{"kind":1,"origin":"google","text":"pondering"}},
                   {"tool_call":{"id":"call_0","name":"f","arguments":"{}","signature":"c2ln"}}]})"),
               "assistant");
    check_json(request_json(r).at("messages").at(2),
               json::parse(R"({"role":"tool","content":[{"tool_result":{"id":"call_0","name":"f","content":"{\"output\":3}","is_error":false}}]})"),
               "tool");
    BOOST_TEST((r.tool_choice->how == tool_choice::mode::required));
    BOOST_TEST(!r.response_format.has_value());
}

BOOST_AUTO_TEST_CASE(server_pairs_function_responses_with_their_calls) {
    // Ids when the client sends them (this server's answers carry the upstream's); otherwise
    // the oldest unanswered call of the name; a result without a call gets an id of its own.
    auto const in = decoded(R"({"contents": [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "a", "args": {"n": 1}}},
                                    {"functionCall": {"name": "a", "args": {"n": 2}}},
                                    {"functionCall": {"id": "toolu_9", "name": "b"}}]},
        {"role": "function", "parts": [{"functionResponse": {"name": "b", "id": "toolu_9", "response": {"error": "no"}}},
                                       {"functionResponse": {"name": "a", "response": {"output": "two"}}},
                                       {"functionResponse": {"name": "a", "response": {"x": 1, "y": 2}}},
                                       {"functionResponse": {"name": "c", "response": {}}}]}]})");
    check_json(request_json(in.req).at("messages").at(2), json::parse(R"({"role":"tool","content":[
        {"tool_result":{"id":"toolu_9","name":"b","content":"{\"error\":\"no\"}","is_error":true}},
        {"tool_result":{"id":"call_0","name":"a","content":"{\"output\":\"two\"}","is_error":false}},
        {"tool_result":{"id":"call_1","name":"a","content":"{\"x\":1,\"y\":2}","is_error":false}},
        {"tool_result":{"id":"call_2","name":"c","content":"{}","is_error":false}}]})"), "results");
}

BOOST_AUTO_TEST_CASE(server_openapi_schemas_become_json_schema) {
    auto const in = decoded(R"({"contents": [{"parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT",
            "properties": {"a": {"type": "STRING", "nullable": true}, "b": {"type": "ARRAY", "items": {"type": "INTEGER"}}},
            "required": ["a"]}}]}],
        "generationConfig": {"responseMimeType": "application/json",
                             "responseSchema": {"type": "OBJECT", "properties": {"ok": {"type": "BOOLEAN"}}}}})");
    BOOST_TEST(json::value(in.req.tools.at(0).parameters) ==
               json::parse(R"({"type":"object","properties":{"a":{"type":["string","null"]},
                               "b":{"type":"array","items":{"type":"integer"}}},"required":["a"]})"));
    BOOST_TEST(json::value(in.req.response_format->schema) ==
               json::parse(R"({"type":"object","properties":{"ok":{"type":"boolean"}}})"));
    BOOST_TEST(in.req.response_format->name == "response");
}

BOOST_AUTO_TEST_CASE(server_reads_snake_case_and_the_model_of_the_path) {
    auto const in = decoded(R"({"system_instruction": {"parts": [{"text": "a"}, {"text": "b"}]},
        "contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "AA=="}}]}],
        "generation_config": {"max_output_tokens": "16"}})",
                            "/v1beta/models/models/m:generateContent");
    BOOST_TEST(in.req.model == "m");  // a `models/` prefix is not part of the name
    BOOST_TEST((in.req.max_tokens == 16));  // int64 as a string, as proto3 JSON allows
    // Two system parts stay two (leading system messages), so they are sent on as two parts.
    BOOST_TEST(in.req.system.empty());
    BOOST_TEST_REQUIRE(in.req.messages.size() == 3u);
    BOOST_TEST((in.req.messages[0].role == role::system));
    BOOST_TEST((in.req.messages[1].role == role::system));
    BOOST_TEST(std::get<image_part>(in.req.messages[2].content.at(0)).url == "data:image/png;base64,AA==");
    // Vertex: a publisher other than google names the gateway model's provider.
    auto const v = decoded(R"({"contents": [{"parts": [{"text": "x"}]}]})",
                           "/v1beta1/projects/p/locations/l/publishers/openai/models/gpt-4o-mini:generateContent");
    BOOST_TEST(v.req.model == "openai/gpt-4o-mini");
    auto const g = decoded(R"({"contents": [{"parts": [{"text": "x"}]}]})",
                           "/v1/projects/p/locations/l/publishers/google/models/gemini-2.0-flash:generateContent");
    BOOST_TEST(g.req.model == "gemini-2.0-flash");
    // countTokens takes a whole generateContentRequest too.
    auto const c = decoded(R"({"generateContentRequest": {"model": "models/x",
        "contents": [{"parts": [{"text": "count me"}]}]}})",
                           "/v1beta/models/gemini-2.0-flash:countTokens");
    BOOST_TEST(c.req.model == "gemini-2.0-flash");
    BOOST_TEST(std::get<text_part>(c.req.messages.at(0).content.at(0)).text == "count me");
    // A streamed chat history holds one model turn per chunk, the last one empty: one message.
    auto const h = decoded(R"({"contents": [{"role": "user", "parts": [{"text": "q"}]},
        {"role": "model", "parts": [{"text": "a"}]}, {"role": "model", "parts": [{"text": "b"}]},
        {"role": "model", "parts": [{"text": ""}]}, {"role": "user", "parts": [{"text": "again"}]}]})");
    check_json(request_json(h.req).at("messages"), json::parse(R"([
        {"role":"user","content":[{"text":"q"}]},{"role":"assistant","content":[{"text":"a"},{"text":"b"}]},
        {"role":"user","content":[{"text":"again"}]}])"), "history");
}

BOOST_AUTO_TEST_CASE(server_bad_requests_name_the_field) {
    struct tc {
        std::string_view body, param, says;
    };
    for (auto const& t : {
             tc{"not json", "", "Invalid JSON payload"},
             tc{"[1]", "", "Expected an object"},
             tc{"{}", "contents", "contents is not specified"},
             tc{R"({"contents": []})", "contents", "contents is not specified"},
             tc{R"({"contents": {}})", "contents", "Invalid value at 'contents'"},
             tc{R"({"contents": [7]})", "contents[0]", "Invalid value at 'contents[0]'"},
             tc{R"({"contents": [{"role": "system", "parts": [{"text": "x"}]}]})", "contents[0].role", "valid role"},
             tc{R"({"contents": [{"role": "user"}]})", "contents[0].parts", "must not be empty"},
             tc{R"({"contents": [{"parts": [{}]}]})", "contents[0].parts[0]", "oneof field 'data'"},
             tc{R"({"contents": [{"parts": [{"text": "x", "foo": 1}]}]})", "contents[0].parts[0].foo",
                "Unknown name \"foo\""},
             tc{R"({"contents": [{"parts": [{"text": 5}]}]})", "contents[0].parts[0].text", "expected a string"},
             tc{R"({"contents": [{"parts": [{"text": ""}]}]})", "contents", "some text or data"},
             tc{R"({"contents": [{"role": "user", "parts": [{"functionCall": {"name": "f"}}]}]})",
                "contents[0].parts[0].functionCall", "can't contain 'functionCall'"},
             tc{R"({"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]})",
                "contents[0].parts[0].functionCall.name", "Name cannot be empty"},
             tc{R"({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": [1]}}]}]})",
                "contents[0].parts[0].functionCall.args", "expected an object"},
             tc{R"({"contents": [{"parts": [{"functionResponse": {"name": "f", "response": 1}}]}]})",
                "contents[0].parts[0].functionResponse.response", "must be a JSON object"},
             tc{R"({"contents": [{"parts": [{"inlineData": {"data": "AA=="}}]}]})",
                "contents[0].parts[0].inlineData.mimeType", "MIME type"},
             tc{R"({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": "many"}})",
                "generationConfig.maxOutputTokens", "TYPE_INT32"},
             tc{R"({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": "hot"}})",
                "generationConfig.temperature", "expected a number"},
             tc{R"({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseJsonSchema": {}}})",
                "generationConfig.responseMimeType", "allowed mimetypes"},
             tc{R"({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{"description": "d"}]}]})",
                "tools[0].functionDeclarations[0].name", "Invalid function name"},
             tc{R"({"contents": [{"parts": [{"text": "x"}]}], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}})",
                "toolConfig.functionCallingConfig.mode", "SOMETIMES"},
             tc{R"({"contents": [{"parts": [{"text": "x"}]}], "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}})",
                "toolConfig.functionCallingConfig.mode", "needs function declarations"},
             tc{R"({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{"name": "f"}]}],
                    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}}})",
                "toolConfig.functionCallingConfig.allowedFunctionNames", "'g' is not declared"},
         }) {
        BOOST_TEST_CONTEXT(t.body) {
            auto const r = decode_request(t.body);
            BOOST_TEST_REQUIRE(!r.has_value());
            BOOST_TEST(r.error().status == 400u);
            BOOST_TEST(r.error().param == t.param);
            BOOST_TEST(r.error().message.find(t.says) != std::string::npos, r.error().message);
            auto const a = server().encode_error(r.error());
            auto const b = parse_json(a.body);
            BOOST_TEST(b.at("error").at("status") == "INVALID_ARGUMENT");
        }
    }
    auto const none = decode_request(R"({"contents": [{"parts": [{"text": "x"}]}]})",
                                     "/v1beta/models/:generateContent");
    BOOST_TEST_REQUIRE(!none.has_value());
    BOOST_TEST(none.error().param == "model");
}

BOOST_AUTO_TEST_CASE(server_renders_an_answer) {
    chat_response r;
    r.content = "Checking \"Oslo\".";
    r.reasoning = "think";
    r.tool_calls = {{"call_x", "get_weather", R"({"city":"Oslo"})"}, {"", "now", ""}};
    r.finish_reason = finish_reason::tool_calls;
    r.usage.input_tokens = 10;
    r.usage.output_tokens = 7;
    r.usage.reasoning_tokens = 2;
    r.usage.cached_input_tokens = 4;
    auto const body = parse_json(encode_response(r, meta("resp-1", "gemini-x")));
    BOOST_TEST(body == json::parse(R"({"candidates":[{"content":{"parts":[
        {"text":"think","thought":true},{"text":"Checking \"Oslo\"."},
        {"functionCall":{"id":"call_x","name":"get_weather","args":{"city":"Oslo"}}},
        {"functionCall":{"name":"now","args":{}}}],"role":"model"},"finishReason":"STOP","index":0}],
        "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"cachedContentTokenCount":4,
          "thoughtsTokenCount":2,"totalTokenCount":17,
          "promptTokensDetails":[{"modality":"TEXT","tokenCount":10}]},
        "modelVersion":"gemini-x","responseId":"resp-1"})"));

    // A call cut by the token limit is left out, as Gemini leaves out what it could not finish;
    // unknown usage is left out; an empty answer still has its (empty) text.
    chat_response cut;
    cut.tool_calls = {{"", "f", R"({"a": "unfinish)"}};
    cut.finish_reason = finish_reason::length;
    BOOST_TEST(parse_json(encode_response(cut, meta("i", "m"))) ==
               json::parse(R"({"candidates":[{"content":{"role":"model"},"finishReason":"MAX_TOKENS",
                               "index":0}],"modelVersion":"m","responseId":"i"})"));
    cut.finish_reason = finish_reason::tool_calls;
    BOOST_TEST(parse_json(encode_response(cut, meta("i", "m"))).at("candidates").at(0).at("finishReason") ==
               "MALFORMED_FUNCTION_CALL");
    chat_response empty;
    empty.finish_reason = finish_reason::content_filter;
    auto const e = parse_json(encode_response(empty, meta("i", "m")));
    BOOST_TEST(e.at("candidates").at(0).at("content") == json::parse(R"({"parts":[{"text":""}],"role":"model"})"));
    BOOST_TEST(e.at("candidates").at(0).at("finishReason") == "SAFETY");
    // A Gemini upstream's own finish name is kept when it means the same.
    empty.native_finish_reason = "RECITATION";
    BOOST_TEST(parse_json(encode_response(empty, meta("i", "m"))).at("candidates").at(0).at("finishReason") ==
               "RECITATION");
}

BOOST_AUTO_TEST_CASE(server_stream_text_then_calls_whole_with_the_finish) {
    auto enc = server().make_stream_encoder(meta("emu-1", "gemini-x"), false);
    std::string out;
    chat_chunk c;
    enc->chunk(c, out);  // nothing yet: Gemini has no opening event
    BOOST_TEST(out.empty());
    c.text = "Hel";
    enc->chunk(c, out);
    c.text = "lo";
    enc->chunk(c, out);
    c.text.clear();
    c.tool_calls = {{0, "call_1", "f", ""}};
    enc->chunk(c, out);
    c.tool_calls = {{0, "", "", R"({"a":)"}};
    enc->chunk(c, out);
    c.tool_calls = {{0, "", "", "1}"}};
    c.finish_reason = finish_reason::tool_calls;
    enc->chunk(c, out);
    chat_response whole;
    whole.usage.input_tokens = 3;
    whole.usage.output_tokens = 4;
    enc->finish(whole, out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 3u);
    BOOST_TEST(ev[0] == json::parse(R"({"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}],
                                       "usageMetadata":{},"modelVersion":"gemini-x","responseId":"emu-1"})"));
    BOOST_TEST(ev[1].at("candidates").at(0).at("content").at("parts").at(0).at("text") == "lo");
    BOOST_TEST(ev[2] == json::parse(R"({"candidates":[{"content":{"parts":[
        {"functionCall":{"id":"call_1","name":"f","args":{"a":1}}}],"role":"model"},"finishReason":"STOP","index":0}],
        "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7,
          "promptTokensDetails":[{"modality":"TEXT","tokenCount":3}]},
        "modelVersion":"gemini-x","responseId":"emu-1"})"));
    // What the client side makes of it.
    auto const back = decode_at_every_split(fmt(), out);
    BOOST_TEST(back.at("end") == "ok");
    BOOST_TEST(back.at("chunks").as_array().size() == 3u);
}

BOOST_AUTO_TEST_CASE(server_stream_error_and_malformed_events) {
    auto enc = server().make_stream_encoder(meta("i", "m"), true);
    std::string out;
    chat_chunk c;
    c.text = "a";
    enc->chunk(c, out);
    std::string bad;
    enc->malformed(bad);
    BOOST_TEST(bad.starts_with("data: {\"candidates\""));
    BOOST_TEST(bad.ends_with("\r\n\r\n"));
    boost::system::error_code ec;
    (void)json::parse(std::string_view(bad).substr(6), ec);
    BOOST_TEST(ec.failed());
    enc->error(server().error_for_status(500, "m"), out);
    auto const ev = events(out);
    BOOST_TEST_REQUIRE(ev.size() == 2u);
    BOOST_TEST(ev[1].at("error").at("code") == 500);
    BOOST_TEST(ev[1].at("error").at("status") == "INTERNAL");
    std::vector<chat_chunk> chunks;
    auto d = fmt().make_stream_decoder();
    auto const r = d->feed(out, chunks);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::server_error));
}

BOOST_AUTO_TEST_CASE(server_errors_and_headers) {
    // The emulator's 429: Google's words, quota details and the RetryInfo of its retry-after.
    auto e = server().error_for_status(429, "gemini-x");
    e.retry_after = std::chrono::milliseconds(17250);
    auto const a = server().encode_error(e);
    BOOST_TEST(a.status == 429u);
    auto const b = parse_json(a.body);
    BOOST_TEST(b.at("error").at("code") == 429);
    BOOST_TEST(b.at("error").at("status") == "RESOURCE_EXHAUSTED");
    auto const& details = b.at("error").at("details").as_array();
    BOOST_TEST(details.back() == json::parse(R"({"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17.250s"})"));
    BOOST_TEST(details.front().at("@type") == "type.googleapis.com/google.rpc.QuotaFailure");
    BOOST_TEST(std::count(a.headers.begin(), a.headers.end(), std::pair<std::string, std::string>("retry-after", "18")) == 1);
    // What the client side reads back.
    response_head h;
    h.status = a.status;
    auto const f = fmt().decode_error(h, a.body);
    BOOST_TEST(f.code == make_error_code(error::rate_limited));
    BOOST_TEST((f.diag.retry_after == std::optional<std::chrono::milliseconds>(17250)));

    // The gateway's errors: the status from the HTTP status, its unified code as the reason,
    // the field in a BadRequest.
    for (auto [status, name] : {std::pair(400u, "INVALID_ARGUMENT"), std::pair(401u, "UNAUTHENTICATED"),
                                std::pair(403u, "PERMISSION_DENIED"), std::pair(404u, "NOT_FOUND"),
                                std::pair(429u, "RESOURCE_EXHAUSTED"), std::pair(500u, "INTERNAL"),
                                std::pair(502u, "UNAVAILABLE"), std::pair(503u, "UNAVAILABLE"),
                                std::pair(504u, "DEADLINE_EXCEEDED")}) {
        detail::api_error g{status, "said", {}, "model_not_found", "model"};
        auto const body = parse_json(server().encode_error(g).body);
        BOOST_TEST(body.at("error").at("status") == name);
        BOOST_TEST(body.at("error").at("details").at(0) ==
                   json::parse(R"({"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"model_not_found","domain":"llmux"})"));
        BOOST_TEST(body.at("error").at("details").at(1).at("fieldViolations").at(0).at("field") == "model");
    }
    detail::api_error plain{500, "oops"};
    BOOST_TEST(parse_json(server().encode_error(plain).body) ==
               json::parse(R"({"error":{"code":500,"message":"oops","status":"INTERNAL"}})"));
    BOOST_TEST(server().unknown_endpoint("GET", "/x").status == 404u);

    // Headers: no request id (Google sends none); the front end's timing.
    auto const head = served_head(server(), [] {
        auto m = meta("i", "m");
        m.processing_ms = 12;
        return m;
    }());
    BOOST_TEST(head.header("server-timing") == "gfet4t7; dur=12");
    BOOST_TEST(head.header("x-request-id").empty());
    // Ids: Gemini's function calls have none; responses are tag-n.
    BOOST_TEST(server().make_id(detail::id_kind::response, "emu", 7) == "emu-7");
    BOOST_TEST(server().make_id(detail::id_kind::tool_call, "emu", 7).empty());
}

BOOST_AUTO_TEST_CASE(server_models_and_token_count) {
    std::vector<std::string> const names = {"gemini-x", "openai/gpt-4o"};
    std::string out;
    server().encode_models(names, 0, out);
    auto const list = parse_json(out);
    BOOST_TEST(list.at("models").as_array().size() == 2u);
    BOOST_TEST(list.at("models").at(1).at("name") == "models/openai/gpt-4o");
    BOOST_TEST(list.at("models").at(1).at("displayName") == "openai/gpt-4o");
    out.clear();
    server().encode_token_count(42, out);
    BOOST_TEST(parse_json(out) == json::parse(R"({"totalTokens":42})"));
}

// ---------------------------------------------------------------------------------------------
// Round trips: client-encode then server-decode gives the request back; server-encode then
// client-decode gives the response and its chunks back.

namespace {

/// A tool result's content as the server side reads it back: the functionResponse.response
/// the client side wrote (an object as it is, anything else wrapped as output or error), as
/// JSON text.
std::string carried_content(tool_result const& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.content, ec);
    if (ec) v = json::string(r.content);
    if (v.is_object() && (!r.is_error || (v.get_object().size() == 1 && v.get_object().contains("error"))))
        return json::serialize(v);
    return json::serialize(json::object{{r.is_error ? "error" : "output", v}});
}

/** What Gemini's wire carries of `r`, as the server side decodes it: the model is the
    provider's own name; one system text is the system prompt, several are leading system
    messages; turns of one role are one message (tool results alone are a tool message); empty
    texts and image details are not sent; calls are numbered `call_<n>` in the request (Gemini
    sends no ids) and their results take the id of the call they answer; empty arguments are
    `{}`; `strict` is not sent; a schema is always enforced and named `response`; a tool choice
    of auto or none without tools is not sent; `extra` comes back as `native`, but for the
    generationConfig fields the unified request holds.
*/
chat_request as_gemini_carries(chat_request const& r, std::string_view model) {
    chat_request out;
    out.model = std::string(model);
    std::vector<std::string> system;
    if (!r.system.empty()) system.push_back(r.system);
    for (auto const& m : r.messages)
        if (m.role == role::system)
            for (auto const& p : m.content)
                if (auto const* t = std::get_if<text_part>(&p); t && !t->text.empty())
                    system.push_back(t->text);
    if (system.size() == 1)
        out.system = system.front();
    else
        for (auto const& s : system) out.messages.push_back(::llmux::system(s));

    std::map<std::string, std::string> names;            // original call id -> name
    std::map<std::string, std::string> new_ids;          // original call id -> call_<n>
    std::vector<std::pair<std::string, std::string>> pending;  // new id, name
    std::size_t n = 0;
    std::string last;  // the Gemini role of the message being built
    auto const flush = [&] {
        if (out.messages.empty() || last.empty()) return;
        auto& m = out.messages.back();
        if (m.role == role::user &&
            std::all_of(m.content.begin(), m.content.end(),
                        [](auto const& p) { return std::holds_alternative<tool_result>(p); }))
            m.role = role::tool;
    };
    for (auto const& m : r.messages) {
        if (m.role == role::system) continue;
        std::string const turn = m.role == role::assistant ? "model" : "user";
        if (turn != last) {
            flush();
            out.messages.push_back(message{turn == "model" ? role::assistant : role::user, {}});
            last = turn;
        }
        auto& dst = out.messages.back().content;
        for (auto const& p : m.content) {
            if (auto const* t = std::get_if<text_part>(&p)) {
                if (!t->text.empty()) dst.push_back(*t);
            } else if (auto const* i = std::get_if<image_part>(&p)) {
                dst.push_back(image_part{i->url, {}});
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                std::string const id = "call_" + std::to_string(n++);
                names[c->id] = c->name;
                new_ids[c->id] = id;
                pending.emplace_back(id, c->name);
                dst.push_back(tool_call{id, c->name, c->arguments.empty() ? "{}" : c->arguments});
            } else if (auto const* res = std::get_if<tool_result>(&p)) {
                tool_result t;
                t.name = res->name.empty() ? names[res->tool_call_id] : res->name;
                auto it = std::find_if(pending.begin(), pending.end(),
                                       [&](auto const& c) { return c.second == t.name; });
                t.tool_call_id = it->first;
                pending.erase(it);
                t.content = carried_content(*res);
                t.is_error = res->is_error;
                dst.push_back(std::move(t));
            }
        }
    }
    flush();
    out.temperature = r.temperature;
    out.top_p = r.top_p;
    out.max_tokens = r.max_tokens;
    out.stop = r.stop;
    out.seed = r.seed;
    for (auto const& t : r.tools) out.tools.push_back(tool{t.name, t.description, t.parameters, false});
    out.tool_choice = r.tool_choice;
    if (out.tool_choice && r.tools.empty() &&
        (out.tool_choice->how == tool_choice::mode::automatic ||
         out.tool_choice->how == tool_choice::mode::none))
        out.tool_choice.reset();
    if (r.response_format && r.response_format->type == response_format::kind::json_object)
        out.response_format = response_format::json();
    else if (r.response_format && r.response_format->type == response_format::kind::json_schema)
        out.response_format = response_format::json_schema("response", r.response_format->schema);
    for (auto const& [k, v] : r.extra) {
        if (k != "generationConfig") {
            out.extra.emplace(k, v);
            continue;
        }
        json::object rest;
        for (auto const& [gk, gv] : v.as_object()) {
            if (gk == "temperature")
                out.temperature = gv.to_number<double>();
            else
                rest.emplace(gk, gv);
        }
        if (!rest.empty()) out.extra.emplace(k, std::move(rest));
    }
    return out;
}

/// What Gemini's usage carries of `u`: zero thought and cache counts are not sent (unknown
/// when read back), the total is sent when input and output are known, no cost.
usage as_gemini_usage(usage u) {
    if (u.reasoning_tokens == token_count(0)) u.reasoning_tokens = {};
    if (u.cached_input_tokens == token_count(0)) u.cached_input_tokens = {};
    if (!u.total_tokens && u.input_tokens && u.output_tokens)
        u.total_tokens = *u.input_tokens + *u.output_tokens;
    u.cache_write_tokens = {};
    u.reported_cost.reset();
    return u;
}

/// What Gemini's answer shape carries of `r`: the finish reason Gemini names (STOP when
/// unknown), the response id as the request id.
chat_response as_gemini_answers(chat_response r) {
    if (r.finish_reason == finish_reason::unknown)
        r.finish_reason = r.tool_calls.empty() ? finish_reason::stop : finish_reason::tool_calls;
    bool fails = false;
    if (r.native_finish_reason.empty() ||
        detail::gemini::finish_from_name(r.native_finish_reason, !r.tool_calls.empty(), fails) !=
            r.finish_reason)
        r.native_finish_reason = std::string(detail::gemini::finish_name(r.finish_reason));
    for (auto& c : r.tool_calls)
        if (c.arguments.empty()) c.arguments = "{}";
    r.usage = as_gemini_usage(r.usage);
    r.request_id = r.id;
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

            head_fixture h(sent->target);  // relative: matched as the emulator does
            BOOST_TEST(h.head.path_model == model);
            auto const got = server().decode_request(h.head, sent->body);
            BOOST_REQUIRE_MESSAGE(got.has_value(), (got ? "" : got.error().message));
            BOOST_TEST(got->stream == stream);
            chat_request back = got->req;
            back.extra = got->native;
            check_json(request_json(back), request_json(as_gemini_carries(original, model)),
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
            auto const m = meta(original->id, original->model);
            std::string const body = encode_response(*original, m);
            auto const back = fmt().decode(served_head(server(), m), body);
            BOOST_REQUIRE_MESSAGE(back.has_value(), (back ? "" : back.error().to_string()));
            check_json(response_json(*back), response_json(as_gemini_answers(*original)),
                       "response");
            ++n;
        }
    }
    BOOST_TEST(n >= 9u);  // every answer case of responses.json
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
                encode_stream(server(), meta(info.id, info.model), true, chunks, whole);
            json::object const back = decode_at_every_split(fmt(), bytes);

            // The same text and reasoning, one event each, then the calls whole with the
            // finish reason and the usage in the last event, as Gemini sends them.
            json::array expected;
            chat_chunk last;
            std::optional<finish_reason> fr;
            for (auto const& ch : chunks) {
                chat_chunk part;
                part.reasoning = ch.reasoning;
                if (part.has_content()) expected.push_back(chunk_json(part));
                part = {};
                part.text = ch.text;
                if (part.has_content()) expected.push_back(chunk_json(part));
                for (auto const& t : ch.tool_calls) last.tool_calls.push_back(t);
                if (ch.finish_reason && !fr) fr = ch.finish_reason;
            }
            auto carried = whole;
            carried.finish_reason = fr.value_or(finish_reason::unknown);
            carried = as_gemini_answers(carried);
            last.finish_reason = carried.finish_reason;
            last.usage = carried.usage;
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
    auto const r = decode_request(R"({"contents":[{"role":"user","parts":[{"text":"x"}]}],"":1})");
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().status == 400);
    BOOST_TEST(r.error().message.find("Unknown name") != std::string::npos, r.error().message);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
