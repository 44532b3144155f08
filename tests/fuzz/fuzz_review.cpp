// review() — the whole admission path, bytes in, answer out — on two kinds of input:
//  - the fuzz input itself as an AdmissionReview (raw bytes, one policy picked by the input);
//  - the fuzz input as a Workflow (or other Argo kind) object in JSON or YAML, wrapped into an
//    AdmissionReview CREATE and reviewed under the example policy and each variant of it
//    (BestFit, Merge, Replace, Audit, Reject, and all of those at once).
// Properties of every successful answer (spec §6):
//  - valid JSON: apiVersion and response.uid echoed, kind AdmissionReview, allowed a bool,
//    patchType "JSONPatch" present iff patch; a denial has status.code 403 and no patch;
//  - the base64 patch decodes to a JSON array of add/replace ops that apply to request.object
//    with RFC 6902 semantics ("add": the parent exists; "replace": the target exists), and no
//    op leaves its target as it was;
//  - reviewing the patched object again gives no patch and is allowed (idempotency);
//  - at most 20 warnings, each at most 256 bytes, no control characters;
//  - place_object() on the same object makes the same decision and the same object.
#include <openssl/evp.h>
#include <rapidjson/pointer.h>

#include <string>
#include <vector>

#include "core/admission.hpp"
#include "core/json.hpp"
#include "core/policy.hpp"
#include "core/yaml_json.hpp"
#include "example_policy.hpp"
#include "fuzz_support.hpp"

using namespace nodealloc;
using json::Document;
using json::Value;

namespace {

struct Variant {
  const char* name;
  Policy policy;
};

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  if (at == std::string::npos) {
    std::fprintf(stderr, "example policy has no \"%.*s\"\n", static_cast<int>(from.size()),
                 from.data());
    std::abort();
  }
  return text.replace(at, from.size(), to);
}

std::vector<Variant> make_variants() {
  const std::string base(fuzz::kExamplePolicy);
  const std::vector<std::pair<const char*, std::string>> texts = {
      {"example", base},
      {"BestFit", replaced(base, "strategy: FirstFit", "strategy: BestFit")},
      {"Merge", replaced(base, "existingPlacement: Keep", "existingPlacement: Merge")},
      {"Replace", replaced(base, "existingPlacement: Keep", "existingPlacement: Replace")},
      {"Audit", replaced(base, "mode: Enforce", "mode: Audit")},
      {"Reject", replaced(base, "onNoFit: Skip", "onNoFit: Reject")},
      {"all", replaced(replaced(replaced(replaced(base, "strategy: FirstFit", "strategy: BestFit"),
                                         "existingPlacement: Keep", "existingPlacement: Replace"),
                                "onNoFit: Skip", "onNoFit: Reject"),
                       "mode: Enforce", "mode: Audit")},
  };
  std::vector<Variant> out;
  for (const auto& [name, text] : texts) {
    auto p = parse_policy(text);
    if (!p) {
      std::fprintf(stderr, "policy variant %s does not load: %s\n", name,
                   p.error().front().to_string().c_str());
      std::abort();
    }
    out.push_back({name, std::move(p.value())});
  }
  return out;
}

const std::vector<Variant>& variants() {
  static const std::vector<Variant> v = make_variants();
  return v;
}

std::string_view string_member(const Value& v, std::string_view name) {
  const Value* m = json::member(v, name);
  return m != nullptr && json::is_string(*m) ? json::str(*m) : std::string_view();
}

