// SPDX-License-Identifier: BSL-1.0
// The Bedrock Converse wire format, table-driven over the fixtures in tests/data/bedrock/: the
// requests we build (PROVIDERS.md 6.1 and the body of the 6.5 SigV4 example byte for byte), the
// responses and errors we decode, and ConverseStream bodies built here from real event-stream
// frames (plus the 6.3 example frame verbatim), decoded whole, at every split and byte by byte.
#include "auth/crypto.hpp"
#include "auth/sigv4.hpp"
#include "codec/event_stream.hpp"
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
using detail::event_header;
using detail::http_request;
using detail::response_head;
using detail::wire_format;

wire_format const& fmt() {
    return detail::bedrock_converse_format();
}

// The shared fixture helpers (tests/common/wire_fixtures.hpp), for tests/data/bedrock/.
constexpr std::string_view fixture_dir = "bedrock";
json::value load_json(std::string_view name) {
    return fixture_json(fixture_dir, name);
}

// ---------------------------------------------------------------------------------------------
// Fixtures

std::string unhex(std::string_view hex) {
    std::string compact;
    for (char c : hex)
        if (c != ' ' && c != '\n') compact.push_back(c);
    auto r = detail::hex_decode(compact);
    BOOST_REQUIRE_MESSAGE(r.has_value(), "bad hex in a fixture: " << hex);
    return *r;
}

// ---------------------------------------------------------------------------------------------
// The stream fixture generator: real event-stream frames from the descriptions in streams.json.

std::string frame_of(json::object const& f) {
    if (auto const* h = f.if_contains("hex")) return unhex(str(*h));
    std::string payload;
    if (auto const* p = f.if_contains("payload"))
        payload = p->is_string() ? std::string(str(*p)) : json::serialize(*p);
    std::vector<event_header> headers;
    auto const string_header = [&](std::string_view name, std::string_view value) {
        headers.push_back(event_header{name, value});
    };
    if (auto const* e = f.if_contains("event")) {
        string_header(":event-type", str(*e));
        string_header(":content-type", "application/json");
        string_header(":message-type", "event");
    } else if (auto const* x = f.if_contains("exception")) {
        string_header(":exception-type", str(*x));
        string_header(":content-type", "application/json");
        string_header(":message-type", "exception");
    } else if (auto const* code = f.if_contains("error")) {
        string_header(":error-code", str(*code));
        string_header(":error-message", str(f.at("message")));
        string_header(":message-type", "error");
    } else {
        for (auto const& hv : f.at("headers").as_array())
            string_header(str(hv.as_array().at(0)), str(hv.as_array().at(1)));
    }
    std::string frame = detail::encode_message(headers, payload);
    if (auto const* c = f.if_contains("corrupt")) {
        if (str(*c) == "payload")
            frame[frame.size() - 5] ^= 0x01;  // the last payload byte, before the message CRC
        else
            frame[8] ^= 0x01;  // the prelude CRC
    }
    return frame;
}

std::string stream_body(json::object const& c) {
    std::string out;
    std::size_t last_start = 0;
    for (auto const& f : c.at("frames").as_array()) {
        last_start = out.size();
        out += frame_of(f.as_object());
    }
    if (auto const* cut = c.if_contains("cut"))
        out.resize(out.size() - static_cast<std::size_t>(cut->to_number<int>()));
    if (auto const* keep = c.if_contains("cut_to_prelude"))
        out.resize(last_start + static_cast<std::size_t>(keep->to_number<int>()));
    return out;
}

// ---------------------------------------------------------------------------------------------
// Requests

provider_config bedrock_provider() {
    provider_config p;
    p.name = "bedrock";
    p.wire = "bedrock";
    p.auth = auth_scheme::aws_sigv4;
    return p;
}

result<http_request> encode(chat_request const& req, bool stream = false,
                            std::string_view model = "anthropic.claude-3-haiku-20240307-v1:0") {
    auto const p = bedrock_provider();
    return fmt().encode(req, encode_context{p, model, stream});
}

