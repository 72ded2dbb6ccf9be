// SPDX-License-Identifier: BSL-1.0
// The format-neutral part of the emulator: which behaviour applies to a request, whether it
// fails, and what the deterministic answer is.
#pragma once

#include "emulator/protocol.hpp"

#include <llmux/emulator.hpp>
#include <llmux/embeddings.hpp>
#include <llmux/types.hpp>

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

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
