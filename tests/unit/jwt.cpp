// SPDX-License-Identifier: BSL-1.0
// Google service-account JWTs: key-file parsing, RS256 signing checked by an independent
// OpenSSL verification path, verify_rs256 against tampering and foreign keys, token exchange.
#include "auth/jwt.hpp"
#include "util/crypto.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using llmux::detail::base64url_decode;
using llmux::detail::base64url_encode;
using llmux::detail::rsa_key_pair;
using llmux::detail::verify_rs256;

// Key generation costs tens of milliseconds; two pairs serve every test.
rsa_key_pair const& key_a() {
    static rsa_key_pair const k = llmux::detail::generate_rsa_key().value();
    return k;
}
rsa_key_pair const& key_b() {
    static rsa_key_pair const k = llmux::detail::generate_rsa_key().value();
    return k;
}

std::chrono::system_clock::time_point const now =
    std::chrono::sys_days(std::chrono::year{2024} / 1 / 15) + 12h;
std::int64_t const now_s =
    std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();

boost::json::object key_file_object() {
    return {{"type", "service_account"},
            {"project_id", "my-project"},
            {"private_key_id", "kid-123"},
            {"private_key", key_a().private_key_pem},
            {"client_email", "llmux@my-project.iam.gserviceaccount.com"},
            {"client_id", "1234567890"},
            {"token_uri", "https://oauth2.googleapis.com/token"}};
}

std::string key_file(boost::json::object const& o) {
    return boost::json::serialize(o);
}

// A fragment of the private key's base64 body: must never appear in an error.
std::string key_fragment() {
    std::string const& pem = key_a().private_key_pem;
    return pem.substr(pem.find('\n') + 1, 40);
}

void check_no_key_in(llmux::failure const& f) {
    std::string const text = f.to_string();
    BOOST_TEST(text.find(key_fragment()) == std::string::npos);
    BOOST_TEST(text.find("BEGIN PRIVATE KEY") == std::string::npos);
}

std::vector<std::string> split_jwt(std::string const& jwt) {
    std::vector<std::string> parts;
    std::size_t pos = 0;
    for (;;) {
        std::size_t const dot = jwt.find('.', pos);
        parts.push_back(jwt.substr(pos, dot - pos));
        if (dot == std::string::npos) break;
        pos = dot + 1;
    }
    return parts;
}

std::string decode_segment(std::string const& s) {
    auto r = base64url_decode(s);
    BOOST_TEST_REQUIRE(r.has_value());
    return *r;
}

// Verifies an RS256 signature through EVP_PKEY_verify over a precomputed SHA-256 digest with
// explicit PKCS#1 v1.5 padding: a different OpenSSL path than the code under test.
bool independent_verify(std::string const& jwt, std::string const& public_pem) {
    std::size_t const last_dot = jwt.rfind('.');
    std::string const input = jwt.substr(0, last_dot);
    std::string const sig = decode_segment(jwt.substr(last_dot + 1));
    auto const digest = llmux::detail::sha256(input);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())), BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    BOOST_TEST_REQUIRE(key != nullptr);
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new(key.get(), nullptr), EVP_PKEY_CTX_free);
    BOOST_TEST_REQUIRE(ctx != nullptr);
    BOOST_TEST_REQUIRE(EVP_PKEY_verify_init(ctx.get()) == 1);
    BOOST_TEST_REQUIRE(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1);
    BOOST_TEST_REQUIRE(EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1);
    return EVP_PKEY_verify(ctx.get(), reinterpret_cast<unsigned char const*>(sig.data()),
                           sig.size(), digest.data(), digest.size()) == 1;
}

