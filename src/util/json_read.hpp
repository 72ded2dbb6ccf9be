// SPDX-License-Identifier: BSL-1.0
// JSON text to a Boost.JSON value with numbers read exactly. Boost.JSON 1.81's parser computes a
// double from at most 19 digits with a multiplication that can round twice, so a number such as
// `1.6666666666666667` may come back one unit in the last place off and, written again in its
// shortest form, differ from what the client sent: a proxy would change the numbers it passes
// on. These read every non-integer number's text again with `std::from_chars`, which rounds
// correctly, so parsing and `to_json` (shortest form) round-trip every double exactly.
#pragma once

#include <boost/json/basic_parser.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>

#include <string>
#include <string_view>

namespace llmux::detail {

/// The events of Boost.JSON's `basic_parser` into a value, as `boost::json::parser` does, but
/// with doubles read from their text.
struct exact_number_handler {
    static constexpr std::size_t max_object_size = boost::json::object::max_size();
    static constexpr std::size_t max_array_size = boost::json::array::max_size();
    static constexpr std::size_t max_key_size = boost::json::string::max_size();
    static constexpr std::size_t max_string_size = boost::json::string::max_size();

    boost::json::value_stack st;
    std::string number;  // the parts of a number split across writes

    exact_number_handler(boost::json::storage_ptr sp, unsigned char* temp, std::size_t size)
        : st(std::move(sp), temp, size) {}

    bool on_document_begin(boost::json::error_code&) { return true; }
    bool on_document_end(boost::json::error_code&) { return true; }
    bool on_object_begin(boost::json::error_code&) { return true; }
    bool on_object_end(std::size_t n, boost::json::error_code&) {
        st.push_object(n);
        return true;
    }
    bool on_array_begin(boost::json::error_code&) { return true; }
    bool on_array_end(std::size_t n, boost::json::error_code&) {
        st.push_array(n);
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
        st.push_chars(s);
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code&) {
        st.push_key(s);
        return true;
    }
    bool on_string_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
        st.push_chars(s);
        return true;
    }
    bool on_string(boost::json::string_view s, std::size_t, boost::json::error_code&) {
        st.push_string(s);
        return true;
    }
    bool on_number_part(boost::json::string_view s, boost::json::error_code&) {
        number.append(s.data(), s.size());
        return true;
    }
    bool on_int64(std::int64_t i, boost::json::string_view, boost::json::error_code&) {
        number.clear();
        st.push_int64(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, boost::json::string_view, boost::json::error_code&) {
        number.clear();
        st.push_uint64(u);
        return true;
    }
    bool on_double(double d, boost::json::string_view s, boost::json::error_code&);
    bool on_bool(bool b, boost::json::error_code&) {
        st.push_bool(b);
        return true;
    }
    bool on_null(boost::json::error_code&) {
        st.push_null();
        return true;
    }
    bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
    bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }
};

/// An incremental parser like `boost::json::parser` (reset, write, release) with exact numbers.
class json_reader {
public:
    explicit json_reader(boost::json::parse_options const& opt = {});

    /// Starts a new document whose values use `sp`.
    void reset(boost::json::storage_ptr sp = {}) noexcept;

    /// Parses the whole of `data` as one document; text after it is `error::extra_data`.
    std::size_t write(char const* data, std::size_t size, boost::json::error_code& ec);

    /// The parsed document; the reader must be reset before the next one.
    boost::json::value release();

private:
    boost::json::basic_parser<exact_number_handler> p_;
};

/// `boost::json::parse` with exact numbers.
boost::json::value parse_json(std::string_view text, boost::json::error_code& ec,
                              boost::json::storage_ptr sp = {},
                              boost::json::parse_options const& opt = {});

}  // namespace llmux::detail
