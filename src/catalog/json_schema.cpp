// SPDX-License-Identifier: BSL-1.0
#include "catalog/json_schema.hpp"

#include "util/json_write.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>
#include <regex>
#include <unordered_map>
#include <utility>

namespace llmux::detail {

namespace json = boost::json;

namespace {

constexpr std::string_view supported[] = {
    // validation keywords this validator applies
    "$ref", "type", "properties", "required", "additionalProperties", "items", "oneOf", "anyOf",
    "allOf", "const", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum", "format",
    // structure and annotations, which validate nothing
    "$defs", "$schema", "$id", "$comment", "title", "description", "default", "examples",
    "deprecated", "readOnly", "writeOnly"};

constexpr int max_depth = 64;

bool is_date(std::string_view s) {
    // YYYY-MM-DD
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
    for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u})
        if (s[i] < '0' || s[i] > '9') return false;
    int const month = (s[5] - '0') * 10 + (s[6] - '0');
    int const day = (s[8] - '0') * 10 + (s[9] - '0');
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

bool is_time(std::string_view s) {
    // HH:MM:SS[.frac][Z|+HH:MM|-HH:MM] (RFC 3339 partial-time with an optional offset)
    if (s.size() < 8 || s[2] != ':' || s[5] != ':') return false;
    for (std::size_t i : {0u, 1u, 3u, 4u, 6u, 7u})
        if (s[i] < '0' || s[i] > '9') return false;
    if ((s[0] - '0') * 10 + (s[1] - '0') > 23 || (s[3] - '0') * 10 + (s[4] - '0') > 59 ||
        (s[6] - '0') * 10 + (s[7] - '0') > 60)
        return false;
    std::size_t i = 8;
    if (i < s.size() && s[i] == '.') {
        ++i;
        std::size_t const digits = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9')
            ++i;
        if (i == digits) return false;
    }
    if (i == s.size()) return true;
    if (s[i] == 'Z' || s[i] == 'z') return i + 1 == s.size();
    if ((s[i] == '+' || s[i] == '-') && s.size() == i + 6 && s[i + 3] == ':') return true;
    return false;
}

bool type_is(json::value const& v, std::string_view t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_bool();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer") {
        if (v.is_int64() || v.is_uint64()) return true;
        if (v.is_double()) {
            double const d = v.get_double();
            return std::isfinite(d) && d == std::floor(d);
        }
        return false;
    }
    return false;
}

class validator {
public:
    validator(json::value const& root, std::size_t max_issues) : root_(root), max_(max_issues) {}

    /// Checks the schema's keywords once, so that validation never meets an unsupported one.
    result<void> check_schema(json::value const& s, std::string const& where, int depth) {
        if (depth > max_depth) return bad_schema(where, "nested too deeply");
        if (s.is_bool()) return {};
        auto const* o = s.if_object();
        if (!o) return bad_schema(where, "a schema must be an object or a boolean");
        for (auto const& [k, v] : *o) {
            if (std::find(std::begin(supported), std::end(supported), std::string_view(k)) ==
                std::end(supported))
                return bad_schema(where, "keyword '" + std::string(k) +
                                             "' is not supported by llmux's schema validator");
            std::string const at = where + "/" + std::string(k);
            if (k == "$ref") {
                if (!v.is_string() || !resolve(v.get_string()))
                    return bad_schema(at, "does not resolve to an entry of $defs");
            } else if (k == "$defs" || k == "properties") {
                if (!v.is_object()) return bad_schema(at, "must be an object");
                for (auto const& [dk, dv] : v.get_object())
                    if (auto r = check_schema(dv, at + "/" + std::string(dk), depth + 1); !r)
                        return r;
            } else if (k == "items" || k == "additionalProperties") {
                if (auto r = check_schema(v, at, depth + 1); !r) return r;
            } else if (k == "oneOf" || k == "anyOf" || k == "allOf") {
                if (!v.is_array() || v.get_array().empty())
                    return bad_schema(at, "must be a non-empty array");
                for (std::size_t i = 0; i < v.get_array().size(); ++i)
                    if (auto r =
                            check_schema(v.get_array()[i], at + "/" + std::to_string(i), depth + 1);
                        !r)
                        return r;
            } else if (k == "pattern") {
                if (!v.is_string()) return bad_schema(at, "must be a string");
                try {
                    patterns_.emplace(
                        std::string(v.get_string()),
                        std::regex(std::string(v.get_string()), std::regex::ECMAScript));
                } catch (std::regex_error const&) {
                    return bad_schema(at, "is not a valid regex");
                }
            } else if (k == "required" || k == "enum") {
                if (!v.is_array()) return bad_schema(at, "must be an array");
            }
        }
        return {};
    }

