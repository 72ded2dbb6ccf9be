// SPDX-License-Identifier: BSL-1.0
#include "codec/http1.hpp"

#include "util/header.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace llmux::detail::http1 {

namespace http = boost::beast::http;
using error_code = boost::system::error_code;

namespace {

/// tchar of RFC 9110 section 5.6.2: the bytes of a method, a field name, a chunk extension.
bool is_token_char(char c) noexcept { return is_tchar(c); }

/// A request target's bytes (Beast's): visible ASCII and every byte above 0x7f.
bool is_target_char(char c) noexcept {
    auto const u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
}

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

/// `s` without the blanks (SP, HTAB) around it: util/text.hpp's `trim` also takes CR and LF,
/// which a checked value cannot hold, through a set search per byte (on every header value;
/// inlined: a call cost as much as the trim).
[[gnu::always_inline]] inline std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

/// Digits only (no sign, no list), at most what fits in 64 bits.
bool parse_decimal(std::string_view s, std::uint64_t& out) noexcept {
    auto const [end, err] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && err == std::errc() && end == s.data() + s.size();
}

/** The elements of a comma-separated list (`#token` of RFC 9110 section 5.6.1), each passed
    to `f` trimmed; empty elements are skipped. False when an element is not a token.
*/
template <class F>
bool for_each_token(std::string_view v, F&& f) {
    for (;;) {
        auto const comma = v.find(',');
        auto const item = trim_ows(v.substr(0, comma));
        if (!item.empty()) {
            if (!std::all_of(item.begin(), item.end(), is_token_char)) return false;
            f(item);
        }
        if (comma == std::string_view::npos) return true;
        v.remove_prefix(comma + 1);
    }
}

}  // namespace

bool connection_options::read(field const& f) noexcept {
    // A name's length picks the two names to compare.
    bool const proxy = f.name.size() == 16;
    if ((f.name.size() != 10 && !proxy) ||
        !iequals(f.name, proxy ? "proxy-connection" : "connection"))
        return true;
    return for_each_token(f.value, [&](std::string_view tok) {
        if (iequals(tok, "close")) close = true;
        else if (!proxy && iequals(tok, "keep-alive")) keep = true;
    });
}

namespace {

/** Checks one field line (without its CRLF) and splits it: `name ":" OWS value OWS`. A line
    that starts with whitespace (obsolete folding) or has whitespace before the colon is an
    error (RFC 9112 section 5).
*/
bool split_field(std::string_view line, field& out, error_code& ec) noexcept {
    // The colon by memchr, then the name's bytes checked without a branch per byte
    // (util/header.hpp: the rules the server applies to what it writes).
    auto const i = line.find(':');
    if (i == std::string_view::npos || !is_header_name(line.substr(0, i))) {
        ec = http::error::bad_field;
        return false;
    }
    out.name = line.substr(0, i);
    auto value = line.substr(i + 1);
    if (!is_header_value(value)) {
        ec = http::error::bad_value;
        return false;
    }
    out.value = trim_ows(value);
    return true;
}

/** Checks the chunk extensions that follow a chunk's size (RFC 9112 section 7.1.1):
    `*( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )`. They are ignored.
*/
bool valid_chunk_extensions(std::string_view s) noexcept {
    std::size_t i = 0;
    auto skip_ws = [&] {
        while (i < s.size() && is_ows(s[i])) ++i;
    };
    auto token = [&] {
        std::size_t const from = i;
        while (i < s.size() && is_token_char(s[i])) ++i;
        return i != from;
    };
    for (;;) {
        // Whitespace only before a `;` or an `=` (none at the end of the line).
        std::size_t ws = i;
        skip_ws();
        if (i == s.size()) return i == ws;
        if (s[i] != ';') return false;
        ++i;
        skip_ws();
        if (!token()) return false;
        ws = i;
        skip_ws();
        if (i == s.size()) return i == ws;
        if (s[i] != '=') {
            i = ws;
            continue;
        }
        ++i;
        skip_ws();
        if (i < s.size() && s[i] == '"') {
            ++i;
            for (;;) {
                if (i == s.size()) return false;
                auto const c = static_cast<unsigned char>(s[i]);
                if (c == '"') {
                    ++i;
                    break;
                }
                if (c == '\\') {
                    ++i;
                    if (i == s.size()) return false;
                    auto const q = static_cast<unsigned char>(s[i]);
                    if ((q < 0x20 && q != '\t') || q == 0x7f) return false;
                } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
                    return false;
                }
                ++i;
            }
        } else if (!token()) {
            return false;
        }
    }
}

}  // namespace

std::string_view message::operator[](std::string_view name) const noexcept {
    for (auto const& f : fields_)
        if (iequals(f.name, name)) return f.value;
    return {};
}

