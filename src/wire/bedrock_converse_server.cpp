// SPDX-License-Identifier: BSL-1.0
// The server side of Bedrock Runtime Converse (PROVIDERS.md 6): `POST /model/{modelId}/converse`,
// `/converse-stream` and `/count-tokens`, the model id percent-encoded in the path (ids,
// inference profiles and ARNs hold ':' and '/'); requests decoded into a `chat_request` with
// Bedrock's own ValidationException wording; answers as Converse JSON; streams as
// `application/vnd.amazon.eventstream` frames (messageStart, contentBlockStart/Delta/Stop,
// messageStop, metadata; exceptions as `:message-type: exception` frames); errors as
// `{"message"}` with `x-amzn-ErrorType`. Credentials: a Bedrock API key (`Authorization:
// Bearer`) or a SigV4 signature, which the server verifies (auth/sigv4).
//
// Reasoning, caching and documents (issue 11; PROVIDERS-2.md 3.5, 4.2, 5):
//   - `reasoningContent` blocks of assistant messages are reasoning parts (`reasoningText`
//     with its signature, `redactedContent`), of origin `anthropic` when the path's model is
//     Claude, else `bedrock`; a signature this server side sealed (`seal_reasoning`) for a part
//     of another family opens back into that part. Answers and streams write the parts in
//     order, each with its signature: a part of the model's own family as it is, any other
//     sealed into the signature, so that a client sending the turn back returns it whole.
//   - a `cachePoint` block is the breakpoint (`cache`) of the text, image, document or tool
//     result before it, of the system prompt (`system_cache`, after the first system text) or
//     of the tool before it in `toolConfig.tools`; one with nothing before it is a 400 naming
//     it; one after a block that cannot carry a breakpoint (a toolUse, reasoning) keeps the
//     member native.
//   - `document` blocks in user messages are document parts: a data URI of the format's media
//     type with the `bytes`, or the `s3Location` URI; the name as it is.
//   - a tool call's signature (Gemini's `thoughtSignature`), which Converse has no place for,
//     rides on its `toolUseId` (`seal_call_id`, only when there is one); toolUse and toolResult
//     ids are opened back, so a Gemini 3 tool loop works through a Bedrock-format client.
//   - `additionalModelRequestFields`: `thinking` / `reasoning_config` (Claude: `enabled` with
//     `budget_tokens`, `adaptive` with `output_config.effort`, `disabled`; `display`),
//     `reasoningConfig` (Nova 2: `maxReasoningEffort`) and `reasoning_effort` (gpt-oss) are
//     the request's reasoning controls; the rest stays native.
//
// Decoding, where Converse says more than the unified request holds (kept in `native`, so a
// Bedrock upstream gets it as it was and any other refuses it by name; never dropped):
//   - content blocks with no unified part (video, guardContent, citations, documents of text
//     or content sources, images or documents inside tool results, a cachePoint after a block
//     that cannot carry one): the whole `messages` (or `system`, or `toolConfig` for a
//     systemTool among the tools);
//   - additionalModelRequestFields other than the reasoning controls,
//     additionalModelResponseFieldPaths, guardrailConfig, performanceConfig (other than the
//     standard latency), promptVariables, requestMetadata other than `user`, inferenceConfig
//     members other than the four, and any other field.
//   - `system` blocks: the first text is the unified system prompt, the others are system
//     messages at the start of the conversation, so that the client side sends them back as
//     the same blocks.
//   - tool result contents: text items as they are, JSON items as JSON text, joined.
// Written as text straight into the caller's buffer (no JSON DOM per answer or per event): the
// emulator is the upstream of every benchmark.
#include "util/crypto.hpp"
#include "util/json_read.hpp"
#include "codec/event_stream.hpp"
#include "util/json_text.hpp"
#include "util/json_write.hpp"
#include "util/text.hpp"
#include "wire/bedrock_converse.hpp"
#include "wire/bedrock_embeddings.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_map>

namespace llmux::detail {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;
using decode_result = boost::system::result<inbound_request, api_error>;
using bedrock::error_type_suffix;

std::string_view sv(json::string const& s) noexcept {
    return {s.data(), s.size()};
}

// ---------------------------------------------------------------------------------------------
// Bedrock's ValidationException wording

api_error aws_error(unsigned status, std::string message, std::string type,
                    std::string param = {}) {
    return {status, std::move(message), std::move(type), "", std::move(param)};
}

using bedrock::validation;

/// Bedrock's wording for a constraint a request member breaks; `where` is the member's path as
/// AWS writes it (`messages.0.content.1`), also the error's `param`.
api_error constraint(std::string const& where, std::string_view what) {
    return validation("1 validation error detected: Value at '" + where +
                          "' failed to satisfy constraint: " + std::string(what),
                      where);
}

/// A present, non-null member, or null.
json::value const* member(json::object const& o, std::string_view key) noexcept {
    auto const* v = o.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
}

/// `v` copied out of the request's arena.
json::value keep(json::value const& v) {
    return json::value(v, json::storage_ptr());
}

std::string_view image_media_type(std::string_view format) noexcept {
    if (format == "png") return "image/png";
    if (format == "jpeg") return "image/jpeg";
    if (format == "gif") return "image/gif";
    if (format == "webp") return "image/webp";
    return {};
}

/// The fields of a Converse body read into the unified request; every other one is `native`.
bool unified_field(std::string_view key) noexcept {
    return key == "messages" || key == "system" || key == "inferenceConfig" ||
           key == "toolConfig" || key == "requestMetadata" ||
           key == "additionalModelRequestFields";
}

/// The media type of a Bedrock document format, or empty.
std::string_view document_media_type(std::string_view format) noexcept {
    for (auto const& f : bedrock::document_formats)
        if (f.format == format) return f.media_type;
    return {};
}

/// A `cachePoint` member (`{"type":"default","ttl"?:"5m"|"1h"}`) at `where`.
boost::system::result<cache_control, api_error> cache_point(json::value const& v,
                                                            std::string const& where) {
    auto const* o = v.if_object();
    if (!o) return constraint(where + ".cachePoint", "Member must be a structure");
    auto const* t = member(*o, "type");
    if (!t || !t->is_string() || t->get_string() != "default")
        return constraint(where + ".cachePoint.type", "Member must satisfy enum value set: [default]");
    cache_control c;
    if (auto const* ttl = member(*o, "ttl")) {
        if (!ttl->is_string() || (ttl->get_string() != "5m" && ttl->get_string() != "1h"))
            return constraint(where + ".cachePoint.ttl", "Member must satisfy enum value set: [5m, 1h]");
        c.ttl = sv(ttl->get_string());
    }
    return c;
}

/// A cachePoint first in its list caches nothing.
api_error cache_point_first(std::string const& where) {
    return validation("The cachePoint block at " + where +
                          " must follow the content to cache. Move it after that content and "
                          "try again.",
                      where + ".cachePoint");
}

/// Sets the breakpoint of the part a cachePoint follows; false when the part cannot carry one.
bool set_cache(content_part& p, cache_control c) {
    if (auto* t = std::get_if<text_part>(&p)) t->cache = std::move(c);
    else if (auto* i = std::get_if<image_part>(&p)) i->cache = std::move(c);
    else if (auto* d = std::get_if<document_part>(&p)) d->cache = std::move(c);
    else if (auto* r = std::get_if<tool_result>(&p)) r->cache = std::move(c);
    else return false;
    return true;
}

/** Bedrock relays a model's own 400 inside its ValidationException (Claude's: "The model
    returned the following errors: <Anthropic's message>"); `param` is the unified place.
*/
api_error model_error(std::string const& param, std::string const& message) {
    return validation("The model returned the following errors: " + message, param);
}

/// True when `v` is Converse's default for `key`: such a field changes nothing and is not kept.
bool at_default(std::string_view key, json::value const& v) {
    if (v.is_null()) return true;
    if (key == "additionalModelRequestFields" || key == "promptVariables")
        return v.is_object() && v.get_object().empty();
    if (key == "additionalModelResponseFieldPaths") return v.is_array() && v.get_array().empty();
    if (key == "performanceConfig") {
        auto const* o = v.if_object();
        if (!o) return false;
        auto const* l = o->if_contains("latency");
        return o->empty() ||
               (o->size() == 1 && l && l->is_string() && l->get_string() == "standard");
    }
    return false;
}

class request_decoder {
public:
    explicit request_decoder(inbound_request& in) : in_(in), req_(in.req) {}

