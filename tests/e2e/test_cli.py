"""Spec §7: `mutate` (YAML/JSON in, several documents, -o yaml|json|patch, warnings on stderr)
and `check-policy` (summary, or every error with its line and field)."""

import json
import re
import unittest

import jsonpatch
import yaml

from nodealloc_e2e import (EXAMPLE_POLICY, GPU_TOLERATION, NS_GPU, NS_HIGHMEM, NS_SMALL,
                           WARNING_RE, ctr, expected, normalise, policy_file, run, steps,
                           workflow, write_temp)

BASE = dict(mode="Enforce", strategy="FirstFit", existingPlacement="Keep", onNoFit="Skip")

WF = workflow(ctr("small-one", {"cpu": "4", "memory": "0.5Gi"},
                  metadata={"labels": {"flag": "true", "n": "10"}}),
              ctr("big", {"cpu": "100"}), name="wf-one")
CRON = workflow(ctr("mem", {"memory": "64Gi"}), kind="CronWorkflow", name="cron")
WFT = workflow(steps("main", [[("g", ctr("x", None, {"nvidia.com/gpu": "1"}))]]),
               kind="WorkflowTemplate", name="wft")
NOTHING = workflow(ctr("own", nodeSelector={"zone": "z"}), name="nothing")

EXPECTED = [
    expected(WF, {"/spec/templates/0/nodeSelector": NS_SMALL}, {"small-one": "small"}),
    expected(CRON, {"/spec/workflowSpec/templates/0/nodeSelector": NS_HIGHMEM}, {"mem": "highmem"}),
    expected(WFT, {"/spec/templates/0/steps/0/0/inline/nodeSelector": NS_GPU,
                   "/spec/templates/0/steps/0/0/inline/tolerations": [GPU_TOLERATION]},
             {"main/g": "gpu"}),
    NOTHING,
]
DOCS = [WF, CRON, WFT, NOTHING]



def yaml_stream(docs):
    return yaml.safe_dump_all(docs, sort_keys=False)


class S7Mutate(unittest.TestCase):
    maxDiff = None

    def mutate(self, args, stdin=None):
        proc = run(["mutate", "--policy", policy_file(**BASE)] + args, stdin=stdin)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def check_warnings(self, stderr):
        # A line may carry a prefix naming the document; the warning itself is as in §6.
        found = [WARNING_RE.search(l) for l in stderr.splitlines()]
        found = [m for m in found if m]
        self.assertEqual(len(found), 1, stderr)
        self.assertEqual(found[0].group(1, 2), ("big", "no-fit"))

    def test_s7_mutate_yaml_multi_document_to_yaml(self):
        path = write_temp(yaml_stream(DOCS))
        proc = self.mutate(["-f", path, "-o", "yaml"])
        self.assertRegex(proc.stdout, r"(?m)^---")
        got = [normalise(d) for d in yaml.safe_load_all(proc.stdout) if d is not None]
        self.assertEqual(got, [normalise(json.loads(json.dumps(d))) for d in EXPECTED])
        self.check_warnings(proc.stderr)

    def test_s7_mutate_yaml_to_json_one_line_per_document(self):
        proc = self.mutate(["-f", write_temp(yaml_stream(DOCS)), "-o", "json"])
        lines = [l for l in proc.stdout.splitlines() if l.strip()]
        self.assertEqual(len(lines), len(DOCS), proc.stdout)
        self.assertEqual([normalise(json.loads(l)) for l in lines],
                         [normalise(json.loads(json.dumps(d))) for d in EXPECTED])
        self.check_warnings(proc.stderr)

    def test_s7_mutate_patch_per_document(self):
        proc = self.mutate(["-f", write_temp(yaml_stream(DOCS)), "-o", "patch"])
        lines = [l for l in proc.stdout.splitlines() if l.strip()]
        self.assertEqual(len(lines), len(DOCS), proc.stdout)
        for doc, line, want in zip(DOCS, lines, EXPECTED):
            ops = json.loads(line)
            self.assertIsInstance(ops, list)
            self.assertEqual(normalise(jsonpatch.apply_patch(doc, ops)), normalise(
                json.loads(json.dumps(want))))
        self.assertEqual(json.loads(lines[3]), [])
        self.check_warnings(proc.stderr)

    def test_s7_mutate_json_input_and_stdin(self):
        text = json.dumps(WF, indent=2)
        for args, stdin in ((["-f", write_temp(text, ".json")], None), (["-f", "-"], text)):
            with self.subTest(args=args):
                proc = self.mutate(args + ["-o", "json"], stdin=stdin)
                lines = [l for l in proc.stdout.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, proc.stdout)
                self.assertEqual(normalise(json.loads(lines[0])), normalise(
                    json.loads(json.dumps(EXPECTED[0]))))
                self.check_warnings(proc.stderr)

    def test_s7_mutate_yaml_stdin_keeps_value_types(self):
        text = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: types-
  labels: {flag: "true", count: "10"}
spec:
  entrypoint: a
  templates:
  - name: a
    container:
      image: alpine
      env: [{name: X, value: "0.5"}]
      resources:
        requests: {cpu: 2, memory: "1Gi"}
        limits: {cpu: "2.5"}
