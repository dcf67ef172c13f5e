#!/bin/sh
# skrun policy check and skrun doctor flag every kind of policy mistake that
# verification would refuse (and warn about what loads but cannot be meant),
# each with where it is and how to fix it; a policy they pass loads.
. "$(dirname "$0")/../lib.sh"

D=$T/etc
mkdir -p "$D/keys"
"$SKBUILD" key generate -o "$D/keys/ci" >/dev/null 2>&1 || { fail "key" "skbuild key generate failed"; exit 1; }
"$SKBUILD" key generate -o "$D/keys/rel" >/dev/null 2>&1 || { fail "key" "skbuild key generate failed"; exit 1; }
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.key" 2>/dev/null &&
	openssl pkey -in "$T/rsa.key" -pubout -out "$D/keys/rsa.pub" 2>/dev/null ||
	{ fail "rsa key" "openssl failed"; exit 1; }
echo "not a key" >"$D/keys/junk.pub"

# policy NAME JSON: writes $D/NAME.json
policy() { printf '%s\n' "$2" >"$D/$1.json"; }

# flagged NAME SEVERITY WHERE MESSAGE-REGEX [HINT-REGEX]: both commands report it.
# policy check: the problem on its own line (severity, where, message) and the
# hint under it; exit 1 for errors, 0 for warnings only. doctor: policy.readable
# fail (errors) or warn (warnings) with the message in its detail, in --json.
flagged() {
	_f=$D/$1.json
	"$SKRUN" policy check "$_f" >"$T/pc.out" 2>&1
	_rc=$?
	_want=1
	[ "$2" = warning ] && _want=0
	_line="^$2: $3: $4"
	[ -n "$3" ] || _line="^$2: $4" # a problem of the whole file
	if [ $_rc = $_want ] && grep -Eq -- "$_line" "$T/pc.out" &&
		{ [ -z "${5:-}" ] || grep -A1 -E -- "$_line" "$T/pc.out" | grep -Eq -- "^  hint: .*$5"; }; then
		pass "policy check: $1"
	else
		fail "policy check: $1" "exit $_rc (want $_want): $(cat "$T/pc.out")"
	fi
	"$SKRUN" doctor --json --policy "$_f" --store "$T/store" >"$T/dr.out" 2>&1
	_dst=fail
	[ "$2" = warning ] && _dst=warn
	if python3 - "$T/dr.out" "$_dst" "$4" <<'PY'; then pass "doctor: $1"; else fail "doctor: $1" "$(cat "$T/dr.out")"; fi
import json, re, sys
d = json.load(open(sys.argv[1]))
c = [x for x in d["checks"] if x["id"] == "policy.readable"][0]
assert c["status"] == sys.argv[2], c
assert re.search(sys.argv[3], c["detail"]), c
assert "skrun policy check" in c["hint"], c
PY
}

policy good '{"version": 1, "keys": {"ci": "keys/ci.pub", "rel": {"path": "keys/rel.pub"}},
 "scopes": {"r.example.com/team": {"keys": ["ci", "rel"], "threshold": 2, "require": {"stage": "prod"}},
            "mirror.example.com:5000": {"keys": ["ci"], "mirror_of": ["r.example.com/team"]}},
 "default": {"keys": []}}'
check "policy check: a good policy" "$SKRUN" policy check "$D/good.json"
grep -q "valid (2 key(s), 2 scope(s), 0 warning(s))" "$T/out" && pass "policy check: says valid" || fail "policy check: says valid" "$(cat "$T/out")"
# doctor_policy NAME FILE STATUS DETAIL-REGEX: doctor's policy.readable row
doctor_policy() {
	"$SKRUN" doctor --json --policy "$2" --store "$T/store" >"$T/out" 2>&1
	if python3 - "$T/out" "$3" "$4" <<'PY'; then pass "$1"; else fail "$1" "$(cat "$T/out")"; fi
import json, re, sys
c = [x for x in json.load(open(sys.argv[1]))["checks"] if x["id"] == "policy.readable"][0]
assert c["status"] == sys.argv[2] and re.search(sys.argv[3], c["detail"]), c
PY
}
doctor_policy "doctor: a good policy is ok" "$D/good.json" ok 'good.json is a valid trust policy \(2 key\(s\), 2 scope\(s\)\)$'

