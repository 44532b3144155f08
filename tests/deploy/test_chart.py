"""charts/argo-node-allocator: Chart.yaml, values.yaml against values.schema.json, the templates'
structure, and the same resources and settings as the kustomize base. With `go` on PATH the chart
is also rendered (Go's own text/template via tests/deploy/helmlite, no helm binary needed) and
compared object by object with the base."""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib as D  # noqa: E402

TEMPLATES = os.path.join(D.CHART, "templates")


def chart_meta():
    return yaml.safe_load(D.read(os.path.join(D.CHART, "Chart.yaml")))


def default_values():
    return yaml.safe_load(D.read(os.path.join(D.CHART, "values.yaml")))


def schema():
    return json.loads(D.read(os.path.join(D.CHART, "values.schema.json")))


def template_text(name):
    return D.read(os.path.join(TEMPLATES, name))


def all_templates():
    return {n: template_text(n) for n in sorted(os.listdir(TEMPLATES))}


class TestChartMetadata(unittest.TestCase):
    def test_chart_yaml(self):
        c = chart_meta()
        self.assertEqual(c["apiVersion"], "v2")
        self.assertEqual(c["name"], "argo-node-allocator")
        self.assertEqual(c["type"], "application")
        self.assertRegex(c["version"], r"^\d+\.\d+\.\d+$")
        self.assertTrue(str(c["appVersion"]))
        self.assertTrue(c["description"].strip())
        self.assertTrue(c["kubeVersion"].startswith(">="))
        self.assertEqual(os.path.basename(D.CHART), c["name"])

    def test_app_version_matches_the_project_and_base_image(self):
        cmake = D.read(os.path.join(D.SOURCE_DIR, "CMakeLists.txt"))
        m = re.search(r"project\(argo-node-allocator VERSION ([0-9.]+)", cmake)
        self.assertIsNotNone(m)
        self.assertEqual(str(chart_meta()["appVersion"]), m.group(1))
        dep = D.one(D.load_kustomization_directly(D.MANIFESTS), "Deployment")
        self.assertEqual(D.pod_spec(dep)["containers"][0]["image"], f"argo-node-allocator:{m.group(1)}")


class TestValuesSchema(unittest.TestCase):
    def setUp(self):
        self.schema = schema()
        jsonschema.Draft7Validator.check_schema(self.schema)
        self.assertIn("draft-07", self.schema["$schema"])
        self.validator = jsonschema.Draft7Validator(self.schema)

    def errors(self, values):
        return [e.message for e in self.validator.iter_errors(values)]

    def test_defaults_validate(self):
        self.assertEqual(self.errors(default_values()), [])

    def test_default_policy_is_the_example(self):
        self.assertEqual(default_values()["policy"], D.read(D.EXAMPLE_POLICY))

    def test_documented_alternatives_validate(self):
        v = default_values()
        v["certificate"] = {"mode": "existingSecret",
                            "existingSecret": {"name": "my-tls", "caBundle": "TFMwdExTMUNS"}}
        v["webhook"]["failurePolicy"] = "Fail"
        v["webhook"]["objectSelector"] = {"matchExpressions": [
            {"key": "node-allocator.io/skip", "operator": "NotIn", "values": ["true"]}]}
        v["metrics"]["serviceMonitor"]["enabled"] = True
        v["server"]["logFormat"] = "text"
        v["certificate"]["certManager"] = {"issuerRef": {"kind": "ClusterIssuer", "name": "ca"}}
        self.assertEqual(self.errors(v), [])

    def test_bad_values_are_rejected(self):
        bad = [
            ("webhook.failurePolicy", "Sometimes"),
            ("webhook.timeoutSeconds", 31),
            ("webhook.timeoutSeconds", 0),
            ("webhook.reinvocationPolicy", "Always"),
            ("certificate.mode", "self-signed"),
            ("server.logFormat", "xml"),
            ("server.logLevel", "verbose"),
            ("server.timeouts.body", "3 seconds"),
            ("server.threads", -1),
            ("server.threads", 2000),
            ("replicaCount", 0),
            ("replicaCount", "2"),
            ("metrics.port", 8443),
            ("metrics.port", 70000),
            ("service.port", "https"),
            ("image.pullPolicy", "Sometimes"),
            ("resources.requests.cpu", "lots"),
            ("certificate.certManager.duration", "90 days"),
            ("policy", ""),
            ("nonsense", True),
        ]
        for path, value in bad:
            v = default_values()
            node = v
            keys = path.split(".")
            for k in keys[:-1]:
                node = node[k]
            node[keys[-1]] = value
            self.assertNotEqual(self.errors(v), [], f"{path}={value!r} was accepted")

    def test_existing_secret_needs_name_and_ca_bundle(self):
        v = default_values()
        v["certificate"]["mode"] = "existingSecret"
        self.assertNotEqual(self.errors(v), [])
        v["certificate"]["existingSecret"] = {"name": "tls", "caBundle": ""}
        self.assertNotEqual(self.errors(v), [])


