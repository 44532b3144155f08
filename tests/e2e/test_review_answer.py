"""Spec §6 (the answer: JSON Patch, escaping, the placement annotation, idempotency, warnings,
Reject, Audit, versions), the reason order of §9, and malformed reviews (§7), through
`review`."""

import json
import unittest

from nodealloc_e2e import (ANNOTATION, GPU_TOLERATION, NS_GPU, NS_HIGHMEM, NS_SMALL, SKIP,
                           ReviewCase, ctr, make_review, policy_file, review_raw, run, steps,
                           dag, workflow)

T = "/spec/templates"
BASE = dict(mode="Enforce", strategy="FirstFit", existingPlacement="Keep", onNoFit="Skip")
MERGE = dict(BASE, existingPlacement="Merge")
REPLACE = dict(BASE, existingPlacement="Replace")
REJECT = dict(BASE, onNoFit="Reject")
AUDIT = dict(BASE, mode="Audit")


class S6PatchAndAnnotation(ReviewCase):

    def test_s6_missing_annotations_map_added_whole(self):
        wf = workflow(ctr("a"))
        self.assertNotIn("annotations", wf["metadata"])
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})
        self.assertTrue(any(op["path"] == "/metadata/annotations" for op in ans.patch), ans.patch)

    def test_s6_annotation_key_escaped_in_existing_map(self):
        wf = workflow(ctr("a"), annotations={"example.com/owner": "team-a", "a~b/c": "x"})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})
        self.assertIn("/metadata/annotations/node-allocator.io~1placement",
                      [op["path"] for op in ans.patch])

    def test_s6_pool_key_with_slash_merged_into_own(self):
        wf = workflow(ctr("g", None, {"nvidia.com/gpu": "1"},
                          nodeSelector={"zone": "z1", "example.com/rack": "r1"}))
        ans = self.review(MERGE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": dict({"zone": "z1",
                                                             "example.com/rack": "r1"}, **NS_GPU),
                                f"{T}/0/tolerations": [GPU_TOLERATION]}, {"g": "gpu"})

    def test_s6_keys_with_tilde_and_slash(self):
        own = {"example.com/a~b": "x", "x~1y": "z", "node-pool": "custom"}
        wf = workflow(ctr("t", nodeSelector=own))
        with self.subTest("Merge keeps them"):
            ans = self.review(MERGE, wf)
            self.assertPlaced(ans, {f"{T}/0/nodeSelector": dict(own, **NS_SMALL)}, {"t": "small"})
            self.assertWarnings(ans, [("t", "override", ["node-pool"])])
        with self.subTest("Replace drops them"):
            ans = self.review(REPLACE, wf)
            self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"t": "small"})

    def test_s6_annotation_compact_json_with_inline_names(self):
        wf = workflow(steps("main", [[("prep", ctr("x")), ("train", ctr("y", {"memory": "20Gi"}))]]),
                      ctr("leaf"))
        ans = self.review(BASE, wf)
        value = ans.patched["metadata"]["annotations"][ANNOTATION]
        self.assertEqual(json.loads(value), {"main/prep": "small", "main/train": "highmem",
                                             "leaf": "small"})
        self.assertNotIn(" ", value)
        self.assertNotIn("\n", value)

    def test_s9_equal_annotation_left_alone(self):
        old = '{ "b" : "highmem",\n "a": "small" }'
        wf = workflow(ctr("a"), ctr("b", {"memory": "20Gi"}), annotations={ANNOTATION: old})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL,
                                f"{T}/1/nodeSelector": NS_HIGHMEM})
        self.assertEqual(ans.patched["metadata"]["annotations"][ANNOTATION], old)

    def test_s9_different_annotation_replaced(self):
        wf = workflow(ctr("a"), annotations={ANNOTATION: '{"a":"highmem","gone":"small"}'})
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})

    def test_s9_annotation_left_when_nothing_placed(self):
        wf = workflow(ctr("a", nodeSelector={"zone": "z1"}), ctr("big", {"cpu": "100"}),
                      annotations={ANNOTATION: '{"a":"small"}'})
        ans = self.review(BASE, wf)
        self.assertNoPatch(ans)
        self.assertWarnings(ans, [("big", "no-fit")])

    def test_s6_no_annotation_when_nothing_placed(self):
        for wf in (workflow(steps("main", [[("s", "sus")]]), {"name": "sus", "suspend": {}}),
                   workflow(ctr("a", nodeSelector={"zone": "z1"})),
                   workflow(ctr("big", {"cpu": "100"}))):
            self.assertNoPatch(self.review(BASE, wf))

    def test_s6_no_op_not_emitted_annotation_only(self):
        # Merge with the pool's keys already there: only the annotation is added.
        wf = workflow(ctr("a", nodeSelector=dict(NS_SMALL)))
        ans = self.review(MERGE, wf)
        self.assertPlaced(ans, {}, {"a": "small"})
        self.assertEqual(len(ans.patch), 1, ans.patch)

    def test_s6_idempotent_on_own_output(self):
        wf = workflow(steps("main", [[("a", "leaf"), ("b", ctr("x", None, {"nvidia.com/gpu": "2"}))]],
                            tolerations=[{"key": "k", "operator": "Exists"}]),
                      ctr("leaf", {"memory": "20Gi"}), ctr("big", {"cpu": "100"}),
                      spec={"nodeSelector": {"node-pool": "legacy", "zone": "z"}})
        for policy in (BASE, MERGE, REPLACE, AUDIT, dict(BASE, strategy="BestFit")):
            with self.subTest(policy=policy):
                ans = self.review(policy, wf, cross=False)
                self.assertIsNotNone(ans.patch)
                again = self.review(policy, ans.patched, cross=False)
                self.assertNoPatch(again)
                self.assertEqual(again.annotation(), ans.annotation())

    def test_s6_null_fields_replaced_whole(self):
        wf = workflow(ctr("a", nodeSelector=None, tolerations=None),
                      ctr("g", None, {"nvidia.com/gpu": "1"}, tolerations=None, nodeSelector=None),
                      ctr("m", metadata=None, affinity=None), annotations=None)
        for policy in (BASE, MERGE):
            with self.subTest(policy=policy["existingPlacement"]):
                ans = self.review(policy, wf)
                self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL,
                                        f"{T}/1/nodeSelector": NS_GPU,
                                        f"{T}/1/tolerations": [GPU_TOLERATION],
                                        f"{T}/2/nodeSelector": NS_SMALL},
                                  {"a": "small", "g": "gpu", "m": "small"})

    def test_s6_odd_shapes_do_not_break_the_answer(self):
        wf = workflow(ctr("a"), steps("s", [[("x", "a")]]), {"name": "n", "steps": None},
                      {"name": "d", "dag": {"tasks": None}}, {"name": "e", "steps": [None, [None]]},
                      {"name": "f", "dag": {"tasks": [{"name": "t", "inline": None}]}},
                      steps("missing", [[("x", "no-such-template")]]))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/0/nodeSelector": NS_SMALL}, {"a": "small"})

    def test_s6_patch_targets_cronworkflow_spec(self):
        wf = workflow(ctr("g", None, {"nvidia.com/gpu": "1"}), kind="CronWorkflow",
                      spec={"tolerations": [{"key": "k", "operator": "Exists"}]})
        ans = self.review(BASE, wf)
        base = "/spec/workflowSpec/templates/0"
        self.assertPlaced(ans, {f"{base}/nodeSelector": NS_GPU,
                                f"{base}/tolerations": [{"key": "k", "operator": "Exists"},
                                                        GPU_TOLERATION]}, {"g": "gpu"})


