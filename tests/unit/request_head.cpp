// SPDX-License-Identifier: BSL-1.0
// The request head the transport writes (http/message.hpp, format_request_head): byte for byte
// what Beast's message, `set` and `prepare_payload` wrote before it replaced them (issue 15),
// except that the transport alone frames the body.
#include "http/message.hpp"

#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>

namespace llmux::test {

namespace {

namespace http = boost::beast::http;

// The head as Beast wrote it: Host and User-Agent set, then each header set, then the payload
// prepared for the body.
std::string beast_head(detail::http_request const& req, std::string const& host) {
    http::request<http::span_body<char const>> msg;
    msg.method_string(req.method);
    msg.target(req.target);
    msg.version(11);
    msg.set(http::field::host, host);
    msg.set(http::field::user_agent, "llmux/0.1");
    for (auto const& [name, value] : req.headers) msg.set(name, value);
    msg.body() = {req.body.data(), req.body.size()};
    msg.prepare_payload();
    std::ostringstream os;
    os << msg.base();
    return os.str();
}

std::string head(detail::http_request const& req, std::string const& host) {
    std::string out = "left over from the last request";
    detail::format_request_head(req, host, out);
    return out;
}

detail::http_request make(std::string method, std::string target, std::string body,
                          header_list headers) {
    detail::http_request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(request_head)

BOOST_AUTO_TEST_CASE(a_post_is_written_as_beast_wrote_it) {
    auto const r = make("POST", "/v1/chat/completions", R"({"model":"m"})",
                        {{"Content-Type", "application/json"},
                         {"Authorization", "Bearer sk-test"},
                         {"Accept", "text/event-stream"}});
    BOOST_TEST(head(r, "127.0.0.1:8080") == beast_head(r, "127.0.0.1:8080"));
    BOOST_TEST(head(r, "api.openai.com") ==
               "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
               "User-Agent: llmux/0.1\r\nContent-Type: application/json\r\n"
               "Authorization: Bearer sk-test\r\nAccept: text/event-stream\r\n"
               "Content-Length: 13\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(content_length_as_prepare_payload_sets_it) {
    for (char const* method : {"GET", "DELETE", "HEAD", "POST", "PUT", "OPTIONS", "PATCH"})
        for (char const* body : {"", "x"}) {
            auto const r = make(method, "/v1/models", body, {{"X-Api-Key", "k"}});
            BOOST_TEST(head(r, "h") == beast_head(r, "h"), method << " body '" << body << "'");
        }
    BOOST_TEST(head(make("GET", "/v1/models", "", {}), "h").find("Content-Length") ==
               std::string::npos);
    BOOST_TEST(head(make("POST", "/x", "", {}), "h").find("Content-Length: 0\r\n") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_later_header_replaces_an_earlier_one_of_the_same_name) {
    // Host and User-Agent too, wherever the request names them, in any case.
    auto const r = make("POST", "/converse", "{}",
                        {{"x-amz-date", "1"},
                         {"host", "bedrock.example"},
                         {"X-Amz-Date", "2"},
                         {"user-agent", "mine/1.0"},
                         {"anthropic-beta", "a"},
                         {"Anthropic-Beta", "b"}});
    BOOST_TEST(head(r, "h") == beast_head(r, "h"));
    auto const h = head(r, "h");
    BOOST_TEST(h.find("Host: h") == std::string::npos);
    BOOST_TEST(h.find("host: bedrock.example\r\n") != std::string::npos);
    BOOST_TEST(h.find("X-Amz-Date: 2\r\n") != std::string::npos);
    BOOST_TEST(h.find("x-amz-date") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_transport_alone_frames_the_body) {
    // A Content-Length or Transfer-Encoding of the request's own is left out (Beast kept a
    // Transfer-Encoding beside its Content-Length: two framings, a smuggling hazard).
    auto const r = make("POST", "/x", "hello",
                        {{"Transfer-Encoding", "chunked"}, {"content-length", "99"}, {"A", "b"}});
    BOOST_TEST(head(r, "h") == "POST /x HTTP/1.1\r\nHost: h\r\nUser-Agent: llmux/0.1\r\nA: b\r\n"
                               "Content-Length: 5\r\n\r\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace llmux::test
