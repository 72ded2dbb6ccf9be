// SPDX-License-Identifier: BSL-1.0
#include "cli/term.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace llmux::cli {

namespace {

std::size_t env_size(char const* name) {
    char const* v = std::getenv(name);
    if (!v || !*v) return 0;
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    return (end && *end == '\0' && n > 0) ? static_cast<std::size_t>(n) : 0;
}

// Bytes of the UTF-8 sequence starting at s[i] (1 for stray continuation bytes, so a broken
// sequence still advances).
std::size_t cp_len(std::string_view s, std::size_t i) {
    auto const c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    return std::min(n, s.size() - i);
}

// Bytes of an ANSI CSI sequence (ESC [ ... final) at s[i], or 0.
std::size_t csi_len(std::string_view s, std::size_t i) {
    if (s[i] != '\x1b' || i + 1 >= s.size() || s[i + 1] != '[') return 0;
    std::size_t j = i + 2;
    while (j < s.size() && !(s[j] >= 0x40 && s[j] <= 0x7e)) ++j;
    return j < s.size() ? j - i + 1 : s.size() - i;
}

// The prefix of plain `s` that fits in `width` columns, in bytes.
std::size_t fit_bytes(std::string_view s, std::size_t width) {
    std::size_t i = 0, cols = 0;
    while (i < s.size() && cols < width) {
        i += cp_len(s, i);
        ++cols;
    }
    return i;
}

std::string trim_right(std::string s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

}  // namespace

bool is_terminal(int fd) { return ::isatty(fd) == 1; }

std::size_t terminal_width(int fd, std::size_t fallback) {
    if (auto n = env_size("COLUMNS")) return n;
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return fallback;
}

std::size_t terminal_height(int fd, std::size_t fallback) {
    if (auto n = env_size("LINES")) return n;
    winsize ws{};
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
    return fallback;
}

palette palette::for_fd(int fd) {
    palette p;
    char const* no_color = std::getenv("NO_COLOR");
    char const* term = std::getenv("TERM");
    p.on = is_terminal(fd) && !(no_color && *no_color) && !(term && std::strcmp(term, "dumb") == 0);
    return p;
}

std::string palette::paint(std::string_view text, char const* sgr) const {
    if (!on || !sgr || text.empty()) return std::string(text);
    std::string out = "\x1b[";
    out += sgr;
    out += 'm';
    out += text;
    out += "\x1b[0m";
    return out;
}

std::size_t display_width(std::string_view s) {
    std::size_t cols = 0;
    for (std::size_t i = 0; i < s.size();) {
        if (auto n = csi_len(s, i)) {
            i += n;
            continue;
        }
        i += cp_len(s, i);
        ++cols;
    }
    return cols;
}

std::string printable(std::string_view s, bool keep_newlines) {
    std::string out;
    out.reserve(s.size());
    for (char ch : s) {
        auto const c = static_cast<unsigned char>(ch);
        if (ch == '\n' && keep_newlines)
            out += '\n';
        else if (ch == '\t')
            out += "    ";
        else if (c < 0x20 || c == 0x7f)
            out += ' ';
        else
            out += ch;
    }
    return out;
}

std::vector<std::string> wrap(std::string_view text, std::size_t width) {
    width = std::max<std::size_t>(width, 1);
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view para = text.substr(start, end - start);
        std::string line;
        std::size_t line_cols = 0;
        std::size_t i = 0;
        bool any = false;
        while (i < para.size()) {
            if (para[i] == ' ') {
                ++i;
                continue;
            }
            auto const word_end = std::min(para.find(' ', i), para.size());
            std::string_view word = para.substr(i, word_end - i);
            i = word_end;
            std::size_t w = display_width(word);
            if (line_cols > 0 && line_cols + 1 + w <= width) {
                line += ' ';
                line += word;
                line_cols += 1 + w;
                continue;
            }
            if (line_cols > 0) {
                lines.push_back(std::move(line));
                line.clear();
                line_cols = 0;
            }
            while (w > width) {  // a word wider than the column: cut it
                auto n = fit_bytes(word, width);
                lines.emplace_back(word.substr(0, n));
                word.remove_prefix(n);
                w -= width;
            }
            line = std::string(word);
            line_cols = w;
            any = true;
        }
        if (line_cols > 0 || !any) lines.push_back(std::move(line));
        if (end == text.size()) break;
        start = end + 1;
    }
    // Trailing blank lines add nothing to a cell.
    while (lines.size() > 1 && lines.back().empty()) lines.pop_back();
    if (lines.empty()) lines.emplace_back();
    return lines;
}

