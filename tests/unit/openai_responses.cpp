// SPDX-License-Identifier: BSL-1.0
// The OpenAI Responses API wire format (`openai-responses`), both sides, table-driven over the
// fixtures in tests/data/openai_responses/: the requests we build, the response objects, errors
// and event streams we decode; the requests the server side decodes and the responses, streams
// and errors it writes; and the round trips between the two sides.
#include "common/wire_fixtures.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/openai_responses.hpp"
#include "wire/wire_format.hpp"

#include <llmux/config.hpp>
#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::test {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;
using detail::encode_context;
using detail::http_request;
using detail::wire_format;

wire_format const& fmt() {
    return detail::openai_responses_format();
}
detail::wire_server const& server() {
    return detail::openai_responses_server();
}

constexpr std::string_view fixture_dir = "openai_responses";
json::value load_json(std::string_view name) {
    return fixture_json(fixture_dir, name);
}
std::string case_body(json::object const& c) {
    return test::case_body(fixture_dir, c);
}

provider_config provider_named(std::string name) {
    provider_config p;
    p.name = std::move(name);
    p.wire = "openai-responses";
    return p;
}

result<http_request> encode(chat_request const& req, bool stream = false) {
    auto const p = provider_named("openai");
    return fmt().encode(req, encode_context{p, "gpt-5-pro", stream});
}

// The unified requests the request_*.json fixtures were written for.
std::map<std::string, std::function<chat_request()>, std::less<>> const request_builders = {
    {"request_minimal.json",
     [] { return chat_request{.model = "openai/gpt-5-pro", .messages = {user("hi")}}; }},
    {"request_tool_loop.json",
     [] {
         chat_request r;
         r.model = "openai/gpt-5-codex";
         r.system = "You are terse.";
         r.messages = {
             system("Use metric units."),
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
         r.tools = {tool{"get_weather", "Current weather", weather_schema(), true}};
         r.tool_choice = tool_choice::automatic();
         return r;
     }},
    {"request_images.json",
     [] {
         chat_request r;
         r.model = "my-responses/gpt-4.1";
         r.messages = {
             user({text_part{"What is in these pictures?"},
                   image_part{"https://example.com/cat.png", "high"},
                   image_base64("image/png", "iVBORw0KGgo="), text_part{"Be brief."}}),
             assistant("A cat and a dot."),
             user({image_part{"http://localhost:8080/dog.jpg", "low"}}),
             user({text_part{"One"}, text_part{"Two"}}),
         };
         return r;
     }},
    {"request_all_options.json",
     [] {
         chat_request r;
         r.model = "openai/o3-pro";
         r.system = "Answer in JSON.";
         r.messages = {user("List two colours.")};
         r.temperature = 0.5;
         r.top_p = 0.9;
         r.max_tokens = 512;
         r.user = "user-1234";
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
         r.reasoning = reasoning_options{reasoning_effort::high, std::nullopt, std::nullopt};
         r.extra = json::parse(R"({"service_tier":"flex"})").as_object();
         return r;
     }},
    {"request_reasoning.json",
     [] {
         chat_request r;
         r.model = "openai/gpt-5-pro";
         r.reasoning = reasoning_options{reasoning_effort::high, std::nullopt, true};
         r.prompt_cache_key = "user-42";
         r.messages = {
             user({text_part{"Summarise this and check the weather."},
                   document_base64("application/pdf", "JVBERi0x", "q3.pdf"),
                   document_part{"https://example.com/terms.pdf", "", std::nullopt}}),
             message{role::assistant,
                     {reasoning_part{reasoning_part::kind::summary, "**Need weather**", "gAAAABenc",
                                     "", "rs_01", "openai"},
                      // Claude's thinking validates only on Anthropic: left out here.
                      reasoning_part{reasoning_part::kind::text, "Hmm.", "sig-claude", "", "",
                                     "anthropic"},
                      // OpenAI's without encrypted content names stored state: left out.
                      reasoning_part{reasoning_part::kind::summary, "old", "", "", "rs_00", "openai"},
                      tool_call{"call_A", "get_weather", R"({"city":"Oslo"})", ""}}},
             tool_answer("call_A", R"({"temp_c":4})", "get_weather"),
         };
         r.tools = {tool{"get_weather", "", weather_schema(), false}};
         return r;
     }},
    {"request_json_object.json",
     [] {
         chat_request r;
         r.model = "openai/gpt-5-pro";
         r.messages = {user("Give me JSON.")};
         r.max_tokens = 64;
         r.tools = {tool{"emit", "", json::object{{"type", "object"}}, false}};
         r.tool_choice = tool_choice::required();
         r.response_format = response_format::json();
         return r;
     }},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(openai_responses)

BOOST_AUTO_TEST_CASE(registered) {
    BOOST_TEST(detail::find_wire_format("openai-responses") == &fmt());
    BOOST_TEST(fmt().name() == "openai-responses");
    BOOST_TEST(detail::find_wire_server("openai-responses") == &server());
    BOOST_TEST(server().name() == fmt().name());
    BOOST_TEST(server().stream_content_type() == "text/event-stream");
}

// The `openai` provider speaks the Responses API for the models that exist only there; other
// providers of the Chat Completions format (OpenRouter) keep it for the same names.
BOOST_AUTO_TEST_CASE(responses_only_models_pick_the_format_on_openai) {
    for (auto m : {"gpt-5-pro", "gpt-5-pro-2025-10-06", "o1-pro", "o3-pro", "o3-pro-2025-06-10",
                   "gpt-5.2-pro", "gpt-5-codex", "gpt-5.1-codex-max", "gpt-5.1-codex-mini",
                   "codex-mini-latest"})
        BOOST_TEST(detail::responses::responses_only(m), m);
    for (auto m : {"gpt-4o", "gpt-5", "gpt-5-mini", "o3", "o4-mini", "gpt-4o-mini-transcribe",
                   "text-embedding-3-small", "gpt-image-1", "prompt-1", "gpt-5-procodex"})
        BOOST_TEST(!detail::responses::responses_only(m), m);

    provider_config openai;
    openai.name = "openai";
    provider_config openrouter;
    openrouter.name = "openrouter";
    auto const& chat = detail::openai_chat_format();
    BOOST_TEST(&detail::wire_for_model(openai, chat, "gpt-5-pro") == &fmt());
    BOOST_TEST(&detail::wire_for_model(openai, chat, "gpt-5.1-codex-max") == &fmt());
    BOOST_TEST(&detail::wire_for_model(openai, chat, "gpt-4o-mini") == &chat);
    BOOST_TEST(&detail::wire_for_model(openrouter, chat, "gpt-5-pro") == &chat);
    // A provider configured with this format speaks it for every model.
    BOOST_TEST(&detail::wire_for_model(openrouter, fmt(), "gpt-4o") == &fmt());
    // Vertex still picks by model.
    BOOST_TEST(detail::wire_for_model(openai, detail::vertex_format(), "claude-sonnet-4").name() ==
               "anthropic");
}

BOOST_AUTO_TEST_CASE(request_fixtures) {
    for (auto const& [file, build] : request_builders) {
        BOOST_TEST_CONTEXT("fixture " << file) {
            json::object const fx = load_json(file).as_object();
            auto const p = provider_named(std::string(str(fx.at("provider"))));
            std::string const model(str(fx.at("model")));
            auto const r = fmt().encode(build(), encode_context{p, model, fx.at("stream").as_bool()});
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
    auto const r = encode({.model = "openai/gpt-5-pro", .messages = {user("hi")}});
    BOOST_REQUIRE(r.has_value());
    auto const b = body_of(*r);
    // model, input and store only: the client is stateless (PROVIDERS-2.md 3.2).
    BOOST_TEST(b.size() == 3u);
    BOOST_TEST(b.at("store") == json::value(false));
    for (auto key : {"instructions", "temperature", "top_p", "max_output_tokens", "user", "tools",
                     "tool_choice", "text", "stream", "previous_response_id"})
        BOOST_TEST(!b.contains(key), key);
    chat_request req{.model = "openai/gpt-5-pro", .messages = {user("hi")}};
    req.response_format = response_format{};
    req.tool_choice = tool_choice::none();
    auto const b2 = body_of(*encode(req));
    BOOST_TEST(!b2.contains("text"));
    BOOST_TEST(!b2.contains("tool_choice"));
    BOOST_TEST(body_of(*encode(req, true)).at("stream") == json::value(true));
}

// What the Responses API has no field for is refused by name, never dropped (1.1, "Absent").
BOOST_AUTO_TEST_CASE(unsupported_fields_are_refused_by_name) {
    chat_request req{.model = "openai/gpt-5-pro", .messages = {user("hi")}};
    req.stop = {"END"};
    auto r = encode(req);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::unsupported));
    BOOST_TEST(r.error().diag.message.starts_with("stop:"), r.error().diag.message);
    req.stop.clear();
    req.seed = 7;
    r = encode(req);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::unsupported));
    BOOST_TEST(r.error().diag.message.starts_with("seed:"), r.error().diag.message);
}

