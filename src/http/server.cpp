// SPDX-License-Identifier: BSL-1.0
#include "http/server.hpp"

#include "util/header.hpp"
#include "util/json_text.hpp"
#include "http/direct_io.hpp"
#include "util/strand.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

using namespace std::string_view_literals;

namespace llmux::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// Largest number of buffers one response write gathers: status line, headers, framing,
/// chunk size line, data, chunk end, last chunk.
constexpr std::size_t max_write_buffers = 8;
using write_buffers = std::array<asio::const_buffer, max_write_buffers>;

/// How long a closing connection waits for the client's side of the close, so that unread
/// request bytes do not turn our FIN into a reset that destroys the last response.
constexpr auto linger_time = std::chrono::seconds(1);
/// Request buffers larger than this are released after their request instead of reused.
constexpr std::size_t retained_bytes = 1u << 20;
/// What a connection keeps of a large request head (its copy, its field list) between requests.
constexpr std::size_t retained_head_bytes = 16u << 10;
constexpr std::size_t linger_max_bytes = 1u << 20;
/// While a handler runs, bytes the client pipelines are kept up to this much; beyond it the
/// server stops reading (and so stops noticing a disconnect) until the handler is done.
constexpr std::size_t watch_max_bytes = 256u << 10;

std::string_view reason_phrase(unsigned status) noexcept {
    if (status == 529) return "Site Overloaded";  // Anthropic's, not in the IANA registry
    auto const r = http::obsolete_reason(http::int_to_status(status));
    if (r.empty() || r.front() == '<') return "Unknown";
    return {r.data(), r.size()};
}

}  // namespace

request_head head_of(server_request const& req) noexcept {
    request_head h;
    auto const m = req.method_string();
    h.method = std::string_view(m.data(), m.size());
    std::string_view const target(req.target().data(), req.target().size());
    auto const q = target.find('?');
    h.path = target.substr(0, q);
    if (q != std::string_view::npos) h.query = target.substr(q + 1);
    h.context = &req;
    h.lookup = [](void const* ctx, std::string_view name) -> std::string_view {
        auto const v = (*static_cast<server_request const*>(ctx))[name];
        return {v.data(), v.size()};
    };
    return h;
}

