// SPDX-License-Identifier: BSL-1.0
// The server side of Anthropic Messages (PROVIDERS.md sections 3 and 5.3): `POST /v1/messages`,
// `POST /v1/messages/count_tokens`, and Claude on Vertex AI (`:rawPredict` /
// `:streamRawPredict`, model and streaming in the path, `anthropic_version` in the body).
// Requests are decoded into a `chat_request` with Anthropic's own 400s; answers, the SSE events
// from `message_start` to `message_stop` (with `ping`, `input_json_delta` for tool input) and
// Anthropic's error bodies are written as the API writes them. Sans-io: the emulator and the
// gateway serve Anthropic clients through it. Written as text straight into the caller's buffer
// (no JSON DOM per answer or per event): the emulator is the upstream of every benchmark.
//
// What the unified request cannot hold goes to `inbound_request::native` (passed on only to an
// Anthropic upstream): top-level fields (`thinking`, `top_k`, `service_tier`, metadata other
// than `user_id`, `tool_choice.disable_parallel_tool_use`, ...) by name, and the whole of
// `system`, `messages` or `tools` when one of their blocks says more than the unified types do
// (`cache_control`, `citations`, documents, thinking blocks, images in tool results, server
// tools), so that an Anthropic upstream receives them exactly as sent.
#include "util/crypto.hpp"
#include "util/json_text.hpp"
#include "util/json_read.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"
#include "wire/anthropic_messages.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <ctime>
#include <map>
#include <unordered_map>

using namespace std::string_view_literals;

namespace llmux::detail {

namespace {

namespace json = boost::json;
using decode_result = boost::system::result<inbound_request, api_error>;
using anthropic::json_answer_tool;

// ---------------------------------------------------------------------------------------------
// Decoding. Messages follow the API's own (pydantic's) wording: `field.path: what is wrong`.

api_error invalid(std::string param, std::string message) {
    return {400, std::move(message), "invalid_request_error", "", std::move(param)};
}

api_error missing(std::string const& param) {
    return invalid(param, param + ": Field required");
}

api_error wrong_type(std::string const& param, char const* expected, json::value const& got) {
    return invalid(param,
                   param + ": Input should be " + expected + ", got " + json_kind(got));
}

bool is_vertex(std::string_view path) noexcept {
    return path.find(anthropic::vertex_marker) != std::string_view::npos;
}

/// Keys a block of each type may hold that the unified types carry; any other key (with a
/// value) is `cache_control`, `citations` or newer: the block goes on whole, as `native`.
bool plain_key(std::string_view type, std::string_view key) noexcept {
    if (key == "type") return true;
    bool const cache = key == "cache_control";
    if (type == "text") return key == "text" || cache;
    if (type == "image") return key == "source" || cache;
    if (type == "document") return key == "source" || key == "title" || cache;
    if (type == "tool_use") return key == "id" || key == "name" || key == "input";
    if (type == "tool_result")
        return key == "tool_use_id" || key == "content" || key == "is_error" || cache;
    if (type == "thinking") return key == "thinking" || key == "signature";
    if (type == "redacted_thinking") return key == "data";
    return false;
}

/// A block's `cache_control` (`{"type":"ephemeral","ttl":"5m"|"1h"}`), checked.
boost::system::result<std::optional<cache_control>, api_error>
cache_of(json::object const& b, std::string const& at) {
    auto const* c = present(b, "cache_control");
    if (!c) return std::optional<cache_control>();
    auto const* o = c->if_object();
    if (!o) return wrong_type(at + ".cache_control", "a valid dictionary", *c);
    auto const* t = present(*o, "type");
    if (!t || !t->is_string() || t->get_string() != "ephemeral")
        return invalid(at + ".cache_control.type",
                       at + ".cache_control.ephemeral.type: Input should be 'ephemeral'");
    cache_control out;
    if (auto const* ttl = present(*o, "ttl")) {
        if (!ttl->is_string() || (ttl->get_string() != "5m" && ttl->get_string() != "1h"))
            return invalid(at + ".cache_control.ttl",
                           at + ".cache_control.ephemeral.ttl: Input should be '5m' or '1h'");
        out.ttl = json_view(ttl->get_string());
    }
    return std::optional<cache_control>(std::move(out));
}

/// The first key of `b` (a block of `type`) the unified types cannot carry, or empty.
std::string_view extra_key(json::object const& b, std::string_view type) noexcept {
    for (auto const& [k, v] : b) {
        std::string_view const key(k.data(), k.size());
        if (!v.is_null() && !plain_key(type, key)) return key;
    }
    return {};
}

/// Reads one request into `out`; the state of one decode.
class request_reader {
public:
    request_reader(json::object const& o, inbound_request& out) : o_(o), out_(out) {}

    /// A field the unified request cannot hold: kept whole under `key`, named `name` (the
    /// first such name is the one a refusal quotes).
    void keep(std::string_view key, json::value const& v, std::string name) {
        // The first field kept is the one a refusal names; its key names it unless it is
        // inside what is kept.
        if (out_.native.empty() && name != key) out_.native_name = std::move(name);
        if (!out_.native.contains(key)) out_.native.emplace(key, owned(v));
    }

    boost::system::result<void, api_error> system() {
        auto const* sys = present(o_, "system");
        if (!sys) return {};
        if (auto const* s = sys->if_string()) {
            out_.req.system = json_view(*s);
            return {};
        }
        auto const* blocks = sys->if_array();
        if (!blocks) return wrong_type("system", "a valid string or a list of text blocks", *sys);
        for (std::size_t j = 0; j < blocks->size(); ++j) {
            auto const at = [j] { return "system." + std::to_string(j); };
            auto const* b = (*blocks)[j].if_object();
            if (!b) return wrong_type(at(), "a valid dictionary", (*blocks)[j]);
            auto const* type = present(*b, "type");
            if (!type || !type->is_string()) return missing(at() + ".type");
            if (type->get_string() != "text")
                return invalid(at() + ".type", at() + ".type: Input should be 'text'");
            auto const* t = present(*b, "text");
            if (!t || !t->is_string()) return missing(at() + ".text");
            if (auto const k = extra_key(*b, "text"); !k.empty())
                keep("system", *sys, at() + "." + std::string(k));
            auto cache = cache_of(*b, at());
            if (!cache) return cache.error();
            // The unified system prompt is one text: a breakpoint can only follow the whole.
            if (*cache && j + 1 == blocks->size())
                out_.req.system_cache = **cache;
            else if (*cache)
                keep("system", *sys, at() + ".cache_control");
            if (!out_.req.system.empty()) out_.req.system += "\n\n"sv;
            out_.req.system += json_view(t->get_string());
        }
        return {};
    }

