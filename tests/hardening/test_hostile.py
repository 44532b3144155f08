"""Hostile input against the running server (issue 5): the real binary over real TLS on
127.0.0.1. Every case gets a clear status or a closed connection within its timeout, and the
server keeps answering normal reviews all along: a background client sends them the whole time
(zero failures allowed) and each case ends with one more on a fresh connection."""

import base64
import json
import os
import socket
import ssl
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when run directly
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardlib as hl  # noqa: E402
from hardlib import sl  # noqa: E402

HANDSHAKE_TIMEOUT = 2
HEADER_TIMEOUT = 2
BODY_TIMEOUT = 3
MAX_BODY = 3 * 1024 * 1024  # the default
SLACK = 4  # seconds on top of a server timeout before a test calls it a hang (TSan is slow)
MIB = 1024 * 1024


def raw_review(obj):
    """An AdmissionReview around any JSON text standing for request.object."""
    head = json.dumps(sl.review(sl.workflow()))
    marker = '"object": {'
    start = head.index(marker) + len('"object": ')
    end = head.index(', "oldObject"')
    return (head[:start] + obj + head[end:]).encode()


def client_hello():
    """The bytes of a real TLS ClientHello, produced without a socket."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sl.SERVICE_NAME)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


class HostileTest(sl.ServerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = sl.Server(sl.EXAMPLE_POLICY, cls.server_crt, cls.server_key,
                               "--handshake-timeout", f"{HANDSHAKE_TIMEOUT}s",
                               "--header-timeout", f"{HEADER_TIMEOUT}s",
                               "--body-timeout", f"{BODY_TIMEOUT}s",
                               "--write-timeout", "5s", "--idle-timeout", "20s")
        cls.watchdog = hl.Watchdog(cls.server.port, cls.ctx)
        # What a 100 MiB body may add to RSS: far less than 100 MiB (ASan's quarantine keeps
        # freed buffers for a while).
        cls.rss_bound = (96 if hl.sanitized(cls.server.proc.pid) else 32) * 1024

    @classmethod
    def tearDownClass(cls):
        failures = cls.watchdog.stop()
        code = cls.server.stop()
        super().tearDownClass()
        print(f"background client: {cls.watchdog.count} normal reviews, {len(failures)} failures",
              file=sys.stderr)
        assert not failures, f"normal reviews failed during the suite: {failures}"
        assert cls.watchdog.count > 0, "the background client sent nothing"
        assert code == 0, f"server exited {code}"

    def tearDown(self):
        self.assert_serving()
        self.assertEqual(self.watchdog.failures, [], "a normal review failed during this case")
        self.assertIsNone(self.server.proc.poll(), "the server died")

    # helpers ---------------------------------------------------------------------------

    def assert_serving(self, server=None):
        server = server or self.server
        conn = sl.KubeConnection(server.port, self.ctx, timeout=20)
        try:
            hl.normal_review(conn)
        finally:
            conn.close()

    def tls(self, timeout=20):
        s = sl.tls_socket(self.server.port, self.ctx, timeout=timeout)
        self.addCleanup(s.close)
        return s

    def tcp(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), 10)
        self.addCleanup(s.close)
        return s

    def exchange(self, body, target="/mutate", timeout=30):
        """One POST on a fresh TLS connection: (status, headers, body, seconds)."""
        s = self.tls()
        started = time.monotonic()
        s.sendall(hl.request_bytes("POST", target, body))
        [(status, headers, text)] = hl.read_responses(s, 1, timeout)
        return status, headers, text, time.monotonic() - started

    def assert_400(self, body, reason=None, timeout=30):
        status, headers, text, took = self.exchange(body, timeout=timeout)
        self.assertEqual(status, 400, text[:300])
        self.assertTrue(text.endswith(b"\n") and text.count(b"\n") == 1, text[:300])
        if reason:
            self.assertIn(reason, text.decode("utf-8", "replace"))
        return text

    # TLS and HTTP framing --------------------------------------------------------------

    def test_plain_http_on_the_tls_port(self):
        s = self.tcp()
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(HANDSHAKE_TIMEOUT + SLACK)
        data = b""
        try:
            while chunk := s.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
        # A TLS alert (content type 21) at most, never an HTTP answer; then closed.
        self.assertFalse(data.startswith(b"HTTP/"), data)
        self.assertTrue(data == b"" or data[0] == 0x15, data)

    def test_handshake_stopped_halfway(self):
        hello = client_hello()
        self.assertGreater(len(hello), 100)
        # Half a ClientHello, then nothing.
        half = self.tcp()
        half.sendall(hello[:len(hello) // 2])
        # A whole ClientHello, the server's flight read, then nothing (no Finished).
        whole = self.tcp()
        whole.sendall(hello)
        whole.settimeout(5)
        self.assertTrue(whole.recv(65536), "no ServerHello")
        for s in (half, whole):
            took = hl.closed_within(s, HANDSHAKE_TIMEOUT + SLACK)
            self.assertIsNotNone(took, "a stalled handshake was never cut off")

    def test_headers_dribbled_a_byte_a_second(self):
        s = self.tls()
        line = b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        started = time.monotonic()
        sent = 0
        closed = False
        for b in line:  # at most len(line) seconds; the server cuts it off after HEADER_TIMEOUT
            try:
                s.sendall(bytes([b]))
                sent += 1
            except OSError:
                closed = True
                break
            try:
                if hl.try_recv(s) is not None:  # an answer or EOF: the server gave up
                    closed = hl.closed_within(s, 1) is not None
                    break
            except OSError:
                closed = True
                break
            time.sleep(1)
        if not closed:
            closed = hl.closed_within(s, SLACK) is not None
        took = time.monotonic() - started
        self.assertTrue(closed, "the dribbling client was never cut off")
        self.assertLess(took, HEADER_TIMEOUT + SLACK + 1)
        self.assertLess(sent, len(line))

    def test_ten_thousand_headers(self):
        s = self.tls()
        headers = b"".join(b"X-H%d: v\r\n" % i for i in range(10000))
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        except OSError:
            pass  # closed under the write once the limit was hit: fine, the answer is read next
        [(status, headers_, body)] = hl.read_responses(s, 1, HEADER_TIMEOUT + SLACK)
        self.assertEqual(status, 431, body)
        self.assertIsNotNone(hl.closed_within(s, 5))

    def test_100mib_body_declared(self):
        before = hl.rss_kib(self.server.proc.pid)[0]
        s = self.tls()
        started = time.monotonic()
        s.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % (100 * MIB))
        [(status, _, body)] = hl.read_responses(s, 1, 5)
        self.assertEqual(status, 413, body)
        self.assertLess(time.monotonic() - started, 2, "413 not sent at once")
        # Keep streaming the declared body: the server drains only briefly, then closes.
        sent = self.stream_until_closed(s, 100 * MIB)
        self.assertLess(time.monotonic() - started, 10)
        self.assertLess(sent, 100 * MIB, "the server read the whole 100 MiB")
        after = hl.rss_kib(self.server.proc.pid)[0]
        print(f"declared 100 MiB: 413, closed after {sent / MIB:.1f} MiB sent, "
              f"{time.monotonic() - started:.2f}s; RSS {before} -> {after} KiB", file=sys.stderr)
        self.assertLess(after - before, self.rss_bound, f"RSS grew from {before} to {after} KiB")

    def test_100mib_body_chunked(self):
        before = hl.rss_kib(self.server.proc.pid)[0]
        # A small send buffer keeps the client close behind what the server has read, so it sees
        # the 413 before the server, done lingering, resets the connection.
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        raw.settimeout(20)
        raw.connect(("127.0.0.1", self.server.port))
        s = self.ctx.wrap_socket(raw, server_hostname=sl.SERVICE_NAME)
        self.addCleanup(s.close)
        started = time.monotonic()
        s.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        sent, answer = 0, b""
        chunk = b"%x\r\n" % (16 * 1024) + b"x" * (16 * 1024) + b"\r\n"
        while sent < 100 * MIB and time.monotonic() - started < 20:
            try:
                s.sendall(chunk)
            except OSError:
                try:
                    answer = hl.try_recv(s)
                except OSError:
                    pass
                break
            sent += 16 * 1024
            try:
                answer = hl.try_recv(s)
            except OSError:
                break
            if answer is not None:
                break
        self.assertTrue(answer and answer.startswith(b"HTTP/1.1 413 "), answer)
        # Answered once the limit was passed (the rest sat in socket buffers).
        self.assertLess(sent, MAX_BODY + 16 * MIB)
        sent += self.stream_until_closed(s, 100 * MIB - sent)
        self.assertLess(sent, 100 * MIB, "the server read the whole 100 MiB")
        self.assertLess(time.monotonic() - started, 15)
        after = hl.rss_kib(self.server.proc.pid)[0]
        print(f"chunked 100 MiB: 413, closed after {sent / MIB:.1f} MiB sent, "
              f"{time.monotonic() - started:.2f}s; RSS {before} -> {after} KiB", file=sys.stderr)
        self.assertLess(after - before, self.rss_bound, f"RSS grew from {before} to {after} KiB")

    def stream_until_closed(self, s, limit, timeout=20):
        """Sends zeros until the peer closes (or `limit` bytes, or timeout); returns bytes sent."""
        block = b"0" * (256 * 1024)
        sent = 0
        deadline = time.monotonic() + timeout
        s.settimeout(5)
        while sent < limit and time.monotonic() < deadline:
            try:
                s.sendall(block)
            except (OSError, ssl.SSLError):
                return sent
            sent += len(block)
        return sent

    def test_chunked_bodies(self):
        body = json.dumps(sl.review(sl.workflow())).encode()
        s = self.tls()
        # Valid: odd chunk sizes, a chunk extension and a trailer.
        parts = [body[:1], body[1:1000], body[1000:]]
        chunked = b"".join(b"%x;ext=1\r\n" % len(p) + p + b"\r\n" for p in parts)
        s.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\nX-Trailer: t\r\n\r\n")
        [(status, headers, text)] = hl.read_responses(s, 1)
        hl.check_answer(json.loads(body), status, text)
        self.assertNotEqual(headers.get("connection"), "close")
        # A bad chunk size: 400 and closed.
        s2 = self.tls()
        s2.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
        [(status, _, text)] = hl.read_responses(s2, 1, BODY_TIMEOUT + SLACK)
        self.assertEqual(status, 400, text)
        # Oversized, sent at once: 413.
        s3 = self.tls()
        big = b"x" * (MAX_BODY + 1)
        s3.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(big))
        try:
            s3.sendall(big + b"\r\n0\r\n\r\n")
        except OSError:
            pass
        [(status, _, text)] = hl.read_responses(s3, 1, BODY_TIMEOUT + SLACK)
        self.assertEqual(status, 413, text)

    def test_pipelined_requests(self):
        reqs = [sl.review(sl.workflow(), uid=f"11111111-0000-4000-8000-{i:012d}") for i in range(6)]
        batch = b""
        expected = []
        for i, req in enumerate(reqs):
            batch += hl.request_bytes("POST", "/mutate?timeout=10s", json.dumps(req).encode())
            expected.append(("review", req))
            if i % 2:
                batch += hl.request_bytes("GET", "/healthz", content_type=None)
                expected.append(("healthz", None))
        batch += hl.request_bytes("POST", "/mutate", b"{")
        expected.append(("bad", None))
        batch += hl.request_bytes("GET", "/readyz", content_type=None)
        expected.append(("readyz", None))
        s = self.tls()
        s.sendall(batch)  # one write
        answers = hl.read_responses(s, len(expected), 20)
        for (what, req), (status, _, body) in zip(expected, answers):
            if what == "review":
                hl.check_answer(req, status, body)  # same order: the uids match
            elif what == "bad":
                self.assertEqual(status, 400, body)
            else:
                self.assertEqual((status, body), (200, b"ok\n"), what)
        # The connection is still usable.
        s.sendall(hl.request_bytes("GET", "/healthz", content_type=None))
        self.assertEqual(hl.read_responses(s, 1)[0][0], 200)

    # JSON ------------------------------------------------------------------------------

    def test_json_nested_100000_deep(self):
        for deep in ("[" * 100000 + "]" * 100000, '{"a":' * 100000 + "1" + "}" * 100000):
            text = self.assert_400(raw_review(deep), "JSON nested deeper than")
            self.assertLess(len(text), 300)
        # Unterminated, too: refused at the depth limit, not read to the end.
        self.assert_400(raw_review("[" * 100000), "JSON nested deeper than")
        # Just under the limit (10 000), where the core reads, copies and writes values: answered.
        deep = "[" * 9990 + "]" * 9990
        base = json.dumps(sl.review(sl.workflow()))
        for where, old, new in (
                ("annotations", '"namespace": "ml"}', '"namespace": "ml", "annotations": {"x": %s}}'),
                ("container", '"image": "alpine:3"', '"image": "alpine:3", "args": %s'),
                ("tolerations", '"name": "small-step", ', '"name": "small-step", "tolerations": %s, '),
                ("affinity", '"name": "small-step", ', '"name": "small-step", "affinity": {"a": %s}, '),
                ("nodeSelector", '"entrypoint": "main"', '"entrypoint": "main", "nodeSelector": {"a": %s}')):
            status, _, text, _ = self.exchange(base.replace(old, new % deep, 1).encode())
            self.assertIn(status, (200, 400), (where, text[:200]))
            if status == 200:
                self.assertEqual(json.loads(text)["response"]["uid"], "0e6a5b1c-0000-4000-8000-000000000001")

    def test_numbers_with_10000_digits(self):
        digits = "9" * 10000
        wf = sl.workflow()
        wf["spec"]["parallelism"] = 1  # replaced by the long number below
        text = json.dumps(sl.review(wf)).replace('"parallelism": 1', f'"parallelism": {digits}')
        status, _, body, took = self.exchange(text.encode())
        self.assertIn(status, (200, 400), body[:200])
        self.assertLess(took, 5)
        if status == 200:
            # Patched like any other workflow; the number is passed through untouched.
            answer = json.loads(body)
            ops = json.loads(base64.b64decode(answer["response"]["patch"]))
            self.assertTrue(ops)
            self.assertNotIn("parallelism", json.dumps(ops))
        # As a quantity: a clear answer, never a crash.
        wf = sl.workflow()
        res = wf["spec"]["templates"][1]["container"]["resources"]["requests"]
        res["cpu"] = 0
        text = json.dumps(sl.review(wf)).replace('"cpu": 0', f'"cpu": {digits}')
        status, _, body, took = self.exchange(text.encode())
        self.assertIn(status, (200, 400), body[:200])
        self.assertLess(took, 5)
        res["cpu"] = digits  # as a string quantity
        status, _, body, took = self.exchange(json.dumps(sl.review(wf)).encode())
        self.assertIn(status, (200, 400), body[:200])
        self.assertLess(took, 5)
        for exp in ("1e400", "-1e400", "1e-400", "0." + "0" * 10000 + "1"):
            text = json.dumps(sl.review(sl.workflow())).replace(
                '"namespace": "ml"}', f'"namespace": "ml", "generation": {exp}}}', 1)
            status, _, body, took = self.exchange(text.encode())
            self.assertIn(status, (200, 400), (exp, body[:200]))

    def test_invalid_utf8(self):
        base = json.dumps(sl.review(sl.workflow())).encode()
        for bad in (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82"):
            body = base.replace(b'"image": "alpine:3"', b'"image": "alpine' + bad + b'"')
            self.assert_400(body, "Invalid encoding")
            body = base.replace(b'"userInfo": {"username": "alice"}',
                                b'"userInfo": {"username": "al' + bad + b'ice"}')
            self.assert_400(body, "Invalid encoding")
        # Escaped lone surrogates are valid JSON: answered, and the answer is valid UTF-8.
        body = base.replace(b'"alpine:3"', b'"alpine\\udd6d:3"')
        status, _, text, _ = self.exchange(body)
        self.assertEqual(status, 200, text)
        text.decode("utf-8")

    def test_duplicate_keys(self):
        req = sl.review(sl.workflow())
        text = json.dumps(req)
        # A duplicated request, object, kind and templates: a clear status, and when 200, an
        # answer whose patch applies to the object Go's decoder sees (the last duplicate wins).
        variants = [
            text.replace('"request": {', '"request": {"uid": "dup", ', 1),
            text[:-1] + ', "request": ' + json.dumps(req["request"]) + "}",
            text.replace('"kind": "Workflow", "metadata"',
                         '"kind": "Pod", "kind": "Workflow", "metadata"', 1),
            text.replace('"templates": [', '"templates": [], "templates": [', 1),
            text.replace('"templates": [', '"templates": 7, "templates": [', 1),
        ]
        for body in variants:
            status, _, answer, took = self.exchange(body.encode())
            self.assertIn(status, (200, 400), (body[:120], answer[:200]))
            self.assertLess(took, 5)
            if status == 200:
                parsed = json.loads(answer)
                self.assertIn("response", parsed)
                # Python's json, like Go's, keeps the last duplicate.
                last = json.loads(body)
                if "patch" in parsed["response"]:
                    sl.apply_answer(last, parsed)

    def test_duplicate_keys_read_like_go(self):
        """A duplicated `templates`: the answer must either refuse it (400) or place the
        templates kube-apiserver will apply the patch to (Go's decoder keeps the last duplicate).
        kube-apiserver itself re-encodes objects, so only a direct client can send this, and
        the answer only concerns its own object."""
        req = sl.review(sl.workflow())
        decoy = json.dumps({"name": "decoy", "container": {"image": "x", "resources": {
            "requests": {"cpu": "100m"}}}})
        body = json.dumps(req).replace('"templates": [', '"templates": [%s], "templates": [' % decoy, 1)
        status, _, answer, _ = self.exchange(body.encode())
        if status == 400:
            return
        placed = sl.templates_by_name(sl.apply_answer(json.loads(body), json.loads(answer)))
        self.assertNotIn("nodeSelector", placed["main"])
        self.assertEqual(placed["gpu-train"].get("nodeSelector"), sl.GPU_SELECTOR)

    def test_review_whose_object_is_an_array(self):
        for obj in ("[]", "[1, 2]", '[{"kind": "Workflow"}]', "null", '"x"', "7"):
            status, _, text, _ = self.exchange(raw_review(obj))
            if status == 200:
                # Allowed untouched (not an object to place), never patched.
                resp = json.loads(text)["response"]
                self.assertTrue(resp["allowed"], (obj, text))
                self.assertNotIn("patch", resp)
            else:
                self.assertEqual(status, 400, (obj, text))
        # The whole review an array, or the request an array.
        self.assert_400(b"[" + json.dumps(sl.review(sl.workflow())).encode() + b"]")
        self.assert_400(json.dumps({"apiVersion": "admission.k8s.io/v1",
                                    "kind": "AdmissionReview", "request": []}).encode())

    def test_ten_thousand_templates(self):
        wf = sl.workflow()
        steps = [[{"name": f"s{i}", "template": f"t{i}"}] for i in range(10000)]
        wf["spec"]["templates"] = [{"name": "main", "steps": steps}] + [
            {"name": f"t{i}", "container": {"image": "alpine:3", "resources": {"requests": {
                "cpu": "100m" if i % 2 else "8", "memory": "128Mi" if i % 2 else "32Gi"}}}}
            for i in range(10000)]
        req = sl.review(wf)
        body = json.dumps(req).encode()
        self.assertLess(len(body), MAX_BODY)
        status, _, text, took = self.exchange(body, timeout=60)
        self.assertEqual(status, 200, text[:300])
        placed = sl.templates_by_name(sl.apply_answer(req, json.loads(text)))
        self.assertEqual(placed["t1"]["nodeSelector"], sl.SMALL_SELECTOR)
        self.assertEqual(placed["t9999"]["nodeSelector"], sl.SMALL_SELECTOR)
        self.assertEqual(placed["t0"]["nodeSelector"], {"node-pool": "highmem"})
        self.assertEqual(placed["t9998"]["nodeSelector"], {"node-pool": "highmem"})
        print(f"10000 templates: {len(body)} bytes answered in {took:.2f}s", file=sys.stderr)

    def test_policy_with_ten_thousand_pools(self):
        tmp = tempfile.mkdtemp(prefix="nodealloc-pools-", dir=self.tmp)
        policy = os.path.join(tmp, "policy.yaml")
        with open(policy, "w") as f:
            f.write("apiVersion: node-allocator.io/v1\nkind: PlacementPolicy\nspec:\n  pools:\n")
            for i in range(9999):  # too small for the GPU step and the small one
                f.write(f"    - name: p{i}\n      nodeSelector: {{node-pool: p{i}}}\n"
                        f"      capacity: {{cpu: 50m, memory: {i + 1}Mi}}\n")
            f.write("    - name: gpu\n      nodeSelector: {node-pool: gpu, "
                    "nvidia.com/gpu.present: \"true\"}\n      capacity: {cpu: \"32\", "
                    "memory: 240Gi, nvidia.com/gpu: \"4\"}\n")
        started = time.monotonic()
        with hl.slow_start(8):  # ~1 s here, 15-20 s under TSan with other tests running
            server = sl.Server(policy, self.server_crt, self.server_key)
        startup = time.monotonic() - started
        try:
            watchdog = hl.Watchdog(server.port, self.ctx)
            for _ in range(5):
                self.assert_serving(server)  # the GPU step lands on the last pool
            self.assertEqual(watchdog.stop(), [])
            self.assertGreater(watchdog.count, 0)
            print(f"10000 pools: startup {startup:.2f}s, RSS {hl.rss_kib(server.proc.pid)[0]} KiB",
                  file=sys.stderr)
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
