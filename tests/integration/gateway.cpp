// SPDX-License-Identifier: BSL-1.0
// The gateway in process, in front of the in-process emulator, driven over loopback by a plain
// HTTP client: endpoints, formats, groups, keys, limits, metrics, disconnects, graceful stop.
// Waits are bounded (run_coro / run_until); no test depends on wall-clock thresholds.
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"

#include <llmux/gateway.hpp>

#include "auth/crypto.hpp"

#include <boost/asio/detached.hpp>
#include <boost/json/parse.hpp>

#include <mutex>
#include <sstream>
#include <thread>

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

/// An emulator (plain HTTP) and a gateway in front of it, on one io_context.
struct gw_fixture {
    emulator_fixture emu{{}, false};
    std::unique_ptr<llmux::gateway> gw;
    std::shared_ptr<std::vector<std::string>> log = std::make_shared<std::vector<std::string>>();

    explicit gw_fixture(gateway_config g = {}) {
        g.client = emu.cfg;
        auto sink = log;
        g.log_sink = [sink](std::string_view line) { sink->emplace_back(line); };
        gw = std::make_unique<llmux::gateway>(emu.io.get_executor(), g);
        auto r = gw->start();
        BOOST_TEST_REQUIRE(!!r, "gateway failed to start: " << (r ? "" : r.error().to_string()));
    }
    ~gw_fixture() {
        gw->stop();
        run_until(emu.io, [&] { return gw->stats().connections_open == 0; }, 2s);
    }

    /// One request on a new connection.
    http_reply request(http::verb method, std::string target, std::string body = {},
                       headers_t headers = {}) {
        return run_coro(emu.io, [&]() -> asio::awaitable<http_reply> {
            http_test_client c(emu.io.get_executor());
            if (auto ec = co_await c.connect(gw->url())) {
                http_reply r;
                r.ec = ec;
                co_return r;
            }
            co_return co_await c.request(method, target, body, headers, false);
        });
    }
    http_reply post(std::string target, std::string body, headers_t headers = {}) {
        return request(http::verb::post, std::move(target), std::move(body), std::move(headers));
    }
    http_reply get(std::string target, headers_t headers = {}) {
        return request(http::verb::get, std::move(target), {}, std::move(headers));
    }
};

std::string chat_body(std::string const& model, bool stream = false, std::string extra = {}) {
    std::string b = R"({"model":")" + model +
                    R"(","messages":[{"role":"user","content":"Say something"}])";
    if (stream) b += R"(,"stream":true,"stream_options":{"include_usage":true})";
    b += extra;
    b += "}";
    return b;
}

std::string messages_body(std::string const& model, bool stream = false, std::string extra = {}) {
    std::string b = R"({"model":")" + model +
                    R"(","max_tokens":64,"messages":[{"role":"user","content":"Say something"}])";
    if (stream) b += R"(,"stream":true)";
    b += extra;
    b += "}";
    return b;
}

