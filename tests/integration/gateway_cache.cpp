// SPDX-License-Identifier: BSL-1.0
// The gateway's response cache (model_group::cache) end to end, on the emulator: a repeated
// request is answered from the cache with the same answer and no upstream call, a cached answer
// is replayed as a stream, entries never cross gateway keys or model groups, requests with a
// temperature above 0 are not cached unless the group says so, Cache-Control no-cache and
// no-store, failures are never kept, hits are counted in /metrics and in the ledger, and a
// SQLite store keeps the cache across a restart. Upstream calls are counted by the emulator.
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"
#include "common/sqlite_query.hpp"
#include "common/test_redis.hpp"

#include <llmux/gateway.hpp>
#include <llmux/state.hpp>

#include "util/crypto.hpp"

#include <boost/json/parse.hpp>

#include <filesystem>
#include <random>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using llmux::test::emulator_fixture;
using llmux::test::http_reply;
using llmux::test::http_test_client;
using llmux::test::metric;
using llmux::test::query;
using llmux::test::run_coro;
using llmux::test::run_until;

namespace {

using headers_t = std::vector<std::pair<std::string, std::string>>;

gateway_key key(std::string name, std::string const& secret) {
    gateway_key k;
    k.name = std::move(name);
    k.sha256 = detail::sha256_hex(secret);
    return k;
}

headers_t bearer(std::string const& secret, headers_t more = {}) {
    more.emplace_back("Authorization", "Bearer " + secret);
    return more;
}

std::string body(std::string const& model, std::string const& prompt, bool stream = false,
                 std::string const& extra = {}) {
    return R"({"model":")" + model + R"(","max_tokens":20,)" + extra +
           R"("messages":[{"role":"user","content":")" + prompt + R"("}])" +
           (stream ? R"(,"stream":true,"stream_options":{"include_usage":true}})" : "}");
}

gateway_config config() {
    gateway_config g;
    g.keys = {key("team-a", "sk-a"), key("team-b", "sk-b")};
    g.models["cached"].deployments = {"openai/gpt-4o-mini"};
    g.models["cached"].cache = response_cache_policy{};
    g.models["cached-too"].deployments = {"openai/gpt-4o-mini"};
    g.models["cached-too"].cache = response_cache_policy{};
    g.models["warm"].deployments = {"openai/gpt-4o-mini"};
    g.models["warm"].cache = response_cache_policy{10min, true};
    g.models["plain"].deployments = {"openai/gpt-4o-mini"};
    g.models["failing"].deployments = {"openai/gpt-4o-mini~error=503"};
    g.models["failing"].cache = response_cache_policy{};
    g.models["claude"].deployments = {"anthropic/claude-sonnet-4.6"};
    g.models["claude"].cache = response_cache_policy{};
    g.access_log = false;
    return g;
}

struct fixture {
    emulator_fixture emu{emulator_config{}, false};
    std::unique_ptr<llmux::gateway> gw;

    explicit fixture(gateway_config g = config()) { start(std::move(g)); }
    ~fixture() { stop(); }

    void start(gateway_config g) {
        g.client.providers = emu.cfg.providers;
        g.client.tls = emu.cfg.tls;
        gw = std::make_unique<llmux::gateway>(emu.io.get_executor(), std::move(g));
        auto r = gw->start();
        BOOST_TEST_REQUIRE(!!r, "gateway failed to start: " << (r ? "" : r.error().to_string()));
    }
    void stop() {
        if (!gw) return;
        gw->stop();
        run_until(emu.io, [&] { return gw->stats().connections_open == 0; }, 5s);
        gw.reset();
        emu.io.poll();
    }

    /// Upstream requests the emulator has read so far.
    std::uint64_t upstream() const { return emu.emu->stats().requests; }