std::uint64_t raise_open_files_limit() noexcept {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
    if (lim.rlim_cur < lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    return static_cast<std::uint64_t>(lim.rlim_cur);
}

// ---------------------------------------------------------------------------------------------
// Shared state and the type-erased connection.

struct listener {
    asio::any_io_executor strand;  // util/strand.hpp
    tcp::acceptor acceptor;
    asio::steady_timer backoff;
    std::shared_ptr<ssl::context> tls;

    listener(asio::any_io_executor const& ex, std::shared_ptr<ssl::context> ctx)
        : strand(detail::make_small_strand(ex)), acceptor(strand), backoff(strand), tls(std::move(ctx)) {}
};

/** A timer of the server's that always expires before the connections' deadlines (which are
    seconds away), renewed every `period`. A deadline set while an earlier timer is pending
    does not reprogram the reactor's timerfd: without it, each of a request's deadlines (the
    head, the body, the write, the upstream's steps) was the earliest on a quiet server and
    cost a `timerfd_settime`, four per request at one connection (issue 15). Started with the
    first listener, stopped with the listeners; its own strand, for stop() may run on any
    thread.
*/
struct reactor_anchor : std::enable_shared_from_this<reactor_anchor> {
    static constexpr auto period = std::chrono::seconds(1);
    asio::steady_timer timer;
    bool stopped = false;

    explicit reactor_anchor(asio::any_io_executor const& ex) : timer(make_small_strand(ex)) {}

    void start() {
        asio::post(timer.get_executor(), [self = shared_from_this()] { self->arm(); });
    }
    void stop() {
        asio::post(timer.get_executor(), [self = shared_from_this()] {
            self->stopped = true;
            self->timer.cancel();
        });
    }

private:
    void arm() {
        if (stopped) return;
        timer.expires_after(period);
        timer.async_wait([self = shared_from_this()](error_code ec) {
            if (!ec) self->arm();
        });
    }
};

struct http_server::state {
    asio::any_io_executor ex;
    server_config cfg;
    server_handler handler;

    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> open{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> disconnects{0};
    std::atomic<std::uint64_t> refused{0};
    /// Refused connections still being answered (their 503 written, the socket drained).
    std::atomic<std::uint64_t> refusing{0};
    std::atomic<bool> stopped{false};
    std::atomic<bool> draining{false};

    std::mutex mutex;  // guards listeners, anchor and connections
    std::vector<std::shared_ptr<listener>> listeners;
    std::shared_ptr<reactor_anchor> anchor;
    std::unordered_map<server_connection*, std::weak_ptr<server_connection>> connections;
    /// Open connections per client address; an entry exists only while one is open, so the
    /// map is bounded by `max_connections`.
    std::map<asio::ip::address, std::size_t> per_client;

    state(asio::any_io_executor e, server_config c, server_handler h)
        : ex(std::move(e)), cfg(c), handler(std::move(h)) {}

    enum class admission { ok, stopping, over_cap };

    /// Registers a new connection from `peer`, or says why not.
    admission add(std::shared_ptr<server_connection> const& c, asio::ip::address const& peer) {
        std::lock_guard lock(mutex);
        if (stopped.load() || draining.load()) return admission::stopping;
        if (connections.size() >= cfg.max_connections) return admission::over_cap;
        auto& n = per_client[peer];
        if (n >= cfg.max_connections_per_client) {
            if (n == 0) per_client.erase(peer);
            return admission::over_cap;
        }
        ++n;
        connections.emplace(c.get(), c);
        return admission::ok;
    }
    void remove(server_connection* c, asio::ip::address const& peer) {
        std::lock_guard lock(mutex);
        if (connections.erase(c) == 0) return;
        if (auto it = per_client.find(peer); it != per_client.end() && --it->second == 0)
            per_client.erase(it);
    }
};

/// What `server_exchange` needs from a connection, whatever its stream type.
class server_connection : public std::enable_shared_from_this<server_connection> {
public:
    server_connection(std::shared_ptr<http_server::state> srv, asio::any_io_executor ex, bool tls)
        : server_(std::move(srv)), ex_(std::move(ex)), timer_(ex_), tls_(tls), watch_done_(ex_) {}
    virtual ~server_connection() = default;
    server_connection(server_connection const&) = delete;
    server_connection& operator=(server_connection const&) = delete;

    /// Writes the non-empty buffers, under the write deadline.
    /// Writes `bufs` whole (they must outlive the await): the error and the bytes written.
    /// The write itself, not a coroutine around it: no frame of its own per write.
    virtual asio::awaitable<std::tuple<error_code, std::size_t>> write(write_buffers const& bufs) = 0;
    /// Sends what the socket takes now, without waiting (http/direct_io.hpp); 0 on TLS.
    virtual std::size_t send_now(write_buffers const& bufs, error_code& ec) = 0;

    /** Sends what the socket takes of `bufs` now: true when bytes are left, `bufs` then being
        them, for `write`; false when all went or `ec` says what failed. A response that fits
        the socket's buffer (the usual case) costs no asynchronous operation.
    */
    bool write_now(write_buffers& bufs, error_code& ec) {
        std::size_t const sent = send_now(bufs, ec);
        if (ec || sent == asio::buffer_size(bufs)) return false;
        bufs = drop_front(bufs, sent);
        return true;
    }
    /// Starts watching the connection while a handler runs (no-op when already watching).
    virtual void start_watch() = 0;
    /// TCP reset: SO_LINGER 0, then close.
    virtual void reset() noexcept = 0;
    /// Closes the socket now; pending operations complete with operation_aborted.
    virtual void close_now() noexcept = 0;

    /// Runs on the connection's strand (posted by `http_server::stop`).
    void stop_now() noexcept {
        stopping_ = true;
        timer_.cancel();
        close_now();
    }

    /// Runs on the connection's strand (posted by `http_server::drain`): an idle connection
    /// closes now, a busy one after its response.
    void drain_now() noexcept {
        draining_ = true;
        if (idle_) close_now();
    }

    std::shared_ptr<http_server::state> server_;
    asio::any_io_executor ex_;
    asio::steady_timer timer_;
    /// The client's address (for the per-client connection cap).
    asio::ip::address peer_;
    bool tls_;
    bool stopping_ = false;
    bool draining_ = false;
    /// Waiting for the first byte of the next request (a keep-alive pause).
    bool idle_ = false;

    // The watch on the connection while a handler runs (see server_exchange).
    asio::cancellation_signal handler_cancel_;  // terminal cancellation of the handler
    asio::cancellation_signal watch_cancel_;    // ends the watch's read
    asio::steady_timer watch_done_;             // cancelled when the watch ends
    bool watching_ = false;
    bool watch_stop_ = false;  // the server itself ended the watch
    bool peer_gone_ = false;
    error_code watch_error_;  // how the client left
    bool discard_reads_ = false;  // wait_for_disconnect: drop what the client sends
    std::uint64_t watch_gen_ = 0;  // plain TCP: which watch a readability wait belongs to

    // The request being answered.
    bool http10_ = false;
    bool keep_alive_ = true;
    bool head_request_ = false;

    // Response buffers, reused across keep-alive requests (capacity stays).
    std::string head_;         // header lines added by the handler
    std::string status_line_;  // "HTTP/1.1 200 OK\r\n"
    std::string framing_;      // Content-Length / Transfer-Encoding / Connection + blank line
    char chunk_line_[24] = {};
};

// ---------------------------------------------------------------------------------------------
// server_exchange

asio::any_io_executor server_exchange::get_executor() const noexcept {
    return conn_->ex_;
}
bool server_exchange::is_tls() const noexcept {
    return conn_->tls_;
}
bool server_exchange::stopping() const noexcept {
    return conn_->stopping_;
}
bool server_exchange::client_gone() const noexcept {
    return conn_->peer_gone_;
}

void server_exchange::add_header(std::string_view name, std::string_view value) {
    if (phase_ != phase::head || !is_header_name(name) || !is_header_value(value)) return;
    append_field_line(conn_->head_, name, value);
}

namespace {

enum class framing { length, chunked, none };

void format_head(server_connection& c, unsigned status, bool close, framing how,
                 std::size_t content_length) {
    // Each in one append (text_batch): nine appends cost 600 instructions an answer.
    c.status_line_.clear();
    text_batch<> line(c.status_line_);
    line << "HTTP/1.1 "sv << status << ' ' << reason_phrase(status) << "\r\n"sv;
    line.flush();

    c.framing_.clear();
    text_batch<> f(c.framing_);
    if (how == framing::length)
        f << "Content-Length: "sv << static_cast<std::uint64_t>(content_length) << "\r\n"sv;
    else if (how == framing::chunked)
        f << "Transfer-Encoding: chunked\r\n"sv;
    if (close)
        f << "Connection: close\r\n"sv;
    else if (c.http10_)
        f << "Connection: keep-alive\r\n"sv;  // HTTP/1.0 closes unless told
    f << "\r\n"sv;
    f.flush();
}

}  // namespace

asio::awaitable<error_code> server_exchange::send(std::string_view body) {
    if (phase_ != phase::head) co_return asio::error::make_error_code(asio::error::already_started);
    auto& c = *conn_;
    if (!c.keep_alive_ || c.stopping_ || c.draining_) close_ = true;
    bodiless_ = status_ < 100 || http1::bodiless_status(status_);
    format_head(c, status_, close_, bodiless_ ? framing::none : framing::length, body.size());
    write_buffers bufs{};
    bufs[0] = asio::buffer(c.status_line_);
    bufs[1] = asio::buffer(c.head_);
    bufs[2] = asio::buffer(c.framing_);
    if (!c.head_request_ && !bodiless_) bufs[3] = asio::buffer(body.data(), body.size());
    error_code ec;
    if (c.write_now(bufs, ec)) {
        auto [wec, n] = co_await c.write(bufs);
        (void)n;
        ec = wec;
    }
    phase_ = ec ? phase::failed : phase::done;
    co_return ec;
}

void server_exchange::start_chunked() noexcept {
    if (phase_ != phase::head) return;
    auto& c = *conn_;
    if (!c.keep_alive_ || c.stopping_ || c.draining_) close_ = true;
    // HTTP/1.0 has no chunked encoding: send the body raw and mark its end by closing. An
    // answer that has no body has no framing either.
    bodiless_ = status_ < 100 || http1::bodiless_status(status_);
    raw_stream_ = c.http10_ && !bodiless_;
    if (raw_stream_) close_ = true;
    format_head(c, status_, close_, bodiless_ || raw_stream_ ? framing::none : framing::chunked, 0);
    head_pending_ = true;
    phase_ = phase::streaming;
}

asio::awaitable<error_code> server_exchange::write_head_and(std::string_view data, bool chunk,
                                                            bool last) {
    if (phase_ != phase::streaming)
        co_return asio::error::make_error_code(asio::error::not_connected);
    auto& c = *conn_;
    if (c.head_request_ || bodiless_) data = {};
    write_buffers bufs{};
    std::size_t n = 0;
    if (head_pending_) {
        bufs[n++] = asio::buffer(c.status_line_);
        bufs[n++] = asio::buffer(c.head_);
        bufs[n++] = asio::buffer(c.framing_);
        head_pending_ = false;
    }
    if (!data.empty()) {
        if (chunk && !raw_stream_) {
            // The chunk size in hex (lower case, as %zx), then CRLF.
            auto end = std::to_chars(c.chunk_line_, c.chunk_line_ + sizeof c.chunk_line_ - 2,
                                     data.size(), 16).ptr;
            *end++ = '\r';
            *end++ = '\n';
            bufs[n++] = asio::buffer(c.chunk_line_, static_cast<std::size_t>(end - c.chunk_line_));
            bufs[n++] = asio::buffer(data.data(), data.size());
            bufs[n++] = asio::buffer("\r\n", 2);
        } else {
            bufs[n++] = asio::buffer(data.data(), data.size());
        }
    }
    if (last && !raw_stream_ && !c.head_request_ && !bodiless_)
        bufs[n++] = asio::buffer("0\r\n\r\n", 5);
    if (n == 0) {  // nothing to write (a HEAD request's or a bodiless answer's body)
        if (last) phase_ = phase::done;
        co_return error_code{};
    }
    error_code ec;
    if (c.write_now(bufs, ec)) {
        auto [wec, wn] = co_await c.write(bufs);
        (void)wn;
        ec = wec;
    }
    if (ec)
        phase_ = phase::failed;
    else if (last)
        phase_ = phase::done;
    co_return ec;
}

asio::awaitable<error_code> server_exchange::flush() {
    if (!head_pending_) co_return error_code{};
    co_return co_await write_head_and({}, false, false);
}

// These two are write_head_and's coroutine itself, not one around it (a frame less each).

asio::awaitable<error_code> server_exchange::write_chunk(std::string_view data) {
    return write_head_and(data, true, false);
}

asio::awaitable<error_code> server_exchange::end_chunked(std::string_view last_data) {
    return write_head_and(last_data, true, true);
}

void server_exchange::abort() noexcept {
    conn_->reset();
    phase_ = phase::failed;
}

asio::awaitable<error_code> server_exchange::sleep_until(std::chrono::steady_clock::time_point t) {
    auto& c = *conn_;
    if (c.stopping_) co_return asio::error::make_error_code(asio::error::operation_aborted);
    if (t <= std::chrono::steady_clock::now()) co_return error_code{};
    c.timer_.expires_at(t);
    auto [ec] = co_await c.timer_.async_wait(use_tuple);
    // stop() may have run between the timer firing and this coroutine resuming.
    if (!ec && c.stopping_) ec = asio::error::operation_aborted;
    co_return ec;
}

asio::awaitable<error_code> server_exchange::sleep_for(duration d) {
    co_return co_await sleep_until(std::chrono::steady_clock::now() + d);
}

asio::awaitable<error_code> server_exchange::wait_for_disconnect(duration limit) {
    // Whatever happens, this connection cannot carry another request: its read side was
    // consumed and the response (if any) is incomplete.
    phase_ = phase::failed;
    auto& c = *conn_;
    c.discard_reads_ = true;
    if (c.peer_gone_) co_return asio::error::make_error_code(asio::error::eof);
    if (c.stopping_) co_return asio::error::make_error_code(asio::error::operation_aborted);
    // The watch notices the close and cancels this handler, which ends the wait.
    c.start_watch();
    c.timer_.expires_after(limit);
    auto [ec] = co_await c.timer_.async_wait(use_tuple);
    if (c.peer_gone_) co_return c.watch_error_;
    if (c.stopping_ || ec) co_return asio::error::make_error_code(asio::error::operation_aborted);
    co_return boost::beast::error::timeout;
}

// ---------------------------------------------------------------------------------------------
// The connection coroutine, per stream type.

namespace {

template <class Stream>
class connection final : public server_connection {
public:
    static constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;

    connection(std::shared_ptr<http_server::state> srv, tcp::socket sock,
               std::shared_ptr<ssl::context> tls)
        : server_connection(std::move(srv), sock.get_executor(), is_tls),
          stream_(make_stream(std::move(sock), tls.get())), tls_ctx_(std::move(tls)) {}

    /// The connection's coroutine thread, spawned bound to `handler_cancel_`'s slot (the
    /// handlers run in it, and the watch cancels them through it).
    static asio::awaitable<void> run(std::shared_ptr<connection> self) {
        co_await asio::this_coro::throw_if_cancelled(false);
        try {
            co_await self->serve();
        } catch (...) {
            // Only out-of-memory gets here (every I/O error is a value): drop the connection.
        }
        self->close_now();
        self->server_->remove(self.get(), self->peer_);
        self->server_->open.fetch_sub(1, std::memory_order_relaxed);
    }

    std::size_t send_now(write_buffers const& bufs, error_code& ec) override {
        ec = {};
        if constexpr (is_tls) {
            return 0;
        } else {
            if (stopping_) return 0;  // the asynchronous write reports the closed socket
            return detail::send_now(lowest().socket(), bufs, ec);
        }
    }

    asio::awaitable<std::tuple<error_code, std::size_t>> write(write_buffers const& bufs) override {
        lowest().expires_after(server_->cfg.write_timeout);
        return asio::async_write(stream_, bufs, use_tuple);
    }

    void start_watch() override {
        if (watching_ || stopping_ || !lowest().socket().is_open()) return;
        watching_ = true;
        watch_stop_ = false;
        if constexpr (!is_tls) {
            // Plain TCP: wait for readability and read without blocking when it comes. No
            // coroutine and no speculative read per request (the watch runs for every request,
            // so its cost is the server's), and ending it needs no round trip (see end_watch).
            lowest().expires_never();
            arm_watch(++watch_gen_);
            return;
        }
        // No deadline on the watch itself: the handler's own waits have theirs. Nothing else is
        // pending now, so this touches both of the stream's timers; later writes (the
        // handler's) set only the write timer while the watch reads.
        lowest().expires_never();
        asio::co_spawn(ex_, watch(std::static_pointer_cast<connection>(shared_from_this())),
                       asio::detached);
    }

    void reset() noexcept override {
        error_code ec;
        auto& sock = lowest().socket();
        if (!sock.is_open()) return;
        sock.set_option(tcp::socket::linger(true, 0), ec);
        lowest().close();
    }

    void close_now() noexcept override {
        if (lowest().socket().is_open()) lowest().close();  // also cancels the stream's timers
    }

    /// The socket, taken out of a connection that was never started (plain TCP only).
    tcp::socket release_socket() { return lowest().release_socket(); }

private:
    /** Reads from the connection while a handler runs: pipelined bytes are kept in `buffer_`
        for the next request; the end of the connection (eof, reset, close by stop()) cancels
        the handler. Ends when `end_watch` cancels the read, or when too many bytes are kept.
    */
    static asio::awaitable<void> watch(std::shared_ptr<connection> self) {
        auto& c = *self;
        while (!c.watch_stop_) {
            if (!c.discard_reads_ && c.buffer_.size() >= watch_max_bytes) break;
            auto [ec, n] = co_await c.stream_.async_read_some(
                c.buffer_.prepare(4096),
                asio::bind_cancellation_slot(c.watch_cancel_.slot(), use_tuple));
            c.buffer_.commit(n);
            if (c.discard_reads_) c.buffer_.consume(c.buffer_.size());
            if (ec) {
                if (!c.watch_stop_) {
                    if (!c.stopping_) {
                        c.peer_gone_ = true;
                        c.watch_error_ = ec;
                        c.server_->disconnects.fetch_add(1, std::memory_order_relaxed);
                    }
                    c.handler_cancel_.emit(asio::cancellation_type::terminal);
                }
                break;
            }
        }
        c.watching_ = false;
        c.watch_done_.cancel();
    }

    /// Plain TCP: one wait for readability, its completion handled by `on_readable`.
    void arm_watch(std::uint64_t gen) {
        auto self = std::static_pointer_cast<connection>(shared_from_this());
        lowest().socket().async_wait(
            tcp::socket::wait_read,
            asio::bind_cancellation_slot(watch_cancel_.slot(), [self, gen](error_code ec) {
                self->on_readable(gen, ec);
            }));
    }

    /// Runs on the connection's strand (the socket's executor). A completion of an earlier
    /// watch (`gen` is not the current one) is ignored: end_watch does not wait for it.
    void on_readable(std::uint64_t gen, error_code ec) {
        if (gen != watch_gen_ || !watching_) return;
        std::size_t n = 0;
        if (!ec) {
            auto& sock = lowest().socket();
            if (!sock.non_blocking()) sock.non_blocking(true, ec);
            if (!ec) n = sock.read_some(buffer_.prepare(4096), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) {
                arm_watch(gen);  // a spurious wake-up
                return;
            }
        }
        if (ec) {
            watching_ = false;
            if (!stopping_) {
                peer_gone_ = true;
                watch_error_ = ec;
                server_->disconnects.fetch_add(1, std::memory_order_relaxed);
            }
            handler_cancel_.emit(asio::cancellation_type::terminal);
            return;
        }
        buffer_.commit(n);
        if (discard_reads_) buffer_.consume(buffer_.size());
        if (!discard_reads_ && buffer_.size() >= watch_max_bytes) {
            watching_ = false;  // stop reading until the handler is done
            return;
        }
        arm_watch(gen);
    }

    /// Plain TCP: only a wait (no read) is pending, so cancel it and move on at once; its
    /// completion is ignored (its generation is stale).
    void end_plain_watch() noexcept {
        if (!watching_) return;
        watching_ = false;
        ++watch_gen_;
        watch_cancel_.emit(asio::cancellation_type::terminal);
    }

    /// TLS: ends the watch and waits until its read has completed (a stream has one reader).
    asio::awaitable<void> end_watch() {
        if (!watching_) co_return;
        watch_stop_ = true;
        watch_cancel_.emit(asio::cancellation_type::terminal);
        while (watching_) {
            watch_done_.expires_at(std::chrono::steady_clock::time_point::max());
            auto [ec] = co_await watch_done_.async_wait(use_tuple);
            (void)ec;
        }
    }

    static Stream make_stream(tcp::socket sock, ssl::context* ctx) {
        if constexpr (is_tls)
            return Stream(std::move(sock), *ctx);
        else
            return Stream(std::move(sock));
    }

    beast::tcp_stream& lowest() noexcept { return beast::get_lowest_layer(stream_); }

    asio::awaitable<void> serve() {
        auto const& cfg = server_->cfg;
        // A new connection has header_timeout for its handshake and its first request head,
        // from now: a client that connects and sends nothing (or a byte at a time) holds a
        // descriptor no longer than that.
        lowest().expires_after(cfg.header_timeout);
        if constexpr (is_tls) {
            auto [ec] = co_await stream_.async_handshake(ssl::stream_base::server, use_tuple);
            if (ec) co_return;
        }
        bool first = true;
        for (;;) {
            if (stopping_) co_return;
            if (buffer_.size() == 0) {
                if (draining_) co_return;
                // Idle keep-alive wait, bounded by idle_timeout; the head's deadline starts
                // with the first byte of the request. The first request of a connection has
                // the deadline set at accept for both.
                if (!first) lowest().expires_after(cfg.idle_timeout);
                idle_ = true;
                auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), use_tuple);
                idle_ = false;
                if (ec) co_return;
                buffer_.commit(n);
                if (!first) lowest().expires_after(cfg.header_timeout);
            } else if (!first) {
                lowest().expires_after(cfg.header_timeout);  // a pipelined request
            }
            first = false;
            // The parser keeps its buffers' capacity from the last request (head, fields, body).
            parser_.reset();
            parser_.body_limit(cfg.max_body_bytes);
            parser_.header_limit(cfg.max_header_bytes);
            {
                // Usually the whole head is in the buffer already (it came in one read).
                auto ec = parse_buffered(true);
                if (ec == http::error::need_more) ec = co_await read_more(true);
                if (ec) {
                    co_await reject(ec);
                    co_return;
                }
            }
            // Framing that another server could read differently (request smuggling), a Host
            // that could be routed differently, then the owner's own check of the head: all
            // answered without reading the body.
            auto problem = framing_problem(parser_.get());
            if (!problem) problem = host_problem(parser_.get());
            if (problem) {
                early_answer a;
                a.body = std::string(*problem);
                co_await answer_early(std::move(a), true);
                co_return;
            }
            if (cfg.head_check) {
                if (auto a = cfg.head_check(parser_.get())) {
                    co_await answer_early(std::move(*a), false);
                    co_return;
                }
            }
            lowest().expires_after(cfg.read_timeout);
            if (!parser_.is_done()) {
                // curl and others wait (up to a second) for this before sending a large body
                // (never to an HTTP/1.0 client: framing.hpp).
                if (expects_continue(parser_.get())) {
                    static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
                    auto [ec, n] = co_await asio::async_write(
                        stream_, asio::buffer(cont.data(), cont.size()), use_tuple);
                    (void)n;
                    if (ec) co_return;
                }
                auto ec = parse_buffered(false);
                if (ec == http::error::need_more) ec = co_await read_more(false);
                if (ec) {
                    co_await reject(ec);
                    co_return;
                }
            }
            server_->requests.fetch_add(1, std::memory_order_relaxed);

            auto& req = parser_.get();
            http10_ = req.version() < 11;
            keep_alive_ = req.keep_alive();
            head_request_ = req.method() == http::verb::head;
            head_.clear();
            server_exchange ex(*this, req);
            peer_gone_ = false;
            discard_reads_ = false;
            start_watch();
            // The handler runs in this coroutine thread, which was spawned bound to
            // handler_cancel_ (start_connection): the watch cancels whatever it awaits. It
            // starts as in a thread of its own, with throw_if_cancelled on.
            co_await asio::this_coro::throw_if_cancelled(true);
            try {
                co_await server_->handler(ex);
            } catch (...) {
                // A throwing handler is a bug (or it kept throw_if_cancelled on and was
                // cancelled); the phase check below still answers the client.
            }
            // What the handler changed of the thread's state is undone before anything else is
            // awaited: the server's own waits never throw, and a cancellation was the
            // handler's.
            co_await asio::this_coro::throw_if_cancelled(false);
            co_await asio::this_coro::reset_cancellation_state();
            if constexpr (is_tls)
                co_await end_watch();
            else
                end_plain_watch();
            if (peer_gone_) co_return;  // nobody to answer, and no further requests
            switch (ex.state()) {
            case server_exchange::phase::head: {
                if (stopping_) co_return;
                // The handler sent nothing: answer rather than leave the client waiting.
                head_.clear();
                ex.set_status(500);
                std::string type, body;
                render_error(req, 500, "internal server error: the handler sent no response",
                             type, body);
                ex.add_header("Content-Type", type);
                ex.close_after_response();
                co_await ex.send(body);
                co_await graceful_close();
                co_return;
            }
            case server_exchange::phase::streaming:
                // An unfinished chunked body cannot be completed any more: make it visible.
                reset();
                co_return;
            case server_exchange::phase::failed:
                co_return;
            case server_exchange::phase::done:
                break;
            }
            if (ex.closing() || stopping_) {
                co_await graceful_close();
                co_return;
            }
            // Keep buffers for the next request, but not the memory of one huge request
            // for the life of the connection.
            parser_.shrink(retained_head_bytes, retained_bytes);
            if (buffer_.size() == 0 && buffer_.capacity() > retained_bytes) buffer_.shrink_to_fit();
        }
    }

    /** Parses what the buffer holds, up to the end of the head (`head`) or of the whole
        request: `need_more` when the parser needs more bytes than the buffer has. This and
        `read_more` are what Beast's `http::async_read_header` and `http::async_read` do
        (http/direct_io.hpp), but a request that came in one read, the common case, costs no
        composed operation and no trip through the scheduler per step (issue 15).
    */
    error_code parse_buffered(bool head) { return parse_buffer(buffer_, parser_, head); }

    /// Reads and parses until `parse_buffered(head)` is satisfied or fails.
    asio::awaitable<error_code> read_more(bool head) {
        for (;;) {
            auto const size = beast::read_size(buffer_, max_read_size);
            if (size == 0) co_return http::error::buffer_overflow;
            auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(size), use_tuple);
            if (ec) {
                auto const end = end_of_input(parser_, ec);
                bool const done = head ? parser_.is_header_done() : parser_.is_done();
                co_return end || done ? end : error_code(http::error::partial_message);
            }
            buffer_.commit(n);
            auto const pec = parse_buffer(buffer_, parser_, head);
            if (pec != http::error::need_more) co_return pec;
        }
    }

    /// Answers a request that could not be read (400, 413, 431) and closes; other read errors
    /// (end of stream, timeout, reset, stop) just close.
    asio::awaitable<void> reject(error_code ec) {
        if (ec.category() != http::make_error_code(http::error::end_of_stream).category() ||
            ec == http::error::end_of_stream || ec == http::error::partial_message || stopping_)
            co_return;
        // What the answer says of each error the request parser gives (codec/http1.hpp).
        struct refusal {
            http::error e;
            unsigned status;
            std::string_view message;
        };
        static constexpr refusal refusals[] = {
            {http::error::body_limit, 413, "request body too large"},
            {http::error::header_limit, 431, "request header fields too large"},
            {http::error::bad_transfer_encoding, 400,
             "bad request: invalid Transfer-Encoding (or both Transfer-Encoding and "
             "Content-Length)"},
            {http::error::bad_content_length, 400,
             "bad request: invalid Content-Length (or both Transfer-Encoding and "
             "Content-Length)"},
            {http::error::multiple_content_length, 400,
             "bad request: two Content-Length values that differ"},
            {http::error::bad_method, 400,
             "bad request: the request line does not start with a method (a token)"},
            {http::error::bad_target, 400,
             "bad request: the request target is empty or holds a space or a control "
             "character"},
            {http::error::bad_version, 400, "bad request: the version is not HTTP/1.0 or HTTP/1.1"},
            {http::error::bad_field, 400,
             "bad request: a header line is not 'name: value' (a token, then the colon at once; "
             "folded lines are not accepted)"},
            {http::error::bad_value, 400,
             "bad request: a header value holds a control character (or Connection is not a "
             "list of tokens)"},
            {http::error::bad_line_ending, 400,
             "bad request: a line of the head (or of the trailers) does not end with CRLF"},
            {http::error::bad_chunk, 400, "bad request: a malformed chunk in the chunked body"},
            {http::error::bad_chunk_extension, 400,
             "bad request: a malformed chunk in the chunked body"},
        };
        unsigned status = 400;
        std::string_view message = "bad request: malformed HTTP";
        for (auto const& r : refusals)
            if (ec == r.e) {
                status = r.status;
                message = r.message;
                break;
            }
        http10_ = false;
        keep_alive_ = false;
        head_request_ = false;
        head_.clear();
        std::string type, body;
        render_error(parser_.get(), status, message, type, body);
        server_exchange ex(*this, parser_.get());
        ex.set_status(status);
        ex.add_header("Content-Type", type);
        ex.close_after_response();
        if (co_await ex.send(body)) co_return;
        co_await graceful_close();
    }

    /** Sends an answer decided from the request's head alone and closes the connection: its
        body (if any) is never read. `render`: the body is a message for the server's error
        renderer (the framing errors); otherwise the answer is sent as given.
    */
    asio::awaitable<void> answer_early(early_answer a, bool render) {
        auto& req = parser_.get();
        http10_ = req.version() < 11;
        keep_alive_ = false;
        head_request_ = req.method() == http::verb::head;
        head_.clear();
        if (render) {
            std::string const message = std::move(a.body);
            render_error(req, a.status, message, a.content_type, a.body);
        }
        server_exchange ex(*this, req);
        ex.set_status(a.status);
        ex.add_header("Content-Type", a.content_type);
        for (auto const& [k, v] : a.headers) ex.add_header(k, v);
        ex.close_after_response();
        lowest().expires_after(server_->cfg.write_timeout);
        if (co_await ex.send(a.body)) co_return;
        co_await graceful_close();
    }

    void render_error(server_request const& req, unsigned status, std::string_view message,
                      std::string& type, std::string& body) const {
        if (server_->cfg.error_renderer) {
            server_->cfg.error_renderer(req, status, message, type, body);
            return;
        }
        type = "text/plain; charset=utf-8";
        body.assign(message).append("\n"sv);
    }

    asio::awaitable<void> graceful_close() {
        if (!lowest().socket().is_open()) co_return;
        lowest().expires_after(std::min<duration>(linger_time, server_->cfg.read_timeout));
        if constexpr (is_tls) {
            // Sends close_notify; a client that just closes the socket ends it as well.
            auto [ec] = co_await stream_.async_shutdown(use_tuple);
            (void)ec;
        } else {
            error_code ec;
            lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
            // Drain what the client still sends (the rest of a refused body, a pipelined
            // request): closing with unread data would send a reset that can destroy the
            // response we just wrote before the client reads it.
            for (std::size_t drained = 0; !ec && drained < linger_max_bytes;) {
                auto [rec, n] =
                    co_await lowest().async_read_some(buffer_.prepare(16384), use_tuple);
                ec = rec;
                drained += n;
            }
        }
        close_now();
    }

    Stream stream_;
    std::shared_ptr<ssl::context> tls_ctx_;
    beast::flat_buffer buffer_;
    http1::request_parser parser_;
};

