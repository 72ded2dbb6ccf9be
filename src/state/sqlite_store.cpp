// SPDX-License-Identifier: BSL-1.0
// The SQLite state store: one connection owned by a writer thread that runs queued operations
// in batched transactions (group commit), each under its own savepoint. See state.hpp for what
// is durable when.
#include "state/common.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <thread>

namespace llmux {

namespace asio = boost::asio;

namespace detail {

namespace {

/// The tables. `schema` in `llmux_meta` says which version wrote the file.
constexpr char const* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS llmux_meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spend(
    key TEXT PRIMARY KEY,
    spent_nano INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spend_by_model(
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    spent_nano INTEGER NOT NULL,
    PRIMARY KEY (key, model)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reservations(
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    amount_nano INTEGER NOT NULL,
    expires_us INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reservations_by_key ON reservations(key, expires_us);
CREATE TABLE IF NOT EXISTS cache(
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_us INTEGER NOT NULL,
    bytes INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS cache_by_expiry ON cache(expires_us);
CREATE TABLE IF NOT EXISTS ledger(
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    key_name TEXT,
    model_requested TEXT NOT NULL,
    model_answered TEXT,
    attempts INTEGER NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cached_tokens INTEGER,
    cache_write_tokens INTEGER,
    reasoning_tokens INTEGER,
    cost_nano_usd INTEGER,
    cost_usd REAL GENERATED ALWAYS AS (cost_nano_usd / 1e9) VIRTUAL,
    status INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    error TEXT,
    request_id TEXT);
CREATE INDEX IF NOT EXISTS ledger_by_time ON ledger(at_ms);
CREATE INDEX IF NOT EXISTS ledger_by_key ON ledger(key_name, at_ms);
INSERT OR IGNORE INTO llmux_meta(name, value) VALUES('schema', '1');
)sql";

constexpr int schema_version = 1;

/// One prepared statement in use: bound, stepped, reset when it goes out of scope.
class stmt {
public:
    explicit stmt(sqlite3_stmt* s) : s_(s) {}
    stmt(stmt const&) = delete;
    stmt& operator=(stmt const&) = delete;
    ~stmt() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }

    stmt& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    stmt& bind(int i, std::string_view v) {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        return *this;
    }
    /// NULL for an empty string (unknown is unknown, not "").
    stmt& bind_or_null(int i, std::string_view v) {
        if (v.empty()) return bind_null(i);
        return bind(i, v);
    }
    stmt& bind_blob(int i, std::string_view v) {
        sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
        return *this;
    }
    stmt& bind(int i, double v) {
        sqlite3_bind_double(s_, i, v);
        return *this;
    }
    stmt& bind_null(int i) {
        sqlite3_bind_null(s_, i);
        return *this;
    }
    template <class T>
    stmt& bind(int i, std::optional<T> const& v) {
        if (!v) return bind_null(i);
        return bind(i, static_cast<std::int64_t>(*v));
    }

    /// SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return sqlite3_step(s_); }
    std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
    std::string text(int col) const {
        auto const* p = reinterpret_cast<char const*>(sqlite3_column_blob(s_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)))
                 : std::string();
    }

private:
    sqlite3_stmt* s_;
};

}  // namespace

/// The database connection and everything only the writer thread touches.
class sqlite_impl {
public:
    sqlite_impl(sqlite_store_config cfg)
        : cfg_(std::move(cfg)), core_(memory_store_config{.limits = cfg_.limits,
                                                          .max_keys = 0,
                                                          .max_rate_buckets = cfg_.max_rate_buckets,
                                                          .max_models = cfg_.max_models,
                                                          .ledger_rows = 0,
                                                          .clock = cfg_.clock}) {}

    ~sqlite_impl() {
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (worker_.joinable()) worker_.join();
        for (auto& [sql, s] : stmts_)
            sqlite3_finalize(s);
        if (db_) sqlite3_close_v2(db_);
    }

