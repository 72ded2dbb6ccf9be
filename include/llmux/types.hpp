// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/error.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace llmux {

/// @brief The author of a message.
enum class role { system, user, assistant, tool };

std::string_view to_string(role r) noexcept;

/** @brief A prompt-cache breakpoint: the provider may cache the prompt up to and including the
    block that carries it (Anthropic `cache_control`, Bedrock `cachePoint`).

    Formats with automatic caching (OpenAI, Gemini, DeepSeek) have no breakpoints and ignore
    it; OpenRouter passes it on to upstreams that take it.
*/
struct cache_control {
    /// How long the entry lives: empty (the provider's default, 5 minutes), `5m` or `1h`.
    std::string ttl;

    friend bool operator==(cache_control const&, cache_control const&) = default;
};

/// @brief A piece of text in a message.
struct text_part {
    std::string text;
    /// A cache breakpoint after this part.
    std::optional<cache_control> cache;
};

/** @brief An image in a message.

    `url` is either an `https://` URL or a `data:<media type>;base64,<data>` URI. Providers that
    only take inline images (Anthropic, Gemini, Bedrock) receive data URIs as base64 and reject
    remote URLs with `error::unsupported` where they cannot fetch them.
*/
struct image_part {
    std::string url;
    /// OpenAI's `detail` hint: empty, `auto`, `low` or `high`.
    std::string detail;
    /// A cache breakpoint after this part.
    std::optional<cache_control> cache;
};

/** @brief A document in a message (a PDF, or plain text).

    `url` is a `data:<media type>;base64,<data>` URI (`application/pdf`, `text/plain`) or an
    `https://` URL. OpenAI takes it as a `file` part (Responses: `input_file`), Anthropic as a
    `document` block, Gemini as `inlineData`/`fileData`, Bedrock as a `document` block (whose
    `name` is derived from `name`, as Bedrock's rules require). A combination a provider cannot
    take (a URL on Bedrock, a document on a model without document input) is
    `error::unsupported`.
*/
struct document_part {
    std::string url;
    /// The file name shown to the model (`q3-report.pdf`); may be empty.
    std::string name;
    /// A cache breakpoint after this part.
    std::optional<cache_control> cache;
};

/// @brief Builds a document part from base64 data and its media type (`application/pdf`).
document_part document_base64(std::string_view media_type, std::string_view base64_data,
                              std::string name = {});

/** @brief Reasoning the model did before it answered, kept so that it can be sent back.

    Claude with thinking, Gemini 3, Bedrock and OpenAI's stateless reasoning require the
    reasoning of an assistant turn (its signature or encrypted content) to come back unchanged
    on the next turn, at least while a tool loop runs. `llmux::assistant(response)` builds that
    turn. A part is sent back only to a provider of the family that made it (`origin`):
    signatures validate nowhere else, so other formats leave it out, as the providers' documents
    prescribe.
*/
struct reasoning_part {
    enum class kind {
        /// The reasoning text (Anthropic `thinking`, Bedrock `reasoningText`, DeepSeek
        /// `reasoning_content`, Gemini thought parts).
        text,
        /// A summary of it (OpenAI Responses `summary_text`).
        summary,
        /// Reasoning the provider encrypted (Anthropic `redacted_thinking`, Bedrock
        /// `redactedContent`): `data` holds it.
        redacted,
    };
    kind type = kind::text;
    std::string text;
    /// The provider's proof of it: Anthropic's and Bedrock's `signature`, Gemini's
    /// `thoughtSignature`, OpenAI's `encrypted_content`. Opaque; sent back byte for byte.
    std::string signature;
    /// Redacted reasoning, opaque (`kind::redacted`).
    std::string data;
    /// The provider's id of it, where it has one (OpenAI's `rs_…`).
    std::string id;
    /// The family whose models can read it back: `anthropic` (Claude on Anthropic, Bedrock or
    /// Vertex AI), `google`, `openai`, `deepseek`, `bedrock` (other Bedrock models).
    std::string origin;

    friend bool operator==(reasoning_part const&, reasoning_part const&) = default;
};

/// @brief Builds an image part from base64 data and its media type (`image/png`, ...).
image_part image_base64(std::string_view media_type, std::string_view base64_data);

