"""Helpers for the server's end-to-end tests: a throw-away PKI made with the openssl CLI, the
real binary started on random ports of 127.0.0.1, and clients that call it the way
kube-apiserver does (verify the serving certificate for the service's DNS name, keep-alive)."""

import base64
import copy
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("NODEALLOC_BIN", "build/webhook/argo-node-allocator")
SOURCE_DIR = os.environ.get("NODEALLOC_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
EXAMPLE_POLICY = os.path.join(SOURCE_DIR, "examples", "policy.yaml")
SERVICE_NAME = "argo-node-allocator.argo-node-allocator.svc"

# --------------------------------------------------------------------------------------------
# PKI


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


class Pki:
    """A CA in `directory`, and leaf certificates signed by it on demand (EC P-256: fast)."""

    def __init__(self, directory, name="ca"):
        self.dir = directory
        self.ca_crt = os.path.join(directory, f"{name}.crt")
        self.ca_key = os.path.join(directory, f"{name}.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", self.ca_key, "-out", self.ca_crt, "-days", "2",
                 "-subj", f"/CN=test {name}", cwd=directory)

    def issue(self, name, cn, sans=(), client=False, days=1):
        """Returns (crt_path, key_path) of a new leaf certificate."""
        key = os.path.join(self.dir, f"{name}.key")
        csr = os.path.join(self.dir, f"{name}.csr")
        crt = os.path.join(self.dir, f"{name}.crt")
        ext = os.path.join(self.dir, f"{name}.ext")
        with open(ext, "w") as f:
            if sans:
                f.write("subjectAltName=" + ",".join(sans) + "\n")
            f.write("extendedKeyUsage=" + ("clientAuth" if client else "serverAuth") + "\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", f"/CN={cn}", cwd=self.dir)
        _openssl("x509", "-req", "-in", csr, "-CA", self.ca_crt, "-CAkey", self.ca_key,
                 "-set_serial", str(int(time.time() * 1e6) % (1 << 62)), "-out", crt,
                 "-days", str(days), "-extfile", ext, cwd=self.dir)
        return crt, key

    def issue_server(self, name="server", days=1):
        return self.issue(name, SERVICE_NAME, sans=[
            "DNS:argo-node-allocator", "DNS:argo-node-allocator.argo-node-allocator",
            f"DNS:{SERVICE_NAME}", "IP:127.0.0.1"], days=days)


def der_of(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class SecretDir:
    """A directory laid out like a mounted Kubernetes Secret or ConfigMap: the files are symlinks
    through `..data`, which points at a timestamped directory and is swapped atomically."""

    def __init__(self, directory, files):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self._n = 0
        self._current = None
        self.update(files)
        for name in files:
            os.symlink(os.path.join("..data", name), os.path.join(directory, name))

    def path(self, name):
        return os.path.join(self.dir, name)

    def update(self, files):
        """files: {name: bytes or str}. Swaps them in all at once, as kubelet does."""
        self._n += 1
        stamp = f"..2026_01_01_00_00_{self._n:02d}.{os.getpid()}"
        target = os.path.join(self.dir, stamp)
        os.mkdir(target)
        for name, content in files.items():
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(os.path.join(target, name), mode) as f:
                f.write(content)
        tmp = os.path.join(self.dir, "..data_tmp")
        os.symlink(stamp, tmp)
        os.rename(tmp, os.path.join(self.dir, "..data"))
        if self._current:
            shutil.rmtree(os.path.join(self.dir, self._current))
        self._current = stamp


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


# --------------------------------------------------------------------------------------------
# The server


class Server:
    """The real binary on 127.0.0.1 with random ports (it binds port 0 and logs what it got)."""

    def __init__(self, policy, cert, key, *extra, metrics=True, env=None, log_format="text"):
        self.log_path = tempfile.mktemp(prefix="nodealloc-server-", suffix=".log")
        args = [BIN, "serve", "--policy", policy, "--tls-cert", cert, "--tls-key", key,
                "--listen", "127.0.0.1:0",
                "--metrics-listen", "127.0.0.1:0" if metrics else "off",
                "--log-format", log_format, "--threads", "2", *extra]
        self._log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **(env or {})})
        except OSError:
            self._log.close()
            os.unlink(self.log_path)
            raise
        self.port = self.metrics_port = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            text = self.log()
            m = re.search(r'serving.*?listen"?[=:]"?127\.0\.0\.1:(\d+)', text)
            if m:
                self.port = int(m.group(1))
                mm = re.search(r'metrics_listen"?[=:]"?127\.0\.0\.1:(\d+)', text)
                self.metrics_port = int(mm.group(1)) if mm else None
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        self.stop()
        raise AssertionError("server did not start:\n" + self.log())

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log()):
                return
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r}:\n{self.log()}")

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout=20):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        """Stops the server (SIGTERM) and returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if self.proc.returncode not in (0, -signal.SIGKILL) or os.environ.get("NODEALLOC_KEEP_LOGS"):
            # Crashed (or a sanitizer stopped it): keep and show the log.
            print(f"server exited {self.proc.returncode}; log {self.log_path}:\n{self.log()[-20000:]}")
            return self.proc.returncode
        try:
            os.unlink(self.log_path)
        except FileNotFoundError:
            pass
        return self.proc.returncode

    # Metrics ----------------------------------------------------------------------------

    def scrape(self):
        """{(name, frozenset(labels.items())): value} from GET /metrics."""
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=10)
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        body = resp.read().decode()
        conn.close()
        assert resp.status == 200, resp.status
        assert resp.getheader("Content-Type").startswith("text/plain; version=0.0.4"), \
            resp.getheader("Content-Type")
        return parse_metrics(body)

    def metric(self, name, **labels):
        return self.scrape().get((name, frozenset(labels.items())), 0)

    def wait_metric(self, name, value, timeout=10, **labels):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.metric(name, **labels) == value:
                return
            time.sleep(0.05)
        raise AssertionError(f"{name}{labels} never became {value}; now "
                             f"{self.metric(name, **labels)}\n{self.log()}")


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Parses Prometheus text format 0.0.4 strictly enough to catch format mistakes."""
    out = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            typed.add(name)
            continue
        if line.startswith("#") or not line:
            continue
        m = _SAMPLE.match(line)
        assert m, f"bad metrics line: {line!r}"
        name, labels = m.group(1), {}
        if m.group(3):
            labels = dict(_LABEL.findall(m.group(3)))
        base = re.sub(r'_(bucket|sum|count)$', '', name)
        assert name in typed or base in typed, f"sample without TYPE: {line!r}"
        out[(name, frozenset(labels.items()))] = float(m.group(4))
    return out


