// SPDX-License-Identifier: BSL-1.0
// The gateway (`llmux serve`): HTTP endpoints on `http_server`, gateway keys with budgets and
// rate limits, model groups run with the library's combinators and router, metrics and the
// access log. Responses are written as text by the codecs of api.hpp (no JSON DOM is built).
#include <llmux/gateway.hpp>

#include <llmux/combinators.hpp>
#include <llmux/router.hpp>

#include "auth/crypto.hpp"
#include "gateway/api.hpp"
#include "gateway/metrics.hpp"
#include "http/server.hpp"
#include "util/estimate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>

#include <openssl/crypto.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

namespace llmux {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using steady = std::chrono::steady_clock;

namespace {

using detail::api_error;

/// Nano-USD, so that spend adds atomically.
std::uint64_t to_nano(double usd) {
    return usd > 0 ? static_cast<std::uint64_t>(usd * 1e9 + 0.5) : 0;
}

/// A gateway key and what it has used.
struct key_state {
    std::string name;
    detail::sha256_digest hash{};
    std::optional<double> budget;
    double rpm = 0, tpm = 0;
    std::atomic<std::uint64_t> spent_nano{0};
    // Token buckets; touched only for keys that have limits.
    std::mutex mu;
    /// What requests in flight may still spend (guarded by `budget_mu`).
    std::uint64_t reserved_nano = 0;
    std::mutex budget_mu;

    /** Reserves `nano` for a request, or false when the spend, the other reservations and
        `nano` do not fit in the budget: requests in flight together cannot overshoot it.
    */
    bool reserve(std::uint64_t nano) {
        std::lock_guard lock(budget_mu);
        auto const spent = spent_nano.load(std::memory_order_relaxed);
        if (static_cast<double>(spent + reserved_nano + nano) / 1e9 > *budget) return false;
        reserved_nano += nano;
        return true;
    }
    /// Gives back a reservation and adds what the request cost.
    void settle(std::uint64_t reserved, std::uint64_t cost) {
        std::lock_guard lock(budget_mu);
        reserved_nano -= std::min(reserved_nano, reserved);
        spent_nano.fetch_add(cost, std::memory_order_relaxed);
    }
    double req_tokens = 0, tok_tokens = 0;
    steady::time_point at{};
    bool init = false;

    bool limited() const noexcept { return rpm > 0 || tpm > 0; }

    /// Takes one request and `tokens` from the buckets, or says how long to wait.
    std::optional<std::chrono::milliseconds> take(double tokens, steady::time_point now) {
        std::lock_guard lock(mu);
        if (!init) {
            req_tokens = rpm;
            tok_tokens = tpm;
            at = now;
            init = true;
        }
        double const dt = std::chrono::duration<double>(now - at).count();
        at = now;
        if (rpm > 0) req_tokens = std::min(rpm, req_tokens + rpm * dt / 60);
        if (tpm > 0) tok_tokens = std::min(tpm, tok_tokens + tpm * dt / 60);
        double wait_s = 0;
        if (rpm > 0 && req_tokens < 1) wait_s = std::max(wait_s, (1 - req_tokens) * 60 / rpm);
        // A request larger than the whole bucket passes when the bucket is full (else never).
        double const need = std::min(tokens, tpm);
        if (tpm > 0 && tok_tokens < need) wait_s = std::max(wait_s, (need - tok_tokens) * 60 / tpm);
        if (wait_s > 0)
            return std::chrono::milliseconds(static_cast<std::int64_t>(wait_s * 1000) + 1);
        if (rpm > 0) req_tokens -= 1;
        if (tpm > 0) tok_tokens -= tokens;
        return std::nullopt;
    }

    void settle(double estimated, double actual) {
        if (tpm <= 0) return;
        std::lock_guard lock(mu);
        tok_tokens = std::min(tpm, tok_tokens + estimated - actual);
    }
};

/// A public model name and how its requests are run.
struct group_state {
    std::string name;
    model_group g;
    /// Deployments in configured order (each retried within the fallback: see `fb_options`).
    model_list order;
    std::optional<route> how;
    std::unique_ptr<router> rt;
    /// Every deployment speaks the OpenAI wire format (OpenAI-only fields pass through).
    bool all_openai = false;
    /// One deployment, one attempt, no deadlines, nothing opted in: a plain call.
    bool simple = false;
};

enum class api_kind { openai, anthropic };

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
            out += "...";
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

/// The SSE writer of the endpoint's format.
struct stream_writers {
    std::optional<detail::openai_stream_writer> openai;
    std::optional<detail::anthropic_stream_writer> anthropic;

