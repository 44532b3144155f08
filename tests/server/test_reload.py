"""Certificate and policy files replaced the way kubelet updates a mounted Secret/ConfigMap (an
atomic `..data` symlink swap) while requests flow: new ones are used, broken ones refused."""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverlib as sl  # noqa: E402


class Traffic:
    """Clients sending admissions until stopped, each on fresh and reused connections; records
    every failure and the small template's nodeSelector of every answer."""

    def __init__(self, port, ctx, clients=3):
        self.port, self.ctx = port, ctx
        self.failures, self.selectors, self.count = [], [], 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(clients)]
        for t in self._threads:
            t.start()

    def _run(self, i):
        n = 0
        while not self._stop.is_set():
            conn = sl.KubeConnection(self.port, self.ctx)
            try:
                for _ in range(1 + (n + i) % 4):  # 1..4 requests per connection
                    req = sl.review(sl.workflow())
                    resp, body = sl.post(conn, "/mutate?timeout=10s", req)
                    if resp.status != 200:
                        raise AssertionError(f"status {resp.status}: {body!r}")
                    placed = sl.apply_answer(req, json.loads(body))
                    with self._lock:
                        self.count += 1
                        self.selectors.append(
                            (i, sl.templates_by_name(placed)["small-step"]["nodeSelector"]))
                    n += 1
            except Exception as e:  # noqa: BLE001
                with self._lock:
                    self.failures.append(repr(e))
            finally:
                conn.close()

    def wait_for(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while self.count < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(20)


class ReloadTest(sl.ServerTest):
    def wait_peer(self, server, der, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sl.peer_der(server.port, self.ctx) == der:
                return
            time.sleep(0.05)
        self.fail("the new certificate was never served\n" + server.log())

    def test_certificate_rotation_while_requests_flow(self):
        crt2, key2 = self.pki.issue_server("server2", days=2)
        crt3, key3 = self.pki.issue_server("server3")
        tls = sl.SecretDir(os.path.join(self.tmp, "tls-rotate"), {
            "tls.crt": sl.read(self.server_crt), "tls.key": sl.read(self.server_key)})
        server = self.start("--reload-interval", "100ms", cert=tls.path("tls.crt"),
                            key=tls.path("tls.key"))
        self.assertEqual(sl.peer_der(server.port, self.ctx), sl.der_of(self.server_crt))
        expiry1 = server.metric("node_allocator_certificate_expiry_timestamp_seconds")

        traffic = Traffic(server.port, self.ctx)
        try:
            traffic.wait_for(20)
            tls.update({"tls.crt": sl.read(crt2), "tls.key": sl.read(key2)})
            self.wait_peer(server, sl.der_of(crt2))
            server.wait_metric("node_allocator_certificate_reloads_total", 1, result="ok")
            self.assertGreater(
                server.metric("node_allocator_certificate_expiry_timestamp_seconds"), expiry1)
            n = traffic.count
            traffic.wait_for(n + 20)

            # A certificate with another certificate's key: refused, the serving one stays.
            tls.update({"tls.crt": sl.read(crt3), "tls.key": sl.read(key2)})
            server.wait_metric("node_allocator_certificate_reloads_total", 1, result="failed")
            server.wait_log("new TLS files refused")
            n = traffic.count
            traffic.wait_for(n + 20)
            for _ in range(3):
                self.assertEqual(sl.peer_der(server.port, self.ctx), sl.der_of(crt2))
            # Counted once, not on every check.
            time.sleep(0.4)
            self.assertEqual(server.metric("node_allocator_certificate_reloads_total",
                                           result="failed"), 1)
            # An unreadable key: refused too.
            tls.update({"tls.crt": sl.read(crt3), "tls.key": "garbage"})
            server.wait_metric("node_allocator_certificate_reloads_total", 2, result="failed")
            self.assertEqual(sl.peer_der(server.port, self.ctx), sl.der_of(crt2))
            # And a good pair again is taken.
            tls.update({"tls.crt": sl.read(crt3), "tls.key": sl.read(key3)})
            self.wait_peer(server, sl.der_of(crt3))
            n = traffic.count
            traffic.wait_for(n + 10)
        finally:
            traffic.stop()
        self.assertEqual(traffic.failures, [])
        self.assertGreater(traffic.count, 60)

    def test_policy_reload_valid_and_invalid_while_requests_flow(self):
        original = sl.read(sl.EXAMPLE_POLICY)
        renamed = original.replace("nodeSelector: {node-pool: small}",
                                   "nodeSelector: {node-pool: tiny}")
        self.assertNotEqual(renamed, original)
        invalid = renamed.replace("    - name: highmem\n", "    - name: highmem\n      colour: red\n")
        self.assertNotEqual(invalid, renamed)
        bad_line = invalid.splitlines().index("      colour: red") + 1

        cfg = sl.SecretDir(os.path.join(self.tmp, "policy"), {"policy.yaml": original})
        server = self.start("--reload-interval", "100ms", policy=cfg.path("policy.yaml"))
        traffic = Traffic(server.port, self.ctx)
        try:
            traffic.wait_for(20)
            cfg.update({"policy.yaml": renamed})
            server.wait_metric("node_allocator_policy_reloads_total", 1, result="ok")
            n = traffic.count
            traffic.wait_for(n + 20)
            self.assertEqual(traffic.selectors[-1][1], {"node-pool": "tiny"})

            cfg.update({"policy.yaml": invalid})
            server.wait_metric("node_allocator_policy_reloads_total", 1, result="failed")
            server.wait_log(rf"invalid policy; keeping the one in force.*line {bad_line}:")
            n = traffic.count
            traffic.wait_for(n + 20)
            self.assertEqual(traffic.selectors[-1][1], {"node-pool": "tiny"})
            conn = self.connect(server)
            resp, body = sl.get(conn, "/readyz")
            self.assertEqual((resp.status, body), (200, b"ok\n"))
            time.sleep(0.4)
            self.assertEqual(server.metric("node_allocator_policy_reloads_total",
                                           result="failed"), 1)
        finally:
            traffic.stop()
        self.assertEqual(traffic.failures, [])
        # Each client saw answers from one policy, then the other: never back.
        for client in range(3):
            seen = [s["node-pool"] for i, s in traffic.selectors if i == client]
            first_tiny = seen.index("tiny")
            self.assertEqual(set(seen[:first_tiny]), {"small"})
            self.assertEqual(set(seen[first_tiny:]), {"tiny"})

    def test_plain_file_rewritten_in_place(self):
        path = os.path.join(self.tmp, "plain-policy.yaml")
        with open(path, "w") as f:
            f.write(sl.read(sl.EXAMPLE_POLICY))
        server = self.start("--reload-interval", "100ms", policy=path)
        with open(path, "w") as f:
            f.write(sl.read(sl.EXAMPLE_POLICY).replace("{node-pool: small}", "{node-pool: s2}"))
        server.wait_metric("node_allocator_policy_reloads_total", 1, result="ok")
        conn = self.connect(server)
        req = sl.review(sl.workflow())
        _, body = sl.post(conn, "/mutate", req)
        placed = sl.apply_answer(req, json.loads(body))
        self.assertEqual(sl.templates_by_name(placed)["small-step"]["nodeSelector"],
                         {"node-pool": "s2"})


if __name__ == "__main__":
    unittest.main()
