#include "core/template_request.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/small_vector.hpp"
#include "core/yaml_json.hpp"

namespace nodealloc {
namespace {

using json::Value;
// Small inline vectors: a container names a handful of resources, a template a handful of
// containers, and a review has hundreds of templates (no heap allocation for them).
using Entries = boost::container::small_vector<std::pair<std::string_view, const Value*>, 4>;
using Amounts = RequestList::sequence_type;

// small_vector's move may allocate (and throw bad_alloc, as any allocation here may); nothing
// relies on moving a Container not throwing.
struct Container {  // NOLINT(bugprone-exception-escape)
  std::string_view name;
  bool init = false;
  Entries requests;
  Entries limits;
};
using Containers = boost::container::small_vector<Container, 4>;

// A member present and not null: what both roads, and is_placeable, count as given.
bool given(const Value* v) {
  return v != nullptr && !v->IsNull();
}

bool has_expression(std::string_view s) {
  return s.find("{{") != std::string_view::npos;
}

std::string shorten(std::string_view s) {
  constexpr std::size_t kMax = 48;
  if (s.size() <= kMax) return std::string(s);
  std::size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return std::string(s.substr(0, cut)) + "...";
}

// Where a value is, for messages: pieces joined only when a message is written, so the
// common path (nothing wrong) allocates nothing for it. with() links to its parent, which
// outlives it (a temporary passed down the calls).
class Where {
 public:
  Where(std::string_view a, std::string_view b = {}, std::string_view c = {}) : parts_{a, b, c} {}
  Where with(std::string_view a, std::string_view b = {}) const { return Where(this, a, b); }
  std::string str() const {
    std::string s = parent_ != nullptr ? parent_->str() : std::string();
    for (std::string_view part : parts_) s += part;
    return s;
  }

 private:
  Where(const Where* parent, std::string_view a, std::string_view b)
      : parent_(parent), parts_{a, b, {}} {}
  const Where* parent_ = nullptr;
  std::array<std::string_view, 3> parts_;
};

// The first reason of each kind; unresolvable wins over invalid (spec §9).
struct Problems {
  std::string unresolvable;
  std::string invalid;
  void unresolved(std::string detail) {
    if (unresolvable.empty()) unresolvable = std::move(detail);
  }
  void bad(std::string detail) {
    if (invalid.empty()) invalid = std::move(detail);
  }
  // A value that should have been a map or list: a "{{...}}" string is unresolvable.
  void not_a(const Value& v, std::string_view what, const Where& where) {
    if (json::is_string(v) && has_expression(json::str(v))) {
      unresolved(where.str() + " is \"" + shorten(json::str(v)) + "\"");
    } else {
      bad(where.str() + " is not " + std::string(what));
    }
  }
};

// Appends {key, value} member by member. emplace_back(key, value) binds references to the
// caller's key, which GCC 12 then keeps on the stack (two 8-byte stores) and copies into the
// pair with one 16-byte load: a store-forwarding stall per append (perf: half of the common
// road's read_map, and most of its RequestList's making; docs/benchmarks.md, item 50).
template <class Pairs, class V>
void append(Pairs& pairs, std::string_view key, V value) {
  auto& added = pairs.emplace_back();
  added.first = key;
  added.second = std::move(value);
}

// Of duplicate keys the last value, where the first was (json::member's choice). Both roads'
// maps: Entries, and the common road's nano-units.
template <class Map, class V>
void set(Map& entries, std::string_view key, V value) {
  for (auto& e : entries) {
    if (e.first == key) {
      e.second = value;
      return;
    }
  }
  append(entries, key, value);
}

void erase(Entries& entries, std::string_view key) {
  entries.erase(
      std::remove_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == key; }),
      entries.end());
}

Where container_where(const Container& c) {
  return {c.init ? "initContainer \"" : "container \"", c.name, "\""};
}

