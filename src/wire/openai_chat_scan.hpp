// SPDX-License-Identifier: BSL-1.0
// The common shape of an OpenAI chat-completions answer or stream chunk, read straight from its
// text with Boost.JSON's SAX parser: no DOM is built (issue 15: parsing into a DOM was a quarter
// of a proxied stream's instructions). It reads only what the decoders of openai_chat.cpp read,
// and gives up on anything they treat specially (an error, tool calls, reasoning details,
// content parts, several choices, a key twice, invalid JSON...): the decoder then parses the
// DOM as before, so every answer decodes the same either way (unit.openai_chat's and
// fuzz_openai_stream's differential checks). Private to src/wire/.
#pragma once

#include <llmux/types.hpp>

#include <boost/json/basic_parser.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::detail::openai {

/// What a plain answer or chunk says; strings empty when absent or not strings.
struct scanned_answer {
    std::string id, model;
    std::size_t choices = 0;      // objects in `choices` (the scan gives up on a second one)
    bool index_zero = true;       // the choice's `index` is absent or 0
    bool has_message = false;     // the choice's `message` (or `delta`) is an object
    std::string content, refusal, reasoning_content, reasoning, finish_reason;
    bool has_usage = false;       // `usage` is an object
    token_count prompt_tokens, completion_tokens, total_tokens, prompt_cache_hit_tokens;
    token_count cached_tokens, cache_write_tokens, reasoning_tokens;
    std::optional<double> cost;

    /// The usage as read_usage (openai_chat.cpp) reads it.
    usage read_usage() const;
};

namespace scan_detail {

/// The SAX handler: a state machine over where in the document the parser is.
struct handler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    static constexpr int max_frames = 4;  // root > choices > choice > message

    /// The containers the scan reads into; any other container is skipped whole.
    enum class frame : std::uint8_t { root, choices, choice, message, usage, prompt, completion };
    /// What the next value is.
    enum class slot : std::uint8_t {
        skip,       // an ignored member
        document,   // the root value: an object
        choices,    // an array of one choice
        choice,     // an element of `choices`
        index,      // the choice's index
        message,    // the choice's message or delta
        text,       // a string member read as get_string reads it (non-strings ignored)
        content,    // a string or null; anything else gives up
        null_only,  // null, or the scan gives up (error, tool_calls, function_call)
        no_array,   // anything but an array (reasoning_details)
        usage,      // an object, else ignored
        details,    // prompt_tokens_details / completion_tokens_details
        count,      // a token count as get_count reads it
        cost,       // a number as get_number reads it
    };

    scanned_answer* out = nullptr;
    bool chunk = false;  // `delta`, not `message`
    bool gave_up = false;

    /// What a scalar value (a string or an integer) was read into, for learning shapes
    /// (see shape_cache): a member of the answer, nothing (`skip`: the value does not matter),
    /// or something that depends on it otherwise (`none`: the value must stay as it was).
    /// The string members (id to finish_reason) and the counts (prompt_tokens to
    /// reasoning_tokens) are each a run: the scan walks them in order.
    enum class role : std::uint8_t {
        none, skip, id, model, content, refusal, reasoning_content, reasoning, finish_reason,
        prompt_tokens, completion_tokens, total_tokens, prompt_cache_hit_tokens, cached_tokens,
        cache_write_tokens, reasoning_tokens, cost, index,
    };
    /// A string (its text, without quotes) or an integer (its digits) the parser read, where
    /// the parser handed it over, and its role.
    struct scalar {
        char const* at;
        std::size_t size;
        role r;
        bool string;
    };
    /// When set, every scalar read is noted here.
    std::vector<scalar>* record = nullptr;

    /// Where the handler is once a chunk's `delta` object has just opened (root > choices >
    /// choice > message, the message empty), and what the members before it said: the
    /// point answer_scanner's learnt prefix ends at.
    struct resume_point {
        std::uint8_t seen[max_frames];  // the members each frame has read, one bit each
        frame details;
        scanned_answer answer;
    };

