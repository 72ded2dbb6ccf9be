// SPDX-License-Identifier: BSL-1.0
// The OpenAI Responses API, client side (PROVIDERS-2.md section 1): a `chat_request` as input
// items, flat function tools, `text.format` and `max_output_tokens`, always `store: false` (the
// client is stateless: every call carries the whole conversation); the response object's output
// items and usage decoded, the finish reason derived from its status (1.7); the typed event
// stream, which ends on `response.completed` or `response.incomplete` and fails on `error` and
// `response.failed`. Error bodies are Chat Completions' (1.5), read by that format. Sans-io.
#include "codec/sse.hpp"
#include "util/json_read.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/openai_chat.hpp"
#include "wire/openai_responses.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::detail {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;

failure invalid(std::string message) {
    return failure(error::invalid_request, std::move(message));
}

failure unsupported(std::string message) {
    return failure(error::unsupported, std::move(message));
}

using openai::is_base64_data_uri;
using openai::valid_image_url;

// ---------------------------------------------------------------------------------------------
// Encoding

class input_encoder {
public:
    explicit input_encoder(json::storage_ptr sp) : sp_(std::move(sp)), items_(sp_) {}

    json::array take() { return std::move(items_); }

    result<void> add(message const& m, std::size_t i) {
        switch (m.role) {
        case role::system: return add_system(m, i);
        case role::user: return add_user(m, i);
        case role::assistant: return add_assistant(m, i);
        case role::tool: return add_tool(m, i);
        }
        return invalid(at_message(i) + ": unknown role");
    }

private:
    // A message item whose content is the string `text`.
    void text_message(std::string_view role, std::string_view text) {
        json::object m(sp_);
        m.emplace("role", role);
        m.emplace("content", text);
        items_.emplace_back(std::move(m));
    }

