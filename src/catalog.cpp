// SPDX-License-Identifier: BSL-1.0
#include <llmux/catalog.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace llmux {

namespace detail {
extern std::string_view const builtin_catalog_json;  // generated from data/models.json
}  // namespace detail

namespace {

namespace json = boost::json;

failure bad(std::string_view origin, std::string const& what) {
    return failure(error::invalid_config, std::string(origin) + ": " + what);
}

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
    return std::any_of(arr->get_array().begin(), arr->get_array().end(), [&](json::value const& e) {
        return e.is_string() && e.get_string() == s;
    });
}

}  // namespace

catalog const& catalog::built_in() {
    static catalog const c = [] {
        catalog out;
        auto r = out.load_json(detail::builtin_catalog_json, "built-in catalog");
        // The data ships with the library and is checked by the tests.
        if (!r) throw error_with_diagnostics(r.error());
        return out;
    }();
    return c;
}

void catalog::upsert(model_info m) {
    auto it = std::lower_bound(models_.begin(), models_.end(), m.id,
                               [](model_info const& a, std::string const& id) { return a.id < id; });
    if (it != models_.end() && it->id == m.id)
        *it = std::move(m);
    else
        models_.insert(it, std::move(m));
}

model_info const* catalog::find(std::string_view id) const noexcept {
    auto it = std::lower_bound(models_.begin(), models_.end(), id,
                               [](model_info const& a, std::string_view k) { return a.id < k; });
    return it != models_.end() && it->id == id ? &*it : nullptr;
}

result<void> catalog::load_file(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return failure(error::invalid_config, "cannot read catalog file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return load_json(ss.str(), path);
}

result<void> catalog::load_json(std::string_view text, std::string_view origin) {
    boost::system::error_code ec;
    auto doc = json::parse(text, ec);
    if (ec) return bad(origin, "not valid JSON (" + ec.message() + ")");
    auto const* root = doc.if_object();
    auto const* list = root ? root->if_contains("models") : nullptr;
    if (!list || !list->is_array()) return bad(origin, "expected {\"models\": [...]}");
    std::vector<model_info> parsed;
    std::size_t i = 0;
    for (auto const& e : list->get_array()) {
        std::string const where = "models[" + std::to_string(i++) + "]";
        auto const* o = e.if_object();
        if (!o) return bad(origin, where + " must be an object");
        model_info m;
        auto const* id = o->if_contains("id");
        if (!id || !id->is_string() || id->get_string().find('/') == json::string::npos)
            return bad(origin, where + ".id must be a provider/model string");
        m.id = std::string(id->get_string());
        std::string const at = where + " (" + m.id + ")";
        for (auto const& [k, v] : *o) {
            static constexpr std::string_view known[] = {
                "id", "input", "output", "cached_input", "cache_write", "context",
                "max_output", "tools", "vision", "json_schema", "quality", "note"};
            if (std::find(std::begin(known), std::end(known), std::string_view(k)) ==
                std::end(known))
                return bad(origin, at + ": unknown field " + std::string(k));
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
        std::optional<double> ctx, maxo, quality;
        if (auto r = num("context", ctx); !r) return r.error();
        if (auto r = num("max_output", maxo); !r) return r.error();
        if (auto r = num("quality", quality); !r) return r.error();
        if (ctx) m.context_window = static_cast<std::uint64_t>(*ctx);
        if (maxo) m.max_output_tokens = static_cast<std::uint64_t>(*maxo);
        if (quality) m.quality = static_cast<int>(*quality);
        for (auto [k, into] : {std::pair{"tools", &m.tools}, std::pair{"vision", &m.vision},
                               std::pair{"json_schema", &m.json_schema}}) {
            auto b = bool_field(*o, k, origin, at);
            if (!b) return b.error();
            *into = *b;
        }
        parsed.push_back(std::move(m));
    }
    for (auto& m : parsed) upsert(std::move(m));
    return {};
}

result<void> catalog::import_openrouter(std::string_view text) {
    boost::system::error_code ec;
    auto doc = json::parse(text, ec);
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
        if (auto const* c = o->if_contains("context_length"); c && c->is_number())
            m.context_window = static_cast<std::uint64_t>(c->to_number<double>());
        if (auto const* tp = o->if_contains("top_provider"); tp && tp->is_object())
            if (auto const* mx = tp->get_object().if_contains("max_completion_tokens");
                mx && mx->is_number())
                m.max_output_tokens = static_cast<std::uint64_t>(mx->to_number<double>());
        auto const* params = o->if_contains("supported_parameters");
        m.tools = contains_string(params, "tools");
        m.json_schema = contains_string(params, "structured_outputs");
        if (auto const* arch = o->if_contains("architecture"); arch && arch->is_object())
            m.vision = contains_string(arch->get_object().if_contains("input_modalities"), "image");
        parsed.push_back(std::move(m));
    }
    if (parsed.empty()) return bad("OpenRouter models", "no models in the answer");
    for (auto& m : parsed) upsert(std::move(m));
    return {};
}

std::optional<double> catalog::cost(model_info const& m, usage const& u) noexcept {
    if (u.reported_cost) return u.reported_cost;
    if (!m.priced() || !u.input_tokens || !u.output_tokens) return std::nullopt;
    auto const in = static_cast<double>(*u.input_tokens);
    auto const cached = static_cast<double>(u.cached_input_tokens.value_or(0));
    auto const written = static_cast<double>(u.cache_write_tokens.value_or(0));
    double const uncached = std::max(0.0, in - cached - written);
    double const usd = uncached * *m.input_price +
                       cached * m.cached_input_price.value_or(*m.input_price) +
                       written * m.cache_write_price.value_or(*m.input_price) +
                       static_cast<double>(*u.output_tokens) * *m.output_price;
    return usd / 1e6;
}

std::optional<double> catalog::cost(std::string_view id, usage const& u) const noexcept {
    if (u.reported_cost) return u.reported_cost;
    auto const* m = find(id);
    if (!m) return std::nullopt;
    return cost(*m, u);
}

}  // namespace llmux
