#include "core/base64.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace nodealloc {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The two characters of every 12-bit group, first one first in memory: three bytes become two
// lookups instead of four (8 KiB, built at compile time).
constexpr auto kPairs = [] {
  std::array<std::array<char, 2>, 4096> t{};
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = {kAlphabet[i >> 6], kAlphabet[i & 63]};
  return t;
}();

}  // namespace

void append_base64(std::string& out, std::string_view bytes) {
  const std::size_t at = out.size();
  out.resize(at + base64_length(bytes.size()));
  char* dst = out.data() + at;
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t left = bytes.size();
  // Six bytes at a time from one 8-byte big-endian load (the two bytes past them are read, not
  // used), then three at a time.
  for (; left >= 8; left -= 6, src += 6, dst += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, src, sizeof word);
    word = __builtin_bswap64(word);
    std::memcpy(dst, kPairs[word >> 52].data(), 2);
    std::memcpy(dst + 2, kPairs[(word >> 40) & 0xFFF].data(), 2);
    std::memcpy(dst + 4, kPairs[(word >> 28) & 0xFFF].data(), 2);
    std::memcpy(dst + 6, kPairs[(word >> 16) & 0xFFF].data(), 2);
  }
  for (; left >= 3; left -= 3, src += 3, dst += 4) {
    const std::uint32_t group =
        (std::uint32_t{src[0]} << 16) | (std::uint32_t{src[1]} << 8) | src[2];
    std::memcpy(dst, kPairs[group >> 12].data(), 2);
    std::memcpy(dst + 2, kPairs[group & 0xFFF].data(), 2);
  }
  if (left > 0) {  // one or two bytes: their characters, then '=' for each byte missing
    const std::uint32_t group =
        (std::uint32_t{src[0]} << 16) | (left == 2 ? std::uint32_t{src[1]} << 8 : 0);
    dst[0] = kAlphabet[group >> 18];
    dst[1] = kAlphabet[(group >> 12) & 63];
    dst[2] = left == 2 ? kAlphabet[(group >> 6) & 63] : '=';
    dst[3] = '=';
  }
}

}  // namespace nodealloc
