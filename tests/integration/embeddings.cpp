// SPDX-License-Identifier: BSL-1.0
// Embeddings end to end: `client::embed` against the in-process emulator (vectors, batches split
// and joined in order, float and base64, errors as the client's kinds, refusals before sending,
// cost) for OpenAI, Google's and Bedrock's APIs, and the gateway's embedding endpoints in
// process (keys, float and base64 out, unsupported upstreams, spend recorded; Google's paths,
// Bedrock's InvokeModel).
#include "common/client_fixture.hpp"
#include "common/http_test_client.hpp"

#include <llmux/combinators.hpp>
#include <llmux/embeddings.hpp>
#include <llmux/gateway.hpp>
#include <llmux/router.hpp>

#include "util/crypto.hpp"
#include "wire/openai_embeddings.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

using namespace llmux;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using llmux::test::emulator_fixture;
using llmux::test::http_reply;
using llmux::test::http_test_client;
using llmux::test::metric;
using llmux::test::run_coro;
using llmux::test::run_until;

namespace {

bool is(failure const& f, error e) { return f.code == make_error_code(e); }

embedding_request texts(std::string model, std::vector<std::string> inputs) {
    embedding_request r;
    r.model = std::move(model);
    r.inputs = std::move(inputs);
    return r;
}

result<embedding_response> embed(emulator_fixture& fx, client& c, embedding_request req) {
    return run_coro(fx.io, [&]() { return c.embed(req); });
}

double norm(std::vector<float> const& v) {
    double s = 0;
    for (float x : v) s += double(x) * double(x);
    return std::sqrt(s);
}

bool same_bits(std::vector<float> const& a, std::vector<float> const& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i])) return false;
    return true;
}

std::vector<std::string> numbered(std::size_t n) {
    std::vector<std::string> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back("text number " + std::to_string(i));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(embeddings)

BOOST_AUTO_TEST_CASE(embed_over_tls) {
    emulator_fixture fx;
    auto c = fx.make_client();
    std::vector<call_record> records;
    c.on_call([&](call_record const& r) { records.push_back(r); });
    auto r = embed(fx, c, texts("openai/text-embedding-3-small", {"alpha", "beta gamma", "alpha"}));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->provider == "openai");
    BOOST_TEST(r->requested_model == "openai/text-embedding-3-small");
    BOOST_TEST(r->model == "text-embedding-3-small");
    BOOST_TEST(!r->request_id.empty());
    BOOST_TEST(r->batches == 1u);
    BOOST_TEST(r->latency.count() > 0);
    BOOST_REQUIRE_EQUAL(r->vectors.size(), 3u);
    for (auto const& v : r->vectors) {
        BOOST_TEST(v.size() == 1536u);  // the model's width
        BOOST_TEST(std::abs(norm(v) - 1.0) < 1e-4);
    }
    BOOST_TEST(same_bits(r->vectors[0], r->vectors[2]));  // same input, same vector
    BOOST_TEST(!same_bits(r->vectors[0], r->vectors[1]));
    // The emulator counts a quarter of each input's characters: 2 + 3 + 2.
    BOOST_TEST(r->usage.input_tokens == token_count(7));
    BOOST_TEST(r->usage.total_tokens == token_count(7));
    // The catalog prices text-embedding-3-small's input at $0.02 per million tokens.
    BOOST_REQUIRE(r->cost_usd.has_value());
    BOOST_TEST(*r->cost_usd == 7 * 0.02 / 1e6, boost::test_tools::tolerance(1e-9));
    BOOST_REQUIRE_EQUAL(records.size(), 1u);
    BOOST_TEST(!records[0].error.has_value());
    BOOST_TEST(records[0].usage.input_tokens == token_count(7));
    BOOST_TEST((records[0].cost_usd == r->cost_usd));
    BOOST_TEST(c.totals().calls == 1u);

    // Another call gives the same vectors: deterministic across requests.
    auto again = embed(fx, c, texts("openai/text-embedding-3-small", {"beta gamma"}));
    BOOST_TEST_REQUIRE(!!again, again.error());
    BOOST_TEST(same_bits(again->vectors[0], r->vectors[1]));
}

BOOST_AUTO_TEST_CASE(dimensions_and_other_models) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto req = texts("openai/text-embedding-3-large", {"one"});
    req.dimensions = 8;
    auto r = embed(fx, c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->vectors[0].size() == 8u);
    BOOST_TEST(std::abs(norm(r->vectors[0]) - 1.0) < 1e-5);
    auto wide = embed(fx, c, texts("openai/text-embedding-3-large", {"one"}));
    BOOST_TEST_REQUIRE(!!wide, wide.error());
    BOOST_TEST(wide->vectors[0].size() == 3072u);
    // Another model, another vector for the same text.
    req.model = "openai/text-embedding-3-small";
    auto other = embed(fx, c, req);
    BOOST_TEST_REQUIRE(!!other, other.error());
    BOOST_TEST(!same_bits(other->vectors[0], r->vectors[0]));
}

BOOST_AUTO_TEST_CASE(float_and_base64_carry_the_same_bits) {
    // OpenAI is asked for base64 (its default here); the option asks another client for floats.
    emulator_fixture fx;
    auto b64 = fx.make_client();
    fx.cfg.find("openai")->options["embedding_encoding"] = "float";
    auto floats = fx.make_client();
    auto const req = texts("openai/text-embedding-3-small", {"the same", "texts"});
    auto a = embed(fx, b64, req);
    auto f = embed(fx, floats, req);
    BOOST_TEST_REQUIRE(!!a, a.error());
    BOOST_TEST_REQUIRE(!!f, f.error());
    for (std::size_t i = 0; i < 2; ++i) BOOST_TEST(same_bits(a->vectors[i], f->vectors[i]));
}

