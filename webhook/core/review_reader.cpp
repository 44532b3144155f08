#include "core/review_reader.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace nodealloc::json {
namespace {

namespace dom = simdjson::dom;

// What of a value is kept. All: the whole value. Object: only the listed keys, each by its own
// shape. List: every element by `element`. Presence: null stays null, an object becomes {}
// (is_placeable() only asks whether resource/data is there). A value of another type than the
// shape expects is kept whole: the core reports it, and may quote it.
struct Shape;
struct Keep {
  std::string_view key;
  const Shape* shape;
};
struct Shape {
  enum class Kind { All, Object, List, Presence };
  Shape(Kind k, std::span<const Keep> kept = {}, const Shape* each = nullptr)
      : kind(k), keys(kept), element(each) {
    for (const Keep& keep : keys) lengths |= std::uint64_t{1} << keep.key.size();
  }
  Kind kind;
  std::span<const Keep> keys;
  const Shape* element;
  std::uint64_t lengths = 0;  // bit n: a kept key is n bytes long (all are under 64)
};

extern const Shape kTemplate;
extern const Shape kWorkflowSpec;

const Shape kAll{Shape::Kind::All};
const Shape kPresence{Shape::Kind::Presence};

// A container: its name (podSpecPatch entries are matched by it) and resources.
const Keep kContainerKeys[] = {{"name", &kAll}, {"resources", &kAll}};
const Shape kContainer{Shape::Kind::Object, kContainerKeys};
const Shape kContainers{Shape::Kind::List, {}, &kContainer};
const Keep kContainerSetKeys[] = {{"containers", &kContainers}};
const Shape kContainerSet{Shape::Kind::Object, kContainerSetKeys};

// A step or task: its name (inline templates are named by it), the template it calls, and an
// inline template.
const Keep kStepKeys[] = {{"name", &kAll}, {"template", &kAll}, {"inline", &kTemplate}};
const Shape kStep{Shape::Kind::Object, kStepKeys};
const Shape kStepGroup{Shape::Kind::List, {}, &kStep};
const Shape kSteps{Shape::Kind::List, {}, &kStepGroup};
const Shape kTasks{Shape::Kind::List, {}, &kStep};
const Keep kDagKeys[] = {{"tasks", &kTasks}};
const Shape kDag{Shape::Kind::Object, kDagKeys};

// Only the opt-out and placement annotations are read; the rest (Kubeflow's component specs)
// can be most of a template's bytes.
const Keep kAnnotationKeys[] = {{"node-allocator.io/skip", &kAll},
                                {"node-allocator.io/placement", &kAll}};
const Shape kAnnotations{Shape::Kind::Object, kAnnotationKeys};
const Keep kMetadataKeys[] = {
    {"name", &kAll}, {"generateName", &kAll}, {"namespace", &kAll}, {"annotations", &kAnnotations}};
const Shape kMetadata{Shape::Kind::Object, kMetadataKeys};

const Keep kMainKeys[] = {{"resources", &kAll}};
const Shape kMain{Shape::Kind::Object, kMainKeys};
const Keep kAffinityKeys[] = {{"nodeAffinity", &kAll}};
const Shape kAffinity{Shape::Kind::Object, kAffinityKeys};

const Keep kTemplateKeys[] = {{"name", &kAll},
                              {"metadata", &kMetadata},
                              {"container", &kMain},
                              {"script", &kMain},
                              {"containerSet", &kContainerSet},
                              {"sidecars", &kContainers},
                              {"initContainers", &kContainers},
                              {"resource", &kPresence},
                              {"data", &kPresence},
                              {"steps", &kSteps},
                              {"dag", &kDag},
                              {"suspend", &kPresence},  // these three only count as types
                              {"http", &kPresence},
                              {"plugin", &kPresence},
                              {"nodeSelector", &kAll},
                              {"affinity", &kAffinity},
                              {"tolerations", &kAll},
                              {"podSpecPatch", &kAll},
                              {"podResources", &kAll}};
const Shape kTemplate{Shape::Kind::Object, kTemplateKeys};
const Shape kTemplates{Shape::Kind::List, {}, &kTemplate};

// A workflow spec; a CronWorkflow's spec holds one as workflowSpec.
const Keep kWorkflowSpecKeys[] = {{"templates", &kTemplates}, {"nodeSelector", &kAll},
                                  {"tolerations", &kAll},     {"podSpecPatch", &kAll},
                                  {"podResources", &kAll},    {"workflowSpec", &kWorkflowSpec}};
const Shape kWorkflowSpec{Shape::Kind::Object, kWorkflowSpecKeys};

const Keep kObjectKeys[] = {
    {"apiVersion", &kAll}, {"kind", &kAll}, {"metadata", &kMetadata}, {"spec", &kWorkflowSpec}};
const Shape kObject{Shape::Kind::Object, kObjectKeys};
const Keep kRequestKeys[] = {{"uid", &kAll},       {"kind", &kAll}, {"operation", &kAll},
                             {"namespace", &kAll}, {"name", &kAll}, {"object", &kObject}};
const Shape kRequest{Shape::Kind::Object, kRequestKeys};
const Keep kReviewKeys[] = {{"apiVersion", &kAll}, {"kind", &kAll}, {"request", &kRequest}};
const Shape kReview{Shape::Kind::Object, kReviewKeys};

const Keep* find_key(const Shape& shape, std::string_view key) {
  // Most keys are dropped, and most of those by their length alone.
  if (key.size() >= 64 || (shape.lengths >> key.size() & 1) == 0) return nullptr;
  for (const Keep& k : shape.keys) {
    // Length and first byte before memcmp: most keys differ there.
    if (k.key.size() == key.size() && k.key.front() == key.front() && k.key == key) return &k;
  }
  return nullptr;
}

// What the shapes mean, as a json::ParseFilter: json::parse applies it to RapidJSON's events
// (texts beyond kFastLimit) and Pruner below to simdjson's document, so both keep the same.
class ShapeFilter final : public ParseFilter {
 public:
  State root() const override { return &kReview; }
  State object_members(State value) const override {
    const Shape& shape = *static_cast<const Shape*>(value);
    switch (shape.kind) {
      case Shape::Kind::Object:
        return &shape;
      case Shape::Kind::Presence:
        return nullptr;  // kept as {}
      default:
        return &kAll;  // All, or a list where an object came: kept whole
    }
  }
  State array_elements(State value) const override {
    const Shape& shape = *static_cast<const Shape*>(value);
    return shape.kind == Shape::Kind::List ? &shape : &kAll;
  }
  State member(State members, std::string_view key) const override {
    const Shape& shape = *static_cast<const Shape*>(members);
    if (shape.kind != Shape::Kind::Object) return &kAll;
    const Keep* keep = find_key(shape, key);
    return keep == nullptr ? nullptr : keep->shape;
  }
  State element(State elements) const override {
    const Shape& shape = *static_cast<const Shape*>(elements);
    return shape.kind == Shape::Kind::List ? shape.element : &kAll;
  }
};

// Replays what the filter keeps of a simdjson document as SAX events into a RapidJSON document
// (Document::Populate), numbers as marked strings of their text (json.hpp): objects and arrays
// get exactly the room they need, built on the document's stack. Keys and strings are borrowed
// from simdjson's string buffer when that outlives the document's use (`borrow`), else copied.
// False: a number's text cannot be recovered.
class Pruner {
 public:
  using State = ParseFilter::State;
  Pruner(std::string_view text, dom::element root, bool borrow)
      : text_(text), root_(root), copy_(!borrow) {}

