#!/bin/sh
# docs/policy.md and docs/policy.schema.json agree with the parser: the
# documented example validates against the schema, loads, and behaves as its
# table says; invalid policies are refused by both the schema and the parser.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/trust/build-tool.sh"
SCHEMA=$SK_ROOT/docs/policy.schema.json
KEYS=$SK_ROOT/tests/trust/keys

if [ ! -x "$SKBUILD" ]; then
	fail "skbuild present" "$SKBUILD is missing (make)"
	exit 1
fi
if ! python3 -c 'import jsonschema' 2>/dev/null; then
	fail "python3 jsonschema" "python3 cannot import jsonschema (apt-get install python3-jsonschema)"
	exit 1
fi
sk_build_trust_tool
cd "$T" || exit 1

# The first ```json block of the doc is the example policy.
awk '/^```json$/ {on = 1; next} /^```$/ {if (on) exit} on' "$SK_ROOT/docs/policy.md" >policy.json
check "docs example extracted" test -s policy.json

cat >validate.py <<'EOP'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))
EOP
check "docs example matches the schema" python3 validate.py "$SCHEMA" policy.json

mkdir keys
SKBUILD_KEY_PASSWORD= "$SKBUILD" key generate -o keys/release >/dev/null &&
	SKBUILD_KEY_PASSWORD= "$SKBUILD" key generate -o keys/ci >/dev/null
check "release and ci keys" test -f keys/release.pub -a -f keys/ci.pub
DIGEST=sha256:3333333333333333333333333333333333333333333333333333333333333333

# sign NAME KEY REPO [ANNOTATION]: NAME.json and NAME.sig
sign() {
	"$TRUST_TOOL" payload "$3" "$DIGEST" ${4:+"$4"} >"$1.json" &&
		SKBUILD_KEY_PASSWORD= "$TRUST_TOOL" sign "$2" "$1.json" >"$1.sig"
}
ev() { # REPO then PAYLOAD SIG pairs
	_repo=$1
	shift
	"$TRUST_TOOL" evaluate policy.json "$_repo" "$DIGEST" "$@"
}
sign tools keys/release.key registry.example.com/tools/x
sign fifo-rel keys/release.key registry.example.com/sched/fifo stage=production
sign fifo-oncall "$KEYS/ec-sec1.pem" registry.example.com/sched/fifo stage=production
sign fifo-ci-staging keys/ci.key registry.example.com/sched/fifo stage=staging
sign exp keys/release.key registry.example.com/sched/experimental/y
sign other keys/release.key docker.io/anything

check "host scope: one release signature" ev registry.example.com/tools/x tools.json tools.sig
check "sched scope: release + inline-PEM oncall, stage=production" \
	ev registry.example.com/sched/fifo fifo-rel.json fifo-rel.sig fifo-oncall.json fifo-oncall.sig
check_fails "sched scope: one key is not 2 of 3" 'threshold 2 of 3 keys not met \(1 matched: release\)' \
	ev registry.example.com/sched/fifo fifo-rel.json fifo-rel.sig fifo-ci-staging.json fifo-ci-staging.sig
check_fails "sched scope: ci's stage=staging does not count" 'required annotation stage=production missing' \
	ev registry.example.com/sched/fifo fifo-ci-staging.json fifo-ci-staging.sig
check_fails "experimental: a scope without keys" 'no trusted key for scope registry.example.com/sched/experimental' \
	ev registry.example.com/sched/experimental/y exp.json exp.sig
check "mirror: signed as registry.example.com/tools/x" \
	ev mirror.internal:5000/tools/x tools.json tools.sig
check "mirror: signed as registry.example.com/sched/fifo, 2 of 3 with stage=production" \
	ev mirror.internal:5000/sched/fifo fifo-rel.json fifo-rel.sig fifo-oncall.json fifo-oncall.sig
check_fails "mirror: one signature is not the origin scope's 2 of 3" \
	'origin scope registry.example.com/sched refuses \(a mirror only narrows trust\): threshold 2 of 3' \
	ev mirror.internal:5000/sched/fifo fifo-rel.json fifo-rel.sig
check_fails "mirror: the fenced-off origin stays fenced off" \
	'origin scope registry.example.com/sched/experimental refuses' \
	ev mirror.internal:5000/sched/experimental/y exp.json exp.sig
check_fails "mirror: not for another repository" 'signature copied from another repository' \
	ev mirror.internal:5000/sched/other fifo-rel.json fifo-rel.sig
check_fails "everything else: default reject" 'no trusted key for scope default' \
	ev docker.io/anything other.json other.sig

# Invalid policies: the parser refuses them, and so does the schema where
# JSON Schema can say it (it cannot compare threshold with the number of keys).
n=0
while IFS='|' read -r what in_schema pattern json; do
	n=$((n + 1))
	printf '%s\n' "$json" >bad$n.json
	if [ "$in_schema" = yes ]; then
		check_fails "schema refuses: $what" 'ValidationError' \
			python3 validate.py "$SCHEMA" bad$n.json
	fi
	check_fails "parser refuses: $what" "$pattern" \
		"$TRUST_TOOL" evaluate bad$n.json r.io/a "$DIGEST"
done <<'EOB'
unknown field|yes|bad[0-9]*.json: unknown field "scope"|{"version": 1, "scope": {}}
no version|yes|"version": 1 is required|{"keys": {}}
threshold 0|yes|bad threshold 0|{"version": 1, "keys": {"a": "keys/ci.pub"}, "scopes": {"r.io": {"keys": ["a"], "threshold": 0}}}
threshold above n|no|bad threshold 2: more than the 1 key|{"version": 1, "keys": {"a": "keys/ci.pub"}, "scopes": {"r.io": {"keys": ["a"], "threshold": 2}}}
path and pem|yes|exactly one of "path" or "pem"|{"version": 1, "keys": {"a": {"path": "keys/ci.pub", "pem": "-----BEGIN PUBLIC KEY-----"}}}
scope with a scheme|yes|not a registry host or repository|{"version": 1, "scopes": {"https://r.io": {"keys": []}}}
scope with a tag|yes|not a registry host or repository|{"version": 1, "scopes": {"r.io/a:v1": {"keys": []}}}
scope without keys field|yes|"keys" \(a list of key names|{"version": 1, "scopes": {"r.io": {}}}
mirror_of in default|yes|"mirror_of" needs a scope|{"version": 1, "default": {"keys": [], "mirror_of": ["r.io"]}}
duplicate scope|no|bad[0-9]*.json: invalid JSON: duplicate key "r.io"|{"version": 1, "scopes": {"r.io": {"keys": []}, "r.io": {"keys": []}}}
EOB
check_fails "parser refuses a missing key file" 'key "gone": .*keys/gone.pub: cannot open' \
	sh -c 'printf "%s" "{\"version\": 1, \"keys\": {\"gone\": \"keys/gone.pub\"}}" >missing.json && "$0" evaluate missing.json r.io/a '"$DIGEST" "$TRUST_TOOL"
