// SPDX-License-Identifier: BSL-1.0
// The client against the emulator's Gemini protocol over loopback TLS: AI Studio (`google/...`,
// x-goog-api-key) and Vertex AI (`vertex/...`, OAuth access tokens given directly or fetched with
// a service-account key): answers, streams, tools, images, JSON, errors and faults.
#include "auth/jwt.hpp"
#include "common/client_fixture.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace json = boost::json;
using llmux::test::emulator_fixture;

namespace {

constexpr std::string_view prompt = "Introduce Python in one sentence";

chat_request ask(std::string model, std::string text = std::string(prompt)) {
    return {.model = std::move(model), .messages = {user(std::move(text))}};
}

bool is(failure const& f, error e) {
    return f.code == make_error_code(e);
}

json::object weather_schema() {
    return {{"type", "object"},
            {"properties", {{"city", {{"type", "string"}}}}},
            {"required", json::array{"city"}}};
}

/// Lets the io_context run (and time pass) for `d`.
asio::awaitable<void> idle_for(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

/// A service-account key: generated first, so that its public part can be registered with the
/// emulator; the key file needs the emulator's URL, so it is written once that is known.
struct sa_key {
    detail::rsa_key_pair pair;
    std::filesystem::path path;

    sa_key() {
        static std::atomic<int> counter{0};
        auto key = detail::generate_rsa_key();
        BOOST_TEST_REQUIRE(!!key, "generate_rsa_key: " << (key ? "" : key.error().to_string()));
        pair = std::move(*key);
        path = std::filesystem::temp_directory_path() /
               ("llmux-gemini-sa-" + std::to_string(::getpid()) + "-" +
                std::to_string(counter++) + ".json");
    }
    sa_key(sa_key const&) = delete;
    sa_key& operator=(sa_key const&) = delete;
    ~sa_key() { std::filesystem::remove(path); }

    void write(std::string const& email, std::string const& token_uri) const {
        json::object o{{"type", "service_account"},
                       {"project_id", "llmux-emulator"},
                       {"private_key_id", "emu-key-1"},
                       {"private_key", pair.private_key_pem},
                       {"client_email", email},
                       {"token_uri", token_uri}};
        std::ofstream(path) << json::serialize(o);
    }
};

/// Points the fixture's `vertex` provider at a key file instead of a direct access token.
void use_key_file(emulator_fixture& fx, sa_key const& k) {
    auto& v = *fx.cfg.find("vertex");
    v.credentials.access_token.clear();
    v.credentials.google_credentials_file = k.path.string();
}

std::string const service_account = "llmux-test@llmux-emulator.iam.gserviceaccount.com";

}  // namespace

BOOST_AUTO_TEST_SUITE(gemini_client)

BOOST_AUTO_TEST_CASE(chat) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("google/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->content == "Emulated answer from gemini-2.0-flash to: " + std::string(prompt));
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST(r->native_finish_reason == "STOP");
    BOOST_TEST(r->model == "gemini-2.0-flash");
    BOOST_TEST(r->provider == "google");
    BOOST_TEST(r->requested_model == "google/gemini-2.0-flash");
    BOOST_TEST(r->id.rfind("emu-", 0) == 0u, r->id);
    BOOST_TEST(r->request_id == r->id);  // Google sends no request id header: the responseId
    BOOST_TEST_REQUIRE(r->usage.known());
    BOOST_TEST(*r->usage.output_tokens == 10u);
    BOOST_TEST(*r->usage.total_tokens == *r->usage.input_tokens + *r->usage.output_tokens);
    BOOST_TEST(!r->usage.reasoning_tokens);  // not reported, so unknown
}

BOOST_AUTO_TEST_CASE(stream) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto s = fx.stream(c, ask("google/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.chunks > 3u);
    BOOST_TEST(s.text == s.response->content);
    BOOST_TEST(s.text == "Emulated answer from gemini-2.0-flash to: " + std::string(prompt));
    BOOST_TEST((s.response->finish_reason == finish_reason::stop));
    BOOST_TEST(s.response->native_finish_reason == "STOP");
    BOOST_TEST_REQUIRE(s.response->usage.known());  // the last usageMetadata, not a partial one
    BOOST_TEST(*s.response->usage.output_tokens == 10u);
    BOOST_TEST(s.response->model == "gemini-2.0-flash");
    BOOST_TEST(!s.response->request_id.empty());
    BOOST_TEST(s.response->request_id == s.response->id);
    BOOST_TEST(s.response->ttft <= s.response->latency);
}

BOOST_AUTO_TEST_CASE(stream_paced) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto s = fx.stream(c, ask("google/gemini-2.0-flash~ttft=20ms,tps=400"));
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.text == s.response->content);
    BOOST_TEST(s.response->usage.known());
}

