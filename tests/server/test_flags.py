"""Spec §8, serve's command line: --help, bad flags (exit 2), environment twins, startup failures
(exit 1)."""

import os
import re
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverlib as sl  # noqa: E402

FLAGS = ["policy", "tls-cert", "tls-key", "listen", "metrics-listen", "client-ca",
         "max-body-bytes", "shutdown-grace", "log-format", "log-level", "threads",
         "handshake-timeout", "header-timeout", "body-timeout", "write-timeout", "idle-timeout",
         "reload-interval", "max-header-bytes"]


def env_of(flag):
    return "NODE_ALLOCATOR_" + flag.upper().replace("-", "_")


class FlagsTest(sl.ServerTest):
    def serve(self, *args, env=None, timeout=10):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NODE_ALLOCATOR_")}
        return subprocess.run([sl.BIN, "serve", *args], capture_output=True, text=True,
                              timeout=timeout, env={**clean, **(env or {})})

    def base(self):
        return ["--policy", sl.EXAMPLE_POLICY, "--tls-cert", self.server_crt,
                "--tls-key", self.server_key, "--listen", "127.0.0.1:0", "--metrics-listen", "off"]

    def test_help_documents_every_flag(self):
        r = self.serve("--help")
        self.assertEqual(r.returncode, 0)
        for flag in FLAGS:
            self.assertIn(f"--{flag} ", r.stdout)
            self.assertIn(env_of(flag), r.stdout)
        for default in ("0.0.0.0:8443", "0.0.0.0:9090", "3145728", "15"):
            self.assertIn(default, r.stdout)

    def test_bad_flags_exit_2_with_one_line(self):
        cases = [["--nope"], self.base() + ["--max-body-bytes", "lots"],
                 self.base() + ["--log-format", "xml"], self.base() + ["--log-level", "loud"],
                 self.base() + ["--listen", "nowhere"], self.base() + ["--shutdown-grace", "-1"],
                 self.base() + ["--idle-timeout", "0"], self.base() + ["--threads"],
                 ["--tls-cert", "a", "--tls-key", "b"], ["stray"]]
        for args in cases:
            r = self.serve(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            self.assertTrue(r.stderr.startswith("argo-node-allocator serve: "), r.stderr)
        r = self.serve(env={"NODE_ALLOCATOR_MAX_BODY_BYTES": "x"}, *self.base())
        self.assertEqual(r.returncode, 2)
        self.assertIn("NODE_ALLOCATOR_MAX_BODY_BYTES", r.stderr)

    def test_environment_twins_and_flags_win(self):
        env = {"NODE_ALLOCATOR_POLICY": sl.EXAMPLE_POLICY,
               "NODE_ALLOCATOR_TLS_CERT": self.server_crt,
               "NODE_ALLOCATOR_TLS_KEY": self.server_key,
               "NODE_ALLOCATOR_LISTEN": "127.0.0.1:0",
               "NODE_ALLOCATOR_METRICS_LISTEN": "127.0.0.1:0",
               "NODE_ALLOCATOR_LOG_FORMAT": "json",
               "NODE_ALLOCATOR_MAX_BODY_BYTES": "10"}
        # Server() passes --listen etc. as flags; here only the environment sets them, except
        # --max-body-bytes, whose flag must win over the environment's 10 bytes.
        server = sl.Server.__new__(sl.Server)
        log_path = os.path.join(self.tmp, "env.log")
        log = open(log_path, "wb")
        self.addCleanup(log.close)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NODE_ALLOCATOR_")}
        server.proc = subprocess.Popen([sl.BIN, "serve", "--max-body-bytes", "100000"],
                                       stdout=log, stderr=subprocess.STDOUT, env={**clean, **env})
        server.log_path, server._log = log_path, log
        self.addCleanup(self.stop_cleanly, server)
        server.wait_log(r'"msg":"serving"')
        text = server.log()
        server.port = int(re.search(r'"listen":"127\.0\.0\.1:(\d+)"', text).group(1))
        server.metrics_port = int(re.search(r'"metrics_listen":"127\.0\.0\.1:(\d+)"', text).group(1))
        conn = self.connect(server)
        resp, body = sl.post(conn, "/mutate", sl.review(sl.workflow()))
        self.assertEqual(resp.status, 200, body)
        self.assertEqual(server.metric("node_allocator_ready"), 1)

    def serving_threads(self, *extra, cpus=None):
        """Starts serve (on `cpus` only, if given), returns the threads its serving line names."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("NODE_ALLOCATOR_")}
        proc = subprocess.Popen(
            [sl.BIN, "serve", *self.base(), *extra], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, env=clean,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        try:
            for line in proc.stderr:
                if " serving " in line:
                    return int(re.search(r" threads=(\d+) ", line).group(1))
            self.fail("serve exited without serving")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            proc.stderr.close()

    def test_threads_default_to_the_cpus_the_process_may_use(self):
        # --threads 0, the default: a worker per CPU of the affinity mask (a cgroup CPU limit
        # may lower it further), never the node's core count (server/cpus.hpp).
        cpus = sorted(os.sched_getaffinity(0))
        self.assertEqual(self.serving_threads(cpus={cpus[-1]}), 1)
        every = self.serving_threads()
        self.assertGreaterEqual(every, 1)
        self.assertLessEqual(every, len(cpus))
        if len(cpus) >= 2:
            self.assertLessEqual(self.serving_threads(cpus=set(cpus[:2])), 2)
        self.assertEqual(self.serving_threads("--threads", "3", cpus={cpus[0]}), 3)

    def test_invalid_policy_at_startup_exits_1_with_its_line(self):
        bad = os.path.join(self.tmp, "bad-policy.yaml")
        with open(bad, "w") as f:
            f.write(sl.read(sl.EXAMPLE_POLICY).replace("strategy: FirstFit", "strategy: Random"))
        line = sl.read(bad).splitlines().index(
            next(l for l in sl.read(bad).splitlines() if "strategy: Random" in l)) + 1
        args = self.base()
        args[1] = bad
        r = self.serve(*args)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"line {line}", r.stderr)

    def test_unusable_tls_files_exit_1(self):
        _, other_key = self.pki.issue_server("other")
        for cert, key, why in ((self.server_crt, other_key, "does not match"),
                               (os.path.join(self.tmp, "missing.crt"), self.server_key,
                                "No such file"),
                               (self.server_crt, self.server_crt, "no PEM private key")):
            args = self.base()
            args[3], args[5] = cert, key
            r = self.serve(*args)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(why, r.stderr)

    def test_address_in_use_exits_1(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        args = self.base()
        args[7] = f"127.0.0.1:{taken.getsockname()[1]}"
        r = self.serve(*args)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot listen on", r.stderr)


if __name__ == "__main__":
    unittest.main()