using plain_connection = connection<beast::tcp_stream>;
using tls_connection = connection<beast::ssl_stream<beast::tcp_stream>>;

/// Refused connections answered at once; beyond this many, a refused connection is just
/// closed (its answer would cost a descriptor for up to a second).
constexpr std::uint64_t max_refusing = 64;

/** Answers a connection over a cap with 503 and closes it. What the client sent is read and
    dropped for a moment after the answer, so that closing does not reset the connection
    before the client has read the 503.
*/
asio::awaitable<void> refuse(std::shared_ptr<http_server::state> srv, tcp::socket sock) {
    static constexpr std::string_view answer =
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 44\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n\r\n"
        "too many connections: try again in a moment\n";
    static_assert(answer.size() - answer.find("\r\n\r\n") - 4 == 44);
    beast::tcp_stream s(std::move(sock));
    s.expires_after(std::chrono::seconds(1));
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(answer.data(), answer.size()),
                                                use_tuple);
    (void)wn;
    if (!wec) {
        error_code ec;
        s.socket().shutdown(tcp::socket::shutdown_send, ec);
        std::array<char, 4096> sink;
        for (std::size_t drained = 0; !ec && drained < (64u << 10);) {
            auto [rec, n] = co_await s.async_read_some(asio::buffer(sink), use_tuple);
            ec = rec;
            drained += n;
        }
    }
    s.close();
    srv->refusing.fetch_sub(1, std::memory_order_relaxed);
}

