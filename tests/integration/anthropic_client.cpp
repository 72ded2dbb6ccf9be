// SPDX-License-Identifier: BSL-1.0
// Anthropic Messages end to end: the real client over loopback TLS against the emulator's
// Anthropic protocol (and Claude on Vertex through :rawPredict / :streamRawPredict): answers,
// streams, tool round trips, system prompts, images, JSON answers, scripted errors and faults;
// plus the emulator's wire shapes as a plain HTTP client sees them.
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"

#include <boost/json.hpp>

#include <string>
#include <vector>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace json = boost::json;
namespace http = boost::beast::http;
using llmux::test::emulator_fixture;

namespace {

constexpr char const* model = "anthropic/claude-sonnet-4.6";

chat_request ask(std::string m, std::string prompt = "Introduce Python in one sentence") {
    return {.model = std::move(m), .messages = {user(std::move(prompt))}};
}

bool is(failure const& f, error e) {
    return f.code == make_error_code(e);
}

json::object weather_params() {
    return {{"type", "object"},
            {"properties", {{"city", {{"type", "string"}}}, {"days", {{"type", "integer"}}}}},
            {"required", json::array{"city"}}};
}

/// One event of an SSE body: its `event:` name and its `data:` JSON.
struct sse_event_view {
    std::string name;
    json::value data;
};

std::vector<sse_event_view> parse_events(std::string_view body) {
    std::vector<sse_event_view> out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto end = body.find("\n\n", pos);
        if (end == std::string_view::npos) end = body.size();
        auto ev = body.substr(pos, end - pos);
        pos = end + 2;
        sse_event_view v;
        while (!ev.empty()) {
            auto const nl = ev.find('\n');
            auto const line = ev.substr(0, nl);
            if (line.starts_with("event: ")) v.name = std::string(line.substr(7));
            if (line.starts_with("data: ")) {
                boost::system::error_code ec;
                v.data = json::parse(line.substr(6), ec);
                BOOST_TEST(!ec, "event data is not JSON: " << line);
            }
            if (nl == std::string_view::npos) break;
            ev.remove_prefix(nl + 1);
        }
        if (!v.name.empty()) out.push_back(std::move(v));
    }
    return out;
}

/// A raw request to the fixture's plain-HTTP emulator.
llmux::test::http_reply raw(emulator_fixture& fx, std::string target, json::object body,
                            header_list headers) {
    std::string const text = json::serialize(body);
    return llmux::test::run_coro(fx.io, [&]() -> asio::awaitable<llmux::test::http_reply> {
        llmux::test::http_test_client c(fx.io.get_executor());
        auto ec = co_await c.connect(fx.emu->url());
        BOOST_TEST_REQUIRE(!ec, "connect: " << ec.message());
        co_return co_await c.request(http::verb::post, target, text, headers, false);
    });
}

json::object messages_body(std::string m, bool stream = false) {
    json::object o{
        {"model", std::move(m)},
        {"max_tokens", 64},
        {"messages", json::array{json::object{{"role", "user"}, {"content", "Hello there"}}}}};
    if (stream) o["stream"] = true;
    return o;
}

header_list anthropic_headers() {
    return {{"x-api-key", "sk-ant-test"}, {"anthropic-version", "2023-06-01"}};
}

/// The error object of an Anthropic error body, after checking its envelope.
json::object anthropic_error(llmux::test::http_reply const& r, unsigned status) {
    BOOST_TEST(r.status == status);
    auto const v = r.json_body();
    BOOST_TEST(v.at("type") == "error");
    return v.at("error").as_object();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(anthropic_client)

BOOST_AUTO_TEST_CASE(chat) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = fx.chat(c, ask(model));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->text() ==
               "Emulated answer from claude-sonnet-4.6 to: Introduce Python in one sentence");
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST(r->native_finish_reason == "end_turn");
    BOOST_TEST(r->model == "claude-sonnet-4.6");
    BOOST_TEST(r->id.starts_with("msg_emu_"));
    BOOST_TEST(r->request_id.starts_with("req_emu_"));
    BOOST_TEST(r->provider == "anthropic");
    BOOST_TEST(r->usage.known());
    BOOST_TEST(*r->usage.output_tokens == 10u);
    BOOST_TEST(*r->usage.total_tokens == *r->usage.input_tokens + *r->usage.output_tokens);
    BOOST_TEST(*r->usage.cached_input_tokens == 0u);
    BOOST_TEST(*r->usage.cache_write_tokens == 0u);
}