/// @brief A call of a tool by the model. `arguments` is JSON text, as the model produced it.
struct tool_call {
    std::string id;
    std::string name;
    std::string arguments;
    /// Gemini's `thoughtSignature` on this call's part: sent back on the same part (Gemini 3
    /// refuses a tool loop's next turn without it). Opaque; empty where there is none.
    std::string signature;
};

/// @brief The result of a tool call, sent back to the model.
struct tool_result {
    std::string tool_call_id;
    /// The tool's name; Gemini needs it, other providers ignore it.
    std::string name;
    std::string content;
    bool is_error = false;
    /// A cache breakpoint after this part.
    std::optional<cache_control> cache;
};

/// @brief One part of a message's content.
using content_part =
    std::variant<text_part, image_part, tool_call, tool_result, document_part, reasoning_part>;

/// @brief One message of a conversation.
struct message {
    llmux::role role = role::user;
    std::vector<content_part> content;

    /// @brief The concatenated text parts.
    std::string text() const;
};

/// @name Message builders
/// @{
message system(std::string text);
message user(std::string text);
message user(std::vector<content_part> parts);
message assistant(std::string text);
/// @brief An assistant turn that called tools (e.g. copied from a response to continue).
message assistant(std::string text, std::vector<tool_call> calls);
/// @brief A tool's answer to the call `tool_call_id`.
message tool_answer(std::string tool_call_id, std::string content, std::string name = {},
                    bool is_error = false);
struct chat_response;
/** @brief The assistant turn of `response`, to continue the conversation: its reasoning parts
    (signatures and encrypted content included, in the order the provider gave them), its text
    and its tool calls (with their signatures). Append it, then the tool answers or the next
    user message.
*/
message assistant(chat_response const& response);
/// @}

/// @brief A tool (function) the model may call. `parameters` is a JSON Schema object.
struct tool {
    std::string name;
    std::string description;
    boost::json::object parameters;
    /// OpenAI's `strict` flag (schema adherence); ignored where unsupported.
    bool strict = false;
    /// A cache breakpoint after this tool (tools are the start of the cached prefix).
    std::optional<cache_control> cache;
};

/// @brief How the model should choose tools.
struct tool_choice {
    enum class mode { automatic, none, required, named };
    mode how = mode::automatic;
    /// The tool to call when `how == mode::named`.
    std::string name;

    static tool_choice automatic() { return {}; }
    static tool_choice none() { return {mode::none, {}}; }
    static tool_choice required() { return {mode::required, {}}; }
    static tool_choice named(std::string n) { return {mode::named, std::move(n)}; }
};

/// @brief The shape the answer must take.
struct response_format {
    enum class kind { text, json_object, json_schema };
    kind type = kind::text;
    /// For `json_schema`: a name for the schema and the schema itself.
    std::string name;
    boost::json::object schema;
    bool strict = true;

    static response_format json() { return {kind::json_object, {}, {}, false}; }
    static response_format json_schema(std::string name, boost::json::object schema,
                                       bool strict = true) {
        return {kind::json_schema, std::move(name), std::move(schema), strict};
    }
};

/// @brief How hard a model should think, as OpenAI names the levels.
enum class reasoning_effort { none, minimal, low, medium, high, xhigh, max };

std::string_view to_string(reasoning_effort e) noexcept;
/// @brief Parses `none`, `minimal`, `low`, `medium`, `high`, `xhigh` or `max`.
std::optional<reasoning_effort> parse_reasoning_effort(std::string_view s) noexcept;

/** @brief Reasoning controls, mapped onto each provider's own: OpenAI `reasoning_effort`
    (Responses `reasoning`), Anthropic `thinking` (a budget, or adaptive thinking with an
    effort), Gemini `thinkingConfig`, Bedrock `additionalModelRequestFields`, OpenRouter
    `reasoning`, DeepSeek `thinking`. A control a provider cannot honour is
    `error::unsupported` naming it, never dropped.
*/
struct reasoning_options {
    std::optional<reasoning_effort> effort;
    /// A budget of reasoning tokens (Anthropic `budget_tokens`, Gemini `thinkingBudget`).
    /// Where a format takes only an effort, or only a budget, the other is derived.
    std::optional<std::int64_t> budget_tokens;
    /// True: return the reasoning text or a summary where the provider can; false: ask for
    /// none; empty: the provider's default.
    std::optional<bool> include_text;

