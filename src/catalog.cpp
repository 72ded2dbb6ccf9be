// SPDX-License-Identifier: BSL-1.0
// The model catalog: genai-prices data (match rules, prices) merged with llmux's overlay
// (capabilities), user files on top, and the cost of a call.
#include <llmux/catalog.hpp>

#include "catalog/genai_prices.hpp"
#include "util/json_read.hpp"
#include "catalog/match_rule.hpp"
#include "util/lru.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>

namespace llmux {

namespace detail {

/// The match rules of the data set, by the llmux provider whose ids they resolve; shared,
/// read-only, by every copy of a catalog.
struct catalog_rules {
    struct group {
        std::string provider;  // llmux provider name (`bedrock`)
        std::string data_id;   // genai-prices provider id (`aws`)
        std::optional<match_rule> provider_match;
        std::optional<match_rule> model_match;
        std::vector<std::string> fallbacks;  // groups (by provider) to try next, one step
        std::vector<std::pair<match_rule, std::string>> models;  // in the data's order
    };
    std::vector<group> groups;

    group const* group_for(std::string_view provider) const {
        for (auto const& g : groups)
            if (g.provider == provider) return &g;
        for (auto const& g : groups)
            if (g.data_id == provider) return &g;
        for (auto const& g : groups)
            if (g.provider_match && g.provider_match->matches(provider)) return &g;
        return nullptr;
    }

    /// The listed id of the first model of `g` whose rule accepts `model` (lower case), then of
    /// its fallback providers' models, as genai-prices looks models up.
    std::string const* search(group const& g, std::string_view model, bool with_fallbacks) const {
        for (auto const& [rule, id] : g.models)
            if (rule.matches(model)) return &id;
        if (with_fallbacks)
            for (auto const& f : g.fallbacks)
                if (auto const* fg = group_for(f))
                    if (auto const* hit = search(*fg, model, false)) return hit;
        return nullptr;
    }
};

/// Lookups remembered (listed ids and ids found by the rules alike, as positions in the list):
/// ids come from clients (a gateway forwards whatever it is sent), so the memory is a bounded
/// LRU.
class catalog_lookup_cache {
public:
    static constexpr std::size_t capacity = 4096;

