// SPDX-License-Identifier: BSL-1.0
// Reasoning, prompt caching and documents across the wire formats (issue 11): the reasoning
// controls each format sends, reasoning parts and signatures read from answers and streams and
// sent back byte for byte, cache breakpoints, document parts; the server sides' reading of the
// same fields and their answers; and the envelopes that carry reasoning where a format has no
// place for it (a sealed signature, a sealed tool call id). Also the emulator's refusals of a
// round trip that drops or alters a signature (emulator/plan.cpp).
#include "common/wire_fixtures.hpp"
#include "emulator/plan.hpp"
#include "wire/anthropic_messages.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/openai_chat.hpp"

#include <llmux/types.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace llmux::test {

namespace {

namespace json = boost::json;
using detail::encode_context;
using detail::response_head;

provider_config provider(std::string name, std::string wire, json::object options = {}) {
    provider_config p;
    p.name = std::move(name);
    p.wire = std::move(wire);
    p.options = std::move(options);
    return p;
}

json::object encode_body(detail::wire_format const& f, chat_request const& r,
                         provider_config const& p, std::string_view model, bool stream = false) {
    auto const sent = f.encode(r, encode_context{p, model, stream});
    BOOST_REQUIRE_MESSAGE(sent.has_value(), (sent ? "" : sent.error().to_string()));
    return body_of(*sent);
}

std::string encode_error(detail::wire_format const& f, chat_request const& r,
                         provider_config const& p, std::string_view model) {
    auto const sent = f.encode(r, encode_context{p, model, false});
    BOOST_REQUIRE_MESSAGE(!sent.has_value(), "encoded a request that should fail");
    return sent.error().to_string();
}

chat_request ask(std::string text = "What is 925 / 5?") {
    chat_request r;
    r.model = "x";
    r.messages.push_back(user(std::move(text)));
    return r;
}

reasoning_part claude_thought(std::string text, std::string sig) {
    reasoning_part p;
    p.text = std::move(text);
    p.signature = std::move(sig);
    p.origin = "anthropic";
    return p;
}

/// A tool loop's history: the assistant turn holds `thought` (if any) and a call.
chat_request loop(std::optional<reasoning_part> thought, std::string call_sig = {}) {
    chat_request r = ask("Weather in Oslo?");
    message a{role::assistant, {}};
    if (thought) a.content.emplace_back(*thought);
    a.content.emplace_back(tool_call{"call_1", "get_weather", R"({"city":"Oslo"})", call_sig});
    r.messages.push_back(std::move(a));
    r.messages.push_back(tool_answer("call_1", R"({"temp_c":4})", "get_weather"));
    tool t;
    t.name = "get_weather";
    t.parameters = weather_schema();
    r.tools.push_back(t);
    return r;
}

detail::answer_meta meta() {
    detail::answer_meta m;
    m.id = "id_1";
    m.created = 1700000000;
    m.model = "m";
    m.input_tokens = 10;
    return m;
}

boost::system::result<detail::inbound_request, detail::api_error>
serve(detail::wire_server const& s, std::string_view path, std::string_view body,
      std::vector<std::pair<std::string, std::string>> headers = {}) {
    request_head_fixture h(path, std::move(headers));
    detail::endpoint_table const table(detail::wire_servers(), false);
    if (auto m = table.find("POST", path)) h.head.path_model = m->path_model;
    return s.decode_request(h.head, body);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reasoning)

// ---------------------------------------------------------------------------------------------
// Envelopes

BOOST_AUTO_TEST_CASE(sealed_signature_round_trips) {
    reasoning_part p;
    p.id = "rs_01";
    p.signature = "gAAAAB+/==";
    p.origin = "openai";
    auto const sealed = detail::seal_reasoning(p);
    BOOST_TEST(sealed.starts_with("llmux1.openai."));
    reasoning_part back;
    BOOST_TEST(detail::open_reasoning(sealed, back));
    BOOST_TEST(back.origin == "openai");
    BOOST_TEST(back.id == "rs_01");
    BOOST_TEST(back.signature == p.signature);
    reasoning_part plain;
    BOOST_TEST(!detail::open_reasoning("EqQBCkYIBxgCKkA", plain));
    BOOST_TEST(!detail::open_reasoning("llmux1.broken", plain));
    BOOST_TEST(!detail::open_reasoning("llmux1.+redacted.cnM.ZGF0YQ", plain));
}

// A redacted part (Anthropic's redacted_thinking, Bedrock's redactedContent) keeps its data
// when another format's server side seals it: every server side gets it back whole.
BOOST_AUTO_TEST_CASE(sealed_redacted_part_round_trips_with_its_data) {
    reasoning_part p;
    p.type = reasoning_part::kind::redacted;
    p.id = "rs_02";
    p.data = "EmwKAhgBEgy3";
    p.origin = "anthropic";
    auto const sealed = detail::seal_reasoning(p);
    BOOST_TEST(sealed.starts_with("llmux1.anthropic+redacted."));
    reasoning_part back;
    BOOST_TEST_REQUIRE(detail::open_reasoning(sealed, back));
    BOOST_TEST((back.type == reasoning_part::kind::redacted));
    BOOST_TEST(back.origin == "anthropic");
    BOOST_TEST(back.id == "rs_02");
    BOOST_TEST(back.data == p.data);
    BOOST_TEST(back.signature.empty());
}

BOOST_AUTO_TEST_CASE(sealed_call_id_round_trips) {
    std::vector<reasoning_part> parts{claude_thought("925 / 5 = 185", "EqQB"), {}};
    parts[1].type = reasoning_part::kind::redacted;
    parts[1].data = "opaque";
    parts[1].origin = "anthropic";
    auto const sealed = detail::seal_call_id("toolu_1", parts, "EpAI");
    BOOST_TEST(sealed.starts_with("toolu_1__llmux1__"));
    // Only characters every client keeps in an id.
    for (char c : sealed)
        BOOST_TEST((std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'));
    std::string id, sig;
    std::vector<reasoning_part> back;
    BOOST_TEST(detail::open_call_id(sealed, &id, &back, &sig));
    BOOST_TEST(id == "toolu_1");
    BOOST_TEST(sig == "EpAI");
    BOOST_TEST((back == parts));
    // Nothing to carry: the id stays as it is; a plain id does not open.
    BOOST_TEST(detail::seal_call_id("call_1", {}, "") == "call_1");
    BOOST_TEST(!detail::open_call_id("call_1", &id, &back, &sig));
    BOOST_TEST(id == "toolu_1");
}

// ---------------------------------------------------------------------------------------------
// Anthropic, client side

BOOST_AUTO_TEST_CASE(anthropic_thinking_controls) {
    auto const& f = detail::anthropic_messages_format();
    auto const p = provider("anthropic", "anthropic");
    auto r = ask();
    // A budget: enabled thinking; max_tokens raised above it when the caller set none.
    r.reasoning = reasoning_options{{}, 8000, {}};
    auto b = encode_body(f, r, p, "claude-sonnet-4-5");
    BOOST_TEST(json::serialize(b.at("thinking")) == R"({"type":"enabled","budget_tokens":8000})");
    BOOST_TEST(b.at("max_tokens").to_number<std::int64_t>() == 8000 + 4096);
    // An effort on Claude 4.5: its budget, capped below the caller's max_tokens.
    r.reasoning = reasoning_options{reasoning_effort::high, {}, false};
    r.max_tokens = 5000;
    b = encode_body(f, r, p, "claude-sonnet-4-5");
    BOOST_TEST(json::serialize(b.at("thinking")) ==
               R"({"type":"enabled","budget_tokens":4999,"display":"omitted"})");
    BOOST_TEST(b.at("max_tokens").to_number<std::int64_t>() == 5000);
    // An effort on Claude 4.6 and later: adaptive thinking with the effort.
    r.reasoning = reasoning_options{reasoning_effort::medium, {}, {}};
    b = encode_body(f, r, p, "claude-opus-4-7");
    BOOST_TEST(json::serialize(b.at("thinking")) == R"({"type":"adaptive"})");
    BOOST_TEST(json::serialize(b.at("output_config")) == R"({"effort":"medium"})");
    // Effort none: disabled.
    r.reasoning = reasoning_options{reasoning_effort::none, {}, {}};
    b = encode_body(f, r, p, "claude-sonnet-4-5");
    BOOST_TEST(json::serialize(b.at("thinking")) == R"({"type":"disabled"})");
    BOOST_TEST(!b.contains("output_config"));
}

BOOST_AUTO_TEST_CASE(anthropic_thinking_refusals_name_the_field) {
    auto const& f = detail::anthropic_messages_format();
    auto const p = provider("anthropic", "anthropic");
    auto r = ask();
    r.reasoning = reasoning_options{reasoning_effort::high, {}, {}};
    BOOST_TEST(encode_error(f, r, p, "claude-3-5-sonnet-20241022").find("does not think") !=
               std::string::npos);
    r.temperature = 0.2;
    BOOST_TEST(encode_error(f, r, p, "claude-sonnet-4-5").find("temperature") != std::string::npos);
    r.temperature.reset();
    r.tool_choice = tool_choice::required();
    r.tools.push_back(tool{"t", "", {}, false});
    BOOST_TEST(encode_error(f, r, p, "claude-sonnet-4-5").find("tool_choice") != std::string::npos);
    r = ask();
    r.reasoning = reasoning_options{{}, 512, {}};
    BOOST_TEST(encode_error(f, r, p, "claude-sonnet-4-5").find("at least 1024") != std::string::npos);
    r.reasoning = reasoning_options{{}, 4096, {}};
    r.max_tokens = 2000;
    BOOST_TEST(encode_error(f, r, p, "claude-sonnet-4-5").find("below max_tokens") !=
               std::string::npos);
    r.max_tokens.reset();
    BOOST_TEST(encode_error(f, r, p, "claude-opus-4-7").find("adaptive thinking only") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(claude_versions) {
    using detail::anthropic::claude_thinking;
    using ts = detail::anthropic::thinking_support;
    BOOST_TEST((claude_thinking("claude-3-5-sonnet-20241022") == ts::none));
    BOOST_TEST((claude_thinking("claude-3-7-sonnet-20250219") == ts::budget));
    BOOST_TEST((claude_thinking("claude-sonnet-4-20250514") == ts::budget));
    BOOST_TEST((claude_thinking("us.anthropic.claude-sonnet-4-5-20250929-v1:0") == ts::budget));
    BOOST_TEST((claude_thinking("claude-opus-4-6") == ts::budget_or_adaptive));
    BOOST_TEST((claude_thinking("claude-opus-4-7") == ts::adaptive));
    BOOST_TEST((claude_thinking("claude-sonnet-5") == ts::adaptive));
    BOOST_TEST((claude_thinking("my-alias") == ts::budget_or_adaptive));
}

BOOST_AUTO_TEST_CASE(anthropic_sends_thinking_back_and_leaves_other_origins_out) {
    auto const& f = detail::anthropic_messages_format();
    auto const p = provider("anthropic", "anthropic");
    reasoning_part redacted;
    redacted.type = reasoning_part::kind::redacted;
    redacted.data = "EmwKAhgBEgy3va3p";
    redacted.origin = "anthropic";
    auto r = loop(claude_thought("Need weather.", "EqQBCkYI"));
    r.messages[1].content.insert(r.messages[1].content.begin() + 1, redacted);
    reasoning_part gemini;
    gemini.origin = "google";
    gemini.signature = "CpAI";
    r.messages[1].content.insert(r.messages[1].content.begin(), gemini);
    r.reasoning = reasoning_options{{}, 2048, {}};
    auto const b = encode_body(f, r, p, "claude-sonnet-4-5");
    auto const& content = b.at("messages").at(1).at("content").as_array();
    BOOST_TEST_REQUIRE(content.size() == 3u);
    BOOST_TEST(json::serialize(content[0]) ==
               R"({"type":"thinking","thinking":"Need weather.","signature":"EqQBCkYI"})");
    BOOST_TEST(json::serialize(content[1]) ==
               R"({"type":"redacted_thinking","data":"EmwKAhgBEgy3va3p"})");
    BOOST_TEST(content[2].at("type").as_string() == "tool_use");
}

BOOST_AUTO_TEST_CASE(anthropic_cache_breakpoints_and_documents) {
    auto const& f = detail::anthropic_messages_format();
    auto const p = provider("anthropic", "anthropic");
    chat_request r;
    r.system = "A long manual.";
    r.system_cache = cache_control{"1h"};
    message u{role::user, {}};
    u.content.emplace_back(document_base64("application/pdf", "JVBERi0=", "q3.pdf"));
    u.content.emplace_back(text_part{"Summarise.", cache_control{}});
    r.messages.push_back(std::move(u));
    tool t{"search", "", {}, false, cache_control{}};
    r.tools.push_back(t);
    auto const b = encode_body(f, r, p, "claude-sonnet-4-5");
    BOOST_TEST(json::serialize(b.at("system")) ==
               R"([{"type":"text","text":"A long manual.","cache_control":{"type":"ephemeral","ttl":"1h"}}])");
    auto const& content = b.at("messages").at(0).at("content").as_array();
    BOOST_TEST(json::serialize(content[0]) ==
               R"({"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="},"title":"q3.pdf"})");
    BOOST_TEST(json::serialize(content[1].at("cache_control")) == R"({"type":"ephemeral"})");
    BOOST_TEST(json::serialize(b.at("tools").at(0).at("cache_control")) == R"({"type":"ephemeral"})");
    // Five breakpoints: more than Anthropic allows.
    for (int i = 0; i < 3; ++i) r.messages[0].content.emplace_back(text_part{"x", cache_control{}});
    BOOST_TEST(encode_error(f, r, p, "claude-sonnet-4-5").find("at most 4") != std::string::npos);
    r.messages[0].content.resize(2);
    std::get<text_part>(r.messages[0].content[1]).cache = cache_control{"2h"};
    BOOST_TEST(encode_error(f, r, p, "claude-sonnet-4-5").find("5m or 1h") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(anthropic_reads_thinking_blocks_whole_and_streamed) {
    auto const& f = detail::anthropic_messages_format();
    response_head head;
    head.status = 200;
    auto const whole = f.decode(head, R"({"id":"msg_1","type":"message","role":"assistant",
        "model":"claude-sonnet-4-5","content":[
        {"type":"thinking","thinking":"925 / 5","signature":"EqQB"},
        {"type":"redacted_thinking","data":"EmwK"},
        {"type":"text","text":"185"}],"stop_reason":"end_turn",
        "usage":{"input_tokens":10,"output_tokens":20}})");
    BOOST_TEST_REQUIRE(whole.has_value());
    BOOST_TEST(whole->reasoning == "925 / 5");
    BOOST_TEST_REQUIRE(whole->reasoning_parts.size() == 2u);
    BOOST_TEST((whole->reasoning_parts[0] == claude_thought("925 / 5", "EqQB")));
    BOOST_TEST(whole->reasoning_parts[1].data == "EmwK");

    // The stream: text as deltas, the whole block with its signature at its stop.
    std::string const sse =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
        "\"model\":\"m\",\"usage\":{\"input_tokens\":3}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"925 \"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"/ 5\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"185\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    auto const got = decode_at_every_split(f, sse);
    BOOST_TEST(got.at("end") == "ok");
    std::vector<chat_chunk> chunks;
    auto d = f.make_stream_decoder();
    BOOST_TEST_REQUIRE(!!d->feed(sse, chunks));
    BOOST_TEST_REQUIRE(!!d->finish(chunks));
    auto const r = accumulate(chunks);
    BOOST_TEST(r.reasoning == "925 / 5");
    BOOST_TEST_REQUIRE(r.reasoning_parts.size() == 1u);
    BOOST_TEST((r.reasoning_parts[0] == claude_thought("925 / 5", "EqQB")));
    BOOST_TEST(r.content == "185");
}

// ---------------------------------------------------------------------------------------------
// Anthropic, server side

BOOST_AUTO_TEST_CASE(anthropic_server_reads_thinking_cache_and_documents) {
    auto const& s = detail::anthropic_messages_server();
    auto const in = serve(s, "/v1/messages", R"({"model":"claude-sonnet-4-5","max_tokens":9000,
        "thinking":{"type":"enabled","budget_tokens":4000,"display":"omitted"},
        "system":[{"type":"text","text":"Manual.","cache_control":{"type":"ephemeral","ttl":"1h"}}],
        "tools":[{"name":"get_weather","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}],
        "messages":[
          {"role":"user","content":[
            {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"},"title":"a.pdf"},
            {"type":"text","text":"Weather?","cache_control":{"type":"ephemeral"}}]},
          {"role":"assistant","content":[
            {"type":"thinking","thinking":"Need it.","signature":"EqQB"},
            {"type":"redacted_thinking","data":"EmwK"},
            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},
          {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"4C"}]}]})",
                          {{"anthropic-version", "2023-06-01"}});
    BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
    auto const& r = in->req;
    BOOST_TEST(in->native.empty(), json::serialize(in->native));
    BOOST_TEST_REQUIRE(r.reasoning.has_value());
    BOOST_TEST((r.reasoning->budget_tokens == std::optional<std::int64_t>(4000)));
    BOOST_TEST((r.reasoning->include_text == std::optional<bool>(false)));
    BOOST_TEST((r.system_cache == std::optional<cache_control>(cache_control{"1h"})));
    BOOST_TEST(r.tools.at(0).cache.has_value());
    auto const& doc = std::get<document_part>(r.messages[0].content[0]);
    BOOST_TEST(doc.url == "data:application/pdf;base64,JVBE");
    BOOST_TEST(doc.name == "a.pdf");
    BOOST_TEST(std::get<text_part>(r.messages[0].content[1]).cache.has_value());
    BOOST_TEST((std::get<reasoning_part>(r.messages[1].content[0]) == claude_thought("Need it.", "EqQB")));
    BOOST_TEST(std::get<reasoning_part>(r.messages[1].content[1]).data == "EmwK");

    // Thinking disabled and adaptive thinking.
    auto const off = serve(s, "/v1/messages", R"({"model":"m","max_tokens":10,
        "thinking":{"type":"adaptive"},"output_config":{"effort":"low"},
        "messages":[{"role":"user","content":"hi"}]})",
                           {{"anthropic-version", "2023-06-01"}});
    BOOST_TEST_REQUIRE(off.has_value());
    BOOST_TEST((off->req.reasoning->effort == std::optional<reasoning_effort>(reasoning_effort::low)));
    auto const bad = serve(s, "/v1/messages", R"({"model":"m","max_tokens":10,
        "thinking":{"type":"enabled","budget_tokens":100},
        "messages":[{"role":"user","content":"hi"}]})",
                           {{"anthropic-version", "2023-06-01"}});
    BOOST_TEST_REQUIRE(!bad.has_value());
    BOOST_TEST(bad.error().message.find("budget_tokens") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(anthropic_server_answers_carry_thinking_back) {
    auto const& s = detail::anthropic_messages_server();
    auto const& f = detail::anthropic_messages_format();
    chat_response r;
    r.reasoning = "Need it.";
    r.reasoning_parts.push_back(claude_thought("Need it.", "EqQB"));
    // Another family's reasoning: sealed into the signature, so it comes back whole.
    reasoning_part rs;
    rs.type = reasoning_part::kind::summary;
    rs.text = "Summary.";
    rs.id = "rs_1";
    rs.signature = "gAAAA";
    rs.origin = "openai";
    r.reasoning_parts.push_back(rs);
    r.tool_calls.push_back({"toolu_1", "get_weather", R"({"city":"Oslo"})"});
    r.finish_reason = finish_reason::tool_calls;
    r.usage.input_tokens = 5;
    r.usage.output_tokens = 7;
    std::string body;
    s.encode_response(r, meta(), body);
    response_head head;
    head.status = 200;
    auto const back = f.decode(head, body);
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST_REQUIRE(back->reasoning_parts.size() == 2u);
    BOOST_TEST((back->reasoning_parts[0] == r.reasoning_parts[0]));
    // The sealed one is opened by the server side when a client sends it back.
    auto next = ask();
    next.messages.push_back(assistant(*back));
    next.messages.push_back(tool_answer("toolu_1", "4C", "get_weather"));
    auto const sent = f.encode(next, encode_context{provider("anthropic", "anthropic"), "m", false});
    BOOST_TEST_REQUIRE(sent.has_value());
    // To a client of this server the sealed part is a thinking block like Claude's: sent back
    // as it came, and opened by the server again.
    auto const b = body_of(*sent);
    auto const& blocks = b.at("messages").at(1).at("content").as_array();
    BOOST_TEST_REQUIRE(blocks.size() == 3u);
    BOOST_TEST(blocks[1].at("signature").as_string() == detail::seal_reasoning(rs));
    // A client of the format sends the block back as it got it; the server opens it.
    std::string raw = R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"},
        {"role":"assistant","content":[{"type":"thinking","thinking":"Summary.","signature":)";
    raw += json::serialize(json::value(detail::seal_reasoning(rs)));
    raw += R"(},{"type":"tool_use","id":"t","name":"get_weather","input":{}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"4C"}]}]})";
    auto const in = serve(s, "/v1/messages", raw, {{"anthropic-version", "2023-06-01"}});
    BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
    auto const& opened = std::get<reasoning_part>(in->req.messages[1].content[0]);
    BOOST_TEST(opened.origin == "openai");
    BOOST_TEST(opened.id == "rs_1");
    BOOST_TEST(opened.signature == "gAAAA");
    BOOST_TEST(opened.text == "Summary.");
}

BOOST_AUTO_TEST_CASE(anthropic_server_streams_thinking_with_its_signature) {
    auto const& s = detail::anthropic_messages_server();
    auto const& f = detail::anthropic_messages_format();
    std::vector<chat_chunk> chunks(3);
    chunks[0].reasoning = "Need ";
    chunks[1].reasoning = "it.";
    chunks[1].reasoning_parts.push_back(claude_thought("Need it.", "EqQB"));
    chunks[2].text = "Sunny.";
    chat_response whole;
    whole.finish_reason = finish_reason::stop;
    whole.usage.input_tokens = 5;
    whole.usage.output_tokens = 7;
    auto const sse = encode_stream(s, meta(), false, chunks, whole);
    BOOST_TEST(sse.find("\"signature_delta\"") != std::string::npos);
    std::vector<chat_chunk> got;
    auto d = f.make_stream_decoder();
    BOOST_TEST_REQUIRE(!!d->feed(sse, got));
    BOOST_TEST_REQUIRE(!!d->finish(got));
    auto const r = accumulate(got);
    BOOST_TEST(r.reasoning == "Need it.");
    BOOST_TEST_REQUIRE(r.reasoning_parts.size() == 1u);
    BOOST_TEST((r.reasoning_parts[0] == claude_thought("Need it.", "EqQB")));
    BOOST_TEST(r.content == "Sunny.");
}

// ---------------------------------------------------------------------------------------------
// Gemini

BOOST_AUTO_TEST_CASE(gemini_thought_signatures_both_ways) {
    auto const& f = detail::gemini_format();
    auto const p = provider("google", "gemini");
    auto const b = encode_body(f, loop(std::nullopt, "EpAICo4g"), p, "gemini-3-pro-preview");
    auto const& part = b.at("contents").at(1).at("parts").at(0).as_object();
    BOOST_TEST(part.at("thoughtSignature").as_string() == "EpAICo4g");
    BOOST_TEST(part.at("functionCall").at("name").as_string() == "get_weather");

    response_head head;
    head.status = 200;
    auto const whole = f.decode(head, R"({"candidates":[{"content":{"role":"model","parts":[
        {"text":"Looking it up","thought":true},
        {"functionCall":{"name":"get_weather","args":{"city":"Oslo"}},"thoughtSignature":"EpAI"}]},
        "finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3}})");
    BOOST_TEST_REQUIRE(whole.has_value());
    BOOST_TEST_REQUIRE(whole->tool_calls.size() == 1u);
    BOOST_TEST(whole->tool_calls[0].signature == "EpAI");
    BOOST_TEST(whole->reasoning == "Looking it up");
    // assistant(response) carries the signature back on the call.
    auto next = ask("Weather in Oslo?");
    next.messages.push_back(assistant(*whole));
    next.messages.push_back(tool_answer(whole->tool_calls[0].id, "4C", "get_weather"));
    auto const nb = encode_body(f, next, p, "gemini-3-pro-preview");
    BOOST_TEST(nb.at("contents").at(1).at("parts").at(0).at("thoughtSignature").as_string() == "EpAI");

    // The server side reads and writes it on the call's part.
    auto const& s = detail::gemini_server();
    auto const in = serve(s, "/v1beta/models/gemini-3-pro-preview:generateContent",
                          R"({"contents":[{"role":"user","parts":[{"text":"Weather?"}]},
        {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{}},"thoughtSignature":"EpAI"}]},
        {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"t":4}}}]}],
        "generationConfig":{"thinkingConfig":{"thinkingLevel":"LOW","includeThoughts":true}}})",
                          {{"x-goog-api-key", "k"}});
    BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
    BOOST_TEST(in->native.empty(), json::serialize(in->native));
    BOOST_TEST(std::get<tool_call>(in->req.messages[1].content[0]).signature == "EpAI");
    BOOST_TEST((in->req.reasoning->effort == std::optional<reasoning_effort>(reasoning_effort::low)));
    BOOST_TEST((in->req.reasoning->include_text == std::optional<bool>(true)));
    std::string out;
    s.encode_response(*whole, meta(), out);
    BOOST_TEST(out.find("\"thoughtSignature\":\"EpAI\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(gemini_thinking_controls) {
    auto const& f = detail::gemini_format();
    auto const p = provider("google", "gemini");
    auto r = ask();
    r.reasoning = reasoning_options{reasoning_effort::low, {}, true};
    auto b = encode_body(f, r, p, "gemini-3-flash-preview");
    BOOST_TEST(json::serialize(b.at("generationConfig").at("thinkingConfig")) ==
               R"({"thinkingLevel":"LOW","includeThoughts":true})");
    b = encode_body(f, r, p, "gemini-2.5-flash");
    BOOST_TEST(json::serialize(b.at("generationConfig").at("thinkingConfig")) ==
               R"({"thinkingBudget":2048,"includeThoughts":true})");
    r.reasoning = reasoning_options{reasoning_effort::none, {}, {}};
    BOOST_TEST(encode_error(f, r, p, "gemini-3-pro-preview").find("cannot stop thinking") !=
               std::string::npos);
    r.reasoning = reasoning_options{reasoning_effort::xhigh, {}, {}};
    BOOST_TEST(encode_error(f, r, p, "gemini-3-pro-preview").find("xhigh") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(gemini_documents_both_ways) {
    auto const& f = detail::gemini_format();
    auto r = ask("Summarise.");
    r.messages[0].content.emplace_back(document_base64("application/pdf", "JVBE", "q3.pdf"));
    r.messages[0].content.emplace_back(document_part{"gs://bucket/report.pdf", "report", {}});
    auto const b = encode_body(f, r, provider("vertex", "gemini", json::object{{"vertex", true}}),
                               "gemini-2.5-pro");
    auto const& parts = b.at("contents").at(0).at("parts").as_array();
    BOOST_TEST_REQUIRE(parts.size() == 3u);
    BOOST_TEST(json::serialize(parts[1]) ==
               R"({"inlineData":{"mimeType":"application/pdf","data":"JVBE"}})");
    BOOST_TEST(json::serialize(parts[2]) ==
               R"({"fileData":{"mimeType":"application/pdf","fileUri":"gs://bucket/report.pdf"}})");
    // The server side reads non-image data as documents.
    auto const in = serve(detail::gemini_server(), "/v1beta/models/gemini-2.5-pro:generateContent",
                          R"({"contents":[{"role":"user","parts":[{"text":"Sum up"},
        {"inlineData":{"mimeType":"application/pdf","data":"JVBE"}},
        {"fileData":{"mimeType":"application/pdf","fileUri":"https://x/y.pdf"}}]}]})",
                          {{"x-goog-api-key", "k"}});
    BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
    BOOST_TEST(std::get<document_part>(in->req.messages[0].content[1]).url ==
               "data:application/pdf;base64,JVBE");
    BOOST_TEST(std::get<document_part>(in->req.messages[0].content[2]).url == "https://x/y.pdf");
}