BOOST_AUTO_TEST_CASE(stream) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto s = fx.stream(c, ask(model));
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.chunks > 3u);
    BOOST_TEST(s.text == s.response->content);
    BOOST_TEST(s.text ==
               "Emulated answer from claude-sonnet-4.6 to: Introduce Python in one sentence");
    BOOST_TEST((s.response->finish_reason == finish_reason::stop));
    BOOST_TEST(s.response->native_finish_reason == "end_turn");
    BOOST_TEST(s.response->id.starts_with("msg_emu_"));
    BOOST_TEST(s.response->request_id.starts_with("req_emu_"));
    BOOST_TEST(s.response->usage.known());  // input from message_start, output from message_delta
    BOOST_TEST(*s.response->usage.output_tokens == 10u);
    BOOST_TEST(*s.response->usage.total_tokens ==
               *s.response->usage.input_tokens + *s.response->usage.output_tokens);
    // The same call whole reports the same usage.
    auto r = fx.chat(c, ask(model));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(*r->usage.input_tokens == *s.response->usage.input_tokens);
}

BOOST_AUTO_TEST_CASE(max_tokens_cuts_the_answer) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask(std::string(model) + "~tokens=30");
    req.max_tokens = 4;
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->text() == "Lorem ipsum dolor sit");
    BOOST_TEST((r->finish_reason == finish_reason::length));
    BOOST_TEST(r->native_finish_reason == "max_tokens");
    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.text == "Lorem ipsum dolor sit");
    BOOST_TEST((s.response->finish_reason == finish_reason::length));
}

BOOST_AUTO_TEST_CASE(tool_call_round_trip) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask(model, "Weather in Oslo?");
    req.tools = {tool{"get_weather", "Current weather", weather_params()}};

    // Streamed: the call is assembled from input_json_delta pieces.
    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST((s.response->finish_reason == finish_reason::tool_calls));
    BOOST_TEST(s.response->native_finish_reason == "tool_use");
    BOOST_TEST_REQUIRE(s.response->tool_calls.size() == 1u);
    auto const& tc = s.response->tool_calls[0];
    BOOST_TEST(tc.name == "get_weather");
    BOOST_TEST(tc.id.starts_with("toolu_emu_"));
    boost::system::error_code ec;
    auto args = json::parse(tc.arguments, ec);
    BOOST_TEST_REQUIRE(!ec, tc.arguments);
    BOOST_TEST(args == json::parse(R"({"city":"example"})"));
    BOOST_TEST(s.response->usage.known());

    // Whole: the same call.
    auto whole = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!whole, whole.error());
    BOOST_TEST_REQUIRE(whole->tool_calls.size() == 1u);
    BOOST_TEST(json::parse(whole->tool_calls[0].arguments) == args);

    // Send the result back (a tool_result in a user turn); the model answers with text.
    req.messages.push_back(assistant("", s.response->tool_calls));
    req.messages.push_back(tool_answer(tc.id, "{\"temp_c\":4}", "get_weather"));
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST(r->tool_calls.empty());
    BOOST_TEST(r->content.find("{\"temp_c\":4}") != std::string::npos, r->content);
}

BOOST_AUTO_TEST_CASE(named_tool_choice_and_tool_choice_none) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask(model, "Weather?");
    req.tools = {tool{"get_time", "", {}}, tool{"get_weather", "", weather_params()}};
    req.tool_choice = tool_choice::named("get_weather");
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST_REQUIRE(r->tool_calls.size() == 1u);
    BOOST_TEST(r->tool_calls[0].name == "get_weather");
    req.tool_choice = tool_choice::none();
    auto n = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!n, n.error());
    BOOST_TEST(n->tool_calls.empty());
    BOOST_TEST((n->finish_reason == finish_reason::stop));
}

