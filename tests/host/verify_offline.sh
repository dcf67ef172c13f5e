#!/bin/sh
# Offline trust: `skbuild save` carries the signatures into the oci-archive;
# with the registry stopped, a host verifies and pulls the archive, keeps the
# signatures in its store and verifies the stored digest again without any
# network. Layouts get signatures written into them (skbuild sign LAYOUT);
# their identity is explicit. --insecure-skip-verify pulls are marked.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

[ -x "$SKBUILD" ] && [ -x "$SKRUN" ] || reg_fatal "binaries present" "$SKBUILD or $SKRUN missing (make)"
cd "$T" || exit 1
python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
python3 "$REG_TOOLS/mklayout.py" "$T/lay2" v1 --seed 2 >"$T/top2" || reg_fatal setup "mklayout failed"
TOP=$(cat top)
TOP2=$(cat top2)
PLATS=$(python3 -c 'import json,sys; print(" ".join(m["digest"] for m in json.load(open(sys.argv[1]))["manifests"]))' "$T/lay/blobs/sha256/${TOP#sha256:}")
export SKBUILD_KEY_PASSWORD=
"$SKBUILD" key generate -o "$T/k" >/dev/null 2>&1 || reg_fatal setup "key generate failed"
"$SKBUILD" key generate -o "$T/wrong" >/dev/null 2>&1 || reg_fatal setup "key generate failed"
reg_start reg
R=127.0.0.1:$REG_PORT
"$SKBUILD" push --sign k.key --recursive "$T/lay:v1" "$R/t/s:v1" >/dev/null 2>push.err || reg_fatal "setup push" "$(cat push.err)"
"$SKBUILD" push "$T/lay2:v1" "$R/t/unsigned:v1" >/dev/null 2>push.err || reg_fatal "setup push" "$(cat push.err)"

# sig_entries STORE_OR_LAYOUT: the names of the .sig entries of its index.json.
sig_entries() {
	python3 -c 'import json,sys; [print(e["annotations"]["org.opencontainers.image.ref.name"]) for e in json.load(open(sys.argv[1]+"/index.json"))["manifests"] if e.get("annotations",{}).get("org.opencontainers.image.ref.name","").endswith(".sig")]' "$1" | sort
}
# entry_ann STORE NAME KEY: an annotation of the entry recorded under NAME ("-" if none).
entry_ann() {
	python3 -c '
import json, sys
for e in json.load(open(sys.argv[1] + "/index.json"))["manifests"]:
    a = e.get("annotations", {})
    if a.get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(a.get(sys.argv[3], "-"))' "$1" "$2" "$3"
}
expected_sigs() {
	for d in "$@"; do echo "sha256-${d#sha256:}.sig"; done | sort
}

check "save a signed artifact" "$SKBUILD" save "$R/t/s:v1" -o a.tar
check "save again: byte-identical archive" sh -c "'$SKBUILD' save '$R/t/s:v1' -o b.tar >/dev/null && cmp a.tar b.tar"
mkdir -p x && tar -xf a.tar -C x
check_eq "the archive carries the signatures of the index and each platform manifest" \
	"$(sig_entries x)" "$(expected_sigs $TOP $PLATS)"
check "save an unsigned artifact" "$SKBUILD" save "$R/t/unsigned:v1" -o u.tar

reg_stop reg
check_fails "the registry is down" "connect|refused|Couldn't" \
	"$SKRUN" verify --key k.pub "$R/t/s:v1"

check "offline: skrun verify the archive" "$SKRUN" verify --key k.pub ./a.tar
check_eq "offline verify: the digest" "$(head -n1 "$T/out")" "$TOP"
check "offline verify: oci-archive:FILE:TAG (the tag is the full reference)" \
	"$SKRUN" verify --key k.pub "oci-archive:$T/a.tar:$R/t/s:v1"
check "offline pull: FILE:TAG with the full reference as tag" \
	"$SKRUN" pull --key k.pub "$T/a.tar:$R/t/s:v1" --store st0 --platform linux/amd64
check_fails "offline verify with another key" "modified payload or untrusted key" \
	"$SKRUN" verify --key wrong.pub ./a.tar
check_fails "offline verify of an unsigned archive" "no signature for $TOP2 in $R/t/unsigned" \
	"$SKRUN" verify --key k.pub ./u.tar
check_fails "offline: signatures bind the archive to its repository" \
	"signature copied from another repository \(docker-reference $R/t/s\)" \
	"$SKRUN" verify --key k.pub --identity "$R/t/other" ./a.tar

check "offline: skrun pull the archive (verified)" "$SKRUN" pull --key k.pub ./a.tar --store st --platform linux/amd64
check_eq "offline pull: digest" "$(tail -n1 "$T/out")" "$TOP"
check_eq "offline pull: recorded under the registry reference, not marked" "$(entry_ann st "$R/t/s:v1" org.schedkit.verified)" "-"
check "offline pull: the signatures are kept in the store" \
	sh -c "sig_entries() { python3 -c 'import json,sys; [print(e[\"annotations\"][\"org.opencontainers.image.ref.name\"]) for e in json.load(open(sys.argv[1]+\"/index.json\"))[\"manifests\"] if e.get(\"annotations\",{}).get(\"org.opencontainers.image.ref.name\",\"\").endswith(\".sig\")]' \"\$1\"; }; sig_entries st | grep -qx 'sha256-${TOP#sha256:}.sig'"
