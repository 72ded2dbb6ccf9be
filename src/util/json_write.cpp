// SPDX-License-Identifier: BSL-1.0
#include "util/json_write.hpp"

#include "util/json_text.hpp"

#include <charconv>
#include <cmath>

namespace llmux::detail {

void append_double(std::string& out, double d) {
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    char buf[32];
    auto const r = std::to_chars(buf, buf + sizeof buf, d);
    std::string_view const text(buf, static_cast<std::size_t>(r.ptr - buf));
    out += text;
    if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

void append_json(std::string& out, boost::json::value const& v) {
    switch (v.kind()) {
    case boost::json::kind::null: out += "null"; return;
    case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case boost::json::kind::int64: {
        char buf[24];
        auto const r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
        out.append(buf, static_cast<std::size_t>(r.ptr - buf));
        return;
    }
    case boost::json::kind::uint64: {
        char buf[24];
        auto const r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
        out.append(buf, static_cast<std::size_t>(r.ptr - buf));
        return;
    }
    case boost::json::kind::double_: append_double(out, v.get_double()); return;
    case boost::json::kind::string: {
        auto const& s = v.get_string();
        append_json_string(out, std::string_view(s.data(), s.size()));
        return;
    }
    case boost::json::kind::array: {
        out += '[';
        bool first = true;
        for (auto const& e : v.get_array()) {
            if (!first) out += ',';
            first = false;
            append_json(out, e);
        }
        out += ']';
        return;
    }
    case boost::json::kind::object: append_json(out, v.get_object()); return;
    }
}

void append_json(std::string& out, boost::json::object const& o) {
    out += '{';
    bool first = true;
    for (auto const& [k, e] : o) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, std::string_view(k.data(), k.size()));
        out += ':';
        append_json(out, e);
    }
    out += '}';
}

std::string to_json(boost::json::value const& v) {
    std::string out;
    out.reserve(256);
    append_json(out, v);
    return out;
}

std::string to_json(boost::json::object const& o) {
    std::string out;
    out.reserve(256);
    append_json(out, o);
    return out;
}

char const* json_kind(boost::json::value const& v) noexcept {
    switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "a boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_: return "a number";
    case boost::json::kind::string: return "a string";
    case boost::json::kind::array: return "an array";
    case boost::json::kind::object: return "an object";
    }
    return "a value";
}

}  // namespace llmux::detail
