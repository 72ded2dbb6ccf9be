// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/config.hpp>

#include <string>
#include <string_view>

namespace llmux::detail {

/// An HTTP request as an adapter builds it; the transport adds Host and Content-Length.
struct http_request {
    std::string method = "POST";
    /// Path and query relative to the provider's base URL path, already percent-encoded,
    /// e.g. "/chat/completions" or "/model/anthropic.claude%3A0/converse".
    std::string target;
    header_list headers;
    std::string body;

    void set_header(std::string name, std::string value);
    std::string_view header(std::string_view name) const;  // case-insensitive, empty if absent
};

/// The status line and headers of a response, as adapters see them.
struct response_head {
    unsigned status = 0;
    header_list headers;

    /// Case-insensitive lookup; empty if absent.
    std::string_view header(std::string_view name) const;
};

bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace llmux::detail
