// SPDX-License-Identifier: BSL-1.0
// The one Boost.Test entry point shared by every test executable.
#define BOOST_TEST_MODULE llmux
#include <boost/test/unit_test.hpp>
