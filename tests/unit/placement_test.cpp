// Placement rules of ../shared/spec/placement.md, one test case per rule (named by section).
#include <doctest/doctest.h>

#include "core/workflow.hpp"
#include "test_support.hpp"

using namespace nodealloc;
using namespace nodealloc::test;

namespace {

const std::string kSmall = R"({"node-pool":"small"})";
const std::string kHighmem = R"({"node-pool":"highmem"})";
const std::string kGpu = R"({"node-pool":"gpu","nvidia.com/gpu.present":"true"})";
const std::string kGpuToleration =
    R"({"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"})";

std::string workflow(std::string_view templates, std::string_view spec_extra = "") {
  std::string s =
      "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: t-}\n"
      "spec:\n  entrypoint: main\n";
  s += spec_extra;
  s += "  templates:\n";
  s += templates;
  return s;
}

}  // namespace

TEST_CASE("§1 a CronWorkflow's templates are under /spec/workflowSpec/templates") {
  const Policy policy = standard_policy();
  auto p = place_yaml(R"(
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: nightly}
spec:
  schedule: "0 1 * * *"
  workflowSpec:
    entrypoint: main
    templates:
      - name: main
        container: {image: x, resources: {requests: {memory: 32Gi}}}
)",
                      policy);
  CHECK(at(p.object, "/spec/workflowSpec/templates/0/nodeSelector") == kHighmem);
  CHECK(at(p.object, "/metadata/annotations") ==
        R"({"node-allocator.io/placement":"{\"main\":\"highmem\"}"})");
  check_idempotent(p, policy);
}

TEST_CASE("§1 every handled kind: WorkflowTemplate and ClusterWorkflowTemplate use /spec") {
  const Policy policy = standard_policy();
  for (const char* kind : {"WorkflowTemplate", "ClusterWorkflowTemplate"}) {
    auto p = place_yaml(std::string("apiVersion: argoproj.io/v1alpha1\nkind: ") + kind +
                            "\nmetadata: {name: t}\nspec:\n  templates:\n"
                            "    - name: a\n      container: {image: x}\n",
                        policy);
    CHECK(at(p.object, "/spec/templates/0/nodeSelector") == kSmall);
  }
}

TEST_CASE("§1 a workflowTemplateRef Workflow without templates gets no patch") {
  const Policy policy = standard_policy();
  auto p = place_yaml(R"(
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: ref-}
spec:
  workflowTemplateRef: {name: other}
)",
                      policy);
  CHECK(p.plan.patch.empty());
  CHECK(p.plan.templates.empty());
  auto empty = place_yaml(workflow("  []\n"), policy);
  CHECK(empty.plan.patch.empty());
}

TEST_CASE("§1 inline templates in steps and dag tasks are templates; caller is the container") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: main
      steps:
        - - name: s1
            inline:
              container: {image: x, resources: {requests: {memory: 20Gi}}}
    - name: d
      dag:
        tasks:
          - name: t1
            inline:
              script: {image: x, source: "true"}
)"),
                      policy);
  CHECK(p.outcome("main") == "not-placeable");
  CHECK(p.outcome("main/s1") == "placed:highmem");
  CHECK(p.outcome("d/t1") == "placed:small");
  CHECK(at(p.object, "/spec/templates/0/steps/0/0/inline/nodeSelector") == kHighmem);
  CHECK(at(p.object, "/spec/templates/1/dag/tasks/0/inline/nodeSelector") == kSmall);
  check_idempotent(p, policy);
}

TEST_CASE("§1 opt-out: node-allocator.io/skip \"true\" on the object or on a template") {
  const Policy policy = standard_policy();
  auto object = place_yaml(R"(
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: t-
  annotations: {node-allocator.io/skip: "true"}
spec:
  templates:
    - name: a
      container: {image: x}
)",
                           policy);
  CHECK(object.plan.patch.empty());
  CHECK(object.plan.warnings.empty());

  auto tmpl = place_yaml(workflow(R"(
    - name: a
      metadata: {annotations: {node-allocator.io/skip: "true"}}
      container: {image: x, resources: {requests: {cpu: "999"}}}
    - name: b
      metadata: {annotations: {node-allocator.io/skip: "True"}}
      container: {image: x}
)"),
                         policy);
  CHECK(tmpl.outcome("a") == "opted-out");
  CHECK(tmpl.outcome("b") == "placed:small");  // §9: only the exact string "true" opts out
  CHECK(tmpl.plan.warnings.empty());           // opted-out templates are not warned about
  CHECK(at(tmpl.object, "/spec/templates/0/nodeSelector") == "<missing>");
}

TEST_CASE("§2 placeable: container, script, containerSet, resource, data; never the others") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - {name: c, container: {image: x}}
    - {name: s, script: {image: x, source: "true"}}
    - {name: cs, containerSet: {containers: [{name: a, image: x}]}}
    - {name: r, resource: {action: create, manifest: "{}"}}
    - {name: d, data: {source: {artifactPaths: {name: x}}, transformation: []}}
    - {name: st, steps: [[{name: a, template: c}]]}
    - {name: dg, dag: {tasks: [{name: a, template: c}]}}
    - {name: su, suspend: {}}
    - {name: h, http: {url: "http://x"}}
    - {name: pl, plugin: {hello: {}}}
)"),
                      policy);
  for (const char* placed : {"c", "s", "cs", "r", "d"}) {
    CHECK_MESSAGE(p.outcome(placed) == "placed:small", placed);
  }
  for (const char* skipped : {"st", "dg", "su", "h", "pl"}) {
    CHECK_MESSAGE(p.outcome(skipped) == "not-placeable", skipped);
  }
}

