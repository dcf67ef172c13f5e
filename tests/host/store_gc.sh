#!/bin/sh
# skrun store ls/rm/prune, and garbage collection that respects leases: what
# a running supervisor and its fallback use (simulated here: a lease file held
# by flock(1) as skrun run holds its own; tests/vm/test_supervise.sh has the
# real one) and what a pull in progress needs (a pull held up by the fault
# proxy while prune runs) are never collected; once the holder is gone, they
# are.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache SKBUILD_KEY_PASSWORD=
reg_start gc
reg_proxy_start "$REG_PORT"
REPO=127.0.0.1:$PROXY_PORT/scheds
S=$T/store
"$SKBUILD" key generate -o "$T/ci" >/dev/null 2>&1 || reg_fatal "key" "skbuild key generate failed"
cat >"$T/policy.json" <<JSON
{"version": 1, "keys": {"ci": "ci.pub"}, "scopes": {"$REPO": {"keys": ["ci"]}}}
JSON
P="--store $S --policy $T/policy.json"
for n in fifo vtime; do
	"$SKBUILD" build -q "$SK_ROOT/scheds/$n" -o "$T/l-$n" -t 1 --push "$REPO/$n:1" --sign "$T/ci.key" \
		>"$T/build.log" 2>&1 || reg_fatal "build $n" "$(tail -5 "$T/build.log")"
done
"$SKBUILD" build -q "$SK_ROOT/tests/scheds/stall.bpf.c" -o "$T/l-stall" -t 1 --push "$REPO/stall:1" \
	--sign "$T/ci.key" >"$T/build.log" 2>&1 || reg_fatal "build stall" "$(tail -5 "$T/build.log")"
# shellcheck disable=SC2086
DF=$("$SKRUN" pull $P "$REPO/fifo:1") && DV=$("$SKRUN" pull $P "$REPO/vtime:1") ||
	reg_fatal "pull" "skrun pull failed"
blob() { echo "$S/blobs/sha256/${1#sha256:}"; }
# the blobs of an artifact the store holds now: index, manifest, config,
# layers (a pull leaves out the source tarball, which no host reads)
reach() { for _d in $(layout_digests "$S" "$1"); do [ ! -f "$(blob "$_d")" ] || echo "$_d"; done; }
all_there() { for _d in "$@"; do [ -f "$(blob "$_d")" ] || return 1; done; }
FIFO_BLOBS=$(reach "$DF")
VTIME_BLOBS=$(reach "$DV")
[ "$(echo $FIFO_BLOBS | wc -w)" -ge 4 ] && [ "$(echo $VTIME_BLOBS | wc -w)" -ge 4 ] &&
	pass "pulled: index, manifest, config and object of each" || fail "pulled" "$FIFO_BLOBS / $VTIME_BLOBS"

# ---- ls ----
check "ls" "$SKRUN" store ls --store "$S"
grep -q "^$REPO/fifo:1 .*${DF#sha256:}" "$T/out" 2>/dev/null || grep -q "^$REPO/fifo:1 " "$T/out" &&
	pass "ls names fifo:1" || fail "ls names fifo:1" "$(cat "$T/out")"
grep -q "signed" "$T/out" && pass "ls: signatures kept" || fail "ls: signatures kept" "$(cat "$T/out")"
grep -q "sha256-" "$T/out" && fail "ls hides signature entries" "$(cat "$T/out")" || pass "ls hides signature entries"
check "ls --json" "$SKRUN" store ls --json --store "$S"
python3 - "$T/out" "$REPO" "$DF" "$DV" <<'PY' && pass "ls --json: names, digests, sizes, trust" || fail "ls --json" "$(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1])); repo, df, dv = sys.argv[2:5]
by = {e["name"]: e for e in j}
assert set(by) == {repo + "/fifo:1", repo + "/vtime:1"}, by
assert by[repo + "/fifo:1"]["digest"] == df and by[repo + "/vtime:1"]["digest"] == dv
for e in j:
    assert e["signatures"] and e["verified"] and e["present"] and e["size"] > 1000 and e["inUse"] == [], e
