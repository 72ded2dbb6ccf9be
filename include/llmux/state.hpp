// SPDX-License-Identifier: BSL-1.0
/** @file
    What a gateway must remember, behind one interface with three implementations.

    `state_store` holds spend per key (and per key x model), budget reservations, rate-limit
    state, circuit-breaker state and latency estimates per model, and a response cache:

    - `memory_store`: one process, nothing survives it (tests, the library's default);
    - `sqlite_store`: one file; spend, reservations, the response cache and a request ledger
      survive restarts and crashes (the gateway's embedded default);
    - `redis_store`: several replicas share exact budgets, rates, breaker state and the cache
      through atomic Lua scripts on one Redis.

    Every operation is a coroutine that returns `result<T>`: a store that cannot be reached is a
    `failure` value (`state_error::unavailable`, `state_error::timeout`, ...), never an
    exception, so the caller applies its own fail-open or fail-closed policy. `available()` is
    a cheap flag for a metrics gauge.

    @par Amounts
    Money is counted in integer nano-USD (`nano_usd`, 1e-9 USD) so that sums are exact in
    every store. Redis scripts compute in Lua numbers (IEEE doubles), exact for integers up to
    2^53, hence `max_amount` (about 9 million USD) for any single figure.

    @par Budgets that cannot leak
    `reserve` books the estimated maximum cost of a call before it is sent, refusing (a
    `reserve_outcome` that is not `granted()`, not an error) when spent + outstanding
    reservations + estimate would exceed the budget. `settle` adds the real cost and removes
    the reservation in one atomic step; `release` removes it without cost. A reservation that
    is never settled (its replica crashed) stops counting once its `ttl` has passed. As every
    decision is atomic in the store, concurrent callers (coroutines or replicas) cannot exceed a
    budget by more than what one call costs beyond its own reservation. A settle that is
    retried (its first attempt timed out) before the reservation expired never charges twice;
    a settle after the expiry always charges, because the cost is real.

    @par Rate limits
    Requests per minute follow GCRA (the generic cell rate algorithm) with a burst of one
    minute's worth, tokens per minute a token bucket of one minute's worth that is charged an
    estimate first and corrected with the real count later (`correct_rate`). Both are exact
    integer arithmetic (microseconds, and tokens scaled by 60e6), the same in C++ and in the
    Redis script; a request that fails either limit consumes neither. Time comes from the
    store's clock (`state_clock`, replaceable by a virtual clock in tests); Redis uses the
    server's `TIME` inside its scripts so that replicas agree.
*/
#pragma once

#include <llmux/error.hpp>
#include <llmux/telemetry.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace llmux {

namespace detail {
class memory_core;
class sqlite_impl;
class redis_impl;
}  // namespace detail

/// @brief An amount of money in billionths of a US dollar (nano-USD), exact in every store.
using nano_usd = std::int64_t;

/// @brief The largest amount a store accepts in one figure (2^53 nano-USD, about 9M USD):
/// Redis's Lua numbers are exact up to there.
inline constexpr nano_usd max_amount = nano_usd(1) << 53;

/// @brief USD to nano-USD, rounded to the nearest; negative, NaN and zero give 0, amounts
/// beyond `max_amount` give `max_amount`.
nano_usd to_nano_usd(double usd) noexcept;

/// @brief Nano-USD to USD (for display).
inline double to_usd(nano_usd n) noexcept {
    return static_cast<double>(n) / 1e9;
}

/// @brief Why a state store operation failed (the category `llmux.state`). Bad arguments are
/// `llmux::error::invalid_request` with the argument named in the message.
enum class state_error {
    /// The store cannot be reached: connection refused or lost, reconnecting, file unusable.
    /// The gateway applies its fail-open/fail-closed policy.
    unavailable = 1,
    /// The store did not answer within the configured deadline.
    timeout,
    /// The store was closed (or is closing) while the operation was pending.
    closed,
    /// A configured cap would be exceeded (keys, reservations per key, queue).
    full,
    /// The store answered something this version does not understand.
    protocol,
    /// The store's storage failed (an SQLite error: disk full, corrupt file, locked too long).
    storage,
};

/// @brief The error category of `state_error`.
boost::system::error_category const& state_category() noexcept;

/// @brief Makes an `error_code` of the `llmux.state` category.
inline boost::system::error_code make_error_code(state_error e) noexcept {
    return {static_cast<int>(e), state_category()};
}