BOOST_AUTO_TEST_CASE(invalid_requests) {
    struct bad {
        chat_request req;
        error code;
        char const* says;
    };
    auto with = [](auto f) {
        chat_request r{.model = "openai/gpt-5-pro", .messages = {user("hi")}};
        f(r);
        return r;
    };
    bad const cases[] = {
        {with([](chat_request& r) { r.messages.clear(); }), error::invalid_request, "no messages"},
        {with([](chat_request& r) { r.tools = {tool{}}; }), error::invalid_request, "tools[0]"},
        {with([](chat_request& r) { r.tool_choice = tool_choice::named("x"); }),
         error::invalid_request, "'x'"},
        {with([](chat_request& r) { r.tool_choice = tool_choice::required(); }),
         error::invalid_request, "required"},
        {with([](chat_request& r) { r.messages = {user({image_part{"ftp://x/a.png", ""}})}; }),
         error::invalid_request, "messages[0].content[0]"},
        {with([](chat_request& r) { r.messages = {assistant("", {{"", "f", "{}"}})}; }),
         error::invalid_request, "needs an id"},
        {with([](chat_request& r) {
             r.messages = {message{role::assistant, {image_part{"https://x/a.png", ""}}}};
         }),
         error::unsupported, "images"},
        {with([](chat_request& r) { r.messages = {message{role::tool, {text_part{"x"}}}}; }),
         error::invalid_request, "tool_result"},
        {with([](chat_request& r) {
             r.response_format = response_format::json_schema("", json::object{});
         }),
         error::invalid_request, "needs a name"},
    };
    for (auto const& c : cases) {
        auto const r = encode(c.req);
        BOOST_TEST_REQUIRE(!r.has_value(), c.says);
        BOOST_TEST(r.error().code == make_error_code(c.code), c.says);
        BOOST_TEST(r.error().diag.message.find(c.says) != std::string::npos, r.error().diag.message);
    }
}

BOOST_AUTO_TEST_CASE(response_fixtures) {
    check_response_table(fmt(), fixture_dir);
}

BOOST_AUTO_TEST_CASE(error_fixtures) {
    check_error_table(fmt(), fixture_dir);
}

BOOST_AUTO_TEST_CASE(stream_fixtures) {
    check_stream_table(fmt(), fixture_dir, [](json::object const& c) { return case_body(c); });
}

// A failure is sticky, and events after the terminal one are not looked at.
BOOST_AUTO_TEST_CASE(stream_ends_are_final) {
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    std::string const done =
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":"
        "{\"id\":\"r\",\"status\":\"completed\",\"output\":[]}}\n\n"
        "data: {\"type\":\"response.output_text.delta\",\"delta\":\"late\"}\n\n"
        "data: not json\n\n";
    BOOST_TEST(d->feed(done, chunks).has_value());
    BOOST_TEST(d->finish(chunks).has_value());
    BOOST_TEST_REQUIRE(chunks.size() == 1u);
    BOOST_TEST((chunks[0].finish_reason == finish_reason::stop));

    auto e = fmt().make_stream_decoder();
    chunks.clear();
    auto const r1 = e->feed("data: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\"}\n\n", chunks);
    BOOST_TEST_REQUIRE(!r1.has_value());
    auto const r2 = e->feed("event: response.completed\ndata: {}\n\n", chunks);
    BOOST_TEST_REQUIRE(!r2.has_value());
    BOOST_TEST(r2.error().diag.message == "boom");
    BOOST_TEST(!e->finish(chunks).has_value());
}

// ---------------------------------------------------------------------------------------------
// The server side (src/wire/openai_responses_server.cpp)

