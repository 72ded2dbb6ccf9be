// SPDX-License-Identifier: BSL-1.0
// OpenAI chat completions (PROVIDERS.md sections 1, 2 and 7), spoken by OpenAI itself and by the
// OpenAI-compatible endpoints: OpenRouter, DeepSeek, ZenMux, Azure OpenAI, Groq, Together, vLLM,
// Ollama. Sans-io: every function here works from bytes alone.
//
// Reasoning, caching and documents (PROVIDERS-2.md 3.1, 3.6, 3.7, 4.4, 4.5, 5) differ by dialect:
// - OpenAI and the others: `reasoning_effort` (a budget alone sends its nearest effort);
//   `include_text` true is `unsupported` (Chat Completions returns no reasoning text: use the
//   `openai-responses` format); effort `none` is sent only to reasoning models (gpt-5, o-series),
//   the others do not reason anyway. Cache breakpoints are not sent (OpenAI caches prefixes by
//   itself); `prompt_cache_key` is.
// - OpenRouter (provider `openrouter`, or option `"dialect": "openrouter"`): `reasoning` with
//   `effort` or `max_tokens` and `exclude`; reasoning parts go back as `reasoning_details` in
//   OpenRouter's formats, and come from them; `cache_control` on text parts (content sent as
//   parts when one has a breakpoint).
// - DeepSeek (provider `deepseek`, or `"dialect": "deepseek"`): `thinking` enabled/disabled and
//   `reasoning_effort` low/high/max; an assistant turn with tool calls sends its
//   `reasoning_content` back (DeepSeek requires it), `""` when it had none.
// - Documents are `file` parts with `file_data` (a data: URI) and `filename`; a URL is
//   `unsupported` (Chat Completions takes only file data or OpenAI file ids).
#include "codec/sse.hpp"
#include "util/json_read.hpp"
#include "util/json_text.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/openai_chat.hpp"
#include "wire/openai_chat_scan.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace llmux::detail {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string_view as_view(json::string const& s) noexcept {
    return {s.data(), s.size()};
}

using openai::is_base64_data_uri;
using openai::request_id_of;
using openai::valid_image_url;

// ---------------------------------------------------------------------------------------------
// Encoding

failure invalid(std::string message) {
    return failure(error::invalid_request, std::move(message));
}

// The text parts of a message joined: a view of the part itself when there is only one (the
// common case), else joined into `buf`.
std::string_view joined_text(message const& m, std::string& buf) {
    std::string_view first;
    std::size_t n = 0;
    for (auto const& p : m.content) {
        auto const* t = std::get_if<text_part>(&p);
        if (!t) continue;
        if (n++ == 0) {
            first = t->text;
        } else {
            if (n == 2) buf.assign(first);
            buf += t->text;
        }
    }
    return n <= 1 ? first : std::string_view(buf);
}

class request_encoder {
public:
    request_encoder(json::storage_ptr sp, openai::dialect d)
        : sp_(std::move(sp)), messages_(sp_), dialect_(d) {}

    json::array take_messages() { return std::move(messages_); }

    void add_system(std::string_view text, std::optional<cache_control> const& cache = {}) {
        json::object m(sp_);
        m.emplace("role", "system");
        if (cache && dialect_ == openai::dialect::openrouter) {
            // OpenRouter's breakpoint is a text part's field.
            json::object part(sp_);
            part.emplace("type", "text");
            part.emplace("text", text);
            part.emplace("cache_control", ephemeral_cache_control(*cache, sp_));
            json::array parts(sp_);
            parts.emplace_back(std::move(part));
            m.emplace("content", std::move(parts));
        } else {
            m.emplace("content", text);
        }
        messages_.emplace_back(std::move(m));
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
    result<void> add_system_message(message const& m, std::size_t i) {
        for (std::size_t j = 0; j < m.content.size(); ++j)
            if (!std::holds_alternative<text_part>(m.content[j]))
                return failure(error::unsupported,
                               at_part(i, j) + ": a system message may only hold text");
        std::string buf;
        std::optional<cache_control> cache;
        for (auto const& p : m.content)
            if (auto const* t = std::get_if<text_part>(&p); t && t->cache) cache = t->cache;
        add_system(joined_text(m, buf), cache);
        return {};
    }

    result<void> add_tool_result(tool_result const& r, std::size_t i, std::size_t j) {
        if (r.tool_call_id.empty())
            return invalid(at_part(i, j) + ": a tool result needs a tool_call_id");
        // OpenAI has no is_error flag: the content itself must say that the tool failed.
        json::object t(sp_);
        t.emplace("role", "tool");
        t.emplace("tool_call_id", r.tool_call_id);
        t.emplace("content", r.content);
        messages_.emplace_back(std::move(t));
        return {};
    }

    result<void> add_user(message const& m, std::size_t i) {
        bool has_image = false;
        bool has_text = false;
        bool has_result = false;
        // Tool results go first, as separate tool messages: OpenAI wants the tool messages
        // right after the assistant message whose tool_calls they answer.
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (auto const* r = std::get_if<tool_result>(&p)) {
                has_result = true;
                if (auto ok = add_tool_result(*r, i, j); !ok) return ok;
            } else if (auto const* img = std::get_if<image_part>(&p)) {
                if (!valid_image_url(img->url))
                    return invalid(at_part(i, j) + ": an image URL must be https://, http:// or a "
                                                   "data:<media type>;base64, URI");
                has_image = true;
            } else if (auto const* d = std::get_if<document_part>(&p)) {
                if (!is_base64_data_uri(d->url))
                    return failure(error::unsupported,
                                   at_part(i, j) + ": OpenAI's Chat Completions take a document "
                                                   "as file data (a data:<media type>;base64, "
                                                   "URI), not a URL");
                has_image = true;  // sent as parts
            } else if (std::holds_alternative<tool_call>(p)) {
                return invalid(at_part(i, j) + ": a tool call belongs in an assistant message");
            } else if (std::holds_alternative<reasoning_part>(p)) {
                return invalid(at_part(i, j) + ": reasoning belongs in an assistant message");
            } else {
                has_text = true;
                if (auto const* t = std::get_if<text_part>(&p);
                    t && t->cache && dialect_ == openai::dialect::openrouter)
                    has_image = true;  // a breakpoint is a part's field
            }
        }
        if (has_result && !has_text && !has_image) return {};

        json::object u(sp_);
        u.emplace("role", "user");
        if (!has_image) {
            std::string buf;
            u.emplace("content", joined_text(m, buf));
        } else {
            json::array parts(sp_);
            for (auto const& p : m.content) {
                if (auto const* t = std::get_if<text_part>(&p)) {
                    json::object o(sp_);
                    o.emplace("type", "text");
                    o.emplace("text", t->text);
                    if (t->cache && dialect_ == openai::dialect::openrouter)
                        o.emplace("cache_control", ephemeral_cache_control(*t->cache, sp_));
                    parts.emplace_back(std::move(o));
                } else if (auto const* d = std::get_if<document_part>(&p)) {
                    json::object f(sp_);
                    if (!d->name.empty()) f.emplace("filename", d->name);
                    f.emplace("file_data", d->url);
                    json::object o(sp_);
                    o.emplace("type", "file");
                    o.emplace("file", std::move(f));
                    parts.emplace_back(std::move(o));
                } else if (auto const* img = std::get_if<image_part>(&p)) {
                    json::object url(sp_);
                    url.emplace("url", img->url);
                    if (!img->detail.empty()) url.emplace("detail", img->detail);
                    json::object o(sp_);
                    o.emplace("type", "image_url");
                    o.emplace("image_url", std::move(url));
                    parts.emplace_back(std::move(o));
                }
            }
            u.emplace("content", std::move(parts));
        }
        messages_.emplace_back(std::move(u));
        return {};
    }

