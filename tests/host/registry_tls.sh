#!/bin/sh
# docker-registry over TLS with a test CA, and TLS + htpasswd Basic auth:
# certificate verification, --ca-cert, --insecure, login/logout, credentials
# from config.json, REGISTRY_AUTH_FILE and credential helpers, and the
# messages for missing and wrong credentials.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

# credentials only from what this test writes
export HOME="$T/home"
mkdir -p "$HOME"
unset DOCKER_CONFIG REGISTRY_AUTH_FILE XDG_RUNTIME_DIR

reg_certs "$T/certs"
python3 "$REG_TOOLS/mklayout.py" "$T/lay" v1 >"$T/top" || reg_fatal setup "mklayout failed"
TOP=$(cat "$T/top")
ALL=$(pulled_digests "$T/lay" "$TOP")

# -- TLS, no auth
reg_start tls tls
R=127.0.0.1:$REG_PORT
check_fails "TLS: an unknown CA is refused, even on loopback" 'certificate|SSL|verif' \
	"$SKBUILD" push "$T/lay:v1" "$R/t/s:v1"
cp "$T/out" "$T/tlsmsg"
check "TLS: ... and the message says how to fix it" grep -q -- '--ca-cert' "$T/tlsmsg"
check "TLS: push with --ca-cert" "$SKBUILD" push "$T/lay:v1" "$R/t/s:v1" --ca-cert "$T/certs/ca.crt"
check_eq "TLS: pushed digest" "$(cat "$T/out")" "$TOP"
check "TLS: pull with --ca-cert (both platforms)" sh -c "'$SKRUN' pull --insecure-skip-verify '$R/t/s:v1' --store '$T/s1' --ca-cert '$T/certs/ca.crt' --platform linux/amd64 && '$SKRUN' pull --insecure-skip-verify '$R/t/s:v1' --store '$T/s1' --ca-cert '$T/certs/ca.crt' --platform linux/arm64"
check "TLS: round trip byte-identical" same_blobs "$T/s1" "$T/lay" $ALL
check "TLS: --insecure skips verification" "$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/s2" --insecure
check_fails "TLS: a CA that did not sign the certificate" 'certificate|SSL|verif' \
	"$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/s3" --ca-cert "$T/certs/server.crt.missing"
reg_stop tls

# -- TLS + htpasswd Basic auth
htpasswd -Bbn alice 'correct horse' >"$T/htpasswd" 2>/dev/null || reg_fatal htpasswd "htpasswd failed"
reg_start basic tls htpasswd "$T/htpasswd"
R=127.0.0.1:$REG_PORT
CA="--ca-cert $T/certs/ca.crt"
check_fails "basic: push without credentials says so" 'authentication required, but no credentials for 127.0.0.1:[0-9]+ were found.*skbuild login' \
	"$SKBUILD" push "$T/lay:v1" "$R/t/s:v1" $CA
check_fails "basic: pull without credentials says so" 'no credentials .* were found' \
	"$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/b0" $CA
check_fails "basic: login with a wrong password is refused" 'rejected the credentials' \
	sh -c "echo wrong | '$SKBUILD' login $R -u alice --password-stdin $CA"
check "basic: nothing stored after a failed login" test ! -e "$HOME/.docker/config.json"
check_fails "login refuses a password on the command line" 'password-stdin' "$SKBUILD" login "$R" -u alice
check "basic: login" sh -c "printf 'correct horse\n' | '$SKBUILD' login $R -u alice --password-stdin $CA"
cp "$T/out" "$T/loginout"
check "login output has no password" sh -c "! grep -q 'correct horse' '$T/loginout'"
check_eq "config.json is 0600" "$(stat -c %a "$HOME/.docker/config.json")" 600
check "config.json holds a Docker-style auths entry" python3 -c "
import json,base64,sys
a=json.load(open('$HOME/.docker/config.json'))['auths']['$R']['auth']
sys.exit(base64.b64decode(a)!=b'alice:correct horse')"
check "basic: push with stored credentials" "$SKBUILD" push "$T/lay:v1" "$R/t/s:v1" $CA -v
cp "$T/out" "$T/pushout"
check "basic: verbose log has no secret" sh -c "! grep -qi 'correct horse\|YWxpY2' '$T/pushout'"
check "basic: pull with stored credentials" "$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/b1" $CA --platform linux/amd64
check "basic: pull of arm64 too" "$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/b1" $CA --platform linux/arm64
check "basic: round trip byte-identical" same_blobs "$T/b1" "$T/lay" $ALL

# a wrong stored password: the failure names the file, never the secret
mkdir -p "$T/bad"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$R" "$(printf 'alice:hunter2' | base64)" >"$T/bad/auth.json"
check_fails "basic: wrong stored password names its source" "rejected the credentials from $T/bad/auth.json" \
	env REGISTRY_AUTH_FILE="$T/bad/auth.json" "$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/b2" $CA
cp "$T/out" "$T/badout"
check "... and does not print it" sh -c "! grep -q hunter2 '$T/badout'"
check_fails "--authfile is the only file read" "rejected the credentials from $T/bad/auth.json" \
	"$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/b2" $CA --authfile "$T/bad/auth.json"

# REGISTRY_AUTH_FILE and a credential helper
printf '{"auths":{"%s":{"auth":"%s"}}}' "$R" "$(printf 'alice:correct horse' | base64)" >"$T/regauth.json"
check "REGISTRY_AUTH_FILE credentials" env REGISTRY_AUTH_FILE="$T/regauth.json" HOME="$T/nohome" \
	"$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/b3" $CA
# as root, a file the environment names is read only when root owns it
if [ "$(id -u)" = 0 ]; then
	cp "$T/regauth.json" "$T/theirs.json"
	chown 65534:65534 "$T/theirs.json"
	check_fails "as root: REGISTRY_AUTH_FILE owned by another user is skipped, and the message says so" \
		"no credentials .* were found \\(looked in: $T/theirs.json \\(skipped: owned by uid 65534" \
		env REGISTRY_AUTH_FILE="$T/theirs.json" HOME="$T/nohome" \
		"$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/b3" $CA
	check "... the same file named with --authfile is read" env HOME="$T/nohome" \
		"$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/b3b" $CA --authfile "$T/theirs.json"
else
	fail "as root: auth files of other users" "this check needs root (it chowns a file)"
fi
mkdir -p "$T/bin" "$T/helperhome/.docker"
cat >"$T/bin/docker-credential-sktest" <<'SH'
#!/bin/sh
read -r server
echo "$server" >>"$(dirname "$0")/asked"
printf '{"ServerURL":"%s","Username":"alice","Secret":"correct horse"}\n' "$server"
SH
chmod +x "$T/bin/docker-credential-sktest"
echo '{"credsStore":"sktest"}' >"$T/helperhome/.docker/config.json"
check "credential helper (credsStore)" env HOME="$T/helperhome" PATH="$T/bin:$PATH" \
	"$SKRUN" pull --insecure-skip-verify "$R/t/s:v1" --store "$T/b4" $CA
check_eq "the helper was asked for this registry" "$(cat "$T/bin/asked")" "$R"

check "logout" "$SKBUILD" logout "$R"
check_fails "after logout, pushes fail for lack of credentials" 'no credentials' \
	"$SKBUILD" push "$T/lay:v1" "$R/t/s:v2" $CA
check "logout again is harmless" "$SKBUILD" logout "$R"
check "login --help" "$SKBUILD" login --help
check_fails "login to something that is not a host" 'not a registry host' \
	sh -c "echo x | '$SKBUILD' login 'not a host' -u a --password-stdin"
