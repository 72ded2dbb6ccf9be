// SPDX-License-Identifier: BSL-1.0
// The genai-prices data: the vendored copy against its schema, llmux's reading of its prices,
// and the comparison of two copies that `llmux models --update` prints.
#include "catalog/genai_prices.hpp"
#include "catalog/json_schema.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>

using namespace llmux;
namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(genai_prices)

BOOST_AUTO_TEST_CASE(the_vendored_data_follows_its_schema) {
    auto const doc = json::parse(detail::builtin_price_data());
    auto const schema = json::parse(detail::builtin_price_schema());
    auto issues = detail::validate_json_schema(doc, schema, 1000);
    BOOST_TEST_REQUIRE(!!issues, (issues ? "" : issues.error().diag.message));
    // Upstream's one deviation (data/genai-prices/SOURCE.md): every provider has a
    // pricing_urls field that the slim schema does not list. Nothing else.
    BOOST_TEST(issues->size() == 34u);
    for (auto const& i : *issues) {
        BOOST_TEST_CONTEXT(i.path << ": " << i.message) {
            BOOST_TEST(i.unlisted_field);
            BOOST_TEST(i.path.ends_with("/pricing_urls"));
        }
    }
}

BOOST_AUTO_TEST_CASE(schema_violations_are_found_and_placed) {
    auto const schema = json::parse(detail::builtin_price_schema());
    struct bad_case {
        char const* doc;
        char const* path;
        char const* mentions;
    };
    for (
        auto const& bc : {
            bad_case{R"({"id":"p"})", "", "expected an array"},
            bad_case{R"([{"id":"p","name":"P","api_pattern":"x"}])", "/0",
                     "missing required field 'models'"},
            bad_case{R"([{"id":"p q","name":"P","api_pattern":"x","models":[]}])", "/0/id",
                     "does not match"},
            bad_case{
                R"([{"id":"p","name":"P","api_pattern":"x","models":[{"id":"m","match":{"equals":"m","contains":"m"},"prices":{}}]}])",
                "/0/models/0/match", "matches none of ClauseStartsWith"},
            bad_case{
                R"([{"id":"p","name":"P","api_pattern":"x","models":[{"id":"m","match":{"equals":"m"},"prices":{"input_mtok":"1"}}]}])",
                "/0/models/0/prices", "matches none of"},
            bad_case{
                R"([{"id":"p","name":"P","api_pattern":"x","models":[{"id":"m","match":{"equals":"m"},"prices":[{"constraint":{"start_date":"tomorrow"},"prices":{}}]}]}])",
                "/0/models/0/prices", "start_date"},
            bad_case{
                R"([{"id":"p","name":"P","api_pattern":"x","models":[{"id":"m","match":{"regex":"("},"prices":{}}]}])",
                "/0/models/0/match", "not a valid regex"},
            bad_case{
                R"([{"id":"p","name":"P","api_pattern":"x","models":[{"id":"m","match":{"equals":"m"},"prices":{},"context_window":1.5}]}])",
                "/0/models/0/context_window", "expected an integer"},
        }) {
        BOOST_TEST_CONTEXT(bc.doc) {
            auto issues = detail::validate_json_schema(json::parse(bc.doc), schema);
            BOOST_TEST_REQUIRE(!!issues);
            auto it = std::find_if(issues->begin(), issues->end(),
                                   [&](auto const& i) { return !i.unlisted_field; });
            BOOST_TEST_REQUIRE((it != issues->end()));
            BOOST_TEST(it->path == bc.path);
            BOOST_TEST(it->message.find(bc.mentions) != std::string::npos, it->message);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_schema_with_unsupported_keywords_is_refused) {
    auto r = detail::validate_json_schema(
        json::parse("{}"), json::parse(R"({"type":"object","patternProperties":{}})"));
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().diag.message.find("patternProperties") != std::string::npos);
    auto ref =
        detail::validate_json_schema(json::parse("{}"), json::parse(R"({"$ref":"#/$defs/nope"})"));
    BOOST_TEST_REQUIRE(!ref);
    BOOST_TEST(ref.error().diag.message.find("$ref") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tiers_of_each_kind_of_token_are_merged) {
    // Input tiers at 128k and 200k, output only at 200k: three prices, merged into two tiers.
    auto data = detail::parse_price_data(R"([{"id":"p","models":[{"id":"m","match":{"equals":"m"},
        "prices":{"input_mtok":{"base":1,"tiers":[{"start":200000,"price":4},{"start":128000,"price":2}]},
                  "output_mtok":{"base":10,"tiers":[{"start":200000,"price":20}]},
                  "cache_read_mtok":0.1,"requests_kcount":5,"input_audio_mtok":7}}]}])",
                                         "t.json");
    BOOST_TEST_REQUIRE(!!data, (data ? "" : data.error().diag.message));
    auto const p = detail::to_model_prices(data->providers[0].models[0].periods[0]);
    BOOST_TEST(*p.input_price == 1.0);
    BOOST_TEST(*p.output_price == 10.0);
    BOOST_TEST(*p.cached_input_price == 0.1);
    BOOST_TEST(!p.cache_write_price.has_value());
    BOOST_TEST(*p.request_price == 0.005);
    BOOST_TEST_REQUIRE(p.tiers.size() == 2u);
    BOOST_TEST(p.tiers[0].above == 128000u);
    BOOST_TEST(*p.tiers[0].input_price == 2.0);
    BOOST_TEST(*p.tiers[0].output_price == 10.0);            // output's base still
    BOOST_TEST(!p.tiers[0].cached_input_price.has_value());  // not tiered: the model's price
    BOOST_TEST(p.tiers[1].above == 200000u);
    BOOST_TEST(*p.tiers[1].input_price == 4.0);
    BOOST_TEST(*p.tiers[1].output_price == 20.0);
}

