// SPDX-License-Identifier: BSL-1.0
// OpenAI embeddings, both sides, over the fixtures in tests/data/openai/embeddings_*: the
// requests we build, the answers we decode (float arrays and base64, exact to the bit), the
// requests the server side decodes and the answers it writes, and the round trips.
#include "common/wire_fixtures.hpp"
#include "wire/formats.hpp"
#include "wire/openai_embeddings.hpp"

#include <llmux/embeddings.hpp>
#include <llmux/error.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::test {

namespace {

namespace json = boost::json;
namespace oe = detail::openai;
using detail::response_head;
using detail::vector_encoding;

constexpr std::string_view fixture_dir = "openai";

std::uint32_t bits(float f) {
    return std::bit_cast<std::uint32_t>(f);
}
float from_bits(std::uint32_t u) {
    return std::bit_cast<float>(u);
}

response_head head_200() {
    response_head h;
    h.status = 200;
    h.headers.emplace_back("x-request-id", "req_abc");
    return h;
}

std::string b64(std::vector<float> const& v) {
    std::string out;
    oe::append_base64_floats(out, v);
    return out;
}

json::object request_json(detail::inbound_embedding const& in) {
    json::object o;
    o["model"] = in.req.model;
    json::array inputs;
    for (auto const& s : in.req.inputs) inputs.emplace_back(s);
    o["inputs"] = std::move(inputs);
    if (in.req.dimensions) o["dimensions"] = *in.req.dimensions;
    if (!in.req.user.empty()) o["user"] = in.req.user;
    o["encoding"] = in.form.encoding == vector_encoding::base64 ? "base64" : "float";
    if (!in.native.empty()) o["native"] = in.native;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(openai_embeddings)

// ---------------------------------------------------------------------------------------------
// base64 of float32, little-endian

BOOST_AUTO_TEST_CASE(base64_is_little_endian_float32_exact_to_the_bit) {
    BOOST_TEST(b64({1.0f, -2.0f}) == "AACAPwAAAMA=");  // PROVIDERS-2.md 2.1's example
    BOOST_TEST(b64({-0.0f}) == "AAAAgA==");
    BOOST_TEST(b64({from_bits(0x7fc00001)}) == "AQDAfw==");  // a NaN with a payload
    BOOST_TEST(b64({0.5f, 0.25f, -1.5f}) == "AAAAPwAAgD4AAMC/");  // 12 bytes: no padding
    BOOST_TEST(b64({}) == "");

    auto nan = oe::decode_base64_floats("AQDAfw==", "x");
    BOOST_REQUIRE(nan);
    BOOST_REQUIRE_EQUAL(nan->size(), 1u);
    BOOST_TEST(bits((*nan)[0]) == 0x7fc00001u);
    auto negzero = oe::decode_base64_floats("AAAAgA==", "x");
    BOOST_REQUIRE(negzero);
    BOOST_TEST(bits((*negzero)[0]) == 0x80000000u);

    // Every length from 0 to 7 floats, and values whose bytes cover the whole alphabet, come
    // back bit for bit.
    std::vector<float> v;
    std::uint32_t seed = 0x12345678;
    for (int n = 0; n < 8; ++n) {
        auto back = oe::decode_base64_floats(b64(v), "x");
        BOOST_REQUIRE(back);
        BOOST_REQUIRE_EQUAL(back->size(), v.size());
        for (std::size_t i = 0; i < v.size(); ++i) BOOST_TEST(bits((*back)[i]) == bits(v[i]));
        seed = seed * 1664525u + 1013904223u;
        v.push_back(from_bits(seed));
    }
}

BOOST_AUTO_TEST_CASE(base64_length_must_be_whole_floats) {
    auto r = oe::decode_base64_floats("AACAPwA=", "data[0].embedding");  // 5 bytes
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().code == make_error_code(error::protocol_error));
    BOOST_TEST(r.error().diag.message.find("5 bytes") != std::string::npos);
    BOOST_TEST(r.error().diag.message.find("data[0].embedding") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Client side

BOOST_AUTO_TEST_CASE(request_fixture) {
    embedding_request req;
    req.model = "openai/text-embedding-3-small";
    req.inputs = {"first text", "second \"quoted\" text"};
    req.dimensions = 256;
    req.user = "user-42";
    auto r = oe::encode_embedding_request(req, "text-embedding-3-small", vector_encoding::base64);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->method == "POST");
    BOOST_TEST(r->target == "/embeddings");
    BOOST_TEST(r->header("content-type") == "application/json");
    check_json(body_of(*r), fixture_json(fixture_dir, "embeddings_request.json"), "request");

    auto f = oe::encode_embedding_request(req, "m", vector_encoding::float32);
    BOOST_REQUIRE(f);
    BOOST_TEST(body_of(*f).at("encoding_format") == "float");

    req.extra["encoding_format"] = "float";  // extra fields win
    req.extra["priority"] = 2;
    auto x = oe::encode_embedding_request(req, "m", vector_encoding::base64);
    BOOST_REQUIRE(x);
    BOOST_TEST(body_of(*x).at("encoding_format") == "float");
    BOOST_TEST(body_of(*x).at("priority") == 2);
}

BOOST_AUTO_TEST_CASE(requests_refused_before_sending) {
    auto check = [](embedding_request const& req, error code, std::string_view names) {
        auto r = oe::encode_embedding_request(req, "m", vector_encoding::float32);
        BOOST_REQUIRE(!r);
        BOOST_TEST(r.error().code == make_error_code(code));
        BOOST_TEST(r.error().diag.message.starts_with(names), r.error().diag.message);
    };
    embedding_request req;
    req.model = "openai/m";
    check(req, error::invalid_request, "inputs:");
    req.inputs = {"a", "", "c"};
    check(req, error::invalid_request, "inputs[1]:");
    req.inputs = {"a"};
    req.task = embedding_task::query;
    check(req, error::unsupported, "task:");
    req.task = embedding_task::unspecified;
    req.title = "Doc";
    check(req, error::unsupported, "title:");
}

BOOST_AUTO_TEST_CASE(float_answer_placed_by_index) {
    auto const body = fixture_text(fixture_dir, "embeddings_response_float.json");
    auto r = oe::decode_embedding_response(head_200(), body, 3);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->model == "text-embedding-3-small");
    BOOST_TEST(r->request_id == "req_abc");
    BOOST_TEST(r->usage.input_tokens == token_count(8));
    BOOST_TEST(r->usage.total_tokens == token_count(8));
    BOOST_TEST(r->usage.output_tokens == token_count(0));
    BOOST_REQUIRE_EQUAL(r->vectors.size(), 3u);
    BOOST_TEST(r->vectors[0] == (std::vector<float>{0.0023064255f, -0.009327292f, 1.0f}),
               boost::test_tools::per_element());
    BOOST_TEST(bits(r->vectors[1][0]) == 0x80000000u);  // -0.0 stays negative zero
    BOOST_TEST(bits(r->vectors[1][1]) == bits(0.1f));
    BOOST_TEST(r->vectors[1][2] == std::numeric_limits<float>::max());
    BOOST_TEST(r->vectors[2] == (std::vector<float>{0.5f, 0.25f, -1.5f}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(base64_answer_placed_by_index_bit_for_bit) {
    auto const body = fixture_text(fixture_dir, "embeddings_response_base64.json");
    auto r = oe::decode_embedding_response(head_200(), body, 4);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->usage.input_tokens == token_count(5));
    BOOST_REQUIRE_EQUAL(r->vectors.size(), 4u);
    BOOST_REQUIRE_EQUAL(r->vectors[0].size(), 2u);
    BOOST_TEST(bits(r->vectors[0][0]) == bits(1.0f));
    BOOST_TEST(bits(r->vectors[0][1]) == bits(-2.0f));
    BOOST_TEST(bits(r->vectors[1][0]) == 0x80000000u);
    BOOST_TEST(bits(r->vectors[2][0]) == 0x7fc00001u);
    BOOST_TEST(bits(r->vectors[3][0]) == 0xff800000u);  // -inf
}

BOOST_AUTO_TEST_CASE(usage_unknown_stays_unknown) {
    auto r = oe::decode_embedding_response(head_200(), R"({"data":[{"embedding":[1,2]}]})", 1);
    BOOST_REQUIRE(r);
    BOOST_TEST(!r->usage.input_tokens.has_value());
    BOOST_TEST(!r->usage.total_tokens.has_value());
    BOOST_TEST(r->vectors[0] == (std::vector<float>{1, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_answers_name_the_field) {
    auto const cases = fixture_json(fixture_dir, "embeddings_responses_bad.json");
    for (auto const& cv : cases.as_array()) {
        auto const& c = cv.as_object();
        BOOST_TEST_CONTEXT(str(c.at("name"))) {
            auto const body = json::serialize(c.at("body"));
            auto r = oe::decode_embedding_response(
                head_200(), body, static_cast<std::size_t>(c.at("expected").as_int64()));
            BOOST_REQUIRE(!r);
            auto const want = str(c.at("code")) == "server_error" ? error::server_error
                                                                   : error::protocol_error;
            BOOST_TEST(r.error().code == make_error_code(want));
            BOOST_TEST(r.error().diag.message == str(c.at("message")));
            BOOST_TEST(r.error().diag.http_status == 200u);
        }
    }
}

BOOST_AUTO_TEST_CASE(errors_decoded_as_chat_errors) {
    response_head h;
    h.status = 429;
    h.headers.emplace_back("retry-after", "20");
    auto const f = oe::decode_embedding_error(
        h, fixture_text(fixture_dir, "error_openai_rate_limit.json"));
    BOOST_TEST(f.code == make_error_code(error::rate_limited));
    BOOST_TEST(f.diag.http_status == 429u);
    BOOST_REQUIRE(f.diag.retry_after.has_value());
    BOOST_TEST(f.diag.retry_after->count() == 20000);

    response_head h401;
    h401.status = 401;
    auto const a = oe::decode_embedding_error(
        h401, fixture_text(fixture_dir, "error_openai_invalid_key.json"));
    BOOST_TEST(a.code == make_error_code(error::auth_failed));
}

// ---------------------------------------------------------------------------------------------
// Server side

BOOST_AUTO_TEST_CASE(server_decodes_requests) {
    auto const cases = fixture_json(fixture_dir, "embeddings_server_requests.json");
    for (auto const& cv : cases.as_array()) {
        auto const& c = cv.as_object();
        BOOST_TEST_CONTEXT(str(c.at("name"))) {
            request_head_fixture h("/v1/embeddings");
            auto const body = json::serialize(c.at("body"));
            auto r = oe::decode_embedding_request(h.head, body);
            if (auto const* want = c.if_contains("request")) {
                BOOST_REQUIRE(r);
                check_json(request_json(*r), *want, "decoded request");
                continue;
            }
            BOOST_REQUIRE(!r);
            auto const& e = r.error();
            BOOST_TEST(e.status == c.at("status").as_int64());
            BOOST_TEST(e.param == str(c.at("param")));
            BOOST_TEST(!e.message.empty());
            if (auto const* code = c.if_contains("code")) BOOST_TEST(e.code == str(*code));
        }
    }
}

BOOST_AUTO_TEST_CASE(server_refuses_numbers_out_of_range) {
    // Boost.JSON reads 1e999 as infinity, which cannot be passed on as it was sent (found by
    // fuzz_openai_embeddings_request: it became null, then disappeared).
    request_head_fixture h("/v1/embeddings");
    auto r = oe::decode_embedding_request(
        h.head, R"({"model":"m","input":"x","vendor":{"weights":[0.5,25e6555]}})");
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(r.error().status == 400u);
    BOOST_TEST(r.error().param == "vendor.weights.1");
    BOOST_TEST(r.error().message.find("out of range") != std::string::npos);
    auto ok = oe::decode_embedding_request(
        h.head, R"({"model":"m","input":"x","vendor":{"weights":[0.5,1e300]}})");
    BOOST_TEST(!!ok);
}

BOOST_AUTO_TEST_CASE(server_takes_azure_deployment_from_the_path) {
    auto const& s = detail::openai_chat_server();
    detail::endpoint_table table(std::span<detail::wire_server const* const>(
                                     std::vector<detail::wire_server const*>{&s}),
                                 false);
    auto m = table.find("POST", "/openai/deployments/my-embedder/embeddings");
    BOOST_REQUIRE(m);
    BOOST_TEST((m->ep->op == detail::operation::embed));
    BOOST_TEST(m->path_model == "my-embedder");
    BOOST_REQUIRE(table.find("POST", "/v1/embeddings"));
    BOOST_TEST((table.find("POST", "/v1/embeddings")->ep->op == detail::operation::embed));

    request_head_fixture h("/openai/deployments/my-embedder/embeddings");
    h.head.path_model = m->path_model;
    auto r = s.decode_embedding_request(h.head, R"({"input":"x"})");
    BOOST_REQUIRE(r);
    BOOST_TEST(r->req.model == "my-embedder");
}

BOOST_AUTO_TEST_CASE(server_encodes_float_and_base64) {
    embedding_response r;
    r.vectors = {{1.0f, -2.0f}, {0.1f, -0.0f}};
    r.usage.input_tokens = 7;
    r.usage.total_tokens = 7;
    std::string f;
    BOOST_REQUIRE(oe::encode_embedding_response(r, "text-embedding-3-small",
                                                vector_encoding::float32, f));
    check_json(json::parse(f),
               json::parse(R"({"object":"list","data":[
                    {"object":"embedding","index":0,"embedding":[1,-2]},
                    {"object":"embedding","index":1,"embedding":[0.1,-0.0]}],
                  "model":"text-embedding-3-small",
                  "usage":{"prompt_tokens":7,"total_tokens":7}})"),
               "float answer");
    BOOST_TEST(f.find("[1,-2]") != std::string::npos);
    // Shortest forms; negative zero as -0.0, since a JSON parser reads -0 as the integer 0.
    BOOST_TEST(f.find("[0.1,-0.0]") != std::string::npos);

    std::string b;
    BOOST_REQUIRE(oe::encode_embedding_response(r, "m", vector_encoding::base64, b));
    auto const doc = json::parse(b);
    BOOST_TEST(doc.at("data").at(0).at("embedding") == "AACAPwAAAMA=");

    // Unknown usage is left out, not written as 0.
    r.usage = {};
    std::string u;
    BOOST_REQUIRE(oe::encode_embedding_response(r, "m", vector_encoding::float32, u));
    BOOST_TEST(!json::parse(u).as_object().contains("usage"));

    // A value JSON cannot write is refused in float, carried exactly in base64.
    r.vectors = {{std::numeric_limits<float>::quiet_NaN()}};
    std::string n;
    BOOST_TEST(!oe::encode_embedding_response(r, "m", vector_encoding::float32, n));
    std::string nb;
    BOOST_TEST(oe::encode_embedding_response(r, "m", vector_encoding::base64, nb));
}

// ---------------------------------------------------------------------------------------------
// Round trips

BOOST_AUTO_TEST_CASE(round_trips) {
    // client encode -> server decode gives the request back
    embedding_request req;
    req.model = "openai/text-embedding-3-small";
    req.inputs = {"alpha", "béta \"γ\"", "\n\t"};
    req.dimensions = 3;
    req.user = "u";
    for (auto enc : {vector_encoding::float32, vector_encoding::base64}) {
        auto http = oe::encode_embedding_request(req, "text-embedding-3-small", enc);
        BOOST_REQUIRE(http);
        request_head_fixture h("/v1/embeddings");
        auto in = oe::decode_embedding_request(h.head, http->body);
        BOOST_REQUIRE(in);
        BOOST_TEST(in->req.model == "text-embedding-3-small");
        BOOST_TEST(in->req.inputs == req.inputs, boost::test_tools::per_element());
        BOOST_TEST((in->req.dimensions == req.dimensions));
        BOOST_TEST(in->req.user == req.user);
        BOOST_TEST((in->form.encoding == enc));
        BOOST_TEST(in->native.empty());
    }

    // server encode -> client decode gives the vectors back, bit for bit in both encodings
    embedding_response r;
    std::uint32_t seed = 7;
    for (int i = 0; i < 3; ++i) {
        auto& v = r.vectors.emplace_back();
        for (int k = 0; k < 17; ++k) {
            seed = seed * 1664525u + 1013904223u;
            float f = from_bits(seed);
            if (!std::isfinite(f)) f = 0.5f;
            v.push_back(f);
        }
    }
    r.usage.input_tokens = 11;
    r.usage.total_tokens = 11;
    for (auto enc : {vector_encoding::float32, vector_encoding::base64}) {
        std::string body;
        BOOST_REQUIRE(oe::encode_embedding_response(r, "m", enc, body));
        auto back = oe::decode_embedding_response(head_200(), body, 3);
        BOOST_REQUIRE(back);
        BOOST_TEST(back->usage.input_tokens == token_count(11));
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t k = 0; k < 17; ++k)
                BOOST_TEST(bits(back->vectors[i][k]) == bits(r.vectors[i][k]));
    }
}

// JSON parsers read `-0` as the integer 0: negative zero is written as -0.0 to keep its sign.
BOOST_AUTO_TEST_CASE(negative_zero_keeps_its_sign_as_a_float) {
    embedding_response r;
    r.vectors = {{-0.0f, 0.0f, 1e-30f}};
    std::string body;
    BOOST_REQUIRE(oe::encode_embedding_response(r, "m", vector_encoding::float32, body));
    BOOST_TEST(body.find("[-0.0,0,1e-30]") != std::string::npos, body);
    auto back = oe::decode_embedding_response(head_200(), body, 1);
    BOOST_TEST_REQUIRE(!!back, back.error());
    BOOST_TEST(bits(back->vectors[0][0]) == bits(-0.0f));
    BOOST_TEST(bits(back->vectors[0][1]) == bits(0.0f));
    BOOST_TEST(bits(back->vectors[0][2]) == bits(1e-30f));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
