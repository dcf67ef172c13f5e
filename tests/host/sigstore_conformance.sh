#!/bin/sh
# Offline Sigstore bundle verification against the sigstore-conformance
# suite's bundle-verify cases, through the suite's own CLI protocol
# (tests/sigstore/verify-bundle). Every case directory must get the verdict
# its name gives (*_fail: refused, else verified); each refusal's reason is
# printed, and for the cases known here it must be the expected one. Then a
# few refusals the suite does not cover (SAN, issuer, untrusted CA, unknown
# version, truncated bundle) on bundles derived from its happy path.
. "$(dirname "$0")/../lib.sh"
VB=$SK_BUILD/tests/sigstore/verify-bundle
SHARED=$SK_ROOT/../shared/sigstore
CASES=$SHARED/bundle-verify
PUBLIC_GOOD=$SHARED/trusted_root.public-good.json
DEFAULT_ID=https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main
DEFAULT_ISSUER=https://token.actions.githubusercontent.com

if [ ! -x "$VB" ]; then
	fail "verify-bundle present" "$VB is missing (make BUILD=$(basename "$SK_BUILD") tests)"
	exit 1
fi
if [ ! -d "$CASES" ] || [ ! -f "$PUBLIC_GOOD" ]; then
	fail "conformance material present" "$CASES or $PUBLIC_GOOD is missing (CI places the sigstore-conformance cases in ../shared/sigstore next to the checkout)"
	exit 1
fi

# The reason each known refusal must give (grep -E on verify-bundle's message).
expected_reason() {
	case $1 in
	bundle-empty-certificate-chain_fail) echo 'x509CertificateChain is empty' ;;
	bundle-invalid-base64-signature_fail) echo 'messageSignature.signature: invalid base64' ;;
	bundle-negative-log-index_fail) echo '"logIndex" is negative' ;;
	bundle-with-root-cert_fail) echo 'certificate chain contains a root CA' ;;
	checkpoint-bad-keyhint_fail) echo 'checkpoint signed by an unknown key' ;;
	dsse-invalid-sig_fail | rekor2-dsse-invalid-sig_fail) echo "DSSE envelope's signature does not verify" ;;
	dsse-mismatch-sig_fail | intoto-log-entry-mismatch_fail | rekor2-dsse-mismatch-sig_fail)
		echo 'log entry records a different signature' ;;
	inclusion-proof-corrupted-hash_fail) echo 'inclusion proof does not hash to the checkpoint root' ;;
	integrated-time-in-future_fail | intoto-set-outside-signing-cert-validity_fail)
		echo "integrated time: signing time .* is outside the signing certificate's validity" ;;
	invalid-ct-key_fail) echo 'no SCT of the signing certificate verifies' ;;
	managed-key-no-key_fail) echo 'signed with a managed key .* but no key was given' ;;
	message-digest-mismatch_fail) echo "messageDigest does not match the artifact" ;;
	rekor2-checkpoint-missing-log-signature_fail) echo 'checkpoint carries no signature lines' ;;
	rekor2-checkpoint-missing-root-hash_fail) echo 'checkpoint has no root hash line' ;;
	rekor2-no-inclusion-proof_fail) echo 'has no inclusion proof' ;;
	rekor2-timestamp-outside-trust-root-tsa-validity_fail) echo "TSA timestamp outside the TSA's validity window" ;;
	rekor2-timestamp-payload-mismatch_fail) echo 'TSA timestamp payload mismatch' ;;
	rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail) echo 'not signed by a timestamp authority of the trusted root' ;;
	signature-mismatch_fail) echo 'signature does not verify over the artifact' ;;
	wrong-hashedrekord-artifact_fail | wrong-hashedrekord-entry_fail) echo 'log entry is for another artifact' ;;
	*) echo '' ;;
	esac
}

# run_case DIR: runs verify-bundle the way the suite would; output in $T/out, status in $rc.
run_case() {
	_d=$1
	_art=$CASES/a.txt
	_root=$PUBLIC_GOOD
	_id=$DEFAULT_ID
	_iss=$DEFAULT_ISSUER
	[ -f "$_d/artifact" ] && _art=$_d/artifact
	[ -f "$_d/trusted_root.json" ] && _root=$_d/trusted_root.json
	[ -f "$_d/identity" ] && _id=$(cat "$_d/identity")
	[ -f "$_d/issuer" ] && _iss=$(cat "$_d/issuer")
	if [ -f "$_d/key.pub" ]; then
		"$VB" verify-bundle --bundle "$_d/bundle.sigstore.json" --key "$_d/key.pub" \
			--trusted-root "$_root" "$_art" >"$T/out" 2>&1
	else
		"$VB" verify-bundle --bundle "$_d/bundle.sigstore.json" --certificate-identity "$_id" \
			--certificate-oidc-issuer "$_iss" --trusted-root "$_root" "$_art" >"$T/out" 2>&1
	fi
	rc=$?
}