// Reads a requests or limits map. An absent or null map is empty.
void read_entries(const Value* map, Entries& out, Problems& problems, const Where& where) {
  if (map == nullptr || map->IsNull()) return;
  if (!map->IsObject()) {
    problems.not_a(*map, "a map", where);
    return;
  }
  for (const auto& m : map->GetObject()) set(out, json::str(m.name), &m.value);
}

void read_resources(const Value* resources, Container& c, Problems& problems, const Where& where) {
  if (resources == nullptr || resources->IsNull()) return;
  if (!resources->IsObject()) {
    problems.not_a(*resources, "a map", where.with(" resources"));
    return;
  }
  read_entries(json::member(*resources, "requests"), c.requests, problems,
               where.with(" resources.requests"));
  read_entries(json::member(*resources, "limits"), c.limits, problems,
               where.with(" resources.limits"));
}

std::string_view name_of(const Value& c) {
  const Value* n = json::member(c, "name");
  return n != nullptr && json::is_string(*n) ? json::str(*n) : std::string_view();
}

void add_containers(const Value* list, bool init, std::string_view field, Containers& out,
                    Problems& problems) {
  if (list == nullptr || list->IsNull()) return;
  if (!list->IsArray()) {
    problems.not_a(*list, "a list", Where(field));
    return;
  }
  for (const auto& c : list->GetArray()) {
    if (!c.IsObject()) {
      problems.bad(std::string(field) + " has an entry that is not an object");
      continue;
    }
    Container& added = out.emplace_back();
    added.name = name_of(c);
    added.init = init;
    read_resources(json::member(c, "resources"), added, problems, container_where(added));
  }
}

Containers containers_of(const TemplateFields& tmpl, Problems& problems) {
  Containers out;
  const std::pair<std::string_view, const Value*> mains[] = {{"container", tmpl.container},
                                                             {"script", tmpl.script}};
  for (const auto& [field, main] : mains) {
    if (main == nullptr || main->IsNull()) continue;
    if (!main->IsObject()) {
      problems.not_a(*main, "an object", Where(field));
      break;
    }
    out.emplace_back().name = "main";
    read_resources(json::member(*main, "resources"), out.back(), problems,
                   Where("container \"main\""));
    break;
  }
  if (const Value* set = tmpl.container_set; set != nullptr && !set->IsNull()) {
    if (!set->IsObject()) {
      problems.not_a(*set, "an object", Where("containerSet"));
    } else {
      add_containers(json::member(*set, "containers"), false, "containerSet.containers", out,
                     problems);
    }
  }
  add_containers(tmpl.sidecars, false, "sidecars", out, problems);
  add_containers(tmpl.init_containers, true, "initContainers", out, problems);
  return out;
}

// A static podSpecPatch, JSON or YAML; nullopt when it is neither.
std::optional<json::Document> parse_pod_spec_patch(std::string_view text) {
  if (auto doc = json::parse(text)) return std::move(doc.value());
  auto docs = yaml::load_all(text);
  if (!docs || docs->size() != 1) return std::nullopt;
  return std::move(docs.value().front());
}

