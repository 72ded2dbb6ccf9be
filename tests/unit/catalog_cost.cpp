// SPDX-License-Identifier: BSL-1.0
// Golden costs: one call per wire format, decoded from its whole answer and from its stream by
// the format's own decoders (fixtures tests/data/<format>/cost_*), priced by the built-in
// catalog. Both give the same usage and the same cost, and that cost is the one worked out by
// hand below from the genai-prices data (data/genai-prices/data_slim.json): cached reads and
// cache writes at their prices and not again as input, reasoning as output, long prompts at
// their tier, a provider-reported cost preferred, and compared with the catalog's own.
#include "codec/event_stream.hpp"
#include "common/wire_fixtures.hpp"
#include "wire/formats.hpp"
#include "wire/wire_format.hpp"

#include <llmux/catalog.hpp>
#include <llmux/types.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace llmux::test {

namespace {

namespace json = boost::json;
using namespace std::chrono;

/// 2026-09-15 at `hour`:00 UTC: a fixed time, so that dated prices and DeepSeek's off-peak hours
/// give the same answer whenever the test runs.
system_clock::time_point at_hour(int hour) {
    return sys_days{year{2026} / September / 15} + hours{hour};
}

/// The usage a client assembles from a stream: each chunk's known counts replace the earlier
/// ones (src/client.cpp, `absorb`).
usage usage_of_stream(detail::wire_format const& fmt, std::string_view body, std::size_t piece) {
    auto d = fmt.make_stream_decoder();
    std::vector<chat_chunk> chunks;
    for (std::size_t at = 0; at < body.size(); at += piece) {
        auto r = d->feed(body.substr(at, piece), chunks);
        BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().diag.message));
    }
    auto r = d->finish(chunks);
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().diag.message));
    usage u;
    auto merge = [](token_count& into, token_count const& from) {
        if (from) into = from;
    };
    for (auto const& c : chunks) {
        if (!c.usage) continue;
        merge(u.input_tokens, c.usage->input_tokens);
        merge(u.output_tokens, c.usage->output_tokens);
        merge(u.total_tokens, c.usage->total_tokens);
        merge(u.cached_input_tokens, c.usage->cached_input_tokens);
        merge(u.cache_write_tokens, c.usage->cache_write_tokens);
        merge(u.reasoning_tokens, c.usage->reasoning_tokens);
        if (c.usage->reported_cost) u.reported_cost = c.usage->reported_cost;
    }
    return u;
}

std::string bedrock_stream(json::object const& description) {
    std::string out;
    for (auto const& f : description.at("frames").as_array()) {
        auto const& o = f.as_object();
        std::string const payload = json::serialize(o.at("payload"));
        out += detail::encode_message({{":event-type", str(o.at("event"))},
                                       {":content-type", std::string_view("application/json")},
                                       {":message-type", std::string_view("event")}},
                                      payload);
    }
    return out;
}

struct golden {
    char const* name;
    detail::wire_format const& fmt;
    char const* dir;
    char const* response;
    char const* stream;  // .sse, or .json frame descriptions for Bedrock
    char const* model;
    int hour;
    // The unified usage both decode to (input counts cached reads and writes; output counts
    // reasoning).
    std::uint64_t input, cached, written, output;
    token_count reasoning;  // unknown when the format does not report it
    double expected_usd;
};

