// SPDX-License-Identifier: BSL-1.0
// OpenAI embeddings (PROVIDERS-2.md section 2.1), both directions. Sans-io: every function here
// works from bytes alone.
#include "wire/openai_embeddings.hpp"
#include "util/json_read.hpp"

#include "util/crypto.hpp"
#include "util/json_text.hpp"
#include "util/json_write.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/openai_chat.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

using namespace std::string_view_literals;

namespace llmux::detail::openai {

namespace {

namespace json = boost::json;
using server_result = boost::system::result<inbound_embedding, api_error>;

static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559,
              "embeddings travel as IEEE-754 float32");

// ---------------------------------------------------------------------------------------------
// base64 of float32 values. The byte order is fixed (little-endian, as the SDKs read it on
// every common host), whatever the host's own.

void put_le(unsigned char* p, float f) noexcept {
    auto const u = std::bit_cast<std::uint32_t>(f);
    p[0] = static_cast<unsigned char>(u);
    p[1] = static_cast<unsigned char>(u >> 8);
    p[2] = static_cast<unsigned char>(u >> 16);
    p[3] = static_cast<unsigned char>(u >> 24);
}

float get_le(unsigned char const* p) noexcept {
    std::uint32_t const u = std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 |
                            std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
    return std::bit_cast<float>(u);
}

// ---------------------------------------------------------------------------------------------
// Decoding answers (client side)

std::optional<std::size_t> to_index(json::value const& v) noexcept {
    auto const n = whole_number(v);
    if (!n || *n < 0) return std::nullopt;
    return static_cast<std::size_t>(*n);
}

// ---------------------------------------------------------------------------------------------
// Decoding requests (server side)

api_error token_arrays(std::string const& param) {
    api_error e = invalid(param,
                          "Token arrays in '" + param +
                              "' are not supported by this server: send the texts as strings.",
                          "unsupported");
    e.no_retry = true;
    return e;
}

/// Reads one entry of `input`: a non-empty string.
boost::system::result<std::string, api_error> input_text(json::value const& v,
                                                         std::string const& param) {
    if (auto const* s = v.if_string()) {
        if (s->empty())
            return invalid(param, "Invalid '" + param + "': it must not be an empty string.");
        return std::string(json_view(*s));
    }
    if (v.is_number() || v.is_array()) return token_arrays("input");
    return wrong_type(param, "a string", v);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void append_base64_floats(std::string& out, std::span<float const> v) {
    out.reserve(out.size() + (v.size() * 4 + 2) / 3 * 4);
    // Packed a chunk at a time: 192 floats are 768 bytes, a multiple of 3, so the chunks'
    // encodings join into the whole one's (padding only at the very end).
    constexpr std::size_t chunk = 192;
    unsigned char bytes[chunk * 4];
    for (std::size_t i = 0; i < v.size(); i += chunk) {
        std::size_t const n = std::min(chunk, v.size() - i);
        for (std::size_t k = 0; k < n; ++k) put_le(bytes + 4 * k, v[i + k]);
        append_base64(out, std::string_view(reinterpret_cast<char const*>(bytes), 4 * n));
    }
}

result<std::vector<float>> decode_base64_floats(std::string_view text, std::string_view where) {
    auto bytes = base64_decode(text);
    if (!bytes)
        return bad_field(where, "is not valid base64");
    if (bytes->size() % 4 != 0)
        return bad_field(where, "decodes to " + std::to_string(bytes->size()) +
                                    " bytes, not a whole number of float32 values (a multiple of 4)");
    std::vector<float> out(bytes->size() / 4);
    auto const* p = reinterpret_cast<unsigned char const*>(bytes->data());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = get_le(p + 4 * i);
    return out;
}

result<http_request> encode_embedding_request(embedding_request const& req,
                                              std::string_view model, vector_encoding enc,
                                              std::size_t first, std::size_t count) {
    auto const slice = embedding_inputs(req.inputs, first, count);
    if (!slice) return slice.error();
    auto const inputs = *slice;
    if (req.task != embedding_task::unspecified)
        return failure(error::unsupported,
                       "task: the OpenAI embeddings API has no task type (asked for '" +
                           std::string(to_string(req.task)) + "')");
    if (!req.title.empty())
        return failure(error::unsupported, "title: the OpenAI embeddings API has no title");
    if (req.dimensions && *req.dimensions == 0)
        return failure(error::invalid_request, "dimensions: must be at least 1");

    http_request out;
    out.target = "/embeddings";
    out.set_header("Content-Type", "application/json");
    std::string body;
    std::size_t bytes = 64 + model.size();
    for (auto const& s : inputs) bytes += s.size() + 4;
    body.reserve(bytes);
    body += "{\"model\":"sv;
    append_json_string(body, model);
    body += ",\"input\":["sv;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (i) body += ',';
        append_json_string(body, inputs[i]);
    }
    body += ']';
    if (req.dimensions) {
        body += ",\"dimensions\":"sv;
        append_number(body, std::uint64_t{*req.dimensions});
    }
    body += enc == vector_encoding::base64 ? ",\"encoding_format\":\"base64\""sv
                                           : ",\"encoding_format\":\"float\""sv;
    if (!req.user.empty()) {
        body += ",\"user\":"sv;
        append_json_string(body, req.user);
    }
    body += '}';
    merge_extra(body, req.extra);
    out.body = std::move(body);
    return out;
}

result<embedding_response> decode_embedding_response(response_head const& head,
                                                     std::string_view body,
                                                     std::size_t expected) {
    auto const fail = [&](failure f) {
        f.diag.http_status = head.status;
        f.diag.request_id = std::string(request_id_of(head));
        return f;
    };
    json::monotonic_resource mr;
    auto parsed = parse_body(body, mr);
    if (!parsed) return fail(parsed.error());
    json::value const v = std::move(*parsed);
    auto const* o = v.if_object();
    if (!o)
        return fail(internal(failure(error::protocol_error,
                                     "response body is not a JSON object: " + excerpt(body))));
    if (auto const* e = present(*o, "error")) {
        // An error inside a 2xx answer (some compatible servers): the provider's words.
        failure f(error::server_error, "the provider answered with an error");
        if (auto const* eo = e->if_object()) {
            if (auto m = get_string(*eo, "message"); !m.empty()) provider_message(f, std::string(m));
            f.diag.error_type = get_string(*eo, "type");
        } else if (auto const* s = e->if_string()) {
            provider_message(f, std::string(json_view(*s)));
        }
        return fail(std::move(f));
    }
    auto const* data_v = o->if_contains("data");
    auto const* data = data_v ? data_v->if_array() : nullptr;
    if (!data) return fail(bad_field("data", "is missing or not an array"));
    if (data->size() != expected)
        return fail(bad_field("data", "holds " + std::to_string(data->size()) +
                                          " embeddings for " + std::to_string(expected) +
                                          " inputs"));

    embedding_response r;
    r.model = get_string(*o, "model");
    r.request_id = request_id_of(head);
    r.vectors.resize(expected);
    std::vector<bool> seen(expected, false);
    for (std::size_t i = 0; i < data->size(); ++i) {
        std::string const at = "data[" + std::to_string(i) + "]";
        auto const* item = (*data)[i].if_object();
        if (!item) return fail(bad_field(at, "is not an object"));
        std::size_t index = i;  // some compatible servers leave `index` out: array order then
        if (auto const* iv = present(*item, "index")) {
            auto const n = to_index(*iv);
            if (!n) return fail(bad_field(at + ".index", "is not a non-negative integer"));
            index = *n;
        }
        if (index >= expected)
            return fail(bad_field(at + ".index", "is " + std::to_string(index) + ", past the " +
                                                     std::to_string(expected) + " inputs"));
        if (seen[index])
            return fail(bad_field(at + ".index",
                                  "repeats index " + std::to_string(index)));
        seen[index] = true;
        auto const* emb = item->if_contains("embedding");
        if (!emb) return fail(bad_field(at + ".embedding", "is missing"));
        auto& vec = r.vectors[index];
        if (auto const* s = emb->if_string()) {
            auto floats = decode_base64_floats(json_view(*s), at + ".embedding");
            if (!floats) return fail(floats.error());
            vec = std::move(*floats);
        } else if (auto const* a = emb->if_array()) {
            vec.resize(a->size());
            for (std::size_t k = 0; k < a->size(); ++k)
                if (!to_float((*a)[k], vec[k]))
                    return fail(bad_field(at + ".embedding[" + std::to_string(k) + "]",
                                          "is not a number"));
        } else {
            return fail(bad_field(at + ".embedding", "is neither an array of numbers nor base64"));
        }
    }
    r.usage.output_tokens = 0;
    if (auto const* u = get_object(*o, "usage")) {
        r.usage.input_tokens = get_count(*u, "prompt_tokens");
        r.usage.total_tokens = get_count(*u, "total_tokens");
        if (!r.usage.total_tokens) r.usage.total_tokens = r.usage.input_tokens;
        if (!r.usage.input_tokens) r.usage.input_tokens = r.usage.total_tokens;
    }
    return r;
}

failure decode_embedding_error(response_head const& head, std::string_view body) {
    return openai_chat_format().decode_error(head, body);
}

// ---------------------------------------------------------------------------------------------

server_result decode_embedding_request(request_head const& head, std::string_view body) {
    unsigned char first_block[4096];
    json::monotonic_resource arena(first_block, sizeof first_block);
    boost::system::error_code ec;
    json::value const doc = detail::parse_json(body, ec, &arena);
    if (ec)
        return invalid({}, "We could not parse the JSON body of your request. The OpenAI API "
                           "expects a JSON payload, but what was sent was not valid JSON. (" +
                               ec.message() + ")");
    auto object = body_object(doc);
    if (!object) return object.error();
    auto const* o = *object;
    inbound_embedding out;
    auto& req = out.req;
    auto model = request_model(*o, head.path_model);
    if (!model) return model.error();
    req.model = std::move(*model);

    auto const* input = present(*o, "input");
    if (!input)
        return invalid("input", "Missing required parameter: 'input'.",
                       "missing_required_parameter");
    if (input->is_string()) {
        auto t = input_text(*input, "input");
        if (!t) return t.error();
        req.inputs.push_back(std::move(*t));
    } else if (auto const* a = input->if_array()) {
        if (a->empty())
            return invalid("input", "Invalid 'input': empty array. Expected an array with "
                                    "minimum length 1, but got an empty array instead.");
        if (a->size() > embedding_batch_limit)
            return invalid("input", "Invalid 'input': array too long. Expected an array with "
                                    "maximum length " +
                                        std::to_string(embedding_batch_limit) +
                                        ", but got an array with length " +
                                        std::to_string(a->size()) + " instead.");
        req.inputs.reserve(a->size());
        for (std::size_t i = 0; i < a->size(); ++i) {
            auto t = input_text((*a)[i], "input[" + std::to_string(i) + "]");
            if (!t) return t.error();
            req.inputs.push_back(std::move(*t));
        }
    } else if (input->is_number()) {
        return token_arrays("input");
    } else {
        return wrong_type("input", "a string or an array of strings", *input);
    }

    if (auto const* d = present(*o, "dimensions")) {
        auto const n = whole_number(*d);
        if (!n) return wrong_type("dimensions", "an integer", *d);
        if (*n < 1 || *n > max_dimensions)
            return invalid("dimensions", "Invalid 'dimensions': expected a value from 1 to " +
                                             std::to_string(max_dimensions) + ", but got " +
                                             std::to_string(*n) + " instead.");
        req.dimensions = static_cast<std::uint32_t>(*n);
    }
    if (auto const* f = present(*o, "encoding_format")) {
        auto const* s = f->if_string();
        if (!s) return wrong_type("encoding_format", "a string", *f);
        if (*s == "float")
            out.form.encoding = vector_encoding::float32;
        else if (*s == "base64")
            out.form.encoding = vector_encoding::base64;
        else
            return invalid("encoding_format",
                           "Invalid value for 'encoding_format': expected 'float' or 'base64', "
                           "but got '" +
                               excerpt(json_view(*s), 40) + "' instead.");
    }
    if (auto const* u = present(*o, "user")) {
        if (!u->is_string()) return wrong_type("user", "a string", *u);
        req.user = std::string(json_view(u->get_string()));
    }
    for (auto const& [k, v] : *o) {
        std::string_view const key(k.data(), k.size());
        if (key == "model" || key == "input" || key == "dimensions" ||
            key == "encoding_format" || key == "user" || v.is_null())
            continue;
        if (auto where = non_finite_at(v, std::string(k.data(), k.size())))
            return invalid(*where, "The number at '" + *where +
                                       "' is out of range (larger than a double can hold).");
        out.native.emplace(key, owned(v));
    }
    return out;
}

bool encode_embedding_response(embedding_response const& r, std::string_view model,
                               vector_encoding enc, std::string& out) {
    std::size_t values = 0;
    for (auto const& v : r.vectors) values += v.size();
    out.reserve(out.size() + 128 + r.vectors.size() * 48 +
                values * (enc == vector_encoding::base64 ? 6 : 12));
    out += "{\"object\":\"list\",\"data\":["sv;
    for (std::size_t i = 0; i < r.vectors.size(); ++i) {
        if (i) out += ',';
        out += "{\"object\":\"embedding\",\"index\":"sv;
        append_number(out, std::uint64_t{i});
        out += ",\"embedding\":"sv;
        auto const& v = r.vectors[i];
        if (enc == vector_encoding::base64) {
            out += '"';
            append_base64_floats(out, v);
            out += '"';
        } else if (!append_floats(out, v)) {
            return false;
        }
        out += '}';
    }
    out += "],\"model\":"sv;
    append_json_string(out, model);
    // Unknown usage is left out rather than written as 0.
    if (r.usage.input_tokens) {
        out += ",\"usage\":{\"prompt_tokens\":"sv;
        append_number(out, *r.usage.input_tokens);
        out += ",\"total_tokens\":"sv;
        append_number(out, r.usage.total_tokens.value_or(*r.usage.input_tokens));
        out += '}';
    }
    out += '}';
    return true;
}

}  // namespace llmux::detail::openai
