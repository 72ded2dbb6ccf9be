// SPDX-License-Identifier: BSL-1.0
// The Bedrock Converse wire format, table-driven over the fixtures in tests/data/bedrock/: the
// requests we build (PROVIDERS.md 6.1 and the body of the 6.5 SigV4 example byte for byte), the
// responses and errors we decode, and ConverseStream bodies built here from real event-stream
// frames (plus the 6.3 example frame verbatim), decoded whole, at every split and byte by byte.
#include "util/crypto.hpp"
#include "auth/sigv4.hpp"
#include "codec/event_stream.hpp"
#include "common/wire_fixtures.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"
#include "wire/bedrock_converse.hpp"
#include "wire/formats.hpp"
#include "wire/server.hpp"
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
#include <tuple>
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
        {"image data URI without data",
         [](chat_request& r) {
             r.messages = {user({image_part{"data:image/png;base64,", ""}})};
         },
         invalid, "messages[0].content[0]: the image's data is empty"},
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

// ---------------------------------------------------------------------------------------------
// The server side (src/wire/bedrock_converse_server.cpp)

namespace {

detail::wire_server const& server() {
    return detail::bedrock_converse_server();
}

json::value parse_json(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

/// A POST to `path` with `headers`; `model` is the endpoint's `{model}` capture.
struct head_fixture : request_head_fixture {
    explicit head_fixture(std::string_view path = "/model/m/converse", std::string model = "m",
                          std::vector<std::pair<std::string, std::string>> h = {})
        : request_head_fixture(path, std::move(h)) {
        head.path_model = std::move(model);
    }
};

boost::system::result<detail::inbound_request, detail::api_error>
decode_request(std::string_view body, std::string_view path = "/model/m/converse") {
    head_fixture h(path);
    return server().decode_request(h.head, body);
}

detail::answer_meta meta_of(std::string_view request_id = "rid-1") {
    detail::answer_meta m;
    m.id = "converse-1";
    m.created = 1700000000;
    m.model = "m";
    m.request_id = request_id;
    return m;
}

/// The frames of an event stream as {type, payload} (type: `:event-type` or
/// `exception:<:exception-type>`), every frame checked (CRCs) by the client's decoder.
std::vector<std::pair<std::string, json::value>> frames_of(std::string_view bytes) {
    detail::event_stream_decoder d;
    std::vector<std::pair<std::string, json::value>> out;
    auto const r = d.feed(bytes, [&](detail::event_message const& m) {
        std::string type(m.string_header(":event-type"));
        if (m.string_header(":message-type") == "exception")
            type = "exception:" + std::string(m.string_header(":exception-type"));
        BOOST_TEST(m.string_header(":content-type") == "application/json");
        boost::system::error_code ec;
        auto v = json::parse(m.payload, ec);
        out.emplace_back(type, ec ? json::value(std::string(m.payload)) : v);
    });
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(d.finish().has_value());
    return out;
}

std::vector<std::string> types_of(std::vector<std::pair<std::string, json::value>> const& f) {
    std::vector<std::string> out;
    for (auto const& [t, _] : f) out.push_back(t);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(server_registered) {
    BOOST_TEST(detail::find_wire_server("bedrock") == &server());
    BOOST_TEST(server().name() == fmt().name());
    BOOST_TEST(server().content_type() == "application/json");
    BOOST_TEST(server().stream_content_type() == "application/vnd.amazon.eventstream");
    BOOST_TEST(server().key_hint() == "Authorization: Bearer <key>");
}

BOOST_AUTO_TEST_CASE(server_endpoints) {
    detail::wire_server const* self = &server();
    detail::endpoint_table const exact(std::span(&self, 1), false);
    using detail::operation;
    auto const arn = exact.find(
        "POST", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
                "us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream");
    BOOST_TEST_REQUIRE(arn.has_value());
    BOOST_TEST(arn->path_model == "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                                  "us.anthropic.claude-3-5-sonnet-20240620-v1:0");
    BOOST_TEST((arn->ep->op == operation::chat));
    BOOST_TEST(arn->ep->stream);
    auto const whole = exact.find("POST", "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse");
    BOOST_TEST_REQUIRE(whole.has_value());
    BOOST_TEST(whole->path_model == "anthropic.claude-3-haiku-20240307-v1:0");
    BOOST_TEST(!whole->ep->stream);
    // A gateway model name with a slash, percent-encoded by the SDK.
    auto const slashed = exact.find("POST", "/model/openai%2Fgpt-4o-mini/converse");
    BOOST_TEST_REQUIRE(slashed.has_value());
    BOOST_TEST(slashed->path_model == "openai/gpt-4o-mini");
    auto const count = exact.find("POST", "/model/m/count-tokens");
    BOOST_TEST_REQUIRE(count.has_value());
    BOOST_TEST((count->ep->op == operation::count_tokens));
    BOOST_TEST(!exact.find("GET", "/model/m/converse"));
    BOOST_TEST(!exact.find("POST", "/model//converse"));
    // InvokeModel is served for the embedding models.
    auto const invoke = exact.find("POST", "/model/m/invoke");
    BOOST_TEST_REQUIRE(invoke.has_value());
    BOOST_TEST((invoke->ep->op == operation::embed));
    BOOST_TEST(!exact.find("POST", "/bedrock/model/m/converse"));  // the gateway: whole paths
    BOOST_TEST((exact.path_served("/model/m/converse").second == "POST"));
    detail::endpoint_table const anywhere(std::span(&self, 1), true);
    BOOST_TEST(anywhere.find("POST", "/bedrock/model/m/converse").has_value());
}

BOOST_AUTO_TEST_CASE(server_credentials) {
    using kind = detail::credential::kind;
    auto cred = [](std::vector<std::pair<std::string, std::string>> h) {
        head_fixture f("/model/m/converse", "m", std::move(h));
        auto const c = server().presented_credential(f.head);
        return std::pair(c.how, std::string(c.value));
    };
    // A Bedrock API key is a token the server must know, not any key.
    BOOST_TEST((cred({{"Authorization", "Bearer ABSK-1"}}) ==
                std::pair(kind::access_token, std::string("ABSK-1"))));
    BOOST_TEST((cred({{"authorization", "bearer  k2 "}}) ==
                std::pair(kind::access_token, std::string("k2"))));
    BOOST_TEST((cred({{"Authorization",
                       "AWS4-HMAC-SHA256 Credential=AKID/20240115/us-east-1/bedrock/aws4_request, "
                       "SignedHeaders=host;x-amz-date, Signature=00"}}) ==
                std::pair(kind::aws_sigv4, std::string("bedrock"))));
    // Anything else is a signature to verify, which says what is wrong with it.
    BOOST_TEST((cred({{"Authorization", "garbage"}}).first == kind::aws_sigv4));
    BOOST_TEST((cred({{"Authorization", "Bearer "}}).first == kind::none));
    BOOST_TEST((cred({{"x-api-key", "not-bedrock"}}).first == kind::none));
    BOOST_TEST((cred({}).first == kind::none));
}

BOOST_AUTO_TEST_CASE(server_decodes_a_full_request) {
    auto r = decode_request(R"({
        "system": [{"text": "You are terse."}, {"text": "Use metric units."}],
        "messages": [
          {"role": "user", "content": [{"text": "Weather in Oslo?"},
             {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
             {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://b/k.jpg"}}}}]},
          {"role": "assistant", "content": [{"text": "Checking."},
             {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Oslo"}}}]},
          {"role": "user", "content": [
             {"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temp_c": 4}}, {"text": " and sunny"}],
                             "status": "error"}},
             {"text": "Thanks"}]}
        ],
        "inferenceConfig": {"maxTokens": 256, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
        "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": "Current weather",
            "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}],
          "toolChoice": {"tool": {"name": "get_weather"}}},
        "requestMetadata": {"user": "u-1", "team": "search"},
        "additionalModelRequestFields": {"top_k": 40},
        "guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"},
        "performanceConfig": {"latency": "optimized"},
        "promptVariables": {"city": {"text": "Oslo"}},
        "additionalModelResponseFieldPaths": ["/stop_sequence"]
    })", "/model/m/converse-stream");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().message));
    auto const& req = r->req;
    BOOST_TEST(req.model == "m");
    BOOST_TEST(r->stream);  // the path chooses
    BOOST_TEST(r->include_usage);
    BOOST_TEST(req.system == "You are terse.");
    BOOST_TEST_REQUIRE(req.messages.size() == 4u);
    // The second system block is a system message ahead of the conversation.
    BOOST_TEST((req.messages[0].role == role::system));
    BOOST_TEST(req.messages[0].text() == "Use metric units.");
    auto const& first = req.messages[1].content;
    BOOST_TEST_REQUIRE(first.size() == 3u);
    BOOST_TEST(std::get<image_part>(first[1]).url == "data:image/png;base64,iVBORw0KGgo=");
    BOOST_TEST(std::get<image_part>(first[2]).url == "s3://b/k.jpg");
    auto const& call = std::get<tool_call>(req.messages[2].content.at(1));
    BOOST_TEST(call.id == "tooluse_1");
    BOOST_TEST(call.name == "get_weather");
    BOOST_TEST(call.arguments == R"({"city":"Oslo"})");
    auto const& result = std::get<tool_result>(req.messages[3].content.at(0));
    BOOST_TEST(result.tool_call_id == "tooluse_1");
    BOOST_TEST(result.name == "get_weather");  // from the call it answers
    BOOST_TEST(result.content == R"({"temp_c":4} and sunny)");
    BOOST_TEST(result.is_error);
    BOOST_TEST(std::get<text_part>(req.messages[3].content.at(1)).text == "Thanks");
    BOOST_TEST((req.max_tokens && *req.max_tokens == 256));
    BOOST_TEST((req.temperature && *req.temperature == 0.2));
    BOOST_TEST((req.top_p && *req.top_p == 0.9));
    BOOST_TEST(req.stop == std::vector<std::string>{"END"});
    BOOST_TEST_REQUIRE(req.tools.size() == 1u);
    BOOST_TEST(req.tools[0].description == "Current weather");
    BOOST_TEST(req.tools[0].parameters.contains("properties"));
    BOOST_TEST_REQUIRE(req.tool_choice.has_value());
    BOOST_TEST((req.tool_choice->how == tool_choice::mode::named));
    BOOST_TEST(req.tool_choice->name == "get_weather");
    BOOST_TEST(req.user == "u-1");
    check_json(r->native, json::parse(R"({"requestMetadata":{"team":"search"},
        "additionalModelRequestFields":{"top_k":40},
        "guardrailConfig":{"guardrailIdentifier":"g","guardrailVersion":"1"},
        "performanceConfig":{"latency":"optimized"},"promptVariables":{"city":{"text":"Oslo"}},
        "additionalModelResponseFieldPaths":["/stop_sequence"]})"), "native");
}

BOOST_AUTO_TEST_CASE(server_keeps_what_the_unified_request_cannot_hold) {
    // Blocks with no unified part keep the member that holds them, whole, for a Bedrock
    // upstream; defaults are not kept. (Documents, cache points and reasoning have unified
    // parts: tests/unit/bedrock_reasoning.cpp.)
    std::string const messages =
        R"([{"role":"user","content":[{"text":"Summarise"},{"document":{"format":"txt","name":"a","source":{"text":"hi"}}},{"guardContent":{"text":{"text":"g"}}}]}])";
    std::string const system = R"([{"text":"Be brief."},{"guardContent":{"text":{"text":"g"}}}])";
    std::string const tool_config =
        R"({"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}},{"systemTool":{"name":"nova_grounding"}}],"toolChoice":{"auto":{}}})";
    auto r = decode_request(R"({"system":)" + system + R"(,"messages":)" + messages +
                            R"(,"toolConfig":)" + tool_config +
                            R"(,"inferenceConfig":{"maxTokens":5,"topK":3},
        "additionalModelRequestFields":{},"performanceConfig":{"latency":"standard"},
        "promptVariables":{},"additionalModelResponseFieldPaths":[],"guardrailConfig":null,
        "someFutureField":{"x":1}})");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().message));
    json::object expected;
    expected["system"] = json::parse(system);
    expected["messages"] = json::parse(messages);
    expected["toolConfig"] = json::parse(tool_config);
    expected["inferenceConfig"] = json::parse(R"({"topK":3})");
    expected["someFutureField"] = json::parse(R"({"x":1})");
    check_json(r->native, expected, "native");
    // What the unified request can hold is still there.
    BOOST_TEST(r->req.system == "Be brief.");
    BOOST_TEST_REQUIRE(r->req.messages.size() == 1u);
    BOOST_TEST(r->req.messages[0].text() == "Summarise");
    BOOST_TEST(r->req.tools.size() == 1u);
    BOOST_TEST((r->req.max_tokens && *r->req.max_tokens == 5));

    // A message of blocks the unified request cannot hold is left to the native messages.
    auto doc_only = decode_request(R"({"messages":[
        {"role":"user","content":[{"text":"a"}]},{"role":"assistant","content":[{"guardContent":{"text":{"text":"hm"}}}]},
        {"role":"user","content":[{"text":"b"}]}]})");
    BOOST_TEST_REQUIRE(!!doc_only);
    BOOST_TEST(doc_only->req.messages.size() == 2u);
    BOOST_TEST(doc_only->native.contains("messages"));

    // Nothing native in a plain request.
    auto plain = decode_request(R"({"messages":[{"role":"user","content":[{"text":"hi"}]}]})");
    BOOST_TEST_REQUIRE(!!plain);
    BOOST_TEST(plain->native.empty());
    BOOST_TEST(!plain->stream);
}

