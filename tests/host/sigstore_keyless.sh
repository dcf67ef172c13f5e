#!/bin/sh
# Keyless signing from CI and identity policies, against a local stand-in for
# Fulcio, Rekor and a timestamp authority (tests/sigstore/standin.c) on
# loopback, with a docker-registry: skbuild sign --keyless with the token
# from $SIGSTORE_ID_TOKEN or GitHub Actions' token endpoint, then skrun
# verify/pull with identity policies that accept it (exact SAN, anchored
# regular expression, GitHub workflow claims, with keys toward a threshold)
# and ones that refuse it, each with its reason; the stand-in's root is
# reachable only from the policies that name it; skrun policy check lints
# identities.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"
. "$SK_ROOT/tests/sigstore/standin.sh"

[ -x "$SKBUILD" ] && [ -x "$SKRUN" ] || reg_fatal "binaries present" "$SKBUILD or $SKRUN missing (make)"
cd "$T" || exit 1
python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
reg_start reg
R=127.0.0.1:$REG_PORT
standin_init "$T/si"
standin_start "$T/si" a
ROOT=$T/si/trusted_root.json
SIGSTORE_ID_TOKEN=$(token)
export SIGSTORE_ID_TOKEN SKBUILD_KEY_PASSWORD=
"$SKBUILD" key generate -o "$T/release" >/dev/null 2>&1 || reg_fatal setup "key generate failed"

# policy NAME IDENTITY [SCOPE-EXTRA]: $T/NAME.json trusting identity "ci" for $R/k
policy() {
	cat >"$T/$1.json" <<EOF
{"version": 1, "trusted_root": "$ROOT",
 "keys": {"release": "$T/release.pub"},
 "identities": {"ci": $2},
 "scopes": {"$R/k": {"identities": ["ci"]${3:-}}}}
EOF
}
verify() { # POLICY REF
	"$SKRUN" verify --policy "$T/$1.json" "$2"
}

# ---- signing ----
"$SKBUILD" push "$T/lay:v1" "$R/k/x:v1" >/dev/null 2>&1 || reg_fatal setup "push failed"
check "skbuild sign --keyless (Fulcio, Rekor and a TSA on loopback)" \
	keyless_sign "$R/k/x:v1" --timestamp-url "$SI/api/v1/timestamp"
check "the stand-in certified the token's workflow" \
	grep -q "fulcio: certificate for URI:$WORKFLOW (issuer $GHA_ISSUER)" "$T/a.log"
check "and logged the signature, and timestamped it" sh -c "grep -q 'rekor: entry 0' '$T/a.log' && grep -q 'tsa: timestamp' '$T/a.log'"
check_eq "keyless writes a bundle, no .sig" \
	"$(curl -s "http://$R/v2/k/x/tags/list" | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["tags"])))')" \
	"sha256-${TOP#sha256:} v1"
check_fails "keyless signing writes no legacy signature" "keyless signatures are Sigstore bundles only" \
	keyless_sign "$R/k/x:v1" --signature-format both
check_fails "without a token, keyless signing says where one comes from" \
	"keyless signing needs an OIDC identity token: set \\\$SIGSTORE_ID_TOKEN" \
	env -u SIGSTORE_ID_TOKEN -u ACTIONS_ID_TOKEN_REQUEST_URL "$SKBUILD" sign --keyless --fulcio-url "$SI" --rekor-url "$SI" "$R/k/x:v1"
check_fails "plain http is refused outside loopback" "only https is allowed" \
	"$SKBUILD" sign --keyless --fulcio-url http://fulcio.example.com --rekor-url "$SI" "$R/k/x:v1"

