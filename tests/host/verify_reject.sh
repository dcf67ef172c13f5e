#!/bin/sh
# Rejections, each with its own check and message, against a loopback
# docker-registry: no signature, an untrusted key, a payload for another
# digest, a signature copied from another artifact or repository, a modified
# payload, a corrupted base64 signature, a scope with no trusted key, a missing
# required annotation, and a tag that moves to another digest while a pull is
# in flight. A refused pull records nothing.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

[ -x "$SKBUILD" ] && [ -x "$SKRUN" ] || reg_fatal "binaries present" "$SKBUILD or $SKRUN missing (make)"
cd "$T" || exit 1
for i in 1 2 3; do
	python3 "$REG_TOOLS/mklayout.py" "$T/lay$i" v1 --seed "$i" >"$T/top$i" || reg_fatal setup "mklayout failed"
done
A=$(cat top1)
B=$(cat top2)
reg_start reg
R=127.0.0.1:$REG_PORT
export SKBUILD_KEY_PASSWORD=
for k in release other stranger; do
	"$SKBUILD" key generate -o "$T/$k" >/dev/null 2>&1 || reg_fatal setup "key generate failed"
done
cat >policy.json <<EOP
{"version": 1,
 "keys": {"release": "release.pub", "other": "other.pub"},
 "scopes": {
   "$R/t": {"keys": ["release"]},
   "$R/prod": {"keys": ["release"], "require": {"stage": "production"}},
   "$R/t/fenced": {"keys": []},
   "$R/o": {"keys": ["other"]}}}
EOP

# reg.py: what an attacker with push access to the registry can do to .sig tags.
cat >reg.py <<'PY'
import hashlib, json, sys, urllib.request
R = sys.argv[1]
MT = "application/vnd.oci.image.manifest.v1+json"
def req(method, path, data=None, headers=None):
    r = urllib.request.Request(f"http://{R}{path}", data=data, method=method, headers=headers or {})
    return urllib.request.urlopen(r)
def get_manifest(repo, ref):
    return json.load(req("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": MT}))
def get_blob(repo, dg):
    return req("GET", f"/v2/{repo}/blobs/{dg}").read()
def put_blob(repo, data):
    dg = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = req("POST", f"/v2/{repo}/blobs/uploads/").headers["Location"]
    loc = loc if loc.startswith("http") else f"http://{R}{loc}"
    sep = "&" if "?" in loc else "?"
    urllib.request.urlopen(urllib.request.Request(f"{loc}{sep}digest={dg}", data=data, method="PUT",
                           headers={"Content-Type": "application/octet-stream"}))
    return dg, len(data)
def put_manifest(repo, ref, m):
    req("PUT", f"/v2/{repo}/manifests/{ref}", data=json.dumps(m).encode(), headers={"Content-Type": MT})
def sigtag(dg):
    return "sha256-" + dg[7:] + ".sig"
cmd = sys.argv[2]
if cmd == "copy":  # SRCREPO SRCDIGEST DSTREPO DSTDIGEST: copy a .sig manifest and its blobs
    srepo, sdg, drepo, ddg = sys.argv[3:7]
    m = get_manifest(srepo, sigtag(sdg))
    for d in [m["config"]] + m["layers"]:
        put_blob(drepo, get_blob(srepo, d["digest"]))
    put_manifest(drepo, sigtag(ddg), m)
elif cmd in ("payload", "base64"):  # REPO DIGEST: alter the first signature layer
    repo, dg = sys.argv[3:5]
    m = get_manifest(repo, sigtag(dg))
    layer = m["layers"][0]
    if cmd == "payload":
        p = get_blob(repo, layer["digest"]).replace(b'"optional":null', b'"optional":{"stage":"production"}')
        layer["digest"], layer["size"] = put_blob(repo, p)
    else:
        s = layer["annotations"]["dev.cosignproject.cosign/signature"]
        layer["annotations"]["dev.cosignproject.cosign/signature"] = "!" + s[1:]
    put_manifest(repo, sigtag(dg), m)