namespace {

json::value parse_json(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

struct head_fixture : request_head_fixture {
    explicit head_fixture(std::string_view path = "/v1/responses",
                          std::vector<std::pair<std::string, std::string>> h = {})
        : request_head_fixture(path, std::move(h)) {}
};

boost::system::result<detail::inbound_request, detail::api_error>
decode_request(std::string_view body) {
    head_fixture h;
    return server().decode_request(h.head, body);
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

/// A stream's events: each one's `event:` name, which must equal its JSON `type`, and its data.
std::vector<std::pair<std::string, json::object>> events(std::string_view sse) {
    std::vector<std::pair<std::string, json::object>> out;
    std::size_t pos = 0;
    while (pos < sse.size()) {
        auto const end = sse.find("\n\n", pos);
        BOOST_TEST_REQUIRE(end != std::string_view::npos, "unterminated event in " << sse);
        auto const ev = sse.substr(pos, end - pos);
        BOOST_TEST_REQUIRE(ev.starts_with("event: "), ev);
        auto const nl = ev.find('\n');
        BOOST_TEST_REQUIRE(ev.substr(nl + 1).starts_with("data: "), ev);
        std::string name(ev.substr(7, nl - 7));
        auto data = parse_json(ev.substr(nl + 7)).as_object();
        BOOST_TEST(str(data.at("type")) == name);
        out.emplace_back(std::move(name), std::move(data));
        pos = end + 2;
    }
    return out;
}

/// The names of `evs`, after checking that their sequence numbers count from 0.
std::vector<std::string> names_in_sequence(std::vector<std::pair<std::string, json::object>> const& evs) {
    std::vector<std::string> names;
    for (std::size_t i = 0; i < evs.size(); ++i) {
        BOOST_TEST(evs[i].second.at("sequence_number").to_number<std::uint64_t>() == i);
        names.push_back(evs[i].first);
    }
    return names;
}

}  // namespace

BOOST_AUTO_TEST_CASE(server_endpoints) {
    std::vector<detail::wire_server const*> const mine{&server()};
    detail::endpoint_table const exact(mine, false);
    BOOST_TEST(exact.find("POST", "/v1/responses").has_value());
    BOOST_TEST(exact.find("POST", "/responses").has_value());
    BOOST_TEST(!exact.find("GET", "/v1/responses"));
    BOOST_TEST(!exact.find("POST", "/v1/responses/resp_1/cancel"));
    // In the registry's table, behind OpenAI's chat endpoints and before any other format.
    detail::endpoint_table const all(detail::wire_servers(), false);
    auto const m = all.find("POST", "/v1/responses");
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(m->server == &server());
    BOOST_TEST(all.find("POST", "/v1/chat/completions")->server == &detail::openai_chat_server());
    detail::endpoint_table const anywhere(detail::wire_servers(), true);
    auto const prefixed = anywhere.find("POST", "/openai/v1/responses");
    BOOST_TEST_REQUIRE(prefixed.has_value());
    BOOST_TEST(prefixed->server == &server());
}

BOOST_AUTO_TEST_CASE(server_credentials_are_openais) {
    head_fixture f("/v1/responses", {{"Authorization", "Bearer sk-1"}});
    auto const c = server().presented_credential(f.head);
    BOOST_TEST((c.how == detail::credential::kind::api_key));
    BOOST_TEST(c.value == "sk-1");
    BOOST_TEST(server().key_hint() == "Authorization: Bearer <key>");
}

BOOST_AUTO_TEST_CASE(server_decodes_a_full_request) {
    auto r = decode_request(R"({
        "model": "gpt-smart",
        "instructions": "be brief",
        "input": [
          {"role": "developer", "content": "use metric"},
          {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "weather here?"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "low"}]},
          {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
           "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
          {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
           "arguments": "{\"city\":\"Oslo\"}", "status": "completed"},
          {"type": "function_call_output", "call_id": "call_1",
           "output": [{"type": "input_text", "text": "sun"}, {"type": "input_text", "text": "ny"}]},
          {"role": "user", "content": "thanks"}
        ],
        "temperature": 0.5, "top_p": 0.9, "max_output_tokens": 100, "user": "u1",
        "tools": [{"type": "function", "name": "get_weather", "description": "now",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                   "strict": true}],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}},
        "stream": true, "store": true, "include": ["reasoning.encrypted_content"],
        "parallel_tool_calls": true, "truncation": "disabled", "service_tier": "auto",
        "stream_options": {"include_obfuscation": false}
    })");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().message));
    auto const& req = r->req;
    BOOST_TEST(req.model == "gpt-smart");
    BOOST_TEST(req.system == "be brief");
    BOOST_TEST(r->stream);
    BOOST_TEST(r->include_usage);
    BOOST_TEST_REQUIRE(req.messages.size() == 5u);
    BOOST_TEST((req.messages[0].role == role::system));
    BOOST_TEST(req.messages[0].text() == "use metric");
    BOOST_TEST_REQUIRE(req.messages[1].content.size() == 2u);
    auto const* img = std::get_if<image_part>(&req.messages[1].content[1]);
    BOOST_TEST_REQUIRE(img != nullptr);
    BOOST_TEST(img->url == "data:image/png;base64,iVBO");
    BOOST_TEST(img->detail == "low");
    // The assistant's text and the call after it are one turn.
    BOOST_TEST((req.messages[2].role == role::assistant));
    BOOST_TEST_REQUIRE(req.messages[2].content.size() == 2u);
    auto const* call = std::get_if<tool_call>(&req.messages[2].content[1]);
    BOOST_TEST_REQUIRE(call != nullptr);
    BOOST_TEST(call->id == "call_1");  // the call_id, never the fc_ item id
    BOOST_TEST(call->arguments == R"({"city":"Oslo"})");
    BOOST_TEST((req.messages[3].role == role::tool));
    auto const* answer = std::get_if<tool_result>(&req.messages[3].content.at(0));
    BOOST_TEST_REQUIRE(answer != nullptr);
    BOOST_TEST(answer->tool_call_id == "call_1");
    BOOST_TEST(answer->name == "get_weather");
    BOOST_TEST(answer->content == "sunny");
    BOOST_TEST(req.messages[4].text() == "thanks");
    BOOST_TEST((req.temperature && *req.temperature == 0.5));
    BOOST_TEST((req.top_p && *req.top_p == 0.9));
    BOOST_TEST((req.max_tokens && *req.max_tokens == 100));
    BOOST_TEST(req.user == "u1");
    BOOST_TEST_REQUIRE(req.tools.size() == 1u);
    BOOST_TEST(req.tools[0].description == "now");
    BOOST_TEST(req.tools[0].strict);
    BOOST_TEST_REQUIRE(req.tool_choice.has_value());
    BOOST_TEST(req.tool_choice->name == "get_weather");
    BOOST_TEST_REQUIRE(req.response_format.has_value());
    BOOST_TEST((req.response_format->type == response_format::kind::json_schema));
    BOOST_TEST(req.response_format->strict);
    // Defaults, `store` (answered honestly: nothing is stored), the encrypted reasoning this
    // server always returns and the padding it never adds are nothing to pass on.
    BOOST_TEST(r->native.empty(), json::serialize(r->native));

    auto const s = decode_request(R"({"model":"m","input":"just text"})");
    BOOST_TEST_REQUIRE(!!s);
    BOOST_TEST_REQUIRE(s->req.messages.size() == 1u);
    BOOST_TEST((s->req.messages[0].role == role::user));
    BOOST_TEST(s->req.messages[0].text() == "just text");
    BOOST_TEST(!s->stream);
}

