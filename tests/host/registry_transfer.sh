#!/bin/sh
# How blobs move: several at a time but never more than 4 (a many-layer
# artifact through the fault proxy, which counts the requests in flight), a
# Retry-After honoured by the one blob it was for while the others go on, an
# interrupted download of a large blob continued with Range on docker-registry
# and on crane (digest still checked over every byte), progress on a terminal
# and in logs, and HTTP(S) proxies from the environment (a forward proxy on
# loopback) with NO_PROXY.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

ms_now() { echo $(($(date +%s%N) / 1000000)); }
# the digests a pull fetches (config and every layer but the source tarball)
pulled_blobs() { set -- $(pulled_digests "$1" "$2"); shift 2; echo "$@"; }

# 10 blobs to move: config, the bpf layer and 8 more (the source layer stays behind)
python3 "$REG_TOOLS/mklayout.py" "$T/many" v1 --platforms amd64 --layers 8 --size 65536 --seed many \
	>"$T/manytop" || reg_fatal setup "mklayout failed"
MANY=$(cat "$T/manytop")
python3 "$REG_TOOLS/mklayout.py" "$T/big" v1 --platforms amd64 --size 4194304 --seed big \
	>"$T/bigtop" || reg_fatal setup "mklayout failed"
BIG=$(cat "$T/bigtop")
set -- $(layout_digests "$T/big" "$BIG")
BIGBPF=$4
reg_start reg
R=127.0.0.1:$REG_PORT
"$SKBUILD" push "$T/many:v1" "$R/t/many:v1" >/dev/null 2>"$T/err" || reg_fatal "setup push" "$(cat "$T/err")"
"$SKBUILD" push "$T/big:v1" "$R/t/big:v1" >/dev/null 2>"$T/err" || reg_fatal "setup push" "$(cat "$T/err")"
reg_proxy_start "$REG_PORT"
P=127.0.0.1:$PROXY_PORT

# ---- bounded concurrency ----
proxy_rules '[{"match": "GET /v2/t/many/blobs/", "action": "delay", "ms": 400}]'
t0=$(ms_now)
check "pull of 10 blobs, each answered after 400 ms" \
	"$SKRUN" pull --insecure-skip-verify "$P/t/many:v1" --store "$T/s1"
el=$(($(ms_now) - t0))
max=$(cat "$PROXY_LOG.max")
check "pull: blobs fetched in parallel ($max requests in flight at once)" test "$max" -ge 2
check "pull: never more than 4 in flight ($max)" test "$max" -le 4
check "pull: 10 x 400 ms of blobs took $el ms (one at a time: over 4000)" test "$el" -lt 3500
check "pull: byte-identical" same_blobs "$T/s1" "$T/many" $(pulled_digests "$T/many" "$MANY")

proxy_rules '[{"match": "POST /v2/t/pmany/blobs/uploads/", "action": "delay", "ms": 300}]'
check "push of 11 blobs, each upload started after 300 ms" "$SKBUILD" push "$T/many:v1" "$P/t/pmany:v1"
max=$(cat "$PROXY_LOG.max")
check "push: blobs uploaded in parallel ($max requests in flight at once)" test "$max" -ge 2
check "push: never more than 4 in flight ($max)" test "$max" -le 4

# ---- Retry-After: the blob it is for waits, the others go on ----
set -- $(pulled_blobs "$T/many" "$MANY")
CFG=$1
: >"$PROXY_LOG"
proxy_rules "[{\"match\": \"GET /v2/t/many/blobs/$CFG\", \"action\": \"status429\", \"retry_after\": 2, \"times\": 1}]"
t0=$(ms_now)
check "pull through a 429 with Retry-After: 2" "$SKRUN" pull --insecure-skip-verify "$P/t/many:v1" --store "$T/s2"
el=$(($(ms_now) - t0))
check "429: the pull waited the 2 s asked for ($el ms)" test "$el" -ge 2000
check "429: byte-identical" same_blobs "$T/s2" "$T/many" $(pulled_digests "$T/many" "$MANY")
gap=$(python3 - "$PROXY_LOG" "$CFG" <<'PY'
import sys
at = {}
for l in open(sys.argv[1]):
    f = l.split()
    if f[0] == "GET" and sys.argv[2] in f[1]:
        at.setdefault(f[2], float(f[-1].split("=")[1]))
print(int((at["200"] - at["429"]) * 1000) if "200" in at and "429" in at else -1)
PY
)
check "429: asked again only after Retry-After (${gap} ms later)" test "$gap" -ge 1950
others=$(awk -v c="$CFG" '$1 == "GET" && $2 ~ /blobs/ && index($2, c) == 0 && $3 == 200' "$PROXY_LOG" | wc -l)
check_eq "429: the other 9 blobs went on meanwhile" "$others" 9

