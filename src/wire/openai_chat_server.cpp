// SPDX-License-Identifier: BSL-1.0
// The server side of OpenAI chat completions (PROVIDERS.md sections 1 and 2): requests decoded
// into a `chat_request` with OpenAI's own 400s, answers and `chat.completion.chunk` streams
// written as OpenAI writes them, OpenAI's error bodies and headers. Sans-io: the emulator and the
// gateway serve OpenAI clients through it. Written as text straight into the caller's buffer
// (no JSON DOM per answer or per event): the emulator is the upstream of every benchmark.
#include "util/json_text.hpp"
#include "util/json_read.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/openai_chat.hpp"
#include "wire/openai_embeddings.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_map>

using namespace std::string_view_literals;

namespace llmux::detail {

namespace {

namespace json = boost::json;
using decode_result = boost::system::result<inbound_request, api_error>;

// ---------------------------------------------------------------------------------------------
// Decoding

// OpenAI treats `null` as absent: `member` is wire/common's `present`.
std::string_view sv(json::string const& s) noexcept {
    return json_view(s);
}
json::value const* member(json::object const& o, std::string_view key) noexcept {
    return present(o, key);
}

using openai::invalid;
using openai::missing;
using openai::type_for_status;
using openai::wrong_type;

/// Reads the integer member `v` named `key` (JSON integers, or doubles with no fraction: some
/// clients write `16.0`).
boost::system::result<std::optional<std::int64_t>, api_error> int_value(json::value const* v,
                                                                        char const* key) {
    if (!v) return std::optional<std::int64_t>();
    if (auto n = whole_number(*v)) return n;
    return wrong_type(key, "an integer", *v);
}

boost::system::result<std::optional<cache_control>, api_error>
cache_control_of(json::object const& p, std::string const& at);

/// Text of a `content` that may only hold text: a string, or an array of text parts (joined;
/// a part's `cache_control`, OpenRouter's, goes to `cache` when given: the breakpoint follows
/// the joined text).
boost::system::result<std::string, api_error> text_content(json::value const& c,
                                                           std::string const& where,
                                                           std::optional<cache_control>* cache = nullptr) {
    if (auto const* s = c.if_string()) return std::string(sv(*s));
    if (auto const* parts = c.if_array()) {
        std::string out;
        for (std::size_t j = 0; j < parts->size(); ++j) {
            auto const at = where + "[" + std::to_string(j) + "]";
            auto const* p = (*parts)[j].if_object();
            if (!p) return wrong_type(at, "an object", (*parts)[j]);
            auto const* type = p->if_contains("type");
            if (!type || !type->is_string()) return missing(at + ".type");
            if (type->get_string() == "refusal") continue;
            if (type->get_string() != "text")
                return invalid(at + ".type", "Invalid value for '" + at +
                                                 ".type': only text parts are allowed here.");
            auto const* t = p->if_contains("text");
            if (!t || !t->is_string()) return missing(at + ".text");
            out += sv(t->get_string());
            if (cache) {
                auto cc = cache_control_of(*p, at);
                if (!cc) return cc.error();
                if (*cc) *cache = std::move(*cc);
            }
        }
        return out;
    }
    return wrong_type(where, "a string or an array of text parts", c);
}

/// The fields read into the unified request; every other field is `native`.
enum class field : std::uint8_t {
    model, messages, temperature, top_p, max_tokens, max_completion_tokens, seed, user, stop, n,
    stream, stream_options, tools, tool_choice, response_format, reasoning_effort,
    prompt_cache_key, count
};
constexpr std::array<std::string_view, static_cast<std::size_t>(field::count)> unified_fields = {
    "model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "seed",
    "user", "stop", "n", "stream", "stream_options", "tools", "tool_choice", "response_format",
    "reasoning_effort", "prompt_cache_key",
};

// Each name is a whole literal: none empty (the empty key is refused, never unified), and
// each followed by its NUL (the names are handed on as `char const*`).
static_assert([] {
    for (auto const f : unified_fields)
        if (f.empty() || f.data()[f.size()] != '\0') return false;
    return true;
}());

/// The unified field a key names, or field::count for any other key.
field unified_field(std::string_view key) noexcept {
    for (std::size_t i = 0; i < unified_fields.size(); ++i)
        if (unified_fields[i] == key) return static_cast<field>(i);
    return field::count;
}

/** The request's unified fields, found in one pass over its members (a search of the object
    per field cost twice the pass: issue 15). A null member counts as absent, as OpenAI treats
    it (`present`).
*/
class top_fields {
public:
    explicit top_fields(json::object const& o) noexcept {
        for (auto const& [key, v] : o) {
            auto const f = unified_field(std::string_view(key.data(), key.size()));
            if (f != field::count) at_[static_cast<std::size_t>(f)] = v.is_null() ? nullptr : &v;
        }
    }
    json::value const* operator[](field f) const noexcept {
        return at_[static_cast<std::size_t>(f)];
    }

private:
    std::array<json::value const*, static_cast<std::size_t>(field::count)> at_{};
};

/// True when `v` is OpenAI's default for `key`: such a field changes nothing and is not kept.
bool at_default(std::string_view key, json::value const& v) {
    if (key == "frequency_penalty" || key == "presence_penalty" || key == "top_logprobs")
        return v.is_number() && v.to_number<double>() == 0;
    if (key == "logprobs" || key == "store") return v.is_bool() && !v.get_bool();
    if (key == "parallel_tool_calls") return v.is_bool() && v.get_bool();
    if (key == "logit_bias" || key == "metadata") return v.is_object() && v.get_object().empty();
    if (key == "service_tier")
        return v.is_string() && (v.get_string() == "auto" || v.get_string() == "default");
    if (key == "modalities")
        return v.is_array() && v.get_array().size() == 1 && v.get_array()[0].is_string() &&
               v.get_array()[0].get_string() == "text";
    return false;
}

/// OpenRouter's `cache_control` on a part (`{"type":"ephemeral","ttl"?}`).
boost::system::result<std::optional<cache_control>, api_error>
cache_control_of(json::object const& p, std::string const& at) {
    auto const* c = member(p, "cache_control");
    if (!c) return std::optional<cache_control>();
    auto const* o = c->if_object();
    auto const* t = o ? member(*o, "type") : nullptr;
    if (!t || !t->is_string() || t->get_string() != "ephemeral")
        return invalid(at + ".cache_control",
                       "Invalid '" + at + ".cache_control': expected {\"type\": \"ephemeral\"}.");
    cache_control out;
    if (auto const* ttl = member(*o, "ttl")) {
        if (!ttl->is_string() || (ttl->get_string() != "5m" && ttl->get_string() != "1h"))
            return invalid(at + ".cache_control.ttl",
                           "Invalid '" + at + ".cache_control.ttl': expected '5m' or '1h'.");
        out.ttl = std::string(sv(ttl->get_string()));
    }
    return std::optional<cache_control>(std::move(out));
}

/// The messages of the request into `req`.
boost::system::result<void, api_error> decode_messages(json::array const& list,
                                                        chat_request& req) {
    req.messages.reserve(list.size());
    // Tool results name their call by id; Gemini also wants the tool's name, found here.
    std::unordered_map<std::string_view, std::string_view> call_names;
    for (std::size_t i = 0; i < list.size(); ++i) {
        // Only errors need the path; build it only then.
        auto const where = [i] { return "messages[" + std::to_string(i) + "]"; };
        auto const* m = list[i].if_object();
        if (!m) return wrong_type(where(), "an object", list[i]);
        auto const* role_v = member(*m, "role");
        if (!role_v) return missing(where() + ".role");
        if (!role_v->is_string()) return wrong_type(where() + ".role", "a string", *role_v);
        std::string_view const role = sv(role_v->get_string());
        auto const* content = member(*m, "content");
        message msg;
        if (role == "system" || role == "developer") {
            if (!content) return missing(where() + ".content");
            std::optional<cache_control> cache;
            auto t = text_content(*content, where() + ".content", &cache);
            if (!t) return t.error();
            msg.role = role::system;
            msg.content.emplace_back(text_part{std::move(*t), std::move(cache)});
        } else if (role == "user") {
            if (!content) return missing(where() + ".content");
            msg.role = role::user;
            if (auto const* s = content->if_string()) {
                msg.content.emplace_back(text_part{std::string(sv(*s))});
            } else if (auto const* parts = content->if_array()) {
                for (std::size_t j = 0; j < parts->size(); ++j) {
                    auto const at = where() + ".content[" + std::to_string(j) + "]";
                    auto const* p = (*parts)[j].if_object();
                    if (!p) return wrong_type(at, "an object", (*parts)[j]);
                    auto const* type = member(*p, "type");
                    if (!type || !type->is_string()) return missing(at + ".type");
                    std::string_view const ty = sv(type->get_string());
                    if (ty == "text") {
                        auto const* t = member(*p, "text");
                        if (!t || !t->is_string()) return missing(at + ".text");
                        // OpenRouter's `cache_control` on a text part (PROVIDERS-2.md 4.5).
                        auto cache = cache_control_of(*p, at);
                        if (!cache) return cache.error();
                        msg.content.emplace_back(
                            text_part{std::string(sv(t->get_string())), std::move(*cache)});
                    } else if (ty == "file") {
                        auto const* f = member(*p, "file");
                        if (!f || !f->is_object()) return missing(at + ".file");
                        auto const* data = member(f->get_object(), "file_data");
                        if (!data || !data->is_string())
                            return invalid(at + ".file.file_data",
                                           "Invalid '" + at + ".file': this server takes files "
                                           "as file_data (a data: URI); file_id refers to "
                                           "OpenAI's Files API.");
                        document_part d;
                        d.url = std::string(sv(data->get_string()));
                        if (!istarts_with(d.url, "data:")) {
                            // The SDK's docs say "base64 encoded file data": a bare one is a PDF.
                            d.url = "data:application/pdf;base64," + d.url;
                        }
                        if (auto const* n = member(f->get_object(), "filename")) {
                            if (!n->is_string())
                                return wrong_type(at + ".file.filename", "a string", *n);
                            d.name = std::string(sv(n->get_string()));
                        }
                        msg.content.emplace_back(std::move(d));
                    } else if (ty == "image_url") {
                        auto const* iu = member(*p, "image_url");
                        image_part img;
                        if (iu && iu->is_string()) {
                            img.url = std::string(sv(iu->get_string()));
                        } else if (iu && iu->is_object()) {
                            auto const* url = member(iu->get_object(), "url");
                            if (!url || !url->is_string()) return missing(at + ".image_url.url");
                            img.url = std::string(sv(url->get_string()));
                            if (auto const* d = member(iu->get_object(), "detail")) {
                                if (!d->is_string())
                                    return wrong_type(at + ".image_url.detail", "a string", *d);
                                img.detail = std::string(sv(d->get_string()));
                            }
                        } else {
                            return missing(at + ".image_url");
                        }
                        msg.content.emplace_back(std::move(img));
                    } else {
                        return invalid(at + ".type", "Invalid value for '" + at + ".type': '" +
                                                         std::string(ty) +
                                                         "' parts are not supported by this "
                                                         "server (text, image_url, file).");
                    }
                }
            } else {
                return wrong_type(where() + ".content", "a string or an array of parts", *content);
            }
        } else if (role == "assistant") {
            msg.role = role::assistant;
            std::size_t reasoning_at = 0;  // reasoning goes first, in its order
            if (auto const* rc = member(*m, "reasoning_content")) {
                // DeepSeek's reasoning, which it wants back on tool-call turns.
                if (!rc->is_string())
                    return wrong_type(where() + ".reasoning_content", "a string", *rc);
                reasoning_part r;
                r.text = std::string(sv(rc->get_string()));
                r.origin = "deepseek";
                msg.content.emplace_back(std::move(r));
                ++reasoning_at;
            }
            if (content) {
                auto t = text_content(*content, where() + ".content");
                if (!t) return t.error();
                if (!t->empty()) msg.content.emplace_back(text_part{std::move(*t)});
            }
            if (auto const* calls = member(*m, "tool_calls")) {
                if (!calls->is_array())
                    return wrong_type(where() + ".tool_calls", "an array", *calls);
                auto const& arr = calls->get_array();
                for (std::size_t j = 0; j < arr.size(); ++j) {
                    auto const at = where() + ".tool_calls[" + std::to_string(j) + "]";
                    auto const* c = arr[j].if_object();
                    if (!c) return wrong_type(at, "an object", arr[j]);
                    auto const* id = member(*c, "id");
                    if (!id || !id->is_string()) return missing(at + ".id");
                    auto const* fn = member(*c, "function");
                    if (!fn || !fn->is_object()) return missing(at + ".function");
                    auto const* name = member(fn->get_object(), "name");
                    if (!name || !name->is_string()) return missing(at + ".function.name");
                    tool_call tc;
                    // An id this server sealed carries the turn's reasoning and the call's
                    // signature (seal_call_id): they go back in their places.
                    std::vector<reasoning_part> parts;
                    if (!open_call_id(sv(id->get_string()), &tc.id, &parts, &tc.signature))
                        tc.id = std::string(sv(id->get_string()));
                    for (auto& r : parts)
                        msg.content.insert(msg.content.begin() + static_cast<std::ptrdiff_t>(
                                                                      reasoning_at++),
                                           std::move(r));
                    tc.name = std::string(sv(name->get_string()));
                    if (auto const* args = member(fn->get_object(), "arguments")) {
                        if (!args->is_string())
                            return wrong_type(at + ".function.arguments", "a string", *args);
                        tc.arguments = std::string(sv(args->get_string()));
                    }
                    call_names[sv(id->get_string())] = sv(name->get_string());
                    msg.content.emplace_back(std::move(tc));
                }
            }
            if (msg.content.empty()) msg.content.emplace_back(text_part{});
        } else if (role == "tool") {
            auto const* id = member(*m, "tool_call_id");
            if (!id) return missing(where() + ".tool_call_id");
            if (!id->is_string()) return wrong_type(where() + ".tool_call_id", "a string", *id);
            if (!content) return missing(where() + ".content");
            auto t = text_content(*content, where() + ".content");
            if (!t) return t.error();
            tool_result r;
            if (!open_call_id(sv(id->get_string()), &r.tool_call_id, nullptr, nullptr))
                r.tool_call_id = std::string(sv(id->get_string()));
            if (auto it = call_names.find(sv(id->get_string())); it != call_names.end())
                r.name = std::string(it->second);
            r.content = std::move(*t);
            msg.role = role::tool;
            msg.content.emplace_back(std::move(r));
        } else {
            return invalid(where() + ".role",
                           "Invalid value for '" + where() + ".role': '" + std::string(role) +
                               "' (supported: system, developer, user, assistant, tool).");
        }
        req.messages.push_back(std::move(msg));
    }
    return {};
}

boost::system::result<void, api_error> decode_tools(top_fields const& o, chat_request& req) {
    if (auto const* tools = o[field::tools]) {
        if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
        auto const& arr = tools->get_array();
        for (std::size_t j = 0; j < arr.size(); ++j) {
            auto const at = "tools[" + std::to_string(j) + "]";
            auto const* t = arr[j].if_object();
            if (!t) return wrong_type(at, "an object", arr[j]);
            if (auto const* ty = member(*t, "type");
                ty && !(ty->is_string() && ty->get_string() == "function"))
                return invalid(at + ".type", "Invalid value for '" + at +
                                                 ".type': only 'function' tools are supported.");
            auto const* fn = member(*t, "function");
            if (!fn || !fn->is_object()) return missing(at + ".function");
            auto const& f = fn->get_object();
            auto const* name = member(f, "name");
            if (!name || !name->is_string() || name->get_string().empty())
                return missing(at + ".function.name");
            tool tl;
            tl.name = std::string(sv(name->get_string()));
            if (auto const* d = member(f, "description")) {
                if (!d->is_string()) return wrong_type(at + ".function.description", "a string", *d);
                tl.description = std::string(sv(d->get_string()));
            }
            if (auto const* p = member(f, "parameters")) {
                if (!p->is_object()) return wrong_type(at + ".function.parameters", "an object", *p);
                tl.parameters = json::object(p->get_object(), json::storage_ptr());
            }
            if (auto const* s = member(f, "strict")) {
                if (!s->is_bool()) return wrong_type(at + ".function.strict", "a boolean", *s);
                tl.strict = s->get_bool();
            }
            req.tools.push_back(std::move(tl));
        }
    }
    if (auto const* tc = o[field::tool_choice]) {
        if (auto const* s = tc->if_string()) {
            if (*s == "auto")
                req.tool_choice = tool_choice::automatic();
            else if (*s == "none")
                req.tool_choice = tool_choice::none();
            else if (*s == "required")
                req.tool_choice = tool_choice::required();
            else
                return invalid("tool_choice", "Invalid value for 'tool_choice': '" +
                                                  std::string(sv(*s)) +
                                                  "' (expected none, auto or required).");
        } else if (auto const* c = tc->if_object()) {
            auto const* fn = member(*c, "function");
            auto const* name = fn && fn->is_object() ? member(fn->get_object(), "name") : nullptr;
            if (!name || !name->is_string()) return missing("tool_choice.function.name");
            req.tool_choice = tool_choice::named(std::string(sv(name->get_string())));
        } else {
            return wrong_type("tool_choice", "a string or an object", *tc);
        }
        if (req.tool_choice->how == tool_choice::mode::named) {
            bool found = false;
            for (auto const& t : req.tools)
                found = found || t.name == req.tool_choice->name;
            if (!found)
                return invalid("tool_choice", "Invalid 'tool_choice': no tool named '" +
                                                  req.tool_choice->name + "' is defined.");
        }
        if (req.tool_choice->how == tool_choice::mode::required && req.tools.empty())
            return invalid("tool_choice",
                           "Invalid 'tool_choice': 'required' needs at least one tool.");
    }
    return {};
}

boost::system::result<void, api_error> decode_response_format(top_fields const& o,
                                                               chat_request& req) {
    auto const* rf = o[field::response_format];
    if (!rf) return {};
    if (!rf->is_object()) return wrong_type("response_format", "an object", *rf);
    auto const* type = member(rf->get_object(), "type");
    if (!type || !type->is_string()) return missing("response_format.type");
    std::string_view const ty = sv(type->get_string());
    if (ty == "json_object") {
        req.response_format = response_format::json();
    } else if (ty == "json_schema") {
        auto const* js = member(rf->get_object(), "json_schema");
        if (!js || !js->is_object()) return missing("response_format.json_schema");
        auto const& j = js->get_object();
        auto const* name = member(j, "name");
        if (!name || !name->is_string() || name->get_string().empty())
            return missing("response_format.json_schema.name");
        response_format f;
        f.type = response_format::kind::json_schema;
        f.name = std::string(sv(name->get_string()));
        if (auto const* sc = member(j, "schema")) {
            if (!sc->is_object())
                return wrong_type("response_format.json_schema.schema", "an object", *sc);
            f.schema = json::object(sc->get_object(), json::storage_ptr());
        }
        f.strict = false;
        if (auto const* s = member(j, "strict")) {
            if (!s->is_bool()) return wrong_type("response_format.json_schema.strict", "a boolean", *s);
            f.strict = s->get_bool();
        }
        req.response_format = std::move(f);
    } else if (ty != "text") {
        return invalid("response_format.type", "Invalid value for 'response_format.type': '" +
                                                   std::string(ty) +
                                                   "' (expected text, json_object or json_schema).");
    }
    return {};
}

/** Reads the request into `out`, a default inbound_request (decode's result: filled where it
    lives rather than moved into it, 400 instructions a request).
*/
boost::system::result<void, api_error> decode_into(request_head const& head, std::string_view body,
                                                   inbound_request& out) {
    // The document only lives for this call: a monotonic arena (with a first block on the
    // stack) makes parsing cheap. Whatever the request keeps is copied out of it.
    unsigned char first_block[4096];
    json::monotonic_resource arena(first_block, sizeof first_block);
    auto doc = openai::parse_request(body, arena);
    if (!doc) return doc.error();
    auto object = openai::body_object(*doc);
    if (!object) return object.error();
    auto const* o = *object;
    top_fields const f(*o);
    auto& req = out.req;
    auto model = openai::request_model_of(f[field::model], head.path_model);
    if (!model) return model.error();
    req.model = std::move(*model);

    auto const* messages = f[field::messages];
    if (!messages) return missing("messages");
    if (!messages->is_array()) return wrong_type("messages", "an array of objects", *messages);
    if (messages->get_array().empty())
        return invalid("messages",
                       "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                       "but got an empty array instead.",
                       "empty_array");
    if (auto r = decode_messages(messages->get_array(), req); !r) return r.error();

    if (auto t = openai::number_value(f[field::temperature], "temperature", 0, 2); !t)
        return t.error();
    else
        req.temperature = *t;
    if (auto t = openai::number_value(f[field::top_p], "top_p", 0, 1); !t)
        return t.error();
    else
        req.top_p = *t;
    // max_completion_tokens supersedes the deprecated max_tokens.
    for (auto const which : {field::max_tokens, field::max_completion_tokens}) {
        char const* key = unified_fields[static_cast<std::size_t>(which)].data();
        auto n = int_value(f[which], key);
        if (!n) return n.error();
        if (!*n) continue;
        if (**n < 1)
            return invalid(key,
                           std::string("Invalid '") + key +
                               "': integer below minimum value. Expected a value >= 1, but got " +
                               std::to_string(**n) + " instead.",
                           "integer_below_min_value");
        req.max_tokens = **n;
    }
    if (auto n = int_value(f[field::seed], "seed"); !n)
        return n.error();
    else
        req.seed = *n;
    if (auto const* u = f[field::user]) {
        if (!u->is_string()) return wrong_type("user", "a string", *u);
        req.user = std::string(sv(u->get_string()));
    }
    if (auto const* st = f[field::stop]) {
        if (auto const* s = st->if_string()) {
            req.stop.emplace_back(sv(*s));
        } else if (auto const* a = st->if_array()) {
            for (std::size_t j = 0; j < a->size(); ++j) {
                if (!(*a)[j].is_string())
                    return wrong_type("stop[" + std::to_string(j) + "]", "a string", (*a)[j]);
                req.stop.emplace_back(sv((*a)[j].get_string()));
            }
        } else {
            return wrong_type("stop", "a string or an array of strings", *st);
        }
    }
    if (auto n = int_value(f[field::n], "n"); !n)
        return n.error();
    else if (*n && **n != 1)
        return invalid("n", "Invalid 'n': this server returns one choice; 'n' must be 1.");

    if (auto const* s = f[field::stream]) {
        if (!s->is_bool()) return wrong_type("stream", "a boolean", *s);
        out.stream = s->get_bool();
    }
    if (auto const* so = f[field::stream_options]) {
        if (!out.stream)
            return invalid("stream_options", "The 'stream_options' parameter is only allowed "
                                             "when 'stream' is enabled.");
        if (!so->is_object()) return wrong_type("stream_options", "an object", *so);
        if (auto const* iu = member(so->get_object(), "include_usage")) {
            if (!iu->is_bool()) return wrong_type("stream_options.include_usage", "a boolean", *iu);
            out.include_usage = iu->get_bool();
        }
        // The stream's other options (`include_obfuscation`) are the upstream's to honour: kept
        // like any field the unified request has no place for.
        json::object rest(json::storage_ptr{});
        for (auto const& [key, v] : so->get_object())
            if (key != "include_usage" && !v.is_null()) {
                if (auto where = non_finite_at(v, "stream_options." + std::string(key.data(), key.size())))
                    return invalid(*where, "The number at '" + *where +
                                               "' is out of range (larger than a double can "
                                               "hold).");
                rest.emplace(key, owned(v));
            }
        if (!rest.empty()) out.native.emplace("stream_options", std::move(rest));
    }
    if (auto r = decode_tools(f, req); !r) return r.error();
    if (auto r = decode_response_format(f, req); !r) return r.error();
    if (auto const* e = f[field::reasoning_effort]) {
        auto const effort = e->is_string() ? parse_reasoning_effort(sv(e->get_string()))
                                           : std::nullopt;
        if (!effort)
            return invalid("reasoning_effort",
                           "Invalid value for 'reasoning_effort': expected one of 'none', "
                           "'minimal', 'low', 'medium', 'high', 'xhigh' or 'max'.",
                           "invalid_value");
        req.reasoning = reasoning_options{effort, {}, {}};
    }
    if (auto const* k = f[field::prompt_cache_key]) {
        if (!k->is_string()) return wrong_type("prompt_cache_key", "a string", *k);
        req.prompt_cache_key = std::string(sv(k->get_string()));
    }

    for (auto const& [key, v] : *o) {
        std::string_view const k(key.data(), key.size());
        if (v.is_null() || unified_field(k) != field::count || at_default(k, v)) continue;
        // A field is passed on by its name; one without a name cannot be, nor named in a refusal.
        if (k.empty()) return invalid("", "Unrecognized request argument supplied: a field with an empty name.");
        if (auto where = non_finite_at(v, std::string(key.data(), key.size())))
            return invalid(*where, "The number at '" + *where +
                                       "' is out of range (larger than a double can hold).");
        out.native.emplace(key, owned(v));
    }
    return {};
}

decode_result decode(request_head const& head, std::string_view body) {
    decode_result r;
    if (auto e = decode_into(head, body, *r); !e) r = std::move(e).error();
    return r;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Both sides of a stream and a whole answer claim the same service tier and fingerprint.
constexpr std::string_view tier_and_fingerprint =
    "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_llmux\"";

template <std::size_t N>
void write_usage(text_batch<N>& out, usage const& u) {
    auto const in = u.input_tokens.value_or(0), outp = u.output_tokens.value_or(0);
    out << "{\"prompt_tokens\":"sv << in << ",\"completion_tokens\":"sv << outp
        << ",\"total_tokens\":"sv << (u.total_tokens ? *u.total_tokens : in + outp)
        << ",\"prompt_tokens_details\":{\"cached_tokens\":"sv << u.cached_input_tokens.value_or(0)
        << ",\"audio_tokens\":0"sv;
    if (u.cache_write_tokens)  // OpenRouter's field; OpenAI itself has none
        out << ",\"cache_write_tokens\":"sv << *u.cache_write_tokens;
    out << "},\"completion_tokens_details\":{\"reasoning_tokens\":"sv
        << u.reasoning_tokens.value_or(0)
        << ",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
           "\"rejected_prediction_tokens\":0}}"sv;
}

void append_usage(std::string& out, usage const& u) {
    text_batch<> b(out);
    write_usage(b, u);
    b.flush();
}

void append_response(chat_response const& r, answer_meta const& m, std::string& out) {
    out += "{\"id\":"sv;
    append_json_string(out, m.id);
    out += ",\"object\":\"chat.completion\",\"created\":"sv;
    append_number(out, m.created);
    out += ",\"model\":"sv;
    append_json_string(out, m.model);
    out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"sv;
    if (r.content.empty() && !r.tool_calls.empty())
        out += "null"sv;
    else
        append_json_string(out, r.content);
    if (!r.reasoning.empty()) {
        out += ",\"reasoning_content\":"sv;
        append_json_string(out, r.reasoning);
    }
    out += ",\"refusal\":null"sv;
    if (!r.tool_calls.empty()) {
        // DeepSeek's reasoning goes back as reasoning_content (above); the rest rides on ids.
        std::vector<reasoning_part> sealed;
        for (auto const& p : r.reasoning_parts)
            if (p.origin != "deepseek"sv) sealed.push_back(p);
        out += ",\"tool_calls\":["sv;
        for (std::size_t i = 0; i < r.tool_calls.size(); ++i) {
            auto const& c = r.tool_calls[i];
            if (i) out += ',';
            out += "{\"id\":"sv;
            // The turn's reasoning rides on the first call's id, a call's signature on its own
            // (seal_call_id): OpenAI's messages have no other place a client sends back.
            append_json_string(out, seal_call_id(c.id,
                                                 i == 0 ? std::span<reasoning_part const>(sealed)
                                                        : std::span<reasoning_part const>(),
                                                 c.signature));
            out += ",\"type\":\"function\",\"function\":{\"name\":"sv;
            append_json_string(out, c.name);
            out += ",\"arguments\":"sv;
            // `arguments` is JSON text; an empty string is not.
            append_json_string(out, c.arguments.empty() ? std::string_view("{}") : c.arguments);
            out += "}}"sv;
        }
        out += ']';
    }
    // The fixed end, in one append.
    text_batch<512> end(out);
    end << ",\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\""sv
        << openai::finish_name(effective_finish(r)) << "\"}]"sv;
    if (r.usage.known()) {  // unknown usage is left out, not sent as zeros
        end << ",\"usage\":"sv;
        write_usage(end, r.usage);
    }
    end << ',' << tier_and_fingerprint << '}';
    end.flush();
}

void append_error(api_error const& e, std::string& out, bool code_from_type) {
    std::string_view const type = e.type.empty() ? type_for_status(e.status) : e.type;
    out += "{\"error\":{\"message\":"sv;
    append_json_string(out, e.message);
    out += ",\"type\":"sv;
    append_json_string(out, type);
    out += ",\"param\":"sv;
    append_json_string_or_null(out, e.param);
    out += ",\"code\":"sv;
    append_json_string_or_null(out, e.code.empty() && code_from_type ? type : e.code);
    out += "}}"sv;
}

// ---------------------------------------------------------------------------------------------
// Streams

class openai_stream_encoder final : public stream_encoder {
public:
    openai_stream_encoder(answer_meta const& m, bool include_usage)
        : include_usage_(include_usage) {
        // Every chunk starts the same way: the prefix is built once per stream.
        prefix_.reserve(160 + m.id.size() + m.model.size());
        prefix_ += "data: {\"id\":"sv;
        append_json_string(prefix_, m.id);
        prefix_ += ",\"object\":\"chat.completion.chunk\",\"created\":"sv;
        append_number(prefix_, m.created);
        prefix_ += ",\"model\":"sv;
        append_json_string(prefix_, m.model);
        prefix_ += ',';
        prefix_ += tier_and_fingerprint;
        prefix_ += ",\"choices\":["sv;
    }

    void chunk(chat_chunk const& c, std::string& out) override {
        if (finished_) return;
        begin(c, out);
        for (auto const& p : c.reasoning_parts)
            if (p.origin != "deepseek"sv) parts_.push_back(p);  // DeepSeek's: reasoning_content
        if (!c.text.empty()) {
            out += prefix_;
            out += R"({"index":0,"delta":{"content":)"sv;
            append_json_string(out, c.text);
            out += R"(},"logprobs":null,"finish_reason":null})"sv;
            end_chunk(out);
        }
        if (!c.reasoning.empty()) {
            out += prefix_;
            out += R"({"index":0,"delta":{"reasoning_content":)"sv;
            append_json_string(out, c.reasoning);
            out += R"(},"logprobs":null,"finish_reason":null})"sv;
            end_chunk(out);
        }
        if (!c.tool_calls.empty()) {
            out += prefix_;
            out += R"({"index":0,"delta":{"tool_calls":[)"sv;
            for (std::size_t i = 0; i < c.tool_calls.size(); ++i) {
                auto const& d = c.tool_calls[i];
                if (i) out += ',';
                out += "{\"index\":"sv;
                append_number(out, static_cast<std::uint64_t>(d.index));
                if (!d.id.empty()) {
                    out += ",\"id\":"sv;
                    // Reasoning completed before the first call rides on its id.
                    append_json_string(out, seal_call_id(d.id, parts_, d.signature));
                    parts_.clear();
                    out += ",\"type\":\"function\""sv;
                }
                out += ",\"function\":{"sv;
                if (!d.name.empty()) {
                    out += "\"name\":"sv;
                    append_json_string(out, d.name);
                    out += ',';
                }
                // The first fragment of a call carries `arguments: ""`, as OpenAI's does.
                out += "\"arguments\":"sv;
                append_json_string(out, d.arguments);
                out += "}}"sv;
            }
            out += R"(]},"logprobs":null,"finish_reason":null})"sv;
            end_chunk(out);
        }
        if (c.finish_reason) {
            finish_event(*c.finish_reason, out);
            finished_ = true;
        }
    }

    void finish(chat_response const& r, std::string& out) override {
        chat_chunk const none{};
        begin(none, out);
        if (!finished_) {
            finish_event(effective_finish(r), out);
            finished_ = true;
        }
        if (include_usage_ && r.usage.known()) {
            out += prefix_;
            out += "],\"usage\":"sv;
            append_usage(out, r.usage);
            out += "}\n\n"sv;
        }
        out += "data: [DONE]\n\n"sv;
    }

    void error(api_error const& e, std::string& out) override {
        // The SDKs raise on any event whose data has an `error` key (PROVIDERS.md 1.3); they
        // read its code, which OpenAI always sets in a stream.
        out += "data: "sv;
        append_error(e, out, true);
        out += "\n\n"sv;
        finished_ = true;
    }

    void malformed(std::string& out) override {
        // An unterminated string: a chunk that starts like the others and cannot be parsed.
        out += prefix_;
        out += R"({"index":0,"delta":{"content":"malformed})"sv;
        out += "\n\n"sv;
    }

private:
    /// The role chunk, before the first content (its content is null when the answer starts
    /// with a tool call, as OpenAI's is).
    void begin(chat_chunk const& first, std::string& out) {
        if (started_) return;
        started_ = true;
        out += prefix_;
        out += first.text.empty() && !first.tool_calls.empty()
                   ? R"({"index":0,"delta":{"role":"assistant","content":null,"refusal":null},"logprobs":null,"finish_reason":null})"
                   : R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null})";
        end_chunk(out);
    }

    void finish_event(finish_reason fr, std::string& out) const {
        out += prefix_;
        out += R"({"index":0,"delta":{},"logprobs":null,"finish_reason":")"sv;
        out += openai::finish_name(fr);
        out += "\"}"sv;
        end_chunk(out);
    }

    void end_chunk(std::string& out) const {
        out += include_usage_ ? "],\"usage\":null}\n\n"sv : "]}\n\n"sv;
    }

    std::string prefix_;  // `data: {"id":…,"object":…,"created":…,"model":…,…,"choices":[`
    /// Reasoning parts completed and not yet sealed into a call's id.
    std::vector<reasoning_part> parts_;
    bool include_usage_;
    bool started_ = false;
    bool finished_ = false;
};

