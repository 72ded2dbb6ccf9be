// SPDX-License-Identifier: BSL-1.0
// The AWS event-stream decoder: never crashes; splitting never changes what is decoded.
#include "split.hpp"

#include "codec/event_stream.hpp"

#include <cstdlib>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    auto run = [&](std::uint8_t first) {
        std::vector<std::string> seen;
        llmux::detail::event_stream_decoder d;
        bool ok = true;
        std::vector<std::uint8_t> copy(data, data + size);
        copy[0] = first;
        llmux::fuzz::for_each_piece(copy.data(), copy.size(), [&](std::string_view piece) {
            auto r = d.feed(piece, [&](llmux::detail::event_message const& m) {
                std::string s(m.payload);
                for (auto const& h : m.headers) s += "|" + std::string(h.name);
                seen.push_back(std::move(s));
            });
            ok = r.has_value();
            return ok;
        });
        if (ok) (void)d.finish();
        return std::make_pair(ok, seen);
    };
    auto const a = run(data[0]);
    auto const whole = run(7);
    if (a.first && whole.first && a.second != whole.second) std::abort();
    return 0;
}
