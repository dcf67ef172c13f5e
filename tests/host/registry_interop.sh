#!/bin/sh
# Interoperability with independent peers: what skbuild pushes is read by
# oras and skopeo byte for byte; what oras pushes with schedkit's media types
# (and what oras copies into a layout) is pulled and pushed by schedkit.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

command -v oras >/dev/null || reg_fatal "oras" "oras not found in $SK_TOOLS (run make deps)"
command -v skopeo >/dev/null || reg_fatal "skopeo" "skopeo not installed (run make deps)"
export HOME="$T/home" # peers keep caches and auth under HOME
mkdir -p "$HOME"

python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
set -- $(layout_digests "$T/lay" "$TOP")
reg_start reg
R=127.0.0.1:$REG_PORT
blob() { echo "$T/lay/blobs/sha256/${1#sha256:}"; }
amd=$(python3 -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m["platform"]["architecture"]=="amd64"][0])' "$(blob "$TOP")")
bpf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' "$(blob "$amd")")

check "skbuild push" "$SKBUILD" push "$T/lay:v1" "$R/sk/sched:v1"

# skopeo reads the index and the platform manifest byte for byte
check "skopeo inspect --raw (index)" sh -c "skopeo inspect --raw --tls-verify=false docker://$R/sk/sched:v1 >'$T/skopeo-index'"
check "skopeo: index bytes identical" cmp "$T/skopeo-index" "$(blob "$TOP")"
check "skopeo inspect --raw (manifest by digest)" sh -c "skopeo inspect --raw --tls-verify=false docker://$R/sk/sched@$amd >'$T/skopeo-man'"
check "skopeo: manifest bytes identical" cmp "$T/skopeo-man" "$(blob "$amd")"
check "skopeo list-tags" sh -c "skopeo list-tags --tls-verify=false docker://$R/sk/sched | grep -q '\"v1\"'"

# oras pulls the titled layer for a platform, and copies the whole graph
mkdir -p "$T/oras-pull"
check "oras pull --platform linux/amd64" sh -c "cd '$T/oras-pull' && oras pull --plain-http $R/sk/sched:v1 --platform linux/amd64"
check "oras pull: bpf object identical" cmp "$T/oras-pull/test.bpf.o" "$(blob "$bpf")"
check "oras copy to an OCI layout" oras copy --from-plain-http "$R/sk/sched:v1" --to-oci-layout "$T/ocopy:v1"
check "oras copy: every blob identical" same_blobs "$T/ocopy" "$T/lay" "$@"
check "skrun pull of oras' layout" "$SKRUN" pull --insecure-skip-verify "$T/ocopy:v1" --store "$T/st0"
check_eq "layout pull: digest" "$(cat "$T/out")" "$TOP"

# oras pushes with schedkit's media types; skrun pulls it
head -c 3000 /dev/urandom >"$T/obj.bpf.o"
echo '{"name":"from-oras"}' >"$T/cfg.json"
check "oras push (schedkit media types)" sh -c "cd '$T' && oras push --plain-http $R/or/sched:v1 \
	--artifact-type application/vnd.schedkit.scheduler.v1 \
	--config cfg.json:application/vnd.schedkit.scheduler.config.v1+json \
	obj.bpf.o:application/vnd.schedkit.scheduler.bpf.v1+elf"
odg=$(oras resolve --plain-http "$R/or/sched:v1" 2>/dev/null)
check "skrun pull of what oras pushed" "$SKRUN" pull --insecure-skip-verify "$R/or/sched:v1" --store "$T/st1"
check_eq "skrun pull: oras' manifest digest" "$(cat "$T/out")" "$odg"
obpf=sha256:$(sha256sum "$T/obj.bpf.o" | cut -d' ' -f1)
ocfg=sha256:$(sha256sum "$T/cfg.json" | cut -d' ' -f1)
check "oras' bpf layer byte-identical in the store" cmp "$T/st1/blobs/sha256/${obpf#sha256:}" "$T/obj.bpf.o"
check "oras' config byte-identical in the store" cmp "$T/st1/blobs/sha256/${ocfg#sha256:}" "$T/cfg.json"
check "skrun recorded oras' artifact" grep -q "$R/or/sched:v1" "$T/st1/index.json"

# and the store (a layout) pushes on with skbuild, readable by oras again
check "skbuild push from the store (by digest)" "$SKBUILD" push "$T/st1@$odg" "$R/or/copy:v2"
check_eq "re-pushed manifest keeps its digest" "$(oras resolve --plain-http "$R/or/copy:v2" 2>&1)" "$odg"