/// @brief Where a store takes the time from; null means `std::chrono::system_clock::now`.
/// Tests pass a virtual clock. Must be thread-safe.
using state_clock = std::function<std::chrono::system_clock::time_point()>;

/// @brief A booked amount of a key's budget, returned by `state_store::reserve`; give it back
/// to `settle` or `release`. A plain value: copy it, keep it with the call it is for.
struct budget_reservation {
    /// The key name the reservation is for.
    std::string key;
    /// Unique id (32 hex digits). Empty for a charge without reservation (`state_store::charge`).
    std::string id;
    /// The amount booked.
    nano_usd amount = 0;
    /// When the reservation stops counting if it is not settled (the store's clock).
    std::chrono::system_clock::time_point expires_at{};
};

/// @brief The answer of `state_store::reserve`: a reservation, or a refusal with the figures
/// that caused it.
struct reserve_outcome {
    /// Set when the reservation was granted.
    std::optional<budget_reservation> reservation;
    /// The key's settled spend at the decision.
    nano_usd spent = 0;
    /// Outstanding (unexpired, unsettled) reservations at the decision, this one excluded.
    nano_usd reserved = 0;

    /// @brief True when the budget had room: `reservation` is set.
    bool granted() const noexcept { return reservation.has_value(); }
};

/// @brief A cost and the model that billed it.
struct model_cost {
    /// The `provider/model` that answered (or was charged for an attempt).
    std::string model;
    nano_usd cost = 0;

    friend bool operator==(model_cost const&, model_cost const&) = default;
};

/** @brief One row of the request ledger (`sqlite_store`): what a request asked, what answered
    and what it cost. Token counts and the cost are empty when unknown (never 0 for unknown).
*/
struct ledger_entry {
    /// When the request started (stored as Unix milliseconds, column `at_ms`).
    std::chrono::system_clock::time_point at{};
    /// The gateway key's name (never the key itself); empty without keys.
    std::string key_name;
    /// The model the client asked for (a group name or `provider/model`).
    std::string model_requested;
    /// The `provider/model` that answered; empty when none did.
    std::string model_answered;
    /// Attempts made (fallback, retry, hedge).
    std::uint32_t attempts = 1;
    std::optional<std::uint64_t> input_tokens;
    std::optional<std::uint64_t> output_tokens;
    std::optional<std::uint64_t> cached_tokens;
    std::optional<std::uint64_t> cache_write_tokens;
    std::optional<std::uint64_t> reasoning_tokens;
    std::optional<nano_usd> cost;
    /// HTTP status answered to the client (499: the client left).
    int status = 0;
    /// Whole request latency.
    std::chrono::microseconds latency{};
    /// `llmux::code_name` of the failure; empty on success.
    std::string error;
    /// The gateway's response id (`chatcmpl-...`, `msg_...`).
    std::string request_id;
};

/// @brief What `settle` records: the real cost by model (may be empty: nothing billed) and,
/// for stores with a ledger, the request's ledger row, written in the same transaction.
struct settlement {
    std::vector<model_cost> costs;
    std::optional<ledger_entry> entry;

    /// @brief The sum of `costs`.
    nano_usd total() const noexcept;
};

/// @brief What happened to the reservation a `settle` named.
enum class settle_status {
    /// It was outstanding: removed, and the cost added.
    settled,
    /// It had expired (or was a charge without reservation): the cost is added anyway.
    late,
    /// It was settled or released before and has not expired: nothing is added again (a retry
    /// of a settle whose answer was lost).
    duplicate,
};

char const* to_string(settle_status s) noexcept;

/// @brief The answer of `settle`.
struct settle_outcome {
    settle_status status = settle_status::settled;
    /// The key's settled spend after this settle.
    nano_usd spent = 0;
};

/// @brief A key's spend, for an admin endpoint.
struct key_spend {
    /// Settled spend, all time.
    nano_usd spent = 0;
    /// Outstanding reservations (unexpired, unsettled): their sum and their number.
    nano_usd reserved = 0;
    std::uint64_t reservations = 0;
    /// Settled spend by model, largest first. Models beyond `state_limits::max_models_per_key`
    /// are summed under `other_model`.
    std::vector<model_cost> by_model;
};

/// @brief The model name under which spend beyond `state_limits::max_models_per_key` models of
/// one key is summed.
inline constexpr std::string_view other_model = "(other)";

