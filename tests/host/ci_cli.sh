#!/bin/sh
# What a CI pipeline relies on, against a loopback registry with htpasswd:
# --version; -q prints the digest exactly once (also with --push); keys from
# env://VAR and from standard input; credentials from --username with
# --password-stdin and from SCHEDKIT_REGISTRY_USERNAME/PASSWORD; signing is
# idempotent (a re-sign adds nothing, --force adds one); the documented exit
# statuses (usage 2, refused 3, not found 4, network 5, kernel 6); the same
# registry flags (--insecure, --insecure-registry HOST) on every command that
# talks to a registry; the message for an unsigned local build.
. "$(dirname "$0")/../lib.sh"
. "$SK_ROOT/tests/registry/lib.sh"

cd "$T" || exit 1
ver=$(sed -n 's/^#define SK_VERSION "\(.*\)"/\1/p' "$SK_ROOT/lib/include/schedkit/cli.h")
check_eq "skbuild --version" "$("$SKBUILD" --version)" "skbuild $ver"
check_eq "skrun --version" "$("$SKRUN" --version)" "skrun $ver"

htpasswd -Bbn ci 'pipe secret' >"$T/htpasswd" 2>/dev/null || { fail htpasswd "htpasswd failed"; exit 1; }
reg_start ci htpasswd "$T/htpasswd"
R=127.0.0.1:$REG_PORT
unset SCHEDKIT_REGISTRY_USERNAME SCHEDKIT_REGISTRY_PASSWORD REGISTRY_AUTH_FILE
export HOME="$T/home" DOCKER_CONFIG="$T/nodocker"
mkdir -p "$HOME"
SKBUILD_KEY_PASSWORD='' "$SKBUILD" key generate -o "$T/ci" >/dev/null 2>&1 || fail "key" "generate failed"
SKBUILD_KEY_PASSWORD='' "$SKBUILD" key generate -o "$T/other" >/dev/null 2>&1 || fail "key" "generate failed"
BTF="$SK_KERNEL/vmlinux"

# -q: one line, the digest, with or without --push
"$SKBUILD" build "$SK_ROOT/scheds/fifo" --btf "$BTF" -o "$T/fifo.oci" -q >"$T/q1" 2>"$T/q1.err"
check_eq "build -q prints one line, the digest" "$(wc -l <"$T/q1") $(grep -c '^sha256:[0-9a-f]\{64\}$' "$T/q1")" "1 1"
D=$(cat "$T/q1")
# credentials: --username with the password on standard input
printf 'pipe secret\n' | "$SKBUILD" build "$SK_ROOT/scheds/fifo" --btf "$BTF" -o "$T/fifo2.oci" -q \
	--push "$R/ci/fifo:1" --insecure --username ci --password-stdin >"$T/q2" 2>"$T/q2.err"
check_eq "build -q --push (--username/--password-stdin) prints the digest exactly once" "$(cat "$T/q2")" "$D"
check_fails "--username without --password-stdin is refused" "go together" \
	"$SKBUILD" push "$T/fifo.oci:1.0.0" "$R/ci/fifo:2" --insecure --username ci
check_fails "no credentials: the registry's refusal is reported" "credentials|401|unauthorized" \
	"$SKBUILD" push "$T/fifo.oci:1.0.0" "$R/ci/fifo:3" --insecure
# credentials from the environment; the key from an environment variable
export SCHEDKIT_REGISTRY_USERNAME=ci SCHEDKIT_REGISTRY_PASSWORD='pipe secret'
CI_KEY=$(cat "$T/ci.key") SKBUILD_KEY_PASSWORD='' "$SKBUILD" push "$T/fifo.oci:1.0.0" "$R/ci/fifo:env" \
	--insecure --sign env://CI_KEY >"$T/p1" 2>"$T/p1.err"
check_eq "push --sign env://CI_KEY with SCHEDKIT_REGISTRY_* credentials" "$(cat "$T/p1")" "$D"
check "... verifies with the key's public half" "$SKRUN" verify --key "$T/ci.pub" --insecure "$R/ci/fifo:env"
check_fails "env://UNSET names the variable" "CI_NOPE is not set" \
	"$SKBUILD" sign --key env://CI_NOPE --insecure "$R/ci/fifo:env"
# idempotent signing, --force, and a key from standard input
SKBUILD_KEY_PASSWORD='' "$SKBUILD" sign --key - --insecure "$R/ci/fifo:env" <"$T/ci.key" >"$T/s1" 2>&1
check "re-signing with the same key (read from stdin): already signed, nothing added" \
	grep -q "^already signed $D" "$T/s1"
