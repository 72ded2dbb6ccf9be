// SPDX-License-Identifier: BSL-1.0
// The gateway's state in a store: a key's spend survives a restart (SQLite, Redis), replicas
// sharing one Redis share one budget and one rate, the ledger holds a row per request, keys
// read their spend (admins read any), and a failing store fails closed (503) or open (served,
// its spend kept and saved once the store is back).
//
// Redis tests use LLMUX_TEST_REDIS=host:port (scripts/test.sh starts one) and say they were
// skipped without it. Waits are bounded; nothing depends on wall-clock thresholds.
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"
#include "common/sqlite_query.hpp"
#include "common/test_redis.hpp"

#include <llmux/gateway.hpp>
#include <llmux/state.hpp>

#include "util/crypto.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>

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
using llmux::test::random_tag;
using llmux::test::run_coro;
using llmux::test::run_until;

namespace {

using headers_t = std::vector<std::pair<std::string, std::string>>;

/// A file name in the temporary directory, removed (with its WAL files) at the end.
struct temp_db {
    std::string path = (std::filesystem::temp_directory_path() /
                        ("llmux-gw-state-" + random_tag() + ".db"))
                           .string();
    ~temp_db() {
        for (char const* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path + ext);
    }
};

gateway_key key(std::string name, std::string const& secret,
                std::optional<double> budget = std::nullopt) {
    gateway_key k;
    k.name = std::move(name);
    k.sha256 = detail::sha256_hex(secret);
    k.budget_usd = budget;
    return k;
}

headers_t bearer(std::string const& secret) { return {{"Authorization", "Bearer " + secret}}; }

std::string const body =
    R"({"model":"mini","max_tokens":10,"messages":[{"role":"user","content":"Say something"}]})";

chat_request mini_request() {
    chat_request r;
    r.model = "openai/gpt-4o-mini";
    r.messages.push_back(user("Say something"));
    r.max_tokens = 10;
    return r;
}

gateway_config base_config() {
    gateway_config g;
    g.models["mini"].deployments = {"openai/gpt-4o-mini"};
    g.access_log = false;
    return g;
}

/// One emulator and any number of gateways in front of it, on one io_context.
struct stack {
    emulator_fixture emu{emulator_config{}, false};
    std::vector<std::unique_ptr<llmux::gateway>> gws;

    llmux::gateway& add(gateway_config g) {
        g.client.providers = emu.cfg.providers;
        g.client.tls = emu.cfg.tls;
        gws.push_back(std::make_unique<llmux::gateway>(emu.io.get_executor(), std::move(g)));
        auto r = gws.back()->start();
        BOOST_TEST_REQUIRE(!!r, "gateway failed to start: " << (r ? "" : r.error().to_string()));
        return *gws.back();
    }
    /// Stops and destroys gateway `i` (a restart is `drop` then `add`).
    void drop(std::size_t i) {
        auto& gw = *gws.at(i);
        gw.stop();
        run_until(emu.io, [&] { return gw.stats().connections_open == 0; }, 5s);
        gws.erase(gws.begin() + static_cast<std::ptrdiff_t>(i));
        emu.io.poll();  // lets the stopped connections finish
    }
    ~stack() {
        while (!gws.empty()) drop(gws.size() - 1);
    }

    http_reply request(llmux::gateway& gw, http::verb method, std::string target,
                       std::string b, headers_t headers) {
        return run_coro(emu.io, [&]() -> asio::awaitable<http_reply> {
            http_test_client c(emu.io.get_executor());
            if (auto ec = co_await c.connect(gw.url())) {
                http_reply r;
                r.ec = ec;
                co_return r;
            }
            co_return co_await c.request(method, target, b, headers, false, 60s);
        });
    }
    http_reply chat(llmux::gateway& gw, std::string const& secret) {
        return request(gw, http::verb::post, "/v1/chat/completions", body, bearer(secret));
    }
    http_reply get(llmux::gateway& gw, std::string target, std::string const& secret) {
        return request(gw, http::verb::get, std::move(target), {}, bearer(secret));
    }
    /// `GET /v1/llmux/keys/{name}` as `secret`, parsed.
    json::object spend(llmux::gateway& gw, std::string const& name, std::string const& secret) {
        auto const r = get(gw, "/v1/llmux/keys/" + name, secret);
        BOOST_TEST_REQUIRE(r.status == 200u, r.body);
        return json::parse(r.body).as_object();
    }
};

std::int64_t spent_nano(json::object const& o) { return o.at("spent_nano_usd").to_number<std::int64_t>(); }

/// A port on 127.0.0.1 where nothing listens (bound, then closed).
std::uint16_t dead_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

/// A memory store that fails every operation while `down` is set (a store outage).
class flaky_store final : public state_store {
public:
    std::atomic<bool> down{false};
    memory_store inner;

