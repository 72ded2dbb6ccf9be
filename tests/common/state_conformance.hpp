// SPDX-License-Identifier: BSL-1.0
// The rules every state store keeps (memory, SQLite, Redis), as one table of checks each store's
// suite runs against its own store on a virtual clock. A store under test must be built with
// `conformance_limits()` and the clock of a `virtual_clock`.
#pragma once

#include <llmux/state.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

namespace llmux {
/// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& os, settle_status s) {
    return os << to_string(s);
}
}  // namespace llmux

namespace llmux::test {

/// A clock that moves only when told; copies share the time.
class virtual_clock {
public:
    /// Starts at 2023-11-14 (any fixed instant works).
    virtual_clock() : us_(std::make_shared<std::atomic<std::int64_t>>(1'700'000'000'000'000)) {}

    state_clock fn() const {
        return [p = us_] {
            return std::chrono::system_clock::time_point(
                std::chrono::duration_cast<std::chrono::system_clock::duration>(
                    std::chrono::microseconds(p->load())));
        };
    }
    std::chrono::system_clock::time_point now() const { return fn()(); }
    void advance(std::chrono::microseconds d) { us_->fetch_add(d.count()); }

private:
    std::shared_ptr<std::atomic<std::int64_t>> us_;
};

/// The caps the conformance checks expect (small, so caps are reached quickly).
state_limits conformance_limits();

/// Names used by a check get `prefix` in front, so runs against a shared Redis do not meet.
void check_budget_rules(boost::asio::io_context& ctx, state_store& store, virtual_clock& clock,
                        std::string const& prefix);
void check_model_attribution_cap(boost::asio::io_context& ctx, state_store& store,
                                 std::string const& prefix);
void check_rate_rules(boost::asio::io_context& ctx, state_store& store, virtual_clock& clock,
                      std::string const& prefix);
void check_health_rules(boost::asio::io_context& ctx, state_store& store,
                        std::string const& prefix);
/// `virtual_expiry`: entries expire by the store's clock (memory, SQLite), not the server's
/// (Redis's `SET PX`, checked apart).
void check_cache_rules(boost::asio::io_context& ctx, state_store& store, virtual_clock& clock,
                       std::string const& prefix, bool virtual_expiry = true);
void check_bad_arguments(boost::asio::io_context& ctx, state_store& store);

/// Every check above.
void check_all_rules(boost::asio::io_context& ctx, state_store& store, virtual_clock& clock,
                     std::string const& prefix, bool virtual_cache_expiry = true);

}  // namespace llmux::test
