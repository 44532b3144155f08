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

void JsonPatch::write_to(json::Writer<rapidjson::StringBuffer>& writer) const {
  writer.StartArray();
  for (const auto& op : ops_) {
    writer.StartObject();
    writer.Key("op");
    writer.String(op.replace ? "replace" : "add");
    writer.Key("path");
    writer.String(op.path.data(), static_cast<rapidjson::SizeType>(op.path.size()));
    writer.Key("value");
    op.value.Accept(writer);
    writer.EndObject();
  }
  writer.EndArray();
}

std::string JsonPatch::to_json() const {
  rapidjson::StringBuffer buffer;
  buffer.Reserve(128 * ops_.size());  // an op is about 100 bytes: few or no regrowths
  json::Writer<rapidjson::StringBuffer> writer(buffer);
  write_to(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

void JsonPatch::apply_to(json::Document& target) const {
  for (const auto& op : ops_) {
    rapidjson::Pointer pointer(op.path.data(), op.path.size());
    pointer.Set(target, json::Value(op.value, target.GetAllocator()), target.GetAllocator());
  }
}

}  // namespace nodealloc