BOOST_AUTO_TEST_CASE(batches_split_and_joined_in_order) {
    emulator_fixture fx;
    auto whole = fx.make_client();
    fx.cfg.find("openai")->options["max_embedding_inputs"] = 2;
    auto split = fx.make_client();
    auto req = texts("openai/text-embedding-3-small", numbered(7));
    req.dimensions = 16;
    auto const before = fx.emu->stats().requests;
    auto one = embed(fx, whole, req);
    BOOST_TEST_REQUIRE(!!one, one.error());
    BOOST_TEST(one->batches == 1u);
    BOOST_TEST(fx.emu->stats().requests == before + 1);
    auto four = embed(fx, split, req);
    BOOST_TEST_REQUIRE(!!four, four.error());
    BOOST_TEST(four->batches == 4u);  // 2 + 2 + 2 + 1
    BOOST_TEST(fx.emu->stats().requests == before + 5);
    BOOST_REQUIRE_EQUAL(four->vectors.size(), 7u);
    for (std::size_t i = 0; i < 7; ++i) BOOST_TEST(same_bits(four->vectors[i], one->vectors[i]));
    BOOST_TEST(four->usage.input_tokens == one->usage.input_tokens);
    BOOST_TEST(*four->cost_usd == *one->cost_usd, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(over_openais_limit_of_2048_inputs) {
    // The emulator refuses more than 2048 inputs in one request, as OpenAI does: the call
    // succeeds only because it was split (2048 + 2048 + 4).
    emulator_fixture fx({}, false);
    auto c = fx.make_client();
    auto req = texts("openai/text-embedding-3-small", numbered(4100));
    req.dimensions = 2;
    auto r = embed(fx, c, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->batches == 3u);
    BOOST_REQUIRE_EQUAL(r->vectors.size(), 4100u);
    auto last = embed(fx, c, texts("openai/text-embedding-3-small", {"text number 4099"}));
    BOOST_TEST_REQUIRE(!!last, last.error());
    std::vector<float> want = last->vectors[0];
    // Same draws, shortened to 2 and normalised: proportional to the first two values.
    BOOST_TEST(r->vectors[4099].size() == 2u);
    double const ratio = double(r->vectors[4099][0]) / double(want[0]);
    BOOST_TEST(double(r->vectors[4099][1]) == double(want[1]) * ratio,
               boost::test_tools::tolerance(1e-4));

    // A single request over the limit, straight to the emulator, is refused naming `input`.
    auto big = texts("text-embedding-3-small", numbered(2049));
    auto http = detail::openai::encode_embedding_request(big, big.model,
                                                        detail::vector_encoding::float32);
    BOOST_TEST_REQUIRE(!!http);
    std::vector<std::pair<std::string, std::string>> const auth = {
        {"Authorization", "Bearer sk-test"}};
    auto const reply = run_coro(fx.io, [&]() -> asio::awaitable<http_reply> {
        http_test_client h(fx.io.get_executor());
        if (auto ec = co_await h.connect(fx.emu->url())) {
            http_reply failed;
            failed.ec = ec;
            co_return failed;
        }
        co_return co_await h.request(http::verb::post, "/v1/embeddings", http->body, auth, false);
    });
    BOOST_TEST(reply.status == 400u);
    BOOST_TEST(json::parse(reply.body).at("error").at("param") == "input", reply.body);
}

BOOST_AUTO_TEST_CASE(errors_are_the_clients_kinds) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto fails = [&](std::string directives) {
        auto r = embed(fx, c, texts("openai/text-embedding-3-small~" + directives, {"x"}));
        BOOST_TEST_REQUIRE(!r);
        return r.error();
    };
    auto const limited = fails("error=429,retry_after=2s");
    BOOST_TEST(is(limited, error::rate_limited), limited);
    BOOST_TEST(limited.diag.http_status == 429u);
    BOOST_REQUIRE(limited.diag.retry_after.has_value());
    BOOST_TEST(limited.diag.retry_after->count() == 2000);
    BOOST_TEST(limited.diag.provider == "openai");
    BOOST_TEST(is(fails("error=401"), error::auth_failed));
    BOOST_TEST(is(fails("error=404"), error::not_found));
    BOOST_TEST(is(fails("error=500"), error::server_error));
    BOOST_TEST(is(fails("error=503"), error::overloaded));
    BOOST_TEST(is(fails("fault=truncate"), error::protocol_error));
    BOOST_TEST(is(fails("fault=malformed"), error::protocol_error));
    auto const reset = fails("fault=reset");
    BOOST_TEST((reset.code.category() != llmux::category()), reset);  // the transport's own
    // A failed call is counted as one.
    BOOST_TEST(c.totals().failures >= 8u);

    // Timeouts as for chat: the client's total deadline.
    fx.cfg.timeouts.total = 200ms;
    auto quick = fx.make_client();
    auto slow = embed(fx, quick, texts("openai/text-embedding-3-small~latency=30s", {"x"}));
    BOOST_TEST_REQUIRE(!slow);
    BOOST_TEST(is(slow.error(), error::timeout), slow.error());
}

BOOST_AUTO_TEST_CASE(a_failed_batch_fails_the_call) {
    emulator_fixture fx({}, false);
    fx.cfg.find("openai")->options["max_embedding_inputs"] = 1;
    auto c = fx.make_client();
    // The first request of this model fails (fail_first counts per model: the first batch to
    // arrive, whichever it is); the other two succeed.
    auto r = embed(fx, c, texts("openai/text-embedding-3-small~error=500,fail_first=1",
                                {"a", "b", "c"}));
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::server_error), r.error());
}

BOOST_AUTO_TEST_CASE(refused_before_sending) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto const before = fx.emu->stats().requests;
    auto refused = [&](embedding_request req, error code, std::string_view says) {
        auto r = embed(fx, c, std::move(req));
        BOOST_TEST_REQUIRE(!r);
        BOOST_TEST(is(r.error(), code), r.error());
        BOOST_TEST(r.error().diag.message.find(says) != std::string::npos, r.error().diag.message);
    };
    refused(texts("openai/text-embedding-3-small", {}), error::invalid_request, "inputs:");
    refused(texts("openai/text-embedding-3-small", {"a", ""}), error::invalid_request,
            "inputs[1]");
    refused(texts("openai/text-embedding-3-small", {std::string(60000, 'x')}),
            error::context_length_exceeded, "inputs[0]");
    refused(texts("anthropic/claude-sonnet-4.6", {"a"}), error::unsupported,
            "provider 'anthropic' has no embeddings API");
    refused(texts("deepseek/deepseek-chat", {"a"}), error::unsupported,
            "provider 'deepseek' has no embeddings API");
    refused(texts("bedrock/amazon.nova-pro-v1:0", {"a"}), error::unsupported,
            "not an embedding model");
    auto titled = texts("google/gemini-embedding-001", {"a"});
    titled.title = "T";  // Google takes a title only for documents
    refused(titled, error::invalid_request, "title");
    auto user = texts("google/gemini-embedding-001", {"a"});
    user.user = "u";
    refused(user, error::unsupported, "user");
    auto task = texts("openai/text-embedding-3-small", {"a"});
    task.task = embedding_task::query;
    refused(task, error::unsupported, "task");
    refused(texts("nope", {"a"}), error::invalid_model_id, "nope");
    BOOST_TEST(fx.emu->stats().requests == before);
    BOOST_TEST(!c.check_embed("anthropic/claude-sonnet-4.6"));
    BOOST_TEST(!!c.check_embed("openai/text-embedding-3-small"));
}

