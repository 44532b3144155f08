"""Spec §3 (the template's request R: containers, init containers, overhead, podResources,
podSpecPatch, quantities) and the matching fine points of §9, through `review`."""

import json
import unittest

from nodealloc_e2e import (NS_HIGHMEM, NS_SMALL, ReviewCase, container, ctr, dumps, make_review,
                           policy_file, pool, raw, review_raw, workflow)

T = "/spec/templates"
BASE = dict(mode="Enforce", strategy="FirstFit", existingPlacement="Keep", onNoFit="Skip")
OVERHEAD = dict(BASE, executorOverhead={"cpu": "10m", "memory": "64Mi"})


def ns(*pools_in_order):
    """{pointer: nodeSelector} for templates 0..n-1 placed on the given pools (None = not
    placed)."""
    selectors = {"small": NS_SMALL, "highmem": NS_HIGHMEM}
    return {f"{T}/{i}/nodeSelector": selectors[p] for i, p in enumerate(pools_in_order) if p}


def names(templates, pools_in_order):
    return {t["name"]: p for t, p in zip(templates, pools_in_order) if p}


class S3ContainerRequests(ReviewCase):

    def check(self, policy, templates, pools_in_order, warnings=(), spec=None):
        wf = workflow(*templates, spec=spec)
        ans = self.review(policy, wf)
        placed = names(templates, pools_in_order)
        self.assertPlaced(ans, ns(*pools_in_order), placed if placed else None)
        self.assertWarnings(ans, list(warnings))
        return ans

    def test_s3_requests_else_limits(self):
        self.check(BASE, [
            ctr("req-over-lim", {"cpu": "1", "memory": "1Gi"}, {"cpu": "64", "memory": "1Ti"}),
            ctr("limits-only", None, {"memory": "20Gi"}),
            ctr("mixed", {"cpu": "1"}, {"cpu": "8", "memory": "20Gi"}),
            ctr("nothing"),
        ], ["small", "highmem", "highmem", "small"])

    def test_s3_regular_containers_sum_main_sidecars_and_wait(self):
        self.check(OVERHEAD, [
            ctr("exact", {"cpu": "3990m"}),
            ctr("one-milli-over", {"cpu": "3991m"}),
            ctr("sidecar-over", {"cpu": "2"}, sidecars=[container("s", {"cpu": "2"})]),
            ctr("sidecar-exact", {"cpu": "2"}, sidecars=[container("s", {"cpu": "1990m"})]),
            ctr("mem-exact", {"memory": "16320Mi"}),
            ctr("mem-over", {"memory": "16321Mi"}),
            ctr("two-sidecars", None, None, sidecars=[container("s1", {"memory": "8Gi"}),
                                                      container("s2", None, {"memory": "8Gi"})]),
        ], ["small", "highmem", "highmem", "small", "small", "highmem", "highmem"])

    def test_s3_script_main_container(self):
        script = {"name": "py", "script": {"image": "python", "source": "print(1)",
                                           "resources": {"requests": {"memory": "17Gi"}}}}
        self.check(BASE, [script], ["highmem"])

    def test_s3_init_containers_max(self):
        self.check(OVERHEAD, [
            ctr("two-inits", {"cpu": "1"}, initContainers=[container("i1", {"cpu": "4"}),
                                                           container("i2", {"cpu": "4"})]),
            ctr("init-over", {"cpu": "1"}, initContainers=[container("i1", {"cpu": "4001m"})]),
            ctr("init-limits", None, None,
                initContainers=[container("i1", None, {"memory": "17Gi"})]),
        ], ["small", "highmem", "highmem"])

    def test_s9_init_restart_policy_always_counted_as_init(self):
        self.check(BASE, [
            ctr("native-sidecar", {"cpu": "3"},
                initContainers=[container("i1", {"cpu": "3"}, restartPolicy="Always")]),
        ], ["small"])

    def test_s3_container_set_sums_containers(self):
        def cs(name, *cpus):
            return {"name": name, "containerSet": {"containers": [
                container(f"c{i}", {"cpu": c}) for i, c in enumerate(cpus)]}}
        self.check(BASE, [cs("fits", "2", "2"), cs("over", "2", "2.5")], ["small", "highmem"])
        self.check(OVERHEAD, [cs("fits", "2", "1990m"), cs("over", "2", "2")],
                   ["small", "highmem"])

    def test_s3_resource_and_data_templates_sidecars_and_overhead(self):
        policy = dict(BASE, executorOverhead={"cpu": "4"})
        res = {"action": "create", "manifest": "apiVersion: v1\nkind: ConfigMap\n"}
        data = {"source": {"artifactPaths": {"name": "p", "s3": {"bucket": "b"}}},
                "transformation": [{"expression": "true"}]}
        self.check(policy, [
            {"name": "res", "resource": res},
            {"name": "res-sidecar", "resource": res, "sidecars": [container("s", {"cpu": "1"})]},
            {"name": "data", "data": data},
            {"name": "data-sidecar", "data": data, "sidecars": [container("s", {"cpu": "1"})]},
            ctr("container", {"cpu": "1"}),
            ctr("container-zero"),
        ], ["small", "highmem", "small", "highmem", "highmem", "small"])

    def test_s9_resource_claims_do_not_count(self):
        t = ctr("dra")
        t["container"]["resources"] = {"claims": [{"name": "gpu"}]}
        t["resourceClaims"] = [{"name": "gpu", "resourceClaimTemplateName": "gpu-claim"}]
        self.check(BASE, [t], ["small"])