    result<void> add_assistant(message const& m, std::size_t i) {
        json::array calls(sp_);
        json::array details(sp_);
        std::string reasoning_content;
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (std::holds_alternative<text_part>(p)) {
                continue;
            } else if (auto const* r = std::get_if<reasoning_part>(&p)) {
                if (dialect_ == openai::dialect::deepseek && r->origin == "deepseek")
                    reasoning_content += r->text;
                else if (dialect_ == openai::dialect::openrouter)
                    if (auto d = openai::reasoning_detail(*r, details.size(), sp_))
                        details.emplace_back(std::move(*d));
                continue;
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                if (c->id.empty()) return invalid(at_part(i, j) + ": a tool call needs an id");
                if (c->name.empty()) return invalid(at_part(i, j) + ": a tool call needs a name");
                json::object fn(sp_);
                fn.emplace("name", c->name);
                // `arguments` is required JSON text; an empty string is not valid JSON.
                fn.emplace("arguments",
                           c->arguments.empty() ? "{}"sv : std::string_view(c->arguments));
                json::object call(sp_);
                call.emplace("id", c->id);
                call.emplace("type", "function");
                call.emplace("function", std::move(fn));
                calls.emplace_back(std::move(call));
                if (!c->signature.empty() && dialect_ == openai::dialect::openrouter) {
                    // Gemini's signature of this call, as OpenRouter carries it.
                    reasoning_part sig;
                    sig.type = reasoning_part::kind::redacted;
                    sig.data = c->signature;
                    sig.id = c->id;
                    sig.origin = "google";
                    if (auto d = openai::reasoning_detail(sig, details.size(), sp_))
                        details.emplace_back(std::move(*d));
                }
            } else if (std::holds_alternative<image_part>(p)) {
                return failure(error::unsupported,
                               at_part(i, j) + ": assistant messages cannot hold images");
            } else {
                return invalid(at_part(i, j) + ": a tool result belongs in a tool or user message");
            }
        }
        std::string buf;
        std::string_view const text = joined_text(m, buf);
        json::object a(sp_);
        a.emplace("role", "assistant");
        if (!text.empty() || calls.empty())
            a.emplace("content", text);
        else
            a.emplace("content", nullptr);
        if (dialect_ == openai::dialect::deepseek && (!calls.empty() || !reasoning_content.empty()))
            a.emplace("reasoning_content", reasoning_content);
        if (!details.empty()) a.emplace("reasoning_details", std::move(details));
        if (!calls.empty()) a.emplace("tool_calls", std::move(calls));
        messages_.emplace_back(std::move(a));
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
    json::array messages_;
    openai::dialect dialect_;
};

}  // namespace

bool openai::is_base64_data_uri(std::string_view uri) noexcept {
    std::string_view media, data;
    return parse_data_uri(uri, media, data);
}

bool openai::valid_image_url(std::string_view url) noexcept {
    if (istarts_with(url, "https://")) return url.size() > 8;
    if (istarts_with(url, "http://")) return url.size() > 7;
    return is_base64_data_uri(url);
}

bool openai::reasoning_model(std::string_view model) noexcept {
    auto const slash = model.rfind('/');
    if (slash != std::string_view::npos) model.remove_prefix(slash + 1);
    return model.starts_with("gpt-5") || model.starts_with("o1") || model.starts_with("o3") ||
           model.starts_with("o4");
}

