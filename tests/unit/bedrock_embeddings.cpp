// SPDX-License-Identifier: BSL-1.0
// Bedrock embeddings through InvokeModel, both sides: the bodies the client builds for Titan
// Text Embeddings and Cohere Embed, the answers it decodes (Titan's, Cohere's two shapes, tokens
// from the body or the header), the bodies the server side decodes and refuses in Bedrock's
// words, the answers it writes, and the round trips between the two.
#include "common/wire_fixtures.hpp"
#include "wire/bedrock_embeddings.hpp"

#include <llmux/embeddings.hpp>
#include <llmux/error.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::test {

namespace {

namespace json = boost::json;
namespace be = detail::bedrock;
using be::embedding_family;
using be::embedding_shape;
using detail::embedding_form;
using detail::response_head;

constexpr std::string_view titan = "amazon.titan-embed-text-v2:0";
constexpr std::string_view cohere3 = "cohere.embed-english-v3";
constexpr std::string_view cohere4 = "cohere.embed-v4:0";

response_head head_200(std::string_view tokens = {}) {
    response_head h;
    h.status = 200;
    h.headers.emplace_back("x-amzn-RequestId", "0f1e2d3c-0000-4000-8000-000000000001");
    if (!tokens.empty()) h.headers.emplace_back("X-Amzn-Bedrock-Input-Token-Count", std::string(tokens));
    return h;
}

embedding_request texts(std::vector<std::string> inputs) {
    embedding_request r;
    r.model = "bedrock/amazon.titan-embed-text-v2:0";
    r.inputs = std::move(inputs);
    return r;
}

bool same_bits(std::vector<float> const& a, std::vector<float> const& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i])) return false;
    return true;
}

/// The server side's reading of `body` sent to InvokeModel of `model`.
boost::system::result<detail::inbound_embedding, detail::api_error>
decode(std::string_view body, std::string_view model = titan) {
    request_head_fixture h("/model/" + std::string(model) + "/invoke", {});
    h.head.path_model = std::string(model);
    return be::decode_embedding_request(h.head, body);
}

embedding_form shape(embedding_shape s) {
    embedding_form f;
    f.shape = static_cast<std::uint8_t>(s);
    return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bedrock_embeddings)

BOOST_AUTO_TEST_CASE(families_from_model_ids) {
    BOOST_TEST((be::embedding_family_of("amazon.titan-embed-text-v2:0") == embedding_family::titan));
    BOOST_TEST((be::embedding_family_of("amazon.titan-embed-text-v1") == embedding_family::titan_v1));
    BOOST_TEST((be::embedding_family_of("cohere.embed-multilingual-v3") ==
                embedding_family::cohere_v3));
    BOOST_TEST((be::embedding_family_of("us.cohere.embed-v4:0") == embedding_family::cohere_v4));
    BOOST_TEST(!be::embedding_family_of("amazon.nova-pro-v1:0").has_value());
    BOOST_TEST(!be::embedding_family_of("arn:aws:bedrock:us-east-1:1:application-inference-profile/x")
                    .has_value());
    BOOST_TEST(be::embedding_batch_limit(embedding_family::titan) == 1u);
    BOOST_TEST(be::embedding_batch_limit(embedding_family::cohere_v4) == 96u);
}

BOOST_AUTO_TEST_CASE(client_titan_body) {
    auto req = texts({"hello \"world\""});
    req.dimensions = 256;
    auto r = be::encode_embedding_request(req, titan);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->target == "/model/amazon.titan-embed-text-v2%3A0/invoke");
    BOOST_TEST(r->header("Content-Type") == "application/json");
    auto const b = body_of(*r);
    BOOST_TEST(b.at("inputText").as_string() == "hello \"world\"");
    BOOST_TEST(b.at("dimensions").as_int64() == 256);
    BOOST_TEST(b.at("normalize").as_bool());
    BOOST_TEST(b.size() == 3u);

    // Titan G1 takes the text and nothing else.
    auto v1 = be::encode_embedding_request(texts({"x"}), "amazon.titan-embed-text-v1");
    BOOST_TEST_REQUIRE(!!v1, v1.error());
    BOOST_TEST(v1->body == R"({"inputText":"x"})");
}