    /// Starts a document read into `a`. With `resume`, the first `delta` or `message` object
    /// opened resumes at that point: what stood before it (a stand-in for the learnt prefix)
    /// is forgotten, and `a` becomes `resume->answer` there.
    void start(scanned_answer& a, bool is_chunk, resume_point const* resume = nullptr) noexcept;

    /// True when the parser has just opened the first choice's `delta` (or `message`) object
    /// and nothing is pending: no skipped container, no key or number split in parts.
    bool at_message_start() const noexcept;
    /// The point the handler is at (see at_message_start) with the answer read so far.
    void save(resume_point& to) const;

    bool on_document_begin(boost::json::error_code&) { return true; }
    bool on_document_end(boost::json::error_code&) { return true; }
    bool on_object_begin(boost::json::error_code& ec);
    bool on_object_end(std::size_t, boost::json::error_code&);
    bool on_array_begin(boost::json::error_code& ec);
    bool on_array_end(std::size_t, boost::json::error_code&);
    bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&);
    bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code& ec);
    bool on_string_part(boost::json::string_view s, std::size_t, boost::json::error_code&);
    bool on_string(boost::json::string_view s, std::size_t, boost::json::error_code& ec);
    bool on_number_part(boost::json::string_view s, boost::json::error_code&);
    bool on_int64(std::int64_t i, boost::json::string_view, boost::json::error_code& ec);
    bool on_uint64(std::uint64_t u, boost::json::string_view, boost::json::error_code& ec);
    bool on_double(double d, boost::json::string_view s, boost::json::error_code& ec);
    bool on_bool(bool, boost::json::error_code& ec);
    bool on_null(boost::json::error_code& ec);
    bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }

private:
    /// The slots that must hold an object or array: a scalar there gives up (the DOM decoder
    /// says what is wrong, or ignores it).
    static constexpr bool wants_container(slot s) noexcept {
        return s == slot::document || s == slot::choices || s == slot::choice ||
               s == slot::message;
    }
    role string_role() const noexcept;
    role int_role() const noexcept;
    bool give_up(boost::json::error_code& ec);
    bool enter(frame f, boost::json::error_code& ec);
    void after_value() noexcept;
    bool select(std::string_view key, boost::json::error_code& ec);
    bool number(std::optional<std::int64_t> i, std::optional<std::uint64_t> u,
                std::optional<double> d, boost::json::error_code& ec);

    frame frames_[max_frames]{};
    std::uint8_t seen_[max_frames]{};  // the members already read, one bit each
    resume_point const* resume_ = nullptr;  // see start
    int depth_ = 0;
    std::size_t skip_ = 0;  // depth inside a skipped container
    slot next_ = slot::document;
    frame details_ = frame::prompt;       // which details object a details slot opens
    std::string* text_ = nullptr;         // where a text slot's string goes
    token_count* count_ = nullptr;        // where a count slot's number goes
    std::string key_;                     // a key split into parts
    std::string number_;                  // a number split into parts, or a count's string
    bool string_in_parts_ = false;        // the string being read came in parts
};

}  // namespace scan_detail

/** The shapes of answers (or chunks) read before: the bytes of a document with its strings'
    text and its integers left out, each gap marked with what its value goes to.

    A provider's answers are alike but for a few values: the id, the time, the text, the token
    counts. A document that is a known shape with other values in its gaps gives what the
    learnt one gave, with its own values in their places, and needs no JSON parser: its bytes
    are compared, its strings read by a short reader (the strings Boost's parser accepts,
    decoded as it decodes them: plain text, valid UTF-8, the simple escapes and `u` escapes
    outside the surrogates), its integers by their digits. Such a document differs from the
    learnt one only in the text of strings and the digits of integers, so the parser's tokens
    and the handler's steps are the same; only the values it read differ.

    A gap is only where the learning parse read the value straight from the document: a
    string without escapes between its quotes, or an integer of 1 to 18 digits (no sign, no
    fraction) followed by `,`, `}`, `]` or whitespace; everything else is part of the shape.

    One per thread (`this_thread`), shared by every scanner on it, so that the shape learnt
    from one answer serves the next (a stream's chunks come in four or five shapes). Bounded:
    eight shapes for answers and eight for chunks, learnt from documents of at most 4 KiB; a
    new one replaces the others in turn, sparing the one read last. Not thread-safe: each
    thread has its own.
*/
class shape_cache {
public:
    using role = scan_detail::handler::role;
    using scalar = scan_detail::handler::scalar;