BOOST_AUTO_TEST_CASE(server_bad_requests_name_the_field) {
    struct bad_case {
        char const* body;
        char const* param;
        char const* says;
    };
    bad_case const cases[] = {
        {"not json", "", "Malformed input request"},
        {"[1]", "", "expected a JSON object"},
        {R"({})", "messages", "Member must not be null"},
        {R"({"messages":{}})", "messages", "Member must be a list"},
        {R"({"messages":[]})", "messages", "must start with a user message"},
        {R"({"messages":[5]})", "messages.0", "Member must be a structure"},
        {R"({"messages":[{"role":"system","content":[{"text":"x"}]}]})", "messages.0.role",
         "enum value set: [user, assistant]"},
        {R"({"messages":[{"role":"assistant","content":[{"text":"x"}]}]})", "messages.0.role",
         "must start with a user message"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]},{"role":"user","content":[{"text":"y"}]}]})",
         "messages.1.role", "must alternate"},
        {R"({"messages":[{"role":"user"}]})", "messages.0.content", "Member must not be null"},
        {R"({"messages":[{"role":"user","content":[]}]})", "messages.0.content",
         "greater than or equal to 1"},
        {R"({"messages":[{"role":"user","content":[{"text":""}]}]})", "messages.0.content.0.text",
         "is blank"},
        {R"({"messages":[{"role":"user","content":[{"image":{"format":"bmp","source":{"bytes":"AA=="}}}]}]})",
         "messages.0.content.0.image.format", "[png, jpeg, gif, webp]"},
        {R"({"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"not base64!"}}}]}]})",
         "messages.0.content.0.image.source", "no valid base64 bytes"},
        {R"({"messages":[{"role":"user","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{}}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}})",
         "messages.0.content.0.toolUse", "must be in an assistant message"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","input":{}}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}})",
         "messages.1.content.0.toolUse.name", "Member must not be null"},
        {R"({"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"text":"r"}]}}]}]})",
         "toolConfig", "toolConfig field must be defined"},
        {R"({"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[],"status":"meh"}}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}})",
         "messages.0.content.0.toolResult.status", "[success, error]"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"system":"be brief"})", "system",
         "Member must be a list"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":0}})",
         "inferenceConfig.maxTokens", "greater than or equal to 1"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":"9"}})",
         "inferenceConfig.maxTokens", "must be an integer"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"temperature":1.5}})",
         "inferenceConfig.temperature", "less than or equal to 1"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"stopSequences":"END"}})",
         "inferenceConfig.stopSequences", "Member must be a list"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[]}})",
         "toolConfig.tools", "greater than or equal to 1"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f"}}]}})",
         "toolConfig.tools.0.toolSpec.inputSchema", "Member must not be null"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"none":{}}}})",
         "toolConfig.toolChoice", "exactly one of"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{}}}})",
         "toolConfig.toolChoice.tool.name", "Member must not be null"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"requestMetadata":{"user":5}})",
         "requestMetadata.user", "Member must be a string"},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.body) {
            auto r = decode_request(c.body);
            BOOST_TEST_REQUIRE(!r);
            auto const& e = r.error();
            BOOST_TEST(e.status == 400u);
            BOOST_TEST(e.param == c.param);
            BOOST_TEST(e.message.find(c.says) != std::string::npos, e.message);
            // In Bedrock's error shape: {"message"} and the exception in x-amzn-ErrorType.
            auto const a = server().encode_error(e);
            BOOST_TEST(a.status == 400u);
            BOOST_TEST(a.content_type == "application/json");
            check_json(parse_json(a.body), json::object{{"message", e.message}}, "body");
            std::map<std::string, std::string> h(a.headers.begin(), a.headers.end());
            BOOST_TEST(h["x-amzn-ErrorType"].starts_with("ValidationException:"));
        }
    }
    // No model in the path.
    head_fixture none("/model//converse", "");
    auto const no_model =
        server().decode_request(none.head, R"({"messages":[{"role":"user","content":[{"text":"x"}]}]})");
    BOOST_TEST_REQUIRE(!no_model);
    BOOST_TEST(no_model.error().param == "modelId");
}