BOOST_AUTO_TEST_CASE(system_prompt) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto plain = fx.chat(c, ask(model));
    BOOST_TEST_REQUIRE(!!plain, plain.error());
    // The emulator rejects a "system" role in messages (as Anthropic does): this only passes if
    // both prompts went to the top-level system field. They count as input.
    chat_request req = ask(model);
    req.system = std::string(400, 's');
    req.messages.insert(req.messages.begin(), llmux::system(std::string(400, 't')));
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(*r->usage.input_tokens >= *plain->usage.input_tokens + 200u);
    BOOST_TEST(r->text() == plain->text());
}

BOOST_AUTO_TEST_CASE(images) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req{.model = model,
                     .messages = {user({text_part{"What is this?"},
                                        image_base64("image/png", "iVBORw0KGgoAAAANSUhEUg=="),
                                        image_part{"https://example.com/cat.jpg", ""}})}};
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->text().find("What is this?") != std::string::npos);
    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());

    // A plain http URL cannot be expressed: it fails before anything is sent.
    auto const sent = fx.emu->stats().requests;
    chat_request http_img{.model = model,
                          .messages = {user({image_part{"http://example.com/cat.jpg", ""}})}};
    auto bad = fx.chat(c, http_img);
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(is(bad.error(), error::unsupported), bad.error());
    BOOST_TEST(fx.emu->stats().requests == sent);
}

BOOST_AUTO_TEST_CASE(json_answers) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask(model);
    req.response_format = response_format::json_schema(
        "person", json::parse(R"({"type":"object","properties":{"name":{"type":"string"},
            "age":{"type":"integer"},"langs":{"type":"array","items":{"type":"string"}}},
            "required":["name","age","langs"]})")
                      .as_object());
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(json::parse(r->content) == json::parse(R"({"name":"example","age":1,"langs":[]})"));
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST(r->tool_calls.empty());
    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.text == s.response->content);
    BOOST_TEST(json::parse(s.text) == json::parse(r->content));
    BOOST_TEST((s.response->finish_reason == finish_reason::stop));
    BOOST_TEST(s.response->tool_calls.empty());

    req.response_format = response_format::json();
    auto o = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!o, o.error());
    BOOST_TEST(json::parse(o->content).is_object());
}

BOOST_AUTO_TEST_CASE(scripted_errors_map_to_codes) {
    emulator_fixture fx;
    auto c = fx.make_client();
    struct expect {
        char const* directives;
        error code;
        unsigned status;
        char const* type;
    };
    for (auto const& e :
         {expect{"error=529,retry_after=2s", error::overloaded, 529, "overloaded_error"},
          expect{"error=429,retry_after=2s", error::rate_limited, 429, "rate_limit_error"},
          expect{"error=500", error::server_error, 500, "api_error"},
          expect{"error=504", error::timeout, 504, "timeout_error"},
          expect{"error=401", error::auth_failed, 401, "authentication_error"},
          expect{"error=402", error::payment_required, 402, "billing_error"},
          expect{"error=403", error::permission_denied, 403, "permission_error"},
          expect{"error=404", error::not_found, 404, "not_found_error"},
          expect{"error=413", error::bad_request, 413, "request_too_large"},
          expect{"error=400", error::bad_request, 400, "invalid_request_error"}}) {
        BOOST_TEST_CONTEXT(e.directives) {
            auto r = fx.chat(c, ask(std::string(model) + "~" + e.directives));
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(is(r.error(), e.code), r.error());
            BOOST_TEST(r.error().diag.http_status == e.status);
            BOOST_TEST(r.error().diag.error_type == e.type);
            BOOST_TEST(!r.error().diag.message.empty());
            BOOST_TEST(r.error().diag.request_id.starts_with("req_emu_"));
            BOOST_TEST(r.error().diag.provider == "anthropic");
            auto s = fx.stream(c, ask(std::string(model) + "~" + e.directives));
            BOOST_TEST_REQUIRE(!s.response);
            BOOST_TEST(is(s.response.error(), e.code));
            BOOST_TEST(s.response.error().diag.error_type == e.type);
            BOOST_TEST(s.chunks == 0u);
        }
    }
    auto r = fx.chat(c, ask(std::string(model) + "~error=529,retry_after=2s"));
    BOOST_TEST_REQUIRE(r.error().diag.retry_after.has_value());
    BOOST_TEST(r.error().diag.retry_after->count() == 2000);
    BOOST_TEST(r.error().diag.message == "Overloaded");
    // Errors with a body keep the connection.
    BOOST_TEST(fx.emu->stats().connections_accepted == 1u);
}

