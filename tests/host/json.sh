#!/bin/sh
# Every --json output docs/json.md documents, read with a JSON parser: each
# documented field is there with its type, stdout holds nothing else, and the
# values agree with what the commands did (the digest -q prints, what the
# registry holds). skrun check --load --json runs in the VM (test_tour.sh).
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

PY=/usr/bin/python3
cd "$T" || exit 1
reg_start json
R=127.0.0.1:$REG_PORT
export HOME="$T/home"
mkdir -p "$HOME"
SKBUILD_KEY_PASSWORD='' "$SKBUILD" key generate -o "$T/ci" >/dev/null 2>&1 || fail key "generate failed"
BTF="$SK_KERNEL/vmlinux"

# jcheck NAME FILE SPEC...: SPEC is path=type (type: str, digest, bool, int,
# list, obj, null, str|null, obj|null) or path==value; paths are dotted.
cat >"$T/jcheck.py" <<'EOF'
import json, re, sys
f = sys.argv[1]
try:
    j = json.load(open(f))
except Exception as e:
    sys.exit("not one JSON object on stdout: %s: %r" % (e, open(f).read()[:300]))
types = {
    "str": lambda v: isinstance(v, str),
    "digest": lambda v: isinstance(v, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", v),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "obj": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}
def get(path):
    v = j
    for k in path.split("."):
        if isinstance(v, list):
            v = v[int(k)]
        elif isinstance(v, dict) and k in v:
            v = v[k]
        else:
            raise KeyError(path)
    return v
for spec in sys.argv[2:]:
    if "==" in spec:
        p, want = spec.split("==", 1)
        try:
            got = get(p)
        except KeyError:
            sys.exit("missing field %s" % p)
        if str(got) != want and json.dumps(got) != want:
            sys.exit("%s is %r, want %s" % (p, got, want))
        continue
    p, t = spec.split("=", 1)
    try:
        v = get(p)
    except KeyError:
        sys.exit("missing field %s" % p)
    if not any(types[x](v) for x in t.split("|")):
        sys.exit("%s is %r, not %s" % (p, v, t))
EOF
jcheck() {
	_n=$1
	_f=$2
	shift 2
	if _why=$("$PY" "$T/jcheck.py" "$_f" "$@" 2>&1); then pass "$_n"; else fail "$_n" "$_why"; fi
}

D=$("$SKBUILD" build "$SK_ROOT/scheds/fifo" --btf "$BTF" -o "$T/fifo.oci" -q)
"$SKBUILD" build "$SK_ROOT/scheds/fifo" --btf "$BTF" -o "$T/fifo.oci" --json >"$T/build.json" 2>"$T/build.err"
jcheck "build --json" "$T/build.json" name==fifo version=str layout=str tag==1.0.0 digest==$D \
	platforms=list platforms.0==amd64 ops==fifo minKernel=str kfuncsRequired=list
SKBUILD_KEY_PASSWORD='' "$SKBUILD" build "$SK_ROOT/scheds/fifo" --btf "$BTF" -o "$T/fifo.oci" --json \
	--push "$R/j/fifo:1" --sign "$T/ci.key" >"$T/buildpush.json" 2>"$T/buildpush.err"
jcheck "build --json --push --sign: one object, push and sign inside" "$T/buildpush.json" digest==$D \
	push=obj push.reference==$R/j/fifo:1 push.digest==$D push.sign=obj push.sign.digest==$D \
	push.sign.signed=list push.sign.signed.0==$D push.sign.unchanged=list push.sign.identity==$R/j/fifo \
	push.sign.key.type=str push.sign.key.fingerprint=str

"$SKBUILD" push "$T/fifo.oci:1.0.0" "$R/j/fifo:2" --json >"$T/push.json" 2>"$T/push.err"
jcheck "push --json (no --sign: sign is null)" "$T/push.json" reference==$R/j/fifo:2 digest==$D sign=null

SKBUILD_KEY_PASSWORD='' "$SKBUILD" sign --key "$T/ci.key" --json "$R/j/fifo:2" >"$T/sign.json" 2>"$T/sign.err"
jcheck "sign --json" "$T/sign.json" target==$R/j/fifo:2 digest==$D identity==$R/j/fifo signed=list \
	signed.0==$D unchanged=list key=obj key.type==ecdsa-p256 key.fingerprint=digest
# the fingerprint is the SHA-256 of the public key's DER
fp=sha256:$(openssl pkey -pubin -in "$T/ci.pub" -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)
jcheck "sign --json: key.fingerprint is the public key's SHA-256" "$T/sign.json" key.fingerprint==$fp
# the same digest was signed by build --push --sign: unchanged lists every digest
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if sorted(j["unchanged"])==sorted(j["signed"]) and j["unchanged"] else 1)' "$T/sign.json" &&
	pass "sign --json: a digest signed already is listed as unchanged" ||
	fail "sign --json: a digest signed already is listed as unchanged" "$(cat "$T/sign.json")"

"$SKBUILD" inspect --json "oci:$T/fifo.oci:1.0.0" >"$T/inspect.json" 2>"$T/inspect.err"
jcheck "inspect --json" "$T/inspect.json" indexDigest==$D manifestDigest=digest platform==amd64 \
	manifest=obj config=obj config.name==fifo config.requirements=obj config.tunables=list

"$SKRUN" verify --key "$T/ci.pub" --json "$R/j/fifo:1" >"$T/verify.json" 2>"$T/verify.err"
jcheck "skrun verify --json" "$T/verify.json" digest==$D identity==$R/j/fifo verified==True matched=list \
	scope=str signatures=int signatures==1

"$SKRUN" pull --key "$T/ci.pub" --store "$T/store" --json "$R/j/fifo:1" >"$T/pull.json" 2>"$T/pull.err"
jcheck "skrun pull --json" "$T/pull.json" digest==$D name=str store=str verified==True identity==$R/j/fifo \
	matched=list scope=str
"$SKRUN" pull --insecure-skip-verify --store "$T/store2" --json "$R/j/fifo:1" >"$T/pull2.json" 2>&1
jcheck "skrun pull --json --insecure-skip-verify" "$T/pull2.json" digest==$D verified==False identity=null \
	scope=null matched=list

"$SKRUN" check --json "oci:$T/fifo.oci:1.0.0" --btf "$BTF" >"$T/check.json" 2>"$T/check.err"
jcheck "skrun check --json (the test kernel's BTF: can run)" "$T/check.json" ok==True kernel=obj \
	kernel.btf=str checks=list checks.0.requirement=str checks.0.kind=str checks.0.host=str \
	checks.0.verdict=str tunables=list tunables.0.name=str tunables.0.default=str
"$SKBUILD" build "$SK_ROOT/tests/scheds/needs_kfunc.bpf.c" --btf "$BTF" -o "$T/needs.oci" -q >/dev/null 2>&1
"$SKRUN" check --json "oci:$T/needs.oci" --btf "$BTF" >"$T/check2.json" 2>"$T/check2.err"
rc=$?
jcheck "skrun check --json (a kfunc no kernel has: cannot run)" "$T/check2.json" ok==False checks=list
check_eq "... exit 6" "$rc" 6

# on failure, stdout stays empty (no half object): the status and stderr say it
"$SKRUN" verify --key "$T/ci.pub" --json "$R/j/fifo:nosuch" >"$T/fail.json" 2>"$T/fail.err"
rc=$?
check_eq "a failed --json command prints nothing on stdout, exit 4 (not found)" "$(wc -c <"$T/fail.json") $rc" "0 4"
