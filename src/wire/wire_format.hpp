// SPDX-License-Identifier: BSL-1.0
#pragma once

#include "http/message.hpp"

#include <llmux/config.hpp>
#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

/// What an encoder needs besides the request.
struct encode_context {
    provider_config const& provider;
    /// The provider's own model name (the part after `provider/`).
    std::string_view model;
    bool stream = false;
};

/// Facts a stream carries besides its deltas.
struct stream_info {
    std::string id;
    std::string model;
    std::string native_finish_reason;
    /// The request id when the stream's body carries it (Gemini's `responseId`); the client
    /// uses the response headers when this is empty.
    std::string request_id;
};

/** Turns a streamed body into chunks. Owns its framing (SSE, AWS event-stream), so the
    transport only hands it bytes, in whatever splits they arrived.
*/
class stream_decoder {
public:
    virtual ~stream_decoder() = default;

    /// Consumes body bytes and appends the chunks they complete to `out`. A failure (an error
    /// event in the stream, malformed data) ends the stream.
    virtual result<void> feed(std::string_view bytes, std::vector<chat_chunk>& out) = 0;

    /// The body ended. Fails with `error::truncated` if the stream had not reached its end
    /// marker (OpenAI's `[DONE]`, a finish reason, Anthropic's `message_stop`).
    virtual result<void> finish(std::vector<chat_chunk>& out) = 0;

    virtual stream_info const& info() const noexcept = 0;
};

/** One provider protocol, as sans-io pure functions (DESIGN.md layer 5). No sockets, timers
    or coroutines: every function is tested from bytes alone.
*/
class wire_format {
public:
    virtual ~wire_format() = default;

    virtual std::string_view name() const noexcept = 0;

    /// The format that serves `model`. A provider whose models speak different protocols
    /// (Vertex AI: Gemini and Claude) returns the right one; the client uses it for the whole
    /// call (encode, decode, errors, stream).
    virtual wire_format const& for_model(std::string_view model) const noexcept {
        (void)model;
        return *this;
    }

    /// Builds the HTTP request (target, headers except auth, body). A request the format
    /// cannot express fails with `error::unsupported` naming the field.
    virtual result<http_request> encode(chat_request const& req,
                                        encode_context const& ctx) const = 0;

    /// Decodes a successful (2xx) response body.
    virtual result<chat_response> decode(response_head const& head,
                                         std::string_view body) const = 0;

    /// Decodes a non-2xx response into a failure with the provider's diagnostics.
    virtual failure decode_error(response_head const& head, std::string_view body) const = 0;

    /// A decoder for a streamed 2xx response.
    virtual std::unique_ptr<stream_decoder> make_stream_decoder() const = 0;

    /** True when this format, for `model`, continues a final assistant message of `req` (an
        assistant "prefill") rather than starting a new answer: what stream continuation
        needs. False unless the provider documents it (see wire/prefill.hpp).
    */
    virtual bool continues_prefill(std::string_view model, chat_request const& req) const noexcept {
        (void)model;
        (void)req;
        return false;
    }
};

/// The registered wire format named `name`, or null.
wire_format const* find_wire_format(std::string_view name) noexcept;

/// The names of every registered wire format.
std::vector<std::string_view> wire_format_names();

}  // namespace llmux::detail