std::string pem_of(EVP_PKEY* key, bool private_key, EVP_CIPHER const* cipher = nullptr) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    int const ok = private_key
                       ? PEM_write_bio_PKCS8PrivateKey(bio.get(), key, cipher,
                                                       cipher ? const_cast<char*>("pass") : nullptr,
                                                       cipher ? 4 : 0, nullptr, nullptr)
                       : PEM_write_bio_PUBKEY(bio.get(), key);
    BOOST_TEST_REQUIRE(ok == 1);
    char* data = nullptr;
    long const len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

std::string sample_jwt() {
    auto const key = llmux::detail::parse_service_account_key(key_file(key_file_object()));
    BOOST_TEST_REQUIRE(key.has_value());
    auto jwt = llmux::detail::make_service_account_jwt(*key, now);
    BOOST_TEST_REQUIRE(jwt.has_value());
    return *jwt;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(jwt)

BOOST_AUTO_TEST_CASE(generated_keys_are_pem_pairs) {
    auto const& k = key_a();
    BOOST_TEST(k.private_key_pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0u);  // PKCS#8
    BOOST_TEST(k.public_key_pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0) == 0u);
    BOOST_TEST(k.private_key_pem != key_b().private_key_pem);
    // 2048 bits: a 256-byte signature.
    std::string const jwt = sample_jwt();
    BOOST_TEST(decode_segment(split_jwt(jwt).at(2)).size() == 256u);
}

BOOST_AUTO_TEST_CASE(parse_key_file) {
    auto const key = llmux::detail::parse_service_account_key(key_file(key_file_object()));
    BOOST_TEST_REQUIRE(key.has_value());
    BOOST_TEST(key->client_email == "llmux@my-project.iam.gserviceaccount.com");
    BOOST_TEST(key->private_key == key_a().private_key_pem);
    BOOST_TEST(key->private_key_id == "kid-123");
    BOOST_TEST(key->token_uri == "https://oauth2.googleapis.com/token");
    BOOST_TEST(key->project_id == "my-project");

    // Optional fields may be missing: token_uri then defaults to Google's.
    auto o = key_file_object();
    o.erase("token_uri");
    o.erase("private_key_id");
    o.erase("project_id");
    o.erase("type");
    auto const minimal = llmux::detail::parse_service_account_key(key_file(o));
    BOOST_TEST_REQUIRE(minimal.has_value());
    BOOST_TEST(minimal->token_uri == llmux::detail::google_token_uri);
    BOOST_TEST(minimal->private_key_id.empty());
    BOOST_TEST(minimal->project_id.empty());
}

BOOST_AUTO_TEST_CASE(parse_key_file_failures_name_the_field) {
    auto expect_failure = [](boost::json::object const& o, std::string_view part) {
        auto const r = llmux::detail::parse_service_account_key(key_file(o));
        BOOST_TEST_REQUIRE(r.has_error());
        BOOST_TEST(r.error().code == llmux::error::invalid_config);
        BOOST_TEST(r.error().diag.message.find(part) != std::string::npos, r.error().diag.message);
        check_no_key_in(r.error());
    };
    for (std::string_view field : {"client_email", "private_key"}) {
        auto o = key_file_object();
        o.erase(field);
        expect_failure(o, "missing field '" + std::string(field) + "'");
        o[field] = "";
        expect_failure(o, "'" + std::string(field) + "' is empty");
        o[field] = 42;
        expect_failure(o, "'" + std::string(field) + "' must be a string");
    }
    auto o = key_file_object();
    o["token_uri"] = boost::json::array{};
    expect_failure(o, "'token_uri' must be a string");

    o = key_file_object();
    o["type"] = "authorized_user";
    expect_failure(o, "'authorized_user'");

    // A private key that is not a key: named, never quoted.
    o = key_file_object();
    o["private_key"] =
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n";
    expect_failure(o, "'private_key' is not");
    auto const r = llmux::detail::parse_service_account_key(key_file(o));
    BOOST_TEST(r.error().diag.message.find("bm90IGEga2V5") == std::string::npos);

    // An encrypted key is refused instead of prompting for a passphrase.
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(key_a().private_key_pem.data(),
                        static_cast<int>(key_a().private_key_pem.size())),
        BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    BOOST_TEST_REQUIRE(pkey != nullptr);
    o = key_file_object();
    o["private_key"] = pem_of(pkey.get(), true, EVP_aes_256_cbc());
    expect_failure(o, "'private_key' is not");

    // An EC key is not an RSA key.
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ec(EVP_EC_gen("P-256"), EVP_PKEY_free);
    BOOST_TEST_REQUIRE(ec != nullptr);
    o = key_file_object();
    o["private_key"] = pem_of(ec.get(), true);
    expect_failure(o, "'private_key' is not");

    // Broken JSON that contains the key: the error quotes nothing.
    std::string const text = key_file(key_file_object());
    auto const broken = llmux::detail::parse_service_account_key(text.substr(0, text.size() - 1));
    BOOST_TEST_REQUIRE(broken.has_error());
    BOOST_TEST(broken.error().code == llmux::error::invalid_config);
    BOOST_TEST(broken.error().diag.message.find("not valid JSON") != std::string::npos);
    check_no_key_in(broken.error());
    BOOST_TEST(llmux::detail::parse_service_account_key("[1,2]").has_error());
}