"""
        proc = self.mutate(["-f", "-", "-o", "json"], stdin=text)
        got = json.loads(proc.stdout.strip())
        want = yaml.safe_load(text)
        want["spec"]["templates"][0]["nodeSelector"] = NS_SMALL
        want["metadata"]["annotations"] = {"node-allocator.io/placement": {"a": "small"}}
        self.assertEqual(normalise(got), want)
        proc = self.mutate(["-f", "-", "-o", "yaml"], stdin=text)
        self.assertEqual(normalise(yaml.safe_load(proc.stdout)), want)


class S7MutateOtherDocuments(unittest.TestCase):
    """What `mutate` does beyond placing: other kinds pass through, a denial fails the run."""

    def test_s7_mutate_other_kinds_printed_unchanged(self):
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
              "data": {"k": "v"}}
        path = write_temp(yaml_stream([cm, WF]))
        proc = run(["mutate", "--policy", policy_file(**BASE), "-f", path, "-o", "json"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        docs = [json.loads(l) for l in proc.stdout.splitlines()]
        self.assertEqual(docs[0], cm)
        self.assertEqual(docs[1]["spec"]["templates"][0]["nodeSelector"], NS_SMALL)
        self.assertIn("document 1 (ConfigMap c): left unchanged", proc.stderr)

    def test_s6_mutate_denied_document_exit_1(self):
        path = write_temp(yaml_stream([WF, CRON]))
        proc = run(["mutate", "--policy", policy_file(**dict(BASE, onNoFit="Reject")), "-f", path,
                    "-o", "json"])
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("document 1 (Workflow wf-one): denied: node-allocator: 1 template fits no "
                      "node pool: \"big\" requests cpu=100", proc.stderr)
        docs = [json.loads(l) for l in proc.stdout.splitlines()]
        self.assertEqual([d["kind"] for d in docs], ["CronWorkflow"])  # the denied one is left out


class S7MutateYaml(unittest.TestCase):
    """YAML as kubectl and `argo submit` read it (go-yaml): anchors, aliases, merge keys."""
    maxDiff = None

    TEXT = """apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: yaml-
spec:
  entrypoint: a
  templates:
  - &base
    name: a
    container:
      image: alpine
      resources:
        requests: &req {cpu: "1", memory: 1Gi}
  - name: b
    container:
      image: alpine
      resources:
        requests: *req
        limits: *req
%s
"""
    MERGE = """  - <<: *base
    name: c
"""

    def mutate_json(self, text):
        proc = run(["mutate", "--policy", policy_file(**BASE), "-f", write_temp(text), "-o",
                    "json"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)

    def check(self, text, names):
        want = yaml.safe_load(text)  # PyYAML resolves aliases and merge keys like go-yaml
        for t in want["spec"]["templates"]:
            t["nodeSelector"] = NS_SMALL
        want["metadata"]["annotations"] = {"node-allocator.io/placement": {n: "small"
                                                                          for n in names}}
        self.assertEqual(normalise(self.mutate_json(text)), want)

    def test_s7_mutate_yaml_anchors_and_aliases(self):
        self.check(self.TEXT % "", ["a", "b"])

    # YAML merge keys are resolved as go-yaml (kubectl, argo) resolves them.
    def test_s7_mutate_yaml_merge_keys(self):
        self.check(self.TEXT % self.MERGE, ["a", "b", "c"])


POLICY = """apiVersion: node-allocator.io/v1
kind: PlacementPolicy
spec:
  mode: Enforce
  strategy: FirstFit
  existingPlacement: Keep
  onNoFit: Skip
  executorOverhead: {cpu: 10m, memory: 64Mi}
  pools:
    - name: small
      nodeSelector: {node-pool: small}
      capacity: {cpu: "4", memory: 16Gi}
    - name: gpu
      nodeSelector: {node-pool: gpu}
      capacity: {cpu: "32", memory: 240Gi, nvidia.com/gpu: "4"}
      dedicatedTo: [nvidia.com/gpu]
      tolerations:
        - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