// ---------------------------------------------------------------------------------------------

constexpr endpoint endpoints_table[] = {
    // Azure OpenAI names the deployment in the path.
    {"POST", "/openai/deployments/{model}/chat/completions", operation::chat},
    {"POST", "/v1/chat/completions", operation::chat},
    {"POST", "/chat/completions", operation::chat},
    {"POST", "/openai/deployments/{model}/embeddings", operation::embed},
    {"POST", "/v1/embeddings", operation::embed},
    {"POST", "/embeddings", operation::embed},
    {"GET", "/v1/models", operation::list_models},
    {"GET", "/models", operation::list_models},
    {"GET", "/v1/models/{model}", operation::get_model},
    {"GET", "/models/{model}", operation::get_model},
};

class openai_chat_server_impl final : public wire_server {
public:
    std::string_view name() const noexcept override { return "openai"; }

    std::span<endpoint const> endpoints() const noexcept override { return endpoints_table; }

    credential presented_credential(request_head const& head) const override {
        std::string_view const auth = head.header("authorization");
        if (auth.size() > 7 && iequals(auth.substr(0, 7), "Bearer ")) {
            auto const key = trim(auth.substr(7));
            if (!key.empty()) return {credential::kind::api_key, key};
        }
        if (auto const key = trim(head.header("api-key")); !key.empty())  // Azure OpenAI
            return {credential::kind::api_key, key};
        return {};
    }