    /// This thread's cache.
    static shape_cache& this_thread();

    /// Where a stream's learnt prefix ends in a chunk of a known shape, and the scan's
    /// position there (see answer_scanner).
    struct prefix_point {
        std::size_t size = 0;  // the prefix's length in the chunk; 0: the shape has none
        scan_detail::handler::resume_point* resume = nullptr;  // set when `size` is not 0
    };

    /// True when `text` is a known shape: `out` is then what the scan would read, and
    /// `prefix`, when given, where that shape's learnt prefix ends in `text`.
    bool read(std::string_view text, bool chunk, scanned_answer& out,
              prefix_point* prefix = nullptr);
    /// Learns the shape of `text`, which the scan read into `read` (noting `values`); when
    /// the scan learnt a prefix of it, `prefix_size` bytes long, `resume` is its end.
    void learn(std::string_view text, bool chunk, std::vector<scalar> const& values,
               scanned_answer const& read, std::size_t prefix_size = 0,
               scan_detail::handler::resume_point const* resume = nullptr);
    std::size_t size() const noexcept { return shapes_[0].size() + shapes_[1].size(); }

private:
    struct gap {
        std::uint32_t after;  // where in `bytes` the bytes before it end
        role r;
        bool string;
    };
    struct shape {
        std::string bytes;      // the document without the gaps' values
        std::vector<gap> gaps;
        scanned_answer answer;  // what it read, the gaps' members cleared
        // The learnt prefix's end: where in `bytes`, the gaps before it, the scan's position
        // (its answer's gap members cleared). `prefix_at` 0: none.
        std::size_t prefix_at = 0;
        std::size_t prefix_gaps = 0;
        scan_detail::handler::resume_point resume{};
        std::size_t next = 0;  // the shape read after this one last time (tried first)
    };
    /// Where a gap's value is in a document being matched.
    struct value_at {
        std::size_t at = 0, size = 0;  // a string's text (without its quote), an integer's digits
        bool plain = true;             // a string without escapes: its text is its bytes
        std::uint64_t count = 0;       // an integer's value
    };
    static constexpr std::size_t max_shapes = 8;  // of each kind
    static constexpr std::size_t max_gaps = 64;

    bool match(shape const& s, std::string_view text, scanned_answer& out);
    /// Writes the values of gaps [0, n) of `s` (just matched against `text`) into `a`.
    void fill(shape const& s, std::size_t n, std::string_view text, scanned_answer& a) const;

    std::vector<shape> shapes_[2];     // of answers, of chunks
    std::size_t last_[2] = {0, 0};     // the shape of each kind read last
    std::size_t victim_[2] = {0, 0};   // the shape of each kind a new one replaces next
    value_at values_[max_gaps];
    std::string skipped_;              // a string read to check it
};

