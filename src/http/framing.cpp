// SPDX-License-Identifier: BSL-1.0
#include "http/framing.hpp"

#include <boost/beast/core/string.hpp>

namespace llmux::detail {

namespace beast = boost::beast;

std::optional<std::string_view> framing_problem(http1::request const& head) noexcept {
    bool te = false;
    bool cl = false;
    std::size_t codings = 0;
    bool only_chunked = true;
    for (auto const& f : head.fields()) {
        if (beast::iequals(f.name, "content-length")) cl = true;
        if (!beast::iequals(f.name, "transfer-encoding")) continue;
        te = true;
        // A comma-separated list of codings, possibly over several lines: it must be exactly
        // one `chunked` (no parameters), the only coding this server decodes.
        std::string_view v = f.value;
        for (;;) {
            auto const comma = v.find(',');
            auto item = v.substr(0, comma);
            while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
                item.remove_prefix(1);
            while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
                item.remove_suffix(1);
            if (!item.empty()) {
                ++codings;
                if (!beast::iequals(item, "chunked")) only_chunked = false;
            }
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    if (!te) return std::nullopt;
    if (head.version() < 11) return "Transfer-Encoding is not allowed in an HTTP/1.0 request";
    if (cl) return "a request must not have both Transfer-Encoding and Content-Length";
    if (codings != 1 || !only_chunked)
        return "Transfer-Encoding must be exactly 'chunked' (no other coding is accepted)";
    return std::nullopt;
}

}  // namespace llmux::detail