BOOST_AUTO_TEST_CASE(service_account_jwt_contents) {
    std::string const jwt = sample_jwt();
    auto const parts = split_jwt(jwt);
    BOOST_TEST_REQUIRE(parts.size() == 3u);
    // The header, byte for byte, in the order Google's libraries send it.
    BOOST_TEST(decode_segment(parts[0]) == R"({"alg":"RS256","typ":"JWT","kid":"kid-123"})");
    auto const claims = boost::json::parse(decode_segment(parts[1])).as_object();
    BOOST_TEST(claims.size() == 5u);
    BOOST_TEST(claims.at("iss").as_string() == "llmux@my-project.iam.gserviceaccount.com");
    BOOST_TEST(claims.at("scope").as_string() == "https://www.googleapis.com/auth/cloud-platform");
    BOOST_TEST(claims.at("aud").as_string() == "https://oauth2.googleapis.com/token");
    BOOST_TEST(claims.at("iat").as_int64() == now_s);
    BOOST_TEST(claims.at("exp").as_int64() == now_s + 3600);
    BOOST_TEST(independent_verify(jwt, key_a().public_key_pem));
    BOOST_TEST(!independent_verify(jwt, key_b().public_key_pem));
}

BOOST_AUTO_TEST_CASE(jwt_options) {
    auto key = llmux::detail::parse_service_account_key(key_file(key_file_object())).value();
    // Lifetime is capped at one hour; a shorter one is kept; the scope is passed through.
    auto jwt = llmux::detail::make_service_account_jwt(key, now, "scope-x", 2h).value();
    auto claims = boost::json::parse(decode_segment(split_jwt(jwt)[1])).as_object();
    BOOST_TEST(claims.at("exp").as_int64() - claims.at("iat").as_int64() == 3600);
    BOOST_TEST(claims.at("scope").as_string() == "scope-x");
    jwt =
        llmux::detail::make_service_account_jwt(key, now, llmux::detail::cloud_platform_scope, 600s)
            .value();
    claims = boost::json::parse(decode_segment(split_jwt(jwt)[1])).as_object();
    BOOST_TEST(claims.at("exp").as_int64() - claims.at("iat").as_int64() == 600);

    // No key id: no kid. A custom token_uri is the audience.
    key.private_key_id.clear();
    key.token_uri = "http://127.0.0.1:8080/token";
    jwt = llmux::detail::make_service_account_jwt(key, now).value();
    BOOST_TEST(decode_segment(split_jwt(jwt)[0]) == R"({"alg":"RS256","typ":"JWT"})");
    claims = boost::json::parse(decode_segment(split_jwt(jwt)[1])).as_object();
    BOOST_TEST(claims.at("aud").as_string() == "http://127.0.0.1:8080/token");
}