std::string_view message::operator[](http::field name) const noexcept {
    auto const s = http::to_string(name);
    return (*this)[std::string_view(s.data(), s.size())];
}

std::size_t message::count(std::string_view name) const noexcept {
    return static_cast<std::size_t>(
        std::count_if(fields_.begin(), fields_.end(), [&](field const& f) { return iequals(f.name, name); }));
}

void message::clear() noexcept {
    head_.clear();
    fields_.clear();
    version_ = 11;
    keep_alive_ = true;
    body_.clear();
}

void request::assign(std::string_view method, std::string_view target, unsigned version,
                     std::span<std::pair<std::string_view, std::string_view> const> fields) {
    // Everything goes into head_ first (it may move while it grows); the views after.
    head_.assign(method).append(target);
    for (auto const& [k, v] : fields) head_.append(k).append(v);
    std::size_t at = 0;
    auto next = [&](std::size_t n) {
        std::string_view const s(head_.data() + at, n);
        at += n;
        return s;
    };
    method_ = next(method.size());
    target_ = next(target.size());
    verb_ = http::string_to_verb(method_);
    version_ = version;
    fields_.clear();
    connection_options conn;
    for (auto const& [k, v] : fields) {
        field f;
        f.name = next(k.size());
        f.value = next(v.size());
        fields_.push_back(f);
        conn.read(f);
    }
    keep_alive_ = conn.keep_alive(version_);
    body_.clear();
}

template <bool isRequest>
void parser<isRequest>::reset() noexcept {
    msg_.clear();
    if constexpr (isRequest) {
        msg_.method_ = {};
        msg_.target_ = {};
        msg_.verb_ = http::verb::unknown;
    } else {
        msg_.status_ = 0;
        msg_.reason_ = {};
    }
    state_ = state::head;
    got_some_ = false;
    chunked_ = false;
    conn_ = {};
    length_.reset();
    eof_body_ = false;
    remaining_ = 0;
    body_bytes_ = 0;
    scanned_ = 0;
    line_scanned_ = 0;
    trailer_bytes_ = 0;
}

template <bool isRequest>
void parser<isRequest>::shrink(std::size_t head_bytes, std::size_t body_bytes) noexcept {
    auto& m = msg_;
    if (m.head_.capacity() > head_bytes) std::string().swap(m.head_);
    if (m.fields_.capacity() * sizeof(field) > head_bytes) std::vector<field>().swap(m.fields_);
    if (m.body_.capacity() > body_bytes) std::string().swap(m.body_);
}

template <bool isRequest>
bool parser<isRequest>::take_body(std::string_view piece, error_code& ec) {
    if (piece.size() > body_limit_ - body_bytes_) {
        ec = http::error::body_limit;
        return false;
    }
    body_bytes_ += piece.size();
    msg_.body_.append(piece.data(), piece.size());
    return true;
}

template <bool isRequest>
std::size_t parser<isRequest>::put(std::string_view bytes, error_code& ec) {
    ec = {};
    if (!bytes.empty()) got_some_ = true;
    std::size_t used = 0;
    switch (state_) {
    case state::head:
        return put_head(bytes, ec);
    case state::length: {
        auto const n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size()));
        if (!take_body(bytes.substr(0, n), ec)) return 0;
        remaining_ -= n;
        used = n;
        if (remaining_ == 0) state_ = state::done;
        break;
    }
    case state::until_eof:
        if (!take_body(bytes, ec)) return 0;
        used = bytes.size();
        break;
    case state::done:
        break;
    default:
        // What came before an error is handed over first, without it: the error comes with
        // the next call, which cannot move on (a stream's reader gets the events before a
        // malformed chunk, as with Beast's parser, which stopped at each chunk).
        used = put_chunked(bytes, ec);
        if (ec && used != 0) ec = {};
        if (ec) return 0;
        break;
    }
    if (used == 0 && state_ != state::done) ec = http::error::need_more;
    return used;
}

template <bool isRequest>
std::size_t parser<isRequest>::put_head(std::string_view bytes, error_code& ec) {
    // Find the empty line that ends the head, checking that every LF is part of a CRLF on the
    // way (the scan resumes where the last call stopped: a head that comes a byte at a time is
    // scanned once).
    std::size_t const limit = std::min(bytes.size(), header_limit_);
    std::size_t end = 0;
    for (std::size_t i = scanned_; i < limit;) {
        auto const* lf = static_cast<char const*>(std::memchr(bytes.data() + i, '\n', limit - i));
        if (!lf) break;
        auto const at = static_cast<std::size_t>(lf - bytes.data());
        if (at == 0 || bytes[at - 1] != '\r') {
            ec = http::error::bad_line_ending;
            return 0;
        }
        if (at >= 3 && bytes[at - 2] == '\n') {
            end = at + 1;
            break;
        }
        i = at + 1;
    }
    if (end == 0) {
        if (bytes.size() >= header_limit_) {
            ec = http::error::header_limit;
            return 0;
        }
        scanned_ = limit;
        ec = http::error::need_more;
        return 0;
    }
    msg_.head_.assign(bytes.data(), end);
    parse_head(ec);
    return ec ? 0 : end;
}

