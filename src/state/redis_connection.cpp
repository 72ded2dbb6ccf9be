// SPDX-License-Identifier: BSL-1.0
#include "state/redis_connection.hpp"

#include "util/strand.hpp"

#include <llmux/state.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <random>

namespace llmux::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string format_address(std::string const& host, std::uint16_t port) {
    bool const v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::uint64_t random_seed() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

bool cancelled(asio::cancellation_state const& cs) {
    return cs.cancelled() != asio::cancellation_type::none;
}

}  // namespace

redis_connection::redis_connection(asio::any_io_executor ex, redis_connection_config cfg)
    : cfg_(std::move(cfg)), address_(format_address(cfg_.host, cfg_.port)),
      strand_(detail::make_small_strand(ex)), sock_(strand_), resolver_(strand_), wake_(strand_),
      deadline_(strand_), backoff_(strand_),
      fsm_(cfg_.backoff_initial, cfg_.backoff_max, random_seed()) {}

void redis_connection::start() {
    auto self = shared_from_this();
    asio::co_spawn(
        strand_, [self] { return self->run(); }, asio::detached);
    asio::co_spawn(
        strand_, [self] { return self->watch_deadlines(); }, asio::detached);
}

void redis_connection::stop() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->do_stop(); });
}

void redis_connection::do_stop() {
    if (stopping_) return;
    stopping_ = true;
    close_socket();
    resolver_.cancel();
    wake_.cancel();
    deadline_.cancel();
    backoff_.cancel();
}

void redis_connection::close_socket() {
    error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
}

failure redis_connection::unavailable(std::string const& why) const {
    return failure(make_error_code(state_error::unavailable),
                   "Redis at " + address_ + " is unavailable: " + why);
}

failure redis_connection::lost(char const* doing, error_code ec) const {
    return failure(make_error_code(state_error::unavailable),
                   std::string("the connection to Redis at ") + address_ + " broke while " + doing +
                       ": " + ec.message() + " (commands in flight may or may not have run)");
}

// --- requests ------------------------------------------------------------------------------

asio::awaitable<result<redis_connection::replies>> redis_connection::exec(std::string bytes,
                                                                          std::size_t n) {
    // Named, not built inside the co_await expression: GCC 12 destroys such temporaries twice
    // (here: one shared_ptr release too many).
    auto init = [self = shared_from_this()](auto handler, std::string bytes, std::size_t n) {
        asio::any_io_executor const ex = asio::prefer(
            asio::any_io_executor(asio::get_associated_executor(handler, self->strand_)),
            asio::execution::outstanding_work.tracked);
        auto t = std::make_shared<ticket>();
        // Assigned here, in the caller's context, where cancellation is emitted; the
        // cancel itself runs on the strand.
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected())
            slot.assign([self, t](asio::cancellation_type) {
                asio::dispatch(self->strand_, [self, t] { self->cancel(*t); });
            });
        asio::dispatch(self->strand_, [self, t, w = waiter{handler_type(std::move(handler)), ex},
                                       bytes = std::move(bytes), n]() mutable {
            self->submit(std::move(w), std::move(t), std::move(bytes), n);
        });
    };
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(result<replies>)>(
        std::move(init), asio::use_awaitable, std::move(bytes), n);
}

void redis_connection::submit(waiter w, std::shared_ptr<ticket> t, std::string bytes,
                              std::size_t n) {
    if (t->cancelled)
        return finish(std::move(w), failure(asio::error::operation_aborted,
                                            "cancelled before it was sent to Redis"));
    if (stopping_ || fsm_.state() == redis_conn_state::stopped)
        return finish(std::move(w), failure(make_error_code(state_error::closed),
                                            "the Redis state store is closed"));
    if (!fsm_.accepts_requests()) {
        // Backing off: the server was just found unavailable; fail at once rather than queue.
        auto const& last = fsm_.last_failure();
        std::string why = last ? last->diag.message : std::string("not connected");
        return finish(std::move(w), failure(make_error_code(state_error::unavailable),
                                            why + "; reconnecting in the background"));
    }
    if (pipeline_.size() >= cfg_.max_pending)
        return finish(std::move(w),
                      failure(make_error_code(state_error::full),
                              "the Redis state store has " + std::to_string(cfg_.max_pending) +
                                  " operations pending (max_pending)"));
    auto const deadline = steady::now() + cfg_.request_timeout;
    t->id = pipeline_.push(std::move(bytes), n, deadline);
    waiters_.emplace(t->id, std::move(w));
    wake_.cancel();
    if (deadline < armed_) deadline_.cancel();
}

void redis_connection::cancel(ticket& t) {
    if (t.id == 0) {
        t.cancelled = true;  // not submitted yet
        return;
    }
    auto it = waiters_.find(t.id);
    if (it == waiters_.end()) return;
    auto w = std::move(it->second);
    waiters_.erase(it);
    pipeline_.cancel(t.id);
    finish(std::move(w), failure(asio::error::operation_aborted,
                                 "cancelled while waiting for Redis (the command may still run)"));
}

