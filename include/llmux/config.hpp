// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/error.hpp>
#include <llmux/header_list.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmux {

class catalog;

using duration = std::chrono::steady_clock::duration;

/// @brief How a provider authenticates requests.
enum class auth_scheme {
    /// No credentials (local servers such as Ollama or vLLM without a key).
    none,
    /// `Authorization: Bearer <key>`.
    bearer,
    /// The key in a named header (`x-api-key`, `api-key`, `x-goog-api-key`).
    header,
    /// AWS Signature Version 4 (Bedrock), or a Bedrock API key as a bearer token.
    aws_sigv4,
    /// A Google OAuth access token from a service-account key (Vertex AI).
    google_oauth,
};

/** @brief Credentials of a provider. Secret: never printed, logged or put in an error.
 */
struct credentials {
    std::string api_key;
    std::string aws_access_key_id;
    std::string aws_secret_access_key;
    std::string aws_session_token;
    /// Path of a Google service-account JSON key file.
    std::string google_credentials_file;
    /// An OAuth access token given directly (Vertex AI).
    std::string access_token;
};

/** @brief One provider: where it is, which wire format it speaks, how it authenticates.

    A vendor is data: OpenRouter, DeepSeek and Groq are the `openai` wire format with another
    base URL. `base_url` may contain `{model}`, replaced by the (percent-encoded) model name,
    for providers that put the model in the path (Azure OpenAI deployments).

    Every value that reaches a header or a URL (keys, tokens, `headers`, `auth_header`, options
    such as `anthropic_version`, `region`, `project`) is checked when it is loaded and again by
    the transport: a line break, NUL or other control character is refused with an error that
    names the variable or field, never the value.
*/
struct provider_config {
    std::string name;
    std::string base_url;
    /// The wire format: `openai`, `anthropic`, `gemini`, `vertex` or `bedrock`.
    std::string wire = "openai";
    auth_scheme auth = auth_scheme::bearer;
    /// The header that carries the key when `auth == auth_scheme::header`.
    std::string auth_header;
    llmux::credentials credentials;
    /// The environment variable the key is read from; named in `missing_api_key` errors.
    std::string api_key_env;
    /// False for local servers that take any key or none (Ollama, vLLM).
    bool key_required = true;
    /// Extra headers sent with every request (OpenRouter's `HTTP-Referer`, `X-Title`).
    header_list headers;
    /// Extra query parameters (Azure's `api-version`).
    header_list query;
    /// Options of the wire format or auth scheme (`region`, `project`, `location`, ...).
    boost::json::object options;
    /** Set when a value loaded for this provider cannot be used (a key with a line break, a
        region that is not a region name, ...). It names the environment variable or field,
        never the value; every call to the provider then fails with `error::invalid_config`
        and this text, while other providers keep working.
    */
    std::string load_error;
};

/// @brief Deadlines of each phase of a call. Every wait has one.
struct timeouts {
    duration connect = std::chrono::seconds(10);
    duration tls_handshake = std::chrono::seconds(10);
    /// From the end of sending to the first byte of the response headers. A non-streaming
    /// answer arrives whole, so this bounds the provider's generation time too.
    duration first_byte = std::chrono::seconds(300);
    /// Longest gap between two reads of a body (stream chunks).
    duration idle = std::chrono::seconds(120);
    /// The whole call, from start to the last byte.
    duration total = std::chrono::seconds(600);
    /// Longest wait for a pooled connection when an origin is at its cap.
    duration pool_wait = std::chrono::seconds(60);
};

/// @brief TLS settings.
struct tls_config {
    /// A PEM file of CA certificates to trust instead of the system store.
    std::string ca_file;
    /// Turns certificate and host-name verification off. Insecure: the client says so on
    /// stderr when it is built with this set.
    bool insecure_skip_verify = false;
};

/// @brief Connection pool settings (one pool per origin: scheme, host, port).
struct pool_config {
    std::size_t max_connections_per_origin = 256;
    /// Idle connections older than this are closed instead of reused.
    duration idle_timeout = std::chrono::seconds(50);
};

/** @brief Client-side rate limits of one provider (token buckets): calls wait for capacity
    instead of provoking the provider's 429s. Zero means no limit.
*/
struct rate_limit {
    double requests_per_minute = 0;
    /// Estimated prompt tokens plus the requested `max_tokens`, corrected by the usage
    /// reported afterwards.
    double tokens_per_minute = 0;
};

/** @brief Circuit breaking per `provider/model`: after `failure_threshold` failures that a
    retry elsewhere could fix (timeouts, 429, 5xx, overloaded, connection errors) within
    `window`, fallback and routing skip the model for `cooldown`, then let one probe through.
*/
struct breaker_config {
    bool enabled = true;
    unsigned failure_threshold = 5;
    duration window = std::chrono::seconds(60);
    duration cooldown = std::chrono::seconds(30);
};

