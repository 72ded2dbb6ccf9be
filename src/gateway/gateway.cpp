// SPDX-License-Identifier: BSL-1.0
// The gateway (`llmux serve`): HTTP endpoints on `http_server`, gateway keys with budgets and
// rate limits, model groups run with the library's combinators and router, metrics and the
// access log. Every wire format with a server side is served through one table of endpoints
// (path pattern -> format and operation): requests are decoded, and answers, streams and errors
// encoded, by the formats themselves (src/wire/<format>_server.cpp).
#include <llmux/gateway.hpp>

#include <llmux/combinators.hpp>
#include <llmux/router.hpp>

#include "util/crypto.hpp"
#include "gateway/metrics.hpp"
#include "gateway/response_cache.hpp"
#include "http/server.hpp"
#include "util/estimate.hpp"
#include "util/header.hpp"
#include "wire/formats.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/crypto.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cmath>
#include <ctime>
#include <deque>
#include <mutex>
#include <random>

using namespace std::string_view_literals;

namespace llmux {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using steady = std::chrono::steady_clock;

namespace {

using detail::api_error;
using detail::wire_server;

/// Nano-USD, so that spend adds atomically.
std::uint64_t to_nano(double usd) {
    return usd > 0 ? static_cast<std::uint64_t>(usd * 1e9 + 0.5) : 0;
}

/// The largest figure a store takes (`max_amount`), so a huge budget is not a negative one.
nano_usd clamp_nano(std::uint64_t n) {
    return static_cast<nano_usd>(std::min<std::uint64_t>(n, static_cast<std::uint64_t>(max_amount)));
}

/// A gateway key. What it has spent and its rate buckets live in the state store.
struct key_state {
    std::string name;
    detail::sha256_digest hash{};
    std::optional<double> budget;
    rate_quota quota;
    bool admin = false;