    result<void> open() {
        int rc = sqlite3_open_v2(cfg_.path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
        if (rc != SQLITE_OK) return storage_failure("opening", rc);
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, static_cast<int>(cfg_.busy_timeout.count()));
        // journal_mode answers with the mode in force: a file that cannot do WAL says so.
        {
            auto s = prepare("PRAGMA journal_mode=WAL");
            if (!s) return s.error();
            stmt q(*s);
            rc = q.step();
            if (rc != SQLITE_ROW) return storage_failure("switching to WAL in", rc);
            if (q.text(0) != "wal")
                return state_failure(state_error::storage,
                                     "SQLite state file '" + cfg_.path +
                                         "' cannot use WAL mode (journal mode is '" + q.text(0) +
                                         "')");
        }
        if (auto r = set_synchronous(cfg_.durability == sqlite_durability::full); !r) return r;
        if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
        if (auto r = exec(schema_sql); !r) {
            exec("ROLLBACK");
            return r;
        }
        if (auto r = exec("COMMIT"); !r) return r;
        {
            auto s = prepare("SELECT value FROM llmux_meta WHERE name='schema'");
            if (!s) return s.error();
            stmt q(*s);
            if (q.step() == SQLITE_ROW && std::atoi(q.text(0).c_str()) > schema_version)
                return state_failure(state_error::storage, "SQLite state file '" + cfg_.path +
                                                               "' has schema version " + q.text(0) +
                                                               "; this llmux understands up to " +
                                                               std::to_string(schema_version));
        }
        {
            auto s = prepare("SELECT coalesce(sum(bytes), 0) FROM cache");
            if (!s) return s.error();
            stmt q(*s);
            if (q.step() == SQLITE_ROW) cache_bytes_ = static_cast<std::size_t>(q.int64(0));
        }
        if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
        auto h = housekeeping(now_us(cfg_.clock));
        if (auto r = exec(h ? "COMMIT" : "ROLLBACK"); !r) return r;
        if (!h) return h.error();
        worker_ = std::thread([this] { run(); });
        return {};
    }

    // --- operations, queued from any thread ------------------------------------------------

    enum class op_kind { read, write, durable };

    struct op_base {
        op_kind kind;
        explicit op_base(op_kind k) : kind(k) {}
        virtual ~op_base() = default;
        /// Runs on the writer thread inside the batch's transaction; false asks for its
        /// savepoint to be rolled back.
        virtual bool run(sqlite_impl& db) = 0;
        /// The transaction did not commit: the result is this failure.
        virtual void fail(failure const& f) = 0;
        /// Hands the result to the caller's executor.
        virtual void complete() = 0;
    };

    template <class T, class Fn, class Handler>
    struct op final : op_base {
        using executor_type = asio::associated_executor_t<Handler>;
        Fn fn;
        Handler handler;
        asio::executor_work_guard<executor_type> work;
        std::optional<result<T>> out;

        op(op_kind k, Fn f, Handler h)
            : op_base(k), fn(std::move(f)), handler(std::move(h)),
              work(asio::get_associated_executor(handler)) {}

        bool run(sqlite_impl& db) override {
            out.emplace(fn(db));
            return out->has_value();
        }
        void fail(failure const& f) override { out.emplace(f); }
        void complete() override {
            // This runs on the writer thread: after the post, nothing here may touch the
            // caller's context, which may be gone as soon as the handler ran. So the work
            // guard travels with the handler and is released on the caller's thread.
            auto ex = work.get_executor();  // the untracked original
            asio::post(
                ex, [h = std::move(handler), r = std::move(*out), w = std::move(work)]() mutable {
                    w.reset();
                    std::move(h)(std::move(r));
                });
        }
    };

    /// Queues `fn(sqlite_impl&) -> result<T>` for the writer thread and awaits its result.
    template <class T, class Fn>
    asio::awaitable<result<T>> submit(op_kind kind, Fn fn) {
        // Named, not built inside the co_await expression (GCC 12 destroys such temporaries
        // twice).
        auto init = [this, kind](auto handler, Fn f) {
            using op_t = op<T, Fn, decltype(handler)>;
            auto o = std::make_unique<op_t>(kind, std::move(f), std::move(handler));
            std::unique_lock lock(mu_);
            if (stopping_ || queue_.size() >= cfg_.max_queue) {
                bool const stopping = stopping_;
                lock.unlock();
                o->fail(
                    stopping
                        ? state_failure(state_error::closed, "the SQLite state store is closing")
                        : state_failure(state_error::full, "the SQLite state store has " +
                                                               std::to_string(cfg_.max_queue) +
                                                               " operations queued (max_queue)"));
                o->complete();
                return;
            }
            queue_.push_back(std::move(o));
            lock.unlock();
            cv_.notify_one();
        };
        co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(result<T>)>(
            std::move(init), asio::use_awaitable, std::move(fn));
    }

