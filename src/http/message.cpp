// SPDX-License-Identifier: BSL-1.0
#include "http/message.hpp"

#include "util/header.hpp"
#include "util/json_text.hpp"

#include <algorithm>

using namespace std::string_view_literals;

namespace llmux::detail {

namespace {
std::string_view find_header(header_list const& h, std::string_view name) {
    auto it = std::find_if(h.begin(), h.end(), [&](auto const& e) { return iequals(e.first, name); });
    return it == h.end() ? std::string_view{} : std::string_view(it->second);
}
}  // namespace

void http_request::set_header(std::string name, std::string value) {
    auto it = std::find_if(headers.begin(), headers.end(),
                           [&](auto const& e) { return iequals(e.first, name); });
    if (it != headers.end()) {
        it->second = std::move(value);
        return;
    }
    // Room for a request's usual headers at once (auth, version, content type, the caller's
    // extras): the list grew 1, 2, 4, 8, moving every pair each time (issue 15).
    if (headers.capacity() == 0) headers.reserve(8);
    headers.emplace_back(std::move(name), std::move(value));
}

std::string_view http_request::header(std::string_view name) const {
    return find_header(headers, name);
}

void format_request_head(http_request const& req, std::string_view host, std::string& out) {
    auto const& hs = req.headers;
    auto const replaced = [&](std::string_view name, std::size_t from) {
        for (std::size_t j = from; j < hs.size(); ++j)
            if (iequals(hs[j].first, name)) return true;
        return false;
    };
    auto const line = [&](std::string_view name, std::string_view value) {
        append_field_line(out, name, value);
    };
    out.clear();
    out.reserve(160 + req.target.size() + 64 * hs.size());
    out.append(req.method).append(" "sv).append(req.target).append(" HTTP/1.1\r\n"sv);
    if (!replaced("Host", 0)) line("Host", host);
    if (!replaced("User-Agent", 0)) line("User-Agent", "llmux/0.1");
    for (std::size_t i = 0; i < hs.size(); ++i) {
        auto const& [name, value] = hs[i];
        if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
            replaced(name, i + 1))
            continue;
        line(name, value);
    }
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" ||
        req.method == "OPTIONS") {
        out.append("Content-Length: "sv);
        append_number(out, static_cast<std::uint64_t>(req.body.size()));
        out.append("\r\n"sv);
    }
    out.append("\r\n"sv);
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