    boost::system::result<void, api_error> messages() {
        auto const* messages = present(o_, "messages");
        if (!messages) return missing("messages");
        if (!messages->is_array()) return wrong_type("messages", "a valid list", *messages);
        auto const& list = messages->get_array();
        if (list.empty())
            return invalid("messages", "messages: at least one message is required");
        auto& req = out_.req;
        req.messages.reserve(list.size());
        for (std::size_t i = 0; i < list.size(); ++i) {
            auto const where = [i] { return "messages." + std::to_string(i); };
            auto const* m = list[i].if_object();
            if (!m) return wrong_type(where(), "a valid dictionary", list[i]);
            auto const* role_v = present(*m, "role");
            if (!role_v) return missing(where() + ".role");
            if (!role_v->is_string()) return wrong_type(where() + ".role", "a valid string", *role_v);
            std::string_view const r = json_view(role_v->get_string());
            message msg;
            if (r == "user") {
                msg.role = role::user;
            } else if (r == "assistant") {
                msg.role = role::assistant;
            } else if (r == "system") {
                return invalid(where() + ".role",
                               "messages: Unexpected role \"system\". The Messages API accepts a "
                               "top-level `system` parameter, not \"system\" as an input message "
                               "role.");
            } else {
                return invalid(where() + ".role",
                               where() + ".role: Input should be 'user' or 'assistant'");
            }
            auto const* content = present(*m, "content");
            if (!content) return missing(where() + ".content");
            if (auto const* s = content->if_string()) {
                msg.content.emplace_back(text_part{std::string(json_view(*s))});
            } else if (auto const* blocks = content->if_array()) {
                for (std::size_t j = 0; j < blocks->size(); ++j)
                    if (auto ok = block(*messages, (*blocks)[j], msg, where() + ".content", j); !ok)
                        return ok;
                if (msg.content.empty()) msg.content.emplace_back(text_part{});
            } else {
                return wrong_type(where() + ".content", "a valid string or list", *content);
            }
            req.messages.push_back(std::move(msg));
        }
        return {};
    }

    boost::system::result<void, api_error> tools() {
        auto const* tools = present(o_, "tools");
        if (!tools) return {};
        if (!tools->is_array()) return wrong_type("tools", "a valid list", *tools);
        auto const& arr = tools->get_array();
        for (std::size_t j = 0; j < arr.size(); ++j) {
            auto const at = "tools." + std::to_string(j);
            auto const* t = arr[j].if_object();
            if (!t) return wrong_type(at, "a valid dictionary", arr[j]);
            auto const* name = present(*t, "name");
            if (!name || !name->is_string() || name->get_string().empty())
                return missing(at + ".name");
            if (auto const* ty = present(*t, "type"); ty && !(ty->is_string() && ty->get_string() == "custom")) {
                // A server tool (web_search_..., code_execution_...): Anthropic runs it.
                keep("tools", *tools, at);
                continue;
            }
            tool tl;
            tl.name = json_view(name->get_string());
            if (auto const* d = present(*t, "description")) {
                if (!d->is_string()) return wrong_type(at + ".description", "a valid string", *d);
                tl.description = json_view(d->get_string());
            }
            auto const* schema = present(*t, "input_schema");
            if (!schema) return missing(at + ".custom.input_schema");
            if (!schema->is_object())
                return wrong_type(at + ".custom.input_schema", "a valid dictionary", *schema);
            tl.parameters = json::object(schema->get_object(), json::storage_ptr());
            if (auto const* s = present(*t, "strict")) {
                if (!s->is_bool()) return wrong_type(at + ".strict", "a valid boolean", *s);
                tl.strict = s->get_bool();
            }
            auto cache = cache_of(*t, at);
            if (!cache) return cache.error();
            tl.cache = *cache;
            for (auto const& [k, v] : *t) {
                std::string_view const key(k.data(), k.size());
                if (!v.is_null() && key != "type" && key != "name" && key != "description" &&
                    key != "input_schema" && key != "strict" && key != "cache_control") {
                    keep("tools", *tools, at + "." + std::string(key));
                    break;
                }
            }
            out_.req.tools.push_back(std::move(tl));
        }
        return {};
    }

