// SPDX-License-Identifier: BSL-1.0
// Decode throughput of an OpenAI chat-completions SSE stream (SSE framing + JSON + unified
// chunks) next to Boost.JSON's raw parse of the same JSON payloads.
//
//   ./build/benchmarks/bench_sse_decode [--chunks N] [--rounds R] [--read-size BYTES]
#include "wire/formats.hpp"

#include <boost/json/parser.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::string make_stream(std::size_t chunks, std::vector<std::string>& payloads) {
    static char const* words[] = {" The", " quick", " brown", " fox", " jumps", " over", " the",
                                  " lazy", " dog", ",", " and", " keeps", " running", "."};
    std::string out;
    auto add = [&](std::string json) {
        out += "data: ";
        out += json;
        out += "\n\n";
        payloads.push_back(std::move(json));
    };
    std::string const head = R"({"id":"chatcmpl-BENCH0123456789","object":"chat.completion.chunk","created":1718000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0123456789",)";
    add(head + R"("choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null})");
    for (std::size_t i = 0; i < chunks; ++i)
        add(head + R"("choices":[{"index":0,"delta":{"content":")" + std::string(words[i % 14]) +
            R"("},"logprobs":null,"finish_reason":null}],"usage":null})");
    add(head + R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})");
    add(head + R"("choices":[],"usage":{"prompt_tokens":61,"completion_tokens":)" +
        std::to_string(chunks) + R"(,"total_tokens":)" + std::to_string(61 + chunks) +
        R"(,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}})");
    out += "data: [DONE]\n\n";
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t chunks = 1000, rounds = 200, read_size = 16384;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--chunks")) chunks = std::strtoul(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--rounds")) rounds = std::strtoul(argv[i + 1], nullptr, 10);
        else if (!std::strcmp(argv[i], "--read-size")) read_size = std::strtoul(argv[i + 1], nullptr, 10);
    }
    std::vector<std::string> payloads;
    std::string const stream = make_stream(chunks, payloads);
    auto const& fmt = llmux::detail::openai_chat_format();

    // Warm up and check the decode is right.
    std::size_t text_bytes = 0, out_chunks = 0;
    {
        auto d = fmt.make_stream_decoder();
        std::vector<llmux::chat_chunk> out;
        for (std::size_t off = 0; off < stream.size(); off += read_size)
            if (!d->feed(std::string_view(stream).substr(off, read_size), out)) return 1;
        if (!d->finish(out)) return 1;
        for (auto const& c : out) text_bytes += c.text.size();
        out_chunks = out.size();
    }

    auto t0 = std::chrono::steady_clock::now();
    std::size_t produced = 0;
    std::vector<llmux::chat_chunk> out;
    for (std::size_t r = 0; r < rounds; ++r) {
        auto d = fmt.make_stream_decoder();
        out.clear();
        for (std::size_t off = 0; off < stream.size(); off += read_size)
            (void)d->feed(std::string_view(stream).substr(off, read_size), out);
        (void)d->finish(out);
        produced += out.size();
    }
    double const llmux_s = seconds_since(t0);

    // Baseline: Boost.JSON parsing the same JSON payloads (no SSE framing, no mapping).
    boost::json::parser p;
    t0 = std::chrono::steady_clock::now();
    std::size_t parsed = 0;
    for (std::size_t r = 0; r < rounds; ++r) {
        for (auto const& pl : payloads) {
            p.reset();
            boost::system::error_code ec;
            p.write(pl, ec);
            if (!ec) ++parsed;
            (void)p.release();
        }
    }
    double const json_s = seconds_since(t0);

    double const mb = static_cast<double>(stream.size() * rounds) / 1e6;
    double const events = static_cast<double>((chunks + 4) * rounds);
    std::printf("stream: %zu bytes, %zu events, %zu text bytes -> %zu chunks (read size %zu)\n",
                stream.size(), chunks + 4, text_bytes, out_chunks, read_size);
    std::printf("%-34s %9.1f MB/s %12.0f events/s %9.3f us/event\n",
                "llmux SSE+JSON+unified decode", mb / llmux_s, events / llmux_s,
                1e6 * llmux_s / events);
    std::printf("%-34s %9.1f MB/s %12.0f events/s %9.3f us/event\n",
                "Boost.JSON raw parse (same JSON)", mb / json_s, events / json_s,
                1e6 * json_s / events);
    std::printf("ratio llmux/raw-parse time: %.2f  (chunks produced %zu, parsed %zu)\n",
                llmux_s / json_s, produced, parsed);
    return 0;
}