/// @brief Rate limits of one bucket (a key, usually); 0 means no limit. Both allow one
/// minute's worth at once, then refill evenly. At most `max_rate_per_minute` each.
struct rate_quota {
    std::uint64_t requests_per_minute = 0;
    std::uint64_t tokens_per_minute = 0;

    bool limited() const noexcept { return requests_per_minute > 0 || tokens_per_minute > 0; }
};

/// @brief The largest `rate_quota` figure and token count per call (keeps the scaled integer
/// arithmetic within 2^53, see the file comment).
inline constexpr std::uint64_t max_rate_per_minute = 50'000'000;

/// @brief The answer of `acquire_rate`.
struct rate_decision {
    bool allowed = false;
    /// When refused: how long until the same request would be allowed (rounded up).
    std::chrono::milliseconds retry_after{0};
};

/** @brief A model's circuit breaker as one replica last saw it. Shared with newest-wins
    semantics: `put_breaker` keeps the snapshot with the latest `updated_at`, so replicas
    converge whatever order writes arrive in (a replica whose clock lags loses ties).
*/
struct breaker_snapshot {
    circuit_state state = circuit_state::closed;
    /// Recent failures counted toward opening.
    std::uint32_t recent_failures = 0;
    /// While `open`: when the cool-down ends.
    std::chrono::system_clock::time_point open_until{};
    /// When the writer decided this state (the writer's clock).
    std::chrono::system_clock::time_point updated_at{};

    friend bool operator==(breaker_snapshot const&, breaker_snapshot const&) = default;
};

/// @brief One measured successful call of a model.
struct latency_sample {
    /// Time to the first token (the whole answer for non-streaming calls).
    std::chrono::microseconds ttft{};
    std::chrono::microseconds latency{};
};

/** @brief Latency estimates of a model: exponentially weighted moving averages merged from
    every replica's samples (each `observe_latency` folds one sample in atomically, with
    weight `state_limits::latency_alpha`).
*/
struct latency_estimate {
    std::optional<std::chrono::microseconds> ttft;
    std::optional<std::chrono::microseconds> latency;
    std::uint64_t samples = 0;
};

/// @brief What a store knows about a model.
struct model_health {
    /// Empty until some replica stored one.
    std::optional<breaker_snapshot> breaker;
    latency_estimate latency;
};

/// @brief Caps and parameters every store applies. Names (key names, rate buckets, models,
/// cache keys) come partly from clients, so everything keyed by them is bounded.
struct state_limits {
    /// Longest key name, bucket name, model name or cache key, bytes.
    std::size_t max_name_bytes = 256;
    /// Models whose spend is kept apart per key; the rest is summed under `other_model`.
    std::size_t max_models_per_key = 256;
    /// Outstanding reservations per key; beyond it `reserve` fails with `state_error::full`.
    std::size_t max_reservations_per_key = 10'000;
    /// Largest cache entry; larger `cache_put`s fail with `error::invalid_request`.
    std::size_t max_cache_entry_bytes = 8u << 20;
    /// Cache size cap (memory: LRU eviction; SQLite: soonest-expiring first; Redis: see
    /// `redis_store`).
    std::size_t max_cache_bytes = 256u << 20;
    /// Weight of a new sample in the latency averages.
    double latency_alpha = 0.2;
};

/** @brief The state a gateway must remember, shared by its requests (and, with Redis, by its
    replicas).

    @par Errors
    Every operation returns a failure value: `state_error` codes for the store's problems,
    `error::invalid_request` (naming the argument) for bad arguments. None throws except for
    out-of-memory.

    @par Thread safety
    Every operation may be called concurrently from any thread and any executor; each
    completes on the calling coroutine's executor.

    @par Cancellation
    `redis_store` operations follow the caller's cancellation (terminal, partial, total):
    they complete with `boost::asio::error::operation_aborted` at once, and the command may or
    may not still run on the server. `memory_store` completes at once; `sqlite_store`
    operations complete after their transaction (milliseconds) and ignore cancellation.
*/
class state_store {
public:
    virtual ~state_store() = default;

    /// @brief `memory`, `sqlite` or `redis`.
    virtual std::string_view kind() const noexcept = 0;

    /// @brief False while the store cannot be reached (Redis disconnected, the last SQLite
    /// transaction failed). A gauge for /metrics; the operations say it too.
    virtual bool available() const noexcept = 0;