# ---- an interrupted download continues with Range ----
resume() { # NAME PROXYPORT
	: >"$PROXY_LOG"
	proxy_rules "[{\"match\": \"GET /v2/t/big/blobs/$BIGBPF\", \"action\": \"truncate\", \"times\": 1}]"
	check "$1: pull of a 4 MiB blob cut off half-way" \
		"$SKRUN" pull --insecure-skip-verify "127.0.0.1:$2/t/big:v1" --store "$T/$1-s"
	check_eq "$1: the rest was asked for with Range and came as 206" \
		"$(grep -c "GET /v2/t/big/blobs/$BIGBPF 206 - range=bytes=[1-9][0-9]*-" "$PROXY_LOG")" 1
	check "$1: the blob is intact (digest checked over both parts)" same_blobs "$T/$1-s" "$T/big" "$BIGBPF"
}
resume docker-registry "$PROXY_PORT"
crane_start crane
"$SKBUILD" push "$T/big:v1" "127.0.0.1:$REG_PORT/t/big:v1" >/dev/null 2>"$T/err" || reg_fatal "crane push" "$(cat "$T/err")"
reg_proxy_start "$REG_PORT"
resume crane "$PROXY_PORT"
proxy_rules "[{\"match\": \"GET /v2/t/big/blobs/$BIGBPF\", \"action\": \"truncate\", \"times\": 1},
 {\"match\": \"GET /v2/t/big/blobs/$BIGBPF\", \"action\": \"refuse_range\"}]"
: >"$PROXY_LOG"
check "a registry that refuses the Range: the blob is fetched again from the start" \
	"$SKRUN" pull --insecure-skip-verify "127.0.0.1:$PROXY_PORT/t/big:v1" --store "$T/norange"
check_eq "... after its 416" "$(grep -c "GET /v2/t/big/blobs/$BIGBPF 416" "$PROXY_LOG")" 1
check "... and arrives intact" same_blobs "$T/norange" "$T/big" "$BIGBPF"
proxy_rules "[{\"match\": \"GET /v2/t/big/blobs/$BIGBPF\", \"action\": \"tamper\", \"times\": 1}]"
check_fails "a tampered blob is refused, Range or not" "does not match its digest" \
	"$SKRUN" pull --insecure-skip-verify "127.0.0.1:$PROXY_PORT/t/big:v1" --store "$T/tampered"

# ---- progress ----
proxy_rules '[]'
"$SKRUN" pull --insecure-skip-verify "$P/t/big:v1" --store "$T/p1" >"$T/p1.out" 2>"$T/p1.err"
check_eq "progress without a terminal: one line for the 4 MiB blob" \
	"$(grep -c "^fetched ${BIGBPF%"${BIGBPF#sha256:????????????}"}: 4.0 MiB in [0-9.]* s ([0-9.]* MiB/s)$" "$T/p1.err")" 1
check_eq "... and none for the small ones" "$(grep -c '^fetched' "$T/p1.err")" 1
if command -v script >/dev/null 2>&1; then
	proxy_rules "[{\"match\": \"GET /v2/t/big/blobs/$BIGBPF\", \"action\": \"slowbody\"}]"
	script -qec "'$SKRUN' pull --insecure-skip-verify '$P/t/big:v1' --store '$T/p2'" /dev/null >"$T/tty.out" 2>&1
	check "progress on a terminal: bytes, rate and time left, redrawn" \
		grep -qa "$(printf '\r').*MiB/4.0 MiB [0-9.]* MiB/s ETA [0-9]*s" "$T/tty.out"
	check "... then the blob's line" grep -qa "fetched sha256:[0-9a-f]*: 4.0 MiB in" "$T/tty.out"
	# the upload's answer comes 600 ms late: time for redraws, unless --quiet
	proxy_rules "[{\"match\": \"PUT /v2/t/bigq[0-9]/blobs/uploads/\", \"action\": \"delay\", \"ms\": 600}]"
	script -qec "'$SKBUILD' push '$T/big:v1' '$P/t/bigq1:v1'" /dev/null >"$T/ttyp.out" 2>&1
	check "push on a terminal: the progress line is redrawn" grep -qa "MiB/4.0 MiB [0-9.]* MiB/s" "$T/ttyp.out"
	script -qec "'$SKBUILD' push -q '$T/big:v1' '$P/t/bigq2:v1'" /dev/null >"$T/ttyq.out" 2>&1
	check "push --quiet on a terminal: the blob's line" grep -qa "pushed sha256:[0-9a-f]*: 4.0 MiB in" "$T/ttyq.out"
	check "push --quiet on a terminal: nothing redrawn" sh -c "! grep -qa 'MiB/4.0 MiB' '$T/ttyq.out'"
else
	fail "progress on a terminal" "script(1) (bsdutils) is missing"
fi

# ---- HTTP(S) proxies from the environment ----
FWD_PORT=$(free_port)
FWD_LOG=$T/fwd.log
: >"$FWD_LOG"
python3 "$REG_TOOLS/fwdproxy.py" "$FWD_PORT" "$FWD_LOG" >"$T/fwd.err" 2>&1 &
_fp=$!
sk_on_exit "kill $_fp 2>/dev/null"
reg_wait_port "$FWD_PORT" "$_fp" "$T/fwd.err" "forward proxy"
FWD=http://127.0.0.1:$FWD_PORT
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

check "http_proxy: push through the proxy" env http_proxy="$FWD" "$SKBUILD" push "$T/many:v1" "$R/t/viaproxy:v1"
check "http_proxy: the proxy carried the push" grep -q "^PUT http://$R/v2/t/viaproxy/manifests/v1$" "$FWD_LOG"
: >"$FWD_LOG"
check "HTTP_PROXY (upper case, as Go clients read it): pull through the proxy, via the fetch helper" \
	env HTTP_PROXY="$FWD" "$SKRUN" pull --insecure-skip-verify "$R/t/viaproxy:v1" --store "$T/px1"
check "HTTP_PROXY: the proxy carried the pull" grep -q "^GET http://$R/v2/t/viaproxy/manifests/v1$" "$FWD_LOG"
check "HTTP_PROXY: byte-identical" same_blobs "$T/px1" "$T/many" $(pulled_digests "$T/many" "$MANY")
: >"$FWD_LOG"
check "NO_PROXY names the registry: straight there" \
	env HTTP_PROXY="$FWD" http_proxy="$FWD" NO_PROXY=127.0.0.1 "$SKRUN" pull --insecure-skip-verify \
	"$R/t/viaproxy:v1" --store "$T/px2"
check_eq "NO_PROXY: the proxy saw nothing" "$(wc -l <"$FWD_LOG")" 0

reg_certs "$T/certs"
reg_start tls tls
TR=127.0.0.1:$REG_PORT
: >"$FWD_LOG"
check "HTTPS_PROXY: push to a TLS registry through a CONNECT tunnel" \
	env HTTPS_PROXY="$FWD" "$SKBUILD" push "$T/many:v1" "$TR/t/tls:v1" --ca-cert "$T/certs/ca.crt"
check "HTTPS_PROXY: the proxy opened the tunnel" grep -q "^CONNECT $TR$" "$FWD_LOG"
: >"$FWD_LOG"
check "HTTPS_PROXY: pull through the tunnel, via the fetch helper" \
	env HTTPS_PROXY="$FWD" "$SKRUN" pull --insecure-skip-verify "$TR/t/tls:v1" --store "$T/px3" \
	--ca-cert "$T/certs/ca.crt"
check "HTTPS_PROXY: the helper's requests went through the tunnel" grep -q "^CONNECT $TR$" "$FWD_LOG"
check "HTTPS_PROXY: byte-identical" same_blobs "$T/px3" "$T/many" $(pulled_digests "$T/many" "$MANY")
check "TLS: the registry was spoken to in HTTP/2" sh -c "grep -q 'HTTP/2.0\" 200' '$REG_LOG'"
check_eq "TLS: the pull's parallel blobs shared one connection (one tunnel)" "$(grep -c '^CONNECT' "$FWD_LOG")" 1
