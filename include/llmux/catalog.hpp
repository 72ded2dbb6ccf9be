// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

namespace detail {
struct catalog_rules;
class catalog_lookup_cache;
}  // namespace detail

/** @brief The prices of a call whose prompt is longer than `above` tokens.

    Providers bill long prompts as a "cliff": once a prompt (all its input tokens, cached ones
    included) passes the threshold, every token of the call, input and output, is priced at the
    tier's prices. A price left empty here is the model's own price for that kind of token.
*/
struct price_tier {
    std::uint64_t above = 0;
    std::optional<double> input_price;
    std::optional<double> output_price;
    std::optional<double> cached_input_price;
    std::optional<double> cache_write_price;
};

/// @brief One set of prices of a model: USD per million tokens, and per request.
struct model_prices {
    std::optional<double> input_price;
    std::optional<double> output_price;
    /// Prompt tokens read from the provider's cache; the input price when not listed.
    std::optional<double> cached_input_price;
    /// Prompt tokens written to the provider's cache; the input price when not listed.
    std::optional<double> cache_write_price;
    /// USD per call on top of the tokens (Perplexity's request fee).
    std::optional<double> request_price;
    /// Context-size tiers, ascending by `above`.
    std::vector<price_tier> tiers;

    /// @brief True when both the input and the output price are known.
    bool priced() const noexcept { return input_price && output_price; }
};

/** @brief Prices that apply from a date on, or at a time of day (DeepSeek's off-peak hours).
    Times are UTC.
*/
struct price_period {
    /// From the start of this day (UTC) on; empty for no date limit.
    std::optional<std::chrono::sys_days> from;
    /// Only from this time of day (seconds after midnight UTC) ...
    std::optional<std::chrono::seconds> daily_from;
    /// ... until this one (excluded); an end before the start spans midnight.
    std::optional<std::chrono::seconds> daily_until;
    model_prices prices;

    /// @brief True when the period's conditions hold at `at`.
    bool active(std::chrono::system_clock::time_point at) const noexcept;
};

/// @brief What a model costs and can do. Prices are USD per million tokens.
struct model_info {
    /// `provider/model`, as used in requests.
    std::string id;
    /// The prices below are those in effect when the catalog was loaded, for prompts below the
    /// first tier; `schedule` has the prices of other dates and times.
    std::optional<double> input_price;
    std::optional<double> output_price;
    /// Prompt tokens read from the provider's cache; the input price when not listed.
    std::optional<double> cached_input_price;
    /// Prompt tokens written to the provider's cache; the input price when not listed.
    std::optional<double> cache_write_price;
    /// USD per call on top of the tokens.
    std::optional<double> request_price;
    /// Context-size tiers, ascending by `above`.
    std::vector<price_tier> tiers;
    /** Prices that change with the date or the time of day, in the data set's order: at a given
        time the last active period applies, else the first. Empty when the prices above always
        apply. */
    std::vector<price_period> schedule;
    std::optional<std::uint64_t> context_window;
    std::optional<std::uint64_t> max_output_tokens;
    bool tools = false;
    bool vision = false;
    bool json_schema = false;
    /// The model can reason (thinking, reasoning effort) before answering.
    bool reasoning = false;
    /// The model reads documents (PDF) in the prompt.
    bool documents = false;
    /// The provider still serves the model but has announced its end.
    bool deprecated = false;
    /// Relative answer quality, higher is better (0 when unknown); `route::best` ranks by it.
    int quality = 0;
    /** For an embedding model, the length of its vectors when no `dimensions` is asked
        (`text-embedding-3-small`: 1536); empty for other models and where unknown. What
        `fallback` with embedding requests compares: vectors of different widths (or models)
        are not comparable.
    */
    std::optional<std::uint32_t> embedding_dimensions;

    /// @brief True when both the input and the output price are known.
    bool priced() const noexcept { return input_price && output_price; }

    /// @brief The prices in effect at `at` (the flat prices above when there is no schedule).
    model_prices prices_at(std::chrono::system_clock::time_point at) const;
};

/** @brief The model catalog: prices, context windows and capabilities.

    `catalog::built_in()` is built from the price data of the `pydantic/genai-prices` project
    (vendored in `data/genai-prices/`, embedded at build time and parsed on first use) merged
    with llmux's own overlay (`data/models-overlay.json`: capabilities, quality rank, longest
    answer, and the few local models the data set does not price). A JSON file in llmux's
    format adds or overrides models, a newer copy of the genai-prices data can replace the
    built-in one (`from_genai_prices`), and OpenRouter's `/api/v1/models` answer can be
    imported. Data, not code: check prices against the providers' pages before relying on them
    for billing.

    `find` resolves any id a provider accepts, not only the listed ones: the data set's match
    rules map dated snapshots (`openai/gpt-4o-2024-08-06`), other spellings
    (`anthropic/claude-sonnet-4.6` for `claude-sonnet-4-6`), Bedrock inference profiles
    (`bedrock/us.anthropic.claude-...`), Vertex and Azure names and OpenRouter ids onto the
    model that prices them.

    @par Thread safety
    Const member functions are safe to call concurrently.
*/
class catalog {
public:
    catalog();
    catalog(catalog const& other);
    catalog(catalog&& other) noexcept;
    catalog& operator=(catalog const& other);
    catalog& operator=(catalog&& other) noexcept;
    ~catalog();

