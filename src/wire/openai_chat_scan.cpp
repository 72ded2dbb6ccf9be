// SPDX-License-Identifier: BSL-1.0
#include "wire/openai_chat_scan.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace llmux::detail::openai {

usage scanned_answer::read_usage() const {
    usage r;
    r.input_tokens = prompt_tokens;
    r.output_tokens = completion_tokens;
    r.total_tokens = total_tokens;
    r.cached_input_tokens = cached_tokens;
    r.cache_write_tokens = cache_write_tokens;
    if (!r.cached_input_tokens) r.cached_input_tokens = prompt_cache_hit_tokens;
    r.reasoning_tokens = reasoning_tokens;
    r.reported_cost = cost;
    return r;
}

namespace {

using role = scan_detail::handler::role;

std::string* string_member(scanned_answer& a, role r) noexcept {
    switch (r) {
    case role::id: return &a.id;
    case role::model: return &a.model;
    case role::content: return &a.content;
    case role::refusal: return &a.refusal;
    case role::reasoning_content: return &a.reasoning_content;
    case role::reasoning: return &a.reasoning;
    case role::finish_reason: return &a.finish_reason;
    default: return nullptr;
    }
}

token_count* count_member(scanned_answer& a, role r) noexcept {
    switch (r) {
    case role::prompt_tokens: return &a.prompt_tokens;
    case role::completion_tokens: return &a.completion_tokens;
    case role::total_tokens: return &a.total_tokens;
    case role::prompt_cache_hit_tokens: return &a.prompt_cache_hit_tokens;
    case role::cached_tokens: return &a.cached_tokens;
    case role::cache_write_tokens: return &a.cache_write_tokens;
    case role::reasoning_tokens: return &a.reasoning_tokens;
    default: return nullptr;
    }
}

}  // namespace

