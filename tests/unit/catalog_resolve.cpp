// SPDX-License-Identifier: BSL-1.0
// Model ids to the model that prices them: the genai-prices match rules, llmux's provider
// names, routers (OpenRouter, ZenMux), fallbacks (Azure and Vertex to OpenAI and Anthropic).
#include <llmux/catalog.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

using namespace llmux;

BOOST_AUTO_TEST_SUITE(catalog_resolve)

BOOST_AUTO_TEST_CASE(every_model_id_of_the_readme_examples_and_mission_has_a_price) {
    // README.md, examples/, scripts/main.sh, data/emulator-demo.json and the mission.
    auto const& c = llmux::catalog::built_in();
    for (auto id : {"openai/gpt-4o-mini",
                    "openai/gpt-4o",
                    "openai/gpt-4.1-nano",
                    "anthropic/claude-sonnet-4.6",
                    "anthropic/claude-haiku-4.5",
                    "anthropic/claude-opus-4.6",
                    "google/gemini-2.0-flash",
                    "google/gemini-2.5-flash",
                    "google/gemini-2.5-pro",
                    "vertex/gemini-2.0-flash",
                    "vertex/claude-sonnet-4.6",
                    "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
                    "openrouter/anthropic/claude-sonnet-4.6",
                    "openrouter/qwen/qwen-2.5-72b-instruct",
                    "deepseek/deepseek-chat",
                    "zenmux/gpt-4.1-mini",
                    "azure/gpt-4o",
                    "groq/llama-3.3-70b-versatile",
                    "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
                    "ollama/llama3"}) {
        BOOST_TEST_CONTEXT(id) {
            auto const* m = c.find(id);
            BOOST_TEST_REQUIRE(m != nullptr);
            BOOST_TEST(m->priced());
        }
    }
}

