// SPDX-License-Identifier: BSL-1.0
// Anthropic Messages (PROVIDERS.md sections 3, 5.3 and 7), spoken by Anthropic's API and by
// Claude on Vertex AI (`:rawPredict` / `:streamRawPredict`, selected by the provider option
// `"vertex": true`). Sans-io: every function here works from bytes alone.
//
// Mappings where the unified request says more or less than the Messages API:
// - `max_tokens` is required by Anthropic. Without one in the request, the provider option
//   `default_max_tokens` is sent, else 4096 (every current Claude model allows at least that).
// - `seed` does not exist in the Messages API: a request with one fails with
//   `error::unsupported` naming the field, rather than losing the caller's intent.
// - System-role messages are hoisted, wherever they are, into the top-level `system` string
//   after `chat_request::system`, joined with blank lines (Anthropic has no system role).
// - Consecutive turns of one role are merged into one turn (the API does the same), and role
//   `tool` messages become user `tool_result` blocks: the results of several calls form one
//   user turn, with the tool results first, as the API requires.
// - Images: `data:` URIs become base64 sources (image/jpeg, png, gif and webp only), `https://`
//   URLs become URL sources (Anthropic fetches them); plain `http://` is `error::unsupported`.
// - JSON output: Anthropic has no JSON mode. `response_format` json_object / json_schema is sent
//   as a tool named `llmux_json_answer` whose `input_schema` is the schema (json_object: any
//   object), forced with `tool_choice` (or `any` when the caller offers tools of its own). The
//   decoders turn that tool's input back into the answer's text (in block order, so the
//   content is the JSON document), and a turn that only called it finishes with `stop`. The
//   schema's root must be an object (a tool input is one), else `error::unsupported`.
// - `tool::strict` is not sent: Anthropic's strict tool use is a beta behind `anthropic-beta`.
// - `image_part::detail` (OpenAI's hint) has no equivalent and is not sent.
// - Reasoning (`chat_request::reasoning`, PROVIDERS-2.md 3.3): effort `none` sends
//   `{"type":"disabled"}`; a budget sends `{"type":"enabled","budget_tokens":N}` (N >= 1024 and
//   below max_tokens; without a max_tokens of the caller's, max_tokens becomes N + 4096); an
//   effort alone sends adaptive thinking with `output_config.effort` on Claude 4.6 and later,
//   else the budget of the effort (`budget_for_effort`, capped below max_tokens). Claude 4.7+
//   takes no budget and Claude 3.5 and older no thinking: `error::unsupported`. While thinking,
//   a temperature other than 1, a top_p below 0.95 and a forced tool (tool_choice required or
//   named, or a JSON answer, which is a forced tool) are refused before sending, as the API
//   would refuse them. `include_text` false sends `display: "omitted"`.
// - Reasoning parts of origin `anthropic` go back as `thinking` / `redacted_thinking` blocks,
//   byte for byte; parts of other origins are left out (their signatures validate only where
//   they were made). Decoding keeps every thinking block with its signature, in order.
// - Cache breakpoints become `cache_control` (`{"type":"ephemeral"}` with the ttl) on their
//   block, tool or the system prompt (then sent as a list of one text block); more than 4 is
//   `error::invalid_request`, as the API allows 4.
// - Documents: a `data:application/pdf;base64,` URI is a base64 source, `data:text/plain` a text
//   source, an https URL a url source; the name is the block's `title`.
#include "util/crypto.hpp"
#include "util/json_read.hpp"
#include "codec/sse.hpp"
#include "util/text.hpp"
#include "wire/anthropic_messages.hpp"
#include "util/json_write.hpp"
#include "wire/common.hpp"
#include "wire/prefill.hpp"
#include "wire/formats.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux::detail {

namespace anthropic {

thinking_support claude_thinking(std::string_view model) noexcept {
    // The first one- or two-digit number after `claude-` is the major version; a second one
    // right after it, the minor (a date has eight digits and is neither).
    auto const at = model.find("claude-");
    if (at == std::string_view::npos) return thinking_support::budget_or_adaptive;
    std::string_view rest = model.substr(at + 7);
    int nums[2] = {-1, -1};
    int found = 0;
    bool last_was_number = false;
    while (!rest.empty() && found < 2) {
        auto const dash = rest.find_first_of("-.:@");
        std::string_view const tok = rest.substr(0, dash);
        bool const number = !tok.empty() && tok.size() <= 2 &&
                            std::all_of(tok.begin(), tok.end(), [](char c) {
                                return c >= '0' && c <= '9';
                            });
        if (number && (found == 0 || last_was_number))
            nums[found++] = std::stoi(std::string(tok));
        else if (found == 1)
            break;
        last_was_number = number;
        if (dash == std::string_view::npos) break;
        rest.remove_prefix(dash + 1);
    }
    if (nums[0] < 0) return thinking_support::budget_or_adaptive;
    int const major = nums[0], minor = nums[1] < 0 ? 0 : nums[1];
    if (major < 3 || (major == 3 && minor < 7)) return thinking_support::none;
    if (major < 4 || (major == 4 && minor < 6)) return thinking_support::budget;
    if (major == 4 && minor == 6) return thinking_support::budget_or_adaptive;
    return thinking_support::adaptive;
}

}  // namespace anthropic

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;

using anthropic::default_version;
using anthropic::error_from_type;
using anthropic::json_answer_tool;
using anthropic::vertex_version;
constexpr std::int64_t default_max_tokens = 4096;

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string_view as_view(json::string const& s) noexcept {
    return {s.data(), s.size()};
}

std::string_view request_id_of(response_head const& head) {
    if (auto id = head.header("request-id"); !id.empty()) return id;
    return head.header("x-request-id");  // proxies in front of the API
}

bool is_vertex(provider_config const& p) noexcept {
    auto const* v = p.options.if_contains("vertex");
    return v && v->is_bool() && v->get_bool();
}

std::string_view string_option(provider_config const& p, std::string_view key) noexcept {
    if (auto const* v = p.options.if_contains(key))
        if (auto const* s = v->if_string()) return as_view(*s);
    return {};
}

