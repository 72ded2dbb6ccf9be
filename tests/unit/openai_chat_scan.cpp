// SPDX-License-Identifier: BSL-1.0
// The SAX scan of OpenAI chat-completions answers and chunks (src/wire/openai_chat_scan.hpp):
// it reads the common shapes without a DOM, gives up on the rest, and every answer decodes the
// same with it as without it (the DOM decoder is the reference).
#include "common/wire_fixtures.hpp"
#include "wire/openai_chat.hpp"
#include "wire/openai_chat_scan.hpp"

#include <llmux/error.hpp>
#include <llmux/types.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace llmux::test {

namespace {

namespace json = boost::json;
namespace openai = detail::openai;
using namespace std::string_view_literals;

detail::response_head ok_head() {
    detail::response_head h;
    h.status = 200;
    h.headers.emplace_back("x-request-id", "req_1");
    return h;
}

json::value decoded(std::string_view body, bool scan) {
    auto r = openai::decode_answer(ok_head(), body, scan);
    if (r) return response_json(*r);
    return json::object{{"failure", failure_json(r.error())}};
}

json::value streamed(std::vector<std::string_view> const& pieces, bool scan) {
    return decode_stream(*openai::make_chunk_decoder(scan), pieces);
}

// Decodes `text` as an answer and as a stream of one event, each with and without the scan,
// and expects the same results.
void same_both_ways(std::string const& text) {
    BOOST_TEST_CONTEXT(text) {
        BOOST_TEST(decoded(text, true) == decoded(text, false));
        std::string const stream = "data: " + text + "\n\ndata: [DONE]\n\n";
        BOOST_TEST(streamed({stream}, true) == streamed({stream}, false));
    }
}

// Bodies and events around each thing the scan reads or gives up on.
std::vector<std::string> const edge_cases = {
    // the common shapes
    R"({"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},"service_tier":"default","system_fingerprint":"fp"})",
    R"({"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]})",
    R"({"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":" answer"},"finish_reason":null}]})",
    R"({"id":"c1","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})",
    R"({"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":null})",
    // the choice and its index
    R"({"choices":[{"delta":{"content":"x"},"message":{"content":"y"},"index":0}]})",
    R"({"choices":[{"message":{"content":"y"},"delta":{"content":"x"},"index":1}]})",
    R"({"choices":[{"index":"0","message":{"content":"y"},"delta":{"content":"x"}}]})",
    R"({"choices":[{"index":0.0,"delta":{"content":"x"},"message":{"content":"y"}}]})",
    R"({"choices":[{"index":-1,"delta":{"content":"x"},"message":{"content":"y"}}]})",
    R"({"choices":[{"index":null,"delta":{"content":"x"},"message":{"content":"y"}}]})",
    R"({"choices":[{"index":[0],"delta":{"content":"x"},"message":{"content":"y"}}]})",
    R"({"choices":[{"index":{},"delta":{"content":"x"},"message":{"content":"y"}}]})",
    R"({"choices":[{"index":true,"delta":{"content":"x"},"message":{"content":"y"}}]})",
    R"({"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]})",
    R"({"choices":[{"index":0,"message":{"content":"a"}},{"index":0,"message":{"content":"b"}}]})",
    R"({"choices":[7]})",
    R"({"choices":[null,{"message":{"content":"b"}}]})",
    R"({"choices":{}})",
    R"({"choices":null})",
    R"({"choices":"x"})",
    R"({"model":"m"})",
    R"({"choices":[{"finish_reason":"stop"}]})",
    R"({"choices":[{"message":null,"delta":null,"finish_reason":"stop"}]})",
    R"({"choices":[{"message":[],"delta":[],"finish_reason":"stop"}]})",
    R"({"choices":[{"message":"x","delta":"x"}]})",
    // content and text
    R"({"choices":[{"message":{"content":null,"refusal":"No."},"delta":{"content":null,"refusal":"No."}}]})",
    R"({"choices":[{"message":{"content":"a","refusal":"No."},"delta":{"content":"a","refusal":"No."}}]})",
    R"({"choices":[{"message":{"content":[{"type":"text","text":"a"}]},"delta":{"content":[{"text":"a"}]}}]})",
    R"({"choices":[{"message":{"content":5},"delta":{"content":5}}]})",
    R"({"choices":[{"message":{"content":true},"delta":{"content":false}}]})",
    R"({"choices":[{"message":{"content":{}},"delta":{"content":{}}}]})",
    R"({"choices":[{"message":{"refusal":7,"reasoning":{"a":1},"content":"x"},"delta":{"refusal":7,"content":"x"}}]})",
    R"({"choices":[{"message":{"content":"x","reasoning_content":"think","reasoning":"other"},"delta":{"content":"x","reasoning_content":"think","reasoning":"other"}}]})",
    R"({"choices":[{"message":{"content":"x","reasoning":"other"},"delta":{"reasoning":"other"},"finish_reason":"stop"}]})",
    R"({"choices":[{"message":{"content":"x","reasoning_content":"t"},"delta":{"reasoning_content":"t"},"finish_reason":"tool_calls"}]})",
    R"({"choices":[{"message":{"content":"a\n\"b\"\u00e9\ud83d\ude00\\"},"delta":{"content":"a\n\"b\"\u00e9\ud83d\ude00\\"}}]})",
    R"({"choices":[{"message":{"con\u0074ent":"escaped key"},"delta":{"con\u0074ent":"escaped key"}}]})",
    // what the scan leaves to the DOM
    R"({"choices":[{"message":{"content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})",
    R"({"choices":[{"message":{"content":"x","tool_calls":null,"function_call":{"name":"f","arguments":"{}"}},"delta":{"tool_calls":null,"function_call":{"name":"f"}}}]})",
    R"({"choices":[{"message":{"content":"x","function_call":{"name":"f","arguments":"{}"}},"delta":{"function_call":{"name":"f"}}}]})",
    R"({"choices":[{"message":{"content":"x","reasoning_details":[{"type":"reasoning.text","text":"t","signature":"s","format":"anthropic-claude-v1","index":0}]},"delta":{"reasoning_details":[{"type":"reasoning.text","text":"t","index":0}]},"finish_reason":"stop"}]})",
    R"({"choices":[{"message":{"content":"x","reasoning_details":null},"delta":{"reasoning_details":{}}}]})",
    R"({"error":{"message":"boom","type":"server_error"}})",
    R"({"error":null,"choices":[{"message":{"content":"x"},"delta":{"content":"x"}}]})",
    R"({"error":"plain","choices":[]})",
    R"([{"error":{"message":"boom"}}])",
    R"("text")",
    R"(42)",
    R"(null)",
    R"({})",
    R"({"x_groq":{"usage":{"prompt_tokens":1,"completion_tokens":2}},"choices":[{"message":{"content":"x"},"delta":{}}]})",
    // duplicate keys: the DOM keeps the last
    R"({"id":"a","id":"b","choices":[{"message":{"content":"x"},"delta":{"content":"x"}}]})",
    R"({"choices":[{"message":{"content":"x","content":"y"},"delta":{"content":"x","content":"y"}}]})",
    R"({"choices":[{"message":{"content":"x"},"delta":{"content":"x"}}],"usage":{"prompt_tokens":1,"prompt_tokens":2}})",
    R"({"choices":[{"message":{"content":"x"},"delta":{"content":"x"}}],"choices":[]})",
    // usage as get_count and get_number read it
    R"({"choices":[{"message":{"content":"x"},"delta":{}}],"usage":{"prompt_tokens":"12","completion_tokens":-3,"total_tokens":4.9,"prompt_cache_hit_tokens":2}})",
    R"({"choices":[{"message":{"content":"x"},"delta":{}}],"usage":{"prompt_tokens":"1x","completion_tokens":1e18,"total_tokens":18446744073709551615,"cost":0.30000000000000004}})",
    R"({"choices":[{"message":{"content":"x"},"delta":{}}],"usage":{"prompt_tokens":null,"completion_tokens":true,"total_tokens":[1],"cost":"1","prompt_tokens_details":null,"completion_tokens_details":[]}})",
    R"({"choices":[{"message":{"content":"x"},"delta":{}}],"usage":{"prompt_tokens":2,"completion_tokens":1,"cost":3,"prompt_tokens_details":{"cached_tokens":1,"cache_write_tokens":7},"completion_tokens_details":{"reasoning_tokens":5}}})",
    R"({"choices":[{"message":{"content":"x"},"delta":{}}],"usage":{"prompt_cache_hit_tokens":9,"prompt_tokens_details":{"audio_tokens":1},"cost":1.6666666666666667}})",
    R"({"choices":[{"message":{"content":"x"},"delta":{}}],"usage":{"cost":-0.0,"completion_tokens":9.99999999999999999}})",
    R"({"choices":[{"message":{"content":"x"},"delta":{}}],"usage":[]})",
    R"({"choices":[{"message":{"content":"x"},"delta":{}}],"usage":{"prompt_tokens_details":{"cached_tokens":{"n":1}}}})",
    // finish reasons
    R"({"choices":[{"message":{"content":"x"},"delta":{},"finish_reason":"error"}]})",
    R"({"choices":[{"message":{"content":"x"},"delta":{},"finish_reason":"insufficient_system_resource"}]})",
    R"({"choices":[{"message":{"content":"x"},"delta":{},"finish_reason":"content_filter"}]})",
    R"({"choices":[{"message":{"content":"x"},"delta":{},"finish_reason":"something_new"}]})",
    R"({"choices":[{"message":{"content":"x"},"delta":{},"finish_reason":3}]})",
    // ids and what is skipped
    R"({"id":5,"model":["m"],"choices":[{"message":{"content":"x"},"delta":{"content":"x"}}]})",
    R"({"extra":{"a":[{"b":{"c":[1,2,{"d":null}]}}],"e":"f"},"choices":[{"logprobs":{"content":[{"token":"x","logprob":-0.1,"bytes":[120]}]},"message":{"content":"x","annotations":[{"type":"url_citation"}]},"delta":{"content":"x"}}]})",
    // not JSON, or not all of it
    R"({"choices":[{"message":{"content":"x"},"delta":{}}]} trailing)",
    R"({"choices":[{"message":{"content":"x"}})",
    R"({"choices":[{"message":{"content":"\xff"},"delta":{"content":"\xff"}}]})",
    "  \n\n" R"({"choices":[{"message":{"content":"x"},"delta":{"content":"x"}}]})" "\n",
};

