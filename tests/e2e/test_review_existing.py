"""Spec §5 (existing placement Keep/Merge/Replace, inherited nodeSelector and tolerations,
conflicting callers, override warnings) and the matching fine points of §9, through `review`."""

import unittest

from nodealloc_e2e import (GPU_TOLERATION, NS_GPU, NS_HIGHMEM, NS_SMALL, ReviewCase, ctr, dag,
                           steps, workflow)

T = "/spec/templates"
BASE = dict(mode="Enforce", strategy="FirstFit", existingPlacement="Keep", onNoFit="Skip")
MERGE = dict(BASE, existingPlacement="Merge")
REPLACE = dict(BASE, existingPlacement="Replace")
GPU = {"nvidia.com/gpu": "1"}
TOL_A = {"key": "team", "operator": "Equal", "value": "a", "effect": "NoSchedule"}
TOL_B = {"key": "team", "operator": "Equal", "value": "b", "effect": "NoSchedule"}
AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}}


def sel(**extra):
    """The small pool's nodeSelector laid over the given keys."""
    return dict(extra, **NS_SMALL)


class S5Keep(ReviewCase):

    def test_s5_keep_own_nodeselector_untouched(self):
        wf = workflow(ctr("own", {"cpu": "100"}, nodeSelector={"zone": "z1"}), ctr("free"))
        ans = self.review(dict(BASE, onNoFit="Reject"), wf)
        self.assertPlaced(ans, {f"{T}/1/nodeSelector": NS_SMALL}, {"free": "small"})
        self.assertEqual(ans.warnings, [])

    def test_s5_keep_node_affinity_untouched(self):
        wf = workflow(ctr("aff", affinity=AFFINITY), ctr("free"))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/1/nodeSelector": NS_SMALL}, {"free": "small"})

    def test_s9_empty_node_affinity_or_nodeselector_not_existing(self):
        anti = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}]}}
        wf = workflow(ctr("empty-aff", affinity={"nodeAffinity": {}}),
                      ctr("anti", affinity=anti),
                      ctr("empty-ns", nodeSelector={}),
                      ctr("null-aff", affinity={"nodeAffinity": None}))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/{i}/nodeSelector": NS_SMALL for i in range(4)},
                          {"empty-aff": "small", "anti": "small", "empty-ns": "small",
                           "null-aff": "small"})

    def test_s5_keep_caller_with_nodeselector_makes_existing(self):
        wf = workflow(steps("main", [[("a", "called")], [("b", "sub")]],
                            nodeSelector={"zone": "z1"}),
                      dag("sub", [("c", "other")]),
                      ctr("called", {"cpu": "100"}), ctr("other"))
        ans = self.review(dict(BASE, onNoFit="Reject"), wf)
        self.assertPlaced(ans, {f"{T}/3/nodeSelector": NS_SMALL}, {"other": "small"})
        self.assertEqual(ans.warnings, [])

    def test_s5_keep_workflow_nodeselector_is_inherited_not_existing(self):
        wf = workflow(ctr("a"), ctr("b", {"memory": "20Gi"}), spec={"nodeSelector": {"zone": "z1"}})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": sel(zone="z1"),
                                f"{T}/1/nodeSelector": dict(zone="z1", **NS_HIGHMEM)},
                          {"a": "small", "b": "highmem"})
        self.assertEqual(ans.warnings, [])

    def test_s5_override_warning_for_inherited_key(self):
        wf = workflow(ctr("a"), ctr("b", nodeSelector={"node-pool": "legacy"}),
                      ctr("c", {"cpu": "1"}),
                      spec={"nodeSelector": {"node-pool": "legacy", "zone": "z1"}})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": sel(zone="z1"),
                                f"{T}/2/nodeSelector": sel(zone="z1")}, {"a": "small", "c": "small"})
        self.assertWarnings(ans, [("a", "override", ["node-pool"]),
                                  ("c", "override", ["node-pool"])])

    def test_s5_same_inherited_value_no_override_warning(self):
        wf = workflow(ctr("a"), spec={"nodeSelector": {"node-pool": "small"}})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})
        self.assertEqual(ans.warnings, [])

    def test_s9_only_immediate_caller_counts(self):
        wf = workflow(steps("top", [[("s", "middle")]], nodeSelector={"zone": "z1"}),
                      steps("middle", [[("c", "leaf")]]),
                      ctr("leaf"), spec={"nodeSelector": {"disk": "ssd"}})
        for policy in (BASE, MERGE):
            with self.subTest(policy=policy["existingPlacement"]):
                ans = self.review(policy, wf)
                self.assertPlaced(ans, {f"{T}/2/nodeSelector": sel(disk="ssd")}, {"leaf": "small"})

    def test_s9_onexit_hooks_templateref_are_not_callers(self):
        main = {"name": "main", "nodeSelector": {"zone": "z1"}, "steps": [[
            {"name": "s1", "template": "called", "onExit": "step-exit",
             "hooks": {"running": {"template": "hook", "expression": "true"}}},
            {"name": "s2", "templateRef": {"name": "other-wft", "template": "by-ref"}}]]}
        d = {"name": "d", "nodeSelector": {"zone": "z1"}, "dag": {"tasks": [
            {"name": "t", "template": "called", "hooks": {"exit": {"template": "task-hook"}}},
            {"name": "u", "template": "called", "onExit": "tmpl-hook"}]}}
        wf = workflow(main, d, ctr("called"), ctr("step-exit"), ctr("hook"), ctr("by-ref"),
                      ctr("tmpl-hook"), ctr("task-hook"), ctr("wf-exit"),
                      spec={"onExit": "wf-exit",
                            "hooks": {"exit": {"template": "wf-exit"}}})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/{i}/nodeSelector": NS_SMALL for i in range(3, 9)},
                          {n: "small" for n in ("step-exit", "hook", "by-ref", "tmpl-hook",
                                                "task-hook", "wf-exit")})

    def test_s9_template_defaults_ignored(self):
        wf = workflow(ctr("a"), spec={"templateDefaults": {"nodeSelector": {"zone": "z1"},
                                                           "tolerations": [TOL_A]}})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})


