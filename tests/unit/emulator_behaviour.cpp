// SPDX-License-Identifier: BSL-1.0
// Emulator behaviour directives: parsing of every key, errors naming the bad directive,
// precedence (defaults, scripts, model suffix, header), failure selection and the planned
// answers. No sockets.
#include "emulator/plan.hpp"

#include <llmux/emulator.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

using namespace std::chrono_literals;
using behaviour = llmux::emulator_behaviour;
using fault = llmux::emulator_behaviour::fault_kind;

namespace {

behaviour parse_ok(std::string_view d, behaviour base = {}) {
    auto r = llmux::parse_behaviour(d, std::move(base));
    BOOST_TEST_REQUIRE(r.has_value(), "'" << d << "' should parse: " << r.error().to_string());
    return std::move(*r);
}

/// The directive must be rejected with invalid_config and a message naming `names`.
void parse_bad(std::string_view d, std::string_view names) {
    auto r = llmux::parse_behaviour(d);
    BOOST_TEST_REQUIRE(r.has_error(), "'" << d << "' should be rejected");
    BOOST_TEST(r.error().code == llmux::make_error_code(llmux::error::invalid_config));
    auto const& msg = r.error().diag.message;
    BOOST_TEST(msg.find(names) != std::string::npos,
               "message '" << msg << "' names '" << names << "'");
}

llmux::detail::emu_request request(std::string model, std::string user) {
    llmux::detail::emu_request r;
    r.model = std::move(model);
    r.prompt_chars = user.size();
    r.last_user_text = std::move(user);
    return r;
}

std::string pieces_joined(llmux::detail::emu_answer const& a) {
    std::string s;
    for (std::size_t i = 0; i < a.piece_count(); ++i)
        s += a.piece(i);
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(emulator_behaviour)

BOOST_AUTO_TEST_CASE(empty_directives_keep_the_base) {
    behaviour base;
    base.tokens_per_second = 7;
    base.error_status = 503;
    auto const b = parse_ok("", base);
    BOOST_TEST(b.tokens_per_second == 7);
    BOOST_TEST(b.error_status == 503u);
    auto const c = parse_ok(" , ,", base);
    BOOST_TEST(c.error_status == 503u);
}

BOOST_AUTO_TEST_CASE(durations) {
    auto const b = parse_ok("latency=250ms,ttft=1.5s,retry_after=2s");
    BOOST_TEST((b.latency == 250ms));
    BOOST_TEST((b.ttft == 1500ms));
    BOOST_TEST_REQUIRE(b.retry_after.has_value());
    BOOST_TEST((*b.retry_after == 2s));
    // A bare number is seconds, as parse_duration says; keys may use '-' for '_'.
    auto const c = parse_ok("ttft=2, retry-after=100ms");
    BOOST_TEST((c.ttft == 2s));
    BOOST_TEST((*c.retry_after == 100ms));
}

BOOST_AUTO_TEST_CASE(every_numeric_key) {
    auto const b = parse_ok("tps=50,error=429,after=3,tokens=40,fail_first=2,error_rate=0.25");
    BOOST_TEST(b.tokens_per_second == 50);
    BOOST_TEST(b.error_status == 429u);
    BOOST_TEST(b.fault_after == 3u);
    BOOST_TEST(b.output_tokens == 40u);
    BOOST_TEST(b.fail_first == 2u);
    BOOST_TEST(b.error_rate == 0.25);
    BOOST_TEST(parse_ok("tps=12.5").tokens_per_second == 12.5);
    BOOST_TEST(parse_ok("error=0", b).error_status == 0u);  // clears a base error
}

BOOST_AUTO_TEST_CASE(every_fault) {
    BOOST_TEST((parse_ok("fault=reset").fault == fault::reset_before_headers));
    BOOST_TEST((parse_ok("fault=reset_mid").fault == fault::reset_mid_stream));
    BOOST_TEST((parse_ok("fault=truncate").fault == fault::truncate));
    BOOST_TEST((parse_ok("fault=malformed").fault == fault::malformed_json));
    BOOST_TEST((parse_ok("fault=stall").fault == fault::stall));
    BOOST_TEST((parse_ok("fault=error_mid").fault == fault::error_mid_stream));
    BOOST_TEST((parse_ok("fault=close").fault == fault::close_after_response));
    behaviour base;
    base.fault = fault::stall;
    BOOST_TEST((parse_ok("fault=none", base).fault == fault::none));
    BOOST_TEST(behaviour{}.fault_after == 2u);  // documented default
}

BOOST_AUTO_TEST_CASE(reply_takes_the_rest_commas_included) {
    auto const b = parse_ok("tokens=3, reply=Hello, world, again");
    BOOST_TEST(b.reply == "Hello, world, again");
    BOOST_TEST(b.output_tokens == 3u);
    BOOST_TEST(parse_ok("reply=").reply.empty());
}

BOOST_AUTO_TEST_CASE(later_directives_win) {
    auto const b = parse_ok("error=500,error=503,ttft=1s,ttft=10ms");
    BOOST_TEST(b.error_status == 503u);
    BOOST_TEST((b.ttft == 10ms));
}

BOOST_AUTO_TEST_CASE(bad_directives_name_themselves) {
    parse_bad("ttft=fast", "ttft=fast");
    parse_bad("latency=-1s", "latency=-1s");
    parse_bad("retry_after=soon", "retry_after=soon");
    parse_bad("tps=-3", "tps=-3");
    parse_bad("tps=abc", "tps=abc");
    parse_bad("error=200", "error=200");
    parse_bad("error=4299", "error=4299");
    parse_bad("error=x", "error=x");
    parse_bad("fault=explode", "fault=explode");
    parse_bad("after=-1", "after=-1");
    parse_bad("tokens=2000000", "tokens=2000000");
    parse_bad("tokens=ten", "tokens=ten");
    parse_bad("fail_first=1.5", "fail_first=1.5");
    parse_bad("error_rate=1.5", "error_rate=1.5");
    parse_bad("error_rate=-0.1", "error_rate=-0.1");
    parse_bad("speed=9", "speed=9");
    parse_bad("ttft", "ttft");
    parse_bad("ttft=1s,bogus", "bogus");
    // The message says which keys exist.
    auto r = llmux::parse_behaviour("colour=red");
    BOOST_TEST(r.error().diag.message.find("latency") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(base_model_strips_directives) {
    BOOST_TEST(llmux::detail::base_model("gpt-4o-mini~ttft=1s,error=429") == "gpt-4o-mini");
    BOOST_TEST(llmux::detail::base_model("gpt-4o-mini") == "gpt-4o-mini");
    BOOST_TEST(llmux::detail::base_model("openai/gpt-4o~") == "openai/gpt-4o");
}

BOOST_AUTO_TEST_CASE(precedence_defaults_scripts_model_header) {
    llmux::emulator_config cfg;
    cfg.defaults = parse_ok("latency=1s,tps=10");
    cfg.scripts["scripted"] = parse_ok("ttft=200ms,error=503");

    // Defaults alone.
    auto b = llmux::detail::resolve_behaviour(cfg, "plain", "");
    BOOST_TEST_REQUIRE(b.has_value());
    BOOST_TEST((b->latency == 1s));
    BOOST_TEST(b->tokens_per_second == 10);

    // A script replaces the defaults.
    b = llmux::detail::resolve_behaviour(cfg, "scripted", "");
    BOOST_TEST_REQUIRE(b.has_value());
    BOOST_TEST((b->latency == 0s));
    BOOST_TEST((b->ttft == 200ms));
    BOOST_TEST(b->error_status == 503u);

    // Model directives override the script; the script is found by the base name.
    b = llmux::detail::resolve_behaviour(cfg, "scripted~error=429,tps=5", "");
    BOOST_TEST_REQUIRE(b.has_value());
    BOOST_TEST(b->error_status == 429u);
    BOOST_TEST((b->ttft == 200ms));
    BOOST_TEST(b->tokens_per_second == 5);

    // The header overrides everything.
    b = llmux::detail::resolve_behaviour(cfg, "scripted~error=429", "error=0,ttft=5ms");
    BOOST_TEST_REQUIRE(b.has_value());
    BOOST_TEST(b->error_status == 0u);
    BOOST_TEST((b->ttft == 5ms));

    // Bad directives in either place are errors that name them.
    auto bad = llmux::detail::resolve_behaviour(cfg, "plain~ttft=x", "");
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST(bad.error().diag.message.find("ttft=x") != std::string::npos);
    bad = llmux::detail::resolve_behaviour(cfg, "plain", "fault=boom");
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST(bad.error().diag.message.find("fault=boom") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(failure_selection) {
    using llmux::detail::selected_for_failure;
    behaviour always;
    always.error_status = 500;
    for (std::uint64_t n = 0; n < 5; ++n)
        BOOST_TEST(selected_for_failure(always, n));

    behaviour first;
    first.fail_first = 2;
    BOOST_TEST(selected_for_failure(first, 0));
    BOOST_TEST(selected_for_failure(first, 1));
    BOOST_TEST(!selected_for_failure(first, 2));
    BOOST_TEST(!selected_for_failure(first, 100));

    behaviour rate;
    rate.error_rate = 0.25;
    int fails = 0;
    for (std::uint64_t n = 0; n < 100; ++n)
        fails += selected_for_failure(rate, n) ? 1 : 0;
    BOOST_TEST(fails == 25);
    // Evenly spread and repeatable: every fourth request.
    BOOST_TEST(!selected_for_failure(rate, 0));
    BOOST_TEST(selected_for_failure(rate, 3));
    BOOST_TEST(!selected_for_failure(rate, 4));
    BOOST_TEST(selected_for_failure(rate, 7));

    behaviour all;
    all.error_rate = 1;
    for (std::uint64_t n = 0; n < 5; ++n)
        BOOST_TEST(selected_for_failure(all, n));
}

BOOST_AUTO_TEST_CASE(tokens_are_words_with_their_leading_space) {
    std::vector<std::uint32_t> ends;
    llmux::detail::split_tokens("Hello big  world", ends);
    BOOST_TEST(ends.size() == 3u);
    BOOST_TEST(ends[0] == 5u);   // "Hello"
    BOOST_TEST(ends[1] == 9u);   // " big"
    BOOST_TEST(ends[2] == 16u);  // "  world"
    llmux::detail::split_tokens("", ends);
    BOOST_TEST(ends.empty());
}

BOOST_AUTO_TEST_CASE(default_answer_names_the_model_and_echoes_the_prompt) {
    auto const req = request("gpt-4o-mini~ttft=1ms", "Introduce Python in one sentence");
    auto const a = llmux::detail::plan_answer(req, {}, 7, 1700000000);
    BOOST_TEST(a.model == "gpt-4o-mini");
    BOOST_TEST(a.text == "Emulated answer from gpt-4o-mini to: Introduce Python in one sentence");
    BOOST_TEST(a.piece_count() == 10u);
    BOOST_TEST(a.piece(0) == "Emulated");
    BOOST_TEST(a.piece(1) == " answer");
    BOOST_TEST(pieces_joined(a) == a.text);
    BOOST_TEST(a.completion_tokens == 10u);
    BOOST_TEST(a.prompt_tokens == 8u);  // ceil(32 / 4)
    BOOST_TEST((a.finish == llmux::detail::emu_finish::stop));

    // Long prompts are echoed by their first words only; empty ones not at all.
    auto const long_req =
        request("m", "one two three four five six seven eight nine ten eleven twelve thirteen");
    BOOST_TEST(llmux::detail::plan_answer(long_req, {}, 1, 0).text.find("thirteen") ==
               std::string::npos);
    auto const empty = llmux::detail::plan_answer(request("m", ""), {}, 1, 0);
    BOOST_TEST(empty.text == "Emulated answer from m.");
    BOOST_TEST(empty.prompt_tokens == 1u);
}

BOOST_AUTO_TEST_CASE(tokens_reply_and_max_tokens) {
    auto req = request("m", "hi");
    auto const n = llmux::detail::plan_answer(req, parse_ok("tokens=40"), 1, 0);
    BOOST_TEST(n.piece_count() == 40u);
    BOOST_TEST(n.piece(0) == "Lorem");

    auto const r = llmux::detail::plan_answer(req, parse_ok("reply=Yes, indeed."), 1, 0);
    BOOST_TEST(r.text == "Yes, indeed.");
    BOOST_TEST(r.completion_tokens == 2u);

    req.max_tokens = 5;
    auto const cut = llmux::detail::plan_answer(req, parse_ok("tokens=40"), 1, 0);
    BOOST_TEST(cut.piece_count() == 5u);
    BOOST_TEST(cut.completion_tokens == 5u);
    BOOST_TEST((cut.finish == llmux::detail::emu_finish::length));
    BOOST_TEST(cut.sent_text() == "Lorem ipsum dolor sit amet");
}

BOOST_AUTO_TEST_CASE(tool_call_arguments_follow_the_schema) {
    auto const doc = boost::json::parse(R"({
        "type":"object",
        "properties":{"city":{"type":"string"},"days":{"type":"integer"},"metric":{"type":"boolean"},
                      "tags":{"type":"array"},"where":{"type":"object","properties":{"lat":{"type":"number"}},"required":["lat"]},
                      "unit":{"type":"string","enum":["c","f"]},"note":{"type":["string","null"]},"opt":{"type":"string"}},
        "required":["city","days","metric","tags","where","unit","note"]})");
    auto req = request("m", "weather?");
    req.tools.push_back({"get_weather", &doc.as_object()});
    auto const a = llmux::detail::plan_answer(req, {}, 3, 0);
    BOOST_TEST(a.tool_call);
    BOOST_TEST(a.tool_name == "get_weather");
    BOOST_TEST((a.finish == llmux::detail::emu_finish::tool_calls));
    auto const args = boost::json::parse(a.text);
    BOOST_TEST(
        args ==
        boost::json::parse(
            R"({"city":"example","days":1,"metric":true,"tags":[],"where":{"lat":1},"unit":"c","note":"example"})"));
    BOOST_TEST(a.piece_count() > 1u);  // arguments are streamed in pieces

    // tool_choice none: text; a tool result last: text quoting it.
    req.tool_choice = llmux::detail::emu_request::tool_mode::none;
    BOOST_TEST(!llmux::detail::plan_answer(req, {}, 3, 0).tool_call);
    req.tool_choice = llmux::detail::emu_request::tool_mode::automatic;
    req.last_is_tool_result = true;
    req.tool_result = R"({"temp_c":4})";
    auto const after = llmux::detail::plan_answer(req, {}, 3, 0);
    BOOST_TEST(!after.tool_call);
    BOOST_TEST(after.text.find(R"({"temp_c":4})") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(named_tool_choice) {
    auto const p = boost::json::parse(
        R"({"type":"object","properties":{"q":{"type":"string"}},"required":["q"]})");
    auto req = request("m", "x");
    req.tools.push_back({"first", nullptr});
    req.tools.push_back({"second", &p.as_object()});
    req.tool_choice = llmux::detail::emu_request::tool_mode::named;
    req.tool_choice_name = "second";
    auto const a = llmux::detail::plan_answer(req, {}, 1, 0);
    BOOST_TEST(a.tool_name == "second");
    BOOST_TEST(boost::json::parse(a.text) == boost::json::parse(R"({"q":"example"})"));
    req.tool_choice_name = "first";
    BOOST_TEST(llmux::detail::plan_answer(req, {}, 1, 0).text == "{}");
}

BOOST_AUTO_TEST_CASE(json_answers) {
    auto req = request("m", "give me json");
    req.response_format = llmux::detail::emu_request::format::json_object;
    auto const o = llmux::detail::plan_answer(req, {}, 1, 0);
    auto const ov = boost::json::parse(o.text);
    BOOST_TEST(ov.at("answer").as_string().starts_with("Emulated answer from m"));

    auto const schema = boost::json::parse(
        R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]})");
    req.response_format = llmux::detail::emu_request::format::json_schema;
    req.schema = &schema.as_object();
    auto const s = llmux::detail::plan_answer(req, {}, 1, 0);
    BOOST_TEST(boost::json::parse(s.text) == boost::json::parse(R"({"name":"example","age":1})"));
    BOOST_TEST(s.piece_count() == 4u);
}

BOOST_AUTO_TEST_CASE(jitter_spreads_delays_upwards_deterministically) {
    using llmux::parse_behaviour;
    namespace detail = llmux::detail;
    auto b = parse_behaviour("ttft=100ms,jitter=0.5");
    BOOST_TEST_REQUIRE(!!b);
    BOOST_TEST(b->jitter == 0.5);
    BOOST_TEST(!parse_behaviour("jitter=-1"));
    BOOST_TEST(!parse_behaviour("jitter=x"));
    BOOST_TEST(detail::jitter_factor(0, 7) == 1.0);
    // 1 + 0.5 E with E ~ exponential(1): never below 1, mean 1.5, median 1 + 0.5 ln 2.
    double sum = 0, low = 1e9;
    int below_median = 0;
    int const n = 20000;
    for (int i = 0; i < n; ++i) {
        double const f = detail::jitter_factor(0.5, static_cast<std::uint64_t>(i));
        BOOST_TEST(f == detail::jitter_factor(0.5, static_cast<std::uint64_t>(i)));
        sum += f;
        low = std::min(low, f);
        if (f < 1 + 0.5 * std::log(2.0)) ++below_median;
    }
    BOOST_TEST(low >= 1.0);
    BOOST_TEST(sum / n > 1.47);
    BOOST_TEST(sum / n < 1.53);
    BOOST_TEST(below_median > n * 0.47);
    BOOST_TEST(below_median < n * 0.53);
}

BOOST_AUTO_TEST_SUITE_END()
