#include "core/yaml_json.hpp"

#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <sstream>

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <boost/unordered/unordered_flat_map.hpp>

namespace nodealloc::yaml {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options) {
    if (s == o) return true;
  }
  return false;
}

// Digits in `base`, with YAML 1.1's '_' separators, to a decimal string; nullopt past 64 bits.
std::optional<std::string> based_to_decimal(std::string_view digits, unsigned base, bool negative) {
  std::uint64_t v = 0;
  bool any = false;
  for (char c : digits) {
    if (c == '_') continue;
    unsigned d = 0;
    if (is_digit(c)) {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (v > (UINT64_MAX - d) / base) return std::nullopt;
    v = v * base + d;
    any = true;
  }
  if (!any) return std::nullopt;
  if (negative && v == 0) return "0";
  std::string out = std::to_string(v);
  if (negative) out.insert(out.begin(), '-');
  return out;
}

// yamlStyleFloat: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? (after removing '_'),
// rewritten in JSON's number grammar.
std::optional<std::string> float_to_json(std::string_view s) {
  std::string t;
  for (char c : s) {
    if (c != '_') t.push_back(c);
  }
  std::size_t i = 0;
  std::string out;
  if (i < t.size() && (t[i] == '-' || t[i] == '+')) {
    if (t[i] == '-') out.push_back('-');
    ++i;
  }
  std::string int_part;
  while (i < t.size() && is_digit(t[i])) int_part.push_back(t[i++]);
  std::string frac;
  bool point = false;
  if (i < t.size() && t[i] == '.') {
    point = true;
    ++i;
    while (i < t.size() && is_digit(t[i])) frac.push_back(t[i++]);
  }
  if (int_part.empty() && (frac.empty() || !point)) return std::nullopt;
  std::string exponent;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    exponent.push_back('e');
    ++i;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) exponent.push_back(t[i++]);
    std::size_t start = exponent.size();
    while (i < t.size() && is_digit(t[i])) exponent.push_back(t[i++]);
    if (exponent.size() == start) return std::nullopt;
  }
  if (i != t.size()) return std::nullopt;
  std::size_t nz = int_part.find_first_not_of('0');
  int_part = nz == std::string::npos ? "0" : int_part.substr(nz);
  out += int_part;
  if (!frac.empty()) out += "." + frac;
  out += exponent;
  return out;
}

bool is_merge_key(const YAML::Node& key) {
  return key.Scalar() == "<<" && (key.Tag() == "?" || key.Tag() == "tag:yaml.org,2002:merge");
}

}  // namespace

Scalar resolve_plain(std::string_view s) {
  if (one_of(s, {"", "~", "null", "Null", "NULL"})) return {ScalarType::Null, "null"};
  if (one_of(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
    return {ScalarType::Bool, "true"};
  }
  if (one_of(s, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
    return {ScalarType::Bool, "false"};
  }
  if (one_of(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                 ".nan", ".NaN", ".NAN"})) {
    return {ScalarType::Float, ""};  // no JSON text: not representable
  }
  // go-yaml only tries a number when the first character is a digit, a sign or '.': "_1" is
  // a string although "1_000" is an int.
  if (!is_digit(s[0]) && s[0] != '-' && s[0] != '+' && s[0] != '.') return {ScalarType::String, {}};
  std::string_view body = s;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  // Go's strconv.ParseInt(s, 0, 64) forms.
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    if (auto d = based_to_decimal(body.substr(2), 16, negative)) return {ScalarType::Int, *d};
  } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B')) {
    if (auto d = based_to_decimal(body.substr(2), 2, negative)) return {ScalarType::Int, *d};
  } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O')) {
    if (auto d = based_to_decimal(body.substr(2), 8, negative)) return {ScalarType::Int, *d};
  } else if (body.size() > 1 && body[0] == '0' &&
             body.find_first_not_of("01234567_") == body.npos) {
    if (auto d = based_to_decimal(body.substr(1), 8, negative)) return {ScalarType::Int, *d};
  }
  if (!body.empty() && body.find_first_not_of("0123456789_") == body.npos && body[0] != '_') {
    if (auto f = float_to_json(s)) return {ScalarType::Int, *f};
  }
  if (auto f = float_to_json(s)) return {ScalarType::Float, *f};
  return {ScalarType::String, {}};
}

namespace {

// Aliases make a YAML node a graph: "&a [*a]" is a cycle and nine nested levels of ten aliases
// are 10^9 values ("billion laughs"). So the JSON is bounded in depth (yaml-cpp's own parser
// stops at 2000 levels; each level here is a stack frame) and in values: without aliases a
// text of n bytes has at most n values, so load_all allows 16 per byte. So are the bytes of its
// scalars and keys: ten aliases of a long string are ten values but ten times its bytes.
constexpr unsigned kMaxDepth = 1000;
constexpr std::size_t kMaxValues = 1'000'000;
constexpr std::size_t kMaxBytes = std::size_t{64} << 20;

struct Budget {
  std::size_t limit = kMaxValues;
  std::size_t byte_limit = kMaxBytes;
  std::size_t values = 0;
  std::size_t bytes = 0;
  unsigned depth = 0;

