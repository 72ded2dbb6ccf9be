// SPDX-License-Identifier: BSL-1.0
#include "http/message.hpp"

#include <algorithm>

namespace llmux::detail {

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

namespace {
std::string_view find_header(header_list const& h, std::string_view name) {
    auto it = std::find_if(h.begin(), h.end(), [&](auto const& e) { return iequals(e.first, name); });
    return it == h.end() ? std::string_view{} : std::string_view(it->second);
}
}  // namespace

void http_request::set_header(std::string name, std::string value) {
    auto it = std::find_if(headers.begin(), headers.end(),
                           [&](auto const& e) { return iequals(e.first, name); });
    if (it != headers.end())
        it->second = std::move(value);
    else
        headers.emplace_back(std::move(name), std::move(value));
}

std::string_view http_request::header(std::string_view name) const {
    return find_header(headers, name);
}

std::string_view response_head::header(std::string_view name) const {
    return find_header(headers, name);
}

std::string_view request_head::query_param(std::string_view name) const noexcept {
    std::string_view rest = query;
    while (!rest.empty()) {
        auto const amp = rest.find('&');
        auto const pair = rest.substr(0, amp);
        auto const eq = pair.find('=');
        if (pair.substr(0, eq) == name)
            return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return {};
}

}  // namespace llmux::detail
