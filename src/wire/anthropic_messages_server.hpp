// SPDX-License-Identifier: BSL-1.0
// The server side of Anthropic Messages as the gateway has served it (moved from
// src/gateway/anthropic_server.cpp): request decoding, answers, SSE events and errors. Wrapped
// as the format's `wire_server` (anthropic_messages_server()) for the gateway's endpoint table.
// The emulator still answers Anthropic requests through its own protocol
// (src/emulator/anthropic_protocol.cpp) until the two are merged here (issue 10, phase B).
#pragma once

#include "wire/server.hpp"

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace llmux::detail {

/** @brief Parses an Anthropic Messages request body (PROVIDERS.md section 3.1).
    Invalid requests give a 400 naming the field.
*/
boost::system::result<inbound_request, api_error> parse_anthropic_request(std::string_view body);

void render_anthropic_response(chat_response const& r, answer_meta const& m, std::string& out);
void render_anthropic_error(api_error const& e, std::string& out);
/// Anthropic's `stop_reason` (`end_turn`, `max_tokens`, `tool_use`, `refusal`).
std::string_view anthropic_stop_reason(finish_reason r) noexcept;
/// Anthropic's `error.type` for an HTTP status.
std::string_view anthropic_error_type(unsigned status) noexcept;

/** @brief Writes a stream of `chat_chunk`s as Anthropic Messages SSE events: `message_start`,
    a `content_block_start` / `content_block_delta`s / `content_block_stop` per text or
    tool-use block, `message_delta` with the stop reason and usage, `message_stop`.
*/
class anthropic_stream_writer final : public stream_encoder {
public:
    explicit anthropic_stream_writer(answer_meta const& m);

    void chunk(chat_chunk const& c, std::string& out) override;
    void finish(chat_response const& r, std::string& out) override;
    /// An `event: error` after which the stream ends.
    void error(api_error const& e, std::string& out) override;
    /// An `event: content_block_delta` whose data is cut short.
    void malformed(std::string& out) override;

private:
    void begin(std::string& out);
    void close_block(std::string& out);
    void open_text(std::string& out);

    std::string id_;
    std::string model_;
    bool started_ = false;
    bool finished_ = false;
    /// The open content block: -1 none; its kind.
    int open_ = -1;
    bool open_is_text_ = false;
    std::size_t open_tool_ = 0;  // the tool-call index of an open tool_use block
    int next_index_ = 0;
    std::map<std::size_t, int> tool_blocks_;  // tool-call index -> block index
};

}  // namespace llmux::detail
