// A template's effective resource request R (spec §3): what its pod asks the scheduler for.
#pragma once

#include <optional>
#include <string>

#include "core/json.hpp"
#include "core/policy.hpp"
#include "core/workflow.hpp"

namespace nodealloc {

// Has container, script, containerSet, resource or data: its pod honours its nodeSelector.
bool is_placeable(const TemplateFields& tmpl);

struct TemplateRequest {
  enum class Status { Ok, Unresolvable, Invalid };
  Status status = Status::Ok;
  RequestList request;  // for Ok; its names are views into the template and the policy
  std::string detail;   // for Unresolvable and Invalid: what and where, short
};

// A podSpecPatch as read: what it can do to R.
struct PodSpecPatch {
  enum class Kind { None, Ignored, NotString, ResourcesExpression, Unparsable, Static };
  Kind kind = Kind::None;
  std::optional<json::Document> doc;  // Static: the patch (a Document allocates when made)

  static PodSpecPatch read(const json::Value* patch);
};

// What the workflow spec adds to every template's request: its podSpecPatch, read once per
// object (once per template, a large patch times many templates cost minutes), and its
// podResources. `spec` may be null.
struct WorkflowSpecResources {
  explicit WorkflowSpecResources(const json::Value* spec);
  PodSpecPatch pod_spec_patch;
  const json::Value* pod_resources = nullptr;
};

// `tmpl`: the template's fields (TemplateFields::of).
TemplateRequest template_request(const TemplateFields& tmpl, const WorkflowSpecResources& spec,
                                 const ResourceList& executor_overhead);

}  // namespace nodealloc
