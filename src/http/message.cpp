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

}  // namespace llmux::detail