BOOST_AUTO_TEST_CASE(scripted_faults_give_documented_errors) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto st = [&](char const* d) { return fx.stream(c, ask(std::string(model) + "~" + d)); };
    auto ch = [&](char const* d) { return fx.chat(c, ask(std::string(model) + "~" + d)); };

    auto trunc = st("fault=truncate,after=3");
    BOOST_TEST_REQUIRE(!trunc.response);
    BOOST_TEST(is(trunc.response.error(), error::truncated), trunc.response.error());
    BOOST_TEST(trunc.text == "Emulated answer from");  // what came is delivered, then the failure
    BOOST_TEST(trunc.response.error().diag.message.find("message_stop") != std::string::npos);

    auto reset_mid = st("fault=reset_mid,after=3");
    BOOST_TEST_REQUIRE(!reset_mid.response);
    BOOST_TEST(is(reset_mid.response.error(), error::truncated), reset_mid.response.error());
    BOOST_TEST(reset_mid.chunks >= 1u);

    auto mid = st("fault=error_mid,after=2");
    BOOST_TEST_REQUIRE(!mid.response);
    BOOST_TEST(is(mid.response.error(), error::overloaded), mid.response.error());
    BOOST_TEST(mid.response.error().diag.error_type == "overloaded_error");
    BOOST_TEST(mid.text == "Emulated answer");

    auto bad_stream = st("fault=malformed,after=2");
    BOOST_TEST_REQUIRE(!bad_stream.response);
    BOOST_TEST(is(bad_stream.response.error(), error::protocol_error), bad_stream.response.error());

    auto bad = ch("fault=malformed");
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(is(bad.error(), error::protocol_error), bad.error());

    auto trunc_body = ch("fault=truncate");
    BOOST_TEST_REQUIRE(!trunc_body);
    BOOST_TEST(is(trunc_body.error(), error::protocol_error), trunc_body.error());

    auto mid_whole = ch("fault=error_mid");
    BOOST_TEST_REQUIRE(!mid_whole);
    BOOST_TEST(is(mid_whole.error(), error::server_error), mid_whole.error());

    auto again = ch("");
    BOOST_TEST(!!again);
}

BOOST_AUTO_TEST_CASE(vertex) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("vertex/claude-sonnet-4.6"));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->text() ==
               "Emulated answer from claude-sonnet-4.6 to: Introduce Python in one sentence");
    BOOST_TEST(r->provider == "vertex");
    BOOST_TEST(r->id.starts_with("msg_emu_"));  // served by the Anthropic protocol
    BOOST_TEST(r->native_finish_reason == "end_turn");
    BOOST_TEST(r->usage.known());

    chat_request req = ask("vertex/claude-sonnet-4.6", "Weather in Oslo?");
    req.tools = {tool{"get_weather", "Current weather", weather_params()}};
    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST_REQUIRE(s.response->tool_calls.size() == 1u);
    BOOST_TEST(json::parse(s.response->tool_calls[0].arguments) ==
               json::parse(R"({"city":"example"})"));
    BOOST_TEST(s.response->usage.known());

    // Directives travel percent-encoded in the path.
    auto e = fx.chat(c, ask("vertex/claude-sonnet-4.6~error=529,retry_after=1s"));
    BOOST_TEST_REQUIRE(!e);
    BOOST_TEST(is(e.error(), error::overloaded), e.error());
    BOOST_TEST_REQUIRE(e.error().diag.retry_after.has_value());
    BOOST_TEST(e.error().diag.retry_after->count() == 1000);

    // A token the emulator does not know: Google's 401.
    fx.cfg.find("vertex")->credentials.access_token = "ya29.not-a-token";
    auto c2 = fx.make_client();
    auto denied = fx.chat(c2, ask("vertex/claude-sonnet-4.6"));
    BOOST_TEST_REQUIRE(!denied);
    BOOST_TEST(is(denied.error(), error::auth_failed), denied.error());
    BOOST_TEST(denied.error().diag.error_type == "UNAUTHENTICATED");
    BOOST_TEST(denied.error().to_string().find("ya29.not-a-token") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(requests_the_format_cannot_express) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request seeded = ask(model);
    seeded.seed = 7;
    auto r = fx.chat(c, seeded);
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::unsupported), r.error());
    BOOST_TEST(r.error().diag.message.find("seed") != std::string::npos);
    BOOST_TEST(r.error().diag.provider == "anthropic");
    auto s = fx.stream(c, seeded);
    BOOST_TEST_REQUIRE(!s.response);
    BOOST_TEST(is(s.response.error(), error::unsupported));

    chat_request array_json = ask(model);
    array_json.response_format = response_format::json_schema(
        "list", json::parse(R"({"type":"array","items":{"type":"string"}})").as_object());
    auto a = fx.chat(c, array_json);
    BOOST_TEST_REQUIRE(!a);
    BOOST_TEST(is(a.error(), error::unsupported), a.error());
    BOOST_TEST(fx.emu->stats().requests == 0u);  // nothing was sent
}

