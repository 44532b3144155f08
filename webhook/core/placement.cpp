#include "core/placement.hpp"

#include <boost/container_hash/hash.hpp>
#include <boost/multiprecision/cpp_int.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include "core/template_request.hpp"

namespace nodealloc {
namespace {

using json::Value;
using Rational = boost::multiprecision::cpp_rational;

Rational ratio(const Quantity& a, const Quantity& b) {
  return Rational(a.nanos(), b.nanos());
}

template <class List>  // ResourceList or RequestList
const Quantity& amount(const List& list, std::string_view name) {
  static const Quantity kZero;
  auto it = list.find(name);
  return it == list.end() ? kZero : it->second;
}

// BestFit's waste: sum over the pool's capacity of (capacity - request) / capacity.
Rational waste(const Pool& pool, const RequestList& request) {
  Rational sum = 0;
  for (const auto& [name, cap] : pool.capacity) {
    if (cap.is_zero()) continue;
    sum += 1 - ratio(amount(request, name), cap);
  }
  return sum;
}

// For no-fit messages: the pool covering the largest share of the request.
const Pool* largest_pool(const Policy& policy, const RequestList& request) {
  bool any_accepts = false;
  for (const auto& p : policy.pools) any_accepts = any_accepts || p.accepts(request);
  const Pool* best = nullptr;
  Rational best_cover = -1;
  for (const auto& p : policy.pools) {
    if (any_accepts && !p.accepts(request)) continue;
    Rational cover = 0;
    for (const auto& [name, want] : request) {
      if (want.is_zero()) continue;
      const Quantity& have = amount(p.capacity, name);
      cover += have < want ? ratio(have, want) : Rational(1);
    }
    if (cover > best_cover) {
      best = &p;
      best_cover = cover;
    }
  }
  return best;
}

// `list`: a ResourceList or a RequestList; only its names `only` requests when given.
template <class List>
std::string describe(const List& list, const RequestList* only = nullptr) {
  std::string out;
  for (const auto& [name, q] : list) {
    if (only != nullptr && amount(*only, name).is_zero()) continue;
    if (only == nullptr && q.is_zero()) continue;
    out.append(out.empty() ? "" : ", ").append(name).append("=").append(q.to_string());
  }
  return out.empty() ? "nothing" : out;
}

// Control characters are dropped by kube-apiserver with the whole warning; replace them.
std::string sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = '?';
  }
  return out;
}

std::string truncate_utf8(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s + "...";
}

class Warnings {
 public:
  void add(std::string_view tmpl, std::string_view reason, std::string_view details) {
    std::string w = "node-allocator: template \"" + sanitize(tmpl) + "\": " + std::string(reason) +
                    ": " + sanitize(details);
    all_.push_back(truncate_utf8(std::move(w), kMaxWarningBytes));
  }
  std::vector<std::string> capped() && {
    if (all_.size() > kMaxWarnings) {
      const std::size_t more = all_.size() - (kMaxWarnings - 1);
      all_.resize(kMaxWarnings - 1);
      all_.push_back("node-allocator: " + std::to_string(more) + " more warnings");
    }
    return std::move(all_);
  }

 private:
  std::vector<std::string> all_;
};

const Value* non_empty_array(const Value* v) {
  return v != nullptr && v->IsArray() && !v->Empty() ? v : nullptr;
}

struct Inherited {
  const Value* value = nullptr;  // nullptr: nothing to inherit
  bool conflict = false;
  std::string detail;
};

// Whether two callers' values are equal, each pair compared once per review: many templates
// share their callers, and a caller's map can be large.
class CallerComparisons {
 public:
  bool equal(const Value& a, const Value& b) {
    if (&a == &b) return true;
    const auto [at, added] = known_.try_emplace({&a, &b}, false);
    if (added) at->second = json::equal(a, b);
    return at->second;
  }

 private:
  boost::unordered_flat_map<std::pair<const Value*, const Value*>, bool,
                            boost::hash<std::pair<const Value*, const Value*>>>
      known_;
};

// What a template without its own value gets: its callers' value if all that have one agree,
// else the workflow spec's.
template <class Get>
Inherited inherit(const WorkflowView& view, const TemplateNode& node, std::string_view field,
                  CallerComparisons& comparisons, Get get) {
  Inherited result;
  std::size_t first = 0;
  for (std::size_t caller : node.callers) {
    const Value* v = get(*view.templates[caller].value);
    if (v == nullptr) continue;
    if (result.value == nullptr) {
      result.value = v;
      first = caller;
    } else if (!comparisons.equal(*result.value, *v)) {
      result.conflict = true;
      result.detail = "callers \"" + view.templates[first].name + "\" and \"" +
                      view.templates[caller].name + "\" set different " + std::string(field);
      return result;
    }
  }
  if (result.value == nullptr && view.spec != nullptr) result.value = get(*view.spec);
  return result;
}

