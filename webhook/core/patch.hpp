// RFC 6902 JSON Patch: what the webhook answers with, and its application for the offline paths.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"

namespace nodealloc {

// RFC 6901: "~" -> "~0", "/" -> "~1".
std::string escape_pointer_token(std::string_view token);

class JsonPatch {
 public:
  JsonPatch() { values_.SetNull(); }

  // Values must be allocated with allocator().
  json::Allocator& allocator() { return values_.GetAllocator(); }
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
  json::Document values_;
  std::vector<Op> ops_;
};

}  // namespace nodealloc
