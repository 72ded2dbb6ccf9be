// SPDX-License-Identifier: BSL-1.0
// The gateway in process, in front of the in-process emulator, driven over loopback by a plain
// HTTP client: endpoints, formats, groups, keys, limits, metrics, disconnects, graceful stop.
// Waits are bounded (run_coro / run_until); no test depends on wall-clock thresholds.
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"
#include "common/tcp_info.hpp"

#include <llmux/gateway.hpp>

#include "util/crypto.hpp"

#include <boost/asio/detached.hpp>
#include <boost/json/parse.hpp>

#include <filesystem>
#include <mutex>
#include <sstream>
#include <thread>

#include <unistd.h>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using llmux::test::emulator_fixture;
using llmux::test::http_reply;
using llmux::test::http_test_client;
using llmux::test::metric;
using llmux::test::run_coro;
using llmux::test::run_until;

constexpr std::size_t detail_max_dynamic = 256;  // gateway_metrics::max_dynamic

namespace {

using headers_t = std::vector<std::pair<std::string, std::string>>;

/// An emulator (plain HTTP) and a gateway in front of it, on one io_context.
struct gw_fixture {
    emulator_fixture emu;
    std::unique_ptr<llmux::gateway> gw;
    std::shared_ptr<std::vector<std::string>> log = std::make_shared<std::vector<std::string>>();