BOOST_AUTO_TEST_CASE(server_count_tokens) {
    auto r = decode_request(
        R"({"input":{"converse":{"system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"hi"}]}]}}})",
        "/model/m/count-tokens");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().message));
    BOOST_TEST(r->req.system == "Be brief.");
    BOOST_TEST(r->req.messages.at(0).text() == "hi");
    auto const bad = decode_request(R"({"input":{"invokeModel":{"body":"e30="}}})",
                                    "/model/m/count-tokens");
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(bad.error().param == "input.converse");
    std::string out;
    server().encode_token_count(42, out);
    BOOST_TEST(out == R"({"inputTokens":42})");
}

BOOST_AUTO_TEST_CASE(server_renders_a_response) {
    chat_response r;
    r.reasoning = "Think.";
    r.content = "Let me check \"that\".";
    r.tool_calls.push_back({"tooluse_9", "get_weather", R"({"city":"Oslo"})"});
    r.tool_calls.push_back({"tooluse_10", "cut", R"({"city":"Os)"});  // cut short: not JSON
    r.finish_reason = finish_reason::tool_calls;
    r.usage.input_tokens = 100;
    r.usage.output_tokens = 5;
    r.usage.cached_input_tokens = 60;
    r.usage.cache_write_tokens = 10;
    r.latency = std::chrono::milliseconds(812);
    std::string body;
    server().encode_response(r, meta_of(), body);
    check_json(parse_json(body), json::parse(R"({"output":{"message":{"role":"assistant","content":[
        {"reasoningContent":{"reasoningText":{"text":"Think."}}},
        {"text":"Let me check \"that\"."},
        {"toolUse":{"toolUseId":"tooluse_9","name":"get_weather","input":{"city":"Oslo"}}},
        {"toolUse":{"toolUseId":"tooluse_10","name":"cut","input":{}}}]}},
        "stopReason":"tool_use",
        "usage":{"inputTokens":30,"outputTokens":5,"totalTokens":105,"cacheReadInputTokens":60,"cacheWriteInputTokens":10},
        "metrics":{"latencyMs":812}})"), "response");

    // Unknown usage is left out, not sent as zeros; an empty answer is one empty text block;
    // a native stop reason Bedrock shares is kept.
    chat_response e;
    e.finish_reason = finish_reason::stop;
    e.native_finish_reason = "stop_sequence";
    std::string body2;
    auto m = meta_of();
    m.processing_ms = 7;
    server().encode_response(e, m, body2);
    check_json(parse_json(body2), json::parse(R"({"output":{"message":{"role":"assistant",
        "content":[{"text":""}]}},"stopReason":"stop_sequence","metrics":{"latencyMs":7}})"),
               "empty response");
    // Other providers' words are mapped.
    for (auto const& [fr, native, expected] :
         {std::tuple{finish_reason::stop, "STOP", "end_turn"},
          std::tuple{finish_reason::length, "length", "max_tokens"},
          std::tuple{finish_reason::content_filter, "SAFETY", "content_filtered"},
          std::tuple{finish_reason::content_filter, "guardrail_intervened", "guardrail_intervened"},
          std::tuple{finish_reason::unknown, "weird", "end_turn"},
          std::tuple{finish_reason::tool_calls, "tool_calls", "tool_use"}})
        BOOST_TEST(detail::bedrock::stop_reason(fr, native, false) == expected);
}

