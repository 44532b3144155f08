#include "core/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/small_vector.hpp"

namespace nodealloc::json {
namespace {

// For the word loops over 8 bytes at a time (load8): a 1 in each byte, and each byte's top bit.
constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHigh = 0x8080808080808080ULL;

// Forwards SAX events to the Document, turning raw numbers into marked strings and refusing
// nesting deeper than kMaxDepth. With a ParseFilter, only the values it keeps are forwarded
// (every event is still read and validated).
class MarkingHandler {
 public:
  // `escapes`: the text holds a backslash-u escape, the only way to a lone surrogate (below).
  MarkingHandler(Document& doc, bool escapes, const ParseFilter* filter)
      : doc_(doc), escapes_(escapes), filter_(filter) {}

  bool Null() { return !keep_scalar() || doc_.Null(); }
  bool Bool(bool b) { return !keep_scalar() || doc_.Bool(b); }
  bool Int(int) { return false; }  // unreachable: numbers arrive as RawNumber
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    if (!keep_scalar()) return true;
    if (!copy) {
      // In situ: the number's text stays in the buffer; the byte before it (a separator, or
      // parse()'s leading pad) becomes the mark. RapidJSON 1.1.0 passes the end of the number
      // here instead of its start (fixed later); a number never ends where one starts.
      char* start = const_cast<char*>(s);
      if (!(*start == '-' || (*start >= '0' && *start <= '9'))) start -= n;
      start[-1] = kNumberMark;
      return doc_.String(start - 1, n + 1, true);
    }
    scratch_.assign(1, kNumberMark);
    scratch_.append(s, n);
    return doc_.String(scratch_.data(), static_cast<rapidjson::SizeType>(scratch_.size()), true);
  }
  // Always copied into the document: a value copied from it into another document (a patch)
  // must not point into this one's text, which goes with it.
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (!keep_scalar()) return true;
    s = without_lone_surrogates(s, n);
    return doc_.String(s, n, true);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (filter_ != nullptr) {
      Frame& f = frames_.back();
      f.next = f.children == nullptr ? nullptr : filter_->member(f.children, {s, n});
      if (f.next == nullptr) return true;
      ++f.kept;
    }
    s = without_lone_surrogates(s, n);
    return doc_.Key(s, n, true);
  }
  bool StartObject() {
    if (++depth_ > kMaxDepth) return false;
    if (!enter(true)) return true;
    return doc_.StartObject();
  }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    if (filter_ == nullptr) return doc_.EndObject(n);
    const Frame f = frames_.back();
    frames_.pop_back();
    return !f.forwarded || doc_.EndObject(f.kept);
  }
  bool StartArray() {
    if (++depth_ > kMaxDepth) return false;
    if (!enter(false)) return true;
    return doc_.StartArray();
  }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    if (filter_ == nullptr) return doc_.EndArray(n);
    const Frame f = frames_.back();
    frames_.pop_back();
    return !f.forwarded || doc_.EndArray(f.kept);
  }

  bool too_deep() const { return depth_ > kMaxDepth; }

 private:
  using State = ParseFilter::State;
  struct Frame {
    bool object = false;
    bool forwarded = false;    // the container itself reached the document
    State children = nullptr;  // what governs its members or elements; nullptr: all dropped
    State next = nullptr;      // an object's: the state of the value after the last key
    rapidjson::SizeType kept = 0;
  };

  // The filter's state for the value now starting (nullptr: dropped); counts a kept element.
  State value_state() {
    if (frames_.empty()) return filter_->root();
    Frame& f = frames_.back();
    if (f.object) return f.next;  // counted at its key
    const State s = f.children == nullptr ? nullptr : filter_->element(f.children);
    if (s != nullptr) ++f.kept;
    return s;
  }
  bool keep_scalar() { return filter_ == nullptr || value_state() != nullptr; }
  // A container starts: whether it is forwarded; with a filter, pushes its frame.
  bool enter(bool object) {
    if (filter_ == nullptr) return true;
    const State s = value_state();
    Frame f;
    f.object = object;
    f.forwarded = s != nullptr;
    if (s != nullptr) f.children = object ? filter_->object_members(s) : filter_->array_elements(s);
    frames_.push_back(f);
    return f.forwarded;
  }

  // RapidJSON 1.1.0 decodes a lone low surrogate escape ("\udd6d") to its 3-byte CESU-8 form
  // (ED B0..BF xx), which is not UTF-8, so an answer echoing it was not valid JSON. Go's decoder
  // (kube-apiserver's) reads a lone surrogate as U+FFFD; so do we, in the same 3 bytes. Raw
  // bytes ED A0..BF are refused by the encoding check, so only escapes produce them.
  const char* without_lone_surrogates(const char* s, rapidjson::SizeType n) {
    if (!escapes_) return s;  // most texts: no scan of every string (6 % of a review)
    const auto surrogate_at = [](std::string_view t, std::size_t i) {
      return i + 2 < t.size() && static_cast<unsigned char>(t[i]) == 0xED &&
             static_cast<unsigned char>(t[i + 1]) >= 0xA0;
    };
    const std::string_view text(s, n);
    std::size_t i = text.find('\xED');
    while (i != std::string_view::npos && !surrogate_at(text, i)) i = text.find('\xED', i + 1);
    if (i == std::string_view::npos) return s;
    fixed_.assign(text);
    for (; i + 2 < fixed_.size(); ++i) {
      if (surrogate_at(fixed_, i)) fixed_.replace(i, 3, "\xEF\xBF\xBD");
    }
    return fixed_.data();
  }

  Document& doc_;
  bool escapes_;
  const ParseFilter* filter_;
  std::vector<Frame> frames_;  // with a filter: the open containers
  std::string scratch_;
  std::string fixed_;
  unsigned depth_ = 0;
};

constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseNumbersAsStringsFlag |
                                 rapidjson::kParseValidateEncodingFlag;

// A NUL would end an in-situ parse early, and the copying one skips a leading UTF-8 BOM (each of
// its three bytes on its own): such texts take the copying parse, so every text reads the same.
bool parse_in_situ(std::string_view text) {
  if (text.empty()) return true;
  const auto first = static_cast<unsigned char>(text[0]);
  return first != 0xEF && first != 0xBB && first != 0xBF &&
         text.find('\0') == std::string_view::npos;
}

bool is_ascii(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t any = 0;
  for (; i + 8 <= text.size(); i += 8) any |= load8(text.data() + i);
  for (; i < text.size(); ++i) any |= static_cast<unsigned char>(text[i]);
  return (any & kHigh) == 0;
}

}  // namespace

Result<Document> parse(std::string_view text, const ParseFilter* filter) {
  Document doc;
  MarkingHandler handler(doc, text.find("\\u") != std::string_view::npos, filter);
  rapidjson::ParseResult result;
  if (parse_in_situ(text)) {
    // Decoded in place in one copy of the text: strings go straight from there into the document
    // instead of through the reader's stack first (docs/benchmarks.md). A leading pad byte takes
    // the mark of a number at offset 0.
    // Four NULs end it: RapidJSON's UTF-8 check reads all of a sequence's continuation bytes
    // (up to 3) before it judges them, and an in-situ stream has no end but a NUL, so a text
    // ending in a lead byte ("\"\xF4") was read past its end (found by fuzz_http).
    const auto owner = std::make_unique_for_overwrite<char[]>(text.size() + 5);
    char* buffer = owner.get();
    buffer[0] = ' ';
    std::memcpy(buffer + 1, text.data(), text.size());
    std::memset(buffer + text.size() + 1, 0, 4);
    // ASCII is valid UTF-8: the byte-by-byte validation, a third of the parse, only when needed.
    constexpr unsigned kInSitu = kParseFlags | rapidjson::kParseInsituFlag;
    constexpr unsigned kInSituAscii = kInSitu & ~rapidjson::kParseValidateEncodingFlag;
    const bool ascii = is_ascii(text);
    auto generate = [&](Document& /*d*/) {
      rapidjson::Reader reader;
      rapidjson::InsituStringStream is(buffer + 1);
      result = ascii ? reader.Parse<kInSituAscii>(is, handler) : reader.Parse<kInSitu>(is, handler);
      return !result.IsError();
    };
    doc.Populate(generate);
  } else {
    auto generate = [&](Document& /*d*/) {
      rapidjson::Reader reader;
      rapidjson::MemoryStream ms(text.data(), text.size());
      rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
      result = reader.Parse<kParseFlags>(is, handler);
      return !result.IsError();
    };
    doc.Populate(generate);
  }
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

bool equal(const Value& a, const Value& b) {
  if (a.IsArray() && b.IsArray()) {
    if (a.Size() != b.Size()) return false;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
      if (!equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (!a.IsObject() || !b.IsObject()) return a == b;
  if (a.MemberCount() != b.MemberCount()) return false;
  constexpr rapidjson::SizeType kScanned = 16;  // below this, a scan beats sorting
  if (b.MemberCount() <= kScanned) {
    for (const auto& m : a.GetObject()) {
      const auto found = b.FindMember(m.name);
      if (found == b.MemberEnd() || !equal(m.value, found->value)) return false;
    }
    return true;
  }
  // b's members by name; of equal names the first in b, as FindMember finds it.
  std::vector<const Value::Member*> sorted;
  sorted.reserve(b.MemberCount());
  for (const auto& m : b.GetObject()) sorted.push_back(&m);
  const auto by_name = [](const Value::Member* x, const Value::Member* y) {
    return str(x->name) < str(y->name);
  };
  std::stable_sort(sorted.begin(), sorted.end(), by_name);
  for (const auto& m : a.GetObject()) {
    const auto found = std::lower_bound(
        sorted.begin(), sorted.end(), str(m.name),
        [](const Value::Member* x, std::string_view name) { return str(x->name) < name; });
    if (found == sorted.end() || str((*found)->name) != str(m.name) ||
        !equal(m.value, (*found)->value)) {
      return false;
    }
  }
  return true;
}

const Value* member(const Value& v, std::string_view name) {
  if (!v.IsObject()) return nullptr;
  // From the end: of duplicate keys the last one counts, as in Go's decoder (kube-apiserver
  // applies the patch to what it decoded).
  for (auto it = v.MemberEnd(); it != v.MemberBegin();) {
    --it;
    if (same_key(str(it->name), name)) return &it->value;
  }
  return nullptr;
}

Value* member(Value& v, std::string_view name) {
  return const_cast<Value*>(member(static_cast<const Value&>(v), name));
}

const Value* non_empty_object(const Value* v) {
  return v != nullptr && v->IsObject() && v->MemberCount() > 0 ? v : nullptr;
}

const Value* object_member(const Value& v, std::string_view name) {
  return non_empty_object(member(v, name));
}

void drop_shadowed_members(Value& v, Allocator& alloc) {
  if (v.IsArray()) {
    for (auto& e : v.GetArray()) drop_shadowed_members(e, alloc);
    return;
  }
  if (!v.IsObject()) return;
  // Names seen from the end: a member whose name comes again later is shadowed.
  std::unordered_set<std::string_view> later;
  std::vector<bool> shadowed(v.MemberCount(), false);
  std::size_t dropped = 0;
  for (rapidjson::SizeType i = v.MemberCount(); i-- > 0;) {
    if (!later.insert(str(v.MemberBegin()[i].name)).second) {
      shadowed[i] = true;
      ++dropped;
    }
  }
  if (dropped > 0) {
    Value kept(rapidjson::kObjectType);
    for (rapidjson::SizeType i = 0; i < v.MemberCount(); ++i) {
      if (!shadowed[i]) kept.AddMember(v.MemberBegin()[i].name, v.MemberBegin()[i].value, alloc);
    }
    v = kept;
  }
  for (rapidjson::SizeType i = 0; i < v.MemberCount(); ++i) {
    drop_shadowed_members(v.MemberBegin()[i].value, alloc);
  }
}

namespace {

// RapidJSON's Writer escapes exactly these, and the same way: '"', '\\', and bytes below 0x20
// (\b \t \n \f \r by name, the rest as \u00XX). Byte for byte its output, at memcpy speed.
constexpr std::array<char, 256> kEscapes = [] {
  std::array<char, 256> e{};
  for (int c = 0; c < 0x20; ++c) e[static_cast<std::size_t>(c)] = 'u';
  e['\b'] = 'b';
  e['\t'] = 't';
  e['\n'] = 'n';
  e['\f'] = 'f';
  e['\r'] = 'r';
  e['"'] = '"';
  e['\\'] = '\\';
  return e;
}();

void append_scalar(std::string& out, const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      out += "null";
      return;
    case rapidjson::kFalseType:
      out += "false";
      return;
    case rapidjson::kTrueType:
      out += "true";
      return;
    case rapidjson::kStringType:
      if (is_number(v)) {
        out += number_text(v);
      } else {
        append_string(out, str(v));
      }
      return;
    case rapidjson::kNumberType: {  // not made by parse(); as RapidJSON writes it
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      v.Accept(writer);
      out.append(buffer.GetString(), buffer.GetSize());
      return;
    }
    default:
      return;  // containers: append_value
  }
}

// Iterative, with a stack of open containers: values nest up to kMaxDepth, deeper than a
// thread's stack allows recursion for in a sanitizer build.
void append_value(std::string& out, const Value& root) {
  struct Open {
    const Value* container;
    rapidjson::SizeType next;  // the member or element to write next
  };
  boost::container::small_vector<Open, 16> open;
  const Value* value = &root;
  for (;;) {
    if (value != nullptr) {  // a scalar whole, or a container's opening
      if (value->IsObject() || value->IsArray()) {
        out += value->IsObject() ? '{' : '[';
        open.push_back({value, 0});
      } else {
        append_scalar(out, *value);
      }
      value = nullptr;
    }
    if (open.empty()) return;
    Open& top = open.back();
    const bool object = top.container->IsObject();
    if (top.next == (object ? top.container->MemberCount() : top.container->Size())) {
      out += object ? '}' : ']';
      open.pop_back();
      continue;
    }
    if (top.next > 0) out += ',';
    if (object) {
      const auto& member = top.container->MemberBegin()[top.next];
      append_string(out, str(member.name));
      out += ':';
      value = &member.value;
    } else {
      value = &(*top.container)[top.next];
    }
    ++top.next;
  }
}

}  // namespace

// Whether any of the 8 bytes at `p` needs an escape (exact: "a byte less than n" and "a zero
// byte" from Bit Twiddling Hacks, n = 0x20 <= 128).
bool needs_escape8(const char* p) {
  const std::uint64_t x = load8(p);
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const std::uint64_t control = (x - kOnes * 0x20) & ~x & kHigh;
  return (control | has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\'))) != 0;
}

namespace {
// The first byte of s to escape (s.size() if none), 8 bytes at a time while there is none.
std::size_t first_escape(std::string_view s) {
  std::size_t i = 0;
  while (i + 8 <= s.size() && !needs_escape8(s.data() + i)) i += 8;
  while (i < s.size() && kEscapes[static_cast<unsigned char>(s[i])] == 0) ++i;
  return i;
}
}  // namespace

bool needs_escape(std::string_view s) {
  return first_escape(s) != s.size();
}

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::size_t i = first_escape(s);
  if (i == s.size()) {  // nothing to escape, as in nearly every string: one copy
    // Appended, not resize() and written: GCC fills what resize() adds with a `rep stos`
    // first (docs/benchmarks.md, item 50).
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return;
  }
  // Escapes: sized exactly first (a placement annotation holds dozens of quotes), then written.
  std::size_t extra = 0;
  for (std::size_t j = i; j < s.size(); ++j) {
    const char escape = kEscapes[static_cast<unsigned char>(s[j])];
    extra += escape == 0 ? 0 : escape == 'u' ? 5 : 1;
  }
  const std::size_t at = out.size();
  out.resize(at + s.size() + extra + 2);
  char* p = out.data() + at;
  *p++ = '"';
  std::memcpy(p, s.data(), i);
  p += i;
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const char escape = kEscapes[c];
    if (escape == 0) {
      *p++ = static_cast<char>(c);
      continue;
    }
    *p++ = '\\';
    *p++ = escape;
    if (escape == 'u') {
      *p++ = '0';
      *p++ = '0';
      *p++ = kHex[c >> 4];
      *p++ = kHex[c & 0xF];
    }
  }
  *p = '"';
}

void write_to(std::string& out, const Value& v) {
  append_value(out, v);
}

std::string write(const Value& v) {
  std::string out;
  write_to(out, v);
  return out;
}

}  // namespace nodealloc::json
