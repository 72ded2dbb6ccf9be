// SPDX-License-Identifier: BSL-1.0
// The emulator: routes each request to a wire format, resolves its behaviour, and plays the
// planned answer with the scripted timing, errors and faults.
#include <llmux/emulator.hpp>

#include "auth/crypto.hpp"
#include "auth/jwt.hpp"
#include "emulator/json_text.hpp"
#include "emulator/plan.hpp"
#include "emulator/protocol.hpp"
#include "http/server.hpp"
#include "http/tls_cert.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json/monotonic_resource.hpp>
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

using detail::emu_answer;
using detail::emu_endpoint;
using detail::emu_error;
using detail::emulator_protocol;
using detail::server_exchange;
using clock = std::chrono::steady_clock;
using fault_kind = emulator_behaviour::fault_kind;
using error_code = boost::system::error_code;

/// A stalled response waits for the client (or stop()) at most this long, so even a stall
/// has a deadline; it is far beyond any client timeout a test would use.
constexpr auto stall_limit = std::chrono::hours(1);
/// Stream events produced without a delay between them are written together, up to this much.
constexpr std::size_t flush_bytes = 64u << 10;

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

}  // namespace

struct emulator::impl {
    asio::any_io_executor ex;
    emulator_config cfg;
    std::vector<std::unique_ptr<emulator_protocol>> protocols;
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
    detail::emu_auth auth;

    // Requests seen per model (as sent, directives included) that carry a failure directive:
    // fail_first and error_rate count these.
    std::mutex counts_mutex;
    std::unordered_map<std::string, std::uint64_t> counts;

    impl(asio::any_io_executor e, emulator_config c) : ex(std::move(e)), cfg(std::move(c)) {
        // One line per wire format. The first one answers unknown paths.
        for (auto make : {&detail::make_openai_protocol, &detail::make_anthropic_protocol,
                          &detail::make_gemini_protocol, &detail::make_bedrock_protocol})
            if (auto p = make()) protocols.push_back(std::move(p));
        for (auto const& [name, b] : cfg.scripts)
            model_names.push_back(name);
        auth.aws_secret = [this](std::string_view akid) -> std::optional<std::string> {
            auto it = cfg.aws_credentials.find(akid);
            if (it == cfg.aws_credentials.end()) return std::nullopt;
            return it->second;
        };
        auth.bearer_token = [this](std::string_view token) {
            if (std::find(cfg.access_tokens.begin(), cfg.access_tokens.end(), token) !=
                cfg.access_tokens.end())
                return true;
            std::lock_guard lock(tokens_mutex);
            auto it = tokens.find(std::string(token));
            return it != tokens.end() && it->second > std::chrono::system_clock::now();
        };
    }

    /// Google's OAuth token endpoint for service-account JWTs (PROVIDERS.md 5.2).
    asio::awaitable<void> oauth_token(server_exchange& x, std::uint64_t n, clock::time_point t0);

