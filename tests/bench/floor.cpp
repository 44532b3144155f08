// Stock RapidJSON, as a webhook that took the library as it comes would use it: the default
// value layout (16-byte values with 48-bit pointers), not the core's (webhook/CMakeLists.txt),
// in a namespace of its own so the program holds both layouts without mixing them.
#undef RAPIDJSON_48BITPOINTER_OPTIMIZATION
#define RAPIDJSON_NAMESPACE nodealloc_floor_rapidjson
#define RAPIDJSON_NAMESPACE_BEGIN namespace nodealloc_floor_rapidjson {
#define RAPIDJSON_NAMESPACE_END }

#include "floor.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdlib>

namespace nodealloc::bench {

static_assert(sizeof(nodealloc_floor_rapidjson::Value) == 16, "RapidJSON's default layout");

std::size_t parse_and_serialize(const std::string& text) {
  nodealloc_floor_rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) std::exit(1);
  nodealloc_floor_rapidjson::StringBuffer buffer;
  nodealloc_floor_rapidjson::Writer<nodealloc_floor_rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return buffer.GetSize();
}

}  // namespace nodealloc::bench
