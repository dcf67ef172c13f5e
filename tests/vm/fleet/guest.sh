# One node of the fleet test (tests/vm/test_fleet.sh), run as the guest's
# /test.sh. What a Kubernetes node would have, and only that:
#   - a registry: docker-registry on 127.0.0.1 serving the storage the host
#     pushed the signed releases into (the guest has no network);
#   - "kubelet": the pool's ConfigMap read from the API server (the virtiofs
#     share, /share/configmaps/POOL/skrun.json) and projected into the pod's
#     directory the way kubelet does it (a timestamped directory, the ..data
#     symlink swapped by rename, skrun.json -> ..data/skrun.json), because
#     inotify on virtiofs does not see the host's changes but does see the
#     local swap; the readiness probe run every half second;
#   - the agent: the DaemonSet's container command, as rendered, with its env;
#   - what the host watches: /share/nodes/NODE/report (probe exit code,
#     skrun status --json, the metrics file, sched_ext's sysfs), rewritten
#     atomically each round (and kept as history/SEQ), and agent.log.
# It runs until the host creates /share/nodes/NODE/stop.
set -u
. /fleet/node.env # NODE POOL REG_PORT METRICS
. /fleet/mounts   # POOL_DIR TRUST_DIR
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

out=/share/nodes/$NODE
fatal() {
	echo "FAIL: $NODE: $1"
	[ -d "$out" ] && echo "$1" >"$out/fatal"
	exit 1
}

mkdir -p /share
# a few tries: under load the vhost-user device can answer late
for _ in 1 2 3; do
	mount -t virtiofs share /share 2>/tmp/mount.err && break
	sleep 1
done
grep -q " /share virtiofs " /proc/mounts || fatal "mount -t virtiofs share /share failed: $(cat /tmp/mount.err) (no virtiofs in this kernel, or qemu has no vhost-user-fs device)"
mkdir -p "$out/history" || fatal "cannot write to the share"
echo "$(date +%s) booted" >"$out/booted"

ip link set lo up
docker-registry serve /fleet/registry.yml >/tmp/registry.log 2>&1 &
for _ in $(seq 300); do
	wget -q -O /dev/null "http://127.0.0.1:$REG_PORT/v2/" 2>/dev/null && break
	sleep 0.1
done
wget -q -O /dev/null "http://127.0.0.1:$REG_PORT/v2/" 2>/dev/null ||
	fatal "docker-registry did not answer on 127.0.0.1:$REG_PORT within 30 s: $(tail -n 5 /tmp/registry.log)"
echo "PASS: $NODE: docker-registry serves the pushed releases on 127.0.0.1:$REG_PORT"

mkdir -p /var/lib/schedkit "$(dirname "$METRICS")" /run/schedkit

# project SRC_DIR DIR FILE...: kubelet's atomic update of a ConfigMap volume.
gen=0
project() {
	_src=$1
	_dir=$2
	shift 2
	gen=$((gen + 1))
	_ts=..$(date +%Y_%m_%d_%H_%M_%S).$gen
	mkdir -p "$_dir/$_ts"
	for _f in "$@"; do cp "$_src/$_f" "$_dir/$_ts/$_f" || return 1; done
	_old=$(readlink "$_dir/..data" 2>/dev/null)
	ln -s "$_ts" "$_dir/..data_tmp"
	mv -T "$_dir/..data_tmp" "$_dir/..data"
	for _f in "$@"; do [ -L "$_dir/$_f" ] || ln -s "..data/$_f" "$_dir/$_f"; done
	[ -z "$_old" ] || rm -rf "${_dir:?}/$_old"
}

# the trust ConfigMap: projected once (the test never changes it)
project /fleet/trust "$TRUST_DIR" policy.json trusted.pub || fatal "cannot project the trust ConfigMap"

cm=/share/configmaps/$POOL
mkdir -p /tmp/cm
# kubelet's sync: the API server's copy (read once into a local snapshot)
# projected when it differs from what the pod sees.
sync_pool() {
	cp "$cm/skrun.json" /tmp/cm/skrun.json 2>/dev/null || return 0
	cmp -s /tmp/cm/skrun.json "$POOL_DIR/..data/skrun.json" && return 0
	project /tmp/cm "$POOL_DIR" skrun.json
}
for _ in $(seq 100); do
	[ -f "$cm/skrun.json" ] && break
	sleep 0.1
done
sync_pool
[ -f "$POOL_DIR/skrun.json" ] || fatal "no ConfigMap for pool $POOL at $cm/skrun.json"

# the DaemonSet's container, as rendered (env, then command)
while IFS= read -r kv; do
	[ -n "$kv" ] && export "${kv?}"
done </fleet/env
set --
while IFS= read -r a; do set -- "$@" "$a"; done </fleet/cmd
echo "INFO: $NODE: agent: $*"
"$@" >/tmp/agent.log 2>&1 &
agent=$!
set --
while IFS= read -r a; do set -- "$@" "$a"; done </fleet/probe

seq=0
final=0
report() {
	seq=$((seq + 1))
	"$@" >/dev/null 2>&1
	_probe=$?
	{
		echo "seq=$seq"
		echo "time=$(date +%s)"
		echo "final=$final"
		echo "observed=$(sha256sum "$POOL_DIR/..data/skrun.json" | cut -d' ' -f1)"
		echo "probe=$_probe"
		echo "agent=$(kill -0 $agent 2>/dev/null && echo alive || echo gone)"
		echo "state=$(cat /sys/kernel/sched_ext/state)"
		echo "ops=$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)"
		echo "enable_seq=$(cat /sys/kernel/sched_ext/enable_seq)"
		echo "--- status"
		skrun status --json 2>&1
		echo "--- metrics"
		cat "$METRICS" 2>/dev/null
	} >"$out/history/$seq.tmp"
	mv "$out/history/$seq.tmp" "$out/history/$seq"
	cp "$out/history/$seq" "$out/report.tmp" && mv "$out/report.tmp" "$out/report"
	cp /tmp/agent.log "$out/agent.log.tmp" && mv "$out/agent.log.tmp" "$out/agent.log"
}

while [ ! -e "$out/stop" ]; do
	sync_pool
	report "$@"
	sleep 0.5
done
kill -TERM $agent 2>/dev/null
wait $agent
echo "INFO: $NODE: agent exited $?"
final=1
report "$@"
echo "final" >"$out/final"
sed 's/^/    [agent] /' /tmp/agent.log | tail -n 60
exit 0
