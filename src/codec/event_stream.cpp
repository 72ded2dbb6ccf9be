// SPDX-License-Identifier: BSL-1.0
#include "codec/event_stream.hpp"

#include "util/crypto.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace llmux::detail {

namespace {

constexpr std::size_t prelude_size = 12;

std::uint32_t read_u32(std::string_view s, std::size_t at) noexcept {
    auto const* p = reinterpret_cast<unsigned char const*>(s.data() + at);
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
           std::uint32_t(p[3]);
}

std::uint64_t read_be(std::string_view s, std::size_t at, std::size_t n) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
        v = (v << 8) | static_cast<unsigned char>(s[at + i]);
    return v;
}

void write_be(std::string& out, std::uint64_t v, std::size_t n) {
    for (std::size_t i = n; i-- > 0;)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::string hex32(std::uint32_t v) {
    constexpr char digits[] = "0123456789abcdef";
    std::string out = "0x";
    for (int shift = 28; shift >= 0; shift -= 4)
        out.push_back(digits[(v >> shift) & 0xF]);
    return out;
}

failure malformed(std::string message) {
    return failure(error::protocol_error, "event stream: " + std::move(message));
}

// Bytes a header value occupies on the wire after its type byte, or 0 for a variable length.
constexpr std::size_t fixed_size(std::uint8_t type) noexcept {
    switch (type) {
    case 0:
    case 1:
        return 0;
    case 2:
        return 1;
    case 3:
        return 2;
    case 4:
        return 4;
    case 5:
    case 8:
        return 8;
    case 9:
        return 16;
    default:
        return 0;
    }
}

std::size_t encoded_value_size(event_header_value const& v) {
    std::size_t const index = v.index();
    if (index == 0) return 0;
    if (auto const* b = std::get_if<event_bytes>(&v)) return 2 + b->value.size();
    if (auto const* s = std::get_if<std::string_view>(&v)) return 2 + s->size();
    return fixed_size(static_cast<std::uint8_t>(index + 1));
}

}  // namespace

event_header_value const* event_message::find(std::string_view name) const noexcept {
    for (auto const& h : headers)
        if (h.name == name) return &h.value;
    return nullptr;
}

std::string_view event_message::string_header(std::string_view name) const noexcept {
    if (auto const* v = find(name))
        if (auto const* s = std::get_if<std::string_view>(v)) return *s;
    return {};
}

result<void> event_stream_decoder::fail(failure f) {
    failed_ = true;
    failure_ = f;
    return f;
}

result<void> event_stream_decoder::check_prelude(std::string_view prelude) {
    std::uint32_t const total = read_u32(prelude, 0);
    std::uint32_t const headers = read_u32(prelude, 4);
    std::uint32_t const expected = read_u32(prelude, 8);
    std::uint32_t const computed = crc32(prelude.substr(0, 8));
    // CRC first: if it is wrong the lengths are noise, and saying so is the useful message.
    if (computed != expected)
        return fail(malformed("prelude CRC mismatch (frame says " + hex32(expected) +
                              ", computed " + hex32(computed) + ")"));
    if (total < event_stream_overhead)
        return fail(malformed("total length " + std::to_string(total) + " is less than 16"));
    if (headers > event_stream_max_headers)
        return fail(malformed("headers length " + std::to_string(headers) +
                              " exceeds the limit of 131072"));
    if (headers > total - event_stream_overhead)
        return fail(malformed("headers length " + std::to_string(headers) +
                              " does not fit in total length " + std::to_string(total)));
    std::size_t const payload = total - headers - event_stream_overhead;
    if (payload > event_stream_max_payload)
        return fail(malformed("payload length " + std::to_string(payload) +
                              " exceeds the limit of 25165824"));
    return {};
}

