#!/bin/sh
# Integrity and resilience through a fault-injecting proxy in front of
# docker-registry: tampered blobs and manifests, a wrong Docker-Content-Digest,
# oversized and truncated bodies are rejected with nothing recorded and nothing
# bad in the store; 500s, 429 + Retry-After and dropped connections are retried.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 --platforms amd64 >"$T/top" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
set -- $(layout_digests "$T/lay" "$TOP")
MAN=$2
CFG=$3
BPF=$4
reg_start reg
"$SKBUILD" push "$T/lay:v1" "127.0.0.1:$REG_PORT/t/s:v1" >/dev/null 2>"$T/err" || reg_fatal "setup push" "$(cat "$T/err")"
reg_proxy_start "$REG_PORT"
P=127.0.0.1:$PROXY_PORT
n=0

# nothing_recorded STORE: no reference recorded, only verified blobs, no temp files
nothing_recorded() {
	if grep -q 'ref.name' "$1/index.json" 2>/dev/null; then
		echo "a reference was recorded: $(cat "$1/index.json")"
		return 1
	fi
	store_clean "$1"
}

# rejected NAME PATTERN RULES: a pull through the proxy fails with PATTERN and records nothing
rejected() {
	n=$((n + 1))
	proxy_rules "$3"
	check_fails "$1" "$2" "$SKRUN" pull --insecure-skip-verify "$P/t/s:v1" --store "$T/st$n" --platform linux/amd64
	check "$1: nothing recorded, store clean" nothing_recorded "$T/st$n"
}

# recovers NAME RULES: a pull through the proxy succeeds and is byte-identical
recovers() {
	n=$((n + 1))
	proxy_rules "$2"
	: >"$PROXY_LOG"
	check "$1" "$SKRUN" pull --insecure-skip-verify "$P/t/s:v1" --store "$T/st$n" --platform linux/amd64
	check "$1: byte-identical, store clean" sh -c "same_blobs() { for d in \"\$@\"; do cmp '$T/st$n/blobs/sha256/'\${d#sha256:} '$T/lay/blobs/sha256/'\${d#sha256:} || exit 1; done; }; same_blobs $TOP $MAN $CFG $BPF"
	check "$1: recorded" grep -q "$P/t/s:v1" "$T/st$n/index.json"
}

rejected "tampered blob" "fetching blob $BPF.*does not match its digest" \
	"[{\"match\": \"GET /v2/t/s/blobs/$BPF\", \"action\": \"tamper\"}]"
check "tampered blob: the tampered bytes are not in the store" test ! -e "$T/st$n/blobs/sha256/${BPF#sha256:}"
rejected "tampered platform manifest" "fetching manifest t/s@$MAN.*hashes to sha256:[0-9a-f]{64}; refusing it" \
	"[{\"match\": \"GET /v2/t/s/manifests/$MAN\", \"action\": \"tamper\"}]"
rejected "tampered index (by tag)" "fetching manifest t/s:v1: content hashes to .* but Docker-Content-Digest says $TOP" \
	'[{"match": "GET /v2/t/s/manifests/v1", "action": "tamper"}]'
rejected "wrong Docker-Content-Digest" "Docker-Content-Digest says sha256:0{64}" \
	'[{"match": "GET /v2/t/s/manifests/v1", "action": "wrong_digest"}]'
rejected "blob larger than announced is cut off" "fetching blob $CFG.*larger than the [0-9]+ bytes expected" \
	"[{\"match\": \"GET /v2/t/s/blobs/$CFG\", \"action\": \"extra\"}]"
rejected "truncated every time" "fetching blob $BPF.*(gave up|got [0-9]+ bytes)" \
	"[{\"match\": \"GET /v2/t/s/blobs/$BPF\", \"action\": \"truncate\"}]"
rejected "a 404 is not retried" "HTTP 404: INJECTED" \
	"[{\"match\": \"GET /v2/t/s/blobs/$CFG\", \"action\": \"status404\"}]"
check_eq "a 404 is not retried: one request" "$(grep -c "GET /v2/t/s/blobs/$CFG 404" "$PROXY_LOG")" 1
: >"$PROXY_LOG"
rejected "500 every time: gives up" "gave up after 5 attempts .*HTTP 500: INJECTED" \
	"[{\"match\": \"GET /v2/t/s/blobs/$CFG\", \"action\": \"status500\"}]"
