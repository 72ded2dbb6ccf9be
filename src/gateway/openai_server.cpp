// SPDX-License-Identifier: BSL-1.0
// The server side of OpenAI chat completions (PROVIDERS.md section 1): requests parsed into a
// `chat_request`, answers and `chat.completion.chunk` streams written back, OpenAI's error
// body. Sans-io.
#include "emulator/json_text.hpp"
#include "gateway/api.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <unordered_map>

namespace llmux::detail {

namespace json = boost::json;

namespace {

api_error wrong_type(std::string const& param, char const* expected, json::value const& got) {
    return invalid_field(param, "Invalid type for '" + param + "': expected " + expected +
                                    ", but got " + json_kind(got) + " instead.");
}

/// Reads an integer member (JSON integers, or doubles with no fraction: some clients write
/// `16.0`).
boost::system::result<std::optional<std::int64_t>, api_error> int_member(json::object const& o,
                                                                         char const* key) {
    auto const* v = member(o, key);
    if (!v) return std::optional<std::int64_t>();
    if (v->is_int64()) return std::optional<std::int64_t>(v->get_int64());
    if (v->is_uint64())
        return std::optional<std::int64_t>(
            static_cast<std::int64_t>(std::min<std::uint64_t>(v->get_uint64(), INT64_MAX)));
    if (v->is_double() && std::floor(v->get_double()) == v->get_double() &&
        std::abs(v->get_double()) < 9e18)
        return std::optional<std::int64_t>(static_cast<std::int64_t>(v->get_double()));
    return wrong_type(key, "an integer", *v);
}

boost::system::result<std::optional<double>, api_error>
number_member(json::object const& o, char const* key, double lo, double hi) {
    auto const* v = member(o, key);
    if (!v) return std::optional<double>();
    if (!v->is_number()) return wrong_type(key, "a number", *v);
    double const d = v->to_number<double>();
    if (!(d >= lo && d <= hi)) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "Invalid '%s': expected a value from %g to %g.", key, lo,
                      hi);
        return invalid_field(key, buf);
    }
    return std::optional<double>(d);
}

/// Text of a `content` that may only hold text: a string, or an array of text parts.
boost::system::result<std::string, api_error> text_content(json::value const& c,
                                                           std::string const& where) {
    if (auto const* s = c.if_string()) return std::string(sv(*s));
    if (auto const* parts = c.if_array()) {
        std::string out;
        for (std::size_t j = 0; j < parts->size(); ++j) {
            auto const at = where + "[" + std::to_string(j) + "]";
            auto const* p = (*parts)[j].if_object();
            if (!p) return wrong_type(at, "an object", (*parts)[j]);
            auto const* type = p->if_contains("type");
            if (!type || !type->is_string())
                return invalid_field(at + ".type", "Missing required parameter: '" + at + ".type'.");
            if (type->get_string() == "refusal") continue;
            if (type->get_string() != "text")
                return invalid_field(at + ".type", "Invalid value for '" + at +
                                                       ".type': only text parts are allowed here.");
            auto const* t = p->if_contains("text");
            if (!t || !t->is_string())
                return invalid_field(at + ".text", "Missing required parameter: '" + at + ".text'.");
            out += sv(t->get_string());
        }
        return out;
    }
    return wrong_type(where, "a string or an array of text parts", c);
}

/// The OpenAI fields passed on to OpenAI-compatible upstreams (see parsed_request).
constexpr std::string_view passthrough_fields[] = {
    "frequency_penalty", "presence_penalty", "logit_bias",      "parallel_tool_calls",
    "reasoning_effort",  "verbosity",        "prompt_cache_key", "safety_identifier",
};

}  // namespace

api_error invalid_field(std::string param, std::string message) {
    api_error e;
    e.status = 400;
    e.type = "invalid_request_error";
    e.param = std::move(param);
    e.message = std::move(message);
    return e;
}