PY
regpy() { python3 reg.py "$R" "$@"; }
push() { "$SKBUILD" push "$T/$1:v1" "$2" >/dev/null 2>"$T/push.err" || reg_fatal "setup push $2" "$(cat "$T/push.err")"; }
sign() { "$SKBUILD" sign --key "$@" >/dev/null 2>"$T/sign.err" || reg_fatal "setup sign $*" "$(cat "$T/sign.err")"; }
verify() { "$SKRUN" verify --policy policy.json "$@"; }
# not_recorded STORE REF: a refused pull left no entry for REF.
not_recorded() { ! grep -q "\"$2\"" "$1/index.json" 2>/dev/null; }

# a positive control: the same policy accepts a proper signature
push lay1 "$R/t/good:v1"
sign release.key "$R/t/good:v1"
check "control: a release signature is accepted" verify "$R/t/good:v1"

# 1. no signature
push lay1 "$R/t/nosig:v1"
check_fails "no signature" "is not trusted: no signature for $A in $R/t/nosig" verify "$R/t/nosig:v1"
check_fails "no signature: pull refused" "verification of $A failed, nothing was stored: .*no signature" \
	"$SKRUN" pull --policy policy.json "$R/t/nosig:v1" --store st --platform linux/amd64
check "no signature: pull recorded nothing" not_recorded st "$R/t/nosig:v1"

# 2. untrusted keys: one the policy trusts elsewhere, one it does not know
push lay1 "$R/t/other:v1"
sign other.key "$R/t/other:v1"
check_fails "signature by an untrusted key (trusted for another scope)" \
	"signature by an untrusted key: key \"other\" is not trusted for scope $R/t" verify "$R/t/other:v1"
push lay1 "$R/t/stranger:v1"
sign stranger.key "$R/t/stranger:v1"
check_fails "signature by a key the policy does not know" \
	"modified payload or untrusted key: the signature does not verify with any key trusted for scope $R/t \(release\)" \
	verify "$R/t/stranger:v1"
check_fails "--key of another key rejects it too" "modified payload or untrusted key" \
	"$SKRUN" verify --key release.pub "$R/t/stranger:v1"

# 3. payload for another digest: B's valid signature put on A's .sig tag
push lay1 "$R/t/swap:a"
push lay2 "$R/t/swap:b"
sign release.key "$R/t/swap:b"
regpy copy t/swap "$B" t/swap "$A" || reg_fatal setup "copy failed"
check_fails "payload for another digest" "is not trusted: payload for another digest \($B\)" \
	verify "$R/t/swap:a"
check "B itself still verifies with that signature" verify "$R/t/swap:b"

# 4. a signature copied from another repository onto this artifact's .sig tag
push lay1 "$R/t/copy:v1"
regpy copy t/good "$A" t/copy "$A" || reg_fatal setup "copy failed"
check_fails "signature copied from another repository" \
	"signature copied from another repository \(docker-reference $R/t/good\)" verify "$R/t/copy:v1"
check_fails "copied signature: pull refused" "nothing was stored.*copied from another repository" \
	"$SKRUN" pull --policy policy.json "$R/t/copy:v1" --store st --platform linux/amd64
check "copied signature: pull recorded nothing" not_recorded st "$R/t/copy:v1"

# 5. modified payload (same signature, payload bytes changed)
push lay1 "$R/t/mod:v1"
sign release.key "$R/t/mod:v1"
regpy payload t/mod "$A" || reg_fatal setup "payload mutation failed"
check_fails "modified payload" "modified payload or untrusted key" verify "$R/t/mod:v1"

# 6. corrupted base64 signature
push lay1 "$R/t/b64:v1"
sign release.key "$R/t/b64:v1"
regpy base64 t/b64 "$A" || reg_fatal setup "base64 mutation failed"
check_fails "corrupted base64 signature" "is not trusted: corrupted base64 signature" verify "$R/t/b64:v1"

# 7. scopes with no trusted key: one fenced off explicitly, and no scope at all
push lay1 "$R/t/fenced/x:v1"
sign release.key "$R/t/fenced/x:v1"
check_fails "scope with no trusted key" "no trusted key for scope $R/t/fenced" verify "$R/t/fenced/x:v1"
push lay1 "$R/elsewhere/x:v1"
sign release.key "$R/elsewhere/x:v1"
check_fails "no scope covers it and the default is reject" \
	"no trusted key for scope default \(no scope of the policy covers $R/elsewhere/x, and the default is reject\)" \
	verify "$R/elsewhere/x:v1"

