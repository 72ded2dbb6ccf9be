// SPDX-License-Identifier: BSL-1.0
#include "cli/bench_report.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace llmux::cli {

namespace {

using namespace std::chrono;

double ms_of(nanoseconds d) { return static_cast<double>(d.count()) / 1e6; }

struct quantile {
    char const* name;
    double q;  // 1.0 is the maximum
};
constexpr quantile quantiles[] = {{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}, {"max", 1.0}};

double value_ms(latency_histogram const& h, double q) {
    return ms_of(q >= 1.0 ? h.max() : h.percentile(q));
}

boost::json::value opt_value(std::optional<double> v) {
    return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

// Three significant digits are plenty for a report and keep the JSON readable.
double round3(double v) {
    if (v == 0 || !std::isfinite(v)) return v;
    double const scale = std::pow(10.0, 2 - std::floor(std::log10(std::fabs(v))));
    return std::round(v * scale) / scale;
}

double round_us(double ms) { return std::round(ms * 1000.0) / 1000.0; }

boost::json::value histogram_json(latency_histogram const& h) {
    if (h.count() == 0) return nullptr;
    boost::json::object o;
    for (auto const& q : quantiles) o[q.name] = round_us(value_ms(h, q.q));
    o["min"] = round_us(ms_of(h.min()));
    o["mean"] = round_us(ms_of(h.mean()));
    return o;
}

std::string errors_text(bench_model const& m, char const* sep) {
    std::string out;
    for (auto const& [code, n] : m.errors) {
        if (!out.empty()) out += sep;
        out += code + " " + std::to_string(n);
    }
    return out;
}

boost::json::object error_messages_json(bench_model const& m) {
    boost::json::object o;
    for (auto const& [code, message] : m.error_messages) o[code] = message;
    return o;
}

/// The errors of every model that had some, each code with its count and first message.
std::string errors_section(std::vector<bench_model> const& models, palette const& p,
                           std::size_t width) {
    std::string out;
    for (auto const& m : models) {
        if (m.errors.empty()) continue;
        if (out.empty()) out += "\n" + p.bold("errors") + "\n";
        out += "  " + m.model + ": " + p.red(errors_text(m, ", ")) + " (" +
               std::to_string(m.failed) + " of " + std::to_string(m.done()) + ")\n";
        // What went wrong, not only its name: the first failure of each code, on one line.
        for (auto const& [code, message] : m.error_messages)
            out += "    " + truncate(printable(message, false), width > 20 ? width - 4 : 16) + "\n";
    }
    return out;
}

/// The vectors' length as the table shows it: "1536", "8-16" when they differed, "-" for none.
std::string dimensions_text(bench_model const& m) {
    if (m.vector_lengths.empty()) return "-";
    auto const lo = m.vector_lengths.begin()->first, hi = m.vector_lengths.rbegin()->first;
    return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
}

boost::json::value dimensions_json(bench_model const& m) {
    auto const d = m.dimensions();
    return d ? boost::json::value(*d) : boost::json::value(nullptr);
}

/// Vector lengths with their counts: {"1536": 200}.
boost::json::object vector_lengths_json(bench_model const& m) {
    boost::json::object o;
    for (auto const& [length, n] : m.vector_lengths) o[std::to_string(length)] = n;
    return o;
}

std::string errors_csv(bench_model const& m) {
    std::string out;
    for (auto const& [code, n] : m.errors)
        out += (out.empty() ? "" : ";") + code + "=" + std::to_string(n);
    return out;
}

std::string percent(double fraction) {
    double const p = fraction * 100;
    if (p == 0) return "0%";
    return fixed(p, p < 10 ? 1 : 0) + "%";
}

std::string rate_text(std::optional<double> v) {
    if (!v) return "-";
    return fixed(*v, *v < 10 ? 2 : *v < 100 ? 1 : 0);
}

/// A model id broken into lines of at most `width` columns at its natural joints: before the
/// `~` of emulator directives and after their commas (the table's wrapping breaks at spaces
/// only, and ids have none).
std::string break_id(std::string_view id, std::size_t width) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 0; start < id.size();) {
        auto const tilde = id.find('~', start + 1);
        auto const comma = id.find(',', start);
        std::size_t end = std::min(tilde, comma == std::string_view::npos ? comma : comma + 1);
        if (end == std::string_view::npos || end > id.size()) end = id.size();
        parts.push_back(id.substr(start, end - start));
        start = end;
    }
    std::string out, line;
    for (auto part : parts) {
        if (!line.empty() && display_width(line) + display_width(part) > width) {
            out += line + "\n";
            line.clear();
        }
        line += part;
    }
    return out + line;
}

