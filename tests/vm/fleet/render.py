#!/usr/bin/env python3
"""The fleet test's view of the rendered manifests (kubectl kustomize OVERLAY).

  render.py daemonset RENDERED.yaml OUTDIR
      From the agent DaemonSet (component "agent"): OUTDIR/cmd and
      OUTDIR/probe (the container command and the readinessProbe's exec
      command, one argument a line), OUTDIR/env (NAME=VALUE lines), and
      OUTDIR/mounts (POOL_DIR=..., TRUST_DIR=...: where the pool's and the
      trust ConfigMaps are projected), OUTDIR/skrun.json (the pool
      ConfigMap's skrun.json) and OUTDIR/pool.env (the ConfigMap's plain keys).
  render.py desired TEMPLATE REPO VERSION WINDOW OUT
      The pool's skrun.json for one step of the rollout: every reference
      registry.example.com/scheds/NAME:TAG becomes REPO/NAME:TAG, the
      pool's scheduler's tag becomes VERSION and the health window
      ("health": {"windowS"}) WINDOW seconds. Written atomically (the host
      side of the share is the API server: a guest never reads half a file).

Exits non-zero with the reason when the manifests do not have what the test
runs (no agent DaemonSet, no probe, no projected skrun.json).
"""
import json
import os
import sys

import yaml

ORIGIN = "registry.example.com/scheds/"


def die(msg):
    print(f"render.py: {msg}", file=sys.stderr)
    sys.exit(1)


def daemonset(rendered, outdir):
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    maps = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ConfigMap"}
    agents = [
        d
        for d in docs
        if d.get("kind") == "DaemonSet"
        and d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == "agent"
    ]
    if len(agents) != 1:
        die(f"{rendered}: want one agent DaemonSet, found {len(agents)}")
    pod = agents[0]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    cmd = c.get("command", []) + c.get("args", [])
    probe = c.get("readinessProbe", {}).get("exec", {}).get("command")
    if not cmd or not probe:
        die(f"{rendered}: the agent container has no command or no exec readinessProbe")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {}
    pool = None
    for m in c.get("volumeMounts", []):
        cm = vols.get(m["name"], {}).get("configMap", {}).get("name", "")
        if cm.startswith("skrun-pool"):
            mounts["POOL_DIR"] = m["mountPath"]
            pool = maps.get(cm)
        elif cm.startswith("skrun-trust"):
            mounts["TRUST_DIR"] = m["mountPath"]
    if pool is None or "skrun.json" not in pool.get("data", {}) or "TRUST_DIR" not in mounts:
        die(f"{rendered}: the agent does not mount the pool's skrun.json and the trust ConfigMap")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "cmd"), "w") as f:
        f.write("".join(a + "\n" for a in cmd))
    with open(os.path.join(outdir, "probe"), "w") as f:
        f.write("".join(a + "\n" for a in probe))
    with open(os.path.join(outdir, "env"), "w") as f:
        for e in c.get("env", []):
            if "value" in e:
                f.write(f"{e['name']}={e['value']}\n")
    with open(os.path.join(outdir, "mounts"), "w") as f:
        for k, v in sorted(mounts.items()):
            f.write(f"{k}={v}\n")
    with open(os.path.join(outdir, "skrun.json"), "w") as f:
        f.write(pool["data"]["skrun.json"])
    with open(os.path.join(outdir, "pool.env"), "w") as f:
        for k, v in sorted(pool["data"].items()):
            if k != "skrun.json":
                f.write(f"{k}={v}\n")


def desired(template, repo, version, window, out):
    conf = json.load(open(template))
    if "windowS" not in conf.get("health", {}):
        die(f"{template}: no health window (\"health\": {{\"windowS\": N}}) to shorten")
    conf["health"]["windowS"] = int(window)
    name = conf["scheduler"]
    for sname, s in conf["schedulers"].items():
        ref = s["ref"]
        if not ref.startswith(ORIGIN):
            die(f"{template}: schedulers.{sname}.ref {ref} is not under {ORIGIN}")
        ref = repo + "/" + ref[len(ORIGIN):]
        if sname == name:
            ref = ref.rsplit(":", 1)[0] + ":" + version
        s["ref"] = ref
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(conf, f, indent=2)
        f.write("\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "daemonset":
        daemonset(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 7 and sys.argv[1] == "desired":
        desired(*sys.argv[2:])
    else:
        die("usage: render.py daemonset RENDERED OUTDIR | desired TEMPLATE REPO VERSION WINDOW OUT")
