// SPDX-License-Identifier: BSL-1.0
#include "auth/google_token.hpp"

#include "auth/jwt.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

namespace llmux::detail {

namespace asio = boost::asio;
using waiter = asio::experimental::concurrent_channel<void(boost::system::error_code,
                                                           result<std::string>)>;

struct google_token_source::state {
    std::string provider;
    std::string key_file;
    std::mutex mu;
    std::optional<service_account_key> key;
    std::string token;
    std::chrono::system_clock::time_point refresh_at{};  // refresh from here on
    std::chrono::system_clock::time_point expires_at{};
    bool refreshing = false;
    std::vector<std::shared_ptr<waiter>> waiters;
    std::atomic<std::uint64_t> refreshes{0};
};

google_token_source::google_token_source(std::string provider, std::string key_file)
    : st_(std::make_shared<state>()) {
    st_->provider = std::move(provider);
    st_->key_file = std::move(key_file);
}

google_token_source::~google_token_source() = default;

std::uint64_t google_token_source::refreshes() const noexcept { return st_->refreshes.load(); }

namespace {

result<service_account_key> load_key(std::string const& provider, std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return failure(error::invalid_config, "provider '" + provider +
                                                  "': cannot read the service-account key file '" +
                                                  path + "' (GOOGLE_APPLICATION_CREDENTIALS)");
    std::ostringstream ss;
    ss << in.rdbuf();
    auto key = parse_service_account_key(ss.str());
    if (!key) {
        auto f = key.error();
        f.diag.message = "provider '" + provider + "': key file '" + path + "': " + f.diag.message;
        return f;
    }
    return key;
}

/// Exchanges a JWT for a token at the key's token URI.
asio::awaitable<result<oauth_token>> fetch(service_account_key const& key, std::string provider,
                                           std::shared_ptr<transport> tr,
                                           clock::time_point deadline) {
    std::string path;
    auto org = parse_base_url(key.token_uri, path);
    if (!org) {
        auto f = org.error();
        f.diag.message = "provider '" + provider + "': token_uri: " + f.diag.message;
        co_return f;
    }
    auto jwt = make_service_account_jwt(key, std::chrono::system_clock::now());
    if (!jwt) co_return jwt.error();
    auto req = std::make_shared<http_request>();
    req->target = path.empty() ? "/" : path;
    req->set_header("Content-Type", "application/x-www-form-urlencoded");
    req->set_header("Accept", "application/json");
    req->body = token_request_body(*jwt);
    auto resp = co_await tr->request(*org, req, deadline);
    if (!resp) {
        auto f = resp.error();
        f.diag.message = "getting an access token from " + org->key + ": " + f.diag.message;
        f.diag.source = message_source::internal;
        co_return f;
    }
    auto tok = parse_token_response(resp->head.status, resp->body);
    if (!tok) {
        auto f = tok.error();
        f.diag.http_status = resp->head.status;
        f.diag.message = "the token endpoint " + org->key + " refused the service account '" +
                         key.client_email + "': " + f.diag.message;
        f.diag.source = message_source::internal;
        co_return f;
    }
    co_return *tok;
}

}  // namespace

asio::awaitable<result<std::string>> google_token_source::token(std::shared_ptr<transport> tr,
                                                                clock::time_point deadline) {
    co_await asio::this_coro::throw_if_cancelled(false);
    auto st = st_;
    std::shared_ptr<waiter> wait;
    {
        std::lock_guard lk(st->mu);
        auto const now = std::chrono::system_clock::now();
        if (!st->token.empty() && now < st->refresh_at) co_return st->token;
        if (st->refreshing) {
            wait = std::make_shared<waiter>(co_await asio::this_coro::executor, 1);
            st->waiters.push_back(wait);
        } else {
            st->refreshing = true;
        }
    }

    if (wait) {
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
        auto r = co_await (wait->async_receive(asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (r.index() == 0) {
            auto [ec, tok] = std::get<0>(std::move(r));
            if (!ec) co_return tok;
        }
        {
            std::lock_guard lk(st->mu);
            std::erase(st->waiters, wait);
        }
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none)
            co_return failure(asio::error::operation_aborted, "cancelled while waiting for a token");
        co_return failure(error::timeout, "timed out waiting for an access token refresh");
    }

    // This caller refreshes; the others wait for its result.
    result<std::string> out = failure(error::auth_failed, "no token");
    if (!st->key) {
        auto k = load_key(st->provider, st->key_file);
        if (k) {
            std::lock_guard lk(st->mu);
            st->key = std::move(*k);
        } else {
            out = k.error();
        }
    }
    if (st->key) {
        auto tok = co_await fetch(*st->key, st->provider, tr, deadline);
        if (tok) {
            auto const now = std::chrono::system_clock::now();
            auto const life = std::max(tok->expires_in, std::chrono::seconds(1));
            // Refresh in the last tenth of the token's life (at most 5 minutes early), but with
            // at least a minute of slack, or half the life of a token shorter than that: a
            // request sent just before the expiry must not arrive after it (with whole seconds,
            // a tenth of a 2 s token was 0 s of slack).
            auto const slack = std::min<std::chrono::milliseconds>(std::chrono::minutes(1), life / 2);
            auto const margin = std::min<std::chrono::milliseconds>(
                std::chrono::minutes(5),
                std::max<std::chrono::milliseconds>(std::chrono::milliseconds(life) / 10, slack));
            std::lock_guard lk(st->mu);
            st->token = tok->access_token;
            st->expires_at = now + life;
            st->refresh_at = st->expires_at - margin;
            ++st->refreshes;
            out = tok->access_token;
        } else {
            out = tok.error();
        }
    }
    std::vector<std::shared_ptr<waiter>> waiters;
    {
        std::lock_guard lk(st->mu);
        st->refreshing = false;
        waiters.swap(st->waiters);
    }
    for (auto& w : waiters) w->try_send(boost::system::error_code{}, out);
    co_return out;
}

}  // namespace llmux::detail
