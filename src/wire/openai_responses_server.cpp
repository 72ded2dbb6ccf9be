// SPDX-License-Identifier: BSL-1.0
// The OpenAI Responses API, server side (PROVIDERS-2.md section 1): `POST /v1/responses`
// decoded into a `chat_request` with OpenAI's own 400s; response objects and the typed event
// stream (`event:` lines, `sequence_number` from 0, every item opened and closed in order)
// written as OpenAI writes them; errors in Chat Completions' shape, which the Responses API
// shares. Written as text straight into the caller's buffer, like the Chat Completions side.
//
// Stateless: nothing is stored, so `previous_response_id` and `conversation` are refused by name,
// `item_reference` items are not found (as OpenAI answers under `store: false`), and every
// response says `"store": false` whatever the request asked for: that is what happened to it.
#include "util/json_read.hpp"
#include "util/json_text.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/openai_chat.hpp"
#include "wire/openai_responses.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <unordered_map>

using namespace std::string_view_literals;

namespace llmux::detail {

namespace {

namespace json = boost::json;
using decode_result = boost::system::result<inbound_request, api_error>;
using openai::invalid;
using openai::missing;
using openai::number_member;
using openai::type_for_status;
using openai::wrong_type;

// ---------------------------------------------------------------------------------------------
// Decoding

std::string_view sv(json::string const& s) noexcept {
    return json_view(s);
}
json::value const* member(json::object const& o, std::string_view key) noexcept {
    return present(o, key);
}

api_error bad_value(std::string const& param, std::string_view value, std::string_view expected) {
    return invalid(param, "Invalid value: '" + std::string(value) + "'. Supported values are: " +
                              std::string(expected) + ".",
                   "invalid_value");
}

/// The request's fields read into the unified request (or answered here); every other field
/// with a value other than its default is `native`.
constexpr std::array<std::string_view, 20> unified_fields = {
    "model",  "input",       "instructions", "temperature", "top_p",   "max_output_tokens",
    "user",   "stream",      "stream_options", "tools",     "tool_choice", "text",
    "store",  "include",     "previous_response_id", "conversation", "parallel_tool_calls",
    "metadata", "reasoning", "prompt_cache_key",
};

/// True when `v` is the Responses API's default for `key`: such a field changes nothing.
bool at_default(std::string_view key, json::value const& v) {
    if (key == "top_logprobs") return v.is_number() && v.to_number<double>() == 0;
    if (key == "background") return v.is_bool() && !v.get_bool();
    if (key == "truncation") return v.is_string() && v.get_string() == "disabled";
    if (key == "service_tier")
        return v.is_string() && (v.get_string() == "auto" || v.get_string() == "default");
    return false;
}

/// Text of parts that may only hold text (`input_text`, `output_text`), joined.
boost::system::result<std::string, api_error> text_parts(json::value const& c, std::string const& at,
                                                         bool assistant) {
    if (auto const* s = c.if_string()) return std::string(sv(*s));
    auto const* parts = c.if_array();
    if (!parts) return wrong_type(at, "a string or an array of parts", c);
    std::string out;
    for (std::size_t j = 0; j < parts->size(); ++j) {
        auto const where = at + "[" + std::to_string(j) + "]";
        auto const* p = (*parts)[j].if_object();
        if (!p) return wrong_type(where, "an object", (*parts)[j]);
        auto const* type = member(*p, "type");
        if (!type || !type->is_string()) return missing(where + ".type");
        std::string_view const ty = sv(type->get_string());
        char const* key = "text";
        if (ty == "refusal" && assistant)
            key = "refusal";
        else if (ty != (assistant ? "output_text" : "input_text"))
            return bad_value(where + ".type", ty, assistant ? "output_text, refusal" : "input_text");
        auto const* t = member(*p, key);
        if (!t || !t->is_string()) return missing(where + "." + key);
        out += sv(t->get_string());
    }
    return out;
}

/// Reads the request's `input` items into `req.messages`. An item the unified request has no
/// place for (a reasoning item, a file) keeps the whole `input` in `native`.
class input_decoder {
public:
    explicit input_decoder(chat_request& req) : req_(req) {}

    boost::system::result<void, api_error> items(json::array const& list) {
        req_.messages.reserve(list.size());
        for (std::size_t i = 0; i < list.size(); ++i) {
            auto const where = "input[" + std::to_string(i) + "]";
            auto const* it = list[i].if_object();
            if (!it) return wrong_type(where, "an object", list[i]);
            std::string_view type = "message";
            if (auto const* t = member(*it, "type")) {
                if (!t->is_string()) return wrong_type(where + ".type", "a string", *t);
                type = sv(t->get_string());
            }
            boost::system::result<void, api_error> r;
            if (type == "message")
                r = message_item(*it, where);
            else if (type == "function_call")
                r = call_item(*it, where);
            else if (type == "function_call_output")
                r = output_item(*it, where);
            else if (type == "item_reference")
                r = reference(*it, where);
            else if (type == "reasoning")
                r = reasoning_item(*it, where);
            else
                return bad_value(where + ".type", type,
                                 "message, function_call, function_call_output, reasoning");
            if (!r) return r.error();
        }
        return {};
    }

    /// Where the first item without a unified place is (`input[3]`), if any.
    std::string const& kept_at() const noexcept { return kept_; }

private:
    void keep(std::string const& where) {
        if (kept_.empty()) kept_ = where;
    }

    boost::system::result<void, api_error> message_item(json::object const& it,
                                                        std::string const& where) {
        auto const* role_v = member(it, "role");
        if (!role_v) return missing(where + ".role");
        if (!role_v->is_string()) return wrong_type(where + ".role", "a string", *role_v);
        std::string_view const role = sv(role_v->get_string());
        auto const* content = member(it, "content");
        if (!content) return missing(where + ".content");
        message msg;
        if (role == "system" || role == "developer") {
            auto t = text_parts(*content, where + ".content", false);
            if (!t) return t.error();
            msg.role = role::system;
            msg.content.emplace_back(text_part{std::move(*t)});
        } else if (role == "assistant") {
            auto t = text_parts(*content, where + ".content", true);
            if (!t) return t.error();
            // The text of a turn whose reasoning came first joins it.
            if (turn_ == turn::reasoning) {
                req_.messages.back().content.emplace_back(text_part{std::move(*t)});
                turn_ = turn::text;
                return {};
            }
            msg.role = role::assistant;
            msg.content.emplace_back(text_part{std::move(*t)});
        } else if (role == "user") {
            msg.role = role::user;
            if (auto r = user_content(*content, where + ".content", msg); !r) return r.error();
        } else {
            return bad_value(where + ".role", role, "user, assistant, system, developer");
        }
        turn_ = msg.role == role::assistant ? turn::text : turn::none;
        req_.messages.push_back(std::move(msg));
        return {};
    }