    friend bool operator==(reasoning_options const&, reasoning_options const&) = default;
};

/** @brief A chat request, the same for every provider.

    @note GCC 12 miscompiles an aggregate built inside a `co_await` expression (it is destroyed
    twice), so with GCC 12 write `chat_request req{...}; co_await client.chat(req);` or use
    `client.chat(model, prompt)`, not `co_await client.chat({...})`. Clang and GCC 13+ accept
    both forms.

    `model` is `provider/model` (e.g. `openai/gpt-4o-mini`, `openrouter/anthropic/claude-sonnet-4.6`).
    Optional fields left empty are not sent, so the provider's defaults apply.
*/
struct chat_request {
    std::string model;
    std::vector<message> messages;
    /// A system prompt; sent as the provider's system field (or a leading system message).
    std::string system;
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<std::int64_t> max_tokens;
    std::vector<std::string> stop;
    std::optional<std::int64_t> seed;
    std::vector<llmux::tool> tools;
    std::optional<llmux::tool_choice> tool_choice;
    std::optional<llmux::response_format> response_format;
    /// An end-user id for the provider's abuse monitoring.
    std::string user;
    /// Reasoning controls; empty: the model's default.
    std::optional<reasoning_options> reasoning;
    /// A cache breakpoint after the system prompt.
    std::optional<cache_control> system_cache;
    /// OpenAI's `prompt_cache_key` (requests with the same key share the provider's cache).
    std::string prompt_cache_key;
    /// Provider-specific fields, merged into the provider's JSON body last (they win), e.g.
    /// OpenRouter's `provider`, `models`, `route`.
    boost::json::object extra;
    /// Extra HTTP headers for this call only. Names and values must not contain CR or LF.
    std::vector<std::pair<std::string, std::string>> headers;
};

/** @brief A token count that may be unknown.

    A provider that did not report a count leaves it unknown; it is never taken as 0.
    Prints as the number or `unknown`.
*/
class token_count {
public:
    constexpr token_count() noexcept = default;
    constexpr token_count(std::uint64_t n) noexcept : v_(n) {}  // NOLINT: implicit on purpose

    constexpr bool has_value() const noexcept { return v_.has_value(); }
    constexpr explicit operator bool() const noexcept { return v_.has_value(); }
    /// @brief The count; throws `std::bad_optional_access` when unknown.
    constexpr std::uint64_t value() const { return v_.value(); }
    constexpr std::uint64_t operator*() const noexcept { return *v_; }
    constexpr std::uint64_t value_or(std::uint64_t d) const noexcept { return v_.value_or(d); }
    constexpr std::optional<std::uint64_t> const& get() const noexcept { return v_; }

    friend constexpr bool operator==(token_count const&, token_count const&) = default;

private:
    std::optional<std::uint64_t> v_;
};

std::ostream& operator<<(std::ostream& os, token_count const& c);

/// @brief Token usage of a call, as reported by the provider.
struct usage {
    /// All prompt tokens, cached ones included.
    token_count input_tokens;
    token_count output_tokens;
    token_count total_tokens;
    /// Prompt tokens read from the provider's cache (priced lower).
    token_count cached_input_tokens;
    /// Prompt tokens written to the provider's cache (Anthropic, Bedrock, OpenRouter).
    token_count cache_write_tokens;
    /// Output tokens spent on reasoning (included in `output_tokens`).
    token_count reasoning_tokens;
    /// Cost the provider reported itself (OpenRouter's `usage.cost`), in USD.
    std::optional<double> reported_cost;

    /// @brief True when the provider reported at least input and output counts.
    bool known() const noexcept { return input_tokens && output_tokens; }
};

/// @brief Why the model stopped.
enum class finish_reason {
    /// Not (yet) known: a stream that has not finished, or a value llmux does not recognise.
    unknown,
    stop,
    length,
    tool_calls,
    content_filter,
    error,
};

std::string_view to_string(finish_reason r) noexcept;

