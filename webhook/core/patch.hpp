// RFC 6902 JSON Patch: what the webhook answers with, and its application for the offline paths.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"

namespace nodealloc {

// RFC 6901: "~" -> "~0", "/" -> "~1".
std::string escape_pointer_token(std::string_view token);

class JsonPatch {
 public:
  JsonPatch() : allocator_(std::make_unique<json::Allocator>(kChunk)) {}

  // Values must be allocated with allocator().
  json::Allocator& allocator() { return *allocator_; }
  // "add" where nothing is, "replace" where something is: the parent must exist.
  void set(std::string path, json::Value value, bool exists);

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }

  // The patch as a JSON array.
  std::string to_json() const;

  // Applies every operation to `target` (what kube-apiserver would do with the patch).
  void apply_to(json::Document& target) const;

 private:
  struct Op {
    bool replace;
    std::string path;
    json::Value value;
  };
  // Chunks under the 64 KiB whose free makes glibc consolidate its heap, once per review.
  static constexpr std::size_t kChunk = std::size_t{16} * 1024;
  // The values' memory; on the heap, so that values still point to it when the patch moves.
  std::unique_ptr<json::Allocator> allocator_;
  std::vector<Op> ops_;
};

}  // namespace nodealloc