std::string json_text(const Value& v) {
  return json::is_string(v) ? "\"" + std::string(json::str(v)) + "\"" : json::write(v);
}

class Planner {
 public:
  Planner(const json::Value& object, ArgoKind kind, const Policy& policy)
      : object_(object), policy_(policy), view_(walk(object, kind)), spec_resources_(view_.spec) {}

  PlacementPlan run() {
    PlacementPlan plan;
    if (is_opted_out(object_)) return plan;
    // The annotation names each template once. Open addressing: no allocation per name.
    boost::unordered_flat_set<std::string_view, boost::hash<std::string_view>> placed_names;
    placed_names.reserve(view_.templates.size());
    std::string no_fit;
    std::size_t no_fit_count = 0;
    plan.templates.reserve(view_.templates.size());
    for (const auto& node : view_.templates) {
      TemplateOutcome outcome{node.name, decide(node, plan.patch), {}};
      if (plan.patch.bytes() > kMaxPatchBytes) return too_large();
      if (outcome.reason == Reason::Placed) {
        outcome.pool = chosen_->name;
        if (placed_names.insert(node.name).second) add_placement(node.name, chosen_->name);
      } else if (outcome.reason == Reason::NoFit) {
        ++no_fit_count;
        no_fit += (no_fit.empty() ? "\"" : "; \"") + sanitize(node.name) + "\" requests " +
                  describe(current_.request);
      }
      plan.templates.push_back(std::move(outcome));
    }
    plan.warnings = std::move(warnings_).capped();
    if (no_fit_count > 0 && policy_.on_no_fit == OnNoFit::Reject && policy_.mode == Mode::Enforce) {
      plan.denied = true;
      plan.denial = "node-allocator: " + std::to_string(no_fit_count) +
                    (no_fit_count == 1 ? " template fits" : " templates fit") +
                    " no node pool: " + no_fit + "; pools: " + pools_text();
      plan.patch = JsonPatch();
      return plan;
    }
    if (!placements_.empty()) annotate(plan.patch);
    if (plan.patch.bytes() > kMaxPatchBytes) return too_large();
    return plan;
  }

  // Nothing placed, the object allowed as it is, and one warning saying why.
  static PlacementPlan too_large() {
    PlacementPlan plan;
    plan.warnings.push_back("node-allocator: the patch would exceed " +
                            std::to_string(kMaxPatchBytes) +
                            " bytes (inherited nodeSelectors or tolerations copied into every "
                            "placed template); nothing placed");
    return plan;
  }

 private:
  Reason decide(const TemplateNode& node, JsonPatch& patch) {
    const TemplateFields& fields = node.fields;
    if (is_opted_out(fields)) return Reason::OptedOut;
    if (!is_placeable(fields)) return Reason::NotPlaceable;

    const Value* own_selector = json::non_empty_object(fields.node_selector);
    const Value* affinity = fields.affinity;
    bool existing = own_selector != nullptr ||
                    (affinity != nullptr && json::object_member(*affinity, "nodeAffinity"));
    for (std::size_t caller : node.callers) {
      existing = existing || json::non_empty_object(view_.templates[caller].fields.node_selector);
    }
    if (existing && policy_.existing_placement == ExistingPlacement::Keep) {
      return Reason::Existing;
    }

    // Kept as a member: run() describes a no-fit request after this returns, and its names
    // may point into the template's parsed podSpecPatch, which it holds.
    current_ = template_request(fields, spec_resources_, policy_.executor_overhead);
    if (current_.status == TemplateRequest::Status::Unresolvable) {
      warnings_.add(node.name, "unresolvable", current_.detail);
      return Reason::Unresolvable;
    }
    if (current_.status == TemplateRequest::Status::Invalid) {
      warnings_.add(node.name, "invalid", current_.detail);
      return Reason::Invalid;
    }
    const RequestList& request = current_.request;
    chosen_ = choose_pool(policy_, request);
    if (chosen_ == nullptr) {
      const Pool* largest = largest_pool(policy_, request);
      warnings_.add(node.name, "no-fit",
                    "requests " + describe(request) + "; largest pool " + largest->name + " has " +
                        describe(largest->capacity, &request));
      return Reason::NoFit;
    }

    // The nodeSelector it would have had, which the pool's keys are laid over.
    Inherited selector;
    const bool merge_own =
        policy_.existing_placement == ExistingPlacement::Merge && own_selector != nullptr;
    if (merge_own) {
      selector.value = own_selector;
    } else {
      selector = inherit(view_, node, "nodeSelectors", comparisons_,
                         [](const Value& v) { return json::object_member(v, "nodeSelector"); });
    }
    if (selector.conflict) {
      warnings_.add(node.name, "conflicting-callers", selector.detail);
      return Reason::ConflictingCallers;
    }
    const bool pool_tolerates = !chosen_->tolerations.Empty();
    Inherited tolerations;
    if (pool_tolerates) {
      tolerations.value = non_empty_array(fields.tolerations);
      if (tolerations.value == nullptr) {
        tolerations = inherit(view_, node, "tolerations", comparisons_, [](const Value& v) {
          return non_empty_array(json::member(v, "tolerations"));
        });
      }
      if (tolerations.conflict) {
        warnings_.add(node.name, "conflicting-callers", tolerations.detail);
        return Reason::ConflictingCallers;
      }
    }

    const bool enforce = policy_.mode == Mode::Enforce;
    if (selector.value == nullptr && fields.node_selector == nullptr) {
      // The common case: the pool's own nodeSelector, added where there was none.
      if (enforce) set_json(patch, node, "nodeSelector", rendered(*chosen_).node_selector);
    } else {
      const Value new_selector = laid_selector(selector.value, *chosen_, node.name);
      if (enforce) {
        set_if_changed(patch, node, fields.node_selector, "nodeSelector", new_selector);
      }
    }
    if (enforce && pool_tolerates) {
      if (tolerations.value == nullptr && fields.tolerations == nullptr) {
        set_json(patch, node, "tolerations", rendered(*chosen_).tolerations);
      } else {
        set_if_changed(patch, node, fields.tolerations, "tolerations",
                       merged_tolerations(tolerations.value, *chosen_));
      }
    }
    return Reason::Placed;
  }