template <class Connection>
void start_connection(std::shared_ptr<http_server::state> const& srv, tcp::socket sock,
                      std::shared_ptr<ssl::context> tls) {
    error_code ec;
    auto const peer = sock.remote_endpoint(ec).address();
    if (ec) return;  // the client is already gone
    auto c = std::make_shared<Connection>(srv, std::move(sock), std::move(tls));
    c->peer_ = peer;
    switch (srv->add(c, peer)) {
    case http_server::state::admission::ok: break;
    case http_server::state::admission::stopping: c->close_now(); return;
    case http_server::state::admission::over_cap:
        srv->refused.fetch_add(1, std::memory_order_relaxed);
        // Plain HTTP gets a 503 it can read; a TLS client would need a handshake first, and
        // a refused TLS connection is simply closed.
        if constexpr (!Connection::is_tls) {
            if (srv->refusing.fetch_add(1, std::memory_order_relaxed) < max_refusing) {
                auto ex = c->ex_;
                asio::co_spawn(ex, refuse(srv, c->release_socket()), asio::detached);
                return;
            }
            srv->refusing.fetch_sub(1, std::memory_order_relaxed);
        }
        c->close_now();
        return;
    }
    srv->accepted.fetch_add(1, std::memory_order_relaxed);
    srv->open.fetch_add(1, std::memory_order_relaxed);
    auto ex = c->ex_;
    // The slot belongs to the connection, which the completion handler keeps: Asio's entry
    // point still uses the thread's cancellation state after run's frame (and with it run's
    // reference) is gone.
    auto slot = c->handler_cancel_.slot();
    auto keep = c;
    asio::co_spawn(ex, Connection::run(std::move(c)),
                   asio::bind_cancellation_slot(slot, [keep](std::exception_ptr) {}));
}