json::value parse_json(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

/// Checks OpenAI's error shape and returns the error object.
json::object openai_error(http_reply const& r) {
    BOOST_TEST(r.header("Content-Type") == "application/json");
    auto const v = parse_json(r.body);
    BOOST_TEST_REQUIRE(v.is_object());
    auto const* e = v.as_object().if_contains("error");
    BOOST_TEST_REQUIRE(e != nullptr, "no error object: " << r.body);
    auto const& o = e->as_object();
    BOOST_TEST(o.at("message").is_string());
    BOOST_TEST(!o.at("message").as_string().empty());
    BOOST_TEST(o.at("type").is_string());
    BOOST_TEST(o.contains("param"));
    BOOST_TEST(o.contains("code"));
    return o;
}

/// The concatenated content of an OpenAI SSE body; checks every event and the final [DONE].
struct openai_stream_summary {
    std::string text;
    std::string finish_reason;
    bool usage = false;
    std::size_t tool_call_deltas = 0;
};
openai_stream_summary read_openai_stream(http_reply const& r) {
    openai_stream_summary s;
    BOOST_TEST(r.header("Content-Type") == "text/event-stream");
    auto const data = llmux::test::sse_data(r.body);
    BOOST_TEST_REQUIRE(data.size() >= 3u, r.body);
    BOOST_TEST(data.back() == "[DONE]");
    for (std::size_t i = 0; i + 1 < data.size(); ++i) {
        auto const v = parse_json(data[i]);
        BOOST_TEST(v.at("object").as_string() == "chat.completion.chunk");
        if (auto const* u = v.as_object().if_contains("usage"); u && u->is_object()) s.usage = true;
        for (auto const& ch : v.at("choices").as_array()) {
            auto const& d = ch.at("delta").as_object();
            if (auto const* c = d.if_contains("content"); c && c->is_string())
                s.text += c->as_string();
            if (auto const* t = d.if_contains("tool_calls")) s.tool_call_deltas += t->as_array().size();
            if (auto const& f = ch.at("finish_reason"); f.is_string())
                s.finish_reason = f.as_string();
        }
    }
    return s;
}

/// (event, data) of an Anthropic SSE body.
std::vector<std::pair<std::string, json::value>> anthropic_events(std::string_view body) {
    std::vector<std::pair<std::string, json::value>> out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto end = body.find("\n\n", pos);
        if (end == std::string_view::npos) end = body.size();
        auto ev = body.substr(pos, end - pos);
        pos = end + 2;
        if (!ev.starts_with("event: ")) continue;
        auto const nl = ev.find('\n');
        auto const data = ev.substr(nl + 1);
        BOOST_TEST_REQUIRE(data.starts_with("data: "));
        out.emplace_back(std::string(ev.substr(7, nl - 7)), parse_json(data.substr(6)));
    }
    return out;
}

/// The value of a Prometheus sample, or -1 when absent.
double metric(std::string const& text, std::string const& series) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    return -1;
}

gateway_config with_models(std::string const& json_text) {
    gateway_config g;
    auto r = g.load_json(json_text, "test");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().to_string()));
    return g;
}

char const* const upstreams[] = {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.6",
                                 "google/gemini-2.0-flash",
                                 "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0"};

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway)

BOOST_AUTO_TEST_CASE(openai_endpoint_whole_answers_from_every_wire_format) {
    gw_fixture fx;
    for (auto const* model : upstreams) {
        BOOST_TEST_CONTEXT(model) {
            auto const r = fx.post("/v1/chat/completions", chat_body(model));
            BOOST_TEST_REQUIRE(r.status == 200u, r.body);
            BOOST_TEST(r.header("Content-Type") == "application/json");
            auto const v = parse_json(r.body);
            BOOST_TEST(v.at("object").as_string() == "chat.completion");
            BOOST_TEST(v.at("model").as_string() == model);
            BOOST_TEST(v.at("id").as_string().starts_with("chatcmpl-"));
            auto const& ch = v.at("choices").as_array().at(0);
            BOOST_TEST(!ch.at("message").at("content").as_string().empty());
            BOOST_TEST(ch.at("finish_reason").as_string() == "stop");
            BOOST_TEST(v.at("usage").at("total_tokens").to_number<int>() > 0);
        }
    }
    BOOST_TEST(fx.log->size() == std::size(upstreams));
}

BOOST_AUTO_TEST_CASE(openai_endpoint_streams_from_every_wire_format) {
    gw_fixture fx;
    for (auto const* model : upstreams) {
        BOOST_TEST_CONTEXT(model) {
            auto const whole = fx.post("/v1/chat/completions", chat_body(model));
            BOOST_TEST_REQUIRE(whole.status == 200u, whole.body);
            auto const r = fx.post("/v1/chat/completions", chat_body(model, true));
            BOOST_TEST_REQUIRE(r.status == 200u, r.body);
            BOOST_TEST(!r.ec);
            auto const s = read_openai_stream(r);
            BOOST_TEST(s.text == parse_json(whole.body)
                                     .at("choices")
                                     .as_array()
                                     .at(0)
                                     .at("message")
                                     .at("content")
                                     .as_string());
            BOOST_TEST(s.finish_reason == "stop");
            BOOST_TEST(s.usage);
        }
    }
}