result<event_message const*> event_stream_decoder::decode_frame(std::string_view frame) {
    std::uint32_t const total = read_u32(frame, 0);
    std::uint32_t const headers_len = read_u32(frame, 4);
    std::uint32_t const expected = read_u32(frame, total - 4);
    std::uint32_t const computed = crc32(frame.substr(0, total - 4));
    if (computed != expected)
        return fail(malformed("message CRC mismatch (frame says " + hex32(expected) +
                              ", computed " + hex32(computed) + ")"))
            .error();

    headers_.clear();
    std::string_view const block = frame.substr(prelude_size, headers_len);
    std::size_t pos = 0;
    while (pos < block.size()) {
        std::size_t const name_len = static_cast<unsigned char>(block[pos++]);
        if (name_len == 0) return fail(malformed("a header has an empty name")).error();
        if (block.size() - pos < name_len + 1)
            return fail(malformed("a header name runs past the end of the headers")).error();
        std::string_view const name = block.substr(pos, name_len);
        pos += name_len;
        auto const type = static_cast<std::uint8_t>(block[pos++]);
        auto past_end = [&] {
            return fail(malformed("header '" + std::string(name) +
                                  "' runs past the end of the headers"))
                .error();
        };
        event_header_value value;
        switch (type) {
        case 0:
            value = true;
            break;
        case 1:
            value = false;
            break;
        case 6:
        case 7: {
            if (block.size() - pos < 2) return past_end();
            std::size_t const len = read_be(block, pos, 2);
            pos += 2;
            if (block.size() - pos < len) return past_end();
            std::string_view const bytes = block.substr(pos, len);
            pos += len;
            if (type == 6)
                value = event_bytes{bytes};
            else
                value = bytes;
            break;
        }
        case 2:
        case 3:
        case 4:
        case 5:
        case 8:
        case 9: {
            std::size_t const n = fixed_size(type);
            if (block.size() - pos < n) return past_end();
            if (type == 9) {
                event_uuid u;
                std::memcpy(u.value.data(), block.data() + pos, 16);
                value = u;
            } else {
                std::uint64_t const raw = read_be(block, pos, n);
                // Two's complement on the wire; the casts below reinterpret it.
                if (type == 2)
                    value = static_cast<std::int8_t>(raw);
                else if (type == 3)
                    value = static_cast<std::int16_t>(raw);
                else if (type == 4)
                    value = static_cast<std::int32_t>(raw);
                else if (type == 5)
                    value = static_cast<std::int64_t>(raw);
                else
                    value = event_timestamp{std::chrono::sys_time<std::chrono::milliseconds>(
                        std::chrono::milliseconds(static_cast<std::int64_t>(raw)))};
            }
            pos += n;
            break;
        }
        default:
            return fail(malformed("header '" + std::string(name) + "' has unknown type " +
                                  std::to_string(type)))
                .error();
        }
        headers_.push_back({name, value});
    }

    // Names are unique per message (botocore raises DuplicateHeader). Sorting a copy keeps
    // this linear-logarithmic when a hostile frame packs thousands of tiny headers.
    bool duplicate = false;
    std::string_view dup_name;
    if (headers_.size() <= 16) {
        for (std::size_t i = 0; i < headers_.size() && !duplicate; ++i)
            for (std::size_t j = i + 1; j < headers_.size(); ++j)
                if (headers_[i].name == headers_[j].name) {
                    duplicate = true;
                    dup_name = headers_[i].name;
                    break;
                }
    } else {
        std::vector<std::string_view> names;
        names.reserve(headers_.size());
        for (auto const& h : headers_)
            names.push_back(h.name);
        std::sort(names.begin(), names.end());
        if (auto it = std::adjacent_find(names.begin(), names.end()); it != names.end()) {
            duplicate = true;
            dup_name = *it;
        }
    }
    if (duplicate)
        return fail(malformed("duplicate header '" + std::string(dup_name) + "'")).error();

    message_.headers = headers_;
    message_.payload =
        frame.substr(prelude_size + headers_len, total - headers_len - event_stream_overhead);
    return &message_;
}

