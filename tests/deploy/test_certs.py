"""certs/gen-certs.sh: the chain verifies, the Service's names are in the certificate, keys are
private, the caBundle is the CA, the kustomize overlay it writes renders, and the real server
presents the certificate for the Service's DNS name."""
import base64
import http.client
import os
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib as D  # noqa: E402

SVC_DNS = f"{D.NAME}.{D.NAMESPACE}.svc"


def gen(out, *extra, check=True):
    cmd = ["bash", D.GEN_CERTS, "--out", out, "--service", D.NAME, "--namespace", D.NAMESPACE,
           "--extra-san", "localhost", "--extra-san", "127.0.0.1", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return r


def openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)}: {r.stderr}")
    return r.stdout


class TestGenCerts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "dev")
        cls.result = gen(cls.out, "--days", "30", "--secret-manifest",
                         os.path.join(cls.tmp.name, "secret.yaml"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.out, name)

    def test_files_and_modes(self):
        for name in ("ca.crt", "ca.key", "tls.crt", "tls.key", "ca-bundle.b64"):
            self.assertTrue(os.path.isfile(self.path(name)), name)
        for key in ("ca.key", "tls.key"):
            self.assertEqual(stat.S_IMODE(os.stat(self.path(key)).st_mode), 0o600, key)

    def test_chain_verifies(self):
        self.assertIn("OK", openssl("verify", "-CAfile", self.path("ca.crt"), self.path("tls.crt")))

    def test_sans(self):
        text = openssl("x509", "-in", self.path("tls.crt"), "-noout", "-text")
        svc, ns = D.NAME, D.NAMESPACE
        for name in (svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local", "localhost"):
            self.assertIn(f"DNS:{name},", text.replace("\n", ",") + ",")
        self.assertIn("IP Address:127.0.0.1", text)
        self.assertIn("TLS Web Server Authentication", text)
        self.assertIn("CA:FALSE", text)

    def test_validity_flag(self):
        end = openssl("x509", "-in", self.path("tls.crt"), "-noout", "-enddate").strip()
        self.assertTrue(end.startswith("notAfter="))
        subprocess.run(["openssl", "x509", "-in", self.path("tls.crt"), "-noout", "-checkend",
                        str(29 * 86400)], check=True, capture_output=True)
        r = subprocess.run(["openssl", "x509", "-in", self.path("tls.crt"), "-noout", "-checkend",
                            str(31 * 86400)], capture_output=True)
        self.assertNotEqual(r.returncode, 0, "--days 30 should give a 30-day certificate")

    def test_ca_bundle(self):
        with open(self.path("ca.crt"), "rb") as f:
            want = base64.b64encode(f.read()).decode()
        self.assertEqual(D.read(self.path("ca-bundle.b64")).strip(), want)
        self.assertEqual(self.result.stdout.strip(), want, "stdout is the caBundle alone")

    def test_secret_manifest(self):
        (secret,) = D.load_docs(D.read(os.path.join(self.tmp.name, "secret.yaml")))
        self.assertEqual(secret["type"], "kubernetes.io/tls")
        self.assertEqual(secret["metadata"]["namespace"], D.NAMESPACE)
        tls_volume = [v for v in D.pod_spec(D.one(D.load_kustomization_directly(D.MANIFESTS), "Deployment"))["volumes"]
                      if v["name"] == "tls"][0]
        self.assertEqual(secret["metadata"]["name"], tls_volume["secret"]["secretName"])
        for key in ("tls.crt", "tls.key", "ca.crt"):
            with open(self.path(key), "rb") as f:
                self.assertEqual(base64.b64decode(secret["data"][key]), f.read(), key)

    def test_refuses_to_overwrite_and_reuses_the_ca(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "c")
            gen(out)
            ca = D.read(os.path.join(out, "ca.crt"))
            leaf = D.read(os.path.join(out, "tls.crt"))
            r = gen(out, check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("--force", r.stderr)
            self.assertEqual(D.read(os.path.join(out, "tls.crt")), leaf)
            gen(out, "--force")
            self.assertEqual(D.read(os.path.join(out, "ca.crt")), ca, "--force keeps the CA")
            self.assertNotEqual(D.read(os.path.join(out, "tls.crt")), leaf)
            openssl("verify", "-CAfile", os.path.join(out, "ca.crt"), os.path.join(out, "tls.crt"))
            gen(out, "--new-ca", "--key-type", "ec")
            self.assertNotEqual(D.read(os.path.join(out, "ca.crt")), ca, "--new-ca replaces the CA")
            openssl("verify", "-CAfile", os.path.join(out, "ca.crt"), os.path.join(out, "tls.crt"))

    def test_bad_arguments(self):
        with tempfile.TemporaryDirectory() as tmp:
            for extra in (["--days", "0"], ["--namespace", "Not_A_Label"], ["--bogus"]):
                r = gen(os.path.join(tmp, "x"), *extra, check=False)
                self.assertEqual(r.returncode, 2, extra)

    @unittest.skipUnless(D.kubectl(), "kubectl is not on PATH: the generated overlay is not rendered")
    def test_kustomize_overlay(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "prod")
            r = gen(out, "--kustomize")
            docs = D.kustomize_build(out)
            secret = D.one(docs, "Secret", "argo-node-allocator-tls")
            self.assertEqual(secret["type"], "kubernetes.io/tls")
            for key in ("tls.crt", "tls.key"):
                with open(os.path.join(out, key), "rb") as f:
                    self.assertEqual(base64.b64decode(secret["data"][key]), f.read())
            (wh,) = D.one(docs, "MutatingWebhookConfiguration")["webhooks"]
            self.assertEqual(wh["clientConfig"]["caBundle"], r.stdout.strip())
            self.assertEqual(wh["clientConfig"]["service"]["path"], "/mutate")
            self.assertEqual(wh["rules"], D.EXPECTED_RULES)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TestServerPresentsTheCertificate(unittest.TestCase):
    def test_healthz_over_verified_tls(self):
        if not (D.BIN and os.access(D.BIN, os.X_OK)):
            self.skipTest("NODEALLOC_BIN is not set")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "certs")
            gen(out)
            port = free_port()
            log = open(os.path.join(tmp, "server.log"), "w+")
            proc = subprocess.Popen(
                [D.BIN, "serve", "--policy", D.EXAMPLE_POLICY,
                 "--tls-cert", os.path.join(out, "tls.crt"), "--tls-key", os.path.join(out, "tls.key"),
                 "--listen", f"127.0.0.1:{port}", "--metrics-listen", "off"],
                stdout=log, stderr=subprocess.STDOUT)
            try:
                ctx = ssl.create_default_context(cafile=os.path.join(out, "ca.crt"))
                deadline = time.monotonic() + 20
                status = None
                last_error = None
                while time.monotonic() < deadline:
                    if proc.poll() is not None:
                        break
                    try:
                        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
                        # Verify against the Service's DNS name (what the API server dials), not
                        # the address we connect to.
                        conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                                    server_hostname=SVC_DNS)
                        conn.request("GET", "/healthz", headers={"Host": SVC_DNS})
                        resp = conn.getresponse()
                        status = resp.status
                        resp.read()
                        conn.close()
                        break
                    except (ConnectionRefusedError, ConnectionResetError, socket.timeout) as e:
                        last_error = e
                        time.sleep(0.1)
                if proc.poll() is not None and status is None:
                    log.seek(0)
                    text = log.read()
                    if "not implemented" in text:
                        self.skipTest("serve is not implemented yet")
                    self.fail(f"serve exited with {proc.returncode}:\n{text}")
                self.assertEqual(status, 200, f"no answer from /healthz: {last_error}")
            finally:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                log.close()

    def test_wrong_name_is_rejected_by_the_client(self):
        """The check above is meaningful: a name not in the certificate fails verification."""
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "certs")
            gen(out)
            ctx = ssl.create_default_context(cafile=os.path.join(out, "ca.crt"))
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.load_cert_chain(os.path.join(out, "tls.crt"), os.path.join(out, "tls.key"))
            with socket.socket() as ls:
                ls.bind(("127.0.0.1", 0))
                ls.listen(1)
                port = ls.getsockname()[1]
                def accept():
                    c, _ = ls.accept()
                    try:
                        server_ctx.wrap_socket(c, server_side=True).close()
                    except (ssl.SSLError, OSError):
                        c.close()
                t = threading.Thread(target=accept)
                t.start()
                with self.assertRaises(ssl.SSLCertVerificationError):
                    ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                    server_hostname="other.example.svc")
                t.join(10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