// Strategic-merge semantics for what R depends on: containers are matched by name, resource
// maps merged per key, and null deletes.
void apply_patch(const Value& patch, Containers& containers, Problems& problems) {
  if (!patch.IsObject()) {
    problems.bad("podSpecPatch is not an object");
    return;
  }
  for (const bool init : {false, true}) {
    const Value* list = json::member(patch, init ? "initContainers" : "containers");
    if (list == nullptr || list->IsNull()) continue;
    if (!list->IsArray()) {
      problems.bad("podSpecPatch: " + std::string(init ? "initContainers" : "containers") +
                   " is not a list");
      continue;
    }
    for (const auto& entry : list->GetArray()) {
      const std::string_view name = entry.IsObject() ? name_of(entry) : std::string_view();
      auto target = std::find_if(containers.begin(), containers.end(), [&](const Container& c) {
        return c.init == init && !name.empty() && c.name == name;
      });
      if (target == containers.end()) continue;  // not a container of this template
      const Value* resources = json::member(entry, "resources");
      if (resources == nullptr) continue;
      if (resources->IsNull()) {
        target->requests.clear();
        target->limits.clear();
        continue;
      }
      if (!resources->IsObject()) {
        problems.bad("podSpecPatch: resources of \"" + std::string(name) + "\" is not a map");
        continue;
      }
      for (const bool limits : {false, true}) {
        const Value* map = json::member(*resources, limits ? "limits" : "requests");
        Entries& entries = limits ? target->limits : target->requests;
        if (map == nullptr) continue;
        if (map->IsNull()) {
          entries.clear();
        } else if (!map->IsObject()) {
          problems.bad("podSpecPatch: resources of \"" + std::string(name) + "\" is not a map");
        } else {
          for (const auto& m : map->GetObject()) {
            if (m.value.IsNull()) {
              erase(entries, json::str(m.name));
            } else {
              set(entries, json::str(m.name), &m.value);
            }
          }
        }
      }
    }
  }
}

// `where` + `field` + `key` name the value, joined only for a message.
std::optional<Quantity> read_quantity(const Value& v, Problems& problems, const Where& base,
                                      std::string_view field, std::string_view key) {
  const auto where = [&] { return base.with(field, key); };
  std::string_view text;
  if (json::is_number(v)) {
    text = json::number_text(v);
  } else if (json::is_string(v)) {
    text = json::str(v);
  } else {
    problems.bad(where().str() + " is not a quantity");
    return std::nullopt;
  }
  // Parsed first: no quantity holds "{{", so the expression test is left to the failures.
  auto q = parse_quantity(text);
  if (!q) {
    if (has_expression(text)) {  // a number's text has no braces
      problems.unresolved(where().str() + " is \"" + shorten(text) + "\"");
    } else {
      problems.bad(where().str() + ": \"" + shorten(text) + "\" is not a quantity");
    }
  } else if (q->is_negative()) {
    problems.bad(where().str() + ": \"" + shorten(text) + "\" is negative");
    q.reset();
  }
  return q;
}

// requests[r] if present, else limits[r] (Kubernetes defaults requests to limits).
Amounts effective(const Entries& requests, const Entries& limits, Problems& problems,
                  const Where& where) {
  Amounts out;
  for (const auto& [key, value] : requests) {  // keys are unique (set() above)
    if (auto q = read_quantity(*value, problems, where, " requests.", key)) {
      out.emplace_back(key, std::move(*q));
    }
  }
  for (const auto& [key, value] : limits) {
    // Read even when requests has it: every value must parse (spec §9).
    auto q = read_quantity(*value, problems, where, " limits.", key);
    bool requested = false;
    for (const auto& amount : out) requested = requested || amount.first == key;
    if (q && !requested) out.emplace_back(key, std::move(*q));
  }
  return out;
}

// Sums are kept by name as views (into the document, the podSpecPatches and the policy), in no
// order, and made a RequestList once at the end: a template names a handful of resources.
Quantity* find(Amounts& list, std::string_view name) {
  for (auto& [key, q] : list) {
    if (key == name) return &q;
  }
  return nullptr;
}

void add_into(Amounts& sum, const Amounts& more) {
  for (const auto& [name, q] : more) {
    if (Quantity* have = find(sum, name)) {
      *have += q;
    } else {
      sum.emplace_back(name, q);
    }
  }
}

void max_into(Amounts& max, const Amounts& more) {
  for (const auto& [name, q] : more) {
    if (Quantity* have = find(max, name)) {
      if (*have < q) *have = q;
    } else {
      max.emplace_back(name, q);
    }
  }
}