    std::uint64_t next_count(std::string const& model) {
        std::lock_guard lock(counts_mutex);
        return counts[model]++;
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
    asio::awaitable<void> chat(server_exchange& x, emulator_protocol const& p,
                               detail::emu_route const& route, std::uint64_t n,
                               clock::time_point t0);
    asio::awaitable<void> answer_whole(server_exchange& x, emulator_protocol const& p,
                                       emu_answer& a, emulator_behaviour const& b, fault_kind fault,
                                       clock::time_point t0);
    asio::awaitable<void> answer_stream(server_exchange& x, emulator_protocol const& p,
                                        emu_answer& a, emulator_behaviour const& b,
                                        fault_kind fault, clock::time_point t0);
    asio::awaitable<void> send_json(server_exchange& x, emulator_protocol const& p, unsigned status,
                                    std::string const& body, std::uint64_t n, clock::time_point t0);
    asio::awaitable<void> send_error(server_exchange& x, emulator_protocol const& p,
                                     emu_error const& e, std::uint64_t n, clock::time_point t0,
                                     std::optional<duration> retry_after = std::nullopt);
};

asio::awaitable<void> emulator::impl::send_json(server_exchange& x, emulator_protocol const& p,
                                                unsigned status, std::string const& body,
                                                std::uint64_t n, clock::time_point t0) {
    x.set_status(status);
    x.add_header("Content-Type", "application/json");
    p.add_headers(x, n, ms_since(t0));
    co_await x.send(body);
}

asio::awaitable<void> emulator::impl::send_error(server_exchange& x, emulator_protocol const& p,
                                                 emu_error const& e, std::uint64_t n,
                                                 clock::time_point t0,
                                                 std::optional<duration> retry_after) {
    x.set_status(e.status);
    x.add_header("Content-Type", "application/json");
    p.add_headers(x, n, ms_since(t0));
    p.add_error_headers(x, e);
    if (retry_after) {
        auto const ms = std::chrono::duration_cast<std::chrono::milliseconds>(*retry_after).count();
        // retry-after is whole seconds: round up so a client never retries early.
        auto const secs = (ms + 999) / 1000;
        x.add_header("retry-after", std::to_string(secs));
        x.add_header("retry-after-ms", std::to_string(ms));
    }
    std::string body;
    p.render_error(e, body);
    errors_sent.fetch_add(1, std::memory_order_relaxed);
    co_await x.send(body);
}

asio::awaitable<void> emulator::impl::handle(server_exchange& x) {
    auto const t0 = clock::now();
    auto& req = x.request();
    std::uint64_t const n = request_number.fetch_add(1, std::memory_order_relaxed) + 1;
    std::string_view const target = req.target();
    std::string_view const path = target.substr(0, target.find('?'));

    if (req.method() == boost::beast::http::verb::post && path.size() >= 6 &&
        path.substr(path.size() - 6) == "/token") {
        co_await oauth_token(x, n, t0);
        co_return;
    }

    emulator_protocol const* proto = nullptr;
    detail::emu_route route;
    for (auto const& p : protocols) {
        route = p->route(req.method(), path);
        if (route.endpoint != emu_endpoint::none) {
            proto = p.get();
            break;
        }
    }
    if (!proto) {
        // Unknown paths answer in the first format's shape (OpenAI's), as most clients are.
        auto const& p = *protocols.front();
        co_await send_error(x, p, p.unknown_route(req.method_string(), target), n, t0);
        co_return;
    }
    if (cfg.require_auth) {
        auth.now = std::chrono::system_clock::now();
        if (auto e = proto->check_auth(req, auth)) {
            co_await send_error(x, *proto, *e, n, t0);
            co_return;
        }
    }
    std::string body;
    switch (route.endpoint) {
    case emu_endpoint::list_models:
        proto->render_models(model_names, body);
        co_await send_json(x, *proto, 200, body, n, t0);
        co_return;
    case emu_endpoint::get_model:
        proto->render_model(route.path_model, body);
        co_await send_json(x, *proto, 200, body, n, t0);
        co_return;
    case emu_endpoint::chat:
        co_await chat(x, *proto, route, n, t0);
        co_return;
    case emu_endpoint::none:
        break;
    }
}

namespace {

/// Decodes `application/x-www-form-urlencoded` value `v` (`+` is a space).
std::string form_decode(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '+') {
            out.push_back(' ');
        } else if (v[i] == '%' && i + 2 < v.size()) {
            auto const hex = [](char c) -> int {
                if (c >= '0' && c <= '9') return c - '0';
                if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                return -1;
            };
            int const hi = hex(v[i + 1]), lo = hex(v[i + 2]);
            if (hi < 0 || lo < 0) return {};
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(v[i]);
        }
    }
    return out;
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
    auto const claims_doc = claims_text ? boost::json::parse(*claims_text, ec) : boost::json::value();
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

asio::awaitable<void> emulator::impl::chat(server_exchange& x, emulator_protocol const& p,
                                           detail::emu_route const& route, std::uint64_t n,
                                           clock::time_point t0) {
    auto& req = x.request();
    // The document only lives for this request: a monotonic arena makes parsing cheap.
    boost::json::monotonic_resource arena;
    boost::system::error_code ec;
    boost::json::value const doc = boost::json::parse(req.body(), ec, &arena);
    if (ec) {
        co_await send_error(x, p, p.invalid_json(ec.message()), n, t0);
        co_return;
    }
    auto parsed = p.parse_chat(doc, route);
    if (!parsed) {
        co_await send_error(x, p, parsed.error(), n, t0);
        co_return;
    }
    auto const& r = *parsed;
    auto b = detail::resolve_behaviour(cfg, r.model, req["x-llmux-emulate"]);
    if (!b) {
        co_await send_error(x, p, p.bad_request(b.error().diag.message), n, t0);
        co_return;
    }

    // Failure selection. Requests without any failure directive skip the shared counter.
    unsigned error_status = 0;
    fault_kind fault = fault_kind::none;
    if (b->error_status || b->fault != fault_kind::none || b->fail_first || b->error_rate > 0) {
        if (detail::selected_for_failure(*b, next_count(r.model))) {
            error_status = b->error_status;
            fault = b->fault;
            if (!error_status && fault == fault_kind::none) error_status = 500;
        }
    }

    // A provider over its concurrency refuses at once, before any work.
    std::optional<active_guard> in_progress;
    if (b->max_concurrency) {
        in_progress.emplace(this, r.model);
        if (in_progress->count > b->max_concurrency) {
            concurrency_refusals.fetch_add(1, std::memory_order_relaxed);
            emu_error e = p.error_for_status(429, detail::base_model(r.model));
            if (b->retry_after)
                e.retry_after = std::chrono::duration_cast<std::chrono::milliseconds>(*b->retry_after);
            co_await send_error(x, p, e, n, t0, b->retry_after);
            co_return;
        }
        auto peak = peak_concurrency.load(std::memory_order_relaxed);
        while (in_progress->count > peak &&
               !peak_concurrency.compare_exchange_weak(peak, in_progress->count)) {
        }
    }

    if (b->jitter > 0) {
        auto const f = detail::jitter_factor(b->jitter, n);
        auto scale = [f](duration d) {
            return std::chrono::duration_cast<duration>(d * f);
        };
        b->latency = scale(b->latency);
        b->ttft = scale(b->ttft);
    }
    if (b->latency > duration::zero() && co_await x.sleep_for(b->latency)) co_return;
    if (error_status) {
        emu_error e = p.error_for_status(error_status, detail::base_model(r.model));
        if (b->retry_after)
            e.retry_after = std::chrono::duration_cast<std::chrono::milliseconds>(*b->retry_after);
        co_await send_error(x, p, e, n, t0, b->retry_after);
        co_return;
    }
    if (fault == fault_kind::reset_before_headers) {
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        x.abort();
        co_return;
    }
    auto a = detail::plan_answer(r, *b, n, unix_now());
    if (a.stream)
        co_await answer_stream(x, p, a, *b, fault, t0);
    else
        co_await answer_whole(x, p, a, *b, fault, t0);
}

asio::awaitable<void> emulator::impl::answer_whole(server_exchange& x, emulator_protocol const& p,
                                                   emu_answer& a, emulator_behaviour const& b,
                                                   fault_kind fault, clock::time_point t0) {
    if (fault == fault_kind::stall) {
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        co_await x.wait_for_disconnect(stall_limit);
        co_return;
    }
    // A whole answer arrives when its last token would have: ttft, then the pacing.
    auto const gen =
        b.ttft + token_offset(a.piece_count() ? a.piece_count() - 1 : 0, b.tokens_per_second);
    if (gen > duration::zero() && co_await x.sleep_for(gen)) co_return;

    std::string body;
    body.reserve(1024);
    if (fault == fault_kind::error_mid_stream) {
        // Nothing can fail "mid-stream" without a stream: the closest is a failed generation.
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        co_await send_error(x, p, p.error_for_status(500, a.model), a.number, t0);
        co_return;
    }
    if (fault == fault_kind::malformed_json)
        p.render_malformed_response(a, body);
    else
        p.render_response(a, body);

    x.set_status(200);
    x.add_header("Content-Type", "application/json");
    p.add_headers(x, a.number, ms_since(t0));
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

asio::awaitable<void> emulator::impl::answer_stream(server_exchange& x, emulator_protocol const& p,
                                                    emu_answer& a, emulator_behaviour const& b,
                                                    fault_kind fault, clock::time_point t0) {
    x.set_status(200);
    x.add_header("Content-Type", p.stream_content_type());
    x.add_header("Cache-Control", "no-cache");
    p.add_headers(x, a.number, ms_since(t0));
    if (fault == fault_kind::close_after_response) {
        faults_injected.fetch_add(1, std::memory_order_relaxed);
        x.close_after_response();
    }
    x.start_chunked();

    // Events produced with no delay between them go out in one write.
    std::string out;
    out.reserve(std::min<std::size_t>(512 + a.piece_count() * 256, flush_bytes + 1024));
    p.stream_begin(a, out);

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
            p.stream_error(a, out);
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
            p.stream_malformed(a, out);
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
        p.stream_piece(a, i, out);
        if (out.size() >= flush_bytes) {  // bounded memory for very long answers
            if (co_await x.write_chunk(out)) co_return;
            out.clear();
        }
    }
    if (fault_at == count && co_await inject()) co_return;
    p.stream_end(a, out);
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
