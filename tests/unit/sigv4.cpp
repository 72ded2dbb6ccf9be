// SPDX-License-Identifier: BSL-1.0
// AWS SigV4: the official suite vectors and the Bedrock example of PROVIDERS.md 6.5, vectors
// computed with botocore 1.43 `SigV4Auth`, and sign -> verify round trips with tampering.
#include "auth/sigv4.hpp"
#include "util/crypto.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using llmux::header_list;
using llmux::detail::aws_credentials;
using llmux::detail::sigv4_incoming_request;
using llmux::detail::sigv4_request;
using llmux::detail::sigv4_sign;
using llmux::detail::sigv4_verify;
using llmux::detail::sigv4_verify_options;
using time_point = std::chrono::system_clock::time_point;

constexpr std::string_view akid = "AKIDEXAMPLE";
constexpr std::string_view secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

time_point at(std::chrono::year_month_day ymd, std::chrono::seconds since_midnight) {
    return time_point(std::chrono::sys_days(ymd)) + since_midnight;
}

// 20150830T123600Z, the suite's time.
time_point const suite_time = at(2015y / 8 / 30, 12h + 36min);
// 20240115T120000Z, the Bedrock example's time.
time_point const bedrock_time = at(2024y / 1 / 15, 12h);

aws_credentials suite_credentials(std::string token = {}) {
    return {std::string(akid), std::string(secret), std::move(token)};
}

std::string header(header_list const& headers, std::string_view name) {
    for (auto const& [n, v] : headers)
        if (n == name) return v;
    return {};
}

constexpr std::string_view bedrock_host = "bedrock-runtime.us-east-1.amazonaws.com";
constexpr std::string_view bedrock_path =
    "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse";
constexpr std::string_view bedrock_body =
    R"({"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"maxTokens":64}})";

// A signed request as the server receives it: the caller's headers, Host, and what sign added.
struct wire_request {
    std::string method = "POST";
    std::string target;
    header_list headers;
    std::string body;

    sigv4_incoming_request view() const { return {method, target, headers, body}; }
};

wire_request signed_bedrock_request(aws_credentials const& creds, time_point when,
                                    std::string_view query = {}) {
    wire_request w;
    w.target = std::string(bedrock_path);
    if (!query.empty()) w.target.append("?").append(query);
    w.body = std::string(bedrock_body);
    header_list const headers = {{"Content-Type", "application/json"},
                                 {"Accept", "application/json"}};
    sigv4_request req;
    req.method = "POST";
    req.host = bedrock_host;
    req.path = bedrock_path;
    req.query = query;
    req.headers = headers;
    req.body = bedrock_body;
    auto added = sigv4_sign(req, creds, "us-east-1", "bedrock", when);
    BOOST_TEST_REQUIRE(added.has_value());
    w.headers = headers;
    w.headers.emplace_back("Host", std::string(bedrock_host));
    // What a transport adds after signing must not matter.
    w.headers.emplace_back("Content-Length", std::to_string(w.body.size()));
    w.headers.emplace_back("User-Agent", "llmux-test/1");
    for (auto& h : *added)
        w.headers.push_back(h);
    return w;
}

llmux::detail::aws_secret_lookup lookup_for(std::map<std::string, std::string, std::less<>> keys) {
    return [keys = std::move(keys)](std::string_view id) -> std::optional<std::string> {
        auto it = keys.find(id);
        if (it == keys.end()) return std::nullopt;
        return it->second;
    };
}

llmux::detail::aws_secret_lookup const suite_lookup =
    lookup_for({{std::string(akid), std::string(secret)}});

