// SPDX-License-Identifier: BSL-1.0
// Bedrock Converse's reasoning, prompt caching and documents (issue 11; PROVIDERS-2.md 3.5,
// 4.2, 5): the reasoning controls in additionalModelRequestFields per model family (Claude,
// Nova 2, gpt-oss) and their refusals, Claude's reasoningContent sent back byte for byte,
// cachePoint blocks, document blocks with Bedrock's name rule; reasoningContent read whole and
// streamed (at every split); the server side's reading of the same fields (errors naming the
// field) and its answers and streams, read back by the client side (a call's signature riding on
// its toolUseId); and the emulator's refusal
// of a Claude tool loop without its thinking, in Bedrock's words.
#include "codec/event_stream.hpp"
#include "common/wire_fixtures.hpp"
#include "emulator/plan.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/server.hpp"
#include "wire/wire_format.hpp"

#include <llmux/config.hpp>
#include <llmux/types.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace llmux::test {

namespace {

namespace json = boost::json;
using namespace std::string_view_literals;
using detail::encode_context;
using detail::response_head;

constexpr std::string_view sonnet = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
constexpr std::string_view nova = "us.amazon.nova-2-lite-v1:0";
constexpr std::string_view gpt_oss = "openai.gpt-oss-120b-1:0";

detail::wire_format const& fmt() {
    return detail::bedrock_converse_format();
}

detail::wire_server const& server() {
    return detail::bedrock_converse_server();
}

provider_config bedrock_provider() {
    provider_config p;
    p.name = "bedrock";
    p.wire = "bedrock";
    p.auth = auth_scheme::aws_sigv4;
    return p;
}

json::object encode_body(chat_request const& r, std::string_view model, bool stream = false) {
    auto const p = bedrock_provider();
    auto const sent = fmt().for_model(model).encode(r, encode_context{p, model, stream});
    BOOST_REQUIRE_MESSAGE(sent.has_value(), (sent ? "" : sent.error().to_string()));
    return body_of(*sent);
}

/// The failure of encoding `r` for `model`, which must be `code`.
std::string encode_error(chat_request const& r, std::string_view model,
                         error code = error::unsupported) {
    auto const p = bedrock_provider();
    auto const sent = fmt().for_model(model).encode(r, encode_context{p, model, false});
    BOOST_REQUIRE_MESSAGE(!sent.has_value(), "encoded a request that should fail");
    BOOST_TEST(sent.error().code == make_error_code(code), sent.error().to_string());
    return sent.error().diag.message;
}

std::string serial(json::value const& v) {
    return json::serialize(v);
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

reasoning_part redacted(std::string data, std::string origin = "anthropic") {
    reasoning_part p;
    p.type = reasoning_part::kind::redacted;
    p.data = std::move(data);
    p.origin = std::move(origin);
    return p;
}

/// OpenAI's reasoning: another family's, which the Bedrock server side seals.
reasoning_part openai_summary() {
    reasoning_part p;
    p.type = reasoning_part::kind::summary;
    p.text = "Summary.";
    p.id = "rs_1";
    p.signature = "gAAAA";
    p.origin = "openai";
    return p;
}

tool weather_tool() {
    tool t;
    t.name = "get_weather";
    t.parameters = weather_schema();
    return t;
}

/// A tool loop's history: the assistant turn holds `thought` (if any) and a call.
chat_request loop(std::optional<reasoning_part> thought) {
    chat_request r = ask("Weather in Oslo?");
    message a{role::assistant, {}};
    if (thought) a.content.emplace_back(*thought);
    a.content.emplace_back(tool_call{"call_1", "get_weather", R"({"city":"Oslo"})", {}});
    r.messages.push_back(std::move(a));
    r.messages.push_back(tool_answer("call_1", R"({"temp_c":4})", "get_weather"));
    r.tools.push_back(weather_tool());
    return r;
}

/// The server side's reading of `body` sent to `/model/<model>/converse`.
boost::system::result<detail::inbound_request, detail::api_error>
serve(std::string_view body, std::string_view model = sonnet) {
    request_head_fixture h("/model/m/converse");
    h.head.path_model = model;
    return server().decode_request(h.head, body);
}

detail::answer_meta meta_for(std::string_view model) {
    detail::answer_meta m;
    m.id = "converse-1";
    m.created = 1700000000;
    m.model = model;
    m.request_id = "rid-1";
    return m;
}

/// One event frame of a ConverseStream body.
std::string frame(std::string_view type, std::string_view payload) {
    return detail::encode_message({{":event-type", type},
                                   {":content-type", "application/json"sv},
                                   {":message-type", "event"sv}},
                                  payload);
}

std::vector<chat_chunk> decode_all(detail::wire_format const& f, std::string_view bytes) {
    std::vector<chat_chunk> out;
    auto d = f.make_stream_decoder();
    BOOST_TEST_REQUIRE(d->feed(bytes, out).has_value());
    BOOST_TEST_REQUIRE(d->finish(out).has_value());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bedrock_reasoning)

// ---------------------------------------------------------------------------------------------
// Client side: reasoning controls

BOOST_AUTO_TEST_CASE(claude_thinking_in_additional_model_request_fields) {
    // A budget: enabled thinking; maxTokens above it when the caller set none.
    auto r = ask();
    r.reasoning = reasoning_options{{}, 2048, {}};
    BOOST_TEST(serial(encode_body(r, sonnet)) ==
               R"({"messages":[{"role":"user","content":[{"text":"What is 925 / 5?"}]}],)"
               R"("inferenceConfig":{"maxTokens":6144},)"
               R"("additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":2048}}})");
    // The same, streamed, and for the model id without a region prefix.
    BOOST_TEST(serial(encode_body(r, "anthropic.claude-sonnet-4-5-20250929-v1:0", true)
                          .at("additionalModelRequestFields")) ==
               R"({"thinking":{"type":"enabled","budget_tokens":2048}})");

    // An effort on Claude 4.5: its budget, capped below the caller's max_tokens.
    r.reasoning = reasoning_options{reasoning_effort::high, {}, false};
    r.max_tokens = 5000;
    auto b = encode_body(r, sonnet);
    BOOST_TEST(serial(b.at("additionalModelRequestFields")) ==
               R"({"thinking":{"type":"enabled","budget_tokens":4999,"display":"omitted"}})");
    BOOST_TEST(serial(b.at("inferenceConfig")) == R"({"maxTokens":5000})");

    // An effort on Claude 4.6: adaptive thinking with the effort; maxTokens left alone.
    r.reasoning = reasoning_options{reasoning_effort::medium, {}, {}};
    r.max_tokens.reset();
    b = encode_body(r, "global.anthropic.claude-opus-4-6-v1");
    BOOST_TEST(serial(b.at("additionalModelRequestFields")) ==
               R"({"thinking":{"type":"adaptive"},"output_config":{"effort":"medium"}})");
    BOOST_TEST(!b.contains("inferenceConfig"));

    // Effort none: thinking disabled, said explicitly.
    r.reasoning = reasoning_options{reasoning_effort::none, {}, {}};
    BOOST_TEST(serial(encode_body(r, sonnet).at("additionalModelRequestFields")) ==
               R"({"thinking":{"type":"disabled"}})");

    // The caller's own fields merge in, and win.
    r.reasoning = reasoning_options{{}, 2048, {}};
    r.extra["additionalModelRequestFields"] = json::parse(
        R"({"anthropic_beta":["interleaved-thinking-2025-05-14"],"thinking":{"budget_tokens":3000}})");
    BOOST_TEST(serial(encode_body(r, sonnet).at("additionalModelRequestFields")) ==
               R"({"thinking":{"type":"enabled","budget_tokens":3000},)"
               R"("anthropic_beta":["interleaved-thinking-2025-05-14"]})");
}

BOOST_AUTO_TEST_CASE(nova_2_and_gpt_oss_efforts) {
    auto r = ask();
    auto fields = [&](std::string_view model) {
        return serial(encode_body(r, model).at("additionalModelRequestFields"));
    };
    r.reasoning = reasoning_options{reasoning_effort::low, {}, {}};
    BOOST_TEST(fields(nova) == R"({"reasoningConfig":{"type":"enabled","maxReasoningEffort":"low"}})");
    BOOST_TEST(fields(gpt_oss) == R"({"reasoning_effort":"low"})");
    r.reasoning = reasoning_options{reasoning_effort::minimal, {}, {}};
    BOOST_TEST(fields(nova) == R"({"reasoningConfig":{"type":"enabled","maxReasoningEffort":"low"}})");
    r.reasoning = reasoning_options{reasoning_effort::medium, {}, {}};
    BOOST_TEST(fields("amazon.nova-2-pro-v1:0") ==
               R"({"reasoningConfig":{"type":"enabled","maxReasoningEffort":"medium"}})");
    BOOST_TEST(fields("openai.gpt-oss-20b-1:0") == R"({"reasoning_effort":"medium"})");
    r.reasoning = reasoning_options{reasoning_effort::xhigh, {}, {}};
    BOOST_TEST(fields(gpt_oss) == R"({"reasoning_effort":"high"})");
    // A budget becomes the effort it reaches: 20000 tokens is high.
    r.reasoning = reasoning_options{{}, 20000, {}};
    BOOST_TEST(fields(nova) == R"({"reasoningConfig":{"type":"enabled","maxReasoningEffort":"high"}})");
    // Effort none: Nova 2 and models that do not reason think only when asked.
    r.reasoning = reasoning_options{reasoning_effort::none, {}, {}};
    BOOST_TEST(!encode_body(r, nova).contains("additionalModelRequestFields"));
    BOOST_TEST(!encode_body(r, "meta.llama3-70b-instruct-v1:0").contains("additionalModelRequestFields"));
}

BOOST_AUTO_TEST_CASE(reasoning_refusals_name_the_field) {
    auto r = ask();
    r.reasoning = reasoning_options{{}, 2048, {}};
    r.temperature = 0.2;
    BOOST_TEST(encode_error(r, sonnet).starts_with("temperature:"));
    r.temperature.reset();
    r.top_p = 0.5;
    BOOST_TEST(encode_error(r, sonnet).starts_with("top_p:"));
    r.top_p.reset();
    r.tools.push_back(weather_tool());
    r.tool_choice = tool_choice::required();
    BOOST_TEST(encode_error(r, sonnet).starts_with("tool_choice:"));
    r.tool_choice = tool_choice::named("get_weather");
    BOOST_TEST(encode_error(r, sonnet).starts_with("tool_choice:"));
    r.tool_choice.reset();
    r.tools.clear();
    r.response_format = response_format::json_schema("answer", weather_schema());
    BOOST_TEST(encode_error(r, sonnet).starts_with("response_format:"));
    r.response_format.reset();

    // Claude 3.5 does not think; Claude 4.7 takes no budget.
    BOOST_TEST(encode_error(r, "anthropic.claude-3-5-sonnet-20240620-v1:0")
                   .find("does not think") != std::string::npos);
    BOOST_TEST(encode_error(r, "us.anthropic.claude-opus-4-7-v1").starts_with("reasoning.budget_tokens:"));
    // Budgets Claude refuses.
    r.reasoning = reasoning_options{{}, 512, {}};
    BOOST_TEST(encode_error(r, sonnet, error::invalid_request).find("at least 1024") != std::string::npos);
    r.reasoning = reasoning_options{{}, 4096, {}};
    r.max_tokens = 2000;
    BOOST_TEST(encode_error(r, sonnet, error::invalid_request).find("below max_tokens") !=
               std::string::npos);
    r.reasoning = reasoning_options{reasoning_effort::high, {}, {}};
    r.max_tokens = 800;
    BOOST_TEST(encode_error(r, sonnet, error::invalid_request).starts_with("max_tokens (800)"));
    r.max_tokens.reset();

    // A model llmux knows no controls of, a control Nova and gpt-oss do not have, gpt-oss
    // without reasoning, and what Nova refuses at effort high.
    BOOST_TEST(encode_error(r, "meta.llama3-70b-instruct-v1:0").starts_with("reasoning:"));
    BOOST_TEST(encode_error(r, "amazon.nova-pro-v1:0").starts_with("reasoning:"));
    r.reasoning = reasoning_options{reasoning_effort::low, {}, true};
    BOOST_TEST(encode_error(r, nova).starts_with("reasoning.include_text:"));
    BOOST_TEST(encode_error(r, gpt_oss).starts_with("reasoning.include_text:"));
    r.reasoning = reasoning_options{{}, {}, true};
    BOOST_TEST(encode_error(r, sonnet).starts_with("reasoning.include_text:"));
    r.reasoning = reasoning_options{reasoning_effort::none, {}, {}};
    BOOST_TEST(encode_error(r, gpt_oss).starts_with("reasoning.effort:"));
    r.reasoning = reasoning_options{reasoning_effort::high, {}, {}};
    r.temperature = 0.5;
    BOOST_TEST(encode_error(r, nova).starts_with("temperature:"));
    r.temperature.reset();
    r.max_tokens = 1000;
    BOOST_TEST(encode_error(r, nova).starts_with("max_tokens:"));
    // ...which it takes at a lower effort.
    r.reasoning = reasoning_options{reasoning_effort::medium, {}, {}};
    r.temperature = 0.5;
    BOOST_TEST(serial(encode_body(r, nova).at("inferenceConfig")) ==
               R"({"maxTokens":1000,"temperature":5E-1})");
}

// ---------------------------------------------------------------------------------------------
// Client side: reasoning parts, cache points, documents

BOOST_AUTO_TEST_CASE(claude_reasoning_goes_back_first_in_its_turn) {
    reasoning_part gemini;
    gemini.origin = "google";
    gemini.signature = "CpAI";
    auto r = loop(claude_thought("Need weather. ", "EqQBCkYI"));
    auto& turn = r.messages[1].content;
    turn.insert(turn.begin(), text_part{"Checking.", {}});
    turn.insert(turn.begin(), gemini);
    turn.insert(turn.end() - 1, redacted("EmwKAhgBEgy3va3p"));
    turn.push_back(openai_summary());
    r.reasoning = reasoning_options{{}, 2048, {}};
    // Claude's parts first, byte for byte and in order (the text's trailing space kept); the
    // other families' left out.
    BOOST_TEST(serial(encode_body(r, sonnet).at("messages").at(1)) ==
               R"({"role":"assistant","content":[)"
               R"({"reasoningContent":{"reasoningText":{"text":"Need weather. ","signature":"EqQBCkYI"}}},)"
               R"({"reasoningContent":{"redactedContent":"EmwKAhgBEgy3va3p"}},)"
               R"({"text":"Checking."},)"
               R"({"toolUse":{"toolUseId":"call_1","name":"get_weather","input":{"city":"Oslo"}}}]})");
    // A model that is not Claude cannot read Claude's signatures: none go.
    r.reasoning.reset();
    BOOST_TEST(serial(encode_body(r, nova).at("messages").at(1)) ==
               R"({"role":"assistant","content":[{"text":"Checking."},)"
               R"({"toolUse":{"toolUseId":"call_1","name":"get_weather","input":{"city":"Oslo"}}}]})");
    // A turn of nothing but reasoning the model cannot read is left out whole.
    chat_request only = ask("a");
    only.messages.push_back(message{role::assistant, {openai_summary()}});
    only.messages.push_back(user("b"));
    BOOST_TEST(serial(encode_body(only, sonnet).at("messages")) ==
               R"([{"role":"user","content":[{"text":"a"},{"text":"b"}]}])");
    // Reasoning in a user message is a mistake.
    chat_request wrong = ask();
    wrong.messages[0].content.emplace_back(claude_thought("x", "y"));
    BOOST_TEST(encode_error(wrong, sonnet, error::invalid_request).find("assistant message") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(cache_points_follow_their_blocks) {
    chat_request r;
    r.system = "A long manual.";
    r.system_cache = cache_control{"1h"};
    message u{role::user, {}};
    auto doc = document_base64("application/pdf", "JVBERi0=", "q3-report.pdf");
    doc.cache = cache_control{};
    u.content.emplace_back(doc);
    u.content.emplace_back(text_part{"Summarise.", cache_control{"5m"}});
    r.messages.push_back(std::move(u));
    tool t{"search", "", {}, false, cache_control{}};
    r.tools.push_back(t);
    BOOST_TEST(serial(encode_body(r, sonnet)) ==
               R"({"system":[{"text":"A long manual."},{"cachePoint":{"type":"default","ttl":"1h"}}],)"
               R"("messages":[{"role":"user","content":[)"
               R"({"document":{"format":"pdf","name":"q3-report pdf","source":{"bytes":"JVBERi0="}}},)"
               R"({"cachePoint":{"type":"default"}},{"text":"Summarise."},)"
               R"({"cachePoint":{"type":"default","ttl":"5m"}}]}],)"
               R"("toolConfig":{"tools":[{"toolSpec":{"name":"search","inputSchema":{"json":{"type":"object","properties":{}}}}},)"
               R"({"cachePoint":{"type":"default"}}]}})");

    // Tool results, images, system messages and assistant text.
    auto l = loop(std::nullopt);
    std::get<tool_result>(l.messages[2].content[0]).cache = cache_control{};
    l.messages.insert(l.messages.begin(), message{role::system, {text_part{"Be brief.", cache_control{}}}});
    l.messages.push_back(message{role::assistant, {text_part{"4C.", cache_control{}}}});
    l.messages.push_back(user({image_part{"data:image/png;base64,iVBORw0KGgo=", {}, cache_control{}}}));
    auto const b = encode_body(l, sonnet);
    BOOST_TEST(serial(b.at("system")) ==
               R"([{"text":"Be brief."},{"cachePoint":{"type":"default"}}])");
    BOOST_TEST(serial(b.at("messages").at(2).at("content").at(1)) ==
               R"({"cachePoint":{"type":"default"}})");
    BOOST_TEST(b.at("messages").at(2).at("content").at(0).as_object().contains("toolResult"));
    BOOST_TEST(serial(b.at("messages").at(3)) ==
               R"({"role":"assistant","content":[{"text":"4C."},{"cachePoint":{"type":"default"}}]})");
    BOOST_TEST(serial(b.at("messages").at(4).at("content").at(1)) ==
               R"({"cachePoint":{"type":"default"}})");

    // What is wrong names the place.
    std::get<text_part>(r.messages[0].content[1]).cache = cache_control{"2h"};
    BOOST_TEST(encode_error(r, sonnet, error::invalid_request).find("5m or 1h") != std::string::npos);
    std::get<text_part>(r.messages[0].content[1]).cache = cache_control{};
    r.system.clear();
    BOOST_TEST(encode_error(r, sonnet, error::invalid_request).starts_with("system_cache:"));
    r.system_cache.reset();
    r.messages[0].content.emplace_back(text_part{"", cache_control{}});
    BOOST_TEST(encode_error(r, sonnet, error::invalid_request).find("empty text") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(documents_with_bedrock_names) {
    auto doc_block = [](document_part d, std::string_view model = sonnet) {
        chat_request r = ask("Read it.");
        r.messages[0].content.emplace_back(std::move(d));
        return serial(encode_body(r, model).at("messages").at(0).at("content").at(1));
    };
    // Names: 1-200 letters, digits, hyphens, parentheses, square brackets and single spaces.
    BOOST_TEST(doc_block(document_base64("application/pdf", "JVBE", "q3-report.pdf")) ==
               R"({"document":{"format":"pdf","name":"q3-report pdf","source":{"bytes":"JVBE"}}})");
    BOOST_TEST(doc_block(document_base64("text/csv", "YSxi", "my_file  (v2) [final].csv")) ==
               R"({"document":{"format":"csv","name":"my file (v2) [final] csv","source":{"bytes":"YSxi"}}})");
    BOOST_TEST(doc_block(document_base64("application/pdf", "JVBE", "Résumé.pdf")) ==
               R"({"document":{"format":"pdf","name":"R sum pdf","source":{"bytes":"JVBE"}}})");
    BOOST_TEST(doc_block(document_base64("text/plain;charset=utf-8", "aGk=", "...")) ==
               R"({"document":{"format":"txt","name":"document-1","source":{"bytes":"aGk="}}})");
    auto const long_name = doc_block(document_base64("text/markdown", "aGk=", std::string(250, 'a')));
    BOOST_TEST(long_name.find("\"name\":\"" + std::string(200, 'a') + "\"") != std::string::npos);
    BOOST_TEST(long_name.find("\"format\":\"md\"") != std::string::npos);
    // Unnamed documents are numbered in the request's order.
    chat_request two = ask("Compare.");
    two.messages[0].content.emplace_back(document_base64("application/pdf", "JVBE"));
    two.messages[0].content.emplace_back(
        document_base64("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "UEsD"));
    auto const content = encode_body(two, nova).at("messages").at(0).at("content");
    BOOST_TEST(content.at(1).at("document").at("name") == "document-1");
    BOOST_TEST(content.at(2).at("document").at("name") == "document-2");
    BOOST_TEST(content.at(2).at("document").at("format") == "docx");
    // An S3 object: its format from the extension.
    BOOST_TEST(doc_block(document_part{"s3://bucket/reports/q3.xlsx", "Q3", {}}) ==
               R"({"document":{"format":"xlsx","name":"Q3","source":{"s3Location":{"uri":"s3://bucket/reports/q3.xlsx"}}}})");

    // What Bedrock cannot take.
    auto doc_error = [](document_part d, error code = error::unsupported) {
        chat_request r = ask("Read it.");
        r.messages[0].content.emplace_back(std::move(d));
        return encode_error(r, sonnet, code);
    };
    BOOST_TEST(doc_error(document_part{"https://example.com/a.pdf", "a", {}}).find("does not fetch") !=
               std::string::npos);
    BOOST_TEST(doc_error(document_base64("image/png", "iVBO", "a")).find("not 'image/png'") !=
               std::string::npos);
    BOOST_TEST(doc_error(document_part{"s3://bucket/a.exe", "a", {}}).find("extension") !=
               std::string::npos);
    BOOST_TEST(doc_error(document_part{"file:///a.pdf", "a", {}}, error::invalid_request)
                   .starts_with("messages[0].content[1]"));
    chat_request in_assistant = ask();
    in_assistant.messages.push_back(message{role::assistant, {document_base64("application/pdf", "JVBE")}});
    BOOST_TEST(encode_error(in_assistant, sonnet).find("images or documents") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Client side: decoding

BOOST_AUTO_TEST_CASE(reasoning_content_decoded_whole) {
    std::string const body = R"({"output":{"message":{"role":"assistant","content":[
        {"reasoningContent":{"reasoningText":{"text":"925 / 5","signature":"EqQB"}}},
        {"reasoningContent":{"redactedContent":"cmVkYWN0ZWQ="}},
        {"reasoningContent":{"reasoningText":{"text":" = 185"}}},
        {"text":"185"}]}},"stopReason":"end_turn",
        "usage":{"inputTokens":10,"outputTokens":20,"totalTokens":42,"cacheReadInputTokens":5,"cacheWriteInputTokens":7}})";
    response_head head;
    head.status = 200;
    // Claude's answers (the model the client resolved the format for) carry Claude's parts.
    auto const r = fmt().for_model(sonnet).decode(head, body);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->reasoning == "925 / 5 = 185");
    BOOST_TEST(r->content == "185");
    BOOST_TEST_REQUIRE(r->reasoning_parts.size() == 3u);
    BOOST_TEST((r->reasoning_parts[0] == claude_thought("925 / 5", "EqQB")));
    BOOST_TEST((r->reasoning_parts[1] == redacted("cmVkYWN0ZWQ=")));
    BOOST_TEST((r->reasoning_parts[2] == claude_thought(" = 185", "")));
    BOOST_TEST(*r->usage.input_tokens == 22u);
    BOOST_TEST(*r->usage.cached_input_tokens == 5u);
    BOOST_TEST(*r->usage.cache_write_tokens == 7u);
    // Other models' reasoning is Bedrock's.
    for (auto const* f : {&fmt(), &fmt().for_model(nova), &fmt().for_model(gpt_oss)}) {
        auto const o = f->decode(head, body);
        BOOST_TEST_REQUIRE(o.has_value());
        BOOST_TEST_REQUIRE(o->reasoning_parts.size() == 3u);
        BOOST_TEST(o->reasoning_parts[0].origin == "bedrock");
        BOOST_TEST(o->reasoning_parts[1].origin == "bedrock");
    }
    BOOST_TEST(fmt().for_model(sonnet).name() == "bedrock");
}

BOOST_AUTO_TEST_CASE(reasoning_content_decoded_streamed_at_every_split) {
    std::string bytes = frame("messageStart", R"({"role":"assistant"})");
    bytes += frame("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"925 "}},"p":"ab"})");
    bytes += frame("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"/ 5"}}})");
    bytes += frame("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"EqQB"}}})");
    bytes += frame("contentBlockStop", R"({"contentBlockIndex":0})");
    bytes += frame("contentBlockDelta", R"({"contentBlockIndex":1,"delta":{"reasoningContent":{"redactedContent":"cmVk"}}})");
    bytes += frame("contentBlockStop", R"({"contentBlockIndex":1})");
    bytes += frame("contentBlockDelta", R"({"contentBlockIndex":2,"delta":{"text":"185"}})");
    bytes += frame("contentBlockStop", R"({"contentBlockIndex":2})");
    bytes += frame("messageStop", R"({"stopReason":"end_turn"})");
    bytes += frame("metadata", R"({"usage":{"inputTokens":3,"outputTokens":9,"totalTokens":12},"metrics":{"latencyMs":5}})");
    auto const got = decode_at_every_split(fmt().for_model(sonnet), bytes);
    BOOST_TEST(got.at("end") == "ok");
    auto const& chunks = got.at("chunks").as_array();
    BOOST_TEST_REQUIRE(chunks.size() == 7u);
    check_json(json::array(chunks.begin(), chunks.begin() + 6), json::parse(R"([
        {"reasoning":"925 "},
        {"reasoning":"/ 5"},
        {"reasoning_parts":[{"kind":0,"origin":"anthropic","text":"925 / 5","signature":"EqQB"}]},
        {"reasoning_parts":[{"kind":2,"origin":"anthropic","data":"cmVk"}]},
        {"text":"185"},
        {"finish_reason":"stop"}])"),
               "chunks");
    // The assembled answer sends the parts back.
    auto const whole = accumulate(decode_all(fmt().for_model(sonnet), bytes));
    auto const next = assistant(whole);
    BOOST_TEST_REQUIRE(next.content.size() == 3u);
    BOOST_TEST((std::get<reasoning_part>(next.content[0]) == claude_thought("925 / 5", "EqQB")));
    BOOST_TEST((std::get<reasoning_part>(next.content[1]) == redacted("cmVk")));

    // A reasoning block Bedrock did not stop still ends whole, at messageStop; another model's
    // is Bedrock's.
    std::string unstopped = frame("messageStart", R"({"role":"assistant"})");
    unstopped += frame("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"hm"}}})");
    unstopped += frame("messageStop", R"({"stopReason":"end_turn"})");
    unstopped += frame("metadata", R"({"usage":{"inputTokens":3,"outputTokens":9,"totalTokens":12}})");
    auto const u = decode_at_every_split(fmt().for_model(nova), unstopped);
    check_json(u.at("chunks").at(1),
               json::parse(R"({"reasoning_parts":[{"kind":0,"origin":"bedrock","text":"hm"}]})"),
               "unstopped");
}

// ---------------------------------------------------------------------------------------------
// Server side: decoding

BOOST_AUTO_TEST_CASE(server_reads_reasoning_cache_points_and_documents) {
    auto const in = serve(R"({
        "system":[{"text":"Manual."},{"cachePoint":{"type":"default","ttl":"1h"}},{"text":"Be brief."},{"cachePoint":{"type":"default"}}],
        "messages":[
          {"role":"user","content":[
            {"document":{"format":"pdf","name":"Q3 report","source":{"bytes":"JVBE"}}},{"cachePoint":{"type":"default"}},
            {"text":"Weather?"},{"cachePoint":{"type":"default"}},
            {"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}},{"cachePoint":{"type":"default","ttl":"5m"}},
            {"document":{"format":"md","name":"notes","source":{"s3Location":{"uri":"s3://b/notes.md"}}}}]},
          {"role":"assistant","content":[
            {"reasoningContent":{"reasoningText":{"text":"Need it.","signature":"EqQB"}}},
            {"reasoningContent":{"redactedContent":"EmwK"}},
            {"toolUse":{"toolUseId":"t1","name":"get_weather","input":{}}}]},
          {"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"4C"}]}},{"cachePoint":{"type":"default","ttl":"5m"}}]}],
        "toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object"}}}},{"cachePoint":{"type":"default"}}]},
        "inferenceConfig":{"maxTokens":9000},
        "additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":4000,"display":"omitted"},
                                        "anthropic_beta":["interleaved-thinking-2025-05-14"]}})");
    BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
    auto const& r = in->req;
    // What is left of additionalModelRequestFields stays native; nothing else is.
    check_json(in->native,
               json::parse(R"({"additionalModelRequestFields":{"anthropic_beta":["interleaved-thinking-2025-05-14"]}})"),
               "native");
    BOOST_TEST_REQUIRE(r.reasoning.has_value());
    BOOST_TEST((r.reasoning->budget_tokens == std::optional<std::int64_t>(4000)));
    BOOST_TEST((r.reasoning->include_text == std::optional<bool>(false)));
    BOOST_TEST(!r.reasoning->effort.has_value());
    BOOST_TEST(r.system == "Manual.");
    BOOST_TEST((r.system_cache == std::optional<cache_control>(cache_control{"1h"})));
    BOOST_TEST_REQUIRE(r.messages.size() == 4u);
    BOOST_TEST((r.messages[0].role == role::system));
    BOOST_TEST((std::get<text_part>(r.messages[0].content[0]).cache ==
                std::optional<cache_control>(cache_control{})));
    auto const& u = r.messages[1].content;
    BOOST_TEST_REQUIRE(u.size() == 4u);
    auto const& doc = std::get<document_part>(u[0]);
    BOOST_TEST(doc.url == "data:application/pdf;base64,JVBE");
    BOOST_TEST(doc.name == "Q3 report");
    BOOST_TEST(doc.cache.has_value());
    BOOST_TEST(std::get<text_part>(u[1]).cache.has_value());
    BOOST_TEST((std::get<image_part>(u[2]).cache == std::optional<cache_control>(cache_control{"5m"})));
    BOOST_TEST(std::get<document_part>(u[3]).url == "s3://b/notes.md");
    BOOST_TEST(!std::get<document_part>(u[3]).cache.has_value());
    auto const& a = r.messages[2].content;
    BOOST_TEST((std::get<reasoning_part>(a[0]) == claude_thought("Need it.", "EqQB")));
    BOOST_TEST((std::get<reasoning_part>(a[1]) == redacted("EmwK")));
    BOOST_TEST(std::holds_alternative<tool_call>(a[2]));
    BOOST_TEST((std::get<tool_result>(r.messages[3].content[0]).cache ==
                std::optional<cache_control>(cache_control{"5m"})));
    BOOST_TEST(r.tools.at(0).cache.has_value());

    // Another model's reasoning is Bedrock's; a cachePoint after a block that cannot carry one
    // keeps the messages native.
    auto const other = serve(R"({"messages":[{"role":"user","content":[{"text":"q"}]},
        {"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"hm"}}},
                                       {"toolUse":{"toolUseId":"t","name":"f","input":{}}},{"cachePoint":{"type":"default"}}]},
        {"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"text":"r"}]}}]}],
        "toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}})",
                             nova);
    BOOST_TEST_REQUIRE(other.has_value(), (other ? "" : other.error().message));
    BOOST_TEST(std::get<reasoning_part>(other->req.messages[1].content[0]).origin == "bedrock");
    BOOST_TEST(other->native.contains("messages"));
}

