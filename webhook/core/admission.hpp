// Admission: the pure function from request bytes to answer bytes (spec §6, §7).
// The server's /mutate and /v1/place and the CLI's review and mutate all call these.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/placement.hpp"
#include "core/policy.hpp"
#include "core/result.hpp"
#include "core/review_reader.hpp"

namespace nodealloc {

// What a request was and what was decided: for logs and metrics, never sent to the client.
struct Summary {
  std::string uid;
  std::string kind;       // "Workflow", ... or the other kind's name
  std::string operation;  // "CREATE", ...
  std::string namespace_name;
  std::string name;      // metadata.name, else metadata.generateName
  bool handled = false;  // an Argo kind and operation this webhook mutates
  bool allowed = true;
  bool patched = false;
  std::vector<TemplateOutcome> templates;
  std::vector<std::string> warnings;
};

struct Answer {
  std::string body;  // JSON
  Summary summary;
};

// How review() reads its text. Fast: json::read_review (simdjson, only what placement reads
// is kept), json::parse when that declines. Full: json::parse always. Both give the same answer,
// byte for byte; the tests hold them to it.
enum class ReviewParse { Fast, Full };

// An AdmissionReview (admission.k8s.io/v1 or v1beta1) in, the answering AdmissionReview out.
// Error: the request is not a well-formed AdmissionReview (HTTP 400, CLI exit 2).
Result<Answer> review(std::string_view request_json, const Policy& policy,
                      ReviewParse parse = ReviewParse::Fast);
// The same, fast, with a reader kept from one review to the next (one per thread: the server's).
// padded: json::ReviewReader::kPadding readable bytes follow the text (see ReviewReader::read).
Result<Answer> review(std::string_view request_json, const Policy& policy,
                      json::ReviewReader& reader, bool padded = false);

// A plain Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow (JSON) in, as if
// CREATEd; out: {"allowed":…, "object": <placed>, "patch": […], "warnings": […],
// "templates": [{"name", "result", "pool"?}…], "message"?: <denial>}. The same decisions
// as review().
Result<Answer> place(std::string_view object_json, const Policy& policy);

// The object placed in place (unless denied), as if CREATEd: what place() and `mutate` share.
// Error: not an argoproj.io/v1alpha1 kind this webhook handles.
Result<PlacementPlan> place_object(json::Document& object, const Policy& policy);

}  // namespace nodealloc
