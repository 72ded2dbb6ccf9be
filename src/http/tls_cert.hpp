// SPDX-License-Identifier: BSL-1.0
// A throw-away certificate authority and server certificate, made at start (OpenSSL 3 EVP), so
// local HTTPS servers (the emulator, tests) need no files and clients can verify them.
#pragma once

#include <llmux/error.hpp>

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <vector>

namespace llmux::detail {

/// @brief PEM texts of a CA and of a server certificate it signed.
struct tls_material {
    std::string ca_cert_pem;
    std::string ca_key_pem;
    std::string server_cert_pem;
    std::string server_key_pem;
};

/** @brief Makes a self-signed CA (P-256 key, `CA:TRUE`, `keyCertSign`) and a server certificate
    signed by it, valid from a day ago to 30 days ahead, with a subjectAltName for each of
    `names` (IP addresses as IP entries, the rest as DNS entries).

    @par Errors
    `error::invalid_config` for an empty list or a name with characters a host name cannot have;
    otherwise the OpenSSL error.
*/
result<tls_material> make_tls_material(std::vector<std::string> const& names);

/// @brief A TLS 1.2+ server context using `m`'s server certificate and key.
result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(tls_material const& m);

}  // namespace llmux::detail