BOOST_AUTO_TEST_CASE(anthropic_endpoint_whole_and_streamed) {
    gw_fixture fx;
    for (auto const* model : upstreams) {
        BOOST_TEST_CONTEXT(model) {
            auto const r = fx.post("/v1/messages", messages_body(model));
            BOOST_TEST_REQUIRE(r.status == 200u, r.body);
            auto const v = parse_json(r.body);
            BOOST_TEST(v.at("type").as_string() == "message");
            BOOST_TEST(v.at("id").as_string().starts_with("msg_"));
            BOOST_TEST(v.at("stop_reason").as_string() == "end_turn");
            auto const text = v.at("content").as_array().at(0).at("text").as_string();
            BOOST_TEST(!text.empty());

            auto const s = fx.post("/v1/messages", messages_body(model, true));
            BOOST_TEST_REQUIRE(s.status == 200u, s.body);
            auto const ev = anthropic_events(s.body);
            BOOST_TEST_REQUIRE(ev.size() >= 5u, s.body);
            BOOST_TEST(ev.front().first == "message_start");
            BOOST_TEST(ev[1].first == "content_block_start");
            BOOST_TEST(ev[ev.size() - 2].first == "message_delta");
            BOOST_TEST(ev.back().first == "message_stop");
            std::string streamed;
            for (auto const& [name, data] : ev)
                if (name == "content_block_delta")
                    streamed += data.at("delta").at("text").as_string();
            BOOST_TEST(streamed == text);
        }
    }
}

BOOST_AUTO_TEST_CASE(tools_round_trip_in_both_formats) {
    gw_fixture fx;
    std::string const tools =
        R"(,"tools":[{"type":"function","function":{"name":"get_weather","parameters":)"
        R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],)"
        R"("tool_choice":"required")";
    for (auto const* model : {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.6"}) {
        BOOST_TEST_CONTEXT(model) {
            auto const r = fx.post("/v1/chat/completions", chat_body(model, false, tools));
            BOOST_TEST_REQUIRE(r.status == 200u, r.body);
            auto const doc = parse_json(r.body);
            auto const& ch = doc.at("choices").as_array().at(0);
            BOOST_TEST(ch.at("finish_reason").as_string() == "tool_calls");
            auto const& call = ch.at("message").at("tool_calls").as_array().at(0);
            BOOST_TEST(call.at("function").at("name").as_string() == "get_weather");
            BOOST_TEST(parse_json(call.at("function").at("arguments").as_string()).is_object());

            auto const s = fx.post("/v1/chat/completions", chat_body(model, true, tools));
            BOOST_TEST_REQUIRE(s.status == 200u, s.body);
            auto const sum = read_openai_stream(s);
            BOOST_TEST(sum.finish_reason == "tool_calls");
            BOOST_TEST(sum.tool_call_deltas >= 1u);
        }
    }
    std::string const anthropic_tools =
        R"(,"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":)"
        R"({"city":{"type":"string"}}}}],"tool_choice":{"type":"any"})";
    auto const m = fx.post("/v1/messages",
                           messages_body("openai/gpt-4o-mini", true, anthropic_tools));
    BOOST_TEST_REQUIRE(m.status == 200u, m.body);
    bool tool_block = false;
    std::string stop;
    for (auto const& [name, data] : anthropic_events(m.body)) {
        if (name == "content_block_start" &&
            data.at("content_block").at("type").as_string() == "tool_use")
            tool_block = data.at("content_block").at("name").as_string() == "get_weather";
        if (name == "message_delta") stop = data.at("delta").at("stop_reason").as_string();
    }
    BOOST_TEST(tool_block);
    BOOST_TEST(stop == "tool_use");
}

