#!/bin/sh
# The fleet in VMs (issue 11, part 5): two nodes, "canary" and "prod", booted
# at the same time on the sched_ext kernel, each running the agent DaemonSet's
# exact container command (rendered by kubectl kustomize from the canary and
# production overlays) against its pool's skrun.json. The test plays the
# API server and the DaemonSet controller:
#   - the API server is a virtiofs share: /share/configmaps/POOL/skrun.json,
#     which a kubelet loop in each guest projects into the pod's directory
#     (..data symlink swap); each guest reports its readiness probe's exit
#     code, skrun status --json and the metrics file back into the share;
#   - the controller moves the canary pool first, and the production pool only
#     after the canary has been ready on the new version for the hold time
#     (minReadySeconds).
# The rollout: v1 everywhere; v2, which the kernel's watchdog ejects once it
# runs: the canary rolls back to v1 by itself, is not ready, names the bad
# digest, and prod never sees v2; v3: the canary moves and commits, then prod.
# No traffic leaves loopback: each guest has no network and serves the signed
# releases from its own docker-registry on 127.0.0.1 (the storage the host
# pushed them into).
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"
. "$SK_ROOT/tests/vm/signed.sh"

t_start=$(date +%s)
F=$SK_ROOT/tests/vm/fleet
WINDOW=${SKFLEET_WINDOW:-5} # the agent's health window, seconds
HOLD=${SKFLEET_HOLD:-5}     # the controller's minReadySeconds for the canary
NODES="canary prod"

# --- what the test needs, or a failure that says which ---
need() { # WHAT CMD...
	_what=$1
	shift
	if ! "$@" >"$T/need.out" 2>&1; then
		fail "needs: $_what" "$(cat "$T/need.out")"
		exit 1
	fi
}
need "the sched_ext kernel" vm_kernel_ready
need "virtiofsd" sh -c "test -x '$SKVM_VIRTIOFSD' || { echo 'no virtiofsd at $SKVM_VIRTIOFSD (qemu-system-common; or set SKVM_VIRTIOFSD)'; exit 1; }"
need "docker-registry" sh -c 'command -v docker-registry || { echo "docker-registry not on PATH (Debian package docker-registry)"; exit 1; }'
need "kubectl (kustomize)" sh -c 'command -v kubectl || { echo "kubectl not on PATH (it renders the overlays)"; exit 1; }'
need "python3 with yaml" python3 -c 'import yaml'

# --- the DaemonSet's container, from the rendered overlays ---
for pool in canary production; do
	if kubectl kustomize "$SK_ROOT/deploy/kubernetes/overlays/$pool" >"$T/$pool.yaml" 2>"$T/kustomize.err" &&
		python3 "$F/render.py" daemonset "$T/$pool.yaml" "$T/ds-$pool" 2>>"$T/kustomize.err"; then
		pass "rendered the $pool overlay's agent DaemonSet"
	else
		fail "rendered the $pool overlay's agent DaemonSet" "$(cat "$T/kustomize.err")"
		exit 1
	fi
done
# The two pools run the same command; only their ConfigMaps differ.
check "canary and production run the same agent command" cmp "$T/ds-canary/cmd" "$T/ds-production/cmd"
echo "INFO: agent command: $(tr '\n' ' ' <"$T/ds-canary/cmd")"
echo "INFO: readiness probe: $(tr '\n' ' ' <"$T/ds-canary/probe")"
# The command runs as rendered; the health window is in the pool's skrun.json.
if grep -qx -- '--follow' "$T/ds-canary/cmd"; then
	pass "the agent command follows the projected desired state (--follow)"
else
	# the rest still runs and fails where it must
	fail "the agent command follows the projected desired state (--follow)" \
		"the rendered command is '$(tr '\n' ' ' <"$T/ds-canary/cmd")': the node agent mode is not in the DaemonSet"
fi

