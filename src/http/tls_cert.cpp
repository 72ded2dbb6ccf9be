// SPDX-License-Identifier: BSL-1.0
#include "http/tls_cert.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <memory>
#include <string>

namespace llmux::detail {

namespace {

struct pkey_free {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct x509_free {
    void operator()(X509* p) const noexcept { X509_free(p); }
};
struct bio_free {
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct ext_free {
    void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, ext_free>;

/// The pending OpenSSL error as a failure, with what we were doing.
failure ssl_failure(char const* what) {
    unsigned long const e = ERR_get_error();
    ERR_clear_error();
    boost::system::error_code ec(static_cast<int>(e ? e : 1),
                                 boost::asio::error::get_ssl_category());
    diagnostics d;
    char buf[256] = "unknown OpenSSL error";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    d.message = std::string("TLS certificate: ") + what + ": " + buf;
    return failure(ec, std::move(d));
}

pkey_ptr make_key() {
    // P-256: generated in microseconds, unlike RSA, and accepted by every TLS client.
    return pkey_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

bool add_ext(X509* cert, X509* issuer, int nid, char const* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool set_serial(X509* cert) {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
    bytes[0] &= 0x7f;  // positive, as RFC 5280 requires
    BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
    if (!bn) return false;
    bool const ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
    BN_free(bn);
    return ok;
}

x509_ptr new_cert(EVP_PKEY* key, char const* common_name) {
    x509_ptr cert(X509_new());
    if (!cert) return nullptr;
    if (X509_set_version(cert.get(), 2) != 1 || !set_serial(cert.get())) return nullptr;
    // A day back tolerates clock skew between processes; 30 days is plenty for a test run.
    if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24L * 3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600))
        return nullptr;
    if (X509_set_pubkey(cert.get(), key) != 1) return nullptr;
    X509_NAME* name = X509_get_subject_name(cert.get());
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   reinterpret_cast<unsigned char const*>("llmux"), -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<unsigned char const*>(common_name), -1, -1,
                                   0) != 1)
        return nullptr;
    return cert;
}

result<std::string> to_pem(X509* cert) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
        return ssl_failure("writing a certificate");
    char* data = nullptr;
    long const n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

result<std::string> to_pem(EVP_PKEY* key) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return ssl_failure("writing a private key");
    char* data = nullptr;
    long const n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
}

bool valid_dns_name(std::string const& n) {
    if (n.empty() || n.size() > 253) return false;
    for (char c : n)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '*' ||
              c == '_'))
            return false;
    return true;
}

}  // namespace

result<tls_material> make_tls_material(std::vector<std::string> const& names) {
    if (names.empty())
        return failure(error::invalid_config, "tls_names: at least one host name or IP is needed");
    std::string san;
    for (auto const& n : names) {
        boost::system::error_code ec;
        auto const addr = boost::asio::ip::make_address(n, ec);
        if (!san.empty()) san += ',';
        if (!ec) {
            san += "IP:" + addr.to_string();
        } else if (valid_dns_name(n)) {
            san += "DNS:" + n;
        } else {
            return failure(error::invalid_config,
                           "tls_names: '" + n + "' is neither an IP address nor a host name");
        }
    }

    pkey_ptr ca_key = make_key();
    if (!ca_key) return ssl_failure("generating the CA key");
    x509_ptr ca = new_cert(ca_key.get(), "llmux emulator CA");
    if (!ca) return ssl_failure("building the CA certificate");
    if (X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())) != 1 ||
        !add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE") ||
        !add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash") ||
        X509_sign(ca.get(), ca_key.get(), EVP_sha256()) <= 0)
        return ssl_failure("signing the CA certificate");

    pkey_ptr key = make_key();
    if (!key) return ssl_failure("generating the server key");
    x509_ptr cert = new_cert(key.get(), names.front().c_str());
    if (!cert) return ssl_failure("building the server certificate");
    if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1 ||
        !add_ext(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature") ||
        !add_ext(cert.get(), ca.get(), NID_ext_key_usage, "serverAuth") ||
        !add_ext(cert.get(), ca.get(), NID_subject_key_identifier, "hash") ||
        !add_ext(cert.get(), ca.get(), NID_authority_key_identifier, "keyid:always") ||
        !add_ext(cert.get(), ca.get(), NID_subject_alt_name, san.c_str()) ||
        X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0)
        return ssl_failure("signing the server certificate");

    tls_material m;
    auto ca_pem = to_pem(ca.get());
    if (!ca_pem) return ca_pem.error();
    auto ca_key_pem = to_pem(ca_key.get());
    if (!ca_key_pem) return ca_key_pem.error();
    auto cert_pem = to_pem(cert.get());
    if (!cert_pem) return cert_pem.error();
    auto key_pem = to_pem(key.get());
    if (!key_pem) return key_pem.error();
    m.ca_cert_pem = std::move(*ca_pem);
    m.ca_key_pem = std::move(*ca_key_pem);
    m.server_cert_pem = std::move(*cert_pem);
    m.server_key_pem = std::move(*key_pem);
    return m;
}

result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(tls_material const& m) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                     ec);
    if (ec) return failure(ec, diagnostics{.message = "TLS context options: " + ec.message()});
    if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1)
        return ssl_failure("setting the minimum TLS version");
    ctx->use_certificate_chain(boost::asio::buffer(m.server_cert_pem), ec);
    if (ec) return failure(ec, diagnostics{.message = "TLS server certificate: " + ec.message()});
    ctx->use_private_key(boost::asio::buffer(m.server_key_pem), ssl::context::pem, ec);
    if (ec) return failure(ec, diagnostics{.message = "TLS server key: " + ec.message()});
    return ctx;
}

}  // namespace llmux::detail