BOOST_AUTO_TEST_CASE(keys_never_reach_errors) {
    emulator_fixture fx;
    std::string const secret = "sk-ant-api03-very-secret-key-0123456789";
    fx.cfg.find("anthropic")->credentials.api_key = secret;
    auto c = fx.make_client();
    for (auto d : {"error=401", "error=529", "fault=malformed", "fault=reset"}) {
        auto r = fx.chat(c, ask(std::string(model) + "~" + d));
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(r.error().to_string().find(secret) == std::string::npos);
    }
}

// --- The emulator's protocol as a plain HTTP client sees it -----------------------------------

BOOST_AUTO_TEST_CASE(wire_message_shape) {
    emulator_fixture fx({}, false);
    auto const r = raw(fx, "/v1/messages", messages_body("claude-x"), anthropic_headers());
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(r.header("request-id").starts_with("req_emu_"));
    auto const v = r.json_body();
    auto const& o = v.as_object();
    BOOST_TEST(o.at("type") == "message");
    BOOST_TEST(o.at("role") == "assistant");
    BOOST_TEST(o.at("model") == "claude-x");
    BOOST_TEST(
        o.at("content") ==
        json::parse(R"([{"type":"text","text":"Emulated answer from claude-x to: Hello there"}])"));
    BOOST_TEST(o.at("stop_reason") == "end_turn");
    BOOST_TEST(o.at("stop_sequence").is_null());
    auto const& u = o.at("usage").as_object();
    for (auto k : {"input_tokens", "output_tokens", "cache_creation_input_tokens",
                   "cache_read_input_tokens"})
        BOOST_TEST(u.contains(k), k);
}

BOOST_AUTO_TEST_CASE(wire_stream_events) {
    emulator_fixture fx({}, false);
    auto const r = raw(fx, "/v1/messages", messages_body("claude-x", true), anthropic_headers());
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(r.header("Content-Type").starts_with("text/event-stream"));
    auto const events = parse_events(r.body);
    std::vector<std::string> names;
    std::string text;
    for (auto const& e : events) {
        BOOST_TEST(e.data.at("type").as_string() ==
                   e.name);  // the data's type repeats the event name
        if (names.empty() || names.back() != e.name) names.push_back(e.name);
        if (e.name == "content_block_delta") text += e.data.at("delta").at("text").as_string();
    }
    std::vector<std::string> const expected = {
        "message_start",      "content_block_start", "ping",        "content_block_delta",
        "content_block_stop", "message_delta",       "message_stop"};
    BOOST_TEST(names == expected, boost::test_tools::per_element());
    BOOST_TEST(text == "Emulated answer from claude-x to: Hello there");
    auto const& delta = events[events.size() - 2].data;
    BOOST_TEST(delta.at("delta").at("stop_reason") == "end_turn");
    BOOST_TEST(delta.at("usage").at("output_tokens") == 7);
    BOOST_TEST(r.body.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));

    // The truncation fault: the stream ends before message_stop.
    auto const t = raw(fx, "/v1/messages", messages_body("claude-x~fault=truncate,after=2", true),
                       anthropic_headers());
    BOOST_TEST(t.status == 200u);
    BOOST_TEST(t.body.find("message_stop") == std::string::npos);
    BOOST_TEST(t.body.find("message_start") != std::string::npos);
    // The error fault: an error event, then the end.
    auto const e = raw(fx, "/v1/messages", messages_body("claude-x~fault=error_mid,after=2", true),
                       anthropic_headers());
    auto const ev = parse_events(e.body);
    BOOST_TEST_REQUIRE(!ev.empty());
    BOOST_TEST(ev.back().name == "error");
    BOOST_TEST(ev.back().data.at("error").at("type") == "overloaded_error");
}

