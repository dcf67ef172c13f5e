#!/bin/sh
# `make lint`: static checks that must all be clean.
#  1. cppcheck (warning, performance, portability) over lib/, builder/, runner/;
#     known false positives in tests/cppcheck-suppressions.txt, each explained.
#  2. clang-tidy with the repository's .clang-tidy over the same sources,
#     compiled with the Makefile's own CFLAGS.
#  3. clang-format --dry-run --Werror over the C sources and headers of lib/,
#     builder/, runner/, tests/unit/ and tests/fuzz/.
# Prints every finding and one summary line per tool; exits 1 if any failed.
#   LINT_ONLY="cppcheck tidy format" selects tools; LINT_JOBS=N parallel tidy runs.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
ONLY=${LINT_ONLY:-cppcheck tidy format}
JOBS=${LINT_JOBS:-$(nproc)}
# The same LLVM as the compiler (clang-16); older clang-tidy reports differ.
CLANG_TIDY=${CLANG_TIDY:-clang-tidy-16}
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
LOGDIR=${LINT_LOGS:-$ROOT/build/lint}
W=$(mktemp -d /tmp/sklint.XXXXXX)
trap 'rm -rf "$W"' EXIT
failed=""

SRCS=$(find lib builder runner -name '*.c' | sort)
FORMAT_FILES=$(find lib builder runner tests/unit tests/fuzz -name '*.[ch]' | sort)

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "lint: $1 is not installed (run: make deps)"
	failed="$failed $2"
	return 1
}

want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---- cppcheck ----
if want cppcheck && need cppcheck cppcheck; then
	# cppcheck does not read system headers; libbpf's option macro must be
	# spelled out or every file using it is "unknown macro".
	printf '#define LIBBPF_OPTS(TYPE, NAME, ...) struct TYPE NAME = {.sz = sizeof(struct TYPE), __VA_ARGS__}\n' >"$W/cppcheck-defs.h"
	# shellcheck disable=SC2086
	if cppcheck --std=c11 --quiet --error-exitcode=1 -j"$JOBS" \
		--enable=warning,performance,portability --inline-suppr \
		--suppress=missingIncludeSystem \
		--suppressions-list=tests/cppcheck-suppressions.txt \
		--library=posix -D_GNU_SOURCE -Ilib/include -Ilib --include="$W/cppcheck-defs.h" \
		--template='{file}:{line}: {severity}: {message} [{id}]' $SRCS >"$W/cppcheck.out" 2>&1; then
		echo "lint: cppcheck clean ($(echo "$SRCS" | wc -l) files)"
	else
		cat "$W/cppcheck.out"
		echo "lint: cppcheck found problems"
		failed="$failed cppcheck"
	fi
fi

# ---- clang-tidy ----
if want tidy && need "$CLANG_TIDY" clang-tidy; then
	# The flags the Makefile compiles lib/ with (plus the -Ilib it adds for objects).
	cflags=$(make -s --no-print-directory --eval 'lint-print-cflags: ; @echo $(CFLAGS)' lint-print-cflags)
	# clang does not know some gcc warning options the Makefile passes.
	python3 - "$W/compile_commands.json" "$ROOT" "$cflags -Ilib -Wno-unknown-warning-option" $SRCS <<'PY'
import json, sys
out, root, flags, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
args = flags.split()  # as the shell passed them: the quotes of -DX=\"..\" stay
json.dump([{"directory": root, "file": f, "arguments": ["clang", *args, "-c", f]}
           for f in files], open(out, "w"))
PY
	: >"$W/tidy.out"
	# A file clang-tidy found clean is not analysed again while its whole
	# translation unit (the preprocessed source with its comments, every
	# header in it), the
	# flags, .clang-tidy and clang-tidy itself are byte for byte the same:
	# the key is their SHA-256. Only clean results are kept, so a finding is
	# always reported afresh. LINT_TIDY_CACHE= (empty) turns it off.
	TIDY_CACHE=${LINT_TIDY_CACHE-${SCHEDKIT_CACHE_ROOT:-/var/cache/schedkit}/lint-tidy}
	if [ -n "$TIDY_CACHE" ] && ! mkdir -p "$TIDY_CACHE" 2>/dev/null; then TIDY_CACHE=""; fi
	salt=$({ "$CLANG_TIDY" --version; cat .clang-tidy; echo "$cflags"; } | sha256sum | cut -c1-64)
	# shellcheck disable=SC2016,SC2086
	if printf '%s\n' $SRCS | xargs -P "$JOBS" -I{} sh -c '
		out="$2/$(echo "$3" | tr / _).tidy"
		key=""
		# -C: comments stay, NOLINT ones among them
		if [ -n "$4" ] && tu=$(clang-16 -E -C $6 "$3" 2>/dev/null); then
			key=$(printf "%s\n%s\n%s\n" "$5" "$3" "$tu" | sha256sum | cut -c1-64)
			if [ -f "$4/$key" ]; then : >"$out"; exit 0; fi
		fi
		"$1" --quiet -p "$2" "$3" >"$out" 2>&1 || exit 1
		if [ -n "$key" ] && ! grep -qE "^[^ ]+:[0-9]+:[0-9]+: (warning|error):" "$out"; then
			: >"$4/$key"
		fi' _ "$CLANG_TIDY" "$W" {} "$TIDY_CACHE" "$salt" "$cflags -Ilib -Wno-unknown-warning-option"; then
		tidy_rc=0
	else
		tidy_rc=1
	fi
	cat "$W"/*.tidy >"$W/tidy.out" 2>/dev/null
	# clang-tidy counts suppressed warnings in a trailer even when clean.
	findings=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$W/tidy.out" | sort -u)
	if [ $tidy_rc = 0 ] && [ -z "$findings" ]; then
		echo "lint: clang-tidy clean ($(echo "$SRCS" | wc -l) files)"
	else
		mkdir -p "$LOGDIR"
		grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated|^Suppressed [0-9]+ warnings|^Use -header-filter|^Use -system-headers' "$W/tidy.out" >"$LOGDIR/clang-tidy.log"
		echo "$findings"
		echo "lint: clang-tidy found $(echo "$findings" | grep -c .) problem(s); the analyzer's paths are in $LOGDIR/clang-tidy.log"
		failed="$failed clang-tidy"
	fi
fi

# ---- clang-format ----
if want format && need "$CLANG_FORMAT" clang-format; then
	bad=""
	for f in $FORMAT_FILES; do
		"$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
	done
	if [ -z "$bad" ]; then
		echo "lint: clang-format clean ($(echo "$FORMAT_FILES" | wc -l) files)"
	else
		for f in $bad; do echo "$f: not formatted (run: clang-format -i $f)"; done
		echo "lint: clang-format found $(echo $bad | wc -w) unformatted file(s)"
		failed="$failed clang-format"
	fi
fi

if [ -n "$failed" ]; then
	echo "lint: FAILED:$failed"
	exit 1
fi
echo "lint: all clean"