BOOST_AUTO_TEST_CASE(client_cohere_body) {
    auto req = texts({"a", "b", "c"});
    req.task = embedding_task::query;
    req.dimensions = 512;
    auto r = be::encode_embedding_request(req, cohere4, 1, 2);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->target == "/model/cohere.embed-v4%3A0/invoke");
    auto const b = body_of(*r);
    BOOST_TEST(json::serialize(b.at("texts")) == R"(["b","c"])");
    BOOST_TEST(b.at("input_type").as_string() == "search_query");
    BOOST_TEST(json::serialize(b.at("embedding_types")) == R"(["float"])");
    BOOST_TEST(b.at("output_dimension").as_int64() == 512);

    // No task: search_document, as Bedrock requires one.
    auto plain = be::encode_embedding_request(texts({"a"}), cohere3);
    BOOST_TEST_REQUIRE(!!plain, plain.error());
    BOOST_TEST(body_of(*plain).at("input_type").as_string() == "search_document");
    BOOST_TEST(!body_of(*plain).contains("output_dimension"));

    // extra is merged last.
    auto with_extra = texts({"a"});
    with_extra.extra["truncate"] = "END";
    auto e = be::encode_embedding_request(with_extra, cohere3);
    BOOST_TEST_REQUIRE(!!e, e.error());
    BOOST_TEST(body_of(*e).at("truncate").as_string() == "END");
}

BOOST_AUTO_TEST_CASE(client_refusals_name_the_field) {
    auto expect = [](result<detail::http_request> const& r, error code, std::string_view word) {
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST((r.error().code == code));
        BOOST_TEST(r.error().diag.message.find(word) != std::string::npos, r.error().diag.message);
    };
    auto wide = texts({"x"});
    wide.dimensions = 300;
    expect(be::encode_embedding_request(wide, titan), error::invalid_request, "dimensions");
    wide.dimensions = 1536;
    BOOST_TEST(!!be::encode_embedding_request(wide, cohere4));
    expect(be::encode_embedding_request(wide, cohere3), error::unsupported, "dimensions");
    expect(be::encode_embedding_request(wide, "amazon.titan-embed-text-v1"), error::unsupported,
           "dimensions");

    auto task = texts({"x"});
    task.task = embedding_task::query;
    expect(be::encode_embedding_request(task, titan), error::unsupported, "task");
    task.task = embedding_task::similarity;
    expect(be::encode_embedding_request(task, cohere3), error::unsupported, "task");

    auto user = texts({"x"});
    user.user = "u1";
    expect(be::encode_embedding_request(user, cohere3), error::unsupported, "user");
    auto title = texts({"x"});
    title.title = "T";
    expect(be::encode_embedding_request(title, titan), error::unsupported, "title");

    expect(be::encode_embedding_request(texts({"a", "b"}), titan), error::invalid_request,
           "inputs");
    expect(be::encode_embedding_request(texts({"a", ""}), cohere3), error::invalid_request,
           "inputs[1]");
    expect(be::encode_embedding_request(texts({"a"}), "amazon.nova-pro-v1:0"), error::unsupported,
           "model");
}

