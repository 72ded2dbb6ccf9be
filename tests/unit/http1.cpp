// SPDX-License-Identifier: BSL-1.0
// The server's HTTP/1.1 request parser (codec/http1.hpp): requests in every split, chunked
// bodies, the limits, the errors, and against Beast's parser on the same bytes (whatever this
// one accepts, Beast accepts the same way).
#include "codec/http1.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::test {

namespace {

namespace http = boost::beast::http;
using boost::system::error_code;
using detail::http1::request_parser;

// A parsed request, comparable and printable.
struct parsed {
    std::string error;  // empty: a whole request
    std::string method;
    std::string target;
    unsigned version = 0;
    bool keep_alive = false;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string body;
    std::string rest;  // bytes after the request (a pipelined one)

    friend bool operator==(parsed const&, parsed const&) = default;
    friend std::ostream& operator<<(std::ostream& os, parsed const& p) {
        os << "{error='" << p.error << "' " << p.method << ' ' << p.target << " v" << p.version
           << (p.keep_alive ? " keep" : " close");
        for (auto const& [k, v] : p.fields) os << " [" << k << ": " << v << ']';
        return os << " body='" << p.body << "' rest='" << p.rest << "'}";
    }
};

struct limits {
    std::size_t head = 8192;
    std::uint64_t body = 1u << 20;
};

/** Feeds `in` cut at `cuts` (ascending offsets) to `p` as the server and the transport do:
    what the parser leaves is given again with the next piece; `on_put` runs after every put;
    at the end, the end of the input (when `eof`). The error, if any; `rest` is what follows
    the message.
*/
template <bool isRequest, class OnPut>
error_code drive(detail::http1::parser<isRequest>& p, std::string_view in,
                 std::vector<std::size_t> const& cuts, bool eof, std::string& rest, OnPut&& on_put) {
    std::string pending;
    error_code ec;
    std::size_t from = 0;
    auto pieces = cuts;
    pieces.push_back(in.size());
    for (auto const to : pieces) {
        pending.append(in.substr(from, to - from));
        from = to;
        while (!p.is_done()) {
            auto const n = p.put(pending, ec);
            pending.erase(0, n);
            on_put();
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec) break;
        }
        if (ec || p.is_done()) break;
    }
    if (!ec && !p.is_done() && eof) p.put_eof(ec);
    rest = pending + std::string(in.substr(from));
    return ec;
}

/// A request parsed from `in` in the pieces `cuts` makes.
parsed parse(std::string_view in, std::vector<std::size_t> const& cuts = {}, limits lim = {}) {
    request_parser p;
    p.header_limit(lim.head);
    p.body_limit(lim.body);
    std::string rest;
    auto const ec = drive(p, in, cuts, true, rest, [] {});
    parsed out;
    if (ec) {
        out.error = ec.message();
        return out;
    }
    auto const& r = p.get();
    out.method = r.method_string();
    out.target = r.target();
    out.version = r.version();
    out.keep_alive = r.keep_alive();
    for (auto const& f : r.fields()) out.fields.emplace_back(f.name, f.value);
    out.body = r.body();
    out.rest = rest;
    return out;
}

/// The same bytes through Beast's request parser, as the server used it before.
parsed parse_beast(std::string_view in, limits lim = {}) {
    http::request_parser<http::string_body> p;
    p.header_limit(static_cast<std::uint32_t>(lim.head));
    p.body_limit(lim.body);
    p.eager(true);
    std::string pending(in);
    error_code ec;
    while (!p.is_done() && !pending.empty()) {
        auto const n = p.put(boost::asio::buffer(pending), ec);
        pending.erase(0, n);
        if (ec == http::error::need_more) {
            ec = {};
            break;
        }
        if (ec) break;
    }
    parsed out;
    if (!ec && !p.is_done()) {
        if (p.got_some())
            p.put_eof(ec);
        else
            ec = http::error::partial_message;
    }
    if (ec) {
        out.error = ec.message();
        return out;
    }
    auto const& r = p.get();
    out.method = r.method_string();
    out.target = r.target();
    out.version = r.version();
    out.keep_alive = r.keep_alive();
    for (auto const& f : r) out.fields.emplace_back(f.name_string(), f.value());
    out.body = r.body();
    out.rest = pending;
    return out;
}

