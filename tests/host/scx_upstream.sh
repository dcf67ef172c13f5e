#!/bin/sh
# Third-party schedulers written against the kernel's tools/sched_ext/include
# headers build with skbuild unchanged: every example in the kernel's
# tools/sched_ext/ (fetched by tests/vm/fetch-scx.sh) builds with the default
# compiler (clang-16) and the same include directories the upstream Makefile
# uses, and the analysis of each is plausible: the artifact and ops names
# match the source, callbacks include enqueue or dispatch, a minimum kernel is
# derived, the upstream `uei` exit record is found, and the __SCX_* enum
# placeholders the headers put in .rodata (the object does carry them) are
# not offered as tunables. Running them is tests/vm/test_scx_upstream.sh.
. "$(dirname "$0")/../lib.sh"

BTF=$SK_KERNEL/vmlinux
if [ ! -s "$BTF" ]; then
	fail "kernel BTF" "$BTF is missing; run 'make kernel'"
	exit 1
fi
SCX=${SCHEDKIT_SCX_CACHE:-/var/cache/schedkit/scx}
S=$SCX/tools/sched_ext
if [ ! -d "$S/include/scx" ]; then
	fail "upstream sched_ext sources" "none at $SCX; run tests/vm/fetch-scx.sh"
	exit 1
fi
export SKBUILD_BTF=$BTF SCHEDKIT_CACHE=$T/cache
echo "# upstream examples from $(cat "$SCX/VERSION" 2>/dev/null)"

n=0
for src in "$S"/*.bpf.c; do
	[ -f "$src" ] || continue
	name=$(basename "$src" .bpf.c)
	n=$((n + 1))
	# The upstream Makefile's BPF include path: include/ (for <scx/...>) and
	# include/bpf-compat (an empty gnu/stubs.h for -target bpf).
	check "build $name (clang-16)" "$SKBUILD" build -q "$src" -o "$T/$name.oci" -t test \
		-I "$S/include" -I "$S/include/bpf-compat"
	[ -d "$T/$name.oci" ] || continue
	if ! "$SKBUILD" inspect --json "$T/$name.oci:test" >"$T/$name.json" 2>"$T/$name.err"; then
		fail "inspect --json $name" "$(cat "$T/$name.err")"
		continue
	fi
	# The ops .name as the source spells it: `.name = "simple"` inside SCX_OPS_DEFINE.
	ops=$(sed -n 's/^[[:space:]]*\.name[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$src" | head -n1)
	if python3 - "$T/$name.json" "$name" "$ops" "$T/$name.oci" >"$T/$name.why" 2>&1 <<'EOF'; then
import json, os, re, sys
j = json.load(open(sys.argv[1]))
name, ops, layout = sys.argv[2], sys.argv[3], sys.argv[4]
c = j["config"]
r = c["requirements"]
problems = []
if c["name"] != name:
    problems.append("artifact name %r, expected %r" % (c["name"], name))
if not ops or c["ops"]["name"] != ops:
    problems.append("ops name %r, source says %r" % (c["ops"]["name"], ops))
if not {"enqueue", "dispatch"} & set(r["callbacks"]):
    problems.append("callbacks %r lack enqueue and dispatch" % r["callbacks"])
mk = r.get("minKernel") or ""
m = re.fullmatch(r"(\d+)\.(\d+)", mk)
if not m or (int(m[1]), int(m[2])) < (6, 12):
    problems.append("minKernel %r is not a release >= 6.12" % mk)
bad = [t["name"] for t in c["tunables"] if t["name"].startswith("__")]
if bad:
    problems.append("placeholders offered as tunables: %r" % bad)
if not c.get("exitInfo", {}).get("uei"):
    problems.append("no uei exit record found (every example has UEI_DEFINE(uei))")
# Not vacuous: the object does carry __SCX_* placeholders in its BTF.
layer = [l for l in j["manifest"]["layers"] if l["mediaType"].endswith("bpf.v1+elf")][0]
blob = os.path.join(layout, "blobs", *layer["digest"].split(":"))
if b"__SCX_" not in open(blob, "rb").read():
    problems.append("object has no __SCX_ placeholders: the tunables check proves nothing")
print("; ".join(problems) or "ok: ops %s, minKernel %s, callbacks %s, tunables %s" % (
    ops, mk, ",".join(r["callbacks"]), ",".join(t["name"] for t in c["tunables"]) or "-"))
sys.exit(1 if problems else 0)
EOF
		pass "inspect $name: $(cat "$T/$name.why")"
	else
		fail "inspect $name" "$(cat "$T/$name.why")"
	fi
done
[ "$n" -ge 8 ] && pass "found $n upstream examples" || fail "found upstream examples" "only $n in $S (7.2 has 8)"