BOOST_AUTO_TEST_CASE(gemini_api_batches_of_100_in_order) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = embed(fx, c, texts("google/gemini-embedding-001", numbered(150)));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->requested_model == "google/gemini-embedding-001");
    BOOST_TEST(r->provider == "google");
    BOOST_TEST(r->batches == 2u);  // batchEmbedContents takes 100 requests
    BOOST_REQUIRE_EQUAL(r->vectors.size(), 150u);
    BOOST_TEST(r->vectors[0].size() == 3072u);
    BOOST_TEST(std::abs(norm(r->vectors[0]) - 1.0) < 1e-5);
    // The Gemini API reports no tokens: usage and cost are unknown, not 0.
    BOOST_TEST(!r->usage.input_tokens.has_value());
    BOOST_TEST(!r->cost_usd.has_value());
    // In input order: the last input alone gives the same vector.
    auto one = embed(fx, c, texts("google/gemini-embedding-001", {"text number 149"}));
    BOOST_TEST_REQUIRE(!!one, one.error());
    BOOST_TEST(same_bits(one->vectors[0], r->vectors[149]));
    BOOST_TEST(!same_bits(one->vectors[0], r->vectors[148]));

    auto doc = texts("google/text-embedding-004", {"a document"});
    doc.task = embedding_task::document;
    doc.title = "Title";
    doc.dimensions = 16;
    auto d = embed(fx, c, doc);
    BOOST_TEST_REQUIRE(!!d, d.error());
    BOOST_TEST(d->vectors[0].size() == 16u);
    BOOST_TEST(std::abs(norm(d->vectors[0]) - 1.0) < 1e-5);
}

BOOST_AUTO_TEST_CASE(vertex_predict_counts_tokens) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = embed(fx, c, texts("vertex/text-embedding-005", {"alpha", "beta gamma", "alpha"}));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->batches == 1u);
    BOOST_REQUIRE_EQUAL(r->vectors.size(), 3u);
    BOOST_TEST(r->vectors[0].size() == 768u);
    BOOST_TEST(same_bits(r->vectors[0], r->vectors[2]));
    // Each prediction's token_count, summed: what the emulator counted for the three inputs
    // (the same count as over OpenAI's API, whose answer has the total).
    auto o = embed(fx, c, texts("openai/text-embedding-005", {"alpha", "beta gamma", "alpha"}));
    BOOST_TEST_REQUIRE(!!o, o.error());
    BOOST_TEST_REQUIRE(r->usage.input_tokens.has_value());
    BOOST_TEST(*r->usage.input_tokens == *o->usage.input_tokens);
    BOOST_TEST(r->usage.output_tokens == token_count(0));
    // The same model and text, the same vector, whichever API carried it.
    BOOST_TEST(same_bits(r->vectors[1], o->vectors[1]));

    // gemini-embedding-001 on Vertex takes one instance a request.
    auto g = embed(fx, c, texts("vertex/gemini-embedding-001", {"a", "b", "c"}));
    BOOST_TEST_REQUIRE(!!g, g.error());
    BOOST_TEST(g->batches == 3u);
    BOOST_TEST(g->vectors.size() == 3u);

    // gemini-embedding-2 through :embedContent, one content a call, tokens from usageMetadata.
    auto g2req = texts("vertex/gemini-embedding-2", {"alpha", "beta gamma"});
    g2req.dimensions = 32;
    auto g2 = embed(fx, c, g2req);
    BOOST_TEST_REQUIRE(!!g2, g2.error());
    BOOST_TEST(g2->batches == 2u);
    BOOST_TEST(g2->vectors[1].size() == 32u);
    BOOST_TEST(g2->usage.input_tokens == token_count(5));
}

// Bedrock's InvokeModel: Titan one text a call, Cohere 96, each in its own body; tokens from
// Titan's body and Cohere's header; priced from the catalog.
BOOST_AUTO_TEST_CASE(bedrock_invoke_titan_and_cohere) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto t = embed(fx, c, texts("bedrock/amazon.titan-embed-text-v2:0", {"alpha", "beta gamma", "alpha"}));
    BOOST_TEST_REQUIRE(!!t, t.error());
    BOOST_TEST(t->provider == "bedrock");
    BOOST_TEST(t->model == "amazon.titan-embed-text-v2:0");
    BOOST_TEST(t->batches == 3u);  // Titan takes one text a call
    BOOST_REQUIRE_EQUAL(t->vectors.size(), 3u);
    BOOST_TEST(t->vectors[0].size() == 1024u);  // Titan V2's default width
    BOOST_TEST(std::abs(norm(t->vectors[1]) - 1.0) < 1e-5);
    BOOST_TEST(same_bits(t->vectors[0], t->vectors[2]));
    BOOST_TEST(!t->request_id.empty());
    // The emulator counts a quarter of each input's characters: 2 + 3 + 2.
    BOOST_TEST(t->usage.input_tokens == token_count(7));
    // The data set's price for every amazon.titan-embed-text model: $0.10 per million input
    // tokens (Titan G1's; AWS lists V2 at $0.02, which the data set does not have yet).
    BOOST_REQUIRE(t->cost_usd.has_value());
    BOOST_TEST(*t->cost_usd == 7 * 0.10 / 1e6, boost::test_tools::tolerance(1e-9));

    auto narrow = texts("bedrock/amazon.titan-embed-text-v2:0", {"alpha"});
    narrow.dimensions = 256;
    auto n = embed(fx, c, narrow);
    BOOST_TEST_REQUIRE(!!n, n.error());
    BOOST_TEST(n->vectors[0].size() == 256u);

    // Cohere: 150 texts in two calls (96 + 54), joined in input order.
    auto co = embed(fx, c, texts("bedrock/cohere.embed-english-v3", numbered(150)));
    BOOST_TEST_REQUIRE(!!co, co.error());
    BOOST_TEST(co->batches == 2u);
    BOOST_REQUIRE_EQUAL(co->vectors.size(), 150u);
    BOOST_TEST(co->vectors[0].size() == 1024u);
    BOOST_TEST_REQUIRE(co->usage.input_tokens.has_value());  // from X-Amzn-Bedrock-Input-Token-Count
    BOOST_TEST(*co->usage.input_tokens > 150u);
    BOOST_REQUIRE(co->cost_usd.has_value());
    BOOST_TEST(*co->cost_usd == double(*co->usage.input_tokens) * 0.10 / 1e6,
               boost::test_tools::tolerance(1e-9));
    auto last = embed(fx, c, texts("bedrock/cohere.embed-english-v3", {"text number 149"}));
    BOOST_TEST_REQUIRE(!!last, last.error());
    BOOST_TEST(same_bits(last->vectors[0], co->vectors[149]));

    auto v4 = texts("bedrock/cohere.embed-v4:0", {"query one", "query two"});
    v4.task = embedding_task::query;
    v4.dimensions = 512;
    auto q = embed(fx, c, v4);
    BOOST_TEST_REQUIRE(!!q, q.error());
    BOOST_TEST(q->batches == 1u);
    BOOST_TEST(q->vectors[1].size() == 512u);

    // Refused before sending, naming what is wrong.
    auto const before = fx.emu->stats().requests;
    auto wide = texts("bedrock/amazon.titan-embed-text-v2:0", {"a"});
    wide.dimensions = 300;
    auto w = embed(fx, c, wide);
    BOOST_TEST_REQUIRE(!w);
    BOOST_TEST(is(w.error(), error::invalid_request));
    BOOST_TEST(w.error().diag.message.find("256, 512 or 1024") != std::string::npos);
    auto chat_model = embed(fx, c, texts("bedrock/amazon.nova-pro-v1:0", {"a"}));
    BOOST_TEST_REQUIRE(!chat_model);
    BOOST_TEST(is(chat_model.error(), error::unsupported));
    BOOST_TEST(!c.check_embed("bedrock/amazon.nova-pro-v1:0"));
    BOOST_TEST(!!c.check_embed("bedrock/cohere.embed-v4:0"));
    BOOST_TEST(fx.emu->stats().requests == before);
}