  bool operator()(Document& out) { return ok_ = copy(root_, filter_.root(), out); }
  bool ok() const { return ok_; }

 private:
  // `state` is the value's (never nullptr: dropped values are not visited). Small, so that
  // scalars, most of what is kept, are copied in line in the loops below.
  bool copy(dom::element e, State state, Document& out) {
    switch (e.type()) {
      case dom::element_type::OBJECT:
        return copy_object(dom::object(e), state, out);
      case dom::element_type::ARRAY:
        return copy_array(dom::array(e), state, out);
      case dom::element_type::STRING: {
        const std::string_view s(e);
        return out.String(s.data(), static_cast<rapidjson::SizeType>(s.size()), copy_);
      }
      case dom::element_type::INT64:
        return integer(int64_t(e), out);
      case dom::element_type::UINT64:
        return integer(uint64_t(e), out);
      case dom::element_type::DOUBLE:
        return false;  // "0.5", "5e-1" and "0.50" are one double: the text is lost
      case dom::element_type::BOOL:
        return out.Bool(bool(e));
      case dom::element_type::NULL_VALUE:
        return out.Null();
    }
    return false;
  }

  bool copy_object(dom::object object, State state, Document& out) {
    const State members = filter_.object_members(state);
    out.StartObject();
    rapidjson::SizeType kept = 0;
    for (const dom::key_value_pair field : object) {
      const State member = members == nullptr ? nullptr : filter_.member(members, field.key);
      if (member == nullptr) continue;
      out.Key(field.key.data(), static_cast<rapidjson::SizeType>(field.key.size()), copy_);
      if (!copy(field.value, member, out)) return false;
      ++kept;
    }
    return out.EndObject(kept);
  }

