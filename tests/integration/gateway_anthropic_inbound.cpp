// SPDX-License-Identifier: BSL-1.0
// Anthropic Messages inbound: the gateway in process, in front of the in-process emulator,
// driven over loopback with Anthropic requests (as the Anthropic SDK and Claude Code send them)
// to OpenAI and Anthropic upstreams: whole answers, streams, a tool round trip, count_tokens,
// upstream errors in Anthropic's error shape, gateway keys, and the fields only an Anthropic
// upstream can take.
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"

#include <llmux/gateway.hpp>

#include "util/crypto.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using llmux::test::emulator_fixture;
using llmux::test::http_reply;
using llmux::test::http_test_client;
using llmux::test::run_coro;
using llmux::test::run_until;

namespace {

using headers_t = std::vector<std::pair<std::string, std::string>>;

constexpr char const* the_key = "sk-gw-anthropic-inbound";

/// An emulator and a gateway with one key in front of it, on one io_context.
struct inbound_fixture {
    emulator_fixture emu{{}, false};
    std::unique_ptr<llmux::gateway> gw;

    inbound_fixture() {
        gateway_config g;
        auto r = g.load_json(R"({"models":{
            "claude-gw": "openai/gpt-4o-mini",
            "claude-real": "anthropic/claude-sonnet-4.6",
            "limited": "openai/gpt-4o-mini~error=429,retry_after=3s",
            "busy": "anthropic/claude-sonnet-4.6~error=529",
            "down": "openai/gpt-4o-mini~error=503"}})",
                             "test");
        BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().to_string()));
        gateway_key k;
        k.name = "inbound";
        k.sha256 = detail::sha256_hex(the_key);
        g.keys.push_back(k);
        g.client.providers = emu.cfg.providers;
        g.client.tls = emu.cfg.tls;
        g.log_sink = [](std::string_view) {};
        gw = std::make_unique<llmux::gateway>(emu.io.get_executor(), g);
        auto s = gw->start();
        BOOST_TEST_REQUIRE(!!s, "gateway failed to start: " << (s ? "" : s.error().to_string()));
    }
    ~inbound_fixture() {
        gw->stop();
        run_until(emu.io, [&] { return gw->stats().connections_open == 0; }, 2s);
    }

    /// A POST as the Anthropic SDK sends it: x-api-key and anthropic-version.
    http_reply post(std::string target, std::string body, headers_t headers = {
                                                              {"x-api-key", the_key},
                                                              {"anthropic-version", "2023-06-01"}}) {
        return run_coro(emu.io, [&]() -> asio::awaitable<http_reply> {
            http_test_client c(emu.io.get_executor());
            if (auto ec = co_await c.connect(gw->url())) {
                http_reply r;
                r.ec = ec;
                co_return r;
            }
            co_return co_await c.request(http::verb::post, target, body, headers, false);
        });
    }
};

json::value parse_json(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

std::string messages_body(std::string const& model, std::string const& extra = {},
                          std::string const& messages =
                              R"([{"role":"user","content":"Say something"}])") {
    return R"({"model":")" + model + R"(","max_tokens":64,"messages":)" + messages + extra + "}";
}

/// Anthropic's error shape; returns the error object.
json::object anthropic_error(http_reply const& r, unsigned status) {
    BOOST_TEST(r.status == status, r.body);
    BOOST_TEST(r.header("Content-Type") == "application/json");
    auto const v = parse_json(r.body);
    BOOST_TEST(v.at("type").as_string() == "error");
    auto const& e = v.at("error").as_object();
    BOOST_TEST(!e.at("message").as_string().empty());
    return e;
}

/// (event, data) of an Anthropic SSE body; each data's type repeats its event name.
std::vector<std::pair<std::string, json::value>> events(std::string_view body) {
    std::vector<std::pair<std::string, json::value>> out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto end = body.find("\n\n", pos);
        BOOST_TEST_REQUIRE(end != std::string_view::npos, "unterminated event: " << body);
        auto ev = body.substr(pos, end - pos);
        pos = end + 2;
        BOOST_TEST_REQUIRE(ev.starts_with("event: "));
        auto const nl = ev.find('\n');
        auto const data = ev.substr(nl + 1);
        BOOST_TEST_REQUIRE(data.starts_with("data: "));
        auto v = parse_json(data.substr(6));
        std::string name(ev.substr(7, nl - 7));
        BOOST_TEST(v.at("type").as_string() == name);
        out.emplace_back(std::move(name), std::move(v));
    }
    return out;
}

