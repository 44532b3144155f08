// Policy loading: every problem is reported with its field and line, all at once.
#include "core/policy.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "core/labels.hpp"
#include "core/yaml_json.hpp"

namespace nodealloc {
namespace {

int line_of(const YAML::Node& node) {
  return node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
}

class Loader {
 public:
  PolicyErrors errors;

  void fail(const YAML::Node& at, std::string field, std::string message) {
    int line = line_of(at);
    // yaml-cpp marks an empty value ("nodeSelector:" then a new line) at the next token: name
    // the line of its key instead.
    for (const auto& [value, key_line] : empty_values_) {
      if (value.is(at)) line = key_line;
    }
    errors.push_back({line, std::move(field), std::move(message)});
  }

  // Checks that `node` is a map whose keys are all in `known`, each once.
  bool check_map(const YAML::Node& node, const std::string& field,
                 std::initializer_list<std::string_view> known) {
    if (!node.IsMap()) {
      fail(node, field, "must be a mapping");
      return false;
    }
    std::set<std::string, std::less<>> seen;
    for (const auto& kv : node) {
      if (kv.second.IsNull()) empty_values_.emplace_back(kv.second, line_of(kv.first));
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const std::string sub = field.empty() ? key : field + "." + key;
      bool ok = false;
      for (auto k : known) ok = ok || k == key;
      if (!ok) {
        fail(kv.first, sub, "unknown field");
      } else if (!seen.insert(key).second) {
        fail(kv.first, sub, "repeated field");
      }
    }
    return true;
  }

  std::optional<std::string> scalar(const YAML::Node& node, const std::string& field) {
    if (!node.IsScalar()) {
      fail(node, field, "must be a single value");
      return std::nullopt;
    }
    return node.Scalar();
  }

  template <class E>
  E choice(const YAML::Node& parent, std::string_view key, const std::string& field, E fallback,
           std::initializer_list<std::pair<std::string_view, E>> options) {
    const YAML::Node node = parent[std::string(key)];
    if (!node) return fallback;
    auto text = scalar(node, field);
    if (!text) return fallback;
    std::string allowed;
    for (const auto& [name, value] : options) {
      if (name == *text) return value;
      allowed += allowed.empty() ? std::string(name) : " | " + std::string(name);
    }
    fail(node, field, "\"" + *text + "\" is not one of " + allowed);
    return fallback;
  }

  ResourceList resources(const YAML::Node& node, const std::string& field) {
    ResourceList list;
    if (!node.IsMap()) {
      fail(node, field, "must be a mapping of resource names to quantities");
      return list;
    }
    for (const auto& kv : node) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const std::string sub = field + "." + name;
      if (!is_qualified_name(name)) {
        fail(kv.first, sub, "\"" + name + "\" is not a valid resource name");
        continue;
      }
      auto text = scalar(kv.second, sub);
      if (!text) continue;
      auto q = parse_quantity(*text);
      if (!q) {
        fail(kv.second, sub, "\"" + *text + "\" is not a quantity");
      } else if (q->is_negative()) {
        fail(kv.second, sub, "must not be negative");
      } else if (q->saturated()) {
        fail(kv.second, sub, "is too large");
      } else if (!list.emplace(name, *q).second) {
        fail(kv.first, sub, "repeated resource");
      }
    }
    return list;
  }

  LabelMap node_selector(const YAML::Node& node, const std::string& field) {
    LabelMap labels;
    if (!node.IsMap() || node.size() == 0) {
      fail(node, field, "must be a non-empty mapping of label keys to values");
      return labels;
    }
    for (const auto& kv : node) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const std::string sub = field + "." + key;
      if (!is_qualified_name(key)) {
        fail(kv.first, sub, "\"" + key + "\" is not a valid label key");
        continue;
      }
      auto value = scalar(kv.second, sub);
      if (!value) continue;
      if (!is_label_value(*value)) {
        fail(kv.second, sub, "\"" + *value + "\" is not a valid label value");
        continue;
      }
      // A node has one value per label: a repeated key is a mistake, not an override.
      const bool repeated = std::any_of(labels.begin(), labels.end(),
                                        [&](const auto& label) { return label.first == key; });
      if (repeated) {
        fail(kv.first, sub, "repeated label key");
        continue;
      }
      labels.emplace_back(key, *value);
    }
    return labels;
  }