BOOST_AUTO_TEST_CASE(server_reads_every_reasoning_dialect) {
    auto reasoning_of = [](std::string_view fields, std::string_view model = sonnet) {
        std::string body = R"({"messages":[{"role":"user","content":[{"text":"q"}]}],"additionalModelRequestFields":)";
        body += fields;
        body += '}';
        auto in = serve(body, model);
        BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
        return std::move(*in);
    };
    auto const effort = [](detail::inbound_request const& in) {
        BOOST_TEST_REQUIRE(in.req.reasoning.has_value());
        return in.req.reasoning->effort ? std::string(to_string(*in.req.reasoning->effort)) : "";
    };
    // Strands' and AWS's gateway's key for Claude's thinking.
    auto in = reasoning_of(R"({"reasoning_config":{"type":"enabled","budget_tokens":2048}})");
    BOOST_TEST((in.req.reasoning->budget_tokens == std::optional<std::int64_t>(2048)));
    BOOST_TEST(in.native.empty());
    // Adaptive thinking with its effort; output_config's other members stay native.
    in = reasoning_of(R"({"thinking":{"type":"adaptive"},"output_config":{"effort":"low","x":1}})");
    BOOST_TEST(effort(in) == "low");
    check_json(in.native, json::parse(R"({"additionalModelRequestFields":{"output_config":{"x":1}}})"), "native");
    in = reasoning_of(R"({"thinking":{"type":"adaptive"}})");
    BOOST_TEST(effort(in) == "high");
    in = reasoning_of(R"({"thinking":{"type":"disabled"}})");
    BOOST_TEST(effort(in) == "none");
    // An effort beside a budget is Claude's to judge: kept native.
    in = reasoning_of(R"({"thinking":{"type":"enabled","budget_tokens":2048},"output_config":{"effort":"high"}})");
    BOOST_TEST(in.req.reasoning->budget_tokens.has_value());
    check_json(in.native, json::parse(R"({"additionalModelRequestFields":{"output_config":{"effort":"high"}}})"), "native");
    // Nova 2 and gpt-oss.
    in = reasoning_of(R"({"reasoningConfig":{"type":"enabled","maxReasoningEffort":"high"}})", nova);
    BOOST_TEST(effort(in) == "high");
    BOOST_TEST(in.native.empty());
    in = reasoning_of(R"({"reasoningConfig":{"type":"disabled"}})", nova);
    BOOST_TEST(effort(in) == "none");
    in = reasoning_of(R"({"reasoning_effort":"low"})", gpt_oss);
    BOOST_TEST(effort(in) == "low");
    // Two controls: the first is read, the other stays native, not dropped.
    in = reasoning_of(R"({"thinking":{"type":"enabled","budget_tokens":2048},"reasoning_effort":"low"})");
    BOOST_TEST(in.req.reasoning->budget_tokens.has_value());
    check_json(in.native, json::parse(R"({"additionalModelRequestFields":{"reasoning_effort":"low"}})"), "native");
    // Shapes llmux does not read stay native whole.
    in = reasoning_of(R"({"reasoningConfig":{"type":"enabled"},"top_k":40})", nova);
    BOOST_TEST(!in.req.reasoning.has_value());
    check_json(in.native,
               json::parse(R"({"additionalModelRequestFields":{"reasoningConfig":{"type":"enabled"},"top_k":40}})"),
               "native");

    // Each read back by the client side as the same body (the round trip through a gateway).
    for (auto const& [fields, model] :
         {std::pair{R"({"thinking":{"type":"enabled","budget_tokens":2048},"anthropic_beta":["b"]})"sv, sonnet},
          std::pair{R"({"reasoningConfig":{"type":"enabled","maxReasoningEffort":"medium"}})"sv, nova},
          std::pair{R"({"reasoning_effort":"high"})"sv, gpt_oss}}) {
        BOOST_TEST_CONTEXT(fields) {
            std::string body = R"({"messages":[{"role":"user","content":[{"text":"q"}]}],"inferenceConfig":{"maxTokens":9000},"additionalModelRequestFields":)";
            body += fields;
            body += '}';
            auto const got = serve(body, model);
            BOOST_TEST_REQUIRE(got.has_value());
            chat_request back = got->req;
            back.extra = got->native;
            check_json(encode_body(back, model), json::parse(body), "re-encoded");
        }
    }
}

