"""--client-ca: a client certificate signed by that CA is required and verified."""

import os
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverlib as sl  # noqa: E402


class MtlsTest(sl.ServerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        os.mkdir(os.path.join(cls.tmp, "clients"))
        cls.client_pki = sl.Pki(os.path.join(cls.tmp, "clients"), "client-ca")
        cls.client_crt, cls.client_key = cls.client_pki.issue("apiserver", "kube-apiserver",
                                                              client=True)
        # Signed by the serving CA, not the client CA: must be refused.
        cls.stranger_crt, cls.stranger_key = cls.pki.issue("stranger", "stranger", client=True)
        cls.server = sl.Server(sl.EXAMPLE_POLICY, cls.server_crt, cls.server_key,
                               "--client-ca", cls.client_pki.ca_crt)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"server exited {code}"
        super().tearDownClass()

    def healthz(self, ctx):
        """The HTTP answer's first line, or None when TLS refused the connection."""
        try:
            with sl.tls_socket(self.server.port, ctx) as s:
                # TLS 1.3 finishes the client's side of the handshake before the server has
                # checked the client certificate: the refusal shows on the first read.
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                data = s.recv(4096)
                return data.split(b"\r\n")[0] if data else None
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return None

    def test_without_client_certificate_the_handshake_fails(self):
        before = self.server.metric("node_allocator_tls_handshake_errors_total")
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = sl.client_context(self.pki.ca_crt)
            ctx.maximum_version = version
            self.assertIsNone(self.healthz(ctx), version)
        self.server.wait_metric("node_allocator_tls_handshake_errors_total", before + 2)

    def test_certificate_from_another_ca_fails(self):
        ctx = sl.client_context(self.pki.ca_crt, self.stranger_crt, self.stranger_key)
        self.assertIsNone(self.healthz(ctx))

    def test_with_client_certificate_it_works(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            ctx = sl.client_context(self.pki.ca_crt, self.client_crt, self.client_key)
            ctx.maximum_version = version
            self.assertEqual(self.healthz(ctx), b"HTTP/1.1 200 OK")
        ctx = sl.client_context(self.pki.ca_crt, self.client_crt, self.client_key)
        conn = self.connect(self.server, ctx)
        resp, body = sl.post(conn, "/mutate?timeout=10s", sl.review(sl.workflow()))
        self.assertEqual(resp.status, 200, body)


if __name__ == "__main__":
    unittest.main()