  void tolerations(const YAML::Node& node, const std::string& field, json::Document& out) {
    out.SetArray();
    if (!node.IsSequence()) {
      fail(node, field, "must be a list of tolerations");
      return;
    }
    auto& alloc = out.GetAllocator();
    int index = 0;
    for (const auto& t : node) {
      const std::string at = field + "[" + std::to_string(index++) + "]";
      if (!check_map(t, at, {"key", "operator", "value", "effect", "tolerationSeconds"})) continue;
      json::Value object(rapidjson::kObjectType);
      std::string key, op = "Equal", value, effect;
      bool has_value = false;
      for (const auto& kv : t) {
        const std::string name = kv.first.Scalar();
        auto text = scalar(kv.second, at + "." + name);
        if (!text) continue;
        if (name == "tolerationSeconds") {
          auto typed = yaml::resolve_plain(*text);
          if (kv.second.Tag() != "?" || typed.type != yaml::ScalarType::Int ||
              typed.json.size() > 19) {
            fail(kv.second, at + ".tolerationSeconds", "must be a whole number of seconds");
            continue;
          }
          object.AddMember(json::make_string(name, alloc), json::make_number(typed.json, alloc),
                           alloc);
          continue;
        }
        if (name == "key") key = *text;
        if (name == "operator") op = *text;
        if (name == "value") value = *text, has_value = true;
        if (name == "effect") effect = *text;
        object.AddMember(json::make_string(name, alloc), json::make_string(*text, alloc), alloc);
      }
      if (!key.empty() && !is_qualified_name(key)) {
        fail(t["key"], at + ".key", "\"" + key + "\" is not a valid taint key");
      }
      if (op != "Equal" && op != "Exists") {
        fail(t["operator"], at + ".operator", "\"" + op + "\" is not one of Equal | Exists");
      }
      if (key.empty() && op != "Exists") {
        fail(t, at + ".operator", "must be Exists when key is empty");
      }
      if (op == "Exists" && has_value && !value.empty()) {
        fail(t["value"], at + ".value", "must be empty when operator is Exists");
      }
      if (has_value && !is_label_value(value)) {
        fail(t["value"], at + ".value", "\"" + value + "\" is not a valid taint value");
      }
      if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" &&
          effect != "NoExecute") {
        fail(t["effect"], at + ".effect",
             "\"" + effect + "\" is not one of NoSchedule | PreferNoSchedule | NoExecute");
      }
      if (t["tolerationSeconds"] && effect != "NoExecute") {
        fail(t["tolerationSeconds"], at + ".tolerationSeconds",
             "may only be set when effect is NoExecute");
      }
      out.PushBack(object, alloc);
    }
  }

  void pool(const YAML::Node& node, const std::string& field, Policy& policy) {
    if (!check_map(node, field,
                   {"name", "nodeSelector", "capacity", "dedicatedTo", "tolerations"})) {
      return;
    }
    Pool p;
    p.tolerations.SetArray();
    if (auto name = node["name"]) {
      if (auto text = scalar(name, field + ".name")) {
        p.name = *text;
        if (!is_dns_label(p.name)) {
          fail(name, field + ".name", "\"" + p.name + "\" is not a DNS label");
        }
        for (const auto& other : policy.pools) {
          if (other.name == p.name) fail(name, field + ".name", "\"" + p.name + "\" is repeated");
        }
      }
    } else {
      fail(node, field + ".name", "is required");
    }
    if (auto ns = node["nodeSelector"]) {
      p.node_selector = node_selector(ns, field + ".nodeSelector");
    } else {
      fail(node, field + ".nodeSelector", "is required");
    }
    if (auto cap = node["capacity"]) {
      p.capacity = resources(cap, field + ".capacity");
    } else {
      fail(node, field + ".capacity", "is required");
    }
    if (auto dedicated = node["dedicatedTo"]) {
      if (!dedicated.IsSequence() || dedicated.size() == 0) {
        fail(dedicated, field + ".dedicatedTo", "must be a non-empty list of resource names");
      } else {
        int index = 0;
        for (const auto& r : dedicated) {
          const std::string at = field + ".dedicatedTo[" + std::to_string(index++) + "]";
          auto text = scalar(r, at);
          if (!text) continue;
          if (!p.capacity.contains(*text)) {
            fail(r, at, "\"" + *text + "\" must also appear in capacity");
          }
          p.dedicated_to.push_back(*text);
        }
      }
    }
    if (auto tol = node["tolerations"]) tolerations(tol, field + ".tolerations", p.tolerations);
    policy.pools.push_back(std::move(p));
  }

  Policy load(const YAML::Node& root) {
    Policy policy;
    if (!root || root.IsNull()) {
      errors.push_back({0, "", "the policy is empty"});
      return policy;
    }
    if (!check_map(root, "", {"apiVersion", "kind", "metadata", "spec"})) return policy;
    expect(root, "apiVersion", "node-allocator.io/v1");
    expect(root, "kind", "PlacementPolicy");
    const YAML::Node spec = root["spec"];
    if (!spec) {
      fail(root, "spec", "is required");
      return policy;
    }
    if (!check_map(
            spec, "spec",
            {"mode", "strategy", "existingPlacement", "onNoFit", "executorOverhead", "pools"})) {
      return policy;
    }
    policy.mode = choice(spec, "mode", "spec.mode", Mode::Enforce,
                         {{"Enforce", Mode::Enforce}, {"Audit", Mode::Audit}});
    policy.strategy = choice(spec, "strategy", "spec.strategy", Strategy::FirstFit,
                             {{"FirstFit", Strategy::FirstFit}, {"BestFit", Strategy::BestFit}});
    policy.existing_placement =
        choice(spec, "existingPlacement", "spec.existingPlacement", ExistingPlacement::Keep,
               {{"Keep", ExistingPlacement::Keep},
                {"Merge", ExistingPlacement::Merge},
                {"Replace", ExistingPlacement::Replace}});
    policy.on_no_fit = choice(spec, "onNoFit", "spec.onNoFit", OnNoFit::Skip,
                              {{"Skip", OnNoFit::Skip}, {"Reject", OnNoFit::Reject}});
    if (auto overhead = spec["executorOverhead"]) {
      policy.executor_overhead = resources(overhead, "spec.executorOverhead");
    }
    const YAML::Node pools = spec["pools"];
    if (!pools) {
      fail(spec, "spec.pools", "is required");
    } else if (!pools.IsSequence() || pools.size() == 0) {
      fail(pools, "spec.pools", "must be a non-empty list");
    } else {
      int index = 0;
      for (const auto& p : pools) pool(p, "spec.pools[" + std::to_string(index++) + "]", policy);
    }
    return policy;
  }

 private:
  std::vector<std::pair<YAML::Node, int>> empty_values_;  // null values and their keys' lines

  void expect(const YAML::Node& root, const char* key, std::string_view wanted) {
    const YAML::Node node = root[key];
    if (!node) {
      fail(root, key, "is required (\"" + std::string(wanted) + "\")");
      return;
    }
    auto text = scalar(node, key);
    if (text && *text != wanted) {
      fail(node, key, "must be \"" + std::string(wanted) + "\", not \"" + *text + "\"");
    }
  }
};