// ---------------------------------------------------------------------------------------------
// OpenAI chat

BOOST_AUTO_TEST_CASE(openai_chat_dialects) {
    auto const& f = detail::openai_chat_format();
    auto r = ask();
    r.reasoning = reasoning_options{reasoning_effort::high, {}, {}};
    r.prompt_cache_key = "tenant-7";
    auto b = encode_body(f, r, provider("openai", "openai"), "gpt-5-mini");
    BOOST_TEST(b.at("reasoning_effort").as_string() == "high");
    BOOST_TEST(b.at("prompt_cache_key").as_string() == "tenant-7");
    b = encode_body(f, r, provider("openrouter", "openai"), "anthropic/claude-sonnet-4.5");
    BOOST_TEST(json::serialize(b.at("reasoning")) == R"({"effort":"high"})");
    b = encode_body(f, r, provider("deepseek", "openai"), "deepseek-chat");
    BOOST_TEST(json::serialize(b.at("thinking")) == R"({"type":"enabled"})");
    BOOST_TEST(b.at("reasoning_effort").as_string() == "high");
    // Effort none only to reasoning models; reasoning text is not on Chat Completions.
    r.reasoning = reasoning_options{reasoning_effort::none, {}, {}};
    BOOST_TEST(!encode_body(f, r, provider("openai", "openai"), "gpt-4o").contains("reasoning_effort"));
    BOOST_TEST(encode_body(f, r, provider("openai", "openai"), "gpt-5.1").at("reasoning_effort") == "none");
    r.reasoning = reasoning_options{reasoning_effort::low, {}, true};
    BOOST_TEST(encode_error(f, r, provider("openai", "openai"), "gpt-5").find("openai-responses") !=
               std::string::npos);
    r.reasoning = reasoning_options{reasoning_effort::low, {}, {}};
    BOOST_TEST(encode_error(f, r, provider("openai", "openai"), "gpt-4o").find("does not reason") !=
               std::string::npos);

    // DeepSeek gets its reasoning_content back on a tool-call turn; OpenRouter its details.
    reasoning_part ds;
    ds.text = "Call the tool.";
    ds.origin = "deepseek";
    b = encode_body(f, loop(ds), provider("deepseek", "openai"), "deepseek-chat");
    BOOST_TEST(b.at("messages").at(1).at("reasoning_content").as_string() == "Call the tool.");
    b = encode_body(f, loop(std::nullopt), provider("deepseek", "openai"), "deepseek-chat");
    BOOST_TEST(b.at("messages").at(1).at("reasoning_content").as_string() == "");
    b = encode_body(f, loop(claude_thought("Need it.", "EqQB"), "EpAI"),
                    provider("openrouter", "openai"), "anthropic/claude-sonnet-4.5");
    auto const& details = b.at("messages").at(1).at("reasoning_details").as_array();
    BOOST_TEST_REQUIRE(details.size() == 2u);
    BOOST_TEST(details[0].at("type").as_string() == "reasoning.text");
    BOOST_TEST(details[0].at("format").as_string() == "anthropic-claude-v1");
    BOOST_TEST(details[0].at("signature").as_string() == "EqQB");
    BOOST_TEST(details[1].at("format").as_string() == "google-gemini-v1");
    BOOST_TEST(details[1].at("id").as_string() == "call_1");
    // Plain OpenAI gets neither.
    b = encode_body(f, loop(claude_thought("Need it.", "EqQB")), provider("openai", "openai"), "gpt-5");
    BOOST_TEST(!b.at("messages").at(1).as_object().contains("reasoning_details"));
    BOOST_TEST(!b.at("messages").at(1).as_object().contains("reasoning_content"));

    // Documents are file parts with their data URI; a URL is not accepted.
    auto d = ask("Summarise.");
    d.messages[0].content.emplace_back(document_base64("application/pdf", "JVBE", "q3.pdf"));
    b = encode_body(f, d, provider("openai", "openai"), "gpt-5");
    BOOST_TEST(json::serialize(b.at("messages").at(0).at("content").at(1)) ==
               R"({"type":"file","file":{"filename":"q3.pdf","file_data":"data:application/pdf;base64,JVBE"}})");
    d.messages[0].content[1] = document_part{"https://example.com/a.pdf", "a.pdf", {}};
    BOOST_TEST(encode_error(f, d, provider("openai", "openai"), "gpt-5").find("not a URL") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(openai_chat_reads_openrouter_details_and_deepseek_reasoning) {
    auto const& f = detail::openai_chat_format();
    response_head head;
    head.status = 200;
    auto const r = f.decode(head, R"({"id":"gen-1","model":"m","choices":[{"index":0,
        "finish_reason":"tool_calls","message":{"role":"assistant","content":null,
        "reasoning":"Need it.","reasoning_details":[
          {"type":"reasoning.text","text":"Need it.","signature":"EqQB","format":"anthropic-claude-v1","index":0},
          {"type":"reasoning.encrypted","data":"EpAI","id":"call_1","format":"google-gemini-v1","index":1}],
        "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]}}]})");
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST_REQUIRE(r->reasoning_parts.size() == 1u);
    BOOST_TEST((r->reasoning_parts[0] == claude_thought("Need it.", "EqQB")));
    BOOST_TEST(r->tool_calls.at(0).signature == "EpAI");
    auto const ds = f.decode(head, R"({"id":"c","model":"deepseek-chat","choices":[{"index":0,
        "finish_reason":"stop","message":{"role":"assistant","content":"185","reasoning_content":"925/5"}}]})");
    BOOST_TEST_REQUIRE(ds.has_value());
    BOOST_TEST_REQUIRE(ds->reasoning_parts.size() == 1u);
    BOOST_TEST(ds->reasoning_parts[0].origin == "deepseek");
    BOOST_TEST(ds->reasoning_parts[0].text == "925/5");
}

