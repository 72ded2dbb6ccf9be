// SPDX-License-Identifier: BSL-1.0
// Failures of upstream calls as HTTP answers: status, unified code, and a message that says
// what happened without repeating anything secret. The answer's format picks its error type.
#include "wire/errors.hpp"

#include <boost/asio/error.hpp>

using namespace std::string_view_literals;

namespace llmux::detail {

namespace {

bool is_auth(failure const& f) {
    return f.code == make_error_code(error::auth_failed) ||
           f.code == make_error_code(error::permission_denied) ||
           f.code == make_error_code(error::missing_api_key);
}

std::string clip(std::string s, std::size_t n = 300) {
    if (s.size() > n) {
        s.resize(n);
        s += "..."sv;
    }
    return s;
}

/** What a client may be told of `f`: the provider's own words, or llmux's where they are its
    own (a refusal, a deadline); internal details (the upstream's address, an excerpt of a raw
    upstream body) are replaced by the code's description unless `expose`.
*/
std::string shown(failure const& f, bool expose) {
    bool const own_words = f.diag.source == message_source::provider ||
                           (f.diag.source == message_source::llmux && f.code.category() == category());
    if (f.diag.message.empty() || (!expose && !own_words)) return clip(f.code.message());
    return clip(f.diag.message);
}

/// `code (HTTP n): message`, for one attempt; credentials problems never quote the provider,
/// which may echo part of the key.
std::string describe(failure const& f, bool expose) {
    std::string out = code_name(f.code);
    if (f.diag.http_status) out += " (HTTP " + std::to_string(f.diag.http_status) + ")";
    if (is_auth(f)) {
        out += ": upstream authentication failed"sv;
        if (!f.diag.provider.empty()) out += " for provider '" + f.diag.provider + "'";
        return out;
    }
    out += ": " + shown(f, expose);
    return out;
}

api_error make(unsigned status, char const* code, std::string message) {
    api_error e;
    e.status = status;
    e.code = code;
    e.message = std::move(message);
    return e;
}

std::string where(failure const& f) {
    if (f.diag.provider.empty() && f.diag.model.empty()) return "upstream";
    if (f.diag.provider.empty()) return "upstream " + f.diag.model;
    return "upstream " + f.diag.provider + "/" + f.diag.model;
}

api_error map_one(failure const& f, bool expose) {
    auto const& ec = f.code;
    auto const msg = [&] { return shown(f, expose); };
    if (ec.category() != category()) {
        if (ec == boost::asio::error::operation_aborted)
            return make(499, "client_closed_request",
                        "the request was cancelled");
        // Refused, reset, TLS and the like: the upstream could not be reached or broke off.
        return make(502, "upstream_connection_failed",
                    where(f) + " connection failed: " + msg());
    }
    switch (static_cast<error>(ec.value())) {
    case error::timeout:
        return make(504, "timeout", where(f) + " timed out: " + msg());
    case error::rate_limited: {
        auto e = make(429, "rate_limit_exceeded",
                      where(f) + " is rate limited: " + msg());
        e.retry_after = f.diag.retry_after;
        return e;
    }
    case error::overloaded: {
        auto e = make(503, "overloaded", where(f) + " is overloaded: " + msg());
        e.retry_after = f.diag.retry_after;
        return e;
    }
    case error::server_error:
        return make(502, "upstream_error",
                    where(f) + " failed" +
                        (f.diag.http_status ? " (HTTP " + std::to_string(f.diag.http_status) + ")"
                                            : std::string()) +
                        ": " + msg());
    case error::auth_failed:
    case error::permission_denied:
    case error::missing_api_key:
        return make(502, "upstream_auth_failed",
                    "upstream authentication failed" +
                        (f.diag.provider.empty() ? std::string()
                                                 : " for provider '" + f.diag.provider + "'") +
                        " (the gateway's provider credentials were rejected or are missing)");
    case error::bad_request:
        return make(400, "upstream_bad_request",
                    where(f) + " rejected the request: " + msg());
    case error::context_length_exceeded:
        return make(400, "context_length_exceeded", msg());
    case error::content_filtered:
        return make(400, "content_filter", msg());
    case error::not_found:
        return make(404, "model_not_found",
                    where(f) + " does not know the model: " + msg());
    case error::payment_required:
        return make(502, "upstream_payment_required",
                    where(f) + " refused for lack of credit: " + msg());
    case error::protocol_error:
    case error::truncated:
    case error::response_too_large:
        return make(502, "upstream_bad_response",
                    where(f) + " sent a bad response: " + msg());
    case error::budget_exceeded: {
        auto e = make(402, "budget_exceeded", msg());
        e.no_retry = true;
        return e;
    }
    case error::circuit_open:
        return make(503, "circuit_open", where(f) + " is cooling down: " + msg());
    case error::invalid_model_id:
    case error::unknown_provider:
        return make(404, "model_not_found", msg());
    case error::unsupported:
    case error::invalid_request:
        return make(400, "unsupported", msg());
    case error::invalid_config:
        return make(500, "invalid_config", "gateway configuration: " + msg());
    case error::cancelled:
        return make(503, "cancelled", msg());
    case error::all_attempts_failed:
        break;
    }
    return make(502, "upstream_error", msg());
}

}  // namespace

api_error invalid_field(std::string param, std::string message) {
    api_error e;
    e.status = 400;
    e.param = std::move(param);
    e.message = std::move(message);
    return e;
}

api_error error_from_failure(failure const& f, bool expose) {
    if (f.code != make_error_code(error::all_attempts_failed)) return map_one(f, expose);
    // A failed fallback answers like its last real attempt, and lists them all.
    attempt const* last = nullptr;
    std::size_t tried = 0;
    for (auto const& a : f.diag.attempts) {
        if (!a.error) continue;
        ++tried;
        if (a.error->code != make_error_code(error::circuit_open) || !last) last = &a;
    }
    api_error e = last ? map_one(*last->error, expose)
                       : make(502, "upstream_error", "every attempt failed");
    if (e.status == 499) e = make(502, "upstream_error", "every attempt failed");
    std::string msg = "all " + std::to_string(tried) + " attempts failed: ";
    bool first = true;
    for (auto const& a : f.diag.attempts) {
        if (!a.error) continue;
        if (!first) msg += "; "sv;
        first = false;
        msg += a.model + ": " + describe(*a.error, expose);
    }
    e.message = clip(std::move(msg), 2000);
    if (!e.retry_after) e.retry_after = f.diag.retry_after;
    return e;
}

}  // namespace llmux::detail
