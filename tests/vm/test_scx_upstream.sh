#!/bin/sh
# Upstream sched_ext example schedulers (the kernel's tools/sched_ext/, built
# against its include/scx headers, unchanged) are built by skbuild on the
# host and run by `skrun run` in the sched_ext guest without their own
# user-space halves: each attaches (state enabled, root/ops names it), runs
# a CPU-bound workload to completion, and detaches on SIGTERM with the exit
# record read back from the scheduler's `uei` (kind 64). One boot for all.
#
# Which examples run here, and why the others do not:
#   scx_simple, scx_cpu0, scx_sdt  need nothing from user space
#   scx_central   its tunables come from user space: skrun --set supplies them
#   scx_qmap      likewise (max_tasks, slice_ns); cid-form sched_ext_ops_cid
#   scx_flatcg    runs; its cgroup hierarchy is just the root here
#   scx_pair      needs its loader to fill the pair_cpu/pair_id/in_pair_idx
#                 arrays (resized .rodata sections): built, not run
#   scx_userland  needs its user-space scheduler process: built, not run
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"

if ! vm_kernel_ready 2>"$T/kernel.err"; then
	fail vm-kernel "$(cat "$T/kernel.err")"
	exit 1
fi
SCX=${SCHEDKIT_SCX_CACHE:-/var/cache/schedkit/scx}
if [ ! -d "$SCX/tools/sched_ext/include/scx" ]; then
	fail scx-sources "no upstream sched_ext sources at $SCX; run tests/vm/fetch-scx.sh"
	exit 1
fi
S=$SCX/tools/sched_ext
# scx_sdt and scx_qmap keep pointers in a BPF arena and rely on the compiler
# to emit the address-space casts (clang >= 18, __BPF_FEATURE_ADDR_SPACE_CAST);
# built with clang-16 they compile but the verifier rejects them.
ARENA_CC=${SCX_ARENA_CC:-clang-19}
command -v "$ARENA_CC" >/dev/null 2>&1 ||
	fail "arena compiler" "$ARENA_CC not found: scx_sdt and scx_qmap need clang >= 18 (apt-get install clang-19 llvm-19)"
export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache
mkdir -p "$T/data"

# NAME|skbuild options|`skrun run` options standing in for its user-space half
cat >"$T/list" <<EOF
scx_simple||
scx_cpu0||
scx_flatcg||--set nr_cpus=2 --set cgrp_slice_ns=20000000
scx_central||--set slice_ns=20000000
scx_sdt|--cc $ARENA_CC|
scx_qmap|--cc $ARENA_CC|--set max_tasks=16384 --set slice_ns=20000000
EOF
while IFS='|' read -r name bopts ropts; do
	# shellcheck disable=SC2086
	check "build $name for the VM${bopts:+ ($bopts)}" "$SKBUILD" build -q "$S/$name.bpf.c" \
		-o "$T/data/$name.oci" -t test -I "$S/include" -I "$S/include/bpf-compat" $bopts
done <"$T/list"
cut -d'|' -f1,3 "$T/list" | tr '|' ' ' >"$T/data/list"

cat >"$T/guest.sh" <<'EOF'
ok() { echo "PASS: vm: $1"; }
no() { echo "FAIL: vm: $1: $2"; }
state() { cat /sys/kernel/sched_ext/state; }

# Two CPU-bound loops; the scheduler must run them to completion. (Waits
# for their pids only: a bare `wait` would also wait for skrun.)
workload() {
	pids=""
	for j in 1 2; do
		(i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done) &
		pids="$pids $!"
	done
	wait $pids
}

[ "$(state)" = disabled ] && ok "initial state disabled" || no "initial state disabled" "$(state)"
while read -r s opts; do
	ops=${s#scx_}
	# shellcheck disable=SC2086
	skrun run /data/$s.oci:test $opts >/tmp/$s.log 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q "attached" /tmp/$s.log && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	if [ "$(state)" = enabled ]; then ok "$s enabled"; else
		no "$s enabled" "state $(state)"
		sed 's/^/    [guest] /' /tmp/$s.log
		kill -TERM $pid 2>/dev/null; wait $pid
		continue
	fi
	o=$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)
	[ "$o" = "$ops" ] && ok "$s root/ops is $ops" || no "$s root/ops" "'$o'"
	t0=$(date +%s); if workload; then ok "$s workload completed in $(( $(date +%s) - t0 )) s"; else no "$s workload completed" "rc $?"; fi
	[ "$(state)" = enabled ] && ok "$s still enabled after workload" || no "$s still enabled after workload" "$(state)"
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc = 0 ] && ok "$s skrun exit 0 on SIGTERM" || no "$s skrun exit 0 on SIGTERM" "rc $rc"
	[ "$(state)" = disabled ] && ok "$s disabled after SIGTERM" || no "$s disabled after SIGTERM" "$(state)"
	if grep -q "kind=64 (unregistered from user space)" /tmp/$s.log; then
		ok "$s uei exit record: kind 64 (unregistered from user space)"
	else no "$s uei exit record" "$(cat /tmp/$s.log)"; fi
	sed 's/^/    [guest] /' /tmp/$s.log
done </data/list
EOF

t0=$(date +%s)
vm_run "$T/vm" "$T/guest.sh" "$SKRUN:/bin/skrun" "$T/data:/data" >"$T/vm.out" 2>&1
rc=$?
grep -E '^(PASS|FAIL): |^    ' "$T/vm/console.log" | tr -d '\r'
if [ $rc = 0 ]; then pass "vm scenario ran in $(($(date +%s) - t0)) s"; else
	fail "vm scenario ran" "vm_run returned $rc"
	tail -n 40 "$T/vm.out"
fi
