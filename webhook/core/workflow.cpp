#include "core/workflow.hpp"

#include <algorithm>
#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <charconv>

namespace nodealloc {
namespace {

using json::Value;

class Walker {
 public:
  explicit Walker(WorkflowView& view) : view_(view) {}

  void top_level(const Value& templates) {
    by_name_.reserve(templates.Size());
    for (rapidjson::SizeType i = 0; i < templates.Size(); ++i) {
      const Value& t = templates[i];
      const TemplateFields fields = TemplateFields::of(t);
      std::string_view name;  // in the document: stable while the view grows
      if (fields.name != nullptr && json::is_string(*fields.name)) name = json::str(*fields.name);
      const std::size_t index =
          add(t, fields, {TemplatePlace::In::Templates, i, 0}, std::string(name));
      if (!name.empty()) by_name_.try_emplace(name, index);
      inlines(index);
    }
    // Calls by name can only be resolved once every top-level name is known. Each caller is
    // listed once, in the order of its first call (a set: a template called from thousands of
    // templates made a scan of its callers per call quadratic).
    boost::unordered_flat_set<std::pair<std::size_t, std::size_t>,
                              boost::hash<std::pair<std::size_t, std::size_t>>>
        listed;
    for (const auto& [caller, callee] : calls_) {
      auto it = by_name_.find(callee);
      if (it == by_name_.end()) continue;
      if (listed.emplace(it->second, caller).second) {
        view_.templates[it->second].callers.push_back(caller);
      }
    }
  }

 private:
  std::size_t add(const Value& t, const TemplateFields& fields, const TemplatePlace& place,
                  std::string name) {
    // Built in place: a TemplateNode is about 250 bytes; moving a temporary in (with the
    // reallocations the reserve now spares) was 1.2 % of the review in perf.
    view_.templates.emplace_back(t, fields, place, std::move(name));
    return view_.templates.size() - 1;
  }

  // Visits the steps or tasks of template `index`: records calls, adds inline templates.
  void inlines(std::size_t index) {
    // Copied: adding inline templates below may move view_.templates.
    const Value* const steps = view_.templates[index].fields.steps;
    const Value* const dag = view_.templates[index].fields.dag;
    if (steps != nullptr && steps->IsArray()) {
      for (rapidjson::SizeType i = 0; i < steps->Size(); ++i) {
        const Value& group = (*steps)[i];
        if (!group.IsArray()) continue;
        for (rapidjson::SizeType j = 0; j < group.Size(); ++j) {
          step(index, group[j], {TemplatePlace::In::Steps, i, j});
        }
      }
    }
    if (dag != nullptr) {
      if (const Value* tasks = json::member(*dag, "tasks"); tasks != nullptr && tasks->IsArray()) {
        for (rapidjson::SizeType i = 0; i < tasks->Size(); ++i) {
          step(index, (*tasks)[i], {TemplatePlace::In::DagTasks, i, 0});
        }
      }
    }
  }

  // `place`: where an inline template of the step would be.
  void step(std::size_t caller, const Value& s, const TemplatePlace& place) {
    if (!s.IsObject()) return;
    if (const Value* callee = json::member(s, "template");
        callee != nullptr && json::is_string(*callee)) {
      calls_.emplace_back(caller, json::str(*callee));
    }
    const Value* in = json::member(s, "inline");
    if (in == nullptr || !in->IsObject()) return;
    std::string step_name;
    if (const Value* n = json::member(s, "name"); n != nullptr && json::is_string(*n)) {
      step_name = json::str(*n);
    }
    std::string name = view_.templates[caller].name + "/" + step_name;
    const std::size_t index = add(*in, TemplateFields::of(*in), place, std::move(name));
    view_.templates[index].callers.push_back(caller);
    inlines(index);
  }

