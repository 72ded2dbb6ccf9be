// SPDX-License-Identifier: BSL-1.0
// The `llmux` command: a thin layer over the library; every subcommand calls into it.
#include "cli/commands.hpp"

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

void usage(std::ostream& os) {
    os << "usage: llmux <command> [options]\n"
          "\n"
          "commands:\n"
          "  chat      send one prompt to one model and print the answer\n"
          "  emulate   run the built-in provider emulator (OpenAI-compatible API)\n"
          "\n"
          "Run 'llmux <command> --help' for a command's options.\n"
          "With no provider API keys set, commands use the built-in emulator and say so.\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(std::cerr);
        return 2;
    }
    std::string const cmd = argv[1];
    std::vector<std::string> args(argv + 2, argv + argc);
    try {
        if (cmd == "chat") return llmux_cli_chat(args);
        if (cmd == "emulate") return llmux_cli_emulate(args);
        if (cmd == "--help" || cmd == "-h" || cmd == "help") {
            usage(std::cout);
            return 0;
        }
        if (cmd == "--version") {
            std::cout << "llmux 0.1.0\n";
            return 0;
        }
    } catch (std::exception const& e) {
        // Only misuse and out-of-memory throw; say what happened in one line.
        std::cerr << "llmux " << cmd << ": " << e.what() << "\n";
        return 1;
    }
    std::cerr << "llmux: unknown command '" << cmd << "' (try 'llmux --help')\n";
    return 2;
}