BOOST_AUTO_TEST_CASE(base64url_without_padding) {
    auto const key = llmux::detail::parse_service_account_key(key_file(key_file_object())).value();
    // Many iat values give many signatures, headers and claims of varied lengths and bytes.
    for (int i = 0; i < 40; ++i) {
        auto const jwt =
            llmux::detail::make_service_account_jwt(key, now + std::chrono::seconds(i * 7919),
                                                    "s" + std::string(i % 5, 'x'))
                .value();
        BOOST_TEST(jwt.find_first_of("=+/ \n") == std::string::npos, jwt);
        auto const parts = split_jwt(jwt);
        BOOST_TEST_REQUIRE(parts.size() == 3u);
        for (auto const& p : parts)
            BOOST_TEST(base64url_encode(decode_segment(p)) == p);
    }
}

BOOST_AUTO_TEST_CASE(sign_verify_round_trip) {
    boost::json::object const claims = {{"iss", "a@b"}, {"n", 42}, {"nested", {{"x", true}}}};
    auto const jwt = llmux::detail::sign_jwt_rs256(claims, key_a().private_key_pem, "k1");
    BOOST_TEST_REQUIRE(jwt.has_value());
    auto const back = verify_rs256(*jwt, key_a().public_key_pem);
    BOOST_TEST_REQUIRE(back.has_value(), (back.has_error() ? back.error().to_string() : ""));
    BOOST_TEST((*back == claims));

    auto const sa = verify_rs256(sample_jwt(), key_a().public_key_pem);
    BOOST_TEST_REQUIRE(sa.has_value());
    BOOST_TEST(sa->at("iss").as_string() == "llmux@my-project.iam.gserviceaccount.com");
}

BOOST_AUTO_TEST_CASE(verify_rejects_tampering) {
    std::string const jwt = sample_jwt();
    auto const parts = split_jwt(jwt);
    auto expect_rejected = [](std::string const& token, std::string_view part) {
        auto const r = verify_rs256(token, key_a().public_key_pem);
        BOOST_TEST_REQUIRE(r.has_error(), "accepted " << token);
        BOOST_TEST(r.error().code == llmux::error::auth_failed);
        BOOST_TEST(r.error().diag.message.find(part) != std::string::npos, r.error().diag.message);
    };

    // Claims changed (a later expiry), signature kept.
    auto claims = boost::json::parse(decode_segment(parts[1])).as_object();
    claims["exp"] = now_s + 86400;
    expect_rejected(parts[0] + "." + base64url_encode(boost::json::serialize(claims)) + "." +
                        parts[2],
                    "does not verify");
    // One character of the claims or the signature changed.
    for (std::size_t which : {1u, 2u}) {
        auto p = parts;
        p[which][10] = p[which][10] == 'A' ? 'B' : 'A';
        expect_rejected(p[0] + "." + p[1] + "." + p[2], "does not verify");
    }
    // The header changed: kid, or the algorithm.
    expect_rejected(base64url_encode(R"({"alg":"RS256","typ":"JWT","kid":"other"})") + "." +
                        parts[1] + "." + parts[2],
                    "does not verify");
    expect_rejected(base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + parts[1] + ".",
                    "RS256");
    expect_rejected(base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + parts[1] + "." +
                        parts[2],
                    "RS256");
    expect_rejected(base64url_encode(R"({"typ":"JWT"})") + "." + parts[1] + "." + parts[2],
                    "RS256");
    // Shapes that are not a JWT.
    expect_rejected(parts[0] + "." + parts[1], "three");
    expect_rejected(jwt + ".x", "three");
    expect_rejected(parts[0] + "." + parts[1] + ".", "signature");
    expect_rejected(parts[0] + "." + parts[1] + "." + parts[2] + "=", "signature");
    expect_rejected("eyJhbGciOiJSUzI1NiJ9." + parts[1] + "." + parts[2] + "+", "signature");
    expect_rejected("bm90IGpzb24." + parts[1] + "." + parts[2], "header");
    expect_rejected("", "three");
}

