// SPDX-License-Identifier: BSL-1.0
// Bedrock embeddings through InvokeModel (PROVIDERS-2.md section 2.4), both directions.
// Sans-io: every function here works from bytes alone.
#include "wire/bedrock_embeddings.hpp"

#include "util/crypto.hpp"
#include "util/json_read.hpp"
#include "util/json_text.hpp"
#include "util/text.hpp"
#include "wire/bedrock_converse.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <span>
#include <utility>

using namespace std::string_view_literals;

namespace llmux::detail::bedrock {

namespace {

namespace json = boost::json;
using server_result = boost::system::result<inbound_embedding, api_error>;

struct input_type_entry {
    embedding_task task;
    std::string_view name;
};

/// Cohere's `input_type` values and the tasks they mean (`image` is not a task: images are
/// refused by the server side).
constexpr std::array<input_type_entry, 4> input_types = {{
    {embedding_task::document, "search_document"},
    {embedding_task::query, "search_query"},
    {embedding_task::classification, "classification"},
    {embedding_task::clustering, "clustering"},
}};

std::optional<embedding_task> task_of_input_type(std::string_view name) noexcept {
    for (auto const& e : input_types)
        if (e.name == name) return e.task;
    return std::nullopt;
}

bool is_cohere(embedding_family f) noexcept {
    return f == embedding_family::cohere_v3 || f == embedding_family::cohere_v4;
}

/// The model id without its region prefix (`us.`, `eu.`, `apac.`, `global.`) and version.
std::string_view family_name(embedding_family f) noexcept {
    switch (f) {
    case embedding_family::titan: return "Titan Text Embeddings V2";
    case embedding_family::titan_v1: return "Titan Embeddings G1 - Text";
    case embedding_family::cohere_v3: return "Cohere Embed v3";
    case embedding_family::cohere_v4: return "Cohere Embed v4";
    }
    return "?";
}

/// The widths a model offers (empty: the model has one width and no field for it).
std::span<std::uint32_t const> widths(embedding_family f) noexcept {
    static constexpr std::uint32_t titan[] = {256, 512, 1024};
    static constexpr std::uint32_t cohere[] = {256, 512, 1024, 1536};
    switch (f) {
    case embedding_family::titan: return titan;
    case embedding_family::cohere_v4: return cohere;
    case embedding_family::titan_v1:
    case embedding_family::cohere_v3: break;
    }
    return {};
}

std::string list_of(std::span<std::uint32_t const> v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) s += i + 1 == v.size() ? " or "sv : ", "sv;
        s += std::to_string(v[i]);
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// Server side: Bedrock's words

/// A JSON value's type as Bedrock's schema errors name it.
std::string_view kind_name(json::value const& v) noexcept {
    switch (v.kind()) {
    case json::kind::object: return "JSONObject";
    case json::kind::array: return "JSONArray";
    case json::kind::string: return "String";
    case json::kind::bool_: return "Boolean";
    case json::kind::null: return "Null";
    case json::kind::int64:
    case json::kind::uint64: return "Integer";
    case json::kind::double_: return "BigDecimal";
    }
    return "?";
}

/// What Bedrock answers for a body its schema refuses (InvokeModel validates each model's
/// body against a JSON schema and says so in these words).
api_error malformed(std::string what, std::string param) {
    return validation("Malformed input request: #" + (param.empty() ? "" : "/" + param) + ": " +
                          what + ", please reformat your input and try again.",
                      std::move(param));
}

api_error not_float(std::string const& field) {
    api_error e = validation(field + ": this server returns float vectors only; ask for [\"float\"]",
                             field);
    e.code = "unsupported";
    return e;
}

/// Reads `embeddingTypes`/`embedding_types`: a list naming `float` only. True when present.
boost::system::result<bool, api_error> float_types(json::object const& o, std::string_view key) {
    using r = boost::system::result<bool, api_error>;
    auto const* v = present(o, key);
    if (!v) return r(boost::system::in_place_value, false);
    std::string const field(key);
    auto const* a = v->if_array();
    if (!a) return malformed("expected type: JSONArray, found: " + std::string(kind_name(*v)), field);
    if (a->empty()) return malformed("expected minimum item count: 1, found: 0", field);
    for (auto const& t : *a) {
        auto const* s = t.if_string();
        if (!s) return malformed("expected type: String, found: " + std::string(kind_name(t)), field);
        if (*s != "float") return not_float(field);
    }
    return r(boost::system::in_place_value, true);
}

/// A width at `field`: an integer from 1 to `max_dimensions`.
boost::system::result<std::uint32_t, api_error> width(json::value const& v, std::string const& field) {
    auto const n = whole_number(v);
    if (!n) return malformed("expected type: Integer, found: " + std::string(kind_name(v)), field);
    if (*n < 1 || *n > max_dimensions)
        return malformed(std::to_string(*n) + " is not a valid value (from 1 to " +
                             std::to_string(max_dimensions) + ")",
                         field);
    return boost::system::result<std::uint32_t, api_error>(boost::system::in_place_value,
                                                           static_cast<std::uint32_t>(*n));
}

/// A field of a body that neither Titan's nor Cohere's schema has: refused, as Bedrock does.
api_error extraneous(std::string_view key) {
    return malformed("extraneous key [" + excerpt(key, 80) + "] is not permitted", std::string(key));
}

/// Keeps `v` for a Bedrock upstream (`native`), or refuses a number JSON cannot pass on.
boost::system::result<void, api_error> keep(json::object& native, std::string_view key,
                                            json::value const& v) {
    if (auto where = non_finite_at(v, std::string(key)))
        return malformed("the number at " + *where + " is out of range", *where);
    native.emplace(key, owned(v));
    return {};
}

server_result decode_titan(json::object const& o) {
    inbound_embedding out;
    auto const* t = o.if_contains("inputText");
    auto const* s = t ? t->if_string() : nullptr;
    if (!s)
        return malformed(t ? "expected type: String, found: " + std::string(kind_name(*t))
                           : std::string("required key [inputText] not found"),
                         t ? "inputText" : "");
    if (s->empty())
        return malformed("expected minLength: 1, actual: 0", "inputText");
    out.req.inputs.emplace_back(json_view(*s));
    auto shape = embedding_shape::titan;
    for (auto const& [k, v] : o) {
        std::string_view const key(k.data(), k.size());
        if (key == "inputText" || v.is_null()) continue;
        if (key == "dimensions") {
            auto const d = width(v, "dimensions");
            if (!d) return d.error();
            out.req.dimensions = *d;
        } else if (key == "embeddingTypes") {
            auto const by_type = float_types(o, key);
            if (!by_type) return by_type.error();
            if (*by_type) shape = embedding_shape::titan_by_type;
        } else if (key == "normalize") {
            if (!v.is_bool()) return malformed("expected type: Boolean, found: " + std::string(kind_name(v)), "normalize");
            // The unified request asks for normalised vectors (the default): only `false`
            // needs a Bedrock upstream.
            if (!v.get_bool())
                if (auto r = keep(out.native, key, v); !r) return r.error();
        } else {
            return extraneous(key);
        }
    }
    out.form.shape = static_cast<std::uint8_t>(shape);
    return out;
}

server_result decode_cohere(json::object const& o) {
    inbound_embedding out;
    auto& req = out.req;
    auto const* tv = o.if_contains("texts");
    auto const* texts = tv ? tv->if_array() : nullptr;
    if (!texts) return malformed("expected type: JSONArray, found: " + std::string(kind_name(*tv)), "texts");
    if (texts->empty()) return malformed("expected minimum item count: 1, found: 0", "texts");
    if (texts->size() > cohere_batch_limit)
        return malformed("expected maximum item count: " + std::to_string(cohere_batch_limit) +
                             ", found: " + std::to_string(texts->size()),
                         "texts");
    req.inputs.reserve(texts->size());
    for (std::size_t i = 0; i < texts->size(); ++i) {
        std::string const at = "texts/" + std::to_string(i);
        auto const* s = (*texts)[i].if_string();
        if (!s) return malformed("expected type: String, found: " + std::string(kind_name((*texts)[i])), at);
        if (s->empty()) return malformed("expected minLength: 1, actual: 0", at);
        req.inputs.emplace_back(json_view(*s));
    }
    auto const* it = present(o, "input_type");
    if (!it) return malformed("required key [input_type] not found", "");
    auto const* its = it->if_string();
    if (!its) return malformed("expected type: String, found: " + std::string(kind_name(*it)), "input_type");
    auto const task = task_of_input_type(json_view(*its));
    if (!task) {
        if (*its == "image") {
            api_error e = validation("input_type: this server embeds texts only", "input_type");
            e.code = "unsupported";
            return e;
        }
        return malformed(excerpt(json_view(*its), 40) + " is not a valid enum value", "input_type");
    }
    req.task = *task;
    auto shape = embedding_shape::cohere_floats;
    for (auto const& [k, v] : o) {
        std::string_view const key(k.data(), k.size());
        if (key == "texts" || key == "input_type" || v.is_null()) continue;
        if (key == "embedding_types") {
            auto const by_type = float_types(o, key);
            if (!by_type) return by_type.error();
            if (*by_type) shape = embedding_shape::cohere_by_type;
        } else if (key == "output_dimension") {
            auto const d = width(v, "output_dimension");
            if (!d) return d.error();
            req.dimensions = *d;
        } else if (key == "images" || key == "inputs") {
            api_error e = validation(std::string(key) + ": this server embeds texts only; send "
                                                        "them in 'texts'",
                                     std::string(key));
            e.code = "unsupported";
            return e;
        } else if (key == "truncate" || key == "max_tokens") {
            // How an over-long text is cut: the unified request has no such field.
            if (auto r = keep(out.native, key, v); !r) return r.error();
        } else {
            return extraneous(key);
        }
    }
    out.form.shape = static_cast<std::uint8_t>(shape);
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::optional<embedding_family> embedding_family_of(std::string_view model) noexcept {
    auto const has = [&](std::string_view s) { return model.find(s) != std::string_view::npos; };
    if (has("amazon.titan-embed-text-v2")) return embedding_family::titan;
    if (has("amazon.titan-embed-text-v1") || has("amazon.titan-embed-g1-text"))
        return embedding_family::titan_v1;
    if (has("cohere.embed-v4")) return embedding_family::cohere_v4;
    if (has("cohere.embed-english-v3") || has("cohere.embed-multilingual-v3"))
        return embedding_family::cohere_v3;
    return std::nullopt;
}

std::size_t embedding_batch_limit(embedding_family f) noexcept {
    return is_cohere(f) ? cohere_batch_limit : 1;
}

std::uint64_t embedding_max_input_tokens(embedding_family f) noexcept {
    switch (f) {
    case embedding_family::titan:
    case embedding_family::titan_v1: return 8192;
    case embedding_family::cohere_v3: return 512;
    case embedding_family::cohere_v4: return 128000;
    }
    return 0;
}

std::string_view cohere_input_type(embedding_task t) noexcept {
    if (t == embedding_task::unspecified) return "search_document";
    for (auto const& e : input_types)
        if (e.task == t) return e.name;
    return {};
}

result<http_request> encode_embedding_request(embedding_request const& req,
                                              std::string_view model, std::size_t first,
                                              std::size_t count) {
    auto const family = embedding_family_of(model);
    if (!family)
        return failure(error::unsupported,
                       "model '" + excerpt(model, 120) +
                           "': llmux knows the InvokeModel bodies of Titan Text Embeddings "
                           "(amazon.titan-embed-text-*) and Cohere Embed (cohere.embed-*) only; "
                           "an inference profile ARN does not say which model it serves");
    auto const f = *family;
    auto const slice = embedding_inputs(req.inputs, first, count);
    if (!slice) return slice.error();
    auto const inputs = *slice;
    auto const name = family_name(f);
    if (inputs.size() > embedding_batch_limit(f))
        return failure(error::invalid_request,
                       "inputs: " + std::string(name) + " takes " +
                           std::to_string(embedding_batch_limit(f)) + " text(s) per call, got " +
                           std::to_string(inputs.size()));
    if (!req.user.empty())
        return failure(error::unsupported,
                       "user: Bedrock's embedding models have no end-user id field; leave it empty");
    if (!req.title.empty())
        return failure(error::unsupported,
                       "title: " + std::string(name) + " has no title field; leave it empty");
    if (req.dimensions) {
        auto const w = widths(f);
        if (w.empty())
            return failure(error::unsupported,
                           "dimensions: " + std::string(name) + " has one width and no field to "
                                                                "choose another");
        if (std::find(w.begin(), w.end(), *req.dimensions) == w.end())
            return failure(error::invalid_request,
                           "dimensions: " + std::string(name) + " offers " + list_of(w) +
                               ", not " + std::to_string(*req.dimensions));
    }

    http_request out;
    // The model id (or inference profile) is one path segment: `:` and `/` encoded.
    out.target = "/model/" + uri_encode(model, true) + "/invoke";
    out.set_header("Content-Type", "application/json");
    out.set_header("Accept", "application/json");
    std::string body;
    std::size_t bytes = 96;
    for (auto const& s : inputs) bytes += s.size() + 8;
    body.reserve(bytes);
    if (is_cohere(f)) {
        auto const type = cohere_input_type(req.task);
        if (type.empty())
            return failure(error::unsupported,
                           "task: Cohere Embed's input_type has no '" +
                               std::string(to_string(req.task)) +
                               "' (it has query, document, classification and clustering)");
        body += "{\"texts\":["sv;
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            if (i) body += ',';
            append_json_string(body, inputs[i]);
        }
        body += "],\"input_type\":"sv;
        append_json_string(body, type);
        // Named, so that every Cohere model answers in one shape (`embeddings.float`).
        body += ",\"embedding_types\":[\"float\"]"sv;
        if (req.dimensions) {
            body += ",\"output_dimension\":"sv;
            append_number(body, std::uint64_t{*req.dimensions});
        }
        body += '}';
    } else {
        if (req.task != embedding_task::unspecified)
            return failure(error::unsupported,
                           "task: " + std::string(name) + " has no task field; leave it unspecified");
        body += "{\"inputText\":"sv;
        append_json_string(body, inputs[0]);
        if (f == embedding_family::titan) {
            if (req.dimensions) {
                body += ",\"dimensions\":"sv;
                append_number(body, std::uint64_t{*req.dimensions});
            }
            body += ",\"normalize\":true"sv;
        }
        body += '}';
    }
    merge_extra(body, req.extra);
    out.body = std::move(body);
    return out;
}

result<embedding_response> decode_embedding_response(response_head const& head,
                                                     std::string_view body, std::size_t expected,
                                                     std::string_view model) {
    auto const fail = [&](failure f) {
        f.diag.http_status = head.status;
        f.diag.request_id = std::string(head.header(request_id_header));
        return f;
    };
    json::monotonic_resource mr;
    auto parsed = parse_body(body, mr);
    if (!parsed) return fail(parsed.error());
    auto const* o = parsed->if_object();
    if (!o)
        return fail(internal(failure(error::protocol_error,
                                     "response body is not a JSON object: " + excerpt(body))));
    embedding_response r;
    r.model = std::string(model);
    r.request_id = head.header(request_id_header);
    r.usage.output_tokens = 0;
    // Titan: one vector, as `embedding` or (by type only) `embeddingsByType.float`.
    json::value const* titan = o->if_contains("embedding");
    std::string_view titan_at = "embedding";
    if (!titan)
        if (auto const* bt = get_object(*o, "embeddingsByType")) {
            titan = bt->if_contains("float");
            titan_at = "embeddingsByType.float";
            if (!titan) return fail(bad_field(titan_at, "is missing"));
        }
    if (titan) {
        if (expected != 1)
            return fail(bad_field(titan_at, "holds one vector for " + std::to_string(expected) +
                                                " inputs"));
        r.vectors.resize(1);
        if (auto ok = read_floats(*titan, std::string(titan_at), r.vectors[0]); !ok)
            return fail(ok.error());
        r.usage.input_tokens = get_count(*o, "inputTextTokenCount");
    } else {
        // Cohere: a list of vectors, or vectors by type.
        auto const* ev = o->if_contains("embeddings");
        if (!ev) return fail(bad_field("embeddings", "is missing"));
        std::string at = "embeddings";
        if (auto const* by_type = ev->if_object()) {
            ev = by_type->if_contains("float");
            at = "embeddings.float";
            if (!ev) return fail(bad_field(at, "is missing (only float vectors are read)"));
        }
        auto const* list = ev->if_array();
        if (!list) return fail(bad_field(at, "is not a list of vectors"));
        if (list->size() != expected)
            return fail(bad_field(at, "holds " + std::to_string(list->size()) +
                                          " vectors for " + std::to_string(expected) + " inputs"));
        r.vectors.resize(expected);
        for (std::size_t i = 0; i < expected; ++i)
            if (auto ok = read_floats((*list)[i], at + "[" + std::to_string(i) + "]", r.vectors[i]);
                !ok)
                return fail(ok.error());
    }
    if (!r.usage.input_tokens) {
        auto const h = trim(head.header(input_tokens_header));
        std::uint64_t n = 0;
        auto const [end, ec] = std::from_chars(h.data(), h.data() + h.size(), n);
        if (!h.empty() && ec == std::errc{} && end == h.data() + h.size()) r.usage.input_tokens = n;
    }
    if (r.usage.input_tokens) r.usage.total_tokens = r.usage.input_tokens;
    return r;
}

failure decode_embedding_error(response_head const& head, std::string_view body) {
    return bedrock_converse_format().decode_error(head, body);
}

// ---------------------------------------------------------------------------------------------

server_result decode_embedding_request(request_head const& head, std::string_view body) {
    unsigned char first_block[4096];
    json::monotonic_resource arena(first_block, sizeof first_block);
    boost::system::error_code ec;
    json::value const doc = parse_json(body, ec, &arena);
    if (ec) return malformed("the body is not valid JSON (" + ec.message() + ")", "");
    auto const* o = doc.if_object();
    if (!o) return malformed("expected type: JSONObject, found: " + std::string(kind_name(doc)), "");
    auto r = o->contains("texts") ? decode_cohere(*o) : decode_titan(*o);
    if (!r) return r;
    r->req.model = head.path_model;
    if (r->req.model.empty()) return validation("The path names no model.", "modelId");
    return r;
}

bool encode_embedding_response(embedding_response const& r, embedding_meta const& m,
                               embedding_form form, std::string& out) {
    std::size_t values = 0;
    for (auto const& v : r.vectors) values += v.size();
    out.reserve(out.size() + 128 + r.vectors.size() * 16 + values * 12);
    auto const shape = static_cast<embedding_shape>(form.shape);
    switch (shape) {
    case embedding_shape::titan:
    case embedding_shape::titan_by_type: {
        if (r.vectors.size() != 1) return false;
        out += "{\"embedding\":"sv;
        if (!append_floats(out, r.vectors[0])) return false;
        if (r.usage.input_tokens) {
            out += ",\"inputTextTokenCount\":"sv;
            append_number(out, std::uint64_t{*r.usage.input_tokens});
        }
        if (shape == embedding_shape::titan_by_type) {
            out += ",\"embeddingsByType\":{\"float\":"sv;
            if (!append_floats(out, r.vectors[0])) return false;
            out += '}';
        }
        out += '}';
        return true;
    }
    case embedding_shape::cohere_floats:
    case embedding_shape::cohere_by_type: {
        out += "{\"id\":"sv;
        append_json_string(out, m.id);
        out += ",\"embeddings\":"sv;
        bool const by_type = shape == embedding_shape::cohere_by_type;
        out += by_type ? "{\"float\":["sv : "["sv;
        for (std::size_t i = 0; i < r.vectors.size(); ++i) {
            if (i) out += ',';
            if (!append_floats(out, r.vectors[i])) return false;
        }
        out += by_type ? "]}"sv : "]"sv;
        out += ",\"texts\":["sv;
        for (std::size_t i = 0; i < m.inputs.size(); ++i) {
            if (i) out += ',';
            append_json_string(out, m.inputs[i]);
        }
        out += "],\"response_type\":"sv;
        out += by_type ? "\"embeddings_by_type\"}"sv : "\"embeddings_floats\"}"sv;
        return true;
    }
    }
    return false;
}

}  // namespace llmux::detail::bedrock