// The unified requests the request_*.json fixtures were written for.
std::map<std::string, std::function<chat_request()>, std::less<>> const request_builders = {
    {"request_minimal.json",
     [] {
         chat_request r;
         r.model = "bedrock/anthropic.claude-3-haiku-20240307-v1:0";
         r.messages = {user("Hi")};
         r.max_tokens = 64;
         return r;
     }},
    {"request_providers_6_1.json",
     [] {
         chat_request r;
         r.model = "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0";
         r.system = "You are terse.";
         r.messages = {
             user({text_part{"Weather in Oslo?"}, image_base64("image/png", "iVBORw0KGgo=")}),
             assistant("", {{"tooluse_1", "get_weather", R"({"city":"Oslo"})"}}),
             tool_answer("tooluse_1", R"({"temp_c":4})", "get_weather"),
         };
         r.max_tokens = 256;
         r.temperature = 0.2;
         r.top_p = 0.9;
         r.stop = {"END"};
         r.tools = {tool{"get_weather", "Current weather", weather_schema(), false}};
         r.tool_choice = tool_choice::automatic();
         return r;
     }},
    {"request_tool_loop.json",
     [] {
         chat_request r;
         r.model = "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0";
         r.messages = {
             system("You are terse."),
             user("Weather in Oslo and Bergen?"),
             user({text_part{""}, text_part{"Be quick."}}),
             assistant("Checking.", {{"tooluse_a1", "get_weather", R"({"city":"Oslo"})"},
                                     {"tooluse_a2", "get_weather", R"( {"city":"Bergen"} )"}}),
             tool_answer("tooluse_a1", R"({"temp_c":4})", "get_weather"),
             tool_answer("tooluse_a2", "7 degrees"),
             system("Use metric units."),
             assistant("", {{"tooluse_b1", "get_weather", ""}}),
             user({text_part{"Thanks!"}, tool_result{"tooluse_b1", "get_weather", "city unknown", true}}),
         };
         r.tools = {tool{"get_weather", "Current weather", weather_schema(), true}};
         return r;
     }},
    {"request_stream_arn.json",
     [] {
         chat_request r;
         r.model = "bedrock/arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                   "us.anthropic.claude-3-5-sonnet-20240620-v1:0";
         r.messages = {user("Tell me a joke.")};
         r.temperature = 1.0;
         return r;
     }},
    {"request_all_options.json",
     [] {
         chat_request r;
         r.model = "bedrock/mistral.mistral-large-2407-v1:0";
         r.system = "Answer briefly.";
         r.messages = {user("List two colours.")};
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
         r.extra = json::parse(R"({"inferenceConfig":{"temperature":0.1},
             "requestMetadata":{"team":"search"},
             "additionalModelRequestFields":{"top_k":40},
             "performanceConfig":{"latency":"optimized"}})")
                       .as_object();
         return r;
     }},
    {"request_json_schema.json",
     [] {
         chat_request r;
         r.model = "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0";
         r.messages = {user("List two colours.")};
         r.response_format = response_format::json_schema(
             "colours", json::parse(R"({"type":"object","properties":)"
                                    R"({"colours":{"type":"array","items":{"type":"string"}}},)"
                                    R"("required":["colours"]})")
                            .as_object());
         return r;
     }},
    {"request_tool_choice_none.json",
     [] {
         chat_request r;
         r.model = "bedrock/anthropic.claude-3-haiku-20240307-v1:0";
         r.messages = {user("Just talk.")};
         r.max_tokens = 10;
         r.tools = {tool{"get_weather", "Current weather", weather_schema(), false}};
         r.tool_choice = tool_choice::none();
         return r;
     }},
    {"request_images.json",
     [] {
         chat_request r;
         r.model = "bedrock/amazon.nova-pro-v1:0";
         r.messages = {user({text_part{"Compare these."}, image_base64("image/jpeg", "/9j/4AAQ"),
                             image_part{"data:image/jpg;base64,/9j/4AAR", "high"},
                             image_base64("image/gif", "R0lGODlh"),
                             image_base64("image/webp", "UklGRg=="),
                             image_part{"s3://my-bucket/pics/cat.PNG", ""}})};
         return r;
     }},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(bedrock_converse)

BOOST_AUTO_TEST_CASE(registered) {
    BOOST_TEST(detail::find_wire_format("bedrock") == &fmt());
    BOOST_TEST(fmt().name() == "bedrock");
}

