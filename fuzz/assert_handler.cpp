// SPDX-License-Identifier: BSL-1.0
// The fuzz build keeps assertions on, Boost's too (BOOST_ENABLE_ASSERT_HANDLER sends them here):
// a failed assertion is a finding and aborts, except one that Boost itself has since found
// wrong. Beast 1.81's chunked-body parser asserts that at least 5 bytes follow a final chunk's
// header when it is called again after "0\r\n" with one more byte ("0\r\n\r": 4), which is
// valid input; the code after the assertion asks for more, as it should (boostorg/beast#2861,
// fixed in Boost 1.86). Builds with NDEBUG, the ones people run, never had the assertion.
#include <boost/assert.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace boost {

namespace {

bool known_wrong(char const* expr, char const* file) {
    return std::strcmp(expr, "n >= 5") == 0 &&
           std::strstr(file, "boost/beast/http/impl/basic_parser.ipp") != nullptr;
}

}  // namespace

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
    if (known_wrong(expr, file)) return;
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
    std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function,
                          char const* file, long line) {
    if (known_wrong(expr, file)) return;
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr,
                 msg);
    std::abort();
}

}  // namespace boost
