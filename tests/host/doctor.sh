#!/bin/sh
# skrun doctor: stable check IDs, table and --json, exit status, and each
# check's failure path (fake /sys, /proc, /boot trees; an unprivileged user
# for the capability and bpf(2) checks).
. "$(dirname "$0")/../lib.sh"

SID_BTF=$SK_KERNEL/vmlinux
SID_CONFIG=$SK_KERNEL/config
for f in "$SID_BTF" "$SID_CONFIG"; do
	if [ ! -r "$f" ]; then
		fail "setup" "test kernel file $f missing: run make kernel"
		exit 1
	fi
done
IDS="kernel.release kernel.btf kernel.sched_ext kernel.config caps.bpf bpf.syscall store.readable policy.readable clock.sane"

expect_rc() {
	_n=$1
	_rc=$2
	shift 2
	"$@" >"$T/out" 2>&1
	_got=$?
	if [ "$_got" = "$_rc" ]; then pass "$_n"; else
		fail "$_n" "exit $_got, expected $_rc: $*"
		sed 's/^/    | /' "$T/out" | tail -n 30
	fi
}

has() {
	if grep -Eq -- "$2" "$T/out"; then pass "$1"; else
		fail "$1" "output does not match /$2/"
		sed 's/^/    | /' "$T/out" | tail -n 30
	fi
}

pyjson() {
	if python3 -c "import json,sys
d=json.load(open(sys.argv[1]))
c={x['id']: x for x in d['checks']}
$2" "$T/out" >"$T/py" 2>&1; then pass "$1"; else
		fail "$1" "$(tail -n 3 "$T/py")"
		sed 's/^/    | /' "$T/out" | head -n 60
	fi
}

# status_of NAME ID STATUS [DETAIL_RE [HINT_RE]]: checks one entry of the JSON in $T/out.
status_of() {
	pyjson "$1" "
import re
x = c['$2']
assert x['status'] == '$3', x
assert re.search(r'''${4:-}''', x['detail']), ('detail', x)
if '$3' == 'ok':
    assert x['hint'] is None, x
else:
    assert x['hint'] and re.search(r'''${5:-}''', x['hint']), ('hint', x)
"
}

# ---- a fake host that has everything ----
good() { # builds $T/good: sysfs with sched_ext, proc with config.gz and root caps
	mkdir -p "$T/good/sys/kernel/sched_ext/root" "$T/good/proc/self" "$T/good/boot" "$T/good/store"
	echo disabled >"$T/good/sys/kernel/sched_ext/state"
	gzip -c "$SID_CONFIG" >"$T/good/proc/config.gz"
	printf 'Name:\tskrun\nCapEff:\t000001ffffffffff\n' >"$T/good/proc/self/status"
	# a policy verification accepts: doctor checks it as skrun policy check does
	"$SKBUILD" key generate -o "$T/good/ci" >/dev/null 2>&1
	echo '{"version": 1, "keys": {"ci": "ci.pub"}, "default": {"keys": ["ci"]}}' >"$T/good/policy.json"
}
good
G="--sysfs-root $T/good/sys --proc-root $T/good/proc --boot-dir $T/good/boot --btf $SID_BTF
   --release 7.2.13+deb14-cloud-amd64 --store $T/good/store --policy $T/good/policy.json"
# shellcheck disable=SC2086
expect_rc "good host: exit 0" 0 "$SKRUN" doctor $G
has "good host: summary" '^9 ok, 0 warn, 0 fail: this host can run sched_ext schedulers$'
has "good host: sched_ext state shown" '^ok +kernel\.sched_ext +present: state disabled'
has "good host: config read from config.gz" '^ok +kernel\.config +.*/proc/config\.gz: CONFIG_SCHED_CLASS_EXT'
if grep -q 'hint:' "$T/out"; then fail "good host: no hints" "a hint on an ok host"; else pass "good host: no hints"; fi
# shellcheck disable=SC2086
expect_rc "good host --json: exit 0" 0 "$SKRUN" doctor $G --json
pyjson "good host --json: stable IDs in order, all ok" "
assert [x['id'] for x in d['checks']] == '$IDS'.split(), [x['id'] for x in d['checks']]
assert d['ok'] is True
for x in d['checks']:
    assert set(x) == {'id', 'status', 'detail', 'hint'}, x
    assert x['status'] == 'ok' and x['hint'] is None, x
"
echo fifo >"$T/good/sys/kernel/sched_ext/root/ops"
echo enabled >"$T/good/sys/kernel/sched_ext/state"
# shellcheck disable=SC2086
SKRUN_SYSFS=$T/good/sys "$SKRUN" doctor --proc-root "$T/good/proc" --btf "$SID_BTF" --release 7.2 \
	--store "$T/good/store" --policy "$T/good/policy.json" --json >"$T/out" 2>&1
