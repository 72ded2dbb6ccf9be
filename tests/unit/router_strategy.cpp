// SPDX-License-Identifier: BSL-1.0
// The router's strategies (include/llmux/router.hpp): each one's order and ties on synthetic
// candidates, the randomness repeatable with a seed, a user's own strategy, and the router's
// own rules after any strategy (uncallable last, open circuits before them).
#include <llmux/router.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <map>

using namespace llmux;
using namespace std::chrono_literals;

namespace {

model_info info(std::string id, std::optional<double> in, std::optional<double> out, int quality) {
    model_info m;
    m.id = std::move(id);
    m.input_price = in;
    m.output_price = out;
    m.quality = quality;
    return m;
}

route_candidate cand(std::string id, model_info const* i = nullptr,
                     std::optional<double> cost = std::nullopt) {
    route_candidate c;
    c.id = std::move(id);
    c.info = i;
    c.expected_cost = cost;
    return c;
}

/// Numbers the candidates in list order (their `position`).
std::vector<route_candidate> numbered(std::vector<route_candidate> c) {
    for (std::size_t i = 0; i < c.size(); ++i) c[i].position = i;
    return c;
}

std::vector<std::string> ids(std::vector<route_candidate> const& c) {
    std::vector<std::string> out;
    for (auto const& x : c) out.push_back(x.id);
    return out;
}

std::vector<std::string> order(route how, std::vector<route_candidate> c,
                               router_config const& cfg = {}, std::uint64_t seed = 1) {
    std::mt19937_64 rng(seed);
    route_context ctx{cfg, rng};
    strategy(how).order(c, ctx);
    return ids(c);
}

using list = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(router_strategy)

BOOST_AUTO_TEST_CASE(cheapest_by_expected_cost_unpriced_last_ties_in_order) {
    auto const c = numbered({cand("p/unpriced"), cand("p/mid", nullptr, 0.02),
                             cand("p/low-1", nullptr, 0.01), cand("p/high", nullptr, 0.5),
                             cand("p/low-2", nullptr, 0.01)});
    BOOST_TEST((order(route::cheapest, c) == list{"p/low-1", "p/low-2", "p/mid", "p/high",
                                                  "p/unpriced"}));
    BOOST_TEST(strategy(route::cheapest).name() == "cheapest");
}

BOOST_AUTO_TEST_CASE(best_by_quality_then_cost_unknown_last) {
    auto const a = info("p/a", 1, 2, 80), b = info("p/b", 5, 10, 90), c = info("p/c", 0.1, 0.2, 80),
               d = info("p/d", 0.1, 0.2, 80);
    auto const l = numbered({cand("p/unknown"), cand("p/a", &a, 0.3), cand("p/b", &b, 2.0),
                             cand("p/c", &c, 0.03), cand("p/d", &d, 0.03)});
    BOOST_TEST((order(route::best, l) == list{"p/b", "p/c", "p/d", "p/a", "p/unknown"}));
}

BOOST_AUTO_TEST_CASE(fastest_by_measured_ttft_then_unmeasured_in_order) {
    auto with = [](std::string id, std::uint64_t samples, std::optional<std::chrono::milliseconds> t) {
        auto c = cand(std::move(id));
        c.estimate.samples = samples;
        if (t) c.estimate.ewma_ttft = *t;
        return c;
    };
    router_config cfg;
    cfg.min_samples = 3;
    cfg.exploration = 0;
    auto const l = numbered({with("p/new-1", 0, std::nullopt), with("p/slow", 5, 800ms),
                             with("p/few", 2, 10ms), with("p/fast", 3, 50ms),
                             with("p/new-2", 0, std::nullopt)});
    // Two samples are not enough to trust p/few's 10 ms: it ranks with the unmeasured.
    BOOST_TEST((order(route::fastest, l, cfg) == list{"p/fast", "p/slow", "p/new-1", "p/few",
                                                      "p/new-2"}));
    // Exploration always: an unmeasured one (drawn with the seed) goes first; the rest keep
    // their order.
    cfg.exploration = 1.0;
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        auto const o = order(route::fastest, l, cfg, seed);
        BOOST_TEST((o.front() == "p/new-1" || o.front() == "p/few" || o.front() == "p/new-2"));
        BOOST_TEST((o[1] == "p/fast"));
        BOOST_TEST((o == order(route::fastest, l, cfg, seed)));  // repeatable
    }
    // Nothing measured: nothing to explore from; the list order stands.
    auto const none = numbered({with("p/x", 0, std::nullopt), with("p/y", 0, std::nullopt)});
    BOOST_TEST((order(route::fastest, none, cfg) == list{"p/x", "p/y"}));
}

