// SPDX-License-Identifier: BSL-1.0
// The one estimate of a prompt's size in tokens before it is sent, used by the client (context
// window check, rate limits, budget reservations), the router (price ranking, context needs) and
// the gateway (its keys' rate limits and budgets). Providers count tokens their own way; this
// needs no tokenizer and gives three figures for three uses.
#pragma once

#include <llmux/types.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace llmux::detail {

/// A prompt's size: its bytes and three token estimates.
struct prompt_size {
    /// Bytes of everything the prompt sends: system, text, tool calls and results, tool
    /// definitions, reasoning sent back, text documents.
    std::size_t bytes = 0;
    /// Images (priced by the providers per image, not per byte).
    std::size_t images = 0;
    /** Pages of documents (PDFs are read as text and an image per page: Gemini counts 258
        tokens a page, Anthropic 1,500 to 3,000). A PDF's pages are counted from its page
        objects, or from its size (50 kB a page) when its page tree is compressed; a document
        given by URL is not fetched and counts as 10 pages; a text document counts as text.
    */
    std::uint64_t pages = 0;
    /// The lowest plausible count (6 bytes a token, images at 85, pages at 258): a prompt is
    /// refused for not fitting a context window only when even this does not fit.
    std::uint64_t lowest = 0;
    /// The usual count (4 bytes a token, images at 800, pages at 1,500): rate limits, price
    /// ranking.
    std::uint64_t typical = 0;
    /** A count that real prompts stay under (2 bytes a token, which covers non-Latin
        scripts at about one token per character, images at 1,600, pages at 3,000, plus a few
        tokens per message): budget reservations, so that concurrent calls cannot overshoot a
        budget.
    */
    std::uint64_t highest = 0;
};

/// Estimates the size of `req`'s prompt.
prompt_size estimate_prompt(chat_request const& req) noexcept;

/// Estimates the size of texts to embed (`embedding_request::inputs`), with the same rates.
prompt_size estimate_inputs(std::span<std::string const> inputs) noexcept;

}  // namespace llmux::detail
