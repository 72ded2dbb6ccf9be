// SPDX-License-Identifier: BSL-1.0
// What the table-driven wire-format tests share (tests/unit/{openai_chat,anthropic_messages,
// gemini,bedrock_converse}.cpp): fixture files in tests/data/<format>/, test cases' bodies and
// heads, and the unified results written as JSON so that fixtures can state them exactly.
#pragma once

#include <llmux/config.hpp>
#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include "wire/server.hpp"
#include "wire/wire_format.hpp"

#include <boost/json.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::test {

/// tests/data/<dir>/<name>.
std::string fixture_path(std::string_view dir, std::string_view name);
/// The bytes of tests/data/<dir>/<name>; a missing file fails the test.
std::string fixture_text(std::string_view dir, std::string_view name);
/// The JSON of tests/data/<dir>/<name>; invalid JSON fails the test.
boost::json::value fixture_json(std::string_view dir, std::string_view name);

/// A JSON string as a view (throws when `v` is not a string).
std::string_view str(boost::json::value const& v);

/// A case's body: the bytes of its `file` (in `dir`), or its inline `body` string.
std::string case_body(std::string_view dir, boost::json::object const& c);
/// A case's `status` (default 200) and `headers`.
detail::response_head case_head(boost::json::object const& c);

/// Checks `actual == expected`, printing both on failure.
void check_json(boost::json::value const& actual, boost::json::value const& expected,
                std::string_view what);

/// @name The unified results as JSON
/// @{
boost::json::value count_json(token_count c);
boost::json::object usage_json(usage const& u);
boost::json::object response_json(chat_response const& r);
/// A reasoning part as JSON (empty fields left out).
boost::json::object reasoning_json(reasoning_part const& p);
boost::json::object failure_json(failure const& f);
boost::json::object chunk_json(chat_chunk const& c);
/// @}

/** Runs `fmt`'s stream decoder over `pieces` and returns {chunks, info, end} as JSON; `info`
    has the stream's request id too when `with_request_id`.
*/
boost::json::object decode_stream(detail::wire_format const& fmt,
                                  std::vector<std::string_view> const& pieces,
                                  bool with_request_id = false);
/// The same with a decoder of the caller's (one made outside the format registry).
boost::json::object decode_stream(detail::stream_decoder& dec,
                                  std::vector<std::string_view> const& pieces,
                                  bool with_request_id = false);

/// @name The fixture tables every wire format has, in tests/data/<dir>/
/// @{
/// responses.json: each case's head and body decode to its `response`, or fail with its `failure`.
void check_response_table(detail::wire_format const& fmt, std::string_view dir);
/// errors.json: each case's error response decodes to its `failure`.
void check_error_table(detail::wire_format const& fmt, std::string_view dir);
/** streams.json: each case's body (`body_of_case`) decodes to its chunks, info and ending, the
    same whole, split at every byte, and byte by byte.
*/
void check_stream_table(detail::wire_format const& fmt, std::string_view dir,
                        std::function<std::string(boost::json::object const&)> const& body_of_case,
                        bool with_request_id = false);
/// @}

/// @name Round trips between a format's client side and its server side
/// @{
/// Every field of a unified request as JSON, so that two requests compare exactly.
boost::json::object request_json(chat_request const& r);

/// What a client sees of an answer a server side wrote for `meta`: `status` and the format's
/// response headers (its request id).
detail::response_head served_head(detail::wire_server const& server,
                                  detail::answer_meta const& meta, unsigned status = 200);

/// The bytes a server side's stream encoder writes for `chunks`, then `whole`'s ending.
std::string encode_stream(detail::wire_server const& server, detail::answer_meta const& meta,
                          bool include_usage, std::vector<chat_chunk> const& chunks,
                          chat_response const& whole);

/** Decodes `bytes` with `fmt`'s stream decoder whole and split at every byte offset; every
    split must give the same {chunks, info, end} (see `decode_stream`), which is returned.
*/
boost::json::object decode_at_every_split(detail::wire_format const& fmt, std::string_view bytes);

/// The whole answer a stream's chunks add up to: text, reasoning, tool calls, the last finish
/// reason and usage.
chat_response accumulate(std::vector<chat_chunk> const& chunks);
/// @}

/// The JSON body of an encoded request (not JSON, or not an object, fails the test).
boost::json::object body_of(detail::http_request const& r);

/// `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`.
boost::json::object weather_schema();

/** An incoming request's head as a server side sees it (`detail::request_head`): method,
    target (path and query) and headers, all owned here, since the head holds views into them.
    Not copyable or movable: the head points at the members.
*/
struct request_head_fixture {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string target;
    detail::request_head head;

    explicit request_head_fixture(std::string_view target_,
                                  std::vector<std::pair<std::string, std::string>> h = {},
                                  std::string_view method = "POST");
    request_head_fixture(request_head_fixture const&) = delete;
    request_head_fixture& operator=(request_head_fixture const&) = delete;
};

}  // namespace llmux::test
