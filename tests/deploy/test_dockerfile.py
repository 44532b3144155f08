"""Dockerfile and .dockerignore, checked statically (no Docker engine here); plus, when
NODEALLOC_BIN is set and dpkg is available, that every shared library the built binary needs
comes from a package the runtime stage installs (or from debian:12-slim itself)."""
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploylib as D  # noqa: E402

DOCKERFILE = os.path.join(D.SOURCE_DIR, "Dockerfile")
# Essential packages of debian:12-slim that shared libraries come from.
SLIM_BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def instructions():
    """[(stage_index, INSTRUCTION, argument text)], continuation lines joined, comments dropped."""
    text = D.read(DOCKERFILE)
    lines, buf = [], ""
    for raw in text.splitlines():
        s = raw.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if s.startswith("#"):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        lines.append(buf + s)
        buf = ""
    out, stage = [], -1
    for line in lines:
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            stage += 1
        out.append((stage, word, rest.strip()))
    return out


def stages():
    res = {}
    for stage, word, rest in instructions():
        res.setdefault(stage, []).append((word, rest))
    return res


class TestDockerfile(unittest.TestCase):
    def test_stages(self):
        st = stages()
        self.assertEqual(len(st), 2, "a build stage and a runtime stage")
        build_from = st[0][0][1].split()
        self.assertEqual(build_from[0], "debian:12")
        self.assertEqual(build_from[1:3], ["AS", "build"])
        self.assertEqual(st[1][0][1].split()[0], "debian:12-slim")

    def test_build_stage(self):
        runs = " ".join(r for w, r in stages()[0] if w == "RUN")
        for pkg in ("cmake", "g++", "make", "libboost1.81-dev", "libssl-dev", "rapidjson-dev", "libsimdjson-dev",
                    "libyaml-cpp-dev", "libspdlog-dev", "python3", "openssl"):
            self.assertRegex(runs, rf"(?<![\w.+-]){re.escape(pkg)}(?![\w.+-])", pkg)
        self.assertIn("-DNODEALLOC_TESTS=OFF", runs)
        self.assertIn("-DCMAKE_BUILD_TYPE=Release", runs)
        # Profile-guided, as make bench builds what it measures.
        self.assertIn("bash tests/bench/pgo-build.sh /build ", runs)
        script = D.read(os.path.join(D.SOURCE_DIR, "tests", "bench", "pgo-build.sh"))
        for step in ("-DNODEALLOC_PGO=generate", "--loop", "pgo_train_server.py", "-DNODEALLOC_PGO=use",
                     "--target argo-node-allocator"):
            self.assertIn(step, script)
        self.assertIn("pgo-build.sh $(BENCH_BUILD)", D.read(os.path.join(D.SOURCE_DIR, "Makefile")))
        self.assertIn("--no-install-recommends", runs)

    def test_runtime_stage(self):
        rt = stages()[1]
        runs = " ".join(r for w, r in rt if w == "RUN")
        for pkg in ("libssl3", "libsimdjson14", "libyaml-cpp0.7", "libspdlog1.10", "libfmt9"):
            self.assertIn(pkg, runs)
        for forbidden in ("g++", "gcc", "clang", "cmake", "make ", "-dev", "build-essential"):
            self.assertNotIn(forbidden, runs, f"the runtime stage installs {forbidden!r}")
        self.assertIn("rm -rf /var/lib/apt/lists", runs)
        copies = [r for w, r in rt if w == "COPY"]
        self.assertTrue(any(c.startswith("--from=build") and c.endswith("/usr/local/bin/argo-node-allocator")
                            for c in copies), copies)
        users = [r for w, r in rt if w == "USER"]
        self.assertTrue(users, "no USER in the runtime stage")
        self.assertEqual(users[-1].split(":")[0], "65532")
        words = [w for w, _ in rt]
        self.assertNotIn("RUN", words[words.index("USER"):], "USER comes after the last RUN")

    def test_entrypoint_and_cmd(self):
        rt = dict((w, r) for w, r in stages()[1] if w in ("ENTRYPOINT", "CMD", "EXPOSE"))
        self.assertEqual(json.loads(rt["ENTRYPOINT"]), ["/usr/local/bin/argo-node-allocator"])
        cmd = json.loads(rt["CMD"])
        _, flags = D.args_to_flags(cmd)
        self.assertLessEqual(set(flags), D.SPEC_SERVE_FLAGS)
        dep = D.one(D.load_kustomization_directly(D.MANIFESTS), "Deployment")
        _, dep_flags = D.args_to_flags(D.pod_spec(dep)["containers"][0]["args"])
        for f in ("--policy", "--tls-cert", "--tls-key", "--listen"):
            self.assertEqual(flags[f], dep_flags[f], f"CMD and the Deployment disagree on {f}")
        self.assertEqual(set(rt["EXPOSE"].split()), {"8443", "9090"})

    def test_dockerignore_keeps_keys_and_builds_out(self):
        text = D.read(os.path.join(D.SOURCE_DIR, ".dockerignore"))
        lines = [s.strip() for s in text.splitlines() if s.strip() and not s.strip().startswith("#")]
        self.assertEqual(lines[0], "*", "allow-list: everything is excluded first")
        allowed = {s[1:].rstrip("/") for s in lines if s.startswith("!")}
        for w, r in stages()[0] + stages()[1]:
            if w == "COPY" and not r.startswith("--from"):
                for src in r.split()[:-1]:
                    self.assertIn(src.rstrip("/").lstrip("./") or ".", allowed | {"."}, f"COPY {src} is ignored")
        self.assertFalse(any(a.startswith("certs") or a.startswith("build") for a in allowed))

    def test_runtime_libraries_cover_the_binary(self):
        if not (D.BIN and os.access(D.BIN, os.X_OK)):
            self.skipTest("NODEALLOC_BIN is not set")
        if not (shutil.which("ldd") and shutil.which("dpkg")):
            self.skipTest("ldd or dpkg missing")
        runs = " ".join(r for w, r in stages()[1] if w == "RUN")
        installed = set(re.findall(r"\b(lib[\w.+-]+)", runs)) | SLIM_BASE_PACKAGES
        ldd = subprocess.run(["ldd", D.BIN], capture_output=True, text=True, check=True).stdout
        for lib in re.findall(r"=>\s+(\S+)", ldd):
            if re.search(r"/lib(asan|ubsan|tsan|lsan)\.so", lib):
                continue  # a sanitizer build's runtime (make test-asan), never in the image
            real = os.path.realpath(lib)
            r = subprocess.run(["dpkg", "-S", real], capture_output=True, text=True)
            if r.returncode != 0:
                r = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
            if r.returncode != 0:
                continue  # not from a package (e.g. a sanitizer runtime of a local build)
            pkg = r.stdout.split(":")[0].strip()
            self.assertIn(pkg, installed, f"{lib} comes from {pkg}, which the runtime stage does not install")


if __name__ == "__main__":
    unittest.main(verbosity=2)
