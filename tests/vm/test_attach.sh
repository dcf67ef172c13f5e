#!/bin/sh
# Every shipped scheduler, built into an OCI layout on the host, is attached
# by `skrun run LAYOUT` in the sched_ext guest while a CPU-bound workload runs
# to completion, then detached by SIGTERM with its exit record read back. A
# scheduler the verifier rejects is refused and the verifier's words reach
# the user.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"

if ! vm_kernel_ready 2>"$T/kernel.err"; then
	fail vm-kernel "$(cat "$T/kernel.err")"
	exit 1
fi
export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache
mkdir -p "$T/data"
scheds=""
for d in "$SK_ROOT"/scheds/*/; do
	name=$(basename "$d")
	check "build $name for the VM" "$SKBUILD" build -q "$d" -o "$T/data/$name.oci" -t test
	scheds="$scheds $name"
done
check "build broken for the VM" "$SKBUILD" build -q "$SK_ROOT/tests/scheds/broken.bpf.c" -o "$T/data/broken.oci" -t test

cat >"$T/guest.sh" <<EOF
scheds="$scheds"
EOF
cat >>"$T/guest.sh" <<'EOF'
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
for s in $scheds; do
	skrun run --insecure-skip-verify /data/$s.oci:test >/tmp/$s.log 2>&1 &
	pid=$!
	for _ in $(seq 100); do grep -q "attached" /tmp/$s.log && break; sleep 0.1; done
	if [ "$(state)" = enabled ]; then ok "$s enabled"; else no "$s enabled" "state $(state)"; cat /tmp/$s.log; fi
	ops=$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)
	[ "$ops" = "$s" ] && ok "$s root/ops" || no "$s root/ops" "'$ops'"
	seq0=$(cat /sys/kernel/sched_ext/enable_seq)
	t0=$(date +%s); if workload; then ok "$s workload completed in $(( $(date +%s) - t0 )) s"; else no "$s workload completed" "rc $?"; fi
	[ "$(state)" = enabled ] && ok "$s still enabled after workload" || no "$s still enabled after workload" "$(state)"
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc = 0 ] && ok "$s skrun exit 0 on SIGTERM" || no "$s skrun exit 0 on SIGTERM" "rc $rc"
	[ "$(state)" = disabled ] && ok "$s disabled after SIGTERM" || no "$s disabled after SIGTERM" "$(state)"
	if grep -q "kind=64 (unregistered from user space)" /tmp/$s.log; then
		ok "$s exit record read (unregistered)"
	else no "$s exit record read" "$(cat /tmp/$s.log)"; fi
	sed 's/^/    [guest] /' /tmp/$s.log
done

skrun run --insecure-skip-verify /data/broken.oci:test >/tmp/broken.log 2>&1
rc=$?
sed 's/^/    [guest] /' /tmp/broken.log
[ $rc != 0 ] && ok "broken refused (rc $rc)" || no "broken refused" "rc 0"
grep -q "verifier log" /tmp/broken.log && ok "verifier log reaches the user" || no "verifier log reaches the user" "no log"
grep -Eq "invalid|out of bounds|outside|unbounded|R[0-9]+ " /tmp/broken.log && ok "verifier's reason shown" || no "verifier's reason shown" "no reason"
[ "$(state)" = disabled ] && ok "state disabled after refusal" || no "state disabled after refusal" "$(state)"
EOF

vm_run "$T/vm" "$T/guest.sh" "$SKRUN:/bin/skrun" "$T/data:/data" >"$T/vm.out" 2>&1
rc=$?
grep -E '^(PASS|FAIL): |^    ' "$T/vm/console.log" | tr -d '\r'
if [ $rc = 0 ]; then pass "vm scenario ran"; else
	fail "vm scenario ran" "vm_run returned $rc"
	tail -n 40 "$T/vm.out"
fi