class S5MergeReplace(ReviewCase):

    def test_s5_merge_own_plus_pool_keys(self):
        wf = workflow(ctr("own", nodeSelector={"zone": "z1"}),
                      ctr("override", nodeSelector={"node-pool": "custom", "zone": "z1"}),
                      ctr("same", nodeSelector={"node-pool": "small"}),
                      spec={"nodeSelector": {"disk": "ssd"}})
        ans = self.review(MERGE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": sel(zone="z1"),
                                f"{T}/1/nodeSelector": sel(zone="z1")},
                          {"own": "small", "override": "small", "same": "small"})
        self.assertWarnings(ans, [("override", "override", ["node-pool"])])

    def test_s9_merge_empty_own_uses_inherited(self):
        wf = workflow(ctr("empty", nodeSelector={}), spec={"nodeSelector": {"disk": "ssd"}})
        ans = self.review(MERGE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": sel(disk="ssd")}, {"empty": "small"})

    def test_s5_merge_and_replace_inherit_from_callers(self):
        wf = workflow(steps("main", [[("a", "leaf")], [("b", "sub")]], nodeSelector={"zone": "z1"}),
                      dag("sub", [("c", "leaf")], nodeSelector={"zone": "z1"}),
                      ctr("leaf", {"memory": "20Gi"}), spec={"nodeSelector": {"zone": "z9"}})
        for policy in (MERGE, REPLACE):
            with self.subTest(policy=policy["existingPlacement"]):
                ans = self.review(policy, wf)
                self.assertPlaced(ans, {f"{T}/2/nodeSelector": dict(zone="z1", **NS_HIGHMEM)},
                                  {"leaf": "highmem"})
                self.assertEqual(ans.warnings, [])

    def test_s9_callers_without_nodeselector_ignored(self):
        wf = workflow(steps("with", [[("a", "leaf")]], nodeSelector={"zone": "z1"}),
                      steps("without", [[("a", "leaf")]]), ctr("leaf"))
        ans = self.review(MERGE, wf)
        self.assertPlaced(ans, {f"{T}/2/nodeSelector": sel(zone="z1")}, {"leaf": "small"})

    def test_s5_conflicting_callers(self):
        wf = workflow(steps("one", [[("a", "leaf")]], nodeSelector={"zone": "z1"}),
                      dag("two", [("a", "leaf")], nodeSelector={"zone": "z2"}),
                      ctr("leaf"), ctr("free"))
        for policy in (MERGE, REPLACE):
            with self.subTest(policy=policy["existingPlacement"]):
                ans = self.review(policy, wf)
                self.assertPlaced(ans, {f"{T}/3/nodeSelector": NS_SMALL}, {"free": "small"})
                self.assertWarnings(ans, [("leaf", "conflicting-callers")])
        with self.subTest(policy="Keep: existing wins, no warning"):
            ans = self.review(BASE, wf)
            self.assertPlaced(ans, {f"{T}/3/nodeSelector": NS_SMALL}, {"free": "small"})
            self.assertEqual(ans.warnings, [])

    def test_s9_callers_agree_when_maps_equal(self):
        wf = workflow(steps("one", [[("a", "leaf")]], nodeSelector={"zone": "z1", "disk": "ssd"}),
                      steps("two", [[("a", "leaf")]], nodeSelector={"disk": "ssd", "zone": "z1"}),
                      ctr("leaf"))
        ans = self.review(REPLACE, wf)
        self.assertPlaced(ans, {f"{T}/2/nodeSelector": sel(zone="z1", disk="ssd")},
                          {"leaf": "small"})

    def test_s5_replace_drops_own_keeps_affinity(self):
        wf = workflow(ctr("own", nodeSelector={"node-pool": "custom", "zone": "z1"},
                          affinity=AFFINITY),
                      ctr("aff-only", affinity=AFFINITY),
                      spec={"nodeSelector": {"disk": "ssd"}})
        ans = self.review(REPLACE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": sel(disk="ssd"),
                                f"{T}/1/nodeSelector": sel(disk="ssd")},
                          {"own": "small", "aff-only": "small"})
        self.assertEqual(ans.warnings, [])

    def test_s5_merge_keeps_affinity(self):
        wf = workflow(ctr("aff", affinity=AFFINITY, nodeSelector={"zone": "z1"}))
        ans = self.review(MERGE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": sel(zone="z1")}, {"aff": "small"})

    def test_s5_replace_override_warning_for_inherited(self):
        wf = workflow(ctr("a", nodeSelector={"node-pool": "mine"}),
                      spec={"nodeSelector": {"node-pool": "legacy"}})
        ans = self.review(REPLACE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})
        self.assertWarnings(ans, [("a", "override", ["node-pool"])])


    def test_s5_merge_own_nodeselector_needs_no_inherited_one(self):
        # Merge keeps an own nodeSelector, so callers that disagree do not matter for it;
        # Replace drops it and must inherit, so they do. Caller tolerations still conflict
        # for a pool with tolerations when the template has none of its own (every mode).
        wf = workflow(steps("one", [[("a", "leaf"), ("b", "g")]], nodeSelector={"zone": "1"},
                            tolerations=[TOL_A]),
                      steps("two", [[("a", "leaf"), ("b", "g")]], nodeSelector={"zone": "2"},
                            tolerations=[TOL_B]),
                      ctr("leaf", nodeSelector={"own": "x"}),
                      ctr("g", None, GPU, nodeSelector={"own": "y"}))
        ans = self.review(MERGE, wf)
        self.assertPlaced(ans, {f"{T}/2/nodeSelector": sel(own="x")}, {"leaf": "small"})
        self.assertWarnings(ans, [("g", "conflicting-callers")])
        ans = self.review(REPLACE, wf)
        self.assertNoPatch(ans)
        self.assertWarnings(ans, [("leaf", "conflicting-callers"), ("g", "conflicting-callers")])

    def test_s5_one_override_warning_per_key(self):
        wf = workflow(ctr("g", None, GPU),
                      spec={"nodeSelector": {"node-pool": "x", "nvidia.com/gpu.present": "false",
                                             "zone": "z"}})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": dict(zone="z", **NS_GPU),
                                f"{T}/0/tolerations": [GPU_TOLERATION]}, {"g": "gpu"})
        self.assertEqual(len(ans.warnings), 2, ans.warnings)
        self.assertWarnings(ans, [("g", "override"), ("g", "override")])
        self.assertEqual(sorted("nvidia.com/gpu.present" in w for w in ans.warnings),
                         [False, True])

    def test_s9_inline_template_is_caller_of_named_template(self):
        outer = {"name": "o", "nodeSelector": {"zone": "z1"},
                 "steps": [[{"name": "x", "template": "leaf"}]]}
        wf = workflow(steps("main", [[("outer", outer)]]), ctr("leaf"))
        self.assertNoPatch(self.review(BASE, wf))
        ans = self.review(MERGE, wf)
        self.assertPlaced(ans, {f"{T}/1/nodeSelector": sel(zone="z1")}, {"leaf": "small"})


