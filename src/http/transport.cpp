// SPDX-License-Identifier: BSL-1.0
#include "http/transport.hpp"
#include "codec/http1.hpp"
#include "http/direct_io.hpp"

#include "util/header.hpp"
#include "util/spawn.hpp"
#include "util/strand.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace llmux::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using boost::system::error_code;
using asio::awaitable;
using asio::use_awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr std::size_t header_limit = 64 * 1024;

std::string ms_text(clock::duration d) {
    auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

bool is_ip_literal(std::string_view host) {
    error_code ec;
    asio::ip::make_address(std::string(host), ec);
    return !ec;
}

/// The deadline of one step: its own limit or the call's total deadline, whichever is first.
struct step_deadline {
    clock::time_point at;
    clock::duration limit;
    bool total_bound;
    char const* name;
};

step_deadline make_step(clock::duration limit, clock::time_point total, char const* name) {
    auto const own = clock::now() + limit;
    if (total <= own) return {total, limit, true, name};
    return {own, limit, false, name};
}

}  // namespace

std::string host_header(origin const& o) {
    bool const default_port = (o.tls && o.port == 443) || (!o.tls && o.port == 80);
    std::string h = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
    if (!default_port) h += ":" + std::to_string(o.port);
    return h;
}

result<origin> parse_base_url(std::string_view base_url, std::string& path) {
    // `{model}` is not valid in a URI; swap it out while parsing.
    std::string url(base_url);
    constexpr std::string_view placeholder = "{model}";
    constexpr std::string_view marker = "LLMUXMODELMARKER";
    if (auto pos = url.find(placeholder); pos != std::string::npos)
        url.replace(pos, placeholder.size(), marker);
    auto u = boost::urls::parse_uri(url);
    if (!u)
        return failure(error::invalid_config,
                       "base URL '" + std::string(base_url) + "' is not a valid URL");
    origin o;
    if (u->scheme() == "https")
        o.tls = true;
    else if (u->scheme() != "http")
        return failure(error::invalid_config, "base URL '" + std::string(base_url) +
                                                  "' must start with http:// or https://");
    o.host = std::string(u->encoded_host_address());
    if (!o.host.empty() && o.host.front() == '[' && o.host.back() == ']')
        o.host = o.host.substr(1, o.host.size() - 2);  // IPv6 literal
    if (o.host.empty())
        return failure(error::invalid_config, "base URL '" + std::string(base_url) + "' has no host");
    if (u->has_port()) {
        auto const n = u->port_number();
        if (n == 0)
            return failure(error::invalid_config,
                           "base URL '" + std::string(base_url) + "' has an invalid port");
        o.port = n;
    } else {
        o.port = o.tls ? 443 : 80;
    }
    o.key = std::string(o.tls ? "https://" : "http://") + o.host + ":" + std::to_string(o.port);
    path = std::string(u->encoded_path());
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (auto pos = path.find(marker); pos != std::string::npos)
        path.replace(pos, marker.size(), placeholder);
    if (!u->encoded_query().empty())
        return failure(error::invalid_config,
                       "base URL '" + std::string(base_url) +
                           "' has a query; put query parameters in the provider's `query` setting");
    return o;
}

// ---------------------------------------------------------------------------------------------
// Connection

using waiter_channel =
    asio::experimental::concurrent_channel<void(error_code, std::shared_ptr<connection>)>;

struct transport::pool {
    origin org;
    std::string host;  // its Host header
    std::mutex mu;
    std::vector<std::shared_ptr<connection>> idle;  // most recently used last
    std::size_t total = 0;                          // open or being opened, idle or busy
    std::deque<std::shared_ptr<waiter_channel>> waiters;
    SSL_SESSION* session = nullptr;  // for TLS session resumption

    ~pool() {
        if (session) SSL_SESSION_free(session);
    }
};

struct transport::lease {
    std::shared_ptr<connection> conn;
    bool reused = false;
};

/// What connections count. Shared with them: a connection may close (from a handler posted
/// to its strand) after the transport that made it is gone.
struct connection_counters {
    std::atomic<std::uint64_t> open_now{0};
    std::atomic<std::uint64_t> tls_resumed{0};
};

struct transport::impl {
    asio::any_io_executor ex;
    std::optional<ssl::context> tls;
    failure tls_error;  // set when the TLS settings could not be applied (bad CA file)
    bool system_store = false;  // `tls` trusts the system's CA store, read when first needed
    std::once_flag store_read;

