#!/bin/sh
# Upstream sched_ext example schedulers (the kernel's tools/sched_ext/,
# fetched by tests/vm/fetch-scx.sh) built unchanged against their
# include/scx headers by skbuild, then run by `skrun run` in the sched_ext
# guest without their own user-space halves. One boot for all of them.
#
# Expected per scheduler (column 2 of the list below):
#   run     attaches (state enabled, root/ops is its name), a CPU-bound
#           workload completes, SIGTERM detaches it (state disabled) and the
#           `uei` exit record reads kind 64 "unregistered from user space".
#   refuse  skrun refuses it before attaching, saying why (scx_userland
#           built with tests/scx/userland.json, which declares that it needs
#           its user-space half).
#   eject   it attaches and then ejects itself with scx_bpf_error because
#           its user-space part is absent (scx_userland); skrun reports the
#           exit kind and the scheduler's message (and is told not to restart).
# `skrun run` options stand in for what each one's loader would set, or
# the load declarations of a schedkit.json in tests/scx/ do (scx_pair: its
# map sized and rodata filled from host facts; scx_bpfland, the scx
# project's, from ../shared/upstream/scx: rodata from host facts, its
# SEC("syscall") programs run per CPU, ops flags from the kernel's BTF).
# Column 5 lists what skrun must log for a `run` row (;-separated).
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"

if ! vm_kernel_ready 2>"$T/kernel.err"; then
	fail vm-kernel "$(cat "$T/kernel.err")"
	exit 1
fi
SCX=${SCHEDKIT_SCX_CACHE:-/var/cache/schedkit/scx}
# The pinned scx commit of ../shared/upstream/scx (its README names it).
SCX_UPSTREAM_COMMIT=7a58a3a1a857fa748ea5a3bda5ad312afbbeca5b
if [ ! -d "$SCX/tools/sched_ext/include/scx" ]; then
	fail scx-sources "no upstream sched_ext sources at $SCX; run tests/vm/fetch-scx.sh"
	exit 1
fi
S=$SCX/tools/sched_ext
# scx_qmap is not run here: built with clang-19 the 7.2 verifier still rejects
# a store in qmap_dequeue (R7 invalid mem access 'scalar'); the host test
# builds and analyses it. scx_sdt and scx_qmap keep pointers in a BPF arena and rely on the compiler
# to emit the address-space casts (clang >= 18, __BPF_FEATURE_ADDR_SPACE_CAST):
# built with clang-16 they compile but the verifier rejects them.
ARENA_CC=${SCX_ARENA_CC:-clang-19}
command -v "$ARENA_CC" >/dev/null 2>&1 ||
	fail "arena compiler" "$ARENA_CC not found: scx_sdt and scx_qmap need clang >= 18 (apt-get install clang-19 llvm-19)"
export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache
mkdir -p "$T/data"

# NAME|expect[:PATTERN]|skbuild options|skrun run options|must log
M=$SK_ROOT/tests/scx
cat >"$T/list" <<EOF
scx_simple|run||
scx_cpu0|run||
scx_flatcg|run||--set nr_cpus=2 --set cgrp_slice_ns=20000000
scx_central|run||--set slice_ns=20000000
scx_sdt|run|--cc $ARENA_CC|
scx_pair|run|--manifest $M/pair.json||map pair_ctx max_entries=1;nr_cpu_ids=2;pair_cpu\[0\]=1;pair_cpu\[1\]=0;in_pair_idx\[1\]=1;map cgrp_q_arr: 4096 inner maps
scx_userland|eject:User scheduler pid uninitialized||--restart never
EOF
while IFS='|' read -r name expect bopts ropts logs; do
	# shellcheck disable=SC2086
	check "build $name for the VM${bopts:+ ($bopts)}" "$SKBUILD" build -q "$S/$name.bpf.c" \
		-o "$T/data/$name.oci" -t test -I "$S/include" -I "$S/include/bpf-compat" $bopts