TEST_CASE("§2/§9 more than one template type: invalid, as Argo refuses it; never placed") {
  // Argo's validateTemplateType counts container, containerSet, steps, script, resource, dag,
  // suspend, data, http and plugin (null ones not). Placing such a template that also has steps
  // changed what its callees inherit, so Replace placed them differently on a second pass.
  const std::string wf = workflow(R"(
    - name: both
      nodeSelector: {zone: a}
      container: {image: x, resources: {limits: {nvidia.com/gpu: 1}}}
      steps: [[{name: s, template: callee}]]
    - {name: cs, container: {image: x}, script: {image: x, source: "true"}}
    - {name: cd, container: {image: x}, dag: {tasks: []}}
    - {name: rs, resource: {action: create}, suspend: {}}
    - {name: dh, data: {source: {}}, http: {url: "http://x"}}
    - {name: cp, containerSet: {containers: []}, plugin: {hello: {}}}
    - {name: null-types, container: {image: x}, steps: null, dag: null, suspend: null}
    - {name: callee, container: {image: x}}
)");
  for (const char* settings :
       {"  existingPlacement: Replace\n", "  existingPlacement: Merge\n", ""}) {
    const Policy policy = standard_policy(settings);
    auto p = place_yaml(wf, policy);
    CAPTURE(settings);
    for (const char* name : {"cs", "cd", "rs", "dh", "cp"}) {
      CHECK_MESSAGE(p.outcome(name) == "invalid", name);
    }
    CHECK(p.outcome("null-types") == "placed:small");
    // Keep leaves "both" alone (it has a nodeSelector) and "callee" (its caller has one).
    const bool keep = std::string_view(settings).empty();
    CHECK(p.outcome("both") == (keep ? "existing" : "invalid"));
    CHECK(p.outcome("callee") == (keep ? "existing" : "placed:small"));
    check_idempotent(p, policy);
  }
  auto p = place_yaml(wf, standard_policy("  existingPlacement: Replace\n"));
  CHECK(p.plan.warnings[0] ==
        "node-allocator: template \"both\": invalid: multiple template types (container, steps)");
  CHECK(p.plan.warnings[1] ==
        "node-allocator: template \"cs\": invalid: multiple template types (container, script)");
}

TEST_CASE("§3 container request: requests, else limits, else 0") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: by-limits
      container: {image: x, resources: {limits: {memory: 20Gi}}}
    - name: requests-win
      container: {image: x, resources: {requests: {memory: 1Gi}, limits: {memory: 200Gi}}}
)"),
                      policy);
  CHECK(p.outcome("by-limits") == "placed:highmem");
  CHECK(p.outcome("requests-win") == "placed:small");
}

TEST_CASE("§3 regular containers add up: main, sidecars, containerSet, plus executorOverhead") {
  const Policy policy = standard_policy("  executorOverhead: {cpu: 100m}\n");
  auto p = place_yaml(workflow(R"(
    - name: exact
      container: {image: x, resources: {requests: {cpu: "3"}}}
      sidecars: [{name: s, image: y, resources: {requests: {cpu: 900m}}}]
    - name: over
      container: {image: x, resources: {requests: {cpu: "3"}}}
      sidecars: [{name: s, image: y, resources: {requests: {cpu: 901m}}}]
    - name: set
      containerSet:
        containers:
          - {name: a, image: x, resources: {requests: {cpu: "2"}}}
          - {name: b, image: x, resources: {requests: {cpu: "2"}}}
)"),
                      policy);
  CHECK(p.outcome("exact") == "placed:small");   // 3 + 0.9 + 0.1 = 4
  CHECK(p.outcome("over") == "placed:highmem");  // 4.001
  CHECK(p.outcome("set") == "placed:highmem");   // 4.1
}

TEST_CASE("§3 init containers: R = max(sum of regular, max of init), overhead in both") {
  const Policy policy = standard_policy("  executorOverhead: {memory: 1Gi}\n");
  auto p = place_yaml(workflow(R"(
    - name: big-init
      container: {image: x, resources: {requests: {memory: 1Gi}}}
      initContainers:
        - {name: i1, image: x, resources: {requests: {memory: 17Gi}}}
        - {name: i2, image: x, resources: {requests: {memory: 2Gi}}}
    - name: small-init
      container: {image: x, resources: {requests: {memory: 14Gi}}}
      initContainers:
        - {name: i1, image: x, resources: {requests: {memory: 15Gi}}}
    - name: always-init
      container: {image: x}
      initContainers:
        - {name: i1, image: x, restartPolicy: Always, resources: {requests: {memory: 17Gi}}}
)"),
                      policy);
  CHECK(p.outcome("big-init") == "placed:highmem");     // max(2Gi, 17Gi)
  CHECK(p.outcome("small-init") == "placed:small");     // max(15Gi, 15Gi)
  CHECK(p.outcome("always-init") == "placed:highmem");  // §9: counted as a plain init container
}

TEST_CASE("§3 resource and data templates: sidecars and the overhead only") {
  const Policy policy = standard_policy("  executorOverhead: {cpu: 3500m}\n");
  auto p = place_yaml(workflow(R"(
    - name: r
      resource: {action: create, manifest: "{}"}
      sidecars: [{name: s, image: y, resources: {requests: {cpu: 600m}}}]
    - name: d
      data: {source: {artifactPaths: {name: x}}, transformation: []}
)"),
                      policy);
  CHECK(p.outcome("r") == "placed:highmem");  // 3.5 + 0.6
  CHECK(p.outcome("d") == "placed:small");
}