BOOST_AUTO_TEST_CASE(fallback_after_503_counts_attempts) {
    gw_fixture fx(with_models(R"({"models":{"smart":{"deployments":
        ["openai/gpt-4o-mini~error=503","anthropic/claude-sonnet-4.6"]}}})"));
    auto const r = fx.post("/v1/chat/completions", chat_body("smart"));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(parse_json(r.body).at("model").as_string() == "smart");
    auto const s = fx.post("/v1/chat/completions", chat_body("smart", true));
    BOOST_TEST_REQUIRE(s.status == 200u, s.body);
    BOOST_TEST(!read_openai_stream(s).text.empty());
    auto const text = fx.gw->metrics_text();
    BOOST_TEST(metric(text, R"(llmux_gateway_attempts_total{model="smart"})") == 4.0, text);
    BOOST_TEST(metric(text, R"(llmux_gateway_fallbacks_total{model="smart"})") == 2.0);
    BOOST_TEST(metric(text, R"(llmux_gateway_requests_total{model="smart"})") == 2.0);
    BOOST_TEST(fx.log->back().find("upstream=\"anthropic/claude-sonnet-4.6\"") !=
               std::string::npos, fx.log->back());
    BOOST_TEST(fx.log->back().find("attempts=2") != std::string::npos, fx.log->back());
    // The parts of the usage: Anthropic reports cache reads and writes (none here), no
    // reasoning count.
    BOOST_TEST(fx.log->back().find(" cached=0 cache_write=0 reasoning=- cost=") != std::string::npos,
               fx.log->back());
}

BOOST_AUTO_TEST_CASE(all_deployments_failing_answers_with_the_last_status) {
    gw_fixture fx(with_models(R"({"models":{"bad":{"deployments":
        ["openai/gpt-4o-mini~error=503","openai/gpt-4o~error=429,retry_after=2s"]}}})"));
    auto const r = fx.post("/v1/chat/completions", chat_body("bad"));
    BOOST_TEST(r.status == 429u, r.body);
    BOOST_TEST(r.header("retry-after") == "2");
    auto const e = openai_error(r);
    BOOST_TEST(std::string(e.at("message").as_string()).find("2 attempts failed") !=
               std::string::npos);
    // Streams fail before their first byte the same way: a real HTTP status.
    auto const s = fx.post("/v1/chat/completions", chat_body("bad", true));
    BOOST_TEST(s.status == 429u, s.body);
    openai_error(s);
}

BOOST_AUTO_TEST_CASE(per_attempt_timeout_cuts_a_stall) {
    gw_fixture fx(with_models(R"({"models":{"smart":{"deployments":
        ["openai/gpt-4o-mini~fault=stall,after=0","openai/gpt-4o"], "per_attempt":"300ms"}}})"));
    auto const r = fx.post("/v1/chat/completions", chat_body("smart"));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto const s = fx.post("/v1/chat/completions", chat_body("smart", true));
    BOOST_TEST_REQUIRE(s.status == 200u, s.body);
    BOOST_TEST(!read_openai_stream(s).text.empty());
    auto const text = fx.gw->metrics_text();
    BOOST_TEST(metric(text, R"(llmux_gateway_attempts_total{model="smart"})") == 4.0, text);
    // The stalled attempts' connections were closed.
    BOOST_TEST(run_until(fx.emu.io, [&] { return fx.emu.emu->stats().connections_open <= 2; }));
}