void check(golden const& g) {
    BOOST_TEST_CONTEXT(g.name) {
        auto const& cat = catalog::built_in();
        auto whole =
            g.fmt.decode(detail::response_head{.status = 200}, fixture_text(g.dir, g.response));
        BOOST_TEST_REQUIRE(!!whole, (whole ? "" : whole.error().diag.message));
        std::string const body = std::string_view(g.stream).ends_with(".json")
                                     ? bedrock_stream(fixture_json(g.dir, g.stream).as_object())
                                     : fixture_text(g.dir, g.stream);
        // Whole, and in 7-byte pieces (frames and events split anywhere).
        for (std::size_t piece : {body.size(), std::size_t{7}}) {
            usage const streamed = usage_of_stream(g.fmt, body, piece);
            for (usage const* u : {&std::as_const(whole->usage), &streamed}) {
                BOOST_TEST(u->input_tokens == token_count(g.input));
                BOOST_TEST(u->cached_input_tokens.value_or(0) == g.cached);
                BOOST_TEST(u->cache_write_tokens.value_or(0) == g.written);
                BOOST_TEST(u->output_tokens == token_count(g.output));
                BOOST_TEST(u->reasoning_tokens == g.reasoning);
            }
            auto const a = cat.cost(g.model, whole->usage, at_hour(g.hour));
            auto const b = cat.cost(g.model, streamed, at_hour(g.hour));
            BOOST_TEST_REQUIRE(a.has_value());
            BOOST_TEST_REQUIRE(b.has_value());
            BOOST_TEST(*a == *b);  // the same usage, the same cost, to the last bit
            BOOST_TEST(std::abs(*a - g.expected_usd) < 1e-12, *a << " vs " << g.expected_usd);
            // To the cent: what a bill shows.
            BOOST_TEST(std::llround(*a * 100) == std::llround(g.expected_usd * 100));
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(catalog_cost)

BOOST_AUTO_TEST_CASE(openai_cached_input_and_reasoning) {
    // o4-mini: $1.10 input, $0.275 cached input, $4.40 output per million. OpenAI's
    // prompt_tokens include the 8,000 cached ones; completion_tokens the 2,000 reasoning ones.
    check({"openai o4-mini", detail::openai_chat_format(), "openai", "cost_o4_mini_response.json",
           "cost_o4_mini_stream.sse", "openai/o4-mini", 12, 12000, 8000, 0, 3000, 2000,
           (4000 * 1.1 + 8000 * 0.275 + 3000 * 4.4) / 1e6});
}

BOOST_AUTO_TEST_CASE(deepseek_cache_hits_reasoning_and_off_peak_hours) {
    // deepseek-reasoner: prompt_tokens = cache hits + misses. Standard hours (00:30-16:30 UTC):
    // $0.55 input, $0.14 cache hit, $2.19 output; off-peak: $0.135, $0.035, $0.55.
    check({"deepseek standard hours", detail::openai_chat_format(), "openai",
           "cost_deepseek_reasoner_response.json", "cost_deepseek_reasoner_stream.sse",
           "deepseek/deepseek-reasoner", 10, 10000, 6000, 0, 2000, 1500,
           (4000 * 0.55 + 6000 * 0.14 + 2000 * 2.19) / 1e6});
    check({"deepseek off-peak", detail::openai_chat_format(), "openai",
           "cost_deepseek_reasoner_response.json", "cost_deepseek_reasoner_stream.sse",
           "deepseek/deepseek-reasoner", 20, 10000, 6000, 0, 2000, 1500,
           (4000 * 0.135 + 6000 * 0.035 + 2000 * 0.55) / 1e6});
}

BOOST_AUTO_TEST_CASE(anthropic_cache_reads_and_writes) {
    // claude-sonnet-4.5: $3 input, $0.30 cache read, $3.75 cache write, $15 output. Anthropic's
    // input_tokens leave the cached ones out; the unified count has them all.
    check({"anthropic cache", detail::anthropic_messages_format(), "anthropic",
           "cost_cache_response.json", "cost_cache_stream.sse", "anthropic/claude-sonnet-4.5", 12,
           33500, 30000, 2000, 800, token_count{},
           (1500 * 3.0 + 30000 * 0.3 + 2000 * 3.75 + 800 * 15.0) / 1e6});
}

BOOST_AUTO_TEST_CASE(anthropic_long_prompt_at_the_over_200k_rate) {
    // 250,000 prompt tokens: over 200k, so every token is at Sonnet 4.5's long-context prices
    // ($6 input, $0.60 cache read, $22.50 output); thinking is billed as output.
    check({"anthropic long context", detail::anthropic_messages_format(), "anthropic",
           "cost_long_context_response.json", "cost_long_context_stream.sse",
           "anthropic/claude-sonnet-4-5-20250929", 12, 250000, 10000, 0, 1000, token_count{},
           (240000 * 6.0 + 10000 * 0.6 + 1000 * 22.5) / 1e6});
}

BOOST_AUTO_TEST_CASE(gemini_300k_prompt_cached_content_and_thoughts) {
    // gemini-2.5-pro above 200k prompt tokens: $2.50 input, $0.25 cached, $15 output.
    // promptTokenCount includes cachedContentTokenCount; thoughts are output.
    check({"gemini long context", detail::gemini_format(), "gemini",
           "cost_long_context_response.json", "cost_long_context_stream.sse",
           "google/gemini-2.5-pro", 12, 300000, 100000, 0, 5000, 3000,
           (200000 * 2.5 + 100000 * 0.25 + 5000 * 15.0) / 1e6});
    // The same call on Vertex AI, at the same data-set prices.
    check({"vertex long context", detail::gemini_format(), "gemini",
           "cost_long_context_response.json", "cost_long_context_stream.sse",
           "vertex/gemini-2.5-pro", 12, 300000, 100000, 0, 5000, 3000,
           (200000 * 2.5 + 100000 * 0.25 + 5000 * 15.0) / 1e6});
}

BOOST_AUTO_TEST_CASE(bedrock_inference_profile_cache_reads_and_writes) {
    // A US inference profile of Claude Sonnet 4: $3 input, $0.30 cache read, $3.75 cache
    // write, $15 output. Bedrock's inputTokens leave the cached ones out.
    check({"bedrock cache", detail::bedrock_converse_format(), "bedrock",
           "cost_cache_response.json", "cost_cache_stream.json",
           "bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0", 12, 23500, 20000, 3000, 700,
           token_count{}, (500 * 3.0 + 20000 * 0.3 + 3000 * 3.75 + 700 * 15.0) / 1e6});
}

BOOST_AUTO_TEST_CASE(openrouter_reported_cost_is_preferred_and_agrees_with_the_catalog) {
    // qwen-2.5-72b-instruct through OpenRouter: $0.12 input, $0.39 output in the data set;
    // OpenRouter reports usage.cost itself.
    check({"openrouter qwen", detail::openai_chat_format(), "openai",
           "cost_openrouter_response.json", "cost_openrouter_stream.sse",
           "openrouter/qwen/qwen-2.5-72b-instruct", 12, 2000, 0, 0, 500, 0,
           (2000 * 0.12 + 500 * 0.39) / 1e6});
    auto const& cat = catalog::built_in();
    auto whole = detail::openai_chat_format().decode(
        detail::response_head{.status = 200},
        fixture_text("openai", "cost_openrouter_response.json"));
    BOOST_TEST_REQUIRE(!!whole);
    BOOST_TEST_REQUIRE(whole->usage.reported_cost.has_value());
    auto const estimate =
        cat.estimate("openrouter/qwen/qwen-2.5-72b-instruct", whole->usage, at_hour(12));
    BOOST_TEST_REQUIRE(estimate.has_value());
    BOOST_TEST(std::abs(*estimate - *whole->usage.reported_cost) < 1e-12);
    // The reported cost is what cost() gives, even when it disagrees with the catalog.
    usage disagreeing = whole->usage;
    disagreeing.reported_cost = 0.01;
    BOOST_TEST(*cat.cost("openrouter/qwen/qwen-2.5-72b-instruct", disagreeing) == 0.01);
    BOOST_TEST(
        std::abs(*cat.estimate("openrouter/qwen/qwen-2.5-72b-instruct", disagreeing, at_hour(12)) -
                 *estimate) < 1e-15);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
