// SPDX-License-Identifier: BSL-1.0
#include "gateway/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <mutex>

namespace llmux::detail {

void status_counters::add(unsigned status, std::uint64_t n) noexcept {
    auto const it = std::find(statuses.begin(), statuses.end(), status);
    counts_[static_cast<std::size_t>(it - statuses.begin())].fetch_add(n,
                                                                       std::memory_order_relaxed);
}

std::uint64_t status_counters::total() const noexcept {
    std::uint64_t n = 0;
    for (auto const& c : counts_) n += c.load(std::memory_order_relaxed);
    return n;
}

gateway_metrics::gateway_metrics(std::vector<std::string> const& fixed) {
    for (auto const& n : fixed) fixed_.emplace(n, std::make_unique<model_counters>());
}

namespace {
/// A pointer that does not own: fixed counters and `(other)` live as long as the metrics.
std::shared_ptr<model_counters> unowned(model_counters& c) {
    return std::shared_ptr<model_counters>(std::shared_ptr<void>(), &c);
}
}  // namespace

void fold_into(model_counters& into, model_counters const& from) noexcept {
    auto add = [](std::atomic<std::uint64_t>& a, std::atomic<std::uint64_t> const& b) {
        a.fetch_add(b.load(std::memory_order_relaxed), std::memory_order_relaxed);
    };
    add(into.requests, from.requests);
    add(into.streams, from.streams);
    add(into.attempts, from.attempts);
    add(into.fallbacks, from.fallbacks);
    add(into.input_tokens, from.input_tokens);
    add(into.output_tokens, from.output_tokens);
    add(into.cached_input_tokens, from.cached_input_tokens);
    add(into.cache_write_tokens, from.cache_write_tokens);
    add(into.reasoning_tokens, from.reasoning_tokens);
    add(into.cost_nano_usd, from.cost_nano_usd);
    from.errors.for_each([&](unsigned status, std::uint64_t n) { into.errors.add(status, n); });
    into.latency.merge(from.latency);
    into.ttft.merge(from.ttft);
}

std::shared_ptr<model_counters> gateway_metrics::model(std::string_view name, bool create) {
    if (auto it = fixed_.find(name); it != fixed_.end()) return unowned(*it->second);
    std::lock_guard lock(mu_);
    if (auto it = dynamic_.find(name); it != dynamic_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return it->second.counters;
    }
    if (!create) return unowned(other_);
    lru_.emplace_front(name);
    auto& e = dynamic_[lru_.front()];
    e.counters = std::make_shared<model_counters>();
    e.lru = lru_.begin();
    auto out = e.counters;
    // Fold the least recently used names that no request holds (use_count 1: only the map).
    for (auto it = lru_.end(); dynamic_.size() > max_dynamic && it != lru_.begin();) {
        --it;
        auto d = dynamic_.find(*it);
        if (d->second.counters.use_count() > 1) continue;
        fold_into(other_, *d->second.counters);
        dynamic_.erase(d);
        it = lru_.erase(it);
    }
    return out;
}

std::size_t gateway_metrics::dynamic_count() const {
    std::lock_guard lock(mu_);
    return dynamic_.size();
}

void label_value(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '\\' || c == '"')
            out += '\\', out += c;
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
}

void num(std::string& out, std::uint64_t v) {
    char buf[24];
    int const n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
    out.append(buf, static_cast<std::size_t>(n));
}

void real(std::string& out, double v) {
    char buf[40];
    int const n = std::snprintf(buf, sizeof buf, "%.9g", v);
    out.append(buf, static_cast<std::size_t>(n));
}

void help(std::string& out, char const* name, char const* type, char const* text) {
    out.append("# HELP ").append(name).append(" ").append(text).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void scalar(std::string& out, char const* name, char const* type, char const* text,
            std::uint64_t v) {
    help(out, name, type, text);
    out.append(name).append(" ");
    num(out, v);
    out += '\n';
}

namespace {

/// Upper bounds of the exported buckets, in seconds.
constexpr double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                             0.5,    1,     2.5,    5,     10,   30,    60,   120, 300};

void histogram(std::string& out, char const* name, std::string_view model,
               latency_histogram const& h) {
    auto const count = h.count();
    for (double b : bounds) {
        out.append(name).append("_bucket{model=\"");
        label_value(out, model);
        out.append("\",le=\"");
        real(out, b);
        out.append("\"} ");
        auto const d = std::chrono::nanoseconds(static_cast<std::int64_t>(b * 1e9));
        num(out, std::min(count, h.count_at_or_below(d)));
        out += '\n';
    }
    out.append(name).append("_bucket{model=\"");
    label_value(out, model);
    out.append("\",le=\"+Inf\"} ");
    num(out, count);
    out += '\n';
    out.append(name).append("_sum{model=\"");
    label_value(out, model);
    out.append("\"} ");
    real(out, std::chrono::duration<double>(h.sum()).count());
    out += '\n';
    out.append(name).append("_count{model=\"");
    label_value(out, model);
    out.append("\"} ");
    num(out, count);
    out += '\n';
}

}  // namespace

