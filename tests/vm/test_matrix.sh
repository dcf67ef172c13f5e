#!/bin/sh
# The kernel matrix: the shipped fifo and vtime artifacts and two upstream
# examples (scx_simple, and scx_qmap of struct sched_ext_ops_cid, built
# against the 7.2 kernel's tools/sched_ext headers), each built ONCE against
# the default (sid 7.2) BTF, are checked
# and run unchanged on every kernel of the matrix (`make kernel
# KERNELS="6.16 7.1 sid 7.3"`), one boot per kernel. scx_qmap is built with
# trixie's clang-22 (tests/vm/fetch-clang.sh): clang-19, bookworm's newest,
# miscompiles one of its arena stores (see the end of docs/kernels.md), and
# runs with its loader's tunables (--set max_tasks=16384 ...).
#
# The sid (7.2) boot also runs two schedulers built from several .bpf.c
# files: tests/scheds/multi (three compile units linked by skbuild) and
# scx_flow from ../shared/upstream/scx (tests/scx/flow.json).
#
# Debian's 7.1.13 cannot call scx_bpf_create_dsq (its implicit aux argument
# has no scx_bpf_create_dsq_impl in that BTF): fifo, which tests
# sk_can_create_dsq() and falls back to SCX_DSQ_GLOBAL, runs there; vtime,
# which needs a vtime-ordered DSQ of its own, and the upstream examples are
# refused by check and kernel alike.
#
# Each cell: `skrun check` in the guest says "can run" or "cannot run"; the
# kernel must agree. "can run": `skrun run` attaches (state enabled, a CPU
# workload completes, SIGTERM detaches). "cannot run": bench/bare_loader.c,
# which loads and attaches without any check, fails and the state stays
# disabled. The table is written to docs/kernels.md.
#
# Env: SK_MATRIX_KERNELS (default "6.16 7.1 sid 7.3").
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"

KCACHE=${SCHEDKIT_KERNEL_CACHE:-/var/cache/schedkit/kernel}
KERNELS=${SK_MATRIX_KERNELS:-6.16 7.1 sid 7.3}
SCX=${SCHEDKIT_SCX_CACHE:-/var/cache/schedkit/scx}
S=$SCX/tools/sched_ext
# Fetched once into the cache (make check fetches only the default kernel).
if ! SCHEDKIT_KERNEL_CACHE=$KCACHE sh "$SK_ROOT/tests/vm/fetch-kernel.sh" $KERNELS >"$T/fetch.log" 2>&1; then
	fail "matrix kernels" "$(tail -2 "$T/fetch.log"); run make kernel KERNELS=\"$KERNELS\""
	exit 1
fi
[ -d "$S/include/scx" ] || {
	fail scx-sources "no upstream sched_ext sources at $SCX; run tests/vm/fetch-scx.sh"
	exit 1
}

export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache
mkdir -p "$T/data" "$T/bin"
gcc -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 "$SK_ROOT/bench/bare_loader.c" \
	-o "$T/bin/bare_loader" $(pkg-config --cflags --libs libbpf) ||
	{ fail "bare loader" "cannot compile bench/bare_loader.c"; exit 1; }

# The very object skrun loads: the bpf layer of the amd64 manifest.
bpf_layer() {
	python3 - "$1" "$2" <<'PY'
import json, os, shutil, sys
root, dest = sys.argv[1], sys.argv[2]
def blob(d):
    return os.path.join(root, "blobs", "sha256", d.split(":")[1])
node = json.load(open(blob(json.load(open(os.path.join(root, "index.json")))["manifests"][0]["digest"])))
if "manifests" in node:
    m = [m for m in node["manifests"] if m.get("platform", {}).get("architecture") == "amd64"][0]
    node = json.load(open(blob(m["digest"])))
layer = [l for l in node["layers"] if l["mediaType"].endswith(".bpf.v1+elf")][0]
shutil.copyfile(blob(layer["digest"]), dest)
PY
}

