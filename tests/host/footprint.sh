#!/bin/sh
# The resident skrun is minimal: it links libbpf, libelf, zlib, libcrypto,
# json-c and libc, and nothing that talks to the network or reads archives;
# that code is in the fetch helper, which skrun finds next to itself.
. "$(dirname "$0")/../lib.sh"

[ -x "$SKRUN" ] || {
	fail "skrun built" "$SKRUN is missing (make all)"
	exit 1
}
ldd "$SKRUN" >"$T/ldd" 2>&1 || fail "ldd skrun" "$(cat "$T/ldd")"
n=$(grep -c . "$T/ldd")
echo "skrun: $n shared objects (vdso and loader included):"
sed 's/^/    | /' "$T/ldd"
if [ "$n" -le 8 ]; then pass "skrun maps at most 8 shared objects ($n)"; else
	fail "skrun maps at most 8 shared objects" "$n: $(tr '\n' ' ' <"$T/ldd")"
fi
for lib in libcurl libssl libarchive libgnutls libnghttp2 libxml2; do
	if grep -q "$lib" "$T/ldd"; then fail "skrun does not link $lib" "$(grep "$lib" "$T/ldd")"; else
		pass "skrun does not link $lib"
	fi
done
# and not by the back door: no symbol of theirs is referenced either
if nm -D --undefined-only "$SKRUN" | grep -Eq ' (curl_|archive_read|SSL_)'; then
	fail "skrun references no curl/archive/SSL symbol" "$(nm -D --undefined-only "$SKRUN" | grep -E ' (curl_|archive_read|SSL_)' | head -3)"
else
	pass "skrun references no curl/archive/SSL symbol"
fi

FETCH=$(dirname "$SKRUN")/skrun-fetch
if [ -x "$FETCH" ]; then pass "skrun-fetch is built next to skrun"; else
	fail "skrun-fetch is built next to skrun" "$FETCH is missing"
fi
# the helper refuses to run as root: it is only ever started by skrun, as another user
if [ "$(id -u)" = 0 ]; then
	check_fails "skrun-fetch refuses to run as root" "refusing to run as root" "$FETCH"
fi
