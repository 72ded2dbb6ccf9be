// SPDX-License-Identifier: BSL-1.0
// gather, fallback, retry, hedge and their composition, circuit breaking, adaptive concurrency,
// stream continuation, limits, budget, cost and routing end to end: the client against the
// emulator's scripted behaviour over loopback TLS. The timing rules themselves are unit-tested
// on a virtual clock (tests/unit/policy_*.cpp); here outcomes are asserted by counts, error
// kinds and states, never by elapsed time.
#include "common/client_fixture.hpp"

#include <llmux/combinators.hpp>
#include <llmux/router.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <fstream>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using llmux::test::emulator_fixture;
using llmux::test::run_coro;
using llmux::test::run_until;

namespace {

chat_request ask(std::string model, std::string prompt = "Say something") {
    chat_request r;
    r.model = std::move(model);
    r.messages.push_back(user(std::move(prompt)));
    return r;
}

bool is(failure const& f, error e) { return f.code == make_error_code(e); }
bool is(std::optional<failure> const& f, error e) { return f && is(*f, e); }

template <class D>
std::int64_t ms(D d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

long rss_kb() {
    std::ifstream in("/proc/self/statm");
    long pages = 0, resident = 0;
    in >> pages >> resident;
    return resident * 4;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resilience)

BOOST_AUTO_TEST_CASE(gather_returns_one_outcome_per_model_in_order) {
    emulator_fixture fx;
    auto c = fx.make_client();
    std::vector<std::string> models = {"openai/gpt-4o-mini", "anthropic/claude-sonnet-4.6",
                                       "google/gemini-2.0-flash~error=500",
                                       "deepseek/deepseek-chat"};
    auto out = run_coro(fx.io, [&] { return gather(c, models, ask("x"), {.max_concurrency = 8}); });
    BOOST_TEST_REQUIRE(out.size() == 4u);
    BOOST_TEST(!!out[0]);
    BOOST_TEST(out[0]->requested_model == models[0]);
    BOOST_TEST(!!out[1]);
    BOOST_TEST(out[1]->provider == "anthropic");
    BOOST_TEST_REQUIRE(!out[2]);
    BOOST_TEST(is(out[2].error(), error::server_error));
    BOOST_TEST(!!out[3]);
    BOOST_TEST(out[3]->requested_model == models[3]);
}

BOOST_AUTO_TEST_CASE(gather_respects_its_concurrency_cap) {
    emulator_fixture fx;
    auto c = fx.make_client();
    std::vector<std::string> models(10, "openai/gpt-4o-mini~latency=30ms");
    std::atomic<int> now{0}, peak{0};
    c.on_call([&](call_record const&) { --now; });
    // Count calls in flight from the client's own counter while the gather runs.
    auto out = run_coro(fx.io, [&]() -> asio::awaitable<std::vector<result<chat_response>>> {
        asio::steady_timer probe(co_await asio::this_coro::executor);
        auto g = gather(c, models, ask("x"), {.max_concurrency = 3});
        co_return co_await std::move(g);
    });
    BOOST_TEST(out.size() == 10u);
    for (auto const& r : out) BOOST_TEST(!!r);
    // Three workers, each on its own pooled connection.
    BOOST_TEST(c.stats().connections_opened <= 3u);
    BOOST_TEST(fx.emu->stats().requests == 10u);
}

BOOST_AUTO_TEST_CASE(variadic_gather) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto [a, b] = run_coro(fx.io, [&] {
        return gather(c.chat(ask("openai/gpt-4o-mini")), c.chat(ask("openai/m~error=429")));
    });
    BOOST_TEST(!!a);
    BOOST_TEST_REQUIRE(!b);
    BOOST_TEST(is(b.error(), error::rate_limited));
}

BOOST_AUTO_TEST_CASE(cancelling_a_gather_cancels_every_branch) {
    emulator_fixture fx;
    auto c = fx.make_client();
    asio::cancellation_signal cancel;
    std::optional<std::vector<result<chat_response>>> out;
    std::vector<std::string> models(4, "openai/m~tokens=500,tps=20");
    asio::co_spawn(
        fx.io,
        [&]() -> asio::awaitable<void> {
            std::vector<chat_request> reqs;
            for (auto const& m : models) {
                reqs.push_back(ask(m));
            }
            auto g = gather(c, std::move(reqs));
            out = co_await std::move(g);
        },
        asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    BOOST_TEST_REQUIRE(run_until(fx.io, [&] { return c.stats().in_flight == 4; }));
    asio::post(fx.io, [&] { cancel.emit(asio::cancellation_type::terminal); });
    BOOST_TEST_REQUIRE(run_until(fx.io, [&] { return out.has_value(); }));
    for (auto const& r : *out) {
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(r.error().code == asio::error::operation_aborted);
    }
    BOOST_TEST(c.stats().connections_open == 0u);
    BOOST_TEST(c.stats().in_flight == 0u);
}

BOOST_AUTO_TEST_CASE(fallback_moves_on_for_retryable_errors) {
    emulator_fixture fx;
    auto c = fx.make_client();
    for (auto bad : {"openai/gpt-4o~error=500", "openai/gpt-4o~error=429",
                     "anthropic/claude-sonnet-4.6~error=529", "openai/gpt-4o~fault=reset",
                     "google/gemini-2.0-flash~error=503"}) {
        BOOST_TEST_CONTEXT(bad) {
            auto r = run_coro(fx.io, [&] {
                return fallback(c, {bad, "deepseek/deepseek-chat"}, ask("x"));
            });
            BOOST_TEST_REQUIRE(!!r, r.error());
            BOOST_TEST(r->requested_model == "deepseek/deepseek-chat");
            BOOST_TEST_REQUIRE(r->attempts.size() == 2u);
            BOOST_TEST(r->attempts[0].model == bad);
            BOOST_TEST(r->attempts[0].error.has_value());
            BOOST_TEST(!r->attempts[1].error);
        }
    }
}

BOOST_AUTO_TEST_CASE(fallback_stops_for_the_callers_mistakes) {
    emulator_fixture fx;
    auto c = fx.make_client();
    for (auto bad : {"openai/gpt-4o~error=400", "openai/gpt-4o~error=401"}) {
        auto r = run_coro(fx.io, [&] { return fallback(c, {bad, "deepseek/deepseek-chat"}, ask("x")); });
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(r.error().diag.attempts.size() == 1u);
    }
    BOOST_TEST(fx.emu->stats().requests == 2u);  // the second candidate was never called
}

BOOST_AUTO_TEST_CASE(fallback_reports_every_attempt_when_all_fail) {
    emulator_fixture fx;
    auto c = fx.make_client();
    std::vector<call_record> records;
    c.on_call([&](call_record const& r) { records.push_back(r); });
    auto r = run_coro(fx.io, [&] {
        return fallback(c, {"openai/a~error=500", "openai/b~error=429", "openai/c~error=503"},
                        ask("x"));
    });
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::all_attempts_failed));
    auto const& at = r.error().diag.attempts;
    BOOST_TEST_REQUIRE(at.size() == 3u);
    BOOST_TEST(is(at[0].error, error::server_error));
    BOOST_TEST(is(at[1].error, error::rate_limited));
    BOOST_TEST(is(at[2].error, error::overloaded));
    BOOST_TEST(r.error().to_string().find("openai/b~error=429 rate_limited 429") != std::string::npos,
               r.error());
    BOOST_TEST_REQUIRE(records.size() == 3u);
    BOOST_TEST(records[0].attempt == 1u);
    BOOST_TEST(records[2].attempt == 3u);
}