done <"$T/list"
# The same scx_userland with a schedkit.json that declares its user-space half.
check "build scx_userland_declared (--manifest tests/scx/userland.json)" "$SKBUILD" build -q \
	"$S/scx_userland.bpf.c" --manifest "$M/userland.json" -o "$T/data/scx_userland_declared.oci" \
	-t test -I "$S/include" -I "$S/include/bpf-compat"
echo "scx_userland_declared|refuse:needs its own user-space half at run time: tasks are scheduled by its user-space half||--restart never|" >>"$T/list"
# scx_bpfland, from the scx project (not the kernel): its BPF side and
# headers, built unchanged with tests/scx/bpfland.json.
UP=${SCHEDKIT_SCX_UPSTREAM:-$SK_ROOT/../shared/upstream/scx}
BL=$UP/scheds/rust/scx_bpfland/src/bpf
if [ -f "$BL/main.bpf.c" ] && [ -d "$UP/scheds/include/scx" ]; then
	check "build scx_bpfland (scx project, --manifest tests/scx/bpfland.json)" "$SKBUILD" build \
		-q "$BL/main.bpf.c" --manifest "$M/bpfland.json" -o "$T/data/scx_bpfland.oci" -t test \
		-I "$UP/scheds/include" -I "$UP/scheds/include/bpf-compat"
	# smt_enabled and numa_enabled follow the 2-CPU, 1-node, no-SMT guest;
	# slice_max and sticky_tasks are its tunables, set by the operator.
	echo "scx_bpfland|run||--set slice_max=10000000 --set sticky_tasks=false|smt_enabled=0;numa_enabled=0;cpu_capacity\[1\]=1024;enable_primary_cpu ran 2 time(s);enable_sibling_cpu ran 0 time(s);then --set sticky_tasks=false;notice: no kernel config" >>"$T/list"
else
	# A skip, never a pass: nothing about scx_bpfland is counted.
	echo "SKIP: scx_bpfland: no upstream scx sources at $UP; fetch sched-ext/scx commit $SCX_UPSTREAM_COMMIT (scheds/include and scheds/rust/scx_bpfland/src/bpf) there"
fi
cut -d'|' -f1,2,4,5 "$T/list" >"$T/data/list"

cat >"$T/guest.sh" <<'EOF'
ok() { echo "PASS: vm: $1"; }
no() { echo "FAIL: vm: $1: $2"; }
state() { cat /sys/kernel/sched_ext/state; }
show() { sed 's/^/    [guest] /' "$1"; }

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

# Starts skrun in the background (pid in $pid) and waits until it says it
# attached or it exits.
start() {
	# shellcheck disable=SC2086
	skrun run --insecure-skip-verify /data/$1.oci:test $2 >/tmp/$1.log 2>&1 &
	pid=$!
	for _ in $(seq 150); do
		grep -q "attached" /tmp/$1.log && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
}

[ "$(state)" = disabled ] && ok "initial state disabled" || no "initial state disabled" "$(state)"
# The loader owns the headers' __SCX_* enum placeholders: not settable.
if skrun run --insecure-skip-verify /data/scx_simple.oci:test --restart never --set __SCX_SLICE_DFL=1 >/tmp/set.log 2>&1; then
	no "--set __SCX_SLICE_DFL refused" "skrun accepted it"