template <bool isRequest>
std::size_t parser<isRequest>::parse_start_line(std::string_view h, error_code& ec) {
    std::size_t i = 0;
    // HTTP/1.0 or HTTP/1.1 (as Beast: another version is another protocol).
    auto version = [&](std::size_t at) -> bool {
        if (h.size() - at < 8 || h.compare(at, 7, "HTTP/1.") != 0 || (h[at + 7] != '0' && h[at + 7] != '1'))
            return false;
        msg_.version_ = h[at + 7] == '1' ? 11 : 10;
        return true;
    };
    if constexpr (isRequest) {
        // request-line = method SP request-target SP HTTP-version CRLF
        while (i < h.size() && is_token_char(h[i])) ++i;
        if (i == 0 || h[i] != ' ') {
            ec = http::error::bad_method;
            return 0;
        }
        msg_.method_ = h.substr(0, i);
        std::size_t const t = ++i;
        while (i < h.size() && is_target_char(h[i])) ++i;
        if (i == t || h[i] != ' ') {
            ec = http::error::bad_target;
            return 0;
        }
        msg_.target_ = h.substr(t, i - t);
        ++i;
        if (!version(i) || h[i + 8] != '\r' || h[i + 9] != '\n') {
            ec = http::error::bad_version;
            return 0;
        }
        msg_.verb_ = http::string_to_verb(msg_.method_);
        return i + 10;
    } else {
        // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF
        if (!version(0) || h[8] != ' ') {
            ec = http::error::bad_version;
            return 0;
        }
        i = 9;
        if (h.size() - i < 3 || !std::all_of(h.begin() + 9, h.begin() + 12, [](char c) { return c >= '0' && c <= '9'; }) ||
            h[12] != ' ') {
            ec = http::error::bad_status;
            return 0;
        }
        msg_.status_ = static_cast<unsigned>((h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0'));
        auto const cr = h.find('\r', 13);
        auto const reason = h.substr(13, cr - 13);
        if (h[cr + 1] != '\n' || !is_header_value(reason)) {
            ec = http::error::bad_reason;
            return 0;
        }
        msg_.reason_ = reason;
        return cr + 2;
    }
}

template <bool isRequest>
void parser<isRequest>::on_field(field const& f, error_code& ec) {
    // The fields that frame the message or say what becomes of the connection (Beast's rules,
    // in the head and in the trailers alike); a name's length picks the few to compare.
    switch (f.name.size()) {
    case 10:  // Connection
    case 16:  // Proxy-Connection
        if (!conn_.read(f)) ec = http::error::bad_value;
        break;
    case 14:  // Content-Length
        if (iequals(f.name, "content-length")) {
            std::uint64_t n = 0;
            if (chunked_ || !parse_decimal(f.value, n)) {
                ec = http::error::bad_content_length;
                return;
            }
            if (length_ && *length_ != n) {
                ec = http::error::multiple_content_length;
                return;
            }
            length_ = n;
        }
        break;
    case 17:  // Transfer-Encoding
        if (iequals(f.name, "transfer-encoding")) {
            if (chunked_ || length_) {
                ec = http::error::bad_transfer_encoding;
                return;
            }
            // Chunked when its last coding is chunked (Beast's rule); the server refuses
            // every other coding (http/framing.hpp).
            std::string_view last;
            if (!for_each_token(f.value, [&](std::string_view tok) { last = tok; })) {
                ec = http::error::bad_transfer_encoding;
                return;
            }
            chunked_ = iequals(last, "chunked");
        }
        break;
    default:
        break;
    }
}

template <bool isRequest>
void parser<isRequest>::parse_head(error_code& ec) {
    std::string_view const h = msg_.head_;
    // (A head that failed and is given again is read afresh.)
    msg_.fields_.clear();
    chunked_ = false;
    length_.reset();
    conn_ = {};
    std::size_t i = parse_start_line(h, ec);
    if (ec) return;
    // Each line ends with CRLF (checked while the end of the head was found); the last is empty.
    while (i + 2 < h.size()) {
        auto const cr = h.find('\r', i);
        if (h[cr + 1] != '\n') {
            ec = http::error::bad_line_ending;
            return;
        }
        field f;
        if (!split_field(h.substr(i, cr - i), f, ec)) return;
        i = cr + 2;
        msg_.fields_.push_back(f);
        on_field(f, ec);
        if (ec) return;
    }
    msg_.keep_alive_ = conn_.keep_alive(msg_.version_);

    bool no_body = false;
    if constexpr (!isRequest) {
        auto const st = msg_.status_;
        no_body = bodiless_status(st);
        // After 101 Switching Protocols the connection speaks something else: never another
        // HTTP message on it.
        if (st == 101) msg_.keep_alive_ = false;
    }
    if (no_body) {
        state_ = state::done;
    } else if (chunked_) {
        state_ = state::chunk_line;
    } else if (length_) {
        if (*length_ > body_limit_) {
            ec = http::error::body_limit;
            return;
        }
        remaining_ = *length_;
        msg_.body_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length_, 1u << 20)));
        state_ = remaining_ == 0 ? state::done : state::length;
    } else if (isRequest) {
        state_ = state::done;
    } else {
        // A response without length or chunking runs to the end of the connection.
        msg_.keep_alive_ = false;
        eof_body_ = true;
        state_ = state::until_eof;
    }
}