    /** Null when TLS connections can be made, else why not. The system's CA store is read the
        first time a TLS connection needs it, not when the transport is made: it is about 140
        certificates, 20 ms of a `llmux chat` run against the built-in emulator (31.4 ms with
        it, 10.8 without) and a third of a short client run's instructions under callgrind,
        which a client of plain-HTTP endpoints (a local model server, the emulator, a gateway
        behind a TLS-terminating proxy) never needs. OpenSSL's SSL_CERT_FILE and SSL_CERT_DIR
        are read then too.
    */
    failure const* tls_ready() {
        std::call_once(store_read, [this] {
            // A store that cannot be read stays empty: every peer is then refused.
            error_code ec;
            if (system_store) tls->set_default_verify_paths(ec);
        });
        return tls_error.code ? &tls_error : nullptr;
    }
    std::mutex mu;
    std::unordered_map<std::string, std::shared_ptr<pool>> pools;
    std::atomic<std::uint64_t> opened{0}, reused{0}, requests{0}, stale_retries{0};
    std::shared_ptr<connection_counters> counters = std::make_shared<connection_counters>();
};

/** What one read of a response may take: a burst of SSE events, most answers. A read takes at
    most the buffer's free capacity (512 bytes at least) and never more than `max_read_size`
    (http/direct_io.hpp), so the buffer is reserved at this size, and grown for a body whose
    length is known up to `max_read_buffer` (more would not save a read); a connection returned
    to its pool with a larger one (a long header block) keeps `read_buffer_size`.
*/
constexpr std::size_t read_buffer_size = 8 * 1024;
constexpr std::size_t max_read_buffer = max_read_size;

class connection : public std::enable_shared_from_this<connection> {
public:
    connection(asio::any_io_executor const& ex, std::shared_ptr<transport::pool> p,
               std::shared_ptr<connection_counters> counters)
        : strand(detail::make_small_strand(ex)), pool(std::move(p)),
          counters_(std::move(counters)) {
        // A buffer left at its first size read a 4 kB stream in seven reads, where one does.
        buffer.reserve(read_buffer_size);
    }

    ~connection() { close_now(); }

    /// A strand (util/strand.hpp), kept type-erased.
    asio::any_io_executor strand;
    std::shared_ptr<transport::pool> pool;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    std::string head;  // the request head being written (its capacity is kept)
    bool is_open = false;
    clock::time_point idle_since{};
    std::uint64_t uses = 0;

    beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

    void mark_open() {
        is_open = true;
        counters_->open_now.fetch_add(1, std::memory_order_relaxed);
    }

    void close_now() {
        if (plain || secure) {
            error_code ec;
            tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
            tcp().socket().close(ec);
        }
        if (is_open) {
            is_open = false;
            counters_->open_now.fetch_sub(1, std::memory_order_relaxed);
        }
    }

    /// True when a pooled connection can no longer be used: the server closed it (EOF), sent
    /// something unasked (a TLS close_notify, garbage), or bytes are left in our buffer. This is
    /// how a request avoids being sent on a socket the server already dropped.
    bool unusable() {
        if (!is_open || buffer.size() != 0) return true;
        int const fd = tcp().socket().native_handle();
        char b;
        ssize_t const n = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
        return true;
    }

    /// Runs `f(stream)` with the plain or TLS stream.
    template <class F>
    auto with_stream(F&& f) {
        if (secure) return f(*secure);
        return f(*plain);
    }

    void resumed() noexcept { counters_->tls_resumed.fetch_add(1, std::memory_order_relaxed); }

private:
    std::shared_ptr<connection_counters> counters_;
};

