// SPDX-License-Identifier: BSL-1.0
#include "wire/formats.hpp"
#include "wire/openai_responses.hpp"

#include <array>
#include <utility>
#include <vector>

namespace llmux::detail {

namespace {
struct entry {
    std::string_view name;
    wire_format const& (*client)();
    /// Null while the format has no server side.
    wire_server const& (*server)();
};
// One line per format; the order is the order of the emulator's and the gateway's endpoint
// tables (the first match wins) and OpenAI's shape answers paths nobody serves.
constexpr std::array entries = {
    entry{"openai", &openai_chat_format, &openai_chat_server},
    entry{responses::format_name, &openai_responses_format, &openai_responses_server},
    entry{"anthropic", &anthropic_messages_format, &anthropic_messages_server},
    entry{"gemini", &gemini_format, &gemini_server},
    entry{"bedrock", &bedrock_converse_format, &bedrock_converse_server},
    entry{"vertex", &vertex_format, nullptr},
};

/// The formats that have a server side, in table order. Built at run time: comparing a
/// function's address with null is not a constant expression under the sanitizers.
std::vector<wire_server const*> const& servers() {
    static auto const all = [] {
        std::vector<wire_server const*> out;
        for (auto const& e : entries)
            if (e.server) out.push_back(&e.server());
        return out;
    }();
    return all;
}
}  // namespace

wire_format const* find_wire_format(std::string_view name) noexcept {
    for (auto const& e : entries)
        if (e.name == name) return &e.client();
    return nullptr;
}

std::vector<std::string_view> wire_format_names() {
    std::vector<std::string_view> out;
    for (auto const& e : entries) out.push_back(e.name);
    return out;
}

wire_server const* find_wire_server(std::string_view name) noexcept {
    for (auto const& e : entries)
        if (e.name == name && e.server) return &e.server();
    return nullptr;
}

std::span<wire_server const* const> wire_servers() noexcept {
    return servers();
}

wire_format const& wire_for_model(provider_config const& p, wire_format const& wire,
                                  std::string_view model) noexcept {
    if (&wire == &openai_chat_format() && p.name == "openai" && responses::responses_only(model))
        return openai_responses_format();
    return wire.for_model(model);
}

}  // namespace llmux::detail
