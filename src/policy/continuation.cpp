// SPDX-License-Identifier: BSL-1.0
#include "policy/continuation.hpp"

#include <boost/asio/error.hpp>

namespace llmux::detail {

namespace {
bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
}  // namespace

bool continuable(failure const& f) noexcept {
    auto const& ec = f.code;
    if (!ec || ec == boost::asio::error::operation_aborted) return false;
    if (ec.category() != category()) return true;  // reset, TLS, refused mid-stream
    switch (static_cast<error>(ec.value())) {
    case error::truncated:
    case error::server_error:
    case error::overloaded:
    case error::rate_limited:
    case error::protocol_error:
    case error::timeout: return true;
    default: return false;
    }
}

std::optional<std::string> continuation_obstacle(failure const& f, partial_answer const& p) {
    if (!continuable(f)) return "the failure is not a broken upstream";
    if (p.tool_calls) return "the partial answer holds tool calls, which cannot be continued";
    return std::nullopt;
}

continuation_request make_continuation(chat_request req, std::string_view partial_text) {
    continuation_request out;
    std::size_t end = partial_text.size();
    while (end > 0 && is_space(partial_text[end - 1])) --end;
    out.trimmed = std::string(partial_text.substr(end));
    if (end > 0) req.messages.push_back(assistant(std::string(partial_text.substr(0, end))));
    out.request = std::move(req);
    return out;
}

void prefill_splice::apply(std::string& text) {
    if (left_ == 0 || text.empty()) return;
    std::size_t n = 0;
    while (n < text.size() && n < left_ && is_space(text[n])) ++n;
    text.erase(0, n);
    // The first visible character ends the splice; white space alone may continue in the next
    // chunk.
    left_ = text.empty() ? left_ - n : 0;
}

}  // namespace llmux::detail
