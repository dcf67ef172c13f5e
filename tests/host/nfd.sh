#!/bin/sh
# skrun check --nfd: the Node Feature Discovery local feature file (the
# "local" source of nfd-worker: key=value lines in features.d), against the
# sid test kernel's BTF (sched_ext, its kfuncs and sched_ext_ops members) and
# this host's own BTF (no sched_ext); for an artifact, whether it can run.
# Every line must be a label NFD accepts (name and value syntax, lengths).
. "$(dirname "$0")/../lib.sh"

SID_BTF=$SK_KERNEL/vmlinux
if [ ! -r "$SID_BTF" ]; then
	fail "nfd: setup" "test kernel BTF $SID_BTF missing: run make kernel"
	exit 1
fi
NS=schedkit.feature.node.kubernetes.io

build() { # NAME SRC
	if ! "$SKBUILD" build "$2" -o "$T/$1" -t t1 --btf "$SID_BTF" -q >"$T/build.log" 2>&1; then
		fail "nfd: build $1" "skbuild build $2 failed"
		sed 's/^/    | /' "$T/build.log" | tail -n 20
		exit 1
	fi
}
build fifo "$SK_ROOT/scheds/fifo"
build needs "$SK_ROOT/tests/scheds/needs_kfunc.bpf.c"

# valid FILE: every non-comment line is NAMESPACE/NAME=VALUE with a valid
# Kubernetes label name and value; no name twice.
cat >"$T/valid.py" <<'EOF'
import re, sys
NAME = re.compile(r'[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?')
VALUE = re.compile(r'([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?')
seen = set()
for n, line in enumerate(open(sys.argv[1]).read().split("\n")[:-1], 1):
    if line.startswith("#"):
        if line.startswith("# +"):
            raise SystemExit("line %d: an NFD directive by accident: %r" % (n, line))
        continue
    key, eq, value = line.partition("=")
    ns, slash, name = key.rpartition("/")
    if not eq or ns != sys.argv[2] or not NAME.fullmatch(name) or not VALUE.fullmatch(value):
        raise SystemExit("line %d not a valid label: %r" % (n, line))
    if name in seen:
        raise SystemExit("line %d: %s twice" % (n, name))
    seen.add(name)
print(len(seen))
EOF

# ---- sid kernel: sched_ext with its kfuncs and ops ----
mkdir -p "$T/features.d"
F=$T/features.d/sid
check "nfd: sid BTF, node facts written" "$SKRUN" check --nfd --btf "$SID_BTF" --release "$(cat "$SK_KERNEL/release" 2>/dev/null || echo 7.2.13+deb14-cloud-amd64)" --nfd-file "$F"
check "nfd: sid file: every line a valid label" python3 "$T/valid.py" "$F" "$NS"
grep -qx "$NS/sched_ext=true" "$F" && pass "nfd: sid: sched_ext=true" || fail "nfd: sid: sched_ext=true" "$(head -3 "$F")"
grep -qx "$NS/kfunc.scx_bpf_dsq_insert=true" "$F" && grep -qx "$NS/kfunc.scx_bpf_create_dsq=true" "$F" &&
	pass "nfd: sid: sched_ext kfuncs listed" || fail "nfd: sid: sched_ext kfuncs listed" "$(grep -c kfunc "$F") kfunc lines"
grep -qx "$NS/ops.enqueue=true" "$F" && grep -qx "$NS/ops.sub_attach=true" "$F" &&
	pass "nfd: sid: sched_ext_ops members listed (7.x sub_attach too)" || fail "nfd: sid: ops members" "$(grep -c ops. "$F") ops lines"
grep -E "^$NS/kfunc\." "$F" | grep -v "/kfunc\.scx_bpf_" >"$T/nonscx"
[ ! -s "$T/nonscx" ] && pass "nfd: sid: only sched_ext kfuncs" || fail "nfd: sid: only sched_ext kfuncs" "$(head -3 "$T/nonscx")"
grep -q "^$NS/kernel-release=[0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$" "$F" && ! grep "^$NS/kernel-release=" "$F" | grep -q '+' &&
	pass "nfd: sid: kernel-release as a label value ('+' replaced)" || fail "nfd: sid: kernel-release" "$(grep release "$F")"
