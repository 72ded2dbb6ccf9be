// SPDX-License-Identifier: BSL-1.0
// OAuth access tokens from a Google service-account key (PROVIDERS.md 5.2), for Vertex AI:
// a JWT signed with the key is exchanged at the key's token URI; the token is cached and
// refreshed before it expires, one refresh shared by every caller that needs it meanwhile.
#pragma once

#include "http/transport.hpp"

#include <llmux/error.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace llmux::detail {

class google_token_source {
public:
    /// `key_file` is read on first use, so a bad file fails the call that needs it.
    google_token_source(std::string provider, std::string key_file);
    ~google_token_source();

    /** A valid access token: the cached one, or a fresh one when it is missing or within its
        refresh margin (the last tenth of its life, at most 5 minutes). Concurrent callers
        share one refresh. Must run in one of llmux's own coroutine threads.
        @par Errors
        `invalid_config` (unreadable key file), `auth_failed` (the endpoint refused the JWT),
        transport errors, `timeout` at `deadline`.
    */
    boost::asio::awaitable<result<std::string>> token(std::shared_ptr<transport> tr,
                                                      clock::time_point deadline);

    /// Tokens fetched so far (for tests).
    std::uint64_t refreshes() const noexcept;

private:
    struct state;
    std::shared_ptr<state> st_;
};

}  // namespace llmux::detail
