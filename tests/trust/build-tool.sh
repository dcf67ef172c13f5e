# Sourced by tests/host/trust_*.sh after tests/lib.sh: builds the test-only
# trust_tool (tests/trust/trust_tool.c) against libschedkit.a into $T.
TRUST_TOOL=$T/trust_tool
sk_build_trust_tool() {
	if [ ! -f "$SK_BUILD/libschedkit.a" ]; then
		fail "build trust_tool" "$SK_BUILD/libschedkit.a is missing (run make first)"
		exit 1
	fi
	# A sanitized library (build-asan) needs the sanitizer runtimes linked in too.
	_san=""
	if nm "$SK_BUILD/libschedkit.a" 2>/dev/null | grep -q __asan_init; then
		_san="-fsanitize=address,undefined"
	fi
	# shellcheck disable=SC2046
	if ! gcc $_san -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$SK_ROOT/lib/include" \
		$(pkg-config --cflags json-c openssl) -o "$TRUST_TOOL" \
		"$SK_ROOT/tests/trust/trust_tool.c" "$SK_BUILD/libschedkit.a" \
		$(pkg-config --libs libbpf libarchive libcurl json-c openssl) -lelf -lz \
		>"$T/build.log" 2>&1; then
		fail "build trust_tool" "gcc failed: $(tail -n 5 "$T/build.log")"
		exit 1
	fi
}