    void check(json::value const& v, json::value const& s, std::string const& path, int depth,
               std::vector<schema_issue>& out) {
        if (out.size() >= max_) return;
        if (depth > max_depth) {
            out.push_back({path, "nested too deeply", false});
            return;
        }
        if (s.is_bool()) {
            if (!s.get_bool()) out.push_back({path, "no value is allowed here", false});
            return;
        }
        auto const& o = s.get_object();
        if (auto const* ref = o.if_contains("$ref")) {
            check(v, *resolve(ref->get_string()), path, depth + 1, out);
            if (out.size() >= max_) return;
        }
        if (auto const* t = o.if_contains("type")) {
            bool ok = false;
            std::string names;
            auto one = [&](json::value const& n) {
                if (!n.is_string()) return;
                ok = ok || type_is(v, n.get_string());
                if (!names.empty()) names += " or ";
                names += std::string(n.get_string());
            };
            if (t->is_array())
                for (auto const& n : t->get_array())
                    one(n);
            else
                one(*t);
            if (!ok) {
                out.push_back(
                    {path, "expected " + article(names) + ", got " + json_kind(v), false});
                return;  // the other keywords would only repeat it
            }
        }
        if (auto const* c = o.if_contains("const"); c && v != *c)
            out.push_back({path, "must be " + to_json(*c), false});
        if (auto const* e = o.if_contains("enum")) {
            auto const& a = e->get_array();
            if (std::find(a.begin(), a.end(), v) == a.end())
                out.push_back({path, "must be one of " + to_json(*e), false});
        }
        if (v.is_string()) check_string(v.get_string(), o, path, out);
        if (v.is_number()) {
            double const d = v.to_number<double>();
            if (auto const* m = o.if_contains("minimum");
                m && m->is_number() && d < m->to_number<double>())
                out.push_back({path, "must be at least " + to_json(*m), false});
            if (auto const* m = o.if_contains("maximum");
                m && m->is_number() && d > m->to_number<double>())
                out.push_back({path, "must be at most " + to_json(*m), false});
        }
        if (auto const* obj = v.if_object()) check_object(*obj, o, path, depth, out);
        if (auto const* arr = v.if_array(); arr && o.contains("items"))
            for (std::size_t i = 0; i < arr->size() && out.size() < max_; ++i)
                check((*arr)[i], o.at("items"), path + "/" + std::to_string(i), depth + 1, out);
        if (auto const* all = o.if_contains("allOf"))
            for (auto const& b : all->get_array())
                check(v, b, path, depth + 1, out);
        if (auto const* any = o.if_contains("anyOf"))
            alternatives(v, any->get_array(), false, path, depth, out);
        if (auto const* one = o.if_contains("oneOf"))
            alternatives(v, one->get_array(), true, path, depth, out);
    }

private:
    static failure bad_schema(std::string const& where, std::string const& what) {
        return failure(error::invalid_config,
                       "schema " + (where.empty() ? std::string("root") : where) + ": " + what);
    }

    static std::string article(std::string const& names) {
        bool const vowel =
            !names.empty() && std::string_view("aeiou").find(names[0]) != std::string_view::npos;
        return (vowel ? "an " : "a ") + names;
    }

    json::value const* resolve(std::string_view ref) const {
        constexpr std::string_view prefix = "#/$defs/";
        if (!ref.starts_with(prefix)) return nullptr;
        auto const* defs = root_.is_object() ? root_.get_object().if_contains("$defs") : nullptr;
        if (!defs || !defs->is_object()) return nullptr;
        return defs->get_object().if_contains(ref.substr(prefix.size()));
    }

    /// The name of an alternative for messages: its $defs entry or its title.
    std::string name_of(json::value const& s) const {
        if (auto const* o = s.if_object()) {
            if (auto const* r = o->if_contains("$ref"); r && r->is_string()) {
                std::string_view const ref = r->get_string();
                return std::string(ref.substr(ref.rfind('/') + 1));
            }
            if (auto const* t = o->if_contains("title"); t && t->is_string())
                return std::string(t->get_string());
            if (auto const* t = o->if_contains("type"); t && t->is_string())
                return std::string(t->get_string());
        }
        return "schema";
    }

