// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <llmux/config.hpp>
#include <llmux/error.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux {

/** @brief What the emulator does with a request: timing, errors and faults.

    Chosen per request, from (later wins): `emulator_config::defaults`, the entry of
    `emulator_config::scripts` for the model name, directives in the model name after a `~`
    (`gpt-4o-mini~ttft=200ms,error=429`), and the `x-llmux-emulate` request header
    (`ttft=200ms,error=429`). See `parse_behaviour` for the directive syntax.

    Errors and faults apply to every request unless `fail_first` or `error_rate` is set; then
    they apply only to the requests those select (and a selected request without `error_status`
    or `fault` fails with 500).
*/
struct emulator_behaviour {
    /// Delay before the response headers.
    duration latency{};
    /// Streams: delay between the headers and the first content chunk. Non-streaming: added
    /// to `latency`.
    duration ttft{};
    /// Output pacing in tokens per second after the first token; 0 means no pacing. A
    /// non-streaming answer is sent when its last token would have been.
    double tokens_per_second = 0;
    /// Answer with this HTTP status and the provider's own error body (0: succeed).
    unsigned error_status = 0;
    /// Sent with errors as `retry-after` (seconds, rounded up) and `retry-after-ms`.
    std::optional<duration> retry_after;

    enum class fault_kind {
        none,
        /// Close the connection with a TCP reset before sending any response bytes.
        reset_before_headers,
        /// Reset the connection after `fault_after` content chunks of a stream (non-streaming:
        /// after half the body).
        reset_mid_stream,
        /// End the stream cleanly after `fault_after` chunks, without its end marker
        /// (non-streaming: half the body, with an honest `Content-Length`).
        truncate,
        /// Send a body that is not valid JSON; in a stream, one invalid event after
        /// `fault_after` chunks, then the rest of the stream as usual.
        malformed_json,
        /// Send nothing more after `fault_after` chunks (streams; the headers are sent) or at
        /// all (non-streaming), until the client goes away or the emulator stops (or an hour
        /// passes: every wait has a deadline).
        stall,
        /// Send the provider's in-stream error event after `fault_after` chunks, then end the
        /// stream (non-streaming: a 500 error response).
        error_mid_stream,
        /// Answer normally but with `Connection: close`, then close.
        close_after_response,
    };
    fault_kind fault = fault_kind::none;
    std::size_t fault_after = 2;

    /// Length of the answer in tokens (words); 0 means the default answer.
    std::size_t output_tokens = 0;
    /// The answer's text instead of the default one (a tool call, when tools are offered,
    /// still wins).
    std::string reply;
    /// Only the first `fail_first` requests for this model fail with `error_status`
    /// (0: every request does). Counted per model name as sent, `~directives` included.
    unsigned fail_first = 0;
    /// Fraction (0..1) of requests that fail with `error_status` (or 500 if unset), chosen by a
    /// deterministic sequence so runs repeat.
    double error_rate = 0;
    /** Spread of the delays: each request's `latency` and `ttft` are multiplied by
        1 + jitter × E, with E drawn from an exponential distribution of mean 1 (a
        deterministic sequence, so runs repeat). The scripted values stay the minimum and the
        tail is long, as with real providers. 0: every request takes exactly the scripted time.
    */
    double jitter = 0;
    /** Most requests for this model (as sent, `~directives` included) answered at once; a
        request arriving while that many are in progress gets a 429 in the provider's shape
        (with `retry_after` when set), as a provider over its concurrency does. 0: no limit.
    */
    unsigned max_concurrency = 0;
};

/** @brief Parses behaviour directives: comma-separated `key=value` pairs applied onto `base`.

    Keys: `latency`, `ttft` (durations: `200ms`, `1.5s`), `tps` (tokens per second), `error`
    (HTTP status 400..599, 0 for none), `retry_after` (duration), `fault` (`none`, `reset`,
    `reset_mid`, `truncate`, `malformed`, `stall`, `error_mid`, `close`), `after` (chunks before
    a mid-stream fault), `tokens` (answer length), `fail_first` (count), `error_rate` (0..1), `jitter` (>= 0),
    `max_concurrency` (requests at once, above it 429), `reply` (the answer text; it takes the
    rest of the string, commas included, so put it last). `-` may stand for `_` in keys; spaces around keys and values and empty items are
    ignored; a later key wins.

    @par Errors
    `error::invalid_config` naming the bad directive.
*/
result<emulator_behaviour> parse_behaviour(std::string_view directives,
                                           emulator_behaviour base = {});

