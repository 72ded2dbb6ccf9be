// SPDX-License-Identifier: BSL-1.0
// AWS event-stream framing: the PROVIDERS.md 6.3 example frame, the aws-c-event-stream vectors,
// a frame with every header type (built independently in Python and decoded by botocore),
// splits at every byte, and every way a frame can be corrupt, oversized or cut.
#include "codec/event_stream.hpp"
#include "util/crypto.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using llmux::detail::encode_message;
using llmux::detail::event_bytes;
using llmux::detail::event_header;
using llmux::detail::event_message;
using llmux::detail::event_stream_decoder;
using llmux::detail::event_timestamp;
using llmux::detail::event_uuid;

std::string unhex(std::string_view hex) {
    std::string compact;
    for (char c : hex)
        if (c != ' ' && c != '\n') compact.push_back(c);
    auto r = llmux::detail::hex_decode(compact);
    BOOST_TEST_REQUIRE(r.has_value());
    return *r;
}

// PROVIDERS.md 6.3 (decodes with botocore's parser).
std::string const example_frame = unhex(
    "00000094 00000057 b4ab9aee"
    "0b 3a6576656e742d74797065 07 0011 636f6e74656e74426c6f636b44656c7461"
    "0d 3a636f6e74656e742d74797065 07 0010 6170706c69636174696f6e2f6a736f6e"
    "0d 3a6d6573736167652d74797065 07 0005 6576656e74"
    "7b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a224869227d7d"
    "1f944657");
constexpr std::string_view example_payload = R"({"contentBlockIndex":0,"delta":{"text":"Hi"}})";

// aws-c-event-stream test vectors.
std::string const empty_frame = unhex("00000010 00000000 05c248eb 7d98c8ff");
std::string const foo_frame =
    unhex("0000001d 00000000 fd528c5a") + "{'foo':'bar'}" + unhex("c3653936");

// Every header type, built with Python's struct and zlib and decoded by botocore 1.43 as
// {'bool-true': True, 'bool-false': False, 'byte': -49, 'short': -12345, 'int': -2000000000,
//  'long': -1234567890123, 'bytes': b'\x00\xffbin', 'string': 'héllo',
//  'timestamp': 1705320000123, 'uuid': bytes(range(16))}, payload b'{"x":1}'.
std::string const all_types_frame =
    unhex("0000009c00000085ec0662d709626f6f6c2d74727565000a626f6f6c2d66616c"
          "736501046279746502cf0573686f727403cfc703696e740488ca6c00046c6f6e"
          "6705fffffee08e04fb3505627974657306000500ff62696e06737472696e6707"
          "000668c3a96c6c6f0974696d657374616d70080000018d0cfe2a7b0475756964"
          "09000102030405060708090a0b0c0d0e0f7b2278223a317d55709916");

event_uuid counting_uuid() {
    event_uuid u;
    for (unsigned i = 0; i < 16; ++i)
        u.value[i] = static_cast<unsigned char>(i);
    return u;
}

std::vector<event_header> all_types_headers() {
    using ms = std::chrono::milliseconds;
    return {
        {"bool-true", true},
        {"bool-false", false},
        {"byte", std::int8_t(-49)},
        {"short", std::int16_t(-12345)},
        {"int", std::int32_t(-2000000000)},
        {"long", std::int64_t(-1234567890123)},
        {"bytes", event_bytes{std::string_view("\x00\xff"
                                               "bin",
                                               5)}},
        {"string", std::string_view("h\xc3\xa9llo")},
        {"timestamp", event_timestamp{std::chrono::sys_time<ms>(ms(1705320000123))}},
        {"uuid", counting_uuid()},
    };
}

// A text form of a message, so messages from different decodes compare as strings.
std::string describe(event_message const& m) {
    std::ostringstream os;
    for (auto const& h : m.headers) {
        os << h.name << '#' << h.value.index() << '=';
        std::visit(
            [&]<class T>(T const& v) {
                if constexpr (std::is_same_v<T, event_bytes>)
                    os << llmux::detail::hex_encode(v.value);
                else if constexpr (std::is_same_v<T, std::string_view>)
                    os << v;
                else if constexpr (std::is_same_v<T, event_timestamp>)
                    os << v.value.time_since_epoch().count();
                else if constexpr (std::is_same_v<T, event_uuid>)
                    os << llmux::detail::hex_encode(std::string_view(
                        reinterpret_cast<char const*>(v.value.data()), v.value.size()));
                else
                    os << static_cast<std::int64_t>(v);
            },
            h.value);
        os << '\n';
    }
    os << "payload=" << llmux::detail::hex_encode(m.payload);
    return os.str();
}

