// SPDX-License-Identifier: BSL-1.0
// The emulator: routes each request to a wire format's server side (the registry's endpoint
// table), checks its credentials, decodes it into a unified request, resolves its behaviour,
// plans the answer and plays it through the format's encoders with the scripted timing, errors
// and faults. The protocol text is the wire formats' own: the emulator holds behaviour only.
#include <llmux/emulator.hpp>

#include "util/crypto.hpp"
#include "util/json_read.hpp"
#include "auth/jwt.hpp"
#include "auth/sigv4.hpp"
#include "emulator/plan.hpp"
#include "util/lru.hpp"
#include "http/server.hpp"
#include "http/tls_cert.hpp"
#include "util/json_text.hpp"
#include "util/text.hpp"
#include "wire/formats.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <unordered_map>

namespace llmux {

namespace asio = boost::asio;

namespace {

using detail::api_error;
using detail::emu_answer;
using detail::emu_request;
using detail::id_kind;
using detail::server_exchange;
using detail::wire_server;
using clock = std::chrono::steady_clock;
using fault_kind = emulator_behaviour::fault_kind;
using error_code = boost::system::error_code;

/// A stalled response waits for the client (or stop()) at most this long, so even a stall
/// has a deadline; it is far beyond any client timeout a test would use.
constexpr auto stall_limit = std::chrono::hours(1);
/// Stream events produced without a delay between them are written together, up to this much.
constexpr std::size_t flush_bytes = 64u << 10;
/// The tag of the emulator's ids (`chatcmpl-emu-7`, `call_emu_7`, `req_emu_7`).
constexpr std::string_view emu_tag = "emu";
/// The `created` of listed models.
constexpr std::int64_t models_created = 1700000000;

std::uint64_t ms_since(clock::time_point t0) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t0).count());
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Time of token `i` (0-based) counted from the first token, at `tps` tokens per second.
duration token_offset(std::size_t i, double tps) {
    if (tps <= 0 || i == 0) return duration::zero();
    return std::chrono::duration_cast<duration>(
        std::chrono::duration<double>(static_cast<double>(i) / tps));
}

std::string format_url(char const* scheme, std::string const& host, std::uint16_t port) {
    boost::system::error_code ec;
    auto const addr = asio::ip::make_address(host, ec);
    std::string const h = (!ec && addr.is_v6()) ? "[" + host + "]" : host;
    return std::string(scheme) + "://" + h + ":" + std::to_string(port);
}

bool mid_stream_fault(fault_kind f) noexcept {
    return f == fault_kind::reset_mid_stream || f == fault_kind::truncate ||
           f == fault_kind::malformed_json || f == fault_kind::stall ||
           f == fault_kind::error_mid_stream;
}

/// True when the `SignedHeaders` list of a SigV4 `Authorization` value names `header`
/// (lower case, as SigV4 lists them).
bool signs_header(std::string_view authorization, std::string_view header) noexcept {
    constexpr std::string_view key = "SignedHeaders=";
    auto const p = authorization.find(key);
    if (p == std::string_view::npos) return false;
    std::string_view list = authorization.substr(p + key.size());
    list = list.substr(0, list.find_first_of(", "));
    while (!list.empty()) {
        auto const semi = list.find(';');
        if (list.substr(0, semi) == header) return true;
        if (semi == std::string_view::npos) break;
        list.remove_prefix(semi + 1);
    }
    return false;
}

/// Header lines a format writes, straight into the response head.
class exchange_headers final : public detail::header_sink {
public:
    explicit exchange_headers(server_exchange& x) noexcept : x_(x) {}
    void header(std::string_view name, std::string_view value) override {
        x_.add_header(name, value);
    }

private:
    server_exchange& x_;
};

finish_reason unified(detail::emu_finish f) noexcept {
    switch (f) {
    case detail::emu_finish::stop: return finish_reason::stop;
    case detail::emu_finish::length: return finish_reason::length;
    case detail::emu_finish::tool_calls: return finish_reason::tool_calls;
    }
    return finish_reason::stop;
}

/// A whole answer (a chat answer, vectors) as a format writes it.
class whole_writer {
public:
    /// Headers every answer of the provider carries.
    virtual void add_headers(server_exchange& x, std::uint64_t processing_ms) = 0;
    virtual std::string_view content_type() const = 0;
    /// The whole answer, a JSON object, appended to `out`.
    virtual void whole(std::string& out) = 0;

protected:
    ~whole_writer() = default;
};

/** An answer written by a wire format's server side: the whole answer as a `chat_response`,
    a stream as one `chat_chunk` per token piece. One chunk object serves the whole stream, so
    its buffers are reused and no event allocates.
*/
class wire_answer final : public whole_writer {
public:
    wire_answer(wire_server const& s, emu_answer const& a)
        : s_(s), a_(a), id_(s.make_id(id_kind::response, emu_tag, a.number)),
          request_id_(s.make_id(id_kind::request, emu_tag, a.number)) {
        meta_.id = id_;
        meta_.created = a.created;
        meta_.model = a.model;
        meta_.request_id = request_id_;
        meta_.input_tokens = a.prompt_tokens;
        if (a.tool_call) call_id_ = s.make_id(id_kind::tool_call, emu_tag, a.number);
    }

