#!/bin/sh
# Resource faults on the content store: a full file system (a small tmpfs), a
# read-only one, and pulls killed with SIGKILL at several points. Each time
# skrun fails with a clear message, `skrun store verify` proves the store
# consistent (every blob re-hashed, every reference complete, nothing partial
# visible), and the same pull succeeds, with the same digest, once the fault
# is gone. First, that store verify does find what it is meant to find.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"
. "$SK_ROOT/tests/adversarial/storelib.sh"
# every blob, the optional source tarball too: the checks below compare them all
SK_PULL_EXTRA=--with-source

python3 "$REG_TOOLS/mklayout.py" "$T/big" v1 --size 2097152 --platforms amd64 --seed big >"$T/bigtop" &&
	python3 "$REG_TOOLS/mklayout.py" "$T/small" v1 --platforms amd64 --seed small >"$T/smalltop" &&
	python3 "$REG_TOOLS/mklayout.py" "$T/small2" v2 --platforms amd64 --seed small2 >"$T/small2top" ||
	reg_fatal setup "mklayout failed"
BIG=$(cat "$T/bigtop")
SMALL=$(cat "$T/smalltop")
set -- $(layout_digests "$T/big" "$BIG")
BIGMAN=$2
BIGCFG=$3
BIGBPF=$4
BIGSRC=$5
reg_start reg
R=127.0.0.1:$REG_PORT
for a in big:v1 small:v1; do
	"$SKBUILD" push "$T/$a" "$R/t/$a" >/dev/null 2>"$T/err" || reg_fatal "setup push $a" "$(cat "$T/err")"
done
reg_proxy_start "$REG_PORT"
P=127.0.0.1:$PROXY_PORT

# ---- store verify finds damage ----
check "verify: a fresh pull" pull "$T/small:v1" --store "$T/v"
check "verify: a consistent store passes" "$SKRUN" store verify --store "$T/v"
cp "$T/out" "$T/verify.out"
check "verify: says consistent" grep -q 'store .*: 5 blobs .* re-hashed, 1 references, 1 manifests checked, 0 unreferenced blobs: consistent$' "$T/verify.out"
set -- $(layout_digests "$T/small" "$SMALL")
SMAN=$2
SBPF=$4
damage() { # NAME PATTERN SHELL-CODE (run in a copy of the store as $S)
	rm -rf "$T/vd" && cp -a "$T/v" "$T/vd"
	S=$T/vd sh -c "$3" || fail "$1" "could not damage the store"
	check_fails "verify finds $1" "$2" "$SKRUN" store verify --store "$T/vd"
}
damage "a corrupt layer (same size)" "blob $SBPF is corrupt: its content hashes to sha256:" \
	"f=\$S/blobs/sha256/${SBPF#sha256:}; printf 'X' | dd of=\$f bs=1 seek=10 conv=notrunc 2>/dev/null"
cp "$T/out" "$T/vd.out"
check "verify names the reference that needs the corrupt layer" \
	grep -q "reference v1: layer $SBPF is damaged (see above); pull it again" "$T/vd.out"
damage "a missing layer" "reference v1: layer $SBPF is missing from the store" \
	"rm \$S/blobs/sha256/${SBPF#sha256:}"
damage "a missing manifest" "reference v1: none of the 1 manifests of index $SMALL is in the store" \
	"rm \$S/blobs/sha256/${SMAN#sha256:}"
damage "a truncated index.json" "index.json: invalid JSON" \
	"head -c 40 \$S/index.json >\$S/i && mv \$S/i \$S/index.json"
damage "a name recorded twice" "reference v1 is recorded more than once" \
	"python3 -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); j[\"manifests\"]*=2; json.dump(j,open(p,\"w\"))' \$S/index.json"
damage "a size that disagrees with the descriptor" "index $SMALL is [0-9]+ bytes but its descriptor says 7" \
	"sed -i 's/\"size\":[0-9]*/\"size\":7/' \$S/index.json"
damage "a stray partial file among the blobs" "blobs/sha256/${SBPF#sha256:}.part: not a blob name" \
	"head -c 10 \$S/blobs/sha256/${SBPF#sha256:} >\$S/blobs/sha256/${SBPF#sha256:}.part"
check_fails "verify refuses a directory that is no store" "is not a content store" \
	"$SKRUN" store verify --store "$T/nostore"
check "verify did not create a store there" test ! -e "$T/nostore"

# ---- a full file system ----
mount_tmpfs "$T/full" 1m
FS=$T/full/store
check_fails "full: a pull from a layout fails, naming the store and the cause" \
	"store $FS: writing a blob into $FS/.tmp failed: No space left on device; free space" \
	pull "$T/big:v1" --store "$FS"