char const* const upstream_models[] = {"claude-gw", "claude-real"};

std::string const weather_tool =
    R"(,"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object",)"
    R"("properties":{"city":{"type":"string"}},"required":["city"]}}],"tool_choice":{"type":"any"})";

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_anthropic_inbound)

BOOST_AUTO_TEST_CASE(whole_answers_and_streams_from_openai_and_anthropic_upstreams) {
    inbound_fixture fx;
    for (auto const* model : upstream_models) {
        BOOST_TEST_CONTEXT(model) {
            auto const r = fx.post("/v1/messages", messages_body(model));
            BOOST_TEST_REQUIRE(r.status == 200u, r.body);
            BOOST_TEST(r.header("Content-Type") == "application/json");
            BOOST_TEST(r.header("request-id").starts_with("req_"));
            auto const v = parse_json(r.body);
            BOOST_TEST(v.at("type").as_string() == "message");
            BOOST_TEST(v.at("role").as_string() == "assistant");
            BOOST_TEST(v.at("model").as_string() == model);
            BOOST_TEST(v.at("id").as_string().starts_with("msg_"));
            BOOST_TEST(v.at("stop_reason").as_string() == "end_turn");
            auto const text = std::string(v.at("content").as_array().at(0).at("text").as_string());
            BOOST_TEST(text.find("Emulated answer") == 0u, text);
            BOOST_TEST(v.at("usage").at("input_tokens").to_number<int>() > 0);
            BOOST_TEST(v.at("usage").at("output_tokens").to_number<int>() > 0);

            auto const s = fx.post("/v1/messages", messages_body(model, R"(,"stream":true)"));
            BOOST_TEST_REQUIRE(s.status == 200u, s.body);
            BOOST_TEST(s.header("Content-Type").starts_with("text/event-stream"));
            auto const ev = events(s.body);
            BOOST_TEST_REQUIRE(ev.size() >= 6u, s.body);
            BOOST_TEST(ev[0].first == "message_start");
            BOOST_TEST(ev[0].second.at("message").at("model").as_string() == model);
            BOOST_TEST(ev[1].first == "content_block_start");
            BOOST_TEST(ev[2].first == "ping");
            BOOST_TEST(ev[ev.size() - 3].first == "content_block_stop");
            BOOST_TEST(ev[ev.size() - 2].first == "message_delta");
            BOOST_TEST(ev.back().first == "message_stop");
            std::string streamed;
            for (auto const& [name, data] : ev)
                if (name == "content_block_delta") streamed += data.at("delta").at("text").as_string();
            BOOST_TEST(streamed == text);
            auto const& delta = ev[ev.size() - 2].second;
            BOOST_TEST(delta.at("delta").at("stop_reason").as_string() == "end_turn");
            BOOST_TEST(delta.at("usage").at("output_tokens").to_number<int>() ==
                       v.at("usage").at("output_tokens").to_number<int>());
        }
    }
}

