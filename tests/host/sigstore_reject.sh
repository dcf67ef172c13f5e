#!/bin/sh
# Bad Sigstore bundles, end to end through skrun pull: each is refused with
# a message that names its own reason, and the store is byte-identical
# afterwards (nothing recorded, no staging left). The bundles come from the
# loopback stand-in (tests/sigstore/standin.c: expired certificate, entries
# without a SET, a checkpoint signed by a key the root does not know) or are
# edited inside a layout (tests/sigstore/tamper_bundle.py: truncated, unknown
# version, a proof that does not hash to the checkpoint, another artifact's
# log entry); the policies supply a foreign CA, a TSA window elsewhere, a
# wrong SAN or issuer and an unanchored regular expression.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"
. "$SK_ROOT/tests/sigstore/standin.sh"

[ -x "$SKBUILD" ] && [ -x "$SKRUN" ] || reg_fatal "binaries present" "$SKBUILD or $SKRUN missing (make)"
cd "$T" || exit 1
python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
python3 "$REG_TOOLS/mklayout.py" "$T/other" v1 --seed 2 >"$T/top2" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
reg_start reg
R=127.0.0.1:$REG_PORT
standin_init "$T/si"
standin_init "$T/si2"
ROOT=$T/si/trusted_root.json
SIGSTORE_ID_TOKEN=$(token)
export SIGSTORE_ID_TOKEN
S=$T/store
mkdir -p "$S"

# policy NAME IDENTITY [ROOT]: trusts identity "ci" for everything under $R
policy() {
	cat >"$T/$1.json" <<EOF
{"version": 1, "trusted_root": "${3:-$ROOT}",
 "identities": {"ci": $2},
 "scopes": {"$R": {"identities": ["ci"]}}}
EOF
}
policy good "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"$WORKFLOW\"}"
snapshot() {
	(cd "$S" && find . -path ./.tmp -prune -o -type f -print | sort | xargs -r sha256sum) >"$1"
}
# refused NAME PATTERN POLICY SOURCE [pull args]: refused with PATTERN, the store unchanged
refused() {
	_n=$1
	_p=$2
	_pol=$3
	shift 3
	snapshot "$T/before"
	check_fails "$_n" "$_p" "$SKRUN" pull --policy "$T/$_pol.json" --store "$S" "$@"
	snapshot "$T/after"
	if cmp -s "$T/before" "$T/after"; then pass "$_n: store byte-identical"; else
		fail "$_n: store byte-identical" "$(diff "$T/before" "$T/after" | head -5)"
	fi
	if _why=$(store_clean "$S"); then pass "$_n: no staging left behind"; else fail "$_n: no staging left behind" "$_why"; fi
}
# signed_layout NAME [sign args]: a copy of the layout, signed keyless by the stand-in $SI
signed_layout() {
	_l=$1
	shift
	rm -rf "$T/$_l"
	cp -r "$T/lay" "$T/$_l"
	keyless_sign "./$_l:v1" --identity "$R/l/$_l" "$@" >"$T/sign.out" 2>&1 ||
		reg_fatal "keyless sign $_l" "$(cat "$T/sign.out")"
}
# signed_ref REPO [sign args]: the layout ($TOP) pushed and signed keyless by the stand-in $SI
signed_ref() {
	"$SKBUILD" push "${LAY:-$T/lay}:v1" "$R/$1:v1" >/dev/null 2>&1 || reg_fatal "push $1" "push failed"
	_r=$1
	shift
	keyless_sign "$R/$_r:v1" "$@" >"$T/sign.out" 2>&1 || reg_fatal "keyless sign $_r" "$(cat "$T/sign.out")"
}

standin_start "$T/si" good
# A control: a good keyless bundle verifies and is kept, so the store is not
# empty. It signs another digest: a bundle names no repository, so one kept
# for $TOP would rightly satisfy every pull of $TOP below before the bad
# bundles were even read.
LAY=$T/other signed_ref k/ok
check "control: a good keyless bundle is pulled" "$SKRUN" pull --policy "$T/good.json" --store "$S" "$R/k/ok:v1"
signed_ref k/plain
check "control: the same signing of the digest the refusals use verifies" \
	"$SKRUN" verify --policy "$T/good.json" "$R/k/plain:v1"