    // --- what the operations do (writer thread) ---------------------------------------------

    result<reserve_outcome> reserve(std::string const& key, nano_usd estimate,
                                    std::optional<nano_usd> budget, std::int64_t ttl_us,
                                    std::int64_t now) {
        if (auto r = run_stmt("DELETE FROM reservations WHERE key = ?1 AND expires_us <= ?2",
                              [&](stmt& s) { s.bind(1, key).bind(2, now); });
            !r)
            return r.error();
        reserve_outcome out;
        if (auto r = spent_of(key); !r)
            return r.error();
        else
            out.spent = *r;
        std::int64_t count = 0;
        {
            auto s = prepare(
                "SELECT coalesce(sum(amount_nano), 0), count(*) FROM reservations WHERE key = ?1");
            if (!s) return s.error();
            stmt q(*s);
            q.bind(1, key);
            int const rc = q.step();
            if (rc != SQLITE_ROW) return storage_failure("reading reservations from", rc);
            out.reserved = q.int64(0);
            count = q.int64(1);
        }
        if (budget && out.spent + out.reserved + estimate > *budget) return out;
        if (static_cast<std::size_t>(count) >= cfg_.limits.max_reservations_per_key)
            return state_failure(state_error::full,
                                 "key '" + key + "' has " + std::to_string(count) +
                                     " outstanding reservations (max_reservations_per_key)");
        budget_reservation r;
        r.key = key;
        r.id = ids_.next();
        r.amount = estimate;
        r.expires_at = from_us(now + ttl_us);
        if (auto w =
                run_stmt("INSERT INTO reservations(id, key, amount_nano, expires_us) "
                         "VALUES(?1, ?2, ?3, ?4)",
                         [&](stmt& s) {
                             s.bind(1, r.id).bind(2, key).bind(3, estimate).bind(4, now + ttl_us);
                         });
            !w)
            return w.error();
        out.reservation = std::move(r);
        return out;
    }

    result<settle_outcome> settle(budget_reservation const& r, settlement const& s,
                                  std::int64_t now) {
        settle_outcome out;
        out.status = settle_status::late;
        if (!r.id.empty()) {
            auto del = run_stmt("DELETE FROM reservations WHERE id = ?1 AND key = ?2",
                                [&](stmt& q) { q.bind(1, r.id).bind(2, r.key); });
            if (!del) return del.error();
            if (sqlite3_changes(db_) == 1) {
                out.status = settle_status::settled;
            } else if (now < to_us(r.expires_at)) {
                out.status = settle_status::duplicate;
                auto sp = spent_of(r.key);
                if (!sp) return sp.error();
                out.spent = *sp;
                return out;
            }
        }
        std::int64_t models = -1;  // counted when first needed
        for (auto const& c : s.costs) {
            std::string_view model = c.model;
            auto known = has_model(r.key, model);
            if (!known) return known.error();
            if (!*known) {
                if (models < 0) {
                    auto s2 = prepare("SELECT count(*) FROM spend_by_model WHERE key = ?1");
                    if (!s2) return s2.error();
                    stmt q(*s2);
                    q.bind(1, r.key);
                    if (q.step() != SQLITE_ROW) return storage_failure("counting models in", 0);
                    models = q.int64(0);
                }
                if (static_cast<std::size_t>(models) >= cfg_.limits.max_models_per_key)
                    model = other_model;
                else
                    ++models;
            }
            if (auto w = run_stmt(
                    "INSERT INTO spend_by_model(key, model, spent_nano) VALUES(?1, ?2, ?3) "
                    "ON CONFLICT(key, model) DO UPDATE SET spent_nano = spent_nano + "
                    "excluded.spent_nano",
                    [&](stmt& q) { q.bind(1, r.key).bind(2, model).bind(3, c.cost); });
                !w)
                return w.error();
        }
        {
            auto q0 = prepare(
                "INSERT INTO spend(key, spent_nano, updated_ms) VALUES(?1, ?2, ?3) "
                "ON CONFLICT(key) DO UPDATE SET spent_nano = spent_nano + excluded.spent_nano, "
                "updated_ms = excluded.updated_ms RETURNING spent_nano");
            if (!q0) return q0.error();
            stmt q(*q0);
            q.bind(1, r.key).bind(2, s.total()).bind(3, now / 1000);
            int const rc = q.step();
            if (rc != SQLITE_ROW) return storage_failure("recording spend in", rc);
            out.spent = q.int64(0);
            while (q.step() == SQLITE_ROW) {
            }
        }
        if (s.entry)
            if (auto w = insert_ledger(*s.entry); !w) return w.error();
        return out;
    }