# 8. required annotation missing (then present)
push lay1 "$R/prod/x:v1"
sign release.key "$R/prod/x:v1"
check_fails "required annotation missing" "required annotation stage=production missing" verify "$R/prod/x:v1"
push lay1 "$R/prod/y:v1"
sign release.key -a stage=staging "$R/prod/y:v1"
check_fails "required annotation with another value" \
	"required annotation stage=production missing \(payload has staging\)" verify "$R/prod/y:v1"
sign release.key -a stage=production "$R/prod/x:v1"
check "the annotated signature is accepted" verify "$R/prod/x:v1"
check_fails "--key with -a: required annotation missing" "required annotation team=sched missing" \
	"$SKRUN" verify --key release.pub -a team=sched "$R/prod/x:v1"

# 9. the tag moves to another digest while a pull is in flight. The pull
# resolves the tag once (to signed A) and everything after, the signatures
# included, is fetched by that digest: it records A, never B. B, now behind
# the tag, has no signature of its own and A's do not apply to it.
reg_proxy_start "$REG_PORT"
P=127.0.0.1:$PROXY_PORT
push lay1 "$P/t/move:v1"
sign release.key "$P/t/move:v1"
cat >proxypolicy.json <<EOP
{"version": 1, "keys": {"release": "release.pub"}, "scopes": {"$P/t": {"keys": ["release"]}}}
EOP
proxy_rules '[{"match": "GET /v2/t/move/blobs/", "action": "delay", "ms": 2500, "times": 1}]'
: >"$PROXY_LOG"
"$SKRUN" pull --policy proxypolicy.json "$P/t/move:v1" --store mv --platform linux/amd64 >move.out 2>&1 &
PULL=$!
sleep 0.7
push lay2 "$R/t/move:v1"
if kill -0 $PULL 2>/dev/null; then moved_in_flight=yes; else moved_in_flight=no; fi
wait $PULL
rc=$?
check_eq "the tag moved while the pull was in flight" "$moved_in_flight" yes
check_eq "the in-flight pull succeeded with what it resolved (A)" "$rc:$(tail -n1 move.out)" "0:$A"
check_eq "the tag was resolved exactly once" "$(grep -c '^GET /v2/t/move/manifests/v1 ' "$PROXY_LOG")" 1
check_eq "the signatures fetched were A's" "$(grep -c "^GET /v2/t/move/manifests/sha256-${A#sha256:}.sig " "$PROXY_LOG")" 1
check_eq "nothing of B was fetched" "$(grep -c "${B#sha256:}" "$PROXY_LOG")" 0
check "the store recorded A under the tag" python3 -c "
import json, sys
m = [e for e in json.load(open('mv/index.json'))['manifests'] if e.get('annotations', {}).get('org.opencontainers.image.ref.name') == '$P/t/move:v1']
sys.exit(0 if len(m) == 1 and m[0]['digest'] == '$A' else 1)"
check_fails "after the move, pulling the tag gets B, which is rejected" \
	"verification of $B failed, nothing was stored: .*no signature for $B" \
	"$SKRUN" pull --policy proxypolicy.json "$P/t/move:v1" --store mv --platform linux/amd64
check "the refused pull left the entry at A" grep -q "\"digest\":\"$A\",\"size\":[0-9]*,\"annotations\":{\"org.opencontainers.image.ref.name\":\"$P/t/move:v1\"" mv/index.json
regpy copy t/move "$A" t/move "$B" || reg_fatal setup "copy failed"
check_fails "A's signature copied onto B's .sig tag is for another digest" \
	"payload for another digest \($A\)" \
	"$SKRUN" verify --policy proxypolicy.json "$P/t/move:v1"
check "A, pinned by digest, still verifies" "$SKRUN" verify --policy proxypolicy.json "$P/t/move@$A"

check_fails "no policy file" "trust policy: .*nope.json" "$SKRUN" verify --policy nope.json "$R/t/good:v1"
check_fails "pull without any policy: clear error, nothing recorded" "no trust policy|trust policy" \
	"$SKRUN" pull --policy "$T/none.json" "$R/t/good:v1" --store st --platform linux/amd64
