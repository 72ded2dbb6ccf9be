// SPDX-License-Identifier: BSL-1.0
#include "codec/sse.hpp"

#include <charconv>

namespace llmux::detail {

bool sse_parser::process_line(std::string_view line, bool in_feed) {
    if (line.empty()) {
        // Blank line: dispatch if any data field was seen; otherwise just reset the type.
        if (!data_started_) {
            type_.clear();
            retry_.reset();
            return false;
        }
        return true;
    }
    if (line.front() == ':') return false;  // comment (": OPENROUTER PROCESSING", ": keep-alive")
    std::string_view field = line;
    std::string_view value;
    if (auto const colon = line.find(':'); colon != std::string_view::npos) {
        field = line.substr(0, colon);
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
        if (!data_started_ && in_feed) {
            data_view_ = value;  // the event's first line, still in the caller's bytes
        } else {
            own_data();
            data_.append(value);
            data_.push_back('\n');
        }
        data_started_ = true;
    } else if (field == "event") {
        type_.assign(value);
    } else if (field == "id") {
        if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
    } else if (field == "retry") {
        std::uint64_t ms = 0;
        auto const* first = value.data();
        auto const* last = value.data() + value.size();
        if (!value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos) {
            auto [p, ec] = std::from_chars(first, last, ms);
            if (ec == std::errc{} && p == last) retry_ = ms;
        }
    }
    // Any other field is ignored, as the spec says.
    return false;
}

}  // namespace llmux::detail
