// SPDX-License-Identifier: BSL-1.0
// Google Gemini `generateContent` (PROVIDERS.md sections 4, 5.1 and 7), as the Gemini API (AI
// Studio, `x-goog-api-key`) and Vertex AI (`publishers/google`, OAuth) speak it. Sans-io: every
// function here works from bytes alone; the client adds the credentials.
//
// Choices where the dossier is silent (each one is pinned by a unit test in tests/unit/gemini.cpp):
// - System prompt: `chat_request::system` and every system-role message, wherever it stands, go
//   to `systemInstruction` in order (Gemini has no system turn).
// - Turns: user and tool messages are `user` turns, assistant messages `model` turns; consecutive
//   turns of one role are merged (tool results followed by user text make one user turn).
//   Empty text parts are left out (Gemini rejects them); a message left with nothing is an
//   `invalid_request`.
// - Images: data URIs become `inlineData`; `https://`, `http://` and `gs://` URLs become
//   `fileData{mimeType,fileUri}` with the MIME type guessed from the file extension. The Gemini
//   API fetches only some remote URLs (its Files API, YouTube, and public URLs for newer models)
//   and answers a 400 otherwise, which comes back as `bad_request`. Vertex requires the MIME type,
//   so there a URL without a known image extension is `unsupported`. OpenAI's `detail` hint has
//   no per-image Gemini field and is not sent.
// - Tool calls and results carry no `id`: Gemini pairs a `functionResponse` with its
//   `functionCall` by name and order, and ids from other providers mean nothing to it. A tool
//   result's name is `tool_result::name`, else the name of the earlier tool call with its id,
//   else the request is `invalid_request` naming the call. `response` must be an object: JSON
//   object content is sent as is; anything else is wrapped as `{"output": <JSON value or the
//   text>}`, and an error result (`is_error`) as `{"error": <JSON value or the text>}`: the keys
//   Google's FunctionResponse documentation names for a function's output and its error.
// - Tool parameters go in `parametersJsonSchema` and answer schemas in `responseJsonSchema`
//   (both GA on the Gemini API and Vertex): they take JSON Schema as is, so nothing is lost in a
//   conversion to the OpenAPI subset of `parameters`/`responseSchema`.
// - `user` has no Gemini field and is refused with `unsupported` rather than dropped (Vertex's
//   `labels` are billing labels with a restricted alphabet; set them through `extra`).
// - Answers: `thought: true` parts are reasoning; a `functionCall` without an id gets
//   `call_<n>` (n counts the calls of the answer, so the ids are deterministic).
// - Finish reasons (section 7): `MALFORMED_FUNCTION_CALL`, `UNEXPECTED_TOOL_CALL`,
//   `TOO_MANY_TOOL_CALLS`, `OTHER`, `NO_IMAGE` and `IMAGE_OTHER` fail the call with
//   `server_error` (the model's output failed; retrying may succeed), as OpenAI's `error` finish
//   does. `CONTINUATION` is `length`. Unknown values are `unknown`, not a failure.
// - A blocked prompt (`promptFeedback.blockReason`, no candidates) fails with `content_filtered`.
// - Errors: the canonical `status` decides; `FAILED_PRECONDITION` about billing and 402
//   `RESOURCE_EXHAUSTED` (prepaid credits) are `payment_required`; `API_KEY_INVALID` and
//   "unregistered callers" are `auth_failed`; `RetryInfo.retryDelay` is the retry-after when no
//   `Retry-After` header came.
// - Usage: input = promptTokenCount + toolUsePromptTokenCount; output = candidatesTokenCount +
//   thoughtsTokenCount (or, when candidatesTokenCount is missing, totalTokenCount - input).
// - Reasoning (PROVIDERS-2.md 3.4): a budget is `thinkingConfig.thinkingBudget`; an effort is
//   `thinkingLevel` on Gemini 3 (minimal, low, medium, high; xhigh and max and `none` are
//   `unsupported`: Gemini 3 has no higher level and cannot stop thinking) and the effort's
//   budget (`budget_for_effort`, 0 for none) on older models; `include_text` is
//   `includeThoughts`. Thought parts are read as reasoning text.
// - Thought signatures: a `functionCall` part's `thoughtSignature` is kept on its tool call and
//   sent back on the same part (Gemini 3 refuses a tool loop without it). Signatures on text
//   parts are not kept: Gemini validates only those on function calls. Reasoning parts are
//   not sent (Gemini reads its reasoning back from the signatures alone).
// - Documents: a data URI is `inlineData` (any media type Gemini takes: PDF, text, audio); a
//   URL is `fileData` with the type guessed from the file extension.
// - Cache breakpoints have no Gemini field (its caching is implicit, or the cachedContents
//   resource): they are not sent.
// - Streams have no end marker: a stream is complete once a finishReason arrived; one that ends
//   without is `truncated`.
#include "util/crypto.hpp"
#include "util/json_read.hpp"
#include "codec/sse.hpp"
#include "util/text.hpp"
#include "util/json_write.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/gemini.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace llmux::detail {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;

// ---------------------------------------------------------------------------------------------
// Small helpers

bool is_true(json::value const* v) noexcept {
    return v && v->is_bool() && v->get_bool();
}

// ---------------------------------------------------------------------------------------------
// Encoding

