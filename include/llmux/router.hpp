// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/client.hpp>
#include <llmux/combinators.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace llmux {

/// @brief How a router ranks candidate models.
enum class route {
    /// Lowest catalog price for the expected tokens (prompt estimate + expected output).
    cheapest,
    /// Lowest measured time to first token (moving estimate), exploring unmeasured models now
    /// and then so that new models get measured.
    fastest,
    /// Highest catalog quality rank, then the cheapest.
    best,
    /// A random order drawn by the configured weights.
    weighted,
    /// Fewest calls in flight, then the fastest.
    least_busy,
};

/// @brief Parses `cheapest`, `fastest`, `best`, `weighted`, `least_busy`.
std::optional<route> parse_route(std::string_view s) noexcept;
char const* to_string(route r) noexcept;

/// @brief What every candidate must offer. A request's own needs (tools, images, a JSON
/// schema, its size) are added automatically.
struct route_constraints {
    bool needs_tools = false;
    bool needs_vision = false;
    bool needs_json_schema = false;
    std::uint64_t min_context = 0;
    /// Providers to keep (empty: all) and to drop.
    std::vector<std::string> allow_providers;
    std::vector<std::string> deny_providers;
    /// Highest blended price, USD per million tokens, at the expected input/output mix.
    std::optional<double> max_price;
    /// Output tokens expected, for prices and context checks.
    std::uint64_t expected_output_tokens = 500;
};

/// @brief Settings of a router.
struct router_config {
    /// The models to choose from; empty means every catalog model whose provider is
    /// configured (credentials present).
    std::vector<std::string> candidates;
    /// Weights for `route::weighted` (a model without one weighs 1).
    std::map<std::string, double, std::less<>> weights;
    /// `route::fastest`: the chance that an unmeasured model is tried first.
    double exploration = 0.1;
    /// Measurements a model needs before `fastest` trusts its estimate.
    std::uint64_t min_samples = 3;
    /// Seed of the random choices (0: random).
    std::uint64_t seed = 0;
    /// How `chat` and `stream` fall back along the ranking.
    fallback_options fallback;
};

/** @brief Picks models for a request by strategy and constraints, then calls them with
    fallback along the ranking: the best-ranked model first, the next on failure.

    @par Thread safety
    Safe to use from several threads.
    @par Object lifetimes
    The client must outlive the router and its operations.
*/
class router {
public:
    explicit router(client& c, router_config cfg = {});

    /// @brief The candidates that satisfy the constraints, best first (open circuits last).
    std::vector<std::string> rank(chat_request const& req, route how,
                                  route_constraints const& need = {});

    /** @brief Ranks, then `fallback` over the ranking. The answer's `attempts` show what was
        tried. Errors: `error::invalid_request` naming the constraints when no model fits.
    */
    [[nodiscard]] boost::asio::awaitable<result<chat_response>>
    chat(chat_request req, route how, route_constraints need = {});

    /// @brief Ranks, then `stream_fallback` over the ranking.
    fallback_stream stream(chat_request req, route how, route_constraints need = {});

private:
    client* c_;
    router_config cfg_;
    std::mutex mu_;
    std::mt19937_64 rng_;
};

}  // namespace llmux
