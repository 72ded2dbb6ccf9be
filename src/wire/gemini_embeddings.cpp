// SPDX-License-Identifier: BSL-1.0
// Gemini and Vertex AI embeddings (PROVIDERS-2.md sections 2.2, 2.3), both directions. Sans-io:
// every function here works from bytes alone.
#include "wire/gemini_embeddings.hpp"

#include "util/crypto.hpp"
#include "util/json_read.hpp"
#include "util/json_text.hpp"
#include "util/json_write.hpp"
#include "wire/common.hpp"
#include "wire/formats.hpp"
#include "wire/gemini.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <span>
#include <utility>

using namespace std::string_view_literals;

namespace llmux::detail::gemini {

namespace {

namespace json = boost::json;
using server_result = boost::system::result<inbound_embedding, api_error>;

struct task_entry {
    embedding_task task;
    std::string_view name;
};

constexpr std::array<task_entry, 8> task_names = {{
    {embedding_task::query, "RETRIEVAL_QUERY"},
    {embedding_task::document, "RETRIEVAL_DOCUMENT"},
    {embedding_task::similarity, "SEMANTIC_SIMILARITY"},
    {embedding_task::classification, "CLASSIFICATION"},
    {embedding_task::clustering, "CLUSTERING"},
    {embedding_task::question_answering, "QUESTION_ANSWERING"},
    {embedding_task::fact_verification, "FACT_VERIFICATION"},
    {embedding_task::code_query, "CODE_RETRIEVAL_QUERY"},
}};

/// A member under its camelCase or snake_case name (Google's JSON parser takes both), present
/// and not null, or null.
json::value const* member(json::object const& o, std::string_view camel,
                          std::string_view snake = {}) noexcept {
    if (auto const* v = present(o, camel)) return v;
    return snake.empty() ? nullptr : present(o, snake);
}

/// Reads `values` (an array of numbers) at `at` into `out`.
result<void> read_values(json::object const& o, std::string const& at, std::vector<float>& out) {
    auto const* v = o.if_contains("values");
    if (!v || !v->is_array()) return bad_field(at + ".values", "is missing or not an array of numbers");
    return read_floats(*v, at + ".values", out);
}

// ---------------------------------------------------------------------------------------------
// Decoding requests (server side)

/// What one request of a batch (or the single request, or one Vertex instance) asked.
struct asked {
    std::optional<embedding_task> task;
    std::string title;
    std::optional<std::uint32_t> dimensions;
};

/// The one text of a `content` (`{"parts":[{"text":...}]}`) at `at`.
boost::system::result<std::string, api_error> content_text(json::value const& v,
                                                           std::string const& at) {
    auto const* c = v.if_object();
    if (!c) return wrong_type(at, "a Content object", v);
    auto const* parts_v = present(*c, "parts");
    auto const* parts = parts_v ? parts_v->if_array() : nullptr;
    if (!parts || parts->empty())
        return invalid(at + ".parts", "* " + at + ".parts: contents must not be empty");
    if (parts->size() > 1) {
        api_error e = invalid(at + ".parts", "* " + at +
                                                 ".parts: this server embeds one text part per "
                                                 "content; send each text as its own request");
        e.code = "unsupported";
        return e;
    }
    auto const* part = (*parts)[0].if_object();
    if (!part) return wrong_type(at + ".parts[0]", "a Part object", (*parts)[0]);
    auto const* text = present(*part, "text");
    if (!text) {
        api_error e = invalid(at + ".parts[0]", "* " + at +
                                                    ".parts[0]: only text parts can be embedded "
                                                    "by this server");
        e.code = "unsupported";
        return e;
    }
    auto const* s = text->if_string();
    if (!s) return wrong_type(at + ".parts[0].text", "a string", *text);
    if (s->empty())
        return invalid(at + ".parts[0].text", "* " + at + ".parts[0].text: text must not be empty");
    return std::string(json_view(*s));
}

/// Reads `taskType`/`task_type`, `title` and `outputDimensionality` of `o` (at `at`).
boost::system::result<asked, api_error> read_asked(json::object const& o, std::string const& at,
                                                   bool dimensions_here) {
    asked a;
    if (auto const* t = member(o, "taskType", "task_type")) {
        auto const* s = t->if_string();
        if (!s) return wrong_type(at + "taskType", "a string", *t);
        if (*s != "TASK_TYPE_UNSPECIFIED") {
            a.task = task_from_name(json_view(*s));
            if (!a.task)
                return invalid(at + "taskType", "Invalid JSON payload received. Invalid value at '" +
                                                    at + "taskType' (type.googleapis.com/"
                                                    "google.ai.generativelanguage.v1beta.TaskType), \"" +
                                                    excerpt(json_view(*s), 40) + "\"");
        }
    }
    if (auto const* t = present(o, "title")) {
        auto const* s = t->if_string();
        if (!s) return wrong_type(at + "title", "a string", *t);
        a.title = std::string(json_view(*s));
    }
    if (dimensions_here)
        if (auto const* d = member(o, "outputDimensionality", "output_dimensionality")) {
            auto const n = whole_number(*d);
            if (!n) return wrong_type(at + "outputDimensionality", "an integer", *d);
            if (*n < 1 || *n > max_dimensions)
                return invalid(at + "outputDimensionality",
                               "* " + at + "outputDimensionality: must be from 1 to " +
                                   std::to_string(max_dimensions) + ", got " + std::to_string(*n));
            a.dimensions = static_cast<std::uint32_t>(*n);
        }
    return a;
}

/// Sets what `a` asked on `req`, or, after the first request of a batch, checks that it asks
/// the same (the unified request has one task, title and width for all its inputs).
boost::system::result<void, api_error> agree(embedding_request& req, asked const& a, bool first,
                                             std::string const& at) {
    auto const task = a.task.value_or(embedding_task::unspecified);
    if (first) {
        req.task = task;
        req.title = a.title;
        if (a.dimensions) req.dimensions = a.dimensions;
        return {};
    }
    auto const differs = [&](char const* field) {
        api_error e = invalid(at + field, "* " + at + field +
                                              ": every request of a batch must ask the same " +
                                              field + " in this server");
        e.code = "unsupported";
        return e;
    };
    if (task != req.task) return differs("taskType");
    if (a.title != req.title) return differs("title");
    if (a.dimensions != req.dimensions) return differs("outputDimensionality");
    return {};
}

/// Fields of one request of a batch, one Vertex instance and `embedContentConfig`: the options
/// every shape has, and what else each takes.
constexpr std::string_view option_fields[] = {"taskType", "task_type", "title",
                                              "outputDimensionality", "output_dimensionality"};
constexpr std::string_view request_fields[] = {"content", "model"};
constexpr std::string_view instance_fields[] = {"content"};

/** Refuses a field of `one` (at `at`) that is neither an option nor in `also`: a nested object
    cannot be kept for one input of many, nor sent on by the client side. 400 naming it.
    (Vertex instances take `task_type` and `title` but not the width, which is a parameter.)
*/
boost::system::result<void, api_error> only_known(json::object const& one, std::string const& at,
                                                  std::span<std::string_view const> also,
                                                  bool width = true,
                                                  std::string_view what = "field per input") {
    for (auto const& [k, v] : one) {
        std::string_view const key(k.data(), k.size());
        auto const in = [&](auto const& list) {
            return std::find(std::begin(list), std::end(list), key) != std::end(list);
        };
        bool const option = in(option_fields) && (width || !key.starts_with("output"));
        if (v.is_null() || option || in(also)) continue;
        api_error e = invalid(at + std::string(key),
                              "* " + at + std::string(key) +
                                  ": this server does not take this " + std::string(what));
        e.code = "unsupported";
        return e;
    }
    return {};
}

/// The fields of the body that are read; others go to `native`.
bool read_field(std::string_view shape_key, std::string_view key) noexcept {
    if (key == "model") return true;
    if (shape_key == "content")
        return key == "content" || key == "taskType" || key == "task_type" || key == "title" ||
               key == "outputDimensionality" || key == "output_dimensionality" ||
               key == "embedContentConfig" || key == "embed_content_config";
    return key == shape_key || (shape_key == "instances" && key == "parameters");
}

/// A field one of the three shapes reads: in another shape's body it is refused, not passed
/// on (the client side writes it for that shape, so passing it on would overwrite what it
/// wrote).
bool shape_field(std::string_view key) noexcept {
    for (std::string_view k : {"content", "taskType", "task_type", "title", "outputDimensionality",
                               "output_dimensionality", "embedContentConfig",
                               "embed_content_config", "requests", "instances", "parameters"})
        if (key == k) return true;
    return false;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::size_t vertex_batch_limit(std::string_view model) noexcept {
    // gemini-embedding-001 on Vertex takes one instance per request.
    return model.starts_with("gemini-embedding") ? 1 : vertex_embedding_batch_limit;
}

bool vertex_embed_content(std::string_view model) noexcept {
    return model.starts_with("gemini-embedding-2");
}

std::string_view task_name(embedding_task t) noexcept {
    for (auto const& e : task_names)
        if (e.task == t) return e.name;
    return {};
}

std::optional<embedding_task> task_from_name(std::string_view name) noexcept {
    for (auto const& e : task_names)
        if (e.name == name) return e.task;
    return std::nullopt;
}

result<http_request> encode_embedding_request(embedding_request const& req,
                                              std::string_view model, bool vertex,
                                              std::size_t first, std::size_t count) {
    auto const slice = embedding_inputs(req.inputs, first, count);
    if (!slice) return slice.error();
    auto const inputs = *slice;
    if (!req.user.empty())
        return failure(error::unsupported,
                       "user: Google's embedding APIs have no end-user id field; leave it empty");
    if (!req.title.empty() && req.task != embedding_task::document)
        return failure(error::invalid_request,
                       "title: Google takes a title only with the 'document' task (asked for '" +
                           std::string(to_string(req.task)) + "')");
    if (req.dimensions && *req.dimensions == 0)
        return failure(error::invalid_request, "dimensions: must be at least 1");

    bool const single = vertex && vertex_embed_content(model);
    if (single && inputs.size() != 1)
        return failure(error::invalid_request,
                       "inputs: Vertex AI's embedContent takes one text a call, got " +
                           std::to_string(inputs.size()));
    http_request out;
    out.target = vertex ? "/publishers/google/models/" : "/models/";
    out.target += uri_encode(model, true);
    out.target += single ? ":embedContent" : vertex ? ":predict" : ":batchEmbedContents";
    out.set_header("Content-Type", "application/json");
    auto const task = task_name(req.task);
    std::string body;
    std::size_t bytes = 64;
    for (auto const& s : inputs) bytes += s.size() + 64 + (vertex ? 0 : model.size());
    body.reserve(bytes);
    if (single) {
        // gemini-embedding-2 on Vertex AI: one content, its options in embedContentConfig.
        body += "{\"content\":{\"parts\":[{\"text\":"sv;
        append_json_string(body, inputs[0]);
        body += "}]}"sv;
        if (!task.empty() || !req.title.empty() || req.dimensions) {
            body += ",\"embedContentConfig\":{"sv;
            char const* sep = "";
            if (!task.empty()) {
                body += "\"taskType\":"sv;
                append_json_string(body, task);
                sep = ",";
            }
            if (!req.title.empty()) {
                body += sep;
                body += "\"title\":"sv;
                append_json_string(body, req.title);
                sep = ",";
            }
            if (req.dimensions) {
                body += sep;
                body += "\"outputDimensionality\":"sv;
                append_number(body, std::uint64_t{*req.dimensions});
            }
            body += '}';
        }
        body += '}';
    } else if (vertex) {
        body += "{\"instances\":["sv;
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            if (i) body += ',';
            body += "{\"content\":"sv;
            append_json_string(body, inputs[i]);
            if (!task.empty()) {
                body += ",\"task_type\":"sv;
                append_json_string(body, task);
            }
            if (!req.title.empty()) {
                body += ",\"title\":"sv;
                append_json_string(body, req.title);
            }
            body += '}';
        }
        body += ']';
        if (req.dimensions) {
            body += ",\"parameters\":{\"outputDimensionality\":"sv;
            append_number(body, std::uint64_t{*req.dimensions});
            body += '}';
        }
        body += '}';
    } else {
        // Each request of a batch names the model again, with the `models/` prefix.
        std::string const name = "models/" + std::string(model);
        body += "{\"requests\":["sv;
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            if (i) body += ',';
            body += "{\"model\":"sv;
            append_json_string(body, name);
            body += ",\"content\":{\"parts\":[{\"text\":"sv;
            append_json_string(body, inputs[i]);
            body += "}]}"sv;
            if (!task.empty()) {
                body += ",\"taskType\":"sv;
                append_json_string(body, task);
            }
            if (!req.title.empty()) {
                body += ",\"title\":"sv;
                append_json_string(body, req.title);
            }
            if (req.dimensions) {
                body += ",\"outputDimensionality\":"sv;
                append_number(body, std::uint64_t{*req.dimensions});
            }
            body += '}';
        }
        body += "]}"sv;
    }
    merge_extra(body, req.extra);
    out.body = std::move(body);
    return out;
}

result<embedding_response> decode_embedding_response(response_head const& head,
                                                     std::string_view body, std::size_t expected,
                                                     bool vertex) {
    auto const fail = [&](failure f) {
        f.diag.http_status = head.status;
        f.diag.request_id = std::string(head.header("x-request-id"));
        return f;
    };
    json::monotonic_resource mr;
    auto parsed = parse_body(body, mr);
    if (!parsed) return fail(parsed.error());
    auto const* o = parsed->if_object();
    if (!o)
        return fail(internal(failure(error::protocol_error,
                                     "response body is not a JSON object: " + excerpt(body))));
    // One content's answer (Vertex AI's embedContent, which the client sends only there):
    // `embedding.values`, tokens in `usageMetadata`.
    if (auto const* one = vertex ? get_object(*o, "embedding") : nullptr) {
        if (expected != 1)
            return fail(bad_field("embedding", "holds one vector for " + std::to_string(expected) +
                                                   " inputs"));
        embedding_response r;
        r.request_id = head.header("x-request-id");
        r.vectors.resize(1);
        r.usage.output_tokens = 0;
        if (auto ok = read_values(*one, "embedding", r.vectors[0]); !ok) return fail(ok.error());
        if (auto const* u = get_object(*o, "usageMetadata"))
            r.usage.input_tokens = get_count(*u, "promptTokenCount");
        if (r.usage.input_tokens) r.usage.total_tokens = r.usage.input_tokens;
        return r;
    }
    char const* const list_name = vertex ? "predictions" : "embeddings";
    auto const* list_v = o->if_contains(list_name);
    auto const* list = list_v ? list_v->if_array() : nullptr;
    if (!list) return fail(bad_field(list_name, "is missing or not an array"));
    if (list->size() != expected)
        return fail(bad_field(list_name, "holds " + std::to_string(list->size()) +
                                             " embeddings for " + std::to_string(expected) +
                                             " inputs"));
    embedding_response r;
    r.request_id = head.header("x-request-id");
    r.vectors.resize(expected);
    r.usage.output_tokens = 0;
    std::uint64_t tokens = 0;
    bool counted = vertex;  // Vertex counts each input's tokens; the Gemini API does not
    for (std::size_t i = 0; i < expected; ++i) {
        std::string at = std::string(list_name) + "[" + std::to_string(i) + "]";
        auto const* item = (*list)[i].if_object();
        if (!item) return fail(bad_field(at, "is not an object"));
        if (vertex) {
            auto const* e = get_object(*item, "embeddings");
            if (!e) return fail(bad_field(at + ".embeddings", "is missing or not an object"));
            at += ".embeddings"sv;
            item = e;
            auto const* stats = get_object(*e, "statistics");
            token_count const n = stats ? get_count(*stats, "token_count") : token_count{};
            if (n)
                tokens += *n;
            else
                counted = false;
        }
        if (auto r2 = read_values(*item, at, r.vectors[i]); !r2) return fail(r2.error());
    }
    if (counted) r.usage.input_tokens = tokens;
    if (auto const* u = get_object(*o, "usageMetadata"))
        if (auto const n = get_count(*u, "promptTokenCount")) r.usage.input_tokens = *n;
    if (r.usage.input_tokens) r.usage.total_tokens = r.usage.input_tokens;
    return r;
}

failure decode_embedding_error(response_head const& head, std::string_view body) {
    return gemini_format().decode_error(head, body);
}

// ---------------------------------------------------------------------------------------------

server_result decode_embedding_request(request_head const& head, std::string_view body) {
    auto const path = head.path;
    embedding_shape shape = embedding_shape::single;
    if (path.ends_with(":batchEmbedContents"))
        shape = embedding_shape::batch;
    else if (path.ends_with(":predict"))
        shape = embedding_shape::predict;

    unsigned char first_block[4096];
    json::monotonic_resource arena(first_block, sizeof first_block);
    boost::system::error_code ec;
    json::value const doc = parse_json(body, ec, &arena);
    if (ec)
        return invalid({}, "Invalid JSON payload received. " + ec.message() + ".");
    auto const* o = doc.if_object();
    if (!o) return wrong_type("", "a JSON object", doc);

    inbound_embedding out;
    out.form.shape = static_cast<std::uint8_t>(shape);
    auto& req = out.req;
    req.model = head.path_model;
    if (req.model.empty()) return invalid("model", "* model: the path names no model");
    std::string const full_name = "models/" + req.model;

    std::string_view shape_key;
    switch (shape) {
    case embedding_shape::single: {
        shape_key = "content";
        auto const* c = present(*o, "content");
        if (!c) return invalid("content", "* content: required field is missing");
        auto text = content_text(*c, "content");
        if (!text) return text.error();
        req.inputs.push_back(std::move(*text));
        // Vertex AI's embedContent (gemini-embedding-2) puts the options in embedContentConfig.
        if (auto const* cfg = member(*o, "embedContentConfig", "embed_content_config")) {
            auto const* co = cfg->if_object();
            if (!co) return wrong_type("embedContentConfig", "an object", *cfg);
            auto a = read_asked(*co, "embedContentConfig.", true);
            if (!a) return a.error();
            if (auto r = agree(req, *a, true, ""); !r) return r.error();
            // Its other options (autoTruncate, ...) have no place in the requests the client
            // side sends (batchEmbedContents, predict): refused by name, not dropped.
            if (auto r = only_known(*co, "embedContentConfig.", {}, true, "option"); !r) return r.error();
            break;
        }
        auto a = read_asked(*o, "", true);
        if (!a) return a.error();
        if (auto r = agree(req, *a, true, ""); !r) return r.error();
        break;
    }
    case embedding_shape::batch: {
        shape_key = "requests";
        auto const* rv = present(*o, "requests");
        if (!rv) return invalid("requests", "* requests: required field is missing");
        auto const* list = rv->if_array();
        if (!list) return wrong_type("requests", "a list of EmbedContentRequest", *rv);
        if (list->empty()) return invalid("requests", "* requests: must not be empty");
        if (list->size() > embedding_batch_limit)
            return invalid("requests", "* BatchEmbedContentsRequest.requests: at most " +
                                           std::to_string(embedding_batch_limit) +
                                           " requests can be in one batch");
        req.inputs.reserve(list->size());
        for (std::size_t i = 0; i < list->size(); ++i) {
            std::string const at = "requests[" + std::to_string(i) + "]";
            auto const* one = (*list)[i].if_object();
            if (!one) return wrong_type(at, "an EmbedContentRequest", (*list)[i]);
            if (auto const* m = present(*one, "model")) {
                auto const* s = m->if_string();
                if (!s) return wrong_type(at + ".model", "a string", *m);
                auto const name = json_view(*s);
                if (name != full_name && name != req.model)
                    return invalid(at + ".model",
                                   "* BatchEmbedContentsRequest.model: " + at +
                                       ".model (" + excerpt(name, 80) +
                                       ") must be the model of the path (" + full_name + ")");
            }
            if (auto r = only_known(*one, at + ".", request_fields); !r) return r.error();
            auto const* c = present(*one, "content");
            if (!c) return invalid(at + ".content", "* " + at + ".content: required field is missing");
            auto text = content_text(*c, at + ".content");
            if (!text) return text.error();
            req.inputs.push_back(std::move(*text));
            auto a = read_asked(*one, at + ".", true);
            if (!a) return a.error();
            if (auto r = agree(req, *a, i == 0, at + "."); !r) return r.error();
        }
        break;
    }
    case embedding_shape::predict: {
        shape_key = "instances";
        auto const* iv = present(*o, "instances");
        if (!iv) return invalid("instances", "instances: required field is missing");
        auto const* list = iv->if_array();
        if (!list) return wrong_type("instances", "a list", *iv);
        if (list->empty()) return invalid("instances", "instances: must not be empty");
        if (list->size() > vertex_embedding_batch_limit)
            return invalid("instances", "instances: at most " +
                                            std::to_string(vertex_embedding_batch_limit) +
                                            " instances per prediction request, got " +
                                            std::to_string(list->size()));
        for (std::size_t i = 0; i < list->size(); ++i) {
            std::string const at = "instances[" + std::to_string(i) + "]";
            auto const* one = (*list)[i].if_object();
            if (!one) return wrong_type(at, "an object", (*list)[i]);
            if (auto r = only_known(*one, at + ".", instance_fields, false); !r) return r.error();
            auto const* c = present(*one, "content");
            auto const* s = c ? c->if_string() : nullptr;
            if (!s) return c ? wrong_type(at + ".content", "a string", *c)
                             : invalid(at + ".content", at + ".content: required field is missing");
            if (s->empty())
                return invalid(at + ".content", at + ".content: text must not be empty");
            req.inputs.emplace_back(json_view(*s));
            auto a = read_asked(*one, at + ".", false);
            if (!a) return a.error();
            if (auto r = agree(req, *a, i == 0, at + "."); !r) return r.error();
        }
        if (auto const* p = present(*o, "parameters")) {
            auto const* po = p->if_object();
            if (!po) return wrong_type("parameters", "an object", *p);
            auto a = read_asked(*po, "parameters.", true);
            if (!a) return a.error();
            req.dimensions = a->dimensions;
            // autoTruncate and the like: kept for a Vertex upstream.
            json::object rest;
            for (auto const& [k, v] : *po) {
                if (k == "outputDimensionality" || k == "output_dimensionality" || v.is_null())
                    continue;
                std::string const at = "parameters." + std::string(k.data(), k.size());
                if (auto where = non_finite_at(v, at))
                    return invalid(*where, "Invalid JSON payload received. The number at '" +
                                               *where + "' is out of range.");
                rest.emplace(k, owned(v));
            }
            if (!rest.empty()) out.native.emplace("parameters", std::move(rest));
        }
        break;
    }
    }
    for (auto const& [k, v] : *o) {
        std::string_view const key(k.data(), k.size());
        if (v.is_null() || read_field(shape_key, key)) continue;
        if (key.empty() || shape_field(key))
            return invalid(std::string(key), "Invalid JSON payload received. Unknown name \"" +
                                                 std::string(key) + "\": Cannot find field.");
        if (auto where = non_finite_at(v, std::string(key)))
            return invalid(*where, "Invalid JSON payload received. The number at '" + *where +
                                       "' is out of range.");
        out.native.emplace(key, owned(v));
    }
    return out;
}

bool encode_embedding_response(embedding_response const& r, embedding_form form,
                               std::string& out) {
    std::size_t values = 0;
    for (auto const& v : r.vectors) values += v.size();
    out.reserve(out.size() + 64 + r.vectors.size() * 64 + values * 12);
    switch (static_cast<embedding_shape>(form.shape)) {
    case embedding_shape::single:
        if (r.vectors.size() != 1) return false;
        out += "{\"embedding\":{\"values\":"sv;
        if (!append_floats(out, r.vectors[0])) return false;
        out += '}';
        if (r.usage.input_tokens) {  // as Vertex AI's embedContent reports it
            out += ",\"usageMetadata\":{\"promptTokenCount\":"sv;
            append_number(out, std::uint64_t{*r.usage.input_tokens});
            out += '}';
        }
        out += '}';
        return true;
    case embedding_shape::batch:
        out += "{\"embeddings\":["sv;
        for (std::size_t i = 0; i < r.vectors.size(); ++i) {
            if (i) out += ',';
            out += "{\"values\":"sv;
            if (!append_floats(out, r.vectors[i])) return false;
            out += '}';
        }
        out += "]}"sv;
        return true;
    case embedding_shape::predict: {
        std::size_t const n = r.vectors.size();
        out += "{\"predictions\":["sv;
        for (std::size_t i = 0; i < n; ++i) {
            if (i) out += ',';
            out += "{\"embeddings\":{\"values\":"sv;
            if (!append_floats(out, r.vectors[i])) return false;
            if (r.usage.input_tokens && n > 0) {
                // The total split evenly, the remainder on the first: the sum is exact.
                auto const total = *r.usage.input_tokens;
                auto const each = total / n + (i == 0 ? total % n : 0);
                out += ",\"statistics\":{\"token_count\":"sv;
                append_number(out, std::uint64_t{each});
                out += ",\"truncated\":false}"sv;
            }
            out += "}}"sv;
        }
        out += "]}"sv;
        return true;
    }
    }
    return false;
}

}  // namespace llmux::detail::gemini
