// SPDX-License-Identifier: BSL-1.0
// Hashes, MACs and text encodings (SHA-256, HMAC, hex, base64, CRC32, URI encoding): below the
// codecs, wire formats and auth schemes that use them (DESIGN.md layers), on OpenSSL.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::detail {

/// A raw SHA-256 digest.
using sha256_digest = std::array<unsigned char, 32>;

/// @brief The SHA-256 digest of `data` (OpenSSL EVP).
sha256_digest sha256(std::string_view data);

/// @brief The SHA-256 digest of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

/** @brief HMAC-SHA256 of `data` under `key`.
    @return the raw 32-byte MAC (not hex), so that it can key the next HMAC as SigV4 chains them.
*/
std::string hmac_sha256(std::string_view key, std::string_view data);

/// @brief Lowercase hex of arbitrary bytes.
std::string hex_encode(std::string_view bytes);

/// @brief Lowercase hex of a digest.
std::string hex_encode(sha256_digest const& digest);

/// @brief Decodes hex (either case); `std::nullopt` on an odd length or a non-hex character.
std::optional<std::string> hex_decode(std::string_view hex);

/// @brief Standard base64 (RFC 4648 section 4) with `=` padding.
std::string base64_encode(std::string_view bytes);

/// @brief `base64_encode(bytes)` appended to `out`. Pieces whose sizes are multiples of 3
/// append to the encoding of their concatenation.
void append_base64(std::string& out, std::string_view bytes);

/** @brief Decodes standard padded base64.

    Strict: the length must be a multiple of 4, `=` may only end the input, whitespace and
    characters outside the alphabet are rejected, and the unused bits of the last character
    must be zero (so every byte string has exactly one accepted encoding).
    @return the bytes, or `std::nullopt` if `text` is not valid base64.
*/
std::optional<std::string> base64_decode(std::string_view text);

/// @brief base64url (RFC 4648 section 5) without padding, as JWTs use it (RFC 7515).
std::string base64url_encode(std::string_view bytes);

/** @brief Decodes base64url. Padding is optional but must be correct if present; `+`, `/`,
    whitespace and non-zero unused bits are rejected.
*/
std::optional<std::string> base64url_decode(std::string_view text);

/** @brief CRC-32 (IEEE 802.3, as zlib's `crc32`), table-driven, eight bytes per step.

    Continues a previous checksum: `crc32(b, crc32(a)) == crc32(a + b)`.
*/
std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0) noexcept;

/** @brief `n` cryptographically secure random bytes (OpenSSL `RAND_bytes`).

    @par Errors
    Throws `std::runtime_error` if OpenSSL cannot produce random bytes (no entropy source): like
    running out of memory, nothing sensible can continue without them.
*/
std::string random_bytes(std::size_t n);

/** @brief Percent-encodes per RFC 3986 as AWS SigV4 requires: `A-Za-z0-9-_.~` are kept,
    every other byte becomes `%XX` with uppercase hex.
    @param encode_slash false keeps `/` (for paths), true encodes it (for query components).
*/
std::string uri_encode(std::string_view text, bool encode_slash);

}  // namespace llmux::detail