BOOST_AUTO_TEST_CASE(server_keeps_what_the_unified_request_cannot_hold) {
    struct row {
        char const* body;
        char const* native;
        char const* name;  // native_name
    };
    row const rows[] = {
        {R"({"model":"m","input":"x","metadata":{"a":"b"},"truncation":"auto","reasoning":{"effort":"low"},
             "parallel_tool_calls":false,"service_tier":"flex","background":false,"prompt_cache_key":"k"})",
         R"({"parallel_tool_calls":false,"metadata":{"a":"b"},"truncation":"auto","service_tier":"flex"})",
         ""},
        // An uploaded file keeps the whole input (for an OpenAI upstream), and names where it
        // is; a reasoning item and a file's data have unified places.
        {R"({"model":"m","input":[{"role":"user","content":"x"},
             {"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"},
             {"role":"user","content":[{"type":"input_file","filename":"a.pdf","file_id":"file-1"}]}]})",
         R"({"input":[{"role":"user","content":"x"},
             {"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"},
             {"role":"user","content":[{"type":"input_file","filename":"a.pdf","file_id":"file-1"}]}]})",
         "input[2].content[0]"},
        {R"({"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":{}},{"type":"web_search"}],
             "tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"f"}]}})",
         R"({"tools":[{"type":"function","name":"f","parameters":{}},{"type":"web_search"}],
             "tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"f"}]}})",
         "tools[1]"},
        {R"({"model":"m","input":"x","text":{"verbosity":"low","format":{"type":"json_schema","name":"s","schema":{},"description":"d"}},
             "include":["reasoning.encrypted_content","message.output_text.logprobs"],"stream":true,
             "stream_options":{"include_obfuscation":true}})",
         R"({"stream_options":{"include_obfuscation":true},
             "include":["reasoning.encrypted_content","message.output_text.logprobs"],
             "text":{"verbosity":"low","format":{"description":"d"}}})",
         ""},
    };
    for (auto const& r : rows) {
        BOOST_TEST_CONTEXT(r.body) {
            auto const got = decode_request(r.body);
            BOOST_TEST_REQUIRE(!!got, (got ? "" : got.error().message));
            check_json(got->native, parse_json(r.native), "native");
            BOOST_TEST(got->native_name == r.name);
        }
    }
}

