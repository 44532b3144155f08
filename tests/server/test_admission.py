"""Spec §8's /mutate, the server called as kube-apiserver calls it: TLS verified for the service
name, keep-alive, POST /mutate?timeout=10s; the answer's patch applied with python-jsonpatch."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverlib as sl  # noqa: E402


class AdmissionTest(sl.ServerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = sl.Server(sl.EXAMPLE_POLICY, cls.server_crt, cls.server_key)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"server exited {code}"
        super().tearDownClass()

    def check_placed(self, req, answer):
        self.assertEqual(answer["kind"], "AdmissionReview")
        self.assertEqual(answer["apiVersion"], req["apiVersion"])
        self.assertEqual(answer["response"]["uid"], req["request"]["uid"])
        self.assertTrue(answer["response"]["allowed"])
        placed = sl.apply_answer(req, answer)
        t = sl.templates_by_name(placed)
        self.assertEqual(t["gpu-train"]["nodeSelector"], sl.GPU_SELECTOR)
        self.assertEqual(t["gpu-train"]["tolerations"], [sl.GPU_TOLERATION])
        self.assertEqual(t["small-step"]["nodeSelector"], sl.SMALL_SELECTOR)
        self.assertNotIn("tolerations", t["small-step"])
        self.assertNotIn("nodeSelector", t["main"])  # a steps template is never placed
        self.assertEqual(json.loads(placed["metadata"]["annotations"]["node-allocator.io/placement"]),
                         {"gpu-train": "gpu", "small-step": "small"})
        return placed

    def test_kube_apiserver_call_with_keep_alive(self):
        conn = self.connect(self.server)
        before = self.server.metric("node_allocator_connections_total")
        first_sock = None
        for i in range(5):
            req = sl.review(sl.workflow(), uid=f"00000000-0000-4000-8000-00000000000{i}")
            resp, body = sl.post(conn, "/mutate?timeout=10s", req)
            self.assertEqual(resp.status, 200, body)
            self.assertEqual(resp.getheader("Content-Type"), "application/json")
            self.assertFalse(resp.will_close)
            if first_sock is None:
                first_sock = conn.sock
                self.assertEqual(conn.sock.selected_alpn_protocol(), "http/1.1")
                self.assertIn(conn.sock.version(), ("TLSv1.2", "TLSv1.3"))
            self.assertIs(conn.sock, first_sock, "the connection was not reused")
            self.check_placed(req, json.loads(body))
        self.assertEqual(self.server.metric("node_allocator_connections_total"), before + 1)

    def test_idempotent_on_its_own_output(self):
        conn = self.connect(self.server)
        req = sl.review(sl.workflow())
        resp, body = sl.post(conn, "/mutate?timeout=10s", req)
        placed = self.check_placed(req, json.loads(body))
        again = sl.review(placed)
        resp, body = sl.post(conn, "/mutate", again)
        self.assertEqual(resp.status, 200)
        self.assertNotIn("patch", json.loads(body)["response"])

    def test_v1beta1_and_update_untouched(self):
        conn = self.connect(self.server)
        req = sl.review(sl.workflow(), version="admission.k8s.io/v1beta1")
        resp, body = sl.post(conn, "/mutate", req)
        self.assertEqual(resp.status, 200)
        self.check_placed(req, json.loads(body))
        # A Workflow UPDATE is allowed with no patch (spec §1).
        resp, body = sl.post(conn, "/mutate", sl.review(sl.workflow(), operation="UPDATE"))
        self.assertEqual(resp.status, 200)
        answer = json.loads(body)["response"]
        self.assertTrue(answer["allowed"])
        self.assertNotIn("patch", answer)

    def test_tls12_and_tls13_clients(self):
        import ssl
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = sl.client_context(self.pki.ca_crt)
            ctx.minimum_version = ctx.maximum_version = version
            conn = self.connect(self.server, ctx)
            resp, _ = sl.get(conn, "/healthz")
            self.assertEqual(resp.status, 200)
            self.assertEqual(conn.sock.version(), "TLSv1.2" if version == ssl.TLSVersion.TLSv1_2
                             else "TLSv1.3")

    def test_wrong_name_is_not_verified(self):
        import ssl
        with self.assertRaises(ssl.SSLCertVerificationError):
            sl.tls_socket(self.server.port, self.ctx, server_name="evil.example.com")

    def test_place_preview(self):
        conn = self.connect(self.server)
        resp, body = sl.post(conn, "/v1/place", sl.workflow())
        self.assertEqual(resp.status, 200, body)
        answer = json.loads(body)
        self.assertTrue(answer["allowed"])
        t = sl.templates_by_name(answer["object"])
        self.assertEqual(t["gpu-train"]["nodeSelector"], sl.GPU_SELECTOR)
        self.assertEqual(t["small-step"]["nodeSelector"], sl.SMALL_SELECTOR)
        annotations = answer["object"]["metadata"]["annotations"]
        self.assertEqual(json.loads(annotations["node-allocator.io/placement"]),
                         {"gpu-train": "gpu", "small-step": "small"})
        self.assertEqual(answer["warnings"], [])

    def test_health_endpoints(self):
        conn = self.connect(self.server)
        for path in ("/healthz", "/readyz"):
            resp, body = sl.get(conn, path)
            self.assertEqual((resp.status, body), (200, b"ok\n"))

    def test_one_log_line_per_admission_without_bodies(self):
        conn = self.connect(self.server)
        req = sl.review(sl.workflow(name="log-me-"), uid="11111111-2222-4333-8444-555555555555")
        sl.post(conn, "/mutate", req)
        self.server.wait_log("admission uid=11111111-2222-4333-8444-555555555555")
        line = [l for l in self.server.log().splitlines()
                if "11111111-2222-4333-8444-555555555555" in l]
        self.assertEqual(len(line), 1, line)
        for field in ("kind=Workflow", "namespace=ml", "name=log-me-", "operation=CREATE",
                      "placed=2", "skipped=1", "duration_ms="):
            self.assertIn(field, line[0])
        self.assertNotIn("trainer:1", self.server.log())  # no object bodies at info

    def test_json_logs(self):
        server = self.start(log_format="json")
        conn = self.connect(server)
        sl.post(conn, "/mutate", sl.review(sl.workflow(), uid="aaaaaaaa-0000-4000-8000-000000000000"))
        server.wait_log("aaaaaaaa-0000-4000-8000-000000000000")
        lines = [json.loads(l) for l in server.log().splitlines()]
        adm = [l for l in lines if l.get("uid") == "aaaaaaaa-0000-4000-8000-000000000000"]
        self.assertEqual(len(adm), 1)
        self.assertEqual(adm[0]["msg"], "admission")
        self.assertEqual(adm[0]["level"], "info")
        self.assertEqual((adm[0]["placed"], adm[0]["skipped"]), (2, 1))
        self.assertEqual(adm[0]["name"], "train-")

    def test_large_bodies_pipelined(self):
        """Bodies of several TLS records each, three in one write, then a small one: each body
        is read whole into its request and the next request's bytes, decrypted with it, are
        kept for it (spec §8 /mutate)."""
        reqs = []
        for i in range(3):
            obj = sl.workflow(uid_suffix=str(i))
            # A large annotation (dropped by the reader) makes the body span several records.
            spec = "x" * (40000 + 9000 * i)
            obj["metadata"]["annotations"] = {"pipelines.kubeflow.org/spec": spec}
            reqs.append(sl.review(obj, uid="0e6a5b1c-0000-4000-8000-00000000010%d" % i))
        reqs.append(sl.review(sl.workflow(), uid="0e6a5b1c-0000-4000-8000-000000000109"))
        requests = [sl.mutate_bytes(req) for req in reqs]
        self.assertGreater(min(len(r) for r in requests[:3]), 2 * 16 * 1024)  # 3 records at least
        with sl.tls_socket(self.server.port, self.ctx) as s:
            reader = s.makefile("rb")
            s.sendall(b"".join(requests))
            for req in reqs:
                self.assert_placed_answer(reader, req)

    def test_body_sizes_in_turn_on_one_connection(self):
        """A connection's body buffer is reused, grown, and released past 256 KiB: bodies of
        300 KiB, 1 KiB-ish, 60 KiB and again small on one connection are each read whole and
        answered for their own uid (spec §8 /mutate)."""
        with sl.tls_socket(self.server.port, self.ctx) as s:
            reader = s.makefile("rb")
            for i, extra in enumerate([300 * 1024, 0, 60 * 1024, 0]):
                obj = sl.workflow(uid_suffix=str(i))
                if extra:
                    obj["metadata"]["annotations"] = {"pipelines.kubeflow.org/spec": "y" * extra}
                req = sl.review(obj, uid="0e6a5b1c-0000-4000-8000-00000000020%d" % i)
                s.sendall(sl.mutate_bytes(req))
                self.assert_placed_answer(reader, req)

    def assert_placed_answer(self, reader, req):
        """The next answer on `reader` is 200 for req's uid, and its patch places gpu-train."""
        status, text = sl.read_answer(reader)
        self.assertTrue(status.startswith(b"HTTP/1.1 200 "), status)
        answer = json.loads(text)
        self.assertEqual(answer["response"]["uid"], req["request"]["uid"])
        placed = sl.templates_by_name(sl.apply_answer(req, answer))
        self.assertEqual(placed["gpu-train"]["nodeSelector"], sl.GPU_SELECTOR)


if __name__ == "__main__":
    unittest.main()
