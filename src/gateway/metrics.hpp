// SPDX-License-Identifier: BSL-1.0
// The gateway's counters and histograms, recorded lock-free from every connection's thread and
// written out as Prometheus text (`GET /metrics`).
#pragma once

#include <llmux/histogram.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

/// Counts by HTTP status: one atomic per status the gateway answers, and one for the rest.
class status_counters {
public:
    static constexpr std::array<unsigned, 17> statuses = {400, 401, 402, 403, 404, 405, 408,
                                                          413, 422, 429, 431, 499, 500, 502,
                                                          503, 504, 529};
    void add(unsigned status, std::uint64_t n = 1) noexcept;
    /// `(status, count)` for every status counted at least once; 0 is "other".
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t i = 0; i <= statuses.size(); ++i) {
            auto const n = counts_[i].load(std::memory_order_relaxed);
            if (n) f(i < statuses.size() ? statuses[i] : 0u, n);
        }
    }
    std::uint64_t total() const noexcept;

private:
    std::array<std::atomic<std::uint64_t>, statuses.size() + 1> counts_{};
};

/// What is measured for one public model name.
struct model_counters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> streams{0};
    /// Upstream attempts (one per deployment tried).
    std::atomic<std::uint64_t> attempts{0};
    /// Requests answered by another deployment than the first one tried.
    std::atomic<std::uint64_t> fallbacks{0};
    std::atomic<std::uint64_t> input_tokens{0};
    std::atomic<std::uint64_t> output_tokens{0};
    /// Parts of the two above: input read from / written to the upstream's cache, reasoning.
    std::atomic<std::uint64_t> cached_input_tokens{0};
    std::atomic<std::uint64_t> cache_write_tokens{0};
    std::atomic<std::uint64_t> reasoning_tokens{0};
    /// Known cost, in nano-USD (integer, so that it adds atomically).
    std::atomic<std::uint64_t> cost_nano_usd{0};
    status_counters errors;
    latency_histogram latency;
    latency_histogram ttft;
};

/// Adds every count of `from` to `into` (an evicted model's counts kept under `(other)`).
void fold_into(model_counters& into, model_counters const& from) noexcept;

/// Every counter of one gateway.
class gateway_metrics {
public:
    /// `fixed`: the configured public names, looked up without any lock.
    explicit gateway_metrics(std::vector<std::string> const& fixed);

    /** The counters of `name`. A configured (fixed) name always has its own. Any other name
        (a `provider/model` id a client sent) gets counters of its own only with `create` (the
        gateway asks for that once the model answered) or when it already has them; otherwise
        its counts go to `(other)`. At most `max_dynamic` such names keep their own counters:
        beyond that the least recently used one that no request holds is folded into `(other)`,
        so ids that clients make up cannot grow memory without bound. Hold the pointer while
        recording (it keeps the counters from being folded meanwhile).
    */
    std::shared_ptr<model_counters> model(std::string_view name, bool create);

    /// Names with counters of their own that are not configured ones (for tests).
    std::size_t dynamic_count() const;

    std::atomic<std::uint64_t> http_requests{0};
    std::atomic<std::uint64_t> in_flight{0};
    std::atomic<std::uint64_t> client_disconnects{0};
    std::atomic<std::uint64_t> auth_failures{0};
    std::atomic<std::uint64_t> rate_limited{0};
    std::atomic<std::uint64_t> budget_exceeded{0};
    /// The response cache (groups that have one): lookups by outcome and answers kept.
    std::atomic<std::uint64_t> cache_hits{0};
    std::atomic<std::uint64_t> cache_misses{0};
    std::atomic<std::uint64_t> cache_bypassed{0};
    std::atomic<std::uint64_t> cache_stores{0};
    status_counters errors;

    /// Server-side figures that the HTTP server keeps itself.
    struct connections {
        std::uint64_t accepted = 0;
        std::uint64_t open = 0;
    };
    /// Appends the Prometheus text exposition (format 0.0.4).
    void render(std::string& out, connections conn) const;

    static constexpr std::size_t max_dynamic = 256;

private:
    struct dynamic_entry {
        std::shared_ptr<model_counters> counters;
        std::list<std::string>::iterator lru;
    };

    std::map<std::string, std::unique_ptr<model_counters>, std::less<>> fixed_;
    mutable std::mutex mu_;  // guards dynamic_ and lru_ (never taken for fixed names)
    std::map<std::string, dynamic_entry, std::less<>> dynamic_;
    std::list<std::string> lru_;  // dynamic names, most recently used first
    model_counters other_;
};

// Prometheus text helpers, shared by every part that writes /metrics.
/// Escapes a label value (backslash, quote, newline).
void label_value(std::string& out, std::string_view v);
void num(std::string& out, std::uint64_t v);
void real(std::string& out, double v);
/// The `# HELP` and `# TYPE` lines of a family.
void help(std::string& out, char const* name, char const* type, char const* text);
/// A family of one unlabelled sample.
void scalar(std::string& out, char const* name, char const* type, char const* text,
            std::uint64_t v);

}  // namespace llmux::detail