BOOST_AUTO_TEST_CASE(server_bad_requests_name_the_field) {
    struct bad_case {
        char const* body;
        unsigned status;
        char const* param;
        char const* code;  // null: JSON null
    };
    bad_case const cases[] = {
        {"not json", 400, "", nullptr},
        {"[1]", 400, "", nullptr},
        {R"({"input":"x"})", 400, "model", nullptr},
        {R"({"model":"m"})", 400, "input", "missing_required_parameter"},
        {R"({"model":"m","input":5})", 400, "input", "invalid_type"},
        {R"({"model":"m","input":[]})", 400, "input", "empty_array"},
        {R"({"model":"m","input":[{"content":"x"}]})", 400, "input[0].role", "missing_required_parameter"},
        {R"({"model":"m","input":[{"role":"robot","content":"x"}]})", 400, "input[0].role", "invalid_value"},
        {R"({"model":"m","input":[{"role":"user"}]})", 400, "input[0].content", "missing_required_parameter"},
        {R"({"model":"m","input":[{"role":"user","content":[{"type":"input_audio"}]}]})", 400,
         "input[0].content[0].type", "invalid_value"},
        {R"({"model":"m","input":[{"role":"assistant","content":[{"type":"input_text","text":"x"}]}]})", 400,
         "input[0].content[0].type", "invalid_value"},
        {R"({"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]})", 400,
         "input[0].call_id", "missing_required_parameter"},
        {R"({"model":"m","input":[{"type":"function_call_output","call_id":"c"}]})", 400,
         "input[0].output", "missing_required_parameter"},
        {R"({"model":"m","input":[{"type":"computer_call"}]})", 400, "input[0].type", "invalid_value"},
        {R"({"model":"m","input":"x","temperature":5})", 400, "temperature", nullptr},
        {R"({"model":"m","input":"x","max_output_tokens":0})", 400, "max_output_tokens", "integer_below_min_value"},
        {R"({"model":"m","input":"x","max_output_tokens":"9"})", 400, "max_output_tokens", "invalid_type"},
        {R"({"model":"m","input":"x","stream":"yes"})", 400, "stream", "invalid_type"},
        {R"({"model":"m","input":"x","stream_options":{}})", 400, "stream_options", nullptr},
        {R"({"model":"m","input":"x","store":"no"})", 400, "store", "invalid_type"},
        {R"({"model":"m","input":"x","tools":[{"type":"function"}]})", 400, "tools[0].name", "missing_required_parameter"},
        {R"({"model":"m","input":"x","tools":[{"name":"f"}]})", 400, "tools[0].type", "missing_required_parameter"},
        {R"({"model":"m","input":"x","tool_choice":"sometimes"})", 400, "tool_choice", "invalid_value"},
        {R"({"model":"m","input":"x","tool_choice":{"type":"function","name":"nope"}})", 400, "tool_choice", nullptr},
        {R"({"model":"m","input":"x","tool_choice":"required"})", 400, "tool_choice", nullptr},
        {R"({"model":"m","input":"x","text":{"format":{"type":"json_schema","schema":{}}}})", 400,
         "text.format.name", "missing_required_parameter"},
        {R"({"model":"m","input":"x","text":{"format":{"type":"yaml"}}})", 400, "text.format.type", "invalid_value"},
        // Stateless: what names stored state is refused by name (PROVIDERS-2.md 1.6).
        {R"({"model":"m","input":"x","previous_response_id":"resp_1"})", 400, "previous_response_id",
         "previous_response_not_found"},
        {R"({"model":"m","input":"x","conversation":"conv_1"})", 400, "conversation", nullptr},
        {R"({"model":"m","input":[{"type":"item_reference","id":"rs_1"}]})", 404, "input[0].id", nullptr},
        {R"({"model":"m","input":"x","":1})", 400, "", nullptr},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.body) {
            auto const r = decode_request(c.body);
            BOOST_TEST_REQUIRE(!r);
            auto const& e = r.error();
            BOOST_TEST(e.status == c.status);
            BOOST_TEST(e.param == c.param);
            BOOST_TEST(e.code == (c.code ? c.code : ""));
            BOOST_TEST(!e.message.empty());
            // The answer is OpenAI's error shape, naming the field.
            auto const body = parse_json(server().encode_error(e).body);
            BOOST_TEST(body.at("error").at("type").as_string() == "invalid_request_error");
            if (*c.param) BOOST_TEST(body.at("error").at("param").as_string() == c.param);
        }
    }
    auto const prev = decode_request(R"({"model":"m","input":"x","previous_response_id":"resp_1"})");
    BOOST_TEST(prev.error().message.find("'resp_1'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(server_renders_a_response_with_text_tool_calls_and_usage) {
    chat_response r;
    r.content = "Checking \"both\".";
    r.reasoning = "think";
    r.tool_calls = {{"call_1", "get_weather", R"({"city":"Oslo"})"}, {"call_2", "now", ""}};
    r.finish_reason = finish_reason::tool_calls;
    r.usage.input_tokens = 10;
    r.usage.output_tokens = 5;
    r.usage.cached_input_tokens = 4;
    auto const body = parse_json(encode_response(r, meta("resp_emu_1", 1700000000, "gpt-x")));
    auto const& o = body.as_object();
    BOOST_TEST(str(o.at("id")) == "resp_emu_1");
    BOOST_TEST(str(o.at("object")) == "response");
    BOOST_TEST(o.at("created_at").to_number<std::int64_t>() == 1700000000);
    BOOST_TEST(str(o.at("status")) == "completed");
    BOOST_TEST(o.at("error").is_null());
    BOOST_TEST(o.at("incomplete_details").is_null());
    BOOST_TEST(str(o.at("model")) == "gpt-x");
    BOOST_TEST(o.at("store") == json::value(false));  // nothing was stored
    check_json(o.at("output"), parse_json(R"([
        {"id":"rs_emu_1_0","type":"reasoning","summary":[],"content":[{"type":"reasoning_text","text":"think"}]},
        {"id":"msg_emu_1_1","type":"message","status":"completed","role":"assistant",
         "content":[{"type":"output_text","text":"Checking \"both\".","annotations":[],"logprobs":[]}]},
        {"id":"fc_emu_1_2","type":"function_call","status":"completed","arguments":"{\"city\":\"Oslo\"}","call_id":"call_1","name":"get_weather"},
        {"id":"fc_emu_1_3","type":"function_call","status":"completed","arguments":"{}","call_id":"call_2","name":"now"}])"),
               "output");
    check_json(o.at("usage"), parse_json(R"({"input_tokens":10,"input_tokens_details":{"cached_tokens":4},
        "output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15})"),
               "usage");

    // A length finish is an incomplete response; unknown usage is null, never zeros.
    chat_response cut;
    cut.content = "The answer";
    cut.finish_reason = finish_reason::length;
    auto const inc = parse_json(encode_response(cut, meta("resp_2", 1, "m"))).as_object();
    BOOST_TEST(str(inc.at("status")) == "incomplete");
    check_json(inc.at("incomplete_details"), parse_json(R"({"reason":"max_output_tokens"})"), "details");
    BOOST_TEST(str(inc.at("output").at(0).at("status")) == "incomplete");
    BOOST_TEST(inc.at("usage").is_null());
}

