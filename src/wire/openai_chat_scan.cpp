// SPDX-License-Identifier: BSL-1.0
#include "wire/openai_chat_scan.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>

#include <charconv>

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
    if (skip_) return true;
    if (next_ == slot::text || next_ == slot::content)
        text_->append(s.data(), s.size());
    else if (next_ == slot::count)
        number_.append(s.data(), s.size());
    return true;
}

bool handler::on_string(boost::json::string_view s, std::size_t, boost::json::error_code& ec) {
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

bool handler::on_int64(std::int64_t i, boost::json::string_view, boost::json::error_code& ec) {
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

}  // namespace

answer_scanner::answer_scanner()
    : p_(boost::json::parse_options{}), learn_budget_(learn_budget) {}

bool answer_scanner::parsed_all(std::string_view text, std::size_t n,
                                boost::json::error_code ec) const {
    return !ec && n == text.size() && !p_.handler().gave_up;
}

bool answer_scanner::read(std::string_view text, bool chunk, scanned_answer& out) {
    auto& h = p_.handler();
    boost::json::error_code ec;
    p_.reset();
    if (chunk && !prefix_.empty() && text.size() > prefix_.size() && text.starts_with(prefix_)) {
        ++hits_;
        learn_budget_ = learn_budget;
        text_.assign(stand_in);
        text_.append(text.substr(prefix_.size()));
        h.start(out, true, &learnt_);
        auto const n = p_.write_some(false, text_.data(), text_.size(), ec);
        return parsed_all(text_, n, ec);
    }
    h.start(out, chunk);
    std::size_t const split = chunk && learn_budget_ > 0 ? prefix_end(text) : 0;
    if (split != 0) {
        // Up to the prefix's end, the parser suspended there; then the rest.
        --learn_budget_;
        auto const n = p_.write_some(true, text.data(), split, ec);
        if (ec || n != split || h.gave_up) return false;
        if (h.at_message_start()) {
            prefix_.assign(text.substr(0, split));
            h.save(learnt_);
        }
        text.remove_prefix(split);
    }
    auto const n = p_.write_some(false, text.data(), text.size(), ec);
    return parsed_all(text, n, ec);
}

}  // namespace llmux::detail::openai