BOOST_AUTO_TEST_CASE(time_of_day_constraints_are_read_in_utc) {
    auto data = detail::parse_price_data(R"([{"id":"p","models":[{"id":"m","match":{"equals":"m"},
        "prices":[{"prices":{"input_mtok":1}},
                  {"constraint":{"start_time":"08:30:00+08:00","end_time":"16:30:00.5Z"},"prices":{"input_mtok":2}},
                  {"constraint":{"start_date":"2026-01-31"},"prices":{"input_mtok":3}}]}]}])",
                                         "t.json");
    BOOST_TEST_REQUIRE(!!data, (data ? "" : data.error().diag.message));
    auto const& periods = data->providers[0].models[0].periods;
    BOOST_TEST_REQUIRE(periods.size() == 3u);
    BOOST_TEST(periods[1].start_time->count() == 30 * 60);  // 08:30 at +08:00 is 00:30 UTC
    BOOST_TEST(periods[1].end_time->count() == 16 * 3600 + 30 * 60);
    BOOST_TEST((*periods[2].start_date == std::chrono::sys_days{std::chrono::year{2026} / 1 / 31}));
}

BOOST_AUTO_TEST_CASE(two_copies_are_compared_by_model) {
    auto before = detail::parse_price_data(R"([
        {"id":"openai","models":[
          {"id":"gpt-a","match":{"equals":"gpt-a"},"prices":{"input_mtok":1,"output_mtok":2}},
          {"id":"gpt-b","match":{"equals":"gpt-b"},"prices":{"input_mtok":1,"output_mtok":2}},
          {"id":"gpt-c","match":{"equals":"gpt-c"},"prices":{"input_mtok":1,"output_mtok":2}}]},
        {"id":"aws","models":[{"id":"nova","match":{"contains":"nova"},"prices":{"input_mtok":1}}]}])",
                                           "before");
    auto after = detail::parse_price_data(R"([
        {"id":"openai","models":[
          {"id":"gpt-a","match":{"starts_with":"gpt-a"},"prices":{"input_mtok":1,"output_mtok":2}},
          {"id":"gpt-b","match":{"equals":"gpt-b"},"prices":{"input_mtok":1.5,"output_mtok":2,"cache_read_mtok":0.1}},
          {"id":"gpt-d","match":{"equals":"gpt-d"},"prices":{"input_mtok":1,"output_mtok":2}}]},
        {"id":"aws","models":[{"id":"nova","match":{"contains":"nova"},"prices":[{"prices":{"input_mtok":1}}]}]}])",
                                          "after");
    BOOST_TEST_REQUIRE(!!before);
    BOOST_TEST_REQUIRE(!!after);
    auto const d = detail::diff_price_data(*before, *after);
    BOOST_TEST(d.added == std::vector<std::string>{"openai/gpt-d"});
    BOOST_TEST(d.removed == std::vector<std::string>{"openai/gpt-c"});
    BOOST_TEST_REQUIRE(d.changed.size() == 2u);  // a new match rule alone is no price change
    BOOST_TEST(d.changed[0] == "bedrock/nova: prices changed");
    BOOST_TEST(d.changed[1] == "openai/gpt-b: cache_read - -> 0.1, input 1 -> 1.5");
    auto const same = detail::diff_price_data(*before, *before);
    BOOST_TEST(same.added.empty());
    BOOST_TEST(same.removed.empty());
    BOOST_TEST(same.changed.empty());
}

BOOST_AUTO_TEST_SUITE_END()
