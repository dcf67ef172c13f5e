#!/bin/sh
# skbuild build and inspect on the host: every shipped scheduler builds against
# the sid kernel's BTF, the layout is readable by oras, builds are reproducible,
# and bad input is refused with a clear message.
. "$(dirname "$0")/../lib.sh"

BTF=$SK_KERNEL/vmlinux
if [ ! -s "$BTF" ]; then
	fail "kernel BTF" "$BTF is missing; run 'make kernel'"
	exit 1
fi
export SKBUILD_BTF=$BTF SOURCE_DATE_EPOCH=1700000000 SCHEDKIT_CACHE=$T/cache

# --- every shipped scheduler builds and inspects ---
for d in "$SK_ROOT"/scheds/*/; do
	name=$(basename "$d")
	check "build scheds/$name" "$SKBUILD" build "$d" -o "$T/$name.oci" -t test
	check "inspect scheds/$name" "$SKBUILD" inspect "$T/$name.oci:test"
	if grep -q "min kernel" "$T/out" && grep -q "callbacks" "$T/out"; then
		pass "inspect scheds/$name shows requirements"
	else
		fail "inspect scheds/$name shows requirements" "$(cat "$T/out")"
	fi
	"$SKBUILD" inspect --json "$T/$name.oci:test" >"$T/$name.json" 2>&1
	if python3 - "$T/$name.json" "$name" <<'EOF'; then pass "inspect --json scheds/$name"; else fail "inspect --json scheds/$name" "bad JSON"; fi
import json, sys
j = json.load(open(sys.argv[1]))
m, c = j["manifest"], j["config"]
assert m["artifactType"] == "application/vnd.schedkit.scheduler.v1", m
assert m["config"]["mediaType"] == "application/vnd.schedkit.scheduler.config.v1+json"
assert m["layers"][0]["mediaType"] == "application/vnd.schedkit.scheduler.bpf.v1+elf"
assert m["layers"][1]["mediaType"] == "application/vnd.schedkit.scheduler.source.v1.tar+gzip"
a = m["annotations"]
for k in ("org.schedkit.scheduler.kernel.min-version", "org.schedkit.scheduler.name",
          "org.schedkit.scheduler.kernel.kfuncs", "org.schedkit.scheduler.ops",
          "org.opencontainers.image.created", "org.opencontainers.image.version",
          "org.opencontainers.image.licenses"):
    assert a.get(k), k
assert a["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z", a
assert a["org.schedkit.scheduler.name"] == c["ops"]["name"] == sys.argv[2]
assert c["requirements"]["minKernel"] == a["org.schedkit.scheduler.kernel.min-version"]
assert "enqueue" in c["requirements"]["callbacks"]
assert any(t["name"] == "slice_ns" for t in c["tunables"]), c["tunables"]
assert c["build"]["compiler"].startswith("Debian clang version 16") or "clang" in c["build"]["compiler"]
EOF
done

# --- the config validates against the documented schema ---
if python3 - "$SK_ROOT/docs/config.schema.json" "$T"/fifo.json "$T"/vtime.json <<'EOF'; then pass "configs validate against docs/config.schema.json"; else fail "configs validate against docs/config.schema.json" "see above"; fi
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
for f in sys.argv[2:]:
    jsonschema.validate(json.load(open(f))["config"], schema)
EOF

# --- vmlinux.h from a vmlinux ELF and from the raw BTF inside it are the same ---
if llvm-objcopy-16 --dump-section .BTF="$T/raw.btf" "$BTF" "$T/vmlinux.copy" 2>"$T/objcopy.err"; then
	check "vmlinux.h from a vmlinux ELF" "$SKBUILD" vmlinux --btf "$BTF" -o "$T/vh-elf"
	check "vmlinux.h from raw BTF" "$SKBUILD" vmlinux --btf "$T/raw.btf" -o "$T/vh-raw"
	cmp -s "$T/vh-elf/vmlinux.h" "$T/vh-raw/vmlinux.h" && grep -q "struct sched_ext_ops {" "$T/vh-raw/vmlinux.h" &&
		pass "raw BTF and ELF give the same vmlinux.h" || fail "raw BTF and ELF give the same vmlinux.h" "differ"
	rm -f "$T/vmlinux.copy"
else
	fail "extract raw BTF" "$(cat "$T/objcopy.err")"
fi
n=$(find "$T/cache/vmlinux" -name vmlinux.h | wc -l)
[ "$n" = 1 ] && pass "vmlinux.h cached once per BTF digest" || fail "vmlinux.h cached once per BTF digest" "$n headers"

# --- the object carries no host paths, keeps BTF, drops DWARF ---
obj=$(python3 -c '
import json,sys
j=json.load(open(sys.argv[1])); print(j["manifest"]["layers"][0]["digest"].split(":")[1])' "$T/fifo.json")
blob=$T/fifo.oci/blobs/sha256/$obj
if grep -q "$SK_ROOT" "$blob" || grep -q "$T" "$blob"; then
	fail "object has no host paths" "found a build path in the object"
else pass "object has no host paths"; fi
if llvm-objdump-16 -h "$blob" | grep -q '\.BTF' && ! llvm-objdump-16 -h "$blob" | grep -q debug_info; then
	pass "object keeps BTF and drops DWARF"
else fail "object keeps BTF and drops DWARF" "$(llvm-objdump-16 -h "$blob")"; fi

# --- reproducible: other directory, other time, other cache ---
# The sources live in a git repository (revision and created come from it),
# cloned to a second, deeper directory; SOURCE_DATE_EPOCH is not used.
mkdir -p "$T/repo" "$T/elsewhere/deep/dir"
cp -r "$SK_ROOT/scheds/fifo" "$T/repo/"
(cd "$T/repo" && git init -q && git add -A &&
	GIT_AUTHOR_DATE=@1700000000 GIT_COMMITTER_DATE=@1700000000 \
		git -c user.name=t -c user.email=t@t commit -qm fifo) >/dev/null 2>&1
git clone -q "$T/repo" "$T/elsewhere/deep/dir/repo"
sleep 1
d1=$(env -u SOURCE_DATE_EPOCH "$SKBUILD" build -q "$T/repo/fifo" -o "$T/r1.oci" -t x 2>&1)
d2=$(env -u SOURCE_DATE_EPOCH SCHEDKIT_CACHE=$T/cache2 "$SKBUILD" build -q "$T/elsewhere/deep/dir/repo/fifo" -o "$T/r2.oci" -t x 2>&1)
if [ -n "$d1" ] && [ "$d1" = "$d2" ] && expr "$d1" : 'sha256:' >/dev/null; then
	pass "reproducible index digest ($d1)"
else fail "reproducible index digest" "'$d1' vs '$d2'"; fi
if "$SKBUILD" inspect --json "$T/r1.oci:x" | python3 -c 'import json, sys
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "org.opencontainers.image.created" and v == "2023-11-14T22:13:20Z":
                return True
            if walk(v):
                return True
    elif isinstance(o, list):
        return any(walk(v) for v in o)
    return False
sys.exit(0 if walk(json.load(sys.stdin)) else 1)'; then
	pass "created comes from the last commit"
else fail "created comes from the last commit" "$("$SKBUILD" inspect --json "$T/r1.oci:x" | head -c 600)"; fi

# --- multi-platform ---
check "build --arch amd64,arm64" "$SKBUILD" build "$SK_ROOT/scheds/vtime" -o "$T/multi.oci" -t m --arch amd64,arm64
check "inspect arm64 platform" "$SKBUILD" inspect --arch arm64 "$T/multi.oci:m"
grep -q "linux/arm64" "$T/out" && pass "arm64 manifest selected" || fail "arm64 manifest selected" "$(cat "$T/out")"

# --- an independent tool reads the layout: oras into a real registry ---
port=$(free_port)
mkdir -p "$T/reg"
cat >"$T/reg/config.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $T/reg/data}}
http: {addr: 127.0.0.1:$port}
EOF
docker-registry serve "$T/reg/config.yml" >"$T/reg/log" 2>&1 &
regpid=$!
sk_on_exit "kill $regpid 2>/dev/null"
up=0
for _ in $(seq 50); do
	if curl -sf "http://127.0.0.1:$port/v2/" >/dev/null; then up=1; break; fi
	sleep 0.1
done
if [ $up = 0 ]; then
	fail "docker-registry starts" "$(cat "$T/reg/log")"
else
	for name in fifo vtime; do
		check "oras cp layout -> registry ($name)" oras cp --from-oci-layout "$T/$name.oci:test" --to-plain-http "127.0.0.1:$port/sched/$name:test"
		oras manifest fetch --plain-http "127.0.0.1:$port/sched/$name:test" >"$T/fetched" 2>&1
		idx=$(python3 -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"]=="test"][0].split(":")[1])' "$T/$name.oci/index.json")
		if cmp -s "$T/fetched" "$T/$name.oci/blobs/sha256/$idx"; then
			pass "oras manifest fetch returns our bytes ($name)"
		else fail "oras manifest fetch returns our bytes ($name)" "$(head -c 300 "$T/fetched")"; fi
	done
	# build --push and inspect against the registry
	check "build --push" "$SKBUILD" build "$SK_ROOT/scheds/vtime" -o "$T/pushed.oci" -t p --push "127.0.0.1:$port/sched/vtime:pushed" --digest-file "$T/pushed.digest"
	built=$("$SKBUILD" inspect --json "$T/pushed.oci:p" | python3 -c 'import json,sys; print(json.load(sys.stdin)["indexDigest"])')
	[ "$(cat "$T/pushed.digest" 2>/dev/null)" = "$built" ] && pass "build --push digest file" ||
		fail "build --push digest file" "'$(cat "$T/pushed.digest" 2>/dev/null)' vs '$built'"
	check "inspect a registry reference" "$SKBUILD" inspect "127.0.0.1:$port/sched/vtime:pushed"
	grep -q "index digest      $built" "$T/out" && grep -q "ops name          vtime" "$T/out" &&
		pass "inspect REF shows the pushed artifact" || fail "inspect REF shows the pushed artifact" "$(cat "$T/out")"
	check "skrun check a registry reference" "$SKRUN" check --btf "$BTF" "127.0.0.1:$port/sched/vtime:pushed"
	grep -q "vtime" "$T/out" && pass "skrun check REF reports" || fail "skrun check REF reports" "$(cat "$T/out")"
	check_fails "inspect a missing registry tag" "nosuch" "$SKBUILD" inspect "127.0.0.1:$port/sched/vtime:nosuch"
	check_fails "build: --digest-file needs --push" "go with --push" "$SKBUILD" build "$SK_ROOT/scheds/vtime" --digest-file x
fi

# --- bad input: clear message, non-zero exit ---
mkdir -p "$T/bad"
printf '#include <vmlinux.h>\nint oops( {\n' >"$T/bad/syntax.bpf.c"
check_fails "compiler error shows file:line" 'syntax\.bpf\.c:2:.*error' "$SKBUILD" build "$T/bad/syntax.bpf.c" -o "$T/bad/o1"
cat >"$T/bad/noops.bpf.c" <<'EOF'
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
char _license[] SEC("license") = "GPL";
SEC("tp/sched/sched_switch") int on_switch(void *ctx) { return 0; }
EOF
check_fails "no sched_ext_ops map" 'no struct sched_ext_ops map' "$SKBUILD" build "$T/bad/noops.bpf.c" -o "$T/bad/o2"
check_fails "two ops maps without --ops" 'sched_ext_ops maps.*two_a.*two_b.*--ops' "$SKBUILD" build "$SK_ROOT/tests/scheds/two_ops.bpf.c" -o "$T/bad/o3"
ops=$(sed -n 's/^SEC(".struct_ops.link")$//; s/^struct sched_ext_ops \([a-z_0-9]*\) = {.*/\1/p' "$SK_ROOT/tests/scheds/two_ops.bpf.c" | head -n1)
if [ -n "$ops" ]; then
	check "two ops maps with --ops $ops" "$SKBUILD" build "$SK_ROOT/tests/scheds/two_ops.bpf.c" --ops "$ops" -o "$T/ok3"