"$SKRUN" verify --key "$T/ci.pub" --insecure --json "$R/ci/fifo:env" >"$T/v1.json" 2>&1
check_eq "... still one signature" "$(/usr/bin/python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["signatures"])' "$T/v1.json" 2>&1)" 1
SKBUILD_KEY_PASSWORD='' "$SKBUILD" sign --key "$T/ci.key" --insecure -a ci=rerun "$R/ci/fifo:env" >"$T/s2" 2>&1
check "other annotations: a new signature" grep -q "^signed $D" "$T/s2"
SKBUILD_KEY_PASSWORD='' "$SKBUILD" sign --key "$T/ci.key" --insecure --force "$R/ci/fifo:env" >"$T/s3" 2>&1
check "--force: signed again" grep -q "^signed $D" "$T/s3"
"$SKRUN" verify --key "$T/ci.pub" --insecure --json "$R/ci/fifo:env" >"$T/v2.json" 2>&1
check_eq "... three signatures now" "$(/usr/bin/python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["signatures"])' "$T/v2.json" 2>&1)" 3

# exit statuses
expect_rc() { # NAME WANT PATTERN CMD...
	_n=$1 _w=$2 _p=$3
	shift 3
	"$@" >"$T/rc.out" 2>&1
	_r=$?
	if [ "$_r" = "$_w" ] && grep -Eq -- "$_p" "$T/rc.out"; then pass "$_n"; else
		fail "$_n" "exit $_r (want $_w), output: $(head -c 300 "$T/rc.out")"
	fi
}
expect_rc "usage error: exit 2" 2 "usage: skbuild push" "$SKBUILD" push only-one-arg
expect_rc "verification refused: exit 3" 3 "not trusted|no signature|does not verify" \
	"$SKRUN" verify --key "$T/other.pub" --insecure "$R/ci/fifo:env"
expect_rc "tag not found: exit 4" 4 "not found|404|MANIFEST_UNKNOWN|no such" \
	"$SKRUN" verify --key "$T/ci.pub" --insecure "$R/ci/fifo:nosuchtag"
expect_rc "key file not found: exit 4" 4 "nokey.pem" \
	"$SKBUILD" sign --key "$T/nokey.pem" --insecure "$R/ci/fifo:env"
dead=$(free_port)
expect_rc "nothing listening: exit 5 (network)" 5 "127.0.0.1:$dead" \
	"$SKRUN" verify --key "$T/ci.pub" --insecure "127.0.0.1:$dead/ci/fifo:1"
"$SKBUILD" build "$SK_ROOT/tests/scheds/needs_kfunc.bpf.c" --btf "$BTF" -o "$T/needs.oci" -q >/dev/null 2>&1
expect_rc "this kernel cannot run it: exit 6" 6 "cannot run on this kernel" \
	"$SKRUN" check "oci:$T/needs.oci" --btf "$BTF"

# every command that talks to a registry takes both spellings of insecure
for flag in "--insecure-registry $R" --insecure; do
	rm -f "$T/flags.tar"
	for cmd in "$SKBUILD push $T/fifo.oci:1.0.0 $R/ci/flags:1" \
		"$SKBUILD sign --key $T/ci.key $R/ci/flags:1" \
		"$SKBUILD inspect $R/ci/flags:1" \
		"$SKBUILD save $R/ci/flags:1 -o $T/flags.tar" \
		"$SKRUN pull --insecure-skip-verify --store $T/st $R/ci/flags:1" \
		"$SKRUN verify --key $T/ci.pub $R/ci/flags:1"; do
		name=$(echo "$cmd" | awk '{print $1" "$2}' | sed "s|$SK_BUILD/||")
		# shellcheck disable=SC2086
		check "$name ${flag%% *}" $cmd $flag
	done
done
for t in "$SKBUILD build" "$SKBUILD push" "$SKBUILD sign" "$SKBUILD inspect" "$SKBUILD save" \
	"$SKBUILD login" "$SKRUN pull" "$SKRUN verify" "$SKRUN run"; do
	# shellcheck disable=SC2086
	$t --list-options >"$T/opts"
	missing=""
	for o in --insecure --insecure-registry= --ca-cert= --authfile= --username= --password-stdin; do
		grep -qx -- "$o" "$T/opts" || missing="$missing ${o%=}"
	done
	check_eq "$(basename "${t%% *}") ${t##* } takes every registry option" "$missing" ""
done

# a local build nobody signed
check_fails "pull of an unsigned local build says so and names both ways forward" \
	"is an unsigned local build.*skbuild sign --key KEY --identity HOST/REPO oci:$T/fifo.oci:1.0.0.*--insecure-skip-verify" \
	"$SKRUN" pull "oci:$T/fifo.oci:1.0.0" --store "$T/st2" --key "$T/ci.pub" --identity "$R/ci/fifo"
expect_rc "... with the refused status, 3" 3 "unsigned local build" \
	"$SKRUN" pull "oci:$T/fifo.oci:1.0.0" --store "$T/st2"