    std::string_view key_hint() const noexcept override { return "Authorization: Bearer <key>"; }

    boost::system::result<inbound_request, api_error>
    decode_request(request_head const& head, std::string_view body) const override {
        return decode(head, body);
    }

    void encode_response(chat_response const& r, answer_meta const& m,
                         std::string& out) const override {
        append_response(r, m, out);
    }

    boost::system::result<inbound_embedding, api_error>
    decode_embedding_request(request_head const& head, std::string_view body) const override {
        return openai::decode_embedding_request(head, body);
    }

    bool encode_embedding_response(embedding_response const& r, embedding_meta const& m,
                                   embedding_form form, std::string& out) const override {
        return openai::encode_embedding_response(r, m.model, form.encoding, out);
    }

    std::string_view stream_content_type() const noexcept override { return "text/event-stream"; }

    std::unique_ptr<stream_encoder> make_stream_encoder(answer_meta const& m,
                                                        bool include_usage) const override {
        return std::make_unique<openai_stream_encoder>(m, include_usage);
    }

    http_answer encode_error(api_error const& e) const override {
        http_answer a;
        a.status = e.status;
        a.content_type = "application/json";
        if (e.retry_after) {
            auto const ms = e.retry_after->count();
            // retry-after is whole seconds: rounded up, so a client never retries early.
            a.headers.emplace_back("retry-after", std::to_string((ms + 999) / 1000));
            a.headers.emplace_back("retry-after-ms", std::to_string(ms));
        }
        if (e.no_retry) a.headers.emplace_back("x-should-retry", "false");
        append_error(e, a.body, false);
        return a;
    }