namespace scan_detail {

namespace {

// A number's text read with std::from_chars, as exact_number_handler reads it (util/json_read):
// Boost's own reading when from_chars cannot read it whole.
double exact(double d, std::string_view text) noexcept {
    double x = 0;
    auto const r = std::from_chars(text.data(), text.data() + text.size(), x);
    return r.ec == std::errc() && r.ptr == text.data() + text.size() ? x : d;
}

}  // namespace

void handler::start(scanned_answer& a, bool is_chunk, resume_point const* resume) noexcept {
    out = &a;
    chunk = is_chunk;
    gave_up = false;
    resume_ = resume;
    a.id.clear();
    a.model.clear();
    a.choices = 0;
    a.index_zero = true;
    a.has_message = false;
    a.content.clear();
    a.refusal.clear();
    a.reasoning_content.clear();
    a.reasoning.clear();
    a.finish_reason.clear();
    a.has_usage = false;
    a.prompt_tokens = a.completion_tokens = a.total_tokens = a.prompt_cache_hit_tokens = {};
    a.cached_tokens = a.cache_write_tokens = a.reasoning_tokens = {};
    a.cost.reset();
    depth_ = 0;
    skip_ = 0;
    next_ = slot::document;
    text_ = nullptr;
    count_ = nullptr;
    key_.clear();
    number_.clear();
    string_in_parts_ = false;
}

bool handler::at_message_start() const noexcept {
    return !gave_up && depth_ == max_frames && frames_[max_frames - 1] == frame::message &&
           seen_[max_frames - 1] == 0 && skip_ == 0 && next_ == slot::skip && key_.empty() &&
           number_.empty();
}

void handler::save(resume_point& to) const {
    for (int i = 0; i < max_frames; ++i) to.seen[i] = seen_[i];
    to.details = details_;
    to.answer = *out;
}

handler::role handler::string_role() const noexcept {
    if (skip_) return role::skip;
    switch (next_) {
    case slot::text:
    case slot::content:  // the member text_ is (the string roles are a run)
        static_assert(int(role::finish_reason) - int(role::id) == 6);
        for (auto r = role::id; r <= role::finish_reason; r = role(int(r) + 1))
            if (string_member(*out, r) == text_) return r;
        return role::none;
    case slot::skip:
    case slot::usage:
    case slot::details:
    case slot::no_array: return role::skip;  // a string there is ignored
    default: return role::none;  // read for its value (count, index), or gives up
    }
}

handler::role handler::int_role() const noexcept {
    if (skip_) return role::skip;
    switch (next_) {
    case slot::count:  // the member count_ is (the count roles are a run)
        static_assert(int(role::reasoning_tokens) - int(role::prompt_tokens) == 6);
        for (auto r = role::prompt_tokens; r <= role::reasoning_tokens; r = role(int(r) + 1))
            if (count_member(*out, r) == count_) return r;
        return role::none;
    case slot::index: return role::index;
    case slot::cost: return role::cost;
    case slot::skip:
    case slot::text:
    case slot::usage:
    case slot::details:
    case slot::no_array: return role::skip;  // a number there is ignored
    default: return role::none;
    }
}

bool handler::give_up(boost::json::error_code& ec) {
    gave_up = true;
    ec = boost::json::error::exception;  // any error: it stops the parser
    return false;
}

bool handler::enter(frame f, boost::json::error_code& ec) {
    if (depth_ == max_frames) return give_up(ec);
    frames_[depth_] = f;
    seen_[depth_] = 0;
    ++depth_;
    next_ = f == frame::choices ? slot::choice : slot::skip;
    return true;
}

void handler::after_value() noexcept {
    text_ = nullptr;
    count_ = nullptr;
    next_ = depth_ > 0 && frames_[depth_ - 1] == frame::choices ? slot::choice : slot::skip;
}

bool handler::select(std::string_view key, boost::json::error_code& ec) {
    // Each member read has a bit in its frame; a key seen twice gives up (the DOM keeps the
    // last, and the scan would have read the first).
    int bit = -1;
    next_ = slot::skip;
    auto const text = [&](std::string& s, int b) {
        next_ = slot::text;
        text_ = &s;
        bit = b;
    };
    auto const count = [&](token_count& c, int b) {
        next_ = slot::count;
        count_ = &c;
        bit = b;
    };
    switch (frames_[depth_ - 1]) {
    case frame::root:
        if (key == "id") text(out->id, 0);
        else if (key == "model") text(out->model, 1);
        else if (key == "choices") next_ = slot::choices, bit = 2;
        else if (key == "usage") next_ = slot::usage, bit = 3;
        else if (key == "error") next_ = slot::null_only, bit = 4;
        else if (key == "x_groq") return give_up(ec);  // Groq's usage: rare, the DOM reads it
        break;
    case frame::choice:
        if (key == "index") next_ = slot::index, bit = 0;
        else if (key == (chunk ? "delta" : "message")) next_ = slot::message, bit = 1;
        else if (key == "finish_reason") text(out->finish_reason, 2);
        break;
    case frame::message:
        if (key == "content") {
            text(out->content, 0);
            next_ = slot::content;
        } else if (key == "refusal") text(out->refusal, 1);
        else if (key == "reasoning_content") text(out->reasoning_content, 2);
        else if (key == "reasoning") text(out->reasoning, 3);
        else if (key == "tool_calls") next_ = slot::null_only, bit = 4;
        else if (key == "function_call") next_ = slot::null_only, bit = 5;
        else if (key == "reasoning_details") next_ = slot::no_array, bit = 6;
        break;
    case frame::usage:
        if (key == "prompt_tokens") count(out->prompt_tokens, 0);
        else if (key == "completion_tokens") count(out->completion_tokens, 1);
        else if (key == "total_tokens") count(out->total_tokens, 2);
        else if (key == "prompt_cache_hit_tokens") count(out->prompt_cache_hit_tokens, 3);
        else if (key == "cost") next_ = slot::cost, bit = 4;
        else if (key == "prompt_tokens_details") next_ = slot::details, bit = 5;
        else if (key == "completion_tokens_details") next_ = slot::details, bit = 6;
        break;
    case frame::prompt:
        if (key == "cached_tokens") count(out->cached_tokens, 0);
        else if (key == "cache_write_tokens") count(out->cache_write_tokens, 1);
        break;
    case frame::completion:
        if (key == "reasoning_tokens") count(out->reasoning_tokens, 0);
        break;
    case frame::choices: break;  // an array has no keys
    }
    if (bit < 0) return true;
    auto& seen = seen_[depth_ - 1];
    if (seen & (1u << bit)) return give_up(ec);
    seen = static_cast<std::uint8_t>(seen | (1u << bit));
    if (next_ == slot::details) details_ = bit == 5 ? frame::prompt : frame::completion;
    return true;
}

bool handler::on_object_begin(boost::json::error_code& ec) {
    if (skip_) {
        ++skip_;
        return true;
    }
    switch (next_) {
    case slot::document: return enter(frame::root, ec);
    case slot::choice:
        if (++out->choices > 1) return give_up(ec);  // n > 1: the DOM picks
        return enter(frame::choice, ec);
    case slot::message:
        out->has_message = true;
        if (!enter(frame::message, ec)) return false;
        if (resume_) {  // the stand-in prefix ends here: resume where the real one did
            for (int i = 0; i < max_frames; ++i) seen_[i] = resume_->seen[i];
            details_ = resume_->details;
            *out = resume_->answer;
            resume_ = nullptr;
        }
        return true;
    case slot::usage:
        out->has_usage = true;
        return enter(frame::usage, ec);
    case slot::details: return enter(details_, ec);
    case slot::index:  // not a number: the choice is not the first
        out->index_zero = false;
        ++skip_;
        return true;
    case slot::choices:
    case slot::content:
    case slot::null_only: return give_up(ec);
    case slot::skip:
    case slot::text:
    case slot::no_array:
    case slot::count:
    case slot::cost: ++skip_; return true;
    }
    return give_up(ec);
}

bool handler::on_array_begin(boost::json::error_code& ec) {
    if (skip_) {
        ++skip_;
        return true;
    }
    switch (next_) {
    case slot::choices: return enter(frame::choices, ec);
    case slot::index:
        out->index_zero = false;
        ++skip_;
        return true;
    case slot::document:
    case slot::choice:
    case slot::message:
    case slot::content:
    case slot::null_only:
    case slot::no_array: return give_up(ec);
    case slot::skip:
    case slot::text:
    case slot::usage:
    case slot::details:
    case slot::count:
    case slot::cost: ++skip_; return true;
    }
    return give_up(ec);
}

bool handler::on_object_end(std::size_t, boost::json::error_code&) {
    if (skip_) {
        if (--skip_ == 0) after_value();
        return true;
    }
    --depth_;
    after_value();
    return true;
}

bool handler::on_array_end(std::size_t n, boost::json::error_code& ec) {
    return on_object_end(n, ec);
}

bool handler::on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    if (!skip_) key_.append(s.data(), s.size());
    return true;
}

