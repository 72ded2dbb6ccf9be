// SPDX-License-Identifier: BSL-1.0
// The Redis pipeline and RESP codec from bytes alone: commands formatted as RESP, requests
// written together, replies matched in order whatever the split of the bytes, deadlines on a
// virtual clock, cancellation and draining for a new connection.
#include "state/redis_pipeline.hpp"

#include <llmux/state.hpp>

#include <boost/test/unit_test.hpp>

using namespace llmux;
using namespace llmux::detail;
using namespace std::chrono_literals;
using rv = resp_value;
using clock_type = redis_pipeline::clock;
// The suite is named after the file, so the class needs another name inside it.
using pipeline = llmux::detail::redis_pipeline;

namespace {

clock_type::time_point const t0{std::chrono::seconds(1000)};

/// Feeds `bytes` one split at a time and collects the completions.
std::vector<pipeline::completion> feed_split(pipeline& p, std::string_view bytes,
                                                   std::size_t at) {
    auto a = p.on_read(bytes.substr(0, at));
    BOOST_TEST_REQUIRE(!a.broken.has_value());
    auto b = p.on_read(bytes.substr(at));
    BOOST_TEST_REQUIRE(!b.broken.has_value());
    a.done.insert(a.done.end(), std::make_move_iterator(b.done.begin()),
                  std::make_move_iterator(b.done.end()));
    return std::move(a.done);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_pipeline)

BOOST_AUTO_TEST_CASE(commands_are_formatted_as_resp) {
    BOOST_TEST(format_command({"PING"}) == "*1\r\n$4\r\nPING\r\n");
    std::string const bin("a\0b\r\n", 5);  // binary-safe: NUL and CRLF inside an argument
    BOOST_TEST(format_command({"SET", "k", bin}) ==
               std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n", 31));
    std::string two;
    append_command(two, std::vector<std::string>{"GET", "x"});
    append_command(two, std::vector<std::string_view>{"DEL", ""});
    BOOST_TEST(two == "*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*2\r\n$3\r\nDEL\r\n$0\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(reader_parses_every_reply_type) {
    resp_reader r;
    r.feed("+OK\r\n-ERR bad\r\n:-42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n*1\r\n$0\r\n\r\n*-1\r\n");
    std::vector<rv> got;
    for (;;) {
        auto v = r.next();
        BOOST_TEST_REQUIRE(v.has_value());
        if (!*v) break;
        got.push_back(std::move(**v));
    }
    std::vector<rv> const want{rv::of_status("OK"),
                               rv::of_error("ERR bad"),
                               rv::of_integer(-42),
                               rv::of_string("abc"),
                               rv{},
                               rv::of_array({rv::of_integer(1), rv::of_array({rv::of_string("")})}),
                               rv{}};
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i)
        BOOST_TEST((got[i] == want[i]), "reply " << i);
}

BOOST_AUTO_TEST_CASE(reader_rejects_what_is_not_resp) {
    resp_reader r;
    r.feed("HTTP/1.1 400 Bad Request\r\n");
    auto v = r.next();
    BOOST_TEST_REQUIRE(!v.has_value());
    BOOST_TEST((v.error().code == make_error_code(state_error::protocol)));
    BOOST_TEST(v.error().diag.message.find("not RESP") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(requests_leave_together_and_replies_match_in_order) {
    pipeline p;
    auto a = p.push(format_command({"GET", "a"}), 1, t0 + 1s);
    auto b = p.push(format_command({"PING"}) + format_command({"PING"}), 2, t0 + 1s);
    auto c = p.push(format_command({"GET", "c"}), 1, t0 + 1s);
    BOOST_TEST(p.has_unwritten());
    BOOST_TEST(p.take_write() == format_command({"GET", "a"}) + format_command({"PING"}) +
                                     format_command({"PING"}) + format_command({"GET", "c"}));
    BOOST_TEST(!p.has_unwritten());
    BOOST_TEST(p.in_flight() == 3u);
    // The replies, split at every byte offset: the same completions each time.
    std::string const replies = "$1\r\nA\r\n+PONG\r\n-ERR no\r\n$-1\r\n";
    for (std::size_t at = 0; at <= replies.size(); ++at) {
        pipeline q;
        auto qa = q.push(format_command({"GET", "a"}), 1, t0 + 1s);
        auto qb = q.push("x", 2, t0 + 1s);
        auto qc = q.push("y", 1, t0 + 1s);
        q.take_write();
        auto done = feed_split(q, replies, at);
        BOOST_TEST_REQUIRE(done.size() == 3u, "split at " << at);
        BOOST_TEST(done[0].id == qa);
        BOOST_TEST((done[0].replies == std::vector<rv>{rv::of_string("A")}));
        BOOST_TEST(done[1].id == qb);
        BOOST_TEST(
            (done[1].replies == std::vector<rv>{rv::of_status("PONG"), rv::of_error("ERR no")}));
        BOOST_TEST(done[2].id == qc);
        BOOST_TEST(done[2].replies.front().is_nil());
        BOOST_TEST(q.size() == 0u);
    }
    (void)a;
    (void)b;
    (void)c;
}

BOOST_AUTO_TEST_CASE(a_partial_reply_completes_nothing) {
    pipeline p;
    p.push("x", 2, t0 + 1s);
    p.take_write();
    auto r = p.on_read("+OK\r\n$5\r\nhel");
    BOOST_TEST(r.done.empty());
    BOOST_TEST(!r.broken.has_value());
    r = p.on_read("lo\r\n");
    BOOST_TEST_REQUIRE(r.done.size() == 1u);
    BOOST_TEST(r.done[0].replies[1].str == "hello");
}

BOOST_AUTO_TEST_CASE(a_reply_nobody_asked_for_breaks_the_stream) {
    pipeline p;
    auto id = p.push("x", 1, t0 + 1s);
    p.take_write();
    auto r = p.on_read(":1\r\n:2\r\n");
    BOOST_TEST_REQUIRE(r.done.size() == 1u);  // what completed before is kept
    BOOST_TEST(r.done[0].id == id);
    BOOST_TEST_REQUIRE(r.broken.has_value());
    BOOST_TEST((r.broken->code == make_error_code(state_error::protocol)));
}

BOOST_AUTO_TEST_CASE(requests_made_during_a_write_go_in_the_next_one) {
    pipeline p;
    p.push("A", 1, t0 + 1s);
    BOOST_TEST(p.take_write() == "A");
    p.push("B", 1, t0 + 2s);
    p.push("C", 1, t0 + 2s);
    BOOST_TEST(p.take_write() == "BC");
    BOOST_TEST(p.in_flight() == 3u);
}

BOOST_AUTO_TEST_CASE(deadlines_expire_queued_requests_and_flag_a_stuck_connection) {
    pipeline p;
    auto a = p.push("A", 1, t0 + 1s);
    p.take_write();
    auto b = p.push("B", 1, t0 + 2s);
    auto c = p.push("C", 1, t0 + 3s);
    BOOST_TEST((p.next_deadline() == t0 + 1s));
    auto e = p.expire(t0 + 500ms);
    BOOST_TEST(e.expired.empty());
    BOOST_TEST(!e.stuck);
    // The written request is overdue: the connection must be reset.
    e = p.expire(t0 + 1s);
    BOOST_TEST(e.stuck);
    BOOST_TEST(e.expired.empty());
    // Queued requests past their deadline are dropped one by one, never written.
    e = p.expire(t0 + 2s);
    BOOST_TEST((e.expired == std::vector<pipeline::id_type>{b}));
    BOOST_TEST(p.take_write() == "C");
    auto left = p.drain();
    BOOST_TEST((left == std::vector<pipeline::id_type>{a, c}));
    BOOST_TEST(p.size() == 0u);
    BOOST_TEST(!p.next_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(cancel_drops_an_unwritten_request_only) {
    pipeline p;
    auto a = p.push("A", 1, t0 + 1s);
    p.take_write();
    auto b = p.push("B", 1, t0 + 1s);
    p.cancel(b);
    p.cancel(a);  // written: its reply must still be read
    BOOST_TEST(!p.has_unwritten());
    BOOST_TEST(p.in_flight() == 1u);
    auto r = p.on_read(":7\r\n");
    BOOST_TEST_REQUIRE(r.done.size() == 1u);
    BOOST_TEST(r.done[0].id == a);
}

BOOST_AUTO_TEST_CASE(drain_resets_the_reader_for_a_new_connection) {
    pipeline p;
    p.push("A", 1, t0 + 1s);
    p.take_write();
    BOOST_TEST(p.on_read("$10\r\npart").done.empty());  // the connection broke mid-reply
    p.drain();
    auto id = p.push("B", 1, t0 + 2s);
    p.take_write();
    auto r = p.on_read("+OK\r\n");
    BOOST_TEST(!r.broken.has_value());
    BOOST_TEST_REQUIRE(r.done.size() == 1u);
    BOOST_TEST(r.done[0].id == id);
}

BOOST_AUTO_TEST_SUITE_END()