    void response_headers(answer_meta const& m, header_sink& out) const override {
        if (!m.request_id.empty()) out.header("x-request-id", m.request_id);
        char buf[24];
        auto const r = std::to_chars(buf, buf + sizeof buf, m.processing_ms);
        out.header("openai-processing-ms", std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
        out.header("openai-version", "2020-10-01");
    }

    std::string make_id(id_kind kind, std::string_view tag, std::uint64_t n) const override {
        std::string out;
        out.reserve(32 + tag.size());  // one allocation: prefix, tag, separator and number
        text_batch<> b(out);
        switch (kind) {
        case id_kind::response:
            b << "chatcmpl-"sv << tag << '-';
            break;
        case id_kind::tool_call:
            b << "call_"sv << tag << '_';
            break;
        case id_kind::request:
            b << "req_"sv << tag << '_';
            break;
        }
        b << n;
        b.flush();
        return out;
    }

    void encode_models(std::span<std::string const> names, std::int64_t created,
                       std::string& out) const override {
        out += "{\"object\":\"list\",\"data\":["sv;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i) out += ',';
            encode_model(names[i], created, out);
        }
        out += "]}"sv;
    }

    void encode_model(std::string_view name, std::int64_t created,
                      std::string& out) const override {
        out += "{\"id\":"sv;
        append_json_string(out, name);
        out += ",\"object\":\"model\",\"created\":"sv;
        append_number(out, created);
        out += ",\"owned_by\":\"llmux\"}"sv;
    }

    api_error error_for_status(unsigned status, std::string_view model) const override {
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

    api_error auth_error(bool missing_key, std::string_view why,
                         std::string_view type) const override {
        (void)why;  // OpenAI says the same whatever was wrong with a key
        (void)type;
        if (!missing_key) return error_for_status(401, {});
        return {401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error", "invalid_api_key", ""};
    }

    api_error unknown_endpoint(std::string_view method, std::string_view target) const override {
        return {404,
                "Unknown request URL: " + std::string(method) + " " + std::string(target) +
                    ". Please check the URL for typos, or see the docs at "
                    "https://platform.openai.com/docs/api-reference/.",
                "invalid_request_error", "unknown_url", ""};
    }
};

}  // namespace