# ---- each kind of mistake ----
policy unknown-top '{"version": 1, "keyz": {}, "default": {"keys": []}}'
flagged unknown-top error keyz 'unknown field "keyz"' 'did you mean "keys"\?'
policy unknown-scope '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "scopes": {"r.example.com": {"keys": ["ci"], "treshold": 1}}}'
flagged unknown-scope error 'scopes."r.example.com".treshold' 'unknown field "treshold"' 'did you mean "threshold"\?'
policy unknown-key-field '{"version": 1, "keys": {"ci": {"paht": "keys/ci.pub"}}, "default": {"keys": ["ci"]}}'
flagged unknown-key-field error keys.ci.paht 'unknown field "paht"' 'did you mean "path"\?'
policy no-version '{"keys": {"ci": "keys/ci.pub"}, "default": {"keys": ["ci"]}}'
flagged no-version error version '"version": 1 is required'
policy syntax '{"version": 1, "keys": {'
flagged syntax error '' '.*syntax.json' 'JSON syntax'
policy missing-key '{"version": 1, "keys": {"ci": "keys/gone.pub"}, "default": {"keys": ["ci"]}}'
flagged missing-key error keys.ci '.*keys/gone.pub: cannot open: No such file or directory' "the policy's directory"
policy rsa-key '{"version": 1, "keys": {"r": "keys/rsa.pub"}, "default": {"keys": ["r"]}}'
flagged rsa-key error keys.r '.*unsupported key type RSA' 'ECDSA P-256 or Ed25519'
policy junk-key '{"version": 1, "keys": {"j": "keys/junk.pub"}, "default": {"keys": ["j"]}}'
flagged junk-key error keys.j '.*not a PEM key'
policy bad-pem '{"version": 1, "keys": {"p": {"pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}, "default": {"keys": ["p"]}}'
flagged bad-pem error keys.p '.*(PEM|key)'
policy path-and-pem '{"version": 1, "keys": {"ci": {"path": "keys/ci.pub", "pem": "x"}}, "default": {"keys": ["ci"]}}'
flagged path-and-pem error keys.ci 'give exactly one of "path" or "pem"'
policy bad-key-name '{"version": 1, "keys": {"c i": "keys/ci.pub"}, "default": {"keys": ["c i"]}}'
flagged bad-key-name error 'keys.c i' "key names use letters"
policy undefined-key '{"version": 1, "keys": {"release": "keys/ci.pub"}, "scopes": {"r.example.com": {"keys": ["relase"]}}}'
flagged undefined-key error 'scopes."r.example.com"' 'key "relase" is not defined in "keys"' 'did you mean "release"\?'
policy duplicate-key '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "default": {"keys": ["ci", "ci"]}}'
flagged duplicate-key error default 'key "ci" listed twice'
policy no-keys-list '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "scopes": {"r.example.com": {"threshold": 1}}}'
flagged no-keys-list error 'scopes."r.example.com"' '"keys" \(a list of key names, \[\] to reject everything\) is required'
policy threshold-high '{"version": 1, "keys": {"ci": "keys/ci.pub", "rel": "keys/rel.pub"}, "scopes": {"r.example.com": {"keys": ["ci", "rel"], "threshold": 3}}}'
flagged threshold-high error 'scopes."r.example.com"' 'bad threshold 3: more than the 2 key\(s\) listed' 'from 1 to 2'
policy threshold-zero '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "default": {"keys": ["ci"], "threshold": 0}}'
flagged threshold-zero error default 'bad threshold 0: it must be a whole number >= 1'
policy bad-scope-name '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "scopes": {"https://r.example.com": {"keys": ["ci"]}}}'
flagged bad-scope-name error 'scopes."https://r.example.com"' 'not a registry host or repository'
policy bad-require '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "default": {"keys": ["ci"], "require": {"stage": 1}}}'
flagged bad-require error default 'require "stage" must have a string value'
policy mirror-in-default '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "default": {"keys": ["ci"], "mirror_of": ["r.example.com"]}}'
flagged mirror-in-default error default '"mirror_of" needs a scope to replace'
policy mirror-not-list '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "scopes": {"m.example.com": {"keys": ["ci"], "mirror_of": "r.example.com"}}}'
flagged mirror-not-list error 'scopes."m.example.com"' '"mirror_of" must be a list'
policy mirror-bad-entry '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "scopes": {"m.example.com": {"keys": ["ci"], "mirror_of": ["https://r.example.com"]}}}'
flagged mirror-bad-entry error 'scopes."m.example.com"' 'mirror_of entries must be registry hosts or repositories'