// Everything a scan read, as text, with whether it read the chunk at all.
std::string scanned_text(bool ok, openai::scanned_answer const& a) {
    auto const count = [](token_count const& c) {
        return c ? std::to_string(*c) : std::string("-");
    };
    return (ok ? "ok" : "dom") + ("|" + a.id) + "|" + a.model + "|" + std::to_string(a.choices) +
           "|" + std::to_string(a.index_zero) + std::to_string(a.has_message) + "|" + a.content +
           "|" + a.refusal + "|" + a.reasoning_content + "|" + a.reasoning + "|" +
           a.finish_reason + "|" + std::to_string(a.has_usage) + "|" + count(a.prompt_tokens) +
           "," + count(a.completion_tokens) + "," + count(a.total_tokens) + "," +
           count(a.prompt_cache_hit_tokens) + "," + count(a.cached_tokens) + "," +
           count(a.cache_write_tokens) + "," + count(a.reasoning_tokens) + "|" +
           (a.cost ? std::to_string(*a.cost) : "-");
}

// A chunk read by a scanner of its own, which has learnt nothing and learns no shapes.
std::string alone(std::string_view text) {
    openai::answer_scanner scan(nullptr);
    openai::scanned_answer a;
    bool const ok = scan.read(text, true, a);
    BOOST_TEST(scan.prefix_hits() == 0u);
    return scanned_text(ok, a);
}

