#!/bin/sh
# Signatures in a registry, both ways with cosign 2.x on a loopback
# docker-registry: cosign verifies what `skbuild sign` and `skbuild push --sign`
# wrote (index and platform manifest digests, annotations, several keys), and
# `skrun verify` accepts what `cosign sign --key` wrote. The payload bytes are
# cosign's own: cosign's signature of the same digest lands on the same blob.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"
KEYS=$SK_ROOT/tests/trust/keys

command -v cosign >/dev/null 2>&1 || reg_fatal "cosign present" "cosign not found in $SK_TOOLS or PATH (make deps)"
[ -x "$SKBUILD" ] && [ -x "$SKRUN" ] || reg_fatal "binaries present" "$SKBUILD or $SKRUN missing (make)"
cd "$T" || exit 1
python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
python3 "$REG_TOOLS/mklayout.py" "$T/lay2" v1 --seed 2 >"$T/top2" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
TOP2=$(cat "$T/top2")
PLAT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$T/lay/blobs/sha256/${TOP#sha256:}")
reg_start reg
R=127.0.0.1:$REG_PORT
COSIGN_REG="--allow-http-registry --allow-insecure-registry"
export COSIGN_PASSWORD=cosign-pass

# sigman REPO DIGEST: the signature manifest of DIGEST, straight from the registry.
sigman() {
	python3 - "$R" "$1" "$2" <<'PY'
import sys, urllib.request
r, repo, dg = sys.argv[1:]
req = urllib.request.Request(f"http://{r}/v2/{repo}/manifests/sha256-{dg[7:]}.sig",
                             headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
sys.stdout.write(urllib.request.urlopen(req).read().decode())
PY
}
# layer_digests: the payload digest of each layer of the manifest on stdin, one a line.
layer_digests() {
	python3 -c 'import json,sys; [print(l["digest"]) for l in json.load(sys.stdin)["layers"]]'
}
cosign_verify() { # KEY REF [args]
	_k=$1
	_r=$2
	shift 2
	cosign verify --key "$_k" --insecure-ignore-tlog $COSIGN_REG "$@" "$_r"
}

SKBUILD_KEY_PASSWORD= "$SKBUILD" key generate -o "$T/ours" >/dev/null 2>&1 || reg_fatal setup "key generate failed"
SKBUILD_KEY_PASSWORD=second-pass "$SKBUILD" key generate -o "$T/enc" >/dev/null 2>&1 || reg_fatal setup "key generate failed"

# ---- skbuild signs, cosign verifies ----
check "push --sign --recursive" sh -c "SKBUILD_KEY_PASSWORD= '$SKBUILD' push --sign ours.key --recursive '$T/lay:v1' '$R/t/s:v1' >push.out 2>push.err"
check_eq "push --sign prints the pushed digest" "$(cat push.out)" "$TOP"
check "push --sign --recursive signed the index and each platform manifest" \
	sh -c "test \$(grep -c '^signed sha256:' push.err) = 3 && grep -q 'signed $TOP as $R/t/s' push.err && grep -q 'signed $PLAT as' push.err"
check "cosign verify accepts the index signature" cosign_verify ours.pub "$R/t/s@$TOP"
check "cosign verify accepts the platform manifest signature" cosign_verify ours.pub "$R/t/s@$PLAT"
check "cosign verify by tag (resolves to the signed index)" cosign_verify ours.pub "$R/t/s:v1"
check_fails "cosign verify rejects it under another key" "no matching signatures" \
	cosign_verify "$KEYS/ec-pkcs8.pub" "$R/t/s@$TOP"
# the default signs what skrun judges: the index digest, which binds the platform manifests
check "push --sign (default: the index only)" sh -c "SKBUILD_KEY_PASSWORD= '$SKBUILD' push --sign ours.key '$T/lay:v1' '$R/t/idx:v1' >push1.out 2>push1.err"
check "push --sign signed the index, and nothing else" \
	sh -c "test \$(grep -c '^signed sha256:' push1.err) = 1 && grep -q 'signed $TOP as $R/t/idx' push1.err"
check "cosign verify accepts the index signature" cosign_verify ours.pub "$R/t/idx@$TOP"
check_fails "cosign verify finds no signature on the platform manifest" "no signatures found|no matching signatures" \
	cosign_verify ours.pub "$R/t/idx@$PLAT"

check_fails "sign with a wrong password fails before anything is written" "password|decrypt" \
	env SKBUILD_KEY_PASSWORD=wrong "$SKBUILD" sign --key enc.key "$R/t/s:v1"
check_eq "the wrong password added no signature" "$(sigman t/s "$TOP" | layer_digests | wc -l)" 1
check "skbuild sign (encrypted key, annotation) adds a signature" \
	env SKBUILD_KEY_PASSWORD=second-pass "$SKBUILD" sign --key enc.key --recursive -a stage=production "$R/t/s:v1"
cp "$T/out" sign.out
check "skbuild sign prints what it signed" grep -q "^signed $TOP as $R/t/s" sign.out
check_eq "the existing signature is kept" "$(sigman t/s "$TOP" | layer_digests | wc -l)" 2
check "cosign still verifies the first key's signature" cosign_verify ours.pub "$R/t/s@$TOP"
check "cosign verifies the second key's, with its signed annotation" \
	cosign_verify enc.pub "$R/t/s@$TOP" -a stage=production
check "cosign verifies the second key on the platform manifest too" cosign_verify enc.pub "$R/t/s@$PLAT"
check_fails "cosign rejects a required annotation the payload lacks" "no matching signatures|annotation" \
	cosign_verify ours.pub "$R/t/s@$TOP" -a stage=production

# ---- the payload bytes are cosign's ----
check "cosign sign --key (cosign-generated ECDSA key)" sh -c "cosign generate-key-pair --output-key-prefix cos >/dev/null 2>&1 && \
	cosign sign --key cos.key --tlog-upload=false --yes $COSIGN_REG '$R/t/s@$TOP' >/dev/null 2>cos-sign.log"
sigman t/s "$TOP" | layer_digests >layers
check_eq "cosign added its layer next to ours" "$(wc -l <layers)" 3
check_eq "cosign's payload is the very blob skbuild wrote (same bytes)" "$(sed -n 1p layers)" "$(sed -n 3p layers)"
python3 - "$R" "$TOP" >payload.json <<'PY' || true
import json, sys, urllib.request
r, dg = sys.argv[1:]
m = json.load(urllib.request.urlopen(urllib.request.Request(
    f"http://{r}/v2/t/s/manifests/sha256-{dg[7:]}.sig",
    headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})))
sys.stdout.buffer.write(urllib.request.urlopen(f"http://{r}/v2/t/s/blobs/{m['layers'][0]['digest']}").read())
PY
printf '%s' '{"critical":{"identity":{"docker-reference":"'"$R/t/s"'"},"image":{"docker-manifest-digest":"'"$TOP"'"},"type":"cosign container image signature"},"optional":null}' >expected.json
check "the payload skbuild wrote is byte for byte cosign's format" cmp payload.json expected.json

# ---- cosign signs, skrun verifies ----
check "skrun verify accepts cosign's signature (--key)" "$SKRUN" verify --key cos.pub "$R/t/s:v1"
cp "$T/out" verify.out
check "skrun verify prints the digest and the matching key" \
	sh -c "head -n1 verify.out | grep -qx '$TOP' && grep -q 'by: cos.pub' verify.out"
cat >policy.json <<EOP
{"version": 1,
 "keys": {"cosign-made": "cos.pub", "ours": "ours.pub", "enc": "enc.pub"},
 "scopes": {"$R/t": {"keys": ["cosign-made", "ours", "enc"], "threshold": 3}}}
EOP
check "skrun verify: cosign's and skbuild's signatures meet a 3-of-3 policy" \
	"$SKRUN" verify --policy policy.json "$R/t/s:v1"
cp "$T/out" verify.out
check "skrun verify names all three keys" grep -q 'by: cosign-made, enc, ours' verify.out
check_fails "skrun verify: the platform manifest lacks cosign's signature for 3 of 3" \
	'threshold 3 of 3 keys not met \(2 matched: enc, ours\)' \
	"$SKRUN" verify --policy policy.json "$R/t/s@$PLAT"
check "skrun pull verifies cosign's signature before recording" \
	"$SKRUN" pull --key cos.pub "$R/t/s:v1" --store "$T/st" --platform linux/amd64
check "skrun pull recorded the reference and kept the signatures" \
	sh -c "grep -q '\"$R/t/s:v1\"' '$T/st/index.json' && grep -q 'sha256-${TOP#sha256:}.sig' '$T/st/index.json'"

# cosign import-key-pair of a PEM key. This cosign build rejects every ECDSA
# PEM (SEC1, PKCS#8, encrypted or not) with "unsupported public key type"; if
# a cosign that imports it shows up, the ECDSA import path is tested too.
if cosign import-key-pair --key ours.key --output-key-prefix imp-ecdsa >import.log 2>&1; then
	check "cosign sign with our imported ECDSA key" cosign sign --key imp-ecdsa.key \
		--tlog-upload=false --yes $COSIGN_REG "$R/t/s@$PLAT"
	check "skrun verify accepts it under our .pub" "$SKRUN" verify --key ours.pub "$R/t/s@$PLAT"
elif grep -q 'unsupported public key type' import.log; then
	echo "NOTE: this cosign build's import-key-pair rejects ECDSA PEM keys: $(tail -n 1 import.log)"
else
	fail "cosign import-key-pair of our ECDSA key" "$(tail -n 3 import.log)"
fi
# Ed25519: a PEM key pair that skbuild generated, imported into cosign.
"$SKBUILD" push "$T/lay2:v1" "$R/t/ed:v1" >/dev/null 2>&1 || reg_fatal setup "push lay2 failed"
check "skbuild key generate --type ed25519" env SKBUILD_KEY_PASSWORD= "$SKBUILD" key generate --type ed25519 -o skb-ed
KEYS_ED=$T/keys-ed
mkdir -p "$KEYS_ED"
cp skb-ed.key "$KEYS_ED/ed25519.pem"
cp skb-ed.pub "$KEYS_ED/ed25519.pub"
check "cosign import-key-pair of skbuild's Ed25519 PEM key" \
	cosign import-key-pair --key "$KEYS_ED/ed25519.pem" --output-key-prefix imp-ed
check "cosign sign with the imported Ed25519 key" cosign sign --key imp-ed.key \
	--tlog-upload=false --yes $COSIGN_REG "$R/t/ed@$TOP2"
check "skrun verify accepts cosign's Ed25519 signature with the PEM's public key" \
	"$SKRUN" verify --key "$KEYS_ED/ed25519.pub" "$R/t/ed:v1"
check "skbuild sign with the same Ed25519 PEM key" \
	env SKBUILD_KEY_PASSWORD= "$SKBUILD" sign --key "$KEYS_ED/ed25519.pem" --recursive "$R/t/ed@$TOP2"
check_eq "Ed25519 is deterministic: the same payload and signature are not added twice" \
	"$(sigman t/ed "$TOP2" | layer_digests | wc -l)" 1
check "cosign verifies the platform manifest skbuild signed with Ed25519" \
	cosign_verify "$KEYS_ED/ed25519.pub" "$R/t/ed@$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][1]["digest"])' "$T/lay2/blobs/sha256/${TOP2#sha256:}")"

check_fails "sign without --key" "--key KEY is required" "$SKBUILD" sign "$R/t/s:v1"
check_fails "sign with a public key" "private|PUBLIC KEY" "$SKBUILD" sign --key ours.pub "$R/t/s:v1"
check_fails "sign a tag that does not exist" "t/s:nope|not found|unknown" \
	env SKBUILD_KEY_PASSWORD= "$SKBUILD" sign --key ours.key "$R/t/s:nope"