BOOST_AUTO_TEST_CASE(every_openai_compatible_provider) {
    emulator_fixture fx;
    fx.cfg.find("azure")->query = {{"api-version", "2024-10-21"}};
    auto c = fx.make_client();
    for (auto m : {"openai/text-embedding-3-small", "openrouter/openai/text-embedding-3-small",
                   "zenmux/text-embedding-3-small", "azure/my-embedder", "groq/embedder",
                   "together/BAAI/bge-large-en-v1.5", "ollama/nomic-embed-text", "vllm/e5"}) {
        BOOST_TEST_CONTEXT(m) {
            auto r = embed(fx, c, texts(m, {"hello", "world"}));
            BOOST_TEST_REQUIRE(!!r, r.error());
            BOOST_TEST(r->requested_model == m);
            BOOST_TEST(r->vectors.size() == 2u);
        }
    }
}

// fallback with embedding requests: the next candidate after a failure another provider may
// not have, every attempt listed; candidates that cannot embed or would give vectors of other
// widths refused before anything is sent.
BOOST_AUTO_TEST_CASE(fallback_between_providers_of_one_model) {
    emulator_fixture fx;
    fx.cfg.find("azure")->query = {{"api-version", "2024-10-21"}};
    auto c = fx.make_client();
    auto run = [&](model_list models, embedding_request req, fallback_options o = {}) {
        return run_coro(fx.io, [&]() { return llmux::fallback(c, models, req, o); });
    };
    auto const req = texts("", {"alpha", "beta gamma"});
    auto r = run({"openai/text-embedding-3-small~error=503", "azure/text-embedding-3-small"}, req);
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->requested_model == "azure/text-embedding-3-small");
    BOOST_TEST(r->vectors.size() == 2u);
    BOOST_REQUIRE_EQUAL(r->attempts.size(), 2u);
    BOOST_TEST(r->attempts[0].model == "openai/text-embedding-3-small~error=503");
    BOOST_TEST_REQUIRE(r->attempts[0].error.has_value());
    BOOST_TEST(is(*r->attempts[0].error, error::overloaded), *r->attempts[0].error);
    BOOST_TEST(!r->attempts[1].error.has_value());
    // The same model and text, the same vector, whichever provider answered.
    auto direct = embed(fx, c, texts("openai/text-embedding-3-small", {"alpha"}));
    BOOST_TEST_REQUIRE(!!direct, direct.error());
    BOOST_TEST(same_bits(direct->vectors[0], r->vectors[0]));

    // A failure the next candidate would repeat ends it (as for chat).
    auto bad = texts("", {"alpha"});
    bad.task = embedding_task::query;  // OpenAI's API has no task
    auto const before = fx.emu->stats().requests;
    auto b = run({"openai/text-embedding-3-small", "azure/text-embedding-3-small"}, bad);
    BOOST_TEST_REQUIRE(!b);
    BOOST_TEST(is(b.error(), error::unsupported));

    // Refused before sending: different widths without dimensions, a model without embeddings.
    auto w = run({"openai/text-embedding-3-small", "openai/text-embedding-3-large"}, req);
    BOOST_TEST_REQUIRE(!w);
    BOOST_TEST(is(w.error(), error::invalid_request));
    BOOST_TEST(w.error().diag.message.find("1536") != std::string::npos, w.error().diag.message);
    BOOST_TEST(w.error().diag.message.find("3072") != std::string::npos, w.error().diag.message);
    auto a = run({"openai/text-embedding-3-small", "anthropic/claude-sonnet-4.6"}, req);
    BOOST_TEST_REQUIRE(!a);
    BOOST_TEST(is(a.error(), error::unsupported));
    BOOST_TEST(fx.emu->stats().requests == before);
    // With one width asked for, models of different default widths can stand in.
    auto narrow = req;
    narrow.dimensions = 256;
    auto n = run({"openai/text-embedding-3-large~error=429", "openai/text-embedding-3-small"}, narrow);
    BOOST_TEST_REQUIRE(!!n, n.error());
    BOOST_TEST(n->requested_model == "openai/text-embedding-3-small");
    BOOST_TEST(n->vectors[1].size() == 256u);
}

