// RFC 4648 base64, held to OpenSSL's encoder byte for byte (spec §6: the patch's transport).
#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <cstdint>
#include <string>

#include "core/base64.hpp"

namespace nodealloc {
namespace {

std::string encoded(std::string_view bytes) {
  std::string out;
  append_base64(out, bytes);
  return out;
}

std::string openssl_encoded(std::string_view bytes) {
  std::string out(base64_length(bytes.size()) + 1, '\0');  // + the NUL it writes
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

TEST_CASE("base64: RFC 4648's test vectors") {
  CHECK(encoded("") == "");
  CHECK(encoded("f") == "Zg==");
  CHECK(encoded("fo") == "Zm8=");
  CHECK(encoded("foo") == "Zm9v");
  CHECK(encoded("foob") == "Zm9vYg==");
  CHECK(encoded("fooba") == "Zm9vYmE=");
  CHECK(encoded("foobar") == "Zm9vYmFy");
}

TEST_CASE("base64: the alphabet's last characters, and bytes above 0x7F") {
  CHECK(encoded("\xFB\xFF") == "+/8=");
  CHECK(encoded("\xFF\xFF\xFF") == "////");
  CHECK(encoded(std::string("\0\0\0", 3)) == "AAAA");
  CHECK(encoded(std::string("\0", 1)) == "AA==");
}

TEST_CASE("base64: appends, leaving what is already there") {
  std::string out = R"({"patch":")";
  append_base64(out, "[]");
  CHECK(out == R"({"patch":"W10=)");
}

TEST_CASE("base64: the same bytes as OpenSSL's EVP_EncodeBlock, every length to 300") {
  // Every byte value at every offset of a 3-byte group, and each remainder (0, 1 or 2 bytes).
  std::string bytes;
  std::uint32_t x = 2463534242U;  // xorshift32: the same bytes on every run
  for (std::size_t i = 0; i < 300; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    bytes += static_cast<char>(i < 256 ? i : x & 0xFF);
  }
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    const std::string_view all(bytes);
    const std::string_view prefix = all.substr(0, n);
    const std::string_view suffix = all.substr(all.size() - n);
    INFO("length " << n);
    CHECK(encoded(prefix) == openssl_encoded(prefix));
    CHECK(encoded(suffix) == openssl_encoded(suffix));
  }
}

}  // namespace
}  // namespace nodealloc