class S6Warnings(ReviewCase):

    def test_s6_warning_format_and_document_order(self):
        wf = workflow(
            ctr("t-big", {"cpu": "100"}),
            steps("main", [[("s1", ctr("x", {"cpu": "100"})), ("s2", ctr("y", {"cpu": "bad"}))],
                           [("s3", ctr("z"))]]),
            ctr("t-expr", {"cpu": "{{inputs.parameters.c}}"}),
            dag("d", [("x", ctr("w", {"memory": "1Pi"})), ("y", ctr("v", {"cpu": "{{x}}"}))]),
            ctr("t-last", {"cpu": "1"}, {"cpu": "x"}))
        ans = self.review(BASE, wf)
        self.assertWarnings(ans, [("t-big", "no-fit", ["cpu"]), ("main/s1", "no-fit", ["cpu"]),
                                  ("main/s2", "invalid"), ("t-expr", "unresolvable"),
                                  ("d/x", "no-fit", ["memory"]), ("d/y", "unresolvable"),
                                  ("t-last", "invalid")])
        self.assertPlaced(ans, {f"{T}/1/steps/1/0/inline/nodeSelector": NS_SMALL},
                          {"main/s3": "small"})

    def test_s6_nested_inline_warnings_depth_first(self):
        inner = {"name": "o", "steps": [[{"name": "x", "inline": {"container": {
            "image": "a", "resources": {"requests": {"cpu": "100"}}}}}]]}
        wf = workflow(ctr("first", {"cpu": "50"}),
                      steps("main", [[("s1", inner), ("s2", ctr("y", {"cpu": "200"}))]]),
                      ctr("z", {"cpu": "300"}))
        ans = self.review(BASE, wf)
        self.assertNoPatch(ans)
        self.assertWarnings(ans, [("first", "no-fit"), ("main/s1/x", "no-fit"),
                                  ("main/s2", "no-fit"), ("z", "no-fit")])

    def test_s6_warnings_short_and_clean(self):
        wf = workflow(ctr("big", {"cpu": "100", "memory": "1Pi", "nvidia.com/gpu": "64"}))
        ans = self.review(BASE, wf)
        self.assertEqual(len(ans.warnings), 1)
        self.assertLessEqual(len(ans.warnings[0]), 256, ans.warnings[0])

    def _no_fit(self, n):
        return workflow(*[ctr(f"t{i:02d}", {"cpu": "100"}) for i in range(n)])

    def test_s6_warning_cap_exactly_20(self):
        ans = self.review(BASE, self._no_fit(20))
        self.assertWarnings(ans, [(f"t{i:02d}", "no-fit") for i in range(20)])

    def test_s6_warning_cap_21(self):
        ans = self.review(BASE, self._no_fit(21))
        self.assertWarnings(ans, [(f"t{i:02d}", "no-fit") for i in range(19)]
                            + ["node-allocator: 2 more warnings"])

    def test_s6_warning_cap_many_mixed(self):
        templates = [ctr(f"t{i:02d}", {"cpu": "100"} if i % 2 else {"cpu": "{{x}}"})
                     for i in range(30)]
        ans = self.review(BASE, workflow(*templates, spec={"nodeSelector": {"node-pool": "x"}}))
        want = [(f"t{i:02d}", "no-fit" if i % 2 else "unresolvable") for i in range(19)]
        self.assertWarnings(ans, want + ["node-allocator: 11 more warnings"])

    def test_s6_override_warnings_count_towards_cap(self):
        templates = [ctr(f"t{i:02d}") for i in range(25)]
        ans = self.review(BASE, workflow(*templates, spec={"nodeSelector": {"node-pool": "x"}}))
        self.assertWarnings(ans, [(f"t{i:02d}", "override", ["node-pool"]) for i in range(19)]
                            + ["node-allocator: 6 more warnings"])
        self.assertEqual(len(ans.annotation()), 25)

    def test_s6_existing_and_opted_out_not_warned(self):
        wf = workflow(ctr("own", {"cpu": "100"}, nodeSelector={"zone": "z"}),
                      ctr("aff", {"cpu": "{{x}}"}, affinity={"nodeAffinity": {
                          "preferredDuringSchedulingIgnoredDuringExecution": [
                              {"weight": 1, "preference": {"matchExpressions": [
                                  {"key": "k", "operator": "Exists"}]}}]}}),
                      ctr("skip", {"cpu": "bad"}, metadata={"annotations": {SKIP: "true"}}))
        ans = self.review(REJECT, wf)
        self.assertNoPatch(ans)
        self.assertEqual(ans.warnings, [])


