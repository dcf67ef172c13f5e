#!/bin/sh
# The pull policy (--pull always|missing|never, podman's words): a tag the
# store recorded resolves there with no network under missing and never;
# always resolves at the registry and, when it is down, falls back to the
# stored digest with a warning. What comes from the store is verified again
# from the signatures kept there, and never from a store that lost a blob.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache SKBUILD_KEY_PASSWORD=
reg_start pp
REPO=127.0.0.1:$REG_PORT/scheds
S=$T/store
"$SKBUILD" key generate -o "$T/ci" >/dev/null 2>&1 || reg_fatal "key" "skbuild key generate failed"
"$SKBUILD" key generate -o "$T/other" >/dev/null 2>&1 || reg_fatal "key" "skbuild key generate failed"
cat >"$T/policy.json" <<JSON
{"version": 1, "keys": {"ci": "ci.pub"}, "scopes": {"$REPO": {"keys": ["ci"]}}}
JSON
cat >"$T/other-policy.json" <<JSON
{"version": 1, "keys": {"other": "other.pub"}, "scopes": {"$REPO": {"keys": ["other"]}}}
JSON
P="--store $S --policy $T/policy.json"
build() { # NAME SRC TAG [skbuild options]: build, push and sign
	_n=$1 _src=$2 _tag=$3
	shift 3
	"$SKBUILD" build -q "$_src" -o "$T/l-$_n-$_tag" -t "$_tag" "$@" --push "$REPO/$_n:$_tag" \
		--sign "$T/ci.key" >"$T/build.log" 2>&1 || reg_fatal "build $_n:$_tag" "$(tail -5 "$T/build.log")"
}
build fifo "$SK_ROOT/scheds/fifo" 1
build vtime "$SK_ROOT/scheds/vtime" 1

# shellcheck disable=SC2086
pull() { "$SKRUN" pull $P "$@"; }

# ---- never: only the store ----
reg_mark "$REG_LOG"
check_fails "never: a tag the store lacks is refused" "not recorded in the store and --pull never fetches nothing" pull --pull never "$REPO/fifo:1"
check_eq "never: no request reached the registry" "$(reg_since "$REG_LOG")" 0
[ ! -d "$S/blobs" ] || [ -z "$(ls "$S/blobs/sha256")" ] && pass "never: nothing stored" || fail "never: nothing stored" "$(ls "$S/blobs/sha256")"

# ---- missing: the registry only for what the store lacks ----
check "missing: a tag the store lacks is pulled" pull --pull missing "$REPO/fifo:1"
D1=$(tail -n 1 "$T/out")
reg_mark "$REG_LOG"
check "missing: a stored tag" pull --pull missing "$REPO/fifo:1"
check_eq "missing: the stored digest" "$(tail -n 1 "$T/out")" "$D1"
check_eq "missing: no request for a stored tag" "$(reg_since "$REG_LOG")" 0

# the tag moves on at the registry: missing keeps what the store recorded, always follows
build fifo "$SK_ROOT/scheds/vtime" 1 # a different artifact under the same tag
check "missing: a tag moved upstream" pull --pull missing "$REPO/fifo:1"
check_eq "missing: still the recorded digest" "$(tail -n 1 "$T/out")" "$D1"
check "always: follows the tag" pull --pull always "$REPO/fifo:1"
D2=$(tail -n 1 "$T/out")
[ -n "$D2" ] && [ "$D2" != "$D1" ] && pass "always: the new digest ($D2)" || fail "always: the new digest" "$D2 (was $D1)"
check "missing: now records the new one" pull --pull missing "$REPO/fifo:1"
check_eq "missing: the digest always recorded" "$(tail -n 1 "$T/out")" "$D2"
check "vtime stored too" pull "$REPO/vtime:1"
DV=$(tail -n 1 "$T/out")

# ---- a reboot with the registry down ----
reg_stop pp
check "registry down, missing: the tag from the store" pull --pull missing "$REPO/fifo:1"
check_eq "registry down, missing: its digest" "$(tail -n 1 "$T/out")" "$D2"
check "registry down, never: the tag from the store" pull --pull never "$REPO/vtime:1"
check_eq "registry down, never: its digest" "$(tail -n 1 "$T/out")" "$DV"
"$SKRUN" pull $P "$REPO/fifo:1" >"$T/out" 2>"$T/err"
rc=$?
[ $rc = 0 ] && [ "$(tail -n 1 "$T/out")" = "$D2" ] && pass "registry down, always: falls back to the stored digest" ||
	fail "registry down, always: falls back to the stored digest" "rc $rc $(cat "$T/out" "$T/err")"
