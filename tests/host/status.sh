#!/bin/sh
# skrun status/stop/switch/run on the build host, which has no sched_ext:
# status reads state.json and the kernel and says when they disagree; the
# control commands fail clearly without a supervisor; run refuses before load.
. "$(dirname "$0")/../lib.sh"

export SKRUN_STATE_DIR=$T/run
mkdir -p "$SKRUN_STATE_DIR"

# status_rc NAME WANT [ARGS]: skrun status exits WANT (4 wins on a kernel
# without sched_ext; tests/host/status_codes.sh covers every code); output in $T/out.
status_rc() {
	_w=$2
	[ -d /sys/kernel/sched_ext ] || _w=4
	"$SKRUN" status ${3:-} >"$T/out" 2>&1
	_rc=$?
	if [ "$_rc" = "$_w" ]; then pass "$1 (exit $_w)"; else fail "$1" "exit $_rc, want $_w: $(cat "$T/out")"; fi
}

status_rc "status with no state" 3
grep -q "skrun:      none" "$T/out" && pass "status says no supervisor" || fail "status says no supervisor" "$(cat "$T/out")"
if [ ! -d /sys/kernel/sched_ext ]; then
	grep -q "no sched_ext in this kernel" "$T/out" && pass "status: kernel without sched_ext" ||
		fail "status: kernel without sched_ext" "$(cat "$T/out")"
fi

sleep 60 &
live=$!
sk_on_exit "kill $live 2>/dev/null"
digest=sha256:$(printf '%064d' 7)
cat >"$SKRUN_STATE_DIR/state.json" <<JSON
{"status":"running","pid":$live,"ref":"reg.example/s/fifo:1","digest":"$digest","name":"fifo","verified":true,"fallback":false,"since":"2026-01-01T00:00:00Z","restarts":2,"lastExit":{"kind":1026,"kindName":"runnable task stall","exitCode":0,"reason":"runnable task stall","message":"watchdog failed to check in for 1.004s","restartRequested":false,"at":"2026-01-01T00:00:00Z"}}
JSON
status_rc "status --json with a live supervisor" 150 --json
if python3 - "$T/out" "$live" <<'PY'; then pass "status --json fields"; else fail "status --json fields" "$(cat "$T/out")"; fi
import json, sys
j = json.load(open(sys.argv[1]))
assert j["status"] == "running", j
assert j["supervisorPid"] == int(sys.argv[2]), j
assert j["skrun"]["digest"].startswith("sha256:"), j
assert j["skrun"]["lastExit"]["kindName"] == "runnable task stall", j
assert "kernel" in j and "state" in j["kernel"], j
PY
status_rc "status (text) with a live supervisor" 150
grep -q "restarts:   2" "$T/out" && grep -q "last exit:  runnable task stall" "$T/out" &&
	pass "status shows restarts and last exit" || fail "status shows restarts and last exit" "$(cat "$T/out")"
grep -q "verdict:    discrepancy: skrun (pid $live) is running but the kernel's state is" "$T/out" &&
	pass "status: discrepancy when the kernel does not run it" || fail "status: discrepancy verdict" "$(cat "$T/out")"
kill $live
wait $live 2>/dev/null
status_rc "status after the supervisor died" 1
grep -q "skrun:      dead" "$T/out" && pass "status notices a dead supervisor" || fail "status notices a dead supervisor" "$(cat "$T/out")"

printf '{"status":' >"$SKRUN_STATE_DIR/state.json"
status_rc "status survives a corrupt state.json" 3

check "stop without a supervisor succeeds (idempotent)" "$SKRUN" stop
grep -q "nothing to stop" "$T/out" && pass "stop says there was nothing to stop" || fail "stop says there was nothing to stop" "$(cat "$T/out")"
check_fails "switch without a supervisor" "no skrun is supervising" "$SKRUN" switch "$T/x.oci:1"
check_fails "status usage error" "usage" "$SKRUN" status --bogus

if [ ! -d /sys/kernel/sched_ext ]; then
	export SKBUILD_BTF=$SK_KERNEL/vmlinux SCHEDKIT_CACHE=$T/cache
	"$SKBUILD" build -q "$SK_ROOT/scheds/fifo" -o "$T/fifo.oci" -t t >/dev/null 2>&1
	check_fails "run refused on a kernel without sched_ext" "not compatible with this kernel.*sched_ext" "$SKRUN" run --insecure-skip-verify "$T/fifo.oci:t"
	[ ! -e "$SKRUN_STATE_DIR/lock" ] && pass "refused run took no lock" || fail "refused run took no lock" "lock exists"
fi
check_fails "run: bad --restart" "on-failure, always or never" "$SKRUN" run --restart sometimes x
check_fails "run: missing layout" "x.oci" "$SKRUN" run --insecure-skip-verify "$T/x.oci:1"
