// SPDX-License-Identifier: BSL-1.0
// The emulator's Anthropic Messages wire format (PROVIDERS.md §3, §5.3): requests at any path
// ending in /v1/messages (x-api-key or a Bearer token, and an anthropic-version header) and
// Claude on Vertex AI at .../publishers/anthropic/models/{model}:rawPredict|:streamRawPredict
// (a Bearer access token; the model and streaming come from the path, the body carries
// anthropic_version instead of model). Answers, SSE events from message_start to message_stop,
// and Anthropic's error bodies.
#include "util/json_text.hpp"
#include "emulator/protocol.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

namespace llmux::detail {

namespace {

namespace http = boost::beast::http;
using namespace std::string_view_literals;

constexpr auto vertex_marker = "/publishers/anthropic/models/"sv;
constexpr auto vertex_version = "vertex-2023-10-16"sv;

emu_error invalid(std::string message) {
    return {400, std::move(message), "invalid_request_error", "", ""};
}

/// Google's own error shape (Vertex's front end answers auth failures in it): the type is
/// Google's upper-case status, which is how `render_error` tells the two shapes apart.
emu_error google_error(unsigned status, std::string message, std::string google_status) {
    return {status, std::move(message), std::move(google_status), "", ""};
}

bool is_google_status(std::string_view type) noexcept {
    return !type.empty() && std::all_of(type.begin(), type.end(),
                                        [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; });
}

/// Text of a `content` value (a string or blocks), for the prompt estimate and the echo:
/// text blocks, and the text of tool results.
void append_content_text(boost::json::value const* content, std::string& out) {
    if (!content) return;
    if (auto const* s = content->if_string()) {
        out.append(s->data(), s->size());
        return;
    }
    auto const* blocks = content->if_array();
    if (!blocks) return;
    for (auto const& b : *blocks) {
        auto const* o = b.if_object();
        if (!o) continue;
        if (auto const* t = o->if_contains("text"); t && t->is_string()) {
            out.append(t->get_string().data(), t->get_string().size());
        } else if (auto const* c = o->if_contains("content")) {
            append_content_text(c, out);  // a tool_result
        }
    }
}

std::string_view stop_reason(emu_finish f) noexcept {
    switch (f) {
    case emu_finish::stop:
        return "end_turn";
    case emu_finish::length:
        return "max_tokens";
    case emu_finish::tool_calls:
        return "tool_use";
    }
    return "end_turn";
}

/// Usage as the real API reports it: input without cache, cache counters, output.
void append_usage(std::string& out, emu_answer const& a, std::uint64_t output) {
    out += "{\"input_tokens\":";
    append_number(out, a.prompt_tokens);
    out += ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":";
    append_number(out, output);
    out += '}';
}

void append_event(std::string& out, std::string_view name) {
    out += "event: ";
    out += name;
    out += "\ndata: ";
}

class anthropic_protocol final : public emulator_protocol {
public:
    std::string_view name() const noexcept override { return "anthropic"; }

    emu_route route(http::verb method, std::string_view path) const override {
        emu_route r;
        if (method != http::verb::post) return r;
        if (path.ends_with("/v1/messages")) {
            r.endpoint = emu_endpoint::chat;
            return r;
        }
        auto const p = path.find(vertex_marker);
        if (p == std::string_view::npos) return r;
        auto const rest = path.substr(p + vertex_marker.size());
        auto const colon = rest.rfind(':');
        if (colon == std::string_view::npos || colon == 0) return r;
        auto const verb = rest.substr(colon + 1);
        if (verb != "rawPredict" && verb != "streamRawPredict") return r;
        std::string model = percent_decode(rest.substr(0, colon));
        if (model.empty() || model.find('/') != std::string::npos) return r;
        r.endpoint = emu_endpoint::chat;
        r.path_model = std::move(model);
        r.path_stream = verb == "streamRawPredict";
        return r;
    }