store_ok "full: layout pull" "$FS"
check "full: layout pull recorded nothing" nothing_recorded "$FS"
check "full: the big layer is not visible" no_blob "$FS" "$BIGBPF" "$BIGMAN" "$BIG"
check "full: no temporary file left" tmp_empty "$FS"
check "save the big artifact as an archive" "$SKBUILD" save "$T/big:v1" -o "$T/big.tar"
check_fails "full: a pull from an archive fails clearly" \
	"No space left on device \(the archive is unpacked inside the store first" \
	pull "$T/big.tar" --store "$FS"
store_ok "full: archive pull" "$FS"
check "full: archive pull left no extraction directory" tmp_empty "$FS"
# the helper stages in $FS/.tmp first (the same file system), or the copy into the store fails
check_fails "full: a pull from a registry fails clearly" \
	"(staging $FS/.tmp/fetch-[^ ]*|store $FS: writing a blob into $FS/.tmp failed): .*No space left on device" \
	pull "$R/t/big:v1" --store "$FS"
store_ok "full: registry pull" "$FS"
check "full: registry pull recorded nothing" nothing_recorded "$FS"
check "full: registry pull left nothing behind" tmp_empty "$FS"
check "full: the big layer is still not visible" no_blob "$FS" "$BIGBPF" "$BIGMAN" "$BIG"
check "full: a small artifact still fits" pull "$T/small:v1" --store "$FS"
cp "$FS/index.json" "$T/index.before"
dd if=/dev/zero of="$T/full/filler" bs=4k 2>/dev/null
check_fails "full: recording in index.json fails clearly" "index.json.*No space left on device" \
	pull "$R/t/small:v1" --store "$FS"
check "full: index.json is unchanged" cmp "$FS/index.json" "$T/index.before"
check "full: no index.json temporary file left" sh -c "! ls '$FS' | grep -q 'index.json.tmp'"
store_ok "full: failed record" "$FS"
rm -f "$T/full/filler"
mount -o remount,size=8m "$T/full" || fail "full: remount bigger" "mount -o remount,size=8m failed"
check "full: after growing the file system the layout pull succeeds" pull "$T/big:v1" --store "$FS"
check_eq "full: same digest" "$(tail -n1 "$T/out")" "$BIG"
check "full: the registry pull succeeds too" pull "$R/t/big:v1" --store "$FS"
check "full: so does the pull whose record failed" pull "$R/t/small:v1" --store "$FS"
check "full: and the archive pull" pull "$T/big.tar" --store "$FS"
check "full: the big layer is intact" same_blobs "$FS" "$T/big" "$BIGBPF" "$BIGSRC" "$BIGCFG" "$BIGMAN" "$BIG"
store_ok "full: after the retries" "$FS"
check_eq "full: each reference once" "$(recorded "$FS" | sort | tr '\n' ' ')" \
	"$R/t/big:v1 $R/t/small:v1 v1 "

# ---- a read-only file system ----
mount_tmpfs "$T/ro" 8m
RS=$T/ro/store
check "read-only: set up a store" pull "$T/small:v1" --store "$RS"
snapshot "$T/ro" >"$T/ro.before"
mount -o remount,ro "$T/ro" || fail "read-only: remount ro" "mount -o remount,ro failed"
check_fails "read-only: pulling a new artifact fails clearly" \
	"store $RS: cannot create a temporary file in $RS/.tmp: Read-only file system; the store is on a read-only file system" \
	pull "$T/small2:v2" --store "$RS"
check_fails "read-only: a registry pull fails clearly" "Read-only file system" \
	pull "$R/t/big:v1" --store "$RS"
check_fails "read-only: a new store cannot be created" "opening the store .*Read-only file system" \
	pull "$T/small:v1" --store "$T/ro/other"
check "read-only: store verify works on it" "$SKRUN" store verify --store "$RS"
# what the store holds, recorded as it is, needs no write at all
check "read-only: re-pulling what the store holds succeeds" pull "$T/small:v1" --store "$RS"
check_eq "read-only: ... with the same digest" "$(tail -n1 "$T/out")" "$SMALL"
snapshot "$T/ro" >"$T/ro.after"
check "read-only: nothing changed" cmp "$T/ro.before" "$T/ro.after"
mount -o remount,rw "$T/ro" || fail "read-only: remount rw" "mount -o remount,rw failed"
check "read-only: after remounting read-write the pull succeeds" pull "$T/small2:v2" --store "$RS"
check_eq "read-only: digest" "$(tail -n1 "$T/out")" "$(cat "$T/small2top")"
store_ok "read-only: after the retry" "$RS"
check_eq "read-only: both references recorded" "$(recorded "$RS" | sort | tr '\n' ' ')" "v1 v2 "

