// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/client.hpp>
#include <llmux/combinators.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
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
    /// How `chat` and `stream` fall back along the ranking (retries, hedging, continuation
    /// included).
    fallback_options fallback;
};

/// @brief What a routing strategy knows about one candidate.
struct route_candidate {
    /// The `provider/model` id.
    std::string id;
    /// Its catalog entry; null when the catalog does not know it.
    model_info const* info = nullptr;
    /// What the client measured (moving latencies, calls in flight, circuit).
    model_estimate estimate;
    /// What the request is expected to cost on it, USD (prompt estimate and expected
    /// output at the catalog's prices); empty when unpriced.
    std::optional<double> expected_cost;
    /// Its weight for `route::weighted` (`router_config::weights`, 1 by default).
    double weight = 1;
    /// Its place in the candidate list: ties keep this order.
    std::size_t position = 0;
    /// The client has what it needs to call it (a key, a known provider).
    bool callable = true;
};

/// @brief What a strategy may use besides the candidates: the router's settings and its
/// seeded random source (deterministic with `router_config::seed`).
struct route_context {
    router_config const& config;
    std::mt19937_64& rng;
};

/** @brief A way of ranking candidates. The built-in strategies are `strategy(route)`; a user's
    own derives from this and is passed to `router::rank`, `chat` or `stream`.

    A strategy orders candidates by explicit keys; afterwards the router moves candidates that
    cannot be called, then those whose circuit is open, to the end (keeping the strategy's
    order within each group).

    @par Thread safety
    `order` is called under the router's lock, one ranking at a time; it must not call back
    into the router.
*/
class route_strategy {
public:
    virtual ~route_strategy() = default;
    /// @brief A short name for messages (`cheapest`).
    virtual std::string_view name() const noexcept = 0;
    /// @brief Orders `candidates` best first. Ties should keep `position` order.
    virtual void order(std::vector<route_candidate>& candidates, route_context& ctx) const = 0;
};

/** @brief The built-in strategy of `how`:
    - cheapest: by `expected_cost`, lowest first; unpriced candidates last;
    - fastest: candidates with at least `router_config::min_samples` measurements by their
      moving time to first token, then the unmeasured; with probability
      `router_config::exploration` (when some are measured and some are not) one unmeasured
      candidate, drawn at random, goes first so that it gets measured;
    - best: by catalog quality, highest first (unknown models last), then by expected cost;
    - weighted: a random order in which each candidate comes first with a chance proportional
      to its weight (Efraimidis-Spirakis keys `u^(1/w)`); weights of 0 or less go last;
    - least_busy: by calls in flight, then by moving latency (unmeasured last).
    Ties keep the candidates' order.
*/
route_strategy const& strategy(route how) noexcept;

/** @brief Picks models for a request by strategy and constraints, then calls them with
    fallback along the ranking: the best-ranked model first, the next on failure.

    @par Thread safety
    Safe to use from several threads.
    @par Object lifetimes
    The client must outlive the router and its operations; a user's strategy must outlive the
    calls that use it.
*/
class router {
public:
    explicit router(client& c, router_config cfg = {});

    /// @brief The candidates that satisfy the constraints with what the router knows of each,
    /// in configured order (before any strategy).
    std::vector<route_candidate> candidates(chat_request const& req,
                                            route_constraints const& need = {});

    /// @brief The candidates that satisfy the constraints, best first (uncallable ones, then
    /// open circuits, last).
    std::vector<std::string> rank(chat_request const& req, route how,
                                  route_constraints const& need = {});
    /// @brief As above, with any strategy.
    std::vector<std::string> rank(chat_request const& req, route_strategy const& how,
                                  route_constraints const& need = {});

    /** @brief Ranks, then `fallback` over the ranking (with `router_config::fallback`). The
        answer's `attempts` show what was tried. Errors: `error::invalid_request` naming the
        constraints when no model fits.
    */
    [[nodiscard]] boost::asio::awaitable<result<chat_response>>
    chat(chat_request req, route how, route_constraints need = {});
    /// @brief As above, with any strategy.
    [[nodiscard]] boost::asio::awaitable<result<chat_response>>
    chat(chat_request req, route_strategy const& how, route_constraints need = {});

    /// @brief Ranks, then `stream_fallback` over the ranking.
    chat_stream stream(chat_request req, route how, route_constraints need = {});
    /// @brief As above, with any strategy.
    chat_stream stream(chat_request req, route_strategy const& how, route_constraints need = {});

    /** @brief The embedding candidates that satisfy the constraints, in configured order:
        `router_config::candidates`, or every catalog model with an
        `embedding_dimensions` whose provider is configured. A candidate whose provider has no
        embeddings is left out; one without credentials is kept, as not callable. The
        constraints that apply: providers, `max_price` (the input price, USD per million
        tokens), `min_context` (and the longest input's lowest token estimate) against the
        catalog's context window. Tools, vision and JSON schema do not apply to embeddings.
        `expected_cost` is the inputs' typical token estimate at the input price.
    */
    std::vector<route_candidate> candidates(embedding_request const& req,
                                            route_constraints const& need = {});
    /** @brief The embedding candidates, best first (uncallable ones, then open circuits,
        last). Without `req.dimensions`, only candidates of the best-ranked one's width (or of
        a width the catalog does not know) are kept: vectors of another width cannot stand in.
    */
    std::vector<std::string> rank(embedding_request const& req, route how,
                                  route_constraints const& need = {});
    /// @brief As above, with any strategy.
    std::vector<std::string> rank(embedding_request const& req, route_strategy const& how,
                                  route_constraints const& need = {});

    /** @brief Ranks embedding models, then `fallback` over the ranking (with
        `router_config::fallback`); `attempts` show what was tried. Errors:
        `error::invalid_request` naming the constraints when no model fits; then those of
        `fallback` with embedding requests.
    */
    [[nodiscard]] boost::asio::awaitable<result<embedding_response>>
    embed(embedding_request req, route how, route_constraints need = {});
    /// @brief As above, with any strategy.
    [[nodiscard]] boost::asio::awaitable<result<embedding_response>>
    embed(embedding_request req, route_strategy const& how, route_constraints need = {});

private:
    std::vector<std::string> ranked(std::vector<route_candidate> cands, route_strategy const& how);

    client* c_;
    router_config cfg_;
    std::mutex mu_;
    std::mt19937_64 rng_;
};

}  // namespace llmux