failure invalid(std::string message) {
    return failure(error::invalid_request, std::move(message));
}

// The MIME type of a remote image from its file extension (query and fragment ignored); empty
// when unknown.
std::string_view guess_mime_type(std::string_view url) noexcept {
    url = url.substr(0, url.find_first_of("?#"));
    auto const slash = url.rfind('/');
    auto const dot = url.rfind('.');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
        return {};
    std::string_view const ext = url.substr(dot + 1);
    struct entry {
        std::string_view ext, mime;
    };
    static constexpr entry table[] = {
        {"png", "image/png"},   {"jpg", "image/jpeg"},   {"jpeg", "image/jpeg"},
        {"webp", "image/webp"}, {"gif", "image/gif"},    {"heic", "image/heic"},
        {"heif", "image/heif"}, {"pdf", "application/pdf"},
    };
    for (auto const& e : table)
        if (iequals(ext, e.ext)) return e.mime;
    return {};
}

// Parses JSON text without throwing; null on a syntax error.
std::optional<json::value> parse_json(std::string_view text, json::storage_ptr sp) {
    boost::system::error_code ec;
    json::value v = detail::parse_json(text, ec, std::move(sp));
    if (ec) return std::nullopt;
    return v;
}

class request_encoder {
public:
    request_encoder(json::storage_ptr sp, bool vertex)
        : sp_(std::move(sp)), vertex_(vertex), system_(sp_), contents_(sp_) {}

    json::array take_system() { return std::move(system_); }
    json::array take_contents() { return std::move(contents_); }

    void add_system_text(std::string_view text) {
        if (text.empty()) return;
        json::object p(sp_);
        p.emplace("text", text);
        system_.emplace_back(std::move(p));
    }

    result<void> add(message const& m, std::size_t i) {
        if (m.role == role::system) return add_system_message(m, i);
        std::size_t const before = parts_added_;
        result<void> r;
        if (m.role == role::user)
            r = add_user(m, i);
        else if (m.role == role::assistant)
            r = add_assistant(m, i);
        else if (m.role == role::tool)
            r = add_tool(m, i);
        else
            return invalid(at_message(i) + ": unknown role");
        if (!r) return r;
        if (parts_added_ == before)
            return invalid(at_message(i) +
                           ": the message has no content (Gemini rejects empty text)");
        return {};
    }

private:
    // The parts of the current turn of `role`: consecutive turns of one role are merged, as
    // Gemini wants user and model turns to alternate.
    json::array& turn(std::string_view role) {
        if (contents_.empty() || last_role_ != role) {
            json::object t(sp_);
            t.emplace("role", role);
            t.emplace("parts", json::array(sp_));
            contents_.emplace_back(std::move(t));
            last_role_ = role;
        }
        return contents_.back().get_object().at("parts").get_array();
    }

    void push(std::string_view role, json::object part) {
        turn(role).emplace_back(std::move(part));
        ++parts_added_;
    }

    void push_text(std::string_view role, std::string_view text) {
        if (text.empty()) return;
        json::object p(sp_);
        p.emplace("text", text);
        push(role, std::move(p));
    }

