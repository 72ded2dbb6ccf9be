// SPDX-License-Identifier: BSL-1.0
#include "wire/common.hpp"
#include "util/crypto.hpp"
#include "util/json_read.hpp"
#include "util/json_text.hpp"
#include "util/json_write.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>

using namespace std::string_view_literals;

namespace llmux::detail {

error status_to_error(unsigned status) noexcept {
    switch (status) {
    case 400: return error::bad_request;
    case 401: return error::auth_failed;
    case 402: return error::payment_required;
    case 403: return error::permission_denied;
    case 404: return error::not_found;
    case 408: return error::timeout;
    case 413: return error::bad_request;
    case 422: return error::bad_request;
    case 429: return error::rate_limited;
    case 503: return error::overloaded;
    case 504: return error::timeout;
    case 529: return error::overloaded;
    default: break;
    }
    if (status >= 500) return error::server_error;
    return error::bad_request;
}

namespace {

std::optional<std::chrono::milliseconds> parse_number_ms(std::string_view v, double scale) {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (v.empty()) return std::nullopt;
    double d = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
    if (ec != std::errc{} || p != v.data() + v.size() || d < 0 || d > 1e9) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(d * scale + 0.5));
}

// RFC 7231 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<std::chrono::milliseconds> parse_http_date(std::string_view v) {
    std::tm tm{};
    std::string const s(v);
    char const* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0') return std::nullopt;
    std::time_t const t = timegm(&tm);
    auto const now = std::chrono::system_clock::now();
    auto const when = std::chrono::system_clock::from_time_t(t);
    if (when <= now) return std::chrono::milliseconds(0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(when - now);
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(response_head const& head) {
    if (auto v = head.header("retry-after-ms"); !v.empty())
        if (auto ms = parse_number_ms(v, 1.0)) return ms;
    if (auto v = head.header("retry-after"); !v.empty()) {
        if (auto ms = parse_number_ms(v, 1000.0)) return ms;
        return parse_http_date(v);
    }
    return std::nullopt;
}

failure http_failure(response_head const& head, std::string_view request_id_header) {
    failure f(status_to_error(head.status));
    f.diag.http_status = head.status;
    f.diag.retry_after = parse_retry_after(head);
    if (!request_id_header.empty()) f.diag.request_id = std::string(head.header(request_id_header));
    return f;
}

bool mentions_context_length(std::string_view message) noexcept {
    std::string lower(message.substr(0, 4096));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (std::string_view needle :
         {"context length", "context_length", "context window", "maximum context",
          "prompt is too long", "too many tokens", "input is too long", "exceeds the maximum number of tokens",
          "input token count", "too long for the model"}) {
        if (lower.find(needle) != std::string::npos) return true;
    }
    return false;
}

result<boost::json::object> parse_object(std::string_view body, std::string_view what) {
    boost::system::error_code ec;
    boost::json::value v = detail::parse_json(body, ec);
    if (ec)
        return failure(error::protocol_error, std::string(what) + " is not valid JSON (" +
                                                  ec.message() + "): " + excerpt(body, 120));
    if (!v.is_object())
        return failure(error::protocol_error, std::string(what) + " is not a JSON object: " +
                                                  excerpt(body, 120));
    return std::move(v.get_object());
}

failure bad_field(std::string_view path, std::string_view expected) {
    return failure(error::protocol_error,
                   "response field '" + std::string(path) + "' " + std::string(expected));
}

std::string_view get_string(boost::json::object const& o, std::string_view key) noexcept {
    auto const* v = o.if_contains(key);
    if (!v || !v->is_string()) return {};
    auto const& s = v->get_string();
    return {s.data(), s.size()};
}

boost::json::object const* get_object(boost::json::object const& o, std::string_view key) noexcept {
    auto const* v = o.if_contains(key);
    return v ? v->if_object() : nullptr;
}

token_count get_count(boost::json::object const& o, std::string_view key) noexcept {
    auto const* v = o.if_contains(key);
    if (!v) return {};
    if (auto const* i = v->if_int64(); i && *i >= 0) return static_cast<std::uint64_t>(*i);
    if (auto const* u = v->if_uint64()) return *u;
    if (auto const* d = v->if_double(); d && *d >= 0 && *d < 1e18)
        return static_cast<std::uint64_t>(*d);
    if (auto const* s = v->if_string()) {  // Gemini/Google sometimes send int64 as strings
        std::uint64_t n = 0;
        auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
        if (ec == std::errc{} && p == s->data() + s->size()) return n;
    }
    return {};
}

std::string excerpt(std::string_view text, std::size_t max) {
    if (text.size() <= max) return std::string(text);
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
    return std::string(text.substr(0, n)) + "...";
}

std::optional<std::string> non_finite_at(boost::json::value const& v, std::string const& at) {
    switch (v.kind()) {
    case boost::json::kind::double_:
        if (!std::isfinite(v.get_double())) return at;
        return std::nullopt;
    case boost::json::kind::array: {
        auto const& a = v.get_array();
        for (std::size_t i = 0; i < a.size(); ++i)
            if (auto p = non_finite_at(a[i], at + "." + std::to_string(i))) return p;
        return std::nullopt;
    }
    case boost::json::kind::object:
        for (auto const& [k, x] : v.get_object())
            if (auto p = non_finite_at(x, at + "." + std::string(k.data(), k.size()))) return p;
        return std::nullopt;
    default: return std::nullopt;
    }
}

result<boost::json::value> parse_body(std::string_view body,
                                      boost::json::monotonic_resource& mr) {
    boost::system::error_code ec;
    boost::json::value v = detail::parse_json(body, ec, &mr);
    if (ec)
        return internal(failure(error::protocol_error, "response body is not valid JSON (" +
                                                           ec.message() + "): " + body_excerpt(body)));
    return v;
}

std::string body_excerpt(std::string_view body) {
    std::string squeezed;
    squeezed.reserve(std::min<std::size_t>(body.size(), 400));
    bool space = false;
    for (char c : body.substr(0, 4096)) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = !squeezed.empty();
            continue;
        }
        if (space) squeezed += ' ';
        space = false;
        squeezed += c;
        if (squeezed.size() > 400) break;
    }
    return excerpt(squeezed, 200);
}