    bool limited() const noexcept { return quota.limited(); }
};

/// A settlement the store could not take, kept to be retried.
struct unsaved_settlement {
    std::string key;
    std::optional<budget_reservation> reservation;
    settlement what;
};

/// A public model name and how its requests are run.
struct group_state {
    std::string name;
    model_group g;
    /// Deployments in configured order (each retried within the fallback: see `fb_options`).
    model_list order;
    std::optional<route> how;
    std::unique_ptr<router> rt;
    /// The wire format every deployment speaks (empty when they differ): a request in that
    /// format passes its format-only fields on.
    std::string_view format;
    /// One deployment, one attempt, no deadlines, nothing opted in: a plain call.
    bool simple = false;
};

bool is_loopback(std::string const& host) {
    if (host == "localhost") return true;
    boost::system::error_code ec;
    auto const a = asio::ip::make_address(host, ec);
    return !ec && a.is_loopback();
}

std::string_view path_of(std::string_view target) {
    auto const q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

std::string last_user_text(chat_request const& r) {
    for (auto it = r.messages.rbegin(); it != r.messages.rend(); ++it)
        if (it->role == role::user) return it->text();
    return {};
}

void append_ms(std::string& out, std::chrono::nanoseconds d) {
    char buf[32];
    int const n = std::snprintf(buf, sizeof buf, "%.3f",
                                std::chrono::duration<double, std::milli>(d).count());
    out.append(buf, static_cast<std::size_t>(n));
}

void append_u(std::string& out, std::uint64_t v) {
    char buf[24];
    int const n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
    out.append(buf, static_cast<std::size_t>(n));
}

/// A log field's value: no spaces, quotes or control characters (so lines stay parseable).
void append_field(std::string& out, std::string_view v, std::size_t max = 200) {
    if (v.empty()) {
        out += '-';
        return;
    }
    out += '"';
    std::size_t n = 0;
    for (char c : v) {
        if (++n > max) {
            out += "..."sv;
            break;
        }
        auto const u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\')
            out += '\\', out += c;
        else if (u < 0x20)
            out += ' ';
        else
            out += c;
    }
    out += '"';
}

/// Whole milliseconds of `d`.
std::uint64_t ms(std::chrono::nanoseconds d) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

/// Header lines a format writes, straight into the response head.
class exchange_headers final : public detail::header_sink {
public:
    explicit exchange_headers(detail::server_exchange& x) noexcept : x_(x) {}
    void header(std::string_view name, std::string_view value) override {
        x_.add_header(name, value);
    }

private:
    detail::server_exchange& x_;
};

/// Header lines a format writes, kept for an answer given from the request's head.
class list_headers final : public detail::header_sink {
public:
    explicit list_headers(header_list& l) noexcept : l_(l) {}
    void header(std::string_view name, std::string_view value) override {
        l_.emplace_back(name, value);
    }

private:
    header_list& l_;
};

/// The wire format a deployment speaks for its model (Vertex: Gemini's or Anthropic's).
std::string_view format_of(client const& up, std::string_view deployment) {
    auto const id = model_id::parse(deployment);
    auto const* p = id ? up.config().find(id->provider) : nullptr;
    auto const* w = p ? detail::find_wire_format(p->wire) : nullptr;
    return w ? detail::wire_for_model(*p, *w, id->model).name() : std::string_view();
}

/// What the access log line and the metrics of one model request need.
struct request_record {
    steady::time_point start;
    key_state const* key = nullptr;
    std::string_view method;
    std::string_view path;
    std::string_view model;
    std::string upstream;
    unsigned status = 200;
    std::uint32_t attempts = 0;
    std::chrono::nanoseconds ttft{};
    usage use;
    std::optional<double> cost;
    std::string prompt;
    /// The whole failure, internal details included (the log is the operator's).
    std::string error;
    /// Answered from the response cache.
    bool cached = false;
};

/** What every model request (chat, token count, embeddings) carries from its start: its record
    for the access log and metrics, and the ids its answers (errors too) send. Not movable: the
    meta's views point into the ids.
*/
struct request_scope {
    request_record rec;
    std::pair<std::string, std::string> const ids;
    detail::answer_meta meta;

    request_scope(detail::request_head const& head, std::pair<std::string, std::string> i)
        : ids(std::move(i)) {
        rec.start = steady::now();
        rec.method = head.method;
        rec.path = head.path;
        meta.id = ids.first;
        meta.request_id = ids.second;
    }
    request_scope(request_scope const&) = delete;
    request_scope& operator=(request_scope const&) = delete;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

struct gateway::impl : std::enable_shared_from_this<gateway::impl> {
    asio::any_io_executor ex;
    gateway_config cfg;
    client up;
    std::vector<std::unique_ptr<key_state>> keys;
    std::map<std::string, std::unique_ptr<group_state>, std::less<>> groups;
    bool any_model = false;
    std::vector<std::string> model_names;
    /// Every registered format's endpoints, matched on whole paths.
    detail::endpoint_table table{detail::wire_servers(), false};
    /// What the 404 of an unknown path lists.
    std::string served;
    std::unique_ptr<detail::gateway_metrics> metrics;
    std::unique_ptr<detail::http_server> server;
    asio::ip::tcp::endpoint bound;
    bool started = false;
    int log_fd = -1;
    bool own_log_fd = false;
    std::atomic<std::uint64_t> next_id{0};
    std::uint64_t id_salt = 0;
    std::string id_tag;  // id_salt in 16 hex digits, the random part of every id

    // -- state: spend, reservations, rate limits, the ledger ------------------------------
    std::shared_ptr<state_store> store;
    /// Ledger rows are written (a store that keeps them, and not our own memory store).
    bool ledger = false;
    /// The store answers without I/O (the memory store): a stream's last events may wait for
    /// the accounting and go out with the end, in one write (see relay).
    bool instant_store = false;
    std::atomic<std::uint64_t> state_errors{0};
    /// Settlements the store failed to take, oldest first; retried before the next ones.
    std::mutex unsaved_mu;
    std::deque<unsaved_settlement> unsaved;
    std::atomic<std::size_t> unsaved_count{0};
    std::atomic<std::uint64_t> unsaved_dropped{0};
    std::atomic<bool> flushing{false};

    // -- health shared between replicas (a Redis store) ------------------------------------
    /// Breaker decisions and latency averages of the configured deployments go through the
    /// store, so replicas skip a failing deployment together and route on every replica's
    /// measurements. Only with a store that replicas share (Redis).
    bool share_health = false;
    struct deployment_health {
        steady::time_point pulled{};
        std::chrono::system_clock::time_point pushed{};
    };
    /// One per configured deployment (bounded by the configuration); guarded by health_mu.
    std::map<std::string, deployment_health, std::less<>> health_seen;
    std::mutex health_mu;
    /// How often a replica reads a deployment's shared health, at most.
    static constexpr auto health_refresh = std::chrono::seconds(1);

    impl(asio::any_io_executor e, gateway_config c)
        : ex(std::move(e)), cfg(std::move(c)), up(ex, cfg.client) {}

    ~impl() {
        if (own_log_fd && log_fd >= 0) ::close(log_fd);
    }

    // -- setup -------------------------------------------------------------------------------

    /// The state store: the one given, or one opened from `cfg.state`.
    result<void> open_store() {
        if (cfg.store) {
            store = cfg.store;
            ledger = store->keeps_ledger();
            instant_store = store->kind() == "memory";
            return {};
        }
        switch (cfg.state.backend) {
        case state_backend::memory: {
            memory_store_config mc;
            mc.ledger_rows = 0;  // nobody could read them: no ledger in memory
            store = std::make_shared<memory_store>(std::move(mc));
            break;
        }
        case state_backend::sqlite: {
            sqlite_store_config sc;
            sc.path = cfg.state.sqlite_path;
            sc.durability = cfg.state.durability;
            sc.retention = cfg.state.retention;
            auto s = sqlite_store::open(std::move(sc));
            if (!s) {
                auto f = s.error();
                f.diag.message = "gateway.state: " + f.diag.message;
                return f;
            }
            store = std::shared_ptr<sqlite_store>(std::move(*s));
            ledger = true;
            break;
        }
        case state_backend::redis:
            // Connects in the background; requests before it answers wait up to its deadline.
            store = std::make_shared<redis_store>(ex, cfg.state.redis);
            break;
        }
        instant_store = cfg.state.backend == state_backend::memory;
        return {};
    }

    result<void> prepare() {
        if (cfg.keys.empty() && !is_loopback(cfg.host))
            return failure(error::invalid_config,
                           "refusing to serve on '" + cfg.host +
                               "' without gateway keys: anyone who can reach it could spend the "
                               "provider keys; configure gateway.keys or listen on 127.0.0.1");
        for (auto const& k : cfg.keys) {
            auto ks = std::make_unique<key_state>();
            ks->name = k.name;
            auto const raw = detail::hex_decode(k.sha256);
            if (!raw || raw->size() != 32)
                return failure(error::invalid_config,
                               "gateway key '" + k.name + "': sha256 must be 64 hex digits");
            std::copy(raw->begin(), raw->end(), ks->hash.begin());
            ks->budget = k.budget_usd;
            // The store's exact integer rate math takes whole figures up to its maximum.
            auto const per_minute = [&](double v, char const* what) -> result<std::uint64_t> {
                if (v > static_cast<double>(max_rate_per_minute))
                    return failure(error::invalid_config,
                                   "gateway key '" + k.name + "': " + what + " must be at most " +
                                       std::to_string(max_rate_per_minute));
                return static_cast<std::uint64_t>(std::ceil(v));
            };
            auto rpm = per_minute(k.requests_per_minute, "requests_per_minute");
            if (!rpm) return rpm.error();
            auto tpm = per_minute(k.tokens_per_minute, "tokens_per_minute");
            if (!tpm) return tpm.error();
            ks->quota = {*rpm, *tpm};
            ks->admin = k.admin;
            keys.push_back(std::move(ks));
        }
        if (auto r = open_store(); !r) return r;
        share_health = cfg.state.backend == state_backend::redis;
        std::vector<std::string> fixed;
        for (auto const& [name, g] : cfg.models) {
            if (g.deployments.empty())
                return failure(error::invalid_config,
                               "model group '" + name + "' has no deployments");
            auto gs = std::make_unique<group_state>();
            gs->name = name;
            gs->g = g;
            bool first = true;
            for (auto const& d : g.deployments) {
                if (auto r = up.check(d); !r) {
                    auto f = r.error();
                    f.diag.message = "model group '" + name + "': " + f.diag.message;
                    return f;
                }
                // Configured deployments keep their measurements and circuit for good.
                up.track(d);
                auto const f = format_of(up, d);
                if (first)
                    gs->format = f;
                else if (gs->format != f)
                    gs->format = {};
                first = false;
                gs->order.push_back(d);
            }
            switch (g.strategy) {
            case group_strategy::fallback: break;
            case group_strategy::weighted: gs->how = route::weighted; break;
            case group_strategy::cheapest: gs->how = route::cheapest; break;
            case group_strategy::fastest: gs->how = route::fastest; break;
            case group_strategy::best: gs->how = route::best; break;
            case group_strategy::least_busy: gs->how = route::least_busy; break;
            }
            if (gs->how) {
                router_config rc;
                rc.candidates = g.deployments;
                rc.weights = g.weights;
                rc.fallback.per_attempt = g.per_attempt;
                rc.fallback.deadline = g.deadline;
                gs->rt = std::make_unique<router>(up, rc);
            }
            gs->simple = gs->order.size() == 1 && g.retries == 0 && g.per_attempt == duration{} &&
                         g.deadline == duration{} && !g.hedge && !g.continue_streams;
            fixed.push_back(name);
            model_names.push_back(name);
            for (auto const& d : g.deployments) health_seen.try_emplace(d);
            groups.emplace(name, std::move(gs));
        }
        any_model = cfg.models.empty() || cfg.any_model;
        if (any_model)
            for (auto const& m : up.models().models())
                if (!groups.count(m.id) && up.check(m.id)) model_names.push_back(m.id);
        metrics = std::make_unique<detail::gateway_metrics>(fixed);
        for (auto const& e : table.entries()) {
            served += served.empty() ? ""sv : ", "sv;
            served += e.ep->method;
            served += ' ';
            served += e.ep->pattern;
        }
        served += ", GET /health, GET /metrics, GET /v1/llmux/keys/{name}"sv;

        if (cfg.access_log && !cfg.log_sink) {
            if (cfg.access_log_file.empty()) {
                log_fd = 2;
            } else {
                log_fd = ::open(cfg.access_log_file.c_str(),
                                O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
                if (log_fd < 0)
                    return failure(error::invalid_config,
                                   "cannot open access log '" + cfg.access_log_file + "'");
                own_log_fd = true;
            }
        }
        std::random_device rd;
        id_salt = (std::uint64_t(rd()) << 32) ^ rd();
        char tag[24];
        int const len = std::snprintf(tag, sizeof tag, "%016llx",
                                      static_cast<unsigned long long>(id_salt));
        id_tag.assign(tag, static_cast<std::size_t>(len));
        return {};
    }

    detail::server_config server_settings() {
        detail::server_config sc;
        sc.max_body_bytes = cfg.max_body_bytes;
        sc.max_header_bytes = cfg.max_header_bytes;
        sc.header_timeout = cfg.header_timeout;
        sc.read_timeout = cfg.read_timeout;
        sc.write_timeout = cfg.write_timeout;
        sc.idle_timeout = cfg.idle_timeout;
        sc.max_connections = cfg.max_connections;
        sc.max_connections_per_client = cfg.max_connections_per_client;
        sc.reuse_port = cfg.reuse_port;
        std::weak_ptr<impl> weak = shared_from_this();
        if (!keys.empty()) {
            // Keys are checked from the head, before a body is read: a client without a valid
            // key cannot make the gateway buffer bodies. The handler checks again to learn
            // which key it is (one SHA-256 of a short string).
            sc.head_check = [weak](detail::server_request const& req)
                -> std::optional<detail::early_answer> {
                auto s = weak.lock();
                if (!s) return std::nullopt;
                auto const head = detail::head_of(req);
                auto const path = head.path;
                if (path == "/health" || path == "/healthz") return std::nullopt;
                auto const& format = s->format_serving(path);
                auto key = s->authenticate(head, format);
                if (key) return std::nullopt;
                s->metrics->auth_failures.fetch_add(1, std::memory_order_relaxed);
                s->metrics->http_requests.fetch_add(1, std::memory_order_relaxed);
                auto const e = key.error();
                s->metrics->errors.add(e.status);
                request_record rec;
                rec.start = steady::now();
                rec.method = std::string_view(req.method_string().data(), req.method_string().size());
                rec.path = path;
                rec.status = e.status;
                s->log(rec);
                auto answer = format.encode_error(e);
                detail::early_answer a;
                a.status = answer.status;
                a.content_type = std::move(answer.content_type);
                a.body = std::move(answer.body);
                // The format's request id header, as on every other answer: the id a user
                // quotes when asking why a request was refused.
                auto const ids = s->new_ids(format);
                detail::answer_meta meta;
                meta.id = ids.first;
                meta.request_id = ids.second;
                list_headers sink(a.headers);
                format.response_headers(meta, sink);
                for (auto& h : answer.headers)
                    a.headers.push_back(std::move(h));
                return a;
            };
        }
        sc.error_renderer = [weak](detail::server_request const& req, unsigned status,
                                   std::string_view message, std::string& type,
                                   std::string& body) {
            api_error e;
            e.status = status;
            e.code = status == 413   ? "request_too_large"
                     : status == 431 ? "request_header_fields_too_large"
                     : status >= 500 ? "server_error"
                                     : "bad_request";
            e.message = std::string(message);
            auto s = weak.lock();
            if (status == 413 && s)
                e.message +=
                    " (the limit is " + std::to_string(s->cfg.max_body_bytes) + " bytes)";
            // The request may be only partly parsed: the format of its path, if any.
            auto const path =
                path_of(std::string_view(req.target().data(), req.target().size()));
            auto const& format = s ? s->format_serving(path) : *detail::wire_servers().front();
            auto answer = format.encode_error(e);
            type = std::move(answer.content_type);
            body = std::move(answer.body);
            if (s) {
                s->metrics->http_requests.fetch_add(1, std::memory_order_relaxed);
                s->metrics->errors.add(status);
                request_record rec;
                rec.start = steady::now();
                rec.method = std::string_view(req.method_string().data(),
                                              req.method_string().size());
                rec.path = path_of(std::string_view(req.target().data(), req.target().size()));
                rec.status = status;
                s->log(rec);
            }
        };
        return sc;
    }

    // -- helpers -----------------------------------------------------------------------------

    /// The format whose endpoints serve `path` (the shape of its errors), else the first.
    wire_server const& format_serving(std::string_view path) const {
        if (auto const* f = table.path_served(path).first) return *f;
        return *detail::wire_servers().front();
    }

    /// The ids of one answer: its response id and its request id, unique and unguessable
    /// across restarts (a random tag, then a counter).
    std::pair<std::string, std::string> new_ids(wire_server const& format) {
        auto const n = next_id.fetch_add(1, std::memory_order_relaxed) + 1;
        return {format.make_id(detail::id_kind::response, id_tag, n),
                format.make_id(detail::id_kind::request, id_tag, n)};
    }

    void log(request_record const& r) {
        if (!cfg.access_log) return;
        std::string line;
        line.reserve(256);
        {
            auto const now = std::chrono::system_clock::now();
            auto const t = std::chrono::system_clock::to_time_t(now);
            auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                now.time_since_epoch())
                                .count() %
                            1000;
            std::tm tm{};
            ::gmtime_r(&t, &tm);
            char buf[40];
            std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
            n += static_cast<std::size_t>(
                std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms)));
            line.append(buf, n);
        }
        line += " key="sv;
        line += r.key ? std::string_view(r.key->name) : std::string_view("-");
        line += ' ';
        line += r.method;
        line += ' ';
        append_field(line, r.path);
        line += " model="sv;
        append_field(line, r.model);
        line += " upstream="sv;
        append_field(line, r.upstream);
        line += " status="sv;
        append_u(line, r.status);
        line += " attempts="sv;
        append_u(line, r.attempts);
        line += " latency_ms="sv;
        append_ms(line, steady::now() - r.start);
        line += " ttft_ms="sv;
        append_ms(line, r.ttft);
        line += " in="sv;
        if (r.use.input_tokens)
            append_u(line, *r.use.input_tokens);
        else
            line += '-';
        line += " out="sv;
        if (r.use.output_tokens)
            append_u(line, *r.use.output_tokens);
        else
            line += '-';
        // Parts of in= (cache reads and writes) and of out= (reasoning), '-' when not reported.
        for (auto [name, n] : {std::pair{" cached=", &r.use.cached_input_tokens},
                               std::pair{" cache_write=", &r.use.cache_write_tokens},
                               std::pair{" reasoning=", &r.use.reasoning_tokens}}) {
            line += name;
            if (*n)
                append_u(line, **n);
            else
                line += '-';
        }
        line += " cost="sv;
        if (r.cost) {
            char buf[32];
            int const n = std::snprintf(buf, sizeof buf, "%.8f", *r.cost);
            line.append(buf, static_cast<std::size_t>(n));
        } else {
            line += '-';
        }
        if (!r.error.empty()) {
            line += " error="sv;
            append_field(line, r.error, 1000);
        }
        if (r.cached) line += " cache=hit"sv;
        if (cfg.log_prompts && !r.prompt.empty()) {
            line += " prompt="sv;
            append_field(line, r.prompt, 1000);
        }
        write_line(std::move(line));
    }

    /// One line to the log sink, or the log file / stderr.
    void write_line(std::string line) {
        if (cfg.log_sink) {
            cfg.log_sink(line);
            return;
        }
        line += '\n';
        if (log_fd >= 0) {
            // One write per line: lines from many threads do not interleave (O_APPEND).
            auto const n = ::write(log_fd, line.data(), line.size());
            (void)n;
        }
    }

    /** The gateway key presented on the request, or an error; nullptr when no keys are
        configured. The key is read where the format's SDKs put theirs (`format`), else from
        `Authorization: Bearer` or `x-api-key`, which every endpoint accepts.
    */
    boost::system::result<key_state*, api_error> authenticate(detail::request_head const& head,
                                                              wire_server const& format) {
        if (keys.empty()) return static_cast<key_state*>(nullptr);
        auto const c = format.presented_credential(head);
        std::string_view presented =
            c.how == detail::credential::kind::api_key ||
                    c.how == detail::credential::kind::access_token
                ? c.value
                : std::string_view();
        if (presented.empty()) {
            auto const auth = head.header("authorization");
            if (auth.size() > 7 && detail::iequals(auth.substr(0, 7), "Bearer "))
                presented = auth.substr(7);
        }
        if (presented.empty()) presented = head.header("x-api-key");
        api_error e;
        e.status = 401;
        e.no_retry = true;
        if (presented.empty()) {
            e.code = "missing_api_key";
            e.message = "missing gateway key: send '" + std::string(format.key_hint()) + "'";
            return e;
        }
        auto const digest = detail::sha256(presented);
        key_state* found = nullptr;
        // Every key is compared, in constant time, whatever matched.
        for (auto const& k : keys)
            if (CRYPTO_memcmp(k->hash.data(), digest.data(), digest.size()) == 0) found = k.get();
        if (!found) {
            e.code = "invalid_api_key";
            e.message = "invalid gateway key";
            return e;
        }
        return found;
    }

    /// The group of `model`: a configured one, or a plain `provider/model` id.
    group_state const* find_group(std::string_view model, group_state& scratch) {
        if (auto it = groups.find(model); it != groups.end()) return it->second.get();
        if (!any_model || !up.check(model)) return nullptr;
        scratch.name = std::string(model);
        scratch.simple = true;
        scratch.order.assign(1, scratch.name);
        scratch.format = format_of(up, model);
        return &scratch;
    }

    /// What a failed call (all its attempts) was billed.
    static double billed(failure const& f) { return f.diag.cost_usd.value_or(0); }

    /// The most a request may cost on any deployment of its group; empty when one of them
    /// has no price.
    std::optional<double> max_cost(group_state const& g, chat_request const& req) const {
        double most = 0;
        for (auto const& d : g.order) {
            auto const c = up.max_cost(req, d);
            if (!c) return std::nullopt;
            most = std::max(most, *c);
        }
        return most;
    }

    model_list ranked(group_state const& g, chat_request const& req) {
        if (!g.how || !g.rt) return g.order;
        auto ranking = g.rt->rank(req, *g.how);
        if (ranking.empty()) return g.order;
        return model_list(std::move(ranking));
    }

    /** The composed policy of a group: its deployments in order, each retried with backoff
        (`retries`, `retry_backoff`) before the next, hedged when `hedge` is set (whole
        answers), continued when `continue_streams` is set (streams), all under `deadline`.
    */
    fallback_options fb_options(group_state const& g, bool stream) const {
        fallback_options o;
        o.per_attempt = g.g.per_attempt;
        o.deadline = g.g.deadline;
        if (g.g.retries) {
            retry_options r;
            r.max_attempts = g.g.retries + 1;
            r.initial_backoff = g.g.retry_backoff;
            o.retry = r;
        }
        if (g.g.hedge) {
            hedge_options h;
            h.delay = *g.g.hedge;
            o.hedge = h;
        }
        o.continue_streams = stream && g.g.continue_streams;
        return o;
    }

    // -- responses ---------------------------------------------------------------------------

    /// `e` in `format`'s error shape; `ids` adds the format's response headers (request id).
    asio::awaitable<void> send_error(detail::server_exchange& ex, wire_server const& format,
                                     api_error const& e,
                                     detail::answer_meta const* meta = nullptr) {
        auto const a = format.encode_error(e);
        ex.set_status(a.status);
        ex.add_header("Content-Type", a.content_type);
        if (meta) {
            exchange_headers h(ex);
            format.response_headers(*meta, h);
        }
        for (auto const& [name, value] : a.headers)
            ex.add_header(name, value);
        co_await ex.send(a.body);
    }

    asio::awaitable<void> send_json(detail::server_exchange& ex, unsigned status,
                                    std::string_view body) {
        ex.set_status(status);
        ex.add_header("Content-Type", "application/json");
        co_await ex.send(body);
    }

    // -- the handler -------------------------------------------------------------------------

    /// `keep` holds the gateway while the request runs (in this frame: no wrapper's).
    asio::awaitable<void> handle(detail::server_exchange& ex, std::shared_ptr<impl> keep) {
        (void)keep;
        // Cancellation (the client left, or a hard stop) is seen as results, not exceptions,
        // so the bookkeeping below always runs.
        co_await asio::this_coro::throw_if_cancelled(false);
        metrics->http_requests.fetch_add(1, std::memory_order_relaxed);
        auto& req = ex.request();
        auto const head = detail::head_of(req);
        auto const path = head.path;
        auto const& first = *detail::wire_servers().front();
        bool const get = head.method == "GET" || head.method == "HEAD";

        if (path == "/health" || path == "/healthz") {
            if (!get) {
                co_await not_allowed(ex, first, "GET");
                co_return;
            }
            static constexpr std::string_view ok = "{\"status\":\"ok\"}";
            co_await send_json(ex, 200, ok);
            co_return;
        }
        if (path.starts_with("/v1/llmux/keys/")) {
            if (!get) {
                co_await not_allowed(ex, first, "GET");
                co_return;
            }
            co_await key_spend_request(ex, head, first, path);
            co_return;
        }
        if (path == "/metrics") {
            if (!get) {
                co_await not_allowed(ex, first, "GET");
                co_return;
            }
            auto key = authenticate(head, first);
            if (!key) {
                metrics->auth_failures.fetch_add(1, std::memory_order_relaxed);
                auto const e = key.error();  // named: GCC 12 and temporaries in co_await
                co_await answer_plain_error(ex, first, e, path);
                co_return;
            }
            std::string body;
            body.reserve(16384);
            render_metrics(body);
            ex.set_status(200);
            ex.add_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            co_await ex.send(body);
            co_return;
        }
        auto const match = table.find(head.method, path);
        if (!match) {
            if (auto const [format, allow] = table.path_served(path); format) {
                co_await not_allowed(ex, *format, allow);
                co_return;
            }
            api_error e;
            e.status = 404;
            e.code = "not_found";
            e.message = "unknown endpoint '" + std::string(path) + "' (served: " + served + ")";
            co_await answer_plain_error(ex, first, e, path);
            co_return;
        }
        auto const& format = *match->server;
        switch (match->ep->op) {
        case detail::operation::chat:
        case detail::operation::count_tokens:
            co_await model_request(ex, *match);
            co_return;
        case detail::operation::embed:
            co_await embed_request(ex, *match);
            co_return;
        case detail::operation::list_models:
        case detail::operation::get_model:
            break;
        }
        auto key = authenticate(head, format);
        if (!key) {
            metrics->auth_failures.fetch_add(1, std::memory_order_relaxed);
            auto const e = key.error();
            co_await answer_plain_error(ex, format, e, path);
            co_return;
        }
        std::string body;
        auto const now = static_cast<std::int64_t>(std::time(nullptr));
        if (match->ep->op == detail::operation::list_models) {
            format.encode_models(model_names, now, body);
        } else if (std::find(model_names.begin(), model_names.end(), match->path_model) !=
                   model_names.end()) {
            format.encode_model(match->path_model, now, body);
        } else {
            api_error e;
            e.status = 404;
            e.code = "model_not_found";
            e.param = "model";
            e.message = "the model '" + match->path_model +
                        "' does not exist on this gateway (GET /v1/models lists the models)";
            co_await answer_plain_error(ex, format, e, path);
            co_return;
        }
        ex.set_status(200);
        ex.add_header("Content-Type", format.content_type());
        co_await ex.send(body);
    }

    asio::awaitable<void> not_allowed(detail::server_exchange& ex, wire_server const& format,
                                      std::string_view allow) {
        api_error e;
        e.status = 405;
        e.code = "method_not_allowed";
        e.message = "method not allowed: use " + std::string(allow);
        ex.add_header("Allow", allow);
        auto const target = ex.request().target();
        co_await answer_plain_error(ex, format, e,
                                    path_of(std::string_view(target.data(), target.size())));
    }

    /// An error answered before any model work: metrics and log, then the body.
    asio::awaitable<void> answer_plain_error(detail::server_exchange& ex,
                                             wire_server const& format, api_error const& e,
                                             std::string_view path) {
        metrics->errors.add(e.status);
        request_record rec;
        rec.start = steady::now();
        rec.method = std::string_view(ex.request().method_string().data(),
                                      ex.request().method_string().size());
        rec.path = path;
        rec.status = e.status;
        log(rec);
        co_await send_error(ex, format, e);
    }

    void render_metrics(std::string& out) const {
        auto const s = server->stats();
        metrics->render(out, {s.accepted, s.open});
        auto const t = up.stats();
        detail::scalar(out, "llmux_upstream_connections_open", "gauge",
                       "Upstream sockets open now.", t.connections_open);
        detail::scalar(out, "llmux_upstream_requests_total", "counter",
                       "Upstream HTTP requests sent.", t.requests);
        detail::help(out, "llmux_state_available", "gauge",
                     "1 while the state store answers, else 0.");
        out += "llmux_state_available{store=\""sv;
        detail::label_value(out, store->kind());
        out += store->available() ? "\"} 1\n"sv : "\"} 0\n"sv;
        detail::scalar(out, "llmux_state_errors_total", "counter",
                       "State store operations that failed.",
                       state_errors.load(std::memory_order_relaxed));
        detail::scalar(out, "llmux_state_unsaved_settlements", "gauge",
                       "Spend the store has not taken yet, kept for retry.",
                       unsaved_count.load(std::memory_order_relaxed));
        detail::scalar(out, "llmux_state_unsaved_dropped_total", "counter",
                       "Unsaved settlements given up (beyond gateway.state.max_unsaved).",
                       unsaved_dropped.load(std::memory_order_relaxed));
        // Adaptive concurrency per provider (client_config::concurrency), when it is on.
        auto const gates = up.concurrency();
        if (gates.empty()) return;
        auto per_provider = [&](char const* name, char const* type, char const* text, auto get) {
            detail::help(out, name, type, text);
            for (auto const& g : gates) {
                out.append(name).append("{provider=\""sv);
                detail::label_value(out, g.provider);
                out += "\"} "sv;
                detail::num(out, get(g));
                out += '\n';
            }
        };
        per_provider("llmux_upstream_concurrency_limit", "gauge",
                     "Adaptive in-flight limit per provider.", [](auto const& g) { return g.limit; });
        per_provider("llmux_upstream_queue_depth", "gauge", "Calls waiting for a slot per provider.",
                     [](auto const& g) { return g.queued; });
        per_provider("llmux_upstream_requeued_total", "counter",
                     "Calls queued again after a 429/529.", [](auto const& g) { return g.requeued; });
    }

    /// `GET /v1/llmux/keys/{name}`: a key's spend, reservations and spend by model. A key
    /// reads its own; an admin key reads any.
    asio::awaitable<void> key_spend_request(detail::server_exchange& ex,
                                            detail::request_head const& head,
                                            wire_server const& format, std::string_view path) {
        auto const name = path.substr(std::string_view("/v1/llmux/keys/").size());
        auto key = authenticate(head, format);
        if (!key) {
            metrics->auth_failures.fetch_add(1, std::memory_order_relaxed);
            auto const e = key.error();
            co_await answer_plain_error(ex, format, e, path);
            co_return;
        }
        key_state const* me = *key;
        api_error e;
        if (me && !me->admin && me->name != name) {
            // Whether another key exists is not this key's business.
            e.status = 403;
            e.code = "forbidden";
            e.message = "gateway key '" + me->name +
                        "' may read only its own spend (GET /v1/llmux/keys/" + me->name +
                        "); an admin key reads any";
            co_await answer_plain_error(ex, format, e, path);
            co_return;
        }
        key_state const* target = nullptr;
        for (auto const& k : keys)
            if (k->name == name) target = k.get();
        if (!target) {
            e.status = 404;
            e.code = "not_found";
            e.message = keys.empty() ? "this gateway has no keys"
                                     : "no gateway key is named '" +
                                           detail::printable_name(name) + "'";
            co_await answer_plain_error(ex, format, e, path);
            co_return;
        }
        auto sp = co_await store->spend(target->name);
        if (!sp) {
            state_failed(sp.error());
            e.status = 503;
            e.code = "state_unavailable";
            e.retry_after = std::chrono::seconds(1);
            e.message = "the gateway's state store is unavailable; try again";
            co_await answer_plain_error(ex, format, e, path);
            co_return;
        }
        boost::json::object o;
        o["name"] = target->name;
        o["store"] = std::string(store->kind());
        if (target->budget)
            o["budget_usd"] = *target->budget;
        else
            o["budget_usd"] = nullptr;
        o["spent_usd"] = static_cast<double>(sp->spent) / 1e9;
        o["spent_nano_usd"] = sp->spent;
        o["reserved_usd"] = static_cast<double>(sp->reserved) / 1e9;
        o["reservations"] = sp->reservations;
        boost::json::array by;
        for (auto const& m : sp->by_model) {
            boost::json::object row;
            row["model"] = m.model;
            row["spent_usd"] = static_cast<double>(m.cost) / 1e9;
            row["spent_nano_usd"] = m.cost;
            by.push_back(std::move(row));
        }
        o["by_model"] = std::move(by);
        if (target->quota.limited()) {
            boost::json::object q;
            q["requests_per_minute"] = target->quota.requests_per_minute;
            q["tokens_per_minute"] = target->quota.tokens_per_minute;
            o["limits"] = std::move(q);
        }
        auto const body = boost::json::serialize(o);
        co_await send_json(ex, 200, body);
    }

    /// A chat (or token count) request of any format: `POST /v1/chat/completions`,
    /// `POST /v1/messages`, ...
    asio::awaitable<void> model_request(detail::server_exchange& ex,
                                        detail::endpoint_match const& match) {
        auto& req = ex.request();
        auto const& format = *match.server;
        auto head = detail::head_of(req);
        head.path_model = match.path_model;
        // Every answer of a model request carries the format's request id header.
        request_scope sc(head, new_ids(format));
        auto& rec = sc.rec;
        auto& meta = sc.meta;

        auto key = authenticate(head, format);
        if (!key) {
            metrics->auth_failures.fetch_add(1, std::memory_order_relaxed);
            auto const e = key.error();  // a copy: error() returns by value
            co_await refuse(ex, format, sc, e);
            co_return;
        }
        rec.key = *key;

        auto parsed = format.decode_request(head, req.body());
        if (!parsed) {
            auto const e = parsed.error();
            co_await refuse(ex, format, sc, e);
            co_return;
        }
        auto& p = *parsed;
        p.stream = p.stream || match.ep->stream;
        std::string const public_name = p.req.model;
        rec.model = public_name;
        if (cfg.log_prompts) rec.prompt = last_user_text(p.req);

        group_state scratch;
        auto const* g = find_group(public_name, scratch);
        if (!g) {
            auto const e = unknown_model(public_name);
            co_await refuse(ex, format, sc, e);
            co_return;
        }
        if (match.ep->op == detail::operation::count_tokens) {
            // No upstream is asked: the estimate every budget and limit uses (documented as an
            // estimate where the endpoint is).
            std::string out;
            format.encode_token_count(detail::estimate_prompt(p.req).typical, out);
            rec.status = 200;
            log(rec);
            co_await send_whole(ex, format, meta, rec.start, out);
            co_return;
        }
        // What the unified request cannot hold goes on to an upstream of the request's own
        // format, and is refused for any other rather than dropped.
        if (!p.native.empty()) {
            if (g->format != format.name()) {
                auto const key_view = p.native.begin()->key();
                auto const e = foreign_field(!p.native_name.empty()
                                                 ? p.native_name
                                                 : std::string(key_view.data(), key_view.size()),
                                             public_name, format);
                co_await refuse(ex, format, sc, e);
                co_return;
            }
            p.req.extra = std::move(p.native);
        }

        // The response cache (opt-in per group). A hit is answered before the key's limits
        // and budget: it asks no provider and costs nothing. The key holds the gateway key's
        // name and the group, so an answer never crosses either.
        std::string cache_key;
        if (g->g.cache) {
            auto const cc = detail::parse_cache_control(head.header("cache-control"));
            if (cc.no_store || !detail::cacheable(p.req, *g->g.cache)) {
                metrics->cache_bypassed.fetch_add(1, std::memory_order_relaxed);
                ex.add_header("x-llmux-cache", "bypass");
            } else {
                cache_key = detail::response_cache_key(*key ? std::string_view((*key)->name)
                                                            : std::string_view(),
                                                       g->name, p.req);
                if (cc.no_cache) {
                    // The fresh answer replaces the entry.
                    metrics->cache_bypassed.fetch_add(1, std::memory_order_relaxed);
                    ex.add_header("x-llmux-cache", "bypass");
                } else if (auto cached = co_await cache_lookup(cache_key)) {
                    metrics->cache_hits.fetch_add(1, std::memory_order_relaxed);
                    co_await answer_from_cache(ex, format, meta, rec, *g, p, *key, *cached);
                    co_return;
                } else {
                    metrics->cache_misses.fetch_add(1, std::memory_order_relaxed);
                    ex.add_header("x-llmux-cache", "miss");
                }
            }
        }
        // A request refused before it reaches a provider counts under its model's name only
        // if that name already has counters (see gateway_metrics::model).
        auto refused = [&](unsigned status) {
            auto const c = metrics->model(g->name, false);
            c->requests.fetch_add(1, std::memory_order_relaxed);
            if (p.stream) c->streams.fetch_add(1, std::memory_order_relaxed);
            c->errors.add(status);
        };

        // The key's rate limits, then its budget (see admit_key).
        key_state* k = *key;
        std::uint64_t rate_tokens = 0;
        bool rate_taken = false;
        std::optional<budget_reservation> reservation;
        if (k) {
            auto const size = detail::estimate_prompt(p.req);
            auto admitted = co_await admit_key(
                *k, public_name,
                size.typical + static_cast<std::uint64_t>(
                                   std::max<std::int64_t>(p.req.max_tokens.value_or(0), 0)),
                [&] { return max_cost(*g, p.req); }, " (its max_tokens bounds that)",
                ex, format, sc, refused);
            if (!admitted) co_return;
            rate_tokens = admitted->rate_tokens;
            rate_taken = admitted->rate_taken;
            reservation = std::move(admitted->reservation);
        }

        // Other replicas' view of the deployments a strategy chooses between.
        if (share_health && !g->simple) co_await pull_health(*g);

        metrics->in_flight.fetch_add(1, std::memory_order_relaxed);

        meta.created = static_cast<std::int64_t>(std::time(nullptr));
        meta.model = public_name;
        result<chat_response> const* outcome = nullptr;
        std::optional<result<chat_response>> whole;  // made from the call's result in place
        chat_stream stream;
        std::unique_ptr<detail::stream_encoder> encoder;
        bool sse_started = false;
        std::string tail;  // a stream's last events, sent with its end (see relay)

        if (!p.stream) {
            whole.emplace(co_await call(*g, std::move(p.req)));
            outcome = &*whole;
            if (*whole) rec.ttft = (*whole)->ttft;
        } else {
            encoder = format.make_stream_encoder(meta, p.include_usage);
            stream = open_stream(*g, std::move(p.req));
            sse_started = co_await relay(ex, format, meta, *encoder, stream, rec, tail);
            // A relay that stopped before the stream's end (the client left, or a write to it
            // failed or timed out) ends the call here: closing settles what the upstream billed
            // so far, which the accounting below must see (an unfinished stream has no answer).
            if (!stream.done()) stream.close();
            outcome = &stream.response();
            // The events that came with the end wait for it (one write) only behind the
            // in-process store: a remote one's round trips (Redis, SQLite's writes) must not
            // hold back content that has arrived.
            if (!tail.empty() && !instant_store && !ex.client_gone()) {
                (void)co_await ex.write_chunk(tail);
                tail.clear();
            }
        }

        // Bookkeeping (metrics, spend, rate-limit correction, log line) comes before the last
        // bytes of the answer: a client that reads /metrics right after sees its request.
        auto const& r = *outcome;
        std::optional<failure> failed;  // error() returns a copy: take it once
        if (!r) failed.emplace(r.error());
        std::optional<api_error> err;
        if (failed && !ex.client_gone())
            err = detail::error_from_failure(*failed, cfg.expose_upstream_errors);
        auto spent = account(rec, *g, p.stream, r, failed, err, ex.client_gone(),
                             reservation ? reservation->amount : 0);
        if (saves(k, reservation, spent))
            co_await save(rec, k, std::move(reservation), std::move(spent), public_name,
                          std::string(meta.id));
        // Kept before the answer's last bytes go out, so the client's next request finds it.
        if (!cache_key.empty() && r && !ex.client_gone() && detail::storable(*r))
            co_await cache_store(std::move(cache_key), *r, g->g.cache->ttl);
        if (share_health) co_await push_health(r, failed);
        if (rate_taken && rec.use.known()) {
            auto const actual = *rec.use.input_tokens + *rec.use.output_tokens;
            auto const delta = static_cast<std::int64_t>(actual) - static_cast<std::int64_t>(rate_tokens);
            if (delta != 0)
                if (auto c = co_await store->correct_rate(k->name, k->quota, delta); !c)
                    state_failed(c.error());
        }
        log(rec);

        if (ex.client_gone()) co_return;
        std::string out;
        if (!p.stream) {
            if (err) {
                co_await send_error(ex, format, sc, *err);
                co_return;
            }
            out.reserve(512 + (*whole)->content.size());
            format.encode_response(**whole, meta, out);
            co_await send_whole(ex, format, meta, rec.start, out);
            co_return;
        }
        if (err && !sse_started) {
            // Nothing was sent yet: a real HTTP status.
            co_await send_error(ex, format, sc, *err);
            co_return;
        }
        if (!sse_started) start_stream(ex, format, meta, rec.start);
        if (err)
            encoder->error(*err, tail);
        else
            encoder->finish(*r, tail);
        co_await ex.end_chunked(tail);
    }

    /// What a key's limits and budget let through (see `admit_key`).
    struct admitted_key {
        /// Tokens taken from the key's rate (corrected after the call), if any were.
        std::uint64_t rate_tokens = 0;
        bool rate_taken = false;
        /// The budget held for the request, settled after the call with what it did cost.
        std::optional<budget_reservation> reservation;
    };

    /** The key's rate limits, then its budget, for any kind of request: `tokens` are taken
        from its token rate (capped), and the request reserves `most()`, the most it may cost on
        its costliest deployment (empty: unpriced, refused under a budget). Both live in the
        state store, so replicas sharing one see one budget and one rate. A refusal (429, 400
        `unpriced_model`, 402, 503 when the store is down and the gateway fails closed) is
        counted under its model by `counted(status)`, written to the ledger (but the 503), logged
        and answered (`refuse`); the result is then empty. `bound_hint` says what bounds the
        request's cost, for the 402's message.
    */
    template <class Most, class Counted>
    asio::awaitable<std::optional<admitted_key>>
    admit_key(key_state& key, std::string const& public_name, std::uint64_t tokens, Most most,
              std::string_view bound_hint, detail::server_exchange& ex, wire_server const& format,
              request_scope& sc, Counted counted) {
        auto& rec = sc.rec;
        key_state* const k = &key;
        admitted_key out;
        if (unsaved_count.load(std::memory_order_relaxed) > 0) co_await flush_unsaved();
        std::optional<failure> fault;
        if (k->limited()) {
            out.rate_tokens = std::min<std::uint64_t>(tokens, max_rate_per_minute);
            auto d = co_await store->acquire_rate(k->name, k->quota, out.rate_tokens);
            if (!d) {
                fault.emplace(d.error());
            } else if (!d->allowed) {
                metrics->rate_limited.fetch_add(1, std::memory_order_relaxed);
                api_error e;
                e.status = 429;
                e.code = "rate_limit_exceeded";
                e.retry_after = std::max(d->retry_after, std::chrono::milliseconds(1));
                e.message = "gateway key '" + k->name + "' is over its rate limit";
                counted(e.status);
                rec.status = e.status;  // the ledger row's
                co_await ledger_refusal(rec, k, public_name, e.code);
                co_await refuse(ex, format, sc, e);
                co_return std::nullopt;
            } else {
                out.rate_taken = true;
            }
        }
        if (!fault && k->budget) {
            std::optional<double> const worst = most();
            if (!worst) {
                api_error e;
                e.status = 400;
                e.code = "unpriced_model";
                e.param = "model";
                e.no_retry = true;
                e.message = "the model '" + public_name +
                            "' has no known price, and gateway key '" + k->name +
                            "' has a budget that must not be spent blindly (the gateway's "
                            "operator can set unpriced_price to charge a price for it)";
                counted(e.status);
                rec.status = e.status;  // the ledger row's
                co_await ledger_refusal(rec, k, public_name, e.code);
                co_await refuse(ex, format, sc, e);
                co_return std::nullopt;
            }
            auto o = co_await store->reserve(k->name, clamp_nano(to_nano(*worst)),
                                             clamp_nano(to_nano(*k->budget)),
                                             cfg.state.reservation_ttl);
            if (!o) {
                fault.emplace(o.error());
            } else if (!o->granted()) {
                metrics->budget_exceeded.fetch_add(1, std::memory_order_relaxed);
                api_error e;
                e.status = 402;
                e.code = "budget_exceeded";
                e.no_retry = true;
                // The figures, so that a user can tell a spent budget from a request whose
                // worst case is too large.
                auto const budget_nano = clamp_nano(to_nano(*k->budget));
                auto const left = std::max<nano_usd>(budget_nano - o->spent - o->reserved, 0);
                e.message = "the budget of gateway key '" + k->name +
                            "' cannot cover this request: it may cost up to " +
                            usd(clamp_nano(to_nano(*worst))) + std::string(bound_hint) +
                            ", and " + usd(left) + " of " + usd(budget_nano) + " is left (spent " +
                            usd(o->spent) + ", held by requests in flight " + usd(o->reserved) +
                            ")";
                counted(e.status);
                rec.status = e.status;  // the ledger row's
                co_await ledger_refusal(rec, k, public_name, e.code);
                co_await refuse(ex, format, sc, e);
                co_return std::nullopt;
            } else {
                out.reservation = std::move(o->reservation);
            }
        }
        if (fault) {
            state_failed(*fault);
            rec.error = "state store: " + fault->to_string();
            if (!cfg.state.fail_open) {
                api_error e;
                e.status = 503;
                e.code = "state_unavailable";
                e.retry_after = std::chrono::seconds(1);
                e.message = "the gateway cannot check the budget and limits of key '" + k->name +
                            "' now (its state store is unavailable); try again";
                counted(e.status);
                co_await refuse(ex, format, sc, e);
                co_return std::nullopt;
            }
            // Fail open: served unchecked; what it costs is still charged (or kept).
            out.rate_taken = false;
        }
        co_return out;
    }

    /// A model request refused before any upstream is asked: counted, logged and answered in
    /// its format's error shape.
    asio::awaitable<void> refuse(detail::server_exchange& ex, wire_server const& format,
                                 request_scope& sc, api_error const& e) {
        sc.rec.status = e.status;
        metrics->errors.add(e.status);
        log(sc.rec);
        co_await send_error(ex, format, sc, e);
    }

    /// An error answer of a model request, with its ids and the time spent before it.
    asio::awaitable<void> send_error(detail::server_exchange& ex, wire_server const& format,
                                     request_scope& sc, api_error const& e) {
        sc.meta.processing_ms = ms(steady::now() - sc.rec.start);
        co_await send_error(ex, format, e, &sc.meta);
    }

    /// The 404 for a model name the gateway does not serve.
    static api_error unknown_model(std::string const& name) {
        api_error e;
        e.status = 404;
        e.code = "model_not_found";
        e.param = "model";
        e.message = "the model '" + name +
                    "' does not exist on this gateway (GET /v1/models lists the models)";
        return e;
    }

    /// The refusal of a field of the inbound format (`field`) that the unified request cannot
    /// hold, for a model whose deployments do not all speak that format.
    static api_error foreign_field(std::string field, std::string const& public_name,
                                   wire_server const& format) {
        api_error e;
        e.status = 400;
        e.code = "unsupported";
        e.no_retry = true;
        e.message = "the field '" + field + "' has no equivalent for model '" + public_name +
                    "', whose deployments do not all speak the " + std::string(format.name()) +
                    " wire format; remove it or pick a model that does";
        e.param = std::move(field);
        return e;
    }

    /** An embeddings request (`POST /v1/embeddings`): keys, rate limits and budget as for
        chat, the group's deployments tried in order (the next after a failure that a retry
        elsewhere can fix), vectors sent back as the client asked (float or base64) whatever
        the upstream sent.
    */
    asio::awaitable<void> embed_request(detail::server_exchange& ex,
                                        detail::endpoint_match const& match) {
        auto& req = ex.request();
        auto const& format = *match.server;
        auto head = detail::head_of(req);
        head.path_model = match.path_model;
        // Every answer of a model request carries the format's request id header.
        request_scope sc(head, new_ids(format));
        auto& rec = sc.rec;
        auto& meta = sc.meta;

        auto key = authenticate(head, format);
        if (!key) {
            metrics->auth_failures.fetch_add(1, std::memory_order_relaxed);
            auto const e = key.error();
            co_await refuse(ex, format, sc, e);
            co_return;
        }
        rec.key = *key;
        auto parsed = format.decode_embedding_request(head, req.body());
        if (!parsed) {
            auto const e = parsed.error();
            co_await refuse(ex, format, sc, e);
            co_return;
        }
        auto& p = *parsed;
        std::string const public_name = p.req.model;
        rec.model = public_name;
        group_state scratch;
        auto const* g = find_group(public_name, scratch);
        if (!g) {
            auto const e = unknown_model(public_name);
            co_await refuse(ex, format, sc, e);
            co_return;
        }
        // Every deployment must be able to embed: a group is one model to its clients.
        for (auto const& d : g->order) {
            if (auto c = up.check_embed(d); !c) {
                api_error e;
                e.status = 400;
                e.code = "unsupported";
                e.param = "model";
                e.no_retry = true;
                e.message = "the model '" + public_name + "' has no embeddings: " +
                            c.error().diag.message;
                co_await refuse(ex, format, sc, e);
                co_return;
            }
        }
        // As for chat: what the unified request cannot hold goes on to an upstream of the
        // request's own format, and is refused for any other rather than dropped.
        if (!p.native.empty()) {
            if (g->format != format.name()) {
                auto const key_view = p.native.begin()->key();
                auto const e = foreign_field(std::string(key_view.data(), key_view.size()),
                                             public_name, format);
                co_await refuse(ex, format, sc, e);
                co_return;
            }
            p.req.extra = std::move(p.native);
        }

        auto refused = [&](unsigned status) {
            auto const c = metrics->model(g->name, false);
            c->requests.fetch_add(1, std::memory_order_relaxed);
            c->errors.add(status);
        };
        // The key's rate limits, then its budget, as for chat (see admit_key).
        key_state* k = *key;
        std::uint64_t rate_tokens = 0;
        bool rate_taken = false;
        std::optional<budget_reservation> reservation;
        if (k) {
            auto most = [&]() -> std::optional<double> {
                std::optional<double> m = 0.0;
                for (auto const& d : g->order) {
                    auto const c = up.max_cost(p.req, d);
                    if (!c) return std::nullopt;
                    m = std::max(*m, *c);
                }
                return m;
            };
            auto admitted = co_await admit_key(
                *k, public_name, detail::estimate_inputs(p.req.inputs).typical, most, "",
                ex, format, sc, refused);
            if (!admitted) co_return;
            rate_tokens = admitted->rate_tokens;
            rate_taken = admitted->rate_taken;
            reservation = std::move(admitted->reservation);
        }

        metrics->in_flight.fetch_add(1, std::memory_order_relaxed);
        meta.created = static_cast<std::int64_t>(std::time(nullptr));
        meta.model = public_name;
        // The deployments in order; the next only after a failure another one may not have.
        result<embedding_response> r{failure(error::cancelled, "not run")};
        std::vector<attempt> attempts;
        double billed_failures = 0;
        for (auto const& d : g->order) {
            embedding_request one = p.req;
            one.model = d;
            auto const t = steady::now();
            r = co_await up.embed(std::move(one));
            if (r) break;
            auto const f = r.error();
            attempts.push_back(attempt{d, f, steady::now() - t});
            billed_failures += billed(f);
            if (!is_retryable(f) || ex.client_gone()) break;
        }
        if (!r && attempts.size() > 1) {
            failure all(error::all_attempts_failed, "every deployment failed");
            all.diag.attempts = attempts;
            all.diag.cost_usd = billed_failures;
            r = std::move(all);
        }

        // Bookkeeping before the answer, as for chat.
        auto const held = metrics->model(g->name, r.has_value());
        auto& counters = *held;
        counters.requests.fetch_add(1, std::memory_order_relaxed);
        rec.attempts = static_cast<std::uint32_t>(attempts.size() + (r ? 1 : 0));
        counters.attempts.fetch_add(rec.attempts, std::memory_order_relaxed);
        if (r && rec.attempts > 1) counters.fallbacks.fetch_add(1, std::memory_order_relaxed);
        settlement spent;
        auto add = [&](std::string const& model, double usd) {
            auto const n = clamp_nano(to_nano(usd));
            if (n <= 0) return;
            for (auto& c : spent.costs)
                if (c.model == model) {
                    c.cost += n;
                    return;
                }
            spent.costs.push_back({model, n});
        };
        for (auto const& a : attempts)
            if (a.error && billed(*a.error) > 0) add(a.model, billed(*a.error));
        std::optional<api_error> err;
        if (r) {
            rec.upstream = r->requested_model;
            rec.use = r->usage;
            rec.ttft = r->latency;
            if (r->usage.input_tokens)
                counters.input_tokens.fetch_add(*r->usage.input_tokens, std::memory_order_relaxed);
            if (r->cost_usd) {
                add(rec.upstream, *r->cost_usd);
                rec.cost = *r->cost_usd + billed_failures;
            } else {
                // An unknown cost is charged its reservation: never free.
                auto const held_nano = reservation ? reservation->amount : 0;
                if (held_nano > spent.total())
                    add(rec.upstream, double(held_nano - spent.total()) / 1e9);
            }
            counters.latency.record(steady::now() - rec.start);
        } else {
            auto const f = r.error();
            rec.error = f.to_string();
            if (!f.diag.provider.empty()) rec.upstream = f.diag.provider + "/" + f.diag.model;
            if (billed(f) > 0) rec.cost = billed(f);
            if (!ex.client_gone()) err = detail::error_from_failure(f, cfg.expose_upstream_errors);
        }
        if (rec.cost && *rec.cost > 0)  // the known cost (a reservation charged is not one)
            counters.cost_nano_usd.fetch_add(to_nano(*rec.cost), std::memory_order_relaxed);
        if (ex.client_gone()) {
            metrics->client_disconnects.fetch_add(1, std::memory_order_relaxed);
            rec.status = 499;
        } else if (err) {
            rec.status = err->status;
        }
        if (rec.status >= 400) {
            metrics->errors.add(rec.status);
            counters.errors.add(rec.status);
        }
        metrics->in_flight.fetch_sub(1, std::memory_order_relaxed);
        if (saves(k, reservation, spent))
            co_await save(rec, k, std::move(reservation), std::move(spent), public_name,
                          std::string(meta.id));
        if (rate_taken && rec.use.input_tokens) {
            auto const delta = static_cast<std::int64_t>(*rec.use.input_tokens) -
                               static_cast<std::int64_t>(rate_tokens);
            if (delta != 0)
                if (auto c = co_await store->correct_rate(k->name, k->quota, delta); !c)
                    state_failed(c.error());
        }
        if (ex.client_gone()) {
            log(rec);
            co_return;
        }
        if (err) {
            log(rec);
            co_await send_error(ex, format, sc, *err);
            co_return;
        }
        std::string out;
        meta.input_tokens = r->usage.input_tokens;  // Bedrock's InvokeModel says them in a header
        detail::embedding_meta const em{public_name, meta.request_id, p.req.inputs};
        if (!format.encode_embedding_response(*r, em, p.form, out)) {
            api_error e;
            e.status = 502;
            e.code = "upstream_bad_response";
            e.message = "the upstream's vectors hold a value that is not a finite number, "
                        "which JSON cannot carry";
            if (format.name() == "openai") e.message += ": ask for encoding_format 'base64'"sv;
            co_await refuse(ex, format, sc, e);
            co_return;
        }
        log(rec);
        co_await send_whole(ex, format, meta, rec.start, out);
    }

    // -- shared health ---------------------------------------------------------------------

    /// Reads the shared health of `g`'s deployments (each at most once per `health_refresh`)
    /// into the client: a circuit another replica opened, every replica's latency averages.
    asio::awaitable<void> pull_health(group_state const& g) {
        auto const now = steady::now();
        for (auto const& m : g.order) {
            {
                std::lock_guard lk(health_mu);
                auto it = health_seen.find(m);
                if (it == health_seen.end() || now - it->second.pulled < health_refresh) continue;
                it->second.pulled = now;
            }
            auto h = co_await store->health(m);
            if (!h) {
                state_failed(h.error());
                co_return;
            }
            up.merge_health(m, *h);
        }
    }

    /** Shares what a finished request taught about its deployments: the answer's latency
        (folded into the shared averages, which come back into the client) and any circuit
        that changed here (newest wins in the store).
    */
    asio::awaitable<void> push_health(result<chat_response> const& r,
                                      std::optional<failure> const& failed) {
        auto const& attempts = r ? r->attempts : failed->diag.attempts;
        if (r && health_seen.count(r->requested_model)) {
            latency_sample s;
            s.ttft = std::chrono::duration_cast<std::chrono::microseconds>(r->ttft);
            s.latency = std::chrono::duration_cast<std::chrono::microseconds>(r->latency);
            auto est = co_await store->observe_latency(r->requested_model, s);
            if (!est) {
                state_failed(est.error());
                co_return;
            }
            model_health shared;
            shared.latency = *est;
            up.merge_health(r->requested_model, shared);
        }
        std::vector<std::string_view> models;
        for (auto const& a : attempts) models.push_back(a.model);
        if (r) models.push_back(r->requested_model);
        std::string const failed_model =
            failed && !failed->diag.provider.empty()
                ? failed->diag.provider + "/" + failed->diag.model
                : std::string();
        if (!failed_model.empty()) models.push_back(failed_model);
        for (auto const m : models) {
            auto h = up.health(m);
            if (!h.breaker) continue;
            {
                std::lock_guard lk(health_mu);
                auto it = health_seen.find(m);
                if (it == health_seen.end() || it->second.pushed >= h.breaker->updated_at) continue;
                it->second.pushed = h.breaker->updated_at;
            }
            if (auto p = co_await store->put_breaker(std::string(m), *h.breaker); !p) {
                state_failed(p.error());
                co_return;
            }
        }
    }

    // -- response cache --------------------------------------------------------------------

    /// The cached answer under `key`, if any. A store failure or a damaged entry is a miss
    /// (counted and logged as a state store failure): the cache never fails a request.
    asio::awaitable<std::optional<chat_response>> cache_lookup(std::string const& key) {
        auto hit = co_await store->cache_get(key);
        if (!hit) {
            state_failed(hit.error());
            co_return std::nullopt;
        }
        if (!*hit) co_return std::nullopt;
        auto cached = detail::decode_cached_response(**hit);
        if (!cached) {
            state_failed(cached.error());
            co_return std::nullopt;
        }
        co_return std::move(*cached);
    }

    asio::awaitable<void> cache_store(std::string key, chat_response const& r,
                                      duration ttl) {
        auto const ms = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(ttl),
                                 std::chrono::milliseconds(1));
        auto put = co_await store->cache_put(std::move(key), detail::encode_cached_response(r), ms);
        if (put) {
            metrics->cache_stores.fetch_add(1, std::memory_order_relaxed);
        } else if (put.error().code != make_error_code(error::invalid_request)) {
            // An answer over the store's entry size cap is simply not kept.
            state_failed(put.error());
        }
    }

