// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/client.hpp>
#include <llmux/config.hpp>
#include <llmux/error.hpp>
#include <llmux/state.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

/// @brief How a model group orders its deployments for each request.
enum class group_strategy {
    /// In the configured order: the first deployment, the next on failure.
    fallback,
    /// A random order drawn by `model_group::weights` (load balancing), then fallback.
    weighted,
    /// Catalog price, cheapest first (see `route::cheapest`).
    cheapest,
    /// Measured time to first token, fastest first (see `route::fastest`).
    fastest,
    /// Catalog quality rank, best first.
    best,
    /// Fewest calls in flight first.
    least_busy,
};

/// @brief Parses `fallback`, `weighted`, `cheapest`, `fastest`, `best`, `least_busy`.
std::optional<group_strategy> parse_group_strategy(std::string_view s) noexcept;
char const* to_string(group_strategy s) noexcept;

/** @brief A key that clients of the gateway present (`Authorization: Bearer <key>`, or
    `x-api-key` on `/v1/messages`). Only its SHA-256 is kept, so configuration files need not
    hold secrets; the key itself is never logged or echoed.
*/
struct gateway_key {
    /// A name for logs and metrics (`team-a`); never the key.
    std::string name;
    /// SHA-256 of the key, 64 lowercase hex digits.
    std::string sha256;
    /// Spend allowed through this key, USD; once reached, requests get 402.
    std::optional<double> budget_usd;
    /// Token-bucket limits; 0 means none. Tokens are estimated before the call (prompt
    /// characters / 4 + `max_tokens`) and corrected with the usage reported afterwards.
    double requests_per_minute = 0;
    double tokens_per_minute = 0;
    /// May read every key's spend (`GET /v1/llmux/keys/{name}`); other keys read their own.
    bool admin = false;
};

/// @brief Which `state_store` a gateway keeps its keys' spend, reservations and rate limits in.
enum class state_backend {
    /// This process's memory: exact, fast, forgotten at exit (the default).
    memory,
    /// A SQLite file: spend and the request ledger survive restarts and crashes.
    sqlite,
    /// A Redis shared by several replicas: spend and rates are shared exactly.
    redis,
};

/** @brief Where a gateway keeps what must outlive a request, and what it does when that store
    fails. JSON (`gateway.state`): `{"sqlite": "llmux.db"}`, `{"redis": "127.0.0.1:6379"}` or
    `{"memory": true}`, with the optional fields below (`on_failure`, `reservation_ttl`,
    `durability`, `ledger_max_age`, `ledger_max_rows`, `redis_password_env`, `redis_prefix`).
*/
struct gateway_state_config {
    state_backend backend = state_backend::memory;
    /// `state_backend::sqlite`: the database file (created when missing).
    std::string sqlite_path;
    sqlite_durability durability = sqlite_durability::full;
    ledger_retention retention;
    /// `state_backend::redis`: address, credentials (`redis_password_env`), key prefix.
    redis_store_config redis;
    /** When the store fails (Redis unreachable, the SQLite file unwritable): `false` (the
        default) answers 503 `state_unavailable` to requests of keys with a budget or rate
        limit, since their limits cannot be checked; `true` serves them unchecked and logs it.
        Either way, a settlement that could not be saved is kept in memory and retried (up to
        `max_unsaved` of them), never dropped silently.
    */
    bool fail_open = false;
    /// How long a request's budget reservation counts if its gateway dies before settling it.
    std::chrono::milliseconds reservation_ttl = std::chrono::minutes(10);
    /// Settlements kept for retry while the store is failing.
    std::size_t max_unsaved = 10'000;
};