asio::awaitable<void> accept_loop(std::shared_ptr<http_server::state> srv,
                                  std::shared_ptr<listener> l) {
    for (;;) {
        // Each connection gets its own strand, so the io_context may run on many threads.
        tcp::socket sock(detail::make_small_strand(srv->ex));
        auto [ec] = co_await l->acceptor.async_accept(sock, use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !l->acceptor.is_open() ||
                srv->stopped.load())
                co_return;
            // Out of descriptors, or a connection aborted before accept: back off briefly
            // instead of spinning on the error.
            l->backoff.expires_after(std::chrono::milliseconds(50));
            auto [wec] = co_await l->backoff.async_wait(use_tuple);
            if (wec || srv->stopped.load()) co_return;
            continue;
        }
        error_code ignored;
        sock.set_option(tcp::no_delay(true), ignored);  // small SSE writes must not wait
        if (l->tls)
            start_connection<tls_connection>(srv, std::move(sock), l->tls);
        else
            start_connection<plain_connection>(srv, std::move(sock), nullptr);
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// http_server

namespace {

/// `SO_REUSEPORT` as an Asio socket option (Asio has none).
struct reuse_port_option {
    int value = 1;
    template <class Protocol>
    int level(Protocol const&) const noexcept { return SOL_SOCKET; }
    template <class Protocol>
    int name(Protocol const&) const noexcept { return SO_REUSEPORT; }
    template <class Protocol>
    int const* data(Protocol const&) const noexcept { return &value; }
    template <class Protocol>
    std::size_t size(Protocol const&) const noexcept { return sizeof value; }
};

}  // namespace

http_server::http_server(asio::any_io_executor ex, server_config cfg, server_handler handler)
    : state_(std::make_shared<state>(std::move(ex), cfg, std::move(handler))) {}

http_server::~http_server() {
    stop();
}

result<tcp::endpoint> http_server::listen(std::string const& host, std::uint16_t port,
                                          std::shared_ptr<ssl::context> tls) {
    auto fail = [&](error_code ec, std::string what) {
        diagnostics d;
        d.message = what + " " + host + ":" + std::to_string(port) + ": " + ec.message();
        return failure(ec, std::move(d));
    };
    if (state_->stopped.load())
        return fail(asio::error::make_error_code(asio::error::operation_aborted),
                    "cannot listen on");
    error_code ec;
    tcp::endpoint ep;
    auto const addr = asio::ip::make_address(host, ec);
    if (!ec) {
        ep = tcp::endpoint(addr, port);
    } else {
        // A name such as "localhost": resolved once, at start, so blocking is acceptable.
        asio::io_context resolve_ctx;
        tcp::resolver resolver(resolve_ctx);
        auto const results = resolver.resolve(host, std::to_string(port), ec);
        if (ec || results.empty()) return fail(ec, "cannot resolve");
        ep = results.begin()->endpoint();
    }
    auto l = std::make_shared<listener>(state_->ex, std::move(tls));
    l->acceptor.open(ep.protocol(), ec);
    if (ec) return fail(ec, "cannot open a socket for");
    l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (state_->cfg.reuse_port) {
        l->acceptor.set_option(reuse_port_option{}, ec);
        if (ec) return fail(ec, "cannot set SO_REUSEPORT for");
    }
    l->acceptor.bind(ep, ec);
    if (ec == asio::error::address_in_use && state_->cfg.reuse_port) {
        auto f = fail(ec, "cannot bind");
        f.diag.message += " (a listener there without SO_REUSEPORT, or another user's)";
        return f;
    }
    if (ec) return fail(ec, "cannot bind");
    l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail(ec, "cannot listen on");
    auto const bound = l->acceptor.local_endpoint(ec);
    if (ec) return fail(ec, "cannot listen on");
    {
        std::lock_guard lock(state_->mutex);
        state_->listeners.push_back(l);
        // (stop and drain set their flag before they take the anchor under this mutex.)
        if (!state_->anchor && !state_->stopped.load() && !state_->draining.load()) {
            state_->anchor = std::make_shared<reactor_anchor>(state_->ex);
            state_->anchor->start();
        }
    }
    asio::co_spawn(l->strand, accept_loop(state_, l), [](std::exception_ptr) {});
    return bound;
}

namespace {

/// Closes the listeners and runs `what` on every open connection, each on its own strand.
void close_listeners_then(std::shared_ptr<http_server::state> const& s,
                          void (server_connection::*what)() noexcept) {
    std::vector<std::shared_ptr<listener>> ls;
    std::vector<std::shared_ptr<server_connection>> cs;
    std::shared_ptr<reactor_anchor> anchor;
    {
        std::lock_guard lock(s->mutex);
        ls.swap(s->listeners);
        anchor.swap(s->anchor);
        cs.reserve(s->connections.size());
        for (auto const& [raw, weak] : s->connections)
            if (auto c = weak.lock()) cs.push_back(std::move(c));
    }
    if (anchor) anchor->stop();
    for (auto& l : ls)
        asio::post(l->strand, [l] {
            error_code ec;
            l->acceptor.close(ec);
            l->backoff.cancel();
        });
    for (auto& c : cs) {
        auto ex = c->ex_;
        asio::post(ex, [c = std::move(c), what] { ((*c).*what)(); });
    }
}

}  // namespace

void http_server::stop() {
    state_->stopped.store(true);
    close_listeners_then(state_, &server_connection::stop_now);
}

void http_server::drain() {
    state_->draining.store(true);
    close_listeners_then(state_, &server_connection::drain_now);
}

server_stats http_server::stats() const noexcept {
    return {state_->accepted.load(std::memory_order_relaxed),
            state_->open.load(std::memory_order_relaxed),
            state_->requests.load(std::memory_order_relaxed),
            state_->disconnects.load(std::memory_order_relaxed),
            state_->refused.load(std::memory_order_relaxed)};
}

server_config const& http_server::config() const noexcept {
    return state_->cfg;
}

}  // namespace llmux::detail