RequestList to_list(Amounts&& amounts) {
  std::sort(amounts.begin(), amounts.end(),
            [](const auto& a, const auto& b) { return NameLess{}(a.first, b.first); });
  RequestList list;
  list.adopt_sequence(boost::container::ordered_unique_range, std::move(amounts));
  return list;
}

// Argo refuses a template with more than one type ("multiple template types specified"); it
// would be placed and, with steps or dag, also a caller whose placement changes what its callees
// inherit, so a second pass would place them differently.
using TemplateTypes = std::array<std::pair<const Value*, std::string_view>, 10>;
TemplateTypes template_types(const TemplateFields& tmpl) {
  return {{{tmpl.container, "container"},
           {tmpl.container_set, "containerSet"},
           {tmpl.steps, "steps"},
           {tmpl.script, "script"},
           {tmpl.resource, "resource"},
           {tmpl.dag, "dag"},
           {tmpl.suspend, "suspend"},
           {tmpl.data, "data"},
           {tmpl.http, "http"},
           {tmpl.plugin, "plugin"}}};
}
bool has_several_types(const TemplateTypes& types) {
  return std::count_if(types.begin(), types.end(), [](const auto& t) { return given(t.first); }) >
         1;
}

void check_single_type(const TemplateFields& tmpl, Problems& problems) {
  const TemplateTypes types = template_types(tmpl);
  if (!has_several_types(types)) return;
  std::string names;
  for (const auto& [value, name] : types) {
    if (!given(value)) continue;
    names += names.empty() ? "" : ", ";
    names += name;
  }
  problems.bad("multiple template types (" + names + ")");
}

// The common template's R without the general road's bookkeeping: no podSpecPatch and no
// podResources anywhere, one template type, every container an object and every resource map
// an object or null, every quantity valid. Anything else is nullopt, and template_request takes
// the general road, which gives the same R for what this accepts and the problems' first
// reasons for the rest (spec §9's order lives there alone). Half of a review's time is
// placement, and this was most of template_request's (docs/benchmarks.md, item 48).
class CommonRequest {
 public:
  static std::optional<RequestList> of(const TemplateFields& tmpl,
                                       const WorkflowSpecResources& spec,
                                       const ResourceList& executor_overhead) {
    using Kind = PodSpecPatch::Kind;
    if (given(tmpl.pod_spec_patch) || given(tmpl.pod_resources) || given(spec.pod_resources) ||
        (spec.pod_spec_patch.kind != Kind::None && spec.pod_spec_patch.kind != Kind::Ignored)) {
      return std::nullopt;
    }
    if (has_several_types(template_types(tmpl))) return std::nullopt;

    CommonRequest r;
    for (const auto& [name, q] : executor_overhead) {
      const auto nanos = q.small_nanos();
      if (!nanos || !r.sum_.add(name, *nanos, false)) return std::nullopt;
    }
    const Value* main = given(tmpl.container) ? tmpl.container : tmpl.script;
    if (given(main) && !r.container(*main, false)) return std::nullopt;
    if (const Value* set = tmpl.container_set; given(set)) {
      if (!set->IsObject() || !r.containers(json::member(*set, "containers"), false)) {
        return std::nullopt;
      }
    }
    if (!r.containers(tmpl.sidecars, false) || !r.containers(tmpl.init_containers, true)) {
      return std::nullopt;
    }
    for (const auto& [name, nanos] : r.init_) {
      if (!r.sum_.add(name, nanos, true)) return std::nullopt;
    }
    Amounts amounts;
    amounts.reserve(r.sum_.size());
    for (const auto& [name, nanos] : r.sum_) append(amounts, name, Quantity::from_nanos(nanos));
    return to_list(std::move(amounts));
  }

