#!/bin/sh
# The main job end to end, narrated: build every shipped scheduler into an OCI
# artifact, show what one needs from the kernel, then boot the sched_ext test
# kernel and let skrun attach each one while a workload runs.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
SK_ROOT=$ROOT
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/vm/vm.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

KERNEL=$(sh tests/vm/fetch-kernel.sh)
export SKBUILD_BTF=$KERNEL/vmlinux
mkdir -p "$T/data"

say "Building the shipped schedulers against the BTF of kernel $(cat "$KERNEL/release")"
names=""
for d in scheds/*/; do
	n=$(basename "$d")
	echo "\$ skbuild build $d -o $n.oci"
	"$SKBUILD" build "$d" -o "$T/data/$n.oci" -t demo
	names="$names $n"
done

say "What the fifo artifact needs from a kernel"
echo "\$ skbuild inspect fifo.oci:demo"
"$SKBUILD" inspect "$T/data/fifo.oci:demo"

say "Booting the sched_ext kernel in qemu; skrun attaches each scheduler"
cat >"$T/guest.sh" <<GUEST
for s in $names; do
	echo
	echo "guest\$ skrun run --insecure-skip-verify /data/\$s.oci:demo &"
	skrun run --insecure-skip-verify /data/\$s.oci:demo &
	pid=\$!
	for _ in \$(seq 50); do [ "\$(cat /sys/kernel/sched_ext/state)" = enabled ] && break; sleep 0.1; done
	echo "guest: state=\$(cat /sys/kernel/sched_ext/state) ops=\$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)"
	echo "guest: running two CPU-bound loops under \$s"
	p=""; for j in 1 2; do (i=0; while [ \$i -lt 20000 ]; do i=\$((i+1)); done) & p="\$p \$!"; done
	wait \$p
	echo "guest: workload done; sending SIGTERM to skrun"
	kill -TERM \$pid; wait \$pid
	echo "guest: state=\$(cat /sys/kernel/sched_ext/state)"
done
echo
dmesg | grep sched_ext
GUEST
if vm_run "$T/vm" "$T/guest.sh" "$SKRUN:/bin/skrun" "$T/data:/data" >"$T/vm.out" 2>&1; then
	sed -n '/SKVM-START/,/SKVM-EXIT/p' "$T/vm/console.log" | grep -v '^SKVM-'
	say "Done: every shipped scheduler was built, attached on a real sched_ext kernel and detached cleanly."
else
	cat "$T/vm.out"
	echo "demo: the VM run failed" >&2
	exit 1
fi
