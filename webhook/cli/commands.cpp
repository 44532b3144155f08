// The offline subcommands: the same code path as the server's /mutate, from files and pipes.
#include "cli/commands.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "core/admission.hpp"
#include "core/policy.hpp"
#include "core/yaml_json.hpp"

namespace nodealloc::cli {
namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr std::string_view kReviewHelp =
    "Usage: argo-node-allocator review --policy FILE < review.json\n"
    "\n"
    "Reads one AdmissionReview (admission.k8s.io/v1 or v1beta1, JSON) on stdin and writes the\n"
    "answering AdmissionReview on stdout, exactly as the server's POST /mutate would.\n"
    "Exit 0 with an answer (also a denial); 2 for a malformed review or bad flags.\n"
    "\n"
    "Flags:\n"
    "  --policy FILE   the placement policy (YAML)\n";

constexpr std::string_view kMutateHelp =
    "Usage: argo-node-allocator mutate --policy FILE -f FILE|- [-o yaml|json|patch]\n"
    "\n"
    "Places a Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow (YAML or\n"
    "JSON; several YAML documents allowed) as the webhook would on CREATE and prints it.\n"
    "Warnings go to stderr. Documents of other kinds are printed unchanged.\n"
    "Exit 0 when every document was placed or left alone; 1 when one was denied\n"
    "(onNoFit: Reject); 2 for unreadable input or bad flags.\n"
    "\n"
    "Flags:\n"
    "  --policy FILE        the placement policy (YAML)\n"
    "  -f, --filename FILE  the input, or - for stdin\n"
    "  -o, --output FORMAT  yaml (default): the placed objects, separated by ---\n"
    "                       json: each placed object as one line of JSON\n"
    "                       patch: each document's JSON Patch as one line\n";

constexpr std::string_view kCheckPolicyHelp =
    "Usage: argo-node-allocator check-policy FILE\n"
    "\n"
    "Validates a placement policy. Exit 0 and a one-line summary, or exit 1 and every error\n"
    "with its line.\n";

void err(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "argo-node-allocator %.*s: %.*s\n", static_cast<int>(command.size()),
               command.data(), static_cast<int>(message.size()), message.data());
}

std::optional<std::string> read_input(std::string_view path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::ifstream in{std::string(path), std::ios::binary};
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(ss).str();
}

// Flags of the form "--name VALUE" or "--name=VALUE".
class Flags {
 public:
  Flags(std::string_view command, std::span<char*> args) : command_(command), args_(args) {}

  // Returns false (after printing) on a malformed command line.
  bool parse(std::initializer_list<std::pair<std::string_view, std::string_view>> names) {
    for (std::size_t i = 0; i < args_.size(); ++i) {
      std::string_view arg = args_[i];
      if (arg == "--help" || arg == "-h") {
        help_ = true;
        continue;
      }
      std::string_view value;
      bool has_value = false;
      if (auto eq = arg.find('='); arg.starts_with("--") && eq != arg.npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_value = true;
      }
      std::string_view canonical;
      for (const auto& [long_name, short_name] : names) {
        if (arg == long_name || (!short_name.empty() && arg == short_name)) canonical = long_name;
      }
      if (canonical.empty()) {
        if (!arg.starts_with("-") || arg == "-") {
          positional_.emplace_back(arg);
          continue;
        }
        err(command_, "unknown flag " + std::string(arg) + "; see --help");
        return false;
      }
      if (!has_value) {
        if (i + 1 >= args_.size()) {
          err(command_, "flag " + std::string(arg) + " needs a value");
          return false;
        }
        value = args_[++i];
      }
      values_.emplace_back(canonical, value);
    }
    return true;
  }

  bool help() const { return help_; }
  std::optional<std::string_view> get(std::string_view name) const {
    std::optional<std::string_view> found;
    for (const auto& [n, v] : values_) {
      if (n == name) found = v;
    }
    return found;
  }
  const std::vector<std::string_view>& positional() const { return positional_; }

 private:
  std::string_view command_;
  std::span<char*> args_;
  bool help_ = false;
  std::vector<std::pair<std::string_view, std::string_view>> values_;
  std::vector<std::string_view> positional_;
};

std::optional<Policy> load_policy(std::string_view command, std::string_view path) {
  auto text = read_input(path);
  if (!text) {
    err(command, "cannot read policy " + std::string(path));
    return std::nullopt;
  }
  auto policy = parse_policy(*text);
  if (!policy) {
    for (const auto& e : policy.error()) err(command, std::string(path) + ": " + e.to_string());
    return std::nullopt;
  }
  return std::move(policy.value());
}