bool handler::on_key(boost::json::string_view s, std::size_t, boost::json::error_code& ec) {
    if (skip_) return true;
    if (key_.empty()) return select(std::string_view(s.data(), s.size()), ec);
    key_.append(s.data(), s.size());
    bool const ok = select(key_, ec);
    key_.clear();
    return ok;
}

bool handler::on_string_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    string_in_parts_ = true;
    if (skip_) return true;
    if (next_ == slot::text || next_ == slot::content)
        text_->append(s.data(), s.size());
    else if (next_ == slot::count)
        number_.append(s.data(), s.size());
    return true;
}

bool handler::on_string(boost::json::string_view s, std::size_t, boost::json::error_code& ec) {
    if (record) {
        // A string read in parts (escapes) is the parser's buffer, not the document's bytes.
        record->push_back({s.data(), s.size(), string_in_parts_ ? role::none : string_role(),
                           true});
        string_in_parts_ = false;
    }
    if (skip_) return true;
    if (wants_container(next_) || next_ == slot::null_only) return give_up(ec);
    if (next_ == slot::text || next_ == slot::content) {
        text_->append(s.data(), s.size());
    } else if (next_ == slot::count) {  // get_count reads a string of digits (Google's int64)
        number_.append(s.data(), s.size());
        std::uint64_t n = 0;
        auto const [p, e] = std::from_chars(number_.data(), number_.data() + number_.size(), n);
        if (e == std::errc{} && p == number_.data() + number_.size()) *count_ = n;
        number_.clear();
    } else if (next_ == slot::index) {
        out->index_zero = false;
    }
    after_value();
    return true;
}

bool handler::on_number_part(boost::json::string_view s, boost::json::error_code&) {
    if (!skip_) number_.append(s.data(), s.size());
    return true;
}

bool handler::number(std::optional<std::int64_t> i, std::optional<std::uint64_t> u,
                     std::optional<double> d, boost::json::error_code& ec) {
    number_.clear();
    if (skip_) return true;
    if (wants_container(next_) || next_ == slot::content || next_ == slot::null_only)
        return give_up(ec);
    if (next_ == slot::index) {
        out->index_zero = (i && *i == 0) || (u && *u == 0);
    } else if (next_ == slot::count) {  // as get_count
        if (i && *i >= 0)
            *count_ = static_cast<std::uint64_t>(*i);
        else if (u)
            *count_ = *u;
        else if (d && *d >= 0 && *d < 1e18)
            *count_ = static_cast<std::uint64_t>(*d);
    } else if (next_ == slot::cost) {  // as get_number
        out->cost = i ? static_cast<double>(*i) : u ? static_cast<double>(*u) : d;
    }
    after_value();
    return true;
}