    std::string_view kind() const noexcept override { return "flaky"; }
    bool available() const noexcept override { return !down; }
    bool keeps_ledger() const noexcept override { return false; }
    asio::awaitable<result<reserve_outcome>> reserve(std::string k, nano_usd e,
                                                     std::optional<nano_usd> b,
                                                     std::chrono::milliseconds ttl) override {
        if (down) co_return outage();
        co_return co_await inner.reserve(std::move(k), e, b, ttl);
    }
    asio::awaitable<result<settle_outcome>> settle(budget_reservation r, settlement s) override {
        if (down) co_return outage();
        co_return co_await inner.settle(std::move(r), std::move(s));
    }
    asio::awaitable<result<key_spend>> spend(std::string k) override {
        if (down) co_return outage();
        co_return co_await inner.spend(std::move(k));
    }
    asio::awaitable<result<void>> record(ledger_entry) override { co_return result<void>{}; }
    asio::awaitable<result<rate_decision>> acquire_rate(std::string b, rate_quota q,
                                                        std::uint64_t t) override {
        if (down) co_return outage();
        co_return co_await inner.acquire_rate(std::move(b), q, t);
    }
    asio::awaitable<result<void>> correct_rate(std::string b, rate_quota q,
                                               std::int64_t d) override {
        if (down) co_return outage();
        co_return co_await inner.correct_rate(std::move(b), q, d);
    }
    asio::awaitable<result<model_health>> health(std::string m) override {
        co_return co_await inner.health(std::move(m));
    }
    asio::awaitable<result<void>> put_breaker(std::string m, breaker_snapshot b) override {
        co_return co_await inner.put_breaker(std::move(m), b);
    }
    asio::awaitable<result<latency_estimate>> observe_latency(std::string m,
                                                              latency_sample s) override {
        co_return co_await inner.observe_latency(std::move(m), s);
    }
    asio::awaitable<result<std::optional<std::string>>> cache_get(std::string k) override {
        co_return co_await inner.cache_get(std::move(k));
    }
    asio::awaitable<result<void>> cache_put(std::string k, std::string v,
                                            std::chrono::milliseconds ttl) override {
        co_return co_await inner.cache_put(std::move(k), std::move(v), ttl);
    }

private:
    static failure outage() { return failure(state_error::unavailable, "test outage"); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_state)

BOOST_AUTO_TEST_CASE(a_restarted_gateway_keeps_spend_and_the_ledger_in_sqlite) {
    temp_db db;
    client probe{asio::system_executor(), client_config{}};
    auto const most = probe.max_cost(mini_request());
    BOOST_TEST_REQUIRE(most.has_value());
    auto cfg = base_config();
    cfg.keys.push_back(key("small", "sk-small", *most * 1.5));
    cfg.state.backend = state_backend::sqlite;
    cfg.state.sqlite_path = db.path;

    stack s;
    s.add(cfg);
    unsigned ok = 0;
    unsigned status = 200;
    for (int i = 0; i < 10 && status == 200u; ++i) {
        auto const r = s.chat(*s.gws[0], "sk-small");
        status = r.status;
        if (r.status == 200u) ++ok;
    }
    BOOST_TEST(ok >= 1u);
    BOOST_TEST_REQUIRE(status == 402u);
    auto const before = s.spend(*s.gws[0], "small", "sk-small");
    BOOST_TEST(before.at("store").as_string() == "sqlite");
    BOOST_TEST(spent_nano(before) > 0);
    BOOST_TEST(before.at("reservations").to_number<int>() == 0);

    // A restart: a new process would open the same file.
    s.drop(0);
    auto& again = s.add(cfg);
    auto const refused = s.chat(again, "sk-small");
    BOOST_TEST(refused.status == 402u, refused.body);  // still spent
    // The answer says why, with the figures (not just "no").
    BOOST_TEST(refused.body.find("may cost up to $") != std::string::npos, refused.body);
    BOOST_TEST(refused.body.find("is left (spent $") != std::string::npos, refused.body);
    auto const after = s.spend(again, "small", "sk-small");
    BOOST_TEST(spent_nano(after) == spent_nano(before));
    auto const& by = after.at("by_model").as_array();
    BOOST_TEST_REQUIRE(by.size() == 1u);
    BOOST_TEST(by[0].at("model").as_string() == "openai/gpt-4o-mini");
    BOOST_TEST(by[0].at("spent_nano_usd").to_number<std::int64_t>() == spent_nano(after));
    s.drop(0);

    // The ledger: one row per answered request, its cost summing to the spend, with tokens.
    auto const rows = query(db.path,
                            "SELECT count(*), sum(cost_nano_usd), min(input_tokens), "
                            "min(model_requested), min(model_answered), min(status) "
                            "FROM ledger WHERE key_name = 'small' AND status = 200");
    BOOST_TEST_REQUIRE(rows.size() == 1u);
    BOOST_TEST(rows[0][0] == std::to_string(ok));
    BOOST_TEST(rows[0][1] == std::to_string(spent_nano(after)));
    BOOST_TEST(rows[0][2] != "NULL");
    BOOST_TEST(rows[0][3] == "mini");
    BOOST_TEST(rows[0][4] == "openai/gpt-4o-mini");
    BOOST_TEST(rows[0][5] == "200");
    // The refusals too, before and after the restart, with their reason.
    auto const refusals = query(db.path,
                                "SELECT count(*), min(error), max(error), sum(cost_nano_usd) "
                                "FROM ledger WHERE key_name = 'small' AND status = 402");
    BOOST_TEST(refusals[0][0] == "2");
    BOOST_TEST(refusals[0][1] == "budget_exceeded");
    BOOST_TEST(refusals[0][2] == "budget_exceeded");
    BOOST_TEST(refusals[0][3] == "NULL");  // nothing charged
}

BOOST_AUTO_TEST_CASE(keys_read_their_own_spend_and_admin_keys_read_any) {
    auto cfg = base_config();
    cfg.keys.push_back(key("a", "sk-a", 5.0));
    cfg.keys.push_back(key("b", "sk-b"));
    auto admin = key("ops", "sk-ops");
    admin.admin = true;
    cfg.keys.push_back(admin);
    stack s;
    auto& gw = s.add(cfg);
    BOOST_TEST_REQUIRE(s.chat(gw, "sk-a").status == 200u);
    BOOST_TEST_REQUIRE(s.chat(gw, "sk-b").status == 200u);

    auto const own = s.spend(gw, "a", "sk-a");
    BOOST_TEST(own.at("name").as_string() == "a");
    BOOST_TEST(own.at("store").as_string() == "memory");
    BOOST_TEST(own.at("budget_usd").to_number<double>() == 5.0);
    BOOST_TEST(spent_nano(own) > 0);
    // The same figure as the gateway's own cost counter: nothing lost between the two.
    double const counted = metric(gw.metrics_text(), R"(llmux_gateway_cost_usd_total{model="mini"})");
    auto const b_spend = s.spend(gw, "b", "sk-ops");
    BOOST_TEST(b_spend.at("budget_usd").is_null());
    BOOST_TEST(spent_nano(b_spend) > 0);  // keys without budget are charged too
    BOOST_TEST(std::abs(counted - double(spent_nano(own) + spent_nano(b_spend)) / 1e9) < 1e-9);

    auto const other = s.get(gw, "/v1/llmux/keys/b", "sk-a");
    BOOST_TEST(other.status == 403u, other.body);
    BOOST_TEST(other.body.find("only its own") != std::string::npos);
    auto const nobody_as_user = s.get(gw, "/v1/llmux/keys/nobody", "sk-a");
    BOOST_TEST(nobody_as_user.status == 403u);  // existence is not revealed to non-admins
    BOOST_TEST(s.get(gw, "/v1/llmux/keys/nobody", "sk-ops").status == 404u);
    BOOST_TEST(s.get(gw, "/v1/llmux/keys/a", "sk-wrong").status == 401u);
    BOOST_TEST(spent_nano(s.spend(gw, "a", "sk-ops")) == spent_nano(own));
    auto const post = s.request(gw, http::verb::post, "/v1/llmux/keys/a", "{}", bearer("sk-ops"));
    BOOST_TEST(post.status == 405u);
}

BOOST_AUTO_TEST_CASE(an_unreachable_store_fails_closed_by_default_and_open_when_configured) {
    auto cfg = base_config();
    cfg.keys.push_back(key("a", "sk-a", 5.0));
    cfg.state.backend = state_backend::redis;
    cfg.state.redis.host = "127.0.0.1";
    cfg.state.redis.port = dead_port();
    cfg.state.redis.connect_timeout = 2s;
    cfg.state.redis.request_timeout = 2s;
    stack s;
    auto& closed = s.add(cfg);
    auto const r = s.chat(closed, "sk-a");
    BOOST_TEST(r.status == 503u, r.body);
    auto const e = json::parse(r.body).at("error").as_object();
    BOOST_TEST(e.at("code").as_string() == "state_unavailable");
    BOOST_TEST(!r.header("retry-after").empty());
    // No internal detail (the store's address) in the answer.
    BOOST_TEST(r.body.find(std::to_string(cfg.state.redis.port)) == std::string::npos);
    auto const m = closed.metrics_text();
    BOOST_TEST(metric(m, R"(llmux_state_available{store="redis"})") == 0);
    BOOST_TEST(metric(m, "llmux_state_errors_total") >= 1);

    cfg.state.fail_open = true;
    auto& open = s.add(cfg);
    auto const served = s.chat(open, "sk-a");
    BOOST_TEST(served.status == 200u, served.body);
    // Its spend could not be saved: kept for retry, and visible.
    BOOST_TEST(metric(open.metrics_text(), "llmux_state_unsaved_settlements") == 1);
}

BOOST_AUTO_TEST_CASE(spend_during_an_outage_is_saved_when_the_store_returns) {
    auto store = std::make_shared<flaky_store>();
    auto cfg = base_config();
    cfg.keys.push_back(key("a", "sk-a", 5.0));
    cfg.store = store;
    cfg.state.fail_open = true;
    stack s;
    auto& gw = s.add(cfg);
    BOOST_TEST_REQUIRE(s.chat(gw, "sk-a").status == 200u);
    auto const one = spent_nano(s.spend(gw, "a", "sk-a"));
    BOOST_TEST_REQUIRE(one > 0);

    store->down = true;
    BOOST_TEST(s.chat(gw, "sk-a").status == 200u);  // fail open: served, unchecked
    BOOST_TEST(s.chat(gw, "sk-a").status == 200u);
    BOOST_TEST(metric(gw.metrics_text(), "llmux_state_unsaved_settlements") == 2);
    BOOST_TEST(s.get(gw, "/v1/llmux/keys/a", "sk-a").status == 503u);

    store->down = false;
    BOOST_TEST(s.chat(gw, "sk-a").status == 200u);  // flushes the kept ones first
    BOOST_TEST(metric(gw.metrics_text(), "llmux_state_unsaved_settlements") == 0);
    // Every answer is charged: one before, two during the outage, one after (same request,
    // same price each time).
    BOOST_TEST(spent_nano(s.spend(gw, "a", "sk-a")) == 4 * one);
}

BOOST_AUTO_TEST_CASE(replicas_sharing_redis_share_circuits_and_latency) {
    // Replica A sees a deployment fail until its circuit opens; replica B, which never called
    // it, skips it from its first request on, and routes on A's latency measurements.
    auto const redis = llmux::test::test_redis("llmux-gw-test");
    if (!redis) return;
    auto cfg = base_config();
    cfg.state.backend = state_backend::redis;
    cfg.state.redis = *redis;
    cfg.client.breaker = {.enabled = true, .failure_threshold = 2, .window = std::chrono::minutes(10),
                          .cooldown = std::chrono::minutes(10)};
    std::string const broken = "openai/gpt-4o-mini~error=503";
    cfg.models["pair"].deployments = {broken, "openai/gpt-4o"};
    stack s;
    auto& a = s.add(cfg);
    auto const pair = std::string(
        R"({"model":"pair","max_tokens":10,"messages":[{"role":"user","content":"Hi"}]})");
    auto const n0 = s.emu.emu->stats().requests;
    for (int i = 0; i < 2; ++i) {
        auto const r = s.request(a, http::verb::post, "/v1/chat/completions", pair, {});
        BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    }
    // Each request asked the broken deployment, then the next one.
    BOOST_TEST(s.emu.emu->stats().requests == n0 + 4);
    BOOST_TEST((a.upstream().estimate(broken).circuit == circuit_state::open));

    auto& b = s.add(cfg);
    BOOST_TEST((b.upstream().estimate(broken).circuit == circuit_state::closed));
    auto const r = s.request(b, http::verb::post, "/v1/chat/completions", pair, {});
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(s.emu.emu->stats().requests == n0 + 5, "replica B asked the broken deployment");
    BOOST_TEST((b.upstream().estimate(broken).circuit == circuit_state::open));
    // Every replica's answers of gpt-4o are in B's latency estimate (A's two and B's one).
    auto const e = b.upstream().estimate("openai/gpt-4o");
    BOOST_TEST(e.samples == 3u);
    BOOST_TEST(e.ewma_latency.has_value());
}

BOOST_AUTO_TEST_CASE(replicas_sharing_redis_share_one_budget_exactly) {
    auto const redis = llmux::test::test_redis("llmux-gw-test");
    if (!redis) return;
    client probe{asio::system_executor(), client_config{}};
    auto const most = probe.max_cost(mini_request());
    BOOST_TEST_REQUIRE(most.has_value());

    auto cfg = base_config();
    cfg.state.backend = state_backend::redis;
    cfg.state.redis = *redis;
    auto admin = key("ops", "sk-ops");
    admin.admin = true;
    cfg.keys.push_back(admin);
    cfg.keys.push_back(key("probe", "sk-probe"));
    stack s;
    // What one request costs (the emulator answers the same request the same way).
    {
        auto& gw = s.add(cfg);
        BOOST_TEST_REQUIRE(s.chat(gw, "sk-probe").status == 200u);
    }
    auto const each = spent_nano(s.spend(*s.gws[0], "probe", "sk-ops"));
    BOOST_TEST_REQUIRE(each > 0);
    s.drop(0);

    // A budget for 20 answers, 60 requests at once across three replicas.
    std::int64_t const budget_nano = 20 * each;
    cfg.keys.push_back(key("team", "sk-team", double(budget_nano) / 1e9));
    for (int i = 0; i < 3; ++i) s.add(cfg);
    int constexpr n = 60;
    std::vector<unsigned> statuses(n, 0);
    run_coro(
        s.emu.io,
        [&]() -> asio::awaitable<void> {
            auto ex = co_await asio::this_coro::executor;
            int done = 0;
            for (int i = 0; i < n; ++i)
                asio::co_spawn(
                    ex,
                    [&, i]() -> asio::awaitable<void> {
                        http_test_client c(ex);
                        auto& gw = *s.gws[static_cast<std::size_t>(i % 3)];
                        if (!co_await c.connect(gw.url()))
                            statuses[static_cast<std::size_t>(i)] =
                                (co_await c.request(http::verb::post, "/v1/chat/completions", body,
                                                    bearer("sk-team"), false, 60s))
                                    .status;
                        ++done;
                    },
                    asio::detached);
            asio::steady_timer t(ex);
            while (done < n) {
                t.expires_after(2ms);
                co_await t.async_wait(asio::use_awaitable);
            }
        },
        120s);
    int ok = 0, refused = 0;
    for (auto st : statuses) {
        if (st == 200u) ++ok;
        if (st == 402u) ++refused;
    }
    BOOST_TEST(ok + refused == n);
    // Requests at once each hold the most they may cost, so at least that many fit.
    BOOST_TEST(ok >= static_cast<int>(double(budget_nano) / 1e9 / *most));
    // Then one at a time, round the replicas, until the budget refuses.
    unsigned last = 200;
    for (int i = 0; i < 40 && last == 200u; ++i) {
        last = s.chat(*s.gws[static_cast<std::size_t>(i % 3)], "sk-team").status;
        if (last == 200u) ++ok;
    }
    BOOST_TEST_REQUIRE(last == 402u);
    auto const sp = s.spend(*s.gws[0], "team", "sk-ops");
    BOOST_TEST(sp.at("reservations").to_number<int>() == 0);  // every one settled
    // Exact: what was spent is what the answers cost, never over the budget, and the last
    // refusal was needed (less than one reservation was left).
    BOOST_TEST(spent_nano(sp) == ok * each);
    BOOST_TEST(spent_nano(sp) <= budget_nano);
    BOOST_TEST(double(budget_nano - spent_nano(sp)) / 1e9 < *most);

    // A restart of every replica: the key is still spent (Redis holds it).
    while (!s.gws.empty()) s.drop(0);
    auto& fresh = s.add(cfg);
    BOOST_TEST(s.chat(fresh, "sk-team").status == 402u);
    BOOST_TEST(spent_nano(s.spend(fresh, "team", "sk-ops")) == spent_nano(sp));
}

BOOST_AUTO_TEST_CASE(replicas_sharing_redis_share_one_request_rate) {
    auto const redis = llmux::test::test_redis("llmux-gw-test");
    if (!redis) return;
    auto cfg = base_config();
    cfg.state.backend = state_backend::redis;
    cfg.state.redis = *redis;
    auto k = key("slow", "sk-slow");
    k.requests_per_minute = 2;  // one more every 30 s
    cfg.keys.push_back(k);
    stack s;
    for (int i = 0; i < 3; ++i) s.add(cfg);
    auto const start = std::chrono::steady_clock::now();
    int ok = 0, limited = 0;
    for (int i = 0; i < 9; ++i) {
        auto const st = s.chat(*s.gws[static_cast<std::size_t>(i % 3)], "sk-slow").status;
        if (st == 200u) ++ok;
        if (st == 429u) ++limited;
    }
    auto const refills = (std::chrono::steady_clock::now() - start) / 30s;
    BOOST_TEST(ok + limited == 9);
    BOOST_TEST(ok >= 2);
    BOOST_TEST(ok <= 2 + static_cast<int>(refills));  // one rate for the three replicas
}

BOOST_AUTO_TEST_CASE(state_settings_load_from_json) {
    gateway_config g;
    auto r = g.load_json(R"({"gateway":{"state":{"sqlite":"x.db","durability":"normal",
        "on_failure":"open","reservation_ttl":"2m","ledger_max_age":"720h",
        "ledger_max_rows":1000}}})");
    BOOST_TEST_REQUIRE(r.has_value(), r.error());
    BOOST_TEST((g.state.backend == state_backend::sqlite));
    BOOST_TEST(g.state.sqlite_path == "x.db");
    BOOST_TEST((g.state.durability == sqlite_durability::normal));
    BOOST_TEST(g.state.fail_open);
    BOOST_TEST(g.state.reservation_ttl.count() == 120000);
    BOOST_TEST(g.state.retention.max_age->count() == 720);
    BOOST_TEST(*g.state.retention.max_rows == 1000u);

    auto env = [](char const* n) -> char const* {
        return std::string_view(n) == "RPW" ? "hunter2" : nullptr;
    };
    r = g.load_json(R"({"gateway":{"state":{"redis":"10.0.0.5:6380","redis_password_env":"RPW",
        "redis_prefix":"gw1:"}}})", "c", env);
    BOOST_TEST_REQUIRE(r.has_value(), r.error());
    BOOST_TEST((g.state.backend == state_backend::redis));
    BOOST_TEST(g.state.redis.host == "10.0.0.5");
    BOOST_TEST(g.state.redis.port == 6380);
    BOOST_TEST(g.state.redis.password == "hunter2");
    BOOST_TEST(g.state.redis.prefix == "gw1:");

    auto const bad = [&](char const* text, char const* says) {
        gateway_config c;
        auto const e = c.load_json(text, "c", env);
        BOOST_TEST_REQUIRE(!e.has_value(), text);
        BOOST_TEST(e.error().diag.message.find(says) != std::string::npos, e.error().diag.message);
        BOOST_TEST(e.error().diag.message.find("hunter2") == std::string::npos);
    };
    bad(R"({"gateway":{"state":{"sqlite":"a","redis":"b:1"}}})", "one of sqlite, redis or memory");
    bad(R"({"gateway":{"state":{"redis":"nohost"}}})", "gateway.state.redis");
    bad(R"({"gateway":{"state":{"on_failure":"maybe"}}})", "gateway.state.on_failure");
    bad(R"({"gateway":{"state":{"redis_password_env":"UNSET"}}})", "UNSET");
    bad(R"({"gateway":{"state":{"sqlite":""}}})", "gateway.state.sqlite");
    bad(R"({"gateway":{"state":{"colour":"blue"}}})", "unknown field gateway.state.colour");
    bad(R"({"gateway":{"state":"llmux.db"}})", "gateway.state must be an object");
}

BOOST_AUTO_TEST_CASE(an_unusable_sqlite_file_stops_the_gateway_from_starting) {
    auto cfg = base_config();
    cfg.state.backend = state_backend::sqlite;
    cfg.state.sqlite_path = "/nonexistent-dir-llmux/state.db";
    stack s;
    cfg.client.providers = s.emu.cfg.providers;
    llmux::gateway gw(s.emu.io.get_executor(), cfg);
    auto const r = gw.start();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().diag.message.find("gateway.state") != std::string::npos, r.error());
    BOOST_TEST(r.error().diag.message.find("/nonexistent-dir-llmux/state.db") != std::string::npos,
               r.error());
}

BOOST_AUTO_TEST_SUITE_END()