BOOST_AUTO_TEST_CASE(server_bad_requests_name_the_field) {
    struct bad_case {
        char const* body;
        char const* param;
        char const* says;
    };
    bad_case const cases[] = {
        {R"({"messages":[{"role":"user","content":[{"cachePoint":{"type":"default"}},{"text":"x"}]}]})",
         "messages.0.content.0.cachePoint", "must follow the content to cache"},
        {R"({"system":[{"cachePoint":{"type":"default"}}],"messages":[{"role":"user","content":[{"text":"x"}]}]})",
         "system.0.cachePoint", "must follow the content to cache"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"cachePoint":{"type":"default"}},{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}})",
         "toolConfig.tools.0.cachePoint", "must follow the content to cache"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"},{"cachePoint":{"type":"default","ttl":"2h"}}]}]})",
         "messages.0.content.1.cachePoint.ttl", "[5m, 1h]"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"},{"cachePoint":{"type":"forever"}}]}]})",
         "messages.0.content.1.cachePoint.type", "[default]"},
        {R"({"messages":[{"role":"user","content":[{"reasoningContent":{"reasoningText":{"text":"x"}}}]}]})",
         "messages.0.content.0.reasoningContent", "must be in an assistant message"},
        {R"({"messages":[{"role":"user","content":[{"text":"q"}]},{"role":"assistant","content":[{"reasoningContent":{}}]}]})",
         "messages.1.content.0.reasoningContent", "exactly one of: reasoningText, redactedContent"},
        {R"({"messages":[{"role":"user","content":[{"text":"q"}]},{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"signature":"s"}}}]}]})",
         "messages.1.content.0.reasoningContent.reasoningText.text", "Member must not be null"},
        {R"({"messages":[{"role":"user","content":[{"text":"q"}]},{"role":"assistant","content":[{"reasoningContent":{"redactedContent":"not base64!"}}]}]})",
         "messages.1.content.0.reasoningContent.redactedContent", "not valid base64"},
        {R"({"messages":[{"role":"user","content":[{"document":{"format":"exe","name":"a","source":{"bytes":"aGk="}}}]}]})",
         "messages.0.content.0.document.format", "[pdf, csv, doc, docx, xls, xlsx, html, txt, md]"},
        {R"({"messages":[{"role":"user","content":[{"document":{"format":"pdf","source":{"bytes":"aGk="}}}]}]})",
         "messages.0.content.0.document.name", "Member must not be null"},
        {R"({"messages":[{"role":"user","content":[{"document":{"format":"pdf","name":"a","source":{"bytes":"%%"}}}]}]})",
         "messages.0.content.0.document.source", "no valid base64 bytes or s3Location"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":100}}})",
         "additionalModelRequestFields.thinking.budget_tokens",
         "The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"additionalModelRequestFields":{"thinking":{"type":"enabled"}}})",
         "additionalModelRequestFields.thinking.budget_tokens", "Field required"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"additionalModelRequestFields":{"reasoning_config":{"type":"sometimes"}}})",
         "additionalModelRequestFields.reasoning_config.type", "'enabled', 'disabled', 'adaptive'"},
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"additionalModelRequestFields":{"thinking":{"type":"adaptive"},"output_config":{"effort":"minimal"}}})",
         "additionalModelRequestFields.output_config.effort", "Input should be 'low'"},
        // A number a double cannot hold (found by fuzz/bedrock_request.cpp: it came back null).
        {R"({"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"topK":1e999}})",
         "inferenceConfig.topK", "out of range"},
    };
    for (auto const& c : cases) {
        BOOST_TEST_CONTEXT(c.body) {
            auto const r = serve(c.body);
            BOOST_TEST_REQUIRE(!r);
            BOOST_TEST(r.error().status == 400u);
            BOOST_TEST(r.error().type == "ValidationException");
            BOOST_TEST(r.error().param == c.param);
            BOOST_TEST(r.error().message.find(c.says) != std::string::npos, r.error().message);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

BOOST_AUTO_TEST_CASE(client_request_read_back_by_the_server_side) {
    chat_request r;
    r.model = std::string(sonnet);
    r.system = "Manual.";
    r.system_cache = cache_control{"1h"};
    auto doc = document_base64("application/pdf", "JVBE", "Q3 report");
    doc.cache = cache_control{};
    r.messages.push_back(user({doc, text_part{"Weather in Oslo?", cache_control{"5m"}}}));
    r.messages.push_back(message{role::assistant,
                                 {claude_thought("Need it.", "EqQB"), redacted("EmwK"),
                                  text_part{"Checking.", {}},
                                  tool_call{"t1", "get_weather", R"({"city":"Oslo"})", {}}}});
    r.messages.push_back(user({tool_result{"t1", "get_weather", "4C", false, cache_control{}}}));
    r.tools.push_back(weather_tool());
    r.tools.back().cache = cache_control{};
    r.max_tokens = 8000;
    r.reasoning = reasoning_options{{}, 2048, false};
    auto const p = bedrock_provider();
    auto const sent = fmt().for_model(sonnet).encode(r, encode_context{p, sonnet, false});
    BOOST_TEST_REQUIRE(sent.has_value());
    auto const got = serve(sent->body);
    BOOST_TEST_REQUIRE(got.has_value(), (got ? "" : got.error().message));
    BOOST_TEST(got->native.empty(), json::serialize(got->native));
    check_json(request_json(got->req), request_json(r), "request");
}

BOOST_AUTO_TEST_CASE(server_answers_read_back_by_the_client_side) {
    chat_response r;
    r.reasoning = "Need it.Summary.";
    r.reasoning_parts = {claude_thought("Need it.", "EqQB"), redacted("EmwK"), openai_summary()};
    r.tool_calls.push_back({"t1", "get_weather", R"({"city":"Oslo"})"});
    r.finish_reason = finish_reason::tool_calls;
    r.usage.input_tokens = 50;
    r.usage.output_tokens = 7;
    r.usage.cached_input_tokens = 30;
    r.usage.cache_write_tokens = 10;
    std::string body;
    server().encode_response(r, meta_for(sonnet), body);
    // Claude's parts as they are; another family's sealed into the signature.
    auto const v = json::parse(body);
    auto const& content = v.at("output").at("message").at("content").as_array();
    BOOST_TEST_REQUIRE(content.size() == 4u);
    BOOST_TEST(serial(content[0]) ==
               R"({"reasoningContent":{"reasoningText":{"text":"Need it.","signature":"EqQB"}}})");
    BOOST_TEST(serial(content[1]) == R"({"reasoningContent":{"redactedContent":"EmwK"}})");
    BOOST_TEST(content[2].at("reasoningContent").at("reasoningText").at("signature") ==
               json::value(detail::seal_reasoning(openai_summary())));
    check_json(v.at("usage"),
               json::parse(R"({"inputTokens":10,"outputTokens":7,"totalTokens":57,"cacheReadInputTokens":30,"cacheWriteInputTokens":10})"),
               "usage");

    // The client reads it, sends the turn back, and the server side restores every part.
    response_head head;
    head.status = 200;
    auto const back = fmt().for_model(sonnet).decode(head, body);
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST_REQUIRE(back->reasoning_parts.size() == 3u);
    BOOST_TEST((back->reasoning_parts[0] == r.reasoning_parts[0]));
    BOOST_TEST((back->reasoning_parts[1] == r.reasoning_parts[1]));
    BOOST_TEST(*back->usage.input_tokens == 50u);
    chat_request next = ask("Weather in Oslo?");
    next.messages.push_back(assistant(*back));
    next.messages.push_back(tool_answer("t1", "4C", "get_weather"));
    next.tools.push_back(weather_tool());
    auto const p = bedrock_provider();
    auto const sent = fmt().for_model(sonnet).encode(next, encode_context{p, sonnet, false});
    BOOST_TEST_REQUIRE(sent.has_value());
    auto const in = serve(sent->body);
    BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
    auto const& turn = in->req.messages[1].content;
    BOOST_TEST_REQUIRE(turn.size() == 4u);
    BOOST_TEST((std::get<reasoning_part>(turn[0]) == r.reasoning_parts[0]));
    BOOST_TEST((std::get<reasoning_part>(turn[1]) == r.reasoning_parts[1]));
    auto const& opened = std::get<reasoning_part>(turn[2]);
    BOOST_TEST(opened.origin == "openai");
    BOOST_TEST(opened.id == "rs_1");
    BOOST_TEST(opened.signature == "gAAAA");
    BOOST_TEST(opened.text == "Summary.");

    // To a model that is not Claude, Claude's parts are the sealed ones.
    std::string nova_body;
    server().encode_response(r, meta_for(nova), nova_body);
    auto const nv = json::parse(nova_body);
    auto const& first = nv.at("output").at("message").at("content").at(0).at("reasoningContent");
    BOOST_TEST(first.at("reasoningText").at("signature") ==
               json::value(detail::seal_reasoning(r.reasoning_parts[0])));
}

BOOST_AUTO_TEST_CASE(server_streams_read_back_by_the_client_side) {
    std::vector<chat_chunk> chunks(5);
    chunks[0].reasoning = "Need ";
    chunks[1].reasoning = "it.";
    chunks[1].reasoning_parts.push_back(claude_thought("Need it.", "EqQB"));
    chunks[2].reasoning_parts.push_back(redacted("EmwK"));
    chunks[3].reasoning_parts.push_back(openai_summary());  // whole: its text goes first
    chunks[4].text = "Sunny.";
    chunks[4].finish_reason = finish_reason::stop;
    chat_response whole;
    whole.finish_reason = finish_reason::stop;
    whole.usage.input_tokens = 5;
    whole.usage.output_tokens = 7;
    whole.usage.cached_input_tokens = 2;
    auto const bytes = encode_stream(server(), meta_for(sonnet), true, chunks, whole);
    auto const got = decode_at_every_split(fmt().for_model(sonnet), bytes);
    BOOST_TEST(got.at("end") == "ok");
    json::array expected{
        json::parse(R"({"reasoning":"Need "})"),
        json::parse(R"({"reasoning":"it."})"),
        json::parse(R"({"reasoning_parts":[{"kind":0,"origin":"anthropic","text":"Need it.","signature":"EqQB"}]})"),
        json::parse(R"({"reasoning_parts":[{"kind":2,"origin":"anthropic","data":"EmwK"}]})"),
        json::parse(R"({"reasoning":"Summary."})"),
        json::object{{"reasoning_parts",
                      json::array{json::object{{"kind", 0},
                                               {"origin", "anthropic"},
                                               {"text", "Summary."},
                                               {"signature", detail::seal_reasoning(openai_summary())}}}}},
        json::parse(R"({"text":"Sunny."})"),
        json::parse(R"({"finish_reason":"stop"})")};
    auto const& all = got.at("chunks").as_array();
    BOOST_TEST_REQUIRE(all.size() == expected.size() + 1);  // and the usage
    check_json(json::array(all.begin(), all.end() - 1), expected, "chunks");
    BOOST_TEST(all.back().at("usage").at("cached_input") == json::value(2));
}

BOOST_AUTO_TEST_CASE(call_signatures_ride_on_tool_use_ids) {
    // Gemini's thoughtSignature on a call has no place in Converse: the server side seals it
    // into the toolUseId, whole and streamed, and opens it when the id comes back.
    chat_response r;
    r.tool_calls.push_back({"call_0", "get_weather", R"({"city":"Oslo"})", "EpAICo4g"});
    r.tool_calls.push_back({"call_1", "get_time", "{}", {}});
    r.finish_reason = finish_reason::tool_calls;
    std::string body;
    server().encode_response(r, meta_for("google/gemini-3-pro-preview"), body);
    auto const v = json::parse(body);
    auto const& content = v.at("output").at("message").at("content").as_array();
    auto const sealed = detail::seal_call_id("call_0", {}, "EpAICo4g");
    BOOST_TEST(content.at(0).at("toolUse").at("toolUseId") == json::value(sealed));
    BOOST_TEST(content.at(1).at("toolUse").at("toolUseId") == "call_1");  // nothing to carry

    std::vector<chat_chunk> chunks(2);
    chunks[0].tool_calls.push_back({0, "call_0", "get_weather", "", "EpAICo4g"});
    chunks[1].tool_calls.push_back({0, "", "", R"({"city":"Oslo"})", {}});
    chunks[1].finish_reason = finish_reason::tool_calls;
    chat_response whole;
    whole.finish_reason = finish_reason::tool_calls;
    auto const streamed = accumulate(
        decode_all(fmt(), encode_stream(server(), meta_for("m"), true, chunks, whole)));
    BOOST_TEST_REQUIRE(streamed.tool_calls.size() == 1u);
    BOOST_TEST(streamed.tool_calls[0].id == sealed);

    // A client sends the id back, on its call and on the result: the server side opens both.
    response_head head;
    head.status = 200;
    auto const back = fmt().decode(head, body);
    BOOST_TEST_REQUIRE(back.has_value());
    chat_request next = ask("Weather in Oslo?");
    next.messages.push_back(assistant(*back));
    next.messages.push_back(tool_answer(back->tool_calls[0].id, "4C"));
    next.messages.push_back(tool_answer(back->tool_calls[1].id, "noon"));
    next.tools.push_back(weather_tool());
    auto const p = bedrock_provider();
    auto const sent = fmt().encode(next, encode_context{p, "m", false});
    BOOST_TEST_REQUIRE(sent.has_value());
    auto const in = serve(sent->body, "google/gemini-3-pro-preview");
    BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
    auto const& call = std::get<tool_call>(in->req.messages[1].content[0]);
    BOOST_TEST(call.id == "call_0");
    BOOST_TEST(call.signature == "EpAICo4g");
    BOOST_TEST(std::get<tool_call>(in->req.messages[1].content[1]).signature.empty());
    auto const& result = std::get<tool_result>(in->req.messages[2].content[0]);
    BOOST_TEST(result.tool_call_id == "call_0");
    BOOST_TEST(result.name == "get_weather");
}

BOOST_AUTO_TEST_CASE(server_decode_then_client_encode_is_a_fixed_point) {
    // What fuzz/bedrock_request.cpp checks over arbitrary bodies, here over the new blocks:
    // encoding what the server side decoded, decoding that and encoding again gives the same
    // bytes, for Claude and for other models.
    auto const through = [](std::string_view body, std::string_view model) -> std::string {
        auto const in = serve(body, model);
        BOOST_TEST_REQUIRE(in.has_value(), (in ? "" : in.error().message));
        chat_request req = in->req;
        req.extra = in->native;
        auto const p = bedrock_provider();
        auto const sent = fmt().for_model(model).encode(req, encode_context{p, model, false});
        BOOST_TEST_REQUIRE(sent.has_value(), (sent ? "" : sent.error().to_string()));
        return sent->body;
    };
    std::string_view const bodies[] = {
        R"({"system":[{"text":"a"},{"cachePoint":{"type":"default"}},{"cachePoint":{"type":"default"}}],
            "messages":[{"role":"user","content":[{"text":"q"},{"document":{"format":"doc","name":"a.b__c","source":{"bytes":"aGk="}}},{"cachePoint":{"type":"default","ttl":"1h"}}]},
                        {"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":" t ","signature":"s"}}},{"reasoningContent":{"redactedContent":"aGk="}},{"text":"x"}]},
                        {"role":"user","content":[{"text":"r"},{"document":{"format":"pdf","name":"...","source":{"bytes":"aGk="}}}]}],
            "additionalModelRequestFields":{"thinking":{"type":"disabled","x":1},"top_k":3}})",
        R"({"messages":[{"role":"user","content":[{"text":"q"}]},
                        {"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"t","signature":"llmux1.openai.cnNfMQ.Z0FBQUE"}}}]},
                        {"role":"user","content":[{"text":"r"},{"cachePoint":{"type":"default"}},{"cachePoint":{"type":"default"}}]}]})",
    };
    for (auto const body : bodies)
        for (auto const model : {sonnet, "m"sv}) {
            BOOST_TEST_CONTEXT(model << ": " << body) {
                auto const once = through(body, model);
                auto const twice = through(once, model);
                BOOST_TEST(twice == once);
                BOOST_TEST(through(twice, model) == twice);
            }
        }
}

