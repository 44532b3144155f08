// The placement policy (spec §4, §9): loading, defaults, every error with its field and line,
// and the fit / dedicatedTo rules of a pool.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/policy.hpp"
#include "core/quantity.hpp"

namespace nodealloc {
namespace {

// Every error as "line N: field: message".
std::vector<std::string> errors_of(std::string_view yaml) {
  auto p = parse_policy(yaml);
  REQUIRE_MESSAGE(!p.ok(), "the policy loaded: " << yaml);
  std::vector<std::string> out;
  for (const auto& e : p.error()) out.push_back(e.to_string());
  return out;
}

// The one error of a policy that has exactly one.
std::string error_of(std::string_view yaml) {
  auto all = errors_of(yaml);
  REQUIRE_MESSAGE(all.size() == 1,
                  "errors: " << all.size() << (all.empty() ? "" : ", first: " + all[0]));
  return all.front();
}

Policy load(std::string_view yaml) {
  auto p = parse_policy(yaml);
  if (!p.ok()) {
    std::string all;
    for (const auto& e : p.error()) all += e.to_string() + "\n";
    FAIL("policy does not load: " << all);
  }
  return std::move(p.value());
}

// A policy with a single pool whose body (indented six spaces, after "- name: p") is `pool`.
// Line 6 is "    - name: p", so the pool's first extra line is line 7.
std::string one_pool(std::string_view pool) {
  return std::string(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  mode: Enforce
  pools:
    - name: p
)") + std::string(pool);
}

constexpr std::string_view kSelectorAndCapacity =
    "      nodeSelector: {pool: p}\n"
    "      capacity: {cpu: \"4\"}\n";

// One pool with a valid selector and capacity and the given toleration list item(s) (line 10 on).
std::string with_tolerations(std::string_view items) {
  return one_pool(std::string(kSelectorAndCapacity) + "      tolerations:\n" + std::string(items));
}

Quantity qty(std::string_view text) {
  auto q = parse_quantity(text);
  REQUIRE(q.has_value());
  return *q;
}

using Items = std::initializer_list<std::pair<const char*, const char*>>;

template <class List = ResourceList>
List request(Items items) {
  List r;
  for (const auto& [name, amount] : items) r.emplace(name, qty(amount));
  return r;
}

// The same as a template's request (names as views: of the literals here).
RequestList requested(Items items) {
  return request<RequestList>(items);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("§4 resource names are ordered as std::less orders them, compared in line") {
  const std::vector<std::string> names = {"",
                                          "cpu",
                                          "cpus",
                                          "cp",
                                          "memory",
                                          "Memory",
                                          "nvidia.com/gpu",
                                          "nvidia.com",
                                          "a\xff",
                                          "a\x7f",
                                          "a\x80"
                                          "b",
                                          "ephemeral-storage"};
  for (const auto& a : names) {
    for (const auto& b : names) {
      CAPTURE(a);
      CAPTURE(b);
      CHECK(NameLess{}(a, b) == std::less<>{}(a, b));
      const int order = std::string_view(a).compare(b);
      CHECK(NameLess::compare(a, b) == (order < 0 ? -1 : order > 0 ? 1 : 0));
    }
  }
}

TEST_CASE("§4 policy: the example policy loads, with its pools in order") {
  const Policy p = load(read_file(NODEALLOC_SOURCE_DIR "/examples/policy.yaml"));
  CHECK(p.mode == Mode::Enforce);
  CHECK(p.strategy == Strategy::FirstFit);
  CHECK(p.existing_placement == ExistingPlacement::Keep);
  CHECK(p.on_no_fit == OnNoFit::Skip);
  REQUIRE(p.pools.size() == 3);
  CHECK(p.pools[0].name == "small");
  CHECK(p.pools[1].name == "highmem");
  CHECK(p.pools[2].name == "gpu");
  CHECK(p.executor_overhead.at("cpu") == qty("10m"));
  CHECK(p.executor_overhead.at("memory") == qty("64Mi"));

  const Pool& gpu = p.pools[2];
  REQUIRE(gpu.node_selector.size() == 2);
  CHECK(gpu.node_selector[0] == std::pair<std::string, std::string>{"node-pool", "gpu"});
  CHECK(gpu.node_selector[1] ==
        std::pair<std::string, std::string>{"nvidia.com/gpu.present", "true"});
  CHECK(gpu.capacity.at("nvidia.com/gpu") == qty("4"));
  CHECK(gpu.capacity.at("memory") == qty("240Gi"));
  CHECK(gpu.dedicated_to == std::vector<std::string>{"nvidia.com/gpu"});
  CHECK(json::write(gpu.tolerations) ==
        R"([{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}])");
  CHECK(json::write(p.pools[0].tolerations) == "[]");
  CHECK(p.pools[0].dedicated_to.empty());
}

TEST_CASE("§7 check-policy: the summary of the example policy") {
  const Policy p = load(read_file(NODEALLOC_SOURCE_DIR "/examples/policy.yaml"));
  CHECK(p.summary() ==
        "3 pools (small, highmem, gpu); mode Enforce, strategy FirstFit, existingPlacement Keep, "
        "onNoFit Skip; executorOverhead cpu=10m, memory=64Mi");
}

TEST_CASE("§9 policy: defaults when omitted are Enforce, FirstFit, Keep, Skip") {
  const Policy p = load(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  pools:
    - {name: only, nodeSelector: {a: b}, capacity: {cpu: "1"}}
)");
  CHECK(p.mode == Mode::Enforce);
  CHECK(p.strategy == Strategy::FirstFit);
  CHECK(p.existing_placement == ExistingPlacement::Keep);
  CHECK(p.on_no_fit == OnNoFit::Skip);
  CHECK(p.executor_overhead.empty());
  CHECK(p.summary() ==
        "1 pool (only); mode Enforce, strategy FirstFit, existingPlacement Keep, onNoFit Skip");
}

TEST_CASE("§4 policy: every enum value is read") {
  const Policy p = load(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
metadata: {name: anything}
spec:
  mode: Audit
  strategy: BestFit
  existingPlacement: Replace
  onNoFit: Reject
  pools:
    - {name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}
)");
  CHECK(p.mode == Mode::Audit);
  CHECK(p.strategy == Strategy::BestFit);
  CHECK(p.existing_placement == ExistingPlacement::Replace);
  CHECK(p.on_no_fit == OnNoFit::Reject);
  CHECK(p.summary() ==
        "1 pool (a); mode Audit, strategy BestFit, existingPlacement Replace, onNoFit Reject");
  const Policy merge = load(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  existingPlacement: Merge
  pools: [{name: a, nodeSelector: {a: b}, capacity: {}}]
)");
  CHECK(merge.existing_placement == ExistingPlacement::Merge);
  CHECK(merge.pools[0].capacity.empty());
}

TEST_CASE("§9 policy: numbers are read from their text (cpu: 0.1 is \"100m\")") {
  const Policy p = load(one_pool(R"(      nodeSelector: {pool: p}
      capacity: {cpu: 0.1, memory: 1e3, big: 12345678901234567890, pods: 010, gpu: 1.}
)"));
  const ResourceList& c = p.pools[0].capacity;
  CHECK(c.at("cpu") == qty("100m"));
  CHECK(c.at("memory") == qty("1k"));
  CHECK(c.at("big").nanos().str() == "12345678901234567890000000000");  // no double rounding
  CHECK(c.at("pods") == qty("10"));  // the text "010", not YAML 1.1's octal 8
  CHECK(c.at("gpu") == qty("1"));
}

TEST_CASE("§4 policy: label values that YAML would type are read as text") {
  const Policy p = load(one_pool(R"(      nodeSelector: {gpu: true, zone: 1, flag: yes, v: 1.10}
      capacity: {cpu: "4"}
)"));
  const LabelMap& ns = p.pools[0].node_selector;
  REQUIRE(ns.size() == 4);
  CHECK(ns[0].second == "true");
  CHECK(ns[1].second == "1");
  CHECK(ns[2].second == "yes");
  CHECK(ns[3].second == "1.10");
}

TEST_CASE("§4 policy errors: unknown fields at each level name the field and line") {
  CHECK(error_of(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spek: {}
spec:
  pools: [{name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}]
)") == "line 3: spek: unknown field");
  CHECK(error_of(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  pools: [{name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}]
  strategie: BestFit
)") == "line 5: spec.strategie: unknown field");
  CHECK(error_of(one_pool(std::string(kSelectorAndCapacity) + "      weight: 3\n")) ==
        "line 9: spec.pools[0].weight: unknown field");
  CHECK(error_of(with_tolerations("        - {key: a, operator: Exists, effect: NoSchedule, "
                                  "tolerationSecond: 5}\n")) ==
        "line 10: spec.pools[0].tolerations[0].tolerationSecond: unknown field");
}

TEST_CASE("§4 policy errors: a repeated field") {
  CHECK(error_of(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  mode: Enforce
  pools: [{name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}]
  mode: Audit
)") == "line 6: spec.mode: repeated field");
  CHECK(error_of(one_pool(std::string(kSelectorAndCapacity) + "      name: q\n")) ==
        "line 9: spec.pools[0].name: repeated field");
}

TEST_CASE("§4 policy errors: a repeated resource in capacity") {
  CHECK(error_of(one_pool(R"(      nodeSelector: {pool: p}
      capacity:
        cpu: "4"
        cpu: "8"
)")) == "line 10: spec.pools[0].capacity.cpu: repeated resource");
}

TEST_CASE("§4 policy errors: a repeated label key in nodeSelector") {
  CHECK(error_of(one_pool(R"(      nodeSelector:
        pool: a
        pool: b
      capacity: {cpu: "4"}
)")) == "line 9: spec.pools[0].nodeSelector.pool: repeated label key");
}

TEST_CASE("§4 policy errors: bad enum values list the allowed ones") {
  auto errors = errors_of(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  mode: enforce
  strategy: WorstFit
  existingPlacement: Drop
  onNoFit: Fail
  pools: [{name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}]
)");
  CHECK(errors == std::vector<std::string>{
                      "line 4: spec.mode: \"enforce\" is not one of Enforce | Audit",
                      "line 5: spec.strategy: \"WorstFit\" is not one of FirstFit | BestFit",
                      "line 6: spec.existingPlacement: \"Drop\" is not one of Keep | Merge | "
                      "Replace",
                      "line 7: spec.onNoFit: \"Fail\" is not one of Skip | Reject",
                  });
  CHECK(error_of(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  mode: [Enforce]
  pools: [{name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}]
)") == "line 4: spec.mode: must be a single value");
}

TEST_CASE("§4 policy errors: apiVersion and kind are checked") {
  CHECK(errors_of(R"(apiVersion: v1
kind: ConfigMap
spec:
  pools: [{name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}]
)") == std::vector<std::string>{
           "line 1: apiVersion: must be \"node-allocator.io/v1\", not \"v1\"",
           "line 2: kind: must be \"PlacementPolicy\", not \"ConfigMap\"",
       });
  CHECK(errors_of(R"(spec:
  pools: [{name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}]
)") == std::vector<std::string>{
           "line 1: apiVersion: is required (\"node-allocator.io/v1\")",
           "line 1: kind: is required (\"PlacementPolicy\")",
       });
}

TEST_CASE("§4 policy errors: missing spec, missing or empty pools") {
  CHECK(error_of("apiVersion: node-allocator.io/v1\nkind: PlacementPolicy\n") ==
        "line 1: spec: is required");
  CHECK(error_of("apiVersion: node-allocator.io/v1\nkind: PlacementPolicy\nspec:\n  mode: "
                 "Audit\n") == "line 4: spec.pools: is required");
  CHECK(error_of("apiVersion: node-allocator.io/v1\nkind: PlacementPolicy\nspec:\n  pools: []\n") ==
        "line 4: spec.pools: must be a non-empty list");
  CHECK(error_of("apiVersion: node-allocator.io/v1\nkind: PlacementPolicy\nspec:\n  pools: "
                 "{a: b}\n") == "line 4: spec.pools: must be a non-empty list");
  CHECK(error_of("apiVersion: node-allocator.io/v1\nkind: PlacementPolicy\nspec: [1]\n") ==
        "line 3: spec: must be a mapping");
}

TEST_CASE("§4 policy errors: an empty file or a non-mapping document") {
  auto empty = parse_policy("");
  REQUIRE_FALSE(empty.ok());
  REQUIRE(empty.error().size() == 1);
  CHECK(empty.error()[0].line == 0);
  CHECK(empty.error()[0].to_string() == "the policy is empty");
  CHECK(error_of("# only a comment\n") == "the policy is empty");
  CHECK(error_of("- a\n- b\n") == "line 1: must be a mapping");
}

TEST_CASE("§4 policy errors: a pool's name must be a DNS label") {
  for (std::string_view name :
       {"Small", "gpu_pool", "-a", "a-", "a.b", "\"\"",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    CAPTURE(name);
    std::string yaml = R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  pools:
    - nodeSelector: {a: b}
      capacity: {cpu: "1"}
      name: )" + std::string(name) +
                       "\n";
    const std::string shown = name == "\"\"" ? "" : std::string(name);
    CHECK(error_of(yaml) == "line 7: spec.pools[0].name: \"" + shown + "\" is not a DNS label");
  }
  // 63 characters is the limit.
  CHECK(load(one_pool(kSelectorAndCapacity)).pools[0].name == "p");
  const std::string name63(63, 'a');
  CHECK(load(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  pools: [{name: )" +
             name63 + R"(, nodeSelector: {a: b}, capacity: {}}]
)")
            .pools[0]
            .name == name63);
}

TEST_CASE("§4 policy errors: a missing name, nodeSelector or capacity") {
  CHECK(errors_of(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  pools:
    - dedicatedTo: [cpu]
)") == std::vector<std::string>{
           "line 5: spec.pools[0].name: is required",
           "line 5: spec.pools[0].nodeSelector: is required",
           "line 5: spec.pools[0].capacity: is required",
           "line 5: spec.pools[0].dedicatedTo[0]: \"cpu\" must also appear in capacity",
       });
}

TEST_CASE("§4 policy errors: a repeated pool name") {
  CHECK(error_of(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  pools:
    - {name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}
    - {name: b, nodeSelector: {a: c}, capacity: {cpu: "1"}}
    - {name: a, nodeSelector: {a: d}, capacity: {cpu: "1"}}
)") == "line 7: spec.pools[2].name: \"a\" is repeated");
}

TEST_CASE("§4 policy errors: nodeSelector must be a non-empty mapping") {
  CHECK(error_of(one_pool("      nodeSelector: {}\n      capacity: {cpu: \"1\"}\n")) ==
        "line 7: spec.pools[0].nodeSelector: must be a non-empty mapping of label keys to values");
  CHECK(error_of(one_pool("      nodeSelector: [a]\n      capacity: {cpu: \"1\"}\n")) ==
        "line 7: spec.pools[0].nodeSelector: must be a non-empty mapping of label keys to values");
  CHECK(error_of(one_pool("      nodeSelector:\n      capacity: {cpu: \"1\"}\n")) ==
        "line 7: spec.pools[0].nodeSelector: must be a non-empty mapping of label keys to values");
}

TEST_CASE("§4 policy errors: an empty value is reported on its key's line") {
  CHECK(errors_of(
            one_pool("      nodeSelector: {a: b}\n      capacity:\n      dedicatedTo: [cpu]\n")) ==
        std::vector<std::string>{
            "line 8: spec.pools[0].capacity: must be a mapping of resource names to quantities",
            "line 9: spec.pools[0].dedicatedTo[0]: \"cpu\" must also appear in capacity",
        });
  CHECK(error_of(one_pool("      nodeSelector: ~\n      capacity: {cpu: \"1\"}\n")) ==
        "line 7: spec.pools[0].nodeSelector: must be a non-empty mapping of label keys to values");
  CHECK(
      error_of("apiVersion: node-allocator.io/v1\nkind: PlacementPolicy\nspec:\n  pools:\n\n\n") ==
      "line 4: spec.pools: must be a non-empty list");
  CHECK(
      error_of("apiVersion: node-allocator.io/v1\nkind: PlacementPolicy\nspec:\n  mode:\n  pools: "
               "[{name: a, nodeSelector: {a: b}, capacity: {}}]\n") ==
      "line 4: spec.mode: must be a single value");
}

TEST_CASE("§4 policy errors: invalid label keys and values") {
  CHECK(error_of(one_pool(R"(      nodeSelector:
        ok: fine
        bad key: x
      capacity: {cpu: "1"}
)")) == "line 9: spec.pools[0].nodeSelector.bad key: \"bad key\" is not a valid label key");
  CHECK(error_of(one_pool(R"(      nodeSelector:
        Example.com/x: x
      capacity: {cpu: "1"}
)")) == "line 8: spec.pools[0].nodeSelector.Example.com/x: \"Example.com/x\" is not a valid "
        "label key");
  CHECK(error_of(one_pool(R"(      nodeSelector:
        a: -starts-with-dash
      capacity: {cpu: "1"}
)")) == "line 8: spec.pools[0].nodeSelector.a: \"-starts-with-dash\" is not a valid label value");
  CHECK(error_of(one_pool("      nodeSelector: {a: " + std::string(64, 'v') +
                          "}\n      capacity: {cpu: \"1\"}\n")) ==
        "line 7: spec.pools[0].nodeSelector.a: \"" + std::string(64, 'v') +
            "\" is not a valid label value");
  CHECK(error_of(one_pool("      nodeSelector: {a: {b: c}}\n      capacity: {cpu: \"1\"}\n")) ==
        "line 7: spec.pools[0].nodeSelector.a: must be a single value");
  // Accepted: prefixed keys, empty values, 63-character values.
  const Policy p =
      load(one_pool("      nodeSelector: {example.com/tier: \"\", k_1.x: " + std::string(63, 'v') +
                    "}\n      capacity: {cpu: \"1\"}\n"));
  REQUIRE(p.pools[0].node_selector.size() == 2);
  CHECK(p.pools[0].node_selector[0].second.empty());
}

TEST_CASE("§4 policy errors: a bad, negative or too large quantity") {
  CHECK(error_of(one_pool("      nodeSelector: {a: b}\n      capacity: {cpu: 4 cores}\n")) ==
        "line 8: spec.pools[0].capacity.cpu: \"4 cores\" is not a quantity");
  CHECK(error_of(one_pool("      nodeSelector: {a: b}\n      capacity: {memory: 1Qi}\n")) ==
        "line 8: spec.pools[0].capacity.memory: \"1Qi\" is not a quantity");
  CHECK(error_of(one_pool("      nodeSelector: {a: b}\n      capacity: {cpu: -1}\n")) ==
        "line 8: spec.pools[0].capacity.cpu: must not be negative");
  CHECK(error_of(one_pool("      nodeSelector: {a: b}\n      capacity: {cpu: 1e2000}\n")) ==
        "line 8: spec.pools[0].capacity.cpu: is too large");
  CHECK(error_of(one_pool("      nodeSelector: {a: b}\n      capacity: {cpu: [1]}\n")) ==
        "line 8: spec.pools[0].capacity.cpu: must be a single value");
  CHECK(error_of(one_pool("      nodeSelector: {a: b}\n      capacity: {bad/name/x: 1}\n")) ==
        "line 8: spec.pools[0].capacity.bad/name/x: \"bad/name/x\" is not a valid resource name");
  CHECK(error_of(one_pool("      nodeSelector: {a: b}\n      capacity: [1]\n")) ==
        "line 8: spec.pools[0].capacity: must be a mapping of resource names to quantities");
  CHECK(error_of(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  executorOverhead: {cpu: 10x}
  pools: [{name: a, nodeSelector: {a: b}, capacity: {cpu: "1"}}]
)") == "line 4: spec.executorOverhead.cpu: \"10x\" is not a quantity");
  // Surrounding white space in a quoted quantity is trimmed, as Kubernetes does.
  CHECK(load(one_pool("      nodeSelector: {a: b}\n      capacity: {cpu: \" 2 \"}\n"))
            .pools[0]
            .capacity.at("cpu") == qty("2"));
}

TEST_CASE("§4 policy errors: dedicatedTo names a resource absent from capacity") {
  CHECK(error_of(one_pool(std::string(kSelectorAndCapacity) +
                          "      dedicatedTo: [cpu, nvidia.com/gpu]\n")) ==
        "line 9: spec.pools[0].dedicatedTo[1]: \"nvidia.com/gpu\" must also appear in capacity");
  CHECK(error_of(one_pool(std::string(kSelectorAndCapacity) + "      dedicatedTo: []\n")) ==
        "line 9: spec.pools[0].dedicatedTo: must be a non-empty list of resource names");
  CHECK(error_of(one_pool(std::string(kSelectorAndCapacity) + "      dedicatedTo: cpu\n")) ==
        "line 9: spec.pools[0].dedicatedTo: must be a non-empty list of resource names");
}

TEST_CASE("§4 policy errors: tolerations must be a list of mappings") {
  CHECK(error_of(one_pool(std::string(kSelectorAndCapacity) + "      tolerations: {a: b}\n")) ==
        "line 9: spec.pools[0].tolerations: must be a list of tolerations");
  CHECK(error_of(with_tolerations("        - key=a\n")) ==
        "line 10: spec.pools[0].tolerations[0]: must be a mapping");
}

TEST_CASE("§4 policy errors: a toleration's operator must be Equal or Exists") {
  CHECK(error_of(with_tolerations("        - {key: a, operator: In, value: b}\n")) ==
        "line 10: spec.pools[0].tolerations[0].operator: \"In\" is not one of Equal | Exists");
}

TEST_CASE("§4 policy errors: a toleration's effect must be a taint effect") {
  CHECK(error_of(with_tolerations("        - {key: a, operator: Exists, effect: NoExec}\n")) ==
        "line 10: spec.pools[0].tolerations[0].effect: \"NoExec\" is not one of NoSchedule | "
        "PreferNoSchedule | NoExecute");
}

TEST_CASE("§4 policy errors: Exists with a value") {
  CHECK(error_of(with_tolerations("        - {key: a, operator: Exists, value: b}\n")) ==
        "line 10: spec.pools[0].tolerations[0].value: must be empty when operator is Exists");
  // An empty value is allowed with Exists.
  CHECK(
      load(with_tolerations("        - {key: a, operator: Exists, value: \"\"}\n")).pools.size() ==
      1);
}

TEST_CASE("§4 policy errors: tolerationSeconds only with NoExecute, and whole seconds") {
  CHECK(error_of(with_tolerations(
            "        - {key: a, operator: Exists, effect: NoSchedule, tolerationSeconds: 60}\n")) ==
        "line 10: spec.pools[0].tolerations[0].tolerationSeconds: may only be set when effect is "
        "NoExecute");
  for (std::string_view bad : {"1.5", "\"60\"", "sixty", "99999999999999999999", "[1]"}) {
    CAPTURE(bad);
    const auto all = errors_of(with_tolerations(
        "        - {key: a, operator: Exists, effect: NoExecute, tolerationSeconds: " +
        std::string(bad) + "}\n"));
    REQUIRE(all.size() == 1);
    const std::string message =
        bad == "[1]" ? "must be a single value" : "must be a whole number of seconds";
    CHECK(all[0] == "line 10: spec.pools[0].tolerations[0].tolerationSeconds: " + message);
  }
  const Policy p = load(with_tolerations(
      "        - {key: a, operator: Exists, effect: NoExecute, tolerationSeconds: 300}\n"
      "        - {key: b, operator: Exists, effect: NoExecute, tolerationSeconds: -1}\n"));
  CHECK(json::write(p.pools[0].tolerations) ==
        R"([{"key":"a","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},)"
        R"({"key":"b","operator":"Exists","effect":"NoExecute","tolerationSeconds":-1}])");
}

TEST_CASE("§4 policy errors: an empty key needs operator Exists") {
  CHECK(error_of(with_tolerations("        - {operator: Equal, value: x}\n")) ==
        "line 10: spec.pools[0].tolerations[0].operator: must be Exists when key is empty");
  CHECK(error_of(with_tolerations("        - {effect: NoSchedule}\n")) ==
        "line 10: spec.pools[0].tolerations[0].operator: must be Exists when key is empty");
  // Tolerate everything: no key, Exists.
  const Policy p = load(with_tolerations("        - {operator: Exists}\n"));
  CHECK(json::write(p.pools[0].tolerations) == R"([{"operator":"Exists"}])");
}

TEST_CASE("§4 policy errors: invalid toleration key and value") {
  CHECK(error_of(with_tolerations("        - {key: \"bad key\", operator: Exists}\n")) ==
        "line 10: spec.pools[0].tolerations[0].key: \"bad key\" is not a valid taint key");
  CHECK(error_of(with_tolerations("        - {key: a, value: \"-x\"}\n")) ==
        "line 10: spec.pools[0].tolerations[0].value: \"-x\" is not a valid taint value");
}

TEST_CASE("§4 policy: tolerations keep their fields as written (operator not defaulted)") {
  const Policy p =
      load(with_tolerations("        - key: dedicated\n"
                            "          value: ml\n"
                            "          effect: NoSchedule\n"));
  CHECK(json::write(p.pools[0].tolerations) ==
        R"([{"key":"dedicated","value":"ml","effect":"NoSchedule"}])");
}

TEST_CASE("§4 policy errors: several errors are reported at once, in document order") {
  auto errors = errors_of(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  mode: Loud
  pools:
    - name: Bad_Name
      nodeSelector: {}
      capacity: {cpu: lots}
    - name: ok
      nodeSelector: {a: b}
      capacity: {cpu: "1"}
      dedicatedTo: [gpu]
      tolerations:
        - {key: t, operator: Maybe}
)");
  CHECK(errors == std::vector<std::string>{
                      "line 4: spec.mode: \"Loud\" is not one of Enforce | Audit",
                      "line 6: spec.pools[0].name: \"Bad_Name\" is not a DNS label",
                      "line 7: spec.pools[0].nodeSelector: must be a non-empty mapping of label "
                      "keys to values",
                      "line 8: spec.pools[0].capacity.cpu: \"lots\" is not a quantity",
                      "line 12: spec.pools[1].dedicatedTo[0]: \"gpu\" must also appear in capacity",
                      "line 14: spec.pools[1].tolerations[0].operator: \"Maybe\" is not one of "
                      "Equal | Exists",
                  });
}

TEST_CASE("§4 policy errors: invalid YAML gives its line") {
  auto p = parse_policy(R"(apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  pools:
    - name: a
      nodeSelector: {a: b
      capacity: {cpu: "1"}
)");
  REQUIRE_FALSE(p.ok());
  REQUIRE(p.error().size() == 1);
  CHECK(p.error()[0].line >= 6);
  CHECK(p.error()[0].line <= 7);
  CHECK(p.error()[0].to_string().rfind(
            "line " + std::to_string(p.error()[0].line) + ": invalid YAML: ", 0) == 0);
  auto tab = parse_policy("spec:\n  a: b\n\tc: d\n");
  REQUIRE_FALSE(tab.ok());
  CHECK(tab.error()[0].line == 3);
  CHECK(tab.error()[0].message.rfind("invalid YAML: ", 0) == 0);
}

TEST_CASE("§4 fit: R[r] <= capacity[r] for every requested resource") {
  Pool pool;
  pool.capacity = request({{"cpu", "4"}, {"memory", "16Gi"}});
  CHECK(pool.fits(requested({{"cpu", "4"}, {"memory", "16Gi"}})));  // equal fits
  CHECK(pool.fits(requested({{"cpu", "3999m"}})));
  CHECK_FALSE(pool.fits(requested({{"cpu", "4001m"}})));
  CHECK_FALSE(pool.fits(requested({{"cpu", "1"}, {"memory", "16Gi"}, {"x", "1n"}})));
  CHECK_FALSE(pool.fits(requested({{"memory", "17179869185"}})));  // 16Gi + 1 byte
  CHECK(pool.fits(requested({{"cpu", "0.1"}, {"memory", "100m"}})));
  CHECK(pool.fits(requested({})));  // a request of nothing fits every pool
}

TEST_CASE("§4 fit: every requested name is matched in capacity, in any interleaving of the names") {
  Pool pool;
  pool.capacity = request({{"b", "2"}, {"d", "2"}, {"f", "2"}});
  CHECK(pool.fits(requested({{"b", "2"}, {"d", "1"}, {"f", "2"}})));
  CHECK(pool.fits(requested({{"d", "2"}})));
  CHECK(pool.fits(requested({{"a", "0"}, {"b", "1"}, {"c", "0"}, {"g", "0"}})));  // zeros: fit
  CHECK_FALSE(pool.fits(requested({{"a", "1n"}, {"b", "1"}})));             // before the first
  CHECK_FALSE(pool.fits(requested({{"b", "1"}, {"c", "1n"}})));             // between two
  CHECK_FALSE(pool.fits(requested({{"f", "1"}, {"g", "1n"}})));             // after the last
  CHECK_FALSE(pool.fits(requested({{"b", "1"}, {"d", "1"}, {"f", "3"}})));  // the last too big
  Pool empty;
  CHECK(empty.fits(requested({{"cpu", "0"}})));
  CHECK_FALSE(empty.fits(requested({{"cpu", "1n"}})));
}

TEST_CASE("§4 fit: a resource missing from capacity has capacity 0") {
  Pool pool;
  pool.capacity = request({{"cpu", "32"}});
  CHECK_FALSE(pool.fits(requested({{"nvidia.com/gpu", "1"}})));
  CHECK_FALSE(pool.fits(requested({{"cpu", "1"}, {"ephemeral-storage", "1n"}})));
  Pool zero;
  zero.capacity = request({{"cpu", "0"}});
  CHECK_FALSE(zero.fits(requested({{"cpu", "1n"}})));
  CHECK(zero.fits(requested({{"cpu", "0"}})));
}

TEST_CASE("§4 fit: zero requests are ignored") {
  Pool pool;
  pool.capacity = request({{"cpu", "1"}});
  CHECK(pool.fits(requested({{"cpu", "1"}, {"nvidia.com/gpu", "0"}, {"memory", "0Gi"}})));
}

TEST_CASE("§4 fit: huge requests compare exactly") {
  Pool pool;
  pool.capacity = request({{"cpu", "9300000000000000000"}});
  CHECK(pool.fits(requested({{"cpu", "9250000000000000000"}})));
  CHECK_FALSE(pool.fits(requested({{"cpu", "9400000000000000000"}})));
  CHECK_FALSE(pool.fits(requested({{"cpu", "1e100"}})));
}

TEST_CASE("§4 dedicatedTo: only templates requesting a listed resource are accepted") {
  Pool gpu;
  gpu.capacity = request({{"cpu", "32"}, {"nvidia.com/gpu", "4"}, {"example.com/fpga", "2"}});
  gpu.dedicated_to = {"nvidia.com/gpu", "example.com/fpga"};
  CHECK(gpu.accepts(requested({{"nvidia.com/gpu", "1"}})));
  CHECK(gpu.accepts(requested({{"cpu", "1"}, {"example.com/fpga", "1"}})));
  CHECK_FALSE(gpu.accepts(requested({{"cpu", "1"}})));
  CHECK_FALSE(gpu.accepts(requested({{"cpu", "1"}, {"nvidia.com/gpu", "0"}})));  // zero: no
  CHECK_FALSE(gpu.accepts(requested({})));
  Pool plain;
  plain.capacity = request({{"cpu", "4"}});
  CHECK(plain.accepts(requested({})));
  CHECK(plain.accepts(requested({{"nvidia.com/gpu", "1"}})));  // accepts, yet does not fit
  CHECK_FALSE(plain.fits(requested({{"nvidia.com/gpu", "1"}})));
}

TEST_CASE("§4 dedicatedTo: the example GPU pool accepts GPU work only") {
  const Policy p = load(read_file(NODEALLOC_SOURCE_DIR "/examples/policy.yaml"));
  const Pool& gpu = p.pools[2];
  CHECK(gpu.accepts(requested({{"nvidia.com/gpu", "1"}, {"cpu", "8"}})));
  CHECK(gpu.fits(requested({{"nvidia.com/gpu", "4"}, {"memory", "240Gi"}})));
  CHECK_FALSE(gpu.fits(requested({{"nvidia.com/gpu", "5"}})));
  CHECK_FALSE(gpu.accepts(requested({{"memory", "200Gi"}})));
  CHECK(p.pools[1].fits(requested({{"memory", "128Gi"}, {"cpu", "16"}})));
  CHECK_FALSE(p.pools[0].fits(requested({{"memory", "17Gi"}})));
}

}  // namespace nodealloc
