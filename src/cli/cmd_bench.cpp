// SPDX-License-Identifier: BSL-1.0
// Placeholder until `llmux bench` is written.
#include "cli/commands.hpp"

#include <iostream>

int llmux_cli_bench(std::vector<std::string> const&) {
    std::cerr << "llmux bench: not available yet\n";
    return 2;
}
