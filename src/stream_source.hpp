// SPDX-License-Identifier: BSL-1.0
// What a `chat_stream` reads from: a plain call (client.cpp) or a combined stream with
// fallback, hedging and continuation (combinators.cpp). One stream type for callers, two
// sources behind it.
#pragma once

#include <llmux/client.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>

namespace llmux::detail {

class stream_source : public std::enable_shared_from_this<stream_source> {
public:
    virtual ~stream_source() = default;
    /// The next chunk or the end; the caller keeps the source alive meanwhile.
    virtual boost::asio::awaitable<std::optional<chat_chunk>> next() = 0;
    virtual bool done() const noexcept = 0;
    virtual result<chat_response> const& response() const = 0;
    virtual bool content_started() const noexcept = 0;
    /// `next()` would return without waiting (see `chat_stream::ready`).
    virtual bool ready() const noexcept = 0;
    /// The caller stops reading: cancel what is in progress, close its connection.
    virtual void close() = 0;
    /// The `chat_stream` was destroyed before the end: as `close`, reported as a drop.
    virtual void dropped() = 0;
};

}  // namespace llmux::detail
