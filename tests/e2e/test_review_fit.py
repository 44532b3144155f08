"""Spec §4 (fit, dedicatedTo, FirstFit, BestFit with exact ratios, zero requests) and the
policy defaults of §9, through `review`."""

import unittest

from nodealloc_e2e import (GPU_TOLERATION, NS_GPU, NS_SMALL, POOL_GPU, POOL_HIGHMEM, POOL_SMALL,
                           ReviewCase, ctr, policy_file, policy_text, pool, workflow)

T = "/spec/templates"
BASE = dict(mode="Enforce", strategy="FirstFit", existingPlacement="Keep", onNoFit="Skip")
BEST = dict(BASE, strategy="BestFit")


class S4Fit(ReviewCase):

    def placement(self, policy, *templates, warnings=None):
        ans = self.review(policy, workflow(*templates))
        if warnings is not None:
            self.assertWarnings(ans, warnings)
        return ans.annotation()

    def test_s4_fit_at_exact_capacity(self):
        got = self.placement(BASE, ctr("exact", {"cpu": "4", "memory": "16Gi"}),
                             ctr("over", {"cpu": "4", "memory": "16385Mi"}))
        self.assertEqual(got, {"exact": "small", "over": "highmem"})

    def test_s4_missing_capacity_is_zero(self):
        pools = [pool("a", {"cpu": "64", "memory": "1Ti"}),
                 pool("b", {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "10Gi"})]
        got = self.placement(dict(BASE, pools=pools), ctr("disk", {"ephemeral-storage": "1Gi"}),
                             ctr("widget", {"example.com/widget": "1"}), ctr("cpu", {"cpu": "1"}),
                             warnings=[("widget", "no-fit", ["example.com/widget"])])
        self.assertEqual(got, {"disk": "b", "cpu": "a"})

    def test_s4_zero_valued_resource_not_checked(self):
        pools = [pool("a", {"cpu": "1"})]
        got = self.placement(dict(BASE, pools=pools),
                             ctr("zero-gpu", {"cpu": "1", "nvidia.com/gpu": "0"}))
        self.assertEqual(got, {"zero-gpu": "a"})

    def test_s4_dedicated_pool_accepts_only_listed_resources(self):
        wf = workflow(ctr("cpu-only-too-big", {"cpu": "20"}),
                      ctr("gpu", {"cpu": "1"}, {"nvidia.com/gpu": "1"}),
                      ctr("too-many-gpus", None, {"nvidia.com/gpu": "5"}))
        ans = self.review(BASE, wf)
        self.assertPlaced(ans, {f"{T}/1/nodeSelector": NS_GPU,
                                f"{T}/1/tolerations": [GPU_TOLERATION]}, {"gpu": "gpu"})
        self.assertWarnings(ans, [("cpu-only-too-big", "no-fit", ["cpu"]),
                                  ("too-many-gpus", "no-fit", ["nvidia.com/gpu"])])

    def test_s4_dedicated_to_several_resources(self):
        acc = pool("acc", {"cpu": "8", "nvidia.com/gpu": "1", "google.com/tpu": "4"},
                   dedicatedTo=["nvidia.com/gpu", "google.com/tpu"])
        got = self.placement(dict(BASE, pools=[acc, POOL_SMALL]), ctr("tpu", {"google.com/tpu": "1"}),
                             ctr("gpu", {"nvidia.com/gpu": "1"}), ctr("cpu", {"cpu": "1"}))
        self.assertEqual(got, {"tpu": "acc", "gpu": "acc", "cpu": "small"})

    def test_s4_firstfit_list_order(self):
        got = self.placement(dict(BASE, pools=[POOL_HIGHMEM, POOL_SMALL]), ctr("a", {"cpu": "1"}))
        self.assertEqual(got, {"a": "highmem"})

    def test_s4_zero_request_placed_by_same_rule(self):
        got = self.placement(dict(BASE, pools=[POOL_GPU, POOL_HIGHMEM, POOL_SMALL]), ctr("zero"))
        self.assertEqual(got, {"zero": "highmem"})
        got = self.placement(dict(BEST, pools=[POOL_GPU, POOL_HIGHMEM, POOL_SMALL]), ctr("zero"))
        self.assertEqual(got, {"zero": "highmem"})  # both: sum 1 + 1 = 2, earlier wins

    def test_s4_bestfit_least_slack(self):
        got = self.placement(dict(BEST, pools=[POOL_HIGHMEM, POOL_SMALL]),
                             ctr("a", {"cpu": "1"}), ctr("b", {"cpu": "8"}))
        self.assertEqual(got, {"a": "small", "b": "highmem"})

    def test_s4_bestfit_tie_goes_to_earlier_pool(self):
        twins = [pool("first", {"cpu": "4", "memory": "16Gi"}),
                 pool("second", {"cpu": "4", "memory": "16Gi"})]
        got = self.placement(dict(BEST, pools=twins), ctr("a", {"cpu": "1"}))
        self.assertEqual(got, {"a": "first"})

    def test_s4_bestfit_exact_tie_where_floats_differ(self):
        # R = cpu 9, memory 8, ephemeral-storage 7. a: 1/10 + 2/10 + 0 = 3/10;
        # b: 0 + 0 + 3/10. Exactly equal (a is earlier); in doubles 0.1 + 0.2 > 0.3.
        a = pool("a", {"cpu": "10", "memory": "10", "ephemeral-storage": "7"})
        b = pool("b", {"cpu": "9", "memory": "8", "ephemeral-storage": "10"})
        t = ctr("t", {"cpu": "9", "memory": "8", "ephemeral-storage": "7"})
        self.assertEqual(self.placement(dict(BEST, pools=[a, b]), t), {"t": "a"})
        self.assertEqual(self.placement(dict(BEST, pools=[b, a]), t), {"t": "b"})

    def test_s4_bestfit_exact_difference_below_double_precision(self):
        # a: (1e17 - 1) / 1e17; b: (1e17 - 2) / (1e17 - 1), smaller by ~1e-34: b wins exactly;
        # in doubles both are 1.0 and the tie would go to a.
        a = pool("a", {"cpu": "100000000000000000"})
        b = pool("b", {"cpu": "99999999999999999"})
        self.assertEqual(self.placement(dict(BEST, pools=[a, b]), ctr("t", {"cpu": "1"})),
                         {"t": "b"})

    def test_s4_bestfit_huge_capacities(self):
        a = pool("a", {"cpu": "1e100", "memory": "1e100"})
        b = pool("b", {"cpu": "2e99", "memory": "1e101"})
        # a: (1 - 1e-2) + (1 - 1e-2) = 1.98; b: (1 - 5e-2) + (1 - 1e-3) = 1.949
        self.assertEqual(self.placement(dict(BEST, pools=[a, b]),
                                        ctr("t", {"cpu": "1e98", "memory": "1e98"})), {"t": "b"})

    def test_s4_bestfit_unrequested_resources_count_full(self):
        a = pool("a", {"cpu": "4", "memory": "16Gi", "ephemeral-storage": "100Gi"})
        b = pool("b", {"cpu": "4", "memory": "16Gi"})
        # a: 0.5 + 1 + 1 = 2.5, b: 0.5 + 1 = 1.5
        self.assertEqual(self.placement(dict(BEST, pools=[a, b]), ctr("t", {"cpu": "2"})),
                         {"t": "b"})

    def test_s4_bestfit_zero_capacity_contributes_zero(self):
        b = pool("b", {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "0"})
        a = pool("a", {"cpu": "4", "memory": "8Gi"})
        # zero request: b = 1 + 1 + 0 = 2 = a; b is earlier.
        self.assertEqual(self.placement(dict(BEST, pools=[b, a]), ctr("t")), {"t": "b"})
        c = pool("c", {"cpu": "4", "memory": "8Gi", "example.com/x": "0", "example.com/y": "0"})
        d = pool("d", {"cpu": "4"})
        # c = 0.75 + 1 + 0 + 0 = 1.75 > d = 0.75
        self.assertEqual(self.placement(dict(BEST, pools=[c, d]), ctr("t", {"cpu": "1"})),
                         {"t": "d"})

    def test_s4_bestfit_skips_dedicated_and_nonfitting(self):
        tight = pool("tight", {"cpu": "1", "memory": "1Gi"})
        got = self.placement(dict(BEST, pools=[POOL_HIGHMEM, POOL_GPU, tight, POOL_SMALL]),
                             ctr("a", {"cpu": "2", "memory": "1Gi"}),
                             ctr("g", {"nvidia.com/gpu": "1"}))
        self.assertEqual(got, {"a": "small", "g": "gpu"})

    def test_s9_policy_defaults(self):
        wf = workflow(ctr("own", nodeSelector={"zone": "z"}), ctr("big", {"cpu": "100"}),
                      ctr("a", {"cpu": "1"}))
        explicit = self.review(policy_file(**BASE), wf, cross=False)
        default = self.review(policy_file(), wf)
        self.assertEqual(default.response["warnings"], explicit.response["warnings"])
        self.assertEqual(default.patched, explicit.patched)
        self.assertPlaced(default, {f"{T}/2/nodeSelector": NS_SMALL}, {"a": "small"})

    def test_s9_policy_numbers_read_from_text(self):
        text = policy_text(pools=[]).replace("pools: []", """pools:
  - name: tenth
    nodeSelector: {node-pool: tenth}
    capacity: {cpu: 0.3, memory: 1073741824}
  - name: big
    nodeSelector: {node-pool: big}
    capacity: {cpu: 64, memory: 1e12}""")
        wf = workflow(ctr("a", {"cpu": "0.1"}, sidecars=[{"name": "s", "image": "x", "resources":
                                                          {"requests": {"cpu": "200m"}}}]),
                      ctr("b", {"cpu": "301m"}), ctr("c", {"memory": "1Gi"}),
                      ctr("d", {"memory": "1073741825"}))
        ans = self.review(policy_file(text=text), wf)
        self.assertEqual(ans.annotation(), {"a": "tenth", "b": "big", "c": "tenth", "d": "big"})


if __name__ == "__main__":
    unittest.main()