TEST_CASE("§3 pod-level resources replace the container-derived value for what they name") {
  const Policy policy = standard_policy("  executorOverhead: {cpu: 10m, memory: 64Mi}\n");
  auto p = place_yaml(workflow(R"(
    - name: tmpl-pod
      podResources: {requests: {memory: 1Gi}}
      container: {image: x, resources: {requests: {memory: 100Gi, cpu: "1"}}}
    - name: wf-pod
      container: {image: x, resources: {requests: {memory: 1Gi}}}
    - name: tmpl-empty
      podResources: {}
      container: {image: x, resources: {requests: {memory: 1Gi}}}
    - name: limits-only
      podResources: {limits: {cpu: "8"}}
      container: {image: x}
)",
                               "  podResources: {requests: {memory: 64Gi}}\n"),
                      policy);
  CHECK(p.outcome("tmpl-pod") == "placed:small");       // 1Gi replaces 100Gi
  CHECK(p.outcome("wf-pod") == "placed:highmem");       // the workflow's 64Gi
  CHECK(p.outcome("tmpl-empty") == "placed:small");     // {} replaces the workflow's wholly
  CHECK(p.outcome("limits-only") == "placed:highmem");  // requests else limits
}

TEST_CASE("§3 podSpecPatch: {{ with resources is unresolvable, {{ without is ignored") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: expr-resources
      podSpecPatch: '{"containers":[{"name":"main","resources":{"limits":{"cpu":"{{inputs.parameters.cpu}}"}}}]}'
      container: {image: x}
    - name: expr-other
      podSpecPatch: '{"terminationGracePeriodSeconds": {{inputs.parameters.t}}}'
      container: {image: x}
)"),
                      policy);
  CHECK(p.outcome("expr-resources") == "unresolvable");
  CHECK(p.outcome("expr-other") == "placed:small");
  REQUIRE(p.plan.warnings.size() == 1);
  CHECK(p.plan.warnings[0].starts_with(
      "node-allocator: template \"expr-resources\": unresolvable: "));
}

TEST_CASE("§3 podSpecPatch: a static JSON or YAML patch overrides per key, spec's first") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: json-patch
      podSpecPatch: '{"containers":[{"name":"main","resources":{"requests":{"memory":"20Gi"}}}]}'
      container: {image: x, resources: {requests: {memory: 1Gi, cpu: "1"}}}
    - name: yaml-patch
      podSpecPatch: |
        containers:
          - name: side
            resources:
              limits: {memory: 30Gi}
      container: {image: x}
      sidecars: [{name: side, image: y, resources: {limits: {memory: 1Gi}}}]
    - name: unknown-names
      podSpecPatch: '{"containers":[{"name":"wait","resources":{"requests":{"memory":"500Gi"}}}],"initContainers":[{"name":"init","resources":{"requests":{"memory":"500Gi"}}}]}'
      container: {image: x}
    - name: repaired
      podSpecPatch: '{"containers":[{"name":"main","resources":{"requests":{"cpu":"1"}}}]}'
      container: {image: x, resources: {requests: {cpu: "bad"}}}
    - name: template-after-spec
      podSpecPatch: '{"containers":[{"name":"main","resources":{"requests":{"cpu":"2"}}}]}'
      container: {image: x}
    - name: unparsable
      podSpecPatch: '{"containers": [ {'
      container: {image: x}
)",
                               "  podSpecPatch: '{\"containers\":[{\"name\":\"main\",\"resources\":"
                               "{\"requests\":{\"cpu\":\"12\"}}}]}'\n"),
                      policy);
  CHECK(p.outcome("json-patch") == "placed:highmem");  // memory 20Gi (and spec's cpu 12)
  CHECK(p.outcome("yaml-patch") == "placed:highmem");
  CHECK(p.outcome("unknown-names") == "placed:highmem");  // spec's cpu 12 only
  CHECK(p.outcome("repaired") == "placed:small");         // spec's 12, then the template's 1
  CHECK(p.outcome("template-after-spec") == "placed:small");
  CHECK(p.outcome("unparsable") == "invalid");
}

TEST_CASE("§3 quantities: JSON numbers and strings, compared exactly (\"0.1\" == \"100m\")") {
  const Policy policy = policy_from(std::string(kPolicyHeader) + R"(  pools:
    - name: tiny
      nodeSelector: {pool: tiny}
      capacity: {cpu: 0.1, memory: "1e3"}
    - name: rest
      nodeSelector: {pool: rest}
      capacity: {cpu: "1e100", memory: 1e100}
)");
  auto p = place_yaml(R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",
    "metadata":{"name":"q"},"spec":{"templates":[
      {"name":"a","container":{"resources":{"requests":{"cpu":"100m","memory":1000}}}},
      {"name":"b","container":{"resources":{"requests":{"cpu":0.1,"memory":"1k"}}}},
      {"name":"c","container":{"resources":{"requests":{"cpu":"100000001n"}}}},
      {"name":"d","container":{"resources":{"requests":{"cpu":"1e100"}}}},
      {"name":"e","container":{"resources":{"requests":{"memory":" 1Ki "}}}}]}})",
                      policy);
  CHECK(p.outcome("a") == "placed:tiny");
  CHECK(p.outcome("b") == "placed:tiny");
  CHECK(p.outcome("c") == "placed:rest");
  CHECK(p.outcome("d") == "placed:rest");
  CHECK(p.outcome("e") == "placed:rest");  // trimmed; 1024 > 1e3
}

