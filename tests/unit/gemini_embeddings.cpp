// SPDX-License-Identifier: BSL-1.0
// Gemini and Vertex AI embeddings, both sides: the requests the client builds (AI Studio's
// batchEmbedContents, Vertex's predict), the answers it decodes, the requests the server side
// decodes (embedContent, batchEmbedContents, predict) and the answers it writes, and the round
// trips between the two.
#include "common/wire_fixtures.hpp"
#include "wire/gemini_embeddings.hpp"

#include <llmux/embeddings.hpp>
#include <llmux/error.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::test {

namespace {

namespace json = boost::json;
namespace ge = detail::gemini;
using detail::embedding_form;
using detail::response_head;
using ge::embedding_shape;

response_head head_200() {
    response_head h;
    h.status = 200;
    h.headers.emplace_back("x-request-id", "req_g");
    return h;
}

embedding_request texts(std::vector<std::string> inputs) {
    embedding_request r;
    r.model = "google/gemini-embedding-001";
    r.inputs = std::move(inputs);
    return r;
}

bool same_bits(std::vector<float> const& a, std::vector<float> const& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i])) return false;
    return true;
}

/// The server side's reading of `body` sent to `path` (whose model is `model`).
boost::system::result<detail::inbound_embedding, detail::api_error>
decode(std::string_view path, std::string_view body, std::string_view model = "gemini-embedding-001") {
    request_head_fixture h(path, {{"x-goog-api-key", "k"}});
    h.head.path_model = std::string(model);
    return ge::decode_embedding_request(h.head, body);
}

embedding_form shape(embedding_shape s) {
    embedding_form f;
    f.shape = static_cast<std::uint8_t>(s);
    return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gemini_embeddings)

BOOST_AUTO_TEST_CASE(task_names_both_ways) {
    for (auto t : {embedding_task::query, embedding_task::document, embedding_task::similarity,
                   embedding_task::classification, embedding_task::clustering,
                   embedding_task::question_answering, embedding_task::fact_verification,
                   embedding_task::code_query}) {
        auto const name = ge::task_name(t);
        BOOST_TEST(!name.empty());
        BOOST_TEST((ge::task_from_name(name) == t));
    }
    BOOST_TEST(ge::task_name(embedding_task::query) == "RETRIEVAL_QUERY");
    BOOST_TEST(ge::task_name(embedding_task::code_query) == "CODE_RETRIEVAL_QUERY");
    BOOST_TEST(ge::task_name(embedding_task::unspecified).empty());
    BOOST_TEST(!ge::task_from_name("RETRIEVAL"));
}

BOOST_AUTO_TEST_CASE(client_sends_batch_embed_contents) {
    auto req = texts({"first", "se\"cond"});
    req.task = embedding_task::document;
    req.title = "Doc";
    req.dimensions = 256;
    auto r = ge::encode_embedding_request(req, "gemini-embedding-001", false);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->target == "/models/gemini-embedding-001:batchEmbedContents");
    BOOST_TEST(r->header("Content-Type") == "application/json");
    BOOST_TEST(r->body ==
               R"({"requests":[)"
               R"({"model":"models/gemini-embedding-001","content":{"parts":[{"text":"first"}]},"taskType":"RETRIEVAL_DOCUMENT","title":"Doc","outputDimensionality":256},)"
               R"({"model":"models/gemini-embedding-001","content":{"parts":[{"text":"se\"cond"}]},"taskType":"RETRIEVAL_DOCUMENT","title":"Doc","outputDimensionality":256}]})");
    // A slice of the inputs (the client's batches), and no optional fields.
    auto plain = ge::encode_embedding_request(texts({"a", "b", "c"}), "text-embedding-004", false, 2, 5);
    BOOST_TEST_REQUIRE(!!plain, plain.error());
    BOOST_TEST(plain->body ==
               R"({"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"c"}]}}]})");
}

