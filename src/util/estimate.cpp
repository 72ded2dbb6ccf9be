// SPDX-License-Identifier: BSL-1.0
#include "util/estimate.hpp"

#include <variant>

namespace llmux::detail {

prompt_size estimate_prompt(chat_request const& req) noexcept {
    prompt_size s;
    std::size_t messages = 0;
    s.bytes = req.system.size();
    for (auto const& m : req.messages) {
        ++messages;
        for (auto const& part : m.content) {
            if (auto const* t = std::get_if<text_part>(&part))
                s.bytes += t->text.size();
            else if (std::holds_alternative<image_part>(part))
                ++s.images;
            else if (auto const* c = std::get_if<tool_call>(&part))
                s.bytes += c->name.size() + c->arguments.size();
            else if (auto const* r = std::get_if<tool_result>(&part))
                s.bytes += r->content.size();
        }
    }
    for (auto const& t : req.tools) {
        // A tool's schema is JSON: about 64 bytes a property on the wire.
        s.bytes += t.name.size() + t.description.size() + 64 * t.parameters.size();
    }
    auto const b = static_cast<std::uint64_t>(s.bytes);
    auto const imgs = static_cast<std::uint64_t>(s.images);
    s.lowest = b / 6 + 85 * imgs;
    s.typical = (b + 3) / 4 + 800 * imgs;
    s.highest = (b + 1) / 2 + 1600 * imgs + 8 * static_cast<std::uint64_t>(messages + 1);
    return s;
}

prompt_size estimate_inputs(std::span<std::string const> inputs) noexcept {
    prompt_size s;
    for (auto const& t : inputs) s.bytes += t.size();
    auto const b = static_cast<std::uint64_t>(s.bytes);
    s.lowest = b / 6;
    s.typical = (b + 3) / 4;
    // A token or two per input for its boundaries.
    s.highest = (b + 1) / 2 + 2 * static_cast<std::uint64_t>(inputs.size());
    return s;
}

}  // namespace llmux::detail