    /// @brief True when `settlement::entry` and `record` keep ledger rows (SQLite; the memory
    /// store keeps the most recent in a bounded ring; Redis keeps none).
    virtual bool keeps_ledger() const noexcept = 0;

    /** @brief Books `estimate` of `key`'s budget for `ttl`.

        Refused (not granted, not an error) when spent + outstanding + estimate > budget.
        Without a budget (`budget` empty) it is always granted and only counts as reserved.
        Expired reservations of the key stop counting here.
        @param key the key name (at most `state_limits::max_name_bytes`).
        @param estimate the most the call may cost, 0 to `max_amount`.
        @param budget the key's budget, 0 to `max_amount`; empty: none.
        @param ttl how long the reservation counts if never settled (at least 1 ms).
    */
    virtual boost::asio::awaitable<result<reserve_outcome>>
    reserve(std::string key, nano_usd estimate, std::optional<nano_usd> budget,
            std::chrono::milliseconds ttl) = 0;

    /** @brief Adds the real cost of a call and removes its reservation, atomically (with its
        ledger row, for stores that keep one). See `settle_status` for repeated and late
        settles. Per-model attribution is bounded by `state_limits::max_models_per_key`.
    */
    virtual boost::asio::awaitable<result<settle_outcome>> settle(budget_reservation r,
                                                                  settlement s) = 0;

    /// @brief Removes a reservation without cost (the call failed before anything was
    /// billed); writes `entry` to the ledger when given. Releasing twice does nothing.
    boost::asio::awaitable<result<settle_outcome>> release(budget_reservation r,
                                                           std::optional<ledger_entry> entry = {});

    /// @brief Adds spend to `key` without a reservation (a key without budget).
    boost::asio::awaitable<result<settle_outcome>> charge(std::string key, settlement s);

    /// @brief The key's spend, outstanding reservations and spend by model. A key never
    /// charged reads as all zero.
    virtual boost::asio::awaitable<result<key_spend>> spend(std::string key) = 0;

    /// @brief Appends a ledger row without touching spend (a request of no key, a refusal).
    /// Does nothing in stores that keep no ledger.
    virtual boost::asio::awaitable<result<void>> record(ledger_entry e) = 0;

    /** @brief Takes one request and `tokens` (an estimate) from `bucket`'s limits, or says how
        long to wait; a refused request takes nothing. A quota with no limit always allows.
        @param tokens estimated tokens, at most `max_rate_per_minute`.
    */
    virtual boost::asio::awaitable<result<rate_decision>>
    acquire_rate(std::string bucket, rate_quota q, std::uint64_t tokens) = 0;

    /// @brief Corrects the token bucket once the real count is known: `delta` = actual -
    /// estimated (negative gives tokens back). Debt is capped at one minute's worth.
    virtual boost::asio::awaitable<result<void>> correct_rate(std::string bucket, rate_quota q,
                                                              std::int64_t delta) = 0;

    /// @brief What the store knows of `model` (empty breaker and estimates when nothing).
    virtual boost::asio::awaitable<result<model_health>> health(std::string model) = 0;

    /// @brief Stores a breaker snapshot unless a newer one (`updated_at`) is stored.
    virtual boost::asio::awaitable<result<void>> put_breaker(std::string model,
                                                             breaker_snapshot b) = 0;

    /// @brief Folds one sample into the model's latency averages; returns the new estimate.
    virtual boost::asio::awaitable<result<latency_estimate>> observe_latency(std::string model,
                                                                             latency_sample s) = 0;

    /// @brief The cached bytes under `key`, empty on a miss (absent or expired).
    virtual boost::asio::awaitable<result<std::optional<std::string>>>
    cache_get(std::string key) = 0;

    /// @brief Caches `value` under `key` for `ttl` (at least 1 ms), replacing any entry.
    virtual boost::asio::awaitable<result<void>> cache_put(std::string key, std::string value,
                                                           std::chrono::milliseconds ttl) = 0;

protected:
    state_store() = default;
    state_store(state_store const&) = delete;
    state_store& operator=(state_store const&) = delete;
};

// ---------------------------------------------------------------------------------------------