    void add_headers(server_exchange& x, std::uint64_t processing_ms) override {
        meta_.processing_ms = processing_ms;
        exchange_headers h(x);
        s_.response_headers(meta_, h);
    }

    std::string_view content_type() const override { return s_.content_type(); }

    void whole(std::string& out) override {
        chat_response r = ending();
        if (auto part = reasoning()) {
            r.reasoning = part->text;
            r.reasoning_parts.push_back(std::move(*part));
        }
        if (a_.tool_call)
            r.tool_calls.push_back(
                {call_id_, a_.tool_name, std::string(a_.sent_text()), a_.call_signature});
        else
            r.content = a_.sent_text();
        s_.encode_response(r, meta_, out);
    }

    std::string_view stream_content_type() const { return s_.stream_content_type(); }

    void stream_begin(std::string& out) {
        enc_ = s_.make_stream_encoder(meta_, a_.include_usage);
        if (auto part = reasoning()) {
            // The reasoning first: its text (when shown), then the whole part with its
            // signature, as the providers end a thinking block.
            if (!part->text.empty()) {
                chunk_.reasoning = part->text;
                enc_->chunk(chunk_, out);
                chunk_.reasoning.clear();
            }
            chunk_.reasoning_parts.push_back(std::move(*part));
            enc_->chunk(chunk_, out);
            chunk_.reasoning_parts.clear();
        }
        if (a_.tool_call) {
            // The call's header (id, name, empty arguments); its arguments follow in pieces.
            auto& d = chunk_.tool_calls.emplace_back();
            d.id = call_id_;
            d.name = a_.tool_name;
            d.signature = a_.call_signature;
            enc_->chunk(chunk_, out);
            d.id.clear();
            d.name.clear();
            d.signature.clear();
        } else {
            enc_->chunk(chunk_, out);  // no content yet: the stream's opening events
        }
    }

    void stream_piece(std::size_t i, std::string& out) {
        if (a_.tool_call)
            chunk_.tool_calls.front().arguments.assign(a_.piece(i));
        else
            chunk_.text.assign(a_.piece(i));
        enc_->chunk(chunk_, out);
    }

    void stream_end(std::string& out) {
        auto const r = ending();
        enc_->finish(r, out);
    }

    void stream_error(std::string& out) {
        auto const e = s_.mid_stream_error(a_.model);
        enc_->error(e, out);
    }

    void stream_malformed(std::string& out) { enc_->malformed(out); }

private:
    /// The reasoning part the answer carries, if the model reasoned and its family returns one
    /// (Gemini's signature rides on the function call; without one, nothing goes back).
    std::optional<reasoning_part> reasoning() const {
        if (a_.reasoning.empty()) return std::nullopt;
        if (a_.family == "google" && !a_.show_reasoning) return std::nullopt;
        reasoning_part p;
        p.origin = std::string(a_.family);
        if (a_.show_reasoning) p.text = a_.reasoning;
        if (a_.family == "openai") {
            p.type = reasoning_part::kind::summary;
            p.id = "rs_emu_" + std::to_string(a_.number);
        }
        // DeepSeek's reasoning has no signature; Gemini's is on the call.
        if (a_.family != "deepseek" && a_.family != "google")
            p.signature = a_.show_reasoning ? a_.reasoning_signature
                                            : detail::emu_signature(a_.family, "");
        return p;
    }

    /// The answer without its content: finish reason and usage.
    chat_response ending() const {
        chat_response r;
        r.finish_reason = unified(a_.finish);
        r.usage.input_tokens = a_.prompt_tokens;
        r.usage.output_tokens = a_.completion_tokens;
        r.usage.total_tokens = a_.prompt_tokens + a_.completion_tokens;
        r.usage.cached_input_tokens = a_.cache_read_tokens;
        // Writes are reported for requests with breakpoints (unknown otherwise, as OpenAI's
        // usage has no such count).
        if (a_.cache_marked) r.usage.cache_write_tokens = a_.cache_write_tokens;
        r.usage.reasoning_tokens = a_.reasoning_tokens;
        // The emulator does not time the model it pretends to run: a deterministic figure that
        // grows with the answer, like a real one (Bedrock's metrics.latencyMs).
        r.latency = std::chrono::milliseconds(20 + 5 * a_.completion_tokens);
        return r;
    }

    wire_server const& s_;
    emu_answer const& a_;
    std::string id_;
    std::string request_id_;
    std::string call_id_;
    detail::answer_meta meta_;
    std::unique_ptr<detail::stream_encoder> enc_;
    chat_chunk chunk_;
};

/// An embedding answer written by a wire format's server side. Embeddings are never streamed:
/// only the whole answer is written.
class embedding_answer final : public whole_writer {
public:
    embedding_answer(wire_server const& s, embedding_response const& r, std::string_view model,
                     std::span<std::string const> inputs, detail::embedding_form form,
                     std::uint64_t n)
        : s_(s), r_(r), model_(model), inputs_(inputs), form_(form),
          request_id_(s.make_id(id_kind::request, emu_tag, n)) {}

