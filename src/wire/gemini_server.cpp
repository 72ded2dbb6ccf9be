// SPDX-License-Identifier: BSL-1.0
// The server side of Gemini `generateContent` (PROVIDERS.md sections 4, 5.1 and 7), for both
// path shapes: the Gemini API's (AI Studio, `/v1beta/models/{model}:generateContent`) and
// Vertex AI's (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:...`). One
// server object serves both: the bodies, answers, streams and errors are the same; only where
// the credential comes from and the words of an authentication error differ, and both are read
// from the request. Requests are decoded into a `chat_request` with Google's own 400s; answers,
// SSE streams and errors are written as Google writes them, as text straight into the caller's
// buffer (no JSON DOM per answer or per event): the emulator serves Gemini clients through it.
//
// Choices (each pinned by a test in tests/unit/gemini.cpp):
// - Model: the path's `{model}` without a `models/` prefix. A Vertex path's publisher other
//   than `google` is the first part of the model name (`@google/genai` in Vertex mode writes
//   the model `openai/gpt-4o` as `publishers/openai/models/gpt-4o`).
// - Streams are SSE (`data:` lines, `\r\n\r\n` between events) whether or not the query says
//   `alt=sse`: the array form of `:streamGenerateContent` without it is not served (every SDK
//   asks for SSE). Text goes out as it comes; function calls go out whole, in the last event
//   with the finishReason and the usage, as Gemini sends them. Every event carries
//   `usageMetadata`; events before the last hold what the unified chunk says (usually nothing:
//   `{}`), the last one the answer's usage.
// - Function calls have no ids in Gemini. A `functionCall` or `functionResponse` with an `id`
//   (newer Gemini API models, and this server's own answers) keeps it; a call without one gets
//   `call_<n>` (n counts the calls of the request), and a response without one answers the
//   oldest unanswered call of its name (Gemini pairs them by name and order). Answers carry the
//   unified call id as `functionCall.id` when there is one, so a client that sends the history
//   back gives the upstream its own ids again; the emulator's calls have none, as Gemini's.
// - `functionResponse.response` is the tool result's content as JSON text, whole (it is what
//   the model reads); `{"error": ...}` alone (the key Google documents for a function's error,
//   which the client side writes) makes it an error result.
// - OpenAPI-style schemas (`parameters`, `responseSchema`: upper-case types, `nullable`) become
//   JSON Schema (lower-case types, `"null"` in the type list); `parametersJsonSchema` and
//   `responseJsonSchema` are taken as they are.
// - What the unified request cannot hold goes to `native`, in the shape of the request body so
//   that an upstream of this format gets it back as it was sent: `generationConfig` fields
//   (topK, candidateCount other than 1, penalties, logprobs, modalities,
//   responseMimeType other than JSON and text...) as `{"generationConfig": {...}}`; every other
//   top-level field (safetySettings, cachedContent, labels...) as it is; the whole `contents`
//   when a part holds what a unified message cannot (code execution, an image in a model
//   turn); the whole `tools` when one is not a function
//   declaration (googleSearch, codeExecution...); `toolConfig` when it allows several functions.
//   `thinkingConfig` is read into the reasoning controls; a `functionCall` part's
//   `thoughtSignature` stays with its call and goes back on it; thought parts and signatures on
//   text become reasoning parts of origin `google`. Non-image `inlineData`/`fileData` (PDF,
//   text, audio) are documents.
//   snake_case field names (`system_instruction`, `inline_data`, as Google's REST examples
//   write them) are read like their camelCase names.
#include "util/json_text.hpp"
#include "util/json_read.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"
#include "wire/formats.hpp"
#include "wire/gemini.hpp"
#include "wire/gemini_embeddings.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <deque>

