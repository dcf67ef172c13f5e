#!/bin/sh
# docker-registry with Bearer token auth and a token server written for the
# tests: the challenge flow, the scopes asked for, anonymous and wrong
# credentials, cross-repository mount scopes, and tokens expiring mid-push
# (reactively: the registry says 401; proactively: expires_in runs out).
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

export HOME="$T/home"
mkdir -p "$HOME"
unset DOCKER_CONFIG REGISTRY_AUTH_FILE XDG_RUNTIME_DIR

python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
token_start --user alice:s3cret
reg_start tok token "http://127.0.0.1:$TOKEN_PORT/token" sk-registry sk-issuer "$TOKEN_CERT"
R=127.0.0.1:$REG_PORT
LOG=$REG_LOG
printf '{"auths":{"%s":{"auth":"%s"}}}' "$R" "$(printf 'alice:s3cret' | base64)" >"$T/auth.json"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$R" "$(printf 'alice:wrong' | base64)" >"$T/bad.json"
export REGISTRY_AUTH_FILE="$T/auth.json"
# the registry and the token server speak plain HTTP: credentials go only with
# --insecure (anonymous tokens need no flag, see "anonymous pull of public/")

# scopes asked of the token server, as "user scope scope ..." lines
token_scopes() {
	python3 -c '
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l); print(r["user"], r["service"], " ".join(sorted(r["scopes"])), r["status"])' "$TOKEN_LOG"
}

reg_mark "$LOG"
check "push with a Bearer token" "$SKBUILD" push "$T/lay:v1" "$R/t/s:v1" --insecure
check_eq "push: digest" "$(cat "$T/out")" "$TOP"
check_eq "challenge flow: the first request (no anonymous GET /v2/ ping) was answered 401" \
	"$(reg_access "$LOG" | tail -n +$((REG_MARK + 1)) | head -n1 | grep -c '"HEAD /v2/t/s/manifests/v1 HTTP/1.1" 401')" 1
check_eq "challenge flow: no GET /v2/ at all" "$(reg_since "$LOG" '"GET /v2/ ')" 0
check_eq "one token for the whole push" "$(wc -l <"$TOKEN_LOG")" 1
check_eq "token request: user, service and push scope" "$(token_scopes)" "alice sk-registry repository:t/s:pull,push 200"
check_eq "push: only the first request was refused" "$(reg_since "$LOG" '" 401 ')" 1

: >"$TOKEN_LOG"
check "pull with a Bearer token" "$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/st1" --insecure
check_eq "pull asks for pull only" "$(token_scopes)" "alice sk-registry repository:t/s:pull 200"
check "pull: byte-identical" same_blobs "$T/st1" "$T/lay" "$TOP"

check_fails "wrong password: the token server refuses and the message says so" \
	"token server at http://127.0.0.1:$TOKEN_PORT/token rejected the credentials from $T/bad.json" \
	env REGISTRY_AUTH_FILE="$T/bad.json" "$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/st2" --insecure
check "wrong password: not printed" sh -c "! grep -q wrong '$T/out'"
check_fails "anonymous pull of a private repository fails clearly" \
	'authentication required, but no credentials for 127.0.0.1:[0-9]+ were found' \
	env REGISTRY_AUTH_FILE="$T/none.json" "$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/st3" --insecure

check "push to public/" "$SKBUILD" push "$T/lay:v1" "$R/public/s:v1" --insecure
: >"$TOKEN_LOG"
check "anonymous pull of public/ works" env REGISTRY_AUTH_FILE="$T/none.json" "$SKRUN" pull --insecure-skip-verify "$R/public/s:v1" --store "$T/st4"
check_eq "anonymous token request" "$(token_scopes)" "None sk-registry repository:public/s:pull 200"

: >"$TOKEN_LOG"
reg_mark "$LOG"
check "push with --mount-from" "$SKBUILD" push "$T/lay:v1" "$R/t/m:v1" --mount-from t/s --insecure
check_eq "mount: the token covers both repositories" "$(token_scopes)" \
	"alice sk-registry repository:t/m:pull,push repository:t/s:pull 200"
check_eq "mount: blobs mounted, none uploaded" "$(reg_since "$LOG" '"(PUT|PATCH) /v2/t/m/blobs/')" 0

# -- a token that expires mid-push while the client believes it is still good:
#    the registry answers 401, the client fetches a new token and goes on
kill "$TOKEN_PID"
wait "$TOKEN_PID" 2>/dev/null
token_start --user alice:s3cret --ttl 1 --expires-in 300
reg_proxy_start "$REG_PORT"
proxy_rules '[{"match": ".", "action": "delay", "ms": 150}]'
P=127.0.0.1:$PROXY_PORT
printf '{"auths":{"%s":{"auth":"%s"}}}' "$P" "$(printf 'alice:s3cret' | base64)" >"$T/pauth.json"
python3 "$REG_TOOLS/mklayout.py" "$T/lay2" v1 --seed exp --platforms amd64 >"$T/top2"
reg_mark "$LOG"
check "push while the token expires (401 mid-push)" env REGISTRY_AUTH_FILE="$T/pauth.json" \
	"$SKBUILD" push "$T/lay2:v1" "$P/t/exp:v1" --insecure
check_eq "expiry: pushed digest" "$(cat "$T/out")" "$(cat "$T/top2")"
n401=$(reg_access "$LOG" | tail -n +$((REG_MARK + 1)) | grep -v '"GET /v2/ ' | grep -c '" 401 ')
check "expiry: the registry refused an expired token mid-push ($n401 times)" test "$n401" -ge 1
ntok=$(wc -l <"$TOKEN_LOG")
check "expiry: a new token was fetched ($ntok tokens)" test "$ntok" -ge 2
check "expiry: the pushed artifact pulls back" env REGISTRY_AUTH_FILE="$T/pauth.json" "$SKRUN" pull --insecure-skip-verify "$P/t/exp:v1" --store "$T/st5" --insecure

# -- honest short expires_in: the client renews before the registry refuses
#    (the registry truncates exp to whole seconds, so the token lives 1-2 s)
kill "$TOKEN_PID"
wait "$TOKEN_PID" 2>/dev/null
token_start --user alice:s3cret --ttl 2 --expires-in 1
python3 "$REG_TOOLS/mklayout.py" "$T/lay3" v1 --seed renew --platforms amd64 >"$T/top3"
reg_mark "$LOG"
check "push with 1 s tokens renewed ahead of expiry" env REGISTRY_AUTH_FILE="$T/pauth.json" \
	"$SKBUILD" push "$T/lay3:v1" "$P/t/renew:v1" --insecure
ntok=$(wc -l <"$TOKEN_LOG")
check "renewal: several tokens were fetched ($ntok)" test "$ntok" -ge 2
check_eq "renewal: no request refused after the first challenge" "$(reg_since "$LOG" '" 401 ')" 1