namespace {

failure step_failure(error_code ec, step_deadline const& step, std::string_view doing,
                     origin const& o) {
    if (ec == beast::error::timeout) {
        std::string msg = "timed out " + std::string(doing) + " " + o.key + " (";
        msg += step.total_bound ? "total deadline" : std::string(step.name) + " deadline " +
                                                         ms_text(step.limit);
        msg += ")";
        return failure(error::timeout, std::move(msg));
    }
    if (ec == asio::error::operation_aborted) {
        return failure(ec, "cancelled while " + std::string(doing) + " " + o.key);
    }
    if (ec == http::error::body_limit)
        return failure(error::response_too_large, "the response from " + o.key +
                                                      " exceeds the configured size cap");
    if (ec == http::error::header_limit)
        return failure(error::protocol_error,
                       "the response headers from " + o.key + " exceed 64 KiB");
    return failure(ec, std::string(doing) + " " + o.key + " failed: " + ec.message());
}

/// Resolves, connects and (for TLS) handshakes. Runs on the connection's strand.
awaitable<result<void>> connect(connection& c, origin const& o, ssl::context* tls,
                                clock::time_point deadline, timeouts const& to) {
    asio::any_io_executor ex = c.strand;
    auto const connect_step = make_step(to.connect, deadline, "connect");

    asio::ip::tcp::resolver::results_type endpoints;
    error_code ec;
    if (is_ip_literal(o.host)) {
        endpoints = asio::ip::tcp::resolver::results_type::create(
            asio::ip::tcp::endpoint(asio::ip::make_address(o.host), o.port), o.host,
            std::to_string(o.port));
    } else {
        using namespace asio::experimental::awaitable_operators;
        asio::ip::tcp::resolver resolver(ex);
        asio::steady_timer timer(ex, connect_step.at);
        auto r = co_await (resolver.async_resolve(o.host, std::to_string(o.port), use_tuple) ||
                           timer.async_wait(use_tuple));
        if (r.index() == 1) {
            auto [tec] = std::get<1>(r);
            if (tec == asio::error::operation_aborted) co_return failure(tec, "cancelled while resolving " + o.host);
            co_return step_failure(beast::error::timeout, connect_step, "resolving", o);
        }
        std::tie(ec, endpoints) = std::get<0>(r);
        if (ec) co_return failure(ec, "resolving " + o.host + " failed: " + ec.message());
    }

    if (o.tls) {
        c.secure.emplace(ex, *tls);
    } else {
        c.plain.emplace(ex);
    }
    auto& tcp = c.tcp();
    tcp.expires_at(connect_step.at);
    {
        auto [cec, ep] = co_await tcp.async_connect(endpoints, use_tuple);
        if (cec) co_return step_failure(cec, connect_step, "connecting to", o);
    }
    c.mark_open();
    tcp.socket().set_option(asio::ip::tcp::no_delay(true), ec);

    if (o.tls) {
        SSL* ssl = c.secure->native_handle();
        if (!is_ip_literal(o.host)) {
            // SNI is only for names (RFC 6066), and the certificate must match the name.
            SSL_set_tlsext_host_name(ssl, o.host.c_str());
            SSL_set1_host(ssl, o.host.c_str());
        } else {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), o.host.c_str());
        }
        {
            std::lock_guard lk(c.pool->mu);
            if (c.pool->session) SSL_set_session(ssl, c.pool->session);
        }
        auto const tls_step = make_step(to.tls_handshake, deadline, "TLS handshake");
        tcp.expires_at(tls_step.at);
        auto [hec] = co_await c.secure->async_handshake(ssl::stream_base::client, use_tuple);
        if (hec) {
            if (hec == beast::error::timeout || hec == asio::error::operation_aborted)
                co_return step_failure(hec, tls_step, "in the TLS handshake with", o);
            std::string why = hec.message();
            long const vr = SSL_get_verify_result(ssl);
            if (vr != X509_V_OK) why = X509_verify_cert_error_string(vr);
            co_return failure(hec, "TLS handshake with " + o.key + " failed: " + why);
        }
        if (SSL_session_reused(ssl)) c.resumed();
    }
    co_return result<void>{};
}

bool cancelled(asio::cancellation_state const& cs) {
    return cs.cancelled() != asio::cancellation_type::none;
}

/// What one exchange on one connection produced.
struct exchange_outcome {
    std::optional<failure> fail;
    bool reusable = false;
    /// The request never left (the write failed on a reused connection): safe to send again.
    bool retry_fresh = false;
};

/** The response parser of codec/http1.hpp, with the head copied out as the response_head the
    adapters read, once it is parsed. Beast's parser, used before, kept the fields in nodes of
    their own and scanned them a byte at a time (issue 15). Framing (Content-Length, chunked, to
    the end of the connection), keep-alive and the limits are the codec's.
*/
class response_parser {
public:
    response_parser() { head_.headers.reserve(16); }

    response_head& head() noexcept { return head_; }
    response_head const& head() const noexcept { return head_; }
    std::string& body() noexcept { return p_.get().body(); }

    void header_limit(std::size_t n) noexcept { p_.header_limit(n); }
    void body_limit(std::uint64_t n) noexcept { p_.body_limit(n); }

