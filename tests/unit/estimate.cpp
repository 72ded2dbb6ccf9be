// SPDX-License-Identifier: BSL-1.0
// The one prompt-size estimate (src/util/estimate.hpp) that the client, the router and the
// gateway share.
#include "util/estimate.hpp"

#include "util/crypto.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace llmux;

BOOST_AUTO_TEST_SUITE(estimate)

BOOST_AUTO_TEST_CASE(counts_every_part_of_the_prompt) {
    chat_request r;
    r.system = std::string(40, 's');
    r.messages.push_back(user(std::string(400, 'u')));
    r.messages.push_back(assistant("", {tool_call{"c1", "lookup", std::string(60, 'a')}}));
    r.messages.push_back(tool_answer("c1", std::string(100, 'r')));
    tool t;
    t.name = "lookup";
    t.description = std::string(20, 'd');
    r.tools.push_back(t);
    auto const s = detail::estimate_prompt(r);
    BOOST_TEST(s.bytes == 40u + 400u + 6u + 60u + 100u + 6u + 20u);
    BOOST_TEST(s.images == 0u);
    BOOST_TEST(s.lowest == s.bytes / 6);
    BOOST_TEST(s.typical == (s.bytes + 3) / 4);
    BOOST_TEST(s.lowest <= s.typical);
    BOOST_TEST(s.typical <= s.highest);
}

BOOST_AUTO_TEST_CASE(the_highest_estimate_covers_dense_scripts_and_images) {
    // About one token per character for Chinese: 3 bytes a character in UTF-8.
    std::string chinese;
    for (int i = 0; i < 300; ++i) chinese += "\xe4\xb8\xad";
    chat_request r;
    r.messages.push_back(user(chinese));
    auto const s = detail::estimate_prompt(r);
    BOOST_TEST(s.highest >= 300u);  // every character a token still fits the reservation
    chat_request img;
    img.messages.push_back(user({image_part{"https://example.com/a.png", ""}, text_part{"what?"}}));
    auto const i = detail::estimate_prompt(img);
    BOOST_TEST(i.images == 1u);
    BOOST_TEST(i.lowest >= 85u);
    BOOST_TEST(i.typical >= 800u);
    BOOST_TEST(i.highest >= 1600u);
}

BOOST_AUTO_TEST_CASE(documents_count_by_page_and_text_documents_as_text) {
    // A PDF with three page objects (an uncompressed page tree), given as base64 data.
    std::string const pdf =
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        "2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >> endobj\n"
        "3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n"
        "4 0 obj << /Type/Page /Parent 2 0 R >> endobj\n"
        "5 0 obj << /Type\n/Page /Parent 2 0 R >> endobj\n%%EOF\n";
    chat_request r;
    r.messages.push_back(user({document_base64("application/pdf", detail::base64_encode(pdf),
                                               "report.pdf"),
                               text_part{"summarise"}}));
    auto const s = detail::estimate_prompt(r);
    BOOST_TEST(s.pages == 3u);
    BOOST_TEST(s.bytes == 9u);  // the text part only
    // The URI's scheme, ";base64" and media type are read whatever their case, as the wire
    // formats read them (util/text's split_data_uri).
    chat_request upper;
    upper.messages.push_back(user({document_part{
        "DATA:APPLICATION/PDF;BASE64," + detail::base64_encode(pdf), "report.pdf", {}}}));
    BOOST_TEST(detail::estimate_prompt(upper).pages == 3u);
    chat_request text_upper;
    text_upper.messages.push_back(user({document_part{
        "Data:Text/Plain;Base64," + detail::base64_encode(std::string(300, 'x')), "a.txt", {}}}));
    BOOST_TEST(detail::estimate_prompt(text_upper).bytes == 300u);
    BOOST_TEST(detail::estimate_prompt(text_upper).pages == 0u);
    BOOST_TEST(s.lowest >= 3u * 258u);
    BOOST_TEST(s.typical >= 3u * 1500u);
    BOOST_TEST(s.highest >= 3u * 3000u);

    // A text document is its text; a document by URL is not fetched and counts as ten pages.
    chat_request t;
    t.messages.push_back(user({document_base64("text/plain", detail::base64_encode(std::string(300, 'x'))),
                               document_part{"https://example.com/a.pdf", "a.pdf", {}}}));
    auto const ts = detail::estimate_prompt(t);
    BOOST_TEST(ts.bytes == 300u);
    BOOST_TEST(ts.pages == 10u);

    // Reasoning sent back is read again: its text counts.
    chat_request back;
    reasoning_part rp;
    rp.text = std::string(120, 'r');
    rp.signature = std::string(500, 's');
    back.messages.push_back(message{role::assistant, {rp, text_part{"ok"}}});
    BOOST_TEST(detail::estimate_prompt(back).bytes == 122u);
}

BOOST_AUTO_TEST_SUITE_END()
