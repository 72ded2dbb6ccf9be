// SPDX-License-Identifier: BSL-1.0
// A small, fast HTTP/1.1 server over plain TCP or TLS: one coroutine per connection, buffers
// reused across keep-alive requests, deadlines on every wait, and a watch on the connection
// while a handler runs so that a client that goes away cancels its handler at once. The
// emulator and the gateway (`llmux serve`) run on it.
#pragma once

#include "codec/http1.hpp"
#include "http/framing.hpp"
#include "http/message.hpp"

#include <llmux/config.hpp>
#include <llmux/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::detail {

/// A request as the server hands it to the handler (body read whole, up to the body limit):
/// the head parsed once into views of its own copy (codec/http1.hpp).
using server_request = http1::request;

/** @brief The sans-io view of `req` that wire formats read (method, path, query, headers).
    @par Object lifetimes
    Refers to `req`, which must outlive it.
*/
request_head head_of(server_request const& req) noexcept;

/// @brief An answer a server gives from a request's head alone (see `server_config::head_check`).
struct early_answer {
    unsigned status = 400;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    /// Extra header lines (validated like `server_exchange::add_header`).
    header_list headers;
};

/** @brief Raises this process's soft limit of open files to its hard limit, so that a
    server is limited by its own connection caps rather than by a low default (often 1024).
    @return The soft limit now in force (unchanged if it could not be raised).
*/
std::uint64_t raise_open_files_limit() noexcept;

/// @brief Limits and deadlines of an `http_server`.
struct server_config {
    /// Largest request body; larger requests get 413 and the connection is closed.
    std::size_t max_body_bytes = 32u << 20;
    /// Largest request head (request line and headers); larger requests get 431.
    std::uint32_t max_header_bytes = 64u << 10;
    /// How long a keep-alive connection may sit idle before the next request starts.
    duration idle_timeout = std::chrono::seconds(60);
    /** A new connection must complete its TLS handshake and send its whole request head
        within this of being accepted; a later request on a keep-alive connection, within this
        of its first byte. Bounds what a client that sends nothing, or a byte at a time, holds.
    */
    duration header_timeout = std::chrono::seconds(10);
    /// Deadline for reading a request's body once its head has arrived (slow clients).
    duration read_timeout = std::chrono::seconds(30);
    /// Most connections open at once; a connection beyond it is answered 503 and closed.
    std::size_t max_connections = 10000;
    /** Listens with `SO_REUSEPORT`: other sockets that set it too, in this process or another
        of the same user, may listen on the same address and port, and the kernel spreads new
        connections among them. This is how several `llmux serve` processes share a port, one
        per core, as nginx's workers do. Off: a second listener on the port fails to bind.
    */
    bool reuse_port = false;
    /// Most connections open at once from one client address (IP); beyond it, 503 and close.
    std::size_t max_connections_per_client = 512;
    /** Called with each request's head before its body is read (and before `100 Continue`):
        an answer returned here is sent instead of calling the handler, and the connection is
        closed without reading the body. The gateway refuses requests without a valid key
        here, so that an unauthenticated client cannot make it buffer bodies.
    */
    std::function<std::optional<early_answer>(server_request const& head)> head_check;
    /// Deadline of each write (a client that stops reading).
    duration write_timeout = std::chrono::seconds(30);
    /** Writes the body of the server's own error answers (400 malformed request, 413 body too
        large, 431 head too large, 500 handler sent nothing) and its content type; `request`
        holds what could be parsed of the request (its target may be empty). Empty: plain text.
    */
    std::function<void(server_request const& request, unsigned status, std::string_view message,
                       std::string& content_type, std::string& body)>
        error_renderer;
};

/// @brief Counters of an `http_server`; read with relaxed atomics.
struct server_stats {
    std::uint64_t accepted = 0;
    std::uint64_t open = 0;
    std::uint64_t requests = 0;
    /// Handlers whose client went away while they ran (they got a terminal cancellation).
    std::uint64_t disconnects = 0;
    /// Connections refused (503) because a connection cap was reached.
    std::uint64_t refused = 0;
};

class server_connection;

/** @brief One request on a connection and the means to answer it.

    A handler answers in exactly one of these ways:
    - `send(body)`: a whole response with `Content-Length`;
    - `start_chunked()`, then `write_chunk()` / `flush()` as pieces are produced, then
      `end_chunked()`: a streamed response (chunked transfer encoding; for an HTTP/1.0 client
      the body is sent raw and the connection closes at its end);
    - `abort()`: a TCP reset, at any point, even in the middle of a streamed body.

    Set the status and headers before the first write. Headers are written as given (the
    server adds only `Content-Length`/`Transfer-Encoding` and `Connection`), so they must not
    repeat those. Every awaitable returns an `error_code` instead of throwing: after a failed
    write, or once `stopping()` is true, the handler should return promptly.

    @par Cancellation
    The handler runs in the connection's coroutine thread, and starts as in one of its own
    (`throw_if_cancelled` on, not cancelled; what it changes of either is undone after it
    returns). While it runs the server watches the
    connection (bytes the client pipelines are kept for the next request); when the client
    closes or resets it, or the server stops, the handler's coroutine gets a terminal
    cancellation, so whatever it awaits (an upstream call, a timer) ends at once, and
    `client_gone()` turns true. A handler that keeps `throw_if_cancelled` on (the default)
    gets `operation_aborted` thrown at its next `co_await`.

    @par Thread safety
    Use only from the handler's coroutine (it runs on the connection's strand).

    @par Object lifetimes
    Valid until the handler's coroutine returns. Views passed to `send` / `write_chunk` /
    `end_chunked` must stay valid until the awaited call completes (no copy is made).
*/
class server_exchange {
public:
    using error_code = boost::system::error_code;