namespace llmux::detail {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;
using decode_result = boost::system::result<inbound_request, api_error>;

constexpr auto generate_suffix = ":generateContent"sv;
constexpr auto stream_suffix = ":streamGenerateContent"sv;
constexpr auto count_suffix = ":countTokens"sv;

std::string_view sv(json::string const& s) noexcept {
    return {s.data(), s.size()};
}

/// A present, non-null member under its camelCase or snake_case name (Google's JSON parser
/// takes both), or null.
json::value const* member(json::object const& o, std::string_view camel,
                          std::string_view snake = {}) noexcept {
    auto const* v = o.if_contains(camel);
    if ((!v || v->is_null()) && !snake.empty()) v = o.if_contains(snake);
    return v && !v->is_null() ? v : nullptr;
}

/// True when `key` is `camel` or `snake`.
bool is_key(std::string_view key, std::string_view camel, std::string_view snake = {}) noexcept {
    return key == camel || (!snake.empty() && key == snake);
}

using gemini::invalid;
using gemini::wrong_type;

bool vertex_path(std::string_view path) noexcept {
    return path.find("/publishers/") != std::string_view::npos ||
           path.find("/projects/") != std::string_view::npos;
}

/// The publisher segment of a Vertex path (`google` in `.../publishers/google/models/...`).
std::string_view publisher_of(std::string_view path) noexcept {
    constexpr auto key = "/publishers/"sv;
    auto const p = path.find(key);
    if (p == std::string_view::npos) return {};
    auto rest = path.substr(p + key.size());
    return rest.substr(0, rest.find('/'));
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/** An OpenAPI-style schema (Gemini's `Schema`: `"type": "OBJECT"`, `nullable`) as JSON
    Schema. Keys it does not know are kept as they are (JSON Schema ignores them).
*/
json::value to_json_schema(json::value const& v);

json::object to_json_schema(json::object const& s) {
    json::object out(json::storage_ptr{});
    bool nullable = false;
    for (auto const& [key, v] : s) {
        std::string_view const k(key.data(), key.size());
        if (k == "type" && v.is_string()) {
            out.emplace("type", lower(sv(v.get_string())));
        } else if (k == "nullable" && v.is_bool()) {
            nullable = v.get_bool();
        } else if (k == "properties" && v.is_object()) {
            json::object props(json::storage_ptr{});
            for (auto const& [pk, pv] : v.get_object()) props.emplace(pk, to_json_schema(pv));
            out.emplace(key, std::move(props));
        } else if ((k == "items" || k == "not") && v.is_object()) {
            out.emplace(key, to_json_schema(v.get_object()));
        } else if ((k == "anyOf" || k == "any_of" || k == "oneOf" || k == "allOf") &&
                   v.is_array()) {
            json::array list(json::storage_ptr{});
            for (auto const& e : v.get_array()) list.push_back(to_json_schema(e));
            out.emplace(k == "any_of" ? "anyOf" : k, std::move(list));
        } else {
            out.emplace(key, json::value(v, json::storage_ptr{}));
        }
    }
    if (nullable) {
        if (auto* t = out.if_contains("type"); t && t->is_string()) {
            json::array both(json::storage_ptr{});
            both.emplace_back(t->get_string());
            both.emplace_back("null");
            *t = std::move(both);
        } else {
            out.emplace("nullable", true);  // nothing to add "null" to: kept as it was said
        }
    }
    return out;
}

json::value to_json_schema(json::value const& v) {
    if (auto const* o = v.if_object()) return to_json_schema(*o);
    return json::value(v, json::storage_ptr{});
}

/// A generationConfig field at its default value: it changes nothing and is not kept.
bool at_default(std::string_view key, json::value const& v) {
    if (is_key(key, "candidateCount", "candidate_count"))
        return v.is_number() && v.to_number<double>() == 1;
    if (is_key(key, "presencePenalty", "presence_penalty") ||
        is_key(key, "frequencyPenalty", "frequency_penalty"))
        return v.is_number() && v.to_number<double>() == 0;
    if (is_key(key, "responseLogprobs", "response_logprobs")) return v.is_bool() && !v.get_bool();
    return false;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Reads one request body into a unified request.
class request_decoder {
public:
    explicit request_decoder(inbound_request& out) : out_(out), req_(out.req) {}

    boost::system::result<void, api_error> system_instruction(json::value const& v) {
        static constexpr char const* where = "systemInstruction";
        // A bare string is accepted, as Google's parser does for a Content.
        if (auto const* s = v.if_string()) {
            req_.system = std::string(sv(*s));
            return {};
        }
        auto const* o = v.if_object();
        if (!o) return wrong_type(where, "a Content object", v);
        auto const* pv = member(*o, "parts");
        if (!pv) return {};
        auto const* parts = pv->if_array();
        if (!parts) return wrong_type("systemInstruction.parts", "a list of Part", *pv);
        std::vector<std::string> texts;
        for (std::size_t j = 0; j < parts->size(); ++j) {
            auto const at = [j] { return "systemInstruction.parts[" + std::to_string(j) + "]"; };
            auto const* p = (*parts)[j].if_object();
            if (!p) return wrong_type(at(), "a Part object", (*parts)[j]);
            auto const* t = member(*p, "text");
            if (!t || !t->is_string())
                return invalid(at(), "* GenerateContentRequest.system_instruction.parts[" +
                                         std::to_string(j) +
                                         "]: a system instruction may only hold text parts\n");
            if (!t->get_string().empty()) texts.emplace_back(sv(t->get_string()));
        }
        // One part is the system prompt; several are kept apart, as leading system messages,
        // so that they are sent on as the same parts.
        if (texts.size() == 1) {
            req_.system = std::move(texts.front());
        } else {
            for (auto& t : texts) {
                message m;
                m.role = role::system;
                m.content.emplace_back(text_part{std::move(t)});
                req_.messages.push_back(std::move(m));
            }
        }
        return {};
    }

    boost::system::result<void, api_error> contents(json::value const& v) {
        auto const* list = v.if_array();
        if (!list) return wrong_type("contents", "a list of Content", v);
        if (list->empty())
            return invalid("contents", "* GenerateContentRequest.contents: contents is not "
                                       "specified\n");
        std::string_view last_role;
        message current;
        auto flush = [&] {
            if (current.content.empty()) return;  // an empty turn says nothing
            if (current.role == role::user &&
                std::all_of(current.content.begin(), current.content.end(), [](auto const& p) {
                    return std::holds_alternative<tool_result>(p);
                }))
                current.role = role::tool;
            req_.messages.push_back(std::move(current));
            current = message{};
        };
        for (std::size_t i = 0; i < list->size(); ++i) {
            auto const where = [i] { return "contents[" + std::to_string(i) + "]"; };
            auto const* c = (*list)[i].if_object();
            if (!c) return wrong_type(where(), "a Content object", (*list)[i]);
            std::string_view role_name = "user";  // a lone content without a role is the user's
            if (auto const* rv = member(*c, "role")) {
                if (!rv->is_string()) return wrong_type(where() + ".role", "a string", *rv);
                if (!rv->get_string().empty()) role_name = sv(rv->get_string());
            }
            if (role_name != "user" && role_name != "model" && role_name != "function")
                return invalid(where() + ".role", "Please use a valid role: user, model.");
            bool const model = role_name == "model";
            std::string_view const turn = model ? "model"sv : "user"sv;
            // Consecutive turns of one role are one message (Gemini's turns alternate; the
            // SDKs' chat histories hold one model turn per streamed chunk).
            if (turn != last_role) {
                flush();
                current.role = model ? role::assistant : role::user;
                last_role = turn;
            }
            auto const* pv = member(*c, "parts");
            if (!pv || !pv->is_array() || pv->get_array().empty())
                return invalid(where() + ".parts",
                               "* GenerateContentRequest." + where() +
                                   ".parts: contents.parts must not be empty.\n");
            auto const& parts = pv->get_array();
            for (std::size_t j = 0; j < parts.size(); ++j)
                if (auto r = part(parts[j], model, i, j, current); !r) return r;
        }
        flush();
        if (keep_contents_) out_.native.emplace("contents", json::value(v, json::storage_ptr{}));
        return {};
    }

    boost::system::result<void, api_error> tools(json::value const& v) {
        auto const* list = v.if_array();
        if (!list) return wrong_type("tools", "a list of Tool", v);
        bool other = false;
        for (std::size_t i = 0; i < list->size(); ++i) {
            auto const* t = (*list)[i].if_object();
            if (!t) return wrong_type("tools[" + std::to_string(i) + "]", "a Tool object", (*list)[i]);
            for (auto const& [key, kv] : *t) {
                std::string_view const k(key.data(), key.size());
                if (kv.is_null()) continue;
                if (!is_key(k, "functionDeclarations", "function_declarations")) {
                    other = true;  // googleSearch, codeExecution, urlContext, ...
                    continue;
                }
                auto const at = "tools[" + std::to_string(i) + "].functionDeclarations";
                auto const* decls = kv.if_array();
                if (!decls) return wrong_type(at, "a list of FunctionDeclaration", kv);
                for (std::size_t j = 0; j < decls->size(); ++j)
                    if (auto r = declaration((*decls)[j], at + "[" + std::to_string(j) + "]"); !r)
                        return r;
            }
        }
        if (other) out_.native.emplace("tools", json::value(v, json::storage_ptr{}));
        return {};
    }

    boost::system::result<void, api_error> tool_config(json::value const& v) {
        auto const* o = v.if_object();
        if (!o) return wrong_type("toolConfig", "a ToolConfig object", v);
        bool keep = false;
        for (auto const& [key, kv] : *o) {
            std::string_view const k(key.data(), key.size());
            if (kv.is_null()) continue;
            if (!is_key(k, "functionCallingConfig", "function_calling_config")) {
                keep = true;  // retrievalConfig, ...
                continue;
            }
            auto const* fcc = kv.if_object();
            if (!fcc) return wrong_type("toolConfig.functionCallingConfig", "an object", kv);
            std::string_view mode = "AUTO";
            if (auto const* m = member(*fcc, "mode")) {
                if (!m->is_string())
                    return wrong_type("toolConfig.functionCallingConfig.mode", "a string", *m);
                mode = sv(m->get_string());
            }
            std::vector<std::string_view> names;
            if (auto const* n = member(*fcc, "allowedFunctionNames", "allowed_function_names")) {
                auto const* a = n->if_array();
                if (!a)
                    return wrong_type("toolConfig.functionCallingConfig.allowedFunctionNames",
                                      "a list of strings", *n);
                for (std::size_t j = 0; j < a->size(); ++j) {
                    if (!(*a)[j].is_string())
                        return wrong_type("toolConfig.functionCallingConfig.allowedFunctionNames[" +
                                              std::to_string(j) + "]",
                                          "a string", (*a)[j]);
                    names.push_back(sv((*a)[j].get_string()));
                }
            }
            if (mode == "AUTO" || mode == "MODE_UNSPECIFIED") {
                req_.tool_choice = tool_choice::automatic();
            } else if (mode == "NONE") {
                req_.tool_choice = tool_choice::none();
            } else if (mode == "ANY" || mode == "VALIDATED") {
                if (names.size() == 1)
                    req_.tool_choice = tool_choice::named(std::string(names.front()));
                else
                    req_.tool_choice = tool_choice::required();
                // Several allowed functions, or VALIDATED's "call one or answer in text", have
                // no unified equivalent.
                if (names.size() > 1 || mode == "VALIDATED") keep = true;
            } else {
                return invalid("toolConfig.functionCallingConfig.mode",
                               "Invalid value at 'tool_config.function_calling_config.mode' "
                               "(type.googleapis.com/google.cloud.aiplatform.v1.FunctionCallingConfig.Mode), \"" +
                                   std::string(mode) + "\"");
            }
            if (!names.empty() && mode != "ANY" && mode != "VALIDATED") keep = true;
        }
        if (keep) out_.native.emplace("toolConfig", json::value(v, json::storage_ptr{}));
        return {};
    }

    boost::system::result<void, api_error> generation_config(json::value const& v) {
        auto const* gc = v.if_object();
        if (!gc) return wrong_type("generationConfig", "a GenerationConfig object", v);
        json::object rest(json::storage_ptr{});
        std::string_view mime;
        json::value const* json_schema = nullptr;
        json::value const* openapi_schema = nullptr;
        for (auto const& [key, kv] : *gc) {
            std::string_view const k(key.data(), key.size());
            if (kv.is_null()) continue;
            auto const at = [&] { return "generationConfig." + std::string(k); };
            if (is_key(k, "temperature")) {
                if (!kv.is_number()) return wrong_type(at(), "a number", kv);
                req_.temperature = kv.to_number<double>();
            } else if (is_key(k, "topP", "top_p")) {
                if (!kv.is_number()) return wrong_type(at(), "a number", kv);
                req_.top_p = kv.to_number<double>();
            } else if (is_key(k, "maxOutputTokens", "max_output_tokens")) {
                auto n = integer(kv, at());
                if (!n) return n.error();
                if (*n < 1)
                    return invalid(at(), "* GenerateContentRequest.generation_config.max_output_"
                                         "tokens: must be positive\n");
                req_.max_tokens = *n;
            } else if (is_key(k, "seed")) {
                auto n = integer(kv, at());
                if (!n) return n.error();
                req_.seed = *n;
            } else if (is_key(k, "stopSequences", "stop_sequences")) {
                auto const* a = kv.if_array();
                if (!a) return wrong_type(at(), "a list of strings", kv);
                for (std::size_t j = 0; j < a->size(); ++j) {
                    if (!(*a)[j].is_string())
                        return wrong_type(at() + "[" + std::to_string(j) + "]", "a string", (*a)[j]);
                    req_.stop.emplace_back(sv((*a)[j].get_string()));
                }
            } else if (is_key(k, "responseMimeType", "response_mime_type")) {
                if (!kv.is_string()) return wrong_type(at(), "a string", kv);
                mime = sv(kv.get_string());
                if (mime != "application/json" && mime != "text/plain" && !mime.empty())
                    rest.emplace(key, json::value(kv, json::storage_ptr{}));  // text/x.enum
            } else if (is_key(k, "responseJsonSchema", "response_json_schema")) {
                if (!kv.is_object()) return wrong_type(at(), "an object", kv);
                json_schema = &kv;
            } else if (is_key(k, "responseSchema", "response_schema")) {
                if (!kv.is_object()) return wrong_type(at(), "a Schema object", kv);
                openapi_schema = &kv;
            } else if (is_key(k, "thinkingConfig", "thinking_config")) {
                if (auto r = thinking_config(kv, rest); !r) return r.error();
            } else if (!at_default(k, kv)) {
                rest.emplace(key, json::value(kv, json::storage_ptr{}));
            }
        }
        json::value const* schema = json_schema ? json_schema : openapi_schema;
        if (schema && mime != "application/json" && mime != "text/x.enum")
            return invalid("generationConfig.responseMimeType",
                           "* GenerateContentRequest.generation_config.response_mime_type: "
                           "allowed mimetypes are `application/json` and `text/x.enum` when a "
                           "response schema is set.\n");
        if (mime == "application/json") {
            if (schema) {
                // Gemini always enforces the schema; it has no name (the unified one needs one).
                req_.response_format = response_format::json_schema(
                    "response", json_schema ? json::object(json_schema->get_object(),
                                                           json::storage_ptr{})
                                            : to_json_schema(openapi_schema->get_object()));
            } else {
                req_.response_format = response_format::json();
            }
        } else if (schema) {
            // text/x.enum with its schema: the upstream of this format gets both.
            rest.emplace(json_schema ? "responseJsonSchema" : "responseSchema",
                         json::value(*schema, json::storage_ptr{}));
        }
        if (!rest.empty()) out_.native.emplace("generationConfig", std::move(rest));
        return {};
    }

    /// `thinkingConfig` as reasoning controls; what they cannot hold goes to `rest`.
    boost::system::result<void, api_error> thinking_config(json::value const& v,
                                                           json::object& rest) {
        auto const* tc = v.if_object();
        std::string const at = "generationConfig.thinkingConfig";
        if (!tc) return wrong_type(at, "a ThinkingConfig object", v);
        reasoning_options r;
        json::object kept(json::storage_ptr{});
        for (auto const& [key, kv] : *tc) {
            std::string_view const k(key.data(), key.size());
            if (kv.is_null()) continue;
            if (is_key(k, "thinkingBudget", "thinking_budget")) {
                auto n = integer(kv, at + ".thinkingBudget");
                if (!n) return n.error();
                if (*n < -1)
                    return invalid(at + ".thinkingBudget",
                                   "* GenerateContentRequest.generation_config.thinking_config."
                                   "thinking_budget: must be -1 (dynamic) or more\n");
                r.budget_tokens = *n;
            } else if (is_key(k, "thinkingLevel", "thinking_level")) {
                if (!kv.is_string()) return wrong_type(at + ".thinkingLevel", "a string", kv);
                std::string level(sv(kv.get_string()));
                for (auto& ch : level) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                auto const e = parse_reasoning_effort(level);
                if (!e || *e == reasoning_effort::none || *e == reasoning_effort::xhigh ||
                    *e == reasoning_effort::max)
                    return invalid(at + ".thinkingLevel",
                                   "Invalid value at 'generation_config.thinking_config."
                                   "thinking_level' (type.googleapis.com/google.ai."
                                   "generativelanguage.v1beta.ThinkingConfig.ThinkingLevel), \"" +
                                       std::string(sv(kv.get_string())) + "\"");
                r.effort = e;
            } else if (is_key(k, "includeThoughts", "include_thoughts")) {
                if (!kv.is_bool()) return wrong_type(at + ".includeThoughts", "a boolean", kv);
                r.include_text = kv.get_bool();
            } else {
                kept.emplace(key, json::value(kv, json::storage_ptr{}));
            }
        }
        if (r.budget_tokens && r.effort)
            return invalid(at, "You can only set only one of thinking budget and thinking level.");
        if (!kept.empty()) rest.emplace("thinkingConfig", std::move(kept));
        if (r.budget_tokens == -1 && !r.effort) {
            // Dynamic thinking: the default; only whether to show it is said.
            r.budget_tokens.reset();
        }
        if (r.budget_tokens || r.effort || r.include_text) req_.reasoning = r;
        return {};
    }

private:
    using int_result = boost::system::result<std::int64_t, api_error>;

    static int_result integer(json::value const& v, std::string const& at) {
        auto const ok = [](std::int64_t n) { return int_result(boost::system::in_place_value, n); };
        if (v.is_int64()) return ok(v.get_int64());
        if (v.is_uint64())
            return ok(static_cast<std::int64_t>(std::min<std::uint64_t>(v.get_uint64(), INT64_MAX)));
        if (v.is_double() && std::floor(v.get_double()) == v.get_double() &&
            std::abs(v.get_double()) < 9e18)
            return ok(static_cast<std::int64_t>(v.get_double()));
        // Google's parser takes integers written as strings (int64 in proto3 JSON).
        if (auto const* s = v.if_string()) {
            std::int64_t n = 0;
            auto const* b = s->data();
            auto [p, ec] = std::from_chars(b, b + s->size(), n);
            if (ec == std::errc{} && p == b + s->size() && s->size() > 0) return ok(n);
        }
        return int_result(boost::system::in_place_error,
                          invalid(at, "Invalid JSON payload received. Invalid value at '" + at +
                                          "' (TYPE_INT32), " + json::serialize(v)));
    }

    boost::system::result<void, api_error> declaration(json::value const& v, std::string const& at) {
        auto const* d = v.if_object();
        if (!d) return wrong_type(at, "a FunctionDeclaration object", v);
        auto const* name = member(*d, "name");
        if (!name || !name->is_string() || name->get_string().empty())
            return invalid(at + ".name", "* GenerateContentRequest." + at +
                                             ".name: [FIELD_INVALID] Invalid function name. "
                                             "Must start with a letter or an underscore.\n");
        tool t;
        t.name = std::string(sv(name->get_string()));
        if (auto const* desc = member(*d, "description")) {
            if (!desc->is_string()) return wrong_type(at + ".description", "a string", *desc);
            t.description = std::string(sv(desc->get_string()));
        }
        if (auto const* p = member(*d, "parametersJsonSchema", "parameters_json_schema")) {
            if (!p->is_object()) return wrong_type(at + ".parametersJsonSchema", "an object", *p);
            t.parameters = json::object(p->get_object(), json::storage_ptr{});
        } else if (auto const* op = member(*d, "parameters")) {
            if (!op->is_object()) return wrong_type(at + ".parameters", "a Schema object", *op);
            t.parameters = to_json_schema(op->get_object());
        }
        for (auto const& [key, kv] : *d) {
            std::string_view const k(key.data(), key.size());
            if (kv.is_null() || is_key(k, "name") || is_key(k, "description") ||
                is_key(k, "parametersJsonSchema", "parameters_json_schema") ||
                is_key(k, "parameters"))
                continue;
            // `response`, `behavior`: nothing unified holds them; the whole tools list goes on
            // to an upstream of this format.
            keep_tools_ = true;
        }
        req_.tools.push_back(std::move(t));
        return {};
    }

    /// One part of content `i`, into `m`.
    boost::system::result<void, api_error> part(json::value const& pv, bool model, std::size_t i,
                                                std::size_t j, message& m) {
        auto const at = [&] {
            return "contents[" + std::to_string(i) + "].parts[" + std::to_string(j) + "]";
        };
        auto const* p = pv.if_object();
        if (!p) return wrong_type(at(), "a Part object", pv);
        bool data = false;
        for (auto const& [key, kv] : *p) {
            std::string_view const k(key.data(), key.size());
            if (kv.is_null()) continue;
            if (is_key(k, "text")) {
                if (!kv.is_string()) return wrong_type(at() + ".text", "a string", kv);
                data = true;
                auto const* thought = member(*p, "thought");
                if (thought && thought->is_bool() && thought->get_bool()) {
                    // A thought summary in the history: reasoning Gemini does not need back
                    // (its signatures carry it), kept as a part for the record.
                    reasoning_part r;
                    r.type = reasoning_part::kind::summary;
                    r.text = sv(kv.get_string());
                    r.origin = "google";
                    if (auto const* sig = member(*p, "thoughtSignature", "thought_signature");
                        sig && sig->is_string())
                        r.signature = sv(sig->get_string());
                    m.content.emplace_back(std::move(r));
                    continue;
                }
                if (!kv.get_string().empty())
                    m.content.emplace_back(text_part{std::string(sv(kv.get_string()))});
            } else if (is_key(k, "thought")) {
                if (!kv.is_bool()) return wrong_type(at() + ".thought", "a boolean", kv);
            } else if (is_key(k, "inlineData", "inline_data")) {
                data = true;
                auto const* o = kv.if_object();
                if (!o) return wrong_type(at() + ".inlineData", "a Blob object", kv);
                auto const* mime = member(*o, "mimeType", "mime_type");
                auto const* bytes = member(*o, "data");
                if (!mime || !mime->is_string() || mime->get_string().empty())
                    return invalid(at() + ".inlineData.mimeType",
                                   "* GenerateContentRequest." + at() +
                                       ".inline_data.mime_type: a blob needs its MIME type\n");
                if (!bytes || !bytes->is_string() || bytes->get_string().empty())
                    return invalid(at() + ".inlineData.data",
                                   "* GenerateContentRequest." + at() +
                                       ".inline_data.data: a blob needs its data\n");
                if (model) {
                    keep_contents_ = true;  // a unified assistant message holds no images
                    continue;
                }
                std::string url = "data:";
                url += sv(mime->get_string());
                url += ";base64,"sv;
                url += sv(bytes->get_string());
                if (sv(mime->get_string()).starts_with("image/"))
                    m.content.emplace_back(image_part{std::move(url), {}});
                else
                    m.content.emplace_back(document_part{std::move(url), {}, {}});
            } else if (is_key(k, "fileData", "file_data")) {
                data = true;
                auto const* o = kv.if_object();
                if (!o) return wrong_type(at() + ".fileData", "a FileData object", kv);
                auto const* uri = member(*o, "fileUri", "file_uri");
                if (!uri || !uri->is_string() || uri->get_string().empty())
                    return invalid(at() + ".fileData.fileUri",
                                   "* GenerateContentRequest." + at() +
                                       ".file_data.file_uri: a file needs its URI\n");
                if (model) {
                    keep_contents_ = true;
                    continue;
                }
                // The MIME type is the client side's guess from the URL's extension again.
                auto const* mime = member(*o, "mimeType", "mime_type");
                if (mime && mime->is_string() && !sv(mime->get_string()).empty() &&
                    !sv(mime->get_string()).starts_with("image/"))
                    m.content.emplace_back(
                        document_part{std::string(sv(uri->get_string())), {}, {}});
                else
                    m.content.emplace_back(image_part{std::string(sv(uri->get_string())), {}});
            } else if (is_key(k, "functionCall", "function_call")) {
                data = true;
                if (!model)
                    return invalid(at() + ".functionCall",
                                   "Content with role 'user' can't contain 'functionCall' part");
                auto r = function_call(kv, at() + ".functionCall");
                if (!r) return r.error();
                if (auto const* sig = member(*p, "thoughtSignature", "thought_signature")) {
                    if (!sig->is_string())
                        return wrong_type(at() + ".thoughtSignature", "a string", *sig);
                    r->signature = sv(sig->get_string());
                }
                m.content.emplace_back(std::move(*r));
            } else if (is_key(k, "functionResponse", "function_response")) {
                data = true;
                if (model)
                    return invalid(at() + ".functionResponse",
                                   "Content with role 'model' can't contain 'functionResponse' "
                                   "part");
                auto r = function_response(kv, at() + ".functionResponse");
                if (!r) return r.error();
                m.content.emplace_back(std::move(*r));
            } else if (is_key(k, "thoughtSignature", "thought_signature")) {
                // On a function call: read with it. On a thought: read with it. On text, or
                // alone (Gemini's streams end with `{"text":"","thoughtSignature":…}`): a
                // signature-only reasoning part, which goes back as its own part.
                if (!kv.is_string()) return wrong_type(at() + ".thoughtSignature", "a string", kv);
                data = true;
                if (member(*p, "functionCall", "function_call")) continue;
                if (auto const* th = member(*p, "thought"); th && th->is_bool() && th->get_bool())
                    continue;
                if (!model) {
                    keep_contents_ = true;
                    continue;
                }
                reasoning_part r;
                r.origin = "google";
                r.signature = sv(kv.get_string());
                m.content.emplace_back(std::move(r));
            } else if (is_key(k, "executableCode", "executable_code") ||
                       is_key(k, "codeExecutionResult", "code_execution_result")) {
                data = true;
                keep_contents_ = true;
            } else if (is_key(k, "videoMetadata", "video_metadata") ||
                       is_key(k, "partMetadata", "part_metadata") ||
                       is_key(k, "mediaResolution", "media_resolution")) {
                keep_contents_ = true;
            } else {
                return invalid(at() + "." + std::string(k),
                               "Invalid JSON payload received. Unknown name \"" + std::string(k) +
                                   "\" at '" + at() + "': Cannot find field.");
            }
        }
        if (!data)
            return invalid(at(), "* GenerateContentRequest." + at() +
                                     ".data: required oneof field 'data' must have one "
                                     "initialized field\n");
        return {};
    }

    boost::system::result<tool_call, api_error> function_call(json::value const& v,
                                                              std::string const& at) {
        auto const* fc = v.if_object();
        if (!fc) return wrong_type(at, "a FunctionCall object", v);
        auto const* name = member(*fc, "name");
        if (!name || !name->is_string() || name->get_string().empty())
            return invalid(at + ".name", "* GenerateContentRequest." + at +
                                             ".name: Name cannot be empty.\n");
        tool_call c;
        c.name = std::string(sv(name->get_string()));
        if (auto const* args = member(*fc, "args")) {
            if (!args->is_object()) return wrong_type(at + ".args", "an object", *args);
            c.arguments = to_json(*args);
        } else {
            c.arguments = "{}";
        }
        if (auto const* id = member(*fc, "id")) {
            if (!id->is_string()) return wrong_type(at + ".id", "a string", *id);
            c.id = std::string(sv(id->get_string()));
        }
        if (c.id.empty()) c.id = "call_" + std::to_string(calls_made_++);
        pending_.push_back({c.id, c.name});
        return c;
    }

    boost::system::result<tool_result, api_error> function_response(json::value const& v,
                                                                     std::string const& at) {
        auto const* fr = v.if_object();
        if (!fr) return wrong_type(at, "a FunctionResponse object", v);
        auto const* name = member(*fr, "name");
        if (!name || !name->is_string() || name->get_string().empty())
            return invalid(at + ".name", "* GenerateContentRequest." + at +
                                             ".name: Name cannot be empty.\n");
        auto const* resp = member(*fr, "response");
        if (!resp || !resp->is_object())
            return invalid(at + ".response", "* GenerateContentRequest." + at +
                                                 ".response: must be a JSON object.\n");
        tool_result r;
        r.name = std::string(sv(name->get_string()));
        if (auto const* id = member(*fr, "id")) {
            if (!id->is_string()) return wrong_type(at + ".id", "a string", *id);
            r.tool_call_id = std::string(sv(id->get_string()));
        }
        // The call it answers: by id, else the oldest unanswered call of its name.
        auto it = std::find_if(pending_.begin(), pending_.end(), [&](auto const& c) {
            return r.tool_call_id.empty() ? c.second == r.name : c.first == r.tool_call_id;
        });
        if (it != pending_.end()) {
            if (r.tool_call_id.empty()) r.tool_call_id = it->first;
            pending_.erase(it);
        } else if (r.tool_call_id.empty()) {
            r.tool_call_id = "call_" + std::to_string(calls_made_++);
        }
        // The response object is what the model reads, whatever its keys: kept whole. Google's
        // `{"error": ...}` marks a failed call.
        auto const& o = resp->get_object();
        r.is_error = o.size() == 1 && o.contains("error");
        r.content = to_json(o);
        return r;
    }

    inbound_request& out_;
    chat_request& req_;
    bool keep_contents_ = false;
    bool keep_tools_ = false;
    std::size_t calls_made_ = 0;
    /// Calls not answered yet: id and name, oldest first.
    std::deque<std::pair<std::string, std::string>> pending_;

public:
    bool keep_tools() const noexcept { return keep_tools_; }
};

decode_result decode(request_head const& head, std::string_view body) {
    // The document only lives for this call: a monotonic arena (with a first block on the
    // stack) makes parsing cheap. Whatever the request keeps is copied out of it.
    unsigned char first_block[4096];
    json::monotonic_resource arena(first_block, sizeof first_block);
    json::parse_options popts;
    popts.max_depth = 256;  // JSON schemas nest deeply
    boost::system::error_code ec;
    json::value const doc = detail::parse_json(body, ec, &arena, popts);
    if (ec)
        return invalid({}, "Invalid JSON payload received. " + ec.message() + ".");
    auto const* o = doc.if_object();
    if (!o)
        return invalid({}, "Invalid JSON payload received. Expected an object "
                           "(GenerateContentRequest), got " +
                               std::string(json_kind(doc)) + ".");
    bool const counting = head.path.ends_with(count_suffix);
    // countTokens takes a whole generateContentRequest too (the model is the path's).
    if (counting)
        if (auto const* inner = member(*o, "generateContentRequest", "generate_content_request");
            inner && inner->is_object())
            o = &inner->get_object();

    inbound_request out;
    auto& req = out.req;
    out.stream = head.path.ends_with(stream_suffix);
    out.include_usage = true;  // Gemini always reports usage

    std::string_view model = head.path_model;
    if (model.starts_with("models/")) model.remove_prefix(7);
    if (model.empty())
        return invalid("model", "* GenerateContentRequest.model: unexpected model name format\n");
    if (auto const pub = publisher_of(head.path); !pub.empty() && pub != "google") {
        req.model = std::string(pub);
        req.model += '/';
    }
    req.model += model;

    request_decoder d(out);
    if (auto const* si = member(*o, "systemInstruction", "system_instruction"))
        if (auto r = d.system_instruction(*si); !r) return r.error();
    auto const* contents = member(*o, "contents");
    if (!contents)
        return invalid("contents", "* GenerateContentRequest.contents: contents is not "
                                   "specified\n");
    if (auto r = d.contents(*contents); !r) return r.error();
    if (std::all_of(req.messages.begin(), req.messages.end(),
                    [](message const& m) { return m.role == role::system; }))
        // Nothing but empty text (or thoughts): there is nothing to answer.
        return invalid("contents", "* GenerateContentRequest.contents: contents must hold "
                                   "some text or data\n");
    if (auto const* t = member(*o, "tools")) {
        if (auto r = d.tools(*t); !r) return r.error();
        if (d.keep_tools() && !out.native.contains("tools"))
            out.native.emplace("tools", json::value(*t, json::storage_ptr{}));
    }
    if (auto const* tc = member(*o, "toolConfig", "tool_config"))
        if (auto r = d.tool_config(*tc); !r) return r.error();
    if (req.tool_choice && req.tool_choice->how == tool_choice::mode::named &&
        std::none_of(req.tools.begin(), req.tools.end(),
                     [&](tool const& t) { return t.name == req.tool_choice->name; }))
        return invalid("toolConfig.functionCallingConfig.allowedFunctionNames",
                       "* GenerateContentRequest.tool_config.function_calling_config.allowed_"
                       "function_names: the function '" +
                           req.tool_choice->name + "' is not declared in tools\n");
    if (req.tool_choice && req.tool_choice->how == tool_choice::mode::required &&
        req.tools.empty())
        return invalid("toolConfig.functionCallingConfig.mode",
                       "* GenerateContentRequest.tool_config.function_calling_config.mode: mode "
                       "ANY needs function declarations in tools\n");
    if (auto const* gc = member(*o, "generationConfig", "generation_config"))
        if (auto r = d.generation_config(*gc); !r) return r.error();

    // Every other field (safetySettings, cachedContent, labels, ...) as it was sent.
    for (auto const& [key, v] : *o) {
        std::string_view const k(key.data(), key.size());
        if (v.is_null() || is_key(k, "contents") || is_key(k, "model") ||
            is_key(k, "systemInstruction", "system_instruction") || is_key(k, "tools") ||
            is_key(k, "toolConfig", "tool_config") ||
            is_key(k, "generationConfig", "generation_config"))
            continue;
        // A field is passed on by its name; one without a name cannot be, nor named in a refusal.
        if (k.empty())
            return invalid("", "Invalid JSON payload received. Unknown name \"\": Cannot find field.");
        out.native.emplace(key, json::value(v, json::storage_ptr{}));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// True when `text` is a JSON object (a function call's arguments), read without allocating
/// for typical sizes.
bool is_json_object(std::string_view text) {
    if (trim(text).empty() || trim(text).front() != '{') return false;
    unsigned char buf[2048];
    json::monotonic_resource mr(buf, sizeof buf);
    boost::system::error_code ec;
    auto const v = detail::parse_json(text, ec, &mr);
    return !ec && v.is_object();
}

/// Gemini's usageMetadata for what is known of `u` (unknown counts are left out; zero thought
/// and cache counts too, as Gemini leaves them out).
void append_usage(std::string& out, usage const& u) {
    out += '{';
    bool first = true;
    auto field = [&](std::string_view name, std::uint64_t v) {
        if (!first) out += ',';
        first = false;
        out += '"';
        out += name;
        out += "\":"sv;
        append_number(out, v);
    };
    std::uint64_t const reasoning = u.reasoning_tokens.value_or(0);
    if (u.input_tokens) field("promptTokenCount", *u.input_tokens);
    if (u.output_tokens)
        field("candidatesTokenCount",
              *u.output_tokens >= reasoning ? *u.output_tokens - reasoning : *u.output_tokens);
    if (u.cached_input_tokens && *u.cached_input_tokens)
        field("cachedContentTokenCount", *u.cached_input_tokens);
    if (reasoning && u.output_tokens && *u.output_tokens >= reasoning)
        field("thoughtsTokenCount", reasoning);
    if (u.total_tokens)
        field("totalTokenCount", *u.total_tokens);
    else if (u.input_tokens && u.output_tokens)
        field("totalTokenCount", *u.input_tokens + *u.output_tokens);
    if (u.input_tokens) {
        out += first ? ""sv : ","sv;
        out += "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":"sv;
        append_number(out, *u.input_tokens);
        out += "}]"sv;
    }
    out += '}';
}

/// `"functionCall":{...}` parts for `calls`, comma-separated after any earlier part; calls
/// whose arguments are not a JSON object (cut by the token limit) are left out, as Gemini
/// leaves out what it could not finish. Returns how many were left out.
template <class Calls>
std::size_t append_calls(std::string& out, Calls const& calls, bool& any_part) {
    std::size_t dropped = 0;
    for (auto const& c : calls) {
        std::string_view const args = c.arguments.empty() ? std::string_view("{}") : c.arguments;
        if (!is_json_object(args)) {
            ++dropped;
            continue;
        }
        if (any_part) out += ',';
        any_part = true;
        out += "{\"functionCall\":{"sv;
        if (!c.id.empty()) {
            out += "\"id\":"sv;
            append_json_string(out, c.id);
            out += ',';
        }
        out += "\"name\":"sv;
        append_json_string(out, c.name);
        out += ",\"args\":"sv;
        out += trim(args);
        out += '}';
        if (!c.signature.empty()) {
            out += ",\"thoughtSignature\":"sv;
            append_json_string(out, c.signature);
        }
        out += '}';
    }
    return dropped;
}

/// The finishReason of an answer: the provider's own name when it is Gemini's for the same
/// unified reason (a Gemini upstream's RECITATION stays RECITATION), else the table's.
std::string_view finish_of(finish_reason fr, std::string_view native, bool dropped_call) {
    if (dropped_call && fr != finish_reason::length) return "MALFORMED_FUNCTION_CALL";
    bool fails = false;
    if (!native.empty() && gemini::finish_from_name(native, fr == finish_reason::tool_calls, fails) == fr &&
        fr != finish_reason::unknown)
        return native;
    return gemini::finish_name(fr);
}

/// `,"modelVersion":...,"responseId":...}`: what closes every answer and event.
void append_trailer(std::string& out, answer_meta const& m) {
    out += ",\"modelVersion\":"sv;
    append_json_string(out, m.model);
    out += ",\"responseId\":"sv;
    append_json_string(out, m.id);
    out += '}';
}

void append_response(chat_response const& r, answer_meta const& m, std::string& out) {
    out += "{\"candidates\":[{\"content\":{"sv;
    std::size_t const parts_at = out.size();
    out += "\"parts\":["sv;
    bool any = false;
    if (!r.reasoning.empty()) {
        out += "{\"text\":"sv;
        append_json_string(out, r.reasoning);
        out += ",\"thought\":true}"sv;
        any = true;
    }
    if (!r.content.empty() || (r.tool_calls.empty() && !any)) {
        if (any) out += ',';
        out += "{\"text\":"sv;
        append_json_string(out, r.content);
        out += '}';
        any = true;
    }
    std::size_t const dropped = append_calls(out, r.tool_calls, any);
    if (any)
        out += "],"sv;
    else
        out.resize(parts_at);  // nothing to say: a content with its role only, as Gemini's
    out += "\"role\":\"model\"},\"finishReason\":\""sv;
    out += finish_of(r.finish_reason, r.native_finish_reason, dropped > 0);
    out += "\",\"index\":0}]"sv;
    if (r.usage.known() || r.usage.input_tokens || r.usage.output_tokens) {
        out += ",\"usageMetadata\":"sv;
        append_usage(out, r.usage);
    }
    append_trailer(out, m);
}

/// Google's error body: `{"error":{"code","message","status","details":[...]}}`.
void append_error(api_error const& e, std::string& out) {
    // The canonical status: the one the caller chose (the emulator's fidelity), else the
    // HTTP status's.
    std::string_view status = gemini::canonical_status(e.status);
    if (!e.type.empty() &&
        std::all_of(e.type.begin(), e.type.end(), [](char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }))
        status = e.type;
    out += "{\"error\":{\"code\":"sv;
    append_number(out, static_cast<std::uint64_t>(e.status));
    out += ",\"message\":"sv;
    append_json_string(out, e.message);
    out += ",\"status\":"sv;
    append_json_string(out, status);
    bool const google_reason =
        !e.code.empty() && std::all_of(e.code.begin(), e.code.end(), [](char c) {
            return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        });
    // A provider's quota error (the emulator's) names the quota it hit.
    bool const quota = e.status == 429 && !e.type.empty();
    if (e.code.empty() && !quota && !e.retry_after && e.param.empty()) {
        out += "}}"sv;
        return;
    }
    out += ",\"details\":["sv;
    bool first = true;
    auto next = [&] {
        if (!first) out += ',';
        first = false;
    };
    if (!e.code.empty()) {
        next();
        out += "{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":"sv;
        append_json_string(out, e.code);
        if (google_reason) {
            bool const api_key = e.code.starts_with("API_KEY");
            out += ",\"domain\":\"googleapis.com\",\"metadata\":{\"service\":"sv;
            out += api_key ? "\"generativelanguage.googleapis.com\""sv : "\"aiplatform.googleapis.com\""sv;
            out += "}}"sv;
            if (api_key) {
                next();
                out += "{\"@type\":\"type.googleapis.com/google.rpc.LocalizedMessage\","
                       "\"locale\":\"en-US\",\"message\":"sv;
                append_json_string(out, e.message);
                out += '}';
            }
        } else {
            // A unified code (the gateway's own: rate_limit_exceeded, model_not_found).
            out += ",\"domain\":\"llmux\"}"sv;
        }
    }
    if (!e.param.empty()) {
        next();
        out += "{\"@type\":\"type.googleapis.com/google.rpc.BadRequest\",\"fieldViolations\":[{"
               "\"field\":"sv;
        append_json_string(out, e.param);
        out += ",\"description\":"sv;
        append_json_string(out, e.message);
        out += "}]}"sv;
    }
    if (quota) {
        next();
        out += "{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\",\"violations\":[{"
               "\"quotaMetric\":\"generativelanguage.googleapis.com/"
               "generate_content_free_tier_requests\",\"quotaId\":"
               "\"GenerateRequestsPerMinutePerProjectPerModel-FreeTier\",\"quotaValue\":"
               "\"15\"}]},{\"@type\":\"type.googleapis.com/google.rpc.Help\",\"links\":[{"
               "\"description\":\"Learn more about Gemini API quotas\",\"url\":"
               "\"https://ai.google.dev/gemini-api/docs/rate-limits\"}]}"sv;
    }
    if (e.retry_after) {
        // A google.protobuf.Duration in its JSON form ("17s", "0.250s").
        next();
        auto const ms = std::max<std::int64_t>(0, e.retry_after->count());
        out += "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\""sv;
        append_number(out, static_cast<std::uint64_t>(ms / 1000));
        if (ms % 1000) {
            char const frac[5] = {'.', static_cast<char>('0' + ms % 1000 / 100),
                                  static_cast<char>('0' + ms % 100 / 10),
                                  static_cast<char>('0' + ms % 10), 0};
            out += frac;
        }
        out += "s\"}"sv;
    }
    out += "]}}"sv;
}

constexpr std::string_view internal_message =
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting";

api_error google_error(unsigned status, std::string message, std::string reason = {}) {
    return {status, std::move(message), std::string(gemini::canonical_status(status)),
            std::move(reason), {}};
}

// ---------------------------------------------------------------------------------------------
// Streams

/** Gemini's SSE stream: one event per piece of text (or reasoning), each a whole
    GenerateContentResponse; function calls are collected and sent whole in the last event,
    with the finishReason and the usage. No end marker: the finishReason ends it.
*/
class gemini_stream_encoder final : public stream_encoder {
public:
    explicit gemini_stream_encoder(answer_meta const& m) {
        trailer_.reserve(64 + m.model.size() + m.id.size());
        append_trailer(trailer_, m);
        trailer_ += "\r\n\r\n"sv;
    }

    void chunk(chat_chunk const& c, std::string& out) override {
        if (ended_) return;
        if (!c.reasoning.empty()) text_event(c.reasoning, true, c, out);
        if (!c.text.empty()) text_event(c.text, false, c, out);
        for (auto const& d : c.tool_calls) {
            auto it = std::find_if(calls_.begin(), calls_.end(),
                                   [&](call const& k) { return k.index == d.index; });
            if (it == calls_.end()) {
                calls_.push_back({d.index, {}, {}, {}, {}});
                it = calls_.end() - 1;
            }
            if (!d.signature.empty()) it->signature = d.signature;
            if (!d.id.empty()) it->id = d.id;
            if (!d.name.empty()) it->name = d.name;
            it->arguments += d.arguments;
        }
        if (c.finish_reason && !finish_) finish_ = *c.finish_reason;
        if (c.usage) usage_ = *c.usage;
    }

    void finish(chat_response const& whole, std::string& out) override {
        if (ended_) return;
        ended_ = true;
        out += "data: {\"candidates\":[{\"content\":{\"parts\":["sv;
        bool any = false;
        std::size_t dropped = 0;
        if (!calls_.empty())
            dropped = append_calls(out, calls_, any);
        else if (!whole.tool_calls.empty() && !sent_text_)
            dropped = append_calls(out, whole.tool_calls, any);
        if (!any) out += "{\"text\":\"\"}"sv;
        out += "],\"role\":\"model\"},\"finishReason\":\""sv;
        finish_reason fr = finish_ ? *finish_ : whole.finish_reason;
        out += finish_of(fr, whole.native_finish_reason, dropped > 0);
        out += "\",\"index\":0}],\"usageMetadata\":"sv;
        usage const& u = whole.usage.known() || !usage_ ? whole.usage : *usage_;
        append_usage(out, u);
        out += trailer_;
    }

    void error(api_error const& e, std::string& out) override {
        if (ended_) return;
        ended_ = true;
        out += "data: "sv;
        append_error(e, out);
        out += "\r\n\r\n"sv;
    }

    void malformed(std::string& out) override {
        // An unterminated string: an event that starts like the others and cannot be parsed.
        out += "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"malformed}\r\n\r\n"sv;
    }

private:
    struct call {
        std::size_t index;
        std::string id, name, arguments, signature;
    };

    void text_event(std::string_view text, bool thought, chat_chunk const& c, std::string& out) {
        sent_text_ = true;
        out += "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":"sv;
        append_json_string(out, text);
        if (thought) out += ",\"thought\":true"sv;
        out += "}],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":"sv;
        // The usage so far, where the chunk says it; Gemini's own chunks always carry one.
        if (c.usage)
            append_usage(out, *c.usage);
        else
            out += "{}"sv;
        out += trailer_;
    }

    std::string trailer_;  // `,"modelVersion":…,"responseId":…}` and the blank line
    std::vector<call> calls_;
    std::optional<finish_reason> finish_;
    std::optional<usage> usage_;
    bool sent_text_ = false;
    bool ended_ = false;
};

// ---------------------------------------------------------------------------------------------

// Most specific first; the gateway matches whole paths, the emulator any tail (its last
// entry, `/models/{model}:...`, is every other base path a client may be configured with).
#define LLMUX_GEMINI_ENDPOINTS(prefix)                                                       \
    {"POST", prefix ":streamGenerateContent", operation::chat, true},                        \
        {"POST", prefix ":generateContent", operation::chat, false},                          \
        {"POST", prefix ":countTokens", operation::count_tokens, false},                      \
        {"POST", prefix ":batchEmbedContents", operation::embed, false},                      \
        {"POST", prefix ":embedContent", operation::embed, false},                            \
        {"POST", prefix ":predict", operation::embed, false}

constexpr endpoint endpoints_table[] = {
    LLMUX_GEMINI_ENDPOINTS("/v1beta/models/{model}"),
    LLMUX_GEMINI_ENDPOINTS("/v1/models/{model}"),
    // Vertex AI, with a project and location, and in express mode (API keys).
    LLMUX_GEMINI_ENDPOINTS("/v1/projects/{*}/locations/{*}/publishers/{*}/models/{model}"),
    LLMUX_GEMINI_ENDPOINTS("/v1beta1/projects/{*}/locations/{*}/publishers/{*}/models/{model}"),
    LLMUX_GEMINI_ENDPOINTS("/v1/publishers/{*}/models/{model}"),
    LLMUX_GEMINI_ENDPOINTS("/v1beta1/publishers/{*}/models/{model}"),
    LLMUX_GEMINI_ENDPOINTS("/models/{model}"),
    {"GET", "/v1beta/models", operation::list_models},
    {"GET", "/v1beta/models/{model}", operation::get_model},
};
#undef LLMUX_GEMINI_ENDPOINTS

class gemini_server_impl final : public wire_server {
public:
    std::string_view name() const noexcept override { return "gemini"; }

    std::span<endpoint const> endpoints() const noexcept override { return endpoints_table; }

    /** An API key in `x-goog-api-key` or `?key=` (AI Studio, Vertex express mode), else an
        OAuth access token as a Bearer (Vertex AI; AI Studio takes them too). A key that is
        there but blank is presented as an access token nobody issued: Google refuses it
        (400 API_KEY_INVALID) rather than treat the request as anonymous.
    */
    credential presented_credential(request_head const& head) const override {
        std::string_view const header_key = head.header("x-goog-api-key");
        if (!trim(header_key).empty()) return {credential::kind::api_key, trim(header_key)};
        std::string_view const query_key = head.query_param("key");
        if (!query_key.empty()) return {credential::kind::api_key, query_key};
        std::string_view const auth = head.header("authorization");
        if (auth.size() > 7 && iequals(auth.substr(0, 7), "Bearer ")) {
            auto const token = trim(auth.substr(7));
            if (!token.empty()) return {credential::kind::access_token, token};
        }
        if (blank_key(head)) return {credential::kind::access_token, {}};
        return {};
    }

    std::string_view key_hint() const noexcept override { return "x-goog-api-key: <key>"; }

    boost::system::result<inbound_embedding, api_error>
    decode_embedding_request(request_head const& head, std::string_view body) const override {
        return gemini::decode_embedding_request(head, body);
    }

    bool encode_embedding_response(embedding_response const& r, embedding_meta const& m,
                                   embedding_form form, std::string& out) const override {
        (void)m;  // Google's embedding answers do not name the model
        return gemini::encode_embedding_response(r, form, out);
    }

    decode_result decode_request(request_head const& head, std::string_view body) const override {
        return decode(head, body);
    }

    void encode_response(chat_response const& r, answer_meta const& m,
                         std::string& out) const override {
        append_response(r, m, out);
    }

    std::string_view stream_content_type() const noexcept override { return "text/event-stream"; }

    std::unique_ptr<stream_encoder> make_stream_encoder(answer_meta const& m,
                                                        bool include_usage) const override {
        (void)include_usage;  // Gemini always sends usage
        return std::make_unique<gemini_stream_encoder>(m);
    }

    http_answer encode_error(api_error const& e) const override {
        http_answer a;
        a.status = e.status;
        a.content_type = "application/json; charset=UTF-8";
        if (e.retry_after) {
            // Google says it in RetryInfo; the headers are for clients that read only those.
            auto const ms = e.retry_after->count();
            a.headers.emplace_back("retry-after", std::to_string((ms + 999) / 1000));
            a.headers.emplace_back("retry-after-ms", std::to_string(ms));
        }
        append_error(e, a.body);
        return a;
    }

    void response_headers(answer_meta const& m, header_sink& out) const override {
        // Google sends no request id header; its front end reports the time spent.
        char buf[48] = "gfet4t7; dur=";
        auto const r = std::to_chars(buf + 13, buf + sizeof buf, m.processing_ms);
        out.header("server-timing", std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
        out.header("vary", "Origin, X-Origin, Referer");
        out.header("x-content-type-options", "nosniff");
    }

    std::string make_id(id_kind kind, std::string_view tag, std::uint64_t n) const override {
        // Gemini's function calls have no ids: the emulator's have none either.
        if (kind == id_kind::tool_call) return {};
        std::string out;
        out.reserve(32 + tag.size());  // one allocation: tag, separator and number
        out += tag;
        out += kind == id_kind::request ? "-req-"sv : "-"sv;
        append_number(out, n);
        return out;
    }

    void encode_models(std::span<std::string const> names, std::int64_t created,
                       std::string& out) const override {
        out += "{\"models\":["sv;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i) out += ',';
            encode_model(names[i], created, out);
        }
        out += "]}"sv;
    }

    void encode_model(std::string_view name, std::int64_t created,
                      std::string& out) const override {
        (void)created;  // Gemini's model resource has no creation time
        out += "{\"name\":\"models/"sv;
        std::string quoted;
        append_json_string(quoted, name);
        out.append(quoted, 1, quoted.size() - 1);  // the name, escaped, after the prefix
        out += ",\"displayName\":"sv;
        append_json_string(out, name);
        out += ",\"supportedGenerationMethods\":[\"generateContent\",\"countTokens\"]}"sv;
    }

    void encode_token_count(std::uint64_t tokens, std::string& out) const override {
        out += "{\"totalTokens\":"sv;
        append_number(out, tokens);
        out += '}';
    }

    api_error reasoning_refused(reasoning_fault const& f) const override {
        // Gemini 3's wording (PROVIDERS-2.md 3.4); `position` counts `contents`.
        if (f.what == reasoning_fault::kind::missing_call_signature)
            return {400,
                    "Function call is missing a thought_signature in functionCall parts. This is "
                    "required for tools to work correctly, and missing thought_signature may lead "
                    "to degraded model performance. Additional data, function call `default_api:" +
                        f.name + "` , position " + std::to_string(f.message + 1) +
                        ". Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures "
                        "for more details.",
                    "INVALID_ARGUMENT", "", ""};
        if (f.what == reasoning_fault::kind::invalid_call_signature)
            return {400, "Corrupted thought signature.", "INVALID_ARGUMENT", "", ""};
        return wire_server::reasoning_refused(f);
    }

    api_error error_for_status(unsigned status, std::string_view model) const override {
        std::string const m(model);
        switch (status) {
        case 400: return google_error(400, "Request contains an invalid argument.");
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
        case 403: return google_error(403, "The caller does not have permission");
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
        case 499: return google_error(499, "The operation was cancelled.");
        case 500: return google_error(500, std::string(internal_message));
        case 501:
            return google_error(501, "Operation is not implemented, or supported, or enabled.");
        case 503: return google_error(503, "The model is overloaded. Please try again later.");
        case 504: return google_error(504, "Deadline expired before operation could complete.");
        default:
            return google_error(status, "Emulated error (HTTP " + std::to_string(status) + ").");
        }
    }

    api_error auth_error(bool missing, std::string_view why, std::string_view type) const override {
        (void)why;
        (void)type;
        if (missing)
            return google_error(403,
                                "Method doesn't allow unregistered callers (callers without "
                                "established identity). Please use API Key or other form of API "
                                "consumer identity to call this API.");
        return error_for_status(401, {});
    }

    api_error auth_error_for(request_head const& head, bool missing, std::string_view why,
                             std::string_view type) const override {
        if (missing && vertex_path(head.path))
            return google_error(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "CREDENTIALS_MISSING");
        if (!missing && blank_key(head) && head.header("authorization").empty())
            return google_error(400, "API key not valid. Please pass a valid API key.",
                                "API_KEY_INVALID");
        return auth_error(missing, why, type);
    }

    api_error unknown_endpoint(std::string_view method, std::string_view target) const override {
        (void)method;
        (void)target;
        return google_error(404, "Requested entity was not found.");
    }

private:
    /// An API key header or `key=` parameter that is there but blank.
    static bool blank_key(request_head const& head) {
        if (head.lookup && head.lookup(head.context, "x-goog-api-key").data() != nullptr &&
            trim(head.header("x-goog-api-key")).empty())
            return true;
        std::string_view q = head.query;
        while (!q.empty()) {
            auto const amp = q.find('&');
            auto const pair = q.substr(0, amp);
            if (pair == "key" || pair == "key=") return true;
            if (amp == std::string_view::npos) break;
            q.remove_prefix(amp + 1);
        }
        return false;
    }
};

}  // namespace

namespace gemini {

api_error invalid(std::string param, std::string message) {
    return api_error{400, std::move(message), "INVALID_ARGUMENT", {}, std::move(param)};
}

api_error wrong_type(std::string const& path, char const* expected, boost::json::value const& got) {
    return invalid(path, "Invalid JSON payload received. Invalid value at '" + path +
                             "': expected " + expected + ", got " + json_kind(got) + ".");
}

}  // namespace gemini

wire_server const& gemini_server() {
    static gemini_server_impl const instance;
    return instance;
}

}  // namespace llmux::detail
