#!/bin/sh
# Sigstore bundles on OCI artifacts (cosign v3's format), keyed, both ways
# with cosign 3.1.1 (Debian sid, `cosign3`) on a loopback docker-registry,
# which has no referrers API (the sha256-<hex> referrers tag), and through
# tests/registry/referrersproxy.py, which adds the API in front of it (no
# registry packaged for Debian has one). Also: --signature-format both with
# cosign 2.5 and 3, layouts and archives offline, the store keeping only
# verified bundles, and bundles in the policy (thresholds with legacy
# signatures, required annotations, mirrors).
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

command -v cosign3 >/dev/null 2>&1 || reg_fatal "cosign3 present" "cosign3 (3.x from sid) not found in $SK_TOOLS or PATH (make deps)"
command -v cosign >/dev/null 2>&1 || reg_fatal "cosign present" "cosign (2.5) not found in $SK_TOOLS or PATH (make deps)"
[ -x "$SKBUILD" ] && [ -x "$SKRUN" ] || reg_fatal "binaries present" "$SKBUILD or $SKRUN missing (make)"
cd "$T" || exit 1
python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
HEX=${TOP#sha256:}
reg_start reg
R=127.0.0.1:$REG_PORT
LOG=$REG_LOG
COSIGN_REG="--allow-http-registry --allow-insecure-registry"
export COSIGN_PASSWORD=cosign-pass SKBUILD_KEY_PASSWORD=
"$SKBUILD" key generate -o "$T/ours" >/dev/null 2>&1 || reg_fatal setup "key generate failed"
cosign3 generate-key-pair --output-key-prefix "$T/c3" >/dev/null 2>&1 || reg_fatal setup "cosign3 generate-key-pair failed"

# tags REPO [REGISTRY]: the repository's tags, one a line
tags() {
	curl -s "http://${2:-$R}/v2/$1/tags/list" | python3 -c 'import json,sys; [print(t) for t in json.load(sys.stdin)["tags"] or []]'
}
# referrers REPO: the manifests the referrers tag lists for $TOP
referrers() {
	curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/$1/manifests/sha256-$HEX" |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["manifests"]))'
}
push() { # REPO [REGISTRY]
	"$SKBUILD" push "$T/lay:v1" "${2:-$R}/$1:v1" >/dev/null 2>"$T/push.err" || reg_fatal "push $1" "$(cat "$T/push.err")"
}
cosign3_sign() { # REF KEY [args]: cosign 3's default output with the log and signing config off
	_r=$1
	_k=$2
	shift 2
	cosign3 sign --key "$_k" --use-signing-config=false --tlog-upload=false --yes $COSIGN_REG "$@" "$_r"
}
cosign3_verify() { # KEY REF [args]
	_k=$1
	_r=$2
	shift 2
	cosign3 verify --key "$_k" --insecure-ignore-tlog $COSIGN_REG "$@" "$_r"
}
S=$T/store
snapshot() {
	(cd "$S" && find . -path ./.tmp -prune -o -type f -print | sort | xargs -r sha256sum) >"$1"
}

# ---- skbuild signs a bundle, cosign 3 verifies (referrers tag) ----
check "push --sign --signature-format bundle" \
	"$SKBUILD" push --sign ours.key --signature-format bundle "$T/lay:v1" "$R/t/b:v1"
check_eq "the bundle went under the referrers tag, no .sig" "$(tags t/b | sort | tr '\n' ' ')" "sha256-$HEX v1 "
check "cosign 3 verify accepts skbuild's bundle" cosign3_verify ours.pub "$R/t/b@$TOP"
check_fails "cosign 3 verify refuses it under another key" "no matching|verif" \
	cosign3_verify c3.pub "$R/t/b@$TOP"
check "skbuild sign -a stage=production adds a second bundle" \
	"$SKBUILD" sign --key ours.key --signature-format bundle -a stage=production "$R/t/b:v1"
check_eq "the referrers index lists both" "$(referrers t/b)" 2
check "cosign 3 verify checks the signed annotation" cosign3_verify ours.pub "$R/t/b@$TOP" -a stage=production
check_fails "cosign 3 refuses an annotation no bundle carries" "no matching|annotation" \
	cosign3_verify ours.pub "$R/t/b@$TOP" -a stage=staging
check "signing again with the same key and annotations changes nothing" \
	"$SKBUILD" sign --key ours.key --signature-format bundle -a stage=production "$R/t/b:v1"
cp "$T/out" "$T/last"
check "it says so" grep -q "already signed $TOP" "$T/last"
check_eq "the referrers index is unchanged" "$(referrers t/b)" 2
check "skrun verify accepts skbuild's bundle" "$SKRUN" verify --key ours.pub "$R/t/b:v1"

# ---- cosign 3 signs (its default bundle output), skrun verifies ----
push t/c
check "cosign 3 sign --key (bundle, log off)" cosign3_sign "$R/t/c@$TOP" c3.key
check_eq "cosign 3 wrote the referrers tag" "$(tags t/c | sort | tr '\n' ' ')" "sha256-$HEX v1 "
check "skrun verify --key accepts cosign 3's bundle" "$SKRUN" verify --key c3.pub "$R/t/c:v1"
cp "$T/out" "$T/last"
check "it names the key" grep -q "verified for $R/t/c by: c3.pub" "$T/last"
check_fails "skrun refuses it under another key" \
	"modified payload or untrusted key: the signature does not verify with any key trusted" \
	"$SKRUN" verify --key ours.pub "$R/t/c:v1"
check "cosign 3 sign -a stage=production" cosign3_sign "$R/t/c@$TOP" c3.key -a stage=production
check "skrun checks cosign 3's signed annotations" "$SKRUN" verify --key c3.pub -a stage=production "$R/t/c:v1"
check_fails "skrun refuses an annotation cosign 3 did not sign" "required annotation stage=staging missing" \
	"$SKRUN" verify --key c3.pub -a stage=staging "$R/t/c:v1"

# ---- pulls keep only the verified bundles, and verify offline from the store ----
"$SKBUILD" sign --key ours.key --signature-format bundle "$R/t/c:v1" >/dev/null 2>&1 || reg_fatal setup "sign failed"
cat >policy-c3.json <<EOF
{"version": 1, "keys": {"c3": "$T/c3.pub", "ours": "$T/ours.pub"},
 "scopes": {"$R/t": {"keys": ["c3"]}}}
EOF
check "skrun pull of cosign 3's bundle-signed artifact" "$SKRUN" pull --policy policy-c3.json --store "$S" "$R/t/c:v1"
check_eq "the store keeps the 2 bundles that verified, not the one by a key the scope does not trust" \
	"$(python3 - "$S" "$HEX" <<'PY'
import json, sys, os
s, hx = sys.argv[1:]
for m in json.load(open(os.path.join(s, "index.json")))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "sha256-" + hx:
        idx = json.load(open(os.path.join(s, "blobs/sha256", m["digest"][7:])))
        print(len(idx["manifests"]))
PY
)" 2
check "skrun store verify: the kept bundles are whole" "$SKRUN" store verify --store "$S"
reg_mark "$LOG"
check "skrun verify --store: offline, from the kept bundles" \
	"$SKRUN" verify --store "$S" --policy policy-c3.json "$R/t/c:v1"