/// @brief Settings of an emulator.
struct emulator_config {
    std::string host = "127.0.0.1";
    /// Plain HTTP port; 0 picks a free one.
    std::uint16_t port = 0;
    /// Also serve HTTPS, with a CA and server certificate made at start.
    bool tls = false;
    /// HTTPS port; 0 picks a free one.
    std::uint16_t tls_port = 0;
    /// Names and IP addresses the server certificate is valid for.
    std::vector<std::string> tls_names = {"127.0.0.1", "localhost"};
    /// When not empty, the CA certificate (PEM) is written to this file at start.
    std::string ca_out;
    /// Behaviour of every request unless a script or directive says otherwise.
    emulator_behaviour defaults;
    /// Behaviour by model name (as the provider sees it, e.g. `gpt-4o-mini`). An entry
    /// replaces `defaults` (build it with `parse_behaviour(d, defaults)` to layer them).
    /// `GET .../models` lists these names.
    std::map<std::string, emulator_behaviour, std::less<>> scripts;
    /// Reject requests without credentials with the provider's 401 error.
    bool require_auth = true;
    /// Close keep-alive connections idle for longer than this.
    duration idle_timeout = std::chrono::seconds(60);
    /// Largest request body accepted.
    std::size_t max_body_bytes = 32u << 20;

    /// AWS credentials accepted for Bedrock's SigV4 (access key id → secret); a request signed
    /// with anything else, or a bad signature, gets Bedrock's 403.
    std::map<std::string, std::string, std::less<>> aws_credentials = {
        {"AKIDLLMUXEMULATOR", "llmux-emulator-secret"}};
    /// Bearer tokens accepted as Vertex access tokens and Bedrock API keys, besides those the
    /// OAuth endpoint issued.
    std::vector<std::string> access_tokens = {"llmux-emulator"};
    /** Google service accounts whose JWTs the OAuth token endpoint (`POST .../token`) accepts:
        `client_email` → public key (PEM). The JWT's RS256 signature, `aud`, `iat` and `exp` are
        checked; a bad one gets Google's `invalid_grant`.
    */
    std::map<std::string, std::string, std::less<>> google_service_accounts;
    /// Lifetime of issued access tokens (`expires_in`).
    duration token_lifetime = std::chrono::hours(1);
};

/// @brief Counters of an emulator, for tests and benchmarks.
struct emulator_stats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_open = 0;
    /// Complete HTTP requests read (whatever the answer).
    std::uint64_t requests = 0;
    /// Error responses sent: scripted errors and the 400/401/404 of bad requests.
    std::uint64_t errors_sent = 0;
    /// Requests that got a fault (`fault_kind` other than `none`).
    std::uint64_t faults_injected = 0;
    /// Access tokens issued by the OAuth endpoint.
    std::uint64_t tokens_issued = 0;
    /// Requests refused with 429 by `emulator_behaviour::max_concurrency`.
    std::uint64_t concurrency_refusals = 0;
    /// The most requests of one model with a `max_concurrency` answered at once.
    std::uint64_t peak_concurrency = 0;
};

/** @brief A local server that speaks the providers' wire formats with deterministic answers
    and scripted latencies, errors and faults (see `emulator_behaviour`).

    Serves the OpenAI chat-completions API at any path ending in `/chat/completions`
    (so `/v1/...`, `/api/v1/...` and Azure's `/openai/deployments/{d}/...` all work).

    @par Thread safety
    Distinct objects: safe. Shared objects: `stats()` and the URL accessors are safe;
    `start()` and `stop()` must not run concurrently with each other.

    @par Object lifetimes
    The emulator must outlive the `io_context` run that serves its connections, or be
    stopped first.
*/
class emulator {
public:
    explicit emulator(boost::asio::any_io_executor ex, emulator_config cfg = {});
    ~emulator();
    emulator(emulator const&) = delete;
    emulator& operator=(emulator const&) = delete;

    /// @brief Binds the listeners and starts accepting (once per object). Errors: the bind
    /// or certificate error, or a CA file that cannot be written.
    result<void> start();
    /// @brief Stops accepting and closes every connection; pending work ends promptly.
    void stop();

    /// @brief `http://host:port`.
    std::string url() const;
    /// @brief `https://host:port`, empty unless TLS is on.
    std::string tls_url() const;
    /// @brief The CA certificate (PEM) that signed the server certificate; empty without TLS.
    std::string const& ca_pem() const;
    /// @brief The file the CA was written to (`emulator_config::ca_out`), if any.
    std::string const& ca_file() const;

    emulator_stats stats() const;
    emulator_config const& config() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace llmux
