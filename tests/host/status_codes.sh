#!/bin/sh
# skrun status exit codes in each state (systemctl/LSB: 0 running as intended,
# 1 dead, 3 not running, 4 no sched_ext, 150 degraded), against a fake sysfs
# ($SKRUN_SYSFS) and recorded states; what status shows (tunables, mode,
# fallback digest, sched_ext event counters); a failed start recorded without
# touching a live supervisor's record; skrun.json read strictly; skrun mode
# without a supervisor. The real kernel's states are in tests/vm/test_supervise.sh.
. "$(dirname "$0")/../lib.sh"

export SKRUN_STATE_DIR=$T/run SKRUN_SYSFS=$T/sys
mkdir -p "$SKRUN_STATE_DIR" "$T/sys/kernel/sched_ext/root"
D=sha256:$(printf '%064d' 7)
F=sha256:$(printf '%064d' 8)
kernel() { # STATE [OPS]
	echo "$1" >"$T/sys/kernel/sched_ext/state"
	if [ -n "${2:-}" ]; then
		echo "$2" >"$T/sys/kernel/sched_ext/root/ops"
		printf 'SCX_EV_SELECT_CPU_FALLBACK 0\nSCX_EV_DISPATCH_KEEP_LAST 11\nSCX_EV_BYPASS_DURATION 114107227\nSCX_EV_NEW_IN_7_9 3\n' \
			>"$T/sys/kernel/sched_ext/root/events"
	else
		rm -f "$T/sys/kernel/sched_ext/root/ops" "$T/sys/kernel/sched_ext/root/events"
	fi
	echo 4 >"$T/sys/kernel/sched_ext/enable_seq"
	echo 0 >"$T/sys/kernel/sched_ext/nr_rejected"
}
state() { # STATUS PID [FALLBACK-BOOL]
	cat >"$SKRUN_STATE_DIR/state.json" <<JSON
{"status":"$1","pid":$2,"ref":"reg.example/s/fifo:1","digest":"$D","name":"fifo","verified":true,"fallback":${3:-false},"since":"2026-01-01T00:00:00Z","restarts":0,"tunables":{"slice_ns":"1000000","fast_path":"false"},"identity":"reg.example/s/fifo","scheduler":"fifo","mode":"gaming","pull":"missing","fallbackTarget":{"ref":"reg.example/s/vtime:1","digest":"$F"}}
JSON
}
# status_is NAME WANT [--json]: exit status WANT; output in $T/out
status_is() {
	"$SKRUN" status ${3:-} >"$T/out" 2>&1
	_rc=$?
	if [ $_rc = "$2" ]; then pass "$1: exit $2"; else fail "$1" "exit $_rc, want $2: $(cat "$T/out")"; fi
}
has() { if grep -q -- "$2" "$T/out"; then pass "$1"; else fail "$1" "no /$2/ in: $(cat "$T/out")"; fi; }

sleep 300 &
LIVE=$!
sk_on_exit "kill $LIVE 2>/dev/null"
sleep 0 &
DEAD=$!
wait $DEAD

# ---- each state ----
SKRUN_SYSFS=$T/nosys status_is "no sched_ext in this kernel" 4
kernel disabled
status_is "nothing ever started" 3
has "nothing started: says none" "^skrun:      none"
kernel enabled fifo
state running $LIVE
status_is "running as intended" 0
has "running: the verdict" "^verdict:    ok: the kernel runs 'fifo' as skrun attached it"
has "running: tunables in force" "^tunables:   slice_ns=1000000 fast_path=false$"
has "running: the mode" "^mode:       gaming$"
has "running: the fallback's digest" "^fallback:   reg.example/s/vtime:1 ($F)$"
has "running: the identity" "^identity:   reg.example/s/fifo$"
has "running: sched_ext event counters, whatever names the kernel has" "^events:     DISPATCH_KEEP_LAST=11 BYPASS_DURATION=114107227 NEW_IN_7_9=3 (1 more at 0)$"
status_is "running, --json" 0 --json
python3 - "$T/out" "$F" <<'PY' && pass "status --json: events, tunables, fallback, exitStatus" || fail "status --json" "$(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["exitStatus"] == 0 and j["status"] == "running", j
assert j["kernel"]["events"] == {"SCX_EV_SELECT_CPU_FALLBACK": 0, "SCX_EV_DISPATCH_KEEP_LAST": 11,
                                 "SCX_EV_BYPASS_DURATION": 114107227, "SCX_EV_NEW_IN_7_9": 3}, j["kernel"]
