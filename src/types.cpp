// SPDX-License-Identifier: BSL-1.0
#include <llmux/embeddings.hpp>
#include <llmux/types.hpp>

#include "util/header.hpp"

#include <ostream>

namespace llmux {

std::string_view to_string(role r) noexcept {
    switch (r) {
    case role::system: return "system";
    case role::user: return "user";
    case role::assistant: return "assistant";
    case role::tool: return "tool";
    }
    return "user";
}

std::string_view to_string(finish_reason r) noexcept {
    switch (r) {
    case finish_reason::unknown: return "unknown";
    case finish_reason::stop: return "stop";
    case finish_reason::length: return "length";
    case finish_reason::tool_calls: return "tool_calls";
    case finish_reason::content_filter: return "content_filter";
    case finish_reason::error: return "error";
    }
    return "unknown";
}

std::string_view to_string(embedding_task t) noexcept {
    switch (t) {
    case embedding_task::unspecified: return "unspecified";
    case embedding_task::query: return "query";
    case embedding_task::document: return "document";
    case embedding_task::similarity: return "similarity";
    case embedding_task::classification: return "classification";
    case embedding_task::clustering: return "clustering";
    case embedding_task::question_answering: return "question_answering";
    case embedding_task::fact_verification: return "fact_verification";
    case embedding_task::code_query: return "code_query";
    }
    return "unspecified";
}

image_part image_base64(std::string_view media_type, std::string_view base64_data) {
    std::string url;
    url.reserve(media_type.size() + base64_data.size() + 13);
    url.append("data:").append(media_type).append(";base64,").append(base64_data);
    return {std::move(url), {}};
}

document_part document_base64(std::string_view media_type, std::string_view base64_data,
                              std::string name) {
    std::string url;
    url.reserve(media_type.size() + base64_data.size() + 13);
    url.append("data:").append(media_type).append(";base64,").append(base64_data);
    return {std::move(url), std::move(name), {}};
}

namespace {
constexpr std::pair<reasoning_effort, std::string_view> effort_names[] = {
    {reasoning_effort::none, "none"},     {reasoning_effort::minimal, "minimal"},
    {reasoning_effort::low, "low"},       {reasoning_effort::medium, "medium"},
    {reasoning_effort::high, "high"},     {reasoning_effort::xhigh, "xhigh"},
    {reasoning_effort::max, "max"},
};
}  // namespace

std::string_view to_string(reasoning_effort e) noexcept {
    for (auto const& [v, n] : effort_names)
        if (v == e) return n;
    return "medium";
}

std::optional<reasoning_effort> parse_reasoning_effort(std::string_view s) noexcept {
    for (auto const& [v, n] : effort_names)
        if (n == s) return v;
    return std::nullopt;
}

std::string message::text() const {
    std::string out;
    for (auto const& p : content)
        if (auto const* t = std::get_if<text_part>(&p)) out += t->text;
    return out;
}

message system(std::string text) { return {role::system, {text_part{std::move(text)}}}; }
message user(std::string text) { return {role::user, {text_part{std::move(text)}}}; }
message user(std::vector<content_part> parts) { return {role::user, std::move(parts)}; }
message assistant(std::string text) { return {role::assistant, {text_part{std::move(text)}}}; }

message assistant(std::string text, std::vector<tool_call> calls) {
    message m{role::assistant, {}};
    if (!text.empty()) m.content.emplace_back(text_part{std::move(text)});
    for (auto& c : calls) m.content.emplace_back(std::move(c));
    return m;
}

message assistant(chat_response const& response) {
    message m{role::assistant, {}};
    m.content.reserve(response.reasoning_parts.size() + 1 + response.tool_calls.size());
    for (auto const& r : response.reasoning_parts) m.content.emplace_back(r);
    if (!response.content.empty()) m.content.emplace_back(text_part{response.content, {}});
    for (auto const& c : response.tool_calls) m.content.emplace_back(c);
    return m;
}

message tool_answer(std::string tool_call_id, std::string content, std::string name,
                    bool is_error) {
    return {role::tool, {tool_result{std::move(tool_call_id), std::move(name), std::move(content),
                                      is_error, {}}}};
}

std::ostream& operator<<(std::ostream& os, token_count const& c) {
    if (c) return os << *c;
    return os << "unknown";
}

result<model_id> model_id::parse(std::string_view id) {
    auto const slash = id.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == id.size()) {
        return failure(error::invalid_model_id,
                       "invalid model id '" + detail::printable_name(id) +
                           "': expected provider/model, e.g. openai/gpt-4o-mini");
    }
    for (char c : id) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ') {
            return failure(error::invalid_model_id,
                           "invalid model id '" + detail::printable_name(id) +
                               "': it contains a space or control character");
        }
    }
    // Several formats put the model into the URL path (Bedrock, Gemini, Vertex, Azure
    // deployments), percent-encoded as one segment; `.` and `..` would still be read as
    // relative segments (`/model/../converse`).
    std::string_view const model = id.substr(slash + 1);
    if (model == "." || model == "..")
        return failure(error::invalid_model_id,
                       "invalid model id '" + std::string(id) + "': the model name '" +
                           std::string(model) + "' is a relative path segment");
    return model_id{std::string(id.substr(0, slash)), std::string(model)};
}

}  // namespace llmux
