// SPDX-License-Identifier: BSL-1.0
// The openai stream decoder over arbitrary bytes in arbitrary splits: never crashes, never
// reports success for a stream it did not see complete... and the result does not depend on
// how the bytes were split. The SAX scan of the common shape (wire/openai_chat_scan.hpp) must
// decode everything exactly as the DOM does: the same bytes go through the stream decoder and
// the answer decoder with the scan and without it, and every field of the results must agree.
// The scan's shapes (shape_cache, one per thread) outlive an input: those learnt from earlier
// inputs are tried on the later ones, which are mostly mutations of them, so the shape reader
// is checked against the DOM on near misses all the time. (A crash it finds may need the
// inputs before it to replay: run the corpus, not the one input.)
#include "split.hpp"

#include "wire/formats.hpp"
#include "wire/openai_chat.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

void describe(std::string& out, llmux::usage const& u) {
    for (auto const* c : {&u.input_tokens, &u.output_tokens, &u.total_tokens,
                          &u.cached_input_tokens, &u.cache_write_tokens, &u.reasoning_tokens})
        out += *c ? std::to_string(**c) + "," : "-,";
    char cost[32] = "-";
    if (u.reported_cost) std::snprintf(cost, sizeof cost, "%.17g", *u.reported_cost);
    out += cost;
}

void describe(std::string& out, std::vector<llmux::reasoning_part> const& parts) {
    for (auto const& p : parts)
        out += "|r" + std::to_string(static_cast<int>(p.type)) + p.text + "/" + p.signature +
               "/" + p.data + "/" + p.id + "/" + p.origin;
}

void describe(std::string& out, llmux::failure const& f) {
    out += llmux::code_name(f.code);
    out += "|" + f.diag.message + "|" + f.diag.error_type + "|" + f.diag.error_code + "|" +
           f.diag.request_id + "|" + std::to_string(f.diag.http_status);
}

std::string run(std::uint8_t const* data, std::size_t size, std::uint8_t first, bool scan) {
    auto dec = llmux::detail::openai::make_chunk_decoder(scan);
    std::vector<llmux::chat_chunk> out;
    std::string failed;
    std::vector<std::uint8_t> copy(data, data + size);
    copy[0] = first;
    llmux::fuzz::for_each_piece(copy.data(), copy.size(), [&](std::string_view piece) {
        auto r = dec->feed(piece, out);
        if (!r) describe(failed, r.error());
        return r.has_value();
    });
    if (failed.empty()) {
        auto r = dec->finish(out);
        if (r)
            failed = "complete";
        else
            describe(failed, r.error());
    }
    std::string text = failed + "\n" + dec->info().id + "|" + dec->info().model + "|" +
                       dec->info().native_finish_reason + "\n";
    for (auto const& c : out) {
        text += "[" + c.text + "|" + c.reasoning;
        for (auto const& t : c.tool_calls)
            text += "|" + std::to_string(t.index) + t.id + t.name + t.arguments + t.signature;
        describe(text, c.reasoning_parts);
        text += c.finish_reason ? std::to_string(static_cast<int>(*c.finish_reason)) : "-";
        if (c.usage) describe(text, *c.usage);
        text += "]";
    }
    return text;
}

std::string answer(std::string_view body, bool scan) {
    llmux::detail::response_head head;
    head.status = 200;
    auto r = llmux::detail::openai::decode_answer(head, body, scan);
    std::string text;
    if (!r) {
        describe(text, r.error());
        return text;
    }
    text = r->id + "|" + r->model + "|" + r->content + "|" + r->reasoning + "|" +
           r->native_finish_reason + "|" + std::to_string(static_cast<int>(r->finish_reason));
    for (auto const& t : r->tool_calls) text += "|" + t.id + t.name + t.arguments + t.signature;
    describe(text, r->reasoning_parts);
    describe(text, r->usage);
    return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    auto const scanned = run(data, size, data[0], true);
    if (scanned != run(data, size, 7, true)) std::abort();
    if (scanned != run(data, size, data[0], false)) std::abort();
    // The bytes as an answer's body, and each `data:` line's payload as one.
    std::string_view const bytes(reinterpret_cast<char const*>(data) + 1, size - 1);
    if (answer(bytes, true) != answer(bytes, false)) std::abort();
    for (std::size_t at = bytes.find("data:"); at != std::string_view::npos;
         at = bytes.find("data:", at + 5)) {
        auto line = bytes.substr(at + 5);
        line = line.substr(0, line.find('\n'));
        if (answer(line, true) != answer(line, false)) std::abort();
    }
    return 0;
}