    boost::system::result<void, api_error> decode(json::object const& body) {
        if (auto const* sys = member(body, "system"))
            if (auto r = system(*sys); !r) return r;
        if (auto r = messages(member(body, "messages")); !r) return r;
        if (auto const* ic = member(body, "inferenceConfig"))
            if (auto r = inference(*ic); !r) return r;
        bool has_tool_config = false;
        if (auto const* tc = member(body, "toolConfig")) {
            has_tool_config = true;
            if (auto r = tool_config(*tc); !r) return r;
        }
        if (tool_blocks_ && !has_tool_config)
            return validation("The toolConfig field must be defined when using toolUse and "
                              "toolResult content blocks.",
                              "toolConfig");
        if (auto const* md = member(body, "requestMetadata"))
            if (auto r = metadata(*md); !r) return r;
        if (auto const* mf = member(body, "additionalModelRequestFields"))
            if (auto r = model_fields(*mf); !r) return r;
        for (auto const& kv : body) {
            std::string_view const key = kv.key();
            if (unified_field(key) || at_default(key, kv.value())) continue;
            // A field is passed on by its name; one without a name cannot be, nor named in a
            // refusal.
            if (key.empty()) return validation("A field has an empty name.", "");
            in_.native.insert_or_assign(key, keep(kv.value()));
        }
        // System blocks after the first: system messages ahead of the conversation.
        if (!extra_system_.empty())
            req_.messages.insert(req_.messages.begin(),
                                 std::make_move_iterator(extra_system_.begin()),
                                 std::make_move_iterator(extra_system_.end()));
        return {};
    }

private:
    boost::system::result<void, api_error> system(json::value const& v) {
        auto const* blocks = v.if_array();
        if (!blocks) return constraint("system", "Member must be a list");
        bool other = false;
        // What the previous block became: nothing, the system prompt, a system message.
        enum class made { nothing, system, message } prev = made::nothing;
        for (std::size_t i = 0; i < blocks->size(); ++i) {
            std::string const where = "system." + std::to_string(i);
            auto const* b = (*blocks)[i].if_object();
            if (!b) return constraint(where, "Member must be a structure");
            if (auto const* cp = member(*b, "cachePoint")) {
                auto c = cache_point(*cp, where);
                if (!c) return c.error();
                if (i == 0) return cache_point_first(where);
                if (prev == made::system && !req_.system_cache)
                    req_.system_cache = std::move(*c);
                else if (prev == made::message)
                    (void)set_cache(extra_system_.back().content.back(), std::move(*c));
                else
                    other = true;
                prev = made::nothing;
                continue;
            }
            prev = made::nothing;
            auto const* t = member(*b, "text");
            if (!t) {
                other = true;  // guardContent
                continue;
            }
            if (!t->is_string()) return constraint(where + ".text", "Member must be a string");
            std::string text(sv(t->get_string()));
            if (text.empty()) continue;
            if (!have_system_) {
                req_.system = std::move(text);
                have_system_ = true;
                prev = made::system;
            } else {
                extra_system_.push_back(llmux::system(std::move(text)));
                prev = made::message;
            }
        }
        if (other) in_.native.insert_or_assign("system", keep(v));
        return {};
    }

    boost::system::result<void, api_error> messages(json::value const* v) {
        if (!v) return constraint("messages", "Member must not be null");
        auto const* list = v->if_array();
        if (!list) return constraint("messages", "Member must be a list");
        if (list->empty())
            return validation("A conversation must start with a user message. Try again with a "
                              "conversation that starts with a user message.",
                              "messages");
        req_.messages.reserve(list->size());
        bool other = false;
        std::string_view previous_role;
        for (std::size_t i = 0; i < list->size(); ++i) {
            auto const where = [i] { return "messages." + std::to_string(i); };
            auto const* msg = (*list)[i].if_object();
            if (!msg) return constraint(where(), "Member must be a structure");
            auto const* role_v = msg->if_contains("role");
            std::string_view const role =
                role_v && role_v->is_string() ? sv(role_v->get_string()) : std::string_view();
            if (role != "user" && role != "assistant")
                return constraint(where() + ".role",
                                  "Member must satisfy enum value set: [user, assistant]");
            if (i == 0 && role != "user")
                return validation("A conversation must start with a user message. Try again "
                                  "with a conversation that starts with a user message.",
                                  where() + ".role");
            if (role == previous_role)
                return validation("A conversation must alternate between user and assistant "
                                  "roles. Make sure the conversation alternates between user "
                                  "and assistant roles and try again.",
                                  where() + ".role");
            previous_role = role;
            auto const* content_v = msg->if_contains("content");
            auto const* content = content_v ? content_v->if_array() : nullptr;
            if (!content) return constraint(where() + ".content", "Member must not be null");
            if (content->empty())
                return constraint(where() + ".content",
                                  "Member must have length greater than or equal to 1");
            bool const user = role == "user";
            message m;
            m.role = user ? role::user : role::assistant;
            bool made_part = false;  // the previous block became the last part of `m`
            for (std::size_t j = 0; j < content->size(); ++j) {
                auto const at = [&] { return where() + ".content." + std::to_string(j); };
                auto const* bo = (*content)[j].if_object();
                if (auto const* cp = bo ? member(*bo, "cachePoint") : nullptr) {
                    auto c = cache_point(*cp, at());
                    if (!c) return c.error();
                    if (j == 0) return cache_point_first(at());
                    if (!made_part || !set_cache(m.content.back(), std::move(*c))) other = true;
                    made_part = false;
                    continue;
                }
                auto const before = m.content.size();
                auto r = block((*content)[j], user, at, m, other);
                if (!r) return r;
                made_part = m.content.size() > before;
            }
            // A message of blocks with no unified part (a lone document) has nothing to say
            // in unified terms; the native `messages` carries it.
            if (!m.content.empty()) req_.messages.push_back(std::move(m));
        }
        if (other) in_.native.insert_or_assign("messages", keep(*v));
        return {};
    }

