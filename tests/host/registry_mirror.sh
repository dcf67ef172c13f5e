#!/bin/sh
# Registry mirrors (registries.conf, docs/mirrors.md): an origin docker-registry
# and docker-registry as a pull-through cache in front of it (proxy.remoteurl),
# named as a mirror in a registries.conf handed with --registries-conf.
#  - 20 simulated hosts (own store, own network namespace when this machine
#    allows one) pull at once through the cache; the origin serves each blob once;
#  - with the origin stopped, pinned digests still come from the cache, verified
#    against the origin's identity;
#  - a mirror that flips bytes (faultproxy.py) is refused naming it, the next
#    endpoint serves; with only that mirror and the origin down the pull fails
#    with both reasons, the store unchanged and no staging left;
#  - a mirror that is down is skipped; pull-from-mirror = "digest-only" keeps tag
#    pulls off it; a malformed or group-writable registries.conf is refused;
#  - trust is the origin's: a policy naming only the mirror trusts nothing.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"
started=$(date +%s%N)
HOSTS=20
SANITIZED=no
# the sanitized pass (tests/run.sh) checks memory, not scale: fewer hosts there
if ldd "$SKRUN" 2>/dev/null | grep -q libasan; then
	SANITIZED=yes
	HOSTS=6
	echo "note: sanitized build: $HOSTS hosts, and no cold-cache measurement"
fi

python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 --platforms amd64 >"$T/top" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
set -- $(pulled_digests "$T/lay" "$TOP")
MAN=$2
BPF=$4
BLOBS="$*"
reg_start origin
OPORT=$REG_PORT
OLOG=$REG_LOG
O=127.0.0.1:$OPORT
REF=$O/scheds/s:v1
PIN=$O/scheds/s@$TOP
export SKBUILD_KEY_PASSWORD=
"$SKBUILD" push "$T/lay:v1" "$REF" >/dev/null 2>"$T/err" || reg_fatal "setup push" "$(cat "$T/err")"
"$SKBUILD" key generate -o "$T/ci" >/dev/null 2>&1 || reg_fatal "key" "skbuild key generate failed"
"$SKBUILD" sign --key "$T/ci.key" "$REF" >/dev/null 2>"$T/err" || reg_fatal "setup sign" "$(cat "$T/err")"
cat >"$T/policy.json" <<JSON
{"version": 1, "keys": {"ci": "ci.pub"}, "scopes": {"$O/scheds/s": {"keys": ["ci"]}}}
JSON

# ---- the hosts' network: a bridge, and a namespace per host when allowed ----
NET=10.$((200 + $$ % 50)).$(($$ % 250))
BR=skm$$b
NETNS=yes
if ip link add "$BR" type bridge 2>"$T/neterr" && ip addr add "$NET.1/24" dev "$BR" 2>>"$T/neterr" &&
	ip link set "$BR" up 2>>"$T/neterr"; then
	sk_on_exit "ip link del $BR 2>/dev/null"
	i=1
	while [ $i -le $HOSTS ]; do
		ns=skm$$h$i
		if ! { ip netns add "$ns" && ip -n "$ns" link set lo up &&
			ip link add "skm$$v$i" type veth peer name eth0 netns "$ns" &&
			ip link set "skm$$v$i" master "$BR" up && ip -n "$ns" addr add "$NET.$((i + 10))/24" dev eth0 &&
			ip -n "$ns" link set eth0 up; } 2>>"$T/neterr"; then
			NETNS=no
			break
		fi
		sk_on_exit "ip netns del $ns 2>/dev/null"
		i=$((i + 1))
	done
else
	NETNS=no
fi
if [ "$NETNS" = yes ]; then
	CHOST=$NET.1
	echo "note: $HOSTS hosts, each in its own network namespace behind bridge $BR ($NET.0/24)"
else
	CHOST=127.0.0.1
	echo "note: no network namespaces here ($(head -c 200 "$T/neterr")); the hosts share loopback"
fi

