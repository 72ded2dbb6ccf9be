// SPDX-License-Identifier: BSL-1.0
// The emulator's OpenAI chat-completions wire format (PROVIDERS.md §1-2): requests at any path
// ending in /chat/completions, answers, SSE chunks ending in `data: [DONE]`, and OpenAI's error
// bodies.
#include "emulator/json_text.hpp"
#include "emulator/protocol.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

namespace llmux::detail {

namespace {

namespace http = boost::beast::http;

constexpr std::string_view fingerprint = "fp_emulator";

/// Text of a message's `content`: a string, or the text parts of an array.
void append_content_text(boost::json::value const* content, std::string& out) {
    if (!content) return;
    if (auto const* s = content->if_string()) {
        out.append(s->data(), s->size());
        return;
    }
    if (auto const* parts = content->if_array()) {
        for (auto const& p : *parts) {
            auto const* o = p.if_object();
            if (!o) continue;
            if (auto const* t = o->if_contains("text"); t && t->is_string()) {
                auto const& s = t->get_string();
                out.append(s.data(), s.size());
            }
        }
    }
}

emu_error invalid(std::string message, std::string param = {}, std::string code = {}) {
    return {400, std::move(message), "invalid_request_error", std::move(code), std::move(param)};
}

void append_usage(std::string& out, emu_answer const& a) {
    out += "{\"prompt_tokens\":";
    append_number(out, a.prompt_tokens);
    out += ",\"completion_tokens\":";
    append_number(out, a.completion_tokens);
    out += ",\"total_tokens\":";
    append_number(out, a.prompt_tokens + a.completion_tokens);
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
           "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
           "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}";
}

std::string_view finish_reason(emu_finish f) noexcept {
    switch (f) {
    case emu_finish::stop:
        return "stop";
    case emu_finish::length:
        return "length";
    case emu_finish::tool_calls:
        return "tool_calls";
    }
    return "stop";
}

void append_call_id(std::string& out, emu_answer const& a) {
    out += "\"call_emu_";
    append_number(out, a.number);
    out += '"';
}

class openai_protocol final : public emulator_protocol {
public:
    std::string_view name() const noexcept override { return "openai"; }

    emu_route route(http::verb method, std::string_view path) const override {
        emu_route r;
        if (method == http::verb::post && path.ends_with("/chat/completions")) {
            r.endpoint = emu_endpoint::chat;
            // Azure: /openai/deployments/{deployment}/chat/completions names the model.
            static constexpr std::string_view dep = "/deployments/";
            if (auto const p = path.find(dep); p != std::string_view::npos) {
                auto const start = p + dep.size();
                auto const end = path.find('/', start);
                r.path_model = percent_decode(path.substr(start, end - start));
            }
            return r;
        }
        if (method == http::verb::get) {
            if (path.ends_with("/models")) {
                r.endpoint = emu_endpoint::list_models;
                return r;
            }
            static constexpr std::string_view models = "/models/";
            if (auto const p = path.find(models); p != std::string_view::npos) {
                auto const id = path.substr(p + models.size());
                if (!id.empty()) {
                    r.endpoint = emu_endpoint::get_model;
                    r.path_model = percent_decode(id);
                }
            }
        }
        return r;
    }

    std::optional<emu_error> check_auth(server_request const& req, emu_auth const&) const override {
        std::string_view const auth = req[http::field::authorization];
        if (auth.size() > 7 && boost::beast::iequals(auth.substr(0, 7), "Bearer ")) {
            auto const key = auth.substr(7);
            if (key.find_first_not_of(' ') != std::string_view::npos) return std::nullopt;
        }
        if (!req["api-key"].empty()) return std::nullopt;  // Azure OpenAI
        return unauthorized();
    }

