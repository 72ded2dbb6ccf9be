// SPDX-License-Identifier: BSL-1.0
#include "util/estimate.hpp"

#include <variant>

namespace llmux::detail {

namespace {

/// The estimates of `bytes` of text and `images` images at the rates of `prompt_size`, the
/// highest with `framing` tokens at most for the boundaries of messages or inputs.
prompt_size rated(std::size_t bytes, std::size_t images, std::uint64_t framing) noexcept {
    prompt_size s;
    s.bytes = bytes;
    s.images = images;
    auto const b = static_cast<std::uint64_t>(bytes);
    auto const imgs = static_cast<std::uint64_t>(images);
    s.lowest = b / 6 + 85 * imgs;
    s.typical = (b + 3) / 4 + 800 * imgs;
    s.highest = (b + 1) / 2 + 1600 * imgs + framing;
    return s;
}

}  // namespace

prompt_size estimate_prompt(chat_request const& req) noexcept {
    std::size_t bytes = req.system.size();
    std::size_t images = 0;
    for (auto const& m : req.messages) {
        for (auto const& part : m.content) {
            if (auto const* t = std::get_if<text_part>(&part))
                bytes += t->text.size();
            else if (std::holds_alternative<image_part>(part))
                ++images;
            else if (auto const* c = std::get_if<tool_call>(&part))
                bytes += c->name.size() + c->arguments.size();
            else if (auto const* r = std::get_if<tool_result>(&part))
                bytes += r->content.size();
        }
    }
    for (auto const& t : req.tools) {
        // A tool's schema is JSON: about 64 bytes a property on the wire.
        bytes += t.name.size() + t.description.size() + 64 * t.parameters.size();
    }
    return rated(bytes, images, 8 * static_cast<std::uint64_t>(req.messages.size() + 1));
}

prompt_size estimate_inputs(std::span<std::string const> inputs) noexcept {
    std::size_t bytes = 0;
    for (auto const& t : inputs) bytes += t.size();
    // A token or two per input for its boundaries.
    return rated(bytes, 0, 2 * static_cast<std::uint64_t>(inputs.size()));
}

}  // namespace llmux::detail