BOOST_AUTO_TEST_CASE(client_sends_vertex_predict) {
    auto req = texts({"alpha", "beta"});
    req.task = embedding_task::query;
    req.dimensions = 64;
    auto r = ge::encode_embedding_request(req, "text-embedding-005", true);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->target == "/publishers/google/models/text-embedding-005:predict");
    BOOST_TEST(r->body ==
               R"({"instances":[{"content":"alpha","task_type":"RETRIEVAL_QUERY"},{"content":"beta","task_type":"RETRIEVAL_QUERY"}],"parameters":{"outputDimensionality":64}})");
    req.extra["parameters"] = json::object{{"autoTruncate", false}};
    auto extra = ge::encode_embedding_request(req, "text-embedding-005", true);
    BOOST_TEST_REQUIRE(!!extra, extra.error());
    // Merged into what the encoder wrote, not over it.
    BOOST_TEST(extra->body ==
               R"({"instances":[{"content":"alpha","task_type":"RETRIEVAL_QUERY"},{"content":"beta","task_type":"RETRIEVAL_QUERY"}],"parameters":{"outputDimensionality":64,"autoTruncate":false}})");
}

BOOST_AUTO_TEST_CASE(client_refuses_what_google_cannot_take) {
    auto refused = [](embedding_request const& req, error code, std::string_view says) {
        auto r = ge::encode_embedding_request(req, "m", false);
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST((r.error().code == make_error_code(code)), r.error());
        BOOST_TEST(r.error().diag.message.find(says) != std::string::npos, r.error().diag.message);
    };
    refused(texts({}), error::invalid_request, "inputs:");
    refused(texts({"a", ""}), error::invalid_request, "inputs[1]");
    auto user = texts({"a"});
    user.user = "u";
    refused(user, error::unsupported, "user");
    auto title = texts({"a"});
    title.title = "T";
    title.task = embedding_task::query;
    refused(title, error::invalid_request, "title");
}

BOOST_AUTO_TEST_CASE(client_decodes_answers) {
    auto const r = ge::decode_embedding_response(
        head_200(), R"({"embeddings":[{"values":[0.5,-0.25,1]},{"values":[0.125,0,-1e-3]}]})", 2,
        false);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(same_bits(r->vectors[0], {0.5f, -0.25f, 1.0f}));
    BOOST_TEST(same_bits(r->vectors[1], {0.125f, 0.0f, -1e-3f}));
    BOOST_TEST(!r->usage.input_tokens.has_value());  // the Gemini API counts no tokens
    BOOST_TEST(r->usage.output_tokens == token_count(0));
    BOOST_TEST(r->request_id == "req_g");

    auto const v = ge::decode_embedding_response(
        head_200(),
        R"({"predictions":[{"embeddings":{"values":[1],"statistics":{"token_count":5,"truncated":false}}},)"
        R"({"embeddings":{"values":[2],"statistics":{"token_count":3}}}],"metadata":{"billableCharacterCount":35}})",
        2, true);
    BOOST_TEST_REQUIRE(!!v, v.error());
    BOOST_TEST(v->usage.input_tokens == token_count(8));
    BOOST_TEST(v->usage.total_tokens == token_count(8));
    BOOST_TEST(v->vectors[1][0] == 2.0f);
    // One prediction without a count: the total is unknown, not short.
    auto const partial = ge::decode_embedding_response(
        head_200(),
        R"({"predictions":[{"embeddings":{"values":[1],"statistics":{"token_count":5}}},{"embeddings":{"values":[2]}}]})",
        2, true);
    BOOST_TEST_REQUIRE(!!partial, partial.error());
    BOOST_TEST(!partial->usage.input_tokens.has_value());
}

BOOST_AUTO_TEST_CASE(client_names_what_is_wrong_in_an_answer) {
    auto wrong = [](std::string_view body, std::size_t n, bool vertex, std::string_view says) {
        auto const r = ge::decode_embedding_response(head_200(), body, n, vertex);
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST((r.error().code == make_error_code(error::protocol_error)), r.error());
        BOOST_TEST(r.error().diag.message.find(says) != std::string::npos, r.error().diag.message);
    };
    wrong(R"({"embeddings":[{"values":[1]}]})", 2, false, "embeddings");
    wrong(R"({"embeddings":[{"values":[1,"x"]}]})", 1, false, "embeddings[0].values[1]");
    wrong(R"({"embedding":{"values":[1]}})", 1, false, "embeddings");
    wrong(R"({"predictions":[{"values":[1]}]})", 1, true, "predictions[0].embeddings");
    wrong(R"([1])", 1, false, "not a JSON object");
    wrong(R"({"embeddings":[{"values":[1]})", 1, false, "");  // cut short
}