  std::optional<Error> spend(const YAML::Node& node, std::size_t scalar_bytes) {
    bytes += scalar_bytes;
    if (++values > limit || bytes > byte_limit || depth >= kMaxDepth) {
      return Error{"line " + std::to_string(node.Mark().line + 1) +
                   ": the YAML expands to more than " + std::to_string(limit) + " values, " +
                   std::to_string(byte_limit) + " bytes of text or " + std::to_string(kMaxDepth) +
                   " levels (aliases?)"};
    }
    return std::nullopt;
  }
};

// A mapping's keys so far, for the repeated-key rule: looked up by scanning while the map is
// small, through a hash index past that (a linear lookup per key made a map of many keys
// quadratic).
class KeyIndex {
 public:
  json::Value* find(json::Value& object, std::string_view key) {
    if (object.MemberCount() <= kScanned) return json::member(object, key);
    if (index_.empty()) {
      for (rapidjson::SizeType i = 0; i < object.MemberCount(); ++i) {
        index_.emplace(json::str((object.MemberBegin() + i)->name), i);
      }
    }
    const auto at = index_.find(key);
    return at == index_.end() ? nullptr : &(object.MemberBegin() + at->second)->value;
  }
  // After object.AddMember: the new last member.
  void added(json::Value& object) {
    if (index_.empty()) return;  // built at the next find, when needed
    const rapidjson::SizeType last = object.MemberCount() - 1;
    index_.emplace(json::str((object.MemberBegin() + last)->name), last);
  }

 private:
  static constexpr rapidjson::SizeType kScanned = 16;
  // Views of the member names, which live in the allocator and do not move.
  boost::unordered_flat_map<std::string_view, rapidjson::SizeType, std::hash<std::string_view>>
      index_;
};

Result<json::Value> to_json(const YAML::Node& node, json::Allocator& alloc, Budget& budget) {
  if (auto over = budget.spend(node, node.IsScalar() ? node.Scalar().size() : 0)) return *over;
  struct Level {
    explicit Level(Budget& b) : b_(b) { ++b_.depth; }
    ~Level() { --b_.depth; }
    Level(const Level&) = delete;
    Level& operator=(const Level&) = delete;
    Budget& b_;
  } level(budget);
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json::Value();
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() != "?") return json::make_string(text, alloc);  // quoted or tagged: a string
      Scalar scalar = resolve_plain(text);
      switch (scalar.type) {
        case ScalarType::Null:
          return json::Value();
        case ScalarType::Bool:
          return json::Value(scalar.json == "true");
        case ScalarType::Int:
        case ScalarType::Float:
          if (scalar.json.empty()) {
            return Error{"line " + std::to_string(node.Mark().line + 1) + ": " + text +
                         " cannot be represented in JSON"};
          }
          return json::make_number(scalar.json, alloc);
        case ScalarType::String:
          return json::make_string(text, alloc);
      }
      return json::Value();
    }
    case YAML::NodeType::Sequence: {
      json::Value array(rapidjson::kArrayType);
      array.Reserve(static_cast<rapidjson::SizeType>(node.size()), alloc);
      for (const auto& item : node) {
        auto v = to_json(item, alloc, budget);
        if (!v) return v.error();
        array.PushBack(v.value(), alloc);
      }
      return array;
    }
    case YAML::NodeType::Map: {
      json::Value object(rapidjson::kObjectType);
      KeyIndex keys;
      std::vector<YAML::Node> merges;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return Error{"line " + std::to_string(kv.first.Mark().line + 1) +
                       ": a mapping key must be a scalar"};
        }
        if (is_merge_key(kv.first)) {
          merges.push_back(kv.second);
          continue;
        }
        if (auto over = budget.spend(kv.first, kv.first.Scalar().size())) return *over;
        auto v = to_json(kv.second, alloc, budget);
        if (!v) return v.error();
        if (json::Value* existing = keys.find(object, kv.first.Scalar())) {
          *existing = v.value();  // a repeated key: the last one wins, as in Kubernetes
        } else {
          object.AddMember(json::make_string(kv.first.Scalar(), alloc), v.value(), alloc);
          keys.added(object);
        }
      }
      // YAML merge keys ("<<: *base"), as go-yaml resolves them: the map's own keys win, then
      // the merged maps in order.
      for (const YAML::Node& merge : merges) {
        std::vector<YAML::Node> sources;
        if (merge.IsMap()) {
          sources.push_back(merge);
        } else if (merge.IsSequence()) {
          for (const auto& item : merge) sources.push_back(item);
        }
        for (const YAML::Node& source : sources) {
          if (!source.IsMap()) {
            return Error{"line " + std::to_string(merge.Mark().line + 1) +
                         ": a merge key (<<) needs a mapping or a list of mappings"};
          }
          auto v = to_json(source, alloc, budget);
          if (!v) return v.error();
          json::Value& merged = v.value();
          for (rapidjson::SizeType i = 0; i < merged.MemberCount(); ++i) {
            auto member = merged.MemberBegin() + i;
            if (keys.find(object, json::str(member->name)) == nullptr) {
              object.AddMember(member->name, member->value, alloc);
              keys.added(object);
            }
          }
        }
        if (sources.empty()) {
          return Error{"line " + std::to_string(merge.Mark().line + 1) +
                       ": a merge key (<<) needs a mapping or a list of mappings"};
        }
      }
      return object;
    }
  }
  return json::Value();
}

}  // namespace