 private:
  // Name -> nano-units, kept in 128 bits: a sum that would not fit is the general road's.
  struct Sums : boost::container::small_vector<std::pair<std::string_view, __int128>, 8> {
    // Adds (or, for max, raises to) `nanos` under `name`; false on overflow.
    bool add(std::string_view name, __int128 nanos, bool max) {
      for (auto& [key, have] : *this) {
        if (key != name) continue;
        if (max) {
          have = std::max(have, nanos);
          return true;
        }
        return !__builtin_add_overflow(have, nanos, &have);
      }
      append(*this, name, nanos);
      return true;
    }
  };
  // A container's requests or limits, by set() above.
  using Map = boost::container::small_vector<std::pair<std::string_view, __int128>, 4>;

  static bool read_map(const Value* map, Map& out) {
    if (!given(map)) return true;
    if (!map->IsObject()) return false;
    for (const auto& m : map->GetObject()) {
      const Value& v = m.value;
      if (!v.IsString()) return false;  // numbers are marked strings (json.hpp)
      const auto nanos =
          parse_small_nanos(json::is_number(v) ? json::number_text(v) : json::str(v));
      if (!nanos || *nanos < 0) return false;
      set(out, json::str(m.name), *nanos);
    }
    return true;
  }

  bool container(const Value& c, bool init) {
    if (!c.IsObject()) return false;
    const Value* resources = json::member(c, "resources");
    if (!given(resources)) return true;
    if (!resources->IsObject()) return false;
    Map requests;
    Map limits;
    if (!read_map(json::member(*resources, "requests"), requests) ||
        !read_map(json::member(*resources, "limits"), limits)) {
      return false;
    }
    Sums& into = init ? init_ : sum_;
    for (const auto& [name, nanos] : requests) {
      if (!into.add(name, nanos, init)) return false;
    }
    // requests[r] if present, else limits[r] (effective() above).
    for (const auto& limit : limits) {
      const bool requested = std::any_of(requests.begin(), requests.end(),
                                         [&](const auto& e) { return e.first == limit.first; });
      if (!requested && !into.add(limit.first, limit.second, init)) return false;
    }
    return true;
  }

  bool containers(const Value* list, bool init) {
    if (!given(list)) return true;
    if (!list->IsArray()) return false;
    for (const auto& c : list->GetArray()) {
      if (!container(c, init)) return false;
    }
    return true;
  }

  Sums sum_;   // the regular containers' and the executor's
  Sums init_;  // the init containers' maximum
};

}  // namespace

bool is_placeable(const TemplateFields& tmpl) {
  for (const Value* v :
       {tmpl.container, tmpl.script, tmpl.container_set, tmpl.resource, tmpl.data}) {
    if (given(v)) return true;
  }
  return false;
}

PodSpecPatch PodSpecPatch::read(const json::Value* patch) {
  using enum Kind;
  if (patch == nullptr || patch->IsNull()) return {None, std::nullopt};
  if (!json::is_string(*patch)) return {NotString, std::nullopt};
  const std::string_view text = json::str(*patch);
  if (has_expression(text)) {
    // An expression elsewhere cannot change R.
    return {text.find("resources") != std::string_view::npos ? ResourcesExpression : Ignored,
            std::nullopt};
  }
  auto doc = parse_pod_spec_patch(text);
  if (!doc) return {Unparsable, std::nullopt};
  return {Static, std::move(*doc)};
}

WorkflowSpecResources::WorkflowSpecResources(const json::Value* spec)
    : pod_spec_patch(
          PodSpecPatch::read(spec == nullptr ? nullptr : json::member(*spec, "podSpecPatch"))),
      pod_resources(spec == nullptr ? nullptr : json::member(*spec, "podResources")) {}