    std::size_t put(asio::const_buffer b, error_code& ec) {
        bool const had_head = p_.is_header_done();
        auto const n = p_.put(b, ec);
        if (!had_head && p_.is_header_done()) {
            auto const& m = p_.get();
            if (m.status() / 100 == 1 && m.status() != 101) {
                // An interim response (103 Early Hints, an unasked 100 Continue): the answer
                // follows it on the connection, so the parser starts again (its limits kept).
                p_.reset();
                interim_ = true;
                return n;
            }
            head_.status = m.status();
            for (auto const& f : m.fields()) head_.headers.emplace_back(f.name, f.value);
        }
        return n;
    }
    void put_eof(error_code& ec) noexcept { p_.put_eof(ec); }
    /// (An interim response counts: a connection that ends after one cut the answer short.)
    bool got_some() const noexcept { return interim_ || p_.got_some(); }
    bool is_header_done() const noexcept { return p_.is_header_done(); }
    bool is_done() const noexcept { return p_.is_done(); }
    bool need_eof() const noexcept { return p_.need_eof(); }
    bool keep_alive() const noexcept { return p_.keep_alive(); }
    std::optional<std::uint64_t> content_length() const noexcept { return p_.content_length(); }
    /// The whole response was read and the connection may carry the next request (never after
    /// 101 Switching Protocols: the codec's keep_alive says so).
    bool reusable() const noexcept { return p_.keep_alive() && p_.is_done() && !p_.need_eof(); }

private:
    http1::response_parser p_;
    response_head head_;
    bool interim_ = false;
};

/// Connects if needed, writes the request and reads the response head into `p`.
/// Runs on the connection's strand.
awaitable<exchange_outcome> send_and_read_head(std::shared_ptr<connection> c,
                                               std::shared_ptr<http_request const> req,
                                               response_parser& p, clock::time_point deadline,
                                               transport_config const& cfg, ssl::context* tls,
                                               bool reused, clock::time_point& first_byte) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto cs = co_await asio::this_coro::cancellation_state;
    origin const& o = c->pool->org;
    exchange_outcome out;

    if (!c->is_open) {
        auto r = co_await connect(*c, o, tls, deadline, cfg.timeouts);
        if (!r) {
            c->close_now();
            out.fail = r.error();
            co_return out;
        }
    }
    if (cancelled(cs)) {
        c->close_now();
        out.fail = failure(asio::error::operation_aborted, "cancelled before sending to " + o.key);
        co_return out;
    }

    // The head is formatted into the connection's buffer (http/message.hpp) and the body is
    // referenced, not copied: one gathered write, no header container, no serializer.
    format_request_head(*req, c->pool->host, c->head);
    std::array<asio::const_buffer, 2> const bufs{asio::buffer(c->head), asio::buffer(req->body)};

    auto const write_step = make_step(cfg.timeouts.idle, deadline, "write");
    // On plain TCP, what the socket takes now (usually the whole request: http/direct_io.hpp);
    // the rest, and anything on TLS, under the write deadline.
    error_code wec;
    std::size_t const sent = c->plain ? send_now(c->plain->socket(), bufs, wec) : 0;
    if (!wec && sent != asio::buffer_size(bufs)) {
        auto const rest = drop_front(bufs, sent);
        c->tcp().expires_at(write_step.at);
        auto [rec, wn] = co_await c->with_stream(
            [&](auto& s) { return asio::async_write(s, rest, use_tuple); });
        (void)wn;
        wec = rec;
    }
    if (wec) {
        c->close_now();
        // A reused connection that fails while we write was dropped by the server; it did not
        // take the request, so it may be sent again on a fresh connection.
        out.retry_fresh = reused && wec != beast::error::timeout &&
                          wec != asio::error::operation_aborted;
        out.fail = step_failure(wec, write_step, "sending the request to", o);
        co_return out;
    }
    ++c->uses;

    p.header_limit(header_limit);  // the parser stops at the head: a stream's body is read by
                                   // body_stream::read_some
    auto const head_step = make_step(cfg.timeouts.first_byte, deadline, "first-byte");
    c->tcp().expires_at(head_step.at);
    // Bytes already buffered first, as Beast does (a connection handed from one request to
    // the next keeps what followed the last response; the parser says what they are).
    // Then Beast's async_read_header written out (http/direct_io.hpp).
    error_code hec = parse_buffer(c->buffer, p, true);
    while (hec == http::error::need_more) {
        auto const size = beast::read_size(c->buffer, max_read_size);
        if (size == 0) {
            hec = http::error::buffer_overflow;
            break;
        }
        auto [rec, n] = co_await c->with_stream(
            [&](auto& s) { return s.async_read_some(c->buffer.prepare(size), use_tuple); });
        c->buffer.commit(n);
        if (rec) {
            hec = end_of_input(p, rec);
            if (!hec) hec = http::error::partial_message;  // a head never ends with the input
        } else {
            hec = parse_buffer(c->buffer, p, true);
        }
    }
    if (hec) {
        c->close_now();
        out.fail = step_failure(hec, head_step, "waiting for the response from", o);
        co_return out;
    }
    first_byte = clock::now();
    co_return out;
}