BOOST_AUTO_TEST_CASE(server_reads_each_shape) {
    auto single = decode("/v1beta/models/gemini-embedding-001:embedContent",
                         R"({"model":"models/gemini-embedding-001","content":{"parts":[{"text":"hello"}]},)"
                         R"("taskType":"RETRIEVAL_DOCUMENT","title":"Doc 1","outputDimensionality":768})");
    BOOST_TEST_REQUIRE(!!single, single.error().message);
    BOOST_TEST(single->req.model == "gemini-embedding-001");
    BOOST_TEST(single->req.inputs == std::vector<std::string>{"hello"});
    BOOST_TEST((single->req.task == embedding_task::document));
    BOOST_TEST(single->req.title == "Doc 1");
    BOOST_TEST((single->req.dimensions == std::optional<std::uint32_t>(768)));
    BOOST_TEST(single->form.shape == std::uint8_t(embedding_shape::single));
    BOOST_TEST(single->native.empty());

    // Vertex AI's embedContent (gemini-embedding-2) puts the options in embedContentConfig.
    auto config = decode("/v1/projects/p/locations/l/publishers/google/models/gemini-embedding-2:embedContent",
                         R"({"content":{"parts":[{"text":"v"}]},"embedContentConfig":{"taskType":"SEMANTIC_SIMILARITY","outputDimensionality":8}})",
                         "gemini-embedding-2");
    BOOST_TEST_REQUIRE(!!config, config.error().message);
    BOOST_TEST((config->req.task == embedding_task::similarity));
    BOOST_TEST((config->req.dimensions == std::optional<std::uint32_t>(8)));

    auto batch = decode("/v1beta/models/gemini-embedding-001:batchEmbedContents",
                        R"({"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]},"task_type":"CLUSTERING"},)"
                        R"({"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]},"taskType":"CLUSTERING"}]})");
    BOOST_TEST_REQUIRE(!!batch, batch.error().message);
    BOOST_TEST(batch->req.inputs == (std::vector<std::string>{"a", "b"}));
    BOOST_TEST((batch->req.task == embedding_task::clustering));
    BOOST_TEST(batch->form.shape == std::uint8_t(embedding_shape::batch));

    auto predict = decode("/v1/projects/p/locations/l/publishers/google/models/text-embedding-005:predict",
                          R"({"instances":[{"content":"x","task_type":"RETRIEVAL_QUERY"},{"content":"y","task_type":"RETRIEVAL_QUERY"}],)"
                          R"("parameters":{"outputDimensionality":256,"autoTruncate":false},"labels":{"team":"t"}})",
                          "text-embedding-005");
    BOOST_TEST_REQUIRE(!!predict, predict.error().message);
    BOOST_TEST(predict->req.inputs == (std::vector<std::string>{"x", "y"}));
    BOOST_TEST((predict->req.task == embedding_task::query));
    BOOST_TEST((predict->req.dimensions == std::optional<std::uint32_t>(256)));
    BOOST_TEST(predict->form.shape == std::uint8_t(embedding_shape::predict));
    // What the unified request cannot hold is kept for a Vertex upstream, not dropped.
    BOOST_TEST(json::value(predict->native) ==
               json::parse(R"({"parameters":{"autoTruncate":false},"labels":{"team":"t"}})"));
}