namespace {
// Every template's R and problems, the reference for CommonRequest.
TemplateRequest general_request(const TemplateFields& tmpl, const WorkflowSpecResources& spec,
                                const ResourceList& executor_overhead) {
  Problems problems;
  check_single_type(tmpl, problems);
  Containers containers = containers_of(tmpl, problems);

  // Patched entries of `containers` point into the patches: the spec's lives with it, the
  // template's own is returned with R, whose names may point into it.
  PodSpecPatch own_patch = PodSpecPatch::read(tmpl.pod_spec_patch);
  for (const PodSpecPatch* patch : {&spec.pod_spec_patch, &std::as_const(own_patch)}) {
    switch (patch->kind) {
      case PodSpecPatch::Kind::None:
      case PodSpecPatch::Kind::Ignored:
        break;
      case PodSpecPatch::Kind::NotString:
        problems.bad("podSpecPatch is not a string");
        break;
      case PodSpecPatch::Kind::ResourcesExpression:
        problems.unresolved("podSpecPatch sets resources from a {{...}} expression");
        break;
      case PodSpecPatch::Kind::Unparsable:
        problems.bad("podSpecPatch is neither JSON nor YAML");
        break;
      case PodSpecPatch::Kind::Static:
        apply_patch(*patch->doc, containers, problems);
        break;
    }
  }

  // The regular containers' sum with Argo's wait container, and the maximum of the init
  // containers. Argo's init container (executor_overhead too) is left out of that maximum: the
  // sum already holds as much of every resource, quantities being non-negative.
  Amounts request;
  for (const auto& [name, q] : executor_overhead) request.emplace_back(name, q);
  Amounts init;
  for (const auto& c : containers) {
    const Amounts r = effective(c.requests, c.limits, problems, container_where(c));
    if (c.init) {
      max_into(init, r);
    } else {
      add_into(request, r);
    }
  }
  max_into(request, init);

  // Pod-level resources replace the container-derived value for what they name.
  const Value* pod = tmpl.pod_resources;
  Where pod_where("podResources");
  if (pod == nullptr || pod->IsNull()) {
    pod = spec.pod_resources;
    pod_where = Where("spec.podResources");
  }
  if (pod != nullptr && !pod->IsNull()) {
    if (!pod->IsObject()) {
      problems.not_a(*pod, "a map", pod_where);
    } else {
      Entries requests, limits;
      read_entries(json::member(*pod, "requests"), requests, problems, pod_where.with(".requests"));
      read_entries(json::member(*pod, "limits"), limits, problems, pod_where.with(".limits"));
      for (auto& [name, q] : effective(requests, limits, problems, pod_where)) {
        if (Quantity* have = find(request, name)) {
          *have = std::move(q);
        } else {
          request.emplace_back(name, std::move(q));
        }
      }
    }
  }

  if (!problems.unresolvable.empty()) {
    return {TemplateRequest::Status::Unresolvable, {}, std::move(problems.unresolvable), {}};
  }
  if (!problems.invalid.empty()) {
    return {TemplateRequest::Status::Invalid, {}, std::move(problems.invalid), {}};
  }
  return {TemplateRequest::Status::Ok, to_list(std::move(request)), {}, std::move(own_patch)};
}
}  // namespace

TemplateRequest template_request(const TemplateFields& tmpl, const WorkflowSpecResources& spec,
                                 const ResourceList& executor_overhead) {
  if (auto request = CommonRequest::of(tmpl, spec, executor_overhead)) {
    // Not {Ok, request, {}, {}}: for that GCC first zero-fills the whole aggregate (about
    // 600 bytes, a `rep stos` per template).
    TemplateRequest ok;
    ok.request = std::move(*request);
    return ok;
  }
  return general_request(tmpl, spec, executor_overhead);
}

namespace detail {
std::optional<RequestList> common_request_for_test(const TemplateFields& tmpl,
                                                   const WorkflowSpecResources& spec,
                                                   const ResourceList& executor_overhead) {
  return CommonRequest::of(tmpl, spec, executor_overhead);
}
TemplateRequest general_request_for_test(const TemplateFields& tmpl,
                                         const WorkflowSpecResources& spec,
                                         const ResourceList& executor_overhead) {
  return general_request(tmpl, spec, executor_overhead);
}
}  // namespace detail

}  // namespace nodealloc
