// RFC 4648 base64 (standard alphabet, padded): how a JSON Patch travels in an AdmissionResponse.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace nodealloc {

// Appends the base64 of `bytes` to `out`: the bytes OpenSSL's EVP_EncodeBlock writes (the unit
// tests hold it to that), in about half its instructions: the patch's base64 was 7 % of a
// review's instructions through EVP_EncodeBlock (docs/benchmarks.md, item 46).
void append_base64(std::string& out, std::string_view bytes);

// How many characters append_base64 writes for `bytes` bytes (padded: 4 per 3 bytes, rounded up).
constexpr std::size_t base64_length(std::size_t bytes) {
  return 4 * ((bytes + 2) / 3);
}

}  // namespace nodealloc