    boost::system::result<void, api_error> user_content(json::value const& c, std::string const& at,
                                                        message& msg) {
        if (auto const* s = c.if_string()) {
            msg.content.emplace_back(text_part{std::string(sv(*s))});
            return {};
        }
        auto const* parts = c.if_array();
        if (!parts) return wrong_type(at, "a string or an array of parts", c);
        for (std::size_t j = 0; j < parts->size(); ++j) {
            auto const where = at + "[" + std::to_string(j) + "]";
            auto const* p = (*parts)[j].if_object();
            if (!p) return wrong_type(where, "an object", (*parts)[j]);
            auto const* type = member(*p, "type");
            if (!type || !type->is_string()) return missing(where + ".type");
            std::string_view const ty = sv(type->get_string());
            if (ty == "input_text") {
                auto const* t = member(*p, "text");
                if (!t || !t->is_string()) return missing(where + ".text");
                msg.content.emplace_back(text_part{std::string(sv(t->get_string()))});
            } else if (ty == "input_image") {
                auto const* url = member(*p, "image_url");
                if (!url) {
                    // An uploaded file's id names state this server does not have.
                    if (member(*p, "file_id")) {
                        keep(where + ".file_id");
                        continue;
                    }
                    return missing(where + ".image_url");
                }
                if (!url->is_string()) return wrong_type(where + ".image_url", "a string", *url);
                image_part img;
                img.url = std::string(sv(url->get_string()));
                if (auto const* d = member(*p, "detail")) {
                    if (!d->is_string()) return wrong_type(where + ".detail", "a string", *d);
                    img.detail = std::string(sv(d->get_string()));
                }
                msg.content.emplace_back(std::move(img));
            } else if (ty == "input_file") {
                // A data URL or a URL is a document; an uploaded file's id names state this
                // server does not have, and bare base64 has no media type: the upstream's.
                document_part doc;
                if (auto const* n = member(*p, "filename")) {
                    if (!n->is_string()) return wrong_type(where + ".filename", "a string", *n);
                    doc.name = std::string(sv(n->get_string()));
                }
                auto const* data = member(*p, "file_data");
                auto const* url = member(*p, "file_url");
                if (data && !data->is_string()) return wrong_type(where + ".file_data", "a string", *data);
                if (url && !url->is_string()) return wrong_type(where + ".file_url", "a string", *url);
                if (data && istarts_with(sv(data->get_string()), "data:"))
                    doc.url = std::string(sv(data->get_string()));
                else if (url && !data)
                    doc.url = std::string(sv(url->get_string()));
                if (doc.url.empty()) {
                    if (!data && !url && !member(*p, "file_id"))
                        return missing(where + ".file_data");
                    keep(where);
                    continue;
                }
                msg.content.emplace_back(std::move(doc));
            } else {
                return bad_value(where + ".type", ty, "input_text, input_image, input_file");
            }
        }
        return {};
    }

    boost::system::result<void, api_error> call_item(json::object const& it,
                                                     std::string const& where) {
        auto const* call_id = member(it, "call_id");
        if (!call_id) return missing(where + ".call_id");
        if (!call_id->is_string()) return wrong_type(where + ".call_id", "a string", *call_id);
        auto const* name = member(it, "name");
        if (!name) return missing(where + ".name");
        if (!name->is_string()) return wrong_type(where + ".name", "a string", *name);
        auto const* args = member(it, "arguments");
        if (!args) return missing(where + ".arguments");
        if (!args->is_string()) return wrong_type(where + ".arguments", "a string", *args);
        tool_call tc;
        tc.id = std::string(sv(call_id->get_string()));
        tc.name = std::string(sv(name->get_string()));
        tc.arguments = std::string(sv(args->get_string()));
        // A call id this server sealed (a Gemini call's signature, `seal_call_id`) opens again.
        std::vector<reasoning_part> sealed_parts;
        open_call_id(sv(call_id->get_string()), &tc.id, &sealed_parts, &tc.signature);
        names_[tc.id] = tc.name;
        // The calls of one turn follow its reasoning and text: they join that turn.
        if (turn_ == turn::none) {
            message m;
            m.role = role::assistant;
            req_.messages.push_back(std::move(m));
        }
        auto& content = req_.messages.back().content;
        // An empty text before the calls was a placeholder for them.
        if (!content.empty())
            if (auto const* t = std::get_if<text_part>(&content.back()); t && t->text.empty())
                content.pop_back();
        for (auto& g : sealed_parts) content.emplace_back(std::move(g));
        content.emplace_back(std::move(tc));
        turn_ = turn::calls;
        return {};
    }

    /** A reasoning item: a reasoning part of the assistant turn it opens (or continues). Its
        encrypted content is OpenAI's (origin `openai`), or another family's part that a server
        side sealed into it (`open_reasoning`, redacted parts too).
    */
    boost::system::result<void, api_error> reasoning_item(json::object const& it,
                                                          std::string const& where) {
        reasoning_part r;
        r.origin = "openai";
        if (auto const* id = member(it, "id")) {
            if (!id->is_string()) return wrong_type(where + ".id", "a string", *id);
            r.id = std::string(sv(id->get_string()));
        }
        auto const join = [&](char const* key) -> boost::system::result<bool, api_error> {
            auto const* v = member(it, key);
            using found = boost::system::result<bool, api_error>;
            if (!v) return found(boost::system::in_place_value, false);
            if (!v->is_array()) return wrong_type(where + "." + key, "an array", *v);
            bool any = false;
            auto const& a = v->get_array();
            for (std::size_t j = 0; j < a.size(); ++j) {
                auto const* p = a[j].if_object();
                auto const* t = p ? member(*p, "text") : nullptr;
                if (!t || !t->is_string())
                    return missing(where + "." + key + "[" + std::to_string(j) + "].text");
                if (any) r.text += "\n\n"sv;
                r.text += sv(t->get_string());
                any = true;
            }
            return found(boost::system::in_place_value, any);
        };
        auto summary = join("summary");
        if (!summary) return summary.error();
        r.type = reasoning_part::kind::summary;
        if (!*summary) {
            auto content = join("content");
            if (!content) return content.error();
            if (*content) r.type = reasoning_part::kind::text;
        }
        if (auto const* ec = member(it, "encrypted_content")) {
            if (!ec->is_string()) return wrong_type(where + ".encrypted_content", "a string", *ec);
            std::string_view const sealed = sv(ec->get_string());
            if (!open_reasoning(sealed, r)) r.signature = std::string(sealed);
        }
        if (turn_ == turn::none) {
            message m;
            m.role = role::assistant;
            req_.messages.push_back(std::move(m));
            turn_ = turn::reasoning;
        }
        req_.messages.back().content.emplace_back(std::move(r));
        return {};
    }

