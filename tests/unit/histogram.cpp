// SPDX-License-Identifier: BSL-1.0
#include <llmux/histogram.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

using llmux::latency_histogram;
using namespace std::chrono_literals;

namespace {
/// The exact quantile of sorted samples, by the same rank rule as the histogram.
std::int64_t exact(std::vector<std::int64_t> const& sorted, double q) {
    auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    rank = std::max<std::size_t>(rank, 1);
    return sorted[rank - 1];
}
}  // namespace

BOOST_AUTO_TEST_SUITE(histogram)

BOOST_AUTO_TEST_CASE(empty) {
    latency_histogram h;
    BOOST_TEST(h.count() == 0u);
    BOOST_TEST(h.percentile(0.5).count() == 0);
    BOOST_TEST(h.min().count() == 0);
    BOOST_TEST(h.max().count() == 0);
    BOOST_TEST(h.mean().count() == 0);
}

BOOST_AUTO_TEST_CASE(percentiles_stay_within_the_error_bound) {
    std::mt19937_64 rng(42);
    // Log-uniform latencies from 10 µs to 100 s, as wide as real calls vary.
    std::uniform_real_distribution<double> exp10(4.0, 11.0);
    latency_histogram h;
    std::vector<std::int64_t> samples;
    for (int i = 0; i < 100000; ++i) {
        auto const ns = static_cast<std::int64_t>(std::pow(10.0, exp10(rng)));
        samples.push_back(ns);
        h.record(std::chrono::nanoseconds(ns));
    }
    std::sort(samples.begin(), samples.end());
    BOOST_TEST(h.count() == samples.size());
    BOOST_TEST(h.min().count() == samples.front());
    BOOST_TEST(h.max().count() == samples.back());
    for (double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
        auto const want = static_cast<double>(exact(samples, q));
        auto const got = static_cast<double>(h.percentile(q).count());
        BOOST_TEST_CONTEXT("q=" << q) {
            BOOST_TEST(std::abs(got - want) / want <= 1.0 / latency_histogram::sub_buckets);
        }
    }
    double sum = 0;
    for (auto s : samples) sum += static_cast<double>(s);
    BOOST_TEST(std::abs(static_cast<double>(h.mean().count()) - sum / 1e5) < 2.0);
}

BOOST_AUTO_TEST_CASE(a_fixed_latency_reports_itself) {
    latency_histogram h;
    for (int i = 0; i < 1000; ++i) h.record(200ms);
    BOOST_TEST(h.percentile(0.5) == std::chrono::nanoseconds(200ms));  // clamped to min == max
    h.record(400ms);
    auto const p99 = h.percentile(0.99).count();
    BOOST_TEST(std::abs(p99 - 200'000'000) <= 200'000'000 / 128);
    BOOST_TEST(h.percentile(1.0) == std::chrono::nanoseconds(400ms));
}

BOOST_AUTO_TEST_CASE(cumulative_counts_and_merge) {
    latency_histogram a, b;
    for (int i = 1; i <= 100; ++i) a.record(std::chrono::milliseconds(i));
    for (int i = 101; i <= 200; ++i) b.record(std::chrono::milliseconds(i));
    BOOST_TEST(a.count_at_or_below(50ms) >= 50u);
    BOOST_TEST(a.count_at_or_below(50ms) <= 51u);
    BOOST_TEST(a.count_at_or_below(1h) == 100u);
    a.merge(b);
    BOOST_TEST(a.count() == 200u);
    BOOST_TEST(a.max() == std::chrono::nanoseconds(200ms));
    BOOST_TEST(a.min() == std::chrono::nanoseconds(1ms));
    latency_histogram c = a;
    BOOST_TEST(c.count() == 200u);
    a.reset();
    BOOST_TEST(a.count() == 0u);
    BOOST_TEST(c.percentile(0.5).count() > 0);
}

BOOST_AUTO_TEST_CASE(out_of_range_values_are_kept) {
    latency_histogram h;
    h.record(std::chrono::nanoseconds(-5));
    h.record(std::chrono::nanoseconds(10));
    h.record(std::chrono::hours(5));
    BOOST_TEST(h.count() == 3u);
    BOOST_TEST(h.min().count() == 0);
    BOOST_TEST(h.max() == std::chrono::nanoseconds(std::chrono::hours(5)));
    BOOST_TEST(h.percentile(1.0) == std::chrono::nanoseconds(std::chrono::hours(5)));
}

BOOST_AUTO_TEST_CASE(concurrent_records_are_all_counted) {
    latency_histogram h;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25000; ++i) h.record(std::chrono::microseconds(1 + (i + t) % 1000));
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(h.count() == 100000u);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < latency_histogram::bucket_count; ++i) total += h.bucket(i);
    BOOST_TEST(total == 100000u);
}

BOOST_AUTO_TEST_SUITE_END()