bool base64_decode(std::string_view in, std::string& out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  out.assign(in.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return false;
  std::size_t size = static_cast<std::size_t>(n);
  if (in.ends_with("==")) {
    size -= 2;
  } else if (in.ends_with('=')) {
    size -= 1;
  }
  out.resize(size);
  return true;
}

// Applies one RFC 6902 add/replace to target; an empty string when it applied, else why not.
std::string apply_op(Document& target, std::string_view op, std::string_view path,
                     const Value& value) {
  auto& alloc = target.GetAllocator();
  rapidjson::Pointer pointer(path.data(), path.size());
  if (!pointer.IsValid()) return "invalid pointer";
  const std::size_t n = pointer.GetTokenCount();
  if (n == 0) return "the op targets the whole object";
  const rapidjson::Pointer parent_pointer(pointer.GetTokens(), n - 1);
  Value* parent = parent_pointer.Get(target);
  if (parent == nullptr) return "the parent does not exist";
  const auto& last = pointer.GetTokens()[n - 1];
  if (parent->IsObject()) {
    Value* existing = json::member(*parent, std::string_view(last.name, last.length));
    if (existing == nullptr) {
      if (op == "replace") return "replace: the target does not exist";
      parent->AddMember(Value(last.name, last.length, alloc), Value(value, alloc), alloc);
      return {};
    }
    if (*existing == value) return "the op changes nothing";
    existing->CopyFrom(value, alloc);
    return {};
  }
  if (parent->IsArray()) {
    const rapidjson::SizeType size = parent->Size();
    const bool append = last.length == 1 && last.name[0] == '-';
    if (op == "replace") {
      if (append || last.index >= size) return "replace: no such element";
      if ((*parent)[last.index] == value) return "the op changes nothing";
      (*parent)[last.index].CopyFrom(value, alloc);
      return {};
    }
    const rapidjson::SizeType at = append ? size : last.index;
    if (at > size) return "add: index past the end";
    parent->PushBack(Value(value, alloc), alloc);
    for (rapidjson::SizeType i = parent->Size() - 1; i > at; --i) {
      (*parent)[i].Swap((*parent)[i - 1]);
    }
    return {};
  }
  return "the parent is neither an object nor an array";
}

std::string review_text(const Value& request_root) {
  return json::write(request_root);
}

// Checks one answer; returns the patch JSON text (empty when none). `request` is the review
// that was sent, parsed; `object` the request's object.
std::string check_answer(const std::string& sent, const Document& request_root,
                         const Answer& answer, Document* patched_object) {
  const std::string& body = answer.body;
  auto parsed = json::parse(body);
  FUZZ_CHECK(parsed.ok(), "the answer is not valid JSON: " + body, sent);
  const Document& doc = parsed.value();
  FUZZ_CHECK(doc.IsObject(), "the answer is not an object: " + body, sent);
  FUZZ_CHECK(string_member(doc, "apiVersion") == string_member(request_root, "apiVersion"),
             "apiVersion not echoed: " + body, sent);
  FUZZ_CHECK(string_member(doc, "kind") == "AdmissionReview", "kind: " + body, sent);
  const Value* response = json::member(doc, "response");
  FUZZ_CHECK(response != nullptr && response->IsObject(), "no response: " + body, sent);
  const Value* request = json::member(request_root, "request");
  FUZZ_CHECK(request != nullptr && request->IsObject(), "answered without a request", sent);
  FUZZ_CHECK(string_member(*response, "uid") == string_member(*request, "uid") &&
                 !string_member(*response, "uid").empty(),
             "uid not echoed: " + body, sent);
  const Value* allowed = json::member(*response, "allowed");
  FUZZ_CHECK(allowed != nullptr && allowed->IsBool(), "allowed is not a bool: " + body, sent);
  FUZZ_CHECK(allowed->GetBool() == answer.summary.allowed, "summary.allowed differs", sent);
  const Value* patch_type = json::member(*response, "patchType");
  const Value* patch = json::member(*response, "patch");
  FUZZ_CHECK((patch_type != nullptr) == (patch != nullptr), "patchType iff patch: " + body, sent);
  FUZZ_CHECK(answer.summary.patched == (patch != nullptr), "summary.patched differs", sent);

  if (!allowed->GetBool()) {
    FUZZ_CHECK(patch == nullptr, "a denial with a patch: " + body, sent);
    const Value* status = json::member(*response, "status");
    FUZZ_CHECK(status != nullptr && status->IsObject(), "a denial without status: " + body, sent);
    const Value* code = json::member(*status, "code");
    FUZZ_CHECK(code != nullptr && json::is_number(*code) && json::number_text(*code) == "403",
               "a denial not 403: " + body, sent);
    FUZZ_CHECK(!string_member(*status, "message").empty(), "a denial without message", sent);
  }

  if (const Value* warnings = json::member(*response, "warnings")) {
    FUZZ_CHECK(warnings->IsArray(), "warnings not an array: " + body, sent);
    FUZZ_CHECK(warnings->Size() > 0, "an empty warnings array: " + body, sent);
    FUZZ_CHECK(warnings->Size() <= 20, "more than 20 warnings: " + body, sent);
    for (const auto& w : warnings->GetArray()) {
      FUZZ_CHECK(json::is_string(w), "a warning is not a string: " + body, sent);
      const std::string_view text = json::str(w);
      FUZZ_CHECK(text.size() <= 256, "a warning longer than 256 bytes: " + std::string(text), sent);
      for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        FUZZ_CHECK(u >= 0x20 && u != 0x7F, "a control character in a warning: " + std::string(text),
                   sent);
      }
      FUZZ_CHECK(text.starts_with("node-allocator: "), "warning form: " + std::string(text), sent);
    }
  }

  if (patch == nullptr) return {};
  FUZZ_CHECK(json::is_string(*patch_type) && json::str(*patch_type) == "JSONPatch",
             "patchType: " + body, sent);
  FUZZ_CHECK(json::is_string(*patch), "patch is not a string: " + body, sent);
  std::string patch_json;
  FUZZ_CHECK(base64_decode(json::str(*patch), patch_json), "patch is not base64: " + body, sent);
  auto ops = json::parse(patch_json);
  FUZZ_CHECK(ops.ok(), "the patch is not JSON: " + patch_json, sent);
  FUZZ_CHECK(ops->IsArray() && ops->Size() > 0, "the patch is not a non-empty array: " + patch_json,
             sent);

  const Value* object = json::member(*request, "object");
  FUZZ_CHECK(object != nullptr && object->IsObject(), "a patch for no object", sent);
  patched_object->SetNull();
  patched_object->CopyFrom(*object, patched_object->GetAllocator());
  // kube-apiserver applies the patch to what Go decoded: of duplicate keys, the last.
  json::drop_shadowed_members(*patched_object, patched_object->GetAllocator());
  for (const auto& op : ops->GetArray()) {
    FUZZ_CHECK(op.IsObject() && op.MemberCount() == 3, "op shape: " + patch_json, sent);
    const std::string_view name = string_member(op, "op");
    FUZZ_CHECK(name == "add" || name == "replace", "op " + std::string(name), sent);
    const Value* path = json::member(op, "path");
    const Value* value = json::member(op, "value");
    FUZZ_CHECK(path != nullptr && json::is_string(*path) && value != nullptr,
               "op without path or value: " + patch_json, sent);
    const std::string why = apply_op(*patched_object, name, json::str(*path), *value);
    FUZZ_CHECK(why.empty(),
               "op " + std::string(name) + " " + std::string(json::str(*path)) + ": " + why +
                   "\n  patch: " + patch_json,
               sent);
  }
  return patch_json;
}

