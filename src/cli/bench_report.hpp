// SPDX-License-Identifier: BSL-1.0
// What `llmux bench` measured for each model, and the ways it is shown: the terminal table,
// JSON, CSV, and a self-contained SVG chart (with an HTML page around it). Chat runs and
// embedding runs (`--embed`) share the model record; each report shows the figures of its kind.
#pragma once

#include "cli/term.hpp"

#include <llmux/histogram.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace llmux::cli {

/// The measured calls of one model (warm-up calls are not in here).
struct bench_model {
    std::string model;
    /// Successful calls only: time to first token (streams: the first content chunk; whole
    /// answers: the response head; empty for embeddings, which have none) and whole-call
    /// latency, as the client measured them.
    latency_histogram ttft;
    latency_histogram latency;
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    /// Failures by `code_name` (`rate_limited`, `timeout`, ...).
    std::map<std::string, std::uint64_t> errors;
    /// The first failure of each code in `errors`, as `failure::to_string` says it.
    std::map<std::string, std::string> error_messages;
    /// Embedding runs: the texts the successful calls embedded, the requests the client sent
    /// them in (more than one per call past the provider's batch limit), and how many vectors
    /// came back of each length.
    std::uint64_t inputs = 0;
    std::uint64_t batches = 0;
    std::map<std::size_t, std::uint64_t> vector_lengths;
    std::uint64_t input_tokens = 0;
    std::uint64_t output_tokens = 0;
    /// Parts of the sums above: input tokens read from and written to the provider's cache,
    /// output tokens spent reasoning (as far as the provider reported them).
    std::uint64_t cached_input_tokens = 0;
    std::uint64_t cache_write_tokens = 0;
    std::uint64_t reasoning_tokens = 0;
    /// Successful calls whose provider did not report usage.
    std::uint64_t unknown_usage = 0;
    /// Numerator and denominator of tokens per second, summed over the successful calls; see
    /// `tokens_per_second`.
    double rate_tokens = 0;
    std::chrono::nanoseconds rate_time{};
    double cost_usd = 0;
    std::uint64_t unpriced = 0;
    /// From the first measured call's start to the last one's end.
    std::chrono::nanoseconds wall{};

    std::uint64_t done() const noexcept { return ok + failed; }
    /// Output tokens per second, summed per model (not an average of per-call rates).
    /// Streams: (output tokens - 1) / (latency - TTFT), the decode speed after the first token
    /// (1 / vLLM's "time per output token"). Whole answers show no first token, so: output
    /// tokens / latency. Empty without data.
    std::optional<double> tokens_per_second() const noexcept;
    /// Finished requests (answers and failures) per second of `wall`.
    std::optional<double> requests_per_second() const noexcept;
    /// Texts embedded by the successful calls per second of `wall`. Empty without data.
    std::optional<double> inputs_per_second() const noexcept;
    /// The vectors' length when every vector had the same one; empty otherwise.
    std::optional<std::size_t> dimensions() const noexcept;
    double error_rate() const noexcept;
};

/// How the benchmark was run, for the reports.
struct bench_settings {
    std::size_t requests = 0;
    std::size_t concurrency = 0;
    std::size_t warmup = 0;
    bool stream = false;
    bool emulated = false;
    std::size_t prompt_chars = 0;
    /// `--embed`: embedding calls of `inputs_per_call` texts each, asking for `dimensions`.
    bool embed = false;
    std::size_t inputs_per_call = 0;
    std::optional<std::uint32_t> dimensions;
    std::string started_at;  ///< ISO 8601, UTC
};

/// The table printed at the end, errors by code (with the first message of each) below it, and
/// the definitions used. Embedding runs have no TTFT and no output tokens: their columns are
/// latency, inputs per second, requests per second and the vectors' length.
std::string bench_table(std::vector<bench_model> const& models, bench_settings const& s,
                        palette const& p, std::size_t width);

/// One JSON object: the settings and, per model, counts, percentiles (ms), rates and errors.
boost::json::object bench_json(std::vector<bench_model> const& models, bench_settings const& s);

/// A header line and one line per model (the columns of the run's kind).
std::string bench_csv(std::vector<bench_model> const& models, bench_settings const& s);

/** A self-contained SVG 1.1 chart: TTFT and latency percentiles (p50, p90, p99, max) per model
    as grouped bars, and the cumulative distribution of latency (solid) and TTFT (dashed).
    Every model is a series in each panel: a `g` element of class `series ttft`, `series total`,
    `series cdf-total` and `series cdf-ttft`, whose `title` is the model id.
    Embedding runs: latency percentiles (`series total`), inputs per second (`series rate`, one
    bar per model) and the latency CDF (`series cdf-total`); nothing about TTFT.
*/
std::string bench_svg(std::vector<bench_model> const& models, bench_settings const& s);

/// An HTML page embedding the SVG and the results as a table.
std::string bench_html(std::vector<bench_model> const& models, bench_settings const& s);

}  // namespace llmux::cli