/// @brief Settings of a `memory_store`.
struct memory_store_config {
    state_limits limits;
    /// Keys with budget state; a new key beyond it fails with `state_error::full` (spend is
    /// never evicted: key names come from configuration, not clients).
    std::size_t max_keys = 100'000;
    /// Rate buckets kept; the least recently used is evicted beyond it (an evicted bucket
    /// starts full again).
    std::size_t max_rate_buckets = 100'000;
    /// Models with health state kept; least recently used evicted.
    std::size_t max_models = 10'000;
    /// Most recent ledger rows kept (a ring); 0 keeps none.
    std::size_t ledger_rows = 1'000;
    state_clock clock;
};

/** @brief Everything in this process's memory: exact, fast, gone when the process ends.

    @par Thread safety
    Safe from any thread; one mutex guards the state (operations take microseconds).
*/
class memory_store final : public state_store {
public:
    explicit memory_store(memory_store_config cfg = {});
    ~memory_store() override;

    std::string_view kind() const noexcept override { return "memory"; }
    bool available() const noexcept override { return true; }
    bool keeps_ledger() const noexcept override { return true; }

    boost::asio::awaitable<result<reserve_outcome>> reserve(std::string key, nano_usd estimate,
                                                            std::optional<nano_usd> budget,
                                                            std::chrono::milliseconds ttl) override;
    boost::asio::awaitable<result<settle_outcome>> settle(budget_reservation r,
                                                          settlement s) override;
    boost::asio::awaitable<result<key_spend>> spend(std::string key) override;
    boost::asio::awaitable<result<void>> record(ledger_entry e) override;
    boost::asio::awaitable<result<rate_decision>> acquire_rate(std::string bucket, rate_quota q,
                                                               std::uint64_t tokens) override;
    boost::asio::awaitable<result<void>> correct_rate(std::string bucket, rate_quota q,
                                                      std::int64_t delta) override;
    boost::asio::awaitable<result<model_health>> health(std::string model) override;
    boost::asio::awaitable<result<void>> put_breaker(std::string model,
                                                     breaker_snapshot b) override;
    boost::asio::awaitable<result<latency_estimate>> observe_latency(std::string model,
                                                                     latency_sample s) override;
    boost::asio::awaitable<result<std::optional<std::string>>> cache_get(std::string key) override;
    boost::asio::awaitable<result<void>> cache_put(std::string key, std::string value,
                                                   std::chrono::milliseconds ttl) override;

    /// @brief The most recent ledger rows, oldest first (at most `ledger_rows`).
    std::vector<ledger_entry> recent_ledger() const;
    /// @brief Bytes held by the response cache.
    std::size_t cache_bytes() const;

private:
    std::unique_ptr<detail::memory_core> core_;
};

// ---------------------------------------------------------------------------------------------

/// @brief When a `sqlite_store` transaction that records spend counts as done.
enum class sqlite_durability {
    /// `synchronous=FULL`: the WAL is fsynced before `settle` returns; nothing acknowledged is
    /// lost, even to a power cut.
    full,
    /// `synchronous=NORMAL`: nothing acknowledged is lost when the process crashes; an OS
    /// crash or power cut may lose the last transactions before the next WAL checkpoint.
    normal,
};

/// @brief How long the request ledger keeps rows (both may apply; empty: forever).
struct ledger_retention {
    /// Rows older than this are deleted.
    std::optional<std::chrono::hours> max_age;
    /// Only the newest this many rows are kept.
    std::optional<std::uint64_t> max_rows;
};

/// @brief Settings of a `sqlite_store`.
struct sqlite_store_config {
    /// The database file; created with its tables when missing.
    std::string path;
    state_limits limits;
    sqlite_durability durability = sqlite_durability::full;
    ledger_retention retention;
    /// Retention runs at open and after every this many ledger rows.
    std::uint64_t retention_every = 1000;
    /// Most operations one transaction batches.
    std::size_t max_batch = 256;
    /// Operations queued for the writer thread; beyond it they fail with `state_error::full`.
    std::size_t max_queue = 100'000;
    /// How long a transaction waits for another process holding the file's write lock.
    std::chrono::milliseconds busy_timeout{5000};
    /// Caps of the in-memory part (rates, model health); see below.
    std::size_t max_rate_buckets = 100'000;
    std::size_t max_models = 10'000;
    state_clock clock;
};

