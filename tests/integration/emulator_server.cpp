// SPDX-License-Identifier: BSL-1.0
// The in-process emulator over loopback, driven by a plain Beast client (HTTP and HTTPS): answer
// shapes, streams, tools, JSON answers, auth, scripted errors, every fault as seen on the wire,
// idle timeout, stop() and the counters. Timing is only checked as a lower bound.
#include "common/http_test_client.hpp"
#include "common/run_coro.hpp"

#include <llmux/emulator.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

using client = llmux::test::http_test_client;
using reply = llmux::test::http_reply;
using llmux::test::is_json;
using llmux::test::sse_data;

using header_list = std::vector<std::pair<std::string, std::string>>;

header_list hdr(std::string name, std::string value) {
    return {{std::move(name), std::move(value)}};
}

std::string chat_body(std::string const& model, json::object extra = {},
                      std::string const& prompt = "Introduce Python in one sentence") {
    json::object o;
    o["model"] = model;
    o["messages"] = json::array{json::object{{"role", "user"}, {"content", prompt}}};
    for (auto const& [k, v] : extra)
        o[k] = v;
    return json::serialize(o);
}

json::object stream_opts(bool include_usage) {
    json::object o{{"stream", true}};
    if (include_usage) o["stream_options"] = json::object{{"include_usage", true}};
    return o;
}

json::value weather_tool() {
    return json::parse(
        R"({"type":"function","function":{"name":"get_weather","description":"Current weather",
        "parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}}})");
}

/// Asserts the four keys of OpenAI's error body and returns the error object.
json::object expect_openai_error(reply const& r, unsigned status) {
    BOOST_TEST(r.status == status);
    BOOST_TEST(r.header("Content-Type") == "application/json");
    auto const v = r.json_body();
    auto const& e = v.at("error").as_object();
    BOOST_TEST(e.at("message").is_string());
    BOOST_TEST(e.at("type").is_string());
    BOOST_TEST(e.contains("param"));
    BOOST_TEST(e.contains("code"));
    return e;
}

/// Collects the content of a chat.completion.chunk stream and checks its framing.
struct stream_view {
    std::vector<json::object> chunks;  // parsed chunks, [DONE] excluded
    std::string text;
    std::size_t content_chunks = 0;
    bool done = false;
    std::string finish_reason;
    std::optional<json::object> usage;
};

stream_view read_stream(reply const& r) {
    stream_view s;
    for (auto const& d : sse_data(r.body)) {
        BOOST_TEST(!s.done, "nothing may follow [DONE]");
        if (d == "[DONE]") {
            s.done = true;
            continue;
        }
        error_code ec;
        auto v = json::parse(d, ec);
        BOOST_TEST_REQUIRE(!ec, "event is not JSON: " << d);
        auto& o = v.as_object();
        if (o.contains("error")) {
            s.chunks.push_back(o);
            continue;
        }
        BOOST_TEST(o.at("object").as_string() == "chat.completion.chunk");
        auto const& choices = o.at("choices").as_array();
        if (choices.empty()) {
            s.usage = o.at("usage").as_object();
        } else {
            auto const& c = choices[0].as_object();
            auto const& delta = c.at("delta").as_object();
            if (auto const* t = delta.if_contains("content");
                t && t->is_string() && !t->as_string().empty()) {
                s.text += t->as_string();
                ++s.content_chunks;
            }
            if (auto const* f = c.if_contains("finish_reason"); f && f->is_string())
                s.finish_reason = f->as_string();
        }
        s.chunks.push_back(o);
    }
    return s;
}

/// A stream whose every event is JSON and whose last event is [DONE]; no assertions, so it may
/// run on any thread.
bool ends_with_done(std::string_view body) {
    auto const events = sse_data(body);
    if (events.empty() || events.back() != "[DONE]") return false;
    for (std::size_t i = 0; i + 1 < events.size(); ++i)
        if (!is_json(events[i])) return false;
    return true;
}

struct emu_fixture : llmux::test::io_context_fixture {
    std::optional<llmux::emulator> emu;

    void start(llmux::emulator_config cfg = {}) {
        emu.emplace(ctx.get_executor(), std::move(cfg));
        auto r = emu->start();
        BOOST_TEST_REQUIRE(r.has_value(), "emulator start: " << r.error().to_string());
    }
    ~emu_fixture() {
        if (emu) emu->stop();
    }

    /// One chat request on a fresh connection.
    reply chat(std::string const& body,
               std::vector<std::pair<std::string, std::string>> headers = {},
               clock_type::duration deadline = 10s) {
        return run([&]() -> asio::awaitable<reply> {
            client c(ctx.get_executor());
            auto ec = co_await c.connect(emu->url());
            BOOST_TEST_REQUIRE(!ec, "connect: " << ec.message());
            co_return co_await c.chat(body, headers, deadline);
        });
    }