BOOST_AUTO_TEST_CASE(request_fixtures) {
    for (auto const& [file, build] : request_builders) {
        BOOST_TEST_CONTEXT("fixture " << file) {
            json::object const fx = load_json(file).as_object();
            auto const p = bedrock_provider();
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
            // Where key order matters (the signed example), the exact bytes.
            if (auto const* text = fx.if_contains("body_text")) BOOST_TEST(r->body == str(*text));
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

BOOST_AUTO_TEST_CASE(minimal_request_signs_as_the_sigv4_example) {
    // PROVIDERS.md 6.5: the body and path we encode, signed with the example's credentials,
    // time and headers, give the documented Authorization (so both are byte-exact).
    chat_request req;
    req.model = "bedrock/anthropic.claude-3-haiku-20240307-v1:0";
    req.messages = {user("Hi")};
    req.max_tokens = 64;
    auto const r = encode(req);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->body.size() == 91u);
    BOOST_TEST(detail::sha256_hex(r->body) ==
               "9fe85f2d1d832f88fa910da82e4380943a72b2d8f884106428ba8c4588a20b85");
    std::vector<std::pair<std::string, std::string>> const headers = {
        {"Content-Type", std::string(r->header("Content-Type"))}};
    detail::sigv4_request sr;
    sr.host = "bedrock-runtime.us-east-1.amazonaws.com";
    sr.path = r->target;
    sr.headers = headers;
    sr.body = r->body;
    BOOST_TEST(detail::canonical_uri(sr.path) ==
               "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse");
    auto const when = detail::parse_amz_date("20240115T120000Z");
    BOOST_REQUIRE(when.has_value());
    auto const added =
        detail::sigv4_sign(sr, {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""},
                           "us-east-1", "bedrock", *when);
    BOOST_REQUIRE(added.has_value());
    std::string authorization;
    for (auto const& [k, v] : *added)
        if (k == "Authorization") authorization = v;
    BOOST_TEST(authorization ==
               "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240115/us-east-1/bedrock/aws4_request, "
               "SignedHeaders=content-type;host;x-amz-date, "
               "Signature=41b4da20dfd5e143de2e5f64d725497edfbb3ad6cb9ee4f95374169e2659eb3d");
}

BOOST_AUTO_TEST_CASE(absent_options_not_sent) {
    chat_request req;
    req.model = "bedrock/m";
    req.messages = {user("hi")};
    auto const r = encode(req);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->body == R"({"messages":[{"role":"user","content":[{"text":"hi"}]}]})");
    // No tools: auto and none are nothing to send.
    req.tool_choice = tool_choice::automatic();
    BOOST_TEST(encode(req)->body == r->body);
    req.tool_choice = tool_choice::none();
    BOOST_TEST(encode(req)->body == r->body);
    req.response_format = response_format{};  // text is the default
    BOOST_TEST(encode(req)->body == r->body);
    // Tools without a tool_choice: no toolChoice (the model's default, auto).
    req.tool_choice.reset();
    req.tools = {tool{"f", "", {}, false}};
    auto const b = body_of(*encode(req));
    BOOST_TEST(b.at("toolConfig") ==
               json::parse(R"({"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":)"
                           R"({"type":"object","properties":{}}}}}]})"));
}

BOOST_AUTO_TEST_CASE(tool_choice_mapping) {
    chat_request req;
    req.model = "bedrock/m";
    req.messages = {user("hi")};
    req.tools = {tool{"a", "", weather_schema(), false}, tool{"b", "", {}, false}};
    auto choice_of = [&](llmux::tool_choice tc) {
        req.tool_choice = std::move(tc);
        auto r = encode(req);
        BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
        auto const b = body_of(*r);
        auto const* config = b.if_contains("toolConfig");
        if (!config) return json::value(nullptr);
        auto const* c = config->as_object().if_contains("toolChoice");
        return c ? *c : json::value("none sent");
    };
    BOOST_TEST(choice_of(tool_choice::automatic()) == json::parse(R"({"auto":{}})"));
    BOOST_TEST(choice_of(tool_choice::required()) == json::parse(R"({"any":{}})"));
    BOOST_TEST(choice_of(tool_choice::named("b")) == json::parse(R"({"tool":{"name":"b"}})"));
    // No "none" in Converse: the tools are not offered at all.
    BOOST_TEST(choice_of(tool_choice::none()) == json::value(nullptr));
}

BOOST_AUTO_TEST_CASE(unsupported_and_invalid_requests) {
    auto const invalid = make_error_code(error::invalid_request);
    auto const unsupported = make_error_code(error::unsupported);
    struct tc {
        std::string what;
        std::function<void(chat_request&)> change;
        boost::system::error_code code;
        std::string_view says;
    };
    std::vector<tc> const cases = {
        {"no messages", [](chat_request& r) { r.messages.clear(); }, invalid, "no messages"},
        {"seed", [](chat_request& r) { r.seed = 42; }, unsupported, "seed"},
        {"json_object", [](chat_request& r) { r.response_format = response_format::json(); },
         unsupported, "json_object"},
        {"json_schema with tools",
         [](chat_request& r) {
             r.response_format = response_format::json_schema("s", weather_schema());
             r.tools = {tool{"f", "", {}, false}};
         },
         unsupported, "json_schema with tools"},
        {"https image",
         [](chat_request& r) {
             r.messages = {user({image_part{"https://example.com/cat.png", ""}})};
         },
         unsupported, "messages[0].content[0]: Bedrock does not fetch images by URL"},
        {"bmp image",
         [](chat_request& r) { r.messages = {user({image_base64("image/bmp", "Qk0=")})}; },
         unsupported, "not 'image/bmp'"},
        {"s3 image without a known extension",
         [](chat_request& r) { r.messages = {user({image_part{"s3://b/key", ""}})}; },
         unsupported, "extension"},
        {"not an image URL",
         [](chat_request& r) { r.messages = {user({image_part{"ftp://x/y.png", ""}})}; }, invalid,
         "messages[0].content[0]"},
        {"tool_choice none with tool blocks in the conversation",
         [](chat_request& r) {
             r.messages = {user("hi"), assistant("", {{"t1", "f", "{}"}}), tool_answer("t1", "ok")};
             r.tools = {tool{"f", "", {}, false}};
             r.tool_choice = tool_choice::none();
         },
         unsupported, "tool_choice 'none'"},
        {"invalid tool arguments",
         [](chat_request& r) {
             r.messages = {user("hi"), assistant("", {{"t1", "f", "{\"city\":"}})};
         },
         invalid, "messages[1].content[0]: the arguments of tool call 't1' are not valid JSON"},
        {"tool arguments that are not an object",
         [](chat_request& r) { r.messages = {user("hi"), assistant("", {{"t1", "f", "[1]"}})}; },
         invalid, "not a JSON object"},
        {"a tool call without an id",
         [](chat_request& r) { r.messages = {user("hi"), assistant("", {{"", "f", "{}"}})}; },
         invalid, "needs an id"},
        {"a tool call without a name",
         [](chat_request& r) { r.messages = {user("hi"), assistant("", {{"t", "", "{}"}})}; },
         invalid, "needs a name"},
        {"a tool call in a user message",
         [](chat_request& r) { r.messages = {user({tool_call{"c", "f", "{}"}})}; }, invalid,
         "assistant message"},
        {"a tool result in an assistant message",
         [](chat_request& r) {
             r.messages = {message{role::assistant, {tool_result{"c", "", "r", false}}}};
         },
         invalid, "tool result belongs"},
        {"a tool result without an id",
         [](chat_request& r) { r.messages = {tool_answer("", "r")}; }, invalid, "tool_call_id"},
        {"a tool message with text",
         [](chat_request& r) { r.messages = {message{role::tool, {text_part{"r"}}}}; }, invalid,
         "only hold tool_result"},
        {"an empty user message", [](chat_request& r) { r.messages = {user("")}; }, invalid,
         "messages[0]: the message has no content"},
        {"an image in a system message",
         [](chat_request& r) {
             r.messages = {message{role::system, {image_base64("image/png", "AAAA")}}, user("x")};
         },
         unsupported, "system message"},
        {"an image in an assistant message",
         [](chat_request& r) {
             r.messages = {user("x"), message{role::assistant, {image_base64("image/png", "AA")}}};
         },
         unsupported, "cannot hold images"},
        {"required without tools",
         [](chat_request& r) { r.tool_choice = tool_choice::required(); }, invalid, "required"},
        {"a named tool that is not defined",
         [](chat_request& r) {
             r.tools = {tool{"a", "", {}, false}};
             r.tool_choice = tool_choice::named("b");
         },
         invalid, "'b'"},
        {"a tool without a name",
         [](chat_request& r) { r.tools = {tool{"", "", {}, false}}; }, invalid, "tools[0]"},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            chat_request req;
            req.model = "bedrock/m";
            req.messages = {user("hi")};
            c.change(req);
            auto const r = encode(req);
            BOOST_REQUIRE(!r.has_value());
            BOOST_TEST(r.error().code == c.code, r.error());
            BOOST_TEST(r.error().diag.message.find(c.says) != std::string::npos,
                       r.error().diag.message);
        }
    }
}