    result<key_spend> spend(std::string const& key, std::int64_t now) {
        key_spend out;
        auto sp = spent_of(key);
        if (!sp) return sp.error();
        out.spent = *sp;
        {
            auto s = prepare("SELECT coalesce(sum(amount_nano), 0), count(*) FROM reservations "
                             "WHERE key = ?1 AND expires_us > ?2");
            if (!s) return s.error();
            stmt q(*s);
            q.bind(1, key).bind(2, now);
            int const rc = q.step();
            if (rc != SQLITE_ROW) return storage_failure("reading reservations from", rc);
            out.reserved = q.int64(0);
            out.reservations = static_cast<std::uint64_t>(q.int64(1));
        }
        auto s = prepare("SELECT model, spent_nano FROM spend_by_model WHERE key = ?1");
        if (!s) return s.error();
        stmt q(*s);
        q.bind(1, key);
        int rc;
        while ((rc = q.step()) == SQLITE_ROW)
            out.by_model.push_back({q.text(0), q.int64(1)});
        if (rc != SQLITE_DONE) return storage_failure("reading spend by model from", rc);
        sort_by_cost(out.by_model);
        return out;
    }

    result<void> record(ledger_entry const& e) { return insert_ledger(e); }

    result<std::optional<std::string>> cache_get(std::string const& key, std::int64_t now) {
        auto s = prepare("SELECT value, expires_us FROM cache WHERE key = ?1");
        if (!s) return s.error();
        stmt q(*s);
        q.bind(1, key);
        int const rc = q.step();
        if (rc == SQLITE_DONE) return std::optional<std::string>();
        if (rc != SQLITE_ROW) return storage_failure("reading the cache in", rc);
        if (q.int64(1) <= now) return std::optional<std::string>();
        return std::optional<std::string>(q.text(0));
    }

    result<void> cache_put(std::string const& key, std::string const& value, std::int64_t ttl_us,
                           std::int64_t now) {
        std::size_t const size = key.size() + value.size();
        {
            auto s = prepare("SELECT bytes FROM cache WHERE key = ?1");
            if (!s) return s.error();
            stmt q(*s);
            q.bind(1, key);
            if (q.step() == SQLITE_ROW) cache_bytes_ -= static_cast<std::size_t>(q.int64(0));
        }
        if (size > cfg_.limits.max_cache_bytes) {
            return run_stmt("DELETE FROM cache WHERE key = ?1", [&](stmt& q) { q.bind(1, key); });
        }
        if (auto w = run_stmt("INSERT OR REPLACE INTO cache(key, value, expires_us, bytes) "
                              "VALUES(?1, ?2, ?3, ?4)",
                              [&](stmt& q) {
                                  q.bind(1, key)
                                      .bind_blob(2, value)
                                      .bind(3, now + ttl_us)
                                      .bind(4, static_cast<std::int64_t>(size));
                              });
            !w)
            return w;
        cache_bytes_ += size;
        if (cache_bytes_ <= cfg_.limits.max_cache_bytes) return {};
        // Over the cap: expired entries go first, then the soonest to expire.
        if (auto w = purge_cache(now); !w) return w;
        while (cache_bytes_ > cfg_.limits.max_cache_bytes) {
            std::vector<std::pair<std::string, std::int64_t>> victims;
            {
                auto s = prepare("SELECT key, bytes FROM cache WHERE key <> ?1 "
                                 "ORDER BY expires_us LIMIT 32");
                if (!s) return s.error();
                stmt q(*s);
                q.bind(1, key);
                while (q.step() == SQLITE_ROW)
                    victims.emplace_back(q.text(0), q.int64(1));
            }
            if (victims.empty()) break;
            for (auto const& [k, bytes] : victims) {
                if (cache_bytes_ <= cfg_.limits.max_cache_bytes) break;
                if (auto w = run_stmt("DELETE FROM cache WHERE key = ?1",
                                      [&](stmt& q) { q.bind(1, k); });
                    !w)
                    return w;
                cache_bytes_ -= static_cast<std::size_t>(bytes);
            }
        }
        return {};
    }