std::string const simple =
    "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "content-type: application/json\r\n"
    "Authorization:Bearer sk-local-dummy   \r\n"
    "X-Empty:\r\n"
    "X-Tab: a\tb\r\n"
    "Content-Length: 11\r\n"
    "\r\n"
    "{\"a\":\"b\"}\r\n";

std::string const chunked =
    "PUT /upload HTTP/1.1\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "3\r\nabc\r\n"
    "A;name=value;q=\"a \\\" b\"\r\n0123456789\r\n"
    "1 ; x\r\nz\r\n"
    "0\r\n"
    "Trailer-One: 1\r\n"
    "\r\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(http1)
BOOST_AUTO_TEST_SUITE(requests)

BOOST_AUTO_TEST_CASE(a_request_is_parsed_into_views_of_its_head) {
    auto const p = parse(simple);
    BOOST_TEST(p.error == "");
    BOOST_TEST(p.method == "POST");
    BOOST_TEST(p.target == "/v1/chat/completions?x=1");
    BOOST_TEST(p.version == 11u);
    BOOST_TEST(p.keep_alive);
    BOOST_REQUIRE_EQUAL(p.fields.size(), 7u);
    BOOST_TEST(p.fields[3].first == "Authorization");
    BOOST_TEST(p.fields[3].second == "Bearer sk-local-dummy");  // trailing blanks trimmed
    BOOST_TEST(p.fields[4].second == "");
    BOOST_TEST(p.fields[5].second == "a\tb");
    BOOST_TEST(p.body == "{\"a\":\"b\"}\r\n");
    BOOST_TEST(p.rest == "");
}

BOOST_AUTO_TEST_CASE(every_split_gives_the_same_request) {
    for (auto const& text : {simple, chunked, simple + simple}) {
        auto const whole = parse(text);
        BOOST_TEST_REQUIRE(whole.error == "");
        for (std::size_t a = 0; a <= text.size(); ++a) {
            BOOST_TEST_CONTEXT("split at " << a) { BOOST_TEST(parse(text, {a}) == whole); }
            for (std::size_t b = a; b <= text.size(); b += 7)
                BOOST_TEST_CONTEXT("split at " << a << ", " << b) {
                    BOOST_TEST(parse(text, {a, b}) == whole);
                }
        }
        std::vector<std::size_t> bytes;
        for (std::size_t i = 1; i < text.size(); ++i) bytes.push_back(i);
        BOOST_TEST(parse(text, bytes) == whole);
    }
}

BOOST_AUTO_TEST_CASE(a_chunked_body_is_dechunked_with_its_extensions_and_trailers_dropped) {
    auto const p = parse(chunked);
    BOOST_TEST(p.error == "");
    BOOST_TEST(p.method == "PUT");
    BOOST_TEST(p.body == "abc0123456789z");
    BOOST_TEST(p.fields.size() == 1u);  // the trailer is not a header
}

BOOST_AUTO_TEST_CASE(a_pipelined_request_is_left_for_the_next_parse) {
    auto const p = parse(simple + "GET / HTTP/1.1\r\n\r\n");
    BOOST_TEST(p.error == "");
    BOOST_TEST(p.rest == "GET / HTTP/1.1\r\n\r\n");
    auto const q = parse(p.rest);
    BOOST_TEST(q.method == "GET");
    BOOST_TEST(q.body == "");
}

