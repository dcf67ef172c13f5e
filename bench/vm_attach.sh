#!/bin/sh
# Attach benchmark in the sched_ext guest (one boot): for each scheduler,
# N alternating runs of the bare libbpf loader and `skrun run`, each timed
# inside the guest by bench/attach_timer from the loader's start to
# /sys/kernel/sched_ext/state = enabled, with the loader's VmHWM/VmRSS. qemu
# runs with -icount shift=0,sleep=off (see below) unless SKVM_ICOUNT says
# otherwise.
#
#   sh bench/vm_attach.sh OUT ITERATIONS SCHED...
#
# Writes to OUT one line per run:
#   SCHED TOOL RUN attach_us=N hwm_kb=N rss_kb=N settled_hwm_kb=N settled_rss_kb=N exit=N
# TOOL is bare, skrun, or skrun-cold (the first, unmeasured skrun run, which
# also copies the layout into the empty store). Exits non-zero with the
# reason on stderr when anything cannot be built, booted or measured.
SK_ROOT=${SK_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
export SK_ROOT
. "$SK_ROOT/tests/lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"

die() {
	echo "vm_attach: $*" >&2
	exit 1
}

[ $# -ge 3 ] || die "usage: vm_attach.sh OUT ITERATIONS SCHED..."
out=$1
iters=$2
shift 2
vm_kernel_ready || die "no test kernel"
[ -x "$SKRUN" ] || die "$SKRUN missing (make all)"
[ -x "$SKBUILD" ] || die "$SKBUILD missing (make all)"

CFLAGS="-std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -O2"
mkdir -p "$T/data" "$T/bin"
# shellcheck disable=SC2046,SC2086 # flag lists are word lists
gcc $CFLAGS "$SK_ROOT/bench/bare_loader.c" -o "$T/bin/bare_loader" $(pkg-config --cflags --libs libbpf) ||
	die "cannot compile bench/bare_loader.c"
# shellcheck disable=SC2086 # a flag list
gcc $CFLAGS "$SK_ROOT/bench/attach_timer.c" -o "$T/bin/attach_timer" ||
	die "cannot compile bench/attach_timer.c"

export SCHEDKIT_CACHE="${SCHEDKIT_CACHE:-$T/cache}"
for s in "$@"; do
	"$SKBUILD" build -q "$SK_ROOT/scheds/$s" -o "$T/data/$s.oci" -t bench \
		--btf "$SK_KERNEL/vmlinux" >"$T/build.log" 2>&1 || {
		cat "$T/build.log" >&2
		die "skbuild build scheds/$s failed"
	}
	# The very object skrun loads: the bpf layer of the amd64 manifest.
	python3 - "$T/data/$s.oci" "$T/data/$s.bpf.o" <<'PY' || die "no bpf layer in $s.oci"
import json, os, shutil, sys
root, dest = sys.argv[1], sys.argv[2]
def blob(d):
    return os.path.join(root, "blobs", "sha256", d.split(":")[1])
top = json.load(open(os.path.join(root, "index.json")))["manifests"][0]
node = json.load(open(blob(top["digest"])))
if "manifests" in node:
    m = [m for m in node["manifests"] if m.get("platform", {}).get("architecture") == "amd64"][0]
    node = json.load(open(blob(m["digest"])))
layer = [l for l in node["layers"] if l["mediaType"].endswith(".bpf.v1+elf")][0]
shutil.copyfile(blob(layer["digest"]), dest)
PY
done

cat >"$T/guest.sh" <<EOF
iters=$iters
scheds="$*"
EOF
cat >>"$T/guest.sh" <<'EOF'
fails=0
# run SCHED TOOL RUN SETTLE_MS LOADER...: one timed attach, reported on a BENCH line.
run() {
	s=$1 tool=$2 n=$3 settle=$4
	shift 4
	if r=$(attach_timer "$settle" /tmp/loader.log -- "$@" 2>/tmp/timer.err); then
		echo "BENCH $s $tool $n $r"
	else
		echo "BENCHFAIL $s $tool $n: $(cat /tmp/timer.err)"
		sed 's/^/    [loader] /' /tmp/loader.log
		fails=$((fails + 1))
	fi
}
for s in $scheds; do
	run "$s" skrun-cold 0 0 skrun run --insecure-skip-verify "/data/$s.oci:bench"
	run "$s" bare-warmup 0 0 bare_loader "/data/$s.bpf.o"
done
i=1
while [ $i -le $iters ]; do
	for s in $scheds; do
		run "$s" bare $i 300 bare_loader "/data/$s.bpf.o"
		run "$s" skrun $i 300 skrun run --insecure-skip-verify "/data/$s.oci:bench"
	done
	i=$((i + 1))
done
[ $fails = 0 ]
EOF

# The fetch helper goes next to skrun, where skrun looks for it, when it exists.
helper=$(dirname "$SKRUN")/skrun-fetch
[ -x "$helper" ] && set -- "$helper:/bin/skrun-fetch" || set --
# The guest's clock counts instructions (1 ns each): on a shared, loaded host,
# wall time in TCG measures the host's load and qemu's code translation more
# than the loaders. SKVM_ICOUNT= (empty) measures wall time instead.
SKVM_ICOUNT=${SKVM_ICOUNT-shift=0,sleep=off} SKVM_TIMEOUT=${SKVM_TIMEOUT:-600} vm_run "$T/vm" "$T/guest.sh" "$@" "$SKRUN:/bin/skrun" \
	"$T/bin/bare_loader:/bin/bare_loader" "$T/bin/attach_timer:/bin/attach_timer" \
	"$T/data:/data" >"$T/vm.out" 2>&1
rc=$?
grep -ao 'BENCH .*' "$T/vm/console.log" | sed 's/^BENCH //' >"$out"
if [ $rc != 0 ]; then
	grep -a -A5 'BENCHFAIL' "$T/vm/console.log" >&2
	tail -n 20 "$T/vm.out" >&2
	die "guest run failed (vm_run returned $rc)"
fi
[ -s "$out" ] || die "the guest reported no measurement (see above)"
