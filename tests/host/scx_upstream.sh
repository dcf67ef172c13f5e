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

# ---- schedulers of several compile units (schedkit.json "objects": link.c) ----
# tests/scheds/multi: fifo split over main.bpf.c (callbacks, ops map),
# queue.bpf.c and slice.bpf.c (global functions), each compiled alone and
# joined by libbpf's linker. Built twice: the same digest, and the one
# object holds every unit's functions.
multi_obj() { # LAYOUT DEST: the bpf layer of the layout's only manifest
	python3 - "$1" "$2" <<'PY'
import json, os, shutil, sys
root, dest = sys.argv[1], sys.argv[2]
blob = lambda d: os.path.join(root, "blobs", *d.split(":"))
m = json.load(open(blob(json.load(open(os.path.join(root, "index.json")))["manifests"][0]["digest"])))
if "manifests" in m:
    m = json.load(open(blob([x for x in m["manifests"] if x["platform"]["architecture"] == "amd64"][0]["digest"])))
shutil.copyfile(blob([l for l in m["layers"] if l["mediaType"].endswith("bpf.v1+elf")][0]["digest"]), dest)
PY
}
M=$SK_ROOT/tests/scheds/multi
d1=$("$SKBUILD" build -q "$M" -o "$T/multi1.oci" -t test 2>"$T/multi1.err")
d2=$("$SKBUILD" build -q "$M" -o "$T/multi2.oci" -t test 2>"$T/multi2.err")
if [ -n "$d1" ] && [ "$d1" = "$d2" ]; then
	pass "multi (3 objects linked) builds twice with the same digest ($d1)"
else
	fail "multi builds reproducibly" "'$d1' vs '$d2': $(cat "$T/multi1.err" "$T/multi2.err" | tail -3)"
fi
if [ -d "$T/multi1.oci" ] && multi_obj "$T/multi1.oci" "$T/multi.bpf.o"; then
	syms=$(llvm-nm-16 --defined-only "$T/multi.bpf.o" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')
	missing=
	# each unit's own functions, read from its source
	for u in main queue slice; do
		for f in $(sed -n 's/^.*BPF_STRUCT_OPS\(_SLEEPABLE\)\{0,1\}(\([a-z_]*\).*/\2/p; s/^__noinline [a-z_0-9]* \([a-z_]*\)(.*/\1/p' "$M/$u.bpf.c"); do
			case " $syms " in *" $f "*) ;; *) missing="$missing $u.bpf.c:$f" ;; esac
		done
	done
	nfun=$(echo "$syms" | wc -w)
	if [ -z "$missing" ] && [ "$nfun" -ge 7 ]; then
		pass "the linked object holds every unit's functions: $syms"
	else
		fail "linked object holds every unit's functions" "missing:$missing (has: $syms)"
	fi
	"$SKBUILD" inspect --json "oci:$T/multi1.oci:test" >"$T/multi.json" 2>&1
	if python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["config"]
assert c["name"] == "multi", c["name"]
assert c["ops"]["name"] == "multi"
assert set(c["requirements"]["callbacks"]) >= {"enqueue", "dispatch", "select_cpu"}
assert [t["name"] for t in c["tunables"]] == ["slice_ns"], c["tunables"]
' "$T/multi.json" 2>"$T/multi.why"; then
		pass "inspect multi: one ops map, the tunable of main.bpf.c, callbacks of the linked object"
	else
		fail "inspect multi" "$(tail -2 "$T/multi.why")"
	fi
