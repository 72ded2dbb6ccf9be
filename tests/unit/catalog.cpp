// SPDX-License-Identifier: BSL-1.0
#include <llmux/catalog.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <set>

using namespace llmux;

namespace {
bool near(double a, double b) { return std::abs(a - b) < 1e-12; }
usage make_usage(std::uint64_t in, std::uint64_t out, std::optional<std::uint64_t> cached = {},
                 std::optional<std::uint64_t> written = {}) {
    usage u;
    u.input_tokens = in;
    u.output_tokens = out;
    u.total_tokens = in + out;
    if (cached) u.cached_input_tokens = *cached;
    if (written) u.cache_write_tokens = *written;
    return u;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(catalog)

BOOST_AUTO_TEST_CASE(built_in_covers_every_provider) {
    auto const& c = llmux::catalog::built_in();
    BOOST_TEST(c.models().size() >= 40u);
    std::set<std::string> providers;
    for (auto const& m : c.models()) {
        providers.insert(m.id.substr(0, m.id.find('/')));
        BOOST_TEST_CONTEXT(m.id) {
            BOOST_TEST(m.priced());
            BOOST_TEST(m.context_window.has_value());
            BOOST_TEST(m.max_output_tokens.has_value());
            BOOST_TEST(model_id::parse(m.id).has_value());
        }
    }
    for (auto p : {"openai", "anthropic", "google", "vertex", "bedrock", "deepseek", "openrouter",
                   "zenmux", "azure", "groq", "together"})
        BOOST_TEST_CONTEXT(p) { BOOST_TEST(providers.count(p) == 1u); }
    auto const* m = c.find("openai/gpt-4o-mini");
    BOOST_TEST_REQUIRE(m != nullptr);
    BOOST_TEST(*m->input_price == 0.15);
    BOOST_TEST(m->tools);
    BOOST_TEST(c.find("nosuch/model") == nullptr);
}

BOOST_AUTO_TEST_CASE(cost_prices_each_kind_of_token) {
    auto const& c = llmux::catalog::built_in();
    // gpt-4o: 2.50 in, 1.25 cached, 10 out per million.
    auto const a = c.cost("openai/gpt-4o", make_usage(1000, 500, 200));
    BOOST_TEST_REQUIRE(a.has_value());
    BOOST_TEST(near(*a, (800 * 2.5 + 200 * 1.25 + 500 * 10.0) / 1e6));
    // Anthropic: cache reads at 0.30, writes at 3.75; input counts all prompt tokens.
    auto const b = c.cost("anthropic/claude-sonnet-4.5", make_usage(10000, 100, 6000, 3000));
    BOOST_TEST_REQUIRE(b.has_value());
    BOOST_TEST(near(*b, (1000 * 3.0 + 6000 * 0.3 + 3000 * 3.75 + 100 * 15.0) / 1e6));
    // No cache price listed: cached tokens at the input price.
    auto const d = c.cost("google/gemini-2.0-flash-lite", make_usage(100, 10, 50));
    BOOST_TEST(near(*d, (100 * 0.075 + 10 * 0.3) / 1e6));
}

BOOST_AUTO_TEST_CASE(unknown_is_never_zero) {
    auto const& c = llmux::catalog::built_in();
    BOOST_TEST(!c.cost("nosuch/model", make_usage(10, 10)).has_value());
    usage unknown;
    BOOST_TEST(!c.cost("openai/gpt-4o", unknown).has_value());
    usage half;
    half.input_tokens = 10;
    BOOST_TEST(!c.cost("openai/gpt-4o", half).has_value());
    llmux::catalog empty;
    model_info m;
    m.id = "x/unpriced";
    empty.upsert(m);
    BOOST_TEST(!empty.cost("x/unpriced", make_usage(10, 10)).has_value());
    // A local model that is really free costs exactly 0.
    BOOST_TEST(*c.cost("ollama/llama3.1", make_usage(10, 10)) == 0.0);
}

BOOST_AUTO_TEST_CASE(provider_reported_cost_wins) {
    usage u = make_usage(194, 2);
    u.reported_cost = 0.95;
    BOOST_TEST(*llmux::catalog::built_in().cost("openrouter/openai/gpt-4o-mini", u) == 0.95);
    BOOST_TEST(*llmux::catalog::built_in().cost("nosuch/model", u) == 0.95);
}

BOOST_AUTO_TEST_CASE(load_json_adds_and_overrides) {
    llmux::catalog c = llmux::catalog::built_in();
    auto r = c.load_json(R"({"models":[
        {"id":"openai/gpt-4o","input":1,"output":2},
        {"id":"mylab/llama","input":0.01,"output":0.02,"context":8192,"tools":true,"quality":40}]})");
    BOOST_TEST_REQUIRE(!!r);
    BOOST_TEST(*c.find("openai/gpt-4o")->input_price == 1.0);
    BOOST_TEST(!c.find("openai/gpt-4o")->cached_input_price.has_value());
    BOOST_TEST(*c.find("mylab/llama")->context_window == 8192u);
    BOOST_TEST(c.find("mylab/llama")->tools);
    BOOST_TEST(c.find("mylab/llama")->quality == 40);
}