    boost::system::result<void, api_error> tool_choice() {
        auto const* tc = present(o_, "tool_choice");
        if (!tc) return {};
        auto const* o = tc->if_object();
        auto const* t = o ? present(*o, "type") : nullptr;
        if (!o) return wrong_type("tool_choice", "a valid dictionary", *tc);
        std::string_view const type = t && t->is_string() ? json_view(t->get_string()) : "";
        auto& req = out_.req;
        if (type == "auto") {
            req.tool_choice = llmux::tool_choice::automatic();
        } else if (type == "any") {
            req.tool_choice = llmux::tool_choice::required();
        } else if (type == "none") {
            req.tool_choice = llmux::tool_choice::none();
        } else if (type == "tool") {
            auto const* name = present(*o, "name");
            if (!name || !name->is_string()) return missing("tool_choice.tool.name");
            req.tool_choice = llmux::tool_choice::named(std::string(json_view(name->get_string())));
            bool const known = std::any_of(req.tools.begin(), req.tools.end(), [&](tool const& x) {
                return x.name == req.tool_choice->name;
            });
            if (!known)
                return invalid("tool_choice.name", "tool_choice: Tool '" + req.tool_choice->name +
                                                       "' not found in provided tools");
        } else {
            return invalid("tool_choice.type",
                           "tool_choice: Input tag '" + std::string(type) +
                               "' found using 'type' does not match any of the expected tags: "
                               "'auto', 'any', 'tool', 'none'");
        }
        if (req.tools.empty() && (type == "any" || type == "tool"))
            return invalid("tool_choice", "tool_choice may only be specified while providing tools.");
        if (auto const* d = present(*o, "disable_parallel_tool_use")) {
            if (!d->is_bool())
                return wrong_type("tool_choice.disable_parallel_tool_use", "a valid boolean", *d);
            if (d->get_bool()) keep("tool_choice", *tc, "tool_choice.disable_parallel_tool_use");
        }
        return {};
    }

private:
    /// Block `j` of a message's content into `msg`.
    boost::system::result<void, api_error> block(json::value const& messages, json::value const& v,
                                                 message& msg, std::string const& where,
                                                 std::size_t j) {
        auto const at = [&] { return where + "." + std::to_string(j); };
        auto const* b = v.if_object();
        if (!b) return wrong_type(at(), "a valid dictionary", v);
        auto const* type_v = present(*b, "type");
        if (!type_v || !type_v->is_string()) return missing(at() + ".type");
        std::string_view const type = json_view(type_v->get_string());
        bool const known = type == "text" || type == "image" || type == "tool_use" ||
                           type == "tool_result" || type == "thinking" ||
                           type == "redacted_thinking" || type == "document";
        if (auto const k = known ? extra_key(*b, type) : std::string_view(); !k.empty())
            keep("messages", messages, at() + "." + std::string(k));
        auto cache = cache_of(*b, at());
        if (!cache) return cache.error();
        if (type == "text") {
            auto const* t = present(*b, "text");
            if (!t || !t->is_string()) return missing(at() + ".text");
            if (t->get_string().empty())
                return invalid(at() + ".text", where + ": text content blocks must be non-empty");
            msg.content.emplace_back(text_part{std::string(json_view(t->get_string())), *cache});
        } else if (type == "image") {
            if (msg.role != role::user)
                return invalid(at(), at() + ": images belong in user messages");
            if (auto ok = image(messages, *b, msg, at()); !ok) return ok;
            if (*cache && !msg.content.empty())
                if (auto* img = std::get_if<image_part>(&msg.content.back())) img->cache = *cache;
            return {};
        } else if (type == "document") {
            if (msg.role != role::user)
                return invalid(at(), at() + ": documents belong in user messages");
            return document(messages, *b, msg, at(), *cache);
        } else if (type == "thinking" || type == "redacted_thinking") {
            if (msg.role != role::assistant)
                return invalid(at(), at() + ": " + std::string(type) +
                                         " blocks belong in assistant messages");
            reasoning_part r;
            r.origin = "anthropic";
            if (type == "thinking") {
                auto const* t = present(*b, "thinking");
                auto const* sig = present(*b, "signature");
                if (!t || !t->is_string()) return missing(at() + ".thinking.thinking");
                if (!sig || !sig->is_string()) return missing(at() + ".thinking.signature");
                r.text = json_view(t->get_string());
                // Another family's reasoning that this server gave out sealed comes back whole.
                if (!open_reasoning(json_view(sig->get_string()), r))
                    r.signature = json_view(sig->get_string());
            } else {
                auto const* d = present(*b, "data");
                if (!d || !d->is_string()) return missing(at() + ".redacted_thinking.data");
                r.type = reasoning_part::kind::redacted;
                r.data = json_view(d->get_string());
            }
            msg.content.emplace_back(std::move(r));
        } else if (type == "tool_use") {
            if (msg.role != role::assistant)
                return invalid(at(), at() + ": tool_use blocks belong in assistant messages");
            auto const* id = present(*b, "id");
            auto const* name = present(*b, "name");
            if (!id || !id->is_string()) return missing(at() + ".tool_use.id");
            if (!name || !name->is_string()) return missing(at() + ".tool_use.name");
            auto const* in = present(*b, "input");
            if (!in || !in->is_object())
                return invalid(at() + ".input",
                               at() + ".tool_use.input: Input should be a valid dictionary");
            tool_call tc;
            tc.id = json_view(id->get_string());
            tc.name = json_view(name->get_string());
            tc.arguments = to_json(*in);
            call_names_[json_view(id->get_string())] = json_view(name->get_string());
            msg.content.emplace_back(std::move(tc));
        } else if (type == "tool_result") {
            if (msg.role != role::user)
                return invalid(at(), at() + ": tool_result blocks belong in user messages");
            auto const* id = present(*b, "tool_use_id");
            if (!id || !id->is_string()) return missing(at() + ".tool_result.tool_use_id");
            tool_result r;
            r.tool_call_id = json_view(id->get_string());
            if (auto it = call_names_.find(json_view(id->get_string())); it != call_names_.end())
                r.name = it->second;
            if (auto const* c = present(*b, "content")) {
                if (auto const* s = c->if_string()) {
                    r.content = json_view(*s);
                } else if (auto const* parts = c->if_array()) {
                    for (std::size_t k = 0; k < parts->size(); ++k) {
                        auto const in = at() + ".content." + std::to_string(k);
                        auto const* p = (*parts)[k].if_object();
                        if (!p) return wrong_type(in, "a valid dictionary", (*parts)[k]);
                        auto const* pt = present(*p, "type");
                        if (!pt || !pt->is_string()) return missing(in + ".type");
                        auto const* text = present(*p, "text");
                        if (pt->get_string() != "text" || !text || !text->is_string()) {
                            // An image (or newer) result: the unified result is text.
                            keep("messages", messages, in);
                            continue;
                        }
                        if (auto const k2 = extra_key(*p, "text"); !k2.empty())
                            keep("messages", messages, in + "." + std::string(k2));
                        if (!r.content.empty()) r.content += '\n';
                        r.content += json_view(text->get_string());
                    }
                } else {
                    return wrong_type(at() + ".content", "a valid string or list", *c);
                }
            }
            if (auto const* e = present(*b, "is_error")) {
                if (!e->is_bool()) return wrong_type(at() + ".is_error", "a valid boolean", *e);
                r.is_error = e->get_bool();
            }
            r.cache = *cache;
            msg.content.emplace_back(std::move(r));
        } else {
            // Server tools' blocks, search results: nothing the unified types can hold; an
            // Anthropic upstream gets them as sent.
            keep("messages", messages, at());
        }
        return {};
    }

    boost::system::result<void, api_error> image(json::value const& messages, json::object const& b,
                                                 message& msg, std::string const& at) {
        auto const* src = present(b, "source");
        auto const* so = src ? src->if_object() : nullptr;
        auto const* st = so ? present(*so, "type") : nullptr;
        if (!st || !st->is_string()) return missing(at + ".image.source");
        std::string_view const kind = json_view(st->get_string());
        if (kind == "base64") {
            auto const* mt = present(*so, "media_type");
            auto const* d = present(*so, "data");
            if (!mt || !mt->is_string() || !d || !d->is_string() || d->get_string().empty())
                return invalid(at + ".source",
                               at + ".image.source.base64: media_type and data are required");
            std::string_view const m = json_view(mt->get_string());
            if (m != "image/jpeg" && m != "image/png" && m != "image/gif" && m != "image/webp")
                return invalid(at + ".source.media_type",
                               at + ".image.source.base64.media_type: Input should be "
                                    "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'");
            msg.content.emplace_back(image_base64(m, json_view(d->get_string())));
        } else if (kind == "url") {
            auto const* u = present(*so, "url");
            if (!u || !u->is_string()) return missing(at + ".image.source.url.url");
            msg.content.emplace_back(image_part{std::string(json_view(u->get_string())), {}});
        } else if (kind == "file") {
            keep("messages", messages, at + ".source");  // the Files API's id: Anthropic's own
        } else {
            return invalid(at + ".source.type",
                           at + ".image.source: Input tag '" + std::string(kind) +
                               "' found using 'type' does not match any of the expected tags: "
                               "'base64', 'url'");
        }
        return {};
    }