// ---------------------------------------------------------------------------------------------
// Encoding

failure invalid(std::string message) {
    return failure(error::invalid_request, std::move(message));
}
failure unsupported(std::string message) {
    return failure(error::unsupported, std::move(message));
}

bool supported_image_type(std::string_view media_type) noexcept {
    for (auto t : {"image/jpeg"sv, "image/png"sv, "image/gif"sv, "image/webp"sv})
        if (iequals(media_type, t)) return true;
    return false;
}

/// Builds `messages` (merging same-role turns) and collects the system text.
class request_encoder {
public:
    explicit request_encoder(json::storage_ptr sp) : sp_(std::move(sp)) {}

    void add_system_text(std::string_view text) {
        if (text.empty()) return;
        if (!system_.empty()) system_ += "\n\n"sv;
        system_ += text;
    }

    std::string const& system() const noexcept { return system_; }

    result<void> add(message const& m, std::size_t i) {
        switch (m.role) {
        case role::system:
            return add_system_message(m, i);
        case role::user:
            return add_user(m, i);
        case role::assistant:
            return add_assistant(m, i);
        case role::tool:
            return add_tool(m, i);
        }
        return invalid(at_message(i) + ": unknown role");
    }

    json::array take_messages() {
        json::array out(sp_);
        out.reserve(turns_.size());
        for (auto& t : turns_) {
            json::array content(sp_);
            content.reserve(t.results.size() + t.blocks.size());
            for (auto& b : t.results)
                content.emplace_back(std::move(b));
            for (auto& b : t.blocks)
                content.emplace_back(std::move(b));
            json::object m(sp_);
            m.emplace("role", t.assistant ? "assistant" : "user");
            m.emplace("content", std::move(content));
            out.emplace_back(std::move(m));
        }
        return out;
    }

private:
    struct turn {
        turn(bool a, json::storage_ptr const& sp) : assistant(a), results(sp), blocks(sp) {}

        bool assistant;
        json::array results;  // tool_result blocks: the API wants them first in a user turn
        json::array blocks;
    };

    // The turn a message of this role appends to: the last one if it has the same role.
    turn& turn_for(bool assistant) {
        if (turns_.empty() || turns_.back().assistant != assistant)
            turns_.emplace_back(assistant, sp_);
        return turns_.back();
    }

    /// `cache_control` of a breakpoint, counted against the API's limit of 4.
    result<void> mark(json::object& o, std::optional<cache_control> const& c,
                      std::string const& at) {
        if (!c) return {};
        if (auto ok = check_cache_ttl(*c, at); !ok) return ok;
        if (++breakpoints_ > 4)
            return invalid(at + ": a fifth cache breakpoint; Anthropic takes at most 4 a request");
        o.emplace("cache_control", ephemeral_cache_control(*c, sp_));
        return {};
    }

    result<void> add_text(turn& t, text_part const& x, std::size_t i, std::size_t j) {
        // Anthropic rejects empty text blocks.
        if (x.text.empty()) return {};
        json::object o(sp_);
        o.emplace("type", "text");
        o.emplace("text", x.text);
        if (auto ok = mark(o, x.cache, at_part(i, j)); !ok) return ok;
        t.blocks.emplace_back(std::move(o));
        return {};
    }

    result<void> add_system_message(message const& m, std::size_t i) {
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const* t = std::get_if<text_part>(&m.content[j]);
            if (!t) return unsupported(at_part(i, j) + ": a system message may only hold text");
            add_system_text(t->text);
            if (t->cache) system_cache_ = t->cache;
        }
        return {};
    }

public:
    /// The system prompt's breakpoint (`chat_request::system_cache`, or one on a system
    /// message's text: the system text is one block).
    void set_system_cache(std::optional<cache_control> const& c) {
        if (c) system_cache_ = c;
    }

    /// The `system` field: the text, or a list of one block when it carries a breakpoint.
    result<void> emplace_system(json::object& body) {
        if (system_.empty()) return {};
        if (!system_cache_) {
            body.emplace("system", system_);
            return {};
        }
        json::object b(sp_);
        b.emplace("type", "text");
        b.emplace("text", system_);
        if (auto ok = mark(b, system_cache_, "system"); !ok) return ok;
        json::array a(sp_);
        a.emplace_back(std::move(b));
        body.emplace("system", std::move(a));
        return {};
    }

    /// Counts a tool's breakpoint and writes it.
    result<void> mark_tool(json::object& o, std::optional<cache_control> const& c, std::size_t i) {
        return mark(o, c, "tools[" + std::to_string(i) + "]");
    }