  bool copy_array(dom::array array, State state, Document& out) {
    const State elements = filter_.array_elements(state);
    out.StartArray();
    rapidjson::SizeType kept = 0;
    for (const dom::element item : array) {
      const State element = elements == nullptr ? nullptr : filter_.element(elements);
      if (element == nullptr) continue;
      if (!copy(item, element, out)) return false;
      ++kept;
    }
    return out.EndArray(kept);
  }

  // An integer's text is its decimal form (JSON allows no leading zeros or '+'), except that
  // "-0" and "0" are both 0.
  template <class Int>
  bool integer(Int i, Document& out) {
    if (i == 0) {
      if (!minus_zero_checked_) {
        minus_zero_possible_ = text_.find("-0") != std::string_view::npos;
        minus_zero_checked_ = true;
      }
      if (minus_zero_possible_) return false;
    }
    char buffer[24];
    buffer[0] = kNumberMark;
    const auto end = std::to_chars(buffer + 1, buffer + sizeof buffer, i).ptr;
    return out.String(buffer, static_cast<rapidjson::SizeType>(end - buffer), true);
  }

  const ShapeFilter filter_;
  std::string_view text_;
  dom::element root_;
  bool copy_;
  bool ok_ = false;
  bool minus_zero_checked_ = false;
  bool minus_zero_possible_ = false;
};

// The same pruned document as Pruner's, read straight from simdjson's stage 1 (the structural
// index: where every token starts, with UTF-8, control characters and string boundaries already
// checked) instead of from its DOM tape: the tape holds every string copied and every number
// parsed, most of them dropped here. What the tape building validates besides is validated on
// the way: the grammar (a pushdown walk over the tokens), literals, numbers, and the escapes of
// every string that has a backslash (by simdjson's own unescaper). The scan is only a faster
// road to Pruner's answer: whatever it is not sure of (a fraction or exponent, an integer of 19
// digits or more, "-0", a surrogate escape, nesting beyond kMaxDepth, a root that is not an
// object, anything malformed) gives up, and read() takes the DOM road, whose answer or error
// stays the reference. Kept strings are copied into the reader's own buffer.
// Stage 1, its index and the unescaper are reached through dom::parser::implementation, public
// but marked internal: CMakeLists.txt asks for simdjson 3.0.x (Debian 12: 3.0.1).
class Scanner {
 public:
  using State = ParseFilter::State;
  static constexpr unsigned kMaxDepth = 512;

  Scanner(const simdjson::internal::dom_parser_implementation& stage1, std::string_view text,
          const std::uint32_t* backslashes, char* strings)
      : impl_(stage1),
        buf_(text.data()),
        len_(static_cast<std::uint32_t>(text.size())),
        idx_(stage1.structural_indexes.get()),
        n_(stage1.n_structural_indexes),
        backslash_(backslashes),
        strings_(strings) {}