class S5Tolerations(ReviewCase):

    def test_s5_empty_own_tolerations_use_inherited(self):
        wf = workflow(ctr("g", None, GPU, tolerations=[]), spec={"tolerations": [TOL_A]})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_GPU,
                                f"{T}/0/tolerations": [TOL_A, GPU_TOLERATION]}, {"g": "gpu"})

    def test_s5_pool_tolerations_added(self):
        wf = workflow(ctr("g", None, GPU))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_GPU,
                                f"{T}/0/tolerations": [GPU_TOLERATION]}, {"g": "gpu"})

    def test_s5_own_tolerations_then_pool(self):
        wf = workflow(ctr("g", None, GPU, tolerations=[TOL_A]),
                      ctr("has-it", None, GPU, tolerations=[
                          TOL_A, {"effect": "NoSchedule", "operator": "Exists",
                                  "key": "nvidia.com/gpu"}]))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_GPU,
                                f"{T}/0/tolerations": [TOL_A, GPU_TOLERATION],
                                f"{T}/1/nodeSelector": NS_GPU}, {"g": "gpu", "has-it": "gpu"})

    def test_s9_toleration_equal_only_as_written(self):
        no_op = {"key": "nvidia.com/gpu", "effect": "NoSchedule"}
        extra = dict(GPU_TOLERATION, tolerationSeconds=30)
        wf = workflow(ctr("g", None, GPU, tolerations=[no_op]),
                      ctr("h", None, GPU, tolerations=[extra]))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_GPU,
                                f"{T}/0/tolerations": [no_op, GPU_TOLERATION],
                                f"{T}/1/nodeSelector": NS_GPU,
                                f"{T}/1/tolerations": [extra, GPU_TOLERATION]},
                          {"g": "gpu", "h": "gpu"})

    def test_s5_tolerations_inherited_from_workflow(self):
        wf = workflow(ctr("g", None, GPU), ctr("cpu"), spec={"tolerations": [TOL_A]})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_GPU,
                                f"{T}/0/tolerations": [TOL_A, GPU_TOLERATION],
                                f"{T}/1/nodeSelector": NS_SMALL}, {"g": "gpu", "cpu": "small"})

    def test_s5_tolerations_inherited_from_callers(self):
        wf = workflow(steps("main", [[("a", "g")]], tolerations=[TOL_B]),
                      steps("plain", [[("a", "g")]]),
                      ctr("g", None, GPU), spec={"tolerations": [TOL_A]})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/2/nodeSelector": NS_GPU,
                                f"{T}/2/tolerations": [TOL_B, GPU_TOLERATION]}, {"g": "gpu"})

    def test_s9_conflicting_caller_tolerations(self):
        wf = workflow(steps("one", [[("a", "g")], [("b", "c")]], tolerations=[TOL_A]),
                      dag("two", [("a", "g"), ("b", "c")], tolerations=[TOL_B]),
                      ctr("g", None, GPU), ctr("c"), ctr("own", None, GPU, tolerations=[TOL_A]),
                      dag("three", [("a", "own")], tolerations=[TOL_B]))
        for policy in (BASE, MERGE, REPLACE, dict(BASE, mode="Audit")):
            with self.subTest(policy=policy):
                ans = self.review(policy, wf)
                sets = {} if policy.get("mode") == "Audit" else {
                    f"{T}/3/nodeSelector": NS_SMALL,
                    f"{T}/4/nodeSelector": NS_GPU,
                    f"{T}/4/tolerations": [TOL_A, GPU_TOLERATION]}
                self.assertPlaced(ans, sets, {"c": "small", "own": "gpu"})
                self.assertWarnings(ans, [("g", "conflicting-callers")])

    def test_s9_caller_tolerations_order_matters(self):
        wf = workflow(steps("one", [[("a", "g")]], tolerations=[TOL_A, TOL_B]),
                      steps("two", [[("a", "g")]], tolerations=[TOL_B, TOL_A]),
                      ctr("g", None, GPU))
        ans = self.review(BASE, wf)
        self.assertNoPatch(ans)
        self.assertWarnings(ans, [("g", "conflicting-callers")])

    def test_s9_conflicting_nodeselector_reported_before_tolerations(self):
        wf = workflow(steps("one", [[("a", "g")]], nodeSelector={"zone": "z1"}, tolerations=[TOL_A]),
                      steps("two", [[("a", "g")]], nodeSelector={"zone": "z2"}, tolerations=[TOL_B]),
                      ctr("g", None, GPU))
        ans = self.review(MERGE, wf)
        self.assertNoPatch(ans)
        self.assertWarnings(ans, [("g", "conflicting-callers")])

    def test_s5_no_tolerations_when_pool_has_none(self):
        wf = workflow(ctr("a", tolerations=[TOL_A]), ctr("b"), spec={"tolerations": [TOL_B]})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL, f"{T}/1/nodeSelector": NS_SMALL},
                          {"a": "small", "b": "small"})

    def test_s5_merge_replace_tolerations(self):
        wf = workflow(ctr("g", None, GPU, nodeSelector={"zone": "z1"}, tolerations=[TOL_A]))
        for policy, ns in ((MERGE, dict(zone="z1", **NS_GPU)), (REPLACE, NS_GPU)):
            with self.subTest(policy=policy["existingPlacement"]):
                ans = self.review(policy, wf)
                self.assertPlaced(ans, {f"{T}/0/nodeSelector": ns,
                                        f"{T}/0/tolerations": [TOL_A, GPU_TOLERATION]},
                                  {"g": "gpu"})


if __name__ == "__main__":
    unittest.main()
