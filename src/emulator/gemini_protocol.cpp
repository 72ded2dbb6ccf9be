// SPDX-License-Identifier: BSL-1.0
// The emulator's Gemini `generateContent` wire format (PROVIDERS.md §4, §5.1): AI Studio paths
// (`.../models/{model}:generateContent`, `:streamGenerateContent`) authenticated by
// `x-goog-api-key` (or `?key=`), Vertex AI paths (`.../publishers/google/models/{model}:...`)
// authenticated by an OAuth Bearer token, GenerateContentResponse bodies, SSE streams whose last
// event carries finishReason and usageMetadata (no end marker), and Google's error bodies with
// canonical status strings and `google.rpc` details.
//
// Streams are always SSE: the route sees only the path, so the array form that
// `:streamGenerateContent` without `?alt=sse` would send is not emulated (every client asks for
// SSE). `emu_error::code` holds the `google.rpc.ErrorInfo` reason (API_KEY_INVALID, ...).
#include "util/json_text.hpp"
#include "emulator/protocol.hpp"
#include "util/text.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdint>
#include <string>

namespace llmux::detail {

namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::string_view_literals;

constexpr auto generate_suffix = ":generateContent"sv;
constexpr auto stream_suffix = ":streamGenerateContent"sv;
constexpr auto publishers = "/publishers/"sv;
constexpr auto google_publisher = "/publishers/google"sv;

/// A generateContent path taken apart.
struct gemini_path {
    bool matches = false;
    bool vertex = false;
    bool stream = false;
    std::string_view model;  // still percent-encoded
};

gemini_path parse_path(std::string_view path) noexcept {
    gemini_path p;
    std::string_view rest;
    if (path.ends_with(stream_suffix)) {
        p.stream = true;
        rest = path.substr(0, path.size() - stream_suffix.size());
    } else if (path.ends_with(generate_suffix)) {
        rest = path.substr(0, path.size() - generate_suffix.size());
    } else {
        return p;
    }
    auto const m = rest.rfind("/models/");
    if (m == std::string_view::npos || m + 8 == rest.size()) return p;
    std::string_view const prefix = rest.substr(0, m);
    // Other publishers on Vertex (anthropic, meta) speak their own protocols.
    if (prefix.find(publishers) != std::string_view::npos && !prefix.ends_with(google_publisher))
        return p;
    p.matches = true;
    p.vertex = prefix.ends_with(google_publisher);
    p.model = rest.substr(m + 8);
    return p;
}

/// The value of query parameter `name` in a request target; empty when absent.
std::string_view query_param(std::string_view target, std::string_view name) noexcept {
    auto const q = target.find('?');
    if (q == std::string_view::npos) return {};
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
        auto const amp = query.find('&');
        auto const pair = query.substr(0, amp);
        auto const eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

bool blank(std::string_view s) noexcept {
    return s.find_first_not_of(" \t") == std::string_view::npos;
}

/// The canonical status (google.rpc.Code name) Google answers an HTTP status with.
std::string_view canonical_status(unsigned status) noexcept {
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 402: return "RESOURCE_EXHAUSTED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 408: return "DEADLINE_EXCEEDED";
    case 409: return "ABORTED";
    case 412: return "FAILED_PRECONDITION";
    case 413: return "INVALID_ARGUMENT";
    case 422: return "INVALID_ARGUMENT";
    case 429: return "RESOURCE_EXHAUSTED";
    case 499: return "CANCELLED";
    case 500: return "INTERNAL";
    case 501: return "UNIMPLEMENTED";
    case 502: return "UNAVAILABLE";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

emu_error google_error(unsigned status, std::string message, std::string reason = {}) {
    return {status, std::move(message), std::string(canonical_status(status)), std::move(reason),
            ""};
}

emu_error invalid(std::string message) {
    return google_error(400, std::move(message));
}

constexpr std::string_view internal_message =
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting";

/// Appends a google.protobuf.Duration in its JSON form ("17s", "0.250s").
void append_duration(std::string& out, std::chrono::milliseconds d) {
    auto const ms = std::max<std::int64_t>(0, d.count());
    append_number(out, static_cast<std::uint64_t>(ms / 1000));
    if (ms % 1000) {
        char frac[5] = {'.', static_cast<char>('0' + ms % 1000 / 100),
                        static_cast<char>('0' + ms % 100 / 10), static_cast<char>('0' + ms % 10),
                        0};
        out += frac;
    }
    out += 's';
}

std::string_view finish_reason(emu_finish f) noexcept {
    return f == emu_finish::length ? "MAX_TOKENS" : "STOP";
}

void append_usage(std::string& out, std::uint64_t prompt, std::uint64_t candidates) {
    out += "\"usageMetadata\":{\"promptTokenCount\":";
    append_number(out, prompt);
    out += ",\"candidatesTokenCount\":";
    append_number(out, candidates);
    out += ",\"totalTokenCount\":";
    append_number(out, prompt + candidates);
    out += ",\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":";
    append_number(out, prompt);
    out += "}]}";
}

/// The content of the whole answer: its text, or its function call as one part (Gemini sends
/// a call whole). A call cut by maxOutputTokens is not valid JSON: it is left out, as Gemini
/// leaves out what it could not finish.
void append_answer_content(std::string& out, emu_answer const& a) {
    if (a.tool_call) {
        if (a.finish == emu_finish::length) {
            out += "{\"role\":\"model\"}";
            return;
        }
        out += "{\"parts\":[{\"functionCall\":{\"name\":";
        append_json_string(out, a.tool_name);
        out += ",\"args\":";
        out += a.sent_text();  // the plan's JSON example of the parameters
        out += "}}],\"role\":\"model\"}";
        return;
    }
    out += "{\"parts\":[{\"text\":";
    append_json_string(out, a.sent_text());
    out += "}],\"role\":\"model\"}";
}

/// Text of the `text` parts of a Content's parts.
void append_parts_text(json::array const& parts, std::string& out) {
    for (auto const& p : parts)
        if (auto const* o = p.if_object())
            if (auto const* t = o->if_contains("text"); t && t->is_string()) {
                auto const& s = t->get_string();
                out.append(s.data(), s.size());
            }
}

class gemini_protocol final : public emulator_protocol {
public:
    std::string_view name() const noexcept override { return "gemini"; }

    emu_route route(http::verb method, std::string_view path) const override {
        emu_route r;
        if (method != http::verb::post) return r;
        auto const p = parse_path(path);
        if (!p.matches) return r;
        r.endpoint = emu_endpoint::chat;
        r.path_model = percent_decode(p.model);
        r.path_stream = p.stream;
        return r;
    }

    std::optional<emu_error> check_auth(server_request const& req,
                                        emu_auth const& auth) const override {
        std::string_view const target = req.target();
        auto const p = parse_path(target.substr(0, target.find('?')));
        std::string_view const authz = req[http::field::authorization];
        std::string_view bearer;
        if (authz.size() > 7 && boost::beast::iequals(authz.substr(0, 7), "Bearer "))
            bearer = authz.substr(7);
        if (p.vertex) {
            if (!bearer.empty() && auth.bearer_token(bearer)) return std::nullopt;
            if (authz.empty())
                return google_error(
                    401,
                    "Request is missing required authentication credential. Expected OAuth 2 "
                    "access token, login cookie or other valid authentication credential. See "
                    "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                    "CREDENTIALS_MISSING");
            return error_for_status(401, {});
        }
        // AI Studio: an API key in the header or the query; OAuth tokens are accepted too.
        auto const header_key = req.find("x-goog-api-key");
        std::string_view const query_key = query_param(target, "key");
        if (header_key != req.end() && !blank(header_key->value())) return std::nullopt;
        if (!query_key.empty()) return std::nullopt;
        if (!bearer.empty() && auth.bearer_token(bearer)) return std::nullopt;
        if (header_key != req.end() || target.find("key=") != std::string_view::npos)
            return google_error(400, "API key not valid. Please pass a valid API key.",
                                "API_KEY_INVALID");
        return unauthorized();
    }

    boost::system::result<emu_request, emu_error>
    parse_chat(json::value const& doc, emu_route const& route) const override {
        auto const* body = doc.if_object();
        if (!body)
            return invalid("Invalid JSON payload received. Expected an object "
                           "(GenerateContentRequest).");
        emu_request r;
        r.model = route.path_model;
        r.stream = route.path_stream;
        if (r.model.empty()) return invalid("* GenerateContentRequest.model: unexpected model name format\n");

        if (auto const* si = body->if_contains("systemInstruction"); si && si->is_object())
            if (auto const* parts = si->get_object().if_contains("parts"); parts && parts->is_array()) {
                std::string text;
                append_parts_text(parts->get_array(), text);
                r.prompt_chars += text.size();
            }

        auto const* contents = body->if_contains("contents");
        if (!contents || contents->is_null() ||
            (contents->is_array() && contents->get_array().empty()))
            return invalid("* GenerateContentRequest.contents: contents is not specified\n");
        if (!contents->is_array())
            return invalid("Invalid JSON payload received. Invalid value at 'contents': expected a "
                           "list of Content.");
        auto const& list = contents->get_array();
        std::string text;
        for (std::size_t i = 0; i < list.size(); ++i) {
            // Only errors need the path; build it only then.
            auto where = [i] { return "GenerateContentRequest.contents[" + std::to_string(i) + "]"; };
            auto const* c = list[i].if_object();
            if (!c)
                return invalid("Invalid JSON payload received. Invalid value at 'contents[" +
                               std::to_string(i) + "]': expected a Content object.");
            std::string_view role = "user";  // a lone content without a role is the user's
            if (auto const* rv = c->if_contains("role"); rv && rv->is_string())
                role = rv->get_string();
            if (role != "user" && role != "model" && role != "function")
                return invalid("Please use a valid role: user, model.");
            auto const* pv = c->if_contains("parts");
            if (!pv || !pv->is_array() || pv->get_array().empty())
                return invalid("* " + where() + ".parts: contents.parts must not be empty.\n");
            auto const& parts = pv->get_array();
            text.clear();
            bool has_text = false;
            json::object const* last_response = nullptr;
            for (std::size_t j = 0; j < parts.size(); ++j) {
                auto at = [&] { return where() + ".parts[" + std::to_string(j) + "]"; };
                auto const* part = parts[j].if_object();
                if (!part) return invalid("* " + at() + ": a part must be an object.\n");
                bool data = false;
                if (auto const* t = part->if_contains("text"); t && t->is_string()) {
                    auto const& s = t->get_string();
                    text.append(s.data(), s.size());
                    has_text = true;
                    data = true;
                }
                if (auto const* fc = part->if_contains("functionCall"); fc && fc->is_object()) {
                    if (role != "model")
                        return invalid("Content with role '" + std::string(role) +
                                       "' can't contain 'functionCall' part");
                    auto const* n = fc->get_object().if_contains("name");
                    if (!n || !n->is_string() || n->get_string().empty())
                        return invalid("* " + at() + ".function_call.name: Name cannot be empty.\n");
                    if (auto const* args = fc->get_object().if_contains("args"))
                        r.prompt_chars += json::serialize(*args).size();
                    data = true;
                }
                if (auto const* fr = part->if_contains("functionResponse"); fr && fr->is_object()) {
                    if (role == "model")
                        return invalid("Content with role 'model' can't contain "
                                       "'functionResponse' part");
                    auto const* n = fr->get_object().if_contains("name");
                    if (!n || !n->is_string() || n->get_string().empty())
                        return invalid("* " + at() +
                                       ".function_response.name: Name cannot be empty.\n");
                    auto const* resp = fr->get_object().if_contains("response");
                    if (!resp || !resp->is_object())
                        return invalid("* " + at() +
                                       ".function_response.response: must be a JSON object.\n");
                    last_response = &resp->get_object();
                    data = true;
                }
                for (auto const* key : {"inlineData", "fileData", "executableCode",
                                        "codeExecutionResult"})
                    if (auto const* v = part->if_contains(key); v && v->is_object()) data = true;
                if (!data)
                    return invalid("* " + at() +
                                   ".data: required oneof field 'data' must have one initialized "
                                   "field\n");
            }
            r.prompt_chars += text.size();
            if (role == "user" && has_text) r.last_user_text = text;
            bool const last = i + 1 == list.size();
            if (last && last_response) {
                r.last_is_tool_result = true;
                r.tool_result = json::serialize(*last_response);
                r.prompt_chars += r.tool_result.size();
            }
        }

        if (auto const* gcv = body->if_contains("generationConfig"); gcv && gcv->is_object()) {
            auto const& gc = gcv->get_object();
            if (auto const* mt = gc.if_contains("maxOutputTokens"); mt && !mt->is_null()) {
                std::int64_t n = 0;
                if (mt->is_int64())
                    n = mt->get_int64();
                else if (mt->is_uint64())
                    n = static_cast<std::int64_t>(std::min<std::uint64_t>(mt->get_uint64(), INT32_MAX));
                else
                    return invalid("Invalid value at 'generation_config.max_output_tokens' "
                                   "(TYPE_INT32), " +
                                   json::serialize(*mt));
                if (n > 0) r.max_tokens = static_cast<std::uint64_t>(n);
            }
            bool const json_mime = [&] {
                auto const* m = gc.if_contains("responseMimeType");
                return m && m->is_string() && m->get_string() == "application/json";
            }();
            json::object const* schema = nullptr;
            for (auto const* key : {"responseJsonSchema", "responseSchema"})
                if (auto const* s = gc.if_contains(key); s && s->is_object() && !schema)
                    schema = &s->get_object();
            if (schema && !json_mime)
                return invalid("* GenerateContentRequest.generation_config.response_mime_type: "
                               "allowed mimetypes are `application/json` and `text/x.enum` when "
                               "a response schema is set.\n");
            if (schema) {
                r.response_format = emu_request::format::json_schema;
                r.schema = schema;
            } else if (json_mime) {
                r.response_format = emu_request::format::json_object;
            }
        }

        if (auto const* tools = body->if_contains("tools"); tools && tools->is_array()) {
            for (auto const& t : tools->get_array()) {
                auto const* to = t.if_object();
                auto const* decls = to ? to->if_contains("functionDeclarations") : nullptr;
                if (!decls || !decls->is_array()) continue;  // googleSearch, codeExecution, ...
                for (auto const& d : decls->get_array()) {
                    auto const* fd = d.if_object();
                    auto const* n = fd ? fd->if_contains("name") : nullptr;
                    if (!n || !n->is_string()) continue;
                    emu_tool tool;
                    tool.name = n->get_string();
                    for (auto const* key : {"parametersJsonSchema", "parameters"})
                        if (auto const* p = fd->if_contains(key); p && p->is_object() &&
                                                                  !tool.parameters)
                            tool.parameters = &p->get_object();
                    r.tools.push_back(tool);
                }
            }
        }
        if (auto const* tc = body->if_contains("toolConfig"); tc && tc->is_object()) {
            auto const* fcc = tc->get_object().if_contains("functionCallingConfig");
            if (fcc && fcc->is_object()) {
                auto const& o = fcc->get_object();
                std::string_view mode;
                if (auto const* m = o.if_contains("mode"); m && m->is_string()) mode = m->get_string();
                if (mode == "NONE") {
                    r.tool_choice = emu_request::tool_mode::none;
                } else if (mode == "ANY") {
                    r.tool_choice = emu_request::tool_mode::required;
                    // One allowed name is a named choice; with several, the first is called.
                    if (auto const* names = o.if_contains("allowedFunctionNames");
                        names && names->is_array() && !names->get_array().empty())
                        if (auto const* first = names->get_array().front().if_string()) {
                            r.tool_choice = emu_request::tool_mode::named;
                            r.tool_choice_name = std::string(*first);
                        }
                }
            }
        }
        return r;
    }

    emu_error error_for_status(unsigned status, std::string_view model) const override {
        std::string const m(model);
        switch (status) {
        case 400:
            return google_error(400, "Request contains an invalid argument.");
        case 401:
            return google_error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "ACCESS_TOKEN_TYPE_UNSUPPORTED");
        case 402:
            return google_error(402,
                                "Your prepayment credits are depleted. Please go to AI Studio at "
                                "https://ai.studio/projects to manage your project and billing.");
        case 403:
            return google_error(403, "The caller does not have permission");
        case 404:
            return google_error(404, "models/" + m +
                                         " is not found for API version v1beta, or is not "
                                         "supported for generateContent. Call ListModels to see "
                                         "the list of available models and their supported "
                                         "methods.");
        case 429:
            return google_error(
                429,
                "You exceeded your current quota, please check your plan and billing details. "
                "For more information on this error, head to: "
                "https://ai.google.dev/gemini-api/docs/rate-limits.\n* Quota exceeded for metric: "
                "generativelanguage.googleapis.com/generate_content_free_tier_requests, limit: "
                "15, model: " +
                    m);
        case 499:
            return google_error(499, "The operation was cancelled.");
        case 500:
            return google_error(500, std::string(internal_message));
        case 501:
            return google_error(501, "Operation is not implemented, or supported, or enabled.");
        case 503:
            return google_error(503, "The model is overloaded. Please try again later.");
        case 504:
            return google_error(504, "Deadline expired before operation could complete.");
        default:
            return google_error(status, "Emulated error (HTTP " + std::to_string(status) + ").");
        }
    }

    emu_error unauthorized() const override {
        return google_error(403,
                            "Method doesn't allow unregistered callers (callers without "
                            "established identity). Please use API Key or other form of API "
                            "consumer identity to call this API.");
    }

    emu_error unknown_route(std::string_view, std::string_view) const override {
        return google_error(404, "Requested entity was not found.");
    }

    emu_error invalid_json(std::string_view detail) const override {
        return invalid("Invalid JSON payload received. " + std::string(detail));
    }

    emu_error bad_request(std::string message) const override {
        return invalid(std::move(message));
    }

    void render_error(emu_error const& e, std::string& out) const override {
        out += "{\"error\":{\"code\":";
        append_number(out, static_cast<std::uint64_t>(e.status));
        out += ",\"message\":";
        append_json_string(out, e.message);
        out += ",\"status\":";
        append_json_string(out, e.type);
        bool const quota = e.status == 429;
        if (e.code.empty() && !quota && !e.retry_after) {
            out += "}}";
            return;
        }
        out += ",\"details\":[";
        bool first = true;
        auto next = [&] {
            if (!first) out += ',';
            first = false;
        };
        if (!e.code.empty()) {
            bool const api_key = e.code.rfind("API_KEY", 0) == 0;
            next();
            out += "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":";
            append_json_string(out, e.code);
            out += ",\"domain\":\"googleapis.com\",\"metadata\":{\"service\":";
            out += api_key ? "\"generativelanguage.googleapis.com\"" : "\"aiplatform.googleapis.com\"";
            out += "}}";
            if (api_key) {
                next();
                out += "{\"@type\":\"type.googleapis.com/google.rpc.LocalizedMessage\","
                       "\"locale\":\"en-US\",\"message\":";
                append_json_string(out, e.message);
                out += '}';
            }
        }
        if (quota) {
            next();
            out += "{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{"
                   "\"quotaMetric\":\"generativelanguage.googleapis.com/"
                   "generate_content_free_tier_requests\",\"quotaId\":"
                   "\"GenerateRequestsPerMinutePerProjectPerModel-FreeTier\",\"quotaValue\":"
                   "\"15\"}]},{\"@type\":\"type.googleapis.com/google.rpc.Help\",\"links\":[{"
                   "\"description\":\"Learn more about Gemini API quotas\",\"url\":"
                   "\"https://ai.google.dev/gemini-api/docs/rate-limits\"}]}";
        }
        if (e.retry_after) {
            next();
            out += "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"";
            append_duration(out, *e.retry_after);
            out += "\"}";
        }
        out += "]}}";
    }

    void add_headers(server_exchange& ex, std::uint64_t, std::uint64_t processing_ms) const override {
        // Google sends no request id header; its front end reports the time spent.
        std::string v = "gfet4t7; dur=";
        append_number(v, processing_ms);
        ex.add_header("server-timing", v);
        ex.add_header("vary", "Origin, X-Origin, Referer");
        ex.add_header("x-content-type-options", "nosniff");
    }

    void render_models(std::span<std::string const> models, std::string& out) const override {
        out += "{\"models\":[";
        bool first = true;
        for (auto const& m : models) {
            if (!first) out += ',';
            first = false;
            render_model(m, out);
        }
        out += "]}";
    }

    void render_model(std::string_view model, std::string& out) const override {
        out += "{\"name\":";
        append_json_string(out, "models/" + std::string(model));
        out += ",\"displayName\":";
        append_json_string(out, model);
        out += ",\"supportedGenerationMethods\":[\"generateContent\",\"countTokens\"]}";
    }

    void render_response(emu_answer const& a, std::string& out) const override {
        out += "{\"candidates\":[{\"content\":";
        append_answer_content(out, a);
        out += ",\"finishReason\":\"";
        out += finish_reason(a.finish);
        out += "\",\"index\":0}],";
        append_usage(out, a.prompt_tokens, a.completion_tokens);
        append_trailer(a, out);
    }

    void render_malformed_response(emu_answer const& a, std::string& out) const override {
        // A member without a value right after the opening brace: the shape of a response, but
        // no JSON parser accepts it.
        out += "{\"candidates\": ,";
        std::size_t const at = out.size();
        render_response(a, out);
        out.erase(at, 1);  // the response's own '{'
    }

    std::string_view stream_content_type() const noexcept override { return "text/event-stream"; }

    void stream_begin(emu_answer& a, std::string&) const override {
        // Every event ends the same way: build that suffix once per stream.
        a.scratch.clear();
        append_trailer(a, a.scratch);
        a.scratch += "\r\n\r\n";
    }

    void stream_piece(emu_answer& a, std::size_t i, std::string& out) const override {
        // A function call is sent whole, in the last event (stream_end), as Gemini does.
        if (a.tool_call) return;
        out += "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":";
        append_json_string(out, a.piece(i));
        out += "}],\"role\":\"model\"},\"index\":0}],";
        // Every chunk reports usage so far; the last one is the total.
        append_usage(out, a.prompt_tokens, i + 1);
        out += a.scratch;
    }

    void stream_end(emu_answer& a, std::string& out) const override {
        out += "data: {\"candidates\":[{\"content\":";
        if (a.tool_call)
            append_answer_content(out, a);
        else
            out += "{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"}";
        out += ",\"finishReason\":\"";
        out += finish_reason(a.finish);
        out += "\",\"index\":0}],";
        append_usage(out, a.prompt_tokens, a.completion_tokens);
        out += a.scratch;
    }

    void stream_error(emu_answer&, std::string& out) const override {
        out += "data: ";
        render_error(google_error(500, std::string(internal_message)), out);
        out += "\r\n\r\n";
    }

    void stream_malformed(emu_answer&, std::string& out) const override {
        // An unterminated string: an event that starts like the others and cannot be parsed.
        out += "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"malformed}\r\n\r\n";
    }

private:
    /// `,"modelVersion":...,"responseId":...}`: what closes every response and event.
    static void append_trailer(emu_answer const& a, std::string& out) {
        out += ",\"modelVersion\":";
        append_json_string(out, a.model);
        out += ",\"responseId\":\"emu-";
        append_number(out, a.number);
        out += "\"}";
    }
};

}  // namespace

std::unique_ptr<emulator_protocol> make_gemini_protocol() {
    return std::make_unique<gemini_protocol>();
}

}  // namespace llmux::detail