BOOST_AUTO_TEST_CASE(the_parser_is_reused_from_one_request_to_the_next) {
    request_parser p;
    error_code ec;
    std::string_view in = "POST /a HTTP/1.1\r\nContent-Length: 2\r\nA: 1\r\n\r\nxy";
    BOOST_TEST(p.put(in, ec) == in.size() - 2);  // stops at the end of the head
    BOOST_TEST(!ec);
    BOOST_TEST(p.is_header_done());
    BOOST_TEST(!p.is_done());
    BOOST_TEST(p.put(in.substr(in.size() - 2), ec) == 2u);
    BOOST_TEST(p.is_done());
    BOOST_TEST(p.get().body() == "xy");
    p.reset();
    BOOST_TEST(!p.got_some());
    in = "GET /b HTTP/1.0\r\nB: 2\r\n\r\n";
    BOOST_TEST(p.put(in, ec) == in.size());
    BOOST_TEST(p.is_done());
    BOOST_TEST(p.get().target() == "/b");
    BOOST_TEST(p.get().fields().size() == 1u);
    BOOST_TEST(p.get()["a"] == "");
    BOOST_TEST(p.get()["b"] == "2");
    BOOST_TEST(p.get().body() == "");
    BOOST_TEST(!p.get().keep_alive());
}

BOOST_AUTO_TEST_CASE(lookups_ignore_case_and_give_the_first_value) {
    request_parser p;
    error_code ec;
    std::string_view const in =
        "GET / HTTP/1.1\r\nX-Key: one\r\nx-key: two\r\nExpect: 100-continue\r\n\r\n";
    p.put(in, ec);
    BOOST_TEST(!ec);
    auto const& r = p.get();
    BOOST_TEST(r["X-KEY"] == "one");
    BOOST_TEST(r.count("x-Key") == 2u);
    BOOST_TEST(r.count("x-other") == 0u);
    BOOST_TEST(r[http::field::expect] == "100-continue");
    BOOST_TEST((r.method() == http::verb::get));
}

BOOST_AUTO_TEST_CASE(keep_alive_follows_the_version_and_connection) {
    auto ka = [](std::string_view version, std::string_view connection) {
        std::string in = "GET / HTTP/" + std::string(version) + "\r\n";
        if (!connection.empty()) in += "Connection: " + std::string(connection) + "\r\n";
        auto const p = parse(in + "\r\n");
        BOOST_TEST_REQUIRE(p.error == "");
        return p.keep_alive;
    };
    BOOST_TEST(ka("1.1", ""));
    BOOST_TEST(!ka("1.1", "close"));
    BOOST_TEST(!ka("1.1", "Upgrade, CLOSE"));
    BOOST_TEST(!ka("1.0", ""));
    BOOST_TEST(ka("1.0", "keep-alive"));
    BOOST_TEST(ka("1.0", " , Keep-Alive ,"));
    BOOST_TEST(!ka("1.0", "keep-alive, close"));
    // Every Connection line counts; Proxy-Connection may close but never keeps.
    BOOST_TEST(parse("GET / HTTP/1.0\r\nConnection: x\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    BOOST_TEST(!parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n").keep_alive);
    BOOST_TEST(!parse("GET / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n").keep_alive);
    BOOST_TEST(!parse("GET / HTTP/1.1\r\nProxy-Connection: close\r\n\r\n").keep_alive);
    BOOST_TEST(!parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\r\n\r\n")
                    .keep_alive);  // a trailer may close too
}

BOOST_AUTO_TEST_CASE(a_parser_gives_back_the_memory_of_a_large_request) {
    request_parser p;
    error_code ec;
    std::string big = "POST / HTTP/1.1\r\n";
    for (int i = 0; i < 500; ++i) big += "a:\r\n";
    big += "Content-Length: 5000\r\n\r\n" + std::string(5000, 'x');
    p.header_limit(64u << 10);
    std::string_view in = big;
    while (!p.is_done()) {
        in.remove_prefix(p.put(in, ec));
        BOOST_TEST_REQUIRE(!ec);
    }
    BOOST_TEST(p.get().fields().size() == 501u);
    BOOST_TEST(p.get().body().capacity() >= 5000u);
    p.shrink(4096, 4096);
    BOOST_TEST(p.get().body().capacity() < 4096u);
    p.reset();
    std::string_view const next = "GET /next HTTP/1.1\r\nA: b\r\n\r\n";
    BOOST_TEST(p.put(next, ec) == next.size());
    BOOST_TEST(p.get().target() == "/next");
    BOOST_TEST(p.get()["a"] == "b");
}