    explicit gw_fixture(gateway_config g = {}, emulator_config ec = {}) : emu(std::move(ec), false) {
        // The providers point at the emulator; the rest of the client's settings are the test's.
        g.client.providers = emu.cfg.providers;
        g.client.tls = emu.cfg.tls;
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
    /// A POST; to Anthropic's endpoint with the version header its SDKs send.
    http_reply post(std::string target, std::string body, headers_t headers = {}) {
        if (target.starts_with("/v1/messages")) headers.emplace_back("anthropic-version", "2023-06-01");
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

BOOST_AUTO_TEST_CASE(hedging_streams_takes_the_first_token) {
    // The first deployment stalls before its first byte and there is no per-attempt timeout:
    // only the hedge (started after 50 ms) can answer before the client gives up.
    gw_fixture fx(with_models(R"({"models":{"smart":{"deployments":
        ["openai/gpt-4o-mini~fault=stall,after=0","openai/gpt-4o"], "hedge":"50ms"}}})"));
    auto const s = fx.post("/v1/chat/completions", chat_body("smart", true));
    BOOST_TEST_REQUIRE(s.status == 200u, s.body);
    auto const text = read_openai_stream(s).text;
    BOOST_TEST(text.find("from gpt-4o to") != std::string::npos, text);
    auto const m = fx.gw->metrics_text();
    BOOST_TEST(metric(m, R"(llmux_gateway_attempts_total{model="smart"})") == 2.0, m);
    // The stalled attempt's connection was closed when the hedge won.
    BOOST_TEST(run_until(fx.emu.io, [&] { return fx.emu.emu->stats().connections_open <= 1; }));
}

BOOST_AUTO_TEST_CASE(per_attempt_timeout_cuts_a_stall) {
    gw_fixture fx(with_models(R"({"models":{"smart":{"deployments":
        ["openai/gpt-4o-mini~fault=stall,after=0","openai/gpt-4o"], "per_attempt":"2s"}}})"));
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
    // A refusal from the request's head carries the format's request id like any answer.
    BOOST_TEST(!missing.header("x-request-id").empty());

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
    BOOST_TEST(a_bad.header("request-id").starts_with("req_"), a_bad.header("request-id"));
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

/// The request the gateway builds from `chat_body(model, false, max_tokens 10)`.
chat_request mini_request(std::string model = "openai/gpt-4o-mini") {
    chat_request r;
    r.model = std::move(model);
    r.messages.push_back(user("Say something"));
    r.max_tokens = 10;
    return r;
}
std::string const mini_extra = R"(,"max_tokens":10)";

gateway_key key_with_budget(std::string name, std::string const& secret, double budget) {
    gateway_key k;
    k.name = std::move(name);
    k.sha256 = detail::sha256_hex(secret);
    k.budget_usd = budget;
    return k;
}

BOOST_AUTO_TEST_CASE(spent_budget_gives_402) {
    // Requests reserve the most they may cost, so a budget is never overshot: the gateway
    // refuses the request that might not fit, and what was spent stays within the budget.
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    client probe{asio::system_executor(), cfg.client};
    auto const most = probe.max_cost(mini_request());
    BOOST_TEST_REQUIRE(most.has_value());
    double const budget = *most * 1.5;
    cfg.keys.push_back(key_with_budget("small", "sk-small", budget));
    gw_fixture fx(cfg);
    headers_t const auth = {{"Authorization", "Bearer sk-small"}};
    unsigned ok = 0;
    http_reply refused;
    for (int i = 0; i < 10 && refused.status == 0; ++i) {
        auto const r = fx.post("/v1/chat/completions", chat_body("mini", false, mini_extra), auth);
        if (r.status == 200u)
            ++ok;
        else
            refused = r;
    }
    BOOST_TEST(ok >= 1u);
    BOOST_TEST_REQUIRE(refused.status == 402u, refused.body);
    BOOST_TEST(openai_error(refused).at("code").as_string() == "budget_exceeded");
    BOOST_TEST(refused.header("x-should-retry") == "false");
    double const spent = metric(fx.gw->metrics_text(), R"(llmux_gateway_cost_usd_total{model="mini"})");
    BOOST_TEST(spent > 0);
    BOOST_TEST(spent <= budget);           // never overshot
    BOOST_TEST(spent + *most > budget);    // the refusal was needed
}

BOOST_AUTO_TEST_CASE(concurrent_requests_cannot_overshoot_a_budget) {
    // The budget fits one request's reservation: while one is in flight, the others are
    // refused at once (before this, all of them passed the check and overspent together).
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    client probe{asio::system_executor(), cfg.client};
    auto const most = probe.max_cost(mini_request());
    BOOST_TEST_REQUIRE(most.has_value());
    // One reservation fits, two do not; after the first request has settled (its answer is
    // at most 10 tokens, well under its reservation), the next one fits again.
    cfg.keys.push_back(key_with_budget("one", "sk-one", *most * 1.9));
    emulator_config ec;
    ec.scripts["gpt-4o-mini"] = parse_behaviour("latency=1500ms").value();
    gw_fixture fx(cfg, ec);
    headers_t const auth = {{"Authorization", "Bearer sk-one"}};
    std::string const body = chat_body("mini", false, mini_extra);
    unsigned first = 0;
    std::vector<unsigned> others;
    run_coro(fx.emu.io, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        bool first_done = false;
        asio::co_spawn(
            ex,
            [&]() -> asio::awaitable<void> {
                http_test_client c(ex);
                co_await c.connect(fx.gw->url());
                first = (co_await c.request(http::verb::post, "/v1/chat/completions", body, auth,
                                            false, 20s))
                            .status;
                first_done = true;
            },
            asio::detached);
        asio::steady_timer t(ex);
        while (fx.gw->stats().in_flight == 0 && !first_done) {
            t.expires_after(1ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        for (int i = 0; i < 4; ++i) {
            http_test_client c(ex);
            co_await c.connect(fx.gw->url());
            others.push_back(
                (co_await c.request(http::verb::post, "/v1/chat/completions", body, auth, false, 20s))
                    .status);
        }
        while (!first_done) {
            t.expires_after(1ms);
            co_await t.async_wait(asio::use_awaitable);
        }
    });
    BOOST_TEST(first == 200u);
    BOOST_TEST_REQUIRE(others.size() == 4u);
    for (auto st : others) BOOST_TEST(st == 402u);
    // Settled: the reservation is back, so the next one passes.
    BOOST_TEST(fx.post("/v1/chat/completions", body, auth).status == 200u);
}

BOOST_AUTO_TEST_CASE(an_unpriced_model_is_never_free_under_a_budget) {
    gateway_config cfg;  // any provider/model id
    cfg.keys.push_back(key_with_budget("b", "sk-b", 1.0));
    gateway_key unlimited;
    unlimited.name = "u";
    unlimited.sha256 = detail::sha256_hex("sk-u");
    cfg.keys.push_back(unlimited);
    {
        gw_fixture fx(cfg);
        auto const r = fx.post("/v1/chat/completions", chat_body("openai/no-such-price-model"),
                               {{"Authorization", "Bearer sk-b"}});
        BOOST_TEST(r.status == 400u, r.body);
        auto const e = openai_error(r);
        BOOST_TEST(e.at("code").as_string() == "unpriced_model");
        BOOST_TEST(e.at("message").as_string().find("unpriced_price") != std::string::npos);
        // A key without a budget is not affected.
        BOOST_TEST(fx.post("/v1/chat/completions", chat_body("openai/no-such-price-model"),
                           {{"Authorization", "Bearer sk-u"}})
                       .status == 200u);
    }
    // With a configured price, it is charged that price.
    gateway_config priced = cfg;
    auto r = priced.client.load_json(R"({"unpriced_price":{"input":10,"output":10}})");
    BOOST_TEST_REQUIRE(!!r, r.error().to_string());
    gw_fixture fx(priced);
    auto const ok = fx.post("/v1/chat/completions", chat_body("openai/no-such-price-model"),
                            {{"Authorization", "Bearer sk-b"}});
    BOOST_TEST(ok.status == 200u, ok.body);
    auto const text = fx.gw->metrics_text();
    BOOST_TEST(metric(text, R"(llmux_gateway_cost_usd_total{model="openai/no-such-price-model"})") > 0,
               text);
}

BOOST_AUTO_TEST_CASE(a_stream_the_client_drops_is_charged_for_what_was_sent) {
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    emulator_config ec;
    ec.scripts["gpt-4o-mini"] = parse_behaviour("tokens=400,tps=100").value();  // 4 s
    gw_fixture fx(cfg, ec);
    run_coro(fx.emu.io, [&]() -> asio::awaitable<void> {
        http_test_client c(fx.emu.io.get_executor());
        co_await c.connect(fx.gw->url());
        co_await c.write_request(http::verb::post, "/v1/chat/completions",
                                 chat_body("mini", true), {}, false);
        auto const head = co_await c.read_response(10s, true);  // the head: content is flowing
        BOOST_TEST(head.status == 200u);
        c.close();  // and leave
    });
    BOOST_TEST(run_until(fx.emu.io, [&] {
        return metric(fx.gw->metrics_text(), R"(llmux_gateway_cost_usd_total{model="mini"})") > 0;
    }));
    BOOST_TEST(fx.gw->stats().client_disconnects == 1u);
    bool logged = false;
    for (auto const& line : *fx.log)
        if (line.find("status=499") != std::string::npos) {
            logged = true;
            BOOST_TEST(line.find("cost=-") == std::string::npos, line);
        }
    BOOST_TEST(logged);
}

BOOST_AUTO_TEST_CASE(a_stream_the_client_stops_reading_is_charged_for_what_was_sent) {
    // The client keeps its connection but reads nothing after the head: once the socket
    // buffers are full the gateway's write times out, and the connection is closed (counted as
    // a disconnect). The upstream call ends there and what it billed is counted, as for a
    // client that leaves.
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    cfg.write_timeout = 200ms;
    emulator_config ec;
    ec.scripts["gpt-4o-mini"] = parse_behaviour("tokens=1000000").value();  // far more than fits
    gw_fixture fx(cfg, ec);
    http_test_client c(fx.emu.io.get_executor());
    run_coro(fx.emu.io, [&]() -> asio::awaitable<void> {
        co_await c.connect(fx.gw->url());
        co_await c.write_request(http::verb::post, "/v1/chat/completions",
                                 chat_body("mini", true), {}, false);
        auto const head = co_await c.read_response(10s, true);
        BOOST_TEST(head.status == 200u);
    });
    BOOST_TEST(run_until(fx.emu.io, [&] {
        return fx.gw->stats().in_flight == 0 &&
               fx.gw->upstream().stats().connections_open == 0;
    }, 60s));
    BOOST_TEST(metric(fx.gw->metrics_text(), R"(llmux_gateway_cost_usd_total{model="mini"})") > 0);
    BOOST_TEST(fx.gw->stats().client_disconnects == 1u);
    BOOST_TEST_REQUIRE(!fx.log->empty());
    BOOST_TEST(fx.log->back().find("cost=-") == std::string::npos, fx.log->back());
    BOOST_TEST(fx.log->back().find("not finished") == std::string::npos, fx.log->back());
    c.close();
}

BOOST_AUTO_TEST_CASE(a_stream_that_arrives_in_one_read_goes_out_in_one_write) {
    // The emulator, with no pace scripted, writes a whole stream at once, and the gateway reads
    // it in one read. With the in-process store its head, events, usage, [DONE] and last chunk
    // reach the client in one write: the client's socket receives one segment of data (two
    // when the events went out before the stream's end). With a store whose bookkeeping does
    // I/O (SQLite here, Redis alike) the events go out first, before the bookkeeping: two.
    auto const db = std::filesystem::temp_directory_path() /
                    ("llmux-segments-" + std::to_string(::getpid()) + ".db");
    for (bool const local : {true, false}) {
        BOOST_TEST_CONTEXT((local ? "memory store" : "sqlite store")) {
            auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
            if (!local) {
                cfg.state.backend = state_backend::sqlite;
                cfg.state.sqlite_path = db.string();
            }
            gw_fixture fx(cfg);
            http_test_client c(fx.emu.io.get_executor());
            run_coro(fx.emu.io, [&]() -> asio::awaitable<void> {
                co_await c.connect(fx.gw->url());
                co_await c.write_request(http::verb::post, "/v1/chat/completions",
                                         chat_body("mini", true), {}, false);
                auto const r = co_await c.read_response(10s);
                BOOST_TEST(r.status == 200u);
                BOOST_TEST(r.body.find("\"content\":") != std::string::npos, r.body);
                BOOST_TEST(r.body.find("\"usage\":{") != std::string::npos, r.body);
                BOOST_TEST(r.body.ends_with("data: [DONE]\n\n"), r.body);
            });
            auto const segments = test::data_segments_in(c.native_handle());
            BOOST_TEST_REQUIRE(segments.has_value(), "TCP_INFO has no tcpi_data_segs_in here");
            BOOST_TEST(*segments == (local ? 1u : 2u));
            c.close();
        }
    }
    std::error_code ec;
    for (auto const* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(db.string() + suffix, ec);
}

BOOST_AUTO_TEST_CASE(bodies_are_not_read_before_the_key_is_checked) {
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    gateway_key k;
    k.name = "a";
    k.sha256 = detail::sha256_hex("sk-gw-good");
    cfg.keys.push_back(k);
    gw_fixture fx(cfg);
    for (std::string const path : {"/v1/chat/completions", "/v1/messages", "/anything"}) {
        BOOST_TEST_CONTEXT(path) {
            // 5 MB announced, none sent: the answer comes from the head, and the connection
            // closes without waiting for the body.
            auto const out = run_coro(fx.emu.io, [&]() -> asio::awaitable<std::pair<http_reply, boost::system::error_code>> {
                http_test_client c(fx.emu.io.get_executor());
                co_await c.connect(fx.gw->url());
                co_await c.write_raw("POST " + path + " HTTP/1.1\r\nHost: x\r\n"
                                     "Content-Type: application/json\r\n"
                                     "Content-Length: 5000000\r\n\r\n");
                auto r = co_await c.read_response();
                co_return std::pair{r, co_await c.read_until_closed(10s)};
            });
            BOOST_TEST(out.first.status == 401u);
            BOOST_TEST((out.second == asio::error::eof), out.second.message());
            if (path == "/v1/messages")
                BOOST_TEST(parse_json(out.first.body).at("error").at("type").as_string() ==
                           "authentication_error");
            else
                BOOST_TEST(openai_error(out.first).at("code").as_string() == "missing_api_key");
        }
    }
    BOOST_TEST(fx.get("/health").status == 200u);  // health needs no key
}

BOOST_AUTO_TEST_CASE(idle_connections_are_capped_and_dropped_while_others_are_served) {
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    cfg.max_connections_per_client = 8;
    cfg.header_timeout = 1s;
    gw_fixture fx(cfg);
    auto const port = static_cast<std::uint16_t>(std::stoi(fx.gw->url().substr(fx.gw->url().rfind(':') + 1)));
    run_coro(fx.emu.io, [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        // An attacker at 127.0.0.2 opens more idle connections than its share...
        std::vector<std::unique_ptr<boost::beast::tcp_stream>> idle;
        for (int i = 0; i < 20; ++i) {
            auto s = std::make_unique<boost::beast::tcp_stream>(ex);
            s->socket().open(asio::ip::tcp::v4());
            s->socket().bind({asio::ip::make_address("127.0.0.2"), 0});
            s->expires_after(10s);
            auto [ec] = co_await s->async_connect({asio::ip::make_address("127.0.0.1"), port},
                                                  asio::as_tuple(asio::use_awaitable));
            BOOST_TEST(!ec);
            idle.push_back(std::move(s));
        }
        // ... and the ones past it are answered 503 at once,
        asio::steady_timer t(ex);
        unsigned refused = 0;
        for (auto& s : idle) {
            char buf[512];
            s->expires_after(200ms);
            auto [ec, n] = co_await s->async_read_some(asio::buffer(buf),
                                                       asio::as_tuple(asio::use_awaitable));
            if (!ec && std::string_view(buf, n).starts_with("HTTP/1.1 503")) ++refused;
        }
        BOOST_TEST(refused == 12u);
        // ... while a client at 127.0.0.1 is served meanwhile,
        http_test_client c(ex);
        co_await c.connect(fx.gw->url());
        auto const r = co_await c.request(http::verb::post, "/v1/chat/completions",
                                          chat_body("mini"), {}, false);
        BOOST_TEST(r.status == 200u);
        // and the idle ones are dropped after the header timeout.
        while (fx.gw->stats().connections_open > 1) {
            t.expires_after(5ms);
            co_await t.async_wait(asio::use_awaitable);
        }
    });
    BOOST_TEST(fx.gw->stats().connections_open <= 1u);
}

BOOST_AUTO_TEST_CASE(distinct_model_ids_leave_state_bounded) {
    // Any provider/model id may be asked for. Ids the provider rejects leave nothing behind;
    // ids that answer get counters and measurements, but only up to the caps, the rest folded
    // into (other).
    gateway_config cfg;
    cfg.access_log = false;
    gw_fixture fx(cfg);
    constexpr int n = 300;
    run_coro(fx.emu.io, [&]() -> asio::awaitable<void> {
        http_test_client c(fx.emu.io.get_executor());
        co_await c.connect(fx.gw->url());
        for (int i = 0; i < n; ++i) {
            auto const bad = co_await c.request(
                http::verb::post, "/v1/chat/completions",
                chat_body("openai/missing-" + std::to_string(i) + "~error=404"), {}, false);
            BOOST_TEST(bad.status == 404u);
            auto const good = co_await c.request(http::verb::post, "/v1/chat/completions",
                                                 chat_body("openai/m-" + std::to_string(i)), {},
                                                 false);
            BOOST_TEST(good.status == 200u);
        }
    }, 120s);
    auto const text = fx.gw->metrics_text();
    std::size_t series = 0;
    for (std::size_t pos = 0; (pos = text.find("llmux_gateway_requests_total{model=", pos)) !=
                              std::string::npos;
         ++pos)
        ++series;
    BOOST_TEST(series <= detail_max_dynamic + 1);  // the cap, plus (other)
    BOOST_TEST(text.find("missing-") == std::string::npos);  // failures are not series
    BOOST_TEST(metric(text, R"x(llmux_gateway_requests_total{model="(other)"})x") >= double(n));
    BOOST_TEST(fx.gw->upstream().metrics().size() <= fx.gw->upstream().config().max_tracked_models);
    for (auto const& m : fx.gw->upstream().metrics()) BOOST_TEST(m.model.find("missing-") == std::string::npos);
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
                 "per_attempt":"2s"},
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

BOOST_AUTO_TEST_CASE(group_retries_each_deployment_with_backoff_before_the_next) {
    // retries: each deployment is retried (with backoff) before the next, instead of being
    // repeated in the list.
    gw_fixture fx(with_models(R"({"models":{
        "flaky":{"deployments":["openai/gpt-4o-mini~fail_first=2,error=503","openai/gpt-4o"],
                 "retries":2,"retry_backoff":"1ms"},
        "down":{"deployments":["openai/gpt-4o-mini~error=503","anthropic/claude-sonnet-4.6"],
                "retries":1,"retry_backoff":"1ms"}}})"));
    auto const r = fx.post("/v1/chat/completions", chat_body("flaky"));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(fx.log->back().find("upstream=\"openai/gpt-4o-mini~fail_first=2,error=503\"") !=
                   std::string::npos,
               fx.log->back());
    BOOST_TEST(fx.log->back().find("attempts=3") != std::string::npos, fx.log->back());
    BOOST_TEST(fx.emu.emu->stats().requests == 3u);
    // Two attempts of the first deployment, then the second answers; streams alike.
    auto const d = fx.post("/v1/chat/completions", chat_body("down"));
    BOOST_TEST_REQUIRE(d.status == 200u, d.body);
    BOOST_TEST(fx.log->back().find("upstream=\"anthropic/claude-sonnet-4.6\"") != std::string::npos,
               fx.log->back());
    BOOST_TEST(fx.log->back().find("attempts=3") != std::string::npos, fx.log->back());
    auto const s = fx.post("/v1/chat/completions", chat_body("down", true));
    BOOST_TEST_REQUIRE(s.status == 200u, s.body);
    BOOST_TEST(!read_openai_stream(s).text.empty());
    BOOST_TEST(fx.log->back().find("attempts=3") != std::string::npos, fx.log->back());
    auto const text = fx.gw->metrics_text();
    BOOST_TEST(metric(text, R"(llmux_gateway_attempts_total{model="down"})") == 6.0, text);
}

BOOST_AUTO_TEST_CASE(a_group_can_continue_a_broken_stream) {
    gw_fixture fx(with_models(R"({"models":{"story":{"deployments":
        ["openai/gpt-4o-mini~fault=truncate,after=3","anthropic/claude-3-5-sonnet-20240620"],
        "continue_streams":true}}})"));
    auto const s = fx.post("/v1/chat/completions", chat_body("story", true));
    BOOST_TEST_REQUIRE(s.status == 200u, s.body);
    auto const sum = read_openai_stream(s);  // ends with [DONE]: no error event
    BOOST_TEST(sum.finish_reason == "stop");
    BOOST_TEST(sum.text.starts_with("Emulated answer from"));
    BOOST_TEST(sum.text.find("claude-3-5-sonnet-20240620") != std::string::npos, sum.text);
    BOOST_TEST(fx.log->back().find("upstream=\"anthropic/claude-3-5-sonnet-20240620\"") !=
                   std::string::npos,
               fx.log->back());
}

BOOST_AUTO_TEST_CASE(metrics_show_the_adaptive_concurrency_of_each_provider) {
    auto cfg = with_models(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    cfg.client.concurrency.enabled = true;
    cfg.client.concurrency.initial_limit = 3;
    gw_fixture fx(cfg);
    BOOST_TEST_REQUIRE(fx.post("/v1/chat/completions", chat_body("mini")).status == 200u);
    auto const m = fx.get("/metrics");
    BOOST_TEST_REQUIRE(m.status == 200u);
    BOOST_TEST(metric(m.body, R"(llmux_upstream_concurrency_limit{provider="openai"})") == 3.0,
               m.body);
    BOOST_TEST(metric(m.body, R"(llmux_upstream_queue_depth{provider="openai"})") == 0.0);
    BOOST_TEST(metric(m.body, R"(llmux_upstream_requeued_total{provider="openai"})") == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