BOOST_AUTO_TEST_CASE(gateway_keys) {
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    gateway_key k;
    k.name = "team-a";
    k.sha256 = detail::sha256_hex("sk-gw-good");
    cfg.keys.push_back(k);
    gw_fixture fx(cfg);

    auto const missing = fx.post("/v1/chat/completions", chat_body("mini"));
    BOOST_TEST(missing.status == 401u);
    BOOST_TEST(openai_error(missing).at("code").as_string() == "missing_api_key");

    auto const wrong = fx.post("/v1/chat/completions", chat_body("mini"),
                               {{"Authorization", "Bearer sk-gw-bad"}});
    BOOST_TEST(wrong.status == 401u);
    auto const e = openai_error(wrong);
    BOOST_TEST(e.at("code").as_string() == "invalid_api_key");
    BOOST_TEST(wrong.body.find("sk-gw-bad") == std::string::npos);

    auto const ok = fx.post("/v1/chat/completions", chat_body("mini"),
                            {{"Authorization", "Bearer sk-gw-good"}});
    BOOST_TEST(ok.status == 200u, ok.body);

    // Anthropic's endpoint takes x-api-key and answers in Anthropic's error shape.
    auto const a_bad = fx.post("/v1/messages", messages_body("mini"), {{"x-api-key", "nope"}});
    BOOST_TEST(a_bad.status == 401u);
    BOOST_TEST(parse_json(a_bad.body).at("error").at("type").as_string() == "authentication_error");
    auto const a_ok =
        fx.post("/v1/messages", messages_body("mini"), {{"x-api-key", "sk-gw-good"}});
    BOOST_TEST(a_ok.status == 200u, a_ok.body);

    BOOST_TEST(fx.get("/v1/models").status == 401u);
    BOOST_TEST(fx.get("/health").status == 200u);

    for (auto const& line : *fx.log) {
        BOOST_TEST(line.find("sk-gw") == std::string::npos, line);
        BOOST_TEST(line.find("Say something") == std::string::npos, line);  // no prompts
    }
    BOOST_TEST(fx.log->at(2).find("key=team-a") != std::string::npos, fx.log->at(2));
}

BOOST_AUTO_TEST_CASE(spent_budget_gives_402) {
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    gateway_key k;
    k.name = "small";
    k.sha256 = detail::sha256_hex("sk-small");
    k.budget_usd = 1e-9;
    cfg.keys.push_back(k);
    gw_fixture fx(cfg);
    headers_t const auth = {{"Authorization", "Bearer sk-small"}};
    auto const first = fx.post("/v1/chat/completions", chat_body("mini"), auth);
    BOOST_TEST_REQUIRE(first.status == 200u, first.body);
    auto const second = fx.post("/v1/chat/completions", chat_body("mini"), auth);
    BOOST_TEST(second.status == 402u, second.body);
    BOOST_TEST(openai_error(second).at("code").as_string() == "budget_exceeded");
    BOOST_TEST(second.header("x-should-retry") == "false");
}

BOOST_AUTO_TEST_CASE(request_rate_limit_gives_429_with_retry_after) {
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    gateway_key k;
    k.name = "slow";
    k.sha256 = detail::sha256_hex("sk-slow");
    k.requests_per_minute = 2;  // a new request every 30 s: none within this test
    cfg.keys.push_back(k);
    gw_fixture fx(cfg);
    headers_t const auth = {{"Authorization", "Bearer sk-slow"}};
    BOOST_TEST(fx.post("/v1/chat/completions", chat_body("mini"), auth).status == 200u);
    BOOST_TEST(fx.post("/v1/chat/completions", chat_body("mini"), auth).status == 200u);
    auto const third = fx.post("/v1/chat/completions", chat_body("mini"), auth);
    BOOST_TEST(third.status == 429u, third.body);
    BOOST_TEST(openai_error(third).at("type").as_string() == "rate_limit_error");
    BOOST_TEST(!third.header("retry-after").empty());
    BOOST_TEST(std::stoi(third.header("retry-after")) >= 1);
}

BOOST_AUTO_TEST_CASE(bad_requests_get_openai_errors) {
    gateway_config cfg;
    cfg.max_body_bytes = 2048;
    gw_fixture fx(cfg);
    auto const big = fx.post("/v1/chat/completions",
                             chat_body("openai/gpt-4o-mini", false,
                                       R"(,"user":")" + std::string(8192, 'x') + "\""));
    BOOST_TEST(big.status == 413u);
    BOOST_TEST(openai_error(big).at("code").as_string() == "request_too_large");

    auto const no_messages = fx.post("/v1/chat/completions", R"({"model":"openai/gpt-4o-mini"})");
    BOOST_TEST(no_messages.status == 400u);
    BOOST_TEST(openai_error(no_messages).at("param").as_string() == "messages");

    auto const unknown = fx.post("/v1/chat/completions", chat_body("nobody/nothing"));
    BOOST_TEST(unknown.status == 404u);
    BOOST_TEST(openai_error(unknown).at("code").as_string() == "model_not_found");

    auto const nowhere = fx.get("/v2/whatever");
    BOOST_TEST(nowhere.status == 404u);
    openai_error(nowhere);

    auto const wrong_method = fx.get("/v1/chat/completions");
    BOOST_TEST(wrong_method.status == 405u);
    openai_error(wrong_method);

    // Upstream credentials trouble is the gateway's problem (502), and says nothing secret.
    auto const denied = fx.post("/v1/chat/completions", chat_body("openai/gpt-4o-mini~error=401"));
    BOOST_TEST(denied.status == 502u, denied.body);
    BOOST_TEST(openai_error(denied).at("code").as_string() == "upstream_auth_failed");
}

