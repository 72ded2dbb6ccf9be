// SPDX-License-Identifier: BSL-1.0
// Request framing rules of RFC 9112 section 6.3, as a pure function of a request head: the
// server refuses what another server on the path could read differently (request smuggling).
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

}  // namespace llmux::detail
