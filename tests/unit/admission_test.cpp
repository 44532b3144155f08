// The AdmissionReview answer (spec §1, §6, §7): shape, versions, kinds and operations.
#include <doctest/doctest.h>
#include <openssl/evp.h>

#include "test_support.hpp"

using namespace nodealloc;
using namespace nodealloc::test;

namespace {

std::string base64_decode(std::string_view in) {
  std::string out(in.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  REQUIRE(n >= 0);
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) --size;  // padding
  out.resize(size);
  return out;
}

const char* kWorkflow =
    R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"generateName":"ml-",
    "namespace":"team"},"spec":{"templates":[{"name":"train","container":{"image":"x",
    "resources":{"limits":{"nvidia.com/gpu":1}}}}]}})";

std::string review_json(std::string_view version, std::string_view kind, std::string_view operation,
                        std::string_view object, std::string_view extra = "") {
  return std::string(R"({"apiVersion":"admission.k8s.io/)") + std::string(version) +
         R"(","kind":"AdmissionReview","request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002",)" +
         R"("kind":{"group":"argoproj.io","version":"v1alpha1","kind":")" + std::string(kind) +
         R"("},"resource":{"group":"argoproj.io","version":"v1alpha1","resource":"workflows"},)" +
         R"("namespace":"team","operation":")" + std::string(operation) + R"(","object":)" +
         std::string(object) + std::string(extra) + "}}";
}

json::Document answer_of(const std::string& request, const Policy& policy) {
  auto answer = review(request, policy);
  REQUIRE_MESSAGE(answer.ok(), (answer.ok() ? "" : answer.error().message));
  auto doc = json::parse(answer->body);
  REQUIRE(doc.ok());
  return std::move(doc.value());
}

}  // namespace

TEST_CASE("§6 the answer: the request's version, its uid, JSONPatch with a base64 patch") {
  const Policy policy = standard_policy();
  for (const char* version : {"v1", "v1beta1"}) {
    auto answer = answer_of(review_json(version, "Workflow", "CREATE", kWorkflow), policy);
    CHECK(at(answer, "/apiVersion") == std::string("\"admission.k8s.io/") + version + "\"");
    CHECK(at(answer, "/kind") == R"("AdmissionReview")");
    CHECK(at(answer, "/response/uid") == R"("705ab4f5-6393-11e8-b7cc-42010a800002")");
    CHECK(at(answer, "/response/allowed") == "true");
    CHECK(at(answer, "/response/patchType") == R"("JSONPatch")");
    CHECK(at(answer, "/response/warnings") == "<missing>");
    const std::string patch = base64_decode(json::str(answer["response"]["patch"]));
    CHECK(patch ==
          R"([{"op":"add","path":"/spec/templates/0/nodeSelector","value":{"node-pool":"gpu",)"
          R"("nvidia.com/gpu.present":"true"}},{"op":"add","path":"/spec/templates/0/tolerations",)"
          R"("value":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}]},)"
          R"({"op":"add","path":"/metadata/annotations","value":{"node-allocator.io/placement":)"
          R"("{\"train\":\"gpu\"}"}}])");
  }
}

TEST_CASE("§1 dryRun gets exactly the same answer") {
  const Policy policy = standard_policy();
  auto plain = review(review_json("v1", "Workflow", "CREATE", kWorkflow), policy);
  auto dry =
      review(review_json("v1", "Workflow", "CREATE", kWorkflow, R"(,"dryRun":true)"), policy);
  REQUIRE(plain.ok());
  REQUIRE(dry.ok());
  CHECK(plain->body == dry->body);
}

TEST_CASE("§1 kinds and operations: Workflow CREATE only; the templates' kinds CREATE and UPDATE") {
  const Policy policy = standard_policy();
  struct Case {
    const char* kind;
    const char* operation;
    bool patched;
  };
  for (const Case& c :
       {Case{"Workflow", "CREATE", true}, Case{"Workflow", "UPDATE", false},
        Case{"Workflow", "DELETE", false}, Case{"WorkflowTemplate", "UPDATE", true},
        Case{"ClusterWorkflowTemplate", "UPDATE", true},
        Case{"CronWorkflow", "CREATE", false},  // its templates are elsewhere
        Case{"Pod", "CREATE", false}, Case{"WorkflowEventBinding", "CREATE", false}}) {
    auto answer = answer_of(review_json("v1", c.kind, c.operation, kWorkflow), policy);
    CAPTURE(c.kind);
    CAPTURE(c.operation);
    CHECK(at(answer, "/response/allowed") == "true");
    CHECK((at(answer, "/response/patch") != "<missing>") == c.patched);
    CHECK((at(answer, "/response/patchType") != "<missing>") == c.patched);
  }
}

