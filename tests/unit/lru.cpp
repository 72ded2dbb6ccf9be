// SPDX-License-Identifier: BSL-1.0
#include "util/lru.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using llmux::detail::bounded_lru;

BOOST_AUTO_TEST_SUITE(lru)

BOOST_AUTO_TEST_CASE(never_holds_more_than_its_capacity) {
    bounded_lru<int> c(100);
    for (int i = 0; i < 10000; ++i) {
        c.put("key-" + std::to_string(i), i);
        BOOST_TEST_REQUIRE(c.size() <= 100u);
    }
    BOOST_TEST(c.size() == 100u);
    BOOST_TEST(!c.get("key-0").has_value());
    BOOST_TEST(*c.get("key-9999") == 9999);
    BOOST_TEST(*c.get("key-9900") == 9900);
    BOOST_TEST(!c.get("key-9899").has_value());
}

BOOST_AUTO_TEST_CASE(drops_the_least_recently_used) {
    bounded_lru<int> c(3);
    c.put("a", 1);
    c.put("b", 2);
    c.put("c", 3);
    BOOST_TEST(*c.get("a") == 1);  // a is now the most recent; b the least
    c.put("d", 4);
    BOOST_TEST(!c.get("b").has_value());
    BOOST_TEST(*c.get("a") == 1);
    BOOST_TEST(*c.get("c") == 3);
    BOOST_TEST(*c.get("d") == 4);
    c.put("c", 30);  // replacing refreshes and keeps the size
    BOOST_TEST(c.size() == 3u);
    BOOST_TEST(*c.get("c") == 30);
    c.clear();
    BOOST_TEST(c.size() == 0u);
    BOOST_TEST(!c.get("a").has_value());
    bounded_lru<int> zero(0);  // a capacity of 0 still keeps the last one
    zero.put("x", 1);
    zero.put("y", 2);
    BOOST_TEST(zero.size() == 1u);
    BOOST_TEST(*zero.get("y") == 2);
}

BOOST_AUTO_TEST_SUITE_END()