assert j["skrun"]["tunables"] == {"slice_ns": "1000000", "fast_path": "false"}, j
assert j["skrun"]["fallbackTarget"]["digest"] == sys.argv[2], j
PY
kernel enabled other
status_is "the kernel runs another scheduler (discrepancy)" 150
has "discrepancy verdict" "discrepancy: the kernel runs 'other', which skrun did not start"
kernel disabled
status_is "skrun runs, the kernel does not" 150
kernel enabled fifo
state fallback $LIVE true
status_is "on the fallback (degraded)" 150
has "fallback: running now" "fallback:   reg.example/s/vtime:1 ($F), running now"
state restarting $LIVE
status_is "restarting (degraded)" 150
kernel disabled
state running $DEAD
status_is "the supervisor died without recording it" 1
has "dead: says dead" "^skrun:      dead"
# ---- a node agent (run --follow): 0 only when its desired state runs committed ----
agent_state() { # STATUS PID READY READINESS
	cat >"$SKRUN_STATE_DIR/state.json" <<JSON
{"status":"$1","pid":$2,"ref":"reg.example/s/fifo:1","digest":"$D","name":"fifo","verified":true,"fallback":false,"since":"2026-01-01T00:00:00Z","restarts":0,"tunables":{},"agent":{"source":{"kind":"file","path":"/p/skrun.json","watching":"/p"},"pollS":0,"healthWindowS":30,"desired":{"valid":true,"ref":"reg.example/s/vtime:1","digest":"$F","set":[],"key":"$D"},"running":{"ref":"reg.example/s/fifo:1","digest":"$D"},"committed":{"ref":"reg.example/s/fifo:1","digest":"$D","identity":"","scheduler":"fifo","mode":"","set":[],"at":"2026-01-01T00:00:00Z"},"pending":null,"bad":[{"digest":"$F","reason":"'vtime' ejected by the kernel: kind=1026 (runnable task stall)","desiredKey":"$D","at":"2026-01-01T00:00:01Z"}],"transitions":[{"at":"2026-01-01T00:00:01Z","event":"rollback","from":"$F","to":"$D","ref":"reg.example/s/fifo:1","reason":"rolled back"}],"ready":$3,"readiness":"$4"}}
JSON
}
kernel enabled fifo
agent_state running $LIVE true "the desired state runs and is committed"
status_is "agent: the desired state runs, committed" 0
has "agent: readiness shown" "^readiness:  the desired state runs and is committed$"
agent_state running $LIVE false "the desired $F does not run: rolled back"
status_is "agent: rolled back, the kernel runs what skrun attached (not ready)" 150
has "agent: the bad digest and why" "^bad:        $F: 'vtime' ejected by the kernel: kind=1026 (runnable task stall)$"
has "agent: the last transition" "^last:       2026-01-01T00:00:01Z rollback: rolled back$"
has "agent: desired and committed" "^committed:  reg.example/s/fifo:1 ($D)$"
status_is "agent: rolled back, --json" 150 --json
python3 - "$T/out" "$F" <<'PY' && pass "status --json: the agent's record as recorded" || fail "status --json: the agent" "$(cat "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
a = j["skrun"]["agent"]
assert j["exitStatus"] == 150 and a["ready"] is False, j
assert a["bad"][0]["digest"] == sys.argv[2] and a["transitions"][-1]["event"] == "rollback", a
PY
kernel disabled
agent_state waiting $LIVE false "nothing committed"
status_is "agent waiting with the kernel's default (not ready)" 150
agent_state waiting $DEAD false "nothing committed"
status_is "agent died while waiting" 1
state stopped 0
status_is "stopped" 3
printf '{"status":' >"$SKRUN_STATE_DIR/state.json"
status_is "a corrupt state.json reads as nothing recorded" 3
status_is "usage" 2 --bogus