BOOST_AUTO_TEST_CASE(bad_catalogs_name_the_problem) {
    struct bad_case {
        char const* json;
        char const* mentions;
    };
    for (auto const& bc : {bad_case{"[", "not valid JSON"}, bad_case{"{}", "models"},
                           bad_case{R"({"models":[{"id":"nope"}]})", "models[0].id"},
                           bad_case{R"({"models":[{"id":"a/b","input":-1}]})", "input"},
                           bad_case{R"({"models":[{"id":"a/b","input":"1"}]})", "input"},
                           bad_case{R"({"models":[{"id":"a/b","tools":1}]})", "tools"},
                           bad_case{R"({"models":[{"id":"a/b","colour":1}]})", "colour"}}) {
        llmux::catalog c;
        auto r = c.load_json(bc.json, "my.json");
        BOOST_TEST_CONTEXT(bc.json) {
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(r.error().diag.message.find("my.json") != std::string::npos);
            BOOST_TEST(r.error().diag.message.find(bc.mentions) != std::string::npos,
                       r.error().diag.message);
            BOOST_TEST(c.models().empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(imports_openrouter_models) {
    llmux::catalog c;
    auto r = c.import_openrouter(R"({"data":[
      {"id":"anthropic/claude-sonnet-4.5","name":"Claude Sonnet 4.5","context_length":1000000,
       "pricing":{"prompt":"0.000003","completion":"0.000015","input_cache_read":"0.0000003",
                  "input_cache_write":"0.00000375","request":"0"},
       "top_provider":{"max_completion_tokens":64000,"is_moderated":true},
       "architecture":{"input_modalities":["text","image"],"output_modalities":["text"]},
       "supported_parameters":["tools","tool_choice","structured_outputs","max_tokens"]},
      {"id":"openrouter/auto","pricing":{"prompt":"-1","completion":"-1"},"context_length":2000000},
      {"id":"meta-llama/llama-3.3-8b-instruct:free","pricing":{"prompt":"0","completion":"0"},
       "context_length":128000,"supported_parameters":["max_tokens"],
       "architecture":{"input_modalities":["text"]}}]})");
    BOOST_TEST_REQUIRE(!!r);
    auto const* s = c.find("openrouter/anthropic/claude-sonnet-4.5");
    BOOST_TEST_REQUIRE(s != nullptr);
    BOOST_TEST(near(*s->input_price, 3.0));
    BOOST_TEST(near(*s->output_price, 15.0));
    BOOST_TEST(near(*s->cached_input_price, 0.3));
    BOOST_TEST(near(*s->cache_write_price, 3.75));
    BOOST_TEST(*s->context_window == 1000000u);
    BOOST_TEST(*s->max_output_tokens == 64000u);
    BOOST_TEST(s->tools);
    BOOST_TEST(s->vision);
    BOOST_TEST(s->json_schema);
    auto const* a = c.find("openrouter/openrouter/auto");
    BOOST_TEST_REQUIRE(a != nullptr);
    BOOST_TEST(!a->priced());  // variable price: unknown, not negative
    auto const* f = c.find("openrouter/meta-llama/llama-3.3-8b-instruct:free");
    BOOST_TEST(*f->input_price == 0.0);
    BOOST_TEST(!f->tools);
    BOOST_TEST(!c.import_openrouter(R"({"data":[]})"));
    BOOST_TEST(!c.import_openrouter("nope"));
}

BOOST_AUTO_TEST_SUITE_END()