    template <class Where>
    boost::system::result<void, api_error> block(json::value const& v, bool user, Where where,
                                                 message& m, bool& other) {
        auto const* b = v.if_object();
        if (!b) return constraint(where(), "Member must be a structure");
        if (auto const* t = b->if_contains("text")) {
            if (!t->is_string() || t->get_string().empty())
                return validation("The text field in the ContentBlock object at " + where() +
                                      " is blank. Add text to the text field, and try again.",
                                  where() + ".text");
            m.content.emplace_back(text_part{std::string(sv(t->get_string()))});
        } else if (auto const* img = b->if_contains("image")) {
            auto const* io = img->if_object();
            auto const* fmt = io ? io->if_contains("format") : nullptr;
            std::string_view const f =
                fmt && fmt->is_string() ? sv(fmt->get_string()) : std::string_view();
            std::string_view const media = image_media_type(f);
            if (media.empty())
                return constraint(where() + ".image.format",
                                  "Member must satisfy enum value set: [png, jpeg, gif, webp]");
            auto const* src = io->if_contains("source");
            auto const* so = src ? src->if_object() : nullptr;
            auto const* bytes = so ? so->if_contains("bytes") : nullptr;
            auto const* s3 = so ? so->if_contains("s3Location") : nullptr;
            auto const* s3o = s3 ? s3->if_object() : nullptr;
            auto const* uri = s3o ? s3o->if_contains("uri") : nullptr;
            if (bytes && bytes->is_string() && base64_decode(sv(bytes->get_string()))) {
                std::string url = "data:";
                url += media;
                url += ";base64,"sv;
                url += sv(bytes->get_string());
                m.content.emplace_back(image_part{std::move(url), {}});
            } else if (uri && uri->is_string()) {
                m.content.emplace_back(image_part{std::string(sv(uri->get_string())), {}});
                if (s3o->size() > 1) other = true;  // bucketOwner
            } else {
                return validation("Malformed input request: the image at " + where() +
                                      " has no valid base64 bytes or s3Location.",
                                  where() + ".image.source");
            }
        } else if (auto const* use = b->if_contains("toolUse")) {
            tool_blocks_ = true;
            if (user)
                return validation("The toolUse content block at " + where() +
                                      " must be in an assistant message.",
                                  where() + ".toolUse");
            auto const* uo = use->if_object();
            if (!uo) return constraint(where() + ".toolUse", "Member must be a structure");
            auto const* id = member(*uo, "toolUseId");
            if (!id || !id->is_string() || id->get_string().empty())
                return constraint(where() + ".toolUse.toolUseId", "Member must not be null");
            auto const* name = member(*uo, "name");
            if (!name || !name->is_string() || name->get_string().empty())
                return constraint(where() + ".toolUse.name", "Member must not be null");
            auto const* input = member(*uo, "input");
            if (!input) return constraint(where() + ".toolUse.input", "Member must not be null");
            tool_call c;
            // An id this server side sealed carries the call's signature (seal_call_id).
            if (!open_call_id(sv(id->get_string()), &c.id, nullptr, &c.signature))
                c.id = sv(id->get_string());
            c.name = sv(name->get_string());
            c.arguments = to_json(*input);
            call_names_[c.id] = c.name;
            m.content.emplace_back(std::move(c));
        } else if (auto const* res = b->if_contains("toolResult")) {
            tool_blocks_ = true;
            if (!user)
                return validation("The toolResult content block at " + where() +
                                      " must be in a user message.",
                                  where() + ".toolResult");
            auto const* ro = res->if_object();
            if (!ro) return constraint(where() + ".toolResult", "Member must be a structure");
            auto const* id = member(*ro, "toolUseId");
            if (!id || !id->is_string() || id->get_string().empty())
                return constraint(where() + ".toolResult.toolUseId", "Member must not be null");
            tool_result r;
            if (!open_call_id(sv(id->get_string()), &r.tool_call_id, nullptr, nullptr))
                r.tool_call_id = std::string(sv(id->get_string()));
            if (auto it = call_names_.find(r.tool_call_id); it != call_names_.end())
                r.name = it->second;
            auto const* items_v = member(*ro, "content");
            auto const* items = items_v ? items_v->if_array() : nullptr;
            if (!items)
                return constraint(where() + ".toolResult.content", "Member must not be null");
            for (auto const& it : *items) {
                auto const* o = it.if_object();
                if (!o) continue;
                if (auto const* t = o->if_contains("text"); t && t->is_string())
                    r.content += sv(t->get_string());
                else if (auto const* j = o->if_contains("json"))
                    r.content += to_json(*j);
                else
                    other = true;  // an image or document the unified result cannot hold
            }
            if (auto const* st = member(*ro, "status")) {
                if (!st->is_string() ||
                    (st->get_string() != "success" && st->get_string() != "error"))
                    return constraint(where() + ".toolResult.status",
                                      "Member must satisfy enum value set: [success, error]");
                r.is_error = st->get_string() == "error";
            }
            m.content.emplace_back(std::move(r));
        } else if (auto const* rc = b->if_contains("reasoningContent")) {
            if (user)
                return validation("The reasoningContent content block at " + where() +
                                      " must be in an assistant message.",
                                  where() + ".reasoningContent");
            return reasoning(*rc, where(), m);
        } else if (auto const* doc = b->if_contains("document")) {
            if (!user) {
                other = true;  // no unified place: documents are the user's
                return {};
            }
            return document(*doc, where(), m, other);
        } else {
            other = true;  // video, guardContent, ...
        }
        return {};
    }

    boost::system::result<void, api_error> reasoning(json::value const& v,
                                                     std::string const& where, message& m) {
        auto const* o = v.if_object();
        if (!o) return constraint(where + ".reasoningContent", "Member must be a structure");
        auto const* rt = member(*o, "reasoningText");
        auto const* red = member(*o, "redactedContent");
        if ((rt != nullptr) == (red != nullptr))
            return constraint(where + ".reasoningContent",
                              "Member must have exactly one of: reasoningText, redactedContent");
        reasoning_part r;
        r.origin = bedrock::reasoning_origin(req_.model);
        if (red) {
            if (!red->is_string() || !base64_decode(sv(red->get_string())))
                return validation("Malformed input request: the redactedContent at " + where +
                                      " is not valid base64.",
                                  where + ".reasoningContent.redactedContent");
            r.type = reasoning_part::kind::redacted;
            r.data = sv(red->get_string());
        } else {
            auto const* rto = rt->if_object();
            if (!rto)
                return constraint(where + ".reasoningContent.reasoningText",
                                  "Member must be a structure");
            auto const* text = member(*rto, "text");
            if (!text || !text->is_string())
                return constraint(where + ".reasoningContent.reasoningText.text",
                                  "Member must not be null");
            r.text = sv(text->get_string());
            if (auto const* sig = member(*rto, "signature")) {
                if (!sig->is_string())
                    return constraint(where + ".reasoningContent.reasoningText.signature",
                                      "Member must be a string");
                // Another family's part this server side gave out sealed comes back whole.
                if (!open_reasoning(sv(sig->get_string()), r)) r.signature = sv(sig->get_string());
            }
        }
        m.content.emplace_back(std::move(r));
        return {};
    }

    boost::system::result<void, api_error> document(json::value const& v, std::string const& where,
                                                    message& m, bool& other) {
        auto const* o = v.if_object();
        if (!o) return constraint(where + ".document", "Member must be a structure");
        auto const* fmt = member(*o, "format");
        std::string_view const media =
            fmt && fmt->is_string() ? document_media_type(sv(fmt->get_string())) : std::string_view();
        if (media.empty())
            return constraint(where + ".document.format",
                              "Member must satisfy enum value set: [pdf, csv, doc, docx, xls, "
                              "xlsx, html, txt, md]");
        auto const* name = member(*o, "name");
        if (!name || !name->is_string() || name->get_string().empty())
            return constraint(where + ".document.name", "Member must not be null");
        for (auto const& kv : *o)
            if (kv.key() != "format" && kv.key() != "name" && kv.key() != "source" &&
                !kv.value().is_null())
                other = true;  // context, citations
        auto const* src = member(*o, "source");
        auto const* so = src ? src->if_object() : nullptr;
        if (!so) return constraint(where + ".document.source", "Member must not be null");
        auto const* bytes = member(*so, "bytes");
        auto const* s3 = member(*so, "s3Location");
        auto const* s3o = s3 ? s3->if_object() : nullptr;
        auto const* uri = s3o ? member(*s3o, "uri") : nullptr;
        document_part d;
        d.name = sv(name->get_string());
        if (bytes && bytes->is_string() && !bytes->get_string().empty() &&
            base64_decode(sv(bytes->get_string()))) {
            d.url = "data:";
            d.url += media;
            d.url += ";base64,"sv;
            d.url += sv(bytes->get_string());
        } else if (uri && uri->is_string() && !uri->get_string().empty()) {
            d.url = sv(uri->get_string());
            if (s3o->size() > 1) other = true;  // bucketOwner
        } else if (member(*so, "text") || member(*so, "content")) {
            other = true;  // a document given as text or content blocks: Converse's own
            return {};
        } else {
            return validation("Malformed input request: the document at " + where +
                                  " has no valid base64 bytes or s3Location.",
                              where + ".document.source");
        }
        m.content.emplace_back(std::move(d));
        return {};
    }