    /** Answers a model request from the cache: the cached answer (its original usage
        included), whole or replayed as a stream. Counted as a request of its model with no
        attempt and no cost; a ledger row records it (model_answered "cache").
    */
    asio::awaitable<void> answer_from_cache(detail::server_exchange& ex, wire_server const& format,
                                            detail::answer_meta& meta, request_record& rec,
                                            group_state const& g,
                                            detail::inbound_request const& p, key_state* k,
                                            chat_response const& r) {
        ex.add_header("x-llmux-cache", "hit");
        rec.cached = true;
        rec.upstream = "cache";
        rec.status = 200;
        rec.cost = 0.0;
        rec.ttft = steady::now() - rec.start;
        {
            auto const c = metrics->model(g.name, true);
            c->requests.fetch_add(1, std::memory_order_relaxed);
            if (p.stream) c->streams.fetch_add(1, std::memory_order_relaxed);
            c->latency.record(rec.ttft);
            c->ttft.record(rec.ttft);
        }
        std::string const public_name = p.req.model;
        if (ledger)  // (a cached answer costs nothing: saves() is the ledger alone)
            co_await save(rec, k, std::nullopt, settlement{}, public_name, std::string(meta.id));
        log(rec);
        meta.created = static_cast<std::int64_t>(std::time(nullptr));
        meta.model = public_name;
        std::string out;
        if (!p.stream) {
            out.reserve(512 + r.content.size());
            format.encode_response(r, meta, out);
            co_await send_whole(ex, format, meta, rec.start, out);
            co_return;
        }
        auto encoder = format.make_stream_encoder(meta, p.include_usage);
        start_stream(ex, format, meta, rec.start);
        out.reserve(512 + r.content.size() + r.reasoning.size());
        for (auto const& c : detail::replay_chunks(r)) encoder->chunk(c, out);
        encoder->finish(r, out);
        co_await ex.end_chunked(out);
    }

