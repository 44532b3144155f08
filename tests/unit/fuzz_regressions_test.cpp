// What the fuzz targets (tests/fuzz, docs/fuzzing.md) found, kept as regression tests: each
// case is a reproducer, inline or a file under tests/fuzz/regressions/.
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

#include "core/admission.hpp"
#include "core/quantity.hpp"
#include "core/yaml_json.hpp"
#include "test_support.hpp"

using namespace nodealloc;
using namespace nodealloc::test;

namespace {

std::string regression(const char* name) {
  const std::string path = std::string(NODEALLOC_SOURCE_DIR) + "/tests/fuzz/regressions/" + name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs f and checks it took less than `limit` (the reproducers used to hang or crash).
template <class F>
void quickly(F&& f, std::chrono::seconds limit = std::chrono::seconds(10)) {
  const auto start = std::chrono::steady_clock::now();
  f();
  CHECK(std::chrono::steady_clock::now() - start < limit);
}

std::string review_of(std::string_view object) {
  return std::string(
             R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{)") +
         R"("uid":"u1","kind":{"group":"argoproj.io","version":"v1alpha1","kind":"Workflow"},)" +
         R"("operation":"CREATE","object":)" + std::string(object) + "}}";
}

std::string workflow_with_pod_spec_patch(std::string_view patch_json_string) {
  return std::string(R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{)") +
         R"("name":"w"},"spec":{"templates":[{"name":"t","container":{"image":"x"},)" +
         R"("podSpecPatch":)" + std::string(patch_json_string) + "}]}}";
}

}  // namespace

TEST_CASE("fuzz_quantity: to_string() reads back as the same value (\"12E\" is not \"...Mi\")") {
  // 12E = 12e18 units was shown as "11444091796875Mi", which Kubernetes reads back capped at
  // 2^63-1 units: binary suffixes are exact only up to that cap.
  for (const char* text : {"12E", "-12E", "9223372036854775808", "8Ei", "16Ei", "1e30"}) {
    CAPTURE(text);
    const auto q = parse_quantity(text);
    REQUIRE(q.has_value());
    const auto back = parse_quantity(q->to_string());
    REQUIRE(back.has_value());
    CHECK(*back == *q);
  }
  CHECK(parse_quantity("12E")->to_string() == "12E");
  CHECK(parse_quantity("64Mi")->to_string() == "64Mi");
}

TEST_CASE("fuzz_review: YAML with a stray ',' after a document is refused, not looped on") {
  // yaml-cpp 0.7's LoadAll loops for ever, allocating, on "{}," (jbeder/yaml-cpp#1040).
  for (const char* text : {"{},", ",", "[],", "{} ,", "a: 1\n---\n{},"}) {
    CAPTURE(text);
    quickly([&] { CHECK_FALSE(yaml::load_all(text).ok()); });
  }
  quickly([] { CHECK_FALSE(yaml::load_all(regression("review-yaml-loadall-loop.json")).ok()); });
  // Several documents still load, empty ones dropped.
  auto docs = yaml::load_all("a: 1\n---\n---\nb: [1, 2]\n");
  REQUIRE(docs.ok());
  CHECK(docs->size() == 2);
}

TEST_CASE("fuzz_review: a podSpecPatch of \"{},\" makes the template invalid, quickly") {
  const Policy policy = standard_policy();
  quickly([&] {
    auto answer = review(review_of(workflow_with_pod_spec_patch(R"("{},")")), policy);
    REQUIRE(answer.ok());
    REQUIRE(answer->summary.templates.size() == 1);
    CHECK(answer->summary.templates[0].reason == Reason::Invalid);
  });
}

TEST_CASE("fuzz_review: Replace is idempotent when a placeable template also has steps") {
  // CI's fuzz_review (stop 10): "a" has container and steps; placed on gpu, its new nodeSelector
  // became what "b" inherits, and a second pass replaced b's {zone, node-pool: small} with
  // {node-pool: small, nvidia.com/gpu.present: "true"}. Argo refuses such a template; it is
  // invalid now and keeps its nodeSelector.
  const Policy policy = standard_policy("  existingPlacement: Replace\n");
  const std::string object =
      R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"x"},)"
      R"("spec":{"templates":[{"name":"a","nodeSelector":{"zone":"z1"},)"
      R"("container":{"image":"i","resources":{"requests":{"nvidia.com/gpu":"1"}}},)"
      R"("steps":[[{"name":"s","template":"b"}]]},{"name":"b","container":{"image":"i"}}]}})";
  auto first = place_yaml(object, policy);
  CHECK(first.outcome("a") == "invalid");
  CHECK(first.outcome("b") == "placed:small");
  check_idempotent(first, policy);
  auto answer = review(review_of(object), policy);
  REQUIRE(answer.ok());
  CHECK(answer->summary.warnings.size() == 1);
}

TEST_CASE("fuzz_review: the workflow's podSpecPatch is read once per object, not per template") {
  // Found next to an alias finding: a 170 KB YAML podSpecPatch on the spec was parsed again for
  // each of 2000 templates, 164 s for a 300 KB review (Release). Now once: 0.3 s.
  std::string patch;
  for (int i = 0; i < 20000; ++i) patch += "k" + std::to_string(i) + ": v\\n";
  patch += "containers: [{name: main, resources: {requests: {cpu: '6'}}}]";
  std::string templates;
  for (int i = 0; i < 500; ++i) {
    templates += std::string(i == 0 ? "" : ",") + R"({"name":"t)" + std::to_string(i) +
                 R"(","container":{"image":"x"}})";
  }
  const std::string object =
      R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"x"},)"
      R"("spec":{"podSpecPatch":")" +
      patch + R"(","templates":[)" + templates + "]}}";
  const Policy policy = standard_policy();
  quickly([&] {
    auto answer = review(review_of(object), policy);
    REQUIRE(answer.ok());
    REQUIRE(answer->summary.templates.size() == 500);
    for (const auto& t : answer->summary.templates) {
      CHECK(t.reason == Reason::Placed);
      CHECK(t.pool == "highmem");  // the patch's cpu: 6 is past small's 4
    }
  });
}

