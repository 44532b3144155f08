// json::ReviewReader's scan (a walk over simdjson's stage 1 index) on arbitrary bytes, against
// the roads it is a shortcut for. Properties: no crash, no sanitizer report; what the scan
// accepts the full parse accepts; the scan keeps exactly what the pruned RapidJSON read keeps,
// whether the text is parsed in place (padding that would change it were it read) or copied.
// Cheaper per input than fuzz_review (no placement), so it explores the reader far faster.
#include <string>

#include "core/json.hpp"
#include "core/review_reader.hpp"
#include "fuzz_support.hpp"

namespace json = nodealloc::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = nodealloc::fuzz::as_text(data, size);
  // Reused across inputs, as a server worker's reader is.
  static json::ReviewReader scan;
  static json::ReviewReader copied;
  static json::ReviewReader rapidjson_pruned(0);

  const std::string padded = std::string(text) + std::string(json::ReviewReader::kPadding, '"');
  auto in_place = scan.read(std::string_view(padded.data(), size), true);
  auto from_copy = copied.read(text);
  FUZZ_CHECK(scan.scanned() == copied.scanned(), "padding changed whether the scan answers", text);
  if (!scan.scanned()) return 0;
  FUZZ_CHECK(in_place.has_value() && from_copy.has_value(), "scanned without a document", text);
  FUZZ_CHECK(json::parse(text).ok(), "the scan accepts what the full parse refuses", text);
  auto reference = rapidjson_pruned.read(text);
  FUZZ_CHECK(reference.has_value(), "the pruned RapidJSON read refuses what the scan accepts",
             text);
  const std::string expected = json::write(*reference);
  FUZZ_CHECK(json::write(*in_place) == expected,
             "the scan keeps otherwise: " + json::write(*in_place) + "\n  expected: " + expected,
             text);
  FUZZ_CHECK(json::write(*from_copy) == expected, "the scan of a copy keeps otherwise", text);
  return 0;
}
