"""`make tls-scan`: sslscan (Debian package) against the real server on 127.0.0.1, once with an
RSA 2048 certificate (certs/gen-certs.sh's default) and once with ECDSA P-256; prints each scan
and fails unless only TLS 1.2 and 1.3 are enabled and every accepted suite is a forward-secret
AEAD one (ECDHE/DHE with AES-GCM or ChaCha20-Poly1305, or a TLS 1.3 suite) of at least 128 bits,
with no compression and no insecure renegotiation. The output goes to docs/security.md."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when run directly
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardlib as hl  # noqa: E402
from hardlib import sl  # noqa: E402

GOOD_12 = re.compile(r"^(ECDHE|DHE)-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$")
GOOD_13 = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}


def check(output):
    problems = []
    protocols = dict(re.findall(r"^(SSLv[23]|TLSv1\.[0-3])\s+(enabled|disabled)", output, re.M))
    for proto in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"):
        if protocols.get(proto) != "disabled":
            problems.append(f"{proto}: {protocols.get(proto, 'not reported')}")
    for proto in ("TLSv1.2", "TLSv1.3"):
        if protocols.get(proto) != "enabled":
            problems.append(f"{proto}: {protocols.get(proto, 'not reported')}")
    suites = re.findall(r"^(?:Preferred|Accepted)\s+(\S+)\s+(\d+) bits\s+(\S+)", output, re.M)
    if not suites:
        problems.append("no accepted cipher suite reported")
    for proto, bits, name in suites:
        good = name in GOOD_13 if proto == "TLSv1.3" else proto == "TLSv1.2" and GOOD_12.match(name)
        if not good or int(bits) < 128:
            problems.append(f"weak suite accepted: {proto} {name} {bits} bits")
    if re.search(r"^Compression (enabled|supported)", output, re.M | re.I):
        problems.append("TLS compression")
    if re.search(r"^Insecure session renegotiation supported", output, re.M):
        problems.append("insecure renegotiation")
    if re.search(r"^\S+ vulnerable to heartbleed", output, re.M):
        problems.append("heartbleed")
    return problems


def main():
    sslscan = shutil.which("sslscan")
    if not sslscan:
        sys.exit("sslscan is not installed (make tls-scan installs it)")
    tmp = tempfile.mkdtemp(prefix="nodealloc-scan-")
    failed = False
    try:
        pki = sl.Pki(tmp)
        for key_type, (crt, key) in (("RSA 2048", hl.issue_rsa_server(pki)),
                                     ("ECDSA P-256", pki.issue_server())):
            server = sl.Server(sl.EXAMPLE_POLICY, crt, key, metrics=False)
            try:
                result = subprocess.run(
                    [sslscan, "--no-colour", "--show-sigs", f"127.0.0.1:{server.port}"],
                    capture_output=True, text=True, timeout=300)
            finally:
                code = server.stop()
            out = result.stdout.replace(f"127.0.0.1:{server.port}", "127.0.0.1:PORT")
            out = out.replace(f"on port {server.port} ", "on port PORT ")
            print(f"===== sslscan against the server, {key_type} certificate =====")
            print(out)
            problems = check(out) + ([f"server exited {code}"] if code else [])
            if result.returncode:
                problems.append(f"sslscan exited {result.returncode}: {result.stderr[-500:]}")
            print(f"== {key_type}: " + ("OK: only TLS 1.2/1.3, no weak suite" if not problems
                                       else "PROBLEMS: " + "; ".join(problems)))
            failed |= bool(problems)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