    void add_headers(server_exchange& x, std::uint64_t processing_ms) override {
        detail::answer_meta m;
        m.request_id = request_id_;
        m.model = model_;
        m.processing_ms = processing_ms;
        m.input_tokens = r_.usage.input_tokens;  // Bedrock's InvokeModel says them in a header
        exchange_headers h(x);
        s_.response_headers(m, h);
    }
    std::string_view content_type() const override { return s_.content_type(); }
    void whole(std::string& out) override {
        // The emulator's vectors are finite and one per input, so every form can hold them.
        (void)s_.encode_embedding_response(r_, {model_, request_id_, inputs_}, form_, out);
    }

private:
    wire_server const& s_;
    embedding_response const& r_;
    std::string_view model_;
    std::span<std::string const> inputs_;
    detail::embedding_form form_;
    std::string request_id_;
};

}  // namespace

struct emulator::impl {
    asio::any_io_executor ex;
    emulator_config cfg;
    /// The endpoints of every registered format, reached at any base path.
    std::optional<detail::endpoint_table> table;
    std::vector<std::string> model_names;
    std::unique_ptr<detail::http_server> server;
    std::string url;
    std::string tls_url;
    std::string ca_pem;
    std::string ca_file;
    bool started = false;

    std::atomic<std::uint64_t> request_number{0};
    std::atomic<std::uint64_t> errors_sent{0};
    std::atomic<std::uint64_t> faults_injected{0};
    std::atomic<std::uint64_t> tokens_issued{0};
    std::atomic<std::uint64_t> concurrency_refusals{0};
    std::atomic<std::uint64_t> peak_concurrency{0};

    // Access tokens issued by the OAuth endpoint, with their expiry.
    std::mutex tokens_mutex;
    std::unordered_map<std::string, std::chrono::system_clock::time_point> tokens;

    // Requests seen per model (as sent, directives included) that carry a failure directive:
    // fail_first and error_rate count these.
    std::mutex counts_mutex;
    std::unordered_map<std::string, std::uint64_t> counts;

    impl(asio::any_io_executor e, emulator_config c) : ex(std::move(e)), cfg(std::move(c)) {
        table.emplace(detail::wire_servers(), true);
        for (auto const& [name, b] : cfg.scripts)
            model_names.push_back(name);
    }

    /// The secret of AWS access key id `akid`, when the emulator knows it (SigV4 checks).
    std::optional<std::string> aws_secret(std::string_view akid) const {
        auto it = cfg.aws_credentials.find(akid);
        if (it == cfg.aws_credentials.end()) return std::nullopt;
        return it->second;
    }

    /// True when `token` is a Bearer token the emulator accepts: one its OAuth endpoint issued
    /// and that has not expired, or one of `emulator_config::access_tokens`.
    bool bearer_token_ok(std::string_view token) {
        if (std::find(cfg.access_tokens.begin(), cfg.access_tokens.end(), token) !=
            cfg.access_tokens.end())
            return true;
        std::lock_guard lock(tokens_mutex);
        auto it = tokens.find(std::string(token));
        return it != tokens.end() && it->second > std::chrono::system_clock::now();
    }

    /// Google's OAuth token endpoint for service-account JWTs (PROVIDERS.md 5.2).
    asio::awaitable<void> oauth_token(server_exchange& x, std::uint64_t n, clock::time_point t0);

    std::uint64_t next_count(std::string const& model) {
        std::lock_guard lock(counts_mutex);
        return counts[model]++;
    }

    // Prompt prefixes cached by breakpoints (`emu_request::cache_prefix_key`): bounded, the
    // oldest forgotten first.
    std::mutex cache_mutex;
    detail::bounded_lru<bool> prompt_cache{4096};

    /// Whether the prefix was cached before (a read); caches it now (a write) otherwise.
    bool prompt_cached(std::string const& key) {
        std::lock_guard lock(cache_mutex);
        if (prompt_cache.get(key)) return true;
        prompt_cache.put(key, true);
        return false;
    }

    // Requests in progress per model with a max_concurrency (entries go when they reach 0).
    std::mutex active_mutex;
    std::unordered_map<std::string, std::uint64_t> active;

    /// One request in progress for `max_concurrency`: `count` includes it.
    struct active_guard {
        impl* self;
        std::string model;
        std::uint64_t count;
        active_guard(impl* s, std::string m) : self(s), model(std::move(m)) {
            std::lock_guard lock(self->active_mutex);
            count = ++self->active[model];
        }
        ~active_guard() {
            std::lock_guard lock(self->active_mutex);
            if (auto it = self->active.find(model); it != self->active.end() && --it->second == 0)
                self->active.erase(it);
        }
        active_guard(active_guard const&) = delete;
        active_guard& operator=(active_guard const&) = delete;
    };

