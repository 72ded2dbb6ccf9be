// SPDX-License-Identifier: BSL-1.0
#include "common/state_conformance.hpp"

#include "common/run_coro.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>

namespace llmux::test {

using namespace std::chrono_literals;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

/// `message` of a failure contains `part`.
bool says(failure const& f, std::string_view part) {
    return f.diag.message.find(part) != std::string::npos;
}

}  // namespace

state_limits conformance_limits() {
    state_limits l;
    l.max_models_per_key = 3;
    l.max_reservations_per_key = 50;
    l.max_cache_entry_bytes = 1000;
    l.max_cache_bytes = 1u << 20;
    l.max_name_bytes = 64;
    l.latency_alpha = 0.25;
    return l;
}

void check_budget_rules(boost::asio::io_context& ctx, state_store& store, virtual_clock& clock,
                        std::string const& prefix) {
    std::string const key = prefix + "team-a";
    auto reserve = [&](nano_usd estimate, std::optional<nano_usd> budget, milliseconds ttl = 60s) {
        auto r = run_coro(ctx, [&] { return store.reserve(key, estimate, budget, ttl); });
        BOOST_TEST_REQUIRE(r.has_value(), "reserve failed: " << r.error());
        return *r;
    };

    // Spent + outstanding + estimate <= budget, exactly.
    auto a = reserve(400, 1000);
    BOOST_TEST_REQUIRE(a.granted());
    BOOST_TEST(a.spent == 0);
    BOOST_TEST(a.reserved == 0);
    BOOST_TEST(a.reservation->amount == 400);
    BOOST_TEST(a.reservation->key == key);
    BOOST_TEST(a.reservation->id.size() == 32u);
    BOOST_TEST((a.reservation->expires_at == clock.now() + 60s));
    auto b = reserve(400, 1000);
    BOOST_TEST_REQUIRE(b.granted());
    BOOST_TEST(b.reserved == 400);
    BOOST_TEST(a.reservation->id != b.reservation->id);
    auto refused = reserve(300, 1000);
    BOOST_TEST(!refused.granted());
    BOOST_TEST(refused.spent == 0);
    BOOST_TEST(refused.reserved == 800);
    auto c = reserve(200, 1000);  // exactly the budget
    BOOST_TEST_REQUIRE(c.granted());

    // Settle: the real cost by model, the reservation gone.
    settlement s1;
    s1.costs = {{"openai/gpt-4o", 100}, {"anthropic/claude", 50}};
    auto st = run_coro(ctx, [&] { return store.settle(*a.reservation, s1); });
    BOOST_TEST_REQUIRE(st.has_value(), st.error());
    BOOST_TEST(st->status == settle_status::settled);
    BOOST_TEST(st->spent == 150);
    auto d = reserve(250, 1000);  // 150 + 600 + 250 = 1000
    BOOST_TEST_REQUIRE(d.granted());
    BOOST_TEST(d.spent == 150);
    BOOST_TEST(d.reserved == 600);
    BOOST_TEST(!reserve(1, 1000).granted());

    // Release gives the reservation back without cost; twice is harmless.
    auto rel = run_coro(ctx, [&] { return store.release(*b.reservation); });
    BOOST_TEST_REQUIRE(rel.has_value(), rel.error());
    BOOST_TEST(rel->status == settle_status::settled);
    BOOST_TEST(rel->spent == 150);
    rel = run_coro(ctx, [&] { return store.release(*b.reservation); });
    BOOST_TEST_REQUIRE(rel.has_value());
    BOOST_TEST(rel->status == settle_status::duplicate);

    // A settle retried before expiry charges once.
    auto dup = run_coro(ctx, [&] { return store.settle(*a.reservation, s1); });
    BOOST_TEST_REQUIRE(dup.has_value(), dup.error());
    BOOST_TEST(dup->status == settle_status::duplicate);
    BOOST_TEST(dup->spent == 150);

    auto sp = run_coro(ctx, [&] { return store.spend(key); });
    BOOST_TEST_REQUIRE(sp.has_value(), sp.error());
    BOOST_TEST(sp->spent == 150);
    BOOST_TEST(sp->reserved == 450);
    BOOST_TEST(sp->reservations == 2u);
    std::vector<model_cost> const by_model{{"openai/gpt-4o", 100}, {"anthropic/claude", 50}};
    BOOST_TEST((sp->by_model == by_model));

    // Reservations of a crashed caller stop counting after their ttl.
    clock.advance(60s);
    sp = run_coro(ctx, [&] { return store.spend(key); });
    BOOST_TEST_REQUIRE(sp.has_value());
    BOOST_TEST(sp->reserved == 0);
    BOOST_TEST(sp->reservations == 0u);
    auto e = reserve(850, 1000);
    BOOST_TEST(e.granted());
    BOOST_TEST(e.reserved == 0);

    // A late settle still charges: the cost was real.
    settlement s2;
    s2.costs = {{"openai/gpt-4o", 30}};
    st = run_coro(ctx, [&] { return store.settle(*c.reservation, s2); });
    BOOST_TEST_REQUIRE(st.has_value(), st.error());
    BOOST_TEST(st->status == settle_status::late);
    BOOST_TEST(st->spent == 180);

    // A charge without reservation (a key without budget).
    settlement s3;
    s3.costs = {{"anthropic/claude", 20}};
    st = run_coro(ctx, [&] { return store.charge(key, s3); });
    BOOST_TEST_REQUIRE(st.has_value(), st.error());
    BOOST_TEST(st->status == settle_status::late);
    BOOST_TEST(st->spent == 200);
    sp = run_coro(ctx, [&] { return store.spend(key); });
    BOOST_TEST_REQUIRE(sp.has_value());
    std::vector<model_cost> const by_model2{{"openai/gpt-4o", 130}, {"anthropic/claude", 70}};
    BOOST_TEST((sp->by_model == by_model2));
    BOOST_TEST(sp->reserved == 850);

    // No budget: always granted, still counted as reserved.
    auto f = reserve(1'000'000, std::nullopt);
    BOOST_TEST(f.granted());
    BOOST_TEST(f.reserved == 850);

    // A budget of zero refuses anything that costs.
    std::string const other = prefix + "zero";
    auto z = run_coro(ctx, [&] { return store.reserve(other, 1, nano_usd(0), 60s); });
    BOOST_TEST_REQUIRE(z.has_value());
    BOOST_TEST(!z->granted());

    // A key never seen reads as zero.
    sp = run_coro(ctx, [&] { return store.spend(prefix + "nobody"); });
    BOOST_TEST_REQUIRE(sp.has_value());
    BOOST_TEST(sp->spent == 0);
    BOOST_TEST(sp->by_model.empty());
}