    result<void> add_system_message(message const& m, std::size_t i) {
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const* t = std::get_if<text_part>(&m.content[j]);
            if (!t)
                return failure(error::unsupported,
                               at_part(i, j) + ": a system message may only hold text");
            add_system_text(t->text);
        }
        return {};
    }

    result<void> add_image(image_part const& img, std::size_t i, std::size_t j) {
        std::string_view media, data;
        if (parse_data_uri(img.url, media, data) && !data.empty()) {
            json::object blob(sp_);
            blob.emplace("mimeType", media);
            blob.emplace("data", data);
            json::object p(sp_);
            p.emplace("inlineData", std::move(blob));
            push("user", std::move(p));
            return {};
        }
        std::string_view const url = img.url;
        bool const remote = (istarts_with(url, "https://") && url.size() > 8) ||
                            (istarts_with(url, "http://") && url.size() > 7) ||
                            (istarts_with(url, "gs://") && url.size() > 5);
        if (!remote)
            return invalid(at_part(i, j) + ": an image URL must be https://, http://, gs:// or a "
                                           "data:<media type>;base64, URI");
        std::string_view const mime = guess_mime_type(url);
        if (mime.empty() && vertex_)
            return failure(error::unsupported,
                           at_part(i, j) + ": Vertex AI needs the MIME type of an image URL and "
                                           "the URL has no known image extension; send a data URI");
        json::object file(sp_);
        if (!mime.empty()) file.emplace("mimeType", mime);
        file.emplace("fileUri", url);
        json::object p(sp_);
        p.emplace("fileData", std::move(file));
        push("user", std::move(p));
        return {};
    }

    result<void> add_document(document_part const& d, std::size_t i, std::size_t j) {
        std::string_view media, data;
        json::object p(sp_);
        if (parse_data_uri(d.url, media, data) && !data.empty()) {
            json::object blob(sp_);
            blob.emplace("mimeType", media);
            blob.emplace("data", data);
            p.emplace("inlineData", std::move(blob));
        } else if ((istarts_with(d.url, "https://") && d.url.size() > 8) ||
                   (istarts_with(d.url, "gs://") && d.url.size() > 5)) {
            std::string_view const url = d.url;
            std::string_view mime = guess_mime_type(url);
            if (mime.empty() && (url.ends_with(".pdf") || url.ends_with(".PDF")))
                mime = "application/pdf";
            if (mime.empty())
                return failure(error::unsupported,
                               at_part(i, j) + ": Gemini needs the MIME type of a document URL and "
                                               "the URL has no known extension; send a data URI");
            json::object file(sp_);
            file.emplace("mimeType", mime);
            file.emplace("fileUri", url);
            p.emplace("fileData", std::move(file));
        } else {
            return invalid(at_part(i, j) + ": a document URL must be https://, gs:// or a "
                                           "data:<media type>;base64, URI");
        }
        push("user", std::move(p));
        return {};
    }

    result<void> add_tool_result(tool_result const& r, std::size_t i, std::size_t j) {
        std::string_view name = r.name;
        if (name.empty() && !r.tool_call_id.empty()) {
            if (auto it = call_names_.find(r.tool_call_id); it != call_names_.end())
                name = it->second;
        }
        if (name.empty())
            return invalid(at_part(i, j) + ": Gemini needs the function name of the tool result "
                                           "for call '" +
                           r.tool_call_id +
                           "': set tool_result::name or keep the assistant message that made "
                           "the call");
        json::object response(sp_);
        auto parsed = parse_json(r.content, sp_);
        // An error result already in Google's shape (as a Gemini client sent it) goes as it is.
        bool const error_shaped = parsed && parsed->is_object() && parsed->get_object().size() == 1 &&
                                  parsed->get_object().contains("error");
        if (parsed && parsed->is_object() && (!r.is_error || error_shaped)) {
            response = std::move(parsed->get_object());
        } else {
            json::value inner = parsed ? std::move(*parsed) : json::value(json::string(r.content, sp_));
            response.emplace(r.is_error ? "error" : "output", std::move(inner));
        }
        json::object fr(sp_);
        fr.emplace("name", name);
        fr.emplace("response", std::move(response));
        json::object p(sp_);
        p.emplace("functionResponse", std::move(fr));
        push("user", std::move(p));
        return {};
    }

    result<void> add_user(message const& m, std::size_t i) {
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (auto const* t = std::get_if<text_part>(&p)) {
                push_text("user", t->text);
            } else if (auto const* img = std::get_if<image_part>(&p)) {
                if (auto ok = add_image(*img, i, j); !ok) return ok;
            } else if (auto const* r = std::get_if<tool_result>(&p)) {
                if (auto ok = add_tool_result(*r, i, j); !ok) return ok;
            } else if (auto const* d = std::get_if<document_part>(&p)) {
                if (auto ok = add_document(*d, i, j); !ok) return ok;
            } else if (std::holds_alternative<reasoning_part>(p)) {
                return invalid(at_part(i, j) + ": reasoning belongs in an assistant message");
            } else {
                return invalid(at_part(i, j) + ": a tool call belongs in an assistant message");
            }
        }
        return {};
    }

    result<void> add_assistant(message const& m, std::size_t i) {
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (auto const* t = std::get_if<text_part>(&p)) {
                push_text("model", t->text);
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                if (c->name.empty()) return invalid(at_part(i, j) + ": a tool call needs a name");
                json::object args(sp_);
                if (!trim(c->arguments).empty()) {
                    auto parsed = parse_json(c->arguments, sp_);
                    if (!parsed)
                        return invalid(at_part(i, j) + ": the arguments of tool call '" + c->name +
                                       "' are not valid JSON");
                    if (!parsed->is_object())
                        return invalid(at_part(i, j) + ": the arguments of tool call '" + c->name +
                                       "' must be a JSON object");
                    args = std::move(parsed->get_object());
                }
                json::object fc(sp_);
                fc.emplace("name", c->name);
                fc.emplace("args", std::move(args));
                json::object part(sp_);
                part.emplace("functionCall", std::move(fc));
                if (!c->signature.empty()) part.emplace("thoughtSignature", c->signature);
                push("model", std::move(part));
                // A later tool result may name its call only by id: remember the name. A later
                // call with the same id (ids restart at call_0 in every Gemini answer) wins.
                if (!c->id.empty()) call_names_[c->id] = c->name;
            } else if (std::holds_alternative<reasoning_part>(p)) {
                continue;  // Gemini reads its reasoning back from the calls' signatures
            } else if (std::holds_alternative<image_part>(p) ||
                       std::holds_alternative<document_part>(p)) {
                return failure(error::unsupported,
                               at_part(i, j) + ": assistant messages cannot hold images or documents");
            } else {
                return invalid(at_part(i, j) + ": a tool result belongs in a tool or user message");
            }
        }
        return {};
    }

    result<void> add_tool(message const& m, std::size_t i) {
        if (m.content.empty())
            return invalid(at_message(i) + ": a tool message needs a tool_result part");
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const* r = std::get_if<tool_result>(&m.content[j]);
            if (!r)
                return invalid(at_part(i, j) + ": a tool message may only hold tool_result parts");
            if (auto ok = add_tool_result(*r, i, j); !ok) return ok;
        }
        return {};
    }

    json::storage_ptr sp_;
    bool vertex_;
    json::array system_;
    json::array contents_;
    std::string_view last_role_;
    std::size_t parts_added_ = 0;
    // Tool call id → function name, from the assistant messages seen so far. Views into the
    // request, which outlives the encoder.
    std::unordered_map<std::string_view, std::string_view> call_names_;
};

