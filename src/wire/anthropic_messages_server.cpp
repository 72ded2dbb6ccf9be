// SPDX-License-Identifier: BSL-1.0
// The server side of Anthropic Messages (PROVIDERS.md section 3): requests parsed into a
// `chat_request` (so Anthropic-SDK clients can use any provider), answers and SSE events
// written back, Anthropic's error body. Sans-io. What the emulator needs of it (its canned
// errors, headers and ids) is still in src/emulator/anthropic_protocol.cpp (issue 10, phase B).
#include "wire/anthropic_messages_server.hpp"

#include "util/json_text.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"
#include "wire/formats.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <unordered_map>

namespace llmux::detail {

namespace json = boost::json;

namespace {

using parse_result = boost::system::result<inbound_request, api_error>;

std::string_view sv(json::string const& s) noexcept {
    return {s.data(), s.size()};
}

/// A present, non-null member, or null.
json::value const* member(json::object const& o, std::string_view key) noexcept {
    auto const* v = o.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
}

api_error wrong_type(std::string const& param, char const* expected, json::value const& got) {
    return invalid_field(param, param + ": expected " + expected + ", but got " + json_kind(got));
}

api_error missing(std::string const& param) {
    return invalid_field(param, param + ": Field required");
}

/// Text of a tool result's or system prompt's `content`: a string or text blocks (images in
/// a tool result cannot travel through every provider and are refused).
boost::system::result<std::string, api_error> block_text(json::value const& c,
                                                         std::string const& where) {
    if (auto const* s = c.if_string()) return std::string(sv(*s));
    auto const* blocks = c.if_array();
    if (!blocks) return wrong_type(where, "a string or a list of blocks", c);
    std::string out;
    for (std::size_t j = 0; j < blocks->size(); ++j) {
        auto const at = where + "." + std::to_string(j);
        auto const* b = (*blocks)[j].if_object();
        if (!b) return wrong_type(at, "an object", (*blocks)[j]);
        auto const* type = member(*b, "type");
        if (!type || !type->is_string()) return missing(at + ".type");
        if (type->get_string() != "text")
            return invalid_field(at + ".type", at + ".type: only text blocks are supported here");
        auto const* t = member(*b, "text");
        if (!t || !t->is_string()) return missing(at + ".text");
        if (!out.empty()) out += '\n';
        out += sv(t->get_string());
    }
    return out;
}

}  // namespace

parse_result parse_anthropic_request(std::string_view body) {
    unsigned char first_block[4096];
    json::monotonic_resource arena(first_block, sizeof first_block);
    json::parse_options popts;
    popts.max_depth = 256;
    boost::system::error_code ec;
    json::value const doc = json::parse(body, ec, &arena, popts);
    if (ec) return invalid_field("", "The request body is not valid JSON: " + ec.message());
    auto const* o = doc.if_object();
    if (!o) return invalid_field("", "The request body must be a JSON object");
    inbound_request out;
    auto& req = out.req;

    auto const* model = member(*o, "model");
    if (!model) return missing("model");
    if (!model->is_string() || model->get_string().empty())
        return wrong_type("model", "a non-empty string", *model);
    req.model = std::string(sv(model->get_string()));

    auto const* max_tokens = member(*o, "max_tokens");
    if (!max_tokens) return missing("max_tokens");
    if (!max_tokens->is_int64() && !max_tokens->is_uint64())
        return wrong_type("max_tokens", "an integer", *max_tokens);
    auto const mt = max_tokens->to_number<double>();
    if (mt < 1) return invalid_field("max_tokens", "max_tokens: must be at least 1");
    req.max_tokens = static_cast<std::int64_t>(std::min(mt, 9e18));

    if (auto const* sys = member(*o, "system")) {
        auto t = block_text(*sys, "system");
        if (!t) return t.error();
        req.system = std::move(*t);
    }

    auto const* messages = member(*o, "messages");
    if (!messages) return missing("messages");
    if (!messages->is_array()) return wrong_type("messages", "a list", *messages);
    auto const& list = messages->get_array();
    if (list.empty()) return invalid_field("messages", "messages: at least one message is required");
    std::unordered_map<std::string_view, std::string_view> call_names;
    req.messages.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto const where = "messages." + std::to_string(i);
        auto const* m = list[i].if_object();
        if (!m) return wrong_type(where, "an object", list[i]);
        auto const* role_v = member(*m, "role");
        if (!role_v) return missing(where + ".role");
        if (!role_v->is_string()) return wrong_type(where + ".role", "a string", *role_v);
        message msg;
        if (role_v->get_string() == "user")
            msg.role = role::user;
        else if (role_v->get_string() == "assistant")
            msg.role = role::assistant;
        else
            return invalid_field(where + ".role", where + ".role: Input should be 'user' or "
                                                          "'assistant'");
        auto const* content = member(*m, "content");
        if (!content) return missing(where + ".content");
        if (auto const* s = content->if_string()) {
            msg.content.emplace_back(text_part{std::string(sv(*s))});
        } else if (auto const* blocks = content->if_array()) {
            for (std::size_t j = 0; j < blocks->size(); ++j) {
                auto const at = where + ".content." + std::to_string(j);
                auto const* b = (*blocks)[j].if_object();
                if (!b) return wrong_type(at, "an object", (*blocks)[j]);
                auto const* type = member(*b, "type");
                if (!type || !type->is_string()) return missing(at + ".type");
                std::string_view const ty = sv(type->get_string());
                if (ty == "text") {
                    auto const* t = member(*b, "text");
                    if (!t || !t->is_string()) return missing(at + ".text");
                    msg.content.emplace_back(text_part{std::string(sv(t->get_string()))});
                } else if (ty == "image") {
                    if (msg.role != role::user)
                        return invalid_field(at, at + ": images belong in user messages");
                    auto const* src = member(*b, "source");
                    if (!src || !src->is_object()) return missing(at + ".source");
                    auto const& so = src->get_object();
                    auto const* st = member(so, "type");
                    if (st && st->is_string() && st->get_string() == "base64") {
                        auto const* mtv = member(so, "media_type");
                        auto const* data = member(so, "data");
                        if (!mtv || !mtv->is_string()) return missing(at + ".source.media_type");
                        if (!data || !data->is_string()) return missing(at + ".source.data");
                        msg.content.emplace_back(
                            image_base64(sv(mtv->get_string()), sv(data->get_string())));
                    } else if (st && st->is_string() && st->get_string() == "url") {
                        auto const* url = member(so, "url");
                        if (!url || !url->is_string()) return missing(at + ".source.url");
                        msg.content.emplace_back(image_part{std::string(sv(url->get_string())), {}});
                    } else {
                        return invalid_field(at + ".source.type",
                                             at + ".source.type: expected 'base64' or 'url'");
                    }
                } else if (ty == "tool_use") {
                    if (msg.role != role::assistant)
                        return invalid_field(at, at + ": tool_use blocks belong in assistant "
                                                      "messages");
                    auto const* id = member(*b, "id");
                    auto const* name = member(*b, "name");
                    if (!id || !id->is_string()) return missing(at + ".id");
                    if (!name || !name->is_string()) return missing(at + ".name");
                    tool_call tc;
                    tc.id = std::string(sv(id->get_string()));
                    tc.name = std::string(sv(name->get_string()));
                    if (auto const* in = member(*b, "input")) {
                        if (!in->is_object()) return wrong_type(at + ".input", "an object", *in);
                        tc.arguments = to_json(*in);
                    } else {
                        tc.arguments = "{}";
                    }
                    call_names[sv(id->get_string())] = sv(name->get_string());
                    msg.content.emplace_back(std::move(tc));
                } else if (ty == "tool_result") {
                    if (msg.role != role::user)
                        return invalid_field(at, at + ": tool_result blocks belong in user "
                                                      "messages");
                    auto const* id = member(*b, "tool_use_id");
                    if (!id || !id->is_string()) return missing(at + ".tool_use_id");
                    tool_result r;
                    r.tool_call_id = std::string(sv(id->get_string()));
                    if (auto it = call_names.find(sv(id->get_string())); it != call_names.end())
                        r.name = std::string(it->second);
                    if (auto const* c = member(*b, "content")) {
                        auto t = block_text(*c, at + ".content");
                        if (!t) return t.error();
                        r.content = std::move(*t);
                    }
                    if (auto const* e = member(*b, "is_error")) {
                        if (!e->is_bool()) return wrong_type(at + ".is_error", "a boolean", *e);
                        r.is_error = e->get_bool();
                    }
                    msg.content.emplace_back(std::move(r));
                } else if (ty == "thinking" || ty == "redacted_thinking") {
                    // Signed reasoning of an earlier Claude answer: meaningless to another
                    // provider, and optional for Claude itself outside tool loops.
                    continue;
                } else {
                    return invalid_field(at + ".type", at + ".type: '" + std::string(ty) +
                                                           "' blocks are not supported by this "
                                                           "gateway (text, image, tool_use, "
                                                           "tool_result)");
                }
            }
            if (msg.content.empty()) msg.content.emplace_back(text_part{});
        } else {
            return wrong_type(where + ".content", "a string or a list of blocks", *content);
        }
        req.messages.push_back(std::move(msg));
    }