BOOST_AUTO_TEST_CASE(server_stream_of_text) {
    auto w = server().make_stream_encoder(meta_of(), false);
    std::string out;
    chat_chunk c;
    w->chunk(c, out);  // the opening event only
    c.text = "Hello";
    w->chunk(c, out);
    c.text = " there";
    w->chunk(c, out);
    chat_response whole;
    whole.finish_reason = finish_reason::stop;
    whole.usage.input_tokens = 3;
    whole.usage.output_tokens = 2;
    whole.latency = std::chrono::milliseconds(300);
    w->finish(whole, out);
    auto const f = frames_of(out);
    BOOST_TEST(types_of(f) == (std::vector<std::string>{"messageStart", "contentBlockDelta",
                                                        "contentBlockDelta", "contentBlockStop",
                                                        "messageStop", "metadata"}),
               boost::test_tools::per_element());
    // Every payload carries AWS's padding member `p`; the rest is the event's own.
    auto drop_p = [](json::value v) {
        BOOST_TEST(v.as_object().at("p").is_string());
        v.as_object().erase("p");
        return v;
    };
    check_json(drop_p(f[0].second), json::parse(R"({"role":"assistant"})"), "messageStart");
    check_json(drop_p(f[1].second), json::parse(R"({"contentBlockIndex":0,"delta":{"text":"Hello"}})"),
               "delta");
    check_json(drop_p(f[3].second), json::parse(R"({"contentBlockIndex":0})"), "stop");
    check_json(drop_p(f[4].second), json::parse(R"({"stopReason":"end_turn"})"), "messageStop");
    check_json(drop_p(f[5].second),
               json::parse(R"({"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5},"metrics":{"latencyMs":300}})"),
               "metadata");
    // Nothing after the end.
    std::string after;
    w->chunk(c, after);
    w->finish(whole, after);
    BOOST_TEST(after.empty());
}