# ---- what loads but cannot be meant: warnings ----
policy mirror-untrusted-origin '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "scopes": {"m.example.com": {"keys": ["ci"], "mirror_of": ["r.example.com"]}}}'
flagged mirror-untrusted-origin warning 'scopes."m.example.com".mirror_of' 'no scope covers the origin r.example.com: every signature accepted through this mirror is refused' 'add a scope for r.example.com'
policy mirror-fenced-origin '{"version": 1, "keys": {"ci": "keys/ci.pub"}, "scopes": {"m.example.com": {"keys": ["ci"], "mirror_of": ["r.example.com/x"]}, "r.example.com": {"keys": []}}}'
flagged mirror-fenced-origin warning 'scopes."m.example.com".mirror_of' 'the origin r.example.com/x falls to r.example.com, which lists no key'
policy unused-key '{"version": 1, "keys": {"ci": "keys/ci.pub", "rel": "keys/rel.pub"}, "default": {"keys": ["ci"]}}'
flagged unused-key warning keys.rel 'key "rel" is defined but no scope trusts it'
policy trusts-nothing '{"version": 1}'
flagged trusts-nothing warning '' 'no scope and no default lists a key: every artifact is refused'

# ---- every problem, not only the first ----
policy many '{"version": 1, "keyz": {}, "keys": {"ci": "keys/gone.pub"}, "scopes": {"r.example.com": {"keys": ["ci", "cl"], "treshold": 1, "threshold": 4}}}'
"$SKRUN" policy check --json "$D/many.json" >"$T/out" 2>&1
rc=$?
if [ $rc = 1 ] && python3 - "$T/out" <<'PY'; then pass "policy check --json: every problem of one file"; else fail "policy check --json: every problem" "rc $rc $(cat "$T/out")"; fi
import json, sys
j = json.load(open(sys.argv[1]))
assert j["ok"] is False and j["errors"] == 5, j
msgs = [p["message"] for p in j["problems"]]
for want in ['unknown field "keyz"', "gone.pub", 'unknown field "treshold"', 'key "cl" is not defined', "bad threshold 4"]:
    assert any(want in m for m in msgs), (want, msgs)
for p in j["problems"]:
    assert set(p) == {"severity", "where", "message", "hint"} and p["severity"] in ("error", "warning"), p
PY
doctor_policy "doctor: lists them all" "$D/many.json" fail \
	'many.json: 5 problem\(s\) verification would refuse: keyz: unknown field .*gone.pub.*treshold.*"cl" is not defined.*bad threshold 4'


# ---- what policy check refuses, verification refuses ----
export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache
"$SKBUILD" build -q "$SK_ROOT/scheds/fifo" -o "$T/fifo.oci" -t 1 >/dev/null 2>&1
for p in unknown-scope missing-key threshold-high undefined-key; do
	check_fails "verify refuses it too: $p" "$p.json" "$SKRUN" verify --policy "$D/$p.json" --identity r.example.com/x "$T/fifo.oci:1"
done

# ---- usage ----
check_fails "policy check: a missing file" "cannot open|No such file" "$SKRUN" policy check "$D/nope.json"
check_fails "policy: an unknown subcommand" "not a policy command" "$SKRUN" policy lint "$D/good.json"
check_fails "policy check: two files" "usage" "$SKRUN" policy check "$D/good.json" "$D/good.json"
