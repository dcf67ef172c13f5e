#!/bin/sh
# deploy/kubernetes: every overlay renders offline with `kubectl kustomize`
# (no cluster here), and the result is checked structurally: kinds,
# selectors matching the pod labels, the pools kept apart, ConfigMap
# references resolving to the generated (hash-named) ConfigMaps, a change of
# the pool's scheduler changing the pod template (what starts the
# RollingUpdate), the readiness probe being `skrun status`, the command
# reading the mounted configuration, the capability list and host mounts,
# and node selection by the labels `skrun check --nfd` really writes.
. "$(dirname "$0")/../lib.sh"

K=$SK_ROOT/deploy/kubernetes
if ! command -v kubectl >/dev/null 2>&1; then
	fail "kustomize: kubectl" "not installed: the builder image ships it (docs/fleet.md); nothing can be rendered"
	exit 0
fi
SID_BTF=$SK_KERNEL/vmlinux

for o in base overlays/canary overlays/production; do
	d=$K/$o
	if kubectl kustomize "$d" >"$T/$(basename "$o").yaml" 2>"$T/err"; then
		pass "kustomize: $o renders offline"
	else
		fail "kustomize: $o renders offline" "$(cat "$T/err")"
	fi
done

# A change of the pool's scheduler: a copy of the tree with canary's reference moved on.
cp -r "$K" "$T/k"
sed -i 's/vtime:1.1.0/vtime:1.2.0/' "$T/k/overlays/canary/kustomization.yaml" "$T/k/overlays/canary/skrun.json"
check "kustomize: canary with a new version renders" sh -c "kubectl kustomize '$T/k/overlays/canary' >'$T/canary2.yaml'"

# The labels the manifests select on must be ones skrun check --nfd writes.
if [ -r "$SID_BTF" ] && "$SKBUILD" build "$SK_ROOT/scheds/fifo" -o "$T/fifo" -t t1 --btf "$SID_BTF" -q >"$T/build.log" 2>&1 &&
	"$SKRUN" check --nfd "$T/fifo:t1" --nfd-name vtime --btf "$SID_BTF" --nfd-file "$T/nfd" >"$T/nfd.log" 2>&1; then
	pass "kustomize: an NFD feature file from skrun check --nfd"
else
	fail "kustomize: an NFD feature file from skrun check --nfd" "$(cat "$T/build.log" "$T/nfd.log" 2>/dev/null | tail -n 5)"
fi

cat >"$T/check.py" <<'EOF'
import json, sys, yaml

T = sys.argv[1]
fails = 0
def check(name, ok, why=""):
    global fails
    print(("PASS: kustomize: %s" % name) if ok else ("FAIL: kustomize: %s: %s" % (name, why)))
    fails += 0 if ok else 1

def load(name):
    return [d for d in yaml.safe_load_all(open("%s/%s.yaml" % (T, name))) if d]

def by(docs, kind):
    return [d for d in docs if d["kind"] == kind]

def ds(docs, comp):
    return [d for d in by(docs, "DaemonSet")
            if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == comp][0]

nfd = {}
try:
    for line in open(T + "/nfd"):
        if not line.startswith("#") and "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            nfd[k] = v
except OSError:
    pass
NS = "schedkit.feature.node.kubernetes.io/"
WANT_CAPS = {"BPF", "PERFMON", "SETUID", "SETGID", "CHOWN"}