BOOST_AUTO_TEST_CASE(tool_use_round_trip) {
    inbound_fixture fx;
    for (auto const* model : upstream_models) {
        BOOST_TEST_CONTEXT(model) {
            std::string const ask = R"([{"role":"user","content":"Weather in Oslo?"}])";
            auto const first = fx.post("/v1/messages", messages_body(model, weather_tool, ask));
            BOOST_TEST_REQUIRE(first.status == 200u, first.body);
            auto const v = parse_json(first.body);
            BOOST_TEST(v.at("stop_reason").as_string() == "tool_use");
            json::object call;
            for (auto const& b : v.at("content").as_array())
                if (b.at("type") == "tool_use") call = b.as_object();
            BOOST_TEST_REQUIRE(!call.empty(), first.body);
            BOOST_TEST(call.at("name").as_string() == "get_weather");
            BOOST_TEST(call.at("input").at("city").is_string());

            // The same, streamed: a tool_use block whose input arrives as input_json_delta.
            auto const s = fx.post("/v1/messages",
                                   messages_body(model, weather_tool + R"(,"stream":true)", ask));
            BOOST_TEST_REQUIRE(s.status == 200u, s.body);
            std::string input_json, stop;
            bool block = false;
            for (auto const& [name, data] : events(s.body)) {
                if (name == "content_block_start" &&
                    data.at("content_block").at("type") == "tool_use")
                    block = data.at("content_block").at("name") == "get_weather";
                if (name == "content_block_delta" &&
                    data.at("delta").at("type") == "input_json_delta")
                    input_json += data.at("delta").at("partial_json").as_string();
                if (name == "message_delta") stop = data.at("delta").at("stop_reason").as_string();
            }
            BOOST_TEST(block);
            BOOST_TEST(stop == "tool_use");
            BOOST_TEST(parse_json(input_json) == call.at("input"));

            // The tool's result goes back; the answer quotes it.
            std::string const loop =
                R"([{"role":"user","content":"Weather in Oslo?"},{"role":"assistant","content":[)" +
                json::serialize(call) +
                R"(]},{"role":"user","content":[{"type":"tool_result","tool_use_id":")" +
                std::string(call.at("id").as_string()) + R"(","content":"4 degrees"}]}])";
            auto const second = fx.post("/v1/messages", messages_body(model, weather_tool, loop));
            BOOST_TEST_REQUIRE(second.status == 200u, second.body);
            auto const w = parse_json(second.body);
            BOOST_TEST(w.at("stop_reason").as_string() == "end_turn");
            BOOST_TEST(std::string(w.at("content").as_array().at(0).at("text").as_string())
                               .find("4 degrees") != std::string::npos,
                       second.body);
        }
    }
}

BOOST_AUTO_TEST_CASE(count_tokens_is_the_gateways_estimate) {
    inbound_fixture fx;
    auto const small = fx.post("/v1/messages/count_tokens",
                               R"({"model":"claude-gw","messages":[{"role":"user","content":"hi"}]})");
    BOOST_TEST_REQUIRE(small.status == 200u, small.body);
    BOOST_TEST(small.header("request-id").starts_with("req_"));
    auto const n = parse_json(small.body).at("input_tokens").to_number<int>();
    BOOST_TEST(n > 0);
    std::string const long_text(4000, 'x');
    auto const big = fx.post("/v1/messages/count_tokens",
                             R"({"model":"claude-real","system":"be brief","messages":[{"role":"user","content":")" +
                                 long_text + R"("}]})");
    BOOST_TEST_REQUIRE(big.status == 200u, big.body);
    BOOST_TEST(parse_json(big.body).at("input_tokens").to_number<int>() > n + 100);
    // An unknown model is Anthropic's 404.
    auto const unknown = fx.post("/v1/messages/count_tokens",
                                 R"({"model":"nope","messages":[{"role":"user","content":"hi"}]})");
    BOOST_TEST(anthropic_error(unknown, 404).at("type").as_string() == "not_found_error");
}

BOOST_AUTO_TEST_CASE(upstream_errors_in_anthropics_shape) {
    inbound_fixture fx;
    // An upstream's 429, with its retry-after.
    auto const limited = fx.post("/v1/messages", messages_body("limited"));
    BOOST_TEST(anthropic_error(limited, 429).at("type").as_string() == "rate_limit_error");
    BOOST_TEST(limited.header("retry-after") == "3");
    // An overloaded upstream (OpenAI's 503, Anthropic's 529) is Anthropic's 529.
    for (auto const* model : {"down", "busy"}) {
        BOOST_TEST_CONTEXT(model) {
            auto const r = fx.post("/v1/messages", messages_body(model));
            BOOST_TEST(anthropic_error(r, 529).at("type").as_string() == "overloaded_error");
            // Streams fail before their first byte the same way.
            auto const s = fx.post("/v1/messages", messages_body(model, R"(,"stream":true)"));
            BOOST_TEST(anthropic_error(s, 529).at("type").as_string() == "overloaded_error");
        }
    }
    // A request the gateway cannot serve: Anthropic's 400 naming the field.
    auto const bad = fx.post("/v1/messages", R"({"model":"claude-gw","messages":[{"role":"user","content":"x"}]})");
    auto const e = anthropic_error(bad, 400);
    BOOST_TEST(e.at("type").as_string() == "invalid_request_error");
    BOOST_TEST(e.at("message").as_string() == "max_tokens: Field required");
    auto const unversioned =
        fx.post("/v1/messages", messages_body("claude-gw"), {{"x-api-key", the_key}});
    BOOST_TEST(anthropic_error(unversioned, 400).at("message").as_string() ==
               "anthropic-version: header is required");
}

