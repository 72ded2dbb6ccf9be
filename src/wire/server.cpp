// SPDX-License-Identifier: BSL-1.0
// Endpoint patterns and the defaults of `wire_server`.
#include "util/json_text.hpp"
#include "util/text.hpp"
#include "wire/server.hpp"

using namespace std::string_view_literals;

namespace llmux::detail {

namespace {

constexpr std::string_view model_hole = "{model}";
constexpr std::string_view segment_hole = "{*}";

/// Matches the whole of `path` against `pattern`; sets `model` to the raw `{model}` capture.
bool match_here(std::string_view pattern, std::string_view path, std::string_view& model) {
    while (!pattern.empty()) {
        if (pattern.starts_with(model_hole)) {
            auto const rest = pattern.substr(model_hole.size());
            // One or more characters, '/' included: the shortest that lets the rest match
            // (the rest holds literal text such as ":generateContent" or "/converse").
            for (std::size_t n = 1; n <= path.size(); ++n) {
                std::string_view inner;
                if (match_here(rest, path.substr(n), inner)) {
                    model = path.substr(0, n);
                    return true;
                }
            }
            return false;
        }
        if (pattern.starts_with(segment_hole)) {
            auto const rest = pattern.substr(segment_hole.size());
            auto const end = std::min(path.find('/'), path.size());
            for (std::size_t n = 1; n <= end; ++n)
                if (match_here(rest, path.substr(n), model)) return true;
            return false;
        }
        auto const lit = pattern.substr(0, pattern.find('{'));
        if (!path.starts_with(lit)) return false;
        pattern.remove_prefix(lit.size());
        path.remove_prefix(lit.size());
    }
    return path.empty();
}

bool method_matches(std::string_view wanted, std::string_view method) noexcept {
    return wanted == method || (wanted == "GET" && method == "HEAD");
}

}  // namespace

std::optional<std::string> match_path(std::string_view pattern, std::string_view path,
                                      bool any_prefix) {
    std::string_view model;
    if (match_here(pattern, path, model)) return percent_decode(model);
    if (!any_prefix) return std::nullopt;
    for (auto slash = path.find('/', 1); slash != std::string_view::npos;
         slash = path.find('/', slash + 1))
        if (match_here(pattern, path.substr(slash), model)) return percent_decode(model);
    return std::nullopt;
}

endpoint_table::endpoint_table(std::span<wire_server const* const> servers, bool any_prefix)
    : any_prefix_(any_prefix) {
    for (auto const* s : servers)
        for (auto const& ep : s->endpoints()) entries_.push_back({s, &ep});
}

std::optional<endpoint_match> endpoint_table::find(std::string_view method,
                                                   std::string_view path) const {
    for (auto const& e : entries_) {
        if (!method_matches(e.ep->method, method)) continue;
        if (auto model = match_path(e.ep->pattern, path, any_prefix_))
            return endpoint_match{e.server, e.ep, std::move(*model)};
    }
    return std::nullopt;
}

std::pair<wire_server const*, std::string_view>
endpoint_table::path_served(std::string_view path) const {
    for (auto const& e : entries_)
        if (match_path(e.ep->pattern, path, any_prefix_)) return {e.server, e.ep->method};
    return {nullptr, {}};
}

// ---------------------------------------------------------------------------------------------
// Defaults, for formats without these endpoints or without canned wording of their own.

void wire_server::encode_models(std::span<std::string const> names, std::int64_t created,
                                std::string& out) const {
    out += "{\"data\":["sv;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i) out += ',';
        encode_model(names[i], created, out);
    }
    out += "]}"sv;
}

void wire_server::encode_model(std::string_view name, std::int64_t created,
                               std::string& out) const {
    out += "{\"id\":"sv;
    append_json_string(out, name);
    out += ",\"created\":"sv;
    append_number(out, created);
    out += '}';
}

boost::system::result<inbound_embedding, api_error>
wire_server::decode_embedding_request(request_head const& head, std::string_view body) const {
    (void)body;
    return api_error{404, "The " + std::string(name()) + " format has no embeddings endpoint at " +
                              std::string(head.path) + "."};
}

bool wire_server::encode_embedding_response(embedding_response const& r, embedding_meta const& m,
                                            embedding_form form, std::string& out) const {
    (void)r;
    (void)m;
    (void)form;
    (void)out;
    return false;
}

void wire_server::encode_token_count(std::uint64_t tokens, std::string& out) const {
    out += "{\"input_tokens\":"sv;
    append_number(out, tokens);
    out += '}';
}

api_error wire_server::reasoning_refused(reasoning_fault const& f) const {
    std::string where = "messages." + std::to_string(f.message) + ".content." + std::to_string(f.part);
    switch (f.what) {
    case reasoning_fault::kind::missing_thinking:
        return {400, where + ": the assistant turn of a tool loop must begin with its thinking",
                "", "", where};
    case reasoning_fault::kind::invalid_signature:
        return {400, where + ": the reasoning's signature does not match it", "", "", where};
    case reasoning_fault::kind::missing_call_signature:
        return {400, where + ": the function call '" + f.name + "' is missing its signature", "",
                "", where};
    case reasoning_fault::kind::invalid_call_signature:
        return {400, where + ": the function call '" + f.name + "' has a signature the model did "
                             "not give",
                "", "", where};
    }
    return {400, where, "", "", where};
}

api_error wire_server::error_for_status(unsigned status, std::string_view model) const {
    (void)model;
    return {status, "Emulated error (HTTP " + std::to_string(status) + ")."};
}

api_error wire_server::auth_error(bool missing, std::string_view why,
                                  std::string_view type) const {
    if (!why.empty()) return {401, std::string(why), std::string(type)};
    return {401, missing ? "No API key was provided." : "The API key is not valid."};
}

api_error wire_server::auth_error_for(request_head const& head, bool missing,
                                      std::string_view why, std::string_view type) const {
    (void)head;
    return auth_error(missing, why, type);
}

api_error wire_server::unknown_endpoint(std::string_view method, std::string_view target) const {
    return {404, "No endpoint serves " + std::string(method) + " " + std::string(target) + "."};
}

}  // namespace llmux::detail
