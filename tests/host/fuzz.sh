#!/bin/sh
# The libFuzzer harnesses (tests/fuzz/), short version for `make check`:
# builds them with ASan+UBSan, replays every committed corpus file once (the
# crash regressions among them), then fuzzes each harness for a few seconds.
# `make fuzz` (scripts/fuzz.sh) is the long run.
. "$(dirname "$0")/../lib.sh"
cd "$SK_ROOT" || exit 1
B=${FUZZ_BUILD:-$SK_ROOT/build-fuzz}
S=${FUZZ_CHECK_SECONDS:-3}
JOBS=$(nproc)
# Scratch directories of the harnesses (on tmpfs: every run writes files)
# go away at the end, even after a crash.
FUZZ_TMPDIR=$(mktemp -d "$( [ -w /dev/shm ] && echo /dev/shm || echo /tmp)/skfuzz-check.XXXXXX")
export FUZZ_TMPDIR
sk_on_exit "rm -rf '$FUZZ_TMPDIR'"

if ! make -s -f tests/fuzz/fuzz.mk FUZZ_BUILD="$B" -j"$JOBS" >"$T/build.log" 2>&1; then
	fail "fuzz build" "the harnesses do not build (needs clang-16 and libclang-rt-16-dev: make deps)"
	tail -n 30 "$T/build.log" | sed 's/^/    | /'
	exit 1
fi
pass "fuzz build ($(grep -cv '^#' tests/fuzz/targets) harnesses in $B)"

# one NAME MAXLEN: replay, then fuzz; PASS/FAIL lines into $T/NAME.res.
one() {
	name=$1
	bin=$B/fuzz_$name
	res=$T/$name.res
	: >"$res"
	set -- tests/fuzz/corpus/"$name"/*
	if [ ! -f "$1" ]; then
		echo "FAIL: fuzz $name corpus: tests/fuzz/corpus/$name is empty" >>"$res"
	elif "$bin" -timeout=10 -rss_limit_mb=2048 "$@" </dev/null >"$T/$name.replay" 2>&1; then
		n=$(grep -c '^Executed ' "$T/$name.replay")
		if [ "$n" = $# ]; then
			regs=0
			for f in "$@"; do case ${f##*/} in crash-*) regs=$((regs + 1)) ;; esac; done
			echo "PASS: fuzz $name corpus ($n inputs, $regs crash regressions)" >>"$res"
		else
			echo "FAIL: fuzz $name corpus: ran $n of $# inputs" >>"$res"
		fi
	else
		echo "FAIL: fuzz $name corpus: an input crashes the harness" >>"$res"
		grep -E '^(Running:|==[0-9]+==ERROR|SUMMARY|fuzz assertion)' "$T/$name.replay" | tail -n 4 |
			sed 's/^/    | /' >>"$res"
	fi
	mkdir -p "$T/new-$name" "$B/crashes"
	if "$bin" -max_total_time="$S" -max_len="$2" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$B/crashes/$name-" "$T/new-$name" "tests/fuzz/corpus/$name" \
		</dev/null >"$T/$name.fuzz" 2>&1; then
		runs=$(grep -E '^(#[0-9]+|Done [0-9]+ runs)' "$T/$name.fuzz" | tail -n1 | sed -n 's/^Done \([0-9]*\) runs.*/\1/p')
		echo "PASS: fuzz $name ${S}s (${runs:-?} runs, no crash)" >>"$res"
	else
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$T/$name.fuzz" | tail -n1)
		echo "FAIL: fuzz $name ${S}s: crash saved as ${crash:-?} (reproduce: $bin FILE)" >>"$res"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz assertion)' "$T/$name.fuzz" | head -n 3 |
			sed 's/^/    | /' >>"$res"
	fi
}


grep -v '^#' tests/fuzz/targets | while read -r name maxlen; do
	[ -n "$name" ] && echo "$name $maxlen"
done >"$T/plan"
running=0
while read -r name maxlen; do
	one "$name" "$maxlen" &

	running=$((running + 1))
	if [ $running -ge "$JOBS" ]; then
		wait
		running=0
	fi
done <"$T/plan"
wait
while read -r name maxlen; do
	if [ -s "$T/$name.res" ]; then cat "$T/$name.res"; else fail "fuzz $name" "no result (harness killed?)"; fi
done <"$T/plan"
