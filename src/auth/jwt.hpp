// SPDX-License-Identifier: BSL-1.0
// Google service accounts: the key file, the RS256 JWT assertion exchanged for an OAuth access
// token (PROVIDERS.md 5.2, RFC 7519, RFC 7523), and the verifying side for the emulator.
#pragma once

#include <llmux/error.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace llmux::detail {

/// Where Google service-account keys send their assertions unless the key file says otherwise.
inline constexpr std::string_view google_token_uri = "https://oauth2.googleapis.com/token";
/// The OAuth scope Vertex AI needs.
inline constexpr std::string_view cloud_platform_scope =
    "https://www.googleapis.com/auth/cloud-platform";

/** @brief The fields of a service-account JSON key file that llmux uses.

    `private_key` is a secret: never log it or put it in an error message.
*/
struct service_account_key {
    std::string client_email;
    /// PEM, usually PKCS#8 (`-----BEGIN PRIVATE KEY-----`).
    std::string private_key;
    /// Sent as the JWT `kid`; may be empty (then no `kid`).
    std::string private_key_id;
    /// Defaults to `google_token_uri` when the file has none.
    std::string token_uri;
    /// May be empty; Vertex then needs the project from the configuration.
    std::string project_id;
};

/** @brief Parses a service-account key file (the JSON the Cloud console downloads).

    Checks that `client_email` and `private_key` are present, that `type`, if present, is
    `service_account`, and that the private key loads as an RSA key, so a bad file fails at
    configuration time rather than on the first call.
    @par Errors
    `error::invalid_config`, naming the missing or mistyped field. The key's text is never
    quoted.
*/
result<service_account_key> parse_service_account_key(std::string_view json);

/** @brief Signs `claims` as a compact JWS with RS256 (RSASSA-PKCS1-v1_5 + SHA-256).

    The header is `{"alg":"RS256","typ":"JWT","kid":<key_id>}` (`kid` omitted when empty).
    Every part is base64url without padding.
    @par Errors
    `error::invalid_config` if `private_key_pem` is not an RSA private key in PEM
    (encrypted keys are refused rather than prompting for a passphrase).
*/
result<std::string> sign_jwt_rs256(boost::json::object const& claims,
                                   std::string_view private_key_pem, std::string_view key_id);

/** @brief The assertion a service account exchanges for an access token:
    claims `iss` = client email, `scope`, `aud` = token URI, `iat` = now, `exp` = now + lifetime.
    @param lifetime clamped to at most one hour, Google's limit.
*/
result<std::string> make_service_account_jwt(service_account_key const& key,
                                             std::chrono::system_clock::time_point now,
                                             std::string_view scope = cloud_platform_scope,
                                             std::chrono::seconds lifetime = std::chrono::hours(1));

/** @brief Verifies an RS256 JWT and returns its claims.

    Only `alg` RS256 is accepted (never `none`, never an HMAC algorithm with the public key as
    secret). Times, issuer and audience are not checked: the caller checks the claims it cares
    about.
    @param public_key_pem a `PUBLIC KEY` (SubjectPublicKeyInfo) or an X.509 `CERTIFICATE`.
    @par Errors
    `error::auth_failed` for a malformed token or a signature that does not verify;
    `error::invalid_config` if `public_key_pem` is not an RSA public key.
*/
result<boost::json::object> verify_rs256(std::string_view jwt, std::string_view public_key_pem);

/// @brief A freshly generated RSA key in PEM.
struct rsa_key_pair {
    /// PKCS#8, `-----BEGIN PRIVATE KEY-----`, as in Google key files.
    std::string private_key_pem;
    /// SubjectPublicKeyInfo, `-----BEGIN PUBLIC KEY-----`.
    std::string public_key_pem;
};

/// @brief Generates an RSA key pair (tests and the emulator's fake service accounts).
result<rsa_key_pair> generate_rsa_key(unsigned bits = 2048);

/// @brief The form body of the token request:
/// `grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=<jwt>`.
std::string token_request_body(std::string_view jwt);

/// @brief An OAuth access token from the token endpoint.
struct oauth_token {
    std::string access_token;
    std::string token_type;
    /// From `expires_in` (a number, or a string of digits as some endpoints send).
    std::chrono::seconds expires_in{0};
};

/** @brief Decodes the token endpoint's reply.

    @par Errors
    For a non-2xx status, `error::auth_failed` (400, 401, 403: `invalid_grant` and friends),
    `error::rate_limited` (429) or `error::server_error` (5xx), with `diag.error_code` set to
    the reply's `error` and `diag.message` to its `error_description`. For a 2xx reply without
    `access_token`, `error::protocol_error`.
*/
result<oauth_token> parse_token_response(unsigned status, std::string_view body);

}  // namespace llmux::detail