# ---- a failed start is recorded, and never overwrites a live supervisor's record ----
state running $DEAD
"$SKRUN" run --insecure-skip-verify "$T/missing.oci:1" >"$T/run.out" 2>&1
status_is "after a failed start: not running" 3
has "after a failed start: failed, not the previous run" "^skrun:      failed$"
has "after a failed start: why" "^error:      .*missing.oci"
has "after a failed start: what" "^artifact:   $T/missing.oci:1"
# a live supervisor holds the lock: a refused second start leaves its record alone
state running $LIVE
python3 -c 'import fcntl, sys, time; f = open(sys.argv[1], "w"); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(300)' \
	"$SKRUN_STATE_DIR/lock" &
HOLDER=$!
sk_on_exit "kill $HOLDER 2>/dev/null"
for _ in $(seq 50); do flock -n "$SKRUN_STATE_DIR/lock" true 2>/dev/null || break; sleep 0.1; done
kernel enabled fifo
"$SKRUN" run --insecure-skip-verify "$T/missing.oci:1" >"$T/run.out" 2>&1
status_is "a live supervisor's record survives a failed start" 0
has "its record, not the failed start's" "^skrun:      running (pid $LIVE)"
kill $HOLDER
wait $HOLDER 2>/dev/null

# ---- skrun.json ----
kernel disabled
cat >"$T/skrun.json" <<'JSON'
{
  "version": 1,
  "scheduler": "vtime",
  "fallback": "fifo",
  "pull": "never",
  "restart": {"policy": "never", "maxRestarts": 2},
  "schedulers": {
    "vtime": {"ref": "reg.example/s/vtime:1", "set": {"slice_ns": 5000000},
              "modes": {"gaming": {"slice_ns": 1000000}, "power-save": {"slice_ns": "20000000"}}},
    "fifo": {"ref": "reg.example/s/fifo:1", "set": {"fast_path": false}}
  }
}
JSON
# bad JSON: NAME, the change (python), the message expected
bad_config() {
	python3 - "$T/skrun.json" "$T/bad.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(c, open(sys.argv[2], "w"))
PY
	check_fails "skrun.json: $1" "$3" "$SKRUN" run --config "$T/bad.json" --store "$T/store"
}
bad_config "unknown field, with the one meant" 'c["schedulr"] = c.pop("scheduler")' 'unknown field "schedulr" \(did you mean "scheduler"\?\)'
bad_config "unknown scheduler field" 'c["schedulers"]["vtime"]["mods"] = {}' 'schedulers.vtime: unknown field "mods" \(did you mean "modes"\?\)'
bad_config "an unknown default" 'c["scheduler"] = "vtim"' 'no scheduler "vtim"; did you mean "vtime"\? \(it has: vtime, fifo\)'
bad_config "an unknown fallback" 'c["fallback"] = "fifi"' 'no scheduler "fifi"; did you mean "fifo"\?'
bad_config "an unknown start mode" 'c["mode"] = "gamin"' '"mode": scheduler "vtime" has no mode "gamin"; did you mean "gaming"\?'
bad_config "a mode named default" 'c["schedulers"]["vtime"]["modes"]["default"] = {}' '"default" cannot name a mode'
bad_config "a bad pull policy" 'c["pull"] = "sometimes"' '"pull": "sometimes": use always, missing or never'
bad_config "a bad restart policy" 'c["restart"]["policy"] = "often"' 'restart.policy "often": use on-failure, always or never'
bad_config "a tunable of a bad type" 'c["schedulers"]["vtime"]["set"]["slice_ns"] = 1.5' 'tunable "slice_ns" must be a string, a whole number or a boolean'
bad_config "no ref" 'del c["schedulers"]["fifo"]["ref"]' 'schedulers.fifo: "ref" \(what to run\) is required'
bad_config "no version" 'del c["version"]' '"version": 1 is required'
bad_config "an unknown follow field" 'c["follow"] = {"polls": 5}' 'follow: unknown field "polls" \(did you mean "pollS"\?\)'
bad_config "a poll interval of 0" 'c["follow"] = {"pollS": 0}' 'follow.pollS: a whole number from 1 is required'
bad_config "a health window of the wrong type" 'c["health"] = {"windowS": "30"}' 'health.windowS: a whole number from 0 is required'
bad_config "health not an object" 'c["health"] = 30' '"health" must be an object, e.g. {"windowS": 30}'
check_fails "run: --health-window goes with --follow" "--poll-interval and --health-window go with --follow" \
	"$SKRUN" run --health-window 5 reg.example/s/vtime:1