    /// @brief The built-in catalog (built on first use; later calls return the same object).
    static catalog const& built_in();

    /** @brief A catalog from genai-prices data (`data_slim.json`, a JSON array of providers; a
        newer copy than the built-in one, say), merged with llmux's built-in overlay.
        @param origin Names the data in errors (a file name).
        @param now Selects the flat prices of models whose prices change over time.
        @par Errors
        `error::invalid_config` naming the provider, model and field at fault.
    */
    static result<catalog>
    from_genai_prices(std::string_view data, std::string_view origin,
                      std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

    /** @brief Adds or replaces models from llmux's JSON format:
        `{"models": [{"id": "openai/gpt-4o", "input": 2.5, "output": 10, "cached_input": 1.25,
        "cache_write": 3.75, "request": 0.005, "tiers": [{"above": 200000, "input": 5,
        "output": 15}], "context": 128000, "max_output": 16384, "tools": true, "vision": true,
        "json_schema": true, "reasoning": false, "documents": false, "quality": 80}, ...]}`; an
        embedding model has `"embedding": 1536` (its vectors' default length).
        An entry replaces the model of the same id; other ids that the replaced model's match
        rules cover then get the entry's prices too.
        @par Errors
        `error::invalid_config` naming the entry and field; nothing is applied then.
    */
    result<void> load_json(std::string_view json, std::string_view origin = "catalog");
    result<void> load_file(std::string const& path);

    /** @brief Adds or replaces models from OpenRouter's `/api/v1/models` answer
        (`{"data": [{"id", "pricing": {"prompt", "completion", "input_cache_read", ...},
        "context_length", "top_provider": {"max_completion_tokens"},
        "supported_parameters": [...], "architecture": {"input_modalities": [...]}}]}`), with
        ids prefixed `openrouter/`. Prices there are USD per token, as strings.
    */
    result<void> import_openrouter(std::string_view json);

    /** @brief The model that prices `id`, or null: the listed model of that id, else the one
        whose match rules accept it. Lookups are remembered in a bounded cache, forgotten when
        the list changes.
    */
    model_info const* find(std::string_view id) const;

    /// @brief The listed model with exactly this id, or null (no match rules).
    model_info const* find_exact(std::string_view id) const noexcept;

    /// @brief Every listed model, sorted by id.
    std::vector<model_info> const& models() const noexcept { return models_; }

    /// @brief Adds or replaces one model.
    void upsert(model_info m);

    /** @brief The cost of `u` for model `id` in USD: uncached input, cached input, cache writes
        and output (reasoning included, as `usage::output_tokens` counts it), each at its price
        for the prompt's tier, plus a per-request price; at the prices in effect `at`. Empty when
        the model, its price or the usage is unknown, or the usage is inconsistent (more cached
        than input tokens): never 0 for "unknown". A usage without output tokens needs no output
        price (an embedding model has an input price only). A provider-reported cost
        (`usage::reported_cost`) wins.
    */
    std::optional<double> cost(std::string_view id, usage const& u) const;
    std::optional<double> cost(std::string_view id, usage const& u,
                               std::chrono::system_clock::time_point at) const;

    /// @brief The cost of `u` at `m`'s prices in effect `at`; see `cost`.
    static std::optional<double>
    cost(model_info const& m, usage const& u,
         std::chrono::system_clock::time_point at = std::chrono::system_clock::now());

    /// @brief The cost of `u` at `p`'s prices (tiers and request price included); no reported
    /// cost involved.
    static std::optional<double> cost(model_prices const& p, usage const& u) noexcept;

    /** @brief The cost of `u` from the catalog's prices alone, even when the provider reported
        its own (`usage::reported_cost`): to compare the two.
    */
    std::optional<double>
    estimate(std::string_view id, usage const& u,
             std::chrono::system_clock::time_point at = std::chrono::system_clock::now()) const;

    /// @brief Where the built-in prices come from: `pydantic/genai-prices@<commit>`.
    static std::string_view built_in_source() noexcept;

private:
    std::size_t resolve(std::string_view id) const;
    void forget_lookups() noexcept;

    std::vector<model_info> models_;  // sorted by id
    std::shared_ptr<detail::catalog_rules const> rules_;
    std::unique_ptr<detail::catalog_lookup_cache> cache_;
};

}  // namespace llmux