# ---- malformed, truncated, unknown version ----
signed_layout trunc
python3 "$SK_ROOT/tests/sigstore/tamper_bundle.py" "$T/trunc" "$TOP" truncate
refused "a truncated bundle" "Sigstore bundle: invalid JSON: document ends early" good ./trunc --identity "$R/l/trunc"
signed_layout ver
python3 "$SK_ROOT/tests/sigstore/tamper_bundle.py" "$T/ver" "$TOP" version
refused "an unknown bundle version" \
	"unknown bundle version: mediaType \"application/vnd.dev.sigstore.bundle\+json;version=0.9\"" \
	good ./ver --identity "$R/l/ver"

# ---- a certificate chain to a root the trusted root does not hold ----
"$STANDIN" root "$T/si" "$T/foreign-ca.json" --ca-from "$T/si2"
policy foreign "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"$WORKFLOW\"}" "$T/foreign-ca.json"
refused "a chain to an untrusted root" "certificate chain does not lead to a trusted root" foreign "$R/k/plain:v1"

# ---- a certificate that expired before the log's time ----
standin_start "$T/si" expired --cert-expired
signed_ref k/exp
refused "an expired certificate" "signing time [0-9TZ:-]+ is outside the signing certificate's validity" \
	good "$R/k/exp:v1"

# ---- the wrong identity ----
policy san "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"https://github.com/org/sched/.github/workflows/nightly.yml@refs/heads/main\"}"
refused "a wrong SAN" "SAN does not match: the certificate was issued to \"$WORKFLOW\"" san "$R/k/plain:v1"
policy iss "{\"issuer\": \"https://accounts.google.com\", \"subject\": \"$WORKFLOW\"}"
refused "a wrong issuer" "OIDC issuer does not match: the certificate's issuer is \"$GHA_ISSUER\"" iss "$R/k/plain:v1"
policy unanchored "{\"issuer\": \"$GHA_ISSUER\", \"subject_regexp\": \"https://github\\\\.com/org/sched/.*\"}"
refused "an unanchored regular expression (a policy error)" \
	"regular expression \"https://github\\\\\.com/org/sched/\.\*\" is not anchored" unanchored "$R/k/plain:v1"
policy alternation "{\"issuer\": \"$GHA_ISSUER\", \"subject_regexp\": \"^https://github\\\\.com/org/sched/x|y$\"}"
refused "a top-level alternation (anchored at one end only)" "has a top-level \|: each alternative is anchored at one end only" \
	alternation "$R/k/plain:v1"

# ---- the transparency log ----
signed_layout another
rm -rf "$T/o2"
cp -r "$T/other" "$T/o2"
keyless_sign ./o2:v1 --identity "$R/l/o2" >/dev/null 2>&1 || reg_fatal setup "keyless sign failed"
python3 "$SK_ROOT/tests/sigstore/tamper_bundle.py" "$T/o2" "$(cat "$T/top2")" dump >"$T/o2-bundle.json"
python3 "$SK_ROOT/tests/sigstore/tamper_bundle.py" "$T/another" "$TOP" entry-from "$T/o2-bundle.json"
refused "a log entry for another artifact" "the log entry's DSSE payload digest does not match the bundle's \(the entry is for another artifact\)" \
	good ./another --identity "$R/l/another"
signed_layout proof
python3 "$SK_ROOT/tests/sigstore/tamper_bundle.py" "$T/proof" "$TOP" root
refused "an inclusion proof that does not hash to the checkpoint" "inclusion proof does not hash to the checkpoint root" \
	good ./proof --identity "$R/l/proof"
standin_start "$T/si" cpkey --checkpoint-unknown-key
signed_ref k/cp
refused "a checkpoint signed by an unknown key" "checkpoint signed by an unknown key: none of its 1 signature lines" \
	good "$R/k/cp:v1"

# ---- a TSA timestamp outside the TSA's validity window ----
standin_start "$T/si" noset --no-set
signed_ref k/tsa --timestamp-url "$SI/api/v1/timestamp"
check "control: without a SET the TSA's time is the signing time, and it verifies" \
	"$SKRUN" verify --policy "$T/good.json" "$R/k/tsa:v1"
"$STANDIN" root "$T/si" "$T/old-tsa.json" --tsa-window 2020-01-01T00:00:00Z 2020-12-31T00:00:00Z
policy oldtsa "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"$WORKFLOW\"}" "$T/old-tsa.json"
refused "a TSA timestamp outside the validity window" \
	"no verified signing time.*TSA timestamp outside the TSA's validity window: [0-9TZ:-]+ was signed by .*2020-01-01T00:00:00Z to 2020-12-31T00:00:00Z" \
	oldtsa "$R/k/tsa:v1"
