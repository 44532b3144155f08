"""Shared helpers for the hardening tests: raw HTTP/1.1 over TLS, process figures from /proc,
and a background client that sends normal reviews the whole time and counts every failure."""

import json
import os
import select
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import serverlib as sl  # noqa: E402,F401


def rss_kib(pid):
    """(VmRSS, VmHWM) of a process in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out["VmRSS"], out["VmHWM"]


class slow_start:
    """`with slow_start(8): sl.Server(...)`: serverlib.Server waits 15 s for a server to start;
    a 10 000-pool policy under TSan takes longer. Stretches the clock serverlib sees (its
    module's name `time` only) `factor` times while the block runs."""

    class _Clock:
        def __init__(self, factor):
            self._factor = factor

        def monotonic(self):
            return time.monotonic() / self._factor

        def __getattr__(self, name):
            return getattr(time, name)

    def __init__(self, factor):
        self._clock = self._Clock(factor)

    def __enter__(self):
        sl.time = self._clock

    def __exit__(self, *exc):
        sl.time = time


def sanitized(pid):
    """The sanitizer runtime a process runs under, if any (RSS means little with ASan's
    quarantine or TSan's shadow memory)."""
    with open(f"/proc/{pid}/maps") as f:
        maps = f.read()
    for name in ("asan", "tsan", "msan", "lsan"):
        if f"lib{name}" in maps:
            return name
    return None


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def read_responses(sock, count, timeout=10):
    """Reads `count` HTTP/1.1 responses (each with Content-Length, as the server always sends)
    from a socket; returns [(status, headers dict (lower-case names), body)]. Raises on timeout or
    on a connection closed early."""
    deadline = time.monotonic() + timeout
    buf = b""
    out = []
    while len(out) < count:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1").split("\r\n")
            status = int(head[0].split(" ", 2)[1])
            headers = {}
            for line in head[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0"))
            if status == 100:
                buf = buf[end + 4:]
                continue
            if len(buf) >= end + 4 + length:
                out.append((status, headers, buf[end + 4:end + 4 + length]))
                buf = buf[end + 4 + length:]
                continue
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(out)} of {count} responses within {timeout}s")
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(out)} of {count} responses")
        buf += chunk
    return out


def closed_within(sock, timeout):
    """Seconds until the peer closed the connection (EOF, reset or TLS error), reading and
    discarding whatever comes; None if still open after timeout."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
            if isinstance(e, socket.timeout):
                return None
            return time.monotonic() - started


def try_recv(sock, size=65536):
    """What the peer has sent, without waiting: None when nothing is there yet (a TLS record
    that carries no application data, such as a TLS 1.3 session ticket, counts as nothing);
    b"" when the peer closed; raises on a reset."""
    if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
        r, _, _ = select.select([sock], [], [], 0)
        if not r:
            return None
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return sock.recv(size)
    except (ssl.SSLWantReadError, BlockingIOError):
        return None
    finally:
        sock.settimeout(timeout)


def request_bytes(method, target, body=b"", headers=None, content_type="application/json"):
    h = {"Host": sl.SERVICE_NAME}
    if content_type:
        h["Content-Type"] = content_type
    if body or method == "POST":
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return head.encode() + b"\r\n" + body


def check_answer(req, status, body):
    """A normal review's answer: 200, a valid AdmissionReview whose patch places the GPU step."""
    if status != 200:
        raise AssertionError(f"status {status}: {body[:200]!r}")
    answer = json.loads(body)
    if answer["response"]["uid"] != req["request"]["uid"]:
        raise AssertionError("uid mismatch")
    placed = sl.apply_answer(req, answer)
    if sl.templates_by_name(placed)["gpu-train"].get("nodeSelector") != sl.GPU_SELECTOR:
        raise AssertionError("gpu-train not placed")


def normal_review(conn, i=0):
    req = sl.review(sl.workflow(), uid=f"0e6a5b1c-0000-4000-8000-{i:012d}")
    resp, body = sl.post(conn, "/mutate?timeout=10s", req)
    check_answer(req, resp.status, body)


class Watchdog:
    """One client sending normal reviews on a keep-alive connection (a new connection every 50
    requests) until stopped; every failure is recorded. Bounded: at most `max_seconds`."""

    def __init__(self, port, ctx, pause=0.02, max_seconds=600):
        self.port, self.ctx, self.pause = port, ctx, pause
        self.failures, self.count = [], 0
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            conn = sl.KubeConnection(self.port, self.ctx, timeout=20)
            try:
                for _ in range(50):
                    if self._stop.is_set():
                        break
                    started = time.monotonic()
                    normal_review(conn, self.count)
                    took = time.monotonic() - started
                    if took > 5:
                        raise AssertionError(f"a normal review took {took:.1f}s")
                    self.count += 1
                    self._stop.wait(self.pause)
            except Exception as e:  # noqa: BLE001
                self.failures.append(f"{time.strftime('%H:%M:%S')} {e!r}")
            finally:
                conn.close()

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        return self.failures


def issue_rsa_server(pki, name="server-rsa"):
    """An RSA 2048 serving certificate (what certs/gen-certs.sh makes by default) signed by
    `pki`'s CA, for the service name and 127.0.0.1; returns (crt_path, key_path)."""
    import subprocess
    key = os.path.join(pki.dir, f"{name}.key")
    csr = os.path.join(pki.dir, f"{name}.csr")
    crt = os.path.join(pki.dir, f"{name}.crt")
    ext = os.path.join(pki.dir, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{sl.SERVICE_NAME},IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth\n")
    for args in (["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                  "-subj", f"/CN={sl.SERVICE_NAME}"],
                 ["x509", "-req", "-in", csr, "-CA", pki.ca_crt, "-CAkey", pki.ca_key,
                  "-set_serial", str(int(time.time() * 1e6) % (1 << 62)), "-out", crt,
                  "-days", "1", "-extfile", ext]):
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    return crt, key