# ---- the pull-through cache ----
cache_start() { # NAME: docker-registry in proxy mode in front of the origin; sets CPORT CLOG
	mkdir -p "$T/$1/data"
	CPORT=$(free_port)
	CLOG=$T/$1/log
	cat >"$T/$1/config.yml" <<YML
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $T/$1/data
http:
  addr: $CHOST:$CPORT
  secret: schedkit-test-secret
proxy:
  remoteurl: http://$O
YML
	docker-registry serve "$T/$1/config.yml" >"$CLOG" 2>&1 &
	echo $! >"$T/$1/pid"
	sk_on_exit "kill $! 2>/dev/null"
	_i=0
	until python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.2)' "$CHOST" "$CPORT" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -lt 100 ] || reg_fatal "start cache $1" "$(tail -5 "$CLOG")"
		sleep 0.1
	done
}
cache_start cache
C=$CHOST:$CPORT
CL=$CLOG

conf() { # NAME MIRROR-TABLES...: a registries.conf for the origin's scheds/ namespace
	_f=$T/$1.conf
	shift
	printf '[[registry]]\nprefix = "%s/scheds"\nlocation = "%s/scheds"\n' "$O" "$O" >"$_f"
	for _m in "$@"; do printf '\n[[registry.mirror]]\n%b\n' "$_m" >>"$_f"; done
	chmod 644 "$_f"
}
conf none
conf via-cache "location = \"$C/scheds\"\ninsecure = true"

# origin_blob_gets DIGEST: GETs of that blob the origin answered
origin_blob_gets() { reg_access "$OLOG" | grep -c "\"GET /v2/scheds/s/blobs/$1 " || true; }
pull_host() { # I STORE ARGS...: skrun pull as host I (its namespace when there is one)
	_i=$1
	_s=$2
	shift 2
	if [ "$NETNS" = yes ]; then
		ip netns exec "skm$$h$_i" "$SKRUN" pull --store "$_s" --policy "$T/policy.json" "$@"
	else
		"$SKRUN" pull --store "$_s" --policy "$T/policy.json" "$@"
	fi
}

# ---- 20 hosts through the cache ----
check "host 1 warms the cache" pull_host 1 "$T/h1" --registries-conf "$T/via-cache.conf" "$REF"
reg_mark "$OLOG"
cstart=$(date +%s%N)
i=2
while [ $i -le $HOSTS ]; do
	pull_host $i "$T/h$i" --registries-conf "$T/via-cache.conf" "$REF" >"$T/host$i.out" 2>&1 &
	echo $! >"$T/host$i.pid"
	i=$((i + 1))
done
bad=0
i=2
while [ $i -le $HOSTS ]; do
	wait "$(cat "$T/host$i.pid")" || {
		bad=$((bad + 1))
		sed "s/^/    | host $i: /" "$T/host$i.out" | tail -5
	}
	i=$((i + 1))
done
cms=$((($(date +%s%N) - cstart) / 1000000))
check_eq "$((HOSTS - 1)) more hosts pull concurrently through the cache (${cms} ms)" "$bad" 0
# distribution's proxy fills its cache with two GETs per blob (one streamed to
# the client, one stored by a goroutine of its own): what the origin serves per
# blob is one cache fill, whatever the number of hosts behind it.
fills=""
for d in $(reg_access "$OLOG" | grep -o '"GET /v2/scheds/s/blobs/sha256:[0-9a-f]*' | sort -u | sed 's|.*/blobs/||'); do
	fills="$fills $(origin_blob_gets "$d")"
done
echo "measured: origin GETs per blob (config, layers, signature payload) for all $HOSTS hosts:$fills"
check "the origin served each blob once per cache fill (host 1's), never for the other $((HOSTS - 1))" \
	sh -c "set -- $fills; [ \$# -ge 2 ] && for n; do [ \$n = \$1 ] && [ \$n -ge 1 ] && [ \$n -le 2 ] || exit 1; done"