    stream_writers(api_kind api, detail::answer_meta const& m, bool include_usage) {
        if (api == api_kind::openai)
            openai.emplace(m, include_usage);
        else
            anthropic.emplace(m);
    }
    void chunk(chat_chunk const& c, std::string& out) {
        if (openai)
            openai->chunk(c, out);
        else
            anthropic->chunk(c, out);
    }
    void finish(chat_response const& r, std::string& out) {
        if (openai)
            openai->finish(r, out);
        else
            anthropic->finish(r, out);
    }
    void error(detail::api_error const& e, std::string& out) {
        if (openai)
            openai->error(e, out);
        else
            anthropic->error(e, out);
    }
};

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
    std::string models_body;
    std::unique_ptr<detail::gateway_metrics> metrics;
    std::unique_ptr<detail::http_server> server;
    asio::ip::tcp::endpoint bound;
    bool started = false;
    int log_fd = -1;
    bool own_log_fd = false;
    std::atomic<std::uint64_t> next_id{0};
    std::uint64_t id_salt = 0;

    impl(asio::any_io_executor e, gateway_config c)
        : ex(std::move(e)), cfg(std::move(c)), up(ex, cfg.client) {}

    ~impl() {
        if (own_log_fd && log_fd >= 0) ::close(log_fd);
    }