    std::optional<std::size_t> get(std::string_view id) {
        std::lock_guard lk(mu_);
        return lru_.get(id);
    }
    void put(std::string_view id, std::size_t index) {
        std::lock_guard lk(mu_);
        lru_.put(std::string(id), index);
    }
    void clear() noexcept {
        std::lock_guard lk(mu_);
        lru_.clear();
    }

private:
    std::mutex mu_;
    bounded_lru<std::size_t> lru_{capacity};
};

}  // namespace detail

namespace {

namespace json = boost::json;
using sys_clock = std::chrono::system_clock;

constexpr std::size_t not_found = static_cast<std::size_t>(-1);
/// Ids longer than this are not run through the rules (no provider has such a model id, and a
/// regex over a huge client-chosen string is work nobody needs).
constexpr std::size_t max_resolvable_id = 256;

/// Providers that route `vendor/model` ids to other providers at those providers' list prices:
/// an id that their own price list (if any) does not know is priced as the vendor's model.
constexpr std::string_view routers[] = {"openrouter", "zenmux"};

failure bad(std::string_view origin, std::string const& what) {
    return failure(error::invalid_config, std::string(origin) + ": " + what);
}

// ---------------------------------------------------------------------------------------------
// llmux's own JSON format (user catalogs and the overlay)

enum field : unsigned {
    f_input = 1u << 0,
    f_output = 1u << 1,
    f_cached = 1u << 2,
    f_write = 1u << 3,
    f_request = 1u << 4,
    f_tiers = 1u << 5,
    f_context = 1u << 6,
    f_max_output = 1u << 7,
    f_tools = 1u << 8,
    f_vision = 1u << 9,
    f_json_schema = 1u << 10,
    f_reasoning = 1u << 11,
    f_documents = 1u << 12,
    f_quality = 1u << 13,
    f_embedding = 1u << 14,
};
constexpr unsigned price_fields = f_input | f_output | f_cached | f_write | f_request | f_tiers;

struct entry {
    model_info m;
    unsigned present = 0;
};

/// A price or count: a non-negative finite number.
result<std::optional<double>> number_field(json::object const& o, char const* key,
                                           std::string_view origin, std::string const& where) {
    auto const* v = o.if_contains(key);
    if (!v || v->is_null()) return std::optional<double>{};
    if (!v->is_number()) return bad(origin, where + "." + key + " must be a number");
    double const d = v->to_number<double>();
    if (!std::isfinite(d) || d < 0) return bad(origin, where + "." + key + " must be >= 0");
    return std::optional<double>{d};
}

result<bool> bool_field(json::object const& o, char const* key, std::string_view origin,
                        std::string const& where) {
    auto const* v = o.if_contains(key);
    if (!v || v->is_null()) return false;
    if (!v->is_bool()) return bad(origin, where + "." + key + " must be true or false");
    return v->get_bool();
}

result<std::vector<price_tier>> tiers_field(json::value const& v, std::string_view origin,
                                            std::string const& where) {
    std::vector<price_tier> out;
    if (!v.is_array()) return bad(origin, where + ".tiers must be an array");
    for (std::size_t i = 0; i < v.get_array().size(); ++i) {
        std::string const at = where + ".tiers[" + std::to_string(i) + "]";
        auto const* o = v.get_array()[i].if_object();
        if (!o) return bad(origin, at + " must be an object");
        for (auto const& [k, fv] : *o)
            if (k != "above" && k != "input" && k != "output" && k != "cached_input" &&
                k != "cache_write")
                return bad(origin, at + ": unknown field " + std::string(k));
        price_tier t;
        auto above = number_field(*o, "above", origin, at);
        if (!above) return above.error();
        if (!*above) return bad(origin, at + ".above is required (prompt tokens)");
        t.above = static_cast<std::uint64_t>(**above);
        for (auto [k, into] :
             {std::pair{"input", &t.input_price}, std::pair{"output", &t.output_price},
              std::pair{"cached_input", &t.cached_input_price},
              std::pair{"cache_write", &t.cache_write_price}}) {
            auto n = number_field(*o, k, origin, at);
            if (!n) return n.error();
            *into = *n;
        }
        out.push_back(t);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](price_tier const& a, price_tier const& b) { return a.above < b.above; });
    return out;
}

result<std::vector<entry>> parse_entries(std::string_view text, std::string_view origin) {
    boost::system::error_code ec;
    auto doc = detail::parse_json(text, ec);
    if (ec) return bad(origin, "not valid JSON (" + ec.message() + ")");
    if (doc.is_array())
        return bad(origin, "this is a JSON array, as genai-prices data is; a catalog file is "
                           "{\"models\": [...]} (load genai-prices data with the \"prices\" key of "
                           "a config file)");
    auto const* root = doc.if_object();
    auto const* list = root ? root->if_contains("models") : nullptr;
    if (!list || !list->is_array()) return bad(origin, "expected {\"models\": [...]}");
    std::vector<entry> parsed;
    std::size_t i = 0;
    for (auto const& e : list->get_array()) {
        std::string const where = "models[" + std::to_string(i++) + "]";
        auto const* o = e.if_object();
        if (!o) return bad(origin, where + " must be an object");
        entry en;
        model_info& m = en.m;
        auto const* id = o->if_contains("id");
        if (!id || !id->is_string() || id->get_string().find('/') == json::string::npos)
            return bad(origin, where + ".id must be a provider/model string");
        m.id = std::string(id->get_string());
        std::string const at = where + " (" + m.id + ")";
        static constexpr std::pair<std::string_view, unsigned> known[] = {
            {"id", 0},
            {"note", 0},
            {"input", f_input},
            {"output", f_output},
            {"cached_input", f_cached},
            {"cache_write", f_write},
            {"request", f_request},
            {"tiers", f_tiers},
            {"context", f_context},
            {"max_output", f_max_output},
            {"tools", f_tools},
            {"vision", f_vision},
            {"json_schema", f_json_schema},
            {"reasoning", f_reasoning},
            {"documents", f_documents},
            {"quality", f_quality},
            {"embedding", f_embedding}};
        for (auto const& [k, v] : *o) {
            auto it = std::find_if(std::begin(known), std::end(known),
                                   [&](auto const& p) { return p.first == std::string_view(k); });
            if (it == std::end(known)) return bad(origin, at + ": unknown field " + std::string(k));
            if (!v.is_null()) en.present |= it->second;
        }
        auto num = [&](char const* k, std::optional<double>& into) -> result<void> {
            auto r = number_field(*o, k, origin, at);
            if (!r) return r.error();
            into = *r;
            return {};
        };
        if (auto r = num("input", m.input_price); !r) return r.error();
        if (auto r = num("output", m.output_price); !r) return r.error();
        if (auto r = num("cached_input", m.cached_input_price); !r) return r.error();
        if (auto r = num("cache_write", m.cache_write_price); !r) return r.error();
        if (auto r = num("request", m.request_price); !r) return r.error();
        if (auto const* t = o->if_contains("tiers"); t && !t->is_null()) {
            auto tiers = tiers_field(*t, origin, at);
            if (!tiers) return tiers.error();
            m.tiers = std::move(*tiers);
        }
        std::optional<double> ctx, maxo, quality, width;
        if (auto r = num("embedding", width); !r) return r.error();
        if (width) {
            if (*width < 1 || *width > 65536 || *width != static_cast<double>(static_cast<std::uint32_t>(*width)))
                return bad(origin, at + ": embedding must be the vectors' length, a whole number "
                                        "from 1 to 65536");
            m.embedding_dimensions = static_cast<std::uint32_t>(*width);
        }
        if (auto r = num("context", ctx); !r) return r.error();
        if (auto r = num("max_output", maxo); !r) return r.error();
        if (auto r = num("quality", quality); !r) return r.error();
        if (ctx) m.context_window = static_cast<std::uint64_t>(*ctx);
        if (maxo) m.max_output_tokens = static_cast<std::uint64_t>(*maxo);
        if (quality) m.quality = static_cast<int>(*quality);
        for (auto [k, into] :
             {std::pair{"tools", &m.tools}, std::pair{"vision", &m.vision},
              std::pair{"json_schema", &m.json_schema}, std::pair{"reasoning", &m.reasoning},
              std::pair{"documents", &m.documents}}) {
            auto b = bool_field(*o, k, origin, at);
            if (!b) return b.error();
            *into = *b;
        }
        parsed.push_back(std::move(en));
    }
    return parsed;
}

/// Overlay facts on a listed model: what the entry gives, except prices and a context window
/// the data set already has (the data set is the source for those).
void merge_facts(model_info& into, entry const& e) {
    auto const& m = e.m;
    if ((e.present & f_context) && !into.context_window) into.context_window = m.context_window;
    if (e.present & f_max_output) into.max_output_tokens = m.max_output_tokens;
    if (e.present & f_tools) into.tools = m.tools;
    if (e.present & f_vision) into.vision = m.vision;
    if (e.present & f_json_schema) into.json_schema = m.json_schema;
    if (e.present & f_reasoning) into.reasoning = m.reasoning;
    if (e.present & f_documents) into.documents = m.documents;
    if (e.present & f_quality) into.quality = m.quality;
    if (e.present & f_embedding) into.embedding_dimensions = m.embedding_dimensions;
}

void set_flat_prices(model_info& m, model_prices const& p) {
    m.input_price = p.input_price;
    m.output_price = p.output_price;
    m.cached_input_price = p.cached_input_price;
    m.cache_write_price = p.cache_write_price;
    m.request_price = p.request_price;
    m.tiers = p.tiers;
}

model_info from_data(detail::gp_model const& g, std::string id, sys_clock::time_point now) {
    model_info m;
    m.id = std::move(id);
    m.context_window = g.context_window;
    m.deprecated = g.deprecated;
    bool const conditional =
        g.periods.size() > 1 || g.periods.front().start_date || g.periods.front().start_time;
    if (!conditional) {
        set_flat_prices(m, detail::to_model_prices(g.periods.front()));
        return m;
    }
    for (auto const& p : g.periods)
        m.schedule.push_back({.from = p.start_date,
                              .daily_from = p.start_time,
                              .daily_until = p.end_time,
                              .prices = detail::to_model_prices(p)});
    set_flat_prices(m, m.prices_at(now));
    return m;
}

/// OpenRouter prices are USD per token as strings ("0.000003"); "-1" means variable.
std::optional<double> per_token_string(json::object const* pricing, char const* key) {
    if (!pricing) return std::nullopt;
    auto const* v = pricing->if_contains(key);
    double d = 0;
    if (v && v->is_string()) {
        auto const& s = v->get_string();
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    } else if (v && v->is_number()) {
        d = v->to_number<double>();
    } else {
        return std::nullopt;
    }
    if (!std::isfinite(d) || d < 0) return std::nullopt;
    return d * 1e6;
}

bool contains_string(json::value const* arr, std::string_view s) {
    if (!arr || !arr->is_array()) return false;
    return std::any_of(arr->get_array().begin(), arr->get_array().end(),
                       [&](json::value const& e) { return e.is_string() && e.get_string() == s; });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Prices

bool price_period::active(sys_clock::time_point at) const noexcept {
    using namespace std::chrono;
    if (from && at < time_point_cast<sys_clock::duration>(sys_time<days>(*from))) return false;
    if (daily_from && daily_until) {
        auto const t = duration_cast<seconds>(at - floor<days>(at));
        if (*daily_until < *daily_from)  // spans midnight
            return t >= *daily_from || t < *daily_until;
        return t >= *daily_from && t < *daily_until;
    }
    return true;
}

model_prices model_info::prices_at(sys_clock::time_point at) const {
    if (schedule.empty())
        return {input_price,       output_price,  cached_input_price,
                cache_write_price, request_price, tiers};
    // genai-prices: the last active period wins; when none is, the first applies.
    for (auto it = schedule.rbegin(); it != schedule.rend(); ++it)
        if (it->active(at)) return it->prices;
    return schedule.front().prices;
}

std::optional<double> catalog::cost(model_prices const& p, usage const& u) noexcept {
    if (!u.input_tokens || !u.output_tokens || !p.input_price) return std::nullopt;
    // Output tokens need an output price; none (embeddings) need none.
    bool const outputs = *u.output_tokens > 0;
    if (outputs && !p.output_price) return std::nullopt;
    std::uint64_t const in = *u.input_tokens;
    std::uint64_t const cached = u.cached_input_tokens.value_or(0);
    std::uint64_t const written = u.cache_write_tokens.value_or(0);
    // usage::input_tokens counts cached reads and writes; more of them than input tokens is
    // a usage the provider got wrong, and no price of it would be right.
    if (cached > in || written > in - cached) return std::nullopt;
    price_tier const* tier = nullptr;
    for (auto const& t : p.tiers)
        if (in > t.above) tier = &t;  // a cliff: the prompt's size picks one tier for everything
    auto price = [&](std::optional<double> price_tier::*f, std::optional<double> const& base) {
        return tier && (tier->*f) ? tier->*f : base;
    };
    double const input = *price(&price_tier::input_price, p.input_price);
    double const output = outputs ? *price(&price_tier::output_price, p.output_price) : 0.0;
    double const read =
        price(&price_tier::cached_input_price, p.cached_input_price).value_or(input);
    double const write = price(&price_tier::cache_write_price, p.cache_write_price).value_or(input);
    double const usd = static_cast<double>(in - cached - written) * input +
                       static_cast<double>(cached) * read + static_cast<double>(written) * write +
                       static_cast<double>(*u.output_tokens) * output;
    return usd / 1e6 + p.request_price.value_or(0);
}

std::optional<double> catalog::cost(model_info const& m, usage const& u, sys_clock::time_point at) {
    if (u.reported_cost) return u.reported_cost;
    return cost(m.prices_at(at), u);
}

std::optional<double> catalog::cost(std::string_view id, usage const& u) const {
    return cost(id, u, sys_clock::now());
}

std::optional<double> catalog::cost(std::string_view id, usage const& u,
                                    sys_clock::time_point at) const {
    if (u.reported_cost) return u.reported_cost;
    return estimate(id, u, at);
}

std::optional<double> catalog::estimate(std::string_view id, usage const& u,
                                        sys_clock::time_point at) const {
    auto const* m = find(id);
    if (!m) return std::nullopt;
    return cost(m->prices_at(at), u);
}

// ---------------------------------------------------------------------------------------------
// The catalog

catalog::catalog() : cache_(std::make_unique<detail::catalog_lookup_cache>()) {}
catalog::catalog(catalog const& o)
    : models_(o.models_), rules_(o.rules_),
      cache_(std::make_unique<detail::catalog_lookup_cache>()) {}
catalog::catalog(catalog&& o) noexcept
    : models_(std::move(o.models_)), rules_(std::move(o.rules_)), cache_(std::move(o.cache_)) {}
catalog& catalog::operator=(catalog const& o) {
    if (this != &o) {
        models_ = o.models_;
        rules_ = o.rules_;
        if (!cache_) cache_ = std::make_unique<detail::catalog_lookup_cache>();
        forget_lookups();
    }
    return *this;
}
catalog& catalog::operator=(catalog&& o) noexcept {
    // The source's lookups go with its list (a moved vector keeps its order), and the source
    // is left without a cache, as after the move constructor: a cache left to it would hold
    // positions in a list it no longer has.
    models_ = std::move(o.models_);
    rules_ = std::move(o.rules_);
    cache_ = std::move(o.cache_);
    return *this;
}
catalog::~catalog() = default;

void catalog::forget_lookups() noexcept {
    if (cache_) cache_->clear();
}

std::string_view catalog::built_in_source() noexcept {
    static std::string const s =
        "pydantic/genai-prices@" + std::string(detail::builtin_price_commit());
    return s;
}

catalog const& catalog::built_in() {
    static catalog const c = [] {
        auto r = from_genai_prices(detail::builtin_price_data(), "built-in genai-prices data");
        // The data ships with the library and is checked by the tests.
        if (!r) throw error_with_diagnostics(r.error());
        return std::move(*r);
    }();
    return c;
}

result<catalog> catalog::from_genai_prices(std::string_view data, std::string_view origin,
                                           sys_clock::time_point now) {
    auto parsed = detail::parse_price_data(data, origin, /*keep_raw=*/false);
    if (!parsed) return parsed.error();
    auto rules = std::make_shared<detail::catalog_rules>();
    std::vector<model_info> list;
    list.reserve(parsed->model_count() * 2);
    for (auto const& p : parsed->providers) {
        for (auto const& l : detail::listings_of(p.id)) {
            detail::catalog_rules::group g;
            g.provider = l.provider;
            g.data_id = p.id;
            g.provider_match = p.provider_match;
            g.model_match = p.model_match;
            for (auto const& f : p.fallbacks)
                g.fallbacks.push_back(detail::listings_of(f).front().provider);
            for (auto const& m : p.models) {
                if (l.skip_claude && m.id.starts_with("claude")) continue;
                std::string id = l.provider + "/" + m.id;
                g.models.emplace_back(m.match, id);
                list.push_back(from_data(m, std::move(id), now));
            }
            rules->groups.push_back(std::move(g));
        }
    }
    // One entry per id; the data's first wins, as its rules would find it first.
    std::stable_sort(list.begin(), list.end(),
                     [](model_info const& a, model_info const& b) { return a.id < b.id; });
    list.erase(std::unique(list.begin(), list.end(),
                           [](model_info const& a, model_info const& b) { return a.id == b.id; }),
               list.end());
    catalog c;
    c.models_ = std::move(list);
    c.rules_ = std::move(rules);

    // llmux's overlay: facts the data set lacks, merged by model id.
    auto overlay = parse_entries(detail::builtin_overlay(), "data/models-overlay.json");
    if (!overlay) return overlay.error();
    for (auto& e : *overlay) {
        auto it =
            std::lower_bound(c.models_.begin(), c.models_.end(), e.m.id,
                             [](model_info const& a, std::string const& id) { return a.id < id; });
        if (it != c.models_.end() && it->id == e.m.id) {
            merge_facts(*it, e);  // the data set's prices stay
        } else if (auto const i = c.resolve(e.m.id); i != not_found) {
            // Keyed by another spelling than the listed one (a newer data set may list the
            // model under a new id): the facts still belong to the model that prices it.
            merge_facts(c.models_[i], e);
        } else if (e.present & (f_input | f_output)) {
            c.upsert(std::move(e.m));  // a model the data set does not price (a local one)
        }
        // Else facts about a model that this copy of the data set no longer has: dropped,
        // rather than listing a model without prices.
    }
    c.forget_lookups();
    return c;
}

void catalog::upsert(model_info m) {
    auto it =
        std::lower_bound(models_.begin(), models_.end(), m.id,
                         [](model_info const& a, std::string const& id) { return a.id < id; });
    if (it != models_.end() && it->id == m.id)
        *it = std::move(m);
    else
        models_.insert(it, std::move(m));
    forget_lookups();  // indexes moved
}

model_info const* catalog::find_exact(std::string_view id) const noexcept {
    auto it = std::lower_bound(models_.begin(), models_.end(), id,
                               [](model_info const& a, std::string_view k) { return a.id < k; });
    return it != models_.end() && it->id == id ? &*it : nullptr;
}

model_info const* catalog::find(std::string_view id) const {
    if (!cache_ || id.size() > max_resolvable_id) {
        // A moved-from catalog given new contents (no cache, same answers), or an id no rule
        // resolves: the listed model of that id, if any.
        if (auto const* m = find_exact(id)) return m;
        if (!rules_ || id.size() > max_resolvable_id) return nullptr;
        auto const index = resolve(id);
        return index == not_found ? nullptr : &models_[index];
    }
    // Remembered lookups first, listed ids included: a gateway prices the same few ids on
    // every request (twice: the budget's estimate and the spend), and a hash beats a binary
    // search of some thousand ids (issue 15). Every change of the list forgets them.
    std::size_t index = not_found;
    if (auto hit = cache_->get(id)) {
        index = *hit;
    } else {
        if (auto const* m = find_exact(id))
            index = static_cast<std::size_t>(m - models_.data());
        else if (rules_)
            index = resolve(id);
        cache_->put(id, index);
    }
    return index == not_found ? nullptr : &models_[index];
}

std::size_t catalog::resolve(std::string_view id) const {
    auto const slash = id.find('/');
    if (!rules_ || slash == std::string_view::npos || id.size() > max_resolvable_id)
        return not_found;
    std::string const provider = detail::ascii_lower(id.substr(0, slash));
    std::string const model = detail::ascii_lower(id.substr(slash + 1));
    auto const& rules = *rules_;
    std::string const* hit = nullptr;
    if (auto const* g = rules.group_for(provider)) hit = rules.search(*g, model, true);
    if (!hit && std::find(std::begin(routers), std::end(routers), provider) != std::end(routers)) {
        // `vendor/model` at the vendor's prices; a bare model at the prices of the provider
        // whose models it names (genai-prices' model_match: `gpt-` is OpenAI's, ...).
        std::string_view bare = model;
        if (auto const s = bare.find('/'); s != std::string_view::npos) {
            if (auto const* g = rules.group_for(bare.substr(0, s)))
                hit = rules.search(*g, bare.substr(s + 1), true);
            bare = bare.substr(s + 1);
        }
        for (auto it = rules.groups.begin(); !hit && it != rules.groups.end(); ++it)
            if (it->model_match && it->model_match->matches(bare))
                hit = rules.search(*it, bare, true);
    }
    if (!hit) return not_found;
    auto const* m = find_exact(*hit);
    return m ? static_cast<std::size_t>(m - models_.data()) : not_found;
}

result<void> catalog::load_file(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return failure(error::invalid_config, "cannot read catalog file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return load_json(ss.str(), path);
}

result<void> catalog::load_json(std::string_view text, std::string_view origin) {
    auto parsed = parse_entries(text, origin);
    if (!parsed) return parsed.error();
    for (auto& e : *parsed)
        upsert(std::move(e.m));
    return {};
}

result<void> catalog::import_openrouter(std::string_view text) {
    boost::system::error_code ec;
    auto doc = detail::parse_json(text, ec);
    if (ec) return bad("OpenRouter models", "not valid JSON (" + ec.message() + ")");
    auto const* root = doc.if_object();
    auto const* data = root ? root->if_contains("data") : nullptr;
    if (!data || !data->is_array())
        return bad("OpenRouter models", "expected {\"data\": [...]} from /api/v1/models");
    std::vector<model_info> parsed;
    for (auto const& e : data->get_array()) {
        auto const* o = e.if_object();
        auto const* id = o ? o->if_contains("id") : nullptr;
        if (!id || !id->is_string()) continue;  // skip what is not a model
        model_info m;
        m.id = "openrouter/" + std::string(id->get_string());
        auto const* pricing = o->if_contains("pricing") ? o->at("pricing").if_object() : nullptr;
        m.input_price = per_token_string(pricing, "prompt");
        m.output_price = per_token_string(pricing, "completion");
        m.cached_input_price = per_token_string(pricing, "input_cache_read");
        m.cache_write_price = per_token_string(pricing, "input_cache_write");
        if (auto r = per_token_string(pricing, "request"); r && *r > 0) m.request_price = *r / 1e6;
        if (auto const* c = o->if_contains("context_length"); c && c->is_number())
            m.context_window = static_cast<std::uint64_t>(c->to_number<double>());
        if (auto const* tp = o->if_contains("top_provider"); tp && tp->is_object())
            if (auto const* mx = tp->get_object().if_contains("max_completion_tokens");
                mx && mx->is_number())
                m.max_output_tokens = static_cast<std::uint64_t>(mx->to_number<double>());
        auto const* params = o->if_contains("supported_parameters");
        m.tools = contains_string(params, "tools");
        m.json_schema = contains_string(params, "structured_outputs");
        m.reasoning = contains_string(params, "reasoning");
        if (auto const* arch = o->if_contains("architecture"); arch && arch->is_object()) {
            auto const* in = arch->get_object().if_contains("input_modalities");
            m.vision = contains_string(in, "image");
            m.documents = contains_string(in, "file");
        }
        parsed.push_back(std::move(m));
    }
    if (parsed.empty()) return bad("OpenRouter models", "no models in the answer");
    for (auto& m : parsed)
        upsert(std::move(m));
    return {};
}

}  // namespace llmux