class S9ReasonOrder(ReviewCase):

    def test_s9_one_reason_in_order(self):
        wf = workflow(
            steps("one", [[("a", "conflict-nofit"), ("b", "conflict")]], nodeSelector={"zone": "1"}),
            steps("two", [[("a", "conflict-nofit"), ("b", "conflict")]], nodeSelector={"zone": "2"}),
            ctr("optout-expr", {"cpu": "{{x}}"}, metadata={"annotations": {SKIP: "true"}}),
            ctr("expr-invalid", {"cpu": "{{x}}", "memory": "bad"}, {"cpu": "1Pi"}),
            ctr("invalid-nofit", {"cpu": "bad", "memory": "1Pi"}),
            ctr("conflict-nofit", {"cpu": "100"}),
            ctr("conflict"))
        ans = self.review(MERGE, wf)
        self.assertNoPatch(ans)
        self.assertWarnings(ans, [("expr-invalid", "unresolvable"),
                                  ("invalid-nofit", "invalid"),
                                  ("conflict-nofit", "no-fit"),
                                  ("conflict", "conflicting-callers")])

    def test_s9_existing_before_unresolvable_under_keep(self):
        wf = workflow(ctr("own", {"cpu": "{{x}}"}, nodeSelector={"zone": "z"}))
        ans = self.review(BASE, wf)
        self.assertNoPatch(ans)
        self.assertEqual(ans.warnings, [])
        ans = self.review(MERGE, wf)
        self.assertWarnings(ans, [("own", "unresolvable")])


