"""Shared helpers for the deployment tests (manifests/, charts/, certs/, Dockerfile).

Environment: NODEALLOC_SOURCE_DIR (repository root; default: two levels up from here) and
NODEALLOC_BIN (the built argo-node-allocator; the tests that need it skip without it).
Nothing here touches the network or a cluster.
"""
import os
import re
import shutil
import subprocess
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.environ.get("NODEALLOC_SOURCE_DIR") or os.path.join(HERE, "..", ".."))
BIN = os.environ.get("NODEALLOC_BIN", "")
MANIFESTS = os.path.join(SOURCE_DIR, "manifests")
BASE = os.path.join(MANIFESTS, "base")
CERT_MANAGER_OVERLAY = os.path.join(MANIFESTS, "overlays", "cert-manager")
CHART = os.path.join(SOURCE_DIR, "charts", "argo-node-allocator")
GEN_CERTS = os.path.join(SOURCE_DIR, "certs", "gen-certs.sh")
EXAMPLE_POLICY = os.path.join(SOURCE_DIR, "examples", "policy.yaml")

NAME = "argo-node-allocator"
NAMESPACE = "argo-node-allocator"
WEBHOOK_NAME = "placement.node-allocator.io"

# The server's command line: shared/spec/placement.md section 8, plus the per-request timeouts
# and worker count the server adds (webhook/server/config.cpp; `serve --help` is checked when it runs).
SPEC_SERVE_FLAGS = {
    "--policy", "--tls-cert", "--tls-key", "--listen", "--metrics-listen", "--client-ca",
    "--max-body-bytes", "--shutdown-grace", "--log-format", "--log-level",
    "--handshake-timeout", "--header-timeout", "--body-timeout", "--write-timeout", "--threads",
}
TLS_ROUTES = {("POST", "/mutate"), ("POST", "/v1/place"), ("GET", "/healthz"), ("GET", "/readyz")}
METRICS_ROUTES = {("GET", "/metrics"), ("GET", "/healthz")}

EXPECTED_RULES = [
    {"apiGroups": ["argoproj.io"], "apiVersions": ["v1alpha1"], "operations": ["CREATE"],
     "resources": ["workflows"], "scope": "*"},
    {"apiGroups": ["argoproj.io"], "apiVersions": ["v1alpha1"], "operations": ["CREATE", "UPDATE"],
     "resources": ["workflowtemplates", "clusterworkflowtemplates", "cronworkflows"], "scope": "*"},
]

BASE_KINDS = {"Namespace", "ServiceAccount", "ConfigMap", "Secret", "Deployment", "Service",
              "PodDisruptionBudget", "NetworkPolicy", "MutatingWebhookConfiguration"}
CLUSTER_SCOPED = {"Namespace", "MutatingWebhookConfiguration"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def kubectl():
    """kubectl on PATH; NODEALLOC_NO_KUBECTL=1 pretends it is absent (to test the fallback)."""
    if os.environ.get("NODEALLOC_NO_KUBECTL"):
        return None
    return shutil.which("kubectl")


def kustomize_build(path):
    """Renders a kustomization with `kubectl kustomize` (the caller checks kubectl() first)."""
    r = subprocess.run([kubectl(), "kustomize", path], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed:\n{r.stderr}")
    return load_docs(r.stdout)


def load_kustomization_directly(path, seen=None):
    """Loads a patch-free kustomization without kustomize: its `resources:` files and directories,
    recursively. Refuses transformers that would change the resources (so the result is what
    kustomize renders, apart from the `images:` entry, which must agree with the files)."""
    seen = seen or set()
    path = os.path.abspath(path)
    if path in seen:
        raise AssertionError(f"kustomization cycle at {path}")
    seen.add(path)
    kfile = os.path.join(path, "kustomization.yaml")
    k = yaml.safe_load(read(kfile))
    changing = {"patches", "patchesStrategicMerge", "patchesJson6902", "configMapGenerator",
                "secretGenerator", "namespace", "namePrefix", "nameSuffix", "commonLabels",
                "labels", "commonAnnotations", "replicas", "components", "replacements"}
    found = changing & set(k)
    if found:
        raise AssertionError(f"{kfile} uses {sorted(found)}: keep the base patch-free")
    docs = []
    for res in k.get("resources", []):
        p = os.path.join(path, res)
        if os.path.isdir(p):
            docs += load_kustomization_directly(p, seen)
        else:
            docs += load_docs(read(p))
    for img in k.get("images", []):
        want = f"{img.get('newName', img['name'])}:{img['newTag']}" if "newTag" in img else None
        for d in docs:
            for c in pod_spec(d).get("containers", []) if d.get("kind") == "Deployment" else []:
                if c["image"].split(":")[0] == img["name"] and want:
                    if c["image"] != want:
                        raise AssertionError(f"images: entry {want} disagrees with {c['image']}")
    return docs


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d["kind"], []).append(d)
    return out


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    if len(found) != 1:
        raise AssertionError(f"expected exactly one {kind} {name or ''}, found {len(found)}")
    return found[0]


def pod_spec(deployment):
    return deployment["spec"]["template"]["spec"]


def selector_matches(match_labels, labels):
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


def resolve_port(container, port):
    """A probe or Service targetPort (number or name) to the container port number."""
    for p in container.get("ports", []):
        if port == p.get("name") or port == p.get("containerPort"):
            return p["containerPort"]
    raise AssertionError(f"port {port!r} is not a port of container {container['name']}")


def args_to_flags(args):
    """["serve", "--a", "x", "--b=y"] -> ("serve", {"--a": "x", "--b": "y"})."""
    assert args and args[0] == "serve", f"args must start with the subcommand serve: {args}"
    flags = {}
    i = 1
    while i < len(args):
        a = str(args[i])
        assert a.startswith("--"), f"unexpected argument {a!r} in {args}"
        if "=" in a:
            k, v = a.split("=", 1)
            flags[k] = v
            i += 1
        else:
            assert i + 1 < len(args), f"flag {a} has no value"
            flags[a] = str(args[i + 1])
            i += 2
    return args[0], flags


_help_cache = {}


def serve_help_flags():
    """The flags `$NODEALLOC_BIN serve --help` lists, or None when the binary is missing or
    serve is not implemented yet (so the caller skips)."""
    if "flags" in _help_cache:
        return _help_cache["flags"]
    flags = None
    if BIN and os.access(BIN, os.X_OK):
        r = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, timeout=30)
        text = r.stdout + r.stderr
        if "not implemented" not in text:
            found = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
            found.discard("--help")
            flags = found or None
    _help_cache["flags"] = flags
    return flags


def serve_not_implemented(stderr_text):
    return "not implemented" in stderr_text


class Skip(unittest.SkipTest):
    pass
