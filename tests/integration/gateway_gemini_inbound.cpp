// SPDX-License-Identifier: BSL-1.0
// The gateway in process serving Gemini clients (both path shapes: the Gemini API's and Vertex
// AI's) from upstreams of other formats on the in-process emulator, over loopback: whole
// answers, SSE streams, a function call round trip, countTokens, the model list, upstream
// errors in Google's error shape, gateway keys where Google's SDKs put theirs, and fields with
// no unified equivalent. Waits are bounded (run_coro / run_until).
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

/// An emulator (plain HTTP) and a gateway in front of it, on one io_context.
struct gw_fixture {
    emulator_fixture emu;
    std::unique_ptr<llmux::gateway> gw;

    explicit gw_fixture(gateway_config g = {}) : emu({}, false) {
        g.client.providers = emu.cfg.providers;
        g.client.tls = emu.cfg.tls;
        gw = std::make_unique<llmux::gateway>(emu.io.get_executor(), g);
        auto r = gw->start();
        BOOST_TEST_REQUIRE(!!r, "gateway failed to start: " << (r ? "" : r.error().to_string()));
    }
    ~gw_fixture() {
        gw->stop();
        run_until(emu.io, [&] { return gw->stats().connections_open == 0; }, 2s);
    }

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
};

json::value parse_json(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

std::string studio(std::string_view model, std::string_view method = "generateContent") {
    return "/v1beta/models/" + std::string(model) + ":" + std::string(method);
}

/// The Vertex AI path `@google/genai` writes for a gateway model `provider/model`.
std::string vertex(std::string_view model, std::string_view method = "generateContent") {
    auto const slash = model.find('/');
    return "/v1/projects/p/locations/us-central1/publishers/" + std::string(model.substr(0, slash)) +
           "/models/" + std::string(model.substr(slash + 1)) + ":" + std::string(method);
}

std::string body(std::string_view text = "Say something", std::string_view extra = {}) {
    std::string b = R"({"contents":[{"role":"user","parts":[{"text":")" + std::string(text) +
                    R"("}]}])";
    b += extra;
    b += '}';
    return b;
}

/// Checks Google's error shape and returns the error object.
json::object google_error(http_reply const& r, unsigned status, std::string_view canonical) {
    BOOST_TEST(r.status == status, r.body);
    auto const v = parse_json(r.body);
    auto const& e = v.at("error").as_object();
    BOOST_TEST(e.at("code").to_number<unsigned>() == status);
    BOOST_TEST(e.at("status").as_string() == canonical);
    BOOST_TEST(!e.at("message").as_string().empty());
    return e;
}

/// The events of a Gemini SSE body (`data:` lines).
std::vector<json::value> events(http_reply const& r) {
    BOOST_TEST(r.header("Content-Type") == "text/event-stream");
    std::vector<json::value> out;
    std::string_view b = r.body;
    std::size_t pos = 0;
    while (pos < b.size()) {
        auto end = b.find("\r\n\r\n", pos);
        if (end == std::string_view::npos) end = b.size();
        auto const ev = b.substr(pos, end - pos);
        pos = end + 4;
        if (ev.empty()) continue;
        BOOST_TEST_REQUIRE(ev.starts_with("data: "), ev);
        out.push_back(parse_json(ev.substr(6)));
    }
    return out;
}

std::string text_of(json::value const& response) {
    std::string out;
    auto const& c = response.at("candidates").at(0).as_object();
    if (auto const* content = c.if_contains("content"))
        if (auto const* parts = content->as_object().if_contains("parts"))
            for (auto const& p : parts->as_array())
                if (auto const* t = p.as_object().if_contains("text")) out += t->as_string();
    return out;
}

gateway_config with_json(std::string const& text) {
    gateway_config g;
    auto r = g.load_json(text, "test");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().to_string()));
    return g;
}

char const* const upstreams[] = {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.6"};

std::string const weather_tools =
    R"(,"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather",)"
    R"("parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}},"required":["city"]}}]}],)"
    R"("toolConfig":{"functionCallingConfig":{"mode":"ANY"}})";

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_gemini_inbound)

