#!/bin/sh
# Concurrent skrun pulls into one store: of the same reference (4 at once), of
# different references and sources at once, and many records racing on
# index.json, with `skrun store verify` running alongside. Every pull
# succeeds with the right digest, the store verifies, index.json names each
# reference exactly once, and nothing is left behind or fetched again.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"
. "$SK_ROOT/tests/adversarial/storelib.sh"

for s in a b c; do
	python3 "$REG_TOOLS/mklayout.py" "$T/$s" v1 --size 300000 --platforms amd64 --seed "$s" >"$T/$s.top" ||
		reg_fatal setup "mklayout failed"
done
python3 "$REG_TOOLS/mklayout.py" "$T/a" la --size 300000 --platforms amd64 --seed a >/dev/null
python3 "$REG_TOOLS/mklayout.py" "$T/b" lb --size 300000 --platforms amd64 --seed b >/dev/null
python3 "$REG_TOOLS/mklayout.py" "$T/m" t1 --platforms amd64 --seed m >"$T/m.top"
for i in 2 3 4 5 6 7 8; do python3 "$REG_TOOLS/mklayout.py" "$T/m" "t$i" --platforms amd64 --seed m >/dev/null; done
A=$(cat "$T/a.top")
B=$(cat "$T/b.top")
C=$(cat "$T/c.top")
reg_start reg
R=127.0.0.1:$REG_PORT
for x in a:v1 a:v2 b:v1 c:v1; do
	"$SKBUILD" push "$T/${x%%:*}:v1" "$R/t/$x" >/dev/null 2>"$T/err" || reg_fatal "setup push $x" "$(cat "$T/err")"
done
reg_proxy_start "$REG_PORT"
P=127.0.0.1:$PROXY_PORT
# slow blobs down so that the pulls really overlap
proxy_rules '[{"match": "GET /v2/.*/blobs/", "action": "delay", "ms": 150}]'
mkdir -p "$T/p"

# bg ID SOURCE STORE: a pull in the background; its pid is appended to PIDS.
PIDS=""
bg() {
	"$SKRUN" pull "$2" --store "$3" $SK_PULL_NOVERIFY >"$T/p/$1.out" 2>"$T/p/$1.err" &
	PIDS="$PIDS $!:$1"
	live_add $!
}

# join NAME: waits for every pull in PIDS; passes when all exited 0.
join() {
	_bad=""
	for _p in $PIDS; do
		wait "${_p%%:*}" || _bad="$_bad ${_p#*:}($(cat "$T/p/${_p#*:}.err"))"
		live_del "${_p%%:*}"
	done
	PIDS=""
	if [ -z "$_bad" ]; then pass "$1: every pull succeeded"; else fail "$1: every pull succeeded" "failed:$_bad"; fi
}

# digest_of ID WANT: the pull printed WANT.
digest_of() {
	[ "$(cat "$T/p/$1.out")" = "$2" ] || {
		echo "pull $1 printed '$(cat "$T/p/$1.out")', want $2"
		return 1
	}
}

# once STORE NAMES...: index.json names exactly these references, each once.
once() {
	_s=$1
	shift
	_got=$(recorded "$_s" | sort | tr '\n' ' ')
	_want=$(for _n in "$@"; do echo "$_n"; done | sort | tr '\n' ' ')
	[ "$_got" = "$_want" ] || {
		echo "recorded: $_got; want: $_want"
		return 1
	}
}

# ---- the same reference, 4 at once ----
S1=$T/s1
for i in 1 2 3 4; do bg "same$i" "$P/t/a:v1" "$S1"; done
join "same reference x4"
check "same reference x4: all printed the same digest" sh -c "for i in 1 2 3 4; do test \"\$(cat '$T/p/same'\$i.out)\" = '$A' || exit 1; done"
store_ok "same reference x4" "$S1"
check "same reference x4: recorded exactly once" once "$S1" "$P/t/a:v1"
check "same reference x4: no temporary file left" tmp_empty "$S1"
check "same reference x4: blobs intact" same_blobs "$S1" "$T/a" $(layout_digests "$T/a" "$A")
: >"$PROXY_LOG"
check "a fifth pull of it" pull "$P/t/a:v1" --store "$S1"
check_eq "the fifth pull fetched no blob" "$(grep -c 'GET /v2/t/a/blobs/' "$PROXY_LOG")" 0

# ---- different references and sources at once, with store verify alongside ----
S2=$T/s2
bg r1 "$P/t/a:v1" "$S2"
bg r2 "$P/t/a:v2" "$S2"
bg r3 "$P/t/b:v1" "$S2"
bg r4 "$P/t/c:v1" "$S2"
bg r5 "$P/t/b:v1" "$S2"
bg l1 "$T/a:la" "$S2"
bg l2 "$T/b:lb" "$S2"
bg l3 "$T/a:la" "$S2"
# verify while they run (refused until the first pull has created the store):
# whatever it sees recorded must be complete
vbad=""
vruns=0
sleep 0.1
while [ $vruns -lt 8 ]; do
	vruns=$((vruns + 1))
	"$SKRUN" store verify --store "$S2" >"$T/v.out" 2>&1 || {
		grep -q 'not a content store' "$T/v.out" || vbad="$vbad [$(cat "$T/v.out")]"
	}
	sleep 0.05
done
join "different references x8"
if [ -z "$vbad" ]; then pass "store verify during the pulls found nothing wrong"; else
	fail "store verify during the pulls found nothing wrong" "$vbad"
fi
digests_ok() {
	digest_of r1 "$A" && digest_of r2 "$A" && digest_of r3 "$B" && digest_of r4 "$C" &&
		digest_of r5 "$B" && digest_of l1 "$A" && digest_of l2 "$B" && digest_of l3 "$A"
}
check "different references: each pull printed its digest" digests_ok
store_ok "different references x8" "$S2"
check "different references: each recorded exactly once" once "$S2" "$P/t/a:v1" "$P/t/a:v2" "$P/t/b:v1" "$P/t/c:v1" la lb
check "different references: no temporary file left" tmp_empty "$S2"
blobs_ok() {
	for _s in a b c; do
		same_blobs "$S2" "$T/$_s" $(layout_digests "$T/$_s" "$(cat "$T/$_s.top")") || return 1
	done
}
check "different references: blobs intact" blobs_ok

# ---- many records racing on index.json ----
for round in 1 2; do
	S3=$T/s3-$round
	for i in 1 2 3 4 5 6 7 8; do bg "m$round-$i" "$T/m:t$i" "$S3"; done
	join "8 names at once (round $round)"
	check "8 names at once (round $round): none lost, none twice" once "$S3" t1 t2 t3 t4 t5 t6 t7 t8
	store_ok "8 names at once (round $round)" "$S3"
done
