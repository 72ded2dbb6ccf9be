// SPDX-License-Identifier: BSL-1.0
#include "util/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

namespace llmux::detail {

namespace {

// OpenSSL treats a null pointer with length 0 inconsistently across functions; a real
// address is always accepted.
unsigned char const* bytes_of(std::string_view s) noexcept {
    static unsigned char const empty = 0;
    return s.empty() ? &empty : reinterpret_cast<unsigned char const*>(s.data());
}

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

using b64_table = std::array<signed char, 256>;

constexpr b64_table make_b64_table(char const* alphabet) {
    b64_table t{};
    for (auto& v : t)
        v = -1;
    for (int i = 0; i < 64; ++i)
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return t;
}

constexpr b64_table b64_std_table = make_b64_table(b64_std);
constexpr b64_table b64_url_table = make_b64_table(b64_url);

void b64_append(std::string& out, std::string_view in, char const* alphabet, bool pad) {
    out.reserve(out.size() + (in.size() + 2) / 3 * 4);
    auto const* p = reinterpret_cast<unsigned char const*>(in.data());
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        std::uint32_t const v =
            (std::uint32_t(p[i]) << 16) | (std::uint32_t(p[i + 1]) << 8) | p[i + 2];
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        out.push_back(alphabet[v & 63]);
    }
    std::size_t const rest = in.size() - i;
    if (rest == 1) {
        std::uint32_t const v = std::uint32_t(p[i]) << 16;
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        if (pad) out.append("==");
    } else if (rest == 2) {
        std::uint32_t const v = (std::uint32_t(p[i]) << 16) | (std::uint32_t(p[i + 1]) << 8);
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        if (pad) out.push_back('=');
    }
}

std::string b64_encode(std::string_view in, char const* alphabet, bool pad) {
    std::string out;
    b64_append(out, in, alphabet, pad);
    return out;
}

// Decodes unpadded base64 text (the caller strips and checks padding): four characters to three
// bytes at a time, written in place (an embedding answer holds hundreds of kilobytes of it).
std::optional<std::string> b64_decode_unpadded(std::string_view in, b64_table const& table) {
    std::size_t const n = in.size();
    std::size_t const rest = n % 4;
    if (rest == 1) return std::nullopt;  // 6 bits cannot make a byte
    std::string out(n / 4 * 3 + (rest ? rest - 1 : 0), '\0');
    auto const* s = reinterpret_cast<unsigned char const*>(in.data());
    auto* d = out.data();
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        int const a = table[s[i]], b = table[s[i + 1]], c = table[s[i + 2]], e = table[s[i + 3]];
        if ((a | b | c | e) < 0) return std::nullopt;
        auto const v = static_cast<std::uint32_t>(a << 18 | b << 12 | c << 6 | e);
        d[0] = static_cast<char>(v >> 16);
        d[1] = static_cast<char>(v >> 8);
        d[2] = static_cast<char>(v);
        d += 3;
    }
    if (rest) {  // 2 or 3 characters: 1 or 2 bytes, and 4 or 2 bits left over
        std::uint32_t v = 0;
        for (std::size_t k = 0; k < rest; ++k) {
            int const t = table[s[i + k]];
            if (t < 0) return std::nullopt;
            v = v << 6 | static_cast<std::uint32_t>(t);
        }
        unsigned const spare = rest == 2 ? 4 : 2;
        // Leftover bits must be zero: otherwise two texts would decode to the same bytes.
        if ((v & ((1u << spare) - 1)) != 0) return std::nullopt;
        v >>= spare;
        if (rest == 3) *d++ = static_cast<char>(v >> 8);
        *d = static_cast<char>(v);
    }
    return out;
}

// Strips `=` padding after checking it is exactly what the unpadded length needs.
std::optional<std::string_view> strip_padding(std::string_view in, bool required) {
    std::size_t pad = 0;
    while (pad < in.size() && pad < 3 && in[in.size() - 1 - pad] == '=')
        ++pad;
    if (pad == 0) {
        if (required && in.size() % 4 != 0) return std::nullopt;
        return in;
    }
    if (in.size() % 4 != 0 || pad > 2) return std::nullopt;
    std::string_view const body = in.substr(0, in.size() - pad);
    // Padding must make up exactly the missing characters of the last group.
    if ((body.size() + pad) % 4 != 0 || body.size() % 4 == 0) return std::nullopt;
    return body;
}