    boost::system::result<emu_request, emu_error>
    parse_chat(boost::json::value const& doc, emu_route const& route) const override {
        auto const* body = doc.if_object();
        if (!body)
            return invalid(
                std::string("Invalid type for request body: expected an object, but got ") +
                json_kind(doc) + " instead.");
        emu_request r;

        if (auto const* m = body->if_contains("model"); m && m->is_string())
            r.model = std::string(m->get_string());
        else if (m && !m->is_null())
            return invalid(std::string("Invalid type for 'model': expected a string, but got ") +
                               json_kind(*m) + " instead.",
                           "model", "invalid_type");
        if (r.model.empty()) r.model = route.path_model;
        if (r.model.empty()) return invalid("you must provide a model parameter");

        auto const* messages = body->if_contains("messages");
        if (!messages || messages->is_null())
            return invalid("Missing required parameter: 'messages'.", "messages",
                           "missing_required_parameter");
        if (!messages->is_array())
            return invalid(std::string("Invalid type for 'messages': expected an array of "
                                       "objects, but got ") +
                               json_kind(*messages) + " instead.",
                           "messages", "invalid_type");
        auto const& list = messages->get_array();
        if (list.empty())
            return invalid("Invalid 'messages': empty array. Expected an array with minimum "
                           "length 1, but got an empty array instead.",
                           "messages", "empty_array");
        std::string text;
        for (std::size_t i = 0; i < list.size(); ++i) {
            // Only errors need the path; build it only then.
            auto where = [i] { return "messages[" + std::to_string(i) + "]"; };
            auto const* msg = list[i].if_object();
            if (!msg)
                return invalid("Invalid type for '" + where() + "': expected an object, but got " +
                                   json_kind(list[i]) + " instead.",
                               where(), "invalid_type");
            auto const* role_v = msg->if_contains("role");
            if (!role_v || !role_v->is_string())
                return invalid("Missing required parameter: '" + where() + ".role'.",
                               where() + ".role", "missing_required_parameter");
            std::string_view const role = role_v->get_string();
            text.clear();
            append_content_text(msg->if_contains("content"), text);
            r.prompt_chars += text.size();
            if (auto const* calls = msg->if_contains("tool_calls"); calls && calls->is_array()) {
                for (auto const& c : calls->get_array()) {
                    auto const* co = c.if_object();
                    auto const* fn = co ? co->if_contains("function") : nullptr;
                    auto const* fo = fn ? fn->if_object() : nullptr;
                    if (!fo) continue;
                    if (auto const* args = fo->if_contains("arguments"); args && args->is_string())
                        r.prompt_chars += args->get_string().size();
                }
            }
            bool const last = i + 1 == list.size();
            if (role == "user") r.last_user_text = text;
            if (last && (role == "tool" || role == "function")) {
                r.last_is_tool_result = true;
                r.tool_result = text;
            }
        }

        if (auto const* s = body->if_contains("stream"); s && s->is_bool())
            r.stream = s->get_bool();
        if (auto const* so = body->if_contains("stream_options"); so && !so->is_null()) {
            if (!r.stream)
                return invalid("The 'stream_options' parameter is only allowed when 'stream' is "
                               "enabled.",
                               "stream_options");
            if (auto const* o = so->if_object())
                if (auto const* iu = o->if_contains("include_usage"); iu && iu->is_bool())
                    r.include_usage = iu->get_bool();
        }

        for (auto const* key : {"max_tokens", "max_completion_tokens"}) {
            auto const* v = body->if_contains(key);
            if (!v || v->is_null()) continue;
            std::int64_t n = 0;
            if (v->is_int64())
                n = v->get_int64();
            else if (v->is_uint64())
                n = static_cast<std::int64_t>(std::min<std::uint64_t>(v->get_uint64(), INT64_MAX));
            else
                return invalid(std::string("Invalid type for '") + key +
                                   "': expected an integer, but got " + json_kind(*v) + " instead.",
                               key, "invalid_type");
            if (n < 1)
                return invalid(std::string("Invalid '") + key +
                                   "': integer below minimum value. Expected a value >= 1, but "
                                   "got " +
                                   std::to_string(n) + " instead.",
                               key, "integer_below_min_value");
            // max_completion_tokens supersedes the deprecated max_tokens.
            r.max_tokens = static_cast<std::uint64_t>(n);
        }

        if (auto const* tools = body->if_contains("tools"); tools && tools->is_array()) {
            for (auto const& t : tools->get_array()) {
                auto const* to = t.if_object();
                auto const* fn = to ? to->if_contains("function") : nullptr;
                auto const* fo = fn ? fn->if_object() : nullptr;
                if (!fo) continue;
                auto const* name = fo->if_contains("name");
                if (!name || !name->is_string()) continue;
                emu_tool tool;
                tool.name = name->get_string();
                if (auto const* p = fo->if_contains("parameters")) tool.parameters = p->if_object();
                r.tools.push_back(tool);
            }
        }
        if (auto const* tc = body->if_contains("tool_choice")) {
            if (auto const* s = tc->if_string()) {
                if (*s == "none")
                    r.tool_choice = emu_request::tool_mode::none;
                else if (*s == "required")
                    r.tool_choice = emu_request::tool_mode::required;
            } else if (auto const* o = tc->if_object()) {
                auto const* fn = o->if_contains("function");
                auto const* fo = fn ? fn->if_object() : nullptr;
                if (fo)
                    if (auto const* n = fo->if_contains("name"); n && n->is_string()) {
                        r.tool_choice = emu_request::tool_mode::named;
                        r.tool_choice_name = std::string(n->get_string());
                    }
            }
        }

        if (auto const* rf = body->if_contains("response_format"); rf && rf->is_object()) {
            auto const& o = rf->get_object();
            auto const* type = o.if_contains("type");
            if (type && type->is_string()) {
                if (type->get_string() == "json_object") {
                    r.response_format = emu_request::format::json_object;
                } else if (type->get_string() == "json_schema") {
                    r.response_format = emu_request::format::json_schema;
                    if (auto const* js = o.if_contains("json_schema"); js && js->is_object())
                        if (auto const* sc = js->get_object().if_contains("schema"))
                            r.schema = sc->if_object();
                }
            }
        }
        return r;
    }