/** @brief Adaptive concurrency per provider (opt-in): an in-flight limit that grows while
    answers come back well and shrinks when the provider says it is at capacity, so that a
    burst of calls waits briefly in a queue instead of provoking a storm of 429s.

    The limit grows by one after `limit` successes in a row during which it was reached (AIMD:
    additive increase); a provider's 429 or 529 (`rate_limited` or `overloaded` from the
    provider) multiplies it by `backoff_ratio`, and a stream whose time to first token exceeds
    `ttft_tolerance` times the provider's usual one multiplies it by `latency_backoff_ratio`
    (multiplicative decrease, at least by one; refusals of calls sent before the last cut do
    not cut again). A call refused with 429/529 goes back to the queue, up to `max_requeues`
    times, so the refusal that taught the limiter does not reach the caller. Calls wait for a
    slot in arrival order, at most `max_queue` of them per provider and never past the call's
    own deadline (`timeouts::total`); a call that cannot get a slot fails with
    `error::rate_limited` naming the limit. Limits and queues show in `client::concurrency()`,
    `client::metrics()` and the gateway's `/metrics`.
*/
struct concurrency_config {
    /// Off by default: calls are sent as they come.
    bool enabled = false;
    /// The limit each provider starts with.
    std::size_t initial_limit = 4;
    std::size_t min_limit = 1;
    std::size_t max_limit = 256;
    /// The limit is multiplied by this on a provider's 429 or 529.
    double backoff_ratio = 0.5;
    /// A stream's time to first token above this many times the usual one is a sign of load.
    double ttft_tolerance = 2.0;
    /// The limit is multiplied by this when the time to first token rises.
    double latency_backoff_ratio = 0.9;
    /// Calls that may wait for a slot, per provider.
    std::size_t max_queue = 1024;
    /// Times a call refused with 429/529 is queued again before the refusal is returned.
    unsigned max_requeues = 3;
};

/** @brief Everything a client needs: providers, deadlines, TLS and pool settings.

    Build it with `client_config::from_env()` (presets plus keys from the environment), then
    optionally `load_file()` a JSON file that adds or overrides providers.
*/
struct client_config {
    std::map<std::string, provider_config, std::less<>> providers;
    llmux::timeouts timeouts;
    llmux::tls_config tls;
    llmux::pool_config pool;
    /// Cap on a non-streaming response body.
    std::size_t max_response_bytes = 64u << 20;
    /// Cap on a whole streamed body.
    std::size_t max_stream_bytes = std::size_t(1) << 30;

    /// Client-side rate limits by provider name.
    std::map<std::string, rate_limit, std::less<>> limits;
    /** A spend budget in USD. Before a call is sent it reserves the most it may cost (the
        prompt's highest token estimate and `max_tokens`, or the model's longest answer, at
        the catalog's prices); a call that does not fit beside the spend and the calls in
        flight fails with `error::budget_exceeded`, and each call settles its real cost when
        it ends. Streams dropped or broken after their answer began are charged for what was
        received. See `unpriced_price` for models the catalog has no price for.
    */
    std::optional<double> budget_usd;
    /** The price charged for a model the catalog has no price for, in USD per million input
        and output tokens. Without it, calls to unpriced models are refused while a budget is
        set (`error::unsupported` naming the model): an unknown price is never taken as free.
    */
    struct price {
        double input_per_mtok = 0;
        double output_per_mtok = 0;
    };
    std::optional<price> unpriced_price;
    /// The longest answer a budget reservation assumes when neither the request's
    /// `max_tokens` nor the catalog says how long the answer may be.
    std::uint64_t default_max_output_tokens = 8192;
    llmux::breaker_config breaker;
    /// Adaptive concurrency per provider; off unless `concurrency.enabled`.
    concurrency_config concurrency;
    /** How many models the client keeps measurements and a circuit for (`client::metrics()`,
        `client::estimate()`): a model gets them when it first answers or fails in a way that
        says something about its health, and the least recently used one is forgotten beyond
        this many. Models pinned with `client::track` (a gateway's deployments) are never
        forgotten.
    */
    std::size_t max_tracked_models = 256;
    /// The model catalog for prices, context windows and capabilities; null means
    /// `catalog::built_in()`.
    std::shared_ptr<llmux::catalog const> models;

    /// Reads an environment variable; replaceable for tests.
    using env_reader = std::function<char const*(char const*)>;

    /// @brief The built-in provider presets, without keys.
    static client_config presets();

    /** @brief Presets with keys and base-URL overrides from the environment
        (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENROUTER_API_KEY`, ...).
    */
    static client_config from_env(env_reader getenv = nullptr);

    /** @brief Adds or overrides providers and settings from a JSON file.

        @par Errors
        `error::invalid_config` naming the file and the bad field; the file is not half applied.
    */
    result<void> load_file(std::string const& path);
    /// @brief As `load_file`, from JSON text; `origin` names the source in errors.
    result<void> load_json(std::string_view json, std::string_view origin = "config");

    /// @brief The provider named `name`, or null.
    provider_config const* find(std::string_view name) const;
    provider_config* find(std::string_view name);

    /// @brief True when at least one provider that needs a key has one (or was given one that
    /// could not be used: see `provider_config::load_error`).
    bool has_any_key() const;

    /// @brief Points every provider at one base URL (a proxy, the emulator), keeping each
    /// provider's path layout, and gives key-less providers a placeholder key.
    void route_all_to(std::string_view base_url);
};

/// @brief Parses a duration such as `250ms`, `10s`, `1.5s`, `2m`, `1h`; a bare number is
/// seconds. Errors: `error::invalid_config` naming the text.
result<duration> parse_duration(std::string_view text);

}  // namespace llmux
