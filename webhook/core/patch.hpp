// RFC 6902 JSON Patch: what the webhook answers with, and its application for the offline paths.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/json.hpp"
#include "core/result.hpp"

namespace nodealloc {

// RFC 6901: "~" -> "~0", "/" -> "~1".
std::string escape_pointer_token(std::string_view token);

// Operations are written as JSON text when they are set: a value need not outlive the call, and
// a value rendered once (a pool's nodeSelector) is copied into every operation that uses it.
class JsonPatch {
 public:
  // "add" where nothing is, "replace" where something is: the parent must exist.
  void set(std::string_view path, const json::Value& value, bool exists);
  // The same with the value as JSON text: what json::write writes for it.
  void set_json(std::string_view path, std::string_view value_json, bool exists);

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return ops_.size(); }  // about the length of to_json()

  // The patch as a JSON array; from an rvalue without copying it (the patch is left empty).
  std::string to_json() const&;
  std::string to_json() &&;

  // Applies every operation to `target` (what kube-apiserver would do with the patch). An error
  // only when the operations cannot be read back (a value nested near json::kMaxDepth).
  std::optional<Error> apply_to(json::Document& target) const;

 private:
  void begin(std::string_view path, bool exists);  // an operation up to its value

  std::string ops_;  // "[" and the operations, comma-separated (empty while there is none)
  std::size_t count_ = 0;
};

}  // namespace nodealloc
