// SPDX-License-Identifier: BSL-1.0
// A minimal HTTP/1.1 test client (Beast, plain TCP or TLS with certificate and host-name
// checks) that reports exactly what arrived on the wire, how reading ended (reset, timeout,
// eof) and when: for tests of servers (the emulator, the gateway).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace llmux::test {

namespace http_test_detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// A response as the client saw it, including how reading it ended.
struct http_reply {
    unsigned status = 0;
    http::response_header<> head;
    std::string body;
    /// How reading the response ended (success, reset, timeout...), after what arrived.
    error_code ec;
    bool header_done = false;
    clock_type::time_point sent_at;
    clock_type::time_point headers_at;
    clock_type::time_point done_at;

    std::string header(std::string_view name) const { return std::string(head[name]); }
    json::value json_body() const {
        error_code jec;
        auto v = json::parse(body, jec);
        BOOST_TEST_REQUIRE(!jec, "body is not JSON: " << jec.message() << ": " << body);
        return v;
    }
};

/// The `data:` payloads of an SSE body.
inline std::vector<std::string> sse_data(std::string_view body) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto end = body.find("\n\n", pos);
        if (end == std::string_view::npos) end = body.size();
        auto const ev = body.substr(pos, end - pos);
        if (ev.starts_with("data: ")) out.emplace_back(ev.substr(6));
        pos = end + 2;
    }
    return out;
}

inline bool is_json(std::string_view s) {
    error_code ec;
    json::parse(s, ec);
    return !ec;
}

/// A minimal HTTP/1.1 client over plain TCP or TLS, with a deadline on every read.
class http_test_client {
public:
    using duration_t = clock_type::duration;

    explicit http_test_client(asio::any_io_executor ex) : ex_(std::move(ex)) {}

    /// Connects to `url` (`http://host:port` or `https://host:port`); for HTTPS, verifies the
    /// certificate against `tls` and `verify_host`.
    asio::awaitable<error_code> connect(std::string const& url, ssl::context* tls = nullptr,
                                        std::string const& verify_host = "127.0.0.1") {
        auto const scheme_end = url.find("://");
        auto const hostport = url.substr(scheme_end + 3);
        auto const colon = hostport.rfind(':');
        auto const host = hostport.substr(0, colon);
        auto const port = static_cast<std::uint16_t>(std::stoi(hostport.substr(colon + 1)));
        tcp::endpoint const ep(asio::ip::make_address(host), port);
        host_ = hostport;
        if (tls) {
            tls_.emplace(ex_, *tls);
            tls_->set_verify_mode(ssl::verify_peer);
            tls_->set_verify_callback(ssl::host_name_verification(verify_host));
            lowest().expires_after(10s);
            auto [ec] = co_await lowest().async_connect(ep, use_tuple);
            if (ec) co_return ec;
            auto [hec] = co_await tls_->async_handshake(ssl::stream_base::client, use_tuple);
            co_return hec;
        }
        plain_.emplace(ex_);
        lowest().expires_after(10s);
        auto [ec] = co_await plain_->async_connect(ep, use_tuple);
        co_return ec;
    }

    asio::awaitable<error_code> write_raw(std::string const& bytes) {
        lowest().expires_after(10s);
        auto [ec, n] = co_await on_stream(
            [&](auto& s) { return asio::async_write(s, asio::buffer(bytes), use_tuple); });
        co_return ec;
    }

    asio::awaitable<error_code>
    write_request(http::verb method, std::string const& target, std::string const& body,
                  std::vector<std::pair<std::string, std::string>> const& headers,
                  bool with_key = true) {
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, host_);
        if (with_key) req.set(http::field::authorization, "Bearer sk-test");
        if (!body.empty()) req.set(http::field::content_type, "application/json");
        for (auto const& [k, v] : headers)
            req.set(k, v);
        req.body() = body;
        req.prepare_payload();
        lowest().expires_after(10s);
        auto [ec, n] =
            co_await on_stream([&](auto& s) { return http::async_write(s, req, use_tuple); });
        co_return ec;
    }

    /// Reads one response; gives up after `deadline` (the result then has a timeout error).
    asio::awaitable<http_reply> read_response(duration_t deadline = 10s, bool header_only = false) {
        http_reply r;
        r.sent_at = clock_type::now();
        http::response_parser<http::string_body> p;
        p.body_limit(64u << 20);
        lowest().expires_after(deadline);
        auto [ec, n] = co_await on_stream(
            [&](auto& s) { return http::async_read_header(s, buf_, p, use_tuple); });
        if (!ec) {
            r.headers_at = clock_type::now();
            if (!header_only) {
                auto [bec, bn] = co_await on_stream(
                    [&](auto& s) { return http::async_read(s, buf_, p, use_tuple); });
                ec = bec;
            }
        }
        r.done_at = clock_type::now();
        r.ec = ec;
        r.header_done = p.is_header_done();
        if (r.header_done) {
            r.status = p.get().result_int();
            r.head = p.get().base();
        }
        r.body = p.get().body();
        co_return r;
    }

    asio::awaitable<http_reply>
    request(http::verb method, std::string const& target, std::string const& body = {},
            std::vector<std::pair<std::string, std::string>> const& headers = {},
            bool with_key = true, duration_t deadline = 10s) {
        auto const t0 = clock_type::now();
        if (auto ec = co_await write_request(method, target, body, headers, with_key)) {
            http_reply r;
            r.ec = ec;
            co_return r;
        }
        auto r = co_await read_response(deadline);
        r.sent_at = t0;
        co_return r;
    }

    asio::awaitable<http_reply>
    chat(std::string const& body,
         std::vector<std::pair<std::string, std::string>> const& headers = {},
         duration_t deadline = 10s) {
        co_return co_await request(http::verb::post, "/v1/chat/completions", body, headers, true,
                                   deadline);
    }

    /// Waits until the server closes the connection (eof, reset) or `deadline` passes
    /// (beast::error::timeout); anything received meanwhile is discarded.
    asio::awaitable<error_code> read_until_closed(duration_t deadline) {
        lowest().expires_after(deadline);
        for (;;) {
            char tmp[4096];
            auto [ec, n] = co_await on_stream(
                [&](auto& s) { return s.async_read_some(asio::buffer(tmp), use_tuple); });
            if (ec) co_return ec;
        }
    }

    void close() {
        if (plain_ || tls_) lowest().close();
    }

    /// Ends what this side sends (plain TCP), keeping the connection open for reading.
    void shutdown_send() {
        error_code ec;
        lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    /// The connected socket's descriptor (for getsockopt).
    int native_handle() { return lowest().socket().native_handle(); }

private:
    beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

    /// Runs `op(stream)` on whichever stream is connected. (An if rather than `?:` around
    /// co_await: GCC 12 miscompiles some co_await inside conditional expressions.)
    template <class Op>
    asio::awaitable<std::tuple<error_code, std::size_t>> on_stream(Op op) {
        if (tls_) co_return co_await op(*tls_);
        co_return co_await op(*plain_);
    }

    asio::any_io_executor ex_;
    std::optional<beast::tcp_stream> plain_;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
    beast::flat_buffer buf_;
    std::string host_;
};

}  // namespace http_test_detail

using http_test_detail::http_reply;
using http_test_detail::http_test_client;
using http_test_detail::is_json;
using http_test_detail::sse_data;

/// The value of a Prometheus sample `series` (name and labels) in /metrics text, -1 when absent.
inline double metric(std::string const& text, std::string const& series) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    return -1;
}

}  // namespace llmux::test