namespace {

/// The request's reasoning controls in `d`'s fields.
result<void> encode_reasoning(chat_request const& req, std::string_view model, openai::dialect d,
                              bool openai_itself, json::object& body, json::storage_ptr const& sp) {
    if (!req.reasoning) return {};
    auto const& r = *req.reasoning;
    switch (d) {
    case openai::dialect::openrouter: {
        json::object o(sp);
        if (r.budget_tokens)
            o.emplace("max_tokens", *r.budget_tokens);
        else if (r.effort)
            o.emplace("effort", to_string(*r.effort));
        if (r.include_text) o.emplace("exclude", !*r.include_text);
        if (!o.empty()) body.emplace("reasoning", std::move(o));
        return {};
    }
    case openai::dialect::deepseek: {
        json::object t(sp);
        t.emplace("type", reasoning_off(req.reasoning) ? "disabled" : "enabled");
        body.emplace("thinking", std::move(t));
        if (reasoning_on(req.reasoning)) {
            auto const e = r.effort ? *r.effort : effort_for_budget(*r.budget_tokens);
            // DeepSeek's levels: low, high, max (PROVIDERS-2.md 3.6).
            char const* level = e == reasoning_effort::max ? "max"
                                : (e == reasoning_effort::minimal || e == reasoning_effort::low)
                                    ? "low"
                                    : "high";
            body.emplace("reasoning_effort", level);
        }
        if (r.include_text && !*r.include_text)
            return failure(error::unsupported, "reasoning.include_text: DeepSeek always returns "
                                               "its reasoning_content");
        return {};
    }
    case openai::dialect::openai:
        break;
    }
    if (r.include_text && *r.include_text)
        return failure(error::unsupported,
                       "reasoning.include_text: OpenAI's Chat Completions return no reasoning "
                       "text; use the Responses API (wire \"openai-responses\")");
    std::optional<reasoning_effort> e = r.effort;
    if (!e && r.budget_tokens) e = effort_for_budget(*r.budget_tokens);
    if (!e) return {};
    bool const reasons = openai::reasoning_model(model);
    if (*e == reasoning_effort::none && !reasons) return {};
    if (!reasons && openai_itself)
        return failure(error::unsupported,
                       "reasoning: " + std::string(model) +
                           " does not reason (OpenAI's reasoning models are gpt-5 and the "
                           "o-series)");
    body.emplace("reasoning_effort", to_string(*e));
    return {};
}

std::string_view max_tokens_field(provider_config const& p) noexcept {
    if (auto const* v = p.options.if_contains("max_tokens_field"))
        if (auto const* s = v->if_string(); s && !s->empty()) return as_view(*s);
    // max_tokens is deprecated at OpenAI (and rejected by o-series models); compatible servers
    // mostly know only max_tokens.
    if (p.name == "openai" || p.name == "azure") return "max_completion_tokens";
    return "max_tokens";
}

// ---------------------------------------------------------------------------------------------
// Errors

// The error an error type or code names, for errors that arrive without a meaningful HTTP
// status (inside a 2xx body or a stream).
std::optional<error> error_from_name(std::string_view n) noexcept {
    if (n.empty()) return std::nullopt;
    if (n == "server_error" || n == "internal_error" || n == "internal_server_error" ||
        n == "api_error")
        return error::server_error;
    if (n == "rate_limit_exceeded" || n == "rate_limit_error" || n == "tokens" || n == "requests")
        return error::rate_limited;
    if (n == "overloaded" || n == "overloaded_error" || n == "service_unavailable" ||
        n == "insufficient_system_resource")
        return error::overloaded;
    if (n == "invalid_request_error" || n == "invalid_request" || n == "bad_request" ||
        n == "invalid_value")
        return error::bad_request;
    if (n == "authentication_error" || n == "invalid_api_key" || n == "unauthorized")
        return error::auth_failed;
    if (n == "permission_error" || n == "permission_denied") return error::permission_denied;
    if (n == "not_found" || n == "not_found_error" || n == "model_not_found")
        return error::not_found;
    if (n == "insufficient_quota" || n == "payment_required") return error::payment_required;
    if (n == "context_length_exceeded") return error::context_length_exceeded;
    if (n == "content_filter" || n == "content_policy_violation") return error::content_filtered;
    if (n == "timeout") return error::timeout;
    return std::nullopt;
}

// What an error body says, whatever its shape.
struct error_fields {
    std::string_view message;
    std::string_view type;
    std::string_view code;                 // a string `code`
    std::optional<std::int64_t> code_num;  // OpenRouter's numeric `code`
    std::string_view upstream;             // OpenRouter's metadata.raw
    std::string_view upstream_provider;    // OpenRouter's metadata.provider_name
    bool moderation = false;               // OpenRouter's 403 with metadata.reasons
};

error_fields read_error(json::value const& err) {
    error_fields f;
    if (auto const* s = err.if_string()) {  // Ollama and others: {"error":"model not found"}
        f.message = as_view(*s);
        return f;
    }
    auto const* o = err.if_object();
    if (!o) return f;
    f.message = get_string(*o, "message");
    f.type = get_string(*o, "type");
    if (auto const* c = o->if_contains("code")) {
        if (auto const* s = c->if_string())
            f.code = as_view(*s);
        else if (auto const* i = c->if_int64())
            f.code_num = *i;
        else if (auto const* u = c->if_uint64(); u && *u <= 0xffff)
            f.code_num = static_cast<std::int64_t>(*u);
    }
    if (f.type.empty()) f.type = get_string(*o, "status");  // Gemini's OpenAI layer
    if (auto const* md = get_object(*o, "metadata")) {
        f.upstream = get_string(*md, "raw");
        f.upstream_provider = get_string(*md, "provider_name");
        f.moderation = md->contains("reasons") || md->contains("flagged_input");
    }
    return f;
}

// Fills `f` from what the provider said. `status` is the HTTP status of a non-2xx response, or
// 0 for an error inside a 2xx body or a stream, where the type and code decide.
void classify(failure& f, error_fields const& e, unsigned status) {
    error code = status >= 300 ? status_to_error(status) : error::server_error;
    if (status < 300) {
        if (e.code_num && *e.code_num >= 400 && *e.code_num <= 599)
            code = status_to_error(static_cast<unsigned>(*e.code_num));
        else if (auto c = error_from_name(e.code))
            code = *c;
        else if (auto t = error_from_name(e.type))
            code = *t;
    }
    auto const is = [&](std::string_view n) { return e.code == n || e.type == n; };
    if (is("context_length_exceeded") ||
        (code != error::rate_limited &&
         (mentions_context_length(e.message) || mentions_context_length(e.upstream))))
        code = error::context_length_exceeded;
    else if (is("insufficient_quota"))
        code = error::payment_required;
    else if (is("content_filter") || is("content_policy_violation") ||
             (status == 403 && e.moderation))
        code = error::content_filtered;
    else if (is("invalid_api_key"))
        code = error::auth_failed;
    else if ((status == 500 || status == 503 || (status < 300 && code == error::server_error)) &&
             icontains(e.message, "overloaded"))
        code = error::overloaded;
    f.code = make_error_code(code);

    f.diag.error_type = std::string(e.type);
    if (!e.code.empty())
        f.diag.error_code = std::string(e.code);
    else if (e.code_num)
        f.diag.error_code = std::to_string(*e.code_num);
    std::string msg(e.message);
    if (!e.upstream.empty()) {
        // OpenRouter wraps an upstream failure as "Provider returned error"; the upstream's
        // own message is what says what went wrong.
        msg += msg.empty() ? ""sv : " "sv;
        msg += "(upstream"sv;
        if (!e.upstream_provider.empty()) msg.append(" "sv).append(e.upstream_provider);
        msg += ": " + excerpt(e.upstream, 300) + ")";
    }
    if (!msg.empty()) provider_message(f, std::move(msg));
}

// The error object of a body: OpenAI's and OpenRouter's {"error":{...}}, or Gemini's OpenAI
// layer's [{"error":{...}}]. Null when there is none.
json::value const* find_error(json::value const& v) noexcept {
    json::value const* e = nullptr;
    if (auto const* o = v.if_object())
        e = o->if_contains("error");
    else if (auto const* a = v.if_array(); a && !a->empty() && (*a)[0].is_object())
        e = (*a)[0].get_object().if_contains("error");
    return e && !e->is_null() ? e : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Decoding

finish_reason map_finish(std::string_view s, bool& fails) noexcept {
    return openai::finish_from_name(s, fails);
}

failure finish_failure(std::string_view native) {
    failure f(error::overloaded, "the provider ended the answer with finish_reason '" +
                                     std::string(native) + "'; retrying may succeed");
    f.diag.error_code = std::string(native);
    return f;
}

std::optional<double> get_number(json::object const& o, std::string_view key) noexcept {
    auto const* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (auto const* d = v->if_double()) return *d;
    if (auto const* i = v->if_int64()) return static_cast<double>(*i);
    if (auto const* u = v->if_uint64()) return static_cast<double>(*u);
    return std::nullopt;
}

usage read_usage(json::object const& u) {
    usage r;
    r.input_tokens = get_count(u, "prompt_tokens");
    r.output_tokens = get_count(u, "completion_tokens");
    r.total_tokens = get_count(u, "total_tokens");
    if (auto const* d = get_object(u, "prompt_tokens_details")) {
        r.cached_input_tokens = get_count(*d, "cached_tokens");
        r.cache_write_tokens = get_count(*d, "cache_write_tokens");  // OpenRouter
    }
    if (!r.cached_input_tokens) r.cached_input_tokens = get_count(u, "prompt_cache_hit_tokens");
    if (auto const* d = get_object(u, "completion_tokens_details"))
        r.reasoning_tokens = get_count(*d, "reasoning_tokens");
    r.reported_cost = get_number(u, "cost");  // OpenRouter, in credits (1 credit = 1 USD)
    return r;
}

// The usage of a response or chunk: `usage`, or Groq's `x_groq.usage` on its last chunk.
json::object const* find_usage(json::object const& o) noexcept {
    if (auto const* u = get_object(o, "usage")) return u;
    if (auto const* x = get_object(o, "x_groq")) return get_object(*x, "usage");
    return nullptr;
}

// Tool-call arguments: JSON text, though some compatible servers send an object.
void read_arguments(json::value const* v, std::string& out) {
    if (!v) return;
    if (auto const* s = v->if_string())
        out.assign(s->data(), s->size());
    else if (v->is_object())
        out = to_json(*v);
}

// The choice with index 0 (only it maps to the unified types), or the first one.
json::object const* first_choice(json::array const& choices) noexcept {
    for (auto const& c : choices) {
        auto const* o = c.if_object();
        if (!o) continue;
        auto const* idx = o->if_contains("index");
        if (!idx || (idx->is_int64() && idx->get_int64() == 0) ||
            (idx->is_uint64() && idx->get_uint64() == 0))
            return o;
    }
    return choices.empty() ? nullptr : choices[0].if_object();
}

// Appends content that is a string, or an array of text parts (some compatible servers).
// Returns false for any other non-null value.
bool append_content(json::value const* v, std::string& out) {
    if (!v || v->is_null()) return true;
    if (auto const* s = v->if_string()) {
        out.append(s->data(), s->size());
        return true;
    }
    if (auto const* a = v->if_array()) {
        for (auto const& p : *a)
            if (auto const* po = p.if_object()) out.append(get_string(*po, "text"));
        return true;
    }
    return false;
}

// A message's refusal and reasoning, after its content; scanned or parsed.
void add_message_text(chat_response& r, std::string_view refusal,
                      std::string_view reasoning_content, std::string_view reasoning) {
    // A refusal (structured outputs) is the model's answer: keep it rather than lose it.
    if (r.content.empty()) r.content = refusal;
    r.reasoning = reasoning_content;  // DeepSeek
    if (!r.reasoning.empty()) {
        // DeepSeek wants it back on tool-call turns: a part of its own.
        auto& part = r.reasoning_parts.emplace_back();
        part.text = r.reasoning;
        part.origin = "deepseek";
    } else {
        r.reasoning = reasoning;  // OpenRouter, Groq
    }
}

/// `f` with the answer's status and request id.
failure with_head(failure f, response_head const& head) {
    f.diag.http_status = head.status;
    f.diag.request_id = std::string(request_id_of(head));
    return f;
}

/** The answer of one choice the scanner read, built where the caller's result lives: every
    return names `out` (a chat_response moved into a result costs 400 instructions).
*/
result<chat_response> scanned_response(response_head const& head, openai::scanned_answer& s) {
    result<chat_response> out;
    auto& r = *out;
    bool fails = false;
    r.finish_reason = map_finish(s.finish_reason, fails);
    if (fails) {
        out = with_head(finish_failure(s.finish_reason), head);
        return out;
    }
    r.id = std::move(s.id);
    r.model = std::move(s.model);
    r.request_id = request_id_of(head);
    r.native_finish_reason = std::move(s.finish_reason);
    r.content = std::move(s.content);
    add_message_text(r, s.refusal, s.reasoning_content, s.reasoning);
    if (s.has_usage) r.usage = s.read_usage();
    return out;
}

result<chat_response> decode_body(response_head const& head, std::string_view body, bool scan) {
    auto const fail = [&](failure f) { return with_head(std::move(f), head); };
    // The common shape is read without a DOM; anything else is parsed below.
    openai::scanned_answer s;
    if (scan && openai::answer_scanner().read(body, false, s) && s.choices == 1 && s.has_message)
        return scanned_response(head, s);
    json::monotonic_resource mr;
    // JSON whitespace covers the blank lines DeepSeek sends ahead of the body while it waits.
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
    auto const* choices_v = o->if_contains("choices");
    auto const* choices = choices_v ? choices_v->if_array() : nullptr;
    if (!choices) return fail(bad_field("choices", "is missing or not an array"));
    if (choices->empty()) return fail(bad_field("choices", "is empty"));
    auto const* choice = first_choice(*choices);
    if (!choice) return fail(bad_field("choices[0]", "is not an object"));

    chat_response r;
    r.id = get_string(*o, "id");
    r.model = get_string(*o, "model");
    r.request_id = request_id_of(head);

    std::string_view const native = get_string(*choice, "finish_reason");
    bool fails = false;
    r.finish_reason = map_finish(native, fails);
    r.native_finish_reason = native;
    if (fails) return fail(finish_failure(native));

    auto const* msg = get_object(*choice, "message");
    // Azure may leave the message out of a choice its filter stopped.
    if (!msg && native.empty()) return fail(bad_field("choices[0].message", "is missing"));
    if (msg) {
        if (!append_content(msg->if_contains("content"), r.content))
            return fail(bad_field("choices[0].message.content", "is not a string"));
        add_message_text(r, get_string(*msg, "refusal"), get_string(*msg, "reasoning_content"),
                         get_string(*msg, "reasoning"));
        if (auto const* rd = msg->if_contains("reasoning_details"); rd && rd->is_array())
            for (auto const& e : rd->get_array())
                if (auto const* eo = e.if_object())
                    if (auto part = openai::read_reasoning_detail(*eo))
                        r.reasoning_parts.push_back(std::move(*part));
        if (auto const* tcv = msg->if_contains("tool_calls"); tcv && !tcv->is_null()) {
            auto const* tcs = tcv->if_array();
            if (!tcs) return fail(bad_field("choices[0].message.tool_calls", "is not an array"));
            r.tool_calls.reserve(tcs->size());
            for (std::size_t i = 0; i < tcs->size(); ++i) {
                auto const* tc = (*tcs)[i].if_object();
                auto const* fn = tc ? get_object(*tc, "function") : nullptr;
                if (!fn)
                    return fail(bad_field("choices[0].message.tool_calls[" + std::to_string(i) +
                                              "].function",
                                          "is missing"));
                tool_call& call = r.tool_calls.emplace_back();
                call.id = get_string(*tc, "id");
                call.name = get_string(*fn, "name");
                read_arguments(fn->if_contains("arguments"), call.arguments);
            }
            // OpenRouter carries Gemini's call signatures as encrypted details with the call's
            // id: they belong on the calls.
            std::erase_if(r.reasoning_parts, [&](reasoning_part const& p) {
                if (p.origin != "google"sv || p.type != reasoning_part::kind::redacted) return false;
                for (auto& c : r.tool_calls)
                    if (!p.id.empty() && c.id == p.id) {
                        c.signature = p.data;
                        return true;
                    }
                return false;
            });
        } else if (auto const* fc = get_object(*msg, "function_call")) {  // legacy functions
            tool_call& call = r.tool_calls.emplace_back();
            call.name = get_string(*fc, "name");
            read_arguments(fc->if_contains("arguments"), call.arguments);
        }
    }
    if (auto const* u = find_usage(*o)) r.usage = read_usage(*u);
    return r;
}

failure decode_error_body(response_head const& head, std::string_view body) {
    failure f = http_failure(head, "x-request-id");
    if (f.diag.request_id.empty()) f.diag.request_id = head.header("x-generation-id");
    std::string_view const text = trim(body);
    if (text.empty()) {
        f.diag.message = "HTTP " + std::to_string(head.status) + " with an empty body";
        return f;
    }
    json::monotonic_resource mr;
    boost::system::error_code ec;
    json::value const v = detail::parse_json(text, ec, &mr);
    error_fields e;
    if (!ec) {
        if (auto const* err = find_error(v)) {
            e = read_error(*err);
        } else if (auto const* o = v.if_object()) {
            // FastAPI-based servers (vLLM) say {"detail": "..."}, others {"message": "..."}.
            e.message = get_string(*o, "message");
            if (e.message.empty()) e.message = get_string(*o, "detail");
        }
    }
    classify(f, e, head.status);
    if (f.diag.message.empty()) {
        f.diag.message = body_excerpt(text);
        f.diag.source = message_source::internal;
    }
    return f;
}

// ---------------------------------------------------------------------------------------------
// Streaming

class openai_stream_decoder final : public stream_decoder {
public:
    explicit openai_stream_decoder(bool scan) {
        if (scan) scan_.emplace();
    }

    result<void> feed(std::string_view bytes, std::vector<chat_chunk>& out) override {
        return feed_sse(sse_, bytes, failed_, [&](sse_event const& ev) {
            if (!done_) on_event(ev, out);
        });
    }

    result<void> finish(std::vector<chat_chunk>&) override {
        if (failed_) return *failed_;
        // `data: [DONE]` that lost its closing blank line still ends the stream completely.
        if (!done_)
            sse_.flush([this](sse_event const& ev) {
                if (trim(ev.data) == "[DONE]") done_ = true;
            });
        if (done_) return {};
        std::string msg = "the stream ended without its [DONE] marker";
        if (finish_seen_) {
            msg += ", after the finish reason '" + info_.native_finish_reason + "'";
            if (!usage_seen_) msg += " but before the usage chunk"sv;
        } else {
            msg += ", before any finish reason arrived"sv;
        }
        if (sse_.has_partial_event()) msg += "; it was cut in the middle of an event"sv;
        failed_ = failure(error::truncated, std::move(msg));
        return *failed_;
    }

    stream_info const& info() const noexcept override { return info_; }

private:
    void on_event(sse_event const& ev, std::vector<chat_chunk>& out) {
        std::string_view const data = trim(ev.data);
        if (data.empty()) return;
        if (data == "[DONE]") {
            done_ = true;
            return;
        }
        // The common shape without a DOM; anything else is parsed whole.
        if (scan_ && ev.event != "error"sv) {
            if (scan_->read(data, true, scanned_)) {
                scan_misses_ = 0;
                on_scanned(out);
                return;
            }
            // A stream whose events the scan keeps leaving (tool-call deltas, reasoning
            // details) is parsed whole from here on, rather than read twice per event.
            if (++scan_misses_ == 3) scan_.reset();
        }
        // One parse per event, into a reused arena: no heap allocation for typical chunks.
        if (!dom_) dom_ = std::make_unique<dom_reader>();
        auto& reader = dom_->json;
        reader.reset();
        dom_->mr.release();
        reader.reset(&dom_->mr);
        boost::system::error_code ec;
        reader.write(data.data(), data.size(), ec);
        if (ec) {
            reader.reset();
            if (ev.event == "error"sv) {  // `event: error` with a plain-text message
                failed_ = internal(failure(error::server_error, body_excerpt(data)));
                return;
            }
            failed_ = failure(error::protocol_error, "a stream event is not valid JSON (" +
                                                         ec.message() + "): " + excerpt(data, 120));
            return;
        }
        json::value const v = reader.release();
        on_json(v, ev, out);
    }

    // An event the scan read whole: what on_json does with its DOM. The chunk is built in
    // place (one event, one chunk, no move), and taken back if it says nothing.
    void on_scanned(std::vector<chat_chunk>& out) {
        auto& s = scanned_;
        if (info_.id.empty()) info_.id = s.id;
        if (info_.model.empty()) info_.model = s.model;
        chat_chunk& c = out.emplace_back();
        if (s.choices == 1 && s.index_zero) {
            c.text = std::move(s.content);
            add_text(c, s.refusal, s.reasoning_content, s.reasoning);
            if (!s.finish_reason.empty() && !finish(s.finish_reason, c)) {
                out.pop_back();
                return;
            }
        }
        if (s.has_usage) {
            c.usage = s.read_usage();
            usage_seen_ = true;
        }
        if (!c.has_content() && !c.finish_reason && !c.usage) out.pop_back();
    }

    // A delta's refusal and reasoning (after its content), scanned or parsed.
    void add_text(chat_chunk& c, std::string_view refusal, std::string_view reasoning_content,
                  std::string_view reasoning) {
        c.text.append(refusal);
        deepseek_reasoning_.append(reasoning_content);                   // DeepSeek
        c.reasoning.append(reasoning_content.empty() ? reasoning : reasoning_content);  // OpenRouter, Groq
    }

    // A choice's finish reason; false when it failed the stream.
    bool finish(std::string_view fr, chat_chunk& c) {
        bool fails = false;
        c.finish_reason = map_finish(fr, fails);
        info_.native_finish_reason = fr;
        finish_seen_ = true;
        if (fails) {
            failed_ = finish_failure(fr);
            return false;
        }
        complete_reasoning(c);
        return true;
    }

    void on_json(json::value const& v, sse_event const& ev, std::vector<chat_chunk>& out) {
        // A data object with an `error` key fails the stream (as the OpenAI SDK does); so does
        // an `event: error`, whatever its data says.
        json::value const* e = find_error(v);
        if (!e && ev.event == "error"sv) e = &v;
        if (e) {
            failure f;
            classify(f, read_error(*e), 0);
            if (f.diag.message.empty()) f.diag.message = "an error event without a message";
            failed_ = std::move(f);
            return;
        }
        auto const* o = v.if_object();
        if (!o) {
            failed_ = failure(error::protocol_error,
                              "a stream event is not a JSON object: " + excerpt(ev.data, 120));
            return;
        }
        if (info_.id.empty()) info_.id = get_string(*o, "id");
        if (info_.model.empty()) info_.model = get_string(*o, "model");

        chat_chunk c;
        if (auto const* cv = o->if_contains("choices")) {
            if (auto const* choices = cv->if_array()) {
                for (std::size_t i = 0; i < choices->size(); ++i) {
                    auto const* ch = (*choices)[i].if_object();
                    if (!ch) continue;
                    if (auto const* idx = ch->if_contains("index"))
                        if (!((idx->is_int64() && idx->get_int64() == 0) ||
                              (idx->is_uint64() && idx->get_uint64() == 0)))
                            continue;  // n > 1: only the first choice is unified
                    if (!on_choice(*ch, c)) return;
                }
            }
        }
        if (auto const* u = find_usage(*o)) {
            c.usage = read_usage(*u);
            usage_seen_ = true;
        }
        if (c.has_content() || c.finish_reason || c.usage) out.push_back(std::move(c));
    }

    // Returns false when the choice failed the stream.
    bool on_choice(json::object const& ch, chat_chunk& c) {
        if (auto const* d = get_object(ch, "delta")) {
            if (!append_content(d->if_contains("content"), c.text)) {
                failed_ = bad_field("choices[0].delta.content", "is not a string");
                return false;
            }
            add_text(c, get_string(*d, "refusal"), get_string(*d, "reasoning_content"),
                     get_string(*d, "reasoning"));
            if (auto const* rd = d->if_contains("reasoning_details"); rd && rd->is_array()) {
                // OpenRouter's pieces: merged by index, whole at the end.
                for (auto const& e : rd->get_array()) {
                    auto const* eo = e.if_object();
                    if (!eo) continue;
                    auto piece = openai::read_reasoning_detail(*eo);
                    if (!piece) continue;
                    std::size_t const idx = get_count(*eo, "index").value_or(details_.size());
                    auto it = std::find_if(details_.begin(), details_.end(),
                                           [&](auto const& x) { return x.first == idx; });
                    if (it == details_.end()) {
                        details_.emplace_back(idx, std::move(*piece));
                        continue;
                    }
                    it->second.text += piece->text;
                    it->second.signature += piece->signature;
                    it->second.data += piece->data;
                    if (it->second.id.empty()) it->second.id = piece->id;
                }
            }
            if (auto const* tv = d->if_contains("tool_calls")) {
                if (auto const* tcs = tv->if_array()) {
                    for (std::size_t i = 0; i < tcs->size(); ++i) {
                        auto const* tc = (*tcs)[i].if_object();
                        if (!tc) continue;
                        tool_call_delta& td = c.tool_calls.emplace_back();
                        td.index = i;  // servers that leave `index` out send one call per slot
                        if (auto n = get_count(*tc, "index"))
                            td.index = static_cast<std::size_t>(*n);
                        td.id = get_string(*tc, "id");
                        if (!td.id.empty()) call_ids_.emplace_back(td.id, td.index);
                        if (auto const* fn = get_object(*tc, "function")) {
                            td.name = get_string(*fn, "name");
                            read_arguments(fn->if_contains("arguments"), td.arguments);
                        }
                    }
                }
            } else if (auto const* fc = get_object(*d, "function_call")) {  // legacy functions
                tool_call_delta& td = c.tool_calls.emplace_back();
                td.name = get_string(*fc, "name");
                read_arguments(fc->if_contains("arguments"), td.arguments);
            }
        }
        if (std::string_view const fr = get_string(ch, "finish_reason"); !fr.empty())
            return finish(fr, c);
        return true;
    }

    /// The reasoning the stream gave, as whole parts on the finishing chunk: DeepSeek's
    /// reasoning_content, OpenRouter's details (Gemini's call signatures onto their calls).
    void complete_reasoning(chat_chunk& c) {
        if (!deepseek_reasoning_.empty()) {
            auto& part = c.reasoning_parts.emplace_back();
            part.text = std::move(deepseek_reasoning_);
            part.origin = "deepseek";
            deepseek_reasoning_.clear();
        }
        for (auto& entry : details_) {
            auto& part = entry.second;  // not a structured binding: lambdas capture it
            if (part.origin == "google"sv && part.type == reasoning_part::kind::redacted) {
                auto it = std::find_if(call_ids_.begin(), call_ids_.end(),
                                       [&](auto const& x) { return x.first == part.id; });
                if (it != call_ids_.end()) {
                    auto& d = c.tool_calls.emplace_back();
                    d.index = it->second;
                    d.signature = std::move(part.data);
                    continue;
                }
            }
            c.reasoning_parts.push_back(std::move(part));
        }
        details_.clear();
    }

    sse_parser sse_;
    stream_info info_;
    /// The DOM parser of the events the scan leaves (made on the first: most streams never
    /// need its 8 kB arena). The arena outlives the parser, which points to it.
    struct dom_reader {
        alignas(std::max_align_t) unsigned char arena[8192];
        json::monotonic_resource mr{arena, sizeof arena};
        json_reader json;
    };
    std::unique_ptr<dom_reader> dom_;
    std::optional<openai::answer_scanner> scan_;
    openai::scanned_answer scanned_;
    int scan_misses_ = 0;  // events in a row the scan left to the DOM
    std::optional<failure> failed_;
    std::string deepseek_reasoning_;
    std::vector<std::pair<std::size_t, reasoning_part>> details_;
    std::vector<std::pair<std::string, std::size_t>> call_ids_;
    bool done_ = false;
    bool finish_seen_ = false;
    bool usage_seen_ = false;
};

// ---------------------------------------------------------------------------------------------

/** The body of a plain request written straight as JSON text: text messages (no parts but
    text, no cache breakpoints, no tool messages), the sampling fields, `stop`, `user`,
    `prompt_cache_key` and the stream flags. Nothing for anything else (reasoning, tools, a
    response format, extra fields, a system breakpoint), which the DOM encoder below writes.
    The same bytes as that encoder, field for field in its order (unit.openai_chat compares
    them): it builds no DOM, which cost some 4,000 instructions per request (issue 15).
*/
std::optional<std::string> direct_body(chat_request const& req, encode_context const& ctx) {
    if (req.reasoning || !req.tools.empty() || req.tool_choice || req.response_format ||
        !req.extra.empty() || req.system_cache)
        return std::nullopt;
    if ((req.temperature && !std::isfinite(*req.temperature)) ||
        (req.top_p && !std::isfinite(*req.top_p)))
        return std::nullopt;
    std::size_t size = 128 + req.system.size() + ctx.model.size();
    for (auto const& m : req.messages) {
        if (m.role == role::tool) return std::nullopt;
        for (auto const& p : m.content) {
            auto const* t = std::get_if<text_part>(&p);
            if (!t || t->cache) return std::nullopt;
            size += t->text.size() + 32;
        }
    }
    std::string out;
    out.reserve(size);
    out += R"({"model":)"sv;
    append_json_string(out, ctx.model);
    out += R"(,"messages":[)"sv;
    bool first = true;
    auto const message = [&](std::string_view role_name, std::string_view text) {
        out += first ? R"({"role":)"sv : R"(,{"role":)"sv;
        first = false;
        append_json_string(out, role_name);
        out += R"(,"content":)"sv;
        append_json_string(out, text);
        out += '}';
    };
    if (!req.system.empty()) message("system", req.system);
    std::string buf;
    for (auto const& m : req.messages) message(to_string(m.role), joined_text(m, buf));
    out += ']';
    if (req.temperature) {
        out += R"(,"temperature":)"sv;
        append_double(out, *req.temperature);
    }
    if (req.top_p) {
        out += R"(,"top_p":)"sv;
        append_double(out, *req.top_p);
    }
    if (req.max_tokens) {
        out += ',';
        append_json_string(out, max_tokens_field(ctx.provider));
        out += ':';
        append_number(out, *req.max_tokens);
    }
    if (req.seed) {
        out += R"(,"seed":)"sv;
        append_number(out, *req.seed);
    }
    if (!req.user.empty()) {
        out += R"(,"user":)"sv;
        append_json_string(out, req.user);
    }
    if (!req.prompt_cache_key.empty()) {
        out += R"(,"prompt_cache_key":)"sv;
        append_json_string(out, req.prompt_cache_key);
    }
    if (!req.stop.empty()) {
        out += R"(,"stop":[)"sv;
        for (std::size_t i = 0; i < req.stop.size(); ++i) {
            if (i) out += ',';
            append_json_string(out, req.stop[i]);
        }
        out += ']';
    }
    if (ctx.stream) out += R"(,"stream":true,"stream_options":{"include_usage":true})"sv;
    out += '}';
    return out;
}

result<http_request> encode_chat(chat_request const& req, encode_context const& ctx, bool direct) {
    if (req.messages.empty()) return invalid("the request has no messages");

    http_request out;
    out.target = "/chat/completions";
    out.set_header("Content-Type", "application/json");
    out.set_header("Accept", ctx.stream ? "text/event-stream" : "application/json");
    // Per-call headers (`req.headers`) are validated and applied by the client, for every
    // wire format alike.
    if (direct)
        if (auto text = direct_body(req, ctx)) {
            out.body = std::move(*text);
            return out;
        }

    json::monotonic_resource mr;
    json::storage_ptr sp(&mr);
    json::object body(sp);
    body.emplace("model", ctx.model);

    auto const dialect = openai::dialect_of(ctx.provider);
    request_encoder enc(sp, dialect);
    if (!req.system.empty()) enc.add_system(req.system, req.system_cache);
    for (std::size_t i = 0; i < req.messages.size(); ++i)
        if (auto ok = enc.add(req.messages[i], i); !ok) return ok.error();
    body.emplace("messages", enc.take_messages());

    if (req.temperature) body.emplace("temperature", *req.temperature);
    if (req.top_p) body.emplace("top_p", *req.top_p);
    if (req.max_tokens) body.emplace(max_tokens_field(ctx.provider), *req.max_tokens);
    if (req.seed) body.emplace("seed", *req.seed);
    if (!req.user.empty()) body.emplace("user", req.user);
    if (!req.prompt_cache_key.empty()) body.emplace("prompt_cache_key", req.prompt_cache_key);
    // Azure names deployments, not models: only OpenAI's own model names can be checked.
    bool const openai_itself = ctx.provider.name == "openai";
    if (auto ok = encode_reasoning(req, ctx.model, dialect, openai_itself, body, sp); !ok)
        return ok.error();
    if (!req.stop.empty()) {
        json::array stop(sp);
        for (auto const& s : req.stop)
            stop.emplace_back(s);
        body.emplace("stop", std::move(stop));
    }

    if (!req.tools.empty()) {
        json::array tools(sp);
        for (std::size_t i = 0; i < req.tools.size(); ++i) {
            auto const& t = req.tools[i];
            if (auto ok = check_tool_name(t, i); !ok) return ok.error();
            json::object fn(sp);
            fn.emplace("name", t.name);
            if (!t.description.empty()) fn.emplace("description", t.description);
            // An empty schema is left out: OpenAI reads that as "no parameters".
            if (!t.parameters.empty()) fn.emplace("parameters", json::object(t.parameters, sp));
            if (t.strict) fn.emplace("strict", true);
            json::object o(sp);
            o.emplace("type", "function");
            o.emplace("function", std::move(fn));
            tools.emplace_back(std::move(o));
        }
        body.emplace("tools", std::move(tools));
    }
    if (auto ok = check_tool_choice(req); !ok) return ok.error();
    if (req.tool_choice) {
        auto const& tc = *req.tool_choice;
        if (auto const word = openai::tool_choice_word(tc, !req.tools.empty()); !word.empty()) {
            body.emplace("tool_choice", word);
        } else if (tc.how == tool_choice::mode::named) {
            json::object fn(sp);
            fn.emplace("name", tc.name);
            json::object o(sp);
            o.emplace("type", "function");
            o.emplace("function", std::move(fn));
            body.emplace("tool_choice", std::move(o));
        }
    }
    if (req.response_format) {
        auto const& rf = *req.response_format;
        if (rf.type == response_format::kind::json_object) {
            json::object o(sp);
            o.emplace("type", "json_object");
            body.emplace("response_format", std::move(o));
        } else if (rf.type == response_format::kind::json_schema) {
            if (rf.name.empty()) return invalid("response_format: a JSON schema needs a name");
            json::object js(sp);
            js.emplace("name", rf.name);
            js.emplace("schema", json::object(rf.schema, sp));
            js.emplace("strict", rf.strict);
            json::object o(sp);
            o.emplace("type", "json_schema");
            o.emplace("json_schema", std::move(js));
            body.emplace("response_format", std::move(o));
        }
    }
    if (ctx.stream) {
        body.emplace("stream", true);
        // Without this the usage chunk is not sent and a streamed call's usage is lost.
        json::object so(sp);
        so.emplace("include_usage", true);
        body.emplace("stream_options", std::move(so));
    }
    merge_extra(body, req.extra);
    out.body = to_json(body);
    return out;
}

class openai_chat final : public wire_format {
public:
    std::string_view name() const noexcept override { return "openai"; }

    result<http_request> encode(chat_request const& req, encode_context const& ctx) const override {
        return encode_chat(req, ctx, true);
    }

    result<chat_response> decode(response_head const& head, std::string_view body) const override {
        return decode_body(head, body, true);
    }

    failure decode_error(response_head const& head, std::string_view body) const override {
        return decode_error_body(head, body);
    }

    std::unique_ptr<stream_decoder> make_stream_decoder() const override {
        return std::make_unique<openai_stream_decoder>(true);
    }
};

}  // namespace

result<http_request> openai::encode_request(chat_request const& req, encode_context const& ctx,
                                            bool direct) {
    return encode_chat(req, ctx, direct);
}

result<chat_response> openai::decode_answer(response_head const& head, std::string_view body,
                                           bool scan) {
    return decode_body(head, body, scan);
}

std::unique_ptr<stream_decoder> openai::make_chunk_decoder(bool scan) {
    return std::make_unique<openai_stream_decoder>(scan);
}

wire_format const& openai_chat_format() {
    static openai_chat const instance;
    return instance;
}

openai::dialect openai::dialect_of(provider_config const& p) noexcept {
    std::string_view name = p.name;
    if (auto const* v = p.options.if_contains("dialect"))
        if (auto const* str = v->if_string()) name = as_view(*str);
    if (name == "openrouter") return dialect::openrouter;
    if (name == "deepseek") return dialect::deepseek;
    return dialect::openai;
}

namespace {
constexpr std::pair<std::string_view, std::string_view> detail_formats[] = {
    {"anthropic", "anthropic-claude-v1"},
    {"openai", "openai-responses-v1"},
    {"google", "google-gemini-v1"},
    {"xai", "xai-responses-v1"},
};
}  // namespace

std::optional<json::object> openai::reasoning_detail(reasoning_part const& r, std::size_t index,
                                                     json::storage_ptr const& sp) {
    std::string_view format;
    for (auto const& [origin, f] : detail_formats)
        if (origin == r.origin) format = f;
    if (format.empty()) return std::nullopt;
    json::object o(sp);
    if (r.type == reasoning_part::kind::redacted || (r.text.empty() && !r.signature.empty() &&
                                                     r.origin != "anthropic"sv)) {
        o.emplace("type", "reasoning.encrypted");
        o.emplace("data", r.type == reasoning_part::kind::redacted ? r.data : r.signature);
    } else if (r.type == reasoning_part::kind::summary) {
        o.emplace("type", "reasoning.summary");
        o.emplace("summary", r.text);
        if (!r.signature.empty()) o.emplace("signature", r.signature);
    } else {
        o.emplace("type", "reasoning.text");
        o.emplace("text", r.text);
        if (!r.signature.empty()) o.emplace("signature", r.signature);
    }
    if (!r.id.empty()) o.emplace("id", r.id);
    o.emplace("format", format);
    o.emplace("index", static_cast<std::uint64_t>(index));
    return o;
}

std::optional<reasoning_part> openai::read_reasoning_detail(json::object const& o) {
    std::string_view const type = get_string(o, "type");
    std::string_view const format = get_string(o, "format");
    reasoning_part r;
    r.origin = "openrouter";
    for (auto const& [origin, f] : detail_formats)
        if (f == format) r.origin = origin;
    r.id = get_string(o, "id");
    if (type == "reasoning.text") {
        r.text = get_string(o, "text");
        r.signature = get_string(o, "signature");
    } else if (type == "reasoning.summary") {
        r.type = reasoning_part::kind::summary;
        r.text = get_string(o, "summary");
        r.signature = get_string(o, "signature");
    } else if (type == "reasoning.encrypted") {
        r.type = reasoning_part::kind::redacted;
        r.data = get_string(o, "data");
    } else {
        return std::nullopt;
    }
    return r;
}

std::string_view openai::request_id_of(response_head const& head) {
    // OpenAI and most compatible servers send x-request-id; OpenRouter sends X-Generation-Id.
    if (auto id = head.header("x-request-id"); !id.empty()) return id;
    return head.header("x-generation-id");
}

}  // namespace llmux::detail