parse_result parse_openai_request(std::string_view body) {
    // The document only lives for this call: a monotonic arena (with a first block on the
    // stack) makes parsing cheap. Whatever the request keeps is copied out of it.
    unsigned char first_block[4096];
    json::monotonic_resource arena(first_block, sizeof first_block);
    json::parse_options popts;
    popts.max_depth = 256;  // JSON schemas nest deeply
    boost::system::error_code ec;
    json::value const doc = json::parse(body, ec, &arena, popts);
    if (ec)
        return invalid_field("", "We could not parse the JSON body of your request: " +
                                     ec.message() + ".");
    auto const* o = doc.if_object();
    if (!o) return invalid_field("", std::string("Invalid type for the request body: expected an "
                                                 "object, but got ") +
                                         json_kind(doc) + " instead.");
    parsed_request out;
    auto& req = out.req;

    auto const* model = member(*o, "model");
    if (!model) return invalid_field("model", "Missing required parameter: 'model'.");
    if (!model->is_string()) return wrong_type("model", "a string", *model);
    if (model->get_string().empty())
        return invalid_field("model", "Invalid 'model': it must not be empty.");
    req.model = std::string(sv(model->get_string()));

    auto const* messages = member(*o, "messages");
    if (!messages) return invalid_field("messages", "Missing required parameter: 'messages'.");
    if (!messages->is_array()) return wrong_type("messages", "an array", *messages);
    auto const& list = messages->get_array();
    if (list.empty())
        return invalid_field("messages", "Invalid 'messages': empty array. Expected an array with "
                                         "minimum length 1.");
    req.messages.reserve(list.size());
    // Tool results name their call by id; Gemini also wants the tool's name, found here.
    std::unordered_map<std::string_view, std::string_view> call_names;
    for (std::size_t i = 0; i < list.size(); ++i) {
        auto const where = [i] { return "messages[" + std::to_string(i) + "]"; };
        auto const* m = list[i].if_object();
        if (!m) return wrong_type(where(), "an object", list[i]);
        auto const* role_v = member(*m, "role");
        if (!role_v)
            return invalid_field(where() + ".role",
                                 "Missing required parameter: '" + where() + ".role'.");
        if (!role_v->is_string()) return wrong_type(where() + ".role", "a string", *role_v);
        std::string_view const role = sv(role_v->get_string());
        auto const* content = member(*m, "content");
        message msg;
        if (role == "system" || role == "developer") {
            if (!content)
                return invalid_field(where() + ".content",
                                     "Missing required parameter: '" + where() + ".content'.");
            auto t = text_content(*content, where() + ".content");
            if (!t) return t.error();
            msg.role = role::system;
            msg.content.emplace_back(text_part{std::move(*t)});
        } else if (role == "user") {
            if (!content)
                return invalid_field(where() + ".content",
                                     "Missing required parameter: '" + where() + ".content'.");
            msg.role = role::user;
            if (auto const* s = content->if_string()) {
                msg.content.emplace_back(text_part{std::string(sv(*s))});
            } else if (auto const* parts = content->if_array()) {
                for (std::size_t j = 0; j < parts->size(); ++j) {
                    auto const at = where() + ".content[" + std::to_string(j) + "]";
                    auto const* p = (*parts)[j].if_object();
                    if (!p) return wrong_type(at, "an object", (*parts)[j]);
                    auto const* type = member(*p, "type");
                    if (!type || !type->is_string())
                        return invalid_field(at + ".type",
                                             "Missing required parameter: '" + at + ".type'.");
                    std::string_view const ty = sv(type->get_string());
                    if (ty == "text") {
                        auto const* t = member(*p, "text");
                        if (!t || !t->is_string())
                            return invalid_field(at + ".text",
                                                 "Missing required parameter: '" + at + ".text'.");
                        msg.content.emplace_back(text_part{std::string(sv(t->get_string()))});
                    } else if (ty == "image_url") {
                        auto const* iu = member(*p, "image_url");
                        image_part img;
                        if (iu && iu->is_string()) {
                            img.url = std::string(sv(iu->get_string()));
                        } else if (iu && iu->is_object()) {
                            auto const* url = member(iu->get_object(), "url");
                            if (!url || !url->is_string())
                                return invalid_field(at + ".image_url.url",
                                                     "Missing required parameter: '" + at +
                                                         ".image_url.url'.");
                            img.url = std::string(sv(url->get_string()));
                            if (auto const* d = member(iu->get_object(), "detail")) {
                                if (!d->is_string())
                                    return wrong_type(at + ".image_url.detail", "a string", *d);
                                img.detail = std::string(sv(d->get_string()));
                            }
                        } else {
                            return invalid_field(at + ".image_url", "Missing required parameter: '" +
                                                                        at + ".image_url'.");
                        }
                        msg.content.emplace_back(std::move(img));
                    } else {
                        return invalid_field(at + ".type", "Invalid value for '" + at +
                                                               ".type': '" + std::string(ty) +
                                                               "' parts are not supported by "
                                                               "this gateway (text, image_url).");
                    }
                }
            } else {
                return wrong_type(where() + ".content", "a string or an array of parts", *content);
            }
        } else if (role == "assistant") {
            msg.role = role::assistant;
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
                    if (!id || !id->is_string())
                        return invalid_field(at + ".id", "Missing required parameter: '" + at + ".id'.");
                    auto const* fn = member(*c, "function");
                    if (!fn || !fn->is_object())
                        return invalid_field(at + ".function",
                                             "Missing required parameter: '" + at + ".function'.");
                    auto const* name = member(fn->get_object(), "name");
                    if (!name || !name->is_string())
                        return invalid_field(at + ".function.name", "Missing required parameter: '" +
                                                                        at + ".function.name'.");
                    tool_call tc;
                    tc.id = std::string(sv(id->get_string()));
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
            if (!id)
                return invalid_field(where() + ".tool_call_id", "Missing required parameter: '" +
                                                                    where() + ".tool_call_id'.");
            if (!id->is_string()) return wrong_type(where() + ".tool_call_id", "a string", *id);
            if (!content)
                return invalid_field(where() + ".content",
                                     "Missing required parameter: '" + where() + ".content'.");
            auto t = text_content(*content, where() + ".content");
            if (!t) return t.error();
            tool_result r;
            r.tool_call_id = std::string(sv(id->get_string()));
            if (auto it = call_names.find(sv(id->get_string())); it != call_names.end())
                r.name = std::string(it->second);
            r.content = std::move(*t);
            msg.role = role::tool;
            msg.content.emplace_back(std::move(r));
        } else {
            return invalid_field(where() + ".role",
                                 "Invalid value for '" + where() + ".role': '" + std::string(role) +
                                     "' (supported: system, developer, user, assistant, tool).");
        }
        req.messages.push_back(std::move(msg));
    }

    if (auto t = number_member(*o, "temperature", 0, 2); !t)
        return t.error();
    else
        req.temperature = *t;
    if (auto t = number_member(*o, "top_p", 0, 1); !t)
        return t.error();
    else
        req.top_p = *t;
    // max_completion_tokens supersedes the deprecated max_tokens.
    for (auto const* key : {"max_tokens", "max_completion_tokens"}) {
        auto n = int_member(*o, key);
        if (!n) return n.error();
        if (!*n) continue;
        if (**n < 1)
            return invalid_field(key, std::string("Invalid '") + key +
                                          "': integer below minimum value. Expected a value >= 1.");
        req.max_tokens = **n;
    }
    if (auto n = int_member(*o, "seed"); !n)
        return n.error();
    else
        req.seed = *n;
    if (auto const* u = member(*o, "user")) {
        if (!u->is_string()) return wrong_type("user", "a string", *u);
        req.user = std::string(sv(u->get_string()));
    }
    if (auto const* st = member(*o, "stop")) {
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
    if (auto n = int_member(*o, "n"); !n)
        return n.error();
    else if (*n && **n != 1)
        return invalid_field("n", "Invalid 'n': this gateway returns one choice; 'n' must be 1.");

    if (auto const* s = member(*o, "stream")) {
        if (!s->is_bool()) return wrong_type("stream", "a boolean", *s);
        out.stream = s->get_bool();
    }
    if (auto const* so = member(*o, "stream_options")) {
        if (!out.stream)
            return invalid_field("stream_options", "The 'stream_options' parameter is only allowed "
                                                   "when 'stream' is enabled.");
        if (!so->is_object()) return wrong_type("stream_options", "an object", *so);
        if (auto const* iu = member(so->get_object(), "include_usage")) {
            if (!iu->is_bool()) return wrong_type("stream_options.include_usage", "a boolean", *iu);
            out.include_usage = iu->get_bool();
        }
    }

    if (auto const* tools = member(*o, "tools")) {
        if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
        auto const& arr = tools->get_array();
        for (std::size_t j = 0; j < arr.size(); ++j) {
            auto const at = "tools[" + std::to_string(j) + "]";
            auto const* t = arr[j].if_object();
            if (!t) return wrong_type(at, "an object", arr[j]);
            if (auto const* ty = member(*t, "type"); ty && !(ty->is_string() && ty->get_string() == "function"))
                return invalid_field(at + ".type", "Invalid value for '" + at +
                                                       ".type': only 'function' tools are supported.");
            auto const* fn = member(*t, "function");
            if (!fn || !fn->is_object())
                return invalid_field(at + ".function",
                                     "Missing required parameter: '" + at + ".function'.");
            auto const& f = fn->get_object();
            auto const* name = member(f, "name");
            if (!name || !name->is_string() || name->get_string().empty())
                return invalid_field(at + ".function.name",
                                     "Missing required parameter: '" + at + ".function.name'.");
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
    if (auto const* tc = member(*o, "tool_choice")) {
        if (auto const* s = tc->if_string()) {
            if (*s == "auto")
                req.tool_choice = tool_choice::automatic();
            else if (*s == "none")
                req.tool_choice = tool_choice::none();
            else if (*s == "required")
                req.tool_choice = tool_choice::required();
            else
                return invalid_field("tool_choice", "Invalid value for 'tool_choice': '" +
                                                        std::string(sv(*s)) +
                                                        "' (expected none, auto or required).");
        } else if (auto const* c = tc->if_object()) {
            auto const* fn = member(*c, "function");
            auto const* name = fn && fn->is_object() ? member(fn->get_object(), "name") : nullptr;
            if (!name || !name->is_string())
                return invalid_field("tool_choice.function.name",
                                     "Missing required parameter: 'tool_choice.function.name'.");
            req.tool_choice = tool_choice::named(std::string(sv(name->get_string())));
        } else {
            return wrong_type("tool_choice", "a string or an object", *tc);
        }
        if (req.tool_choice->how == tool_choice::mode::named) {
            bool found = false;
            for (auto const& t : req.tools) found = found || t.name == req.tool_choice->name;
            if (!found)
                return invalid_field("tool_choice", "Invalid 'tool_choice': no tool named '" +
                                                        req.tool_choice->name + "' is defined.");
        }
        if (req.tool_choice->how == tool_choice::mode::required && req.tools.empty())
            return invalid_field("tool_choice",
                                 "Invalid 'tool_choice': 'required' needs at least one tool.");
    }
    if (auto const* rf = member(*o, "response_format")) {
        if (!rf->is_object()) return wrong_type("response_format", "an object", *rf);
        auto const* type = member(rf->get_object(), "type");
        if (!type || !type->is_string())
            return invalid_field("response_format.type",
                                 "Missing required parameter: 'response_format.type'.");
        std::string_view const ty = sv(type->get_string());
        if (ty == "json_object") {
            req.response_format = response_format::json();
        } else if (ty == "json_schema") {
            auto const* js = member(rf->get_object(), "json_schema");
            if (!js || !js->is_object())
                return invalid_field("response_format.json_schema",
                                     "Missing required parameter: 'response_format.json_schema'.");
            auto const& j = js->get_object();
            auto const* name = member(j, "name");
            if (!name || !name->is_string() || name->get_string().empty())
                return invalid_field("response_format.json_schema.name",
                                     "Missing required parameter: "
                                     "'response_format.json_schema.name'.");
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
                if (!s->is_bool())
                    return wrong_type("response_format.json_schema.strict", "a boolean", *s);
                f.strict = s->get_bool();
            }
            req.response_format = std::move(f);
        } else if (ty != "text") {
            return invalid_field("response_format.type",
                                 "Invalid value for 'response_format.type': '" + std::string(ty) +
                                     "' (expected text, json_object or json_schema).");
        }
    }
    for (auto const key : passthrough_fields)
        if (auto const* v = member(*o, key))
            out.openai_extras.emplace(key, json::value(*v, json::storage_ptr()));
    return out;
}

// ---------------------------------------------------------------------------------------------
// Rendering

std::string_view openai_finish_reason(finish_reason r) noexcept {
    switch (r) {
    case finish_reason::length: return "length";
    case finish_reason::tool_calls: return "tool_calls";
    case finish_reason::content_filter: return "content_filter";
    case finish_reason::stop:
    case finish_reason::unknown:
    case finish_reason::error: break;
    }
    return "stop";
}

namespace {

void append_openai_usage(std::string& out, usage const& u) {
    auto const in = u.input_tokens.value_or(0), outp = u.output_tokens.value_or(0);
    out += "{\"prompt_tokens\":";
    append_number(out, in);
    out += ",\"completion_tokens\":";
    append_number(out, outp);
    out += ",\"total_tokens\":";
    append_number(out, u.total_tokens ? *u.total_tokens : in + outp);
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    append_number(out, u.cached_input_tokens.value_or(0));
    out += "},\"completion_tokens_details\":{\"reasoning_tokens\":";
    append_number(out, u.reasoning_tokens.value_or(0));
    out += "}}";
}

void append_int(std::string& out, std::int64_t v) {
    append_number(out, v);
}

}  // namespace

void render_openai_response(chat_response const& r, answer_meta const& m, std::string& out) {
    out += "{\"id\":";
    append_json_string(out, m.id);
    out += ",\"object\":\"chat.completion\",\"created\":";
    append_int(out, m.created);
    out += ",\"model\":";
    append_json_string(out, m.model);
    out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
    if (r.content.empty() && !r.tool_calls.empty())
        out += "null";
    else
        append_json_string(out, r.content);
    if (!r.reasoning.empty()) {
        out += ",\"reasoning_content\":";
        append_json_string(out, r.reasoning);
    }
    out += ",\"refusal\":null";
    if (!r.tool_calls.empty()) {
        out += ",\"tool_calls\":[";
        for (std::size_t i = 0; i < r.tool_calls.size(); ++i) {
            auto const& c = r.tool_calls[i];
            if (i) out += ',';
            out += "{\"id\":";
            append_json_string(out, c.id);
            out += ",\"type\":\"function\",\"function\":{\"name\":";
            append_json_string(out, c.name);
            out += ",\"arguments\":";
            append_json_string(out, c.arguments.empty() ? std::string_view("{}") : c.arguments);
            out += "}}";
        }
        out += ']';
    }
    out += "},\"logprobs\":null,\"finish_reason\":\"";
    auto fr = r.finish_reason;
    if (fr == finish_reason::unknown && !r.tool_calls.empty()) fr = finish_reason::tool_calls;
    out += openai_finish_reason(fr);
    out += "\"}]";
    if (r.usage.known()) {
        out += ",\"usage\":";
        append_openai_usage(out, r.usage);
    }
    out += '}';
}

void render_openai_error(api_error const& e, std::string& out) {
    out += "{\"error\":{\"message\":";
    append_json_string(out, e.message);
    out += ",\"type\":";
    append_json_string(out, e.type.empty() ? std::string_view("server_error") : e.type);
    out += ",\"param\":";
    append_json_string_or_null(out, e.param);
    out += ",\"code\":";
    append_json_string_or_null(out, e.code);
    out += "}}";
}

void render_openai_models(std::span<std::string const> names, std::int64_t created,
                          std::string& out) {
    out += "{\"object\":\"list\",\"data\":[";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out += ',';
        out += "{\"id\":";
        append_json_string(out, names[i]);
        out += ",\"object\":\"model\",\"created\":";
        append_int(out, created);
        out += ",\"owned_by\":\"llmux\"}";
    }
    out += "]}";
}

// ---------------------------------------------------------------------------------------------
// Streams

openai_stream_writer::openai_stream_writer(answer_meta const& m, bool include_usage)
    : include_usage_(include_usage) {
    prefix_ += "data: {\"id\":";
    append_json_string(prefix_, m.id);
    prefix_ += ",\"object\":\"chat.completion.chunk\",\"created\":";
    append_int(prefix_, m.created);
    prefix_ += ",\"model\":";
    append_json_string(prefix_, m.model);
    prefix_ += ",\"choices\":[";
}

void openai_stream_writer::end_chunk(std::string& out) const {
    out += include_usage_ ? "],\"usage\":null}\n\n" : "]}\n\n";
}

void openai_stream_writer::begin(std::string& out) {
    if (started_) return;
    started_ = true;
    out += prefix_;
    out += R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null})";
    end_chunk(out);
}