bool handler::on_int64(std::int64_t i, boost::json::string_view s, boost::json::error_code& ec) {
    if (record)
        record->push_back({s.data(), s.size(), number_.empty() ? int_role() : role::none, false});
    return number(i, std::nullopt, std::nullopt, ec);
}

bool handler::on_uint64(std::uint64_t u, boost::json::string_view, boost::json::error_code& ec) {
    return number(std::nullopt, u, std::nullopt, ec);
}

bool handler::on_double(double d, boost::json::string_view s, boost::json::error_code& ec) {
    if (skip_ || (next_ != slot::count && next_ != slot::cost)) return number({}, {}, d, ec);
    number_.append(s.data(), s.size());
    double const x = exact(d, number_);
    return number({}, {}, x, ec);
}

bool handler::on_bool(bool, boost::json::error_code& ec) {
    if (skip_) return true;
    if (wants_container(next_) || next_ == slot::content || next_ == slot::null_only)
        return give_up(ec);
    if (next_ == slot::index) out->index_zero = false;
    after_value();
    return true;
}

bool handler::on_null(boost::json::error_code& ec) {
    if (skip_) return true;
    if (wants_container(next_)) return give_up(ec);  // content and null_only take a null
    if (next_ == slot::index) out->index_zero = false;
    after_value();
    return true;
}

}  // namespace scan_detail

namespace {

// What stands in for a learnt prefix: the same nesting, just inside the first choice's delta.
constexpr std::string_view stand_in = R"({"choices":[{"delta":{)";
// Attempts to learn a prefix without a hit since, before the scanner stops trying (a stream
// whose chunks differ early, e.g. by a timestamp, would pay for learning for nothing).
constexpr int learn_budget = 4;
// A longer prefix is not kept: the chunks' common prefix is some 200 bytes.
constexpr std::size_t max_prefix = 1024;
// What a chunk with a learnable tail has just after the prefix, and where the padding's value
// begins in a tail (see answer_scanner).
constexpr std::string_view content_lead = R"("content":")";
constexpr std::string_view pad_lead = R"("obfuscation":")";
// A longer tail is not kept: a chunk's is some 40 bytes, 70 with the padding.
constexpr std::size_t max_tail = 512;

constexpr bool in(unsigned char c, unsigned char lo, unsigned char hi) noexcept {
    return c >= lo && c <= hi;
}

// The length of the UTF-8 sequence `p` begins with, 0 when it is not well-formed (Unicode's
// table 3-7, as Boost.JSON checks it: no overlong forms, surrogates or code points past
// U+10FFFF).
std::size_t utf8_length(unsigned char const* p, std::size_t n) noexcept {
    unsigned char const c = p[0];
    if (in(c, 0xC2, 0xDF)) return n >= 2 && in(p[1], 0x80, 0xBF) ? 2 : 0;
    if (in(c, 0xE0, 0xEF)) {
        unsigned char const lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return n >= 3 && in(p[1], lo, hi) && in(p[2], 0x80, 0xBF) ? 3 : 0;
    }
    if (in(c, 0xF0, 0xF4)) {
        unsigned char const lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return n >= 4 && in(p[1], lo, hi) && in(p[2], 0x80, 0xBF) && in(p[3], 0x80, 0xBF) ? 4
                                                                                         : 0;
    }
    return 0;
}

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The length of the plain run (no quote, backslash, control character or non-ASCII byte) at
// the start of `p[0, n)`: 16 bytes at a time where SSE2 is there.
std::size_t plain_run(unsigned char const* p, std::size_t n) noexcept {
    std::size_t i = 0;
#if defined(__SSE2__)
    __m128i const quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    __m128i const space = _mm_set1_epi8(0x20);
    for (; i + 16 <= n; i += 16) {
        __m128i const v = _mm_loadu_si128(reinterpret_cast<__m128i const*>(p + i));
        // Signed: bytes of 0x80 and up are negative, so below 0x20 too.
        __m128i const special = _mm_or_si128(
            _mm_cmplt_epi8(v, space), _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        if (int const m = _mm_movemask_epi8(special))
            return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(m)));
    }