BOOST_AUTO_TEST_CASE(ids_resolve_to_the_model_that_prices_them) {
    auto const& c = llmux::catalog::built_in();
    struct expect {
        char const* id;
        char const* model;
    };
    for (auto const& e : {
             // Dated snapshots and Anthropic's dotted and dashed names.
             expect{"openai/gpt-4o-2024-08-06", "openai/gpt-4o"},
             expect{"openai/gpt-5.1", "openai/gpt-5.1"},
             expect{"anthropic/claude-sonnet-4.6", "anthropic/claude-sonnet-4-6"},
             expect{"anthropic/claude-sonnet-4-6", "anthropic/claude-sonnet-4-6"},
             expect{"anthropic/claude-opus-4.6", "anthropic/claude-opus-4-6"},
             expect{"anthropic/claude-opus-4-1-20250805", "anthropic/claude-opus-4-1"},
             expect{"anthropic/claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-5"},
             expect{"anthropic/Claude-Sonnet-4.5", "anthropic/claude-sonnet-4-5"},  // any case
             // Gemini 3 and regex rules.
             expect{"google/gemini-3-pro-preview", "google/gemini-3-pro-preview"},
             expect{"google/gemini-3.5-flash-20260601", "google/gemini-3.5-flash"},
             // Bedrock: model ids, cross-region and global inference profiles.
             expect{"bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
                    "bedrock/regional.anthropic.claude-3-5-sonnet-20240620-v1:0"},
             expect{"bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0",
                    "bedrock/regional.anthropic.claude-sonnet-4-20250514-v1:0"},
             expect{"bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
                    "bedrock/regional.anthropic.claude-3-7-sonnet-20250219-v1:0"},
             expect{"bedrock/apac.anthropic.claude-sonnet-4-20250514-v1:0",
                    "bedrock/regional.anthropic.claude-sonnet-4-20250514-v1:0"},
             expect{"bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                    "bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
             expect{"bedrock/amazon.nova-pro-v1:0", "bedrock/amazon.nova-pro-v1:0"},
             // Vertex: Gemini, and Claude under Vertex's names.
             expect{"vertex/gemini-2.5-pro", "vertex/gemini-2.5-pro"},
             expect{"vertex/claude-opus-4-6@20260101", "vertex/claude-opus-4-6"},
             expect{"vertex/claude-haiku-4.5", "anthropic/claude-haiku-4-5"},  // fallback
             // Azure deployments named after OpenAI models (its fallback providers).
             expect{"azure/gpt-4o-mini", "openai/gpt-4o-mini"},
             expect{"azure/o4-mini", "azure/o4-mini"},
             // OpenRouter's own list; routers price vendor/model at the vendor's prices.
             expect{"openrouter/qwen/qwen-2.5-72b-instruct",
                    "openrouter/qwen/qwen-2.5-72b-instruct"},
             expect{"zenmux/gpt-4.1-mini", "openai/gpt-4.1-mini"},
             expect{"zenmux/anthropic/claude-sonnet-4.5", "anthropic/claude-sonnet-4-5"},
             expect{"zenmux/google/gemini-2.5-pro", "google/gemini-2.5-pro"},
             // Providers named as the data set names them, or as genai-prices' provider_match
             // recognises them.
             expect{"x-ai/grok-4.3-20260115", "x-ai/grok-4.3"},
             expect{"xai/grok-4.3", "x-ai/grok-4.3"},
             expect{"mistral/mistral-large-2512", "mistral/mistral-large-2512"},
         }) {
        BOOST_TEST_CONTEXT(e.id) {
            auto const* m = c.find(e.id);
            BOOST_TEST_REQUIRE(m != nullptr);
            BOOST_TEST(m->id == e.model);
            BOOST_TEST(m->priced());
            BOOST_TEST(c.find(e.id) == m);  // the same answer from the cache
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_ids_stay_unknown) {
    auto const& c = llmux::catalog::built_in();
    for (auto id : {"openai/no-such-model", "nosuch/gpt-4o", "mylab/llama", "gpt-4o", "openai/",
                    "groq/llama-3.3-70b", "vllm/my-served-model", "anthropic/gpt-4o"})
        BOOST_TEST_CONTEXT(id) {
            BOOST_TEST(c.find(id) == nullptr);
        }
    // Ids far longer than any model's are not run through the rules.
    BOOST_TEST(c.find("openai/gpt-4o" + std::string(10000, 'x')) == nullptr);
    BOOST_TEST(c.find("anthropic/claude-sonnet-4.6" + std::string(300, '-')) == nullptr);
}

BOOST_AUTO_TEST_CASE(many_distinct_ids_from_clients_resolve_right) {
    // A gateway passes on whatever ids its clients send: lookups by rule are cached in a
    // bounded LRU (util/lru.hpp, tested on its own); past its capacity, answers stay right.
    auto const& c = llmux::catalog::built_in();
    auto const* sonnet = c.find("anthropic/claude-sonnet-4-5");
    BOOST_TEST_REQUIRE(sonnet != nullptr);
    for (int i = 0; i < 10000; ++i) {
        BOOST_TEST_REQUIRE(c.find("openai/nope-" + std::to_string(i)) == nullptr);
        // Snapshots of a model whose rule is a prefix: each id new to the cache.
        if (i % 100 == 0)
            BOOST_TEST_REQUIRE(c.find("anthropic/claude-sonnet-4-5-" + std::to_string(i)) ==
                               sonnet);
    }
    BOOST_TEST(c.find("anthropic/claude-sonnet-4-5-20250929") == sonnet);
    BOOST_TEST(c.find("openai/gpt-4o-2024-08-06") == c.find("openai/gpt-4o"));
}

BOOST_AUTO_TEST_CASE(the_data_sets_lookup_rules) {
    // A small data set: first match in order wins, rules compare without case, regexes are
    // searched, fallback providers are tried one step deep, providers are found by id or by
    // their provider_match.
    auto r = llmux::catalog::from_genai_prices(R"([
      {"id": "alpha", "name": "Alpha", "api_pattern": "x", "provider_match": {"contains": "alf"},
       "fallback_model_providers": ["beta"],
       "models": [
         {"id": "a-2", "match": {"and": [{"starts_with": "a-2"}, {"ends_with": "-pro"}]},
          "prices": {"input_mtok": 2, "output_mtok": 2}},
         {"id": "a-any", "match": {"or": [{"starts_with": "A-"}, {"regex": "^z+\\d"}]},
          "prices": {"input_mtok": 1, "output_mtok": 1}}]},
      {"id": "beta", "name": "Beta", "api_pattern": "y", "fallback_model_providers": ["alpha"],
       "models": [{"id": "b-1", "match": {"contains": "b-1"}, "prices": {"input_mtok": 3, "output_mtok": 3}}]}
    ])",
                                               "small.json");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().diag.message));
    auto id_of = [&](char const* id) {
        auto const* m = r->find(id);
        return m ? m->id : std::string("(none)");
    };
    BOOST_TEST(id_of("alpha/a-2-pro") == "alpha/a-2");
    BOOST_TEST(id_of("alpha/a-2-mini") == "alpha/a-any");  // the and fails; next rule
    BOOST_TEST(id_of("alpha/A-3") == "alpha/a-any");
    BOOST_TEST(id_of("alpha/zzz9") == "alpha/a-any");
    BOOST_TEST(id_of("alpha/x-zz9") == "(none)");
    BOOST_TEST(id_of("alpha/the-b-1") == "beta/b-1");  // fallback
    BOOST_TEST(id_of("beta/a-7") == "alpha/a-any");    // fallback
    BOOST_TEST(id_of("alfa/a-7") == "alpha/a-any");    // provider_match
    BOOST_TEST(id_of("beta/c-1") == "(none)");         // one step only, no loop
}

BOOST_AUTO_TEST_SUITE_END()