    result<std::uint64_t> retention(std::int64_t now) {
        std::uint64_t deleted = 0;
        if (cfg_.retention.max_age) {
            std::int64_t const cutoff =
                now / 1000 -
                std::chrono::duration_cast<std::chrono::milliseconds>(*cfg_.retention.max_age)
                    .count();
            auto r = run_stmt("DELETE FROM ledger WHERE at_ms < ?1",
                              [&](stmt& q) { q.bind(1, cutoff); });
            if (!r) return r.error();
            deleted += static_cast<std::uint64_t>(sqlite3_changes(db_));
        }
        if (cfg_.retention.max_rows) {
            auto r = run_stmt(
                "DELETE FROM ledger WHERE id <= (SELECT max(id) FROM ledger) - ?1",
                [&](stmt& q) { q.bind(1, static_cast<std::int64_t>(*cfg_.retention.max_rows)); });
            if (!r) return r.error();
            deleted += static_cast<std::uint64_t>(sqlite3_changes(db_));
        }
        return deleted;
    }

    /// Expired reservations and cache entries of keys nobody touches, and the ledger's
    /// retention. Runs inside a transaction.
    result<std::uint64_t> housekeeping(std::int64_t now) {
        if (auto r = run_stmt("DELETE FROM reservations WHERE expires_us <= ?1",
                              [&](stmt& q) { q.bind(1, now); });
            !r)
            return r.error();
        if (auto r = purge_cache(now); !r) return r.error();
        return retention(now);
    }

    sqlite_store_config const& config() const noexcept { return cfg_; }
    memory_core& core() noexcept { return core_; }
    bool available() const noexcept { return available_.load(std::memory_order_relaxed); }

private:
    result<sqlite3_stmt*> prepare(char const* sql) {
        auto it = stmts_.find(sql);
        if (it != stmts_.end()) return it->second;
        sqlite3_stmt* s = nullptr;
        int const rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
        if (rc != SQLITE_OK) return storage_failure("preparing a statement for", rc);
        stmts_.emplace(sql, s);
        return s;
    }

    template <class Bind>
    result<void> run_stmt(char const* sql, Bind&& bind) {
        auto s = prepare(sql);
        if (!s) return s.error();
        stmt q(*s);
        bind(q);
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) {
        }
        if (rc != SQLITE_DONE) return storage_failure("writing to", rc);
        return {};
    }

    result<void> exec(char const* sql) {
        char* msg = nullptr;
        int const rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
        if (rc == SQLITE_OK) return {};
        std::string why = msg ? msg : sqlite3_errstr(rc);
        sqlite3_free(msg);
        return state_failure(state_error::storage, "SQLite state file '" + cfg_.path + "': " + why);
    }

    result<void> set_synchronous(bool full) {
        if (synchronous_full_ && *synchronous_full_ == full) return {};
        if (auto r = exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !r)
            return r;
        synchronous_full_ = full;
        return {};
    }

    failure storage_failure(std::string_view doing, int rc) const {
        std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        if ((rc & 0xff) == SQLITE_NOTADB || why == "file is not a database")
            why = "it is not an SQLite database (" + why + ")";
        return state_failure(state_error::storage, "SQLite state store: " + std::string(doing) +
                                                       " '" + cfg_.path + "' failed: " + why);
    }

