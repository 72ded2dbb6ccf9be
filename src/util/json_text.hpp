// SPDX-License-Identifier: BSL-1.0
// Appending JSON text straight into a reused buffer: the emulator writes every answer and stream
// event this way, without building a DOM per event.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace llmux::detail {

/** The first byte of `p[i, n)` that a JSON string must escape (a control character, `"` or
    `\\`), or `n`. Eight bytes at a time while none does (each word is tested with the
    classic bit tricks for "a byte below 0x20" and "a byte equal to c": exact about whether
    one exists, so the byte loop after a hit finds it within that word).
*/
inline std::size_t next_json_escape(char const* p, std::size_t n, std::size_t i) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ull;
    constexpr std::uint64_t highs = 0x8080808080808080ull;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        std::uint64_t const quote = w ^ (ones * '"');
        std::uint64_t const slash = w ^ (ones * '\\');
        if (((w - ones * 0x20) & ~w & highs) | ((quote - ones) & ~quote & highs) |
            ((slash - ones) & ~slash & highs))
            break;
    }
    for (; i < n; ++i) {
        auto const c = static_cast<unsigned char>(p[i]);
        if (c < 0x20 || c == '"' || c == '\\') return i;
    }
    return n;
}

/// Appends `s` as a JSON string literal (quotes included). `s` must be UTF-8.
inline void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0;  // start of the current run of characters that need no escape
    for (std::size_t i = next_json_escape(s.data(), s.size(), 0); i < s.size();
         i = next_json_escape(s.data(), s.size(), i + 1)) {
        auto const c = static_cast<unsigned char>(s[i]);
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            out.append("\\\"", 2);
            break;
        case '\\':
            out.append("\\\\", 2);
            break;
        case '\n':
            out.append("\\n", 2);
            break;
        case '\r':
            out.append("\\r", 2);
            break;
        case '\t':
            out.append("\\t", 2);
            break;
        default: {
            char const u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            out.append(u, 6);
        }
        }
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
}

/// Appends `s` as a JSON string or, when empty, `null`.
inline void append_json_string_or_null(std::string& out, std::string_view s) {
    if (s.empty())
        out.append("null", 4);
    else
        append_json_string(out, s);
}

inline void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    auto const r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

inline void append_number(std::string& out, std::int64_t v) {
    char buf[24];
    auto const r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

/** A stack buffer in front of a string: text and numbers are copied into it without the
    capacity check, call and copy that each `std::string::append` costs, and reach the string in
    one append when it fills and at `flush()` (which the writer must call: nothing is appended
    before). For text made of many small pieces: an answer's usage, a response head, an id.
*/
template <std::size_t N = 256>
class text_batch {
    static_assert(N >= 24, "room for the longest number");

public:
    explicit text_batch(std::string& out) noexcept : out_(out) {}
    text_batch(text_batch const&) = delete;
    text_batch& operator=(text_batch const&) = delete;

    // Inlined where called: a literal's length is then known and its copy a few moves.
    [[gnu::always_inline]] text_batch& operator<<(std::string_view s) {
        if (s.size() > static_cast<std::size_t>(buf_ + N - p_)) {
            flush();
            if (s.size() > N) {
                out_.append(s);
                return *this;
            }
        }
        // char_traits::copy, not memcpy: an empty view may have no data.
        std::char_traits<char>::copy(p_, s.data(), s.size());
        p_ += s.size();
        return *this;
    }
    [[gnu::always_inline]] text_batch& operator<<(char c) {
        if (p_ == buf_ + N) flush();
        *p_++ = c;
        return *this;
    }
    text_batch& operator<<(std::uint64_t v) { return number(v); }
    text_batch& operator<<(std::int64_t v) { return number(v); }
    text_batch& operator<<(unsigned v) { return number(v); }

    /// Appends what is buffered to the string.
    void flush() {
        out_.append(buf_, static_cast<std::size_t>(p_ - buf_));
        p_ = buf_;
    }

private:
    template <class T>
    text_batch& number(T v) {
        if (buf_ + N - p_ < 24) flush();
        p_ = std::to_chars(p_, buf_ + N, v).ptr;
        return *this;
    }

    std::string& out_;
    char buf_[N];
    char* p_ = buf_;
};

/** Appends a float as a JSON number: the shortest decimal that reads back as the same float,
    and negative zero as `-0.0` (JSON parsers read `-0` as the integer 0, losing the sign).
    False, appending nothing, for a value that is not finite (JSON has no number for it).
*/
inline bool append_float(std::string& out, float f) {
    if (!std::isfinite(f)) return false;
    if (f == 0 && std::signbit(f)) {
        out.append("-0.0", 4);
        return true;
    }
    char buf[32];
    auto const r = std::to_chars(buf, buf + sizeof buf, f);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
    return true;
}

}  // namespace llmux::detail
