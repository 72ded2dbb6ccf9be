// SPDX-License-Identifier: BSL-1.0
// AWS Signature Version 4 (header signing) for Bedrock, and its server side for the emulator.
// Spec: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
// and PROVIDERS.md 6.5. Behaviour matches botocore's `SigV4Auth` (non-S3 rules).
#pragma once

#include <llmux/config.hpp>
#include <llmux/error.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace llmux::detail {

/// @brief AWS credentials. Never logged and never part of an error message.
struct aws_credentials {
    std::string access_key_id;
    std::string secret_access_key;
    /// The session token of temporary (STS) credentials; empty for long-term keys.
    std::string session_token;
};

/** @brief The parts of an outgoing request that SigV4 covers.

    A view: every member refers to storage the caller keeps alive during the call.
*/
struct sigv4_request {
    std::string_view method = "POST";
    /// The Host header value (e.g. `bedrock-runtime.us-east-1.amazonaws.com`, with `:port` if
    /// not the default). If empty, a `Host` entry of `headers` is used.
    std::string_view host;
    /// The path exactly as sent on the wire, already percent-encoded, e.g.
    /// `/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse`. A `?query` suffix is split
    /// off if `query` is empty.
    std::string_view path = "/";
    /// The query string as sent, without `?`; empty if none.
    std::string_view query;
    /// The headers the request will carry. All are signed except hop-by-hop ones,
    /// `User-Agent`, `Expect`, `X-Amzn-Trace-Id`, `Content-Length` and `Authorization`
    /// (botocore's list plus the two a transport may rewrite).
    std::span<std::pair<std::string, std::string> const> headers;
    std::string_view body;
};

/// @brief `YYYYMMDD'T'HHMMSS'Z'` in UTC, as `X-Amz-Date` wants it (sub-seconds dropped).
std::string format_amz_date(std::chrono::system_clock::time_point t);

/// @brief Parses an `X-Amz-Date` value; `std::nullopt` if it is not a valid UTC timestamp.
std::optional<std::chrono::system_clock::time_point> parse_amz_date(std::string_view text);

/** @brief The canonical URI of a wire path, non-S3 rules: dot segments and repeated slashes
    removed, then every segment percent-encoded again (`%3A` becomes `%253A`). Empty is `/`.
*/
std::string canonical_uri(std::string_view path);

/** @brief The canonical query: each `name=value` decoded then re-encoded per RFC 3986 (so any
    valid encoding of the same query gives the same text), sorted by name then value, joined
    by `&`. A name without `=` gets an empty value.
*/
std::string canonical_query(std::string_view query);

/// @brief The `SignedHeaders` list of `req`: lowercase names joined by `;`, sorted.
std::string signed_headers(sigv4_request const& req);

/** @brief The canonical request of `req` (step 2), signing its headers as they are.

    `sigv4_sign` adds `X-Amz-Date` (and `X-Amz-Security-Token`) before calling this; tests
    that reproduce the AWS suite pass those headers in `req.headers` themselves. The payload
    hash is the hex SHA-256 of the body, or the value of an `X-Amz-Content-SHA256` header if
    present (as botocore does).
*/
std::string canonical_request(sigv4_request const& req);

/// @brief `<date>/<region>/<service>/aws4_request`, where `date` is `YYYYMMDD`.
std::string credential_scope(std::string_view date, std::string_view region,
                             std::string_view service);

/// @brief Step 3: `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical request)>`.
std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request);

/// @brief Step 4: the raw 32-byte signing key derived from the secret.
std::string signing_key(std::string_view secret_access_key, std::string_view date,
                        std::string_view region, std::string_view service);

/// @brief Step 4: the hex HMAC-SHA256 of the string to sign under the signing key.
std::string sigv4_signature(std::string_view signing_key, std::string_view string_to_sign);

/** @brief Signs `req` and returns the headers to add: `X-Amz-Date`, then
    `X-Amz-Security-Token` for session credentials, then `Authorization`.

    The request must then be sent with exactly the signed headers, host, path, query and body.
    Any `X-Amz-Date`, `X-Amz-Security-Token` or `Authorization` already in `req.headers` is
    ignored: the caller replaces them with the returned ones.
    @param region e.g. `us-east-1`.
    @param service the signing name, `bedrock` for Bedrock Runtime.
    @param when the signing time; `std::chrono::system_clock::now()` in production.
    @par Errors
    `error::missing_api_key` if the access key id or secret is empty; `error::invalid_request`
    if there is no host, or the region or service is empty or contains `/`.
*/
result<header_list> sigv4_sign(sigv4_request const& req, aws_credentials const& credentials,
                               std::string_view region, std::string_view service,
                               std::chrono::system_clock::time_point when);

/// @brief An incoming request as a server sees it. A view, like `sigv4_request`.
struct sigv4_incoming_request {
    std::string_view method;
    /// The request-target: path and optional `?query`, as received.
    std::string_view target;
    /// Every header received, including `Host`, `Authorization` and `X-Amz-Date`.
    std::span<std::pair<std::string, std::string> const> headers;
    std::string_view body;
};

/// @brief Finds the secret access key of an access key id; `std::nullopt` if unknown.
using aws_secret_lookup = std::function<std::optional<std::string>(std::string_view)>;

/// @brief What `sigv4_verify` checks besides the signature.
struct sigv4_verify_options {
    /// The server's clock.
    std::chrono::system_clock::time_point now;
    /// The largest accepted difference between `X-Amz-Date` and `now`, either way (AWS: 15 min).
    std::chrono::seconds max_skew = std::chrono::minutes(15);
    /// The region the credential scope must name; empty accepts any.
    std::string_view region;
    /// The service the credential scope must name (`bedrock`); empty accepts any.
    std::string_view service;
};

/// @brief Who signed a verified request.
struct sigv4_identity {
    std::string access_key_id;
    std::string region;
    std::string service;
    /// The `X-Amz-Security-Token` sent, if any; the caller decides whether it is valid.
    std::string session_token;
};

/** @brief Verifies the SigV4 `Authorization` header of an incoming request.

    Parses the header, checks the credential scope and the clock skew, looks up the secret,
    recomputes the signature over exactly the headers listed in `SignedHeaders`, and compares
    in constant time. An `X-Amz-Content-SHA256` header must equal the body's hash.
    @par Errors
    `error::auth_failed` with `diag.http_status = 403` and `diag.error_type` set to the name
    AWS gives the case, so the caller can build Bedrock's error reply:
    `MissingAuthenticationTokenException` (no `Authorization` header),
    `IncompleteSignatureException` (malformed header, no `X-Amz-Date`, `host` not signed),
    `UnrecognizedClientException` (unknown access key id),
    `InvalidSignatureException` (wrong scope, clock skew, mismatch, missing signed header).
    Messages never contain the secret, the signature or the session token.
*/
result<sigv4_identity> sigv4_verify(sigv4_incoming_request const& req,
                                    aws_secret_lookup const& lookup,
                                    sigv4_verify_options const& options);

}  // namespace llmux::detail