check_eq "verify --store asked the registry nothing" "$(reg_since "$LOG")" 0
check "a pinned re-pull judges the kept bundles and asks for no signature" \
	"$SKRUN" pull --policy policy-c3.json --store "$S" "$R/t/c@$TOP"
check_eq "no request for the pinned re-pull" "$(reg_since "$LOG")" 0
python3 "$REG_TOOLS/mklayout.py" "$T/lay-o" v1 --seed 5 >/dev/null || reg_fatal setup "mklayout failed"
"$SKBUILD" push --sign ours.key --signature-format bundle "$T/lay-o:v1" "$R/t/o:v1" >/dev/null 2>&1 ||
	reg_fatal setup "push --sign failed"
snapshot "$T/before"
check_fails "a pull of what a key of another scope signed is refused" "untrusted key: key \"ours\" is not trusted for scope $R/t" \
	"$SKRUN" pull --policy policy-c3.json --store "$S" "$R/t/o:v1"
snapshot "$T/after"
check "refused: the store is byte-identical" cmp -s "$T/before" "$T/after"

# ---- both formats: cosign 2.5 reads the legacy one, cosign 3 the bundle ----
push t/d
check "skbuild sign --signature-format both" "$SKBUILD" sign --key ours.key --signature-format both "$R/t/d:v1"
check_eq "a .sig and a referrers tag" "$(tags t/d | sort | tr '\n' ' ')" "sha256-$HEX sha256-$HEX.sig v1 "
check "cosign 2.5 verifies the legacy signature" \
	cosign verify --key ours.pub --insecure-ignore-tlog $COSIGN_REG "$R/t/d@$TOP"
check "cosign 3 verifies too" cosign3_verify ours.pub "$R/t/d@$TOP"
check "skrun verify accepts it" "$SKRUN" verify --key ours.pub "$R/t/d:v1"
reg_mark "$LOG"
check "with the legacy signature enough, skrun asks for no bundle" "$SKRUN" verify --key ours.pub "$R/t/d@$TOP"
check_eq "no referrers request when the .sig satisfies the policy" "$(reg_since "$LOG" 'referrers|manifests/sha256-[0-9a-f]{64} ')" 0
check_fails "default --signature-format with --keyless and --key refused" "with a key or --keyless, not both" \
	"$SKBUILD" sign --key ours.key --keyless "$R/t/d:v1"

