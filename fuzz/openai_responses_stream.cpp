// SPDX-License-Identifier: BSL-1.0
// The OpenAI Responses API's stream decoder over arbitrary bytes in arbitrary splits: never
// crashes, never reports success for a stream it did not see complete... and the result does not
// depend on how the bytes were split.
#include "split.hpp"

#include "wire/formats.hpp"

#include <cstdlib>
#include <string>
#include <vector>

namespace {

std::string run(std::uint8_t const* data, std::size_t size, std::uint8_t first) {
    auto const* wire = llmux::detail::find_wire_format("openai-responses");
    if (!wire) std::abort();
    auto dec = wire->make_stream_decoder();
    if (!dec) return "no decoder";
    std::vector<llmux::chat_chunk> out;
    std::string failed;
    std::vector<std::uint8_t> copy(data, data + size);
    copy[0] = first;
    llmux::fuzz::for_each_piece(copy.data(), copy.size(), [&](std::string_view piece) {
        auto r = dec->feed(piece, out);
        if (!r) failed = llmux::code_name(r.error().code);
        return r.has_value();
    });
    if (failed.empty()) {
        auto r = dec->finish(out);
        failed = r ? "complete" : llmux::code_name(r.error().code);
    }
    std::string text;
    for (auto const& c : out) {
        text += c.text;
        for (auto const& t : c.tool_calls) text += "|" + t.id + t.name + t.arguments;
    }
    return failed + "\n" + text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    if (run(data, size, data[0]) != run(data, size, 7)) std::abort();
    return 0;
}