/** @brief A list of `provider/model` ids, for fallback, hedging and fan-out.

    A `std::vector<std::string>` that also brace-initialises element by element, without a
    `std::initializer_list`: GCC 12 rejects an initializer list inside a `co_await` expression,
    which would break `co_await llmux::fallback(client, {"openai/gpt-4o", "google/gemini-2.0-flash"}, req)`.
*/
class model_list : public std::vector<std::string> {
public:
    model_list() = default;
    model_list(std::vector<std::string> ids) : std::vector<std::string>(std::move(ids)) {}  // NOLINT

    template <class... S>
        requires(sizeof...(S) > 0 && (std::is_constructible_v<std::string, S &&> && ...))
    model_list(S&&... ids) {  // NOLINT: implicit on purpose
        reserve(sizeof...(S));
        (emplace_back(std::forward<S>(ids)), ...);
    }
};

/** @brief A `provider/model` id, parsed once.

    The provider is the first path segment; the rest is the provider's own model name, which
    may itself contain slashes (`openrouter/anthropic/claude-sonnet-4.6`).
*/
struct model_id {
    std::string provider;
    std::string model;

    /// @brief Parses `provider/model`. Errors: `error::invalid_model_id` naming the input.
    static result<model_id> parse(std::string_view id);
    std::string str() const { return provider + "/" + model; }
};

/** @brief A streamed answer that broke after its text began and went on elsewhere
    (`fallback_options::continue_streams`): the caller's text is one answer written by two models.
*/
struct continuation {
    /// The `provider/model` whose stream broke.
    std::string from;
    /// The `provider/model` that continued it, from the partial answer sent as a prefill.
    std::string by;
    /// Bytes of answer text the caller had when it broke.
    std::size_t at = 0;
};

/// @brief A whole answer.
struct chat_response {
    /// The provider's response id (`chatcmpl-…`, `msg_…`).
    std::string id;
    /// The model that actually answered, as the provider named it.
    std::string model;
    /// The `provider/model` id the call was sent to.
    std::string requested_model;
    std::string provider;
    /// The answer's text.
    std::string content;
    /// Reasoning text where the provider returns it (thinking, summaries, DeepSeek
    /// `reasoning_content`), for reading; `reasoning_parts` is what goes back.
    std::string reasoning;
    /// The reasoning blocks with their signatures, in the provider's order.
    std::vector<reasoning_part> reasoning_parts;
    std::vector<tool_call> tool_calls;
    llmux::finish_reason finish_reason = finish_reason::unknown;
    /// The provider's own finish reason string (`end_turn`, `STOP`, ...).
    std::string native_finish_reason;
    llmux::usage usage;
    /// The provider's request id header.
    std::string request_id;
    /// From sending the request to the last byte of the answer.
    std::chrono::nanoseconds latency{};
    /// From sending the request to the first byte of content (streams) or of the response.
    std::chrono::nanoseconds ttft{};
    /// Cost in USD computed from usage and the catalog, or reported by the provider; empty
    /// when unknown.
    std::optional<double> cost_usd;
    /// Every attempt made for this answer (one unless fallback, retry or hedging was used).
    std::vector<llmux::attempt> attempts;
    /// Where a streamed answer was continued on another model after its stream broke (only
    /// with `fallback_options::continue_streams`); empty otherwise.
    std::vector<llmux::continuation> continuations;

    std::string const& text() const noexcept { return content; }
};

/// @brief A fragment of a tool call in a stream; fragments with the same index form one call.
struct tool_call_delta {
    std::size_t index = 0;
    std::string id;
    std::string name;
    std::string arguments;
    /// Gemini's `thoughtSignature` of the call (arrives whole, on one fragment).
    std::string signature;
};

/// @brief One streamed delta.
struct chat_chunk {
    std::string text;
    std::string reasoning;
    /** Reasoning blocks completed by this chunk, whole (their text also arrived, piece by
        piece, in `reasoning`): what a stream's assembled answer sends back.
    */
    std::vector<reasoning_part> reasoning_parts;
    std::vector<tool_call_delta> tool_calls;
    /// Set on the chunk that ends the answer.
    std::optional<llmux::finish_reason> finish_reason;
    /// Set on the chunk that carries the final usage.
    std::optional<llmux::usage> usage;

    /// @brief True when the chunk carries content (text, reasoning or a tool call).
    bool has_content() const noexcept {
        return !text.empty() || !reasoning.empty() || !reasoning_parts.empty() ||
               !tool_calls.empty();
    }
};

}  // namespace llmux
