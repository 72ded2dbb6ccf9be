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
          "  embed     turn texts into vectors with one embedding model (JSON out)\n"
          "  compare   send one prompt to many models at once and show the answers side by side\n"
          "  bench     measure latency, time to first token and throughput per model\n"
          "  models    list the model catalog: prices, context windows, capabilities\n"
          "  serve     run the OpenAI-compatible gateway\n"
          "  emulate   run the built-in provider emulator (OpenAI, Anthropic, Gemini, Vertex, Bedrock)\n"
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
        if (cmd == "embed") return llmux_cli_embed(args);
        if (cmd == "emulate") return llmux_cli_emulate(args);
        if (cmd == "compare") return llmux_cli_compare(args);
        if (cmd == "bench") return llmux_cli_bench(args);
        if (cmd == "models") return llmux_cli_models(args);
        if (cmd == "serve") return llmux_cli_serve(args);
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