std::string at_message(std::size_t i) {
    return "messages[" + std::to_string(i) + "]";
}
std::string at_part(std::size_t i, std::size_t j) {
    return at_message(i) + ".content[" + std::to_string(j) + "]";
}

void merge_extra(boost::json::object& body, boost::json::object const& extra) {
    for (auto const& [k, v] : extra) {
        auto* existing = body.if_contains(k);
        if (existing && existing->is_object() && v.is_object())
            merge_extra(existing->get_object(), v.get_object());
        else
            body[k] = v;
    }
}

bool parse_data_uri(std::string_view uri, std::string_view& media_type,
                    std::string_view& data) noexcept {
    auto const p = split_data_uri(uri);
    if (!p || !p->base64 || p->media_type.empty()) return false;
    media_type = p->media_type;
    data = p->data;
    return true;
}

bool reasoning_on(std::optional<reasoning_options> const& r) noexcept {
    if (!r) return false;
    if (r->budget_tokens) return *r->budget_tokens > 0;
    return r->effort && *r->effort != reasoning_effort::none;
}

bool reasoning_off(std::optional<reasoning_options> const& r) noexcept {
    if (!r) return false;
    if (r->budget_tokens) return *r->budget_tokens == 0;
    return r->effort && *r->effort == reasoning_effort::none;
}

std::int64_t budget_for_effort(reasoning_effort e) noexcept {
    switch (e) {
    case reasoning_effort::none: return 0;
    case reasoning_effort::minimal: return 1024;
    case reasoning_effort::low: return 2048;
    case reasoning_effort::medium: return 8192;
    case reasoning_effort::high: return 16384;
    case reasoning_effort::xhigh: return 32768;
    case reasoning_effort::max: return 65536;
    }
    return 8192;
}

reasoning_effort effort_for_budget(std::int64_t budget) noexcept {
    reasoning_effort out = reasoning_effort::none;
    for (auto e : {reasoning_effort::minimal, reasoning_effort::low, reasoning_effort::medium,
                   reasoning_effort::high, reasoning_effort::xhigh, reasoning_effort::max})
        if (budget >= budget_for_effort(e)) out = e;
    if (out == reasoning_effort::none && budget > 0) out = reasoning_effort::minimal;
    return out;
}

