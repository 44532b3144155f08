// The placement policy (spec §4): loaded from YAML, checked field by field, then immutable.
#pragma once

#include <boost/container/flat_map.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.hpp"
#include "core/quantity.hpp"
#include "core/result.hpp"
#include "core/small_vector.hpp"

namespace nodealloc {

// Resource names in std::less<>'s order (bytes as unsigned char), compared in line: names are
// a few bytes, not worth a memcmp call per comparison (sorting requests, fitting them).
struct NameLess {
  using is_transparent = void;
  static int compare(std::string_view a, std::string_view b) {
    const std::size_t n = a.size() < b.size() ? a.size() : b.size();
    for (std::size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) {
        return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]) ? -1 : 1;
      }
    }
    return a.size() == b.size() ? 0 : a.size() < b.size() ? -1 : 1;
  }
  bool operator()(std::string_view a, std::string_view b) const { return compare(a, b) < 0; }
};

// Resource name -> quantity, ordered by name; a missing name means 0. A sorted array held
// inline: a template's request names a handful of resources and hundreds are made per review
// (a std::map allocated a node for each).
using ResourceList =
    boost::container::flat_map<std::string, Quantity, NameLess,
                               boost::container::small_vector<std::pair<std::string, Quantity>, 4>>;
// A template's request as placement computes it: the same, with names as views (into the
// reviewed document, its parsed podSpecPatches and the policy: TemplateRequest keeps what it
// needs). Hundreds are made per review; no name is copied for them.
using RequestList = boost::container::flat_map<
    std::string_view, Quantity, NameLess,
    boost::container::small_vector<std::pair<std::string_view, Quantity>, 8>>;
// Label key -> value, in the order written.
using LabelMap = std::vector<std::pair<std::string, std::string>>;

enum class Mode { Enforce, Audit };
enum class Strategy { FirstFit, BestFit };
enum class ExistingPlacement { Keep, Merge, Replace };
enum class OnNoFit { Skip, Reject };

// ResourceList's small_vector may allocate (and throw bad_alloc) when moved; nothing relies on
// moving a Pool or a Policy not throwing.
struct Pool {  // NOLINT(bugprone-exception-escape)
  std::string name;
  LabelMap node_selector;
  ResourceList capacity;
  std::vector<std::string> dedicated_to;
  json::Document tolerations;  // a JSON array of Toleration objects, possibly empty

  bool accepts(const RequestList& request) const;  // dedicatedTo
  bool fits(const RequestList& request) const;
};

struct Policy {  // NOLINT(bugprone-exception-escape)
  Mode mode = Mode::Enforce;
  Strategy strategy = Strategy::FirstFit;
  ExistingPlacement existing_placement = ExistingPlacement::Keep;
  OnNoFit on_no_fit = OnNoFit::Skip;
  ResourceList executor_overhead;
  std::vector<Pool> pools;

  // One line for check-policy and the server log: "3 pools (small, highmem, gpu), Enforce, ...".
  std::string summary() const;
};

struct PolicyError {
  int line = 0;       // 1-based; 0 when there is no line (empty file)
  std::string field;  // e.g. "spec.pools[2].capacity.cpu"
  std::string message;
  std::string to_string() const;  // "line 12: spec.pools[2].capacity.cpu: ..."
};
using PolicyErrors = std::vector<PolicyError>;

Result<Policy, PolicyErrors> parse_policy(std::string_view yaml_text);

}  // namespace nodealloc
