// SPDX-License-Identifier: BSL-1.0
// The request side of a Redis connection, sans-io: requests queue with their deadlines, leave
// in one write (pipelining), and are matched with replies in order as bytes arrive. Time is
// passed in. The connection (redis_connection.cpp) moves bytes and keeps the callers' handlers
// by request id.
#pragma once

#include "state/redis_resp.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail {

class redis_pipeline {
public:
    using clock = std::chrono::steady_clock;
    using id_type = std::uint64_t;

    /// A request whose replies all arrived.
    struct completion {
        id_type id = 0;
        /// One reply per command of the request (error replies included, as values).
        std::vector<resp_value> replies;
    };

    /** Queues a request: `bytes` hold `replies` formatted commands (at least one). Deadlines
        must not decrease from one push to the next (one timeout for every request), so the
        oldest request is always the first to expire.
    */
    id_type push(std::string bytes, std::size_t replies, clock::time_point deadline);

    bool has_unwritten() const noexcept { return !unwritten_.empty(); }
    /// The bytes of every queued request, in order, to write at once; those requests now
    /// await their replies.
    std::string take_write();

    struct read_result {
        /// The requests completed by the bytes, in order.
        std::vector<completion> done;
        /// Set when the byte stream is broken (not RESP, or a reply nobody asked for): the
        /// connection must be reset. `done` still holds what completed before.
        std::optional<failure> broken;
    };
    /// Feeds bytes read from the connection.
    read_result on_read(std::string_view bytes);

    /// The earliest deadline of a pending request.
    std::optional<clock::time_point> next_deadline() const noexcept;

    struct expiry {
        /// Queued (unwritten) requests past their deadline, now removed.
        std::vector<id_type> expired;
        /// A written request is past its deadline: its reply may still come, and the next
        /// replies cannot be matched without it, so the connection must be reset.
        bool stuck = false;
    };
    expiry expire(clock::time_point now);

    /// Removes a request that was not written yet (its caller gave up). A written one stays:
    /// its reply must still be read; the connection drops its completion.
    void cancel(id_type id);

    /// Every pending request, written first, in order; the pipeline is then empty and ready
    /// for a new connection.
    std::vector<id_type> drain();

    std::size_t size() const noexcept { return unwritten_.size() + written_.size(); }
    std::size_t in_flight() const noexcept { return written_.size(); }

private:
    struct pending {
        id_type id = 0;
        std::string bytes;
        std::size_t replies = 1;
        clock::time_point deadline;
        std::vector<resp_value> got;
    };
    std::deque<pending> unwritten_;
    std::deque<pending> written_;
    resp_reader reader_;
    id_type next_id_ = 1;
};

}  // namespace llmux::detail
