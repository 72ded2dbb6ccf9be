// SPDX-License-Identifier: BSL-1.0
// Helpers shared by the wire formats: HTTP status mapping, retry hints, JSON access.
#pragma once

#include "codec/sse.hpp"
#include "http/message.hpp"

#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>
#include <string_view>

namespace llmux::detail {

/// The default error for an HTTP status (401 auth_failed, 429 rate_limited, 529 overloaded, ...).
error status_to_error(unsigned status) noexcept;

/// `retry-after-ms` (checked first), then `retry-after` in seconds or as an HTTP date.
std::optional<std::chrono::milliseconds> parse_retry_after(response_head const& head);

/// A failure for a non-2xx response before the body is interpreted: code from the status,
/// status, retry-after and the request id from `request_id_header`.
failure http_failure(response_head const& head, std::string_view request_id_header);

/// `f` marked as holding internal details (an excerpt of a raw upstream body): a gateway logs
/// them and does not show them to its clients.
inline failure internal(failure f) {
    f.diag.source = message_source::internal;
    return f;
}

/// Sets the message of `f` to what the provider's error object said.
inline void provider_message(failure& f, std::string message) {
    f.diag.message = std::move(message);
    f.diag.source = message_source::provider;
}

/// True when a provider's error message says the prompt is too long for the model.
bool mentions_context_length(std::string_view message) noexcept;

/// Parses `body` as a JSON object; a failure is `error::protocol_error` saying what was wrong.
result<boost::json::object> parse_object(std::string_view body, std::string_view what);

/// Returns a failure of `error::protocol_error` naming the JSON path that was missing or wrong.
failure bad_field(std::string_view path, std::string_view expected);

/// The string at `key`, or empty when missing or not a string.
std::string_view get_string(boost::json::object const& o, std::string_view key) noexcept;

/// The object at `key`, or null.
boost::json::object const* get_object(boost::json::object const& o, std::string_view key) noexcept;

/// A non-negative integer at `key` as a token count; unknown when missing or not a number.
token_count get_count(boost::json::object const& o, std::string_view key) noexcept;

/// Cuts `text` to `max` bytes (on a UTF-8 boundary) for an error message.
std::string excerpt(std::string_view text, std::size_t max = 200);

/** The first place in `v` holding a number out of a double's range (Boost.JSON 1.81 reads
    `1e999` as infinity, which no JSON writer can pass on: it would become `null`), as a path
    below `at` (`at.key`, `at.3`); empty when every number is finite. Server sides refuse such a
    field rather than forward it changed.
*/
std::optional<std::string> non_finite_at(boost::json::value const& v, std::string const& at);

/** An upstream's response body parsed into `mr` (an answer is read once, then dropped), or a
    `protocol_error`, marked internal, quoting the start of what came instead (`body_excerpt`).
*/
result<boost::json::value> parse_body(std::string_view body, boost::json::monotonic_resource& mr);

/// An upstream body for an error message: white space runs squeezed to one space, at most
/// 200 bytes of its first 4 KiB (`excerpt`).
std::string body_excerpt(std::string_view body);

/// Where a client-side error points: `messages[i]`, `messages[i].content[j]`.
std::string at_message(std::size_t i);
std::string at_part(std::size_t i, std::size_t j);


/// Merges `extra` into `body` (extra wins, objects merged recursively).
void merge_extra(boost::json::object& body, boost::json::object const& extra);

/// A `data:<media type>;base64,<data>` URI's media type and data (views of `uri`; util/text's
/// split_data_uri); false for anything else, a URI without a media type included.
bool parse_data_uri(std::string_view uri, std::string_view& media_type,
                    std::string_view& data) noexcept;

/// @name Reasoning and caching, as every format maps them
/// @{
/// True when `r` asks for reasoning (an effort other than `none`, or a positive budget).
bool reasoning_on(std::optional<reasoning_options> const& r) noexcept;
/// True when `r` turns reasoning off explicitly (effort `none`, or a budget of 0).
bool reasoning_off(std::optional<reasoning_options> const& r) noexcept;
/// The token budget a format that takes only budgets sends for an effort: minimal 1024,
/// low 2048, medium 8192, high 16384, xhigh 32768, max 65536 (none: 0).
std::int64_t budget_for_effort(reasoning_effort e) noexcept;
/// The effort a format that takes only efforts sends for a budget (the nearest level below).
reasoning_effort effort_for_budget(std::int64_t budget) noexcept;
/** A reasoning part of another family's, sealed into the one opaque field a format has for
    it (Anthropic's `signature`, Gemini's `thoughtSignature`, OpenAI's `encrypted_content`):
    `llmux1.<origin>.<id>.<signature>` with id and signature in base64url; a redacted part is
    `llmux1.<origin>+redacted.<id>.<data>`. A server side writes
    it when the part's origin is not its format's own, so a client of that format that sends
    the assistant turn back returns the part whole, and the gateway gives it to its upstream
    unchanged (PROVIDERS-2.md 3: signatures are opaque and validate only where they were made).
*/
std::string seal_reasoning(reasoning_part const& r);
/// Opens a sealed field into `r` (origin, id, and signature, or kind `redacted` with its data);
/// false when `field` is not sealed.
bool open_reasoning(std::string_view field, reasoning_part& r);

/** A tool call id that also carries what the assistant turn must send back: the turn's
    reasoning parts (on its first call) and the call's own signature (Gemini's), as
    `<id>__llmux1__<base64url of a compact JSON>`. A server side whose format has no place for
    them (OpenAI chat's messages) answers with such ids; clients send ids back unchanged (the
    tool results must name their calls), so any client returns them whole, and the server
    side reads them back with `open_call_id`. Ids without anything to carry stay as they are.
*/
std::string seal_call_id(std::string_view id, std::span<reasoning_part const> parts,
                         std::string_view signature);
/** Splits a sealed id: the real id into `id`, the parts appended to `parts` and the signature
    into `signature` (each may be null). False (nothing changed) when `sealed` is a plain id.
*/
bool open_call_id(std::string_view sealed, std::string* id, std::vector<reasoning_part>* parts,
                  std::string* signature);

/// The finish reason a server side reports: `tool_calls` when an answer with calls has none.
inline finish_reason effective_finish(chat_response const& r) noexcept {
    if (r.finish_reason == finish_reason::unknown && !r.tool_calls.empty())
        return finish_reason::tool_calls;
    return r.finish_reason;
}

/** The body of every SSE stream decoder's `feed`: feeds `bytes` to `sse`, handing each
    complete event to `on_event` while `failed` is empty (`on_event` sets it to end the stream);
    a line over the parser's cap fails the stream. Returns `*failed` once set.
*/
template <class OnEvent>
result<void> feed_sse(sse_parser& sse, std::string_view bytes, std::optional<failure>& failed,
                      OnEvent&& on_event) {
    if (failed) return *failed;
    bool const ok = sse.feed(bytes, [&](sse_event const& ev) {
        if (!failed) on_event(ev);
    });
    if (!ok && !failed)
        failed = failure(error::protocol_error,
                         "the stream has a line longer than the SSE parser's cap");
    if (failed) return *failed;
    return {};
}

/// A breakpoint as Anthropic's (and OpenRouter's) `cache_control`: `{"type":"ephemeral"}`
/// with its `ttl` when set.
boost::json::object ephemeral_cache_control(cache_control const& c,
                                            boost::json::storage_ptr const& sp);
/// Checks a cache breakpoint's `ttl` (empty, `5m` or `1h`); `at` names the place.
result<void> check_cache_ttl(cache_control const& c, std::string const& at);
/// Checks the request's `tool_choice` against its tools as every format does: `required`
/// needs tools and a named tool must be one of them (`error::invalid_request`); no
/// `tool_choice` passes.
result<void> check_tool_choice(chat_request const& req);
/// Checks that `t`, the request's tool `i`, has a name, as every format does
/// (`error::invalid_request`).
result<void> check_tool_name(tool const& t, std::size_t i);
/// @}

/// @name Reading requests (the server sides)
/// @{
/// A JSON string as a view.
inline std::string_view json_view(boost::json::string const& s) noexcept {
    return {s.data(), s.size()};
}
/// A present, non-null member, or null (requests treat `null` as absent).
boost::json::value const* present(boost::json::object const& o, std::string_view key) noexcept;
/// `v` copied onto the default memory resource (out of a request's parse arena).
boost::json::value owned(boost::json::value const& v);
/// An integer: a JSON integer, or a double with no fraction (some clients write `16.0`);
/// saturated to the int64 range. Nothing for any other value.
std::optional<std::int64_t> whole_number(boost::json::value const& v) noexcept;

/// A JSON number as a float (a vector's value: a float's shortest decimal form reads back to
/// the same float); false for anything but a number.
bool to_float(boost::json::value const& v, float& out) noexcept;

/// Appends `v` as a JSON array of floats, each in the shortest form that reads back to it;
/// false for a value that is not finite (JSON has no number for it).
bool append_floats(std::string& out, std::span<float const> v);

/// Reads `v`, a JSON array of numbers at `at`, into `out`; a `protocol_error` naming the place
/// (`at` or `at[k]`) for anything else.
result<void> read_floats(boost::json::value const& v, std::string const& at, std::vector<float>& out);

/** The inputs [first, first + count) of an embedding request (clamped to the list), checked
    as every embeddings format needs them: `invalid_request` for an empty slice or an empty
    text (naming `inputs[i]` by its place in the whole list).
*/
result<std::span<std::string const>> embedding_inputs(std::vector<std::string> const& inputs,
                                                      std::size_t first, std::size_t count);

/// Merges `extra` into the JSON object text `body` (extra fields win, objects merged
/// member by member); nothing to do when `extra` is empty.
void merge_extra(std::string& body, boost::json::object const& extra);
/// @}

}  // namespace llmux::detail
