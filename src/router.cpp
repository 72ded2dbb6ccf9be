// SPDX-License-Identifier: BSL-1.0
#include <llmux/router.hpp>

#include <llmux/catalog.hpp>

#include "util/estimate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <span>
#include <sstream>

namespace llmux {

std::optional<route> parse_route(std::string_view s) noexcept {
    if (s == "cheapest") return route::cheapest;
    if (s == "fastest") return route::fastest;
    if (s == "best") return route::best;
    if (s == "weighted") return route::weighted;
    if (s == "least_busy" || s == "least-busy") return route::least_busy;
    return std::nullopt;
}

char const* to_string(route r) noexcept {
    switch (r) {
    case route::cheapest: return "cheapest";
    case route::fastest: return "fastest";
    case route::best: return "best";
    case route::weighted: return "weighted";
    case route::least_busy: return "least_busy";
    }
    return "cheapest";
}

namespace {

std::string provider_of(std::string const& id) { return id.substr(0, id.find('/')); }

bool has_images(chat_request const& req) {
    for (auto const& m : req.messages)
        for (auto const& p : m.content)
            if (std::holds_alternative<image_part>(p)) return true;
    return false;
}

// -- the built-in strategies: each a stable sort by explicit keys ------------------------------

class cheapest_strategy final : public route_strategy {
public:
    std::string_view name() const noexcept override { return "cheapest"; }
    void order(std::vector<route_candidate>& c, route_context&) const override {
        std::stable_sort(c.begin(), c.end(), [](route_candidate const& a, route_candidate const& b) {
            // Priced before unpriced, then the lower expected cost.
            if (a.expected_cost.has_value() != b.expected_cost.has_value())
                return a.expected_cost.has_value();
            return a.expected_cost && *a.expected_cost < *b.expected_cost;
        });
    }
};

class best_strategy final : public route_strategy {
public:
    std::string_view name() const noexcept override { return "best"; }
    void order(std::vector<route_candidate>& c, route_context&) const override {
        std::stable_sort(c.begin(), c.end(), [](route_candidate const& a, route_candidate const& b) {
            // Known before unknown, then the higher quality, then the cheaper (priced first).
            if ((a.info != nullptr) != (b.info != nullptr)) return a.info != nullptr;
            int const qa = a.info ? a.info->quality : 0, qb = b.info ? b.info->quality : 0;
            if (qa != qb) return qa > qb;
            if (a.expected_cost.has_value() != b.expected_cost.has_value())
                return a.expected_cost.has_value();
            return a.expected_cost && *a.expected_cost < *b.expected_cost;
        });
    }
};

class fastest_strategy final : public route_strategy {
public:
    std::string_view name() const noexcept override { return "fastest"; }
    void order(std::vector<route_candidate>& c, route_context& ctx) const override {
        auto const min_samples = ctx.config.min_samples;
        auto measured = [&](route_candidate const& x) {
            return x.estimate.samples >= min_samples && x.estimate.ewma_ttft.has_value();
        };
        std::stable_sort(c.begin(), c.end(), [&](route_candidate const& a, route_candidate const& b) {
            // Measured before unmeasured, then the lower moving time to first token.
            bool const ma = measured(a), mb = measured(b);
            if (ma != mb) return ma;
            return ma && *a.estimate.ewma_ttft < *b.estimate.ewma_ttft;
        });
        // Now and then an unmeasured candidate goes first, so that new models get measured.
        auto const first_unmeasured = std::find_if_not(c.begin(), c.end(), measured);
        if (first_unmeasured == c.begin() || first_unmeasured == c.end()) return;
        std::uniform_real_distribution<double> coin(0, 1);
        if (coin(ctx.rng) >= ctx.config.exploration) return;
        auto const n = static_cast<std::size_t>(c.end() - first_unmeasured);
        std::uniform_int_distribution<std::size_t> pick(0, n - 1);
        auto const chosen = first_unmeasured + static_cast<std::ptrdiff_t>(pick(ctx.rng));
        std::rotate(c.begin(), chosen, chosen + 1);
    }
};

class weighted_strategy final : public route_strategy {
public:
    std::string_view name() const noexcept override { return "weighted"; }
    void order(std::vector<route_candidate>& c, route_context& ctx) const override {
        // Efraimidis-Spirakis: sorting by u^(1/w), highest first, draws candidates without
        // replacement with chances proportional to their weights.
        std::vector<std::pair<double, std::size_t>> keys;  // (draw, index); w <= 0: never first
        keys.reserve(c.size());
        std::uniform_real_distribution<double> u(0, 1);
        for (std::size_t i = 0; i < c.size(); ++i) {
            double const w = c[i].weight;
            double const draw = u(ctx.rng);
            keys.emplace_back(w > 0 ? std::pow(draw, 1.0 / w) : -1.0, i);
        }
        std::stable_sort(keys.begin(), keys.end(),
                         [](auto const& a, auto const& b) { return a.first > b.first; });
        std::vector<route_candidate> out;
        out.reserve(c.size());
        for (auto const& [k, i] : keys) out.push_back(std::move(c[i]));
        c = std::move(out);
    }
};

class least_busy_strategy final : public route_strategy {
public:
    std::string_view name() const noexcept override { return "least_busy"; }
    void order(std::vector<route_candidate>& c, route_context&) const override {
        std::stable_sort(c.begin(), c.end(), [](route_candidate const& a, route_candidate const& b) {
            // Fewer calls in flight, then measured before unmeasured, then the lower latency.
            if (a.estimate.in_flight != b.estimate.in_flight)
                return a.estimate.in_flight < b.estimate.in_flight;
            bool const ma = a.estimate.ewma_latency.has_value(),
                       mb = b.estimate.ewma_latency.has_value();
            if (ma != mb) return ma;
            return ma && *a.estimate.ewma_latency < *b.estimate.ewma_latency;
        });
    }
};

}  // namespace

route_strategy const& strategy(route how) noexcept {
    static cheapest_strategy const cheapest;
    static fastest_strategy const fastest;
    static best_strategy const best;
    static weighted_strategy const weighted;
    static least_busy_strategy const least_busy;
    switch (how) {
    case route::cheapest: return cheapest;
    case route::fastest: return fastest;
    case route::best: return best;
    case route::weighted: return weighted;
    case route::least_busy: return least_busy;
    }
    return cheapest;
}

namespace {
/// The providers `need` keeps (`allow_providers`, when any) and does not drop.
bool provider_allowed(route_constraints const& need, std::string_view provider) {
    auto const in = [&](std::vector<std::string> const& list) {
        return std::find(list.begin(), list.end(), provider) != list.end();
    };
    return (need.allow_providers.empty() || in(need.allow_providers)) && !in(need.deny_providers);
}

/// A candidate with what `c` measured of it and its weight in `cfg`.
route_candidate make_candidate(client const& c, router_config const& cfg, std::string const& id,
                               model_info const* info, std::optional<double> cost, bool callable,
                               std::size_t position) {
    route_candidate rc;
    rc.id = id;
    rc.info = info;
    rc.estimate = c.estimate(id);
    rc.expected_cost = cost;
    if (auto w = cfg.weights.find(id); w != cfg.weights.end()) rc.weight = w->second;
    rc.position = position;
    rc.callable = callable;
    return rc;
}
}  // namespace


router::router(client& c, router_config cfg)
    : c_(&c), cfg_(std::move(cfg)), rng_(cfg_.seed ? cfg_.seed : std::random_device{}()) {}

std::vector<route_candidate> router::candidates(chat_request const& req,
                                                route_constraints const& need_in) {
    auto need = need_in;
    need.needs_tools = need.needs_tools || !req.tools.empty();
    need.needs_vision = need.needs_vision || has_images(req);
    need.needs_json_schema =
        need.needs_json_schema ||
        (req.response_format && req.response_format->type == response_format::kind::json_schema);
    // The client's own estimate: typical tokens for prices, the lowest plausible count for
    // the context a candidate needs (as the client's own context check).
    auto const size = detail::estimate_prompt(req);
    double const prompt_tokens = static_cast<double>(size.typical);
    double const out_tokens = static_cast<double>(
        req.max_tokens ? static_cast<std::uint64_t>(*req.max_tokens) : need.expected_output_tokens);
    need.min_context = std::max<std::uint64_t>(
        need.min_context, size.lowest + static_cast<std::uint64_t>(out_tokens));

    auto const& cat = c_->models();
    auto const now = std::chrono::system_clock::now();
    usage expected;
    expected.input_tokens = static_cast<std::uint64_t>(prompt_tokens);
    expected.output_tokens = static_cast<std::uint64_t>(out_tokens);
    std::vector<std::string> pool = cfg_.candidates;
    if (pool.empty()) {
        for (auto const& m : cat.models())
            if (c_->check(m.id)) pool.push_back(m.id);
    }

    std::vector<route_candidate> cands;
    for (auto const& id : pool) {
        if (!provider_allowed(need, provider_of(id))) continue;
        auto const* info = cat.find(id);
        bool const wants_facts = need.needs_tools || need.needs_vision || need.needs_json_schema ||
                                 need.max_price || need.min_context > 0;
        if (!info && wants_facts) continue;  // nothing known: cannot promise the constraint
        if (info) {
            if (need.needs_tools && !info->tools) continue;
            if (need.needs_vision && !info->vision) continue;
            if (need.needs_json_schema && !info->json_schema) continue;
            if (need.min_context && info->context_window && *info->context_window < need.min_context)
                continue;
        }
        // The expected call at today's prices, context-size tier and per-request fee included.
        std::optional<double> cost;
        if (info) cost = catalog::cost(info->prices_at(now), expected);
        if (need.max_price) {
            if (!cost) continue;
            double const blended = *cost * 1e6 / std::max(1.0, prompt_tokens + out_tokens);
            if (blended > *need.max_price) continue;
        }
        cands.push_back(make_candidate(*c_, cfg_, id, info, cost, !!c_->check(id), cands.size()));
    }
    return cands;
}

namespace {
failure nothing_fits(route_constraints const& need, std::string_view how) {
    std::ostringstream msg;
    msg << "no model satisfies the routing constraints (route " << how;
    if (need.needs_tools) msg << ", tools";
    if (need.needs_vision) msg << ", vision";
    if (need.needs_json_schema) msg << ", JSON schema";
    if (need.min_context) msg << ", context >= " << need.min_context;
    if (need.max_price) msg << ", price <= $" << *need.max_price << "/Mtok";
    if (!need.allow_providers.empty()) msg << ", providers limited";
    msg << ")";
    return failure(error::invalid_request, msg.str());
}
}  // namespace

std::vector<route_candidate> router::candidates(embedding_request const& req,
                                                route_constraints const& need) {
    auto const size = detail::estimate_inputs(req.inputs);
    std::uint64_t longest = 0;  // the longest input's lowest estimate, for context windows
    for (std::size_t i = 0; i < req.inputs.size(); ++i)
        longest = std::max(longest,
                           detail::estimate_inputs(std::span(req.inputs).subspan(i, 1)).lowest);
    auto const min_context = std::max(need.min_context, longest);
    auto const& cat = c_->models();
    auto const now = std::chrono::system_clock::now();
    usage expected;
    expected.input_tokens = size.typical;
    expected.output_tokens = 0;

    std::vector<std::string> pool = cfg_.candidates;
    if (pool.empty()) {
        for (auto const& m : cat.models())
            if (m.embedding_dimensions && c_->check_embed(m.id)) pool.push_back(m.id);
    }
    std::vector<route_candidate> cands;
    for (auto const& id : pool) {
        if (!provider_allowed(need, provider_of(id))) continue;
        auto const can = c_->check_embed(id);
        if (!can && can.error().code == make_error_code(error::unsupported)) continue;
        auto const* info = cat.find(id);
        if (!info && (need.max_price || need.min_context)) continue;
        if (info && min_context && info->context_window && *info->context_window < min_context)
            continue;
        std::optional<double> cost;
        if (info) cost = catalog::cost(info->prices_at(now), expected);
        if (need.max_price) {
            auto const price = info ? info->prices_at(now).input_price : std::nullopt;
            if (!price || *price > *need.max_price) continue;
        }
        cands.push_back(make_candidate(*c_, cfg_, id, info, cost, !!can, cands.size()));
    }
    return cands;
}

std::vector<std::string> router::rank(embedding_request const& req, route how,
                                      route_constraints const& need) {
    return rank(req, strategy(how), need);
}

std::vector<std::string> router::rank(embedding_request const& req, route_strategy const& how,
                                      route_constraints const& need) {
    auto order = ranked(candidates(req, need), how);
    if (req.dimensions) return order;
    // One width: the first ranked candidate's that the catalog knows.
    auto const& cat = c_->models();
    std::optional<std::uint32_t> width;
    std::vector<std::string> kept;
    for (auto& id : order) {
        auto const* info = cat.find(id);
        auto const w = info ? info->embedding_dimensions : std::nullopt;
        if (w && !width) width = w;
        if (w && w != width) continue;
        kept.push_back(std::move(id));
    }
    return kept;
}

boost::asio::awaitable<result<embedding_response>> router::embed(embedding_request req, route how,
                                                                 route_constraints need) {
    return embed(std::move(req), strategy(how), std::move(need));
}

boost::asio::awaitable<result<embedding_response>> router::embed(embedding_request req,
                                                                 route_strategy const& how,
                                                                 route_constraints need) {
    auto order = rank(req, how, need);
    if (order.empty()) co_return nothing_fits(need, how.name());
    co_return co_await fallback(*c_, std::move(order), std::move(req), cfg_.fallback);
}

std::vector<std::string> router::ranked(std::vector<route_candidate> cands,
                                        route_strategy const& how) {
    {
        std::lock_guard lk(mu_);
        route_context ctx{cfg_, rng_};
        how.order(cands, ctx);
    }
    // Candidates the client cannot call (no key, unknown provider) go last: they cannot
    // answer, but when none can, the first one's error says why. Open circuits before them.
    auto const callable_end = std::stable_partition(
        cands.begin(), cands.end(), [](route_candidate const& c) { return c.callable; });
    std::stable_partition(cands.begin(), callable_end, [](route_candidate const& c) {
        return c.estimate.circuit != circuit_state::open;
    });
    std::vector<std::string> out;
    out.reserve(cands.size());
    for (auto& c : cands) out.push_back(std::move(c.id));
    return out;
}

std::vector<std::string> router::rank(chat_request const& req, route how,
                                      route_constraints const& need) {
    return rank(req, strategy(how), need);
}

std::vector<std::string> router::rank(chat_request const& req, route_strategy const& how,
                                      route_constraints const& need) {
    return ranked(candidates(req, need), how);
}


boost::asio::awaitable<result<chat_response>> router::chat(chat_request req, route how,
                                                           route_constraints need) {
    return chat(std::move(req), strategy(how), std::move(need));
}

boost::asio::awaitable<result<chat_response>> router::chat(chat_request req,
                                                           route_strategy const& how,
                                                           route_constraints need) {
    auto order = rank(req, how, need);
    if (order.empty()) co_return nothing_fits(need, how.name());
    co_return co_await fallback(*c_, std::move(order), std::move(req), cfg_.fallback);
}

chat_stream router::stream(chat_request req, route how, route_constraints need) {
    return stream(std::move(req), strategy(how), std::move(need));
}

chat_stream router::stream(chat_request req, route_strategy const& how, route_constraints need) {
    auto order = rank(req, how, need);
    if (order.empty()) return chat_stream::failed(nothing_fits(need, how.name()));
    return stream_fallback(*c_, std::move(order), std::move(req), cfg_.fallback);
}

}  // namespace llmux