class S3PodResources(ReviewCase):
    check = S3ContainerRequests.check

    def test_s3_template_pod_resources_replace_container_value(self):
        self.check(BASE, [
            ctr("pod-cpu", {"memory": "1Gi"}, podResources={"requests": {"cpu": "8"}}),
            ctr("pod-smaller", {"cpu": "20"}, podResources={"requests": {"cpu": "2"}}),
            ctr("unnamed-kept", {"memory": "20Gi"}, podResources={"requests": {"cpu": "1"}}),
        ], ["highmem", "small", "highmem"])

    def test_s3_pod_resources_requests_else_limits_per_resource(self):
        self.check(BASE, [
            ctr("a", podResources={"requests": {"cpu": "1"},
                                   "limits": {"cpu": "8", "memory": "100Gi"}}),
            ctr("b", podResources={"requests": {"cpu": "1", "memory": "1Gi"},
                                   "limits": {"cpu": "64", "memory": "1Ti"}}),
        ], ["highmem", "small"])

    def test_s3_workflow_pod_resources_and_template_override(self):
        self.check(BASE, [
            ctr("wf-level", {"memory": "1Gi"}),
            ctr("own", {"memory": "1Gi"}, podResources={"requests": {"memory": "2Gi"}}),
            ctr("own-cpu-only", None, podResources={"requests": {"cpu": "1"}}),
        ], ["highmem", "small", "small"],
            spec={"podResources": {"requests": {"memory": "64Gi"}}})

    def test_s3_workflow_spec_of_cronworkflow_and_templates(self):
        patch = json.dumps({"containers": [{"name": "main", "resources": {
            "requests": {"cpu": "8"}}}]})
        for kind in ("CronWorkflow", "WorkflowTemplate", "ClusterWorkflowTemplate"):
            with self.subTest(kind=kind):
                wf = workflow(ctr("pod-level"), ctr("patched", podResources={}), kind=kind,
                              spec={"podResources": {"requests": {"memory": "64Gi"}},
                                    "podSpecPatch": patch})
                base = "/spec/workflowSpec/templates" if kind == "CronWorkflow" else T
                ans = self.review(BASE, wf)
                self.assertPlaced(ans, {f"{base}/0/nodeSelector": NS_HIGHMEM,
                                        f"{base}/1/nodeSelector": NS_HIGHMEM},
                                  {"pod-level": "highmem", "patched": "highmem"})

    def test_s9_empty_template_pod_resources_replaces_workflow_wholly(self):
        self.check(BASE, [
            ctr("empty", {"memory": "1Gi"}, podResources={}),
            ctr("inherits", {"memory": "1Gi"}),
        ], ["small", "highmem"], spec={"podResources": {"limits": {"memory": "64Gi"}}})

    def test_s9_null_template_pod_resources_is_absent(self):
        self.check(BASE, [ctr("null", {"memory": "1Gi"}, podResources=None)], ["highmem"],
                   spec={"podResources": {"requests": {"memory": "64Gi"}}})

    def test_s9_pod_resources_replace_overhead_for_named_resources(self):
        self.check(OVERHEAD, [
            ctr("cpu-named", {"cpu": "1"}, podResources={"requests": {"cpu": "4"}}),
            ctr("memory-not-named", {"memory": "16Gi"}, podResources={"requests": {"cpu": "4"}}),
        ], ["small", "highmem"])