BOOST_AUTO_TEST_CASE(server_text_stream_event_sequence) {
    chat_chunk a, b, fin;
    a.text = "Hel";
    b.text = "lo";
    fin.finish_reason = finish_reason::stop;
    chat_response whole;
    whole.usage.input_tokens = 3;
    whole.usage.output_tokens = 2;
    auto const bytes = encode_stream(server(), meta("resp_s", 5, "m"), false, {a, b, fin}, whole);
    auto const evs = events(bytes);
    std::vector<std::string> const expected = {
        "response.created",           "response.in_progress",       "response.output_item.added",
        "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done",  "response.content_part.done", "response.output_item.done",
        "response.completed"};
    BOOST_TEST(names_in_sequence(evs) == expected, boost::test_tools::per_element());
    BOOST_TEST(str(evs[0].second.at("response").at("status")) == "in_progress");
    BOOST_TEST(evs[0].second.at("response").at("usage").is_null());
    BOOST_TEST(str(evs[2].second.at("item").at("id")) == "msg_s_0");
    BOOST_TEST(str(evs[4].second.at("item_id")) == "msg_s_0");
    BOOST_TEST(evs[4].second.at("output_index").to_number<int>() == 0);
    BOOST_TEST(evs[4].second.at("content_index").to_number<int>() == 0);
    BOOST_TEST(str(evs[6].second.at("text")) == "Hello");
    BOOST_TEST(str(evs[8].second.at("item").at("content").at(0).at("text")) == "Hello");
    auto const& done = evs[9].second.at("response");
    BOOST_TEST(str(done.at("status")) == "completed");
    BOOST_TEST(str(done.at("output").at(0).at("content").at(0).at("text")) == "Hello");
    BOOST_TEST(done.at("usage").at("total_tokens").to_number<int>() == 5);

    // Without any content the stream still opens, holds an empty message and completes.
    auto const empty = events(encode_stream(server(), meta("resp_e", 5, "m"), false, {}, chat_response{}));
    std::vector<std::string> const bare = {
        "response.created",          "response.in_progress",       "response.output_item.added",
        "response.content_part.added", "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed"};
    BOOST_TEST(names_in_sequence(empty) == bare, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(server_tool_call_stream_event_sequence) {
    // Text, then two calls (header, then argument pieces), as the gateway relays them.
    std::vector<chat_chunk> chunks(5);
    chunks[0].text = "Let me check.";
    chunks[1].tool_calls = {{0, "call_a", "get_weather", ""}};
    chunks[2].tool_calls = {{0, "", "", R"({"city":"Oslo"})"}};
    chunks[3].tool_calls = {{1, "call_b", "now", "{}"}};
    chunks[4].finish_reason = finish_reason::tool_calls;
    auto const evs = events(encode_stream(server(), meta("resp_t", 5, "m"), false, chunks, {}));
    std::vector<std::string> const expected = {
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed"};
    BOOST_TEST(names_in_sequence(evs) == expected, boost::test_tools::per_element());
    auto const& added = evs[8].second;
    BOOST_TEST(added.at("output_index").to_number<int>() == 1);
    BOOST_TEST(str(added.at("item").at("type")) == "function_call");
    BOOST_TEST(str(added.at("item").at("call_id")) == "call_a");
    BOOST_TEST(str(added.at("item").at("arguments")) == "");
    BOOST_TEST(str(evs[9].second.at("item_id")) == str(added.at("item").at("id")));
    BOOST_TEST(str(evs[10].second.at("arguments")) == R"({"city":"Oslo"})");
    auto const& out = evs[16].second.at("response").at("output");
    BOOST_TEST(out.as_array().size() == 3u);
    BOOST_TEST(str(out.at(2).at("call_id")) == "call_b");
    BOOST_TEST(str(out.at(2).at("arguments")) == "{}");

    // Our own client reads it back as the same answer.
    auto const back = decode_at_every_split(
        fmt(), encode_stream(server(), meta("resp_t", 5, "m"), false, chunks, {}));
    BOOST_TEST(back.at("end") == json::value("ok"));
}

BOOST_AUTO_TEST_CASE(server_stream_error_and_malformed_events) {
    chat_chunk a;
    a.text = "Hi";
    detail::api_error e{500, "The server had an error.", "", "", ""};
    auto enc = server().make_stream_encoder(meta("resp_x", 1, "m"), false);
    std::string out;
    enc->chunk(a, out);
    enc->error(e, out);
    auto const evs = events(out);
    BOOST_TEST_REQUIRE(evs.size() >= 2u);
    auto const& err = evs[evs.size() - 2];
    BOOST_TEST(err.first == "error");
    // Nested (as captured) and flat (as the SDK types it).
    BOOST_TEST(str(err.second.at("error").at("type")) == "server_error");
    BOOST_TEST(str(err.second.at("error").at("message")) == "The server had an error.");
    BOOST_TEST(str(err.second.at("code")) == "server_error");
    auto const& failed = evs.back();
    BOOST_TEST(failed.first == "response.failed");
    BOOST_TEST(str(failed.second.at("response").at("status")) == "failed");
    BOOST_TEST(str(failed.second.at("response").at("error").at("code")) == "server_error");
    names_in_sequence(evs);
    // Our client sees the failure, with the provider's words.
    std::vector<chat_chunk> chunks;
    auto d = fmt().make_stream_decoder();
    auto const r = d->feed(out, chunks);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == make_error_code(error::server_error));
    BOOST_TEST(r.error().diag.message == "The server had an error.");

    auto enc2 = server().make_stream_encoder(meta("resp_y", 1, "m"), false);
    std::string bad;
    enc2->malformed(bad);
    auto d2 = fmt().make_stream_decoder();
    auto const r2 = d2->feed(bad, chunks);
    BOOST_TEST_REQUIRE(!r2.has_value());
    BOOST_TEST(r2.error().code == make_error_code(error::protocol_error));
}

BOOST_AUTO_TEST_CASE(server_errors_and_headers) {
    detail::api_error e;
    e.status = 429;
    e.message = "slow down";
    e.retry_after = std::chrono::milliseconds(1500);
    auto const a = server().encode_error(e);
    BOOST_TEST(a.status == 429u);
    std::map<std::string, std::string> h(a.headers.begin(), a.headers.end());
    BOOST_TEST(h["retry-after"] == "2");
    BOOST_TEST(parse_json(a.body).at("error").at("type").as_string() == "rate_limit_error");
    BOOST_TEST(server().error_for_status(404, "gpt-x").code == "model_not_found");
    BOOST_TEST(server().auth_error(true, {}, {}).status == 401u);
    auto m = meta("resp_x", 1, "m");
    m.request_id = "req_7";
    BOOST_TEST(served_head(server(), m).header("x-request-id") == "req_7");
    BOOST_TEST(server().make_id(detail::id_kind::response, "emu", 7) == "resp_emu_7");
    BOOST_TEST(server().make_id(detail::id_kind::tool_call, "emu", 7) == "call_emu_7");
    BOOST_TEST(server().make_id(detail::id_kind::request, "emu", 7) == "req_emu_7");
}

// ---------------------------------------------------------------------------------------------
// Reasoning (PROVIDERS-2.md 3.2) and documents (5) on the server side

BOOST_AUTO_TEST_CASE(server_reads_reasoning_items_options_and_files) {
    auto const r = decode_request(R"({"model":"m",
        "reasoning":{"effort":"low","summary":"auto"},"prompt_cache_key":"k1",
        "include":["reasoning.encrypted_content"],
        "input":[
          {"role":"user","content":[{"type":"input_text","text":"Read it"},
            {"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"},
            {"type":"input_file","file_url":"https://example.com/b.pdf"}]},
          {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"one"},{"type":"summary_text","text":"two"}],"encrypted_content":"gAAAA"},
          {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking."}]},
          {"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"},
          {"type":"function_call_output","call_id":"call_1","output":"done"},
          {"type":"reasoning","id":"rs_2","summary":[],"content":[{"type":"reasoning_text","text":"raw"}]},
          {"type":"message","role":"assistant","content":"Done."}]})");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().message));
    BOOST_TEST(r->native.empty(), json::serialize(r->native));
    auto const& req = r->req;
    BOOST_TEST_REQUIRE(req.reasoning.has_value());
    BOOST_TEST((req.reasoning->effort == reasoning_effort::low));
    BOOST_TEST((req.reasoning->include_text == std::optional<bool>(true)));
    BOOST_TEST(req.prompt_cache_key == "k1");
    BOOST_TEST_REQUIRE(req.messages.size() == 4u);
    auto const* doc = std::get_if<document_part>(&req.messages[0].content.at(1));
    BOOST_TEST_REQUIRE(doc != nullptr);
    BOOST_TEST(doc->url == "data:application/pdf;base64,JVBE");
    BOOST_TEST(doc->name == "a.pdf");
    BOOST_TEST(std::get<document_part>(req.messages[0].content.at(2)).url == "https://example.com/b.pdf");
    // One assistant turn: its reasoning, its text, its call.
    auto const& turn = req.messages[1].content;
    BOOST_TEST_REQUIRE(turn.size() == 3u);
    auto const& rs = std::get<reasoning_part>(turn[0]);
    BOOST_TEST((rs.type == reasoning_part::kind::summary));
    BOOST_TEST(rs.text == "one\n\ntwo");
    BOOST_TEST(rs.signature == "gAAAA");
    BOOST_TEST(rs.id == "rs_1");
    BOOST_TEST(rs.origin == "openai");
    BOOST_TEST(std::get<text_part>(turn[1]).text == "Checking.");
    BOOST_TEST(std::get<tool_call>(turn[2]).id == "call_1");
    auto const& last = req.messages[3].content;
    BOOST_TEST_REQUIRE(last.size() == 2u);
    BOOST_TEST((std::get<reasoning_part>(last[0]).type == reasoning_part::kind::text));
    BOOST_TEST(std::get<reasoning_part>(last[0]).text == "raw");
    BOOST_TEST(std::get<text_part>(last[1]).text == "Done.");

    // What has no unified place: a summary other than auto, an uploaded file's id.
    auto const kept = decode_request(R"({"model":"m","reasoning":{"effort":"high","summary":"detailed","context":"all_turns"},
        "input":[{"role":"user","content":[{"type":"input_file","file_id":"file-1"}]},{"role":"user","content":"x"}]})");
    BOOST_TEST_REQUIRE(!!kept, (kept ? "" : kept.error().message));
    BOOST_TEST(kept->native_name == "input[0].content[0]");
    BOOST_TEST(kept->native.contains("input"));
    check_json(kept->native.at("reasoning"), parse_json(R"({"summary":"detailed","context":"all_turns"})"), "reasoning");
    auto const bad = decode_request(R"({"model":"m","input":"x","reasoning":{"effort":"extreme"}})");
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(bad.error().param == "reasoning.effort");
}