    auto number = [&](char const* key, double lo, double hi,
                      std::optional<double>& into) -> std::optional<api_error> {
        auto const* v = member(*o, key);
        if (!v) return std::nullopt;
        if (!v->is_number()) return wrong_type(key, "a number", *v);
        double const d = v->to_number<double>();
        if (!(d >= lo && d <= hi))
            return invalid_field(key, std::string(key) + ": out of range");
        into = d;
        return std::nullopt;
    };
    if (auto e = number("temperature", 0, 1, req.temperature)) return *e;
    if (auto e = number("top_p", 0, 1, req.top_p)) return *e;
    if (auto const* tk = member(*o, "top_k"); tk && !tk->is_number())
        return wrong_type("top_k", "an integer", *tk);  // accepted, not sent on: not portable

    if (auto const* ss = member(*o, "stop_sequences")) {
        if (!ss->is_array()) return wrong_type("stop_sequences", "a list", *ss);
        for (std::size_t j = 0; j < ss->get_array().size(); ++j) {
            auto const& s = ss->get_array()[j];
            if (!s.is_string())
                return wrong_type("stop_sequences." + std::to_string(j), "a string", s);
            req.stop.emplace_back(sv(s.get_string()));
        }
    }
    if (auto const* md = member(*o, "metadata")) {
        if (!md->is_object()) return wrong_type("metadata", "an object", *md);
        if (auto const* u = member(md->get_object(), "user_id")) {
            if (!u->is_string()) return wrong_type("metadata.user_id", "a string", *u);
            req.user = std::string(sv(u->get_string()));
        }
    }
    if (auto const* s = member(*o, "stream")) {
        if (!s->is_bool()) return wrong_type("stream", "a boolean", *s);
        out.stream = s->get_bool();
    }
    if (auto const* tools = member(*o, "tools")) {
        if (!tools->is_array()) return wrong_type("tools", "a list", *tools);
        auto const& arr = tools->get_array();
        for (std::size_t j = 0; j < arr.size(); ++j) {
            auto const at = "tools." + std::to_string(j);
            auto const* t = arr[j].if_object();
            if (!t) return wrong_type(at, "an object", arr[j]);
            if (auto const* ty = member(*t, "type");
                ty && !(ty->is_string() && ty->get_string() == "custom"))
                return invalid_field(at + ".type", at + ".type: server tools are not supported "
                                                        "by this gateway");
            auto const* name = member(*t, "name");
            if (!name || !name->is_string() || name->get_string().empty())
                return missing(at + ".name");
            tool tl;
            tl.name = std::string(sv(name->get_string()));
            if (auto const* d = member(*t, "description")) {
                if (!d->is_string()) return wrong_type(at + ".description", "a string", *d);
                tl.description = std::string(sv(d->get_string()));
            }
            auto const* schema = member(*t, "input_schema");
            if (!schema) return missing(at + ".input_schema");
            if (!schema->is_object()) return wrong_type(at + ".input_schema", "an object", *schema);
            tl.parameters = json::object(schema->get_object(), json::storage_ptr());
            if (auto const* s = member(*t, "strict"); s && s->is_bool()) tl.strict = s->get_bool();
            req.tools.push_back(std::move(tl));
        }
    }
    if (auto const* tc = member(*o, "tool_choice")) {
        if (!tc->is_object()) return wrong_type("tool_choice", "an object", *tc);
        auto const* type = member(tc->get_object(), "type");
        if (!type || !type->is_string()) return missing("tool_choice.type");
        std::string_view const ty = sv(type->get_string());
        if (ty == "auto") {
            req.tool_choice = tool_choice::automatic();
        } else if (ty == "any") {
            req.tool_choice = tool_choice::required();
        } else if (ty == "none") {
            req.tool_choice = tool_choice::none();
        } else if (ty == "tool") {
            auto const* name = member(tc->get_object(), "name");
            if (!name || !name->is_string()) return missing("tool_choice.name");
            req.tool_choice = tool_choice::named(std::string(sv(name->get_string())));
            bool found = false;
            for (auto const& t : req.tools) found = found || t.name == req.tool_choice->name;
            if (!found)
                return invalid_field("tool_choice.name", "tool_choice.name: no tool named '" +
                                                             req.tool_choice->name + "'");
        } else {
            return invalid_field("tool_choice.type", "tool_choice.type: expected auto, any, tool "
                                                     "or none");
        }
        if (req.tool_choice->how == tool_choice::mode::required && req.tools.empty())
            return invalid_field("tool_choice", "tool_choice: 'any' needs at least one tool");
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Rendering

std::string_view anthropic_stop_reason(finish_reason r) noexcept {
    switch (r) {
    case finish_reason::length: return "max_tokens";
    case finish_reason::tool_calls: return "tool_use";
    case finish_reason::content_filter: return "refusal";
    case finish_reason::stop:
    case finish_reason::unknown:
    case finish_reason::error: break;
    }
    return "end_turn";
}

std::string_view anthropic_error_type(unsigned status) noexcept {
    switch (status) {
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    case 504: return "timeout_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

namespace {

/// Anthropic's `input_tokens` leave out the cached ones (PROVIDERS.md 3.2); llmux counts all.
void append_anthropic_usage(std::string& out, usage const& u, bool with_input) {
    auto const cached = u.cached_input_tokens.value_or(0);
    auto const written = u.cache_write_tokens.value_or(0);
    auto const in = u.input_tokens.value_or(0);
    out += '{';
    if (with_input) {
        out += "\"input_tokens\":";
        append_number(out, in > cached + written ? in - cached - written : std::uint64_t(0));
        out += ",\"cache_creation_input_tokens\":";
        append_number(out, written);
        out += ",\"cache_read_input_tokens\":";
        append_number(out, cached);
        out += ',';
    }
    out += "\"output_tokens\":";
    append_number(out, u.output_tokens.value_or(0));
    out += '}';
}

/// A tool call's arguments as the `input` object Anthropic clients expect; arguments that are
/// not a JSON object (a model's malformed output) become `{}`.
void append_tool_input(std::string& out, std::string_view arguments) {
    boost::system::error_code ec;
    unsigned char first_block[1024];
    json::monotonic_resource arena(first_block, sizeof first_block);
    auto const v = json::parse(arguments, ec, &arena);
    if (!ec && v.is_object())
        out += arguments;
    else
        out += "{}";
}

}  // namespace

void render_anthropic_response(chat_response const& r, answer_meta const& m, std::string& out) {
    out += "{\"id\":";
    append_json_string(out, m.id);
    out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
    append_json_string(out, m.model);
    out += ",\"content\":[";
    bool first = true;
    if (!r.content.empty() || r.tool_calls.empty()) {
        out += "{\"type\":\"text\",\"text\":";
        append_json_string(out, r.content);
        out += '}';
        first = false;
    }
    for (auto const& c : r.tool_calls) {
        if (!first) out += ',';
        first = false;
        out += "{\"type\":\"tool_use\",\"id\":";
        append_json_string(out, c.id);
        out += ",\"name\":";
        append_json_string(out, c.name);
        out += ",\"input\":";
        append_tool_input(out, c.arguments);
        out += '}';
    }
    out += "],\"stop_reason\":\"";
    auto fr = r.finish_reason;
    if (fr == finish_reason::unknown && !r.tool_calls.empty()) fr = finish_reason::tool_calls;
    out += anthropic_stop_reason(fr);
    out += "\",\"stop_sequence\":null,\"usage\":";
    append_anthropic_usage(out, r.usage, true);
    out += '}';
}

void render_anthropic_error(api_error const& e, std::string& out) {
    out += "{\"type\":\"error\",\"error\":{\"type\":";
    append_json_string(out, e.type.empty() ? anthropic_error_type(e.status) : e.type);
    out += ",\"message\":";
    append_json_string(out, e.message);
    out += "}}";
}

// ---------------------------------------------------------------------------------------------
// Streams

anthropic_stream_writer::anthropic_stream_writer(answer_meta const& m)
    : id_(m.id), model_(m.model) {}

void anthropic_stream_writer::begin(std::string& out) {
    if (started_) return;
    started_ = true;
    // Input tokens are known only at the end for most providers: message_delta carries them.
    out += "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":";
    append_json_string(out, id_);
    out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
    append_json_string(out, model_);
    out += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
           "\"input_tokens\":0,\"output_tokens\":0}}}\n\n";
}

void anthropic_stream_writer::close_block(std::string& out) {
    if (open_ < 0) return;
    out += "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":";
    append_number(out, static_cast<std::int64_t>(open_));
    out += "}\n\n";
    open_ = -1;
}

void anthropic_stream_writer::open_text(std::string& out) {
    if (open_ >= 0 && open_is_text_) return;
    close_block(out);
    open_ = next_index_++;
    open_is_text_ = true;
    out += "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":";
    append_number(out, static_cast<std::int64_t>(open_));
    out += ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
}

void anthropic_stream_writer::chunk(chat_chunk const& c, std::string& out) {
    if (finished_) return;
    begin(out);
    if (!c.text.empty()) {
        open_text(out);
        out += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":";
        append_number(out, static_cast<std::int64_t>(open_));
        out += ",\"delta\":{\"type\":\"text_delta\",\"text\":";
        append_json_string(out, c.text);
        out += "}}\n\n";
    }
    for (auto const& d : c.tool_calls) {
        auto it = tool_blocks_.find(d.index);
        if (it == tool_blocks_.end()) {
            // A new call: its own tool_use block. Blocks are sequential in Anthropic's
            // streams, so the open one ends here.
            close_block(out);
            open_ = next_index_++;
            open_is_text_ = false;
            open_tool_ = d.index;
            tool_blocks_.emplace(d.index, open_);
            out += "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                   "\"index\":";
            append_number(out, static_cast<std::int64_t>(open_));
            out += ",\"content_block\":{\"type\":\"tool_use\",\"id\":";
            append_json_string(out, d.id);
            out += ",\"name\":";
            append_json_string(out, d.name);
            out += ",\"input\":{}}}\n\n";
            it = tool_blocks_.find(d.index);
        } else if (open_ != it->second) {
            // A fragment of a call whose block was closed (providers stream calls one after
            // another, so this does not happen in practice): it cannot be reopened.
            continue;
        }
        if (d.arguments.empty()) continue;
        out += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":";
        append_number(out, static_cast<std::int64_t>(it->second));
        out += ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":";
        append_json_string(out, d.arguments);
        out += "}}\n\n";
    }
}

void anthropic_stream_writer::finish(chat_response const& r, std::string& out) {
    if (finished_) return;
    begin(out);
    if (next_index_ == 0) open_text(out);  // at least one (empty) text block, as Claude sends
    close_block(out);
    auto fr = r.finish_reason;
    if (fr == finish_reason::unknown && !r.tool_calls.empty()) fr = finish_reason::tool_calls;
    out += "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"";
    out += anthropic_stop_reason(fr);
    out += "\",\"stop_sequence\":null},\"usage\":";
    append_anthropic_usage(out, r.usage, r.usage.input_tokens.has_value());
    out += "}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    finished_ = true;
}

void anthropic_stream_writer::error(api_error const& e, std::string& out) {
    out += "event: error\ndata: ";
    render_anthropic_error(e, out);
    out += "\n\n";
    finished_ = true;
}

void anthropic_stream_writer::malformed(std::string& out) {
    out += "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
           "\"delta\":{\"type\":\"text_delta\",\"text\":\"malformed}\n\n";
}

// ---------------------------------------------------------------------------------------------

namespace {

constexpr endpoint endpoints_table[] = {
    {"POST", "/v1/messages", operation::chat},
};

class anthropic_messages_server_impl final : public wire_server {
public:
    std::string_view name() const noexcept override { return "anthropic"; }

    std::span<endpoint const> endpoints() const noexcept override { return endpoints_table; }

    credential presented_credential(request_head const& head) const override {
        // The SDK sends x-api-key; with an auth token (Claude Code's ANTHROPIC_AUTH_TOKEN),
        // a bearer token.
        if (auto const key = trim(head.header("x-api-key")); !key.empty())
            return {credential::kind::api_key, key};
        std::string_view const auth = head.header("authorization");
        if (auth.size() > 7 && iequals(auth.substr(0, 7), "Bearer ")) {
            auto const key = trim(auth.substr(7));
            if (!key.empty()) return {credential::kind::api_key, key};
        }
        return {};
    }

    std::string_view key_hint() const noexcept override { return "x-api-key: <key>"; }

    boost::system::result<inbound_request, api_error>
    decode_request(request_head const& head, std::string_view body) const override {
        (void)head;
        return parse_anthropic_request(body);
    }

    void encode_response(chat_response const& r, answer_meta const& m,
                         std::string& out) const override {
        render_anthropic_response(r, m, out);
    }

    std::string_view stream_content_type() const noexcept override { return "text/event-stream"; }

    std::unique_ptr<stream_encoder> make_stream_encoder(answer_meta const& m,
                                                        bool include_usage) const override {
        (void)include_usage;  // Anthropic's streams always end with their usage
        return std::make_unique<anthropic_stream_writer>(m);
    }

    http_answer encode_error(api_error const& e) const override {
        http_answer a;
        a.status = e.status;
        a.content_type = "application/json";
        if (e.retry_after) {
            auto const ms = e.retry_after->count();
            a.headers.emplace_back("retry-after", std::to_string((ms + 999) / 1000));
            a.headers.emplace_back("retry-after-ms", std::to_string(ms));
        }
        if (e.no_retry) a.headers.emplace_back("x-should-retry", "false");
        render_anthropic_error(e, a.body);
        return a;
    }

    std::string make_id(id_kind kind, std::string_view tag, std::uint64_t n) const override {
        std::string out = kind == id_kind::response    ? "msg_"
                          : kind == id_kind::tool_call ? "toolu_"
                                                       : "req_";
        out += tag;
        out += '_';
        append_number(out, n);
        return out;
    }
};

}  // namespace

wire_server const& anthropic_messages_server() {
    static anthropic_messages_server_impl const instance;
    return instance;
}

}  // namespace llmux::detail
