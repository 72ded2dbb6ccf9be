// SPDX-License-Identifier: BSL-1.0
// gateway_config::load_json (src/gateway/config.cpp): keys by environment variable or SHA-256,
// limits, model groups; errors name the field and never the key.
#include <llmux/gateway.hpp>

#include "util/crypto.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <string>

using llmux::client_config;
using llmux::error;
using llmux::group_strategy;
using namespace std::chrono_literals;

namespace {

client_config::env_reader fake_env(std::map<std::string, std::string> vars) {
    auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
    return [shared](char const* name) -> char const* {
        auto it = shared->find(name);
        return it == shared->end() ? nullptr : it->second.c_str();
    };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gateway_config)

BOOST_AUTO_TEST_CASE(loads_keys_limits_and_groups) {
    std::string const hash(64, 'A');
    std::string const text = R"({
      "gateway": {
        "keys": [{"name": "team-a", "key_env": "GW_KEY_1", "budget_usd": 5,
                  "requests_per_minute": 600, "tokens_per_minute": 100000},
                 {"name": "ci", "key_sha256": ")" + hash + R"("}],
        "access_log": false, "log_prompts": true, "max_body_bytes": 4096,
        "read_timeout": "2s", "idle_timeout": 5, "grace": "250ms", "any_model": true,
        "reuse_port": true
      },
      "models": {
        "gpt-smart": {"deployments": ["openai/gpt-4o", "anthropic/claude-sonnet-4.6"],
                      "strategy": "fallback", "per_attempt": "10s", "deadline": "30s",
                      "retries": 1, "hedge": "500ms"},
        "cheap": {"deployments": ["openai/gpt-4o-mini", "deepseek/deepseek-chat"],
                  "strategy": "weighted", "weights": {"openai/gpt-4o-mini": 3}},
        "mini": "openai/gpt-4o-mini"
      },
      "providers": {}
    })";
    llmux::gateway_config cfg;
    auto r = cfg.load_json(text, "test", fake_env({{"GW_KEY_1", "sk-gw-secret"}}));
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().to_string()));
    BOOST_TEST_REQUIRE(cfg.keys.size() == 2u);
    BOOST_TEST(cfg.keys[0].name == "team-a");
    BOOST_TEST(cfg.keys[0].sha256 == llmux::detail::sha256_hex("sk-gw-secret"));
    BOOST_TEST((cfg.keys[0].budget_usd && *cfg.keys[0].budget_usd == 5.0));
    BOOST_TEST(cfg.keys[0].requests_per_minute == 600.0);
    BOOST_TEST(cfg.keys[0].tokens_per_minute == 100000.0);
    BOOST_TEST(cfg.keys[1].sha256 == std::string(64, 'a'));  // normalised to lower case
    BOOST_TEST(!cfg.access_log);
    BOOST_TEST(cfg.log_prompts);
    BOOST_TEST(cfg.any_model);
    BOOST_TEST(cfg.reuse_port);
    BOOST_TEST(!llmux::gateway_config{}.reuse_port);  // off unless asked for
    BOOST_TEST(cfg.max_body_bytes == 4096u);
    BOOST_TEST((cfg.read_timeout == 2s));
    BOOST_TEST((cfg.idle_timeout == 5s));
    BOOST_TEST((cfg.grace == 250ms));
    BOOST_TEST_REQUIRE(cfg.models.size() == 3u);
    auto const& smart = cfg.models.at("gpt-smart");
    BOOST_TEST(smart.deployments.size() == 2u);
    BOOST_TEST((smart.strategy == group_strategy::fallback));
    BOOST_TEST((smart.per_attempt == 10s));
    BOOST_TEST((smart.deadline == 30s));
    BOOST_TEST(smart.retries == 1u);
    BOOST_TEST((smart.hedge && *smart.hedge == 500ms));
    auto const& cheap = cfg.models.at("cheap");
    BOOST_TEST((cheap.strategy == group_strategy::weighted));
    BOOST_TEST(cheap.weights.at("openai/gpt-4o-mini") == 3.0);
    auto const& mini = cfg.models.at("mini");
    BOOST_TEST_REQUIRE(mini.deployments.size() == 1u);
    BOOST_TEST(mini.deployments[0] == "openai/gpt-4o-mini");
}

BOOST_AUTO_TEST_CASE(errors_name_the_field_and_change_nothing) {
    struct bad_case {
        char const* json;
        char const* says;
    };
    bad_case const cases[] = {
        {"nope", "not valid JSON"},
        {"[]", "object"},
        {R"({"gateway":{"keys":[{"name":"a"}]}})", "key_env or key_sha256"},
        {R"({"gateway":{"keys":[{"name":"a","key_sha256":"abc"}]}})", "64 hex digits"},
        {R"({"gateway":{"keys":[{"name":"a","key_env":"UNSET_VAR"}]}})", "UNSET_VAR"},
        {R"({"gateway":{"keys":[{"name":"a","key":"sk-plain"}]}})", "plain keys"},
        {R"({"gateway":{"read_timeout":"soon"}})", "gateway.read_timeout"},
        {R"({"gateway":{"bogus":1}})", "gateway.bogus"},
        {R"({"models":{"x":{"deployments":[]}}})", "no deployments"},
        {R"({"models":{"x":{"deployments":["openai/a"],"strategy":"random"}}})", "strategy"},
        {R"({"models":{"x":{"deployments":["openai/a"],"weights":{"openai/b":2}}}})", "weights"},
        {R"({"models":{"x":{"deployments":["openai/a"],"retries":99}}})", "retries"},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.json) {
            llmux::gateway_config cfg;
            cfg.port = 1234;
            auto r = cfg.load_json(c.json, "gw.json", fake_env({}));
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST((r.error().code == llmux::make_error_code(error::invalid_config)));
            auto const msg = r.error().diag.message;
            BOOST_TEST(msg.find("gw.json") != std::string::npos, msg);
            BOOST_TEST(msg.find(c.says) != std::string::npos, msg);
            BOOST_TEST(msg.find("sk-plain") == std::string::npos, msg);
            BOOST_TEST(cfg.port == 1234);
            BOOST_TEST(cfg.keys.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(strategy_names) {
    BOOST_TEST((llmux::parse_group_strategy("least_busy") == group_strategy::least_busy));
    BOOST_TEST((llmux::parse_group_strategy("cheapest") == group_strategy::cheapest));
    BOOST_TEST(!llmux::parse_group_strategy("whatever"));
    BOOST_TEST(std::string(llmux::to_string(group_strategy::weighted)) == "weighted");
}

BOOST_AUTO_TEST_SUITE_END()