TEST_CASE("§3/§9 bad values: invalid; {{ anywhere is unresolvable and wins over invalid") {
  const Policy policy = standard_policy();
  auto p = place_yaml(R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",
    "metadata":{"name":"q"},"spec":{"templates":[
      {"name":"neg","container":{"resources":{"requests":{"cpu":"-1"}}}},
      {"name":"null","container":{"resources":{"requests":{"cpu":null}}}},
      {"name":"bool","container":{"resources":{"limits":{"cpu":true}}}},
      {"name":"obj","container":{"resources":{"limits":{"cpu":{}}}}},
      {"name":"inner-space","container":{"resources":{"limits":{"cpu":"1 00m"}}}},
      {"name":"unused-bad","container":{"resources":{"requests":{"cpu":"1"},"limits":{"cpu":"x"}}}},
      {"name":"both","container":{"resources":{"requests":{"cpu":"x"}}},
         "sidecars":[{"name":"s","resources":{"limits":{"memory":"{{x}}"}}}]},
      {"name":"pod-expr","podResources":{"requests":{"cpu":"{{a}}"}},"container":{}},
      {"name":"minus-zero","container":{"resources":{"requests":{"cpu":"-0"}}}}]}})",
                      policy);
  for (const char* name : {"neg", "null", "bool", "obj", "inner-space", "unused-bad"}) {
    CHECK_MESSAGE(p.outcome(name) == "invalid", name);
  }
  CHECK(p.outcome("both") == "unresolvable");
  CHECK(p.outcome("pod-expr") == "unresolvable");
  CHECK(p.outcome("minus-zero") == "placed:small");
}

TEST_CASE("§4 fit: a resource missing from capacity has capacity 0; dedicatedTo") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: gpu
      container: {image: x, resources: {limits: {nvidia.com/gpu: 1}}}
    - name: ssd
      container: {image: x, resources: {requests: {example.com/ssd: 1}}}
    - name: zero-gpu
      container: {image: x, resources: {limits: {nvidia.com/gpu: 0, memory: 200Gi}}}
)"),
                      policy);
  CHECK(p.outcome("gpu") == "placed:gpu");
  CHECK(at(p.object, "/spec/templates/0/nodeSelector") == kGpu);
  CHECK(at(p.object, "/spec/templates/0/tolerations") == "[" + kGpuToleration + "]");
  CHECK(p.outcome("ssd") == "no-fit");
  CHECK(p.outcome("zero-gpu") == "no-fit");  // the gpu pool accepts only gpu requests
}

TEST_CASE("§4 FirstFit takes list order; BestFit the least waste, ties to the earlier pool") {
  const std::string pools = R"(  pools:
    - name: wide
      nodeSelector: {pool: wide}
      capacity: {cpu: "8", memory: 8Gi}
    - name: tall
      nodeSelector: {pool: tall}
      capacity: {cpu: "2", memory: 64Gi}
    - name: twin
      nodeSelector: {pool: twin}
      capacity: {cpu: "2", memory: 64Gi}
)";
  const Policy first = policy_from(std::string(kPolicyHeader) + pools);
  const Policy best = policy_from(std::string(kPolicyHeader) + "  strategy: BestFit\n" + pools);
  const std::string wf = workflow(R"(
    - name: mem
      container: {image: x, resources: {requests: {cpu: "1", memory: 6Gi}}}
    - name: nothing
      container: {image: x}
)");
  auto f = place_yaml(wf, first);
  CHECK(f.outcome("mem") == "placed:wide");
  CHECK(f.outcome("nothing") == "placed:wide");  // a zero request is placed by the same rule
  auto b = place_yaml(wf, best);
  // wide: 7/8 + 2/8 = 1.125; tall: 1/2 + 58/64 = 1.40625
  CHECK(b.outcome("mem") == "placed:wide");
  // nothing: wide 2, tall 2, twin 2: the tie goes to the earlier pool
  CHECK(b.outcome("nothing") == "placed:wide");
}

TEST_CASE("§4 BestFit compares sums of ratios exactly") {
  // a: 1/3 + 1/3 + 1/3 = 1 exactly; b: 1 - 1e-27 (indistinguishable as a double) wins.
  const Policy policy = policy_from(std::string(kPolicyHeader) + R"(  strategy: BestFit
  pools:
    - name: a
      nodeSelector: {pool: a}
      capacity: {cpu: "3", memory: "3", x.io/r: "3"}
    - name: b
      nodeSelector: {pool: b}
      capacity: {cpu: "1e18"}
)");
  auto p = place_yaml(workflow(R"(
    - name: t
      container: {image: x, resources: {requests: {cpu: "2", memory: "2", x.io/r: "2"}}}
    - name: u
      container: {image: x, resources: {requests: {cpu: "1n"}}}
)"),
                      policy);
  CHECK(p.outcome("t") == "placed:a");
  CHECK(p.outcome("u") == "placed:b");  // a: 3 - 1e-9/3 vs b: 1 - 1e-27
}

TEST_CASE("§5 Keep: own nodeSelector, nodeAffinity or a caller's nodeSelector is kept") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: main
      nodeSelector: {zone: a}
      steps: [[{name: s, template: called}]]
    - name: own
      nodeSelector: {disk: ssd}
      container: {image: x, resources: {requests: {cpu: "999"}}}
    - name: affinity
      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}
      container: {image: x}
    - name: called
      container: {image: x}
    - name: empty-own
      nodeSelector: {}
      affinity: {nodeAffinity: {}}
      container: {image: x}
)"),
                      policy);
  CHECK(p.outcome("own") == "existing");  // never fit-checked
  CHECK(p.outcome("affinity") == "existing");
  CHECK(p.outcome("called") == "existing");
  CHECK(p.outcome("empty-own") == "placed:small");  // {} counts as none
  CHECK(p.plan.warnings.empty());
  CHECK(at(p.object, "/spec/templates/4/nodeSelector") == kSmall);
  CHECK(at(p.object, "/spec/templates/1/nodeSelector") == R"({"disk":"ssd"})");
}

