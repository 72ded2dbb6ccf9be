// SPDX-License-Identifier: BSL-1.0
#include "gateway/response_cache.hpp"
#include "util/json_read.hpp"

#include "util/crypto.hpp"
#include "util/text.hpp"
#include "http/message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>

namespace llmux::detail {

namespace json = boost::json;

#if defined(__GLIBCXX__) && defined(__x86_64__)
// The key must see every field of a request, or two different requests would share an answer.
// When this fires, a field was added to chat_request or one of its parts: add it to
// canonical_request below (and to the test of every field in tests/unit/response_cache.cpp),
// then update the size here.
static_assert(sizeof(chat_request) == 520,
              "chat_request changed: add the new field to the response cache key");
static_assert(sizeof(message) == 32, "message changed: add the new field to the cache key");
static_assert(sizeof(tool) == 136, "tool changed: add the new field to the cache key");
static_assert(sizeof(text_part) == 72 && sizeof(image_part) == 104 && sizeof(tool_call) == 128 &&
                  sizeof(tool_result) == 144 && sizeof(document_part) == 104 &&
                  sizeof(reasoning_part) == 168 && sizeof(response_format) == 72 &&
                  sizeof(reasoning_options) == 32 && sizeof(cache_control) == 32,
              "a content part or the response format changed: add the new field to the cache key");
#endif

namespace {

json::object reasoning_value(reasoning_part const& g) {
    return {{"type", static_cast<int>(g.type)}, {"text", g.text}, {"signature", g.signature},
            {"data", g.data}, {"id", g.id}, {"origin", g.origin}};
}

json::value cache_value(std::optional<cache_control> const& c) {
    return c ? json::value(c->ttl) : json::value(nullptr);
}

json::value part_value(content_part const& p) {
    json::object o;
    if (auto const* t = std::get_if<text_part>(&p)) {
        o["t"] = "text";
        o["text"] = t->text;
        o["cache"] = cache_value(t->cache);
    } else if (auto const* i = std::get_if<image_part>(&p)) {
        o["t"] = "image";
        o["url"] = i->url;
        o["detail"] = i->detail;
        o["cache"] = cache_value(i->cache);
    } else if (auto const* c = std::get_if<tool_call>(&p)) {
        o["t"] = "call";
        o["id"] = c->id;
        o["name"] = c->name;
        o["arguments"] = c->arguments;
        o["signature"] = c->signature;
    } else if (auto const* r = std::get_if<tool_result>(&p)) {
        o["t"] = "result";
        o["id"] = r->tool_call_id;
        o["name"] = r->name;
        o["content"] = r->content;
        o["is_error"] = r->is_error;
        o["cache"] = cache_value(r->cache);
    } else if (auto const* d = std::get_if<document_part>(&p)) {
        o["t"] = "document";
        o["url"] = d->url;
        o["name"] = d->name;
        o["cache"] = cache_value(d->cache);
    } else if (auto const* g = std::get_if<reasoning_part>(&p)) {
        o = reasoning_value(*g);
        o["t"] = "reasoning";
    }
    return o;
}

template <class T>
json::value opt(std::optional<T> const& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

json::value count(token_count const& c) {
    return c ? json::value(*c) : json::value(nullptr);
}

token_count read_count(json::object const& o, std::string_view name) {
    if (auto const* v = o.if_contains(name); v && v->is_uint64()) return v->get_uint64();
    if (auto const* v = o.if_contains(name); v && v->is_int64() && v->get_int64() >= 0)
        return static_cast<std::uint64_t>(v->get_int64());
    return {};
}

std::string read_string(json::object const& o, std::string_view name) {
    if (auto const* v = o.if_contains(name); v && v->is_string())
        return std::string(v->get_string());
    return {};
}

}  // namespace

cache_directives parse_cache_control(std::string_view value) noexcept {
    cache_directives d;
    while (!value.empty()) {
        auto const comma = value.find(',');
        auto item = trim(value.substr(0, comma));
        item = trim(item.substr(0, item.find('=')));
        if (iequals(item, "no-cache")) d.no_cache = true;
        if (iequals(item, "no-store")) d.no_store = true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return d;
}

bool cacheable(chat_request const& r, response_cache_policy const& p) noexcept {
    return p.any_temperature || !r.temperature || *r.temperature <= 0;
}

bool storable(chat_response const& r) noexcept {
    switch (r.finish_reason) {
    case finish_reason::stop:
    case finish_reason::length:
    case finish_reason::tool_calls:
        return r.continuations.empty();
    default:
        return false;
    }
}

std::string canonical_request(std::string_view key_name, std::string_view group,
                              chat_request const& r) {
    // Field order is fixed by construction (json::object keeps insertion order); a change of
    // layout changes the version prefix of the key so old entries are never misread.
    json::object o;
    o["key"] = key_name;
    o["group"] = group;
    o["system"] = r.system;
    json::array msgs;
    msgs.reserve(r.messages.size());
    for (auto const& m : r.messages) {
        json::object mo;
        mo["role"] = to_string(m.role);
        json::array parts;
        parts.reserve(m.content.size());
        for (auto const& p : m.content) parts.push_back(part_value(p));
        mo["content"] = std::move(parts);
        msgs.push_back(std::move(mo));
    }
    o["messages"] = std::move(msgs);
    o["temperature"] = opt(r.temperature);
    o["top_p"] = opt(r.top_p);
    o["max_tokens"] = opt(r.max_tokens);
    json::array stop;
    for (auto const& s : r.stop) stop.emplace_back(s);
    o["stop"] = std::move(stop);
    o["seed"] = opt(r.seed);
    json::array tools;
    for (auto const& t : r.tools) {
        json::object to;
        to["name"] = t.name;
        to["description"] = t.description;
        to["parameters"] = t.parameters;
        to["strict"] = t.strict;
        to["cache"] = cache_value(t.cache);
        tools.push_back(std::move(to));
    }
    o["tools"] = std::move(tools);
    if (r.tool_choice) {
        json::object tc;
        tc["how"] = static_cast<int>(r.tool_choice->how);
        tc["name"] = r.tool_choice->name;
        o["tool_choice"] = std::move(tc);
    } else {
        o["tool_choice"] = nullptr;
    }
    if (r.response_format) {
        json::object rf;
        rf["type"] = static_cast<int>(r.response_format->type);
        rf["name"] = r.response_format->name;
        rf["schema"] = r.response_format->schema;
        rf["strict"] = r.response_format->strict;
        o["response_format"] = std::move(rf);
    } else {
        o["response_format"] = nullptr;
    }
    o["user"] = r.user;
    if (r.reasoning) {
        json::object ro;
        ro["effort"] = r.reasoning->effort ? json::value(to_string(*r.reasoning->effort))
                                           : json::value(nullptr);
        ro["budget"] = opt(r.reasoning->budget_tokens);
        ro["include_text"] = opt(r.reasoning->include_text);
        o["reasoning"] = std::move(ro);
    } else {
        o["reasoning"] = nullptr;
    }
    o["system_cache"] = cache_value(r.system_cache);
    o["prompt_cache_key"] = r.prompt_cache_key;
    o["extra"] = r.extra;
    return json::serialize(o);
}

std::string response_cache_key(std::string_view key_name, std::string_view group,
                               chat_request const& r) {
    return "rc2:" + sha256_hex(canonical_request(key_name, group, r));
}

std::string encode_cached_response(chat_response const& r) {
    json::object o;
    o["v"] = 1;
    o["id"] = r.id;
    o["model"] = r.model;
    o["requested_model"] = r.requested_model;
    o["provider"] = r.provider;
    o["content"] = r.content;
    o["reasoning"] = r.reasoning;
    json::array parts;
    for (auto const& g : r.reasoning_parts) parts.push_back(reasoning_value(g));
    o["reasoning_parts"] = std::move(parts);
    json::array calls;
    for (auto const& c : r.tool_calls)
        calls.push_back(json::object{{"id", c.id},
                                     {"name", c.name},
                                     {"arguments", c.arguments},
                                     {"signature", c.signature}});
    o["tool_calls"] = std::move(calls);
    o["finish_reason"] = to_string(r.finish_reason);
    o["native_finish_reason"] = r.native_finish_reason;
    json::object u;
    u["input"] = count(r.usage.input_tokens);
    u["output"] = count(r.usage.output_tokens);
    u["total"] = count(r.usage.total_tokens);
    u["cached"] = count(r.usage.cached_input_tokens);
    u["cache_write"] = count(r.usage.cache_write_tokens);
    u["reasoning"] = count(r.usage.reasoning_tokens);
    u["reported_cost"] = opt(r.usage.reported_cost);
    o["usage"] = std::move(u);
    o["cost_usd"] = opt(r.cost_usd);
    return json::serialize(o);
}

result<chat_response> decode_cached_response(std::string_view text) {
    auto bad = [](std::string what) {
        return failure(error::protocol_error, "response cache entry: " + std::move(what));
    };
    boost::system::error_code ec;
    auto const v = detail::parse_json(text, ec);
    if (ec) return bad("not JSON (" + ec.message() + ")");
    auto const* o = v.if_object();
    if (!o) return bad("not a JSON object");
    auto const* ver = o->if_contains("v");
    if (!ver || !ver->is_int64() || ver->get_int64() != 1) return bad("not of version 1");
    chat_response r;
    r.id = read_string(*o, "id");
    r.model = read_string(*o, "model");
    r.requested_model = read_string(*o, "requested_model");
    r.provider = read_string(*o, "provider");
    r.content = read_string(*o, "content");
    r.reasoning = read_string(*o, "reasoning");
    if (auto const* parts = o->if_contains("reasoning_parts"); parts && parts->is_array()) {
        for (auto const& g : parts->get_array()) {
            auto const* go = g.if_object();
            auto const* type = go ? go->if_contains("type") : nullptr;
            if (!type || !type->is_int64() || type->get_int64() < 0 || type->get_int64() > 2)
                return bad("a reasoning part is not an object with a type");
            r.reasoning_parts.push_back({static_cast<reasoning_part::kind>(type->get_int64()),
                                         read_string(*go, "text"), read_string(*go, "signature"),
                                         read_string(*go, "data"), read_string(*go, "id"),
                                         read_string(*go, "origin")});
        }
    }
    if (auto const* calls = o->if_contains("tool_calls"); calls && calls->is_array()) {
        for (auto const& c : calls->get_array()) {
            auto const* co = c.if_object();
            if (!co) return bad("a tool call is not an object");
            r.tool_calls.push_back({read_string(*co, "id"), read_string(*co, "name"),
                                    read_string(*co, "arguments"), read_string(*co, "signature")});
        }
    }
    auto const fr = read_string(*o, "finish_reason");
    for (auto f : {finish_reason::stop, finish_reason::length, finish_reason::tool_calls,
                   finish_reason::content_filter, finish_reason::error})
        if (to_string(f) == fr) r.finish_reason = f;
    if (r.finish_reason == finish_reason::unknown) return bad("no finish reason");
    r.native_finish_reason = read_string(*o, "native_finish_reason");
    if (auto const* u = o->if_contains("usage"); u && u->is_object()) {
        auto const& uo = u->get_object();
        r.usage.input_tokens = read_count(uo, "input");
        r.usage.output_tokens = read_count(uo, "output");
        r.usage.total_tokens = read_count(uo, "total");
        r.usage.cached_input_tokens = read_count(uo, "cached");
        r.usage.cache_write_tokens = read_count(uo, "cache_write");
        r.usage.reasoning_tokens = read_count(uo, "reasoning");
        if (auto const* c = uo.if_contains("reported_cost"); c && c->is_number())
            r.usage.reported_cost = c->to_number<double>();
    }
    if (auto const* c = o->if_contains("cost_usd"); c && c->is_number())
        r.cost_usd = c->to_number<double>();
    return r;
}

std::vector<chat_chunk> replay_chunks(chat_response const& r) {
    std::vector<chat_chunk> out;
    if (!r.reasoning.empty() || !r.reasoning_parts.empty()) {
        chat_chunk c;
        c.reasoning = r.reasoning;
        c.reasoning_parts = r.reasoning_parts;
        out.push_back(std::move(c));
    }
    if (!r.content.empty()) {
        chat_chunk c;
        c.text = r.content;
        out.push_back(std::move(c));
    }
    if (!r.tool_calls.empty()) {
        chat_chunk c;
        for (std::size_t i = 0; i < r.tool_calls.size(); ++i)
            c.tool_calls.push_back({i, r.tool_calls[i].id, r.tool_calls[i].name,
                                    r.tool_calls[i].arguments, r.tool_calls[i].signature});
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace llmux::detail