    reply get(std::string const& target, bool with_key = true) {
        return run([&]() -> asio::awaitable<reply> {
            client c(ctx.get_executor());
            auto ec = co_await c.connect(emu->url());
            BOOST_TEST_REQUIRE(!ec, "connect: " << ec.message());
            co_return co_await c.request(http::verb::get, target, {}, {}, with_key);
        });
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(emulator_server)

BOOST_FIXTURE_TEST_CASE(non_streaming_answer_shape, emu_fixture) {
    start();
    auto const r = chat(chat_body("gpt-4o-mini"));
    BOOST_TEST_REQUIRE(!r.ec, r.ec.message());
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("Content-Type") == "application/json");
    BOOST_TEST(r.header("x-request-id").starts_with("req_emu_"));
    BOOST_TEST(!r.header("openai-processing-ms").empty());
    auto const v = r.json_body();
    auto const& o = v.as_object();
    BOOST_TEST(o.at("object").as_string() == "chat.completion");
    BOOST_TEST(std::string(o.at("id").as_string()).starts_with("chatcmpl-emu-"));
    BOOST_TEST(o.at("model").as_string() == "gpt-4o-mini");
    BOOST_TEST(o.at("created").is_int64());
    BOOST_TEST(o.at("system_fingerprint").is_string());
    auto const& choice = o.at("choices").as_array().at(0).as_object();
    BOOST_TEST(choice.at("index").as_int64() == 0);
    BOOST_TEST(choice.at("finish_reason").as_string() == "stop");
    auto const& msg = choice.at("message").as_object();
    BOOST_TEST(msg.at("role").as_string() == "assistant");
    BOOST_TEST(msg.at("content").as_string() ==
               "Emulated answer from gpt-4o-mini to: Introduce Python in one sentence");
    auto const& u = o.at("usage").as_object();
    BOOST_TEST(u.at("prompt_tokens").as_int64() == 8);  // ceil(32 chars / 4)
    BOOST_TEST(u.at("completion_tokens").as_int64() == 10);
    BOOST_TEST(u.at("total_tokens").as_int64() == 18);
    BOOST_TEST(u.at("prompt_tokens_details").at("cached_tokens").as_int64() == 0);
    BOOST_TEST(u.at("completion_tokens_details").at("reasoning_tokens").as_int64() == 0);
}

BOOST_FIXTURE_TEST_CASE(directives_in_the_model_name, emu_fixture) {
    start();
    auto const r = chat(chat_body("gpt-4o-mini~tokens=5"));
    BOOST_TEST(r.status == 200u);
    auto const v = r.json_body();
    BOOST_TEST(v.at("model").as_string() == "gpt-4o-mini");  // reported without ~directives
    BOOST_TEST(v.at("choices").at(0).at("message").at("content").as_string() ==
               "Lorem ipsum dolor sit amet");
    BOOST_TEST(v.at("usage").at("completion_tokens").as_int64() == 5);

    auto const h = chat(chat_body("m"), hdr("x-llmux-emulate", "reply=Hi, there"));
    BOOST_TEST(h.json_body().at("choices").at(0).at("message").at("content").as_string() ==
               "Hi, there");
}

BOOST_FIXTURE_TEST_CASE(max_tokens_cuts_the_answer, emu_fixture) {
    start();
    auto const r = chat(chat_body("m~tokens=50", {{"max_completion_tokens", 4}}));
    auto const v = r.json_body();
    BOOST_TEST(v.at("choices").at(0).at("finish_reason").as_string() == "length");
    BOOST_TEST(v.at("choices").at(0).at("message").at("content").as_string() ==
               "Lorem ipsum dolor sit");
    BOOST_TEST(v.at("usage").at("completion_tokens").as_int64() == 4);

    auto const s = chat(chat_body("m~tokens=50", {{"max_tokens", 3}, {"stream", true}}));
    auto const view = read_stream(s);
    BOOST_TEST(view.content_chunks == 3u);
    BOOST_TEST(view.finish_reason == "length");
    BOOST_TEST(view.done);
}

BOOST_FIXTURE_TEST_CASE(streaming_frames_and_done, emu_fixture) {
    start();
    auto const r = chat(chat_body("gpt-4o-mini", stream_opts(true)));
    BOOST_TEST_REQUIRE(!r.ec, r.ec.message());
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("Content-Type").starts_with("text/event-stream"));
    BOOST_TEST(r.header("Transfer-Encoding") == "chunked");
    auto const s = read_stream(r);
    BOOST_TEST(s.done);
    BOOST_TEST(s.text == "Emulated answer from gpt-4o-mini to: Introduce Python in one sentence");
    BOOST_TEST(s.content_chunks == 10u);  // one chunk per token
    BOOST_TEST(s.finish_reason == "stop");
    BOOST_TEST_REQUIRE(s.chunks.size() == 13u);  // role, 10 tokens, finish, usage
    // The first chunk carries the role; every chunk but the last has "usage": null.
    BOOST_TEST(s.chunks.front().at("choices").at(0).at("delta").at("role").as_string() ==
               "assistant");
    std::string const id(s.chunks.front().at("id").as_string());
    BOOST_TEST(id.starts_with("chatcmpl-emu-"));
    for (std::size_t i = 0; i + 1 < s.chunks.size(); ++i) {
        BOOST_TEST(s.chunks[i].at("usage").is_null());
        BOOST_TEST(s.chunks[i].at("id").as_string() == id);
        BOOST_TEST(s.chunks[i].at("model").as_string() == "gpt-4o-mini");
    }
    BOOST_TEST_REQUIRE(s.usage.has_value());
    BOOST_TEST(s.usage->at("completion_tokens").as_int64() == 10);
    BOOST_TEST(s.usage->at("prompt_tokens").as_int64() == 8);
    BOOST_TEST(s.usage->at("total_tokens").as_int64() == 18);

