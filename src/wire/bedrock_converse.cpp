// SPDX-License-Identifier: BSL-1.0
// AWS Bedrock Runtime Converse and ConverseStream (PROVIDERS.md sections 6 and 7): the JSON
// bodies, Bedrock's errors, and the binary `application/vnd.amazon.eventstream` framing of
// streams. Sans-io: every function here works from bytes alone; the client signs (SigV4) or adds
// the Bedrock API key after `encode`.
//
// Mappings where Converse has no field of its own (each documented where it is made):
//   - tool_choice none: the tools are left out (a model cannot call a tool it is not offered);
//     when the conversation already holds tool blocks Bedrock requires `toolConfig`, and then
//     there is no way to forbid calls, so the request fails with error::unsupported.
//   - seed: error::unsupported (Converse has no seed; models that take one get it through
//     `extra`: {"additionalModelRequestFields":{"seed":42}}).
//   - user: `requestMetadata: {"user": <id>}`, Bedrock's key-value tags of an invocation.
//   - response_format json_schema: a forced tool (`llmux_json_output`, the schema as its input
//     schema); decoding turns that tool's input back into the answer's text. json_object (no
//     schema) is error::unsupported: a forced tool without a schema tends to return `{}`.
//   - images: data URIs (png, jpeg, gif, webp) as `bytes`, `s3://` URLs as `s3Location`;
//     http(s) URLs are error::unsupported (Bedrock does not fetch URLs).
//   - usage: Bedrock's `inputTokens` leaves out the tokens read from and written to the prompt
//     cache, which `totalTokens` does count (the AWS prompt-caching guide's examples; not
//     checked against the live service here), so the unified input count adds
//     `cacheReadInputTokens` and `cacheWriteInputTokens` to it: `usage::input_tokens` counts
//     every prompt token, cached or not.
//   - reasoning (PROVIDERS-2.md 3.5), in `additionalModelRequestFields`, merged with what the
//     caller put there in `extra` (the caller's fields win):
//       Claude (`anthropic.claude-*`): Anthropic's own `thinking` (and `output_config.effort`),
//       chosen by Claude version exactly as the Anthropic client does (anthropic_messages.cpp):
//       a budget is `{"type":"enabled","budget_tokens":N}` (N >= 1024, below maxTokens; without
//       the caller's max_tokens, maxTokens becomes N + 4096), an effort alone is adaptive
//       thinking on Claude 4.6 and later, else the effort's budget; effort none is
//       `{"type":"disabled"}`; include_text false is `display: "omitted"`. While thinking, a
//       temperature other than 1, a top_p below 0.95, a forced tool (tool_choice required or
//       named) and a JSON-schema answer (a forced tool here) are refused before sending.
//       Nova 2 (`amazon.nova-2-*`): `reasoningConfig` `{"type":"enabled","maxReasoningEffort"}`
//       with low, medium or high (minimal is low, xhigh and max are high, a budget is the effort
//       of `effort_for_budget`); at high, temperature, top_p and max_tokens are refused (the
//       model sets its own length then; third-party reports, see the report of issue 11);
//       effort none sends nothing (Nova thinks only when asked).
//       gpt-oss (`openai.gpt-oss-*`): `reasoning_effort` low, medium or high, mapped the same;
//       effort none is error::unsupported (gpt-oss always reasons).
//       Any other model, and include_text on Nova or gpt-oss: error::unsupported naming the
//       control; effort none on a model that does not reason is honoured by sending nothing.
//   - reasoning parts: Claude's (origin `anthropic`) go back to Claude models as
//     `reasoningContent` blocks, byte for byte and in order, at the start of their assistant
//     turn (`reasoningText{text,signature}`, `redactedContent`); any other origin, and Claude's
//     to a model that is not Claude, is left out (signatures validate only where they were
//     made). Decoding keeps every `reasoningContent` block as a part, whole or streamed, with
//     origin `anthropic` for Claude model ids and `bedrock` for the others (`for_model`).
//   - cache breakpoints: a `{"cachePoint":{"type":"default"}}` block (with `ttl` when set)
//     right after the marked block in `system`, `messages[].content` and `toolConfig.tools`;
//     `system_cache` follows the system prompt. Bedrock's cap on breakpoints a request differs
//     by model and is not checked here.
//   - documents: data URIs of pdf, csv, doc, docx, xls, xlsx, html, txt and md as `bytes`, the
//     format from the media type; `s3://` URLs as `s3Location`, the format from the extension;
//     http(s) URLs are error::unsupported. Bedrock's `name` takes 1 to 200 letters, digits,
//     hyphens, parentheses, square brackets and single spaces (PROVIDERS-2.md 5), and the model
//     reads it: every other character (the dot of `q3-report.pdf`) becomes a space, runs of
//     spaces one, and the ends are trimmed, so `q3-report.pdf` is `q3-report pdf`; a name with
//     nothing left is `document-N` (the request's N-th document, from 1).
#include "util/crypto.hpp"
#include "util/json_read.hpp"
#include "codec/event_stream.hpp"
#include "util/text.hpp"
#include "wire/anthropic_messages.hpp"
#include "wire/bedrock_converse.hpp"
#include "util/json_write.hpp"
#include "wire/common.hpp"
#include "wire/prefill.hpp"
#include "wire/formats.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::detail {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;

using bedrock::json_tool_name;
using bedrock::request_id_header;