    /** Counts a finished model request in the metrics; returns what it cost, by model, for the
        key's spend. An answer whose cost is unknown (the provider reported no usage) is
        charged its reservation `reserved`: never free.
    */
    settlement account(request_record& rec, group_state const& g, bool stream,
                       result<chat_response> const& r, std::optional<failure> const& failed,
                       std::optional<api_error> const& err, bool gone, nano_usd reserved) {
        // A model name gets counters of its own once it has answered (bounded; see
        // gateway_metrics::model): ids that fail upstream are counted under `(other)`.
        auto const held = metrics->model(g.name, r.has_value());
        auto& counters = *held;
        counters.requests.fetch_add(1, std::memory_order_relaxed);
        if (stream) counters.streams.fetch_add(1, std::memory_order_relaxed);
        std::vector<attempt> const* attempts = nullptr;
        if (r) {
            attempts = &r->attempts;
            rec.upstream = r->requested_model;
            rec.use = r->usage;
            rec.cost = r->cost_usd;
        } else {
            rec.error = failed->to_string();
            attempts = &failed->diag.attempts;
            if (!failed->diag.provider.empty())
                rec.upstream = failed->diag.provider + "/" + failed->diag.model;
        }
        rec.attempts = attempts->empty() ? 1u : static_cast<std::uint32_t>(attempts->size());
        counters.attempts.fetch_add(rec.attempts, std::memory_order_relaxed);
        if (r && rec.attempts > 1) counters.fallbacks.fetch_add(1, std::memory_order_relaxed);
        if (rec.use.input_tokens)
            counters.input_tokens.fetch_add(*rec.use.input_tokens, std::memory_order_relaxed);
        if (rec.use.output_tokens)
            counters.output_tokens.fetch_add(*rec.use.output_tokens, std::memory_order_relaxed);
        counters.cached_input_tokens.fetch_add(rec.use.cached_input_tokens.value_or(0),
                                               std::memory_order_relaxed);
        counters.cache_write_tokens.fetch_add(rec.use.cache_write_tokens.value_or(0),
                                              std::memory_order_relaxed);
        counters.reasoning_tokens.fetch_add(rec.use.reasoning_tokens.value_or(0),
                                            std::memory_order_relaxed);
        // What the request cost: the answer's cost and what failed attempts were billed
        // (streams that broke after their answer began), by the model that billed it.
        settlement spent;
        auto add = [&](std::string const& model, double usd) {
            auto const n = clamp_nano(to_nano(usd));
            if (n <= 0) return;
            for (auto& c : spent.costs)
                if (c.model == model) {
                    c.cost += n;
                    return;
                }
            spent.costs.push_back({model, n});
        };
        double charged = 0;
        bool known = true;
        if (r) {
            if (r->cost_usd)
                charged = *r->cost_usd;
            else
                known = false;
            add(rec.upstream, charged);
            for (auto const& a : r->attempts)
                if (a.error && billed(*a.error) > 0) {
                    charged += billed(*a.error);
                    add(a.model, billed(*a.error));
                }
        } else {
            charged = billed(*failed);
            double listed = 0;
            for (auto const& a : failed->diag.attempts)
                if (a.error && billed(*a.error) > 0) {
                    listed += billed(*a.error);
                    add(a.model, billed(*a.error));
                }
            // The total is what the combinators carried; attempts may not list all of it.
            if (charged > listed) add(rec.upstream, charged - listed);
        }
        rec.cost = known || charged > 0 ? std::optional<double>(charged) : std::nullopt;
        if (charged > 0)
            counters.cost_nano_usd.fetch_add(to_nano(charged), std::memory_order_relaxed);
        if (!known && reserved > spent.total()) add(rec.upstream, double(reserved - spent.total()) / 1e9);

        if (gone) {
            metrics->client_disconnects.fetch_add(1, std::memory_order_relaxed);
            rec.status = 499;
        } else if (err) {
            rec.status = err->status;
        } else {
            counters.latency.record(steady::now() - rec.start);
            counters.ttft.record(rec.ttft);
        }
        if (rec.status >= 400) {
            metrics->errors.add(rec.status);
            counters.errors.add(rec.status);
        }
        metrics->in_flight.fetch_sub(1, std::memory_order_relaxed);
        return spent;
    }