BOOST_AUTO_TEST_CASE(least_busy_by_in_flight_then_latency) {
    auto with = [](std::string id, std::uint64_t in_flight, std::optional<std::chrono::milliseconds> lat) {
        auto c = cand(std::move(id));
        c.estimate.in_flight = in_flight;
        if (lat) c.estimate.ewma_latency = *lat;
        return c;
    };
    auto const l = numbered({with("p/busy", 3, 10ms), with("p/idle-slow", 0, 900ms),
                             with("p/idle-new", 0, std::nullopt), with("p/idle-fast", 0, 100ms),
                             with("p/one", 1, std::nullopt), with("p/idle-fast-2", 0, 100ms)});
    BOOST_TEST((order(route::least_busy, l) == list{"p/idle-fast", "p/idle-fast-2", "p/idle-slow",
                                                    "p/idle-new", "p/one", "p/busy"}));
}

BOOST_AUTO_TEST_CASE(weighted_draws_by_weight_repeatably) {
    auto with = [](std::string id, double w) {
        auto c = cand(std::move(id));
        c.weight = w;
        return c;
    };
    auto const l = numbered({with("p/heavy", 3), with("p/light", 1), with("p/off", 0)});
    std::map<std::string, int> first;
    router_config cfg;
    std::mt19937_64 rng(7);
    route_context ctx{cfg, rng};
    int const n = 4000;
    for (int i = 0; i < n; ++i) {
        auto c = l;
        strategy(route::weighted).order(c, ctx);
        BOOST_TEST_REQUIRE(c.size() == 3u);
        BOOST_TEST(c.back().id == "p/off");  // a weight of 0 is never drawn before the others
        ++first[c.front().id];
    }
    // 3:1 weights: the heavy one first about 75 % of the time (4000 draws; the seed makes
    // these counts the same on every run).
    BOOST_TEST(first["p/heavy"] > 2800);
    BOOST_TEST(first["p/heavy"] < 3200);
    BOOST_TEST(first["p/heavy"] + first["p/light"] == n);
    // The same seed, the same orders.
    BOOST_TEST((order(route::weighted, l, cfg, 99) == order(route::weighted, l, cfg, 99)));
}

namespace {
/// A user's own strategy: reverse alphabetical order of the ids.
class reverse_alphabetical final : public route_strategy {
public:
    std::string_view name() const noexcept override { return "reverse"; }
    void order(std::vector<route_candidate>& c, route_context&) const override {
        std::stable_sort(c.begin(), c.end(),
                         [](auto const& a, auto const& b) { return a.id > b.id; });
    }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_users_own_strategy_then_uncallable_last) {
    boost::asio::io_context io;
    auto cfg = client_config::presets();
    cfg.find("openai")->credentials.api_key = "k-openai-test";
    cfg.find("deepseek")->credentials.api_key = "k-deepseek-test";
    // anthropic has no key: it cannot be called and goes last whatever the strategy says.
    client c(io.get_executor(), cfg);
    router_config rc;
    rc.candidates = {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.6", "deepseek/deepseek-chat",
                     "openai/gpt-4o"};
    router rt(c, rc);
    chat_request req;
    req.messages.push_back(user("hi"));
    auto const cands = rt.candidates(req);
    BOOST_TEST_REQUIRE(cands.size() == 4u);
    BOOST_TEST(!cands[1].callable);
    BOOST_TEST(cands[2].position == 2u);
    reverse_alphabetical mine;
    BOOST_TEST((rt.rank(req, mine) == list{"openai/gpt-4o-mini", "openai/gpt-4o",
                                           "deepseek/deepseek-chat", "anthropic/claude-sonnet-4.6"}));
    // The enum picks the built-in ones.
    auto const cheapest = rt.rank(req, route::cheapest);
    BOOST_TEST(cheapest.back() == "anthropic/claude-sonnet-4.6");
}

BOOST_AUTO_TEST_SUITE_END()