BOOST_AUTO_TEST_CASE(server_writes_reasoning_items_with_encrypted_content) {
    chat_response r;
    r.content = "Hi";
    r.reasoning_parts = {
        reasoning_part{reasoning_part::kind::summary, "sum", "gAAAA", "", "rs_real", "openai"},
        reasoning_part{reasoning_part::kind::text, "think", "sig-c", "", "", "anthropic"},
        reasoning_part{reasoning_part::kind::redacted, "", "", "opaque", "", "anthropic"}};
    r.finish_reason = finish_reason::stop;
    auto const body = parse_json(encode_response(r, meta("resp_z", 1, "m")));
    auto const& out = body.at("output").as_array();
    BOOST_TEST_REQUIRE(out.size() == 4u);
    check_json(out[0], parse_json(R"({"id":"rs_real","type":"reasoning","summary":[{"type":"summary_text","text":"sum"}],"encrypted_content":"gAAAA"})"), "openai's");
    BOOST_TEST(str(out[1].at("content").at(0).at("text")) == "think");
    BOOST_TEST(str(out[1].at("encrypted_content")).starts_with("llmux1.anthropic."));

    // A client that sends the output back returns every part whole, Claude's included.
    json::array input{json::object{{"role", "user"}, {"content", "hi"}}};
    for (auto const& it : out) input.push_back(it);
    auto const back = decode_request(json::serialize(json::object{{"model", "m"}, {"input", input}}));
    BOOST_TEST_REQUIRE(!!back, (back ? "" : back.error().message));
    std::vector<reasoning_part> parts;
    for (auto const& p : back->req.messages.at(1).content)
        if (auto const* g = std::get_if<reasoning_part>(&p)) parts.push_back(*g);
    BOOST_TEST_REQUIRE(parts.size() == 3u);
    BOOST_TEST((parts[0] == r.reasoning_parts[0]));
    BOOST_TEST((parts[1] == r.reasoning_parts[1]));
    BOOST_TEST((parts[2] == r.reasoning_parts[2]));

    // Streamed: the item's final form carries them, and our client reads the parts back.
    chat_chunk a, done, text;
    a.reasoning = "su";
    done.reasoning_parts = {r.reasoning_parts[0]};
    text.text = "Hi";
    auto const bytes = encode_stream(server(), meta("resp_z", 1, "m"), false, {a, done, text}, r);
    auto d = fmt().make_stream_decoder();
    std::vector<chat_chunk> chunks;
    BOOST_TEST_REQUIRE(d->feed(bytes, chunks).has_value());
    BOOST_TEST_REQUIRE(d->finish(chunks).has_value());
    auto const whole = accumulate(chunks);
    BOOST_TEST(whole.reasoning == "su");
    BOOST_TEST_REQUIRE(whole.reasoning_parts.size() == 1u);
    BOOST_TEST(whole.reasoning_parts[0].signature == "gAAAA");
    BOOST_TEST(whole.reasoning_parts[0].id == "rs_real");
    BOOST_TEST(whole.content == "Hi");
}

// ---------------------------------------------------------------------------------------------
// Round trips