    // -- state ---------------------------------------------------------------------------

    /// A store operation failed: counted and logged (the message never holds a secret: the
    /// stores name files and addresses, never passwords).
    void state_failed(failure const& f) {
        state_errors.fetch_add(1, std::memory_order_relaxed);
        if (!cfg.access_log) return;
        write_line("llmux: state store (" + std::string(store->kind()) + "): " + f.to_string());
    }

    /// Whether `save` has anything to do: a ledger row, or a key's spend or reservation.
    /// Without them (no keys, no ledger) its call and coroutine frame are skipped.
    bool saves(key_state const* k, std::optional<budget_reservation> const& reservation,
               settlement const& spent) const noexcept {
        return ledger || (k && (reservation || !spent.costs.empty() || spent.entry));
    }

    /** Records a finished request's spend (and ledger row) in the store: the reservation is
        settled with the real cost, a key without budget is charged, a request without key
        only leaves a ledger row. A settlement the store fails to take is kept and retried.
        Its callers skip it when `saves` says it has nothing to do.
    */
    asio::awaitable<void> save(request_record const& rec, key_state const* k,
                               std::optional<budget_reservation> reservation, settlement spent,
                               std::string const& public_name, std::string const& id) {
        if (ledger) spent.entry = ledger_row(rec, k, public_name, id);
        if (!k) {
            if (spent.entry)
                if (auto r = co_await store->record(std::move(*spent.entry)); !r)
                    state_failed(r.error());
            co_return;
        }
        if (!reservation && spent.costs.empty() && !spent.entry) co_return;
        result<settle_outcome> r{settle_outcome{}};
        if (reservation)
            r = co_await store->settle(*reservation, spent);
        else
            r = co_await store->charge(k->name, spent);
        if (r) co_return;
        state_failed(r.error());
        keep_unsaved({k->name, std::move(reservation), std::move(spent)});
    }

