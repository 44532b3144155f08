#include "core/review_reader.hpp"

#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <span>

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
};

ReviewReader::ReviewReader(std::size_t fast_limit)
    : fast_limit_(fast_limit), parser_(std::make_unique<Parser>()) {}
ReviewReader::~ReviewReader() = default;

static_assert(ReviewReader::kPadding >= simdjson::SIMDJSON_PADDING);

std::optional<Document> ReviewReader::read(std::string_view text, bool padded) {
  // A byte-order mark, and the rest of what simdjson refuses, is json::parse's to judge.
  if (!text.empty() && static_cast<unsigned char>(text.front()) == 0xEF) return std::nullopt;
  if (text.size() > fast_limit_) {
    const ShapeFilter filter;
    auto doc = json::parse(text, &filter);
    if (!doc) return std::nullopt;  // the full parse gives the error
    return std::move(doc.value());
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

}  // namespace nodealloc::json