TEST_CASE("§9 the kind is request.kind: another group or version is another kind") {
  const Policy policy = standard_policy();
  std::string request = review_json("v1", "Workflow", "CREATE", kWorkflow);
  const std::string group = R"("group":"argoproj.io","version":"v1alpha1","kind":"Workflow")";
  for (const char* other : {R"("group":"example.com","version":"v1alpha1","kind":"Workflow")",
                            R"("group":"argoproj.io","version":"v1","kind":"Workflow")"}) {
    std::string r = request;
    r.replace(r.find(group), group.size(), other);
    auto answer = answer_of(r, policy);
    CHECK(at(answer, "/response/patch") == "<missing>");
  }
}

TEST_CASE("§6 a denial: allowed false, status code 403 with the message, no patch") {
  const Policy policy = standard_policy("  onNoFit: Reject\n");
  const char* big = R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",
      "metadata":{"name":"w"},"spec":{"templates":[{"name":"big","container":{"resources":
      {"requests":{"cpu":"64"}}}}]}})";
  auto answer = answer_of(review_json("v1", "Workflow", "CREATE", big), policy);
  CHECK(at(answer, "/response/allowed") == "false");
  CHECK(at(answer, "/response/status/code") == "403");
  CHECK(at(answer, "/response/patch") == "<missing>");
  CHECK(at(answer, "/response/patchType") == "<missing>");
  CHECK(json::str(answer["response"]["status"]["message"])
            .starts_with("node-allocator: 1 template fits no node pool: \"big\" requests cpu=64; "
                         "pools: small"));
}

TEST_CASE("§7 malformed reviews are errors with a clear reason") {
  const Policy policy = standard_policy();
  struct Case {
    std::string request;
    std::string message;
  };
  for (const Case& c : {
           Case{"", "invalid JSON at offset 0: The document is empty."},
           Case{"{", "invalid JSON at offset 1"},
           Case{"[]", "not an AdmissionReview: expected a JSON object"},
           Case{R"({"apiVersion":"v1","kind":"AdmissionReview","request":{}})",
                "not an AdmissionReview: apiVersion"},
           Case{R"({"apiVersion":"admission.k8s.io/v1","kind":"Review","request":{}})",
                "not an AdmissionReview: kind"},
           Case{R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})",
                "not an AdmissionReview: request is missing"},
           Case{R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}})",
                "not an AdmissionReview: request.uid is missing"},
           Case{review_json("v1", "Workflow", "CREATE", "[1]"),
                "not an AdmissionReview: request.object is not an object"},
           Case{"{\"a\":\"\xff\"}", "invalid JSON"},
       }) {
    auto answer = review(c.request, policy);
    REQUIRE_FALSE(answer.ok());
    CHECK_MESSAGE(answer.error().message.starts_with(c.message), answer.error().message);
  }
}

TEST_CASE("§6 nothing to do: allowed, no patch, no patchType") {
  const Policy policy = standard_policy();
  const char* kept = R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",
      "metadata":{"name":"w"},"spec":{"templates":[{"name":"a","nodeSelector":{"x":"y"},
      "container":{}}]}})";
  auto answer = answer_of(review_json("v1beta1", "Workflow", "CREATE", kept), policy);
  CHECK(json::write(answer) ==
        R"({"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","response":)"
        R"({"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true}})");
}

TEST_CASE("§6 the summary for logs and metrics names what was decided") {
  const Policy policy = standard_policy();
  auto answer = review(review_json("v1", "Workflow", "CREATE", kWorkflow), policy);
  REQUIRE(answer.ok());
  const Summary& s = answer->summary;
  CHECK(s.kind == "Workflow");
  CHECK(s.operation == "CREATE");
  CHECK(s.namespace_name == "team");
  CHECK(s.name == "ml-");
  CHECK(s.handled);
  CHECK(s.patched);
  REQUIRE(s.templates.size() == 1);
  CHECK(s.templates[0].pool == "gpu");
}

TEST_CASE("§7 place(): a plain object in, the placed object, patch and warnings out") {
  const Policy policy = standard_policy();
  auto answer = place(kWorkflow, policy);
  REQUIRE(answer.ok());
  auto doc = json::parse(answer->body);
  REQUIRE(doc.ok());
  CHECK(at(doc.value(), "/allowed") == "true");
  CHECK(at(doc.value(), "/object/spec/templates/0/nodeSelector/node-pool") == R"("gpu")");
  CHECK(at(doc.value(), "/templates") == R"([{"name":"train","result":"placed","pool":"gpu"}])");
  CHECK(at(doc.value(), "/warnings") == "[]");
  auto other = place(R"({"apiVersion":"v1","kind":"Pod"})", policy);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().message.find("not Pod (v1)") != std::string::npos);
}