    std::optional<emu_error> check_auth(server_request const& req,
                                        emu_auth const& auth) const override {
        std::string_view const target = req.target();
        std::string_view const path = target.substr(0, target.find('?'));
        std::string_view const authorization = req[http::field::authorization];
        std::string_view bearer;
        if (authorization.size() > 7 &&
            boost::beast::iequals(authorization.substr(0, 7), "Bearer "))
            bearer = authorization.substr(7);
        if (path.find(vertex_marker) != std::string_view::npos) {
            // Vertex: a Google OAuth access token, checked by Google's front end.
            if (bearer.empty())
                return google_error(401,
                                    "Request is missing required authentication credential. "
                                    "Expected OAuth 2 access token, login cookie or other valid "
                                    "authentication credential.",
                                    "UNAUTHENTICATED");
            if (!auth.bearer_token || !auth.bearer_token(bearer))
                return google_error(401,
                                    "Request had invalid authentication credentials. Expected "
                                    "OAuth 2 access token, login cookie or other valid "
                                    "authentication credential.",
                                    "UNAUTHENTICATED");
            return std::nullopt;
        }
        bool const has_key =
            !req["x-api-key"].empty() || bearer.find_first_not_of(' ') != std::string_view::npos;
        if (!has_key) return unauthorized();
        if (req["anthropic-version"].empty())
            return invalid("anthropic-version: header is required");
        return std::nullopt;
    }