check_eq "the concurrent hosts asked the origin for no blob" "$(reg_since "$OLOG" '"GET /v2/scheds/s/blobs/')" 0
verified=0
i=1
while [ $i -le $HOSTS ]; do
	if "$SKRUN" verify --store "$T/h$i" --policy "$T/policy.json" "$REF" >"$T/v.out" 2>&1 &&
		store_clean "$T/h$i" >>"$T/v.out" && grep -qF "$REF" "$T/h$i/index.json"; then
		verified=$((verified + 1))
	else
		sed "s/^/    | host $i: /" "$T/v.out" | tail -3
	fi
	i=$((i + 1))
done
check_eq "every host's store verifies offline (recorded under the origin's name)" "$verified" $HOSTS

# What distribution's proxy does with concurrent misses: a second, cold cache and
# $HOSTS hosts at once. Measured and printed, not a pass/fail: its inflight map
# sends a second request for a blob being fetched straight to the origin.
[ "$SANITIZED" = yes ] || {
	cache_start cold
	conf via-cold "location = \"$C/scheds\"\ninsecure = true"
	sed -i "s|$C|$CHOST:$CPORT|" "$T/via-cold.conf"
	reg_mark "$OLOG"
	i=1
	while [ $i -le $HOSTS ]; do
		rm -rf "$T/c$i"
		"$SKRUN" pull --store "$T/c$i" --policy "$T/policy.json" --registries-conf "$T/via-cold.conf" "$REF" >/dev/null 2>&1 &
		echo $! >"$T/c$i.pid"
		i=$((i + 1))
	done
	cold_ok=0
	i=1
	while [ $i -le $HOSTS ]; do
		wait "$(cat "$T/c$i.pid")" && cold_ok=$((cold_ok + 1))
		i=$((i + 1))
	done
	echo "measured: $HOSTS cold hosts at once through an empty cache: $cold_ok pulls succeeded; the origin answered $(reg_since "$OLOG" '"GET /v2/scheds/s/blobs/') blob GETs for $(echo "$fills" | wc -w) blobs (distribution 2.8 does not merge concurrent misses; warm with one host first)"
	kill "$(cat "$T/cold/pid")" 2>/dev/null
}

# a store that holds something else, for the refusals below to leave as it is
python3 "$REG_TOOLS/mklayout.py" "$T/lay2" v2 --platforms amd64 --seed 2 >/dev/null || reg_fatal setup "mklayout v2 failed"
"$SKBUILD" push "$T/lay2:v2" "$O/scheds/s:v2" >/dev/null 2>"$T/err" || reg_fatal "setup push v2" "$(cat "$T/err")"
"$SKBUILD" sign --key "$T/ci.key" "$O/scheds/s:v2" >/dev/null 2>"$T/err" || reg_fatal "setup sign v2" "$(cat "$T/err")"
check "a store with another artifact" "$SKRUN" pull --store "$T/t3" --policy "$T/policy.json" "$O/scheds/s:v2"

# ---- origin down: pinned digests from the cache ----
reg_stop origin
i=1
while [ $i -le $HOSTS ]; do
	pull_host $i "$T/p$i" --registries-conf "$T/via-cache.conf" "$PIN" >"$T/p$i.out" 2>&1 &
	echo $! >"$T/p$i.pid"
	i=$((i + 1))
done
ok=0
i=1
while [ $i -le $HOSTS ]; do
	if wait "$(cat "$T/p$i.pid")" && "$SKRUN" verify --store "$T/p$i" --policy "$T/policy.json" "$PIN" >>"$T/p$i.out" 2>&1 &&
		store_clean "$T/p$i" >>"$T/p$i.out"; then
		ok=$((ok + 1))
	else
		sed "s/^/    | host $i: /" "$T/p$i.out" | tail -3
	fi
	i=$((i + 1))
done
check_eq "origin down: $HOSTS hosts pull the pinned digest from the cache at once, each verified against the origin's identity" "$ok" $HOSTS
check "origin down: skrun verify of the pinned digest goes through the cache" \
	"$SKRUN" verify --policy "$T/policy.json" --registries-conf "$T/via-cache.conf" "$PIN"
check_fails "origin down: without the mirror the same pull fails" "refused|unreachable|connect" \
	"$SKRUN" pull --store "$T/nomirror" --policy "$T/policy.json" --registries-conf "$T/none.conf" "$PIN"