rendered = {}
for pool in ("base", "canary", "production"):
    docs = load(pool)
    rendered[pool] = docs
    kinds = sorted(d["kind"] for d in docs)
    check("%s: kinds" % pool, kinds == ["ConfigMap", "ConfigMap", "DaemonSet", "DaemonSet", "ServiceAccount"], kinds)
    check("%s: everything in schedkit-system" % pool,
          all(d["metadata"].get("namespace") == "schedkit-system" for d in docs))
    cms = {d["metadata"]["name"]: d for d in by(docs, "ConfigMap")}
    sa = by(docs, "ServiceAccount")[0]
    check("%s: no API token mounted" % pool, sa.get("automountServiceAccountToken") is False)
    pool_cm = [c for n, c in cms.items() if n.startswith("skrun-pool")][0]
    conf = json.loads(pool_cm["data"]["skrun.json"])
    sched = conf["schedulers"][conf["scheduler"]]
    check("%s: the ref and scheduler keys agree with skrun.json" % pool,
          pool_cm["data"]["ref"] == sched["ref"] and pool_cm["data"]["scheduler"] == conf["scheduler"],
          (pool_cm["data"], conf["scheduler"], sched["ref"]))
    for d in by(docs, "DaemonSet"):
        n = d["metadata"]["name"]
        spec, pod = d["spec"], d["spec"]["template"]["spec"]
        sel = spec["selector"]["matchLabels"]
        labels = spec["template"]["metadata"]["labels"]
        check("%s/%s: selector matches the pod labels" % (pool, n),
              all(labels.get(k) == v for k, v in sel.items()), (sel, labels))
        if pool != "base":
            check("%s/%s: the pool in the selector" % (pool, n), sel.get("schedkit.io/pool") == pool, sel)
            check("%s/%s: runs on the pool's nodes only" % (pool, n),
                  pod["nodeSelector"].get("schedkit.io/pool") == pool, pod["nodeSelector"])
        check("%s/%s: RollingUpdate" % (pool, n), spec["updateStrategy"]["type"] == "RollingUpdate")
        check("%s/%s: no hostPID, hostNetwork, hostIPC" % (pool, n),
              not pod.get("hostPID") and not pod.get("hostNetwork") and not pod.get("hostIPC"))
        check("%s/%s: no token" % (pool, n), pod.get("automountServiceAccountToken") is False)
        c = pod["containers"][0]
        sc = c["securityContext"]
        check("%s/%s: unprivileged, no escalation, read-only root" % (pool, n),
              sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False
              and sc.get("readOnlyRootFilesystem") is True, sc)
        check("%s/%s: drops ALL capabilities" % (pool, n), sc["capabilities"]["drop"] == ["ALL"])
        refs = [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
        refs += [e["valueFrom"]["configMapKeyRef"]["name"] for e in c.get("env", []) if "valueFrom" in e]
        check("%s/%s: ConfigMap references resolve" % (pool, n), refs and all(r in cms for r in refs), (refs, list(cms)))
        check("%s/%s: image set by the overlay" % (pool, n),
              c["image"] == "registry.example.com/schedkit/skrun:0.1.0", c["image"])
    agent, feat = ds(docs, "agent"), ds(docs, "features")
    pod = agent["spec"]["template"]["spec"]
    c = pod["containers"][0]
    caps = set(c["securityContext"]["capabilities"]["add"])
    check("%s: agent capabilities exactly %s" % (pool, sorted(WANT_CAPS)), caps == WANT_CAPS, sorted(caps))
    check("%s: readinessProbe is skrun status's exit code" % (pool),
          c["readinessProbe"]["exec"]["command"] == ["skrun", "status"], c.get("readinessProbe"))
    check("%s: no livenessProbe (a degraded agent keeps its fallback)" % pool, "livenessProbe" not in c)
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    cmd = c["command"]
    cfg = cmd[cmd.index("--config") + 1]
    check("%s: skrun run --pull missing from the mounted skrun.json" % pool,
          cmd[:2] == ["skrun", "run"] and cmd[cmd.index("--pull") + 1] == "missing"
          and cfg == mounts["pool"]["mountPath"] + "/skrun.json"
          and vols["pool"]["configMap"]["name"].startswith("skrun-pool"), cmd)
    check("%s: the node agent: --follow the mounted skrun.json (no REF), a health window there" % pool,
          "--follow" in cmd and not [x for x in cmd[2:] if not x.startswith("-") and cmd[cmd.index(x) - 1] not in ("--config", "--policy", "--pull")]
          and isinstance(conf.get("health", {}).get("windowS"), int) and conf["health"]["windowS"] >= 1,
          (cmd, conf.get("health")))
    pol = cmd[cmd.index("--policy") + 1]
    check("%s: the trust policy from its ConfigMap" % pool,
          pol == mounts["trust"]["mountPath"] + "/policy.json" and vols["trust"]["configMap"]["name"].startswith("skrun-trust"), pol)
    host = {vols[m]["hostPath"]["path"]: mounts[m] for m in mounts if "hostPath" in vols[m]}
    check("%s: agent host mounts: /sys/kernel (read-only), /run/schedkit, the store, the metrics directory" % pool,
          sorted(host) == ["/run/schedkit", "/sys/kernel", "/var/lib/node-exporter", "/var/lib/schedkit"]
          and host["/sys/kernel"].get("readOnly") is True and "/sys/fs/bpf" not in host, sorted(host))
    check("%s: metrics written where the metrics volume is" % pool,
          conf.get("metrics", "").startswith(mounts["metrics"]["mountPath"] + "/") and conf["metrics"].endswith(".prom"),
          conf.get("metrics"))
    check("%s: maxSurge 0 (one supervisor per node)" % pool,
          agent["spec"]["updateStrategy"]["rollingUpdate"].get("maxSurge") == 0)
    check("%s: minReadySeconds holds the rollout until a pod stays ready" % pool,
          agent["spec"].get("minReadySeconds", 0) >= 30)
    sel = pod["nodeSelector"]
    check("%s: agent only where NFD says sched_ext" % pool, sel.get(NS + "sched_ext") == "true", sel)
    fsel = feat["spec"]["template"]["spec"]["nodeSelector"]
    check("%s: the labeller does not wait for the labels it writes" % pool,
          not [k for k in fsel if k.startswith(NS)], fsel)
    fc = feat["spec"]["template"]["spec"]["containers"][0]
    check("%s: the labeller runs skrun check --nfd, without BPF capabilities" % pool,
          "skrun check --nfd" in " ".join(fc["command"])
          and not set(fc["securityContext"]["capabilities"].get("add", [])) & {"BPF", "PERFMON", "SYS_ADMIN"})
    if pool != "base":
        want = NS + "can-run." + pool_cm["data"]["scheduler"]
        check("%s: agent only where the pool's scheduler can run (%s)" % (pool, want), sel.get(want) == "true", sel)
        used = [k for k in sel if k.startswith(NS)]
        check("%s: every NFD label selected on is one skrun check --nfd writes" % pool,
              nfd and all(k in nfd for k in used), (used, len(nfd)))

ru = lambda pool: ds(rendered[pool], "agent")["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"]
check("canary rolls one node at a time, production 10%", ru("canary") == 1 and ru("production") == "10%",
      (ru("canary"), ru("production")))
sels = [ds(rendered[p], "agent")["spec"]["selector"]["matchLabels"] for p in ("canary", "production")]
check("the pools' DaemonSets select disjoint pods", sels[0] != sels[1] and
      sels[0].get("schedkit.io/pool") != sels[1].get("schedkit.io/pool"))
names = lambda pool: {d["metadata"]["name"] for d in rendered[pool]}
check("the pools' objects have distinct names", not names("canary") & names("production"),
      names("canary") & names("production"))

# a new scheduler version: new ConfigMap name, new pod template (the rollout), same selector
new = load("canary2")
a0, a1 = ds(rendered["canary"], "agent"), ds(new, "agent")
v0 = [v["configMap"]["name"] for v in a0["spec"]["template"]["spec"]["volumes"] if v["name"] == "pool"][0]
v1 = [v["configMap"]["name"] for v in a1["spec"]["template"]["spec"]["volumes"] if v["name"] == "pool"][0]
check("a new version renames the pool ConfigMap, so the pod template changes", v0 != v1 and
      a0["spec"]["template"] != a1["spec"]["template"], (v0, v1))
check("...with the same selector (the same DaemonSet rolls)", a0["spec"]["selector"] == a1["spec"]["selector"])
t0 = ds(rendered["canary"], "agent")["spec"]["template"]
check("...and the trust ConfigMap untouched", [v for v in a0["spec"]["template"]["spec"]["volumes"] if v["name"] == "trust"] ==
      [v for v in a1["spec"]["template"]["spec"]["volumes"] if v["name"] == "trust"])
sys.exit(3 if fails else 0)
EOF
python3 "$T/check.py" "$T"
rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || fail "kustomize: structural checks" "the checker stopped (exit $rc)"