std::string_view as_view(json::string const& s) noexcept {
    return {s.data(), s.size()};
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The exception name of an `x-amzn-ErrorType` value or a body's `__type`:
/// `ThrottlingException:http://internal.amazon.com/coral/...` and
/// `com.amazon.coral.validate#ValidationException` both name their exception (PROVIDERS.md 6.4).
std::string_view exception_name(std::string_view raw) noexcept {
    raw = trim(raw);
    raw = raw.substr(0, raw.find(':'));
    if (auto const hash = raw.rfind('#'); hash != std::string_view::npos)
        raw.remove_prefix(hash + 1);
    return trim(raw);
}

/// The llmux error of a Bedrock exception (PROVIDERS.md 6.4), or nothing for names it does not
/// document. Stream exception frames name the member in lower camel case (`throttlingException`),
/// so the first letter is compared without case.
std::optional<error> error_from_exception(std::string_view name) noexcept {
    if (name.empty()) return std::nullopt;
    auto const is = [&](std::string_view n) {
        return name.size() == n.size() && std::toupper(static_cast<unsigned char>(name[0])) == n[0] &&
               name.substr(1) == n.substr(1);
    };
    if (is("ValidationException")) return error::bad_request;
    if (is("AccessDeniedException")) return error::permission_denied;
    if (is("UnrecognizedClientException") || is("InvalidSignatureException") ||
        is("ExpiredTokenException") || is("IncompleteSignatureException") ||
        is("MissingAuthenticationTokenException"))
        return error::auth_failed;
    if (is("ResourceNotFoundException")) return error::not_found;
    if (is("ModelTimeoutException")) return error::timeout;
    if (is("ModelErrorException") || is("ModelStreamErrorException") ||
        is("InternalServerException"))
        return error::server_error;
    if (is("ThrottlingException") || is("ServiceQuotaExceededException"))
        return error::rate_limited;
    if (is("ModelNotReadyException") || is("ServiceUnavailableException")) return error::overloaded;
    return std::nullopt;
}

/// `throttlingException` (a stream's member name) as `ThrottlingException`, the name
/// `decode_error` reports for the same exception.
std::string canonical_exception(std::string_view name) {
    std::string s(name);
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return s;
}

/// Sets the code of `f` from the exception `type` (the status when it names none) and the
/// message, and records both.
void classify(failure& f, std::string_view type, std::string message, unsigned status) {
    error code = status >= 300 ? status_to_error(status) : error::server_error;
    if (auto e = error_from_exception(type)) code = *e;
    // Bedrock says "Input is too long for requested model." or passes the model's "prompt is
    // too long" on as a ValidationException.
    if (code == error::bad_request && mentions_context_length(message))
        code = error::context_length_exceeded;
    f.code = make_error_code(code);
    f.diag.error_type = canonical_exception(type);
    f.diag.message = std::move(message);
}

/// What a Bedrock error payload says: `message` (or `Message`, as some AWS front ends write
/// it), and ModelErrorException's / ModelStreamErrorException's original status and message.
struct error_payload {
    std::string message;
    std::string type;  // the body's `__type`, if any
    std::string original_status;
};

error_payload read_error_payload(json::object const& o) {
    error_payload p;
    p.message = get_string(o, "message");
    if (p.message.empty()) p.message = get_string(o, "Message");
    p.type = get_string(o, "__type");
    if (auto n = get_count(o, "originalStatusCode")) p.original_status = std::to_string(*n);
    if (auto om = get_string(o, "originalMessage"); !om.empty() && om != p.message) {
        p.message += p.message.empty() ? ""sv : " "sv;
        p.message += "(the model said: " + excerpt(om, 300) + ")";
    }
    return p;
}

failure decode_error_body(response_head const& head, std::string_view body) {
    failure f = http_failure(head, request_id_header);
    std::string_view const text = trim(body);
    error_payload p;
    bool json_body = false;
    if (!text.empty()) {
        json::monotonic_resource mr;
        boost::system::error_code ec;
        json::value const v = detail::parse_json(text, ec, &mr);
        if (!ec && v.is_object()) {
            p = read_error_payload(v.get_object());
            json_body = true;
        }
    }
    std::string_view type = exception_name(head.header("x-amzn-ErrorType"));
    if (type.empty()) type = exception_name(p.type);
    std::string message = std::move(p.message);
    auto source = message.empty() ? message_source::llmux : message_source::provider;
    if (message.empty() && !text.empty() && !json_body) {
        message = body_excerpt(text);
        source = message_source::internal;
    } else if (message.empty()) {
        message = "HTTP " + std::to_string(head.status) +
                  (text.empty() ? " with an empty body" : " without an error message");
    }
    classify(f, type, std::move(message), head.status);
    f.diag.source = source;
    f.diag.error_code = std::move(p.original_status);
    return f;
}

// ---------------------------------------------------------------------------------------------
// Finish reasons and usage

finish_reason map_stop(std::string_view s, bool json_answer, bool& fails) noexcept {
    return bedrock::finish_from_stop(s, json_answer, fails);
}

failure stop_failure(std::string_view native) {
    std::string what = native == "malformed_tool_use"
                           ? "the model produced a tool call that is not valid"
                           : "the model produced output that is not valid";
    failure f(error::server_error, "Bedrock ended the answer with stopReason '" +
                                       std::string(native) + "': " + what +
                                       "; retrying may succeed");
    f.diag.error_code = std::string(native);
    return f;
}

usage read_usage(json::object const& u) {
    usage r;
    r.output_tokens = get_count(u, "outputTokens");
    r.total_tokens = get_count(u, "totalTokens");
    r.cached_input_tokens = get_count(u, "cacheReadInputTokens");
    r.cache_write_tokens = get_count(u, "cacheWriteInputTokens");
    // inputTokens leaves out what was read from or written to the cache (file comment).
    if (auto in = get_count(u, "inputTokens"))
        r.input_tokens =
            *in + r.cached_input_tokens.value_or(0) + r.cache_write_tokens.value_or(0);
    return r;
}

// ---------------------------------------------------------------------------------------------
// Encoding

failure invalid(std::string message) {
    return failure(error::invalid_request, std::move(message));
}

failure unsupported(std::string message) {
    return failure(error::unsupported, std::move(message));
}

/// Bedrock's `ImageFormat` of a media type, or empty.
std::string_view image_format(std::string_view media_type) noexcept {
    if (iequals(media_type, "image/png")) return "png";
    if (iequals(media_type, "image/jpeg") || iequals(media_type, "image/jpg")) return "jpeg";
    if (iequals(media_type, "image/gif")) return "gif";
    if (iequals(media_type, "image/webp")) return "webp";
    return {};
}

/// The format of an `s3://` object from its file extension, or empty.
std::string_view s3_image_format(std::string_view url) noexcept {
    auto const dot = url.rfind('.');
    if (dot == std::string_view::npos || url.find('/', dot) != std::string_view::npos) return {};
    std::string_view const ext = url.substr(dot + 1);
    if (iequals(ext, "png")) return "png";
    if (iequals(ext, "jpeg") || iequals(ext, "jpg")) return "jpeg";
    if (iequals(ext, "gif")) return "gif";
    if (iequals(ext, "webp")) return "webp";
    return {};
}

/// Bedrock's `DocumentFormat` of a media type (parameters such as `;charset=` ignored), or empty.
std::string_view document_format_of(std::string_view media_type) noexcept {
    media_type = trim(media_type.substr(0, media_type.find(';')));
    for (auto const& f : bedrock::document_formats)
        if (iequals(media_type, f.media_type)) return f.format;
    return {};
}

/// The document format of an `s3://` object from its file extension, or empty.
std::string_view s3_document_format(std::string_view url) noexcept {
    auto const dot = url.rfind('.');
    if (dot == std::string_view::npos || url.find('/', dot) != std::string_view::npos) return {};
    std::string_view const ext = url.substr(dot + 1);
    for (auto const& f : bedrock::document_formats)
        if (iequals(ext, f.format)) return f.format;
    return {};
}

/// `name` made valid as a Bedrock document name (file comment); `n` numbers the documents.
std::string document_name(std::string_view name, std::size_t n) {
    std::string out;
    out.reserve(name.size());
    for (char ch : name) {
        auto const c = static_cast<unsigned char>(ch);
        bool const keep = (c < 0x80 && std::isalnum(c)) || c == '-' || c == '(' || c == ')' ||
                          c == '[' || c == ']';
        if (keep)
            out.push_back(ch);
        else if (!out.empty() && out.back() != ' ')
            out.push_back(' ');
        if (out.size() >= 200) break;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (out.empty()) out = "document-" + std::to_string(n);
    return out;
}

/// The reasoning controls llmux maps for a Bedrock model family (file comment).
enum class reasoning_family { claude, nova2, gpt_oss, other };

reasoning_family family_of(std::string_view model) noexcept {
    if (model.find("anthropic.claude") != std::string_view::npos) return reasoning_family::claude;
    if (model.find("amazon.nova-2") != std::string_view::npos) return reasoning_family::nova2;
    if (model.find("openai.gpt-oss") != std::string_view::npos) return reasoning_family::gpt_oss;
    return reasoning_family::other;
}

/// Nova 2's and gpt-oss's effort (low, medium, high) for the request's effort or budget.
std::string_view three_levels(reasoning_options const& r) noexcept {
    auto const e = r.budget_tokens ? effort_for_budget(*r.budget_tokens)
                                   : r.effort.value_or(reasoning_effort::medium);
    switch (e) {
    case reasoning_effort::none:
    case reasoning_effort::minimal:
    case reasoning_effort::low: return "low";
    case reasoning_effort::medium: return "medium";
    case reasoning_effort::high:
    case reasoning_effort::xhigh:
    case reasoning_effort::max: break;
    }
    return "high";
}

/// Claude's `thinking` on Bedrock: what the Anthropic client sends (file comment).
result<void> claude_thinking(chat_request const& req, std::string_view model,
                             std::optional<std::int64_t>& max_tokens, json::object& fields,
                             json::storage_ptr const& sp) {
    auto const& r = *req.reasoning;
    if (reasoning_off(req.reasoning)) {
        json::object t(sp);
        t.emplace("type", "disabled");
        fields.emplace("thinking", std::move(t));
        return {};
    }
    auto const support = anthropic::claude_thinking(model);
    std::string const name(model);
    if (support == anthropic::thinking_support::none)
        return unsupported("reasoning: " + name + " does not think (extended thinking needs "
                           "Claude 3.7 or later)");
    // What thinking forbids, refused here rather than by a 400 from Bedrock.
    if (req.temperature && *req.temperature != 1.0)
        return unsupported("temperature: Claude takes no temperature but 1 while thinking");
    if (req.top_p && *req.top_p < 0.95)
        return unsupported("top_p: Claude takes top_p between 0.95 and 1 while thinking");
    if (req.tool_choice && (req.tool_choice->how == tool_choice::mode::required ||
                            req.tool_choice->how == tool_choice::mode::named))
        return unsupported("tool_choice: Thinking may not be enabled when tool_choice forces "
                           "tool use");
    if (req.response_format && req.response_format->type != response_format::kind::text)
        return unsupported("response_format: a JSON answer on Bedrock is a forced tool call, "
                           "which thinking forbids");
    json::object t(sp);
    json::object oc(sp);  // output_config
    bool const adaptive = !r.budget_tokens && support != anthropic::thinking_support::budget;
    if (adaptive) {
        t.emplace("type", "adaptive");
        auto effort = r.effort.value_or(reasoning_effort::high);
        if (effort == reasoning_effort::minimal) effort = reasoning_effort::low;
        oc.emplace("effort", to_string(effort));
    } else {
        if (support == anthropic::thinking_support::adaptive)
            return unsupported("reasoning.budget_tokens: " + name +
                               " takes adaptive thinking only; give an effort instead");
        std::int64_t budget = r.budget_tokens ? *r.budget_tokens : budget_for_effort(*r.effort);
        if (r.budget_tokens) {
            if (budget < 1024)
                return invalid("reasoning.budget_tokens: Claude's thinking budget is at least "
                               "1024 tokens, not " + std::to_string(budget));
            if (max_tokens && budget >= *max_tokens)
                return invalid("reasoning.budget_tokens (" + std::to_string(budget) +
                               ") must be below max_tokens (" + std::to_string(*max_tokens) +
                               "): Claude counts thinking within maxTokens");
        } else if (max_tokens) {
            budget = std::min(budget, *max_tokens - 1);
            if (budget < 1024)
                return invalid("max_tokens (" + std::to_string(*max_tokens) +
                               ") leaves no room for thinking: Claude's smallest budget is 1024 "
                               "tokens, below maxTokens");
        }
        if (!max_tokens) max_tokens = budget + 4096;
        t.emplace("type", "enabled");
        t.emplace("budget_tokens", budget);
    }
    if (r.include_text) t.emplace("display", *r.include_text ? "summarized" : "omitted");
    fields.emplace("thinking", std::move(t));
    if (!oc.empty()) fields.emplace("output_config", std::move(oc));
    return {};
}

/** The request's reasoning controls as `additionalModelRequestFields` members for `model`
    (file comment); may set `max_tokens` (Claude's budget must fit below it).
*/
result<void> encode_reasoning(chat_request const& req, std::string_view model,
                              std::optional<std::int64_t>& max_tokens, json::object& fields,
                              json::storage_ptr const& sp) {
    if (!req.reasoning) return {};
    auto const& r = *req.reasoning;
    auto const family = family_of(model);
    if (family == reasoning_family::claude && (reasoning_on(req.reasoning) ||
                                               reasoning_off(req.reasoning)))
        return claude_thinking(req, model, max_tokens, fields, sp);
    std::string const name(model);
    if (r.include_text) {
        if (family == reasoning_family::claude)
            return unsupported("reasoning.include_text: nothing to show without an effort or a "
                               "budget on Bedrock");
        return unsupported("reasoning.include_text: Bedrock has no control of the reasoning "
                           "text for " + name);
    }
    if (reasoning_off(req.reasoning)) {
        if (family == reasoning_family::gpt_oss)
            return unsupported("reasoning.effort: " + name + " always reasons; its least effort "
                               "is low");
        return {};  // Nova 2 and models that do not reason think only when asked
    }
    if (!reasoning_on(req.reasoning)) return {};
    if (family == reasoning_family::nova2) {
        std::string_view const level = three_levels(r);
        if (level == "high") {
            if (req.temperature)
                return unsupported("temperature: Nova 2 takes no temperature at reasoning effort "
                                   "high");
            if (req.top_p)
                return unsupported("top_p: Nova 2 takes no top_p at reasoning effort high");
            if (req.max_tokens)
                return unsupported("max_tokens: Nova 2 takes no maxTokens at reasoning effort "
                                   "high");
        }
        json::object rc(sp);
        rc.emplace("type", "enabled");
        rc.emplace("maxReasoningEffort", level);
        fields.emplace("reasoningConfig", std::move(rc));
        return {};
    }
    if (family == reasoning_family::gpt_oss) {
        fields.emplace("reasoning_effort", three_levels(r));
        return {};
    }
    return unsupported("reasoning: llmux knows no reasoning controls of the Bedrock model " + name +
                       " (Claude, Nova 2 and gpt-oss have them); pass the model's own in "
                       "extra.additionalModelRequestFields");
}

/// `{"cachePoint":{"type":"default"}}` (with the ttl) for a breakpoint; `at` names its place.
result<json::object> cache_point(json::storage_ptr const& sp, cache_control const& c,
                                 std::string const& at) {
    if (auto ok = check_cache_ttl(c, at); !ok) return ok.error();
    json::object point(sp);
    point.emplace("type", "default");
    if (!c.ttl.empty()) point.emplace("ttl", c.ttl);
    json::object b(sp);
    b.emplace("cachePoint", std::move(point));
    return b;
}

class request_encoder {
public:
    /// `claude`: the model is Claude, which takes Claude's reasoning back.
    request_encoder(json::storage_ptr sp, bool claude)
        : sp_(std::move(sp)), system_(sp_), messages_(sp_), claude_(claude) {}

    json::array take_system() { return std::move(system_); }
    json::array take_messages() { return std::move(messages_); }
    /// True when the conversation holds toolUse or toolResult blocks (Bedrock then requires
    /// `toolConfig`).
    bool has_tool_blocks() const noexcept { return tool_blocks_; }

    void add_system_text(std::string_view text) {
        if (text.empty()) return;  // Bedrock rejects blank text blocks
        json::object b(sp_);
        b.emplace("text", text);
        system_.emplace_back(std::move(b));
    }

    /// The breakpoint after the system prompt (`chat_request::system_cache`).
    result<void> mark_system(std::optional<cache_control> const& c) {
        if (!c) return {};
        if (system_.empty())
            return invalid("system_cache: a cache breakpoint follows the system prompt, and the "
                           "request has none");
        return add_cache_point(system_, c, "system_cache");
    }

    result<void> add(message const& m, std::size_t i) {
        switch (m.role) {
        case role::system:
            return add_system_message(m, i);
        case role::user:
            return add_user(m, i);
        case role::assistant:
            return add_assistant(m, i);
        case role::tool:
            return add_tool(m, i);
        }
        return invalid(at_message(i) + ": unknown role");
    }

private:
    /// A `cachePoint` block for the breakpoint `c` (if any), appended to `to` after the block
    /// it marks.
    result<void> add_cache_point(json::array& to, std::optional<cache_control> const& c,
                                 std::string const& at) {
        if (!c) return {};
        auto b = cache_point(sp_, *c, at);
        if (!b) return b.error();
        to.emplace_back(std::move(*b));
        return {};
    }

    /// A text block and its breakpoint; a blank text is not sent (Bedrock rejects it), nor
    /// may it carry a breakpoint.
    result<std::size_t> add_text(json::array& to, text_part const& t, std::size_t i,
                                 std::size_t j) {
        if (t.text.empty()) {
            if (t.cache)
                return invalid(at_part(i, j) + ": a cache breakpoint on an empty text part "
                                               "(Bedrock takes no blank text to put it after)");
            return std::size_t{0};
        }
        json::object b(sp_);
        b.emplace("text", t.text);
        to.emplace_back(std::move(b));
        if (auto ok = add_cache_point(to, t.cache, at_part(i, j)); !ok) return ok.error();
        return 1;
    }

    // Bedrock has no system role: system messages join the top-level `system` blocks, in order.
    result<void> add_system_message(message const& m, std::size_t i) {
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const* t = std::get_if<text_part>(&m.content[j]);
            if (!t)
                return unsupported(at_part(i, j) + ": a system message may only hold text");
            if (auto ok = add_text(system_, *t, i, j); !ok) return ok.error();
        }
        return {};
    }

    result<json::object> document_block(document_part const& d, std::size_t i, std::size_t j) {
        json::object source(sp_);
        std::string_view format;
        std::string_view media_type, data;
        if (parse_data_uri(d.url, media_type, data)) {
            format = document_format_of(media_type);
            if (format.empty())
                return unsupported(at_part(i, j) + ": Bedrock takes documents of pdf, csv, doc, "
                                                   "docx, xls, xlsx, html, txt and md, not '" +
                                   excerpt(media_type, 80) + "'");
            if (data.empty()) return invalid(at_part(i, j) + ": the document's data is empty");
            source.emplace("bytes", data);  // a blob is base64 in JSON, as the data URI has it
        } else if (istarts_with(d.url, "s3://")) {
            format = s3_document_format(d.url);
            if (format.empty())
                return unsupported(at_part(i, j) +
                                   ": the format of an s3:// document is taken from its "
                                   "extension, which must be pdf, csv, doc, docx, xls, xlsx, "
                                   "html, txt or md");
            json::object loc(sp_);
            loc.emplace("uri", d.url);
            source.emplace("s3Location", std::move(loc));
        } else if (istarts_with(d.url, "https://") || istarts_with(d.url, "http://")) {
            return unsupported(at_part(i, j) +
                               ": Bedrock does not fetch documents by URL; pass the document as "
                               "a data:<media type>;base64, URI (or an s3:// URL)");
        } else {
            return invalid(at_part(i, j) + ": a document URL must be a data:<media "
                                           "type>;base64, URI or an s3:// URL");
        }
        json::object doc(sp_);
        doc.emplace("format", format);
        doc.emplace("name", document_name(d.name, ++documents_));
        doc.emplace("source", std::move(source));
        json::object b(sp_);
        b.emplace("document", std::move(doc));
        return b;
    }

    /// True when the reasoning part goes to this model (Claude's, to Claude).
    bool sends(reasoning_part const& r) const noexcept {
        return claude_ && r.origin == "anthropic"sv;
    }

    json::object reasoning_block(reasoning_part const& r) {
        json::object rc(sp_);
        if (r.type == reasoning_part::kind::redacted) {
            rc.emplace("redactedContent", r.data);
        } else {
            json::object rt(sp_);
            rt.emplace("text", r.text);
            if (!r.signature.empty()) rt.emplace("signature", r.signature);
            rc.emplace("reasoningText", std::move(rt));
        }
        json::object b(sp_);
        b.emplace("reasoningContent", std::move(rc));
        return b;
    }

    // The content array of the turn `role`: consecutive messages of one role are merged into
    // one turn, as Bedrock wants turns to alternate.
    json::array& turn(std::string_view role) {
        if (messages_.empty() || last_role_ != role) {
            json::object m(sp_);
            m.emplace("role", role);
            m.emplace("content", json::array(sp_));
            messages_.emplace_back(std::move(m));
            last_role_ = role;
        }
        return messages_.back().get_object()["content"].get_array();
    }

    result<json::object> image_block(image_part const& img, std::size_t i, std::size_t j) {
        json::object source(sp_);
        std::string_view format;
        std::string_view media_type, data;
        if (parse_data_uri(img.url, media_type, data)) {
            format = image_format(media_type);
            if (format.empty())
                return unsupported(at_part(i, j) + ": Bedrock takes png, jpeg, gif and webp "
                                                   "images, not '" +
                                   excerpt(media_type, 60) + "'");
            if (data.empty()) return invalid(at_part(i, j) + ": the image's data is empty");
            source.emplace("bytes", data);  // a blob is base64 in JSON, as the data URI has it
        } else if (istarts_with(img.url, "s3://")) {
            format = s3_image_format(img.url);
            if (format.empty())
                return unsupported(at_part(i, j) +
                                   ": the image format of an s3:// URL is taken from its "
                                   "extension, which must be png, jpg, jpeg, gif or webp");
            json::object loc(sp_);
            loc.emplace("uri", img.url);
            source.emplace("s3Location", std::move(loc));
        } else if (istarts_with(img.url, "https://") || istarts_with(img.url, "http://")) {
            return unsupported(at_part(i, j) +
                               ": Bedrock does not fetch images by URL; pass the image as a "
                               "data:<media type>;base64, URI (or an s3:// URL)");
        } else {
            return invalid(at_part(i, j) + ": an image URL must be a data:<media type>;base64, "
                                           "URI or an s3:// URL");
        }
        json::object image(sp_);
        image.emplace("format", format);
        image.emplace("source", std::move(source));
        json::object b(sp_);
        b.emplace("image", std::move(image));
        return b;
    }

    result<json::object> tool_result_block(tool_result const& r, std::size_t i, std::size_t j) {
        if (r.tool_call_id.empty())
            return invalid(at_part(i, j) + ": a tool result needs a tool_call_id");
        // A JSON object goes as a `json` block (what 6.1 shows), anything else as text.
        json::object item(sp_);
        boost::system::error_code ec;
        json::value parsed = detail::parse_json(r.content, ec, sp_);
        if (!ec && parsed.is_object())
            item.emplace("json", std::move(parsed));
        else
            item.emplace("text", r.content);
        json::array content(sp_);
        content.emplace_back(std::move(item));
        json::object res(sp_);
        res.emplace("toolUseId", r.tool_call_id);
        res.emplace("content", std::move(content));
        res.emplace("status", r.is_error ? "error" : "success");
        json::object b(sp_);
        b.emplace("toolResult", std::move(res));
        tool_blocks_ = true;
        return b;
    }

    // A message that adds nothing would leave an empty turn, which Bedrock rejects; say so here.
    result<void> require_content(std::size_t added, std::size_t i) {
        if (added == 0)
            return invalid(at_message(i) + ": the message has no content (Bedrock rejects empty "
                                           "messages and blank text)");
        return {};
    }

    result<void> add_user(message const& m, std::size_t i) {
        json::array& content = turn("user");
        std::size_t added = 0;
        // Tool results first: Claude on Bedrock wants them ahead of other blocks in a turn.
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const* r = std::get_if<tool_result>(&m.content[j]);
            if (!r) continue;
            auto b = tool_result_block(*r, i, j);
            if (!b) return b.error();
            content.emplace_back(std::move(*b));
            if (auto ok = add_cache_point(content, r->cache, at_part(i, j)); !ok) return ok;
            ++added;
        }
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (auto const* t = std::get_if<text_part>(&p)) {
                auto n = add_text(content, *t, i, j);
                if (!n) return n.error();
                added += *n;
            } else if (auto const* img = std::get_if<image_part>(&p)) {
                auto b = image_block(*img, i, j);
                if (!b) return b.error();
                content.emplace_back(std::move(*b));
                if (auto ok = add_cache_point(content, img->cache, at_part(i, j)); !ok) return ok;
                ++added;
            } else if (auto const* d = std::get_if<document_part>(&p)) {
                auto b = document_block(*d, i, j);
                if (!b) return b.error();
                content.emplace_back(std::move(*b));
                if (auto ok = add_cache_point(content, d->cache, at_part(i, j)); !ok) return ok;
                ++added;
            } else if (std::holds_alternative<tool_call>(p)) {
                return invalid(at_part(i, j) + ": a tool call belongs in an assistant message");
            } else if (std::holds_alternative<reasoning_part>(p)) {
                return invalid(at_part(i, j) + ": reasoning belongs in an assistant message");
            }
        }
        return require_content(added, i);
    }

    result<void> add_assistant(message const& m, std::size_t i) {
        // A turn of nothing but reasoning this model cannot read back is left out whole.
        bool const only_foreign_reasoning =
            !m.content.empty() &&
            std::all_of(m.content.begin(), m.content.end(), [&](content_part const& p) {
                auto const* r = std::get_if<reasoning_part>(&p);
                return r && !sends(*r);
            });
        if (only_foreign_reasoning) return {};
        json::array& content = turn("assistant");
        std::size_t added = 0;
        // The turn's reasoning first, in its order, as the model wrote it.
        for (auto const& p : m.content) {
            auto const* r = std::get_if<reasoning_part>(&p);
            if (!r || !sends(*r)) continue;
            content.emplace_back(reasoning_block(*r));
            ++added;
        }
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (auto const* t = std::get_if<text_part>(&p)) {
                auto n = add_text(content, *t, i, j);
                if (!n) return n.error();
                added += *n;
            } else if (std::holds_alternative<reasoning_part>(p)) {
                continue;  // sent first, or not for this model
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                if (c->id.empty()) return invalid(at_part(i, j) + ": a tool call needs an id");
                if (c->name.empty()) return invalid(at_part(i, j) + ": a tool call needs a name");
                // `input` is a JSON document, not text: the arguments must parse, and tool
                // inputs are objects.
                json::value input;
                if (c->arguments.empty() || trim(c->arguments).empty()) {
                    input = json::object(sp_);
                } else {
                    boost::system::error_code ec;
                    input = detail::parse_json(c->arguments, ec, sp_);
                    if (ec)
                        return invalid(at_part(i, j) + ": the arguments of tool call '" + c->id +
                                       "' are not valid JSON (" + ec.message() + ")");
                    if (!input.is_object())
                        return invalid(at_part(i, j) + ": the arguments of tool call '" + c->id +
                                       "' are not a JSON object");
                }
                json::object use(sp_);
                use.emplace("toolUseId", c->id);
                use.emplace("name", c->name);
                use.emplace("input", std::move(input));
                json::object b(sp_);
                b.emplace("toolUse", std::move(use));
                content.emplace_back(std::move(b));
                tool_blocks_ = true;
                ++added;
            } else if (std::holds_alternative<image_part>(p) ||
                       std::holds_alternative<document_part>(p)) {
                return unsupported(at_part(i, j) +
                                   ": assistant messages cannot hold images or documents");
            } else {
                return invalid(at_part(i, j) + ": a tool result belongs in a tool or user message");
            }
        }
        return require_content(added, i);
    }

    // Bedrock has no tool role: tool results are blocks of a user turn.
    result<void> add_tool(message const& m, std::size_t i) {
        if (m.content.empty())
            return invalid(at_message(i) + ": a tool message needs a tool_result part");
        json::array& content = turn("user");
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const* r = std::get_if<tool_result>(&m.content[j]);
            if (!r)
                return invalid(at_part(i, j) + ": a tool message may only hold tool_result parts");
            auto b = tool_result_block(*r, i, j);
            if (!b) return b.error();
            content.emplace_back(std::move(*b));
            if (auto ok = add_cache_point(content, r->cache, at_part(i, j)); !ok) return ok;
        }
        return {};
    }

    json::storage_ptr sp_;
    json::array system_;
    json::array messages_;
    std::string_view last_role_;
    bool claude_ = false;
    bool tool_blocks_ = false;
    std::size_t documents_ = 0;
};