// Feeds `chunks` in order; returns the described messages and the first failure, if any.
struct decode_outcome {
    std::vector<std::string> messages;
    std::optional<llmux::failure> error;
    bool partial = false;
};

decode_outcome decode_chunks(std::vector<std::string_view> const& chunks) {
    decode_outcome out;
    event_stream_decoder d;
    for (auto chunk : chunks) {
        auto r =
            d.feed(chunk, [&](event_message const& m) { out.messages.push_back(describe(m)); });
        if (!r) {
            out.error = r.error();
            break;
        }
    }
    out.partial = d.has_partial_message();
    if (!out.error)
        if (auto f = d.finish(); !f) out.error = f.error();
    return out;
}

decode_outcome decode_all(std::string_view bytes) {
    return decode_chunks({bytes});
}

void write_u32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

// A prelude with a correct CRC, whatever the lengths claim.
std::string prelude(std::uint32_t total, std::uint32_t headers) {
    std::string p;
    write_u32(p, total);
    write_u32(p, headers);
    write_u32(p, llmux::detail::crc32(p));
    return p;
}

// A frame with correct CRCs around raw header bytes, to test the header parser.
std::string frame_with_raw_headers(std::string_view headers, std::string_view payload) {
    std::string f = prelude(static_cast<std::uint32_t>(16 + headers.size() + payload.size()),
                            static_cast<std::uint32_t>(headers.size()));
    f.append(headers);
    f.append(payload);
    write_u32(f, llmux::detail::crc32(f));
    return f;
}