bool is_vertex(provider_config const& p) noexcept {
    return is_true(p.options.if_contains("vertex"));
}

/// `generationConfig.thinkingConfig` for the reasoning controls (PROVIDERS-2.md 3.4).
result<json::object> thinking_config(reasoning_options const& r, std::string_view model,
                                     json::storage_ptr const& sp) {
    json::object tc(sp);
    bool const gemini3 = model.find("gemini-3") != std::string_view::npos;
    if (r.budget_tokens) {
        if (*r.budget_tokens < -1)
            return invalid("reasoning.budget_tokens: Gemini takes a budget of 0 or more tokens (-1: "
                           "dynamic), not " + std::to_string(*r.budget_tokens));
        tc.emplace("thinkingBudget", *r.budget_tokens);
    } else if (r.effort) {
        if (gemini3) {
            char const* level = nullptr;
            switch (*r.effort) {
            case reasoning_effort::minimal: level = "MINIMAL"; break;
            case reasoning_effort::low: level = "LOW"; break;
            case reasoning_effort::medium: level = "MEDIUM"; break;
            case reasoning_effort::high: level = "HIGH"; break;
            case reasoning_effort::none:
                return failure(error::unsupported,
                               "reasoning.effort: Gemini 3 cannot stop thinking; the least is "
                               "'minimal'");
            case reasoning_effort::xhigh:
            case reasoning_effort::max:
                return failure(error::unsupported,
                               "reasoning.effort: Gemini 3's highest thinking level is 'high', "
                               "not '" + std::string(to_string(*r.effort)) + "'");
            }
            tc.emplace("thinkingLevel", level);
        } else {
            tc.emplace("thinkingBudget", budget_for_effort(*r.effort));
        }
    }
    if (r.include_text) tc.emplace("includeThoughts", *r.include_text);
    return tc;
}

// ---------------------------------------------------------------------------------------------
// Errors

// A google.protobuf.Duration in its JSON form ("17s", "0.5s", "1.000340s").
std::optional<std::chrono::milliseconds> parse_duration_json(std::string_view s) noexcept {
    if (s.size() < 2 || s.back() != 's') return std::nullopt;
    s.remove_suffix(1);
    double d = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec != std::errc{} || p != s.data() + s.size() || d < 0 || d > 1e9) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(d * 1000.0 + 0.5));
}

// What a Google error body says: {"error":{"code","message","status","details":[...]}}.
struct error_fields {
    std::string_view status;
    std::string_view message;
    std::optional<std::int64_t> code;
    std::string_view reason;  // google.rpc.ErrorInfo.reason
    std::optional<std::chrono::milliseconds> retry_delay;
};

error_fields read_error(json::value const& err) {
    error_fields f;
    if (auto const* s = err.if_string()) {
        f.message = {s->data(), s->size()};
        return f;
    }
    auto const* o = err.if_object();
    if (!o) return f;
    f.status = get_string(*o, "status");
    f.message = get_string(*o, "message");
    if (auto const* c = o->if_contains("code")) {
        if (auto const* i = c->if_int64())
            f.code = *i;
        else if (auto const* u = c->if_uint64(); u && *u <= 0xffff)
            f.code = static_cast<std::int64_t>(*u);
    }
    if (auto const* dv = o->if_contains("details"); dv && dv->is_array()) {
        for (auto const& d : dv->get_array()) {
            auto const* dobj = d.if_object();
            if (!dobj) continue;
            std::string_view const type = get_string(*dobj, "@type");
            if (type.ends_with("google.rpc.ErrorInfo")) {
                if (f.reason.empty()) f.reason = get_string(*dobj, "reason");
            } else if (type.ends_with("google.rpc.RetryInfo")) {
                f.retry_delay = parse_duration_json(get_string(*dobj, "retryDelay"));
            }
        }
    }
    return f;
}

// The error of a canonical status (google.rpc.Code); empty for unknown names.
std::optional<error> error_from_status(std::string_view s) noexcept {
    if (s == "INVALID_ARGUMENT" || s == "FAILED_PRECONDITION" || s == "OUT_OF_RANGE" ||
        s == "ALREADY_EXISTS" || s == "UNIMPLEMENTED")
        return error::bad_request;
    if (s == "UNAUTHENTICATED") return error::auth_failed;
    if (s == "PERMISSION_DENIED") return error::permission_denied;
    if (s == "NOT_FOUND") return error::not_found;
    if (s == "RESOURCE_EXHAUSTED") return error::rate_limited;
    if (s == "UNAVAILABLE") return error::overloaded;
    if (s == "DEADLINE_EXCEEDED") return error::timeout;
    if (s == "INTERNAL" || s == "UNKNOWN" || s == "DATA_LOSS" || s == "CANCELLED" ||
        s == "ABORTED")
        return error::server_error;
    return std::nullopt;
}

bool is_auth_reason(std::string_view r) noexcept {
    return r == "API_KEY_INVALID" || r == "API_KEY_EXPIRED" || r == "ACCESS_TOKEN_EXPIRED" ||
           r == "ACCESS_TOKEN_TYPE_UNSUPPORTED" || r == "CREDENTIALS_MISSING" ||
           r == "ACCOUNT_STATE_INVALID";
}