# ---- identity policies that accept it ----
policy exact "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"$WORKFLOW\"}"
check "exact SAN and issuer accept it" verify exact "$R/k/x:v1"
cp "$T/out" "$T/last"
check "the identity counts as the signer" grep -q "verified for $R/k/x by: ci" "$T/last"
# the CI one-liner: build, push and sign keyless in one skbuild build
if [ -f "$SK_KERNEL/vmlinux" ]; then
	check "skbuild build --push --keyless: built, pushed and signed in one step" \
		env SKBUILD_BTF="$SK_KERNEL/vmlinux" SCHEDKIT_CACHE="$T/cache" "$SKBUILD" build -q \
		"$SK_ROOT/scheds/fifo" -o "$T/fifo.oci" -t b --push "$R/k/b:v1" --keyless \
		--fulcio-url "$SI" --rekor-url "$SI"
	check "...and what it pushed verifies keyless against the identity policy" verify exact "$R/k/b:v1"
	cp "$T/out" "$T/built"
	check "...signed by the workflow's identity" grep -q "verified for $R/k/b by: ci" "$T/built"
	check_fails "build --keyless without --push is refused, saying where it goes" \
		"go with --push REF" "$SKBUILD" build -q "$SK_ROOT/scheds/fifo" -o "$T/f2.oci" --keyless
else
	fail "build --push --keyless" "no kernel BTF at $SK_KERNEL/vmlinux (make kernel)"
fi
policy regex "{\"issuer\": \"$GHA_ISSUER\",
  \"subject_regexp\": \"^https://github\\\\.com/org/sched/\\\\.github/workflows/release\\\\.yml@refs/(heads/main|tags/v[0-9.]+)$\",
  \"github\": {\"repository\": \"org/sched\", \"ref\": \"refs/heads/main\", \"workflow\": \"release\", \"trigger\": \"push\"}}"
check "an anchored regular expression and GitHub claims accept it" verify regex "$R/k/x:v1"
check "skrun pull keeps the keyless bundle" "$SKRUN" pull --policy "$T/regex.json" --store "$T/store" "$R/k/x:v1"
check "skrun verify --store checks it offline" "$SKRUN" verify --store "$T/store" --policy "$T/regex.json" "$R/k/x:v1"
check "the store is consistent" "$SKRUN" store verify --store "$T/store"

# ---- ... and that refuse it, each with its reason ----
policy othersan "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"https://github.com/org/sched/.github/workflows/other.yml@refs/heads/main\"}"
check_fails "another SAN is refused" "SAN does not match: the certificate was issued to \"$WORKFLOW\", identity \"ci\" expects" \
	verify othersan "$R/k/x:v1"
policy otheriss "{\"issuer\": \"https://gitlab.com\", \"subject\": \"$WORKFLOW\"}"
check_fails "another OIDC issuer is refused" "OIDC issuer does not match: the certificate's issuer is \"$GHA_ISSUER\"" \
	verify otheriss "$R/k/x:v1"
policy otherrepo "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"$WORKFLOW\", \"github\": {\"repository\": \"org/other\"}}"
check_fails "another GitHub repository claim is refused" \
	"GitHub workflow repository does not match: the certificate says \"org/sched\"" verify otherrepo "$R/k/x:v1"
policy othertrig "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"$WORKFLOW\", \"github\": {\"trigger\": \"workflow_dispatch\"}}"
check_fails "another trigger is refused" "GitHub workflow trigger does not match" verify othertrig "$R/k/x:v1"
cat >"$T/elsewhere.json" <<EOF
{"version": 1, "trusted_root": "$ROOT",
 "identities": {"ci": {"issuer": "$GHA_ISSUER", "subject": "$WORKFLOW"}},
 "scopes": {"$R/k": {"identities": ["ci"]}, "$R/other": {"identities": ["ci"]},
            "$R/k/x": {"keys": []}}}
EOF
check_fails "a fenced scope refuses it whatever its identity" "no trusted key for scope $R/k/x" \
	"$SKRUN" verify --policy "$T/elsewhere.json" "$R/k/x:v1"
cat >"$T/keysonly.json" <<EOF
{"version": 1, "trusted_root": "$ROOT", "keys": {"release": "$T/release.pub"},
 "scopes": {"$R/k": {"keys": ["release"]}}}
