// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace llmux {

/** @brief A latency histogram with bounded relative error, lock-free to record into.

    Values are kept in log-linear buckets: each power of two from 1 µs to about 73 minutes is
    split into 128 equal sub-buckets, so any reported percentile is within 1/128 (under 0.8 %)
    of the true sample value. Values below 1 µs are counted in the first bucket, values above
    the range in the last; `min()` and `max()` are exact. Memory does not grow with the number
    of samples: the 128 buckets of a power of two (1 KiB) are allocated when a first value falls
    in it, so a histogram whose values span a few powers of two takes a few KiB (32 KiB at most).

    @par Thread safety
    `record` may be called from any number of threads at once; readers see a consistent-enough
    view (each bucket is read atomically). `reset` and `merge` must not race with each other.
*/
class latency_histogram {
public:
    using duration = std::chrono::nanoseconds;

    /// Sub-buckets per power of two: the relative error bound is 1 / sub_buckets.
    static constexpr unsigned sub_bucket_bits = 7;
    static constexpr unsigned sub_buckets = 1u << sub_bucket_bits;
    /// The smallest resolved value is 2^min_exponent ns (1024 ns).
    static constexpr unsigned min_exponent = 10;
    /// The largest resolved value is below 2^max_exponent ns (about 73 minutes).
    static constexpr unsigned max_exponent = 42;
    static constexpr std::size_t bucket_count =
        std::size_t(max_exponent - min_exponent) * sub_buckets;

    latency_histogram() noexcept;
    ~latency_histogram();
    latency_histogram(latency_histogram const& other) noexcept;
    latency_histogram& operator=(latency_histogram const& other) noexcept;

    /// @brief Counts one sample. Negative durations count as zero.
    void record(duration d) noexcept;

    std::uint64_t count() const noexcept;
    /// @brief Exact smallest and largest samples; zero when empty.
    duration min() const noexcept;
    duration max() const noexcept;
    /// @brief Exact mean of the samples; zero when empty.
    duration mean() const noexcept;
    /// @brief Exact sum of the samples.
    duration sum() const noexcept;

    /** @brief The value at quantile `q` (0..1): the sample of rank ceil(q * count), reported as
        its bucket's midpoint and clamped to [min, max]. Zero when empty.
    */
    duration percentile(double q) const noexcept;

    /// @brief Samples at or below `d` (within the error bound), for cumulative exports such as
    /// Prometheus `le` buckets and CDF charts.
    std::uint64_t count_at_or_below(duration d) const noexcept;

    /// @brief Adds every sample of `other` into this one.
    void merge(latency_histogram const& other) noexcept;
    void reset() noexcept;

    /// @brief The lower bound of bucket `i` in nanoseconds (for exports).
    static std::uint64_t bucket_lower(std::size_t i) noexcept;
    /// @brief The bucket holding value `ns`.
    static std::size_t bucket_of(std::uint64_t ns) noexcept;
    /// @brief The count in bucket `i`.
    std::uint64_t bucket(std::size_t i) const noexcept {
        auto const* g = groups_[i / sub_buckets].load(std::memory_order_acquire);
        return g ? (*g)[i % sub_buckets].load(std::memory_order_relaxed) : 0;
    }

    /// @brief Bytes of bucket storage allocated so far (for memory accounting).
    std::size_t allocated_bytes() const noexcept;

private:
    using group = std::array<std::atomic<std::uint64_t>, sub_buckets>;
    /// The group of `i`'s power of two, allocated on first use; null if that fails.
    group* group_for(std::size_t i) noexcept;

    static constexpr std::size_t group_count = max_exponent - min_exponent;
    std::array<std::atomic<group*>, group_count> groups_;
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_{0};
    std::atomic<std::uint64_t> min_{~std::uint64_t(0)};
    std::atomic<std::uint64_t> max_{0};
};

}  // namespace llmux