# scx_qmap: the kernel's reference scheduler, of struct sched_ext_ops_cid
# (7.2), with arena code that clang-19 miscompiles: trixie's clang-22, run
# from a cache (nothing installed), builds it right. Its llvm-strip-22 is
# found on PATH, as skbuild looks for the strip matching the compiler.
if ! CLANG_BIN=$(sh "$SK_ROOT/tests/vm/fetch-clang.sh" 2>"$T/clang.log"); then
	fail "arena compiler" "$(tail -1 "$T/clang.log"); scx_qmap needs a clang newer than 19 (tests/vm/fetch-clang.sh)"
	exit 1
fi
ARENA_CC=${SCX_ARENA_CC:-$CLANG_BIN/clang-22}
PATH=$CLANG_BIN:$PATH
scheds="fifo vtime scx_simple scx_qmap"
# Its loader's values: max_tasks sizes the task-context arena (0 is refused by
# qmap_init), slice_ns is SCX_SLICE_DFL.
echo "--set max_tasks=16384 --set slice_ns=20000000" >"$T/data/scx_qmap.args"

# Only in the sid boot: the multi-object schedulers.
SCX_UPSTREAM_COMMIT=7a58a3a1a857fa748ea5a3bda5ad312afbbeca5b
UP=${SCHEDKIT_SCX_UPSTREAM:-$SK_ROOT/../shared/upstream/scx}
sid_extra=multi
if [ -f "$UP/scheds/experimental/scx_flow/src/bpf/main.bpf.c" ]; then
	sid_extra="$sid_extra scx_flow"
else
	echo "SKIP: scx_flow: no upstream scx sources at $UP; fetch sched-ext/scx commit $SCX_UPSTREAM_COMMIT (scheds/include and scheds/experimental/scx_flow/src/bpf) there"
fi
for s in $scheds $sid_extra; do
	case $s in
	scx_qmap) set -- "$S/$s.bpf.c" -I "$S/include" -I "$S/include/bpf-compat" --cc "$ARENA_CC" ;;
	scx_flow) set -- "$UP/scheds/experimental/scx_flow/src/bpf" --manifest "$SK_ROOT/tests/scx/flow.json" \
		-I "$UP/scheds/include" -I "$UP/scheds/include/bpf-compat" ;;
	multi) set -- "$SK_ROOT/tests/scheds/multi" ;;
	scx_*) set -- "$S/$s.bpf.c" -I "$S/include" -I "$S/include/bpf-compat" ;;
	*) set -- "$SK_ROOT/scheds/$s" ;;
	esac
	if ! "$SKBUILD" build -q "$@" -o "$T/data/$s.oci" -t test >"$T/build.log" 2>&1; then
		fail "build $s once" "$(tail -3 "$T/build.log")"
		exit 1
	fi
	bpf_layer "$T/data/$s.oci" "$T/data/$s.bpf.o" || { fail "bpf layer of $s" "none"; exit 1; }
	pass "build $s once (digest $(sha256sum "$T/data/$s.bpf.o" | cut -c1-12))"
done
echo "$scheds" >"$T/data/scheds"
echo "$sid_extra" >"$T/data/scheds.$(cat "$KCACHE/sid/release")"

# scx_qmap's ops map is a struct sched_ext_ops_cid: on its own kernel's BTF the
# check compares against that struct, where select_cid, set_cmask and dump_cid are.
"$SKRUN" check "$T/data/scx_qmap.oci:test" --btf "$KCACHE/sid/vmlinux" >"$T/qmap.check" 2>&1
if grep -q '^result: can run' "$T/qmap.check" &&
	grep -Eq '^callback select_cid +in struct sched_ext_ops_cid +ok$' "$T/qmap.check"; then
	pass "scx_qmap on sid's BTF: can run, callbacks checked against struct sched_ext_ops_cid"
else
	fail "scx_qmap on sid's BTF" "$(grep -E 'missing|result' "$T/qmap.check" | head -5)"
fi

