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

void JsonPatch::begin(std::string_view path, bool exists) {
  if (count_++ == 0) {
    ops_.reserve(8192);  // an operation is about 100 bytes: few regrowths
    ops_ += '[';
  } else {
    ops_ += ',';
  }
  ops_ += exists ? R"({"op":"replace","path":)" : R"({"op":"add","path":)";
  json::append_string(ops_, path);
  ops_ += R"(,"value":)";
}

void JsonPatch::set(std::string_view path, const json::Value& value, bool exists) {
  begin(path, exists);
  json::write_to(ops_, value);
  ops_ += '}';
}

void JsonPatch::set_json(std::string_view path, std::string_view value_json, bool exists) {
  begin(path, exists);
  ops_ += value_json;
  ops_ += '}';
}

std::string JsonPatch::to_json() const& {
  if (count_ == 0) return "[]";
  std::string out;
  out.reserve(ops_.size() + 1);
  out += ops_;
  out += ']';
  return out;
}

std::string JsonPatch::to_json() && {
  if (count_ == 0) return "[]";
  ops_ += ']';
  std::string out = std::move(ops_);
  ops_.clear();  // a moved-from string's state is unspecified
  count_ = 0;
  return out;
}

std::optional<Error> JsonPatch::apply_to(json::Document& target) const {
  auto ops = json::parse(to_json());
  if (!ops) return Error{"the patch cannot be applied: " + ops.error().message};
  for (const auto& op : ops.value().GetArray()) {
    const std::string_view path = json::str(op["path"]);
    rapidjson::Pointer pointer(path.data(), path.size());
    pointer.Set(target, json::Value(op["value"], target.GetAllocator()), target.GetAllocator());
  }
  return std::nullopt;
}

}  // namespace nodealloc
