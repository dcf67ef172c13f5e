#!/bin/sh
# skrun check: artifacts built by skbuild, tested against the sid test kernel's
# BTF (7.2, with sched_ext) and against this host's own BTF; table, --json and
# exit codes (0 can run, 1 cannot, 2 usage).
. "$(dirname "$0")/../lib.sh"

SID_BTF=$SK_KERNEL/vmlinux
if [ ! -r "$SID_BTF" ]; then
	fail "setup" "test kernel BTF $SID_BTF missing: run make kernel"
	exit 1
fi

# expect_rc NAME RC CMD...: passes when CMD exits RC; output in $T/out.
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

# has NAME PATTERN: $T/out matches the grep -E PATTERN.
has() {
	if grep -Eq -- "$2" "$T/out"; then pass "$1"; else
		fail "$1" "output does not match /$2/"
		sed 's/^/    | /' "$T/out" | tail -n 30
	fi
}

# pyjson NAME SCRIPT: runs python3 SCRIPT with the JSON in $T/out as `d`.
pyjson() {
	if python3 -c "import json,sys
d=json.load(open(sys.argv[1]))
$2" "$T/out" >"$T/py" 2>&1; then pass "$1"; else
		fail "$1" "$(tail -n 3 "$T/py")"
		sed 's/^/    | /' "$T/out" | head -n 40
	fi
}

build() { # NAME SRC
	if ! "$SKBUILD" build "$2" -o "$T/$1" -t t1 --btf "$SID_BTF" -q >"$T/build.log" 2>&1; then
		fail "build $1" "skbuild build $2 failed"
		sed 's/^/    | /' "$T/build.log" | tail -n 20
		exit 1
	fi
}
build fifo "$SK_ROOT/scheds/fifo"
build vtime "$SK_ROOT/scheds/vtime"
build needs "$SK_ROOT/tests/scheds/needs_kfunc.bpf.c"

# ---- sid kernel: sched_ext present ----
expect_rc "fifo on sid: exit 0" 0 "$SKRUN" check "$T/fifo:t1" --btf "$SID_BTF"
has "fifo on sid: sched_ext row ok" '^kernel sched_ext +struct sched_ext_ops .* ok$'
has "fifo on sid: struct_ops row ok" '^kernel struct_ops +bpf_struct_ops_sched_ext_ops +ok$'
has "fifo on sid: callbacks checked" '^callback enqueue +in struct sched_ext_ops +ok$'
has "fifo on sid: result line" '^result: can run on this kernel$'
has "fifo on sid: tunables listed" '^  slice_ns +u64 +5000000$'
has "fifo on sid: release not claimed for another kernel's BTF" '^release >= 6\.12 +release not known.* info$'
if grep -q ' missing$' "$T/out"; then fail "fifo on sid: no missing row" "$(grep ' missing$' "$T/out")"; else
	pass "fifo on sid: no missing row"
fi

expect_rc "fifo on sid --json: exit 0" 0 "$SKRUN" check "$T/fifo:t1" --btf "$SID_BTF" --release 7.2.13 --json
pyjson "fifo on sid --json: shape" "
assert d['ok'] is True, d['ok']
assert d['kernel'] == {'release': '7.2.13', 'btf': '$SID_BTF'}, d['kernel']
assert d['checks'], 'no checks'
for c in d['checks']:
    assert set(c) == {'requirement', 'kind', 'host', 'verdict'}, c
    assert c['verdict'] in ('ok', 'info', 'warning', 'missing'), c
assert not [c for c in d['checks'] if c['verdict'] == 'missing']
rows = {(c['kind'], c['requirement']): c for c in d['checks']}
assert rows[('kernel', 'sched_ext')]['verdict'] == 'ok'
assert rows[('release', '>= 6.12')]['verdict'] == 'ok', rows[('release', '>= 6.12')]
assert rows[('callback', 'dispatch')]['verdict'] == 'ok'
t = {x['name']: x for x in d['tunables']}
assert t['slice_ns']['type'] == 'u64' and t['slice_ns']['default'] == '5000000', t
"

expect_rc "vtime on sid: exit 0" 0 "$SKRUN" check "$T/vtime:t1" --btf "$SID_BTF"
has "vtime on sid: optional kfunc reported missing without failing" \
	'^optional kfunc scx_bpf_dispatch +missing \(optional\) +info$'
