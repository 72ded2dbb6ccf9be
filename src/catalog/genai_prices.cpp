// SPDX-License-Identifier: BSL-1.0
#include "catalog/genai_prices.hpp"
#include "util/json_read.hpp"

#include "util/json_write.hpp"

#include <boost/json/array.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cmath>
#include <set>

namespace llmux::detail {

// Generated at build time from data/ (cmake/builtin_catalog.cpp.in).
extern std::string_view const builtin_price_data_json;
extern std::string_view const builtin_price_schema_json;
extern std::string_view const builtin_overlay_json;
extern std::string_view const builtin_price_commit_id;

std::string_view builtin_price_data() noexcept {
    return builtin_price_data_json;
}
std::string_view builtin_price_schema() noexcept {
    return builtin_price_schema_json;
}
std::string_view builtin_overlay() noexcept {
    return builtin_overlay_json;
}
std::string_view builtin_price_commit() noexcept {
    return builtin_price_commit_id;
}

namespace json = boost::json;

namespace {

using std::chrono::seconds;

failure bad(std::string_view origin, std::string const& where, std::string const& what) {
    return failure(error::invalid_config, std::string(origin) + ": " + where + ": " + what);
}

bool is_nonneg_number(json::value const& v) {
    if (!v.is_number()) return false;
    double const d = v.to_number<double>();
    return std::isfinite(d) && d >= 0;
}

int digits(std::string_view s, std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

std::optional<std::chrono::sys_days> parse_date(std::string_view s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
    int const y = digits(s, 0, 4), m = digits(s, 5, 2), d = digits(s, 8, 2);
    if (y < 0 || m < 0 || d < 0) return std::nullopt;
    std::chrono::year_month_day const ymd{std::chrono::year{y},
                                          std::chrono::month{static_cast<unsigned>(m)},
                                          std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    return std::chrono::sys_days{ymd};
}

/// `HH:MM:SS[.frac][Z|+HH:MM|-HH:MM]` as seconds after midnight UTC.
std::optional<seconds> parse_time(std::string_view s) {
    int const h = digits(s, 0, 2), m = digits(s, 3, 2), sec = digits(s, 6, 2);
    if (h < 0 || m < 0 || sec < 0 || s[2] != ':' || s[5] != ':' || h > 23 || m > 59 || sec > 59)
        return std::nullopt;
    std::size_t i = 8;
    if (i < s.size() && s[i] == '.')
        for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9';)
            ++i;  // fractions: ignored
    long offset = 0;
    if (i < s.size()) {
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
            // UTC
        } else if ((s[i] == '+' || s[i] == '-') && s.size() == i + 6 && s[i + 3] == ':') {
            int const oh = digits(s, i + 1, 2), om = digits(s, i + 4, 2);
            if (oh < 0 || om < 0) return std::nullopt;
            offset = (s[i] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
        } else {
            return std::nullopt;
        }
    }
    long const local = h * 3600L + m * 60L + sec;
    return seconds{((local - offset) % 86400 + 86400) % 86400};
}

result<gp_price> parse_price(json::value const& v, std::string_view origin,
                             std::string const& where) {
    gp_price p;
    if (v.is_number()) {
        if (!is_nonneg_number(v)) return bad(origin, where, "must be a finite number >= 0");
        p.base = v.to_number<double>();
        return p;
    }
    auto const* o = v.if_object();
    auto const* base = o ? o->if_contains("base") : nullptr;
    auto const* tiers = o ? o->if_contains("tiers") : nullptr;
    if (!base || !tiers || !tiers->is_array())
        return bad(origin, where, "must be a number or {\"base\": N, \"tiers\": [...]}");
    if (!is_nonneg_number(*base))
        return bad(origin, where + ".base", "must be a finite number >= 0");
    p.base = base->to_number<double>();
    for (std::size_t i = 0; i < tiers->get_array().size(); ++i) {
        std::string const at = where + ".tiers[" + std::to_string(i) + "]";
        auto const* t = tiers->get_array()[i].if_object();
        auto const* start = t ? t->if_contains("start") : nullptr;
        auto const* price = t ? t->if_contains("price") : nullptr;
        if (!start || !price) return bad(origin, at, "must be {\"start\": N, \"price\": N}");
        if (!is_nonneg_number(*start) ||
            start->to_number<double>() != std::floor(start->to_number<double>()))
            return bad(origin, at + ".start", "must be a whole number >= 0");
        if (!is_nonneg_number(*price))
            return bad(origin, at + ".price", "must be a finite number >= 0");
        p.tiers.emplace_back(static_cast<std::uint64_t>(start->to_number<double>()),
                             price->to_number<double>());
    }
    std::stable_sort(p.tiers.begin(), p.tiers.end(),
                     [](auto const& a, auto const& b) { return a.first < b.first; });
    return p;
}

result<void> parse_model_price(json::value const& v, gp_period& into, std::string_view origin,
                               std::string const& where) {
    auto const* o = v.if_object();
    if (!o) return bad(origin, where, "must be an object of prices");
    for (auto const& [k, pv] : *o) {
        std::string const at = where + "." + std::string(k);
        if (k == "requests_kcount" && !pv.is_number())
            return bad(origin, at, "must be a number (USD per thousand requests)");
        auto p = parse_price(pv, origin, at);
        if (!p) return p.error();
        into.prices.emplace(std::string(k), std::move(*p));
    }
    return {};
}

result<std::vector<gp_period>> parse_prices(json::value const& v, std::string_view origin,
                                            std::string const& where) {
    std::vector<gp_period> out;
    if (v.is_object()) {
        out.emplace_back();
        if (auto r = parse_model_price(v, out.back(), origin, where); !r) return r.error();
        return out;
    }
    auto const* list = v.if_array();
    if (!list || list->empty())
        return bad(origin, where,
                   "must be an object of prices or a non-empty array of conditional prices");
    for (std::size_t i = 0; i < list->size(); ++i) {
        std::string const at = where + "[" + std::to_string(i) + "]";
        auto const* c = (*list)[i].if_object();
        auto const* prices = c ? c->if_contains("prices") : nullptr;
        if (!prices) return bad(origin, at, "must be {\"prices\": {...}, \"constraint\": {...}}");
        gp_period p;
        if (auto const* k = c->if_contains("constraint"); k && !k->is_null()) {
            auto const* ko = k->if_object();
            if (!ko) return bad(origin, at + ".constraint", "must be an object");
            if (auto const* d = ko->if_contains("start_date")) {
                p.start_date = d->is_string() ? parse_date(d->get_string()) : std::nullopt;
                if (!p.start_date)
                    return bad(origin, at + ".constraint.start_date",
                               "must be a date (YYYY-MM-DD)");
            } else if (ko->contains("start_time") || ko->contains("end_time")) {
                for (auto [key, into] :
                     {std::pair{"start_time", &p.start_time}, std::pair{"end_time", &p.end_time}}) {
                    auto const* t = ko->if_contains(key);
                    *into = t && t->is_string() ? parse_time(t->get_string()) : std::nullopt;
                    if (!*into)
                        return bad(origin, at + ".constraint." + key,
                                   "must be a time (HH:MM:SS, optional Z or offset)");
                }
            } else {
                return bad(origin, at + ".constraint",
                           "must have start_date, or start_time and end_time");
            }
        }
        if (auto r = parse_model_price(*prices, p, origin, at + ".prices"); !r) return r.error();
        out.push_back(std::move(p));
    }
    return out;
}

result<std::optional<match_rule>> optional_rule(json::object const& o, char const* key,
                                                std::string const& where) {
    auto const* v = o.if_contains(key);
    if (!v || v->is_null()) return std::optional<match_rule>{};
    auto r = match_rule::parse(*v, where + "." + key);
    if (!r) return r.error();
    return std::optional<match_rule>{std::move(*r)};
}

std::string with_origin(std::string_view origin, failure const& f) {
    return std::string(origin) + ": " + f.diag.message;
}

}  // namespace

std::size_t price_data::model_count() const noexcept {
    std::size_t n = 0;
    for (auto const& p : providers)
        n += p.models.size();
    return n;
}

result<price_data> parse_price_data(std::string_view text, std::string_view origin, bool keep_raw) {
    boost::system::error_code ec;
    // The data is parsed into a monotonic arena: one buffer, freed at once.
    json::monotonic_resource arena;
    auto doc = detail::parse_json(text, ec, &arena);
    if (ec)
        return failure(error::invalid_config,
                       std::string(origin) + ": not valid JSON (" + ec.message() + ")");
    return price_data_from_json(doc, origin, keep_raw);
}

result<price_data> price_data_from_json(json::value const& doc, std::string_view origin,
                                        bool keep_raw) {
    auto const* list = doc.if_array();
    if (!list || list->empty())
        return failure(error::invalid_config,
                       std::string(origin) +
                           ": expected genai-prices data, a JSON array of providers");
    price_data out;
    std::set<std::string, std::less<>> ids;
    for (std::size_t i = 0; i < list->size(); ++i) {
        std::string where = "providers[" + std::to_string(i) + "]";
        auto const* o = (*list)[i].if_object();
        if (!o) return bad(origin, where, "must be an object");
        gp_provider p;
        auto const* id = o->if_contains("id");
        if (!id || !id->is_string() || id->get_string().empty())
            return bad(origin, where + ".id", "must be a non-empty string");
        p.id = std::string(id->get_string());
        where += " (" + p.id + ")";
        if (!ids.insert(p.id).second) return bad(origin, where, "provider id repeated");
        if (auto const* n = o->if_contains("name"); n && n->is_string())
            p.name = std::string(n->get_string());
        auto pm = optional_rule(*o, "provider_match", where);
        if (!pm) return failure(error::invalid_config, with_origin(origin, pm.error()));
        p.provider_match = std::move(*pm);
        auto mm = optional_rule(*o, "model_match", where);
        if (!mm) return failure(error::invalid_config, with_origin(origin, mm.error()));
        p.model_match = std::move(*mm);
        if (auto const* f = o->if_contains("fallback_model_providers"); f && !f->is_null()) {
            if (!f->is_array())
                return bad(origin, where + ".fallback_model_providers",
                           "must be an array of provider ids");
            for (auto const& e : f->get_array()) {
                if (!e.is_string())
                    return bad(origin, where + ".fallback_model_providers",
                               "must be an array of provider ids");
                p.fallbacks.emplace_back(e.get_string());
            }
        }
        auto const* models = o->if_contains("models");
        if (!models || !models->is_array())
            return bad(origin, where + ".models", "must be an array");
        for (std::size_t j = 0; j < models->get_array().size(); ++j) {
            std::string at = where + ".models[" + std::to_string(j) + "]";
            auto const* mo = models->get_array()[j].if_object();
            if (!mo) return bad(origin, at, "must be an object");
            gp_model m;
            auto const* mid = mo->if_contains("id");
            if (!mid || !mid->is_string() || mid->get_string().empty() ||
                std::any_of(mid->get_string().begin(), mid->get_string().end(),
                            [](char c) { return static_cast<unsigned char>(c) <= ' '; }))
                return bad(origin, at + ".id", "must be a non-empty string without spaces");
            m.id = std::string(mid->get_string());
            at += " (" + m.id + ")";
            auto const* match = mo->if_contains("match");
            if (!match) return bad(origin, at, "missing match rule");
            auto rule = match_rule::parse(*match, at + ".match");
            if (!rule) return failure(error::invalid_config, with_origin(origin, rule.error()));
            m.match = std::move(*rule);
            if (auto const* c = mo->if_contains("context_window"); c && !c->is_null()) {
                if (!is_nonneg_number(*c))
                    return bad(origin, at + ".context_window", "must be a whole number >= 0");
                m.context_window = static_cast<std::uint64_t>(c->to_number<double>());
            }
            if (auto const* d = mo->if_contains("deprecated"); d && !d->is_null()) {
                if (!d->is_bool()) return bad(origin, at + ".deprecated", "must be true or false");
                m.deprecated = d->get_bool();
            }
            auto const* prices = mo->if_contains("prices");
            if (!prices) return bad(origin, at, "missing prices");
            auto periods = parse_prices(*prices, origin, at + ".prices");
            if (!periods) return periods.error();
            m.periods = std::move(*periods);
            if (keep_raw) m.raw_prices = json::value(*prices, json::storage_ptr());
            p.models.push_back(std::move(m));
        }
        out.providers.push_back(std::move(p));
    }
    for (auto const& p : out.providers)
        for (auto const& f : p.fallbacks)
            if (!ids.count(f))
                return failure(error::invalid_config,
                               std::string(origin) + ": provider " + p.id +
                                   ": fallback_model_providers names unknown provider '" + f + "'");
    return out;
}

model_prices to_model_prices(gp_period const& p) {
    auto pick = [&](std::string_view a, std::string_view b) -> gp_price const* {
        if (auto it = p.prices.find(a); it != p.prices.end()) return &it->second;
        if (auto it = p.prices.find(b); it != p.prices.end()) return &it->second;
        return nullptr;
    };
    gp_price const* in = pick("input_mtok", "input_text_mtok");
    gp_price const* out = pick("output_mtok", "output_text_mtok");
    gp_price const* read = pick("cache_read_mtok", "cache_text_read_mtok");
    gp_price const* write = pick("cache_write_mtok", "cache_text_write_mtok");
    model_prices m;
    auto base = [](gp_price const* g) { return g ? std::optional<double>(g->base) : std::nullopt; };
    m.input_price = base(in);
    m.output_price = base(out);
    m.cached_input_price = base(read);
    m.cache_write_price = base(write);
    if (auto it = p.prices.find("requests_kcount"); it != p.prices.end())
        m.request_price = it->second.base / 1000;
    // Each kind of token may have its own thresholds; merged, every threshold of any kind is a
    // tier, with each tiered kind's price at a prompt just above it.
    std::set<std::uint64_t> starts;
    for (auto const* g : {in, out, read, write})
        if (g)
            for (auto const& [s, price] : g->tiers)
                starts.insert(s);
    auto at = [](gp_price const* g, std::uint64_t s) -> std::optional<double> {
        if (!g || g->tiers.empty()) return std::nullopt;  // not tiered: the model's own price
        double v = g->base;
        for (auto const& [start, price] : g->tiers)
            if (start <= s) v = price;
        return v;
    };
    for (auto s : starts)
        m.tiers.push_back({.above = s,
                           .input_price = at(in, s),
                           .output_price = at(out, s),
                           .cached_input_price = at(read, s),
                           .cache_write_price = at(write, s)});
    return m;
}

std::vector<provider_listing> listings_of(std::string_view data_id) {
    if (data_id == "aws") return {{"bedrock", false}};
    if (data_id == "google") return {{"google", true}, {"vertex", false}};
    return {{std::string(data_id), false}};
}

namespace {

/// The id under which diffs name a model: its first listing that shows it.
std::string listed_id(gp_provider const& p, gp_model const& m) {
    for (auto const& l : listings_of(p.id))
        if (!(l.skip_claude && m.id.starts_with("claude"))) return l.provider + "/" + m.id;
    return p.id + "/" + m.id;
}

std::string number_text(json::value const& v) {
    return to_json(v);
}

std::string describe_change(json::value const& before, json::value const& after) {
    // Plain prices: name each kind that changed; anything else (tiers, dated prices) in short.
    auto const* a = before.if_object();
    auto const* b = after.if_object();
    if (!a || !b) return "prices changed";
    std::set<std::string> keys;
    for (auto const& [k, v] : *a)
        keys.emplace(k);
    for (auto const& [k, v] : *b)
        keys.emplace(k);
    std::string out;
    for (auto const& k : keys) {
        auto const* x = a->if_contains(k);
        auto const* y = b->if_contains(k);
        if (x && y && *x == *y) continue;
        std::string name = k;
        if (auto pos = name.rfind("_mtok"); pos != std::string::npos && pos + 5 == name.size())
            name.resize(pos);
        if (!out.empty()) out += ", ";
        out += name + " " + (x ? number_text(*x) : std::string("-")) + " -> " +
               (y ? number_text(*y) : std::string("-"));
    }
    return out.empty() ? "prices changed" : out;
}

}  // namespace

price_data_diff diff_price_data(price_data const& before, price_data const& after) {
    std::map<std::string, json::value const*> old_models, new_models;
    for (auto const& p : before.providers)
        for (auto const& m : p.models)
            old_models.emplace(listed_id(p, m), &m.raw_prices);
    for (auto const& p : after.providers)
        for (auto const& m : p.models)
            new_models.emplace(listed_id(p, m), &m.raw_prices);
    price_data_diff d;
    for (auto const& [id, prices] : new_models) {
        auto it = old_models.find(id);
        if (it == old_models.end())
            d.added.push_back(id);
        else if (*it->second != *prices)
            d.changed.push_back(id + ": " + describe_change(*it->second, *prices));
    }
    for (auto const& [id, prices] : old_models)
        if (!new_models.count(id)) d.removed.push_back(id);
    return d;
}

}  // namespace llmux::detail