cat >"$T/guest.sh" <<'EOF'
state() { cat /sys/kernel/sched_ext/state; }
workload() {
	pids=""
	for j in 1 2; do
		(i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done) &
		pids="$pids $!"
	done
	wait $pids
}
rel=$(uname -r)
extra=
[ -f /data/scheds.$rel ] && extra=$(cat /data/scheds.$rel)
for s in $(cat /data/scheds) $extra; do
	t0=$(date +%s)
	# --load: the BTF comparison, then the object through libbpf and the verifier
	# (nothing attached), which catches what names alone cannot, such as a
	# kfunc whose prototype changed.
	skrun check --load /data/$s.oci:test >/tmp/$s.check 2>&1
	crc=$?
	btf=
	grep -q '^result: can run' /tmp/$s.check && btf=can
	grep -q '^result: cannot run' /tmp/$s.check && btf=cannot
	why=$(grep -E ' missing$' /tmp/$s.check | sed 's/  */ /g' | head -3 | tr '\n' ';')
	if [ "$btf" = can ] && [ $crc != 0 ]; then
		why="load: $(grep -m1 -E 'libbpf: |verifier: |hint: ' /tmp/$s.check | cut -c1-160)"
		btf=can-btf
	fi
	[ $crc = 0 ] && v=can || v=cannot
	[ -n "$btf" ] || v="error:$crc"
	if [ $v = can ]; then
		# shellcheck disable=SC2046
		skrun run --insecure-skip-verify /data/$s.oci:test --restart never \
			$(cat /data/$s.args 2>/dev/null) >/tmp/$s.log 2>&1 &
		pid=$!
		for _ in $(seq 150); do
			grep -q attached /tmp/$s.log && break
			kill -0 $pid 2>/dev/null || break
			sleep 0.1
		done
		if [ "$(state)" = enabled ] && workload && [ "$(state)" = enabled ]; then
			kill -TERM $pid; wait $pid
			[ "$(state)" = disabled ] && k=attached || k="stuck:$(state)"
		else
			kill -TERM $pid 2>/dev/null; wait $pid
			# The kernel's words, not libbpf's summary: the first error line of the log.
			k="refused:$(grep -m1 -iE 'error|fail|refus|invalid' /tmp/$s.log | cut -c1-160)"
			sed 's/^/    [guest] /' /tmp/$s.log | tail -n 25
		fi
		echo "CELL|$rel|$s|can|$k|$btf|$(cat /data/$s.args 2>/dev/null)"
	elif [ $v = cannot ]; then
		sed 's/^/    [guest] /' /tmp/$s.check | grep -E 'missing|libbpf|verifier: |hint' | head -n 8
		bare_loader /data/$s.bpf.o >/tmp/$s.bare 2>&1 &
		pid=$!
		for _ in $(seq 100); do
			grep -q attached /tmp/$s.bare && break
			kill -0 $pid 2>/dev/null || break
			sleep 0.1
		done
		if [ "$(state)" = enabled ]; then
			k=attached
			kill -TERM $pid
		else
			k="refused:$(grep -m1 -iE 'failed|error|invalid' /tmp/$s.bare | cut -c1-160)"
			sed 's/^/    [guest] /' /tmp/$s.bare | tail -n 10
		fi
		wait $pid
		echo "CELL|$rel|$s|cannot|$k|$btf|$why"
	else
		echo "CELL|$rel|$s|$v|-|-|$(tail -1 /tmp/$s.check | cut -c1-160)"
	fi
	echo "TIME|$rel|$s|$(($(date +%s) - t0))"
done
EOF

: >"$T/cells"
: >"$T/times"
for k in $KERNELS; do
	t0=$(date +%s)
	# libbpf reads __kconfig externs (scx_flow's) from /boot/config-RELEASE.
	set -- "$SKRUN:/bin/skrun" "$T/bin/bare_loader:/bin/bare_loader" "$T/data:/data"
	[ -s "$KCACHE/$k/config" ] && set -- "$@" "$KCACHE/$k/config:/boot/config-$(cat "$KCACHE/$k/release")"
	# Up to 8 artifacts, each verified twice (check --load, run) under emulation
	# on a shared 2-core host: more than vm_run's default 120 s when loaded.
	SKVM_TIMEOUT=${SKVM_TIMEOUT:-300} SKVM_KERNEL=$KCACHE/$k \
		vm_run "$T/vm-$k" "$T/guest.sh" "$@" >"$T/vm-$k.out" 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	if [ $rc = 0 ]; then pass "boot $k ($(cat "$KCACHE/$k/release")) ran every artifact in $secs s"; else
		fail "boot $k" "vm_run returned $rc"
		tail -n 30 "$T/vm-$k.out"
		continue
	fi
	grep -a '^CELL|' "$T/vm-$k/console.log" | sed "s/^CELL|/$k|/" >>"$T/cells"
	grep -a '^TIME|' "$T/vm-$k/console.log" | sed "s/^TIME|/$k|/" >>"$T/times"
	grep -a '^    \[guest\]' "$T/vm-$k/console.log"