std::optional<Policy> policy_flag(std::string_view command, const Flags& flags) {
  auto path = flags.get("--policy");
  if (!path) {
    err(command, "--policy FILE is required; see --help");
    return std::nullopt;
  }
  return load_policy(command, *path);
}

std::string document_label(const json::Value& doc, std::size_t index) {
  std::string label = "document " + std::to_string(index + 1);
  if (const json::Value* kind = json::member(doc, "kind"); kind && json::is_string(*kind)) {
    label += " (" + std::string(json::str(*kind));
    if (const json::Value* meta = json::member(doc, "metadata")) {
      for (const char* field : {"name", "generateName"}) {
        const json::Value* n = json::member(*meta, field);
        if (n != nullptr && json::is_string(*n)) {
          label += " " + std::string(json::str(*n));
          break;
        }
      }
    }
    label += ")";
  }
  return label;
}

}  // namespace

int review_main(std::span<char*> args) {
  Flags flags("review", args);
  if (!flags.parse({{"--policy", ""}})) return kUsage;
  if (flags.help()) {
    std::fputs(kReviewHelp.data(), stdout);
    return kOk;
  }
  auto policy = policy_flag("review", flags);
  if (!policy) return kUsage;
  auto input = read_input("-");
  auto answer = review(input.value_or(""), *policy);
  if (!answer) {
    err("review", answer.error().message);
    return kUsage;
  }
  std::fwrite(answer->body.data(), 1, answer->body.size(), stdout);
  std::fputc('\n', stdout);
  return kOk;
}

int mutate_main(std::span<char*> args) {
  Flags flags("mutate", args);
  if (!flags.parse({{"--policy", ""}, {"--filename", "-f"}, {"--output", "-o"}})) return kUsage;
  if (flags.help()) {
    std::fputs(kMutateHelp.data(), stdout);
    return kOk;
  }
  const std::string_view output = flags.get("--output").value_or("yaml");
  if (output != "yaml" && output != "json" && output != "patch") {
    err("mutate", "-o must be yaml, json or patch");
    return kUsage;
  }
  auto file = flags.get("--filename");
  if (!file) {
    err("mutate", "-f FILE|- is required; see --help");
    return kUsage;
  }
  auto policy = policy_flag("mutate", flags);
  if (!policy) return kUsage;
  auto text = read_input(*file);
  if (!text) {
    err("mutate", "cannot read " + std::string(*file));
    return kUsage;
  }
  std::vector<json::Document> docs;
  if (auto as_json = json::parse(*text); as_json && as_json->IsObject()) {
    docs.push_back(std::move(as_json.value()));
  } else if (auto as_yaml = yaml::load_all(*text)) {
    docs = std::move(as_yaml.value());
  } else {
    err("mutate", std::string(*file) + ": " + as_yaml.error().message);
    return kUsage;
  }

  int status = kOk;
  std::string out;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    json::Document& doc = docs[i];
    const std::string label = document_label(doc, i);
    auto plan = place_object(doc, *policy);
    if (!plan) {
      err("mutate", label + ": left unchanged: " + plan.error().message);
    } else {
      for (const auto& w : plan->warnings) err("mutate", label + ": " + w);
      if (plan->denied) {
        err("mutate", label + ": denied: " + plan->denial);
        status = kFailed;
        continue;
      }
    }
    if (output == "patch") {
      out += plan ? plan->patch.to_json() : "[]";
      out += '\n';
    } else if (output == "json") {
      json::write_to(out, doc);
      out += '\n';
    } else {
      if (i > 0) out += "---\n";
      out += yaml::to_yaml(doc);
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return status;
}

int check_policy_main(std::span<char*> args) {
  Flags flags("check-policy", args);
  if (!flags.parse({})) return kUsage;
  if (flags.help()) {
    std::fputs(kCheckPolicyHelp.data(), stdout);
    return kOk;
  }
  if (flags.positional().size() != 1) {
    err("check-policy", "expects exactly one FILE; see --help");
    return kUsage;
  }
  const std::string_view path = flags.positional().front();
  auto text = read_input(path);
  if (!text) {
    err("check-policy", "cannot read " + std::string(path));
    return kUsage;
  }
  auto policy = parse_policy(*text);
  if (!policy) {
    for (const auto& e : policy.error()) {
      std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(path.size()), path.data(),
                   e.to_string().c_str());
    }
    return kFailed;
  }
  std::printf("%.*s: valid: %s\n", static_cast<int>(path.size()), path.data(),
              policy->summary().c_str());
  return kOk;
}

}  // namespace nodealloc::cli
