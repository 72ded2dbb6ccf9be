// SPDX-License-Identifier: BSL-1.0
// Precompiled header for test translation units (build speed only).
#pragma once
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <string>
#include <vector>