TEST_CASE("fuzz_review: callers' large nodeSelectors are compared once, in O(n log n)") {
  // Two steps templates with 20 000 labels each (differing in the last) both call 200
  // templates: RapidJSON's == (a scan per member) ran once per callee, over 60 s; under Replace
  // each callee is conflicting-callers.
  const auto labels = [](const char* last) {
    std::string t = "{";
    for (int i = 0; i < 20000; ++i) t += "\"l" + std::to_string(i) + "\":\"v\",";
    return t + "\"last\":\"" + last + "\"}";
  };
  std::string calls = "[";
  std::string callees;
  for (int i = 0; i < 200; ++i) {
    calls += std::string(i == 0 ? "" : ",") + R"([{"name":"s","template":"t)" + std::to_string(i) +
             R"("}])";
    callees += R"(,{"name":"t)" + std::to_string(i) + R"(","container":{"image":"x"}})";
  }
  calls += "]";
  const std::string object =
      R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"x"},)"
      R"("spec":{"templates":[{"name":"A","nodeSelector":)" +
      labels("a") + R"(,"steps":)" + calls + R"(},{"name":"B","nodeSelector":)" + labels("b") +
      R"(,"steps":)" + calls + "}" + callees + "]}}";
  const Policy policy = standard_policy("  existingPlacement: Replace\n");
  quickly([&] {
    auto answer = review(review_of(object), policy);
    REQUIRE(answer.ok());
    REQUIRE(answer->summary.templates.size() == 202);
    CHECK(answer->summary.templates[2].reason == Reason::ConflictingCallers);
    CHECK(answer->summary.templates[201].reason == Reason::ConflictingCallers);
  });
}

TEST_CASE("fuzz_review: YAML aliases cannot cycle or expand without bound") {
  // "&a [*a]" is a cycle: to_json recursed until the stack overflowed.
  for (const char* text : {"a: &a [*a]\n", "a: &a {b: *a}\n", "&x [1, *x]"}) {
    CAPTURE(text);
    quickly([&] { CHECK_FALSE(yaml::load_all(text).ok()); });
  }
  quickly([] { CHECK_FALSE(yaml::load_all(regression("review-yaml-alias-cycle.yaml")).ok()); });
  // Nine levels of ten aliases: 10^9 values, refused after a bounded amount of work.
  quickly([] { CHECK_FALSE(yaml::load_all(regression("review-yaml-billion-laughs.yaml")).ok()); });
  // The same inside a podSpecPatch (untrusted, through review): the template is invalid.
  const Policy policy = standard_policy();
  const std::string laughs = regression("review-yaml-billion-laughs.yaml");
  rapidjson::StringBuffer quoted;
  rapidjson::Writer<rapidjson::StringBuffer> writer(quoted);
  writer.String(laughs.data(), static_cast<rapidjson::SizeType>(laughs.size()));
  quickly([&] {
    auto answer = review(review_of(workflow_with_pod_spec_patch(quoted.GetString())), policy);
    REQUIRE(answer.ok());
    REQUIRE(answer->summary.templates.size() == 1);
    CHECK(answer->summary.templates[0].reason == Reason::Invalid);
  });
  // Ordinary aliases still work.
  auto docs = yaml::load_all("base: &b {cpu: 1}\nuse: *b\n");
  REQUIRE(docs.ok());
  CHECK(at(docs->front(), "/use/cpu") == "1");
}