// Reviews `sent` (whose parse is `request_root`) under `policy` and checks the answer; when it
// carries a patch, reviews the patched object again (second = true) and wants no patch.
void check_review(const std::string& sent, const Document& request_root, const Policy& policy,
                  bool second) {
  auto answer = review(sent, policy);
  // The fast read (simdjson's stage 1 scanned, pruned), its DOM road and the full parse answer
  // alike, byte for byte.
  // So does the pruned read through json::parse (what texts beyond ReviewReader::kFastLimit get).
  const auto full = review(sent, policy, ReviewParse::Full);
  const auto same_as_full = [&](const Result<Answer>& pruned, const std::string& which) {
    FUZZ_CHECK(pruned.ok() == full.ok(), which + " and the full read disagree on acceptance", sent);
    if (pruned.ok()) {
      FUZZ_CHECK(pruned->body == full->body,
                 which + " and the full read answer differently:\n  " + pruned->body +
                     "\n  full: " + full->body,
                 sent);
    } else {
      FUZZ_CHECK(pruned.error().message == full.error().message,
                 which + ": " + pruned.error().message + " / " + full.error().message, sent);
    }
  };
  same_as_full(answer, "the simdjson read");
  json::ReviewReader tape(json::ReviewReader::kFastLimit, json::ReviewReader::Stage2::kTape);
  same_as_full(review(sent, policy, tape), "the simdjson DOM read");
  json::ReviewReader rapidjson_pruned(0);
  same_as_full(review(sent, policy, rapidjson_pruned), "the pruned RapidJSON read");
  if (!answer) {
    FUZZ_CHECK(!second, "the second pass is refused: " + answer.error().message, sent);
    FUZZ_CHECK(!answer.error().message.empty(), "an error without a message", sent);
    return;
  }
  Document patched;
  const std::string patch_json = check_answer(sent, request_root, answer.value(), &patched);
  if (second) {
    FUZZ_CHECK(patch_json.empty(), "not idempotent: the second pass patches " + patch_json, sent);
    FUZZ_CHECK(answer->summary.allowed, "the second pass is denied: " + answer->body, sent);
    return;
  }

  const Value& request = request_root["request"];
  const Value* object = json::member(request, "object");
  // place_object() (the offline path) decides the same for a CREATE of the object's own kind.
  const Value* gvk = json::member(request, "kind");
  if (answer->summary.handled && string_member(request, "operation") == "CREATE" &&
      object != nullptr && object->IsObject() && gvk != nullptr &&
      string_member(*object, "apiVersion") == "argoproj.io/v1alpha1" &&
      string_member(*object, "kind") == string_member(*gvk, "kind")) {
    Document placed;
    placed.CopyFrom(*object, placed.GetAllocator());
    auto plan = place_object(placed, policy);
    FUZZ_CHECK(plan.ok(), "place_object refuses what review handled", sent);
    FUZZ_CHECK(plan->denied == !answer->summary.allowed, "place_object denies otherwise", sent);
    FUZZ_CHECK(plan->warnings == answer->summary.warnings, "place_object warns otherwise", sent);
    if (!plan->denied) {
      FUZZ_CHECK(plan->patch.empty() == patch_json.empty(), "place_object patches otherwise", sent);
      if (!patch_json.empty()) {
        FUZZ_CHECK(plan->patch.to_json() == patch_json, "place_object's patch differs", sent);
        // As text: rapidjson's == looks members up by name, which duplicate keys confuse.
        FUZZ_CHECK(json::write(placed) == json::write(patched),
                   "place_object's object differs from the RFC 6902 application:\n  " +
                       json::write(placed) + "\n  " + json::write(patched),
                   sent);
      }
    }
  }
  if (patch_json.empty()) return;

  Document again;
  again.CopyFrom(request_root, again.GetAllocator());
  // What kube-apiserver would send next: its own encoding, one of each key (operator[] below
  // would otherwise replace the first "object" where the review read the last).
  json::drop_shadowed_members(again, again.GetAllocator());
  again["request"]["object"].CopyFrom(patched, again.GetAllocator());
  check_review(review_text(again), again, policy, true);
}

