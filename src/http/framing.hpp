// SPDX-License-Identifier: BSL-1.0
// Request framing rules of RFC 9112 section 6.3 and the Host rule of its section 3.2, as pure
// functions of a request head: the server refuses what another server on the path could read
// differently (request smuggling, a request routed to two hosts).
// Pure (over the parsed head of codec/http1.hpp), so the fuzz targets use it without sockets.
#pragma once

#include "codec/http1.hpp"

#include <optional>
#include <string_view>

namespace llmux::detail {

/** @brief What is wrong with the framing of a request head (RFC 9112 section 6.3), or
    nothing: a `Transfer-Encoding` other than exactly `chunked` (`xchunked`, `identity`,
    `chunked, identity`, `gzip, chunked`: codings the server does not decode), both
    `Transfer-Encoding` and `Content-Length`, or `Transfer-Encoding` in an HTTP/1.0 request.
    Such a request could be read differently by another server on the path (request
    smuggling), so it gets 400 and its connection is closed.
*/
std::optional<std::string_view> framing_problem(http1::request const& head) noexcept;

/** @brief What is wrong with a request's `Host` (RFC 9112 section 3.2), or nothing. An
    HTTP/1.1 request must carry exactly one `Host` line and an HTTP/1.0 one at most one; its
    value is empty or `uri-host [ ":" port ]` of RFC 3986 (a name, an IPv4 address or a
    bracketed IP literal). A request with two `Host` lines, or one whose value is not a host,
    could be routed by one server on the path to the first and by another to the second: it
    gets 400 and its connection is closed, as the RFC requires.
*/
std::optional<std::string_view> host_problem(http1::request const& head) noexcept;

/** @brief True when the server should answer `100 Continue` before reading the body: the
    request says `Expect: 100-continue` and is HTTP/1.1. An HTTP/1.0 client has no 1xx answers
    and would take the 100 for the final one, so its `Expect` is ignored (RFC 9110 sections
    10.1.1 and 15.2).
*/
bool expects_continue(http1::request const& head) noexcept;

}  // namespace llmux::detail
