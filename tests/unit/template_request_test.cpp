// template_request's two roads held to each other: the common template's (CommonRequest) must
// give exactly the general road's R wherever it answers, and leave everything else to it.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/template_request.hpp"
#include "test_support.hpp"

using namespace nodealloc;
using namespace nodealloc::test;

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;  // name, exact quantity text

Pairs pairs(const RequestList& list) {
  Pairs out;
  for (const auto& [name, q] : list) out.emplace_back(std::string(name), q.nanos().str());
  return out;
}

struct Roads {  // NOLINT(bugprone-exception-escape): RequestList's move may allocate
  std::optional<RequestList> common;
  TemplateRequest general;
  TemplateRequest used;  // template_request's answer
};

// Each template of `object` (JSON, so that duplicate keys stay), both roads.
std::vector<Roads> roads_of(const json::Value& object, ArgoKind kind, const Policy& policy) {
  const WorkflowView view = walk(object, kind);
  const WorkflowSpecResources spec(view.spec);
  std::vector<Roads> out;
  for (const auto& node : view.templates) {
    if (!is_placeable(node.fields)) continue;
    out.push_back({detail::common_request_for_test(node.fields, spec, policy.executor_overhead),
                   detail::general_request_for_test(node.fields, spec, policy.executor_overhead),
                   template_request(node.fields, spec, policy.executor_overhead)});
  }
  return out;
}

// Both roads agree; returns whether the common one answered.
bool check_roads(const Roads& r) {
  CHECK(r.used.status == r.general.status);
  CHECK(r.used.detail == r.general.detail);
  CHECK(pairs(r.used.request) == pairs(r.general.request));
  if (!r.common) return false;
  CHECK(r.general.status == TemplateRequest::Status::Ok);
  CHECK(pairs(*r.common) == pairs(r.general.request));
  return true;
}

json::Document json_object(std::string_view text) {
  auto doc = json::parse(text);
  REQUIRE(doc.ok());
  return std::move(doc.value());
}

std::string wf(std::string_view templates, std::string_view spec_extra = "") {
  return std::string(R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","spec":{)") +
         std::string(spec_extra) + R"("templates":[)" + std::string(templates) + "]}}";
}

}  // namespace

TEST_CASE("§3 template_request: the common road gives the general road's R") {
  const Policy policy = standard_policy("  executorOverhead: {cpu: 10m, memory: 64Mi}\n");
  const char* kCommon[] = {
      // requests and limits; limits only; a number; nothing at all
      R"({"name":"a","container":{"resources":{"requests":{"cpu":"500m"},"limits":{"cpu":"1","memory":"1Gi"}}}})",
      R"({"name":"b","script":{"resources":{"limits":{"memory":"2Gi","nvidia.com/gpu":1}}}})",
      R"({"name":"c","container":{"image":"x"}})",
      R"({"name":"d","container":{"resources":null}})",
      R"({"name":"e","container":{"resources":{"requests":null,"limits":{}}}})",
      // the last of duplicate keys, in the first one's place
      R"({"name":"f","container":{"resources":{"requests":{"cpu":"1","memory":"1Gi","cpu":"3"}}}})",
      // sidecars add, init containers take the maximum, containerSet sums
      R"({"name":"g","container":{"resources":{"requests":{"cpu":"1"}}},
          "sidecars":[{"name":"s","resources":{"requests":{"cpu":"250m","memory":"100Mi"}}}],
          "initContainers":[{"name":"i1","resources":{"requests":{"cpu":"4"}}},
                            {"name":"i2","resources":{"requests":{"cpu":"2","memory":"3Gi"}}}]})",
      R"({"name":"h","containerSet":{"containers":[
          {"name":"x","resources":{"requests":{"cpu":"1"}}},
          {"name":"y","resources":{"limits":{"cpu":"2","ephemeral-storage":"1Gi"}}}]}})",
      R"({"name":"i","resource":{"action":"create"}})",
      R"({"name":"j","data":{"source":{}},"sidecars":[]})",
      // exact values: 0.1 is 100m, 1n rounding up, binary and decimal exponents
      R"({"name":"k","container":{"resources":{"requests":{"cpu":"0.1","memory":"1e3","x":"1.5n"}}}})",
      // values of 128 bits, still summed exactly
      R"({"name":"l","container":{"resources":{"requests":{"x":"100000000000000000000"}}},
          "sidecars":[{"resources":{"requests":{"x":"100000000000000000000"}}}]})",
  };
  for (const char* tmpl : kCommon) {
    CAPTURE(tmpl);
    const auto doc = json_object(wf(tmpl));
    const auto all = roads_of(doc, ArgoKind::Workflow, policy);
    REQUIRE(all.size() == 1);
    CHECK(check_roads(all[0]));
  }
}

