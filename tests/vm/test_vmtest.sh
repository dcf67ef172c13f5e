#!/bin/sh
# The author's loop, as an author runs it: `skbuild init` from every template,
# then one `skbuild vmtest` of all of them plus the broken test scheduler (one
# boot of the sched_ext kernel). Each template must load (verifier statistics
# printed), attach, run the workload, stop with an exit record and pass; the
# broken one must be refused with the kernel verifier's whole log and a hint,
# and --verifier-log must hold what was printed.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"

if ! vm_kernel_ready 2>"$T/kernel.err"; then
	fail vm-kernel "$(cat "$T/kernel.err")"
	exit 1
fi
cd "$T" || exit 1

templates=$("$SKBUILD" init --list 2>"$T/list.err")
check_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
check_eq "skbuild init --list names the fifo and vtime templates" "$(echo $templates)" "fifo vtime"
dirs=""
for t in $templates; do
	check "skbuild init t_$t --template $t" "$SKBUILD" init "t_$t" --template "$t"
	check "... wrote t_$t.bpf.c, schedkit.json, README.md" \
		test -s "t_$t/t_$t.bpf.c" -a -s "t_$t/schedkit.json" -a -s "t_$t/README.md"
	check "... the ops are named after the scheduler" grep -q '\.name = "t_'"$t"'"' "t_$t/t_$t.bpf.c"
	dirs="$dirs t_$t"
done
check_fails "skbuild init refuses a directory that is not empty" "exists and is not empty" \
	"$SKBUILD" init t_fifo
check_fails "skbuild init refuses a name that is no C identifier" "not a usable scheduler name" \
	"$SKBUILD" init 9lives
check_fails "skbuild init names the templates for an unknown one" "init --list" \
	"$SKBUILD" init x --template nosuch

# one boot for every template and the broken scheduler
start=$(date +%s)
# shellcheck disable=SC2086
"$SKBUILD" vmtest $dirs "$SK_ROOT/tests/scheds/broken.bpf.c" --verifier-log "$T/verifier.log" \
	--kernel "$SK_KERNEL" >"$T/vmtest.out" 2>&1
rc=$?
echo "    (skbuild vmtest took $(($(date +%s) - start)) s)"
sed 's/^/    | /' "$T/vmtest.out"
check_eq "vmtest exits 6 (one artifact, broken, was refused)" "$rc" 6
for d in $dirs; do
	check "$d: verdict PASS" grep -q "^verdict $d: PASS" "$T/vmtest.out"
	# the section of this artifact's report
	awk -v n="== $d" '$0 == n {on=1; next} /^== / {on=0} on' "$T/vmtest.out" >"$T/$d.section"
	check "$d: verifier statistics for ${d}_enqueue (insns processed, states)" \
		grep -Eq "^  ${d}_enqueue +[0-9]+ insns processed, +[0-9]+ states" "$T/$d.section"
	check "$d: attached in the guest" grep -q "sched_ext: state enabled, ops $d" "$T/$d.section"
	check "$d: the workload finished under it" grep -q "^workload: 2 CPU-bound loops" "$T/$d.section"
	check "$d: its exit record" grep -q "$d exited: kind=64 (unregistered from user space)" "$T/$d.section"
	check "$d: detached after" grep -q "state now disabled" "$T/$d.section"
done
awk '$0 == "== broken" {on=1; next} /^== / {on=0} on' "$T/vmtest.out" >"$T/broken.section"
check "broken: verdict FAIL, refused by the kernel" \
	grep -q "^verdict broken: FAIL (skrun check --load exited 6" "$T/vmtest.out"
check "broken: the whole verifier log is printed (from instruction 0)" \
	grep -q "^0: R1=ctx() R10=fp0" "$T/broken.section"
check "broken: ... with the kernel's reason" grep -q "unbounded memory access" "$T/broken.section"
check "broken: ... and its statistics line, the log's last" grep -q "^processed [0-9]* insns" "$T/broken.section"
check "broken: a one-line hint for it" grep -q "^hint: an index or offset the verifier cannot bound" \
	"$T/broken.section"
check "broken: libbpf's messages come before the log, in order" \
	sh -c "grep -n 'libbpf: failed to load object' '$T/broken.section' | cut -d: -f1 | { read a; b=\$(grep -n 'verifier: REJECTED' '$T/broken.section' | cut -d: -f1); [ \"\$a\" -lt \"\$b\" ]; }"
check "--verifier-log holds broken's whole log" grep -q "unbounded memory access" "$T/verifier.log"
check "--verifier-log holds the templates' statistics" grep -q "t_fifo_enqueue .* insns processed" "$T/verifier.log"
