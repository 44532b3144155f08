// RapidJSON, as the core uses it: one parse that keeps every number's exact text, a depth
// limit, and a writer that puts numbers back as they were written.
//
// Numbers are parsed as strings (kParseNumbersAsStringsFlag) prefixed with kNumberMark, a byte
// that never occurs in valid UTF-8, so a number and a string stay apart and "1e100" or "0.1"
// reach the quantity parser exactly as written. Use the helpers below, never IsString() alone.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

// The layout webhook/CMakeLists.txt asks for: a unit built without its definition would give
// the program two layouts of one type.
#if RAPIDJSON_48BITPOINTER_OPTIMIZATION
#error "build with RAPIDJSON_48BITPOINTER_OPTIMIZATION=0, as webhook/CMakeLists.txt does"
#endif

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace nodealloc::json {

using Document = rapidjson::Document;
using Value = rapidjson::Value;
using Allocator = Document::AllocatorType;

inline constexpr char kNumberMark = '\xFF';
// Deeper JSON is refused; kube-apiserver's own decoder stops at 10000 too.
inline constexpr unsigned kMaxDepth = 10000;

// Says, during a parse, which values reach the document (a pruning parse: the whole text is
// still read and validated). States are the filter's own, opaque here; nullptr drops a value.
class ParseFilter {
 public:
  using State = const void*;
  virtual ~ParseFilter() = default;
  virtual State root() const = 0;
  // For a kept value that is an object / an array: the state its members / elements are judged
  // by (nullptr: the container is kept, empty).
  virtual State object_members(State value) const = 0;
  virtual State array_elements(State value) const = 0;
  // The state of a member by its key, of an element, under such a state.
  virtual State member(State members, std::string_view key) const = 0;
  virtual State element(State elements) const = 0;
};

// Parses UTF-8 JSON (validated), keeping what `filter` keeps (everything without one).
// Error: a one-line reason with the byte offset.
Result<Document> parse(std::string_view text, const ParseFilter* filter = nullptr);

inline bool is_number(const Value& v) {
  return v.IsString() && v.GetStringLength() > 0 && v.GetString()[0] == kNumberMark;
}
inline bool is_string(const Value& v) {
  return v.IsString() && !is_number(v);
}
inline std::string_view str(const Value& v) {
  return {v.GetString(), v.GetStringLength()};
}
// The number's text as written ("1e3"); for a number only.
inline std::string_view number_text(const Value& v) {
  return str(v).substr(1);
}

// A number value from its JSON text (the caller guarantees the JSON number grammar).
Value make_number(std::string_view text, Allocator& alloc);
inline Value make_string(std::string_view s, Allocator& alloc) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}
// The 8 bytes at p as one word, p unaligned (the word loops here and in json.cpp).
inline std::uint64_t load8(const char* p) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, sizeof w);
  return w;
}
// Whether two keys are the same bytes, compared in line: keys are short, most differ in length or
// the first byte, and a memcmp call per comparison costs more than the comparison (hot loops:
// member() below, the review reader's kept keys). From 8 bytes on, 8 at a time, the last word
// overlapping the one before it: a matched "resources" or "containers" is two loads, not ten
// byte compares (-1.8 % of a 50-template review's instructions, docs/benchmarks.md item 44).
inline bool same_key(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      if (load8(a.data() + i) != load8(b.data() + i)) return false;
    }
    return load8(a.data() + n - 8) == load8(b.data() + n - 8);
  }
  std::size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i == n;
}

inline Value::StringRefType ref(std::string_view s) {
  return {s.data(), static_cast<rapidjson::SizeType>(s.size())};
}

// The member of an object by name; nullptr when v is no object or has no such member.
const Value* member(const Value& v, std::string_view name);
Value* member(Value& v, std::string_view name);
// v when it is a non-empty object, else nullptr (also for nullptr).
const Value* non_empty_object(const Value* v);
// A member that is a non-empty object, else nullptr.
const Value* object_member(const Value& v, std::string_view name);

// a == b as RapidJSON defines it (an object's members matched by name, the first of duplicates),
// in O(n log n) for large objects where RapidJSON's lookup per member is O(n^2): these values
// come from users, and one is compared once per template.
bool equal(const Value& a, const Value& b);

// Removes, in v and everything inside it, each member shadowed by a later one of the same name,
// leaving what Go's decoder sees. Needed before a patch is applied here (RapidJSON's Pointer
// takes the first of duplicates; kube-apiserver, like member() above, the last).
void drop_shadowed_members(Value& v, Allocator& alloc);

// Writes numbers raw and everything else as RapidJSON does.
template <class OutputStream>
class Writer : public rapidjson::Writer<OutputStream> {
 public:
  using Base = rapidjson::Writer<OutputStream>;
  using Base::Base;
  using Base::String;
  bool String(const char* s, rapidjson::SizeType n, bool copy = false) {
    if (n > 0 && s[0] == kNumberMark) return Base::RawValue(s + 1, n - 1, rapidjson::kNumberType);
    return Base::String(s, n, copy);
  }
};

// Compact JSON text of a value, byte for byte what Writer above writes.
std::string write(const Value& v);
void write_to(std::string& out, const Value& v);
// A JSON string literal of `s` (quoted, escaped as Writer escapes), appended to `out`.
void append_string(std::string& out, std::string_view s);
// Whether append_string escapes any byte of `s`.
bool needs_escape(std::string_view s);

}  // namespace nodealloc::json