void check_error(decode_outcome const& o, llmux::error code, std::string_view part) {
    BOOST_TEST_REQUIRE(o.error.has_value());
    BOOST_TEST(o.error->code == code);
    BOOST_TEST(o.error->diag.message.find(part) != std::string::npos, o.error->diag.message);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(event_stream)

BOOST_AUTO_TEST_CASE(example_frame_decodes) {
    BOOST_TEST(example_frame.size() == 148u);
    event_stream_decoder d;
    int count = 0;
    auto r = d.feed(example_frame, [&](event_message const& m) {
        ++count;
        BOOST_TEST_REQUIRE(m.headers.size() == 3u);
        BOOST_TEST(m.headers[0].name == ":event-type");
        BOOST_TEST(m.headers[1].name == ":content-type");
        BOOST_TEST(m.headers[2].name == ":message-type");
        BOOST_TEST(m.string_header(":event-type") == "contentBlockDelta");
        BOOST_TEST(m.string_header(":content-type") == "application/json");
        BOOST_TEST(m.string_header(":message-type") == "event");
        BOOST_TEST(m.headers[0].value.index() == 6u);  // wire type 7, a string
        BOOST_TEST(m.payload == example_payload);
        BOOST_TEST(m.payload.size() == 45u);
        BOOST_TEST(m.find(":exception-type") == nullptr);
        BOOST_TEST(m.string_header(":exception-type").empty());
    });
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(count == 1);
    BOOST_TEST(!d.has_partial_message());
    BOOST_TEST(d.finish().has_value());
}

BOOST_AUTO_TEST_CASE(example_frame_encodes_byte_exact) {
    std::string const bytes =
        encode_message({{":event-type", std::string_view("contentBlockDelta")},
                        {":content-type", std::string_view("application/json")},
                        {":message-type", std::string_view("event")}},
                       example_payload);
    BOOST_TEST(llmux::detail::hex_encode(bytes) == llmux::detail::hex_encode(example_frame));
    // Appending form: two messages back to back.
    std::string out;
    std::vector<event_header> const none;
    llmux::detail::encode_message_to(out, none, "");
    llmux::detail::encode_message_to(out, none, "{'foo':'bar'}");
    BOOST_TEST((out == empty_frame + foo_frame));
}

BOOST_AUTO_TEST_CASE(aws_c_event_stream_vectors) {
    std::vector<event_header> const none;
    BOOST_TEST(llmux::detail::hex_encode(encode_message(none, "")) ==
               "000000100000000005c248eb7d98c8ff");
    BOOST_TEST((encode_message(none, "{'foo':'bar'}") == foo_frame));

    auto const empty = decode_all(empty_frame);
    BOOST_TEST(!empty.error.has_value());
    BOOST_TEST_REQUIRE(empty.messages.size() == 1u);
    BOOST_TEST(empty.messages[0] == "payload=");

    event_stream_decoder d;
    int count = 0;
    BOOST_TEST(d.feed(foo_frame, [&](event_message const& m) {
                    ++count;
                    BOOST_TEST(m.headers.empty());
                    BOOST_TEST(m.payload == "{'foo':'bar'}");
                }).has_value());
    BOOST_TEST(count == 1);
}

BOOST_AUTO_TEST_CASE(every_header_type) {
    event_stream_decoder d;
    int count = 0;
    auto r = d.feed(all_types_frame, [&](event_message const& m) {
        ++count;
        BOOST_TEST_REQUIRE(m.headers.size() == 10u);
        BOOST_TEST(std::get<bool>(*m.find("bool-true")) == true);
        BOOST_TEST(std::get<bool>(*m.find("bool-false")) == false);
        BOOST_TEST(std::get<std::int8_t>(*m.find("byte")) == -49);
        BOOST_TEST(std::get<std::int16_t>(*m.find("short")) == -12345);
        BOOST_TEST(std::get<std::int32_t>(*m.find("int")) == -2000000000);
        BOOST_TEST(std::get<std::int64_t>(*m.find("long")) == -1234567890123);
        BOOST_TEST(std::get<event_bytes>(*m.find("bytes")).value == std::string_view("\x00\xff"
                                                                                     "bin",
                                                                                     5));
        BOOST_TEST(m.string_header("string") == "h\xc3\xa9llo");
        BOOST_TEST(m.string_header("bytes").empty());  // a byte array is not a string
        BOOST_TEST(
            std::get<event_timestamp>(*m.find("timestamp")).value.time_since_epoch().count() ==
            1705320000123);
        BOOST_TEST((std::get<event_uuid>(*m.find("uuid")) == counting_uuid()));
        BOOST_TEST(m.payload == R"({"x":1})");
    });
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(count == 1);

    auto const headers = all_types_headers();
    BOOST_TEST(llmux::detail::hex_encode(encode_message(headers, R"({"x":1})")) ==
               llmux::detail::hex_encode(all_types_frame));
}

BOOST_AUTO_TEST_CASE(encode_decode_round_trips) {
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int> byte(0, 255);
    auto random_text = [&](std::size_t n) {
        std::string s(n, '\0');
        for (auto& c : s)
            c = static_cast<char>(byte(rng));
        return s;
    };
    std::size_t const sizes[] = {0, 1, 2, 15, 16, 17, 255, 4096, 70000, 1 << 20};
    std::string stream;
    std::vector<std::string> expected;
    std::vector<std::string> storage;  // keeps header strings alive
    storage.reserve(64);
    for (std::size_t size : sizes) {
        std::string const payload = random_text(size);
        storage.push_back(random_text(size % 300));
        std::vector<event_header> headers = all_types_headers();
        headers.push_back({":random", std::string_view(storage.back())});
        headers.push_back({"raw", event_bytes{std::string_view(storage.back())}});
        std::string const frame = encode_message(headers, payload);
        auto const one = decode_all(frame);
        BOOST_TEST_REQUIRE(!one.error.has_value());
        BOOST_TEST_REQUIRE(one.messages.size() == 1u);
        event_message const m{headers, payload};
        BOOST_TEST(one.messages[0] == describe(m));
        expected.push_back(describe(m));
        stream += frame;
    }
    // All of them in one feed, then in 4 KiB chunks.
    auto const whole = decode_all(stream);
    BOOST_TEST(!whole.error.has_value());
    BOOST_TEST((whole.messages == expected));
    std::vector<std::string_view> chunks;
    for (std::size_t i = 0; i < stream.size(); i += 4096)
        chunks.push_back(std::string_view(stream).substr(i, 4096));
    auto const chunked = decode_chunks(chunks);
    BOOST_TEST(!chunked.error.has_value());
    BOOST_TEST((chunked.messages == expected));
}

BOOST_AUTO_TEST_CASE(every_split_point) {
    std::string const stream = example_frame + empty_frame + all_types_frame + foo_frame;
    auto const reference = decode_all(stream);
    BOOST_TEST_REQUIRE(!reference.error.has_value());
    BOOST_TEST_REQUIRE(reference.messages.size() == 4u);

    for (std::size_t i = 0; i <= stream.size(); ++i) {
        std::string_view const s = stream;
        auto const split = decode_chunks({s.substr(0, i), s.substr(i)});
        BOOST_TEST_REQUIRE(!split.error.has_value(), "split at " << i);
        BOOST_TEST_REQUIRE((split.messages == reference.messages), "split at " << i);
    }
    // Two cuts: every pair inside the example frame.
    for (std::size_t i = 0; i <= example_frame.size(); ++i)
        for (std::size_t j = i; j <= example_frame.size(); ++j) {
            std::string_view const s = example_frame;
            auto const split = decode_chunks({s.substr(0, i), s.substr(i, j - i), s.substr(j)});
            BOOST_TEST_REQUIRE(
                (split.messages.size() == 1u && split.messages[0] == reference.messages[0]),
                "cuts at " << i << ", " << j);
        }
}

BOOST_AUTO_TEST_CASE(byte_by_byte) {
    std::string const stream = example_frame + foo_frame + example_frame;
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < stream.size(); ++i)
        bytes.push_back(std::string_view(stream).substr(i, 1));
    auto const o = decode_chunks(bytes);
    BOOST_TEST(!o.error.has_value());
    BOOST_TEST((o.messages == decode_all(stream).messages));
    BOOST_TEST(o.messages.size() == 3u);

    // Partial state is reported between bytes.
    event_stream_decoder d;
    std::size_t delivered = 0;
    for (std::size_t i = 0; i < example_frame.size(); ++i) {
        BOOST_TEST_REQUIRE(
            d.feed(std::string_view(example_frame).substr(i, 1), [&](event_message const&) {
                 ++delivered;
             }).has_value());
        bool const last = i + 1 == example_frame.size();
        BOOST_TEST(d.has_partial_message() == !last);
    }
    BOOST_TEST(delivered == 1u);
}