    http_reply post(std::string target, std::string b, headers_t h) {
        return run_coro(emu.io, [&]() -> asio::awaitable<http_reply> {
            http_test_client c(emu.io.get_executor());
            if (auto ec = co_await c.connect(gw->url())) {
                http_reply r;
                r.ec = ec;
                co_return r;
            }
            co_return co_await c.request(http::verb::post, target, b, h, false, 60s);
        });
    }
    http_reply chat(std::string b, std::string const& secret = "sk-a", headers_t more = {}) {
        return post("/v1/chat/completions", std::move(b), bearer(secret, std::move(more)));
    }
    std::string metrics() {
        return run_coro(emu.io, [&]() -> asio::awaitable<std::string> {
            http_test_client c(emu.io.get_executor());
            if (co_await c.connect(gw->url())) co_return std::string();
            auto r = co_await c.request(http::verb::get, "/metrics", {}, bearer("sk-a"), false);
            co_return r.body;
        });
    }
};

/// The text of a whole chat completion.
std::string content(http_reply const& r) {
    auto const v = r.json_body();
    return std::string(v.at("choices").at(0).at("message").at("content").as_string());
}

/// The text of a streamed chat completion, and whether it ended with [DONE].
std::pair<std::string, bool> streamed(http_reply const& r) {
    std::string text;
    bool done = false;
    for (auto const& d : llmux::test::sse_data(r.body)) {
        if (d == "[DONE]") {
            done = true;
            continue;
        }
        auto const v = json::parse(d).as_object();
        auto const& choices = v.at("choices").as_array();
        if (choices.empty()) continue;
        if (auto const* c = choices[0].at("delta").as_object().if_contains("content");
            c && c->is_string())
            text += c->as_string();
    }
    return {text, done};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_cache)

BOOST_AUTO_TEST_CASE(repeated_request_is_answered_from_the_cache_whole_and_streamed) {
    fixture fx;
    auto const n0 = fx.upstream();
    auto const first = fx.chat(body("cached", "Tell me about caching"));
    BOOST_TEST_REQUIRE(first.status == 200u, first.body);
    BOOST_TEST(first.header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.upstream() == n0 + 1);

    auto const second = fx.chat(body("cached", "Tell me about caching"));
    BOOST_TEST_REQUIRE(second.status == 200u, second.body);
    BOOST_TEST(second.header("x-llmux-cache") == "hit");
    BOOST_TEST(fx.upstream() == n0 + 1, "a hit must not ask the provider");
    BOOST_TEST(content(second) == content(first));
    BOOST_TEST(content(second).find("Tell me about caching") != std::string::npos);
    // The original usage comes back with it.
    BOOST_TEST(json::serialize(second.json_body().at("usage")) ==
               json::serialize(first.json_body().at("usage")));

    // A stream request of the same prompt is replayed as a stream.
    auto const third = fx.chat(body("cached", "Tell me about caching", true));
    BOOST_TEST_REQUIRE(third.status == 200u, third.body);
    BOOST_TEST(third.header("x-llmux-cache") == "hit");
    BOOST_TEST(third.header("content-type").starts_with("text/event-stream"));
    auto const [text, done] = streamed(third);
    BOOST_TEST(text == content(first));
    BOOST_TEST(done);
    BOOST_TEST(third.body.find("\"usage\":{") != std::string::npos);
    BOOST_TEST(fx.upstream() == n0 + 1);

    auto const m = fx.metrics();
    BOOST_TEST(metric(m, "llmux_gateway_cache_lookups_total{result=\"hit\"}") == 2.0);
    BOOST_TEST(metric(m, "llmux_gateway_cache_lookups_total{result=\"miss\"}") == 1.0);
    BOOST_TEST(metric(m, "llmux_gateway_cache_stores_total") == 1.0);
    BOOST_TEST(metric(m, "llmux_gateway_requests_total{model=\"cached\"}") == 3.0);
}

BOOST_AUTO_TEST_CASE(a_streamed_answer_is_kept_and_served_whole) {
    fixture fx;
    auto const n0 = fx.upstream();
    auto const first = fx.chat(body("cached", "Stream it first", true));
    BOOST_TEST_REQUIRE(first.status == 200u, first.body);
    BOOST_TEST(first.header("x-llmux-cache") == "miss");
    auto const [text, done] = streamed(first);
    BOOST_TEST(done);
    auto const second = fx.chat(body("cached", "Stream it first"));
    BOOST_TEST_REQUIRE(second.status == 200u, second.body);
    BOOST_TEST(second.header("x-llmux-cache") == "hit");
    BOOST_TEST(content(second) == text);
    BOOST_TEST(fx.upstream() == n0 + 1);
}

BOOST_AUTO_TEST_CASE(never_crosses_keys_or_groups) {
    fixture fx;
    auto const n0 = fx.upstream();
    BOOST_TEST(fx.chat(body("cached", "Who am I?")).header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.chat(body("cached", "Who am I?"), "sk-b").header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.chat(body("cached-too", "Who am I?")).header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.upstream() == n0 + 3);
    // Each now hits its own entry.
    BOOST_TEST(fx.chat(body("cached", "Who am I?"), "sk-b").header("x-llmux-cache") == "hit");
    BOOST_TEST(fx.chat(body("cached-too", "Who am I?")).header("x-llmux-cache") == "hit");
    BOOST_TEST(fx.upstream() == n0 + 3);
    // A different prompt or parameter is another entry.
    BOOST_TEST(fx.chat(body("cached", "Who are you?")).header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.chat(body("cached", "Who am I?", false, R"("seed":3,)"))
                   .header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.upstream() == n0 + 5);
}

BOOST_AUTO_TEST_CASE(temperature_above_zero_is_not_cached_unless_the_group_says_so) {
    fixture fx;
    auto const n0 = fx.upstream();
    auto const hot = body("cached", "Be creative", false, R"("temperature":0.7,)");
    BOOST_TEST(fx.chat(hot).header("x-llmux-cache") == "bypass");
    BOOST_TEST(fx.chat(hot).header("x-llmux-cache") == "bypass");
    BOOST_TEST(fx.upstream() == n0 + 2);
    auto const zero = body("cached", "Be exact", false, R"("temperature":0,)");
    BOOST_TEST(fx.chat(zero).header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.chat(zero).header("x-llmux-cache") == "hit");
    auto const warm = body("warm", "Be creative", false, R"("temperature":0.7,)");
    BOOST_TEST(fx.chat(warm).header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.chat(warm).header("x-llmux-cache") == "hit");
    BOOST_TEST(fx.upstream() == n0 + 4);
    // A group without a cache says nothing about one.
    auto const plain = fx.chat(body("plain", "Be exact"));
    BOOST_TEST(plain.status == 200u);
    BOOST_TEST(plain.header("x-llmux-cache").empty());
    BOOST_TEST(fx.chat(body("plain", "Be exact")).header("x-llmux-cache").empty());
    BOOST_TEST(fx.upstream() == n0 + 6);
}

BOOST_AUTO_TEST_CASE(cache_control_no_cache_and_no_store) {
    fixture fx;
    auto const n0 = fx.upstream();
    auto const b = body("cached", "Fresh please");
    BOOST_TEST(fx.chat(b).header("x-llmux-cache") == "miss");
    // no-cache: asks the provider again (and refreshes the entry).
    auto const fresh = fx.chat(b, "sk-a", {{"Cache-Control", "no-cache"}});
    BOOST_TEST(fresh.status == 200u);
    BOOST_TEST(fresh.header("x-llmux-cache") == "bypass");
    BOOST_TEST(fx.upstream() == n0 + 2);
    BOOST_TEST(fx.chat(b).header("x-llmux-cache") == "hit");
    // no-store: neither read nor kept.
    auto const secret = body("cached", "Do not keep this");
    BOOST_TEST(fx.chat(secret, "sk-a", {{"cache-control", "no-store"}}).header("x-llmux-cache") ==
               "bypass");
    BOOST_TEST(fx.chat(secret).header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.upstream() == n0 + 4);
}

BOOST_AUTO_TEST_CASE(failures_are_never_kept) {
    fixture fx;
    auto const n0 = fx.upstream();
    auto const a = fx.chat(body("failing", "Fail please"));
    BOOST_TEST(a.status == 503u);
    auto const b = fx.chat(body("failing", "Fail please"));
    BOOST_TEST(b.status == 503u);
    BOOST_TEST(b.header("x-llmux-cache") == "miss");
    BOOST_TEST(fx.upstream() == n0 + 2);
    BOOST_TEST(metric(fx.metrics(), "llmux_gateway_cache_stores_total") == 0.0);
}

BOOST_AUTO_TEST_CASE(answers_in_the_callers_format_whatever_the_upstream) {
    // An Anthropic upstream's answer, kept once, served to OpenAI clients whole and streamed.
    fixture fx;
    auto const n0 = fx.upstream();
    auto const first = fx.chat(body("claude", "Hello Claude"));
    BOOST_TEST_REQUIRE(first.status == 200u, first.body);
    auto const second = fx.chat(body("claude", "Hello Claude", true));
    BOOST_TEST_REQUIRE(second.status == 200u, second.body);
    BOOST_TEST(second.header("x-llmux-cache") == "hit");
    BOOST_TEST(streamed(second).first == content(first));
    BOOST_TEST(fx.upstream() == n0 + 1);
}

BOOST_AUTO_TEST_CASE(sqlite_store_keeps_the_cache_and_ledgers_hits) {
    std::random_device rd;
    auto const path = (std::filesystem::temp_directory_path() /
                       ("llmux-gw-cache-" + std::to_string(rd()) + std::to_string(rd()) + ".db"))
                          .string();
    struct cleanup {
        std::string p;
        ~cleanup() {
            for (char const* ext : {"", "-wal", "-shm"}) std::filesystem::remove(p + ext);
        }
    } const remove_db{path};
    auto cfg = config();
    cfg.state.backend = state_backend::sqlite;
    cfg.state.sqlite_path = path;
    fixture fx(cfg);
    auto const n0 = fx.upstream();
    auto const first = fx.chat(body("cached", "Remember me"));
    BOOST_TEST_REQUIRE(first.status == 200u, first.body);
    fx.stop();
    fx.start(cfg);
    auto const second = fx.chat(body("cached", "Remember me"));
    BOOST_TEST_REQUIRE(second.status == 200u, second.body);
    BOOST_TEST(second.header("x-llmux-cache") == "hit");
    BOOST_TEST(content(second) == content(first));
    BOOST_TEST(fx.upstream() == n0 + 1);
    fx.stop();

    // Two ledger rows: the answer (one attempt, its cost) and the hit (no attempt, no cost).
    auto const rows = query(path, "SELECT model_answered, attempts, cost_nano_usd, status "
                                  "FROM ledger WHERE key_name = 'team-a' ORDER BY id");
    BOOST_TEST_REQUIRE(rows.size() == 2u);
    BOOST_TEST(rows[0][0] == "openai/gpt-4o-mini");
    BOOST_TEST(rows[0][1] == "1");
    BOOST_TEST(std::stoll(rows[0][2]) > 0);
    BOOST_TEST(rows[1][0] == "cache");
    BOOST_TEST(rows[1][1] == "0");
    BOOST_TEST(rows[1][2] == "0");
    BOOST_TEST(rows[1][3] == "200");
}

BOOST_AUTO_TEST_CASE(replicas_share_the_cache_through_redis) {
    auto const redis = llmux::test::test_redis("llmux-gw-cache");
    if (!redis) return;
    auto cfg = config();
    cfg.state.backend = state_backend::redis;
    cfg.state.redis = *redis;
    fixture a(cfg);
    // A second replica on the same emulator, sharing the Redis.
    cfg.client.providers = a.emu.cfg.providers;
    cfg.client.tls = a.emu.cfg.tls;
    llmux::gateway b(a.emu.io.get_executor(), cfg);
    BOOST_TEST_REQUIRE(!!b.start());
    auto const n0 = a.upstream();
    auto const first = a.chat(body("cached", "Shared across replicas"));
    BOOST_TEST_REQUIRE(first.status == 200u, first.body);
    BOOST_TEST(first.header("x-llmux-cache") == "miss");
    auto const second = run_coro(a.emu.io, [&]() -> asio::awaitable<http_reply> {
        http_test_client c(a.emu.io.get_executor());
        if (auto ec = co_await c.connect(b.url())) {
            http_reply r;
            r.ec = ec;
            co_return r;
        }
        co_return co_await c.request(http::verb::post, "/v1/chat/completions",
                                     body("cached", "Shared across replicas"), bearer("sk-a"),
                                     false, 60s);
    });
    BOOST_TEST_REQUIRE(second.status == 200u, second.body);
    BOOST_TEST(second.header("x-llmux-cache") == "hit");
    BOOST_TEST(content(second) == content(first));
    BOOST_TEST(a.upstream() == n0 + 1);
    b.stop();
    run_until(a.emu.io, [&] { return b.stats().connections_open == 0; }, 5s);
}

BOOST_AUTO_TEST_SUITE_END()