# --------------------------------------------------------------------------------------------
# Clients


def client_context(ca, cert=None, key=None, alpn=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.check_hostname = True
    if cert:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(["h2", "http/1.1"])  # what Go's client offers
    return ctx


class KubeConnection(http.client.HTTPSConnection):
    """Connects to 127.0.0.1 but sends SNI and verifies the certificate for `server_name`."""

    def __init__(self, port, context, server_name=SERVICE_NAME, timeout=10):
        super().__init__(server_name, port, context=context, timeout=timeout)
        self._port = port

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self._port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(conn, path, body, content_type="application/json", headers=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": content_type} if content_type else {}
    h.update(headers or {})
    conn.request("POST", path, body=data, headers=h)
    resp = conn.getresponse()
    return resp, resp.read()


def get(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp, resp.read()


def tls_socket(port, context, server_name=SERVICE_NAME, timeout=10):
    sock = socket.create_connection(("127.0.0.1", port), timeout)
    return context.wrap_socket(sock, server_hostname=server_name)


def mutate_bytes(request_review):
    """A whole POST /mutate of `request_review` with a Content-Length, as bytes for a raw
    socket."""
    body = json.dumps(request_review).encode()
    return (b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def read_answer(reader):
    """One HTTP/1.1 answer with a Content-Length from a file over a raw socket: (status line,
    body)."""
    status = reader.readline()
    length = None
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    assert length is not None, status
    return status, reader.read(length)


def closed_by_peer(sock, timeout=5):
    """True when the server closes the connection (without an answer) within timeout."""
    sock.settimeout(timeout)
    try:
        return sock.recv(100) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True
    except socket.timeout:
        return False


def peer_der(port, context):
    with tls_socket(port, context) as s:
        return s.getpeercert(binary_form=True)


# --------------------------------------------------------------------------------------------
# Admission objects


def workflow(name="train-", uid_suffix=""):
    """A Workflow with a GPU template and a small CPU template called from a steps template."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": name, "namespace": "ml"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "steps": [[{"name": "prep", "template": "small-step"}],
                                           [{"name": "train", "template": "gpu-train"}]]},
                {"name": "gpu-train", "container": {
                    "image": "trainer:1", "resources": {
                        "requests": {"cpu": "8", "memory": "32Gi"},
                        "limits": {"nvidia.com/gpu": "1"}}}},
                {"name": "small-step", "container": {
                    "image": "alpine:3", "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"}}}},
            ],
        },
    }


def review(obj, uid="0e6a5b1c-0000-4000-8000-000000000001", operation="CREATE",
           version="admission.k8s.io/v1"):
    kind = obj.get("kind", "Workflow")
    return {
        "apiVersion": version,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": kind},
            "resource": {"group": "argoproj.io", "version": "v1alpha1",
                         "resource": kind.lower() + "s"},
            "requestKind": {"group": "argoproj.io", "version": "v1alpha1", "kind": kind},
            "name": obj["metadata"].get("name", ""),
            "namespace": obj["metadata"].get("namespace", ""),
            "operation": operation,
            "userInfo": {"username": "alice"},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": None,
        },
    }


def apply_answer(request_review, answer):
    """The object as kube-apiserver stores it: request.object with the answer's patch applied
    by python-jsonpatch, an implementation independent of the server."""
    import jsonpatch
    obj = copy.deepcopy(request_review["request"]["object"])
    resp = answer["response"]
    if "patch" not in resp:
        return obj
    assert resp["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(resp["patch"]))
    return jsonpatch.JsonPatch(ops).apply(obj)


def templates_by_name(obj):
    return {t["name"]: t for t in obj["spec"]["templates"]}


GPU_SELECTOR = {"node-pool": "gpu", "nvidia.com/gpu.present": "true"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
SMALL_SELECTOR = {"node-pool": "small"}


class ServerTest(unittest.TestCase):
    """A PKI in a temp dir per test class; servers started by a test are stopped after it."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="nodealloc-test-")
        cls.pki = Pki(cls.tmp)
        cls.server_crt, cls.server_key = cls.pki.issue_server()
        cls.ctx = client_context(cls.pki.ca_crt)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, *extra, policy=EXAMPLE_POLICY, cert=None, key=None, **kw):
        server = Server(policy, cert or self.server_crt, key or self.server_key, *extra, **kw)
        self.addCleanup(self.stop_cleanly, server)
        return server

    def stop_cleanly(self, server):
        """A server must end with exit 0 (a sanitizer finding or a crash fails the test)."""
        self.assertEqual(server.stop(), 0)

    def connect(self, server, context=None):
        conn = KubeConnection(server.port, context or self.ctx)
        self.addCleanup(conn.close)
        return conn