    boost::system::result<void, api_error> inference(json::value const& v) {
        auto const* io = v.if_object();
        if (!io) return constraint("inferenceConfig", "Member must be a structure");
        json::object unknown;
        for (auto const& kv : *io) {
            std::string_view const key = kv.key();
            auto const& x = kv.value();
            std::string const where = "inferenceConfig." + std::string(key);
            if (x.is_null()) continue;
            if (key == "maxTokens") {
                std::int64_t n = 0;
                if (x.is_int64())
                    n = x.get_int64();
                else if (x.is_uint64())
                    n = x.get_uint64() > INT64_MAX ? INT64_MAX
                                                   : static_cast<std::int64_t>(x.get_uint64());
                else
                    return constraint(where, "Member must be an integer");
                if (n < 1)
                    return constraint(where, "Member must have value greater than or equal to 1");
                req_.max_tokens = n;
            } else if (key == "temperature" || key == "topP") {
                if (!x.is_number()) return constraint(where, "Member must be a number");
                double const d = x.to_number<double>();
                if (!(d >= 0 && d <= 1))
                    return constraint(where, d < 0
                                                 ? "Member must have value greater than or equal to 0"
                                                 : "Member must have value less than or equal to 1");
                (key == "temperature" ? req_.temperature : req_.top_p) = d;
            } else if (key == "stopSequences") {
                auto const* a = x.if_array();
                if (!a) return constraint(where, "Member must be a list");
                for (std::size_t i = 0; i < a->size(); ++i) {
                    auto const* s = (*a)[i].if_string();
                    if (!s || s->empty())
                        return constraint(where + "." + std::to_string(i),
                                          "Member must have length greater than or equal to 1");
                    req_.stop.emplace_back(sv(*s));
                }
            } else {
                unknown.insert_or_assign(key, keep(x));
            }
        }
        if (!unknown.empty()) in_.native.insert_or_assign("inferenceConfig", std::move(unknown));
        return {};
    }

    boost::system::result<void, api_error> tool_config(json::value const& v) {
        auto const* to = v.if_object();
        if (!to) return constraint("toolConfig", "Member must be a structure");
        auto const* tools_v = to->if_contains("tools");
        auto const* tools = tools_v ? tools_v->if_array() : nullptr;
        if (!tools || tools->empty())
            return constraint("toolConfig.tools",
                              "Member must have length greater than or equal to 1");
        bool other = false;
        bool prev_tool = false;  // the previous entry was a toolSpec
        for (std::size_t i = 0; i < tools->size(); ++i) {
            std::string const where = "toolConfig.tools." + std::to_string(i);
            auto const* t = (*tools)[i].if_object();
            if (!t) return constraint(where, "Member must be a structure");
            if (auto const* cp = member(*t, "cachePoint")) {
                auto c = cache_point(*cp, where);
                if (!c) return c.error();
                if (i == 0) return cache_point_first(where);
                if (prev_tool && !req_.tools.back().cache)
                    req_.tools.back().cache = std::move(*c);
                else
                    other = true;
                prev_tool = false;
                continue;
            }
            prev_tool = false;
            auto const* spec_v = t->if_contains("toolSpec");
            if (!spec_v) {
                other = true;  // systemTool
                continue;
            }
            auto const* spec = spec_v->if_object();
            if (!spec) return constraint(where + ".toolSpec", "Member must be a structure");
            auto const* name = member(*spec, "name");
            if (!name || !name->is_string() || name->get_string().empty())
                return constraint(where + ".toolSpec.name", "Member must not be null");
            auto const* schema = member(*spec, "inputSchema");
            auto const* so = schema ? schema->if_object() : nullptr;
            auto const* js = so ? member(*so, "json") : nullptr;
            if (!js) return constraint(where + ".toolSpec.inputSchema", "Member must not be null");
            if (!js->is_object())
                return constraint(where + ".toolSpec.inputSchema.json",
                                  "Member must be a JSON object");
            tool tl;
            tl.name = std::string(sv(name->get_string()));
            if (auto const* d = member(*spec, "description")) {
                if (!d->is_string())
                    return constraint(where + ".toolSpec.description", "Member must be a string");
                tl.description = std::string(sv(d->get_string()));
            }
            tl.parameters = json::object(js->get_object(), json::storage_ptr());
            req_.tools.push_back(std::move(tl));
            prev_tool = true;
        }
        if (other) in_.native.insert_or_assign("toolConfig", keep(v));
        if (auto const* choice = member(*to, "toolChoice")) {
            auto const* co = choice->if_object();
            if (!co || co->size() != 1)
                return constraint("toolConfig.toolChoice",
                                  "Member must have exactly one of: auto, any, tool");
            if (co->contains("auto")) {
                req_.tool_choice = tool_choice::automatic();
            } else if (co->contains("any")) {
                req_.tool_choice = tool_choice::required();
            } else if (auto const* named = co->if_contains("tool")) {
                auto const* no = named->if_object();
                auto const* n = no ? member(*no, "name") : nullptr;
                if (!n || !n->is_string() || n->get_string().empty())
                    return constraint("toolConfig.toolChoice.tool.name",
                                      "Member must not be null");
                req_.tool_choice = tool_choice::named(std::string(sv(n->get_string())));
            } else {
                return constraint("toolConfig.toolChoice",
                                  "Member must have exactly one of: auto, any, tool");
            }
        }
        return {};
    }

