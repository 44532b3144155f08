"""Shared helpers for the end-to-end tests: run the real binary, build AdmissionReviews and
objects, check answers the way kube-apiserver does, and compare results with expectations
written by hand.

Environment (set by tests/CMakeLists.txt): NODEALLOC_BIN, NODEALLOC_SOURCE_DIR,
NODEALLOC_SHARED_DIR. Without them: the binary of build/ (or build-e2e/) of this checkout,
and ../shared next to it.
"""

import base64
import copy
import json
import os
import re
import subprocess
import tempfile
import unittest
import uuid

import jsonpatch
import yaml

SOURCE_DIR = os.environ.get(
    "NODEALLOC_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SHARED_DIR = os.environ.get("NODEALLOC_SHARED_DIR", os.path.join(SOURCE_DIR, "..", "shared"))
_CANDIDATES = [os.path.join(SOURCE_DIR, *p, "argo-node-allocator")
               for p in (("build",), ("build-e2e",), ("build-e2e", "webhook"))]
BIN = os.environ.get("NODEALLOC_BIN") or next(
    (c for c in _CANDIDATES if os.access(c, os.X_OK)), _CANDIDATES[0])
EXAMPLE_POLICY = os.path.join(SOURCE_DIR, "examples", "policy.yaml")

GROUP, VERSION = "argoproj.io", "v1alpha1"
HANDLED_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
ANNOTATION = "node-allocator.io/placement"
SKIP = "node-allocator.io/skip"
WARNING_RE = re.compile(r'node-allocator: template "([^"]+)": ([a-z-]+): (.+)$')
MORE_RE = re.compile(r"^node-allocator: (\d+) more warnings$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# ---------------------------------------------------------------------------------------------
# Running the binary

def run(args, stdin=None, timeout=60):
    """Runs the binary; stdin is str or bytes. Returns CompletedProcess with text output."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    proc = subprocess.run([BIN] + list(args), input=stdin, capture_output=True, timeout=timeout)
    proc.stdout = proc.stdout.decode("utf-8", "replace")
    proc.stderr = proc.stderr.decode("utf-8", "replace")
    return proc


_TMP = tempfile.TemporaryDirectory(prefix="nodealloc-e2e-")


def write_temp(text, suffix=".yaml"):
    """Writes text to a new file in this run's temporary folder and returns its path."""
    fd, path = tempfile.mkstemp(suffix=suffix, dir=_TMP.name)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------------------------
# Policies

POOL_SMALL = {"name": "small", "nodeSelector": {"node-pool": "small"},
              "capacity": {"cpu": "4", "memory": "16Gi"}}
POOL_HIGHMEM = {"name": "highmem", "nodeSelector": {"node-pool": "highmem"},
                "capacity": {"cpu": "16", "memory": "128Gi"}}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
POOL_GPU = {"name": "gpu", "nodeSelector": {"node-pool": "gpu", "nvidia.com/gpu.present": "true"},
            "capacity": {"cpu": "32", "memory": "240Gi", "nvidia.com/gpu": "4"},
            "dedicatedTo": ["nvidia.com/gpu"], "tolerations": [GPU_TOLERATION]}
POOLS = [POOL_SMALL, POOL_HIGHMEM, POOL_GPU]
NS_SMALL = POOL_SMALL["nodeSelector"]
NS_HIGHMEM = POOL_HIGHMEM["nodeSelector"]
NS_GPU = POOL_GPU["nodeSelector"]


def policy_text(pools=None, **spec):
    """A PlacementPolicy as YAML text. spec keys: mode, strategy, existingPlacement, onNoFit,
    executorOverhead. Pools default to small, highmem, gpu (no executor overhead)."""
    body = {"apiVersion": "node-allocator.io/v1", "kind": "PlacementPolicy",
            "spec": dict(spec, pools=copy.deepcopy(POOLS if pools is None else pools))}
    return yaml.safe_dump(body, sort_keys=False)


_policy_cache = {}


def policy_file(pools=None, text=None, **spec):
    """Path of a policy file (written once per distinct content)."""
    if text is None:
        text = policy_text(pools, **spec)
    if text not in _policy_cache:
        _policy_cache[text] = write_temp(text)
    return _policy_cache[text]


def pool(name, capacity, node_selector=None, **extra):
    p = {"name": name, "nodeSelector": node_selector or {"node-pool": name}, "capacity": capacity}
    p.update(extra)
    return p


# ---------------------------------------------------------------------------------------------
# Objects

def resources(requests=None, limits=None):
    r = {}
    if requests is not None:
        r["requests"] = requests
    if limits is not None:
        r["limits"] = limits
    return r


def ctr(name, requests=None, limits=None, **extra):
    """A container template; extra keys are added to the template (sidecars, nodeSelector...)."""
    c = {"image": "alpine:3.19", "command": ["true"]}
    if requests is not None or limits is not None:
        c["resources"] = resources(requests, limits)
    t = {"name": name, "container": c}
    t.update(extra)
    return t


def container(name, requests=None, limits=None, **extra):
    """A bare container (sidecar, init container, containerSet entry)."""
    c = {"name": name, "image": "alpine:3.19"}
    if requests is not None or limits is not None:
        c["resources"] = resources(requests, limits)
    c.update(extra)
    return c


def steps(name, groups, **extra):
    """A steps template. groups: list of lists of (step name, template name or inline dict)."""
    t = {"name": name, "steps": [[_call(s, target) for s, target in g] for g in groups]}
    t.update(extra)
    return t


def dag(name, tasks, **extra):
    """A dag template. tasks: list of (task name, template name or inline dict)."""
    t = {"name": name, "dag": {"tasks": [_call(s, target) for s, target in tasks]}}
    t.update(extra)
    return t


def _call(step, target):
    if isinstance(target, dict):
        inline = {k: v for k, v in target.items() if k != "name"}
        return {"name": step, "inline": inline}
    return {"name": step, "template": target}


def workflow(*templates, kind="Workflow", spec=None, annotations=None, name="wf"):
    """An object of the given kind holding these templates (under spec.workflowSpec for a
    CronWorkflow); spec: extra keys for the workflow spec."""
    wspec = {"entrypoint": templates[0]["name"] if templates else "main",
             "templates": list(templates)}
    wspec.update(spec or {})
    meta = {"name": name}
    if kind != "ClusterWorkflowTemplate":
        meta["namespace"] = "argo"
    if annotations is not None:
        meta["annotations"] = annotations
    if kind == "CronWorkflow":
        body = {"schedules": ["0 * * * *"], "workflowSpec": wspec}
    else:
        body = wspec
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": meta, "spec": body}


# Raw JSON numbers: raw("1e3") in an object is sent as the JSON number text 1e3.
_RAW_PREFIX = "\u0000raw:"


def raw(number_text):
    return _RAW_PREFIX + number_text


def dumps(obj):
    text = json.dumps(obj)
    return re.sub(r'"\\u0000raw:([^"]*)"', lambda m: m.group(1), text)


# ---------------------------------------------------------------------------------------------
# AdmissionReviews

def make_review(obj, kind=None, operation="CREATE", version="v1", uid=None, dry_run=False,
                old_object=None, group=GROUP, kind_version=VERSION):
    kind = kind or (obj or {}).get("kind", "Workflow")
    req = {
        "uid": uid or str(uuid.uuid4()),
        "kind": {"group": group, "version": kind_version, "kind": kind},
        "resource": {"group": group, "version": kind_version,
                     "resource": kind.lower() + "s"},
        "requestKind": {"group": group, "version": kind_version, "kind": kind},
        "name": ((obj or old_object or {}).get("metadata") or {}).get("name", ""),
        "namespace": "argo",
        "operation": operation,
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old_object,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    return {"apiVersion": f"admission.k8s.io/{version}", "kind": "AdmissionReview", "request": req}


class Answer:
    """A checked answer: response, decoded patch (list or None), patched object, warnings."""

    def __init__(self, review_obj, out):
        self.review = review_obj
        self.request = review_obj["request"]
        self.out = out
        self.response = out["response"]
        self.allowed = self.response.get("allowed")
        self.warnings = self.response.get("warnings") or []
        self.patch = None
        self.patched = copy.deepcopy(self.request["object"])
        if "patch" in self.response:
            self.patch = json.loads(base64.b64decode(self.response["patch"], validate=True))
            self.patched = jsonpatch.apply_patch(self.request["object"], self.patch)

    def annotation(self):
        """The placement annotation of the patched object, parsed (None when absent)."""
        value = ((self.patched.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
        return None if value is None else json.loads(value)


def review_raw(policy_path, review_text):
    return run(["review", "--policy", policy_path], stdin=review_text)


def check_answer(tc, review_obj, proc):
    """Checks an answer as kube-apiserver would and returns an Answer."""
    tc.assertEqual(proc.returncode, 0, f"review exited {proc.returncode}: {proc.stderr}")
    try:
        out = json.loads(proc.stdout)
    except ValueError as e:
        tc.fail(f"answer is not JSON ({e}): {proc.stdout[:500]!r}")
    tc.assertEqual(out.get("apiVersion"), review_obj["apiVersion"], "apiVersion not echoed")
    tc.assertEqual(out.get("kind"), "AdmissionReview")
    resp = out.get("response")
    tc.assertIsInstance(resp, dict, "no response")
    tc.assertEqual(resp.get("uid"), review_obj["request"]["uid"], "uid not echoed")
    tc.assertIsInstance(resp.get("allowed"), bool, "allowed missing or not a boolean")
    if "patch" in resp:
        tc.assertEqual(resp.get("patchType"), "JSONPatch", "patch without patchType JSONPatch")
        tc.assertTrue(resp["allowed"], "a denial carries a patch")
        ops = json.loads(base64.b64decode(resp["patch"], validate=True))
        tc.assertIsInstance(ops, list)
        tc.assertTrue(ops, "empty patch sent (no patch expected when there is nothing to do)")
        check_patch_ops(tc, review_obj["request"]["object"], ops)
    else:
        tc.assertNotIn("patchType", resp, "patchType without patch")
    for w in resp.get("warnings") or []:
        tc.assertIsInstance(w, str)
        tc.assertIsNone(CONTROL_RE.search(w), f"control character in warning {w!r}")
        tc.assertTrue(WARNING_RE.match(w) or MORE_RE.match(w), f"badly formed warning {w!r}")
    tc.assertLessEqual(len(resp.get("warnings") or []), 20, "more than 20 warnings")
    if not resp["allowed"]:
        tc.assertIsInstance(resp.get("status"), dict, "denial without status")
    return Answer(review_obj, out)


def check_patch_ops(tc, obj, ops):
    """Applies ops one by one: each must apply and change the document (no no-op), and no
    path may contain an unescaped '~'."""
    doc = copy.deepcopy(obj)
    for op in ops:
        tc.assertIn(op.get("op"), ("add", "remove", "replace", "copy", "move", "test"), op)
        path = op.get("path", "")
        tc.assertTrue(path.startswith("/"), f"bad path {path!r}")
        tc.assertIsNone(re.search(r"~(?![01])", path), f"unescaped ~ in {path!r}")
        try:
            new = jsonpatch.apply_patch(doc, [op])
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
            tc.fail(f"operation {op} does not apply: {e}")
        if op["op"] != "test":
            tc.assertNotEqual(new, doc, f"operation {op} changes nothing")
        doc = new


def expected(obj, sets=None, placement=None, annotations=None):
    """The object expected after placement: obj with each JSON pointer in sets given its value
    (parents created as maps), and the placement annotation set to placement (a dict) when it
    is not None."""
    result = copy.deepcopy(obj)
    for pointer, value in (sets or {}).items():
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        node = result
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    if placement is not None:
        anns = result.setdefault("metadata", {}).setdefault("annotations", {})
        anns[ANNOTATION] = json.dumps(placement, separators=(",", ":"))
    for k, v in (annotations or {}).items():
        result.setdefault("metadata", {}).setdefault("annotations", {})[k] = v
    return result


class ReviewCase(unittest.TestCase):
    """Base class: review() runs the binary and cross-checks v1/v1beta1, dryRun and a second
    pass on the patched object."""

    maxDiff = None

    def review(self, policy, obj, kind=None, operation="CREATE", version="v1", cross=True,
               **kw):
        """policy: a path, or a dict of policy_text() arguments."""
        if isinstance(policy, dict):
            policy = policy_file(**policy)
        rv = make_review(obj, kind=kind, operation=operation, version=version, **kw)
        text = dumps(rv)
        ans = check_answer(self, json.loads(text), review_raw(policy, text))
        if cross:
            self._cross_check(policy, obj, kind, operation, version, kw, ans)
        return ans

    def _cross_check(self, policy, obj, kind, operation, version, kw, ans):
        uid = ans.request["uid"]
        other = "v1beta1" if version == "v1" else "v1"
        variants = [dict(kw, version=other), dict(kw, version=version, dry_run=True)]
        for v in variants:
            v2 = dict(v, uid=uid)
            ver = v2.pop("version")
            rv = make_review(obj, kind=kind, operation=operation, version=ver, **v2)
            text = dumps(rv)
            rv = json.loads(text)
            a2 = check_answer(self, rv, review_raw(policy, text))
            self.assertEqual(a2.response, ans.response,
                             f"answer differs for {ver} dryRun={v2.get('dry_run', False)}")
        if ans.patch is not None:
            # Idempotency: the webhook run on its own output yields no patch.
            rv = make_review(ans.patched, kind=kind, operation=operation, version=version,
                             **{k: v for k, v in kw.items() if k != "old_object"})
            again = check_answer(self, rv, review_raw(policy, json.dumps(rv)))
            self.assertIsNone(again.patch, f"second pass patched: {again.patch}")

    # -- assertions ------------------------------------------------------------------------

    def assertPlaced(self, ans, sets=None, placement=None, annotations=None):
        """Allowed, and the patched object equals the original with these changes."""
        self.assertTrue(ans.allowed, ans.response)
        want = expected(ans.request["object"], sets, placement, annotations)
        got = copy.deepcopy(ans.patched)
        if placement is not None:
            # The annotation is compared as JSON (its key order is not part of the contract).
            value = got["metadata"]["annotations"].get(ANNOTATION)
            self.assertIsNotNone(value, "placement annotation missing")
            self.assertEqual(json.loads(value), placement, "placement annotation")
            self.assertEqual(value, json.dumps(json.loads(value), separators=(",", ":"),
                                               ensure_ascii=False),
                             "placement annotation is not compact JSON")
            got["metadata"]["annotations"][ANNOTATION] = want["metadata"]["annotations"][ANNOTATION]
        self.assertEqual(got, want)

    def assertNoPatch(self, ans):
        self.assertTrue(ans.allowed, ans.response)
        self.assertIsNone(ans.patch, f"unexpected patch {ans.patch}")
        self.assertNotIn("patchType", ans.response)

    def assertWarnings(self, ans, expected_list):
        """expected_list: (template, reason) or (template, reason, [substrings of details])
        in order; or a str for a literal warning."""
        got = ans.warnings
        self.assertEqual(len(got), len(expected_list), f"warnings: {got}")
        for w, exp in zip(got, expected_list):
            if isinstance(exp, str):
                self.assertEqual(w, exp)
                continue
            m = WARNING_RE.match(w)
            self.assertIsNotNone(m, f"badly formed warning {w!r}")
            self.assertEqual((m.group(1), m.group(2)), tuple(exp[:2]), w)
            for sub in (exp[2] if len(exp) > 2 else []):
                self.assertIn(sub, m.group(3), w)


def normalise(obj):
    """A copy of obj with the placement annotation parsed, so that its key order does not
    matter in comparisons."""
    obj = copy.deepcopy(obj)
    anns = (obj.get("metadata") or {}).get("annotations") or {}
    if ANNOTATION in anns:
        anns[ANNOTATION] = json.loads(anns[ANNOTATION])
    return obj


def load_documents(path):
    """The handled-kind documents of a YAML file, as dicts."""
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
    return [d for d in docs if d.get("kind") in HANDLED_KINDS]