json::object tool_spec(json::storage_ptr const& sp, std::string_view name,
                       std::string_view description, json::object const& schema) {
    json::object spec(sp);
    spec.emplace("name", name);
    if (!description.empty()) spec.emplace("description", description);
    json::object input_schema(sp);
    if (schema.empty()) {
        // inputSchema is required; an object without properties is "no parameters".
        json::object empty(sp);
        empty.emplace("type", "object");
        empty.emplace("properties", json::object(sp));
        input_schema.emplace("json", std::move(empty));
    } else {
        input_schema.emplace("json", json::object(schema, sp));
    }
    spec.emplace("inputSchema", std::move(input_schema));
    json::object t(sp);
    t.emplace("toolSpec", std::move(spec));
    return t;
}

json::object choice(json::storage_ptr const& sp, std::string_view kind, std::string_view name = {}) {
    json::object inner(sp);
    if (!name.empty()) inner.emplace("name", name);
    json::object o(sp);
    o.emplace(kind, std::move(inner));
    return o;
}

/// `toolConfig`, or an empty object when none is sent.
result<json::object> encode_tool_config(chat_request const& req, bool has_tool_blocks,
                                        json::storage_ptr const& sp) {
    json::object config(sp);
    if (req.response_format && req.response_format->type == response_format::kind::json_schema) {
        auto const& rf = *req.response_format;
        if (!req.tools.empty())
            return unsupported("response_format json_schema with tools: Bedrock Converse has no "
                               "JSON mode, and llmux's forced JSON tool would override the "
                               "request's own tools");
        std::string description = "Give the answer as this tool's input: a JSON value matching "
                                  "the schema";
        if (!rf.name.empty()) description += " '" + rf.name + "'";
        json::array tools(sp);
        json::object schema = rf.schema.empty() ? json::object{{"type", "object"}} : rf.schema;
        tools.emplace_back(tool_spec(sp, json_tool_name, description, schema));
        config.emplace("tools", std::move(tools));
        config.emplace("toolChoice", choice(sp, "tool", json_tool_name));
        return config;
    }
    if (req.tools.empty()) {
        if (auto ok = check_tool_choice(req); !ok) return ok.error();
        return config;
    }
    json::array tools(sp);
    for (std::size_t i = 0; i < req.tools.size(); ++i) {
        auto const& t = req.tools[i];
        if (auto ok = check_tool_name(t, i); !ok) return ok.error();
        // `strict` has no Converse field; the schema is still sent and models follow it.
        tools.emplace_back(tool_spec(sp, t.name, t.description, t.parameters));
        if (t.cache) {
            auto point = cache_point(sp, *t.cache, "tools[" + std::to_string(i) + "]");
            if (!point) return point.error();
            tools.emplace_back(std::move(*point));
        }
    }
    std::optional<json::object> tc;
    if (req.tool_choice) {
        switch (req.tool_choice->how) {
        case tool_choice::mode::automatic:
            tc = choice(sp, "auto");
            break;
        case tool_choice::mode::none:
            // No "none" in Converse (file comment): leave the tools out, which forbids calls,
            // unless the conversation's tool blocks make Bedrock require them.
            if (has_tool_blocks)
                return unsupported("tool_choice 'none': Bedrock Converse cannot forbid tool "
                                   "calls when the conversation holds tool calls or results "
                                   "(it then requires the tools to be sent)");
            return json::object(sp);
        case tool_choice::mode::required:
            tc = choice(sp, "any");
            break;
        case tool_choice::mode::named:
            if (auto ok = check_tool_choice(req); !ok) return ok.error();
            tc = choice(sp, "tool", req.tool_choice->name);
            break;
        }
    }
    config.emplace("tools", std::move(tools));
    if (tc) config.emplace("toolChoice", std::move(*tc));
    return config;
}