DEFINE_RE = re.compile(r'\{\{-?\s*define\s+"([^"]+)"')
INCLUDE_RE = re.compile(r'(?:include|template)\s+"([^"]+)"')
ACTION_RE = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)
VALUES_RE = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


class TestTemplatesStructure(unittest.TestCase):
    """What a helm binary would catch first, checked without one."""

    def test_expected_templates(self):
        names = set(os.listdir(TEMPLATES))
        for n in ("_helpers.tpl", "NOTES.txt", "serviceaccount.yaml", "configmap.yaml", "certificate.yaml",
                  "deployment.yaml", "service.yaml", "poddisruptionbudget.yaml", "networkpolicy.yaml",
                  "mutatingwebhookconfiguration.yaml", "servicemonitor.yaml"):
            self.assertIn(n, names)

    def test_blocks_balance_and_includes_resolve(self):
        texts = all_templates()
        defined = set()
        for t in texts.values():
            defined |= set(DEFINE_RE.findall(t))
        for name, t in texts.items():
            self.assertEqual(t.count("{{"), t.count("}}"), name)
            depth = 0
            for action in ACTION_RE.findall(t):
                word = action.strip().split(" ", 1)[0] if action.strip() else ""
                if word in ("if", "range", "with", "define", "block"):
                    depth += 1
                elif word == "end":
                    depth -= 1
                    self.assertGreaterEqual(depth, 0, f"{name}: unmatched end")
            self.assertEqual(depth, 0, f"{name}: unclosed block")
            for inc in INCLUDE_RE.findall(t):
                self.assertIn(inc, defined, f"{name} includes undefined {inc!r}")

    def test_values_referenced_exist(self):
        values = default_values()
        for name, t in all_templates().items():
            for path in VALUES_RE.findall(t):
                node = values
                for key in path.strip(".").split("."):
                    self.assertIsInstance(node, dict, f"{name}: .Values{path}")
                    self.assertIn(key, node, f"{name}: .Values{path} is not in values.yaml")
                    node = node[key]

    def test_schema_covers_every_top_level_value(self):
        self.assertEqual(set(default_values()) - set(schema()["properties"]), set())


