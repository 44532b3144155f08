// The AdmissionReview read fast. The whole text is validated as a full parse would (UTF-8,
// strings, numbers, structure: simdjson's stage 1 at several GB/s, then a walk over its index,
// or simdjson's DOM), and only what placement reads is copied into a small RapidJSON document
// (review metadata; per template its name, calls, containers' names and resources,
// podSpecPatch, podResources, nodeSelector, affinity, tolerations). Env, args, scripts, volumes
// and the rest, most of a review's bytes, are validated and dropped.
//
// Arrays keep every element, so a kept template has the same index (and patch path) as in the
// text, and a key's duplicates are all kept, so json::member still sees the last one.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "core/json.hpp"

namespace nodealloc::json {

// Reads AdmissionReviews. A text up to kFastLimit is parsed by simdjson, whose buffers (about
// 14 bytes per byte of text) are kept from one review to the next for texts up to
// kReusedCapacity, and made for the one review above that. A longer text (kube-apiserver sends
// up to 3 MiB) is parsed by json::parse with the same pruning: simdjson's buffers for it would
// come from mmap and cost a page fault per 4 KiB on every review, more than RapidJSON's whole
// parse. The scan keeps, as long as the longest text it read (so at most kReusedCapacity each),
// a buffer for the unescaped strings it keeps and, for texts not padded, a padded copy (the
// kept strings without escapes are views into the text or that copy). Not thread-safe:
// one reader per thread.
class ReviewReader {
 public:
  static constexpr std::size_t kReusedCapacity = std::size_t{256} * 1024;
  static constexpr std::size_t kFastLimit = std::size_t{512} * 1024;
  // What simdjson may read past a text's end (SIMDJSON_PADDING; checked where it is known).
  static constexpr std::size_t kPadding = 64;

  // How a text up to kReusedCapacity is read after simdjson's stage 1 (its structural index):
  // kScan walks the index, validating and keeping what placement reads, and leaves to kTape
  // what it is not sure of; kTape builds simdjson's DOM (every value parsed) and prunes that.
  enum class Stage2 { kScan, kTape };

  // fast_limit and stage2: other than the defaults only in tests (fast_limit 0: every text
  // through json::parse; kTape: the DOM road alone, which the scan's answers are held to).
  explicit ReviewReader(std::size_t fast_limit = kFastLimit, Stage2 stage2 = Stage2::kScan);
  ~ReviewReader();
  ReviewReader(const ReviewReader&) = delete;
  ReviewReader& operator=(const ReviewReader&) = delete;

  // The pruned review, or nullopt when the text needs json::parse, which then gives the exact
  // document or error. Over kFastLimit: the text is not valid JSON. Up to it: simdjson refuses
  // the text (an error, a lone surrogate escape, nesting deeper than 1024), a number anywhere
  // is a fraction or exponent of value 0 ("0e400": RapidJSON refuses what simdjson reads as
  // 0), or a kept number's text cannot be recovered exactly from its value (a fraction or
  // exponent, or a zero where "-0" may have been written).
  // The document may borrow memory and strings from the reader and, for a padded text, from the
  // text: use it before the next read() and while the text lives.
  // padded: kPadding readable bytes (any content) follow the text, which is then parsed where
  // it is; else simdjson first copies it into a padded buffer of its own.
  std::optional<Document> read(std::string_view text, bool padded = false);

  // Whether the last read() was answered by the scan (kScan), not the DOM road or json::parse.
  bool scanned() const { return scanned_; }

 private:
  struct Parser;
  std::optional<Document> scan(std::string_view text, bool padded);
  std::size_t fast_limit_;
  Stage2 stage2_;
  bool scanned_ = false;
  std::unique_ptr<Parser> parser_;
};

}  // namespace nodealloc::json
