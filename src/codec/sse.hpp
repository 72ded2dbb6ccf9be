// SPDX-License-Identifier: BSL-1.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::detail {

/** The first CR or LF in `s` at or after `pos` (< `s.size()`), or npos. Two vectorised scans
    (LF, then CR before it) rather than `find_first_of("\r\n")`, which calls memchr on its
    two-character set once per byte of the stream: 9.5 % of a proxied stream's instructions in
    the gateway's callgrind profile (benchmarks/gateway/instructions.sh).
*/
inline std::size_t find_line_end(std::string_view s, std::size_t pos) noexcept {
    char const* const from = s.data() + pos;
    std::size_t const n = s.size() - pos;
    auto const* lf = static_cast<char const*>(std::memchr(from, '\n', n));
    std::size_t const before_lf = lf ? static_cast<std::size_t>(lf - from) : n;
    if (auto const* cr = static_cast<char const*>(std::memchr(from, '\r', before_lf)))
        return pos + static_cast<std::size_t>(cr - from);
    return lf ? pos + before_lf : std::string_view::npos;
}

/** One server-sent event, as views that are valid only during the callback that receives it.
    `event` is empty for the default type ("message").
*/
struct sse_event {
    std::string_view event;
    std::string_view data;
    std::string_view id;
    std::optional<std::uint64_t> retry;
};

/** An incremental server-sent-events parser following the WHATWG rules
    (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
    `data`/`event`/`id`/`retry` fields, comment lines, multi-line data joined with LF, and CR,
    LF or CRLF line ends, over bytes split anywhere (a CRLF may be split across two feeds).
    Pure and allocation-light: buffers are reused between events, and an event of one data
    line that arrived whole in one feed (the common case) is handed over as a view of the fed
    bytes, not copied.
*/
class sse_parser {
public:
    /// Lines longer than this fail the parse (a server sending garbage without newlines).
    explicit sse_parser(std::size_t max_line = std::size_t(16) << 20) : max_line_(max_line) {}

    /** Consumes bytes; calls `on_event(sse_event const&)` for each complete event.
        Returns false if a line exceeded the cap (the parser is then unusable).
    */
    template <class OnEvent>
    bool feed(std::string_view bytes, OnEvent&& on_event);

    /** At the end of the stream: hands `on_event` the event that was not closed by a blank line
        (its last line may lack its line end too). The WHATWG rules discard such an event; a
        caller uses this only to recognise an end marker that lost its final blank line.
    */
    template <class OnEvent>
    void flush(OnEvent&& on_event) {
        if (failed_) return;
        if (!line_.empty()) {
            std::string last = std::move(line_);
            line_.clear();
            if (process_line(last, false)) {
                on_event(current());
                return;
            }
        }
        if (data_started_) on_event(current());
    }

    /// True when bytes of an unfinished event are buffered (a stream cut mid-event).
    bool has_partial_event() const noexcept {
        return !line_.empty() || !data_.empty() || data_started_ || !type_.empty();
    }

    /// The last event id seen (persists across events, as the spec says).
    std::string const& last_event_id() const noexcept { return last_id_; }

private:
    /** Returns true if an event is ready to dispatch. `in_feed`: `line` lies in the bytes of
        the feed in progress (not in `line_`), so an event's first data line may be kept as a
        view of it rather than copied.
    */
    bool process_line(std::string_view line, bool in_feed);
    /// The event being built, as the callback sees it.
    sse_event current() const noexcept {
        std::string_view data = data_;
        if (data_view_) {
            data = *data_view_;
        } else if (!data.empty() && data.back() == '\n') {
            data.remove_suffix(1);  // each line's LF, but the last, joins lines
        }
        return {type_, data, last_id_, retry_};
    }
    /// Copies a data line kept as a view into `data_` (before its bytes go, or a second line).
    void own_data() {
        if (!data_view_) return;
        data_.assign(*data_view_);
        data_.push_back('\n');
        data_view_.reset();
    }
    void reset_event() noexcept {
        type_.clear();
        data_.clear();
        data_view_.reset();
        retry_.reset();
        data_started_ = false;
    }

    std::string line_;   // a partial line carried between feeds
    // The event being built: its type, its data lines (each with its LF) or, while it has one
    // line straight from the feed in progress, that line's value as a view, and its retry.
    std::string type_;
    std::string data_;
    std::optional<std::string_view> data_view_;
    std::optional<std::uint64_t> retry_;
    std::string last_id_;
    std::size_t max_line_;
    bool data_started_ = false;  // a data field was seen (data may be empty)
    bool skip_lf_ = false;       // the previous feed ended with CR: a leading LF is its pair
    bool bom_checked_ = false;
    bool failed_ = false;
};

template <class OnEvent>
bool sse_parser::feed(std::string_view bytes, OnEvent&& on_event) {
    if (failed_) return false;
    if (!bom_checked_ && !bytes.empty()) {
        // A UTF-8 BOM may open the stream; it may itself arrive split.
        constexpr std::string_view bom = "\xEF\xBB\xBF";
        std::string probe = line_;
        probe.append(bytes.substr(0, bom.size()));
        if (probe.size() < bom.size() && bom.substr(0, probe.size()) == probe) {
            line_ = probe;  // undecided: keep the prefix
            return true;
        }
        bom_checked_ = true;
        if (probe.compare(0, bom.size(), bom) == 0) {
            std::size_t const from_line = line_.size();
            line_.clear();
            bytes.remove_prefix(bom.size() - from_line);
        }
    }
    // A callback that throws leaves the parser unusable, and nothing pointing into `bytes`.
    struct unwind_guard {
        sse_parser& p;
        bool returned = false;
        ~unwind_guard() {
            if (returned) return;
            p.data_view_.reset();
            p.failed_ = true;
        }
    } guard{*this};
    std::size_t pos = 0;
    if (skip_lf_ && !bytes.empty()) {
        skip_lf_ = false;
        if (bytes[0] == '\n') pos = 1;
    }
    while (pos < bytes.size()) {
        std::size_t const end = find_line_end(bytes, pos);
        if (end == std::string_view::npos) {
            if (line_.size() + (bytes.size() - pos) > max_line_) {
                failed_ = true;
                return false;
            }
            line_.append(bytes.substr(pos));
            break;
        }
        std::string_view line = bytes.substr(pos, end - pos);
        bool const joined = !line_.empty();
        if (joined) {
            line_.append(line);
            line = line_;
        }
        if (line.size() > max_line_) {
            failed_ = true;
            return false;
        }
        bool const ready = process_line(line, !joined);
        line_.clear();
        pos = end + 1;
        if (bytes[end] == '\r') {
            if (pos < bytes.size()) {
                if (bytes[pos] == '\n') ++pos;
            } else {
                skip_lf_ = true;
            }
        }
        if (ready) {
            on_event(current());
            reset_event();
        }
    }
    own_data();  // the bytes are the caller's: an unfinished event keeps a copy
    guard.returned = true;
    return true;
}

}  // namespace llmux::detail