#endif
    while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\') ++i;
    return i;
}

// Reads the body of a JSON string, `s` beginning just after its opening quote, appending its
// text to `to` (when not null) as Boost's parser decodes it, and saying in `plain` whether it
// had no escapes (its text is then its bytes). Returns the length read, closing quote
// included, or 0 where this short reader stops: at a control character, invalid UTF-8, an
// escape that is not one of the simple ones or a `u` escape outside the surrogates, or the
// end of `s`. What it reads, the parser accepts; what it stops at is left to the parser (`to`
// then holds a part of the text).
std::size_t read_string(std::string_view s, std::string* to, bool& plain) {
    auto const* p = reinterpret_cast<unsigned char const*>(s.data());
    std::size_t const n = s.size();
    std::size_t i = 0;
    plain = true;
    for (;;) {
        std::size_t const run = i;
        i += plain_run(p + i, n - i);
        if (to) to->append(s.data() + run, i - run);
        if (i == n || p[i] < 0x20) return 0;
        if (p[i] == '"') return i + 1;
        if (p[i] >= 0x80) {
            std::size_t const len = utf8_length(p + i, n - i);
            if (len == 0) return 0;
            if (to) to->append(s.data() + i, len);
            i += len;
            continue;
        }
        plain = false;
        if (i + 1 == n) return 0;  // a backslash
        char simple = 0;
        switch (p[i + 1]) {
        case '"': simple = '"'; break;
        case '\\': simple = '\\'; break;
        case '/': simple = '/'; break;
        case 'b': simple = '\b'; break;
        case 'f': simple = '\f'; break;
        case 'n': simple = '\n'; break;
        case 'r': simple = '\r'; break;
        case 't': simple = '\t'; break;
        case 'u': break;
        default: return 0;
        }
        if (simple) {
            if (to) to->push_back(simple);
            i += 2;
            continue;
        }
        if (n - i < 6) return 0;
        unsigned cp = 0;
        for (std::size_t k = 2; k < 6; ++k) {
            int const d = hex_digit(s[i + k]);
            if (d < 0) return 0;
            cp = cp << 4 | static_cast<unsigned>(d);
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) return 0;  // pairs and lone halves: the parser's
        if (to) {
            if (cp < 0x80) {
                to->push_back(static_cast<char>(cp));
            } else if (cp < 0x800) {
                to->push_back(static_cast<char>(0xC0 | cp >> 6));
                to->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
            } else {
                to->push_back(static_cast<char>(0xE0 | cp >> 12));
                to->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
                to->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
            }
        }
        i += 6;
    }
}

std::size_t read_string(std::string_view s, std::string& to) {
    bool plain = true;
    return read_string(s, &to, plain);
}

// Where a prefix could end: just after the `{` of the first `"delta":` member's value, or 0.
// The handler then says whether it is the first choice's delta.
std::size_t prefix_end(std::string_view text) noexcept {
    constexpr std::string_view key = R"("delta":)";
    auto const at = text.find(key);
    if (at == std::string_view::npos) return 0;
    auto const brace = text.find_first_not_of(" \t\r\n", at + key.size());  // JSON's whitespace
    if (brace == std::string_view::npos || text[brace] != '{' || brace + 1 > max_prefix) return 0;
    return brace + 1;
}

// The most bytes of a document whose shape is learnt.
constexpr std::size_t max_shape_bytes = 4096;

// An integer a shape's gap takes: 1 to 18 digits, no sign, no leading zero (so that Boost's
// parser reads it as an int64 of that value). Returns its length, 0 if there is none; the
// shape's next byte (a `,`, `}`, `]` or whitespace) must follow it.
std::size_t read_count(std::string_view s, std::uint64_t& v) noexcept {
    if (s.empty() || s[0] < '0' || s[0] > '9') return 0;
    v = 0;
    if (s[0] == '0') return 1;
    std::size_t n = 0;
    for (; n < s.size() && s[n] >= '0' && s[n] <= '9'; ++n) {
        if (n == 18) return 0;
        v = v * 10 + static_cast<unsigned>(s[n] - '0');
    }
    return n;
}