  bool operator()(Document& out) {
    if (n_ == 0 || buf_[idx_[0]] != '{') return ok_ = false;
    i_ = 1;
    ok_ = object(filter_.root(), out, 1) && i_ == n_;
    return ok_;
  }
  bool ok() const { return ok_; }

 private:
  // The next token's first byte, or 0 past the last.
  char peek() const { return i_ < n_ ? buf_[idx_[i_]] : '\0'; }
  // Where the next token starts (the text's end past the last).
  std::uint32_t next_start() const { return i_ < n_ ? idx_[i_] : len_; }

  static bool delimiter(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ':' || c == ']' ||
           c == '}' || c == '[' || c == '{';
  }
  bool literal(std::uint32_t pos, std::string_view word) const {
    const std::uint32_t end = pos + static_cast<std::uint32_t>(word.size());
    return end < len_ && std::string_view(buf_ + pos, word.size()) == word && delimiter(buf_[end]);
  }
  // An integer of at most 18 digits, not "-0": its text is its value's decimal form, as Pruner
  // writes it. Anything else gives up (fractions and exponents included).
  std::string_view integer(std::uint32_t pos) const {
    std::uint32_t p = pos + (buf_[pos] == '-' ? 1 : 0);
    const std::uint32_t digits = p;
    while (p < len_ && buf_[p] >= '0' && buf_[p] <= '9') ++p;
    const std::uint32_t count = p - digits;
    if (count == 0 || count > 18 || (buf_[digits] == '0' && (count > 1 || digits != pos)))
      return {};
    if (p >= len_ || !delimiter(buf_[p])) return {};
    return {buf_ + pos, p - pos};
  }
  bool scalar(std::uint32_t pos) {
    switch (buf_[pos]) {
      case '"':
        return valid_string(pos);
      case 't':
        return literal(pos, "true");
      case 'f':
        return literal(pos, "false");
      case 'n':
        return literal(pos, "null");
      default:
        return !integer(pos).empty();
    }
  }

  // The string whose opening quote is at pos, unescaped: a view into the text when it holds
  // no escape, else written at strings_ (kept only by keep()). nullptr data: malformed, or a
  // surrogate escape (left to the DOM road).
  std::string_view string(std::uint32_t pos) {
    const std::uint32_t next = next_start();
    if (*backslash_ < next) return unescape(pos, next);
    // No escape: the string ends at the last quote before the next token.
    std::uint32_t close = next - 1;
    while (close > pos && buf_[close] != '"') --close;
    if (close == pos) return {};
    return {buf_ + pos + 1, close - pos - 1};
  }
  // A dropped string: only its escapes need checking (stage 1 checked the rest).
  bool valid_string(std::uint32_t pos) {
    const std::uint32_t next = next_start();
    return *backslash_ >= next || unescape(pos, next).data() != nullptr;
  }
  std::string_view unescape(std::uint32_t pos, std::uint32_t next) {
    // simdjson refuses lone surrogates and reads pairs; both are left to it.
    for (; *backslash_ < next; ++backslash_) {
      if (buf_[*backslash_ + 1] == '\\') {
        ++backslash_;  // an escaped backslash: the next one is its second byte
      } else if (buf_[*backslash_ + 1] == 'u' && (buf_[*backslash_ + 2] | 0x20) == 'd' &&
                 buf_[*backslash_ + 3] >= '8') {
        return {};
      }
    }
    auto* dst = reinterpret_cast<std::uint8_t*>(strings_);
    const std::uint8_t* end =
        impl_.parse_string(reinterpret_cast<const std::uint8_t*>(buf_ + pos + 1), dst);
    if (end == nullptr) return {};
    return {strings_, static_cast<std::size_t>(end - dst)};
  }
  // Keeps a string from string() in the strings buffer (copied unless unescaped there).
  std::string_view keep(std::string_view s) {
    if (s.data() != strings_) std::memcpy(strings_, s.data(), s.size());
    const std::string_view kept(strings_, s.size());
    strings_ += s.size();
    return kept;
  }