TEST_CASE("§5 Merge: own plus the pool's keys (pool wins, with an override warning)") {
  const Policy policy = standard_policy("  existingPlacement: Merge\n");
  auto p = place_yaml(workflow(R"(
    - name: own
      nodeSelector: {disk: ssd, node-pool: other}
      container: {image: x}
    - name: affinity-only
      affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: []}}
      container: {image: x}
)"),
                      policy);
  CHECK(at(p.object, "/spec/templates/0/nodeSelector") == R"({"disk":"ssd","node-pool":"small"})");
  CHECK(at(p.object, "/spec/templates/1/nodeSelector") == kSmall);
  CHECK(at(p.object, "/spec/templates/1/affinity") ==
        R"({"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[]}})");
  REQUIRE(p.plan.warnings.size() == 1);
  CHECK(p.plan.warnings[0] ==
        "node-allocator: template \"own\": override: nodeSelector \"node-pool\": \"other\" "
        "replaced by \"small\" of pool small");
  check_idempotent(p, policy);
}

TEST_CASE("§5 Replace: the own nodeSelector is dropped, the inherited one laid under") {
  const Policy policy = standard_policy("  existingPlacement: Replace\n");
  auto p = place_yaml(workflow(R"(
    - name: own
      nodeSelector: {disk: ssd}
      container: {image: x}
)",
                               "  nodeSelector: {zone: eu-1}\n"),
                      policy);
  CHECK(at(p.object, "/spec/templates/0/nodeSelector") == R"({"zone":"eu-1","node-pool":"small"})");
  check_idempotent(p, policy);
}

TEST_CASE("§5 inherited nodeSelector: agreeing callers, else the spec's; conflicts skip") {
  const Policy policy = standard_policy("  existingPlacement: Replace\n");
  auto p = place_yaml(workflow(R"(
    - name: main
      nodeSelector: {zone: a}
      steps: [[{name: s1, template: agreed}, {name: s2, template: conflicted}]]
    - name: other
      nodeSelector: {zone: a}
      dag: {tasks: [{name: t, template: agreed}, {name: u, template: from-spec}]}
    - name: third
      nodeSelector: {zone: b}
      steps: [[{name: s, template: conflicted}]]
    - name: plain
      steps: [[{name: s, template: from-spec}]]
    - {name: agreed, container: {image: x}}
    - {name: conflicted, container: {image: x}}
    - {name: from-spec, container: {image: x}}
    - {name: uncalled, container: {image: x}}
)",
                               "  nodeSelector: {zone: spec}\n"),
                      policy);
  CHECK(p.outcome("agreed") == "placed:small");
  CHECK(at(p.object, "/spec/templates/4/nodeSelector") == R"({"zone":"a","node-pool":"small"})");
  CHECK(p.outcome("conflicted") == "conflicting-callers");
  CHECK(at(p.object, "/spec/templates/5/nodeSelector") == "<missing>");
  // "other" has one and "plain" none: callers without one are ignored.
  CHECK(at(p.object, "/spec/templates/6/nodeSelector") == R"({"zone":"a","node-pool":"small"})");
  CHECK(at(p.object, "/spec/templates/7/nodeSelector") == R"({"zone":"spec","node-pool":"small"})");
  REQUIRE(p.plan.warnings.size() == 1);
  CHECK(p.plan.warnings[0] ==
        "node-allocator: template \"conflicted\": conflicting-callers: callers \"main\" and "
        "\"third\" set different nodeSelectors");
}

TEST_CASE("§5 override warning when a pool key replaces an inherited value") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow("    - {name: a, container: {image: x}}\n",
                               "  nodeSelector: {node-pool: default}\n"),
                      policy);
  CHECK(at(p.object, "/spec/templates/0/nodeSelector") == kSmall);
  REQUIRE(p.plan.warnings.size() == 1);
  CHECK(p.plan.warnings[0] ==
        "node-allocator: template \"a\": override: nodeSelector \"node-pool\": \"default\" "
        "replaced by \"small\" of pool small");
}

TEST_CASE("§5 tolerations: own or inherited, then each pool toleration not already there") {
  const Policy policy = standard_policy();
  const std::string gpu = "{image: x, resources: {limits: {nvidia.com/gpu: 1}}}";
  auto p = place_yaml(workflow(R"(
    - name: own
      tolerations: [{key: a, operator: Exists}]
      container: )" + gpu + R"(
    - name: has-it
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      container: )" + gpu + R"(
    - name: inherits
      container: )" + gpu + R"(
    - name: cpu-only
      container: {image: x}
)",
                               "  tolerations: [{key: spot, operator: Exists}]\n"),
                      policy);
  CHECK(at(p.object, "/spec/templates/0/tolerations") ==
        R"([{"key":"a","operator":"Exists"},)" + kGpuToleration + "]");
  CHECK(at(p.object, "/spec/templates/1/tolerations") == "[" + kGpuToleration + "]");
  CHECK(at(p.object, "/spec/templates/2/tolerations") ==
        R"([{"key":"spot","operator":"Exists"},)" + kGpuToleration + "]");
  CHECK(at(p.object, "/spec/templates/3/tolerations") == "<missing>");  // pool has none
  check_idempotent(p, policy);
}