    /// The server's handler; holds the emulator alive while a request is answered.
    static asio::awaitable<void> serve(std::shared_ptr<impl> self, server_exchange& x);
    asio::awaitable<void> handle(server_exchange& x);
    /// The error to answer when the request's credential is missing or not accepted.
    std::optional<api_error> check_credential(wire_server const& s, detail::server_request const& req);
    asio::awaitable<void> serve_endpoint(server_exchange& x, detail::endpoint_match const& m,
                                         std::uint64_t n, clock::time_point t0);
    /// What `admit` decided for a request that goes on to its answer.
    struct admitted {
        emulator_behaviour b;
        fault_kind fault = fault_kind::none;
    };
    /** Behaviour and failures, the same for every format and operation: resolves the
        behaviour, refuses over `max_concurrency` (holding `in_progress` otherwise), waits the
        latency, answers a scripted error or resets; nothing when the request was answered.
    */
    asio::awaitable<std::optional<admitted>> admit(server_exchange& x, wire_server const& f,
                                                   std::string const& model, std::uint64_t n,
                                                   clock::time_point t0,
                                                   std::optional<active_guard>& in_progress);
    /// An embeddings request (`operation::embed`): deterministic vectors.
    asio::awaitable<void> serve_embed(server_exchange& x, detail::endpoint_match const& m,
                                      std::uint64_t n, clock::time_point t0);
    /// Behaviour, failures, plan and answer: the same for every format.
    asio::awaitable<void> play(server_exchange& x, wire_server const& f, emu_request const& r,
                               std::uint64_t n, clock::time_point t0);
    asio::awaitable<void> answer_whole(server_exchange& x, wire_server const& f, whole_writer& w,
                                       emu_answer& a, emulator_behaviour const& b,
                                       fault_kind fault, clock::time_point t0);
    asio::awaitable<void> answer_stream(server_exchange& x, wire_answer& w, emu_answer& a,
                                        emulator_behaviour const& b, fault_kind fault,
                                        clock::time_point t0);
    asio::awaitable<void> send_ok(server_exchange& x, wire_server const& s,
                                  std::string const& body, std::uint64_t n, clock::time_point t0);
    asio::awaitable<void> send_error(server_exchange& x, wire_server const& f, api_error const& e,
                                     std::uint64_t n, clock::time_point t0);
};

namespace {

/// The head of an answer to request `n` in format `s`: status, content type and the headers
/// every answer of the provider carries (its request id, the time spent).
void answer_head(server_exchange& x, wire_server const& s, unsigned status,
                 std::string_view content_type, std::uint64_t n, clock::time_point t0) {
    x.set_status(status);
    x.add_header("Content-Type", content_type);
    std::string const request_id = s.make_id(id_kind::request, emu_tag, n);
    detail::answer_meta m;
    m.request_id = request_id;
    m.processing_ms = ms_since(t0);
    exchange_headers h(x);
    s.response_headers(m, h);
}

}  // namespace

asio::awaitable<void> emulator::impl::send_ok(server_exchange& x, wire_server const& s,
                                              std::string const& body, std::uint64_t n,
                                              clock::time_point t0) {
    answer_head(x, s, 200, s.content_type(), n, t0);
    co_await x.send(body);
}

asio::awaitable<void> emulator::impl::send_error(server_exchange& x, wire_server const& f,
                                                 api_error const& e, std::uint64_t n,
                                                 clock::time_point t0) {
    errors_sent.fetch_add(1, std::memory_order_relaxed);
    auto const a = f.encode_error(e);
    answer_head(x, f, a.status, a.content_type, n, t0);
    for (auto const& [name, value] : a.headers)
        x.add_header(name, value);
    co_await x.send(a.body);
}

asio::awaitable<void> emulator::impl::handle(server_exchange& x) {
    auto const t0 = clock::now();
    auto& req = x.request();
    std::uint64_t const n = request_number.fetch_add(1, std::memory_order_relaxed) + 1;
    std::string_view const target(req.target().data(), req.target().size());
    std::string_view const path = target.substr(0, target.find('?'));
    std::string_view const method(req.method_string().data(), req.method_string().size());

    if (req.method() == boost::beast::http::verb::post && path.ends_with("/token")) {
        co_await oauth_token(x, n, t0);
        co_return;
    }
    if (auto m = table->find(method, path)) {
        co_await serve_endpoint(x, *m, n, t0);
        co_return;
    }
    // Unknown paths answer in the first format's shape (OpenAI's), as most clients are.
    auto const& first = *detail::wire_servers().front();
    auto const e = first.unknown_endpoint(method, target);
    co_await send_error(x, first, e, n, t0);
}

std::optional<api_error> emulator::impl::check_credential(wire_server const& s,
                                                         detail::server_request const& req) {
    auto const head = detail::head_of(req);
    auto const c = s.presented_credential(head);
    switch (c.how) {
    case detail::credential::kind::none:
        return s.auth_error_for(head, true, {}, {});
    case detail::credential::kind::api_key:
        return std::nullopt;  // the emulator cannot know real keys: any key will do
    case detail::credential::kind::access_token:
        if (bearer_token_ok(c.value)) return std::nullopt;
        return s.auth_error_for(head, false, {}, {});
    case detail::credential::kind::aws_sigv4: {
        std::vector<std::pair<std::string, std::string>> headers;
        for (auto const& f : req.fields()) headers.emplace_back(f.name, f.value);
        detail::sigv4_incoming_request in;
        in.method = head.method;
        in.target = std::string_view(req.target().data(), req.target().size());
        in.headers = headers;
        in.body = req.body();
        detail::sigv4_verify_options opt;
        opt.now = std::chrono::system_clock::now();
        opt.service = c.value;  // the service the scope must name; any region will do
        auto id = detail::sigv4_verify(
            in, [this](std::string_view akid) { return aws_secret(akid); }, opt);
        if (!id)
            return s.auth_error_for(head, false, id.error().diag.message,
                                   id.error().diag.error_type);
        // Any session token is accepted (the emulator keeps no STS sessions), but only a signed
        // one, as the AWS SDKs send it: an unsigned token could be swapped in transit.
        if (!id->session_token.empty() &&
            !signs_header(head.header("authorization"), "x-amz-security-token"))
            return s.auth_error_for(head, false,
                                "The request signature we calculated does not match the "
                                "signature you provided: X-Amz-Security-Token must be a signed "
                                "header.",
                                "InvalidSignatureException");
        return std::nullopt;
    }
    }
    return std::nullopt;
}