    emu_error error_for_status(unsigned status, std::string_view model) const override {
        std::string const m(model);
        switch (status) {
        case 400:
            return {400, "Invalid request (emulated error).", "invalid_request_error", "", ""};
        case 401:
            return {401,
                    "Incorrect API key provided: sk-emu***. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    "invalid_request_error", "invalid_api_key", ""};
        case 402:
            return {402,
                    "You exceeded your current quota, please check your plan and billing "
                    "details.",
                    "insufficient_quota", "insufficient_quota", ""};
        case 403:
            return {403, "Country, region, or territory not supported", "request_forbidden",
                    "unsupported_country_region_territory", ""};
        case 404:
            return {404, "The model `" + m + "` does not exist or you do not have access to it.",
                    "invalid_request_error", "model_not_found", ""};
        case 408:
            return {408, "Request timed out.", "timeout", "", ""};
        case 409:
            return {409, "The request conflicted with another request (emulated error).",
                    "invalid_request_error", "conflict", ""};
        case 422:
            return {422, "The request could not be processed (emulated error).",
                    "invalid_request_error", "", ""};
        case 429:
            // The real API's type names the exhausted limit ("requests" or "tokens").
            return {429,
                    "Rate limit reached for " + m +
                        " in organization org-emulator on requests per min (RPM): Limit 3, "
                        "Used 3, Requested 1. Please try again in 20s. Visit "
                        "https://platform.openai.com/account/rate-limits to learn more.",
                    "requests", "rate_limit_exceeded", ""};
        case 500:
            return {500, "The server had an error while processing your request. Sorry about that!",
                    "server_error", "", ""};
        case 502:
            return {502, "Bad gateway.", "server_error", "", ""};
        case 503:
            return {503, "The engine is currently overloaded, please try again later",
                    "server_error", "", ""};
        case 504:
            return {504, "Gateway timeout.", "server_error", "", ""};
        default:
            return {status, "Emulated error (HTTP " + std::to_string(status) + ").",
                    status >= 500 ? "server_error" : "invalid_request_error", "", ""};
        }
    }

    emu_error unauthorized() const override {
        return {401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error", "invalid_api_key", ""};
    }

    emu_error unknown_route(std::string_view method, std::string_view target) const override {
        return {404,
                "Unknown request URL: " + std::string(method) + " " + std::string(target) +
                    ". Please check the URL for typos, or see the docs at "
                    "https://platform.openai.com/docs/api-reference/.",
                "invalid_request_error", "unknown_url", ""};
    }

    emu_error invalid_json(std::string_view detail) const override {
        return invalid("We could not parse the JSON body of your request. (HINT: This likely "
                       "means you aren't using your HTTP library correctly. The OpenAI API "
                       "expects a JSON payload, but what was sent was not valid JSON. (" +
                       std::string(detail) + "))");
    }

    emu_error bad_request(std::string message) const override {
        return invalid(std::move(message));
    }

    void render_error(emu_error const& e, std::string& out) const override {
        out += "{\"error\":{\"message\":";
        append_json_string(out, e.message);
        out += ",\"type\":";
        append_json_string(out, e.type);
        out += ",\"param\":";
        append_json_string_or_null(out, e.param);
        out += ",\"code\":";
        append_json_string_or_null(out, e.code);
        out += "}}";
    }

    void add_headers(server_exchange& ex, std::uint64_t number,
                     std::uint64_t processing_ms) const override {
        std::string v = "req_emu_";
        append_number(v, number);
        ex.add_header("x-request-id", v);
        v.clear();
        append_number(v, processing_ms);
        ex.add_header("openai-processing-ms", v);
        ex.add_header("openai-version", "2020-10-01");
    }

    void render_models(std::span<std::string const> models, std::string& out) const override {
        out += "{\"object\":\"list\",\"data\":[";
        bool first = true;
        for (auto const& m : models) {
            if (!first) out += ',';
            first = false;
            render_model(m, out);
        }
        out += "]}";
    }

    void render_model(std::string_view model, std::string& out) const override {
        out += "{\"id\":";
        append_json_string(out, model);
        out += ",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"llmux-emulator\"}";
    }

    void render_response(emu_answer const& a, std::string& out) const override {
        out += "{\"id\":\"chatcmpl-emu-";
        append_number(out, a.number);
        out += "\",\"object\":\"chat.completion\",\"created\":";
        append_number(out, a.created);
        out += ",\"model\":";
        append_json_string(out, a.model);
        out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
        if (a.tool_call) {
            out += "null,\"refusal\":null,\"tool_calls\":[{\"id\":";
            append_call_id(out, a);
            out += ",\"type\":\"function\",\"function\":{\"name\":";
            append_json_string(out, a.tool_name);
            out += ",\"arguments\":";
            append_json_string(out, a.sent_text());
            out += "}}]";
        } else {
            append_json_string(out, a.sent_text());
            out += ",\"refusal\":null";
        }
        out += ",\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"";
        out += finish_reason(a.finish);
        out += "\"}],\"usage\":";
        append_usage(out, a);
        out += ",\"service_tier\":\"default\",\"system_fingerprint\":\"";
        out += fingerprint;
        out += "\"}";
    }

    void render_malformed_response(emu_answer const& a, std::string& out) const override {
        // A member without a value right after the opening brace: the shape of a chat
        // completion, but no JSON parser accepts it.
        out += "{\"malformed\": ,";
        std::size_t const at = out.size();
        render_response(a, out);
        out.erase(at, 1);  // the response's own '{'
    }

    std::string_view stream_content_type() const noexcept override {
        return "text/event-stream; charset=utf-8";
    }

    void stream_begin(emu_answer& a, std::string& out) const override {
        // Every chunk starts the same way: build that prefix once per stream.
        auto& p = a.scratch;
        p.clear();
        p += "data: {\"id\":\"chatcmpl-emu-";
        append_number(p, a.number);
        p += "\",\"object\":\"chat.completion.chunk\",\"created\":";
        append_number(p, a.created);
        p += ",\"model\":";
        append_json_string(p, a.model);
        p += ",\"service_tier\":\"default\",\"system_fingerprint\":\"";
        p += fingerprint;
        p += "\",\"choices\":[";

        out += p;
        out +=
            a.tool_call
                ? R"({"index":0,"delta":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"finish_reason":null})"
                : R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null})";
        end_chunk(a, out);
        if (a.tool_call) {
            out += p;
            out += R"({"index":0,"delta":{"tool_calls":[{"index":0,"id":)";
            append_call_id(out, a);
            out += R"(,"type":"function","function":{"name":)";
            append_json_string(out, a.tool_name);
            out += R"(,"arguments":""}}]},"logprobs":null,"finish_reason":null})";
            end_chunk(a, out);
        }
    }