/** @brief The exact response cache of a model group (opt-in, `model_group::cache`).

    A request is looked up under a hash of its canonical unified form (the gateway key's name,
    the group, the system prompt, messages, tools, tool choice, response format, sampling
    parameters, stop sequences, seed, user and the fields passed on to a same-format upstream),
    so an answer never crosses keys or groups, and a whole answer and a stream of the same
    request share an entry (a cached answer is replayed as a stream to a stream request). Only
    complete answers are stored (finish reason stop, length or tool_calls); failures never are.
    A request with `temperature` above 0 is neither looked up nor stored unless
    `any_temperature` is set. A request header `Cache-Control: no-cache` skips the lookup (the
    fresh answer replaces the entry); `no-store` skips both. Hits cost nothing: no provider
    call, no spend, no rate-limit tokens; the answer carries the original usage and the
    header `x-llmux-cache: hit` (`miss` or `bypass` otherwise). Entries live in the gateway's
    state store (`gateway_state_config`): in memory, in the SQLite file (they survive a
    restart) or in Redis (shared by replicas), each with its size caps.
*/
struct response_cache_policy {
    /// How long an entry is served.
    duration ttl = std::chrono::minutes(10);
    /// Cache requests whose temperature is above 0 too.
    bool any_temperature = false;
};

/** @brief A public model name served by the gateway and the deployments behind it.
 */
struct model_group {
    /// `provider/model` ids, in fallback order for `group_strategy::fallback`.
    std::vector<std::string> deployments;
    group_strategy strategy = group_strategy::fallback;
    /// For `group_strategy::weighted`, by deployment (a deployment without one weighs 1).
    std::map<std::string, double, std::less<>> weights;
    /// Deadline of each attempt (to the first token, for streams); zero: none.
    duration per_attempt{};
    /// Deadline of the whole request across attempts; zero: none.
    duration deadline{};
    /// Extra attempts of each deployment before moving on to the next (retry within
    /// fallback), with exponential backoff and jitter between them, honouring `Retry-After`,
    /// all within `deadline`.
    unsigned retries = 0;
    /// The wait before a deployment's first retry; later waits double (up to 20 s).
    duration retry_backoff = std::chrono::milliseconds(500);
    /// Hedged requests: start the next deployment when the current one has not answered
    /// (streams: sent its first content) within this delay; the first answer (first token)
    /// wins, the other is cancelled and its connection closed.
    std::optional<duration> hedge;
    /** Streams only, opt-in: a stream that breaks after its answer began continues on the
        next deployment whose format takes the partial answer as a prefill (see
        `fallback_options::continue_streams`); otherwise the break is an error event.
    */
    bool continue_streams = false;
    /// The exact response cache, when set (off by default).
    std::optional<response_cache_policy> cache;
};

/** @brief Settings of a gateway.

    The JSON form (`gateway_config::load_json`), next to the client's own sections
    (`providers`, `timeouts`, `tls`, `pool`, `limits`, `breaker`, `catalog`, ...) in one file:
    @code
    {
      "gateway": {
        "keys": [{"name": "team-a", "key_env": "GW_KEY_1", "budget_usd": 5,
                  "requests_per_minute": 600, "tokens_per_minute": 100000},
                 {"name": "ci", "key_sha256": "9f86d0...15b0f00a08"}],
        "access_log": true, "access_log_file": "", "log_prompts": false,
        "max_body_bytes": 8388608, "max_header_bytes": 65536,
        "read_timeout": "30s", "write_timeout": "30s", "idle_timeout": "60s",
        "grace": "10s", "any_model": false, "reuse_port": false,
        "state": {"sqlite": "llmux.db", "on_failure": "closed", "reservation_ttl": "10m"}
      },
      "models": {
        "gpt-smart": {"deployments": ["openai/gpt-4o", "anthropic/claude-sonnet-4.6"],
                      "strategy": "fallback", "per_attempt": "10s", "deadline": "30s",
                      "retries": 1, "retry_backoff": "250ms", "hedge": "500ms",
                      "continue_streams": false,
                      "cache": {"ttl": "10m", "any_temperature": false}},
        "cheap": {"deployments": ["openai/gpt-4o-mini", "deepseek/deepseek-chat"],
                  "strategy": "weighted", "weights": {"openai/gpt-4o-mini": 3}},
        "mini": "openai/gpt-4o-mini"
      },
      "providers": { ... }
    }
    @endcode
    A model given as a string is a group of one deployment. `"cache": true` is the cache with its
    defaults (`response_cache_policy`). Durations are `250ms`, `10s`,
    `1.5s`, `2m` or a number of seconds.
*/
struct gateway_config {
    /// Where to listen. Without keys the gateway only listens on a loopback address.
    std::string host = "127.0.0.1";
    /// 0 picks a free port.
    std::uint16_t port = 0;
    /** Listen with `SO_REUSEPORT`, so that several gateways (processes of the same user, or
        gateways in one process) can listen on one fixed port; the kernel spreads new
        connections among them (`llmux serve --reuse-port`). Each keeps its own metrics. What
        lives in the state store is shared when they share one: with Redis, spend, budgets,
        rate limits and the response cache; with one SQLite file, spend, budgets and the cache,
        while rate limits stay per process (N processes allow N times a key's rate); in memory,
        nothing. A process that stops resets the connections still in its accept queue (Linux
        moves them to the others only with `net.ipv4.tcp_migrate_req`).
    */
    bool reuse_port = false;