// Fills `f` from what Google said. `status` is the HTTP status of a non-2xx response, or 0 for
// an error inside a 2xx body or a stream.
void classify(failure& f, error_fields const& e, unsigned status) {
    error code = status >= 300 ? status_to_error(status) : error::server_error;
    if (auto c = error_from_status(e.status))
        code = *c;
    else if (status < 300 && e.code && *e.code >= 400 && *e.code <= 599)
        code = status_to_error(static_cast<unsigned>(*e.code));
    bool const http_402 = status == 402 || (status < 300 && e.code == 402);

    if (is_auth_reason(e.reason) || icontains(e.message, "API key not valid") ||
        icontains(e.message, "API key expired") || icontains(e.message, "unregistered callers"))
        code = error::auth_failed;
    else if (code == error::rate_limited && (http_402 || icontains(e.message, "credits are depleted")))
        code = error::payment_required;  // prepaid credit gone (newer Gemini API docs)
    else if (e.status == "FAILED_PRECONDITION" && icontains(e.message, "billing"))
        code = error::payment_required;  // "free tier is not available ... enable billing"
    else if (code == error::bad_request && mentions_context_length(e.message))
        code = error::context_length_exceeded;
    f.code = make_error_code(code);
    f.diag.error_type = std::string(e.status);
    f.diag.error_code = std::string(e.reason);
    if (!e.message.empty()) provider_message(f, std::string(e.message));
    if (!f.diag.retry_after && e.retry_delay) f.diag.retry_after = e.retry_delay;
}

// The error object of a body: {"error":{...}}, or the array-wrapped [{"error":{...}}] that the
// array (non-SSE) streaming form and some proxies send. Null when there is none.
json::value const* find_error(json::value const& v) noexcept {
    json::value const* e = nullptr;
    if (auto const* o = v.if_object())
        e = o->if_contains("error");
    else if (auto const* a = v.if_array(); a && !a->empty() && (*a)[0].is_object())
        e = (*a)[0].get_object().if_contains("error");
    return e && !e->is_null() ? e : nullptr;
}

std::string_view request_id_header(response_head const& head) {
    // Google documents no request id header; proxies in front of it often add x-request-id.
    return head.header("x-request-id");
}

failure decode_error_body(response_head const& head, std::string_view body) {
    failure f = http_failure(head, "x-request-id");
    std::string_view const text = trim(body);
    if (text.empty()) {
        f.diag.message = "HTTP " + std::to_string(head.status) + " with an empty body";
        return f;
    }
    json::monotonic_resource mr;
    boost::system::error_code ec;
    json::value const v = detail::parse_json(text, ec, &mr);
    error_fields e;
    if (!ec)
        if (auto const* err = find_error(v)) e = read_error(*err);
    classify(f, e, head.status);
    if (f.diag.message.empty()) {
        f.diag.message = body_excerpt(text);
        f.diag.source = message_source::internal;
    }
    return f;
}

// ---------------------------------------------------------------------------------------------
// Decoding

// The unified value of a Gemini finishReason (the table is shared with the server side).
finish_reason map_finish(std::string_view s, bool has_calls, bool& fails) noexcept {
    return gemini::finish_from_name(s, has_calls, fails);
}

failure finish_failure(std::string_view native, std::string_view message) {
    std::string msg = "the model's answer failed with finishReason '" + std::string(native) + "'";
    if (!message.empty()) msg += " (" + excerpt(message, 200) + ")";
    msg += "; retrying may succeed"sv;
    failure f(error::server_error, std::move(msg));
    f.diag.error_code = std::string(native);
    return f;
}

failure blocked_failure(json::object const& feedback) {
    std::string_view const reason = get_string(feedback, "blockReason");
    std::string msg = "the prompt was blocked (blockReason '" + std::string(reason) + "')";
    if (auto m = get_string(feedback, "blockReasonMessage"); !m.empty())
        msg += ": " + excerpt(m, 200);
    failure f(error::content_filtered, std::move(msg));
    f.diag.error_code = std::string(reason);
    return f;
}

usage read_usage(json::object const& u) {
    usage r;
    token_count const prompt = get_count(u, "promptTokenCount");
    token_count const tool_prompt = get_count(u, "toolUsePromptTokenCount");
    token_count const candidates = get_count(u, "candidatesTokenCount");
    token_count const thoughts = get_count(u, "thoughtsTokenCount");
    token_count const total = get_count(u, "totalTokenCount");
    // Tool-use prompt tokens (code execution, grounding) are billed as input.
    if (prompt) r.input_tokens = *prompt + tool_prompt.value_or(0);
    if (candidates)
        r.output_tokens = *candidates + thoughts.value_or(0);
    else if (total && r.input_tokens && *total >= *r.input_tokens)
        // Gemini leaves candidatesTokenCount out when nothing was generated (yet); the total
        // counts prompt, tool-use prompt, thoughts and candidates, so the rest is the output.
        r.output_tokens = *total - *r.input_tokens;
    r.total_tokens = total;
    r.reasoning_tokens = thoughts;
    r.cached_input_tokens = get_count(u, "cachedContentTokenCount");
    return r;
}