BOOST_AUTO_TEST_CASE(max_tokens_is_length) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask("google/gemini-2.0-flash~tokens=30");
    req.max_tokens = 4;
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->content == "Lorem ipsum dolor sit");
    BOOST_TEST((r->finish_reason == finish_reason::length));
    BOOST_TEST(r->native_finish_reason == "MAX_TOKENS");
    BOOST_TEST(*r->usage.output_tokens == 4u);
}

BOOST_AUTO_TEST_CASE(tool_call_round_trip) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask("google/gemini-2.0-flash", "Weather in Oslo?");
    req.tools = {tool{"get_weather", "Current weather", weather_schema()}};
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST((r->finish_reason == finish_reason::tool_calls));
    BOOST_TEST(r->native_finish_reason == "STOP");
    BOOST_TEST_REQUIRE(r->tool_calls.size() == 1u);
    auto const tc = r->tool_calls[0];
    BOOST_TEST(tc.name == "get_weather");
    BOOST_TEST(tc.id == "call_0");  // Gemini sends no id: numbered by position
    BOOST_TEST(json::parse(tc.arguments) == json::parse(R"({"city":"example"})"));

    // The result goes back without a name: the wire format finds it from the call's id.
    req.messages.push_back(assistant("", r->tool_calls));
    req.messages.push_back(tool_answer(tc.id, R"({"temp_c":4})"));
    auto second = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!second, second.error());
    BOOST_TEST((second->finish_reason == finish_reason::stop));
    BOOST_TEST(second->tool_calls.empty());
    BOOST_TEST(second->content.find(R"({"temp_c":4})") != std::string::npos, second->content);

    // A text result is wrapped as {"output": ...}; the model sees it.
    req.messages.back() = tool_answer(tc.id, "4 degrees", "get_weather");
    auto third = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!third, third.error());
    BOOST_TEST(third->content.find(R"({"output":"4 degrees"})") != std::string::npos,
               third->content);
}

BOOST_AUTO_TEST_CASE(stream_tool_call) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask("google/gemini-2.0-flash", "Weather?");
    req.tools = {tool{"lookup", "", {}}, tool{"get_weather", "Current weather", weather_schema()}};
    req.tool_choice = tool_choice::named("get_weather");
    auto s = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST((s.response->finish_reason == finish_reason::tool_calls));
    BOOST_TEST_REQUIRE(s.response->tool_calls.size() == 1u);
    BOOST_TEST(s.response->tool_calls[0].name == "get_weather");
    BOOST_TEST(s.response->tool_calls[0].id == "call_0");
    BOOST_TEST(json::parse(s.response->tool_calls[0].arguments) ==
               json::parse(R"({"city":"example"})"));
    BOOST_TEST(s.response->usage.known());

    // NONE: the model answers with text although tools are offered.
    req.tool_choice = tool_choice::none();
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->tool_calls.empty());
    BOOST_TEST((r->finish_reason == finish_reason::stop));
}

BOOST_AUTO_TEST_CASE(system_prompt_is_sent) {
    // The emulator counts systemInstruction in the prompt tokens.
    emulator_fixture fx;
    auto c = fx.make_client();
    auto plain = fx.chat(c, ask("google/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!!plain, plain.error());
    chat_request req = ask("google/gemini-2.0-flash");
    req.system = std::string(400, 's');
    req.messages.insert(req.messages.begin(), system(std::string(400, 't')));
    auto with = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!with, with.error());
    BOOST_TEST(*with->usage.input_tokens == *plain->usage.input_tokens + 200u);
    BOOST_TEST(with->content == plain->content);
}

BOOST_AUTO_TEST_CASE(image) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req{.model = "google/gemini-2.0-flash"};
    req.messages = {user({text_part{"Describe these"}, image_base64("image/png", "iVBORw0KGgo="),
                          image_part{"https://example.com/cat.png", ""}})};
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->content == "Emulated answer from gemini-2.0-flash to: Describe these");
}