/// Reads until the parser has body bytes (`until_done`: until it is done). Runs on the
/// connection's strand.
awaitable<std::optional<failure>> read_body_some(connection& c, response_parser& p,
                                                 clock::time_point deadline,
                                                 transport_config const& cfg, bool until_done) {
    co_await asio::this_coro::throw_if_cancelled(false);
    origin const& o = c.pool->org;
    // The idle deadline runs from the parser's last progress, as with Beast's async_read_some
    // (one deadline per call, however many reads the parser needs to move on): an upstream
    // that drips a chunk header a byte at a time is bounded by it, not by the total.
    std::optional<step_deadline> step;
    while (!p.is_done() && (until_done || p.body().empty())) {
        // What the buffer holds first, without reading: usually the whole body came with the
        // head, or several events in one read.
        if (c.buffer.size() != 0) {
            error_code ec;
            auto const n = p.put(c.buffer.data(), ec);
            c.buffer.consume(n);
            if (!ec && n != 0) {
                step.reset();
                continue;
            }
            if (ec && ec != http::error::need_more) {
                c.close_now();
                co_return step_failure(ec, step ? *step : make_step(cfg.timeouts.idle, deadline, "idle"),
                                       "reading the response from", o);
            }
        }
        if (!step) {
            step = make_step(cfg.timeouts.idle, deadline, "idle");
            c.tcp().expires_at(step->at);
        }
        auto const size = beast::read_size(c.buffer, max_read_size);
        error_code ec = size == 0 ? error_code(http::error::buffer_overflow) : error_code();
        if (!ec) {
            auto [rec, n] = co_await c.with_stream(
                [&](auto& s) { return s.async_read_some(c.buffer.prepare(size), use_tuple); });
            c.buffer.commit(n);
            if (rec) {
                ec = end_of_input(p, rec);
                if (!ec) break;  // the body ended with the connection
            }
        }
        if (ec) {
            c.close_now();
            co_return step_failure(ec, *step, "reading the response from", o);
        }
    }
    co_return std::nullopt;
}

/** Parses what the connection's buffer already holds, without reading (the parser stops at
    each chunk header and body, so one read can leave several chunks and the body's end
    unparsed): a stream whose last events and end came in one read knows it has ended with
    those events. A failure (a malformed chunk, the body limit) closes the connection; the
    caller hands over the body parsed before it first.
*/
std::optional<failure> parse_buffered(connection& c, response_parser& p,
                                      clock::time_point deadline, transport_config const& cfg) {
    auto const ec = parse_buffer(c.buffer, p, false);
    if (!ec || ec == http::error::need_more) return std::nullopt;
    c.close_now();
    return step_failure(ec, make_step(cfg.timeouts.idle, deadline, "idle"),
                        "reading the response from", c.pool->org);
}

