#!/bin/sh
# skbuild push / skrun pull against docker-registry over plain HTTP: round trip,
# request counts from the registry's access log (and from a second registry
# implementation's, crane's), re-push, pinned pulls without network, platforms,
# chunked uploads, cross-repository mounts, the store.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
# one platform, the shape of a scheduler artifact (config, bpf object, source tarball)
python3 "$REG_TOOLS/mklayout.py" "$T/one" v1 --platforms amd64 --seed one >"$T/onetop" ||
	reg_fatal setup "mklayout failed"
ONE=$(cat "$T/onetop")
SKBUILD_KEY_PASSWORD= "$SKBUILD" key generate -o "$T/k" >/dev/null 2>&1 || reg_fatal setup "key generate failed"

# request_counts NAME HOST LOG: the request budget of each command, counted from
# the registry's own log (issue 10's targets; oras and cosign make more).
request_counts() {
	rc_n=$1
	rc_h=$2
	rc_l=$3
	set -- $(layout_digests "$T/one" "$ONE")
	rc_man=$2 rc_cfg=$3 rc_bpf=$4 rc_src=$5
	reg_mark "$rc_l"
	check "$rc_n: cold push" "$SKBUILD" push "$T/one:v1" "$rc_h/c/one:v1"
	rc_c=$(reg_since "$rc_l")
	check "$rc_n: cold push: $rc_c requests (HEAD tag, HEAD manifest, 3 x POST+PUT, 2 PUT), at most 10" test "$rc_c" -le 10
	check_eq "$rc_n: cold push: no HEAD of a small blob when the manifest was absent" "$(reg_since "$rc_l" 'HEAD /v2/[^ ]*/blobs/')" 0
	reg_mark "$rc_l"
	check "$rc_n: re-push" "$SKBUILD" push "$T/one:v1" "$rc_h/c/one:v1"
	rc_c=$(reg_since "$rc_l")
	check "$rc_n: re-push: $rc_c requests, at most 2" test "$rc_c" -le 2
	reg_mark "$rc_l"
	check "$rc_n: pull into an empty store" "$SKRUN" pull --insecure-skip-verify "$rc_h/c/one:v1" --store "$T/$rc_n-s1"
	rc_c=$(reg_since "$rc_l")
	check "$rc_n: pull: $rc_c requests (index, manifest, config, bpf), at most 4" test "$rc_c" -le 4
	check "$rc_n: pull: blobs byte-identical" same_blobs "$T/$rc_n-s1" "$T/one" "$ONE" "$rc_man" "$rc_cfg" "$rc_bpf"
	check "$rc_n: pull: the source tarball was not fetched" test ! -e "$T/$rc_n-s1/blobs/sha256/${rc_src#sha256:}"
	check "$rc_n: store verify accepts the absent source layer" "$SKRUN" store verify --store "$T/$rc_n-s1"
	reg_mark "$rc_l"
	check "$rc_n: pull of a stored digest" "$SKRUN" pull --insecure-skip-verify "$rc_h/c/one@$ONE" --store "$T/$rc_n-s1"
	check_eq "$rc_n: pull of a stored digest: no request" "$(reg_since "$rc_l")" 0
	reg_mark "$rc_l"
	check "$rc_n: pull --with-source" "$SKRUN" pull --insecure-skip-verify --with-source "$rc_h/c/one:v1" --store "$T/$rc_n-s1"
	check "$rc_n: --with-source fetched the source tarball" same_blobs "$T/$rc_n-s1" "$T/one" "$rc_src"
	check_eq "$rc_n: --with-source: only the tag and the missing layer asked for" "$(reg_since "$rc_l")" 2
	reg_mark "$rc_l"
	check "$rc_n: push --sign (cold)" env SKBUILD_KEY_PASSWORD= "$SKBUILD" push --sign "$T/k.key" "$T/one:v1" "$rc_h/c/signed:v1"
	rc_c=$(reg_since "$rc_l")
	check "$rc_n: push + sign: $rc_c requests (push 10, then GET .sig, 2 x POST+PUT, PUT .sig), at most 18" test "$rc_c" -le 18
	check_eq "$rc_n: push + sign: one signature manifest, for the index" "$(reg_since "$rc_l" 'PUT /v2/[^ ]*/manifests/sha256-')" 1
	check_eq "$rc_n: push + sign: the index just pushed is not fetched back" "$(reg_since "$rc_l" 'GET /v2/c/signed/manifests/(v1|sha256:)')" 0
	reg_mark "$rc_l"
	check "$rc_n: verify (pinned)" "$SKRUN" verify "$rc_h/c/signed@$ONE" --key "$T/k.pub"
	rc_c=$(reg_since "$rc_l")
	check "$rc_n: verify: $rc_c requests (.sig, payload), at most 2" test "$rc_c" -le 2
	reg_mark "$rc_l"
	check "$rc_n: pull + verify into an empty store" "$SKRUN" pull "$rc_h/c/signed:v1" --key "$T/k.pub" --store "$T/$rc_n-s2"
	rc_c=$(reg_since "$rc_l")
	check "$rc_n: pull + verify: $rc_c requests (index, .sig, payload, manifest, config, bpf), at most 6" test "$rc_c" -le 6
	check "$rc_n: pull + verify: the store is consistent" "$SKRUN" store verify --store "$T/$rc_n-s2"
}