BOOST_AUTO_TEST_CASE(json_answers) {
    emulator_fixture fx;
    auto c = fx.make_client();
    chat_request req = ask("google/gemini-2.0-flash");
    req.response_format = response_format::json_schema(
        "person", json::object{{"type", "object"},
                               {"properties", {{"name", {{"type", "string"}}},
                                               {"age", {{"type", "integer"}}},
                                               {"langs", {{"type", "array"}}}}},
                               {"required", json::array{"name", "age", "langs"}}});
    auto r = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(json::parse(r->content) == json::parse(R"({"name":"example","age":1,"langs":[]})"));

    req.response_format = response_format::json();
    auto o = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!o, o.error());
    boost::system::error_code ec;
    auto const v = json::parse(o->content, ec);
    BOOST_TEST_REQUIRE(!ec, o->content);
    BOOST_TEST(v.is_object());
}

BOOST_AUTO_TEST_CASE(rate_limited_with_retry_after) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("google/gemini-2.0-flash~error=429,retry_after=17s"));
    BOOST_TEST_REQUIRE(!r);
    auto const& d = r.error().diag;
    BOOST_TEST(is(r.error(), error::rate_limited), r.error());
    BOOST_TEST(d.http_status == 429u);
    BOOST_TEST(d.error_type == "RESOURCE_EXHAUSTED");
    BOOST_TEST_REQUIRE(d.retry_after.has_value());
    BOOST_TEST(d.retry_after->count() == 17000);
    BOOST_TEST(d.message.find("quota") != std::string::npos, d.message);
    BOOST_TEST(d.provider == "google");

    // The same through a stream: the error arrives before the stream starts.
    auto s = fx.stream(c, ask("google/gemini-2.0-flash~error=429,retry_after=17s"));
    BOOST_TEST_REQUIRE(!s.response);
    BOOST_TEST(is(s.response.error(), error::rate_limited), s.response.error());
    BOOST_TEST((s.response.error().diag.retry_after == std::optional<std::chrono::milliseconds>(17000ms)));
}

