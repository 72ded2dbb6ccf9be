// SPDX-License-Identifier: BSL-1.0
// Writing what the socket takes at once, without an asynchronous operation (issue 15).
//
// A response or a request of a few kilobytes fits in a TCP socket's send buffer, so its write
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

#include <cstddef>

namespace llmux::detail {

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