BOOST_AUTO_TEST_CASE(whole_frames_are_not_copied) {
    event_stream_decoder d;
    std::string const stream = example_frame + foo_frame;
    char const* const begin = stream.data();
    char const* const end = begin + stream.size();
    int count = 0;
    BOOST_TEST(d.feed(stream, [&](event_message const& m) {
                    ++count;
                    BOOST_TEST((m.payload.data() >= begin && m.payload.data() < end));
                }).has_value());
    BOOST_TEST(count == 2);
}

BOOST_AUTO_TEST_CASE(pull_interface) {
    std::string const stream = example_frame + foo_frame.substr(0, 20);
    std::string_view rest = stream;
    event_stream_decoder d;
    auto r = d.next(rest);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST_REQUIRE(*r != nullptr);
    BOOST_TEST((*r)->payload == example_payload);
    BOOST_TEST(rest.size() == 20u);  // consumed exactly one frame
    r = d.next(rest);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(*r == nullptr);
    BOOST_TEST(rest.empty());
    BOOST_TEST(d.has_partial_message());
    std::string_view tail = std::string_view(foo_frame).substr(20);
    r = d.next(tail);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST_REQUIRE(*r != nullptr);
    BOOST_TEST((*r)->payload == "{'foo':'bar'}");
    BOOST_TEST(!d.has_partial_message());
    BOOST_TEST(d.finish().has_value());
}

