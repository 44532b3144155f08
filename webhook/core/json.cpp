#include "core/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <string>

namespace nodealloc::json {
namespace {

// Forwards SAX events to the Document, turning raw numbers into marked strings and refusing
// nesting deeper than kMaxDepth.
class MarkingHandler {
 public:
  explicit MarkingHandler(Document& doc) : doc_(doc) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int) { return false; }  // unreachable: numbers arrive as RawNumber
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    scratch_.assign(1, kNumberMark);
    scratch_.append(s, n);
    return doc_.String(scratch_.data(), static_cast<rapidjson::SizeType>(scratch_.size()), true);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool StartObject() { return ++depth_ <= kMaxDepth && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndObject(n);
  }
  bool StartArray() { return ++depth_ <= kMaxDepth && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndArray(n);
  }

  bool too_deep() const { return depth_ > kMaxDepth; }

 private:
  Document& doc_;
  std::string scratch_;
  unsigned depth_ = 0;
};

constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseNumbersAsStringsFlag |
                                 rapidjson::kParseValidateEncodingFlag;

}  // namespace

Result<Document> parse(std::string_view text) {
  Document doc;
  MarkingHandler handler(doc);
  rapidjson::ParseResult result;
  auto generate = [&](Document& /*d*/) {
    rapidjson::Reader reader;
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
    result = reader.Parse<kParseFlags>(is, handler);
    return !result.IsError();
  };
  doc.Populate(generate);
  if (handler.too_deep()) {
    return Error{"JSON nested deeper than " + std::to_string(kMaxDepth) + " levels"};
  }
  if (result.IsError()) {
    return Error{std::string("invalid JSON at offset ") + std::to_string(result.Offset()) + ": " +
                 rapidjson::GetParseError_En(result.Code())};
  }
  return doc;
}

Value make_number(std::string_view text, Allocator& alloc) {
  std::string marked(1, kNumberMark);
  marked.append(text);
  return make_string(marked, alloc);
}

const Value* member(const Value& v, std::string_view name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(Value(ref(name)));
  return it == v.MemberEnd() ? nullptr : &it->value;
}

Value* member(Value& v, std::string_view name) {
  return const_cast<Value*>(member(static_cast<const Value&>(v), name));
}

const Value* object_member(const Value& v, std::string_view name) {
  const Value* m = member(v, name);
  return m != nullptr && m->IsObject() && m->MemberCount() > 0 ? m : nullptr;
}

void write_to(std::string& out, const Value& v) {
  rapidjson::StringBuffer buffer;
  Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  out.append(buffer.GetString(), buffer.GetSize());
}

std::string write(const Value& v) {
  std::string out;
  write_to(out, v);
  return out;
}

}  // namespace nodealloc::json
