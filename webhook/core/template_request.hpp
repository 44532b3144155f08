// A template's effective resource request R (spec §3): what its pod asks the scheduler for.
#pragma once

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
  ResourceList request;  // for Ok
  std::string detail;    // for Unresolvable and Invalid: what and where, short
};

// `spec` is the workflow spec (may be null): its podSpecPatch and podResources apply too.
// `tmpl`: the template's fields (TemplateFields::of).
TemplateRequest template_request(const TemplateFields& tmpl, const json::Value* spec,
                                 const ResourceList& executor_overhead);

}  // namespace nodealloc