// The emulator's chunks begin so (and OpenAI's alike).
constexpr std::string_view shared_prefix =
    R"({"id":"chatcmpl-emu-1","object":"chat.completion.chunk","created":1796561657,"model":"mock-model","service_tier":"default","system_fingerprint":"fp_llmux","choices":[{"index":0,"delta":{)";

// What can follow that prefix: what the scan reads, what it gives up on, and invalid JSON.
std::vector<std::string_view> const suffixes = {
    R"("content":" from"},"logprobs":null,"finish_reason":null}]})",
    R"("role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]})",
    R"(},"logprobs":null,"finish_reason":"stop"}]})",
    R"(},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"cost":0.5}})",
    R"( "content" : "spaced" } , "finish_reason" : null } ] } )",
    R"("content":"a\nb\u00e9"},"finish_reason":null}],"obfuscation":"xyz"})",
    R"("content":"x","content":"y"}}]})",                     // a key twice in delta
    R"("content":"x"},"index":0}]})",                          // index twice: the prefix had it
    R"("content":"x"}}],"id":"other"})",                       // id twice: the prefix had it
    R"("content":"x"}},{"index":1,"delta":{"content":"y"}}]})",  // a second choice
    R"("tool_calls":[{"index":0}]}}]})",
    R"("reasoning_content":"think","reasoning":"more"}}]})",
    R"("content":{"nested":1}}}]})",
    R"("content":"x"}}]}trailing)",
    R"("content":"x"}}])",                                     // cut short
    R"("content":"x"}}]}}]})",                                 // closed too often
    R"(})",                                                    // the object left open
};

// Content strings after the shared prefix once a tail is learnt: those the short reader takes
// (true) and those it leaves to the parser, valid or not (false).
std::vector<std::pair<std::string, bool>> const contents = {
    {"plain text", true},
    {"", true},
    {R"(a\"b\\c\/d\b\f\n\r\t)", true},
    {R"(\u0041\u00e9\u20AC\uFFFF\u0000\u07ff\u0800)", true},
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xed\x9f\xbf", true},
    {"\x7f", true},
    {R"(\ud83d\ude00)", false},  // a surrogate pair
    {R"(\ud800)", false},         // a lone half
    {R"(\udc00x)", false},
    {R"(\x)", false},             // not an escape
    {R"(\u12)", false},
    {R"(\u12g4)", false},
    {"\x01", false},              // control characters
    {"\t", false},
    {"\xc0\xaf", false},          // overlong
    {"\xc1\xbf", false},
    {"\xe0\x80\xaf", false},
    {"\xf0\x80\x80\xaf", false},
    {"\xed\xa0\x80", false},      // a surrogate in UTF-8
    {"\xf4\x90\x80\x80", false},  // past U+10FFFF
    {"\xf5\x80\x80\x80", false},
    {"\x80", false},              // a lone continuation
    {"\xc3", false},              // cut short
    {"\xe2\x82", false},
    {"\xff", false},
    {R"(ends in a backslash\)", false},  // the quote is escaped: the string goes on
    {R"(x","content":"y)", false},       // content twice
};

// Tails after a content string: the emulator's, OpenAI's with its padding, and a padding in
// the middle.
std::vector<std::string> const tails = {
    R"(},"logprobs":null,"finish_reason":null}]})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"Zx9"})",
    R"(},"finish_reason":null}],"obfuscation":"a","usage":null,"system_fingerprint":"y"})",
};

// What follows a learnt tail's content and must not read as the tail does.
std::vector<std::string> const other_tails = {
    R"(},"logprobs":null,"finish_reason":null}]}x)",   // trailing bytes
    R"(},"logprobs":null,"finish_reason":null}])",     // cut short
    R"(},"logprobs":null,"finish_reason":"stop"}]})",  // another tail, valid
    R"(},"logprobs":null,"finish_reason":null,"index":1}]})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"\u0000\n\u00e9"})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"\ud83d\ude00"})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"\x"})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"a\x01"})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"a"})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"a"}})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"a","x":1})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"unterminated\"})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":1})",
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"})",  // the padding not closed
    R"(},"logprobs":null,"finish_reason":null}],"obfuscation":"a","obfuscation":"b"})",
};

std::string chunk(std::string_view content, std::string_view tail) {
    return std::string(shared_prefix) + R"("content":")" + std::string(content) + "\"" +
           std::string(tail);
}

// A document read by a scanner with `shapes`, as text.
std::string with_shapes(openai::shape_cache& shapes, std::string_view text, bool chunk,
                        std::size_t& hits) {
    openai::answer_scanner scan(&shapes);
    openai::scanned_answer a;
    bool const ok = scan.read(text, chunk, a);
    hits += scan.shape_hits();
    return scanned_text(ok, a);
}

// The same by a scanner that learns nothing: the reference.
std::string reference(std::string_view text, bool chunk) {
    openai::answer_scanner scan(nullptr);
    openai::scanned_answer a;
    bool const ok = scan.read(text, chunk, a);
    return scanned_text(ok, a);
}

