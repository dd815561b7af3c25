// The core's own SHA-256 (src/sha256.hpp), against OpenSSL's, on the FIPS
// 180-4 examples and on random inputs of every length around the block and
// padding boundaries.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>

#include "sha256.hpp"

namespace {

std::array<std::uint8_t, 32> openssl_sha256(const std::string& data) {
  std::array<std::uint8_t, 32> digest{};
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr), 1);
  EXPECT_EQ(length, 32U);
  return digest;
}

std::string hex(const std::array<std::uint8_t, 32>& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t byte : digest) {
    out += kDigits[byte >> 4U];
    out += kDigits[byte & 0x0FU];
  }
  return out;
}

TEST(Sha256, FipsExamples) {
  EXPECT_EQ(hex(pgobo::detail::sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(pgobo::detail::sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(pgobo::detail::sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(hex(pgobo::detail::sha256(std::string(1'000'000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, MatchesOpenSslOnEveryLengthUpToFiveBlocks) {
  std::mt19937 random(20261202);
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::size_t length = 0; length <= 5 * 64 + 1; ++length) {
    for (int round = 0; round < 3; ++round) {
      std::string data(length, '\0');
      for (char& c : data) c = static_cast<char>(byte(random));
      ASSERT_EQ(hex(pgobo::detail::sha256(data)), hex(openssl_sha256(data))) << "length " << length;
    }
  }
}

// On a CPU with the SHA extensions sha256() uses them: the portable code is
// checked on its own too, so both paths are covered on any test machine.
TEST(Sha256, ThePortableCodeMatchesOpenSslOnEveryLengthUpToFiveBlocks) {
  std::mt19937 random(1202);
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::size_t length = 0; length <= 5 * 64 + 1; ++length) {
    std::string data(length, '\0');
    for (char& c : data) c = static_cast<char>(byte(random));
    ASSERT_EQ(hex(pgobo::detail::sha256_portable(data)), hex(openssl_sha256(data)))
        << "length " << length;
  }
  EXPECT_EQ(hex(pgobo::detail::sha256_portable(std::string(1'000'000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, SaysWhichCodeItUses) {
  // Not an assertion on the machine: a record of which path the tests above
  // exercised through sha256().
  std::cout << "[          ] sha256() uses "
            << (pgobo::detail::sha256_uses_cpu_extensions() ? "the CPU's SHA extensions"
                                                            : "the portable code")
            << '\n';
  EXPECT_EQ(pgobo::detail::sha256("abc"), pgobo::detail::sha256_portable("abc"));
}

TEST(Sha256, MatchesOpenSslOnTokenSizedInputs) {
  std::mt19937 random(7);
  std::uniform_int_distribution<int> printable(0x21, 0x7e);
  for (const std::size_t length : {800U, 1200U, 1500U, 4096U, 65'537U}) {
    std::string token(length, '\0');
    for (char& c : token) c = static_cast<char>(printable(random));
    EXPECT_EQ(hex(pgobo::detail::sha256(token)), hex(openssl_sha256(token))) << length;
  }
}

}  // namespace
