// SPDX-License-Identifier: BSL-1.0
#include <llmux/catalog.hpp>
#include <llmux/config.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <unistd.h>

using namespace llmux;
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

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(parse_duration_units) {
    BOOST_TEST((parse_duration("250ms").value() == 250ms));
    BOOST_TEST((parse_duration("10s").value() == 10s));
    BOOST_TEST((parse_duration("1.5s").value() == 1500ms));
    BOOST_TEST((parse_duration("2m").value() == 120s));
    BOOST_TEST((parse_duration("1h").value() == 3600s));
    BOOST_TEST((parse_duration("3").value() == 3s));
    BOOST_TEST((parse_duration(" 5s ").value() == 5s));
}

BOOST_AUTO_TEST_CASE(parse_duration_rejects_garbage) {
    for (auto bad : {"", "s", "10x", "-1s", "1.2.3s", "ten", "10 s s"}) {
        auto d = parse_duration(bad);
        BOOST_TEST_CONTEXT(bad) {
            BOOST_TEST(!d);
            BOOST_TEST(d.error().code == make_error_code(error::invalid_config));
            BOOST_TEST(d.error().diag.message.find(std::string("'") + bad + "'") != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(presets_cover_the_mission) {
    auto c = client_config::presets();
    for (auto name : {"openai", "openrouter", "deepseek", "zenmux", "azure", "groq", "together",
                      "ollama", "vllm"})
        BOOST_TEST_CONTEXT(name) { BOOST_TEST(c.find(name) != nullptr); }
    BOOST_TEST(c.find("openai")->base_url == "https://api.openai.com/v1");
    BOOST_TEST(c.find("openrouter")->base_url == "https://openrouter.ai/api/v1");
    BOOST_TEST(c.find("deepseek")->base_url == "https://api.deepseek.com");
    BOOST_TEST(c.find("azure")->auth_header == "api-key");
    BOOST_TEST(!c.find("ollama")->key_required);
    BOOST_TEST(!c.has_any_key());
}

BOOST_AUTO_TEST_CASE(from_env_reads_keys_and_base_urls) {
    auto c = client_config::from_env(fake_env({
        {"OPENAI_API_KEY", "sk-test-openai"},
        {"OPENAI_BASE_URL", "http://127.0.0.1:9999/v1/"},
        {"DEEPSEEK_API_KEY", "sk-ds"},
        {"AZURE_OPENAI_API_KEY", "az-key"},
        {"AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/"},
        {"AZURE_OPENAI_API_VERSION", "2025-01-01"},
        {"OPENROUTER_REFERER", "https://example.com"},
        {"OPENROUTER_TITLE", "my app"},
        {"OLLAMA_HOST", "10.0.0.5:11434"},
    }));
    BOOST_TEST(c.find("openai")->credentials.api_key == "sk-test-openai");
    BOOST_TEST(c.find("openai")->base_url == "http://127.0.0.1:9999/v1");
    BOOST_TEST(c.find("deepseek")->credentials.api_key == "sk-ds");
    auto const* az = c.find("azure");
    BOOST_TEST(az->base_url == "https://res.openai.azure.com/openai/deployments/{model}");
    BOOST_REQUIRE(az->query.size() == 1u);
    BOOST_TEST(az->query[0].second == "2025-01-01");
    auto const& orh = c.find("openrouter")->headers;
    BOOST_TEST(orh.size() == 2u);
    BOOST_TEST(c.find("ollama")->base_url == "http://10.0.0.5:11434/v1");
    BOOST_TEST(c.has_any_key());
    BOOST_TEST(c.find("groq")->credentials.api_key.empty());
}

BOOST_AUTO_TEST_CASE(load_json_adds_and_overrides_providers) {
    auto c = client_config::presets();
    auto r = c.load_json(R"({
        "providers": {
            "mylocal": {"base_url": "http://127.0.0.1:8080/v1", "wire": "openai",
                        "auth": "none", "headers": {"X-Team": "a"}},
            "openai": {"base_url": "https://proxy.example/v1", "api_key": "sk-file"}
        },
        "timeouts": {"connect": "2s", "total": 30},
        "pool": {"max_connections_per_origin": 8, "idle_timeout": "5s"}
    })");
    BOOST_TEST_REQUIRE(!!r);
    BOOST_TEST(c.find("mylocal")->base_url == "http://127.0.0.1:8080/v1");
    BOOST_TEST((c.find("mylocal")->auth == auth_scheme::none));
    BOOST_TEST(c.find("mylocal")->headers.at(0).second == "a");
    BOOST_TEST(c.find("openai")->base_url == "https://proxy.example/v1");
    BOOST_TEST(c.find("openai")->credentials.api_key == "sk-file");
    BOOST_TEST((c.timeouts.connect == 2s));
    BOOST_TEST((c.timeouts.total == 30s));
    BOOST_TEST(c.pool.max_connections_per_origin == 8u);
}

BOOST_AUTO_TEST_CASE(bad_config_names_the_problem_and_changes_nothing) {
    struct bad_case {
        char const* json;
        char const* mentions;
    };
    bad_case const cases[] = {
        {"{", "not valid JSON"},
        {"[1]", "top level"},
        {R"({"providers":{"x":{"wire":"openai"}}})", "providers.x: base_url is required"},
        {R"({"providers":{"x":{"base_url":"ftp://h"}}})", "not an http"},
        {R"({"providers":{"x":{"base_url":"http://h","auth":"magic"}}})", "unknown auth scheme"},
        {R"({"providers":{"x":{"base_url":"http://h","colour":"red"}}})", "providers.x.colour"},
        {R"({"providers":{"x":{"base_url":"http://h","headers":{"A":"b\r\nc"}}}})", "CR or LF"},
        {R"({"timeouts":{"connect":"soon"}})", "timeouts.connect"},
        {R"({"timeouts":{"warp":"1s"}})", "timeouts.warp"},
        {R"({"pool":{"max_connections_per_origin":0}})", "max_connections_per_origin"},
        {R"({"colour":1})", "colour"},
    };
    for (auto const& bc : cases) {
        auto c = client_config::presets();
        auto const before = c.find("openai")->base_url;
        auto r = c.load_json(bc.json, "test.json");
        BOOST_TEST_CONTEXT(bc.json) {
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(r.error().code == make_error_code(error::invalid_config));
            BOOST_TEST(r.error().diag.message.find("test.json") != std::string::npos);
            BOOST_TEST(r.error().diag.message.find(bc.mentions) != std::string::npos,
                       r.error().diag.message);
            BOOST_TEST(c.find("x") == nullptr);
            BOOST_TEST(c.find("openai")->base_url == before);
        }
    }
}

BOOST_AUTO_TEST_CASE(load_file_reports_unreadable_files) {
    auto c = client_config::presets();
    auto r = c.load_file("/nonexistent/llmux.json");
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().diag.message.find("/nonexistent/llmux.json") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(prices_replace_the_built_in_data_and_catalog_goes_on_top) {
    auto const dir = std::filesystem::temp_directory_path() /
                     ("llmux-config-prices-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto const prices = (dir / "prices.json").string();
    auto const mine = (dir / "mine.json").string();
    std::ofstream(prices) << R"([{"id":"openai","name":"OpenAI","api_pattern":"x","models":[
        {"id":"gpt-4o-mini","match":{"starts_with":"gpt-4o-mini"},"prices":{"input_mtok":0.2,"output_mtok":0.8}},
        {"id":"gpt-4o","match":{"equals":"gpt-4o"},"prices":{"input_mtok":2,"output_mtok":8}}]}])";
    std::ofstream(mine) << R"({"models":[{"id":"openai/gpt-4o","input":1,"output":4}]})";
    auto c = client_config::presets();
    // "catalog" first in the file: "prices" is still applied first.
    auto r = c.load_json(R"({"catalog":")" + mine + R"(","prices":")" + prices + R"("})", "cfg.json");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().diag.message));
    BOOST_TEST_REQUIRE(c.models != nullptr);
    BOOST_TEST(*c.models->find("openai/gpt-4o-mini-2024-07-18")->input_price == 0.2);
    BOOST_TEST(c.models->find("openai/gpt-4o-mini")->tools);  // the overlay stays
    BOOST_TEST(*c.models->find("openai/gpt-4o")->input_price == 1.0);  // the user's file wins
    BOOST_TEST(c.models->find("anthropic/claude-sonnet-4.6") == nullptr);  // not in that data

    std::ofstream(prices) << "{\"models\": []}";
    auto bad = client_config::presets().load_json(R"({"prices":")" + prices + R"("})", "cfg.json");
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(bad.error().diag.message.find(prices) != std::string::npos, bad.error().diag.message);
    auto missing = client_config::presets().load_json(R"({"prices":"/nonexistent/p.json"})", "cfg.json");
    BOOST_TEST_REQUIRE(!missing);
    BOOST_TEST(missing.error().diag.message.find("/nonexistent/p.json") != std::string::npos);
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(route_all_to_keeps_each_path) {
    auto c = client_config::presets();
    c.route_all_to("http://127.0.0.1:5555");
    BOOST_TEST(c.find("openai")->base_url == "http://127.0.0.1:5555/v1");
    BOOST_TEST(c.find("openrouter")->base_url == "http://127.0.0.1:5555/api/v1");
    BOOST_TEST(c.find("deepseek")->base_url == "http://127.0.0.1:5555");
    BOOST_TEST(c.find("azure")->base_url == "http://127.0.0.1:5555/openai/deployments/{model}");
    BOOST_TEST(!c.find("openai")->credentials.api_key.empty());
}

BOOST_AUTO_TEST_SUITE_END()