asio::awaitable<void> emulator::impl::serve_endpoint(server_exchange& x,
                                                     detail::endpoint_match const& m,
                                                     std::uint64_t n, clock::time_point t0) {
    auto const& s = *m.server;
    auto const& f = s;
    auto& req = x.request();
    if (cfg.require_auth) {
        if (auto e = check_credential(s, req)) {
            co_await send_error(x, f, *e, n, t0);
            co_return;
        }
    }
    std::string body;
    switch (m.ep->op) {
    case detail::operation::list_models:
        s.encode_models(model_names, models_created, body);
        co_await send_ok(x, s, body, n, t0);
        co_return;
    case detail::operation::get_model:
        s.encode_model(m.path_model, models_created, body);
        co_await send_ok(x, s, body, n, t0);
        co_return;
    case detail::operation::embed:
        co_await serve_embed(x, m, n, t0);
        co_return;
    case detail::operation::chat:
    case detail::operation::count_tokens:
        break;
    }
    auto head = detail::head_of(req);
    head.path_model = m.path_model;
    auto decoded = s.decode_request(head, req.body());
    if (!decoded) {
        auto const e = decoded.error();  // named: GCC 12 and temporaries in co_await
        co_await send_error(x, f, e, n, t0);
        co_return;
    }
    auto const& in = *decoded;
    if (m.ep->op == detail::operation::count_tokens) {
        s.encode_token_count(detail::prompt_tokens(detail::plan_input(in.req, false, false)),
                             body);
        co_await send_ok(x, s, body, n, t0);
        co_return;
    }
    if (auto fault = detail::check_reasoning(in.req, in.req.model)) {
        auto const e = s.reasoning_refused(*fault);  // named: GCC 12 and temporaries in co_await
        co_await send_error(x, f, e, n, t0);
        co_return;
    }
    auto const r = detail::plan_input(in.req, in.stream || m.ep->stream, in.include_usage);
    co_await play(x, f, r, n, t0);
}

namespace {

/// Decodes `application/x-www-form-urlencoded` value `v` (`+` is a space).
std::string form_decode(std::string_view v) {
    std::string plus_as_space(v);
    std::replace(plus_as_space.begin(), plus_as_space.end(), '+', ' ');
    return detail::percent_decode(plus_as_space);
}

std::string form_field(std::string_view body, std::string_view name) {
    while (!body.empty()) {
        auto const amp = body.find('&');
        auto const pair = body.substr(0, amp);
        auto const eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name)
            return form_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        body.remove_prefix(amp + 1);
    }
    return {};
}

}  // namespace

