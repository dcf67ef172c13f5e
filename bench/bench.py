#!/usr/bin/env python3
"""schedkit benchmarks against the tools users would pick instead.

Runs every benchmark of issue 6 on one loopback docker-registry, alternating
peer and ours (peer, ours, peer, ours...) so drift hits both alike, and
writes OUT/results.json and OUT/results.md. Every figure is the median of
--iterations runs; ratios are ours / peer from the same run. Request counts
come from the registry's access log (each push goes to a fresh repository,
so it is a cold push).

    python3 bench/bench.py [--iterations N] [--out DIR] [--skip-vm] [--keep]
    python3 bench/bench.py --render     # results.md again from results.json

Exits 1 when a benchmark could not be run (the reason is printed and
recorded); a missed target is a result, not an error.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MT_ARTIFACT = "application/vnd.schedkit.scheduler.v1"
MT_CONFIG = "application/vnd.schedkit.scheduler.config.v1+json"
MT_BPF = "application/vnd.schedkit.scheduler.bpf.v1+elf"
MT_SOURCE = "application/vnd.schedkit.scheduler.source.v1.tar+gzip"
# Same pattern as tests/registry/lib.sh reg_access: combined-log lines for /v2/.
ACCESS_RE = re.compile(r'^[0-9.:]+ - [^ ]+ \[[^]]*\] "([A-Z]+) (/v2/[^ ]*)')


class BenchError(Exception):
    pass


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def median(xs):
    return statistics.median(xs) if xs else None


class Registry:
    """docker-registry on 127.0.0.1 with its access log in a file."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "registry")
        os.makedirs(os.path.join(self.dir, "data"))
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "log")
        with open(os.path.join(self.dir, "config.yml"), "w") as f:
            f.write(
                "version: 0.1\nlog:\n  level: info\n  formatter: text\n"
                "  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {self.dir}/data\n  delete:\n    enabled: true\n"
                f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: schedkit-bench\n"
            )
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", os.path.join(self.dir, "config.yml")],
            stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise BenchError("docker-registry did not come up on 127.0.0.1:%d: %s"
                                     % (self.port, self.tail()))
                time.sleep(0.05)
        self.host = "127.0.0.1:%d" % self.port

    def tail(self):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-10:])

    def requests(self):
        with open(self.log_path, errors="replace") as f:
            return [m.groups() for m in map(ACCESS_RE.match, f) if m]

    def settled_count(self):
        # The registry logs a request after answering it, so the client may
        # exit before its last line is written: wait until the count holds.
        last, stable = len(self.requests()), 0
        while stable < 2:
            time.sleep(0.02)
            n = len(self.requests())
            stable = stable + 1 if n == last else 0
            last = n
        return last

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