EOF
check_fails "a scope that trusts only keys refuses a keyless bundle" \
	"signed keyless by $WORKFLOW \(issuer $GHA_ISSUER\), and scope $R/k trusts no identity" \
	"$SKRUN" verify --policy "$T/keysonly.json" "$R/k/x:v1"
cat >"$T/notthere.json" <<EOF
{"version": 1, "trusted_root": "$ROOT",
 "identities": {"ci": {"issuer": "$GHA_ISSUER", "subject": "$WORKFLOW"},
                "ops": {"issuer": "https://accounts.example.com", "subject": "ops@example.com"}},
 "scopes": {"$R/k": {"identities": ["ops"]}, "$R/other": {"identities": ["ci"]}}}
EOF
check_fails "an identity trusted elsewhere is named" "signed by identity \"ci\" .*which is not trusted for scope $R/k" \
	"$SKRUN" verify --policy "$T/notthere.json" "$R/k/x:v1"

# ---- keys and identities together: a threshold over both ----
"$SKBUILD" sign --key "$T/release.key" "$R/k/x:v1" >/dev/null 2>&1 || reg_fatal setup "sign failed"
policy both "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"$WORKFLOW\"}" ', "keys": ["release"], "threshold": 2'
check "threshold 2: a key-based signature and a keyless one" verify both "$R/k/x:v1"
cp "$T/out" "$T/last"
check "both count" grep -q "by: ci, release" "$T/last"
"$SKBUILD" push "$T/lay:v1" "$R/k/y:v1" >/dev/null 2>&1 || reg_fatal setup "push failed"
keyless_sign "$R/k/y:v1" >/dev/null 2>&1 || reg_fatal setup "keyless sign failed"
check_fails "threshold 2: the keyless signature alone does not do" \
	"threshold 2 of 2 keys and identities not met \(1 matched: ci\)" verify both "$R/k/y:v1"
policy annot "{\"issuer\": \"$GHA_ISSUER\", \"subject\": \"$WORKFLOW\"}" ', "require": {"stage": "production"}'
check_fails "a required annotation applies to keyless bundles" "required annotation stage=production missing" \
	verify annot "$R/k/y:v1"
check "keyless signing with -a stage=production" keyless_sign "$R/k/y:v1" -a stage=production
check "then the scope's require is met" verify annot "$R/k/y:v1"

# ---- the token from GitHub Actions' endpoint ----
TP=$(free_port)
python3 - "$TP" "$(token '{"sub": "repo:org/sched:ref:refs/tags/v1", "ref": "refs/tags/v1", "job_workflow_ref": "org/sched/.github/workflows/release.yml@refs/tags/v1"}')" "$T/gha.log" <<'PY' &
import http.server, json, sys
port, tok, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        with open(log, "a") as f:
            f.write(f"{self.path} {self.headers.get('Authorization')}\n")
        ok = self.headers.get("Authorization") == "bearer request-secret"
        body = json.dumps({"value": tok}).encode() if ok else b"{}"
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
GPID=$!
sk_on_exit "kill $GPID 2>/dev/null"
reg_wait_port "$TP" "$GPID" "$T/gha.log" "token endpoint"
"$SKBUILD" push "$T/lay:v1" "$R/k/t:v1" >/dev/null 2>&1 || reg_fatal setup "push failed"
check "keyless signing with GitHub Actions' token endpoint" \
	env -u SIGSTORE_ID_TOKEN ACTIONS_ID_TOKEN_REQUEST_URL="http://127.0.0.1:$TP/token?api-version=2.0" \
	ACTIONS_ID_TOKEN_REQUEST_TOKEN=request-secret "$SKBUILD" sign --keyless --fulcio-url "$SI" --rekor-url "$SI" "$R/k/t:v1"
check "the endpoint was asked for audience sigstore, with the request token" \
	grep -q "^/token?api-version=2.0&audience=sigstore bearer request-secret$" "$T/gha.log"
check_fails "the GitHub ref claim of the main-branch identity refuses the tag build" \
	"GitHub workflow ref does not match: the certificate says \"refs/tags/v1\", identity \"ci\" expects \"refs/heads/main\"" \
	verify regex "$R/k/t:v1"
