// SPDX-License-Identifier: BSL-1.0
// The emulator's legacy seam between the format-neutral part (what to answer, when, which
// fault) and a provider's wire format, for the formats whose server side is not yet in the
// wire layer (src/wire/<format>_server.cpp). OpenAI chat completions is served through its
// wire_server; Anthropic, Gemini and Bedrock still through these protocols, until issue 10's
// phase B moves each into its wire format and deletes its file here (and this one with the
// last).
#pragma once

#include "http/server.hpp"
#include "wire/errors.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

/// @brief An error answer in neutral terms (the wire layer's); the protocol writes it in the
/// provider's shape.
using emu_error = api_error;

/** @brief What the emulator knows about credentials, for protocols that verify signatures
    (Bedrock's SigV4) or tokens (Vertex's OAuth access tokens).
*/
struct emu_auth {
    /// The secret of an AWS access key id, if the emulator knows it.
    std::function<std::optional<std::string>(std::string_view)> aws_secret;
    /// True when `token` is a Bearer token the emulator accepts: one its OAuth endpoint issued
    /// and that has not expired, or one of `emulator_config::access_tokens`.
    std::function<bool(std::string_view)> bearer_token;
    /// Now, for signature time checks.
    std::chrono::system_clock::time_point now;
};

/// @brief Which endpoint of a protocol a request targets.
enum class emu_endpoint { none, chat, list_models, get_model };

/// @brief The result of routing a request to a protocol.
struct emu_route {
    emu_endpoint endpoint = emu_endpoint::none;
    /// A model named by the path (Azure deployment, `GET .../models/{id}`, Gemini, Bedrock).
    std::string path_model;
    /// Streaming chosen by the path (Gemini `:streamGenerateContent`, Bedrock `converse-stream`).
    bool path_stream = false;
};

/// @brief A tool offered to the model.
struct emu_tool {
    std::string_view name;
    /// Its JSON-schema parameters; null when absent. Points into the request's JSON document.
    boost::json::object const* parameters = nullptr;
};

/// @brief What the client asked for, in neutral terms. Views point into the request's parsed
/// JSON document, which outlives this object.
struct emu_request {
    /// The model as sent, `~directives` included.
    std::string model;
    bool stream = false;
    /// OpenAI `stream_options.include_usage`.
    bool include_usage = false;
    std::optional<std::uint64_t> max_tokens;
    /// Text of the last user message (text parts joined).
    std::string last_user_text;
    /// Bytes of message text of the whole conversation, for the prompt token estimate.
    std::size_t prompt_chars = 0;
    /// The last message is a tool result; `tool_result` is its content.
    bool last_is_tool_result = false;
    std::string tool_result;

    std::vector<emu_tool> tools;
    enum class tool_mode { automatic, none, required, named };
    tool_mode tool_choice = tool_mode::automatic;
    std::string tool_choice_name;

    enum class format { text, json_object, json_schema };
    format response_format = format::text;
    /// The schema of a `json_schema` answer; null when absent.
    boost::json::object const* schema = nullptr;
};

/// @brief Why the answer ended.
enum class emu_finish { stop, length, tool_calls };

/// @brief The planned answer. The protocol renders it whole or as stream events.
struct emu_answer {
    /// Request number (1, 2, ...): ids are made from it (`chatcmpl-emu-<n>`, `call_emu_<n>`).
    std::uint64_t number = 0;
    /// The model reported back: the requested name without `~directives`.
    std::string model;
    /// Unix seconds.
    std::int64_t created = 0;
    bool stream = false;
    bool include_usage = false;

    /// A tool call rather than text; `text` then holds the call's JSON arguments.
    bool tool_call = false;
    std::string tool_name;
    std::string text;
    /// End offsets in `text` of its tokens (each a word with its leading space), after
    /// `max_tokens`. Offsets rather than views, so the answer can be moved.
    std::vector<std::uint32_t> piece_ends;
    emu_finish finish = emu_finish::stop;

    std::uint64_t prompt_tokens = 0;
    std::uint64_t completion_tokens = 0;