TEST_CASE("fuzz_http: a lone surrogate escape reads as U+FFFD, so answers stay valid JSON") {
  // RapidJSON 1.1.0 turned "\udd6d" into the bytes ED B5 AD (not UTF-8); /v1/place echoed them.
  const Policy policy = standard_policy();
  const std::string input = regression("http-place-lone-surrogate");  // 3 selector bytes first
  auto placed = place(std::string_view(input).substr(3), policy);
  REQUIRE(placed.ok());
  CHECK(json::parse(placed->body).ok());

  auto doc = json::parse(R"({"a\udd6d":"\udc00x\ud83d\ude00"})");
  REQUIRE(doc.ok());
  CHECK(json::write(doc.value()) == "{\"a\xEF\xBF\xBD\":\"\xEF\xBF\xBDx\xF0\x9F\x98\x80\"}");

  auto answer = review(review_of(R"({"apiVersion":"v1","kind":"ConfigMap"})")
                           .replace(review_of("").find(R"("uid":"u1")") + 7, 2, "\\udfff"),
                       policy);
  REQUIRE(answer.ok());
  auto parsed = json::parse(answer->body);
  REQUIRE(parsed.ok());
  CHECK(at(parsed.value(), "/response/uid") == "\"\xEF\xBF\xBD\"");
}

TEST_CASE("fuzz_http: a text ending inside a UTF-8 sequence is refused without reading past it") {
  // The in-situ parse read up to 3 bytes past the end of "\"\xF4" (ASan: heap-buffer-overflow).
  const std::string input = regression("http-truncated-utf8");  // 3 selector bytes first
  CHECK_FALSE(json::parse(std::string_view(input).substr(3)).ok());
  for (const char* text : {"\"\xF4", "\"\xF0\x9F", "\"\xE2\x82", "\"\xC3", "[\"\xF4\x8F\xBF"}) {
    CAPTURE(text);
    CHECK_FALSE(json::parse(text).ok());
  }
}

TEST_CASE("fuzz_review: with duplicate keys the last counts, for the decisions and the patch") {
  // {"spec":"Workflow",...,"spec":{templates}}: the decisions read the last "spec" (as Go does),
  // and a patch applied here (place) must land there too, not on the first.
  const std::string object =
      R"({"apiVersion":"argoproj.io/v1alpha1","spec":"Workflow","kind":"Workflow",)"
      R"("metadata":{"name":"q"},"spec":{"templates":[{"name":"a","container":{"image":"x"}}]}})";
  const Policy policy = standard_policy();
  auto answer = review(review_of(object), policy);
  REQUIRE(answer.ok());
  CHECK(answer->summary.patched);
  auto placed = place(object, policy);
  REQUIRE(placed.ok());
  auto body = json::parse(placed->body);
  REQUIRE(body.ok());
  const json::Value& out = body.value()["object"];
  CHECK(
      json::write(out["spec"]) ==
      R"({"templates":[{"name":"a","container":{"image":"x"},"nodeSelector":{"node-pool":"small"}}]})");
  CHECK(out.MemberCount() == 4);  // the shadowed "spec" is gone, as in kube-apiserver's copy
}

TEST_CASE("fuzz_review: a resource name a template's podSpecPatch adds outlives the template") {
  // The request's names are views; "c]u", added by the template's own podSpecPatch, pointed
  // into the parsed patch after it was freed (AddressSanitizer: heap-use-after-free in
  // Pool::fits). No pool has it: the template fits none, and the warning names it.
  const std::string object = regression("review-patch-added-name.json");
  const Policy policy = standard_policy();
  auto answer = review(review_of(object), policy);
  REQUIRE(answer.ok());
  bool named = false;
  for (const auto& w : answer->summary.warnings)
    named = named || w.find("c]u=3") != std::string::npos;
  CHECK(named);
  auto placed = place(object, policy);
  REQUIRE(placed.ok());
  CHECK(placed->summary.warnings == answer->summary.warnings);
}