// The candidate with index 0 (only it maps to the unified types), or the first one.
json::object const* first_candidate(json::array const& cs) noexcept {
    for (auto const& c : cs) {
        auto const* o = c.if_object();
        if (!o) continue;
        auto const* idx = o->if_contains("index");
        if (!idx || (idx->is_int64() && idx->get_int64() == 0) ||
            (idx->is_uint64() && idx->get_uint64() == 0))
            return o;
    }
    return cs.empty() ? nullptr : cs[0].if_object();
}

// What the parts of one candidate say. `next_call` numbers the function calls without an id.
struct parts_reader {
    std::size_t next_call = 0;

    // Returns a failure naming the bad field (`where` is the parts' path).
    template <class OnCall>
    result<void> read(json::object const& candidate, std::string_view where, std::string& text,
                      std::string& reasoning, OnCall&& on_call) {
        auto const* content = get_object(candidate, "content");
        if (!content) return {};  // a candidate stopped by a filter may have no content
        auto const* pv = content->if_contains("parts");
        if (!pv || pv->is_null()) return {};
        auto const* parts = pv->if_array();
        if (!parts) return bad_field(std::string(where), "is not an array");
        for (std::size_t k = 0; k < parts->size(); ++k) {
            auto const* part = (*parts)[k].if_object();
            if (!part) continue;
            if (auto const* t = part->if_contains("text")) {
                auto const* s = t->if_string();
                if (!s)
                    return bad_field(std::string(where) + "[" + std::to_string(k) + "].text",
                                     "is not a string");
                (is_true(part->if_contains("thought")) ? reasoning : text)
                    .append(s->data(), s->size());
            }
            if (auto const* fc = get_object(*part, "functionCall")) {
                std::string_view const name = get_string(*fc, "name");
                if (name.empty())
                    return bad_field(std::string(where) + "[" + std::to_string(k) +
                                         "].functionCall.name",
                                     "is missing");
                tool_call call;
                call.name = name;
                call.id = get_string(*fc, "id");
                call.signature = get_string(*part, "thoughtSignature");
                std::size_t const index = next_call++;
                if (call.id.empty()) call.id = "call_" + std::to_string(index);
                auto const* args = fc->if_contains("args");
                call.arguments = args && !args->is_null() ? to_json(*args) : "{}";
                on_call(index, std::move(call));
            }
        }
        return {};
    }
};

result<chat_response> decode_body(response_head const& head, std::string_view body) {
    std::string const header_id(request_id_header(head));
    auto const fail = [&](failure f) {
        f.diag.http_status = head.status;
        if (f.diag.request_id.empty()) f.diag.request_id = header_id;
        return f;
    };
    json::monotonic_resource mr;
    auto parsed = parse_body(body, mr);
    if (!parsed) return fail(parsed.error());
    json::value const v = std::move(*parsed);
    if (auto const* e = find_error(v)) {
        failure f;
        classify(f, read_error(*e), 0);
        if (f.diag.message.empty()) {
            f.diag.message = body_excerpt(body);
            f.diag.source = message_source::internal;
        }
        return fail(std::move(f));
    }
    auto const* o = v.if_object();
    if (!o)
        return fail(internal(failure(error::protocol_error,
                                     "response body is not a JSON object: " + body_excerpt(body))));
    std::string_view const response_id = get_string(*o, "responseId");
    auto const with_id = [&](failure f) {
        if (header_id.empty()) f.diag.request_id = response_id;
        return fail(std::move(f));
    };

    auto const* cv = o->if_contains("candidates");
    if (cv && !cv->is_null() && !cv->is_array())
        return with_id(bad_field("candidates", "is not an array"));
    auto const* candidates = cv ? cv->if_array() : nullptr;
    if (!candidates || candidates->empty()) {
        if (auto const* pf = get_object(*o, "promptFeedback"))
            if (!get_string(*pf, "blockReason").empty()) return with_id(blocked_failure(*pf));
        return with_id(bad_field("candidates", "is missing or empty"));
    }
    auto const* candidate = first_candidate(*candidates);
    if (!candidate) return with_id(bad_field("candidates[0]", "is not an object"));

    chat_response r;
    r.id = response_id;
    r.model = get_string(*o, "modelVersion");
    r.request_id = header_id.empty() ? std::string(response_id) : header_id;

    parts_reader reader;
    auto ok = reader.read(*candidate, "candidates[0].content.parts", r.content, r.reasoning,
                          [&](std::size_t, tool_call call) { r.tool_calls.push_back(std::move(call)); });
    if (!ok) return with_id(ok.error());

    std::string_view const native = get_string(*candidate, "finishReason");
    bool fails = false;
    r.finish_reason = map_finish(native, !r.tool_calls.empty(), fails);
    r.native_finish_reason = native;
    if (fails) return with_id(finish_failure(native, get_string(*candidate, "finishMessage")));
    if (auto const* u = get_object(*o, "usageMetadata")) r.usage = read_usage(*u);
    return r;
}

// ---------------------------------------------------------------------------------------------
// Streaming

class gemini_stream_decoder final : public stream_decoder {
public:
    result<void> feed(std::string_view bytes, std::vector<chat_chunk>& out) override {
        return feed_sse(sse_, bytes, failed_,
                        [&](sse_event const& ev) { on_event(ev.data, out); });
    }