BOOST_AUTO_TEST_CASE(server_stream_of_reasoning_text_and_tool_calls) {
    auto w = server().make_stream_encoder(meta_of(), true);
    std::string out;
    chat_chunk c;
    c.reasoning = "hmm";
    w->chunk(c, out);
    c = {};
    c.text = "Checking.";
    w->chunk(c, out);
    c = {};
    c.tool_calls = {{0, "call_1", "get_weather", ""}};
    w->chunk(c, out);
    c.tool_calls = {{0, "", "", R"({"city":)"}};
    w->chunk(c, out);
    c.tool_calls = {{0, "", "", R"("Oslo"})"}, {1, "call_2", "now", "{}"}};
    c.finish_reason = finish_reason::tool_calls;
    w->chunk(c, out);
    chat_response whole;  // no usage known: the metadata has none
    w->finish(whole, out);
    auto const f = frames_of(out);
    BOOST_TEST(types_of(f) ==
                   (std::vector<std::string>{"messageStart", "contentBlockDelta", "contentBlockStop",
                                             "contentBlockDelta", "contentBlockStop",
                                             "contentBlockStart", "contentBlockDelta",
                                             "contentBlockDelta", "contentBlockStop",
                                             "contentBlockStart", "contentBlockDelta",
                                             "contentBlockStop", "messageStop", "metadata"}),
               boost::test_tools::per_element());
    BOOST_TEST(f[1].second.at("delta") == json::parse(R"({"reasoningContent":{"text":"hmm"}})"));
    BOOST_TEST(f[3].second.at("contentBlockIndex") == json::value(1));
    BOOST_TEST(f[5].second.at("start") ==
               json::parse(R"({"toolUse":{"toolUseId":"call_1","name":"get_weather"}})"));
    BOOST_TEST(f[5].second.at("contentBlockIndex") == json::value(2));
    BOOST_TEST(f[7].second.at("delta") == json::parse(R"({"toolUse":{"input":"\"Oslo\"}"}})"));
    BOOST_TEST(f[9].second.at("contentBlockIndex") == json::value(3));
    BOOST_TEST(f[12].second.at("stopReason") == json::value("tool_use"));
    BOOST_TEST(!f[13].second.as_object().contains("usage"));

    // The client side reads it back as the same calls.
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_TEST_REQUIRE(d->feed(out, chunks).has_value());
    BOOST_TEST_REQUIRE(d->finish(chunks).has_value());
    auto const back = accumulate(chunks);
    BOOST_TEST(back.reasoning == "hmm");
    BOOST_TEST(back.content == "Checking.");
    BOOST_TEST_REQUIRE(back.tool_calls.size() == 2u);
    BOOST_TEST(back.tool_calls[0].arguments == R"({"city":"Oslo"})");
    BOOST_TEST(back.tool_calls[1].id == "call_2");
    BOOST_TEST((back.finish_reason == finish_reason::tool_calls));
}

BOOST_AUTO_TEST_CASE(server_stream_errors_and_malformed_events) {
    struct row {
        unsigned status;
        char const* type;
        char const* frame;
    };
    for (auto const& r : {row{429, "", "exception:throttlingException"},
                          row{500, "ThrottlingException", "exception:throttlingException"},
                          row{400, "", "exception:validationException"},
                          row{503, "", "exception:serviceUnavailableException"},
                          row{502, "", "exception:modelStreamErrorException"},
                          row{500, "InternalServerException", "exception:modelStreamErrorException"},
                          row{424, "ModelErrorException", "exception:modelStreamErrorException"}}) {
        BOOST_TEST_CONTEXT(r.status << " " << r.type) {
            auto w = server().make_stream_encoder(meta_of(), true);
            std::string out;
            chat_chunk c;
            c.text = "Hi";
            w->chunk(c, out);
            detail::api_error e{r.status, "it broke", r.type};
            w->error(e, out);
            auto const f = frames_of(out);
            BOOST_TEST_REQUIRE(f.size() == 3u);
            BOOST_TEST(f[2].first == r.frame);
            BOOST_TEST(f[2].second.at("message") == json::value("it broke"));
            if (std::string_view(r.frame).ends_with("modelStreamErrorException"))
                BOOST_TEST(f[2].second.at("originalStatusCode") == json::value(r.status));
            std::string after;
            w->chunk(c, after);
            BOOST_TEST(after.empty());  // nothing after the exception
            // The client side fails the stream with the exception's error.
            auto d = fmt().make_stream_decoder();
            std::vector<chat_chunk> chunks;
            BOOST_TEST(!d->feed(out, chunks).has_value());
        }
    }
    auto w = server().make_stream_encoder(meta_of(), true);
    std::string out;
    w->malformed(out);
    auto const f = frames_of(out);  // framed right (both CRCs)...
    BOOST_TEST_REQUIRE(f.size() == 2u);
    BOOST_TEST(f[1].first == "contentBlockDelta");
    BOOST_TEST(f[1].second.is_string());  // ...but the payload is not JSON
}

