// SPDX-License-Identifier: BSL-1.0
#include <llmux/client.hpp>

#include "util/crypto.hpp"
#include "auth/google_token.hpp"
#include "auth/sigv4.hpp"
#include "http/transport.hpp"
#include "resilience.hpp"
#include "stream_source.hpp"
#include "util/estimate.hpp"
#include "util/header.hpp"
#include "util/spawn.hpp"
#include "util/text.hpp"
#include "wire/common.hpp"
#include "wire/bedrock_embeddings.hpp"
#include "wire/gemini_embeddings.hpp"
#include "wire/openai_embeddings.hpp"
#include "wire/formats.hpp"
#include "wire/wire_format.hpp"

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <deque>
#include <span>
#include <map>
#include <mutex>
#include <vector>

namespace llmux {

namespace asio = boost::asio;
using detail::clock;

namespace {

/** What is wrong with the values of `p` that reach the wire (credentials, headers, the auth
    header's name), or nothing. A second line of defence behind the checks where values are
    loaded (environment, config file), for configurations built in code; names the field or
    variable, never the value.
*/
std::optional<std::string> provider_problem(provider_config const& p) {
    if (!p.load_error.empty()) return p.load_error;
    std::string const who = "provider '" + p.name + "': ";
    auto const& c = p.credentials;
    std::string const key_name = p.api_key_env.empty() ? std::string("api_key") : p.api_key_env;
    struct value {
        std::string const* v;
        std::string name;
    };
    for (auto const& [v, name] :
         {value{&c.api_key, "the key (" + key_name + ")"},
          value{&c.access_token, std::string("the access token")},
          value{&c.aws_access_key_id, std::string("AWS_ACCESS_KEY_ID")},
          value{&c.aws_secret_access_key, std::string("AWS_SECRET_ACCESS_KEY")},
          value{&c.aws_session_token, std::string("AWS_SESSION_TOKEN")}})
        if (auto problem = detail::header_value_problem(*v)) return who + name + " " + std::string(*problem);
    if (p.auth == auth_scheme::header && !p.auth_header.empty() &&
        !detail::is_header_name(p.auth_header))
        return who + "auth_header '" + detail::printable_name(p.auth_header) +
               "' is not a header name";
    for (auto const& [k, v] : p.headers)
        if (auto problem = detail::header_problem(k, v)) return who + *problem;
    for (auto const& [k, v] : p.options)
        if (auto const* s = v.if_string())
            if (auto problem = detail::header_value_problem(*s))
                return who + "options." + std::string(k) + " " + std::string(*problem);
    return std::nullopt;
}

/// What a finished call teaches its provider's adaptive concurrency limiter.
detail::call_outcome outcome_of(std::optional<failure> const& error) {
    if (!error) return detail::call_outcome::success;
    auto const& f = *error;
    // A call holding a slot was sent: a throttling or overload failure is the provider's.
    if (f.code == make_error_code(error::rate_limited) ||
        f.code == make_error_code(error::overloaded))
        return detail::call_outcome::overload;
    if (detail::counts_against_health(f)) return detail::call_outcome::error;
    return detail::call_outcome::neutral;
}

/// True when a call refused with `f` may go back to its provider's concurrency queue.
bool requeue_for(failure const& f) {
    return f.code == make_error_code(error::rate_limited) ||
           f.code == make_error_code(error::overloaded);
}

/// A failure of the transport: its message names the upstream's address and what was being
/// done, which is for operators (logs), not for a gateway's clients.
failure transport_failure(failure f) {
    f.diag.source = message_source::internal;
    return f;
}

/// Removes every occurrence of each secret from a text (providers sometimes echo a key back).
void redact(std::string& text, std::span<std::string_view const> secrets) {
    for (auto secret : secrets)
        for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
            text.replace(pos, secret.size(), "[redacted]");
}

/// Every text field of a failure, its attempts' failures included.
void redact(failure& f, std::span<std::string_view const> secrets) {
    auto& d = f.diag;
    for (auto* t : {&d.provider, &d.model, &d.error_type, &d.error_code, &d.message, &d.request_id})
        redact(*t, secrets);
    for (auto& a : d.attempts) {
        redact(a.model, secrets);
        if (a.error) redact(*a.error, secrets);
    }
}

/// Every field of a response that the provider wrote, apart from the answer itself (the
/// model's words are the caller's data; see the README's security notes).
void redact(chat_response& r, std::span<std::string_view const> secrets) {
    for (auto* t : {&r.id, &r.model, &r.request_id, &r.native_finish_reason}) redact(*t, secrets);
    for (auto& c : r.tool_calls) redact(c.id, secrets);
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
    /// The wire format of this model (`wire_for_model`).
    detail::wire_format const* wire = nullptr;
    model_id id;
    std::shared_ptr<detail::http_request> req;
    /// `id.str()`, built once: a call needs it several times (the budget, the record, the
    /// answer).
    std::string name;
};

/// The embeddings formats the client speaks.
enum class embed_wire { openai, gemini, vertex, bedrock };

/// How a provider serves embeddings (`client::impl::embed_support`).
struct embed_route {
    embed_wire wire = embed_wire::openai;
    std::size_t batch_limit = detail::openai::embedding_batch_limit;
    detail::vector_encoding enc = detail::vector_encoding::float32;
    /// The longest input, in tokens (refused before sending when even its lowest estimate is
    /// longer); 0 when the provider's limit is not known.
    std::uint64_t max_input_tokens = 0;
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
    detail::concurrency_gates gates;

