// SPDX-License-Identifier: BSL-1.0
// The deterministic answers of the emulator, whatever the wire format.
#include "emulator/plan.hpp"
#include "util/crypto.hpp"
#include "wire/anthropic_messages.hpp"
#include "wire/common.hpp"
#include "wire/openai_chat.hpp"

#include "util/json_text.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cmath>
#include <array>
#include <cctype>

namespace llmux::detail {

namespace {

/// The words of `tokens=N` answers, cycled: familiar filler, so nobody mistakes it for content.
constexpr std::array<std::string_view, 32> filler_words = {
    "Lorem",   "ipsum", "dolor",  "sit",     "amet",    "consectetur",  "adipiscing",
    "elit",    "sed",   "do",     "eiusmod", "tempor",  "incididunt",   "ut",
    "labore",  "et",    "dolore", "magna",   "aliqua",  "ut",           "enim",
    "ad",      "minim", "veniam", "quis",    "nostrud", "exercitation", "ullamco",
    "laboris", "nisi",  "ut",     "aliquip",
};

/// How many words of the user's message the default answer echoes.
constexpr std::size_t echo_words = 12;
/// How much of a tool result the answer after a tool call quotes.
constexpr std::size_t quote_bytes = 200;
constexpr int max_schema_depth = 16;

bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// The first `n` words of `text`, separated by single spaces.
std::string first_words(std::string_view text, std::size_t n) {
    std::string out;
    std::size_t i = 0;
    for (std::size_t w = 0; w < n; ++w) {
        while (i < text.size() && is_space(text[i]))
            ++i;
        if (i == text.size()) break;
        std::size_t const start = i;
        while (i < text.size() && !is_space(text[i]))
            ++i;
        if (!out.empty()) out.push_back(' ');
        out.append(text.substr(start, i - start));
    }
    return out;
}

/// `text` cut to at most `max` bytes on a UTF-8 character boundary.
std::string_view utf8_prefix(std::string_view text, std::size_t max) noexcept {
    if (text.size() <= max) return text;
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
        --n;
    return text.substr(0, n);
}

void append_json_value(std::string& out, boost::json::value const& v) {
    out += boost::json::serialize(v);
}

/// The first type of a schema's `type` (a string or an array such as ["string","null"]).
std::string_view schema_type(boost::json::object const& s) {
    auto const* t = s.if_contains("type");
    if (!t) {
        if (s.contains("properties")) return "object";
        if (s.contains("items")) return "array";
        return {};
    }
    if (auto const* str = t->if_string()) return *str;
    if (auto const* arr = t->if_array()) {
        for (auto const& e : *arr)
            if (auto const* es = e.if_string(); es && *es != "null") return *es;
    }
    return {};
}

}  // namespace

void split_tokens(std::string_view text, std::vector<std::uint32_t>& ends) {
    ends.clear();
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_space(text[i]))
            ++i;
        while (i < text.size() && !is_space(text[i]))
            ++i;
        ends.push_back(static_cast<std::uint32_t>(i));
    }
}

