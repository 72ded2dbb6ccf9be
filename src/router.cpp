// SPDX-License-Identifier: BSL-1.0
#include <llmux/router.hpp>

#include <llmux/catalog.hpp>

#include "util/estimate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
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

}  // namespace

router::router(client& c, router_config cfg)
    : c_(&c), cfg_(std::move(cfg)), rng_(cfg_.seed ? cfg_.seed : std::random_device{}()) {}

std::vector<std::string> router::rank(chat_request const& req, route how,
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

    struct candidate {
        std::string id;
        model_info const* info;
        model_estimate est;
        std::optional<double> price;  // expected USD per call
        double key = 0;
        bool callable = true;  // the client has what it needs to call it (key, provider)
    };
    std::vector<candidate> cands;
    for (auto const& id : pool) {
        auto const provider = provider_of(id);
        if (!need.allow_providers.empty() &&
            std::find(need.allow_providers.begin(), need.allow_providers.end(), provider) ==
                need.allow_providers.end())
            continue;
        if (std::find(need.deny_providers.begin(), need.deny_providers.end(), provider) !=
            need.deny_providers.end())
            continue;
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
        std::optional<double> price;
        if (info) price = catalog::cost(info->prices_at(now), expected);
        if (need.max_price) {
            if (!price) continue;
            double const blended = *price * 1e6 / std::max(1.0, prompt_tokens + out_tokens);
            if (blended > *need.max_price) continue;
        }
        cands.push_back({id, info, c_->estimate(id), price, 0, !!c_->check(id)});
    }

    constexpr double unknown = std::numeric_limits<double>::infinity();
    std::lock_guard lk(mu_);
    switch (how) {
    case route::cheapest:
        for (auto& c : cands) c.key = c.price.value_or(unknown);
        break;
    case route::best:
        for (auto& c : cands)
            c.key = -(c.info ? c.info->quality : 0) * 1e6 + c.price.value_or(1e5);
        break;
    case route::least_busy:
        for (auto& c : cands)
            c.key = static_cast<double>(c.est.in_flight) * 1e12 +
                    (c.est.ewma_latency ? static_cast<double>(c.est.ewma_latency->count()) : 1e11);
        break;
    case route::fastest: {
        // Measured models by their moving time to first token; unmeasured ones after them,
        // except that now and then one of them goes first so that it gets measured.
        std::vector<std::size_t> unmeasured;
        for (std::size_t i = 0; i < cands.size(); ++i) {
            auto const& e = cands[i].est;
            if (e.samples >= cfg_.min_samples && e.ewma_ttft)
                cands[i].key = static_cast<double>(e.ewma_ttft->count());
            else {
                cands[i].key = 1e15 + static_cast<double>(i);
                unmeasured.push_back(i);
            }
        }
        std::uniform_real_distribution<double> coin(0, 1);
        if (!unmeasured.empty() && unmeasured.size() < cands.size() && coin(rng_) < cfg_.exploration) {
            std::uniform_int_distribution<std::size_t> pick(0, unmeasured.size() - 1);
            cands[unmeasured[pick(rng_)]].key = -1;
        }
        break;
    }
    case route::weighted:
        // Weighted random order (Efraimidis-Spirakis): key = -u^(1/w).
        for (auto& c : cands) {
            auto it = cfg_.weights.find(c.id);
            double const w = it == cfg_.weights.end() ? 1.0 : it->second;
            std::uniform_real_distribution<double> u(0, 1);
            c.key = w > 0 ? -std::pow(u(rng_), 1.0 / w) : 1.0;
        }
        break;
    }
    std::stable_sort(cands.begin(), cands.end(), [](candidate const& a, candidate const& b) {
        // Candidates the client cannot call (no key, unknown provider) go last: they cannot
        // answer, but when none can, the first one's error says why. Open circuits next.
        if (a.callable != b.callable) return a.callable;
        bool const ao = a.est.circuit == circuit_state::open, bo = b.est.circuit == circuit_state::open;
        if (ao != bo) return bo;
        return a.key < b.key;
    });
    std::vector<std::string> out;
    for (auto& c : cands) out.push_back(std::move(c.id));
    return out;
}

namespace {
failure nothing_fits(route_constraints const& need, route how) {
    std::ostringstream msg;
    msg << "no model satisfies the routing constraints (route " << to_string(how);
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

boost::asio::awaitable<result<chat_response>> router::chat(chat_request req, route how,
                                                           route_constraints need) {
    auto ranked = rank(req, how, need);
    if (ranked.empty()) co_return nothing_fits(need, how);
    co_return co_await fallback(*c_, std::move(ranked), std::move(req), cfg_.fallback);
}

fallback_stream router::stream(chat_request req, route how, route_constraints need) {
    auto ranked = rank(req, how, need);
    if (ranked.empty()) return fallback_stream::failed(nothing_fits(need, how));
    return stream_fallback(*c_, std::move(ranked), std::move(req), cfg_.fallback);
}

}  // namespace llmux
