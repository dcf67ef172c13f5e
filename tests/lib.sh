# Shared helpers for the shell tests. Source it; every check prints one
# "PASS: name" or "FAIL: name: why" line that tests/run.sh counts.
SK_ROOT=${SK_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SK_BUILD=${SK_BUILD:-$SK_ROOT/build}
SKBUILD=${SKBUILD:-$SK_BUILD/skbuild}
SKRUN=${SKRUN:-$SK_BUILD/skrun}
SK_TOOLS=${SCHEDKIT_TOOLS:-/var/cache/schedkit/tools}/bin
SK_KERNEL=${SCHEDKIT_KERNEL_CACHE:-/var/cache/schedkit/kernel}
PATH=$SK_TOOLS:$PATH
export PATH SK_ROOT SK_BUILD SKBUILD SKRUN

T=$(mktemp -d /tmp/sktest.XXXXXX)
_sk_cleanup_hooks=""
sk_on_exit() { _sk_cleanup_hooks="$1; $_sk_cleanup_hooks"; }
trap 'eval "$_sk_cleanup_hooks"; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; }

# check NAME CMD...: passes when CMD exits 0; its output goes to $T/out.
check() {
	_n=$1
	shift
	if "$@" >"$T/out" 2>&1; then pass "$_n"; else
		fail "$_n" "command failed: $*"
		sed 's/^/    | /' "$T/out" | tail -n 30
	fi
}

# check_fails NAME PATTERN CMD...: passes when CMD exits non-zero and its
# output matches the grep -E PATTERN (the message a user would see).
check_fails() {
	_n=$1
	_p=$2
	shift 2
	if "$@" >"$T/out" 2>&1; then
		fail "$_n" "expected failure but it succeeded: $*"
		sed 's/^/    | /' "$T/out" | tail -n 30
	elif grep -Eq -- "$_p" "$T/out"; then pass "$_n"; else
		fail "$_n" "failed, but output does not match /$_p/"
		sed 's/^/    | /' "$T/out" | tail -n 30
	fi
}

# Prints a free TCP port on loopback.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
