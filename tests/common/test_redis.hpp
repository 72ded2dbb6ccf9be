// SPDX-License-Identifier: BSL-1.0
// The test Redis of the Redis store's tests: LLMUX_TEST_REDIS=host:port (scripts/test.sh
// starts a redis-server on a free loopback port and sets it).
#pragma once

#include <llmux/state.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>

namespace llmux::test {

/// A fresh random tag, for key prefixes and file names no other test run uses.
inline std::string random_tag() {
    std::random_device rd;
    return std::to_string(rd()) + std::to_string(rd());
}

/** The test Redis from LLMUX_TEST_REDIS, with the key prefix `prefix` + a random tag of its
    own (so runs never see each other's keys) and generous timeouts (sanitizers, a loaded
    machine); empty, with a message saying the test is skipped, when the variable is unset.
*/
inline std::optional<redis_store_config> test_redis(std::string const& prefix = "llmux-test") {
    using namespace std::chrono_literals;
    char const* addr = std::getenv("LLMUX_TEST_REDIS");
    if (!addr || !*addr) {
        BOOST_TEST_MESSAGE("skipped: LLMUX_TEST_REDIS is not set (host:port of a test "
                           "redis-server; scripts/test.sh sets it)");
        return std::nullopt;
    }
    redis_store_config cfg;
    auto r = cfg.set_address(addr, "LLMUX_TEST_REDIS");
    BOOST_TEST_REQUIRE(r.has_value(), r.error());
    cfg.prefix = prefix + ":" + random_tag() + ":";
    cfg.request_timeout = 10s;
    cfg.connect_timeout = 10s;
    return cfg;
}

}  // namespace llmux::test