// An answer as the emulator writes it, its values given (strings' text as written between
// their quotes, numbers as written).
std::string answer_doc(std::vector<std::string> const& v) {
    return R"({"id":")" + v[0] + R"(","object":"chat.completion","created":)" + v[1] +
           R"(,"model":")" + v[2] + R"(","choices":[{"index":)" + v[3] +
           R"(,"message":{"role":"assistant","content":")" + v[4] +
           R"(","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":")" + v[5] +
           R"("}],"usage":{"prompt_tokens":)" + v[6] + R"(,"completion_tokens":)" + v[7] +
           R"(,"total_tokens":)" + v[8] + R"(,"prompt_tokens_details":{"cached_tokens":)" + v[9] +
           R"(,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":)" + v[10] +
           R"(}},"service_tier":")" + v[11] + R"(","system_fingerprint":"fp_1"})";
}
std::vector<std::string> const answer_values = {"chatcmpl-1", "1796561657", "gpt-4o", "0",
                                                "Hello!",     "stop",       "9",      "3",
                                                "12",         "0",          "0",      "default"};
std::vector<bool> const answer_is_string = {true,  false, true,  false, true,  true,
                                            false, false, false, false, false, true};

// A chunk as OpenAI writes them, padding included.
std::string chunk_doc(std::vector<std::string> const& v) {
    return R"({"id":")" + v[0] + R"(","object":"chat.completion.chunk","created":)" + v[1] +
           R"(,"model":")" + v[2] + R"(","choices":[{"index":)" + v[3] +
           R"(,"delta":{"content":")" + v[4] +
           R"("},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":")" + v[5] +
           R"("})";
}
std::vector<std::string> const chunk_values = {"chatcmpl-2", "1796561657", "gpt-4o",
                                               "0",          "Hi",         "pad"};
std::vector<bool> const chunk_is_string = {true, false, true, false, true, true};

// Integers in a gap: those the shape reads (true) and those left to the parser.
std::vector<std::pair<std::string, bool>> const integers = {
    {"0", true}, {"7", true}, {"123456789012345678", true}, {"1234567890123456789", false},
    {"18446744073709551616", false}, {"01", false}, {"-1", false}, {"1.5", false},
    {"1e3", false}, {"1E+2", false}, {R"("12")", false}, {"null", false}, {"true", false},
    {"[]", false}, {"", false}, {"0 ", false},  // (a space after: not the shape's bytes)
};

}  // namespace

BOOST_AUTO_TEST_SUITE(openai_chat_scan)

BOOST_AUTO_TEST_CASE(a_known_shape_reads_every_value_as_the_parser_does) {
    // One document of each kind teaches its shape; then every value is replaced in turn by
    // every string or integer of the lists above. Each reads exactly as a scanner without
    // shapes reads it, and those the shape reader takes are read by the shape.
    struct kind {
        std::string (*doc)(std::vector<std::string> const&);
        std::vector<std::string> const& values;
        std::vector<bool> const& is_string;
        bool chunk;
    };
    for (auto const& k : {kind{answer_doc, answer_values, answer_is_string, false},
                          kind{chunk_doc, chunk_values, chunk_is_string, true}}) {
        openai::shape_cache shapes;
        std::size_t hits = 0, expected = 0;
        std::string const learnt = k.doc(k.values);
        BOOST_TEST(with_shapes(shapes, learnt, k.chunk, hits) == reference(learnt, k.chunk));
        BOOST_TEST(shapes.size() == 1u);
        BOOST_TEST(with_shapes(shapes, learnt, k.chunk, hits).starts_with("ok|"));
        BOOST_TEST(hits == ++expected);
        for (std::size_t i = 0; i < k.values.size(); ++i) {
            auto const& list = k.is_string[i] ? contents : integers;
            for (auto const& [value, read_by_shape] : list) {
                auto values = k.values;
                values[i] = value;
                std::string const text = k.doc(values);
                BOOST_TEST_CONTEXT(text) {
                    BOOST_TEST(with_shapes(shapes, text, k.chunk, hits) ==
                               reference(text, k.chunk));
                    // (A value the shape leaves may teach a shape of its own, when it reads.)
                    if (read_by_shape) BOOST_TEST(hits == ++expected);
                    if (!read_by_shape) expected = hits;
                }
            }
        }
        BOOST_TEST(expected > 30u);
        // The other kind's reader never takes it.
        std::size_t other = 0;
        BOOST_TEST(with_shapes(shapes, learnt, !k.chunk, other) == reference(learnt, !k.chunk));
        BOOST_TEST(other == 0u);
    }
}

BOOST_AUTO_TEST_CASE(a_stream_whose_first_chunk_is_a_known_shape_learns_its_prefix_from_it) {
    // Two streams through one cache: the second's first chunk is read by the shape the
    // first's taught, which says where its prefix ends; its text then goes by the tail.
    auto const stream = [](std::string_view id, std::string_view created) {
        std::string const head = R"({"id":")" + std::string(id) +
                                 R"(","object":"chat.completion.chunk","created":)" +
                                 std::string(created) +
                                 R"(,"model":"m","choices":[{"index":0,"delta":{)";
        std::vector<std::string> chunks = {
            head + R"("role":"assistant","content":""},"finish_reason":null}]})"};
        for (auto const* word : {"a", "b\\n", "\\u00e9", "d", "e"})
            chunks.push_back(head + R"("content":")" + word + R"("},"finish_reason":null}]})");
        chunks.push_back(head + R"(},"finish_reason":"stop"}]})");
        chunks.push_back(R"({"id":")" + std::string(id) +
                         R"(","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}})");
        return chunks;
    };
    openai::shape_cache shapes;
    std::size_t round = 0;
    for (auto const& [id, created] :
         {std::pair{"chatcmpl-1"sv, "1700000000"sv}, {"chatcmpl-22"sv, "7"sv},
          {R"(x\"y)"sv, "0"sv}}) {
        openai::answer_scanner scan(&shapes);
        openai::scanned_answer a;
        for (auto const& text : stream(id, created)) {
            bool const ok = scan.read(text, true, a);
            BOOST_TEST(scanned_text(ok, a) == alone(text), text);
        }
        if (round++ == 0) continue;
        BOOST_TEST(scan.shape_hits() >= 3u);  // the first chunk, the end, the usage
        BOOST_TEST(scan.prefix_hits() == 6u);  // every chunk after the first but the usage
        BOOST_TEST(scan.tail_hits() >= 3u);
    }
}

