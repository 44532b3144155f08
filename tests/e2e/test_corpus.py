"""Corpus: every handled document of the shared corpus (argo-examples, kfp-v1; skipped when
absent) and of examples/workflows goes through `review` with examples/policy.yaml: exit 0, a
valid answer, a patch that applies, a patched object that still validates against Argo's JSON
schema, and no patch on a second pass. `mutate -o json` must give the same objects."""

import glob
import json
import os
import unittest
from concurrent.futures import ThreadPoolExecutor

import jsonschema

from nodealloc_e2e import (EXAMPLE_POLICY, GPU_TOLERATION, NS_GPU, SHARED_DIR, SOURCE_DIR,
                           ReviewCase, check_answer, load_documents, make_review, policy_file,
                           normalise, review_raw, run)

SCHEMA_PATH = os.path.join(SHARED_DIR, "corpus", "argo-schema", "schema.json")


def load_validators():
    """One validator per kind over the whole schema. Kubernetes accepts integers for
    IntOrString and numbers for Quantity, which this schema types as strings only: both are
    widened so that valid upstream examples validate."""
    if not os.path.exists(SCHEMA_PATH):
        return None
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    defs = schema["definitions"]
    for name in ("io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                 "io.k8s.apimachinery.pkg.api.resource.Quantity"):
        defs[name] = dict(defs[name], type=["string", "number"])
    # `$ref`s are "#/definitions/...": resolve them against the whole schema.
    resolver = jsonschema.RefResolver.from_schema(schema)
    return {kind: jsonschema.Draft202012Validator(
        defs[f"io.argoproj.workflow.v1alpha1.{kind}"], resolver=resolver)
        for kind in ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")}


VALIDATORS = load_validators()


def schema_errors(doc):
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in VALIDATORS[doc["kind"]].iter_errors(doc))


def _review(doc):
    rv = make_review(doc)
    return rv, review_raw(EXAMPLE_POLICY, json.dumps(rv))


def _first_pass(path):
    """Runs the binary on one file (mutate, then review per document); no assertions here,
    this runs in worker threads."""
    docs = load_documents(path)
    mutate = run(["mutate", "--policy", EXAMPLE_POLICY, "-f", path, "-o", "json"])
    return path, docs, mutate, [_review(d) for d in docs]


class CorpusBase(ReviewCase):
    """check_files() runs the binary in a few threads (process start-up dominates) and makes
    every assertion in the test's own thread."""

    def check_files(self, paths):
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(_first_pass, paths))
            second = {}
            for path, docs, mutate, reviews in results:
                for i, (rv, proc) in enumerate(reviews):
                    with self.subTest(file=os.path.basename(path), document=i):
                        ans = check_answer(self, rv, proc)
                        if ans.patch is not None:
                            second[(path, i)] = pool.submit(_review, ans.patched)
            placed = {}
            for path, docs, mutate, reviews in results:
                placed[path] = self.check_file(path, docs, mutate, reviews, second)
        return placed

    def check_file(self, path, docs, mutate, reviews, second):
        name = os.path.basename(path)
        self.assertTrue(docs, f"{path}: no handled document")
        self.assertEqual(mutate.returncode, 0, f"{path}: {mutate.stderr}")
        mutated = [json.loads(l) for l in mutate.stdout.splitlines() if l.strip()]
        self.assertEqual(len(mutated), len(docs), f"{path}: mutate printed {len(mutated)} "
                         f"documents for {len(docs)}")
        placed = 0
        for i, (doc, (rv, proc)) in enumerate(zip(docs, reviews)):
            with self.subTest(file=name, document=i):
                ans = check_answer(self, rv, proc)
                self.assertTrue(ans.allowed, ans.response)
                if VALIDATORS is not None:
                    before = schema_errors(doc)
                    after = schema_errors(ans.patched)
                    self.assertEqual([e for e in after if e not in before], [],
                                     "patched object no longer validates")
                if ans.patch is not None:
                    placed += 1
                    again = check_answer(self, *second[(path, i)].result())
                    self.assertIsNone(again.patch, "second pass patched")
                self.assertEqual(normalise(mutated[i]), normalise(ans.patched),
                                 "mutate and review disagree")
        return placed