check_fails "run --follow: the file names the mode" "--mode, --set and --identity with --follow and no REF: the desired state file names them" \
	"$SKRUN" run --follow --config "$T/skrun.json" --mode gaming
check_fails "run --follow: a bad --poll-interval" "--poll-interval 0: a whole number of seconds from 1" \
	"$SKRUN" run --follow --poll-interval 0 reg.example/s/vtime:1
SKRUN_CONFIG=$T/none.json "$SKRUN" run >"$T/out" 2>&1
rc=$?
[ $rc = 4 ] && grep -q "no REF given and no configuration to take it from" "$T/out" && pass "run without REF or configuration: exit 4, says what to do" ||
	fail "run without REF or configuration" "rc $rc $(cat "$T/out")"
check_fails "run: --mode goes with the configuration, not REF" "--mode and --config go with the configured scheduler" \
	"$SKRUN" run --mode gaming reg.example/s/vtime:1
# a good configuration: run takes everything from it (and stops at the store here, --pull never)
SKRUN_CONFIG=$T/skrun.json "$SKRUN" run --store "$T/store" --mode gaming >"$T/out" 2>&1
rc=$?
[ $rc = 4 ] && grep -q "skrun.json: scheduler 'vtime', mode gaming, fallback fifo" "$T/out" &&
	grep -q "reg.example/s/vtime:1 is not recorded in the store and --pull never" "$T/out" &&
	pass "run from skrun.json: its scheduler, mode, fallback and pull policy" || fail "run from skrun.json" "rc $rc $(cat "$T/out")"
status_is "after the failed start from skrun.json" 3
has "the failed start names the configured reference" "^artifact:   reg.example/s/vtime:1"
# skrun mode without a supervisor: lists what run would start; switching needs one
SKRUN_CONFIG=$T/skrun.json "$SKRUN" mode >"$T/out" 2>&1
rc=$?
[ $rc = 0 ] && grep -q "^\* default slice_ns=5000000$" "$T/out" && grep -q "^  gaming slice_ns=1000000$" "$T/out" &&
	grep -q "^  power-save slice_ns=20000000$" "$T/out" && pass "mode: lists the presets of the default" || fail "mode: lists" "rc $rc $(cat "$T/out")"
SKRUN_CONFIG=$T/skrun.json "$SKRUN" mode --scheduler fifo >"$T/out" 2>&1
grep -q "^\* default fast_path=false$" "$T/out" && pass "mode --scheduler: another scheduler's presets" || fail "mode --scheduler" "$(cat "$T/out")"
SKRUN_CONFIG=$T/skrun.json "$SKRUN" mode gaming >"$T/out" 2>&1
rc=$?
[ $rc = 3 ] && grep -q "no skrun is supervising" "$T/out" && pass "mode: no supervisor, exit 3" || fail "mode: no supervisor" "rc $rc $(cat "$T/out")"
SKRUN_CONFIG=$T/skrun.json "$SKRUN" mode turbo >"$T/out" 2>&1
rc=$?
[ $rc = 4 ] && grep -q 'no mode "turbo"' "$T/out" && grep -q "its modes: default, gaming, power-save" "$T/out" &&
	pass "mode: an unknown preset, exit 4, with the ones there are" || fail "mode: unknown preset" "rc $rc $(cat "$T/out")"
check_fails "switch: tabs refused" "tabs or newlines" "$SKRUN" switch "$(printf 'a\tb')"
"$SKRUN" switch reg.example/s/vtime:1 --identity reg.example/s/vtime >"$T/out" 2>&1
rc=$?
[ $rc = 3 ] && grep -q "no skrun is supervising" "$T/out" && pass "switch --identity: no supervisor, exit 3" || fail "switch: no supervisor" "rc $rc $(cat "$T/out")"