wire_server const& openai_chat_server() {
    static openai_chat_server_impl const instance;
    return instance;
}

namespace openai {

api_error invalid(std::string param, std::string message, std::string code) {
    return api_error{400, std::move(message), "invalid_request_error", std::move(code),
                     std::move(param)};
}

api_error wrong_type(std::string const& param, char const* expected, json::value const& got) {
    return invalid(param,
                   "Invalid type for '" + param + "': expected " + expected + ", but got " +
                       json_kind(got) + " instead.",
                   "invalid_type");
}

api_error missing(std::string const& param) {
    return invalid(param, "Missing required parameter: '" + param + "'.",
                   "missing_required_parameter");
}

boost::system::result<std::optional<double>, api_error>
number_member(json::object const& o, char const* key, double lo, double hi) {
    return number_value(present(o, key), key, lo, hi);
}

boost::system::result<std::optional<double>, api_error>
number_value(json::value const* v, char const* key, double lo, double hi) {
    if (!v) return std::optional<double>();
    if (!v->is_number()) return wrong_type(key, "a number", *v);
    double const d = v->to_number<double>();
    if (!(d >= lo && d <= hi)) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "Invalid '%s': expected a value from %g to %g.", key, lo,
                      hi);
        return invalid(key, buf);
    }
    return std::optional<double>(d);
}