result<event_message const*> event_stream_decoder::next(std::string_view& bytes) {
    if (failed_) return failure_;
    if (release_) {
        // The previous message pointed into buffer_; the caller is done with it now.
        buffer_.clear();
        total_ = 0;
        release_ = false;
    }
    if (buffer_.empty()) {
        if (bytes.size() >= prelude_size) {
            if (auto r = check_prelude(bytes.substr(0, prelude_size)); !r) return r.error();
            std::size_t const total = read_u32(bytes, 0);
            if (bytes.size() >= total) {
                // The whole frame is here: decode in place, no copy.
                std::string_view const frame = bytes.substr(0, total);
                bytes.remove_prefix(total);
                return decode_frame(frame);
            }
        }
        if (bytes.empty()) return nullptr;
    }
    if (buffer_.size() < prelude_size) {
        std::size_t const take = std::min(prelude_size - buffer_.size(), bytes.size());
        buffer_.append(bytes.substr(0, take));
        bytes.remove_prefix(take);
        if (buffer_.size() < prelude_size) return nullptr;
        if (auto r = check_prelude(buffer_); !r) return r.error();
        total_ = read_u32(buffer_, 0);
        // Reserve only modestly up front: 12 bytes must not buy a 24 MiB allocation.
        buffer_.reserve(std::min<std::size_t>(total_, 64 * 1024));
    }
    std::size_t const take = std::min<std::size_t>(total_ - buffer_.size(), bytes.size());
    buffer_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (buffer_.size() < total_) return nullptr;
    release_ = true;
    return decode_frame(buffer_);
}

result<void> event_stream_decoder::finish() const {
    if (failed_) return failure_;
    if (has_partial_message()) {
        std::string message =
            "event stream ended inside a message (" + std::to_string(buffer_.size()) + " bytes";
        if (total_ != 0) message += " of " + std::to_string(total_);
        message += ")";
        return failure(error::truncated, std::move(message));
    }
    return {};
}

void encode_message_to(std::string& out, std::span<event_header const> headers,
                       std::string_view payload) {
    std::size_t headers_len = 0;
    for (auto const& h : headers) {
        if (h.name.empty() || h.name.size() > 255)
            throw std::length_error("event stream: a header name must be 1 to 255 bytes");
        if (auto const* b = std::get_if<event_bytes>(&h.value); b && b->value.size() > 0xFFFF)
            throw std::length_error("event stream: a byte-array header exceeds 65535 bytes");
        if (auto const* s = std::get_if<std::string_view>(&h.value); s && s->size() > 0xFFFF)
            throw std::length_error("event stream: a string header exceeds 65535 bytes");
        headers_len += 1 + h.name.size() + 1 + encoded_value_size(h.value);
    }
    if (headers_len > event_stream_max_headers)
        throw std::length_error("event stream: headers exceed 128 KiB");
    if (payload.size() > event_stream_max_payload)
        throw std::length_error("event stream: payload exceeds 24 MiB");

    std::size_t const total = event_stream_overhead + headers_len + payload.size();
    std::size_t const start = out.size();
    out.reserve(start + total);
    write_be(out, total, 4);
    write_be(out, headers_len, 4);
    write_be(out, crc32(std::string_view(out).substr(start, 8)), 4);
    for (auto const& h : headers) {
        out.push_back(static_cast<char>(h.name.size()));
        out.append(h.name);
        std::visit(
            [&]<class T>(T const& v) {
                if constexpr (std::is_same_v<T, bool>) {
                    out.push_back(v ? 0 : 1);
                } else if constexpr (std::is_same_v<T, event_bytes> ||
                                     std::is_same_v<T, std::string_view>) {
                    std::string_view const bytes = [&] {
                        if constexpr (std::is_same_v<T, event_bytes>)
                            return v.value;
                        else
                            return v;
                    }();
                    out.push_back(std::is_same_v<T, event_bytes> ? 6 : 7);
                    write_be(out, bytes.size(), 2);
                    out.append(bytes);
                } else if constexpr (std::is_same_v<T, event_timestamp>) {
                    out.push_back(8);
                    write_be(out, static_cast<std::uint64_t>(v.value.time_since_epoch().count()),
                             8);
                } else if constexpr (std::is_same_v<T, event_uuid>) {
                    out.push_back(9);
                    out.append(reinterpret_cast<char const*>(v.value.data()), v.value.size());
                } else {
                    // The integer types, 2 to 5, in order of width.
                    out.push_back(static_cast<char>(sizeof(T) == 1   ? 2
                                                    : sizeof(T) == 2 ? 3
                                                    : sizeof(T) == 4 ? 4
                                                                     : 5));
                    write_be(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(v)),
                             sizeof(T));
                }
            },
            h.value);
    }
    out.append(payload);
    write_be(out, crc32(std::string_view(out).substr(start)), 4);
}

std::string encode_message(std::span<event_header const> headers, std::string_view payload) {
    std::string out;
    encode_message_to(out, headers, payload);
    return out;
}

}  // namespace llmux::detail
