// SPDX-License-Identifier: BSL-1.0
#include <llmux/client.hpp>

#include "auth/crypto.hpp"
#include "auth/google_token.hpp"
#include "auth/sigv4.hpp"
#include "http/transport.hpp"
#include "resilience.hpp"
#include "util/spawn.hpp"
#include "wire/common.hpp"
#include "wire/wire_format.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

namespace llmux {

namespace asio = boost::asio;
using detail::clock;

namespace {

bool has_crlf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

/// A header name for an error message: CR and LF shown escaped, long names cut. The value is
/// never shown: it may be a credential.
std::string printable_header_name(std::string_view name) {
    std::string out;
    for (char c : name.substr(0, 100)) {
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

/// Removes every occurrence of a secret from a text (providers sometimes echo a key back).
void redact(std::string& text, std::string_view secret) {
    if (secret.size() < 6) return;
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
        text.replace(pos, secret.size(), "[redacted]");
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct provider_entry {
    provider_config cfg;
    detail::wire_format const* wire = nullptr;
    detail::origin org;
    std::string base_path;
    std::optional<failure> problem;
};

struct prepared {
    provider_entry const* p = nullptr;
    /// The wire format of this model (`wire_format::for_model`).
    detail::wire_format const* wire = nullptr;
    model_id id;
    std::shared_ptr<detail::http_request> req;
};

struct client::impl : std::enable_shared_from_this<client::impl> {
    asio::any_io_executor ex;
    client_config cfg;
    std::shared_ptr<detail::transport> tr;
    std::map<std::string, provider_entry, std::less<>> providers;
    std::atomic<std::uint64_t> in_flight{0};
    std::mutex observers_mu;
    std::vector<std::function<void(call_record const&)>> observers;
    /// Access tokens of providers that authenticate with a Google service account.
    std::map<std::string, std::shared_ptr<detail::google_token_source>, std::less<>> google_tokens;
    catalog const* models;
    detail::model_books books;
    detail::rate_limiter limiter;
    detail::spend_meter spend;

    impl(asio::any_io_executor e, client_config c)
        : ex(std::move(e)), cfg(std::move(c)),
          models(cfg.models ? cfg.models.get() : &catalog::built_in()), limiter(cfg.limits),
          spend(cfg.budget_usd) {
        detail::transport_config tc;
        tc.timeouts = cfg.timeouts;
        tc.tls = cfg.tls;
        tc.pool = cfg.pool;
        tc.max_response_bytes = cfg.max_response_bytes;
        tc.max_stream_bytes = cfg.max_stream_bytes;
        tr = std::make_shared<detail::transport>(ex, std::move(tc));
        for (auto const& [name, pc] : cfg.providers) {
            provider_entry e;
            e.cfg = pc;
            e.wire = detail::find_wire_format(pc.wire);
            if (!e.wire) {
                std::string known;
                for (auto n : detail::wire_format_names()) known += (known.empty() ? "" : ", ") + std::string(n);
                e.problem = failure(error::invalid_config, "provider '" + name +
                                                               "': unknown wire format '" + pc.wire +
                                                               "' (known: " + known + ")");
            } else if (pc.base_url.empty()) {
                std::string hint = name == "azure" ? " (set AZURE_OPENAI_ENDPOINT)" : "";
                e.problem = failure(error::invalid_config,
                                    "provider '" + name + "' has no base URL" + hint);
            } else {
                auto o = detail::parse_base_url(pc.base_url, e.base_path);
                if (!o) {
                    auto f = o.error();
                    f.diag.message = "provider '" + name + "': " + f.diag.message;
                    e.problem = f;
                } else {
                    e.org = *o;
                }
            }
            if (pc.auth == auth_scheme::google_oauth && pc.credentials.access_token.empty() &&
                !pc.credentials.google_credentials_file.empty())
                google_tokens.emplace(name, std::make_shared<detail::google_token_source>(
                                                name, pc.credentials.google_credentials_file));
            providers.emplace(name, std::move(e));
        }
    }

    result<provider_entry const*> find_provider(model_id const& id) const {
        auto it = providers.find(id.provider);
        if (it == providers.end()) {
            std::string known;
            for (auto const& [n, e] : providers) known += (known.empty() ? "" : ", ") + n;
            return failure(error::unknown_provider,
                           "unknown provider '" + id.provider + "' in model id '" + id.str() +
                               "' (configured: " + known + "; add others in a config file)");
        }
        auto const& e = it->second;
        if (e.problem) return *e.problem;
        auto const& c = e.cfg.credentials;
        bool const keyless = e.cfg.auth == auth_scheme::none || !e.cfg.key_required;
        if (!keyless) {
            bool has = !c.api_key.empty();
            if (e.cfg.auth == auth_scheme::aws_sigv4)
                has = has || (!c.aws_access_key_id.empty() && !c.aws_secret_access_key.empty());
            if (e.cfg.auth == auth_scheme::google_oauth)
                has = !c.access_token.empty() || !c.google_credentials_file.empty();
            if (!has) {
                std::string how = e.cfg.api_key_env.empty()
                                      ? "set its api_key_env in a config file"
                                      : "set " + e.cfg.api_key_env;
                return failure(error::missing_api_key,
                               "provider '" + id.provider + "' needs an API key: " + how);
            }
        }
        return &e;
    }

    result<prepared> prepare(chat_request const& req, bool stream) const {
        auto id = model_id::parse(req.model);
        if (!id) return id.error();
        auto pe = find_provider(*id);
        if (!pe) return pe.error();
        provider_entry const& p = **pe;
        for (auto const& [name, value] : req.headers) {
            if (name.empty())
                return failure(error::invalid_request, "a request header has an empty name");
            if (has_crlf(name) || has_crlf(value))
                return failure(error::invalid_request,
                               "request header '" + printable_header_name(name) +
                                   "' contains CR or LF");
        }
        detail::encode_context ctx{p.cfg, id->model, stream};
        auto const& wire = p.wire->for_model(id->model);
        auto enc = wire.encode(req, ctx);
        if (!enc) {
            auto f = enc.error();
            f.diag.provider = id->provider;
            f.diag.model = id->model;
            return f;
        }
        auto hr = std::make_shared<detail::http_request>(std::move(*enc));
        std::string target = p.base_path;
        if (auto pos = target.find("{model}"); pos != std::string::npos)
            target.replace(pos, 7, detail::uri_encode(id->model, true));
        target += hr->target;
        if (target.empty() || target.front() != '/') target.insert(0, "/");
        char sep = target.find('?') == std::string::npos ? '?' : '&';
        for (auto const& [k, v] : p.cfg.query) {
            target += sep;
            target += detail::uri_encode(k, true);
            target += '=';
            target += detail::uri_encode(v, true);
            sep = '&';
        }
        hr->target = std::move(target);
        for (auto const& [k, v] : p.cfg.headers)
            if (hr->header(k).empty()) hr->headers.emplace_back(k, v);
        for (auto const& [k, v] : req.headers) hr->set_header(k, v);  // the call's own win
        auto const& key = p.cfg.credentials.api_key;
        switch (p.cfg.auth) {
        case auth_scheme::none: break;
        case auth_scheme::bearer:
            if (!key.empty()) hr->set_header("Authorization", "Bearer " + key);
            break;
        case auth_scheme::header:
            if (!key.empty())
                hr->set_header(p.cfg.auth_header.empty() ? "api-key" : p.cfg.auth_header, key);
            break;
        case auth_scheme::aws_sigv4:
            if (!key.empty()) {
                hr->set_header("Authorization", "Bearer " + key);  // a Bedrock API key
                break;
            }
            if (auto r = sign_aws(p, *hr); !r) return r.error();
            break;
        case auth_scheme::google_oauth:
            // An access token given directly; otherwise `authorize` gets one asynchronously.
            if (!p.cfg.credentials.access_token.empty())
                hr->set_header("Authorization", "Bearer " + p.cfg.credentials.access_token);
            break;
        }
        return prepared{&p, &wire, std::move(*id), std::move(hr)};
    }

    /// Signs `hr` with AWS Signature Version 4 (the provider's `region` and `service` options;
    /// defaults `us-east-1` and `bedrock`).
    static result<void> sign_aws(provider_entry const& p, detail::http_request& hr) {
        auto opt = [&](char const* k, char const* dflt) -> std::string {
            if (auto const* v = p.cfg.options.if_contains(k); v && v->is_string())
                return std::string(v->get_string());
            return dflt;
        };
        std::string const host = detail::host_header(p.org);
        std::string_view target = hr.target;
        std::string_view path = target, query;
        if (auto q = target.find('?'); q != std::string_view::npos) {
            path = target.substr(0, q);
            query = target.substr(q + 1);
        }
        detail::sigv4_request sr;
        sr.method = hr.method;
        sr.host = host;
        sr.path = path;
        sr.query = query;
        sr.headers = hr.headers;
        sr.body = hr.body;
        auto const& c = p.cfg.credentials;
        detail::aws_credentials creds{c.aws_access_key_id, c.aws_secret_access_key,
                                      c.aws_session_token};
        auto added = detail::sigv4_sign(sr, creds, opt("region", "us-east-1"),
                                        opt("service", "bedrock"), std::chrono::system_clock::now());
        if (!added) return added.error();
        for (auto& [k, v] : *added) hr.set_header(std::move(k), std::move(v));
        return {};
    }

    /// Adds what `prepare` could not do synchronously: a Google access token from the
    /// provider's service account (cached; refreshed before it expires).
    asio::awaitable<result<void>> authorize(prepared& prep, clock::time_point deadline) {
        auto const& p = *prep.p;
        if (p.cfg.auth != auth_scheme::google_oauth || !prep.req->header("Authorization").empty())
            co_return result<void>{};
        auto it = google_tokens.find(prep.id.provider);
        if (it == google_tokens.end())
            co_return failure(error::missing_api_key,
                              "provider '" + prep.id.provider +
                                  "' needs GOOGLE_APPLICATION_CREDENTIALS or an access token");
        auto tok = co_await it->second->token(tr, deadline);
        if (!tok) co_return tok.error();
        prep.req->set_header("Authorization", "Bearer " + *tok);
        co_return result<void>{};
    }

    /// Fills in who failed and removes secrets from what the provider said.
    void finish_failure(failure& f, prepared const* p, std::string_view model) const {
        if (p) {
            if (f.diag.provider.empty()) f.diag.provider = p->id.provider;
            if (f.diag.model.empty()) f.diag.model = p->id.model;
            auto const& c = p->p->cfg.credentials;
            for (auto const* s : {&c.api_key, &c.aws_secret_access_key, &c.aws_session_token,
                                  &c.access_token}) {
                redact(f.diag.message, *s);
                redact(f.diag.error_code, *s);
                redact(f.diag.error_type, *s);
            }
        } else if (f.diag.model.empty()) {
            f.diag.model = std::string(model);
        }
    }

    void notify(call_record const& rec) {
        std::vector<std::function<void(call_record const&)>> obs;
        {
            std::lock_guard lk(observers_mu);
            if (observers.empty()) return;
            obs = observers;
        }
        for (auto& o : obs) o(rec);
    }

    /** Refuses a call before anything is sent when the budget is spent or the prompt cannot
        fit the model's context window, then waits for the provider's client-side rate limit.
        `est_tokens` receives the estimate charged to the token bucket.
    */
    asio::awaitable<result<void>> before_send(prepared const& prep, chat_request const& req,
                                              clock::time_point deadline, double& est_tokens) {
        if (auto b = spend.check(); !b) co_return b.error();
        auto const chars = prompt_chars(req);
        auto const max_out = static_cast<double>(req.max_tokens.value_or(0));
        est_tokens = static_cast<double>(chars) / 4.0 + max_out;
        if (auto const* m = models->find(prep.id.str()); m && m->context_window) {
            // At least one token per 6 characters: the check must not refuse a prompt that
            // would fit, so it uses the lowest plausible count.
            double const lowest = static_cast<double>(chars) / 6.0 + max_out;
            if (lowest > static_cast<double>(*m->context_window))
                co_return failure(error::context_length_exceeded,
                                  "the prompt (" + std::to_string(chars) + " characters, at least " +
                                      std::to_string(static_cast<std::uint64_t>(chars / 6)) +
                                      " tokens) plus max_tokens " +
                                      std::to_string(static_cast<std::uint64_t>(max_out)) +
                                      " exceeds the context window of " + prep.id.str() + " (" +
                                      std::to_string(*m->context_window) + " tokens)");
        }
        if (limiter.limited(prep.id.provider))
            co_return co_await limiter.acquire(prep.id.provider, est_tokens, deadline);
        co_return result<void>{};
    }

    /// Characters of everything the prompt sends (text, tool calls and results, tools).
    static std::size_t prompt_chars(chat_request const& req) {
        std::size_t n = req.system.size();
        for (auto const& m : req.messages) {
            for (auto const& part : m.content) {
                if (auto const* t = std::get_if<text_part>(&part)) n += t->text.size();
                else if (std::get_if<image_part>(&part)) n += 4 * 800;  // ~800 tokens a picture
                else if (auto const* c = std::get_if<tool_call>(&part)) n += c->name.size() + c->arguments.size();
                else if (auto const* r = std::get_if<tool_result>(&part)) n += r->content.size();
            }
        }
        for (auto const& t : req.tools) n += t.name.size() + t.description.size() + 64 * t.parameters.size();
        return n;
    }
};

namespace {

/** One call's bookkeeping from start to finish: the call record for callbacks, the model's
    measurements and circuit, the spend, the token-bucket correction. Shared by chat and
    streams so that both count the same way.
*/
struct call_tracker {
    std::shared_ptr<client::impl> c;
    call_record rec;
    clock::time_point t0 = clock::now();
    std::shared_ptr<detail::model_book> book;
    double est_tokens = 0;
    bool done = false;

    call_tracker(std::shared_ptr<client::impl> cl, std::string const& model, std::uint32_t attempt,
                 bool stream)
        : c(std::move(cl)) {
        rec.model = model;
        rec.attempt = attempt;
        rec.stream = stream;
    }

    /// The call is about to be sent to `prep`'s provider.
    void sending(prepared const& prep) {
        rec.provider = prep.id.provider;
        book = c->books.get(prep.id.str());
        book->started();
    }

    /// Finishes with `r`; fills in the cost of a success. Returns `r`.
    result<chat_response> finish(result<chat_response> r, prepared const* prep) {
        if (done) return r;
        done = true;
        rec.latency = clock::now() - t0;
        if (r) {
            r->cost_usd = c->models->cost(r->requested_model, r->usage);
            if (!r->attempts.empty()) r->attempts.back().latency = r->latency;
            rec.usage = r->usage;
            rec.ttft = r->ttft;
            rec.cost_usd = r->cost_usd;
        } else {
            auto f = r.error();
            c->finish_failure(f, prep, rec.model);
            rec.error = f;
            r = std::move(f);
        }
        if (book) {
            book->finished(rec.error, rec.ttft, rec.latency, rec.usage, rec.cost_usd, c->cfg.breaker,
                           clock::now());
            c->spend.record(!r, rec.usage, rec.cost_usd);
            if (r && rec.usage.known())
                c->limiter.settle(rec.provider, est_tokens,
                                  static_cast<double>(*rec.usage.input_tokens + *rec.usage.output_tokens));
        }
        c->notify(rec);
        return r;
    }
};

}  // namespace

// ---------------------------------------------------------------------------------------------

client::client(executor_type ex, client_config cfg)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(cfg))) {}
client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

client::executor_type client::get_executor() const noexcept { return impl_->ex; }
client_config const& client::config() const noexcept { return impl_->cfg; }

client_stats client::stats() const {
    auto t = impl_->tr->stats();
    client_stats s;
    s.connections_opened = t.connections_opened;
    s.connections_reused = t.connections_reused;
    s.connections_open = t.connections_open;
    s.requests = t.requests;
    s.in_flight = impl_->in_flight.load();
    s.tls_resumed = t.tls_resumed;
    return s;
}

catalog const& client::models() const noexcept { return *impl_->models; }

client_totals client::totals() const { return impl_->spend.totals(); }

std::vector<model_metrics> client::metrics() const {
    std::vector<model_metrics> out;
    auto const now = clock::now();
    for (auto const& b : impl_->books.all()) out.push_back(b->snapshot(impl_->cfg.breaker, now));
    return out;
}

std::optional<model_metrics> client::metrics(std::string_view model) const {
    auto b = impl_->books.find(model);
    if (!b) return std::nullopt;
    return b->snapshot(impl_->cfg.breaker, clock::now());
}

model_estimate client::estimate(std::string_view model) const {
    auto b = impl_->books.find(model);
    if (!b) return {};
    return b->estimate(impl_->cfg.breaker, clock::now());
}

bool client::admit(std::string_view model) {
    return impl_->books.get(std::string(model))->admit(impl_->cfg.breaker, clock::now());
}

void client::on_call(std::function<void(call_record const&)> cb) {
    std::lock_guard lk(impl_->observers_mu);
    impl_->observers.push_back(std::move(cb));
}

result<void> client::check(std::string_view model) const {
    auto id = model_id::parse(model);
    if (!id) return id.error();
    auto p = impl_->find_provider(*id);
    if (!p) return p.error();
    return {};
}

namespace {
struct in_flight_guard {
    std::atomic<std::uint64_t>& n;
    explicit in_flight_guard(std::atomic<std::uint64_t>& c) : n(c) { ++n; }
    ~in_flight_guard() { --n; }
};
}  // namespace

namespace {

/// The work of `client::chat`, in a coroutine thread of its own (see `client::chat`).
asio::awaitable<result<chat_response>> chat_impl(std::shared_ptr<client::impl> self,
                                                 chat_request req, std::uint32_t attempt_no) {
    co_await asio::this_coro::throw_if_cancelled(false);
    in_flight_guard guard(self->in_flight);
    call_tracker track(self, req.model, attempt_no, false);
    auto const deadline = track.t0 + self->cfg.timeouts.total;

    auto prep = self->prepare(req, false);
    if (!prep) co_return track.finish(prep.error(), nullptr);
    auto const& p = *prep->p;
    auto const& wire = *prep->wire;
    if (auto b = co_await self->before_send(*prep, req, deadline, track.est_tokens); !b)
        co_return track.finish(b.error(), &*prep);
    if (auto a = co_await self->authorize(*prep, deadline); !a)
        co_return track.finish(a.error(), &*prep);

    track.sending(*prep);
    auto resp = co_await self->tr->request(p.org, prep->req, deadline);
    if (!resp) co_return track.finish(resp.error(), &*prep);
    auto const& head = resp->head;
    if (head.status < 200 || head.status > 299)
        co_return track.finish(wire.decode_error(head, resp->body), &*prep);
    auto out = wire.decode(head, resp->body);
    if (!out) {
        auto f = out.error();
        if (f.diag.http_status == 0) f.diag.http_status = head.status;
        co_return track.finish(std::move(f), &*prep);
    }
    auto const now = clock::now();
    out->provider = prep->id.provider;
    out->requested_model = prep->id.str();
    if (out->model.empty()) out->model = prep->id.model;
    out->latency = now - track.t0;
    out->ttft = resp->first_byte - track.t0;
    out->attempts.push_back(attempt{out->requested_model, std::nullopt, out->latency});
    co_return track.finish(std::move(out), &*prep);
}

}  // namespace

asio::awaitable<result<chat_response>> client::chat(chat_request req) {
    return chat(std::move(req), attempt_context{});
}

asio::awaitable<result<chat_response>> client::chat(chat_request req, attempt_context ctx) {
    // The call runs in its own coroutine thread: llmux's coroutines turn `throw_if_cancelled`
    // off, and that flag belongs to a whole coroutine thread, so the caller's is left alone.
    auto self = impl_;
    try {
        co_return co_await asio::co_spawn(self->ex, chat_impl(self, std::move(req), ctx.attempt),
                                          asio::use_awaitable);
    } catch (boost::system::system_error const& e) {
        // The calling coroutine was cancelled before the call could start.
        co_return failure(e.code(), "cancelled before the call started");
    }
}

// ---------------------------------------------------------------------------------------------
// Streams

struct chat_stream::state {
    std::shared_ptr<client::impl> c;
    chat_request req;
    std::uint32_t attempt_no = 1;
    std::optional<call_tracker> track;  // from the first next()
    std::optional<prepared> prep;
    detail::body_stream body;
    std::unique_ptr<detail::stream_decoder> dec;
    std::vector<chat_chunk> pending;
    std::size_t next_pending = 0;
    bool opened = false;
    bool ended = false;   // the body is over (decoder finished)
    bool finished = false;
    bool content = false;
    std::size_t chunks = 0;
    std::optional<failure> deferred;  // a failure decoded after chunks that are delivered first
    clock::time_point t0{};
    clock::time_point first_content{};
    chat_response resp;
    std::map<std::size_t, tool_call> calls;
    result<chat_response> final{failure(error::invalid_request, "the stream has not finished")};

    void absorb(chat_chunk const& ch) {
        resp.content += ch.text;
        resp.reasoning += ch.reasoning;
        for (auto const& d : ch.tool_calls) {
            auto& tc = calls[d.index];
            if (!d.id.empty()) tc.id = d.id;
            if (!d.name.empty()) tc.name = d.name;
            tc.arguments += d.arguments;
        }
        if (ch.finish_reason) resp.finish_reason = *ch.finish_reason;
        if (ch.usage) {
            auto const& u = *ch.usage;
            auto merge = [](token_count& into, token_count const& from) {
                if (from) into = from;
            };
            merge(resp.usage.input_tokens, u.input_tokens);
            merge(resp.usage.output_tokens, u.output_tokens);
            merge(resp.usage.total_tokens, u.total_tokens);
            merge(resp.usage.cached_input_tokens, u.cached_input_tokens);
            merge(resp.usage.cache_write_tokens, u.cache_write_tokens);
            merge(resp.usage.reasoning_tokens, u.reasoning_tokens);
            if (u.reported_cost) resp.usage.reported_cost = u.reported_cost;
        }
    }

    void fail(failure f) {
        body.close();
        final = track ? track->finish(std::move(f), prep ? &*prep : nullptr) : result<chat_response>(f);
        finished = true;
        --c->in_flight;
    }

    void succeed() {
        auto const now = clock::now();
        for (auto& [i, tc] : calls) resp.tool_calls.push_back(std::move(tc));
        auto const& info = dec->info();
        resp.id = info.id;
        resp.model = info.model.empty() ? prep->id.model : info.model;
        resp.native_finish_reason = info.native_finish_reason;
        resp.provider = prep->id.provider;
        resp.requested_model = prep->id.str();
        if (resp.request_id.empty()) {
            for (auto h : {"x-request-id", "request-id", "x-amzn-requestid", "x-generation-id"})
                if (auto v = body.head().header(h); !v.empty()) {
                    resp.request_id = std::string(v);
                    break;
                }
        }
        if (resp.request_id.empty()) resp.request_id = info.request_id;
        resp.latency = now - t0;
        resp.ttft = content ? first_content - t0 : resp.latency;
        resp.attempts.push_back(attempt{resp.requested_model, std::nullopt, resp.latency});
        final = track->finish(std::move(resp), &*prep);
        finished = true;
        --c->in_flight;
    }
};

chat_stream::chat_stream(chat_stream&&) noexcept = default;
chat_stream& chat_stream::operator=(chat_stream&&) noexcept = default;
chat_stream::~chat_stream() {
    // An abandoned stream is a cancelled call: close it and count it as such.
    if (st_ && !st_->finished && st_->opened)
        st_->fail(failure(asio::error::operation_aborted, "the stream was dropped before its end"));
}

bool chat_stream::done() const noexcept { return !st_ || st_->finished; }
bool chat_stream::content_started() const noexcept { return st_ && st_->content; }

result<chat_response> const& chat_stream::response() const {
    static result<chat_response> const empty{
        failure(error::invalid_request, "this stream was not started by a client")};
    return st_ ? st_->final : empty;
}

void chat_stream::close() {
    if (!st_ || st_->finished) return;
    if (!st_->opened) {
        st_->finished = true;
        st_->final = failure(asio::error::operation_aborted, "the stream was closed");
        return;
    }
    st_->fail(failure(asio::error::operation_aborted, "the stream was closed by the caller"));
}

asio::awaitable<result<chat_response>> client::chat(std::string model, std::string prompt) {
    chat_request req;
    req.model = std::move(model);
    req.messages.push_back(user(std::move(prompt)));
    return chat(std::move(req));
}

chat_stream client::stream(std::string model, std::string prompt) {
    chat_request req;
    req.model = std::move(model);
    req.messages.push_back(user(std::move(prompt)));
    return stream(std::move(req));
}

chat_stream client::stream(chat_request req) { return stream(std::move(req), attempt_context{}); }

chat_stream client::stream(chat_request req, attempt_context ctx) {
    chat_stream s;
    s.st_ = std::make_shared<chat_stream::state>();
    s.st_->c = impl_;
    s.st_->req = std::move(req);
    s.st_->attempt_no = ctx.attempt;
    return s;
}

namespace {

/// Maps a transport failure in the middle of a stream: once the answer has started, a broken
/// connection means the answer is incomplete.
failure mid_stream_failure(failure f, std::size_t chunks) {
    auto const& ec = f.code;
    if (ec != asio::error::operation_aborted && ec.category() != category()) {
        std::string why = f.diag.message;
        f = failure(error::truncated,
                    "the stream broke after " + std::to_string(chunks) + " chunks: " + why);
    }
    return f;
}

asio::awaitable<void> read_error_body(std::shared_ptr<chat_stream::state> st);

/// One step of a stream, in a coroutine thread of its own: open it (on the client's executor)
/// or read and decode its next bytes (on its connection's strand).
asio::awaitable<void> stream_step(std::shared_ptr<chat_stream::state> st) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto& c = *st->c;
    if (!st->opened) {
        st->opened = true;
        ++c.in_flight;
        st->track.emplace(st->c, st->req.model, st->attempt_no, true);
        st->t0 = st->track->t0;
        auto prep = c.prepare(st->req, true);
        if (!prep) {
            st->fail(prep.error());
            co_return;
        }
        st->prep = std::move(*prep);
        auto const deadline = st->t0 + c.cfg.timeouts.total;
        if (auto b = co_await c.before_send(*st->prep, st->req, deadline, st->track->est_tokens);
            !b) {
            st->fail(b.error());
            co_return;
        }
        if (auto a = co_await c.authorize(*st->prep, deadline); !a) {
            st->fail(a.error());
            co_return;
        }
        st->track->sending(*st->prep);
        auto b = co_await c.tr->open(st->prep->p->org, st->prep->req, deadline);
        if (!b) {
            st->fail(b.error());
            co_return;
        }
        st->body = std::move(*b);
        auto const& head = st->body.head();
        if (head.status < 200 || head.status > 299) {
            co_await detail::spawn_on(st->body.strand(), read_error_body(st));
            co_return;
        }
        st->dec = st->prep->wire->make_stream_decoder();
        co_return;
    }
    auto bytes = co_await st->body.read_some();
    if (!bytes) {
        st->deferred = mid_stream_failure(bytes.error(), st->chunks);
        co_return;
    }
    if (bytes->empty()) {
        if (auto r = st->dec->finish(st->pending); !r) st->deferred = r.error();
        st->ended = true;
        co_return;
    }
    if (auto r = st->dec->feed(*bytes, st->pending); !r) st->deferred = r.error();
}

asio::awaitable<void> read_error_body(std::shared_ptr<chat_stream::state> st) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto body = co_await st->body.read_all(1u << 20);
    st->fail(st->prep->wire->decode_error(st->body.head(), body ? *body : std::string()));
}

}  // namespace

asio::awaitable<std::optional<chat_chunk>> chat_stream::next() {
    auto st = st_;
    if (!st) co_return std::nullopt;
    for (;;) {
        if (st->finished) co_return std::nullopt;
        if (st->next_pending < st->pending.size()) {
            chat_chunk ch = std::move(st->pending[st->next_pending++]);
            if (st->next_pending == st->pending.size()) {
                st->pending.clear();
                st->next_pending = 0;
            }
            if (ch.has_content() && !st->content) {
                st->content = true;
                st->first_content = clock::now();
            }
            ++st->chunks;
            st->absorb(ch);
            co_return ch;
        }
        if (st->deferred) {
            st->fail(std::move(*st->deferred));
            co_return std::nullopt;
        }
        if (st->ended) {
            st->succeed();
            co_return std::nullopt;
        }
        // The I/O runs in its own coroutine thread (see client::chat).
        auto ex = st->opened ? st->body.strand() : st->c->ex;
        try {
            co_await detail::spawn_on(ex, stream_step(st));
        } catch (boost::system::system_error const& e) {
            // The calling coroutine was cancelled before the step could start.
            st->fail(failure(e.code(), "the stream was cancelled"));
            co_return std::nullopt;
        }
    }
}

}  // namespace llmux