    /// Keys clients must present; empty means no authentication (loopback only).
    std::vector<gateway_key> keys;

    /// Where spend, reservations, rate limits and the request ledger live.
    gateway_state_config state;
    /** A store to use instead of opening one from `state` (library users sharing one store
        between gateways or with their own code). `state.fail_open` and `reservation_ttl`
        still apply.
    */
    std::shared_ptr<state_store> store;

    /// Public model names. Empty means every `provider/model` id the client can reach.
    std::map<std::string, model_group, std::less<>> models;
    /// Also serve `provider/model` ids that are not a group name (always on when `models` is
    /// empty).
    bool any_model = false;

    /// One line per request (see `log_sink`): time, key name, method, path, public model,
    /// upstream model, status, attempts, latency, time to first token, tokens, cost.
    bool access_log = true;
    /// Where access log lines go; empty means stderr. Ignored when `log_sink` is set.
    std::string access_log_file;
    /// Adds the last user message's text to access log lines. Off by default: prompts may
    /// hold personal data.
    bool log_prompts = false;
    /// Receives each access log line (without its newline) instead of stderr or the file.
    /// Called from the connection's thread; must be thread-safe.
    std::function<void(std::string_view)> log_sink;

    /** Error answers quote what llmux and the providers said, but never internal details
        (the upstream's address, raw upstream bodies); those go to the access log. Set this to
        show them to clients too, while debugging.
    */
    bool expose_upstream_errors = false;

    /// Largest request body (413 beyond it). Bodies are read only after the key was checked.
    std::size_t max_body_bytes = 8u << 20;
    /// Largest request head (431 beyond it).
    std::uint32_t max_header_bytes = 64u << 10;
    /// A new connection must send its request head within this of connecting; a later
    /// request on a keep-alive connection, within this of its first byte.
    duration header_timeout = std::chrono::seconds(10);
    /// Slow clients: the request body must arrive within this once the head has.
    duration read_timeout = std::chrono::seconds(30);
    /// Most client connections open at once, and from one address; beyond them a connection
    /// is answered 503 and closed.
    std::size_t max_connections = 10000;
    std::size_t max_connections_per_client = 512;
    /// A client that stops reading a response is dropped after this.
    duration write_timeout = std::chrono::seconds(30);
    /// Idle keep-alive connections close after this.
    duration idle_timeout = std::chrono::seconds(60);
    /// Default grace period of a graceful stop (the CLI's SIGTERM).
    duration grace = std::chrono::seconds(10);

    /// The upstream client: providers, keys, deadlines, catalog.
    client_config client;

    /** @brief Reads the `gateway` and `models` sections of a JSON configuration (other
        top-level keys are the client's and are ignored here; load them with
        `client_config::load_json`). Keys given by `key_env` are read from the environment
        and hashed at once.

        @par Errors
        `error::invalid_config` naming the origin and the bad field; never the key.
    */
    result<void> load_json(std::string_view json, std::string_view origin = "config",
                           client_config::env_reader getenv = nullptr);
    /// @brief `load_json` of a file's contents.
    result<void> load_file(std::string const& path, client_config::env_reader getenv = nullptr);
};