std::string settings_line(bench_settings const& s) {
    std::string out = std::to_string(s.requests) + " request" + (s.requests == 1 ? "" : "s") +
                      " per model";
    if (s.warmup) out += " (after " + std::to_string(s.warmup) + " warm-up)";
    out += ", " + std::to_string(s.concurrency) + " in flight per model, ";
    if (s.embed) {
        out += "embeddings of " + std::to_string(s.inputs_per_call) + " input" +
               (s.inputs_per_call == 1 ? "" : "s") + " per call";
        if (s.dimensions) out += ", " + std::to_string(*s.dimensions) + " dimensions asked";
    } else {
        out += s.stream ? "streamed" : "whole answers";
    }
    if (s.emulated) out += ", on the built-in emulator";
    if (!s.started_at.empty()) out += ", started " + s.started_at;
    return out;
}

// ---- SVG ----------------------------------------------------------------------------------

/// XML text and attribute values.
std::string esc(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
            // Control characters are not allowed in XML 1.0.
            if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
                out += ' ';
            else
                out += c;
        }
    }
    return out;
}

std::string num(double v) { return fixed(v, 1); }

// Tableau 10: distinct and readable on white, including for most colour-blind readers.
constexpr char const* colours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
char const* colour(std::size_t i) { return colours[i % std::size(colours)]; }

/// A "nice" axis: 0 to a round maximum in about `target` steps of 1, 2, 2.5 or 5 × 10^k.
struct axis {
    double max = 1;
    double step = 1;
};
axis nice_axis(double max, int target = 5) {
    if (!(max > 0) || !std::isfinite(max)) return {};
    double const raw = max / target;
    double const mag = std::pow(10.0, std::floor(std::log10(raw)));
    double const norm = raw / mag;
    double const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
    return {std::ceil(max / step - 1e-9) * step, step};
}

std::string tick_label(double v, double step) {
    // As many decimals as the step needs: 0.25 → 2, 2.5 → 1, 200 → 0.
    int decimals = 0;
    for (double scaled = step; decimals < 6 && std::fabs(scaled - std::round(scaled)) > 1e-6;
         scaled *= 10)
        ++decimals;
    return fixed(v, decimals);
}

struct svg_writer {
    std::string out;

    void text(double x, double y, std::string_view s, char const* extra = "") {
        out += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\"" + extra + ">" + esc(s) +
               "</text>\n";
    }
    void line(double x1, double y1, double x2, double y2, char const* style) {
        out += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
               num(y2) + "\" " + style + "/>\n";
    }
};

struct rect_area {
    double x, y, w, h;
};

/// Frame, horizontal grid lines with tick labels on the left, and the axis titles.
void y_axis(svg_writer& w, rect_area a, axis ax, std::string_view title, bool percent_ticks) {
    for (double v = 0; v <= ax.max + ax.step / 2; v += ax.step) {
        double const y = a.y + a.h - v / ax.max * a.h;
        w.line(a.x, y, a.x + a.w, y, v == 0 ? "stroke=\"#333\"" : "stroke=\"#e3e3e3\"");
        w.line(a.x - 4, y, a.x, y, "stroke=\"#333\"");
        std::string label = percent_ticks ? fixed(v, 0) + "%" : tick_label(v, ax.step);
        w.text(a.x - 7, y + 4, label, " text-anchor=\"end\" class=\"tick\"");
    }
    w.line(a.x, a.y, a.x, a.y + a.h, "stroke=\"#333\"");
    double const cx = a.x - 48, cy = a.y + a.h / 2;
    w.out += "<text x=\"" + num(cx) + "\" y=\"" + num(cy) + "\" transform=\"rotate(-90 " + num(cx) +
             " " + num(cy) + ")\" text-anchor=\"middle\" class=\"axis-title\">" + esc(title) +
             "</text>\n";
}

/// One bar panel: groups p50, p90, p99, max; within each, one bar per model.
void bar_panel(svg_writer& w, std::vector<bench_model> const& models, rect_area a, axis ax,
               bool ttft, std::string_view title) {
    w.out += "<g class=\"panel " + std::string(ttft ? "ttft" : "total") + "\">\n";
    w.text(a.x, a.y - 12, title, " class=\"panel-title\"");
    y_axis(w, a, ax, "milliseconds", false);
    double const group = a.w / std::size(quantiles);
    for (std::size_t g = 0; g < std::size(quantiles); ++g) {
        double const x = a.x + group * (g + 0.5);
        w.line(x, a.y + a.h, x, a.y + a.h + 4, "stroke=\"#333\"");
        w.text(x, a.y + a.h + 18, quantiles[g].name, " text-anchor=\"middle\" class=\"tick\"");
    }
    double const inner = group * 0.8;
    double const bar = inner / std::max<std::size_t>(models.size(), 1);
    for (std::size_t i = 0; i < models.size(); ++i) {
        auto const& m = models[i];
        auto const& h = ttft ? m.ttft : m.latency;
        w.out += "<g class=\"series " + std::string(ttft ? "ttft" : "total") + "\" fill=\"" +
                 colour(i) + "\">\n<title>" + esc(m.model) + "</title>\n";
        if (h.count()) {
            for (std::size_t g = 0; g < std::size(quantiles); ++g) {
                double const v = value_ms(h, quantiles[g].q);
                double const bh = std::min(v / ax.max, 1.0) * a.h;
                double const x = a.x + group * g + (group - inner) / 2 + bar * i;
                w.out += "<rect x=\"" + num(x + bar * 0.08) + "\" y=\"" + num(a.y + a.h - bh) +
                         "\" width=\"" + num(bar * 0.84) + "\" height=\"" + num(bh) +
                         "\"><title>" + esc(m.model) + " " + (ttft ? "TTFT " : "latency ") +
                         quantiles[g].name + ": " + esc(format_duration_ms(v)) +
                         "</title></rect>\n";
                // The value over the bar when it fits; hover titles carry it otherwise.
                if (bar >= 26)
                    w.text(x + bar / 2, a.y + a.h - bh - 4, format_ms(v),
                           " text-anchor=\"middle\" class=\"value\"");
            }
        }
        w.out += "</g>\n";
    }
    w.out += "</g>\n";
}