// ---------------------------------------------------------------------------------------------
// The emulator

BOOST_AUTO_TEST_CASE(emulator_refuses_a_dropped_thinking_block_in_bedrock_words) {
    using kind = detail::reasoning_fault::kind;
    BOOST_TEST(detail::reasoning_family(sonnet) == "anthropic");
    BOOST_TEST(detail::reasoning_family("anthropic.claude-sonnet-4-5-20250929-v1:0") == "anthropic");
    BOOST_TEST(detail::reasoning_family("anthropic.claude-3-5-sonnet-20240620-v1:0").empty());
    auto dropped = loop(std::nullopt);
    dropped.reasoning = reasoning_options{{}, 2048, {}};
    auto f = detail::check_reasoning(dropped, sonnet);
    BOOST_TEST_REQUIRE(f.has_value());
    BOOST_TEST((f->what == kind::missing_thinking));
    auto e = server().reasoning_refused(*f);
    BOOST_TEST(e.status == 400u);
    BOOST_TEST(e.type == "ValidationException");
    BOOST_TEST(e.param == "messages.1.content.0");
    BOOST_TEST(e.message.starts_with(
        "The model returned the following errors: messages.1.content.0.type: Expected `thinking` "
        "or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled"));
    // In Bedrock's error shape.
    auto const a = server().encode_error(e);
    BOOST_TEST(a.status == 400u);
    BOOST_TEST(a.body.find("Expected `thinking`") != std::string::npos);
    // Altered: the signature no longer matches.
    auto altered = loop(claude_thought("Need it!", detail::emu_signature("anthropic", "Need it.")));
    f = detail::check_reasoning(altered, sonnet);
    BOOST_TEST_REQUIRE(f.has_value());
    e = server().reasoning_refused(*f);
    BOOST_TEST(e.message ==
               "The model returned the following errors: messages.1.content.0: Invalid "
               "`signature` in `thinking` block");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