class S3PodSpecPatch(ReviewCase):
    check = S3ContainerRequests.check

    def test_s3_static_json_patch_overrides_main(self):
        patch = json.dumps({"containers": [{"name": "main", "resources": {
            "requests": {"cpu": "8"}}}]})
        self.check(BASE, [ctr("patched", {"cpu": "1"}, podSpecPatch=patch)], ["highmem"])

    def test_s3_static_yaml_patch(self):
        patch = ("containers:\n- name: main\n  resources:\n    limits:\n"
                 "      memory: 100Gi\n")
        self.check(BASE, [ctr("patched", podSpecPatch=patch)], ["highmem"])

    def test_s3_static_patch_overrides_per_key(self):
        raise_mem = json.dumps({"containers": [{"name": "main", "resources": {
            "requests": {"memory": "20Gi"}}}]})
        limits_only = json.dumps({"containers": [{"name": "main", "resources": {
            "limits": {"memory": "100Gi"}}}]})
        self.check(BASE, [
            ctr("raise-mem", {"cpu": "1", "memory": "1Gi"}, podSpecPatch=raise_mem),
            ctr("limits-only", {"cpu": "1", "memory": "1Gi"}, podSpecPatch=limits_only),
        ], ["highmem", "small"])

    def test_s3_workflow_patch_then_template_patch(self):
        wf_patch = json.dumps({"containers": [{"name": "main", "resources": {
            "requests": {"cpu": "8"}}}]})
        tmpl_patch = json.dumps({"containers": [{"name": "main", "resources": {
            "requests": {"cpu": "1"}}}]})
        self.check(BASE, [ctr("wf-patch", {"cpu": "1"}),
                          ctr("tmpl-patch", podSpecPatch=tmpl_patch)],
                   ["highmem", "small"], spec={"podSpecPatch": wf_patch})

    def test_s3_patch_names_sidecar_and_init_container(self):
        side = json.dumps({"containers": [{"name": "helper", "resources": {
            "requests": {"cpu": "8"}}}]})
        init = json.dumps({"initContainers": [{"name": "setup", "resources": {
            "limits": {"memory": "20Gi"}}}]})
        self.check(BASE, [
            ctr("side", sidecars=[container("helper", {"cpu": "1"})], podSpecPatch=side),
            ctr("init", initContainers=[container("setup")], podSpecPatch=init),
        ], ["highmem", "highmem"])

    def test_s9_patch_entries_for_missing_containers_ignored(self):
        patch = json.dumps({"containers": [
            {"name": "wait", "resources": {"requests": {"cpu": "100"}}},
            {"name": "nosuch", "resources": {"requests": {"cpu": "100"}}}],
            "initContainers": [{"name": "init", "resources": {"requests": {"cpu": "100"}}}]})
        self.check(OVERHEAD, [ctr("p", {"cpu": "1"}, podSpecPatch=patch)], ["small"])

    def test_s9_patch_repairs_bad_value(self):
        patch = json.dumps({"containers": [{"name": "main", "resources": {
            "requests": {"cpu": "1"}}}]})
        self.check(BASE, [ctr("repaired", {"cpu": "lots"}, podSpecPatch=patch)], ["small"])

    def test_s3_expression_patch_with_resources_unresolvable(self):
        patch = ('{"containers":[{"name":"main","resources":{"limits":'
                 '{"memory":"{{inputs.parameters.mem}}"}}}]}')
        self.check(BASE, [ctr("param", podSpecPatch=patch), ctr("plain")],
                   [None, "small"], warnings=[("param", "unresolvable")])

    def test_s3_workflow_expression_patch_with_resources_unresolvable(self):
        patch = 'containers:\n- name: main\n  resources: {limits: {cpu: "{{workflow.parameters.c}}"}}'
        self.check(BASE, [ctr("a"), ctr("b")], [None, None],
                   warnings=[("a", "unresolvable"), ("b", "unresolvable")],
                   spec={"podSpecPatch": patch})

    def test_s3_expression_patch_without_resources_ignored(self):
        patch = ('{"containers":[{"name":"main","env":[{"name":"X",'
                 '"value":"{{inputs.parameters.x}}"}]}]}')
        self.check(BASE, [ctr("env-param", {"memory": "20Gi"}, podSpecPatch=patch)],
                   ["highmem"])

    def test_s9_expression_patch_resources_is_plain_substring(self):
        patch = ('{"containers":[{"name":"main","env":[{"name":"resources",'
                 '"value":"{{inputs.parameters.x}}"}]}]}')
        self.check(BASE, [ctr("substring", podSpecPatch=patch)], [None],
                   warnings=[("substring", "unresolvable")])

    def test_s9_unparsable_static_patch_invalid(self):
        self.check(BASE, [ctr("broken", podSpecPatch='{"containers": [')], [None],
                   warnings=[("broken", "invalid")])