BOOST_AUTO_TEST_CASE(errors_by_status) {
    emulator_fixture fx;
    auto c = fx.make_client();
    struct tc {
        unsigned status;
        error code;
        std::string_view type;
    };
    for (auto const& t : {tc{400, error::bad_request, "INVALID_ARGUMENT"},
                          tc{401, error::auth_failed, "UNAUTHENTICATED"},
                          tc{402, error::payment_required, "RESOURCE_EXHAUSTED"},
                          tc{403, error::permission_denied, "PERMISSION_DENIED"},
                          tc{404, error::not_found, "NOT_FOUND"},
                          tc{499, error::server_error, "CANCELLED"},
                          tc{500, error::server_error, "INTERNAL"},
                          tc{503, error::overloaded, "UNAVAILABLE"},
                          tc{504, error::timeout, "DEADLINE_EXCEEDED"}}) {
        BOOST_TEST_CONTEXT(t.status) {
            auto r = fx.chat(c, ask("google/gemini-2.0-flash~error=" + std::to_string(t.status)));
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(is(r.error(), t.code), r.error());
            BOOST_TEST(r.error().diag.http_status == t.status);
            BOOST_TEST(r.error().diag.error_type == t.type);
            BOOST_TEST(!r.error().diag.message.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(stream_faults) {
    emulator_fixture fx;
    auto c = fx.make_client();

    // Gemini has no end marker: a stream cut before the finishReason is truncated, not short.
    auto t = fx.stream(c, ask("google/gemini-2.0-flash~fault=truncate,after=3"));
    BOOST_TEST_REQUIRE(!t.response);
    BOOST_TEST(is(t.response.error(), error::truncated), t.response.error());
    BOOST_TEST(t.text == "Emulated answer from");

    auto e = fx.stream(c, ask("google/gemini-2.0-flash~fault=error_mid,after=2"));
    BOOST_TEST_REQUIRE(!e.response);
    BOOST_TEST(is(e.response.error(), error::server_error), e.response.error());
    BOOST_TEST(e.response.error().diag.error_type == "INTERNAL");
    BOOST_TEST(e.text == "Emulated answer");

    auto m = fx.stream(c, ask("google/gemini-2.0-flash~fault=malformed,after=2"));
    BOOST_TEST_REQUIRE(!m.response);
    BOOST_TEST(is(m.response.error(), error::protocol_error), m.response.error());

    // A truncated tool-call stream: the call and the finish come together, so nothing arrives.
    chat_request req = ask("google/gemini-2.0-flash~fault=truncate", "Weather?");
    req.tools = {tool{"get_weather", "", weather_schema()}};
    auto tt = fx.stream(c, req);
    BOOST_TEST_REQUIRE(!tt.response);
    BOOST_TEST(is(tt.response.error(), error::truncated), tt.response.error());
}

BOOST_AUTO_TEST_CASE(whole_answer_faults) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto m = fx.chat(c, ask("google/gemini-2.0-flash~fault=malformed"));
    BOOST_TEST_REQUIRE(!m);
    BOOST_TEST(is(m.error(), error::protocol_error), m.error());
    auto e = fx.chat(c, ask("google/gemini-2.0-flash~fault=error_mid"));
    BOOST_TEST_REQUIRE(!e);
    BOOST_TEST(is(e.error(), error::server_error), e.error());
    // After the faults the connection pool still works.
    BOOST_TEST(!!fx.chat(c, ask("google/gemini-2.0-flash")));
}

BOOST_AUTO_TEST_CASE(api_key_checked) {
    emulator_fixture fx;
    auto& g = *fx.cfg.find("google");
    g.credentials.api_key.clear();
    g.key_required = false;  // send the request without a key
    {
        auto c = fx.make_client();
        auto r = fx.chat(c, ask("google/gemini-2.0-flash"));
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(is(r.error(), error::auth_failed), r.error());
        BOOST_TEST(r.error().diag.http_status == 403u);
        BOOST_TEST(r.error().diag.message.find("unregistered callers") != std::string::npos);
    }
    // The key in the query (`?key=`) is accepted too.
    g.query = {{"key", "llmux-emulator"}};
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("google/gemini-2.0-flash"));
    BOOST_TEST(!!r, (r ? "" : r.error().to_string()));
}

BOOST_AUTO_TEST_CASE(vertex_with_access_token) {
    emulator_fixture fx;  // route_all_to gives vertex the access token "llmux-emulator"
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("vertex/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->content == "Emulated answer from gemini-2.0-flash to: " + std::string(prompt));
    BOOST_TEST(r->provider == "vertex");
    auto s = fx.stream(c, ask("vertex/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.text == r->content);

    chat_request req = ask("vertex/gemini-2.0-flash", "Weather?");
    req.tools = {tool{"get_weather", "", weather_schema()}};
    auto tc = fx.chat(c, req);
    BOOST_TEST_REQUIRE(!!tc, tc.error());
    BOOST_TEST_REQUIRE(tc->tool_calls.size() == 1u);

    auto e = fx.chat(c, ask("vertex/gemini-2.0-flash~error=429,retry_after=3s"));
    BOOST_TEST_REQUIRE(!e);
    BOOST_TEST(is(e.error(), error::rate_limited), e.error());
    BOOST_TEST((e.error().diag.retry_after == std::optional<std::chrono::milliseconds>(3000ms)));
}

BOOST_AUTO_TEST_CASE(vertex_rejects_a_bad_token) {
    emulator_fixture fx;
    fx.cfg.find("vertex")->credentials.access_token = "not-a-token-the-emulator-knows";
    auto c = fx.make_client();
    auto r = fx.chat(c, ask("vertex/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::auth_failed), r.error());
    BOOST_TEST(r.error().diag.http_status == 401u);
    BOOST_TEST(r.error().diag.error_type == "UNAUTHENTICATED");
    BOOST_TEST(r.error().to_string().find("not-a-token-the-emulator-knows") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(vertex_with_service_account) {
    sa_key key;
    emulator_config ec;
    ec.google_service_accounts[service_account] = key.pair.public_key_pem;
    emulator_fixture fx(ec);
    key.write(service_account, fx.emu->tls_url() + "/token");
    use_key_file(fx, key);
    auto c = fx.make_client();

    auto r = fx.chat(c, ask("vertex/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->content == "Emulated answer from gemini-2.0-flash to: " + std::string(prompt));
    auto s = fx.stream(c, ask("vertex/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!!s.response, s.response.error());
    BOOST_TEST(s.text == r->content);
    // One token, fetched for the first call and reused for the second.
    BOOST_TEST(fx.emu->stats().tokens_issued == 1u);
}

BOOST_AUTO_TEST_CASE(concurrent_calls_share_one_token_fetch) {
    sa_key key;
    emulator_config ec;
    ec.google_service_accounts[service_account] = key.pair.public_key_pem;
    emulator_fixture fx(ec);
    key.write(service_account, fx.emu->tls_url() + "/token");
    use_key_file(fx, key);
    auto c = fx.make_client();

    constexpr int n = 20;
    int done = 0, ok = 0;
    std::vector<std::string> errors;
    chat_request const req = ask("vertex/gemini-2.0-flash");
    for (int i = 0; i < n; ++i)
        asio::co_spawn(fx.io, c.chat(req),
                       [&](std::exception_ptr e, result<chat_response> r) {
                           ++done;
                           if (!e && r)
                               ++ok;
                           else if (!e)
                               errors.push_back(r.error().to_string());
                       });
    BOOST_TEST_REQUIRE(llmux::test::run_until(fx.io, [&] { return done == n; }, 60s));
    BOOST_TEST(ok == n);
    for (auto const& e : errors) BOOST_TEST_MESSAGE(e);
    BOOST_TEST(fx.emu->stats().tokens_issued == 1u);
}

BOOST_AUTO_TEST_CASE(short_token_lifetime_refreshes) {
    sa_key key;
    emulator_config ec;
    ec.google_service_accounts[service_account] = key.pair.public_key_pem;
    ec.token_lifetime = 2s;
    emulator_fixture fx(ec);
    key.write(service_account, fx.emu->tls_url() + "/token");
    use_key_file(fx, key);
    auto c = fx.make_client();

    auto first = fx.chat(c, ask("vertex/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!!first, first.error());
    BOOST_TEST_REQUIRE(fx.emu->stats().tokens_issued == 1u);
    // Keep calling, letting the io_context run between calls, until the client has refreshed
    // its token (a 2 s token halfway through its life). Each round waits at least
    // 100 ms, so the cap is reached only if no refresh ever happens.
    int calls = 1;
    for (int round = 0; round < 200 && fx.emu->stats().tokens_issued < 2; ++round) {
        llmux::test::run_coro(fx.io, [] { return idle_for(100ms); });
        auto r = fx.chat(c, ask("vertex/gemini-2.0-flash"));
        BOOST_TEST_REQUIRE(!!r, r.error());  // never a call with an expired token
        ++calls;
    }
    BOOST_TEST(fx.emu->stats().tokens_issued == 2u);
    BOOST_TEST(calls > 2);  // the calls in between used the cached token
}

BOOST_AUTO_TEST_CASE(unregistered_service_account_fails) {
    sa_key registered, stranger;
    emulator_config ec;
    ec.google_service_accounts[service_account] = registered.pair.public_key_pem;
    emulator_fixture fx(ec);
    // The right account name, but signed with a key whose public part the endpoint does not know.
    stranger.write(service_account, fx.emu->tls_url() + "/token");
    use_key_file(fx, stranger);
    auto c = fx.make_client();

    auto r = fx.chat(c, ask("vertex/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::auth_failed), r.error());
    std::string const text = r.error().to_string();
    BOOST_TEST(text.find("token endpoint") != std::string::npos, text);
    BOOST_TEST(text.find("refused") != std::string::npos, text);
    BOOST_TEST(text.find(service_account) != std::string::npos, text);
    // Never the private key, not even a piece of it.
    BOOST_TEST(text.find("PRIVATE KEY") == std::string::npos);
    auto const& pem = stranger.pair.private_key_pem;
    auto const body = pem.find('\n') + 1;
    BOOST_TEST(text.find(pem.substr(body, 32)) == std::string::npos);
    BOOST_TEST(fx.emu->stats().tokens_issued == 0u);
    // Nothing reached the model without a token.
    auto s = fx.stream(c, ask("vertex/gemini-2.0-flash"));
    BOOST_TEST_REQUIRE(!s.response);
    BOOST_TEST(is(s.response.error(), error::auth_failed), s.response.error());
}

BOOST_AUTO_TEST_SUITE_END()
