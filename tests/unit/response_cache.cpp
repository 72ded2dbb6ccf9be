// SPDX-License-Identifier: BSL-1.0
// The gateway's response cache as pure functions (src/gateway/response_cache.cpp): every field
// of a request changes the key, the gateway key and the group are part of it, which requests
// may be cached, Cache-Control directives, the stored form of an answer, the replay of a cached
// answer as a stream; and the "cache" field of a model group in the configuration.
#include "gateway/response_cache.hpp"

#include <llmux/gateway.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

using namespace llmux;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

chat_request base() {
    chat_request r;
    r.model = "smart";
    r.system = "Be brief.";
    r.messages.push_back(user("What is the weather in Paris?"));
    r.messages.push_back(assistant("", {{"call_1", "get_weather", R"({"city":"Paris"})"}}));
    r.messages.push_back(tool_answer("call_1", "sunny", "get_weather"));
    r.max_tokens = 100;
    tool t;
    t.name = "get_weather";
    t.description = "Current weather";
    t.parameters = json::parse(R"({"type":"object","properties":{"city":{"type":"string"}}})")
                       .as_object();
    r.tools.push_back(t);
    return r;
}

chat_response answer() {
    chat_response r;
    r.id = "chatcmpl-1";
    r.model = "gpt-4o-mini-2024-07-18";
    r.requested_model = "openai/gpt-4o-mini";
    r.provider = "openai";
    r.content = "Sunny, 24 °C.";
    r.reasoning = "The tool said sunny.";
    r.reasoning_parts.push_back({reasoning_part::kind::text, "The tool said sunny.", "EqQB", {}, {},
                                 "anthropic"});
    r.reasoning_parts.push_back({reasoning_part::kind::redacted, {}, {}, "opaque", {}, "anthropic"});
    r.tool_calls.push_back({"call_2", "get_time", R"({"city":"Paris"})", "EpAI"});
    r.finish_reason = finish_reason::tool_calls;
    r.native_finish_reason = "tool_calls";
    r.usage.input_tokens = 120;
    r.usage.output_tokens = 30;
    r.usage.total_tokens = 150;
    r.usage.cached_input_tokens = 64;
    r.usage.reasoning_tokens = 7;
    r.cost_usd = 0.000123;
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(response_cache)

BOOST_AUTO_TEST_CASE(same_request_same_key) {
    auto const a = detail::response_cache_key("team-a", "smart", base());
    auto const b = detail::response_cache_key("team-a", "smart", base());
    BOOST_TEST(a == b);
    BOOST_TEST(a.starts_with("rc2:"));
    BOOST_TEST(a.size() == 4u + 64u);
    // The model a client named is the group (passed separately) and per-call headers are not
    // part of what the answer depends on.
    auto c = base();
    c.model = "other-name";
    c.headers.emplace_back("x-trace", "1");
    BOOST_TEST(detail::response_cache_key("team-a", "smart", c) == a);
}

BOOST_AUTO_TEST_CASE(every_field_changes_the_key) {
    auto const k0 = detail::response_cache_key("team-a", "smart", base());
    std::vector<std::pair<char const*, std::function<void(chat_request&)>>> const changes = {
        {"system", [](chat_request& r) { r.system = "Be long."; }},
        {"a message's text", [](chat_request& r) { r.messages[0] = user("What is it in Rome?"); }},
        {"a message's role", [](chat_request& r) { r.messages[0].role = role::system; }},
        {"a message added", [](chat_request& r) { r.messages.push_back(user("And?")); }},
        {"an image", [](chat_request& r) {
             r.messages[0].content.push_back(image_part{"https://example.com/a.png", ""});
         }},
        {"an image's detail", [](chat_request& r) {
             r.messages[0].content.push_back(image_part{"https://example.com/a.png", "low"});
         }},
        {"a tool call's arguments", [](chat_request& r) {
             std::get<tool_call>(r.messages[1].content.back()).arguments = R"({"city":"Rome"})";
         }},
        {"a tool call's id", [](chat_request& r) {
             std::get<tool_call>(r.messages[1].content.back()).id = "call_9";
         }},
        {"a tool result", [](chat_request& r) {
             std::get<tool_result>(r.messages[2].content.back()).content = "rain";
         }},
        {"a tool result's error flag", [](chat_request& r) {
             std::get<tool_result>(r.messages[2].content.back()).is_error = true;
         }},
        {"temperature", [](chat_request& r) { r.temperature = 0.0; }},
        {"top_p", [](chat_request& r) { r.top_p = 0.5; }},
        {"max_tokens", [](chat_request& r) { r.max_tokens = 101; }},
        {"stop", [](chat_request& r) { r.stop = {"\n"}; }},
        {"seed", [](chat_request& r) { r.seed = 7; }},
        {"a tool's name", [](chat_request& r) { r.tools[0].name = "weather"; }},
        {"a tool's description", [](chat_request& r) { r.tools[0].description = "Weather"; }},
        {"a tool's parameters", [](chat_request& r) { r.tools[0].parameters["required"] = json::array{"city"}; }},
        {"a tool's strictness", [](chat_request& r) { r.tools[0].strict = true; }},
        {"tool choice", [](chat_request& r) { r.tool_choice = tool_choice::required(); }},
        {"named tool choice", [](chat_request& r) { r.tool_choice = tool_choice::named("get_weather"); }},
        {"response format", [](chat_request& r) { r.response_format = response_format::json(); }},
        {"json schema", [](chat_request& r) {
             r.response_format = response_format::json_schema("w", json::object{{"type", "object"}});
         }},
        {"user", [](chat_request& r) { r.user = "u-42"; }},
        {"native fields", [](chat_request& r) { r.extra["logit_bias"] = json::object{{"50256", -100}}; }},
        {"a document", [](chat_request& r) {
             r.messages[0].content.push_back(document_base64("application/pdf", "JVBE", "a.pdf"));
         }},
        {"a document's name", [](chat_request& r) {
             r.messages[0].content.push_back(document_base64("application/pdf", "JVBE", "b.pdf"));
         }},
        {"a reasoning part", [](chat_request& r) {
             r.messages[1].content.insert(r.messages[1].content.begin(),
                                          reasoning_part{{}, "think", "sig", {}, {}, "anthropic"});
         }},
        {"a reasoning part's signature", [](chat_request& r) {
             r.messages[1].content.insert(r.messages[1].content.begin(),
                                          reasoning_part{{}, "think", "sig2", {}, {}, "anthropic"});
         }},
        {"a tool call's signature", [](chat_request& r) {
             std::get<tool_call>(r.messages[1].content.back()).signature = "EpAI";
         }},
        {"a text part's cache breakpoint", [](chat_request& r) {
             std::get<text_part>(r.messages[0].content[0]).cache = cache_control{};
         }},
        {"a cache breakpoint's ttl", [](chat_request& r) {
             std::get<text_part>(r.messages[0].content[0]).cache = cache_control{"1h"};
         }},
        {"a tool's cache breakpoint", [](chat_request& r) { r.tools[0].cache = cache_control{}; }},
        {"the system prompt's cache breakpoint", [](chat_request& r) { r.system_cache = cache_control{}; }},
        {"prompt cache key", [](chat_request& r) { r.prompt_cache_key = "k1"; }},
        {"reasoning effort", [](chat_request& r) { r.reasoning = reasoning_options{reasoning_effort::high}; }},
        {"reasoning budget", [](chat_request& r) { r.reasoning = reasoning_options{{}, 2048}; }},
        {"reasoning text wanted", [](chat_request& r) { r.reasoning = reasoning_options{{}, {}, true}; }},
    };
    std::set<std::string> seen{k0};
    for (auto const& [what, change] : changes) {
        auto r = base();
        change(r);
        auto const k = detail::response_cache_key("team-a", "smart", r);
        BOOST_TEST(k != k0, what << " does not change the key");
        BOOST_TEST(seen.insert(k).second, what << " gives the key of another change");
    }
}

BOOST_AUTO_TEST_CASE(never_crosses_keys_or_groups) {
    auto const r = base();
    auto const a = detail::response_cache_key("team-a", "smart", r);
    BOOST_TEST(detail::response_cache_key("team-b", "smart", r) != a);
    BOOST_TEST(detail::response_cache_key("team-a", "cheap", r) != a);
    BOOST_TEST(detail::response_cache_key("", "smart", r) != a);
    // A name cannot be shifted into the other: each is a JSON string of its own.
    BOOST_TEST(detail::response_cache_key("team-asmart", "", r) !=
               detail::response_cache_key("team-a", "smart", r));
}

BOOST_AUTO_TEST_CASE(temperature_rule) {
    response_cache_policy p;
    auto r = base();
    BOOST_TEST(detail::cacheable(r, p));  // unset
    r.temperature = 0.0;
    BOOST_TEST(detail::cacheable(r, p));
    r.temperature = 0.7;
    BOOST_TEST(!detail::cacheable(r, p));
    p.any_temperature = true;
    BOOST_TEST(detail::cacheable(r, p));
}

BOOST_AUTO_TEST_CASE(cache_control_directives) {
    auto d = detail::parse_cache_control("");
    BOOST_TEST((!d.no_cache && !d.no_store));
    d = detail::parse_cache_control("no-cache");
    BOOST_TEST((d.no_cache && !d.no_store));
    d = detail::parse_cache_control("max-age=0, No-Store");
    BOOST_TEST((!d.no_cache && d.no_store));
    d = detail::parse_cache_control(" no-cache=\"set-cookie\" ,no-store ");
    BOOST_TEST((d.no_cache && d.no_store));
    d = detail::parse_cache_control("no-cachex, private");
    BOOST_TEST((!d.no_cache && !d.no_store));
}

BOOST_AUTO_TEST_CASE(only_complete_answers_are_kept) {
    auto r = answer();
    BOOST_TEST(detail::storable(r));
    for (auto f : {finish_reason::stop, finish_reason::length})
        BOOST_TEST(detail::storable((r.finish_reason = f, r)));
    for (auto f : {finish_reason::unknown, finish_reason::error, finish_reason::content_filter})
        BOOST_TEST(!detail::storable((r.finish_reason = f, r)));
    r.finish_reason = finish_reason::stop;
    r.continuations.push_back({"openai/gpt-4o", "anthropic/claude-sonnet-4.6", 10});
    BOOST_TEST(!detail::storable(r));
}

BOOST_AUTO_TEST_CASE(entry_round_trip) {
    auto const a = answer();
    auto const text = detail::encode_cached_response(a);
    auto b = detail::decode_cached_response(text);
    BOOST_TEST_REQUIRE(!!b, (b ? "" : b.error().to_string()));
    BOOST_TEST(b->id == a.id);
    BOOST_TEST(b->model == a.model);
    BOOST_TEST(b->requested_model == a.requested_model);
    BOOST_TEST(b->provider == a.provider);
    BOOST_TEST(b->content == a.content);
    BOOST_TEST(b->reasoning == a.reasoning);
    BOOST_TEST_REQUIRE(b->tool_calls.size() == 1u);
    BOOST_TEST(b->tool_calls[0].id == "call_2");
    BOOST_TEST(b->tool_calls[0].name == "get_time");
    BOOST_TEST(b->tool_calls[0].arguments == a.tool_calls[0].arguments);
    BOOST_TEST(b->tool_calls[0].signature == "EpAI");
    BOOST_TEST((b->reasoning_parts == a.reasoning_parts));
    BOOST_TEST((b->finish_reason == finish_reason::tool_calls));
    BOOST_TEST(b->native_finish_reason == "tool_calls");
    BOOST_TEST((b->usage.input_tokens == a.usage.input_tokens));
    BOOST_TEST((b->usage.output_tokens == a.usage.output_tokens));
    BOOST_TEST((b->usage.total_tokens == a.usage.total_tokens));
    BOOST_TEST((b->usage.cached_input_tokens == a.usage.cached_input_tokens));
    BOOST_TEST(!b->usage.cache_write_tokens.has_value());  // unknown stays unknown
    BOOST_TEST((b->usage.reasoning_tokens == a.usage.reasoning_tokens));
    BOOST_TEST((b->cost_usd && *b->cost_usd == *a.cost_usd));
}

BOOST_AUTO_TEST_CASE(damaged_entries_are_errors) {
    for (std::string_view bad : {"", "{", "[]", R"({"v":2,"content":"x"})",
                                 R"({"v":1,"content":"x"})", R"({"v":1,"finish_reason":"stop","tool_calls":[1]})"}) {
        auto r = detail::decode_cached_response(bad);
        BOOST_TEST(!r, "accepted: " << bad);
        if (!r) BOOST_TEST(r.error().to_string().find("response cache entry") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(replay_gives_the_answer_back) {
    auto const a = answer();
    auto const chunks = detail::replay_chunks(a);
    std::string text, reasoning;
    std::vector<tool_call_delta> calls;
    std::vector<reasoning_part> parts;
    for (auto const& c : chunks) {
        BOOST_TEST(c.has_content());
        BOOST_TEST(!c.finish_reason.has_value());  // the end comes from the whole answer
        text += c.text;
        reasoning += c.reasoning;
        parts.insert(parts.end(), c.reasoning_parts.begin(), c.reasoning_parts.end());
        calls.insert(calls.end(), c.tool_calls.begin(), c.tool_calls.end());
    }
    BOOST_TEST(text == a.content);
    BOOST_TEST(reasoning == a.reasoning);
    BOOST_TEST_REQUIRE(calls.size() == 1u);
    BOOST_TEST(calls[0].index == 0u);
    BOOST_TEST(calls[0].id == "call_2");
    BOOST_TEST(calls[0].arguments == a.tool_calls[0].arguments);
    BOOST_TEST(calls[0].signature == "EpAI");
    BOOST_TEST((parts == a.reasoning_parts));
    BOOST_TEST(detail::replay_chunks(chat_response{}).empty());
}

BOOST_AUTO_TEST_CASE(configuration) {
    llmux::gateway_config cfg;
    auto r = cfg.load_json(R"({"models": {
        "a": {"deployments": ["openai/gpt-4o-mini"], "cache": true},
        "b": {"deployments": ["openai/gpt-4o-mini"], "cache": {"ttl": "90s", "any_temperature": true}},
        "c": {"deployments": ["openai/gpt-4o-mini"], "cache": false},
        "d": "openai/gpt-4o-mini"}})",
                           "test");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().to_string()));
    BOOST_TEST_REQUIRE(cfg.models["a"].cache.has_value());
    BOOST_TEST((cfg.models["a"].cache->ttl == 10min));
    BOOST_TEST(!cfg.models["a"].cache->any_temperature);
    BOOST_TEST_REQUIRE(cfg.models["b"].cache.has_value());
    BOOST_TEST((cfg.models["b"].cache->ttl == 90s));
    BOOST_TEST(cfg.models["b"].cache->any_temperature);
    BOOST_TEST(!cfg.models["c"].cache.has_value());
    BOOST_TEST(!cfg.models["d"].cache.has_value());

    for (auto const& [field, named] : std::vector<std::pair<std::string, std::string>>{
             {R"("cache": "yes")", "models.x.cache"},
             {R"("cache": {"ttl": "0s"})", "models.x.cache.ttl"},
             {R"("cache": {"ttl": "31d"})", "models.x.cache.ttl"},
             {R"("cache": {"any_temperature": 1})", "models.x.cache.any_temperature"},
             {R"("cache": {"size": 1})", "models.x.cache.size"}}) {
        llmux::gateway_config c;
        auto e = c.load_json(R"({"models": {"x": {"deployments": ["openai/gpt-4o-mini"], )" +
                                 field + "}}}",
                             "test");
        BOOST_TEST(!e, field);
        if (!e) BOOST_TEST(e.error().to_string().find(named) != std::string::npos,
                           e.error().to_string());
    }
}

BOOST_AUTO_TEST_SUITE_END()