void check_model_attribution_cap(boost::asio::io_context& ctx, state_store& store,
                                 std::string const& prefix) {
    std::string const key = prefix + "many-models";
    settlement s;
    for (int i = 0; i < 5; ++i)
        s.costs.push_back({"p/m" + std::to_string(i), 10 + i});
    auto st = run_coro(ctx, [&] { return store.charge(key, s); });
    BOOST_TEST_REQUIRE(st.has_value(), st.error());
    BOOST_TEST(st->spent == 60);
    auto sp = run_coro(ctx, [&] { return store.spend(key); });
    BOOST_TEST_REQUIRE(sp.has_value());
    // Three models kept apart (max_models_per_key), the rest summed under "(other)".
    std::vector<model_cost> const want{{"(other)", 27}, {"p/m2", 12}, {"p/m1", 11}, {"p/m0", 10}};
    BOOST_TEST((sp->by_model == want));
    // A known model keeps its own line.
    settlement more;
    more.costs = {{"p/m0", 5}, {"p/m9", 1}};
    st = run_coro(ctx, [&] { return store.charge(key, more); });
    BOOST_TEST_REQUIRE(st.has_value());
    sp = run_coro(ctx, [&] { return store.spend(key); });
    BOOST_TEST_REQUIRE(sp.has_value());
    std::vector<model_cost> const want2{{"(other)", 28}, {"p/m0", 15}, {"p/m2", 12}, {"p/m1", 11}};
    BOOST_TEST((sp->by_model == want2));
}

