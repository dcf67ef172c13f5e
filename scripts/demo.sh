#!/bin/sh
# The main job end to end, narrated: build the shipped schedulers, sign them
# with a fresh demo key, push them to a local registry started here, pull,
# verify and check them with skrun, then boot the sched_ext kernel in qemu
# and let skrun run one (verified against a trust policy) while a workload
# runs, switch to the other, and stop.
set -eu
cd "$(dirname "$0")/.."
SK_ROOT=$(pwd)
. "$SK_ROOT/tests/lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"
. "$SK_ROOT/tests/registry/lib.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	echo "\$ $*" | sed "s|$T|\$DEMO|g; s|$SK_BUILD/||g"
	"$@"
}
# The helpers' PASS lines are for the test suite; the demo narrates instead.
pass() { :; }

KERNEL=$(sh tests/vm/fetch-kernel.sh)
export SKBUILD_BTF=$KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache SKBUILD_KEY_PASSWORD=demo-password
cd "$T"

say "A local OCI registry (the CNCF distribution registry) on loopback"
reg_start registry
REPO=127.0.0.1:$REG_PORT/scheds
echo "registry: http://127.0.0.1:$REG_PORT"

say "A fresh signing key for the demo (encrypted PKCS#8, password from SKBUILD_KEY_PASSWORD)"
run "$SKBUILD" key generate -o "$T/demo"

say "Build, sign and push every shipped scheduler (kernel BTF: $(cat "$KERNEL/release"))"
names=""
for d in "$SK_ROOT"/scheds/*/; do
	n=$(basename "$d")
	run "$SKBUILD" build "$d" -o "$T/$n.oci" --push "$REPO/$n:1.0.0" --sign "$T/demo.key"
	names="$names $n"
done

say "What the fifo artifact needs from a kernel (read back from the registry)"
run "$SKBUILD" inspect "$REPO/fifo:1.0.0"

say "On a production host: pull by digest and verify against the demo key"
run "$SKRUN" pull --store "$T/store" --key "$T/demo.pub" "$REPO/fifo:1.0.0"
run "$SKRUN" verify --key "$T/demo.pub" "$REPO/vtime:1.0.0"
echo "(an unsigned or wrongly signed artifact stops here)"

say "Check the artifact against the sched_ext kernel's BTF"
run "$SKRUN" check --btf "$KERNEL/vmlinux" --release "$(cat "$KERNEL/release")" "$REPO/vtime:1.0.0"

say "Carry them to an air-gapped host as oci-archives (signatures included)"
mkdir -p "$T/data" "$T/etc"
for n in $names; do
	run "$SKBUILD" save "$REPO/$n:1.0.0" -o "$T/data/$n.tar"
done
cp "$T/demo.pub" "$T/etc/demo.pub"
cat >"$T/etc/policy.json" <<JSON
{ "version": 1, "keys": { "demo": "demo.pub" }, "scopes": { "$REPO": { "keys": ["demo"] } } }
JSON
echo "policy: $(cat "$T/etc/policy.json")"

say "Boot the sched_ext kernel in qemu (no network) and let skrun take over"
cat >"$T/guest.sh" <<'GUEST'
state() { echo "guest: sched_ext state=$(cat /sys/kernel/sched_ext/state) ops=$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)"; }
state
echo 'guest$ skrun run /data/vtime.tar --fallback /data/fifo.tar &'
skrun run /data/vtime.tar --fallback /data/fifo.tar &
pid=$!
for _ in $(seq 100); do [ "$(cat /sys/kernel/sched_ext/state)" = enabled ] && break; sleep 0.1; done
state
echo "guest: two CPU-bound loops under vtime"
p=""; for j in 1 2; do (i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done) & p="$p $!"; done
wait $p
echo 'guest$ skrun status'
skrun status
echo 'guest$ skrun switch /data/fifo.tar'
skrun switch /data/fifo.tar
state
echo 'guest$ skrun stop'
skrun stop
wait $pid
state
dmesg | grep sched_ext
GUEST
if vm_run "$T/vm" "$T/guest.sh" "$SKRUN:/bin/skrun" "$T/data:/data" "$T/etc:/etc/schedkit" >"$T/vm.out" 2>&1; then
	sed -n '/SKVM-START/,/SKVM-EXIT/p' "$T/vm/console.log" | grep -v '^SKVM-'
	say "Done: built, signed, pushed, pulled, verified, checked, attached on a real sched_ext kernel, switched and stopped."
else
	cat "$T/vm.out"
	echo "demo: the VM run failed" >&2
	exit 1
fi