TEST_CASE("§3/§9 template_request: the common road declines all else, which the general takes") {
  const Policy policy = standard_policy();
  const std::pair<const char*, const char*> kOthers[] = {
      {R"({"name":"a","container":{},"podSpecPatch":"{\"containers\":[]}"})", ""},
      {R"({"name":"b","container":{},"podResources":{"requests":{"cpu":"1"}}})", ""},
      {R"({"name":"c","container":{}})", R"("podResources":{"requests":{"cpu":"1"}},)"},
      {R"({"name":"d","container":{}})", R"("podSpecPatch":"{\"containers\":[]}",)"},
      {R"({"name":"e","container":{"resources":{"requests":{"cpu":"{{x}}"}}}})", ""},
      {R"({"name":"f","container":{"resources":{"requests":{"cpu":"-1"}}}})", ""},
      {R"({"name":"g","container":{"resources":{"requests":{"cpu":"lots"}}}})", ""},
      {R"({"name":"h","container":{"resources":{"requests":{"cpu":true}}}})", ""},
      {R"({"name":"i","container":{"resources":{"requests":["cpu"]}}})", ""},
      {R"({"name":"j","container":{"resources":"{{x}}"}})", ""},
      {R"({"name":"k","container":"main"})", ""},
      {R"({"name":"l","container":{},"script":{}})", ""},
      {R"({"name":"m","container":{},"sidecars":[1]})", ""},
      {R"({"name":"n","container":{},"initContainers":{"a":1}})", ""},
      {R"({"name":"o","containerSet":{"containers":"x"}})", ""},
      // beyond 128 bits, alone or as a sum: the general road's big integers
      {R"({"name":"p","container":{"resources":{"requests":{"x":"1e40"}}}})", ""},
      {R"({"name":"q","container":{"resources":{"requests":{"x":"100000000000000000000000000000"}}},
           "sidecars":[{"resources":{"requests":{"x":"100000000000000000000000000000"}}}]})",
       ""},
  };
  for (const auto& other : kOthers) {
    CAPTURE(other.first);
    const auto doc = json_object(wf(other.first, other.second));
    const auto all = roads_of(doc, ArgoKind::Workflow, policy);
    REQUIRE(all.size() == 1);
    CHECK_FALSE(check_roads(all[0]));
  }
}

TEST_CASE("§3 template_request: both roads agree on every corpus template") {
  const Policy policy = standard_policy("  executorOverhead: {cpu: 10m, memory: 64Mi}\n");
  int templates = 0;
  int common = 0;
  if (!for_each_corpus_document([&](const std::string& path, const json::Value& doc) {
        const auto argo = argo_kind(json::str(*json::member(doc, "kind")));
        if (!argo) return;
        CAPTURE(path);
        for (const auto& r : roads_of(doc, *argo, policy)) {
          ++templates;
          common += check_roads(r) ? 1 : 0;
        }
      })) {
    return;
  }
  MESSAGE(common << " of " << templates << " corpus templates took the common road");
  CHECK(templates > 300);
  CHECK(common > templates * 8 / 10);
}
