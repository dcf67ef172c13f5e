#!/bin/sh
# The tours of README.md ("A five-minute tour for a scheduler author") and
# docs/authors.md ("The 5-minute tour"), run exactly as written: the commands
# are read from the documents' shell blocks (and authors.md's two files from
# its code blocks), the build-machine steps run here in order, and the
# sched_ext-host steps run in the test kernel (one boot for both documents).
# A step that fails, or a document whose tour changed shape, fails the test.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/vm/vm.sh"

PY=/usr/bin/python3
if ! vm_kernel_ready 2>"$T/kernel.err"; then
	fail vm-kernel "$(cat "$T/kernel.err")"
	exit 1
fi

# Pulls the tours apart: one file per step list, one per authors.md file.
if ! "$PY" - "$SK_ROOT" "$T" <<'EOF' 2>"$T/extract.err"; then
import re, sys
root, t = sys.argv[1], sys.argv[2]

def blocks(text, lang):
    return re.findall(r"```" + lang + r"\n(.*?)```", text, re.S)

def commands(block):
    # a line is a command unless it is blank or a comment; continuation
    # lines are not used in the tours
    return [l for l in block.splitlines() if l.strip() and not l.lstrip().startswith("#")]

readme = open(root + "/README.md").read()
tour = readme.split("## A five-minute tour for a scheduler author", 1)[1]
tour = tour.split("\nWrite schedulers against", 1)[0]
sh = blocks(tour, "sh")
assert len(sh) == 2, "README's tour: expected 2 sh blocks (build machine, sched_ext host), found %d" % len(sh)
open(t + "/readme.host", "w").write("\n".join(commands(sh[0])) + "\n")
open(t + "/readme.vm", "w").write("\n".join(commands(sh[1])) + "\n")

authors = open(root + "/docs/authors.md").read()
tour = authors.split("## The 5-minute tour", 1)[1].split("### Starting from a template", 1)[0]
steps = re.split(r"\n### ", tour)
byname = {s.split("\n", 1)[0]: s for s in steps[1:]}
write = byname["1. Write it"]
c = re.search(r"`myfifo/myfifo\.bpf\.c`:\s*```c\n(.*?)```", write, re.S).group(1)
j = re.search(r"`myfifo/schedkit\.json`.*?```json\n(.*?)```", write, re.S).group(1)
open(t + "/myfifo.bpf.c", "w").write(c)
open(t + "/schedkit.json", "w").write(j)
host = []
for name in ("2. Build", "3. Inspect", "4. Try it without a sched_ext host"):
    host += commands(blocks(byname[name], "sh")[0])
open(t + "/authors.host", "w").write("\n".join(host) + "\n")
open(t + "/authors.vm", "w").write("\n".join(commands(blocks(byname["5. Run"], "sh")[0])) + "\n")
EOF
	fail "the tours parse" "$(tail -n 3 "$T/extract.err")"
	exit 1
fi
pass "the tours parse: README $(wc -l <"$T/readme.host")+$(wc -l <"$T/readme.vm") commands, authors.md $(wc -l <"$T/authors.host")+$(wc -l <"$T/authors.vm")"

# run_steps LIST DIR: each command in order from DIR, with sh as a user's shell would
run_steps() {
	while IFS= read -r cmd; do
		if (cd "$2" && sh -c "$cmd") >"$T/step.out" 2>&1; then
			pass "$3: \`$cmd\`"
		else
			fail "$3: \`$cmd\`" "exit $?"
			tail -n 30 "$T/step.out" | sed 's/^/    | /'
		fi
		cp "$T/step.out" "$T/last-$3.out"
	done <"$1"
}