BOOST_AUTO_TEST_CASE(models_health_and_metrics) {
    gw_fixture fx(with_models(
        R"({"models":{"mini":"openai/gpt-4o-mini","smart":["openai/gpt-4o","google/gemini-2.0-flash"]}})"));
    auto const models = fx.get("/v1/models");
    BOOST_TEST_REQUIRE(models.status == 200u);
    std::vector<std::string> ids;
    auto const list = parse_json(models.body);
    for (auto const& m : list.at("data").as_array())
        ids.emplace_back(m.at("id").as_string());
    BOOST_TEST(ids == (std::vector<std::string>{"mini", "smart"}),
               boost::test_tools::per_element());

    auto const health = fx.get("/health");
    BOOST_TEST(health.status == 200u);
    BOOST_TEST(parse_json(health.body).at("status").as_string() == "ok");

    BOOST_TEST(fx.post("/v1/chat/completions", chat_body("mini")).status == 200u);
    BOOST_TEST(fx.post("/v1/chat/completions", chat_body("mini", true)).status == 200u);

    auto const m = fx.get("/metrics");
    BOOST_TEST_REQUIRE(m.status == 200u);
    BOOST_TEST(m.header("Content-Type").starts_with("text/plain"));
    // Every line is a comment or `name{labels} value` with a numeric value.
    std::istringstream in(m.body);
    std::string line;
    std::size_t samples = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
        auto const sp = line.rfind(' ');
        BOOST_TEST_REQUIRE(sp != std::string::npos, line);
        auto const name = line.substr(0, line.find_first_of("{ "));
        BOOST_TEST(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_:") == std::string::npos,
                   line);
        std::size_t used = 0;
        (void)std::stod(line.substr(sp + 1), &used);
        BOOST_TEST(used == line.size() - sp - 1, line);
        ++samples;
    }
    BOOST_TEST(samples > 20u);
    BOOST_TEST(metric(m.body, R"(llmux_gateway_requests_total{model="mini"})") == 2.0);
    BOOST_TEST(metric(m.body, R"(llmux_gateway_stream_requests_total{model="mini"})") == 1.0);
    BOOST_TEST(metric(m.body, R"(llmux_gateway_request_duration_seconds_count{model="mini"})") ==
               2.0);
    BOOST_TEST(metric(m.body, R"(llmux_gateway_ttft_seconds_bucket{model="mini",le="+Inf"})") ==
               2.0);
    BOOST_TEST(metric(m.body, R"(llmux_gateway_tokens_total{model="mini",kind="output"})") > 0);
    // OpenAI reports cached and reasoning counts (0 from the emulator), no cache writes.
    for (auto kind : {"cached_input", "cache_write", "reasoning"})
        BOOST_TEST(metric(m.body, std::string(R"(llmux_gateway_tokens_total{model="mini",kind=")") +
                                      kind + "\"}") == 0.0,
                   kind);
    BOOST_TEST(metric(m.body, "llmux_gateway_in_flight") == 0.0);
}