template <bool isRequest>
std::size_t parser<isRequest>::put_chunked(std::string_view bytes, error_code& ec) {
    // chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 section 7.1)
    constexpr std::size_t max_chunk_line = 4096;
    std::size_t used = 0;
    for (;;) {
        auto const rest = bytes.substr(used);
        switch (state_) {
        case state::chunk_line: {
            // (A line that comes in pieces is searched once: on from where the last call left.)
            auto const lf = rest.find('\n', line_scanned_);
            if (lf == std::string_view::npos) {
                if (rest.size() > max_chunk_line) ec = http::error::bad_chunk;
                line_scanned_ = rest.size();
                return used;
            }
            line_scanned_ = 0;
            if (lf == 0 || rest[lf - 1] != '\r' || lf > max_chunk_line) {
                ec = http::error::bad_chunk;
                return used;
            }
            auto const line = rest.substr(0, lf - 1);
            std::size_t i = 0;
            std::uint64_t size = 0;
            for (; i < line.size(); ++i) {
                int const d = hex_value(line[i]);
                if (d < 0) break;
                if (size > (std::numeric_limits<std::uint64_t>::max() >> 4)) {
                    ec = http::error::bad_chunk;
                    return used;
                }
                size = size << 4 | static_cast<std::uint64_t>(d);
            }
            if (i == 0) {
                ec = http::error::bad_chunk;
                return used;
            }
            if (!valid_chunk_extensions(line.substr(i))) {
                ec = http::error::bad_chunk_extension;
                return used;
            }
            if (size > body_limit_ - body_bytes_) {
                ec = http::error::body_limit;
                return used;
            }
            used += lf + 1;
            if (size == 0) {
                state_ = state::trailers;
                break;
            }
            remaining_ = size;
            state_ = state::chunk_data;
            break;
        }
        case state::chunk_data: {
            if (rest.empty()) return used;
            auto const n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
            if (!take_body(rest.substr(0, n), ec)) return used;
            remaining_ -= n;
            used += n;
            if (remaining_ == 0) state_ = state::chunk_end;
            break;
        }
        case state::chunk_end:
            if (rest.size() < 2) return used;
            if (rest[0] != '\r' || rest[1] != '\n') {
                ec = http::error::bad_chunk;
                return used;
            }
            used += 2;
            state_ = state::chunk_line;
            break;
        case state::trailers: {
            // Trailer fields are checked as header fields and dropped; an empty line ends them.
            auto const lf = rest.find('\n', line_scanned_);
            if (lf == std::string_view::npos) {
                if (trailer_bytes_ + rest.size() >= header_limit_) ec = http::error::header_limit;
                line_scanned_ = rest.size();
                return used;
            }
            line_scanned_ = 0;
            if (trailer_bytes_ + lf + 1 > header_limit_) {
                ec = http::error::header_limit;
                return used;
            }
            if (lf == 0 || rest[lf - 1] != '\r') {
                ec = http::error::bad_line_ending;
                return used;
            }
            if (lf == 1) {
                used += 2;
                // A trailer may say `Connection: close` too.
                msg_.keep_alive_ = conn_.keep_alive(msg_.version_);
                state_ = state::done;
                return used;
            }
            field f;
            if (!split_field(rest.substr(0, lf - 1), f, ec)) return used;
            on_field(f, ec);  // chunked: a Content-Length or Transfer-Encoding is an error
            if (ec) return used;
            trailer_bytes_ += lf + 1;
            used += lf + 1;
            break;
        }
        default:
            return used;
        }
    }
}

template <bool isRequest>
void parser<isRequest>::put_eof(error_code& ec) noexcept {
    if (state_ == state::until_eof) state_ = state::done;
    ec = state_ == state::done ? error_code() : error_code(http::error::partial_message);
}

template class parser<true>;
template class parser<false>;

}  // namespace llmux::detail::http1