    /// The reasoning controls among `additionalModelRequestFields` (file comment); the rest,
    /// and any control also given another way, stays native.
    boost::system::result<void, api_error> model_fields(json::value const& v) {
        constexpr std::string_view at = "additionalModelRequestFields";
        auto const* o = v.if_object();
        if (!o) {
            in_.native.insert_or_assign(at, keep(v));
            return {};
        }
        json::object rest(*o, json::storage_ptr());
        // Claude's output_config.effort, read with adaptive thinking (or alone).
        std::optional<reasoning_effort> effort;
        if (auto const* oc = member(*o, "output_config"); oc && oc->is_object()) {
            if (auto const* e = member(oc->get_object(), "effort")) {
                auto const parsed =
                    e->is_string() ? parse_reasoning_effort(sv(e->get_string())) : std::nullopt;
                if (!parsed || *parsed == reasoning_effort::none ||
                    *parsed == reasoning_effort::minimal)
                    return model_error(std::string(at) + ".output_config.effort",
                                       "output_config.effort: Input should be 'low', 'medium', "
                                       "'high', 'xhigh' or 'max'");
                effort = parsed;
                auto& rc = rest["output_config"].as_object();
                rc.erase("effort");
                if (rc.empty()) rest.erase("output_config");
            }
        }
        bool effort_used = false;  // by adaptive thinking
        for (std::string_view const key : {"thinking"sv, "reasoning_config"sv}) {
            auto const* th = member(*o, key);
            if (!th || req_.reasoning) continue;
            auto r = thinking(*th, std::string(at) + "." + std::string(key), effort, effort_used);
            if (!r) return r.error();
            if (!*r) continue;  // not a shape llmux reads: native
            req_.reasoning = std::move(**r);
            if (!extra_keys(th->get_object(), {"type", "budget_tokens", "display"}))
                rest.erase(key);
        }
        if (auto const* rc = member(*o, "reasoningConfig"); rc && !req_.reasoning) {
            // Nova 2: {"type":"enabled","maxReasoningEffort":"low|medium|high"} or disabled.
            auto const* rco = rc->if_object();
            auto const* type = rco ? member(*rco, "type") : nullptr;
            auto const* level = rco ? member(*rco, "maxReasoningEffort") : nullptr;
            auto const parsed = level && level->is_string()
                                    ? parse_reasoning_effort(sv(level->get_string()))
                                    : std::nullopt;
            bool const three = parsed && (*parsed == reasoning_effort::low ||
                                          *parsed == reasoning_effort::medium ||
                                          *parsed == reasoning_effort::high);
            if (type && type->is_string() && type->get_string() == "enabled" && three &&
                rco->size() == 2) {
                req_.reasoning = reasoning_options{parsed, {}, {}};
                rest.erase("reasoningConfig");
            } else if (type && type->is_string() && type->get_string() == "disabled" &&
                       rco->size() == 1) {
                req_.reasoning = reasoning_options{reasoning_effort::none, {}, {}};
                rest.erase("reasoningConfig");
            }
        }
        if (auto const* re = member(*o, "reasoning_effort"); re && !req_.reasoning) {
            // gpt-oss: "low", "medium" or "high".
            auto const parsed =
                re->is_string() ? parse_reasoning_effort(sv(re->get_string())) : std::nullopt;
            if (parsed && *parsed != reasoning_effort::none) {
                req_.reasoning = reasoning_options{parsed, {}, {}};
                rest.erase("reasoning_effort");
            }
        }
        if (effort && !req_.reasoning) {
            req_.reasoning = reasoning_options{effort, {}, {}};
        } else if (effort && !effort_used) {
            // An effort beside thinking that is not adaptive: Claude's to judge, kept native.
            if (auto* kept = rest.if_contains("output_config")) {
                kept->as_object().insert_or_assign("effort", to_string(*effort));
            } else {
                json::object oc;
                oc.emplace("effort", to_string(*effort));
                rest.emplace("output_config", std::move(oc));
            }
        }
        if (!rest.empty()) in_.native.insert_or_assign(at, std::move(rest));
        return {};
    }

    /// True when `o` has a non-null member other than `known`.
    static bool extra_keys(json::object const& o, std::initializer_list<std::string_view> known) {
        for (auto const& kv : o)
            if (!kv.value().is_null() &&
                std::find(known.begin(), known.end(), std::string_view(kv.key())) == known.end())
                return true;
        return false;
    }

    /** Claude's `thinking` (or Strands' `reasoning_config`, the same shape) at `where` as
        reasoning controls; nothing for a value that is not an object with a `type`. Values
        Claude refuses are refused with Anthropic's wording, as Bedrock relays it.
    */
    static boost::system::result<std::optional<reasoning_options>, api_error>
    thinking(json::value const& v, std::string const& where,
             std::optional<reasoning_effort> effort, bool& effort_used) {
        auto const* t = v.if_object();
        auto const* type = t ? member(*t, "type") : nullptr;
        if (!type || !type->is_string()) return std::optional<reasoning_options>();
        std::string_view const kind = sv(type->get_string());
        reasoning_options r;
        if (kind == "disabled") {
            r.effort = reasoning_effort::none;
        } else if (kind == "enabled") {
            auto const* b = member(*t, "budget_tokens");
            auto const n = b ? whole_number(*b) : std::nullopt;
            if (!n)
                return model_error(where + ".budget_tokens",
                                   "thinking.enabled.budget_tokens: Field required");
            if (*n < 1024)
                return model_error(where + ".budget_tokens",
                                   "thinking.enabled.budget_tokens: Input should be greater than "
                                   "or equal to 1024");
            r.budget_tokens = *n;
        } else if (kind == "adaptive") {
            r.effort = effort.value_or(reasoning_effort::high);
            effort_used = true;
        } else {
            return model_error(where + ".type",
                               "thinking: Input tag '" + std::string(kind) +
                                   "' found using 'type' does not match any of the expected "
                                   "tags: 'enabled', 'disabled', 'adaptive'");
        }
        if (auto const* d = member(*t, "display")) {
            if (!d->is_string() ||
                (d->get_string() != "summarized" && d->get_string() != "omitted"))
                return model_error(where + ".display",
                                   "thinking.display: Input should be 'summarized' or 'omitted'");
            r.include_text = d->get_string() == "summarized";
        }
        return std::optional<reasoning_options>(r);
    }

    boost::system::result<void, api_error> metadata(json::value const& v) {
        auto const* o = v.if_object();
        if (!o) return constraint("requestMetadata", "Member must be a map");
        json::object rest;
        for (auto const& kv : *o) {
            if (!kv.value().is_string())
                return constraint("requestMetadata." + std::string(kv.key()),
                                  "Member must be a string");
            if (kv.key() == "user")
                req_.user = std::string(sv(kv.value().get_string()));
            else
                rest.insert_or_assign(kv.key(), keep(kv.value()));
        }
        if (!rest.empty()) in_.native.insert_or_assign("requestMetadata", std::move(rest));
        return {};
    }