BOOST_AUTO_TEST_CASE(client_disconnect_mid_stream_cancels_the_upstream_call) {
    gw_fixture fx;
    auto const slow = chat_body("openai/gpt-4o-mini~tps=20,tokens=400", true);
    run_coro(fx.emu.io, [&]() -> asio::awaitable<void> {
        http_test_client c(fx.emu.io.get_executor());
        BOOST_TEST_REQUIRE(!(co_await c.connect(fx.gw->url())));
        BOOST_TEST_REQUIRE(!(co_await c.write_request(http::verb::post, "/v1/chat/completions",
                                                      slow, {}, false)));
        auto const head = co_await c.read_response(10s, true);
        BOOST_TEST_REQUIRE(head.status == 200u);
        c.close();
    });
    // The gateway notices at once, cancels the upstream stream and closes its connection.
    BOOST_TEST(run_until(fx.emu.io, [&] {
        return fx.gw->stats().in_flight == 0 && fx.gw->stats().client_disconnects == 1 &&
               fx.gw->upstream().stats().connections_open == 0 &&
               fx.emu.emu->stats().connections_open == 0;
    }, 10s));
    BOOST_TEST(fx.gw->upstream().stats().connections_open == 0u);

    // The same for a whole (non-streamed) answer that is slow to come.
    auto const slow_whole = chat_body("openai/gpt-4o-mini~latency=30s");
    auto const before = fx.emu.emu->stats().requests;
    run_coro(fx.emu.io, [&]() -> asio::awaitable<void> {
        http_test_client c(fx.emu.io.get_executor());
        BOOST_TEST_REQUIRE(!(co_await c.connect(fx.gw->url())));
        BOOST_TEST_REQUIRE(!(co_await c.write_request(http::verb::post, "/v1/chat/completions",
                                                      slow_whole, {}, false)));
        asio::steady_timer t(fx.emu.io);
        for (int i = 0; i < 1000 && fx.emu.emu->stats().requests == before; ++i) {
            t.expires_after(2ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        BOOST_TEST_REQUIRE(fx.emu.emu->stats().requests > before);
        c.close();
    });
    BOOST_TEST(run_until(fx.emu.io, [&] {
        return fx.gw->stats().in_flight == 0 && fx.gw->stats().client_disconnects == 2 &&
               fx.gw->upstream().stats().connections_open == 0 &&
               fx.emu.emu->stats().connections_open == 0;
    }, 10s));
    BOOST_TEST(fx.log->back().find("status=499") != std::string::npos, fx.log->back());
}

BOOST_AUTO_TEST_CASE(graceful_stop_finishes_the_request_in_flight) {
    gw_fixture fx;
    auto const body = chat_body("openai/gpt-4o-mini~latency=300ms");
    bool stopped = false;
    auto const r = run_coro(fx.emu.io, [&]() -> asio::awaitable<http_reply> {
        http_test_client c(fx.emu.io.get_executor());
        BOOST_TEST_REQUIRE(!(co_await c.connect(fx.gw->url())));
        BOOST_TEST_REQUIRE(!(co_await c.write_request(http::verb::post, "/v1/chat/completions",
                                                      body, {}, false)));
        asio::steady_timer t(fx.emu.io);
        for (int i = 0; i < 1000 && fx.gw->stats().in_flight == 0; ++i) {
            t.expires_after(1ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        BOOST_TEST_REQUIRE(fx.gw->stats().in_flight == 1u);
        fx.gw->stop(30s, [&] { stopped = true; });
        co_return co_await c.read_response(10s);
    });
    BOOST_TEST(r.status == 200u, r.body);
    BOOST_TEST(r.header("Connection") == "close");
    BOOST_TEST(run_until(fx.emu.io, [&] { return stopped; }, 10s));
    // No new connections once stopped.
    auto const after = fx.get("/health");
    BOOST_TEST(after.status == 0u);
}

BOOST_AUTO_TEST_CASE(stop_after_grace_cancels_what_is_left) {
    gw_fixture fx;
    auto const body = chat_body("openai/gpt-4o-mini~fault=stall", true);
    bool stopped = false;
    auto const r = run_coro(fx.emu.io, [&]() -> asio::awaitable<http_reply> {
        http_test_client c(fx.emu.io.get_executor());
        BOOST_TEST_REQUIRE(!(co_await c.connect(fx.gw->url())));
        BOOST_TEST_REQUIRE(!(co_await c.write_request(http::verb::post, "/v1/chat/completions",
                                                      body, {}, false)));
        asio::steady_timer t(fx.emu.io);
        for (int i = 0; i < 1000 && fx.gw->stats().in_flight == 0; ++i) {
            t.expires_after(1ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        fx.gw->stop(50ms, [&] { stopped = true; });
        co_return co_await c.read_response(10s);
    });
    BOOST_TEST(r.ec);  // cut off: no complete response
    BOOST_TEST(run_until(fx.emu.io, [&] {
        return stopped && fx.gw->stats().in_flight == 0 &&
               fx.gw->upstream().stats().connections_open == 0;
    }, 10s));
}

BOOST_AUTO_TEST_CASE(concurrent_requests_on_a_gateway_running_on_two_threads) {
    // The gateway (and its upstream client) on a context of its own run by two threads, with
    // fallbacks, per-attempt timeouts and streams at once: what `llmux serve --threads N` does.
    emulator_fixture emu{{}, false};
    asio::io_context gw_io;
    auto work = asio::make_work_guard(gw_io);
    auto cfg = with_models(R"({"models":{
        "smart":{"deployments":["openai/gpt-4o-mini~fault=stall,after=0","openai/gpt-4o"],
                 "per_attempt":"100ms"},
        "resilient":["openai/gpt-4o~error=503","anthropic/claude-sonnet-4.6"]}})");
    cfg.client = emu.cfg;
    cfg.access_log = false;
    llmux::gateway gw(gw_io.get_executor(), cfg);
    auto started = gw.start();
    BOOST_TEST_REQUIRE(!!started);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&] { gw_io.run(); });
    std::string const url = gw.url();

    constexpr int n = 24;
    std::vector<unsigned> statuses(n, 0);
    int done = 0;
    run_coro(emu.io, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        for (int i = 0; i < n; ++i)
            asio::co_spawn(
                ex,
                [&, i]() -> asio::awaitable<void> {
                    http_test_client c(emu.io.get_executor());
                    if (!(co_await c.connect(url))) {
                        std::string const body =
                            chat_body(i % 2 ? "smart" : "resilient", i % 3 == 0);
                        std::string const target = "/v1/chat/completions";
                        auto const r = co_await c.request(http::verb::post, target, body, {},
                                                          false, 20s);
                        statuses[static_cast<std::size_t>(i)] = r.status;
                    }
                    ++done;
                },
                asio::detached);
        asio::steady_timer t(ex);
        for (int k = 0; k < 20000 && done < n; ++k) {
            t.expires_after(1ms);
            co_await t.async_wait(asio::use_awaitable);
        }
    });
    BOOST_TEST(done == n);
    for (int i = 0; i < n; ++i) BOOST_TEST(statuses[static_cast<std::size_t>(i)] == 200u, i);
    auto const st = gw.stats();
    BOOST_TEST(st.in_flight == 0u);
    BOOST_TEST(st.errors == 0u);
    auto const text = gw.metrics_text();
    BOOST_TEST(metric(text, R"(llmux_gateway_requests_total{model="smart"})") == n / 2.0);
    BOOST_TEST(metric(text, R"(llmux_gateway_attempts_total{model="smart"})") == double(n));

    gw.stop();
    for (int k = 0; k < 5000 && gw.stats().connections_open != 0; ++k)
        std::this_thread::sleep_for(1ms);  // bounded: the other threads do the closing
    BOOST_TEST(gw.stats().connections_open == 0u);
    work.reset();
    gw_io.stop();
    for (auto& th : threads) th.join();
}

BOOST_AUTO_TEST_CASE(refuses_a_public_address_without_keys) {
    boost::asio::io_context io;
    gateway_config cfg;
    cfg.host = "0.0.0.0";
    llmux::gateway gw(io.get_executor(), cfg);
    auto r = gw.start();
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().diag.message.find("without gateway keys") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
