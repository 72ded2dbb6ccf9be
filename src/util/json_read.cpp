// SPDX-License-Identifier: BSL-1.0
#include "util/json_read.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>

#include <boost/system/system_error.hpp>

#include <charconv>

namespace llmux::detail {

bool exact_number_handler::on_double(double d, boost::json::string_view s,
                                     boost::json::error_code&) {
    std::string_view text(s.data(), s.size());
    if (!number.empty()) {
        number.append(s.data(), s.size());
        text = number;
    }
    double exact = 0;
    auto const r = std::from_chars(text.data(), text.data() + text.size(), exact);
    // Out of range (1e999) keeps Boost's reading (an infinity or zero) for the callers that
    // refuse non-finite numbers by name.
    if (r.ec == std::errc() && r.ptr == text.data() + text.size()) d = exact;
    number.clear();
    st.push_double(d);
    return true;
}

json_reader::json_reader(boost::json::parse_options const& opt)
    : p_(opt, boost::json::storage_ptr(), nullptr, 0) {
    reset();
}

void json_reader::reset(boost::json::storage_ptr sp) noexcept {
    p_.reset();
    p_.handler().number.clear();
    p_.handler().st.reset(std::move(sp));
}

std::size_t json_reader::write(char const* data, std::size_t size, boost::json::error_code& ec) {
    auto const n = p_.write_some(false, data, size, ec);
    if (!ec && n < size) {
        ec = boost::json::error::extra_data;
        p_.fail(ec);
    }
    return n;
}

boost::json::value json_reader::release() {
    if (!p_.done()) {  // as boost::json::parser: an incomplete document is an exception
        boost::json::error_code ec = p_.last_error();
        if (!ec) {
            ec = boost::json::error::incomplete;
            p_.fail(ec);
        }
        throw boost::system::system_error(ec);
    }
    return p_.handler().st.release();
}

boost::json::value parse_json(std::string_view text, boost::json::error_code& ec,
                              boost::json::storage_ptr sp,
                              boost::json::parse_options const& opt) {
    unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
    boost::json::basic_parser<exact_number_handler> p(opt, boost::json::storage_ptr(), temp,
                                                      sizeof temp);
    p.handler().st.reset(std::move(sp));
    auto const n = p.write_some(false, text.data(), text.size(), ec);
    if (ec) return nullptr;
    if (n < text.size()) {
        ec = boost::json::error::extra_data;
        return nullptr;
    }
    return p.handler().st.release();
}

}  // namespace llmux::detail