/// The CDF of one histogram as a step path: x in ms on `ax`, y the share at or below.
std::string cdf_path(latency_histogram const& h, rect_area a, axis ax) {
    auto const total = h.count();
    if (!total) return {};
    auto const lo = static_cast<std::uint64_t>(h.min().count());
    auto const hi = static_cast<std::uint64_t>(h.max().count());
    auto x_of = [&](double ns) { return a.x + std::min(ns / 1e6 / ax.max, 1.0) * a.w; };
    auto y_of = [&](double share) { return a.y + a.h - share * a.h; };
    std::string d = "M" + num(x_of(double(lo))) + " " + num(y_of(0));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < latency_histogram::bucket_count; ++i) {
        auto const n = h.bucket(i);
        if (!n) continue;
        std::uint64_t const b0 = latency_histogram::bucket_lower(i);
        std::uint64_t const b1 = i + 1 < latency_histogram::bucket_count
                                     ? latency_histogram::bucket_lower(i + 1)
                                     : b0;
        auto const mid = std::clamp<std::uint64_t>(b0 + (b1 - b0) / 2, lo, hi);
        seen += n;
        d += "H" + num(x_of(double(mid))) + "V" + num(y_of(double(seen) / double(total)));
    }
    d += "H" + num(a.x + a.w);
    return d;
}

/// The CDF of latency per model and, unless `with_ttft` is false (embeddings), of TTFT.
void cdf_panel(svg_writer& w, std::vector<bench_model> const& models, rect_area a, axis ax,
               bool with_ttft) {
    w.out += "<g class=\"panel cdf\">\n";
    w.text(a.x, a.y - 12,
           with_ttft ? "Cumulative distribution: share of successful requests done within x "
                       "(solid: total latency, dashed: TTFT)"
                     : "Cumulative distribution: share of successful requests done within x "
                       "(total latency)",
           " class=\"panel-title\"");
    y_axis(w, a, {100, 25}, "% of successful requests", true);
    for (double p : {90.0, 99.0}) {
        double const y = a.y + a.h - p / 100 * a.h;
        w.line(a.x, y, a.x + a.w, y, "stroke=\"#bbb\" stroke-dasharray=\"2 3\"");
        w.text(a.x + a.w + 4, y + 4, "p" + fixed(p, 0), " class=\"tick\"");
    }
    for (double v = 0; v <= ax.max + ax.step / 2; v += ax.step) {
        double const x = a.x + v / ax.max * a.w;
        w.line(x, a.y + a.h, x, a.y + a.h + 4, "stroke=\"#333\"");
        w.text(x, a.y + a.h + 18, tick_label(v, ax.step), " text-anchor=\"middle\" class=\"tick\"");
    }
    w.text(a.x + a.w / 2, a.y + a.h + 38, "milliseconds since the request was sent",
           " text-anchor=\"middle\" class=\"axis-title\"");
    for (int pass = 0; pass < (with_ttft ? 2 : 1); ++pass) {
        bool const ttft = pass == 1;
        for (std::size_t i = 0; i < models.size(); ++i) {
            auto const& m = models[i];
            w.out += "<g class=\"series " + std::string(ttft ? "cdf-ttft" : "cdf-total") +
                     "\" fill=\"none\" stroke=\"" + colour(i) + "\" stroke-width=\"2\"" +
                     (ttft ? " stroke-dasharray=\"6 4\"" : "") + ">\n<title>" + esc(m.model) +
                     "</title>\n";
            auto d = cdf_path(ttft ? m.ttft : m.latency, a, ax);
            if (!d.empty()) w.out += "<path d=\"" + d + "\"/>\n";
            w.out += "</g>\n";
        }
    }
    w.out += "</g>\n";
}