    boost::system::result<void, api_error> output_item(json::object const& it,
                                                       std::string const& where) {
        auto const* call_id = member(it, "call_id");
        if (!call_id) return missing(where + ".call_id");
        if (!call_id->is_string()) return wrong_type(where + ".call_id", "a string", *call_id);
        auto const* output = member(it, "output");
        if (!output) return missing(where + ".output");
        tool_result r;
        if (output->is_string()) {
            r.content = std::string(sv(output->get_string()));
        } else if (auto const* parts = output->if_array()) {
            for (std::size_t j = 0; j < parts->size(); ++j) {
                auto const at = where + ".output[" + std::to_string(j) + "]";
                auto const* p = (*parts)[j].if_object();
                if (!p) return wrong_type(at, "an object", (*parts)[j]);
                auto const* type = member(*p, "type");
                if (!type || !type->is_string()) return missing(at + ".type");
                if (type->get_string() != "input_text") {
                    keep(at);  // images and files in a tool's output: no unified place
                    continue;
                }
                auto const* t = member(*p, "text");
                if (!t || !t->is_string()) return missing(at + ".text");
                r.content += sv(t->get_string());
            }
        } else {
            return wrong_type(where + ".output", "a string or an array of parts", *output);
        }
        r.tool_call_id = std::string(sv(call_id->get_string()));
        open_call_id(sv(call_id->get_string()), &r.tool_call_id, nullptr, nullptr);
        if (auto n = names_.find(r.tool_call_id); n != names_.end()) r.name = n->second;
        message m;
        m.role = role::tool;
        m.content.emplace_back(std::move(r));
        req_.messages.push_back(std::move(m));
        turn_ = turn::none;
        return {};
    }

    boost::system::result<void, api_error> reference(json::object const& it,
                                                     std::string const& where) {
        std::string id;
        if (auto const* v = member(it, "id"); v && v->is_string()) id = std::string(sv(v->get_string()));
        // What OpenAI answers for an item under `store: false` (PROVIDERS-2.md 1.5): this
        // server stores nothing.
        return api_error{404,
                         "Item with id '" + id +
                             "' not found. Items are not persisted when `store` is set to false: "
                             "this server is stateless; send the item itself.",
                         "invalid_request_error", "", where + ".id"};
    }

