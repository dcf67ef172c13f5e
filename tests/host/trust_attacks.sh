#!/bin/sh
# Attacks on the trust path, each tried as an attacker would, each refused
# with its reason, and the store byte-identical before and after every refused
# attempt (issue 9's findings 1-4 and 8; 5-7 and 9-11 have their own tests).
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

reg_start plain
R=127.0.0.1:$REG_PORT
LOG=$REG_LOG
H=registry.example.com
S=$T/store

"$SKBUILD" key generate -o "$T/release" >/dev/null 2>&1 &&
	"$SKBUILD" key generate -o "$T/ci" >/dev/null 2>&1 || reg_fatal setup "key generate failed"
cat >"$T/policy.json" <<JSON
{
  "version": 1,
  "keys": {"release": "release.pub", "ci": "ci.pub"},
  "scopes": {
    "$H/sched": {"keys": ["release", "ci"], "threshold": 2, "require": {"stage": "production"}},
    "$H/sched/experimental": {"keys": []},
    "$R": {"keys": ["release"], "mirror_of": ["$H"]}
  }
}
JSON

# the store as files: names, sizes and contents (staging under .tmp excluded:
# it must be empty, which store_clean checks)
snapshot() {
	(cd "$S" && find . -path ./.tmp -prune -o -type f -print | sort | xargs -r sha256sum) >"$1"
}
# unchanged NAME: the store is byte-identical to the last snapshot, and clean
unchanged() {
	snapshot "$T/after"
	if cmp -s "$T/before" "$T/after"; then pass "$1: store byte-identical"; else
		fail "$1: store byte-identical" "$(diff "$T/before" "$T/after" | head -5)"
	fi
	if _why=$(store_clean "$S"); then pass "$1: no staging left behind"; else fail "$1: no staging left behind" "$_why"; fi
}

# push LAYOUT_DIR REPO: the layout's v1 under REPO:v1; prints the digest
push() {
	"$SKBUILD" push "$1:v1" "$R/$2:v1" >"$T/out" 2>&1 || reg_fatal "push $2" "$(cat "$T/out")"
	cat "$T/out"
}

python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 --seed 1 >/dev/null || reg_fatal setup "mklayout failed"
python3 "$REG_TOOLS/mklayout.py" "$T/good" v1 --seed 2 >/dev/null || reg_fatal setup "mklayout failed"
python3 "$REG_TOOLS/mklayout.py" "$T/big" v1 --seed 3 --size 4000000 >/dev/null || reg_fatal setup "mklayout failed"

# a store that already holds something, so that "unchanged" means something
push "$T/good" seed/x >/dev/null
check "seed the store" "$SKRUN" pull --insecure-skip-verify "$R/seed/x:v1" --store "$S"

# ---- 1. a mirror may only narrow trust ----
EXP=$(push "$T/lay" sched/experimental)
"$SKBUILD" sign --key "$T/release.key" --identity "$H/sched/experimental" "$R/sched/experimental:v1" >/dev/null 2>&1 ||
	reg_fatal setup "sign failed"
snapshot "$T/before"
check_fails "mirror: artifact of a fenced origin scope refused" \
	"$H/sched/experimental.*no trusted key|origin.*$H/sched/experimental" \
	"$SKRUN" pull "$R/sched/experimental:v1" --policy "$T/policy.json" --store "$S"
unchanged "mirror, fenced origin"
# the same artifact as an archive of the mirror name picks no identity of its own
check "save the mirror-named artifact" "$SKBUILD" save "$R/sched/experimental:v1" -o "$T/exp.tar"
check_fails "mirror: archive of the mirror name refused the same way" \
	"$H/sched/experimental.*no trusted key|origin.*$H/sched/experimental" \
	"$SKRUN" pull "oci-archive:$T/exp.tar" --policy "$T/policy.json" --store "$S"
unchanged "mirror archive"

# origin rules apply through the mirror: threshold and required annotations
FIFO=$(push "$T/good" sched/fifo)
"$SKBUILD" sign --key "$T/release.key" --identity "$H/sched/fifo" -a stage=production "$R/sched/fifo:v1" >/dev/null 2>&1 ||
	reg_fatal setup "sign failed"
check_fails "mirror: origin threshold 2 not met by one signature" "threshold|2 of" \
	"$SKRUN" pull "$R/sched/fifo:v1" --policy "$T/policy.json" --store "$S"
unchanged "mirror, origin threshold"
"$SKBUILD" sign --key "$T/ci.key" --identity "$H/sched/fifo" "$R/sched/fifo:v1" >/dev/null 2>&1 ||
	reg_fatal setup "sign failed"
check_fails "mirror: origin's required annotation missing on the second signature" \
	"stage=production|threshold" \
	"$SKRUN" pull "$R/sched/fifo:v1" --policy "$T/policy.json" --store "$S"
unchanged "mirror, origin require"
"$SKBUILD" sign --key "$T/ci.key" --identity "$H/sched/fifo" -a stage=production "$R/sched/fifo:v1" >/dev/null 2>&1 ||
	reg_fatal setup "sign failed"
check "mirror: accepted when the origin scope is satisfied too" \
	"$SKRUN" pull "$R/sched/fifo:v1" --policy "$T/policy.json" --store "$S"
check_eq "mirror: the pulled digest" "$(cat "$T/out")" "$FIFO"