TEST_CASE("§9 tolerations equal only as written; callers disagreeing conflict in every mode") {
  for (const char* mode : {"Keep", "Merge", "Replace"}) {
    const Policy policy = standard_policy(std::string("  existingPlacement: ") + mode + "\n");
    auto p = place_yaml(workflow(R"(
    - name: a
      tolerations: [{key: x, operator: Exists}]
      steps: [[{name: s, template: gpu}]]
    - name: b
      tolerations: [{key: y, operator: Exists}]
      steps: [[{name: s, template: gpu}]]
    - name: gpu
      container: {image: x, resources: {limits: {nvidia.com/gpu: 1}}}
    - name: written-differently
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule, value: ""}]
      container: {image: x, resources: {limits: {nvidia.com/gpu: 1}}}
)"),
                        policy);
    CHECK_MESSAGE(p.outcome("gpu") == "conflicting-callers", mode);
    CHECK(at(p.object, "/spec/templates/3/tolerations") ==
          R"([{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule","value":""},)" +
              kGpuToleration + "]");
  }
}

TEST_CASE("§9 callers' tolerations agree only as equal lists in the same order") {
  const Policy policy = standard_policy();
  const std::string callers = R"(
    - name: a
      tolerations: [{key: p, operator: Exists}, {key: q, operator: Exists}]
      steps: [[{name: s, template: gpu}]]
    - name: b
      tolerations: %s
      steps: [[{name: s, template: gpu}]]
    - name: gpu
      container: {image: x, resources: {limits: {nvidia.com/gpu: 1}}}
)";
  const auto with_b = [&](std::string_view b) {
    std::string t = callers;
    t.replace(t.find("%s"), 2, b);
    return place_yaml(workflow(t), policy);
  };
  auto reordered = with_b("[{key: q, operator: Exists}, {key: p, operator: Exists}]");
  CHECK(reordered.outcome("gpu") == "conflicting-callers");
  auto same = with_b("[{key: p, operator: Exists}, {key: q, operator: Exists}]");
  CHECK(same.outcome("gpu") == "placed:gpu");
  CHECK(at(same.object, "/spec/templates/2/tolerations") ==
        R"([{"key":"p","operator":"Exists"},{"key":"q","operator":"Exists"},)" + kGpuToleration +
            "]");
}

TEST_CASE("§6 the annotation: compact JSON of this pass, inline names, only when placed") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: main
      steps:
        - - name: outer
            inline:
              steps:
                - - name: inner
                    inline: {container: {image: x}}
    - {name: b, suspend: {}}
)"),
                      policy);
  CHECK(p.outcome("main/outer") == "not-placeable");
  CHECK(p.outcome("main/outer/inner") == "placed:small");  // §9 nested naming
  CHECK(at(p.object, "/metadata/annotations") ==
        R"({"node-allocator.io/placement":"{\"main/outer/inner\":\"small\"}"})");

  auto none = place_yaml(workflow("    - {name: s, suspend: {}}\n"), policy);
  CHECK(none.plan.patch.empty());
}

TEST_CASE("§6 the annotation path escapes '/' as ~1; an equal one is left, a different replaced") {
  const Policy policy = standard_policy();
  auto base = [](std::string_view annotations) {
    return std::string(
               "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: w\n"
               "  annotations: ") +
           std::string(annotations) +
           "\nspec:\n  templates:\n    - name: a\n      nodeSelector: {n: x}\n"
           "      container: {image: x}\n    - name: b\n      container: {image: x}\n";
  };
  auto add = place_yaml(base("{other: y}"), policy);
  CHECK(add.plan.patch.to_json() ==
        R"([{"op":"add","path":"/spec/templates/1/nodeSelector","value":{"node-pool":"small"}},)"
        R"({"op":"add","path":"/metadata/annotations/node-allocator.io~1placement",)"
        R"("value":"{\"b\":\"small\"}"}])");
  auto equal = place_yaml(base(R"({node-allocator.io/placement: '{ "b" : "small" }'})"), policy);
  CHECK(equal.plan.patch.to_json().find("annotations") == std::string::npos);
  auto differ = place_yaml(base(R"({node-allocator.io/placement: '{"a":"small"}'})"), policy);
  CHECK(differ.plan.patch.to_json().find(
            R"({"op":"replace","path":"/metadata/annotations/node-allocator.io~1placement")") !=
        std::string::npos);
}

TEST_CASE("§6 add never targets a missing parent: missing metadata is added whole") {
  const Policy policy = standard_policy();
  auto p = place_yaml(R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",
      "spec":{"templates":[{"name":"a","container":{}}]}})",
                      policy);
  CHECK(p.plan.patch.to_json().find(R"({"op":"add","path":"/metadata","value":{"annotations":)") !=
        std::string::npos);
  CHECK(at(p.object, "/metadata") ==
        R"({"annotations":{"node-allocator.io/placement":"{\"a\":\"small\"}"}})");
}

TEST_CASE("§6 idempotent: the webhook's own output gets no patch (Keep, Merge, Replace, Audit)") {
  const std::string wf = workflow(R"(
    - name: main
      nodeSelector: {zone: a}
      dag: {tasks: [{name: t, template: gpu}, {name: u, inline: {container: {image: x}}}]}
    - name: gpu
      container: {image: x, resources: {limits: {nvidia.com/gpu: 2}}}
    - name: mem
      nodeSelector: {disk: ssd}
      tolerations: [{key: spot, operator: Exists}]
      container: {image: x, resources: {requests: {memory: 100Gi}}}
)",
                                  "  nodeSelector: {node-pool: default}\n");
  for (const char* settings :
       {"  existingPlacement: Keep\n", "  existingPlacement: Merge\n",
        "  existingPlacement: Replace\n", "  mode: Audit\n  existingPlacement: Replace\n"}) {
    const Policy policy = standard_policy(settings);
    auto p = place_yaml(wf, policy);
    // Keep leaves all of these alone (each has existing placement); the others place them.
    CHECK_MESSAGE(p.plan.patch.empty() == std::string_view(settings).ends_with("Keep\n"), settings);
    check_idempotent(p, policy);
  }
}