    chat_request& req_;
    std::unordered_map<std::string, std::string> names_;
    std::string kept_;
    /// The assistant turn the next items join: none open, or one holding reasoning only,
    /// text, or calls.
    enum class turn { none, reasoning, text, calls };
    turn turn_ = turn::none;
};

boost::system::result<void, api_error> decode_tools(json::object const& o, inbound_request& in) {
    auto& req = in.req;
    std::string kept;  // the first tool without a unified place
    if (auto const* tools = member(o, "tools")) {
        if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
        auto const& arr = tools->get_array();
        for (std::size_t j = 0; j < arr.size(); ++j) {
            auto const at = "tools[" + std::to_string(j) + "]";
            auto const* t = arr[j].if_object();
            if (!t) return wrong_type(at, "an object", arr[j]);
            auto const* ty = member(*t, "type");
            if (!ty) return missing(at + ".type");
            if (!ty->is_string()) return wrong_type(at + ".type", "a string", *ty);
            if (ty->get_string() != "function") {
                // Built-in tools (web_search, file_search, mcp, ...): the upstream's to run.
                if (kept.empty()) kept = at;
                continue;
            }
            auto const* name = member(*t, "name");
            if (!name) return missing(at + ".name");
            if (!name->is_string() || name->get_string().empty())
                return wrong_type(at + ".name", "a non-empty string", *name);
            tool tl;
            tl.name = std::string(sv(name->get_string()));
            if (auto const* d = member(*t, "description")) {
                if (!d->is_string()) return wrong_type(at + ".description", "a string", *d);
                tl.description = std::string(sv(d->get_string()));
            }
            if (auto const* p = member(*t, "parameters")) {
                if (!p->is_object()) return wrong_type(at + ".parameters", "an object", *p);
                if (auto where = non_finite_at(*p, at + ".parameters"))
                    return invalid(*where, "The number at '" + *where + "' is out of range.");
                tl.parameters = json::object(p->get_object(), json::storage_ptr());
            }
            if (auto const* s = member(*t, "strict")) {
                if (!s->is_bool()) return wrong_type(at + ".strict", "a boolean", *s);
                tl.strict = s->get_bool();
            }
            req.tools.push_back(std::move(tl));
        }
        if (!kept.empty()) {
            if (in.native.empty()) in.native_name = kept;
            in.native.emplace("tools", owned(*tools));
        }
    }
    auto const* tc = member(o, "tool_choice");
    if (!tc) return {};
    if (!kept.empty()) {
        // Built-in tools go upstream whole, and the choice among them with them.
        in.native.emplace("tool_choice", owned(*tc));
        if (req.tools.empty()) return {};
    }
    if (auto const* s = tc->if_string()) {
        if (*s == "auto")
            req.tool_choice = tool_choice::automatic();
        else if (*s == "none")
            req.tool_choice = tool_choice::none();
        else if (*s == "required")
            req.tool_choice = tool_choice::required();
        else
            return bad_value("tool_choice", sv(*s), "none, auto, required");
    } else if (auto const* c = tc->if_object()) {
        auto const* ty = member(*c, "type");
        if (!ty || !ty->is_string()) return missing("tool_choice.type");
        if (ty->get_string() != "function") {
            // allowed_tools, or a built-in tool: no unified place.
            if (kept.empty()) in.native.emplace("tool_choice", owned(*tc));
            return {};
        }
        auto const* name = member(*c, "name");
        if (!name || !name->is_string()) return missing("tool_choice.name");
        req.tool_choice = tool_choice::named(std::string(sv(name->get_string())));
        bool found = false;
        for (auto const& t : req.tools) found = found || t.name == req.tool_choice->name;
        if (!found)
            return invalid("tool_choice", "Invalid 'tool_choice': no function named '" +
                                              req.tool_choice->name + "' is defined in 'tools'.");
    } else {
        return wrong_type("tool_choice", "a string or an object", *tc);
    }
    if (req.tool_choice->how == tool_choice::mode::required && req.tools.empty() && kept.empty())
        return invalid("tool_choice", "Invalid 'tool_choice': 'required' needs at least one tool.");
    return {};
}

/// `text`: its `format` into the unified response format; `verbosity` and a schema's
/// `description` have no unified place.
boost::system::result<void, api_error> decode_text(json::object const& o, inbound_request& in) {
    auto const* tv = member(o, "text");
    if (!tv) return {};
    if (!tv->is_object()) return wrong_type("text", "an object", *tv);
    auto const& text = tv->get_object();
    json::object rest(json::storage_ptr{});
    for (auto const& [key, v] : text)
        if (key != "format" && !v.is_null()) rest.emplace(key, owned(v));
    if (auto const* fv = member(text, "format")) {
        if (!fv->is_object()) return wrong_type("text.format", "an object", *fv);
        auto const& f = fv->get_object();
        auto const* type = member(f, "type");
        if (!type || !type->is_string()) return missing("text.format.type");
        std::string_view const ty = sv(type->get_string());
        if (ty == "json_object") {
            in.req.response_format = response_format::json();
        } else if (ty == "json_schema") {
            auto const* name = member(f, "name");
            if (!name) return missing("text.format.name");
            if (!name->is_string() || name->get_string().empty())
                return wrong_type("text.format.name", "a non-empty string", *name);
            auto const* schema = member(f, "schema");
            if (!schema) return missing("text.format.schema");
            if (!schema->is_object()) return wrong_type("text.format.schema", "an object", *schema);
            if (auto where = non_finite_at(*schema, "text.format.schema"))
                return invalid(*where, "The number at '" + *where + "' is out of range.");
            response_format rf;
            rf.type = response_format::kind::json_schema;
            rf.name = std::string(sv(name->get_string()));
            rf.schema = json::object(schema->get_object(), json::storage_ptr());
            rf.strict = false;
            if (auto const* s = member(f, "strict")) {
                if (!s->is_bool()) return wrong_type("text.format.strict", "a boolean", *s);
                rf.strict = s->get_bool();
            }
            in.req.response_format = std::move(rf);
            if (auto const* d = member(f, "description"))
                rest.emplace("format", json::object{{"description", owned(*d)}});
        } else if (ty != "text") {
            return bad_value("text.format.type", ty, "text, json_object, json_schema");
        }
    }
    if (!rest.empty()) {
        if (auto where = non_finite_at(json::value(rest), "text"))
            return invalid(*where, "The number at '" + *where + "' is out of range.");
        in.native.emplace("text", std::move(rest));
    }
    return {};
}

/** `reasoning`: its effort, and a summary as `include_text` (PROVIDERS-2.md 1.1). A summary other
    than `auto` (`concise`, `detailed`) and the newest SDK's other members have no unified place.
*/
boost::system::result<void, api_error> decode_reasoning(json::object const& o, inbound_request& in) {
    auto const* rv = member(o, "reasoning");
    if (!rv) return {};
    if (!rv->is_object()) return wrong_type("reasoning", "an object", *rv);
    auto const& r = rv->get_object();
    reasoning_options opts;
    json::object rest(json::storage_ptr{});
    for (auto const& [key, v] : r) {
        std::string_view const k(key.data(), key.size());
        if (v.is_null()) continue;
        if (k == "effort") {
            if (!v.is_string()) return wrong_type("reasoning.effort", "a string", v);
            opts.effort = parse_reasoning_effort(sv(v.get_string()));
            if (!opts.effort)
                return bad_value("reasoning.effort", sv(v.get_string()),
                                 "none, minimal, low, medium, high, xhigh, max");
        } else if (k == "summary" || k == "generate_summary") {  // the latter: deprecated alias
            std::string const at = "reasoning." + std::string(k);
            if (!v.is_string()) return wrong_type(at, "a string", v);
            std::string_view const s = sv(v.get_string());
            if (s != "auto" && s != "concise" && s != "detailed")
                return bad_value(at, s, "auto, concise, detailed");
            opts.include_text = true;
            if (s != "auto") rest.emplace(key, owned(v));
        } else {
            if (auto where = non_finite_at(v, "reasoning." + std::string(k)))
                return invalid(*where, "The number at '" + *where + "' is out of range.");
            rest.emplace(key, owned(v));
        }
    }
    if (opts.effort || opts.include_text) in.req.reasoning = opts;
    if (!rest.empty()) in.native.emplace("reasoning", std::move(rest));
    return {};
}

decode_result decode(request_head const& head, std::string_view body) {
    unsigned char first_block[4096];
    json::monotonic_resource arena(first_block, sizeof first_block);
    auto doc = openai::parse_request(body, arena);
    if (!doc) return doc.error();
    auto object = openai::body_object(*doc);
    if (!object) return object.error();
    auto const* o = *object;
    inbound_request out;
    auto& req = out.req;
    auto model = openai::request_model(*o, head.path_model);
    if (!model) return model.error();
    req.model = std::move(*model);

    // Stateless: a conversation kept on the server cannot be continued (PROVIDERS-2.md 1.6).
    if (auto const* p = member(*o, "previous_response_id")) {
        std::string const id = p->is_string() ? std::string(sv(p->get_string())) : std::string();
        return invalid("previous_response_id",
                       "Previous response with id '" + id +
                           "' not found. This server is stateless and stores no responses: send "
                           "the whole conversation in 'input' (with 'store': false) instead of "
                           "'previous_response_id'.",
                       "previous_response_not_found");
    }
    if (member(*o, "conversation"))
        return invalid("conversation", "Conversations are not supported: this server is stateless "
                                       "and stores no conversation; send the whole conversation in "
                                       "'input'.");

    if (auto const* ins = member(*o, "instructions")) {
        if (!ins->is_string()) return wrong_type("instructions", "a string", *ins);
        req.system = std::string(sv(ins->get_string()));
    }
    auto const* input = member(*o, "input");
    if (!input) return missing("input");
    input_decoder items(req);
    if (auto const* s = input->if_string()) {
        req.messages.push_back(user(std::string(sv(*s))));
    } else if (auto const* list = input->if_array()) {
        if (list->empty())
            return invalid("input", "Invalid 'input': empty array. Expected an array with "
                                    "minimum length 1, but got an empty array instead.",
                           "empty_array");
        if (auto r = items.items(*list); !r) return r.error();
        if (req.messages.empty())
            return invalid("input", "Invalid 'input': no message, function call or function call "
                                    "output to answer (reasoning items need their following item).");
        if (!items.kept_at().empty()) {
            if (auto where = non_finite_at(*input, "input"))
                return invalid(*where, "The number at '" + *where + "' is out of range.");
            // `input` is read first: `native_name` names a place in the first native field.
            out.native_name = items.kept_at();
            out.native.emplace("input", owned(*input));
        }
    } else {
        return wrong_type("input", "a string or an array of items", *input);
    }

    if (auto t = number_member(*o, "temperature", 0, 2); !t)
        return t.error();
    else
        req.temperature = *t;
    if (auto t = number_member(*o, "top_p", 0, 1); !t)
        return t.error();
    else
        req.top_p = *t;
    if (auto const* v = member(*o, "max_output_tokens")) {
        auto const n = whole_number(*v);
        if (!n) return wrong_type("max_output_tokens", "an integer", *v);
        if (*n < 1)
            return invalid("max_output_tokens",
                           "Invalid 'max_output_tokens': integer below minimum value. Expected a "
                           "value >= 1, but got " + std::to_string(*n) + " instead.",
                           "integer_below_min_value");
        req.max_tokens = *n;
    }
    if (auto const* u = member(*o, "user")) {
        if (!u->is_string()) return wrong_type("user", "a string", *u);
        req.user = std::string(sv(u->get_string()));
    }
    if (auto const* s = member(*o, "stream")) {
        if (!s->is_bool()) return wrong_type("stream", "a boolean", *s);
        out.stream = s->get_bool();
    }
    // The terminal event always carries the usage.
    out.include_usage = out.stream;
    if (auto const* so = member(*o, "stream_options")) {
        if (!out.stream)
            return invalid("stream_options", "The 'stream_options' parameter is only allowed when "
                                             "'stream' is enabled.");
        if (!so->is_object()) return wrong_type("stream_options", "an object", *so);
        // This server pads nothing: `include_obfuscation: false` is what it does anyway; asking
        // for the padding (or anything else) is the upstream's to honour.
        json::object rest(json::storage_ptr{});
        for (auto const& [key, v] : so->get_object()) {
            if (v.is_null()) continue;
            if (key == "include_obfuscation" && v.is_bool() && !v.get_bool()) continue;
            rest.emplace(key, owned(v));
        }
        if (!rest.empty()) {
            if (auto where = non_finite_at(json::value(rest), "stream_options"))
                return invalid(*where, "The number at '" + *where + "' is out of range.");
            out.native.emplace("stream_options", std::move(rest));
        }
    }
    if (auto const* st = member(*o, "store"); st && !st->is_bool())
        return wrong_type("store", "a boolean", *st);
    if (auto const* ptc = member(*o, "parallel_tool_calls")) {
        if (!ptc->is_bool()) return wrong_type("parallel_tool_calls", "a boolean", *ptc);
        if (!ptc->get_bool()) out.native.emplace("parallel_tool_calls", false);
    }
    if (auto const* md = member(*o, "metadata")) {
        if (!md->is_object()) return wrong_type("metadata", "an object", *md);
        if (auto where = non_finite_at(*md, "metadata"))
            return invalid(*where, "The number at '" + *where + "' is out of range.");
        if (!md->get_object().empty()) out.native.emplace("metadata", owned(*md));
    }
    // `reasoning.encrypted_content` is always returned where there is some (the server is
    // stateless, PROVIDERS-2.md 3.2); other inclusions are the upstream's to honour.
    if (auto const* inc = member(*o, "include")) {
        if (!inc->is_array()) return wrong_type("include", "an array", *inc);
        auto const& a = inc->get_array();
        bool other = false;
        for (std::size_t j = 0; j < a.size(); ++j) {
            if (!a[j].is_string()) return wrong_type("include[" + std::to_string(j) + "]", "a string", a[j]);
            other = other || a[j].get_string() != "reasoning.encrypted_content";
        }
        if (other) out.native.emplace("include", owned(*inc));
    }
    if (auto r = decode_tools(*o, out); !r) return r.error();
    if (auto r = decode_text(*o, out); !r) return r.error();
    if (auto r = decode_reasoning(*o, out); !r) return r.error();
    if (auto const* k = member(*o, "prompt_cache_key")) {
        if (!k->is_string()) return wrong_type("prompt_cache_key", "a string", *k);
        req.prompt_cache_key = std::string(sv(k->get_string()));
    }

    for (auto const& [key, v] : *o) {
        std::string_view const k(key.data(), key.size());
        if (v.is_null() || at_default(k, v)) continue;
        if (std::find(unified_fields.begin(), unified_fields.end(), k) != unified_fields.end())
            continue;
        if (k.empty())
            return invalid("", "Unrecognized request argument supplied: a field with an empty name.");
        if (auto where = non_finite_at(v, std::string(k)))
            return invalid(*where, "The number at '" + *where +
                                       "' is out of range (larger than a double can hold).");
        out.native.emplace(key, owned(v));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// An output item of a response, as the whole answer and the stream's terminal event write it.
struct item {
    enum class kind { message, function_call, reasoning };
    kind type = kind::message;
    std::string id;
    /// Text, a call's arguments, or reasoning text.
    std::string text;
    std::string call_id;
    std::string name;
    /// A function call's signature (Gemini's), sealed into its call id (`seal_call_id`): clients
    /// send call ids back unchanged.
    std::string signature;
    /// A reasoning item's text is a summary (else raw reasoning text).
    bool summary = false;
    /// A reasoning item's `encrypted_content`; empty: none.
    std::string encrypted;
    /// The id its final form carries when it is not `id` (OpenAI's own `rs_…`, known when the
    /// part completes, after the stream announced the item).
    std::string final_id;
};

/** A reasoning part as a reasoning item's fields: OpenAI's own with its id and encrypted
    content; another family's sealed into `encrypted_content` (`seal_reasoning`, redacted parts
    with their data), so that a client that sends the item back returns the part whole.
*/
void reasoning_fields(reasoning_part const& r, item& it) {
    it.summary = r.type == reasoning_part::kind::summary;
    it.text = r.type == reasoning_part::kind::redacted ? std::string() : r.text;
    if (r.origin == "openai"sv) {
        it.final_id = r.id;
        it.encrypted = r.signature;
    } else {
        it.encrypted = seal_reasoning(r);
    }
}

/// `<prefix>_<the response id without its resp_>_<n>`: item ids (`msg_…`, `fc_…`, `rs_…`).
void make_item_id(std::string& out, std::string_view prefix, std::string_view response_id,
                  std::size_t n) {
    out.assign(prefix);
    out += '_';
    if (response_id.starts_with("resp_")) response_id.remove_prefix(5);
    out += response_id;
    out += '_';
    append_number(out, static_cast<std::uint64_t>(n));
}

void append_usage(std::string& out, usage const& u) {
    if (!u.known()) {  // unknown usage is null, never zeros
        out += "null"sv;
        return;
    }
    auto const in = *u.input_tokens, outp = *u.output_tokens;
    out += "{\"input_tokens\":"sv;
    append_number(out, in);
    out += ",\"input_tokens_details\":{\"cached_tokens\":"sv;
    append_number(out, u.cached_input_tokens.value_or(0));
    if (u.cache_write_tokens) {
        out += ",\"cache_write_tokens\":"sv;
        append_number(out, *u.cache_write_tokens);
    }
    out += "},\"output_tokens\":"sv;
    append_number(out, outp);
    out += ",\"output_tokens_details\":{\"reasoning_tokens\":"sv;
    append_number(out, u.reasoning_tokens.value_or(0));
    out += "},\"total_tokens\":"sv;
    append_number(out, u.total_tokens ? *u.total_tokens : in + outp);
    out += '}';
}

/// One output item; `done` writes its final form (status completed, whole text).
void append_item(std::string& out, item const& it, bool done, std::string_view status) {
    switch (it.type) {
    case item::kind::message:
        out += "{\"id\":"sv;
        append_json_string(out, it.id);
        out += ",\"type\":\"message\",\"status\":\""sv;
        out += status;
        out += "\",\"role\":\"assistant\",\"content\":["sv;
        if (done) {
            out += "{\"type\":\"output_text\",\"text\":"sv;
            append_json_string(out, it.text);
            out += ",\"annotations\":[],\"logprobs\":[]}"sv;
        }
        out += "]}"sv;
        return;
    case item::kind::function_call:
        out += "{\"id\":"sv;
        append_json_string(out, it.id);
        out += ",\"type\":\"function_call\",\"status\":\""sv;
        out += status;
        out += "\",\"arguments\":"sv;
        // `arguments` is JSON text; an empty string is not (once the call is complete).
        append_json_string(out, done && it.text.empty() ? std::string_view("{}")
                                                        : std::string_view(done ? it.text : ""));
        out += ",\"call_id\":"sv;
        if (it.signature.empty())
            append_json_string(out, it.call_id);
        else
            append_json_string(out, seal_call_id(it.call_id, {}, it.signature));
        out += ",\"name\":"sv;
        append_json_string(out, it.name);
        out += '}';
        return;
    case item::kind::reasoning:
        // A summary is `summary_text`; raw reasoning text (DeepSeek's, Claude's thinking, an
        // open model's) is `reasoning_text` content.
        out += "{\"id\":"sv;
        append_json_string(out, done && !it.final_id.empty() ? it.final_id : it.id);
        out += ",\"type\":\"reasoning\",\"summary\":["sv;
        if (done && it.summary && !it.text.empty()) {
            out += "{\"type\":\"summary_text\",\"text\":"sv;
            append_json_string(out, it.text);
            out += '}';
        }
        out += ']';
        if (done && !it.summary && !it.text.empty()) {
            out += ",\"content\":[{\"type\":\"reasoning_text\",\"text\":"sv;
            append_json_string(out, it.text);
            out += "}]"sv;
        }
        if (done && !it.encrypted.empty()) {
            out += ",\"encrypted_content\":"sv;
            append_json_string(out, it.encrypted);
        }
        out += '}';
        return;
    }
}

/// The response object. `status`: in_progress, completed, incomplete or failed.
struct response_fields {
    std::string_view id;
    std::int64_t created = 0;
    std::string_view model;
    std::string_view status;
    finish_reason finish = finish_reason::unknown;
    usage const* use = nullptr;
    api_error const* error = nullptr;
};

void append_response_object(std::string& out, response_fields const& f,
                            std::span<item const> items) {
    out += "{\"id\":"sv;
    append_json_string(out, f.id);
    out += ",\"object\":\"response\",\"created_at\":"sv;
    append_number(out, f.created);
    out += ",\"status\":\""sv;
    out += f.status;
    out += "\",\"background\":false,\"error\":"sv;
    if (f.error) {
        out += "{\"code\":"sv;
        append_json_string(out, !f.error->code.empty() ? std::string_view(f.error->code)
                                : !f.error->type.empty() ? std::string_view(f.error->type)
                                                         : std::string_view("server_error"));
        out += ",\"message\":"sv;
        append_json_string(out, f.error->message);
        out += '}';
    } else {
        out += "null"sv;
    }
    out += ",\"incomplete_details\":"sv;
    if (std::string_view const why = responses::incomplete_reason(f.finish);
        f.status == "incomplete" && !why.empty()) {
        out += "{\"reason\":\""sv;
        out += why;
        out += "\"}"sv;
    } else {
        out += "null"sv;
    }
    out += ",\"instructions\":null,\"max_output_tokens\":null,\"model\":"sv;
    append_json_string(out, f.model);
    out += ",\"output\":["sv;
    bool const finished = f.status != "in_progress";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        append_item(out, items[i], true,
                    !finished ? "in_progress"
                    : f.status == "incomplete" && i + 1 == items.size() ? "incomplete"
                                                                         : "completed");
    }
    // The request's settings are not the answer's to know; these are the API's defaults, and
    // `store` is false because nothing was stored (see the top of this file).
    out += "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
           "\"reasoning\":{\"effort\":null,\"summary\":null},\"service_tier\":\"default\","
           "\"store\":false,\"temperature\":null,\"text\":{\"format\":{\"type\":\"text\"}},"
           "\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":null,\"truncation\":\"disabled\","
           "\"usage\":"sv;
    if (f.use)
        append_usage(out, *f.use);
    else
        out += "null"sv;
    out += ",\"user\":null,\"metadata\":{}}"sv;
}

std::string_view status_of(finish_reason f) noexcept {
    return responses::incomplete_reason(f).empty() ? "completed" : "incomplete";
}

void append_response(chat_response const& r, answer_meta const& m, std::string& out) {
    std::vector<item> items;
    items.reserve(2 + r.tool_calls.size());
    for (auto const& part : r.reasoning_parts) {
        auto& it = items.emplace_back();
        it.type = item::kind::reasoning;
        make_item_id(it.id, "rs", m.id, items.size() - 1);
        reasoning_fields(part, it);
    }
    if (r.reasoning_parts.empty() && !r.reasoning.empty()) {
        auto& it = items.emplace_back();
        it.type = item::kind::reasoning;
        make_item_id(it.id, "rs", m.id, items.size() - 1);
        it.text = r.reasoning;
    }
    if (!r.content.empty() || r.tool_calls.empty()) {
        auto& it = items.emplace_back();
        make_item_id(it.id, "msg", m.id, items.size() - 1);
        it.text = r.content;
    }
    for (auto const& c : r.tool_calls) {
        auto& it = items.emplace_back();
        it.type = item::kind::function_call;
        make_item_id(it.id, "fc", m.id, items.size() - 1);
        it.text = c.arguments;
        it.call_id = c.id;
        it.name = c.name;
        it.signature = c.signature;
    }
    response_fields f;
    f.id = m.id;
    f.created = m.created;
    f.model = m.model;
    f.finish = effective_finish(r);
    f.status = status_of(f.finish);
    f.use = &r.usage;
    append_response_object(out, f, items);
}

// ---------------------------------------------------------------------------------------------
// Streams

class responses_stream_encoder final : public stream_encoder {
public:
    explicit responses_stream_encoder(answer_meta const& m)
        : id_(m.id), model_(m.model), created_(m.created) {}

    void chunk(chat_chunk const& c, std::string& out) override {
        if (ended_) return;
        begin(out);
        if (!c.reasoning.empty()) {
            item& it = open(item::kind::reasoning, out);
            it.text += c.reasoning;
            event(out, "response.reasoning_text.delta");
            item_ref(out);
            out += ",\"content_index\":0,\"delta\":"sv;
            append_json_string(out, c.reasoning);
            end_event(out);
        }
        if (!c.text.empty()) {
            item& it = open(item::kind::message, out);
            it.text += c.text;
            event(out, "response.output_text.delta");
            item_ref(out);
            out += ",\"content_index\":0,\"delta\":"sv;
            append_json_string(out, c.text);
            out += ",\"logprobs\":[]"sv;
            end_event(out);
        }
        for (auto const& part : c.reasoning_parts) reasoning_done(part, out);
        for (auto const& d : c.tool_calls) call_delta(d, out);
        if (c.finish_reason) finish_ = *c.finish_reason;
    }

    void finish(chat_response const& whole, std::string& out) override {
        if (ended_) return;
        begin(out);
        if (items_.empty()) {
            // Nothing was streamed: the whole answer's content, as one delta of each kind.
            chat_chunk c;
            c.text = whole.content;
            if (whole.reasoning_parts.empty()) c.reasoning = whole.reasoning;
            c.reasoning_parts = whole.reasoning_parts;
            for (std::size_t i = 0; i < whole.tool_calls.size(); ++i)
                c.tool_calls.push_back({i, whole.tool_calls[i].id, whole.tool_calls[i].name,
                                        whole.tool_calls[i].arguments,
                                        whole.tool_calls[i].signature});
            chunk(c, out);
        }
        if (items_.empty()) open(item::kind::message, out);  // an empty answer still has one
        close(out);
        finish_reason fr = finish_ ? *finish_ : whole.finish_reason;
        if (fr == finish_reason::unknown && !call_items_.empty()) fr = finish_reason::tool_calls;
        response_fields f;
        f.id = id_;
        f.created = created_;
        f.model = model_;
        f.finish = fr;
        f.status = status_of(fr);
        f.use = &whole.usage;
        event(out, f.status == "incomplete" ? "response.incomplete" : "response.completed");
        out += ",\"response\":"sv;
        append_response_object(out, f, items_);
        end_event(out);
        ended_ = true;
    }

    void error(api_error const& e, std::string& out) override {
        if (ended_) return;
        begin(out);
        std::string_view const type = e.type.empty() ? type_for_status(e.status) : e.type;
        std::string_view const code = e.code.empty() ? type : std::string_view(e.code);
        // Nested as OpenAI's streams send it, and flat as the SDKs type it (PROVIDERS-2.md 1.4).
        event(out, "error");
        out += ",\"code\":"sv;
        append_json_string(out, code);
        out += ",\"message\":"sv;
        append_json_string(out, e.message);
        out += ",\"param\":"sv;
        append_json_string_or_null(out, e.param);
        out += ",\"error\":{\"type\":"sv;
        append_json_string(out, type);
        out += ",\"code\":"sv;
        append_json_string(out, code);
        out += ",\"message\":"sv;
        append_json_string(out, e.message);
        out += ",\"param\":"sv;
        append_json_string_or_null(out, e.param);
        out += '}';
        end_event(out);
        api_error failed = e;
        failed.code = std::string(code);
        response_fields f;
        f.id = id_;
        f.created = created_;
        f.model = model_;
        f.status = "failed";
        f.error = &failed;
        event(out, "response.failed");
        out += ",\"response\":"sv;
        append_response_object(out, f, {});
        end_event(out);
        ended_ = true;
    }

    void malformed(std::string& out) override {
        // An unterminated string: an event that starts like the others and cannot be parsed.
        begin(out);
        out += "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
               "\"sequence_number\":"sv;
        append_number(out, seq_++);
        out += ",\"delta\":\"malformed\n\n"sv;
    }

private:
    void event(std::string& out, std::string_view type) {
        out += "event: "sv;
        out += type;
        out += "\ndata: {\"type\":\""sv;
        out += type;
        out += "\",\"sequence_number\":"sv;
        append_number(out, seq_++);
    }
    static void end_event(std::string& out) { out += "}\n\n"sv; }

    /// `"item_id":…,"output_index":…` of the open item (written once, when it opens: every
    /// delta event carries it).
    void item_ref(std::string& out) const { out += ref_; }

    /// The opening events: the response created and in progress.
    void begin(std::string& out) {
        if (started_) return;
        started_ = true;
        response_fields f;
        f.id = id_;
        f.created = created_;
        f.model = model_;
        f.status = "in_progress";
        std::string response;
        append_response_object(response, f, {});
        for (auto type : {"response.created", "response.in_progress"}) {
            event(out, type);
            out += ",\"response\":"sv;
            out += response;
            end_event(out);
        }
    }

    /// The open item of kind `k`; the item before it is closed first.
    item& open(item::kind k, std::string& out) {
        if (has_open_ && items_[open_].type == k && k != item::kind::function_call)
            return items_[open_];
        close(out);
        auto& it = items_.emplace_back();
        it.type = k;
        open_ = items_.size() - 1;
        has_open_ = true;
        make_item_id(it.id, k == item::kind::message          ? "msg"
                            : k == item::kind::function_call ? "fc"
                                                             : "rs",
                     id_, open_);
        ref_.assign(",\"item_id\":"sv);
        append_json_string(ref_, it.id);
        ref_ += ",\"output_index\":"sv;
        append_number(ref_, static_cast<std::uint64_t>(open_));
        // A function call is announced by the caller, once its call id and name are set.
        if (k != item::kind::function_call) announce(out);
        return items_[open_];
    }

    /// Announces the item just opened (its call id and name set for a function call).
    void announce(std::string& out) {
        event(out, "response.output_item.added");
        out += ",\"output_index\":"sv;
        append_number(out, static_cast<std::uint64_t>(open_));
        out += ",\"item\":"sv;
        item const& it = items_[open_];
        append_item(out, it, false, "in_progress");
        end_event(out);
        // The content part the deltas go into.
        if (it.type == item::kind::message) {
            event(out, "response.content_part.added");
            item_ref(out);
            out += ",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":\"\","
                   "\"annotations\":[],\"logprobs\":[]}"sv;
            end_event(out);
        } else if (it.type == item::kind::reasoning) {
            event(out, "response.content_part.added");
            item_ref(out);
            out += ",\"content_index\":0,\"part\":{\"type\":\"reasoning_text\",\"text\":\"\"}"sv;
            end_event(out);
        }
    }

    void close(std::string& out) {
        if (!has_open_) return;
        item const& it = items_[open_];
        switch (it.type) {
        case item::kind::message:
            event(out, "response.output_text.done");
            item_ref(out);
            out += ",\"content_index\":0,\"text\":"sv;
            append_json_string(out, it.text);
            out += ",\"logprobs\":[]"sv;
            end_event(out);
            event(out, "response.content_part.done");
            item_ref(out);
            out += ",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":"sv;
            append_json_string(out, it.text);
            out += ",\"annotations\":[],\"logprobs\":[]}"sv;
            end_event(out);
            break;
        case item::kind::function_call:
            event(out, "response.function_call_arguments.done");
            item_ref(out);
            out += ",\"name\":"sv;
            append_json_string(out, it.name);
            out += ",\"arguments\":"sv;
            append_json_string(out, it.text.empty() ? std::string_view("{}") : std::string_view(it.text));
            end_event(out);
            break;
        case item::kind::reasoning:
            event(out, "response.reasoning_text.done");
            item_ref(out);
            out += ",\"content_index\":0,\"text\":"sv;
            append_json_string(out, it.text);
            end_event(out);
            event(out, "response.content_part.done");
            item_ref(out);
            out += ",\"content_index\":0,\"part\":{\"type\":\"reasoning_text\",\"text\":"sv;
            append_json_string(out, it.text);
            out += "}"sv;
            end_event(out);
            break;
        }
        event(out, "response.output_item.done");
        out += ",\"output_index\":"sv;
        append_number(out, static_cast<std::uint64_t>(open_));
        out += ",\"item\":"sv;
        append_item(out, it, true, "completed");
        end_event(out);
        has_open_ = false;
    }

    /// A completed reasoning part: the reasoning item its text streamed into (or a new one,
    /// its text as one delta) gets the part's id and encrypted content, and is closed.
    void reasoning_done(reasoning_part const& part, std::string& out) {
        bool const streamed = has_open_ && items_[open_].type == item::kind::reasoning;
        item& it = open(item::kind::reasoning, out);
        if (!streamed && !part.text.empty() && part.type != reasoning_part::kind::redacted) {
            event(out, "response.reasoning_text.delta");
            item_ref(out);
            out += ",\"content_index\":0,\"delta\":"sv;
            append_json_string(out, part.text);
            end_event(out);
        }
        reasoning_fields(part, it);
        close(out);
    }

    void call_delta(tool_call_delta const& d, std::string& out) {
        // The unified call `d.index` is item `call_items_[d.index]`; a new index opens an item.
        if (d.index >= call_items_.size() || call_items_[d.index] == npos) {
            if (d.index >= call_items_.size()) call_items_.resize(d.index + 1, npos);
            open(item::kind::function_call, out);
            call_items_[d.index] = open_;
            auto& it = items_[open_];
            it.call_id = d.id;
            it.name = d.name;
            it.signature = d.signature;
            announce(out);
        } else if (call_items_[d.index] != open_ || !has_open_) {
            // A late fragment of a call already closed: it still belongs to that call.
            auto& it = items_[call_items_[d.index]];
            it.text += d.arguments;
            it.signature += d.signature;
            return;
        } else {
            auto& it = items_[open_];
            if (it.call_id.empty()) it.call_id = d.id;
            if (it.name.empty()) it.name = d.name;
            it.signature += d.signature;  // the final call id carries it
        }
        if (d.arguments.empty()) return;
        items_[open_].text += d.arguments;
        event(out, "response.function_call_arguments.delta");
        item_ref(out);
        out += ",\"delta\":"sv;
        append_json_string(out, d.arguments);
        end_event(out);
    }

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    std::string id_;
    std::string model_;
    std::int64_t created_;
    std::uint64_t seq_ = 0;
    std::vector<item> items_;
    std::vector<std::size_t> call_items_;
    std::size_t open_ = 0;
    std::string ref_;  // item_ref of the open item
    std::optional<finish_reason> finish_;
    bool has_open_ = false;
    bool started_ = false;
    bool ended_ = false;
};

// ---------------------------------------------------------------------------------------------

constexpr endpoint endpoints_table[] = {
    {"POST", "/v1/responses", operation::chat},
    {"POST", "/responses", operation::chat},
};

class openai_responses_server_impl final : public wire_server {
public:
    std::string_view name() const noexcept override { return responses::format_name; }

    std::span<endpoint const> endpoints() const noexcept override { return endpoints_table; }

    // Credentials, error bodies, headers and the provider's wording are Chat Completions'.
    credential presented_credential(request_head const& head) const override {
        return openai_chat_server().presented_credential(head);
    }
    std::string_view key_hint() const noexcept override {
        return openai_chat_server().key_hint();
    }

    boost::system::result<inbound_request, api_error>
    decode_request(request_head const& head, std::string_view body) const override {
        return decode(head, body);
    }

    void encode_response(chat_response const& r, answer_meta const& m,
                         std::string& out) const override {
        append_response(r, m, out);
    }

    std::string_view stream_content_type() const noexcept override { return "text/event-stream"; }

    std::unique_ptr<stream_encoder> make_stream_encoder(answer_meta const& m,
                                                        bool include_usage) const override {
        (void)include_usage;  // the terminal event always carries the usage
        return std::make_unique<responses_stream_encoder>(m);
    }

    http_answer encode_error(api_error const& e) const override {
        return openai_chat_server().encode_error(e);
    }

    void response_headers(answer_meta const& m, header_sink& out) const override {
        openai_chat_server().response_headers(m, out);
    }

    std::string make_id(id_kind kind, std::string_view tag, std::uint64_t n) const override {
        std::string out = kind == id_kind::response    ? "resp_"
                          : kind == id_kind::tool_call ? "call_"
                                                       : "req_";
        out.reserve(32 + tag.size());  // one allocation: prefix, tag, separator and number
        out += tag;
        out += '_';
        append_number(out, n);
        return out;
    }

    api_error error_for_status(unsigned status, std::string_view model) const override {
        return openai_chat_server().error_for_status(status, model);
    }
    api_error auth_error(bool missing_key, std::string_view why,
                         std::string_view type) const override {
        return openai_chat_server().auth_error(missing_key, why, type);
    }
    api_error unknown_endpoint(std::string_view method, std::string_view target) const override {
        return openai_chat_server().unknown_endpoint(method, target);
    }
};

}  // namespace

wire_server const& openai_responses_server() {
    static openai_responses_server_impl const instance;
    return instance;
}

}  // namespace llmux::detail