// A server that ignores the width asked for: an error with what it billed, not vectors that
// fit nothing (the override in `extra` plays such a server's part).
BOOST_AUTO_TEST_CASE(vectors_of_another_width_are_an_error) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto req = texts("openai/text-embedding-3-small", {"alpha"});
    req.dimensions = 4;
    req.extra["dimensions"] = 8;
    auto r = embed(fx, c, req);
    BOOST_TEST_REQUIRE(!r);
    BOOST_TEST(is(r.error(), error::protocol_error));
    BOOST_TEST(r.error().diag.message.find("8 values for dimensions 4") != std::string::npos,
               r.error().diag.message);
    BOOST_TEST_REQUIRE(r.error().diag.cost_usd.has_value());
    BOOST_TEST(*r.error().diag.cost_usd > 0);
}

// gather with embedding requests: every request at once, outcomes in order, a failure in its
// slot.
BOOST_AUTO_TEST_CASE(gather_many_lists) {
    emulator_fixture fx;
    auto c = fx.make_client();
    std::vector<embedding_request> reqs{texts("openai/text-embedding-3-small", {"a", "b"}),
                                        texts("openai/text-embedding-3-small~error=429", {"c"}),
                                        texts("google/gemini-embedding-001", numbered(3))};
    gather_options o;
    o.max_concurrency = 2;
    auto out = run_coro(fx.io, [&]() { return llmux::gather(c, reqs, o); });
    BOOST_REQUIRE_EQUAL(out.size(), 3u);
    BOOST_TEST_REQUIRE(!!out[0], out[0].error());
    BOOST_TEST(out[0]->vectors.size() == 2u);
    BOOST_TEST_REQUIRE(!out[1]);
    BOOST_TEST(is(out[1].error(), error::rate_limited));
    BOOST_TEST_REQUIRE(!!out[2], out[2].error());
    BOOST_TEST(out[2]->vectors.size() == 3u);
    BOOST_TEST(out[2]->vectors[0].size() == 3072u);
}

// The router ranks embedding models as chat ones (here by price), keeps one width unless
// dimensions are asked, leaves out models without embeddings, and falls back along the ranking.
BOOST_AUTO_TEST_CASE(router_ranks_embedding_models) {
    emulator_fixture fx;
    fx.cfg.find("azure")->query = {{"api-version", "2024-10-21"}};
    auto c = fx.make_client();
    router_config rc;
    rc.candidates = {"openai/text-embedding-3-large", "openai/text-embedding-ada-002",
                     "azure/text-embedding-3-small", "anthropic/claude-sonnet-4.6",
                     "openai/text-embedding-3-small"};
    router r(c, rc);
    auto const req = texts("", {"alpha", "beta gamma"});
    // Cheapest first ($0.02 before $0.10); the 3072-wide model left out; Anthropic has none.
    auto const order = r.rank(req, route::cheapest);
    BOOST_TEST((order == std::vector<std::string>{"azure/text-embedding-3-small",
                                                  "openai/text-embedding-3-small",
                                                  "openai/text-embedding-ada-002"}));
    auto narrow = req;
    narrow.dimensions = 256;
    auto const wide_open = r.rank(narrow, route::cheapest);
    BOOST_TEST(wide_open.size() == 4u);
    BOOST_TEST(wide_open.back() == "openai/text-embedding-3-large");  // $0.13, the dearest
    route_constraints cheap;
    cheap.max_price = 0.05;
    BOOST_TEST(r.rank(req, route::cheapest, cheap).size() == 2u);
    cheap.allow_providers = {"openai"};
    BOOST_TEST((r.rank(req, route::cheapest, cheap) ==
                std::vector<std::string>{"openai/text-embedding-3-small"}));

    auto got = run_coro(fx.io, [&]() { return r.embed(req, route::cheapest); });
    BOOST_TEST_REQUIRE(!!got, got.error());
    BOOST_TEST(got->requested_model == "azure/text-embedding-3-small");
    BOOST_TEST(got->vectors.size() == 2u);
    BOOST_TEST(got->attempts.size() == 1u);
    cheap.allow_providers = {"nobody"};
    auto none = run_coro(fx.io, [&]() { return r.embed(req, route::cheapest, cheap); });
    BOOST_TEST_REQUIRE(!none);
    BOOST_TEST(is(none.error(), error::invalid_request));

    // With no list, every configured catalog model that embeds: one width, none without
    // embeddings.
    router all(c);
    auto const every = all.rank(req, route::cheapest);
    BOOST_TEST_REQUIRE(!every.empty());
    auto const width = c.models().find(every.front())->embedding_dimensions;
    for (auto const& id : every) {
        BOOST_TEST(!!c.check_embed(id), id);
        auto const* info = c.models().find(id);
        BOOST_TEST_REQUIRE(info != nullptr, id);
        BOOST_TEST((info->embedding_dimensions == width), id);
    }
}

BOOST_AUTO_TEST_CASE(unknown_price_is_unknown_cost_and_budgets_hold) {
    emulator_fixture fx;
    auto c = fx.make_client();
    auto r = embed(fx, c, texts("vllm/my-embedder", {"hello"}));
    BOOST_TEST_REQUIRE(!!r, r.error());
    BOOST_TEST(r->usage.input_tokens.has_value());
    BOOST_TEST(!r->cost_usd.has_value());  // unknown, not 0

    fx.cfg.budget_usd = 1e-12;
    auto tight = fx.make_client();
    auto over = embed(fx, tight, texts("openai/text-embedding-3-small", {"hello world"}));
    BOOST_TEST_REQUIRE(!over);
    BOOST_TEST(is(over.error(), error::budget_exceeded), over.error());
    auto unpriced = embed(fx, tight, texts("vllm/my-embedder", {"hello"}));
    BOOST_TEST_REQUIRE(!unpriced);
    BOOST_TEST(is(unpriced.error(), error::unsupported), unpriced.error());

    fx.cfg.budget_usd = 1.0;
    auto roomy = fx.make_client();
    auto ok = embed(fx, roomy, texts("openai/text-embedding-3-small", {"hello world"}));
    BOOST_TEST_REQUIRE(!!ok, ok.error());
    BOOST_TEST(roomy.totals().cost_usd == *ok->cost_usd, boost::test_tools::tolerance(1e-12));
}

// ---------------------------------------------------------------------------------------------
// The gateway: POST /v1/embeddings

namespace {

using headers_t = std::vector<std::pair<std::string, std::string>>;

/// An emulator (plain HTTP) and a gateway in front of it, on one io_context.
struct gw_fixture {
    emulator_fixture emu;
    std::unique_ptr<llmux::gateway> gw;
    std::shared_ptr<std::vector<std::string>> log = std::make_shared<std::vector<std::string>>();