void append_schema_example(std::string& out, boost::json::object const* schema, int depth) {
    if (!schema) {
        out += "{}";
        return;
    }
    auto const& s = *schema;
    if (auto const* c = s.if_contains("const")) {
        append_json_value(out, *c);
        return;
    }
    if (auto const* e = s.if_contains("enum"); e && e->is_array() && !e->get_array().empty()) {
        append_json_value(out, e->get_array().front());
        return;
    }
    for (auto const* key : {"anyOf", "oneOf", "allOf"}) {
        if (auto const* alts = s.if_contains(key); alts && alts->is_array()) {
            for (auto const& alt : alts->get_array()) {
                auto const* o = alt.if_object();
                if (!o) continue;
                if (auto const* t = o->if_contains("type");
                    t && t->is_string() && t->get_string() == "null")
                    continue;
                append_schema_example(out, o, depth + 1);
                return;
            }
        }
    }
    // Lower-cased: Gemini's OpenAPI-style schemas (`parameters`, `responseSchema`) spell the
    // types in capitals (STRING, OBJECT).
    std::string type(schema_type(s));
    std::transform(type.begin(), type.end(), type.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (type == "string") {
        out += "\"example\"";
    } else if (type == "number" || type == "integer") {
        out += '1';
    } else if (type == "boolean") {
        out += "true";
    } else if (type == "array") {
        out += "[]";
    } else if (type == "null") {
        out += "null";
    } else if (type == "object") {
        out += '{';
        auto const* props = s.if_contains("properties");
        auto const* required = s.if_contains("required");
        bool first = true;
        if (depth < max_schema_depth && required && required->is_array()) {
            for (auto const& r : required->get_array()) {
                auto const* name = r.if_string();
                if (!name) continue;
                boost::json::object const* prop = nullptr;
                if (props && props->is_object())
                    if (auto const* p = props->get_object().if_contains(*name))
                        prop = p->if_object();
                if (!first) out += ", ";
                first = false;
                append_json_string(out, *name);
                out += ": ";
                if (prop)
                    append_schema_example(out, prop, depth + 1);
                else
                    out += "\"example\"";
            }
        }
        out += '}';
    } else {
        out += "\"example\"";
    }
}

namespace {
/// The prompt up to its last cache breakpoint, in the providers' prefix order (tools, system,
/// messages): an FNV-1a hash of its content and its size in characters.
struct prefix_scan {
    std::uint64_t hash = 1469598103934665603ull;
    std::size_t chars = 0;
    std::uint64_t marked_hash = 0;
    std::size_t marked_chars = 0;
    bool marked = false;

    void add(std::string_view s) {
        for (unsigned char c : s) {
            hash ^= c;
            hash *= 1099511628211ull;
        }
        hash ^= 0xff;  // a separator, so that "ab"+"c" differs from "a"+"bc"
        hash *= 1099511628211ull;
        chars += s.size();
    }
    void mark(std::optional<cache_control> const& c) {
        if (!c) return;
        marked = true;
        marked_hash = hash;
        marked_chars = chars;
    }
};


/// True when the request has a cache breakpoint anywhere (most have none: then the prefix is
/// not hashed at all).
bool has_breakpoint(chat_request const& req) noexcept {
    if (req.system_cache) return true;
    for (auto const& t : req.tools)
        if (t.cache) return true;
    for (auto const& m : req.messages)
        for (auto const& p : m.content) {
            bool const marked = std::visit(
                [](auto const& x) {
                    if constexpr (requires { x.cache; })
                        return x.cache.has_value();
                    else
                        return false;
                },
                p);
            if (marked) return true;
        }
    return false;
}
}  // namespace

emu_request plan_input(chat_request const& req, bool stream, bool include_usage) {
    emu_request r;
    if (has_breakpoint(req)) {
        prefix_scan scan;
        for (auto const& t : req.tools) {
            scan.add(t.name);
            scan.add(t.description);
            scan.mark(t.cache);
        }
        scan.add(req.system);
        scan.mark(req.system_cache);
        for (auto const& m : req.messages) {
            scan.add(to_string(m.role));
            for (auto const& p : m.content) {
                if (auto const* t = std::get_if<text_part>(&p)) {
                    scan.add(t->text);
                    scan.mark(t->cache);
                } else if (auto const* i = std::get_if<image_part>(&p)) {
                    scan.add(i->url);
                    scan.mark(i->cache);
                } else if (auto const* d = std::get_if<document_part>(&p)) {
                    scan.add(d->url);
                    scan.mark(d->cache);
                } else if (auto const* c = std::get_if<tool_call>(&p)) {
                    scan.add(c->name);
                    scan.add(c->arguments);
                } else if (auto const* res = std::get_if<tool_result>(&p)) {
                    scan.add(res->content);
                    scan.mark(res->cache);
                }
            }
        }
        if (scan.marked) {
            r.cache_prefix_key = std::string(base_model(req.model)) + '#' +
                                 std::to_string(scan.marked_hash);
            r.cache_prefix_tokens = std::max<std::uint64_t>(1, (scan.marked_chars + 3) / 4);
        }
    }
    r.model = req.model;
    r.stream = stream;
    r.include_usage = include_usage;
    if (req.max_tokens && *req.max_tokens > 0) r.max_tokens = static_cast<std::uint64_t>(*req.max_tokens);
    r.prompt_chars = req.system.size();
    for (std::size_t i = 0; i < req.messages.size(); ++i) {
        auto const& m = req.messages[i];
        bool const last = i + 1 == req.messages.size();
        bool results = false;
        std::size_t text_bytes = 0;
        for (auto const& p : m.content) {
            if (auto const* t = std::get_if<text_part>(&p)) {
                text_bytes += t->text.size();
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                r.prompt_chars += c->arguments.size();
            } else if (auto const* res = std::get_if<tool_result>(&p)) {
                r.prompt_chars += res->content.size();
                results = true;
            }
        }
        r.prompt_chars += text_bytes;
        if (last && results) {
            // The answer after a tool call quotes what the tools said (and any text beside).
            r.last_is_tool_result = true;
            for (auto const& p : m.content) {
                if (auto const* t = std::get_if<text_part>(&p))
                    r.tool_result += t->text;
                else if (auto const* res = std::get_if<tool_result>(&p))
                    r.tool_result += res->content;
            }
        }
        // The echo quotes the user's words, not tool output.
        if (m.role == role::user && (text_bytes > 0 || !results)) {
            r.last_user_text.clear();
            r.last_user_text.reserve(text_bytes);
            for (auto const& p : m.content)
                if (auto const* t = std::get_if<text_part>(&p)) r.last_user_text += t->text;
        }
    }
    for (auto const& t : req.tools)
        r.tools.push_back({t.name, t.parameters.empty() ? nullptr : &t.parameters});
    if (req.tool_choice) {
        switch (req.tool_choice->how) {
        case tool_choice::mode::automatic:
            break;
        case tool_choice::mode::none:
            r.tool_choice = emu_request::tool_mode::none;
            break;
        case tool_choice::mode::required:
            r.tool_choice = emu_request::tool_mode::required;
            break;
        case tool_choice::mode::named:
            r.tool_choice = emu_request::tool_mode::named;
            r.tool_choice_name = req.tool_choice->name;
            break;
        }
    }
    r.family = reasoning_family(base_model(req.model));
    if (r.family == "google") {
        // Gemini 3 always thinks; 2.5 when asked to.
        r.thinking = base_model(req.model).find("gemini-3") != std::string_view::npos ||
                     reasoning_on(req.reasoning);
        r.show_reasoning = req.reasoning && req.reasoning->include_text.value_or(false);
    } else if (!r.family.empty()) {
        r.thinking = reasoning_on(req.reasoning) ||
                     (r.family == "deepseek" && !reasoning_off(req.reasoning));
        r.show_reasoning = !req.reasoning || req.reasoning->include_text.value_or(true);
    }
    if (req.response_format) {
        auto const& f = *req.response_format;
        if (f.type == response_format::kind::json_object) {
            r.response_format = emu_request::format::json_object;
        } else if (f.type == response_format::kind::json_schema) {
            r.response_format = emu_request::format::json_schema;
            if (!f.schema.empty()) r.schema = &f.schema;
        }
    }
    return r;
}

std::uint64_t prompt_tokens(emu_request const& req) noexcept {
    return std::max<std::uint64_t>(1, (req.prompt_chars + 3) / 4);
}

emu_answer plan_answer(emu_request const& req, emulator_behaviour const& b, std::uint64_t number,
                       std::int64_t created) {
    emu_answer a;
    a.number = number;
    a.model = std::string(base_model(req.model));
    a.created = created;
    a.stream = req.stream;
    a.include_usage = req.include_usage;

    bool const wants_tool = !req.tools.empty() && req.tool_choice != emu_request::tool_mode::none &&
                            !req.last_is_tool_result;
    if (wants_tool) {
        emu_tool const* tool = &req.tools.front();
        if (req.tool_choice == emu_request::tool_mode::named) {
            auto it = std::find_if(req.tools.begin(), req.tools.end(), [&](emu_tool const& t) {
                return t.name == req.tool_choice_name;
            });
            if (it != req.tools.end()) tool = &*it;
        }
        a.tool_call = true;
        a.tool_name = std::string(tool->name);
        append_schema_example(a.text, tool->parameters);
        a.finish = emu_finish::tool_calls;
    } else {
        std::string text;
        if (req.last_is_tool_result) {
            text = "Emulated answer from " + a.model + " using the tool result: " +
                   std::string(utf8_prefix(req.tool_result, quote_bytes));
        } else if (!b.reply.empty()) {
            text = b.reply;
        } else if (b.output_tokens > 0) {
            text.reserve(b.output_tokens * 7);
            for (std::size_t i = 0; i < b.output_tokens; ++i) {
                if (i) text += ' ';
                text += filler_words[i % filler_words.size()];
            }
        } else {
            auto const echo = first_words(req.last_user_text, echo_words);
            text = "Emulated answer from " + a.model;
            text += echo.empty() ? std::string(".") : " to: " + echo;
        }
        if (req.response_format == emu_request::format::json_schema && b.reply.empty()) {
            append_schema_example(a.text, req.schema);
        } else if (req.response_format != emu_request::format::text && b.reply.empty()) {
            a.text = "{\"answer\": ";
            append_json_string(a.text, text);
            a.text += '}';
        } else {
            a.text = std::move(text);
        }
    }

    split_tokens(a.text, a.piece_ends);
    if (req.max_tokens && a.piece_ends.size() > *req.max_tokens) {
        a.piece_ends.resize(static_cast<std::size_t>(*req.max_tokens));
        a.finish = emu_finish::length;
    }
    a.completion_tokens = a.piece_ends.size();
    a.prompt_tokens = prompt_tokens(req);
    if (req.thinking) {
        a.family = req.family;
        a.show_reasoning = req.show_reasoning;
        auto const echo = first_words(req.last_is_tool_result ? req.tool_result
                                                              : req.last_user_text,
                                      echo_words);
        a.reasoning = a.tool_call ? "The user needs " + a.tool_name + "; calling it first."
                                  : "Thinking about: " + (echo.empty() ? std::string("the request") : echo);
        a.reasoning_signature = emu_signature(req.family, a.reasoning);
        std::vector<std::uint32_t> ends;
        split_tokens(a.reasoning, ends);
        a.reasoning_tokens = ends.size();
        a.completion_tokens += a.reasoning_tokens;
        if (a.tool_call && req.family == "google")
            a.call_signature = emu_signature("google", a.tool_name);
    }
    return a;
}

std::string_view reasoning_family(std::string_view model) noexcept {
    auto const slash = model.rfind('/');
    if (slash != std::string_view::npos) model.remove_prefix(slash + 1);
    if (model.find("claude-") != std::string_view::npos)
        return anthropic::claude_thinking(model) == anthropic::thinking_support::none
                   ? std::string_view()
                   : std::string_view("anthropic");
    if (model.starts_with("gemini-3") || model.starts_with("gemini-2.5")) return "google";
    if (openai::reasoning_model(model)) return "openai";
    if (model.starts_with("deepseek-reasoner")) return "deepseek";
    return {};
}

std::string emu_signature(std::string_view family, std::string_view text) {
    std::string in = "llmux-emulator/";
    in += family;
    in += '\n';
    in += text;
    // What real signatures look like: opaque base64 (Anthropic's start `Eq`, Gemini's `Cp`).
    auto const d = sha256(in);
    return "Emu" + base64_encode(std::string_view(reinterpret_cast<char const*>(d.data()), d.size()));
}

std::optional<reasoning_fault> check_reasoning(chat_request const& req, std::string_view model) {
    model = base_model(model);
    auto const family = reasoning_family(model);
    if (family.empty()) return std::nullopt;
    using kind = reasoning_fault::kind;
    if (family == "anthropic") {
        // Every thinking block sent back must be the one the model wrote.
        for (std::size_t i = 0; i < req.messages.size(); ++i) {
            auto const& m = req.messages[i];
            for (std::size_t j = 0; j < m.content.size(); ++j) {
                auto const* r = std::get_if<reasoning_part>(&m.content[j]);
                if (!r || r->origin != "anthropic" || r->type != reasoning_part::kind::text)
                    continue;
                if (r->signature != emu_signature("anthropic", r->text))
                    return reasoning_fault{kind::invalid_signature, i, j, {}};
            }
        }
        if (!reasoning_on(req.reasoning)) return std::nullopt;
        // A tool loop under way: the last assistant turn, whose tool calls the last message
        // answers, must begin with its thinking.
        if (req.messages.size() < 2) return std::nullopt;
        auto const& last = req.messages.back();
        bool const answers_tools =
            std::any_of(last.content.begin(), last.content.end(), [](content_part const& p) {
                return std::holds_alternative<tool_result>(p);
            });
        if (!answers_tools) return std::nullopt;
        for (std::size_t i = req.messages.size() - 1; i-- > 0;) {
            auto const& m = req.messages[i];
            if (m.role != role::assistant) continue;
            for (std::size_t j = 0; j < m.content.size(); ++j) {
                auto const& p = m.content[j];
                if (auto const* r = std::get_if<reasoning_part>(&p);
                    r && r->origin == "anthropic")
                    return std::nullopt;
                if (auto const* t = std::get_if<text_part>(&p); t && t->text.empty()) continue;
                return reasoning_fault{kind::missing_thinking, i, j, {}};
            }
            return std::nullopt;
        }
        return std::nullopt;
    }
    if (family == "google" && model.starts_with("gemini-3")) {
        // The current turn: after the last user message with content of its own (not only
        // function responses).
        std::size_t start = 0;
        for (std::size_t i = req.messages.size(); i-- > 0;) {
            auto const& m = req.messages[i];
            if (m.role != role::user) continue;
            bool const own = std::any_of(m.content.begin(), m.content.end(), [](content_part const& p) {
                return !std::holds_alternative<tool_result>(p);
            });
            if (own) {
                start = i + 1;
                break;
            }
        }
        for (std::size_t i = start; i < req.messages.size(); ++i) {
            auto const& m = req.messages[i];
            if (m.role != role::assistant) continue;
            for (std::size_t j = 0; j < m.content.size(); ++j) {
                auto const* c = std::get_if<tool_call>(&m.content[j]);
                if (!c) continue;
                // Only a step's first call carries the signature.
                if (c->signature.empty())
                    return reasoning_fault{kind::missing_call_signature, i, j, c->name};
                if (c->signature != "skip_thought_signature_validator" &&
                    c->signature != emu_signature("google", c->name))
                    return reasoning_fault{kind::invalid_call_signature, i, j, c->name};
                break;
            }
        }
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Embeddings

std::uint32_t default_embedding_dimensions(std::string_view model) noexcept {
    if (model.starts_with("text-embedding-3-large")) return 3072;
    if (model.starts_with("text-embedding-3-small") || model.starts_with("text-embedding-ada-002"))
        return 1536;
    if (model.starts_with("gemini-embedding")) return 3072;
    // Bedrock's ids carry a region prefix (`us.`) and a version (`:0`).
    auto const has = [&](std::string_view s) { return model.find(s) != std::string_view::npos; };
    if (has("amazon.titan-embed-text-v2") || has("cohere.embed-english-v3") ||
        has("cohere.embed-multilingual-v3"))
        return 1024;
    if (has("amazon.titan-embed-text-v1") || has("amazon.titan-embed-g1-text") ||
        has("cohere.embed-v4"))
        return 1536;
    return 768;
}

namespace {
/// FNV-1a, 64 bits: a stable hash (std::hash may differ between builds).
std::uint64_t fnv1a(std::uint64_t h, std::string_view s) noexcept {
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}
/// splitmix64: a small, well-mixed generator.
std::uint64_t splitmix(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
}  // namespace

embedding_response plan_embeddings(std::string_view model, std::span<std::string const> inputs,
                                   std::uint32_t dims) {
    embedding_response r;
    r.model = std::string(model);
    r.vectors.reserve(inputs.size());
    std::uint64_t tokens = 0;
    std::uint64_t const model_hash = fnv1a(fnv1a(0xcbf29ce484222325ull, model), std::string_view("\0", 1));
    for (auto const& input : inputs) {
        auto& v = r.vectors.emplace_back(dims);
        std::uint64_t state = fnv1a(model_hash, input);
        double sum = 0;
        for (auto& x : v) {
            // A uniform value in [-1, 1) from the top 24 bits: exact in a float.
            auto const u = static_cast<std::int32_t>(splitmix(state) >> 40) - (1 << 23);
            x = static_cast<float>(u) / static_cast<float>(1 << 23);
            sum += static_cast<double>(x) * static_cast<double>(x);
        }
        if (sum > 0) {
            double const scale = 1.0 / std::sqrt(sum);
            for (auto& x : v) x = static_cast<float>(static_cast<double>(x) * scale);
        }
        tokens += std::max<std::uint64_t>(1, (input.size() + 3) / 4);
    }
    r.usage.input_tokens = tokens;
    r.usage.output_tokens = 0;
    r.usage.total_tokens = tokens;
    return r;
}

}  // namespace llmux::detail