    void stream_piece(emu_answer& a, std::size_t i, std::string& out) const override {
        out += a.scratch;
        if (a.tool_call) {
            out += R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":)";
            append_json_string(out, a.piece(i));
            out += R"(}}]},"logprobs":null,"finish_reason":null})";
        } else {
            out += R"({"index":0,"delta":{"content":)";
            append_json_string(out, a.piece(i));
            out += R"(},"logprobs":null,"finish_reason":null})";
        }
        end_chunk(a, out);
    }

    void stream_end(emu_answer& a, std::string& out) const override {
        out += a.scratch;
        out += R"({"index":0,"delta":{},"logprobs":null,"finish_reason":")";
        out += finish_reason(a.finish);
        out += "\"}";
        end_chunk(a, out);
        if (a.include_usage) {
            out += a.scratch;
            out += "],\"usage\":";
            append_usage(out, a);
            out += "}\n\n";
        }
        out += "data: [DONE]\n\n";
    }

    void stream_error(emu_answer&, std::string& out) const override {
        out += "data: ";
        render_error({500,
                      "The server had an error while processing your request. Sorry about that!",
                      "server_error", "server_error", ""},
                     out);
        out += "\n\n";
    }

    void stream_malformed(emu_answer& a, std::string& out) const override {
        // An unterminated string: a chunk that starts like the others and cannot be parsed.
        out += a.scratch;
        out += R"({"index":0,"delta":{"content":"malformed})";
        out += "\n\n";
    }

private:
    static void end_chunk(emu_answer const& a, std::string& out) {
        out += a.include_usage ? "],\"usage\":null}\n\n" : "]}\n\n";
    }
};

}  // namespace

std::unique_ptr<emulator_protocol> make_openai_protocol() {
    return std::make_unique<openai_protocol>();
}

}  // namespace llmux::detail