    explicit gw_fixture(gateway_config g) : emu({}, false) {
        g.client.providers = emu.cfg.providers;
        auto sink = log;
        g.log_sink = [sink](std::string_view line) { sink->emplace_back(line); };
        gw = std::make_unique<llmux::gateway>(emu.io.get_executor(), g);
        auto r = gw->start();
        BOOST_TEST_REQUIRE(!!r, "gateway failed to start: " << (r ? "" : r.error().to_string()));
    }
    ~gw_fixture() {
        gw->stop();
        run_until(emu.io, [&] { return gw->stats().connections_open == 0; }, 2s);
    }
    http_reply request(http::verb method, std::string target, std::string body, headers_t headers) {
        return run_coro(emu.io, [&]() -> asio::awaitable<http_reply> {
            http_test_client c(emu.io.get_executor());
            if (auto ec = co_await c.connect(gw->url())) {
                http_reply r;
                r.ec = ec;
                co_return r;
            }
            co_return co_await c.request(method, target, body, headers, false);
        });
    }
    http_reply post(std::string body, headers_t headers = {{"Authorization", "Bearer sk-team"}}) {
        return request(http::verb::post, "/v1/embeddings", std::move(body), std::move(headers));
    }
    http_reply get(std::string target) {
        return request(http::verb::get, std::move(target), {},
                       {{"Authorization", "Bearer sk-team"}});
    }
};

gateway_config gateway_with(std::string const& models, std::optional<double> budget = {}) {
    gateway_config g;
    auto r = g.load_json(models, "test");
    BOOST_TEST_REQUIRE(!!r, (r ? "" : r.error().to_string()));
    gateway_key k;
    k.name = "team";
    k.sha256 = detail::sha256_hex("sk-team");
    k.budget_usd = budget;
    g.keys.push_back(k);
    return g;
}

json::value parse_json(std::string_view s) {
    boost::system::error_code ec;
    auto v = json::parse(s, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << s);
    return v;
}

json::object error_of(http_reply const& r) {
    auto const v = parse_json(r.body);
    auto const* e = v.as_object().if_contains("error");
    BOOST_TEST_REQUIRE(e != nullptr, "no error object: " << r.body);
    return e->as_object();
}

/// The vectors of an OpenAI embeddings answer, float or base64.
std::vector<std::vector<float>> vectors_of(http_reply const& r) {
    auto const v = parse_json(r.body);
    std::vector<std::vector<float>> out(v.at("data").as_array().size());
    for (auto const& item : v.at("data").as_array()) {
        auto& vec = out.at(static_cast<std::size_t>(item.at("index").to_number<std::int64_t>()));
        auto const& e = item.at("embedding");
        if (e.is_string()) {
            auto const& s = e.as_string();
            auto d = detail::openai::decode_base64_floats(std::string_view(s.data(), s.size()), "e");
            BOOST_TEST_REQUIRE(!!d);
            vec = std::move(*d);
        } else {
            for (auto const& x : e.as_array()) vec.push_back(static_cast<float>(x.to_number<double>()));
        }
    }
    return out;
}

char const* const models_json = R"({"models":{
    "embed":"openai/text-embedding-3-small",
    "chat":"anthropic/claude-sonnet-4.6",
    "broken":"openai/text-embedding-3-small~error=429,retry_after=3s",
    "sturdy":{"deployments":["openai/text-embedding-3-small~error=503",
                             "openai/text-embedding-3-large"]},
    "mixed":{"deployments":["openai/text-embedding-3-small","deepseek/deepseek-chat"]},
    "gemini-embed":"google/gemini-embedding-001",
    "titan":"bedrock/amazon.titan-embed-text-v2:0"}})";

}  // namespace

BOOST_AUTO_TEST_CASE(gateway_answers_float_and_base64) {
    gw_fixture fx(gateway_with(models_json));
    auto const f = fx.post(R"({"model":"embed","input":["alpha","beta gamma"]})");
    BOOST_TEST_REQUIRE(f.status == 200u, f.body);
    BOOST_TEST(f.header("Content-Type") == "application/json");
    BOOST_TEST(!f.header("x-request-id").empty());
    auto const doc = parse_json(f.body);
    BOOST_TEST(doc.at("object") == "list");
    BOOST_TEST(doc.at("model") == "embed");  // the public name
    BOOST_TEST(doc.at("usage").at("prompt_tokens") == 5);
    BOOST_TEST(doc.at("data").at(0).at("object") == "embedding");
    BOOST_TEST(doc.at("data").at(0).at("embedding").is_array());
    auto const fv = vectors_of(f);
    BOOST_REQUIRE_EQUAL(fv.size(), 2u);
    BOOST_TEST(fv[0].size() == 1536u);

    auto const b = fx.post(R"({"model":"embed","input":["alpha","beta gamma"],"encoding_format":"base64"})");
    BOOST_TEST_REQUIRE(b.status == 200u, b.body);
    BOOST_TEST(parse_json(b.body).at("data").at(1).at("embedding").is_string());
    auto const bv = vectors_of(b);
    for (std::size_t i = 0; i < 2; ++i) BOOST_TEST(same_bits(bv[i], fv[i]));

    // The same vectors as the client's own call to the upstream.
    auto c = fx.emu.make_client();
    auto direct = embed(fx.emu, c, texts("openai/text-embedding-3-small", {"alpha", "beta gamma"}));
    BOOST_TEST_REQUIRE(!!direct, direct.error());
    for (std::size_t i = 0; i < 2; ++i) BOOST_TEST(same_bits(direct->vectors[i], bv[i]));

    auto const d = fx.post(R"({"model":"embed","input":"one","dimensions":4})");
    BOOST_TEST_REQUIRE(d.status == 200u, d.body);
    BOOST_TEST(vectors_of(d).at(0).size() == 4u);
}

