// YAML <-> JSON, with the scalar typing Kubernetes' YAML reader (go-yaml v2, YAML 1.1) applies.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/json.hpp"
#include "core/result.hpp"

namespace nodealloc::yaml {

enum class ScalarType { Null, Bool, Int, Float, String };

struct Scalar {
  ScalarType type = ScalarType::String;
  std::string json;  // JSON text for Null/Bool/Int/Float ("null", "true", "493", "0.5")
};

// How an unquoted YAML scalar is typed: "yes" is true, "0x1F" is 31, "1." is 1, "08" is 8.
Scalar resolve_plain(std::string_view text);

// One YAML node as a JSON value (numbers keep their text). Error: .inf/.nan, non-scalar keys.
Result<json::Value> to_json(const YAML::Node& node, json::Allocator& alloc);

// Every document of a YAML (or JSON) text; empty documents are dropped.
Result<std::vector<json::Document>> load_all(std::string_view text);

// Block-style YAML for a JSON value; strings that would read back as another type are quoted.
std::string to_yaml(const json::Value& value);

}  // namespace nodealloc::yaml