    boost::system::result<void, api_error> document(json::value const& messages,
                                                    json::object const& b, message& msg,
                                                    std::string const& at,
                                                    std::optional<cache_control> cache) {
        auto const* src = present(b, "source");
        auto const* so = src ? src->if_object() : nullptr;
        auto const* st = so ? present(*so, "type") : nullptr;
        if (!st || !st->is_string()) return missing(at + ".document.source");
        std::string_view const kind = json_view(st->get_string());
        document_part d;
        d.cache = std::move(cache);
        if (auto const* t = present(b, "title")) {
            if (!t->is_string()) return wrong_type(at + ".title", "a valid string", *t);
            d.name = json_view(t->get_string());
        }
        auto const* data = present(*so, "data");
        if (kind == "base64") {
            auto const* mt = present(*so, "media_type");
            if (!mt || !mt->is_string() || mt->get_string() != "application/pdf")
                return invalid(at + ".source.media_type",
                               at + ".document.source.base64.media_type: Input should be "
                                    "'application/pdf'");
            if (!data || !data->is_string() || data->get_string().empty())
                return missing(at + ".document.source.base64.data");
            d.url = document_base64("application/pdf", json_view(data->get_string())).url;
        } else if (kind == "text") {
            if (!data || !data->is_string()) return missing(at + ".document.source.text.data");
            d.url = document_base64("text/plain", base64_encode(json_view(data->get_string()))).url;
        } else if (kind == "url") {
            auto const* u = present(*so, "url");
            if (!u || !u->is_string()) return missing(at + ".document.source.url.url");
            d.url = json_view(u->get_string());
        } else {
            // `content` and `file` sources: Anthropic's own.
            keep("messages", messages, at + ".source");
            return {};
        }
        msg.content.emplace_back(std::move(d));
        return {};
    }