# ---- the referrers API (tests/registry/referrersproxy.py in front of the registry) ----
RP=$(free_port)
python3 "$REG_TOOLS/referrersproxy.py" "$RP" "$REG_PORT" "$T/rp.log" >"$T/rp.err" 2>&1 &
RPID=$!
sk_on_exit "kill $RPID 2>/dev/null"
reg_wait_port "$RP" "$RPID" "$T/rp.err" "referrers proxy"
A=127.0.0.1:$RP
push t/e "$A"
check "cosign 3 signs through a registry with the referrers API" cosign3_sign "$A/t/e@$TOP" c3.key
check_eq "cosign 3 wrote no referrers tag there" "$(tags t/e "$A" | tr '\n' ' ')" "v1 "
check "skrun verify finds cosign 3's bundle through the API" "$SKRUN" verify --key c3.pub "$A/t/e:v1"
check "the API was asked" grep -q "^GET /v2/t/e/referrers/$TOP?artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson 200" "$T/rp.log"
check "skbuild signs through the API" "$SKBUILD" sign --key ours.key --signature-format bundle "$A/t/e:v1"
check_eq "skbuild wrote no referrers tag either (the registry answered OCI-Subject)" "$(tags t/e "$A" | tr '\n' ' ')" "v1 "
check "cosign 3 finds skbuild's bundle through the API" cosign3_verify ours.pub "$A/t/e@$TOP"
check "skrun pull through the API keeps the verified bundle" \
	"$SKRUN" pull --key ours.pub --store "$T/store-api" "$A/t/e:v1"
check "skrun verify --store from it" "$SKRUN" verify --store "$T/store-api" --key ours.pub "$A/t/e:v1"

# ---- layouts and archives, offline ----
cp -r "$T/lay" "$T/lay2"
check "skbuild signs a layout in bundle format" \
	"$SKBUILD" sign --key ours.key --signature-format bundle --identity "$R/t/f" "$T/lay2:v1"
check "the layout carries the referrers tag" grep -q "\"sha256-$HEX\"" "$T/lay2/index.json"
check "a layout with an artifact and its bundle still names the artifact alone" \
	"$SKRUN" verify --key ours.pub --identity "$R/t/f" "$T/lay2"
check_fails "the layout's bundle is not trusted under another key" "does not verify with any key" \
	"$SKRUN" verify --key c3.pub --identity "$R/t/f" "$T/lay2"
check "skbuild save carries the registry's bundles into an archive" "$SKBUILD" save "$R/t/c:v1" -o "$T/c.tar"
reg_stop reg
check "skrun pull from the archive, the registry down: cosign 3's bundle verifies offline" \
	"$SKRUN" pull --policy policy-c3.json --store "$T/store-ar" "oci-archive:$T/c.tar"
check "skrun pull of the signed layout, offline" \
	"$SKRUN" pull --key ours.pub --identity "$R/t/f" --store "$T/store-lay" "./lay2"
reg_start reg2
R=127.0.0.1:$REG_PORT

# ---- bundles in the policy: thresholds with legacy signatures, mirrors ----
push m/x
"$SKBUILD" sign --key ours.key "$R/m/x:v1" >/dev/null 2>&1 || reg_fatal setup "legacy sign failed"
cosign3_sign "$R/m/x@$TOP" c3.key >/dev/null 2>&1 || reg_fatal setup "cosign3 sign failed"
cat >policy-2.json <<EOF
{"version": 1, "keys": {"c3": "$T/c3.pub", "ours": "$T/ours.pub"},
 "scopes": {"$R/m": {"keys": ["c3", "ours"], "threshold": 2}}}
EOF
check "threshold 2: a legacy signature and a bundle by two keys" "$SKRUN" verify --policy policy-2.json "$R/m/x:v1"
cp "$T/out" "$T/last"
check "both keys counted" grep -q "by: c3, ours" "$T/last"
push m/y
cosign3_sign "$R/m/y@$TOP" c3.key >/dev/null 2>&1 || reg_fatal setup "cosign3 sign failed"
check_fails "threshold 2: a bundle alone does not do" "threshold 2 of 2 keys not met \(1 matched: c3\)" \
	"$SKRUN" verify --policy policy-2.json "$R/m/y:v1"
push mirror/z
cosign3_sign "$R/mirror/z@$TOP" c3.key >/dev/null 2>&1 || reg_fatal setup "cosign3 sign failed"
cat >policy-m.json <<EOF
{"version": 1, "keys": {"c3": "$T/c3.pub"},
 "scopes": {"$R/mirror": {"keys": ["c3"], "mirror_of": ["$R/origin"]},
            "$R/origin": {"keys": []}}}
EOF
check_fails "through a mirror a bundle (which names no repository) needs the origin's trust too" \
	"names no repository, so through mirror scope $R/mirror it counts only if origin scope $R/origin accepts it too" \
	"$SKRUN" verify --policy policy-m.json "$R/mirror/z:v1"
sed 's/"keys": \[\]}/"keys": ["c3"]}/' policy-m.json >policy-m2.json
check "with the origin trusting the key, the mirror accepts it" "$SKRUN" verify --policy policy-m2.json "$R/mirror/z:v1"