void check_rate_rules(boost::asio::io_context& ctx, state_store& store, virtual_clock& clock,
                      std::string const& prefix) {
    auto acquire = [&](std::string const& bucket, rate_quota q, std::uint64_t tokens) {
        auto r = run_coro(ctx, [&] { return store.acquire_rate(bucket, q, tokens); });
        BOOST_TEST_REQUIRE(r.has_value(), "acquire_rate failed: " << r.error());
        return *r;
    };

    // GCRA, 7 per minute: a burst of exactly 7, then one every 60/7 s.
    std::string const rpm = prefix + "rpm";
    rate_quota const seven{.requests_per_minute = 7};
    for (int i = 0; i < 7; ++i)
        BOOST_TEST(acquire(rpm, seven, 0).allowed);
    auto no = acquire(rpm, seven, 0);
    BOOST_TEST(!no.allowed);
    BOOST_TEST(no.retry_after.count() == 8572);  // ceil(8 571 428.57 µs)
    clock.advance(microseconds(8'571'428));
    BOOST_TEST(!acquire(rpm, seven, 0).allowed);
    clock.advance(microseconds(1));
    BOOST_TEST(acquire(rpm, seven, 0).allowed);
    BOOST_TEST(!acquire(rpm, seven, 0).allowed);

    // Token bucket, 1000 per minute, with a later correction.
    std::string const tpm = prefix + "tpm";
    rate_quota const thousand{.tokens_per_minute = 1000};
    BOOST_TEST(acquire(tpm, thousand, 600).allowed);
    no = acquire(tpm, thousand, 600);
    BOOST_TEST(!no.allowed);
    BOOST_TEST(no.retry_after.count() == 12000);  // 200 tokens at 1000/min
    auto fix = run_coro(ctx, [&] { return store.correct_rate(tpm, thousand, -300); });
    BOOST_TEST_REQUIRE(fix.has_value(), fix.error());
    BOOST_TEST(acquire(tpm, thousand, 600).allowed);  // 700 left
    BOOST_TEST(!acquire(tpm, thousand, 101).allowed);
    fix = run_coro(ctx, [&] { return store.correct_rate(tpm, thousand, 100); });  // underestimated
    BOOST_TEST_REQUIRE(fix.has_value());
    no = acquire(tpm, thousand, 1);
    BOOST_TEST(!no.allowed);
    BOOST_TEST(no.retry_after.count() == 60);  // level 0 after the debt, 1 token = 60 ms

    // A refused request takes from neither limiter.
    std::string const both = prefix + "both";
    rate_quota const q{.requests_per_minute = 2, .tokens_per_minute = 100};
    BOOST_TEST(acquire(both, q, 80).allowed);
    BOOST_TEST(!acquire(both, q, 80).allowed);  // tokens
    BOOST_TEST(acquire(both, q, 10).allowed);   // the refusal took no request
    no = acquire(both, q, 0);
    BOOST_TEST(!no.allowed);  // requests
    BOOST_TEST(no.retry_after.count() > 0);

    // A request larger than the bucket passes when it is full, then pays its debt (capped
    // at one minute).
    std::string const big = prefix + "big";
    rate_quota const hundred{.tokens_per_minute = 100};
    BOOST_TEST(acquire(big, hundred, 500).allowed);
    no = acquire(big, hundred, 1);
    BOOST_TEST(!no.allowed);
    BOOST_TEST(no.retry_after.count() == 60600);  // 101 tokens at 100/min

    // No limit: always allowed.
    BOOST_TEST(acquire(prefix + "free", rate_quota{}, 1'000'000).allowed);
}

