"""Soak (issue 5): 256 keep-alive TLS connections send normal reviews for N seconds against the
real binary on 127.0.0.1, while the certificate is rotated (a Secret-style `..data` symlink
swap) and a valid then an invalid policy is reloaded; then the clients close, and finally the
server gets SIGTERM under the same load.

Asserts: zero errors; RSS flat after warm-up (at the end at most 10% + 2 MiB above its value at a
third of the run); the server's file descriptors back to their baseline once the clients have
closed; under SIGTERM no request the server accepted fails or is cut (every uid the server logged
got its complete answer) and the process exits 0 within --shutdown-grace.

    soak.py [--seconds N] [--connections N] [--pause S]   (N: 30 by default; `make soak`: 300)

No third-party packages: asyncio streams with the ssl module, Debian's /usr/bin/python3."""

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import tempfile
import time
import shutil

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when run directly
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hardlib as hl  # noqa: E402
from hardlib import sl  # noqa: E402

GRACE = 10  # --shutdown-grace, seconds


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Load:
    """`connections` asyncio clients on keep-alive connections, each sending a normal review,
    reading the complete answer and checking it, pausing `pause` seconds, until stopped. A
    client reconnects when the server says Connection: close. Bounded by `max_seconds`."""

    def __init__(self, port, ctx, connections, pause, tag, max_seconds):
        self.port, self.ctx, self.connections, self.pause = port, ctx, connections, pause
        self.tag, self.max_seconds = tag, max_seconds
        self.ok = 0
        self.errors = []          # always a failure
        self.unanswered = []      # (uid, error): the server closed before any answer byte
        self.refused = 0          # connects refused (only after SIGTERM)
        self.closed_idle = 0      # keep-alive connections seen closed before the next request
        self.answered_uids = set()
        self.stopping = False     # clients finish their current request and close
        self.shutting_down = False  # the server got SIGTERM: refusals and closes expected
        self.open = 0
        req = sl.review(sl.workflow(), uid="UID")
        self._template = json.dumps(req)
        self._request = req
        self._n = 0

    def _next(self):
        self._n += 1
        uid = f"{self.tag}-{self._n:08d}"
        body = self._template.replace('"uid": "UID"', f'"uid": "{uid}"', 1).encode()
        head = (f"POST /mutate?timeout=10s HTTP/1.1\r\nHost: {sl.SERVICE_NAME}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        return uid, head.encode() + body

    def _check(self, uid, status, body, full):
        if status != 200:
            raise AssertionError(f"{uid}: status {status}: {body[:200]!r}")
        answer = json.loads(body)
        if answer["response"]["uid"] != uid or "patch" not in answer["response"]:
            raise AssertionError(f"{uid}: wrong answer {body[:200]!r}")
        if full:  # the patch really applies and places (python-jsonpatch; costs client CPU)
            req = json.loads(json.dumps(self._request).replace('"uid": "UID"', f'"uid": "{uid}"'))
            hl.check_answer(req, status, body)

    async def _read_answer(self, reader):
        """(status, headers, body); raises EOFError when closed before the first byte and
        ConnectionError when closed in the middle of an answer."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if e.partial:
                raise ConnectionError(f"answer cut in its header: {e.partial[:100]!r}")
            raise EOFError("closed before an answer")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        try:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        except asyncio.IncompleteReadError as e:
            raise ConnectionError(f"answer cut in its body after {len(e.partial)} bytes")
        return status, headers, body

    async def _client(self, i, deadline):
        while not self.stopping and time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(
                    "127.0.0.1", self.port, ssl=self.ctx, server_hostname=sl.SERVICE_NAME), 20)
            except (ConnectionRefusedError, ConnectionResetError, EOFError, OSError) as e:
                if self.shutting_down:
                    self.refused += 1
                    return
                self.errors.append(f"connect: {e!r}")
                await asyncio.sleep(0.5)
                continue
            self.open += 1
            try:
                while not self.stopping and time.monotonic() < deadline:
                    if reader.at_eof():
                        # Closed by the server while idle (shutdown), seen before sending.
                        self.closed_idle += 1
                        break
                    uid, data = self._next()
                    writer.write(data)
                    try:
                        await writer.drain()
                        status, headers, body = await asyncio.wait_for(
                            self._read_answer(reader), 20)
                    except (EOFError, ConnectionResetError, BrokenPipeError) as e:
                        # No answer byte: the server closed the connection (idle close at
                        # shutdown). Allowed only if the server never handled this uid
                        # (checked against its log) and only after SIGTERM.
                        if self.shutting_down:
                            self.unanswered.append((uid, repr(e)))
                        else:
                            self.errors.append(f"{uid}: {e!r}")
                        break
                    except Exception as e:  # noqa: BLE001  (cut answers, timeouts)
                        self.errors.append(f"{uid}: {e!r}")
                        break
                    try:
                        self._check(uid, status, body, full=self.ok % 200 == 0)
                    except Exception as e:  # noqa: BLE001
                        self.errors.append(repr(e))
                        break
                    self.ok += 1
                    self.answered_uids.add(uid)
                    if headers.get("connection", "").lower() == "close":
                        break
                    await asyncio.sleep(self.pause * (0.5 + (i % 8) / 8))
            finally:
                self.open -= 1
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), 5)
                except Exception:  # noqa: BLE001  (a reset while closing is not a request error)
                    pass

    async def run(self, until):
        """Runs the clients until `until()` (an async callable) returns, then stops them."""
        deadline = time.monotonic() + self.max_seconds
        tasks = [asyncio.create_task(self._client(i, deadline)) for i in range(self.connections)]
        try:
            await until()
        finally:
            self.stopping = True
            await asyncio.wait(tasks, timeout=60)


async def sleep_until(t):
    await asyncio.sleep(max(0.0, t - time.monotonic()))


async def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


HALF_SENT = 16


def open_half_sent(port, ctx, count):
    out = []
    for i in range(count):
        req = sl.review(sl.workflow(), uid=f"half-{i:04d}")
        body = json.dumps(req).encode()
        s = sl.tls_socket(port, ctx, timeout=20)
        s.sendall(b"POST /mutate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body[:len(body) // 2])
        out.append((s, req, body[len(body) // 2:]))
    return out


def finish_half_sent(half):
    for s, _, rest in half:
        s.sendall(rest)
    for s, req, _ in half:
        [(status, headers, body)] = hl.read_responses(s, 1, 20)
        hl.check_answer(req, status, body)
        if headers.get("connection", "").lower() != "close":
            raise AssertionError(f"no Connection: close after SIGTERM: {headers}")


def policy_text(small_label):
    with open(sl.EXAMPLE_POLICY) as f:
        text = f.read()
    return text.replace("{node-pool: small}", "{node-pool: %s}" % small_label)


async def soak(args):
    tmp = tempfile.mkdtemp(prefix="nodealloc-soak-")
    failures = []
    server = None
    try:
        pki = sl.Pki(tmp)
        crt, key = pki.issue_server("server1")
        tls = sl.SecretDir(os.path.join(tmp, "tls"), {"tls.crt": sl.read(crt), "tls.key": sl.read(key)})
        cfg = sl.SecretDir(os.path.join(tmp, "policy"), {"policy.yaml": policy_text("small")})
        ctx = sl.client_context(pki.ca_crt)
        server = sl.Server(cfg.path("policy.yaml"), tls.path("tls.crt"), tls.path("tls.key"),
                           "--reload-interval", "0.5s", "--shutdown-grace", f"{GRACE}s",
                           "--idle-timeout", "120s")
        pid = server.proc.pid
        san = hl.sanitized(pid)
        # Baseline file descriptors: serving, no client yet.
        await asyncio.sleep(0.5)
        fd_base = hl.fd_count(pid)
        log(f"server pid {pid}{' (' + san + ')' if san else ''}; {fd_base} fds; "
            f"{args.connections} connections for {args.seconds}s")

        # Main phase ------------------------------------------------------------------------
        load = Load(server.port, ctx, args.connections, args.pause, "soak", args.seconds + 120)
        t0 = time.monotonic()
        samples = []
        marks = {}

        async def main_phase():
            end = t0 + args.seconds
            events = [
                (t0 + args.seconds / 3, "rss_third"),
                (t0 + args.seconds * 0.45, "rotate"),
                (t0 + args.seconds * 0.6, "policy_valid"),
                (t0 + args.seconds * 0.75, "policy_invalid"),
            ]
            next_sample = t0
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_sample:
                    samples.append((round(now - t0, 1), hl.rss_kib(pid)[0], hl.fd_count(pid),
                                    load.ok))
                    next_sample += max(1.0, args.seconds / 60)
                while events and events[0][0] <= now:
                    _, what = events.pop(0)
                    await event(what)
                await asyncio.sleep(0.2)
            marks["rss_end"] = hl.rss_kib(pid)[0]
            marks["fds_loaded"] = hl.fd_count(pid)
            marks["open_loaded"] = server.metric("node_allocator_connections_open")

        async def event(what):
            if what == "rss_third":
                marks["rss_third"] = hl.rss_kib(pid)[0]
                log(f"t={time.monotonic() - t0:.0f}s RSS {marks['rss_third']} KiB, "
                    f"{load.ok} answers, {load.open} connections open")
            elif what == "rotate":
                crt2, key2 = pki.issue_server("server2")
                tls.update({"tls.crt": sl.read(crt2), "tls.key": sl.read(key2)})
                await wait_for(lambda: server.metric("node_allocator_certificate_reloads_total",
                                                     result="ok") == 1, 10, "the certificate reload")
                der = await asyncio.to_thread(sl.peer_der, server.port, ctx)
                assert der == sl.der_of(crt2), "new connections do not get the new certificate"
                log("certificate rotated; new connections get it")
            elif what == "policy_valid":
                cfg.update({"policy.yaml": policy_text("small-v2")})
                await wait_for(lambda: server.metric("node_allocator_policy_reloads_total",
                                                     result="ok") == 1, 10, "the policy reload")
                conn = sl.KubeConnection(server.port, ctx)
                req = sl.review(sl.workflow())
                _, body = await asyncio.to_thread(sl.post, conn, "/mutate", req)
                conn.close()
                placed = sl.templates_by_name(sl.apply_answer(req, json.loads(body)))
                assert placed["small-step"]["nodeSelector"] == {"node-pool": "small-v2"}, placed
                log("valid policy reloaded and used")
            elif what == "policy_invalid":
                cfg.update({"policy.yaml": policy_text("small-v2").replace("strategy:", "strategie:")})
                await wait_for(lambda: server.metric("node_allocator_policy_reloads_total",
                                                     result="failed") == 1, 10,
                               "the refused policy")
                assert server.metric("node_allocator_ready") == 1
                log("invalid policy refused; the old one serves")

        try:
            await load.run(main_phase)
        except AssertionError as e:
            failures.append(str(e))
        took = time.monotonic() - t0
        log(f"main phase: {load.ok} answers in {took:.0f}s ({load.ok / took:.0f}/s), "
            f"{len(load.errors)} errors")
        failures += [f"main phase: {e}" for e in load.errors[:20]]
        if load.ok == 0:
            failures.append("main phase: no answers")

        # Leak checks -------------------------------------------------------------------------
        rss_third, rss_end = marks.get("rss_third"), marks.get("rss_end")
        if rss_third and rss_end:
            bound = rss_third * 1.10 + 2 * 1024
            verdict = "ok" if rss_end < bound else "GREW"
            log(f"RSS at 1/3: {rss_third} KiB, at the end: {rss_end} KiB "
                f"(bound {bound:.0f} KiB): {verdict}")
            if san:
                log(f"RSS not asserted under {san}")
            elif rss_end >= bound:
                failures.append(f"RSS grew from {rss_third} to {rss_end} KiB (bound {bound:.0f})")
        log(f"under load: {marks.get('fds_loaded')} fds, "
            f"{marks.get('open_loaded')} connections open (metric)")
        try:
            await wait_for(lambda: server.metric("node_allocator_connections_open") == 0, 15,
                           "connections_open to reach 0")
            await wait_for(lambda: hl.fd_count(pid) == fd_base, 15, "fds back to baseline")
            log(f"clients closed: {hl.fd_count(pid)} fds (baseline {fd_base})")
        except AssertionError as e:
            failures.append(f"{e}: {hl.fd_count(pid)} fds, baseline {fd_base}")
        samples_text = " ".join(f"{t}s:{r}K/{f}fd" for t, r, f, _ in samples[::max(1, len(samples) // 12)])
        log(f"samples (time:RSS/fds): {samples_text}")

        # SIGTERM under load ------------------------------------------------------------------
        down = Load(server.port, ctx, args.connections, args.pause, "term", 60)
        exit_info = {}

        # Besides the load (mostly idle between requests), requests surely in progress at the
        # signal: their bodies half sent, and read that far by the server before the load starts.
        half = await asyncio.to_thread(open_half_sent, server.port, ctx, HALF_SENT)
        try:
            await wait_for(lambda: server.metric("node_allocator_requests_in_flight") == HALF_SENT,
                           10, f"{HALF_SENT} requests in flight")
        except AssertionError as e:
            failures.append(str(e))

        async def shutdown_phase():
            await asyncio.sleep(min(5.0, max(2.0, args.seconds / 10)))
            before = down.ok
            down.shutting_down = True
            sent = time.monotonic()
            server.signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            try:
                await asyncio.to_thread(finish_half_sent, half)
                log(f"{HALF_SENT} requests half sent at the signal: all answered 200, "
                    "Connection: close")
            except Exception as e:  # noqa: BLE001
                failures.append(f"a request in progress at SIGTERM failed: {e!r}")
            finally:
                for s, _, _ in half:
                    s.close()
            code = await asyncio.to_thread(server.proc.wait, GRACE + 10)
            exit_info.update(code=code, seconds=time.monotonic() - sent, before=before)

        try:
            await down.run(shutdown_phase)
        except Exception as e:  # noqa: BLE001
            failures.append(f"shutdown: {e!r}")
        text = server.log()
        logged = set(re.findall(r"uid=(term-\d+)", text))
        lost = logged - down.answered_uids
        never = {u for u, _ in down.unanswered} & logged
        log(f"SIGTERM under load: exit {exit_info.get('code')} after "
            f"{exit_info.get('seconds', -1):.2f}s (grace {GRACE}s); {down.ok} answers "
            f"({exit_info.get('before')} before the signal), {len(down.errors)} errors, "
            f"{down.closed_idle} idle connections closed by the server, "
            f"{len(down.unanswered)} requests sent as the server closed their idle connection "
            "(never read by it), "
            f"{down.refused} connects refused, {len(lost)} logged but not received")
        failures += [f"shutdown phase: {e}" for e in down.errors[:20]]
        if exit_info.get("code") != 0:
            failures.append(f"exit code {exit_info.get('code')}")
        if exit_info.get("seconds", 99) > GRACE:
            failures.append(f"took {exit_info.get('seconds')}s to exit (grace {GRACE}s)")
        if lost or never:
            failures.append(f"accepted requests lost: {sorted(lost | never)[:10]}")
    finally:
        if server:
            code = server.stop()
            if code != 0:
                failures.append(f"server exited {code}")
        shutil.rmtree(tmp, ignore_errors=True)
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("SOAK_SECONDS", "30")))
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--pause", type=float, default=0.1,
                    help="seconds each connection waits between requests (about; bounds the load)")
    args = ap.parse_args()
    failures = asyncio.run(soak(args))
    if failures:
        print("SOAK FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("soak passed", file=sys.stderr)


if __name__ == "__main__":
    main()