result<http_request> encode_request(chat_request const& req, encode_context const& ctx) {
    if (req.messages.empty()) return invalid("the request has no messages");
    if (ctx.model.empty()) return invalid("the request names no Bedrock model");
    if (req.seed)
        return unsupported("seed: Bedrock Converse has no seed field; pass it in extra as "
                           "{\"additionalModelRequestFields\":{\"seed\":...}} for models that "
                           "take one");
    if (req.response_format && req.response_format->type == response_format::kind::json_object)
        return unsupported("response_format json_object: Bedrock Converse has no JSON mode; use "
                           "response_format::json_schema (sent as a forced tool)");

    http_request out;
    // The model id (or inference profile, or ARN) is one path segment: `:` and `/` encoded.
    out.target = "/model/" + uri_encode(ctx.model, true) +
                 (ctx.stream ? "/converse-stream" : "/converse");
    out.set_header("Content-Type", "application/json");
    out.set_header("Accept", ctx.stream ? "application/vnd.amazon.eventstream" : "application/json");

    json::monotonic_resource mr;
    json::storage_ptr sp(&mr);
    std::optional<std::int64_t> max_tokens = req.max_tokens;
    json::object model_fields(sp);
    if (auto ok = encode_reasoning(req, ctx.model, max_tokens, model_fields, sp); !ok)
        return ok.error();

    request_encoder enc(sp, family_of(ctx.model) == reasoning_family::claude);
    enc.add_system_text(req.system);
    if (auto ok = enc.mark_system(req.system_cache); !ok) return ok.error();
    for (std::size_t i = 0; i < req.messages.size(); ++i)
        if (auto ok = enc.add(req.messages[i], i); !ok) return ok.error();

    // Key order follows PROVIDERS.md 6.1: system, messages, inferenceConfig, toolConfig.
    json::object body(sp);
    json::array system = enc.take_system();
    if (!system.empty()) body.emplace("system", std::move(system));
    body.emplace("messages", enc.take_messages());

    json::object inference(sp);
    if (max_tokens) inference.emplace("maxTokens", *max_tokens);
    if (req.temperature) inference.emplace("temperature", *req.temperature);
    if (req.top_p) inference.emplace("topP", *req.top_p);
    if (!req.stop.empty()) {
        json::array stop(sp);
        for (auto const& s : req.stop)
            stop.emplace_back(s);
        inference.emplace("stopSequences", std::move(stop));
    }
    if (!inference.empty()) body.emplace("inferenceConfig", std::move(inference));

    auto tools = encode_tool_config(req, enc.has_tool_blocks(), sp);
    if (!tools) return tools.error();
    if (!tools->empty()) body.emplace("toolConfig", std::move(*tools));
    if (!model_fields.empty()) body.emplace("additionalModelRequestFields", std::move(model_fields));

    if (!req.user.empty()) {
        json::object md(sp);
        md.emplace("user", req.user);
        body.emplace("requestMetadata", std::move(md));
    }
    merge_extra(body, req.extra);
    out.body = to_json(body);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A whole `reasoningContent` block of a response as a reasoning part of `origin`.
reasoning_part reasoning_of(json::object const& rc, std::string_view origin) {
    reasoning_part p;
    p.origin = origin;
    if (auto const* rt = get_object(rc, "reasoningText")) {
        p.text = get_string(*rt, "text");
        p.signature = get_string(*rt, "signature");
    } else if (auto const* red = rc.if_contains("redactedContent"); red && red->is_string()) {
        p.type = reasoning_part::kind::redacted;
        p.data = as_view(red->get_string());
    }
    return p;
}

result<chat_response> decode_body(response_head const& head, std::string_view body,
                                  std::string_view origin) {
    auto const fail = [&](failure f) {
        f.diag.http_status = head.status;
        f.diag.request_id = std::string(head.header(request_id_header));
        return f;
    };
    json::monotonic_resource mr;
    auto parsed = parse_body(body, mr);
    if (!parsed) return fail(parsed.error());
    json::value const v = std::move(*parsed);
    auto const* o = v.if_object();
    if (!o)
        return fail(internal(failure(error::protocol_error,
                                     "response body is not a JSON object: " + body_excerpt(body))));
    auto const* output = get_object(*o, "output");
    if (!output) return fail(bad_field("output", "is missing or not an object"));
    auto const* msg = get_object(*output, "message");
    if (!msg) return fail(bad_field("output.message", "is missing or not an object"));
    auto const* cv = msg->if_contains("content");
    auto const* content = cv ? cv->if_array() : nullptr;
    if (!content) return fail(bad_field("output.message.content", "is missing or not an array"));
    auto const* sr = o->if_contains("stopReason");
    if (!sr || !sr->is_string()) return fail(bad_field("stopReason", "is missing or not a string"));

    chat_response r;
    r.request_id = head.header(request_id_header);
    bool json_answer = false;
    for (std::size_t i = 0; i < content->size(); ++i) {
        auto const* b = (*content)[i].if_object();
        if (!b) continue;
        if (auto const* t = b->if_contains("text")) {
            if (auto const* s = t->if_string()) r.content.append(s->data(), s->size());
        } else if (auto const* use = get_object(*b, "toolUse")) {
            std::string_view const name = get_string(*use, "name");
            auto const* input = use->if_contains("input");
            std::string args = input ? to_json(*input) : std::string("{}");
            if (name == json_tool_name) {
                json_answer = true;
                r.content += args;
                continue;
            }
            if (name.empty())
                return fail(bad_field("output.message.content[" + std::to_string(i) +
                                          "].toolUse.name",
                                      "is missing"));
            r.tool_calls.push_back(
                tool_call{std::string(get_string(*use, "toolUseId")), std::string(name),
                          std::move(args)});
        } else if (auto const* rc = get_object(*b, "reasoningContent")) {
            auto& part = r.reasoning_parts.emplace_back(reasoning_of(*rc, origin));
            r.reasoning += part.text;
        }
        // Other blocks (citations, images, documents) have no unified field.
    }

    std::string_view const native = as_view(sr->get_string());
    bool fails = false;
    r.finish_reason = map_stop(native, json_answer && r.tool_calls.empty(), fails);
    r.native_finish_reason = native;
    if (fails) return fail(stop_failure(native));
    if (auto const* u = get_object(*o, "usage")) r.usage = read_usage(*u);
    return r;
}

// ---------------------------------------------------------------------------------------------
// Streaming

class bedrock_stream_decoder final : public stream_decoder {
public:
    explicit bedrock_stream_decoder(std::string_view origin) : origin_(origin) {}

    result<void> feed(std::string_view bytes, std::vector<chat_chunk>& out) override {
        if (failed_) return *failed_;
        // Once messageStop and metadata are in, the answer is complete: Bedrock sends nothing
        // after them, and whatever else arrives is not read.
        while (!failed_ && !done_) {
            auto m = frames_.next(bytes);
            if (!m) {
                failed_ = m.error();
                break;
            }
            if (*m == nullptr) break;
            ++frames_seen_;
            on_message(**m, out);
        }
        if (failed_) return *failed_;
        return {};
    }

    result<void> finish(std::vector<chat_chunk>&) override {
        if (failed_) return *failed_;
        if (done_) return {};
        auto const framing = frames_.finish();
        if (!framing && framing.error().code != make_error_code(error::truncated)) {
            failed_ = framing.error();
            return *failed_;
        }
        std::string msg;
        if (!stop_seen_)
            msg = "the event stream ended before its messageStop event";
        else
            msg = "the event stream ended after messageStop ('" + info_.native_finish_reason +
                  "') but before the metadata event with the usage";
        msg += ", after " + std::to_string(frames_seen_) + " complete frame" +
               (frames_seen_ == 1 ? "" : "s");
        if (deltas_ > 0)
            msg += " (" + std::to_string(deltas_) + " content delta" + (deltas_ == 1 ? "" : "s") +
                   ")";
        if (!framing) msg += "; then the " + framing.error().diag.message;
        failed_ = failure(error::truncated, std::move(msg));
        return *failed_;
    }

    stream_info const& info() const noexcept override { return info_; }

private:
    enum class block_kind { tool, json };
    struct block {
        std::uint64_t index;
        block_kind kind;
        std::size_t tool;  // the tool call's index among the answer's tool calls
    };

    block const* find_block(std::uint64_t index) const noexcept {
        for (auto const& b : blocks_)
            if (b.index == index) return &b;
        return nullptr;
    }

    void on_message(event_message const& m, std::vector<chat_chunk>& out) {
        std::string_view const type = m.string_header(":message-type");
        if (type == "event") {
            on_event(m.string_header(":event-type"), m.payload, out);
        } else if (type == "exception") {
            on_exception(m.string_header(":exception-type"), m.payload);
        } else if (type == "error") {
            // A generic (unmodelled) error: its code and message are headers.
            std::string_view const code = m.string_header(":error-code");
            std::string message(m.string_header(":error-message"));
            if (message.empty()) message = "an error frame without a message";
            failure f;
            classify(f, code, std::move(message), 0);
            failed_ = std::move(f);
        } else {
            failed_ = failure(error::protocol_error,
                              type.empty() ? std::string("an event-stream message has no "
                                                         ":message-type header")
                                           : "an event-stream message has the unknown "
                                             ":message-type '" +
                                                 excerpt(type, 60) + "'");
        }
    }

    /// Parses a payload in the reused arena (so the value must be gone before the next call).
    /// Sets `failed_` (and returns null) if it is not a JSON object.
    json::value parse(std::string_view payload, std::string_view event) {
        json_.reset();
        mr_.release();
        json_.reset(&mr_);
        boost::system::error_code ec;
        json_.write(payload.data(), payload.size(), ec);
        if (ec) {
            json_.reset();
            failed_ = failure(error::protocol_error, "the payload of a " + std::string(event) +
                                                         " event is not valid JSON (" +
                                                         ec.message() +
                                                         "): " + excerpt(payload, 120));
            return nullptr;
        }
        json::value doc = json_.release();
        if (!doc.is_object())
            failed_ = failure(error::protocol_error, "the payload of a " + std::string(event) +
                                                         " event is not a JSON object: " +
                                                         excerpt(payload, 120));
        return doc;
    }

    void on_exception(std::string_view type, std::string_view payload) {
        error_payload p;
        json::monotonic_resource mr;
        boost::system::error_code ec;
        json::value const v = detail::parse_json(payload, ec, &mr);
        auto source = message_source::provider;
        if (!ec && v.is_object()) {
            p = read_error_payload(v.get_object());
        } else if (!trim(payload).empty()) {
            p.message = body_excerpt(payload);
            source = message_source::internal;
        }
        if (p.message.empty()) {
            p.message = "an exception frame without a message";
            source = message_source::llmux;
        }
        failure f;
        classify(f, type, std::move(p.message), 0);
        f.diag.source = source;
        if (type.empty()) f.diag.message += " (the frame has no :exception-type header)"sv;
        f.diag.error_code = std::move(p.original_status);
        failed_ = std::move(f);
    }

    /// The reasoning block being streamed goes out whole (its text came piece by piece).
    void end_reasoning(std::vector<chat_chunk>& out) {
        if (!reasoning_) return;
        chat_chunk c;
        c.reasoning_parts.push_back(std::move(*reasoning_));
        reasoning_.reset();
        out.push_back(std::move(c));
    }

    /// The reasoning block `index`, started by its first delta (Bedrock sends no
    /// contentBlockStart for reasoning).
    reasoning_part& reasoning_block(std::uint64_t index, std::vector<chat_chunk>& out) {
        if (reasoning_ && reasoning_index_ != index) end_reasoning(out);
        if (!reasoning_) {
            reasoning_.emplace();
            reasoning_->origin = origin_;
            reasoning_index_ = index;
        }
        return *reasoning_;
    }

    void on_event(std::string_view event, std::string_view payload, std::vector<chat_chunk>& out) {
        // Events with nothing to unify are not parsed (unknown ones included); a block's stop
        // only when it ends reasoning.
        if (event == "messageStart" || (event == "contentBlockStop" && !reasoning_)) return;
        if (event != "contentBlockStart" && event != "contentBlockDelta" &&
            event != "contentBlockStop" && event != "messageStop" && event != "metadata")
            return;
        json::value const doc = parse(payload, event);
        if (failed_) return;
        json::object const* o = &doc.get_object();
        std::uint64_t const index = get_count(*o, "contentBlockIndex").value_or(0);
        chat_chunk c;
        if (event == "contentBlockStop") {
            if (index == reasoning_index_) end_reasoning(out);
            return;
        }
        if (event == "contentBlockStart") {
            auto const* start = get_object(*o, "start");
            auto const* use = start ? get_object(*start, "toolUse") : nullptr;
            if (!use) return;  // text blocks need no start
            std::string_view const name = get_string(*use, "name");
            if (name == json_tool_name) {
                blocks_.push_back({index, block_kind::json, 0});
                return;
            }
            std::size_t const tool = tools_++;
            blocks_.push_back({index, block_kind::tool, tool});
            c.tool_calls.push_back(
                tool_call_delta{tool, std::string(get_string(*use, "toolUseId")),
                                std::string(name), {}});
        } else if (event == "contentBlockDelta") {
            auto const* delta = get_object(*o, "delta");
            if (!delta) return;
            ++deltas_;
            if (auto const* t = delta->if_contains("text"); t && t->is_string()) {
                c.text = as_view(t->get_string());
            } else if (auto const* use = get_object(*delta, "toolUse")) {
                std::string_view const input = get_string(*use, "input");
                auto const* b = find_block(index);
                if (!b) {
                    failed_ = failure(error::protocol_error,
                                      "a toolUse delta for content block " + std::to_string(index) +
                                          ", which did not start as a tool use");
                    return;
                }
                if (b->kind == block_kind::json)
                    c.text = input;
                else
                    c.tool_calls.push_back(tool_call_delta{b->tool, {}, {}, std::string(input)});
            } else if (auto const* rc = get_object(*delta, "reasoningContent")) {
                // Text pieces, then the signature (or the redacted content), then the stop.
                auto& part = reasoning_block(index, out);
                if (auto const* t = rc->if_contains("text"); t && t->is_string()) {
                    c.reasoning = as_view(t->get_string());
                    part.text += c.reasoning;
                }
                if (auto const* sig = rc->if_contains("signature"); sig && sig->is_string())
                    part.signature += as_view(sig->get_string());
                if (auto const* red = rc->if_contains("redactedContent");
                    red && red->is_string()) {
                    part.type = reasoning_part::kind::redacted;
                    part.data += as_view(red->get_string());
                }
            }
        } else if (event == "messageStop") {
            end_reasoning(out);  // a block Bedrock did not stop is not lost
            std::string_view const native = get_string(*o, "stopReason");
            bool const json_answer = tools_ == 0 && !blocks_.empty();
            bool fails = false;
            finish_reason const fr = map_stop(native, json_answer, fails);
            info_.native_finish_reason = native;
            stop_seen_ = true;
            if (fails) {
                failed_ = stop_failure(native);
                return;
            }
            c.finish_reason = fr;
        } else {  // metadata: the last event, with the usage
            if (!stop_seen_) {
                // Bedrock sends it after messageStop; before it, it cannot end the stream.
                if (auto const* u = get_object(*o, "usage")) c.usage = read_usage(*u);
            } else {
                done_ = true;
                if (auto const* u = get_object(*o, "usage")) c.usage = read_usage(*u);
            }
        }
        if (c.has_content() || c.finish_reason || c.usage) out.push_back(std::move(c));
    }

    std::string_view origin_;
    event_stream_decoder frames_;
    stream_info info_;
    std::vector<block> blocks_;
    /// The reasoning block being streamed and its index.
    std::optional<reasoning_part> reasoning_;
    std::uint64_t reasoning_index_ = 0;
    std::size_t tools_ = 0;
    std::size_t frames_seen_ = 0;
    std::size_t deltas_ = 0;
    // The arena must outlive the parser, which holds a (non-owning) pointer to it.
    alignas(std::max_align_t) unsigned char arena_[8192];
    json::monotonic_resource mr_{arena_, sizeof arena_};
    json_reader json_;
    std::optional<failure> failed_;
    bool stop_seen_ = false;
    bool done_ = false;  // messageStop and then metadata arrived: the answer is complete
};

// ---------------------------------------------------------------------------------------------

wire_format const& converse_for(std::string_view origin) noexcept;

/** Converse for the models whose reasoning is of `origin` (`bedrock::reasoning_origin`): the
    client resolves `for_model` first, so answers of Claude carry parts that go back to Claude.
*/
class bedrock_converse final : public wire_format {
public:
    explicit bedrock_converse(std::string_view origin) : origin_(origin) {}

    std::string_view name() const noexcept override { return "bedrock"; }

    wire_format const& for_model(std::string_view model) const noexcept override {
        return converse_for(bedrock::reasoning_origin(model));
    }

    result<http_request> encode(chat_request const& req, encode_context const& ctx) const override {
        return encode_request(req, ctx);
    }

    result<chat_response> decode(response_head const& head, std::string_view body) const override {
        return decode_body(head, body, origin_);
    }

    failure decode_error(response_head const& head, std::string_view body) const override {
        return decode_error_body(head, body);
    }

    std::unique_ptr<stream_decoder> make_stream_decoder() const override {
        return std::make_unique<bedrock_stream_decoder>(origin_);
    }

    // Converse hands a final assistant turn to Claude as it is (anthropic.claude-*, with or
    // without an inference profile's region prefix); other model families are not known to
    // continue one.
    bool continues_prefill(std::string_view model, chat_request const& req) const noexcept override {
        return model.find("anthropic.claude") != std::string_view::npos &&
               claude_accepts_prefill(model) && !claude_prefill_conflicts(req);
    }

private:
    std::string_view origin_;
};

wire_format const& converse_for(std::string_view origin) noexcept {
    static bedrock_converse const claude("anthropic");
    static bedrock_converse const others("bedrock");
    return origin == "anthropic" ? claude : others;
}

}  // namespace

wire_format const& bedrock_converse_format() {
    return converse_for("bedrock");
}

}  // namespace llmux::detail