BOOST_AUTO_TEST_CASE(a_document_of_another_shape_is_left_to_the_parser) {
    openai::shape_cache shapes;
    std::size_t hits = 0;
    std::string const learnt = answer_doc(answer_values);
    BOOST_TEST(with_shapes(shapes, learnt, false, hits).starts_with("ok|"));
    auto const edit = [&](std::string_view from, std::string_view to) {
        std::string t = learnt;
        auto const at = t.find(from);
        BOOST_REQUIRE(at != std::string::npos);
        t.replace(at, from.size(), to);
        return t;
    };
    std::vector<std::string> const others = {
        edit(R"("refusal":null)", R"("refusal":"no")"),
        edit(R"("refusal":null)", R"("refusal" : null)"),
        edit(R"("model")", R"("modle")"),
        edit(R"("index":0,)", R"("index":0,"index":1,)"),
        edit(R"("index":0,)", ""),
        edit(R"("annotations":[])", R"("annotations":[{}])"),
        learnt + " ",
        learnt + "x",
        learnt.substr(0, learnt.size() - 1),
        " " + learnt,
        edit(R"("content":"Hello!")", R"("content":"He\"llo")"),  // an escaped quote: no gap
        edit(R"("finish_reason":"stop")", R"("finish_reason":"length")"),
        edit(R"("system_fingerprint":"fp_1")", R"("system_fingerprint":"fp_2")"),
    };
    std::size_t const before = hits;
    for (std::size_t i = 0; i < others.size(); ++i) {
        BOOST_TEST_CONTEXT(others[i]) {
            BOOST_TEST(with_shapes(shapes, others[i], false, hits) == reference(others[i], false));
        }
    }
    // The last three are of the learnt shape (a string's text is a gap, a skipped one's
    // too); no other one is.
    BOOST_TEST(hits == before + 3);
}

BOOST_AUTO_TEST_CASE(escaped_strings_and_doubles_stay_part_of_the_shape) {
    // A string written with escapes, or a number that is not a plain count, is not a gap:
    // another value there is another shape.
    openai::shape_cache shapes;
    std::size_t hits = 0;
    auto values = answer_values;
    values[4] = R"(a\nb)";
    std::string const escaped = answer_doc(values);
    BOOST_TEST(with_shapes(shapes, escaped, false, hits).starts_with("ok|"));
    values[4] = R"(a\nc)";
    BOOST_TEST(with_shapes(shapes, answer_doc(values), false, hits) ==
               reference(answer_doc(values), false));
    BOOST_TEST(hits == 0u);
    BOOST_TEST(with_shapes(shapes, escaped, false, hits).starts_with("ok|"));
    BOOST_TEST(hits == 1u);
    std::string const cost = R"({"id":"a","choices":[{"message":{"content":"x"}}],"usage":{"cost":0.5,"total_tokens":5}})";
    std::string const cost2 = R"({"id":"b","choices":[{"message":{"content":"y"}}],"usage":{"cost":0.7,"total_tokens":6}})";
    std::string const cost3 = R"({"id":"c","choices":[{"message":{"content":"z"}}],"usage":{"cost":0.5,"total_tokens":7}})";
    BOOST_TEST(with_shapes(shapes, cost, false, hits) == reference(cost, false));
    BOOST_TEST(with_shapes(shapes, cost2, false, hits) == reference(cost2, false));
    BOOST_TEST(hits == 1u);
    BOOST_TEST(with_shapes(shapes, cost3, false, hits) == reference(cost3, false));
    BOOST_TEST(hits == 2u);
}

BOOST_AUTO_TEST_CASE(shapes_are_bounded_and_the_last_one_read_is_kept) {
    openai::shape_cache shapes;
    std::size_t hits = 0;
    std::string const hot = answer_doc(answer_values);
    BOOST_TEST(with_shapes(shapes, hot, false, hits).starts_with("ok|"));
    for (int i = 0; i < 40; ++i) {
        // Forty shapes (another key each time), the hot one read between them.
        std::string const other = R"({"id":"x","k)" + std::to_string(i) +
                                  R"(":1,"choices":[{"message":{"content":"y"}}]})";
        BOOST_TEST(with_shapes(shapes, other, false, hits).starts_with("ok|"));
        BOOST_TEST(with_shapes(shapes, hot, false, hits).starts_with("ok|"));
        BOOST_TEST(shapes.size() <= 8u);
    }
    BOOST_TEST(hits == 40u);  // the hot shape every time
    // Documents longer than 4 KiB are not learnt.
    std::string const big = R"({"id":"x","big":1,"choices":[{"message":{"content":")" +
                            std::string(5000, 'a') + R"("}}]})";
    BOOST_TEST(with_shapes(shapes, big, false, hits).starts_with("ok|"));
    BOOST_TEST(with_shapes(shapes, big, false, hits).starts_with("ok|"));
    BOOST_TEST(hits == 40u);
}

BOOST_AUTO_TEST_CASE(a_scanner_reads_with_the_shapes_of_the_thread_it_runs_on) {
    // A stream's scanner is made on one thread and may read on others (its connection's
    // strand moves): each read uses the cache of the thread it runs on, never another's.
    auto values = answer_values;
    values[2] = "a-model-only-this-test-uses";
    std::string const doc = R"({"only_this_test":1,)" + answer_doc(values).substr(1);
    openai::answer_scanner made_here;
    std::size_t hits = 0, learnt_there = 0;
    std::thread there([&] {
        openai::scanned_answer a;
        (void)made_here.read(doc, false, a);
        (void)made_here.read(doc, false, a);
        hits = made_here.shape_hits();
        learnt_there = openai::shape_cache::this_thread().size();
    });
    there.join();
    BOOST_TEST(hits == 1u);  // learnt by the first read there, read by its shape by the second
    BOOST_TEST(learnt_there == 1u);
    openai::answer_scanner here;
    openai::scanned_answer a;
    BOOST_TEST(here.read(doc, false, a));
    BOOST_TEST(here.shape_hits() == 0u);  // this thread's cache never saw it
    BOOST_TEST(scanned_text(true, a) == reference(doc, false));
}