void gateway_metrics::render(std::string& out, connections conn) const {
    scalar(out, "llmux_gateway_http_requests_total", "counter",
           "HTTP requests answered, every endpoint.",
           http_requests.load(std::memory_order_relaxed));
    scalar(out, "llmux_gateway_in_flight", "gauge", "Model requests being answered now.",
           in_flight.load(std::memory_order_relaxed));
    scalar(out, "llmux_gateway_client_disconnects_total", "counter",
           "Model requests whose client went away before the answer was complete.",
           client_disconnects.load(std::memory_order_relaxed));
    scalar(out, "llmux_gateway_auth_failures_total", "counter",
           "Requests refused for a missing or unknown gateway key.",
           auth_failures.load(std::memory_order_relaxed));
    scalar(out, "llmux_gateway_rate_limited_total", "counter",
           "Requests refused by a gateway key's rate limit.",
           rate_limited.load(std::memory_order_relaxed));
    scalar(out, "llmux_gateway_budget_exceeded_total", "counter",
           "Requests refused because a gateway key's budget is spent.",
           budget_exceeded.load(std::memory_order_relaxed));
    help(out, "llmux_gateway_cache_lookups_total", "counter",
         "Model requests of groups with a response cache, by outcome: hit (answered from the "
         "cache), miss, bypass (Cache-Control: no-cache or no-store, or a temperature above 0).");
    for (auto const& [label, n] : {std::pair{"hit", &cache_hits}, std::pair{"miss", &cache_misses},
                                   std::pair{"bypass", &cache_bypassed}}) {
        out += "llmux_gateway_cache_lookups_total{result=\"";
        out += label;
        out += "\"} ";
        num(out, n->load(std::memory_order_relaxed));
        out += '\n';
    }
    scalar(out, "llmux_gateway_cache_stores_total", "counter",
           "Answers kept in the response cache.", cache_stores.load(std::memory_order_relaxed));
    scalar(out, "llmux_gateway_connections_accepted_total", "counter", "Connections accepted.",
           conn.accepted);
    scalar(out, "llmux_gateway_connections_open", "gauge", "Connections open now.", conn.open);

    help(out, "llmux_gateway_http_errors_total", "counter",
         "HTTP responses with a status of 400 or more, by status (every endpoint).");
    errors.for_each([&](unsigned status, std::uint64_t n) {
        out.append("llmux_gateway_http_errors_total{code=\"");
        if (status)
            num(out, status);
        else
            out += "other";
        out.append("\"} ");
        num(out, n);
        out += '\n';
    });

    // A consistent list of (name, counters) for the per-model families.
    std::vector<std::pair<std::string_view, model_counters const*>> models;
    for (auto const& [n, c] : fixed_) models.emplace_back(n, c.get());
    std::lock_guard lock(mu_);
    for (auto const& [n, e] : dynamic_) models.emplace_back(n, e.counters.get());
    if (other_.requests.load(std::memory_order_relaxed)) models.emplace_back("(other)", &other_);

    auto per_model = [&](char const* name, char const* type, char const* text, auto get) {
        help(out, name, type, text);
        for (auto const& [n, c] : models) {
            out.append(name).append("{model=\"");
            label_value(out, n);
            out.append("\"} ");
            get(*c);
            out += '\n';
        }
    };
    auto count_of = [&](std::atomic<std::uint64_t> model_counters::*m) {
        return [&out, m](model_counters const& c) { num(out, (c.*m).load(std::memory_order_relaxed)); };
    };
    per_model("llmux_gateway_requests_total", "counter", "Model requests, by public model name.",
              count_of(&model_counters::requests));
    per_model("llmux_gateway_stream_requests_total", "counter", "Streamed model requests.",
              count_of(&model_counters::streams));
    per_model("llmux_gateway_attempts_total", "counter",
              "Upstream attempts (each deployment tried, retries included).",
              count_of(&model_counters::attempts));
    per_model("llmux_gateway_fallbacks_total", "counter",
              "Requests answered after the first deployment tried failed.",
              count_of(&model_counters::fallbacks));
    per_model("llmux_gateway_cost_usd_total", "counter", "Known upstream cost, USD.",
              [&](model_counters const& c) {
                  real(out, static_cast<double>(c.cost_nano_usd.load(std::memory_order_relaxed)) /
                                1e9);
              });
    help(out, "llmux_gateway_tokens_total", "counter",
         "Tokens reported by upstreams: input and output, and the parts of them read from "
         "(cached_input) and written to (cache_write) the upstream's prompt cache and spent on "
         "reasoning.");
    for (auto const& [n, c] : models)
        for (auto [kind, counter] :
             {std::pair{"input", &model_counters::input_tokens},
              std::pair{"output", &model_counters::output_tokens},
              std::pair{"cached_input", &model_counters::cached_input_tokens},
              std::pair{"cache_write", &model_counters::cache_write_tokens},
              std::pair{"reasoning", &model_counters::reasoning_tokens}}) {
            out.append("llmux_gateway_tokens_total{model=\"");
            label_value(out, n);
            out.append("\",kind=\"").append(kind).append("\"} ");
            num(out, ((*c).*counter).load(std::memory_order_relaxed));
            out += '\n';
        }
    help(out, "llmux_gateway_errors_total", "counter",
         "Failed model requests, by public model name and HTTP status.");
    for (auto const& [n, c] : models)
        c->errors.for_each([&, n = n](unsigned status, std::uint64_t v) {
            out.append("llmux_gateway_errors_total{model=\"");
            label_value(out, n);
            out.append("\",code=\"");
            if (status)
                num(out, status);
            else
                out += "other";
            out.append("\"} ");
            num(out, v);
            out += '\n';
        });
    help(out, "llmux_gateway_request_duration_seconds", "histogram",
         "Time from the request to the end of the answer, by public model name.");
    for (auto const& [n, c] : models)
        histogram(out, "llmux_gateway_request_duration_seconds", n, c->latency);
    help(out, "llmux_gateway_ttft_seconds", "histogram",
         "Time to the first content token (streams) or to the answer, by public model name.");
    for (auto const& [n, c] : models) histogram(out, "llmux_gateway_ttft_seconds", n, c->ttft);
}

}  // namespace llmux::detail