    boost::system::result<emu_request, emu_error>
    parse_chat(boost::json::value const& doc, emu_route const& route) const override {
        auto const* body = doc.if_object();
        if (!body)
            return invalid(std::string("Input should be a valid dictionary, got ") +
                           json_kind(doc));
        bool const vertex = !route.path_model.empty();
        emu_request r;

        if (vertex) {
            auto const* v = body->if_contains("anthropic_version");
            if (!v || !v->is_string()) return invalid("anthropic_version: Field required");
            if (v->get_string() != vertex_version)
                return invalid("anthropic_version: Input should be '" +
                               std::string(vertex_version) + "'");
            r.model = route.path_model;
            r.stream = route.path_stream;
        } else {
            auto const* m = body->if_contains("model");
            if (!m || m->is_null()) return invalid("model: Field required");
            if (!m->is_string() || m->get_string().empty())
                return invalid(std::string("model: Input should be a valid string, got ") +
                               json_kind(*m));
            r.model = std::string(m->get_string());
            if (auto const* s = body->if_contains("stream"); s && !s->is_null()) {
                if (!s->is_bool()) return invalid("stream: Input should be a valid boolean");
                r.stream = s->get_bool();
            }
        }

        auto const* mt = body->if_contains("max_tokens");
        if (!mt || mt->is_null()) return invalid("max_tokens: Field required");
        std::int64_t n = 0;
        if (mt->is_int64())
            n = mt->get_int64();
        else if (mt->is_uint64())
            n = static_cast<std::int64_t>(std::min<std::uint64_t>(mt->get_uint64(), INT64_MAX));
        else
            return invalid(std::string("max_tokens: Input should be a valid integer, got ") +
                           json_kind(*mt));
        if (n < 1) return invalid("max_tokens: Input should be greater than or equal to 1");
        r.max_tokens = static_cast<std::uint64_t>(n);

        std::string text;
        if (auto const* sys = body->if_contains("system"); sys && !sys->is_null()) {
            if (!sys->is_string() && !sys->is_array())
                return invalid("system: Input should be a valid string or a list of text blocks");
            append_content_text(sys, text);
            r.prompt_chars += text.size();
        }

        auto const* messages = body->if_contains("messages");
        if (!messages || messages->is_null()) return invalid("messages: Field required");
        if (!messages->is_array())
            return invalid(std::string("messages: Input should be a valid list, got ") +
                           json_kind(*messages));
        auto const& list = messages->get_array();
        if (list.empty()) return invalid("messages: at least one message is required");
        for (std::size_t i = 0; i < list.size(); ++i) {
            auto where = [i] { return "messages." + std::to_string(i); };
            auto const* msg = list[i].if_object();
            if (!msg) return invalid(where() + ": Input should be a valid dictionary");
            auto const* role_v = msg->if_contains("role");
            if (!role_v || !role_v->is_string()) return invalid(where() + ".role: Field required");
            std::string_view const role = role_v->get_string();
            if (role == "system")
                return invalid("messages: Unexpected role \"system\". The Messages API accepts a "
                               "top-level `system` parameter, not \"system\" as an input "
                               "message role.");
            if (role != "user" && role != "assistant")
                return invalid(where() + ".role: Input should be 'user' or 'assistant'");
            auto const* content = msg->if_contains("content");
            if (!content || content->is_null())
                return invalid(where() + ".content: Field required");
            if (!content->is_string() && !content->is_array())
                return invalid(where() + ".content: Input should be a valid string or list");
            if (auto err = check_blocks(*content, where() + ".content")) return *err;

            text.clear();
            append_content_text(content, text);
            r.prompt_chars += text.size();
            bool results = false;
            if (auto const* blocks = content->if_array()) {
                for (auto const& b : *blocks) {
                    auto const& bo = b.get_object();  // checked by check_blocks
                    auto const type = bo.at("type").get_string();
                    if (type == "tool_result") results = true;
                    if (type == "tool_use")
                        if (auto const* in = bo.if_contains("input"))
                            r.prompt_chars += boost::json::serialize(*in).size();
                }
            }
            if (role != "user") continue;
            bool const last = i + 1 == list.size();
            if (last && results) {
                r.last_is_tool_result = true;
                r.tool_result = text;
            }
            // The echo quotes the user's words, not tool output.
            std::string words;
            if (auto const* s = content->if_string()) {
                words = std::string(*s);
            } else {
                for (auto const& b : content->get_array()) {
                    auto const& bo = b.get_object();
                    if (bo.at("type").get_string() == "text")
                        if (auto const* t = bo.if_contains("text"); t && t->is_string())
                            words += t->get_string();
                }
            }
            if (!words.empty() || !results) r.last_user_text = std::move(words);
        }

        if (auto const* tools = body->if_contains("tools"); tools && !tools->is_null()) {
            if (!tools->is_array()) return invalid("tools: Input should be a valid list");
            auto const& tl = tools->get_array();
            for (std::size_t i = 0; i < tl.size(); ++i) {
                auto const* to = tl[i].if_object();
                auto const* name = to ? to->if_contains("name") : nullptr;
                if (!name || !name->is_string() || name->get_string().empty())
                    return invalid("tools." + std::to_string(i) + ".name: Field required");
                emu_tool tool;
                tool.name = name->get_string();
                if (auto const* t = to->if_contains("type"); t && t->is_string()) {
                    // Server tools (web_search_...) are run by Anthropic, not called back.
                    if (t->get_string() != "custom") continue;
                }
                auto const* schema = to->if_contains("input_schema");
                if (!schema || !schema->is_object())
                    return invalid("tools." + std::to_string(i) +
                                   ".custom.input_schema: Field "
                                   "required");
                tool.parameters = &schema->get_object();
                r.tools.push_back(tool);
            }
        }
        if (auto const* tc = body->if_contains("tool_choice"); tc && !tc->is_null()) {
            auto const* o = tc->if_object();
            auto const* t = o ? o->if_contains("type") : nullptr;
            if (!t || !t->is_string())
                return invalid("tool_choice: Input tag '' found using 'type' does not match any "
                               "of the expected tags: 'auto', 'any', 'tool', 'none'");
            std::string_view const type = t->get_string();
            if (type == "auto") {
                r.tool_choice = emu_request::tool_mode::automatic;
            } else if (type == "any") {
                r.tool_choice = emu_request::tool_mode::required;
            } else if (type == "none") {
                r.tool_choice = emu_request::tool_mode::none;
            } else if (type == "tool") {
                auto const* name = o->if_contains("name");
                if (!name || !name->is_string())
                    return invalid("tool_choice.tool.name: Field required");
                r.tool_choice = emu_request::tool_mode::named;
                r.tool_choice_name = std::string(name->get_string());
                bool const known =
                    std::any_of(r.tools.begin(), r.tools.end(),
                                [&](emu_tool const& x) { return x.name == r.tool_choice_name; });
                if (!known)
                    return invalid("tool_choice: Tool '" + r.tool_choice_name +
                                   "' not found in provided tools");
            } else {
                return invalid("tool_choice: Input tag '" + std::string(type) +
                               "' found using 'type' does not match any of the expected tags: "
                               "'auto', 'any', 'tool', 'none'");
            }
            if (r.tools.empty() && r.tool_choice != emu_request::tool_mode::automatic &&
                r.tool_choice != emu_request::tool_mode::none)
                return invalid("tool_choice may only be specified while providing tools.");
        }
        return r;
    }

