#!/bin/sh
# Interoperability with cosign 2.x without a registry (sign-blob/verify-blob
# over the same simple-signing payload bytes skbuild puts in .sig manifests):
# cosign accepts what libschedkit signs, libschedkit accepts what cosign signs.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/trust/build-tool.sh"
KEYS=$SK_ROOT/tests/trust/keys

if ! command -v cosign >/dev/null 2>&1; then
	fail "cosign present" "cosign not found in $SK_TOOLS or PATH (make deps)"
	exit 1
fi
if [ ! -x "$SKBUILD" ]; then
	fail "skbuild present" "$SKBUILD is missing (make)"
	exit 1
fi
sk_build_trust_tool
cd "$T" || exit 1

REPO=127.0.0.1:5000/team/sched
DIGEST=sha256:2eb6e53be00b14fe465f7fbaabdc049ad6d0b8db493a4413a7159b77cb2ba958
export SKBUILD_KEY_PASSWORD=correct-horse-battery
export COSIGN_PASSWORD=cosign-pass

check "skbuild key generate (encrypted)" "$SKBUILD" key generate -o "$T/our"
check "private key is encrypted PKCS#8" grep -q 'BEGIN ENCRYPTED PRIVATE KEY' our.key

# The payload bytes must be exactly cosign's.
"$TRUST_TOOL" payload "$REPO" "$DIGEST" >payload.json
printf '%s' '{"critical":{"identity":{"docker-reference":"'"$REPO"'"},"image":{"docker-manifest-digest":"'"$DIGEST"'"},"type":"cosign container image signature"},"optional":null}' >expected.json
check "payload bytes are cosign's" cmp payload.json expected.json

# (a) cosign verifies what we sign.
check "sign payload with our ECDSA key" sh -c "'$TRUST_TOOL' sign our.key payload.json >our.sig"
check "cosign verify-blob accepts our ECDSA signature" \
	cosign verify-blob --key our.pub --signature our.sig --insecure-ignore-tlog=true payload.json
sed 's/"optional":null/"optional":{"stage":"production"}/' payload.json >tampered.json
check_fails "cosign verify-blob rejects our signature on a modified payload" \
	'invalid signature when validating ASN.1 encoded signature' \
	cosign verify-blob --key our.pub --signature our.sig --insecure-ignore-tlog=true tampered.json
check "sign payload with an Ed25519 key" \
	sh -c "SKBUILD_KEY_PASSWORD= '$TRUST_TOOL' sign '$KEYS/ed25519.pem' payload.json >ed.sig"
check "cosign verify-blob accepts our Ed25519 signature" \
	cosign verify-blob --key "$KEYS/ed25519.pub" --signature ed.sig --insecure-ignore-tlog=true \
	payload.json

# (b) we verify what cosign signs: with cosign's own key pair...
check "cosign generate-key-pair" cosign generate-key-pair --output-key-prefix cos
check "cosign sign-blob" cosign sign-blob --key cos.key --tlog-upload=false --yes \
	--output-signature cos.sig payload.json
check "our verifier accepts cosign's ECDSA signature" "$TRUST_TOOL" verify cos.pub payload.json cos.sig
check_fails "our verifier rejects cosign's signature on a modified payload" 'does not verify' \
	"$TRUST_TOOL" verify cos.pub tampered.json cos.sig
cat >policy.json <<EOP
{"version": 1,
 "keys": {"cosign-made": "cos.pub", "ours": {"path": "our.pub"}},
 "scopes": {"127.0.0.1:5000/team": {"keys": ["cosign-made", "ours"], "threshold": 2}}}
EOP
check "policy: cosign's and our signature meet threshold 2" \
	"$TRUST_TOOL" evaluate policy.json "$REPO" "$DIGEST" payload.json cos.sig payload.json our.sig
check_fails "policy: cosign's signature alone does not" \
	'threshold 2 of 2 keys not met \(1 matched: cosign-made\)' \
	"$TRUST_TOOL" evaluate policy.json "$REPO" "$DIGEST" payload.json cos.sig
check_fails "policy: cosign's signature is for another digest" 'payload for another digest' \
	"$TRUST_TOOL" evaluate policy.json "$REPO" \
	sha256:0000000000000000000000000000000000000000000000000000000000000000 \
	payload.json cos.sig payload.json our.sig

# ...and with PEM keys imported into cosign (cosign's key files are its own
# format; import-key-pair wraps a plain PEM key, so the key is unencrypted here).
check "skbuild key generate (unencrypted, for import)" \
	env SKBUILD_KEY_PASSWORD= "$SKBUILD" key generate -o "$T/plain"
if cosign import-key-pair --key plain.key --output-key-prefix imported >import.log 2>&1; then
	check "cosign sign-blob with our imported ECDSA key" cosign sign-blob --key imported.key \
		--tlog-upload=false --yes --output-signature imp.sig payload.json
	check "our verifier accepts it with our .pub" "$TRUST_TOOL" verify plain.pub payload.json imp.sig
elif grep -q 'error validating ecdsa key: unsupported public key type' import.log; then
	# Not a pass and not a skip: this cosign build cannot import any ECDSA (or
	# RSA) PEM key, not even one from openssl. The ECDSA direction is covered
	# above with cosign's own key, the import path below with Ed25519.
	echo "NOTE: this cosign build's import-key-pair rejects every ECDSA key: $(tail -n 1 import.log)"
else
	fail "cosign import-key-pair of our ECDSA key" "$(tail -n 3 import.log)"
fi
check "cosign import-key-pair of an Ed25519 PEM key" \
	cosign import-key-pair --key "$KEYS/ed25519.pem" --output-key-prefix imported-ed
check "skbuild key public of that PEM key" sh -c "SKBUILD_KEY_PASSWORD= '$SKBUILD' key public '$KEYS/ed25519.pem' >ed-ours.pub"
check "cosign sign-blob with the imported Ed25519 key" cosign sign-blob --key imported-ed.key \
	--tlog-upload=false --yes --output-signature imp-ed.sig payload.json
check "our verifier accepts it" "$TRUST_TOOL" verify ed-ours.pub payload.json imp-ed.sig
check_fails "our verifier rejects it under another key" 'does not verify' \
	"$TRUST_TOOL" verify our.pub payload.json imp-ed.sig