# -- docker-registry (distribution 2.8), then go-containerregistry's registry
reg_start plain
R=127.0.0.1:$REG_PORT
LOG=$REG_LOG
request_counts docker-registry "$R" "$LOG"
crane_start crane
request_counts crane "127.0.0.1:$REG_PORT" "$REG_LOG"

# -- push: HEAD tag, then 2 platforms x (HEAD manifest, 3 x (POST, PUT), PUT manifest),
#    then PUT index = 18 requests, blobs several at a time on at most 4 connections
reg_mark "$LOG"
check "push prints the index digest" "$SKBUILD" push "$T/lay:v1" "$R/test/sched:v1" --digest-file "$T/dg"
check_eq "pushed digest is the layout's" "$(cat "$T/out")" "$TOP"
check_eq "--digest-file holds it" "$(cat "$T/dg")" "$TOP"
check_eq "push: requests" "$(reg_since "$LOG")" 18
check_eq "push: blob uploads (POST)" "$(reg_since "$LOG" '"POST ')" 6
check_eq "push: blob uploads (PUT)" "$(reg_since "$LOG" '"PUT /v2/[^ ]*/blobs/uploads/')" 6
check_eq "push: manifests PUT" "$(reg_since "$LOG" '"PUT /v2/[^ ]*/manifests/')" 3
conns=$(reg_access "$LOG" >/dev/null; grep 'msg="response completed' "$LOG" | grep 'test/sched' | sed -n 's/.*http.request.remoteaddr="\{0,1\}\([0-9.:]*\).*/\1/p' | sort -u | wc -l)
check "push: blobs went up in parallel, on $conns connections (2 to 4)" test "$conns" -ge 2 -a "$conns" -le 4

reg_mark "$LOG"
check "re-push succeeds" "$SKBUILD" push "$T/lay:v1" "$R/test/sched:v1"
check_eq "re-push: requests (HEAD tag)" "$(reg_since "$LOG")" 1
check_eq "re-push: nothing uploaded" "$(reg_since "$LOG" '"(POST|PUT|PATCH) ')" 0

# a second tag for the same content: only the index PUT under the new tag
reg_mark "$LOG"
check "push under another tag" "$SKBUILD" push "$T/lay:v1" "$R/test/sched:stable"
check_eq "new tag: no blob uploads" "$(reg_since "$LOG" '"(POST|PATCH) |blobs/uploads')" 0