    json::object const& o_;
    inbound_request& out_;
    /// Tool results name their call by id; Gemini also wants the tool's name, found here.
    std::unordered_map<std::string_view, std::string_view> call_names_;
};

/// The top-level fields read into the unified request; every other one is `native`.
constexpr std::array<std::string_view, 13> unified_fields = {
    "model",  "max_tokens", "system",         "messages", "temperature",       "top_p",
    "stream", "tools",      "tool_choice",    "stop_sequences", "metadata", "anthropic_version",
    "thinking",
};

/// `thinking` (and `output_config.effort`) as reasoning controls (PROVIDERS-2.md 3.3).
boost::system::result<void, api_error> read_thinking(json::object const& o, request_reader& rd,
                                                     chat_request& req) {
    auto const* th = present(o, "thinking");
    auto const* oc = present(o, "output_config");
    std::optional<reasoning_effort> effort;
    if (oc) {
        auto const* oco = oc->if_object();
        if (!oco) return wrong_type("output_config", "a valid dictionary", *oc);
        for (auto const& [k, v] : *oco) {
            if (v.is_null()) continue;
            if (k != "effort") {
                rd.keep("output_config", *oc, "output_config." + std::string(k.data(), k.size()));
                continue;
            }
            auto const e = v.is_string() ? parse_reasoning_effort(json_view(v.get_string()))
                                         : std::nullopt;
            if (!e || *e == reasoning_effort::none || *e == reasoning_effort::minimal)
                return invalid("output_config.effort",
                               "output_config.effort: Input should be 'low', 'medium', 'high', "
                               "'xhigh' or 'max'");
            effort = e;
        }
    }
    if (!th) {
        if (effort) req.reasoning = reasoning_options{effort, {}, {}};
        return {};
    }
    auto const* t = th->if_object();
    if (!t) return wrong_type("thinking", "a valid dictionary", *th);
    auto const* type = present(*t, "type");
    std::string_view const kind =
        type && type->is_string() ? json_view(type->get_string()) : std::string_view();
    reasoning_options r;
    if (kind == "disabled") {
        // The default of the models that do not think by default; said explicitly for the
        // ones that do.
        for (auto const& [k, v] : *t)
            if (!v.is_null() && k != "type")
                return invalid("thinking.disabled." + std::string(k.data(), k.size()),
                               "thinking.disabled." + std::string(k.data(), k.size()) +
                                   ": Extra inputs are not permitted");
        if (effort) return invalid("output_config.effort",
                                   "output_config.effort: not allowed with thinking disabled");
        req.reasoning = reasoning_options{reasoning_effort::none, {}, {}};
        return {};
    } else if (kind == "enabled") {
        auto const* b = present(*t, "budget_tokens");
        if (!b) return missing("thinking.enabled.budget_tokens");
        auto const n = whole_number(*b);
        if (!n) return wrong_type("thinking.enabled.budget_tokens", "a valid integer", *b);
        if (*n < 1024)
            return invalid("thinking.budget_tokens",
                           "thinking.enabled.budget_tokens: Input should be greater than or "
                           "equal to 1024");
        r.budget_tokens = *n;
    } else if (kind == "adaptive") {
        r.effort = effort.value_or(reasoning_effort::high);
    } else {
        return invalid("thinking.type",
                       "thinking: Input tag '" + std::string(kind) +
                           "' found using 'type' does not match any of the expected tags: "
                           "'enabled', 'disabled', 'adaptive'");
    }
    if (auto const* d = present(*t, "display")) {
        if (!d->is_string() ||
            (d->get_string() != "summarized" && d->get_string() != "omitted"))
            return invalid("thinking.display",
                           "thinking.display: Input should be 'summarized' or 'omitted'");
        r.include_text = d->get_string() == "summarized";
    }
    for (auto const& [k, v] : *t)
        if (!v.is_null() && k != "type" && k != "budget_tokens" && k != "display")
            rd.keep("thinking", *th, "thinking." + std::string(k.data(), k.size()));
    req.reasoning = r;
    return {};
}

/// True when `v` is the API's default for `key`: such a field changes nothing and is not kept.
bool at_default(std::string_view key, json::value const& v) {
    if (key == "service_tier") return v.is_string() && v.get_string() == "auto";
    if (v.is_array()) return v.get_array().empty();  // mcp_servers: []
    if (v.is_object()) return v.get_object().empty();
    return false;
}

boost::system::result<std::optional<double>, api_error>
number_field(json::object const& o, char const* key, double lo, double hi) {
    auto const* v = present(o, key);
    if (!v) return std::optional<double>();
    if (!v->is_number()) return wrong_type(key, "a valid number", *v);
    double const d = v->to_number<double>();
    if (d < lo)
        return invalid(key, std::string(key) + ": Input should be greater than or equal to " +
                                std::to_string(static_cast<int>(lo)));
    if (!(d <= hi))
        return invalid(key, std::string(key) + ": Input should be less than or equal to " +
                                std::to_string(static_cast<int>(hi)));
    return std::optional<double>(d);
}

decode_result decode(request_head const& head, std::string_view body) {
    bool const vertex = is_vertex(head.path);
    bool const counting = head.path.ends_with("/count_tokens");
    // Vertex's front end checks its own OAuth token; the API itself wants its version header.
    if (!vertex && head.header("anthropic-version").empty())
        return invalid("anthropic-version", "anthropic-version: header is required");

    // The document only lives for this call: a monotonic arena (with a first block on the
    // stack) makes parsing cheap. Whatever the request keeps is copied out of it.
    unsigned char first_block[4096];
    json::monotonic_resource arena(first_block, sizeof first_block);
    json::parse_options popts;
    popts.max_depth = 256;  // JSON schemas nest deeply
    boost::system::error_code ec;
    json::value const doc = detail::parse_json(body, ec, &arena, popts);
    if (ec)
        return invalid({}, "There was an error parsing the body of your request as JSON (" +
                               ec.message() + ")");
    auto const* o = doc.if_object();
    if (!o) return invalid({}, std::string("Input should be a valid dictionary, got ") + json_kind(doc));
    inbound_request out;
    auto& req = out.req;

    if (vertex) {
        // The model and streaming are the path's; the body names the Vertex API version.
        auto const* v = present(*o, "anthropic_version");
        if (!v || !v->is_string()) return missing("anthropic_version");
        if (v->get_string() != anthropic::vertex_version)
            return invalid("anthropic_version", "anthropic_version: Input should be '" +
                                                    std::string(anthropic::vertex_version) + "'");
        req.model = head.path_model;
        out.stream = head.path.ends_with(":streamRawPredict");
    } else {
        auto const* m = present(*o, "model");
        if (!m) return missing("model");
        if (!m->is_string() || m->get_string().empty())
            return wrong_type("model", "a valid string", *m);
        req.model = json_view(m->get_string());
        if (auto const* s = present(*o, "stream"); s && !counting) {
            if (!s->is_bool()) return wrong_type("stream", "a valid boolean", *s);
            out.stream = s->get_bool();
        }
    }

    // Counting tokens needs no answer length.
    if (auto const* mt = present(*o, "max_tokens")) {
        auto const n = whole_number(*mt);
        if (!n) return wrong_type("max_tokens", "a valid integer", *mt);
        if (*n < 1)
            return invalid("max_tokens", "max_tokens: Input should be greater than or equal to 1");
        req.max_tokens = *n;
    } else if (!counting) {
        return missing("max_tokens");
    }

    request_reader rd(*o, out);
    if (auto r = rd.system(); !r) return r.error();
    if (auto r = rd.messages(); !r) return r.error();

    if (auto t = number_field(*o, "temperature", 0, 1); !t)
        return t.error();
    else
        req.temperature = *t;
    if (auto t = number_field(*o, "top_p", 0, 1); !t)
        return t.error();
    else
        req.top_p = *t;
    if (auto const* tk = present(*o, "top_k"); tk && !whole_number(*tk))
        return wrong_type("top_k", "a valid integer", *tk);

    if (auto const* ss = present(*o, "stop_sequences")) {
        if (!ss->is_array()) return wrong_type("stop_sequences", "a valid list", *ss);
        auto const& a = ss->get_array();
        for (std::size_t j = 0; j < a.size(); ++j) {
            if (!a[j].is_string())
                return wrong_type("stop_sequences." + std::to_string(j), "a valid string", a[j]);
            req.stop.emplace_back(json_view(a[j].get_string()));
        }
    }
    if (auto const* md = present(*o, "metadata")) {
        if (!md->is_object()) return wrong_type("metadata", "a valid dictionary", *md);
        for (auto const& [k, v] : md->get_object()) {
            if (v.is_null()) continue;
            if (k == "user_id") {
                if (!v.is_string()) return wrong_type("metadata.user_id", "a valid string", v);
                req.user = json_view(v.get_string());
            } else {
                rd.keep("metadata", *md, "metadata." + std::string(k.data(), k.size()));
            }
        }
    }
    if (auto r = rd.tools(); !r) return r.error();
    if (auto r = rd.tool_choice(); !r) return r.error();
    if (auto r = read_thinking(*o, rd, req); !r) return r.error();

    for (auto const& [key, v] : *o) {
        std::string_view const k(key.data(), key.size());
        if (v.is_null() || at_default(k, v)) continue;
        if (std::find(unified_fields.begin(), unified_fields.end(), k) != unified_fields.end())
            continue;
        if (vertex && k == "stream") continue;  // the path says it
        if (k == "output_config") continue;      // read_thinking kept what it could not read
        // A field is passed on by its name; one without a name cannot be, nor named in a refusal.
        if (k.empty()) return invalid("", "A field has an empty name: Extra inputs are not permitted.");
        rd.keep(k, v, std::string(k));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Anthropic's `input_tokens` leave out the cached ones (PROVIDERS.md 3.2); llmux counts all.
void append_usage(std::string& out, usage const& u, bool with_input) {
    auto const cached = u.cached_input_tokens.value_or(0);
    auto const written = u.cache_write_tokens.value_or(0);
    auto const in = u.input_tokens.value_or(0);
    out += '{';
    if (with_input) {
        out += "\"input_tokens\":"sv;
        append_number(out, in > cached + written ? in - cached - written : std::uint64_t(0));
        out += ",\"cache_creation_input_tokens\":"sv;
        append_number(out, written);
        out += ",\"cache_read_input_tokens\":"sv;
        append_number(out, cached);
        out += ',';
    }
    out += "\"output_tokens\":"sv;
    append_number(out, u.output_tokens.value_or(0));
    out += '}';
}

/// True when `arguments` is one JSON object (a tool's `input` must be).
bool is_json_object(std::string_view arguments) {
    boost::system::error_code ec;
    unsigned char first_block[1024];
    json::monotonic_resource arena(first_block, sizeof first_block);
    auto const v = detail::parse_json(arguments, ec, &arena);
    return !ec && v.is_object();
}

/// A tool call's arguments as the `input` object Anthropic clients expect; arguments that are
/// not a JSON object (cut by max_tokens, or a model's malformed output) become `{}`.
void append_tool_input(std::string& out, std::string_view arguments) {
    if (is_json_object(arguments))
        out += arguments;
    else
        out += "{}"sv;
}

/// The stop reason to send: the upstream's own when it is Anthropic's and means the same
/// (`stop_sequence`, `pause_turn`), else the one for the unified reason.
std::string_view stop_reason_of(chat_response const& r) noexcept {
    auto const fr = effective_finish(r);
    std::string_view const native = r.native_finish_reason;
    for (std::string_view known : {"end_turn", "stop_sequence", "pause_turn", "max_tokens",
                                   "model_context_window_exceeded", "tool_use", "refusal"})
        if (native == known && anthropic::finish_from_stop(native, false) == fr) return known;
    return anthropic::stop_reason(fr);
}

/// A thinking block's signature: Claude's own, or another family's part sealed whole.
void append_signature(std::string& out, reasoning_part const& p) {
    if (p.origin == "anthropic"sv)
        append_json_string(out, p.signature);
    else
        append_json_string(out, seal_reasoning(p));
}

/// A reasoning part as a whole block (a redacted one only when it is Claude's: its `data`
/// means nothing to Claude otherwise, and other families' redacted parts go sealed).
void append_reasoning_block(std::string& out, reasoning_part const& p) {
    if (p.type == reasoning_part::kind::redacted && p.origin == "anthropic"sv) {
        out += "{\"type\":\"redacted_thinking\",\"data\":"sv;
        append_json_string(out, p.data);
        out += '}';
        return;
    }
    out += "{\"type\":\"thinking\",\"thinking\":"sv;
    append_json_string(out, p.text);
    out += ",\"signature\":"sv;
    append_signature(out, p);
    out += '}';
}

void append_response(chat_response const& r, answer_meta const& m, std::string& out) {
    out += "{\"id\":"sv;
    append_json_string(out, m.id);
    out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":"sv;
    append_json_string(out, m.model);
    out += ",\"content\":["sv;
    bool first = true;
    for (auto const& p : r.reasoning_parts) {
        if (!first) out += ',';
        first = false;
        append_reasoning_block(out, p);
    }
    if (r.reasoning_parts.empty() && !r.reasoning.empty()) {
        // Reasoning text without a part to send back (DeepSeek's, streamed ones): shown, not
        // signed.
        out += "{\"type\":\"thinking\",\"thinking\":"sv;
        append_json_string(out, r.reasoning);
        out += ",\"signature\":\"\"}"sv;
        first = false;
    }
    if (!r.content.empty() || r.tool_calls.empty()) {
        if (!first) out += ',';
        out += "{\"type\":\"text\",\"text\":"sv;
        append_json_string(out, r.content);
        out += '}';
        first = false;
    }
    for (auto const& c : r.tool_calls) {
        if (!first) out += ',';
        first = false;
        out += "{\"type\":\"tool_use\",\"id\":"sv;
        append_json_string(out, c.id);
        out += ",\"name\":"sv;
        append_json_string(out, c.name);
        out += ",\"input\":"sv;
        append_tool_input(out, c.arguments);
        out += '}';
    }
    out += "],\"stop_reason\":\""sv;
    out += stop_reason_of(r);
    out += "\",\"stop_sequence\":null,\"usage\":"sv;
    append_usage(out, r.usage, true);
    out += '}';
}

/// True for Google's upper-case statuses (`UNAUTHENTICATED`): Vertex's front end answers in
/// Google's shape.
bool is_google_status(std::string_view type) noexcept {
    return !type.empty() && std::all_of(type.begin(), type.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || c == '_';
    });
}

void append_error(api_error const& e, std::string& out) {
    if (is_google_status(e.type)) {
        out += "{\"error\":{\"code\":"sv;
        append_number(out, static_cast<std::uint64_t>(e.status));
        out += ",\"message\":"sv;
        append_json_string(out, e.message);
        out += ",\"status\":"sv;
        append_json_string(out, e.type);
        out += "}}"sv;
        return;
    }
    out += "{\"type\":\"error\",\"error\":{\"type\":"sv;
    append_json_string(out, e.type.empty() ? anthropic::error_type(e.status) : e.type);
    out += ",\"message\":"sv;
    append_json_string(out, e.message);
    out += "}}"sv;
}

// ---------------------------------------------------------------------------------------------
// Streams

void append_event(std::string& out, std::string_view name) {
    out += "event: "sv;
    out += name;
    out += "\ndata: "sv;
}

/** Unified chunks as Anthropic's events: `message_start`; per text or tool-use block a
    `content_block_start` (the first followed by a `ping`, as the API sends one), its
    `text_delta` or `input_json_delta` pieces (a tool's start with an empty piece, as the
    API's do) and `content_block_stop`; `message_delta` with the stop reason and the
    cumulative usage; `message_stop`.
*/
class anthropic_stream_encoder final : public stream_encoder {
public:
    explicit anthropic_stream_encoder(answer_meta const& m)
        : id_(m.id), model_(m.model), input_tokens_(m.input_tokens) {}

    void chunk(chat_chunk const& c, std::string& out) override {
        if (finished_) return;
        begin(out);
        if (!c.reasoning.empty()) {
            open_thinking(out);
            delta_prefix(out);
            out += "{\"type\":\"thinking_delta\",\"thinking\":"sv;
            append_json_string(out, c.reasoning);
            out += "}}\n\n"sv;
        }
        for (auto const& p : c.reasoning_parts) {
            if (p.type == reasoning_part::kind::redacted && p.origin == "anthropic"sv) {
                close_block(out);
                open_ = next_index_++;
                block_ = block_kind::other;
                append_event(out, "content_block_start");
                out += "{\"type\":\"content_block_start\",\"index\":"sv;
                append_number(out, static_cast<std::int64_t>(open_));
                out += ",\"content_block\":{\"type\":\"redacted_thinking\",\"data\":"sv;
                append_json_string(out, p.data);
                out += "}}\n\n"sv;
                first_block_started(out);
                close_block(out);
                continue;
            }
            // The part completes the open thinking block (its text came as deltas), or comes
            // whole (a replayed answer): then its text goes first.
            bool const streamed = block_ == block_kind::thinking;
            open_thinking(out);
            if (!streamed && !p.text.empty()) {
                delta_prefix(out);
                out += "{\"type\":\"thinking_delta\",\"thinking\":"sv;
                append_json_string(out, p.text);
                out += "}}\n\n"sv;
            }
            delta_prefix(out);
            out += "{\"type\":\"signature_delta\",\"signature\":"sv;
            append_signature(out, p);
            out += "}}\n\n"sv;
            close_block(out);
        }
        if (!c.text.empty()) {
            open_text(out);
            delta_prefix(out);
            out += "{\"type\":\"text_delta\",\"text\":"sv;
            append_json_string(out, c.text);
            out += "}}\n\n"sv;
        }
        for (auto const& d : c.tool_calls) {
            auto it = tool_blocks_.find(d.index);
            if (it == tool_blocks_.end()) {
                // A new call: its own tool_use block. Blocks are sequential in Anthropic's
                // streams, so the open one ends here.
                close_block(out);
                open_ = next_index_++;
                block_ = block_kind::tool;
                it = tool_blocks_.emplace(d.index, open_).first;
                append_event(out, "content_block_start");
                out += "{\"type\":\"content_block_start\",\"index\":"sv;
                append_number(out, static_cast<std::int64_t>(open_));
                out += ",\"content_block\":{\"type\":\"tool_use\",\"id\":"sv;
                append_json_string(out, d.id);
                out += ",\"name\":"sv;
                append_json_string(out, d.name);
                out += ",\"input\":{}}}\n\n"sv;
                first_block_started(out);
                delta_prefix(out);
                out += "{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n"sv;
            } else if (open_ != it->second) {
                // A fragment of a call whose block was closed (providers stream calls one
                // after another, so this does not happen in practice): it cannot be reopened.
                continue;
            }
            if (d.arguments.empty()) continue;
            delta_prefix(out);
            out += "{\"type\":\"input_json_delta\",\"partial_json\":"sv;
            append_json_string(out, d.arguments);
            out += "}}\n\n"sv;
        }
    }

    void finish(chat_response const& r, std::string& out) override {
        if (finished_) return;
        begin(out);
        if (next_index_ == 0) open_text(out);  // at least one (empty) text block, as Claude sends
        close_block(out);
        append_event(out, "message_delta");
        out += "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\""sv;
        out += stop_reason_of(r);
        out += "\",\"stop_sequence\":null},\"usage\":"sv;
        append_usage(out, r.usage, r.usage.input_tokens.has_value());  // cumulative
        out += "}\n\n"sv;
        append_event(out, "message_stop");
        out += "{\"type\":\"message_stop\"}\n\n"sv;
        finished_ = true;
    }

    void error(api_error const& e, std::string& out) override {
        append_event(out, "error");
        append_error(e, out);
        out += "\n\n"sv;
        finished_ = true;
    }

    void malformed(std::string& out) override {
        // An unterminated string: an event that starts like the others and cannot be parsed.
        delta_prefix(out);
        out += block_ == block_kind::tool ? "{\"type\":\"input_json_delta\",\"partial_json\":"sv
                                          : "{\"type\":\"text_delta\",\"text\":"sv;
        out += "\"malformed}\n\n"sv;
    }

private:
    void begin(std::string& out) {
        if (started_) return;
        started_ = true;
        append_event(out, "message_start");
        out += "{\"type\":\"message_start\",\"message\":{\"id\":"sv;
        append_json_string(out, id_);
        out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":"sv;
        append_json_string(out, model_);
        // The prompt's tokens when known now (most upstreams say them at the end, in
        // message_delta); the API reports the first output token here.
        out += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
               "\"input_tokens\":"sv;
        append_number(out, input_tokens_.value_or(0));
        out += ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
               "\"output_tokens\":1}}}\n\n"sv;
    }

    void first_block_started(std::string& out) {
        if (pinged_) return;
        pinged_ = true;
        append_event(out, "ping");
        out += "{\"type\": \"ping\"}\n\n"sv;
    }

    /// `event: content_block_delta` up to the delta of the open block.
    void delta_prefix(std::string& out) const {
        append_event(out, "content_block_delta");
        out += "{\"type\":\"content_block_delta\",\"index\":"sv;
        append_number(out, static_cast<std::int64_t>(open_ < 0 ? 0 : open_));
        out += ",\"delta\":"sv;
    }

    void close_block(std::string& out) {
        if (open_ < 0) return;
        append_event(out, "content_block_stop");
        out += "{\"type\":\"content_block_stop\",\"index\":"sv;
        append_number(out, static_cast<std::int64_t>(open_));
        out += "}\n\n"sv;
        open_ = -1;
        block_ = block_kind::none;
    }

    void open_thinking(std::string& out) {
        if (block_ == block_kind::thinking) return;
        close_block(out);
        open_ = next_index_++;
        block_ = block_kind::thinking;
        append_event(out, "content_block_start");
        out += "{\"type\":\"content_block_start\",\"index\":"sv;
        append_number(out, static_cast<std::int64_t>(open_));
        out += ",\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}"
               "\n\n"sv;
        first_block_started(out);
    }

    void open_text(std::string& out) {
        if (block_ == block_kind::text) return;
        close_block(out);
        open_ = next_index_++;
        block_ = block_kind::text;
        append_event(out, "content_block_start");
        out += "{\"type\":\"content_block_start\",\"index\":"sv;
        append_number(out, static_cast<std::int64_t>(open_));
        out += ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"sv;
        first_block_started(out);
    }

    std::string id_;
    std::string model_;
    token_count input_tokens_;
    bool started_ = false;
    bool pinged_ = false;
    bool finished_ = false;
    /// The open content block (-1: none) and its kind.
    int open_ = -1;
    enum class block_kind { none, text, tool, thinking, other };
    block_kind block_ = block_kind::none;
    int next_index_ = 0;
    std::map<std::size_t, int> tool_blocks_;  // tool-call index -> block index
};

// ---------------------------------------------------------------------------------------------

constexpr endpoint endpoints_table[] = {
    {"POST", "/v1/messages/count_tokens", operation::count_tokens},
    {"POST", "/v1/messages", operation::chat},
    // Claude on Vertex AI (the SDK's AnthropicVertex): the model and streaming in the path.
    {"POST", "/v1/projects/{*}/locations/{*}/publishers/anthropic/models/{model}:streamRawPredict",
     operation::chat, true},
    {"POST", "/v1/projects/{*}/locations/{*}/publishers/anthropic/models/{model}:rawPredict",
     operation::chat},
};

/// RFC 3339 UTC of Unix seconds (`2025-01-01T00:00:00Z`), for `created_at`.
void append_rfc3339(std::string& out, std::int64_t t) {
    std::time_t const tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    auto const n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    out.append(buf, n);
}

class anthropic_messages_server_impl final : public wire_server {
public:
    std::string_view name() const noexcept override { return "anthropic"; }

    std::span<endpoint const> endpoints() const noexcept override { return endpoints_table; }

    credential presented_credential(request_head const& head) const override {
        std::string_view const auth = head.header("authorization");
        std::string_view bearer;
        if (auth.size() > 7 && iequals(auth.substr(0, 7), "Bearer ")) bearer = trim(auth.substr(7));
        // Vertex: a Google OAuth access token, which Google's front end checks.
        if (is_vertex(head.path))
            return bearer.empty() ? credential{} : credential{credential::kind::access_token, bearer};
        // The SDK sends x-api-key; with an auth token (Claude Code's ANTHROPIC_AUTH_TOKEN), a
        // bearer token.
        if (auto const key = trim(head.header("x-api-key")); !key.empty())
            return {credential::kind::api_key, key};
        if (!bearer.empty()) return {credential::kind::api_key, bearer};
        return {};
    }

    std::string_view key_hint() const noexcept override { return "x-api-key: <key>"; }

    decode_result decode_request(request_head const& head, std::string_view body) const override {
        return decode(head, body);
    }

    void encode_response(chat_response const& r, answer_meta const& m,
                         std::string& out) const override {
        append_response(r, m, out);
    }

    std::string_view stream_content_type() const noexcept override {
        return "text/event-stream; charset=utf-8";
    }

    std::unique_ptr<stream_encoder> make_stream_encoder(answer_meta const& m,
                                                        bool include_usage) const override {
        (void)include_usage;  // Anthropic's streams always end with their usage
        return std::make_unique<anthropic_stream_encoder>(m);
    }

    http_answer encode_error(api_error const& e) const override {
        http_answer a;
        a.status = e.status;
        // Anthropic says "overloaded" with its own status: its clients (and SDKs'
        // OverloadedError) know 529, not the 503 a failed upstream call maps to.
        if (e.type.empty() && e.status == 503 && e.code == "overloaded") a.status = 529;
        a.content_type = "application/json";
        if (e.retry_after) {
            auto const ms = e.retry_after->count();
            // retry-after is whole seconds: rounded up, so a client never retries early.
            a.headers.emplace_back("retry-after", std::to_string((ms + 999) / 1000));
            a.headers.emplace_back("retry-after-ms", std::to_string(ms));
        }
        if (e.no_retry) a.headers.emplace_back("x-should-retry", "false");
        append_error(e, a.body);
        return a;
    }

    void response_headers(answer_meta const& m, header_sink& out) const override {
        if (!m.request_id.empty()) out.header("request-id", m.request_id);
    }

    std::string make_id(id_kind kind, std::string_view tag, std::uint64_t n) const override {
        std::string out = kind == id_kind::response    ? "msg_"
                          : kind == id_kind::tool_call ? "toolu_"
                                                       : "req_";
        out.reserve(32 + tag.size());  // one allocation: prefix, tag, separator and number
        out += tag;
        out += '_';
        append_number(out, n);
        return out;
    }

    void encode_models(std::span<std::string const> names, std::int64_t created,
                       std::string& out) const override {
        out += "{\"data\":["sv;
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i) out += ',';
            encode_model(names[i], created, out);
        }
        out += "],\"has_more\":false,\"first_id\":"sv;
        append_json_string_or_null(out, names.empty() ? std::string_view() : names.front());
        out += ",\"last_id\":"sv;
        append_json_string_or_null(out, names.empty() ? std::string_view() : names.back());
        out += '}';
    }