    /// A refused request's ledger row (SQLite): who was refused, when and why.
    asio::awaitable<void> ledger_refusal(request_record const& rec, key_state const* k,
                                         std::string const& public_name, std::string const& why) {
        if (!ledger) co_return;
        auto e = ledger_row(rec, k, public_name, {});
        e.error = why;
        if (auto r = co_await store->record(std::move(e)); !r) state_failed(r.error());
    }

    /// `$0.000123` for a nano-USD amount.
    static std::string usd(nano_usd n) {
        char buf[48];
        int const len = std::snprintf(buf, sizeof buf, "$%.6f", static_cast<double>(n) / 1e9);
        return std::string(buf, static_cast<std::size_t>(std::max(len, 0)));
    }

    ledger_entry ledger_row(request_record const& rec, key_state const* k,
                            std::string const& public_name, std::string const& id) const {
        ledger_entry e;
        auto const since = std::chrono::duration_cast<std::chrono::system_clock::duration>(
            steady::now() - rec.start);
        e.at = std::chrono::system_clock::now() - since;
        if (k) e.key_name = k->name;
        e.model_requested = public_name;
        e.model_answered = rec.upstream;
        // A cached answer asked no provider: no attempt.
        e.attempts = rec.cached ? 0 : std::max<std::uint32_t>(rec.attempts, 1);
        auto const known = [](token_count const& c) {
            return c ? std::optional<std::uint64_t>(*c) : std::nullopt;
        };
        e.input_tokens = known(rec.use.input_tokens);
        e.output_tokens = known(rec.use.output_tokens);
        e.cached_tokens = known(rec.use.cached_input_tokens);
        e.cache_write_tokens = known(rec.use.cache_write_tokens);
        e.reasoning_tokens = known(rec.use.reasoning_tokens);
        if (rec.cost) e.cost = clamp_nano(to_nano(*rec.cost));
        e.status = static_cast<int>(rec.status);
        e.latency = std::chrono::duration_cast<std::chrono::microseconds>(since);
        if (!rec.error.empty()) e.error = rec.error.substr(0, rec.error.find(':'));
        e.request_id = id;
        return e;
    }