# ---- 2. a refused pull writes no signatures; junk never poisons the store ----
D=$(push "$T/lay" good/x)
"$SKBUILD" sign --key "$T/release.key" "$R/good/x:v1" >/dev/null 2>&1 || reg_fatal setup "sign failed"
push "$T/lay" evil/x >/dev/null
python3 "$REG_TOOLS/sigtool.py" junk "$R" evil/x "$D" 256 || reg_fatal setup "sigtool failed"
snapshot "$T/before"
check_fails "junk signatures (256 layers) refused" "not trusted|no signature|does not verify" \
	"$SKRUN" pull "$R/evil/x:v1" --key "$T/release.pub" --store "$S"
unchanged "junk signatures"
check "the same digest from its real repository still pulls" \
	"$SKRUN" pull "$R/good/x:v1" --key "$T/release.pub" --store "$S"
check "and verifies from the store" "$SKRUN" verify --store "$S" --key "$T/release.pub" "$R/good/x@$D"
# junk next to a good signature: read leniently, kept strictly
python3 "$REG_TOOLS/sigtool.py" append "$R" good/x "$D" 300 || reg_fatal setup "sigtool failed"
rm -rf "$T/s2"
check "a good signature among 300 junk layers still verifies" \
	"$SKRUN" pull "$R/good/x:v1" --key "$T/release.pub" --store "$T/s2"
n=$(python3 - "$T/s2" "$D" <<'PY'
import json, os, sys
root, d = sys.argv[1], sys.argv[2]
idx = json.load(open(os.path.join(root, "index.json")))
tag = "sha256-%s.sig" % d.split(":")[1]
for m in idx["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
        man = json.load(open(os.path.join(root, "blobs", "sha256", m["digest"].split(":")[1])))
        print(len(man["layers"]))
        break
else:
    print(0)
PY
)
check_eq "only the verified signature is kept in the store" "$n" 1

# ---- 3. verify before download: an unsigned artifact costs no layer ----
U=$(push "$T/big" unsigned/x)
snapshot "$T/before"
reg_mark "$LOG"
check_fails "unsigned artifact refused" "no signature" \
	"$SKRUN" pull "$R/unsigned/x:v1" --key "$T/release.pub" --store "$S"
check_eq "refused: no blob was downloaded" "$(reg_since "$LOG" '"GET /v2/unsigned/x/blobs/')" 0
# the index, the .sig and the referrers tag (Sigstore bundles; docker-registry has no
# referrers API, which costs one more request outside manifests/)
check_eq "refused: only the index, the .sig and the referrers tag were asked for" \
	"$(reg_since "$LOG" '"GET /v2/unsigned/x/manifests/')" 3
unchanged "unsigned"
# and a signed one: the .sig comes before the first layer
"$SKBUILD" sign --key "$T/release.key" "$R/unsigned/x:v1" >/dev/null 2>&1 || reg_fatal setup "sign failed"
reg_mark "$LOG"
check "signed pull" "$SKRUN" pull "$R/unsigned/x:v1" --key "$T/release.pub" --store "$S"
order=$(reg_access "$LOG" | tail -n +$((REG_MARK + 1)) | sed -n 's/.*"GET \/v2\/unsigned\/x\/\([a-z]*\)\/\([^ ]*\) .*/\1 \2/p' |
	awk '/\.sig$/ {sig=NR} $1=="blobs" && !first {first=NR} END {print (sig && first && sig < first) ? "sig-first" : "sig=" sig " blob=" first}')
check_eq "the signature is fetched before any blob" "$order" sig-first

# ---- 4. a registry reference is never a local file ----
mkdir -p "$T/cwd/$R/good"
check "an archive of another artifact" "$SKBUILD" save "$R/sched/experimental:v1" -o "$T/cwd/$R/good/x:v1"
cp "$T/cwd/$R/good/x:v1" "$T/cwd/$R/good/x"
check "pull by reference next to look-alike files" \
	sh -c "cd '$T/cwd' && '$SKRUN' pull '$R/good/x:v1' --key '$T/release.pub' --store '$S'"
check_eq "the registry's artifact, not the planted file's" "$(cat "$T/out")" "$D"

# ---- 8. layouts are read without following links; only regular files ----
python3 "$REG_TOOLS/mklayout.py" "$T/evil-lay" v1 --seed 5 >/dev/null || reg_fatal setup "mklayout failed"
victim=$(python3 - "$T/evil-lay" <<'PY'
import json, os, sys
root = sys.argv[1]
idx = json.load(open(os.path.join(root, "index.json")))
top = idx["manifests"][0]["digest"].split(":")[1]
man = json.load(open(os.path.join(root, "blobs/sha256", top)))["manifests"][0]["digest"].split(":")[1]
m = json.load(open(os.path.join(root, "blobs/sha256", man)))
print(m["layers"][0]["digest"].split(":")[1])
PY
)
rm "$T/evil-lay/blobs/sha256/$victim"
ln -s /etc/shadow "$T/evil-lay/blobs/sha256/$victim"
snapshot "$T/before"
check_fails "a blob that is a symlink is refused" "symbolic link" \
	"$SKRUN" pull --insecure-skip-verify "oci:$T/evil-lay:v1" --store "$S"
unchanged "symlinked blob"
rm "$T/evil-lay/blobs/sha256/$victim"
mkfifo "$T/evil-lay/blobs/sha256/$victim"
check_fails "a blob that is a FIFO is refused, not waited on" "not a regular file" \
	timeout 20 "$SKRUN" pull --insecure-skip-verify "oci:$T/evil-lay:v1" --store "$S"
unchanged "FIFO blob"