Result<json::Value> to_json(const YAML::Node& node, json::Allocator& alloc) {
  Budget budget;
  return to_json(node, alloc, budget);
}

// yaml-cpp 0.7's LoadAll loops for ever, allocating a null document per turn, when a token no
// rule consumes follows a document (",", "{},": jbeder/yaml-cpp#1040, fixed after 0.8 by
// #1319). So the documents are walked with the event parser first, and a stream whose next
// document starts where the previous one did is refused.
namespace {

class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark.pos; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  int start = -1;
};

// Throws YAML::Exception as the parser does; false when the parser stops advancing.
bool documents_advance(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  int previous = -1;
  while (parser.HandleNextDocument(starts)) {
    if (starts.start == previous) return false;
    previous = starts.start;
  }
  return true;
}

}  // namespace

namespace {

// The offset of the first byte that is not valid UTF-8 (overlong forms, surrogates and values
// past U+10FFFF included), or npos: RapidJSON's own UTF-8 check, one code point at a time.
std::size_t invalid_utf8_at(std::string_view s) {
  struct Discard {
    void Put(char /*c*/) {}
  } sink;
  rapidjson::MemoryStream in(s.data(), s.size());
  while (in.Tell() < s.size()) {
    const std::size_t at = in.Tell();
    if (!rapidjson::UTF8<>::Validate(in, sink)) return at;
  }
  return std::string_view::npos;
}

}  // namespace

Result<std::vector<json::Document>> load_all(std::string_view text) {
  // As go-yaml does. It also keeps json::kNumberMark (0xFF, never valid UTF-8) out of strings.
  if (const std::size_t at = invalid_utf8_at(text); at != std::string_view::npos) {
    return Error{"invalid YAML: invalid UTF-8 at byte " + std::to_string(at)};
  }
  std::vector<json::Document> docs;
  try {
    const std::string owned(text);
    if (!documents_advance(owned)) {
      return Error{"invalid YAML: unexpected content after a document"};
    }
    Budget budget;
    budget.limit = std::min(kMaxValues, 64 + 16 * owned.size());
    budget.byte_limit = std::min(kMaxBytes, 64 + 16 * owned.size());
    for (const YAML::Node& node : YAML::LoadAll(owned)) {
      if (node.IsNull()) continue;
      json::Document doc;
      auto v = to_json(node, doc.GetAllocator(), budget);
      if (!v) return v.error();
      static_cast<json::Value&>(doc) = v.value();
      docs.push_back(std::move(doc));
    }
  } catch (const YAML::Exception& e) {
    return Error{"invalid YAML: line " + std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
  return docs;
}

namespace {

bool fits_literal_block(std::string_view s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
  if (s.front() == ' ' || s.front() == '\n') return false;
  char prev = '\0';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7F) return false;
    if (c == '\n' && prev == ' ') return false;
    prev = c;
  }
  return true;
}

void emit(YAML::Emitter& out, const json::Value& v) {
  if (v.IsObject()) {
    if (v.MemberCount() == 0) {
      out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
      return;
    }
    out << YAML::BeginMap;
    for (const auto& m : v.GetObject()) {
      out << YAML::Key;
      emit(out, m.name);
      out << YAML::Value;
      emit(out, m.value);
    }
    out << YAML::EndMap;
  } else if (v.IsArray()) {
    if (v.Empty()) {
      out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    out << YAML::BeginSeq;
    for (const auto& item : v.GetArray()) emit(out, item);
    out << YAML::EndSeq;
  } else if (json::is_number(v)) {
    out << std::string(json::number_text(v));
  } else if (v.IsString()) {
    const std::string s(json::str(v));
    if (fits_literal_block(s)) {
      out << YAML::Literal << s;
    } else if (s.empty() || resolve_plain(s).type != ScalarType::String) {
      out << YAML::DoubleQuoted << s;
    } else {
      out << s;
    }
  } else if (v.IsBool()) {
    out << (v.GetBool() ? "true" : "false");
  } else {
    out << YAML::Null;
  }
}

}  // namespace

std::string to_yaml(const json::Value& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  emit(out, value);
  std::string text = out.c_str();
  text.push_back('\n');
  return text;
}

}  // namespace nodealloc::yaml
