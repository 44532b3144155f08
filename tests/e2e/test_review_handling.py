"""Spec §1 (what is handled), §2 (which templates are placed) and the kind/inline/naming fine
points of §9, through `argo-node-allocator review`."""

import json
import unittest

from nodealloc_e2e import (NS_SMALL, NS_HIGHMEM, SKIP, ReviewCase, ctr, dag, make_review,
                           policy_file, review_raw, steps, workflow, check_answer)

T = "/spec/templates"
BASE = dict(mode="Enforce", strategy="FirstFit", existingPlacement="Keep", onNoFit="Skip")
MERGE = dict(BASE, existingPlacement="Merge")


class S1WhatIsHandled(ReviewCase):

    def test_s1_workflow_create_v1(self):
        wf = workflow(ctr("a", {"cpu": "1"}))
        ans = self.review(BASE, wf, version="v1")
        self.assertEqual(ans.out["apiVersion"], "admission.k8s.io/v1")
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})
        self.assertEqual(ans.response["patchType"], "JSONPatch")

    def test_s1_s6_workflow_create_v1beta1_answer_in_request_version(self):
        wf = workflow(ctr("a", {"memory": "20Gi"}))
        ans = self.review(BASE, wf, version="v1beta1")
        self.assertEqual(ans.out["apiVersion"], "admission.k8s.io/v1beta1")
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_HIGHMEM}, {"a": "highmem"})

    def test_s1_workflow_update_not_mutated(self):
        wf = workflow(ctr("a", {"cpu": "1"}))
        ans = self.review(BASE, wf, operation="UPDATE", old_object=wf)
        self.assertNoPatch(ans)
        self.assertEqual(ans.warnings, [])

    def test_s1_workflow_update_not_warned_either(self):
        wf = workflow(ctr("a", {"cpu": "100"}))
        ans = self.review(BASE, wf, operation="UPDATE", old_object=wf)
        self.assertNoPatch(ans)

    def _create_and_update(self, kind):
        wf = workflow(ctr("a", {"cpu": "1"}), ctr("b", {"memory": "64Gi"}), kind=kind)
        base = "/spec/workflowSpec/templates" if kind == "CronWorkflow" else T
        for op in ("CREATE", "UPDATE"):
            with self.subTest(operation=op):
                ans = self.review(BASE, wf, operation=op,
                                  old_object=wf if op == "UPDATE" else None)
                self.assertPlaced(ans, {f"{base}/0/nodeSelector": NS_SMALL,
                                        f"{base}/1/nodeSelector": NS_HIGHMEM},
                                  {"a": "small", "b": "highmem"})

    def test_s1_workflowtemplate_create_and_update(self):
        self._create_and_update("WorkflowTemplate")

    def test_s1_clusterworkflowtemplate_create_and_update(self):
        self._create_and_update("ClusterWorkflowTemplate")

    def test_s1_cronworkflow_templates_under_workflowspec(self):
        self._create_and_update("CronWorkflow")

    def test_s1_cronworkflow_uses_workflowspec_nodeselector(self):
        wf = workflow(ctr("a"), kind="CronWorkflow", spec={"nodeSelector": {"zone": "z1"}})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {"/spec/workflowSpec/templates/0/nodeSelector":
                                dict(zone="z1", **NS_SMALL)}, {"a": "small"})

    def test_s1_other_operations_not_mutated(self):
        wf = workflow(ctr("a", {"cpu": "1"}))
        for op, obj, old in (("DELETE", None, wf), ("CONNECT", wf, None)):
            with self.subTest(operation=op):
                ans = self.review(BASE, obj, kind="Workflow", operation=op, old_object=old)
                self.assertNoPatch(ans)

    def test_s1_other_kinds_not_mutated(self):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "main", "image": "alpine"}],
                        "templates": [ctr("a")]}}
        ans = self.review(BASE, pod, kind="Pod", group="", kind_version="v1")
        self.assertNoPatch(ans)
        wfeb = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowEventBinding",
                "metadata": {"name": "x"}, "spec": {"templates": [ctr("a")]}}
        self.assertNoPatch(self.review(BASE, wfeb))

    def test_s9_kind_is_request_kind_group_and_version(self):
        wf = workflow(ctr("a", {"cpu": "1"}))
        with self.subTest("other group"):
            self.assertNoPatch(self.review(BASE, wf, group="example.com"))
        with self.subTest("other version"):
            self.assertNoPatch(self.review(BASE, wf, kind_version="v1beta1"))
        with self.subTest("object kind field absent: request.kind decides"):
            obj = dict(wf)
            del obj["kind"]
            ans = self.review(BASE, obj, kind="Workflow")
            self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})

    def test_s1_workflow_template_ref_without_templates(self):
        wf = workflow(ctr("a"))
        wf["spec"] = {"workflowTemplateRef": {"name": "some-template"},
                      "arguments": {"parameters": [{"name": "x", "value": "1"}]}}
        self.assertNoPatch(self.review(BASE, wf))

    def test_s9_no_templates_or_empty_list(self):
        wf = workflow(ctr("a"))
        wf["spec"] = {"entrypoint": "main"}
        self.assertNoPatch(self.review(BASE, wf))
        wf["spec"]["templates"] = []
        self.assertNoPatch(self.review(BASE, wf))

    def test_s1_opt_out_object_annotation(self):
        wf = workflow(ctr("a", {"cpu": "1"}), ctr("big", {"cpu": "100"}),
                      annotations={SKIP: "true"})
        ans = self.review(dict(BASE, onNoFit="Reject"), wf)
        self.assertNoPatch(ans)
        self.assertEqual(ans.warnings, [])

    def test_s9_opt_out_only_exact_true(self):
        for value in ("True", "TRUE", "yes", "1", "true ", "false"):
            with self.subTest(value=value):
                wf = workflow(ctr("a"), annotations={SKIP: value})
                ans = self.review(BASE, wf)
                self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})

    def test_s1_opt_out_template_annotation(self):
        wf = workflow(
            ctr("skipped", {"cpu": "100"}, metadata={"annotations": {SKIP: "true"}}),
            ctr("skipped-small", metadata={"annotations": {SKIP: "true"}}),
            ctr("not-skipped", metadata={"annotations": {SKIP: "True"}}),
            ctr("labels-only", metadata={"labels": {SKIP: "true"}}))
        ans = self.review(dict(BASE, onNoFit="Reject"), wf)
        self.assertPlaced(ans, {f"{T}/2/nodeSelector": NS_SMALL,
                                f"{T}/3/nodeSelector": NS_SMALL},
                          {"not-skipped": "small", "labels-only": "small"})
        self.assertEqual(ans.warnings, [])

    def test_s1_opt_out_inline_template_annotation(self):
        wf = workflow(steps("main", [[("s", ctr("x", {"cpu": "100"},
                                                  metadata={"annotations": {SKIP: "true"}}))],
                                     [("t", ctr("y"))]]))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/steps/1/0/inline/nodeSelector": NS_SMALL},
                          {"main/t": "small"})
        self.assertEqual(ans.warnings, [])

    def test_s1_dry_run_same_answer(self):
        policy = policy_file(**BASE)
        for wf in (workflow(ctr("a", {"cpu": "1"}), ctr("b", {"cpu": "100"})),
                   workflow(ctr("a", {"cpu": "{{x}}"}))):
            answers = []
            for dry in (False, True):
                rv = make_review(wf, uid="0f3c1f6e-1111-4222-8333-944455556666", dry_run=dry)
                answers.append(check_answer(self, rv, review_raw(policy, json.dumps(rv))).out)
            self.assertEqual(answers[0], answers[1])