BOOST_AUTO_TEST_CASE(client_decodes_titan) {
    auto r = be::decode_embedding_response(
        head_200(), R"({"embedding":[0.5,-0.25,1e-30],"inputTextTokenCount":7})", 1, titan);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->vectors.size() == 1u);
    BOOST_TEST(same_bits(r->vectors[0], {0.5f, -0.25f, 1e-30f}));
    BOOST_TEST(r->usage.input_tokens == token_count(7));
    BOOST_TEST(r->usage.output_tokens == token_count(0));
    BOOST_TEST(r->model == std::string(titan));
    BOOST_TEST(r->request_id == "0f1e2d3c-0000-4000-8000-000000000001");

    // By type only, tokens from the header.
    auto t = be::decode_embedding_response(head_200("4"), R"({"embeddingsByType":{"float":[1,2]}})",
                                           1, titan);
    BOOST_TEST_REQUIRE(!!t, t.error());
    BOOST_TEST(same_bits(t->vectors[0], {1.0f, 2.0f}));
    BOOST_TEST(t->usage.input_tokens == token_count(4));
}

BOOST_AUTO_TEST_CASE(client_decodes_cohere_both_shapes) {
    auto floats = be::decode_embedding_response(
        head_200("9"),
        R"({"id":"x","embeddings":[[1,2],[3,4]],"texts":["a","b"],"response_type":"embeddings_floats"})",
        2, cohere3);
    BOOST_TEST_REQUIRE(!!floats, floats.error());
    BOOST_TEST(same_bits(floats->vectors[1], {3.0f, 4.0f}));
    BOOST_TEST(floats->usage.input_tokens == token_count(9));

    auto by_type = be::decode_embedding_response(
        head_200(), R"({"id":"x","embeddings":{"float":[[0.125]]},"response_type":"embeddings_by_type"})",
        1, cohere4);
    BOOST_TEST_REQUIRE(!!by_type, by_type.error());
    BOOST_TEST(same_bits(by_type->vectors[0], {0.125f}));
    // No count anywhere: unknown, never 0.
    BOOST_TEST(!by_type->usage.input_tokens.has_value());
}

BOOST_AUTO_TEST_CASE(client_decode_errors_name_the_field) {
    auto expect = [](std::string_view body, std::size_t n, std::string_view word) {
        auto r = be::decode_embedding_response(head_200(), body, n, cohere3);
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST((r.error().code == error::protocol_error));
        BOOST_TEST(r.error().diag.message.find(word) != std::string::npos, r.error().diag.message);
    };
    expect(R"({"embeddings":[[1]]})", 2, "embeddings");
    expect(R"({"embeddings":[[1],["x"]]})", 2, "embeddings[1][0]");
    expect(R"({"embeddings":{"int8":[[1]]}})", 1, "embeddings.float");
    expect(R"({"texts":["a"]})", 1, "embeddings");
    expect(R"({"embedding":[1]})", 2, "embedding");
    expect("[1]", 1, "not a JSON object");

    response_head h;
    h.status = 400;
    h.headers.emplace_back("x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/");
    auto f = be::decode_embedding_error(h, R"({"message":"Malformed input request"})");
    BOOST_TEST((f.code == error::bad_request));
    BOOST_TEST(f.diag.error_type == "ValidationException");
    BOOST_TEST(f.diag.message == "Malformed input request");
}

BOOST_AUTO_TEST_CASE(server_reads_titan) {
    auto r = decode(R"({"inputText":"hi","dimensions":512,"normalize":true,"embeddingTypes":["float"]})");
    BOOST_TEST_REQUIRE(!!r, r.error().message);
    BOOST_TEST(r->req.model == std::string(titan));
    BOOST_TEST(r->req.inputs == std::vector<std::string>{"hi"});
    BOOST_TEST((r->req.dimensions == std::optional<std::uint32_t>(512)));
    BOOST_TEST(r->native.empty());
    BOOST_TEST(r->form.shape == static_cast<std::uint8_t>(embedding_shape::titan_by_type));

    // normalize:false has no place in the unified request: kept for a Bedrock upstream.
    auto raw = decode(R"({"inputText":"hi","normalize":false})");
    BOOST_TEST_REQUIRE(!!raw, raw.error().message);
    BOOST_TEST(json::serialize(raw->native) == R"({"normalize":false})");
    BOOST_TEST(raw->form.shape == static_cast<std::uint8_t>(embedding_shape::titan));
}