    // -- setup -------------------------------------------------------------------------------

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
            ks->rpm = k.requests_per_minute;
            ks->tpm = k.tokens_per_minute;
            keys.push_back(std::move(ks));
        }
        std::vector<std::string> fixed;
        for (auto const& [name, g] : cfg.models) {
            if (g.deployments.empty())
                return failure(error::invalid_config,
                               "model group '" + name + "' has no deployments");
            auto gs = std::make_unique<group_state>();
            gs->name = name;
            gs->g = g;
            gs->all_openai = true;
            for (auto const& d : g.deployments) {
                if (auto r = up.check(d); !r) {
                    auto f = r.error();
                    f.diag.message = "model group '" + name + "': " + f.diag.message;
                    return f;
                }
                // Configured deployments keep their measurements and circuit for good.
                up.track(d);
                auto const id = model_id::parse(d);
                auto const* p = up.config().find(id->provider);
                if (!p || p->wire != "openai") gs->all_openai = false;
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
            groups.emplace(name, std::move(gs));
        }
        any_model = cfg.models.empty() || cfg.any_model;
        if (any_model)
            for (auto const& m : up.models().models())
                if (!groups.count(m.id) && up.check(m.id)) model_names.push_back(m.id);
        metrics = std::make_unique<detail::gateway_metrics>(fixed);
        detail::render_openai_models(model_names, std::time(nullptr), models_body);

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
        std::weak_ptr<impl> weak = shared_from_this();
        if (!keys.empty()) {
            // Keys are checked from the head, before a body is read: a client without a valid
            // key cannot make the gateway buffer bodies. The handler checks again to learn
            // which key it is (one SHA-256 of a short string).
            sc.head_check = [weak](detail::server_request const& req)
                -> std::optional<detail::early_answer> {
                auto s = weak.lock();
                if (!s) return std::nullopt;
                auto const path = path_of(std::string_view(req.target().data(), req.target().size()));
                if (path == "/health" || path == "/healthz") return std::nullopt;
                api_kind const api = path == "/v1/messages" ? api_kind::anthropic : api_kind::openai;
                auto key = s->authenticate(req, api);
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
                detail::early_answer a;
                a.status = e.status;
                a.content_type = "application/json";
                if (api == api_kind::openai)
                    detail::render_openai_error(e, a.body);
                else
                    detail::render_anthropic_error(e, a.body);
                if (e.no_retry) a.headers.emplace_back("x-should-retry", "false");
                return a;
            };
        }
        sc.error_renderer = [weak](detail::server_request const& req, unsigned status,
                                   std::string_view message, std::string& type,
                                   std::string& body) {
            api_error e;
            e.status = status;
            e.type = "invalid_request_error";
            e.code = status == 413   ? "request_too_large"
                     : status == 431 ? "request_header_fields_too_large"
                     : status >= 500 ? "server_error"
                                     : "bad_request";
            if (status >= 500) e.type = "server_error";
            e.message = std::string(message);
            if (status == 413) {
                if (auto s = weak.lock())
                    e.message += " (the limit is " + std::to_string(s->cfg.max_body_bytes) +
                                 " bytes)";
            }
            type = "application/json";
            body.clear();
            if (path_of(std::string_view(req.target().data(), req.target().size())) ==
                "/v1/messages")
                detail::render_anthropic_error(e, body);
            else
                detail::render_openai_error(e, body);
            if (auto s = weak.lock()) {
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

    std::string new_id(api_kind api) {
        auto const n = next_id.fetch_add(1, std::memory_order_relaxed);
        char buf[48];
        int const len = std::snprintf(buf, sizeof buf, "%s%016llx%08llx",
                                      api == api_kind::openai ? "chatcmpl-" : "msg_",
                                      static_cast<unsigned long long>(id_salt),
                                      static_cast<unsigned long long>(n));
        return std::string(buf, static_cast<std::size_t>(len));
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
        line += " key=";
        line += r.key ? std::string_view(r.key->name) : std::string_view("-");
        line += ' ';
        line += r.method;
        line += ' ';
        append_field(line, r.path);
        line += " model=";
        append_field(line, r.model);
        line += " upstream=";
        append_field(line, r.upstream);
        line += " status=";
        append_u(line, r.status);
        line += " attempts=";
        append_u(line, r.attempts);
        line += " latency_ms=";
        append_ms(line, steady::now() - r.start);
        line += " ttft_ms=";
        append_ms(line, r.ttft);
        line += " in=";
        if (r.use.input_tokens)
            append_u(line, *r.use.input_tokens);
        else
            line += '-';
        line += " out=";
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
        line += " cost=";
        if (r.cost) {
            char buf[32];
            int const n = std::snprintf(buf, sizeof buf, "%.8f", *r.cost);
            line.append(buf, static_cast<std::size_t>(n));
        } else {
            line += '-';
        }
        if (!r.error.empty()) {
            line += " error=";
            append_field(line, r.error, 1000);
        }
        if (cfg.log_prompts && !r.prompt.empty()) {
            line += " prompt=";
            append_field(line, r.prompt, 1000);
        }
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

    /// The key presented on the request, or an error; nullptr when no keys are configured.
    boost::system::result<key_state*, api_error> authenticate(detail::server_request const& req, api_kind api) {
        if (keys.empty()) return static_cast<key_state*>(nullptr);
        std::string_view presented;
        auto const auth = req[http::field::authorization];
        if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer "))
            presented = std::string_view(auth.data() + 7, auth.size() - 7);
        if (presented.empty()) {
            auto const xk = req["x-api-key"];
            presented = std::string_view(xk.data(), xk.size());
        }
        api_error e;
        e.status = 401;
        e.type = api == api_kind::openai ? "invalid_request_error" : "authentication_error";
        e.no_retry = true;
        if (presented.empty()) {
            e.code = "missing_api_key";
            e.message = api == api_kind::openai
                            ? "missing gateway key: send 'Authorization: Bearer <key>'"
                            : "missing gateway key: send 'x-api-key: <key>'";
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
        auto const id = model_id::parse(model);
        auto const* p = id ? up.config().find(id->provider) : nullptr;
        scratch.all_openai = p && p->wire == "openai";
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
        if (g.g.hedge && !stream) {
            hedge_options h;
            h.delay = *g.g.hedge;
            o.hedge = h;
        }
        o.continue_streams = stream && g.g.continue_streams;
        return o;
    }

    // -- responses ---------------------------------------------------------------------------

    static void add_error_headers(detail::server_exchange& ex, api_error const& e) {
        if (e.retry_after) {
            auto const ms = e.retry_after->count();
            ex.add_header("retry-after", std::to_string((ms + 999) / 1000));
            ex.add_header("retry-after-ms", std::to_string(ms));
        }
        if (e.no_retry) ex.add_header("x-should-retry", "false");
    }

    asio::awaitable<void> send_error(detail::server_exchange& ex, api_kind api,
                                     api_error const& e) {
        std::string body;
        if (api == api_kind::openai)
            detail::render_openai_error(e, body);
        else
            detail::render_anthropic_error(e, body);
        ex.set_status(e.status);
        ex.add_header("Content-Type", "application/json");
        add_error_headers(ex, e);
        co_await ex.send(body);
    }

    asio::awaitable<void> send_json(detail::server_exchange& ex, unsigned status,
                                    std::string_view body) {
        ex.set_status(status);
        ex.add_header("Content-Type", "application/json");
        co_await ex.send(body);
    }

    // -- the handler -------------------------------------------------------------------------

    asio::awaitable<void> handle(detail::server_exchange& ex) {
        // Cancellation (the client left, or a hard stop) is seen as results, not exceptions,
        // so the bookkeeping below always runs.
        co_await asio::this_coro::throw_if_cancelled(false);
        metrics->http_requests.fetch_add(1, std::memory_order_relaxed);
        auto& req = ex.request();
        auto const target = std::string_view(req.target().data(), req.target().size());
        auto const path = path_of(target);
        auto const method = req.method();

        if (path == "/v1/chat/completions" || path == "/chat/completions") {
            if (method != http::verb::post) {
                co_await not_allowed(ex, api_kind::openai, "POST");
                co_return;
            }
            co_await model_request(ex, api_kind::openai, path);
            co_return;
        }
        if (path == "/v1/messages") {
            if (method != http::verb::post) {
                co_await not_allowed(ex, api_kind::anthropic, "POST");
                co_return;
            }
            co_await model_request(ex, api_kind::anthropic, path);
            co_return;
        }
        bool const get = method == http::verb::get || method == http::verb::head;
        if (path == "/health" || path == "/healthz") {
            if (!get) {
                co_await not_allowed(ex, api_kind::openai, "GET");
                co_return;
            }
            static constexpr std::string_view ok = "{\"status\":\"ok\"}";
            co_await send_json(ex, 200, ok);
            co_return;
        }
        if (path == "/v1/models" || path == "/models" || path == "/metrics") {
            if (!get) {
                co_await not_allowed(ex, api_kind::openai, "GET");
                co_return;
            }
            auto key = authenticate(req, api_kind::openai);
            if (!key) {
                metrics->auth_failures.fetch_add(1, std::memory_order_relaxed);
                auto const e = key.error();  // named: GCC 12 and temporaries in co_await
                co_await answer_plain_error(ex, api_kind::openai, e, path);
                co_return;
            }
            if (path == "/metrics") {
                std::string body;
                body.reserve(16384);
                render_metrics(body);
                ex.set_status(200);
                ex.add_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                co_await ex.send(body);
            } else {
                co_await send_json(ex, 200, models_body);
            }
            co_return;
        }
        api_error e;
        e.status = 404;
        e.type = "invalid_request_error";
        e.code = "not_found";
        e.message = "unknown endpoint '" + std::string(path) +
                    "' (served: POST /v1/chat/completions, POST /v1/messages, GET /v1/models, "
                    "GET /health, GET /metrics)";
        co_await answer_plain_error(ex, api_kind::openai, e, path);
    }

    asio::awaitable<void> not_allowed(detail::server_exchange& ex, api_kind api,
                                      char const* allow) {
        api_error e;
        e.status = 405;
        e.type = "invalid_request_error";
        e.code = "method_not_allowed";
        e.message = std::string("method not allowed: use ") + allow;
        ex.add_header("Allow", allow);
        auto const target = ex.request().target();
        co_await answer_plain_error(ex, api, e,
                                    path_of(std::string_view(target.data(), target.size())));
    }

    /// An error answered before any model work: metrics and log, then the body.
    asio::awaitable<void> answer_plain_error(detail::server_exchange& ex, api_kind api,
                                             api_error const& e, std::string_view path) {
        metrics->errors.add(e.status);
        request_record rec;
        rec.start = steady::now();
        rec.method = std::string_view(ex.request().method_string().data(),
                                      ex.request().method_string().size());
        rec.path = path;
        rec.status = e.status;
        log(rec);
        co_await send_error(ex, api, e);
    }

    void render_metrics(std::string& out) const {
        auto const s = server->stats();
        metrics->render(out, {s.accepted, s.open});
        auto const t = up.stats();
        out += "# HELP llmux_upstream_connections_open Upstream sockets open now.\n"
               "# TYPE llmux_upstream_connections_open gauge\nllmux_upstream_connections_open ";
        append_u(out, t.connections_open);
        out += "\n# HELP llmux_upstream_requests_total Upstream HTTP requests sent.\n"
               "# TYPE llmux_upstream_requests_total counter\nllmux_upstream_requests_total ";
        append_u(out, t.requests);
        out += '\n';
        // Adaptive concurrency per provider (client_config::concurrency), when it is on.
        auto const gates = up.concurrency();
        if (!gates.empty()) {
            out += "# HELP llmux_upstream_concurrency_limit Adaptive in-flight limit per provider.\n"
                   "# TYPE llmux_upstream_concurrency_limit gauge\n";
            for (auto const& g : gates) {
                out += "llmux_upstream_concurrency_limit{provider=\"" + g.provider + "\"} ";
                append_u(out, g.limit);
                out += '\n';
            }
            out += "# HELP llmux_upstream_queue_depth Calls waiting for a slot per provider.\n"
                   "# TYPE llmux_upstream_queue_depth gauge\n";
            for (auto const& g : gates) {
                out += "llmux_upstream_queue_depth{provider=\"" + g.provider + "\"} ";
                append_u(out, g.queued);
                out += '\n';
            }
            out += "# HELP llmux_upstream_requeued_total Calls queued again after a 429/529.\n"
                   "# TYPE llmux_upstream_requeued_total counter\n";
            for (auto const& g : gates) {
                out += "llmux_upstream_requeued_total{provider=\"" + g.provider + "\"} ";
                append_u(out, g.requeued);
                out += '\n';
            }
        }
    }

    /// `POST /v1/chat/completions` and `POST /v1/messages`.
    asio::awaitable<void> model_request(detail::server_exchange& ex, api_kind api,
                                        std::string_view path) {
        auto& req = ex.request();
        request_record rec;
        rec.start = steady::now();
        rec.method = "POST";
        rec.path = path;

        auto fail = [&](api_error const& e) {
            rec.status = e.status;
            metrics->errors.add(e.status);
        };

        auto key = authenticate(req, api);
        if (!key) {
            metrics->auth_failures.fetch_add(1, std::memory_order_relaxed);
            auto const e = key.error();  // a copy: error() returns by value
            fail(e);
            log(rec);
            co_await send_error(ex, api, e);
            co_return;
        }
        rec.key = *key;

        auto parsed = api == api_kind::openai ? detail::parse_openai_request(req.body())
                                              : detail::parse_anthropic_request(req.body());
        if (!parsed) {
            auto const e = parsed.error();
            fail(e);
            log(rec);
            co_await send_error(ex, api, e);
            co_return;
        }
        auto& p = *parsed;
        std::string const public_name = p.req.model;
        rec.model = public_name;
        if (cfg.log_prompts) rec.prompt = last_user_text(p.req);

        group_state scratch;
        auto const* g = find_group(public_name, scratch);
        if (!g) {
            api_error e;
            e.status = 404;
            e.type = "invalid_request_error";
            e.code = "model_not_found";
            e.param = "model";
            e.message = "the model '" + public_name +
                        "' does not exist on this gateway (GET /v1/models lists the models)";
            fail(e);
            log(rec);
            co_await send_error(ex, api, e);
            co_return;
        }
        // A request refused before it reaches a provider counts under its model's name only
        // if that name already has counters (see gateway_metrics::model).
        auto refused = [&](unsigned status) {
            auto const c = metrics->model(g->name, false);
            c->requests.fetch_add(1, std::memory_order_relaxed);
            if (p.stream) c->streams.fetch_add(1, std::memory_order_relaxed);
            c->errors.add(status);
        };

        // The key's rate limits, then its budget: the request reserves the most it may cost
        // (on its costliest deployment), settled in `account` with what it did cost.
        key_state* k = *key;
        double estimate = 0;
        std::uint64_t reserved = 0;
        if (k) {
            if (k->limited()) {
                auto const size = detail::estimate_prompt(p.req);
                estimate = static_cast<double>(size.typical) +
                           static_cast<double>(std::max<std::int64_t>(p.req.max_tokens.value_or(0), 0));
                if (auto wait = k->take(estimate, steady::now())) {
                    metrics->rate_limited.fetch_add(1, std::memory_order_relaxed);
                    api_error e;
                    e.status = 429;
                    e.type = "rate_limit_error";
                    e.code = "rate_limit_exceeded";
                    e.retry_after = *wait;
                    e.message = "gateway key '" + k->name + "' is over its rate limit";
                    refused(429);
                    fail(e);
                    log(rec);
                    co_await send_error(ex, api, e);
                    co_return;
                }
            }
            if (k->budget) {
                auto const most = max_cost(*g, p.req);
                if (!most) {
                    api_error e;
                    e.status = 400;
                    e.type = "invalid_request_error";
                    e.code = "unpriced_model";
                    e.param = "model";
                    e.no_retry = true;
                    e.message = "the model '" + public_name +
                                "' has no known price, and gateway key '" + k->name +
                                "' has a budget that must not be spent blindly (the gateway's "
                                "operator can set unpriced_price to charge a price for it)";
                    refused(400);
                    fail(e);
                    log(rec);
                    co_await send_error(ex, api, e);
                    co_return;
                }
                reserved = to_nano(*most);
                if (!k->reserve(reserved)) {
                    metrics->budget_exceeded.fetch_add(1, std::memory_order_relaxed);
                    api_error e;
                    e.status = 402;
                    e.type = "insufficient_quota";
                    e.code = "budget_exceeded";
                    e.no_retry = true;
                    e.message = "the budget of gateway key '" + k->name +
                                "' cannot cover this request (it is spent, or held by requests "
                                "in flight)";
                    refused(402);
                    fail(e);
                    log(rec);
                    co_await send_error(ex, api, e);
                    co_return;
                }
            }
        }

        if (!p.openai_extras.empty() && g->all_openai) p.req.extra = std::move(p.openai_extras);
        metrics->in_flight.fetch_add(1, std::memory_order_relaxed);

        std::string const id = new_id(api);
        detail::answer_meta meta{id, static_cast<std::int64_t>(std::time(nullptr)),
                                 public_name};
        result<chat_response> const* outcome = nullptr;
        result<chat_response> whole{failure(error::cancelled, "not run")};
        chat_stream stream;
        stream_writers writers(api, meta, p.include_usage);
        bool sse_started = false;

        if (!p.stream) {
            whole = co_await call(*g, std::move(p.req));
            outcome = &whole;
            if (whole) rec.ttft = whole->ttft;
        } else {
            stream = open_stream(*g, std::move(p.req));
            sse_started = co_await relay(ex, writers, stream, rec);
            if (ex.client_gone()) stream.close();  // settles what the upstream billed so far
            outcome = &stream.response();
        }

        // Bookkeeping (metrics, spend, rate-limit correction, log line) comes before the last
        // bytes of the answer: a client that reads /metrics right after sees its request.
        auto const& r = *outcome;
        std::optional<failure> failed;  // error() returns a copy: take it once
        if (!r) failed.emplace(r.error());
        std::optional<api_error> err;
        if (failed && !ex.client_gone())
            err = detail::error_from_failure(*failed, cfg.expose_upstream_errors);
        account(rec, *g, p.stream, k, estimate, reserved, r, failed, err, ex.client_gone());
        log(rec);

        if (ex.client_gone()) co_return;
        std::string out;
        if (!p.stream) {
            if (err) {
                co_await send_error(ex, api, *err);
                co_return;
            }
            out.reserve(512 + whole->content.size());
            if (api == api_kind::openai)
                detail::render_openai_response(*whole, meta, out);
            else
                detail::render_anthropic_response(*whole, meta, out);
            co_await send_json(ex, 200, out);
            co_return;
        }
        if (err && !sse_started) {
            // Nothing was sent yet: a real HTTP status.
            co_await send_error(ex, api, *err);
            co_return;
        }
        if (!sse_started) start_sse(ex);
        if (err)
            writers.error(*err, out);
        else
            writers.finish(*r, out);
        co_await ex.end_chunked(out);
    }

    /// Counts a finished model request in the metrics and the key's spend and buckets.
    void account(request_record& rec, group_state const& g, bool stream, key_state* k,
                 double estimate, std::uint64_t reserved, result<chat_response> const& r,
                 std::optional<failure> const& failed, std::optional<api_error> const& err,
                 bool gone) {
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
        // (streams that broke after their answer began). An answer whose cost is unknown
        // (the provider reported no usage) is charged its reservation: never free.
        double charged = 0;
        bool known = true;
        if (r) {
            if (r->cost_usd)
                charged = *r->cost_usd;
            else
                known = false;
            for (auto const& a : r->attempts)
                if (a.error) charged += billed(*a.error);
        } else {
            charged = billed(*failed);
        }
        rec.cost = known || charged > 0 ? std::optional<double>(charged) : std::nullopt;
        if (charged > 0)
            counters.cost_nano_usd.fetch_add(to_nano(charged), std::memory_order_relaxed);
        if (k && k->budget)
            k->settle(reserved, known ? to_nano(charged) : std::max(reserved, to_nano(charged)));
        else if (k)
            k->spent_nano.fetch_add(to_nano(charged), std::memory_order_relaxed);
        if (k && k->limited() && rec.use.known())
            k->settle(estimate, static_cast<double>(*rec.use.input_tokens + *rec.use.output_tokens));

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
    }

    /// A whole answer through the group's strategy and composed policy.
    asio::awaitable<result<chat_response>> call(group_state const& g, chat_request req) {
        if (g.simple) {
            req.model = g.order.front();
            co_return co_await up.chat(std::move(req));
        }
        auto order = ranked(g, req);
        auto opts = fb_options(g, false);
        co_return co_await fallback(up, std::move(order), std::move(req), std::move(opts));
    }

    /// A stream through the group's strategy: one stream type, plain or combined.
    chat_stream open_stream(group_state const& g, chat_request req) {
        if (g.simple) {
            req.model = g.order.front();
            return up.stream(std::move(req));
        }
        auto order = ranked(g, req);
        return stream_fallback(up, std::move(order), std::move(req), fb_options(g, true));
    }

    static void start_sse(detail::server_exchange& ex) {
        ex.set_status(200);
        ex.add_header("Content-Type", "text/event-stream");
        ex.add_header("Cache-Control", "no-cache");
        ex.start_chunked();
    }

    /** Relays a stream's chunks as SSE, up to (not including) its end. The head is sent only
        with the first chunk, so a failure before any content is answered with a proper HTTP
        status. Returns true once the SSE head went out.
    */
    asio::awaitable<bool> relay(detail::server_exchange& ex, stream_writers& w,
                                chat_stream& s, request_record& rec) {
        bool started = false;
        bool first_content = true;
        std::string out;
        out.reserve(1024);
        for (;;) {
            auto chunk = co_await s.next();
            if (!chunk || ex.client_gone()) break;
            if (first_content && chunk->has_content()) {
                first_content = false;
                rec.ttft = steady::now() - rec.start;
            }
            out.clear();
            w.chunk(*chunk, out);
            if (!started) {
                start_sse(ex);
                started = true;
            }
            if (out.empty()) continue;
            if (auto ec = co_await ex.write_chunk(out)) break;
        }
        if (first_content && s.response()) rec.ttft = steady::now() - rec.start;
        co_return started;
    }
};

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
            if (!self) co_return;
            co_await self->handle(ex);
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
