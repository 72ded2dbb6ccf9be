// SPDX-License-Identifier: BSL-1.0
// RESP2, sans-io: commands formatted by hiredis's `redisFormatCommandArgv`, replies parsed by
// hiredis's incremental `redisReader` into plain values. No sockets here (and none of hiredis's
// networking anywhere): the connection (redis_connection.hpp) moves the bytes.
#pragma once

#include <llmux/error.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

/// One RESP2 reply.
struct resp_value {
    enum class kind { string, array, integer, nil, status, error };
    kind type = kind::nil;
    /// The bytes of a string, status or error.
    std::string str;
    std::int64_t integer = 0;
    std::vector<resp_value> elements;

    bool is_error() const noexcept { return type == kind::error; }
    bool is_nil() const noexcept { return type == kind::nil; }

    static resp_value of_string(std::string s) {
        resp_value v;
        v.type = kind::string;
        v.str = std::move(s);
        return v;
    }
    static resp_value of_integer(std::int64_t i) {
        resp_value v;
        v.type = kind::integer;
        v.integer = i;
        return v;
    }
    static resp_value of_error(std::string s) {
        resp_value v;
        v.type = kind::error;
        v.str = std::move(s);
        return v;
    }
    static resp_value of_status(std::string s) {
        resp_value v;
        v.type = kind::status;
        v.str = std::move(s);
        return v;
    }
    static resp_value of_array(std::vector<resp_value> e) {
        resp_value v;
        v.type = kind::array;
        v.elements = std::move(e);
        return v;
    }

    friend bool operator==(resp_value const&, resp_value const&) = default;
};

/// Appends one command (`args[0]` is its name) in RESP to `out`.
void append_command(std::string& out, std::vector<std::string_view> const& args);
void append_command(std::string& out, std::vector<std::string> const& args);
inline std::string format_command(std::initializer_list<std::string_view> args) {
    std::string out;
    append_command(out, std::vector<std::string_view>(args));
    return out;
}

/// Parses replies from bytes that arrive in any split.
class resp_reader {
public:
    resp_reader();
    ~resp_reader();
    resp_reader(resp_reader const&) = delete;
    resp_reader& operator=(resp_reader const&) = delete;

    /// Adds bytes read from the connection.
    void feed(std::string_view bytes);
    /// The next complete reply; empty when more bytes are needed. A failure
    /// (`state_error::protocol`) means the stream is not RESP: the connection must be reset.
    result<std::optional<resp_value>> next();
    /// Forgets everything fed (a new connection).
    void reset();

private:
    void* reader_;  // redisReader*, kept out of this header
};

}  // namespace llmux::detail