    result<void> finish(std::vector<chat_chunk>& out) override {
        if (failed_) return *failed_;
        // Gemini closes the stream after its last event; an event that lost its closing blank
        // line is still whole when its JSON is.
        bool const partial = sse_.has_partial_event();
        bool cut = false;
        if (partial) {
            std::string data;
            bool got = false;
            sse_.flush([&](sse_event const& ev) {
                data = ev.data;
                got = true;
            });
            if (got && !trim(data).empty()) {
                boost::system::error_code ec;
                json::monotonic_resource mr;
                json::value const v = detail::parse_json(trim(data), ec, &mr);
                if (ec)
                    cut = true;
                else
                    on_json(v, data, out);
            } else if (!got) {
                cut = true;
            }
        }
        if (failed_) return *failed_;
        if (finish_seen_) return {};
        std::string msg = "the stream ended before a finishReason arrived (Gemini streams have "
                          "no end marker: the last chunk carries the finishReason); " +
                          std::to_string(events_) + " event(s) arrived";
        if (cut) msg += "; it was cut in the middle of an event"sv;
        failed_ = failure(error::truncated, std::move(msg));
        return *failed_;
    }

    stream_info const& info() const noexcept override { return info_; }

private:
    void on_event(std::string_view raw, std::vector<chat_chunk>& out) {
        std::string_view const data = trim(raw);
        if (data.empty()) return;
        // One parse per event, into a reused arena: no heap allocation for typical chunks.
        json_.reset();
        mr_.release();
        json_.reset(&mr_);
        boost::system::error_code ec;
        json_.write(data.data(), data.size(), ec);
        if (ec) {
            json_.reset();
            failed_ = failure(error::protocol_error, "a stream event is not valid JSON (" +
                                                         ec.message() + "): " + excerpt(data, 120));
            return;
        }
        json::value const v = json_.release();
        on_json(v, data, out);
    }

    void on_json(json::value const& v, std::string_view data, std::vector<chat_chunk>& out) {
        ++events_;
        if (auto const* e = find_error(v)) {
            failure f;
            classify(f, read_error(*e), 0);
            if (f.diag.message.empty()) f.diag.message = "an error event without a message";
            f.diag.request_id = info_.request_id;
            failed_ = std::move(f);
            return;
        }
        auto const* o = v.if_object();
        if (!o) {
            failed_ = failure(error::protocol_error,
                              "a stream event is not a JSON object: " + excerpt(data, 120));
            return;
        }
        if (info_.id.empty()) {
            info_.id = get_string(*o, "responseId");
            info_.request_id = info_.id;
        }
        if (info_.model.empty()) info_.model = get_string(*o, "modelVersion");

        chat_chunk c;
        bool finished_here = false;
        auto const* cv = o->if_contains("candidates");
        auto const* candidates = cv ? cv->if_array() : nullptr;
        if (!finish_seen_ && candidates && !candidates->empty()) {
            if (auto const* cand = first_candidate(*candidates)) {
                auto ok = reader_.read(*cand, "candidates[0].content.parts", c.text, c.reasoning,
                                       [&](std::size_t index, tool_call call) {
                                           tool_call_delta& d = c.tool_calls.emplace_back();
                                           d.index = index;
                                           d.id = std::move(call.id);
                                           d.name = std::move(call.name);
                                           d.arguments = std::move(call.arguments);
                                           d.signature = std::move(call.signature);
                                       });
                if (!ok) {
                    failed_ = ok.error();
                    return;
                }
                if (std::string_view const fr = get_string(*cand, "finishReason"); !fr.empty()) {
                    bool fails = false;
                    c.finish_reason = map_finish(fr, reader_.next_call > 0, fails);
                    info_.native_finish_reason = fr;
                    if (fails) {
                        auto f = finish_failure(fr, get_string(*cand, "finishMessage"));
                        f.diag.request_id = info_.request_id;
                        failed_ = std::move(f);
                        return;
                    }
                    finished_here = true;
                }
            }
        } else if (!finish_seen_ && (!candidates || candidates->empty())) {
            if (auto const* pf = get_object(*o, "promptFeedback"))
                if (!get_string(*pf, "blockReason").empty()) {
                    auto f = blocked_failure(*pf);
                    f.diag.request_id = info_.request_id;
                    failed_ = std::move(f);
                    return;
                }
        }
        // Every chunk may carry usageMetadata, growing as the answer does: the last one is the
        // total. It is handed on with the finish reason, and again if a later event updates it.
        bool const has_usage = o->contains("usageMetadata");
        if (auto const* u = get_object(*o, "usageMetadata")) usage_ = read_usage(*u);
        if (finished_here || (finish_seen_ && has_usage)) c.usage = usage_;
        if (finished_here) finish_seen_ = true;
        if (c.has_content() || c.finish_reason || c.usage) out.push_back(std::move(c));
    }

    sse_parser sse_;
    stream_info info_;
    // The arena must outlive the parser, which holds a (non-owning) pointer to it.
    alignas(std::max_align_t) unsigned char arena_[8192];
    json::monotonic_resource mr_{arena_, sizeof arena_};
    json_reader json_;
    parts_reader reader_;
    std::optional<usage> usage_;
    std::optional<failure> failed_;
    std::size_t events_ = 0;
    bool finish_seen_ = false;
};

// ---------------------------------------------------------------------------------------------

class gemini_client final : public wire_format {
public:
    std::string_view name() const noexcept override { return "gemini"; }