status_of "SKRUN_SYSFS: attached scheduler shown" kernel.sched_ext ok "state enabled, scheduler 'fifo' attached"
rm "$T/good/sys/kernel/sched_ext/root/ops"
echo disabled >"$T/good/sys/kernel/sched_ext/state"

# rc_is NAME RC: the last run_doctor exited RC.
rc_is() {
	if [ "$(cat "$T/rc")" = "$2" ]; then pass "$1"; else fail "$1" "exit $(cat "$T/rc"), expected $2"; fi
}

# run_doctor ARGS...: the good host with some options overridden (later ones win).
run_doctor() {
	# shellcheck disable=SC2086
	"$SKRUN" doctor $G --json "$@" >"$T/out" 2>&1
	echo $? >"$T/rc"
}

# ---- this machine, as it is ----
"$SKRUN" doctor --json --store "$T/real-store" --policy "$T/good/policy.json" >"$T/out" 2>&1
rc=$?
pyjson "this host --json: stable IDs in order" "
assert [x['id'] for x in d['checks']] == '$IDS'.split(), [x['id'] for x in d['checks']]
for x in d['checks']:
    assert x['status'] in ('ok', 'warn', 'fail'), x
    assert (x['hint'] is None) == (x['status'] == 'ok'), ('hint iff not ok', x)
assert d['ok'] == (not [x for x in d['checks'] if x['status'] == 'fail'])
"
if [ -d /sys/kernel/sched_ext ]; then
	status_of "this host: sched_ext present" kernel.sched_ext ok "present"
else
	status_of "this host: sched_ext absent, with a hint" kernel.sched_ext fail \
		"no sched_ext" "6\.12\+ built with CONFIG_SCHED_CLASS_EXT=y"
	if [ "$rc" = 1 ]; then pass "this host: exit 1 (a check fails)"; else fail "this host: exit 1" "exit $rc"; fi
fi
status_of "this host: store can be created" store.readable ok "does not exist yet"
"$SKRUN" doctor --store "$T/real-store" --policy "$T/good/policy.json" >"$T/out" 2>&1
if [ -d /sys/kernel/sched_ext ]; then pass "this host table: (sched_ext present, no failure hint to show)"; else
	if awk '/^fail +kernel\.sched_ext /{f=1; next} f && /^ +hint: boot a kernel 6\.12\+ built with CONFIG_SCHED_CLASS_EXT=y/{ok=1} {f=0} END{exit !ok}' "$T/out"; then
		pass "this host table: hint under the failing row"
	else
		fail "this host table: hint under the failing row" "$(cat "$T/out")"
	fi
fi

# ---- each check's failure path ----
run_doctor --release 6.6.30
status_of "kernel.release: old release warns" kernel.release warn "6\.6\.30 is older than 6\.12" "backported"
rc_is "kernel.release: a warning keeps exit 0" 0
run_doctor --release banana
status_of "kernel.release: unparsable release warns" kernel.release warn "not a MAJOR.MINOR" "MAJOR.MINOR"

run_doctor --btf "$T/nope/vmlinux"
status_of "kernel.btf: unreadable BTF fails" kernel.btf fail "cannot read .*/nope/vmlinux" "CONFIG_DEBUG_INFO_BTF=y"
rc_is "kernel.btf: exit 1" 1

mkdir -p "$T/nosched/kernel"
run_doctor --sysfs-root "$T/nosched" --btf /sys/kernel/btf/vmlinux
if [ -d /sys/kernel/sched_ext ]; then
	status_of "kernel.sched_ext: BTF without sysfs" kernel.sched_ext fail "not readable" "mount sysfs"
else
	status_of "kernel.sched_ext: absent everywhere fails" kernel.sched_ext fail \
		"no sched_ext: no .*/nosched/kernel/sched_ext and no struct sched_ext_ops" "CONFIG_SCHED_CLASS_EXT=y"
fi
run_doctor --sysfs-root "$T/nosched"
status_of "kernel.sched_ext: BTF has it but sysfs does not" kernel.sched_ext fail \
	"BTF has struct sched_ext_ops but .*/state is not readable" "mount -t sysfs"

mkdir -p "$T/badcfg/self" "$T/boot"
cp "$T/good/proc/self/status" "$T/badcfg/self/status"
sed 's/^CONFIG_SCHED_CLASS_EXT=y/# CONFIG_SCHED_CLASS_EXT is not set/; /^CONFIG_BPF_JIT=/d' "$SID_CONFIG" | gzip >"$T/badcfg/config.gz"
run_doctor --proc-root "$T/badcfg"
status_of "kernel.config: options not set fail" kernel.config fail \
	"CONFIG_SCHED_CLASS_EXT is not set, CONFIG_BPF_JIT is absent" "CONFIG_SCHED_CLASS_EXT=y, CONFIG_BPF_JIT=y"