has "vtime on sid: optional kfunc available" '^optional kfunc scx_bpf_dsq_insert_vtime +available +ok$'
has "vtime on sid: result" '^result: can run on this kernel$'

# Features decide: an old release with every feature present is only a warning.
expect_rc "vtime with release 6.6: still exit 0" 0 "$SKRUN" check "$T/vtime" --btf "$SID_BTF" --release 6.6.30
has "vtime with release 6.6: release warning" '^release >= 6\.12 +6\.6\.30 is older than 6\.12, but every feature it needs is present \(backported\) +warning$'

# A strong kfunc no kernel has.
expect_rc "needs_kfunc on sid: exit 6 (this kernel cannot run it)" 6 "$SKRUN" check "$T/needs:t1" --btf "$SID_BTF"
has "needs_kfunc on sid: clear row" \
	'^kfunc scx_bpf_schedkit_test_missing +not in this kernel \(needed; the scheduler cannot load here\) +missing$'
has "needs_kfunc on sid: result" '^result: cannot run on this kernel \(1 requirement\(s\) missing\)$'
expect_rc "needs_kfunc on sid --json: exit 6" 6 "$SKRUN" check "$T/needs:t1" --btf "$SID_BTF" --json
pyjson "needs_kfunc on sid --json: the kfunc is missing" "
assert d['ok'] is False
m = [c for c in d['checks'] if c['verdict'] == 'missing']
assert [(c['kind'], c['requirement']) for c in m] == [('kfunc', 'scx_bpf_schedkit_test_missing')], m
assert d['kernel']['release'] is None, d['kernel']
assert d['tunables'] == []
"

# ---- this host's own BTF ----
if [ -d /sys/kernel/sched_ext ]; then
	expect_rc "fifo on this host: exit 0 (sched_ext present)" 0 "$SKRUN" check "$T/fifo:t1"
else
	expect_rc "fifo on this host: exit 6 (no sched_ext)" 6 "$SKRUN" check "$T/fifo:t1"
	has "fifo on this host: sched_ext row says why" \
		'^kernel sched_ext +no struct sched_ext_ops in this kernel.s BTF.*CONFIG_SCHED_CLASS_EXT=y.* missing$'
	has "fifo on this host: kernel line names uname -r" "^kernel $(uname -r), BTF /sys/kernel/btf/vmlinux$"
	expect_rc "fifo on this host --json: exit 6" 6 "$SKRUN" check "$T/fifo:t1" --json --btf /sys/kernel/btf/vmlinux --release "$(uname -r)"
	pyjson "fifo on this host --json: sched_ext missing" "
assert d['ok'] is False
rows = {(c['kind'], c['requirement']): c for c in d['checks']}
assert rows[('kernel', 'sched_ext')]['verdict'] == 'missing', rows[('kernel', 'sched_ext')]
assert rows[('kernel', 'struct_ops')]['verdict'] == 'missing'
assert all(c['verdict'] == 'missing' for c in d['checks'] if c['kind'] in ('kfunc', 'callback'))
assert d['kernel']['btf'] == '/sys/kernel/btf/vmlinux'
"
	expect_rc "vtime on this host: exit 6" 6 "$SKRUN" check "$T/vtime"
fi

# ---- errors and usage ----
expect_rc "no argument: exit 2" 2 "$SKRUN" check
has "no argument: usage shown" '^usage: skrun check'
expect_rc "unknown option: exit 2" 2 "$SKRUN" check "$T/fifo" --bogus
expect_rc "two artifacts: exit 2" 2 "$SKRUN" check "$T/fifo" "$T/vtime"
expect_rc "--help: exit 0" 0 "$SKRUN" check --help
expect_rc "not a layout: exit 4 (not found)" 4 "$SKRUN" check "$T/nothing-here" --btf "$SID_BTF"
has "not a layout: says so" 'nothing-here.*(no such directory|OCI image layout)'
expect_rc "unknown tag: exit 4 (not found)" 4 "$SKRUN" check "$T/fifo:nope" --btf "$SID_BTF"
has "unknown tag: names it" 'nope'
expect_rc "unreadable BTF: exit 4 (not found)" 4 "$SKRUN" check "$T/fifo" --btf "$T/no-btf"
has "unreadable BTF: hint" 'reading kernel BTF .*no-btf.*--btf FILE'