BOOST_AUTO_TEST_CASE(bad_requests_get_the_error_that_names_them) {
    struct bad {
        std::string_view in;
        http::error e;
    };
    bad const cases[] = {
        {"GET / HTTP/1.1\n\r\n", http::error::bad_line_ending},
        {"GET / HTTP/1.1\r\nA: b\n\r\n", http::error::bad_line_ending},
        {"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", http::error::bad_line_ending},
        {"GET /\r\n\r\n", http::error::bad_target},
        {"\r\nGET / HTTP/1.1\r\n\r\n", http::error::bad_method},
        {"G(T / HTTP/1.1\r\n\r\n", http::error::bad_method},
        {"GET  / HTTP/1.1\r\n\r\n", http::error::bad_target},
        {"GET / HTTP/1.1 \r\n\r\n", http::error::bad_version},
        {"GET / HTTPS/1.1\r\n\r\n", http::error::bad_version},
        {"GET / HTTP/1.x\r\n\r\n", http::error::bad_version},
        {"GET / HTTP/0.9\r\n\r\n", http::error::bad_version},
        {"GET / HTTP/1.2\r\n\r\n", http::error::bad_version},
        {"GET / HTTP/2.0\r\n\r\n", http::error::bad_version},
        {"GET /a\x7f HTTP/1.1\r\n\r\n", http::error::bad_target},
        {"GET / HTTP/1.1\r\nA : b\r\n\r\n", http::error::bad_field},
        {"GET / HTTP/1.1\r\n: b\r\n\r\n", http::error::bad_field},
        {"GET / HTTP/1.1\r\nA b\r\n\r\n", http::error::bad_field},
        {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", http::error::bad_field},
        {"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", http::error::bad_value},
        {"GET / HTTP/1.1\r\nA: 0123456789\x7f\r\n\r\n", http::error::bad_value},
        {"GET / HTTP/1.1\r\nConnection: a b\r\n\r\n", http::error::bad_value},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", http::error::bad_content_length},
        {"POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", http::error::bad_content_length},
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", http::error::bad_content_length},
        {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", http::error::bad_content_length},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
         http::error::multiple_content_length},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
         http::error::bad_transfer_encoding},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
         http::error::bad_content_length},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         http::error::bad_transfer_encoding},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n", http::error::bad_chunk},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", http::error::bad_chunk},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n", http::error::bad_chunk},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n", http::error::bad_chunk},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n", http::error::bad_chunk_extension},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"b\r\nabc\r\n", http::error::bad_chunk_extension},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n", http::error::bad_chunk_extension},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n", http::error::bad_chunk_extension},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;a \r\nabc\r\n", http::error::bad_chunk_extension},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 1\r\n\r\n",
         http::error::bad_content_length},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA b\r\n\r\n", http::error::bad_field},
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", http::error::partial_message},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", http::error::partial_message},
        {"GET / HTTP/1.1\r\nHost: x\r\n", http::error::partial_message},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.in) { BOOST_TEST(parse(c.in).error == error_code(c.e).message()); }
    }
}