    emu_error error_for_status(unsigned status, std::string_view model) const override {
        std::string const m(model);
        switch (status) {
        case 400:
            return invalid("Invalid request (emulated error).");
        case 401:
            return {401, "invalid x-api-key", "authentication_error", "", ""};
        case 402:
            return {402,
                    "Your credit balance is too low to access the Anthropic API. Please go to "
                    "Plans & Billing to upgrade or purchase credits.",
                    "billing_error", "", ""};
        case 403:
            return {403, "Your API key does not have permission to use the specified resource.",
                    "permission_error", "", ""};
        case 404:
            return {404, "model: " + m, "not_found_error", "", ""};
        case 413:
            return {413, "Request exceeds the maximum allowed number of bytes.",
                    "request_too_large", "", ""};
        case 429:
            return {429,
                    "This request would exceed the rate limit for your organization of 50 "
                    "requests per minute. For details, refer to: "
                    "https://docs.claude.com/en/api/rate-limits.",
                    "rate_limit_error", "", ""};
        case 500:
            return {500, "Internal server error", "api_error", "", ""};
        case 504:
            return {504, "Request timed out", "timeout_error", "", ""};
        case 529:
            return {529, "Overloaded", "overloaded_error", "", ""};
        default:
            return {status, "Emulated error (HTTP " + std::to_string(status) + ").",
                    status >= 500 ? "api_error" : "invalid_request_error", "", ""};
        }
    }

    emu_error unauthorized() const override {
        return {401, "x-api-key header is required", "authentication_error", "", ""};
    }

    emu_error unknown_route(std::string_view method, std::string_view target) const override {
        return {404, "Not found: " + std::string(method) + " " + std::string(target),
                "not_found_error", "", ""};
    }

    emu_error invalid_json(std::string_view detail) const override {
        return invalid("There was an error parsing the body of your request as JSON (" +
                       std::string(detail) + ")");
    }

    emu_error bad_request(std::string message) const override {
        return invalid(std::move(message));
    }

    void render_error(emu_error const& e, std::string& out) const override {
        if (is_google_status(e.type)) {
            out += "{\"error\":{\"code\":";
            append_number(out, static_cast<std::uint64_t>(e.status));
            out += ",\"message\":";
            append_json_string(out, e.message);
            out += ",\"status\":";
            append_json_string(out, e.type);
            out += "}}";
            return;
        }
        out += "{\"type\":\"error\",\"error\":{\"type\":";
        append_json_string(out, e.type);
        out += ",\"message\":";
        append_json_string(out, e.message);
        out += "}}";
    }

    void add_headers(server_exchange& ex, std::uint64_t number,
                     std::uint64_t processing_ms) const override {
        (void)processing_ms;
        std::string v = "req_emu_";
        append_number(v, number);
        ex.add_header("request-id", v);
        ex.add_header("anthropic-organization-id", "llmux-emulator");
    }

