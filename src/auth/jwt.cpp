// SPDX-License-Identifier: BSL-1.0
#include "auth/jwt.hpp"
#include "util/json_read.hpp"

#include "util/crypto.hpp"
#include "util/header.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <climits>
#include <memory>

namespace llmux::detail {

namespace {

struct pkey_free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct bio_free {
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct md_ctx_free {
    void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct x509_free {
    void operator()(X509* p) const noexcept { X509_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

// OpenSSL failures leave entries on the thread's error queue; a later TLS operation on the same
// thread (Asio's SSL stream) would then misreport its own result, so every failure path clears.
template <class T>
result<T> openssl_failure(error code, std::string message) {
    ERR_clear_error();
    return failure(code, std::move(message));
}

// Refuses encrypted PEM instead of OpenSSL's default of prompting on the terminal.
int no_passphrase(char*, int, int, void*) {
    return 0;
}

bio_ptr memory_bio(std::string_view data) {
    if (data.size() > static_cast<std::size_t>(INT_MAX)) return nullptr;
    return bio_ptr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

pkey_ptr load_private_key(std::string_view pem) {
    auto bio = memory_bio(pem);
    if (!bio) return nullptr;
    pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key || EVP_PKEY_is_a(key.get(), "RSA") != 1) return nullptr;
    return key;
}

pkey_ptr load_public_key(std::string_view pem) {
    pkey_ptr key;
    if (pem.find("-----BEGIN CERTIFICATE-----") != std::string_view::npos) {
        auto bio = memory_bio(pem);
        if (!bio) return nullptr;
        x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
        if (cert) key.reset(X509_get_pubkey(cert.get()));
    } else {
        auto bio = memory_bio(pem);
        if (!bio) return nullptr;
        key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
    }
    if (!key || EVP_PKEY_is_a(key.get(), "RSA") != 1) return nullptr;
    return key;
}

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    long const len = BIO_get_mem_data(bio, &data);
    return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

// Decodes one base64url JWT segment holding a JSON object.
std::optional<boost::json::object> decode_json_segment(std::string_view segment) {
    auto const text = base64url_decode(segment);
    if (!text) return std::nullopt;
    boost::system::error_code ec;
    auto value = detail::parse_json(*text, ec);
    if (ec || !value.is_object()) return std::nullopt;
    return std::move(value.as_object());
}

failure jwt_rejected(std::string message) {
    ERR_clear_error();
    return failure(error::auth_failed, "JWT: " + std::move(message));
}

}  // namespace

result<service_account_key> parse_service_account_key(std::string_view json) {
    boost::system::error_code ec;
    auto const value = detail::parse_json(json, ec);
    // Only the error's description, never the text: it holds the private key.
    if (ec)
        return failure(error::invalid_config,
                       "service-account key is not valid JSON (" + ec.message() + ")");
    if (!value.is_object())
        return failure(error::invalid_config, "service-account key is not a JSON object");
    auto const& o = value.as_object();

    service_account_key key;
    struct field {
        std::string_view name;
        std::string* out;
        bool required;
    };
    field const fields[] = {
        {"client_email", &key.client_email, true},      {"private_key", &key.private_key, true},
        {"private_key_id", &key.private_key_id, false}, {"token_uri", &key.token_uri, false},
        {"project_id", &key.project_id, false},
    };
    if (auto const* type = o.if_contains("type")) {
        if (!type->is_string() || type->as_string() != "service_account") {
            std::string const what =
                type->is_string() ? "'" + std::string(type->as_string()) + "'" : "not a string";
            return failure(error::invalid_config,
                           "service-account key: field 'type' must be 'service_account', got " +
                               what);
        }
    }
    for (auto const& f : fields) {
        auto const* v = o.if_contains(f.name);
        if (!v || v->is_null()) {
            if (f.required)
                return failure(error::invalid_config,
                               "service-account key: missing field '" + std::string(f.name) + "'");
            continue;
        }
        if (!v->is_string())
            return failure(error::invalid_config, "service-account key: field '" +
                                                      std::string(f.name) + "' must be a string");
        *f.out = std::string(v->as_string());
        if (f.required && f.out->empty())
            return failure(error::invalid_config,
                           "service-account key: field '" + std::string(f.name) + "' is empty");
    }
    if (key.token_uri.empty()) key.token_uri = std::string(google_token_uri);
    if (!load_private_key(key.private_key))
        return openssl_failure<service_account_key>(
            error::invalid_config,
            "service-account key: field 'private_key' is not an unencrypted RSA private key in "
            "PEM");
    return key;
}

result<std::string> sign_jwt_rs256(boost::json::object const& claims,
                                   std::string_view private_key_pem, std::string_view key_id) {
    auto const key = load_private_key(private_key_pem);
    if (!key)
        return openssl_failure<std::string>(error::invalid_config,
                                            "JWT: the signing key is not an unencrypted RSA "
                                            "private key in PEM");
    boost::json::object header;
    header["alg"] = "RS256";
    header["typ"] = "JWT";
    if (!key_id.empty()) header["kid"] = key_id;

    std::string jwt = base64url_encode(boost::json::serialize(header));
    jwt.push_back('.');
    jwt.append(base64url_encode(boost::json::serialize(claims)));

    md_ctx_ptr ctx(EVP_MD_CTX_new());
    std::size_t sig_len = 0;
    auto const* input = reinterpret_cast<unsigned char const*>(jwt.data());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &sig_len, input, jwt.size()) != 1)
        return openssl_failure<std::string>(error::invalid_config, "JWT: RS256 signing failed");
    std::string sig(sig_len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len, input,
                       jwt.size()) != 1)
        return openssl_failure<std::string>(error::invalid_config, "JWT: RS256 signing failed");
    sig.resize(sig_len);
    jwt.push_back('.');
    jwt.append(base64url_encode(sig));
    return jwt;
}

result<std::string> make_service_account_jwt(service_account_key const& key,
                                             std::chrono::system_clock::time_point now,
                                             std::string_view scope,
                                             std::chrono::seconds lifetime) {
    using namespace std::chrono;
    lifetime = std::clamp(lifetime, seconds(1), seconds(hours(1)));
    std::int64_t const iat = duration_cast<seconds>(now.time_since_epoch()).count();
    boost::json::object claims;
    claims["iss"] = key.client_email;
    claims["scope"] = scope;
    claims["aud"] = key.token_uri.empty() ? google_token_uri : std::string_view(key.token_uri);
    claims["iat"] = iat;
    claims["exp"] = iat + lifetime.count();
    return sign_jwt_rs256(claims, key.private_key, key.private_key_id);
}

result<boost::json::object> verify_rs256(std::string_view jwt, std::string_view public_key_pem) {
    std::size_t const dot1 = jwt.find('.');
    std::size_t const dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos)
        return jwt_rejected("not three dot-separated parts");
    std::string_view const signing_input = jwt.substr(0, dot2);