    void encode_model(std::string_view name, std::int64_t created,
                      std::string& out) const override {
        out += "{\"type\":\"model\",\"id\":"sv;
        append_json_string(out, name);
        out += ",\"display_name\":"sv;
        append_json_string(out, name);
        out += ",\"created_at\":\""sv;
        append_rfc3339(out, created);
        out += "\"}"sv;
    }

    api_error error_for_status(unsigned status, std::string_view model) const override {
        switch (status) {
        case 400: return invalid({}, "Invalid request (emulated error).");
        case 401: return {401, "invalid x-api-key", "authentication_error", "", ""};
        case 402:
            return {402,
                    "Your credit balance is too low to access the Anthropic API. Please go to "
                    "Plans & Billing to upgrade or purchase credits.",
                    "billing_error", "", ""};
        case 403:
            return {403, "Your API key does not have permission to use the specified resource.",
                    "permission_error", "", ""};
        case 404: return {404, "model: " + std::string(model), "not_found_error", "", ""};
        case 413:
            return {413, "Request exceeds the maximum allowed number of bytes.",
                    "request_too_large", "", ""};
        case 429:
            return {429,
                    "This request would exceed the rate limit for your organization of 50 "
                    "requests per minute. For details, refer to: "
                    "https://docs.claude.com/en/api/rate-limits.",
                    "rate_limit_error", "", ""};
        case 500: return {500, "Internal server error", "api_error", "", ""};
        case 504: return {504, "Request timed out", "timeout_error", "", ""};
        case 503:  // the type this format gives a 503 everywhere else (error_type)
        case 529: return {status, "Overloaded", "overloaded_error", "", ""};
        default:
            return {status, "Emulated error (HTTP " + std::to_string(status) + ").",
                    std::string(anthropic::error_type(status)), "", ""};
        }
    }