/** @brief One SQLite file (WAL mode): spend, reservations, the response cache and a request
    ledger survive restarts and crashes; users query the ledger with SQL.

    @par Threading and durability
    The file is used by one writer thread that owns the connection. Operations queue to it;
    it runs everything queued (up to `max_batch`) in one transaction, each operation under its
    own savepoint, and completes each operation only after the transaction committed (group
    commit). So `settle` returning `ok` means committed: with `sqlite_durability::full` a
    crash of any kind loses nothing acknowledged; a crash before the commit loses only
    settlements nobody was told about, and their reservations expire after their ttl. The
    calling thread only queues (about a microsecond), never waits on the disk.

    @par What is in the file and what is not
    Tables `spend`, `spend_by_model`, `reservations`, `cache` and `ledger` (documented in
    README, "State stores"). Rate-limit buckets and model health live in this process's memory
    (a write per request for state whose loss costs at most one burst after a restart); several
    processes may share one file (budgets stay exact: every reserve is a write transaction),
    but then each has its own rate limits.

    @par Cache
    Entries expire by ttl; beyond `max_cache_bytes` the soonest-expiring entries are deleted
    first (not LRU: a read would have to write).

    @par Object lifetimes
    The execution contexts of the callers must outlive the store: the writer thread posts
    completions to them until the destructor has joined it.
*/
class sqlite_store final : public state_store {
public:
    /** @brief Opens (creating when missing) the database file and starts its writer thread.
        @par Errors
        `state_error::storage` naming the file when it cannot be opened or is not a database;
        `error::invalid_config` for a bad setting.
    */
    static result<std::unique_ptr<sqlite_store>> open(sqlite_store_config cfg);
    /// @brief Finishes the queued operations, then closes the file.
    ~sqlite_store() override;

    std::string_view kind() const noexcept override { return "sqlite"; }
    bool available() const noexcept override;
    bool keeps_ledger() const noexcept override { return true; }

    boost::asio::awaitable<result<reserve_outcome>> reserve(std::string key, nano_usd estimate,
                                                            std::optional<nano_usd> budget,
                                                            std::chrono::milliseconds ttl) override;
    boost::asio::awaitable<result<settle_outcome>> settle(budget_reservation r,
                                                          settlement s) override;
    boost::asio::awaitable<result<key_spend>> spend(std::string key) override;
    boost::asio::awaitable<result<void>> record(ledger_entry e) override;
    boost::asio::awaitable<result<rate_decision>> acquire_rate(std::string bucket, rate_quota q,
                                                               std::uint64_t tokens) override;
    boost::asio::awaitable<result<void>> correct_rate(std::string bucket, rate_quota q,
                                                      std::int64_t delta) override;
    boost::asio::awaitable<result<model_health>> health(std::string model) override;
    boost::asio::awaitable<result<void>> put_breaker(std::string model,
                                                     breaker_snapshot b) override;
    boost::asio::awaitable<result<latency_estimate>> observe_latency(std::string model,
                                                                     latency_sample s) override;
    boost::asio::awaitable<result<std::optional<std::string>>> cache_get(std::string key) override;
    boost::asio::awaitable<result<void>> cache_put(std::string key, std::string value,
                                                   std::chrono::milliseconds ttl) override;

    /// @brief Applies `ledger_retention` now; returns the number of rows deleted.
    boost::asio::awaitable<result<std::uint64_t>> apply_retention();

    /// @brief The database file.
    std::string const& path() const noexcept;

private:
    explicit sqlite_store(std::unique_ptr<detail::sqlite_impl> p);
    std::unique_ptr<detail::sqlite_impl> impl_;
};

// ---------------------------------------------------------------------------------------------

/// @brief Settings of a `redis_store`.
struct redis_store_config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    /// `AUTH [username] password` when set (never logged or put in an error).
    std::string username;
    std::string password;
    /// `SELECT` this database when not 0.
    int database = 0;
    /// Prefix of every key the store writes (several gateways may share one Redis).
    std::string prefix = "llmux:";
    state_limits limits;
    /// Deadlines: connecting (with the handshake), and each operation's answer. A request
    /// that is not answered in time fails with `state_error::timeout` and the connection is
    /// reset (a pipeline cannot skip a late reply).
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds request_timeout{2000};
    /// Reconnect backoff: doubles from `backoff_initial` to `backoff_max`, with jitter (each
    /// wait drawn from [d/2, d]); back to the start after a successful handshake. Operations
    /// during a backoff fail at once with `state_error::unavailable`.
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{5000};
    /// Operations queued or awaiting replies; beyond it they fail with `state_error::full`.
    std::size_t max_pending = 100'000;
    /// How long model health entries live after their last update.
    std::chrono::hours health_ttl{24 * 7};
    /// Null: scripts read the server's `TIME` (replicas agree). Tests set a virtual clock,
    /// passed to every script instead.
    state_clock clock;

    /** @brief Parses `host:port` (`[v6]:port` for IPv6 literals) into `host` and `port`.
        @par Errors
        `error::invalid_config` naming `what` (e.g. the environment variable).
    */
    result<void> set_address(std::string_view address, std::string_view what = "address");
};

