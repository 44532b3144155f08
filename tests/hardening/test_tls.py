"""The TLS port's protocol and cipher settings seen from a client (Python's ssl, OpenSSL 3):
TLS 1.0 and 1.1 refused by the server, TLS 1.2 only with forward-secret AEAD suites (ECDHE or
DHE with AES-GCM or ChaCha20-Poly1305), TLS 1.3 accepted, ALPN http/1.1 selected. Both key
types: RSA (certs/gen-certs.sh's default) and ECDSA P-256."""

import os
import socket
import ssl
import sys
import unittest
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLSv1, TLSv1_1 on purpose

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when run directly
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardlib as hl  # noqa: E402
from hardlib import sl  # noqa: E402

# Refused: CBC (with and without ECDHE), static RSA key exchange (no forward secrecy), 3DES,
# RC4, NULL and export-grade suites, anonymous DH.
WEAK_RSA = ["AES128-SHA", "AES256-SHA256", "AES128-GCM-SHA256", "AES256-GCM-SHA384",
            "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-SHA",
            "DHE-RSA-AES256-SHA256", "DES-CBC3-SHA", "RC4-SHA", "NULL-SHA256", "EXP-RC4-MD5",
            "ADH-AES128-GCM-SHA256", "CAMELLIA128-SHA", "ECDHE-RSA-CAMELLIA128-SHA256"]
WEAK_EC = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256",
           "ECDHE-ECDSA-CAMELLIA128-SHA256", "ECDHE-ECDSA-NULL-SHA", "AECDH-AES128-SHA"]
GOOD_RSA = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
            "ECDHE-RSA-CHACHA20-POLY1305", "DHE-RSA-AES128-GCM-SHA256"]
GOOD_EC = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
           "ECDHE-ECDSA-CHACHA20-POLY1305"]


def context(ca, minimum, maximum, ciphers=None, alpn=("h2", "http/1.1")):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    ctx.minimum_version, ctx.maximum_version = minimum, maximum
    # Security level 0: the client itself must be willing to offer old protocols and weak
    # suites, so a failure is the server's refusal.
    ctx.set_ciphers((ciphers or "ALL:COMPLEMENTOFALL") + ":@SECLEVEL=0")
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


class TlsTest(sl.ServerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rsa_crt, cls.rsa_key = hl.issue_rsa_server(cls.pki)
        cls.servers = {
            "rsa": sl.Server(sl.EXAMPLE_POLICY, cls.rsa_crt, cls.rsa_key, metrics=False),
            "ec": sl.Server(sl.EXAMPLE_POLICY, cls.server_crt, cls.server_key, metrics=False),
        }

    @classmethod
    def tearDownClass(cls):
        codes = {k: s.stop() for k, s in cls.servers.items()}
        super().tearDownClass()
        assert set(codes.values()) == {0}, codes

    def handshake(self, key_type, ctx):
        """(protocol, cipher, alpn) of a completed handshake; raises ssl.SSLError otherwise."""
        port = self.servers[key_type].port
        with socket.create_connection(("127.0.0.1", port), 10) as raw:
            with ctx.wrap_socket(raw, server_hostname=sl.SERVICE_NAME) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                [(status, _, body)] = hl.read_responses(s, 1)
                self.assertEqual((status, body), (200, b"ok\n"))
                return s.version(), s.cipher()[0], s.selected_alpn_protocol()

    def assert_refused(self, key_type, ctx, what):
        with self.assertRaises(ssl.SSLError, msg=what) as caught:
            self.handshake(key_type, ctx)
        # Refused by the server (an alert), not by this client for want of anything to offer.
        self.assertNotIn("NO_PROTOCOLS_AVAILABLE", str(caught.exception), what)
        self.assertNotIn("NO_CIPHERS_AVAILABLE", str(caught.exception), what)
        self.assertNotIn("NO_CIPHER_MATCH", str(caught.exception), what)
        return str(caught.exception)

    def test_tls10_and_tls11_refused(self):
        for key_type in self.servers:
            for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
                err = self.assert_refused(key_type, self.ca_context(version, version), version)
                self.assertRegex(err, "(?i)protocol.version|unsupported.protocol", err)

    def ca_context(self, minimum, maximum, ciphers=None, alpn=("h2", "http/1.1")):
        return context(self.pki.ca_crt, minimum, maximum, ciphers, alpn)

    def test_tls12_weak_suites_refused(self):
        tls12 = ssl.TLSVersion.TLSv1_2
        for key_type, suites in (("rsa", WEAK_RSA), ("ec", WEAK_EC)):
            for suite in suites:
                try:
                    ctx = self.ca_context(tls12, tls12, suite)
                except ssl.SSLError:
                    continue  # this OpenSSL does not even have it
                self.assert_refused(key_type, ctx, suite)

    def test_tls12_forward_secret_aead_accepted(self):
        tls12 = ssl.TLSVersion.TLSv1_2
        for key_type, suites in (("rsa", GOOD_RSA), ("ec", GOOD_EC)):
            for suite in suites:
                version, cipher, alpn = self.handshake(key_type, self.ca_context(tls12, tls12, suite))
                self.assertEqual((version, cipher, alpn), ("TLSv1.2", suite, "http/1.1"))

    def test_tls13_accepted(self):
        tls13 = ssl.TLSVersion.TLSv1_3
        for key_type in self.servers:
            version, cipher, alpn = self.handshake(key_type, self.ca_context(tls13, tls13))
            self.assertEqual(version, "TLSv1.3")
            self.assertIn(cipher, ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"))
            self.assertEqual(alpn, "http/1.1")

    def test_default_client_gets_tls13(self):
        # A client allowing everything ends up on TLS 1.3 with an AEAD suite.
        ctx = self.ca_context(ssl.TLSVersion.TLSv1, ssl.TLSVersion.MAXIMUM_SUPPORTED)
        for key_type in self.servers:
            self.assertEqual(self.handshake(key_type, ctx)[0], "TLSv1.3")

    def test_alpn(self):
        any_version = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
        for key_type in self.servers:
            # kube-apiserver (Go) offers h2 and http/1.1: http/1.1 is chosen.
            self.assertEqual(self.handshake(key_type, self.ca_context(*any_version))[2], "http/1.1")
            # No ALPN offered: fine, no ALPN answered.
            self.assertIsNone(self.handshake(key_type, self.ca_context(*any_version, alpn=None))[2])
            # h2 only: not chosen (this server speaks HTTP/1.1); the handshake still completes.
            self.assertIsNone(self.handshake(key_type, self.ca_context(*any_version, alpn=("h2",)))[2])


if __name__ == "__main__":
    unittest.main(verbosity=2)