    void keep_unsaved(unsaved_settlement u) {
        std::lock_guard lock(unsaved_mu);
        if (unsaved.size() >= cfg.state.max_unsaved) {
            // Bounded: the oldest is given up, loudly (counted in /metrics, logged).
            unsaved_dropped.fetch_add(1, std::memory_order_relaxed);
            if (cfg.access_log)
                write_line("llmux: state store: gave up saving a settlement of key '" +
                           unsaved.front().key + "' (" + std::to_string(unsaved.front().what.total()) +
                           " nano-USD): too many unsaved");
            unsaved.pop_front();
        }
        unsaved.push_back(std::move(u));
        unsaved_count.store(unsaved.size(), std::memory_order_relaxed);
    }

    /// Retries the kept settlements in order, one flusher at a time; stops at the first that
    /// fails again. Settling the same reservation twice charges once, so a settlement whose
    /// answer was lost is not charged twice.
    asio::awaitable<void> flush_unsaved() {
        if (flushing.exchange(true)) co_return;
        for (;;) {
            std::optional<unsaved_settlement> u;
            {
                std::lock_guard lock(unsaved_mu);
                if (unsaved.empty()) break;
                u.emplace(std::move(unsaved.front()));
                unsaved.pop_front();
            }
            result<settle_outcome> r{settle_outcome{}};
            if (u->reservation)
                r = co_await store->settle(*u->reservation, u->what);
            else
                r = co_await store->charge(u->key, u->what);
            if (!r) {
                state_failed(r.error());
                std::lock_guard lock(unsaved_mu);
                unsaved.push_front(std::move(*u));
                break;
            }
            std::lock_guard lock(unsaved_mu);
            unsaved_count.store(unsaved.size(), std::memory_order_relaxed);
        }
        {
            std::lock_guard lock(unsaved_mu);
            unsaved_count.store(unsaved.size(), std::memory_order_relaxed);
        }
        flushing.store(false);
    }

