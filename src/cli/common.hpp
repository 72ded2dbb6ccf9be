// SPDX-License-Identifier: BSL-1.0
// What the subcommands share: provider options, the built-in emulator fallback, JSON output.
#pragma once

#include <llmux/client.hpp>
#include <llmux/config.hpp>
#include <llmux/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/program_options.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmux::cli {

/// Options every command that calls providers takes.
struct provider_options {
    std::string config_file;
    std::string base_url;
    std::string ca_file;
    std::string timeout;
    bool insecure = false;
};

void add_provider_options(boost::program_options::options_description& desc,
                          provider_options& opts);

/// A configured command run: the io_context, the client settings and, when no provider keys
/// are set, the built-in emulator that answers instead.
struct session {
    boost::asio::io_context io;
    client_config cfg;
    std::unique_ptr<emulator> emu;
};

/** Builds the client settings from the environment, `--config`, `--base-url` (applied to the
    providers of `models`; a provider the library does not know becomes an OpenAI-compatible
    one at that URL) and the other flags. With no provider keys set and no `--base-url`, starts
    the built-in emulator, points every provider at it, and says so on stderr.
*/
result<void> setup(session& s, provider_options const& opts,
                   std::vector<std::string> const& models, std::string const& command);

/// Parses the command line; prints one line and returns false on a bad flag.
bool parse_args(std::vector<std::string> const& args,
                boost::program_options::options_description const& desc,
                boost::program_options::positional_options_description const& pos,
                boost::program_options::variables_map& vm, std::string const& command);

/// The `--json` object of one call (the fields of `llmux chat --json`).
boost::json::object result_json(result<chat_response> const& r, std::string const& model);

/// Milliseconds as a JSON number with microsecond precision.
double to_ms(std::chrono::nanoseconds d);

/// Splits "a,b,c" into its non-empty, trimmed parts.
std::vector<std::string> split_list(std::string const& s);

}  // namespace llmux::cli