    void check_string(json::string const& s, json::object const& o, std::string const& path,
                      std::vector<schema_issue>& out) {
        if (auto const* m = o.if_contains("maxLength");
            m && m->is_number() && static_cast<double>(s.size()) > m->to_number<double>()) {
            out.push_back({path, "longer than " + to_json(*m) + " characters", false});
            return;  // and too long to search with a pattern
        }
        if (auto const* m = o.if_contains("minLength");
            m && m->is_number() && static_cast<double>(s.size()) < m->to_number<double>())
            out.push_back({path, "shorter than " + to_json(*m) + " characters", false});
        if (auto const* p = o.if_contains("pattern")) {
            auto const& re = patterns_.at(std::string(p->get_string()));
            if (!std::regex_search(s.begin(), s.end(), re))
                out.push_back(
                    {path, "'" + std::string(s) + "' does not match " + to_json(*p), false});
        }
        if (auto const* f = o.if_contains("format"); f && f->is_string()) {
            std::string_view const fmt = f->get_string();
            if (fmt == "date" && !is_date(s))
                out.push_back({path, "'" + std::string(s) + "' is not a date (YYYY-MM-DD)", false});
            else if (fmt == "time" && !is_time(s))
                out.push_back({path,
                               "'" + std::string(s) + "' is not a time (HH:MM:SS, optional offset)",
                               false});
            else if (fmt == "regex") {
                try {
                    std::regex const re(std::string(s), std::regex::ECMAScript);
                } catch (std::regex_error const&) {
                    out.push_back({path, "'" + std::string(s) + "' is not a valid regex", false});
                }
            }
        }
    }

    void check_object(json::object const& v, json::object const& s, std::string const& path,
                      int depth, std::vector<schema_issue>& out) {
        json::object const* props = nullptr;
        if (auto const* p = s.if_contains("properties")) props = p->if_object();
        if (auto const* req = s.if_contains("required"))
            for (auto const& r : req->get_array())
                if (r.is_string() && !v.contains(r.get_string()))
                    out.push_back({path,
                                   "missing required field '" + std::string(r.get_string()) + "'",
                                   false});
        auto const* extra = s.if_contains("additionalProperties");
        for (auto const& [k, fv] : v) {
            if (out.size() >= max_) return;
            std::string const at = path + "/" + std::string(k);
            if (props)
                if (auto const* ps = props->if_contains(k)) {
                    check(fv, *ps, at, depth + 1, out);
                    continue;
                }
            if (!extra) continue;
            if (extra->is_bool() && !extra->get_bool())
                out.push_back({at, "field '" + std::string(k) + "' is not in the schema", true});
            else
                check(fv, *extra, at, depth + 1, out);
        }
    }

    void alternatives(json::value const& v, json::array const& branches, bool exactly_one,
                      std::string const& path, int depth, std::vector<schema_issue>& out) {
        std::size_t passed = 0;
        std::vector<schema_issue> closest;
        std::string names;
        for (auto const& b : branches) {
            // A branch fails at its first issue; only the closest branch's first one is shown.
            std::vector<schema_issue> mine;
            auto const saved = std::exchange(max_, std::size_t{1});
            check(v, b, path, depth + 1, mine);
            max_ = saved;
            if (mine.empty())
                ++passed;
            else if (closest.empty() || mine.front().path.size() > closest.front().path.size())
                closest = std::move(mine);  // the branch that got furthest into the value
            if (!names.empty()) names += ", ";
            names += name_of(b);
        }
        if (passed == 0) {
            std::string msg = "matches none of " + names;
            if (!closest.empty())
                msg += " (closest: " +
                       (closest.front().path.empty() ? std::string("/") : closest.front().path) +
                       ": " + closest.front().message + ")";
            out.push_back({path, msg, false});
        } else if (exactly_one && passed > 1) {
            out.push_back({path, "matches more than one of " + names, false});
        }
    }

    json::value const& root_;
    std::size_t max_;
    std::unordered_map<std::string, std::regex> patterns_;
};

}  // namespace

result<std::vector<schema_issue>>
validate_json_schema(json::value const& doc, json::value const& schema, std::size_t max_issues) {
    validator v(schema, max_issues);
    if (auto r = v.check_schema(schema, "", 0); !r) return r.error();
    std::vector<schema_issue> out;
    v.check(doc, schema, "", 0, out);
    return out;
}

}  // namespace llmux::detail