done

# Every cell: the check and the kernel agree.
while IFS='|' read -r k rel s verdict kern btf why; do
	case $verdict/$kern in
	can/attached) pass "$k $s: check says can run, and it attaches and runs${why:+ (with $why)}" ;;
	cannot/refused:*) pass "$k $s: check says cannot run ($why), and the kernel refuses (${kern#refused:})" ;;
	*) fail "$k $s: check and kernel agree" "check '$verdict', kernel '$kern' ($why)" ;;
	esac
done <"$T/cells"
n=$(wc -l <"$T/cells")
want=$(($(echo "$KERNELS" | wc -w) * $(echo "$scheds" | wc -w)))
case " $KERNELS " in *" sid "*) want=$((want + $(echo "$sid_extra" | wc -w))) ;; esac
[ "$n" = "$want" ] && pass "all $want cells reported" || fail "all cells reported" "$n of $want"
# What this test's 7.2 additions cost (guest clock, emulated): qmap's run and
# the multi-object schedulers' cells.
extra_s=$(awk -F'|' -v x=" scx_qmap $sid_extra " '$1 == "sid" && index(x, " " $3 " ") {s += $4} END {print s + 0}' "$T/times")
echo "# time: in the sid boot, scx_qmap and $sid_extra took ${extra_s} s of guest time" \
	"(per cell: $(awk -F'|' '$1 == "sid" {printf "%s %ss ", $3, $4}' "$T/times"))"

{
	cat <<'EOF'
# Kernels

Which schedulers run on which kernel. Generated by `tests/vm/test_matrix.sh`
(part of `make check`): every artifact is built once, against the sid 7.2
kernel's BTF, and run unchanged on Debian's sched_ext cloud kernels, one qemu
boot per kernel (`make kernel KERNELS="6.16 7.1 sid 7.3"` fetches them into
`/var/cache/schedkit/kernel/NAME/`). In each boot `skrun check --load`
gives its verdict: first the artifact's requirements against the kernel's BTF
(the "BTF" column, what `skrun run` checks before loading), then the object
through libbpf and the verifier, nothing attached. Where it says *can run*,
`skrun run` attaches and a CPU workload completes; where it says *cannot
run*, the bare libbpf loader (`bench/bare_loader.c`, no checks) shows that
the kernel refuses too. scx_qmap's ops map is a `struct sched_ext_ops_cid`.

| kernel | scheduler | skrun check (BTF) | skrun check --load | the kernel | why not |
|---|---|---|---|---|---|
EOF
	while IFS='|' read -r k rel s verdict kern btf why; do
		case $kern in
		attached) kk="attaches, runs" ;;
		refused:*) kk="refuses: \`$(echo "${kern#refused:}" | sed 's/|/\\|/g')\`" ;;
		*) kk=$kern ;;
		esac
		case $btf in can-btf) b="can run" ;; *) b="$btf run" ;; esac
		# a cell that runs: its why is the tunables it ran with
		[ "$verdict" = can ] && [ -n "$why" ] && why="ran with \`$why\`"
		echo "| $rel | $s | $b | $verdict run | $kk | $(echo "$why" | sed 's/;$//; s/; */; /g; s/|/\\|/g') |"
	done <"$T/cells"
	cat "$SK_ROOT/tests/vm/kernels-notes.md"
} >"$SK_ROOT/docs/kernels.md"
pass "table written to docs/kernels.md"
