// SPDX-License-Identifier: BSL-1.0
// The match rules of the genai-prices data set: which model ids (and provider names) a model
// entry answers to. A rule is a tree of clauses: equals, starts_with, ends_with, contains, regex,
// and the combinations or / and (data_slim.schema.json, "Clause*").
#pragma once

#include <llmux/error.hpp>

#include <boost/json/value.hpp>

#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

/** @brief One compiled match rule.

    Text clauses compare case-insensitively, as genai-prices' own matchers do (its Python
    package lower-cases the id, its JavaScript one both sides); patterns are lower-cased once
    here and ids once per lookup, so a match is plain `std::string_view` work. A regex is
    compiled once, when the rule is built, and searched (not fully matched) in the lower-cased
    id, as Python's `re.search` does.
*/
class match_rule {
public:
    enum class kind { equals, starts_with, ends_with, contains, regex, any_of, all_of };

    /** @brief Builds a rule from its JSON form (`{"starts_with": "gpt-"}`,
        `{"or": [...]}`, ...). `where` names the rule's place in errors.
        @par Errors
        `error::invalid_config`: not an object with exactly one known clause, a non-string
        pattern, an empty `or`/`and`, a regex that does not compile, nesting deeper than 16.
    */
    static result<match_rule> parse(boost::json::value const& v, std::string const& where);

    /// @brief True when `lowered` (an id already in lower case) satisfies the rule.
    bool matches(std::string_view lowered) const;

    kind type() const noexcept { return kind_; }

private:
    static result<match_rule> parse(boost::json::value const& v, std::string const& where,
                                    int depth);

    kind kind_ = kind::equals;
    std::string text_;                      // lower-cased pattern of the text clauses
    std::shared_ptr<std::regex const> re_;  // shared: rules are copied with the catalog
    std::vector<match_rule> children_;      // or / and
};

/// @brief `s` in ASCII lower case (ids are ASCII; other bytes are kept as they are).
std::string ascii_lower(std::string_view s);

}  // namespace llmux::detail
