// SPDX-License-Identifier: BSL-1.0
// The incremental SSE parser against the WHATWG event-stream rules, over every split of its input.
#include "codec/sse.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include <memory>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::test {

namespace {

using namespace std::string_view_literals;
using detail::sse_event;
using detail::sse_parser;

// An event as the parser dispatched it, comparable and printable.
struct ev {
    std::string event;
    std::string data;
    std::string id;
    std::optional<std::uint64_t> retry;

    friend bool operator==(ev const&, ev const&) = default;
    friend std::ostream& operator<<(std::ostream& os, ev const& e) {
        os << "{event='" << e.event << "' data='" << e.data << "' id='" << e.id << "' retry=";
        if (e.retry)
            os << *e.retry;
        else
            os << "none";
        return os << '}';
    }
};

struct outcome {
    std::vector<ev> events;
    bool partial = false;
    std::string last_id;

    friend bool operator==(outcome const&, outcome const&) = default;
    friend std::ostream& operator<<(std::ostream& os, outcome const& o) {
        os << '[';
        for (auto const& e : o.events)
            os << e << ' ';
        return os << "] partial=" << o.partial << " last_id='" << o.last_id << "'";
    }
};

outcome run(std::vector<std::string_view> const& pieces) {
    sse_parser p;
    outcome o;
    for (auto piece : pieces) {
        bool const ok = p.feed(piece, [&](sse_event const& e) {
            o.events.push_back({std::string(e.event), std::string(e.data), std::string(e.id), e.retry});
        });
        BOOST_REQUIRE(ok);
    }
    o.partial = p.has_partial_event();
    o.last_id = p.last_event_id();
    return o;
}

// Feeds `input` whole, in two pieces at every split point, and byte by byte; every way must
// give `expected`.
void check(std::string_view input, std::vector<ev> const& expected, bool partial = false) {
    outcome const whole = run({input});
    BOOST_TEST(whole.events == expected, "whole input: got " << whole);
    BOOST_TEST(whole.partial == partial);
    for (std::size_t k = 0; k <= input.size(); ++k) {
        outcome const split = run({input.substr(0, k), input.substr(k)});
        BOOST_TEST_CONTEXT("split at " << k) BOOST_TEST(split == whole);
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < input.size(); ++i)
        bytes.push_back(input.substr(i, 1));
    outcome const bytewise = run(bytes);
    BOOST_TEST(bytewise == whole, "byte by byte: got " << bytewise);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sse)

BOOST_AUTO_TEST_CASE(data_field) {
    check("data: hello\n\n", {{"", "hello", "", {}}});
    check("data: {\"a\":1}\n\ndata: [DONE]\n\n",
          {{"", "{\"a\":1}", "", {}}, {"", "[DONE]", "", {}}});
}

BOOST_AUTO_TEST_CASE(event_field) {
    check("event: message_start\ndata: {}\n\n", {{"message_start", "{}", "", {}}});
    // The type applies to one event only.
    check("event: ping\ndata: 1\n\ndata: 2\n\n", {{"ping", "1", "", {}}, {"", "2", "", {}}});
    // An event without data dispatches nothing, and its type does not leak into the next.
    check("event: lost\n\ndata: 3\n\n", {{"", "3", "", {}}});
}

BOOST_AUTO_TEST_CASE(id_persists) {
    check("id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
          {{"", "a", "7", {}}, {"", "b", "7", {}}, {"", "c", "", {}}});
    // An id set without data still counts for later events.
    check("id: 9\n\ndata: x\n\n", {{"", "x", "9", {}}});
    // An id containing NUL is ignored.
    check("id: 1\ndata: a\n\nid: 2\0z\ndata: b\n\n"sv, {{"", "a", "1", {}}, {"", "b", "1", {}}});
    outcome const o = run({"id: 42\ndata: x\n\n"});
    BOOST_TEST(o.last_id == "42");
}

BOOST_AUTO_TEST_CASE(retry_field) {
    check("retry: 1500\ndata: x\n\n", {{"", "x", "", 1500}});
    // Not all digits: ignored.
    check("retry: 15x\ndata: y\n\nretry: -1\ndata: z\n\nretry:\ndata: w\n\n",
          {{"", "y", "", {}}, {"", "z", "", {}}, {"", "w", "", {}}});
    // Retry belongs to the event it came with.
    check("retry: 10\ndata: a\n\ndata: b\n\n", {{"", "a", "", 10}, {"", "b", "", {}}});
}

BOOST_AUTO_TEST_CASE(comments) {
    check(": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: a\n\n", {{"", "a", "", {}}});
    // A comment between data lines does not end the event.
    check("data: a\n: keep-alive\ndata: b\n\n", {{"", "a\nb", "", {}}});
    check(":\n\n:no space\n\n", {});
}

BOOST_AUTO_TEST_CASE(multi_line_data) {
    check("data: a\ndata:\ndata: c\n\n", {{"", "a\n\nc", "", {}}});
    check("data: {\"x\":\ndata: 1}\n\n", {{"", "{\"x\":\n1}", "", {}}});
}

BOOST_AUTO_TEST_CASE(field_without_colon) {
    check("data\n\n", {{"", "", "", {}}});
    check("event\ndata: x\n\n", {{"", "x", "", {}}});
    check("data\ndata\n\n", {{"", "\n", "", {}}});
}

BOOST_AUTO_TEST_CASE(leading_space) {
    check("data:x\n\n", {{"", "x", "", {}}});
    // Only one space is removed.
    check("data:  x\n\n", {{"", " x", "", {}}});
    check("event:e\ndata:\tx\n\n", {{"e", "\tx", "", {}}});
    // A colon inside the value stays.
    check("data: a: b\n\n", {{"", "a: b", "", {}}});
}

BOOST_AUTO_TEST_CASE(unknown_field_ignored) {
    check("foo: bar\ndata: x\nDATA: y\n\n", {{"", "x", "", {}}});
}

BOOST_AUTO_TEST_CASE(line_endings) {
    check("data: a\rdata: b\r\rdata: c\r\n\r\ndata: d\n\n",
          {{"", "a\nb", "", {}}, {"", "c", "", {}}, {"", "d", "", {}}});
    // Mixed in one event.
    check("data: 1\r\ndata: 2\rdata: 3\n\r\n", {{"", "1\n2\n3", "", {}}});
    // CR CR is two line ends (a blank line), not one.
    check("data: x\r\r", {{"", "x", "", {}}});
    // LF CR is two line ends too.
    check("data: y\n\r", {{"", "y", "", {}}});
}

BOOST_AUTO_TEST_CASE(crlf_split_across_feeds) {
    // The CR ends one feed and its LF starts the next: one line end, not two.
    outcome const o = run({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
    BOOST_TEST(o.events == (std::vector<ev>{{"", "a\nb", "", {}}}), o);
    BOOST_TEST(!o.partial);
    // An empty feed between the CR and the LF changes nothing.
    outcome const e = run({"data: a\r", "", "\n\r\n"});
    BOOST_TEST(e.events == (std::vector<ev>{{"", "a", "", {}}}), e);
    // A CR at the end of a feed followed by a CR: a blank line.
    outcome const c = run({"data: a\r", "\r"});
    BOOST_TEST(c.events == (std::vector<ev>{{"", "a", "", {}}}), c);
}

BOOST_AUTO_TEST_CASE(byte_order_mark) {
    check("\xEF\xBB\xBF"
          "data: a\n\n",
          {{"", "a", "", {}}});
    // Only at the very start: later it is part of a field name, which is unknown.
    check("data: a\n\n\xEF\xBB\xBF"
          "data: b\n\n",
          {{"", "a", "", {}}});
    // Only one BOM is removed.
    check("\xEF\xBB\xBF\xEF\xBB\xBF"
          "data: c\n\ndata: d\n\n",
          {{"", "d", "", {}}});
    // A prefix of a BOM that is not one is data.
    check("\xEF"
          "data: e\n\n",
          {});
    check("\xEF\xBB", {}, true);
}

BOOST_AUTO_TEST_CASE(blank_lines_dispatch_nothing) {
    check("\n\n\r\n\r\r\n", {});
    check("\n\ndata: a\n\n\n\n", {{"", "a", "", {}}});
}

BOOST_AUTO_TEST_CASE(empty_data) {
    check("data:\n\n", {{"", "", "", {}}});
    check("data: \n\n", {{"", "", "", {}}});
    check("data\n\ndata: x\n\n", {{"", "", "", {}}, {"", "x", "", {}}});
}

BOOST_AUTO_TEST_CASE(partial_event) {
    check("data: a\n\ndata: b", {{"", "a", "", {}}}, true);
    check("data: a\n\ndata: b\n", {{"", "a", "", {}}}, true);
    check("data: a\n\nevent: x\n", {{"", "a", "", {}}}, true);
    check("data: a\n\n", {{"", "a", "", {}}}, false);
    check(": comment\n", {}, false);
    check(": comm", {}, true);
    check("", {}, false);
}

BOOST_AUTO_TEST_CASE(line_cap) {
    {
        sse_parser p(16);
        int n = 0;
        auto on = [&](sse_event const&) { ++n; };
        BOOST_TEST(p.feed("data: 0123456789\n\n", on));  // 16 bytes: at the cap
        BOOST_TEST(n == 1);
        BOOST_TEST(!p.feed("data: 0123456789A\n\n", on));  // 17
        BOOST_TEST(!p.feed("data: x\n\n", on));            // unusable afterwards
        BOOST_TEST(n == 1);
    }
    {
        // A long line fed in pieces without a newline hits the cap too.
        sse_parser p(16);
        bool ok = true;
        for (int i = 0; i < 20 && ok; ++i)
            ok = p.feed("a", [](sse_event const&) {});
        BOOST_TEST(!ok);
    }
    {
        // The cap is per line, not per event.
        sse_parser p(16);
        int n = 0;
        BOOST_TEST(p.feed("data: 0123456789\ndata: 0123456789\n\n", [&](sse_event const& e) {
            ++n;
            BOOST_TEST(e.data == "0123456789\n0123456789");
        }));
        BOOST_TEST(n == 1);
    }
}

// The parser hands an event's single data line over as a view of the fed bytes; an event
// still unfinished when a feed ends must not point into bytes the caller then reuses (the
// transport reads the next bytes into the same buffer).
BOOST_AUTO_TEST_CASE(an_unfinished_event_survives_its_buffer) {
    sse_parser p;
    std::vector<ev> got;
    auto on = [&](sse_event const& e) {
        got.push_back({std::string(e.event), std::string(e.data), std::string(e.id), e.retry});
    };
    std::string buffer = "data: first\n\ndata: {\"a\":1}\nid: 7";
    BOOST_TEST_REQUIRE(p.feed(buffer, on));
    buffer.assign(buffer.size(), 'X');  // the caller reuses its buffer
    buffer = "\n\ndata: one\n";
    BOOST_TEST_REQUIRE(p.feed(buffer, on));
    buffer.assign(buffer.size(), 'Y');
    buffer = "data: two\n\n";
    BOOST_TEST_REQUIRE(p.feed(buffer, on));
    BOOST_TEST(got == (std::vector<ev>{{"", "first", "", {}},
                                       {"", "{\"a\":1}", "7", {}},
                                       {"", "one\ntwo", "7", {}}}));
    BOOST_TEST(!p.has_partial_event());
}

// A callback that throws leaves the parser failed (it refuses further bytes) and holding
// nothing of the bytes it was fed.
BOOST_AUTO_TEST_CASE(a_throwing_callback_fails_the_parser) {
    sse_parser p;
    auto buffer = std::make_unique<std::string>("data: one\n\ndata: two");
    BOOST_CHECK_THROW(p.feed(*buffer, [](sse_event const&) { throw std::runtime_error("x"); }),
                      std::runtime_error);
    buffer.reset();  // (ASan: a view into it would be read below)
    int n = 0;
    BOOST_TEST(!p.feed("\n\n", [&](sse_event const&) { ++n; }));
    p.flush([&](sse_event const&) { ++n; });
    BOOST_TEST(n == 0);
}

BOOST_AUTO_TEST_CASE(openai_stream_fixture) {
    // A realistic mix: comments, usage chunk, [DONE], CRLF ends.
    constexpr auto input = ": OPENROUTER PROCESSING\r\n\r\n"
                           "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\r\n\r\n"
                           "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\r\n\r\n"
                           "data: [DONE]\r\n\r\n"sv;
    check(input, {{"", "{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}", "", {}},
                  {"", "{\"choices\":[],\"usage\":{\"prompt_tokens\":1}}", "", {}},
                  {"", "[DONE]", "", {}}});
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