TEST_CASE("§6 warnings: format, document order, at most 20 with \"N more warnings\"") {
  const Policy policy = standard_policy();
  std::string templates;
  for (int i = 0; i < 25; ++i) {
    templates += "    - {name: t" + std::to_string(i) +
                 ", container: {image: x, resources: {requests: {cpu: \"99\"}}}}\n";
  }
  auto p = place_yaml(workflow(templates), policy);
  REQUIRE(p.plan.warnings.size() == 20);
  CHECK(p.plan.warnings[0] ==
        "node-allocator: template \"t0\": no-fit: requests cpu=99; largest pool highmem has "
        "cpu=16");  // gpu is dedicated to GPU requests
  CHECK(p.plan.warnings[18].starts_with("node-allocator: template \"t18\": no-fit: "));
  CHECK(p.plan.warnings[19] == "node-allocator: 6 more warnings");

  std::string twenty;
  for (int i = 0; i < 20; ++i) {
    twenty += "    - {name: t" + std::to_string(i) +
              ", container: {image: x, resources: {requests: {cpu: \"99\"}}}}\n";
  }
  auto q = place_yaml(workflow(twenty), policy);
  REQUIRE(q.plan.warnings.size() == 20);
  CHECK(q.plan.warnings[19].starts_with("node-allocator: template \"t19\""));
}

TEST_CASE("§6 a patch past kMaxPatchBytes: nothing placed, allowed, one warning") {
  // A spec nodeSelector of 5000 labels is inherited by each of 500 templates: 273 KB asked for
  // a 159 MB answer (400 MB of memory). kube-apiserver could not store the result anyway.
  const auto object_with = [](int labels, int templates) {
    std::string text = R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",)"
                       R"("metadata":{"name":"w"},"spec":{"nodeSelector":{)";
    for (int i = 0; i < labels; ++i) {
      text += (i == 0 ? "\"" : ",\"") + std::string("label-") + std::to_string(i) +
              R"(.example/key":"vvvvvvvvvvvvvvvvvvvv")";
    }
    text += R"(},"templates":[)";
    for (int i = 0; i < templates; ++i) {
      text += std::string(i == 0 ? "" : ",") + R"({"name":"t)" + std::to_string(i) +
              R"(","container":{"image":"x"}})";
    }
    return text + "]}}";
  };
  const Policy policy = standard_policy();
  auto big = place_yaml(object_with(5000, 500), policy);
  CHECK(big.plan.patch.empty());
  CHECK_FALSE(big.plan.denied);
  CHECK(big.plan.templates.empty());
  REQUIRE(big.plan.warnings.size() == 1);
  CHECK(big.plan.warnings[0].starts_with("node-allocator: the patch would exceed 3145728 bytes"));
  CHECK(big.plan.warnings[0].size() <= kMaxWarningBytes);
  // Under the limit (5000 labels for 10 templates: about 2.4 MB) it is placed as ever.
  auto fits = place_yaml(object_with(5000, 10), policy);
  CHECK(fits.plan.patch.size() == 11);  // ten nodeSelectors and the annotation
  CHECK(fits.plan.patch.bytes() > kMaxPatchBytes / 2);
  CHECK(fits.outcome("t9") == "placed:small");
}

TEST_CASE("§6 warnings stay short and free of control characters") {
  const Policy policy = standard_policy();
  auto p = place_yaml(R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",
      "metadata":{"name":"w"},"spec":{"templates":[{"name":"a\nb\u0007)" +
                          std::string(400, 'x') +
                          R"(","container":{"resources":{"requests":{"cpu":"9999"}}}}]}})",
                      policy);
  REQUIRE(p.plan.warnings.size() == 1);
  CHECK(p.plan.warnings[0].size() <= kMaxWarningBytes);
  CHECK(p.plan.warnings[0].starts_with("node-allocator: template \"a?b?xxx"));
  for (char c : p.plan.warnings[0]) CHECK(static_cast<unsigned char>(c) >= 0x20);
}

TEST_CASE("§6 onNoFit Reject denies with every template that fits nowhere; Audit only warns") {
  const std::string wf = workflow(R"(
    - {name: ok, container: {image: x}}
    - {name: big, container: {image: x, resources: {requests: {cpu: "64"}}}}
    - {name: huge, container: {image: x, resources: {requests: {memory: 1Ti}}}}
)");
  const Policy reject = standard_policy("  onNoFit: Reject\n");
  auto p = place_yaml(wf, reject);
  CHECK(p.plan.denied);
  CHECK(p.plan.patch.empty());
  CHECK(p.plan.denial ==
        "node-allocator: 2 templates fit no node pool: \"big\" requests cpu=64; \"huge\" requests "
        "memory=1Ti; pools: small (cpu=4, memory=16Gi); highmem (cpu=16, memory=128Gi); gpu "
        "(cpu=32, memory=240Gi, nvidia.com/gpu=4)");
  CHECK(at(p.object, "/spec/templates/0/nodeSelector") == "<missing>");

  const Policy audit = standard_policy("  mode: Audit\n  onNoFit: Reject\n");
  auto a = place_yaml(wf, audit);
  CHECK(!a.plan.denied);
  CHECK(a.plan.warnings.size() == 2);
  CHECK(at(a.object, "/spec/templates/0/nodeSelector") == "<missing>");  // Audit: no changes
  CHECK(at(a.object, "/metadata/annotations") ==
        R"({"node-allocator.io/placement":"{\"ok\":\"small\"}"})");
}

