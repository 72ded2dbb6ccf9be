// SPDX-License-Identifier: BSL-1.0
// The OpenAI embeddings server side's request decoder over arbitrary bodies: never crashes; a
// refusal is a 400 with a message naming the field; and what it accepts survives the round trip
// through the client side: encoding the decoded request, decoding that and encoding again gives
// the same bytes (a fixed point: nothing the two sides agree on is lost or invented), but for
// the last bit of a double among the fields passed on as they are: Boost.JSON 1.81 reads a
// double's shortest form back to within an ulp, not always exactly (precise parsing came in
// 1.83). The first byte picks the path (a plain endpoint or Azure's deployment path, which names
// the model).
#include "wire/openai_embeddings.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

namespace {

using namespace llmux;

namespace json = boost::json;

/// `a` and `b` are the same JSON, doubles equal to within a few ulps (see above).
bool same(json::value const& a, json::value const& b) {
    if (a.is_double() && b.is_double()) {
        double const x = a.get_double(), y = b.get_double();
        return x == y || std::abs(x - y) <= 1e-14 * std::max(std::abs(x), std::abs(y));
    }
    if (a.kind() != b.kind()) return false;
    if (auto const* oa = a.if_object()) {
        auto const& ob = b.get_object();
        if (oa->size() != ob.size()) return false;
        auto ib = ob.begin();
        for (auto const& [k, v] : *oa) {
            if (k != ib->key() || !same(v, ib->value())) return false;
            ++ib;
        }
        return true;
    }
    if (auto const* aa = a.if_array()) {
        auto const& ab = b.get_array();
        if (aa->size() != ab.size()) return false;
        for (std::size_t i = 0; i < aa->size(); ++i)
            if (!same((*aa)[i], ab[i])) return false;
        return true;
    }
    return a == b;
}

/// The body the client side sends for what the server side decoded from `body`, or nothing.
std::optional<std::string> through(std::string_view body, bool azure) {
    detail::request_head head;
    head.method = "POST";
    head.path = azure ? "/openai/deployments/dep/embeddings" : "/v1/embeddings";
    if (azure) head.path_model = "dep";
    auto const in = detail::openai::decode_embedding_request(head, body);
    if (!in) {
        if (in.error().status != 400 || in.error().message.empty()) std::abort();
        return std::nullopt;
    }
    if (in->req.model.empty() || in->req.inputs.empty()) std::abort();
    for (auto const& s : in->req.inputs)
        if (s.empty()) std::abort();
    embedding_request req = in->req;
    req.extra = in->native;
    auto const sent = detail::openai::encode_embedding_request(req, req.model, in->encoding);
    if (!sent) std::abort();  // everything the server side accepts, the client side can send
    return sent->body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    if (size == 0) return 0;
    bool const azure = data[0] & 1;
    std::string_view const body(reinterpret_cast<char const*>(data + 1), size - 1);
    auto const once = through(body, azure);
    if (!once) return 0;
    auto const twice = through(*once, azure);
    if (!twice) std::abort();
    if (*twice != *once && !same(json::parse(*twice), json::parse(*once))) std::abort();
    return 0;
}