/// One bar per model: texts embedded per second (embedding runs).
void rate_panel(svg_writer& w, std::vector<bench_model> const& models, rect_area a) {
    double max_rate = 0;
    for (auto const& m : models)
        if (auto r = m.inputs_per_second()) max_rate = std::max(max_rate, *r);
    axis const ax = nice_axis(max_rate);
    w.out += "<g class=\"panel rate\">\n";
    w.text(a.x, a.y - 12, "Inputs embedded per second (successful calls)",
           " class=\"panel-title\"");
    y_axis(w, a, ax, "inputs per second", false);
    double const slot = a.w / static_cast<double>(std::max<std::size_t>(models.size(), 1));
    double const bar = std::min(slot * 0.7, 80.0);
    for (std::size_t i = 0; i < models.size(); ++i) {
        auto const& m = models[i];
        w.out += std::string("<g class=\"series rate\" fill=\"") + colour(i) + "\">\n<title>" +
                 esc(m.model) + "</title>\n";
        if (auto r = m.inputs_per_second()) {
            double const bh = std::min(*r / ax.max, 1.0) * a.h;
            double const x = a.x + slot * (static_cast<double>(i) + 0.5) - bar / 2;
            w.out += "<rect x=\"" + num(x) + "\" y=\"" + num(a.y + a.h - bh) + "\" width=\"" +
                     num(bar) + "\" height=\"" + num(bh) + "\"><title>" + esc(m.model) + ": " +
                     rate_text(r) + " inputs/s</title></rect>\n";
            if (bar >= 26)
                w.text(x + bar / 2, a.y + a.h - bh - 4, rate_text(r),
                       " text-anchor=\"middle\" class=\"value\"");
        }
        w.out += "</g>\n";
    }
    w.out += "</g>\n";
}

/// The SVG element itself, without an XML declaration (so HTML can embed it).
std::string svg_element(std::vector<bench_model> const& models, bench_settings const& s) {
    constexpr double width = 960;
    constexpr double char_w = 7.0;  // average advance of the 12px sans-serif legend text
    svg_writer w;

    // The legend: swatch and model id, flowing over as many rows as needed.
    struct item {
        double x, y;
    };
    std::vector<item> items;
    double lx = 60, ly = 76;
    for (auto const& m : models) {
        std::string label = m.model + (m.ok ? "" : " (no successful calls)");
        double const iw = 22 + char_w * double(display_width(label)) + 18;
        if (lx + iw > width - 20 && lx > 60) {
            lx = 60;
            ly += 20;
        }
        items.push_back({lx, ly});
        lx += iw;
    }
    double const top = ly + 46;

    double max_ms = 0;
    for (auto const& m : models) {
        if (m.latency.count()) max_ms = std::max(max_ms, ms_of(m.latency.max()));
        if (m.ttft.count() && !s.embed) max_ms = std::max(max_ms, ms_of(m.ttft.max()));
    }
    axis const ax = nice_axis(max_ms);
    rect_area const left{70, top, 380, 240};
    rect_area const right{560, top, 380, 240};
    rect_area const bottom{70, top + 240 + 90, 840, 280};
    double const height = bottom.y + bottom.h + 80;

    w.out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + num(width) +
             "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + num(width) + " " + num(height) +
             "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
    w.out += s.embed
                 ? "<title>llmux bench --embed: latency and inputs per second per model</title>\n"
                 : "<title>llmux bench: latency per model</title>\n";
    w.out += "<style>.tick{fill:#444;font-size:11px}.value{fill:#333;font-size:9px}"
             ".axis-title{fill:#333;font-size:12px}.panel-title{fill:#111;font-size:13px;"
             "font-weight:bold}.note{fill:#666;font-size:11px}</style>\n";
    w.out += "<rect x=\"0\" y=\"0\" width=\"" + num(width) + "\" height=\"" + num(height) +
             "\" fill=\"#ffffff\"/>\n";
    w.text(20, 28,
           s.embed ? "llmux bench --embed: latency and inputs per second per model"
                   : "llmux bench: time to first token and latency per model",
           " font-size=\"17\" font-weight=\"bold\" fill=\"#111\"");
    w.text(20, 48, settings_line(s), " class=\"note\"");

    w.out += "<g class=\"legend\">\n";
    for (std::size_t i = 0; i < models.size(); ++i) {
        auto const& m = models[i];
        w.out += "<rect x=\"" + num(items[i].x) + "\" y=\"" + num(items[i].y - 10) +
                 "\" width=\"14\" height=\"12\" fill=\"" + colour(i) + "\"/>\n";
        w.text(items[i].x + 20, items[i].y, m.model + (m.ok ? "" : " (no successful calls)"),
               " fill=\"#222\"");
    }
    w.out += "</g>\n";

    if (s.embed) {
        // An embedding comes whole: no first token to time, so latency and throughput.
        bar_panel(w, models, left, ax, false, "Latency per call (request sent to last byte)");
        rate_panel(w, models, right);
    } else {
        bar_panel(w, models, left, ax, true, s.stream ? "Time to first token (first content chunk)"
                                                      : "Time to first byte of the response");
        bar_panel(w, models, right, ax, false, "Total latency (request sent to last byte)");
    }
    cdf_panel(w, models, bottom, ax, !s.embed);
    w.text(20, height - 14,
           "Successful requests only; failures are counted in the error rate. Percentiles from a "
           "log-linear histogram (error under 0.8%). Made by llmux bench.",
           " class=\"note\"");
    w.out += "</svg>\n";
    return w.out;
}