# ---- a tampering mirror ----
reg_proxy_start "$C"
TP=127.0.0.1:$PROXY_PORT
proxy_rules "[{\"match\": \"GET /v2/scheds/s/blobs/$BPF\", \"action\": \"tamper\"}]"
conf tamper-first "location = \"$TP/scheds\"" "location = \"$C/scheds\"\ninsecure = true"
check "a mirror that flips a blob's bytes is refused; the next mirror serves" \
	"$SKRUN" pull --store "$T/t1" --policy "$T/policy.json" --registries-conf "$T/tamper-first.conf" "$PIN"
cp "$T/out" "$T/t1.err"
check "tampered blob: the refusal names the mirror and the digest mismatch" \
	grep -Eq "mirror $TP/scheds/s failed: .*$BPF.*(does not match|hashes to)" "$T/t1.err"
check "tampered blob: the store holds the true bytes" same_blobs "$T/t1" "$T/lay" $BLOBS
proxy_rules "[{\"match\": \"GET /v2/scheds/s/manifests/$MAN\", \"action\": \"tamper\"}]"
check "a mirror that flips a manifest's bytes is refused; the next mirror serves" \
	"$SKRUN" pull --store "$T/t2" --policy "$T/policy.json" --registries-conf "$T/tamper-first.conf" "$PIN"
cp "$T/out" "$T/t2.err"
check "tampered manifest: the refusal names the mirror" grep -Eq "mirror $TP/scheds/s failed: .*$MAN" "$T/t2.err"
# only the liar, and the origin down: nothing lands
conf tamper-only "location = \"$TP/scheds\""
proxy_rules "[{\"match\": \"GET /v2/scheds/s/blobs/$BPF\", \"action\": \"tamper\"}]"
(cd "$T/t3" && find . -type f | sort | xargs sha256sum) >"$T/t3.before"
check_fails "only a tampering mirror and the origin down: the pull fails with each endpoint's reason" \
	"no endpoint served it \(2 tried\): mirror $TP/scheds/s: .*$BPF.*; registry $O/scheds/s: " \
	"$SKRUN" pull --store "$T/t3" --policy "$T/policy.json" --registries-conf "$T/tamper-only.conf" "$PIN"
check "…the store is byte-identical" sh -c "cd '$T/t3' && find . -type f | sort | xargs sha256sum | cmp - '$T/t3.before'"
check "…and no staging is left" store_clean "$T/t3"
check_fails "…and the fresh store of a first pull holds nothing" "no endpoint served it" \
	"$SKRUN" pull --store "$T/t4" --policy "$T/policy.json" --registries-conf "$T/tamper-only.conf" "$PIN"
check "…no blob, no staging" sh -c "[ -z \"\$(ls '$T/t4/blobs/sha256' 2>/dev/null)\" ] && [ -z \"\$(ls -A '$T/t4/.tmp' 2>/dev/null)\" ]"

# ---- a mirror that is down ----
DEAD=127.0.0.1:$(free_port)
conf dead-first "location = \"$DEAD/scheds\"" "location = \"$C/scheds\"\ninsecure = true"
check "a mirror that is down is skipped" \
	"$SKRUN" pull --store "$T/d1" --policy "$T/policy.json" --registries-conf "$T/dead-first.conf" "$PIN"
cp "$T/out" "$T/d1.err"
check "…with the reason printed" grep -Eq "mirror $DEAD/scheds/s failed: .*(refused|connect)" "$T/d1.err"

# ---- pull-from-mirror = "digest-only" (origin back up) ----
docker-registry serve "$T/origin/config.yml" >>"$OLOG" 2>&1 &
echo $! >"$T/origin/pid"
sk_on_exit "kill $! 2>/dev/null"
reg_wait_port "$OPORT" "$!" "$OLOG" "origin again"
conf digest-only "location = \"$C/scheds\"\ninsecure = true\npull-from-mirror = \"digest-only\""
reg_mark "$CL"
check "digest-only: a tag pull" \
	"$SKRUN" pull --store "$T/g1" --policy "$T/policy.json" --registries-conf "$T/digest-only.conf" "$REF"
