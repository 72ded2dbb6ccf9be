// SPDX-License-Identifier: BSL-1.0
#include "wire/prefill.hpp"

#include <boost/json/object.hpp>

#include <cctype>

namespace llmux::detail {

std::optional<std::pair<int, int>> claude_version(std::string_view model) noexcept {
    auto const at = model.find("claude");
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view rest = model.substr(at + 6);
    auto is_sep = [](char c) { return c == '-' || c == '.' || c == '_' || c == '@' || c == ':'; };
    auto next_token = [&]() -> std::string_view {
        while (!rest.empty() && is_sep(rest.front())) rest.remove_prefix(1);
        std::size_t n = 0;
        while (n < rest.size() && !is_sep(rest[n])) ++n;
        auto t = rest.substr(0, n);
        rest.remove_prefix(n);
        return t;
    };
    // A small number is a version part; dates (20250514) and names (sonnet, v1) are not.
    auto small_number = [](std::string_view t) -> std::optional<int> {
        if (t.empty() || t.size() > 2) return std::nullopt;
        int v = 0;
        for (char c : t) {
            if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
            v = v * 10 + (c - '0');
        }
        return v;
    };
    std::optional<int> major;
    while (!rest.empty()) {
        auto const t = next_token();
        if (auto v = small_number(t)) {
            major = v;
            break;
        }
    }
    if (!major) return std::nullopt;
    auto const minor = small_number(next_token());
    return std::pair<int, int>{*major, minor.value_or(0)};
}

bool claude_accepts_prefill(std::string_view model) noexcept {
    auto const v = claude_version(model);
    return v && *v < std::pair<int, int>{4, 6};
}

bool claude_prefill_conflicts(chat_request const& req) noexcept {
    if (req.tool_choice && (req.tool_choice->how == tool_choice::mode::required ||
                            req.tool_choice->how == tool_choice::mode::named))
        return true;
    if (req.response_format && req.response_format->type != response_format::kind::text)
        return true;
    if (req.extra.contains("thinking")) return true;
    if (auto const* amrf = req.extra.if_contains("additionalModelRequestFields"))
        if (auto const* o = amrf->if_object(); o && (o->contains("thinking") ||
                                                      o->contains("reasoning_config")))
            return true;
    return false;
}

}  // namespace llmux::detail