check "offline: store blobs are intact, no temporary files left" store_clean st
check "skrun store verify: the .sig entries are complete store entries" "$SKRUN" store verify --store st
check "offline: a pinned pull from the stopped registry verifies with the stored signatures" \
	"$SKRUN" pull -v --key k.pub "$R/t/s@$TOP" --store st --platform linux/amd64
cp "$T/out" pinned.out
check "pinned offline pull says what it trusted" grep -q "verified $TOP for $R/t/s: signed by k.pub" pinned.out
check "offline: verify the stored reference" "$SKRUN" verify --key k.pub --store st "$R/t/s:v1"
check_eq "stored verify: the digest" "$(head -n1 "$T/out")" "$TOP"
check "offline: verify the stored digest" "$SKRUN" verify --key k.pub --store st "$R/t/s@$TOP"
check_fails "stored verify with another key" "modified payload or untrusted key" \
	"$SKRUN" verify --key wrong.pub --store st "$R/t/s:v1"
check_fails "stored verify of something never pulled" "not in the store" \
	"$SKRUN" verify --key k.pub --store st "$R/t/s:v2"
check_fails "offline pull with another key is refused" "nothing was stored.*modified payload or untrusted key" \
	"$SKRUN" pull --key wrong.pub ./a.tar --store st2 --platform linux/amd64
check "refused pull recorded nothing" sh -c "! grep -q '\"$R/t/s:v1\"' st2/index.json"

# unverified pulls: only with the flag, and marked; a verified pull clears the mark
check_fails "an unsigned archive is refused" "no signature" \
	"$SKRUN" pull --key k.pub ./u.tar --store st --platform linux/amd64
check "--insecure-skip-verify pulls it" "$SKRUN" pull -v --insecure-skip-verify ./u.tar --store st --platform linux/amd64
cp "$T/out" skip.out
check "--insecure-skip-verify -v warns" grep -q "WARNING: $TOP2 was not verified" skip.out
check_eq "the entry is marked org.schedkit.verified=false" "$(entry_ann st "$R/t/unsigned:v1" org.schedkit.verified)" false
check_fails "content in the store but no signatures: a pinned pull still asks the (stopped) registry" \
	"verification of $TOP2 failed, nothing was stored: .*(connect|refused)" \
	"$SKRUN" pull --key k.pub "$R/t/unsigned@$TOP2" --store st --platform linux/amd64
check_fails "--insecure-skip-verify does not go with --key" "does not go with" \
	"$SKRUN" pull --insecure-skip-verify --key k.pub ./a.tar --store st
check "--insecure-skip-verify of the signed archive under its name" \
	"$SKRUN" pull --insecure-skip-verify ./a.tar --store st3 --platform linux/amd64
check_eq "marked" "$(entry_ann st3 "$R/t/s:v1" org.schedkit.verified)" false
check "a verified pull of the same name" "$SKRUN" pull --key k.pub ./a.tar --store st3 --platform linux/amd64
check_eq "replaces the mark" "$(entry_ann st3 "$R/t/s:v1" org.schedkit.verified)" "-"

# layouts: signatures written into the layout, identity explicit
cp -r lay lay-signed
check_fails "signing a layout whose tag is no repository asks for --identity" "--identity HOST/REPO" \
	"$SKBUILD" sign --key k.key ./lay-signed:v1
check "skbuild sign a layout" "$SKBUILD" sign --key k.key --recursive --identity "$R/t/lay" ./lay-signed:v1
check_eq "the layout holds the .sig manifests, tagged" "$(sig_entries lay-signed)" "$(expected_sigs $TOP $PLATS)"
check "skopeo reads the signature manifest from the layout" \
	skopeo inspect --raw "oci:$T/lay-signed:sha256-${TOP#sha256:}.sig"
check_fails "verify a layout without --identity" "does not name a repository.*--identity" \
	"$SKRUN" verify --key k.pub ./lay-signed:v1
check "verify a layout with --identity" "$SKRUN" verify --key k.pub --identity "$R/t/lay" ./lay-signed:v1
check "verify a layout with no tag (the .sig entries do not count)" \
	"$SKRUN" verify --key k.pub --identity "$R/t/lay" ./lay-signed
check_fails "verify a layout as another repository" "signature copied from another repository" \
	"$SKRUN" verify --key k.pub --identity "$R/t/x" ./lay-signed:v1
check "pull a signed layout" "$SKRUN" pull --key k.pub --identity "$R/t/lay" ./lay-signed --store st4 --platform linux/arm64
check "the layout's signatures are in the store" \
	sh -c "grep -q 'sha256-${TOP#sha256:}.sig' st4/index.json"
check "save a signed layout carries its signatures" "$SKBUILD" save ./lay-signed:v1 -o l.tar
check "and it verifies offline with --identity" "$SKRUN" verify --key k.pub --identity "$R/t/lay" ./l.tar
check "signing the layout again keeps the first signature" \
	sh -c "'$SKBUILD' sign --key wrong.key --identity '$R/t/lay' ./lay-signed:v1 >/dev/null 2>&1 && \
	'$SKRUN' verify --key k.pub --identity '$R/t/lay' ./lay-signed:v1 >/dev/null && \
	'$SKRUN' verify --key wrong.pub --identity '$R/t/lay' ./lay-signed:v1 >/dev/null"