class S2WhichTemplatesArePlaced(ReviewCase):

    TEMPLATES = [
        ctr("c"),
        {"name": "s", "script": {"image": "python:3.11", "command": ["python"],
                                 "source": "print(1)"}},
        {"name": "cs", "containerSet": {"containers": [
            {"name": "main", "image": "alpine"}, {"name": "two", "image": "alpine"}]}},
        {"name": "r", "resource": {"action": "create", "manifest":
                                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"}},
        {"name": "d", "data": {"source": {"artifactPaths": {"name": "p", "s3": {"bucket": "b"}}},
                               "transformation": [{"expression": "filter(data, {# != ''})"}]}},
        steps("st", [[("one", "c")], [("two", "s")]]),
        dag("dg", [("one", "cs"), ("two", "r"), ("three", "d")]),
        {"name": "sus", "suspend": {"duration": "10s"}},
        {"name": "h", "http": {"url": "https://example.com/ping", "method": "GET"}},
        {"name": "pl", "plugin": {"hello": {"text": "hi"}}},
    ]

    def test_s2_placeable_types_only(self):
        wf = workflow(*self.TEMPLATES)
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/{i}/nodeSelector": NS_SMALL for i in range(5)},
                          {"c": "small", "s": "small", "cs": "small", "r": "small",
                           "d": "small"})
        self.assertEqual(ans.warnings, [])

    def test_s2_non_placeable_never_warned_or_rejected(self):
        big = {"resources": {"requests": {"cpu": "999"}}}
        wf = workflow(
            steps("st", [[("one", "sus")]], **{"podSpecPatch": '{"x": "{{resources}}"}'}),
            {"name": "sus", "suspend": {}, "podResources": {"requests": {"cpu": "999"}}},
            {"name": "h", "http": {"url": "https://example.com"}, "sidecars": [
                dict(name="x", image="alpine", **big)]})
        ans = self.review(dict(BASE, onNoFit="Reject"), wf)
        self.assertNoPatch(ans)
        self.assertEqual(ans.warnings, [])


class S1S9InlineTemplates(ReviewCase):

    def test_s1_inline_steps_and_dag_named_caller_slash_step(self):
        wf = workflow(
            steps("main", [[("prep", ctr("ignored-name", {"cpu": "1"})), ("call", "leaf")],
                           [("train", ctr("x", {"memory": "64Gi"}))]]),
            dag("pipeline", [("a", ctr("y")), ("b", "leaf"), ("c", {"name": "z",
                                                                  "suspend": {}})]),
            ctr("leaf"))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {
            f"{T}/0/steps/0/0/inline/nodeSelector": NS_SMALL,
            f"{T}/0/steps/1/0/inline/nodeSelector": NS_HIGHMEM,
            f"{T}/1/dag/tasks/0/inline/nodeSelector": NS_SMALL,
            f"{T}/2/nodeSelector": NS_SMALL,
        }, {"main/prep": "small", "main/train": "highmem", "pipeline/a": "small",
            "leaf": "small"})

    def test_s9_nested_inline_named_recursively(self):
        inner_steps = {"name": "o", "steps": [[{"name": "inner", "inline": {
            "container": {"image": "alpine", "resources": {"requests": {"memory": "20Gi"}}}}}]]}
        inner_dag = {"name": "o", "dag": {"tasks": [{"name": "leaf", "inline": {
            "script": {"image": "alpine", "source": "echo"}}}]}}
        wf = workflow(steps("main", [[("outer", inner_steps)]]),
                      dag("d", [("outer", inner_dag)]))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {
            f"{T}/0/steps/0/0/inline/steps/0/0/inline/nodeSelector": NS_HIGHMEM,
            f"{T}/1/dag/tasks/0/inline/dag/tasks/0/inline/nodeSelector": NS_SMALL,
        }, {"main/outer/inner": "highmem", "d/outer/leaf": "small"})

    def test_s9_inline_caller_is_containing_template(self):
        # Keep: the containing steps template's nodeSelector makes the inline one existing.
        wf = workflow(steps("main", [[("a", ctr("x"))]], nodeSelector={"zone": "z1"}),
                      steps("other", [[("b", ctr("y"))]]))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/1/steps/0/0/inline/nodeSelector": NS_SMALL},
                          {"other/b": "small"})

    def test_s9_nested_inline_caller_is_immediate_inline_template(self):
        outer = {"name": "o", "nodeSelector": {"zone": "z2"},
                 "steps": [[{"name": "inner", "inline": {"container": {"image": "alpine"}}}]]}
        wf = workflow(steps("main", [[("outer", outer)]], nodeSelector={"zone": "z1"}))
        ans = self.review(MERGE, wf)
        self.assertPlaced(ans, {
            f"{T}/0/steps/0/0/inline/steps/0/0/inline/nodeSelector": dict(zone="z2", **NS_SMALL),
        }, {"main/outer/inner": "small"})


if __name__ == "__main__":
    unittest.main()