mkdir -p "$T/nocfg/self"
cp "$T/good/proc/self/status" "$T/nocfg/self/status"
run_doctor --proc-root "$T/nocfg" --boot-dir "$T/boot"
status_of "kernel.config: no config warns" kernel.config warn "no readable kernel config" "CONFIG_IKCONFIG_PROC"
cp "$SID_CONFIG" "$T/boot/config-7.2.13+deb14-cloud-amd64"
run_doctor --proc-root "$T/nocfg" --boot-dir "$T/boot"
status_of "kernel.config: /boot/config-RELEASE used" kernel.config ok "boot/config-7\.2\.13\+deb14-cloud-amd64: "

mkdir -p "$T/nocaps/self" "$T/bpfonly/self"
printf 'Name:\tskrun\nCapEff:\t0000000000000000\n' >"$T/nocaps/self/status"
printf 'Name:\tskrun\nCapEff:\t000000c000000000\n' >"$T/bpfonly/self/status"
run_doctor --proc-root "$T/nocaps"
status_of "caps.bpf: no capabilities fail" caps.bpf fail "missing CAP_SYS_ADMIN CAP_BPF CAP_PERFMON" "AmbientCapabilities="
run_doctor --proc-root "$T/bpfonly"
status_of "caps.bpf: CAP_BPF+CAP_PERFMON only warns" caps.bpf warn "no CAP_SYS_ADMIN" "CAP_SYS_ADMIN"

# bpf(2) for real, as an unprivileged user without capabilities.
if [ "$(cat /proc/sys/kernel/unprivileged_bpf_disabled)" = 0 ]; then
	fail "bpf.syscall: unprivileged failure" "kernel.unprivileged_bpf_disabled is 0 here: an unprivileged map create succeeds, so this path cannot be shown"
else
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
		"$SKRUN" doctor --json --store /nonexistent/store --policy /nonexistent/policy.json >"$T/out" 2>&1
	status_of "bpf.syscall: unprivileged user fails" bpf.syscall fail "Operation not permitted" "caps\.bpf"
	status_of "caps.bpf: real unprivileged process fails" caps.bpf fail "CapEff 0: missing" "run skrun as root"
fi

echo junk >"$T/junk-store-file"
mkdir -p "$T/junkstore"
echo x >"$T/junkstore/stray"
run_doctor --store "$T/junkstore"
status_of "store.readable: non-layout dir fails" store.readable fail "is not a store" "move the directory aside"
run_doctor --store "$T/junk-store-file"
status_of "store.readable: a file fails" store.readable fail "exists but is not a directory" "--store DIR"
run_doctor --store "$T/junk-store-file/sub/store"
status_of "store.readable: cannot be created" store.readable fail "cannot be created: .*junk-store-file is not a directory" "--store DIR"
mkdir -p "$T/layouts"
"$SKBUILD" build "$SK_ROOT/scheds/fifo" -o "$T/layouts/fifo" -t t1 --btf "$SID_BTF" -q >/dev/null 2>&1
run_doctor --store "$T/layouts/fifo"
status_of "store.readable: a layout is ok" store.readable ok "is an OCI image layout"
mkdir -p "$T/private"
chmod 0700 "$T/private"
chmod 0755 "$T"
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
	"$SKRUN" doctor --json --store "$T/private" --policy /nonexistent/policy.json >"$T/out" 2>&1
status_of "store.readable: unreadable store fails" store.readable fail "is not readable" "permissions"

run_doctor --policy "$T/nope.json"
status_of "policy.readable: missing policy fails" policy.readable fail "nope\.json" "docs/policy\.md"
printf '{"default": ' >"$T/bad.json"
run_doctor --policy "$T/bad.json"
status_of "policy.readable: bad JSON fails" policy.readable fail "bad\.json" "JSON syntax"
rc_is "policy.readable: exit 1" 1

run_doctor --now 86400
status_of "clock.sane: 1970 fails" clock.sane fail "1970-01-02T00:00:00Z, before 2024" "timedatectl"
run_doctor --now 1767225600
status_of "clock.sane: 2026 ok" clock.sane ok "2026-01-01T00:00:00Z"

# ---- usage ----
expect_rc "usage: stray argument exits 2" 2 "$SKRUN" doctor extra
expect_rc "usage: bad --now exits 2" 2 "$SKRUN" doctor --now abc
has "usage: bad --now says why" 'seconds since the epoch'
expect_rc "usage: --help exits 0" 0 "$SKRUN" doctor --help
has "usage: --help lists the check IDs" 'kernel\.sched_ext +kernel\.config +caps\.bpf'