    inbound_request& in_;
    chat_request& req_;
    bool have_system_ = false;
    bool tool_blocks_ = false;
    std::vector<message> extra_system_;
    std::unordered_map<std::string, std::string> call_names_;
};

decode_result decode(request_head const& head, std::string_view body) {
    inbound_request in;
    in.req.model = head.path_model;
    in.stream = head.path.ends_with("/converse-stream");
    in.include_usage = true;  // the metadata event always carries the usage
    if (in.req.model.empty()) return constraint("modelId", "Member must not be null");

    json::monotonic_resource arena;
    boost::system::error_code ec;
    json::value const doc = detail::parse_json(body, ec, &arena);
    if (ec)
        return validation("Malformed input request: " + ec.message() +
                          ", please reformat your input and try again.");
    auto const* o = doc.if_object();
    if (!o)
        return validation("Malformed input request: expected a JSON object, please reformat "
                          "your input and try again.");
    // A number beyond a double's range (read as infinity) could be passed on only changed: it
    // is refused wherever it is (a tool's input, a schema, a native field).
    if (auto where = non_finite_at(doc, "")) {
        std::string const at = where->substr(where->starts_with('.') ? 1 : 0);
        return validation("Malformed input request: the number at " + at +
                              " is out of range, please reformat your input and try again.",
                          at);
    }
    if (head.path.ends_with("/count-tokens")) {
        // CountTokens wraps a Converse request: {"input":{"converse":{...}}}.
        auto const* input = member(*o, "input");
        auto const* io = input ? input->if_object() : nullptr;
        if (!io) return constraint("input", "Member must not be null");
        auto const* converse = member(*io, "converse");
        if (!converse)
            return validation("This server counts the tokens of Converse input only "
                              "(input.converse).",
                              "input.converse");
        o = converse->if_object();
        if (!o) return constraint("input.converse", "Member must be a structure");
    }
    request_decoder d(in);
    if (auto r = d.decode(*o); !r) return r.error();
    return in;
}

// ---------------------------------------------------------------------------------------------
// Answers

/// `usage` as Bedrock writes it: `inputTokens` leaves out what was read from or written to the
/// prompt cache (the client side adds them back).
void append_usage(std::string& out, usage const& u) {
    std::uint64_t const cached = u.cached_input_tokens.value_or(0);
    std::uint64_t const written = u.cache_write_tokens.value_or(0);
    std::uint64_t const in = *u.input_tokens;
    std::uint64_t const fresh = in >= cached + written ? in - cached - written : 0;
    out += "{\"inputTokens\":"sv;
    append_number(out, fresh);
    out += ",\"outputTokens\":"sv;
    append_number(out, *u.output_tokens);
    out += ",\"totalTokens\":"sv;
    append_number(out, u.total_tokens ? *u.total_tokens : in + *u.output_tokens);
    // Cache counts only when there were any, as Bedrock reports them.
    if (cached) {
        out += ",\"cacheReadInputTokens\":"sv;
        append_number(out, cached);
    }
    if (written) {
        out += ",\"cacheWriteInputTokens\":"sv;
        append_number(out, written);
    }
    out += '}';
}

std::uint64_t latency_ms(chat_response const& r, std::uint64_t fallback) {
    auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(r.latency).count();
    return ms > 0 ? static_cast<std::uint64_t>(ms) : fallback;
}

/// True when `text` is one JSON document (a tool call's `input` must be).
bool is_json(std::string_view text) {
    if (trim(text).empty()) return false;
    unsigned char buf[4096];
    json::monotonic_resource mr(buf, sizeof buf);
    boost::system::error_code ec;
    (void)detail::parse_json(text, ec, &mr);
    return !ec;
}

/// A reasoning part's signature: as it is for the model's own family (`native`), else the
/// part sealed whole (file comment).
void append_signature(std::string& out, reasoning_part const& p, std::string_view native) {
    if (p.origin == native)
        append_json_string(out, p.signature);
    else
        append_json_string(out, seal_reasoning(p));
}

/// True when the part is written as `redactedContent` (its data means something only to its
/// own family; another family's goes sealed, as text).
bool as_redacted(reasoning_part const& p, std::string_view native) noexcept {
    return p.type == reasoning_part::kind::redacted && p.origin == native;
}

/// A reasoning part as a whole `reasoningContent` block.
void append_reasoning(std::string& out, reasoning_part const& p, std::string_view native) {
    if (as_redacted(p, native)) {
        out += "{\"reasoningContent\":{\"redactedContent\":"sv;
        append_json_string(out, p.data);
        out += "}}"sv;
        return;
    }
    out += "{\"reasoningContent\":{\"reasoningText\":{\"text\":"sv;
    append_json_string(out, p.text);
    if (!p.signature.empty() || p.origin != native) {
        out += ",\"signature\":"sv;
        append_signature(out, p, native);
    }
    out += "}}}"sv;
}

void append_response(chat_response const& r, answer_meta const& m, std::string& out) {
    out += "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":["sv;
    bool first = true;
    auto sep = [&] {
        if (!first) out += ',';
        first = false;
    };
    std::string_view const native = bedrock::reasoning_origin(m.model);
    for (auto const& p : r.reasoning_parts) {
        sep();
        append_reasoning(out, p, native);
    }
    if (r.reasoning_parts.empty() && !r.reasoning.empty()) {
        // Reasoning text without a part to send back (streamed or unsigned): shown, not signed.
        sep();
        out += "{\"reasoningContent\":{\"reasoningText\":{\"text\":"sv;
        append_json_string(out, r.reasoning);
        out += "}}}"sv;
    }
    if (!r.content.empty() || r.tool_calls.empty()) {
        sep();
        out += "{\"text\":"sv;
        append_json_string(out, r.content);
        out += '}';
    }
    for (auto const& c : r.tool_calls) {
        sep();
        out += "{\"toolUse\":{\"toolUseId\":"sv;
        // Converse has no place for a call's signature (Gemini's): it rides on the id, which
        // clients send back unchanged (seal_call_id).
        append_json_string(out, seal_call_id(c.id, {}, c.signature));
        out += ",\"name\":"sv;
        append_json_string(out, c.name);
        out += ",\"input\":"sv;
        // `input` is a JSON document: arguments cut short (max_tokens) are no longer one.
        if (is_json(c.arguments))
            out += trim(c.arguments);
        else
            out += "{}"sv;
        out += "}}"sv;
    }
    out += "]}},\"stopReason\":\""sv;
    out += bedrock::stop_reason(r.finish_reason, r.native_finish_reason, !r.tool_calls.empty());
    out += '"';
    if (r.usage.known()) {  // unknown usage is left out, not sent as zeros
        out += ",\"usage\":"sv;
        append_usage(out, r.usage);
    }
    out += ",\"metrics\":{\"latencyMs\":"sv;
    append_number(out, latency_ms(r, m.processing_ms));
    out += "}}"sv;
}

/// Bedrock's exception for a status, when the caller did not pick one.
std::string_view type_for_status(unsigned status) noexcept {
    switch (status) {
    case 401: return "UnrecognizedClientException";
    case 402: return "ServiceQuotaExceededException";
    case 403: return "AccessDeniedException";
    case 404: return "ResourceNotFoundException";
    case 408:
    case 504: return "ModelTimeoutException";
    case 424: return "ModelErrorException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: break;
    }
    return status >= 500 ? "InternalServerException" : "ValidationException";
}

/// A request id in AWS's UUID shape (version 4 layout): the hex digits of `tag` first, then
/// `n` in the last twelve digits, so ids are unique per tag and counter.
std::string request_uuid(std::string_view tag, std::uint64_t n) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "00000000-0000-4000-8000-000000000000";
    std::size_t at = 0;
    for (char c : tag) {
        char const lower = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (hex_value(lower) < 0) continue;
        while (at < 23 && (id[at] == '-' || at == 14 || at == 19))
            ++at;
        if (at >= 23) break;
        id[at++] = lower;
    }
    for (std::size_t i = id.size(); n != 0 && i-- > 24;) {
        id[i] = hex[n & 15];
        n >>= 4;
    }
    return id;
}

// ---------------------------------------------------------------------------------------------
// Streams

/// The member name of a stream exception (`throttlingException`) for an exception name.
std::string_view stream_exception(api_error const& e) noexcept {
    std::string_view const t = e.type;
    auto const is = [&](std::string_view n) {
        return t.size() == n.size() && !t.empty() &&
               std::tolower(static_cast<unsigned char>(t[0])) == n[0] && t.substr(1) == n.substr(1);
    };
    for (auto n : {"throttlingException"sv, "validationException"sv,
                   "serviceUnavailableException"sv, "modelStreamErrorException"sv})
        if (is(n)) return n;
    if (t.empty() || !is("internalServerException")) {
        if (e.status == 429) return "throttlingException";
        if (e.status == 503) return "serviceUnavailableException";
        if (e.status >= 400 && e.status < 500 && e.status != 408 && e.status != 424)
            return "validationException";
    }
    // Whatever else failed after the stream began failed in the model's stream: Bedrock says
    // so with the original status and message.
    return "modelStreamErrorException";
}

class bedrock_stream_encoder final : public stream_encoder {
public:
    explicit bedrock_stream_encoder(answer_meta const& m)
        : processing_ms_(m.processing_ms), native_(bedrock::reasoning_origin(m.model)) {
        p_.reserve(256);
    }