class S6RejectAndAudit(ReviewCase):

    def test_s6_reject_denies_naming_every_template(self):
        wf = workflow(ctr("fits"), ctr("too-big-cpu", {"cpu": "100"}),
                      steps("main", [[("inl", ctr("x", {"memory": "1Pi"}))]]))
        ans = self.review(REJECT, wf)
        self.assertFalse(ans.allowed)
        self.assertIsNone(ans.patch)
        status = ans.response["status"]
        self.assertEqual(status.get("code"), 403)
        msg = status.get("message", "")
        for word in ("too-big-cpu", "main/inl", "cpu", "memory", "small", "highmem", "gpu"):
            self.assertIn(word, msg)
        self.assertNotIn('"fits"', msg)

    def test_s9_reject_only_for_no_fit(self):
        wf = workflow(ctr("expr", {"cpu": "{{x}}"}), ctr("bad", {"cpu": "bad"}),
                      ctr("own", {"cpu": "100"}, nodeSelector={"zone": "z"}),
                      ctr("skip", {"cpu": "100"}, metadata={"annotations": {SKIP: "true"}}),
                      ctr("ok"))
        ans = self.review(REJECT, wf)
        self.assertPlaced(ans, {f"{T}/4/nodeSelector": NS_SMALL}, {"ok": "small"})
        self.assertWarnings(ans, [("expr", "unresolvable"), ("bad", "invalid")])

    def test_s6_audit_annotation_and_warnings_only(self):
        wf = workflow(ctr("a"), ctr("g", None, {"nvidia.com/gpu": "1"}), ctr("big", {"cpu": "100"}),
                      spec={"nodeSelector": {"node-pool": "legacy"}})
        ans = self.review(AUDIT, wf)
        self.assertPlaced(ans, {}, {"a": "small", "g": "gpu"})
        self.assertWarnings(ans, [("a", "override", ["node-pool"]),
                                  ("g", "override", ["node-pool"]),
                                  ("big", "no-fit", ["cpu"])])

    def test_s9_audit_reject_only_warns(self):
        wf = workflow(ctr("a"), ctr("big", {"cpu": "100"}))
        ans = self.review(dict(AUDIT, onNoFit="Reject"), wf)
        self.assertPlaced(ans, {}, {"a": "small"})
        self.assertWarnings(ans, [("big", "no-fit")])

    def test_s6_reject_v1beta1(self):
        ans = self.review(REJECT, workflow(ctr("big", {"cpu": "100"})), version="v1beta1")
        self.assertEqual(ans.out["apiVersion"], "admission.k8s.io/v1beta1")
        self.assertFalse(ans.allowed)
        self.assertEqual(ans.response["status"]["code"], 403)


class S7MalformedReview(unittest.TestCase):

    def check_exit_2(self, text):
        proc = review_raw(policy_file(**BASE), text)
        self.assertEqual(proc.returncode, 2, (text[:80], proc.stdout, proc.stderr))
        self.assertTrue(proc.stderr.strip(), "no message on stderr")

    def test_s7_malformed_reviews_exit_2(self):
        good = make_review(workflow(ctr("a")))
        no_request = dict(good)
        del no_request["request"]
        for text in ("", "not json", "{", "[]", "42", '"review"', "null",
                     json.dumps(no_request), json.dumps(good)[:-5],
                     json.dumps(dict(good, request="x"))):
            with self.subTest(text=text[:40]):
                self.check_exit_2(text)

    def test_s7_review_good_exit_0_also_when_denying(self):
        rv = make_review(workflow(ctr("big", {"cpu": "100"})))
        proc = review_raw(policy_file(**REJECT), json.dumps(rv))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(json.loads(proc.stdout)["response"]["allowed"])

    def test_s7_review_missing_policy_fails(self):
        rv = make_review(workflow(ctr("a")))
        proc = run(["review", "--policy", "/nonexistent/policy.yaml"], stdin=json.dumps(rv))
        self.assertNotEqual(proc.returncode, 0)
        self.assertTrue(proc.stderr.strip())


if __name__ == "__main__":
    unittest.main()
