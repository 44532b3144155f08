#!/usr/bin/env bash
# Builds the fuzz seed corpora in OUT (default build-fuzz/seeds), one folder per target:
#   quantity/  quantities quoted in the unit tests and every resource value in the corpus
#   policy/    examples/policy.yaml and the policies written in the unit and e2e tests
#   http/      POST /mutate of some of those reviews (3 selector bytes, then the body)
#   review/    examples/review.json, every Workflow-like document of ../shared/corpus and
#              examples/workflows (YAML converted to JSON, one document per file), the objects
#              written in the unit tests, and AdmissionReviews wrapping a few of them
# plus the small hand-written seeds committed under tests/fuzz/seeds/. Nothing is downloaded;
# the shared corpus is read in place and its copies stay in OUT (never in the repository).
# Needs /usr/bin/python3 with python3-yaml (Debian).
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$src/build-fuzz/seeds}"
shared="${NODEALLOC_SHARED_DIR:-$src/../shared}"
rm -rf "$out"
mkdir -p "$out"/{quantity,policy,review,http}
cp "$src"/tests/fuzz/seeds/quantity/* "$out/quantity/"
cp "$src"/tests/fuzz/seeds/policy/* "$out/policy/"
cp "$src"/tests/fuzz/seeds/review/* "$out/review/"
cp "$src"/tests/fuzz/seeds/http/* "$out/http/"
cp "$src"/tests/fuzz/regressions/* "$out/review/" 2>/dev/null || true

/usr/bin/python3 - "$src" "$shared" "$out" <<'PY'
import glob, hashlib, json, os, re, sys
import yaml

src, shared, out = sys.argv[1:4]
ARGO = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
counts = {}

def save(kind, data, limit):
    if isinstance(data, str):
        # A lone surrogate (from a "\\udd6d" escape in a test) goes back to that escape.
        data = data.encode("utf-8", "backslashreplace")
    if not data or len(data) > limit:
        return
    name = hashlib.sha1(data).hexdigest()[:16]
    path = os.path.join(out, kind, name)
    if not os.path.exists(path):
        counts[kind] = counts.get(kind, 0) + 1
        with open(path, "wb") as f:
            f.write(data)

def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=str)

def quantities(node):
    """Every value under a 'requests', 'limits' or 'capacity' map."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("requests", "limits", "capacity", "executorOverhead") and isinstance(v, dict):
                for q in v.values():
                    if isinstance(q, (str, int, float)) and not isinstance(q, bool):
                        yield str(q)
            else:
                yield from quantities(v)
    elif isinstance(node, list):
        for v in node:
            yield from quantities(v)

def review_of(obj, uid="seed-0001", operation="CREATE"):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": uid,
                        "kind": {"group": "argoproj.io", "version": "v1alpha1",
                                 "kind": obj.get("kind", "Workflow")},
                        "resource": {"group": "argoproj.io", "version": "v1alpha1",
                                     "resource": "workflows"},
                        "namespace": "seed", "operation": operation, "object": obj}}

# Objects: the shared corpus and the examples.
objects = []
files = sorted(glob.glob(os.path.join(shared, "corpus", "**", "*.yaml"), recursive=True))
files += sorted(glob.glob(os.path.join(src, "examples", "workflows", "*.yaml")))
for path in files:
    try:
        with open(path) as f:
            docs = list(yaml.safe_load_all(f))
    except yaml.YAMLError:
        continue
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") in ARGO:
            objects.append(doc)

# The unit tests' C++ raw strings and the e2e tests' Python string literals.
texts = []
for path in sorted(glob.glob(os.path.join(src, "tests", "unit", "*.cpp"))):
    with open(path) as f:
        code = f.read()
    texts += re.findall(r'R"\((.*?)\)"', code, re.S)
    for q in re.findall(r'(?:nanos|q|parse_quantity|parsed|valid|invalid)\("((?:[^"\\]|\\.)*)"\)', code):
        save("quantity", q.encode().decode("unicode_escape").encode("latin-1", "replace"), 256)
for path in sorted(glob.glob(os.path.join(src, "tests", "e2e", "*.py"))):
    with open(path) as f:
        code = f.read()
    texts += re.findall(r'"""(.*?)"""', code, re.S)
for text in texts:
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        continue
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        spec = doc.get("spec")
        if doc.get("kind") == "PlacementPolicy" or (isinstance(spec, dict) and "pools" in spec):
            save("policy", text, 4096)
        elif doc.get("kind") == "AdmissionReview":
            save("review", compact(doc), 32768)
        elif "spec" in doc or "templates" in doc:
            doc.setdefault("apiVersion", "argoproj.io/v1alpha1")
            doc.setdefault("kind", "Workflow")
            objects.append(doc)

for i, obj in enumerate(objects):
    save("review", compact(obj), 32768)
    for q in quantities(obj):
        save("quantity", q, 256)
    if i % 8 == 0:
        review = compact(review_of(obj, uid="seed-%04d" % i))
        save("review", review, 32768)
        save("http", "\x00\x00\x00" + review, 32768)  # POST /mutate, application/json

with open(os.path.join(src, "examples", "policy.yaml")) as f:
    policy = f.read()
save("policy", policy, 4096)
for q in quantities(yaml.safe_load(policy)):
    save("quantity", q, 256)
with open(os.path.join(src, "examples", "review.json"), "rb") as f:
    save("review", f.read(), 32768)
print("seeds:", ", ".join("%s +%d" % kv for kv in sorted(counts.items())), "->", out)
PY
