// Walking an Argo object: where its templates are, their names, and who calls whom (spec §1, §5).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/small_vector.hpp"

namespace nodealloc {

enum class ArgoKind { Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow };
std::optional<ArgoKind> argo_kind(std::string_view kind);

// The members of a template that placement reads, found in one pass over it (of duplicate
// keys the last, as json::member finds). All null for a template that is not an object.
struct TemplateFields {
  const json::Value* name = nullptr;
  const json::Value* metadata = nullptr;
  const json::Value* container = nullptr;
  const json::Value* script = nullptr;
  const json::Value* container_set = nullptr;
  const json::Value* sidecars = nullptr;
  const json::Value* init_containers = nullptr;
  const json::Value* resource = nullptr;
  const json::Value* data = nullptr;
  const json::Value* steps = nullptr;
  const json::Value* dag = nullptr;
  const json::Value* suspend = nullptr;  // read only to count template types
  const json::Value* http = nullptr;
  const json::Value* plugin = nullptr;
  const json::Value* node_selector = nullptr;
  const json::Value* affinity = nullptr;
  const json::Value* tolerations = nullptr;
  const json::Value* pod_spec_patch = nullptr;
  const json::Value* pod_resources = nullptr;

  static TemplateFields of(const json::Value& tmpl);
};

// Where a template is, after WorkflowView::templates_path: a top-level one at "/<i>", an inline
// one under its caller's (its only caller) at "/steps/<i>/<j>/inline" or "/dag/tasks/<i>/inline".
// Numbers, not text: a pointer is written only for the templates a patch changes.
struct TemplatePlace {
  enum class In { Templates, Steps, DagTasks };
  In in = In::Templates;
  std::size_t i = 0;
  std::size_t j = 0;  // Steps: the step in group i
};

// callers' small_vector may allocate (and throw bad_alloc) when moved; nothing relies on moving
// a TemplateNode not throwing.
struct TemplateNode {  // NOLINT(bugprone-exception-escape)
  // Built in place by the walk. Value-initialized (emplace_back()) it was zero-filled first, a
  // `rep stos` of its 250 bytes per template (docs/benchmarks.md, item 50).
  TemplateNode(const json::Value& v, const TemplateFields& f, const TemplatePlace& p, std::string n)
      : value(&v), fields(f), place(p), name(std::move(n)) {}

  const json::Value* value = nullptr;  // the template object
  TemplateFields fields;               // of value
  TemplatePlace place;
  std::string name;  // inline: "<caller>/<step or task>"
  // Indices of the steps/dag templates that call it: most templates have one or none.
  boost::container::small_vector<std::size_t, 2> callers;
};

struct WorkflowView {
  const json::Value* spec = nullptr;    // the workflow spec: /spec, or /spec/workflowSpec
  std::string_view templates_path;      // "/spec/templates" or "/spec/workflowSpec/templates"
  std::vector<TemplateNode> templates;  // document order; an inline one right after its caller

  // Appends the JSON Pointer of `node` (one of templates): "/spec/templates/3/steps/0/1/inline".
  void append_pointer(const TemplateNode& node, std::string& out) const;
};

// The object's templates. Empty when it has none (e.g. a workflowTemplateRef Workflow).
WorkflowView walk(const json::Value& object, ArgoKind kind);

// The annotation value on metadata (or on a template's metadata), or nullptr.
const json::Value* annotation(const json::Value& object, std::string_view key);
bool is_opted_out(const json::Value& object);   // node-allocator.io/skip: "true"
bool is_opted_out(const TemplateFields& tmpl);  // the same, from its known metadata

inline constexpr std::string_view kSkipAnnotation = "node-allocator.io/skip";
inline constexpr std::string_view kPlacementAnnotation = "node-allocator.io/placement";

}  // namespace nodealloc