class TestChartMatchesBaseTextually(unittest.TestCase):
    """Key fields of the base appear verbatim in the chart's templates (or values)."""

    @classmethod
    def setUpClass(cls):
        cls.base = D.load_kustomization_directly(D.MANIFESTS)
        cls.values = default_values()

    def assertInText(self, needle, template):
        self.assertIn(needle, template_text(template), f"{needle!r} missing from {template}")

    def test_webhook(self):
        (wh,) = D.one(self.base, "MutatingWebhookConfiguration")["webhooks"]
        t = "mutatingwebhookconfiguration.yaml"
        self.assertInText(f"- name: {wh['name']}", t)
        self.assertInText("admissionReviewVersions: " + json.dumps(wh["admissionReviewVersions"]), t)
        self.assertInText(f"sideEffects: {wh['sideEffects']}", t)
        self.assertInText(f"path: {wh['clientConfig']['service']['path']}", t)
        for rule in wh["rules"]:
            for key in ("apiGroups", "apiVersions", "operations", "resources"):
                self.assertInText(f"{key}: " + json.dumps(rule[key]), t)
            self.assertInText('scope: "*"', t)
        self.assertInText("key: kubernetes.io/metadata.name", t)
        self.assertInText("operator: NotIn", t)
        v = self.values["webhook"]
        self.assertEqual(v["failurePolicy"], wh["failurePolicy"])
        self.assertEqual(v["timeoutSeconds"], wh["timeoutSeconds"])
        self.assertEqual(v["reinvocationPolicy"], wh["reinvocationPolicy"])
        self.assertEqual(v["matchPolicy"], wh["matchPolicy"])
        self.assertEqual(v["namespaceSelector"]["matchLabels"], wh["namespaceSelector"]["matchLabels"])
        for key in ("failurePolicy", "timeoutSeconds", "reinvocationPolicy", "matchPolicy"):
            self.assertInText(f"{key}: {{{{ .Values.webhook.{key}", t)
        self.assertEqual(self.values["service"]["port"], wh["clientConfig"]["service"]["port"])

    def test_deployment(self):
        dep = D.one(self.base, "Deployment")
        c = D.pod_spec(dep)["containers"][0]
        t = "deployment.yaml"
        self.assertEqual(self.values["replicaCount"], dep["spec"]["replicas"])
        self.assertEqual(self.values["resources"], c["resources"])
        self.assertInText(f"- name: {c['name']}", t)
        for arg in c["args"]:
            if arg not in ("json", "info", "10", "0.0.0.0:9090", "2s", "3s", "2"):   # from values
                self.assertInText(f"- {arg}", t)
        _, flags = D.args_to_flags(c["args"])
        self.assertEqual(self.values["server"]["logFormat"], flags["--log-format"])
        self.assertEqual(self.values["server"]["logLevel"], flags["--log-level"])
        self.assertEqual(str(self.values["server"]["shutdownGraceSeconds"]), flags["--shutdown-grace"])
        self.assertEqual(str(self.values["server"]["threads"]), flags["--threads"])
        self.assertEqual(f"0.0.0.0:{self.values['metrics']['port']}", flags["--metrics-listen"])
        for key, value in self.values["server"]["timeouts"].items():
            self.assertEqual(value, flags[f"--{key}-timeout"])
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            get = c[probe]["httpGet"]
            self.assertInText(f"{probe}:\n            httpGet:\n              path: {get['path']}\n"
                              f"              port: {get['port']}\n              scheme: {get['scheme']}", t)
        for p in c["ports"]:
            self.assertInText(f"- name: {p['name']}", t)
        self.assertInText("containerPort: 8443", t)
        for key, val in c["securityContext"].items():
            if isinstance(val, (bool, int)):
                self.assertInText(f"{key}: {json.dumps(val)}", t)
        self.assertInText('drop: ["ALL"]', t)
        self.assertInText("type: RuntimeDefault", t)
        for key, val in D.pod_spec(dep)["securityContext"].items():
            if isinstance(val, (bool, int)):
                self.assertInText(f"{key}: {json.dumps(val)}", t)
        self.assertInText("automountServiceAccountToken: false", t)
        for m in c["volumeMounts"]:
            self.assertInText(f"mountPath: {m['mountPath']}", t)
        self.assertInText("topologyKey: kubernetes.io/hostname", t)

    def test_other_resources(self):
        svc = D.one(self.base, "Service")
        for p in svc["spec"]["ports"]:
            self.assertInText(f"- name: {p['name']}", "service.yaml")
            self.assertInText(f"targetPort: {p['targetPort']}", "service.yaml")
        pdb = D.one(self.base, "PodDisruptionBudget")
        self.assertEqual(self.values["podDisruptionBudget"]["minAvailable"], pdb["spec"]["minAvailable"])
        self.assertInText("unhealthyPodEvictionPolicy: AlwaysAllow", "poddisruptionbudget.yaml")
        self.assertInText("- port: 8443", "networkpolicy.yaml")
        self.assertInText("automountServiceAccountToken: false", "serviceaccount.yaml")
        self.assertInText("policy.yaml: |", "configmap.yaml")
        self.assertInText("cert-manager.io/inject-ca-from", "mutatingwebhookconfiguration.yaml")
        notes = template_text("NOTES.txt")
        self.assertIn("kubectl label namespace", notes)
        self.assertIn("node-allocator.io/placement", notes)
        self.assertIn("delete mutatingwebhookconfiguration", notes)


# ---- Rendering with Go's text/template (helmlite), when go is available ----------------------

_renderer = {}


def renderer():
    if "path" in _renderer:
        return _renderer["path"]
    path = None
    go = shutil.which("go")
    if go:
        tmp = tempfile.mkdtemp(prefix="helmlite-")
        env = dict(os.environ, GOCACHE=os.path.join(tmp, "cache"), GOPATH=os.path.join(tmp, "gopath"),
                   GOPROXY="off", GOFLAGS="", GOTOOLCHAIN="local", GO111MODULE="on", CGO_ENABLED="0")
        out = os.path.join(tmp, "helmlite")
        src = os.path.join(D.HERE, "helmlite", "main.go")
        r = subprocess.run([go, "build", "-o", out, src], cwd=tmp, env=env, capture_output=True, text=True,
                           timeout=240)
        if r.returncode != 0:
            raise AssertionError(f"building helmlite failed:\n{r.stderr}")
        path = out
    _renderer["path"] = path
    return path


def deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def render(overrides=None, release="argo-node-allocator", namespace="argo-node-allocator"):
    """Returns (docs, files) or raises RenderError with the template's error message."""
    values = deep_merge(default_values(), overrides or {})
    jsonschema.Draft7Validator(schema()).validate(values)
    c = chart_meta()
    inp = {"chartDir": D.CHART, "values": values,
           "chart": {"Name": c["name"], "Version": c["version"], "AppVersion": str(c["appVersion"])},
           "release": {"Name": release, "Namespace": namespace, "Service": "Helm"}}
    r = subprocess.run([renderer()], input=json.dumps(inp), capture_output=True, text=True, timeout=60)
    out = json.loads(r.stdout)
    if "error" in out:
        raise RenderError(out["error"])
    docs = []
    for name, text in sorted(out["files"].items()):
        if name.endswith(".yaml"):
            docs += D.load_docs(text)
    return docs, out["files"]


class RenderError(Exception):
    pass


def strip_helm_labels(obj):
    """The chart adds helm.sh/chart, version and managed-by labels; compare without them."""
    obj = copy.deepcopy(obj)
    extra = ("helm.sh/chart", "app.kubernetes.io/version", "app.kubernetes.io/managed-by")

    def walk(o):
        if isinstance(o, dict):
            for k, v in list(o.items()):
                if k == "labels" and isinstance(v, dict):
                    for e in extra:
                        v.pop(e, None)
                else:
                    walk(v)
        elif isinstance(o, list):
            for i in o:
                walk(i)
    walk(obj)
    return obj