elif grep -q "no tunable named '__SCX_SLICE_DFL'" /tmp/set.log; then ok "--set __SCX_SLICE_DFL refused"
else no "--set __SCX_SLICE_DFL refused" "$(cat /tmp/set.log)"; fi
# Each row's guest seconds, so that the cost of every scheduler is known.
took() { echo "    [time] $1: $(($(date +%s) - r0)) s"; }
# scx_bpfland's tunables are typed too: an unsigned one takes no sign.
if [ -d /data/scx_bpfland.oci ]; then
	r0=$(date +%s)
	if skrun run --insecure-skip-verify /data/scx_bpfland.oci:test --restart never --set slice_max=-5 >/tmp/blset.log 2>&1; then
		no "scx_bpfland --set slice_max=-5 refused" "skrun accepted it"
	elif grep -q "the tunable is unsigned and takes no sign" /tmp/blset.log && [ "$(state)" = disabled ]; then
		ok "scx_bpfland --set slice_max=-5 refused (unsigned), nothing attached"
	else no "scx_bpfland --set slice_max=-5 refused" "$(cat /tmp/blset.log)"; fi
	took "scx_bpfland --set refusal"
	r0=$(date +%s)
	# check --load loads it as run does: with its declarations applied
	if skrun check --load /data/scx_bpfland.oci:test >/tmp/blchk.log 2>&1 &&
		grep -q "verifier: accepted, with the artifact's load declarations applied" /tmp/blchk.log; then
		ok "scx_bpfland check --load: accepted with its load declarations"
	else no "scx_bpfland check --load" "$(tail -n 5 /tmp/blchk.log)"; fi
	took "scx_bpfland check --load"
	r0=$(date +%s)
	# The declarations are what makes it run: the operator's --set wins over
	# them, and the source's own defaults (smt_enabled and numa_enabled true:
	# what it runs with when no loader fills them) on this one-node guest,
	# without the per-node idle flag that the declarations add only on a NUMA
	# host, get it ejected by the kernel.
	skrun run --insecure-skip-verify /data/scx_bpfland.oci:test --restart never \
		--set numa_enabled=true --set smt_enabled=true >/tmp/blnuma.log 2>&1 &
	pid=$!
	for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	kill -TERM $pid 2>/dev/null
	wait $pid
	if grep -q "per-node idle tracking is disabled" /tmp/blnuma.log && [ "$(state)" = disabled ]; then
		ok "scx_bpfland with its source defaults set back (numa/smt true) on one node: ejected by the kernel (per-node idle tracking is disabled)"
	else no "scx_bpfland with numa/smt true ejected" "$(tail -n 5 /tmp/blnuma.log)"; fi
	show /tmp/blnuma.log
	took "scx_bpfland ejected with its source defaults"