def corpus_files(folder):
    return sorted(glob.glob(os.path.join(SHARED_DIR, "corpus", folder, "*.yaml")))


class SharedCorpus(CorpusBase):

    def run_folder(self, folder, minimum):
        files = corpus_files(folder)
        if not files:
            self.skipTest(f"corpus/{folder} absent")
        placed = sum(self.check_files(files).values())
        self.assertGreaterEqual(placed, minimum, "suspiciously few documents placed")

    def test_corpus_argo_examples(self):
        self.run_folder("argo-examples", 150)

    def test_corpus_kfp_v1(self):
        self.run_folder("kfp-v1", 10)

    def test_corpus_kfp_gpu_template_merge(self):
        # `flip` has a preferred nodeAffinity (existing placement): Keep leaves it, Merge places
        # it on the GPU pool, keeps its affinity and appends the pool's toleration.
        path = os.path.join(SHARED_DIR, "corpus", "kfp-v1", "preemptible_tpu_gpu.yaml")
        if not os.path.exists(path):
            self.skipTest("corpus/kfp-v1 absent")
        doc = load_documents(path)[0]
        flip = [i for i, t in enumerate(doc["spec"]["templates"]) if t["name"] == "flip"][0]
        self.assertNoPatch(self.review(EXAMPLE_POLICY, doc))
        with open(EXAMPLE_POLICY) as f:
            merge = policy_file(text=f.read().replace("existingPlacement: Keep",
                                                      "existingPlacement: Merge"))
        ans = self.review(merge, doc)
        own = doc["spec"]["templates"][flip]["tolerations"]
        self.assertPlaced(ans, {f"/spec/templates/{flip}/nodeSelector": NS_GPU,
                                f"/spec/templates/{flip}/tolerations": own + [GPU_TOLERATION]},
                          {"flip": "gpu"})


class OwnExamples(CorpusBase):

    def test_examples_validate_and_pass_corpus_checks(self):
        files = sorted(glob.glob(os.path.join(SOURCE_DIR, "examples", "workflows", "*.yaml")))
        self.assertGreaterEqual(len(files), 5)
        for path in files:
            if VALIDATORS is not None:
                for doc in load_documents(path):
                    self.assertEqual(schema_errors(doc), [], path)
        for path, placed in self.check_files(files).items():
            self.assertGreaterEqual(placed, 1, path)

    def placement(self, name):
        doc = load_documents(os.path.join(SOURCE_DIR, "examples", "workflows", name))[0]
        return self.review(EXAMPLE_POLICY, doc)

    def test_example_ml_pipeline(self):
        ans = self.placement("ml-pipeline.yaml")
        self.assertEqual(ans.annotation(), {"prepare-data": "small", "train-model": "gpu",
                                            "evaluate-model": "small", "deploy-model": "small",
                                            "exit-notify": "small"})
        self.assertEqual(ans.warnings, [])

    def test_example_big_memory_job(self):
        self.assertEqual(self.placement("big-memory-job.yaml").annotation(),
                         {"build-index": "highmem"})

    def test_example_cron(self):
        ans = self.placement("cron-nightly-report.yaml")
        self.assertEqual(ans.annotation(), {"aggregate": "highmem", "report": "small"})
        t = ans.patched["spec"]["workflowSpec"]["templates"][1]
        self.assertEqual(t["nodeSelector"], {"topology.kubernetes.io/zone": "europe-west1-b",
                                             "node-pool": "highmem"})

    def test_example_workflowtemplate_inline(self):
        ans = self.placement("workflowtemplate-inline-steps.yaml")
        self.assertEqual(ans.annotation(), {"release/build": "small",
                                            "release/integration-tests": "highmem",
                                            "release/publish": "small"})

    def test_example_pod_spec_patch_resources(self):
        ans = self.placement("pod-spec-patch-resources.yaml")
        self.assertEqual(ans.annotation(), {"default-budget": "small", "own-budget": "highmem",
                                            "patched": "highmem"})
        self.assertWarnings(ans, [("parameterised", "unresolvable")])


if __name__ == "__main__":
    unittest.main()