BOOST_AUTO_TEST_CASE(wire_auth_and_validation) {
    emulator_fixture fx({}, false);
    auto const no_key =
        raw(fx, "/v1/messages", messages_body("claude-x"), {{"anthropic-version", "2023-06-01"}});
    BOOST_TEST(anthropic_error(no_key, 401).at("type") == "authentication_error");
    auto const no_version =
        raw(fx, "/v1/messages", messages_body("claude-x"), {{"x-api-key", "sk-ant-test"}});
    auto const nv = anthropic_error(no_version, 400);
    BOOST_TEST(nv.at("type") == "invalid_request_error");
    BOOST_TEST(nv.at("message") == "anthropic-version: header is required");
    // A Bearer token works too (OAuth-style clients).
    auto const bearer = raw(fx, "/v1/messages", messages_body("claude-x"),
                            {{"Authorization", "Bearer tok"}, {"anthropic-version", "2023-06-01"}});
    BOOST_TEST(bearer.status == 200u);

    json::object no_max = messages_body("claude-x");
    no_max.erase("max_tokens");
    auto const nm = raw(fx, "/v1/messages", no_max, anthropic_headers());
    BOOST_TEST(anthropic_error(nm, 400).at("message") == "max_tokens: Field required");
    json::object sys = messages_body("claude-x");
    sys["messages"].as_array().insert(sys["messages"].as_array().begin(),
                                      json::object{{"role", "system"}, {"content", "x"}});
    auto const sr = raw(fx, "/v1/messages", sys, anthropic_headers());
    BOOST_TEST(anthropic_error(sr, 400).at("type") == "invalid_request_error");

    auto const scripted =
        raw(fx, "/v1/messages", messages_body("claude-x~error=529,retry_after=3s"),
            anthropic_headers());
    BOOST_TEST(anthropic_error(scripted, 529).at("type") == "overloaded_error");
    BOOST_TEST(scripted.header("retry-after") == "3");
}

BOOST_AUTO_TEST_CASE(wire_vertex) {
    emulator_fixture fx({}, false);
    std::string const base = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/";
    json::object body = messages_body("ignored", false);
    body.erase("model");
    body["anthropic_version"] = "vertex-2023-10-16";
    header_list const token = {{"Authorization", "Bearer llmux-emulator"}};

    auto const ok = raw(fx, base + "claude-x%40123:rawPredict", body, token);
    BOOST_TEST_REQUIRE(ok.status == 200u, ok.body);
    BOOST_TEST(ok.json_body().at("model") == "claude-x@123");

    auto const st = raw(fx, base + "claude-x:streamRawPredict", body, token);
    BOOST_TEST_REQUIRE(st.status == 200u, st.body);
    auto const events = parse_events(st.body);
    BOOST_TEST_REQUIRE(!events.empty());
    BOOST_TEST(events.front().name == "message_start");
    BOOST_TEST(events.back().name == "message_stop");

    json::object no_version = body;
    no_version.erase("anthropic_version");
    auto const nv = raw(fx, base + "claude-x:rawPredict", no_version, token);
    BOOST_TEST(anthropic_error(nv, 400).at("message") == "anthropic_version: Field required");

    auto const anon = raw(fx, base + "claude-x:rawPredict", body, {});
    BOOST_TEST(anon.status == 401u);
    BOOST_TEST(anon.json_body().at("error").at("status") == "UNAUTHENTICATED");
    auto const wrong =
        raw(fx, base + "claude-x:rawPredict", body, {{"Authorization", "Bearer nope"}});
    BOOST_TEST(wrong.status == 401u);
    BOOST_TEST(wrong.json_body().at("error").at("code") == 401);
}

BOOST_AUTO_TEST_SUITE_END()