BOOST_AUTO_TEST_CASE(whole_answers_on_both_path_shapes) {
    gw_fixture fx;
    for (auto const* model : upstreams) {
        for (auto const& path : {studio(model), vertex(model)}) {
            BOOST_TEST_CONTEXT(path) {
                auto const r = fx.post(path, body());
                BOOST_TEST_REQUIRE(r.status == 200u, r.body);
                auto const v = parse_json(r.body);
                BOOST_TEST(!text_of(v).empty());
                auto const& c = v.at("candidates").at(0);
                BOOST_TEST(c.at("finishReason").as_string() == "STOP");
                BOOST_TEST(c.at("content").at("role").as_string() == "model");
                BOOST_TEST(v.at("modelVersion").as_string() == model);
                BOOST_TEST(!v.at("responseId").as_string().empty());
                auto const& u = v.at("usageMetadata");
                BOOST_TEST(u.at("totalTokenCount").to_number<int>() ==
                           u.at("promptTokenCount").to_number<int>() +
                               u.at("candidatesTokenCount").to_number<int>());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(streams_are_sse_with_the_finish_and_usage_last) {
    gw_fixture fx;
    for (auto const* model : upstreams) {
        BOOST_TEST_CONTEXT(model) {
            auto const whole = fx.post(studio(model), body());
            BOOST_TEST_REQUIRE(whole.status == 200u, whole.body);
            for (auto const& path : {studio(model, "streamGenerateContent?alt=sse"),
                                     vertex(model, "streamGenerateContent?alt=sse")}) {
                auto const s = fx.post(path, body());
                BOOST_TEST_REQUIRE(s.status == 200u, s.body);
                auto const ev = events(s);
                BOOST_TEST_REQUIRE(ev.size() >= 2u, s.body);
                std::string text;
                for (auto const& e : ev) {
                    text += text_of(e);
                    BOOST_TEST(e.as_object().contains("usageMetadata"));
                }
                BOOST_TEST(text == text_of(parse_json(whole.body)));
                auto const& last = ev.back();
                BOOST_TEST(last.at("candidates").at(0).at("finishReason").as_string() == "STOP");
                BOOST_TEST(last.at("usageMetadata").at("candidatesTokenCount").to_number<int>() > 0);
                for (std::size_t i = 0; i + 1 < ev.size(); ++i)
                    BOOST_TEST(!ev[i].at("candidates").at(0).as_object().contains("finishReason"));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(function_call_round_trip) {
    gw_fixture fx;
    for (auto const* model : upstreams) {
        BOOST_TEST_CONTEXT(model) {
            auto const r = fx.post(studio(model), body("Weather in Oslo?", weather_tools));
            BOOST_TEST_REQUIRE(r.status == 200u, r.body);
            auto const v = parse_json(r.body);
            auto const& content = v.at("candidates").at(0).at("content");
            auto const& part = content.at("parts").as_array().back();
            auto const& call = part.at("functionCall");
            BOOST_TEST(call.at("name").as_string() == "get_weather");
            BOOST_TEST(call.at("args").at("city").is_string());
            // The upstream's call id rides along, so the history sent back pairs them again.
            BOOST_TEST(!call.at("id").as_string().empty());
            BOOST_TEST(v.at("candidates").at(0).at("finishReason").as_string() == "STOP");

            std::string const history =
                R"({"contents":[{"role":"user","parts":[{"text":"Weather in Oslo?"}]},)" +
                json::serialize(content) +
                R"(,{"role":"user","parts":[{"functionResponse":{"name":"get_weather",)"
                R"("response":{"temp_c":4}}}]}],"tools":[{"functionDeclarations":[{"name":"get_weather",)"
                R"("parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}}}}]}]})";
            auto const second = fx.post(studio(model), history);
            BOOST_TEST_REQUIRE(second.status == 200u, second.body);
            auto const answer = text_of(parse_json(second.body));
            BOOST_TEST(answer.find(R"({"temp_c":4})") != std::string::npos, answer);

            // Streamed: the call arrives whole, in the last event.
            auto const s = fx.post(studio(model, "streamGenerateContent?alt=sse"),
                                   body("Weather in Oslo?", weather_tools));
            BOOST_TEST_REQUIRE(s.status == 200u, s.body);
            auto const ev = events(s);
            BOOST_TEST_REQUIRE(!ev.empty());
            auto const& last = ev.back().at("candidates").at(0);
            BOOST_TEST(last.at("content").at("parts").at(0).at("functionCall").at("name").as_string() ==
                       "get_weather");
            BOOST_TEST(last.at("finishReason").as_string() == "STOP");
        }
    }
}

