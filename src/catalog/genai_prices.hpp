// SPDX-License-Identifier: BSL-1.0
// The price data of the pydantic/genai-prices project (data_slim.json): parsed, checked beyond
// what its schema says (prices finite and >= 0, regexes that compile, dates), turned into
// llmux's prices, and compared with another copy.
//
// What llmux prices and what it leaves out (documented in the README):
// - input_mtok, output_mtok, cache_read_mtok, cache_write_mtok (the `*_text_*` forms when the
//   plain ones are absent), their context-size tiers, requests_kcount (per-request fees), and
//   the dated and time-of-day price changes.
// - Audio, image and video token prices are not applied: llmux's usage does not split tokens
//   by modality, so such tokens are priced as the text tokens they are counted with.
#pragma once

#include "catalog/match_rule.hpp"

#include <llmux/catalog.hpp>
#include <llmux/error.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

/// One price: a number, or a base with context-size tiers (`{"base": 3, "tiers": [...]}`).
struct gp_price {
    double base = 0;
    /// (start, price): the price when the prompt has more than `start` tokens.
    std::vector<std::pair<std::uint64_t, double>> tiers;
};

/// One entry of a model's prices, with the constraint that selects it.
struct gp_period {
    std::optional<std::chrono::sys_days> start_date;
    std::optional<std::chrono::seconds> start_time, end_time;  // UTC time of day
    std::map<std::string, gp_price, std::less<>> prices;       // by the data set's key (input_mtok)
};

struct gp_model {
    std::string id;
    match_rule match;
    std::optional<std::uint64_t> context_window;
    bool deprecated = false;
    /// One period without constraint for plain prices.
    std::vector<gp_period> periods;
    /// The `prices` value as written, to compare two copies of the data (null unless asked for).
    boost::json::value raw_prices;
};

struct gp_provider {
    std::string id;
    std::string name;
    std::optional<match_rule> provider_match;
    std::optional<match_rule> model_match;
    std::vector<std::string> fallbacks;
    std::vector<gp_model> models;
};

struct price_data {
    std::vector<gp_provider> providers;
    std::size_t model_count() const noexcept;
};

/** @brief Parses genai-prices data. Fields the reader does not use are ignored (the schema
    check reports them); everything it uses is checked.
    @par Errors
    `error::invalid_config` naming `origin`, the provider, the model and the field.
*/
/// `keep_raw`: keep each model's `prices` as written (`gp_model::raw_prices`), for diffs.
result<price_data> price_data_from_json(boost::json::value const& doc, std::string_view origin,
                                        bool keep_raw = true);
result<price_data> parse_price_data(std::string_view text, std::string_view origin,
                                    bool keep_raw = true);

/// @brief The llmux prices of one period (tiers merged across the kinds of token).
model_prices to_model_prices(gp_period const& p);

/// @brief An llmux provider whose ids a data-set provider prices.
struct provider_listing {
    std::string provider;      // llmux provider name (`bedrock`)
    bool skip_claude = false;  // Gemini API: Claude is served on Vertex AI only
};

/// @brief The llmux providers under which the models of data-set provider `data_id` are listed:
/// `aws` as `bedrock`, `google` as both `google` and `vertex`, any other under its own id.
std::vector<provider_listing> listings_of(std::string_view data_id);

/// @brief How two copies of the data differ, by llmux model id.
struct price_data_diff {
    std::vector<std::string> added;
    std::vector<std::string> removed;
    /// `id: what changed` (`openai/gpt-5: input 1.25 -> 1.5`).
    std::vector<std::string> changed;
};
price_data_diff diff_price_data(price_data const& before, price_data const& after);

/// @brief The data, schema, overlay and upstream commit embedded at build time.
std::string_view builtin_price_data() noexcept;
std::string_view builtin_price_schema() noexcept;
std::string_view builtin_overlay() noexcept;
std::string_view builtin_price_commit() noexcept;

}  // namespace llmux::detail