    void chunk(chat_chunk const& c, std::string& out) override {
        if (finished_) return;
        begin(out);
        if (!c.reasoning.empty()) {
            open(block::reasoning, 0, {}, {}, out);
            delta(out, "{\"reasoningContent\":{\"text\":", c.reasoning, "}}");
        }
        for (auto const& p : c.reasoning_parts) reasoning_part_of(p, out);
        if (!c.text.empty()) {
            open(block::text, 0, {}, {}, out);
            delta(out, "{\"text\":", c.text, "}");
        }
        for (auto const& d : c.tool_calls) {
            int index = -1;
            for (auto const& [tool, at] : tools_)
                if (tool == d.index) index = at;
            if (index < 0) {
                open(block::tool, d.index, d.id, d.name, out, d.signature);
                index = open_;
            }
            if (!d.arguments.empty()) {
                p_.assign("{\"contentBlockIndex\":"sv);
                append_number(p_, static_cast<std::uint64_t>(index));
                p_ += ",\"delta\":{\"toolUse\":{\"input\":"sv;
                append_json_string(p_, d.arguments);
                p_ += "}}"sv;
                event(out, "contentBlockDelta");
            }
        }
        if (c.finish_reason) finish_reason_ = *c.finish_reason;
    }

    void finish(chat_response const& whole, std::string& out) override {
        if (finished_) return;
        begin(out);
        close(out);
        finished_ = true;
        auto const fr = finish_reason_ ? *finish_reason_ : whole.finish_reason;
        p_.assign("{\"stopReason\":\""sv);
        p_ += bedrock::stop_reason(fr, whole.native_finish_reason,
                                   !tools_.empty() || !whole.tool_calls.empty());
        p_ += '"';
        event(out, "messageStop");
        p_.assign("{"sv);
        if (whole.usage.known()) {
            p_ += "\"usage\":"sv;
            append_usage(p_, whole.usage);
            p_ += ',';
        }
        p_ += "\"metrics\":{\"latencyMs\":"sv;
        append_number(p_, latency_ms(whole, processing_ms_));
        p_ += '}';
        event(out, "metadata");
    }

    void error(api_error const& e, std::string& out) override {
        if (finished_) return;
        finished_ = true;
        std::string_view const type = stream_exception(e);
        p_.assign("{\"message\":"sv);
        append_json_string(p_, e.message);
        if (type == "modelStreamErrorException") {
            p_ += ",\"originalStatusCode\":"sv;
            append_number(p_, static_cast<std::uint64_t>(e.status));
            p_ += ",\"originalMessage\":"sv;
            append_json_string(p_, e.message);
        }
        p_ += '}';
        event_header const headers[] = {
            {":exception-type", type},
            {":content-type", "application/json"sv},
            {":message-type", "exception"sv},
        };
        encode_message_to(out, headers, p_);
    }

    void malformed(std::string& out) override {
        // A well-framed event (both CRCs right) whose JSON payload is cut short: the framing
        // layer accepts it, so the client's payload handling must reject it.
        begin(out);
        p_.assign(R"({"contentBlockIndex":0,"delta":{"text":"malformed})"sv);
        frame(out, "contentBlockDelta");
    }

private:
    enum class block { none, text, reasoning, tool };

    /** A completed reasoning part: it ends the open reasoning block (its text came as
        deltas) with its signature, as Bedrock ends one (PROVIDERS-2.md 3.5), or comes whole
        (a replayed answer) in a block of its own, text first.
    */
    void reasoning_part_of(reasoning_part const& p, std::string& out) {
        if (as_redacted(p, native_)) {
            close(out);
            open(block::reasoning, 0, {}, {}, out);
            delta(out, "{\"reasoningContent\":{\"redactedContent\":", p.data, "}}");
            close(out);
            return;
        }
        bool const streamed = open_kind_ == block::reasoning;
        open(block::reasoning, 0, {}, {}, out);
        bool const sign = !p.signature.empty() || p.origin != native_;
        // A block needs a delta to exist for the client: an empty text when there is nothing.
        if (!streamed && (!p.text.empty() || !sign))
            delta(out, "{\"reasoningContent\":{\"text\":", p.text, "}}");
        if (sign) {
            p_.assign("{\"contentBlockIndex\":"sv);
            append_number(p_, static_cast<std::uint64_t>(open_));
            p_ += ",\"delta\":{\"reasoningContent\":{\"signature\":"sv;
            append_signature(p_, p, native_);
            p_ += "}}"sv;
            event(out, "contentBlockDelta");
        }
        close(out);
    }

    void begin(std::string& out) {
        if (started_) return;
        started_ = true;
        p_.assign("{\"role\":\"assistant\""sv);
        event(out, "messageStart");
    }

    /// Makes the open block one of `kind` (a new one for each tool call), closing the last.
    void open(block kind, std::size_t tool, std::string_view id, std::string_view name,
              std::string& out, std::string_view signature = {}) {
        if (kind != block::tool && open_kind_ == kind) return;
        close(out);
        open_ = next_index_++;
        open_kind_ = kind;
        if (kind != block::tool) return;  // text and reasoning blocks start with their delta
        tools_.emplace_back(tool, open_);
        p_.assign("{\"contentBlockIndex\":"sv);
        append_number(p_, static_cast<std::uint64_t>(open_));
        p_ += ",\"start\":{\"toolUse\":{\"toolUseId\":"sv;
        // A call's signature rides on its id, as in whole answers.
        if (signature.empty())
            append_json_string(p_, id);
        else
            append_json_string(p_, seal_call_id(id, {}, signature));
        p_ += ",\"name\":"sv;
        append_json_string(p_, name);
        p_ += "}}"sv;
        event(out, "contentBlockStart");
    }

    void close(std::string& out) {
        if (open_kind_ == block::none) return;
        p_.assign("{\"contentBlockIndex\":"sv);
        append_number(p_, static_cast<std::uint64_t>(open_));
        event(out, "contentBlockStop");
        open_kind_ = block::none;
    }

    void delta(std::string& out, std::string_view before, std::string_view text,
               std::string_view after) {
        p_.assign("{\"contentBlockIndex\":"sv);
        append_number(p_, static_cast<std::uint64_t>(open_));
        p_ += ",\"delta\":"sv;
        p_ += before;
        append_json_string(p_, text);
        p_ += after;
        event(out, "contentBlockDelta");
    }

    /// Closes the payload in `p_` with AWS's padding member and frames it as event `type`.
    /// Real payloads carry `"p":"abcd…"` of varying length so that sizes do not reveal the
    /// tokens; clients ignore it. Deterministic here: its length follows the event's number.
    void event(std::string& out, std::string_view type) {
        static constexpr std::string_view letters =
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        p_ += ",\"p\":\""sv;
        p_ += letters.substr(0, 1 + (events_++ * 7 + 3) % (letters.size() - 1));
        p_ += "\"}"sv;
        frame(out, type);
    }

    void frame(std::string& out, std::string_view type) const {
        event_header const headers[] = {
            {":event-type", type},
            {":content-type", "application/json"sv},
            {":message-type", "event"sv},
        };
        encode_message_to(out, headers, p_);
    }

    std::uint64_t processing_ms_;
    std::string_view native_;  // the family of the model's reasoning (a literal)
    std::string p_;  // the payload being written, reused for every event
    std::size_t events_ = 0;
    bool started_ = false;
    bool finished_ = false;
    block open_kind_ = block::none;
    int open_ = -1;
    int next_index_ = 0;
    std::vector<std::pair<std::size_t, int>> tools_;  // tool-call index -> block index
    std::optional<finish_reason> finish_reason_;
};

// ---------------------------------------------------------------------------------------------

constexpr endpoint endpoints_table[] = {
    {"POST", "/model/{model}/converse-stream", operation::chat, true},
    {"POST", "/model/{model}/converse", operation::chat},
    {"POST", "/model/{model}/count-tokens", operation::count_tokens},
    // InvokeModel, served for the embedding models (Titan Text Embeddings, Cohere Embed).
    {"POST", "/model/{model}/invoke", operation::embed},
};

