// SPDX-License-Identifier: BSL-1.0
// One Redis connection driven by a coroutine on a strand: it performs what `redis_conn_fsm`
// decides (connect, handshake, serve, back off) and moves the bytes of a `redis_pipeline`.
// This is the only place of the state stores that touches a socket (DESIGN.md, "State": the
// thin async adapter over the project's own Asio sockets; hiredis only formats and parses).
#pragma once

#include "state/redis_fsm.hpp"
#include "state/redis_pipeline.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace llmux::detail {

struct redis_connection_config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string username;
    std::string password;
    int database = 0;
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds request_timeout{2000};
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{5000};
    std::size_t max_pending = 100'000;
};

class redis_connection : public std::enable_shared_from_this<redis_connection> {
public:
    using replies = std::vector<resp_value>;

    redis_connection(boost::asio::any_io_executor ex, redis_connection_config cfg);

    /// Starts connecting; the connection then lives until `stop()`.
    void start();
    /// Thread-safe. Pending and later requests fail with `state_error::closed`.
    void stop();

    bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
    /// `host:port`, for messages.
    std::string const& address() const noexcept { return address_; }

    /** Sends `bytes` (`n` formatted commands) and awaits their `n` replies (error replies
        are values). Fails with `state_error::unavailable` while reconnecting or when the
        connection breaks, `state_error::timeout` past the request deadline, and
        `operation_aborted` when the caller cancels (the commands may still run).
    */
    boost::asio::awaitable<result<replies>> exec(std::string bytes, std::size_t n);

private:
    using handler_type = boost::asio::any_completion_handler<void(result<replies>)>;
    struct waiter {
        handler_type handler;
        /// The caller's executor, tracking work so its context waits for the reply.
        boost::asio::any_io_executor ex;
    };
    struct ticket {
        redis_pipeline::id_type id = 0;
        bool cancelled = false;
    };

    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> watch_deadlines();
    boost::asio::awaitable<result<void>> connect();
    boost::asio::awaitable<result<void>> handshake();
    boost::asio::awaitable<result<void>> handshake_exchange();
    boost::asio::awaitable<failure> serve();
    boost::asio::awaitable<failure> reader();
    boost::asio::awaitable<failure> writer();

    void submit(waiter w, std::shared_ptr<ticket> t, std::string bytes, std::size_t n);
    void cancel(ticket& t);
    void complete(redis_pipeline::id_type id, result<replies> r);
    static void finish(waiter w, result<replies> r);
    void fail_all(failure const& f);
    void close_socket();
    void do_stop();
    failure unavailable(std::string const& why) const;
    failure lost(char const* doing, boost::system::error_code ec) const;

    redis_connection_config cfg_;
    std::string address_;
    boost::asio::any_io_executor strand_;  // util/strand.hpp
    boost::asio::ip::tcp::socket sock_;
    boost::asio::ip::tcp::resolver resolver_;
    boost::asio::steady_timer wake_;      // the writer waits on it for requests
    boost::asio::steady_timer deadline_;  // the earliest request deadline
    boost::asio::steady_timer backoff_;
    std::chrono::steady_clock::time_point armed_ = std::chrono::steady_clock::time_point::max();
    redis_conn_fsm fsm_;
    redis_pipeline pipeline_;
    std::unordered_map<redis_pipeline::id_type, waiter> waiters_;
    std::optional<failure> io_failure_;
    bool stopping_ = false;
    std::atomic<bool> connected_{false};
    std::array<char, 16384> rbuf_{};
    std::string wbuf_;
};

}  // namespace llmux::detail