  // Validates the value starting at token pos, keeping nothing. Iterative: the depth is
  // bounded by kMaxDepth, not by the C++ stack.
  bool skip(std::uint32_t pos, unsigned depth) {
    char c = buf_[pos];
    if (c != '{' && c != '[') return scalar(pos);
    unsigned level = 0;
    std::uint64_t* const in_object = in_object_;
    const auto open = [&](char bracket) {
      if (depth + level + 1 > kMaxDepth) return false;
      ++level;
      const std::uint64_t bit = std::uint64_t{1} << (level % 64);
      if (bracket == '{') {
        in_object[level / 64] |= bit;
      } else {
        in_object[level / 64] &= ~bit;
      }
      return true;
    };
    const auto is_object = [&] { return (in_object[level / 64] >> (level % 64) & 1) != 0; };
    // What the token after an opening bracket, a colon or a comma may be.
    enum class Expect { kFirst, kKey, kValue, kCommaOrClose } expect = Expect::kFirst;
    if (!open(c)) return false;
    while (true) {
      if (i_ >= n_) return false;
      pos = idx_[i_++];
      c = buf_[pos];
      if (expect == Expect::kFirst) {
        if (c == (is_object() ? '}' : ']')) {
          if (--level == 0) return true;
          expect = Expect::kCommaOrClose;
          continue;
        }
        expect = is_object() ? Expect::kKey : Expect::kValue;
      }
      switch (expect) {
        case Expect::kKey:
          if (c != '"' || !valid_string(pos)) return false;
          if (i_ >= n_ || buf_[idx_[i_++]] != ':') return false;
          expect = Expect::kValue;
          break;
        case Expect::kValue:
          if (c == '{' || c == '[') {
            if (!open(c)) return false;
            expect = Expect::kFirst;
          } else {
            if (!scalar(pos)) return false;
            expect = Expect::kCommaOrClose;
          }
          break;
        case Expect::kCommaOrClose:
          if (c == ',') {
            expect = is_object() ? Expect::kKey : Expect::kValue;
          } else if (c == (is_object() ? '}' : ']')) {
            if (--level == 0) return true;
          } else {
            return false;
          }
          break;
        case Expect::kFirst:
          break;  // handled above
      }
    }
  }

  // Keeps the value starting at token pos as `state` says (never nullptr), as Pruner::copy.
  bool value(std::uint32_t pos, State state, Document& out, unsigned depth) {
    switch (buf_[pos]) {
      case '{':
        return object(state, out, depth + 1);
      case '[':
        return array(state, out, depth + 1);
      case '"': {
        std::string_view s = string(pos);
        if (s.data() == nullptr) return false;
        s = keep(s);
        return out.String(s.data(), static_cast<rapidjson::SizeType>(s.size()), false);
      }
      case 't':
        return literal(pos, "true") && out.Bool(true);
      case 'f':
        return literal(pos, "false") && out.Bool(false);
      case 'n':
        return literal(pos, "null") && out.Null();
      default: {
        const std::string_view digits = integer(pos);
        if (digits.empty()) return false;
        char buffer[24];
        buffer[0] = kNumberMark;
        std::memcpy(buffer + 1, digits.data(), digits.size());
        return out.String(buffer, static_cast<rapidjson::SizeType>(digits.size() + 1), true);
      }
    }
  }