BOOST_AUTO_TEST_CASE(openai_chat_server_seals_reasoning_into_call_ids) {
    // What an unmodified OpenAI client sends back (the assistant message it got) gives the
    // upstream its reasoning and call signatures again.
    auto const& s = detail::openai_chat_server();
    chat_response r;
    r.reasoning = "Need it.";
    r.reasoning_parts.push_back(claude_thought("Need it.", "EqQB"));
    r.tool_calls.push_back({"toolu_1", "get_weather", R"({"city":"Oslo"})", "EpAI"});
    r.finish_reason = finish_reason::tool_calls;
    std::string body;
    s.encode_response(r, meta(), body);
    auto const answer = json::parse(body);
    auto const& msg = answer.at("choices").at(0).at("message");
    std::string const id(msg.at("tool_calls").at(0).at("id").as_string());
    BOOST_TEST(id.starts_with("toolu_1__llmux1__"));
    json::object next{{"model", "m"},
                      {"messages", json::array{json::object{{"role", "user"}, {"content", "q"}}, msg,
                                               json::object{{"role", "tool"},
                                                            {"tool_call_id", id},
                                                            {"content", "4C"}}}}};
    auto const in = serve(s, "/v1/chat/completions", json::serialize(next),
                          {{"authorization", "Bearer k"}});
    BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
    auto const& a = in->req.messages[1].content;
    // reasoning_content (DeepSeek's field, which this server writes) comes first, then the
    // sealed parts, then the call with its own id and signature.
    BOOST_TEST_REQUIRE(a.size() == 3u);
    BOOST_TEST(std::get<reasoning_part>(a[0]).origin == "deepseek");
    BOOST_TEST((std::get<reasoning_part>(a[1]) == claude_thought("Need it.", "EqQB")));
    auto const& call = std::get<tool_call>(a[2]);
    BOOST_TEST(call.id == "toolu_1");
    BOOST_TEST(call.signature == "EpAI");
    BOOST_TEST(std::get<tool_result>(in->req.messages[2].content[0]).tool_call_id == "toolu_1");

    // Streamed: parts that complete before the first call ride on its id.
    std::vector<chat_chunk> chunks(2);
    chunks[0].reasoning_parts.push_back(claude_thought("Need it.", "EqQB"));
    chunks[1].tool_calls.push_back({0, "toolu_1", "get_weather", "{}", "EpAI"});
    chat_response whole;
    whole.finish_reason = finish_reason::tool_calls;
    auto const sse = encode_stream(s, meta(), false, chunks, whole);
    auto const start = sse.find("toolu_1__llmux1__");
    BOOST_TEST_REQUIRE(start != std::string::npos);
    auto const end = sse.find('"', start);
    std::string got_id, sig;
    std::vector<reasoning_part> parts;
    BOOST_TEST(detail::open_call_id(sse.substr(start, end - start), &got_id, &parts, &sig));
    BOOST_TEST(got_id == "toolu_1");
    BOOST_TEST(sig == "EpAI");
    BOOST_TEST_REQUIRE(parts.size() == 1u);
}