# ---- SIGKILL in the middle of a pull ----
# killed NAME WHERE RULES CONDITION: starts a pull of $P/t/big:v1 through the
# proxy (with RULES) into $T/k-WHERE, waits until CONDITION holds, SIGKILLs it.
killed() {
	KS=$T/k-$2
	proxy_rules "$3"
	# not through the pull function: $! must be skrun itself, not a subshell
	"$SKRUN" pull "$P/t/big:v1" --store "$KS" $SK_PULL_NOVERIFY $SK_PULL_EXTRA >"$T/kill.out" 2>&1 &
	KPID=$!
	live_add $KPID
	if wait_for 15 sh -c "$4"; then
		pass "$1: reached"
	else
		fail "$1: reached" "the pull never got there: $(cat "$T/kill.out")"
	fi
	if kill -0 "$KPID" 2>/dev/null; then pass "$1: still running when killed"; else
		fail "$1: still running when killed" "it had already exited: $(cat "$T/kill.out")"
	fi
	kill -9 "$KPID" 2>/dev/null
	wait "$KPID" 2>/dev/null
	live_del $KPID
}

# after_kill NAME: consistent, nothing recorded, a retry succeeds with the same digest.
after_kill() {
	check "$1: nothing recorded" nothing_recorded "$KS"
	store_ok "$1" "$KS"
	check "$1: the killed writer's temporary file is swept" tmp_empty "$KS"
	proxy_rules '[]'
	check "$1: the retry succeeds" pull "$P/t/big:v1" --store "$KS"
	check_eq "$1: the retry yields the same digest" "$(tail -n1 "$T/out")" "$BIG"
	check "$1: blobs intact" same_blobs "$KS" "$T/big" "$BIG" "$BIGMAN" "$BIGCFG" "$BIGBPF" "$BIGSRC"
	store_ok "$1: after the retry" "$KS"
}

killed "kill before any blob" first "[{\"match\": \"GET /v2/t/big/manifests/v1\", \"action\": \"delay\", \"ms\": 20000}]" \
	"test -f '$T/k-first/index.json' && sleep 0.3"
check "kill before any blob: no blob in the store" sh -c "test -z \"\$(ls -A '$KS/blobs/sha256')\""
after_kill "kill before any blob"

# the helper downloads into its staging directory under .tmp (.part-<hex>)
killed "kill mid-blob" mid "[{\"match\": \"GET /v2/t/big/blobs/$BIGBPF\", \"action\": \"slowbody\"}]" \
	"find '$T/k-mid/.tmp' -name '.part-*' -size +200k | grep -q ."
check "kill mid-blob: a partial temporary file is there" sh -c \
	"find '$KS/.tmp' -name '.part-*' -size +200k -size -2048k | grep -q ."
check "kill mid-blob: the partial blob is not visible" no_blob "$KS" "$BIGBPF" "$BIGMAN" "$BIG"
after_kill "kill mid-blob"

# config and bpf layer are copied into sealed store writers (.tmp/blob-*),
# invisible until every blob of the pull has arrived
# the helper has downloaded the big layer into staging (the batch waits for the source layer)
killed "kill after some blobs" some "[{\"match\": \"GET /v2/t/big/blobs/$BIGSRC\", \"action\": \"delay\", \"ms\": 20000}]" \
	"find '$T/k-some/.tmp' -path '*/fetch-*/blobs/sha256/*' -size +2047k | grep -q . && sleep 0.2"
check "kill after some blobs: the big layer had arrived in staging" sh -c \
	"find '$KS/.tmp' -path '*/fetch-*/blobs/sha256/*' -size +2047k | grep -q ."
check "kill after some blobs: none is visible (all or nothing)" no_blob "$KS" "$BIGCFG" "$BIGBPF" "$BIGSRC" "$BIGMAN" "$BIG"
after_kill "kill after some blobs"

# right before recording: hold the store's index lock so the pull waits there
mkdir -p "$T/k-record"
python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$T/k-record" "$T/locked" &
LOCKPID=$!
live_add $LOCKPID
wait_for 5 test -f "$T/locked" || fail "lock the store" "the lock holder did not start"
killed "kill right before recording" record '[]' \
	"test -f '$T/k-record/blobs/sha256/${BIG#sha256:}' && sleep 0.3"
check "kill right before recording: every blob had landed" has_blob "$KS" "$BIG" "$BIGMAN" "$BIGCFG" "$BIGBPF" "$BIGSRC"
kill "$LOCKPID" 2>/dev/null
wait "$LOCKPID" 2>/dev/null
live_del $LOCKPID
after_kill "kill right before recording"