# the same kernel gives the same file
"$SKRUN" check --nfd --btf "$SID_BTF" --release "$(cat "$SK_KERNEL/release" 2>/dev/null || echo 7.2.13+deb14-cloud-amd64)" --nfd-file "$T/features.d/sid2" >/dev/null 2>&1
cmp -s "$F" "$T/features.d/sid2" && pass "nfd: deterministic" || fail "nfd: deterministic" "two runs differ"

# ---- an artifact: can-run.NAME ----
check "nfd: fifo on sid" "$SKRUN" check --nfd "$T/fifo:t1" --btf "$SID_BTF" --nfd-file "$T/features.d/fifo"
grep -qx "$NS/can-run.fifo=true" "$T/features.d/fifo" && grep -qx "$NS/sched_ext=true" "$T/features.d/fifo" &&
	pass "nfd: fifo can run on sid" || fail "nfd: fifo can run on sid" "$(grep -v kfunc "$T/features.d/fifo" | grep -v ops)"
check "nfd: needs_kfunc on sid (written, exit 0)" "$SKRUN" check --nfd "$T/needs:t1" --btf "$SID_BTF" --nfd-file "$T/features.d/needs" --nfd-name needs-kfunc
grep -qx "$NS/can-run.needs-kfunc=false" "$T/features.d/needs" &&
	pass "nfd: an artifact needing a kfunc the kernel lacks: can-run=false" || fail "nfd: needs_kfunc can-run=false" "$(grep can-run "$T/features.d/needs")"
check "nfd: every artifact file valid" sh -c "python3 '$T/valid.py' '$T/features.d/fifo' $NS && python3 '$T/valid.py' '$T/features.d/needs' $NS"

# ---- this host's BTF: no sched_ext ----
check "nfd: host BTF" "$SKRUN" check --nfd --nfd-file "$T/features.d/host"
grep -qx "$NS/sched_ext=false" "$T/features.d/host" && ! grep -q "kfunc\.\|ops\." "$T/features.d/host" &&
	grep -qx "$NS/kernel-release=$(uname -r | tr -c 'A-Za-z0-9._\n-' _)" "$T/features.d/host" &&
	pass "nfd: host: sched_ext=false, no kfuncs or ops, its release" || fail "nfd: host facts" "$(cat "$T/features.d/host")"
check "nfd: fifo on the host" "$SKRUN" check --nfd "$T/fifo:t1" --nfd-file "$T/features.d/host-fifo"
grep -qx "$NS/can-run.fifo=false" "$T/features.d/host-fifo" &&
	pass "nfd: fifo cannot run on the host (no sched_ext)" || fail "nfd: fifo on host" "$(grep can-run "$T/features.d/host-fifo")"

# ---- atomic, and refusals that say why ----
ls -A "$T/features.d" | grep -v '^\(sid\|sid2\|fifo\|needs\|host\|host-fifo\)$' >"$T/extra"
[ ! -s "$T/extra" ] && pass "nfd: no temporary files left in features.d" || fail "nfd: no temporary files left" "$(cat "$T/extra")"
check_fails "nfd: a directory that does not exist is refused with the reason" "cannot create a temporary file next to it" \
	"$SKRUN" check --nfd --nfd-file "$T/no/such/dir/f" --btf "$SID_BTF"
check_fails "nfd: an unreadable BTF is named" "cannot read the kernel's BTF" \
	"$SKRUN" check --nfd --nfd-file "$T/x" --btf "$T/fifo/oci-layout"
check_fails "nfd: a name no label can carry" "not usable in a label" \
	"$SKRUN" check --nfd "$T/fifo:t1" --btf "$SID_BTF" --nfd-file "$T/x" --nfd-name '+++'
[ ! -e "$T/x" ] && pass "nfd: nothing written when refused" || fail "nfd: nothing written when refused" "$T/x exists"