/** Reads plain chat-completions answers (`message`) or chunks (`delta`), reusing its buffers
    from one to the next.

    The chunks of one stream begin alike: `{"id":…,"object":…,"created":…,"model":…,…,
    "choices":[{"index":0,"delta":{` is the same bytes in every one, and most of each chunk's
    members. So the scanner learns that prefix from a chunk it reads in full: it reads it up to
    the `{` that opens `delta`, and if the handler stands just inside the first choice's
    `delta` there, keeps those bytes, the handler's position and what the members said. A later
    chunk that begins with the same bytes is read as the short stand-in `{"choices":[{"delta":{`
    followed by the rest of the chunk, the handler resuming at the kept position when the
    stand-in's `delta` opens. The parser is then in the same state as after the real prefix
    (the same nesting of objects and arrays, just after a `{`), and the handler too, so the
    rest reads exactly as it would have in the whole chunk: a key repeated after the prefix
    still gives up, invalid JSON after it is still invalid. Only the prefix's tokens are not
    read again, about half of an emulated chunk's.

    Most of what follows the prefix is the same too: `"content":"` + the text + `"},
    "logprobs":null,"finish_reason":null}]}`, where only the text changes (and, from OpenAI,
    the padding of an `"obfuscation":"…"` member). So the scanner also learns that tail from
    a chunk it read after the prefix: the bytes after the content string, up to and after the
    value of the first `"obfuscation":` member if there is one, with the answer the chunk gave
    without its content. A later chunk made of the prefix, `"content":"`, a string and the
    same tail (any string as the padding) is read without Boost's parser: its answer is the
    kept one with that string as its content. Both strings are read by a short reader that
    takes only what Boost's parser accepts and decodes it as the parser does: plain text,
    valid UTF-8, the simple escapes, and `u` escapes of code points outside the surrogates.
    Anything else (a surrogate pair, invalid UTF-8, a control character, another tail) goes
    to the parser after the stand-in, as before. Such a chunk differs from the learnt one only
    in the text of two strings, one read as the content and one under a key the handler
    skips, so the parser's tokens and the handler's steps are the same, and so is the answer.
*/
class answer_scanner {
public:
    /// With the shapes of the thread each read runs on (`shape_cache::this_thread`, looked up
    /// at every read: a stream's scanner moves between threads with its connection's strand).
    answer_scanner();
    /// With the shapes of `shapes`, used from one thread only (none: this scanner learns only
    /// its prefix and tail).
    explicit answer_scanner(shape_cache* shapes);

    /// True when `text` was read whole into `out`; false when the caller must parse the DOM.
    bool read(std::string_view text, bool chunk, scanned_answer& out);

    /// Chunks read after a learnt prefix (for tests and benchmarks).
    std::size_t prefix_hits() const noexcept { return hits_; }
    /// Chunks of those read whole by the learnt tail, without the parser.
    std::size_t tail_hits() const noexcept { return tail_hits_; }
    /// Documents read as a known shape, without the parser.
    std::size_t shape_hits() const noexcept { return shape_hits_; }

private:
    /// Whether the parse ended at the end of `text` without an error or giving up.
    bool parsed_all(std::string_view text, std::size_t n, boost::json::error_code ec) const;
    /// Reads `rest` (what follows the prefix) by the learnt tail into `out`; false when it
    /// does not match (`out` is then the parser's to fill again).
    bool read_tail(std::string_view rest, scanned_answer& out);
    /// Learns the tail from `rest`, which the parser read into `out` after the prefix.
    void learn_tail(std::string_view rest, scanned_answer const& out);

    /// What follows a learnt prefix, `"content":"` and a string apart (see the class).
    struct tail {
        std::string before_pad;  // the bytes after the content string, up to a padding's value
        bool padded = false;     // whether a padding string and `after_pad` follow
        std::string after_pad;   // the bytes after the padding string
        scanned_answer answer;   // what the chunk said, without its content
    };

    boost::json::basic_parser<scan_detail::handler> p_;
    std::string prefix_;  // the learnt prefix, or empty
    scan_detail::handler::resume_point learnt_{};  // where the prefix ends
    std::string text_;    // the stand-in and the rest of a chunk
    std::size_t hits_ = 0;
    int learn_budget_;    // attempts to learn left before a hit
    std::optional<tail> tail_;  // the learnt tail, if any
    std::string content_;       // a chunk's content read again, to learn its tail
    std::size_t tail_hits_ = 0;
    int tail_budget_;     // attempts to learn a tail left before a hit
    shape_cache* shapes_;
    bool thread_shapes_;  // shapes_ is unused: this thread's cache is
    std::vector<scan_detail::handler::scalar> values_;  // what a learning parse read
    std::size_t shape_hits_ = 0;
    int shape_budget_;    // documents to learn from left before a hit
};

}  // namespace llmux::detail::openai