BOOST_AUTO_TEST_CASE(every_fixture_read_again_by_its_shape_reads_the_same) {
    // Each fixture answer and chunk read twice by scanners sharing one cache: the second read
    // is by the shape the first taught, where it can be.
    openai::shape_cache shapes;
    std::size_t hits = 0, documents = 0;
    for (auto const& entry : std::filesystem::directory_iterator(fixture_path("openai", ""))) {
        auto const name = entry.path().filename().string();
        auto const text = fixture_text("openai", name);
        std::vector<std::pair<std::string, bool>> docs;
        if (entry.path().extension() == ".sse") {
            for (std::size_t at = text.find("data: {"); at != std::string::npos;
                 at = text.find("data: {", at + 1)) {
                auto line = text.substr(at + 6);
                docs.emplace_back(line.substr(0, line.find('\n')), true);
            }
        } else if (name.starts_with("response_") || name.ends_with("_response.json")) {
            docs.emplace_back(text, false);
        }
        for (auto const& [doc, chunk] : docs) {
            BOOST_TEST_CONTEXT(name << ": " << doc) {
                ++documents;
                std::string const expected = reference(doc, chunk);
                BOOST_TEST(with_shapes(shapes, doc, chunk, hits) == expected);
                BOOST_TEST(with_shapes(shapes, doc, chunk, hits) == expected);
            }
        }
    }
    BOOST_TEST(documents > 60u);
    BOOST_TEST(hits > 40u);
}


BOOST_AUTO_TEST_CASE(chunks_after_a_learnt_prefix_read_as_they_would_alone) {
    // One scanner reads every chunk in turn: it learns the prefix from the first and reads the
    // others' rest after the stand-in. Each must read exactly as it does alone, success,
    // giving up and every field alike.
    openai::answer_scanner scan;
    openai::scanned_answer a;
    std::size_t expected_hits = 0;
    for (int round = 0; round < 2; ++round) {
        for (auto const suffix : suffixes) {
            std::string const text = std::string(shared_prefix) + std::string(suffix);
            BOOST_TEST_CONTEXT(text) {
                bool const ok = scan.read(text, true, a);
                BOOST_TEST(scanned_text(ok, a) == alone(text));
                if (round > 0 || suffix != suffixes.front()) ++expected_hits;
                BOOST_TEST(scan.prefix_hits() == expected_hits);
            }
        }
    }
    BOOST_TEST(alone(std::string(shared_prefix) + std::string(suffixes[0])).starts_with("ok|"));
    BOOST_TEST(alone(std::string(shared_prefix) + std::string(suffixes[7])).starts_with("dom|"));
    // A whole answer never takes the shortcut: it reads `message`, and skips `delta`.
    BOOST_TEST(scan.read(std::string(shared_prefix) + std::string(suffixes[0]), false, a));
    BOOST_TEST(!a.has_message);
    BOOST_TEST(a.content.empty());
    BOOST_TEST(scan.prefix_hits() == expected_hits);
}

BOOST_AUTO_TEST_CASE(chunks_after_a_learnt_tail_read_as_they_would_alone) {
    // A scanner learns the prefix from the first chunk and the tail from the second; every
    // chunk after reads exactly as it does alone. The short reader takes the contents it is
    // meant to (the tail hits count them) and leaves the others to the parser.
    for (auto const& tail : tails) {
        BOOST_TEST_CONTEXT(tail) {
            openai::answer_scanner scan;
            openai::scanned_answer a;
            BOOST_TEST(scan.read(chunk("first", tail), true, a));
            BOOST_TEST(scan.read(chunk("second", tail), true, a));
            BOOST_TEST(a.content == "second");
            BOOST_TEST(scan.tail_hits() == 0u);
            std::size_t expected = 0;
            for (int round = 0; round < 2; ++round) {
                for (auto const& [content, short_read] : contents) {
                    std::string const text = chunk(content, tail);
                    BOOST_TEST_CONTEXT(text) {
                        bool const ok = scan.read(text, true, a);
                        BOOST_TEST(scanned_text(ok, a) == alone(text));
                        if (short_read) ++expected;
                        BOOST_TEST(scan.tail_hits() == expected);
                    }
                }
            }
            // The padding may be any string the reader takes; whatever else follows the
            // content reads as it would alone, by the parser.
            for (auto const& other : other_tails) {
                std::string const text = chunk("x", other);
                BOOST_TEST_CONTEXT(text) {
                    bool const ok = scan.read(text, true, a);
                    BOOST_TEST(scanned_text(ok, a) == alone(text));
                }
            }
            BOOST_TEST(scan.read(chunk("last", tail), true, a));
            BOOST_TEST(a.content == "last");
        }
    }
    BOOST_TEST(alone(chunk(contents[0].first, tails[0])).starts_with("ok|"));
    BOOST_TEST(alone(chunk(contents[6].first, tails[0])).starts_with("ok|"));
    BOOST_TEST(alone(chunk(contents[7].first, tails[0])).starts_with("dom|"));
    BOOST_TEST(alone(chunk(contents[12].first, tails[0])).starts_with("dom|"));
}

