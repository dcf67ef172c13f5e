#!/bin/sh
# skbuild vmtest's VM half (installed as DATADIR/vm/vmtest.sh; skbuild
# builds the artifacts, then runs this). One boot of the sched_ext test kernel
# for all artifacts; for each, in the guest:
#   skrun check --load   the verifier's statistics, or its whole log and a hint
#   skrun run            attach (--insecure-skip-verify: a local test build),
#                        a CPU-bound workload, SIGTERM, the exit record
# and a verdict line. Exit status: 0 when every artifact passed, 6 when one
# was refused or failed (skrun's "kernel cannot run it"), 1 when the VM could
# not give an answer.
#
# usage: vmtest.sh --skrun PATH [--verifier-log FILE] [--set K=V]... [--ops NAME]
#                  [--loops N] NAME=LAYOUT_DIR:TAG...
# The kernel comes from $SK_KERNEL (a directory with vmlinuz, `make kernel`).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/vm.sh"

skrun=""
vlog=""
sets=""
ops=""
loops=20000
while [ $# -gt 0 ]; do
	case $1 in
	--skrun) skrun=$2; shift 2 ;;
	--verifier-log) vlog=$2; shift 2 ;;
	--set) sets="$sets --set $2"; shift 2 ;;
	--ops) ops="--ops $2"; shift 2 ;;
	--loops) loops=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "vmtest.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ -x "$skrun" ] || { echo "vmtest: no skrun at '$skrun'" >&2; exit 1; }
[ $# -gt 0 ] || { echo "vmtest: no artifact given" >&2; exit 2; }
vm_kernel_ready || exit 1

work=$(mktemp -d /tmp/skvmtest.XXXXXX)
trap 'rm -rf "$work"' EXIT
specs="$skrun:/usr/bin/skrun"
names=""
{
	echo "loops=$loops"
	echo "sets='$sets'"
	echo "ops='$ops'"
	echo 'artifacts=""'
} >"$work/guest.sh"
for a in "$@"; do
	name=${a%%=*}
	rest=${a#*=}
	dir=${rest%:*}
	tag=${rest##*:}
	specs="$specs $dir:/data/$name.oci"
	names="$names $name"
	ref=oci:/data/$name.oci${tag:+:$tag}
	echo "artifacts=\"\$artifacts $name=$ref\"" >>"$work/guest.sh"
done
cat >>"$work/guest.sh" <<'EOF'
state() { cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent; }
verdict() { echo "VMTEST-VERDICT $1 $2 $3"; }
# Two CPU-bound loops at once on the 2 vCPUs; they must finish under the
# scheduler. (Waits for their pids only: skrun runs in the background.)
workload() {
	pids=""
	for _ in 1 2; do
		(i=0; while [ $i -lt "$loops" ]; do i=$((i + 1)); done) &
		pids="$pids $!"
	done
	wait $pids
}
one() {
	name=$1 ref=$2
	echo "VMTEST-BEGIN $name"
	echo "\$ skrun check --load $ref $ops"
	# shellcheck disable=SC2086
	skrun check --load "$ref" $ops --verifier-log "/tmp/$name.vlog" 2>&1
	rc=$?
	if [ $rc != 0 ]; then
		echo "VMTEST-END $name"
		verdict "$name" FAIL "skrun check --load exited $rc: this kernel refused it (see above)"
		return
	fi
	echo "\$ skrun run $ref --insecure-skip-verify --restart never$sets $ops"
	# shellcheck disable=SC2086
	skrun run "$ref" --insecure-skip-verify --restart never $sets $ops >"/tmp/$name.run" 2>&1 &
	pid=$!
	attached=0
	for _ in $(seq 300); do
		grep -q "^skrun: attached" "/tmp/$name.run" 2>/dev/null && { attached=1; break; }
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	why=""
	if [ $attached = 1 ]; then
		echo "sched_ext: state $(state), ops $(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)"
		t0=$(date +%s)
		workload
		echo "workload: 2 CPU-bound loops of $loops finished in $(($(date +%s) - t0)) s"
		after=$(state)
		echo "sched_ext after the workload: state $after"
		[ "$after" = enabled ] || why="the scheduler was ejected during the workload"
		kill -TERM $pid 2>/dev/null
	else
		why="skrun did not attach it"
	fi
	wait $pid
	rc=$?
	sed 's/^/  | /' "/tmp/$name.run"
	echo "skrun exit status $rc; sched_ext state now $(state)"
	echo "VMTEST-END $name"
	[ -n "$why" ] || [ $rc = 0 ] || why="skrun exited $rc"
	[ -n "$why" ] || [ "$(state)" = disabled ] || why="the scheduler stayed attached after skrun stopped"
	if [ -n "$why" ]; then
		verdict "$name" FAIL "$why"
	else
		verdict "$name" PASS "loaded, attached, ran the workload, detached cleanly"
	fi
}
for a in $artifacts; do
	one "${a%%=*}" "${a#*=}"
	[ -f "/tmp/${a%%=*}.vlog" ] && skvm-out "vlog-${a%%=*}" "/tmp/${a%%=*}.vlog"
done
exit 0
EOF

n=$#
echo "vmtest: booting the sched_ext kernel $(cat "$SKVM_KERNEL/release" 2>/dev/null || echo '?') in qemu (TCG, no KVM) for$names"
# shellcheck disable=SC2086
SKVM_TIMEOUT=${SKVM_TIMEOUT:-$((60 + 60 * n))} vm_run "$work/vm" "$work/guest.sh" $specs
rc=$?
if [ $rc != 0 ]; then
	echo "vmtest: the VM gave no answer (harness status $rc); console log above" >&2
	exit 1
fi
# The guest's report without kernel messages and file transfers.
awk '/^VMTEST-BEGIN /{on=1; print "== " $2; next} /^VMTEST-END /{on=0; next}
	/^SKVM-FILE-BEGIN /{skip=1} /^SKVM-FILE-END /{skip=0; next}
	on && !skip && !/^\[ *[0-9]+\.[0-9]+\]/ {print}' "$work/vm/console.log"
status=0
for name in $names; do
	line=$(grep -a "^VMTEST-VERDICT $name " "$work/vm/console.log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "verdict $name: FAIL (the guest gave no verdict)"
		status=6
		continue
	fi
	set -- $line
	v=$3
	shift 3
	echo "verdict $name: $v ($*)"
	[ "$v" = PASS ] || status=6
	if [ -n "$vlog" ] && vm_extract "$work/vm" "vlog-$name" "$work/$name.vlog" 2>/dev/null; then
		if [ "$n" = 1 ]; then
			cp "$work/$name.vlog" "$vlog"
		else
			{ echo "== $name"; cat "$work/$name.vlog"; } >>"$vlog.tmp"
		fi
	fi
done
[ -z "$vlog" ] || [ ! -f "$vlog.tmp" ] || mv "$vlog.tmp" "$vlog"
[ -z "$vlog" ] || [ -f "$vlog" ] || echo "vmtest: no verifier log came back for $vlog" >&2
exit $status