/// The whole exchange of `transport::request`, on the connection's strand.
awaitable<exchange_outcome> full_exchange(std::shared_ptr<connection> c,
                                          std::shared_ptr<http_request const> req,
                                          std::shared_ptr<response_parser> p,
                                          clock::time_point deadline,
                                          std::shared_ptr<transport> tr, ssl::context* tls,
                                          bool reused,
                                          std::shared_ptr<clock::time_point> first_byte) {
    auto o = co_await send_and_read_head(c, req, *p, deadline, tr->config(), tls, reused,
                                         *first_byte);
    if (o.fail) co_return o;
    // A body of known length is read in as few reads as Beast allows (an embedding answer is
    // hundreds of kilobytes).
    if (auto const n = p->content_length(); n && *n > c->buffer.capacity() - c->buffer.size())
        c->buffer.reserve(static_cast<std::size_t>(
            std::min<std::uint64_t>(*n + c->buffer.size(), max_read_buffer)));
    if (auto f = parse_buffered(*c, *p, deadline, tr->config())) {
        o.fail = std::move(f);
        co_return o;
    }
    if (!p->is_done())
        if (auto f = co_await read_body_some(*c, *p, deadline, tr->config(), true)) {
            o.fail = std::move(f);
            co_return o;
        }
    o.reusable = p->reusable();
    co_return o;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// transport

transport::transport(asio::any_io_executor ex, transport_config cfg)
    : impl_(std::make_unique<impl>()), cfg_(std::move(cfg)) {
    impl_->ex = std::move(ex);
    impl_->tls.emplace(ssl::context::tls_client);
    auto& ctx = *impl_->tls;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    SSL_CTX_set_session_cache_mode(ctx.native_handle(), SSL_SESS_CACHE_CLIENT);
    error_code ec;
    if (cfg_.tls.insecure_skip_verify) {
        ctx.set_verify_mode(ssl::verify_none);
        std::cerr << "llmux: WARNING: TLS certificate verification is OFF "
                     "(insecure_skip_verify); connections can be intercepted\n";
    } else {
        ctx.set_verify_mode(ssl::verify_peer);
        if (!cfg_.tls.ca_file.empty()) {
            ctx.load_verify_file(cfg_.tls.ca_file, ec);
            if (ec)
                impl_->tls_error = failure(error::invalid_config, "cannot load CA file '" +
                                                                      cfg_.tls.ca_file + "': " +
                                                                      ec.message());
        } else {
            impl_->system_store = true;  // read by tls_ready, at the first TLS connection
        }
    }
}

transport::~transport() {
    // Idle connections and their pool point at each other; break the cycle so both go.
    std::lock_guard lk(impl_->mu);
    for (auto& [key, p] : impl_->pools) {
        std::vector<std::shared_ptr<connection>> idle;
        {
            std::lock_guard plk(p->mu);
            idle.swap(p->idle);
        }
        for (auto& c : idle) c->close_now();
    }
}

std::shared_ptr<transport::pool> transport::pool_for(origin const& o) {
    std::lock_guard lk(impl_->mu);
    auto& p = impl_->pools[o.key];
    if (!p) {
        p = std::make_shared<pool>();
        p->org = o;
        p->host = host_header(o);
    }
    return p;
}

struct transport::queued {
    std::shared_ptr<pool> p;
    std::shared_ptr<waiter_channel> ch;
};

std::optional<transport::lease> transport::try_acquire(origin const& o, queued& q) {
    auto p = pool_for(o);
    std::optional<lease> l;
    std::vector<std::shared_ptr<connection>> stale;
    {
        std::lock_guard lk(p->mu);
        auto const now = clock::now();
        while (!p->idle.empty()) {
            auto c = std::move(p->idle.back());
            p->idle.pop_back();
            if (now - c->idle_since > cfg_.pool.idle_timeout || c->unusable()) {
                --p->total;
                stale.push_back(std::move(c));
                continue;
            }
            l = lease{std::move(c), true};
            break;
        }
        if (!l) {
            if (p->total < cfg_.pool.max_connections_per_origin) {
                ++p->total;
                l = lease{std::make_shared<connection>(impl_->ex, p, impl_->counters), false};
            } else {
                q.ch = std::make_shared<waiter_channel>(impl_->ex, 1);
                p->waiters.push_back(q.ch);
                q.p = std::move(p);
            }
        }
    }
    for (auto& c : stale) {
        ++impl_->stale_retries;
        asio::post(c->strand, [c] { c->close_now(); });
    }
    return l;
}

awaitable<result<transport::lease>> transport::wait_lease(origin const& o, queued q,
                                                          clock::time_point deadline) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto const& p = q.p;
    auto const& ch = q.ch;
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(impl_->ex, std::min(deadline, clock::now() + cfg_.timeouts.pool_wait));
    auto r = co_await (ch->async_receive(use_tuple) || timer.async_wait(use_tuple));
    if (r.index() == 0) {
        auto [ec, c] = std::get<0>(r);
        if (!ec) {
            if (c) co_return lease{std::move(c), true};
            co_return lease{std::make_shared<connection>(impl_->ex, p, impl_->counters), false};
        }
    }
    // Timed out or cancelled: leave the queue, giving back anything handed over meanwhile.
    std::shared_ptr<connection> handed;
    bool slot = false;
    {
        std::lock_guard lk(p->mu);
        auto it = std::find(p->waiters.begin(), p->waiters.end(), ch);
        if (it != p->waiters.end()) {
            p->waiters.erase(it);
        } else {
            ch->try_receive([&](error_code, std::shared_ptr<connection> c) {
                if (c)
                    handed = std::move(c);
                else
                    slot = true;
            });
        }
    }
    if (handed) release(handed, true);
    if (slot) {
        std::shared_ptr<waiter_channel> next;
        {
            std::lock_guard lk(p->mu);
            if (!p->waiters.empty()) {
                next = std::move(p->waiters.front());
                p->waiters.pop_front();
                next->try_send(error_code{}, std::shared_ptr<connection>{});
            } else {
                --p->total;
            }
        }
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cancelled(cs))
        co_return failure(asio::error::operation_aborted,
                          "cancelled while waiting for a connection to " + o.key);
    co_return failure(error::timeout, "timed out waiting for a free connection to " + o.key +
                                          " (pool cap " +
                                          std::to_string(cfg_.pool.max_connections_per_origin) +
                                          ")");
}

