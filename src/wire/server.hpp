// SPDX-License-Identifier: BSL-1.0
// The server side of a wire format (DESIGN.md layer 5): decode an incoming request into a
// `chat_request`, encode answers, streams and errors in the provider's shape. Sans-io pure
// functions beside the client side (`wire_format`), one file per format
// (`src/wire/<format>_server.cpp`), registered with it in registry.cpp. The emulator and the
// gateway serve every registered server side through its endpoint table; neither has protocol
// code of its own.
#pragma once

#include "http/message.hpp"
#include "wire/errors.hpp"

#include <llmux/embeddings.hpp>
#include <llmux/types.hpp>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace llmux::detail {

/// @brief What a request to an endpoint asks for.
enum class operation { chat, count_tokens, list_models, get_model, embed };

/** @brief One endpoint of a format: method, path pattern, operation.

    Patterns are literal text with two kinds of holes: `{model}` captures the model name (one or
    more characters, `/` included: Gemini's SDK puts `a/b` into the path as it is, Bedrock's
    percent-encodes it; the capture is percent-decoded), `{*}` matches one path segment
    (Vertex's `/v1/projects/{*}/locations/{*}/...`).
*/
struct endpoint {
    std::string_view method;
    std::string_view pattern;
    operation op = operation::chat;
    /// The path chooses streaming (Gemini's `:streamGenerateContent`, Bedrock's
    /// `/converse-stream`).
    bool stream = false;
};

/// @brief How a request presents its credential, as the format's SDKs send it.
struct credential {
    enum class kind {
        none,
        /// An API key (`Authorization: Bearer`, `x-api-key`, `x-goog-api-key`, `?key=`, Azure's
        /// `api-key`): a server cannot know real keys, so any non-empty one is a credential.
        api_key,
        /// An access token a server issued or configured (Vertex's OAuth tokens, Bedrock API
        /// keys): checked against the known ones.
        access_token,
        /// An AWS Signature Version 4 (`Authorization: AWS4-HMAC-SHA256 ...`): verified.
        aws_sigv4,
    };
    kind how = kind::none;
    /// The key or token; for SigV4, the service the signature's scope must name (`bedrock`):
    /// the signature covers the whole request, which the server verifies.
    std::string_view value;
};

/// @brief A request as a client sent it, in neutral terms.
struct inbound_request {
    /// `req.model` is the model as the client named it (body or path).
    chat_request req;
    bool stream = false;
    /// OpenAI's `stream_options.include_usage`: a final usage chunk is wanted.
    bool include_usage = false;
    /** Fields of this format that the unified types cannot hold, with values other than their
        defaults: passed on (as `chat_request::extra`) only to an upstream of the same format;
        for any other, a server answers `unsupported` naming the field rather than drop it.
    */
    boost::json::object native;
    /** The first field of `native` as the client named it, when `native` carries it inside a
        list it holds whole (`messages.0.content.1.cache_control` inside `messages`); empty:
        the first key of `native` names it.
    */
    std::string native_name;
};

/// @brief A request whose reasoning round trip a real provider would refuse (the emulator
/// finds these; each format words the refusal as its provider does).
struct reasoning_fault {
    enum class kind {
        /// Claude with thinking: the assistant turn of the tool loop does not begin with its
        /// thinking block.
        missing_thinking,
        /// A thinking block whose signature does not match its text.
        invalid_signature,
        /// Gemini 3: the first function call of a step of the current turn has no signature.
        missing_call_signature,
        /// Gemini 3: a function call's signature is not the one the model gave.
        invalid_call_signature,
    };
    kind what = kind::missing_thinking;
    /// Where: the message and part (indexes into the unified request).
    std::size_t message = 0;
    std::size_t part = 0;
    /// The function's name (Gemini's wording names it).
    std::string name;
};

/// @brief How an embedding answer carries its vectors.
enum class vector_encoding {
    /// JSON arrays of numbers.
    float32,
    /// One base64 string per vector: its float32 values, little-endian (OpenAI's `base64`).
    base64,
};

/// @brief The form an embedding answer takes, as the request asked for it.
struct embedding_form {
    vector_encoding encoding = vector_encoding::float32;
    /// Which of its format's answer shapes (a format's own numbering: Gemini's single
    /// `embedContent`, `batchEmbedContents`, Vertex `predict`); 0 where there is one.
    std::uint8_t shape = 0;
};

/// @brief Facts an embedding answer may repeat that are not in `embedding_response`.
struct embedding_meta {
    /// The model name sent back: the name the client asked for.
    std::string_view model;
    /// An id for the answer's body (Cohere's `id`); the answer's request id will do.
    std::string_view id;
    /// The request's texts, in order (Cohere's answers repeat them as `texts`).
    std::span<std::string const> inputs;
};