    result<void> add_system(message const& m, std::size_t i) {
        std::string text;
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const* t = std::get_if<text_part>(&m.content[j]);
            if (!t) return unsupported(at_part(i, j) + ": a system message may only hold text");
            text += t->text;
        }
        text_message("system", text);
        return {};
    }

    result<void> add_result(tool_result const& r, std::size_t i, std::size_t j) {
        if (r.tool_call_id.empty())
            return invalid(at_part(i, j) + ": a tool result needs a tool_call_id");
        // The Responses API has no error flag either: the output itself says the tool failed.
        json::object o(sp_);
        o.emplace("type", "function_call_output");
        auto const sealed = sealed_ids_.find(r.tool_call_id);
        o.emplace("call_id", sealed == sealed_ids_.end() ? std::string_view(r.tool_call_id)
                                                         : std::string_view(sealed->second));
        o.emplace("output", r.content);
        items_.emplace_back(std::move(o));
        return {};
    }

    result<void> add_user(message const& m, std::size_t i) {
        json::array parts(sp_);
        std::size_t texts = 0;
        bool others = false;
        // Function call outputs go first, as items of their own, right after the calls they
        // answer (PROVIDERS-2.md 1.7: keep every output after its call).
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (auto const* r = std::get_if<tool_result>(&p)) {
                if (auto ok = add_result(*r, i, j); !ok) return ok;
            } else if (auto const* t = std::get_if<text_part>(&p)) {
                ++texts;
                json::object o(sp_);
                o.emplace("type", "input_text");
                o.emplace("text", t->text);
                parts.emplace_back(std::move(o));
            } else if (auto const* img = std::get_if<image_part>(&p)) {
                if (!valid_image_url(img->url))
                    return invalid(at_part(i, j) + ": an image URL must be https://, http:// or a "
                                                   "data:<media type>;base64, URI");
                others = true;
                json::object o(sp_);
                o.emplace("type", "input_image");
                o.emplace("image_url", img->url);
                if (!img->detail.empty()) o.emplace("detail", img->detail);
                parts.emplace_back(std::move(o));
            } else if (auto const* doc = std::get_if<document_part>(&p)) {
                // A data URL in `file_data` (as the SDKs send it), a URL in `file_url`
                // (PROVIDERS-2.md 5).
                json::object o(sp_);
                o.emplace("type", "input_file");
                if (!doc->name.empty()) o.emplace("filename", doc->name);
                if (is_base64_data_uri(doc->url))
                    o.emplace("file_data", doc->url);
                else if (istarts_with(doc->url, "https://") || istarts_with(doc->url, "http://"))
                    o.emplace("file_url", doc->url);
                else
                    return invalid(at_part(i, j) + ": a document URL must be https://, http:// or "
                                                   "a data:<media type>;base64, URI");
                others = true;
                parts.emplace_back(std::move(o));
            } else if (std::holds_alternative<reasoning_part>(p)) {
                return invalid(at_part(i, j) + ": reasoning belongs in an assistant message");
            } else {
                return invalid(at_part(i, j) + ": a tool call belongs in an assistant message");
            }
        }
        if (parts.empty()) {
            if (!m.content.empty()) return {};  // only tool results
            text_message("user", "");
            return {};
        }
        // One text: the plain string form, as the SDKs' examples write it.
        if (!others && texts == 1) {
            text_message("user", json_view(parts[0].get_object().at("text").get_string()));
            return {};
        }
        json::object u(sp_);
        u.emplace("role", "user");
        u.emplace("content", std::move(parts));
        items_.emplace_back(std::move(u));
        return {};
    }

    result<void> add_assistant(message const& m, std::size_t i) {
        std::string text;
        std::size_t calls = 0;
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (auto const* t = std::get_if<text_part>(&p)) {
                text += t->text;
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                ++calls;
                if (c->id.empty()) return invalid(at_part(i, j) + ": a tool call needs an id");
                if (c->name.empty()) return invalid(at_part(i, j) + ": a tool call needs a name");
            } else if (auto const* r = std::get_if<reasoning_part>(&p)) {
                // Only OpenAI's own reasoning goes back; another family's validates nowhere
                // here (PROVIDERS-2.md 3.2).
                // Without its encrypted content an item names stored state: under
                // `store: false` OpenAI answers 404 for it (1.5), so it is not sent.
                if (r->origin == "openai" && !r->signature.empty()) add_reasoning(*r);
            } else if (std::holds_alternative<image_part>(p)) {
                return unsupported(at_part(i, j) + ": assistant messages cannot hold images");
            } else if (std::holds_alternative<document_part>(p)) {
                return unsupported(at_part(i, j) + ": assistant messages cannot hold documents");
            } else {
                return invalid(at_part(i, j) + ": a tool result belongs in a tool or user message");
            }
        }
        // The text as the output message it was; left out when the turn only called tools.
        if (!text.empty() || calls == 0) {
            json::object part(sp_);
            part.emplace("type", "output_text");
            part.emplace("text", text);
            json::array content(sp_);
            content.emplace_back(std::move(part));
            json::object a(sp_);
            a.emplace("type", "message");
            a.emplace("role", "assistant");
            a.emplace("content", std::move(content));
            items_.emplace_back(std::move(a));
        }
        for (auto const& p : m.content) {
            auto const* c = std::get_if<tool_call>(&p);
            if (!c) continue;
            json::object o(sp_);
            o.emplace("type", "function_call");
            // A Gemini call's signature travels sealed in its id (wire/common.hpp), as a
            // gateway's server side wrote it, so that a gateway in front of Gemini gets it back.
            if (c->signature.empty()) {
                o.emplace("call_id", c->id);
            } else {
                auto& sealed = sealed_ids_[c->id];
                sealed = seal_call_id(c->id, {}, c->signature);
                o.emplace("call_id", sealed);
            }
            o.emplace("name", c->name);
            // `arguments` is JSON text; an empty string is not.
            o.emplace("arguments", c->arguments.empty() ? "{}"sv : std::string_view(c->arguments));
            items_.emplace_back(std::move(o));
        }
        return {};
    }

    /// A reasoning item as the response gave it: its id, its summary (or raw text) and its
    /// encrypted content, ahead of the items that followed it (PROVIDERS-2.md 1.2, 3.2).
    void add_reasoning(reasoning_part const& r) {
        reasoning_sent_ = true;
        json::object o(sp_);
        o.emplace("type", "reasoning");
        if (!r.id.empty()) o.emplace("id", r.id);
        json::array summary(sp_);
        if (r.type == reasoning_part::kind::summary && !r.text.empty()) {
            json::object t(sp_);
            t.emplace("type", "summary_text");
            t.emplace("text", r.text);
            summary.emplace_back(std::move(t));
        }
        o.emplace("summary", std::move(summary));
        if (r.type == reasoning_part::kind::text && !r.text.empty()) {
            json::object t(sp_);
            t.emplace("type", "reasoning_text");
            t.emplace("text", r.text);
            json::array content(sp_);
            content.emplace_back(std::move(t));
            o.emplace("content", std::move(content));
        }
        if (!r.signature.empty()) o.emplace("encrypted_content", r.signature);
        items_.emplace_back(std::move(o));
    }

