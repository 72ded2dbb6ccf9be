// SPDX-License-Identifier: BSL-1.0
// The AWS `application/vnd.amazon.eventstream` binary framing (Bedrock ConverseStream and
// InvokeModelWithResponseStream). Layout and limits: PROVIDERS.md 6.3, botocore eventstream.py,
// awslabs/aws-c-event-stream.
#pragma once

#include <llmux/error.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmux::detail {

/// Header value type 6: a byte array (distinct from type 7, a UTF-8 string).
struct event_bytes {
    std::string_view value;
    friend bool operator==(event_bytes const&, event_bytes const&) = default;
};

/// Header value type 8: milliseconds since the Unix epoch.
struct event_timestamp {
    std::chrono::sys_time<std::chrono::milliseconds> value;
    friend bool operator==(event_timestamp const&, event_timestamp const&) = default;
};

/// Header value type 9: a UUID's 16 raw bytes.
struct event_uuid {
    std::array<unsigned char, 16> value{};
    friend bool operator==(event_uuid const&, event_uuid const&) = default;
};

/** @brief A typed header value. The alternative index maps to the wire type: `bool` is type 0
    (true) or 1 (false); alternative `i >= 1` is type `i + 1` (int8 = 2 ... uuid = 9).
    Strings and byte arrays are views: see `event_message` for their lifetime.
*/
using event_header_value = std::variant<bool, std::int8_t, std::int16_t, std::int32_t, std::int64_t,
                                        event_bytes, std::string_view, event_timestamp, event_uuid>;

/// @brief One header: a name (1 to 255 bytes on the wire) and a typed value.
struct event_header {
    std::string_view name;
    event_header_value value;
};

/** @brief A decoded message: headers in wire order and the payload.

    @par Object lifetimes
    A view into the decoder's buffer or the bytes being fed: valid only until the callback that
    received it returns (or, with `next`, until the next call on the decoder). Copy what must
    outlive it.
*/
struct event_message {
    std::span<event_header const> headers;
    std::string_view payload;

    /// The value of header `name`, or null if absent.
    event_header_value const* find(std::string_view name) const noexcept;
    /// The value of string header `name` (type 7), or empty if absent or of another type.
    std::string_view string_header(std::string_view name) const noexcept;
};

/// Limits from botocore: headers at most 128 KiB, payload at most 24 MiB.
inline constexpr std::size_t event_stream_max_headers = std::size_t(128) * 1024;
inline constexpr std::size_t event_stream_max_payload = std::size_t(24) * 1024 * 1024;
/// Prelude (total length, headers length, prelude CRC) plus the trailing message CRC.
inline constexpr std::size_t event_stream_overhead = 16;

/** @brief An incremental event-stream decoder over bytes split anywhere.

    A frame that arrives whole inside one `feed` is decoded in place, without copying; only a
    frame split across feeds is gathered in an internal buffer, which is reused. The prelude is
    checked (CRC, then limits) as soon as its 12 bytes are in, so a corrupt length never makes
    the decoder wait for or buffer megabytes.

    @par Errors
    `error::protocol_error` with a message naming the problem: "prelude CRC mismatch",
    "message CRC mismatch", a length over a limit, a malformed or duplicate header. Errors are
    sticky: every later call returns the same failure. `finish` reports `error::truncated` when
    the stream ended inside a frame.
    @par Thread safety
    Distinct objects: safe. Shared objects: unsafe.
*/
class event_stream_decoder {
public:
    /** @brief Decodes every complete message in `bytes`, calling `on_message(event_message
        const&)` for each, and buffers the remainder.
        @return success, or the first failure (then no further messages are delivered).
    */
    template <class OnMessage>
    result<void> feed(std::string_view bytes, OnMessage&& on_message) {
        for (;;) {
            auto r = next(bytes);
            if (!r) return r.error();
            if (*r == nullptr) return {};
            on_message(static_cast<event_message const&>(**r));
        }
    }

    /** @brief Pull form of `feed`: consumes bytes from the front of `bytes` up to the end of
        the next complete message and returns it, or returns null once `bytes` is used up
        (buffered) without completing one.
    */
    result<event_message const*> next(std::string_view& bytes);

    /// True when bytes of an unfinished message are buffered (a stream cut mid-frame).
    bool has_partial_message() const noexcept { return !release_ && !buffer_.empty(); }

    /// Call at end of stream: `error::truncated` if a message was cut, else the sticky failure
    /// if any, else success.
    result<void> finish() const;

private:
    result<void> check_prelude(std::string_view prelude);
    result<event_message const*> decode_frame(std::string_view frame);
    result<void> fail(failure f);

    std::string buffer_;                 // a frame gathered across feeds
    std::vector<event_header> headers_;  // reused between messages
    event_message message_;
    std::uint32_t total_ = 0;  // total length of the frame in buffer_, once known
    bool release_ = false;     // buffer_ held the last message: clear it first
    bool failed_ = false;
    failure failure_;
};

/** @brief Encodes one message (for the emulator and tests).

    @par Errors
    Throws `std::length_error` on misuse: a header name empty or over 255 bytes, a string or
    byte array over 65535 bytes, or headers or payload over the limits above.
*/
std::string encode_message(std::span<event_header const> headers, std::string_view payload);

/// @brief `encode_message({{":message-type", std::string_view("event")}, ...}, payload)`.
inline std::string encode_message(std::initializer_list<event_header> headers,
                                  std::string_view payload) {
    return encode_message(std::span<event_header const>(headers.begin(), headers.size()), payload);
}

/// @brief Appends the encoding of one message to `out`; same contract as `encode_message`.
void encode_message_to(std::string& out, std::span<event_header const> headers,
                       std::string_view payload);

}  // namespace llmux::detail