BOOST_AUTO_TEST_CASE(verify_rejects_other_keys) {
    std::string const jwt = sample_jwt();
    auto const r = verify_rs256(jwt, key_b().public_key_pem);
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().code == llmux::error::auth_failed);

    // A JWT signed by key B, checked against A.
    auto const by_b = llmux::detail::sign_jwt_rs256({{"iss", "x"}}, key_b().private_key_pem, "");
    BOOST_TEST_REQUIRE(by_b.has_value());
    BOOST_TEST(verify_rs256(*by_b, key_b().public_key_pem).has_value());
    BOOST_TEST(verify_rs256(*by_b, key_a().public_key_pem).has_error());

    // Not a public key at all, or not an RSA one.
    auto bad = verify_rs256(jwt, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST(bad.error().code == llmux::error::invalid_config);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ec(EVP_EC_gen("P-256"), EVP_PKEY_free);
    BOOST_TEST_REQUIRE(ec != nullptr);
    bad = verify_rs256(jwt, pem_of(ec.get(), false));
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST(bad.error().code == llmux::error::invalid_config);
    // A private key where the public key belongs is not accepted either.
    BOOST_TEST(verify_rs256(jwt, key_a().private_key_pem).has_error());
}

BOOST_AUTO_TEST_CASE(sign_rejects_bad_keys) {
    auto r = llmux::detail::sign_jwt_rs256({{"iss", "x"}}, "not a pem", "");
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST(r.error().code == llmux::error::invalid_config);
    BOOST_TEST(r.error().diag.message.find("not a pem") == std::string::npos);
    r = llmux::detail::sign_jwt_rs256({{"iss", "x"}}, key_a().public_key_pem, "");
    BOOST_TEST(r.has_error());
}

BOOST_AUTO_TEST_CASE(token_exchange) {
    BOOST_TEST(
        llmux::detail::token_request_body("aaa.bbb.ccc") ==
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aaa.bbb.ccc");

    using llmux::detail::parse_token_response;
    auto ok = parse_token_response(
        200, R"({"access_token":"ya29.abc","expires_in":3599,"token_type":"Bearer"})");
    BOOST_TEST_REQUIRE(ok.has_value());
    BOOST_TEST(ok->access_token == "ya29.abc");
    BOOST_TEST(ok->token_type == "Bearer");
    BOOST_TEST(ok->expires_in.count() == 3599);
    ok = parse_token_response(200, R"({"access_token":"t","expires_in":"3600","extra":1})");
    BOOST_TEST_REQUIRE(ok.has_value());
    BOOST_TEST(ok->expires_in.count() == 3600);

    auto bad = parse_token_response(
        400, R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})");
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST(bad.error().code == llmux::error::auth_failed);
    BOOST_TEST(bad.error().diag.http_status == 400u);
    BOOST_TEST(bad.error().diag.error_code == "invalid_grant");
    BOOST_TEST(bad.error().diag.message == "Invalid JWT Signature.");
    bad = parse_token_response(503, "upstream connect error");
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST(bad.error().code == llmux::error::server_error);
    bad = parse_token_response(429, "{}");
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST(bad.error().code == llmux::error::rate_limited);
    for (std::string_view body : {R"({"token_type":"Bearer"})", "not json", "[]",
                                  R"({"access_token":"t","expires_in":"soon"})",
                                  R"({"access_token":"t","expires_in":-5})"}) {
        bad = parse_token_response(200, body);
        BOOST_TEST_REQUIRE(bad.has_error(), "accepted " << body);
        BOOST_TEST(bad.error().code == llmux::error::protocol_error);
    }
}

BOOST_AUTO_TEST_SUITE_END()
