// SPDX-License-Identifier: BSL-1.0
#include "catalog/genai_prices.hpp"

#include <llmux/catalog.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include <chrono>
#include <cmath>
#include <set>

using namespace llmux;
using namespace std::chrono;

namespace {
bool near(double a, double b) {
    return std::abs(a - b) < 1e-12;
}
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
/// A fixed time (2026-09-15 hh:mm UTC), so that dated prices give one answer.
system_clock::time_point at(int hour, int minute = 0) {
    return sys_days{year{2026} / September / 15} + hours{hour} + minutes{minute};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(catalog)

BOOST_AUTO_TEST_CASE(built_in_lists_the_whole_data_set) {
    auto const& c = llmux::catalog::built_in();
    auto const data = detail::parse_price_data(detail::builtin_price_data(), "built-in");
    BOOST_TEST_REQUIRE(!!data);
    BOOST_TEST(data->model_count() == 1285u);  // data/genai-prices/SOURCE.md
    // Every model of the data set, Gemini's and Vertex's Claude listed under both google
    // (Gemini) and vertex, plus the overlay's local models.
    BOOST_TEST(c.models().size() > 1300u);
    std::set<std::string> providers;
    std::size_t priced = 0;
    for (auto const& m : c.models()) {
        providers.insert(m.id.substr(0, m.id.find('/')));
        BOOST_TEST_CONTEXT(m.id) {
            BOOST_TEST(model_id::parse(m.id).has_value());
        }
        priced += m.priced();
    }
    BOOST_TEST(priced > 1200u);
    for (auto p : {"openai", "anthropic", "google", "vertex", "bedrock", "deepseek", "openrouter",
                   "azure", "groq", "together", "ollama", "mistral", "x-ai"})
        BOOST_TEST_CONTEXT(p) {
            BOOST_TEST(providers.count(p) == 1u);
        }
    BOOST_TEST(
        std::is_sorted(c.models().begin(), c.models().end(),
                       [](model_info const& a, model_info const& b) { return a.id < b.id; }));
    auto const* m = c.find("openai/gpt-4o-mini");
    BOOST_TEST_REQUIRE(m != nullptr);
    BOOST_TEST(*m->input_price == 0.15);
    BOOST_TEST(*m->output_price == 0.6);
    BOOST_TEST(*m->cached_input_price == 0.075);
    BOOST_TEST(*m->context_window == 128000u);
    BOOST_TEST(m->tools);  // from the overlay
    BOOST_TEST(c.find("nosuch/model") == nullptr);
    BOOST_TEST(llmux::catalog::built_in_source() ==
               "pydantic/genai-prices@47df840a5ab10bbcffb8e5ac01b9899032245d1b");
}

BOOST_AUTO_TEST_CASE(a_model_without_overlay_entry_is_listed_and_priced) {
    auto const* m = llmux::catalog::built_in().find_exact("x-ai/grok-4.3");
    BOOST_TEST_REQUIRE(m != nullptr);
    BOOST_TEST(m->priced());
    BOOST_TEST(*m->context_window == 1000000u);  // the data set's
    BOOST_TEST(!m->tools);                       // unknown capabilities: not promised
    BOOST_TEST(m->quality == 0);
}

BOOST_AUTO_TEST_CASE(the_overlay_only_adds_what_the_data_set_lacks) {
    // Every overlay entry names a model the data set lists (and adds no prices, and a context
    // window only where the data has none), or is a local model the data set does not price.
    auto const data = detail::parse_price_data(detail::builtin_price_data(), "built-in");
    BOOST_TEST_REQUIRE(!!data);
    std::map<std::string, std::optional<std::uint64_t>> listed;  // id -> data context window
    std::set<std::string> data_providers;
    for (auto const& p : data->providers)
        for (auto const& l : detail::listings_of(p.id)) {
            data_providers.insert(l.provider);
            for (auto const& m : p.models)
                if (!(l.skip_claude && m.id.starts_with("claude")))
                    listed[l.provider + "/" + m.id] = m.context_window;
        }
    auto const overlay = boost::json::parse(detail::builtin_overlay()).as_object();
    std::size_t n = 0;
    for (auto const& e : overlay.at("models").as_array()) {
        auto const& o = e.as_object();
        std::string const id(o.at("id").as_string());
        ++n;
        BOOST_TEST_CONTEXT(id) {
            if (auto it = listed.find(id); it != listed.end()) {
                for (auto k :
                     {"input", "output", "cached_input", "cache_write", "request", "tiers"})
                    BOOST_TEST(!o.contains(k), k);
                if (it->second) BOOST_TEST(!o.contains("context"));
            } else if (data_providers.count(id.substr(0, id.find('/'))) == 0u) {
                // A provider the data set does not cover (a local one): both prices.
                BOOST_TEST(o.contains("input"));
                BOOST_TEST(o.contains("output"));
            } else {
                // A model of a covered provider that the data set does not price (Bedrock's
                // Cohere Embed): the overlay's input price is the one in effect, so no match
                // rule of the data set claims the id.
                BOOST_TEST_REQUIRE(o.contains("input"));
                auto const* m = llmux::catalog::built_in().find(id);
                BOOST_TEST_REQUIRE(m != nullptr);
                BOOST_TEST((m->input_price == std::optional<double>(o.at("input").to_number<double>())));
            }
        }
    }
    BOOST_TEST(n >= 40u);
}

BOOST_AUTO_TEST_CASE(embedding_models_know_their_width) {
    auto const& c = llmux::catalog::built_in();
    for (auto [id, width] : {std::pair{"openai/text-embedding-3-small", 1536u},
                             std::pair{"openai/text-embedding-3-large", 3072u},
                             std::pair{"google/gemini-embedding-001", 3072u},
                             std::pair{"bedrock/cohere.embed-v4:0", 1536u},
                             std::pair{"bedrock/cohere.embed-english-v3", 1024u}}) {
        auto const* m = c.find(id);
        BOOST_TEST_REQUIRE(m != nullptr, id);
        BOOST_TEST((m->embedding_dimensions == std::optional<std::uint32_t>(width)), id);
    }
    auto const* chat = c.find("openai/gpt-4o");
    BOOST_TEST_REQUIRE(chat != nullptr);
    BOOST_TEST(!chat->embedding_dimensions.has_value());
    // A user catalog says it the same way, and a width that is not one is refused by name.
    llmux::catalog user = c;
    auto ok = user.load_json(R"({"models":[{"id":"local/e5","input":0,"output":0,"embedding":768}]})",
                             "test");
    BOOST_TEST_REQUIRE(!!ok, ok.error());
    BOOST_TEST_REQUIRE(user.find("local/e5") != nullptr);
    BOOST_TEST((user.find("local/e5")->embedding_dimensions == std::optional<std::uint32_t>(768)));
    auto bad = user.load_json(R"({"models":[{"id":"local/e6","input":0,"output":0,"embedding":0.5}]})",
                              "test");
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(bad.error().diag.message.find("embedding") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(cost_prices_each_kind_of_token) {
    auto const& c = llmux::catalog::built_in();
    // gpt-4o: 2.50 in, 1.25 cached, 10 out per million; cached tokens are part of the input.
    auto const a = c.cost("openai/gpt-4o", make_usage(1000, 500, 200), at(12));
    BOOST_TEST_REQUIRE(a.has_value());
    BOOST_TEST(near(*a, (800 * 2.5 + 200 * 1.25 + 500 * 10.0) / 1e6));
    // Anthropic: cache reads at 0.30, writes at 3.75; input counts all prompt tokens.
    auto const b =
        c.cost("anthropic/claude-sonnet-4.5", make_usage(10000, 100, 6000, 3000), at(12));
    BOOST_TEST_REQUIRE(b.has_value());
    BOOST_TEST(near(*b, (1000 * 3.0 + 6000 * 0.3 + 3000 * 3.75 + 100 * 15.0) / 1e6));
    // No cache price listed: cached tokens at the input price.
    auto const d = c.cost("google/gemini-2.0-flash-lite", make_usage(100, 10, 50), at(12));
    BOOST_TEST(near(*d, (100 * 0.075 + 10 * 0.3) / 1e6));
    // Reasoning tokens are part of the output tokens: priced once, as output.
    usage r = make_usage(100, 1000);
    r.reasoning_tokens = 900;
    BOOST_TEST(near(*c.cost("openai/o4-mini", r, at(12)), (100 * 1.1 + 1000 * 4.4) / 1e6));
}

BOOST_AUTO_TEST_CASE(an_input_price_alone_prices_usage_without_output) {
    auto const& c = llmux::catalog::built_in();
    // An embedding model has an input price only (text-embedding-3-small: 0.02 per million).
    auto const e = c.cost("openai/text-embedding-3-small", make_usage(1000, 0), at(12));
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(near(*e, 1000 * 0.02 / 1e6));
    // Output tokens with no output price are not priced: unknown, never 0.
    BOOST_TEST(!c.cost("openai/text-embedding-3-small", make_usage(1000, 5), at(12)));
}

BOOST_AUTO_TEST_CASE(long_prompts_are_priced_at_their_tier) {
    auto const& c = llmux::catalog::built_in();
    // Gemini 2.5 Pro: 1.25 / 10 up to 200k prompt tokens, 2.50 / 15 above, for every token.
    auto const at_limit = c.cost("google/gemini-2.5-pro", make_usage(200000, 1000), at(12));
    BOOST_TEST(near(*at_limit, (200000 * 1.25 + 1000 * 10.0) / 1e6));
    auto const over = c.cost("google/gemini-2.5-pro", make_usage(300000, 1000), at(12));
    BOOST_TEST(near(*over, (300000 * 2.5 + 1000 * 15.0) / 1e6));
    // The tier is chosen by the whole prompt, cached part included, and prices the cached part.
    auto const cached = c.cost("google/gemini-2.5-pro", make_usage(300000, 1000, 250000), at(12));
    BOOST_TEST(near(*cached, (50000 * 2.5 + 250000 * 0.25 + 1000 * 15.0) / 1e6));
    auto const* m = c.find("google/gemini-2.5-pro");
    BOOST_TEST_REQUIRE(m->tiers.size() == 1u);
    BOOST_TEST(m->tiers[0].above == 200000u);
    BOOST_TEST(*m->tiers[0].input_price == 2.5);
}

BOOST_AUTO_TEST_CASE(prices_that_change_with_the_date_and_the_hour) {
    auto const& c = llmux::catalog::built_in();
    // o3 cost 10 / 40 until 2025-06-09, 2 / 8 from 2025-06-10.
    auto const before = sys_days{year{2025} / June / 9} + hours{23};
    auto const after = sys_days{year{2025} / June / 10};
    BOOST_TEST(near(*c.cost("openai/o3", make_usage(1000, 1000), before),
                    (1000 * 10.0 + 1000 * 40.0) / 1e6));
    BOOST_TEST(
        near(*c.cost("openai/o3", make_usage(1000, 1000), after), (1000 * 2.0 + 1000 * 8.0) / 1e6));
    // DeepSeek: standard 00:30-16:30 UTC, off-peak otherwise.
    BOOST_TEST(near(*c.cost("deepseek/deepseek-chat", make_usage(1000, 1000), at(0, 30)),
                    (1000 * 0.27 + 1000 * 1.1) / 1e6));
    BOOST_TEST(near(*c.cost("deepseek/deepseek-chat", make_usage(1000, 1000), at(16, 29)),
                    (1000 * 0.27 + 1000 * 1.1) / 1e6));
    BOOST_TEST(near(*c.cost("deepseek/deepseek-chat", make_usage(1000, 1000), at(16, 30)),
                    (1000 * 0.135 + 1000 * 0.55) / 1e6));
    BOOST_TEST(near(*c.cost("deepseek/deepseek-chat", make_usage(1000, 1000), at(0, 29)),
                    (1000 * 0.135 + 1000 * 0.55) / 1e6));
    // claude-opus-4.6 had a long-context tier until 2026-03-12; none from 2026-03-13.
    auto const tiered = sys_days{year{2026} / March / 12} + hours{12};
    BOOST_TEST(near(*c.cost("anthropic/claude-opus-4.6", make_usage(300000, 1000), tiered),
                    (300000 * 10.0 + 1000 * 37.5) / 1e6));
    BOOST_TEST(near(*c.cost("anthropic/claude-opus-4.6", make_usage(300000, 1000), at(12)),
                    (300000 * 5.0 + 1000 * 25.0) / 1e6));
    auto const* ds = c.find("deepseek/deepseek-chat");
    BOOST_TEST(ds->schedule.size() == 2u);
    BOOST_TEST(*ds->prices_at(at(12)).input_price == 0.27);
    BOOST_TEST(*ds->prices_at(at(20)).input_price == 0.135);
}

BOOST_AUTO_TEST_CASE(per_request_prices_are_added) {
    // Perplexity sonar: 1 / 1 per million tokens and $12 per thousand requests.
    auto const c =
        llmux::catalog::built_in().cost("perplexity/sonar", make_usage(1000, 1000), at(12));
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST(near(*c, (1000 * 1.0 + 1000 * 1.0) / 1e6 + 0.012));
}

BOOST_AUTO_TEST_CASE(unknown_is_never_zero) {
    auto const& c = llmux::catalog::built_in();
    BOOST_TEST(!c.cost("nosuch/model", make_usage(10, 10)).has_value());
    BOOST_TEST(!c.cost("openai/no-such-model", make_usage(10, 10)).has_value());
    usage unknown;
    BOOST_TEST(!c.cost("openai/gpt-4o", unknown).has_value());
    usage half;
    half.input_tokens = 10;
    BOOST_TEST(!c.cost("openai/gpt-4o", half).has_value());
    // An embedding model has no output price: a chat call on it has no known cost.
    BOOST_TEST(!c.cost("openai/text-embedding-3-small", make_usage(10, 10)).has_value());
    // A usage with more cached than input tokens is wrong, and so would any price of it be.
    BOOST_TEST(!c.cost("openai/gpt-4o", make_usage(10, 10, 20)).has_value());
    BOOST_TEST(!c.cost("anthropic/claude-sonnet-4.5", make_usage(10, 10, 6, 6)).has_value());
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
    // estimate() prices the usage from the catalog alone, to compare with the reported cost.
    auto const e = llmux::catalog::built_in().estimate("openrouter/openai/gpt-4o-mini", u, at(12));
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(near(*e, (194 * 0.15 + 2 * 0.6) / 1e6));
    BOOST_TEST(!llmux::catalog::built_in().estimate("nosuch/model", u).has_value());
}

BOOST_AUTO_TEST_CASE(remembered_lookups_follow_changes_to_the_list) {
    llmux::catalog c = llmux::catalog::built_in();
    // Listed ids and ids found by the rules are remembered (as positions in the list)...
    BOOST_TEST_REQUIRE(c.find("openai/gpt-4o") != nullptr);
    BOOST_TEST(c.find("openai/gpt-4o")->id == "openai/gpt-4o");
    BOOST_TEST(c.find("openai/gpt-4o-2024-08-06")->id == "openai/gpt-4o");
    BOOST_TEST(c.find("aaa/first") == nullptr);
    // ... and forgotten when a model is added before them, which moves every position.
    model_info m;
    m.id = "aaa/first";
    m.input_price = 1;
    m.output_price = 1;
    c.upsert(m);
    BOOST_TEST_REQUIRE(c.find("aaa/first") != nullptr);
    BOOST_TEST(c.find("aaa/first")->id == "aaa/first");
    BOOST_TEST(c.find("openai/gpt-4o")->id == "openai/gpt-4o");
    BOOST_TEST(c.find("openai/gpt-4o-2024-08-06")->id == "openai/gpt-4o");
    // A catalog moved into one that had looked ids up answers from the list it got, and the
    // one moved from (empty) finds nothing: neither keeps positions in a list it lost.
    llmux::catalog target = llmux::catalog::built_in();
    BOOST_TEST_REQUIRE(target.find("openai/gpt-4o-mini") != nullptr);
    llmux::catalog source = c;
    BOOST_TEST(source.find("aaa/first") != nullptr);
    target = std::move(source);
    BOOST_TEST_REQUIRE(target.find("aaa/first") != nullptr);
    BOOST_TEST(target.find("aaa/first")->id == "aaa/first");
    BOOST_TEST(target.find("openai/gpt-4o-mini")->id == "openai/gpt-4o-mini");
    BOOST_TEST(source.find("openai/gpt-4o-mini") == nullptr);  // NOLINT(bugprone-use-after-move)
    BOOST_TEST(source.find("aaa/first") == nullptr);           // NOLINT(bugprone-use-after-move)
    // A copy answers the same, from its own list.
    llmux::catalog const copy = c;
    BOOST_TEST(copy.find("openai/gpt-4o") == &*std::find_if(copy.models().begin(), copy.models().end(),
                                                           [](model_info const& x) { return x.id == "openai/gpt-4o"; }));
}

BOOST_AUTO_TEST_CASE(load_json_adds_and_overrides) {
    llmux::catalog c = llmux::catalog::built_in();
    auto r = c.load_json(R"({"models":[
        {"id":"openai/gpt-4o","input":1,"output":2},
        {"id":"mylab/llama","input":0.01,"output":0.02,"context":8192,"tools":true,"quality":40,
         "reasoning":true,"documents":true,"request":0.5,
         "tiers":[{"above":4096,"input":0.02,"output":0.04}]}]})");
    BOOST_TEST_REQUIRE(!!r);
    BOOST_TEST(*c.find("openai/gpt-4o")->input_price == 1.0);
    BOOST_TEST(!c.find("openai/gpt-4o")->cached_input_price.has_value());
    // The replaced model's match rules now lead to the user's prices.
    BOOST_TEST(c.find("openai/gpt-4o-2024-08-06") == c.find("openai/gpt-4o"));
    BOOST_TEST(near(*c.cost("openai/gpt-4o-2024-08-06", make_usage(1000, 1000)), 3000 / 1e6));
    auto const* lab = c.find("mylab/llama");
    BOOST_TEST(*lab->context_window == 8192u);
    BOOST_TEST(lab->tools);
    BOOST_TEST(lab->reasoning);
    BOOST_TEST(lab->documents);
    BOOST_TEST(lab->quality == 40);
    BOOST_TEST(near(*c.cost("mylab/llama", make_usage(5000, 1000)),
                    (5000 * 0.02 + 1000 * 0.04) / 1e6 + 0.5));
    // The built-in catalog is untouched by changes to a copy.
    BOOST_TEST(*llmux::catalog::built_in().find("openai/gpt-4o")->input_price == 2.5);
    BOOST_TEST(llmux::catalog::built_in().find("mylab/llama") == nullptr);
}

BOOST_AUTO_TEST_CASE(copies_and_moves_resolve_by_their_own_models) {
    llmux::catalog a = llmux::catalog::built_in();
    BOOST_TEST(a.find("anthropic/claude-sonnet-4.6")->id == "anthropic/claude-sonnet-4-6");
    llmux::catalog b = std::move(a);
    BOOST_TEST(b.find("anthropic/claude-sonnet-4.6")->id == "anthropic/claude-sonnet-4-6");
    a = b;  // a moved-from catalog given new contents
    BOOST_TEST(a.find("anthropic/claude-sonnet-4.6") != nullptr);
    BOOST_TEST(a.find("anthropic/claude-sonnet-4.6") != b.find("anthropic/claude-sonnet-4.6"));
    llmux::catalog c;
    c = std::move(b);
    b = llmux::catalog{};
    BOOST_TEST(b.find("anthropic/claude-sonnet-4.6") == nullptr);
    BOOST_TEST(c.find("anthropic/claude-sonnet-4.6")->id == "anthropic/claude-sonnet-4-6");
    // A change forgets earlier lookups: the cached answer would point at a moved entry.
    c.upsert(model_info{.id = "anthropic/aaa"});
    BOOST_TEST(c.find("anthropic/claude-sonnet-4.6")->id == "anthropic/claude-sonnet-4-6");
    c.upsert(model_info{.id = "anthropic/claude-sonnet-4.6", .input_price = 1, .output_price = 1});
    BOOST_TEST(*c.find("anthropic/claude-sonnet-4.6")->input_price == 1.0);
}

BOOST_AUTO_TEST_CASE(bad_catalogs_name_the_problem) {
    struct bad_case {
        char const* json;
        char const* mentions;
    };
    for (auto const& bc :
         {bad_case{"[", "not valid JSON"}, bad_case{"{}", "models"},
          bad_case{"[{\"id\":\"openai\"}]", "genai-prices"},
          bad_case{R"({"models":[{"id":"nope"}]})", "models[0].id"},
          bad_case{R"({"models":[{"id":"a/b","input":-1}]})", "input"},
          bad_case{R"({"models":[{"id":"a/b","input":"1"}]})", "input"},
          bad_case{R"({"models":[{"id":"a/b","tools":1}]})", "tools"},
          bad_case{R"({"models":[{"id":"a/b","tiers":[{"input":1}]}]})", "above"},
          bad_case{R"({"models":[{"id":"a/b","tiers":[{"above":1,"x":1}]}]})", "x"},
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
       "architecture":{"input_modalities":["text","image","file"],"output_modalities":["text"]},
       "supported_parameters":["tools","tool_choice","structured_outputs","max_tokens","reasoning"]},
      {"id":"openrouter/auto","pricing":{"prompt":"-1","completion":"-1"},"context_length":2000000},
      {"id":"perplexity/sonar","pricing":{"prompt":"0.000001","completion":"0.000001","request":"0.005"}},
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
    BOOST_TEST(!s->request_price.has_value());
    BOOST_TEST(*s->context_window == 1000000u);
    BOOST_TEST(*s->max_output_tokens == 64000u);
    BOOST_TEST(s->tools);
    BOOST_TEST(s->vision);
    BOOST_TEST(s->json_schema);
    BOOST_TEST(s->reasoning);
    BOOST_TEST(s->documents);
    auto const* a = c.find("openrouter/openrouter/auto");
    BOOST_TEST_REQUIRE(a != nullptr);
    BOOST_TEST(!a->priced());  // variable price: unknown, not negative
    BOOST_TEST(near(*c.find("openrouter/perplexity/sonar")->request_price, 0.005));
    auto const* f = c.find("openrouter/meta-llama/llama-3.3-8b-instruct:free");
    BOOST_TEST(*f->input_price == 0.0);
    BOOST_TEST(!f->tools);
    BOOST_TEST(!c.import_openrouter(R"({"data":[]})"));
    BOOST_TEST(!c.import_openrouter("nope"));
}

BOOST_AUTO_TEST_CASE(from_genai_prices_errors_name_the_place) {
    struct bad_case {
        char const* json;
        char const* mentions;
    };
    for (
        auto const& bc : {
            bad_case{"{", "not valid JSON"},
            bad_case{R"({"models":[]})", "array of providers"},
            bad_case{R"([{"models":[]}])", "providers[0].id"},
            bad_case{R"([{"id":"p","models":[{"id":"m","prices":{"input_mtok":1}}]}])",
                     "providers[0] (p).models[0] (m): missing match rule"},
            bad_case{R"([{"id":"p","models":[{"id":"m","match":{"regex":"("},"prices":{}}]}])",
                     "not a valid regex"},
            bad_case{R"([{"id":"p","models":[{"id":"m","match":{"like":"x"},"prices":{}}]}])",
                     "unknown match clause 'like'"},
            bad_case{
                R"([{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":{"input_mtok":-1}}]}])",
                "prices.input_mtok"},
            bad_case{
                R"([{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":{"input_mtok":{"base":1}}}]}])",
                "prices.input_mtok"},
            bad_case{
                R"([{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":[{"constraint":{"start_date":"2025-13-01"},"prices":{}}]}]}])",
                "start_date"},
            bad_case{
                R"([{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":[{"constraint":{"start_time":"25:00:00Z","end_time":"01:00:00Z"},"prices":{}}]}]}])",
                "start_time"},
            bad_case{R"([{"id":"p","fallback_model_providers":["q"],"models":[]}])",
                     "unknown provider 'q'"},
            bad_case{R"([{"id":"p","models":[]},{"id":"p","models":[]}])", "repeated"},
        }) {
        auto r = llmux::catalog::from_genai_prices(bc.json, "new.json");
        BOOST_TEST_CONTEXT(bc.json) {
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(r.error().code == error::invalid_config);
            BOOST_TEST(r.error().diag.message.find("new.json") != std::string::npos,
                       r.error().diag.message);
            BOOST_TEST(r.error().diag.message.find(bc.mentions) != std::string::npos,
                       r.error().diag.message);
        }
    }
}

BOOST_AUTO_TEST_CASE(from_genai_prices_keeps_the_overlay) {
    // A newer copy of the data replaces the prices; the overlay's capabilities stay.
    auto r = llmux::catalog::from_genai_prices(
        R"([{"id":"openai","name":"OpenAI","api_pattern":"x","models":[
             {"id":"gpt-4o-mini","match":{"starts_with":"gpt-4o-mini"},"prices":{"input_mtok":0.2,"output_mtok":0.8}}]}])",
        "newer.json", at(12));
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().diag.message));
    auto const* m = r->find("openai/gpt-4o-mini-2024-07-18");
    BOOST_TEST_REQUIRE(m != nullptr);
    BOOST_TEST(*m->input_price == 0.2);
    BOOST_TEST(m->tools);
    BOOST_TEST(m->quality == 70);
    BOOST_TEST(r->find("openai/gpt-4o") == nullptr);    // not in the newer data
    BOOST_TEST(r->find("ollama/llama3.1") != nullptr);  // the overlay's local models stay
}

BOOST_AUTO_TEST_SUITE_END()