private:
    result<void> add_document(turn& t, document_part const& d, std::size_t i, std::size_t j) {
        json::object source(sp_);
        if (istarts_with(d.url, "data:")) {
            std::string_view media_type, data;
            if (!parse_data_uri(d.url, media_type, data) || data.empty())
                return invalid(at_part(i, j) +
                               ": a document URI must be data:<media type>;base64,<data>");
            if (iequals(media_type, "application/pdf")) {
                source.emplace("type", "base64");
                source.emplace("media_type", "application/pdf");
                source.emplace("data", data);
            } else if (iequals(media_type, "text/plain")) {
                auto text = base64_decode(data);
                if (!text)
                    return invalid(at_part(i, j) + ": the document's base64 data is not valid");
                source.emplace("type", "text");
                source.emplace("media_type", "text/plain");
                source.emplace("data", *text);
            } else {
                return unsupported(at_part(i, j) +
                                   ": Anthropic takes documents of application/pdf and "
                                   "text/plain, not '" +
                                   excerpt(media_type, 60) + "'");
            }
        } else if (istarts_with(d.url, "https://") && d.url.size() > 8) {
            source.emplace("type", "url");
            source.emplace("url", d.url);
        } else {
            return invalid(at_part(i, j) +
                           ": a document URL must be https:// or a data:<media type>;base64, URI");
        }
        json::object o(sp_);
        o.emplace("type", "document");
        o.emplace("source", std::move(source));
        if (!d.name.empty()) o.emplace("title", d.name);
        if (auto ok = mark(o, d.cache, at_part(i, j)); !ok) return ok;
        t.blocks.emplace_back(std::move(o));
        return {};
    }

    /// A reasoning part of Claude's goes back as it came; any other is not valid here.
    void add_reasoning(turn& t, reasoning_part const& r) {
        if (r.origin != "anthropic"sv) return;
        json::object o(sp_);
        if (r.type == reasoning_part::kind::redacted) {
            o.emplace("type", "redacted_thinking");
            o.emplace("data", r.data);
        } else {
            o.emplace("type", "thinking");
            o.emplace("thinking", r.text);
            o.emplace("signature", r.signature);
        }
        t.blocks.emplace_back(std::move(o));
    }

    result<void> add_image(turn& t, image_part const& img, std::size_t i, std::size_t j) {
        json::object source(sp_);
        if (istarts_with(img.url, "data:")) {
            std::string_view media, data;
            if (!parse_data_uri(img.url, media, data) || data.empty())
                return invalid(at_part(i, j) +
                               ": an image URI must be data:<media type>;base64,<data>");
            if (!supported_image_type(media))
                return unsupported(at_part(i, j) +
                                   ": Anthropic takes image/jpeg, image/png, "
                                   "image/gif and image/webp, not '" +
                                   excerpt(media, 60) + "'");
            std::string media_type(media);
            std::transform(media_type.begin(), media_type.end(), media_type.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            source.emplace("type", "base64");
            source.emplace("media_type", media_type);
            source.emplace("data", data);
        } else if (istarts_with(img.url, "https://") && img.url.size() > 8) {
            source.emplace("type", "url");
            source.emplace("url", img.url);
        } else if (istarts_with(img.url, "http://")) {
            return unsupported(at_part(i, j) +
                               ": Anthropic fetches image URLs over https only; send the image "
                               "as a data: URI");
        } else {
            return invalid(at_part(i, j) +
                           ": an image URL must be https:// or a data:<media type>;base64, URI");
        }
        json::object o(sp_);
        o.emplace("type", "image");
        o.emplace("source", std::move(source));
        if (auto ok = mark(o, img.cache, at_part(i, j)); !ok) return ok;
        t.blocks.emplace_back(std::move(o));
        return {};
    }

    result<void> add_tool_result(turn& t, tool_result const& r, std::size_t i, std::size_t j) {
        if (r.tool_call_id.empty())
            return invalid(at_part(i, j) + ": a tool result needs a tool_call_id");
        json::object o(sp_);
        o.emplace("type", "tool_result");
        o.emplace("tool_use_id", r.tool_call_id);
        if (!r.content.empty()) o.emplace("content", r.content);
        if (r.is_error) o.emplace("is_error", true);
        if (auto ok = mark(o, r.cache, at_part(i, j)); !ok) return ok;
        t.results.emplace_back(std::move(o));
        return {};
    }

    result<void> add_user(message const& m, std::size_t i) {
        if (!has_content(m)) return empty_message(i);
        turn& t = turn_for(false);
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (auto const* x = std::get_if<text_part>(&p)) {
                if (auto ok = add_text(t, *x, i, j); !ok) return ok;
            } else if (auto const* img = std::get_if<image_part>(&p)) {
                if (auto ok = add_image(t, *img, i, j); !ok) return ok;
            } else if (auto const* r = std::get_if<tool_result>(&p)) {
                if (auto ok = add_tool_result(t, *r, i, j); !ok) return ok;
            } else if (auto const* d = std::get_if<document_part>(&p)) {
                if (auto ok = add_document(t, *d, i, j); !ok) return ok;
            } else if (std::holds_alternative<reasoning_part>(p)) {
                return invalid(at_part(i, j) + ": reasoning belongs in an assistant message");
            } else {
                return invalid(at_part(i, j) + ": a tool call belongs in an assistant message");
            }
        }
        return {};
    }

    result<void> add_assistant(message const& m, std::size_t i) {
        if (!has_content(m)) return empty_message(i);
        turn& t = turn_for(true);
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const& p = m.content[j];
            if (auto const* x = std::get_if<text_part>(&p)) {
                if (auto ok = add_text(t, *x, i, j); !ok) return ok;
            } else if (auto const* c = std::get_if<tool_call>(&p)) {
                if (auto ok = add_tool_use(t, *c, i, j); !ok) return ok;
            } else if (auto const* r = std::get_if<reasoning_part>(&p)) {
                add_reasoning(t, *r);
            } else if (std::holds_alternative<image_part>(p) ||
                       std::holds_alternative<document_part>(p)) {
                return unsupported(at_part(i, j) +
                                   ": assistant messages cannot hold images or documents");
            } else {
                return invalid(at_part(i, j) + ": a tool result belongs in a tool or user message");
            }
        }
        return {};
    }

    result<void> add_tool_use(turn& t, tool_call const& c, std::size_t i, std::size_t j) {
        if (c.id.empty()) return invalid(at_part(i, j) + ": a tool call needs an id");
        if (c.name.empty()) return invalid(at_part(i, j) + ": a tool call needs a name");
        // `input` is a JSON object, not text: the arguments must parse as one.
        json::value input;
        if (trim(c.arguments).empty()) {
            input = json::object(sp_);
        } else {
            boost::system::error_code ec;
            input = detail::parse_json(c.arguments, ec, sp_);
            if (ec)
                return invalid(at_part(i, j) + ": the arguments of tool call '" + c.id + "' (" +
                               c.name + ") are not valid JSON (" + ec.message() + ")");
            if (!input.is_object())
                return invalid(at_part(i, j) + ": the arguments of tool call '" + c.id + "' (" +
                               c.name + ") are not a JSON object");
        }
        json::object o(sp_);
        o.emplace("type", "tool_use");
        o.emplace("id", c.id);
        o.emplace("name", c.name);
        o.emplace("input", std::move(input));
        t.blocks.emplace_back(std::move(o));
        return {};
    }

    result<void> add_tool(message const& m, std::size_t i) {
        if (m.content.empty())
            return invalid(at_message(i) + ": a tool message needs a tool_result part");
        turn& t = turn_for(false);
        for (std::size_t j = 0; j < m.content.size(); ++j) {
            auto const* r = std::get_if<tool_result>(&m.content[j]);
            if (!r)
                return invalid(at_part(i, j) + ": a tool message may only hold tool_result parts");
            if (auto ok = add_tool_result(t, *r, i, j); !ok) return ok;
        }
        return {};
    }

    // True when the message gives at least one block (empty text blocks are not sent, nor
    // reasoning of another provider's).
    static bool has_content(message const& m) noexcept {
        return std::any_of(m.content.begin(), m.content.end(), [](content_part const& p) {
            if (auto const* t = std::get_if<text_part>(&p)) return !t->text.empty();
            if (auto const* r = std::get_if<reasoning_part>(&p)) return r->origin == "anthropic";
            return true;
        });
    }

    static failure empty_message(std::size_t i) {
        return invalid(at_message(i) + " has no content; Anthropic rejects empty messages");
    }

    json::storage_ptr sp_;
    std::vector<turn> turns_;
    std::string system_;
    std::optional<cache_control> system_cache_;
    int breakpoints_ = 0;
};

