// SPDX-License-Identifier: BSL-1.0
// Behaviour directives: parsing, precedence and failure selection.
#include "emulator/plan.hpp"
#include "util/text.hpp"

#include <llmux/config.hpp>
#include <llmux/emulator.hpp>

#include <charconv>
#include <cmath>
#include <string>
#include <system_error>

namespace llmux {

namespace {

using detail::trim;

failure bad_directive(std::string_view item, std::string_view why) {
    return failure(error::invalid_config,
                   "invalid emulator directive '" + std::string(item) + "': " + std::string(why));
}

template <class Int>
bool parse_uint(std::string_view v, Int& out) noexcept {
    if (v.empty()) return false;
    auto const r = std::from_chars(v.data(), v.data() + v.size(), out);
    return r.ec == std::errc() && r.ptr == v.data() + v.size();
}

bool parse_double(std::string_view v, double& out) noexcept {
    if (v.empty()) return false;
    auto const r = std::from_chars(v.data(), v.data() + v.size(), out);
    return r.ec == std::errc() && r.ptr == v.data() + v.size() && std::isfinite(out);
}

result<emulator_behaviour::fault_kind> parse_fault(std::string_view v) {
    using fk = emulator_behaviour::fault_kind;
    if (v == "none") return fk::none;
    if (v == "reset") return fk::reset_before_headers;
    if (v == "reset_mid") return fk::reset_mid_stream;
    if (v == "truncate") return fk::truncate;
    if (v == "malformed") return fk::malformed_json;
    if (v == "stall") return fk::stall;
    if (v == "error_mid") return fk::error_mid_stream;
    if (v == "close") return fk::close_after_response;
    return failure(error::invalid_config);
}

constexpr std::size_t max_tokens_directive = 1'000'000;

}  // namespace

result<emulator_behaviour> parse_behaviour(std::string_view directives, emulator_behaviour b) {
    std::string_view rest = directives;
    while (!rest.empty()) {
        auto const comma = rest.find(',');
        std::string_view const item = trim(rest.substr(0, comma));
        std::string_view const next =
            comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (item.empty()) {  // tolerate "a=1,,b=2" and a trailing comma
            rest = next;
            continue;
        }
        auto const eq = item.find('=');
        if (eq == std::string_view::npos) return bad_directive(item, "expected key=value");
        std::string key(trim(item.substr(0, eq)));
        for (char& c : key)
            if (c == '-') c = '_';  // retry-after and retry_after alike
        std::string_view const value = trim(item.substr(eq + 1));

        if (key == "reply") {
            // The reply is free text: it takes the rest of the directives, commas included.
            auto const start = rest.find('=') + 1;
            b.reply = std::string(trim(rest.substr(start)));
            break;
        } else if (key == "latency" || key == "ttft" || key == "retry_after") {
            auto d = parse_duration(value);
            if (!d) return bad_directive(item, d.error().diag.message);
            if (key == "latency")
                b.latency = *d;
            else if (key == "ttft")
                b.ttft = *d;
            else
                b.retry_after = *d;
        } else if (key == "tps") {
            double v = 0;
            if (!parse_double(value, v) || v < 0)
                return bad_directive(item, "expected tokens per second, a number >= 0");
            b.tokens_per_second = v;
        } else if (key == "error") {
            unsigned v = 0;
            if (!parse_uint(value, v) || (v != 0 && (v < 400 || v > 599)))
                return bad_directive(item,
                                     "expected an HTTP error status from 400 to 599 (0: none)");
            b.error_status = v;
        } else if (key == "fault") {
            auto f = parse_fault(value);
            if (!f)
                return bad_directive(item, "expected one of none, reset, reset_mid, truncate, "
                                           "malformed, stall, error_mid, close");
            b.fault = *f;
        } else if (key == "after") {
            std::size_t v = 0;
            if (!parse_uint(value, v)) return bad_directive(item, "expected a chunk count >= 0");
            b.fault_after = v;
        } else if (key == "tokens") {
            std::size_t v = 0;
            if (!parse_uint(value, v) || v > max_tokens_directive)
                return bad_directive(item, "expected a token count from 0 to 1000000");
            b.output_tokens = v;
        } else if (key == "fail_first") {
            unsigned v = 0;
            if (!parse_uint(value, v)) return bad_directive(item, "expected a request count >= 0");
            b.fail_first = v;
        } else if (key == "error_rate") {
            double v = 0;
            if (!parse_double(value, v) || v < 0 || v > 1)
                return bad_directive(item, "expected a fraction from 0 to 1");
            b.error_rate = v;
        } else if (key == "max_concurrency") {
            unsigned v = 0;
            if (!parse_uint(value, v)) return bad_directive(item, "expected a request count >= 0");
            b.max_concurrency = v;
        } else if (key == "jitter") {
            double v = 0;
            if (!parse_double(value, v) || v < 0 || v > 100)
                return bad_directive(item, "expected a spread factor from 0 to 100");
            b.jitter = v;
        } else {
            return bad_directive(item,
                                 "unknown key (known: latency, ttft, tps, error, retry_after, "
                                 "fault, after, tokens, fail_first, error_rate, jitter, "
                                 "max_concurrency, reply)");
        }
        rest = next;
    }
    return b;
}

}  // namespace llmux

namespace llmux::detail {

std::string_view base_model(std::string_view model) noexcept {
    return model.substr(0, model.find('~'));
}

result<emulator_behaviour> resolve_behaviour(emulator_config const& cfg, std::string_view model,
                                             std::string_view header) {
    emulator_behaviour b = cfg.defaults;
    auto const base = base_model(model);
    if (auto it = cfg.scripts.find(base); it != cfg.scripts.end()) b = it->second;
    if (base.size() < model.size()) {
        auto r = parse_behaviour(model.substr(base.size() + 1), std::move(b));
        if (!r) return r.error();
        b = std::move(*r);
    }
    if (!header.empty()) {
        auto r = parse_behaviour(header, std::move(b));
        if (!r) return r.error();
        b = std::move(*r);
    }
    return b;
}

double jitter_factor(double jitter, std::uint64_t n) noexcept {
    if (jitter <= 0) return 1;
    // splitmix64 of the request number: a uniform u in (0, 1), then E = -ln(u).
    std::uint64_t z = n + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double const u = (static_cast<double>(z >> 11) + 0.5) / 9007199254740992.0;
    return 1 + jitter * -std::log(u);
}

bool selected_for_failure(emulator_behaviour const& b, std::uint64_t n) noexcept {
    if (b.fail_first == 0 && b.error_rate <= 0) return true;
    if (n < b.fail_first) return true;
    if (b.error_rate > 0) {
        // Request n fails when floor((n+1)*rate) steps past floor(n*rate): exactly the rate,
        // evenly spread, the same on every run.
        auto const before =
            static_cast<std::uint64_t>(std::floor(static_cast<double>(n) * b.error_rate));
        auto const after =
            static_cast<std::uint64_t>(std::floor(static_cast<double>(n + 1) * b.error_rate));
        return after > before;
    }
    return false;
}

}  // namespace llmux::detail