"""


def edit(**lines):
    """POLICY with the given 1-based lines (l4=..., l12=...) replaced by new text."""
    out = POLICY.splitlines()
    for key, text in sorted(lines.items(), key=lambda kv: -int(kv[0][1:])):
        out[int(key[1:]) - 1] = text
    return "\n".join(out) + "\n"


class S7CommandLine(unittest.TestCase):

    def test_s7_help_and_version(self):
        for args in (["--help"], ["review", "--help"], ["mutate", "--help"],
                     ["check-policy", "--help"]):
            with self.subTest(args=args):
                proc = run(args)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn("Usage", proc.stdout + proc.stderr)
        proc = run(["version"])
        self.assertEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout, r"\d+\.\d+\.\d+")

    def test_s7_unknown_command_fails(self):
        proc = run(["no-such-command"])
        self.assertNotEqual(proc.returncode, 0)
        self.assertTrue(proc.stderr.strip())


class S7CheckPolicy(unittest.TestCase):

    def check_policy(self, text):
        return run(["check-policy", write_temp(text)])

    def assertErrors(self, text, errors):
        """errors: (line, [substrings]) — some output line must carry the line number and
        every substring."""
        proc = self.check_policy(text)
        out = proc.stdout + proc.stderr
        self.assertEqual(proc.returncode, 1, out)
        for line, words in errors:
            hits = [l for l in out.splitlines()
                    if re.search(rf"(?<![\d.]){line}(?!\d)", l) and all(w in l for w in words)]
            self.assertTrue(hits, f"no error naming line {line} and {words} in:\n{out}")

    def test_s7_valid_policies(self):
        for path in (EXAMPLE_POLICY, write_temp(POLICY), policy_file(),
                     policy_file(mode="Audit", strategy="BestFit", existingPlacement="Replace",
                                 onNoFit="Reject")):
            with self.subTest(path=path):
                proc = run(["check-policy", path])
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                self.assertEqual(len(proc.stdout.strip().splitlines()), 1, proc.stdout)

    def test_s4_unknown_fields(self):
        self.assertErrors(edit(l5="  strategey: FirstFit"), [(5, ["strategey"])])
        self.assertErrors(edit(l14="      nodeSelector: {node-pool: gpu}\n      weight: 3"),
                          [(15, ["weight"])])
        self.assertErrors(edit(l2="kind: PlacementPolicy\nmetadata: {name: x}\nextra: 1"),
                          [(4, ["extra"])])

    def test_s4_bad_quantities(self):
        self.assertErrors(edit(l12='      capacity: {cpu: "4", memory: 16GB}'), [(12, ["memory"])])
        self.assertErrors(edit(l8="  executorOverhead: {cpu: ten, memory: 64Mi}"), [(8, ["cpu"])])
        self.assertErrors(edit(l12='      capacity: {cpu: "-4", memory: 16Gi}'), [(12, ["cpu"])])

    def test_s4_duplicate_pool_name(self):
        self.assertErrors(edit(l13="    - name: small"), [(13, ["small"])])

    def test_s4_pool_name_not_dns_label(self):
        self.assertErrors(edit(l10="    - name: Small_Pool"), [(10, ["Small_Pool"])])
        self.assertErrors(edit(l10="    - name: " + "a" * 64), [(10, ["name"])])

    def test_s4_empty_or_invalid_node_selector(self):
        self.assertErrors(edit(l11="      nodeSelector: {}"), [(11, ["nodeSelector"])])
        self.assertErrors(edit(l14='      nodeSelector: {node-pool: "gpu pool"}'),
                          [(14, ["nodeSelector"])])
        self.assertErrors(edit(l14='      nodeSelector: {"-bad-key": gpu}'),
                          [(14, ["nodeSelector"])])

    def test_s4_dedicated_to_not_in_capacity(self):
        self.assertErrors(edit(l16="      dedicatedTo: [google.com/tpu]"),
                          [(16, ["dedicatedTo"])])

    def test_s4_bad_toleration_operator(self):
        self.assertErrors(edit(l18="        - {key: nvidia.com/gpu, operator: Maybe, effect: NoSchedule}"),
                          [(18, ["operator"])])

    def test_s4_bad_enum_values(self):
        for line, text, field in ((4, "  mode: Enforcing", "mode"),
                                  (5, "  strategy: Fastest", "strategy"),
                                  (6, "  existingPlacement: keep", "existingPlacement"),
                                  (7, "  onNoFit: Ignore", "onNoFit")):
            with self.subTest(field=field):
                self.assertErrors(edit(**{f"l{line}": text}), [(line, [field])])

    def test_s4_missing_values_and_structure(self):
        self.assertErrors(edit(l12="      # no capacity"), [(10, ["capacity"])])
        self.assertErrors(edit(l12="      capacity: [4]"), [(12, ["capacity"])])
        self.assertErrors(edit(l16="      dedicatedTo: []"), [(16, ["dedicatedTo"])])
        self.assertErrors(edit(l1="apiVersion: node-allocator.io/v2"), [(1, ["apiVersion"])])
        self.assertErrors(edit(l2="kind: Policy"), [(2, ["kind"])])
        self.assertErrors(edit(l18="        - {key: a, operator: Exists, value: x}"),
                          [(18, ["value"])])
        self.assertErrors(edit(l18="        - {key: a, operator: Exists, effect: NoRun}"),
                          [(18, ["effect"])])

    def test_s4_empty_value_reported_at_its_own_line(self):
        self.assertErrors(edit(l4="  mode:"), [(4, ["mode"])])

    def test_s4_no_pools(self):
        text = POLICY.split("  pools:")[0] + "  pools: []\n"
        self.assertErrors(text, [(9, ["pools"])])

    def test_s4_every_error_reported(self):
        self.assertErrors(edit(l4="  mode: Enforcing", l13="    - name: small",
                               l18="        - {key: nvidia.com/gpu, operator: Maybe, effect: NoSchedule}"),
                          [(4, ["mode"]), (13, ["small"]), (18, ["operator"])])


if __name__ == "__main__":
    unittest.main()