BOOST_AUTO_TEST_CASE(a_padded_tail_takes_any_padding_the_reader_takes) {
    openai::answer_scanner scan;
    openai::scanned_answer a;
    auto const padded = [](std::string_view pad) {
        return R"(},"logprobs":null,"finish_reason":null}],"obfuscation":")" + std::string(pad) +
               R"("})";
    };
    BOOST_TEST(scan.read(chunk("a", padded("x")), true, a));
    BOOST_TEST(scan.read(chunk("b", padded("yy")), true, a));
    std::size_t hits = 0;
    for (auto const& [pad, short_read] : contents) {
        std::string const text = chunk("c", padded(pad));
        BOOST_TEST_CONTEXT(text) {
            bool const ok = scan.read(text, true, a);
            BOOST_TEST(scanned_text(ok, a) == alone(text));
            if (short_read) ++hits;
            BOOST_TEST(scan.tail_hits() == hits);
        }
    }
    BOOST_TEST(hits > 5u);
    // (The last padding, `x","content":"y`, parsed and taught its tail: learn the plain one.)
    BOOST_TEST(scan.read(chunk("d", padded("z")), true, a));
    BOOST_TEST(scan.read(chunk("e", padded("w")), true, a));
    BOOST_TEST(scan.tail_hits() == ++hits);
    // A padding not closed: what follows its quote is the learnt tail's end, but inside it.
    for (std::string_view open_pad : {"}"sv, R"(a\"})"sv}) {
        std::string const text = chunk("c", padded("").substr(0, padded("").size() - 2)) +
                                 std::string(open_pad);
        BOOST_TEST_CONTEXT(text) {
            bool const ok = scan.read(text, true, a);
            BOOST_TEST(scanned_text(ok, a) == alone(text));
            BOOST_TEST(!ok);
            BOOST_TEST(scan.tail_hits() == hits);
        }
    }
}

BOOST_AUTO_TEST_CASE(openai_s_padded_chunks_are_read_by_their_tail) {
    // OpenAI's chunks end in a padding of random length (stream_obfuscation.sse): after the
    // first two, every chunk of text is read by the tail but the one with a surrogate pair.
    auto const text = fixture_text("openai", "stream_obfuscation.sse");
    openai::answer_scanner scan;
    openai::scanned_answer a;
    std::string content;
    std::size_t chunks = 0;
    for (std::size_t at = text.find("data: {"); at != std::string::npos;
         at = text.find("data: {", at + 1)) {
        std::string_view line = std::string_view(text).substr(at + 6);
        line = line.substr(0, line.find('\n'));
        bool const ok = scan.read(line, true, a);
        BOOST_TEST(scanned_text(ok, a) == alone(line), line);
        content += a.content;
        ++chunks;
    }
    BOOST_TEST(chunks == 17u);
    BOOST_TEST(scan.prefix_hits() == 15u);
    BOOST_TEST(scan.tail_hits() == 12u);
    BOOST_TEST(content == "Here is a list:\n\n1. \"caf\u00e9\" na\u00efve \U0001F600 \U0001F600\n"
                          "2. tab\there done.");
}

BOOST_AUTO_TEST_CASE(a_tail_learnt_under_one_prefix_is_not_read_under_another) {
    // The tail's answer holds what the prefix said (the id): a new prefix forgets it.
    auto const text = [](std::string_view id, std::string_view content) {
        return R"({"id":")" + std::string(id) + R"(","choices":[{"index":0,"delta":{"content":")" +
               std::string(content) + R"("},"finish_reason":null}]})";
    };
    openai::answer_scanner scan;
    openai::scanned_answer a;
    for (auto const& [id, content] :
         {std::pair{"a"sv, "1"sv}, {"a"sv, "2"sv}, {"a"sv, "3"sv}, {"b"sv, "4"sv}, {"b"sv, "5"sv},
          {"b"sv, "6"sv}}) {
        bool const ok = scan.read(text(id, content), true, a);
        BOOST_TEST(scanned_text(ok, a) == alone(text(id, content)));
        BOOST_TEST(a.id == id);
        BOOST_TEST(a.content == content);
    }
    BOOST_TEST(scan.prefix_hits() == 4u);
    BOOST_TEST(scan.tail_hits() == 2u);  // the third chunk, and the sixth
}