BOOST_AUTO_TEST_CASE(gateway_keys_and_bad_requests) {
    gw_fixture fx(gateway_with(models_json));
    auto const missing = fx.post(R"({"model":"embed","input":"x"})", {});
    BOOST_TEST(missing.status == 401u);
    BOOST_TEST(error_of(missing).at("code") == "missing_api_key");
    auto const wrong = fx.post(R"({"model":"embed","input":"x"})",
                               {{"Authorization", "Bearer sk-nope"}});
    BOOST_TEST(wrong.status == 401u);
    BOOST_TEST(wrong.body.find("sk-nope") == std::string::npos);

    auto const unsupported = fx.post(R"({"model":"chat","input":"x"})");
    BOOST_TEST(unsupported.status == 400u);
    auto const ue = error_of(unsupported);
    BOOST_TEST(ue.at("code") == "unsupported");
    BOOST_TEST(ue.at("param") == "model");
    auto const um = std::string(ue.at("message").as_string());
    BOOST_TEST(um.find("'chat'") != std::string::npos, um);
    BOOST_TEST(um.find("anthropic") != std::string::npos, um);
    auto const mixed = fx.post(R"({"model":"mixed","input":"x"})");
    BOOST_TEST(mixed.status == 400u);
    BOOST_TEST(error_of(mixed).at("code") == "unsupported");

    auto const unknown = fx.post(R"({"model":"nope","input":"x"})");
    BOOST_TEST(unknown.status == 404u);
    auto const empty = fx.post(R"({"model":"embed","input":[]})");
    BOOST_TEST(empty.status == 400u);
    BOOST_TEST(error_of(empty).at("param") == "input");
    auto const tokens = fx.post(R"({"model":"embed","input":[[1,2],[3]]})");
    BOOST_TEST(tokens.status == 400u);
    BOOST_TEST(error_of(tokens).at("code") == "unsupported");
    BOOST_TEST(error_of(tokens).at("param") == "input");
    auto const method = fx.request(http::verb::get, "/v1/embeddings", {},
                                   {{"Authorization", "Bearer sk-team"}});
    BOOST_TEST(method.status == 405u);
}

BOOST_AUTO_TEST_CASE(gateway_upstream_errors_and_groups) {
    gw_fixture fx(gateway_with(models_json));
    auto const limited = fx.post(R"({"model":"broken","input":"x"})");
    BOOST_TEST(limited.status == 429u, limited.body);
    BOOST_TEST(limited.header("retry-after") == "3");
    BOOST_TEST(error_of(limited).at("code") == "rate_limit_exceeded");

    // A deployment that fails with a retryable error moves on to the next.
    auto const sturdy = fx.post(R"({"model":"sturdy","input":"x"})");
    BOOST_TEST_REQUIRE(sturdy.status == 200u, sturdy.body);
    BOOST_TEST(vectors_of(sturdy).at(0).size() == 3072u);  // text-embedding-3-large answered
    auto const m = fx.get("/metrics");
    BOOST_TEST(metric(m.body, R"(llmux_gateway_attempts_total{model="sturdy"})") == 2.0, m.body);
    BOOST_TEST(metric(m.body, R"(llmux_gateway_fallbacks_total{model="sturdy"})") == 1.0, m.body);
}

BOOST_AUTO_TEST_CASE(gateway_records_spend) {
    gw_fixture fx(gateway_with(models_json, 1.0));
    auto const r = fx.post(R"({"model":"embed","input":["alpha","beta gamma"]})");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    // 5 input tokens at $0.02 per million: 100 nano-USD.
    auto const spend = fx.get("/v1/llmux/keys/team");
    BOOST_TEST_REQUIRE(spend.status == 200u, spend.body);
    auto const o = parse_json(spend.body).as_object();
    BOOST_TEST(o.at("spent_nano_usd").to_number<std::int64_t>() == 100);
    BOOST_TEST(o.at("reserved_usd").to_number<double>() == 0.0);
    auto const m = fx.get("/metrics");
    BOOST_TEST(metric(m.body, R"(llmux_gateway_requests_total{model="embed"})") == 1.0, m.body);
    BOOST_TEST(metric(m.body, R"(llmux_gateway_tokens_total{model="embed",kind="input"})") == 5.0,
               m.body);
    bool logged = false;
    for (auto const& line : *fx.log)
        if (line.find("/v1/embeddings") != std::string::npos &&
            line.find("model=\"embed\"") != std::string::npos &&
            line.find("status=200") != std::string::npos && line.find(" in=5 ") != std::string::npos)
            logged = true;
    BOOST_TEST(logged);

    // A budget too small for the request's worst case is refused before any upstream call.
    gw_fixture tight(gateway_with(models_json, 1e-9));
    auto const before = tight.emu.emu->stats().requests;
    auto const refused = tight.post(R"({"model":"embed","input":["alpha","beta gamma"]})");
    BOOST_TEST(refused.status == 402u, refused.body);
    BOOST_TEST(tight.emu.emu->stats().requests == before);
}

// Google's embedding paths inbound and a Gemini upstream behind OpenAI's: each client gets its
// own shape, the same vectors for the same model and text; a field of one format is refused for
// an upstream of another, not dropped.
BOOST_AUTO_TEST_CASE(gateway_speaks_googles_embedding_paths) {
    gw_fixture fx(gateway_with(models_json));
    headers_t const google_key = {{"x-goog-api-key", "sk-team"}};
    auto const batch = fx.request(
        http::verb::post, "/v1beta/models/gemini-embed:batchEmbedContents",
        R"({"requests":[{"model":"models/gemini-embed","content":{"parts":[{"text":"alpha"}]}},)"
        R"({"model":"models/gemini-embed","content":{"parts":[{"text":"beta"}]}}]})",
        google_key);
    BOOST_TEST_REQUIRE(batch.status == 200u, batch.body);
    auto const doc = parse_json(batch.body);
    auto const& list = doc.at("embeddings").as_array();
    BOOST_REQUIRE_EQUAL(list.size(), 2u);
    BOOST_TEST(list[0].at("values").as_array().size() == 3072u);

    // The same model through OpenAI's endpoint: the same vector for the same text.
    auto const o = fx.post(R"({"model":"gemini-embed","input":["beta"],"encoding_format":"float"})");
    BOOST_TEST_REQUIRE(o.status == 200u, o.body);
    auto const ov = vectors_of(o);
    auto const& gv = list[1].at("values").as_array();
    BOOST_REQUIRE_EQUAL(ov.at(0).size(), gv.size());
    bool same = true;
    for (std::size_t k = 0; k < gv.size(); ++k)
        same = same && std::bit_cast<std::uint32_t>(ov[0][k]) ==
                           std::bit_cast<std::uint32_t>(static_cast<float>(gv[k].to_number<double>()));
    BOOST_TEST(same);
    // The Gemini API counts no tokens: OpenAI's answer leaves usage out rather than say 0.
    BOOST_TEST(!parse_json(o.body).as_object().contains("usage"));

    // One content to an OpenAI upstream, answered in Google's single shape.
    auto const single = fx.request(http::verb::post, "/v1beta/models/embed:embedContent",
                                   R"({"content":{"parts":[{"text":"alpha"}]}})", google_key);
    BOOST_TEST_REQUIRE(single.status == 200u, single.body);
    auto const sdoc = parse_json(single.body);
    BOOST_TEST(sdoc.at("embedding").at("values").as_array().size() == 1536u);
    BOOST_TEST(sdoc.at("usageMetadata").at("promptTokenCount") == 2);

    // A field of Google's format the unified request cannot hold, for an OpenAI upstream.
    auto const foreign = fx.request(http::verb::post, "/v1beta/models/embed:embedContent",
                                    R"({"content":{"parts":[{"text":"a"}]},"labels":{"x":"y"}})",
                                    google_key);
    BOOST_TEST(foreign.status == 400u, foreign.body);
    BOOST_TEST(foreign.body.find("labels") != std::string::npos, foreign.body);
    // And a task type the OpenAI upstream has no field for.
    auto const task = fx.request(http::verb::post, "/v1beta/models/embed:embedContent",
                                 R"({"content":{"parts":[{"text":"a"}]},"taskType":"RETRIEVAL_QUERY"})",
                                 google_key);
    BOOST_TEST(task.status == 400u, task.body);
    BOOST_TEST(task.body.find("task") != std::string::npos, task.body);
    // A wrong key is Google's 400 API_KEY_INVALID / 401 shape, not an answer.
    auto const bad = fx.request(http::verb::post, "/v1beta/models/embed:embedContent",
                                R"({"content":{"parts":[{"text":"a"}]}})",
                                {{"x-goog-api-key", "sk-wrong"}});
    BOOST_TEST(bad.status >= 400u);
    BOOST_TEST(bad.body.find("embedding") == std::string::npos);
}