policy tagonly "{\"issuer\": \"$GHA_ISSUER\", \"subject_regexp\": \"^https://github\\\\.com/org/sched/\\\\.github/workflows/release\\\\.yml@refs/tags/v[0-9.]+$\"}"
check "an identity for tags only accepts the tag build" verify tagonly "$R/k/t:v1"
check_fails "and refuses the main-branch build" "SAN does not match.*expects a subject matching" verify tagonly "$R/k/x:v1"

# ---- layouts ----
cp -r "$T/lay" "$T/lay2"
check "keyless signing of a layout" keyless_sign "$T/lay2:v1" --identity "$R/k/l"
check "verified offline with the identity policy" "$SKRUN" verify --policy "$T/exact.json" --identity "$R/k/l" "$T/lay2"

# ---- the stand-in's root is reachable only from the policies that name it ----
PUBLIC_GOOD=$SK_ROOT/../shared/sigstore/trusted_root.public-good.json
if [ -f "$PUBLIC_GOOD" ]; then
	sed "s|$ROOT|$PUBLIC_GOOD|" "$T/exact.json" >"$T/production.json"
	check_fails "with Sigstore's public-good root the stand-in's signature is refused" \
		"logged by a transparency log the trusted root does not name|does not lead to a trusted root" \
		verify production "$R/k/x:v1"
else
	fail "public-good root present" "$PUBLIC_GOOD is missing (CI places it next to the checkout)"
fi
# without "trusted_root", the default path; none is installed here
cat >"$T/default.json" <<EOF
{"version": 1, "identities": {"ci": {"issuer": "$GHA_ISSUER", "subject": "$WORKFLOW"}},
 "scopes": {"$R/k": {"identities": ["ci"]}}}
EOF
nodefault() { # CMD...: with nothing at /etc/schedkit (a private mount namespace when the host has one)
	if [ -e /etc/schedkit ]; then
		unshare -m sh -c 'mount -t tmpfs none /etc/schedkit && exec "$@"' sh "$@"
	else
		"$@"
	fi
}
check_fails "identities without a trusted root: the policy says which file is missing" \
	"trusts identities .* but /etc/schedkit/sigstore/trusted_root.json does not exist: install it" \
	nodefault "$SKRUN" verify --policy "$T/default.json" "$R/k/x:v1"

# ---- skrun policy check knows identities ----
check "policy check: an identity policy is fine" "$SKRUN" policy check "$T/regex.json"
cat >"$T/lint.json" <<EOF
{"version": 1, "trusted_root": "$ROOT",
 "identities": {"ci": {"issuer": "$GHA_ISSUER", "subject_regexp": "https://github\\\\.com/org/.*"},
                "spare": {"issuer": "$GHA_ISSUER", "subject": "$WORKFLOW", "githb": {}}},
 "scopes": {"$R/k": {"identities": ["cj"], "threshold": 3}}}
EOF
"$SKRUN" policy check "$T/lint.json" >"$T/lint.out" 2>&1
check "policy check refuses the unanchored regular expression" grep -q 'identities.ci: regular expression "https://github\\.com/org/\.\*" is not anchored' "$T/lint.out"
check "policy check names the unknown identity, with a hint" grep -q 'identity "cj" is not defined in "identities"' "$T/lint.out"
check "policy check suggests the near name" grep -q 'did you mean "ci"' "$T/lint.out"
check "policy check names the unknown field" grep -q 'unknown field "githb"' "$T/lint.out"
check "policy check counts identities toward the threshold" grep -q 'bad threshold 3: more than the 1 key(s) listed' "$T/lint.out"
check "policy check warns of an identity no scope trusts" grep -q 'identity "spare" is defined but no scope trusts it' "$T/lint.out"
sed "s|$ROOT|$T/nowhere.json|" "$T/regex.json" >"$T/noroot.json"
check_fails "policy check: a trusted root that is not there" "trusted_root.*nowhere.json" \
	"$SKRUN" policy check "$T/noroot.json"