namespace {

/// What the Responses API carries of `r` from the client side to the server side: tool results
/// become one tool message each (named after their call, no error flag) ahead of the rest of a
/// user message; an assistant turn is its joined text (left out when it only called tools) and
/// then its calls (empty arguments as `{}`); a system message's text is joined; tool_choice
/// auto or none without tools and a text response format are not sent.
chat_request as_responses_carries(chat_request const& r) {
    chat_request out;
    out.model = r.model;
    out.system = r.system;
    std::map<std::string, std::string> names;
    for (auto const& m : r.messages)
        for (auto const& p : m.content)
            if (auto const* c = std::get_if<tool_call>(&p)) names[c->id] = c->name;
    auto tool_message = [&](tool_result const& res) {
        out.messages.push_back(tool_answer(res.tool_call_id, res.content, names[res.tool_call_id]));
    };
    for (auto const& m : r.messages) {
        std::string text;
        std::vector<content_part> rest;
        std::vector<tool_call> calls;
        std::vector<reasoning_part> reasoning;
        for (auto const& p : m.content) {
            if (auto const* t = std::get_if<text_part>(&p)) {
                text += t->text;
                rest.push_back(p);
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                calls.push_back({c->id, c->name, c->arguments.empty() ? "{}" : c->arguments});
            } else if (std::holds_alternative<image_part>(p)) {
                rest.push_back(p);
            } else if (auto const* res = std::get_if<tool_result>(&p)) {
                tool_message(*res);
            } else if (std::holds_alternative<document_part>(p)) {
                document_part d = std::get<document_part>(p);
                d.cache.reset();
                rest.push_back(std::move(d));
            } else if (auto const* g = std::get_if<reasoning_part>(&p)) {
                if (g->origin == "openai" && !g->signature.empty()) reasoning.push_back(*g);
            }
        }
        switch (m.role) {
        case role::system: out.messages.push_back(system(text)); break;
        case role::tool: break;
        case role::user:
            if (!rest.empty() || m.content.empty()) out.messages.push_back(user(rest));
            break;
        case role::assistant: {
            message a{role::assistant, {}};
            for (auto& g : reasoning) a.content.emplace_back(std::move(g));
            if (!text.empty() || calls.empty()) a.content.emplace_back(text_part{text});
            for (auto& c : calls) a.content.emplace_back(std::move(c));
            out.messages.push_back(std::move(a));
            break;
        }
        }
    }
    out.temperature = r.temperature;
    out.top_p = r.top_p;
    out.max_tokens = r.max_tokens;
    out.user = r.user;
    out.tools = r.tools;
    out.tool_choice = r.tool_choice;
    if (out.tool_choice && r.tools.empty() &&
        (out.tool_choice->how == tool_choice::mode::automatic ||
         out.tool_choice->how == tool_choice::mode::none))
        out.tool_choice.reset();
    if (r.response_format && r.response_format->type != response_format::kind::text)
        out.response_format = r.response_format;
    out.extra = r.extra;
    // An effort (the one below a budget), and a summary only when asked for.
    if (r.reasoning) {
        reasoning_options o;
        o.effort = r.reasoning->effort;
        if (!o.effort && r.reasoning->budget_tokens)
            o.effort = detail::effort_for_budget(*r.reasoning->budget_tokens);
        if (r.reasoning->include_text && *r.reasoning->include_text) o.include_text = true;
        if (o.effort || o.include_text) out.reasoning = o;
    }
    out.prompt_cache_key = r.prompt_cache_key;
    return out;
}

/// What the Responses API's answer shape carries of `r`: the finish reason its status says
/// (stop when unknown, tool_calls when calls came without one), the native name of that status,
/// empty tool arguments as `{}`, usage when it is known with the cache and reasoning details
/// (0 when unknown), never a reported cost.
chat_response as_responses_answers(chat_response r) {
    if (r.finish_reason == finish_reason::unknown || r.finish_reason == finish_reason::error ||
        (r.finish_reason == finish_reason::stop && !r.tool_calls.empty()))
        r.finish_reason = r.tool_calls.empty() ? finish_reason::stop : finish_reason::tool_calls;
    r.native_finish_reason = std::string(detail::responses::incomplete_reason(r.finish_reason));
    if (r.native_finish_reason.empty()) r.native_finish_reason = "completed";
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
            auto const p = provider_named(std::string(str(fx.at("provider"))));
            std::string const model(str(fx.at("model")));
            bool const stream = fx.at("stream").as_bool();
            auto const original = build();
            auto const sent = fmt().encode(original, encode_context{p, model, stream});
            BOOST_REQUIRE_MESSAGE(sent.has_value(), (sent ? "" : sent.error().to_string()));

            head_fixture h("/v1" + sent->target);
            auto const got = server().decode_request(h.head, sent->body);
            BOOST_REQUIRE_MESSAGE(got.has_value(), (got ? "" : got.error().message));
            BOOST_TEST(got->stream == stream);
            chat_request back = got->req;
            back.extra = got->native;
            auto expected = as_responses_carries(original);
            expected.model = model;
            check_json(request_json(back), request_json(expected), "request");

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
            check_json(response_json(*back), response_json(as_responses_answers(*original)),
                       "response");
            ++n;
        }
    }
    BOOST_TEST(n >= 5u);
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

            // The same chunks: the deltas as they were (a call that came whole is announced,
            // then its arguments follow, as OpenAI streams them), then one chunk with the finish
            // reason and the usage of the terminal event.
            json::array expected;
            // Every item is closed with its final form: a reasoning item whose part did not
            // come gives one when it closes (its text, raw; the id the server gave it).
            std::size_t items = 0, reasoning_at = 0;
            enum class last_item { none, reasoning, text, call } last = last_item::none;
            std::string run;
            std::size_t last_call = static_cast<std::size_t>(-1);
            std::string suffix = info.id;
            if (suffix.starts_with("resp_")) suffix.erase(0, 5);
            auto const close_reasoning = [&] {
                if (last == last_item::reasoning && !run.empty()) {
                    chat_chunk done;
                    done.reasoning_parts.push_back(reasoning_part{
                        reasoning_part::kind::text, run, "", "",
                        "rs_" + suffix + "_" + std::to_string(reasoning_at), "openai"});
                    expected.push_back(chunk_json(done));
                }
                run.clear();
            };
            for (auto const& ch : chunks) {
                if (!ch.reasoning.empty()) {
                    if (last != last_item::reasoning) {
                        reasoning_at = items++;
                        last = last_item::reasoning;
                    }
                    run += ch.reasoning;
                }
                if (!ch.reasoning_parts.empty()) {
                    run.clear();
                    last = last_item::none;
                }
                if (!ch.text.empty()) {
                    close_reasoning();
                    if (last != last_item::text) ++items;
                    last = last_item::text;
                }
                for (auto const& d : ch.tool_calls)
                    if (d.index != last_call) {
                        close_reasoning();
                        ++items;
                        last = last_item::call;
                        last_call = d.index;
                    }
                chat_chunk part = ch;
                part.finish_reason.reset();
                part.usage.reset();
                part.tool_calls.clear();
                if (part.has_content()) {
                    // The reasoning delta and the text of one chunk are two items' events.
                    chat_chunk r = part, t = part;
                    r.text.clear();
                    t.reasoning.clear();
                    t.reasoning_parts.clear();
                    if (r.has_content()) expected.push_back(chunk_json(r));
                    if (t.has_content()) expected.push_back(chunk_json(t));
                }
                for (auto const& d : ch.tool_calls) {
                    chat_chunk call;
                    call.tool_calls.push_back(d);
                    if (!d.id.empty() && !d.arguments.empty()) {
                        call.tool_calls[0].arguments.clear();
                        expected.push_back(chunk_json(call));
                        call.tool_calls[0] = {d.index, "", "", d.arguments};
                    }
                    expected.push_back(chunk_json(call));
                }
            }
            close_reasoning();
            auto const carried = as_responses_answers(whole);
            chat_chunk end;
            end.finish_reason = carried.finish_reason;
            if (whole.usage.known()) end.usage = carried.usage;
            expected.push_back(chunk_json(end));
            check_json(back.at("chunks"), expected, "chunks");
            check_json(back.at("end"), json::value("ok"), "end");
            check_json(back.at("info").at("id"), json::value(info.id), "id");
            check_json(back.at("info").at("model"), json::value(info.model), "model");
            ++n;
        }
    }
    BOOST_TEST(n >= 4u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