    api_error auth_error(bool missing_key, std::string_view why,
                         std::string_view type) const override {
        (void)why;  // Anthropic says the same whatever was wrong with a key
        (void)type;
        if (missing_key) return {401, "x-api-key header is required", "authentication_error", "", ""};
        return error_for_status(401, {});
    }

    api_error auth_error_for(request_head const& head, bool missing_key, std::string_view why,
                            std::string_view type) const override {
        if (!is_vertex(head.path)) return auth_error(missing_key, why, type);
        // Google's front end, in Google's shape (`append_error` writes upper-case types so).
        return {401,
                std::string(missing_key ? "Request is missing required authentication "
                                          "credential."
                                        : "Request had invalid authentication credentials.") +
                    " Expected OAuth 2 access token, login cookie or other valid authentication "
                    "credential.",
                "UNAUTHENTICATED", "", ""};
    }

    api_error reasoning_refused(reasoning_fault const& f) const override {
        // The API's wording (PROVIDERS-2.md 3.3).
        auto const at = "messages." + std::to_string(f.message) + ".content." +
                        std::to_string(f.part);
        if (f.what == reasoning_fault::kind::missing_thinking)
            return invalid(at, at + ".type: Expected `thinking` or `redacted_thinking`, but found "
                                    "`tool_use`. When `thinking` is enabled, a final `assistant` "
                                    "message must start with a thinking block (preceeding the "
                                    "lastmost set of `tool_use` and `tool_result` blocks). We "
                                    "recommend you include thinking blocks from previous turns. "
                                    "To avoid this requirement, disable `thinking`. Please "
                                    "consult our documentation at "
                                    "https://docs.claude.com/en/docs/build-with-claude/"
                                    "extended-thinking");
        if (f.what == reasoning_fault::kind::invalid_signature)
            return invalid(at, at + ": Invalid `signature` in `thinking` block");
        return wire_server::reasoning_refused(f);
    }

    api_error mid_stream_error(std::string_view model) const override {
        (void)model;
        // What the API sends when a stream breaks off (PROVIDERS.md 3.3).
        return {529, "Overloaded", "overloaded_error", "", ""};
    }

    api_error unknown_endpoint(std::string_view method, std::string_view target) const override {
        return {404, "Not found: " + std::string(method) + " " + std::string(target),
                "not_found_error", "", ""};
    }
};

}  // namespace

wire_server const& anthropic_messages_server() {
    static anthropic_messages_server_impl const instance;
    return instance;
}

}  // namespace llmux::detail