    server_exchange(server_connection& conn, server_request& req) noexcept
        : conn_(&conn), req_(&req) {}
    server_exchange(server_exchange const&) = delete;
    server_exchange& operator=(server_exchange const&) = delete;

    /// @brief The request. Mutable so a handler may parse the body in place or move it out.
    server_request& request() noexcept { return *req_; }
    /// @brief The connection's executor (a strand).
    boost::asio::any_io_executor get_executor() const noexcept;
    bool is_tls() const noexcept;
    /// @brief True once the server is stopping: end the response promptly.
    bool stopping() const noexcept;
    /// @brief True once the client closed or reset the connection while the handler ran.
    bool client_gone() const noexcept;

    /// @name Response head (before the first write)
    /// @{
    /// 1xx, 204 and 304 answers go without a body or framing headers, whatever is sent (RFC
    /// 9110 section 8.6, RFC 9112 section 6.3: a client reads no body after them, and would take
    /// one for the next answer).
    void set_status(unsigned status) noexcept { status_ = status; }
    unsigned status() const noexcept { return status_; }
    /// Adds a header line. A name that is not a token or a value with CR, LF, NUL or another
    /// control character is dropped (response splitting).
    void add_header(std::string_view name, std::string_view value);
    /// Sends `Connection: close` and closes after this response.
    void close_after_response() noexcept { close_ = true; }
    /// @}

    /// @brief Sends a whole response (headers and body) with `Content-Length`.
    boost::asio::awaitable<error_code> send(std::string_view body);

    /// @brief Starts a streamed response; the head goes out with the next write or flush.
    void start_chunked() noexcept;
    /// @brief Writes the head if not yet sent (so the client sees headers before a delay).
    boost::asio::awaitable<error_code> flush();
    /// @brief Writes one chunk (and the head if pending), in one system call where possible.
    boost::asio::awaitable<error_code> write_chunk(std::string_view data);
    /// @brief Writes `last_data` (if any) and the terminating chunk.
    boost::asio::awaitable<error_code> end_chunked(std::string_view last_data = {});

    /// @brief Resets the connection now (SO_LINGER 0, close): the client sees ECONNRESET.
    void abort() noexcept;

    /// @brief Waits without blocking a thread; ends early (operation_aborted) on stop().
    boost::asio::awaitable<error_code> sleep_until(std::chrono::steady_clock::time_point t);
    boost::asio::awaitable<error_code> sleep_for(duration d);

    /** @brief Sends nothing and waits until the client closes the connection, the server
        stops, or `limit` passes; whatever the client sends meanwhile is discarded. The
        connection is closed after the handler returns. Returns the error that ended the
        connection (eof, reset), `operation_aborted` on stop, or `beast::error::timeout`.
    */
    boost::asio::awaitable<error_code> wait_for_disconnect(duration limit);

    /// @brief Where the response is.
    enum class phase {
        /// Nothing sent yet.
        head,
        /// A chunked response was started and not ended.
        streaming,
        /// A complete response was sent.
        done,
        /// The connection was reset or a write failed: no further writes.
        failed,
    };
    phase state() const noexcept { return phase_; }
    bool closing() const noexcept { return close_; }

private:
    friend class server_connection;

    boost::asio::awaitable<error_code> write_head_and(std::string_view body, bool chunk, bool last);

    server_connection* conn_;
    server_request* req_;
    unsigned status_ = 200;
    phase phase_ = phase::head;
    bool close_ = false;
    bool head_pending_ = false;
    bool raw_stream_ = false;
    bool bodiless_ = false;  // a 1xx, 204 or 304 answer (set_status): no body is written
};

/// @brief Called once per request, on the connection's strand.
using server_handler = std::function<boost::asio::awaitable<void>(server_exchange&)>;

/** @brief An HTTP/1.1 server: listeners (plain or TLS) and their connections.

    Each connection is one coroutine on its own strand, so the `io_context` may run on several
    threads. Requests are read with `http1::request_parser` under the configured limits (400 for a
    malformed request, 413 for a body over the limit, 431 for an oversized head; each closes
    the connection). Keep-alive is honoured; an idle connection closes after `idle_timeout`.

    @par Thread safety
    `listen` must not run concurrently with `stop`; `stop` and `stats` are safe from any thread.

    @par Object lifetimes
    The server's state lives as long as any of its coroutines; destroying the object stops it.
*/
class http_server {
public:
    http_server(boost::asio::any_io_executor ex, server_config cfg, server_handler handler);
    ~http_server();
    http_server(http_server const&) = delete;
    http_server& operator=(http_server const&) = delete;

    /** @brief Binds `host:port` (port 0: a free one) and starts accepting.

        @param tls When set, connections on this listener speak TLS with this context.
        @return The bound endpoint, or the resolve/bind/listen error.
    */
    result<boost::asio::ip::tcp::endpoint>
    listen(std::string const& host, std::uint16_t port,
           std::shared_ptr<boost::asio::ssl::context> tls = nullptr);

    /// @brief Closes the listeners and every open connection; their coroutines end promptly
    /// (running handlers get a terminal cancellation).
    void stop();

    /** @brief Starts a graceful shutdown: closes the listeners and the idle keep-alive
        connections now; every other connection closes after the response in progress
        (`Connection: close`). `stats().open` reaches 0 when all are done; call `stop()` to cut
        the rest short.
    */
    void drain();

    server_stats stats() const noexcept;
    server_config const& config() const noexcept;

    struct state;

private:
    std::shared_ptr<state> state_;
};

}  // namespace llmux::detail
