// SPDX-License-Identifier: BSL-1.0
// The subcommands of the `llmux` command, each a function of its arguments (those after the
// subcommand's name). Each returns the process exit code: 0 success, 1 the operation failed,
// 2 bad usage.
#pragma once

#include <string>
#include <vector>

/// @brief `llmux chat -m MODEL [options] PROMPT`: one prompt to one model.
int llmux_cli_chat(std::vector<std::string> const& args);

/// @brief `llmux embed -m MODEL [options] TEXT...`: texts to vectors, printed as JSON.
int llmux_cli_embed(std::vector<std::string> const& args);

/** @brief `llmux emulate [options]`: runs the provider emulator until SIGINT or SIGTERM.

    @param args The arguments after `emulate` (a leading "emulate" is skipped too).
    @return 0 after a clean stop, 1 when the emulator cannot start, 2 for bad options.
*/
int llmux_cli_emulate(std::vector<std::string> const& args);

/// @brief `llmux compare -m M1,M2,... [options] PROMPT`: one prompt to many models at once.
int llmux_cli_compare(std::vector<std::string> const& args);

/// @brief `llmux bench -m M1,M2,... -n N -c C [options] PROMPT`: latency benchmark per model.
int llmux_cli_bench(std::vector<std::string> const& args);

/// @brief `llmux models [--json] [filters]`: the model catalog.
int llmux_cli_models(std::vector<std::string> const& args);

/// @brief `llmux serve [options]`: the OpenAI-compatible gateway.
int llmux_cli_serve(std::vector<std::string> const& args);