public:
    /// Some reasoning item was sent back.
    bool reasoning_sent() const noexcept { return reasoning_sent_; }

private:
    result<void> add_tool(message const& m, std::size_t i) {
        if (m.content.empty())
            return invalid(at_message(i) + ": a tool message needs a tool_result part");
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const* r = std::get_if<tool_result>(&m.content[j]);
            if (!r)
                return invalid(at_part(i, j) + ": a tool message may only hold tool_result parts");
            if (auto ok = add_result(*r, i, j); !ok) return ok;
        }
        return {};
    }

    json::storage_ptr sp_;
    json::array items_;
    /// Call ids sent sealed, by their plain id (their outputs name them the same way).
    std::map<std::string, std::string, std::less<>> sealed_ids_;
    bool reasoning_sent_ = false;
};

result<void> encode_tools(chat_request const& req, json::object& body, json::storage_ptr const& sp) {
    if (!req.tools.empty()) {
        json::array tools(sp);
        for (std::size_t i = 0; i < req.tools.size(); ++i) {
            auto const& t = req.tools[i];
            if (auto ok = check_tool_name(t, i); !ok) return ok;
            // Flat, unlike Chat Completions' {"function": {...}} (PROVIDERS-2.md 1.1).
            json::object o(sp);
            o.emplace("type", "function");
            o.emplace("name", t.name);
            if (!t.description.empty()) o.emplace("description", t.description);
            // `parameters` is required, and null when the function takes none.
            if (t.parameters.empty())
                o.emplace("parameters", nullptr);
            else
                o.emplace("parameters", json::object(t.parameters, sp));
            // Set explicitly: the Responses API is said to default to strict (1.7).
            o.emplace("strict", t.strict);
            tools.emplace_back(std::move(o));
        }
        body.emplace("tools", std::move(tools));
    }
    if (!req.tool_choice) return {};
    if (auto ok = check_tool_choice(req); !ok) return ok;
    auto const& tc = *req.tool_choice;
    if (auto const word = openai::tool_choice_word(tc, !req.tools.empty()); !word.empty()) {
        body.emplace("tool_choice", word);
    } else if (tc.how == tool_choice::mode::named) {
        json::object o(sp);  // flat, unlike Chat Completions' {"function": {...}}
        o.emplace("type", "function");
        o.emplace("name", tc.name);
        body.emplace("tool_choice", std::move(o));
    }
    return {};
}