PY

# ---- a supervisor running fifo with vtime as fallback (its lease, held by flock) ----
mkdir -p "$S/leases"
printf 'owner simulated supervisor\n%s\n%s\n' "$DF" "$DV" >"$S/leases/lease-sim"
# one process that holds the lock, as skrun run does
python3 -c 'import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(600)' \
	"$S/leases/lease-sim" &
SUP=$!
sk_on_exit "kill $SUP 2>/dev/null"
for _ in $(seq 50); do flock -n -x "$S/leases/lease-sim" true 2>/dev/null || break; sleep 0.1; done
check "ls while in use" "$SKRUN" store ls --json --store "$S"
python3 - "$T/out" <<'PY' && pass "ls --json: in use by the supervisor" || fail "ls --json: in use by the supervisor" "$(cat "$T/out")"
import json, sys
for e in json.load(open(sys.argv[1])):
    assert e["inUse"] == ["simulated supervisor"], e
PY

# rm takes the names; the running and fallback digests stay, as the output says
check "rm the running and fallback names" "$SKRUN" store rm "$REPO/fifo:1" "$REPO/vtime:1" --store "$S"
grep -q "in use: simulated supervisor: $DF" "$T/out" && grep -q "in use: simulated supervisor: $DV" "$T/out" &&
	pass "rm: says what the lease keeps" || fail "rm: says what the lease keeps" "$(cat "$T/out")"
# shellcheck disable=SC2086
all_there $FIFO_BLOBS $VTIME_BLOBS && pass "rm: running and fallback blobs kept" ||
	fail "rm: running and fallback blobs kept" "$(ls "$S/blobs/sha256")"
check "ls after rm" "$SKRUN" store ls --json --store "$S"
python3 - "$T/out" "$DF" "$DV" <<'PY' && pass "ls: the removed names' digests listed as in use, unnamed" || fail "ls after rm" "$(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert sorted(e["digest"] for e in j) == sorted(sys.argv[2:4]), j
for e in j:
    assert e["name"] is None and e["inUse"] == ["simulated supervisor"] and e["signatures"], e
PY