BOOST_AUTO_TEST_CASE(server_reads_cohere) {
    auto r = decode(R"({"texts":["a","b"],"input_type":"search_query","truncate":"END",)"
                    R"("output_dimension":256})",
                    cohere4);
    BOOST_TEST_REQUIRE(!!r, r.error().message);
    BOOST_TEST((r->req.inputs == std::vector<std::string>{"a", "b"}));
    BOOST_TEST((r->req.task == embedding_task::query));
    BOOST_TEST((r->req.dimensions == std::optional<std::uint32_t>(256)));
    BOOST_TEST(json::serialize(r->native) == R"({"truncate":"END"})");
    BOOST_TEST(r->form.shape == static_cast<std::uint8_t>(embedding_shape::cohere_floats));
    auto t = decode(R"({"texts":["a"],"input_type":"clustering","embedding_types":["float"]})", cohere3);
    BOOST_TEST_REQUIRE(!!t, t.error().message);
    BOOST_TEST(t->form.shape == static_cast<std::uint8_t>(embedding_shape::cohere_by_type));
    BOOST_TEST((t->req.task == embedding_task::clustering));
}

BOOST_AUTO_TEST_CASE(server_refusals_in_bedrocks_words) {
    auto expect = [](std::string_view body, std::string_view param, std::string_view word) {
        auto r = decode(body, cohere3);
        BOOST_TEST_REQUIRE(!r, body);
        BOOST_TEST(r.error().status == 400u);
        BOOST_TEST(r.error().type == "ValidationException");
        BOOST_TEST(r.error().param == param, body);
        BOOST_TEST(r.error().message.find(word) != std::string::npos, r.error().message);
    };
    expect(R"({"inputText":"x","foo":1})", "foo", "extraneous key [foo] is not permitted");
    expect(R"({"inputText":""})", "inputText", "minLength");
    expect(R"({})", "", "required key [inputText] not found");
    expect(R"({"inputText":"x","dimensions":0})", "dimensions", "not a valid value");
    expect(R"({"inputText":"x","embeddingTypes":["binary"]})", "embeddingTypes", "float");
    expect(R"({"texts":["a"]})", "", "required key [input_type] not found");
    expect(R"({"texts":[],"input_type":"search_query"})", "texts", "minimum item count");
    expect(R"({"texts":["a",""],"input_type":"search_query"})", "texts/1", "minLength");
    expect(R"({"texts":["a"],"input_type":"nope"})", "input_type", "not a valid enum value");
    expect(R"({"texts":["a"],"input_type":"image"})", "input_type", "texts only");
    expect(R"({"texts":["a"],"input_type":"search_query","images":["data:"]})", "images",
           "texts only");
    expect(R"({"texts":["a"],"input_type":"search_query","embedding_types":["int8"]})",
           "embedding_types", "float");
    expect(R"({"texts":["a"],"input_type":"search_query","truncate":1e999})", "truncate",
           "out of range");
    std::string many = R"({"input_type":"search_query","texts":[)";
    for (int i = 0; i < 97; ++i) many += i ? ",\"t\"" : "\"t\"";
    many += "]}";
    expect(many, "texts", "maximum item count: 96");
}