void redis_connection::complete(redis_pipeline::id_type id, result<replies> r) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;  // its caller gave up
    auto w = std::move(it->second);
    waiters_.erase(it);
    finish(std::move(w), std::move(r));
}

void redis_connection::finish(waiter w, result<replies> r) {
    // The caller's context may run on another thread and be gone as soon as the handler ran:
    // post through an untracked copy, and let the tracked one (the work) travel with the
    // handler, released on the caller's side.
    auto const ex = asio::prefer(w.ex, asio::execution::outstanding_work.untracked);
    asio::post(ex, [h = std::move(w.handler), work = std::move(w.ex), r = std::move(r)]() mutable {
        // Cleared in the caller's context, the one that may emit a cancellation.
        auto slot = asio::get_associated_cancellation_slot(h);
        if (slot.is_connected()) slot.clear();
        work = asio::any_io_executor();
        std::move(h)(std::move(r));
    });
}

void redis_connection::fail_all(failure const& f) {
    for (auto id : pipeline_.drain())
        complete(id, f);
    for (auto& [id, w] : waiters_)
        finish(std::move(w), f);
    waiters_.clear();
    deadline_.cancel();
}

// --- the connection's life ----------------------------------------------------------------

asio::awaitable<void> redis_connection::run() {
    using kind = redis_conn_action::kind;
    auto act = fsm_.start();
    for (;;) {
        if (stopping_ && act.what != kind::stop) act = fsm_.stop();
        switch (act.what) {
        case kind::connect: {
            auto r = co_await connect();
            if (stopping_) break;
            act = fsm_.on_connected(r ? std::nullopt : std::optional<failure>(r.error()));
            break;
        }
        case kind::handshake: {
            auto r = co_await handshake();
            if (stopping_) break;
            act = fsm_.on_handshake(r ? std::nullopt : std::optional<failure>(r.error()));
            break;
        }
        case kind::serve: {
            connected_.store(true, std::memory_order_relaxed);
            auto why = co_await serve();
            connected_.store(false, std::memory_order_relaxed);
            if (stopping_) break;
            act = fsm_.on_lost(std::move(why));
            break;
        }
        case kind::back_off: {
            close_socket();
            fail_all(*fsm_.last_failure());
            backoff_.expires_after(act.delay);
            co_await backoff_.async_wait(use_tuple);
            if (stopping_) break;
            act = fsm_.on_backoff_done();
            break;
        }
        case kind::stop:
            close_socket();
            fail_all(
                failure(make_error_code(state_error::closed), "the Redis state store was closed"));
            co_return;
        }
    }
}

asio::awaitable<void> redis_connection::watch_deadlines() {
    auto const never = steady::time_point::max();
    for (;;) {
        auto const next = pipeline_.next_deadline();
        armed_ = next ? *next : never;
        deadline_.expires_at(armed_);
        co_await deadline_.async_wait(use_tuple);
        if (stopping_) co_return;
        auto const ex = pipeline_.expire(steady::now());
        for (auto id : ex.expired)
            complete(id, failure(make_error_code(state_error::timeout),
                                 "Redis at " + address_ + " did not answer within " +
                                     std::to_string(cfg_.request_timeout.count()) + " ms"));
        if (ex.stuck) {
            if (!io_failure_ && sock_.is_open()) {
                // A reply is overdue: the next ones cannot be matched without it. Reset.
                io_failure_ =
                    failure(make_error_code(state_error::timeout),
                            "Redis at " + address_ + " did not answer within " +
                                std::to_string(cfg_.request_timeout.count()) + " ms; reconnecting");
                close_socket();
            }
            // Wait for the connection to fail everything in flight (it cancels this timer).
            armed_ = never;
            deadline_.expires_at(never);
            co_await deadline_.async_wait(use_tuple);
            if (stopping_) co_return;
        }
    }
}

