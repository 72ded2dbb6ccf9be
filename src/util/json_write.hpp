// SPDX-License-Identifier: BSL-1.0
// JSON text from a Boost.JSON value, with numbers written the way people and strict parsers
// expect: Boost.JSON 1.81 writes doubles in exponent form (`0.2` becomes `2E-1`), which is valid
// JSON but reads badly in request logs and `--json` output.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace llmux::detail {

/// Appends `v` as compact JSON. Doubles use the shortest form that reads back to the same value
/// (`0.2`, `5.976`, `1e+300`), keep a `.0` when whole so they stay doubles, and non-finite
/// values (which JSON cannot hold) become `null`.
void append_json(std::string& out, boost::json::value const& v);

void append_json(std::string& out, boost::json::object const& o);

/// Appends a double as append_json writes it: the shortest form, `.0` when whole, `null` when
/// not finite.
void append_double(std::string& out, double d);

/// "a string", "an array", "null", ...: the kind of a value, for messages about a client that
/// sent one type where another was expected.
char const* json_kind(boost::json::value const& v) noexcept;

/// `v` as compact JSON text.
std::string to_json(boost::json::value const& v);
std::string to_json(boost::json::object const& o);

}  // namespace llmux::detail
