"""Spec §8's /metrics: a scrape agrees with the requests sent."""

import json
import os
import ssl
import sys
import unittest
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverlib as sl  # noqa: E402


class MetricsTest(sl.ServerTest):
    def test_scrape_agrees_with_requests(self):
        server = self.start()
        conn = self.connect(server)
        for _ in range(3):
            resp, _ = sl.post(conn, "/mutate?timeout=10s", sl.review(sl.workflow()))
            self.assertEqual(resp.status, 200)
        resp, _ = sl.post(conn, "/mutate", sl.review(sl.workflow(), operation="UPDATE"))
        self.assertEqual(resp.status, 200)
        for bad in (b"{", b'{"kind":"Pod"}'):
            resp, _ = sl.post(conn, "/mutate", bad)
            self.assertEqual(resp.status, 400)
        for _ in range(2):
            resp, _ = sl.post(conn, "/v1/place", sl.workflow())
            self.assertEqual(resp.status, 200)
        resp, _ = sl.get(conn, "/nope")
        self.assertEqual(resp.status, 404)
        resp, _ = sl.get(conn, "/mutate")
        self.assertEqual(resp.status, 405)
        resp, _ = sl.post(conn, "/mutate", b"{}", content_type="text/plain")
        self.assertEqual(resp.status, 415)
        resp, _ = sl.get(conn, "/readyz")
        self.assertEqual(resp.status, 200)

        m = server.scrape()

        def v(name, **labels):
            return m.get((name, frozenset(labels.items())), 0)

        adm = "node_allocator_admission_requests_total"
        self.assertEqual(v(adm, kind="Workflow", operation="CREATE", outcome="patched"), 3)
        self.assertEqual(v(adm, kind="Workflow", operation="UPDATE", outcome="allowed"), 1)
        self.assertEqual(v(adm, kind="unknown", operation="unknown", outcome="error"), 2)
        self.assertEqual(sum(val for (n, _), val in m.items() if n == adm), 6)

        hist = "node_allocator_admission_duration_seconds"
        self.assertEqual(v(hist + "_count"), 6)
        self.assertEqual(v(hist + "_bucket", le="+Inf"), 6)
        self.assertGreater(v(hist + "_sum"), 0)
        buckets = sorted((float(dict(l)["le"]), val) for (n, l), val in m.items()
                         if n == hist + "_bucket")
        self.assertEqual([b[1] for b in buckets], sorted(b[1] for b in buckets))  # cumulative

        self.assertEqual(v("node_allocator_place_requests_total", kind="Workflow",
                           outcome="patched"), 2)
        self.assertEqual(v("node_allocator_place_duration_seconds_count"), 2)

        http_total = "node_allocator_http_requests_total"
        self.assertEqual(v(http_total, handler="mutate", code="200"), 4)
        self.assertEqual(v(http_total, handler="mutate", code="400"), 2)
        self.assertEqual(v(http_total, handler="mutate", code="405"), 1)
        self.assertEqual(v(http_total, handler="mutate", code="415"), 1)
        self.assertEqual(v(http_total, handler="place", code="200"), 2)
        self.assertEqual(v(http_total, handler="other", code="404"), 1)
        self.assertEqual(v(http_total, handler="readyz", code="200"), 1)

        # 3 CREATE reviews + 2 previews, each placing gpu-train and small-step.
        self.assertEqual(v("node_allocator_templates_placed_total", pool="gpu"), 5)
        self.assertEqual(v("node_allocator_templates_placed_total", pool="small"), 5)
        self.assertEqual(v("node_allocator_templates_placed_total", pool="highmem"), 0)
        self.assertEqual(v("node_allocator_templates_skipped_total", reason="not-placeable"), 5)
        self.assertEqual(v("node_allocator_templates_skipped_total", reason="no-fit"), 0)

        self.assertEqual(v("node_allocator_connections_total"), 1)
        self.assertEqual(v("node_allocator_connections_open"), 1)
        # The last answer may reach us just before the server marks it finished.
        server.wait_metric("node_allocator_requests_in_flight", 0)
        self.assertEqual(v("node_allocator_ready"), 1)
        self.assertEqual(v("node_allocator_policy_reloads_total", result="ok"), 0)
        self.assertEqual(v("node_allocator_certificate_reloads_total", result="failed"), 0)
        not_after = ssl._ssl._test_decode_cert(self.server_crt)["notAfter"]
        self.assertEqual(v("node_allocator_certificate_expiry_timestamp_seconds"),
                         ssl.cert_time_to_seconds(not_after))
        self.assertEqual(sum(val for (n, _), val in m.items()
                             if n == "node_allocator_build_info"), 1)

        conn.close()
        server.wait_metric("node_allocator_connections_open", 0)

    def test_no_fit_and_skips_counted(self):
        server = self.start()
        conn = self.connect(server)
        wf = sl.workflow()
        wf["spec"]["templates"][1]["container"]["resources"]["requests"]["cpu"] = "500"
        wf["metadata"]["annotations"] = {}
        wf["spec"]["templates"][2]["metadata"] = {"annotations": {"node-allocator.io/skip": "true"}}
        resp, body = sl.post(conn, "/mutate", sl.review(wf))
        self.assertEqual(resp.status, 200)
        self.assertTrue(json.loads(body)["response"]["allowed"])
        self.assertEqual(server.metric("node_allocator_templates_skipped_total", reason="no-fit"), 1)
        self.assertEqual(server.metric("node_allocator_templates_skipped_total",
                                       reason="opted-out"), 1)
        self.assertEqual(server.metric("node_allocator_admission_requests_total", kind="Workflow",
                                       operation="CREATE", outcome="allowed"), 1)

    def test_metrics_port_endpoints(self):
        server = self.start()
        c = http.client.HTTPConnection("127.0.0.1", server.metrics_port, timeout=5)
        self.addCleanup(c.close)
        for method, path, status in (("GET", "/healthz", 200), ("GET", "/nope", 404),
                                     ("POST", "/metrics", 405), ("GET", "/metrics", 200)):
            c.request(method, path)
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, status, path)

    def test_metrics_off(self):
        server = self.start(metrics=False)
        self.assertIsNone(server.metrics_port)
        self.assertIn("metrics_listen=off", server.log())


if __name__ == "__main__":
    unittest.main()
