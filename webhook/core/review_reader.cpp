#include "core/review_reader.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
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
  static constexpr std::size_t kMaxKeys = 24;
  static constexpr std::size_t kMaxLength = 64;  // every kept key is shorter
  Shape(Kind k, std::span<const Keep> kept = {}, const Shape* each = nullptr)
      : kind(k), keys(kept), element(each) {
    // The keys by length: a key is compared only with the kept keys of its own length.
    if (keys.size() > kMaxKeys) throw std::length_error("a shape keeps too many keys");
    for (const Keep& keep : keys) {
      if (keep.key.empty() || keep.key.size() >= kMaxLength) {
        throw std::length_error("a kept key is empty or too long");
      }
      ++count[keep.key.size()];
    }
    std::uint8_t at = 0;
    for (std::size_t n = 0; n < kMaxLength; ++n) {
      first[n] = at;
      at = static_cast<std::uint8_t>(at + count[n]);
    }
    auto next = first;
    for (const Keep& keep : keys) by_length[next[keep.key.size()]++] = &keep;
  }
  Kind kind;
  std::span<const Keep> keys;
  const Shape* element;
  std::array<std::uint8_t, kMaxLength> first{};  // by length: where in by_length its keys start
  std::array<std::uint8_t, kMaxLength> count{};  // and how many there are
  std::array<const Keep*, kMaxKeys> by_length{};
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

