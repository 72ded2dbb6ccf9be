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

class stream_source {
public:
    virtual ~stream_source() = default;
    /// The next chunk or the end; `self` is this source, which the step keeps alive.
    virtual boost::asio::awaitable<std::optional<chat_chunk>>
    next(std::shared_ptr<stream_source> self) = 0;
    virtual bool done() const noexcept = 0;
    virtual result<chat_response> const& response() const = 0;
    virtual bool content_started() const noexcept = 0;
    /// `next()` would return without waiting (see `chat_stream::ready`).
    virtual bool ready() const noexcept = 0;
    /// The chunk `next()` would return at once, if any (see `chat_stream::try_next`); a source
    /// that cannot tell says nothing, and its caller awaits `next()`.
    virtual std::optional<chat_chunk> try_next() { return std::nullopt; }
    /// The caller stops reading: cancel what is in progress, close its connection.
    virtual void close() = 0;
    /// The `chat_stream` was destroyed before the end: as `close`, reported as a drop.
    virtual void dropped() = 0;
};

}  // namespace llmux::detail