std::string csv_field(std::string_view s) {
    if (s.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(s);
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string csv_number(std::optional<double> v, int digits) {
    if (!v) return "";
    std::string s = fixed(*v, digits);
    if (s.find('.') != std::string::npos) {
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
    }
    return s;
}

}  // namespace

std::optional<double> bench_model::tokens_per_second() const noexcept {
    if (rate_time <= nanoseconds::zero() || rate_tokens <= 0) return std::nullopt;
    return rate_tokens / (static_cast<double>(rate_time.count()) / 1e9);
}

std::optional<double> bench_model::requests_per_second() const noexcept {
    if (wall <= nanoseconds::zero() || done() == 0) return std::nullopt;
    return static_cast<double>(done()) / (static_cast<double>(wall.count()) / 1e9);
}

std::optional<double> bench_model::inputs_per_second() const noexcept {
    if (wall <= nanoseconds::zero() || inputs == 0) return std::nullopt;
    return static_cast<double>(inputs) / (static_cast<double>(wall.count()) / 1e9);
}

std::optional<std::size_t> bench_model::dimensions() const noexcept {
    if (vector_lengths.size() != 1) return std::nullopt;
    return vector_lengths.begin()->first;
}

double bench_model::error_rate() const noexcept {
    return done() ? static_cast<double>(failed) / static_cast<double>(done()) : 0.0;
}

namespace {

/// The model column of a fitted table, wrapped at the ids' joints and no wider than the longest.
void wrap_model_column(table& t, std::size_t longest) {
    auto const model_w = std::min(t.columns().front().width, longest);
    table shown(t.columns());
    for (auto row : t.rows()) {
        row.front().text = break_id(row.front().text, model_w);
        shown.add(std::move(row));
    }
    shown.columns().front().width = model_w;
    t = std::move(shown);
}

/// A group line over the four columns from `first`: "---- LATENCY ms ----".
std::string column_group(table& t, std::size_t first, char const* label) {
    auto const& cols = t.columns();
    auto col_start = [&](std::size_t c) {
        std::size_t x = 0;
        for (std::size_t i = 0; i < c; ++i) x += cols[i].width + 2;
        return x;
    };
    std::size_t const w = col_start(first + 4) - 2 - col_start(first);
    std::string text = label;
    std::size_t const lw = display_width(text);
    std::size_t const dashes = w > lw + 2 ? w - lw - 2 : 0;
    return std::string(dashes / 2, '-') + " " + text + " " + std::string(dashes - dashes / 2, '-');
}

/// The table of an embedding run: no TTFT and no output tokens (an embedding has neither), but
/// inputs per second and the vectors' length.
std::string embed_table(std::vector<bench_model> const& models, bench_settings const& s,
                        palette const& p, std::size_t width) {
    std::size_t longest = 5;
    for (auto const& m : models) longest = std::max(longest, display_width(m.model));
    table t({{"MODEL", false, true, 0, std::min<std::size_t>(longest, 26)},
             {"OK", true},
             {"ERR", true},
             {"p50", true, false, 0, 5},
             {"p90", true, false, 0, 5},
             {"p99", true, false, 0, 5},
             {"max", true, false, 0, 5},
             {"INPUTS/S", true},
             {"REQ/S", true},
             {"DIM", true},
             {"COST", true}});
    for (auto const& m : models) {
        std::vector<table::cell> row{{m.model, "1"},
                                     {std::to_string(m.ok)},
                                     {percent(m.error_rate()), m.failed ? "31" : nullptr}};
        for (auto const& q : quantiles)
            row.push_back({m.latency.count() ? format_ms(value_ms(m.latency, q.q)) : "-"});
        row.push_back({rate_text(m.inputs_per_second())});
        row.push_back({rate_text(m.requests_per_second())});
        // Lengths that differ between vectors are a provider's fault worth seeing.
        row.push_back({dimensions_text(m), m.vector_lengths.size() > 1 ? "31" : nullptr});
        row.push_back({format_usd(m.ok > m.unpriced ? std::optional(m.cost_usd) : std::nullopt)});
        t.add(std::move(row));
    }
    t.fit(width);
    wrap_model_column(t, longest);
    std::size_t x = 0;
    for (std::size_t i = 0; i < 3; ++i) x += t.columns()[i].width + 2;
    std::string const groups = std::string(x, ' ') + column_group(t, 3, "LATENCY ms");

    std::string out = p.dim(settings_line(s)) + "\n\n";
    out += p.bold(groups) + "\n";
    out += t.render(p);
    out += errors_section(models, p, width);
    out += "\n";
    out += p.dim(
        "Latency: request sent to last byte of the call (all its batches); successful calls "
        "only.\nINPUTS/S: texts embedded per second of the model's wall time. REQ/S: finished "
        "calls per second of it. DIM: the vectors' length.\n");
    return out;
}

}  // namespace

std::string bench_table(std::vector<bench_model> const& models, bench_settings const& s,
                        palette const& p, std::size_t width) {
    if (s.embed) return embed_table(models, s, p, width);
    std::size_t longest = 5;
    for (auto const& m : models) longest = std::max(longest, display_width(m.model));
    table t({{"MODEL", false, true, 0, std::min<std::size_t>(longest, 26)},
             {"OK", true},
             {"ERR", true},
             {"p50", true, false, 0, 5},
             {"p90", true, false, 0, 5},
             {"p99", true, false, 0, 5},
             {"max", true, false, 0, 5},
             {"p50", true, false, 0, 5},
             {"p90", true, false, 0, 5},
             {"p99", true, false, 0, 5},
             {"max", true, false, 0, 5},
             {"TOK/S", true},
             {"REQ/S", true},
             {"COST", true}});
    for (auto const& m : models) {
        std::vector<table::cell> row{{m.model, "1"},
                                     {std::to_string(m.ok)},
                                     {percent(m.error_rate()), m.failed ? "31" : nullptr}};
        for (auto const* h : {&m.ttft, &m.latency})
            for (auto const& q : quantiles)
                row.push_back({h->count() ? format_ms(value_ms(*h, q.q)) : "-"});
        row.push_back({rate_text(m.tokens_per_second())});
        row.push_back({rate_text(m.requests_per_second())});
        row.push_back({format_usd(m.ok > m.unpriced ? std::optional(m.cost_usd) : std::nullopt)});
        t.add(std::move(row));
    }
    t.fit(width);
    // The model column wraps long ids but need not be wider than the longest.
    wrap_model_column(t, longest);

    // A group line over the percentile columns: "TTFT ms" and "LATENCY ms".
    std::size_t x = 0;
    for (std::size_t i = 0; i < 3; ++i) x += t.columns()[i].width + 2;
    std::string groups(x, ' ');
    groups += column_group(t, 3, "TTFT ms");
    groups += "  ";
    groups += column_group(t, 7, "LATENCY ms");

    std::string out = p.dim(settings_line(s)) + "\n\n";
    out += p.bold(groups) + "\n";
    out += t.render(p);
    out += errors_section(models, p, width);
    out += "\n";
    out += p.dim(
        "TTFT: time to first token (" +
        std::string(s.stream ? "the first content chunk" : "whole answers: the response head") +
        "); latency: request sent to last byte; successful calls only.\n"
        "TOK/S: output tokens per second, summed per model (" +
        std::string(s.stream ? "streams: tokens after the first / (latency - TTFT)"
                             : "output tokens / latency") +
        "). REQ/S: finished calls per second of the model's wall time.\n");
    return out;
}

namespace {

boost::json::object embed_json(std::vector<bench_model> const& models, bench_settings const& s) {
    boost::json::object settings{{"requests", s.requests},
                                 {"concurrency", s.concurrency},
                                 {"concurrency_scope", "per_model"},
                                 {"warmup", s.warmup},
                                 {"embed", true},
                                 {"inputs_per_call", s.inputs_per_call},
                                 {"dimensions", s.dimensions ? boost::json::value(*s.dimensions)
                                                             : boost::json::value(nullptr)},
                                 {"emulated", s.emulated},
                                 {"started_at", s.started_at}};
    boost::json::array list;
    for (auto const& m : models) {
        boost::json::object errors;
        for (auto const& [code, n] : m.errors) errors[code] = n;
        auto ips = m.inputs_per_second();
        auto rps = m.requests_per_second();
        list.push_back(boost::json::object{
            {"model", m.model},
            {"requests", m.done()},
            {"ok", m.ok},
            {"failed", m.failed},
            {"error_rate", round3(m.error_rate())},
            {"errors", std::move(errors)},
            {"error_messages", error_messages_json(m)},
            {"latency_ms", histogram_json(m.latency)},
            {"inputs", m.inputs},
            {"inputs_per_second", opt_value(ips ? std::optional(round3(*ips)) : ips)},
            {"requests_per_second", opt_value(rps ? std::optional(round3(*rps)) : rps)},
            {"dimensions", dimensions_json(m)},
            {"vector_lengths", vector_lengths_json(m)},
            {"batches", m.batches},
            {"input_tokens", m.input_tokens},
            {"unknown_usage", m.unknown_usage},
            {"cost_usd", m.ok > m.unpriced ? boost::json::value(m.cost_usd)
                                           : boost::json::value(nullptr)},
            {"unpriced", m.unpriced},
            {"wall_ms", round_us(ms_of(m.wall))}});
    }
    return {{"settings", std::move(settings)}, {"models", std::move(list)}};
}

}  // namespace

boost::json::object bench_json(std::vector<bench_model> const& models, bench_settings const& s) {
    if (s.embed) return embed_json(models, s);
    boost::json::object settings{{"requests", s.requests},
                                 {"concurrency", s.concurrency},
                                 {"concurrency_scope", "per_model"},
                                 {"warmup", s.warmup},
                                 {"embed", false},
                                 {"stream", s.stream},
                                 {"emulated", s.emulated},
                                 {"prompt_chars", s.prompt_chars},
                                 {"started_at", s.started_at}};
    boost::json::array list;
    for (auto const& m : models) {
        boost::json::object errors;
        for (auto const& [code, n] : m.errors) errors[code] = n;
        auto tps = m.tokens_per_second();
        auto rps = m.requests_per_second();
        list.push_back(boost::json::object{
            {"model", m.model},
            {"requests", m.done()},
            {"ok", m.ok},
            {"failed", m.failed},
            {"error_rate", round3(m.error_rate())},
            {"errors", std::move(errors)},
            {"error_messages", error_messages_json(m)},
            {"ttft_ms", histogram_json(m.ttft)},
            {"latency_ms", histogram_json(m.latency)},
            {"output_tokens_per_second", opt_value(tps ? std::optional(round3(*tps)) : tps)},
            {"requests_per_second", opt_value(rps ? std::optional(round3(*rps)) : rps)},
            {"input_tokens", m.input_tokens},
            {"output_tokens", m.output_tokens},
            {"cached_input_tokens", m.cached_input_tokens},
            {"cache_write_tokens", m.cache_write_tokens},
            {"reasoning_tokens", m.reasoning_tokens},
            {"unknown_usage", m.unknown_usage},
            {"cost_usd", m.ok > m.unpriced ? boost::json::value(m.cost_usd)
                                           : boost::json::value(nullptr)},
            {"unpriced", m.unpriced},
            {"wall_ms", round_us(ms_of(m.wall))}});
    }
    return {{"settings", std::move(settings)}, {"models", std::move(list)}};
}

std::string bench_csv(std::vector<bench_model> const& models, bench_settings const& s) {
    if (s.embed) {
        std::string out =
            "model,requests,ok,failed,error_rate,latency_p50_ms,latency_p90_ms,latency_p99_ms,"
            "latency_max_ms,inputs,inputs_per_second,requests_per_second,dimensions,batches,"
            "input_tokens,cost_usd,errors\n";
        for (auto const& m : models) {
            out += csv_field(m.model) + "," + std::to_string(m.done()) + "," +
                   std::to_string(m.ok) + "," + std::to_string(m.failed) + "," +
                   csv_number(m.error_rate(), 4);
            for (auto const& q : quantiles)
                out += "," + (m.latency.count() ? csv_number(value_ms(m.latency, q.q), 3)
                                                : std::string());
            auto const dims = m.dimensions();
            out += "," + std::to_string(m.inputs) + "," + csv_number(m.inputs_per_second(), 2) +
                   "," + csv_number(m.requests_per_second(), 3) + "," +
                   (dims ? std::to_string(*dims) : std::string()) + "," +
                   std::to_string(m.batches) + "," + std::to_string(m.input_tokens) + "," +
                   csv_number(m.ok > m.unpriced ? std::optional(m.cost_usd) : std::nullopt, 9) +
                   "," + csv_field(errors_csv(m)) + "\n";
        }
        return out;
    }
    std::string out =
        "model,requests,ok,failed,error_rate,ttft_p50_ms,ttft_p90_ms,ttft_p99_ms,ttft_max_ms,"
        "latency_p50_ms,latency_p90_ms,latency_p99_ms,latency_max_ms,output_tokens_per_second,"
        "requests_per_second,input_tokens,output_tokens,cached_input_tokens,cache_write_tokens,"
        "reasoning_tokens,cost_usd,errors\n";
    for (auto const& m : models) {
        out += csv_field(m.model) + "," + std::to_string(m.done()) + "," + std::to_string(m.ok) +
               "," + std::to_string(m.failed) + "," + csv_number(m.error_rate(), 4);
        for (auto const* h : {&m.ttft, &m.latency})
            for (auto const& q : quantiles)
                out += "," + (h->count() ? csv_number(value_ms(*h, q.q), 3) : std::string());
        out += "," + csv_number(m.tokens_per_second(), 2) + "," +
               csv_number(m.requests_per_second(), 3) + "," + std::to_string(m.input_tokens) +
               "," + std::to_string(m.output_tokens) + "," + std::to_string(m.cached_input_tokens) +
               "," + std::to_string(m.cache_write_tokens) + "," + std::to_string(m.reasoning_tokens) +
               "," + csv_number(m.ok > m.unpriced ? std::optional(m.cost_usd) : std::nullopt, 9) + "," +
               csv_field(errors_csv(m)) + "\n";
    }
    return out;
}

std::string bench_svg(std::vector<bench_model> const& models, bench_settings const& s) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg_element(models, s);
}