  // `base` (may be null) with the pool's keys laid over it; a key it sets differently is
  // replaced, with a warning for `tmpl`.
  Value laid_selector(const Value* base, const Pool& pool, std::string_view tmpl) {
    Value selector(rapidjson::kObjectType);
    if (base != nullptr) selector.CopyFrom(*base, scratch_);
    for (const auto& [key, value] : pool.node_selector) {
      Value* current = json::member(selector, key);
      if (current == nullptr) {
        selector.AddMember(json::make_string(key, scratch_), json::make_string(value, scratch_),
                           scratch_);
        continue;
      }
      if (!json::is_string(*current) || json::str(*current) != value) {
        warnings_.add(tmpl, "override",
                      "nodeSelector \"" + key + "\": " + json_text(*current) + " replaced by \"" +
                          value + "\" of pool " + pool.name);
        *current = json::make_string(value, scratch_);
      }
    }
    return selector;
  }

  // `base` (may be null) and then each of the pool's tolerations it does not hold yet.
  Value merged_tolerations(const Value* base, const Pool& pool) {
    Value list(rapidjson::kArrayType);
    if (base != nullptr) list.CopyFrom(*base, scratch_);
    for (const auto& toleration : pool.tolerations.GetArray()) {
      bool present = false;
      for (const auto& have : list.GetArray()) {
        present = present || json::equal(have, toleration);
      }
      if (!present) list.PushBack(Value(toleration, scratch_), scratch_);
    }
    return list;
  }

  // A pool's values for a template that has and inherits none, written once per review: the
  // same functions as above, from nothing.
  struct PoolJson {
    std::string node_selector;
    std::string tolerations;
  };
  const PoolJson& rendered(const Pool& pool) {
    const auto index = static_cast<std::size_t>(&pool - policy_.pools.data());
    if (rendered_.size() <= index) rendered_.resize(policy_.pools.size());
    auto& slot = rendered_[index];
    if (!slot) {
      slot.emplace();
      slot->node_selector = json::write(laid_selector(nullptr, pool, {}));
      slot->tolerations = json::write(merged_tolerations(nullptr, pool));
    }
    return *slot;
  }

  // <the node's pointer>/<field>, in a buffer kept from one operation to the next.
  const std::string& pointer(const TemplateNode& node, std::string_view field) {
    pointer_.clear();
    view_.append_pointer(node, pointer_);
    pointer_.push_back('/');
    pointer_.append(field);
    return pointer_;
  }

  void set_json(JsonPatch& patch, const TemplateNode& node, std::string_view field,
                std::string_view value_json) {
    patch.set_json(pointer(node, field), value_json, false);
  }

  // `current`: the template's `field`, or nullptr.
  void set_if_changed(JsonPatch& patch, const TemplateNode& node, const Value* current,
                      std::string_view field, const Value& value) {
    if (current != nullptr && json::equal(*current, value)) return;
    patch.set(pointer(node, field), value, current != nullptr);
  }