    void render_models(std::span<std::string const> models, std::string& out) const override {
        out += "{\"data\":[";
        bool first = true;
        for (auto const& m : models) {
            if (!first) out += ',';
            first = false;
            render_model(m, out);
        }
        out += "],\"has_more\":false,\"first_id\":";
        append_json_string_or_null(out, models.empty() ? std::string_view() : models.front());
        out += ",\"last_id\":";
        append_json_string_or_null(out, models.empty() ? std::string_view() : models.back());
        out += '}';
    }

    void render_model(std::string_view model, std::string& out) const override {
        out += "{\"type\":\"model\",\"id\":";
        append_json_string(out, model);
        out += ",\"display_name\":";
        append_json_string(out, model);
        out += ",\"created_at\":\"2025-01-01T00:00:00Z\"}";
    }

    void render_response(emu_answer const& a, std::string& out) const override {
        out += "{\"id\":\"msg_emu_";
        append_number(out, a.number);
        out += "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
        append_json_string(out, a.model);
        out += ",\"content\":[";
        if (a.tool_call) {
            out += "{\"type\":\"tool_use\",\"id\":";
            append_tool_id(out, a);
            out += ",\"name\":";
            append_json_string(out, a.tool_name);
            out += ",\"input\":";
            // `input` is an object: arguments cut by max_tokens are not one.
            if (a.sent_text().size() == a.text.size())
                out += a.text;
            else
                out += "{}";
            out += '}';
        } else {
            out += "{\"type\":\"text\",\"text\":";
            append_json_string(out, a.sent_text());
            out += '}';
        }
        out += "],\"stop_reason\":\"";
        out += stop_reason(a.finish);
        out += "\",\"stop_sequence\":null,\"usage\":";
        append_usage(out, a, a.completion_tokens);
        out += '}';
    }

    void render_malformed_response(emu_answer const& a, std::string& out) const override {
        // A member without a value right after the opening brace: the shape of a message, but
        // no JSON parser accepts it.
        out += "{\"malformed\": ,";
        std::size_t const at = out.size();
        render_response(a, out);
        out.erase(at, 1);  // the response's own '{'
    }

    std::string_view stream_content_type() const noexcept override {
        return "text/event-stream; charset=utf-8";
    }

