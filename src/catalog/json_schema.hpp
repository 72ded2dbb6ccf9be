// SPDX-License-Identifier: BSL-1.0
// A JSON Schema validator for the subset of draft 2020-12 that data schemas such as
// genai-prices' data_slim.schema.json use: $ref into $defs, type, properties, required,
// additionalProperties, items, oneOf, anyOf, allOf, const, enum, pattern, minLength, maxLength,
// minimum, maximum and format (date, time, regex). A schema that uses any other validation
// keyword is refused rather than half-checked.
#pragma once

#include <llmux/error.hpp>

#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace llmux::detail {

/// @brief One place where a document breaks its schema.
struct schema_issue {
    /// JSON pointer of the offending value (`/3/models/12/prices`), "" for the root.
    std::string path;
    std::string message;
    /// The issue is only a field that the schema does not list (`additionalProperties: false`):
    /// a reader that ignores unknown fields, as llmux's does, is not misled by it.
    bool unlisted_field = false;
};

/** @brief Checks `doc` against `schema`.
    @return Every issue found (at most `max_issues`), empty when `doc` is valid.
    @par Errors
    `error::invalid_config` when the schema itself cannot be used: not an object, a `$ref`
    that does not resolve, an unsupported keyword (named).
*/
result<std::vector<schema_issue>> validate_json_schema(boost::json::value const& doc,
                                                       boost::json::value const& schema,
                                                       std::size_t max_issues = 50);

}  // namespace llmux::detail
