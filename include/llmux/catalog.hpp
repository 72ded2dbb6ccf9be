// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

/// @brief What a model costs and can do. Prices are USD per million tokens.
struct model_info {
    /// `provider/model`, as used in requests.
    std::string id;
    std::optional<double> input_price;
    std::optional<double> output_price;
    /// Prompt tokens read from the provider's cache; the input price when not listed.
    std::optional<double> cached_input_price;
    /// Prompt tokens written to the provider's cache; the input price when not listed.
    std::optional<double> cache_write_price;
    std::optional<std::uint64_t> context_window;
    std::optional<std::uint64_t> max_output_tokens;
    bool tools = false;
    bool vision = false;
    bool json_schema = false;
    /// Relative answer quality, higher is better (0 when unknown); `route::best` ranks by it.
    int quality = 0;

    /// @brief True when both the input and the output price are known.
    bool priced() const noexcept { return input_price && output_price; }
};

/** @brief The model catalog: prices, context windows and capabilities.

    `catalog::built_in()` ships with the library (at least 40 current models across every
    provider of the mission, prices as published by the providers in late 2025); a JSON file in
    the same format adds or overrides models, and OpenRouter's `/api/v1/models` answer can be
    imported. Data, not code: check prices against the providers' pages before relying on
    them for billing.

    @par Thread safety
    Const member functions are safe to call concurrently.
*/
class catalog {
public:
    catalog() = default;

    /// @brief The built-in catalog.
    static catalog const& built_in();

    /** @brief Adds or replaces models from llmux's JSON format:
        `{"models": [{"id": "openai/gpt-4o", "input": 2.5, "output": 10, "cached_input": 1.25,
        "cache_write": 3.75, "context": 128000, "max_output": 16384, "tools": true,
        "vision": true, "json_schema": true, "quality": 80}, ...]}`.
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

    /// @brief The model with id `id`, or null.
    model_info const* find(std::string_view id) const noexcept;

    /// @brief Every model, sorted by id.
    std::vector<model_info> const& models() const noexcept { return models_; }

    /// @brief Adds or replaces one model.
    void upsert(model_info m);

    /** @brief The cost of `u` for model `id` in USD: uncached input, cached input, cache writes
        and output, each at its price. Empty when the model, its price or the usage is unknown
        (never 0 for "unknown"). A provider-reported cost (`usage::reported_cost`) wins.
    */
    std::optional<double> cost(std::string_view id, usage const& u) const noexcept;

    /// @brief The cost of `u` at `m`'s prices; see `cost`.
    static std::optional<double> cost(model_info const& m, usage const& u) noexcept;

private:
    std::vector<model_info> models_;  // sorted by id
};

}  // namespace llmux