// Bedrock's InvokeModel inbound: Titan's and Cohere's bodies, to an upstream of any format,
// answered in the body's own shape with InvokeModel's token header; fields refused as Bedrock
// refuses them, or passed to a Bedrock upstream.
BOOST_AUTO_TEST_CASE(gateway_speaks_bedrocks_invoke_model) {
    gw_fixture fx(gateway_with(models_json));
    headers_t const key = {{"Authorization", "Bearer sk-team"}};
    auto const titan = fx.request(http::verb::post, "/model/embed/invoke",
                                  R"({"inputText":"alpha","embeddingTypes":["float"]})", key);
    BOOST_TEST_REQUIRE(titan.status == 200u, titan.body);
    BOOST_TEST(!titan.header("x-amzn-RequestId").empty());
    BOOST_TEST(titan.header("X-Amzn-Bedrock-Input-Token-Count") == "2");
    auto const tdoc = parse_json(titan.body);
    BOOST_TEST(tdoc.at("embedding").as_array().size() == 1536u);  // the OpenAI upstream's width
    BOOST_TEST(tdoc.at("inputTextTokenCount") == 2);
    BOOST_TEST(tdoc.at("embeddingsByType").at("float") == tdoc.at("embedding"));

    // The same text through OpenAI's endpoint: the same vector.
    auto const o = fx.post(R"({"model":"embed","input":["alpha"],"encoding_format":"float"})");
    BOOST_TEST_REQUIRE(o.status == 200u, o.body);
    auto const ov = vectors_of(o);
    auto const& tv = tdoc.at("embedding").as_array();
    bool same = ov.at(0).size() == tv.size();
    for (std::size_t k = 0; same && k < tv.size(); ++k)
        same = std::bit_cast<std::uint32_t>(ov[0][k]) ==
               std::bit_cast<std::uint32_t>(static_cast<float>(tv[k].to_number<double>()));
    BOOST_TEST(same);

    // Cohere's body to a Gemini upstream (which has tasks): its texts echoed, vectors in order.
    auto const co = fx.request(http::verb::post, "/model/gemini-embed/invoke",
                               R"({"texts":["a","b"],"input_type":"search_query"})", key);
    BOOST_TEST_REQUIRE(co.status == 200u, co.body);
    auto const cdoc = parse_json(co.body);
    BOOST_TEST(cdoc.at("response_type") == "embeddings_floats");
    BOOST_TEST(json::serialize(cdoc.at("texts")) == R"(["a","b"])");
    BOOST_TEST(cdoc.at("embeddings").as_array().size() == 2u);
    BOOST_TEST(!cdoc.at("id").as_string().empty());
    // An OpenAI upstream has no task field: Cohere's input_type is refused, not dropped.
    auto const to_openai = fx.request(http::verb::post, "/model/embed/invoke",
                                      R"({"texts":["a"],"input_type":"search_query"})", key);
    BOOST_TEST(to_openai.status == 400u, to_openai.body);
    BOOST_TEST(to_openai.body.find("task") != std::string::npos, to_openai.body);

    // To a Bedrock upstream, what only Bedrock has goes on (normalize:false).
    auto const native = fx.request(http::verb::post, "/model/titan/invoke",
                                   R"({"inputText":"alpha","normalize":false,"dimensions":256})", key);
    BOOST_TEST_REQUIRE(native.status == 200u, native.body);
    BOOST_TEST(parse_json(native.body).at("embedding").as_array().size() == 256u);
    // ... and is refused for any other format, naming it.
    auto const foreign = fx.request(http::verb::post, "/model/embed/invoke",
                                    R"({"inputText":"alpha","normalize":false})", key);
    BOOST_TEST(foreign.status == 400u, foreign.body);
    BOOST_TEST(foreign.body.find("normalize") != std::string::npos, foreign.body);
    // A field neither body has: Bedrock's own refusal.
    auto const extra = fx.request(http::verb::post, "/model/embed/invoke",
                                  R"({"inputText":"alpha","foo":1})", key);
    BOOST_TEST(extra.status == 400u, extra.body);
    BOOST_TEST(extra.header("x-amzn-ErrorType").starts_with("ValidationException"));
    BOOST_TEST(extra.body.find("extraneous key [foo]") != std::string::npos, extra.body);
    // A chat model has no embeddings.
    auto const chat = fx.request(http::verb::post, "/model/chat/invoke", R"({"inputText":"a"})", key);
    BOOST_TEST(chat.status == 400u, chat.body);
}

BOOST_AUTO_TEST_SUITE_END()
