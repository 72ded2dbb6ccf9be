// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/histogram.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace llmux {

/// @brief The state of a model's circuit breaker.
enum class circuit_state {
    /// Calls flow.
    closed,
    /// Too many recent failures: skipped by fallback and routing until the cool-down ends.
    open,
    /// The cool-down ended: one probe call is let through; its outcome closes or reopens.
    half_open,
};

char const* to_string(circuit_state s) noexcept;

/** @brief What a client measured for one `provider/model`: every attempt made through it
    feeds these (direct calls, fallback, retry, hedging and routing alike).
*/
struct model_metrics {
    std::string model;
    /// Time to first content (streams) or to the response (whole answers), successful calls.
    latency_histogram ttft;
    /// Whole-call latency of successful calls.
    latency_histogram latency;
    std::uint64_t calls = 0;
    std::uint64_t failures = 0;
    std::uint64_t in_flight = 0;
    std::uint64_t input_tokens = 0;
    std::uint64_t output_tokens = 0;
    /// Known cost of the calls, USD (calls whose cost is unknown add nothing).
    double cost_usd = 0;
    /// Moving estimates (exponentially weighted), empty until a call succeeded.
    std::optional<std::chrono::nanoseconds> ewma_ttft;
    std::optional<std::chrono::nanoseconds> ewma_latency;
    circuit_state circuit = circuit_state::closed;
    /// The in-flight limit of the model's provider, when adaptive concurrency is on
    /// (`client_config::concurrency`); empty otherwise.
    std::optional<std::uint64_t> concurrency_limit;
    /// Calls to the model's provider waiting for a slot of that limit now.
    std::uint64_t queued = 0;
};

/// @brief A cheap view of a model's measurements, for routing decisions.
struct model_estimate {
    std::optional<std::chrono::nanoseconds> ewma_ttft;
    std::optional<std::chrono::nanoseconds> ewma_latency;
    /// Successful calls measured.
    std::uint64_t samples = 0;
    std::uint64_t in_flight = 0;
    circuit_state circuit = circuit_state::closed;
};

/// @brief Totals of everything a client did.
struct client_totals {
    std::uint64_t calls = 0;
    std::uint64_t failures = 0;
    std::uint64_t input_tokens = 0;
    std::uint64_t output_tokens = 0;
    /// The known part of the spend, USD.
    double cost_usd = 0;
    /// Successful calls whose cost is unknown (no price in the catalog, no reported cost).
    std::uint64_t unknown_cost_calls = 0;
};

}  // namespace llmux