    auto const header = decode_json_segment(jwt.substr(0, dot1));
    if (!header) return jwt_rejected("the header is not base64url of a JSON object");
    auto const* alg = header->if_contains("alg");
    if (!alg || !alg->is_string() || alg->as_string() != "RS256")
        return jwt_rejected("the header's alg is not RS256");

    auto const sig = base64url_decode(jwt.substr(dot2 + 1));
    if (!sig || sig->empty()) return jwt_rejected("the signature is not base64url");

    auto const key = load_public_key(public_key_pem);
    if (!key)
        return openssl_failure<boost::json::object>(
            error::invalid_config, "JWT: the verification key is not an RSA public key in PEM");

    md_ctx_ptr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1)
        return jwt_rejected("cannot set up RS256 verification");
    if (EVP_DigestVerify(ctx.get(), reinterpret_cast<unsigned char const*>(sig->data()),
                         sig->size(), reinterpret_cast<unsigned char const*>(signing_input.data()),
                         signing_input.size()) != 1)
        return jwt_rejected("the signature does not verify");

    auto claims = decode_json_segment(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
    if (!claims) return jwt_rejected("the claims are not base64url of a JSON object");
    return std::move(*claims);
}

result<rsa_key_pair> generate_rsa_key(unsigned bits) {
    pkey_ptr key(EVP_RSA_gen(bits));
    if (!key)
        return openssl_failure<rsa_key_pair>(error::invalid_config, "RSA key generation failed");
    bio_ptr priv(BIO_new(BIO_s_mem()));
    bio_ptr pub(BIO_new(BIO_s_mem()));
    // PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3.
    if (!priv || !pub ||
        PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
            1 ||
        PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1)
        return openssl_failure<rsa_key_pair>(error::invalid_config, "RSA key export failed");
    return rsa_key_pair{bio_contents(priv.get()), bio_contents(pub.get())};
}

std::string token_request_body(std::string_view jwt) {
    std::string body =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
    // A JWT is base64url and dots only, but encoding keeps the body valid whatever is passed.
    body.append(uri_encode(jwt, true));
    return body;
}

result<oauth_token> parse_token_response(unsigned status, std::string_view body) {
    boost::system::error_code ec;
    auto const value = detail::parse_json(body, ec);
    boost::json::object const* o = (!ec && value.is_object()) ? &value.as_object() : nullptr;
    auto string_field = [&](std::string_view name) -> std::string {
        if (!o) return {};
        auto const* v = o->if_contains(name);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };

    if (status < 200 || status > 299) {
        error code = error::protocol_error;
        if (status == 400 || status == 401 || status == 403)
            code = error::auth_failed;
        else if (status == 429)
            code = error::rate_limited;
        else if (status >= 500)
            code = error::server_error;
        failure f(code);
        f.diag.http_status = status;
        f.diag.error_code = string_field("error");
        f.diag.message = string_field("error_description");
        if (f.diag.message.empty())
            f.diag.message = "token endpoint returned HTTP " + std::to_string(status);
        return f;
    }
    if (!o) return failure(error::protocol_error, "token response is not a JSON object");

    oauth_token token;
    token.access_token = string_field("access_token");
    if (token.access_token.empty())
        return failure(error::protocol_error, "token response has no 'access_token'");
    // The token goes into an Authorization header: a token endpoint must not be able to add
    // header lines of its own.
    if (auto problem = header_value_problem(token.access_token))
        return failure(error::protocol_error,
                       "token response 'access_token' " + std::string(*problem));
    token.token_type = string_field("token_type");
    if (auto const* v = o->if_contains("expires_in")) {
        if (v->is_int64() && v->as_int64() >= 0) {
            token.expires_in = std::chrono::seconds(v->as_int64());
        } else if (v->is_uint64()) {
            token.expires_in = std::chrono::seconds(
                static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), INT32_MAX)));
        } else if (v->is_string() && !v->as_string().empty() && v->as_string().size() <= 9 &&
                   std::all_of(v->as_string().begin(), v->as_string().end(),
                               [](char c) { return c >= '0' && c <= '9'; })) {
            token.expires_in = std::chrono::seconds(std::stol(std::string(v->as_string())));
        } else {
            return failure(error::protocol_error,
                           "token response 'expires_in' is not a non-negative number");
        }
    }
    return token;
}

}  // namespace llmux::detail