void openai_stream_writer::chunk(chat_chunk const& c, std::string& out) {
    if (finished_) return;
    begin(out);
    if (!c.text.empty()) {
        out += prefix_;
        out += R"({"index":0,"delta":{"content":)";
        append_json_string(out, c.text);
        out += R"(},"logprobs":null,"finish_reason":null})";
        end_chunk(out);
    }
    if (!c.reasoning.empty()) {
        out += prefix_;
        out += R"({"index":0,"delta":{"reasoning_content":)";
        append_json_string(out, c.reasoning);
        out += R"(},"logprobs":null,"finish_reason":null})";
        end_chunk(out);
    }
    if (!c.tool_calls.empty()) {
        out += prefix_;
        out += R"({"index":0,"delta":{"tool_calls":[)";
        for (std::size_t i = 0; i < c.tool_calls.size(); ++i) {
            auto const& d = c.tool_calls[i];
            if (i) out += ',';
            out += "{\"index\":";
            append_number(out, static_cast<std::uint64_t>(d.index));
            if (!d.id.empty()) {
                out += ",\"id\":";
                append_json_string(out, d.id);
                out += ",\"type\":\"function\"";
            }
            out += ",\"function\":{";
            bool comma = false;
            if (!d.name.empty()) {
                out += "\"name\":";
                append_json_string(out, d.name);
                comma = true;
            }
            // The first fragment of a call carries `arguments: ""`, as OpenAI's does.
            if (comma) out += ',';
            out += "\"arguments\":";
            append_json_string(out, d.arguments);
            out += "}}";
        }
        out += R"(]},"logprobs":null,"finish_reason":null})";
        end_chunk(out);
    }
    if (c.finish_reason) {
        out += prefix_;
        out += R"({"index":0,"delta":{},"logprobs":null,"finish_reason":")";
        out += openai_finish_reason(*c.finish_reason);
        out += "\"}";
        end_chunk(out);
        finished_ = true;
    }
}

void openai_stream_writer::finish(chat_response const& r, std::string& out) {
    begin(out);
    if (!finished_) {
        auto fr = r.finish_reason;
        if (fr == finish_reason::unknown && !r.tool_calls.empty()) fr = finish_reason::tool_calls;
        out += prefix_;
        out += R"({"index":0,"delta":{},"logprobs":null,"finish_reason":")";
        out += openai_finish_reason(fr);
        out += "\"}";
        end_chunk(out);
        finished_ = true;
    }
    if (include_usage_ && r.usage.known()) {
        out += prefix_;
        out += "],\"usage\":";
        append_openai_usage(out, r.usage);
        out += "}\n\n";
    }
    out += "data: [DONE]\n\n";
}

void openai_stream_writer::error(api_error const& e, std::string& out) {
    // The SDKs raise on any event whose data has an `error` key (PROVIDERS.md 1.3).
    out += "data: ";
    render_openai_error(e, out);
    out += "\n\n";
    finished_ = true;
}

}  // namespace llmux::detail