/// `thinking` (and `output_config`) for the request's reasoning controls; adjusts
/// `max_tokens` where the caller left it to llmux.
result<void> encode_thinking(chat_request const& req, std::string_view model, bool own_max,
                             std::int64_t& max_tokens, json::object& body,
                             json::storage_ptr const& sp) {
    if (!req.reasoning) return {};
    auto const& r = *req.reasoning;
    if (reasoning_off(req.reasoning)) {
        json::object t(sp);
        t.emplace("type", "disabled");
        body.emplace("thinking", std::move(t));
        return {};
    }
    if (!reasoning_on(req.reasoning)) {
        if (r.include_text)
            return unsupported("reasoning.include_text: nothing to show without an effort or "
                               "a budget on Anthropic");
        return {};
    }
    auto const support = anthropic::claude_thinking(model);
    std::string const name(model);
    if (support == anthropic::thinking_support::none)
        return unsupported("reasoning: " + name + " does not think (extended thinking needs "
                           "Claude 3.7 or later)");
    // What thinking forbids, refused here rather than by a 400 from the API.
    if (req.temperature && *req.temperature != 1.0)
        return unsupported("temperature: Claude takes no temperature but 1 while thinking");
    if (req.top_p && *req.top_p < 0.95)
        return unsupported("top_p: Claude takes top_p between 0.95 and 1 while thinking");
    if (req.tool_choice && (req.tool_choice->how == tool_choice::mode::required ||
                            req.tool_choice->how == tool_choice::mode::named))
        return unsupported("tool_choice: Thinking may not be enabled when tool_choice forces "
                           "tool use");
    if (req.response_format && req.response_format->type != response_format::kind::text)
        return unsupported("response_format: a JSON answer on Anthropic is a forced tool call, "
                           "which thinking forbids");
    json::object t(sp);
    bool const adaptive =
        !r.budget_tokens && support != anthropic::thinking_support::budget;
    if (adaptive) {
        t.emplace("type", "adaptive");
        auto effort = r.effort.value_or(reasoning_effort::high);
        if (effort == reasoning_effort::minimal) effort = reasoning_effort::low;
        json::object oc(sp);
        oc.emplace("effort", to_string(effort));
        body.emplace("output_config", std::move(oc));
    } else {
        if (support == anthropic::thinking_support::adaptive)
            return unsupported("reasoning.budget_tokens: " + name +
                               " takes adaptive thinking only; give an effort instead");
        std::int64_t budget = r.budget_tokens ? *r.budget_tokens : budget_for_effort(*r.effort);
        if (r.budget_tokens) {
            if (budget < 1024)
                return invalid("reasoning.budget_tokens: Anthropic's thinking budget is at "
                               "least 1024 tokens, not " + std::to_string(budget));
            if (own_max && budget >= max_tokens)
                return invalid("reasoning.budget_tokens (" + std::to_string(budget) +
                               ") must be below max_tokens (" + std::to_string(max_tokens) +
                               "): Anthropic counts thinking within max_tokens");
        } else if (own_max) {
            budget = std::min(budget, max_tokens - 1);
            if (budget < 1024)
                return invalid("max_tokens (" + std::to_string(max_tokens) +
                               ") leaves no room for thinking: Anthropic's smallest budget is "
                               "1024 tokens, below max_tokens");
        }
        if (!own_max && budget >= max_tokens) max_tokens = budget + default_max_tokens;
        t.emplace("type", "enabled");
        t.emplace("budget_tokens", budget);
    }
    if (r.include_text) t.emplace("display", *r.include_text ? "summarized" : "omitted");
    body.emplace("thinking", std::move(t));
    return {};
}