fi
# "objects" and "main" together are ambiguous: refused, and the reason says so.
mkdir -p "$T/both"
cp "$M"/*.bpf.c "$M"/multi.h "$T/both/"
printf '{"name": "both", "main": "main.bpf.c", "objects": ["main.bpf.c", "queue.bpf.c"]}\n' >"$T/both/schedkit.json"
if "$SKBUILD" build -q "$T/both" -o "$T/both.oci" >"$T/both.out" 2>&1; then
	fail "objects with main refused" "it built"
elif grep -q 'give one: "main" for one compile unit, "objects" for several to link' "$T/both.out"; then
	pass "\"objects\" with \"main\" refused: $(tail -1 "$T/both.out")"
else
	fail "objects with main refused for the reason" "$(tail -2 "$T/both.out")"
fi
# An extern that no unit defines: the link step fails and names it.
printf '{"name": "unres", "objects": ["main.bpf.c", "queue.bpf.c"]}\n' >"$T/both/schedkit.json"
if "$SKBUILD" build -q "$T/both" -o "$T/unres.oci" >"$T/unres.out" 2>&1; then
	fail "unresolved extern refused" "it built without slice.bpf.c"
elif grep -q 'function multi_slice is declared but none of "objects" defines it' "$T/unres.out"; then
	pass "a unit left out: the link fails and names multi_slice ($(grep -m1 multi_slice "$T/unres.out" | cut -c1-100))"
else
	fail "unresolved extern refused for the reason" "$(tail -3 "$T/unres.out")"
fi

# ---- scx_flow (sched-ext/scx), from its several .bpf.c files ----
# Its main.bpf.c #includes the other six .bpf.c files: one compile unit, so
# its schedkit.json (tests/scx/flow.json; the source is not ours) names
# "main" and lists every file as "sources"; the object must hold every
# file's callbacks. Running it is tests/vm/test_matrix.sh (7.2 boot).
SCX_UPSTREAM_COMMIT=7a58a3a1a857fa748ea5a3bda5ad312afbbeca5b
UP=${SCHEDKIT_SCX_UPSTREAM:-$SK_ROOT/../shared/upstream/scx}
F=$UP/scheds/experimental/scx_flow/src/bpf
if [ ! -f "$F/main.bpf.c" ]; then
	echo "SKIP: scx_flow: no upstream scx sources at $UP; fetch sched-ext/scx commit $SCX_UPSTREAM_COMMIT (scheds/include and scheds/experimental/scx_flow/src/bpf) there"
	exit 0
fi
I=$UP/scheds/include
d1=$("$SKBUILD" build -q "$F" --manifest "$SK_ROOT/tests/scx/flow.json" -I "$I" -I "$I/bpf-compat" \
	-o "$T/flow1.oci" -t test 2>"$T/flow1.err")
d2=$("$SKBUILD" build -q "$F" --manifest "$SK_ROOT/tests/scx/flow.json" -I "$I" -I "$I/bpf-compat" \
	-o "$T/flow2.oci" -t test 2>"$T/flow2.err")
if [ -n "$d1" ] && [ "$d1" = "$d2" ]; then
	pass "scx_flow (8 .bpf.c files) builds twice with the same digest ($d1)"
else
	fail "scx_flow builds reproducibly" "'$d1' vs '$d2': $(cat "$T/flow1.err" "$T/flow2.err" | tail -3)"
fi
if [ -d "$T/flow1.oci" ] && multi_obj "$T/flow1.oci" "$T/flow.bpf.o"; then
	syms=$(llvm-nm-16 --defined-only "$T/flow.bpf.o" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')
	missing= nsrc=0
	for src in "$F"/*.bpf.c; do
		for f in $(sed -n 's/^.*BPF_STRUCT_OPS\(_SLEEPABLE\)\{0,1\}(\([a-z_]*\).*/\2/p' "$src"); do
			nsrc=$((nsrc + 1))
			case " $syms " in *" $f "*) ;; *) missing="$missing $(basename "$src"):$f" ;; esac
		done
	done
	if [ -z "$missing" ] && [ $nsrc -ge 13 ]; then
		pass "scx_flow's object holds the $nsrc callbacks of its .bpf.c files"
	else
		fail "scx_flow's object holds every file's callbacks" "missing:$missing ($nsrc found in the sources)"
	fi
	tar -tzf "$(python3 - "$T/flow1.oci" <<'PY'
import json, os, sys
root = sys.argv[1]
blob = lambda d: os.path.join(root, "blobs", *d.split(":"))
m = json.load(open(blob(json.load(open(os.path.join(root, "index.json")))["manifests"][0]["digest"])))
if "manifests" in m:
    m = json.load(open(blob([x for x in m["manifests"] if x["platform"]["architecture"] == "amd64"][0]["digest"])))
print(blob([l for l in m["layers"] if "source" in l["mediaType"] or l["mediaType"].endswith("tar+gzip")][0]["digest"]))
PY
)" >"$T/flow.src" 2>&1
	n=$(grep -c '\.bpf\.c$' "$T/flow.src")
	[ "$n" = 8 ] && grep -qx 'schedkit.json' "$T/flow.src" &&
		pass "scx_flow's source layer: its 8 .bpf.c files and the schedkit.json used" ||
		fail "scx_flow's source layer" "$(tr '\n' ' ' <"$T/flow.src")"
fi