namespace {
constexpr std::string_view redacted_mark = "+redacted";
}  // namespace

std::string seal_reasoning(reasoning_part const& r) {
    bool const redacted = r.type == reasoning_part::kind::redacted;
    std::string out = "llmux1.";
    out += r.origin;
    if (redacted) out += redacted_mark;
    out += '.';
    out += base64url_encode(r.id);
    out += '.';
    out += base64url_encode(redacted ? r.data : r.signature);
    return out;
}

bool open_reasoning(std::string_view field, reasoning_part& r) {
    constexpr std::string_view tag = "llmux1.";
    if (field.substr(0, tag.size()) != tag) return false;
    field.remove_prefix(tag.size());
    auto const a = field.find('.');
    if (a == std::string_view::npos) return false;
    auto const b = field.find('.', a + 1);
    if (b == std::string_view::npos) return false;
    auto id = base64url_decode(field.substr(a + 1, b - a - 1));
    auto sig = base64url_decode(field.substr(b + 1));
    if (!id || !sig || a == 0) return false;
    std::string_view origin = field.substr(0, a);
    if (origin.ends_with(redacted_mark)) {
        origin.remove_suffix(redacted_mark.size());
        if (origin.empty()) return false;
        r.type = reasoning_part::kind::redacted;
        r.data = std::move(*sig);
        r.signature.clear();
    } else {
        r.signature = std::move(*sig);
    }
    r.origin = std::string(origin);
    r.id = std::move(*id);
    return true;
}

namespace {
constexpr std::string_view call_id_marker = "__llmux1__";
}  // namespace

std::string seal_call_id(std::string_view id, std::span<reasoning_part const> parts,
                         std::string_view signature) {
    if (parts.empty() && signature.empty()) return std::string(id);
    std::string j = "{\"p\":[";
    for (std::size_t i = 0; i < parts.size(); ++i) {
        auto const& r = parts[i];
        if (i) j += ',';
        j += "{\"k\":"sv;
        append_number(j, static_cast<std::int64_t>(r.type));
        auto field = [&](char const* name, std::string const& v) {
            if (v.empty()) return;
            j += ",\""sv;
            j += name;
            j += "\":"sv;
            append_json_string(j, v);
        };
        field("t", r.text);
        field("s", r.signature);
        field("d", r.data);
        field("i", r.id);
        field("o", r.origin);
        j += '}';
    }
    j += "],\"s\":"sv;
    append_json_string(j, signature);
    j += '}';
    std::string out(id);
    out += call_id_marker;
    out += base64url_encode(j);
    return out;
}

bool open_call_id(std::string_view sealed, std::string* id, std::vector<reasoning_part>* parts,
                  std::string* signature) {
    auto const at = sealed.rfind(call_id_marker);
    if (at == std::string_view::npos) return false;
    auto const text = base64url_decode(sealed.substr(at + call_id_marker.size()));
    if (!text) return false;
    boost::system::error_code ec;
    auto const v = boost::json::parse(*text, ec);
    auto const* o = ec ? nullptr : v.if_object();
    if (!o) return false;
    std::vector<reasoning_part> read;
    if (auto const* pv = o->if_contains("p"); pv && pv->is_array()) {
        for (auto const& e : pv->get_array()) {
            auto const* po = e.if_object();
            if (!po) return false;
            reasoning_part r;
            auto const k = whole_number(po->contains("k") ? po->at("k") : boost::json::value());
            if (!k || *k < 0 || *k > 2) return false;
            r.type = static_cast<reasoning_part::kind>(*k);
            r.text = get_string(*po, "t");
            r.signature = get_string(*po, "s");
            r.data = get_string(*po, "d");
            r.id = get_string(*po, "i");
            r.origin = get_string(*po, "o");
            read.push_back(std::move(r));
        }
    }
    if (id) *id = std::string(sealed.substr(0, at));
    if (parts) parts->insert(parts->end(), read.begin(), read.end());
    if (signature) *signature = get_string(*o, "s");
    return true;
}