asio::awaitable<void> emulator::impl::oauth_token(server_exchange& x, std::uint64_t n,
                                                  clock::time_point t0) {
    (void)n;
    (void)t0;
    auto const& req = x.request();
    auto reply = [&](unsigned status, std::string body) -> asio::awaitable<void> {
        x.set_status(status);
        x.add_header("Content-Type", "application/json; charset=utf-8");
        x.add_header("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate");
        if (status != 200) errors_sent.fetch_add(1, std::memory_order_relaxed);
        co_await x.send(body);
    };
    auto invalid_grant = [](std::string why) {
        std::string body = R"({"error":"invalid_grant","error_description":)";
        detail::append_json_string(body, why);
        body += "}";
        return body;
    };
    std::string_view const form = req.body();
    if (form_field(form, "grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer") {
        co_await reply(400, R"({"error":"unsupported_grant_type","error_description":"Invalid grant_type."})");
        co_return;
    }
    std::string const jwt = form_field(form, "assertion");
    // The issuer names the key to verify with; read it before the signature is checked.
    auto const dot1 = jwt.find('.');
    auto const dot2 = dot1 == std::string::npos ? dot1 : jwt.find('.', dot1 + 1);
    std::optional<std::string> claims_text;
    if (dot2 != std::string::npos)
        claims_text = detail::base64url_decode(std::string_view(jwt).substr(dot1 + 1, dot2 - dot1 - 1));
    boost::system::error_code ec;
    auto const claims_doc = claims_text ? detail::parse_json(*claims_text, ec) : boost::json::value();
    if (!claims_text || ec || !claims_doc.is_object()) {
        co_await reply(400, invalid_grant("Invalid JWT: the assertion is not a JWT."));
        co_return;
    }
    auto const& claims = claims_doc.get_object();
    auto const* iss = claims.if_contains("iss");
    std::string const email = iss && iss->is_string() ? std::string(iss->get_string()) : "";
    auto const key = cfg.google_service_accounts.find(email);
    if (key == cfg.google_service_accounts.end()) {
        co_await reply(400, invalid_grant("Invalid JWT Signature."));
        co_return;
    }
    if (auto v = detail::verify_rs256(jwt, key->second); !v) {
        co_await reply(400, invalid_grant("Invalid JWT Signature."));
        co_return;
    }
    auto const now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto number = [&](char const* k) -> std::int64_t {
        auto const* v = claims.if_contains(k);
        if (v && v->is_int64()) return v->get_int64();
        if (v && v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
        return -1;
    };
    auto const iat = number("iat"), exp = number("exp");
    auto const* aud = claims.if_contains("aud");
    std::string_view const audience =
        aud && aud->is_string() ? std::string_view(aud->get_string()) : std::string_view();
    if (audience.size() < 6 || audience.substr(audience.size() - 6) != "/token") {
        co_await reply(400, invalid_grant("Invalid JWT: aud must be the token endpoint."));
        co_return;
    }
    if (iat < 0 || exp < 0 || exp <= now || iat > now + 300 || exp - iat > 3600) {
        co_await reply(400, invalid_grant("Invalid JWT: Token must be a short-lived token "
                                          "(60 minutes) and in a reasonable timeframe."));
        co_return;
    }
    std::string const token = "ya29.emu-" + detail::hex_encode(detail::random_bytes(16));
    auto const lifetime = std::chrono::duration_cast<std::chrono::seconds>(cfg.token_lifetime);
    {
        std::lock_guard lock(tokens_mutex);
        tokens[token] = std::chrono::system_clock::now() + lifetime;
    }
    tokens_issued.fetch_add(1, std::memory_order_relaxed);
    std::string body = R"({"access_token":")" + token + R"(","expires_in":)" +
                       std::to_string(lifetime.count()) + R"(,"token_type":"Bearer"})";
    co_await reply(200, std::move(body));
}

asio::awaitable<void> emulator::impl::serve_embed(server_exchange& x,
                                                  detail::endpoint_match const& m,
                                                  std::uint64_t n, clock::time_point t0) {
    auto const& s = *m.server;
    auto const& f = s;
    auto& req = x.request();
    auto head = detail::head_of(req);
    head.path_model = m.path_model;
    auto decoded = s.decode_embedding_request(head, req.body());
    if (!decoded) {
        auto const e = decoded.error();  // named: GCC 12 and temporaries in co_await
        co_await send_error(x, f, e, n, t0);
        co_return;
    }
    auto const& in = *decoded;
    std::string const model(detail::base_model(in.req.model));
    auto const dims = in.req.dimensions.value_or(detail::default_embedding_dimensions(model));
    // What one request may make the emulator compute is bounded.
    if (in.req.inputs.size() * dims > detail::max_embedding_values) {
        auto const e = detail::invalid_field(
            "input", "the emulator computes at most " +
                         std::to_string(detail::max_embedding_values) +
                         " values per request (inputs x dimensions)");
        co_await send_error(x, f, e, n, t0);
        co_return;
    }
    std::optional<active_guard> in_progress;
    auto ad = co_await admit(x, f, in.req.model, n, t0, in_progress);
    if (!ad) co_return;
    auto const r = detail::plan_embeddings(model, in.req.inputs, dims);
    emu_answer a;
    a.number = n;
    a.model = model;
    a.created = unix_now();
    embedding_answer w(s, r, a.model, in.req.inputs, in.form, n);
    co_await answer_whole(x, f, w, a, ad->b, ad->fault, t0);
}

asio::awaitable<std::optional<emulator::impl::admitted>>
emulator::impl::admit(server_exchange& x, wire_server const& f, std::string const& model,
                      std::uint64_t n,
                      clock::time_point t0, std::optional<active_guard>& in_progress) {
    auto& req = x.request();
    auto b = detail::resolve_behaviour(cfg, model, req["x-llmux-emulate"]);
    if (!b) {
        api_error const e{400, b.error().diag.message};
        co_await send_error(x, f, e, n, t0);
        co_return std::nullopt;
    }

    // Failure selection. Requests without any failure directive skip the shared counter.
    unsigned error_status = 0;
    fault_kind fault = fault_kind::none;
    if (b->error_status || b->fault != fault_kind::none || b->fail_first || b->error_rate > 0) {
        if (detail::selected_for_failure(*b, next_count(model))) {
            error_status = b->error_status;
            fault = b->fault;
            if (!error_status && fault == fault_kind::none) error_status = 500;
        }
    }

    // A provider over its concurrency refuses at once, before any work.
    if (b->max_concurrency) {
        in_progress.emplace(this, model);
        if (in_progress->count > b->max_concurrency) {
            concurrency_refusals.fetch_add(1, std::memory_order_relaxed);
            api_error e = f.error_for_status(429, detail::base_model(model));
            if (b->retry_after)
                e.retry_after = std::chrono::duration_cast<std::chrono::milliseconds>(*b->retry_after);
            co_await send_error(x, f, e, n, t0);
            co_return std::nullopt;
        }
        auto peak = peak_concurrency.load(std::memory_order_relaxed);
        while (in_progress->count > peak &&
               !peak_concurrency.compare_exchange_weak(peak, in_progress->count)) {
        }
    }

    if (b->jitter > 0) {
        auto const factor = detail::jitter_factor(b->jitter, n);
        auto scale = [factor](duration d) {
            return std::chrono::duration_cast<duration>(d * factor);
        };
        b->latency = scale(b->latency);
        b->ttft = scale(b->ttft);
    }
    if (b->latency > duration::zero() && co_await x.sleep_for(b->latency)) co_return std::nullopt;
    if (error_status) {
        api_error e = f.error_for_status(error_status, detail::base_model(model));
        if (b->retry_after)
            e.retry_after = std::chrono::duration_cast<std::chrono::milliseconds>(*b->retry_after);
        co_await send_error(x, f, e, n, t0);
        co_return std::nullopt;
    }
    if (fault == fault_kind::reset_before_headers) {
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        x.abort();
        co_return std::nullopt;
    }
    co_return admitted{std::move(*b), fault};
}

asio::awaitable<void> emulator::impl::play(server_exchange& x, wire_server const& f,
                                           emu_request const& r, std::uint64_t n,
                                           clock::time_point t0) {
    std::optional<active_guard> in_progress;
    auto ad = co_await admit(x, f, r.model, n, t0, in_progress);
    if (!ad) co_return;
    auto* const b = &ad->b;
    auto const fault = ad->fault;
    auto a = detail::plan_answer(r, *b, n, unix_now());
    if (!r.cache_prefix_key.empty()) {
        auto const tokens = std::min(r.cache_prefix_tokens, a.prompt_tokens);
        a.cache_marked = true;
        (prompt_cached(r.cache_prefix_key) ? a.cache_read_tokens : a.cache_write_tokens) = tokens;
    }
    wire_answer w(f, a);
    if (a.stream)
        co_await answer_stream(x, w, a, *b, fault, t0);
    else
        co_await answer_whole(x, f, w, a, *b, fault, t0);
}

asio::awaitable<void> emulator::impl::answer_whole(server_exchange& x, wire_server const& f,
                                                   whole_writer& w, emu_answer& a,
                                                   emulator_behaviour const& b, fault_kind fault,
                                                   clock::time_point t0) {
    if (fault == fault_kind::stall) {
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        co_await x.wait_for_disconnect(stall_limit);
        co_return;
    }
    // A whole answer arrives when its last token would have: ttft, then the pacing.
    auto const gen =
        b.ttft + token_offset(a.piece_count() ? a.piece_count() - 1 : 0, b.tokens_per_second);
    if (gen > duration::zero() && co_await x.sleep_for(gen)) co_return;

    if (fault == fault_kind::error_mid_stream) {
        // Nothing can fail "mid-stream" without a stream: the closest is a failed generation.
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        auto const e = f.error_for_status(500, a.model);
        co_await send_error(x, f, e, a.number, t0);
        co_return;
    }
    std::string body;
    body.reserve(1024);
    if (fault == fault_kind::malformed_json) {
        // A member without a value right after the opening brace: the shape of an answer, but
        // no JSON parser accepts it.
        body += "{\"malformed\": ,";
        std::size_t const at = body.size();
        w.whole(body);
        body.erase(at, 1);  // the answer's own '{'
    } else {
        w.whole(body);
    }

    x.set_status(200);
    x.add_header("Content-Type", w.content_type());
    w.add_headers(x, ms_since(t0));
    switch (fault) {
    case fault_kind::truncate:
        // Content-Length is honest about the cut body: the client gets bytes that end in the
        // middle of the JSON and must notice that itself.
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        co_await x.send(std::string_view(body).substr(0, body.size() / 2));
        co_return;
    case fault_kind::reset_mid_stream:
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        x.start_chunked();
        if (!co_await x.write_chunk(std::string_view(body).substr(0, body.size() / 2))) x.abort();
        co_return;
    case fault_kind::close_after_response:
        x.close_after_response();
        [[fallthrough]];
    case fault_kind::malformed_json:
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        break;
    default:
        break;
    }
    co_await x.send(body);
}

asio::awaitable<void> emulator::impl::answer_stream(server_exchange& x, wire_answer& w,
                                                    emu_answer& a, emulator_behaviour const& b,
                                                    fault_kind fault, clock::time_point t0) {
    x.set_status(200);
    x.add_header("Content-Type", w.stream_content_type());
    x.add_header("Cache-Control", "no-cache");
    w.add_headers(x, ms_since(t0));
    if (fault == fault_kind::close_after_response) {
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        x.close_after_response();
    }
    x.start_chunked();

    // Events produced with no delay between them go out in one write.
    std::string out;
    out.reserve(std::min<std::size_t>(512 + a.piece_count() * 256, flush_bytes + 1024));
    w.stream_begin(out);

    std::size_t const count = a.piece_count();
    std::size_t const fault_at =
        mid_stream_fault(fault) ? std::min(b.fault_after, count) : static_cast<std::size_t>(-1);
    auto const first_at = clock::now() + b.ttft;
    if (b.ttft > duration::zero()) {
        // Headers first, then the wait for the first token, as a provider's stream does.
        if (co_await x.flush()) co_return;
        if (co_await x.sleep_until(first_at)) co_return;
    }

    // Returns true when the stream is over (the fault ended it).
    auto inject = [&]() -> asio::awaitable<bool> {
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        switch (fault) {
        case fault_kind::reset_mid_stream:
            if (!co_await x.write_chunk(out)) x.abort();
            co_return true;
        case fault_kind::truncate:
            co_await x.end_chunked(out);  // a clean end, but without the end marker
            co_return true;
        case fault_kind::error_mid_stream:
            w.stream_error(out);
            co_await x.end_chunked(out);
            co_return true;
        case fault_kind::stall: {
            // (No co_await inside ?: : GCC 12 miscompiles some of those.)
            error_code ec;
            if (out.empty())
                ec = co_await x.flush();
            else
                ec = co_await x.write_chunk(out);
            if (!ec) co_await x.wait_for_disconnect(stall_limit);
            co_return true;
        }
        case fault_kind::malformed_json:
            w.stream_malformed(out);
            co_return false;  // the stream goes on: the client must reject the bad event
        default:
            co_return false;
        }
    };

    for (std::size_t i = 0; i < count; ++i) {
        if (i == fault_at && co_await inject()) co_return;
        if (b.tokens_per_second > 0 && i > 0) {
            auto const due = first_at + token_offset(i, b.tokens_per_second);
            if (due > clock::now()) {
                if (!out.empty()) {
                    if (co_await x.write_chunk(out)) co_return;
                    out.clear();
                }
                if (co_await x.sleep_until(due)) co_return;
            }
        }
        w.stream_piece(i, out);
        if (out.size() >= flush_bytes) {  // bounded memory for very long answers
            if (co_await x.write_chunk(out)) co_return;
            out.clear();
        }
    }
    if (fault_at == count && co_await inject()) co_return;
    w.stream_end(out);
    co_await x.end_chunked(out);
}

asio::awaitable<void> emulator::impl::serve(std::shared_ptr<impl> self, server_exchange& x) {
    if (!self) {
        x.abort();  // the emulator is gone
        co_return;
    }
    co_await self->handle(x);
}

// ---------------------------------------------------------------------------------------------

emulator::emulator(asio::any_io_executor ex, emulator_config cfg)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(cfg))) {}