n=0
for dir in "$CASES"/*/; do
	dir=${dir%/}
	name=$(basename "$dir")
	n=$((n + 1))
	if [ ! -f "$dir/bundle.sigstore.json" ]; then
		fail "conformance $name" "no bundle.sigstore.json in $dir"
		continue
	fi
	run_case "$dir"
	reason=$(sed -n 's/^verify-bundle: //p' "$T/out" | head -n 1)
	case $name in
	*_fail)
		want=$(expected_reason "$name")
		if [ "$rc" = 0 ]; then
			fail "conformance $name" "verified, but the case must be refused"
			sed 's/^/    | /' "$T/out"
		elif [ "$rc" != 1 ] || [ -z "$reason" ]; then
			fail "conformance $name" "exit $rc without a verification verdict"
			sed 's/^/    | /' "$T/out"
		elif [ -n "$want" ] && ! printf '%s\n' "$reason" | grep -Eq -- "$want"; then
			fail "conformance $name" "refused for another reason than /$want/: $reason"
		else
			pass "conformance $name (refused: $reason)"
		fi
		;;
	*)
		if [ "$rc" = 0 ]; then
			pass "conformance $name ($(cat "$T/out"))"
		else
			fail "conformance $name" "refused, but the case must verify"
			sed 's/^/    | /' "$T/out"
		fi
		;;
	esac
done
if [ "$n" -lt 35 ]; then
	fail "conformance case count" "$n case directories in $CASES, expected at least the 35 provided"
else
	pass "conformance case count ($n)"
fi

# ---- refusals the provided cases do not cover, on the happy path's bundle ----
HAPPY=$CASES/happy-path-v0.1/bundle.sigstore.json
ART=$CASES/a.txt
ART_DIGEST=sha256:$(sha256sum "$ART" | cut -d' ' -f1)
verify() { # BUNDLE ROOT IDENTITY ISSUER ARTIFACT
	"$VB" verify-bundle --bundle "$1" --certificate-identity "$3" --certificate-oidc-issuer "$4" \
		--trusted-root "$2" "$5"
}

check "artifact given by digest verifies" verify "$HAPPY" "$PUBLIC_GOOD" "$DEFAULT_ID" "$DEFAULT_ISSUER" "$ART_DIGEST"
check_fails "a digest of another artifact is refused" "messageDigest does not match the artifact" \
	verify "$HAPPY" "$PUBLIC_GOOD" "$DEFAULT_ID" "$DEFAULT_ISSUER" \
	sha256:0000000000000000000000000000000000000000000000000000000000000000
check_fails "wrong SAN is refused" 'SAN does not match' \
	verify "$HAPPY" "$PUBLIC_GOOD" "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main" "$DEFAULT_ISSUER" "$ART"
check_fails "wrong OIDC issuer is refused" 'OIDC issuer does not match' \
	verify "$HAPPY" "$PUBLIC_GOOD" "$DEFAULT_ID" "https://accounts.google.com" "$ART"

python3 - "$PUBLIC_GOOD" "$T/no-ca.json" "$T/no-ctlog.json" "$T/no-tlog.json" <<'EOF'
import json, sys
root = json.load(open(sys.argv[1]))
for path, key in ((sys.argv[2], "certificateAuthorities"), (sys.argv[3], "ctlogs"), (sys.argv[4], "tlogs")):
    r = dict(root)
    r[key] = []
    json.dump(r, open(path, "w"))
EOF
check_fails "chain to a CA the trusted root does not name is refused" \
	'certificate chain does not lead to a trusted root' \
	verify "$HAPPY" "$T/no-ca.json" "$DEFAULT_ID" "$DEFAULT_ISSUER" "$ART"
check_fails "SCT from a CT log the trusted root does not name is refused" \
	'trusted root names no CT log' \
	verify "$HAPPY" "$T/no-ctlog.json" "$DEFAULT_ID" "$DEFAULT_ISSUER" "$ART"
check_fails "entry in a log the trusted root does not name is refused" \
	'transparency log the trusted root does not name' \
	verify "$HAPPY" "$T/no-tlog.json" "$DEFAULT_ID" "$DEFAULT_ISSUER" "$ART"

sed 's/version=0\.1/version=0.9/' "$HAPPY" >"$T/v09.json"
check_fails "unknown bundle version is refused" 'unknown bundle version' \
	verify "$T/v09.json" "$PUBLIC_GOOD" "$DEFAULT_ID" "$DEFAULT_ISSUER" "$ART"
head -c 2000 "$HAPPY" >"$T/truncated.json"
check_fails "truncated bundle is refused" 'invalid JSON' \
	verify "$T/truncated.json" "$PUBLIC_GOOD" "$DEFAULT_ID" "$DEFAULT_ISSUER" "$ART"
check_fails "a usage error is not a verdict" 'usage:' "$VB" verify-bundle --bundle "$HAPPY" "$ART"
MK=$CASES/managed-key-and-trusted-root
check_fails "--key and an identity together are refused" 'exclude each other' \
	"$VB" verify-bundle --bundle "$MK/bundle.sigstore.json" --certificate-identity "$DEFAULT_ID" \
	--certificate-oidc-issuer "$DEFAULT_ISSUER" --key "$MK/key.pub" --trusted-root "$MK/trusted_root.json" "$ART"
