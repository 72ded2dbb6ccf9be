// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace llmux {

/// @brief Header lines or query parameters in order, each a name and a value.
using header_list = std::vector<std::pair<std::string, std::string>>;

}  // namespace llmux