BOOST_AUTO_TEST_CASE(server_errors_and_headers) {
    detail::api_error e;
    e.status = 429;
    e.message = "slow down";
    e.retry_after = std::chrono::milliseconds(1500);
    auto const a = server().encode_error(e);
    BOOST_TEST(a.status == 429u);
    std::map<std::string, std::string> h(a.headers.begin(), a.headers.end());
    BOOST_TEST(h["x-amzn-ErrorType"] ==
               "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.service/");
    BOOST_TEST(h["retry-after"] == "2");  // rounded up
    BOOST_TEST(h["retry-after-ms"] == "1500");
    check_json(parse_json(a.body), json::parse(R"({"message":"slow down"})"), "body");

    // The exception from the status when none is named; the client side reads each back.
    for (auto const& [status, type, code] :
         {std::tuple{400u, "ValidationException", error::bad_request},
          std::tuple{401u, "UnrecognizedClientException", error::auth_failed},
          std::tuple{403u, "AccessDeniedException", error::permission_denied},
          std::tuple{404u, "ResourceNotFoundException", error::not_found},
          std::tuple{408u, "ModelTimeoutException", error::timeout},
          std::tuple{424u, "ModelErrorException", error::server_error},
          std::tuple{429u, "ThrottlingException", error::rate_limited},
          std::tuple{500u, "InternalServerException", error::server_error},
          std::tuple{502u, "InternalServerException", error::server_error},
          std::tuple{503u, "ServiceUnavailableException", error::overloaded},
          std::tuple{504u, "ModelTimeoutException", error::timeout}}) {
        BOOST_TEST_CONTEXT(status) {
            detail::api_error x{status, "m"};
            auto const ans = server().encode_error(x);
            response_head head;
            head.status = ans.status;
            for (auto const& [k, v] : ans.headers) head.headers.emplace_back(k, v);
            head.headers.emplace_back("x-amzn-RequestId", "rid-9");
            auto const f = fmt().decode_error(head, ans.body);
            BOOST_TEST(f.diag.error_type == type);
            BOOST_TEST(f.code == make_error_code(code));
            BOOST_TEST(f.diag.message == "m");
            BOOST_TEST(f.diag.request_id == "rid-9");
        }
    }
    // An explicit type wins.
    detail::api_error ready{429, "warming up", "ModelNotReadyException"};
    auto const ready_answer = server().encode_error(ready);
    std::map<std::string, std::string> h2(ready_answer.headers.begin(), ready_answer.headers.end());
    BOOST_TEST(h2["x-amzn-ErrorType"].starts_with("ModelNotReadyException:"));

    // The provider's own wording, as the emulator answers.
    for (auto const& [status, type] :
         {std::pair{400u, "ValidationException"}, std::pair{403u, "AccessDeniedException"},
          std::pair{404u, "ResourceNotFoundException"}, std::pair{408u, "ModelTimeoutException"},
          std::pair{424u, "ModelErrorException"}, std::pair{429u, "ThrottlingException"},
          std::pair{500u, "InternalServerException"},
          std::pair{503u, "ServiceUnavailableException"}, std::pair{599u, "InternalServerException"}}) {
        auto const x = server().error_for_status(status, "amazon.nova-lite-v1:0");
        BOOST_TEST(x.status == status);
        BOOST_TEST(x.type == type);
        BOOST_TEST(!x.message.empty());
    }
    BOOST_TEST(server().error_for_status(404, "nova-x").message.find("nova-x") != std::string::npos);
    auto const missing = server().auth_error(true, {}, {});
    BOOST_TEST(missing.status == 403u);
    BOOST_TEST(missing.type == "MissingAuthenticationTokenException");
    auto const bad_key = server().auth_error(false, {}, {});
    BOOST_TEST(bad_key.status == 403u);
    BOOST_TEST(bad_key.type == "UnrecognizedClientException");
    auto const sig = server().auth_error(false, "signature mismatch", "InvalidSignatureException");
    BOOST_TEST(sig.status == 403u);
    BOOST_TEST(sig.type == "InvalidSignatureException");
    BOOST_TEST(sig.message == "signature mismatch");
    auto const unknown = server().unknown_endpoint("POST", "/model/m/invoke");
    BOOST_TEST(unknown.status == 404u);
    BOOST_TEST(unknown.type == "UnknownOperationException");

    auto const head = served_head(server(), meta_of("e0000000-0000-4000-8000-000000000007"));
    BOOST_TEST(head.header("x-amzn-RequestId") == "e0000000-0000-4000-8000-000000000007");
    BOOST_TEST(server().make_id(detail::id_kind::request, "emu", 7) ==
               "e0000000-0000-4000-8000-000000000007");
    BOOST_TEST(server().make_id(detail::id_kind::request, "0123456789abcdef", 0x1234) ==
               "01234567-89ab-4cde-8f00-000000001234");
    BOOST_TEST(server().make_id(detail::id_kind::tool_call, "emu", 7) == "tooluse_emu_7");
    BOOST_TEST(!server().make_id(detail::id_kind::response, "emu", 7).empty());
}

