// SPDX-License-Identifier: BSL-1.0
#include <llmux/histogram.hpp>

#include <algorithm>
#include <bit>
#include <cmath>

namespace llmux {

latency_histogram::latency_histogram() noexcept {
    for (auto& g : groups_) g.store(nullptr, std::memory_order_relaxed);
}

latency_histogram::~latency_histogram() {
    for (auto& g : groups_) delete g.load(std::memory_order_relaxed);
}

latency_histogram::group* latency_histogram::group_for(std::size_t i) noexcept {
    auto& slot = groups_[i / sub_buckets];
    group* g = slot.load(std::memory_order_acquire);
    if (g) return g;
    auto* fresh = new (std::nothrow) group;
    if (!fresh) return nullptr;
    for (auto& b : *fresh) b.store(0, std::memory_order_relaxed);
    // Another thread may have installed one meanwhile: keep theirs.
    if (slot.compare_exchange_strong(g, fresh, std::memory_order_acq_rel,
                                     std::memory_order_acquire))
        return fresh;
    delete fresh;
    return g;
}

std::size_t latency_histogram::allocated_bytes() const noexcept {
    std::size_t n = 0;
    for (auto const& g : groups_)
        if (g.load(std::memory_order_relaxed)) n += sizeof(group);
    return n;
}

latency_histogram::latency_histogram(latency_histogram const& other) noexcept : latency_histogram() {
    merge(other);
}

latency_histogram& latency_histogram::operator=(latency_histogram const& other) noexcept {
    if (this != &other) {
        reset();
        merge(other);
    }
    return *this;
}

std::size_t latency_histogram::bucket_of(std::uint64_t ns) noexcept {
    if (ns < (std::uint64_t(1) << min_exponent)) return 0;
    unsigned const e = 63u - static_cast<unsigned>(std::countl_zero(ns));
    if (e >= max_exponent) return bucket_count - 1;
    std::size_t const sub = (ns >> (e - sub_bucket_bits)) & (sub_buckets - 1);
    return std::size_t(e - min_exponent) * sub_buckets + sub;
}

std::uint64_t latency_histogram::bucket_lower(std::size_t i) noexcept {
    unsigned const e = static_cast<unsigned>(i / sub_buckets) + min_exponent;
    std::uint64_t const sub = i % sub_buckets;
    return (std::uint64_t(1) << e) + (sub << (e - sub_bucket_bits));
}

void latency_histogram::record(duration d) noexcept {
    std::uint64_t const ns = d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count());
    std::size_t const i = bucket_of(ns);
    if (auto* g = group_for(i)) (*g)[i % sub_buckets].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(ns, std::memory_order_relaxed);
    auto lo = min_.load(std::memory_order_relaxed);
    while (ns < lo && !min_.compare_exchange_weak(lo, ns, std::memory_order_relaxed)) {
    }
    auto hi = max_.load(std::memory_order_relaxed);
    while (ns > hi && !max_.compare_exchange_weak(hi, ns, std::memory_order_relaxed)) {
    }
}

std::uint64_t latency_histogram::count() const noexcept {
    return count_.load(std::memory_order_relaxed);
}

latency_histogram::duration latency_histogram::min() const noexcept {
    return count() ? duration(static_cast<std::int64_t>(min_.load(std::memory_order_relaxed)))
                   : duration::zero();
}

latency_histogram::duration latency_histogram::max() const noexcept {
    return duration(static_cast<std::int64_t>(max_.load(std::memory_order_relaxed)));
}

latency_histogram::duration latency_histogram::sum() const noexcept {
    return duration(static_cast<std::int64_t>(sum_.load(std::memory_order_relaxed)));
}

latency_histogram::duration latency_histogram::mean() const noexcept {
    auto const n = count();
    return n ? duration(static_cast<std::int64_t>(sum_.load(std::memory_order_relaxed) / n))
             : duration::zero();
}

latency_histogram::duration latency_histogram::percentile(double q) const noexcept {
    // Sum the buckets rather than trust count_: a concurrent record may have bumped one but
    // not yet the other.
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) total += bucket(i);
    if (total == 0) return duration::zero();
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
    rank = std::max<std::uint64_t>(rank, 1);
    if (rank >= total) return max();  // the largest sample is known exactly
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += bucket(i);
        if (seen >= rank) {
            std::uint64_t const lo = i == 0 ? 0 : bucket_lower(i);
            std::uint64_t const hi =
                i + 1 < bucket_count ? bucket_lower(i + 1) : (std::uint64_t(1) << max_exponent);
            std::uint64_t const mid = lo + (hi - lo) / 2;
            if (i + 1 == bucket_count) return max();  // past the range: no midpoint to give
            std::uint64_t const mn = min_.load(std::memory_order_relaxed);
            std::uint64_t const mx = max_.load(std::memory_order_relaxed);
            return duration(static_cast<std::int64_t>(std::clamp(mid, std::min(mn, mx), mx)));
        }
    }
    return max();
}

std::uint64_t latency_histogram::count_at_or_below(duration d) const noexcept {
    std::uint64_t const ns = d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count());
    std::size_t const last = bucket_of(ns);
    std::uint64_t n = 0;
    for (std::size_t i = 0; i <= last; ++i) n += bucket(i);
    return n;
}

void latency_histogram::merge(latency_histogram const& other) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) {
        auto const v = other.bucket(i);
        if (!v) continue;
        if (auto* g = group_for(i)) (*g)[i % sub_buckets].fetch_add(v, std::memory_order_relaxed);
    }
    auto const n = other.count_.load(std::memory_order_relaxed);
    if (n == 0) return;
    count_.fetch_add(n, std::memory_order_relaxed);
    sum_.fetch_add(other.sum_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    auto const omin = other.min_.load(std::memory_order_relaxed);
    auto lo = min_.load(std::memory_order_relaxed);
    while (omin < lo && !min_.compare_exchange_weak(lo, omin, std::memory_order_relaxed)) {
    }
    auto const omax = other.max_.load(std::memory_order_relaxed);
    auto hi = max_.load(std::memory_order_relaxed);
    while (omax > hi && !max_.compare_exchange_weak(hi, omax, std::memory_order_relaxed)) {
    }
}

void latency_histogram::reset() noexcept {
    for (auto& slot : groups_)
        if (auto* g = slot.load(std::memory_order_acquire))
            for (auto& b : *g) b.store(0, std::memory_order_relaxed);
    count_.store(0, std::memory_order_relaxed);
    sum_.store(0, std::memory_order_relaxed);
    min_.store(~std::uint64_t(0), std::memory_order_relaxed);
    max_.store(0, std::memory_order_relaxed);
}

}  // namespace llmux
