// SPDX-License-Identifier: BSL-1.0
// What the subcommands share: provider options, the built-in emulator fallback, JSON output.
#pragma once

#include <llmux/client.hpp>
#include <llmux/combinators.hpp>
#include <llmux/config.hpp>
#include <llmux/emulator.hpp>
#include <llmux/router.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/program_options.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmux::cli {

/// What `chat`, `compare` and `bench` ask: PROMPT (words, or `-` for standard input),
/// `--system`, `--temperature`, `--max-tokens`.
struct prompt_options {
    std::vector<std::string> words;
    std::string system;
    double temperature = -1;
    std::int64_t max_tokens = 0;
    /// `--effort`, `--thinking-budget`, `--show-reasoning` / `--hide-reasoning`.
    std::string effort;
    std::int64_t thinking_budget = -2;
    bool show_reasoning = false;
    bool hide_reasoning = false;
};

/// Adds `--system`, `--temperature`, `--max-tokens` (described by `max_tokens_help`) and the
/// reasoning controls (`--effort`, `--thinking-budget`, `--show-reasoning`, `--hide-reasoning`).
void add_prompt_options(boost::program_options::options_description& desc, prompt_options& opts,
                        char const* max_tokens_help);

/** Parses the command line: `desc` plus PROMPT as positional words. Prints `--help` (exit 0) or
    one line for a bad flag (exit 2); returns the exit code when the command ends here.
*/
std::optional<int> parse_command(std::vector<std::string> const& args,
                                 boost::program_options::options_description const& desc,
                                 prompt_options& prompt, boost::program_options::variables_map& vm,
                                 std::string const& command);

/** The request of the prompt options (no model yet): reads standard input for `-`. Errors
    name the problem (a missing prompt, a bad `--max-tokens`).
*/
result<chat_request> make_request(prompt_options const& opts,
                                  boost::program_options::variables_map const& vm);

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
    /// `threads`: how many threads will run `io`. One (every command but `serve`) tells asio,
    /// and llmux, that no strands are needed (util/strand.hpp).
    explicit session(int threads = 1) : io(threads) {}
    boost::asio::io_context io;
    client_config cfg;
    std::unique_ptr<emulator> emu;
};

/** Runs `work` on `s.io` until it finishes, cancelling it on SIGINT or SIGTERM, then stops the
    built-in emulator. Returns the exit code `work` gave, or 1 when it did not finish.
*/
int run_until_done(session& s, std::function<boost::asio::awaitable<int>()> work);

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

/// How a call is made: one model, fallback, a route, or hedging (`--fallback`, `--route`, ...).
struct call_options {
    std::string fallback;     ///< "M2,M3": models tried after -m, in order
    std::string per_attempt;  ///< duration
    std::string deadline;     ///< duration
    std::string route;        ///< cheapest|fastest|best|weighted|least_busy
    std::string hedge;        ///< a delay, or "auto" for the measured p95
};

void add_call_options(boost::program_options::options_description& desc, call_options& opts);

/// The validated form of `call_options`.
struct call_plan {
    std::vector<std::string> models;  ///< -m first, then --fallback
    std::optional<route> how;
    fallback_options fallback;
    std::optional<hedge_options> hedge;
    /// True when the call is more than one plain call to one model.
    bool combined() const { return how || hedge || models.size() > 1; }
};

/// Checks the flags (durations, route names, combinations); errors name the flag.
result<call_plan> make_plan(call_options const& opts, std::string const& model);

/// Makes the call the plan describes: chat, fallback, route, or hedge.
boost::asio::awaitable<result<chat_response>> run_call(client& c, router& r, call_plan const& plan,
                                                       chat_request req);

/// Starts the stream the plan describes: a plain call, or a fallback/route (hedging is not
/// streamed: it falls back instead). One stream type either way.
chat_stream start_stream(client& c, router& r, call_plan const& plan, chat_request req);

/// The `--json` object of one call (the fields of `llmux chat --json`).
boost::json::object result_json(result<chat_response> const& r, std::string const& model);

/// @brief A usage as `--json` prints it: input, output and total tokens, cached reads, cache
/// writes and reasoning tokens (each null when the provider did not report it) and the cost the
/// provider reported itself (OpenRouter), if any.
boost::json::object usage_json(usage const& u);

/// The `attempts` array of `--json` output: model, error (code, status, message) and latency.
boost::json::array attempts_json(std::vector<attempt> const& attempts);

/// Milliseconds as a JSON number with microsecond precision.
double to_ms(std::chrono::nanoseconds d);

/** Reads an emulator script file (`llmux emulate --script`, `LLMUX_EMULATE_SCRIPT`): a JSON
    object of model name -> directives (`{"gpt-4o-mini": "ttft=300ms,tps=80"}`), layered on
    `cfg.defaults`. Errors name the file and the model.
*/
result<void> load_emulator_script(std::string const& path, emulator_config& cfg);

/// Prices an answer the client left unpriced because its model id carries emulator
/// directives (`openai/gpt-4o-mini~ttft=200ms`): at the catalog price of the id before the `~`.
void price_scripted(chat_response& r, client_config const& cfg);

/// `price_scripted` for the vectors of an embedding call (their input tokens).
void price_scripted(embedding_response& r, client_config const& cfg);

/// Splits "a,b,c" into its non-empty, trimmed parts.
std::vector<std::string> split_list(std::string const& s);

/// Splits a list of model ids like `split_list`, keeping emulator directives whole: in
/// "openai/a~ttft=200ms,tps=100,openai/b" a part of the form `key=value` (no '/' before the
/// '=') continues the previous id after its '~', so this gives two ids.
std::vector<std::string> split_models(std::string const& s);

}  // namespace llmux::cli
