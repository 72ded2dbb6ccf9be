// SPDX-License-Identifier: BSL-1.0
// HTTP/1.1 over TCP or TLS with a connection pool per origin (DESIGN.md layer 3). The only
// layer that touches sockets.
#pragma once

#include "http/message.hpp"

#include <llmux/config.hpp>
#include <llmux/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::detail {

using clock = std::chrono::steady_clock;

/// Scheme, host and port: the key of a connection pool.
struct origin {
    bool tls = false;
    std::string host;
    std::uint16_t port = 0;
    std::string key;  // "https://host:port"
};

/// The `Host` header the transport sends to `o` (`host`, or `host:port` for a non-default
/// port); request signers (SigV4) sign exactly this.
std::string host_header(origin const& o);

/// Splits a base URL into its origin and its path (no trailing slash). Errors name the URL.
result<origin> parse_base_url(std::string_view base_url, std::string& path);

struct transport_config {
    llmux::timeouts timeouts;
    llmux::tls_config tls;
    llmux::pool_config pool;
    std::size_t max_response_bytes = 64u << 20;
    std::size_t max_stream_bytes = std::size_t(1) << 30;
};

/// A whole response.
struct http_response {
    response_head head;
    std::string body;
    /// When the first byte of the response arrived.
    clock::time_point first_byte{};
};

/// Counters, for tests, benchmarks and metrics.
struct transport_stats {
    std::uint64_t connections_opened = 0;
    std::uint64_t connections_reused = 0;
    std::uint64_t connections_open = 0;
    std::uint64_t requests = 0;
    std::uint64_t stale_retries = 0;
    /// TLS handshakes that resumed an earlier session instead of a full handshake.
    std::uint64_t tls_resumed = 0;
};

class transport;
class connection;
struct stream_state;

/** The body of a streamed response, read incrementally. Move-only. When the body has been read
    to its end and the server allows keep-alive, the connection goes back to the pool; when the
    object is dropped earlier, the connection is closed.
*/
class body_stream {
public:
    body_stream() = default;
    body_stream(body_stream&&) noexcept;
    body_stream& operator=(body_stream&&) noexcept;
    ~body_stream();

    response_head const& head() const;
    clock::time_point first_byte() const;

    /// The strand of the stream's connection: `read_some` and `read_all` must run on it.
    boost::asio::any_io_executor strand() const;

    /** Reads the next piece of the body. An empty view means the body ended. The view is valid
        until the next call. Must run on `strand()`. Errors: `error::timeout` (idle gap or total
        deadline), transport errors, `error::response_too_large`.
    */
    boost::asio::awaitable<result<std::string_view>> read_some();

    /// True once `read_some` has read the body to its end: the next call returns the empty
    /// view at once, without reading.
    bool done() const noexcept;

    /// Reads the rest of the body (at most `cap` bytes) into one string; for error bodies.
    /// Must run on `strand()`.
    boost::asio::awaitable<result<std::string>> read_all(std::size_t cap);

    /// Closes the connection now (an abandoned or cancelled stream).
    void close();

private:
    friend class transport;
    std::shared_ptr<stream_state> st_;
};

/** The HTTP client side: pooled connections per origin, deadlines on every step.

    Its coroutines turn off `throw_if_cancelled` (it is per coroutine thread), so they must run
    in a coroutine thread of llmux's own (spawned by the client), never directly in a user's.

    @par Thread safety
    Safe to use from several threads of one io_context; each connection's I/O runs on its own
    strand and the pools are guarded by a mutex.
*/
class transport : public std::enable_shared_from_this<transport> {
public:
    transport(boost::asio::any_io_executor ex, transport_config cfg);
    ~transport();

    /// Sends `req` and reads the whole response. `deadline` bounds everything.
    boost::asio::awaitable<result<http_response>> request(origin const& o,
                                                          std::shared_ptr<http_request const> req,
                                                          clock::time_point deadline);

    /// Sends `req` and reads the response headers; the body is read from the returned stream.
    boost::asio::awaitable<result<body_stream>> open(origin const& o,
                                                     std::shared_ptr<http_request const> req,
                                                     clock::time_point deadline);

    transport_stats stats() const;
    transport_config const& config() const noexcept { return cfg_; }

    /// Closes every idle pooled connection.
    void close_idle();

    // Internal, used by connections and streams.
    struct pool;
    struct lease;
    void release(std::shared_ptr<connection> const& c, bool reusable);

private:
    struct queued;  // a caller's place in a pool's queue for a connection
    /** A lease at once when a pooled connection is idle or the pool has room (the common case,
        without a coroutine frame); otherwise `q` holds a place in the queue, for `wait_lease`.
    */
    std::optional<lease> try_acquire(origin const& o, queued& q);
    /// Waits in the queue `q` for a connection, until `deadline` or the pool's wait limit.
    boost::asio::awaitable<result<lease>> wait_lease(origin const& o, queued q,
                                                     clock::time_point deadline);
    std::shared_ptr<pool> pool_for(origin const& o);

    struct impl;
    std::unique_ptr<impl> impl_;
    transport_config cfg_;

    friend class connection;
    friend class body_stream;
};

}  // namespace llmux::detail