# ---- a pull in progress while prune runs ----
# the store already has stall's config (as if left by an earlier pull): the
# pull finds it there and must lease it before counting on it
CFG=$(python3 - "$T/l-stall" <<'PY'
import json, sys, os
root = sys.argv[1]
load = lambda d: json.load(open(os.path.join(root, "blobs", "sha256", d.split(":")[1])))
idx = json.load(open(os.path.join(root, "index.json")))
top = load(idx["manifests"][0]["digest"])
m = load(top["manifests"][0]["digest"]) if "manifests" in top else top
print(m["config"]["digest"], " ".join(l["digest"] for l in m["layers"]))
PY
)
LAYERS=${CFG#* }
CFG=${CFG%% *}
cp "$T/l-stall/blobs/sha256/${CFG#sha256:}" "$(blob "$CFG")"
first_layer=${LAYERS%% *}
proxy_rules "[{\"match\": \"GET /v2/scheds/stall/blobs/${first_layer}\", \"action\": \"delay\", \"ms\": 4000}]"
# shellcheck disable=SC2086
"$SKRUN" pull $P "$REPO/stall:1" >"$T/pull.out" 2>&1 &
PULL=$!
for _ in $(seq 100); do grep -qs "$CFG" "$S"/leases/lease-[0-9]* && break; sleep 0.1; done
grep -qs "$CFG" "$S"/leases/lease-[0-9]* && pass "the pull leased the config it found in the store" ||
	fail "the pull leased the config it found in the store" "$(cat "$S"/leases/* 2>&1)"
check "prune while the pull waits for a layer" "$SKRUN" store prune --store "$S"
cat "$T/out" >"$T/prune1.out"
[ -f "$(blob "$CFG")" ] && pass "prune kept the blob the pull counts on" || fail "prune kept the blob the pull counts on" "$(cat "$T/prune1.out")"
all_there $FIFO_BLOBS $VTIME_BLOBS && pass "prune kept the running and fallback digests meanwhile" ||
	fail "prune kept the running and fallback digests meanwhile" "$(cat "$T/prune1.out")"
grep -q "in use: pull of $REPO/stall:1 (pid $PULL): $CFG" "$T/prune1.out" && pass "prune names the pull that holds it" ||
	fail "prune names the pull that holds it" "$(cat "$T/prune1.out")"
wait $PULL
rc=$?
DS=$(tail -n 1 "$T/pull.out")
[ $rc = 0 ] && pass "the concurrent pull completed" || fail "the concurrent pull completed" "rc $rc $(cat "$T/pull.out")"
check "store verify after the concurrent pull and prune" "$SKRUN" store verify --store "$S"
grep -q "consistent" "$T/out" && pass "store consistent" || fail "store consistent" "$(cat "$T/out")"
STALL_BLOBS=$(reach "$DS")
[ "$(echo $STALL_BLOBS | wc -w)" -ge 4 ] && all_there "$CFG" && pass "stall:1 complete, the config it found included" ||
	fail "stall:1 complete" "$STALL_BLOBS"
[ -z "$(ls "$S/leases" | grep -v lease-sim)" ] && pass "the pull's lease ended with it" || fail "the pull's lease ended with it" "$(ls "$S/leases")"

# ---- the supervisor goes: its lease is stale, its digests are collected ----
kill $SUP
wait $SUP 2>/dev/null
check "prune after the supervisor is gone" "$SKRUN" store prune --store "$S"
grep -q "removed 1 lease(s) whose holder was gone" "$T/out" && pass "prune removed the stale lease" ||
	fail "prune removed the stale lease" "$(cat "$T/out")"
grep -q "removed the signatures of 2 digest(s)" "$T/out" && pass "prune removed their signatures" ||
	fail "prune removed their signatures" "$(cat "$T/out")"
left=""
for d in $FIFO_BLOBS $VTIME_BLOBS; do
	case " $STALL_BLOBS " in *" $d "*) continue ;; esac # shared with what stays
	[ ! -f "$(blob "$d")" ] || left="$left $d"
done
[ -z "$left" ] && pass "prune collected fifo and vtime" || fail "prune collected fifo and vtime" "left:$left"
all_there $STALL_BLOBS && pass "prune kept stall:1" || fail "prune kept stall:1" "$(ls "$S/blobs/sha256")"
check "store verify after prune" "$SKRUN" store verify --store "$S"
check "ls after prune" "$SKRUN" store ls --json --store "$S"
python3 - "$T/out" "$REPO" "$DS" <<'PY' && pass "ls: only stall:1 left" || fail "ls: only stall:1 left" "$(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert [(e["name"], e["digest"]) for e in j] == [(sys.argv[2] + "/stall:1", sys.argv[3])], j
PY

# ---- rm by digest, and what rm refuses ----
check "rm by digest" "$SKRUN" store rm "$DS" --store "$S"
grep -q "removed $DS (1 name(s))" "$T/out" && pass "rm by digest removed its name" || fail "rm by digest removed its name" "$(cat "$T/out")"
[ -z "$(ls "$S/blobs/sha256")" ] && pass "nothing left in use, nothing left" || fail "nothing left" "$(ls "$S/blobs/sha256")"
"$SKRUN" store rm "$REPO/nothere:1" --store "$S" >"$T/out" 2>&1
rc=$?
[ $rc = 4 ] && grep -q "no name or digest $REPO/nothere:1 in" "$T/out" && pass "rm of an unknown name: exit 4, says so" ||
	fail "rm of an unknown name" "rc $rc $(cat "$T/out")"
check_fails "ls of a directory that is no store" "is not a content store" "$SKRUN" store ls --store "$T/l-fifo/blobs"
check_fails "rm without a name" "usage" "$SKRUN" store rm --store "$S"