boost::json::object ephemeral_cache_control(cache_control const& c,
                                            boost::json::storage_ptr const& sp) {
    boost::json::object o(sp);
    o.emplace("type", "ephemeral");
    if (!c.ttl.empty()) o.emplace("ttl", c.ttl);
    return o;
}

result<void> check_cache_ttl(cache_control const& c, std::string const& at) {
    if (c.ttl.empty() || c.ttl == "5m" || c.ttl == "1h") return {};
    return failure(error::invalid_request,
                   at + ": a cache breakpoint's ttl is 5m or 1h, not '" + excerpt(c.ttl, 40) + "'");
}

result<void> check_tool_choice(chat_request const& req) {
    if (!req.tool_choice) return {};
    auto const& tc = *req.tool_choice;
    if (tc.how == tool_choice::mode::required && req.tools.empty())
        return failure(error::invalid_request,
                       "tool_choice is 'required' but the request defines no tools");
    if (tc.how == tool_choice::mode::named &&
        std::none_of(req.tools.begin(), req.tools.end(),
                     [&](tool const& t) { return t.name == tc.name; }))
        return failure(error::invalid_request, "tool_choice names the tool '" + tc.name +
                                                   "', which the request does not define");
    return {};
}

result<void> check_tool_name(tool const& t, std::size_t i) {
    if (!t.name.empty()) return {};
    return failure(error::invalid_request, "tools[" + std::to_string(i) + "]: a tool needs a name");
}

boost::json::value const* present(boost::json::object const& o, std::string_view key) noexcept {
    auto const* v = o.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
}

boost::json::value owned(boost::json::value const& v) {
    return boost::json::value(v, boost::json::storage_ptr());
}

std::optional<std::int64_t> whole_number(boost::json::value const& v) noexcept {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64())
        return static_cast<std::int64_t>(std::min<std::uint64_t>(v.get_uint64(), INT64_MAX));
    if (v.is_double() && std::floor(v.get_double()) == v.get_double() &&
        std::abs(v.get_double()) < 9e18)
        return static_cast<std::int64_t>(v.get_double());
    return std::nullopt;
}

bool to_float(boost::json::value const& v, float& out) noexcept {
    if (auto const* d = v.if_double()) {
        out = static_cast<float>(*d);
        return true;
    }
    if (auto const* i = v.if_int64()) {
        out = static_cast<float>(*i);
        return true;
    }
    if (auto const* u = v.if_uint64()) {
        out = static_cast<float>(*u);
        return true;
    }
    return false;
}

bool append_floats(std::string& out, std::span<float const> v) {
    out += '[';
    for (std::size_t k = 0; k < v.size(); ++k) {
        if (k) out += ',';
        if (!append_float(out, v[k])) return false;
    }
    out += ']';
    return true;
}

result<void> read_floats(boost::json::value const& v, std::string const& at, std::vector<float>& out) {
    auto const* a = v.if_array();
    if (!a) return bad_field(at, "is not an array of numbers");
    out.resize(a->size());
    for (std::size_t k = 0; k < a->size(); ++k)
        if (!to_float((*a)[k], out[k]))
            return bad_field(at + "[" + std::to_string(k) + "]", "is not a number");
    return {};
}

result<std::span<std::string const>> embedding_inputs(std::vector<std::string> const& inputs,
                                                      std::size_t first, std::size_t count) {
    first = std::min(first, inputs.size());
    std::span<std::string const> const slice =
        std::span(inputs).subspan(first, std::min(count, inputs.size() - first));
    if (slice.empty())
        return failure(error::invalid_request, "inputs: the list of texts to embed is empty");
    for (std::size_t i = 0; i < slice.size(); ++i)
        if (slice[i].empty())
            return failure(error::invalid_request,
                           "inputs[" + std::to_string(first + i) + "]: the text to embed is empty");
    return slice;
}

void merge_extra(std::string& body, boost::json::object const& extra) {
    if (extra.empty()) return;
    // Rare: merged through the DOM so that the extra fields win, as for chat.
    boost::system::error_code ec;
    auto v = parse_json(body, ec);
    merge_extra(v.as_object(), extra);
    body = to_json(v.as_object());
}

}  // namespace llmux::detail