void check_health_rules(boost::asio::io_context& ctx, state_store& store,
                        std::string const& prefix) {
    using clock = std::chrono::system_clock;
    std::string const model = prefix + "openai/gpt-4o";
    auto h = run_coro(ctx, [&] { return store.health(model); });
    BOOST_TEST_REQUIRE(h.has_value(), h.error());
    BOOST_TEST(!h->breaker.has_value());
    BOOST_TEST(!h->latency.ttft.has_value());
    BOOST_TEST(h->latency.samples == 0u);

    auto const t0 = clock::time_point(std::chrono::seconds(1'700'000'000));
    breaker_snapshot open{circuit_state::open, 5, t0 + 30s, t0 + 10s};
    auto ok = run_coro(ctx, [&] { return store.put_breaker(model, open); });
    BOOST_TEST_REQUIRE(ok.has_value(), ok.error());
    // An older snapshot arriving later loses.
    breaker_snapshot stale{circuit_state::closed, 0, {}, t0 + 5s};
    ok = run_coro(ctx, [&] { return store.put_breaker(model, stale); });
    BOOST_TEST_REQUIRE(ok.has_value());
    h = run_coro(ctx, [&] { return store.health(model); });
    BOOST_TEST_REQUIRE((h.has_value() && h->breaker.has_value()));
    BOOST_TEST((*h->breaker == open));
    breaker_snapshot half{circuit_state::half_open, 5, t0 + 30s, t0 + 31s};
    ok = run_coro(ctx, [&] { return store.put_breaker(model, half); });
    BOOST_TEST_REQUIRE(ok.has_value());
    h = run_coro(ctx, [&] { return store.health(model); });
    BOOST_TEST_REQUIRE((h.has_value() && h->breaker.has_value()));
    BOOST_TEST((*h->breaker == half));

    // Latency averages merge each sample (alpha 0.25).
    auto l = run_coro(ctx, [&] {
        return store.observe_latency(model, latency_sample{100'000us, 200'000us});
    });
    BOOST_TEST_REQUIRE(l.has_value(), l.error());
    BOOST_TEST(l->ttft->count() == 100'000);
    BOOST_TEST(l->latency->count() == 200'000);
    BOOST_TEST(l->samples == 1u);
    l = run_coro(ctx, [&] {
        return store.observe_latency(model, latency_sample{200'000us, 600'000us});
    });
    BOOST_TEST_REQUIRE(l.has_value());
    BOOST_TEST(l->ttft->count() == 125'000);
    BOOST_TEST(l->latency->count() == 300'000);
    BOOST_TEST(l->samples == 2u);
    h = run_coro(ctx, [&] { return store.health(model); });
    BOOST_TEST_REQUIRE(h.has_value());
    BOOST_TEST(h->latency.ttft->count() == 125'000);
    BOOST_TEST(h->latency.samples == 2u);
    BOOST_TEST(h->breaker.has_value());
}

void check_cache_rules(boost::asio::io_context& ctx, state_store& store, virtual_clock& clock,
                       std::string const& prefix, bool virtual_expiry) {
    std::string const key = prefix + "req-hash-1";
    auto get = [&] {
        auto r = run_coro(ctx, [&] { return store.cache_get(key); });
        BOOST_TEST_REQUIRE(r.has_value(), "cache_get failed: " << r.error());
        return *r;
    };
    BOOST_TEST(!get().has_value());
    static char const raw[] = "data: {\"x\":1}\n\n\0binary";
    std::string const body(raw, sizeof raw - 1);
    auto put = run_coro(ctx, [&] { return store.cache_put(key, body, 1000ms); });
    BOOST_TEST_REQUIRE(put.has_value(), put.error());
    auto hit = get();
    BOOST_TEST_REQUIRE(hit.has_value());
    BOOST_TEST(*hit == body);  // bytes, NUL included
    if (virtual_expiry) {
        clock.advance(999ms);
        BOOST_TEST(get().has_value());
        clock.advance(1ms);
        BOOST_TEST(!get().has_value());
    }
    put = run_coro(ctx, [&] { return store.cache_put(key, "second", 1000ms); });
    BOOST_TEST_REQUIRE(put.has_value());
    put = run_coro(ctx, [&] { return store.cache_put(key, "third", 1000ms); });
    BOOST_TEST_REQUIRE(put.has_value());
    BOOST_TEST(get().value_or("") == "third");
    // Too large for one entry: a clear error, nothing stored.
    put = run_coro(ctx, [&] { return store.cache_put(key, std::string(1001, 'x'), 1000ms); });
    BOOST_TEST_REQUIRE(!put.has_value());
    BOOST_TEST(put.error().code == make_error_code(error::invalid_request));
    BOOST_TEST(says(put.error(), "max_cache_entry_bytes"), put.error());
}

void check_bad_arguments(boost::asio::io_context& ctx, state_store& store) {
    auto expect = [](auto const& r, std::string_view part) {
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST((r.error().code == make_error_code(error::invalid_request)));
        BOOST_TEST(says(r.error(), part), r.error() << " should mention " << part);
    };
    expect(run_coro(ctx, [&] { return store.reserve("", 1, nano_usd(10), 1s); }), "key name");
    expect(run_coro(ctx, [&] { return store.reserve(std::string(65, 'k'), 1, nano_usd(10), 1s); }),
           "at most 64");
    expect(run_coro(ctx, [&] { return store.reserve("k", -1, nano_usd(10), 1s); }), "estimate");
    expect(run_coro(ctx, [&] { return store.reserve("k", 1, nano_usd(-5), 1s); }), "budget");
    expect(run_coro(ctx, [&] { return store.reserve("k", 1, nano_usd(10), 0ms); }), "ttl");
    expect(run_coro(ctx, [&] { return store.reserve("k", max_amount + 1, nano_usd(10), 1s); }),
           "estimate");
    settlement s;
    s.costs = {{"", 1}};
    expect(run_coro(ctx, [&] { return store.charge("k", s); }), "model name");
    s.costs = {{"m", -1}};
    expect(run_coro(ctx, [&] { return store.charge("k", s); }), "cost of model m");
    expect(run_coro(ctx,
                    [&] {
                        return store.acquire_rate("b",
                                                  rate_quota{.requests_per_minute = 60'000'000}, 1);
                    }),
           "requests_per_minute");
    expect(run_coro(ctx,
                    [&] {
                        return store.acquire_rate("b", rate_quota{.tokens_per_minute = 10},
                                                  max_rate_per_minute + 1);
                    }),
           "token estimate");
    expect(run_coro(ctx, [&] { return store.cache_put("c", "v", 0ms); }), "cache ttl");
    expect(run_coro(ctx, [&] { return store.health(""); }), "model name");
}

void check_all_rules(boost::asio::io_context& ctx, state_store& store, virtual_clock& clock,
                     std::string const& prefix, bool virtual_cache_expiry) {
    check_budget_rules(ctx, store, clock, prefix);
    check_model_attribution_cap(ctx, store, prefix);
    check_rate_rules(ctx, store, clock, prefix);
    check_health_rules(ctx, store, prefix);
    check_cache_rules(ctx, store, clock, prefix, virtual_cache_expiry);
    check_bad_arguments(ctx, store);
}

}  // namespace llmux::test
