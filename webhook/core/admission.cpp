#include "core/admission.hpp"

#include "core/base64.hpp"

namespace nodealloc {
namespace {

using json::Value;
using Writer = json::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kGroup = "argoproj.io";
constexpr std::string_view kVersion = "v1alpha1";

std::string_view string_at(const Value* v) {
  return v != nullptr && json::is_string(*v) ? json::str(*v) : std::string_view();
}
std::string_view string_member(const Value& v, std::string_view name) {
  return string_at(json::member(v, name));
}

void write_string(Writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_warnings(Writer& w, const std::vector<std::string>& warnings) {
  w.StartArray();
  for (const auto& warning : warnings) write_string(w, warning);
  w.EndArray();
}

std::string object_name(const Value& object) {
  const Value* metadata = json::member(object, "metadata");
  if (metadata == nullptr) return {};
  std::string_view name = string_member(*metadata, "name");
  if (name.empty()) name = string_member(*metadata, "generateName");
  return std::string(name);
}

bool handled_operation(ArgoKind kind, std::string_view operation) {
  return operation == "CREATE" || (operation == "UPDATE" && kind != ArgoKind::Workflow);
}

// review() once the text is read (pruned or whole: the same fields either way).
Result<Answer> review_document(const Value& root, const Policy& policy) {
  if (!root.IsObject()) return Error{"not an AdmissionReview: expected a JSON object"};
  const std::string_view api_version = string_member(root, "apiVersion");
  if (api_version != "admission.k8s.io/v1" && api_version != "admission.k8s.io/v1beta1") {
    return Error{"not an AdmissionReview: apiVersion must be admission.k8s.io/v1 or v1beta1"};
  }
  if (string_member(root, "kind") != "AdmissionReview") {
    return Error{"not an AdmissionReview: kind must be AdmissionReview"};
  }
  const Value* request = json::member(root, "request");
  if (request == nullptr || !request->IsObject()) {
    return Error{"not an AdmissionReview: request is missing"};
  }
  Answer answer;
  Summary& summary = answer.summary;
  summary.uid = string_member(*request, "uid");
  if (summary.uid.empty()) return Error{"not an AdmissionReview: request.uid is missing"};
  summary.operation = string_member(*request, "operation");
  summary.namespace_name = string_member(*request, "namespace");
  const Value* gvk = json::member(*request, "kind");
  std::optional<ArgoKind> kind;
  if (gvk != nullptr && gvk->IsObject()) {
    summary.kind = string_member(*gvk, "kind");
    if (string_member(*gvk, "group") == kGroup && string_member(*gvk, "version") == kVersion) {
      kind = argo_kind(summary.kind);
    }
  }
  const Value* object = json::member(*request, "object");
  summary.name = string_member(*request, "name");
  if (summary.name.empty() && object != nullptr) summary.name = object_name(*object);
  summary.handled = kind.has_value() && handled_operation(*kind, summary.operation);

  PlacementPlan plan;
  if (summary.handled) {
    if (object == nullptr || !object->IsObject()) {
      return Error{"not an AdmissionReview: request.object is not an object"};
    }
    plan = plan_placement(*object, *kind, policy);
  }
  const std::string patch =
      plan.denied || plan.patch.empty() ? std::string() : std::move(plan.patch).to_json();

  // Written as text, not through a JSON writer: a handful of fixed pieces around four strings
  // and the base64 patch (which needs no escaping).
  std::string& out = answer.body;
  std::size_t size = 512 + base64_length(patch.size()) + plan.denial.size();
  for (const auto& warning : plan.warnings) size += warning.size() + 8;
  out.reserve(size);
  out += R"({"apiVersion":)";
  json::append_string(out, api_version);
  out += R"(,"kind":"AdmissionReview","response":{"uid":)";
  json::append_string(out, summary.uid);
  out += plan.denied ? R"(,"allowed":false)" : R"(,"allowed":true)";
  if (plan.denied) {
    out += R"(,"status":{"status":"Failure","reason":"Forbidden","code":403,"message":)";
    json::append_string(out, plan.denial);
    out += '}';
  } else if (!patch.empty()) {
    out += R"(,"patchType":"JSONPatch","patch":")";
    append_base64(out, patch);
    out += '"';
  }
  if (!plan.warnings.empty()) {
    out += R"(,"warnings":[)";
    for (std::size_t i = 0; i < plan.warnings.size(); ++i) {
      if (i > 0) out += ',';
      json::append_string(out, plan.warnings[i]);
    }
    out += ']';
  }
  out += "}}";

  summary.allowed = !plan.denied;
  summary.patched = !patch.empty();
  summary.templates = std::move(plan.templates);
  summary.warnings = std::move(plan.warnings);
  return answer;
}

}  // namespace

Result<Answer> review(std::string_view request_json, const Policy& policy,
                      json::ReviewReader& reader, bool padded) {
  if (auto pruned = reader.read(request_json, padded)) return review_document(*pruned, policy);
  return review(request_json, policy, ReviewParse::Full);
}

Result<Answer> review(std::string_view request_json, const Policy& policy, ReviewParse parse) {
  if (parse == ReviewParse::Fast) {
    json::ReviewReader reader;
    return review(request_json, policy, reader);
  }
  auto parsed = json::parse(request_json);
  if (!parsed) return parsed.error();
  return review_document(parsed.value(), policy);
}

Result<PlacementPlan> place_object(json::Document& object, const Policy& policy) {
  if (!object.IsObject()) return Error{"expected a JSON object"};
  const std::string_view api_version = string_member(object, "apiVersion");
  const std::string_view kind_name = string_member(object, "kind");
  auto kind = argo_kind(kind_name);
  if (api_version != "argoproj.io/v1alpha1" || !kind) {
    return Error{
        "expected a Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow "
        "of argoproj.io/v1alpha1, not " +
        (kind_name.empty() ? std::string("an object without kind")
                           : std::string(kind_name) + " (" + std::string(api_version) + ")")};
  }
  // The patch is applied here, to what kube-apiserver would have decoded.
  json::drop_shadowed_members(object, object.GetAllocator());
  PlacementPlan plan = plan_placement(object, *kind, policy);
  if (!plan.denied) {
    if (auto error = plan.patch.apply_to(object)) return *error;
  }
  return plan;
}

Result<Answer> place(std::string_view object_json, const Policy& policy) {
  auto parsed = json::parse(object_json);
  if (!parsed) return parsed.error();
  json::Document& object = parsed.value();
  Answer answer;
  Summary& summary = answer.summary;
  summary.operation = "CREATE";
  summary.kind = string_member(object, "kind");
  if (object.IsObject()) summary.name = object_name(object);
  if (const Value* metadata = json::member(object, "metadata")) {
    summary.namespace_name = string_member(*metadata, "namespace");
  }
  auto plan = place_object(object, policy);
  if (!plan) return plan.error();
  summary.handled = true;

  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("allowed");
  w.Bool(!plan->denied);
  if (plan->denied) {
    w.Key("message");
    write_string(w, plan->denial);
  }
  w.Key("object");
  object.Accept(w);
  w.Key("patch");
  const std::string patch = plan->patch.to_json();
  w.RawValue(patch.data(), patch.size(), rapidjson::kArrayType);
  w.Key("warnings");
  write_warnings(w, plan->warnings);
  w.Key("templates");
  w.StartArray();
  for (const auto& t : plan->templates) {
    w.StartObject();
    w.Key("name");
    write_string(w, t.name);
    w.Key("result");
    write_string(w, to_string(t.reason));
    if (t.reason == Reason::Placed) {
      w.Key("pool");
      write_string(w, t.pool);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  summary.allowed = !plan->denied;
  summary.patched = !plan->denied && !plan->patch.empty();
  summary.templates = std::move(plan->templates);
  summary.warnings = std::move(plan->warnings);
  answer.body.assign(buffer.GetString(), buffer.GetSize());
  return answer;
}

}  // namespace nodealloc
