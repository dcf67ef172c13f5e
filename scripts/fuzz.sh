#!/bin/sh
# Builds the libFuzzer harnesses (tests/fuzz/) with ASan+UBSan and runs each for
# SECONDS (default 60), one line per harness. New interesting inputs go to
# build-fuzz/corpus/NAME (merge the useful ones into tests/fuzz/corpus/NAME by
# hand); crashes to build-fuzz/crashes/NAME-*. Exits non-zero on any crash.
#
#   sh scripts/fuzz.sh [SECONDS]     FUZZ_TARGETS="json ref" to run only some
#   FUZZ_JOBS=N                      harnesses run at once (default: CPUs)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
SECONDS_EACH=${1:-60}
B=${FUZZ_BUILD:-build-fuzz}
JOBS=${FUZZ_JOBS:-$(nproc)}

mkdir -p "$B"
if ! make -s -f tests/fuzz/fuzz.mk FUZZ_BUILD="$B" -j"$JOBS" >"$B/build.log" 2>&1; then
	cat "$B/build.log" >&2
	echo "fuzz: building the harnesses failed (needs clang-16 and libclang-rt-16-dev)" >&2
	exit 1
fi
mkdir -p "$B/corpus" "$B/crashes" "$B/logs"
# Harness scratch directories (layouts, extracted archives), on tmpfs since
# every run writes files; removed at the end, also after a crash.
FUZZ_TMPDIR=$(mktemp -d "$( [ -w /dev/shm ] && echo /dev/shm || echo /tmp)/skfuzz-run.XXXXXX")
export FUZZ_TMPDIR
trap 'rm -rf "$FUZZ_TMPDIR"' EXIT
trap 'exit 130' INT TERM

# run_one NAME MAXLEN: fuzzes one harness and prints its summary line.
run_one() {
	name=$1
	log=$B/logs/$name.log
	mkdir -p "$B/corpus/$name"
	# The harnesses read fixtures relative to the repository root; stdin is
	# closed so that a key path naming /dev/stdin cannot block them.
	timeout -k 10 $((SECONDS_EACH + 120)) "$B/fuzz_$name" -max_total_time="$SECONDS_EACH" \
		-max_len="$2" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$B/crashes/$name-" "$B/corpus/$name" "tests/fuzz/corpus/$name" \
		</dev/null >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -E '^#[0-9]+' "$log" | tail -n1 | sed -n 's/.* cov: \([0-9]*\).* corp: \([0-9]*\).*/cov \1, corpus \2/p')
	if [ $rc = 0 ]; then
		printf '%-12s ok     %s runs (%s/s), %s\n' "$name" "${runs:-?}" "${speed:-?}" "${cov:-?}"
	else
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
		what=$(grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz assertion)' "$log" | head -n1)
		printf '%-12s FAILED (exit %s) %s\n' "$name" "$rc" "${crash:-see $log}"
		[ -z "$what" ] || printf '             %s\n' "$what"
	fi
	return $rc
}

failed=0
pids=""
running=0
start=$(date +%s)
grep -v '^#' tests/fuzz/targets | while read -r name maxlen; do
	[ -n "$name" ] || continue
	case " ${FUZZ_TARGETS:-$name} " in *" $name "*) ;; *) continue ;; esac
	echo "$name $maxlen"
done >"$B/plan"
while read -r name maxlen; do
	run_one "$name" "$maxlen" >"$B/logs/$name.line" &
	pids="$pids $!:$name"
	running=$((running + 1))
	if [ $running -ge "$JOBS" ]; then
		# Waits for the oldest; keeps the output in the targets' order.
		first=${pids# }
		first=${first%% *}
		wait "${first%%:*}" || failed=$((failed + 1))
		cat "$B/logs/${first#*:}.line"
		pids=${pids# }
		pids=${pids#"$first"}
		running=$((running - 1))
	fi
done <"$B/plan"
for p in $pids; do
	wait "${p%%:*}" || failed=$((failed + 1))
	cat "$B/logs/${p#*:}.line"
done
if [ $failed != 0 ]; then
	echo "fuzz: $failed harness(es) failed; logs in $B/logs, inputs in $B/crashes"
	echo "fuzz: reproduce with $B/fuzz_NAME FILE (from $ROOT)"
	exit 1
fi
echo "fuzz: all harnesses ran ${SECONDS_EACH}s without a crash ($(($(date +%s) - start))s in all)"