  // The cursor is past the opening brace.
  bool object(State state, Document& out, unsigned depth) {
    if (depth > kMaxDepth) return false;
    const State members = filter_.object_members(state);
    out.StartObject();
    rapidjson::SizeType kept = 0;
    if (peek() == '}') {
      ++i_;
      return out.EndObject(0);
    }
    while (true) {
      if (i_ >= n_) return false;
      const std::uint32_t key_pos = idx_[i_++];
      if (buf_[key_pos] != '"') return false;
      std::string_view key = string(key_pos);
      if (key.data() == nullptr || i_ + 1 >= n_ || buf_[idx_[i_++]] != ':') return false;
      const State member = members == nullptr ? nullptr : filter_.member(members, key);
      const std::uint32_t pos = idx_[i_++];
      if (member == nullptr) {
        if (!skip(pos, depth)) return false;
      } else {
        key = keep(key);
        out.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()), false);
        if (!value(pos, member, out, depth)) return false;
        ++kept;
      }
      if (i_ >= n_) return false;
      const char c = buf_[idx_[i_++]];
      if (c == '}') return out.EndObject(kept);
      if (c != ',') return false;
    }
  }

  bool array(State state, Document& out, unsigned depth) {
    if (depth > kMaxDepth) return false;
    const State elements = filter_.array_elements(state);
    out.StartArray();
    rapidjson::SizeType kept = 0;
    if (peek() == ']') {
      ++i_;
      return out.EndArray(0);
    }
    while (true) {
      if (i_ >= n_) return false;
      const std::uint32_t pos = idx_[i_++];
      const State element = elements == nullptr ? nullptr : filter_.element(elements);
      if (element == nullptr) {
        if (!skip(pos, depth)) return false;
      } else {
        if (!value(pos, element, out, depth)) return false;
        ++kept;
      }
      if (i_ >= n_) return false;
      const char c = buf_[idx_[i_++]];
      if (c == ']') return out.EndArray(kept);
      if (c != ',') return false;
    }
  }

  const ShapeFilter filter_;
  const simdjson::internal::dom_parser_implementation& impl_;
  const char* buf_;
  std::uint32_t len_;
  const std::uint32_t* idx_;
  std::uint32_t n_;
  std::uint32_t i_ = 0;
  const std::uint32_t* backslash_;  // the next backslash's position; the list ends with ~0
  char* strings_;                   // where the next kept string goes
  // skip()'s: bit l is set when the container open at level l (1 to kMaxDepth) is an object.
  std::uint64_t in_object_[kMaxDepth / 64 + 1] = {};
  bool ok_ = false;
};

// A number whose value is 0 but whose text has an exponent beyond 308 ("0e400"): simdjson reads
// 0, RapidJSON refuses it as too big (Go reads 0). Any double 0 anywhere in the text, kept or
// dropped, sends the text to json::parse so both paths refuse alike; doubles are rare and zero
// ones rarer. Scans simdjson's tape (its documented layout: a 64-bit word per value, a second
// word holding a number's value).
bool has_zero_double(const dom::document& doc) {
  const uint64_t* tape = doc.tape.get();
  const uint64_t end = tape[0] & 0x00FFFFFFFFFFFFFFULL;  // the root's word: where it ends
  // First, branch-free (vectorized): is any word marked 'd' at all? A number's value word may
  // look so too, which only sends the review to the exact walk below. Most reviews hold no
  // double and stop here.
  // ((type ^ 'd') - 1) has its top bit set only for type 'd': shifts, xor, subtract and or on
  // 64-bit lanes, which baseline x86-64 (SSE2) vectorizes; a 64-bit == does not.
  uint64_t marked = 0;
  for (uint64_t i = 1; i < end; ++i) marked |= (((tape[i] >> 56) ^ uint64_t{'d'}) - 1) >> 63;
  if (marked == 0) return false;
  for (uint64_t i = 1; i < end; ++i) {
    const auto type = static_cast<char>(tape[i] >> 56);
    if (type == 'd') {
      double value = 0;
      std::memcpy(&value, &tape[i + 1], sizeof value);
      if (value == 0) return true;
    }
    if (type == 'd' || type == 'l' || type == 'u') ++i;  // the value's own word
  }
  return false;
}

}  // namespace