@unittest.skipUnless(shutil.which("go"), "go is not on PATH: the chart is not rendered (apt-get install golang-go)")
class TestChartRendered(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs, cls.files = render()
        cls.base = D.load_kustomization_directly(D.MANIFESTS)

    def test_same_objects_as_the_base(self):
        """With default values and the release named like the base, every base object except
        the Namespace (helm --create-namespace) and the placeholder Secret (cert-manager writes
        it) comes out equal, apart from Helm's own labels and the CA-injection annotation."""
        for b in self.base:
            if b["kind"] in ("Namespace", "Secret"):
                continue
            o = strip_helm_labels(D.one(self.docs, b["kind"], b["metadata"]["name"]))
            if b["kind"] == "MutatingWebhookConfiguration":
                self.assertEqual(o["metadata"].pop("annotations"),
                                 {"cert-manager.io/inject-ca-from": "argo-node-allocator/argo-node-allocator-serving"})
            self.assertEqual(o, b, f"{b['kind']} differs between the chart and manifests/base")

    def test_cert_manager_objects_match_the_overlay(self):
        if not D.kubectl():
            self.skipTest("kubectl is not on PATH")
        overlay = D.kustomize_build(D.CERT_MANAGER_OVERLAY)
        for kind in ("Certificate",):
            o = strip_helm_labels(D.one(self.docs, kind))
            self.assertEqual(o["spec"], D.one(overlay, kind)["spec"] | {
                "issuerRef": o["spec"]["issuerRef"]})
        self.assertEqual(D.one(self.docs, "Issuer")["spec"], {"selfSigned": {}})

    def test_notes(self):
        notes = self.files["templates/NOTES.txt"]
        self.assertIn("kubectl label namespace <your-namespace> node-allocator.io/enabled=true", notes)
        self.assertIn("kubectl delete mutatingwebhookconfiguration argo-node-allocator", notes)

    def test_existing_secret_mode(self):
        docs, _ = render({"certificate": {"mode": "existingSecret",
                                          "existingSecret": {"name": "my-tls", "caBundle": "Q0FCVU5ETEU="}}})
        kinds = {d["kind"] for d in docs}
        self.assertNotIn("Certificate", kinds)
        self.assertNotIn("Issuer", kinds)
        mwc = D.one(docs, "MutatingWebhookConfiguration")
        self.assertNotIn("annotations", mwc["metadata"])
        self.assertEqual(mwc["webhooks"][0]["clientConfig"]["caBundle"], "Q0FCVU5ETEU=")
        vol = [v for v in D.pod_spec(D.one(docs, "Deployment"))["volumes"] if v["name"] == "tls"][0]
        self.assertEqual(vol["secret"]["secretName"], "my-tls")

    def test_other_release_and_namespace(self):
        docs, _ = render({"webhook": {"namespaceSelector": {
            "matchLabels": {"team": "ml"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}}},
            release="placer", namespace="infra")
        mwc = D.one(docs, "MutatingWebhookConfiguration")
        wh = mwc["webhooks"][0]
        svc = D.one(docs, "Service")
        self.assertEqual(svc["metadata"]["name"], "placer-argo-node-allocator")
        self.assertEqual(wh["clientConfig"]["service"], {"name": svc["metadata"]["name"], "namespace": "infra",
                                                          "path": "/mutate", "port": 443})
        # Helm deep-merges maps from -f/--set, so the default label stays (null removes it).
        self.assertEqual(wh["namespaceSelector"], {
            "matchLabels": {"node-allocator.io/enabled": "true", "team": "ml"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]},
                                 {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["infra"]}]})
        cert = D.one(docs, "Certificate")
        self.assertIn("placer-argo-node-allocator.infra.svc", cert["spec"]["dnsNames"])
        self.assertEqual(mwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
                         f"infra/{cert['metadata']['name']}")
        dep = D.one(docs, "Deployment")
        self.assertTrue(D.selector_matches(svc["spec"]["selector"], dep["spec"]["template"]["metadata"]["labels"]))

    def test_metrics_off(self):
        docs, _ = render({"metrics": {"enabled": False}})
        c = D.pod_spec(D.one(docs, "Deployment"))["containers"][0]
        self.assertEqual(D.args_to_flags(c["args"])[1]["--metrics-listen"], "off")
        self.assertEqual([p["name"] for p in c["ports"]], ["https"])
        self.assertEqual([p["name"] for p in D.one(docs, "Service")["spec"]["ports"]], ["https"])
        self.assertEqual([r["ports"][0]["port"] for r in D.one(docs, "NetworkPolicy")["spec"]["ingress"]], [8443])

    def test_service_monitor_and_options(self):
        docs, _ = render({"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
                          "webhook": {"failurePolicy": "Fail", "timeoutSeconds": 3, "clusterWorkflowTemplates": False,
                                      "objectSelector": {"matchLabels": {"a": "b"}}},
                          "server": {"maxBodyBytes": 8388608, "threads": 0, "extraArgs": ["--client-ca=/x"]},
                          "priorityClassName": "critical", "podDisruptionBudget": {"enabled": False},
                          "networkPolicy": {"enabled": False}, "image": {"tag": "v9"}})
        sm = D.one(docs, "ServiceMonitor")
        self.assertEqual(sm["metadata"]["labels"]["release"], "prom")
        self.assertEqual(sm["spec"]["endpoints"][0]["port"], "metrics")
        wh = D.one(docs, "MutatingWebhookConfiguration")["webhooks"][0]
        self.assertEqual((wh["failurePolicy"], wh["timeoutSeconds"]), ("Fail", 3))
        self.assertNotIn("clusterworkflowtemplates", wh["rules"][1]["resources"])
        self.assertEqual(wh["objectSelector"], {"matchLabels": {"a": "b"}})
        dep = D.one(docs, "Deployment")
        c = D.pod_spec(dep)["containers"][0]
        self.assertEqual(c["image"], "argo-node-allocator:v9")
        self.assertEqual(D.args_to_flags(c["args"])[1]["--max-body-bytes"], "8388608")
        self.assertEqual(D.args_to_flags(c["args"])[1]["--threads"], "0")   # one per CPU it may use
        self.assertEqual(D.args_to_flags(c["args"])[1]["--client-ca"], "/x")
        self.assertEqual(D.pod_spec(dep)["priorityClassName"], "critical")
        kinds = {d["kind"] for d in docs}
        self.assertNotIn("PodDisruptionBudget", kinds)
        self.assertNotIn("NetworkPolicy", kinds)

    def test_single_replica_with_pdb_is_refused(self):
        with self.assertRaises(RenderError) as e:
            render({"replicaCount": 1})
        self.assertIn("blocks every node drain", str(e.exception))

    def test_existing_secret_without_ca_bundle_fails(self):
        values = deep_merge(default_values(), {"certificate": {"mode": "existingSecret",
                                                               "existingSecret": {"name": "x", "caBundle": ""}}})
        self.assertNotEqual(list(jsonschema.Draft7Validator(schema()).iter_errors(values)), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