grep -q "warning: pull: the registry could not be reached (.*); using $D2, the digest the store recorded for $REPO/fifo:1, verified again" "$T/err" &&
	pass "registry down, always: says so" || fail "registry down, always: says so" "$(cat "$T/err")"
"$SKRUN" pull $P "$REPO/stall:1" >"$T/out" 2>&1
rc=$?
[ $rc = 5 ] && grep -q "stall:1" "$T/out" && pass "registry down, always, nothing stored: a network failure (exit 5)" ||
	fail "registry down, always, nothing stored: a network failure (exit 5)" "rc $rc $(cat "$T/out")"
check_fails "registry down, missing, nothing stored: the registry's failure" "stall:1.*(refused|reach|connect)" pull --pull missing "$REPO/stall:1"

# what comes from the store is judged again: a policy that no longer trusts it refuses it
check_fails "from the store, verified again: another policy refuses" "verification of $D2 failed.*not trusted|signature.*(untrusted|does not verify)" \
	"$SKRUN" pull --store "$S" --policy "$T/other-policy.json" --pull never "$REPO/fifo:1"

# check reads the stored artifact offline
check "check --pull missing: from the store with the registry down" \
	"$SKRUN" check --pull missing --store "$S" --btf "$SK_KERNEL/vmlinux" "$REPO/vtime:1"
grep -q "vtime:1 (linux/" "$T/out" && pass "check --pull missing: the stored artifact" || fail "check --pull missing: the stored artifact" "$(cat "$T/out")"
check_fails "check --pull never: only the store" "never reads only the store: .*stall:1 is not recorded" \
	"$SKRUN" check --pull never --store "$S" --btf "$SK_KERNEL/vmlinux" "$REPO/stall:1"

# run gets past fetch and verification offline: on this host only the kernel check stops it
if [ ! -d /sys/kernel/sched_ext ]; then
	SKRUN_STATE_DIR=$T/run "$SKRUN" run --pull missing $P "$REPO/fifo:1" >"$T/out" 2>&1
	rc=$?
	# the kernel judges the config once the signatures passed, before any layer
	[ $rc = 6 ] && grep -q "$D2 verified from the store: sha256:[0-9a-f]* is not compatible with this kernel" "$T/out" &&
		pass "run --pull missing with the registry down: verified from the store, refused only by this kernel" ||
		fail "run --pull missing with the registry down" "rc $rc $(cat "$T/out")"
fi

# a store that lost a blob: never says which, missing would need the registry
layer=$(python3 - "$S" "$DV" <<'PY'
import json, sys, os
root, top = sys.argv[1], sys.argv[2]
load = lambda d: json.load(open(os.path.join(root, "blobs", "sha256", d.split(":")[1])))
idx = load(top)
print(load(idx["manifests"][0]["digest"])["layers"][0]["digest"])
PY
)
rm -f "$S/blobs/sha256/${layer#sha256:}"
check_fails "never: a blob the store lost is named" "blob $layer is not in the store and --pull never fetches nothing" pull --pull never "$REPO/vtime:1"
check_fails "missing: an incomplete stored tag goes to the registry (down here)" "refused|reach|connect" pull --pull missing "$REPO/vtime:1"

# ---- usage ----
check_fails "pull: a bad --pull" "use always, missing or never" "$SKRUN" pull --pull sometimes "$REPO/fifo:1"
check_fails "run: a bad --pull" "use always, missing or never" "$SKRUN" run --pull sometimes "$REPO/fifo:1"
check_fails "check: a bad --pull" "use always, missing or never" "$SKRUN" check --pull sometimes "$REPO/fifo:1"

# the shipped unit boots from the store: the configuration says what, --pull missing how
grep -q '^ExecStart=.*/skrun run --pull missing \$SKRUN_ARGS$' "$SK_ROOT/templates/systemd/skrun.service" &&
	pass "systemd unit: skrun run from the configuration with --pull missing" ||
	fail "systemd unit: skrun run from the configuration with --pull missing" "$(grep ExecStart "$SK_ROOT/templates/systemd/skrun.service")"
