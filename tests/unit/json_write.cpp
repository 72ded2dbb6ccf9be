// SPDX-License-Identifier: BSL-1.0
#include "util/json_write.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <limits>

namespace json = boost::json;
using llmux::detail::to_json;

BOOST_AUTO_TEST_SUITE(json_write)

BOOST_AUTO_TEST_CASE(numbers_read_naturally) {
    BOOST_TEST(to_json(json::value(0.2)) == "0.2");
    BOOST_TEST(to_json(json::value(5.976)) == "5.976");
    BOOST_TEST(to_json(json::value(1.0)) == "1.0");
    BOOST_TEST(to_json(json::value(-3.5)) == "-3.5");
    BOOST_TEST(to_json(json::value(1e300)) == "1e+300");
    BOOST_TEST(to_json(json::value(std::int64_t(-42))) == "-42");
    BOOST_TEST(to_json(json::value(std::uint64_t(18446744073709551615ull))) ==
               "18446744073709551615");
    BOOST_TEST(to_json(json::value(std::numeric_limits<double>::infinity())) == "null");
    BOOST_TEST(to_json(json::value(std::nan(""))) == "null");
}

BOOST_AUTO_TEST_CASE(round_trips_through_boost_json) {
    char const* docs[] = {
        R"({"a":[1,2.5,"x\n\"y\"",true,false,null,{"b":{}}],"c":"\u0001é"})",
        R"([0.1,0.30000000000000004,123456789.125,-0.0])",
        R"({"model":"m","temperature":0.7,"messages":[{"role":"user","content":"hi"}]})",
    };
    for (auto d : docs) {
        auto const v = json::parse(d);
        auto const text = to_json(v);
        BOOST_TEST_CONTEXT(d) {
            BOOST_TEST(json::parse(text) == v);
            BOOST_TEST(text.find("E") == std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(strings_are_escaped) {
    BOOST_TEST(to_json(json::value("a\"b\\c\n\t\x01")) == R"("a\"b\\c\n\t\u0001")");
}

BOOST_AUTO_TEST_SUITE_END()