    /// A whole answer through the group's strategy and composed policy. A group of one
    /// deployment is the client's call itself, not a coroutine around it (each layer moves the
    /// answer twice).
    asio::awaitable<result<chat_response>> call(group_state const& g, chat_request&& req) {
        if (g.simple) {
            req.model = g.order.front();
            return up.chat(std::move(req));
        }
        return call_group(g, std::move(req));
    }

    asio::awaitable<result<chat_response>> call_group(group_state const& g, chat_request req) {
        auto order = ranked(g, req);
        auto opts = fb_options(g, false);
        co_return co_await fallback(up, std::move(order), std::move(req), std::move(opts));
    }

    /// A stream through the group's strategy: one stream type, plain or combined.
    chat_stream open_stream(group_state const& g, chat_request&& req) {
        if (g.simple) {
            req.model = g.order.front();
            return up.stream(std::move(req));
        }
        auto order = ranked(g, req);
        return stream_fallback(up, std::move(order), std::move(req), fb_options(g, true));
    }

    /// A whole 200 answer in `format`, with its response headers (request id, timing).
    static asio::awaitable<void> send_whole(detail::server_exchange& ex,
                                            wire_server const& format,
                                            detail::answer_meta& meta,
                                            steady::time_point start, std::string const& body) {
        ex.set_status(200);
        ex.add_header("Content-Type", format.content_type());
        meta.processing_ms = ms(steady::now() - start);
        exchange_headers h(ex);
        format.response_headers(meta, h);
        co_await ex.send(body);
    }

    static void start_stream(detail::server_exchange& ex, wire_server const& format,
                             detail::answer_meta& meta, steady::time_point start) {
        ex.set_status(200);
        ex.add_header("Content-Type", format.stream_content_type());
        ex.add_header("Cache-Control", "no-cache");
        meta.processing_ms = ms(steady::now() - start);
        exchange_headers h(ex);
        format.response_headers(meta, h);
        ex.start_chunked();
    }

    /** Relays a stream's chunks as SSE, up to (not including) its end. The head is sent only
        with the first chunk, so a failure before any content is answered with a proper HTTP
        status. Returns true once the SSE head is due (it goes out with the first write).

        The events of chunks that are already at hand (`chat_stream::ready`: decoded from one
        upstream read) go out in one write, so a read that brought ten events costs one
        `write`, not ten; nothing waits for more than what has arrived. The events that came
        with the stream's end are left in `out` for the caller, who sends them with the end
        (the usage, `[DONE]`, the last chunk) once the call is accounted: one write, not two,
        where the accounting takes microseconds (the in-process store).
    */
    asio::awaitable<bool> relay(detail::server_exchange& ex, wire_server const& format,
                                detail::answer_meta& meta, detail::stream_encoder& w,
                                chat_stream& s, request_record& rec, std::string& out) {
        bool started = false;
        bool first_content = true;
        out.reserve(4096);
        for (;;) {
            // A chunk at hand is taken without a coroutine frame; next() only to wait.
            std::optional<chat_chunk> chunk = s.try_next();
            if (!chunk) chunk = co_await s.next();
            if (!chunk || ex.client_gone()) break;
            if (first_content && chunk->has_content()) {
                first_content = false;
                rec.ttft = steady::now() - rec.start;
            }
            w.chunk(*chunk, out);
            if (!started) {
                start_stream(ex, format, meta, rec.start);
                started = true;
            }
            if (out.empty() || s.ready()) continue;
            auto const ec = co_await ex.write_chunk(out);
            out.clear();
            if (ec) co_return started;
        }
        if (ex.client_gone()) out.clear();
        if (first_content && s.response()) rec.ttft = steady::now() - rec.start;
        co_return started;
    }
};

namespace {
/// A request that arrives after the gateway is gone: the server answers 500 (no answer sent).
asio::awaitable<void> gone() {
    co_return;
}
}  // namespace

// ---------------------------------------------------------------------------------------------

gateway::gateway(asio::any_io_executor ex, gateway_config cfg)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(cfg))) {}

gateway::~gateway() {
    if (impl_ && impl_->server) impl_->server->stop();
}

result<void> gateway::start() {
    auto& s = *impl_;
    if (s.started) return failure(error::invalid_config, "the gateway is already started");
    if (auto r = s.prepare(); !r) return r;
    std::weak_ptr<impl> weak = impl_;
    s.server = std::make_unique<detail::http_server>(
        s.ex, s.server_settings(),
        [weak](detail::server_exchange& ex) -> asio::awaitable<void> {
            auto self = weak.lock();
            if (!self) return gone();
            auto& gw = *self;
            return gw.handle(ex, std::move(self));
        });
    auto ep = s.server->listen(s.cfg.host, s.cfg.port);
    if (!ep) return ep.error();
    s.bound = *ep;
    s.started = true;
    return {};
}

void gateway::stop(duration grace, std::function<void()> on_stopped) {
    auto s = impl_;
    if (!s->server) {
        if (on_stopped) asio::post(s->ex, std::move(on_stopped));
        return;
    }
    s->server->drain();
    auto timer = std::make_shared<asio::steady_timer>(s->ex);
    auto const deadline = steady::now() + grace;
    asio::co_spawn(
        s->ex,
        [s, timer, deadline, cb = std::move(on_stopped)]() -> asio::awaitable<void> {
            bool cut = false;
            steady::time_point hard{};
            for (;;) {
                if (s->server->stats().open == 0) break;
                auto const now = steady::now();
                if (!cut && now >= deadline) {
                    // Past the grace period: cancel what is left (upstream calls included).
                    s->server->stop();
                    cut = true;
                    hard = now + std::chrono::seconds(5);
                }
                if (cut && now >= hard) break;
                timer->expires_after(std::chrono::milliseconds(5));
                auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
                (void)ec;
            }
            s->server->stop();
            if (cb) cb();
        },
        asio::detached);
}

void gateway::stop() {
    if (impl_->server) impl_->server->stop();
}

std::string gateway::url() const {
    auto const& ep = impl_->bound;
    auto const a = ep.address();
    std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
    return "http://" + host + ":" + std::to_string(ep.port());
}

gateway_stats gateway::stats() const {
    gateway_stats st;
    if (!impl_->metrics) return st;
    auto const& m = *impl_->metrics;
    st.requests = m.http_requests.load(std::memory_order_relaxed);
    st.in_flight = m.in_flight.load(std::memory_order_relaxed);
    st.errors = m.errors.total();
    st.client_disconnects = m.client_disconnects.load(std::memory_order_relaxed);
    if (impl_->server) {
        auto const s = impl_->server->stats();
        st.connections_accepted = s.accepted;
        st.connections_open = s.open;
    }
    return st;
}

std::string gateway::metrics_text() const {
    std::string out;
    if (impl_->metrics && impl_->server) impl_->render_metrics(out);
    return out;
}

client& gateway::upstream() noexcept {
    return impl_->up;
}

gateway_config const& gateway::config() const noexcept {
    return impl_->cfg;
}

}  // namespace llmux