BOOST_AUTO_TEST_CASE(the_limits_hold_at_their_edges) {
    std::string const head = "GET / HTTP/1.1\r\nA: b\r\n\r\n";
    BOOST_TEST(parse(head, {}, {head.size(), 10}).error == "");
    BOOST_TEST(parse(head, {}, {head.size() - 1, 10}).error == error_code(http::error::header_limit).message());
    // A head that never ends is refused once it reaches the limit, not when the input ends.
    BOOST_TEST(parse(std::string(100, 'a'), {}, {64, 10}).error ==
               error_code(http::error::header_limit).message());
    std::string const body = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789";
    BOOST_TEST(parse(body, {}, {8192, 10}).body == "0123456789");
    BOOST_TEST(parse(body, {}, {8192, 9}).error == error_code(http::error::body_limit).message());
    std::string const chunks = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n";
    BOOST_TEST(parse(chunks, {}, {8192, 10}).body == "0123456789");
    BOOST_TEST(parse(chunks, {}, {8192, 9}).error == error_code(http::error::body_limit).message());
    // Trailers count against the head's limit.
    std::string const trailers = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " +
                                 std::string(100, 'x') + "\r\n\r\n";
    BOOST_TEST(parse(trailers, {}, {90, 10}).error == error_code(http::error::header_limit).message());
    BOOST_TEST(parse(trailers, {}, {200, 10}).error == "");
}