    // Without include_usage: no usage chunk and no usage key.
    auto const plain = read_stream(chat(chat_body("gpt-4o-mini", stream_opts(false))));
    BOOST_TEST(plain.done);
    BOOST_TEST(!plain.usage.has_value());
    BOOST_TEST(plain.chunks.size() == 12u);
    BOOST_TEST(!plain.chunks.front().contains("usage"));
}

BOOST_FIXTURE_TEST_CASE(stream_options_without_stream_is_rejected, emu_fixture) {
    start();
    auto const r =
        chat(chat_body("m", {{"stream_options", json::object{{"include_usage", true}}}}));
    auto const e = expect_openai_error(r, 400);
    BOOST_TEST(e.at("param").as_string() == "stream_options");
}

BOOST_FIXTURE_TEST_CASE(tool_call, emu_fixture) {
    start();
    auto const body =
        chat_body("gpt-4o-mini", {{"tools", json::array{weather_tool()}}}, "Weather in Oslo?");
    auto const v = chat(body).json_body();
    auto const& choice = v.at("choices").at(0).as_object();
    BOOST_TEST(choice.at("finish_reason").as_string() == "tool_calls");
    BOOST_TEST(choice.at("message").at("content").is_null());
    auto const& call = choice.at("message").at("tool_calls").at(0).as_object();
    BOOST_TEST(std::string(call.at("id").as_string()).starts_with("call_emu_"));
    BOOST_TEST(call.at("type").as_string() == "function");
    BOOST_TEST(call.at("function").at("name").as_string() == "get_weather");
    auto const args = json::parse(call.at("function").at("arguments").as_string());
    BOOST_TEST(args == json::parse(R"({"city":"example"})"));

    // Streamed: a first fragment with id, type, name and empty arguments, then the pieces.
    auto const sbody = chat_body(
        "gpt-4o-mini", {{"tools", json::array{weather_tool()}}, {"stream", true}}, "Weather?");
    auto const s = read_stream(chat(sbody));
    BOOST_TEST(s.done);
    BOOST_TEST(s.finish_reason == "tool_calls");
    std::string arguments;
    int headers = 0;
    for (auto const& c : s.chunks) {
        auto const& delta = c.at("choices").at(0).at("delta").as_object();
        auto const* calls = delta.if_contains("tool_calls");
        if (!calls) continue;
        auto const& frag = calls->at(0).as_object();
        BOOST_TEST(frag.at("index").as_int64() == 0);
        if (frag.contains("id")) {
            ++headers;
            BOOST_TEST(frag.at("type").as_string() == "function");
            BOOST_TEST(frag.at("function").at("name").as_string() == "get_weather");
            BOOST_TEST(frag.at("function").at("arguments").as_string() == "");
        } else {
            arguments += frag.at("function").at("arguments").as_string();
        }
    }
    BOOST_TEST(headers == 1);
    BOOST_TEST(json::parse(arguments) == json::parse(R"({"city":"example"})"));
}