class bedrock_converse_server_impl final : public wire_server {
public:
    std::string_view name() const noexcept override { return "bedrock"; }

    std::span<endpoint const> endpoints() const noexcept override { return endpoints_table; }

    credential presented_credential(request_head const& head) const override {
        std::string_view const auth = trim(head.header("authorization"));
        if (auth.size() >= 6 && iequals(auth.substr(0, 6), "Bearer") &&
            (auth.size() == 6 || auth[6] == ' ')) {
            // A Bedrock API key (PROVIDERS.md 6): a token the server knows, not any key.
            auto const key = trim(auth.substr(6));
            if (!key.empty()) return {credential::kind::access_token, key};
            return {};
        }
        // Anything else is a signature for the server to verify (which names what is wrong
        // with a malformed one).
        if (!auth.empty()) return {credential::kind::aws_sigv4, "bedrock"};
        return {};
    }

    std::string_view key_hint() const noexcept override { return "Authorization: Bearer <key>"; }

    decode_result decode_request(request_head const& head, std::string_view body) const override {
        return decode(head, body);
    }

    void encode_response(chat_response const& r, answer_meta const& m,
                         std::string& out) const override {
        append_response(r, m, out);
    }

    std::string_view stream_content_type() const noexcept override {
        return "application/vnd.amazon.eventstream";
    }

    std::unique_ptr<stream_encoder> make_stream_encoder(answer_meta const& m,
                                                        bool include_usage) const override {
        (void)include_usage;  // the metadata event always carries the usage
        return std::make_unique<bedrock_stream_encoder>(m);
    }

    http_answer encode_error(api_error const& e) const override {
        http_answer a;
        a.status = e.status;
        a.content_type = "application/json";
        std::string type(e.type.empty() ? type_for_status(e.status) : std::string_view(e.type));
        type += error_type_suffix;
        a.headers.emplace_back(std::string(bedrock::error_type_header), std::move(type));
        if (e.retry_after) {
            auto const ms = e.retry_after->count();
            // retry-after is whole seconds: rounded up, so a client never retries early.
            a.headers.emplace_back("retry-after", std::to_string((ms + 999) / 1000));
            a.headers.emplace_back("retry-after-ms", std::to_string(ms));
        }
        a.body = "{\"message\":";
        append_json_string(a.body, e.message);
        a.body += '}';
        return a;
    }

    void response_headers(answer_meta const& m, header_sink& out) const override {
        if (!m.request_id.empty()) out.header(bedrock::request_id_header, m.request_id);
        if (m.input_tokens) {  // as InvokeModel reports them
            char buf[24];
            auto const end = std::to_chars(buf, buf + sizeof buf, *m.input_tokens).ptr;
            out.header(bedrock::input_tokens_header, std::string_view(buf, end - buf));
        }
    }

    boost::system::result<inbound_embedding, api_error>
    decode_embedding_request(request_head const& head, std::string_view body) const override {
        return bedrock::decode_embedding_request(head, body);
    }

    bool encode_embedding_response(embedding_response const& r, embedding_meta const& m,
                                   embedding_form form, std::string& out) const override {
        return bedrock::encode_embedding_response(r, m, form, out);
    }

    std::string make_id(id_kind kind, std::string_view tag, std::uint64_t n) const override {
        if (kind == id_kind::request) return request_uuid(tag, n);
        std::string out;
        out.reserve(32 + tag.size());  // one allocation: prefix, tag, separator and number
        switch (kind) {
        case id_kind::request:
            break;  // returned above
        case id_kind::tool_call:
            out = "tooluse_";
            out += tag;
            out += '_';
            break;
        case id_kind::response:
            // Converse answers have no id of their own; the gateway's records use this one.
            out = "converse-";
            out += tag;
            out += '-';
            break;
        }
        append_number(out, n);
        return out;
    }

    void encode_token_count(std::uint64_t tokens, std::string& out) const override {
        out += "{\"inputTokens\":"sv;
        append_number(out, tokens);
        out += '}';
    }

    api_error error_for_status(unsigned status, std::string_view model) const override {
        switch (status) {
        case 400:
            return validation("Malformed input request (emulated error), please reformat your "
                              "input and try again.");
        case 401:
            return aws_error(401, "The security token included in the request is invalid.",
                             "UnrecognizedClientException");
        case 403:
            return aws_error(403, "You don't have access to the model with the specified model ID.",
                             "AccessDeniedException");
        case 404:
            return aws_error(404, "Could not resolve the foundation model from the model "
                                  "identifier " + std::string(model) + ".",
                             "ResourceNotFoundException");
        case 408:
            return aws_error(408, "Model has timed out in processing the request. Try your "
                                  "request again.",
                             "ModelTimeoutException");
        case 424:
            return aws_error(424, "Received error from the model (emulated error).",
                             "ModelErrorException");
        case 429:
            return aws_error(429, "Too many requests, please wait before trying again.",
                             "ThrottlingException");
        case 500:
            return aws_error(500, "The server encountered an internal error while processing "
                                  "the request.",
                             "InternalServerException");
        case 503:
            return aws_error(503, "Bedrock is unable to process your request.",
                             "ServiceUnavailableException");
        default:
            return aws_error(status, "Emulated error (HTTP " + std::to_string(status) + ").",
                             status >= 500 ? "InternalServerException" : "ValidationException");
        }
    }

    api_error auth_error(bool missing, std::string_view why, std::string_view type) const override {
        // AWS answers credential problems with 403 and the exception that names them.
        if (!why.empty())
            return aws_error(403, std::string(why),
                             type.empty() ? "UnrecognizedClientException" : std::string(type));
        if (missing)
            return aws_error(403, "Missing Authentication Token",
                             "MissingAuthenticationTokenException");
        // A Bedrock API key that is not valid: the exception a bad SigV4 key id gets (the
        // exact one for a bad API key is unconfirmed).
        return aws_error(403, "The security token included in the request is invalid.",
                         "UnrecognizedClientException");
    }

    api_error reasoning_refused(reasoning_fault const& f) const override {
        // Bedrock relays Claude's 400 inside its own ValidationException (PROVIDERS-2.md 3.3).
        auto const at = "messages." + std::to_string(f.message) + ".content." +
                        std::to_string(f.part);
        if (f.what == reasoning_fault::kind::missing_thinking)
            return model_error(at, at + ".type: Expected `thinking` or `redacted_thinking`, but "
                                        "found `tool_use`. When `thinking` is enabled, a final "
                                        "`assistant` message must start with a thinking block "
                                        "(preceeding the lastmost set of `tool_use` and "
                                        "`tool_result` blocks). We recommend you include "
                                        "thinking blocks from previous turns. To avoid this "
                                        "requirement, disable `thinking`. Please consult our "
                                        "documentation at https://docs.claude.com/en/docs/"
                                        "build-with-claude/extended-thinking");
        if (f.what == reasoning_fault::kind::invalid_signature)
            return model_error(at, at + ": Invalid `signature` in `thinking` block");
        auto e = wire_server::reasoning_refused(f);
        return validation(std::move(e.message), std::move(e.param));
    }

    api_error unknown_endpoint(std::string_view method, std::string_view target) const override {
        return aws_error(404,
                         "Unknown operation: " + std::string(method) + " " + std::string(target),
                         "UnknownOperationException");
    }
};

}  // namespace

api_error bedrock::validation(std::string message, std::string param) {
    return aws_error(400, std::move(message), "ValidationException", std::move(param));
}

wire_server const& bedrock_converse_server() {
    static bedrock_converse_server_impl const instance;
    return instance;
}

}  // namespace llmux::detail
