#include "core/patch.hpp"

#include <rapidjson/pointer.h>

namespace nodealloc {

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

void JsonPatch::set(std::string path, json::Value value, bool exists) {
  ops_.push_back({exists, std::move(path), std::move(value)});
}

std::string JsonPatch::to_json() const {
  std::string out;
  out.reserve(128 * ops_.size() + 2);  // an op is about 100 bytes: few or no regrowths
  out += '[';
  for (const auto& op : ops_) {
    if (out.size() > 1) out += ',';
    out += op.replace ? R"({"op":"replace","path":)" : R"({"op":"add","path":)";
    json::append_string(out, op.path);
    out += R"(,"value":)";
    json::write_to(out, op.value);
    out += '}';
  }
  out += ']';
  return out;
}

void JsonPatch::apply_to(json::Document& target) const {
  for (const auto& op : ops_) {
    rapidjson::Pointer pointer(op.path.data(), op.path.size());
    pointer.Set(target, json::Value(op.value, target.GetAllocator()), target.GetAllocator());
  }
}

}  // namespace nodealloc
