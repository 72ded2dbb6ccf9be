// SPDX-License-Identifier: BSL-1.0
#include <llmux/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <ostream>
#include <string_view>
#include <sstream>

namespace llmux {

namespace {

class llmux_category final : public boost::system::error_category {
public:
    char const* name() const noexcept override { return "llmux"; }

    std::string message(int ev) const override {
        switch (static_cast<error>(ev)) {
        case error::timeout: return "deadline exceeded";
        case error::rate_limited: return "rate limited by the provider";
        case error::overloaded: return "the provider is overloaded";
        case error::server_error: return "the provider failed";
        case error::auth_failed: return "authentication failed";
        case error::permission_denied: return "permission denied";
        case error::bad_request: return "the provider rejected the request";
        case error::context_length_exceeded: return "the prompt exceeds the model's context window";
        case error::content_filtered: return "blocked by the provider's content filter";
        case error::not_found: return "model or endpoint not found";
        case error::payment_required: return "the account has no credit left";
        case error::protocol_error: return "malformed response from the provider";
        case error::truncated: return "the stream ended before it was complete";
        case error::response_too_large: return "the response exceeds the size cap";
        case error::all_attempts_failed: return "every attempt failed";
        case error::budget_exceeded: return "the spend budget is used up";
        case error::circuit_open: return "the model is cooling down after repeated failures";
        case error::invalid_model_id: return "invalid model id";
        case error::unknown_provider: return "unknown provider";
        case error::missing_api_key: return "missing API key";
        case error::invalid_config: return "invalid configuration";
        case error::unsupported: return "the provider cannot express this request";
        case error::invalid_request: return "invalid request";
        case error::cancelled: return "cancelled";
        }
        return "unknown llmux error";
    }
};

}  // namespace

boost::system::error_category const& category() noexcept {
    static llmux_category const cat;
    return cat;
}

std::string code_name(boost::system::error_code const& ec) {
    if (!ec) return "ok";
    // The state stores' category (llmux/state.hpp), matched by name so that this file links
    // without them (the fuzz targets compile it alone). Values as in `state_error`.
    if (std::string_view(ec.category().name()) == "llmux.state") {
        static char const* const names[] = {"store_unavailable", "store_timeout", "store_closed",
                                            "store_full", "store_protocol", "store_storage"};
        if (ec.value() >= 1 && ec.value() <= 6) return names[ec.value() - 1];
    }
    if (ec.category() == category()) {
        switch (static_cast<error>(ec.value())) {
        case error::timeout: return "timeout";
        case error::rate_limited: return "rate_limited";
        case error::overloaded: return "overloaded";
        case error::server_error: return "server_error";
        case error::auth_failed: return "auth_failed";
        case error::permission_denied: return "permission_denied";
        case error::bad_request: return "bad_request";
        case error::context_length_exceeded: return "context_length_exceeded";
        case error::content_filtered: return "content_filtered";
        case error::not_found: return "not_found";
        case error::payment_required: return "payment_required";
        case error::protocol_error: return "protocol_error";
        case error::truncated: return "truncated";
        case error::response_too_large: return "response_too_large";
        case error::all_attempts_failed: return "all_attempts_failed";
        case error::budget_exceeded: return "budget_exceeded";
        case error::circuit_open: return "circuit_open";
        case error::invalid_model_id: return "invalid_model_id";
        case error::unknown_provider: return "unknown_provider";
        case error::missing_api_key: return "missing_api_key";
        case error::invalid_config: return "invalid_config";
        case error::unsupported: return "unsupported";
        case error::invalid_request: return "invalid_request";
        case error::cancelled: return "cancelled";
        }
        return "unknown";
    }
    namespace ae = boost::asio::error;
    if (ec == ae::operation_aborted) return "cancelled";
    if (ec == ae::connection_refused) return "connection_refused";
    if (ec == ae::connection_reset) return "connection_reset";
    if (ec == ae::connection_aborted) return "connection_aborted";
    if (ec == ae::broken_pipe) return "connection_reset";
    if (ec == ae::eof || ec == boost::beast::http::error::end_of_stream ||
        ec == boost::beast::http::error::partial_message)
        return "connection_closed";
    if (ec == ae::host_not_found || ec == ae::host_not_found_try_again) return "host_not_found";
    if (ec == ae::network_unreachable || ec == ae::host_unreachable) return "unreachable";
    if (ec == ae::timed_out || ec == boost::beast::error::timeout) return "timeout";
    if (ec.category() == boost::asio::error::get_ssl_category() ||
        ec.category() == boost::asio::ssl::error::get_stream_category())
        return "tls_error";
    if (ec.category() == boost::system::error_code(boost::beast::http::error::bad_version).category())
        return "protocol_error";
    return std::string(ec.category().name()) + ":" + std::to_string(ec.value());
}

std::string failure::to_string() const {
    std::ostringstream os;
    os << *this;
    return os.str();
}

std::ostream& operator<<(std::ostream& os, failure const& f) {
    os << code_name(f.code);
    if (f.diag.http_status != 0) os << " (HTTP " << f.diag.http_status << ")";
    if (!f.diag.provider.empty()) {
        os << " from " << f.diag.provider;
        if (!f.diag.model.empty()) os << "/" << f.diag.model;
    }
    os << ": ";
    if (!f.diag.message.empty())
        os << f.diag.message;
    else
        os << f.code.message();
    if (!f.diag.error_type.empty() || !f.diag.error_code.empty()) {
        os << " [";
        if (!f.diag.error_type.empty()) os << "type=" << f.diag.error_type;
        if (!f.diag.error_type.empty() && !f.diag.error_code.empty()) os << ", ";
        if (!f.diag.error_code.empty()) os << "code=" << f.diag.error_code;
        os << "]";
    }
    if (f.diag.retry_after) os << " (retry after " << f.diag.retry_after->count() << " ms)";
    if (!f.diag.request_id.empty()) os << " (request id " << f.diag.request_id << ")";
    if (!f.diag.attempts.empty()) {
        os << " [attempts:";
        for (auto const& a : f.diag.attempts) {
            os << " " << a.model << " ";
            if (a.error) {
                os << code_name(a.error->code);
                if (a.error->diag.http_status) os << " " << a.error->diag.http_status;
            } else {
                os << "ok";
            }
            os << " " << std::chrono::duration_cast<std::chrono::milliseconds>(a.latency).count()
               << "ms;";
        }
        os << "]";
    }
    return os;
}

error_with_diagnostics::error_with_diagnostics(failure f)
    : boost::system::system_error(f.code, f.to_string()), failure_(std::move(f)) {}

void throw_exception_from_error(failure const& f, boost::source_location const&) {
    throw error_with_diagnostics(f);
}

}  // namespace llmux