BOOST_AUTO_TEST_CASE(headers_and_target) {
    chat_request req;
    req.model = "bedrock/m";
    req.messages = {user("hi")};
    req.headers = {{"X-Custom", "1"}};  // applied by the client, not the wire format
    auto const r = encode(req, false, "anthropic.claude-3-haiku-20240307-v1:0");
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->target == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse");
    BOOST_TEST(r->headers.size() == 2u);
    BOOST_TEST(r->header("Content-Type") == "application/json");
    BOOST_TEST(r->header("Accept") == "application/json");
    BOOST_TEST(r->header("Authorization").empty());  // the client signs
    auto const s = encode(req, true, "amazon.nova-lite-v1:0~error=429,retry_after=1s");
    BOOST_REQUIRE(s.has_value());
    // Emulator directives survive as one segment ('~' is unreserved, the rest encoded).
    BOOST_TEST(s->target == "/model/amazon.nova-lite-v1%3A0~error%3D429%2Cretry_after%3D1s/"
                            "converse-stream");
    BOOST_TEST(s->header("Accept") == "application/vnd.amazon.eventstream");
}

BOOST_AUTO_TEST_CASE(response_fixtures) {
    check_response_table(fmt(), fixture_dir);
}

BOOST_AUTO_TEST_CASE(error_fixtures) {
    check_error_table(fmt(), fixture_dir);
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
    check_stream_table(fmt(), fixture_dir, stream_body);
}