sigv4_verify_options options_at(time_point now) {
    sigv4_verify_options o;
    o.now = now;
    o.region = "us-east-1";
    o.service = "bedrock";
    return o;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

void set_header(wire_request& w, std::string_view name, std::string value) {
    for (auto& [n, v] : w.headers)
        if (iequals(n, name)) {
            v = std::move(value);
            return;
        }
    w.headers.emplace_back(std::string(name), std::move(value));
}

void remove_header(wire_request& w, std::string_view name) {
    std::erase_if(w.headers, [&](auto const& h) { return iequals(h.first, name); });
}

// Checks a rejection: its code, the AWS exception name, and that no secret leaks.
void check_rejected(llmux::result<llmux::detail::sigv4_identity> const& r,
                    std::string_view aws_type, std::string_view message_part = {}) {
    BOOST_TEST_REQUIRE(r.has_error());
    auto const& f = r.error();
    BOOST_TEST(f.code == llmux::error::auth_failed);
    BOOST_TEST(f.diag.http_status == 403u);
    BOOST_TEST(f.diag.error_type == aws_type);
    if (!message_part.empty())
        BOOST_TEST(f.diag.message.find(message_part) != std::string::npos, f.diag.message);
    BOOST_TEST(f.diag.message.find(secret) == std::string::npos);
    BOOST_TEST(f.to_string().find(secret) == std::string::npos);
    BOOST_TEST(f.diag.message.find("Signature=") == std::string::npos);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sigv4)

BOOST_AUTO_TEST_CASE(amz_date_format_and_parse) {
    using llmux::detail::format_amz_date;
    using llmux::detail::parse_amz_date;
    BOOST_TEST(format_amz_date(suite_time) == "20150830T123600Z");
    BOOST_TEST(format_amz_date(suite_time + 999ms) == "20150830T123600Z");  // truncated
    BOOST_TEST(format_amz_date(at(1999y / 12 / 31, 23h + 59min + 59s)) == "19991231T235959Z");
    BOOST_TEST(format_amz_date(at(2024y / 2 / 29, 0s)) == "20240229T000000Z");
    BOOST_TEST((parse_amz_date("20150830T123600Z") == suite_time));
    BOOST_TEST((parse_amz_date("20240229T000000Z") == at(2024y / 2 / 29, 0s)));
    for (std::string_view bad :
         {"", "20150830T123600", "20150830 123600Z", "2015083T1236000Z", "20151330T123600Z",
          "20150230T123600Z", "20150830T243600Z", "20150830T126000Z", "20150830T123660Z",
          "2015-8-30T12360Z", "20150830T123600z"})
        BOOST_TEST(!parse_amz_date(bad).has_value(), "accepted " << bad);
}

BOOST_AUTO_TEST_CASE(canonical_uri_rules) {
    using llmux::detail::canonical_uri;
    BOOST_TEST(canonical_uri("") == "/");
    BOOST_TEST(canonical_uri("/") == "/");
    BOOST_TEST(canonical_uri(bedrock_path) ==
               "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse");
    // botocore: '/a/./b/../c//d/' -> '/a/c/d/'; '/%E1%88%B4' -> '/%25E1%2588%25B4'.
    BOOST_TEST(canonical_uri("/a/./b/../c//d/") == "/a/c/d/");
    BOOST_TEST(canonical_uri("/%E1%88%B4") == "/%25E1%2588%25B4");
    BOOST_TEST(canonical_uri("/..") == "/");
    BOOST_TEST(canonical_uri("/a b/~x") == "/a%20b/~x");
}

BOOST_AUTO_TEST_CASE(canonical_query_rules) {
    using llmux::detail::canonical_query;
    BOOST_TEST(canonical_query("") == "");
    BOOST_TEST(canonical_query("Param2=value2&Param1=value1") == "Param1=value1&Param2=value2");
    BOOST_TEST(canonical_query("a=2&a=1") == "a=1&a=2");  // same name: sorted by value
    BOOST_TEST(canonical_query("b=1&B=1") == "B=1&b=1");  // byte order, uppercase first
    BOOST_TEST(canonical_query("flag") == "flag=");
    BOOST_TEST(canonical_query("&&a=1&") == "a=1");
    BOOST_TEST(canonical_query("k=a%20b") == "k=a%20b");
    BOOST_TEST(canonical_query("k=a b") == "k=a%20b");
    BOOST_TEST(canonical_query("k=%7e%41") == "k=~A");  // over-encoded unreserved decoded
    BOOST_TEST(canonical_query("k=a+b") == "k=a%2Bb");  // '+' is not a space in SigV4
    BOOST_TEST(canonical_query("k=x/y:z") == "k=x%2Fy%3Az");
    BOOST_TEST(canonical_query("k=%zz%4") == "k=%25zz%254");  // stray '%' kept literally
    BOOST_TEST(canonical_query("api-version=2024-06-01&x=%3D") == "api-version=2024-06-01&x=%3D");
}

BOOST_AUTO_TEST_CASE(get_vanilla) {
    // aws4_testsuite get-vanilla: headers given explicitly, as the suite's request has them.
    header_list const headers = {{"Host", "example.amazonaws.com"},
                                 {"X-Amz-Date", "20150830T123600Z"}};
    sigv4_request req;
    req.method = "GET";
    req.path = "/";
    req.headers = headers;
    std::string const creq = llmux::detail::canonical_request(req);
    BOOST_TEST(creq == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                       "host;x-amz-date\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(llmux::detail::sha256_hex(creq) ==
               "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    BOOST_TEST(llmux::detail::signed_headers(req) == "host;x-amz-date");

    std::string const scope = llmux::detail::credential_scope("20150830", "us-east-1", "service");
    BOOST_TEST(scope == "20150830/us-east-1/service/aws4_request");
    std::string const sts = llmux::detail::string_to_sign("20150830T123600Z", scope, creq);
    BOOST_TEST(sts ==
               "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
               "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    std::string const key = llmux::detail::signing_key(secret, "20150830", "us-east-1", "service");
    BOOST_TEST(key.size() == 32u);
    BOOST_TEST(llmux::detail::hex_encode(key) ==
               "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
    BOOST_TEST(llmux::detail::sigv4_signature(key, sts) ==
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

BOOST_AUTO_TEST_CASE(get_vanilla_through_sign) {
    sigv4_request req;
    req.method = "GET";
    req.host = "example.amazonaws.com";
    req.path = "/";
    auto const added = sigv4_sign(req, suite_credentials(), "us-east-1", "service", suite_time);
    BOOST_TEST_REQUIRE(added.has_value());
    BOOST_TEST_REQUIRE(added->size() == 2u);
    BOOST_TEST((*added)[0].first == "X-Amz-Date");
    BOOST_TEST((*added)[0].second == "20150830T123600Z");
    BOOST_TEST((*added)[1].first == "Authorization");
    BOOST_TEST((*added)[1].second ==
               "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
               "SignedHeaders=host;x-amz-date, "
               "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");

    // A Host header instead of the host field, and stale signing headers, change nothing.
    header_list const stale = {{"host", "example.amazonaws.com"},
                               {"X-Amz-Date", "20000101T000000Z"},
                               {"Authorization", "AWS4-HMAC-SHA256 old"}};
    sigv4_request again;
    again.method = "GET";
    again.headers = stale;
    auto const added2 = sigv4_sign(again, suite_credentials(), "us-east-1", "service", suite_time);
    BOOST_TEST_REQUIRE(added2.has_value());
    BOOST_TEST((*added2 == *added));
}

BOOST_AUTO_TEST_CASE(post_vanilla) {
    sigv4_request req;
    req.method = "POST";
    req.host = "example.amazonaws.com";
    auto const added = sigv4_sign(req, suite_credentials(), "us-east-1", "service", suite_time);
    BOOST_TEST_REQUIRE(added.has_value());
    BOOST_TEST(header(*added, "Authorization") ==
               "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
               "SignedHeaders=host;x-amz-date, "
               "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

BOOST_AUTO_TEST_CASE(get_vanilla_with_session_token) {
    std::string const token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    sigv4_request req;
    req.method = "GET";
    req.host = "example.amazonaws.com";
    auto const added =
        sigv4_sign(req, suite_credentials(token), "us-east-1", "service", suite_time);
    BOOST_TEST_REQUIRE(added.has_value());
    BOOST_TEST_REQUIRE(added->size() == 3u);
    BOOST_TEST((*added)[0].first == "X-Amz-Date");
    BOOST_TEST((*added)[1].first == "X-Amz-Security-Token");
    BOOST_TEST((*added)[1].second == token);
    BOOST_TEST((*added)[2].second ==
               "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
               "SignedHeaders=host;x-amz-date;x-amz-security-token, "
               "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
}

BOOST_AUTO_TEST_CASE(bedrock_converse_example) {
    BOOST_TEST(bedrock_body.size() == 91u);
    header_list const headers = {{"Content-Type", "application/json"}};
    sigv4_request req;
    req.method = "POST";
    req.host = bedrock_host;
    req.path = bedrock_path;
    req.headers = headers;
    req.body = bedrock_body;

    BOOST_TEST(llmux::detail::canonical_uri(req.path) ==
               "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse");
    BOOST_TEST(llmux::detail::sha256_hex(bedrock_body) ==
               "9fe85f2d1d832f88fa910da82e4380943a72b2d8f884106428ba8c4588a20b85");

    // The canonical request as sign() builds it (X-Amz-Date added).
    header_list const with_date = {{"Content-Type", "application/json"},
                                   {"X-Amz-Date", "20240115T120000Z"}};
    sigv4_request full = req;
    full.headers = with_date;
    std::string const creq = llmux::detail::canonical_request(full);
    BOOST_TEST(creq == "POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n\n"
                       "content-type:application/json\n"
                       "host:bedrock-runtime.us-east-1.amazonaws.com\n"
                       "x-amz-date:20240115T120000Z\n\n"
                       "content-type;host;x-amz-date\n"
                       "9fe85f2d1d832f88fa910da82e4380943a72b2d8f884106428ba8c4588a20b85");
    BOOST_TEST(llmux::detail::signed_headers(full) == "content-type;host;x-amz-date");
    BOOST_TEST(llmux::detail::sha256_hex(creq) ==
               "7d80d2f105c35da942ea5486316372d1b2bb161c7311f8202cc04992f9b5b53b");
    BOOST_TEST(llmux::detail::hex_encode(
                   llmux::detail::signing_key(secret, "20240115", "us-east-1", "bedrock")) ==
               "d4de7750f444a5199cbf173bfcceb1ef9613ceccaf3e489ccd1a1e1d5755047f");

    auto const added = sigv4_sign(req, suite_credentials(), "us-east-1", "bedrock", bedrock_time);
    BOOST_TEST_REQUIRE(added.has_value());
    BOOST_TEST(header(*added, "X-Amz-Date") == "20240115T120000Z");
    BOOST_TEST(header(*added, "Authorization") ==
               "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240115/us-east-1/bedrock/aws4_request, "
               "SignedHeaders=content-type;host;x-amz-date, "
               "Signature=41b4da20dfd5e143de2e5f64d725497edfbb3ad6cb9ee4f95374169e2659eb3d");
}

BOOST_AUTO_TEST_CASE(botocore_vectors) {
    // Expected values computed with botocore 1.43.11 SigV4Auth, suite credentials and time.
    auto sign_get = [](std::string_view path, header_list const& headers) {
        sigv4_request req;
        req.method = "GET";
        req.host = "example.amazonaws.com";
        req.path = path;
        req.headers = headers;
        auto r = sigv4_sign(req, suite_credentials(), "us-east-1", "service", suite_time);
        BOOST_TEST_REQUIRE(r.has_value());
        return header(*r, "Authorization");
    };
    std::string const prefix =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

    // get-vanilla-query-order-key-case; the query rides on the path here.
    BOOST_TEST(sign_get("/?Param2=value2&Param1=value1", {}) ==
               prefix + "SignedHeaders=host;x-amz-date, Signature="
                        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    // Whitespace trimmed and collapsed, names lowercased and sorted, User-Agent not signed.
    BOOST_TEST(sign_get("/", {{"My-Header1", "  value1   with   spaces "},
                              {"My-Header2", "\"a   b   c\""},
                              {"X-Custom", "one"},
                              {"User-Agent", "ua/1"},
                              {"Content-Type", "application/json"}}) ==
               prefix + "SignedHeaders=content-type;host;my-header1;my-header2;x-amz-date;"
                        "x-custom, Signature="
                        "02525d684c541c6a0dba4be706520aa66629bf71f7a6337c4679c0038047e894");
    // A repeated header: values joined by ',' in the order sent.
    BOOST_TEST(sign_get("/", {{"My-Header1", "value2"}, {"My-Header1", "value1"}}) ==
               prefix + "SignedHeaders=host;my-header1;x-amz-date, Signature="
                        "bdec613c2a8207a05bafa9a654353e209c3710b086c46ced81798cdcf09f80c1");
    // Dot segments and '//' removed.
    BOOST_TEST(sign_get("/a/./b/../c//d/", {}) ==
               prefix + "SignedHeaders=host;x-amz-date, Signature="
                        "07fc47830311f547240f25f97c1565bd7a705059e39e5d0c3e0c5287c2c4bcfc");
    // A percent-encoded UTF-8 path segment, encoded again.
    BOOST_TEST(sign_get("/%E1%88%B4", {}) ==
               prefix + "SignedHeaders=host;x-amz-date, Signature="
                        "697b34846207a3f72246f99d74ae1ee4fe54f44bb06730c58a0d339eb079596d");

    // POST with a query and a form body.
    header_list const form = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    sigv4_request post;
    post.method = "POST";
    post.host = "example.amazonaws.com";
    post.path = "/";
    post.query = "Param1=value1";
    post.headers = form;
    post.body = "Param1=value1";
    auto r = sigv4_sign(post, suite_credentials(), "us-east-1", "service", suite_time);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(header(*r, "Authorization") ==
               prefix + "SignedHeaders=content-type;host;x-amz-date, Signature="
                        "a710fa09a244ebe56efaef38072cc12ca6fc621d369794618b7e447dfc76d17a");
}

BOOST_AUTO_TEST_CASE(sign_rejects_bad_input) {
    sigv4_request req;
    req.host = "example.amazonaws.com";
    auto r = sigv4_sign(req, {"", std::string(secret), ""}, "us-east-1", "bedrock", suite_time);
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().code == llmux::error::missing_api_key);
    r = sigv4_sign(req, {std::string(akid), "", ""}, "us-east-1", "bedrock", suite_time);
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().code == llmux::error::missing_api_key);
    r = sigv4_sign(req, suite_credentials(), "", "bedrock", suite_time);
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().code == llmux::error::invalid_request);
    r = sigv4_sign(req, suite_credentials(), "us-east-1", "bed/rock", suite_time);
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().code == llmux::error::invalid_request);
    sigv4_request no_host;
    r = sigv4_sign(no_host, suite_credentials(), "us-east-1", "bedrock", suite_time);
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().code == llmux::error::invalid_request);
    BOOST_TEST(r.error().diag.message.find(secret) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(verify_round_trip) {
    auto const w = signed_bedrock_request(suite_credentials(), bedrock_time);
    auto const r = sigv4_verify(w.view(), suite_lookup, options_at(bedrock_time + 1min));
    BOOST_TEST_REQUIRE(r.has_value(), (r.has_error() ? r.error().to_string() : ""));
    BOOST_TEST(r->access_key_id == akid);
    BOOST_TEST(r->region == "us-east-1");
    BOOST_TEST(r->service == "bedrock");
    BOOST_TEST(r->session_token.empty());

    // Any region and service when the options name none.
    sigv4_verify_options any;
    any.now = bedrock_time;
    BOOST_TEST(sigv4_verify(w.view(), suite_lookup, any).has_value());
}

BOOST_AUTO_TEST_CASE(verify_round_trip_variants) {
    // Session credentials: the token is signed and reported.
    auto w = signed_bedrock_request(suite_credentials("session-token-1"), bedrock_time);
    auto r = sigv4_verify(w.view(), suite_lookup, options_at(bedrock_time));
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->session_token == "session-token-1");

    // A query string.
    w = signed_bedrock_request(suite_credentials(), bedrock_time, "b=2&a=x%3Ay");
    BOOST_TEST(sigv4_verify(w.view(), suite_lookup, options_at(bedrock_time)).has_value());

    // Header name case and value whitespace are canonicalized away; unsigned headers are free.
    w = signed_bedrock_request(suite_credentials(), bedrock_time);
    for (auto& [n, v] : w.headers) {
        if (n == "Content-Type") {
            n = "content-TYPE";
            v = "  application/json ";
        }
        if (n == "Host") n = "HOST";
        if (n == "User-Agent") v = "something else";
    }
    w.headers.emplace_back("X-Unsigned", "added later");
    BOOST_TEST(sigv4_verify(w.view(), suite_lookup, options_at(bedrock_time)).has_value());

    // Within the skew either way.
    w = signed_bedrock_request(suite_credentials(), bedrock_time);
    BOOST_TEST(sigv4_verify(w.view(), suite_lookup, options_at(bedrock_time + 14min)).has_value());
    BOOST_TEST(sigv4_verify(w.view(), suite_lookup, options_at(bedrock_time - 14min)).has_value());
}

BOOST_AUTO_TEST_CASE(verify_rejects_tampering) {
    auto const good = signed_bedrock_request(suite_credentials(), bedrock_time);
    auto const opts = options_at(bedrock_time);
    std::string_view const mismatch = "does not match";

    auto w = good;
    w.body.back() = ' ';
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    w = good;
    w.body.clear();
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    w = good;
    set_header(w, "Content-Type", "text/plain");
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    w = good;
    set_header(w, "Host", "bedrock-runtime.us-west-2.amazonaws.com");
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    w = good;
    w.target = "/model/anthropic.claude-3-opus-20240229-v1%3A0/converse";
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    w = good;
    w.target += "?extra=1";
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    w = good;
    w.method = "PUT";
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    // A later date in X-Amz-Date (same day) is covered by the string to sign.
    w = good;
    set_header(w, "X-Amz-Date", "20240115T120001Z");
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    // The session token is signed when present.
    auto s = signed_bedrock_request(suite_credentials("token-a"), bedrock_time);
    set_header(s, "X-Amz-Security-Token", "token-b");
    check_rejected(sigv4_verify(s.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    // One flipped signature digit.
    w = good;
    for (auto& [n, v] : w.headers)
        if (n == "Authorization") v.back() = v.back() == '0' ? '1' : '0';
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   mismatch);

    // A signed header that is no longer sent.
    w = good;
    remove_header(w, "Content-Type");
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   "content-type");

    // x-amz-content-sha256 must describe the body actually sent.
    w = good;
    w.headers.emplace_back("X-Amz-Content-SHA256", llmux::detail::sha256_hex("other body"));
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   "x-amz-content-sha256");
}

BOOST_AUTO_TEST_CASE(verify_rejects_wrong_or_unknown_key) {
    auto const w = signed_bedrock_request(suite_credentials(), bedrock_time);
    auto const opts = options_at(bedrock_time);
    auto const wrong_secret = lookup_for({{std::string(akid), "not-the-secret"}});
    check_rejected(sigv4_verify(w.view(), wrong_secret, opts), "InvalidSignatureException",
                   "does not match");
    auto const other_key = lookup_for({{"AKIDOTHER", std::string(secret)}});
    check_rejected(sigv4_verify(w.view(), other_key, opts), "UnrecognizedClientException");
    check_rejected(sigv4_verify(w.view(), {}, opts), "UnrecognizedClientException");
}

BOOST_AUTO_TEST_CASE(verify_rejects_clock_skew) {
    auto const w = signed_bedrock_request(suite_credentials(), bedrock_time);
    check_rejected(sigv4_verify(w.view(), suite_lookup, options_at(bedrock_time + 16min)),
                   "InvalidSignatureException", "Signature expired");
    check_rejected(sigv4_verify(w.view(), suite_lookup, options_at(bedrock_time - 16min)),
                   "InvalidSignatureException", "not yet current");
    auto opts = options_at(bedrock_time + 2min);
    opts.max_skew = 1min;
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   "Signature expired");
}

BOOST_AUTO_TEST_CASE(verify_rejects_scope) {
    auto const w = signed_bedrock_request(suite_credentials(), bedrock_time);
    auto opts = options_at(bedrock_time);
    opts.region = "eu-west-1";
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   "region");
    opts = options_at(bedrock_time);
    opts.service = "s3";
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "InvalidSignatureException",
                   "service");
    // X-Amz-Date moved to another day than the credential scope.
    auto other_day = w;
    set_header(other_day, "X-Amz-Date", "20240116T120000Z");
    check_rejected(sigv4_verify(other_day.view(), suite_lookup, options_at(bedrock_time + 24h)),
                   "InvalidSignatureException", "Credential scope");
}

BOOST_AUTO_TEST_CASE(verify_rejects_missing_or_malformed_headers) {
    auto const good = signed_bedrock_request(suite_credentials(), bedrock_time);
    auto const opts = options_at(bedrock_time);

    auto w = good;
    remove_header(w, "Authorization");
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts),
                   "MissingAuthenticationTokenException");

    std::string const scope = "AKIDEXAMPLE/20240115/us-east-1/bedrock/aws4_request";
    std::string const sig = "Signature=" + std::string(64, 'a');
    std::pair<std::string, std::string_view> const malformed[] = {
        {"Bearer abc", "AWS4-HMAC-SHA256"},
        {"AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256"},
        {"AWS4-HMAC-SHA1 Credential=" + scope + ", SignedHeaders=host, " + sig, "AWS4-HMAC-SHA256"},
        {"AWS4-HMAC-SHA256 Credential=" + scope + ", SignedHeaders=host", "Signature"},
        {"AWS4-HMAC-SHA256 Credential=" + scope + ", " + sig, "SignedHeaders"},
        {"AWS4-HMAC-SHA256 SignedHeaders=host, " + sig, "Credential"},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240115/us-east-1/bedrock, "
         "SignedHeaders=host, " +
             sig,
         "Credential"},
        {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240115/us-east-1/bedrock/aws4_request/x, "
         "SignedHeaders=host, " +
             sig,
         "Credential"},
        {"AWS4-HMAC-SHA256 Credential=" + scope + ", SignedHeaders=x-amz-date, " + sig, "Host"},
        {"AWS4-HMAC-SHA256 Credential=" + scope + ", garbage, " + sig, "key=value"},
    };
    for (auto const& [value, part] : malformed) {
        w = good;
        set_header(w, "Authorization", value);
        check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "IncompleteSignatureException",
                       part);
    }

    w = good;
    remove_header(w, "X-Amz-Date");
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "IncompleteSignatureException",
                   "X-Amz-Date");
    w = good;
    set_header(w, "X-Amz-Date", "2024-01-15T12:00:00Z");
    check_rejected(sigv4_verify(w.view(), suite_lookup, opts), "IncompleteSignatureException",
                   "X-Amz-Date");
}

BOOST_AUTO_TEST_CASE(errors_never_carry_secrets) {
    auto w = signed_bedrock_request(suite_credentials("very-secret-session-token"), bedrock_time);
    std::string signature;
    for (auto const& [n, v] : w.headers)
        if (n == "Authorization") signature = v.substr(v.rfind('=') + 1);
    w.body += "x";
    auto const r = sigv4_verify(w.view(), suite_lookup, options_at(bedrock_time));
    BOOST_TEST_REQUIRE(r.has_error());
    std::string const text = r.error().to_string();
    BOOST_TEST(text.find(secret) == std::string::npos);
    BOOST_TEST(text.find("very-secret-session-token") == std::string::npos);
    BOOST_TEST(text.find(signature) == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