    result<http_request> encode(chat_request const& req, encode_context const& ctx) const override {
        if (req.messages.empty()) return invalid("the request has no messages");
        if (!req.user.empty())
            return failure(error::unsupported,
                           "'user': the Gemini API has no end-user id field; leave it empty (on "
                           "Vertex AI, billing labels can be set with extra {\"labels\":{...}})");
        bool const vertex = is_vertex(ctx.provider);

        http_request out;
        out.target = vertex ? "/publishers/google/models/" : "/models/";
        out.target += uri_encode(ctx.model, true);
        out.target += ctx.stream ? ":streamGenerateContent?alt=sse"sv : ":generateContent"sv;
        out.set_header("Content-Type", "application/json");
        out.set_header("Accept", ctx.stream ? "text/event-stream" : "application/json");
        // Credentials (x-goog-api-key, or a Bearer token on Vertex) are added by the client.

        json::monotonic_resource mr;
        json::storage_ptr sp(&mr);
        json::object body(sp);

        request_encoder enc(sp, vertex);
        enc.add_system_text(req.system);
        for (std::size_t i = 0; i < req.messages.size(); ++i)
            if (auto ok = enc.add(req.messages[i], i); !ok) return ok.error();
        json::array contents = enc.take_contents();
        if (contents.empty())
            return invalid("the request has only system messages; Gemini needs a user turn");
        json::array system = enc.take_system();
        if (!system.empty()) {
            json::object si(sp);
            si.emplace("parts", std::move(system));
            body.emplace("systemInstruction", std::move(si));
        }
        body.emplace("contents", std::move(contents));

        if (!req.tools.empty()) {
            json::array decls(sp);
            for (std::size_t i = 0; i < req.tools.size(); ++i) {
                auto const& t = req.tools[i];
                if (auto ok = check_tool_name(t, i); !ok) return ok.error();
                json::object fn(sp);
                fn.emplace("name", t.name);
                if (!t.description.empty()) fn.emplace("description", t.description);
                // An empty schema is left out: a function without parameters.
                if (!t.parameters.empty())
                    fn.emplace("parametersJsonSchema", json::object(t.parameters, sp));
                decls.emplace_back(std::move(fn));
            }
            json::object tool(sp);
            tool.emplace("functionDeclarations", std::move(decls));
            json::array tools(sp);
            tools.emplace_back(std::move(tool));
            body.emplace("tools", std::move(tools));
        }
        if (auto ok = check_tool_choice(req); !ok) return ok.error();
        if (req.tool_choice) {
            auto const& tc = *req.tool_choice;
            json::object fcc(sp);
            switch (tc.how) {
            case tool_choice::mode::automatic:
                if (!req.tools.empty()) fcc.emplace("mode", "AUTO");
                break;
            case tool_choice::mode::none:
                if (!req.tools.empty()) fcc.emplace("mode", "NONE");
                break;
            case tool_choice::mode::required:
                fcc.emplace("mode", "ANY");
                break;
            case tool_choice::mode::named: {
                fcc.emplace("mode", "ANY");
                json::array names(sp);
                names.emplace_back(json::string(tc.name, sp));
                fcc.emplace("allowedFunctionNames", std::move(names));
                break;
            }
            }
            if (!fcc.empty()) {
                json::object tcfg(sp);
                tcfg.emplace("functionCallingConfig", std::move(fcc));
                body.emplace("toolConfig", std::move(tcfg));
            }
        }

        json::object gc(sp);
        if (req.temperature) gc.emplace("temperature", *req.temperature);
        if (req.top_p) gc.emplace("topP", *req.top_p);
        if (req.max_tokens) gc.emplace("maxOutputTokens", *req.max_tokens);
        if (!req.stop.empty()) {
            json::array stop(sp);
            for (auto const& s : req.stop)
                stop.emplace_back(json::string(s, sp));
            gc.emplace("stopSequences", std::move(stop));
        }
        if (req.seed) gc.emplace("seed", *req.seed);
        if (req.reasoning) {
            auto tc = thinking_config(*req.reasoning, ctx.model, sp);
            if (!tc) return tc.error();
            if (!tc->empty()) gc.emplace("thinkingConfig", std::move(*tc));
        }
        if (req.response_format) {
            auto const& rf = *req.response_format;
            if (rf.type == response_format::kind::json_object) {
                gc.emplace("responseMimeType", "application/json");
            } else if (rf.type == response_format::kind::json_schema) {
                // The schema's name and `strict` have no Gemini field: the schema is always
                // enforced.
                gc.emplace("responseMimeType", "application/json");
                gc.emplace("responseJsonSchema", json::object(rf.schema, sp));
            }
        }
        if (!gc.empty()) body.emplace("generationConfig", std::move(gc));

        merge_extra(body, req.extra);
        out.body = to_json(body);
        return out;
    }

    result<chat_response> decode(response_head const& head, std::string_view body) const override {
        return decode_body(head, body);
    }

    failure decode_error(response_head const& head, std::string_view body) const override {
        return decode_error_body(head, body);
    }

    std::unique_ptr<stream_decoder> make_stream_decoder() const override {
        return std::make_unique<gemini_stream_decoder>();
    }
};

}  // namespace

wire_format const& gemini_format() {
    static gemini_client const instance;
    return instance;
}

}  // namespace llmux::detail
