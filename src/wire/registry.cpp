// SPDX-License-Identifier: BSL-1.0
#include "wire/formats.hpp"

#include <array>
#include <utility>

namespace llmux::detail {

namespace {
struct entry {
    std::string_view name;
    wire_format const& (*get)();
};
constexpr std::array entries = {
    entry{"openai", &openai_chat_format},
    entry{"anthropic", &anthropic_messages_format},
    entry{"gemini", &gemini_format},
    entry{"bedrock", &bedrock_converse_format},
    entry{"vertex", &vertex_format},
};
}  // namespace

wire_format const* find_wire_format(std::string_view name) noexcept {
    for (auto const& e : entries)
        if (e.name == name) return &e.get();
    return nullptr;
}

std::vector<std::string_view> wire_format_names() {
    std::vector<std::string_view> out;
    for (auto const& e : entries) out.push_back(e.name);
    return out;
}

}  // namespace llmux::detail