BOOST_AUTO_TEST_CASE(a_prefix_is_learnt_only_where_the_first_choice_s_delta_opens) {
    // The first "delta": may be elsewhere: inside a skipped member, a second choice, a string.
    std::vector<std::string> const streams[] = {
        {R"({"x":{"delta":{"content":"no"}},"choices":[{"delta":{"content":"a"}}]})",
         R"({"x":{"delta":{"content":"no"}},"choices":[{"delta":{"content":"b"}}]})"},
        {R"({"id":""delta":{","choices":[{"delta":{"content":"a"}}]})",
         R"({"id":""delta":{","choices":[{"delta":{"content":"b"}}]})"},
        {R"({"choices":[{"index":0,"message":{"delta":{"content":"a"}}}]})",
         R"({"choices":[{"index":0,"message":{"delta":{"content":"b"}}}]})"},
    };
    for (auto const& chunks : streams) {
        openai::answer_scanner scan;
        openai::scanned_answer a;
        for (auto const& text : chunks) {
            bool const ok = scan.read(text, true, a);
            BOOST_TEST(scanned_text(ok, a) == alone(text), text);
        }
        BOOST_TEST(scan.prefix_hits() == 0u);
    }
    // A prefix that differs (another id) is learnt again; a chunk without one reads alone.
    openai::answer_scanner scan;
    openai::scanned_answer a;
    for (std::string_view text :
         {R"({"id":"a","choices":[{"delta":{"content":"1"}}]})"sv,
          R"({"id":"a","choices":[{"delta":{"content":"2"}}]})"sv,
          R"({"id":"b","choices":[{"delta":{"content":"3"}}]})"sv,
          R"({"id":"b","choices":[{"delta":{"content":"4"}}]})"sv,
          R"({"id":"b","choices":[],"usage":{"prompt_tokens":1}})"sv,
          R"({"id":"b","choices":[{"delta":{"content":"5"}}]})"sv}) {
        bool const ok = scan.read(text, true, a);
        BOOST_TEST(scanned_text(ok, a) == alone(text), text);
    }
    BOOST_TEST(scan.prefix_hits() == 3u);
    BOOST_TEST(a.id == "b");
    BOOST_TEST(a.content == "5");
}

BOOST_AUTO_TEST_CASE(a_stream_of_chunks_with_a_shared_prefix_decodes_as_without_the_scan) {
    std::string stream;
    for (auto const suffix : suffixes)
        stream += "data: " + std::string(shared_prefix) + std::string(suffix) + "\n\n";
    for (auto const& tail : tails)
        for (auto const& [content, short_read] : contents)
            stream += "data: " + chunk(content, tail) + "\n\n";
    for (auto const& other : other_tails) stream += "data: " + chunk("x", other) + "\n\n";
    stream += "data: [DONE]\n\n";
    BOOST_TEST(streamed({stream}, true) == streamed({stream}, false));
}

BOOST_AUTO_TEST_CASE(the_common_shapes_are_read_without_a_dom) {
    openai::answer_scanner scan;
    openai::scanned_answer a;
    BOOST_TEST(scan.read(edge_cases[0], false, a));
    BOOST_TEST(a.id == "c1");
    BOOST_TEST(a.model == "m");
    BOOST_TEST(a.choices == 1u);
    BOOST_TEST(a.content == "Hi");
    BOOST_TEST(a.finish_reason == "stop");
    BOOST_TEST(a.has_usage);
    auto const u = a.read_usage();
    BOOST_TEST(u.input_tokens.value_or(0) == 3u);
    BOOST_TEST(u.cached_input_tokens.value_or(0) == 1u);
    BOOST_TEST(u.reasoning_tokens.value_or(9) == 0u);
    for (std::size_t i = 1; i <= 4; ++i) BOOST_TEST(scan.read(edge_cases[i], true, a), i);
    // The emulator's chunks (every benchmark's upstream) are scanned.
    BOOST_TEST(scan.read(R"({"id":"chatcmpl-emu-1","object":"chat.completion.chunk","created":1796561657,"model":"mock-model","service_tier":"default","system_fingerprint":"fp_llmux","choices":[{"index":0,"delta":{"content":" from"},"logprobs":null,"finish_reason":null}]})",
                         true, a));
    BOOST_TEST(a.content == " from");
    // Buffers are reused: a second read starts from nothing.
    BOOST_TEST(scan.read(R"({"choices":[]})", true, a));
    BOOST_TEST(a.content.empty());
    BOOST_TEST(a.id.empty());
    BOOST_TEST(!a.has_usage);
}

BOOST_AUTO_TEST_CASE(what_the_decoders_treat_specially_is_left_to_the_dom) {
    openai::answer_scanner scan;
    openai::scanned_answer a;
    for (std::string_view text :
         {R"({"error":{"message":"boom"}})"sv, R"([{"error":{}}])"sv,
          R"({"choices":[{"delta":{"tool_calls":[]}}]})"sv,
          R"({"choices":[{"delta":{"reasoning_details":[]}}]})"sv,
          R"({"choices":[{"delta":{"content":[]}}]})"sv, R"({"choices":[{},{}]})"sv,
          R"({"id":"a","id":"b"})"sv, R"({"x_groq":{}})"sv, R"({"choices":[})"sv, R"(7)"sv})
        BOOST_TEST(!scan.read(text, true, a), text);
}

BOOST_AUTO_TEST_CASE(every_edge_case_decodes_the_same_with_and_without_the_scan) {
    for (auto const& text : edge_cases) same_both_ways(text);
}

BOOST_AUTO_TEST_CASE(every_fixture_decodes_the_same_with_and_without_the_scan) {
    std::size_t bodies = 0, streams = 0;
    for (auto const& entry : std::filesystem::directory_iterator(fixture_path("openai", ""))) {
        auto const name = entry.path().filename().string();
        auto const text = fixture_text("openai", name);
        BOOST_TEST_CONTEXT(name) {
            if (entry.path().extension() == ".sse") {
                ++streams;
                BOOST_TEST(streamed({text}, true) == streamed({text}, false));
                // One byte at a time: events split across reads.
                std::vector<std::string_view> bytes;
                for (std::size_t i = 0; i < text.size(); ++i)
                    bytes.push_back(std::string_view(text).substr(i, 1));
                BOOST_TEST(streamed(bytes, true) == streamed({text}, false));
            } else if (name.starts_with("response_") || name.ends_with("_response.json")) {
                ++bodies;
                BOOST_TEST(decoded(text, true) == decoded(text, false));
            }
        }
    }
    BOOST_TEST(bodies >= 10u);
    BOOST_TEST(streams >= 10u);
}

BOOST_AUTO_TEST_CASE(long_and_escaped_strings_arrive_whole) {
    // Long strings with escapes reach the handler in parts.
    std::string text(70000, 'a');
    for (std::size_t i = 0; i < text.size(); i += 97) text.replace(i, 2, "\\n");
    std::string const body = R"({"id":"x","choices":[{"message":{"content":")" + text +
                             R"("},"delta":{"content":")" + text + R"("}}]})";
    same_both_ways(body);
    openai::answer_scanner scan;
    openai::scanned_answer a;
    BOOST_TEST(scan.read(body, false, a));
    BOOST_TEST(a.content.size() < text.size());  // each \n became one character
    BOOST_TEST(a.content.find('\n') != std::string::npos);
    std::string const key(5000, 'k');
    same_both_ways(R"({")" + key + R"(":1,"choices":[{"message":{"content":"x"},"delta":{}}]})");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
