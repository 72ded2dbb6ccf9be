// SPDX-License-Identifier: BSL-1.0
// util/text: the case-insensitive comparisons and the one reading of data URIs that the wire
// formats, the server sides and the prompt estimate share.
#include "util/text.hpp"
#include "wire/common.hpp"
#include "wire/openai_chat.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

using namespace llmux::detail;

BOOST_AUTO_TEST_SUITE(text)

BOOST_AUTO_TEST_CASE(case_insensitive_comparisons_are_ascii_only) {
    BOOST_TEST(iequals("Content-Type", "content-type"));
    BOOST_TEST(!iequals("Content-Type", "content-typ"));
    BOOST_TEST(!iequals("\xc3\x89", "\xc3\xa9"));  // É and é: not ASCII, compared as bytes
    BOOST_TEST(istarts_with("DATA:x", "data:"));
    BOOST_TEST(!istarts_with("dat", "data:"));
    BOOST_TEST(iends_with("image/png;BASE64", ";base64"));
    BOOST_TEST(!iends_with("64", ";base64"));
    BOOST_TEST(icontains("Rate LIMIT exceeded", "limit"));
    BOOST_TEST(!icontains("rate", "rates"));
}

BOOST_AUTO_TEST_CASE(data_uris_split_into_views) {
    auto const p = split_data_uri("data:image/png;base64,iVBOR");
    BOOST_TEST_REQUIRE(p.has_value());
    BOOST_TEST(p->media_type == "image/png");
    BOOST_TEST(p->base64);
    BOOST_TEST(p->data == "iVBOR");

    // The scheme and ";base64" in any case; the media type as written.
    auto const u = split_data_uri("DATA:Image/PNG;BASE64,iVBOR");
    BOOST_TEST_REQUIRE(u.has_value());
    BOOST_TEST(u->media_type == "Image/PNG");
    BOOST_TEST(u->base64);

    // Parameters stay in the media type; data that is not base64 is said so.
    auto const t = split_data_uri("data:text/plain;charset=utf-8,hello,world");
    BOOST_TEST_REQUIRE(t.has_value());
    BOOST_TEST(t->media_type == "text/plain;charset=utf-8");
    BOOST_TEST(!t->base64);
    BOOST_TEST(t->data == "hello,world");  // the first comma ends the media type

    auto const bare = split_data_uri("data:,x");
    BOOST_TEST_REQUIRE(bare.has_value());
    BOOST_TEST(bare->media_type.empty());
    BOOST_TEST(!bare->base64);

    auto const empty = split_data_uri("data:image/png;base64,");
    BOOST_TEST_REQUIRE(empty.has_value());
    BOOST_TEST(empty->data.empty());

    for (std::string_view bad : {"", "data:", "data:image/png;base64", "https://x/a.png",
                                 "dat:image/png;base64,AAAA", " data:image/png;base64,AAAA"})
        BOOST_TEST(!split_data_uri(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(every_reader_of_base64_data_uris_agrees) {
    // The wire formats' checks are all the same reading: a base64 data URI with a media type.
    for (std::string_view uri : {"data:image/png;base64,AAAA", "DATA:IMAGE/PNG;BASE64,AAAA",
                                 "data:application/pdf;Base64,JVBE", "data:;base64,AAAA",
                                 "data:image/png,AAAA", "data:image/png;base64", "image/png",
                                 "data:image/png;base64,"}) {
        auto const p = split_data_uri(uri);
        bool const expected = p && p->base64 && !p->media_type.empty();
        std::string_view media, data;
        BOOST_TEST(parse_data_uri(uri, media, data) == expected, uri);
        BOOST_TEST(openai::is_base64_data_uri(uri) == expected, uri);
        if (expected) {
            BOOST_TEST(media == p->media_type);
            BOOST_TEST(data.data() == p->data.data());  // a view, not a copy
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
