// SPDX-License-Identifier: BSL-1.0
// The SSE parser: never crashes, and splitting the input never changes the events.
#include "split.hpp"

#include "codec/sse.hpp"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    using llmux::detail::sse_event;
    auto run = [&](std::uint8_t first) {
        std::vector<std::string> seen;
        llmux::detail::sse_parser p(4096);
        bool ok = true;
        std::vector<std::uint8_t> copy(data, data + size);
        copy[0] = first;
        auto record = [&](sse_event const& e) {
            seen.push_back(std::string(e.event) + '\0' + std::string(e.data) + '\0' +
                           std::string(e.id));
        };
        llmux::fuzz::for_each_piece(copy.data(), copy.size(), [&](std::string_view piece) {
            // Each piece in a buffer of its own, freed after the feed: ASan sees any view the
            // parser kept of it.
            auto const own = std::make_unique<std::string>(piece);
            ok = p.feed(*own, record);
            return ok;
        });
        if (ok) {
            (void)p.has_partial_event();
            p.flush(record);
        }
        return std::make_pair(ok, seen);
    };
    auto const a = run(data[0]);
    auto const whole = run(7);  // one feed of everything
    // A line over the cap fails the parse wherever it is split; otherwise the events match.
    if (a.first && whole.first && a.second != whole.second) std::abort();
    return 0;
}