    void stream_begin(emu_answer& a, std::string& out) const override {
        append_event(out, "message_start");
        out += "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_emu_";
        append_number(out, a.number);
        out += "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
        append_json_string(out, a.model);
        out += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":";
        append_usage(out, a, 1);  // the real API reports 1 output token at the start
        out += "}}\n\n";

        append_event(out, "content_block_start");
        if (a.tool_call) {
            out += "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                   "{\"type\":\"tool_use\",\"id\":";
            append_tool_id(out, a);
            out += ",\"name\":";
            append_json_string(out, a.tool_name);
            out += ",\"input\":{}}}\n\n";
        } else {
            out += "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                   "{\"type\":\"text\",\"text\":\"\"}}\n\n";
        }
        append_ping(out);

        // Every delta starts the same way: build that prefix once per stream.
        auto& p = a.scratch;
        p.clear();
        append_event(p, "content_block_delta");
        p += R"({"type":"content_block_delta","index":0,"delta":)";
        p += a.tool_call ? R"({"type":"input_json_delta","partial_json":)"
                         : R"({"type":"text_delta","text":)";
        if (a.tool_call) {
            // As the real API does, the arguments start with an empty piece.
            out += p;
            out += "\"\"}}\n\n";
        }
    }

    void stream_piece(emu_answer& a, std::size_t i, std::string& out) const override {
        out += a.scratch;
        append_json_string(out, a.piece(i));
        out += "}}\n\n";
    }

    void stream_end(emu_answer& a, std::string& out) const override {
        append_event(out, "content_block_stop");
        out += "{\"type\":\"content_block_stop\",\"index\":0}\n\n";
        append_event(out, "message_delta");
        out += "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"";
        out += stop_reason(a.finish);
        out += "\",\"stop_sequence\":null},\"usage\":";
        append_usage(out, a, a.completion_tokens);  // cumulative, as the real API sends it
        out += "}\n\n";
        append_event(out, "message_stop");
        out += "{\"type\":\"message_stop\"}\n\n";
    }

    void stream_error(emu_answer&, std::string& out) const override {
        append_event(out, "error");
        out += "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
               "\"Overloaded\"}}\n\n";
    }

    void stream_malformed(emu_answer& a, std::string& out) const override {
        // An unterminated string: an event that starts like the others and cannot be parsed.
        out += a.scratch;
        out += "\"malformed}\n\n";
    }

private:
    static void append_tool_id(std::string& out, emu_answer const& a) {
        out += "\"toolu_emu_";
        append_number(out, a.number);
        out += '"';
    }

    static void append_ping(std::string& out) {
        append_event(out, "ping");
        out += "{\"type\": \"ping\"}\n\n";
    }

    /// Checks the blocks of a content array the way the API does (a type each; tool_use
    /// with an id, a name and an object input; tool_result with a tool_use_id; images with a
    /// source). Returns the 400 to answer with.
    static std::optional<emu_error> check_blocks(boost::json::value const& content,
                                                 std::string const& where) {
        auto const* blocks = content.if_array();
        if (!blocks) return std::nullopt;
        for (std::size_t j = 0; j < blocks->size(); ++j) {
            auto at = [&] { return where + "." + std::to_string(j); };
            auto const* b = (*blocks)[j].if_object();
            if (!b) return invalid(at() + ": Input should be a valid dictionary");
            auto const* t = b->if_contains("type");
            if (!t || !t->is_string()) return invalid(at() + ".type: Field required");
            std::string_view const type = t->get_string();
            if (type == "text") {
                auto const* x = b->if_contains("text");
                if (!x || !x->is_string()) return invalid(at() + ".text: Field required");
                if (x->get_string().empty())
                    return invalid(where + ": text content blocks must be non-empty");
            } else if (type == "tool_use") {
                for (auto const* k : {"id", "name"})
                    if (auto const* v = b->if_contains(k); !v || !v->is_string())
                        return invalid(at() + ".tool_use." + k + ": Field required");
                auto const* in = b->if_contains("input");
                if (!in || !in->is_object())
                    return invalid(at() + ".tool_use.input: Input should be a valid dictionary");
            } else if (type == "tool_result") {
                auto const* id = b->if_contains("tool_use_id");
                if (!id || !id->is_string())
                    return invalid(at() + ".tool_result.tool_use_id: Field required");
            } else if (type == "image") {
                auto const* s = b->if_contains("source");
                auto const* so = s ? s->if_object() : nullptr;
                auto const* st = so ? so->if_contains("type") : nullptr;
                if (!st || !st->is_string()) return invalid(at() + ".image.source: Field required");
                if (st->get_string() == "base64") {
                    auto const* mt = so->if_contains("media_type");
                    auto const* d = so->if_contains("data");
                    if (!mt || !mt->is_string() || !d || !d->is_string() || d->get_string().empty())
                        return invalid(at() + ".image.source.base64: media_type and data are "
                                              "required");
                    std::string_view const m = mt->get_string();
                    if (m != "image/jpeg" && m != "image/png" && m != "image/gif" &&
                        m != "image/webp")
                        return invalid(at() + ".image.source.base64.media_type: Input should "
                                              "be 'image/jpeg', 'image/png', 'image/gif' or "
                                              "'image/webp'");
                } else if (st->get_string() == "url") {
                    auto const* u = so->if_contains("url");
                    if (!u || !u->is_string())
                        return invalid(at() + ".image.source.url.url: Field required");
                } else {
                    return invalid(at() + ".image.source: Input tag '" +
                                   std::string(st->get_string()) +
                                   "' does not match any of the expected tags: 'base64', "
                                   "'url'");
                }
            }
        }
        return std::nullopt;
    }
};

}  // namespace

std::unique_ptr<emulator_protocol> make_anthropic_protocol() {
    return std::make_unique<anthropic_protocol>();
}

}  // namespace llmux::detail
