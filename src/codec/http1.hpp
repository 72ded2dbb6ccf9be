// SPDX-License-Identifier: BSL-1.0
// HTTP/1.1 messages as a pure function of their bytes (RFC 9112): a parser that takes the bytes
// in any pieces and gives the message as flat views of its own copy of the head, and the body
// (Content-Length, chunked, or to the end of the input). No sockets, no allocation per field:
// the server feeds it the requests it reads (http/server.cpp), the transport the responses
// (http/transport.cpp), the fuzz targets arbitrary bytes.
//
// Beast's parser kept each request field in a node of its own (an allocation per field, a
// lookup structure, a hash of every name) and scanned values a byte at a time: 5,700 of the
// 63,000 instructions of a proxied answer, and 4,500 more for the response (issue 15). This
// one copies the head once, checks names and values with the rules the server applies to what
// it writes (util/header.hpp: values sixteen bytes at a time), and keeps the fields in a
// vector reused from one message to the next. It is stricter than Beast, never more lenient
// (fuzz/http_request.cpp and fuzz/http_response.cpp check that whatever it accepts Beast
// accepts the same way): no line folding, CRLF line ends only, one Content-Length value per
// field, no whitespace after a chunk's extensions.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace llmux::detail::http1 {

/// True for the statuses whose answers have no body whatever their head says: 1xx, 204 and 304
/// (RFC 9112 section 6.3). The parser reads none after them; the server writes none.
constexpr bool bodiless_status(unsigned status) noexcept {
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

/// One header line: views into the request's copy of its head.
struct field {
    std::string_view name;
    std::string_view value;
};

/** @brief What requests and responses have in common: the head's fields, as views of the
    message's own copy of its head, and the whole body (dechunked).

    @par Object lifetimes
    Every view it returns refers to its own storage: valid until the message is parsed again
    (`parser::reset`) or destroyed.
*/
class message {
public:
    message() = default;
    /// Not copied or moved: the views refer to the message's own head.
    message(message const&) = delete;
    message& operator=(message const&) = delete;

    /// 10 for HTTP/1.0, 11 for HTTP/1.1.
    unsigned version() const noexcept { return version_; }
    /** HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive` (and
        without `close`; `Proxy-Connection` may close, never keep); for a response, also a body
        that does not end with the connection, and a status other than 101 Switching Protocols.
    */
    bool keep_alive() const noexcept { return keep_alive_; }

    /// The value of the first field named `name` (ASCII case-insensitive); empty if absent.
    std::string_view operator[](std::string_view name) const noexcept;
    std::string_view operator[](boost::beast::http::field name) const noexcept;
    /// How many fields are named `name`.
    std::size_t count(std::string_view name) const noexcept;
    /// Every field in the order received (trailers are not kept).
    std::span<field const> fields() const noexcept { return fields_; }

    /// The body (dechunked). Mutable: a handler may parse it in place or move it out; a reader
    /// of a stream takes what has come and clears it.
    std::string& body() noexcept { return body_; }
    std::string const& body() const noexcept { return body_; }

protected:
    template <bool>
    friend class parser;

    void clear() noexcept;

    std::string head_;  // the head's bytes, which every view refers to
    std::vector<field> fields_;
    unsigned version_ = 11;
    bool keep_alive_ = true;
    std::string body_;
};

/// @brief An HTTP/1.x request as the server hands it to its handler.
class request : public message {
public:
    std::string_view method_string() const noexcept { return method_; }
    /// The method as Beast's enumeration (`verb::unknown` for a method it does not name).
    boost::beast::http::verb method() const noexcept { return verb_; }
    /// The request target as sent (origin form: path and query, percent-encoded).
    std::string_view target() const noexcept { return target_; }

    /** @brief Makes this the request given, without parsing or checking anything (tests, and
        the functions over a parsed head, such as `framing_problem`, given heads a parser would
        refuse). Keep-alive follows the version and `Connection` as in a parsed request.
    */
    void assign(std::string_view method, std::string_view target, unsigned version,
                std::span<std::pair<std::string_view, std::string_view> const> fields);

private:
    template <bool>
    friend class parser;

    std::string_view method_;
    std::string_view target_;
    boost::beast::http::verb verb_ = boost::beast::http::verb::unknown;
};

/// @brief An HTTP/1.x response as a client reads it.
class response : public message {
public:
    unsigned status() const noexcept { return status_; }
    std::string_view reason() const noexcept { return reason_; }

private:
    template <bool>
    friend class parser;

    unsigned status_ = 0;
    std::string_view reason_;
};

/** What the `Connection` lines of a message say: every line counts (it is a list); the
    non-standard `Proxy-Connection` may close the connection but never keeps an HTTP/1.0 one
    open. (The parsers' and `request::assign`'s one reading of them.)
*/
struct connection_options {
    bool close = false;
    bool keep = false;

    /// Reads `f` if it is one of the two; false when its value is not a list of tokens.
    bool read(field const& f) noexcept;
    /// HTTP/1.1 unless closed; HTTP/1.0 when asked to keep and not closed.
    bool keep_alive(unsigned version) const noexcept { return version >= 11 ? !close : keep && !close; }
};

/** @brief Parses one message at a time from bytes given in any pieces: a request
    (`request_parser`, for the server) or a response (`response_parser`, for the client).

    `put` takes bytes and says how many it used: it stops at the end of the head (so that the
    head can be checked before any body is read) and at the end of the message, and otherwise
    takes what it can; the caller keeps what was not used and gives it again with more. Errors
    are Beast's `http::error` codes, so that callers map them as they mapped Beast's:
    `need_more` (give more bytes), `header_limit`, `body_limit`, `bad_method`, `bad_target`,
    `bad_version`, `bad_status`, `bad_reason`, `bad_field`, `bad_value`, `bad_line_ending`,
    `bad_content_length`, `multiple_content_length`, `bad_transfer_encoding`, `bad_chunk`,
    `bad_chunk_extension`, `partial_message` (the input ended inside the message).

    Framing (RFC 9112 section 6.3): `Content-Length` (digits only; repeated, the values must
    agree), else `Transfer-Encoding` whose last coding is `chunked` (both: an error, as in
    Beast), else no body for a request and a body up to the end of the connection for a
    response (`need_eof`). Responses 1xx, 204 and 304 have no body. Codings other than chunked
    are the server's to refuse (http/framing.hpp).

    @par Object lifetimes
    The parser owns the message it fills; `reset` starts the next one and keeps the buffers'
    capacity.
*/
template <bool isRequest>
class parser {
public:
    using error_code = boost::system::error_code;
    using message_type = std::conditional_t<isRequest, request, response>;

    parser() { msg_.fields_.reserve(16); }

    /// Largest head, start line to the empty line included (default 8 KiB); also the most
    /// trailer bytes.
    void header_limit(std::size_t n) noexcept { header_limit_ = n; }
    /// Largest body in all, after dechunking (default 1 MiB), however much a reader took.
    void body_limit(std::uint64_t n) noexcept { body_limit_ = n; }

    /// Forgets the message (keeps the capacity of its buffers) to parse the next one.
    void reset() noexcept;
    /** Frees the message's head and field list where either holds more than `head_bytes`,
        and its body where it holds more than `body_bytes`: a connection keeps no more than
        that of one large message while it waits for the next. The message's views dangle
        after it, as after `reset`.
    */
    void shrink(std::size_t head_bytes, std::size_t body_bytes) noexcept;

    /** @brief Parses from `bytes`: the number of bytes used (the rest is for a later call).
        @param ec `need_more` when nothing could be used without more bytes; a parse error.
        A call that used some bytes of a chunked body before an error reports no error: the
        body before it is handed over first, and the next call, which cannot move on, fails.
    */
    std::size_t put(std::string_view bytes, error_code& ec);
    std::size_t put(boost::asio::const_buffer b, error_code& ec) {
        return put(std::string_view(static_cast<char const*>(b.data()), b.size()), ec);
    }
    /// The input ended: the end of a body that runs to it; `partial_message` unless the
    /// message is complete then.
    void put_eof(error_code& ec) noexcept;

    /// Some bytes were given since the last reset.
    bool got_some() const noexcept { return got_some_; }
    bool is_header_done() const noexcept { return state_ != state::head; }
    bool is_done() const noexcept { return state_ == state::done; }
    /// The body ends with the connection (a response without length or chunking), also once
    /// that end was given (`put_eof`).
    bool need_eof() const noexcept { return eof_body_; }
    bool chunked() const noexcept { return chunked_; }
    /// The Content-Length, if the head had one.
    std::optional<std::uint64_t> content_length() const noexcept { return length_; }
    /// As the message's, once the head is parsed; false for a body that ends with the input
    /// and after a 101.
    bool keep_alive() const noexcept { return msg_.keep_alive_; }

    message_type& get() noexcept { return msg_; }
    message_type const& get() const noexcept { return msg_; }

private:
    enum class state : unsigned char {
        head, length, until_eof, chunk_line, chunk_data, chunk_end, trailers, done
    };

    std::size_t put_head(std::string_view bytes, error_code& ec);
    void parse_head(error_code& ec);
    std::size_t parse_start_line(std::string_view h, error_code& ec);
    void on_field(field const& f, error_code& ec);
    std::size_t put_chunked(std::string_view bytes, error_code& ec);
    bool take_body(std::string_view piece, error_code& ec);

    message_type msg_;
    state state_ = state::head;
    bool got_some_ = false;
    bool chunked_ = false;
    connection_options conn_;
    bool eof_body_ = false;  // the body runs to the end of the input
    std::optional<std::uint64_t> length_;
    std::uint64_t remaining_ = 0;    // of the body (length) or of the chunk (chunk_data)
    std::uint64_t body_bytes_ = 0;   // in all, against the body limit
    std::size_t scanned_ = 0;        // bytes of the head whose line ends were checked
    std::size_t line_scanned_ = 0;   // bytes of a chunk line or trailer searched for its end
    std::size_t trailer_bytes_ = 0;
    std::size_t header_limit_ = 8u << 10;
    std::uint64_t body_limit_ = 1u << 20;
};

using request_parser = parser<true>;
using response_parser = parser<false>;

}  // namespace llmux::detail::http1