/// @brief Counters of a gateway.
struct gateway_stats {
    /// HTTP requests answered, every endpoint.
    std::uint64_t requests = 0;
    /// Model requests (chat completions, messages) being answered now.
    std::uint64_t in_flight = 0;
    /// Responses with a status of 400 or more (or a stream that failed).
    std::uint64_t errors = 0;
    /// Model requests whose client went away before the answer was complete.
    std::uint64_t client_disconnects = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_open = 0;
};

/** @brief An OpenAI-compatible HTTP gateway in front of the library (`llmux serve`).

    Serves `POST /v1/chat/completions` (whole and streamed answers in OpenAI's format, whatever
    the upstream provider), `POST /v1/messages` (Anthropic's format, translated to any
    configured model), `GET /v1/models`, `GET /health` and `GET /metrics` (Prometheus text).
    Each request goes through the model group's strategy, fallback, retries and hedging with
    the library's combinators; every error is answered in the endpoint's error shape.

    @par Keys, budgets and limits
    With `gateway_config::keys` set, every endpoint but `/health` needs a key
    (`Authorization: Bearer`, or `x-api-key`); a missing or unknown one gets 401
    (`missing_api_key` / `invalid_api_key`). A key whose budget is spent gets 402
    (`insufficient_quota`, `x-should-retry: false`); a key over its request or token rate gets
    429 with `Retry-After`. Budgets and limits live in `gateway_config::state` (memory, a SQLite
    file that survives restarts, or a Redis shared by replicas); `GET /v1/llmux/keys/{name}`
    answers a key's spend (its own, or any with an admin key). Upstream credential failures are 502 and never quote the provider.
    A stream that fails before its first byte is answered with a plain HTTP error; after it, with
    the format's in-stream error event.

    @code
    boost::asio::io_context io;
    llmux::gateway_config cfg;
    cfg.client = llmux::client_config::from_env();
    cfg.port = 8080;
    llmux::gateway gw{io.get_executor(), cfg};
    if (auto r = gw.start(); !r) { std::cerr << r.error() << '\n'; return 1; }
    io.run();
    @endcode

    @par Cancellation
    A client that disconnects cancels its request at once: the upstream call is cancelled and
    its connection closed, so no tokens are spent on an answer nobody reads.

    @par Thread safety
    The io_context may run on several threads. `stats()`, `metrics_text()` and `url()` are
    safe from any thread; `start()` and `stop()` must not run concurrently with each other.

    @par Object lifetimes
    The gateway must outlive the io_context run that serves it, or be stopped first.
*/
class gateway {
public:
    gateway(boost::asio::any_io_executor ex, gateway_config cfg);
    ~gateway();
    gateway(gateway const&) = delete;
    gateway& operator=(gateway const&) = delete;

    /** @brief Binds the listener and starts serving.
        @par Errors
        The bind error; `error::invalid_config` for a group with no deployments or a bad
        deployment id, or for a non-loopback host without keys.
    */
    result<void> start();

    /** @brief Graceful stop: stops accepting and closes idle connections at once, lets the
        requests in flight finish for up to `grace`, then cancels what is left (their upstream
        calls are cancelled). `on_stopped` runs (on the gateway's executor) once every
        connection is closed. Returns at once.
    */
    void stop(duration grace, std::function<void()> on_stopped = {});
    /// @brief Stops now: closes every connection, cancelling the requests in flight.
    void stop();

    /// @brief `http://host:port`.
    std::string url() const;
    gateway_stats stats() const;
    /// @brief The Prometheus exposition text that `GET /metrics` serves.
    std::string metrics_text() const;

    /// @brief The upstream client (its stats and metrics).
    client& upstream() noexcept;
    gateway_config const& config() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;
};

}  // namespace llmux