result<std::int64_t> max_tokens_for(chat_request const& req, provider_config const& p) {
    if (req.max_tokens) {
        if (*req.max_tokens < 1) return invalid("max_tokens must be at least 1");
        return *req.max_tokens;
    }
    auto const* v = p.options.if_contains("default_max_tokens");
    if (!v) return default_max_tokens;
    if (auto const* i = v->if_int64(); i && *i >= 1) return *i;
    if (auto const* u = v->if_uint64(); u && *u <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(*u);
    return failure(error::invalid_config, "provider '" + p.name +
                                              "': option default_max_tokens must be a positive "
                                              "integer");
}

// The input_schema of the JSON answer tool, or the reason it cannot be built.
result<json::object> json_answer_schema(response_format const& rf, json::storage_ptr const& sp) {
    if (rf.type == response_format::kind::json_object || rf.schema.empty()) {
        json::object o(sp);
        o.emplace("type", "object");
        return o;
    }
    if (auto const* t = rf.schema.if_contains("type")) {
        if (!(t->is_string() && t->get_string() == "object"))
            return unsupported("response_format: the schema's root must be an object on "
                               "Anthropic (JSON answers are carried as a tool's input)");
    }
    json::object o(rf.schema, sp);
    if (!o.contains("type")) o.emplace("type", "object");
    return o;
}

result<http_request> encode_request(chat_request const& req, encode_context const& ctx) {
    if (req.messages.empty()) return invalid("the request has no messages");
    if (req.seed) return unsupported("seed: the Anthropic Messages API has no seed");

    bool const vertex = is_vertex(ctx.provider);
    http_request out;
    if (vertex) {
        std::string_view model = ctx.model;
        // Vertex's model ids may be publisher-qualified (`anthropic/claude-...`).
        if (model.substr(0, 10) == "anthropic/") model.remove_prefix(10);
        if (model.empty()) return invalid("the request names no model");
        out.target = "/publishers/anthropic/models/" + uri_encode(model, true) +
                     (ctx.stream ? ":streamRawPredict" : ":rawPredict");
    } else {
        out.target = "/v1/messages";
    }
    out.set_header("Content-Type", "application/json");
    out.set_header("Accept", ctx.stream ? "text/event-stream" : "application/json");
    if (!vertex) {
        auto const version = string_option(ctx.provider, "anthropic_version");
        out.set_header("anthropic-version",
                       std::string(version.empty() ? default_version : version));
    }
    // Beta features, a string or a list (joined with commas as the API expects).
    if (auto const* b = ctx.provider.options.if_contains("anthropic_beta")) {
        std::string beta;
        if (auto const* s = b->if_string()) {
            beta = as_view(*s);
        } else if (auto const* a = b->if_array()) {
            for (auto const& e : *a)
                if (auto const* s = e.if_string(); s && !s->empty()) {
                    if (!beta.empty()) beta += ',';
                    beta += as_view(*s);
                }
        }
        if (!beta.empty()) out.set_header("anthropic-beta", std::move(beta));
    }
    // Auth (`x-api-key`, or a Bearer token on Vertex) is added by the client.

    auto max_tokens = max_tokens_for(req, ctx.provider);
    if (!max_tokens) return max_tokens.error();

    json::monotonic_resource mr;
    json::storage_ptr sp(&mr);
    json::object body(sp);
    if (vertex)
        body.emplace("anthropic_version", vertex_version);
    else
        body.emplace("model", ctx.model);
    json::object thinking_fields(sp);
    if (auto ok = encode_thinking(req, ctx.model, req.max_tokens.has_value(), *max_tokens,
                                  thinking_fields, sp);
        !ok)
        return ok.error();
    body.emplace("max_tokens", *max_tokens);
    for (auto& [k, v] : thinking_fields) body.emplace(k, std::move(v));

    request_encoder enc(sp);
    enc.add_system_text(req.system);
    enc.set_system_cache(req.system_cache);
    for (std::size_t i = 0; i < req.messages.size(); ++i)
        if (auto ok = enc.add(req.messages[i], i); !ok) return ok.error();
    json::array messages = enc.take_messages();
    if (messages.empty()) return invalid("the request has only system messages");
    if (auto ok = enc.emplace_system(body); !ok) return ok.error();
    body.emplace("messages", std::move(messages));

    bool const json_answer =
        req.response_format && req.response_format->type != response_format::kind::text;
    json::array tools(sp);
    for (std::size_t i = 0; i < req.tools.size(); ++i) {
        auto const& t = req.tools[i];
        if (auto ok = check_tool_name(t, i); !ok) return ok.error();
        if (t.name == json_answer_tool)
            return invalid("tools[" + std::to_string(i) + "]: the name '" + t.name +
                           "' is reserved for JSON answers");
        json::object o(sp);
        o.emplace("name", t.name);
        if (!t.description.empty()) o.emplace("description", t.description);
        // input_schema is required; an empty one means "no parameters".
        if (t.parameters.empty()) {
            json::object schema(sp);
            schema.emplace("type", "object");
            schema.emplace("properties", json::object(sp));
            o.emplace("input_schema", std::move(schema));
        } else {
            o.emplace("input_schema", json::object(t.parameters, sp));
        }
        if (auto ok = enc.mark_tool(o, t.cache, i); !ok) return ok.error();
        tools.emplace_back(std::move(o));
    }
    if (json_answer) {
        auto schema = json_answer_schema(*req.response_format, sp);
        if (!schema) return schema.error();
        json::object o(sp);
        o.emplace("name", json_answer_tool);
        std::string desc = "Give your answer as this tool's input";
        if (!req.response_format->name.empty())
            desc += " (a " + req.response_format->name + " object)";
        desc += '.';
        o.emplace("description", desc);
        o.emplace("input_schema", std::move(*schema));
        tools.emplace_back(std::move(o));
    }
    if (!tools.empty()) body.emplace("tools", std::move(tools));

    auto choice = [&](std::string_view type, std::string_view name = {}) {
        json::object o(sp);
        o.emplace("type", type);
        if (!name.empty()) o.emplace("name", name);
        body.emplace("tool_choice", std::move(o));
    };
    auto const how = req.tool_choice ? req.tool_choice->how : tool_choice::mode::automatic;
    if (json_answer) {
        // The answer tool must be called; with the caller's tools too, any tool may be.
        if (how == tool_choice::mode::none || how == tool_choice::mode::named)
            return unsupported("response_format: a JSON answer on Anthropic is a forced tool "
                               "call, which tool_choice '" +
                               std::string(how == tool_choice::mode::none ? "none" : "named") +
                               "' forbids");
        if (req.tools.empty())
            choice("tool", json_answer_tool);
        else
            choice("any");
    } else if (req.tool_choice) {
        if (auto ok = check_tool_choice(req); !ok) return ok.error();
        switch (how) {
        case tool_choice::mode::automatic:
            // Without tools there is nothing to choose; auto is the default anyway.
            if (!req.tools.empty()) choice("auto");
            break;
        case tool_choice::mode::none:
            if (!req.tools.empty()) choice("none");
            break;
        case tool_choice::mode::required:
            choice("any");
            break;
        case tool_choice::mode::named:
            choice("tool", req.tool_choice->name);
            break;
        }
    }

    if (!req.stop.empty()) {
        json::array stop(sp);
        for (auto const& s : req.stop)
            stop.emplace_back(s);
        body.emplace("stop_sequences", std::move(stop));
    }
    if (req.temperature) body.emplace("temperature", *req.temperature);
    if (req.top_p) body.emplace("top_p", *req.top_p);
    if (!req.user.empty()) {
        json::object md(sp);
        md.emplace("user_id", req.user);
        body.emplace("metadata", std::move(md));
    }
    if (ctx.stream) body.emplace("stream", true);
    merge_extra(body, req.extra);
    out.body = to_json(body);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

bool says_context_too_long(std::string_view m) noexcept {
    // "prompt is too long: 210000 tokens > 200000 maximum"; "input length and `max_tokens`
    // exceed context limit: 198000 + 8192 > 200000, decrease input length or `max_tokens`".
    return mentions_context_length(m) || icontains(m, "exceed context limit");
}

// What an error object says: Anthropic's {"type","message"} or, from Vertex's front end,
// Google's {"code","message","status"}.
struct error_fields {
    std::string_view type;
    std::string_view message;
};

error_fields read_error(json::object const& err) {
    error_fields f;
    f.type = get_string(err, "type");
    if (f.type.empty()) f.type = get_string(err, "status");
    f.message = get_string(err, "message");
    return f;
}

// Fills `f`'s code and diagnostics. `status` is the HTTP status of a non-2xx response, or 0
// for an error event inside a stream (or a 2xx body), where the type alone decides.
void classify(failure& f, error_fields const& e, unsigned status) {
    error code = status >= 300 ? status_to_error(status) : error::server_error;
    if (auto c = error_from_type(e.type)) code = *c;
    if (code == error::bad_request && says_context_too_long(e.message))
        code = error::context_length_exceeded;
    else if (code == error::bad_request && icontains(e.message, "content filtering policy"))
        code = error::content_filtered;
    f.code = make_error_code(code);
    f.diag.error_type = std::string(e.type);
    if (!e.message.empty()) provider_message(f, std::string(e.message));
}

// The error object of a body, or null.
json::object const* find_error(json::value const& v) noexcept {
    auto const* o = v.if_object();
    if (!o) return nullptr;
    if (auto const* e = get_object(*o, "error")) return e;
    return nullptr;
}

failure decode_error_body(response_head const& head, std::string_view body) {
    failure f = http_failure(head, "request-id");
    if (f.diag.request_id.empty()) f.diag.request_id = head.header("x-request-id");
    std::string_view const text = trim(body);
    if (text.empty()) {
        f.diag.message = "HTTP " + std::to_string(head.status) + " with an empty body";
        return f;
    }
    json::monotonic_resource mr;
    boost::system::error_code ec;
    json::value const v = detail::parse_json(text, ec, &mr);
    error_fields e;
    if (!ec) {
        if (auto const* err = find_error(v)) e = read_error(*err);
        if (auto const* o = v.if_object(); o && f.diag.request_id.empty())
            f.diag.request_id = get_string(*o, "request_id");
    }
    classify(f, e, head.status);
    if (f.diag.message.empty()) {
        f.diag.message = body_excerpt(text);
        f.diag.source = message_source::internal;
    }
    return f;
}

// ---------------------------------------------------------------------------------------------
// Decoding

// Usage counts as Anthropic reports them; message_delta overrides what message_start said.
struct usage_counts {
    token_count input;
    token_count cache_write;
    token_count cache_read;
    token_count output;

    void update(json::object const& u) {
        auto set = [&](token_count& into, std::string_view key) {
            if (auto c = get_count(u, key)) into = c;
        };
        set(input, "input_tokens");
        set(cache_write, "cache_creation_input_tokens");
        set(cache_read, "cache_read_input_tokens");
        set(output, "output_tokens");
    }

    usage unified() const {
        usage r;
        // Anthropic's input_tokens excludes cached tokens; the unified count includes them.
        if (input) r.input_tokens = *input + cache_write.value_or(0) + cache_read.value_or(0);
        r.output_tokens = output;
        if (r.input_tokens && output) r.total_tokens = *r.input_tokens + *output;
        r.cached_input_tokens = cache_read;
        r.cache_write_tokens = cache_write;
        return r;
    }
};

finish_reason map_finish(std::string_view s, bool only_answer_tool) noexcept {
    return anthropic::finish_from_stop(s, only_answer_tool);
}

result<chat_response> decode_body(response_head const& head, std::string_view body) {
    auto const fail = [&](failure f) {
        f.diag.http_status = head.status;
        if (f.diag.request_id.empty()) f.diag.request_id = std::string(request_id_of(head));
        return f;
    };
    json::monotonic_resource mr;
    auto parsed = parse_body(body, mr);
    if (!parsed) return fail(parsed.error());
    json::value const v = std::move(*parsed);
    auto const* o = v.if_object();
    if (!o)
        return fail(internal(failure(error::protocol_error,
                                     "response body is not a JSON object: " + body_excerpt(body))));
    if (get_string(*o, "type") == "error") {
        failure f;
        json::object const* err = get_object(*o, "error");
        classify(f, err ? read_error(*err) : error_fields{}, 0);
        if (f.diag.message.empty()) {
            f.diag.message = body_excerpt(body);
            f.diag.source = message_source::internal;
        }
        f.diag.request_id = get_string(*o, "request_id");
        return fail(std::move(f));
    }
    auto const* content_v = o->if_contains("content");
    auto const* content = content_v ? content_v->if_array() : nullptr;
    if (!content) return fail(bad_field("content", "is missing or not an array"));

    chat_response r;
    r.id = get_string(*o, "id");
    r.model = get_string(*o, "model");
    r.request_id = request_id_of(head);

    bool answer_tool = false;
    for (std::size_t i = 0; i < content->size(); ++i) {
        auto const where = [i] { return "content[" + std::to_string(i) + "]"; };
        auto const* b = (*content)[i].if_object();
        if (!b) return fail(bad_field(where(), "is not an object"));
        std::string_view const type = get_string(*b, "type");
        if (type == "text") {
            auto const* t = b->if_contains("text");
            if (!t || !t->is_string()) return fail(bad_field(where() + ".text", "is not a string"));
            r.content += as_view(t->get_string());
        } else if (type == "tool_use") {
            std::string_view const name = get_string(*b, "name");
            if (name.empty())
                return fail(bad_field(where() + ".name", "is missing or not a string"));
            auto const* input = b->if_contains("input");
            if (name == json_answer_tool) {
                answer_tool = true;
                r.content += input ? to_json(*input) : std::string("{}");
                continue;
            }
            tool_call& call = r.tool_calls.emplace_back();
            call.id = get_string(*b, "id");
            call.name = name;
            call.arguments = input ? to_json(*input) : std::string("{}");
        } else if (type == "thinking") {
            r.reasoning += get_string(*b, "thinking");
            // Without a signature it cannot go back (Claude would refuse it): text only.
            if (get_string(*b, "signature").empty()) continue;
            auto& part = r.reasoning_parts.emplace_back();
            part.text = get_string(*b, "thinking");
            part.signature = get_string(*b, "signature");
            part.origin = "anthropic";
        } else if (type == "redacted_thinking") {
            auto& part = r.reasoning_parts.emplace_back();
            part.type = reasoning_part::kind::redacted;
            part.data = get_string(*b, "data");
            part.origin = "anthropic";
        }
        // Other blocks (server tools and their results) have no unified equivalent and are
        // skipped.
    }
    std::string_view const native = get_string(*o, "stop_reason");
    r.finish_reason = map_finish(native, answer_tool && r.tool_calls.empty());
    r.native_finish_reason = native;
    if (auto const* u = get_object(*o, "usage")) {
        usage_counts c;
        c.update(*u);
        r.usage = c.unified();
    }
    return r;
}

// ---------------------------------------------------------------------------------------------
// Streaming

class anthropic_stream_decoder final : public stream_decoder {
public:
    result<void> feed(std::string_view bytes, std::vector<chat_chunk>& out) override {
        return feed_sse(sse_, bytes, failed_, [&](sse_event const& ev) {
            if (!done_) on_event(ev, out);
        });
    }

    result<void> finish(std::vector<chat_chunk>&) override {
        if (failed_) return *failed_;
        // A message_stop that lost its closing blank line still ends the stream completely.
        // Its name is enough: the data only repeats it.
        if (!done_)
            sse_.flush([this](sse_event const& ev) {
                if (ev.event == "message_stop"sv) done_ = true;
            });
        if (failed_) return *failed_;
        if (done_) return {};
        std::string msg;
        if (!started_) {
            msg = "the stream ended before its message_start event";
        } else {
            msg = "the stream ended without message_stop, ";
            if (stop_seen_)
                msg += "after the stop reason '" + info_.native_finish_reason + "'";
            else
                msg += "before any stop reason arrived (after " + std::to_string(blocks_) +
                       " content block" + (blocks_ == 1 ? "" : "s") + ")";
        }
        if (sse_.has_partial_event()) msg += "; it was cut in the middle of an event"sv;
        failed_ = failure(error::truncated, std::move(msg));
        return *failed_;
    }

    stream_info const& info() const noexcept override { return info_; }

private:
    // What a content block index stands for.
    struct block {
        std::size_t index = 0;
        enum class kind { other, tool, answer, thinking } what = kind::other;
        std::size_t tool_index = 0;
    };

    void on_event(sse_event const& ev, std::vector<chat_chunk>& out) {
        std::string_view const data = trim(ev.data);
        if (ev.event == "ping"sv) return;
        if (data.empty()) {
            if (ev.event == "error"sv) failed_ = failure(error::server_error, "an empty error event");
            return;
        }
        // One parse per event, into a reused arena: no heap allocation for typical events.
        json_.reset();
        mr_.release();
        json_.reset(&mr_);
        boost::system::error_code ec;
        json_.write(data.data(), data.size(), ec);
        if (ec) {
            json_.reset();
            if (ev.event == "error"sv) {  // an error event with a plain-text message
                failed_ = internal(failure(error::server_error, body_excerpt(data)));
                return;
            }
            failed_ = failure(error::protocol_error, "a stream event is not valid JSON (" +
                                                         ec.message() + "): " + excerpt(data, 120));
            return;
        }
        json::value const v = json_.release();
        auto const* o = v.if_object();
        if (!o) {
            failed_ = failure(error::protocol_error,
                              "a stream event is not a JSON object: " + excerpt(data, 120));
            return;
        }
        std::string_view type = get_string(*o, "type");
        if (type.empty()) type = ev.event;
        if (type == "error" || ev.event == "error"sv) {
            failure f;
            auto const* err = get_object(*o, "error");
            classify(f, err ? read_error(*err) : read_error(*o), 0);
            if (f.diag.message.empty()) f.diag.message = "an error event without a message";
            f.diag.request_id = get_string(*o, "request_id");
            failed_ = std::move(f);
            return;
        }
        if (type == "message_start")
            on_message_start(*o);
        else if (type == "content_block_start")
            on_block_start(*o, out);
        else if (type == "content_block_delta")
            on_block_delta(*o, out);
        else if (type == "content_block_stop")
            on_block_stop(*o, out);
        else if (type == "message_delta")
            on_message_delta(*o, out);
        else if (type == "message_stop")
            done_ = true;
        // ping and unknown events carry nothing for the unified types.
    }

    void on_message_start(json::object const& o) {
        started_ = true;
        auto const* m = get_object(o, "message");
        if (!m) {
            failed_ = bad_field("message_start.message", "is missing or not an object");
            return;
        }
        info_.id = get_string(*m, "id");
        info_.model = get_string(*m, "model");
        if (auto const* u = get_object(*m, "usage")) usage_.update(*u);
    }

    std::optional<std::size_t> block_index(json::object const& o, std::string_view event) {
        auto const n = get_count(o, "index");
        if (!n) {
            failed_ = bad_field(std::string(event) + ".index", "is missing or not a number");
            return std::nullopt;
        }
        return static_cast<std::size_t>(*n);
    }

    block const* find_block(std::size_t index) const noexcept {
        for (auto const& b : blocks_seen_)
            if (b.index == index) return &b;
        return nullptr;
    }

    void on_block_start(json::object const& o, std::vector<chat_chunk>& out) {
        auto const index = block_index(o, "content_block_start");
        if (!index) return;
        auto const* cb = get_object(o, "content_block");
        if (!cb) {
            failed_ = bad_field("content_block_start.content_block", "is missing or not an object");
            return;
        }
        ++blocks_;
        block& b = blocks_seen_.emplace_back();
        b.index = *index;
        std::string_view const type = get_string(*cb, "type");
        chat_chunk c;
        if (type == "tool_use") {
            std::string_view const name = get_string(*cb, "name");
            if (name == json_answer_tool) {
                b.what = block::kind::answer;
                answer_tool_ = true;
                return;
            }
            // The arguments follow as input_json_delta pieces; the block's own `input` is {}.
            b.what = block::kind::tool;
            b.tool_index = tools_++;
            tool_call_delta& d = c.tool_calls.emplace_back();
            d.index = b.tool_index;
            d.id = get_string(*cb, "id");
            d.name = name;
        } else if (type == "text") {
            c.text = get_string(*cb, "text");
        } else if (type == "thinking") {
            // Its text and signature come as deltas; the whole block goes out at its stop.
            b.what = block::kind::thinking;
            thinking_ = reasoning_part{};
            thinking_.origin = "anthropic";
            thinking_.text = get_string(*cb, "thinking");
            thinking_.signature = get_string(*cb, "signature");
            c.reasoning = thinking_.text;
        } else if (type == "redacted_thinking") {
            auto& part = c.reasoning_parts.emplace_back();
            part.type = reasoning_part::kind::redacted;
            part.data = get_string(*cb, "data");
            part.origin = "anthropic";
        }
        if (c.has_content()) out.push_back(std::move(c));
    }

    void on_block_stop(json::object const& o, std::vector<chat_chunk>& out) {
        auto const index = block_index(o, "content_block_stop");
        if (!index) return;
        block const* b = find_block(*index);
        if (!b || b->what != block::kind::thinking) return;
        if (thinking_.signature.empty()) return;  // text only: it cannot go back
        chat_chunk c;
        c.reasoning_parts.push_back(std::move(thinking_));
        thinking_ = reasoning_part{};
        out.push_back(std::move(c));
    }

    void on_block_delta(json::object const& o, std::vector<chat_chunk>& out) {
        auto const index = block_index(o, "content_block_delta");
        if (!index) return;
        auto const* d = get_object(o, "delta");
        if (!d) {
            failed_ = bad_field("content_block_delta.delta", "is missing or not an object");
            return;
        }
        std::string_view const type = get_string(*d, "type");
        chat_chunk c;
        if (type == "text_delta") {
            c.text = get_string(*d, "text");
        } else if (type == "thinking_delta") {
            c.reasoning = get_string(*d, "thinking");
            thinking_.text += c.reasoning;
        } else if (type == "signature_delta") {
            thinking_.signature += get_string(*d, "signature");
        } else if (type == "input_json_delta") {
            block const* b = find_block(*index);
            if (!b || b->what == block::kind::other) {
                failed_ = failure(error::protocol_error, "an input_json_delta for content block " +
                                                             std::to_string(*index) +
                                                             ", which is not a tool_use block");
                return;
            }
            std::string_view const piece = get_string(*d, "partial_json");
            if (piece.empty()) return;  // the first piece is often ""
            if (b->what == block::kind::answer) {
                c.text = piece;
            } else {
                tool_call_delta& td = c.tool_calls.emplace_back();
                td.index = b->tool_index;
                td.arguments = piece;
            }
        }
        // citations_delta has no unified equivalent.
        if (c.has_content()) out.push_back(std::move(c));
    }

    void on_message_delta(json::object const& o, std::vector<chat_chunk>& out) {
        chat_chunk c;
        if (auto const* d = get_object(o, "delta")) {
            std::string_view const stop = get_string(*d, "stop_reason");
            if (!stop.empty()) {
                stop_seen_ = true;
                info_.native_finish_reason = stop;
                c.finish_reason = map_finish(stop, answer_tool_ && tools_ == 0);
            }
        }
        if (auto const* u = get_object(o, "usage")) {
            usage_.update(*u);
            c.usage = usage_.unified();
        }
        if (c.finish_reason || c.usage) out.push_back(std::move(c));
    }

    sse_parser sse_;
    stream_info info_;
    usage_counts usage_;
    std::vector<block> blocks_seen_;
    std::size_t blocks_ = 0;
    std::size_t tools_ = 0;
    /// The thinking block being streamed.
    reasoning_part thinking_;
    // The arena must outlive the parser, which holds a (non-owning) pointer to it.
    alignas(std::max_align_t) unsigned char arena_[8192];
    json::monotonic_resource mr_{arena_, sizeof arena_};
    json_reader json_;
    std::optional<failure> failed_;
    bool started_ = false;
    bool stop_seen_ = false;
    bool answer_tool_ = false;
    bool done_ = false;
};

// ---------------------------------------------------------------------------------------------

class anthropic_messages final : public wire_format {
public:
    std::string_view name() const noexcept override { return "anthropic"; }

    result<http_request> encode(chat_request const& req, encode_context const& ctx) const override {
        return encode_request(req, ctx);
    }

    result<chat_response> decode(response_head const& head, std::string_view body) const override {
        return decode_body(head, body);
    }

    failure decode_error(response_head const& head, std::string_view body) const override {
        return decode_error_body(head, body);
    }

    std::unique_ptr<stream_decoder> make_stream_decoder() const override {
        return std::make_unique<anthropic_stream_decoder>();
    }

    bool continues_prefill(std::string_view model, chat_request const& req) const noexcept override {
        return claude_accepts_prefill(model) && !claude_prefill_conflicts(req);
    }
};

}  // namespace

wire_format const& anthropic_messages_format() {
    static anthropic_messages const instance;
    return instance;
}

}  // namespace llmux::detail