/** @brief A Redis shared by several gateway replicas: spend, reservations, rate limits,
    breaker state, latency estimates and the cache, each changed by one atomic Lua script
    (`EVALSHA`, sending the script again on `NOSCRIPT`) so replicas agree exactly.

    The client protocol uses hiredis only for its RESP reader and command formatter; the I/O
    is this library's own: one TCP connection per store on the executor given, commands
    pipelined (written together as soon as the previous write ends), each with a deadline; on
    any failure every pending operation fails as a value, and the connection is re-established
    with backoff.

    @par Where settled spend is safe
    Redis holds the spend. Run it with `appendonly yes` (and `appendfsync always`, or
    `everysec` to lose at most about a second of spend to an OS crash or power cut): the AOF
    is the source of truth for settled spend, as scripts are logged as their effects. The
    SQLite ledger is not: each replica has its own file, so none can rebuild the shared total,
    and a rebuild would race live traffic. A Redis restarted without its data starts every
    key at zero spend.

    @par Keys
    `{prefix}k:{key}` (hash: spent, reserved), `{prefix}r:{key}` (sorted set of outstanding
    reservations by expiry), `{prefix}km:{key}` (hash: spend by model), `{prefix}rl:{bucket}`
    (rate state; expires when full again), `{prefix}m:{model}` (health; expires after
    `health_ttl`), `{prefix}c:{key}` (cache entries, `SET PX`). The cache's total size is not
    tracked by the store (entries expire by ttl); to cap it hard, run a separate Redis for the
    cache with `maxmemory` and an eviction policy, never on the one holding spend.

    @par Object lifetimes
    Operations must finish before the store is destroyed; the destructor stops the
    connection (pending operations fail with `state_error::closed`).
*/
class redis_store final : public state_store {
public:
    /// @brief Starts connecting on `ex` (operations issued meanwhile wait for the connection,
    /// up to their deadline).
    redis_store(boost::asio::any_io_executor ex, redis_store_config cfg);
    ~redis_store() override;

    /// @brief Stops the connection; pending and later operations fail with `state_error::closed`.
    void close();

    std::string_view kind() const noexcept override { return "redis"; }
    bool available() const noexcept override;
    bool keeps_ledger() const noexcept override { return false; }

    boost::asio::awaitable<result<reserve_outcome>> reserve(std::string key, nano_usd estimate,
                                                            std::optional<nano_usd> budget,
                                                            std::chrono::milliseconds ttl) override;
    boost::asio::awaitable<result<settle_outcome>> settle(budget_reservation r,
                                                          settlement s) override;
    boost::asio::awaitable<result<key_spend>> spend(std::string key) override;
    boost::asio::awaitable<result<void>> record(ledger_entry e) override;
    boost::asio::awaitable<result<rate_decision>> acquire_rate(std::string bucket, rate_quota q,
                                                               std::uint64_t tokens) override;
    boost::asio::awaitable<result<void>> correct_rate(std::string bucket, rate_quota q,
                                                      std::int64_t delta) override;
    boost::asio::awaitable<result<model_health>> health(std::string model) override;
    boost::asio::awaitable<result<void>> put_breaker(std::string model,
                                                     breaker_snapshot b) override;
    boost::asio::awaitable<result<latency_estimate>> observe_latency(std::string model,
                                                                     latency_sample s) override;
    boost::asio::awaitable<result<std::optional<std::string>>> cache_get(std::string key) override;
    boost::asio::awaitable<result<void>> cache_put(std::string key, std::string value,
                                                   std::chrono::milliseconds ttl) override;

    /// @brief A round trip (`PING`): ok once the store is connected and answering.
    boost::asio::awaitable<result<void>> ping();

private:
    std::shared_ptr<detail::redis_impl> impl_;
};

}  // namespace llmux

namespace boost::system {
template <>
struct is_error_code_enum<::llmux::state_error> : std::true_type {};
}  // namespace boost::system