check_eq "500 every time: 5 attempts" "$(grep -c "GET /v2/t/s/blobs/$CFG 500" "$PROXY_LOG")" 5

recovers "truncated once, then complete" "[{\"match\": \"GET /v2/t/s/blobs/$BPF\", \"action\": \"truncate\", \"times\": 1}]"
check_eq "truncated once: fetched twice" "$(grep -c "GET /v2/t/s/blobs/$BPF" "$PROXY_LOG")" 2
check_eq "truncated once: the second request asked for the rest only (Range, 206)" \
	"$(grep -c "GET /v2/t/s/blobs/$BPF 206 - range=bytes=[1-9][0-9]*-" "$PROXY_LOG")" 1
recovers "500 then success" "[{\"match\": \"GET /v2/t/s/manifests/$MAN\", \"action\": \"status500\", \"times\": 2}]"
check_eq "500 then success: 3 attempts" "$(grep -c "GET /v2/t/s/manifests/$MAN" "$PROXY_LOG")" 3
start=$(date +%s%N)
recovers "429 with Retry-After" "[{\"match\": \"GET /v2/t/s/blobs/$CFG\", \"action\": \"status429\", \"times\": 1}]"
el=$((($(date +%s%N) - start) / 1000000))
check "429: waited the 1 s Retry-After asks for (${el} ms)" test "$el" -ge 1000
recovers "dropped connection" "[{\"match\": \"GET /v2/t/s/blobs/$BPF\", \"action\": \"drop\", \"times\": 1}]"
recovers "dropped connection on the first request" '[{"match": "GET /v2/t/s/manifests/v1$", "action": "drop", "times": 1}]'
check_eq "dropped connection on the first request: asked again" "$(grep -c "GET /v2/t/s/manifests/v1 " "$PROXY_LOG")" 2

# push through faults: bodies are sent again on retry
proxy_rules "[{\"match\": \"PUT /v2/t/p/blobs/uploads/\", \"action\": \"status500\", \"times\": 1},
 {\"match\": \"PUT /v2/t/p/manifests/v1\", \"action\": \"drop\", \"times\": 1},
 {\"match\": \"HEAD /v2/t/p/blobs/\", \"action\": \"status429\", \"times\": 1}]"
check "push through a 500, a 429 and a dropped connection" "$SKBUILD" push "$T/lay:v1" "$P/t/p:v1"
check_eq "push through faults: digest" "$(cat "$T/out")" "$TOP"
proxy_rules '[]'
check "what was pushed through faults pulls back intact" "$SKRUN" pull --insecure-skip-verify "$P/t/p:v1" --store "$T/stp" --platform linux/amd64
check "push through faults: blobs intact" same_blobs "$T/stp" "$T/lay" $TOP $MAN $CFG $BPF

# a kill in the middle of a download leaves no partial blob and no record
python3 "$REG_TOOLS/mklayout.py" "$T/big" v1 --size 400000 --platforms amd64 --seed big >"$T/bigtop"
"$SKBUILD" push "$T/big:v1" "$P/t/big:v1" >/dev/null 2>&1 || fail "push big" "failed"
set -- $(layout_digests "$T/big" "$(cat "$T/bigtop")")
proxy_rules "[{\"match\": \"GET /v2/t/big/blobs/$4\", \"action\": \"slowbody\"}]"
"$SKRUN" pull --insecure-skip-verify "$P/t/big:v1" --store "$T/killed" --platform linux/amd64 >/dev/null 2>&1 &
pid=$!
i=0
while [ -z "$(ls -A "$T/killed/.tmp" 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "killed mid-download: a temporary file was being written" test -n "$(ls -A "$T/killed/.tmp")"
check "killed mid-download: the partial blob is not visible" test ! -e "$T/killed/blobs/sha256/${4#sha256:}"
check "killed mid-download: nothing recorded" sh -c "! grep -q ref.name '$T/killed/index.json'"
proxy_rules '[]'
check "the next pull into that store completes" "$SKRUN" pull --insecure-skip-verify "$P/t/big:v1" --store "$T/killed" --platform linux/amd64
check "... with the blob intact" same_blobs "$T/killed" "$T/big" "$4"