/// @brief An embedding request as a client sent it, in neutral terms.
struct inbound_embedding {
    /// `req.model` is the model as the client named it (body or path).
    embedding_request req;
    /// How the client wants the answer back.
    embedding_form form;
    /// Fields of this format that the unified request cannot hold (as `inbound_request`).
    boost::json::object native;
};

/// @brief Facts of an answer that are not in `chat_response`.
struct answer_meta {
    /// The response id sent to the client (`chatcmpl-…`, `msg_…`), from `wire_server::make_id`.
    std::string_view id;
    /// Unix seconds.
    std::int64_t created = 0;
    /// The model name sent back: the name the client asked for.
    std::string_view model;
    /// The request id of the response's headers.
    std::string_view request_id;
    /// Time spent before the response head, for headers that say it (`openai-processing-ms`).
    std::uint64_t processing_ms = 0;
    /// The prompt's tokens when known before the answer starts (Anthropic's `message_start`
    /// reports them); unknown otherwise.
    token_count input_tokens;
};

/// @brief A complete answer: status, content type, headers and body.
struct http_answer {
    unsigned status = 200;
    std::string content_type;
    header_list headers;
    std::string body;
};

/// @brief Receives the header lines a format writes, without a copy.
class header_sink {
public:
    virtual void header(std::string_view name, std::string_view value) = 0;

protected:
    ~header_sink() = default;
};

/** @brief Writes unified chunks as framed bytes: SSE with the provider's event names, or AWS
    event-stream frames with their CRCs. One per stream; appends to `out`, which the caller
    sends and reuses.
*/
class stream_encoder {
public:
    virtual ~stream_encoder() = default;

    /// The events of `c`. The first call also writes the stream's opening events (OpenAI's
    /// role chunk, Anthropic's `message_start`), even for a chunk without content.
    virtual void chunk(chat_chunk const& c, std::string& out) = 0;
    /// The end: finish reason (if no chunk carried it), usage, the end marker.
    virtual void finish(chat_response const& whole, std::string& out) = 0;
    /// The provider's in-stream error event, after which the stream ends.
    virtual void error(api_error const& e, std::string& out) = 0;
    /// An event that starts like the others but whose payload is not valid JSON (the emulator's
    /// `malformed` fault); the stream may go on after it.
    virtual void malformed(std::string& out) = 0;
};

/// @brief What an id made by `wire_server::make_id` names.
enum class id_kind { response, tool_call, request };

/** @brief The server side of one wire format.

    Implementations are stateless and used from many connections at once.
*/
class wire_server {
public:
    virtual ~wire_server() = default;

    /// @brief The format's name: the same as its client side's (`wire_format::name`).
    virtual std::string_view name() const noexcept = 0;

    /// @brief The endpoints, most specific first (the first match wins).
    virtual std::span<endpoint const> endpoints() const noexcept = 0;

    /// @brief The credential where this format's SDKs put it.
    virtual credential presented_credential(request_head const& head) const = 0;
    /// @brief Where a client of this format sends its key, for a "missing key" message
    /// (`Authorization: Bearer <key>`).
    virtual std::string_view key_hint() const noexcept = 0;

    /** @brief Decodes a chat or count_tokens request (`head.path_model` holds the path's
        model, if any). An invalid request gives the 400 to answer with, naming the field.
    */
    virtual boost::system::result<inbound_request, api_error>
    decode_request(request_head const& head, std::string_view body) const = 0;

    /// @brief Content type of whole answers and errors.
    virtual std::string_view content_type() const noexcept { return "application/json"; }
    virtual void encode_response(chat_response const& r, answer_meta const& m,
                                 std::string& out) const = 0;
    virtual std::string_view stream_content_type() const noexcept = 0;
    /// @brief A stream encoder; `include_usage` is the request's (formats that always send
    /// usage ignore it).
    virtual std::unique_ptr<stream_encoder> make_stream_encoder(answer_meta const& m,
                                                                bool include_usage) const = 0;

    /// @brief `e` in the provider's error shape, with its status and headers (`retry-after`,
    /// `x-should-retry`, Bedrock's `x-amzn-errortype`).
    virtual http_answer encode_error(api_error const& e) const = 0;

    /// @brief Headers every answer of this provider carries (its request id header, timing).
    virtual void response_headers(answer_meta const& m, header_sink& out) const {
        (void)m;
        (void)out;
    }

