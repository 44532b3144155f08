// Helpers for the core's unit tests: policies and objects from YAML, values by JSON Pointer.
#pragma once

#include <doctest/doctest.h>
#include <rapidjson/pointer.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "core/admission.hpp"
#include "core/json.hpp"
#include "core/policy.hpp"
#include "core/yaml_json.hpp"

namespace nodealloc::test {

inline Policy policy_from(std::string_view yaml) {
  auto p = parse_policy(yaml);
  if (!p) {
    std::string all;
    for (const auto& e : p.error()) all += e.to_string() + "\n";
    FAIL("policy does not load: " << all);
  }
  return std::move(p.value());
}

inline json::Document doc_from(std::string_view yaml) {
  auto docs = yaml::load_all(yaml);
  REQUIRE_MESSAGE(docs.ok(), (docs.ok() ? "" : docs.error().message));
  REQUIRE(docs->size() == 1);
  return std::move(docs.value().front());
}

// The compact JSON at a pointer, or "<missing>".
inline std::string at(const json::Value& root, const char* pointer) {
  const json::Value* v = rapidjson::Pointer(pointer).Get(root);
  return v == nullptr ? "<missing>" : json::write(*v);
}

struct Placed {
  json::Document object;
  PlacementPlan plan;
  std::string outcome(std::string_view name) const {
    for (const auto& t : plan.templates) {
      if (t.name == name) {
        return t.reason == Reason::Placed ? "placed:" + t.pool : std::string(to_string(t.reason));
      }
    }
    return "<no template " + std::string(name) + ">";
  }
};

// Places a Workflow (or other kind) given as YAML, as on CREATE, applying the patch.
inline Placed place_yaml(std::string_view yaml, const Policy& policy) {
  Placed placed{doc_from(yaml), {}};
  auto plan = place_object(placed.object, policy);
  REQUIRE_MESSAGE(plan.ok(), (plan.ok() ? "" : plan.error().message));
  placed.plan = std::move(plan.value());
  return placed;
}

// A second pass over the placed object yields no patch (spec §6 idempotency).
inline void check_idempotent(const Placed& first, const Policy& policy) {
  json::Document copy;
  copy.CopyFrom(first.object, copy.GetAllocator());
  auto again = place_object(copy, policy);
  REQUIRE(again.ok());
  CHECK_MESSAGE(again->patch.empty(), "second pass patch: " << again->patch.to_json());
}

inline constexpr std::string_view kPolicyHeader =
    "apiVersion: node-allocator.io/v1\nkind: PlacementPolicy\nspec:\n";

// The example-like policy most tests use; `settings` are extra lines under spec (2 spaces).
inline Policy standard_policy(std::string_view settings = "") {
  std::string text(kPolicyHeader);
  text += settings;
  text += R"(  pools:
    - name: small
      nodeSelector: {node-pool: small}
      capacity: {cpu: "4", memory: 16Gi}
    - name: highmem
      nodeSelector: {node-pool: highmem}
      capacity: {cpu: "16", memory: 128Gi}
    - name: gpu
      nodeSelector: {node-pool: gpu, nvidia.com/gpu.present: "true"}
      capacity: {cpu: "32", memory: 240Gi, nvidia.com/gpu: "4"}
      dedicatedTo: [nvidia.com/gpu]
      tolerations:
        - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
)";
  return policy_from(text);
}

// Calls f(path, doc) for every document with a string "kind" in ../shared/corpus's YAML and JSON
// files; false (and a skip message) when there is no corpus.
template <class F>
bool for_each_corpus_document(F f) {
  const std::filesystem::path corpus = std::filesystem::path(NODEALLOC_SHARED_DIR) / "corpus";
  if (!std::filesystem::exists(corpus)) {
    MESSAGE("skipped: no ../shared/corpus");
    return false;
  }
  for (const auto& entry : std::filesystem::recursive_directory_iterator(corpus)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".yml" && ext != ".json")) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto docs = yaml::load_all(text);
    if (!docs) continue;
    for (const auto& doc : docs.value()) {
      const json::Value* kind = json::member(doc, "kind");
      if (kind == nullptr || !json::is_string(*kind)) continue;
      f(entry.path().string(), doc);
    }
  }
  return true;
}

}  // namespace nodealloc::test