fi
while IFS='|' read -r s expect opts logs; do
	r0=$(date +%s)
	case $expect in
	refuse:*)
		# shellcheck disable=SC2086
		skrun run --insecure-skip-verify /data/$s.oci:test $opts >/tmp/$s.log 2>&1
		rc=$?
		if [ $rc != 0 ] && grep -q "${expect#refuse:}" /tmp/$s.log; then
			ok "$s refused before attach, saying why (rc $rc)"
		else no "$s refused before attach" "rc $rc, no '${expect#refuse:}' in the output"; fi
		[ "$(state)" = disabled ] && ok "$s state disabled after refusal" || no "$s state disabled after refusal" "$(state)"
		show /tmp/$s.log
		took "$s"
		continue
		;;
	eject:*)
		start "$s" "$opts"
		for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
		if kill -0 $pid 2>/dev/null; then
			no "$s ejected itself" "skrun still running, state $(state)"
			kill -TERM $pid
		fi
		wait $pid
		if grep -q "kind=1025 (scx_bpf_error)" /tmp/$s.log && grep -q "${expect#eject:}" /tmp/$s.log; then
			ok "$s ejected itself; skrun reports kind 1025 and '${expect#eject:}'"
		else no "$s ejected itself" "no 'kind=1025 (scx_bpf_error)' and '${expect#eject:}' in the output"; fi
		[ "$(state)" = disabled ] && ok "$s state disabled after ejection" || no "$s state disabled after ejection" "$(state)"
		show /tmp/$s.log
		took "$s"
		continue
		;;
	esac
	ops=${s#scx_}
	start "$s" "$opts"
	if [ "$(state)" = enabled ]; then ok "$s enabled"; else
		no "$s enabled" "state $(state); $(grep -E 'invalid|rejected|error|no such|cannot' /tmp/$s.log | tail -n 1)"
		kill -TERM $pid 2>/dev/null
		wait $pid
		show /tmp/$s.log
		took "$s"
		continue
	fi
	o=$(cat /sys/kernel/sched_ext/root/ops 2>/dev/null)
	[ "$o" = "$ops" ] && ok "$s root/ops is $ops" || no "$s root/ops" "'$o'"
	t0=$(date +%s)
	if workload; then ok "$s workload completed in $(($(date +%s) - t0)) s"; else no "$s workload completed" "rc $?"; fi
	[ "$(state)" = enabled ] && ok "$s still enabled after workload" || no "$s still enabled after workload" "$(state)"
	kill -TERM $pid
	wait $pid
	rc=$?
	[ $rc = 0 ] && ok "$s skrun exit 0 on SIGTERM" || no "$s skrun exit 0 on SIGTERM" "rc $rc"
	[ "$(state)" = disabled ] && ok "$s disabled after SIGTERM" || no "$s disabled after SIGTERM" "$(state)"
	if grep -q "kind=64 (unregistered from user space)" /tmp/$s.log; then
		ok "$s uei exit record: kind 64 (unregistered from user space)"
	else no "$s uei exit record" "$(cat /tmp/$s.log)"; fi
	# what the load declarations did, as skrun logs it
	rest=$logs
	while [ -n "$rest" ]; do
		want=${rest%%;*}
		[ "$rest" = "${rest#*;}" ] && rest="" || rest=${rest#*;}
		if grep -q -- "$want" /tmp/$s.log; then ok "$s logged '$want'"
		else no "$s logged '$want'" "not in skrun's output"; fi
	done
	show /tmp/$s.log
	took "$s"
done </data/list
EOF

t0=$(date +%s)
# Nine schedulers (about 60 s of guest time on an idle machine, twice that
# under `make check`'s load): more than vm_run's default 120 s allows.
SKVM_TIMEOUT=${SKVM_TIMEOUT:-300} vm_run "$T/vm" "$T/guest.sh" "$SKRUN:/bin/skrun" "$T/data:/data" >"$T/vm.out" 2>&1
rc=$?
grep -E '^(PASS|FAIL|SKIP): |^    ' "$T/vm/console.log" | tr -d '\r'
if [ $rc = 0 ]; then pass "vm scenario ran in $(($(date +%s) - t0)) s"; else
	fail "vm scenario ran" "vm_run returned $rc"
	tail -n 40 "$T/vm.out"
fi

# docs/upstream.md: what each scheduler did in this boot, from the guest's own
# verdicts (a row with any FAIL line says so rather than what was expected).
if [ $rc = 0 ]; then
	C=$T/vm/console.log
	rel=$(cat "$SKVM_KERNEL/release" 2>/dev/null || echo "the sid kernel")
	{
		echo "# Upstream schedulers under skrun"
		echo
		echo "Generated by \`tests/vm/test_scx_upstream.sh\` (part of \`make check\`) on"
		echo "$rel, 2 CPUs, one NUMA node, no SMT: each scheduler built unchanged by"
		echo "skbuild from its upstream source and run by \`skrun run\` without its own"
		echo "user-space loader. The kernel examples come from the kernel's"
		echo "\`tools/sched_ext\`, scx_bpfland from the scx project (\`../shared/upstream/scx\`,"
		echo "with \`tests/scx/bpfland.json\`'s load-time declarations). Runs on other kernels,"
		echo "scx_qmap and scx_flow: docs/kernels.md."
		echo
		echo "| scheduler | source | under skrun | why |"
		echo "|---|---|---|---|"
		while IFS='|' read -r s expect bopts _; do
			case $s in scx_bpfland) src="scx project" ;; *) src="kernel tools/sched_ext" ;; esac
			case $s in *_declared) src="$src, with tests/scx/userland.json" ;; esac
			case $bopts in *--manifest*)
				m=${bopts#*--manifest }
				src="$src, with tests/scx/$(basename "${m%% *}")"
				;;
			esac
			if grep -q "^FAIL: vm: $s " "$C"; then
				res="did not do what was expected (see the test log)"
				why=$(grep -m1 "^FAIL: vm: $s " "$C" | cut -c1-160)
			else
				case $expect in
				refuse:*) res="refused before attach" why=${expect#refuse:} ;;
				eject:*) res="attaches, then ejects itself" why=${expect#eject:} ;;
				*) res="attaches, runs a workload, exits cleanly" why="" ;;
				esac
			fi
			echo "| $s | $src | $res | $why |"
		done <"$T/list"
	} >"$SK_ROOT/docs/upstream.md"
	pass "table written to docs/upstream.md"
fi