// In line: it runs for every key of every kept object, and most keys are dropped by their
// length alone.
inline const Keep* find_key(const Shape& shape, std::string_view key) {
  if (key.size() >= Shape::kMaxLength) return nullptr;
  const std::size_t first = shape.first[key.size()];
  for (std::size_t i = first; i < first + shape.count[key.size()]; ++i) {
    const Keep* keep = shape.by_length[i];
    if (same_key(keep->key, key)) return keep;
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
// parsed, most of them dropped here. What the tape building validates besides is validated too:
// every escape first, in a tight pass over the list of backslashes (a backslash outside a string
// makes its token fail the grammar anyway), then every token in one forward walk (the grammar as
// a pushdown automaton, literals, integers) that keeps what the shapes keep as it goes. A
// dropped value is validated by a tighter loop that keeps nothing. One pass in text order: a
// walk that jumped over dropped values (from where a first pass had noted their ends) cost
// twice that pass in a reader-only timing (docs/benchmarks.md, item 31).
// It is only a faster road to Pruner's answer: whatever it is not sure of (a fraction or
// exponent, an integer of 19 digits or more, "-0", a surrogate escape, nesting beyond kMaxDepth,
// a root that is not an object, anything malformed) gives up, and read() takes the DOM road,
// whose answer or error stays the reference. Kept strings without escapes are views into the
// text; unescaped ones are written into the reader's own buffer.
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
    ok_ = n_ != 0 && buf_[idx_[0]] == '{' && escapes_valid() && walk(out);
    return ok_;
  }
  bool ok() const { return ok_; }

 private:
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
  // A token that is not a string, object or array.
  bool scalar(std::uint32_t pos) const {
    switch (buf_[pos]) {
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
  static bool hex(char c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
  }

  // Every escape in the text, as simdjson's unescaper judges them; surrogates (which it reads
  // in pairs and refuses alone) are left to it.
  bool escapes_valid() const {
    for (const std::uint32_t* b = backslash_; *b != kNoBackslash; ++b) {
      const char* e = buf_ + *b + 1;  // the padding makes every read here safe
      switch (*e) {
        case '\\':
          ++b;  // an escaped backslash: the next one listed is its second byte
          break;
        case '"':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          break;
        case 'u':
          if (!hex(e[1]) || !hex(e[2]) || !hex(e[3]) || !hex(e[4])) return false;
          if ((e[1] | 0x20) == 'd' && e[2] >= '8') return false;  // a surrogate
          break;
        default:
          return false;
      }
    }
    return true;
  }

  // The string whose opening quote is at pos, unescaped: a view into the text when it holds
  // no escape, else written at strings_ (kept only by keep()). `next`: where the token after it
  // starts. nullptr data: not unescaped.
  std::string_view string(std::uint32_t pos, std::uint32_t next) {
    while (*backslash_ < pos) ++backslash_;
    if (*backslash_ < next) {
      auto* dst = reinterpret_cast<std::uint8_t*>(strings_);
      const std::uint8_t* end =
          impl_.parse_string(reinterpret_cast<const std::uint8_t*>(buf_ + pos + 1), dst);
      if (end == nullptr) return {};
      return {strings_, static_cast<std::size_t>(end - dst)};
    }
    // No escape: the string ends at the last quote before the next token.
    std::uint32_t close = next - 1;
    while (buf_[close] != '"') --close;
    return {buf_ + pos + 1, close - pos - 1};
  }
  // Keeps a string from string(): one without escapes stays a view into the text (the
  // caller's, or the reader's padded copy), an unescaped one stays where it was written.
  std::string_view keep(std::string_view s) {
    if (s.data() == strings_) strings_ += s.size();
    return s;
  }
  // Where token i starts; the text's end past the last one.
  std::uint32_t start(std::uint32_t i) const { return i < n_ ? idx_[i] : len_; }

  // Validates the value starting at token i, keeping nothing, `depth` objects and arrays deep;
  // the token after it, or 0 when it is malformed.
  std::uint32_t drop(std::uint32_t i, unsigned depth) const {
    const char* const buf = buf_;
    const std::uint32_t* const idx = idx_;
    const std::uint32_t n = n_;
    const char first = buf[idx[i]];
    if (first != '{' && first != '[') return first == '"' || scalar(idx[i]) ? i + 1 : 0;
    enum class Expect { kValue, kValueOrClose, kKey, kKeyOrClose, kColon, kCommaOrClose };
    // The closing bracket each open object or array waits for, innermost last.
    std::array<char, kMaxDepth> closers;
    unsigned open = 0;
    if (depth == kMaxDepth) return 0;
    closers[open++] = first == '{' ? '}' : ']';
    Expect expect = first == '{' ? Expect::kKeyOrClose : Expect::kValueOrClose;
    for (++i; i < n; ++i) {
      const std::uint32_t pos = idx[i];
      const char c = buf[pos];
      switch (expect) {
        case Expect::kValueOrClose:
          if (c == ']') break;  // closed below
          [[fallthrough]];
        case Expect::kValue:
          if (c == '{' || c == '[') {
            if (depth + open == kMaxDepth) return 0;
            closers[open++] = c == '{' ? '}' : ']';
            expect = c == '{' ? Expect::kKeyOrClose : Expect::kValueOrClose;
            continue;
          }
          if (c != '"' && !scalar(pos)) return 0;
          expect = Expect::kCommaOrClose;
          continue;
        case Expect::kKeyOrClose:
          if (c == '}') break;  // closed below
          [[fallthrough]];
        case Expect::kKey:
          if (c != '"') return 0;
          expect = Expect::kColon;
          continue;
        case Expect::kColon:
          if (c != ':') return 0;
          expect = Expect::kValue;
          continue;
        case Expect::kCommaOrClose:
          if (c == ',') {
            expect = closers[open - 1] == '}' ? Expect::kKey : Expect::kValue;
            continue;
          }
          if (c != closers[open - 1]) return 0;
          break;  // closed below
      }
      // c closes the innermost object or array (the cases above let only its own bracket
      // through).
      if (--open == 0) return i + 1;
      expect = Expect::kCommaOrClose;
    }
    return 0;  // the text ended inside the value
  }

  // Keeps the string, literal or integer at token i (pos: where it starts; the grammar put it
  // where a value goes).
  bool keep_scalar(std::uint32_t i, std::uint32_t pos, Document& out) {
    switch (buf_[pos]) {
      case '"': {
        std::string_view s = string(pos, start(i + 1));
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

  // The whole text from the root's opening brace: the grammar, and what the shapes keep (as
  // Pruner::copy), a frame per kept object or array not yet closed. The innermost frame lives in
  // locals (the stack holds the ones around it), and the token after a value is read where the
  // value ends: a comma goes straight on to the next member or element, a close straight on to
  // the frame around it, without a round of the loop for each.
  bool walk(Document& out) {
    struct Frame {
      State inner;  // an object's members' state, an array's elements'; nullptr: drop them all
      rapidjson::SizeType kept;
      bool object;
    };
    std::array<Frame, kMaxDepth> frames;  // the frames around the innermost, outermost first
    unsigned depth = 1;                   // frames open, the innermost included
    State inner = filter_.object_members(filter_.root());
    rapidjson::SizeType kept = 0;
    bool object = true;
    out.StartObject();
    const char* const buf = buf_;
    const std::uint32_t* const idx = idx_;
    const std::uint32_t n = n_;
    std::uint32_t i = 1;
    bool first = true;  // token i may close the innermost frame (nothing in it yet)
    while (true) {
      if (i >= n) return false;  // the text ended inside the root
      char c = buf[idx[i]];
      if (!first || c != (object ? '}' : ']')) {
        // A member or element starts at token i.
        State state = nullptr;
        if (object) {
          if (c != '"' || i + 2 >= n || buf[idx[i + 1]] != ':') return false;
          if (inner != nullptr) {  // else every member is dropped: the key is not read
            std::string_view key = string(idx[i], idx[i + 1]);
            if (key.data() == nullptr) return false;
            state = filter_.member(inner, key);
            if (state != nullptr) {
              key = keep(key);
              out.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()), false);
            }
          }
          i += 2;
        } else if (inner != nullptr) {
          state = filter_.element(inner);
        }
        if (state == nullptr) {
          i = drop(i, depth);
          if (i == 0) return false;
        } else {
          ++kept;
          const std::uint32_t pos = idx[i];
          const char v = buf[pos];
          if (v == '{' || v == '[') {
            if (depth == kMaxDepth) return false;
            frames[depth - 1] = {inner, kept, object};
            ++depth;
            object = v == '{';
            inner = object ? filter_.object_members(state) : filter_.array_elements(state);
            kept = 0;
            if (object) {
              out.StartObject();
            } else {
              out.StartArray();
            }
            ++i;
            first = true;
            continue;
          }
          if (!keep_scalar(i, pos, out)) return false;  // also a ',', ':' or bracket here
          ++i;
        }
        // After the value: a comma, or the innermost frame's close.
        if (i >= n) return false;
        c = buf[idx[i]];
        if (c == ',') {
          ++i;
          first = false;
          continue;
        }
        if (c != (object ? '}' : ']')) return false;
      }
      // Token i closes the innermost frame; then a comma or a close in the frame around it.
      while (true) {
        if (!(object ? out.EndObject(kept) : out.EndArray(kept))) return false;
        ++i;
        if (--depth == 0) return i == n;
        const Frame& around = frames[depth - 1];
        inner = around.inner;
        kept = around.kept;
        object = around.object;
        if (i >= n) return false;
        c = buf[idx[i]];
        if (c == ',') break;
        if (c != (object ? '}' : ']')) return false;
      }
      ++i;  // the comma
      first = false;
    }
  }

  static constexpr std::uint32_t kNoBackslash = ~std::uint32_t{0};
  const ShapeFilter filter_;
  const simdjson::internal::dom_parser_implementation& impl_;
  const char* buf_;
  std::uint32_t len_;
  const std::uint32_t* idx_;
  std::uint32_t n_;
  const std::uint32_t* backslash_;  // the next backslash's position; the list ends with ~0
  char* strings_;                   // where the next unescaped string goes
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
  // review needs about 40 KiB), further ones smaller than the 64 KiB whose free makes glibc
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
