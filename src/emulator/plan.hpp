// SPDX-License-Identifier: BSL-1.0
// The format-neutral part of the emulator: which behaviour applies to a request, whether it
// fails, and what the deterministic answer is.
#pragma once

#include "wire/server.hpp"

#include <llmux/emulator.hpp>
#include <llmux/embeddings.hpp>
#include <llmux/types.hpp>

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

/// @brief A tool offered to the model.
struct emu_tool {
    std::string_view name;
    /// Its JSON-schema parameters; null when absent. Points into the unified request.
    boost::json::object const* parameters = nullptr;
};

/// @brief What the plan reads of a request. Views and pointers point into the unified request
/// it was made from (`plan_input`), which outlives this object.
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

    /// The prompt up to its last cache breakpoint (`cache_control`): a key naming it (model
    /// and content) and its tokens; empty key: no breakpoint. The emulator writes such a prefix
    /// to its cache on first sight and reads it on the next request with the same prefix, as
    /// Anthropic's and Bedrock's caches do.
    std::string cache_prefix_key;
    std::uint64_t cache_prefix_tokens = 0;

    /// The model's reasoning family (`reasoning_family`); empty: it does not reason.
    std::string_view family;
    /// The model reasons before this answer.
    bool thinking = false;
    /// The reasoning text (or summary) is returned, not only its signature.
    bool show_reasoning = false;
};

/// @brief Why the answer ended.
enum class emu_finish { stop, length, tool_calls };

/// @brief The planned answer. A wire format's server side writes it whole or as stream events.
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
    /// Answer tokens, reasoning tokens included.
    std::uint64_t completion_tokens = 0;
    /// Prompt tokens read from and written to the emulated prompt cache (included in
    /// `prompt_tokens`).
    std::uint64_t cache_read_tokens = 0;
    std::uint64_t cache_write_tokens = 0;
    /// The request had cache breakpoints: the writes are reported (even when 0).
    bool cache_marked = false;

    /// The reasoning done before the answer (empty: none) and its signature, made by
    /// `emu_signature` for `family`; `show_reasoning`: the text is returned, else only the
    /// signature (Gemini without includeThoughts, Anthropic's `display: omitted`).
    std::string reasoning;
    std::string reasoning_signature;
    std::string_view family;
    bool show_reasoning = false;
    std::uint64_t reasoning_tokens = 0;
    /// The signature of the tool call (Gemini's `thoughtSignature`); empty: none.
    std::string call_signature;

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

/// The model name without its `~directives`.
std::string_view base_model(std::string_view model) noexcept;

/** Resolves the behaviour of one request, later wins: `cfg.defaults`, `cfg.scripts[base model]`
    (which replaces the defaults), the `~directives` of `model`, then `header`
    (`x-llmux-emulate`). Errors: `error::invalid_config` naming the bad directive.
*/
result<emulator_behaviour> resolve_behaviour(emulator_config const& cfg, std::string_view model,
                                             std::string_view header);

/** Whether request number `n` (0-based, counted per model) fails or gets the fault, given
    `fail_first` and `error_rate`: without either, every request does; otherwise the first
    `fail_first` do, and a deterministic, evenly spread `error_rate` fraction of the rest.
*/
bool selected_for_failure(emulator_behaviour const& b, std::uint64_t n) noexcept;

/// The factor `jitter` spreads request `n`'s delays by: 1 + jitter × E, E ~ exponential(1).
double jitter_factor(double jitter, std::uint64_t n) noexcept;

/// End offsets of the tokens of `text`: each token is a run of non-space characters with the
/// white space before it, so the tokens concatenate back to `text`.
void split_tokens(std::string_view text, std::vector<std::uint32_t>& ends);

/** Appends an example JSON value for `schema` (null: an empty object): required properties
    filled by type (string "example", number and integer 1, boolean true, array [], object
    recursively), `enum`/`const` by their first value. Written with a space after each `:` and
    `,` so it splits into several tokens.
*/
void append_schema_example(std::string& out, boost::json::object const* schema, int depth = 0);

/** What the plan reads of a unified request (`emu_request`'s views point into `req`): the model,
    the last user text (the echo), the last message when it holds tool results, the tools and
    tool choice, the answer format, `max_tokens`, and the prompt's size in characters (text,
    tool-call arguments and tool results).
*/
emu_request plan_input(chat_request const& req, bool stream, bool include_usage);

/// The prompt's tokens as the emulator counts them: a quarter of its characters, at least 1.
std::uint64_t prompt_tokens(emu_request const& req) noexcept;

/// The deterministic answer to `req` under `b` (see `emulator_behaviour`), numbered `number`.
emu_answer plan_answer(emu_request const& req, emulator_behaviour const& b, std::uint64_t number,
                       std::int64_t created);

/// @name Reasoning
/// @{
/** The family whose reasoning a model's answers carry, from its name: `anthropic` (Claude
    3.7 and later), `google` (Gemini 2.5 and 3), `openai` (gpt-5 and the o-series), `deepseek`
    (deepseek-reasoner); empty for a model that does not reason.
*/
std::string_view reasoning_family(std::string_view model) noexcept;

/// The emulator's signature of reasoning `text` of `family`: opaque, deterministic, and
/// different for any other text, so an altered block is found out.
std::string emu_signature(std::string_view family, std::string_view text);

/** What a real provider would refuse in `req`'s reasoning round trip (PROVIDERS-2.md 3.3,
    3.4), for a model of `family` (`reasoning_family`); nothing when all is in order.
*/
std::optional<reasoning_fault> check_reasoning(chat_request const& req, std::string_view model);
/// @}

/// @name Embeddings
/// @{
/// The most values (inputs x dimensions) one embeddings request may make the emulator compute.
inline constexpr std::size_t max_embedding_values = std::size_t{1} << 24;

/// A model's vector length when the request names none: OpenAI's for its models (1536 for
/// `text-embedding-3-small` and `-ada-002`, 3072 for `-3-large`), 768 for any other.
std::uint32_t default_embedding_dimensions(std::string_view model) noexcept;

/** Deterministic vectors: the same model and input give the same vector, whatever else the
    request holds (values drawn from a generator seeded by a hash of model and input, then
    L2-normalised; a shorter `dims` is a normalised prefix of the longer vector's draws).
    Usage: a quarter of each input's characters, at least 1 token, as chat counts prompts.
*/
embedding_response plan_embeddings(std::string_view model, std::span<std::string const> inputs,
                                   std::uint32_t dims);
/// @}

}  // namespace llmux::detail
