// SPDX-License-Identifier: BSL-1.0
// http/direct_io.hpp: sending what a socket takes at once, and the buffers left after it. The
// server and the transport write a response or a request this way before writing any rest
// asynchronously, so a partial send must leave exactly the bytes not sent.
#include "http/direct_io.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <string>
#include <thread>

namespace llmux::test {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using buffers = std::array<asio::const_buffer, 4>;

std::string bytes_of(buffers const& b) {
    std::string out;
    for (auto const& x : b) out.append(static_cast<char const*>(x.data()), x.size());
    return out;
}

/// A connected pair of loopback sockets.
struct socket_pair {
    asio::io_context io;
    tcp::socket a{io}, b{io};
    socket_pair() {
        tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
        a.connect(acc.local_endpoint());
        acc.accept(b);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(direct_io)

BOOST_AUTO_TEST_CASE(drop_front_leaves_the_bytes_not_sent) {
    std::string const x = "HTTP/1.1 200 OK\r\n", y = "A: b\r\n", z = "body";
    buffers const b{asio::buffer(x), asio::buffer(y), asio::const_buffer(), asio::buffer(z)};
    std::string const all = bytes_of(b);
    for (std::size_t n = 0; n <= all.size() + 3; ++n) {
        auto const rest = detail::drop_front(b, n);
        BOOST_TEST(bytes_of(rest) == all.substr(std::min(n, all.size())), n);
        BOOST_TEST(asio::buffer_size(rest) == all.size() - std::min(n, all.size()), n);
    }
}

BOOST_AUTO_TEST_CASE(sends_what_the_socket_takes_and_never_waits) {
    socket_pair p;
    p.a.set_option(asio::socket_base::send_buffer_size(16384));
    p.b.set_option(asio::socket_base::receive_buffer_size(16384));
    // Small: all of it at once.
    std::string const head = "POST / HTTP/1.1\r\n\r\n", body = "{}";
    buffers const small{asio::buffer(head), asio::buffer(body)};
    boost::system::error_code ec;
    BOOST_TEST(detail::send_now(p.a, small, ec) == head.size() + body.size());
    BOOST_TEST(!ec, ec.message());
    std::string got(head.size() + body.size(), '\0');
    asio::read(p.b, asio::buffer(got));
    BOOST_TEST(got == head + body);

    // More than both socket buffers hold while nobody reads: a part, then 0 (would block),
    // never an error and never a wait; the part and the rest read back are the whole.
    std::string big(8u << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
    buffers const b{asio::buffer(big)};
    std::size_t const first = detail::send_now(p.a, b, ec);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(first > 0u);
    BOOST_TEST(first < big.size());
    // The kernel may make room as it moves bytes to the receiver: send until it says it would
    // block, each time from where the last send ended.
    std::size_t sent = first;
    for (int i = 0; i < 10000; ++i) {
        std::size_t const k = detail::send_now(p.a, detail::drop_front(b, sent), ec);
        BOOST_TEST_REQUIRE(!ec, ec.message());
        if (k == 0) break;
        sent += k;
    }
    BOOST_TEST(sent < big.size());  // it stopped at full buffers, not at the end
    auto const rest = detail::drop_front(b, sent);
    p.a.non_blocking(false);
    std::string back(big.size(), '\0');
    std::thread reader([&] { asio::read(p.b, asio::buffer(back)); });
    asio::write(p.a, rest);
    reader.join();
    BOOST_TEST((back == big));

    // A peer that is gone: an error, not a crash (no SIGPIPE) and not 0.
    p.b.set_option(tcp::socket::linger(true, 0));
    p.b.close();
    for (int i = 0; i < 100 && !ec; ++i) detail::send_now(p.a, small, ec);
    BOOST_TEST(!!ec);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