void transport::release(std::shared_ptr<connection> const& c, bool reusable) {
    auto& p = *c->pool;
    {
        std::lock_guard lk(p.mu);
        if (reusable && c->is_open) {
            if (c->buffer.size() == 0 && c->buffer.capacity() > max_read_buffer) {
                c->buffer.shrink_to_fit();
                c->buffer.reserve(read_buffer_size);
            }
            if (c->secure) {
                // Keep the latest session so that new connections resume instead of doing a
                // full handshake.
                if (SSL_SESSION* s = SSL_get1_session(c->secure->native_handle())) {
                    if (p.session) SSL_SESSION_free(p.session);
                    p.session = s;
                }
            }
            if (!p.waiters.empty()) {
                auto w = std::move(p.waiters.front());
                p.waiters.pop_front();
                w->try_send(error_code{}, c);
                return;
            }
            c->idle_since = clock::now();
            p.idle.push_back(c);
            return;
        }
        // The connection is gone; its slot goes to a waiter, if any.
        if (!p.waiters.empty()) {
            auto w = std::move(p.waiters.front());
            p.waiters.pop_front();
            w->try_send(error_code{}, std::shared_ptr<connection>{});
        } else {
            --p.total;
        }
    }
    asio::post(c->strand, [c] { c->close_now(); });
}

void transport::close_idle() {
    std::vector<std::shared_ptr<pool>> pools;
    {
        std::lock_guard lk(impl_->mu);
        for (auto& [k, p] : impl_->pools) pools.push_back(p);
    }
    for (auto& p : pools) {
        std::vector<std::shared_ptr<connection>> idle;
        {
            std::lock_guard lk(p->mu);
            idle.swap(p->idle);
            p->total -= idle.size();
        }
        for (auto& c : idle) asio::post(c->strand, [c] { c->close_now(); });
    }
}

transport_stats transport::stats() const {
    transport_stats s;
    s.connections_opened = impl_->opened.load();
    s.connections_reused = impl_->reused.load();
    s.connections_open = impl_->counters->open_now.load();
    s.requests = impl_->requests.load();
    s.stale_retries = impl_->stale_retries.load();
    s.tls_resumed = impl_->counters->tls_resumed.load();
    return s;
}

namespace {
std::optional<failure> check_request(http_request const& req) {
    // Defence in depth behind the checks where values are loaded: nothing that could end a
    // header line or the request line is written, whoever built the request.
    if (!is_header_name(req.method))
        return failure(error::invalid_request, "the request method is not a token");
    for (char c : req.target) {
        auto const u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f)
            return failure(error::invalid_request,
                           "the request target contains a space or control character");
    }
    for (auto const& [name, value] : req.headers)
        if (auto problem = header_problem(name, value))
            return failure(error::invalid_request, "refusing to send the request: " + *problem);
    return std::nullopt;
}
}  // namespace

awaitable<result<http_response>> transport::request(origin const& o,
                                                    std::shared_ptr<http_request const> req,
                                                    clock::time_point deadline) {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (o.tls)
        if (auto const* bad = impl_->tls_ready()) co_return *bad;
    if (auto bad = check_request(*req)) co_return std::move(*bad);
    ++impl_->requests;
    asio::any_io_executor const here = co_await asio::this_coro::executor;
    for (int attempt = 0;; ++attempt) {
        queued q;
        auto l = try_acquire(o, q);
        if (!l) {
            auto waited = co_await wait_lease(o, std::move(q), deadline);
            if (!waited) co_return waited.error();
            l = std::move(*waited);
        }
        auto c = l->conn;
        if (l->reused) ++impl_->reused;
        else ++impl_->opened;

        auto p = std::make_shared<response_parser>();
        p->body_limit(cfg_.max_response_bytes);
        auto first_byte = std::make_shared<clock::time_point>();
        // A named coroutine, not a capturing lambda: GCC 12 destroys a lambda temporary in a
        // co_await expression twice.
        // run_on's choice, made here to save its frame: inline when already on the strand
        // (one thread: no strands), in a thread of its own otherwise.
        auto out = co_await inline_or_spawn(
            here, false, c->strand,
            full_exchange(c, req, p, deadline, shared_from_this(), &*impl_->tls, l->reused,
                          first_byte));
        release(c, out.reusable && !out.fail);
        if (out.fail) {
            if (out.retry_fresh && attempt == 0) {
                ++impl_->stale_retries;
                continue;
            }
            co_return *out.fail;
        }
        http_response resp;
        resp.head = std::move(p->head());
        resp.body = std::move(p->body());
        resp.first_byte = *first_byte;
        co_return resp;
    }
}