BOOST_AUTO_TEST_CASE(server_refuses_by_name) {
    auto refused = [](std::string_view path, std::string_view body, std::string_view param,
                      std::string_view says) {
        auto r = decode(path, body);
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(r.error().status == 400u);
        BOOST_TEST(r.error().param == param);
        BOOST_TEST(r.error().message.find(says) != std::string::npos, r.error().message);
    };
    constexpr auto one = "/v1beta/models/gemini-embedding-001:embedContent";
    constexpr auto many = "/v1beta/models/gemini-embedding-001:batchEmbedContents";
    refused(one, "{", "", "Invalid JSON payload");
    refused(one, R"({"model":"m"})", "content", "required");
    refused(one, R"({"content":{"parts":[]}})", "content.parts", "must not be empty");
    refused(one, R"({"content":{"parts":[{"text":"a"},{"text":"b"}]}})", "content.parts",
            "one text part");
    refused(one, R"({"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"x"}}]}})",
            "content.parts[0]", "only text parts");
    refused(one, R"({"content":{"parts":[{"text":""}]}})", "content.parts[0].text", "empty");
    refused(one, R"({"content":{"parts":[{"text":"a"}]},"taskType":"NOPE"})", "taskType", "NOPE");
    refused(one, R"({"content":{"parts":[{"text":"a"}]},"outputDimensionality":0})",
            "outputDimensionality", "from 1");
    refused(one, R"({"content":{"parts":[{"text":"a"}]},"":1})", "", "Unknown name");
    refused(one, R"({"content":{"parts":[{"text":"a"}]},"embedContentConfig":{"autoTruncate":false}})",
            "embedContentConfig.autoTruncate", "does not take");
    // Another shape's field is refused, not passed on: the client side writes it for that shape.
    refused(one, R"({"content":{"parts":[{"text":"a"}]},"requests":[]})", "requests",
            "Unknown name \"requests\"");
    refused(many, R"({"requests":[{"content":{"parts":[{"text":"a"}]}}],"taskType":"CLUSTERING"})",
            "taskType", "Unknown name");
    std::string big = R"({"requests":[)";
    for (int i = 0; i < 101; ++i)
        big += std::string(i ? "," : "") + R"({"content":{"parts":[{"text":"t"}]}})";
    big += "]}";
    refused(many, big, "requests", "at most 100");
    refused(many, R"({"requests":[{"model":"models/other","content":{"parts":[{"text":"a"}]}}]})",
            "requests[0].model", "must be the model of the path");
    refused(many,
            R"({"requests":[{"content":{"parts":[{"text":"a"}]},"taskType":"CLUSTERING"},)"
            R"({"content":{"parts":[{"text":"b"}]},"taskType":"CLASSIFICATION"}]})",
            "requests[1].taskType", "the same");
    refused(many, R"({"requests":[{"content":{"parts":[{"text":"a"}]},"extra":1}]})",
            "requests[0].extra", "per input");
    refused(many, R"({"requests":[]})", "requests", "must not be empty");
    // A number no double holds would go upstream as null (found by fuzz_gemini_embeddings_request).
    refused("/v1/projects/p/locations/l/publishers/google/models/m:predict",
            R"({"instances":[{"content":"x"}],"parameters":{"x":1e999}})", "parameters.x",
            "out of range");
}

BOOST_AUTO_TEST_CASE(server_writes_each_shape) {
    embedding_response r;
    r.vectors = {{0.5f, -0.25f}};
    std::string single;
    BOOST_REQUIRE(ge::encode_embedding_response(r, shape(embedding_shape::single), single));
    BOOST_TEST(single == R"({"embedding":{"values":[0.5,-0.25]}})");
    r.vectors.push_back({1.0f, 0.1f});
    std::string none;
    BOOST_TEST(!ge::encode_embedding_response(r, shape(embedding_shape::single), none));
    std::string batch;
    BOOST_REQUIRE(ge::encode_embedding_response(r, shape(embedding_shape::batch), batch));
    BOOST_TEST(batch == R"({"embeddings":[{"values":[0.5,-0.25]},{"values":[1,0.1]}]})");
    r.usage.input_tokens = 7;
    std::string predict;
    BOOST_REQUIRE(ge::encode_embedding_response(r, shape(embedding_shape::predict), predict));
    BOOST_TEST(predict ==
               R"({"predictions":[{"embeddings":{"values":[0.5,-0.25],"statistics":{"token_count":4,"truncated":false}}},)"
               R"({"embeddings":{"values":[1,0.1],"statistics":{"token_count":3,"truncated":false}}}]})");
    r.vectors[1][0] = std::numeric_limits<float>::infinity();
    std::string inf;
    BOOST_TEST(!ge::encode_embedding_response(r, shape(embedding_shape::batch), inf));
}