# README: from the source tree (a copy of its top level, with build/ being the
# build under test), so that make, scheds/ and build/ resolve as written
mkdir -p "$T/tree"
for e in "$SK_ROOT"/* "$SK_ROOT"/.clang-format; do
	case $(basename "$e") in build | build-* | '*') continue ;; esac
	ln -s "$e" "$T/tree/$(basename "$e")"
done
ln -s "$SK_BUILD" "$T/tree/build"
run_steps "$T/readme.host" "$T/tree" README
check "README: the build step wrote fifo.oci" test -s "$T/tree/fifo.oci/index.json"
check "README: vmtest's verdict is PASS" grep -q "^verdict fifo: PASS" "$T/last-README.out"

# authors.md: an author's directory, skbuild and skrun on PATH
mkdir -p "$T/author/myfifo"
mv "$T/myfifo.bpf.c" "$T/schedkit.json" "$T/author/myfifo/"
PATH=$SK_BUILD:$PATH run_steps "$T/authors.host" "$T/author" authors.md
check "authors.md: vmtest's verdict is PASS" grep -q "^verdict myfifo: PASS" "$T/last-authors.md.out"

# The sched_ext-host steps, in the guest: as written (Ctrl-C: SIGINT), and
# once without --insecure-skip-verify to see the unsigned-build message.
{
	echo "readme_cmd='$(cat "$T/readme.vm")'"
	echo "authors_cmd='$(cat "$T/authors.vm")'"
} >"$T/guest.sh"
cat >>"$T/guest.sh" <<'EOF'
ok() { echo "PASS: vm: $1"; }
no() { echo "FAIL: vm: $1: $2"; }
state() { cat /sys/kernel/sched_ext/state; }
# run_as_written NAME DIR CMD OPS
run_as_written() {
	cd "$2" || return
	sh -c "exec $3" >/tmp/$1.log 2>&1 &
	pid=$!
	for _ in $(seq 150); do grep -q "attached" /tmp/$1.log && break; sleep 0.1; done
	[ "$(state)" = enabled ] && ok "$1: \`$3\` attached" || { no "$1: \`$3\` attached" "state $(state)"; sed 's/^/    | /' /tmp/$1.log; }
	[ "$(cat /sys/kernel/sched_ext/root/ops)" = "$4" ] && ok "$1: root/ops is $4" || no "$1: root/ops" "$(cat /sys/kernel/sched_ext/root/ops)"
	kill -INT $pid
	wait $pid
	rc=$?
	[ $rc = 0 ] && ok "$1: Ctrl-C detaches it, exit 0" || no "$1: Ctrl-C" "exit $rc"
	[ "$(state)" = disabled ] && ok "$1: state disabled after" || no "$1: state after" "$(state)"
	grep -q "$4 exited: kind=64 (unregistered from user space)" /tmp/$1.log &&
		ok "$1: the exit record, as the docs show it" || no "$1: the exit record" "$(tail -n 3 /tmp/$1.log)"
	# the same without --insecure-skip-verify: refused, and told why
	plain=$(echo "$3" | sed 's/ --insecure-skip-verify//')
	if sh -c "exec $plain" >/tmp/$1.plain 2>&1; then
		no "$1: unverified local build refused" "it ran"
	elif grep -q "is an unsigned local build" /tmp/$1.plain && grep -q -- "--insecure-skip-verify" /tmp/$1.plain &&
		grep -q "skbuild sign --key KEY" /tmp/$1.plain; then
		ok "$1: without --insecure-skip-verify: says it is an unsigned local build, names skbuild sign and --insecure-skip-verify"
	else
		no "$1: the unsigned-build message" "$(cat /tmp/$1.plain)"
	fi
	[ "$(state)" = disabled ] && ok "$1: nothing attached by the refused run" || no "$1: refused run" "state $(state)"
}
run_as_written readme /tour "$readme_cmd" fifo
run_as_written authors /author "$authors_cmd" myfifo
# docs/json.md's check --load object, parsed on the host
cd /tour && skrun check --load --json oci:fifo.oci:1.0.0 >/tmp/load.json 2>/tmp/load.err
echo "load-json-exit=$?"
skvm-out load.json /tmp/load.json
EOF
vm_run "$T/vm" "$T/guest.sh" "$SK_BUILD/skrun:/tour/build/skrun" "$SK_BUILD/skrun:/usr/bin/skrun" \
	"$T/tree/fifo.oci:/tour/fifo.oci" "$T/author/myfifo.oci:/author/myfifo.oci" >"$T/vm.out" 2>&1
rc=$?
grep -a -E '^(PASS|FAIL): ' "$T/vm/console.log" 2>/dev/null
[ $rc = 0 ] || { fail "tour VM boot" "harness status $rc"; sed 's/^/    | /' "$T/vm.out"; }
grep -aq '^PASS: vm: authors: nothing attached' "$T/vm/console.log" 2>/dev/null ||
	fail "tour VM: every guest step ran" "see $T/vm/console.log"
# skrun check --load --json on the sched_ext kernel (docs/json.md)
cat >"$T/load.py" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["ok"] is True, "ok is not true"
l = j["load"]
assert l["loaded"] is True and l["log"] is None and l["hint"] is None, l
names = [p["name"] for p in l["programs"]]
assert "fifo_enqueue" in names, names
for p in l["programs"]:
    for k in ("insnsProcessed", "totalStates", "peakStates", "maxStatesPerInsn"):
        assert isinstance(p[k], int) and p[k] >= 0, (p["name"], k, p[k])
    assert p["insnsProcessed"] > 0, p
print(len(names))
EOF
if vm_extract "$T/vm" load.json "$T/load.json" 2>"$T/extract2.err" &&
	"$PY" "$T/load.py" "$T/load.json" >"$T/load.check" 2>&1; then
	pass "skrun check --load --json in the VM: load.loaded, per-program statistics ($(cat "$T/load.check") programs)"
else
	fail "skrun check --load --json in the VM" "$(cat "$T/extract2.err" "$T/load.check" 2>/dev/null | tail -5)"
fi
if grep -aq "load-json-exit=0" "$T/vm/console.log"; then pass "... exit 0"; else
	fail "... exit 0" "$(grep -a load-json-exit "$T/vm/console.log")"
fi