// Slicing-by-8 (Intel's "A Systematic Approach to Building High Performance CRC"): the
// bytewise table extended to eight tables so one step folds eight bytes.
using crc_tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr crc_tables make_crc_tables() {
    crc_tables t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[0][i] = c;
    }
    for (std::size_t i = 0; i < 256; ++i)
        for (std::size_t k = 1; k < 8; ++k)
            t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
    return t;
}

constexpr crc_tables crc_table = make_crc_tables();

inline std::uint32_t load_le32(unsigned char const* p) noexcept {
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) |
           (std::uint32_t(p[3]) << 24);
}

}  // namespace

sha256_digest sha256(std::string_view data) {
    sha256_digest out{};
    unsigned int len = 0;
    if (EVP_Digest(bytes_of(data), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
        len != out.size())
        throw std::runtime_error("llmux: SHA-256 failed in OpenSSL");
    return out;
}

std::string sha256_hex(std::string_view data) {
    return hex_encode(sha256(data));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    if (key.size() > static_cast<std::size_t>(INT_MAX))
        throw std::length_error("llmux: HMAC key too long");
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), bytes_of(key), static_cast<int>(key.size()), bytes_of(data), data.size(),
             out, &len) == nullptr ||
        len != 32)
        throw std::runtime_error("llmux: HMAC-SHA256 failed in OpenSSL");
    return std::string(reinterpret_cast<char const*>(out), len);
}

std::string hex_encode(std::string_view bytes) {
    std::string out(bytes.size() * 2, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        auto const b = static_cast<unsigned char>(bytes[i]);
        out[2 * i] = hex_digits[b >> 4];
        out[2 * i + 1] = hex_digits[b & 0x0F];
    }
    return out;
}

std::string hex_encode(sha256_digest const& digest) {
    return hex_encode(
        std::string_view(reinterpret_cast<char const*>(digest.data()), digest.size()));
}

std::optional<std::string> hex_decode(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    std::string out(hex.size() / 2, '\0');
    for (std::size_t i = 0; i < out.size(); ++i) {
        int const hi = hex_value(hex[2 * i]);
        int const lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<char>((hi << 4) | lo);
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    return b64_encode(bytes, b64_std, true);
}

void append_base64(std::string& out, std::string_view bytes) {
    b64_append(out, bytes, b64_std, true);
}

std::optional<std::string> base64_decode(std::string_view text) {
    auto const body = strip_padding(text, true);
    if (!body) return std::nullopt;
    return b64_decode_unpadded(*body, b64_std_table);
}

std::string base64url_encode(std::string_view bytes) {
    return b64_encode(bytes, b64_url, false);
}

std::optional<std::string> base64url_decode(std::string_view text) {
    auto const body = strip_padding(text, false);
    if (!body) return std::nullopt;
    return b64_decode_unpadded(*body, b64_url_table);
}

std::uint32_t crc32(std::string_view data, std::uint32_t crc) noexcept {
    auto const* p = reinterpret_cast<unsigned char const*>(data.data());
    std::size_t n = data.size();
    std::uint32_t c = ~crc;
    while (n >= 8) {
        std::uint32_t const one = load_le32(p) ^ c;
        std::uint32_t const two = load_le32(p + 4);
        c = crc_table[7][one & 0xFF] ^ crc_table[6][(one >> 8) & 0xFF] ^
            crc_table[5][(one >> 16) & 0xFF] ^ crc_table[4][one >> 24] ^ crc_table[3][two & 0xFF] ^
            crc_table[2][(two >> 8) & 0xFF] ^ crc_table[1][(two >> 16) & 0xFF] ^
            crc_table[0][two >> 24];
        p += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    std::size_t done = 0;
    while (done < n) {
        // RAND_bytes takes an int length.
        std::size_t const step = std::min<std::size_t>(n - done, 1u << 30);
        if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done),
                       static_cast<int>(step)) != 1)
            throw std::runtime_error("llmux: OpenSSL RAND_bytes failed");
        done += step;
    }
    return out;
}

std::string uri_encode(std::string_view text, bool encode_slash) {
    constexpr char upper_hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    for (char ch : text) {
        auto const c = static_cast<unsigned char>(ch);
        bool const unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                                c == '~';
        if (unreserved || (c == '/' && !encode_slash)) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(upper_hex[c >> 4]);
            out.push_back(upper_hex[c & 0x0F]);
        }
    }
    return out;
}

}  // namespace llmux::detail
