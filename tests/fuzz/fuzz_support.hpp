// Shared by the libFuzzer targets: a property check that reports and aborts (libFuzzer then
// saves the input as a crash), and the bytes as a string_view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace nodealloc::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Prints at most 2000 bytes of s, escaped, for a failure report.
inline void print_escaped(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    if (++n > 2000) {
      std::fputs("...", stderr);
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '\\') {
      std::fputc(c, stderr);
    } else {
      std::fprintf(stderr, "\\x%02X", u);
    }
  }
}

[[noreturn]] inline void property_failed(const char* file, int line, const char* expr,
                                         std::string_view what, std::string_view context) {
  std::fprintf(stderr, "\n%s:%d: property failed: %s\n  ", file, line, expr);
  print_escaped(what);
  std::fputs("\n  while checking: ", stderr);
  print_escaped(context);
  std::fputs("\n", stderr);
  std::abort();
}

}  // namespace nodealloc::fuzz

// FUZZ_CHECK(cond, what, context): what and context are anything convertible to string_view.
#define FUZZ_CHECK(cond, what, context)                                                            \
  do {                                                                                             \
    if (!(cond)) ::nodealloc::fuzz::property_failed(__FILE__, __LINE__, #cond, (what), (context)); \
  } while (false)
