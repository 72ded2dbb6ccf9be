// SPDX-License-Identifier: BSL-1.0
#include "util/estimate.hpp"

#include "util/crypto.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <variant>

namespace llmux::detail {

namespace {

/// The estimates of `bytes` of text, `images` images and `pages` document pages at the rates
/// of `prompt_size`, the highest with `framing` tokens at most for the boundaries of messages
/// or inputs.
prompt_size rated(std::size_t bytes, std::size_t images, std::uint64_t pages,
                  std::uint64_t framing) noexcept {
    prompt_size s;
    s.bytes = bytes;
    s.images = images;
    s.pages = pages;
    auto const b = static_cast<std::uint64_t>(bytes);
    auto const imgs = static_cast<std::uint64_t>(images);
    s.lowest = b / 6 + 85 * imgs + 258 * pages;
    s.typical = (b + 3) / 4 + 800 * imgs + 1500 * pages;
    s.highest = (b + 1) / 2 + 1600 * imgs + 3000 * pages + framing;
    return s;
}

/// The pages of a PDF: its page objects (`/Type /Page`, not `/Pages`) where the page tree is
/// not compressed; else one page per 50 kB, the size of a typical scanned-free report page.
std::uint64_t pdf_pages(std::string_view pdf) noexcept {
    std::uint64_t n = 0;
    for (auto at = pdf.find("/Type"); at != std::string_view::npos; at = pdf.find("/Type", at)) {
        at += 5;
        auto i = at;
        while (i < pdf.size() && (pdf[i] == ' ' || pdf[i] == '\r' || pdf[i] == '\n')) ++i;
        if (pdf.substr(i, 5) == "/Page" && (i + 5 == pdf.size() || pdf[i + 5] != 's')) ++n;
    }
    if (n == 0) n = std::max<std::uint64_t>(1, (pdf.size() + 49'999) / 50'000);
    return n;
}

/// What a document part adds: text bytes for a text document, pages for anything else. A
/// document given by URL is not fetched: it counts as `url_pages` pages.
void add_document(document_part const& d, std::size_t& bytes, std::uint64_t& pages) {
    constexpr std::uint64_t url_pages = 10;
    auto const uri = split_data_uri(d.url);
    if (!uri) {
        if (!istarts_with(d.url, "data:")) pages += url_pages;  // not fetched
        return;
    }
    auto const data = uri->data;
    bool const text = istarts_with(uri->media_type, "text/") ||
                      istarts_with(uri->media_type, "application/json");
    if (!uri->base64) {
        if (text) bytes += data.size();
        else pages += pdf_pages(data);
        return;
    }
    auto const decoded = data.size() / 4 * 3;
    if (text) {
        bytes += decoded;
        return;
    }
    // The estimate runs several times a call (limits, budgets, routing): only a document of
    // up to 1 MiB is decoded (a copy) to count its page objects; a larger one, and one with no
    // memory for the copy, counts by size.
    auto const by_size = std::max<std::uint64_t>(1, (decoded + 49'999) / 50'000);
    if (decoded > (1u << 20)) {
        pages += by_size;
        return;
    }
    try {
        if (auto raw = base64_decode(data)) pages += pdf_pages(*raw);
        else pages += by_size;
    } catch (...) {
        pages += by_size;
    }
}

}  // namespace

prompt_size estimate_prompt(chat_request const& req) noexcept {
    std::size_t bytes = req.system.size();
    std::size_t images = 0;
    std::uint64_t pages = 0;
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
            else if (auto const* d = std::get_if<document_part>(&part))
                add_document(*d, bytes, pages);
            else if (auto const* rp = std::get_if<reasoning_part>(&part))
                bytes += rp->text.size();  // sent back, it is read again (signatures are not)
        }
    }
    for (auto const& t : req.tools) {
        // A tool's schema is JSON: about 64 bytes a property on the wire.
        bytes += t.name.size() + t.description.size() + 64 * t.parameters.size();
    }
    return rated(bytes, images, pages, 8 * static_cast<std::uint64_t>(req.messages.size() + 1));
}

prompt_size estimate_inputs(std::span<std::string const> inputs) noexcept {
    std::size_t bytes = 0;
    for (auto const& t : inputs) bytes += t.size();
    // A token or two per input for its boundaries.
    return rated(bytes, 0, 0, 2 * static_cast<std::uint64_t>(inputs.size()));
}

}  // namespace llmux::detail