bool is_admission_review(const Value& v) {
  return v.IsObject() && string_member(v, "kind") == "AdmissionReview";
}

// An AdmissionReview CREATE (or, for the templates' kinds, sometimes UPDATE) of `object`.
Document wrap(const Value& object, unsigned salt) {
  Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  std::string kind(string_member(object, "kind"));
  if (kind != "Workflow" && kind != "WorkflowTemplate" && kind != "ClusterWorkflowTemplate" &&
      kind != "CronWorkflow") {
    kind = "Workflow";
  }
  const bool update = kind != "Workflow" && (salt & 2U) != 0;
  doc.AddMember("apiVersion",
                json::ref((salt & 1U) != 0 ? "admission.k8s.io/v1beta1" : "admission.k8s.io/v1"),
                a);
  doc.AddMember("kind", "AdmissionReview", a);
  Value request(rapidjson::kObjectType);
  request.AddMember("uid", "7c1e2f3a-0000-4000-8000-00000000f022", a);
  Value gvk(rapidjson::kObjectType);
  gvk.AddMember("group", "argoproj.io", a);
  gvk.AddMember("version", "v1alpha1", a);
  gvk.AddMember("kind", json::make_string(kind, a), a);
  request.AddMember("kind", gvk, a);
  request.AddMember("namespace", "fuzz", a);
  request.AddMember("operation", json::ref(update ? "UPDATE" : "CREATE"), a);
  if ((salt & 4U) != 0) request.AddMember("dryRun", true, a);
  request.AddMember("object", Value(object, a), a);
  if (update) request.AddMember("oldObject", Value(object, a), a);
  doc.AddMember("request", request, a);
  return doc;
}

void check_object(const Value& object, unsigned salt) {
  const Document wrapped = wrap(object, salt);
  const std::string sent = review_text(wrapped);
  for (const auto& variant : variants()) check_review(sent, wrapped, variant.policy, false);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  (void)variants();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const auto salt = static_cast<unsigned>(size);

  // The bytes as an AdmissionReview, under one of the policies.
  auto parsed = json::parse(text);
  const Policy& policy = variants()[size % variants().size()].policy;
  if (parsed.ok()) {
    check_review(std::string(text), parsed.value(), policy, false);
  } else {
    auto answer = review(text, policy);
    FUZZ_CHECK(!answer.ok(), "invalid JSON was answered: " + answer->body, text);
  }

  // The bytes as an object (JSON, else YAML), wrapped into an AdmissionReview.
  if (parsed.ok()) {
    if (parsed->IsObject() && !is_admission_review(parsed.value()))
      check_object(parsed.value(), salt);
    return 0;
  }
  auto docs = yaml::load_all(text);
  if (!docs.ok()) return 0;
  std::size_t n = 0;
  for (const auto& doc : docs.value()) {
    if (++n > 4) break;
    if (doc.IsObject() && !is_admission_review(doc)) check_object(doc, salt);
  }
  return 0;
}
