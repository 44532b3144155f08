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

// A podSpecPatch as read: what it can do to R.
struct PodSpecPatch {
  enum class Kind { None, Ignored, NotString, ResourcesExpression, Unparsable, Static };
  Kind kind = Kind::None;
  std::optional<json::Document> doc;  // Static: the patch (a Document allocates when made)

  static PodSpecPatch read(const json::Value* patch);
};

// RequestList's small_vector may allocate (and throw bad_alloc) when moved; nothing relies on
// moving a TemplateRequest not throwing.
struct TemplateRequest {  // NOLINT(bugprone-exception-escape)
  enum class Status { Ok, Unresolvable, Invalid };
  Status status = Status::Ok;
  // For Ok. Its names are views into the template, the policy, the workflow spec's podSpecPatch
  // and own_patch below: it is valid while they are.
  RequestList request;
  std::string detail;  // for Unresolvable and Invalid: what and where, short
  // The template's own podSpecPatch as parsed, kept for the names of `request` it holds (a
  // Document's strings stay where they are when it moves).
  PodSpecPatch own_patch;
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

namespace detail {
// The two roads template_request takes, for the tests that hold them to each other: the common
// template's (nullopt for any other) and the general one (every template).
std::optional<RequestList> common_request_for_test(const TemplateFields& tmpl,
                                                   const WorkflowSpecResources& spec,
                                                   const ResourceList& executor_overhead);
TemplateRequest general_request_for_test(const TemplateFields& tmpl,
                                         const WorkflowSpecResources& spec,
                                         const ResourceList& executor_overhead);
}  // namespace detail

}  // namespace nodealloc