// ---------------------------------------------------------------------------------------------
// Streams

struct stream_state {
    std::shared_ptr<transport> tr;
    std::shared_ptr<connection> conn;
    response_parser parser;  // also holds the head
    clock::time_point first_byte{};
    clock::time_point deadline{};
    std::string chunk;
    std::optional<failure> failed;  // found after the bytes read_some returned last
    bool done = false;
    bool released = false;

    void release(bool reusable) {
        if (released || !conn) return;
        released = true;
        tr->release(conn, reusable);
    }
    ~stream_state() { release(false); }
};

body_stream::body_stream(body_stream&&) noexcept = default;
body_stream& body_stream::operator=(body_stream&&) noexcept = default;
body_stream::~body_stream() = default;

response_head const& body_stream::head() const { return st_->parser.head(); }
clock::time_point body_stream::first_byte() const { return st_->first_byte; }

void body_stream::close() {
    if (st_) st_->release(false);
}


namespace {

/// Sends the request and reads the head of a streamed response, on the connection's strand.
awaitable<exchange_outcome> head_exchange(std::shared_ptr<stream_state> st,
                                          std::shared_ptr<http_request const> req,
                                          ssl::context* tls, bool reused) {
    co_return co_await send_and_read_head(st->conn, req, st->parser, st->deadline,
                                          st->tr->config(), tls, reused, st->first_byte);
}

}  // namespace

asio::any_io_executor body_stream::strand() const { return st_->conn->strand; }

bool body_stream::done() const noexcept { return st_ && st_->done; }

awaitable<result<std::string_view>> body_stream::read_some() {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto st = st_;
    if (!st || st->done) co_return std::string_view{};
    if (st->released)
        co_return failure(asio::error::operation_aborted, "the stream was closed");
    if (st->failed) {
        st->release(false);
        co_return *st->failed;
    }
    auto& body = st->parser.body();
    body.clear();
    if (auto f = co_await read_body_some(*st->conn, st->parser, st->deadline, st->tr->config(),
                                         false)) {
        st->release(false);
        co_return *f;
    }
    if (auto f = parse_buffered(*st->conn, st->parser, st->deadline, st->tr->config())) {
        st->failed = std::move(f);  // after the body parsed before it
        if (body.empty()) {
            st->release(false);
            co_return *st->failed;
        }
    }
    st->chunk.swap(body);
    if (st->parser.is_done()) {
        st->done = true;
        st->release(st->parser.reusable());
        if (st->chunk.empty()) co_return std::string_view{};
    }
    co_return std::string_view(st->chunk);
}

awaitable<result<std::string>> body_stream::read_all(std::size_t cap) {
    std::string all;
    for (;;) {
        auto r = co_await read_some();
        if (!r) co_return r.error();
        if (r->empty()) break;
        if (all.size() + r->size() > cap) {
            close();
            co_return failure(error::response_too_large, "the error body exceeds " +
                                                             std::to_string(cap) + " bytes");
        }
        all.append(*r);
    }
    co_return all;
}

awaitable<result<body_stream>> transport::open(origin const& o,
                                              std::shared_ptr<http_request const> req,
                                              clock::time_point deadline) {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (o.tls)
        if (auto const* bad = impl_->tls_ready()) co_return *bad;
    if (auto bad = check_request(*req)) co_return std::move(*bad);
    ++impl_->requests;
    asio::any_io_executor const here = co_await asio::this_coro::executor;
    for (int attempt = 0;; ++attempt) {
        queued q;
        auto l = try_acquire(o, q);
        if (!l) {
            auto waited = co_await wait_lease(o, std::move(q), deadline);
            if (!waited) co_return waited.error();
            l = std::move(*waited);
        }
        auto c = l->conn;
        if (l->reused) ++impl_->reused;
        else ++impl_->opened;

        auto st = std::make_shared<stream_state>();
        st->tr = shared_from_this();
        st->conn = c;
        st->deadline = deadline;
        st->parser.body_limit(cfg_.max_stream_bytes);
        auto out = co_await inline_or_spawn(here, false, c->strand,
                                            head_exchange(st, req, &*impl_->tls, l->reused));
        if (out.fail) {
            st->release(false);
            if (out.retry_fresh && attempt == 0) {
                ++impl_->stale_retries;
                continue;
            }
            co_return *out.fail;
        }
        if (st->parser.is_done()) {
            // No body at all (e.g. Content-Length: 0).
            st->done = true;
            st->release(st->parser.reusable());
        }
        body_stream bs;
        bs.st_ = std::move(st);
        co_return bs;
    }
}

}  // namespace llmux::detail