BOOST_FIXTURE_TEST_CASE(tool_result_round_trip, emu_fixture) {
    start();
    json::object o;
    o["model"] = "gpt-4o-mini";
    o["tools"] = json::array{weather_tool()};
    o["messages"] = json::parse(R"([{"role":"user","content":"Weather in Oslo?"},
        {"role":"assistant","content":null,"tool_calls":[{"id":"call_emu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
        {"role":"tool","tool_call_id":"call_emu_1","content":"{\"temp_c\":4}"}])");
    auto const v = chat(json::serialize(o)).json_body();
    auto const& choice = v.at("choices").at(0).as_object();
    BOOST_TEST(choice.at("finish_reason").as_string() == "stop");
    std::string const text(choice.at("message").at("content").as_string());
    BOOST_TEST(text.find(R"({"temp_c":4})") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(json_answers, emu_fixture) {
    start();
    auto const jo =
        chat(chat_body("m", {{"response_format", json::object{{"type", "json_object"}}}}));
    auto const content = jo.json_body().at("choices").at(0).at("message").at("content").as_string();
    BOOST_TEST(is_json(content));
    BOOST_TEST(json::parse(content).is_object());

    auto const rf =
        json::parse(R"({"type":"json_schema","json_schema":{"name":"person","strict":true,
        "schema":{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},
        "required":["name","age","tags"],"additionalProperties":false}}})");
    auto const js = chat(chat_body("m", {{"response_format", rf}}));
    auto const answer =
        json::parse(js.json_body().at("choices").at(0).at("message").at("content").as_string());
    BOOST_TEST(answer == json::parse(R"({"name":"example","age":1,"tags":[]})"));

    // Streamed, the pieces join to the same JSON.
    auto const st = read_stream(chat(chat_body("m", {{"response_format", rf}, {"stream", true}})));
    BOOST_TEST(json::parse(st.text) == answer);
}

BOOST_FIXTURE_TEST_CASE(auth, emu_fixture) {
    start();
    auto const r = run([&]() -> asio::awaitable<reply> {
        client c(ctx.get_executor());
        co_await c.connect(emu->url());
        co_return co_await c.request(http::verb::post, "/v1/chat/completions", chat_body("m"), {},
                                     false);
    });
    auto const e = expect_openai_error(r, 401);
    BOOST_TEST(e.at("type").as_string() == "invalid_request_error");
    BOOST_TEST(e.at("code").as_string() == "invalid_api_key");
    BOOST_TEST(e.at("param").is_null());

    // Azure's api-key header is a credential too; an empty bearer is not.
    auto const azure = run([&]() -> asio::awaitable<reply> {
        client c(ctx.get_executor());
        co_await c.connect(emu->url());
        co_return co_await c.request(http::verb::post, "/v1/chat/completions", chat_body("m"),
                                     hdr("api-key", "azure-key"), false);
    });
    BOOST_TEST(azure.status == 200u);
    auto const empty = run([&]() -> asio::awaitable<reply> {
        client c(ctx.get_executor());
        co_await c.connect(emu->url());
        co_return co_await c.request(http::verb::post, "/v1/chat/completions", chat_body("m"),
                                     hdr("Authorization", "Bearer "), false);
    });
    BOOST_TEST(empty.status == 401u);
    BOOST_TEST(get("/v1/models", false).status == 401u);
}

BOOST_FIXTURE_TEST_CASE(auth_can_be_off, emu_fixture) {
    llmux::emulator_config cfg;
    cfg.require_auth = false;
    start(cfg);
    auto const r = run([&]() -> asio::awaitable<reply> {
        client c(ctx.get_executor());
        co_await c.connect(emu->url());
        co_return co_await c.request(http::verb::post, "/v1/chat/completions", chat_body("m"), {},
                                     false);
    });
    BOOST_TEST(r.status == 200u);
}

BOOST_FIXTURE_TEST_CASE(routes, emu_fixture) {
    llmux::emulator_config cfg;
    cfg.scripts["slow-model"] = *llmux::parse_behaviour("ttft=1ms");
    cfg.scripts["openai/gpt-4o"] = {};
    start(cfg);
    for (auto const* target :
         {"/chat/completions", "/api/v1/chat/completions", "/v1/chat/completions?x=1"}) {
        auto const r = run([&]() -> asio::awaitable<reply> {
            client c(ctx.get_executor());
            co_await c.connect(emu->url());
            co_return co_await c.request(http::verb::post, target, chat_body("m"));
        });
        BOOST_TEST(r.status == 200u, target);
    }
    // Azure: the deployment in the path names the model when the body has none.
    auto const azure = run([&]() -> asio::awaitable<reply> {
        client c(ctx.get_executor());
        co_await c.connect(emu->url());
        co_return co_await c.request(
            http::verb::post,
            "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21",
            R"({"messages":[{"role":"user","content":"hi"}]})", hdr("api-key", "k"), false);
    });
    BOOST_TEST(azure.status == 200u);
    BOOST_TEST(azure.json_body().at("model").as_string() == "my-deployment");

    auto const models = get("/v1/models").json_body();
    BOOST_TEST(models.at("object").as_string() == "list");
    std::vector<std::string> ids;
    for (auto const& m : models.at("data").as_array())
        ids.emplace_back(m.at("id").as_string());
    BOOST_TEST((ids == std::vector<std::string>{"openai/gpt-4o", "slow-model"}));
    BOOST_TEST(get("/v1/models/openai%2Fgpt-4o").json_body().at("id").as_string() ==
               "openai/gpt-4o");

    auto const unknown = get("/v1/nothing-here");
    auto const e = expect_openai_error(unknown, 404);
    BOOST_TEST(e.at("code").as_string() == "unknown_url");
}

BOOST_FIXTURE_TEST_CASE(bad_requests, emu_fixture) {
    start();
    auto e = expect_openai_error(chat("{not json"), 400);
    BOOST_TEST(std::string(e.at("message").as_string()).find("could not parse the JSON body") !=
               std::string::npos);
    e = expect_openai_error(chat(R"({"model":"m"})"), 400);
    BOOST_TEST(e.at("param").as_string() == "messages");
    BOOST_TEST(e.at("code").as_string() == "missing_required_parameter");
    e = expect_openai_error(chat(R"({"model":"m","messages":[]})"), 400);
    BOOST_TEST(e.at("code").as_string() == "empty_array");
    e = expect_openai_error(chat(R"({"messages":[{"role":"user","content":"x"}]})"), 400);
    BOOST_TEST(std::string(e.at("message").as_string()).find("model") != std::string::npos);
    e = expect_openai_error(chat(chat_body("m", {{"max_tokens", 0}})), 400);
    BOOST_TEST(e.at("param").as_string() == "max_tokens");
    // Bad directives are the client's mistake: a 400 that names them.
    e = expect_openai_error(chat(chat_body("m~ttft=soon")), 400);
    BOOST_TEST(std::string(e.at("message").as_string()).find("ttft=soon") != std::string::npos);
    e = expect_openai_error(chat(chat_body("m"), hdr("x-llmux-emulate", "fault=boom")), 400);
    BOOST_TEST(std::string(e.at("message").as_string()).find("fault=boom") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(error_statuses_with_retry_after, emu_fixture) {
    start();
    struct expected {
        unsigned status;
        char const* type;
        char const* code;  // null: JSON null
    };
    expected const cases[] = {
        {400, "invalid_request_error", nullptr},
        {401, "invalid_request_error", "invalid_api_key"},
        {403, "request_forbidden", "unsupported_country_region_territory"},
        {404, "invalid_request_error", "model_not_found"},
        {408, "timeout", nullptr},
        {409, "invalid_request_error", "conflict"},
        {422, "invalid_request_error", nullptr},
        {429, "requests", "rate_limit_exceeded"},
        {500, "server_error", nullptr},
        {502, "server_error", nullptr},
        {503, "server_error", nullptr},
        {504, "server_error", nullptr},
    };
    std::uint64_t sent = 0;
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT("status " << c.status) {
            auto const r = chat(
                chat_body("gpt-4o-mini"),
                hdr("x-llmux-emulate", "error=" + std::to_string(c.status) + ",retry_after=1.5s"));
            auto const e = expect_openai_error(r, c.status);
            BOOST_TEST(e.at("type").as_string() == c.type);
            if (c.code)
                BOOST_TEST(e.at("code").as_string() == c.code);
            else
                BOOST_TEST(e.at("code").is_null());
            BOOST_TEST(r.header("retry-after") == "2");  // seconds, rounded up
            BOOST_TEST(r.header("retry-after-ms") == "1500");
            BOOST_TEST(r.header("x-request-id").starts_with("req_emu_"));
            ++sent;
        }
    }
    auto const overloaded = chat(chat_body("m~error=503"));
    BOOST_TEST(std::string(overloaded.json_body().at("error").at("message").as_string())
                   .find("overloaded") != std::string::npos);
    BOOST_TEST(overloaded.header("retry-after").empty());  // only when retry_after is set
    auto const rate = chat(chat_body("gpt-4o-mini~error=429"));
    BOOST_TEST(
        std::string(rate.json_body().at("error").at("message").as_string()).find("gpt-4o-mini") !=
        std::string::npos);
    BOOST_TEST(emu->stats().errors_sent == sent + 2);
}

BOOST_FIXTURE_TEST_CASE(fail_first_and_error_rate, emu_fixture) {
    start();
    std::vector<unsigned> statuses;
    for (int i = 0; i < 4; ++i)
        statuses.push_back(chat(chat_body("m~error=503,fail_first=2")).status);
    BOOST_TEST((statuses == std::vector<unsigned>{503, 503, 200, 200}));

    // Counted per model: another model starts afresh. Without a status, failures are 500s.
    BOOST_TEST(chat(chat_body("other~fail_first=1")).status == 500u);
    BOOST_TEST(chat(chat_body("other~fail_first=1")).status == 200u);

    statuses.clear();
    for (int i = 0; i < 6; ++i)
        statuses.push_back(chat(chat_body("r~error=429,error_rate=0.5")).status);
    BOOST_TEST((statuses == std::vector<unsigned>{200, 429, 200, 429, 200, 429}));

    // fail_first gates faults as well.
    auto const first = chat(chat_body("f~fault=truncate,fail_first=1"));
    BOOST_TEST(!is_json(first.body));
    BOOST_TEST(is_json(chat(chat_body("f~fault=truncate,fail_first=1")).body));
}

BOOST_FIXTURE_TEST_CASE(fault_reset, emu_fixture) {
    start();
    auto const r = chat(chat_body("m~fault=reset"));
    BOOST_TEST((r.ec == asio::error::connection_reset), r.ec.message());
    BOOST_TEST(!r.header_done);
    auto const s = chat(chat_body("m~fault=reset", stream_opts(true)));
    BOOST_TEST((s.ec == asio::error::connection_reset), s.ec.message());
    BOOST_TEST(emu->stats().faults_injected == 2u);
}

BOOST_FIXTURE_TEST_CASE(fault_reset_mid_stream, emu_fixture) {
    start();
    auto const r = chat(chat_body("m~fault=reset_mid,after=3", stream_opts(true)));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST((r.ec == asio::error::connection_reset), r.ec.message());
    auto const s = read_stream(r);
    BOOST_TEST(!s.done);
    BOOST_TEST(s.content_chunks == 3u);
    BOOST_TEST(s.text == "Emulated answer from");

    // Non-streaming: half a body, then the reset.
    auto const w = chat(chat_body("m~fault=reset_mid"));
    BOOST_TEST(w.status == 200u);
    BOOST_TEST((w.ec == asio::error::connection_reset), w.ec.message());
}

BOOST_FIXTURE_TEST_CASE(fault_truncate, emu_fixture) {
    start();
    auto const r = chat(chat_body("m~fault=truncate,after=4", stream_opts(true)));
    BOOST_TEST(!r.ec, r.ec.message());  // the HTTP message itself ends cleanly
    auto const s = read_stream(r);
    BOOST_TEST(!s.done);
    BOOST_TEST(s.content_chunks == 4u);
    BOOST_TEST(s.finish_reason.empty());
    BOOST_TEST(!s.usage.has_value());

    auto const w = chat(chat_body("m~fault=truncate"));
    BOOST_TEST(!w.ec, w.ec.message());
    BOOST_TEST(w.status == 200u);
    BOOST_TEST(w.header("Content-Length") == std::to_string(w.body.size()));
    BOOST_TEST(!is_json(w.body));
    BOOST_TEST(w.body.starts_with("{\"id\":\"chatcmpl-emu-"));
}

BOOST_FIXTURE_TEST_CASE(fault_malformed, emu_fixture) {
    start();
    auto const w = chat(chat_body("m~fault=malformed"));
    BOOST_TEST(w.status == 200u);
    BOOST_TEST(!w.ec);
    BOOST_TEST(!is_json(w.body));

    auto const r = chat(chat_body("m~fault=malformed,after=1", stream_opts(false)));
    BOOST_TEST(!r.ec);
    auto const events = sse_data(r.body);
    int invalid = 0;
    for (auto const& e : events)
        if (e != "[DONE]" && !is_json(e)) ++invalid;
    BOOST_TEST(invalid == 1);
    BOOST_TEST_REQUIRE(!events.empty());
    BOOST_TEST(events.back() == "[DONE]");  // the stream goes on: the client must notice
    BOOST_TEST_REQUIRE(events.size() > 2u);
    BOOST_TEST(!is_json(events[2]));  // role chunk, one content chunk, then the bad one
}

BOOST_FIXTURE_TEST_CASE(fault_stall, emu_fixture) {
    start();
    // Streaming: headers and `after` chunks, then nothing until we give up.
    auto const r = chat(chat_body("m~fault=stall,after=1", stream_opts(false)), {}, 300ms);
    BOOST_TEST(r.status == 200u);
    BOOST_TEST((r.ec == beast::error::timeout), r.ec.message());
    BOOST_TEST(sse_data(r.body).size() == 2u);  // role chunk and one token
    // Non-streaming: not even headers.
    auto const w = chat(chat_body("m~fault=stall"), {}, 300ms);
    BOOST_TEST((w.ec == beast::error::timeout), w.ec.message());
    BOOST_TEST(!w.header_done);
    BOOST_TEST(emu->stats().faults_injected == 2u);
}

BOOST_FIXTURE_TEST_CASE(fault_error_mid_stream, emu_fixture) {
    start();
    auto const r = chat(chat_body("m~fault=error_mid,after=2", stream_opts(true)));
    BOOST_TEST(!r.ec);
    BOOST_TEST(r.status == 200u);
    auto const s = read_stream(r);
    BOOST_TEST(!s.done);
    BOOST_TEST(s.content_chunks == 2u);
    BOOST_TEST_REQUIRE(!s.chunks.empty());
    auto const& last = s.chunks.back();
    BOOST_TEST_REQUIRE(last.contains("error"));
    BOOST_TEST(last.at("error").at("type").as_string() == "server_error");
    BOOST_TEST(last.at("error").at("code").as_string() == "server_error");
    BOOST_TEST(last.at("error").at("message").is_string());
}

BOOST_FIXTURE_TEST_CASE(fault_close, emu_fixture) {
    start();
    for (bool stream : {false, true}) {
        BOOST_TEST_CONTEXT("stream " << stream) {
            auto const [r, after] = run([&]() -> asio::awaitable<std::pair<reply, error_code>> {
                client c(ctx.get_executor());
                co_await c.connect(emu->url());
                // (A conditional expression inside co_await miscompiles with GCC 12.)
                auto const body =
                    chat_body("m~fault=close", stream ? stream_opts(true) : json::object{});
                auto r = co_await c.chat(body);
                auto ec = co_await c.read_until_closed(5s);
                co_return std::pair{r, ec};
            });
            BOOST_TEST(r.status == 200u);
            BOOST_TEST(!r.ec);
            BOOST_TEST(r.header("Connection") == "close");
            if (stream)
                BOOST_TEST(read_stream(r).done);
            else
                BOOST_TEST(is_json(r.body));
            BOOST_TEST((after == asio::error::eof), after.message());
        }
    }
}

BOOST_FIXTURE_TEST_CASE(keep_alive_and_counters, emu_fixture) {
    start();
    run([&]() -> asio::awaitable<void> {
        client c(ctx.get_executor());
        co_await c.connect(emu->url());
        for (int i = 0; i < 3; ++i) {
            auto const body = chat_body("m", i == 1 ? stream_opts(true) : json::object{});
            auto const r = co_await c.chat(body);
            BOOST_TEST(r.status == 200u);
            BOOST_TEST(r.header("Connection").empty());  // kept alive
        }
        auto const st = emu->stats();
        BOOST_TEST(st.connections_accepted == 1u);
        BOOST_TEST(st.connections_open == 1u);
        BOOST_TEST(st.requests == 3u);
        BOOST_TEST(st.errors_sent == 0u);
        BOOST_TEST(st.faults_injected == 0u);
        // Request ids are numbered.
        auto const a = co_await c.chat(chat_body("m"));
        auto const b = co_await c.chat(chat_body("m"));
        BOOST_TEST(a.header("x-request-id") != b.header("x-request-id"));
    });
}

BOOST_FIXTURE_TEST_CASE(idle_timeout_closes_the_connection, emu_fixture) {
    llmux::emulator_config cfg;
    cfg.idle_timeout = 200ms;
    start(cfg);
    auto const ec = run([&]() -> asio::awaitable<error_code> {
        client c(ctx.get_executor());
        co_await c.connect(emu->url());
        auto const r = co_await c.chat(chat_body("m"));
        BOOST_TEST(r.status == 200u);
        co_return co_await c.read_until_closed(10s);
    });
    BOOST_TEST((ec == asio::error::eof), ec.message());
    BOOST_TEST(llmux::test::run_until(ctx, [&] { return emu->stats().connections_open == 0; }));
}

BOOST_FIXTURE_TEST_CASE(http_level_errors, emu_fixture) {
    llmux::emulator_config cfg;
    cfg.max_body_bytes = 1024;
    start(cfg);
    auto raw = [&](std::string bytes) {
        return run([&]() -> asio::awaitable<reply> {
            client c(ctx.get_executor());
            co_await c.connect(emu->url());
            co_await c.write_raw(bytes);
            co_return co_await c.read_response();
        });
    };
    auto const bad = raw("NOT AN HTTP REQUEST\r\n\r\n");
    BOOST_TEST(bad.status == 400u);
    BOOST_TEST(bad.header("Connection") == "close");
    auto const big =
        raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" +
            std::string(4096, 'x'));
    BOOST_TEST(big.status == 413u);
    auto const huge =
        raw("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70000, 'a') + "\r\n\r\n");
    BOOST_TEST(huge.status == 431u);
}

BOOST_FIXTURE_TEST_CASE(timing_is_at_least_the_scripted_delay, emu_fixture) {
    start();
    auto const w = chat(chat_body("m~latency=60ms,ttft=60ms"));
    BOOST_TEST(w.status == 200u);
    BOOST_TEST((w.done_at - w.sent_at >= 120ms));

    auto const s = chat(chat_body("m~latency=50ms,ttft=80ms,tps=100,tokens=6", stream_opts(false)));
    BOOST_TEST(read_stream(s).content_chunks == 6u);
    BOOST_TEST((s.headers_at - s.sent_at >= 50ms));
    // ttft, then 5 more tokens at 10 ms each.
    BOOST_TEST((s.done_at - s.sent_at >= 50ms + 80ms + 50ms));
}

BOOST_FIXTURE_TEST_CASE(tls_with_verified_certificate, emu_fixture) {
    auto const ca_path = (std::filesystem::temp_directory_path() /
                          ("llmux-emulator-test-ca-" + std::to_string(::getpid()) + ".pem"))
                             .string();
    llmux::emulator_config cfg;
    cfg.tls = true;
    cfg.ca_out = ca_path;
    start(cfg);
    BOOST_TEST(emu->tls_url().starts_with("https://127.0.0.1:"));
    BOOST_TEST(emu->ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    BOOST_TEST(emu->ca_file() == ca_path);
    {
        std::ifstream f(ca_path);
        std::stringstream ss;
        ss << f.rdbuf();
        BOOST_TEST(ss.str() == emu->ca_pem());
    }
    std::filesystem::remove(ca_path);

    ssl::context trusting(ssl::context::tls_client);
    trusting.add_certificate_authority(asio::buffer(emu->ca_pem()));
    ssl::context untrusting(ssl::context::tls_client);

    auto handshake = [&](ssl::context& tls, std::string const& host) {
        return run([&]() -> asio::awaitable<error_code> {
            client c(ctx.get_executor());
            co_return co_await c.connect(emu->tls_url(), &tls, host);
        });
    };
    BOOST_TEST(!handshake(trusting, "127.0.0.1"));         // IP SAN, host-name check on
    BOOST_TEST(!handshake(trusting, "localhost"));         // DNS SAN
    BOOST_TEST(bool(handshake(trusting, "example.com")));  // wrong name: rejected
    BOOST_TEST(bool(handshake(untrusting, "127.0.0.1")));  // unknown CA: rejected

    auto const r = run([&]() -> asio::awaitable<std::pair<reply, reply>> {
        client c(ctx.get_executor());
        auto ec = co_await c.connect(emu->tls_url(), &trusting);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        auto a = co_await c.chat(chat_body("gpt-4o-mini"));
        auto b = co_await c.chat(chat_body("gpt-4o-mini", stream_opts(true)));
        co_return std::pair{a, b};
    });
    BOOST_TEST(r.first.status == 200u);
    BOOST_TEST(r.first.json_body().at("object").as_string() == "chat.completion");
    BOOST_TEST(read_stream(r.second).done);
    // The plain listener still works beside the TLS one.
    BOOST_TEST(chat(chat_body("m")).status == 200u);
}

BOOST_FIXTURE_TEST_CASE(tls_faults, emu_fixture) {
    llmux::emulator_config cfg;
    cfg.tls = true;
    start(cfg);
    BOOST_TEST(emu->ca_file().empty());
    ssl::context trusting(ssl::context::tls_client);
    trusting.add_certificate_authority(asio::buffer(emu->ca_pem()));
    auto const r = run([&]() -> asio::awaitable<std::pair<reply, reply>> {
        client a(ctx.get_executor()), b(ctx.get_executor());
        co_await a.connect(emu->tls_url(), &trusting);
        co_await b.connect(emu->tls_url(), &trusting);
        co_return std::pair{
            co_await a.chat(chat_body("m~fault=reset_mid,after=1", stream_opts(false))),
            co_await b.chat(chat_body("m~fault=stall", stream_opts(false)), {}, 300ms)};
    });
    BOOST_TEST((r.first.ec == asio::error::connection_reset), r.first.ec.message());
    BOOST_TEST((r.second.ec == beast::error::timeout), r.second.ec.message());
}

BOOST_FIXTURE_TEST_CASE(stop_ends_open_and_stalled_connections, emu_fixture) {
    start();
    client idle(ctx.get_executor()), stalled(ctx.get_executor()), waiting(ctx.get_executor());
    run([&]() -> asio::awaitable<void> {
        co_await idle.connect(emu->url());
        BOOST_TEST((co_await idle.chat(chat_body("m"))).status == 200u);
        co_await stalled.connect(emu->url());
        co_await stalled.write_request(http::verb::post, "/v1/chat/completions",
                                       chat_body("m~fault=stall,after=0", stream_opts(false)), {});
        auto const head = co_await stalled.read_response(10s, true);
        BOOST_TEST(head.status == 200u);
        // A request still in its scripted latency.
        co_await waiting.connect(emu->url());
        co_await waiting.write_request(http::verb::post, "/v1/chat/completions",
                                       chat_body("m~latency=1h"), {});
    });
    // The last request is in its latency once the server has read it.
    BOOST_TEST(llmux::test::run_until(ctx, [&] { return emu->stats().requests == 3; }));
    BOOST_TEST(emu->stats().connections_open == 3u);

    // Each client waits (with a long deadline) for the server to drop it.
    std::vector<error_code> seen;
    for (auto* c : {&idle, &stalled, &waiting})
        asio::co_spawn(
            ctx,
            [&seen, c]() -> asio::awaitable<void> {
                seen.push_back(co_await c->read_until_closed(30s));
            },
            asio::detached);
    emu->stop();
    auto const t0 = clock_type::now();
    BOOST_TEST(llmux::test::runs_out_of_work(ctx, 10s), "io_context still has work after stop()");
    BOOST_TEST((clock_type::now() - t0 < 10s));
    BOOST_TEST_REQUIRE(seen.size() == 3u);
    for (auto const& ec : seen)
        BOOST_TEST((ec != beast::error::timeout), ec.message());
    BOOST_TEST(emu->stats().connections_open == 0u);
}

BOOST_AUTO_TEST_CASE(multi_threaded_io_context) {
    asio::io_context ctx(2);
    llmux::emulator emu(ctx.get_executor());
    BOOST_TEST_REQUIRE(emu.start().has_value());
    auto const url = emu.url();

    auto one_client = [url](int k) -> asio::awaitable<int> {
        // The client's stream lives on the coroutine's strand.
        client c(co_await asio::this_coro::executor);
        if (co_await c.connect(url)) co_return 0;
        int ok = 0;
        for (int i = 0; i < 5; ++i) {
            auto const stream = (i + k) % 2 == 0;
            auto const body = chat_body("m~tokens=20", stream ? stream_opts(true) : json::object{});
            auto const r = co_await c.chat(body);
            // No Boost.Test assertions here: they are not thread-safe.
            if (r.status == 200u && !r.ec && (stream ? ends_with_done(r.body) : is_json(r.body)))
                ++ok;
        }
        co_return ok;
    };
    std::vector<std::future<int>> results;
    for (int k = 0; k < 16; ++k)
        results.push_back(asio::co_spawn(asio::make_strand(ctx), one_client(k), asio::use_future));

    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i)
        threads.emplace_back([&ctx] { ctx.run(); });
    int ok = 0;
    bool timed_out = false;
    for (auto& f : results) {
        if (f.wait_for(60s) != std::future_status::ready) {
            timed_out = true;
            break;
        }
        ok += f.get();
    }
    emu.stop();
    // ctx.run() must return on both threads now; bound the wait instead of hanging.
    std::promise<void> joined;
    auto joined_f = joined.get_future();
    std::thread joiner([&] {
        for (auto& t : threads)
            t.join();
        joined.set_value();
    });
    bool const returned = joined_f.wait_for(20s) == std::future_status::ready;
    if (!returned) ctx.stop();
    joiner.join();
    BOOST_TEST(!timed_out);
    BOOST_TEST(returned, "io_context::run() did not return after stop()");
    BOOST_TEST(ok == 16 * 5);
    BOOST_TEST(emu.stats().requests == 16u * 5u);
    BOOST_TEST(emu.stats().connections_accepted == 16u);
    BOOST_TEST(emu.stats().connections_open == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