BOOST_AUTO_TEST_CASE(what_it_accepts_beast_accepts_the_same_way) {
    std::vector<std::string> corpus = {
        simple,
        chunked,
        "GET / HTTP/1.1\r\n\r\n",
        "GET * HTTP/1.1\r\nHost: x\r\n\r\n",
        "OPTIONS http://example.com/a%20b?c=d#e HTTP/1.1\r\n\r\n",
        "CUSTOM-METHOD /\xc3\xa9 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
        "GET / HTTP/1.1\r\nA: \xff\xfe\x80 x\r\nB:\t\tc\t\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n000\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;a;b=c\r\nxy\r\n0;z\r\nT: 1\r\nU: 2\r\n\r\n",
    };
    for (auto const& in : corpus) {
        BOOST_TEST_CONTEXT(in) {
            auto const ours = parse(in);
            BOOST_TEST(ours.error == "");
            auto beast = parse_beast(in);
            BOOST_TEST(beast.error == "");
            // Beast keeps trailers as fields; this parser drops them.
            beast.fields.resize(std::min(beast.fields.size(), ours.fields.size()));
            BOOST_TEST(ours == beast);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

using detail::http1::response_parser;

// A response as a stream's reader sees it: the body taken out after each put.
struct read_response {
    std::string error;
    unsigned status = 0;
    std::string reason;
    bool keep_alive = false;
    std::vector<std::string> pieces;  // the body as each put handed it over
    std::string body;
    std::string rest;
};

read_response read(std::string_view in, std::vector<std::size_t> const& cuts = {},
                   std::uint64_t body_limit = 1u << 20, bool eof = true) {
    response_parser p;
    p.body_limit(body_limit);
    read_response out;
    auto const ec = drive(p, in, cuts, eof, out.rest, [&] {
        if (!p.get().body().empty()) {
            out.pieces.push_back(p.get().body());
            out.body += p.get().body();
            p.get().body().clear();
        }
    });
    if (ec) out.error = ec.message();
    out.status = p.get().status();
    out.reason = p.get().reason();
    out.keep_alive = p.keep_alive();
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(responses)

BOOST_AUTO_TEST_CASE(a_response_has_its_status_fields_and_body_in_every_split) {
    std::string const in = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: r1\r\n"
                           "Content-Length: 5\r\n\r\nhello";
    for (std::size_t a = 0; a <= in.size(); ++a) {
        auto const r = read(in, {a});
        BOOST_TEST_CONTEXT("split at " << a) {
            BOOST_TEST(r.error == "");
            BOOST_TEST(r.status == 200u);
            BOOST_TEST(r.reason == "OK");
            BOOST_TEST(r.body == "hello");
            BOOST_TEST(r.keep_alive);
        }
    }
    response_parser p;
    error_code ec;
    p.put(in, ec);
    BOOST_TEST(p.get()["content-type"] == "application/json");
    BOOST_TEST(p.get().fields().size() == 3u);
    BOOST_TEST(*p.content_length() == 5u);
}

BOOST_AUTO_TEST_CASE(a_stream_is_handed_over_chunk_by_chunk_and_ends_with_its_last_chunk) {
    std::string const in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "6\r\ndata: \r\n3\r\nab\n\r\n0\r\n\r\nHTTP/1.1";
    auto const r = read(in, {50, 53, 60}, 1u << 20, false);
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.body == "data: ab\n");
    BOOST_TEST(r.pieces.size() >= 2u);
    BOOST_TEST(r.rest == "HTTP/1.1");  // the next response on the connection
    BOOST_TEST(r.keep_alive);
}

BOOST_AUTO_TEST_CASE(the_chunks_before_a_malformed_one_come_first) {
    std::string_view in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nHi\r\nzz\r\n";
    response_parser p;
    error_code ec;
    in.remove_prefix(p.put(in, ec));
    BOOST_TEST(p.is_header_done());
    // The call that reaches the malformed chunk hands over the one before it, without an error.
    auto const n = p.put(in, ec);
    BOOST_TEST(!ec);
    BOOST_TEST(n == 7u);
    BOOST_TEST(p.get().body() == "Hi");
    // The next one fails, and takes nothing.
    BOOST_TEST(p.put(in.substr(n), ec) == 0u);
    BOOST_TEST(ec.message() == error_code(http::error::bad_chunk).message());
}

BOOST_AUTO_TEST_CASE(a_body_without_length_runs_to_the_end_of_the_input) {
    auto const r = read("HTTP/1.0 429 Too Many Requests\r\nRetry-After: 1\r\n\r\nslow down");
    BOOST_TEST(r.error == "");
    BOOST_TEST(r.status == 429u);
    BOOST_TEST(r.body == "slow down");
    BOOST_TEST(!r.keep_alive);
    // Without the end, it is not complete.
    response_parser p;
    error_code ec;
    std::string_view const head = "HTTP/1.1 200 OK\r\n\r\n";
    BOOST_TEST(p.put(head, ec) == head.size());
    BOOST_TEST(p.need_eof());
    BOOST_TEST(!p.is_done());
    p.put_eof(ec);
    BOOST_TEST(!ec);
    BOOST_TEST(p.is_done());
    BOOST_TEST(p.need_eof());  // still: the connection cannot be used again
    BOOST_TEST(!p.keep_alive());
}

BOOST_AUTO_TEST_CASE(some_statuses_have_no_body) {
    for (std::string_view st : {"204 No Content", "304 Not Modified", "100 Continue"}) {
        auto const r = read("HTTP/1.1 " + std::string(st) + "\r\nContent-Length: 3\r\n\r\nabc", {}, 1u << 20, false);
        BOOST_TEST(r.error == "");
        BOOST_TEST(r.body == "");
        BOOST_TEST(r.rest == "abc");
        BOOST_TEST(r.keep_alive);
    }
    // After 101 Switching Protocols the connection carries another protocol: not HTTP again.
    auto const up = read("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nxyz", {},
                         1u << 20, false);
    BOOST_TEST(up.error == "");
    BOOST_TEST(up.status == 101u);
    BOOST_TEST(!up.keep_alive);
    BOOST_TEST(up.rest == "xyz");
}

BOOST_AUTO_TEST_CASE(the_body_limit_counts_what_readers_took) {
    std::string const in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n";
    BOOST_TEST(read(in, {60}, 10).body == "0123456789");
    auto const over = read(in, {60}, 9);
    BOOST_TEST(over.error == error_code(http::error::body_limit).message());
    BOOST_TEST(over.body == "01234");
    BOOST_TEST(read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", {}, 9).error ==
               error_code(http::error::body_limit).message());
    BOOST_TEST(read("HTTP/1.1 200 OK\r\n\r\n0123456789", {}, 9).error ==
               error_code(http::error::body_limit).message());
}

BOOST_AUTO_TEST_CASE(bad_status_lines_are_refused) {
    for (std::string_view in : {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n",
                                "HTTP/1.1 200 O\x01K\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n"}) {
        BOOST_TEST_CONTEXT(in) { BOOST_TEST(read(in).error != ""); }
    }
    BOOST_TEST(read("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").error == "");  // an empty reason
}

BOOST_AUTO_TEST_SUITE_END()
BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