BOOST_AUTO_TEST_CASE(corrupted_prelude_crc) {
    for (std::size_t byte : {0u, 3u, 5u, 7u, 8u, 11u}) {
        std::string bad = example_frame;
        bad[byte] = static_cast<char>(bad[byte] ^ 0x01);
        check_error(decode_all(bad), llmux::error::protocol_error, "prelude CRC mismatch");
        // Detected from the prelude alone, without waiting for the claimed length.
        check_error(decode_all(std::string_view(bad).substr(0, 12)), llmux::error::protocol_error,
                    "prelude CRC mismatch");
    }
}

BOOST_AUTO_TEST_CASE(corrupted_message_crc) {
    // In a header name, a header value, the payload, and the CRC itself.
    for (std::size_t byte : {13u, 30u, 110u, 147u}) {
        std::string bad = example_frame;
        bad[byte] = static_cast<char>(bad[byte] ^ 0x20);
        auto const o = decode_all(bad);
        check_error(o, llmux::error::protocol_error, "message CRC mismatch");
        BOOST_TEST(o.messages.empty());
    }
}

BOOST_AUTO_TEST_CASE(oversized_and_inconsistent_lengths) {
    using llmux::detail::event_stream_max_headers;
    using llmux::detail::event_stream_max_payload;
    auto const max_h = static_cast<std::uint32_t>(event_stream_max_headers);
    auto const max_p = static_cast<std::uint32_t>(event_stream_max_payload);
    check_error(decode_all(prelude(16 + max_h + 1, max_h + 1)), llmux::error::protocol_error,
                "headers length 131073 exceeds");
    check_error(decode_all(prelude(16 + max_p + 1, 0)), llmux::error::protocol_error,
                "payload length 25165825 exceeds");
    check_error(decode_all(prelude(0xFFFFFFFFu, 0)), llmux::error::protocol_error,
                "payload length");
    check_error(decode_all(prelude(15, 0)), llmux::error::protocol_error, "less than 16");
    check_error(decode_all(prelude(0, 0)), llmux::error::protocol_error, "less than 16");
    check_error(decode_all(prelude(20, 5)), llmux::error::protocol_error, "does not fit");

    // Exactly at the limits the prelude is accepted: the decoder waits for the rest.
    auto const at_limits = decode_all(prelude(16 + max_h + max_p, max_h));
    BOOST_TEST(at_limits.partial);
    check_error(at_limits, llmux::error::truncated, "ended inside a message");
}

BOOST_AUTO_TEST_CASE(truncated_streams) {
    for (std::size_t cut : {1u, 4u, 11u, 12u, 13u, 100u, 147u}) {
        auto const o = decode_all(std::string_view(example_frame).substr(0, cut));
        BOOST_TEST(o.messages.empty());
        BOOST_TEST(o.partial);
        check_error(o, llmux::error::truncated, "ended inside a message");
    }
    // A complete message, then a cut one: the first is delivered, the end is still an error.
    std::string const stream = example_frame + foo_frame.substr(0, 10);
    auto const o = decode_all(stream);
    BOOST_TEST(o.messages.size() == 1u);
    check_error(o, llmux::error::truncated, "10 bytes");

    // Nothing at all, or only whole messages: a clean end.
    BOOST_TEST(!decode_all("").error.has_value());
    BOOST_TEST(!decode_all(example_frame + empty_frame).error.has_value());
}

BOOST_AUTO_TEST_CASE(malformed_headers) {
    struct bad_case {
        std::string headers;
        std::string_view expect;
    };
    bad_case const cases[] = {
        {std::string("\x01"
                     "a"
                     "\x0a",
                     3),
         "unknown type 10"},
        {std::string("\x01"
                     "a"
                     "\x07\x00\x09"
                     "short",
                     10),
         "runs past the end"},
        {std::string("\x01"
                     "a"
                     "\x04\x00\x00",
                     5),
         "runs past the end"},
        {std::string("\x01"
                     "a"
                     "\x09\x00\x01\x02",
                     6),
         "runs past the end"},
        {std::string("\x05"
                     "ab",
                     3),
         "name runs past"},
        {std::string("\x01"
                     "a",
                     2),
         "name runs past"},  // no type byte
        {std::string("\x00\x00", 2), "empty name"},
        {std::string("\x01"
                     "a"
                     "\x00"
                     "\x01"
                     "a"
                     "\x01",
                     6),
         "duplicate header 'a'"},
    };
    for (auto const& c : cases)
        check_error(decode_all(frame_with_raw_headers(c.headers, "{}")),
                    llmux::error::protocol_error, c.expect);

    // Duplicates among many headers (the sorted path).
    std::vector<std::string> names;
    for (int i = 0; i < 40; ++i)
        names.push_back("h" + std::to_string(i));
    names.push_back("h7");
    std::vector<event_header> many;
    for (auto const& n : names)
        many.push_back({n, true});
    check_error(decode_all(encode_message(many, "")), llmux::error::protocol_error,
                "duplicate header 'h7'");
    many.pop_back();
    auto const fine = decode_all(encode_message(many, ""));
    BOOST_TEST(!fine.error.has_value());
    BOOST_TEST(fine.messages.size() == 1u);
}

