// SPDX-License-Identifier: BSL-1.0
// Placeholder until `llmux serve` is written.
#include "cli/commands.hpp"

#include <iostream>

int llmux_cli_serve(std::vector<std::string> const&) {
    std::cerr << "llmux serve: not available yet\n";
    return 2;
}