    /// @brief An id in this format's conventions, from a tag and a number (`chatcmpl-emu-7`,
    /// `call_emu_7`).
    virtual std::string make_id(id_kind kind, std::string_view tag, std::uint64_t n) const = 0;

    /** @brief Decodes an embedding request (`operation::embed`). The default, for formats
        without an embeddings endpoint in this server, is a 404.
    */
    virtual boost::system::result<inbound_embedding, api_error>
    decode_embedding_request(request_head const& head, std::string_view body) const;

    /** @brief Writes an embedding answer in the form the request asked for (`form`, from
        `decode_embedding_request`), under the model name `m.model`. False (and `out`
        unspecified) when the answer cannot be written: a value that is not finite has no JSON
        number (base64 carries it exactly), the number of vectors does not fit the form, or the
        format has no embeddings.
    */
    virtual bool encode_embedding_response(embedding_response const& r, embedding_meta const& m,
                                           embedding_form form, std::string& out) const;

    /// @name Other operations (defaults: OpenAI's model list shape, a bare count)
    /// @{
    virtual void encode_models(std::span<std::string const> names, std::int64_t created,
                               std::string& out) const;
    virtual void encode_model(std::string_view name, std::int64_t created,
                              std::string& out) const;
    virtual void encode_token_count(std::uint64_t tokens, std::string& out) const;
    /// @}

    /// @name The provider's own wording (what the emulator answers with)
    /// @{
    /// A scripted error status with the provider's usual type, code and message.
    virtual api_error error_for_status(unsigned status, std::string_view model) const;
    /** No credential (`missing`), or one that is not accepted: `why` and `type` say why when the
        server knows (a SigV4 verification's message and AWS error type), else the provider's
        usual words apply.
    */
    virtual api_error auth_error(bool missing, std::string_view why, std::string_view type) const;
    /** As `auth_error`, for a format whose words depend on the request: Gemini answers a
        blank API key, a Vertex AI path without a token and an AI Studio path without a key
        differently. The default is `auth_error`.
    */
    virtual api_error auth_error_for(request_head const& head, bool missing, std::string_view why,
                                     std::string_view type) const;
    /// The error a provider sends inside a stream that breaks (the emulator's `error_mid`).
    /// The provider's 400 for a reasoning round trip it refuses (default: a plain 400 naming
    /// the place).
    virtual api_error reasoning_refused(reasoning_fault const& f) const;
    virtual api_error mid_stream_error(std::string_view model) const {
        return error_for_status(500, model);
    }
    /// A path the server does not serve.
    virtual api_error unknown_endpoint(std::string_view method, std::string_view target) const;
    /// @}
};

/// @brief The registered server side of the format named `name`, or null.
wire_server const* find_wire_server(std::string_view name) noexcept;

/// @brief Every registered server side, in registry order.
std::span<wire_server const* const> wire_servers() noexcept;

/** @brief Matches `path` against an endpoint pattern (see `endpoint`). Returns the `{model}`
    capture, percent-decoded (empty when the pattern has none), or nothing.

    With `any_prefix`, the pattern may match any tail of the path that starts with a `/`
    (`/api/v1/chat/completions` matches `/chat/completions`): the emulator is reached at
    whatever base path a client is configured with. The gateway matches whole paths.
*/
std::optional<std::string> match_path(std::string_view pattern, std::string_view path,
                                      bool any_prefix = false);

/// @brief An endpoint of a registered server side.
struct endpoint_match {
    wire_server const* server = nullptr;
    endpoint const* ep = nullptr;
    /// The path's `{model}`, percent-decoded.
    std::string path_model;
};

/** @brief The endpoints of several server sides, in order.

    `find` returns the first endpoint whose method and pattern match; `path_served` tells
    whether some endpoint serves the path with another method (a 405, and which method).
*/
class endpoint_table {
public:
    /// @param servers whose endpoints, in this order; @param any_prefix see `match_path`.
    endpoint_table(std::span<wire_server const* const> servers, bool any_prefix);

    /// The endpoint for `method path`; `HEAD` matches `GET` endpoints.
    std::optional<endpoint_match> find(std::string_view method, std::string_view path) const;
    /// The server side serving `path` with any method (for the error shape of a 405 or a
    /// refused request), and a method it takes; null when none.
    std::pair<wire_server const*, std::string_view> path_served(std::string_view path) const;

    struct entry {
        wire_server const* server;
        endpoint const* ep;
    };
    std::span<entry const> entries() const noexcept { return entries_; }

private:
    std::vector<entry> entries_;
    bool any_prefix_;
};

}  // namespace llmux::detail