struct ReviewReader::Parser {
  // The pruned document's memory: a first chunk kept from one review to the next (a 50-template
  // review needs about 20 KiB), further ones smaller than the 64 KiB whose free makes glibc
  // consolidate its heap.
  static constexpr std::size_t kFirstChunk = std::size_t{64} * 1024;
  static constexpr std::size_t kMoreChunks = std::size_t{32} * 1024;
  dom::parser parser;
  std::unique_ptr<char[]> first_chunk = std::make_unique<char[]>(kFirstChunk);
  Allocator pool{first_chunk.get(), kFirstChunk, kMoreChunks};
  // The scan's: the text's backslashes (then ~0), kept strings, an unpadded text's padded copy.
  std::vector<std::uint32_t> backslashes;
  std::unique_ptr<char[]> strings;
  std::unique_ptr<char[]> padded_copy;
  std::size_t capacity = 0;  // of strings and padded_copy: a text this long, and padding
};

ReviewReader::ReviewReader(std::size_t fast_limit, Stage2 stage2)
    : fast_limit_(fast_limit), stage2_(stage2), parser_(std::make_unique<Parser>()) {}
ReviewReader::~ReviewReader() = default;

static_assert(ReviewReader::kPadding >= simdjson::SIMDJSON_PADDING);

std::optional<Document> ReviewReader::read(std::string_view text, bool padded) {
  scanned_ = false;
  // A byte-order mark, and the rest of what simdjson refuses, is json::parse's to judge.
  if (!text.empty() && static_cast<unsigned char>(text.front()) == 0xEF) return std::nullopt;
  if (text.size() > fast_limit_) {
    const ShapeFilter filter;
    auto doc = json::parse(text, &filter);
    if (!doc) return std::nullopt;  // the full parse gives the error
    return std::move(doc.value());
  }
  if (stage2_ == Stage2::kScan && text.size() <= kReusedCapacity) {
    if (auto doc = scan(text, padded)) {
      scanned_ = true;
      return doc;
    }
  }
  std::optional<dom::parser> own;
  dom::parser& parser = text.size() <= kReusedCapacity ? parser_->parser : own.emplace();
  dom::element root;
  if (parser.parse(text.data(), text.size(), !padded).get(root) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  if (has_zero_double(parser.doc)) return std::nullopt;
  std::optional<Document> doc;
  if (own) {
    doc.emplace();
  } else {
    parser_->pool.Clear();
    doc.emplace(&parser_->pool);
  }
  Pruner pruner(text, root, !own.has_value());
  doc->Populate(pruner);
  if (!pruner.ok()) return std::nullopt;
  return doc;
}

std::optional<Document> ReviewReader::scan(std::string_view text, bool padded) {
  Parser& p = *parser_;
  if (p.capacity < text.size()) {
    p.capacity = std::max(text.size(), std::size_t{4096});
    p.strings = std::make_unique<char[]>(p.capacity + 2 * kPadding);
    p.padded_copy.reset();
  }
  const char* data = text.data();
  if (!padded) {
    if (!p.padded_copy) p.padded_copy = std::make_unique<char[]>(p.capacity + kPadding);
    std::memcpy(p.padded_copy.get(), text.data(), text.size());
    std::memset(p.padded_copy.get() + text.size(), 0, kPadding);
    data = p.padded_copy.get();
  }
  if (text.empty()) return std::nullopt;
  if ((!p.parser.implementation || p.parser.capacity() < text.size()) &&
      p.parser.allocate(text.size()) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  auto& stage1 = *p.parser.implementation;
  if (stage1.stage1(reinterpret_cast<const std::uint8_t*>(data), text.size(),
                    simdjson::stage1_mode::regular) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  p.backslashes.clear();
  const char* const end = data + text.size();
  for (const char* b = data; (b = static_cast<const char*>(std::memchr(b, '\\', end - b))); ++b) {
    p.backslashes.push_back(static_cast<std::uint32_t>(b - data));
  }
  p.backslashes.push_back(~std::uint32_t{0});
  p.pool.Clear();
  std::optional<Document> doc(std::in_place, &p.pool);
  Scanner scanner(stage1, std::string_view(data, text.size()), p.backslashes.data(),
                  p.strings.get());
  doc->Populate(scanner);
  if (!scanner.ok()) return std::nullopt;
  return doc;
}

}  // namespace nodealloc::json