    impl(asio::any_io_executor e, client_config c)
        : ex(std::move(e)), cfg(std::move(c)),
          models(cfg.models ? cfg.models.get() : &catalog::built_in()),
          books(cfg.max_tracked_models), limiter(cfg.limits),
          spend(cfg.budget_usd), gates(cfg.concurrency) {
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
            } else if (auto problem = provider_problem(pc)) {
                e.problem = failure(error::invalid_config, std::move(*problem));
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

    /** The HTTP request a wire format encoded, made ready for `p`: the base URL's path (its
        `{model}` replaced) and query, the provider's headers, the call's own headers, then the
        credentials (signed last, over everything else).
    */
    result<std::shared_ptr<detail::http_request>>
    finish_http(provider_entry const& p, model_id const& id, detail::http_request enc,
                header_list const& call_headers) const {
        auto hr = std::make_shared<detail::http_request>(std::move(enc));
        std::string target = p.base_path;
        if (auto pos = target.find("{model}"); pos != std::string::npos)
            target.replace(pos, 7, detail::uri_encode(id.model, true));
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
        for (auto const& [k, v] : call_headers) hr->set_header(k, v);  // the call's own win
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
        return hr;
    }

    result<prepared> prepare(chat_request const& req, bool stream) const {
        auto id = model_id::parse(req.model);
        if (!id) return id.error();
        auto pe = find_provider(*id);
        if (!pe) return pe.error();
        provider_entry const& p = **pe;
        for (auto const& [name, value] : req.headers)
            if (auto problem = detail::header_problem(name, value))
                return failure(error::invalid_request, "request headers: " + *problem);
        detail::encode_context ctx{p.cfg, id->model, stream};
        auto const& wire = detail::wire_for_model(p.cfg, *p.wire, id->model);
        auto enc = wire.encode(req, ctx);
        if (!enc) {
            auto f = enc.error();
            f.diag.provider = id->provider;
            f.diag.model = id->model;
            return f;
        }
        auto hr = finish_http(p, *id, std::move(*enc), req.headers);
        if (!hr) return hr.error();
        auto name = id->str();
        return prepared{&p, &wire, std::move(*id), std::move(*hr), std::move(name)};
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

    /// Whether `authorize` has anything to do (callers skip its coroutine frame otherwise).
    static bool needs_token(prepared const& prep) {
        return prep.p->cfg.auth == auth_scheme::google_oauth &&
               prep.req->header("Authorization").empty();
    }

    /// Adds what `prepare` could not do synchronously: a Google access token from the
    /// provider's service account (cached; refreshed before it expires).
    asio::awaitable<result<void>> authorize(prepared& prep, clock::time_point deadline) {
        if (!needs_token(prep)) co_return result<void>{};
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

    /// A call's credentials: the provider's four and four from the request's headers fit in
    /// place; more (a header given twice) go to the heap, never dropped.
    struct secret_list {
        boost::container::small_vector<std::string_view, 8> at;
        std::span<std::string_view const> view() const noexcept { return {at.data(), at.size()}; }
    };

    /** The credentials a call to `p` carries: the provider's keys and tokens, and the
        credential headers of the prepared request (an OAuth token fetched for it). Values
        shorter than 8 bytes are left out: they would match ordinary text. No allocation for
        eight or fewer, and the headers are read in one pass (every answer is redacted with
        them).
    */
    static secret_list secrets_of(prepared const& p) {
        secret_list out;
        auto add = [&](std::string_view s) {
            if (s.size() >= 8 && std::find(out.at.begin(), out.at.end(), s) == out.at.end())
                out.at.push_back(s);
        };
        auto const& c = p.p->cfg.credentials;
        for (auto const* s : {&c.api_key, &c.aws_secret_access_key, &c.aws_session_token,
                              &c.access_token})
            add(*s);
        if (p.req) {
            std::string_view const custom = p.p->cfg.auth_header;
            for (auto const& [name, value] : p.req->headers) {
                if (detail::iequals(name, "Authorization")) {
                    add(value);
                    if (value.starts_with("Bearer ")) add(std::string_view(value).substr(7));
                } else if ((!custom.empty() && detail::iequals(name, custom)) ||
                           detail::iequals(name, "x-amz-security-token")) {
                    add(value);
                }
            }
        }
        // Longest first: a secret that contains another is replaced whole.
        std::sort(out.at.begin(), out.at.end(),
                  [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
        return out;
    }

    /// Fills in who failed and removes secrets from everything the provider said.
    void finish_failure(failure& f, prepared const* p, std::string_view model) const {
        if (p) {
            if (f.diag.provider.empty()) f.diag.provider = p->id.provider;
            if (f.diag.model.empty()) f.diag.model = p->id.model;
            redact(f, secrets_of(*p).view());
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

    /** The cost of `u` on `model`: the catalog's (or the provider's own report), else the
        configured price for unpriced models; empty when unknown.
    */
    std::optional<double> cost_of(std::string_view model, usage const& u) const {
        if (auto c = models->cost(model, u)) return c;
        if (!cfg.unpriced_price || !u.known()) return std::nullopt;
        if (auto const* m = models->find(model); m && m->priced()) return std::nullopt;
        return (static_cast<double>(*u.input_tokens) * cfg.unpriced_price->input_per_mtok +
                static_cast<double>(*u.output_tokens) * cfg.unpriced_price->output_per_mtok) /
               1e6;
    }

    /** How `p` serves embeddings: its batch limit, the vectors' encoding it is asked for and
        the longest input it takes; `unsupported` naming the provider when it has none (or
        llmux does not speak its embeddings format yet).
        Provider options: `embeddings` (false: none), `max_embedding_inputs` (batch limit),
        `embedding_encoding` (`float` or `base64`), `max_embedding_input_tokens`.
    */
    result<embed_route> embed_support(provider_entry const& p, model_id const& id) const {
        auto const& o = p.cfg.options;
        auto const& wire = p.cfg.wire;
        if (wire == "anthropic")
            return failure(error::unsupported,
                           "provider '" + id.provider +
                               "' has no embeddings API (Anthropic offers no embedding model; "
                               "its documentation recommends Voyage AI)");
        if (wire != "openai" && wire != "gemini" && wire != "vertex" && wire != "bedrock")
            return failure(error::unsupported,
                           "embeddings over the " + wire + " wire format (provider '" +
                               id.provider + "') are not supported yet: use an OpenAI-compatible, "
                               "Gemini or Bedrock provider");
        bool none = id.provider == "deepseek";  // DeepSeek's API has chat only
        if (auto const* v = o.if_contains("embeddings"); v && v->is_bool()) none = !v->get_bool();
        if (none)
            return failure(error::unsupported,
                           "provider '" + id.provider + "' has no embeddings API");
        embed_route r;
        // The format's own limits first; the provider options below set others.
        bool hard_batch_limit = false;  // the model takes no more per call, whatever is asked
        if (wire == "bedrock") {
            // InvokeModel with the model's own body: Titan (one text a call) or Cohere (96).
            auto const family = detail::bedrock::embedding_family_of(id.model);
            if (!family)
                return failure(error::unsupported,
                               "model '" + id.str() +
                                   "' is not an embedding model llmux can call on Bedrock "
                                   "(Titan Text Embeddings amazon.titan-embed-text-*, Cohere "
                                   "Embed cohere.embed-*)");
            r.wire = embed_wire::bedrock;
            r.batch_limit = detail::bedrock::embedding_batch_limit(*family);
            r.max_input_tokens = detail::bedrock::embedding_max_input_tokens(*family);
            hard_batch_limit = true;
        } else if (wire == "gemini" || wire == "vertex") {
            // AI Studio's batchEmbedContents, or Vertex AI's predict; vectors as float arrays.
            auto const* vertex_v = o.if_contains("vertex");
            bool const vertex =
                wire == "vertex" || (vertex_v && vertex_v->is_bool() && vertex_v->get_bool());
            r.wire = vertex ? embed_wire::vertex : embed_wire::gemini;
            r.batch_limit = vertex ? detail::gemini::vertex_batch_limit(id.model)
                                   : detail::gemini::embedding_batch_limit;
            r.max_input_tokens = 2048;  // Google's text-embedding and gemini-embedding models
        } else {
            bool const openai_itself = p.cfg.name == "openai" || p.cfg.name == "azure";
            // OpenAI's own API answers base64 exactly and in a third of the bytes; compatible
            // servers do not all know it, so they are asked for float arrays.
            r.enc = openai_itself ? detail::vector_encoding::base64
                                  : detail::vector_encoding::float32;
            if (openai_itself) r.max_input_tokens = 8192;
            if (auto const* v = o.if_contains("embedding_encoding"); v && v->is_string())
                r.enc = v->get_string() == "base64" ? detail::vector_encoding::base64
                                                     : detail::vector_encoding::float32;
        }
        auto positive = [&](char const* key) -> std::optional<std::uint64_t> {
            if (auto const* v = o.if_contains(key))
                if (auto n = detail::whole_number(*v); n && *n > 0)
                    return static_cast<std::uint64_t>(*n);
            return std::nullopt;
        };
        if (auto n = positive("max_embedding_inputs"))
            r.batch_limit = hard_batch_limit
                                ? std::min(r.batch_limit, static_cast<std::size_t>(*n))
                                : static_cast<std::size_t>(*n);
        if (auto n = positive("max_embedding_input_tokens")) r.max_input_tokens = *n;
        return r;
    }

    /// The most a call to `model` with a prompt of `size` may cost (see `client::max_cost`).
    std::optional<double> max_cost_of(std::string_view model, detail::prompt_size const& size,
                                      std::uint64_t max_tokens) const {
        auto const* m = models->find(model);
        usage most;
        most.input_tokens = size.highest;
        most.output_tokens = max_tokens                       ? max_tokens
                             : m && m->max_output_tokens ? *m->max_output_tokens
                                                         : cfg.default_max_output_tokens;
        return cost_of(model, most);
    }

    /** Refuses a call before anything is sent when it cannot fit the budget (reserving the
        most it may cost) or the model's context window. `est_tokens` receives the estimate
        to charge to the token bucket, `reserved` the budget reservation (released by the call
        tracker). The caller then waits for the provider's client-side rate limit and token,
        when it has them (`wait_to_send`).
    */
    result<void> admit(prepared const& prep, chat_request const& req, double& est_tokens,
                       double& reserved) {
        auto const size = detail::estimate_prompt(req);
        auto const max_out = static_cast<std::uint64_t>(std::max<std::int64_t>(req.max_tokens.value_or(0), 0));
        est_tokens = static_cast<double>(size.typical + max_out);
        auto const& model = prep.name;
        auto const* m = models->find(model);
        if (m && m->context_window && size.lowest + max_out > *m->context_window)
            return failure(error::context_length_exceeded,
                           "the prompt (" + std::to_string(size.bytes) + " bytes, at least " +
                               std::to_string(size.lowest) + " tokens) plus max_tokens " +
                               std::to_string(max_out) + " exceeds the context window of " +
                               model + " (" + std::to_string(*m->context_window) + " tokens)");
        return reserve_budget(model, [&] { return max_cost_of(model, size, max_out); }, reserved);
    }

    /** After `admit`: waits for the provider's client-side rate limit (charging
        `est_tokens`), then gets an access token (`authorize`). Callers first ask
        `waits_to_send`: most calls have neither, and skip this coroutine's frame (each frame
        is an allocation; issue 15).
    */
    asio::awaitable<result<void>> wait_to_send(prepared& prep, double est_tokens,
                                               clock::time_point deadline) {
        if (limiter.limited(prep.id.provider))
            if (auto r = co_await limiter.acquire(prep.id.provider, est_tokens, deadline); !r)
                co_return r;
        co_return co_await authorize(prep, deadline);
    }

    /// Whether `wait_to_send` has anything to do.
    bool waits_to_send(prepared const& prep) const {
        return limiter.limited(prep.id.provider) || needs_token(prep);
    }

    /** Under a budget, reserves `most()`, the most the call may cost, in `reserved` (refused
        when it does not fit, or when the model has no price: the budget could not be kept);
        without one, checks that spending is not stopped.
    */
    template <class Most>
    result<void> reserve_budget(std::string const& model, Most most, double& reserved) {
        if (!spend.has_budget()) return spend.check();
        auto const cost = most();
        if (!cost)
            return failure(error::unsupported,
                           "the model " + model + " has no known price, so the budget cannot be "
                           "kept (set unpriced_price to charge a price for models the catalog "
                           "does not price)");
        if (auto r = spend.reserve(*cost); !r) return r.error();
        reserved = *cost;
        return {};
    }

    /// Waits for a slot of the provider's adaptive concurrency limit, when it is on (callers
    /// ask `gates.enabled()` first, and skip the frame when it is off).
    asio::awaitable<result<void>> acquire_slot(prepared const& prep, clock::time_point deadline,
                                               bool& slot, clock::time_point& slot_at) {
        if (!gates.enabled()) co_return result<void>{};
        auto r = co_await gates.acquire(prep.id.provider, deadline);
        if (!r) co_return r;
        slot = true;
        slot_at = clock::now();
        co_return result<void>{};
    }

    /** After a 429/529 on a call holding a slot: gives the slot back as an overload (the
        limit is cut) and says whether the call may wait for another one and try again.
    */
    bool requeue(prepared const& prep, failure const& f, bool& slot, clock::time_point slot_at,
                 unsigned& requeues, clock::time_point deadline) {
        if (!slot || !requeue_for(f) || requeues >= cfg.concurrency.max_requeues ||
            clock::now() >= deadline)
            return false;
        slot = false;
        gates.release(prep.id.provider, detail::call_outcome::overload, slot_at, std::nullopt);
        gates.requeued(prep.id.provider);
        ++requeues;
        return true;
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
    /// The `provider/model` the call was sent to; empty until `sending`.
    std::string sent_to;
    double est_tokens = 0;
    /// False when the call settles its token estimates itself (an embedding call's batches).
    bool settles_tokens = true;
    /// The budget reservation of the call, released when it finishes.
    double reserved = 0;
    /// The call holds a slot of its provider's adaptive concurrency limit, since `slot_at`.
    bool slot = false;
    clock::time_point slot_at{};
    /// Times the call went back to the concurrency queue after a 429/529.
    unsigned requeues = 0;
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
        sent_to = prep.name;
        // Books exist only for models that answered, failed in a way that says something
        // about their health, or were pinned (see model_books): an id that a client made up
        // and the provider rejected leaves nothing behind.
        book = c->books.existing(sent_to);
        if (book) book->started();
    }

    /** Finishes with `r`; fills in the cost of a success. `billed`: for a failure, the usage
        the provider bills for what it did before (a stream that broke after its answer
        began); its cost goes into the failure and the spend. Returns `r`.
    */
    result<chat_response> finish(result<chat_response> r, prepared const* prep,
                                 usage const* billed = nullptr) {
        settle(r, prep, billed);
        return r;
    }

    /// `finish` in place (the answer is not moved in and out: it is a large value).
    void settle(result<chat_response>& r, prepared const* prep, usage const* billed = nullptr) {
        if (done) return;
        done = true;
        rec.latency = clock::now() - t0;
        if (r) {
            if (prep) redact(*r, client::impl::secrets_of(*prep).view());
            r->cost_usd = c->cost_of(r->requested_model, r->usage);
            if (!r->attempts.empty()) r->attempts.back().latency = r->latency;
            rec.usage = r->usage;
            rec.ttft = r->ttft;
            rec.cost_usd = r->cost_usd;
        } else {
            r = failed(r.error(), prep, billed);
        }
        close(r.has_value());
    }

    /// `finish` for an embedding call (its batches' usage joined): an embedding has no first
    /// token, so its latency stands for one in the model's measurements.
    result<embedding_response> finish_embed(result<embedding_response> r, prepared const* prep,
                                            usage const* billed = nullptr) {
        if (done) return r;
        done = true;
        rec.latency = clock::now() - t0;
        if (r) {
            r->latency = rec.latency;
            r->cost_usd = c->cost_of(r->requested_model, r->usage);
            rec.usage = r->usage;
            rec.ttft = rec.latency;
            rec.cost_usd = r->cost_usd;
        } else {
            r = failed(r.error(), prep, billed);
        }
        close(r.has_value());
        return r;
    }

private:
    /// A failed call's record: the failure named and redacted, with what was billed.
    failure failed(failure f, prepared const* prep, usage const* billed) {
        c->finish_failure(f, prep, rec.model);
        if (billed && !sent_to.empty()) {
            rec.usage = *billed;
            rec.cost_usd = c->cost_of(sent_to, *billed);
            f.diag.cost_usd = rec.cost_usd;
        }
        rec.error = f;
        return f;
    }

    /// What every finished call settles: the budget, the concurrency slot, the model's
    /// measurements and circuit, the spend, the token bucket; then the callbacks.
    void close(bool ok) {
        c->spend.release(reserved);
        if (slot) {
            slot = false;
            std::optional<std::chrono::nanoseconds> ttft;
            if (rec.stream && ok) ttft = rec.ttft;  // a whole answer's first byte is its end
            c->gates.release(rec.provider, outcome_of(rec.error), slot_at, ttft);
        }
        if (sent_to.empty()) {
            // Refused before sending (budget, limits): a probe the breaker admitted for it
            // must not hold the model's half-open circuit for ever.
            if (auto b = c->books.find(rec.model)) b->not_sent();
        } else {
            if (!book && (ok || detail::counts_against_health(*rec.error)))
                book = c->books.get(sent_to);
            if (book)
                book->finished(rec.error, rec.ttft, rec.latency, rec.usage, rec.cost_usd,
                               c->cfg.breaker, clock::now());
            c->spend.record(!ok, rec.usage, rec.cost_usd);
            if (ok && settles_tokens && rec.usage.known())
                c->limiter.settle(rec.provider, est_tokens,
                                  static_cast<double>(*rec.usage.input_tokens + *rec.usage.output_tokens));
        }
        c->notify(rec);
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

namespace {
/// Adds the adaptive concurrency of the model's provider to its metrics.
void add_concurrency(model_metrics& m, detail::concurrency_gates const& gates) {
    if (!gates.enabled()) return;
    auto const slash = m.model.find('/');
    if (slash == std::string::npos) return;
    if (auto g = gates.snapshot(std::string_view(m.model).substr(0, slash))) {
        m.concurrency_limit = g->limit;
        m.queued = g->queued;
    }
}
}  // namespace

std::vector<model_metrics> client::metrics() const {
    std::vector<model_metrics> out;
    auto const now = clock::now();
    for (auto const& b : impl_->books.all()) {
        out.push_back(b->snapshot(impl_->cfg.breaker, now));
        add_concurrency(out.back(), impl_->gates);
    }
    return out;
}

std::optional<model_metrics> client::metrics(std::string_view model) const {
    auto b = impl_->books.find(model);
    if (!b) return std::nullopt;
    auto m = b->snapshot(impl_->cfg.breaker, clock::now());
    add_concurrency(m, impl_->gates);
    return m;
}

std::vector<provider_concurrency> client::concurrency() const {
    std::vector<provider_concurrency> out;
    for (auto const& g : impl_->gates.snapshot())
        out.push_back({g.provider, g.limit, g.in_flight, g.queued, g.cuts, g.requeued});
    return out;
}

bool client::continues_prefill(std::string_view model, chat_request const& req) const {
    auto id = model_id::parse(model);
    if (!id) return false;
    auto p = impl_->find_provider(*id);
    if (!p) return false;
    return detail::wire_for_model((*p)->cfg, *(*p)->wire, id->model).continues_prefill(id->model, req);
}

model_estimate client::estimate(std::string_view model) const {
    auto b = impl_->books.find(model);
    if (!b) return {};
    return b->estimate(impl_->cfg.breaker, clock::now());
}

bool client::admit(std::string_view model) {
    // A model without a book has no circuit to open.
    auto b = impl_->books.existing(model);
    return !b || b->admit(impl_->cfg.breaker, clock::now());
}

std::optional<double> client::cost(std::string_view model, usage const& u) const {
    return impl_->cost_of(model, u);
}

std::optional<double> client::max_cost(chat_request const& req, std::string_view model) const {
    auto const max_out =
        static_cast<std::uint64_t>(std::max<std::int64_t>(req.max_tokens.value_or(0), 0));
    return impl_->max_cost_of(model.empty() ? req.model : model, detail::estimate_prompt(req),
                              max_out);
}

std::optional<double> client::max_cost(embedding_request const& req, std::string_view model) const {
    usage most;
    most.input_tokens = detail::estimate_inputs(req.inputs).highest;
    most.output_tokens = 0;
    return impl_->cost_of(model.empty() ? std::string_view(req.model) : model, most);
}

result<void> client::check_embed(std::string_view model) const {
    auto id = model_id::parse(model);
    if (!id) return id.error();
    auto p = impl_->find_provider(*id);
    if (!p) return p.error();
    if (auto r = impl_->embed_support(**p, *id); !r) return r.error();
    return {};
}

model_health client::health(std::string_view model) const {
    auto b = impl_->books.find(model);
    if (!b) return {};
    return b->health(impl_->cfg.breaker, clock::now(), std::chrono::system_clock::now());
}

void client::merge_health(std::string_view model, model_health const& shared) {
    auto b = impl_->books.get(std::string(model));
    b->merge(shared, clock::now(), std::chrono::system_clock::now());
}

void client::track(std::string_view model) {
    impl_->books.pin(std::string(model));
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

/// `client::chat` itself (`entry`), and its work in a coroutine thread of its own.
asio::awaitable<result<chat_response>> chat_impl(std::shared_ptr<client::impl> self,
                                                 chat_request req, std::uint32_t attempt_no,
                                                 bool entry) {
    if (entry) {
        // `client::chat`'s own choice: the call runs in a coroutine thread of its own, for
        // llmux's coroutines turn `throw_if_cancelled` off and that flag belongs to a whole
        // coroutine thread. A caller on the client's executor whose flag is already off (the
        // gateway, llmux's own combinators) runs it inline, in this frame (detail::runs_inline):
        // no frame around it that would move the answer twice more on its way out.
        asio::any_io_executor const here = co_await asio::this_coro::executor;
        bool const throws = co_await asio::this_coro::throw_if_cancelled();
        if (!detail::runs_inline(here, throws, self->ex)) {
            try {
                auto ex = self->ex;
                co_return co_await detail::spawn_on(
                    std::move(ex), chat_impl(std::move(self), std::move(req), attempt_no, false));
            } catch (boost::system::system_error const& e) {
                // The calling coroutine was cancelled before the call could start.
                co_return failure(e.code(), "cancelled before the call started");
            }
        }
    }
    co_await asio::this_coro::throw_if_cancelled(false);
    in_flight_guard guard(self->in_flight);
    call_tracker track(self, req.model, attempt_no, false);
    auto const deadline = track.t0 + self->cfg.timeouts.total;

    auto prep = self->prepare(req, false);
    if (!prep) co_return track.finish(prep.error(), nullptr);
    auto const& p = *prep->p;
    auto const& wire = *prep->wire;
    if (auto b = self->admit(*prep, req, track.est_tokens, track.reserved); !b)
        co_return track.finish(b.error(), &*prep);
    if (self->waits_to_send(*prep))
        if (auto w = co_await self->wait_to_send(*prep, track.est_tokens, deadline); !w)
            co_return track.finish(w.error(), &*prep);

    std::optional<detail::http_response> resp;
    for (;;) {
        if (self->gates.enabled())
            if (auto s = co_await self->acquire_slot(*prep, deadline, track.slot, track.slot_at);
                !s)
                co_return track.finish(s.error(), &*prep);
        if (!resp) track.sending(*prep);  // once, when it is first sent
        auto got = co_await self->tr->request(p.org, prep->req, deadline);
        if (!got) co_return track.finish(transport_failure(got.error()), &*prep);
        resp.emplace(std::move(*got));
        if (resp->head.status >= 200 && resp->head.status <= 299) break;
        auto f = wire.decode_error(resp->head, resp->body);
        // The provider is at capacity: the limit is cut and the call waits for a slot again,
        // so the refusal that taught the limiter does not reach the caller.
        if (self->requeue(*prep, f, track.slot, track.slot_at, track.requeues, deadline))
            continue;
        co_return track.finish(std::move(f), &*prep);
    }
    auto const& head = resp->head;
    auto out = wire.decode(head, resp->body);
    if (!out) {
        auto f = out.error();
        if (f.diag.http_status == 0) f.diag.http_status = head.status;
        co_return track.finish(std::move(f), &*prep);
    }
    auto const now = clock::now();
    out->provider = prep->id.provider;
    out->requested_model = prep->name;
    if (out->model.empty()) out->model = prep->id.model;
    out->latency = now - track.t0;
    out->ttft = resp->first_byte - track.t0;
    out->attempts.push_back(attempt{out->requested_model, std::nullopt, out->latency});
    track.settle(out, &*prep);
    co_return std::move(out);
}

}  // namespace

asio::awaitable<result<chat_response>> client::chat(chat_request req) {
    return chat_impl(impl_, std::move(req), attempt_context{}.attempt, true);  // (a move less)
}

asio::awaitable<result<chat_response>> client::chat(chat_request req, attempt_context ctx) {
    return chat_impl(impl_, std::move(req), ctx.attempt, true);
}

// ---------------------------------------------------------------------------------------------
// Embeddings

namespace {

/// Batches of one `embed` call run by a few workers, so that a huge list does not open
/// hundreds of connections at once.
constexpr std::size_t max_concurrent_batches = 8;

struct embed_state {
    std::shared_ptr<client::impl> c;
    embedding_request req;
    provider_entry const* p = nullptr;
    model_id id;
    embed_route route;
    clock::time_point deadline{};
    std::size_t batches = 0;
    std::vector<std::optional<result<embedding_response>>> results;
    std::atomic<std::size_t> next{0};
};

/// @name One batch in the provider's embeddings format
/// @{
result<detail::http_request> encode_batch(embed_state const& st, std::size_t first,
                                          std::size_t count) {
    switch (st.route.wire) {
    case embed_wire::openai:
        return detail::openai::encode_embedding_request(st.req, st.id.model, st.route.enc, first,
                                                        count);
    case embed_wire::bedrock:
        return detail::bedrock::encode_embedding_request(st.req, st.id.model, first, count);
    case embed_wire::gemini:
    case embed_wire::vertex: break;
    }
    return detail::gemini::encode_embedding_request(st.req, st.id.model,
                                                    st.route.wire == embed_wire::vertex, first,
                                                    count);
}

failure decode_batch_error(embed_wire wire, detail::response_head const& head,
                           std::string_view body) {
    switch (wire) {
    case embed_wire::openai: return detail::openai::decode_embedding_error(head, body);
    case embed_wire::bedrock: return detail::bedrock::decode_embedding_error(head, body);
    case embed_wire::gemini:
    case embed_wire::vertex: break;
    }
    return detail::gemini::decode_embedding_error(head, body);
}

result<embedding_response> decode_batch(embed_state const& st, detail::response_head const& head,
                                        std::string_view body, std::size_t count) {
    switch (st.route.wire) {
    case embed_wire::openai: return detail::openai::decode_embedding_response(head, body, count);
    case embed_wire::bedrock:
        return detail::bedrock::decode_embedding_response(head, body, count, st.id.model);
    case embed_wire::gemini:
    case embed_wire::vertex: break;
    }
    return detail::gemini::decode_embedding_response(head, body, count,
                                                     st.route.wire == embed_wire::vertex);
}
/// @}

/// One batch: inputs [first, first + count) in one HTTP request, as `chat` sends one.
asio::awaitable<result<embedding_response>> embed_batch(std::shared_ptr<embed_state> st,
                                                        std::size_t first, std::size_t count) {
    auto& self = *st->c;
    auto const& p = *st->p;
    auto const wire = st->route.wire;
    auto enc = encode_batch(*st, first, count);
    if (!enc) co_return enc.error();
    header_list const no_headers;
    auto hr = self.finish_http(p, st->id, std::move(*enc), no_headers);
    if (!hr) co_return hr.error();
    prepared prep{&p, p.wire, st->id, std::move(*hr), st->id.str()};
    if (client::impl::needs_token(prep))
        if (auto a = co_await self.authorize(prep, st->deadline); !a) co_return a.error();
    double est = 0;
    if (self.limiter.limited(st->id.provider)) {
        est = static_cast<double>(
            detail::estimate_inputs(std::span(st->req.inputs).subspan(first, count)).typical);
        if (auto l = co_await self.limiter.acquire(st->id.provider, est, st->deadline); !l)
            co_return l.error();
    }
    auto got = co_await self.tr->request(p.org, prep.req, st->deadline);
    if (!got) co_return transport_failure(got.error());
    auto const& resp = *got;
    if (resp.head.status < 200 || resp.head.status > 299)
        co_return decode_batch_error(wire, resp.head, resp.body);
    auto out = decode_batch(*st, resp.head, resp.body, count);
    if (out && est > 0 && out->usage.input_tokens)
        self.limiter.settle(st->id.provider, est, static_cast<double>(*out->usage.input_tokens));
    co_return out;
}

asio::awaitable<void> embed_worker(std::shared_ptr<embed_state> st) {
    auto const limit = st->route.batch_limit;
    for (;;) {
        auto const b = st->next.fetch_add(1);
        if (b >= st->batches) co_return;
        auto const first = b * limit;
        auto const count = std::min(limit, st->req.inputs.size() - first);
        st->results[b] = co_await embed_batch(st, first, count);
    }
}

/// The work of `client::embed`, in a coroutine thread of its own (as `chat_impl`).
asio::awaitable<result<embedding_response>> embed_impl(std::shared_ptr<client::impl> self,
                                                       embedding_request req) {
    co_await asio::this_coro::throw_if_cancelled(false);
    in_flight_guard guard(self->in_flight);
    call_tracker track(self, req.model, 0, false);
    track.settles_tokens = false;  // each batch settles its own estimate
    std::optional<prepared> who;   // the provider, for failures and redaction
    auto finish = [&](result<embedding_response> r, usage const* billed = nullptr) {
        return track.finish_embed(std::move(r), who ? &*who : nullptr, billed);
    };

    auto id = model_id::parse(req.model);
    if (!id) co_return finish(id.error());
    auto pe = self->find_provider(*id);
    if (!pe) co_return finish(pe.error());
    provider_entry const& p = **pe;
    track.rec.provider = id->provider;
    who.emplace(prepared{&p, p.wire, *id, nullptr, id->str()});
    auto route = self->embed_support(p, *id);
    if (!route) co_return finish(route.error());

    // Refused before anything is sent: no inputs, an empty one, one longer than the model takes.
    if (req.inputs.empty())
        co_return finish(failure(error::invalid_request,
                                 "inputs: the list of texts to embed is empty"));
    for (std::size_t i = 0; i < req.inputs.size(); ++i) {
        if (req.inputs[i].empty())
            co_return finish(failure(error::invalid_request,
                                     "inputs[" + std::to_string(i) + "]: the text to embed is empty"));
        if (route->max_input_tokens) {
            auto const size = detail::estimate_inputs(std::span(req.inputs).subspan(i, 1));
            if (size.lowest > route->max_input_tokens)
                co_return finish(failure(
                    error::context_length_exceeded,
                    "inputs[" + std::to_string(i) + "]: " + std::to_string(size.bytes) +
                        " bytes (at least " + std::to_string(size.lowest) +
                        " tokens) is longer than the " + std::to_string(route->max_input_tokens) +
                        " tokens " + id->str() + " takes per input"));
        }
    }
    auto const most = [&] {
        usage u;
        u.input_tokens = detail::estimate_inputs(req.inputs).highest;
        u.output_tokens = 0;
        return self->cost_of(id->str(), u);
    };
    if (auto r = self->reserve_budget(id->str(), most, track.reserved); !r)
        co_return finish(r.error());

    auto st = std::make_shared<embed_state>();
    st->c = self;
    st->p = &p;
    st->id = *id;
    st->route = *route;
    st->deadline = track.t0 + self->cfg.timeouts.total;
    st->batches = (req.inputs.size() + route->batch_limit - 1) / route->batch_limit;
    st->req = std::move(req);
    st->results.resize(st->batches);
    track.sending(*who);
    {
        auto ex = co_await asio::this_coro::executor;
        std::size_t const workers = std::min(st->batches, max_concurrent_batches);
        using op_type = decltype(asio::co_spawn(ex, embed_worker(st), asio::deferred));
        std::vector<op_type> ops;
        ops.reserve(workers);
        for (std::size_t i = 0; i < workers; ++i)
            ops.push_back(asio::co_spawn(ex, embed_worker(st), asio::deferred));
        (void)co_await asio::experimental::make_parallel_group(std::move(ops))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    }

    // Joined in input order. A failed batch fails the call; what the other batches were
    // billed is reported in the failure (`diag.cost_usd`).
    embedding_response out;
    out.vectors.reserve(st->req.inputs.size());
    out.provider = id->provider;
    out.requested_model = id->str();
    out.batches = st->batches;
    out.usage.input_tokens = 0;
    out.usage.output_tokens = 0;
    std::optional<failure> failed;
    for (auto& slot : st->results) {
        if (!slot) {
            if (!failed)
                failed.emplace(asio::error::operation_aborted, "cancelled before this batch started");
            continue;
        }
        auto& r = *slot;
        if (!r) {
            if (!failed) failed.emplace(r.error());
            continue;
        }
        if (out.model.empty()) out.model = std::move(r->model);
        if (out.request_id.empty()) out.request_id = std::move(r->request_id);
        if (out.usage.input_tokens && r->usage.input_tokens)
            out.usage.input_tokens = *out.usage.input_tokens + *r->usage.input_tokens;
        else
            out.usage.input_tokens = {};
        for (auto& v : r->vectors) out.vectors.push_back(std::move(v));
    }
    out.usage.total_tokens = out.usage.input_tokens;
    // A server that ignores the width asked for hands vectors that fit nothing else: an error,
    // with what it billed.
    if (!failed && st->req.dimensions)
        for (auto const& v : out.vectors)
            if (v.size() != *st->req.dimensions) {
                failed.emplace(error::protocol_error,
                               "the provider answered vectors of " + std::to_string(v.size()) +
                                   " values for dimensions " + std::to_string(*st->req.dimensions));
                break;
            }
    if (failed) {
        // Billed: the input tokens of the batches that succeeded, when every one reported them.
        bool const billed = !out.vectors.empty() && out.usage.input_tokens.has_value();
        co_return finish(std::move(*failed), billed ? &out.usage : nullptr);
    }
    if (out.model.empty()) out.model = id->model;
    co_return finish(std::move(out));
}

}  // namespace

asio::awaitable<result<embedding_response>> client::embed(embedding_request req) {
    auto self = impl_;
    try {
        co_return co_await detail::run_on(self->ex, embed_impl(self, std::move(req)));
    } catch (boost::system::system_error const& e) {
        co_return failure(e.code(), "cancelled before the call started");
    }
}

// ---------------------------------------------------------------------------------------------
// Streams

namespace {

/// A plain streamed call: one request to one model.
class plain_stream final : public detail::stream_source {
public:
    std::shared_ptr<client::impl> c;
    chat_request req;
    std::uint32_t attempt_no = 1;
    std::optional<call_tracker> track;  // from the first next()
    std::optional<prepared> prep;
    detail::body_stream body;
    std::unique_ptr<detail::stream_decoder> dec;
    std::vector<chat_chunk> pending;
    std::size_t next_pending = 0;
    bool opened = false;  // the first next() started the call
    bool to_send = false;  // the request is ready to be sent (again, after a 429 requeue)
    bool ended = false;   // the body is over (decoder finished)
    bool finished = false;
    bool content = false;
    std::size_t chunks = 0;
    std::optional<failure> deferred;  // a failure decoded after chunks that are delivered first
    clock::time_point t0{};
    clock::time_point deadline{};
    clock::time_point first_content{};
    chat_response resp;
    std::map<std::size_t, tool_call> calls;
    result<chat_response> final{failure(error::invalid_request, "the stream has not finished")};

    asio::awaitable<std::optional<chat_chunk>> next(std::shared_ptr<stream_source> self) override;
    std::optional<chat_chunk> try_next() override {
        if (finished || next_pending == pending.size()) return std::nullopt;
        return take_pending();
    }
    bool done() const noexcept override { return finished; }
    result<chat_response> const& response() const override { return final; }
    bool content_started() const noexcept override { return content; }
    bool ready() const noexcept override {
        return finished || next_pending < pending.size() || deferred || ended;
    }

    void close() override {
        if (finished) return;
        if (!opened) {
            finished = true;
            final = failure(asio::error::operation_aborted, "the stream was closed");
            return;
        }
        fail(failure(asio::error::operation_aborted, "the stream was closed by the caller"));
    }

    void dropped() override {
        // An abandoned stream is a cancelled call: close it and count it as such.
        if (!finished && opened)
            fail(failure(asio::error::operation_aborted, "the stream was dropped before its end"));
    }

    /// What a read of the body brought: bytes to decode, the end, or a failure.
    void took(result<std::string_view> const& bytes);

    /// The next decoded chunk, delivered (there must be one): moved once, straight into
    /// what the caller receives.
    std::optional<chat_chunk> take_pending() {
        auto& pc = pending[next_pending++];
        if (pc.has_content() && !content) {
            content = true;
            first_content = clock::now();
        }
        ++chunks;
        absorb(pc);
        std::optional<chat_chunk> ch(std::in_place, std::move(pc));
        if (next_pending == pending.size()) {
            pending.clear();
            next_pending = 0;
        }
        return ch;
    }

    void absorb(chat_chunk const& ch) {
        // Room for a typical answer at once, rather than growing 15, 30, 60, 120...
        if (!ch.text.empty() && resp.content.empty()) resp.content.reserve(256);
        resp.content += ch.text;
        resp.reasoning += ch.reasoning;
        resp.reasoning_parts.insert(resp.reasoning_parts.end(), ch.reasoning_parts.begin(),
                                    ch.reasoning_parts.end());
        for (auto const& d : ch.tool_calls) {
            auto& tc = calls[d.index];
            if (!d.id.empty()) tc.id = d.id;
            if (!d.name.empty()) tc.name = d.name;
            if (!d.signature.empty()) tc.signature = d.signature;
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

    /** What the provider bills for a stream that ends early: nothing if its answer never
        began; else the usage it reported so far, with the prompt (estimated) and the tokens
        received (estimated from their bytes) where it reported none.
    */
    std::optional<usage> billed_so_far() const {
        if (!dec || (chunks == 0 && !resp.usage.input_tokens)) return std::nullopt;
        usage u = resp.usage;
        if (!u.input_tokens) u.input_tokens = detail::estimate_prompt(req).typical;
        std::size_t bytes = resp.content.size() + resp.reasoning.size();
        for (auto const& [i, tc] : calls) bytes += tc.name.size() + tc.arguments.size();
        std::uint64_t const received = (bytes + 3) / 4;
        if (!u.output_tokens || *u.output_tokens < received) u.output_tokens = received;
        u.total_tokens = *u.input_tokens + *u.output_tokens;
        return u;
    }

    void fail(failure f) {
        body.close();
        auto const billed = billed_so_far();
        final = track ? track->finish(std::move(f), prep ? &*prep : nullptr,
                                      billed ? &*billed : nullptr)
                      : result<chat_response>(f);
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
        resp.requested_model = prep->name;
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

/// A stream that ended before it began (`chat_stream::failed`).
class failed_stream final : public detail::stream_source {
public:
    explicit failed_stream(failure f) : final(std::move(f)) {}
    asio::awaitable<std::optional<chat_chunk>> next(std::shared_ptr<stream_source>) override {
        co_return std::nullopt;
    }
    bool done() const noexcept override { return true; }
    result<chat_response> const& response() const override { return final; }
    bool content_started() const noexcept override { return false; }
    bool ready() const noexcept override { return true; }
    void close() override {}
    void dropped() override {}

private:
    result<chat_response> final;
};

/// Maps a transport failure in the middle of a stream: once the answer has started, a broken
/// connection means the answer is incomplete.
failure mid_stream_failure(failure f, std::size_t chunks) {
    auto const& ec = f.code;
    if (ec != asio::error::operation_aborted && ec.category() != category()) {
        std::string why = f.diag.message;
        f = failure(error::truncated,
                    "the stream broke after " + std::to_string(chunks) + " chunks: " + why);
    }
    return transport_failure(std::move(f));
}

void plain_stream::took(result<std::string_view> const& bytes) {
    if (!bytes) {
        deferred = mid_stream_failure(bytes.error(), chunks);
        return;
    }
    if (!bytes->empty()) {
        if (auto r = dec->feed(*bytes, pending); !r) {
            deferred = r.error();
            return;
        }
        // The read that brought the body's last bytes ends the stream too, so that ready()
        // says so with its last chunks (a relay sends them with the end, in one write).
        if (!body.done()) return;
    }
    if (auto r = dec->finish(pending); !r) deferred = r.error();
    ended = true;
}

asio::awaitable<void> read_error_body(std::shared_ptr<plain_stream> st);

/// One step of a stream, in a coroutine thread of its own: open it (on the client's executor)
/// or read and decode its next bytes (on its connection's strand).
asio::awaitable<void> stream_step(std::shared_ptr<plain_stream> st) {
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
        st->deadline = st->t0 + c.cfg.timeouts.total;
        if (auto b = c.admit(*st->prep, st->req, st->track->est_tokens, st->track->reserved);
            !b) {
            st->fail(b.error());
            co_return;
        }
        if (c.waits_to_send(*st->prep))
            if (auto w = co_await c.wait_to_send(*st->prep, st->track->est_tokens, st->deadline);
                !w) {
                st->fail(w.error());
                co_return;
            }
        st->to_send = true;
    }
    if (st->to_send) {
        st->to_send = false;
        auto& tr = *st->track;
        if (c.gates.enabled())
            if (auto s = co_await c.acquire_slot(*st->prep, st->deadline, tr.slot, tr.slot_at);
                !s) {
                st->fail(s.error());
                co_return;
            }
        if (tr.sent_to.empty()) tr.sending(*st->prep);  // once, when it is first sent
        auto b = co_await c.tr->open(st->prep->p->org, st->prep->req, st->deadline);
        if (!b) {
            st->fail(transport_failure(b.error()));
            co_return;
        }
        st->body = std::move(*b);
        auto const& head = st->body.head();
        if (head.status < 200 || head.status > 299) {
            co_await detail::run_on(st->body.strand(), read_error_body(st));
            co_return;
        }
        st->dec = st->prep->wire->make_stream_decoder();
        co_return;
    }
    auto const bytes = co_await st->body.read_some();
    st->took(bytes);
}

asio::awaitable<void> read_error_body(std::shared_ptr<plain_stream> st) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto body = co_await st->body.read_all(1u << 20);
    auto f = st->prep->wire->decode_error(st->body.head(), body ? *body : std::string());
    auto& tr = *st->track;
    if (st->c->requeue(*st->prep, f, tr.slot, tr.slot_at, tr.requeues, st->deadline)) {
        // Sent again once a slot is free (see client::impl::requeue).
        st->body = detail::body_stream{};
        st->to_send = true;
        co_return;
    }
    st->fail(std::move(f));
}

asio::awaitable<std::optional<chat_chunk>> plain_stream::next(std::shared_ptr<stream_source> self) {
    auto const st = std::static_pointer_cast<plain_stream>(std::move(self));
    for (;;) {
        if (st->finished) co_return std::nullopt;
        if (st->next_pending < st->pending.size()) co_return st->take_pending();
        if (st->deferred) {
            st->fail(std::move(*st->deferred));
            co_return std::nullopt;
        }
        if (st->ended) {
            st->succeed();
            co_return std::nullopt;
        }
        // The I/O runs in its own coroutine thread (see client::chat): opening and sending on
        // the client's executor, reading on the connection's strand; inline when the caller
        // is already there (detail::run_on).
        auto ex = st->opened && !st->to_send ? st->body.strand() : st->c->ex;
        // detail::run_on's choice, made here: this runs once per read, and run_on's own
        // coroutine frame would be one more allocation each time.
        asio::any_io_executor const here = co_await asio::this_coro::executor;
        bool const throws = co_await asio::this_coro::throw_if_cancelled();
        bool const inline_step = detail::runs_inline(here, throws, ex);
        try {
            if (inline_step && st->opened && !st->to_send) {
                // A read, the step of every chunk, without the step's frame either.
                auto const bytes = co_await st->body.read_some();
                st->took(bytes);
            } else if (inline_step) {
                co_await stream_step(st);
            } else {
                co_await detail::spawn_on(std::move(ex), stream_step(st));
            }
        } catch (boost::system::system_error const& e) {
            // The calling coroutine was cancelled before the step could start.
            st->fail(failure(e.code(), "the stream was cancelled"));
            co_return std::nullopt;
        }
    }
}

}  // namespace

chat_stream::chat_stream(std::shared_ptr<detail::stream_source> source) noexcept
    : st_(std::move(source)) {}
chat_stream::chat_stream(chat_stream&&) noexcept = default;
chat_stream& chat_stream::operator=(chat_stream&& o) noexcept {
    if (this != &o) {
        if (st_) st_->dropped();
        st_ = std::move(o.st_);
    }
    return *this;
}
chat_stream::~chat_stream() {
    if (st_) st_->dropped();
}

namespace {
asio::awaitable<std::optional<chat_chunk>> no_chunk() {
    co_return std::nullopt;
}
}  // namespace

asio::awaitable<std::optional<chat_chunk>> chat_stream::next() {
    // The source's step holds the source, alive even if this object moves or goes before
    // the step is awaited; no frame of its own here (one per chunk).
    if (!st_) return no_chunk();
    return st_->next(st_);
}

bool chat_stream::done() const noexcept { return !st_ || st_->done(); }
bool chat_stream::content_started() const noexcept { return st_ && st_->content_started(); }
bool chat_stream::ready() const noexcept { return !st_ || st_->ready(); }
std::optional<chat_chunk> chat_stream::try_next() {
    if (!st_) return std::nullopt;
    return st_->try_next();
}

result<chat_response> const& chat_stream::response() const {
    static result<chat_response> const empty{
        failure(error::invalid_request, "this stream was not started by a client")};
    return st_ ? st_->response() : empty;
}

void chat_stream::close() {
    if (st_) st_->close();
}

chat_stream chat_stream::failed(failure f) {
    return chat_stream(std::make_shared<failed_stream>(std::move(f)));
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

namespace {
chat_stream start_stream(std::shared_ptr<client::impl> c, chat_request&& req, std::uint32_t attempt) {
    auto st = std::make_shared<plain_stream>();
    st->c = std::move(c);
    st->req = std::move(req);
    st->pending.reserve(16);  // a read brings ~a dozen events: no regrowth, no chunk moves
    st->attempt_no = attempt;
    return chat_stream(std::move(st));
}
}  // namespace

chat_stream client::stream(chat_request req) {
    return start_stream(impl_, std::move(req), attempt_context{}.attempt);
}

chat_stream client::stream(chat_request req, attempt_context ctx) {
    return start_stream(impl_, std::move(req), ctx.attempt);
}

}  // namespace llmux