std::string truncate(std::string_view s, std::size_t width) {
    if (display_width(s) <= width) return std::string(s);
    if (width == 0) return {};
    return trim_right(std::string(s.substr(0, fit_bytes(s, width - 1)))) + "…";
}

std::string pad(std::string_view s, std::size_t width, bool right) {
    auto const w = display_width(s);
    std::string fill(w < width ? width - w : 0, ' ');
    return right ? fill + std::string(s) : std::string(s) + fill;
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string format_ms(double ms) {
    if (ms < 10) return fixed(ms, 2);
    if (ms < 100) return fixed(ms, 1);
    return fixed(ms, 0);
}

std::string format_duration_ms(double ms) {
    if (ms < 1) return fixed(ms * 1000, 0) + " µs";
    if (ms < 100) return fixed(ms, 1) + " ms";
    if (ms < 1000) return fixed(ms, 0) + " ms";
    if (ms < 60'000) return fixed(ms / 1000, ms < 10'000 ? 2 : 1) + " s";
    return fixed(ms / 60'000, 1) + " min";
}

std::string format_usd(std::optional<double> usd) {
    if (!usd) return "-";
    double const v = *usd;
    if (v == 0) return "$0";
    if (v < 0) return "-" + format_usd(-v);
    if (v >= 1) return "$" + fixed(v, 2);
    // Sub-cent call costs are common (a short answer from a small model costs ~$0.000002):
    // show their significant digits rather than "$0.00", and keep the cell at 10 columns by
    // stopping at seven decimals; what is smaller than that is shown as a bound.
    if (v < 0.00000095) return "<$0.000001";
    int const digits = std::clamp(2 - static_cast<int>(std::floor(std::log10(v))), 2, 7);
    std::string s = fixed(v, digits);
    while (s.size() > 4 && s.back() == '0' && s[s.size() - 3] != '.') s.pop_back();
    return "$" + s;
}

std::string progress_bar(double fraction, std::size_t width, bool ascii) {
    fraction = std::clamp(std::isnan(fraction) ? 0.0 : fraction, 0.0, 1.0);
    auto const eighths = static_cast<std::size_t>(std::lround(fraction * double(width) * 8));
    std::string out;
    std::size_t cols = 0;
    for (; cols < eighths / 8; ++cols) out += ascii ? "#" : "█";
    if (cols < width && eighths % 8) {
        static char const* const parts[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
        out += ascii ? "-" : parts[eighths % 8];
        ++cols;
    }
    out.append(width - cols, ascii ? '.' : ' ');
    return out;
}

std::string format_price(std::optional<double> per_million) {
    if (!per_million) return "-";
    double const v = *per_million;
    if (v == 0) return "free";
    // Two decimals, three when the price needs them ($0.075), never trailing zeros past two.
    std::string s = fixed(v, 3);
    if (s.back() == '0') s.pop_back();
    return "$" + s;
}

std::string format_count(std::optional<std::uint64_t> n) {
    if (!n) return "-";
    auto const v = *n;
    auto trimmed = [](double x, int digits) {
        std::string s = fixed(x, digits);
        if (s.find('.') != std::string::npos) {
            while (s.back() == '0') s.pop_back();
            if (s.back() == '.') s.pop_back();
        }
        return s;
    };
    if (v >= 1'000'000) return trimmed(static_cast<double>(v) / 1'000'000, 2) + "M";
    if (v >= 10'000) return trimmed(static_cast<double>(v) / 1000, 0) + "k";
    return std::to_string(v);
}

std::size_t line_count(std::string_view s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

table::table(std::vector<column> columns) : cols_(std::move(columns)) {}

void table::add(std::vector<cell> row) { rows_.push_back(std::move(row)); }

void table::fit(std::size_t total) { fit(rows_, total); }

void table::fit(std::vector<std::vector<cell>> const& rows, std::size_t total) {
    std::size_t fixed_total = 0;
    std::size_t wrap_col = cols_.size();
    for (std::size_t c = 0; c < cols_.size(); ++c) {
        auto& col = cols_[c];
        if (col.wrap) {
            wrap_col = c;
            continue;
        }
        std::size_t w = std::max(display_width(col.header), col.min_width);
        for (auto const& r : rows)
            if (c < r.size()) w = std::max(w, display_width(r[c].text));
        col.width = w;
        fixed_total += w;
    }
    if (wrap_col < cols_.size()) {
        auto const gaps = 2 * (cols_.size() - 1);
        auto const used = fixed_total + gaps;
        auto& col = cols_[wrap_col];
        col.width = std::max({col.min_width, display_width(col.header),
                              total > used ? total - used : std::size_t(0)});
    }
}

std::string table::header(palette const& p) const {
    std::string line;
    for (std::size_t c = 0; c < cols_.size(); ++c) {
        if (c) line += "  ";
        bool const last = c + 1 == cols_.size();
        line += last && !cols_[c].right ? cols_[c].header
                                        : pad(cols_[c].header, cols_[c].width, cols_[c].right);
    }
    return p.bold(trim_right(line)) + "\n";
}

std::string table::row(std::vector<cell> const& r, palette const& p, std::size_t max_lines,
                       bool tail) const {
    // Each cell as lines: the wrapping column wrapped to its width, the others cut to theirs.
    std::vector<std::vector<std::string>> lines(cols_.size());
    std::size_t height = 1;
    for (std::size_t c = 0; c < cols_.size(); ++c) {
        std::string text = c < r.size() ? r[c].text : std::string();
        if (cols_[c].wrap) {
            lines[c] = wrap(text, cols_[c].width);
            if (max_lines && lines[c].size() > max_lines) {
                if (tail) {
                    lines[c].erase(lines[c].begin(),
                                   lines[c].end() - static_cast<std::ptrdiff_t>(max_lines));
                } else {
                    lines[c].resize(max_lines);
                    auto& last = lines[c].back();
                    if (display_width(last) + 1 > cols_[c].width)
                        last = truncate(last, cols_[c].width > 1 ? cols_[c].width - 1 : 0);
                    last += "…";
                }
            }
        } else {
            lines[c] = wrap(text, std::max<std::size_t>(cols_[c].width, 1));
            if (lines[c].size() > 1) lines[c] = {truncate(text, cols_[c].width)};
        }
        height = std::max(height, lines[c].size());
    }
    std::string out;
    for (std::size_t i = 0; i < height; ++i) {
        std::string line;
        for (std::size_t c = 0; c < cols_.size(); ++c) {
            if (c) line += "  ";
            std::string const& t = i < lines[c].size() ? lines[c][i] : std::string();
            bool const last = c + 1 == cols_.size();
            std::string padded = last && !cols_[c].right ? t : pad(t, cols_[c].width, cols_[c].right);
            char const* sgr = c < r.size() ? r[c].sgr : nullptr;
            if (sgr && !t.empty()) {
                // Style the text, not the padding around it.
                auto const at = padded.find(t);
                padded = padded.substr(0, at) + p.paint(t, sgr) + padded.substr(at + t.size());
            }
            line += padded;
        }
        out += trim_right(std::move(line));
        out += '\n';
    }
    return out;
}

std::string table::render(palette const& p, std::size_t max_lines) const {
    std::string out = header(p);
    for (auto const& r : rows_) out += row(r, p, max_lines);
    return out;
}

}  // namespace llmux::cli
