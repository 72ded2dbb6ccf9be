// SPDX-License-Identifier: BSL-1.0
// Stream continuation (opt-in) as pure decisions: whether a committed stream that broke after
// its answer reached the caller may go on elsewhere, the request that continues it (the partial
// answer as a final assistant message), and the splice of the continuation onto what the
// caller already has.
#pragma once

#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::detail {

/** True when `f`, ending a stream after content, is a broken upstream that another candidate
    may make good: a truncated stream, a reset or other transport failure, an error event
    (server error, overload, throttling) or malformed data, an idle timeout. Never the caller's
    cancellation, a content filter (continuing elsewhere would go around it), a size cap, or
    the operation's own deadline (the driver does not ask then).
*/
bool continuable(failure const& f) noexcept;

/// What the caller received of a broken stream, as far as continuation is concerned.
struct partial_answer {
    std::string text;
    bool tool_calls = false;
};

/// Why a continuation cannot be made, or nothing when it can.
std::optional<std::string> continuation_obstacle(failure const& f, partial_answer const& p);

/// The request that continues a partial answer, and the white space its prefill left out.
struct continuation_request {
    chat_request request;
    /// Trailing white space cut from the prefill (Anthropic refuses a final assistant turn
    /// that ends in white space); the caller already has it.
    std::string trimmed;
};

/// `req` with the partial answer's text, trailing white space cut, as a final assistant
/// message (no message when the text is empty or only white space).
continuation_request make_continuation(chat_request req, std::string_view partial_text);

/** Joins a continuation to what the caller has: drops from its first text the white space the
    prefill left out (at most as many characters as were cut), so "a " + " b" is "a b", not
    "a  b".
*/
class prefill_splice {
public:
    explicit prefill_splice(std::string trimmed) : left_(trimmed.size()) {}
    /// Applies to the continuation's next chunk of text, in order.
    void apply(std::string& text);

private:
    std::size_t left_;
};

}  // namespace llmux::detail
