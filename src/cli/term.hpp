// SPDX-License-Identifier: BSL-1.0
// Terminal output for the commands people read: width, colours, wrapping, aligned tables and
// number formats. Plain functions over strings, so the layout is testable without a terminal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::cli {

/// True when `fd` is a terminal.
bool is_terminal(int fd);

/// Columns available on `fd`: `$COLUMNS` when set, else the terminal's width, else `fallback`.
std::size_t terminal_width(int fd, std::size_t fallback = 100);

/// Rows of the terminal on `fd`: `$LINES` when set, else the terminal's height, else `fallback`.
std::size_t terminal_height(int fd, std::size_t fallback = 24);

/// ANSI styling that is on only for a terminal, with `NO_COLOR` unset and `TERM` not `dumb`
/// (https://no-color.org).
struct palette {
    bool on = false;

    static palette for_fd(int fd);

    std::string paint(std::string_view text, char const* sgr) const;
    std::string bold(std::string_view t) const { return paint(t, "1"); }
    std::string dim(std::string_view t) const { return paint(t, "2"); }
    std::string red(std::string_view t) const { return paint(t, "31"); }
    std::string green(std::string_view t) const { return paint(t, "32"); }
    std::string yellow(std::string_view t) const { return paint(t, "33"); }
    std::string cyan(std::string_view t) const { return paint(t, "36"); }
};

/// Columns taken by UTF-8 text (one per code point; ANSI escape sequences count zero).
std::size_t display_width(std::string_view s);

/// `s` with control characters replaced by spaces (tabs become four), so text from a model or
/// a server cannot move the cursor or change colours; newlines are kept when `keep_newlines`.
std::string printable(std::string_view s, bool keep_newlines = true);

/// Wraps `text` to lines of at most `width` columns, at spaces where possible; newlines start
/// new lines, and a word longer than the width is cut. Never returns an empty vector.
std::vector<std::string> wrap(std::string_view text, std::size_t width);

/// Cuts plain text to `width` columns, ending in "…" when something was cut.
std::string truncate(std::string_view s, std::size_t width);

/// Pads plain or styled text with spaces to `width` columns (left or right aligned).
std::string pad(std::string_view s, std::size_t width, bool right = false);

/// Milliseconds for a table cell: "0.84", "12.3", "201", "12345".
std::string format_ms(double ms);

/// A duration for people: "850 µs", "12.3 ms", "201 ms", "1.52 s".
std::string format_duration_ms(double ms);

/// USD with two or three significant digits and at most 10 columns: "$1.23", "$0.0412",
/// "$0.000123", "$0.0000021", "<$0.000001" (under a millionth of a dollar), "$0"; "-" when
/// unknown. Never exponent notation, never cut.
std::string format_usd(std::optional<double> usd);

/// A price per million tokens: "$0.15", "$2.50", "$0.075", "free"; "-" when unknown.
std::string format_price(std::optional<double> per_million);

/// A token count with a suffix: "950", "128k", "1M", "1.05M"; "-" when unknown.
std::string format_count(std::optional<std::uint64_t> n);

/// A number with `digits` decimals.
std::string fixed(double v, int digits);

/// A progress bar of `width` columns for `fraction` (0..1): "█████▌    " with Unicode block
/// eighths, or "#####     " when `ascii`.
std::string progress_bar(double fraction, std::size_t width, bool ascii = false);

/** A table whose columns are aligned to their widest cell, with one wrapping column (the last
    flexible one) that takes the width left over. Cells may hold several lines.
*/
class table {
public:
    struct column {
        std::string header;
        bool right = false;  ///< right-aligned (numbers)
        bool wrap = false;   ///< takes the remaining width and wraps
        std::size_t width = 0;
        std::size_t min_width = 0;
    };
    struct cell {
        std::string text;
        char const* sgr = nullptr;  ///< ANSI style of the cell, if any
    };

    explicit table(std::vector<column> columns);

    void add(std::vector<cell> row);
    std::vector<std::vector<cell>> const& rows() const { return rows_; }

    /// Sets each column to its widest cell (at least its header) and gives the wrapping column
    /// what is left of `total` columns (at least its `min_width`).
    void fit(std::size_t total);
    /// Fits to the rows given, without adding them (for tables printed row by row).
    void fit(std::vector<std::vector<cell>> const& rows, std::size_t total);

    std::vector<column>& columns() { return cols_; }

    /// The header line (bold when the palette is on), with a newline.
    std::string header(palette const& p) const;
    /** One row, with a newline per line. The wrapping column's text is wrapped to its width;
        `max_lines` (0: no limit) keeps the first lines, the last ending in "…"; `tail` keeps
        the last lines instead (a live stream). */
    std::string row(std::vector<cell> const& r, palette const& p, std::size_t max_lines = 0,
                    bool tail = false) const;
    /// Header and every row.
    std::string render(palette const& p, std::size_t max_lines = 0) const;

private:
    std::vector<column> cols_;
    std::vector<std::vector<cell>> rows_;
};

/// Number of lines in `s` (newline-terminated lines).
std::size_t line_count(std::string_view s);

}  // namespace llmux::cli