    result<nano_usd> spent_of(std::string const& key) {
        auto s = prepare("SELECT spent_nano FROM spend WHERE key = ?1");
        if (!s) return s.error();
        stmt q(*s);
        q.bind(1, key);
        int const rc = q.step();
        if (rc == SQLITE_ROW) return q.int64(0);
        if (rc == SQLITE_DONE) return nano_usd(0);
        return storage_failure("reading spend from", rc);
    }

    result<bool> has_model(std::string const& key, std::string_view model) {
        auto s = prepare("SELECT 1 FROM spend_by_model WHERE key = ?1 AND model = ?2");
        if (!s) return s.error();
        stmt q(*s);
        q.bind(1, key).bind(2, model);
        int const rc = q.step();
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return storage_failure("reading spend by model from", rc);
    }

    result<void> insert_ledger(ledger_entry const& e) {
        auto r = run_stmt(
            "INSERT INTO ledger(at_ms, key_name, model_requested, model_answered, attempts, "
            "input_tokens, output_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, "
            "cost_nano_usd, status, latency_ms, error, request_id) "
            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            [&](stmt& q) {
                q.bind(1, static_cast<std::int64_t>(
                              std::chrono::duration_cast<std::chrono::milliseconds>(
                                  e.at.time_since_epoch())
                                  .count()))
                    .bind_or_null(2, e.key_name)
                    .bind(3, std::string_view(e.model_requested))
                    .bind_or_null(4, e.model_answered)
                    .bind(5, static_cast<std::int64_t>(e.attempts))
                    .bind(6, e.input_tokens)
                    .bind(7, e.output_tokens)
                    .bind(8, e.cached_tokens)
                    .bind(9, e.cache_write_tokens)
                    .bind(10, e.reasoning_tokens)
                    .bind(11, e.cost)
                    .bind(12, static_cast<std::int64_t>(e.status))
                    .bind(13, static_cast<double>(e.latency.count()) / 1000.0)
                    .bind_or_null(14, e.error)
                    .bind_or_null(15, e.request_id);
            });
        if (r) ++ledger_rows_since_retention_;
        return r;
    }

    result<void> purge_cache(std::int64_t now) {
        if (auto r = run_stmt("DELETE FROM cache WHERE expires_us <= ?1",
                              [&](stmt& q) { q.bind(1, now); });
            !r)
            return r;
        if (sqlite3_changes(db_) > 0) {
            auto s = prepare("SELECT coalesce(sum(bytes), 0) FROM cache");
            if (!s) return s.error();
            stmt q(*s);
            if (q.step() == SQLITE_ROW) cache_bytes_ = static_cast<std::size_t>(q.int64(0));
        }
        return {};
    }

    // --- the writer thread --------------------------------------------------------------------

    void run() {
        std::vector<std::unique_ptr<op_base>> batch;
        for (;;) {
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
                if (queue_.empty()) return;  // stopping, and everything queued is done
                while (!queue_.empty() && batch.size() < cfg_.max_batch) {
                    batch.push_back(std::move(queue_.front()));
                    queue_.pop_front();
                }
            }
            execute(batch);
            for (auto& o : batch)
                o->complete();
            batch.clear();
        }
    }

