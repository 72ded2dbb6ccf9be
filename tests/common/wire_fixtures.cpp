// SPDX-License-Identifier: BSL-1.0
#include "wire_fixtures.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

namespace llmux::test {

namespace json = boost::json;
using detail::http_request;
using detail::response_head;

std::string fixture_path(std::string_view dir, std::string_view name) {
    // Appended in place: GCC 12 misreports the chain of temporaries of `a + "/" + b` as an
    // out-of-bounds memcpy (-Warray-bounds).
    std::string path = LLMUX_TEST_DATA_DIR;
    path += '/';
    path += dir;
    path += '/';
    path += name;
    return path;
}

std::string fixture_text(std::string_view dir, std::string_view name) {
    auto const path = fixture_path(dir, name);
    std::ifstream in(path, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(in, "cannot open fixture " << path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

json::value fixture_json(std::string_view dir, std::string_view name) {
    boost::system::error_code ec;
    json::value v = json::parse(fixture_text(dir, name), ec);
    BOOST_REQUIRE_MESSAGE(!ec, "fixture " << name << " is not valid JSON: " << ec.message());
    return v;
}

std::string_view str(json::value const& v) {
    auto const& s = v.as_string();
    return {s.data(), s.size()};
}

// A case's body: the bytes of `file`, or the inline `body` string.
std::string case_body(std::string_view dir, json::object const& c) {
    if (auto const* f = c.if_contains("file")) return fixture_text(dir, str(*f));
    return std::string(str(c.at("body")));
}

response_head case_head(json::object const& c) {
    response_head h;
    h.status = c.contains("status") ? static_cast<unsigned>(c.at("status").to_number<int>()) : 200;
    if (auto const* hs = c.if_contains("headers"))
        for (auto const& [k, v] : hs->as_object())
            h.headers.emplace_back(std::string(k), std::string(str(v)));
    return h;
}

void check_json(json::value const& actual, json::value const& expected, std::string_view what) {
    BOOST_TEST(actual == expected, what << "\n  got:      " << json::serialize(actual)
                                        << "\n  expected: " << json::serialize(expected));
}

// ---------------------------------------------------------------------------------------------
// Results as JSON, so that fixtures can state them exactly.

json::value count_json(token_count c) {
    return c ? json::value(*c) : json::value(nullptr);
}

json::object usage_json(usage const& u) {
    return {{"input", count_json(u.input_tokens)},
            {"output", count_json(u.output_tokens)},
            {"total", count_json(u.total_tokens)},
            {"cached_input", count_json(u.cached_input_tokens)},
            {"cache_write", count_json(u.cache_write_tokens)},
            {"reasoning", count_json(u.reasoning_tokens)},
            {"cost", u.reported_cost ? json::value(*u.reported_cost) : json::value(nullptr)}};
}

json::object reasoning_json(reasoning_part const& p) {
    json::object o{{"kind", static_cast<int>(p.type)}, {"origin", p.origin}};
    if (!p.text.empty()) o["text"] = p.text;
    if (!p.signature.empty()) o["signature"] = p.signature;
    if (!p.data.empty()) o["data"] = p.data;
    if (!p.id.empty()) o["id"] = p.id;
    return o;
}

namespace {
json::value cache_json(std::optional<cache_control> const& c) {
    return c ? json::value(c->ttl) : json::value(nullptr);
}

/// `o` with its cache breakpoint's ttl under "cache", when it has one.
json::object with_cache(json::object o, std::optional<cache_control> const& c) {
    if (c) o["cache"] = c->ttl;
    return o;
}

json::object call_json(tool_call const& c) {
    json::object o{{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}};
    if (!c.signature.empty()) o["signature"] = c.signature;
    return o;
}
}  // namespace

json::object response_json(chat_response const& r) {
    json::array calls;
    for (auto const& c : r.tool_calls) calls.push_back(call_json(c));
    json::object o{{"id", r.id},
                   {"model", r.model},
                   {"content", r.content},
                   {"reasoning", r.reasoning},
                   {"tool_calls", std::move(calls)},
                   {"finish_reason", to_string(r.finish_reason)},
                   {"native_finish_reason", r.native_finish_reason},
                   {"request_id", r.request_id},
                   {"usage", usage_json(r.usage)}};
    if (!r.reasoning_parts.empty()) {
        json::array parts;
        for (auto const& p : r.reasoning_parts) parts.push_back(reasoning_json(p));
        o["reasoning_parts"] = std::move(parts);
    }
    return o;
}

json::object failure_json(failure const& f) {
    return {{"code", code_name(f.code)},
            {"http_status", f.diag.http_status},
            {"error_type", f.diag.error_type},
            {"error_code", f.diag.error_code},
            {"message", f.diag.message},
            {"request_id", f.diag.request_id},
            {"retry_after_ms",
             f.diag.retry_after ? json::value(f.diag.retry_after->count()) : json::value(nullptr)}};
}

json::object chunk_json(chat_chunk const& c) {
    json::object o;
    if (!c.text.empty()) o["text"] = c.text;
    if (!c.reasoning.empty()) o["reasoning"] = c.reasoning;
    if (!c.reasoning_parts.empty()) {
        json::array parts;
        for (auto const& p : c.reasoning_parts) parts.push_back(reasoning_json(p));
        o["reasoning_parts"] = std::move(parts);
    }
    if (!c.tool_calls.empty()) {
        json::array a;
        for (auto const& t : c.tool_calls) {
            json::object d{
                {"index", t.index}, {"id", t.id}, {"name", t.name}, {"arguments", t.arguments}};
            if (!t.signature.empty()) d["signature"] = t.signature;
            a.push_back(std::move(d));
        }
        o["tool_calls"] = std::move(a);
    }
    if (c.finish_reason) o["finish_reason"] = to_string(*c.finish_reason);
    if (c.usage) o["usage"] = usage_json(*c.usage);
    return o;
}

json::object decode_stream(detail::wire_format const& fmt, std::vector<std::string_view> const& pieces,
                           bool with_request_id) {
    return decode_stream(*fmt.make_stream_decoder(), pieces, with_request_id);
}

json::object decode_stream(detail::stream_decoder& dec,
                           std::vector<std::string_view> const& pieces, bool with_request_id) {
    auto* d = &dec;
    std::vector<chat_chunk> chunks;
    json::value end = "ok";
    bool failed = false;
    for (auto p : pieces) {
        if (auto r = d->feed(p, chunks); !r) {
            end = failure_json(r.error());
            failed = true;
            break;
        }
    }
    if (!failed)
        if (auto r = d->finish(chunks); !r) end = failure_json(r.error());
    json::array cs;
    for (auto const& c : chunks)
        cs.push_back(chunk_json(c));
    auto const& info = d->info();
    json::object info_json{{"id", info.id},
                           {"model", info.model},
                           {"native_finish_reason", info.native_finish_reason}};
    if (with_request_id) info_json["request_id"] = info.request_id;
    return {{"chunks", std::move(cs)}, {"info", std::move(info_json)}, {"end", std::move(end)}};
}

json::object request_json(chat_request const& r) {
    auto opt_num = [](auto const& o) { return o ? json::value(*o) : json::value(nullptr); };
    json::array messages;
    for (auto const& m : r.messages) {
        json::array parts;
        for (auto const& p : m.content) {
            if (auto const* t = std::get_if<text_part>(&p))
                parts.push_back(with_cache(json::object{{"text", t->text}}, t->cache));
            else if (auto const* i = std::get_if<image_part>(&p))
                parts.push_back(
                    with_cache(json::object{{"image", i->url}, {"detail", i->detail}}, i->cache));
            else if (auto const* c = std::get_if<tool_call>(&p))
                parts.push_back(json::object{{"tool_call", call_json(*c)}});
            else if (auto const* res = std::get_if<tool_result>(&p))
                parts.push_back(json::object{
                    {"tool_result",
                     with_cache(json::object{{"id", res->tool_call_id}, {"name", res->name},
                                             {"content", res->content}, {"is_error", res->is_error}},
                                res->cache)}});
            else if (auto const* d = std::get_if<document_part>(&p))
                parts.push_back(
                    with_cache(json::object{{"document", d->url}, {"name", d->name}}, d->cache));
            else if (auto const* g = std::get_if<reasoning_part>(&p))
                parts.push_back(json::object{{"reasoning", reasoning_json(*g)}});
        }
        messages.push_back(json::object{{"role", to_string(m.role)}, {"content", std::move(parts)}});
    }
    json::array tools;
    for (auto const& t : r.tools)
        tools.push_back(with_cache(json::object{{"name", t.name},
                                                {"description", t.description},
                                                {"parameters", t.parameters},
                                                {"strict", t.strict}},
                                   t.cache));
    json::value reasoning = nullptr;
    if (r.reasoning)
        reasoning = json::object{
            {"effort", r.reasoning->effort ? json::value(to_string(*r.reasoning->effort))
                                           : json::value(nullptr)},
            {"budget", opt_num(r.reasoning->budget_tokens)},
            {"include_text", r.reasoning->include_text ? json::value(*r.reasoning->include_text)
                                                       : json::value(nullptr)}};
    json::value choice = nullptr;
    if (r.tool_choice)
        choice = json::object{{"how", static_cast<int>(r.tool_choice->how)},
                              {"name", r.tool_choice->name}};
    json::value format = nullptr;
    if (r.response_format)
        format = json::object{{"type", static_cast<int>(r.response_format->type)},
                              {"name", r.response_format->name},
                              {"schema", r.response_format->schema},
                              {"strict", r.response_format->strict}};
    json::array stop(r.stop.begin(), r.stop.end());
    json::array headers;
    for (auto const& [k, v] : r.headers)
        headers.push_back(json::array{json::string(k), json::string(v)});
    return {{"model", r.model},
            {"system", r.system},
            {"messages", std::move(messages)},
            {"temperature", opt_num(r.temperature)},
            {"top_p", opt_num(r.top_p)},
            {"max_tokens", opt_num(r.max_tokens)},
            {"stop", std::move(stop)},
            {"seed", opt_num(r.seed)},
            {"tools", std::move(tools)},
            {"tool_choice", std::move(choice)},
            {"response_format", std::move(format)},
            {"user", r.user},
            {"reasoning", std::move(reasoning)},
            {"system_cache", cache_json(r.system_cache)},
            {"prompt_cache_key", r.prompt_cache_key},
            {"extra", r.extra},
            {"headers", std::move(headers)}};
}

namespace {
/// Header lines into a response head.
class head_sink final : public detail::header_sink {
public:
    explicit head_sink(response_head& h) : h_(h) {}
    void header(std::string_view name, std::string_view value) override {
        h_.headers.emplace_back(std::string(name), std::string(value));
    }

private:
    response_head& h_;
};
}  // namespace

response_head served_head(detail::wire_server const& server, detail::answer_meta const& meta,
                          unsigned status) {
    response_head h;
    h.status = status;
    head_sink sink(h);
    server.response_headers(meta, sink);
    return h;
}

std::string encode_stream(detail::wire_server const& server, detail::answer_meta const& meta,
                          bool include_usage, std::vector<chat_chunk> const& chunks,
                          chat_response const& whole) {
    auto enc = server.make_stream_encoder(meta, include_usage);
    std::string out;
    for (auto const& c : chunks)
        enc->chunk(c, out);
    enc->finish(whole, out);
    return out;
}

json::object decode_at_every_split(detail::wire_format const& fmt, std::string_view bytes) {
    json::object const whole = decode_stream(fmt, {bytes});
    std::size_t mismatches = 0;
    for (std::size_t k = 0; k <= bytes.size(); ++k) {
        json::object const split = decode_stream(fmt, {bytes.substr(0, k), bytes.substr(k)});
        if (split != whole && mismatches++ < 3)
            BOOST_ERROR("split at " << k << " differs: " << json::serialize(split));
    }
    BOOST_TEST(mismatches == 0u);
    return whole;
}

chat_response accumulate(std::vector<chat_chunk> const& chunks) {
    chat_response r;
    for (auto const& c : chunks) {
        r.content += c.text;
        r.reasoning += c.reasoning;
        r.reasoning_parts.insert(r.reasoning_parts.end(), c.reasoning_parts.begin(),
                                 c.reasoning_parts.end());
        for (auto const& d : c.tool_calls) {
            if (d.index >= r.tool_calls.size()) r.tool_calls.resize(d.index + 1);
            auto& call = r.tool_calls[d.index];
            call.id += d.id;
            call.name += d.name;
            call.arguments += d.arguments;
            call.signature += d.signature;
        }
        if (c.finish_reason) r.finish_reason = *c.finish_reason;
        if (c.usage) r.usage = *c.usage;
    }
    return r;
}

json::object body_of(http_request const& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    BOOST_REQUIRE_MESSAGE(!ec, "the request body is not JSON: " << r.body);
    BOOST_REQUIRE(v.is_object());
    return std::move(v.get_object());
}

json::object weather_schema() {
    return json::parse(
               R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})")
        .as_object();
}

void check_response_table(detail::wire_format const& fmt, std::string_view dir) {
    json::object const table = fixture_json(dir, "responses.json").as_object();
    for (auto const& cv : table.at("cases").as_array()) {
        auto const& c = cv.as_object();
        BOOST_TEST_CONTEXT("case '" << str(c.at("name")) << "'") {
            auto const r = fmt.decode(case_head(c), case_body(dir, c));
            if (auto const* expected = c.if_contains("response")) {
                BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().to_string()));
                check_json(response_json(*r), *expected, "response");
            } else {
                BOOST_REQUIRE_MESSAGE(!r.has_value(), "decoded a response that should fail");
                check_json(failure_json(r.error()), c.at("failure"), "failure");
            }
        }
    }
}

void check_error_table(detail::wire_format const& fmt, std::string_view dir) {
    json::object const table = fixture_json(dir, "errors.json").as_object();
    for (auto const& cv : table.at("cases").as_array()) {
        auto const& c = cv.as_object();
        BOOST_TEST_CONTEXT("case '" << str(c.at("name")) << "'") {
            auto const f = fmt.decode_error(case_head(c), case_body(dir, c));
            check_json(failure_json(f), c.at("failure"), "failure");
        }
    }
}

void check_stream_table(detail::wire_format const& fmt, std::string_view dir,
                        std::function<std::string(json::object const&)> const& body_of_case,
                        bool with_request_id) {
    json::object const table = fixture_json(dir, "streams.json").as_object();
    for (auto const& cv : table.at("cases").as_array()) {
        auto const& c = cv.as_object();
        BOOST_TEST_CONTEXT("stream '" << str(c.at("name")) << "'") {
            std::string const body = body_of_case(c);
            std::string_view const bytes = body;
            json::object expected{
                {"chunks", c.at("chunks")}, {"info", c.at("info")}, {"end", c.at("end")}};
            json::object const whole = decode_stream(fmt, {bytes}, with_request_id);
            check_json(whole, expected, "whole body");

            // Every split point gives the same chunks, info and ending.
            std::size_t mismatches = 0;
            for (std::size_t k = 0; k <= bytes.size(); ++k) {
                json::object const split = decode_stream(fmt, {bytes.substr(0, k), bytes.substr(k)}, with_request_id);
                if (split != whole && mismatches++ < 3)
                    BOOST_ERROR("split at " << k << " differs: " << json::serialize(split));
            }
            BOOST_TEST(mismatches == 0u);

            std::vector<std::string_view> singles;
            for (std::size_t i = 0; i < bytes.size(); ++i)
                singles.push_back(bytes.substr(i, 1));
            json::object const bytewise = decode_stream(fmt, singles, with_request_id);
            check_json(bytewise, whole, "byte by byte");
        }
    }
}

request_head_fixture::request_head_fixture(
    std::string_view target_, std::vector<std::pair<std::string, std::string>> h,
    std::string_view method)
    : headers(std::move(h)), target(target_) {
    head.method = method;
    std::string_view const t = target;
    auto const q = t.find('?');
    head.path = t.substr(0, q);
    if (q != std::string_view::npos) head.query = t.substr(q + 1);
    head.context = &headers;
    head.lookup = [](void const* ctx, std::string_view name) -> std::string_view {
        for (auto const& [k, v] :
             *static_cast<std::vector<std::pair<std::string, std::string>> const*>(ctx))
            if (detail::iequals(k, name)) return v;
        return {};
    };
}

}  // namespace llmux::test