  WorkflowView& view_;
  // Names in the document, not in view_ (whose strings move as it grows).
  boost::unordered_flat_map<std::string_view, std::size_t, boost::hash<std::string_view>> by_name_;
  std::vector<std::pair<std::size_t, std::string_view>> calls_;
};

}  // namespace

TemplateFields TemplateFields::of(const json::Value& tmpl) {
  TemplateFields f;
  if (!tmpl.IsObject()) return f;
  for (const auto& m : tmpl.GetObject()) {
    const std::string_view key = json::str(m.name);
    const Value** slot = nullptr;
    switch (key.size()) {  // by length first: one comparison or two per key
      case 3:
        slot = key == "dag" ? &f.dag : nullptr;
        break;
      case 4:
        slot = key == "name"   ? &f.name
               : key == "data" ? &f.data
               : key == "http" ? &f.http
                               : nullptr;
        break;
      case 5:
        slot = key == "steps" ? &f.steps : nullptr;
        break;
      case 6:
        slot = key == "script" ? &f.script : key == "plugin" ? &f.plugin : nullptr;
        break;
      case 7:
        slot = key == "suspend" ? &f.suspend : nullptr;
        break;
      case 8:
        slot = key == "metadata"   ? &f.metadata
               : key == "sidecars" ? &f.sidecars
               : key == "resource" ? &f.resource
               : key == "affinity" ? &f.affinity
                                   : nullptr;
        break;
      case 9:
        slot = key == "container" ? &f.container : nullptr;
        break;
      case 11:
        slot = key == "tolerations" ? &f.tolerations : nullptr;
        break;
      case 12:
        slot = key == "containerSet"   ? &f.container_set
               : key == "nodeSelector" ? &f.node_selector
               : key == "podSpecPatch" ? &f.pod_spec_patch
               : key == "podResources" ? &f.pod_resources
                                       : nullptr;
        break;
      case 14:
        slot = key == "initContainers" ? &f.init_containers : nullptr;
        break;
      default:
        break;
    }
    if (slot != nullptr) *slot = &m.value;  // a later duplicate replaces an earlier one
  }
  return f;
}

void WorkflowView::append_pointer(const TemplateNode& node, std::string& out) const {
  const TemplatePlace& p = node.place;
  if (p.in == TemplatePlace::In::Templates) {
    out.append(templates_path);
  } else {
    // Under its caller's pointer: an inline template's only caller is the template it is in.
    // As deep as the walk that found it went, which recursed the same way.
    append_pointer(templates[node.callers.front()], out);
  }
  char digits[24];
  const auto number = [&](std::size_t n) {
    out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
  };
  switch (p.in) {
    case TemplatePlace::In::Templates:
      out += '/';
      number(p.i);
      break;
    case TemplatePlace::In::Steps:
      out += "/steps/";
      number(p.i);
      out += '/';
      number(p.j);
      out += "/inline";
      break;
    case TemplatePlace::In::DagTasks:
      out += "/dag/tasks/";
      number(p.i);
      out += "/inline";
      break;
  }
}

std::optional<ArgoKind> argo_kind(std::string_view kind) {
  if (kind == "Workflow") return ArgoKind::Workflow;
  if (kind == "WorkflowTemplate") return ArgoKind::WorkflowTemplate;
  if (kind == "ClusterWorkflowTemplate") return ArgoKind::ClusterWorkflowTemplate;
  if (kind == "CronWorkflow") return ArgoKind::CronWorkflow;
  return std::nullopt;
}

WorkflowView walk(const json::Value& object, ArgoKind kind) {
  WorkflowView view;
  const Value* spec = json::member(object, "spec");
  view.templates_path = "/spec/templates";
  if (spec != nullptr && kind == ArgoKind::CronWorkflow) {
    spec = json::member(*spec, "workflowSpec");
    view.templates_path = "/spec/workflowSpec/templates";
  }
  if (spec == nullptr || !spec->IsObject()) return view;
  view.spec = spec;
  const Value* templates = json::member(*spec, "templates");
  if (templates == nullptr || !templates->IsArray()) return view;
  // Inline templates come on top of these: room for as many again, so that one inline template
  // does not reallocate (and move) every node. A few hundred bytes a template, for one review.
  view.templates.reserve(std::size_t{2} * templates->Size());
  Walker(view).top_level(*templates);
  return view;
}

namespace {

const Value* annotation_in(const Value* metadata, std::string_view key) {
  if (metadata == nullptr) return nullptr;
  const Value* annotations = json::member(*metadata, "annotations");
  return annotations == nullptr ? nullptr : json::member(*annotations, key);
}

bool opts_out(const Value* metadata) {
  const Value* v = annotation_in(metadata, kSkipAnnotation);
  return v != nullptr && json::is_string(*v) && json::str(*v) == "true";
}

}  // namespace

const json::Value* annotation(const json::Value& object, std::string_view key) {
  return annotation_in(json::member(object, "metadata"), key);
}

bool is_opted_out(const json::Value& object) {
  return opts_out(json::member(object, "metadata"));
}

bool is_opted_out(const TemplateFields& tmpl) {
  return opts_out(tmpl.metadata);
}

}  // namespace nodealloc