BOOST_AUTO_TEST_CASE(upstream_errors_in_googles_shape) {
    gw_fixture fx;
    for (auto const* model : upstreams) {
        BOOST_TEST_CONTEXT(model) {
            std::string const limited = std::string(model) + "~error=429,retry_after=3s";
            auto const r = fx.post(studio(limited), body());
            auto const e = google_error(r, 429, "RESOURCE_EXHAUSTED");
            bool retry = false;
            for (auto const& d : e.at("details").as_array())
                if (d.at("@type").as_string() == "type.googleapis.com/google.rpc.RetryInfo")
                    retry = d.at("retryDelay").as_string() == "3s";
            BOOST_TEST(retry, r.body);

            // (An Anthropic 503 is an upstream failure, a 502, to the gateway.)
            auto const down = fx.post(vertex(std::string(model) + "~error=503"), body());
            google_error(down, down.status == 502u ? 502u : 503u, "UNAVAILABLE");

            // Mid-stream: the error event ends the stream.
            auto const s = fx.post(studio(std::string(model) + "~fault=error_mid,after=2",
                                          "streamGenerateContent?alt=sse"),
                                   body());
            BOOST_TEST_REQUIRE(s.status == 200u, s.body);
            auto const ev = events(s);
            BOOST_TEST_REQUIRE(!ev.empty());
            BOOST_TEST(ev.back().as_object().contains("error"), s.body);
        }
    }
    // A model the gateway does not know.
    google_error(fx.post(studio("nobody/nothing"), body()), 404, "NOT_FOUND");
    // A bad request names the field.
    auto const bad = fx.post(studio("openai/gpt-4o-mini"), R"({"contents":[]})");
    google_error(bad, 400, "INVALID_ARGUMENT");
    BOOST_TEST(bad.body.find("contents is not specified") != std::string::npos, bad.body);
}

BOOST_AUTO_TEST_CASE(gateway_keys_where_googles_sdks_put_them) {
    auto cfg = with_json(R"({"models":{"mini":"openai/gpt-4o-mini"}})");
    gateway_key k;
    k.name = "team-g";
    k.sha256 = detail::sha256_hex("gw-good");
    cfg.keys.push_back(k);
    gw_fixture fx(cfg);

    auto const missing = fx.post(studio("mini"), body());
    BOOST_TEST(google_error(missing, 401, "UNAUTHENTICATED").at("message").as_string().find(
                   "x-goog-api-key") != std::string::npos);
    auto const wrong = fx.post(studio("mini"), body(), {{"x-goog-api-key", "gw-bad"}});
    google_error(wrong, 401, "UNAUTHENTICATED");
    BOOST_TEST(wrong.body.find("gw-bad") == std::string::npos);

    BOOST_TEST(fx.post(studio("mini"), body(), {{"x-goog-api-key", "gw-good"}}).status == 200u);
    BOOST_TEST(fx.post(studio("mini") + "?key=gw-good", body()).status == 200u);
    // Vertex AI clients send an OAuth token as a Bearer: the gateway key goes there.
    auto const v = fx.post("/v1/projects/p/locations/l/publishers/google/models/mini:generateContent",
                           body(), {{"Authorization", "Bearer gw-good"}});
    BOOST_TEST(v.status == 200u, v.body);
    auto const vbad = fx.post("/v1/projects/p/locations/l/publishers/google/models/mini:generateContent",
                              body(), {{"Authorization", "Bearer gw-bad"}});
    google_error(vbad, 401, "UNAUTHENTICATED");
}

BOOST_AUTO_TEST_CASE(count_tokens_and_the_model_list) {
    gw_fixture fx(with_json(R"({"models":{"mini":"openai/gpt-4o-mini"}})"));
    auto const small = fx.post(studio("mini", "countTokens"), body("hi"));
    BOOST_TEST_REQUIRE(small.status == 200u, small.body);
    auto const big = fx.post(studio("mini", "countTokens"), body(std::string(400, 'x')));
    BOOST_TEST_REQUIRE(big.status == 200u, big.body);
    auto const n = parse_json(small.body).at("totalTokens").to_number<int>();
    BOOST_TEST(n > 0);
    BOOST_TEST(parse_json(big.body).at("totalTokens").to_number<int>() > n);
    auto const vc = fx.post("/v1/projects/p/locations/l/publishers/google/models/mini:countTokens",
                            body("hi"));
    BOOST_TEST(vc.status == 200u, vc.body);

    auto const list = fx.request(http::verb::get, "/v1beta/models");
    BOOST_TEST_REQUIRE(list.status == 200u, list.body);
    bool found = false;
    auto const models = parse_json(list.body);
    for (auto const& m : models.at("models").as_array())
        found = found || m.at("name").as_string() == "models/mini";
    BOOST_TEST(found, list.body);
}

BOOST_AUTO_TEST_CASE(fields_without_a_unified_equivalent) {
    gw_fixture fx;
    std::string const top_k = R"(,"generationConfig":{"topK":40})";
    // Another format cannot take them: refused, naming the field, rather than dropped.
    auto const r = fx.post(studio("openai/gpt-4o-mini"), body("hi", top_k));
    auto const e = google_error(r, 400, "INVALID_ARGUMENT");
    BOOST_TEST(e.at("message").as_string().find("generationConfig") != std::string::npos, r.body);
    // A Gemini upstream gets them as they were sent.
    auto const g = fx.post(studio("google/gemini-2.0-flash"), body("hi", top_k));
    BOOST_TEST(g.status == 200u, g.body);
}

BOOST_AUTO_TEST_SUITE_END()