BOOST_AUTO_TEST_CASE(stream_tool_calls_assemble) {
    json::object const table = load_json("streams.json").as_object();
    json::object const* tools_case = nullptr;
    for (auto const& cv : table.at("cases").as_array())
        if (str(cv.as_object().at("name")).find("two tool uses") != std::string_view::npos)
            tools_case = &cv.as_object();
    BOOST_REQUIRE(tools_case);
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_REQUIRE(d->feed(stream_body(*tools_case), chunks).has_value());
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
    BOOST_TEST(calls[0].id == "tooluse_a1");
    BOOST_TEST(calls[0].name == "get_weather");
    BOOST_TEST(calls[0].arguments == R"({"city":"Oslo"})");
    BOOST_TEST(calls[1].id == "tooluse_a2");
    BOOST_TEST(calls[1].arguments == R"({"city":"Bergen"})");
}

BOOST_AUTO_TEST_CASE(stream_failure_is_sticky) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    std::string frame = detail::encode_message(
        {{":event-type", "messageStart"sv}, {":message-type", "event"sv}}, R"({"role":"x"})");
    frame.back() ^= 0x01;
    auto const r = d->feed(frame, chunks);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::protocol_error));
    BOOST_TEST(r.error().diag.message.find("message CRC mismatch") != std::string::npos);
    // Later bytes, even a clean end, do not revive it.
    std::string const end =
        detail::encode_message({{":event-type", "messageStop"sv}, {":message-type", "event"sv}},
                               R"({"stopReason":"end_turn"})");
    auto const again = d->feed(end, chunks);
    BOOST_REQUIRE(!again.has_value());
    BOOST_TEST(again.error().code == make_error_code(error::protocol_error));
    auto const fin = d->finish(chunks);
    BOOST_REQUIRE(!fin.has_value());
    BOOST_TEST(fin.error().code == make_error_code(error::protocol_error));
    BOOST_TEST(chunks.empty());
}

BOOST_AUTO_TEST_CASE(stream_large_frame) {
    // Bigger than the decoder's JSON arena: still parsed, and the arena is reused afterwards.
    std::string const big(100000, 'y');
    auto event = [](std::string_view type, std::string const& payload) {
        return detail::encode_message({{":event-type", type},
                                       {":content-type", "application/json"sv},
                                       {":message-type", "event"sv}},
                                      payload);
    };
    std::string body = event("contentBlockDelta",
                             R"({"contentBlockIndex":0,"delta":{"text":")" + big + R"("}})");
    body += event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"z"}})");
    body += event("messageStop", R"({"stopReason":"end_turn"})");
    body += event("metadata", R"({"usage":{"inputTokens":1,"outputTokens":2,"totalTokens":3}})");
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_REQUIRE(d->feed(body, chunks).has_value());
    BOOST_REQUIRE(d->finish(chunks).has_value());
    BOOST_REQUIRE(chunks.size() == 4u);
    BOOST_TEST(chunks[0].text == big);
    BOOST_TEST(chunks[1].text == "z");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