class S3Quantities(ReviewCase):
    check = S3ContainerRequests.check

    def placed_on(self, pools, requests, warnings=None):
        """One template per request (requests of the main container); returns pool names."""
        templates = [ctr(f"t{i}", r) for i, r in enumerate(requests)]
        ans = self.review(dict(BASE, pools=pools), workflow(*templates))
        self.assertTrue(ans.allowed)
        ann = ans.annotation() or {}
        if warnings is not None:
            self.assertWarnings(ans, warnings)
        return [ann.get(f"t{i}") for i in range(len(requests))]

    def test_s3_decimal_forms_compare_exactly(self):
        pools = [pool("tiny", {"cpu": "100m"}), pool("big", {"cpu": "64"})]
        got = self.placed_on(pools, [{"cpu": "0.1"}, {"cpu": "100m"}, {"cpu": raw("0.1")},
                                     {"cpu": "1e-1"}, {"cpu": ".1"}, {"cpu": "0.1001"},
                                     {"cpu": "101m"}, {"cpu": "100000000n"},
                                     {"cpu": "100000u"}, {"cpu": "100000001n"}])
        self.assertEqual(got, ["tiny"] * 5 + ["big", "big", "tiny", "tiny", "big"])

    def test_s3_sum_of_decimals_exact(self):
        pools = [pool("tiny", {"cpu": "300m"}), pool("big", {"cpu": "64"})]
        wf = workflow(ctr("a", {"cpu": "0.1"}, sidecars=[container("s", {"cpu": "0.2"})]),
                      ctr("b", {"cpu": raw("0.1")}, sidecars=[container("s", {"cpu": raw("0.2")})]),
                      ctr("c", {"cpu": "0.1"}, sidecars=[container("s", {"cpu": "201m"})]))
        ans = self.review(dict(BASE, pools=pools), wf)
        self.assertEqual(ans.annotation(), {"a": "tiny", "b": "tiny", "c": "big"})

    def test_s3_binary_suffixes_and_json_numbers(self):
        pools = [pool("tiny", {"memory": "1Gi"}), pool("big", {"memory": "1Ti"})]
        got = self.placed_on(pools, [
            {"memory": raw("1073741824")}, {"memory": "1073741824"}, {"memory": "1024Mi"},
            {"memory": "1048576Ki"}, {"memory": "1G"}, {"memory": "0.5Gi"},
            {"memory": raw("1073741825")}, {"memory": "1.5Gi"}, {"memory": "1025Mi"},
            {"memory": "1Ti"}, {"memory": raw("1e9")}, {"memory": raw("1073741824.5")}])
        self.assertEqual(got, ["tiny"] * 6 + ["big"] * 4 + ["tiny", "big"])

    def test_s3_exponents_and_decimal_suffixes(self):
        pools = [pool("k", {"cpu": "1k", "memory": "2500M"}), pool("big", {"cpu": "1M",
                                                                       "memory": "1P"})]
        got = self.placed_on(pools, [
            {"cpu": "1e3"}, {"cpu": "1E3"}, {"cpu": raw("1e3")}, {"cpu": raw("1000")},
            {"cpu": "+1000"}, {"memory": "2.5G"}, {"memory": "2.5e9"}, {"memory": "2500000k"},
            {"cpu": "1001"}, {"memory": "2.5Gi"}, {"cpu": "1.001e3"}, {"memory": "2500e6"}])
        self.assertEqual(got, ["k"] * 8 + ["big"] * 3 + ["k"])

    def test_s9_huge_quantities_are_legal(self):
        pools = [pool("small", {"cpu": "4"}), pool("huge", {"cpu": "1e100"})]
        got = self.placed_on(pools, [{"cpu": "1e99"}, {"cpu": "1e100"}, {"cpu": raw("1e100")},
                                     {"cpu": "1e101"}, {"cpu": "2e100"}],
                             warnings=[("t3", "no-fit"), ("t4", "no-fit")])
        self.assertEqual(got, ["huge", "huge", "huge", None, None])

    def test_s3_quantities_within_64_bits_exact(self):
        pools = [pool("tiny", {"memory": "9223372036854775806"}), pool("big", {"memory": "1e30"})]
        got = self.placed_on(pools, [{"memory": "9223372036854775806"},
                                     {"memory": "9223372036854775807"},
                                     {"memory": "9223372036854775806001m"}])
        self.assertEqual(got, ["tiny", "big", "big"])

    def test_s3_quantities_beyond_64_bits_compared_exactly(self):
        pools = [pool("tiny", {"memory": "9223372036854775807"}), pool("big", {"memory": "1e30"})]
        got = self.placed_on(pools, [{"memory": "9223372036854775807"},
                                     {"memory": "9223372036854775808"},
                                     {"memory": "9223372036854775807001m"},
                                     {"memory": "10000000000000000001"}])
        self.assertEqual(got, ["tiny", "big", "big", "big"])
        pools = [pool("tiny", {"memory": "1e20"}), pool("big", {"memory": "1e30"})]
        got = self.placed_on(pools, [{"memory": "1e20"}, {"memory": "100000000000000000001"},
                                     {"memory": "100000000000000000000.5"},
                                     {"memory": "1.00000000000000000001e20"},
                                     {"memory": raw("100000000000000000001")}])
        self.assertEqual(got, ["tiny", "big", "big", "big", "big"])

    # A JSON number beyond a double's range cannot reach the webhook: kube-apiserver decodes
    # objects into int64/float64 and refuses it first. The review is refused as malformed JSON
    # (exit 2, a clear one-line reason), the same status the server gives (400).
    def test_s3_json_number_beyond_double_range_is_refused(self):
        policy = policy_file(**BASE)
        text = dumps(make_review(workflow(ctr("huge", {"cpu": raw("1e400")}), ctr("ok"))))
        proc = review_raw(policy, text)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("Number too big to be stored in double", proc.stderr)
        self.assertEqual(proc.stdout, "")

    def test_s9_huge_request_no_fit(self):
        ans = self.review(BASE, workflow(ctr("huge", {"memory": "1e100"}),
                                         ctr("huge-num", {"cpu": raw("1e100")})))
        self.assertNoPatch(ans)
        self.assertWarnings(ans, [("huge", "no-fit", ["memory"]),
                                  ("huge-num", "no-fit", ["cpu"])])

    def test_s9_tiny_values_round_up_to_one_nano(self):
        pools = [pool("nocpu", {"memory": "1Gi"}), pool("cpu", {"cpu": "1", "memory": "1Gi"})]
        got = self.placed_on(pools, [{"cpu": "1e-10"}, {"cpu": "0.0000000001"},
                                     {"cpu": raw("1e-10")}, {"cpu": "0"}, {"cpu": "0m"},
                                     {"cpu": raw("0")}, {"cpu": "1n"}])
        self.assertEqual(got, ["cpu", "cpu", "cpu", "nocpu", "nocpu", "nocpu", "cpu"])

    def test_s9_kubernetes_grammar_corner_cases(self):
        # Kubernetes' parser accepts "." and "e3" (both zero: an empty numerator is 0) and
        # reads "1E" as 1 exa (E is a decimal suffix, not an exponent without digits).
        pools = [pool("nocpu", {"memory": "1Gi"}), pool("cpu", {"cpu": "1"}),
                 pool("huge", {"cpu": "1E"})]
        got = self.placed_on(pools, [{"cpu": "."}, {"cpu": "e3"}, {"cpu": "1E"},
                                     {"cpu": "1000P"}, {"cpu": "1.E"}], warnings=[])
        self.assertEqual(got, ["nocpu", "nocpu", "huge", "huge", "huge"])

    def test_s9_trailing_dot_and_surrounding_space(self):
        pools = [pool("one", {"cpu": "1"}), pool("big", {"cpu": "64"})]
        got = self.placed_on(pools, [{"cpu": "1."}, {"cpu": " 1 "}, {"cpu": "\t1\n"},
                                     {"cpu": "2."}], warnings=[])
        self.assertEqual(got, ["one", "one", "one", "big"])

    def test_s9_invalid_values(self):
        bad = ["1 Gi", "-1", "abc", "", "1K", "1.5.5", None, True, False, {}, [], ["1"],
               {"v": "1"}, "1Gib", "0x10", "--1", "1e", "1e+", "1.e", "1ki", "1KB",
               raw("-1"), raw("-0.5"), "1 ", "- 1"]
        bad.remove("1 ")  # trailing space is trimmed: valid
        templates = [ctr(f"bad{i}", {"cpu": v}) for i, v in enumerate(bad)]
        # more than 20: look at them in groups to stay under the warning cap
        for start in range(0, len(templates), 15):
            group = templates[start:start + 15]
            with self.subTest(values=bad[start:start + 15]):
                ans = self.review(BASE, workflow(*group), cross=False)
                self.assertNoPatch(ans)
                self.assertWarnings(ans, [(t["name"], "invalid") for t in group])

    def test_s9_every_value_must_parse_even_unused(self):
        self.check(BASE, [
            ctr("bad-limit", {"cpu": "1"}, {"cpu": "bad"}),
            ctr("bad-sidecar", {"cpu": "1"}, sidecars=[container("s", None, {"memory": "x"})]),
            ctr("bad-init", initContainers=[container("i", {"memory": "-1Gi"})]),
            ctr("bad-unused-resource", {"cpu": "1", "example.com/widget": "many"}),
            ctr("bad-pod-resources-limit", podResources={"requests": {"cpu": "1"},
                                                         "limits": {"cpu": "??"}}),
            ctr("ok"),
        ], [None] * 5 + ["small"], warnings=[
            ("bad-limit", "invalid"), ("bad-sidecar", "invalid"), ("bad-init", "invalid"),
            ("bad-unused-resource", "invalid"), ("bad-pod-resources-limit", "invalid")])

    def test_s9_workflow_pod_resources_in_effect_must_parse(self):
        self.check(BASE, [ctr("inherits"), ctr("own", podResources={"requests": {"cpu": "1"}})],
                   [None, "small"], warnings=[("inherits", "invalid")],
                   spec={"podResources": {"requests": {"cpu": "lots"}}})

    def test_s3_expression_in_value_unresolvable(self):
        self.check(BASE, [
            ctr("expr", {"cpu": "{{inputs.parameters.cpu}}"}),
            ctr("expr-limit", {"cpu": "1"}, {"memory": "{{=asInt(inputs.parameters.m)}}Gi"}),
            ctr("expr-pod", podResources={"requests": {"cpu": "{{workflow.parameters.c}}"}}),
        ], [None, None, None], warnings=[("expr", "unresolvable"),
                                         ("expr-limit", "unresolvable"),
                                         ("expr-pod", "unresolvable")])

    def test_s9_unresolvable_wins_over_invalid(self):
        self.check(BASE, [
            ctr("same-container", {"cpu": "{{x}}", "memory": "bad"}),
            ctr("other-container", {"cpu": "bad"},
                sidecars=[container("s", {"cpu": "{{inputs.parameters.c}}"})]),
            ctr("patch-and-invalid", {"cpu": "bad"},
                podSpecPatch='{"containers":[{"name":"main","resources":{"requests":{"memory":"{{x}}"}}}]}'),
        ], [None, None, None], warnings=[("same-container", "unresolvable"),
                                         ("other-container", "unresolvable"),
                                         ("patch-and-invalid", "unresolvable")])


if __name__ == "__main__":
    unittest.main()