BOOST_AUTO_TEST_CASE(per_attempt_timeout_and_deadline) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = run_coro(fx.io, [&] {
        // The per-attempt deadline also bounds the healthy second attempt: generous, so that
        // a loaded machine (sanitizers, CI) cannot make that one time out too.
        return fallback(c, {"openai/slow~latency=30s", "openai/fast"}, ask("x"),
                        {.per_attempt = 2s});
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST_REQUIRE(r->attempts.size() == 2u);
    BOOST_TEST(is(r->attempts[0].error, error::timeout));
    BOOST_TEST(r->attempts[0].error->diag.message.find("per-attempt") != std::string::npos);
    BOOST_TEST(c.stats().connections_open == 1u);  // the timed-out connection was closed

    // The overall deadline ends the fallback even when attempts have time left.
    auto d = run_coro(fx.io, [&] {
        return fallback(c, {"openai/s1~latency=10s", "openai/s2~latency=10s", "openai/s3"},
                        ask("x"), {.per_attempt = 300ms, .deadline = 450ms});
    });
    BOOST_TEST_REQUIRE(!d);
    auto const& at = d.error().diag.attempts;
    BOOST_TEST_REQUIRE(at.size() >= 2u);
    BOOST_TEST(is(at[0].error, error::timeout));
    BOOST_TEST(is(at[1].error, error::timeout));
    BOOST_TEST(at[1].error->diag.message.find("deadline") != std::string::npos, *at[1].error);
    BOOST_TEST(c.stats().in_flight == 0u);  // both stopped attempts were collected
}

BOOST_AUTO_TEST_CASE(context_length_moves_to_a_larger_window) {
    emulator_fixture fx;
    auto cat = std::make_shared<llmux::catalog>(llmux::catalog::built_in());
    BOOST_TEST_REQUIRE(!!cat->load_json(R"({"models":[
        {"id":"openai/tiny","input":1,"output":1,"context":100},
        {"id":"openai/also-tiny","input":1,"output":1,"context":50},
        {"id":"openai/big","input":1,"output":1,"context":1000000}]})"));
    fx.cfg.models = cat;
    auto c = fx.make_client();
    std::string const long_prompt(4000, 'x');
    auto r = run_coro(fx.io, [&] {
        return fallback(c, {"openai/tiny", "openai/also-tiny", "openai/big"}, ask("x", long_prompt));
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->requested_model == "openai/big");
    BOOST_TEST_REQUIRE(r->attempts.size() == 3u);
    BOOST_TEST(is(r->attempts[0].error, error::context_length_exceeded));
    BOOST_TEST(r->attempts[1].error->diag.message.find("skipped") != std::string::npos);
    BOOST_TEST(fx.emu->stats().requests == 1u);  // the tiny ones were refused before sending
}

BOOST_AUTO_TEST_CASE(retry_with_backoff_until_it_passes) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = run_coro(fx.io, [&] {
        return retry(c, ask("openai/flaky~fail_first=2,error=503"),
                     {.max_attempts = 4, .initial_backoff = 10ms, .seed = 7});
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->attempts.size() == 3u);
    BOOST_TEST(is(r->attempts[0].error, error::overloaded));
    BOOST_TEST(!r->attempts[2].error);

    auto e = run_coro(fx.io, [&] {
        return retry(c, ask("openai/down~error=500"), {.max_attempts = 3, .initial_backoff = 1ms});
    });
    BOOST_TEST_REQUIRE(!e);
    BOOST_TEST(is(e.error(), error::all_attempts_failed));
    BOOST_TEST(e.error().diag.attempts.size() == 3u);

    auto bad = run_coro(fx.io, [&] { return retry(c, ask("openai/bad~error=400")); });
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(is(bad.error(), error::bad_request));  // not retried
    BOOST_TEST(bad.error().diag.attempts.size() == 1u);
}

BOOST_AUTO_TEST_CASE(retry_honours_retry_after_within_its_cap_and_the_deadline) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = run_coro(fx.io, [&] {
        return retry(c, ask("openai/a~fail_first=1,error=429,retry_after=300ms"),
                     {.initial_backoff = 1ms});
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    // The wait itself is asserted on a virtual clock (policy_retry); here: the Retry-After
    // reached the policy and the second attempt answered.
    BOOST_TEST_REQUIRE(r->attempts.size() == 2u);
    BOOST_TEST(is(r->attempts[0].error, error::rate_limited));
    BOOST_TEST((r->attempts[0].error->diag.retry_after == std::chrono::milliseconds(300)));
    BOOST_TEST(!r->attempts[1].error);

    // A Retry-After above the cap is waited for only up to the cap (the exact waits are
    // unit-tested: policy_retry, policy_fallback); run_coro's own deadline would catch a 30 s
    // wait.
    auto capped = run_coro(fx.io, [&] {
        return retry(c, ask("openai/b~fail_first=1,error=429,retry_after=30s"),
                     {.initial_backoff = 1ms, .max_retry_after = 100ms});
    }, 20s);
    BOOST_TEST_REQUIRE(!!capped, capped.error());
    BOOST_TEST(capped->attempts.size() == 2u);

    auto late = run_coro(fx.io, [&] {
        return retry(c, ask("openai/c~fail_first=1,error=429,retry_after=30s"),
                     {.initial_backoff = 1ms, .max_retry_after = 60s, .deadline = 1s});
    });
    BOOST_TEST_REQUIRE(!late);  // waiting would pass the deadline: no retry
    BOOST_TEST(late.error().diag.attempts.size() == 1u);
    BOOST_TEST(late.error().diag.attempts[0].error->diag.message.find("no time left") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(hedge_cancels_the_loser) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = run_coro(fx.io, [&] {
        return hedge(c, {"openai/slow~latency=5s", "openai/fast"}, ask("x"), {.delay = 100ms});
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->requested_model == "openai/fast");
    BOOST_TEST_REQUIRE(r->attempts.size() == 2u);
    BOOST_TEST(is(r->attempts[0].error, error::cancelled));
    BOOST_TEST(!r->attempts[1].error);
    // The loser's connection was closed; the winner's stays pooled.
    BOOST_TEST(c.stats().connections_open == 1u);
    BOOST_TEST(c.stats().in_flight == 0u);
}

BOOST_AUTO_TEST_CASE(hedge_first_answer_wins_without_a_second_request) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = run_coro(fx.io, [&] {
        return hedge(c, {"openai/quick", "openai/never"}, ask("x"), {.delay = 2s});
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->attempts.size() == 1u);
    BOOST_TEST(fx.emu->stats().requests == 1u);
    // A failure starts the next candidate at once.
    auto f = run_coro(fx.io, [&] {
        return hedge(c, {"openai/x~error=500", "openai/y"}, ask("x"), {.delay = 10s});
    });
    BOOST_TEST_REQUIRE(!!f, f.error());
    BOOST_TEST(f->requested_model == "openai/y");
    BOOST_TEST_REQUIRE(f->attempts.size() == 2u);
    BOOST_TEST(is(f->attempts[0].error, error::server_error));
}

BOOST_AUTO_TEST_CASE(breaker_opens_skips_and_closes) {
    emulator_fixture fx;
    fx.cfg.breaker = {.enabled = true, .failure_threshold = 3, .window = 60s, .cooldown = 300ms};
    auto c = fx.make_client();
    std::string const sick = "openai/sick~fail_first=3,error=500";
    for (int i = 0; i < 3; ++i) BOOST_TEST(!run_coro(fx.io, [&] { return c.chat(ask(sick)); }));
    BOOST_TEST((c.estimate(sick).circuit == circuit_state::open));
    auto const requests = fx.emu->stats().requests;
    auto r = run_coro(fx.io, [&] { return fallback(c, {sick, "openai/well"}, ask("x")); });
    BOOST_TEST_REQUIRE(!!r);
    BOOST_TEST(is(r->attempts[0].error, error::circuit_open));
    BOOST_TEST(fx.emu->stats().requests == requests + 1);  // the sick model was not called
    // After the cool-down one probe goes through; it succeeds and the circuit closes.
    BOOST_TEST_REQUIRE(run_until(fx.io, [&] { return c.estimate(sick).circuit == circuit_state::half_open; }));
    auto p = run_coro(fx.io, [&] { return fallback(c, {sick, "openai/well"}, ask("x")); });
    BOOST_TEST_REQUIRE(!!p);
    BOOST_TEST(p->requested_model == sick);
    BOOST_TEST((c.estimate(sick).circuit == circuit_state::closed));
}

BOOST_AUTO_TEST_CASE(budget_stops_spending) {
    emulator_fixture fx;
    auto const req = [] {
        auto r = ask("openai/gpt-4o", "a fairly long prompt that costs something");
        r.max_tokens = 20;
        return r;
    }();
    double const budget = 0.002;
    fx.cfg.budget_usd = budget;
    auto c = fx.make_client();
    auto const most = c.max_cost(req);
    BOOST_TEST_REQUIRE(most.has_value());
    int ok = 0;
    std::optional<failure> stop;
    for (int i = 0; i < 100 && !stop; ++i) {
        auto r = run_coro(fx.io, [&] { return c.chat(req); });
        if (r) {
            BOOST_TEST_REQUIRE(r->cost_usd.has_value());
            ++ok;
        } else {
            stop = r.error();
        }
    }
    BOOST_TEST_REQUIRE(stop.has_value());
    BOOST_TEST(is(*stop, error::budget_exceeded));
    BOOST_TEST(ok > 0);
    BOOST_TEST(fx.emu->stats().requests == std::uint64_t(ok));  // nothing sent once refused
    BOOST_TEST(c.totals().cost_usd <= budget);                  // never overshot
    BOOST_TEST(c.totals().cost_usd + *most > budget);           // the refusal was needed
}

BOOST_AUTO_TEST_CASE(concurrent_calls_cannot_overshoot_the_budget) {
    // Each call reserves the most it may cost before it is sent: with a budget that fits one
    // reservation, one of five concurrent calls goes out and the others are refused.
    emulator_config ec;
    ec.scripts["gpt-4o"] = *parse_behaviour("latency=300ms");
    emulator_fixture fx(ec);
    auto req = ask("openai/gpt-4o");
    req.max_tokens = 20;
    auto probe = fx.make_client();
    auto const most = probe.max_cost(req);
    BOOST_TEST_REQUIRE(most.has_value());
    fx.cfg.budget_usd = *most * 1.5;
    auto c = fx.make_client();
    model_list const five(std::vector<std::string>(5, "openai/gpt-4o"));
    auto out = run_coro(fx.io, [&] { return gather(c, five, req); });
    int ok = 0, refused = 0;
    for (auto const& r : out) {
        if (r)
            ++ok;
        else if (is(r.error(), error::budget_exceeded))
            ++refused;
    }
    BOOST_TEST(ok == 1);
    BOOST_TEST(refused == 4);
    BOOST_TEST(fx.emu->stats().requests == 1u);
    BOOST_TEST(c.totals().cost_usd <= *fx.cfg.budget_usd);
}

BOOST_AUTO_TEST_CASE(an_unpriced_model_is_never_free_under_a_budget) {
    emulator_fixture fx;
    fx.cfg.budget_usd = 1.0;
    auto c = fx.make_client();
    auto r = run_coro(fx.io, [&] { return c.chat(ask("openai/not-in-catalog")); });
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::unsupported));
    BOOST_TEST(r.error().diag.message.find("openai/not-in-catalog") != std::string::npos);
    BOOST_TEST(r.error().diag.message.find("unpriced_price") != std::string::npos);
    BOOST_TEST(fx.emu->stats().requests == 0u);
    // With a configured price, it is charged that price.
    fx.cfg.unpriced_price = client_config::price{.input_per_mtok = 100, .output_per_mtok = 200};
    fx.cfg.budget_usd = 10.0;  // the reservation (8192 output tokens at $200/M) must fit
    auto c2 = fx.make_client();
    auto p = run_coro(fx.io, [&] { return c2.chat(ask("openai/not-in-catalog")); });
    BOOST_TEST_REQUIRE(!!p, p.error());
    BOOST_TEST_REQUIRE(p->cost_usd.has_value());
    BOOST_TEST(*p->cost_usd == (*p->usage.input_tokens * 100.0 + *p->usage.output_tokens * 200.0) / 1e6);
    BOOST_TEST(c2.totals().cost_usd == *p->cost_usd);
}

BOOST_AUTO_TEST_CASE(a_stream_dropped_before_its_end_is_charged) {
    emulator_config ec;
    ec.scripts["gpt-4o"] = *parse_behaviour("tokens=400,tps=200");  // 2 s of tokens
    emulator_fixture fx(ec);
    auto c = fx.make_client();
    std::vector<call_record> records;
    c.on_call([&](call_record const& r) { records.push_back(r); });
    auto const failed = run_coro(fx.io, [&]() -> asio::awaitable<result<chat_response>> {
        auto s = c.stream(ask("openai/gpt-4o"));
        for (int i = 0; i < 5; ++i) co_await s.next();
        s.close();  // the caller stops reading
        co_return s.response();
    });
    BOOST_TEST_REQUIRE(!failed);
    BOOST_TEST((failed.error().code == asio::error::operation_aborted));
    BOOST_TEST_REQUIRE(failed.error().diag.cost_usd.has_value());
    BOOST_TEST(*failed.error().diag.cost_usd > 0);
    BOOST_TEST(c.totals().cost_usd == *failed.error().diag.cost_usd);
    BOOST_TEST_REQUIRE(records.size() == 1u);
    BOOST_TEST((records[0].cost_usd == failed.error().diag.cost_usd));
    BOOST_TEST(records[0].usage.output_tokens.value_or(0) > 0u);
}

BOOST_AUTO_TEST_CASE(models_tracked_by_the_client_are_bounded) {
    emulator_fixture fx;
    fx.cfg.max_tracked_models = 8;
    auto c = fx.make_client();
    c.track("openai/pinned");
    for (int i = 0; i < 30; ++i) {
        auto const n = std::to_string(i);
        BOOST_TEST(!run_coro(fx.io, [&] { return c.chat(ask("openai/missing-" + n + "~error=404")); }));
        BOOST_TEST(!!run_coro(fx.io, [&] { return c.chat(ask("openai/ok-" + n)); }));
    }
    auto const m = c.metrics();
    BOOST_TEST(m.size() <= 9u);  // 8, plus the pinned one
    bool pinned = false, newest = false;
    for (auto const& x : m) {
        BOOST_TEST(x.model.find("missing-") == std::string::npos, x.model);
        pinned = pinned || x.model == "openai/pinned";
        newest = newest || x.model == "openai/ok-29";
    }
    BOOST_TEST(pinned);
    BOOST_TEST(newest);
    BOOST_TEST(!c.metrics("openai/ok-0").has_value());  // the oldest was forgotten
    // A model that failed in a way that says something about its health is tracked (its
    // circuit must be able to open).
    BOOST_TEST(!run_coro(fx.io, [&] { return c.chat(ask("openai/down~error=503")); }));
    BOOST_TEST(c.metrics("openai/down~error=503").has_value());
}

BOOST_AUTO_TEST_CASE(client_side_rate_limit_waits_or_refuses) {
    emulator_fixture fx;
    fx.cfg.limits["openai"] = {.requests_per_minute = 2};
    fx.cfg.timeouts.total = 500ms;
    auto c = fx.make_client();
    BOOST_TEST(!!run_coro(fx.io, [&] { return c.chat(ask("openai/a")); }));
    BOOST_TEST(!!run_coro(fx.io, [&] { return c.chat(ask("openai/a")); }));
    auto third = run_coro(fx.io, [&] { return c.chat(ask("openai/a")); });
    BOOST_TEST_REQUIRE(!third);
    BOOST_TEST(is(third.error(), error::rate_limited));
    BOOST_TEST(third.error().diag.message.find("client-side") != std::string::npos);
    BOOST_TEST(fx.emu->stats().requests == 2u);
    // Another provider is not limited.
    BOOST_TEST(!!run_coro(fx.io, [&] { return c.chat(ask("deepseek/deepseek-chat")); }));
}

BOOST_AUTO_TEST_CASE(rate_limit_waits_for_capacity) {
    emulator_fixture fx;
    fx.cfg.limits["openai"] = {.requests_per_minute = 600};  // 10 per second
    auto c = fx.make_client();
    // A burst of 600 is allowed at once, then a refill of one per 100 ms.
    // Beyond the burst each call waits for its token instead of failing (the refill times are
    // asserted on a virtual clock in state_rate_math and policy tests): every call is answered.
    for (int i = 0; i < 603; ++i) BOOST_TEST_REQUIRE(!!run_coro(fx.io, [&] { return c.chat(ask("openai/a")); }));
    BOOST_TEST(fx.emu->stats().requests == 603u);
}

BOOST_AUTO_TEST_CASE(cost_and_totals) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = run_coro(fx.io, [&] { return c.chat(ask("openai/gpt-4o-mini")); });
    BOOST_TEST_REQUIRE(!!r);
    auto const expect = c.models().cost("openai/gpt-4o-mini", r->usage);
    BOOST_TEST_REQUIRE(r->cost_usd.has_value());
    BOOST_TEST(*r->cost_usd == *expect);
    auto u = run_coro(fx.io, [&] { return c.chat(ask("openai/not-in-catalog")); });
    BOOST_TEST_REQUIRE(!!u);
    BOOST_TEST(!u->cost_usd.has_value());  // unknown, never 0
    auto s = fx.stream(c, ask("anthropic/claude-sonnet-4.6"));
    BOOST_TEST_REQUIRE(!!s.response);
    BOOST_TEST(s.response->cost_usd.has_value());
    auto t = c.totals();
    BOOST_TEST(t.calls == 3u);
    BOOST_TEST(t.unknown_cost_calls == 1u);
    BOOST_TEST(t.cost_usd > 0);
    auto m = c.metrics("openai/gpt-4o-mini");
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(m->calls == 1u);
    BOOST_TEST(m->latency.count() == 1u);
}

BOOST_AUTO_TEST_CASE(router_picks_by_price_quality_and_measured_speed) {
    emulator_config ec;
    ec.scripts["gpt-4o"] = *parse_behaviour("latency=80ms");
    ec.scripts["gpt-4o-mini"] = *parse_behaviour("latency=5ms");
    ec.scripts["gemini-2.0-flash"] = *parse_behaviour("latency=40ms");
    emulator_fixture fx(ec);
    auto c = fx.make_client();
    router_config rc;
    rc.candidates = {"openai/gpt-4o", "openai/gpt-4o-mini", "google/gemini-2.0-flash"};
    rc.exploration = 0;
    rc.seed = 1;
    router rt(c, rc);
    auto const req = ask("x");
    BOOST_TEST(rt.rank(req, route::cheapest).front() == "google/gemini-2.0-flash");
    BOOST_TEST(rt.rank(req, route::best).front() == "openai/gpt-4o");
    auto r = run_coro(fx.io, [&] { return rt.chat(req, route::cheapest); });
    BOOST_TEST_REQUIRE(!!r);
    BOOST_TEST(r->requested_model == "google/gemini-2.0-flash");
    // Measure each model, then `fastest` ranks by what was measured.
    for (int i = 0; i < 3; ++i)
        for (auto const& m : rc.candidates) BOOST_TEST_REQUIRE(!!run_coro(fx.io, [&] { return c.chat(ask(m)); }));
    auto const fastest = rt.rank(req, route::fastest);
    BOOST_TEST(fastest[0] == "openai/gpt-4o-mini");
    BOOST_TEST(fastest[1] == "google/gemini-2.0-flash");
    BOOST_TEST(fastest[2] == "openai/gpt-4o");
    // Constraints: vision excludes none here, a price cap excludes gpt-4o.
    auto capped = rt.rank(req, route::best, {.max_price = 1.0});
    BOOST_TEST((std::find(capped.begin(), capped.end(), "openai/gpt-4o") == capped.end()));
    BOOST_TEST(rt.rank(req, route::cheapest, {.allow_providers = {"openai"}}).size() == 2u);
    auto none = run_coro(fx.io, [&] { return rt.chat(req, route::cheapest, {.min_context = 100000000}); });
    BOOST_TEST_REQUIRE(!none);
    BOOST_TEST(none.error().diag.message.find("context") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(router_explores_unmeasured_models) {
    emulator_fixture fx;
    auto c = fx.make_client();
    router_config rc;
    rc.candidates = {"openai/gpt-4o-mini", "google/gemini-2.0-flash"};
    rc.exploration = 1.0;  // always explore while something is unmeasured
    router rt(c, rc);
    for (int i = 0; i < 3; ++i) BOOST_TEST_REQUIRE(!!run_coro(fx.io, [&] { return c.chat(ask("openai/gpt-4o-mini")); }));
    BOOST_TEST(rt.rank(ask("x"), route::fastest).front() == "google/gemini-2.0-flash");
}

BOOST_AUTO_TEST_CASE(router_puts_candidates_without_a_key_last) {
    emulator_fixture fx;
    fx.cfg.providers["google"].credentials.api_key.clear();  // google cannot be called now
    auto c = fx.make_client();
    router_config rc;
    rc.candidates = {"google/gemini-2.0-flash", "openai/gpt-4o"};
    router rt(c, rc);
    auto const req = ask("x");
    // gemini-2.0-flash is the cheapest, but without its key it cannot answer.
    auto const ranked = rt.rank(req, route::cheapest);
    BOOST_TEST_REQUIRE(ranked.size() == 2u);
    BOOST_TEST(ranked[0] == "openai/gpt-4o");
    auto r = run_coro(fx.io, [&] { return rt.chat(req, route::cheapest); });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->requested_model == "openai/gpt-4o");
    // With nothing callable, the error says why.
    router_config only_google;
    only_google.candidates = {"google/gemini-2.0-flash"};
    router rg(c, only_google);
    auto none = run_coro(fx.io, [&] { return rg.chat(req, route::cheapest); });
    BOOST_TEST_REQUIRE(!none);
    BOOST_TEST(none.error().code == make_error_code(error::missing_api_key), none.error());
}

BOOST_AUTO_TEST_CASE(streaming_fallback_moves_on_only_before_content) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto drain = [&](fallback_stream s) {
        return run_coro(fx.io, [&]() -> asio::awaitable<std::pair<std::string, result<chat_response>>> {
            std::string text;
            while (auto ch = co_await s.next()) text += ch->text;
            co_return std::pair<std::string, result<chat_response>>{text, s.response()};
        });
    };
    auto [t1, r1] = drain(stream_fallback(c, {"openai/a~error=503", "openai/b"}, ask("x")));
    BOOST_TEST_REQUIRE(!!r1, r1.error());
    BOOST_TEST(r1->requested_model == "openai/b");
    BOOST_TEST(t1 == r1->content);
    BOOST_TEST(r1->attempts.size() == 2u);

    // After content reached the caller, a failure is final: no splice.
    auto [t2, r2] = drain(stream_fallback(c, {"openai/a~fault=truncate,after=3", "openai/b"}, ask("x")));
    BOOST_TEST_REQUIRE(!r2);
    BOOST_TEST(is(r2.error(), error::truncated));
    BOOST_TEST(!t2.empty());
    BOOST_TEST(r2.error().diag.attempts.size() == 1u);

    // A slow first token moves on when the per-attempt budget runs out.
    auto [t3, r3] = drain(stream_fallback(c, {"openai/a~ttft=30s", "openai/b"}, ask("x"),
                                          {.per_attempt = 2s}));
    BOOST_TEST_REQUIRE(!!r3, r3.error());
    BOOST_TEST(r3->requested_model == "openai/b");
    BOOST_TEST(is(r3->attempts[0].error, error::timeout));
}

BOOST_AUTO_TEST_CASE(cancelling_a_fallback_leaves_no_socket) {
    emulator_fixture fx;
    auto c = fx.make_client();
    asio::cancellation_signal cancel;
    std::optional<result<chat_response>> out;
    asio::co_spawn(
        fx.io,
        [&]() -> asio::awaitable<void> {
            auto f = fallback(c, {"openai/a~tokens=500,tps=20", "openai/b"}, ask("x"));
            out = co_await std::move(f);
        },
        asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    BOOST_TEST_REQUIRE(run_until(fx.io, [&] { return fx.emu->stats().requests == 1; }));
    asio::post(fx.io, [&] { cancel.emit(asio::cancellation_type::terminal); });
    BOOST_TEST_REQUIRE(run_until(fx.io, [&] { return out.has_value(); }));
    BOOST_TEST_REQUIRE(!*out);
    BOOST_TEST(out->error().code == asio::error::operation_aborted);
    BOOST_TEST(c.stats().connections_open == 0u);
    BOOST_TEST(fx.emu->stats().requests == 1u);  // it did not move on to b
}

BOOST_AUTO_TEST_CASE(soak_ten_thousand_fallbacks_with_injected_faults) {
    emulator_config ec;
    ec.scripts["primary"] = *parse_behaviour("error_rate=0.05,error=503");
    emulator_fixture fx(ec, false);
    fx.cfg.pool.max_connections_per_origin = 64;
    fx.cfg.breaker.enabled = false;  // 5 % failures are the point here, not a sick model
    auto c = fx.make_client();
    int const n = 10000;
    std::atomic<int> answered{0}, failed{0}, done{0}, fell_back{0};
    long rss_after_warmup = 0;
    auto one = [&]() -> asio::awaitable<void> {
        auto f = fallback(c, {"openai/primary", "openai/secondary"}, ask("x"));
        auto r = co_await std::move(f);
        if (r) {
            ++answered;
            if (r->attempts.size() == 2) ++fell_back;
        } else {
            ++failed;
        }
        if (++done == 2000) rss_after_warmup = rss_kb();
    };
    int spawned = 0;
    auto spawn_some = [&] {
        while (spawned < n && spawned - done < 100) {
            asio::co_spawn(fx.io, one(), asio::detached);
            ++spawned;
        }
    };
    spawn_some();
    BOOST_TEST_REQUIRE(run_until(
        fx.io,
        [&] {
            spawn_some();
            return done == n;
        },
        std::chrono::seconds(300)));
    BOOST_TEST(answered + failed == n);  // none lost
    BOOST_TEST(failed == 0);              // every fault was absorbed by the fallback
    BOOST_TEST(fell_back > 300);          // about 5 % of 10,000
    BOOST_TEST(fell_back < 800);
    BOOST_TEST(c.stats().in_flight == 0u);
    BOOST_TEST(c.stats().connections_open <= 64u);
    BOOST_TEST(fx.emu->stats().connections_accepted <= 64u + 1);
#if !defined(__SANITIZE_ADDRESS__)
    // Under AddressSanitizer freed memory sits in its quarantine (256 MiB by default), so RSS
    // says nothing there; LeakSanitizer checks that build instead.
    BOOST_TEST(rss_kb() - rss_after_warmup < 32 * 1024,
               "RSS grew by " << (rss_kb() - rss_after_warmup) << " KiB");
#endif
}

// ---------------------------------------------------------------------------------------------
// Composition: retry within fallback, hedging across a fallback list, one deadline

BOOST_AUTO_TEST_CASE(each_candidate_is_retried_before_the_next) {
    emulator_fixture fx;
    auto c = fx.make_client();
    fallback_options o;
    o.retry = retry_options{.max_attempts = 3, .initial_backoff = 1ms, .seed = 3};
    // Two failures, then an answer: the same candidate answers on its third attempt.
    auto r = run_coro(fx.io, [&] {
        return fallback(c, {"openai/flaky~fail_first=2,error=503", "openai/b"}, ask("x"), o);
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->requested_model == "openai/flaky~fail_first=2,error=503");
    BOOST_TEST_REQUIRE(r->attempts.size() == 3u);
    BOOST_TEST(is(r->attempts[0].error, error::overloaded));
    BOOST_TEST(is(r->attempts[1].error, error::overloaded));
    BOOST_TEST(!r->attempts[2].error);
    BOOST_TEST(fx.emu->stats().requests == 3u);
    // A candidate that keeps failing gets its attempts, then the next one answers.
    o.retry->max_attempts = 2;
    auto n = run_coro(fx.io, [&] {
        return fallback(c, {"openai/down~error=500", "openai/b"}, ask("x"), o);
    });
    BOOST_TEST_REQUIRE(!!n, n.error());
    BOOST_TEST_REQUIRE(n->attempts.size() == 3u);
    BOOST_TEST(n->attempts[0].model == "openai/down~error=500");
    BOOST_TEST(n->attempts[1].model == "openai/down~error=500");
    BOOST_TEST(n->attempts[2].model == "openai/b");
    BOOST_TEST(n->requested_model == "openai/b");
    // What is not retryable is neither retried nor moved on from.
    auto bad = run_coro(fx.io, [&] {
        return fallback(c, {"openai/bad~error=400", "openai/b"}, ask("x"), o);
    });
    BOOST_TEST_REQUIRE(!bad);
    BOOST_TEST(is(bad.error(), error::bad_request));
    BOOST_TEST(bad.error().diag.attempts.size() == 1u);
}

BOOST_AUTO_TEST_CASE(hedging_across_a_fallback_list) {
    emulator_fixture fx;
    auto c = fx.make_client();
    fallback_options o;
    o.hedge = hedge_options{.delay = 50ms};
    o.retry = retry_options{.max_attempts = 2, .initial_backoff = 1ms};
    auto r = run_coro(fx.io, [&] {
        return fallback(c, {"openai/slow~latency=30s", "openai/fast"}, ask("x"), o);
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->requested_model == "openai/fast");
    BOOST_TEST_REQUIRE(r->attempts.size() == 2u);
    BOOST_TEST(is(r->attempts[0].error, error::cancelled));
    BOOST_TEST(c.stats().in_flight == 0u);
    BOOST_TEST(c.stats().connections_open == 1u);  // the loser's connection was closed
}

BOOST_AUTO_TEST_CASE(one_deadline_over_retries_and_candidates) {
    emulator_fixture fx;
    auto c = fx.make_client();
    fallback_options o;
    o.deadline = 300ms;
    o.retry = retry_options{.max_attempts = 5, .initial_backoff = 10s};
    // The first backoff (5-10 s) would pass the deadline: no retry, the next candidate.
    auto r = run_coro(fx.io, [&] {
        return fallback(c, {"openai/down~error=503", "openai/up"}, ask("x"), o);
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST_REQUIRE(r->attempts.size() == 2u);
    BOOST_TEST(r->attempts[0].error->diag.message.find("no time left") != std::string::npos);
    BOOST_TEST(r->requested_model == "openai/up");
}

// ---------------------------------------------------------------------------------------------
// One stream type

namespace {
/// Reads any stream to its end: plain and combined streams are one type.
asio::awaitable<std::pair<std::string, result<chat_response>>> drain(chat_stream s) {
    std::string text;
    while (auto ch = co_await s.next()) text += ch->text;
    co_return std::pair<std::string, result<chat_response>>{text, s.response()};
}
}  // namespace

BOOST_AUTO_TEST_CASE(plain_and_combined_streams_are_one_type) {
    emulator_fixture fx;
    auto c = fx.make_client();
    std::vector<chat_stream> streams;
    streams.push_back(c.stream(ask("openai/a")));
    streams.push_back(stream_fallback(c, {"openai/b~error=503", "openai/c"}, ask("x")));
    streams.push_back(chat_stream::failed(failure(error::invalid_request, "no route")));
    auto [t0, r0] = run_coro(fx.io, [&] { return drain(std::move(streams[0])); });
    BOOST_TEST_REQUIRE(!!r0, r0.error());
    BOOST_TEST(t0 == r0->content);
    auto [t1, r1] = run_coro(fx.io, [&] { return drain(std::move(streams[1])); });
    BOOST_TEST_REQUIRE(!!r1, r1.error());
    BOOST_TEST(r1->requested_model == "openai/c");
    BOOST_TEST(t1 == r1->content);
    auto [t2, r2] = run_coro(fx.io, [&] { return drain(std::move(streams[2])); });
    BOOST_TEST(!r2);
    BOOST_TEST(t2.empty());
}

BOOST_AUTO_TEST_CASE(hedging_the_first_token_of_a_stream) {
    emulator_fixture fx;
    auto c = fx.make_client();
    fallback_options o;
    o.hedge = hedge_options{.delay = 50ms};
    auto [text, r] = run_coro(fx.io, [&] {
        return drain(stream_fallback(c, {"openai/slow~ttft=30s", "openai/quick"}, ask("x"), o));
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->requested_model == "openai/quick");
    BOOST_TEST(text == r->content);
    BOOST_TEST_REQUIRE(r->attempts.size() == 2u);
    BOOST_TEST(is(r->attempts[0].error, error::cancelled));
    BOOST_TEST(!r->attempts[1].error);
    BOOST_TEST(c.stats().in_flight == 0u);
}

// ---------------------------------------------------------------------------------------------
// Stream continuation (opt-in)

BOOST_AUTO_TEST_CASE(a_broken_stream_continues_on_the_next_candidate) {
    emulator_fixture fx;
    // The broken model's id carries an emulator script, so the catalog has no price for it:
    // a configured price makes what it is billed for known.
    fx.cfg.unpriced_price = client_config::price{.input_per_mtok = 1, .output_per_mtok = 2};
    auto c = fx.make_client();
    fallback_options o;
    o.continue_streams = true;
    std::string const broken = "openai/gpt-4o-mini~fault=truncate,after=3";
    std::string const claude = "anthropic/claude-3-5-sonnet-20240620";
    // gpt-4o cannot continue a partial answer (OpenAI takes a final assistant message as
    // history): skipped; Claude 3.5 continues it.
    auto [text, r] = run_coro(fx.io, [&] {
        return drain(stream_fallback(c, {broken, "openai/gpt-4o", claude}, ask("x"), o));
    });
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->requested_model == claude);
    BOOST_TEST(text == r->content);  // the caller's text is the answer
    BOOST_TEST(text.starts_with("Emulated answer from"));
    BOOST_TEST(text.find("claude-3-5-sonnet-20240620") != std::string::npos);
    BOOST_TEST((r->finish_reason == finish_reason::stop));
    BOOST_TEST_REQUIRE(r->continuations.size() == 1u);
    BOOST_TEST(r->continuations[0].from == broken);
    BOOST_TEST(r->continuations[0].by == claude);
    BOOST_TEST(r->continuations[0].at == std::string("Emulated answer from").size());
    BOOST_TEST_REQUIRE(r->attempts.size() == 3u);
    BOOST_TEST(is(r->attempts[0].error, error::truncated));
    BOOST_TEST_REQUIRE(r->attempts[0].error->diag.cost_usd.has_value());  // the broken part
    BOOST_TEST(*r->attempts[0].error->diag.cost_usd > 0.0);                // is billed
    BOOST_TEST(is(r->attempts[1].error, error::unsupported));
    BOOST_TEST(r->attempts[1].model == "openai/gpt-4o");
    BOOST_TEST(!r->attempts[2].error);
    // The partial answer went to Claude as a prefill: its prompt is larger than the same
    // request's without one.
    auto plain = run_coro(fx.io, [&] { return c.chat(ask(claude)); });
    BOOST_TEST_REQUIRE(!!plain);
    BOOST_TEST(*r->usage.input_tokens > *plain->usage.input_tokens);
}

BOOST_AUTO_TEST_CASE(without_a_candidate_that_takes_a_prefill_the_break_stays_an_error) {
    emulator_fixture fx;
    auto c = fx.make_client();
    fallback_options o;
    o.continue_streams = true;
    // Claude 4.6 refuses a prefill; Gemini and OpenAI do not continue one.
    auto [text, r] = run_coro(fx.io, [&] {
        return drain(stream_fallback(c,
                                     {"openai/a~fault=truncate,after=2",
                                      "anthropic/claude-sonnet-4.6", "google/gemini-2.0-flash"},
                                     ask("x"), o));
    });
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::truncated));
    BOOST_TEST(r.error().diag.message.find("not continued") != std::string::npos, r.error());
    BOOST_TEST(!text.empty());
    BOOST_TEST(r.error().diag.attempts.size() == 3u);
    BOOST_TEST(fx.emu->stats().requests == 1u);  // nothing else was sent
}

// ---------------------------------------------------------------------------------------------
// Adaptive concurrency

BOOST_AUTO_TEST_CASE(adaptive_concurrency_keeps_429s_from_the_caller) {
    // A provider that refuses (429) whatever runs beyond 4 requests at once.
    emulator_config ec;
    ec.scripts["gpt-4o-mini"] = *parse_behaviour("max_concurrency=4,latency=150ms");
    int const n = 24;
    model_list const burst(std::vector<std::string>(n, "openai/gpt-4o-mini"));
    {
        // Without the limiter, a burst provokes refusals that reach the caller.
        emulator_fixture fx(ec);
        auto c = fx.make_client();
        auto out = run_coro(fx.io, [&] { return gather(c, burst, ask("x")); });
        int refused = 0;
        for (auto const& r : out) refused += !r && is(r.error(), error::rate_limited);
        BOOST_TEST(refused > 0);
        BOOST_TEST(refused == static_cast<int>(fx.emu->stats().concurrency_refusals));
    }
    emulator_fixture fx(ec);
    fx.cfg.concurrency.enabled = true;
    fx.cfg.concurrency.initial_limit = 2;
    fx.cfg.concurrency.max_requeues = 10;
    auto c = fx.make_client();
    auto out = run_coro(fx.io, [&] { return gather(c, burst, ask("x")); }, 120s);
    int ok = 0;
    for (auto const& r : out) ok += r.has_value();
    BOOST_TEST(ok == n);  // no 429 reached the caller
    auto const st = fx.emu->stats();
    // The limiter grew from 2 to the provider's capacity and found its edge without a storm.
    BOOST_TEST(st.peak_concurrency == 4u);
    BOOST_TEST(st.concurrency_refusals <= static_cast<std::uint64_t>(n / 3));
    BOOST_TEST(st.requests == n + st.concurrency_refusals);
    auto const limits = c.concurrency();
    BOOST_TEST_REQUIRE(limits.size() == 1u);
    BOOST_TEST(limits[0].provider == "openai");
    BOOST_TEST(limits[0].in_flight == 0u);
    BOOST_TEST(limits[0].queued == 0u);
    BOOST_TEST(limits[0].requeued == st.concurrency_refusals);
    BOOST_TEST(limits[0].limit >= 1u);
    auto const m = c.metrics("openai/gpt-4o-mini");
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST_REQUIRE(m->concurrency_limit.has_value());
    BOOST_TEST(*m->concurrency_limit == limits[0].limit);
}

BOOST_AUTO_TEST_SUITE_END()