boost::system::result<json::value, api_error> parse_request(std::string_view body,
                                                            json::monotonic_resource& arena) {
    json::parse_options popts;
    popts.max_depth = 256;  // JSON schemas nest deeply
    boost::system::error_code ec;
    json::value doc = detail::parse_json(body, ec, &arena, popts);
    if (ec)
        return invalid({}, "We could not parse the JSON body of your request. (HINT: This likely "
                           "means you aren't using your HTTP library correctly. The OpenAI API "
                           "expects a JSON payload, but what was sent was not valid JSON. (" +
                               ec.message() + "))");
    return doc;
}

std::string_view type_for_status(unsigned status) noexcept {
    if (status == 402) return "insufficient_quota";
    if (status == 429) return "rate_limit_error";
    if (status >= 500) return "server_error";
    return "invalid_request_error";
}

boost::system::result<json::object const*, api_error> body_object(json::value const& doc) {
    if (auto const* o = doc.if_object()) return o;
    return invalid({}, std::string("Invalid type for request body: expected an object, but got ") +
                           json_kind(doc) + " instead.");
}

boost::system::result<std::string, api_error> request_model(json::object const& o,
                                                            std::string_view path_model) {
    return request_model_of(present(o, "model"), path_model);
}

boost::system::result<std::string, api_error> request_model_of(json::value const* model,
                                                               std::string_view path_model) {
    // Azure names its deployment in the path; the body's model wins when there is one.
    if (model && !model->is_string()) return wrong_type("model", "a string", *model);
    if (model && !model->get_string().empty()) return std::string(json_view(model->get_string()));
    if (!path_model.empty()) return std::string(path_model);
    if (model) return invalid("model", "Invalid 'model': it must not be empty.");
    return invalid("model", "you must provide a model parameter");
}

}  // namespace openai

}  // namespace llmux::detail