emulator::~emulator() {
    stop();
}

result<void> emulator::start() {
    auto& s = *impl_;
    if (s.started) return failure(error::invalid_config, "emulator: start() was already called");
    detail::server_config scfg;
    scfg.max_body_bytes = s.cfg.max_body_bytes;
    scfg.idle_timeout = s.cfg.idle_timeout;
    std::weak_ptr<impl> weak = impl_;
    s.server = std::make_unique<detail::http_server>(
        s.ex, scfg, [weak](server_exchange& x) { return impl::serve(weak.lock(), x); });

    auto ep = s.server->listen(s.cfg.host, s.cfg.port);
    if (!ep) return ep.error();
    s.url = format_url("http", s.cfg.host, ep->port());

    if (s.cfg.tls) {
        auto material = detail::make_tls_material(s.cfg.tls_names);
        if (!material) return material.error();
        auto ctx = detail::make_server_tls_context(*material);
        if (!ctx) return ctx.error();
        if (!s.cfg.ca_out.empty()) {
            std::ofstream f(s.cfg.ca_out, std::ios::binary | std::ios::trunc);
            f << material->ca_cert_pem;
            f.close();
            if (!f)
                return failure(error::invalid_config,
                               "emulator: cannot write the CA certificate to '" + s.cfg.ca_out +
                                   "'");
            s.ca_file = s.cfg.ca_out;
        }
        auto tep = s.server->listen(s.cfg.host, s.cfg.tls_port, std::move(*ctx));
        if (!tep) return tep.error();
        s.tls_url = format_url("https", s.cfg.host, tep->port());
        s.ca_pem = std::move(material->ca_cert_pem);
    }
    s.started = true;
    return {};
}

void emulator::stop() {
    if (impl_->server) impl_->server->stop();
}

std::string emulator::url() const {
    return impl_->url;
}
std::string emulator::tls_url() const {
    return impl_->tls_url;
}
std::string const& emulator::ca_pem() const {
    return impl_->ca_pem;
}
std::string const& emulator::ca_file() const {
    return impl_->ca_file;
}
emulator_config const& emulator::config() const {
    return impl_->cfg;
}

emulator_stats emulator::stats() const {
    emulator_stats st;
    if (impl_->server) {
        auto const s = impl_->server->stats();
        st.connections_accepted = s.accepted;
        st.connections_open = s.open;
        st.requests = s.requests;
    }
    st.errors_sent = impl_->errors_sent.load(std::memory_order_relaxed);
    st.faults_injected = impl_->faults_injected.load(std::memory_order_relaxed);
    st.tokens_issued = impl_->tokens_issued.load(std::memory_order_relaxed);
    st.concurrency_refusals = impl_->concurrency_refusals.load(std::memory_order_relaxed);
    st.peak_concurrency = impl_->peak_concurrency.load(std::memory_order_relaxed);
    return st;
}

}  // namespace llmux