else fail "two ops maps with --ops" "cannot find an ops map name in two_ops.bpf.c"; fi
check_fails "license refused" '[Ll]icense.*GPL' "$SKBUILD" build "$SK_ROOT/tests/scheds/proprietary.bpf.c" -o "$T/bad/o4"
check_fails "missing BTF source" 'nonexistent.*--btf' "$SKBUILD" build "$SK_ROOT/scheds/fifo" --btf "$T/nonexistent" -o "$T/bad/o5"
check_fails "BTF-less BTF source" 'no readable BTF|has no BTF' "$SKBUILD" build "$SK_ROOT/scheds/fifo" --btf /bin/true -o "$T/bad/o6"
if [ -r /sys/kernel/btf/vmlinux ] && [ ! -d /sys/kernel/sched_ext ]; then
	check_fails "BTF without sched_ext" 'CONFIG_SCHED_CLASS_EXT' "$SKBUILD" build "$SK_ROOT/scheds/fifo" --btf /sys/kernel/btf/vmlinux -o "$T/bad/o7"
fi
check_fails "ops name too long" 'name' "$SKBUILD" build "$SK_ROOT/tests/scheds/longname.bpf.c" -o "$T/bad/o8"
printf 'x' >"$T/bad/afile"
check_fails "unwritable output directory" 'afile' "$SKBUILD" build "$SK_ROOT/scheds/fifo" -o "$T/bad/afile/sub/out.oci"
if [ -z "$(find "$T/bad" -path '*o[1-8]*' -print -quit)" ] && [ "$(cat "$T/bad/afile")" = x ]; then
	pass "failed builds leave nothing behind"
else fail "failed builds leave nothing behind" "$(find "$T/bad" -path '*o[1-8]*')"; fi
check_fails "unknown option" 'usage' "$SKBUILD" build --bogus x
check_fails "unknown --arch" 'not supported' "$SKBUILD" build "$SK_ROOT/scheds/fifo" --arch s390x
