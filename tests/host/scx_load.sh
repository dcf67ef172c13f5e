#!/bin/sh
# Load-time declarations at build time (docs/authors.md, "Load-time
# declarations"): scx_bpfland's BPF side from the scx project
# (../shared/upstream/scx, unmodified) builds with skbuild and the
# schedkit.json in tests/scx/bpfland.json (--manifest: the source is not
# ours), which needs clang's system include directories (<errno.h>); its
# declarations are recorded in the artifact config as written, the manifest
# travels in the source layer; and a declaration naming what the object
# lacks is refused saying what, where and how to fix it. Running them is tests/vm/test_scx_upstream.sh.
. "$(dirname "$0")/../lib.sh"

BTF=$SK_KERNEL/vmlinux
if [ ! -s "$BTF" ]; then
	fail "kernel BTF" "$BTF is missing; run 'make kernel'"
	exit 1
fi
# The pinned scx commit (../shared/upstream/scx/README.md names it).
COMMIT=7a58a3a1a857fa748ea5a3bda5ad312afbbeca5b
UP=${SCHEDKIT_SCX_UPSTREAM:-$SK_ROOT/../shared/upstream/scx}
BL=$UP/scheds/rust/scx_bpfland/src/bpf
if [ ! -f "$BL/main.bpf.c" ] || [ ! -d "$UP/scheds/include/scx" ]; then
	# A skip is never a pass: no check runs, so tests/run.sh counts a failure.
	echo "SKIP: no upstream scx sources at $UP: fetch sched-ext/scx commit $COMMIT" \
		"(scheds/include and scheds/rust/scx_bpfland/src/bpf) there"
	exit 0
fi
export SKBUILD_BTF=$BTF SCHEDKIT_CACHE=$T/cache
M=$SK_ROOT/tests/scx
INC="-I $UP/scheds/include -I $UP/scheds/include/bpf-compat"

# shellcheck disable=SC2086
check "scx_bpfland builds unchanged with --manifest tests/scx/bpfland.json" \
	"$SKBUILD" build -q "$BL/main.bpf.c" --manifest "$M/bpfland.json" -o "$T/bl.oci" -t test $INC
if "$SKBUILD" inspect --json "oci:$T/bl.oci:test" >"$T/bl.json" 2>"$T/err"; then
	if python3 - "$T/bl.json" "$M/bpfland.json" <<'EOF'; then
import json, sys
cfg = json.load(open(sys.argv[1]))["config"]
want = json.load(open(sys.argv[2]))["load"]
assert cfg.get("load") == want, cfg.get("load")
assert cfg["name"] == "scx_bpfland", cfg["name"]
assert cfg["ops"]["name"] == "bpfland", cfg["ops"]
EOF
		pass "the artifact config records the load declarations as written"
	else fail "load declarations recorded" "config.load differs from tests/scx/bpfland.json"; fi
	if python3 - "$SK_ROOT/docs/config.schema.json" "$T/bl.json" <<'EOF'; then
import json, sys
import jsonschema
jsonschema.validate(json.load(open(sys.argv[2]))["config"], json.load(open(sys.argv[1])))
EOF
		pass "the config with its load declarations validates against docs/config.schema.json"
	else fail "config validates against docs/config.schema.json" "see above"; fi
else fail "inspect --json scx_bpfland" "$(cat "$T/err")"; fi
# The manifest given with --manifest is the source layer's schedkit.json.
layer=$(python3 - "$T/bl.json" <<'EOF'
import json, sys
for l in json.load(open(sys.argv[1]))["manifest"]["layers"]:
    if "tar" in l["mediaType"]:
        print(l["digest"].split(":")[1])
EOF
)
if [ -n "$layer" ] && tar -xzOf "$T/bl.oci/blobs/sha256/$layer" schedkit.json 2>/dev/null | cmp -s - "$M/bpfland.json"; then
	pass "the source layer carries --manifest's file as schedkit.json"
else fail "source layer carries the manifest" "no schedkit.json equal to tests/scx/bpfland.json in layer '$layer'"; fi
# shellcheck disable=SC2086
check_fails "--manifest of a missing file is refused" "--manifest $T/none.json: no such file" \
	"$SKBUILD" build -q "$BL/main.bpf.c" --manifest "$T/none.json" -o "$T/x.oci" $INC

# Refusals: each manifest differs from bpfland.json in one declaration. Each
# costs a compile of scx_bpfland, so two here; tests/unit/test_loadspec.c
# has every refusal, on a small object.
bad() {
	python3 - "$M/bpfland.json" "$T/bad.json" "$1" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
exec(sys.argv[3], {"load": m["load"]})
json.dump(m, open(sys.argv[2], "w"))
EOF
}
refuse() { # NAME PYTHON-EDIT PATTERN
	bad "$2"
	# shellcheck disable=SC2086
	check_fails "refused: $1" "$3" "$SKBUILD" build -q "$BL/main.bpf.c" --manifest "$T/bad.json" \
		-o "$T/bad.oci" $INC
}
refuse "a variable the object lacks" 'load["rodata"]["smt_enable"] = "smt_enabled"' \
	"bad.json: load.rodata.smt_enable: the object has no const volatile variable 'smt_enable'"
refuse "a field the argument struct lacks" 'load["syscalls"][1]["args"] = {"cpu": "cpu"}' \
	"struct cpu_arg \\(the argument of 'enable_primary_cpu'\\) has no field 'cpu'; its fields: cpu_id"