constexpr bool ends_number(char c) noexcept {
    return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

shape_cache& shape_cache::this_thread() {
    thread_local shape_cache cache;
    return cache;
}

bool shape_cache::read(std::string_view text, bool chunk, scanned_answer& out,
                       prefix_point* prefix) {
    auto& shapes = shapes_[chunk];
    auto& last = last_[chunk];
    if (shapes.empty()) return false;
    // The documents of a kind come in a cycle (a stream: its first chunk, its text, its end,
    // its usage; then the next stream's): the shape that followed the last one read last
    // time is tried first, then that one, then the others.
    std::size_t const first = last < shapes.size() ? shapes[last].next : 0;
    std::size_t hit = shapes.size();
    if (first < shapes.size() && match(shapes[first], text, out)) {
        hit = first;
    } else if (last < shapes.size() && last != first && match(shapes[last], text, out)) {
        hit = last;
    } else {
        for (std::size_t i = 0; i < shapes.size(); ++i) {
            if (i == first || i == last || !match(shapes[i], text, out)) continue;
            hit = i;
            break;
        }
    }
    if (hit == shapes.size()) return false;
    if (last < shapes.size()) shapes[last].next = hit;
    last = hit;
    if (prefix) {
        auto const& s = shapes[hit];
        prefix->size = 0;
        if (s.prefix_at == 0) return true;
        std::size_t values = 0;  // the bytes of the gaps' values before the prefix's end
        for (std::size_t g = 0; g < s.prefix_gaps; ++g)
            values += values_[g].size + (s.gaps[g].string ? 1 : 0);  // a string's quote too
        prefix->size = s.prefix_at + values;
        *prefix->resume = s.resume;
        fill(s, s.prefix_gaps, text, prefix->resume->answer);
    }
    return true;
}

bool shape_cache::match(shape const& s, std::string_view text, scanned_answer& out) {
    std::string_view const bytes = s.bytes;
    if (text.size() < bytes.size()) return false;
    // Shapes of one kind mostly begin alike (a stream's chunks share some 200 bytes): their
    // ends tell them apart sooner.
    std::size_t const last = s.gaps.empty() ? 0 : s.gaps.back().after;
    if (!text.ends_with(bytes.substr(last))) return false;
    // Where each gap's value is, first; the answer is written once the whole document is
    // known to be of the shape (most documents tried are not).
    std::size_t at = 0, from = 0;  // in `text`, in `bytes`
    std::size_t const gaps = s.gaps.size();
    for (std::size_t g = 0; g < gaps; ++g) {
        auto const& gap = s.gaps[g];
        std::size_t const len = gap.after - from;
        if (text.size() - at < len ||
            std::memcmp(text.data() + at, bytes.data() + from, len) != 0)
            return false;
        at += len;
        from = gap.after;
        auto& v = values_[g];
        v.at = at;
        std::string_view const left(text.data() + at, text.size() - at);
        std::size_t n = 0;
        if (gap.string) {
            n = read_string(left, nullptr, v.plain);
            v.size = n - 1;
        } else {
            n = read_count(left, v.count);
            v.size = n;
        }
        if (n == 0) return false;
        at += n;
    }
    if (text.size() - at != bytes.size() - from ||
        std::memcmp(text.data() + at, bytes.data() + from, bytes.size() - from) != 0)
        return false;
    out = s.answer;
    fill(s, s.gaps.size(), text, out);
    return true;
}

void shape_cache::fill(shape const& s, std::size_t n, std::string_view text,
                       scanned_answer& a) const {
    for (std::size_t g = 0; g < n; ++g) {
        auto const& gap = s.gaps[g];
        auto const& v = values_[g];
        if (gap.string) {
            if (auto* m = string_member(a, gap.r)) {
                if (v.plain)
                    m->assign(text.substr(v.at, v.size));
                else
                    (void)read_string(text.substr(v.at), *m);
            }
        } else if (auto* c = count_member(a, gap.r)) {
            *c = v.count;
        } else if (gap.r == role::index) {
            a.index_zero = v.count == 0;
        } else if (gap.r == role::cost) {
            a.cost = static_cast<double>(v.count);
        }
    }
}

namespace {

// Clears in `a` what a gap of role `r` writes (its value is the document's).
void clear_member(scanned_answer& a, role r) noexcept {
    if (auto* m = string_member(a, r)) m->clear();
    if (auto* c = count_member(a, r)) *c = {};
    if (r == role::cost) a.cost.reset();
    if (r == role::index) a.index_zero = true;
}

}  // namespace

void shape_cache::learn(std::string_view text, bool chunk, std::vector<scalar> const& values,
                        scanned_answer const& read, std::size_t prefix_size,
                        scan_detail::handler::resume_point const* resume) {
    if (text.size() > max_shape_bytes) return;
    shape s;
    s.answer = read;
    if (resume && prefix_size != 0) s.resume = *resume;
    std::size_t pos = 0;      // in `text`: the bytes from here are not in the shape yet
    std::size_t removed = 0;  // the bytes of the gaps' values before the prefix's end
    for (auto const& v : values) {
        if (v.r == role::none || s.gaps.size() == max_gaps) continue;
        // Only a value in the document's bytes (one read in parts is in the parser's).
        auto const at = reinterpret_cast<std::uintptr_t>(v.at);
        auto const begin = reinterpret_cast<std::uintptr_t>(text.data());
        if (at < begin || at - begin > text.size() || v.size > text.size() - (at - begin))
            continue;
        auto const off = static_cast<std::size_t>(at - begin);
        if (off < pos || off == 0) continue;
        std::size_t end = 0;  // where the bytes after the gap begin
        if (v.string) {
            // The text between the quotes, as the short reader reads it.
            if (text[off - 1] != '"') continue;
            skipped_.clear();
            std::size_t const n = read_string(text.substr(off), skipped_);
            if (n != v.size + 1 || skipped_ != std::string_view(v.at, v.size)) continue;
            end = off + n;
        } else {
            std::uint64_t x = 0;
            if (read_count(text.substr(off, v.size), x) != v.size || text[off - 1] == '-' ||
                off + v.size >= text.size() || !ends_number(text[off + v.size]))
                continue;
            end = off + v.size;
        }
        s.bytes.append(text.substr(pos, off - pos));
        s.gaps.push_back({static_cast<std::uint32_t>(s.bytes.size()), v.r, v.string});
        clear_member(s.answer, v.r);
        if (end <= prefix_size) {  // before the prefix's end (which is no value's middle)
            ++s.prefix_gaps;
            removed += end - off;
            clear_member(s.resume.answer, v.r);
        }
        pos = end;
    }
    if (resume && prefix_size != 0 && prefix_size <= max_prefix)
        s.prefix_at = prefix_size - removed;
    s.bytes.append(text.substr(pos));
    // A new shape, or in place of one: in turn, the last one read spared.
    auto& shapes = shapes_[chunk];
    if (shapes.size() < max_shapes) {
        shapes.push_back(std::move(s));
        return;
    }
    auto& victim = victim_[chunk];
    if (victim == last_[chunk]) victim = (victim + 1) % max_shapes;
    shapes[victim] = std::move(s);
    victim = (victim + 1) % max_shapes;
}

answer_scanner::answer_scanner(shape_cache* shapes)
    : p_(boost::json::parse_options{}), learn_budget_(learn_budget), tail_budget_(learn_budget),
      shapes_(shapes), thread_shapes_(false), shape_budget_(learn_budget) {}

answer_scanner::answer_scanner() : answer_scanner(nullptr) { thread_shapes_ = true; }

bool answer_scanner::parsed_all(std::string_view text, std::size_t n,
                                boost::json::error_code ec) const {
    return !ec && n == text.size() && !p_.handler().gave_up;
}

bool answer_scanner::read(std::string_view text, bool chunk, scanned_answer& out) {
    auto& h = p_.handler();
    h.record = nullptr;  // (set below only while a shape is learnt; values_ outlives it)
    boost::json::error_code ec;
    p_.reset();
    // A chunk of this stream: the learnt tail reads most of them.
    bool const prefix_hit = chunk && !prefix_.empty() && text.size() > prefix_.size() &&
                            text.starts_with(prefix_);
    std::string_view const rest = prefix_hit ? text.substr(prefix_.size()) : std::string_view();
    if (prefix_hit) {
        ++hits_;
        learn_budget_ = learn_budget;
        if (tail_ && read_tail(rest, out)) {
            ++tail_hits_;
            tail_budget_ = learn_budget;
            return true;
        }
    }
    // Else a known shape: an answer like the last one, a stream's end, or its first chunk,
    // whose shape also says where the stream's prefix ends.
    shape_cache* const shapes = thread_shapes_ ? &shape_cache::this_thread() : shapes_;
    bool const want_prefix = !prefix_hit && chunk && learn_budget_ > 0;
    shape_cache::prefix_point point{0, &learnt_};
    if (shapes && shapes->read(text, chunk, out, want_prefix ? &point : nullptr)) {
        ++shape_hits_;
        shape_budget_ = learn_budget;
        if (point.size != 0) {
            // learnt_ is this chunk's prefix's end now; a prefix made long by its values (a
            // long id) is not kept, as one learnt by parsing is not.
            if (point.size <= max_prefix)
                prefix_.assign(text.substr(0, point.size));
            else
                prefix_.clear();
            tail_.reset();
            tail_budget_ = learn_budget;
        }
        if (prefix_hit && tail_budget_ > 0) learn_tail(rest, out);
        return true;
    }
    // Else the parser: after the stand-in for the prefix, or whole to learn the shape (and
    // where the prefix ends) or the prefix.
    std::size_t const split = want_prefix ? prefix_end(text) : 0;
    bool const learn_shape = shapes && shape_budget_ > 0;
    if (prefix_hit && !learn_shape) {
        text_.assign(stand_in);
        text_.append(rest);
        h.start(out, true, &learnt_);
        auto const n = p_.write_some(false, text_.data(), text_.size(), ec);
        if (!parsed_all(text_, n, ec)) return false;
        if (tail_budget_ > 0) learn_tail(rest, out);
        return true;
    }
    h.start(out, chunk);
    std::string_view const whole = text;
    if (learn_shape) {
        --shape_budget_;
        values_.clear();
        h.record = &values_;
    }
    bool prefix_learnt = prefix_hit;  // (a hit: the prefix ends where the learnt one does)
    if (split != 0) {
        // Up to the prefix's end, the parser suspended there; then the rest.
        --learn_budget_;
        auto const n = p_.write_some(true, text.data(), split, ec);
        if (ec || n != split || h.gave_up) return false;
        if (h.at_message_start()) {
            prefix_.assign(text.substr(0, split));
            h.save(learnt_);
            prefix_learnt = true;
            tail_.reset();  // its answer holds what the old prefix said
            tail_budget_ = learn_budget;
        }
        text.remove_prefix(split);
    }
    auto const n = p_.write_some(false, text.data(), text.size(), ec);
    if (!parsed_all(text, n, ec)) return false;
    if (learn_shape)
        shapes->learn(whole, chunk, values_, out, prefix_learnt ? prefix_.size() : 0,
                       prefix_learnt ? &learnt_ : nullptr);
    if (prefix_hit && tail_budget_ > 0) learn_tail(rest, out);
    return true;
}

bool answer_scanner::read_tail(std::string_view rest, scanned_answer& out) {
    auto const& t = *tail_;
    if (!rest.starts_with(content_lead)) return false;
    rest.remove_prefix(content_lead.size());
    out = t.answer;
    std::size_t const n = read_string(rest, out.content);
    if (n == 0) return false;
    rest.remove_prefix(n);
    if (!t.padded) return rest == t.before_pad;
    if (!rest.starts_with(t.before_pad)) return false;
    rest.remove_prefix(t.before_pad.size());
    bool plain = true;
    std::size_t const pad = read_string(rest, nullptr, plain);  // checked, not kept
    return pad != 0 && rest.substr(pad) == t.after_pad;
}

void answer_scanner::learn_tail(std::string_view rest, scanned_answer const& out) {
    // Only from a chunk whose content is the string right after the prefix, read as the
    // parser read it (so that the answer's content is that string and nothing else). A tail
    // already learnt stays until another is: a chunk the short reader left (a surrogate pair,
    // say) may well be followed by chunks it reads.
    --tail_budget_;
    if (!rest.starts_with(content_lead)) return;
    rest.remove_prefix(content_lead.size());
    content_.clear();
    std::size_t const n = read_string(rest, content_);
    if (n == 0 || content_ != out.content) return;
    rest.remove_prefix(n);
    if (rest.size() > max_tail) return;
    tail t;
    // The padding's value is a string whose key the handler skips: the key ends just before
    // the `":"`, for `obfuscation` is no JSON literal, and `:` is followed by the value.
    auto const at = rest.find(pad_lead);
    if (at == std::string_view::npos) {
        t.before_pad.assign(rest);
    } else {
        t.before_pad.assign(rest.substr(0, at + pad_lead.size()));
        rest.remove_prefix(at + pad_lead.size());
        bool plain = true;
        std::size_t const pad = read_string(rest, nullptr, plain);
        if (pad == 0) return;
        t.padded = true;
        t.after_pad.assign(rest.substr(pad));
    }
    t.answer = out;
    t.answer.content.clear();
    tail_ = std::move(t);
}

}  // namespace llmux::detail::openai