# -- pull
reg_mark "$LOG"
check "pull by tag" "$SKRUN" pull --insecure-skip-verify "$R/test/sched:v1" --store "$T/store" --platform linux/amd64
check_eq "pull prints the digest" "$(cat "$T/out")" "$TOP"
check_eq "pull: requests (index, manifest, config, bpf)" "$(reg_since "$LOG")" 4
amd=$(python3 -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m["platform"]["architecture"]=="amd64"][0])' "$T/lay/blobs/sha256/${TOP#sha256:}")
arm=$(python3 -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m["platform"]["architecture"]=="arm64"][0])' "$T/lay/blobs/sha256/${TOP#sha256:}")
# config and bpf object; the source tarball (the last layer) is left out by default
amd_blobs=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"][:-1]]))' "$T/lay/blobs/sha256/${amd#sha256:}")
check "pull: byte-identical to what was pushed" same_blobs "$T/store" "$T/lay" "$TOP" "$amd" $amd_blobs
check "pull: store holds only verified blobs, no temp files" store_clean "$T/store"
check "pull: recorded under the full reference" grep -q "\"org.opencontainers.image.ref.name\":\"$R/test/sched:v1\"" "$T/store/index.json"
check "pull: the other platform was not fetched" test ! -e "$T/store/blobs/sha256/${arm#sha256:}"

reg_mark "$LOG"
check "pull again by tag" "$SKRUN" pull --insecure-skip-verify "$R/test/sched:v1" --store "$T/store" --platform linux/amd64
check_eq "re-pull: only the tag is resolved (GET index)" "$(reg_since "$LOG")" 1

reg_mark "$LOG"
check "pull pinned by digest, content present" "$SKRUN" pull --insecure-skip-verify "$R/test/sched@$TOP" --store "$T/store" --platform linux/amd64
check_eq "pinned pull: no request at all" "$(reg_since "$LOG")" 0
check "pinned pull from an unreachable registry works offline" "$SKRUN" pull --insecure-skip-verify "127.0.0.1:1/test/sched@$TOP" --store "$T/store" --platform linux/amd64
check "pinned pull recorded under its digest reference" grep -q "127.0.0.1:1/test/sched@$TOP" "$T/store/index.json"

check "pull --platform linux/arm64" "$SKRUN" pull --insecure-skip-verify "$R/test/sched:v1" --store "$T/store" --platform linux/arm64
check "arm64 manifest now in the store" test -f "$T/store/blobs/sha256/${arm#sha256:}"
check_fails "pull of a platform the index lacks" 'no manifest for linux/riscv64 \(it has: linux/amd64, linux/arm64\)' \
	"$SKRUN" pull --insecure-skip-verify "$R/test/sched:v1" --store "$T/store" --platform linux/riscv64
check_fails "pull of an unknown tag" 'fetching manifest test/sched:nope: HTTP 404: MANIFEST_UNKNOWN' \
	"$SKRUN" pull --insecure-skip-verify "$R/test/sched:nope" --store "$T/store"
check_fails "pull of an invalid reference" "invalid reference.*must be lowercase" \
	"$SKRUN" pull --insecure-skip-verify "$R/Test/Sched:v1" --store "$T/store"
check_fails "pull from a registry that is not there" 'registry 127.0.0.1:1: .*(Could not connect|Couldn.t connect)' \
	"$SKRUN" pull --insecure-skip-verify "127.0.0.1:1/test/sched:v1" --store "$T/store2"
check_fails "push of a missing layout" "nolayout: no such directory" \
	"$SKBUILD" push "$T/nolayout:v1" "$R/test/sched:v1"

# -- chunked upload (PATCH) above --chunk-size; pulled back byte-identical
python3 "$REG_TOOLS/mklayout.py" "$T/big" v1 --size 2600000 --seed big --platforms amd64 >"$T/bigtop"
reg_mark "$LOG"
check "chunked push (--chunk-size 1 MiB)" "$SKBUILD" push "$T/big:v1" "$R/test/big:v1" --chunk-size 1048576
check_eq "chunked push: 3 PATCH requests for the 2.6 MB blob" "$(reg_since "$LOG" '"PATCH ')" 3
check "chunked pull" "$SKRUN" pull --insecure-skip-verify "$R/test/big:v1" --store "$T/store" --platform linux/amd64
set -- $(layout_digests "$T/big" "$(cat "$T/bigtop")")
check "chunked blob byte-identical" same_blobs "$T/store" "$T/big" "$1" "$2" "$3" "$4"

# -- cross-repository mount: no upload, the blobs come from test/sched
reg_mark "$LOG"
check "push with --mount-from" "$SKBUILD" push "$T/lay:v1" "$R/other/sched:v1" --mount-from test/sched
check_eq "mount: 6 mount POSTs answered 201" "$(reg_since "$LOG" '"POST /v2/other/sched/blobs/uploads/\?mount=[^ ]* HTTP/1.1" 201')" 6
check_eq "mount: no blob data uploaded" "$(reg_since "$LOG" '"(PUT|PATCH) /v2/other/sched/blobs/')" 0

# -- concurrent pulls into one store keep every entry
for i in 1 2 3 4; do
	python3 "$REG_TOOLS/mklayout.py" "$T/c$i" v1 --seed "c$i" >/dev/null
	"$SKBUILD" push "$T/c$i:v1" "$R/conc/s$i:v1" >/dev/null 2>&1 || fail "push c$i" "failed"
done
pids=""
for i in 1 2 3 4; do
	"$SKRUN" pull --insecure-skip-verify "$R/conc/s$i:v1" --store "$T/cstore" >"$T/cp$i" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do wait "$p" || fail "concurrent pull" "a pull failed: $(cat "$T"/cp*)"; done
n=$(grep -o '"org.opencontainers.image.ref.name":"[^"]*conc/s[1-4]:v1"' "$T/cstore/index.json" | sort -u | wc -l)
check_eq "4 concurrent pulls: 4 entries recorded" "$n" 4
check "concurrent pulls: store clean" store_clean "$T/cstore"

check "push --help" "$SKBUILD" push --help
check "pull --help" "$SKRUN" pull --insecure-skip-verify --help
check_fails "push without arguments" "usage: skbuild push" "$SKBUILD" push

# -- credentials never go over plain HTTP to a host the user did not name insecure.
#    Loopback registries speak plain HTTP anonymously; when one asks for
#    credentials the client refuses, and says how to allow it.
export HOME="$T/home"
mkdir -p "$HOME"
unset DOCKER_CONFIG REGISTRY_AUTH_FILE XDG_RUNTIME_DIR
# a listener that asks every request for credentials and logs whether it got any
cat >"$T/trap.py" <<'PY'
import http.server, sys
port, log, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        with open(log, "a") as f:
            got = "yes" if self.headers.get("Authorization") else "no"
            f.write(f"{self.command} {self.path.split('?')[0]} auth={got}\n")
        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        self.send_response(401)
        if mode == "basic":
            self.send_header("WWW-Authenticate", 'Basic realm="trap"')
        elif not self.path.startswith("/token"):
            self.send_header("WWW-Authenticate",
                             f'Bearer realm="http://127.0.0.1:{port}/token",service="trap"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = answer
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
trap_start() {
	TRAP_PORT=$(free_port)
	TRAP_LOG=$T/trap-$1.log
	: >"$TRAP_LOG"
	python3 "$T/trap.py" "$TRAP_PORT" "$TRAP_LOG" "$1" >"$T/trap-$1.err" 2>&1 &
	_tp=$!
	sk_on_exit "kill $_tp 2>/dev/null"
	reg_wait_port "$TRAP_PORT" "$_tp" "$T/trap-$1.err" "trap listener ($1)"
}
auth_entry() { printf '"%s":{"auth":"%s"}' "$1" "$(printf '%s' "$2" | base64)"; }
REFUSED='asks for credentials over plain HTTP; refusing to send them'

trap_start basic
B=127.0.0.1:$TRAP_PORT
trap_start bearer
BT=127.0.0.1:$TRAP_PORT
htpasswd -Bbn alice 'correct horse' >"$T/htpasswd" 2>/dev/null || reg_fatal htpasswd "htpasswd failed"
reg_start plainauth htpasswd "$T/htpasswd"
A=127.0.0.1:$REG_PORT
printf '{"auths":{%s,%s,%s}}' "$(auth_entry "$B" 'alice:trap secret')" \
	"$(auth_entry "$BT" 'alice:trap secret')" "$(auth_entry "$A" 'alice:correct horse')" >"$T/creds.json"
export REGISTRY_AUTH_FILE="$T/creds.json"

check_fails "plain HTTP Basic challenge: pull refuses to send the credentials" \
	"registry at http://$B $REFUSED" "$SKRUN" pull --insecure-skip-verify "$B/t/s:v1" --store "$T/p0"
check_eq "... and no Authorization header reached the listener" "$(grep -c auth=yes "$T/trap-basic.log")" 0
check "... which did ask (it logged the requests)" grep -q 'GET /v2/t/s/manifests/v1 auth=no' "$T/trap-basic.log"
check_fails "plain HTTP Bearer challenge: the credentials do not go to the plain-HTTP token server" \
	"token server at http://$BT/token $REFUSED" "$SKBUILD" push "$T/lay:v1" "$BT/t/s:v1"
check "... it was asked anonymously" grep -q 'GET /token auth=no' "$T/trap-bearer.log"
check_eq "... and never with credentials" "$(grep -c 'auth=yes' "$T/trap-bearer.log")" 0
check_fails "--authfile names the file, not the transport: still refused" "$REFUSED" \
	"$SKRUN" pull --insecure-skip-verify "$B/t/s:v1" --store "$T/p0" --authfile "$T/creds.json"
check_eq "... still no Authorization header" "$(grep -c 'auth=yes' "$T/trap-basic.log")" 0
# naming the host insecure is the opt-in: the same listener then sees the credentials
check_fails "with --insecure the credentials go (the listener refuses them)" 'rejected the credentials' \
	"$SKRUN" pull --insecure-skip-verify "$B/t/s:v1" --store "$T/p0" --insecure
check "... and the listener saw an Authorization header" grep -q 'GET /v2/t/s/manifests/v1 auth=yes' "$T/trap-basic.log"
check_fails "with --insecure the token server gets them too" 'token server at .* rejected the credentials' \
	"$SKBUILD" push "$T/lay:v1" "$BT/t/s:v1" --insecure
check "... and saw an Authorization header" grep -q 'GET /token auth=yes' "$T/trap-bearer.log"

# a real registry with htpasswd over plain HTTP on loopback
check_fails "htpasswd over plain HTTP: push refused without --insecure" "registry at http://$A $REFUSED" \
	"$SKBUILD" push "$T/lay:v1" "$A/t/s:v1"
cp "$T/out" "$T/refusal"
check "... the message says how to allow it" grep -q -- "--insecure-registry $A" "$T/refusal"
check_fails "htpasswd over plain HTTP: pull refused without --insecure" "$REFUSED" \
	"$SKRUN" pull --insecure-skip-verify "$A/t/s:v1" --store "$T/p1"
check_fails "login over plain HTTP refused without --insecure" "$REFUSED" \
	sh -c "printf 'correct horse\n' | '$SKBUILD' login $A -u alice --password-stdin"
check "... nothing stored" test ! -e "$HOME/.docker/config.json"
check "htpasswd over plain HTTP: push with --insecure" "$SKBUILD" push "$T/lay:v1" "$A/t/s:v1" --insecure
check_eq "... pushed digest" "$(cat "$T/out")" "$TOP"
check "htpasswd over plain HTTP: pull with --insecure" "$SKRUN" pull --insecure-skip-verify "$A/t/s:v1" \
	--store "$T/p2" --insecure --platform linux/amd64
check "... byte-identical" same_blobs "$T/p2" "$T/lay" "$TOP" "$amd" $amd_blobs
check "login over plain HTTP with --insecure" \
	sh -c "printf 'correct horse\n' | '$SKBUILD' login $A -u alice --password-stdin --insecure"
unset REGISTRY_AUTH_FILE