    void execute(std::vector<std::unique_ptr<op_base>>& batch) {
        op_kind kind = op_kind::read;
        for (auto const& o : batch)
            kind = std::max(kind, o->kind);
        auto fail_all = [&](failure const& f) {
            for (auto& o : batch)
                o->fail(f);
            available_.store(false, std::memory_order_relaxed);
        };
        if (kind != op_kind::read) {
            bool const full =
                kind == op_kind::durable && cfg_.durability == sqlite_durability::full;
            if (auto r = set_synchronous(full); !r) return fail_all(r.error());
        }
        if (auto r = exec(kind == op_kind::read ? "BEGIN" : "BEGIN IMMEDIATE"); !r)
            return fail_all(r.error());
        if (batch.size() == 1) {
            // The transaction is the operation's savepoint: a failed operation commits nothing.
            if (!batch.front()->run(*this)) {
                exec("ROLLBACK");
                return;
            }
        } else {
            for (auto& o : batch) {
                if (auto r = exec("SAVEPOINT op"); !r) {
                    o->fail(r.error());
                    continue;
                }
                if (!o->run(*this)) exec("ROLLBACK TO op");
                exec("RELEASE op");
            }
        }
        if (kind != op_kind::read && cfg_.retention_every > 0 &&
            ledger_rows_since_retention_ >= cfg_.retention_every) {
            ledger_rows_since_retention_ = 0;
            // Best effort: a failure here is tried again after the next rows.
            if (exec("SAVEPOINT housekeeping")) {
                if (!housekeeping(now_us(cfg_.clock))) exec("ROLLBACK TO housekeeping");
                exec("RELEASE housekeeping");
            }
        }
        if (auto r = exec("COMMIT"); !r) {
            exec("ROLLBACK");
            return fail_all(r.error());
        }
        available_.store(true, std::memory_order_relaxed);
    }

