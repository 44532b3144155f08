"""Bad requests get clear answers and the server keeps serving everyone else; slow and idle
clients are cut off or ignored without stopping service."""

import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverlib as sl  # noqa: E402


class ErrorsTest(sl.ServerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = sl.Server(sl.EXAMPLE_POLICY, cls.server_crt, cls.server_key,
                               "--max-body-bytes", "4096", "--header-timeout", "1s",
                               "--body-timeout", "1s", "--handshake-timeout", "1s")

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"server exited {code}"
        super().tearDownClass()

    def assert_serving(self, conn=None):
        conn = conn or self.connect(self.server)
        req = sl.review(sl.workflow())
        resp, body = sl.post(conn, "/mutate", req)
        self.assertEqual(resp.status, 200, body)
        sl.apply_answer(req, json.loads(body))

    def test_unknown_path_404(self):
        conn = self.connect(self.server)
        for method, path in (("GET", "/"), ("POST", "/mutate/extra"), ("GET", "/metrics")):
            conn.request(method, path)
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 404, path)
        self.assert_serving(conn)  # same keep-alive connection

    def test_wrong_method_405_with_allow(self):
        conn = self.connect(self.server)
        for method, path, allow in (("GET", "/mutate?timeout=10s", "POST"), ("PUT", "/v1/place", "POST"),
                                    ("POST", "/healthz", "GET"), ("DELETE", "/readyz", "GET")):
            conn.request(method, path, body=b"{}" if method != "GET" else None,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 405, (method, path))
            self.assertEqual(resp.getheader("Allow"), allow)
        self.assert_serving(conn)

    def test_content_type_415(self):
        conn = self.connect(self.server)
        body = json.dumps(sl.review(sl.workflow())).encode()
        for ct in ("text/plain", "application/yaml", None, "application/jsonx"):
            resp, _ = sl.post(conn, "/mutate", body, content_type=ct)
            self.assertEqual(resp.status, 415, ct)
        resp, _ = sl.post(conn, "/mutate", body, content_type="Application/JSON; charset=utf-8")
        self.assertEqual(resp.status, 200)
        self.assert_serving(conn)

    def test_body_too_large_413(self):
        big = json.dumps(sl.review(sl.workflow()) | {"padding": "x" * 5000}).encode()
        conn = self.connect(self.server)
        resp, body = sl.post(conn, "/mutate", big)
        self.assertEqual(resp.status, 413, body)
        # Chunked, so the size is known only while reading.
        conn = self.connect(self.server)
        conn.request("POST", "/mutate", body=iter([big[:3000], big[3000:]]),
                     headers={"Content-Type": "application/json"})  # http.client chunks it
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 413)
        # With Expect: 100-continue the body is refused before it is sent.
        with sl.tls_socket(self.server.port, self.ctx) as s:
            s.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Expect: 100-continue\r\nContent-Length: 10000000\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 413 "))
        self.assert_serving()

    def test_expect_continue_accepted(self):
        body = json.dumps(sl.review(sl.workflow())).encode()
        with sl.tls_socket(self.server.port, self.ctx) as s:
            s.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
            self.assertEqual(s.recv(4096), b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(body)
            self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n"))

    def test_bodies_pipelined_and_split(self):
        """Content-Length bodies are read straight into the request (spec §8 /mutate): two
        requests in one write, and a body arriving in pieces around the header's end."""
        req = sl.review(sl.workflow())
        body = json.dumps(req).encode()
        head = (b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        with sl.tls_socket(self.server.port, self.ctx) as s:
            reader = s.makefile("rb")
            s.sendall(head + body + head + body)  # pipelined: the second follows the first body
            for _ in range(2):
                status, text = sl.read_answer(reader)
                self.assertTrue(status.startswith(b"HTTP/1.1 200 "), (status, text))
                sl.apply_answer(req, json.loads(text))
            # The header with the body's first bytes, then the rest in two pieces.
            s.sendall(head + body[:10])
            time.sleep(0.05)
            s.sendall(body[10:len(body) // 2])
            time.sleep(0.05)
            s.sendall(body[len(body) // 2:])
            status, text = sl.read_answer(reader)
            self.assertTrue(status.startswith(b"HTTP/1.1 200 "), (status, text))
            sl.apply_answer(req, json.loads(text))
        self.assert_serving()

    def test_malformed_400_one_line(self):
        conn = self.connect(self.server)
        cases = [b"{", b"not json", b"[]", b'{"kind":"Pod"}',
                 json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode()]
        for body in cases:
            resp, text = sl.post(conn, "/mutate", body)
            self.assertEqual(resp.status, 400, body)
            self.assertTrue(text.endswith(b"\n") and text.count(b"\n") == 1 and len(text) > 1, text)
        resp, text = sl.post(conn, "/v1/place", b"{")
        self.assertEqual(resp.status, 400)
        self.assert_serving(conn)

    def test_header_too_large_431(self):
        with sl.tls_socket(self.server.port, self.ctx) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 431 "))
        self.assert_serving()

    def test_malformed_http_400(self):
        with sl.tls_socket(self.server.port, self.ctx) as s:
            s.sendall(b"BLAH\x01 / HTTP/9.9\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 400 "))
        self.assert_serving()

    def test_slow_header_cut_off_while_others_served(self):
        before = self.server.metric("node_allocator_connection_timeouts_total", stage="header")
        slow = sl.tls_socket(self.server.port, self.ctx, timeout=10)
        self.addCleanup(slow.close)
        slow.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\n")  # ... and never the rest
        started = time.monotonic()
        conn = self.connect(self.server)
        for _ in range(3):
            self.assert_serving(conn)
        self.assertTrue(sl.closed_by_peer(slow, timeout=10))
        self.assertLess(time.monotonic() - started, 5)
        self.server.wait_metric("node_allocator_connection_timeouts_total", before + 1,
                                stage="header")

    def test_slow_body_cut_off(self):
        before = self.server.metric("node_allocator_connection_timeouts_total", stage="body")
        slow = sl.tls_socket(self.server.port, self.ctx, timeout=10)
        self.addCleanup(slow.close)
        slow.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{")
        started = time.monotonic()
        self.assertTrue(sl.closed_by_peer(slow, timeout=10))
        self.assertLess(time.monotonic() - started, 5)
        self.server.wait_metric("node_allocator_connection_timeouts_total", before + 1,
                                stage="body")

    def test_stalled_handshake_cut_off(self):
        before = self.server.metric("node_allocator_connection_timeouts_total", stage="handshake")
        raw = socket.create_connection(("127.0.0.1", self.server.port))
        self.addCleanup(raw.close)
        raw.settimeout(10)
        started = time.monotonic()
        self.assertEqual(raw.recv(100), b"")  # no ClientHello sent: closed after 1 s
        self.assertLess(time.monotonic() - started, 5)
        self.server.wait_metric("node_allocator_connection_timeouts_total", before + 1,
                                stage="handshake")

    def test_many_idle_connections_do_not_stop_service(self):
        idle_tls = [sl.tls_socket(self.server.port, self.ctx) for _ in range(100)]
        idle_tcp = [socket.create_connection(("127.0.0.1", self.server.port)) for _ in range(100)]
        try:
            results = []

            def client():
                try:
                    conn = sl.KubeConnection(self.server.port, self.ctx)
                    for _ in range(5):
                        resp, _ = sl.post(conn, "/mutate", sl.review(sl.workflow()))
                        results.append(resp.status)
                    conn.close()
                except Exception as e:  # noqa: BLE001
                    results.append(repr(e))
            threads = [threading.Thread(target=client) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            self.assertEqual(results, [200] * 40)
        finally:
            for s in idle_tls + idle_tcp:
                s.close()


if __name__ == "__main__":
    unittest.main()
