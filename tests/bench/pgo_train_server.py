"""The server's half of the profile-guided build's training (tests/bench/pgo-build.sh): the
instrumented server, on a throw-away certificate and a free port of 127.0.0.1, answers POST
/mutate for core_bench's generated reviews over keep-alive TLS connections, then stops on
SIGTERM, which writes its profile. Python's standard library and the openssl command only.

    python3 tests/bench/pgo_train_server.py BUILD_DIR POLICY
"""
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402  (the benchmark's client context: no verification)

CONNECTIONS = 4
REQUESTS_PER_CONNECTION = 1500


def main():
    build, policy = sys.argv[1], sys.argv[2]
    binary = os.path.join(build, "argo-node-allocator")
    core_bench = os.path.join(build, "tests", "bench", "core_bench")
    # 50 templates most of the time, as the benchmark sends; 5 and 500 for the other sizes.
    reviews = {n: subprocess.run([core_bench, policy, "--emit", str(n)], check=True,
                                 capture_output=True).stdout for n in (5, 50, 500)}
    with tempfile.TemporaryDirectory() as tmp:
        crt, key, log = (os.path.join(tmp, name) for name in ("tls.crt", "tls.key", "serve.log"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
        with open(log, "w") as out:
            server = subprocess.Popen([binary, "serve", "--policy", policy, "--tls-cert", crt,
                                       "--tls-key", key, "--listen", "127.0.0.1:0",
                                       "--metrics-listen", "off"], stdout=out, stderr=out)
        try:
            port = wait_for_port(log, server)
            failures = []
            threads = [threading.Thread(target=client, args=(port, reviews, i, failures))
                       for i in range(CONNECTIONS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if failures:
                raise SystemExit(f"training requests failed: {failures[:3]}")
        finally:
            server.send_signal(signal.SIGTERM)
            code = server.wait(timeout=60)
        if code != 0:
            raise SystemExit(f"the server exited with {code}:\n" + open(log).read()[-2000:])
    print(f"trained the server on {CONNECTIONS * REQUESTS_PER_CONNECTION} reviews")


def wait_for_port(log, server):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited:\n" + open(log).read()[-2000:])
        match = re.search(r"serving listen=127\.0\.0\.1:(\d+)", open(log).read())
        if match:
            return int(match.group(1))
        time.sleep(0.01)
    raise SystemExit("the server did not start serving within 30 s")


def client(port, reviews, index, failures):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=rb.tls_context(), timeout=60)
    for i in range(REQUESTS_PER_CONNECTION):
        size = 500 if i % 100 == index else 5 if i % 10 == 5 else 50
        conn.request("POST", "/mutate", reviews[size], {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            failures.append(response.status)
    conn.close()


if __name__ == "__main__":
    main()