class Bench:
    def __init__(self, args):
        self.args = args
        self.iters = args.iterations
        self.build = os.path.abspath(args.build)
        self.skbuild = os.environ.get("SKBUILD") or os.path.join(self.build, "skbuild")
        self.skrun = os.environ.get("SKRUN") or os.path.join(self.build, "skrun")
        self.kernel = os.environ.get("SCHEDKIT_KERNEL_CACHE", "/var/cache/schedkit/kernel")
        self.btf = os.path.join(self.kernel, "vmlinux")
        self.tmp = tempfile.mkdtemp(prefix="skbench.")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        tools = os.path.join(os.environ.get("SCHEDKIT_TOOLS", "/var/cache/schedkit/tools"), "bin")
        self.env = dict(os.environ)
        self.env.update({
            "PATH": tools + os.pathsep + os.environ.get("PATH", ""),
            # Peers keep caches and credentials under HOME; ours read auth files there.
            "HOME": self.home,
            "DOCKER_CONFIG": os.path.join(self.home, ".docker"),
            "SCHEDKIT_CACHE": os.path.join(self.tmp, "cache"),
            "SKBUILD_KEY_PASSWORD": "",
            "COSIGN_PASSWORD": "",
        })
        self.env.pop("ORAS_CACHE", None)
        self.env.pop("REGISTRY_AUTH_FILE", None)
        self.rows = []
        self.errors = []
        self.reg = None
        # Other work on the machine skews wall times; the record says how busy it was.
        self.load_start = os.getloadavg()

    # -- helpers ---------------------------------------------------------

    def run(self, cmd, cwd=None, env=None, check=True):
        p = subprocess.run(cmd, cwd=cwd, env=env or self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if check and p.returncode != 0:
            raise BenchError("%s exited %d: %s" % (" ".join(cmd), p.returncode,
                                                  (p.stderr or p.stdout).decode(errors="replace").strip()[-800:]))
        return p

    def measure(self, cmd, cwd=None, env=None):
        """Runs CMD once: (wall ms, registry requests it made, stdout)."""
        before = self.reg.settled_count() if self.reg else 0
        t0 = time.perf_counter()
        p = self.run(cmd, cwd=cwd, env=env)
        ms = (time.perf_counter() - t0) * 1000
        n = self.reg.settled_count() - before if self.reg else 0
        return ms, n, p.stdout.decode(errors="replace")

    def add(self, rid, name, unit, ours, peer, target=None, ours_label="", peer_label="",
            note=None):
        """One result row. OURS and PEER are sample lists (or None); TARGET is
        ("ratio_max", X) | ("less_than_peer",) | ("equals", X) | ("at_most", X, TEXT) |
        None."""
        om = median(ours) if ours is not None else None
        pm = median(peer) if peer is not None else None
        ratio = om / pm if om is not None and pm else None
        met, target_text = None, "—"
        if target:
            kind = target[0]
            if kind == "ratio_max":
                target_text = "≤ %gx peer" % target[1]
                met = ratio is not None and ratio <= target[1]
            elif kind == "less_than_peer":
                target_text = "< peer"
                met = om is not None and pm is not None and om < pm
            elif kind == "equals":
                target_text = "= %s" % target[1]
                met = om == target[1]
            elif kind == "at_most":
                target_text = target[2]
                met = om is not None and om <= target[1]
        self.rows.append({
            "id": rid, "name": name, "unit": unit,
            "ours": om, "peer": pm, "ratio": ratio,
            "target": target_text, "met": met,
            "ours_tool": ours_label, "peer_tool": peer_label,
            "samples": {"ours": ours, "peer": peer},
            "note": note,
        })

    def not_measured(self, rid, name, why, target_text="—"):
        self.rows.append({"id": rid, "name": name, "unit": None, "ours": None, "peer": None,
                          "ratio": None, "target": target_text, "met": None,
                          "samples": None, "note": "not measured: " + why})

    def section(self, name, fn):
        log(name)
        try:
            fn()
        except BenchError as e:
            log("%s failed: %s" % (name, e))
            self.errors.append("%s: %s" % (name, e))
            self.not_measured(name.replace(" ", "_"), name, "error: %s" % e)

    # -- preparation ------------------------------------------------------

    def prepare(self):
        for tool in (self.skbuild, self.skrun):
            if not os.access(tool, os.X_OK):
                raise BenchError("%s is missing (make all)" % tool)
        for tool in ("oras", "cosign", "docker-registry", "clang-16"):
            if not shutil.which(tool, path=self.env["PATH"]):
                raise BenchError("%s not found (make deps)" % tool)
        if not os.path.exists(self.btf):
            raise BenchError("no test kernel BTF at %s (make kernel)" % self.btf)
        self.scheds = sorted(d for d in os.listdir(os.path.join(ROOT, "scheds"))
                             if os.path.isfile(os.path.join(ROOT, "scheds", d, "schedkit.json")))
        self.sched = "fifo" if "fifo" in self.scheds else self.scheds[0]
        self.layout = os.path.join(self.tmp, self.sched + ".oci")
        self.run([self.skbuild, "build", "-q", os.path.join(ROOT, "scheds", self.sched),
                  "-o", self.layout, "-t", "bench", "--btf", self.btf])
        # The same blobs for oras push, named by their titles so the layer
        # annotations match ours.
        self.files = os.path.join(self.tmp, "files")
        os.makedirs(self.files)
        top = self.layout_json(json.load(open(os.path.join(self.layout, "index.json")))
                               ["manifests"][0]["digest"])
        man_digest = top["manifests"][0]["digest"] if "manifests" in top else None
        man = self.layout_json(man_digest) if man_digest else top
        shutil.copyfile(self.blob(man["config"]["digest"]), os.path.join(self.files, "config.json"))
        self.config = self.layout_json(man["config"]["digest"])
        self.oras_layers = []
        for layer in man["layers"]:
            title = layer.get("annotations", {}).get("org.opencontainers.image.title")
            shutil.copyfile(self.blob(layer["digest"]), os.path.join(self.files, title))
            self.oras_layers.append("%s:%s" % (title, layer["mediaType"]))
        self.reg = Registry(self.tmp)
        self.versions = {
            "oras": self.oras_version(),
            "cosign": self.cosign_version(),
            "docker-registry": self.run(["docker-registry", "--version"]).stdout.decode().strip(),
            "clang": self.run(["clang-16", "--version"]).stdout.decode().splitlines()[0],
        }
        push_help = self.run([self.skbuild, "push", "--help"], check=False)
        self.can_sign = b"--sign" in push_help.stdout + push_help.stderr
        pull_help = self.run([self.skrun, "pull", "--help"], check=False)
        self.pull_verifies = b"--insecure-skip-verify" in pull_help.stdout + pull_help.stderr
        self.oras_pull = ["oras", "pull", "--plain-http", "--no-tty", "--platform", "linux/amd64",
                          "--config", "config.json"]
        run_help = self.run([self.skrun, "--help"], check=False)
        self.can_verify = re.search(rb"^\s+verify\s", run_help.stdout + run_help.stderr,
                                    re.M) is not None
        if self.can_sign or self.can_verify:
            keys = os.path.join(self.tmp, "keys")
            os.makedirs(keys)
            self.run([self.skbuild, "key", "generate", "-o", os.path.join(keys, "ours")])
            self.run(["cosign", "generate-key-pair", "--output-key-prefix",
                      os.path.join(keys, "cosign")], cwd=keys)
            self.our_key = os.path.join(keys, "ours.key")
            self.our_pub = os.path.join(keys, "ours.pub")
            self.cosign_key = os.path.join(keys, "cosign.key")
            self.cosign_pub = os.path.join(keys, "cosign.pub")

    def oras_version(self):
        out = self.run(["oras", "version"]).stdout.decode()
        m = re.search(r"Version:\s*(\S+)", out)
        return "oras " + (m.group(1) if m else "?")

    def cosign_version(self):
        # Debian's build reports GitVersion "devel"; its Go version tells builds apart.
        out = self.run(["cosign", "version"]).stdout.decode()
        git = re.search(r"GitVersion:\s*(\S+)", out)
        go = re.search(r"GoVersion:\s*(\S+)", out)
        return "cosign %s (%s)" % (git.group(1) if git else "?", go.group(1) if go else "?")

    def blob(self, digest):
        return os.path.join(self.layout, "blobs", "sha256", digest.split(":")[1])

    def layout_json(self, digest):
        return json.load(open(self.blob(digest)))

    def oras_push_cmd(self, ref):
        return (["oras", "push", "--plain-http", "--no-tty", ref, "--artifact-type", MT_ARTIFACT,
                 "--config", "config.json:" + MT_CONFIG] + self.oras_layers)

    # -- registry benchmarks ------------------------------------------------

    def add_budget(self, rid, name, unit, ours, peer, kind, bound, ours_label="",
                   peer_label="", note=None):
        """add() with one of issue 10's targets: ("le", N) at most N (request budgets),
        ("ratio_min", X) ours/peer at least X (throughput)."""
        self.add(rid, name, unit, ours, peer, None, ours_label, peer_label, note)
        r = self.rows[-1]
        if kind == "le":
            r["target"] = "≤ %g" % bound
            r["met"] = r["ours"] is not None and r["ours"] <= bound
        elif kind == "ratio_min":
            r["target"] = "≥ %gx peer" % bound
            r["met"] = r["ratio"] is not None and r["ratio"] >= bound

    def bench_push(self):
        R = self.reg.host
        t = {"ours": [], "peer": []}
        n = {"ours": [], "peer": []}
        rt = {"ours": [], "peer": []}
        rn = {"ours": [], "peer": []}
        for i in range(self.iters):
            ms, req, _ = self.measure(self.oras_push_cmd("%s/bench/push-oras-%d:v1" % (R, i)),
                                      cwd=self.files)
            t["peer"].append(ms), n["peer"].append(req)
            ms, req, _ = self.measure([self.skbuild, "push", self.layout + ":bench",
                                       "%s/bench/push-ours-%d:v1" % (R, i)])
            t["ours"].append(ms), n["ours"].append(req)
        for i in range(self.iters):
            ms, req, _ = self.measure(self.oras_push_cmd("%s/bench/push-oras-%d:v1" % (R, i)),
                                      cwd=self.files)
            rt["peer"].append(ms), rn["peer"].append(req)
            ms, req, _ = self.measure([self.skbuild, "push", self.layout + ":bench",
                                       "%s/bench/push-ours-%d:v1" % (R, i)])
            rt["ours"].append(ms), rn["ours"].append(req)
        lab = ("skbuild push", "oras push")
        self.add("push_ms", "push, cold (%s artifact)" % self.sched, "ms", t["ours"], t["peer"],
                 ("ratio_max", 0.5), *lab)
        self.add_budget("push_requests", "push, cold: HTTP requests", "requests", n["ours"],
                        n["peer"], "le", 10, *lab)
        self.add("repush_ms", "re-push, unchanged", "ms", rt["ours"], rt["peer"],
                 ("ratio_max", 0.5), *lab)
        self.add_budget("repush_requests", "re-push, unchanged: HTTP requests", "requests",
                        rn["ours"], rn["peer"], "le", 2, *lab)

    def bench_push_sign(self):
        if not self.can_sign:
            for rid, name in (("push_sign_ms", "push + sign"),
                              ("push_sign_requests", "push + sign: HTTP requests")):
                self.not_measured(rid, name, "signing not available in this build "
                                  "(`skbuild push --help` has no --sign)",
                                  "≤ 0.5x peer" if rid.endswith("ms") else "< peer")
            return
        R = self.reg.host
        t = {"ours": [], "peer": []}
        n = {"ours": [], "peer": []}
        for i in range(self.iters):
            ref = "%s/bench/sign-oras-%d" % (R, i)
            ms1, req1, out = self.measure(self.oras_push_cmd(ref + ":v1"), cwd=self.files)
            m = re.search(r"Digest: (sha256:[0-9a-f]{64})", out)
            if not m:
                raise BenchError("oras push printed no digest: %s" % out)
            ms2, req2, _ = self.measure(["cosign", "sign", "--key", self.cosign_key,
                                         "--tlog-upload=false", "--yes", "--allow-http-registry",
                                         "--allow-insecure-registry",
                                         "%s@%s" % (ref, m.group(1))])
            t["peer"].append(ms1 + ms2), n["peer"].append(req1 + req2)
            ms, req, _ = self.measure([self.skbuild, "push", "--sign", self.our_key,
                                       self.layout + ":bench", "%s/bench/sign-ours-%d:v1" % (R, i)])
            t["ours"].append(ms), n["ours"].append(req)
        lab = ("skbuild push --sign", "oras push + cosign sign --key")
        self.add("push_sign_ms", "push + sign", "ms", t["ours"], t["peer"], ("ratio_max", 0.5),
                 *lab)
        self.add_budget("push_sign_requests", "push + sign: HTTP requests", "requests",
                        n["ours"], n["peer"], "le", 18, *lab)

    def bench_pull(self):
        R = self.reg.host
        ref = "%s/bench/pull:v1" % R
        out = self.run([self.skbuild, "push", self.layout + ":bench", ref]).stdout.decode()
        m = re.search(r"^(sha256:[0-9a-f]{64})$", out, re.M)
        if not m:
            raise BenchError("skbuild push printed no digest: %r" % out)
        digest = m.group(1)
        t = {"ours": [], "peer": []}
        n = {"ours": [], "peer": []}
        oras_pull = self.oras_pull
        # oras checks no signature, so for like-for-like ours skips it too where
        # this build verifies on pull (pull + verify is its own row).
        skip = ["--insecure-skip-verify"] if self.pull_verifies else []
        for i in range(self.iters):
            d = os.path.join(self.tmp, "oras-pull-%d" % i)
            os.makedirs(d)
            ms, req, _ = self.measure(oras_pull + [ref], cwd=d)
            t["peer"].append(ms), n["peer"].append(req)
            ms, req, _ = self.measure([self.skrun, "pull", ref, "--store",
                                       os.path.join(self.tmp, "store-%d" % i)] + skip)
            t["ours"].append(ms), n["ours"].append(req)
        lab = ("skrun pull" + (" --insecure-skip-verify" if skip else ""), "oras pull")
        self.add("pull_ms", "pull into an empty store", "ms", t["ours"], t["peer"],
                 ("ratio_max", 0.5), *lab)
        self.add_budget("pull_requests", "pull into an empty store: HTTP requests", "requests",
                        n["ours"], n["peer"], "le", 4, *lab)

        # Already stored: ours has it in the store; oras gets its own blob
        # cache (ORAS_CACHE), warmed by one pull, which is as close as it comes.
        pinned = "%s/bench/pull@%s" % (R, digest)
        cache_env = dict(self.env, ORAS_CACHE=os.path.join(self.tmp, "oras-cache"))
        warm = os.path.join(self.tmp, "oras-warm")
        os.makedirs(warm)
        self.run(oras_pull + [pinned], cwd=warm, env=cache_env)
        t = {"ours": [], "peer": []}
        n = {"ours": [], "peer": []}
        for i in range(self.iters):
            d = os.path.join(self.tmp, "oras-stored-%d" % i)
            os.makedirs(d)
            ms, req, _ = self.measure(oras_pull + [pinned], cwd=d, env=cache_env)
            t["peer"].append(ms), n["peer"].append(req)
            ms, req, _ = self.measure([self.skrun, "pull", pinned, "--store",
                                       os.path.join(self.tmp, "store-0")] + skip)
            t["ours"].append(ms), n["ours"].append(req)
        lab = ("skrun pull REF@digest" + (" --insecure-skip-verify" if skip else ""),
               "oras pull REF@digest (warm ORAS_CACHE)")
        self.add("pull_stored_requests", "pull of a digest already stored: HTTP requests",
                 "requests", n["ours"], n["peer"], ("equals", 0), *lab)
        self.add("pull_stored_ms", "pull of a digest already stored", "ms", t["ours"],
                 t["peer"], None, *lab)

    def bench_verify(self):
        if not (self.can_verify and self.can_sign):
            why = ("`skrun verify` not available in this build" if not self.can_verify
                   else "signing not available in this build, so there is nothing to verify")
            for rid, name, tgt in (("verify_ms", "verify", "≤ 0.5x peer"),
                                   ("verify_requests", "verify: HTTP requests", "< peer"),
                                   ("pull_verify_ms", "pull + verify", "≤ 0.5x peer"),
                                   ("pull_verify_requests", "pull + verify: HTTP requests",
                                    "< peer")):
                self.not_measured(rid, name, why, tgt)
            return
        # One artifact signed by skbuild; both verifiers check it with the same
        # public key (cosign reads PEM public keys), so both do the same work.
        R = self.reg.host
        ref = "%s/bench/verify" % R
        out = self.run([self.skbuild, "push", "--sign", self.our_key, self.layout + ":bench",
                        ref + ":v1"]).stdout.decode()
        m = re.search(r"^(sha256:[0-9a-f]{64})$", out, re.M)
        if not m:
            raise BenchError("skbuild push --sign printed no digest: %r" % out)
        pinned = "%s@%s" % (ref, m.group(1))
        cosign_verify = ["cosign", "verify", "--key", self.our_pub, "--insecure-ignore-tlog=true",
                         "--allow-http-registry", "--allow-insecure-registry", pinned]
        t = {"ours": [], "peer": []}
        n = {"ours": [], "peer": []}
        for _ in range(self.iters):
            ms, req, _ = self.measure(cosign_verify)
            t["peer"].append(ms), n["peer"].append(req)
            ms, req, _ = self.measure([self.skrun, "verify", pinned, "--key", self.our_pub])
            t["ours"].append(ms), n["ours"].append(req)
        lab = ("skrun verify --key", "cosign verify --key")
        self.add("verify_ms", "verify (registry)", "ms", t["ours"], t["peer"],
                 ("ratio_max", 0.5), *lab)
        self.add_budget("verify_requests", "verify (registry): HTTP requests", "requests",
                        n["ours"], n["peer"], "le", 2, *lab)

        # What a host does before running: fetch and check the signature.
        t = {"ours": [], "peer": []}
        n = {"ours": [], "peer": []}
        off_t, off_n = [], []
        for i in range(self.iters):
            d = os.path.join(self.tmp, "oras-pv-%d" % i)
            os.makedirs(d)
            ms1, req1, _ = self.measure(self.oras_pull + [ref + ":v1"], cwd=d)
            ms2, req2, _ = self.measure(cosign_verify)
            t["peer"].append(ms1 + ms2), n["peer"].append(req1 + req2)
            store = os.path.join(self.tmp, "store-pv-%d" % i)
            ms, req, _ = self.measure([self.skrun, "pull", ref + ":v1", "--key", self.our_pub,
                                       "--store", store])
            t["ours"].append(ms), n["ours"].append(req)
            ms, req, _ = self.measure([self.skrun, "verify", pinned, "--key", self.our_pub,
                                       "--store", store])
            off_t.append(ms), off_n.append(req)
        lab = ("skrun pull --key", "oras pull + cosign verify --key")
        self.add("pull_verify_ms", "pull + verify into an empty store", "ms", t["ours"],
                 t["peer"], ("ratio_max", 0.5), *lab)
        self.add_budget("pull_verify_requests", "pull + verify: HTTP requests", "requests",
                        n["ours"], n["peer"], "le", 6, *lab)
        self.add("verify_stored_requests", "verify from the store (offline): HTTP requests",
                 "requests", off_n, None, ("equals", 0), "skrun verify --store --key")
        self.add("verify_stored_ms", "verify from the store (offline)", "ms", off_t, None, None,
                 "skrun verify --store --key")

    def bench_big_layer(self):
        """Throughput: a 20 MiB layer, pulled whole by skrun (index, manifest, config,
        layer, into a new store, through the fetch helper) against curl fetching the
        layer's blob alone from the same registry into a file."""
        R = self.reg.host
        size = 20 << 20
        lay = os.path.join(self.tmp, "big.oci")
        out = self.run([sys.executable, os.path.join(ROOT, "tests", "registry", "mklayout.py"),
                        lay, "v1", "--platforms", "amd64", "--size", str(size), "--seed",
                        "bench-big"]).stdout.decode().strip()
        man = self.layout_json_at(lay, self.layout_json_at(lay, out)["manifests"][0]["digest"])
        layer = man["layers"][0]["digest"]
        ref = "%s/bench/big:v1" % R
        self.run([self.skbuild, "push", lay + ":v1", ref])
        skip = ["--insecure-skip-verify"] if self.pull_verifies else []
        url = "http://%s/v2/bench/big/blobs/%s" % (R, layer)
        t = {"ours": [], "peer": []}
        n = {"ours": [], "peer": []}
        for i in range(self.iters):
            f = os.path.join(self.tmp, "curl-big-%d" % i)
            ms, req, _ = self.measure(["curl", "-sSf", "-o", f, url])
            t["peer"].append(ms), n["peer"].append(req)
            os.unlink(f)
            st = os.path.join(self.tmp, "store-big-%d" % i)
            ms, req, _ = self.measure([self.skrun, "pull", ref, "--store", st] + skip)
            t["ours"].append(ms), n["ours"].append(req)
            shutil.rmtree(st, ignore_errors=True)
        mib = size / (1 << 20)
        lab = ("skrun pull" + (" --insecure-skip-verify" if skip else ""),
               "curl -o FILE (the layer's blob only)")
        self.add_budget("big_layer_mibps", "pull of a 20 MiB layer: throughput", "MiB/s",
                        [mib / (x / 1000) for x in t["ours"]], [mib / (x / 1000) for x in t["peer"]],
                        "ratio_min", 0.9, *lab,
                        note="ours is the whole pull (index, manifest, config, layer, store "
                        "writes and fsync, the fetch helper), curl one GET")
        self.add("big_layer_ms", "pull of a 20 MiB layer", "ms", t["ours"], t["peer"], None, *lab)
        self.add("big_layer_requests", "pull of a 20 MiB layer: HTTP requests", "requests",
                 n["ours"], n["peer"], None, *lab)

    def bench_concurrent_pulls(self):
        """20 pulls of one artifact at the same time, each into its own store (ours) or
        directory (oras): wall time until the last is done, and requests in all."""
        R = self.reg.host
        ref = "%s/bench/conc:v1" % R
        self.run([self.skbuild, "push", self.layout + ":bench", ref])
        skip = ["--insecure-skip-verify"] if self.pull_verifies else []
        N = 20

        def wave(cmds, cwds):
            before = self.reg.settled_count()
            t0 = time.perf_counter()
            procs = [subprocess.Popen(c, cwd=d, env=self.env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE) for c, d in zip(cmds, cwds)]
            errs = [(p.wait(), p.stderr.read()) for p in procs]
            ms = (time.perf_counter() - t0) * 1000
            for p in procs:
                p.stderr.close()
            bad = [e for rc, e in errs if rc]
            if bad:
                raise BenchError("%d of %d concurrent pulls failed: %s"
                                 % (len(bad), N, bad[0].decode(errors="replace")[-500:]))
            return ms, self.reg.settled_count() - before

        t = {"ours": [], "peer": []}
        n = {"ours": [], "peer": []}
        for i in range(min(self.iters, 5)):
            dirs = [os.path.join(self.tmp, "conc-oras-%d-%d" % (i, k)) for k in range(N)]
            for d in dirs:
                os.makedirs(d)
            ms, req = wave([self.oras_pull + [ref]] * N, dirs)
            t["peer"].append(ms), n["peer"].append(req)
            stores = [os.path.join(self.tmp, "conc-store-%d-%d" % (i, k)) for k in range(N)]
            ms, req = wave([[self.skrun, "pull", ref, "--store", s] + skip for s in stores],
                           [None] * N)
            t["ours"].append(ms), n["ours"].append(req)
        lab = ("20 x skrun pull" + (" --insecure-skip-verify" if skip else ""), "20 x oras pull")
        self.add("conc_pull_ms", "20 concurrent pulls of one artifact into 20 stores: wall time",
                 "ms", t["ours"], t["peer"], None, *lab)
        self.add("conc_pull_requests", "20 concurrent pulls: HTTP requests in all", "requests",
                 n["ours"], n["peer"], None, *lab)

    def layout_json_at(self, lay, digest):
        return json.load(open(os.path.join(lay, "blobs", "sha256", digest.split(":")[1])))

    # -- build ---------------------------------------------------------------

    def sched_main(self, d):
        m = json.load(open(os.path.join(d, "schedkit.json")))
        if m.get("main"):
            return m["main"]
        srcs = [s for s in m.get("sources", []) if s.endswith(".bpf.c")]
        if len(srcs) != 1:
            raise BenchError("%s: cannot tell the main source" % d)
        return srcs[0]

    def bench_build(self):
        cache = os.path.join(self.env["SCHEDKIT_CACHE"], "vmlinux")
        vmdirs = [os.path.join(cache, x) for x in os.listdir(cache)]
        if len(vmdirs) != 1:
            raise BenchError("expected one vmlinux.h in %s, found %d" % (cache, len(vmdirs)))
        # The flags skbuild compiles with (recorded in every artifact's config),
        # so both compile the same thing; only the include paths are ours.
        cflags = self.config["build"]["cflags"]
        out = os.path.join(self.tmp, "bare.o")
        for s in self.scheds:
            d = os.path.join(ROOT, "scheds", s)
            clang = (["clang-16"] + cflags + ["-I", vmdirs[0], "-I", os.path.join(ROOT, "bpf"),
                                               "-I", d, "-c", os.path.join(d, self.sched_main(d)),
                                               "-o", out])
            t = {"ours": [], "peer": []}
            for i in range(self.iters):
                ms, _, _ = self.measure(clang)
                t["peer"].append(ms)
                ms, _, _ = self.measure([self.skbuild, "build", "-q", d, "-o",
                                         os.path.join(self.tmp, "build-%s-%d.oci" % (s, i)),
                                         "-t", "bench", "--btf", self.btf])
                t["ours"].append(ms)
            self.add("build_ms_" + s, "build scheds/%s (vmlinux.h cached)" % s, "ms",
                     t["ours"], t["peer"], ("ratio_max", 1.3), "skbuild build",
                     "clang-16 -c, skbuild's flags")
        self.bare_clang = "clang-16 %s -I VMLINUX_H_DIR -I bpf -I SCHED_DIR -c" % " ".join(cflags)

    # -- VM ------------------------------------------------------------------

    def bench_vm(self):
        if self.args.skip_vm:
            self.not_measured("attach_ms", "attach (VM)", "skipped (--skip-vm)", "≤ 1.2x peer")
            return
        out = os.path.join(self.tmp, "vm.txt")
        env = dict(self.env, SKBUILD=self.skbuild, SKRUN=self.skrun, SK_ROOT=ROOT)
        p = subprocess.run(["sh", os.path.join(ROOT, "bench", "vm_attach.sh"), out,
                            str(self.iters)] + self.scheds, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise BenchError("VM attach run failed:\n" + p.stdout.decode(errors="replace")[-3000:])
        runs = {}
        for line in open(out):
            f = line.split()
            if len(f) < 4:
                continue
            kv = dict(x.split("=", 1) for x in f[3:] if "=" in x)
            try:
                runs.setdefault((f[0], f[1]), []).append({k: int(v) for k, v in kv.items()})
            except ValueError:
                continue  # a line garbled by kernel messages on the console
        for s in self.scheds:
            b = runs.get((s, "bare"), [])
            o = runs.get((s, "skrun"), [])
            if len(b) < self.iters or len(o) < self.iters:
                raise BenchError("VM: %s: %d bare and %d skrun measurements, want %d each"
                                 % (s, len(b), len(o), self.iters))
            lab = ("skrun run", "bare_loader (libbpf)")
            self.add("attach_ms_" + s, "attach scheds/%s: start to state=enabled (VM)" % s, "ms",
                     [r["attach_us"] / 1000 for r in o], [r["attach_us"] / 1000 for r in b],
                     ("ratio_max", 1.2), *lab)
            cold = runs.get((s, "skrun-cold"), [])
            warm = runs.get((s, "bare-warmup"), [])
            if cold and warm:
                self.add("attach_first_ms_" + s,
                         "attach scheds/%s, first run (empty store; VM)" % s, "ms",
                         [r["attach_us"] / 1000 for r in cold],
                         [r["attach_us"] / 1000 for r in warm], None, *lab,
                         note="one run each, not a median; skrun also copies the layout "
                         "into its store")
        s = self.scheds[0]
        o = runs[(s, "skrun")]
        b = runs[(s, "bare")]
        lab = ("skrun run", "bare_loader (libbpf)")
        self.add("rss_peak_kb", "peak RSS (VmHWM) while attached, scheds/%s (VM)" % s, "kB",
                 [r["settled_hwm_kb"] for r in o], [r["settled_hwm_kb"] for r in b],
                 ("ratio_max", 1.3), *lab)
        self.add("rss_steady_kb", "steady RSS (VmRSS) 300 ms after attach, scheds/%s (VM)" % s,
                 "kB", [r["settled_rss_kb"] for r in o], [r["settled_rss_kb"] for r in b],
                 ("at_most", 4096, "≤ 4096 kB (4 MiB)"), *lab)

    def bench_size(self):
        stripped = os.path.join(self.tmp, "skrun.stripped")
        self.run(["strip", "-o", stripped, self.skrun])
        # Every line of ldd is one object mapped at start: vdso and the loader included.
        ldd = [l.split()[0] for l in self.run(["ldd", self.skrun]).stdout.decode().splitlines()
               if l.strip()]
        self.add("skrun_shared_objects", "skrun: shared objects in `ldd` (vdso and loader "
                 "included)", "objects", [len(ldd)], None, ("at_most", 8, "≤ 8"), "skrun",
                 note=", ".join(ldd))
        self.add("skrun_size_bytes", "skrun binary size", "bytes",
                 [os.path.getsize(self.skrun)], None, None, "skrun")
        self.add("skrun_size_stripped_bytes", "skrun binary size, stripped", "bytes",
                 [os.path.getsize(stripped)], None, None, "skrun")

    def bench_helper_rss(self):
        """Peak RSS of the fetch helper during `skrun pull` from the registry. The helper
        is not part of the resident footprint; this only reports it."""
        helper = os.path.join(os.path.dirname(self.skrun), "skrun-fetch")
        name = "fetch helper (skrun-fetch) peak RSS (VmHWM) during `skrun pull` of scheds/%s" \
            % self.sched
        if not os.access(helper, os.X_OK):
            self.not_measured("helper_rss_kb", name, "no %s next to skrun" % helper)
            return
        # skrun starts the helper as an unprivileged user: the wrapper and the
        # helper it executes by path must be reachable by that user, wherever
        # the checkout is (a clone under a 0700 directory is not)
        reach = tempfile.mkdtemp(prefix="skbench-helper-")
        os.chmod(reach, 0o755)
        real = os.path.join(reach, "skrun-fetch")
        shutil.copy2(helper, real)
        os.chmod(real, 0o755)
        wrap = os.path.join(reach, "helper_rss")
        self.run(["gcc", "-std=c17", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", "-O2",
                  '-DREAL_HELPER="%s"' % real,
                  os.path.join(ROOT, "bench", "helper_rss.c"), "-o", wrap])
        ref = "%s/bench/helper-rss:v1" % self.reg.host
        self.run([self.skbuild, "push", self.layout + ":bench", ref])
        skip = ["--insecure-skip-verify"] if self.pull_verifies else []
        env = dict(self.env, SKRUN_FETCH_HELPER=wrap)
        peaks = []
        try:
            for i in range(min(self.iters, 5)):
                p = self.run([self.skrun, "pull", ref, "--store",
                              os.path.join(self.tmp, "helper-store-%d" % i)] + skip, env=env)
                m = re.findall(r"helper_rss: peak_kb=(\d+) exit=0",
                               p.stderr.decode(errors="replace"))
                if not m:
                    raise BenchError("the fetch helper reported no peak RSS: %s"
                                     % p.stderr.decode(errors="replace")[-500:])
                peaks.append(max(int(x) for x in m))
        finally:
            shutil.rmtree(reach, ignore_errors=True)
        self.add("helper_rss_kb", name, "kB", peaks, None, None,
                 "skrun-fetch" + (" (skrun pull --insecure-skip-verify)" if skip else ""),
                 note="reported only: the helper runs during a pull, not while a scheduler "
                 "runs")

    # -- output --------------------------------------------------------------

    def git_rev(self):
        p = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        return p.stdout.decode().strip() or "unknown"

    def write(self):
        os.makedirs(self.args.out, exist_ok=True)
        doc = {
            "schema": "schedkit-bench/1",
            "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": self.git_rev(),
            "iterations": self.iters,
            "statistic": "median",
            "order": "alternating: peer, ours, peer, ours...",
            "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                        "machine": platform.machine(),
                        "loadavg_1m_start": round(self.load_start[0], 2),
                        "loadavg_1m_end": round(os.getloadavg()[0], 2)},
            "scheduler": getattr(self, "sched", None),
            "registry": "docker-registry on 127.0.0.1 (plain HTTP)",
            "versions": getattr(self, "versions", {}),
            "bare_clang": getattr(self, "bare_clang", None),
            "signing_available": getattr(self, "can_sign", False),
            "verify_available": getattr(self, "can_verify", False),
            "rows": self.rows,
            "errors": self.errors,
        }
        tmp = os.path.join(self.args.out, ".results.json.tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.replace(tmp, os.path.join(self.args.out, "results.json"))
        tmp = os.path.join(self.args.out, ".results.md.tmp")
        with open(tmp, "w") as f:
            f.write(render_md(doc, load_misses()))
        os.replace(tmp, os.path.join(self.args.out, "results.md"))

    def cleanup(self):
        if self.reg:
            self.reg.stop()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            log("kept " + self.tmp)


def load_misses():
    """bench/misses.json: for each row id, why it misses its target and what
    would close it (written from the profiling notes; printed only on a miss)."""
    try:
        return json.load(open(os.path.join(ROOT, "bench", "misses.json")))
    except (OSError, ValueError):
        return {}


def fmt(v, unit):
    if v is None:
        return "—"
    if unit in ("requests", "kB", "bytes", "objects"):
        return "%d" % round(v)
    return "%.1f" % v


def render_md(doc, misses):
    out = ["# schedkit benchmark results", ""]
    v = doc["versions"]
    out.append("Generated by `make bench` on %s at commit `%s`: %d CPUs, Linux %s, "
               "1-minute load average %.2f at the start and %.2f at the end (other work on "
               "the machine slows both sides, and it skews ratios of short commands). "
               "Each figure is the **median of %d runs**, peer and ours alternating "
               "(peer, ours, peer, ours…) in the same run against one docker-registry on "
               "127.0.0.1; ratio = ours / peer. Request counts come from the registry's "
               "access log; every cold push goes to a fresh repository."
               % (doc["generated"], doc["commit"], doc["machine"]["cpus"],
                  doc["machine"]["kernel"], doc["machine"]["loadavg_1m_start"],
                  doc["machine"]["loadavg_1m_end"], doc["iterations"]))
    out.append("")
    out.append("Peers: %s." % ", ".join("%s (%s)" % (k, x) for k, x in sorted(v.items())))
    out.append("Artifact: the shipped `scheds/%s` as `skbuild build` writes it (index → "
               "amd64 manifest → config, bpf object, source tarball); oras pushes the same "
               "three blobs with the same media types as one manifest." % doc["scheduler"])
    out.append("")
    out.append("Method: wall time of each command from the benchmark driver (bench/bench.py), "
               "process start included for both sides. Cold pushes go to a fresh repository; "
               "re-pushes repeat the same push. \"Pull\" rows pull what `skbuild push` pushed; "
               "oras pulls it with `--platform linux/amd64 --config` (same blobs, no signature "
               "check, so ours runs with `--insecure-skip-verify` there and signature checking "
               "has its own rows). For an already stored digest, oras gets a warm `ORAS_CACHE`. "
               "Verify rows check one skbuild-signed artifact with the same public key in both "
               "tools. Build rows: `skbuild build` into a fresh layout with its vmlinux.h cache "
               "warm, against `%s` of the same source. Attach rows run in one boot of the "
               "sched_ext test kernel (qemu, single-threaded TCG with `-icount shift=0,sleep=off`: "
               "the guest's clock counts executed instructions, 1 ns each, so an attach time "
               "is the work done in the guest, user and kernel, from the loader's start to "
               "`enabled`, whatever else the host is running; bench/vm_attach.sh with "
               "SKVM_ICOUNT= measures wall time instead): "
               "bench/attach_timer starts the loader and polls /sys/kernel/sched_ext/state every "
               "0.5 ms on CLOCK_MONOTONIC until it reads `enabled`, reads the loader's "
               "VmHWM/VmRSS 300 ms later, then stops it with SIGTERM. The store is warm; the "
               "first run is reported separately. The peer is bench/bare_loader.c (open, "
               "load, attach the first struct_ops map) on the very object skrun runs."
               % (doc.get("bare_clang") or "bare clang-16"))
    out.append("")
    out.append("| Row | Ours | Peer | Ratio | Target | Met? |")
    out.append("|---|---|---|---|---|---|")
    for r in doc["rows"]:
        unit = r["unit"]
        name = r["name"] + (" (%s)" % unit if unit else "")
        if r["samples"] is None:
            out.append("| %s | — | — | — | %s | %s |" % (r["name"], r["target"], r["note"]))
            continue
        ours = fmt(r["ours"], unit)
        peer = fmt(r["peer"], unit)
        if r.get("ours_tool"):
            ours += " <br>`%s`" % r["ours_tool"]
        if r["peer"] is not None and r.get("peer_tool"):
            peer += " <br>`%s`" % r["peer_tool"]
        ratio = "%.2fx" % r["ratio"] if r["ratio"] is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[r["met"]]
        if r.get("note"):
            name += " — " + r["note"]
        out.append("| %s | %s | %s | %s | %s | %s |" % (name, ours, peer, ratio, r["target"], met))
    missed = [r for r in doc["rows"] if r["met"] is False]
    out.append("")
    out.append("## Missed targets: why, and what would close them")
    out.append("")
    if not missed:
        out.append("None.")
    seen = set()
    for r in missed:
        key = next((k for k in misses if r["id"] == k or r["id"].startswith(k + "_")), None)
        out.append("- **%s** (ours %s vs peer %s, target %s): %s" % (
            r["name"], fmt(r["ours"], r["unit"]), fmt(r["peer"], r["unit"]), r["target"],
            "see above" if key in seen else
            (misses[key] if key else "no analysis recorded for this miss yet (bench/misses.json)")))
        if key:
            seen.add(key)
    if doc["errors"]:
        out.append("")
        out.append("## Errors")
        out.append("")
        for e in doc["errors"]:
            out.append("- " + e.replace("\n", " "))
    out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--skip-vm", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite OUT/results.md from OUT/results.json and bench/misses.json")
    args = ap.parse_args()
    if args.render:
        doc = json.load(open(os.path.join(args.out, "results.json")))
        tmp = os.path.join(args.out, ".results.md.tmp")
        with open(tmp, "w") as f:
            f.write(render_md(doc, load_misses()))
        os.replace(tmp, os.path.join(args.out, "results.md"))
        return 0
    if args.iterations < 1:
        ap.error("--iterations must be at least 1")
    b = Bench(args)
    try:
        try:
            b.prepare()
        except BenchError as e:
            b.errors.append("setup: %s" % e)
            log("setup failed: %s" % e)
        else:
            b.section("push", b.bench_push)
            b.section("push_sign", b.bench_push_sign)
            b.section("pull", b.bench_pull)
            b.section("verify", b.bench_verify)
            b.section("big layer", b.bench_big_layer)
            b.section("concurrent pulls", b.bench_concurrent_pulls)
            b.section("build", b.bench_build)
            b.section("attach", b.bench_vm)
            b.section("size", b.bench_size)
            b.section("fetch helper", b.bench_helper_rss)
        b.write()
    finally:
        b.cleanup()
    print(open(os.path.join(args.out, "results.md")).read())
    return 1 if b.errors else 0


if __name__ == "__main__":
    sys.exit(main())
