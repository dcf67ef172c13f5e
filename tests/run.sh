#!/bin/sh
# Runs every test: cmocka unit tests (normal and ASan+UBSan builds), host
# integration scripts (tests/host/*.sh) and VM scenarios (tests/vm/test_*.sh).
# Ends with "N passed, N failed"; exits non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
LOGDIR=${SK_TEST_LOGS:-$ROOT/build/test-logs}
mkdir -p "$LOGDIR"
passed=0
failed=0
failures=""

count_cmocka() { # log name
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n1)
	p=${p:-0}
	f=${f:-0}
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; fi # crashed before its summary
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" = 0 ] || failures="$failures $2"
}

count_script() { # log name rc
	p=$(grep -c '^PASS: ' "$1")
	f=$(grep -c '^FAIL: ' "$1")
	if [ "$3" != 0 ] && [ "$f" = 0 ]; then f=1; echo "FAIL: $2 exited $3" >>"$1"; fi
	if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; echo "FAIL: $2 ran no check" >>"$1"; fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" = 0 ] || failures="$failures $2"
}

filter=${1:-}
for build in build build-asan; do
	for t in "$ROOT/$build"/tests/test_*; do
		[ -x "$t" ] || continue
		name="$build/$(basename "$t")"
		case "$name" in *"$filter"*) ;; *) continue ;; esac
		log="$LOGDIR/$(echo "$name" | tr / _).log"
		echo "== $name"
		(cd "$ROOT" && timeout -k 10 "${SK_TEST_TIMEOUT:-600}" "$t") >"$log" 2>&1
		cat "$log"
		count_cmocka "$log" "$name"
	done
done

run_script() { # SCRIPT BUILD LABEL
	log="$LOGDIR/$(echo "$3" | tr '/ ' '__').log"
	echo "== $3"
	# A hung test must fail, not stall CI: each script has a time limit.
	start=$(date +%s)
	limit=${SK_TEST_TIMEOUT:-600}
	# building the container images from a fresh base (apt inside) takes longer
	case $1 in *container.sh) limit=${SK_TEST_TIMEOUT_CONTAINER:-1500} ;; esac
	SK_ROOT=$ROOT SK_BUILD=$ROOT/$2 timeout -k 10 "$limit" sh "$1" >"$log" 2>&1
	rc=$?
	if [ $rc = 124 ] && [ $(($(date +%s) - start)) -ge "$limit" ]; then
		echo "FAIL: $1 timed out after $limit s" >>"$log"
	fi
	count_script "$log" "$3" "$rc"
	cat "$log"
}

# The static checks (tests/host/lint.sh: cppcheck, clang-tidy, clang-format)
# need no binary and no VM: they run on one core beside the other scripts
# (whose guests each take one core) and are counted once those are done.
# SK_LINT_INLINE=1 runs them in turn instead.
lint_pid=""
lint_log="$LOGDIR/tests_host_lint.sh.log"
case "tests/host/lint.sh" in *"$filter"*)
	if [ -f tests/host/lint.sh ] && [ -z "${SK_LINT_INLINE:-}" ]; then
		echo "== tests/host/lint.sh (started; it runs beside the others)"
		(
			LINT_JOBS=1 SK_ROOT=$ROOT SK_BUILD=$ROOT/build \
				timeout -k 10 "${SK_TEST_TIMEOUT_LINT:-1500}" sh tests/host/lint.sh >"$lint_log" 2>&1
			echo $? >"$lint_log.rc"
		) &
		lint_pid=$!
	fi
	;;
esac

for t in tests/host/*.sh tests/vm/test_*.sh; do
	[ -f "$t" ] || continue
	case "$t" in *"$filter"*) ;; *) continue ;; esac
	case "$t" in *lint.sh) [ -z "$lint_pid" ] || continue ;; esac
	run_script "$t" build "$t"
done

if [ -n "$lint_pid" ]; then
	echo "== tests/host/lint.sh (waiting for it)"
	wait "$lint_pid"
	rc=$(cat "$lint_log.rc" 2>/dev/null || echo 1)
	[ "$rc" != 124 ] || echo "FAIL: tests/host/lint.sh timed out after ${SK_TEST_TIMEOUT_LINT:-1500} s" >>"$lint_log"
	count_script "$lint_log" "tests/host/lint.sh" "$rc"
	cat "$lint_log"
	rm -f "$lint_log.rc"
fi

# The integration tests again with the ASan+UBSan (LeakSanitizer on) binaries.
# Not repeated: the fuzzers (sanitized already), lint (static), the benchmark
# smoke run (timing), the harness self-test and the upstream examples (the
# loader path they exercise is in test_attach/test_supervise), and the
# footprint check (a sanitizer build links its runtimes), the container
# images (built once), the author's-loop and tour boots (their load/attach
# path is test_attach's), the man page check (static text) and the fleet's
# two guests (the agent runs sanitized in test_supervise).
if [ -x "$ROOT/build-asan/skrun" ] && [ -z "${SK_NO_ASAN_PASS:-}" ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=86}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
	for t in tests/host/*.sh tests/vm/test_*.sh; do
		case "$t" in
		*fuzz.sh | *lint.sh | *bench_smoke.sh | *test_boot.sh | *scx_upstream.sh | *footprint.sh) continue ;;
		# the images are built once per run (their skbuild is built inside);
		# the author's-loop and tour boots exercise what test_attach covers
		*container.sh | *test_vmtest.sh | *test_tour.sh | *man_help.sh) continue ;;
		# four kernel boots; the load/attach path is test_attach's
		*test_matrix.sh) continue ;;
		# two guests at once; the agent's paths run sanitized in test_supervise
		*test_fleet.sh) continue ;;
		esac
		case "asan:$t" in *"$filter"*) ;; *) continue ;; esac
		run_script "$t" build-asan "asan:$t"
	done
fi

[ -z "$failures" ] || echo "failing:$failures"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