check_eq "digest-only: the tag pull never reached the mirror" "$(reg_since "$CL")" 0
reg_mark "$CL"
check "digest-only: a digest pull" \
	"$SKRUN" pull --store "$T/g2" --policy "$T/policy.json" --registries-conf "$T/digest-only.conf" "$PIN"
n=$(reg_since "$CL")
check "digest-only: the digest pull went to the mirror ($n requests)" test "$n" -gt 0

# ---- a mirror whose signatures the policy does not accept ----
reg_start rogue
R=127.0.0.1:$REG_PORT
"$SKBUILD" key generate -o "$T/rogue" >/dev/null 2>&1 || reg_fatal "key" "skbuild key generate failed"
"$SKBUILD" push "$T/lay:v1" "$R/scheds/s:v1" >/dev/null 2>"$T/err" || reg_fatal "setup push rogue" "$(cat "$T/err")"
"$SKBUILD" sign --key "$T/rogue.key" "$R/scheds/s:v1" >/dev/null 2>"$T/err" || reg_fatal "setup sign rogue" "$(cat "$T/err")"
conf rogue-first "location = \"$R/scheds\""
check "a mirror whose signatures do not verify is skipped; the origin serves" \
	"$SKRUN" pull --store "$T/r1" --policy "$T/policy.json" --registries-conf "$T/rogue-first.conf" "$REF"
cp "$T/out" "$T/r1.err"
check "…the refusal names the mirror and the verification" grep -Eq "mirror $R/scheds/s failed: verification of $TOP failed" "$T/r1.err"
check "…the store verifies with the origin's key" "$SKRUN" verify --store "$T/r1" --key "$T/ci.pub" "$REF"
check_fails "…and kept nothing the mirror signed" "verification of $TOP failed|no signature|not trusted|does not verify" \
	"$SKRUN" verify --store "$T/r1" --key "$T/rogue.pub" --identity "$R/scheds/s" "$REF"

# ---- trust is the origin's ----
cat >"$T/mirror-policy.json" <<JSON
{"version": 1, "keys": {"ci": "ci.pub"}, "scopes": {"$C/scheds/s": {"keys": ["ci"]}}}
JSON
check_fails "a policy that trusts only the mirror's repository does not trust the origin's artifact" \
	"no endpoint served it.*(not trusted|no trust|policy|verif)" \
	"$SKRUN" pull --store "$T/m1" --policy "$T/mirror-policy.json" --registries-conf "$T/via-cache.conf" "$PIN"
check "…and nothing was stored" sh -c "[ -z \"\$(ls '$T/m1/blobs/sha256' 2>/dev/null)\" ]"

# ---- the configuration itself ----
printf '[[registry]]\nlocation = "%s"\n[[registry.mirror]]\nlocation = "%s/scheds"\npull-from-mirror = 1\n' "$O" "$C" >"$T/bad.conf"
chmod 644 "$T/bad.conf"
check_fails "a malformed registries.conf is refused with file:line" "bad.conf:5: unsupported value" \
	"$SKRUN" pull --store "$T/b1" --policy "$T/policy.json" --registries-conf "$T/bad.conf" "$REF"
check_fails "…through \$CONTAINERS_REGISTRIES_CONF too" "bad.conf:5: unsupported value" \
	env CONTAINERS_REGISTRIES_CONF="$T/bad.conf" "$SKRUN" pull --store "$T/b1" --policy "$T/policy.json" "$REF"
cp "$T/via-cache.conf" "$T/open.conf"
chmod 666 "$T/open.conf"
check_fails "a registries.conf others may write is refused as root" "open.conf is writable by group or others \(mode 0666\)" \
	"$SKRUN" pull --store "$T/b2" --policy "$T/policy.json" --registries-conf "$T/open.conf" "$REF"
check "…and nothing was stored" sh -c "[ -z \"\$(find '$T/b1' '$T/b2' -path '*/blobs/sha256/*' -type f 2>/dev/null)\" ]"

echo "runtime: $((($(date +%s%N) - started) / 1000000)) ms"
