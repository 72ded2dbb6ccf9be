// SPDX-License-Identifier: BSL-1.0
#include "catalog/match_rule.hpp"

#include <boost/json/object.hpp>

#include <algorithm>

namespace llmux::detail {

namespace json = boost::json;

namespace {

failure bad(std::string const& where, std::string const& what) {
    return failure(error::invalid_config, where + ": " + what);
}

constexpr int max_depth = 16;

}  // namespace

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

result<match_rule> match_rule::parse(json::value const& v, std::string const& where) {
    return parse(v, where, 0);
}

result<match_rule> match_rule::parse(json::value const& v, std::string const& where, int depth) {
    if (depth > max_depth) return bad(where, "match rules nested deeper than 16 levels");
    auto const* o = v.if_object();
    if (!o || o->size() != 1)
        return bad(where, "a match rule must be an object with exactly one clause (equals, "
                          "starts_with, ends_with, contains, regex, or, and)");
    auto const& [key, arg] = *o->begin();
    match_rule r;
    static constexpr std::pair<std::string_view, kind> text_kinds[] = {
        {"equals", kind::equals},
        {"starts_with", kind::starts_with},
        {"ends_with", kind::ends_with},
        {"contains", kind::contains},
        {"regex", kind::regex}};
    for (auto const& [name, k] : text_kinds) {
        if (key != name) continue;
        if (!arg.is_string()) return bad(where + "." + std::string(name), "must be a string");
        std::string_view const pattern = arg.get_string();
        r.kind_ = k;
        if (k == kind::regex) {
            // Compiled once here; an id is searched case-insensitively like the other clauses.
            try {
                r.re_ = std::make_shared<std::regex const>(
                    std::string(pattern),
                    std::regex::ECMAScript | std::regex::icase | std::regex::optimize);
            } catch (std::regex_error const& e) {
                return bad(where + ".regex", "'" + std::string(pattern) +
                                                 "' is not a valid regex (" + e.what() + ")");
            }
        }
        r.text_ = ascii_lower(pattern);
        return r;
    }
    if (key == "or" || key == "and") {
        std::string const at = where + "." + std::string(key);
        auto const* list = arg.if_array();
        if (!list || list->empty()) return bad(at, "must be a non-empty array of match rules");
        r.kind_ = key == "or" ? kind::any_of : kind::all_of;
        r.children_.reserve(list->size());
        for (std::size_t i = 0; i < list->size(); ++i) {
            auto c = parse((*list)[i], at + "[" + std::to_string(i) + "]", depth + 1);
            if (!c) return c.error();
            r.children_.push_back(std::move(*c));
        }
        return r;
    }
    return bad(where, "unknown match clause '" + std::string(key) + "'");
}

bool match_rule::matches(std::string_view s) const {
    switch (kind_) {
    case kind::equals:
        return s == text_;
    case kind::starts_with:
        return s.starts_with(text_);
    case kind::ends_with:
        return s.ends_with(text_);
    case kind::contains:
        return s.find(text_) != std::string_view::npos;
    case kind::regex:
        return std::regex_search(s.begin(), s.end(), *re_);
    case kind::any_of:
        return std::any_of(children_.begin(), children_.end(),
                           [&](match_rule const& c) { return c.matches(s); });
    case kind::all_of:
        return std::all_of(children_.begin(), children_.end(),
                           [&](match_rule const& c) { return c.matches(s); });
    }
    return false;
}

}  // namespace llmux::detail
