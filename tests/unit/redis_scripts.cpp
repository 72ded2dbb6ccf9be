// SPDX-License-Identifier: BSL-1.0
// The Redis store's script calls without a server: the keys and arguments each operation
// sends, the EVALSHA/EVAL bytes, NOSCRIPT detection, and the parsing of every reply shape
// (including malformed ones, which must be failures, never guesses).
#include "state/redis_scripts.hpp"

#include "state/rate_math.hpp"

#include "common/state_conformance.hpp"

#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>

using namespace llmux;
using namespace llmux::detail;
using namespace std::chrono_literals;
using rv = resp_value;

namespace {

redis_keys const keys{"llmux:"};

std::vector<std::string> strings(std::initializer_list<char const*> l) {
    return {l.begin(), l.end()};
}

rv ints(std::initializer_list<std::int64_t> l) {
    std::vector<rv> e;
    for (auto i : l)
        e.push_back(rv::of_integer(i));
    return rv::of_array(std::move(e));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_scripts)

BOOST_AUTO_TEST_CASE(scripts_are_named_by_their_sha1) {
    for (auto const* s : {&reserve_script(), &settle_script(), &spend_script(), &rate_script(),
                          &breaker_script(), &latency_script()}) {
        BOOST_TEST(s->sha1.size() == 40u);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_Digest(s->body.data(), s->body.size(), md, &len, EVP_sha1(), nullptr);
        char hex[41];
        for (unsigned i = 0; i < len; ++i)
            std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
        BOOST_TEST(s->sha1 == std::string(hex, 40), s->name);
    }
    BOOST_TEST(reserve_script().sha1 != settle_script().sha1);
    // The name the scripts sum extra models under is the one the API documents.
    BOOST_TEST(settle_script().body.find("'" + std::string(other_model) + "'") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(reserve_sends_the_budget_keys_and_figures) {
    auto c =
        reserve_call(keys, "team-a", "00ff", 400, nano_usd(1000), 60'000'000, 50, std::nullopt);
    BOOST_TEST(c.script == &reserve_script());
    BOOST_TEST(c.keys == strings({"llmux:k:team-a", "llmux:r:team-a"}),
               boost::test_tools::per_element());
    BOOST_TEST(c.args == strings({"", "00ff", "400", "1000", "60000000", "50"}),
               boost::test_tools::per_element());
    // No budget is -1; a clock override is passed in µs.
    c = reserve_call(keys, "k", "id", 0, std::nullopt, 1000, 5, 1'700'000'000'000'000);
    BOOST_TEST(c.args == strings({"1700000000000000", "id", "0", "-1", "1000", "5"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(settle_sends_the_member_and_every_model) {
    budget_reservation r;
    r.key = "team-a";
    r.id = "abc";
    r.amount = 400;
    r.expires_at = from_us(1'700'000'060'000'000);
    settlement s;
    s.costs = {{"openai/gpt-4o", 100}, {"anthropic/claude", 50}};
    auto c = settle_call(keys, r, s, 3, std::nullopt);
    BOOST_TEST(c.keys == strings({"llmux:k:team-a", "llmux:r:team-a", "llmux:km:team-a"}),
               boost::test_tools::per_element());
    BOOST_TEST(c.args == strings({"", "abc:400", "400", "1700000060000000", "3", "2",
                                  "openai/gpt-4o", "100", "anthropic/claude", "50"}),
               boost::test_tools::per_element());
    // A charge without reservation has no member.
    budget_reservation none;
    none.key = "k";
    c = settle_call(keys, none, settlement{}, 3, 5);
    BOOST_TEST(c.args[0] == "5");
    BOOST_TEST(c.args[1] == "");
    BOOST_TEST(c.args[5] == "0");
}

BOOST_AUTO_TEST_CASE(rate_take_and_correct_share_one_script) {
    auto c = rate_call(keys, "team-a", rate_quota{7, 1000}, 300, std::nullopt);
    BOOST_TEST(c.script == &rate_script());
    BOOST_TEST(c.keys == strings({"llmux:rl:team-a"}), boost::test_tools::per_element());
    BOOST_TEST(c.args == strings({"", "7", "1000", "300", "take", "0"}),
               boost::test_tools::per_element());
    c = rate_correct_call(keys, "team-a", rate_quota{7, 1000}, -250, 9);
    BOOST_TEST(c.script == &rate_script());
    BOOST_TEST(c.args == strings({"9", "7", "1000", "0", "correct", "-250"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(health_calls_carry_times_in_microseconds) {
    breaker_snapshot b{circuit_state::half_open, 4, from_us(2'000'000), from_us(1'000'000)};
    auto c = breaker_call(keys, "openai/gpt-4o", b, 3600s);
    BOOST_TEST(c.keys == strings({"llmux:m:openai/gpt-4o"}), boost::test_tools::per_element());
    BOOST_TEST(c.args == strings({"", "2", "4", "2000000", "1000000", "3600000"}),
               boost::test_tools::per_element());
    c = latency_call(keys, "m", latency_sample{1500us, 9000us}, 0.2, 1000ms);
    BOOST_TEST(c.args == strings({"", "1500", "9000", "0.20000000000000001", "1000"}),
               boost::test_tools::per_element());
    BOOST_TEST(health_command(keys, "m") ==
                   strings({"HMGET", "llmux:m:m", "bs", "bf", "bo", "bu", "lt", "ll", "ln"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(evalsha_and_eval_bytes) {
    script_call c{&rate_script(), {"k1"}, {"a", "b"}};
    std::string const sha = rate_script().sha1;
    BOOST_TEST(encode_evalsha(c) == format_command({"EVALSHA", sha, "1", "k1", "a", "b"}));
    BOOST_TEST(encode_eval(c) == format_command({"EVAL", rate_script().body, "1", "k1", "a", "b"}));
    BOOST_TEST(is_noscript(rv::of_error("NOSCRIPT No matching script. Please use EVAL.")));
    BOOST_TEST(!is_noscript(rv::of_error("ERR something else")));
    BOOST_TEST(!is_noscript(rv::of_string("NOSCRIPT")));
}

BOOST_AUTO_TEST_CASE(reserve_replies) {
    auto g = parse_reserve(ints({1, 150, 600, 1'700'000'060'000'000}), "team", "id1", 250);
    BOOST_TEST_REQUIRE(g.has_value());
    BOOST_TEST_REQUIRE(g->granted());
    BOOST_TEST(g->spent == 150);
    BOOST_TEST(g->reserved == 600);
    BOOST_TEST(g->reservation->key == "team");
    BOOST_TEST(g->reservation->id == "id1");
    BOOST_TEST(g->reservation->amount == 250);
    BOOST_TEST(to_us(g->reservation->expires_at) == 1'700'000'060'000'000);
    auto no = parse_reserve(ints({0, 150, 850, 0}), "team", "id2", 1);
    BOOST_TEST_REQUIRE(no.has_value());
    BOOST_TEST(!no->granted());
    BOOST_TEST(no->reserved == 850);
    auto full = parse_reserve(ints({-1, 0, 0, 50}), "team", "id3", 1);
    BOOST_TEST_REQUIRE(!full.has_value());
    BOOST_TEST((full.error().code == make_error_code(state_error::full)));
    BOOST_TEST(full.error().diag.message.find("max_reservations_per_key") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(settle_and_spend_replies) {
    auto s = parse_settle(ints({1, 150}));
    BOOST_TEST_REQUIRE(s.has_value());
    BOOST_TEST(s->status == settle_status::settled);
    BOOST_TEST(s->spent == 150);
    BOOST_TEST(parse_settle(ints({2, 150}))->status == settle_status::duplicate);
    BOOST_TEST(parse_settle(ints({3, 150}))->status == settle_status::late);
    BOOST_TEST(!parse_settle(ints({4, 150})).has_value());

    auto models = rv::of_array({rv::of_string("b/m"), rv::of_string("50"), rv::of_string("a/m"),
                                rv::of_string("100"), rv::of_string("c/m"), rv::of_string("50")});
    auto sp = parse_spend(rv::of_array(
        {rv::of_integer(200), rv::of_integer(30), rv::of_integer(2), std::move(models)}));
    BOOST_TEST_REQUIRE(sp.has_value());
    BOOST_TEST(sp->spent == 200);
    BOOST_TEST(sp->reserved == 30);
    BOOST_TEST(sp->reservations == 2u);
    std::vector<model_cost> const want{{"a/m", 100}, {"b/m", 50}, {"c/m", 50}};
    BOOST_TEST((sp->by_model == want));  // largest first, then by name
    auto odd = rv::of_array({rv::of_integer(1), rv::of_integer(0), rv::of_integer(0),
                             rv::of_array({rv::of_string("m"), rv::of_string("x1")})});
    BOOST_TEST(!parse_spend(odd).has_value());
}

BOOST_AUTO_TEST_CASE(rate_latency_and_health_replies) {
    auto yes = parse_rate(ints({1, 0}));
    BOOST_TEST_REQUIRE(yes.has_value());
    BOOST_TEST(yes->allowed);
    auto no = parse_rate(ints({0, 8'571'429}));
    BOOST_TEST_REQUIRE(no.has_value());
    BOOST_TEST(!no->allowed);
    BOOST_TEST(no->retry_after.count() == 8572);

    auto l = parse_latency(ints({125'000, 300'000, 2}));
    BOOST_TEST_REQUIRE(l.has_value());
    BOOST_TEST(l->ttft->count() == 125'000);
    BOOST_TEST(l->samples == 2u);

    auto s = [](char const* x) { return rv::of_string(x); };
    auto h = parse_health(rv::of_array(
        {s("1"), s("5"), s("30000000"), s("10000000"), s("125000"), s("300000"), s("2")}));
    BOOST_TEST_REQUIRE(h.has_value());
    BOOST_TEST_REQUIRE(h->breaker.has_value());
    BOOST_TEST((h->breaker->state == circuit_state::open));
    BOOST_TEST(h->breaker->recent_failures == 5u);
    BOOST_TEST(to_us(h->breaker->open_until) == 30'000'000);
    BOOST_TEST(h->latency.latency->count() == 300'000);
    // Nothing stored: empty, not zero.
    auto empty = parse_health(rv::of_array({rv{}, rv{}, rv{}, rv{}, rv{}, rv{}, rv{}}));
    BOOST_TEST_REQUIRE(empty.has_value());
    BOOST_TEST(!empty->breaker.has_value());
    BOOST_TEST(!empty->latency.ttft.has_value());
    BOOST_TEST(empty->latency.samples == 0u);
    BOOST_TEST(!parse_health(rv::of_array({s("9"), s("0"), s("0"), s("0"), rv{}, rv{}, rv{}}))
                    .has_value());
}

BOOST_AUTO_TEST_CASE(script_errors_name_the_script) {
    auto r = parse_settle(rv::of_error("ERR Error running script: boom"));
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == make_error_code(state_error::protocol)));
    BOOST_TEST(r.error().diag.message.find("'settle'") != std::string::npos);
    BOOST_TEST(r.error().diag.message.find("boom") != std::string::npos);
    auto bad = parse_reserve(rv::of_string("hello"), "k", "id", 1);
    BOOST_TEST_REQUIRE(!bad.has_value());
    BOOST_TEST((bad.error().code == make_error_code(state_error::protocol)));
}

BOOST_AUTO_TEST_SUITE_END()