BOOST_AUTO_TEST_CASE(random_corruption_is_split_independent) {
    // Whatever the damage, the decoder's verdict must not depend on how bytes were split, and
    // messages before the damage are still delivered.
    std::string const stream = example_frame + all_types_frame + foo_frame + empty_frame;
    std::mt19937 rng(99);
    std::uniform_int_distribution<std::size_t> pos(0, stream.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<std::size_t> chunk(1, 40);
    for (int i = 0; i < 3000; ++i) {
        std::string bad = stream;
        int const flips = 1 + i % 3;
        for (int k = 0; k < flips; ++k)
            bad[pos(rng)] = static_cast<char>(byte(rng));
        if (i % 5 == 0) bad.resize(pos(rng));  // also cut it short
        std::vector<std::string_view> chunks;
        for (std::size_t at = 0; at < bad.size();) {
            std::size_t const n = std::min(chunk(rng), bad.size() - at);
            chunks.push_back(std::string_view(bad).substr(at, n));
            at += n;
        }
        auto const whole = decode_all(bad);
        auto const split = decode_chunks(chunks);
        BOOST_TEST_REQUIRE((whole.messages == split.messages), "iteration " << i);
        BOOST_TEST_REQUIRE(whole.error.has_value() == split.error.has_value(), "iteration " << i);
        if (whole.error) {
            BOOST_TEST_REQUIRE(whole.error->code == split.error->code, "iteration " << i);
            BOOST_TEST_REQUIRE(whole.error->diag.message == split.error->diag.message,
                               "iteration " << i);
        }
    }
}

BOOST_AUTO_TEST_CASE(errors_are_sticky) {
    std::string bad = example_frame;
    bad[120] = static_cast<char>(bad[120] ^ 1);
    event_stream_decoder d;
    int count = 0;
    auto const on_message = [&](event_message const&) { ++count; };
    BOOST_TEST_REQUIRE(d.feed(example_frame, on_message).has_value());
    auto r = d.feed(bad, on_message);
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().code == llmux::error::protocol_error);
    r = d.feed(example_frame, on_message);
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().diag.message.find("message CRC mismatch") != std::string::npos);
    BOOST_TEST(count == 1);
    BOOST_TEST(d.finish().has_error());
}

BOOST_AUTO_TEST_CASE(encoder_rejects_misuse) {
    std::string const long_name(256, 'n');
    std::string const long_value(65536, 'v');
    std::string const big_payload(llmux::detail::event_stream_max_payload + 1, 'p');
    BOOST_CHECK_THROW(encode_message({{long_name, true}}, ""), std::length_error);
    BOOST_CHECK_THROW(encode_message({{"", true}}, ""), std::length_error);
    BOOST_CHECK_THROW(encode_message({{"s", std::string_view(long_value)}}, ""), std::length_error);
    BOOST_CHECK_THROW(encode_message({{"b", event_bytes{long_value}}}, ""), std::length_error);
    BOOST_CHECK_THROW(encode_message({}, big_payload), std::length_error);
    // The largest allowed sizes work.
    std::string const name255(255, 'n');
    std::string const value65535(65535, 'v');
    auto const o = decode_all(encode_message({{name255, std::string_view(value65535)}}, ""));
    BOOST_TEST(!o.error.has_value());
    BOOST_TEST(o.messages.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