// ---------------------------------------------------------------------------------------------
// Round trips: client-encode then server-decode gives the request back; server-encode then
// client-decode gives the response and its chunks back.

namespace {

/// `text` as compact JSON when it is JSON (the server reads documents, not their spelling).
std::string compact(std::string const& text) {
    boost::system::error_code ec;
    auto const v = json::parse(text, ec);
    return ec ? text : json::serialize(v);
}

/** What Bedrock's wire can carry of `r`, as the server side decodes it: the model is the
    provider's own name; the system prompt and system messages become `system` blocks, the
    first of which is the system prompt and the others system messages ahead of the rest;
    messages merge into alternating user and assistant turns (tool answers are user turns, each
    message's tool results ahead of its other parts); empty text is not sent; tool results are
    named after their call and JSON-object contents come back compact; tool arguments are
    compact JSON (`{}` when empty); `image/jpg` is `image/jpeg` and the detail hint is lost;
    tools without parameters get an empty object schema and lose `strict`; tool_choice none
    leaves the tools out; a JSON-schema response format is the forced `llmux_json_output`
    tool; the user is `requestMetadata.user`. `extra` is merged into the body: the fields it
    sets are read back as such, the others come back as `native` (`extra`).
*/
chat_request as_bedrock_carries(chat_request const& r, std::string_view model) {
    chat_request out;
    out.model = std::string(model);
    std::vector<std::string> system_texts;
    if (!r.system.empty()) system_texts.push_back(r.system);
    std::map<std::string, std::string> call_names;
    std::optional<role> turn_role;
    auto turn = [&](role ro) -> message& {
        if (!turn_role || *turn_role != ro) {
            out.messages.push_back(message{ro, {}});
            turn_role = ro;
        }
        return out.messages.back();
    };
    auto result = [&](tool_result res) {
        auto it = call_names.find(res.tool_call_id);
        res.name = it == call_names.end() ? std::string() : it->second;
        boost::system::error_code ec;
        auto const v = json::parse(res.content, ec);
        if (!ec && v.is_object()) res.content = json::serialize(v);
        return res;
    };
    for (auto const& m : r.messages) {
        switch (m.role) {
        case role::system:
            for (auto const& p : m.content)
                if (auto const* t = std::get_if<text_part>(&p); t && !t->text.empty())
                    system_texts.push_back(t->text);
            break;
        case role::tool:
            for (auto const& p : m.content)
                turn(role::user).content.push_back(result(std::get<tool_result>(p)));
            break;
        case role::user: {
            auto& t = turn(role::user);
            for (auto const& p : m.content)
                if (auto const* res = std::get_if<tool_result>(&p)) t.content.push_back(result(*res));
            for (auto const& p : m.content) {
                if (auto const* x = std::get_if<text_part>(&p); x && !x->text.empty()) {
                    t.content.push_back(*x);
                } else if (auto const* img = std::get_if<image_part>(&p)) {
                    std::string url = img->url;
                    if (url.starts_with("data:image/jpg;")) url.replace(0, 14, "data:image/jpeg");
                    t.content.push_back(image_part{url, {}});
                }
            }
            break;
        }
        case role::assistant: {
            auto& t = turn(role::assistant);
            for (auto const& p : m.content) {
                if (auto const* x = std::get_if<text_part>(&p); x && !x->text.empty()) {
                    t.content.push_back(*x);
                } else if (auto const* c = std::get_if<tool_call>(&p)) {
                    call_names[c->id] = c->name;
                    t.content.push_back(tool_call{
                        c->id, c->name, detail::trim(c->arguments).empty() ? "{}" : compact(c->arguments)});
                }
            }
            break;
        }
        }
    }
    if (!system_texts.empty()) out.system = system_texts.front();
    for (std::size_t i = system_texts.size(); i-- > 1;)
        out.messages.insert(out.messages.begin(), llmux::system(system_texts[i]));
    out.temperature = r.temperature;
    out.top_p = r.top_p;
    out.max_tokens = r.max_tokens;
    out.stop = r.stop;
    out.user = r.user;
    bool const none = r.tool_choice && r.tool_choice->how == tool_choice::mode::none;
    if (!none) {
        for (auto t : r.tools) {
            if (t.parameters.empty())
                t.parameters = json::parse(R"({"type":"object","properties":{}})").as_object();
            t.strict = false;
            out.tools.push_back(std::move(t));
        }
        if (!r.tools.empty()) out.tool_choice = r.tool_choice;
    }
    if (r.response_format && r.response_format->type == response_format::kind::json_schema) {
        auto const& rf = *r.response_format;
        out.tools = {tool{std::string(detail::bedrock::json_tool_name),
                          "Give the answer as this tool's input: a JSON value matching the schema '" +
                              rf.name + "'",
                          rf.schema, false}};
        out.tool_choice = tool_choice::named(std::string(detail::bedrock::json_tool_name));
    }
    for (auto const& [k, v] : r.extra) {
        if (k == "inferenceConfig") {
            for (auto const& [ik, iv] : v.as_object()) {
                if (ik == "temperature")
                    out.temperature = iv.to_number<double>();
                else if (ik == "topP")
                    out.top_p = iv.to_number<double>();
                else
                    BOOST_FAIL("fixture extra sets inferenceConfig." << ik);
            }
        } else if (k == "requestMetadata") {
            json::object rest = v.as_object();
            if (auto const* u = rest.if_contains("user")) {
                out.user = std::string(u->as_string());
                rest.erase("user");
            }
            if (!rest.empty()) out.extra.emplace(k, std::move(rest));
        } else {
            out.extra.emplace(k, v);
        }
    }
    return out;
}

usage as_bedrock_usage(usage u) {
    if (!u.known()) return {};
    if (!u.total_tokens) u.total_tokens = *u.input_tokens + *u.output_tokens;
    if (u.cached_input_tokens.value_or(0) == 0) u.cached_input_tokens = {};
    if (u.cache_write_tokens.value_or(0) == 0) u.cache_write_tokens = {};
    u.reasoning_tokens = {};
    u.reported_cost.reset();
    return u;
}

/// What Bedrock's answer shape carries of `r`: the stop reason Bedrock names (see
/// `bedrock::stop_reason`), tool arguments as compact JSON (`{}` when not JSON), the usage
/// (cache counts only when non-zero).
chat_response as_bedrock_answers(chat_response r) {
    std::string const native(
        detail::bedrock::stop_reason(r.finish_reason, r.native_finish_reason, !r.tool_calls.empty()));
    bool fails = false;
    r.finish_reason = detail::bedrock::finish_from_stop(native, false, fails);
    r.native_finish_reason = native;
    for (auto& c : r.tool_calls) {
        boost::system::error_code ec;
        auto const v = json::parse(c.arguments, ec);
        c.arguments = ec ? "{}" : detail::to_json(v);
    }
    r.usage = as_bedrock_usage(r.usage);
    return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_every_request_fixture) {
    for (auto const& [file, build] : request_builders) {
        BOOST_TEST_CONTEXT("fixture " << file) {
            json::object const fx = load_json(file).as_object();
            auto const p = bedrock_provider();
            std::string const model(str(fx.at("model")));
            bool const stream = fx.at("stream").as_bool();
            auto const original = build();
            auto const sent = fmt().encode(original, encode_context{p, model, stream});
            BOOST_REQUIRE_MESSAGE(sent.has_value(), (sent ? "" : sent.error().to_string()));

            // Routed as the gateway routes it: the path's model, percent-decoded.
            detail::wire_server const* self = &server();
            detail::endpoint_table const table(std::span(&self, 1), false);
            auto const match = table.find("POST", sent->target);
            BOOST_TEST_REQUIRE(match.has_value());
            BOOST_TEST(match->path_model == model);
            BOOST_TEST(match->ep->stream == stream);
            head_fixture h(sent->target, match->path_model);
            auto const got = server().decode_request(h.head, sent->body);
            BOOST_REQUIRE_MESSAGE(got.has_value(), (got ? "" : got.error().message));
            BOOST_TEST(got->stream == stream);
            chat_request back = got->req;
            back.extra = got->native;
            check_json(request_json(back), request_json(as_bedrock_carries(original, model)),
                       "request");

            // And what came back encodes to the same bytes: nothing was lost or added.
            auto const again = fmt().encode(back, encode_context{p, model, stream});
            BOOST_REQUIRE_MESSAGE(again.has_value(), (again ? "" : again.error().to_string()));
            check_json(body_of(*again), body_of(*sent), "re-encoded body");
            BOOST_TEST(again->target == sent->target);
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
            auto const original = fmt().decode(case_head(c), case_body(fixture_dir, c));
            BOOST_REQUIRE(original.has_value());
            auto m = meta_of(original->request_id);
            std::string body;
            server().encode_response(*original, m, body);
            auto const back = fmt().decode(served_head(server(), m), body);
            BOOST_REQUIRE_MESSAGE(back.has_value(), (back ? "" : back.error().to_string()));
            check_json(response_json(*back), response_json(as_bedrock_answers(*original)),
                       "response");
            ++n;
        }
    }
    BOOST_TEST(n >= 11u);  // every answer case of responses.json
}

BOOST_AUTO_TEST_CASE(round_trip_every_stream_fixture) {
    json::object const table = load_json("streams.json").as_object();
    std::size_t n = 0;
    for (auto const& cv : table.at("cases").as_array()) {
        auto const& c = cv.as_object();
        if (c.at("end") != json::value("ok")) continue;  // a failed stream has nothing to resend
        BOOST_TEST_CONTEXT("stream '" << str(c.at("name")) << "'") {
            std::string const original_bytes = stream_body(c);
            auto d = fmt().make_stream_decoder();
            std::vector<chat_chunk> chunks;
            BOOST_REQUIRE(d->feed(original_bytes, chunks).has_value());
            BOOST_REQUIRE(d->finish(chunks).has_value());
            auto const whole = accumulate(chunks);

            std::string const bytes = encode_stream(server(), meta_of(), true, chunks, whole);
            json::object const back = decode_at_every_split(fmt(), bytes);

            // The same chunks: Bedrock's events are one delta each, as the client reads them.
            json::array expected;
            for (auto ch : chunks) {
                if (ch.usage) ch.usage = as_bedrock_usage(*ch.usage);
                if (ch.usage && !ch.usage->known()) ch.usage.reset();
                if (ch.has_content() || ch.finish_reason || ch.usage)
                    expected.push_back(chunk_json(ch));
            }
            check_json(back.at("chunks"), expected, "chunks");
            check_json(back.at("end"), json::value("ok"), "end");
            ++n;
        }
    }
    BOOST_TEST(n >= 7u);
}

// A field without a name could be neither passed on by its name nor named in a refusal.
BOOST_AUTO_TEST_CASE(server_refuses_a_field_without_a_name) {
    auto const r = decode_request(R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"":1})");
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().status == 400);
    BOOST_TEST(r.error().message.find("empty name") != std::string::npos, r.error().message);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