TEST_CASE("§9 reasons are checked in order; existing and opted-out never cause a Reject") {
  const Policy policy = standard_policy("  onNoFit: Reject\n");
  auto p = place_yaml(workflow(R"(
    - name: kept
      nodeSelector: {a: b}
      container: {image: x, resources: {requests: {cpu: "{{x}}", memory: 9Ti}}}
    - name: skipped
      metadata: {annotations: {node-allocator.io/skip: "true"}}
      container: {image: x, resources: {requests: {memory: 9Ti}}}
    - name: expr-over-nofit
      container: {image: x, resources: {requests: {cpu: "{{x}}", memory: 9Ti}}}
    - name: invalid-over-nofit
      container: {image: x, resources: {requests: {cpu: "x", memory: 9Ti}}}
)"),
                      policy);
  CHECK(p.outcome("kept") == "existing");
  CHECK(p.outcome("skipped") == "opted-out");
  CHECK(p.outcome("expr-over-nofit") == "unresolvable");
  CHECK(p.outcome("invalid-over-nofit") == "invalid");
  CHECK(!p.plan.denied);
}

TEST_CASE("§9 callers are only steps/dag template references, not onExit, hooks, templateRef") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: main
      nodeSelector: {zone: a}
      steps:
        - - name: s
            templateRef: {name: other, template: target}
            onExit: target
            hooks: {exit: {template: target}}
    - {name: target, container: {image: x}}
)",
                               "  onExit: target\n  templateDefaults: {nodeSelector: {x: y}}\n"),
                      policy);
  CHECK(p.outcome("target") == "placed:small");  // not existing: main is not its caller
  CHECK(at(p.object, "/spec/templates/1/nodeSelector") == kSmall);  // templateDefaults ignored
}

TEST_CASE("§3 podSpecPatch: names a template's own patch adds are placed by and reported") {
  // The request's names point into the parsed patch: they must outlive the template's decision
  // (a use after free here is what AddressSanitizer reports).
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: gpu-by-patch
      podSpecPatch: '{"containers":[{"name":"main","resources":{"limits":{"nvidia.com/gpu":"1"}}}]}'
      container: {image: x, resources: {requests: {cpu: "1"}}}
    - name: fpga-by-patch
      podSpecPatch: '{"containers":[{"name":"main","resources":{"requests":{"example.com/fpga":"1"}}}]}'
      container: {image: x, resources: {requests: {cpu: "1"}}}
)"),
                      policy);
  CHECK(p.outcome("gpu-by-patch") == "placed:gpu");  // dedicatedTo matched the patch's name
  CHECK(p.outcome("fpga-by-patch") == "no-fit");
  REQUIRE(p.plan.warnings.size() == 1);
  CHECK(p.plan.warnings[0].find("requests cpu=1, example.com/fpga=1;") != std::string::npos);
}

TEST_CASE("§3 podSpecPatch: null deletes a key or a map, as a strategic merge patch does") {
  const Policy policy = standard_policy();
  auto p = place_yaml(workflow(R"(
    - name: key-deleted
      podSpecPatch: '{"containers":[{"name":"main","resources":{"requests":{"memory":null}}}]}'
      container: {image: x, resources: {requests: {memory: 100Gi}}}
    - name: requests-deleted
      podSpecPatch: '{"containers":[{"name":"main","resources":{"requests":null}}]}'
      container: {image: x, resources: {requests: {memory: 100Gi}, limits: {memory: 20Gi}}}
    - name: resources-deleted
      podSpecPatch: '{"containers":[{"name":"main","resources":null}]}'
      container: {image: x, resources: {requests: {memory: 100Gi}}}
)"),
                      policy);
  CHECK(p.outcome("key-deleted") == "placed:small");
  CHECK(p.outcome("requests-deleted") == "placed:highmem");  // limits remain: 20Gi
  CHECK(p.outcome("resources-deleted") == "placed:small");
}

TEST_CASE("§5 TemplateFields: every field placement reads, the last of duplicates, in one pass") {
  const auto t = json::parse(
      R"({"name":"a","metadata":{},"container":{},"script":1,"containerSet":2,"sidecars":3,)"
      R"("initContainers":4,"resource":5,"data":6,"steps":7,"dag":8,"nodeSelector":9,)"
      R"("affinity":10,"tolerations":11,"podSpecPatch":12,"podResources":13,"inputs":{},)"
      R"("name":"b","nodeSelector":{"last":"wins"},"Container":{},"dags":1})");
  REQUIRE(t.ok());
  const TemplateFields f = TemplateFields::of(t.value());
  CHECK(json::str(*f.name) == "b");
  CHECK(json::write(*f.node_selector) == R"({"last":"wins"})");
  CHECK(f.metadata->IsObject());
  CHECK(f.container->IsObject());  // not "Container"
  const std::pair<const json::Value*, std::string_view> numbered[] = {
      {f.script, "1"},          {f.container_set, "2"},
      {f.sidecars, "3"},        {f.init_containers, "4"},
      {f.resource, "5"},        {f.data, "6"},
      {f.steps, "7"},           {f.dag, "8"},
      {f.affinity, "10"},       {f.tolerations, "11"},
      {f.pod_spec_patch, "12"}, {f.pod_resources, "13"}};
  for (const auto& [value, text] : numbered) {
    REQUIRE(value != nullptr);
    CHECK(json::write(*value) == text);
  }
  const auto not_object = json::parse(R"(["container"])");
  REQUIRE(not_object.ok());
  const TemplateFields none = TemplateFields::of(not_object.value());
  CHECK(none.container == nullptr);
  CHECK(none.name == nullptr);
}