BOOST_AUTO_TEST_CASE(server_writes_each_shape) {
    embedding_response r;
    r.vectors = {{0.5f, -0.0f}};
    r.usage.input_tokens = 3;
    std::vector<std::string> const inputs{"hi \"there\""};
    detail::embedding_meta const m{"m", "id-1", inputs};
    std::string t;
    BOOST_REQUIRE(be::encode_embedding_response(r, m, shape(embedding_shape::titan), t));
    BOOST_TEST(t == R"({"embedding":[0.5,-0.0],"inputTextTokenCount":3})");
    std::string tb;
    BOOST_REQUIRE(be::encode_embedding_response(r, m, shape(embedding_shape::titan_by_type), tb));
    BOOST_TEST(tb == R"({"embedding":[0.5,-0.0],"inputTextTokenCount":3,"embeddingsByType":{"float":[0.5,-0.0]}})");
    std::string cf;
    BOOST_REQUIRE(be::encode_embedding_response(r, m, shape(embedding_shape::cohere_floats), cf));
    BOOST_TEST(cf == R"({"id":"id-1","embeddings":[[0.5,-0.0]],"texts":["hi \"there\""],"response_type":"embeddings_floats"})");
    std::string cb;
    BOOST_REQUIRE(be::encode_embedding_response(r, m, shape(embedding_shape::cohere_by_type), cb));
    BOOST_TEST(cb == R"({"id":"id-1","embeddings":{"float":[[0.5,-0.0]]},"texts":["hi \"there\""],"response_type":"embeddings_by_type"})");

    // Titan answers one vector; a value JSON cannot hold is refused.
    embedding_response two = r;
    two.vectors.push_back({1.0f, 2.0f});
    std::string none;
    BOOST_TEST(!be::encode_embedding_response(two, m, shape(embedding_shape::titan), none));
    embedding_response inf = r;
    inf.vectors[0][0] = std::numeric_limits<float>::infinity();
    BOOST_TEST(!be::encode_embedding_response(inf, m, shape(embedding_shape::cohere_floats), none));
}

// What the client sends, the server side reads back as the same request; what the server side
// writes, the client reads back as the same vectors (bit for bit) and tokens.
BOOST_AUTO_TEST_CASE(round_trips) {
    struct model_case {
        std::string_view model;
        std::vector<std::string> inputs;
        embedding_task task;
        std::optional<std::uint32_t> dimensions;
    };
    for (auto const& c : {model_case{titan, {"one \u00e9"}, embedding_task::unspecified, 256},
                          model_case{"amazon.titan-embed-text-v1", {"x"}, embedding_task::unspecified, {}},
                          model_case{cohere3, {"a", "b", "c"}, embedding_task::classification, {}},
                          model_case{cohere4, {"a", "b"}, embedding_task::document, 1024}}) {
        BOOST_TEST_CONTEXT(c.model) {
            auto req = texts(c.inputs);
            req.task = c.task;
            req.dimensions = c.dimensions;
            auto sent = be::encode_embedding_request(req, c.model);
            BOOST_TEST_REQUIRE(!!sent, sent.error());
            auto got = decode(sent->body, c.model);
            BOOST_TEST_REQUIRE(!!got, got.error().message);
            BOOST_TEST(got->req.inputs == req.inputs);
            // Cohere's input_type for an unspecified task is search_document.
            auto const task = c.model.starts_with("cohere") && c.task == embedding_task::unspecified
                                  ? embedding_task::document
                                  : c.task;
            BOOST_TEST((got->req.task == task));
            BOOST_TEST((got->req.dimensions == req.dimensions));
            BOOST_TEST(got->native.empty());

            embedding_response answer;
            for (std::size_t i = 0; i < c.inputs.size(); ++i)
                answer.vectors.push_back({0.1f * static_cast<float>(i + 1), -0.0f, 3.4e38f, 1e-45f});
            answer.usage.input_tokens = 10;
            std::string body;
            detail::embedding_meta const m{c.model, "rid", got->req.inputs};
            BOOST_REQUIRE(be::encode_embedding_response(answer, m, got->form, body));
            // Cohere's tokens travel in the header, as InvokeModel sends them.
            auto back = be::decode_embedding_response(head_200("10"), body, c.inputs.size(), c.model);
            BOOST_TEST_REQUIRE(!!back, back.error());
            for (std::size_t i = 0; i < c.inputs.size(); ++i)
                BOOST_TEST(same_bits(back->vectors[i], answer.vectors[i]));
            BOOST_TEST(back->usage.input_tokens == token_count(10));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
