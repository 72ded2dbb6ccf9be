// SPDX-License-Identifier: BSL-1.0
#pragma once

#include "util/text.hpp"

#include <llmux/header_list.hpp>

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

/** The request line and header block of `req` as the transport writes it (HTTP/1.1), blank line
    included, into `out` (cleared first): Host and User-Agent, then the request's headers in
    order, where a header replaces an earlier one of the same name (Host and User-Agent too),
    as Beast's `set` would; then Content-Length, which is the transport's own (the request's
    Content-Length and Transfer-Encoding are left out: the body is always sent whole). It is
    sent for a body, and for POST, PUT and OPTIONS without one, as Beast's `prepare_payload`.
    The names and values must have passed `header_problem` (the transport checks them first).
*/
void format_request_head(http_request const& req, std::string_view host, std::string& out);

/// The status line and headers of a response, as adapters see them.
struct response_head {
    unsigned status = 0;
    header_list headers;

    /// Case-insensitive lookup; empty if absent.
    std::string_view header(std::string_view name) const;
};

/** What a wire format's server side sees of an incoming request: its method, target and headers,
    without the server's own types (sans-io). Headers are read through a lookup the server
    provides (`head_of` in http/server.hpp), so nothing is copied.

    @par Object lifetimes
    Views into the server's request: valid while it is.
*/
struct request_head {
    std::string_view method;
    /// The path, percent-encoded as sent, without the query.
    std::string_view path;
    /// What follows the `?` of the target; empty if none.
    std::string_view query;
    /// The `{model}` of the endpoint the path matched, percent-decoded; empty if none.
    std::string path_model;

    /// Case-insensitive lookup; empty if absent.
    std::string_view header(std::string_view name) const {
        return lookup ? lookup(context, name) : std::string_view();
    }
    /// The value of query parameter `name` as sent (not decoded); empty if absent.
    std::string_view query_param(std::string_view name) const noexcept;

    /// The server's header lookup and its state.
    std::string_view (*lookup)(void const* context, std::string_view name) = nullptr;
    void const* context = nullptr;
};

}  // namespace llmux::detail