asio::awaitable<result<void>> redis_connection::connect() {
    using namespace asio::experimental::awaitable_operators;
    close_socket();
    sock_ = tcp::socket(strand_);
    io_failure_.reset();
    asio::steady_timer timer(strand_, steady::now() + cfg_.connect_timeout);
    auto const timed_out = [&] {
        return failure(make_error_code(state_error::timeout),
                       "connecting to Redis at " + address_ + " took longer than " +
                           std::to_string(cfg_.connect_timeout.count()) + " ms");
    };
    tcp::resolver::results_type endpoints;
    error_code ec;
    auto const ip = asio::ip::make_address(cfg_.host, ec);
    if (!ec) {
        endpoints = tcp::resolver::results_type::create(tcp::endpoint(ip, cfg_.port), cfg_.host,
                                                        std::to_string(cfg_.port));
    } else {
        auto r =
            co_await (resolver_.async_resolve(cfg_.host, std::to_string(cfg_.port), use_tuple) ||
                      timer.async_wait(use_tuple));
        if (r.index() == 1) co_return timed_out();
        auto [rec, res] = std::get<0>(r);
        if (rec) co_return unavailable("resolving " + cfg_.host + " failed: " + rec.message());
        endpoints = res;
    }
    auto r =
        co_await (asio::async_connect(sock_, endpoints, use_tuple) || timer.async_wait(use_tuple));
    if (r.index() == 1) {
        close_socket();
        co_return timed_out();
    }
    auto [cec, ep] = std::get<0>(r);
    (void)ep;
    if (cec) co_return unavailable("connecting failed: " + cec.message());
    sock_.set_option(tcp::no_delay(true), ec);
    co_return result<void>{};
}

asio::awaitable<result<void>> redis_connection::handshake() {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(strand_, steady::now() + cfg_.connect_timeout);
    auto r = co_await (handshake_exchange() || timer.async_wait(use_tuple));
    if (r.index() == 1) {
        close_socket();
        co_return failure(make_error_code(state_error::timeout),
                          "Redis at " + address_ + " did not answer the handshake within " +
                              std::to_string(cfg_.connect_timeout.count()) + " ms");
    }
    co_return std::get<0>(std::move(r));
}

asio::awaitable<result<void>> redis_connection::handshake_exchange() {
    std::string out;
    std::vector<std::string_view> what;
    if (!cfg_.password.empty()) {
        // The password goes on the wire only; never into a message.
        if (cfg_.username.empty())
            append_command(out, std::vector<std::string_view>{"AUTH", cfg_.password});
        else
            append_command(out,
                           std::vector<std::string_view>{"AUTH", cfg_.username, cfg_.password});
        what.push_back("AUTH");
    }
    if (cfg_.database != 0) {
        std::string const db = std::to_string(cfg_.database);
        append_command(out, std::vector<std::string_view>{"SELECT", db});
        what.push_back("SELECT");
    }
    append_command(out, std::vector<std::string_view>{"PING"});
    what.push_back("PING");
    auto [wec, wn] = co_await asio::async_write(sock_, asio::buffer(out), use_tuple);
    (void)wn;
    if (wec) co_return lost("sending the handshake", wec);
    resp_reader reader;
    std::size_t got = 0;
    while (got < what.size()) {
        auto [rec, n] = co_await sock_.async_read_some(asio::buffer(rbuf_), use_tuple);
        if (rec) co_return lost("reading the handshake", rec);
        reader.feed(std::string_view(rbuf_.data(), n));
        for (;;) {
            auto v = reader.next();
            if (!v) co_return v.error();
            if (!*v) break;
            if ((*v)->is_error())
                co_return unavailable("it refused " + std::string(what[got]) + ": " + (*v)->str);
            if (what[got] == "PING" &&
                !((*v)->type == resp_value::kind::status && (*v)->str == "PONG"))
                co_return failure(make_error_code(state_error::protocol),
                                  "the server at " + address_ + " does not answer PING like Redis");
            ++got;
        }
    }
    co_return result<void>{};
}

asio::awaitable<failure> redis_connection::serve() {
    using namespace asio::experimental::awaitable_operators;
    auto r = co_await (reader() || writer());
    failure why = r.index() == 0 ? std::get<0>(std::move(r)) : std::get<1>(std::move(r));
    if (io_failure_) why = *io_failure_;  // the deadline watcher closed the socket
    co_return why;
}

asio::awaitable<failure> redis_connection::reader() {
    for (;;) {
        auto [ec, n] = co_await sock_.async_read_some(asio::buffer(rbuf_), use_tuple);
        if (ec) co_return lost("reading", ec);
        auto rr = pipeline_.on_read(std::string_view(rbuf_.data(), n));
        for (auto& c : rr.done)
            complete(c.id, std::move(c.replies));
        if (rr.broken) co_return *rr.broken;
    }
}

asio::awaitable<failure> redis_connection::writer() {
    for (;;) {
        if (pipeline_.has_unwritten()) {
            // Everything queued leaves in one write: requests made during this write go
            // together in the next one.
            wbuf_ = pipeline_.take_write();
            auto [ec, n] = co_await asio::async_write(sock_, asio::buffer(wbuf_), use_tuple);
            (void)n;
            if (ec) co_return lost("writing", ec);
            continue;
        }
        wake_.expires_at(steady::time_point::max());
        co_await wake_.async_wait(use_tuple);  // cancelled by submit(), or by the reader's end
        if (cancelled(co_await asio::this_coro::cancellation_state) || stopping_)
            co_return failure(make_error_code(state_error::closed), "writer stopped");
    }
}

}  // namespace llmux::detail
