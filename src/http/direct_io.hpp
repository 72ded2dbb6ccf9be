// SPDX-License-Identifier: BSL-1.0
// Reading and writing HTTP without Beast's composed operations (issue 15), for the server and
// the transport alike.
//
// Reading: Beast's `http::async_read_header`, `async_read` and `async_read_some` go through
// the scheduler once per step, even when the bytes are already buffered (a body that came with
// its head). The server and the transport parse what their buffer holds with `parse_buffer`,
// in the caller's frame, read (at most `max_read_size` at once, `beast::read_size`) only when
// the parser needs more, and hand the end of the input to the parser with `end_of_input`: the
// same parser calls, limits and end-of-stream rules as Beast's operations.
//
// Writing: a response or a request of a few kilobytes fits in a TCP socket's send buffer, so its write
// completes at once; as an asynchronous write it still cost an operation, a timer (the
// stream's write deadline, armed and cancelled), a post, a scheduler pass and the caller's
// suspension and resumption: about 5,000 instructions of the 78,000 of a proxied answer. The
// server and the transport first send what the socket takes now, and write only the rest
// asynchronously, under the write deadline as before. Plain TCP only: TLS records go through
// the stream.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <cstddef>

namespace llmux::detail {

/// The most one read takes (Beast's figure for its reads).
constexpr std::size_t max_read_size = 64 * 1024;

/** Parses what `b` holds into `p`, up to the end of the head (`head`) or of the message,
    consuming what the parser took: nothing when it got there, `http::error::need_more` when
    it needs bytes the buffer does not have, or the parser's error. The parser is Beast's
    (`http::basic_parser`; with `eager(false)` it stops at each element: the head, a chunk
    header, a piece of body, so this loops) or one with the same calls (`http1::request_parser`).
*/
template <class Parser>
boost::system::error_code parse_buffer(boost::beast::flat_buffer& b, Parser& p, bool head) {
    for (;;) {
        if (head ? p.is_header_done() : p.is_done()) return {};
        if (b.size() == 0) return boost::beast::http::error::need_more;
        boost::system::error_code ec;
        auto const used = p.put(b.data(), ec);
        b.consume(used);
        if (ec) return ec;  // need_more included
        if (used == 0) return boost::beast::http::error::need_more;
    }
}

/** What a read's error `ec` means for the message in `p`, as Beast's reads say: the end of the
    input before any byte is `end_of_stream`; after some, the parser decides (nothing when the
    message was delimited by the end of the connection, else `partial_message`). A TLS peer
    that closes without close_notify ends such a message too, once the parser says it only
    needed the end (STYLE.md 4); otherwise that is a truncation. Other errors are themselves.
*/
template <class Parser>
boost::system::error_code end_of_input(Parser& p, boost::system::error_code ec) {
    if (ec == boost::asio::error::eof ||
        (ec == boost::asio::ssl::error::stream_truncated && p.need_eof())) {
        if (!p.got_some()) return boost::beast::http::error::end_of_stream;
        boost::system::error_code eec;
        p.put_eof(eec);
        return eec;
    }
    return ec;
}

/** Sends what `sock` takes now from `bufs` (one `sendmsg`, never waiting): the bytes sent,
    0 when the socket would block. `ec` is set for a real error (the peer reset, the socket
    closed). The socket is put in non-blocking mode for this (asio's own asynchronous
    operations do not mind).
*/
template <class ConstBufferSequence>
std::size_t send_now(boost::asio::ip::tcp::socket& sock, ConstBufferSequence const& bufs,
                     boost::system::error_code& ec) {
    namespace asio = boost::asio;
    ec = {};
    if (!sock.non_blocking()) {
        sock.non_blocking(true, ec);
        if (ec) {
            ec = {};
            return 0;  // the asynchronous write will report what is wrong
        }
    }
    std::size_t const n = sock.send(bufs, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        ec = {};
        return 0;
    }
    return ec ? 0 : n;
}

/// `bufs` without their first `n` bytes (an array of buffers, the empty ones kept empty).
template <class BufferArray>
BufferArray drop_front(BufferArray bufs, std::size_t n) noexcept {
    for (auto& b : bufs) {
        std::size_t const k = n < b.size() ? n : b.size();
        b += k;
        n -= k;
    }
    return bufs;
}

}  // namespace llmux::detail