result<void> encode_format(chat_request const& req, json::object& body, json::storage_ptr const& sp) {
    if (!req.response_format) return {};
    auto const& rf = *req.response_format;
    json::object f(sp);
    switch (rf.type) {
    case response_format::kind::text: return {};  // the default
    case response_format::kind::json_object: f.emplace("type", "json_object"); break;
    case response_format::kind::json_schema:
        if (rf.name.empty()) return invalid("response_format: a JSON schema needs a name");
        // Flat, unlike Chat Completions' {"json_schema": {...}} (PROVIDERS-2.md 1.1).
        f.emplace("type", "json_schema");
        f.emplace("name", rf.name);
        f.emplace("schema", json::object(rf.schema, sp));
        f.emplace("strict", rf.strict);
        break;
    }
    json::object text(sp);
    text.emplace("format", std::move(f));
    body.emplace("text", std::move(text));
    return {};
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A failure for an error object of a 2xx body or a stream (`{code, message, type?, param?}`):
/// its words are Chat Completions' (PROVIDERS-2.md 1.5), classified as that format does.
failure error_object_failure(json::object const& e) {
    // Only the error's own fields: a flat `error` event's `type` is the event's ("error").
    json::object err;
    for (std::string_view key : {"message", "type", "code", "param"})
        if (auto const* v = e.if_contains(key); v && !(key == "type" && v->is_string() && v->get_string() == "error"))
            err.emplace(key, *v);
    json::object wrapped;
    wrapped.emplace("error", std::move(err));
    response_head head;
    head.status = 200;  // not an HTTP error: the type and code decide
    failure f = openai_chat_format().decode_error(head, to_json(wrapped));
    f.diag.http_status = 0;
    std::string_view const code = get_string(e, "code");
    // Codes of a failed response that Chat Completions' errors do not use (1.3).
    if (code == "invalid_prompt" || code.starts_with("invalid_image") ||
        code == "invalid_base64_image" || code == "image_too_large" || code == "image_too_small" ||
        code == "empty_image_file" || code == "unsupported_image_media_type")
        f.code = make_error_code(error::bad_request);
    if (f.diag.message.empty()) {
        f.diag.message = "the response failed without a message";
        f.diag.source = message_source::llmux;
    }
    return f;
}

usage read_usage(json::object const& u) {
    usage r;
    r.input_tokens = get_count(u, "input_tokens");
    r.output_tokens = get_count(u, "output_tokens");
    r.total_tokens = get_count(u, "total_tokens");
    if (auto const* d = get_object(u, "input_tokens_details")) {
        r.cached_input_tokens = get_count(*d, "cached_tokens");
        r.cache_write_tokens = get_count(*d, "cache_write_tokens");  // newest SDK (1.3)
    }
    if (auto const* d = get_object(u, "output_tokens_details"))
        r.reasoning_tokens = get_count(*d, "reasoning_tokens");
    return r;
}

/// Appends the text of a message item's content parts (`output_text`; a `refusal` is the
/// model's answer too, kept as text as the Chat Completions format keeps it).
void append_message_text(json::object const& item, std::string& out) {
    auto const* cv = item.if_contains("content");
    if (!cv) return;
    if (auto const* s = cv->if_string()) {
        out.append(s->data(), s->size());
        return;
    }
    auto const* parts = cv->if_array();
    if (!parts) return;
    for (auto const& pv : *parts) {
        auto const* p = pv.if_object();
        if (!p) continue;
        std::string_view const type = get_string(*p, "type");
        if (type == "output_text" || type == "text")
            out.append(get_string(*p, "text"));
        else if (type == "refusal")
            out.append(get_string(*p, "refusal"));
    }
}

/// Appends the readable text of a reasoning item: its summaries, else its raw reasoning text.
void append_reasoning_text(json::object const& item, std::string& out) {
    auto const append_parts = [&](std::string_view key) {
        auto const* v = item.if_contains(key);
        auto const* a = v ? v->if_array() : nullptr;
        if (!a) return;
        for (auto const& pv : *a)
            if (auto const* p = pv.if_object()) out.append(get_string(*p, "text"));
    };
    append_parts("summary");
    append_parts("content");
}

/// A reasoning item as a reasoning part (origin `openai`): its summaries joined (or its raw
/// text), its encrypted content as the signature, its id.
reasoning_part reasoning_of(json::object const& item) {
    reasoning_part r;
    r.origin = "openai";
    r.id = get_string(item, "id");
    r.signature = get_string(item, "encrypted_content");
    auto const join = [&](std::string_view key) {
        auto const* v = item.if_contains(key);
        auto const* a = v ? v->if_array() : nullptr;
        if (!a) return false;
        bool any = false;
        for (auto const& pv : *a)
            if (auto const* p = pv.if_object()) {
                if (any) r.text += "\n\n"sv;
                r.text += get_string(*p, "text");
                any = true;
            }
        return any;
    };
    r.type = reasoning_part::kind::summary;
    if (!join("summary") && join("content")) r.type = reasoning_part::kind::text;
    return r;
}

/// The finish reason of a response object and its native name (the status, or the reason of an
/// incomplete one).
finish_reason response_finish(json::object const& resp, bool called, std::string& native) {
    std::string_view const status = get_string(resp, "status");
    std::string_view reason;
    if (auto const* d = get_object(resp, "incomplete_details")) reason = get_string(*d, "reason");
    native = status == "incomplete" && !reason.empty() ? reason : status;
    return responses::finish_from_status(status, reason, called);
}

/// The failure of a response whose status is `failed` (or `cancelled`).
failure failed_response(json::object const& resp) {
    if (auto const* e = get_object(resp, "error")) return error_object_failure(*e);
    std::string_view const status = get_string(resp, "status");
    return failure(error::server_error, "the response ended with status '" + std::string(status) +
                                            "' and no error object");
}

result<chat_response> decode_body(response_head const& head, std::string_view body) {
    auto const fail = [&](failure f) {
        f.diag.http_status = head.status;
        f.diag.request_id = std::string(openai::request_id_of(head));
        return f;
    };
    json::monotonic_resource mr;
    auto parsed = parse_body(body, mr);
    if (!parsed) return fail(parsed.error());
    auto const* o = parsed->if_object();
    if (!o)
        return fail(internal(failure(error::protocol_error,
                                     "response body is not a JSON object: " + body_excerpt(body))));
    if (auto const* e = get_object(*o, "error"); e && !o->contains("output"))
        return fail(error_object_failure(*e));  // an error object in a 2xx body
    std::string_view const status = get_string(*o, "status");
    if (status == "failed" || status == "cancelled") return fail(failed_response(*o));

    auto const* ov = o->if_contains("output");
    auto const* output = ov ? ov->if_array() : nullptr;
    if (!output) return fail(bad_field("output", "is missing or not an array"));

    chat_response r;
    r.id = get_string(*o, "id");
    r.model = get_string(*o, "model");
    r.request_id = openai::request_id_of(head);
    bool called = false;
    for (std::size_t i = 0; i < output->size(); ++i) {
        auto const* item = (*output)[i].if_object();
        if (!item) return fail(bad_field("output[" + std::to_string(i) + "]", "is not an object"));
        std::string_view const type = get_string(*item, "type");
        if (type == "message") {
            append_message_text(*item, r.content);
        } else if (type == "function_call") {
            called = true;
            tool_call& c = r.tool_calls.emplace_back();
            c.id = get_string(*item, "call_id");
            c.name = get_string(*item, "name");
            c.arguments = get_string(*item, "arguments");
            // A gateway's sealed id (a Gemini call's signature, wire/common.hpp) opens again.
            open_call_id(get_string(*item, "call_id"), &c.id, &r.reasoning_parts, &c.signature);
            if (c.id.empty())
                return fail(bad_field("output[" + std::to_string(i) + "].call_id", "is missing"));
        } else if (type == "reasoning") {
            append_reasoning_text(*item, r.reasoning);
            r.reasoning_parts.push_back(reasoning_of(*item));
        }
        // Built-in tools' items (web_search_call, ...) have no unified place: skipped.
    }
    r.finish_reason = response_finish(*o, called, r.native_finish_reason);
    if (auto const* u = get_object(*o, "usage")) r.usage = read_usage(*u);
    return r;
}

// ---------------------------------------------------------------------------------------------
// Streaming

class responses_stream_decoder final : public stream_decoder {
public:
    result<void> feed(std::string_view bytes, std::vector<chat_chunk>& out) override {
        return feed_sse(sse_, bytes, failed_, [&](sse_event const& ev) {
            if (!done_) on_event(ev, out);
        });
    }

    result<void> finish(std::vector<chat_chunk>& out) override {
        if (failed_) return *failed_;
        bool const partial = sse_.has_partial_event();
        // A terminal event that lost its closing blank line still ends the stream; what was cut
        // in the middle does not parse and is not looked at.
        if (!done_) {
            flushing_ = true;
            sse_.flush([&](sse_event const& ev) {
                if (!failed_ && !done_) on_event(ev, out);
            });
            flushing_ = false;
        }
        if (failed_) return *failed_;
        if (done_) return {};
        std::string msg = "the stream ended before its response.completed event";
        if (last_type_.empty())
            msg += ", before any event arrived"sv;
        else
            msg += ", after '" + last_type_ + "'";
        if (partial) msg += "; it was cut in the middle of an event"sv;
        failed_ = failure(error::truncated, std::move(msg));
        return *failed_;
    }

    stream_info const& info() const noexcept override { return info_; }

private:
    /// A function call of the stream: its item, and its place among the answer's calls.
    struct call_state {
        std::string item_id;
        std::int64_t output_index = -1;
        std::size_t index = 0;
        /// Bytes of arguments handed out so far (a `done` without deltas gives the rest).
        std::size_t sent = 0;
        /// Its call id was a sealed one, opened.
        bool signed_ = false;
    };

    void on_event(sse_event const& ev, std::vector<chat_chunk>& out) {
        std::string_view const data = trim(ev.data);
        if (data.empty() || data == "[DONE]") return;  // some servers end with [DONE] too (1.4)
        json_.reset();
        mr_.release();
        json_.reset(&mr_);
        boost::system::error_code ec;
        json_.write(data.data(), data.size(), ec);
        if (ec) {
            json_.reset();
            if (flushing_) return;
            if (ev.event == "error"sv) {  // `event: error` with a plain-text message
                failed_ = internal(failure(error::server_error, body_excerpt(data)));
                return;
            }
            failed_ = failure(error::protocol_error, "a stream event is not valid JSON (" +
                                                         ec.message() + "): " + excerpt(data, 120));
            return;
        }
        json::value const v = json_.release();
        auto const* o = v.if_object();
        if (!o) {
            failed_ = failure(error::protocol_error,
                              "a stream event is not a JSON object: " + excerpt(data, 120));
            return;
        }
        std::string_view type = get_string(*o, "type");
        if (type.empty()) type = ev.event;
        last_type_.assign(type);
        on_json(*o, type, out);
    }

    void on_json(json::object const& o, std::string_view type, std::vector<chat_chunk>& out) {
        // `error` events (nested as captured, or flat as the SDK types them), and any event with
        // a truthy top-level `error`, fail the stream, as the SDKs do (PROVIDERS-2.md 1.4).
        auto const* err = o.if_contains("error");
        if (type == "error" ||
            (err && !err->is_null() && !(err->is_bool() && !err->get_bool()))) {
            auto const* e = err ? err->if_object() : nullptr;
            failed_ = error_object_failure(e ? *e : o);
            return;
        }
        if (auto const* r = type.starts_with("response.") ? o.if_contains("response") : nullptr) {
            if (auto const* resp = r->if_object()) {
                if (info_.id.empty()) info_.id = get_string(*resp, "id");
                if (info_.model.empty()) info_.model = get_string(*resp, "model");
                if (type == "response.completed" || type == "response.incomplete") {
                    end(*resp, out);
                    return;
                }
                auto const status = get_string(*resp, "status");
                if (type == "response.failed" || status == "failed" || status == "cancelled") {
                    failed_ = failed_response(*resp);
                    return;
                }
            }
            return;
        }
        if (type == "response.output_text.delta" || type == "response.refusal.delta") {
            if (std::string_view const d = get_string(o, "delta"); !d.empty()) {
                chat_chunk& c = out.emplace_back();
                c.text = d;
                text_of(get_string(o, "item_id")).sent += d.size();
                content_ = true;
            }
        } else if (type == "response.reasoning_summary_text.delta" ||
                   type == "response.reasoning_text.delta") {
            if (std::string_view const d = get_string(o, "delta"); !d.empty()) {
                chat_chunk& c = out.emplace_back();
                c.reasoning = d;
                content_ = true;
            }
        } else if (type == "response.output_item.added" || type == "response.output_item.done") {
            auto const* item = get_object(o, "item");
            if (!item) return;
            std::string_view const item_type = get_string(*item, "type");
            if (item_type == "function_call") {
                on_call_item(o, *item, type == "response.output_item.done", out);
            } else if (item_type == "reasoning" && type == "response.output_item.done") {
                // The whole item: this one's encrypted content is complete (PROVIDERS-2.md 1.4).
                chat_chunk& c = out.emplace_back();
                c.reasoning_parts.push_back(reasoning_of(*item));
                content_ = true;
            } else if (item_type == "message" && type == "response.output_item.done") {
                // The whole message: what its deltas did not say (a server that sends none).
                scratch_.clear();
                append_message_text(*item, scratch_);
                auto& t = text_of(get_string(*item, "id"));
                if (scratch_.size() > t.sent) {
                    chat_chunk& c = out.emplace_back();
                    c.text = std::string_view(scratch_).substr(t.sent);
                    t.sent = scratch_.size();
                    content_ = true;
                }
            }
        } else if (type == "response.function_call_arguments.delta") {
            auto* call = find_call(o);
            if (!call) {
                failed_ = bad_field(type, "names a function call that was not announced");
                return;
            }
            std::string_view const d = get_string(o, "delta");
            if (d.empty()) return;
            chat_chunk& c = out.emplace_back();
            auto& td = c.tool_calls.emplace_back();
            td.index = call->index;
            td.arguments = d;
            call->sent += d.size();
        } else if (type == "response.function_call_arguments.done") {
            if (auto* call = find_call(o)) rest_of_arguments(*call, get_string(o, "arguments"), out);
        }
        // Other events (content_part.*, output_text.done, annotations, built-in tools' progress)
        // repeat what the deltas said or have no unified place.
    }

    call_state* find_call(json::object const& o) {
        std::string_view const id = get_string(o, "item_id");
        std::int64_t idx = -1;
        if (auto const* v = o.if_contains("output_index"))
            if (auto n = whole_number(*v)) idx = *n;
        for (auto& c : calls_)
            if ((!id.empty() && c.item_id == id) || (id.empty() && idx >= 0 && c.output_index == idx))
                return &c;
        return nullptr;
    }

    /// Text of the message item `id` handed out so far.
    struct text_state {
        std::string item_id;
        std::size_t sent = 0;
    };
    text_state& text_of(std::string_view id) {
        for (auto& t : texts_)
            if (t.item_id == id) return t;
        auto& t = texts_.emplace_back();
        t.item_id = id;
        return t;
    }

    void on_call_item(json::object const& o, json::object const& item, bool done,
                      std::vector<chat_chunk>& out) {
        std::string_view const item_id = get_string(item, "id");
        std::int64_t idx = -1;
        if (auto const* v = o.if_contains("output_index"))
            if (auto n = whole_number(*v)) idx = *n;
        call_state* call = nullptr;
        for (auto& c : calls_)
            if ((!item_id.empty() && c.item_id == item_id) || (item_id.empty() && c.output_index == idx))
                call = &c;
        if (!call) {
            // Announced here (or, from a server that skipped `added`, only now when done).
            std::string_view const call_id = get_string(item, "call_id");
            if (call_id.empty()) {
                failed_ = bad_field("item.call_id", "is missing from a function_call item");
                return;
            }
            call_state& c = calls_.emplace_back();
            c.item_id = item_id;
            c.output_index = idx;
            c.index = calls_.size() - 1;
            content_ = true;
            chat_chunk& ch = out.emplace_back();
            auto& td = ch.tool_calls.emplace_back();
            td.index = c.index;
            td.id = call_id;
            td.name = get_string(item, "name");
            c.signed_ = open_call_id(call_id, &td.id, &ch.reasoning_parts, &td.signature);
            call = &c;
        } else if (done && !call->signed_) {
            // The call's final id may carry what its announcement did not (a signature).
            chat_chunk ch;
            auto& td = ch.tool_calls.emplace_back();
            td.index = call->index;
            if (open_call_id(get_string(item, "call_id"), nullptr, &ch.reasoning_parts, &td.signature)) {
                call->signed_ = true;
                out.push_back(std::move(ch));
            }
        }
        std::string_view const args = get_string(item, "arguments");
        if (done || call->sent == 0) rest_of_arguments(*call, args, out);
    }

    // Hands out what `whole` (a call's arguments so far) has beyond what was sent.
    void rest_of_arguments(call_state& call, std::string_view whole, std::vector<chat_chunk>& out) {
        if (whole.size() <= call.sent) return;
        chat_chunk& c = out.emplace_back();
        auto& td = c.tool_calls.emplace_back();
        td.index = call.index;
        td.arguments = whole.substr(call.sent);
        call.sent = whole.size();
    }

    void end(json::object const& resp, std::vector<chat_chunk>& out) {
        // A server that sent no item events at all: the terminal event's output is the answer.
        if (!content_)
            if (auto const* ov = resp.if_contains("output"); ov && ov->is_array())
                for (auto const& iv : ov->get_array()) {
                    auto const* item = iv.if_object();
                    if (!item) continue;
                    std::string_view const type = get_string(*item, "type");
                    chat_chunk c;
                    if (type == "message") {
                        append_message_text(*item, c.text);
                    } else if (type == "reasoning") {
                        append_reasoning_text(*item, c.reasoning);
                        c.reasoning_parts.push_back(reasoning_of(*item));
                    } else if (type == "function_call") {
                        auto& td = c.tool_calls.emplace_back();
                        td.index = calls_.size();
                        td.id = get_string(*item, "call_id");
                        td.name = get_string(*item, "name");
                        td.arguments = get_string(*item, "arguments");
                        open_call_id(get_string(*item, "call_id"), &td.id, &c.reasoning_parts, &td.signature);
                        calls_.emplace_back().index = td.index;
                    }
                    if (c.has_content()) out.push_back(std::move(c));
                }
        chat_chunk c;
        c.finish_reason = response_finish(resp, !calls_.empty(), info_.native_finish_reason);
        if (auto const* u = get_object(resp, "usage")) c.usage = read_usage(*u);
        out.push_back(std::move(c));
        done_ = true;
    }

    sse_parser sse_;
    stream_info info_;
    alignas(std::max_align_t) unsigned char arena_[8192];
    json::monotonic_resource mr_{arena_, sizeof arena_};
    json_reader json_;
    std::optional<failure> failed_;
    std::vector<call_state> calls_;
    std::vector<text_state> texts_;
    std::string scratch_;
    std::string last_type_;
    /// Some content (text, reasoning, a call) was handed out.
    bool content_ = false;
    bool done_ = false;
    bool flushing_ = false;
};

// ---------------------------------------------------------------------------------------------

class openai_responses final : public wire_format {
public:
    std::string_view name() const noexcept override { return responses::format_name; }

    result<http_request> encode(chat_request const& req, encode_context const& ctx) const override {
        if (req.messages.empty()) return invalid("the request has no messages");
        // What the Responses API has no field for (PROVIDERS-2.md 1.1, "Absent").
        if (!req.stop.empty())
            return unsupported("stop: the OpenAI Responses API has no stop sequences");
        if (req.seed) return unsupported("seed: the OpenAI Responses API has no seed");

        http_request out;
        out.target = "/responses";
        out.set_header("Content-Type", "application/json");
        out.set_header("Accept", ctx.stream ? "text/event-stream" : "application/json");

        json::monotonic_resource mr;
        json::storage_ptr sp(&mr);
        json::object body(sp);
        body.emplace("model", ctx.model);
        if (!req.system.empty()) body.emplace("instructions", req.system);
        input_encoder enc(sp);
        for (std::size_t i = 0; i < req.messages.size(); ++i)
            if (auto ok = enc.add(req.messages[i], i); !ok) return ok.error();
        bool const reasoning_back = enc.reasoning_sent();
        body.emplace("input", enc.take());
        if (req.reasoning) {
            // An effort, or the effort nearest below a budget (the API takes no budget);
            // `include_text` asks for a summary, the only reasoning text it returns.
            auto const& ro = *req.reasoning;
            json::object r(sp);
            if (ro.effort)
                r.emplace("effort", to_string(*ro.effort));
            else if (ro.budget_tokens)
                r.emplace("effort", to_string(effort_for_budget(*ro.budget_tokens)));
            if (ro.include_text && *ro.include_text) r.emplace("summary", "auto");
            if (!r.empty()) body.emplace("reasoning", std::move(r));
        }
        // Stateless reasoning comes back encrypted, to be sent back next turn (3.2).
        if (reasoning_on(req.reasoning) || reasoning_back) {
            json::array include(sp);
            include.emplace_back("reasoning.encrypted_content");
            body.emplace("include", std::move(include));
        }
        if (!req.prompt_cache_key.empty()) body.emplace("prompt_cache_key", req.prompt_cache_key);
        if (req.temperature) body.emplace("temperature", *req.temperature);
        if (req.top_p) body.emplace("top_p", *req.top_p);
        if (req.max_tokens) body.emplace("max_output_tokens", *req.max_tokens);
        if (!req.user.empty()) body.emplace("user", req.user);
        if (auto ok = encode_tools(req, body, sp); !ok) return ok.error();
        if (auto ok = encode_format(req, body, sp); !ok) return ok.error();
        // Stateless: every call carries the whole conversation, nothing is kept upstream
        // (PROVIDERS-2.md 3.2).
        body.emplace("store", false);
        if (ctx.stream) body.emplace("stream", true);
        merge_extra(body, req.extra);
        out.body = to_json(body);
        return out;
    }

    result<chat_response> decode(response_head const& head, std::string_view body) const override {
        return decode_body(head, body);
    }

    failure decode_error(response_head const& head, std::string_view body) const override {
        // The same error body as Chat Completions (PROVIDERS-2.md 1.5).
        return openai_chat_format().decode_error(head, body);
    }

    std::unique_ptr<stream_decoder> make_stream_decoder() const override {
        return std::make_unique<responses_stream_decoder>();
    }
};

}  // namespace

wire_format const& openai_responses_format() {
    static openai_responses const instance;
    return instance;
}

}  // namespace llmux::detail
