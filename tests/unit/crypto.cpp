// SPDX-License-Identifier: BSL-1.0
// Hashes, HMAC, encodings and CRC-32 against published vectors (FIPS 180-2, RFC 4231,
// RFC 4648, zlib) and against simple reference implementations.
#include "util/crypto.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>

namespace {

using llmux::detail::base64_decode;
using llmux::detail::base64_encode;
using llmux::detail::base64url_decode;
using llmux::detail::base64url_encode;
using llmux::detail::crc32;
using llmux::detail::hex_decode;
using llmux::detail::hex_encode;

std::string unhex(std::string_view hex) {
    auto r = hex_decode(hex);
    BOOST_TEST_REQUIRE(r.has_value());
    return *r;
}

// Bit-at-a-time CRC-32, the definition the table-driven version must agree with.
std::uint32_t crc32_reference(std::string_view data, std::uint32_t crc = 0) {
    crc = ~crc;
    for (unsigned char c : data) {
        crc ^= c;
        for (int k = 0; k < 8; ++k)
            crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

std::string random_string(std::mt19937& rng, std::size_t n) {
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(n, '\0');
    for (auto& c : s)
        c = static_cast<char>(byte(rng));
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crypto)

BOOST_AUTO_TEST_CASE(sha256_fips_vectors) {
    using llmux::detail::sha256_hex;
    BOOST_TEST(sha256_hex("") ==
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(sha256_hex("abc") ==
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    BOOST_TEST(sha256_hex(std::string(1000000, 'a')) ==
               "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

BOOST_AUTO_TEST_CASE(sha256_raw_matches_hex) {
    auto const d = llmux::detail::sha256("abc");
    BOOST_TEST(d.size() == 32u);
    BOOST_TEST(d[0] == 0xba);
    BOOST_TEST(d[31] == 0xad);
    BOOST_TEST(hex_encode(d) == llmux::detail::sha256_hex("abc"));
    // Embedded NULs are data, not terminators.
    BOOST_TEST(llmux::detail::sha256_hex(std::string_view("a\0b", 3)) !=
               llmux::detail::sha256_hex("a"));
}

BOOST_AUTO_TEST_CASE(hmac_sha256_rfc4231) {
    using llmux::detail::hmac_sha256;
    struct vector {
        std::string key;
        std::string data;
        std::string_view mac;
    };
    vector const vectors[] = {
        {std::string(20, '\x0b'), "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"Jefe", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {std::string(20, '\xaa'), std::string(50, '\xdd'),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {std::string(131, '\xaa'),
         "This is a test using a larger than block-size key and a larger than block-size data. "
         "The key needs to be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
        // Empty key and data (Python's hmac): SigV4 never does this, but it must not crash.
        {"", "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
    };
    for (auto const& v : vectors) {
        std::string const mac = hmac_sha256(v.key, v.data);
        BOOST_TEST(mac.size() == 32u);
        BOOST_TEST(hex_encode(mac) == v.mac);
    }
}

BOOST_AUTO_TEST_CASE(hex_round_trip_and_rejects) {
    BOOST_TEST(hex_encode(std::string_view("\x00\x01\xab\xff", 4)) == "0001abff");
    BOOST_TEST(hex_encode("") == "");
    BOOST_TEST(*hex_decode("0001ABff") == std::string("\x00\x01\xab\xff", 4));
    BOOST_TEST(!hex_decode("abc").has_value());
    BOOST_TEST(!hex_decode("zz").has_value());
    BOOST_TEST(!hex_decode("0g").has_value());
}

BOOST_AUTO_TEST_CASE(base64_rfc4648_vectors) {
    std::pair<std::string_view, std::string_view> const vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (auto const& [plain, encoded] : vectors) {
        BOOST_TEST(base64_encode(plain) == encoded);
        auto const back = base64_decode(encoded);
        BOOST_TEST_REQUIRE(back.has_value());
        BOOST_TEST(*back == plain);
    }
    // The two alphabets differ exactly in characters 62 and 63.
    std::string const high("\xfb\xff\xbf", 3);
    BOOST_TEST(base64_encode(high) == "+/+/");
    BOOST_TEST(base64url_encode(high) == "-_-_");
    BOOST_TEST(*base64_decode("+/+/") == high);
    BOOST_TEST(*base64url_decode("-_-_") == high);
}

BOOST_AUTO_TEST_CASE(base64_rejects_invalid) {
    std::string_view const bad[] = {
        "Zg",         // padding required
        "Zg=",        // short padding
        "Z===",       // three pads
        "====",       // nothing but padding
        "Zm8==",      // length not a multiple of 4
        "=Zg=",       // padding first
        "Zg==Zg==",   // padding in the middle
        "Zm9vYg=a",   // data after padding
        "Zm9v\n",     // whitespace
        "Zm9v YmFy",  // whitespace
        "Zh==",       // non-zero unused bits ("Zg==" is the one encoding of "f")
        "Zm9=",       // non-zero unused bits
        "Zm9-",       // base64url character
        "Zm9_",       // base64url character
        "Zm9v\x80\x80\x80\x80",
    };
    for (auto const text : bad)
        BOOST_TEST(!base64_decode(text).has_value(), "accepted " << text);
}

BOOST_AUTO_TEST_CASE(base64url_no_padding_and_rejects) {
    std::mt19937 rng(42);
    for (std::size_t n = 0; n <= 70; ++n) {
        std::string const data = random_string(rng, n);
        std::string const enc = base64url_encode(data);
        BOOST_TEST(enc.find_first_of("=+/") == std::string::npos);
        BOOST_TEST(enc.size() == (n * 4 + 2) / 3);
        auto const back = base64url_decode(enc);
        BOOST_TEST_REQUIRE(back.has_value());
        BOOST_TEST(*back == data);
        // Standard base64 round-trips too and is padded.
        std::string const std_enc = base64_encode(data);
        BOOST_TEST(std_enc.size() % 4 == 0u);
        BOOST_TEST(*base64_decode(std_enc) == data);
    }
    BOOST_TEST(*base64url_decode("Zg") == "f");
    BOOST_TEST(*base64url_decode("Zg==") == "f");  // correct padding tolerated
    BOOST_TEST(!base64url_decode("Zg=").has_value());
    BOOST_TEST(!base64url_decode("Z").has_value());  // 6 bits cannot make a byte
    BOOST_TEST(!base64url_decode("+/+/").has_value());
    BOOST_TEST(!base64url_decode("Zh").has_value());
    BOOST_TEST(!base64url_decode("ab.c").has_value());
}

BOOST_AUTO_TEST_CASE(crc32_known_values) {
    BOOST_TEST(crc32("") == 0u);
    BOOST_TEST(crc32("123456789") == 0xCBF43926u);
    BOOST_TEST(crc32("The quick brown fox jumps over the lazy dog") == 0x414FA339u);
    BOOST_TEST(crc32(std::string_view("\0\0\0\x10\0\0\0\0", 8)) == 0x05C248EBu);  // event stream
}

BOOST_AUTO_TEST_CASE(crc32_matches_reference_at_every_length_and_alignment) {
    std::mt19937 rng(7);
    std::string const data = random_string(rng, 1100);
    for (std::size_t offset = 0; offset < 8; ++offset)
        for (std::size_t len = 0; len + offset <= 300; ++len) {
            std::string_view const s = std::string_view(data).substr(offset, len);
            BOOST_TEST_REQUIRE(crc32(s) == crc32_reference(s));
        }
    BOOST_TEST(crc32(data) == crc32_reference(data));
}

BOOST_AUTO_TEST_CASE(crc32_continues_across_splits) {
    std::string_view const text = "The quick brown fox jumps over the lazy dog";
    for (std::size_t i = 0; i <= text.size(); ++i)
        BOOST_TEST(crc32(text.substr(i), crc32(text.substr(0, i))) == 0x414FA339u);
    BOOST_TEST(crc32("abc", 0x12345678u) == crc32_reference("abc", 0x12345678u));
}

BOOST_AUTO_TEST_CASE(random_bytes_sizes_and_variety) {
    using llmux::detail::random_bytes;
    BOOST_TEST(random_bytes(0).empty());
    BOOST_TEST(random_bytes(1).size() == 1u);
    BOOST_TEST(random_bytes(1000).size() == 1000u);
    std::set<std::string> seen;
    for (int i = 0; i < 16; ++i)
        seen.insert(random_bytes(32));
    BOOST_TEST(seen.size() == 16u);
    BOOST_TEST(random_bytes(64) != std::string(64, '\0'));
}

BOOST_AUTO_TEST_CASE(uri_encode_rfc3986) {
    using llmux::detail::uri_encode;
    std::string_view const unreserved =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
    BOOST_TEST(uri_encode(unreserved, true) == unreserved);
    BOOST_TEST(uri_encode("a b", true) == "a%20b");
    BOOST_TEST(uri_encode("a/b", false) == "a/b");
    BOOST_TEST(uri_encode("a/b", true) == "a%2Fb");
    BOOST_TEST(uri_encode("v1%3A0", false) == "v1%253A0");  // SigV4's double encoding
    BOOST_TEST(uri_encode("+*=&?:@!$'()", true) == "%2B%2A%3D%26%3F%3A%40%21%24%27%28%29");
    BOOST_TEST(uri_encode("\xc3\xa9", true) == "%C3%A9");  // uppercase hex, per byte
    BOOST_TEST(uri_encode(std::string_view("\0\xff", 2), true) == "%00%FF");
    BOOST_TEST(uri_encode("", true) == "");
}

BOOST_AUTO_TEST_SUITE_END()