    /// Scratch space a protocol may fill in `stream_begin` (e.g. the common prefix of its
    /// events) and reuse for every event of the stream.
    std::string scratch;

    std::size_t piece_count() const noexcept { return piece_ends.size(); }
    /// Token `i` of the answer.
    std::string_view piece(std::size_t i) const noexcept {
        std::size_t const begin = i == 0 ? 0 : piece_ends[i - 1];
        return std::string_view(text).substr(begin, piece_ends[i] - begin);
    }
    /// The (possibly cut) answer text: the concatenated pieces.
    std::string_view sent_text() const noexcept {
        return std::string_view(text).substr(0, piece_ends.empty() ? 0 : piece_ends.back());
    }
};

/** @brief One provider wire format, as the emulator serves it.

    Implementations are stateless and used from many connections at once. Renderers append
    to `out`, which the caller reuses across events and requests.
*/
class emulator_protocol {
public:
    virtual ~emulator_protocol() = default;

    /// @brief A short name (`openai`).
    virtual std::string_view name() const noexcept = 0;

    /// @brief Which endpoint `method path` targets (path without the query), if this
    /// protocol serves it.
    virtual emu_route route(boost::beast::http::verb method, std::string_view path) const = 0;

    /** @brief Checks the request's credentials the way this provider does. Returns the error
        to answer with (in the provider's shape: 401, or Bedrock's 403) when they are missing
        or wrong. Only called when `emulator_config::require_auth` is on.
    */
    virtual std::optional<emu_error> check_auth(server_request const& req,
                                                emu_auth const& auth) const = 0;

    /// @brief Reads a chat request from `doc` (the parsed body). An invalid request gives
    /// the 400 to answer with.
    virtual boost::system::result<emu_request, emu_error>
    parse_chat(boost::json::value const& doc, emu_route const& route) const = 0;

    /// @name Errors
    /// @{
    /// A scripted error status with the provider's usual type, code and message.
    virtual emu_error error_for_status(unsigned status, std::string_view model) const = 0;
    /// No or bad credentials.
    virtual emu_error unauthorized() const = 0;
    /// A path this server does not serve.
    virtual emu_error unknown_route(std::string_view method, std::string_view target) const = 0;
    /// A body that is not JSON.
    virtual emu_error invalid_json(std::string_view detail) const = 0;
    /// A 400 with a message (bad emulator directives and the like).
    virtual emu_error bad_request(std::string message) const = 0;
    virtual void render_error(emu_error const& e, std::string& out) const = 0;
    /// @}

    /// @brief Headers every response of this provider carries (request id, timing).
    virtual void add_headers(server_exchange& ex, std::uint64_t number,
                             std::uint64_t processing_ms) const = 0;

    /// @brief Headers an error response carries besides those (Bedrock's `x-amzn-ErrorType`).
    virtual void add_error_headers(server_exchange& ex, emu_error const& e) const {
        (void)ex;
        (void)e;
    }

    /// @name Answers
    /// @{
    virtual void render_models(std::span<std::string const> models, std::string& out) const = 0;
    virtual void render_model(std::string_view model, std::string& out) const = 0;
    virtual void render_response(emu_answer const& a, std::string& out) const = 0;
    /// A response body that is not valid JSON (the `malformed` fault).
    virtual void render_malformed_response(emu_answer const& a, std::string& out) const = 0;
    /// @}

    /// @name Streams
    /// @{
    virtual std::string_view stream_content_type() const noexcept = 0;
    /// Events before the first content piece (OpenAI: the role chunk, a tool call's header).
    virtual void stream_begin(emu_answer& a, std::string& out) const = 0;
    /// The event carrying piece `i` of the answer.
    virtual void stream_piece(emu_answer& a, std::size_t i, std::string& out) const = 0;
    /// Events after the last piece: finish, usage, end marker.
    virtual void stream_end(emu_answer& a, std::string& out) const = 0;
    /// The provider's in-stream error event.
    virtual void stream_error(emu_answer& a, std::string& out) const = 0;
    /// An event whose payload is not valid JSON.
    virtual void stream_malformed(emu_answer& a, std::string& out) const = 0;
    /// @}
};


}  // namespace llmux::detail