BOOST_AUTO_TEST_CASE(gateway_keys_where_anthropic_clients_send_them) {
    inbound_fixture fx;
    auto const missing = fx.post("/v1/messages", messages_body("claude-gw"),
                                 {{"anthropic-version", "2023-06-01"}});
    auto const m = anthropic_error(missing, 401);
    BOOST_TEST(m.at("type").as_string() == "authentication_error");
    BOOST_TEST(std::string(m.at("message").as_string()).find("x-api-key") != std::string::npos);
    BOOST_TEST(missing.header("x-should-retry") == "false");
    auto const wrong = fx.post("/v1/messages", messages_body("claude-gw"),
                               {{"x-api-key", "sk-wrong-key"}, {"anthropic-version", "2023-06-01"}});
    BOOST_TEST(anthropic_error(wrong, 401).at("type").as_string() == "authentication_error");
    BOOST_TEST(wrong.body.find("sk-wrong-key") == std::string::npos);
    // Claude Code's ANTHROPIC_AUTH_TOKEN: a bearer token.
    auto const bearer = fx.post("/v1/messages", messages_body("claude-gw"),
                                {{"Authorization", std::string("Bearer ") + the_key},
                                 {"anthropic-version", "2023-06-01"}});
    BOOST_TEST(bearer.status == 200u, bearer.body);
}

BOOST_AUTO_TEST_CASE(fields_only_an_anthropic_upstream_takes) {
    inbound_fixture fx;
    // Top-level fields: passed to the Anthropic upstream, refused for the OpenAI one.
    std::string const top_k = R"(,"top_k":5)";
    BOOST_TEST(fx.post("/v1/messages", messages_body("claude-real", top_k)).status == 200u);
    auto const to_openai = fx.post("/v1/messages", messages_body("claude-gw", top_k));
    auto const e = anthropic_error(to_openai, 400);
    BOOST_TEST(e.at("type").as_string() == "invalid_request_error");
    BOOST_TEST(std::string(e.at("message").as_string()).find("'top_k'") != std::string::npos,
               to_openai.body);
    BOOST_TEST(to_openai.header("x-should-retry") == "false");

    // Thinking is a unified reasoning control: Claude gets it (with a max_tokens above its
    // budget, as Anthropic requires); a model that does not reason refuses it by name.
    std::string const thinking = R"({"model":"claude-real","max_tokens":4096,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"Say something"}]})";
    auto const to_claude = fx.post("/v1/messages", thinking);
    BOOST_TEST(to_claude.status == 200u, to_claude.body);
    BOOST_TEST(to_claude.body.find("\"type\":\"thinking\"") != std::string::npos, to_claude.body);
    std::string no_room = thinking;
    no_room.replace(no_room.find("4096"), 4, "64");
    BOOST_TEST(std::string(anthropic_error(fx.post("/v1/messages", no_room), 400).at("message").as_string())
                   .find("budget_tokens") != std::string::npos);
    std::string to_gpt = thinking;
    to_gpt.replace(to_gpt.find("claude-real"), 11, "claude-gw");
    BOOST_TEST(std::string(anthropic_error(fx.post("/v1/messages", to_gpt), 400).at("message").as_string())
                   .find("does not reason") != std::string::npos);

    // Blocks with cache_control (Claude Code marks its prompt so) are unified breakpoints: an
    // Anthropic upstream gets them, an OpenAI one caches by itself.
    std::string const cached =
        R"([{"role":"user","content":[{"type":"text","text":"Say something","cache_control":{"type":"ephemeral"}}]}])";
    auto const cached_claude = fx.post("/v1/messages", messages_body("claude-real", "", cached));
    BOOST_TEST(cached_claude.status == 200u, cached_claude.body);
    BOOST_TEST(parse_json(cached_claude.body).at("usage").at("cache_creation_input_tokens").to_number<int>() > 0);
    BOOST_TEST(fx.post("/v1/messages", messages_body("claude-gw", "", cached)).status == 200u);
    // Defaults change nothing and go anywhere.
    auto const defaults = fx.post(
        "/v1/messages", messages_body("claude-gw", R"(,"service_tier":"auto","thinking":{"type":"disabled"},"metadata":{"user_id":"u1"})"));
    BOOST_TEST(defaults.status == 200u, defaults.body);
}

BOOST_AUTO_TEST_SUITE_END()