// ---------------------------------------------------------------------------------------------
// The emulator's refusals

BOOST_AUTO_TEST_CASE(emulator_refuses_a_claude_tool_loop_without_its_thinking) {
    using kind = detail::reasoning_fault::kind;
    auto const sig = detail::emu_signature("anthropic", "Need it.");
    auto r = loop(claude_thought("Need it.", sig));
    r.reasoning = reasoning_options{{}, 2048, {}};
    BOOST_TEST(!detail::check_reasoning(r, "claude-sonnet-4-5").has_value());
    // Altered text: the signature no longer matches.
    auto altered = loop(claude_thought("Need it!", sig));
    altered.reasoning = r.reasoning;
    auto f = detail::check_reasoning(altered, "claude-sonnet-4-5");
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST((f->what == kind::invalid_signature));
    BOOST_TEST(f->message == 1u);
    // Dropped: the turn starts with its tool_use.
    auto dropped = loop(std::nullopt);
    dropped.reasoning = r.reasoning;
    f = detail::check_reasoning(dropped, "claude-sonnet-4-5");
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST((f->what == kind::missing_thinking));
    auto const e = detail::anthropic_messages_server().reasoning_refused(*f);
    BOOST_TEST(e.status == 400u);
    BOOST_TEST(e.message.find("Expected `thinking` or `redacted_thinking`, but found `tool_use`") !=
               std::string::npos);
    // Without thinking on, or for a model that does not think, nothing is required.
    dropped.reasoning.reset();
    BOOST_TEST(!detail::check_reasoning(dropped, "claude-sonnet-4-5").has_value());
    BOOST_TEST(!detail::check_reasoning(loop(std::nullopt), "gpt-4o").has_value());
}

BOOST_AUTO_TEST_CASE(emulator_refuses_a_gemini_3_call_without_its_signature) {
    using kind = detail::reasoning_fault::kind;
    auto const sig = detail::emu_signature("google", "get_weather");
    BOOST_TEST(!detail::check_reasoning(loop(std::nullopt, sig), "gemini-3-pro-preview").has_value());
    auto f = detail::check_reasoning(loop(std::nullopt), "gemini-3-pro-preview");
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST((f->what == kind::missing_call_signature));
    BOOST_TEST(f->name == "get_weather");
    BOOST_TEST(detail::gemini_server().reasoning_refused(*f).message.find(
                   "Function call is missing a thought_signature") != std::string::npos);
    f = detail::check_reasoning(loop(std::nullopt, "EpAIforged"), "gemini-3-pro-preview");
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST((f->what == kind::invalid_call_signature));
    // Google's documented placeholder passes; Gemini 2.5 does not check.
    BOOST_TEST(!detail::check_reasoning(loop(std::nullopt, "skip_thought_signature_validator"),
                                        "gemini-3-pro-preview")
                    .has_value());
    BOOST_TEST(!detail::check_reasoning(loop(std::nullopt), "gemini-2.5-flash").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