  // {"<template>":"<pool>",...}, the annotation's value, is written straight as the JSON string
  // holding it (escaped twice): its quotes are most of its bytes, and writing it as JSON and
  // then escaping that text cost as much as all the nodeSelector operations.
  static void append_escaped_twice(std::string& out, std::string_view s) {
    if (!json::needs_escape(s)) {
      constexpr std::string_view kQuote = R"(\")";
      out.append(kQuote).append(s).append(kQuote);
      return;
    }
    std::string once;
    json::append_string(once, s);
    std::string twice;
    json::append_string(twice, once);
    out.append(twice, 1, twice.size() - 2);  // without the outer quotes
  }
  void add_placement(std::string_view tmpl, std::string_view pool) {
    placements_ += placements_.empty() ? '{' : ',';
    append_escaped_twice(placements_, tmpl);
    placements_ += ':';
    append_escaped_twice(placements_, pool);
  }

  // The placement annotation; an existing one equal as JSON is left alone.
  void annotate(JsonPatch& patch) {
    const std::string text_json = '"' + placements_ + R"(}")";  // a JSON string
    if (const Value* existing = annotation(object_, kPlacementAnnotation);
        existing != nullptr && json::is_string(*existing)) {
      auto parsed = json::parse(json::str(*existing));
      auto text = json::parse(text_json);
      if (parsed && text) {
        auto placements = json::parse(json::str(text.value()));
        if (placements && json::equal(parsed.value(), placements.value())) return;
      }
    }
    const Value* metadata = json::member(object_, "metadata");
    const Value* annotations = metadata ? json::member(*metadata, "annotations") : nullptr;
    if (annotations != nullptr && annotations->IsObject()) {
      patch.set_json("/metadata/annotations/" + escape_pointer_token(kPlacementAnnotation),
                     text_json, json::member(*annotations, kPlacementAnnotation) != nullptr);
      return;
    }
    std::string map = "{";
    json::append_string(map, kPlacementAnnotation);
    map += ':';
    map += text_json;
    map += '}';
    if (metadata != nullptr && metadata->IsObject()) {
      patch.set_json("/metadata/annotations", map, annotations != nullptr);
      return;
    }
    patch.set_json("/metadata", R"({"annotations":)" + map + '}', metadata != nullptr);
  }

  std::string pools_text() const {
    std::string out;
    for (const auto& p : policy_.pools) {
      out += (out.empty() ? "" : "; ") + p.name + " (" + describe(p.capacity) + ")";
    }
    return out;
  }

  // Chunks under the 64 KiB whose free makes glibc consolidate its heap, once per review.
  static constexpr std::size_t kScratchChunk = std::size_t{16} * 1024;

  const json::Value& object_;
  const Policy& policy_;
  WorkflowView view_;
  WorkflowSpecResources spec_resources_;  // after view_: made from its spec
  CallerComparisons comparisons_;
  json::Allocator scratch_{kScratchChunk};         // values built for the patch
  std::vector<std::optional<PoolJson>> rendered_;  // by pool index, when first chosen
  std::string pointer_;
  std::string placements_;  // the annotation's JSON string without its quotes and closing brace
  Warnings warnings_;
  TemplateRequest current_;       // of the template being decided
  const Pool* chosen_ = nullptr;  // for it
};

}  // namespace

std::string_view to_string(Reason reason) {
  switch (reason) {
    case Reason::Placed:
      return "placed";
    case Reason::OptedOut:
      return "opted-out";
    case Reason::NotPlaceable:
      return "not-placeable";
    case Reason::Existing:
      return "existing";
    case Reason::Unresolvable:
      return "unresolvable";
    case Reason::Invalid:
      return "invalid";
    case Reason::NoFit:
      return "no-fit";
    case Reason::ConflictingCallers:
      return "conflicting-callers";
  }
  return "unknown";
}

const Pool* choose_pool(const Policy& policy, const RequestList& request) {
  if (policy.strategy == Strategy::FirstFit) {
    for (const auto& p : policy.pools) {
      if (p.accepts(request) && p.fits(request)) return &p;
    }
    return nullptr;
  }
  const Pool* best = nullptr;
  Rational best_waste;  // BestFit's alone: a cpp_rational is two cpp_ints to make and free
  for (const auto& p : policy.pools) {
    if (!p.accepts(request) || !p.fits(request)) continue;
    Rational w = waste(p, request);
    if (best == nullptr || w < best_waste) {
      best = &p;
      best_waste = std::move(w);
    }
  }
  return best;
}

PlacementPlan plan_placement(const json::Value& object, ArgoKind kind, const Policy& policy) {
  return Planner(object, kind, policy).run();
}

}  // namespace nodealloc