std::string bench_html(std::vector<bench_model> const& models, bench_settings const& s) {
    std::string out =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<title>llmux bench</title>\n<style>\n"
        "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}\n"
        "table{border-collapse:collapse;margin:16px 0}\n"
        "th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}\n"
        "th:first-child,td:first-child{text-align:left;font-family:monospace}\n"
        "th{background:#f4f4f4}\n.note{color:#666;font-size:13px}\n</style>\n</head>\n<body>\n";
    out += "<h1>llmux bench</h1>\n<p class=\"note\">" + esc(settings_line(s)) + "</p>\n";
    out += svg_element(models, s);
    if (s.embed) {
        out += "<table>\n<thead>\n<tr><th rowspan=\"2\">model</th><th rowspan=\"2\">ok</th>"
               "<th rowspan=\"2\">errors</th><th colspan=\"4\">latency (ms)</th>"
               "<th rowspan=\"2\">inputs/s</th><th rowspan=\"2\">req/s</th>"
               "<th rowspan=\"2\">dimensions</th><th rowspan=\"2\">cost</th></tr>\n<tr>";
        for (auto const& q : quantiles) out += std::string("<th>") + q.name + "</th>";
        out += "</tr>\n</thead>\n<tbody>\n";
        for (auto const& m : models) {
            out += "<tr><td>" + esc(m.model) + "</td><td>" + std::to_string(m.ok) + "</td><td>" +
                   esc(percent(m.error_rate())) +
                   (m.errors.empty() ? "" : " (" + esc(errors_text(m, ", ")) + ")") + "</td>";
            for (auto const& q : quantiles)
                out += "<td>" + (m.latency.count() ? format_ms(value_ms(m.latency, q.q)) : "-") +
                       "</td>";
            out += "<td>" + rate_text(m.inputs_per_second()) + "</td><td>" +
                   rate_text(m.requests_per_second()) + "</td><td>" + dimensions_text(m) +
                   "</td><td>" +
                   esc(format_usd(m.ok > m.unpriced ? std::optional(m.cost_usd) : std::nullopt)) +
                   "</td></tr>\n";
        }
        out += "</tbody>\n</table>\n";
        out += "<p class=\"note\">Latency: request sent to last byte of the call (all its "
               "batches). Successful calls only; percentiles from a log-linear histogram with "
               "under 0.8% error. Inputs per second: texts embedded per second of the model's "
               "wall time.</p>\n</body>\n</html>\n";
        return out;
    }
    out += "<table>\n<thead>\n<tr><th rowspan=\"2\">model</th><th rowspan=\"2\">ok</th>"
           "<th rowspan=\"2\">errors</th><th colspan=\"4\">TTFT (ms)</th>"
           "<th colspan=\"4\">latency (ms)</th><th rowspan=\"2\">output tok/s</th>"
           "<th rowspan=\"2\">req/s</th><th rowspan=\"2\">cost</th></tr>\n<tr>";
    for (int i = 0; i < 2; ++i)
        for (auto const& q : quantiles) out += std::string("<th>") + q.name + "</th>";
    out += "</tr>\n</thead>\n<tbody>\n";
    for (auto const& m : models) {
        out += "<tr><td>" + esc(m.model) + "</td><td>" + std::to_string(m.ok) + "</td><td>" +
               esc(percent(m.error_rate())) +
               (m.errors.empty() ? "" : " (" + esc(errors_text(m, ", ")) + ")") + "</td>";
        for (auto const* h : {&m.ttft, &m.latency})
            for (auto const& q : quantiles)
                out += "<td>" + (h->count() ? format_ms(value_ms(*h, q.q)) : "-") + "</td>";
        out += "<td>" + rate_text(m.tokens_per_second()) + "</td><td>" +
               rate_text(m.requests_per_second()) + "</td><td>" +
               esc(format_usd(m.ok > m.unpriced ? std::optional(m.cost_usd) : std::nullopt)) +
               "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n";
    out += "<p class=\"note\">TTFT: time to first token (" +
           std::string(s.stream ? "the first content chunk" : "the response head") +
           "). Latency: request sent to last byte. Successful calls only; percentiles from a "
           "log-linear histogram with under 0.8% error. Output tokens per second are summed "
           "per model" +
           (s.stream ? std::string(" over the decoding time (latency - TTFT)") : "") +
           ".</p>\n</body>\n</html>\n";
    return out;
}

}  // namespace llmux::cli
