// Placement (spec §4–§6): for each template, a pool or a reason, and the patch that says so.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/patch.hpp"
#include "core/policy.hpp"
#include "core/workflow.hpp"

namespace nodealloc {

// Why a template ended as it did; spec §9 gives the order they are checked in.
enum class Reason {
  Placed,
  OptedOut,
  NotPlaceable,
  Existing,
  Unresolvable,
  Invalid,
  NoFit,
  ConflictingCallers,
};
std::string_view to_string(Reason reason);  // "placed", "opted-out", ..., "conflicting-callers"

struct TemplateOutcome {
  std::string name;  // inline ones: "<caller>/<step or task>"
  Reason reason = Reason::Placed;
  std::string pool;  // for Placed
};

inline constexpr std::size_t kMaxWarnings = 20;
inline constexpr std::size_t kMaxWarningBytes = 256;
// kube-apiserver's limit on a request body: an object patched past it could not be stored.
// Inherited maps are copied into every placed template, so a small object can ask for a patch
// of gigabytes; past this size nothing is patched and the object is allowed as it is.
inline constexpr std::size_t kMaxPatchBytes = std::size_t{3} << 20;

struct PlacementPlan {
  bool denied = false;
  std::string denial;                 // for denied: every template that fits no pool, and the pools
  JsonPatch patch;                    // empty when denied or when nothing changes
  std::vector<std::string> warnings;  // at most kMaxWarnings, in document order
  std::vector<TemplateOutcome> templates;
};

// The decisions for an object of a handled kind (the caller checked kind and operation).
PlacementPlan plan_placement(const json::Value& object, ArgoKind kind, const Policy& policy);

// The pool the strategy picks for a request, or nullptr when none accepts and fits it.
const Pool* choose_pool(const Policy& policy, const RequestList& request);

}  // namespace nodealloc