std::string join_resources(const ResourceList& list) {
  std::string out;
  for (const auto& [name, q] : list) {
    if (!out.empty()) out += ", ";
    out += name + "=" + q.to_string();
  }
  return out;
}

}  // namespace

bool Pool::accepts(const RequestList& request) const {
  if (dedicated_to.empty()) return true;
  for (const auto& r : dedicated_to) {
    auto it = request.find(r);
    if (it != request.end() && !it->second.is_zero()) return true;
  }
  return false;
}

bool Pool::fits(const RequestList& request) const {
  // Both are sorted by name: one walk over the two.
  auto cap = capacity.begin();
  for (const auto& [name, amount] : request) {
    if (amount.is_zero()) continue;
    int order = -1;
    while (cap != capacity.end() && (order = NameLess::compare(cap->first, name)) < 0) ++cap;
    if (order != 0 || cap->second < amount) return false;
  }
  return true;
}

std::string Policy::summary() const {
  static constexpr std::string_view kMode[] = {"Enforce", "Audit"};
  static constexpr std::string_view kStrategy[] = {"FirstFit", "BestFit"};
  static constexpr std::string_view kExisting[] = {"Keep", "Merge", "Replace"};
  static constexpr std::string_view kNoFit[] = {"Skip", "Reject"};
  std::string names;
  for (const auto& p : pools) names += (names.empty() ? "" : ", ") + p.name;
  std::string s = std::to_string(pools.size()) + (pools.size() == 1 ? " pool (" : " pools (") +
                  names + "); mode " + std::string(kMode[static_cast<int>(mode)]) + ", strategy " +
                  std::string(kStrategy[static_cast<int>(strategy)]) + ", existingPlacement " +
                  std::string(kExisting[static_cast<int>(existing_placement)]) + ", onNoFit " +
                  std::string(kNoFit[static_cast<int>(on_no_fit)]);
  if (!executor_overhead.empty()) s += "; executorOverhead " + join_resources(executor_overhead);
  return s;
}

std::string PolicyError::to_string() const {
  std::string s = line > 0 ? "line " + std::to_string(line) + ": " : "";
  if (!field.empty()) s += field + ": ";
  return s + message;
}

Result<Policy, PolicyErrors> parse_policy(std::string_view yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return PolicyErrors{{e.mark.line + 1, "", "invalid YAML: " + e.msg}};
  }
  Loader loader;
  try {
    Policy policy = loader.load(root);
    if (!loader.errors.empty()) return std::move(loader.errors);
    return policy;
  } catch (const YAML::Exception& e) {  // yaml-cpp's accessors throw on malformed trees
    return PolicyErrors{{e.mark.line + 1, "", e.msg}};
  }
}

}  // namespace nodealloc