    sqlite_store_config cfg_;
    memory_core core_;
    id_source ids_;
    sqlite3* db_ = nullptr;
    std::map<char const*, sqlite3_stmt*> stmts_;
    std::optional<bool> synchronous_full_;
    std::size_t cache_bytes_ = 0;
    std::uint64_t ledger_rows_since_retention_ = 0;
    std::atomic<bool> available_{true};

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<op_base>> queue_;
    bool stopping_ = false;
    std::thread worker_;
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------

using detail::sqlite_impl;
using op_kind = sqlite_impl::op_kind;

result<std::unique_ptr<sqlite_store>> sqlite_store::open(sqlite_store_config cfg) {
    if (cfg.path.empty())
        return failure(error::invalid_config, "the SQLite state file path is empty");
    if (cfg.max_batch == 0)
        return failure(error::invalid_config, "sqlite max_batch must be at least 1");
    auto impl = std::make_unique<sqlite_impl>(std::move(cfg));
    if (auto r = impl->open(); !r) return r.error();
    return std::unique_ptr<sqlite_store>(new sqlite_store(std::move(impl)));
}

sqlite_store::sqlite_store(std::unique_ptr<sqlite_impl> p) : impl_(std::move(p)) {}

sqlite_store::~sqlite_store() = default;

bool sqlite_store::available() const noexcept {
    return impl_->available();
}

std::string const& sqlite_store::path() const noexcept {
    return impl_->config().path;
}

asio::awaitable<result<reserve_outcome>> sqlite_store::reserve(std::string key, nano_usd estimate,
                                                               std::optional<nano_usd> budget,
                                                               std::chrono::milliseconds ttl) {
    auto const& cfg = impl_->config();
    if (auto c = detail::check_reserve(key, estimate, budget, ttl, cfg.limits); !c)
        co_return c.error();
    std::int64_t const now = detail::now_us(cfg.clock);
    std::int64_t const ttl_us = std::chrono::microseconds(ttl).count();
    auto fn = [key = std::move(key), estimate, budget, ttl_us, now](sqlite_impl& db) {
        return db.reserve(key, estimate, budget, ttl_us, now);
    };
    co_return co_await impl_->submit<reserve_outcome>(op_kind::write, std::move(fn));
}

asio::awaitable<result<settle_outcome>> sqlite_store::settle(budget_reservation r, settlement s) {
    auto const& cfg = impl_->config();
    if (auto c = detail::check_settlement(r, s, cfg.limits); !c) co_return c.error();
    std::int64_t const now = detail::now_us(cfg.clock);
    op_kind const kind = s.costs.empty() && !s.entry ? op_kind::write : op_kind::durable;
    auto fn = [r = std::move(r), s = std::move(s), now](sqlite_impl& db) {
        return db.settle(r, s, now);
    };
    co_return co_await impl_->submit<settle_outcome>(kind, std::move(fn));
}

asio::awaitable<result<key_spend>> sqlite_store::spend(std::string key) {
    auto const& cfg = impl_->config();
    if (auto c = detail::check_name("the key name", key, cfg.limits); !c) co_return c.error();
    std::int64_t const now = detail::now_us(cfg.clock);
    auto fn = [key = std::move(key), now](sqlite_impl& db) { return db.spend(key, now); };
    co_return co_await impl_->submit<key_spend>(op_kind::read, std::move(fn));
}

asio::awaitable<result<void>> sqlite_store::record(ledger_entry e) {
    auto fn = [e = std::move(e)](sqlite_impl& db) { return db.record(e); };
    co_return co_await impl_->submit<void>(op_kind::durable, std::move(fn));
}

asio::awaitable<result<rate_decision>> sqlite_store::acquire_rate(std::string bucket, rate_quota q,
                                                                  std::uint64_t tokens) {
    auto& core = impl_->core();
    if (auto c = detail::check_name("the rate bucket name", bucket, core.limits()); !c)
        co_return c.error();
    if (auto c = detail::check_rate(q, tokens); !c) co_return c.error();
    if (!q.limited()) co_return rate_decision{true, {}};
    co_return core.acquire_rate(bucket, q, tokens, detail::now_us(core.clock()));
}

asio::awaitable<result<void>> sqlite_store::correct_rate(std::string bucket, rate_quota q,
                                                         std::int64_t delta) {
    auto& core = impl_->core();
    if (auto c = detail::check_name("the rate bucket name", bucket, core.limits()); !c)
        co_return c.error();
    if (auto c = detail::check_rate(q, 0); !c) co_return c.error();
    if (auto c = detail::check_delta(delta); !c) co_return c.error();
    co_return core.correct_rate(bucket, q, delta, detail::now_us(core.clock()));
}

asio::awaitable<result<model_health>> sqlite_store::health(std::string model) {
    auto& core = impl_->core();
    if (auto c = detail::check_name("the model name", model, core.limits()); !c)
        co_return c.error();
    co_return core.health(model);
}

asio::awaitable<result<void>> sqlite_store::put_breaker(std::string model, breaker_snapshot b) {
    auto& core = impl_->core();
    if (auto c = detail::check_name("the model name", model, core.limits()); !c)
        co_return c.error();
    co_return core.put_breaker(model, b);
}

asio::awaitable<result<latency_estimate>> sqlite_store::observe_latency(std::string model,
                                                                        latency_sample s) {
    auto& core = impl_->core();
    if (auto c = detail::check_name("the model name", model, core.limits()); !c)
        co_return c.error();
    if (auto c = detail::check_sample(s); !c) co_return c.error();
    co_return core.observe_latency(model, s);
}

asio::awaitable<result<std::optional<std::string>>> sqlite_store::cache_get(std::string key) {
    auto const& cfg = impl_->config();
    if (auto c = detail::check_name("the cache key", key, cfg.limits); !c) co_return c.error();
    std::int64_t const now = detail::now_us(cfg.clock);
    auto fn = [key = std::move(key), now](sqlite_impl& db) { return db.cache_get(key, now); };
    co_return co_await impl_->submit<std::optional<std::string>>(op_kind::read, std::move(fn));
}

asio::awaitable<result<void>> sqlite_store::cache_put(std::string key, std::string value,
                                                      std::chrono::milliseconds ttl) {
    auto const& cfg = impl_->config();
    if (auto c = detail::check_cache_put(key, value, ttl, cfg.limits); !c) co_return c.error();
    std::int64_t const now = detail::now_us(cfg.clock);
    std::int64_t const ttl_us = std::chrono::microseconds(ttl).count();
    auto fn = [key = std::move(key), value = std::move(value), ttl_us, now](sqlite_impl& db) {
        return db.cache_put(key, value, ttl_us, now);
    };
    co_return co_await impl_->submit<void>(op_kind::write, std::move(fn));
}

asio::awaitable<result<std::uint64_t>> sqlite_store::apply_retention() {
    std::int64_t const now = detail::now_us(impl_->config().clock);
    auto fn = [now](sqlite_impl& db) { return db.retention(now); };
    co_return co_await impl_->submit<std::uint64_t>(op_kind::write, std::move(fn));
}

}  // namespace llmux