// gemini-embedding-2 on Vertex AI: :embedContent, one content, options in embedContentConfig;
// the answer's one vector and usageMetadata; and back through the server side.
BOOST_AUTO_TEST_CASE(vertex_embed_content_for_gemini_embedding_2) {
    BOOST_TEST(ge::vertex_embed_content("gemini-embedding-2-preview"));
    BOOST_TEST(!ge::vertex_embed_content("gemini-embedding-001"));
    BOOST_TEST(ge::vertex_batch_limit("gemini-embedding-2") == 1u);
    auto req = texts({"hello"});
    req.task = embedding_task::document;
    req.title = "T";
    req.dimensions = 8;
    auto sent = ge::encode_embedding_request(req, "gemini-embedding-2", true);
    BOOST_TEST_REQUIRE(!!sent, sent.error());
    BOOST_TEST(sent->target == "/publishers/google/models/gemini-embedding-2:embedContent");
    BOOST_TEST(sent->body == R"({"content":{"parts":[{"text":"hello"}]},"embedContentConfig":)"
                             R"({"taskType":"RETRIEVAL_DOCUMENT","title":"T","outputDimensionality":8}})");
    auto plain = ge::encode_embedding_request(texts({"x"}), "gemini-embedding-2", true);
    BOOST_TEST_REQUIRE(!!plain, plain.error());
    BOOST_TEST(plain->body == R"({"content":{"parts":[{"text":"x"}]}})");
    auto two = ge::encode_embedding_request(texts({"a", "b"}), "gemini-embedding-2", true);
    BOOST_TEST_REQUIRE(!two);
    BOOST_TEST((two.error().code == error::invalid_request));

    // The server side reads what the client sent, and writes the single shape back.
    auto got = decode("/v1/projects/p/locations/l" + sent->target, sent->body, "gemini-embedding-2");
    BOOST_TEST_REQUIRE(!!got, got.error().message);
    BOOST_TEST(got->req.inputs == req.inputs);
    BOOST_TEST((got->req.task == req.task));
    BOOST_TEST(got->req.title == "T");
    BOOST_TEST((got->req.dimensions == req.dimensions));
    embedding_response answer;
    answer.vectors = {{0.25f, -0.0f, 1e-40f}};
    answer.usage.input_tokens = 3;
    std::string body;
    BOOST_REQUIRE(ge::encode_embedding_response(answer, got->form, body));
    auto back = ge::decode_embedding_response(head_200(), body, 1, true);
    BOOST_TEST_REQUIRE(!!back, back.error());
    BOOST_TEST(same_bits(back->vectors[0], answer.vectors[0]));
    BOOST_TEST(back->usage.input_tokens == token_count(3));
    // One vector for two inputs is an error naming the field.
    auto wrong = ge::decode_embedding_response(head_200(), body, 2, true);
    BOOST_TEST_REQUIRE(!wrong);
    BOOST_TEST(wrong.error().diag.message.find("embedding") != std::string::npos);
}

// What the client sends, the server side reads back as the same request; what the server side
// writes, the client reads back as the same vectors (bit for bit) and tokens.
BOOST_AUTO_TEST_CASE(round_trips) {
    for (bool const vertex : {false, true}) {
        BOOST_TEST_CONTEXT((vertex ? "vertex" : "gemini")) {
            auto req = texts({"one", "two \u00e9", "three"});
            req.task = embedding_task::document;
            req.title = "T";
            req.dimensions = 3;
            auto sent = ge::encode_embedding_request(req, "gemini-embedding-001", vertex);
            BOOST_TEST_REQUIRE(!!sent, sent.error());
            std::string const path =
                (vertex ? "/v1/projects/p/locations/l" : "/v1beta") + sent->target;
            auto got = decode(path, sent->body);
            BOOST_TEST_REQUIRE(!!got, got.error().message);
            BOOST_TEST(got->req.inputs == req.inputs);
            BOOST_TEST((got->req.task == req.task));
            BOOST_TEST(got->req.title == req.title);
            BOOST_TEST((got->req.dimensions == req.dimensions));
            BOOST_TEST(got->native.empty());

            embedding_response answer;
            answer.vectors = {{0.1f, -0.2f, 0.3f}, {1e-30f, -0.0f, 3.4e38f}, {0.7f, 0.0f, -1.0f}};
            answer.usage.input_tokens = 10;
            std::string body;
            BOOST_REQUIRE(ge::encode_embedding_response(answer, got->form, body));
            auto back = ge::decode_embedding_response(head_200(), body, 3, vertex);
            BOOST_TEST_REQUIRE(!!back, back.error());
            for (std::size_t i = 0; i < 3; ++i)
                BOOST_TEST(same_bits(back->vectors[i], answer.vectors[i]));
            if (vertex)
                BOOST_TEST(back->usage.input_tokens == token_count(10));
            else
                BOOST_TEST(!back->usage.input_tokens.has_value());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