# --- three releases of the pool's scheduler, built once, signed, pushed ---
signed_setup
REPO=$SIGNED_REPO
mkdir -p "$T/src/v1" "$T/src/v3" "$T/layouts"
cp "$SK_ROOT"/scheds/vtime/* "$T/src/v1/"
cp "$SK_ROOT"/scheds/vtime/* "$T/src/v3/"
sed -i 's/"version": *"[^"]*"/"version": "1.0.0"/' "$T/src/v1/schedkit.json"
sed -i 's/"version": *"[^"]*"/"version": "1.2.0"/' "$T/src/v3/schedkit.json"
release() { # NAME SRC REF
	if "$SKBUILD" build -q "$2" -o "$T/layouts/$1" --push "$REPO/$3" --sign "$T/keys/trusted.key" \
		--digest-file "$T/$1.digest" >"$T/build-$1.log" 2>&1; then
		pass "built, pushed and signed $REPO/$3 ($1)"
	else
		fail "built, pushed and signed $REPO/$3 ($1)" "$(tail -n 20 "$T/build-$1.log")"
		exit 1
	fi
}
t_build=$(date +%s)
release v1 "$T/src/v1" vtime:1.0.0
release v2 "$SK_ROOT/tests/scheds/fleet_stall.bpf.c" vtime:1.1.0
release v3 "$T/src/v3" vtime:1.2.0
release fallback "$SK_ROOT/scheds/fifo" fifo:1.0.0
D1=$(cat "$T/v1.digest")
D2=$(cat "$T/v2.digest")
D3=$(cat "$T/v3.digest")
echo "INFO: v1 $D1, v2 (stalls) $D2, v3 $D3; built in $(($(date +%s) - t_build)) s"
[ "$D1" != "$D3" ] && pass "v1 and v3 are different digests" || fail "v1 and v3 are different digests" "both $D1"
reg_stop vmreg # the guests serve its storage; nothing else may reach it

# --- the API server (the share) and each node's initramfs ---
API=$T/api
mkdir -p "$API/configmaps/canary" "$API/configmaps/production" "$API/nodes"
METRICS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"])' "$T/ds-canary/skrun.json")
cmap() { # POOL VERSION: the controller applies the pool's ConfigMap
	python3 "$F/render.py" desired "$T/ds-$1/skrun.json" "$REPO" "$2" "$WINDOW" "$API/configmaps/$1/skrun.json"
}
cmap canary 1.0.0
cmap production 1.0.0
# trust: the test's key and policy instead of the overlay's placeholder
mkdir -p "$T/trust"
cp "$T/etc/policy.json" "$T/keys/trusted.pub" "$T/trust/"
for node in $NODES; do
	case $node in canary) pool=canary ;; *) pool=production ;; esac
	d=$T/fleet-$node
	mkdir -p "$d"
	cp "$T/ds-$pool/cmd" "$T/ds-$pool/probe" "$T/ds-$pool/env" "$T/ds-$pool/mounts" "$d/"
	cp -r "$T/trust" "$d/trust"
	printf 'NODE=%s\nPOOL=%s\nREG_PORT=%s\nMETRICS=%s\n' "$node" "$pool" "$REG_PORT" "$METRICS" >"$d/node.env"
	printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: 127.0.0.1:%s\n  secret: fleet\n' \
		"$REG_PORT" >"$d/registry.yml"
done

# --- boot both nodes at once ---
sk_on_exit "vm_kill $T/vm-canary; vm_kill $T/vm-prod"
# SKFLEET_KEEP=DIR keeps the share (reports, history, agent logs) and the consoles
[ -z "${SKFLEET_KEEP:-}" ] ||
	sk_on_exit "mkdir -p '$SKFLEET_KEEP' && cp -r '$API' '$T/vm-canary/console.log' '$SKFLEET_KEEP/' && cp '$T/vm-prod/console.log' '$SKFLEET_KEEP/console-prod.log'"
t_boot=$(date +%s)
for node in $NODES; do
	if SKVM_TIMEOUT=${SKVM_TIMEOUT:-400} vm_start "$T/vm-$node" "$F/guest.sh" --share "$API" --mem 768 \
		"$SKRUN:/bin/skrun" "$(command -v docker-registry):/bin/docker-registry" \
		"$T/fleet-$node:/fleet" "$T/vmreg/data:/var/lib/registry" >"$T/start-$node.out" 2>&1; then
		pass "$node: booting with the share (initramfs and qemu started in $(($(date +%s) - t_boot)) s)"
	else
		fail "$node: booting with the share" "$(cat "$T/start-$node.out")"
		exit 1
	fi
done

# watch NAME NODE TIMEOUT [--hold S] CHECK...: passes when the node's report
# meets the checks (fleet/watch.py). After a failure the later steps are not
# run (they would wait for what the failed one did not reach); the test has
# failed already. With soft=1 a failure does not stop the later steps.
broken=""
watch() {
	_n=$1
	_node=$2
	_to=$3
	shift 3
	[ -z "$broken" ] || return 1
	if python3 "$F/watch.py" "$API/nodes/$_node" "$_to" --vm "$T/vm-$_node" "$@" >"$T/watch.out" 2>"$T/watch.err"; then
		pass "$_n"
		return 0
	fi
	[ -n "${soft:-}" ] || broken="$_n"
	fail "$_n" "$(head -n 1 "$T/watch.err")"
	tail -n +2 "$T/watch.err" | grep -v '^# ' | sed 's/^/    | /' | head -n 80
	if [ -f "$API/nodes/$_node/agent.log" ]; then
		echo "    | --- agent.log (last 30 lines):"
		tail -n 30 "$API/nodes/$_node/agent.log" | sed 's/^/    | /'
	fi
	echo "    | --- $_node's console (last 20 lines):"
	tail -n 20 "$T/vm-$_node/console.log" | sed 's/^/    | /'
	if [ -s "$T/vm-$_node/virtiofsd.log" ]; then
		echo "    | --- $_node's virtiofsd:"
		tail -n 10 "$T/vm-$_node/virtiofsd.log" | sed 's/^/    | /'
	fi
	return 1
}
# never NAME NODE REGEX: no report of the node since boot, nor its agent's log, matches
never() {
	if grep -lE "$3" "$API/nodes/$2"/history/* "$API/nodes/$2/agent.log" >"$T/never.out" 2>/dev/null; then
		fail "$1" "found /$3/ in $(head -n 3 "$T/never.out" | tr '\n' ' ')"
	elif [ -z "$(ls "$API/nodes/$2/history")" ]; then
		fail "$1" "no report from $2 at all"
	else
		pass "$1 ($(ls "$API/nodes/$2/history" | wc -l) reports)"
	fi
}
hash_of() { sha256sum "$API/configmaps/$1/skrun.json" | cut -d' ' -f1; }
report_value() { python3 "$F/watch.py" --get "$API/nodes/$1" "$2"; } # NODE NAME
# ready_on DIGEST OPS: the node runs DIGEST, committed, ready; sysfs, the
# probe, status --json and the metrics all say so
ready_on() {
	echo probe=0 state=enabled "ops=$2" agent=alive json:exitStatus=0 json:skrun.status=running \
		"json:skrun.digest=$1" "json:skrun.agent.desired.digest=$1" "json:skrun.agent.running.digest=$1" \
		"json:skrun.agent.committed.digest=$1" json:skrun.agent.ready=true json:skrun.agent.pending=null \
		"json:skrun.agent.healthWindowS=$WINDOW" \
		"metric:schedkit_scheduler_running{digest=\"$1\",name=\"$2\"}=1" \
		"metric:schedkit_artifact_info{role=\"current\",digest=\"$1\",verified=\"true\"}=1" \
		"metric:schedkit_sched_ext_ops_info{ops=\"$2\"}=1" metric:schedkit_agent_ready=1 metric:schedkit_agent_pending=0
}

# --- step 1: v1 everywhere ---
for node in $NODES; do
	pool=canary
	[ "$node" = canary ] || pool=production
	# shellcheck disable=SC2046
	watch "$node: v1 running, committed, ready; sysfs, probe, status --json and metrics agree" "$node" 180 \
		"observed=$(hash_of $pool)" $(ready_on "$D1" vtime) metric:schedkit_rollbacks_total=0
done
for node in $NODES; do
	echo "INFO: $node: its /test.sh ran $(($(cut -d' ' -f1 "$API/nodes/$node/booted" 2>/dev/null || echo 0) - t_boot)) s after the boot started (guest clock)"
done
echo "INFO: both nodes ready on v1 $(($(date +%s) - t_boot)) s after the boot started"

# --- step 2: v2 (stalls) to the canary pool ---
t_step=$(date +%s)
lt1=$(report_value canary schedkit_last_transition_timestamp_seconds)
seq_prod=$(report_value prod enable_seq)
cmap canary 1.1.0
# shellcheck disable=SC2046
watch "canary: took v2, the kernel ejected it, rolled back to v1 by itself" canary 120 \
	"observed=$(hash_of canary)" "json:skrun.agent.desired.digest=$D2" \
	"json:skrun.agent.transitions~\"event\":\"rollback\",\"from\":\"$D2\",\"to\":\"$D1\"" \
	"json:skrun.agent.committed.digest=$D1" "json:skrun.agent.running.digest=$D1" "json:skrun.digest=$D1" \
	json:skrun.agent.pending=null state=enabled ops=vtime agent=alive
watch "canary: status --json names the bad digest and why (runnable task stall)" canary 10 \
	"json:skrun.agent.bad.0.digest=$D2" "json:skrun.agent.bad.0.reason~ejected by the kernel: kind=1026 \\(runnable task stall\\)"
watch "canary: not ready (probe and status say the desired v2 does not run)" canary 10 \
	probe=150 json:exitStatus=150 json:skrun.agent.ready=false "json:skrun.agent.readiness~$D2"
watch "canary: metrics: v1 running, one rollback, one bad digest, not ready, the transition's time" canary 10 \
	"metric:schedkit_scheduler_running{digest=\"$D1\",name=\"vtime\"}=1" metric:schedkit_rollbacks_total=1 \
	metric:schedkit_agent_bad_digests=1 \
	metric:schedkit_agent_ready=0 "metric:schedkit_agent_transitions_total{event=\"rollback\"}=1" \
	"metric:schedkit_last_transition_timestamp_seconds>=$((${lt1:-0} + 1))"
# docs/metrics.md: schedkit_ejections_total counts every ejection by the kernel
# by its kind; this one is the reason of the rollback
watch "canary: metrics: the kernel's ejection of v2 counted once (runnable task stall)" canary 5 \
	"metric:schedkit_ejections_total{kind=\"1026\",kind_name=\"runnable task stall\"}=1"
echo "INFO: canary rolled back from v2 in $(($(date +%s) - t_step)) s"
# The controller halts: the canary is not ready, so production is not moved.
# shellcheck disable=SC2046
watch "prod: still ready on v1 while the canary is not, nothing attached since (enable_seq $seq_prod)" prod 10 \
	$(ready_on "$D1" vtime) "enable_seq=$seq_prod"
never "prod: never saw v2 (no report, no agent log line names its digest)" prod "${D2#sha256:}"

# --- step 3: v3, the canary first, then production ---
t_step=$(date +%s)
cmap canary 1.2.0
# shellcheck disable=SC2046
watch "canary: moved to v3 and committed it after the health window" canary 120 \
	"observed=$(hash_of canary)" $(ready_on "$D3" vtime) \
	"json:skrun.agent.transitions~\"event\":\"switch\",\"from\":\"$D1\",\"to\":\"$D3\"" \
	"json:skrun.agent.transitions~\"event\":\"commit\",\"from\":\"[^\"]*\",\"to\":\"$D3\"" \
	"json:skrun.agent.bad.0.digest=$D2"
# shellcheck disable=SC2046
watch "canary: ready on v3 for ${HOLD} s (the controller's minReadySeconds)" canary 60 --hold "$HOLD" \
	$(ready_on "$D3" vtime)
watch "canary: metrics: v2 and v3 switched to, one rolled back, the bad digest remembered" canary 10 \
	"metric:schedkit_switches_total>=2" metric:schedkit_rollbacks_total=1 metric:schedkit_agent_bad_digests=1
lt_prod=$(report_value prod schedkit_last_transition_timestamp_seconds)
cmap production 1.2.0
# shellcheck disable=SC2046
watch "prod: moved to v3 and committed it" prod 120 "observed=$(hash_of production)" $(ready_on "$D3" vtime) \
	"json:skrun.agent.transitions~\"event\":\"switch\",\"from\":\"$D1\",\"to\":\"$D3\"" \
	"json:skrun.agent.transitions~\"event\":\"commit\",\"from\":\"[^\"]*\",\"to\":\"$D3\""
watch "prod: metrics: one switch, no rollback, no bad digest, the transition's time" prod 10 \
	metric:schedkit_switches_total=1 metric:schedkit_rollbacks_total=0 metric:schedkit_agent_bad_digests=0 \
	json:skrun.agent.bad=[] "metric:schedkit_last_transition_timestamp_seconds>=$((${lt_prod:-0} + 1))"
never "prod: never saw v2, to the end" prod "${D2#sha256:}"
[ -n "$broken" ] && echo "INFO: steps after '$broken' were not run"
echo "INFO: v3 rolled out to both pools in $(($(date +%s) - t_step)) s"

# --- shut down: each guest stops its agent and reports once more ---
for node in $NODES; do
	mkdir -p "$API/nodes/$node" && touch "$API/nodes/$node/stop"
done
for node in $NODES; do
	vm_wait "$T/vm-$node" >"$T/wait-$node.out" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|INFO): ' "$T/vm-$node/console.log"
	if [ $rc = 0 ]; then pass "$node: guest finished"; else
		fail "$node: guest finished" "vm_wait returned $rc"
		tail -n 40 "$T/wait-$node.out"
	fi
done
t_end=$(date +%s)
echo "INFO: test_fleet wall time $((t_end - t_start)) s (boot to shutdown $((t_end - t_boot)) s)"
